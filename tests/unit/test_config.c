/* Unit tests: the INI loader (errors with file:line), precedence of every
 * source, built-in presets/policies/environments against the seeds. */
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "core/config.h"
#include "core/profiles.h"
#include "core/spec.h"
#include "core/util.h"
#include "unit.h"

/* The tests resolve many throw-away specs without freeing them; the
 * integration tests run the real binary under LeakSanitizer instead. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

static char *fake_env[] = { "PATH=/usr/bin:/bin", "HOME=/home/u", "TMPDIR=/var/tmp/u", NULL };
static char *fake_env_notmp[] = { "PATH=/usr/bin:/bin", "HOME=/home/u", NULL };

static void ctx_init(struct sfc_spec *s)
{
	sfc_spec_init(s);
	s->caller_env = fake_env;
	s->home = "/home/u";
	s->cwd = "/home/u/p";
}

static int load(struct sfc_sources *src, const char *name, const char *text, struct sfc_error *e)
{
	struct sfc_spec ctx;
	ctx_init(&ctx);
	return sfc_config_load_buffer(src, name, text, strlen(text), &ctx, e);
}

/* Load TEXT; it must fail with exactly MSG. */
static void bad(const char *text, const char *msg)
{
	struct sfc_sources src = { 0 };
	struct sfc_error e = { 0 };

	CHECK(load(&src, "c.ini", text, &e) < 0);
	CHECK_STR(e.msg, msg);
	sfc_sources_clear(&src);
}

static void resolve(struct sfc_spec *s, struct sfc_sources *src)
{
	struct sfc_error e = { 0 };
	ctx_init(s);
	if (sfc_spec_resolve(s, src, &e) < 0) {
		fprintf(stderr, "  resolve: %s\n", e.msg);
		CHECK(!"resolve failed");
	}
}

static void flag(struct sfc_sources *src, enum sfc_key k, const char *v)
{
	struct sfc_origin o = { SFC_ORIGIN_FLAG, "--flag", 0 };
	sfc_settings_add(&src->flags, k, v, &o);
}

static void envset(struct sfc_sources *src, enum sfc_key k, const char *v)
{
	struct sfc_origin o = { SFC_ORIGIN_ENV, "SEFACA_X", 0 };
	sfc_settings_add(&src->env, k, v, &o);
}

static char *origin_of(const struct sfc_spec *s, enum sfc_key k)
{
	static char buf[256];
	sfc_origin_format(&s->origin[k], buf, sizeof(buf));
	return buf;
}

TEST(errors_name_file_and_line)
{
	if (!ENABLE_FEATURE_CONFIG)
		return;
	bad("[default]\nmemory = 1x\n",
	    "c.ini:2: memory: bad size '1x' (expected a number with an optional k, m, g or t suffix)");
	bad("[default]\n\n; note\nbogus = 1\n", "c.ini:4: unknown key 'bogus' in [default]");
	bad("[default]\nlevel = strict\n[nope]\n",
	    "c.ini:3: unknown section [nope] (expected [default], [preset.NAME], [policy.NAME] or [env.NAME])");
	bad("[preset]\n", "c.ini:1: unknown section [preset] (expected [default], [preset.NAME], [policy.NAME] or "
			  "[env.NAME])");
	bad("[default]\nmemory = 1g\ntimeout = 5\nmemory = 2g\n",
	    "c.ini:4: duplicate key 'memory' in [default] (first at line 2)");
	bad("[default]\nread-only-root = yes\nread_only_root = no\n",
	    "c.ini:3: duplicate key 'read_only_root' in [default] (first at line 2)");
	bad("[default]\n[policy.x]\n[default]\n", "c.ini:3: duplicate section [default] (first at line 1)");
	bad("memory = 1g\n", "c.ini:1: 'memory' is outside any section (start with [default])");
	bad("[default]\njunk\n", "c.ini:2: syntax error: expected [section] or key = value");
	bad("[default\n", "c.ini:1: syntax error: a section header needs its ']'");
	bad("[default] x\n", "c.ini:1: syntax error: text after the section header [default]");
	bad("[preset.a b]\n", "c.ini:1: bad name in section [preset.a b] (letters, digits, '_', '.' and '-', at most 64)");
	bad("[policy.p]\npreset = compiler\n", "c.ini:2: 'preset' can be chosen in [default], not inside [policy.p]");
	bad("[default]\ntimeout = 5\n  10\n", "c.ini:3: 'timeout' takes one value; only lists continue on indented lines");
	bad("[default]\nlevel = lax\n", "c.ini:2: level: bad level 'lax' (expected strict, default or permissive)");
	bad("[default]\nnetwork = sometimes\n",
	    "c.ini:2: network: bad network 'sometimes' (expected deny, localhost, allow or allow:HOST[:PORT],...)");
	bad("[default]\nvolumes = /a\n", "c.ini:2: volumes: bad volume '/a' (expected SRC:DST[:ro] with DST absolute)");
	bad("[default]\nblocked_commands = rm -rf\n",
	    "c.ini:2: blocked_commands: bad blocked command 'rm -rf' (expected a program name or path)");
	bad("[default]\naudit_log = \n", "c.ini:2: audit_log: empty audit_log (expected a file, syslog or none)");
	bad("[default]\npreset = ../x\n", "c.ini:2: preset: bad name '../x'");
	{
		char big[400];
		memset(big, 'a', sizeof(big));
		memcpy(big, "[default]\nhide = /", 18);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = 0;
		bad(big, "c.ini:2: line too long (at most 198 characters; continue a list on indented lines)");
	}
	{
		struct sfc_sources src = { 0 };
		struct sfc_error e = { 0 };
		struct sfc_spec ctx;
		ctx_init(&ctx);
		CHECK(sfc_config_load_buffer(&src, "n.ini", "[default]\nx\0y\n", 14, &ctx, &e) < 0);
		CHECK_STR(e.msg, "n.ini:2: NUL byte in the file");
		sfc_sources_clear(&src);
	}
}

TEST(syntax_accepted)
{
	struct sfc_sources src = { 0 };
	struct sfc_error e = { 0 };
	struct sfc_spec s;

	if (!ENABLE_FEATURE_CONFIG)
		return;
	/* BOM, CRLF, comments, ':' separator, quotes, continuation lines */
	CHECK(load(&src, "ok.ini",
		   "\xef\xbb\xbf# comment\r\n[default]\r\nlevel = \"strict\" ; inline\r\nmemory: 64m\r\n"
		   "readonly = /a,\r\n   /b ,\r\n   /c\r\n\r\n[preset.mine]\r\nnetwork = localhost\r\n",
		   &e) == 0);
	if (e.msg[0])
		fprintf(stderr, "  %s\n", e.msg);
	flag(&src, SFC_K_PRESET, "mine");
	resolve(&s, &src);
	CHECK(s.level == SFC_LEVEL_STRICT);
	CHECK(s.memory == 64ULL << 20);
	CHECK(s.network == SFC_NET_LOCALHOST);
	CHECK(s.readonly.items.n == 3);
	CHECK_STR(s.readonly.items.v[2], "/c");
	CHECK(s.readonly.origins[2].kind == SFC_ORIGIN_FILE && s.readonly.origins[2].line == 7);
	CHECK_STR(origin_of(&s, SFC_K_MEMORY), "ok.ini:4");
	CHECK_STR(origin_of(&s, SFC_K_NETWORK), "ok.ini:10");
	sfc_sources_clear(&src);
}

TEST(precedence_of_every_source)
{
	struct sfc_sources src = { 0 };
	struct sfc_error e = { 0 };
	struct sfc_spec s;

	if (!ENABLE_FEATURE_CONFIG)
		return;
	/* level < [default] < preset < policy < env < SEFACA_* < flag, one step at a time */
	CHECK(load(&src, "p.ini",
		   "[default]\nnofile = 100\npreset = pp\npolicy = qq\nenv = ee\n"
		   "[preset.pp]\nnofile = 200\n[policy.qq]\nnofile = 300\n[env.ee]\nnofile = 400\n",
		   &e) == 0);
	resolve(&s, &src);
	CHECK(s.nofile == 400);
	CHECK_STR(origin_of(&s, SFC_K_NOFILE), "p.ini:11");
	CHECK_STR(origin_of(&s, SFC_K_PRESET), "p.ini:3");
	envset(&src, SFC_K_NOFILE, "500");
	resolve(&s, &src);
	CHECK(s.nofile == 500);
	CHECK_STR(origin_of(&s, SFC_K_NOFILE), "env SEFACA_X");
	flag(&src, SFC_K_NOFILE, "600");
	resolve(&s, &src);
	CHECK(s.nofile == 600);
	CHECK_STR(origin_of(&s, SFC_K_NOFILE), "flag --flag");
	sfc_sources_clear(&src);

	/* each layer alone wins over the ones below it */
	CHECK(load(&src, "p.ini", "[default]\nnofile = 100\n[policy.qq]\nnofile = 300\n", &e) == 0);
	resolve(&s, &src);
	CHECK(s.nofile == 100); /* [default] over the level (none) */
	flag(&src, SFC_K_POLICY, "qq");
	resolve(&s, &src);
	CHECK(s.nofile == 300);
	sfc_sources_clear(&src);

	/* [default] < built-in preset; a config section overrides a built-in
	 * one key by key */
	CHECK(load(&src, "p.ini", "[default]\nmemory = 4g\ntimeout = 9\n[preset.compiler]\nmemory = 3g\n", &e) == 0);
	if (!ENABLE_FEATURE_POLICY)
		flag(&src, SFC_K_TIMEOUT, "300"); /* no built-in preset to give it */
	flag(&src, SFC_K_PRESET, "compiler");
	resolve(&s, &src);
	CHECK(s.memory == 3ULL << 30);
	CHECK_STR(origin_of(&s, SFC_K_MEMORY), "p.ini:5");
	CHECK(s.timeout_ms == 300000); /* the built-in preset's, over [default]'s 9 */
	if (ENABLE_FEATURE_POLICY) {
		CHECK_STR(origin_of(&s, SFC_K_TIMEOUT), "built-in (preset compiler)");
		CHECK(s.network == SFC_NET_DENY);
		CHECK_STR(origin_of(&s, SFC_K_NETWORK), "built-in (preset compiler)");
	}
	sfc_sources_clear(&src);

	/* the level comes from the highest source that names one */
	CHECK(load(&src, "p.ini", "[default]\nlevel = strict\n", &e) == 0);
	resolve(&s, &src);
	CHECK(s.level == SFC_LEVEL_STRICT && s.home_mode == SFC_DIR_TMPFS);
	envset(&src, SFC_K_LEVEL, "permissive");
	resolve(&s, &src);
	CHECK(s.level == SFC_LEVEL_PERMISSIVE && s.network == SFC_NET_ALLOW);
	flag(&src, SFC_K_LEVEL, "default");
	resolve(&s, &src);
	CHECK(s.level == SFC_LEVEL_DEFAULT && s.network == SFC_NET_LOCALHOST);
	sfc_sources_clear(&src);

	/* two files: later scalars win, lists add up, sections merge */
	CHECK(load(&src, "/etc/sefaca/config.ini", "[default]\nmemory = 1g\nreadonly = /a\n", &e) == 0);
	CHECK(load(&src, "/home/u/.sefaca/config.ini", "[default]\nmemory = 2g\nreadonly = /b\n", &e) == 0);
	CHECK(src.nprofiles == 1);
	resolve(&s, &src);
	CHECK(s.memory == 2ULL << 30);
	CHECK_STR(origin_of(&s, SFC_K_MEMORY), "/home/u/.sefaca/config.ini:2");
	CHECK(s.readonly.items.n == 2);
	sfc_sources_clear(&src);

	/* an unknown profile named in a file says where */
	CHECK(load(&src, "p.ini", "[default]\npolicy = nosuch\n", &e) == 0);
	ctx_init(&s);
	CHECK(sfc_spec_resolve(&s, &src, &e) < 0);
	CHECK_STR(e.msg, "p.ini:2: unknown policy 'nosuch'");
	sfc_sources_clear(&src);

	/* "readwrite =" empties a built-in list */
	CHECK(load(&src, "p.ini", "[preset.development]\nreadwrite =\n", &e) == 0);
	if (!ENABLE_FEATURE_POLICY) {
		sfc_sources_clear(&src);
		return;
	}
	flag(&src, SFC_K_PRESET, "development");
	resolve(&s, &src);
	CHECK(s.readwrite.items.n == 0);
	sfc_sources_clear(&src);
}

TEST(paths_expand)
{
	struct sfc_sources src = { 0 };
	struct sfc_error e = { 0 };
	struct sfc_spec s;

	if (!ENABLE_FEATURE_CONFIG)
		return;
	CHECK(load(&src, "x.ini",
		   "[default]\nreadwrite = ~/c, $TMPDIR, $TMPDIR/y, ., ./t\naudit_log = ~/log.jsonl\n"
		   "volumes = ~/.cache:/home/user/.cache\n",
		   &e) == 0);
	resolve(&s, &src);
	CHECK(s.readwrite.items.n == 5);
	CHECK_STR(s.readwrite.items.v[0], "/home/u/c");
	CHECK_STR(s.readwrite.items.v[1], "/var/tmp/u");
	CHECK_STR(s.readwrite.items.v[2], "/var/tmp/u/y");
	CHECK_STR(s.readwrite.items.v[3], ".");
	CHECK_STR(s.readwrite.items.v[4], "./t");
	CHECK_STR(s.audit_log, "/home/u/log.jsonl");
	CHECK_STR(s.volumes.items.v[0], "/home/u/.cache:/home/user/.cache");
	/* TMPDIR unset: "$TMPDIR" is the sandbox's private /tmp, never the host's */
	ctx_init(&s);
	s.caller_env = fake_env_notmp;
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.readwrite.items.n == 4);
	CHECK_STR(s.readwrite.items.v[1], "/tmp/y");
	sfc_sources_clear(&src);
}

/* Resolve with one flag KEY=VALUE (and a level). */
static void with(struct sfc_spec *s, enum sfc_key key, const char *value)
{
	struct sfc_sources src = { 0 };
	flag(&src, key, value);
	resolve(s, &src);
	sfc_sources_clear(&src);
}

TEST(builtin_presets_match_seed_001)
{
	struct sfc_spec s;

	if (!ENABLE_FEATURE_POLICY)
		return;

	/* compiler: network deny, read-write . and $TMPDIR, 2g, 300 s */
	setenv("TMPDIR", "/var/tmp/u", 1);
	with(&s, SFC_K_PRESET, "compiler");
	CHECK(s.network == SFC_NET_DENY && s.cwd_mode == SFC_DIR_RW);
	CHECK(s.memory == 2ULL << 30 && s.timeout_ms == 300 * 1000);
	CHECK(s.readwrite.items.n == 1);
	CHECK_STR(s.readwrite.items.n ? s.readwrite.items.v[0] : "", "/var/tmp/u");
	unsetenv("TMPDIR");
	with(&s, SFC_K_PRESET, "compiler");
	CHECK(s.readwrite.items.n == 0); /* no TMPDIR of its own: the private /tmp */
	/* network-client: network allow, . read-only, 512m, 30 s */
	with(&s, SFC_K_PRESET, "network-client");
	CHECK(s.network == SFC_NET_ALLOW && s.cwd_mode == SFC_DIR_RO);
	CHECK(s.memory == 512ULL << 20 && s.timeout_ms == 30 * 1000);
	/* development: localhost, . and ~/.cache read-write, 1g, 120 s */
	with(&s, SFC_K_PRESET, "development");
	CHECK(s.network == SFC_NET_LOCALHOST && s.cwd_mode == SFC_DIR_RW);
	CHECK(s.readwrite.items.n == 1);
	CHECK_STR(s.readwrite.items.n ? s.readwrite.items.v[0] : "", "/home/u/.cache");
	CHECK(s.memory == 1ULL << 30 && s.timeout_ms == 120 * 1000);
	/* testing: localhost, . (with ./tmp, ./test-output) read-write, 1g, 600 s */
	with(&s, SFC_K_PRESET, "testing");
	CHECK(s.network == SFC_NET_LOCALHOST && s.cwd_mode == SFC_DIR_RW);
	CHECK(s.memory == 1ULL << 30 && s.timeout_ms == 600 * 1000);
	/* presets keep the level's base */
	CHECK(s.level == SFC_LEVEL_DEFAULT && s.hide_secrets && s.env_filter);
	CHECK(sfc_profiles_builtin("preset")[3] && !sfc_profiles_builtin("preset")[4]);
}

TEST(builtin_policies_match_seed_002)
{
	struct sfc_spec s;

	if (!ENABLE_FEATURE_POLICY)
		return;

	/* minimal: 256MB, 0.5 CPU, no network, root read-write, 1000:1000 */
	with(&s, SFC_K_POLICY, "minimal");
	CHECK(s.memory == 256ULL << 20 && s.cpu_milli == 500 && s.network == SFC_NET_DENY);
	CHECK(!s.read_only_root && s.uid == 1000 && s.gid == 1000 && s.timeout_ms == 30 * 60 * 1000);
	/* standard: 512MB, 1.0 CPU, no network, read-only, 1000:1000 */
	with(&s, SFC_K_POLICY, "standard");
	CHECK(s.memory == 512ULL << 20 && s.cpu_milli == 1000 && s.network == SFC_NET_DENY);
	CHECK(s.read_only_root && s.cwd_mode == SFC_DIR_RO && s.uid == 1000 && s.gid == 1000);
	/* hardened: 256MB, 0.5 CPU, no network, read-only, 65534, seccomp */
	with(&s, SFC_K_POLICY, "hardened");
	CHECK(s.memory == 256ULL << 20 && s.cpu_milli == 500 && s.network == SFC_NET_DENY);
	CHECK(s.read_only_root && s.uid == 65534 && s.gid == 65534 && s.seccomp == SFC_SECCOMP_STRICT);
	/* paranoid: 128MB, 0.25 CPU, no network, read-only, 65534, maximum restrictions */
	with(&s, SFC_K_POLICY, "paranoid");
	CHECK(s.memory == 128ULL << 20 && s.cpu_milli == 250 && s.network == SFC_NET_DENY);
	CHECK(s.read_only_root && s.uid == 65534 && s.seccomp == SFC_SECCOMP_STRICT);
	CHECK(s.level == SFC_LEVEL_STRICT && s.env_clear && s.home_mode == SFC_DIR_TMPFS && s.pids == 64);
	CHECK_STR(origin_of(&s, SFC_K_LEVEL), "built-in (policy paranoid)");
	/* a flag still wins over a policy */
	{
		struct sfc_sources src = { 0 };
		flag(&src, SFC_K_POLICY, "hardened");
		flag(&src, SFC_K_MEMORY, "64m");
		resolve(&s, &src);
		CHECK(s.memory == 64ULL << 20 && s.uid == 65534);
		sfc_sources_clear(&src);
	}
}

TEST(builtin_envs_match_seed_000)
{
	struct sfc_spec s;

	if (!ENABLE_FEATURE_POLICY)
		return;

	with(&s, SFC_K_ENV_PROFILE, "development");
	CHECK_STR(s.image, "host");
	CHECK(s.network == SFC_NET_ALLOW && s.memory == 2ULL << 30 && s.cpu_milli == 2000);
	CHECK(s.volumes.items.n == 1);
	CHECK_STR(s.volumes.items.n ? s.volumes.items.v[0] : "", "/home/u/.cache:/home/user/.cache");
	CHECK(s.setenv.items.n == 2);
	with(&s, SFC_K_ENV_PROFILE, "production");
	CHECK_STR(s.image, "ubuntu:22.04");
	CHECK(s.network == SFC_NET_DENY && s.memory == 1ULL << 30 && s.cpu_milli == 1000 && s.read_only_root);
	CHECK_STR(s.volumes.items.n ? s.volumes.items.v[0] : "", "./dist:/output");
	with(&s, SFC_K_ENV_PROFILE, "build");
	CHECK(s.network == SFC_NET_ALLOW && s.memory == 4ULL << 30 && s.cpu_milli == 4000);
	CHECK(s.volumes.items.n == 2);
	{
		struct sfc_sources src = { 0 };
		struct sfc_error e;
		flag(&src, SFC_K_ENV_PROFILE, "staging");
		ctx_init(&s);
		CHECK(sfc_spec_resolve(&s, &src, &e) < 0);
		CHECK(strstr(e.msg, "unknown env 'staging'") != NULL);
		sfc_sources_clear(&src);
	}
}

TEST(home)
{
	char *env1[] = { "SEFACA_HOME=/srv/s", "HOME=/home/u", NULL };
	char *env2[] = { "HOME=/home/u", NULL };
	char *env3[] = { "SEFACA_HOME=rel", NULL };
	char *env4[] = { NULL };
	char *h;

	h = sfc_config_home(env1, "/x");
	CHECK_STR(h, "/srv/s");
	free(h);
	h = sfc_config_home(env2, "/x");
	CHECK_STR(h, "/home/u/.sefaca");
	free(h);
	h = sfc_config_home(env3, "/x");
	CHECK_STR(h, "/x/rel");
	free(h);
	CHECK(sfc_config_home(env4, "/x") == NULL);
}

int main(void)
{
	unit_file = "config";
	RUN(errors_name_file_and_line);
	RUN(syntax_accepted);
	RUN(precedence_of_every_source);
	RUN(paths_expand);
	RUN(builtin_presets_match_seed_001);
	RUN(builtin_policies_match_seed_002);
	RUN(builtin_envs_match_seed_000);
	RUN(home);
	return 0;
}

#include "core/spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cgroup.h"
#include "autoconf.h"
#include "core/parse.h"

/* The one-line descriptions travel only in builds that can print them. */
#define KH(s) (ENABLE_FEATURE_EXPLAIN ? (s) : NULL)
static const struct sfc_key_info keys[SFC_K__MAX] = {
	[SFC_K_LEVEL] = { "level", KH("strict, default or permissive"), false, true },
	[SFC_K_PRESET] = { "preset", KH("named preset (compiler, network-client, development, testing, or from config)"), false, true },
	[SFC_K_POLICY] = { "policy", KH("named policy (minimal, standard, hardened, paranoid, or from config)"), false, true },
	[SFC_K_NETWORK] = { "network", KH("deny, localhost, allow, or allow:HOST[:PORT],..."), false, true },
	[SFC_K_ALLOW_HOSTS] = { "allow_hosts", KH("HOST[:PORT] reachable through the allowlist proxy (network becomes the allowlist)"), true, true },
	[SFC_K_FILESYSTEM] = { "filesystem", KH("minimal (system dirs read-only + grants) or host (the whole host view)"), false, false },
	[SFC_K_HOME] = { "home", KH("how $HOME appears: none, ro, rw or tmpfs"), false, false },
	[SFC_K_CWD] = { "cwd", KH("how the current directory appears: none, ro or rw"), false, false },
	[SFC_K_HIDE_SECRETS] = { "hide_secrets", KH("hide ~/.ssh, ~/.gnupg, ~/.aws and other secret stores"), false, false },
	[SFC_K_READ_ONLY_ROOT] = { "read_only_root", KH("with filesystem=host, make the host view read-only"), false, false },
	[SFC_K_READONLY] = { "readonly", KH("paths shown read-only"), true, true },
	[SFC_K_READWRITE] = { "readwrite", KH("paths shown read-write"), true, true },
	[SFC_K_HIDE] = { "hide", KH("paths hidden behind an empty file or directory"), true, true },
	[SFC_K_TMPFS] = { "tmpfs", KH("PATH[:SIZE]: private empty tmpfs"), true, true },
	[SFC_K_TMP_SIZE] = { "tmp_size", KH("size of the private /tmp"), false, true },
	[SFC_K_MEMORY] = { "memory", KH("memory limit (k, m, g suffixes)"), false, true },
	[SFC_K_CPU] = { "cpu", KH("CPU limit in CPUs (e.g. 0.5)"), false, true },
	[SFC_K_PIDS] = { "pids", KH("process limit"), false, true },
	[SFC_K_TIMEOUT] = { "timeout", KH("wall-clock limit (seconds, or 90s/5m/1h)"), false, true },
	[SFC_K_KILL_GRACE] = { "kill_grace", KH("time between SIGTERM and SIGKILL on timeout"), false, true },
	[SFC_K_NOFILE] = { "nofile", KH("open file limit"), false, true },
	[SFC_K_FSIZE] = { "fsize", KH("largest file the payload may write"), false, true },
	[SFC_K_MEMORY_SWAP] = { "memory_swap", KH("swap allowed on top of memory (0 by default; 'max' for no limit)"), false, true },
	[SFC_K_IO_WEIGHT] = { "io_weight", KH("I/O weight, 1-10000 (cgroup io.weight)"), false, true },
	[SFC_K_IO_MAX] = { "io_max", KH("DEVICE rbps=SIZE wbps=SIZE riops=N wiops=N (cgroup io.max)"), true, true },
	[SFC_K_CGROUP] = { "cgroup", KH("auto, systemd (ask the user manager for a delegated scope) or none"), false, true },
	[SFC_K_REQUIRE_LIMITS] = { "require_limits", KH("fail instead of running with a limit that cannot be enforced"), false, true },
	[SFC_K_ENV_CLEAR] = { "env_clear", KH("start from a clean environment"), false, false },
	[SFC_K_ENV_FILTER] = { "env_filter", KH("drop secrets (*_TOKEN, AWS_*...) and loader variables (LD_PRELOAD...)"), false, false },
	[SFC_K_SETENV] = { "setenv", KH("K=V set in the payload's environment"), true, false },
	[SFC_K_UNSETENV] = { "unsetenv", KH("variables removed from the environment"), true, false },
	[SFC_K_KEEP_ENV] = { "keep_env", KH("variables kept despite env_clear/env_filter"), true, false },
	[SFC_K_WORKDIR] = { "workdir", KH("working directory inside"), false, false },
	[SFC_K_HOSTNAME] = { "hostname", KH("host name inside"), false, false },
	[SFC_K_UID] = { "uid", KH("user id inside"), false, false },
	[SFC_K_GID] = { "gid", KH("group id inside"), false, false },
	[SFC_K_ALLOW_NESTED] = { "allow_nested", KH("let the payload create namespaces (nested sandboxes)"), false, false },
	[SFC_K_SECCOMP] = { "seccomp", KH("filter strength: strict, default or permissive"), false, false },
	[SFC_K_BEST_EFFORT] = { "best_effort", KH("run with the layers this machine allows instead of failing"), false, true },
	[SFC_K_ENV_PROFILE] = { "env", KH("named environment (development, production, build, or [env.NAME] from config)"), false, false },
	[SFC_K_BLOCKED_COMMANDS] = { "blocked_commands", KH("programs refused by name (and hidden inside)"), true, false },
	[SFC_K_AUDIT_LOG] = { "audit_log", KH("audit log: a file, syslog or none"), false, true },
	[SFC_K_AUDIT_REQUIRED] = { "audit_required", KH("refuse to run when the audit log cannot be written"), false, true },
	[SFC_K_IMAGE] = { "image", KH("container image (sefaca-container)"), false, false },
	[SFC_K_VOLUMES] = { "volumes", KH("SRC:DST[:ro] mounted into a container (sefaca-container)"), true, false },
	[SFC_K_ALLOWED_IMAGES] = { "allowed_images", KH("images a policy admits (sefaca-container)"), true, false },
};

const struct sfc_key_info *sfc_key_info(enum sfc_key k)
{
	return (unsigned)k < SFC_K__MAX ? &keys[k] : NULL;
}

int sfc_key_lookup(const char *name)
{
	char buf[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(buf) - 1; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[i] = 0;
	for (int k = 0; k < SFC_K__MAX; k++)
		if (keys[k].name && !strcmp(keys[k].name, buf))
			return k;
	return -1;
}

void sfc_origin_format(const struct sfc_origin *o, char *buf, size_t len)
{
	switch (o->kind) {
	case SFC_ORIGIN_UNSET: snprintf(buf, len, "unset"); break;
	case SFC_ORIGIN_BUILTIN: snprintf(buf, len, "built-in (%s)", o->name); break;
	case SFC_ORIGIN_FILE: snprintf(buf, len, "%s:%d", o->name, o->line); break;
	case SFC_ORIGIN_ENV: snprintf(buf, len, "env %s", o->name); break;
	case SFC_ORIGIN_FLAG: snprintf(buf, len, "flag %s", o->name); break;
	}
}

/* ---- settings and sources ---- */

void sfc_settings_add(struct sfc_settings *s, enum sfc_key key, const char *value, const struct sfc_origin *o)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = sfc_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].key = key;
	s->v[s->n].value = sfc_xstrdup(value);
	s->v[s->n].origin = *o;
	s->n++;
}

void sfc_settings_clear(struct sfc_settings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].value);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void sfc_sources_add_environ(struct sfc_sources *src, char **env)
{
	/* origin names must outlive the spec: one static "SEFACA_KEY" per key */
	static char names[SFC_K__MAX][48];

	for (char **p = env; p && *p; p++) {
		char name[64];
		const char *eq = strchr(*p, '=');
		int k;

		if (strncmp(*p, "SEFACA_", 7) || !eq || (size_t)(eq - *p) >= sizeof(name))
			continue;
		memcpy(name, *p, eq - *p);
		name[eq - *p] = 0;
		for (char *c = name + 7; *c; c++)
			*c = *c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c;
		k = sfc_key_lookup(name + 7);
		if (k < 0 || !keys[k].env)
			continue;
		if (!names[k][0]) {
			snprintf(names[k], sizeof(names[k]), "SEFACA_%s", keys[k].name);
			for (char *c = names[k] + 7; *c; c++)
				*c = *c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c;
		}
		struct sfc_origin o = { SFC_ORIGIN_ENV, names[k], 0 };
		sfc_settings_add(&src->env, k, eq + 1, &o);
	}
}

struct sfc_profile *sfc_sources_find(struct sfc_sources *src, const char *kind, const char *name)
{
	for (size_t i = 0; i < src->nprofiles; i++) {
		struct sfc_profile *p = &src->profiles[i];
		if (strcmp(p->kind, kind))
			continue;
		if ((!name && !p->name) || (name && p->name && !strcmp(name, p->name)))
			return p;
	}
	return NULL;
}

void sfc_sources_clear(struct sfc_sources *src)
{
	for (size_t i = 0; i < src->nprofiles; i++) {
		free(src->profiles[i].kind);
		free(src->profiles[i].name);
		sfc_settings_clear(&src->profiles[i].settings);
	}
	free(src->profiles);
	sfc_settings_clear(&src->env);
	sfc_settings_clear(&src->flags);
	sfc_strv_clear(&src->names);
	memset(src, 0, sizeof(*src));
}

/* ---- built-in profiles ---- */

struct builtin_kv {
	enum sfc_key key;
	const char *value;
};
struct builtin_profile {
	const char *kind, *name, *origin;
	const struct builtin_kv *kv;
};

/* The three levels of seed 001, made concrete in DESIGN.md. */
static const struct builtin_kv level_strict[] = {
	{ SFC_K_NETWORK, "deny" },	 { SFC_K_FILESYSTEM, "minimal" }, { SFC_K_HOME, "tmpfs" },
	{ SFC_K_CWD, "ro" },		 { SFC_K_HIDE_SECRETS, "true" },  { SFC_K_ENV_CLEAR, "true" },
	{ SFC_K_ENV_FILTER, "true" },	 { SFC_K_MEMORY, "1g" },	  { SFC_K_PIDS, "256" },
	{ SFC_K_NOFILE, "1024" },	 { SFC_K_FSIZE, "1g" },		  { SFC_K_TMP_SIZE, "256m" },
	{ SFC_K_SECCOMP, "strict" },	 { SFC_K__MAX, NULL },
};
static const struct builtin_kv level_default[] = {
	{ SFC_K_NETWORK, "localhost" }, { SFC_K_FILESYSTEM, "minimal" }, { SFC_K_HOME, "ro" },
	{ SFC_K_CWD, "rw" },		{ SFC_K_HIDE_SECRETS, "true" },	 { SFC_K_ENV_CLEAR, "false" },
	{ SFC_K_ENV_FILTER, "true" },	{ SFC_K_PIDS, "4096" },		 { SFC_K_SECCOMP, "default" },
	{ SFC_K__MAX, NULL },
};
static const struct builtin_kv level_permissive[] = {
	{ SFC_K_NETWORK, "allow" },    { SFC_K_FILESYSTEM, "host" },	  { SFC_K_HOME, "rw" },
	{ SFC_K_CWD, "rw" },	       { SFC_K_HIDE_SECRETS, "false" }, { SFC_K_ENV_CLEAR, "false" },
	{ SFC_K_ENV_FILTER, "false" }, { SFC_K_SECCOMP, "permissive" }, { SFC_K__MAX, NULL },
};

static const struct builtin_profile builtins[] = {
	{ "level", "strict", "level strict", level_strict },
	{ "level", "default", "level default", level_default },
	{ "level", "permissive", "level permissive", level_permissive },
};

/* Presets and policies compiled in elsewhere register through this hook. */
__attribute__((weak)) bool sfc_builtin_profile_extra(const char *kind, const char *name, struct sfc_settings *out)
{
	return false;
}

bool sfc_builtin_profile(const char *kind, const char *name, struct sfc_settings *out)
{
	for (size_t i = 0; i < SFC_ARRAY_SIZE(builtins); i++) {
		const struct builtin_profile *b = &builtins[i];
		if (strcmp(b->kind, kind) || strcmp(b->name, name))
			continue;
		struct sfc_origin o = { SFC_ORIGIN_BUILTIN, b->origin, 0 };
		for (const struct builtin_kv *kv = b->kv; kv->value; kv++)
			sfc_settings_add(out, kv->key, kv->value, &o);
		return true;
	}
	return sfc_builtin_profile_extra(kind, name, out);
}

/* ---- the spec ---- */

void sfc_spec_init(struct sfc_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->level = SFC_LEVEL_DEFAULT;
	spec->uid = spec->gid = -1;
	spec->kill_grace_ms = 2000;
	spec->seccomp = SFC_SECCOMP_DEFAULT;
}

static void list_clear(struct sfc_list *l)
{
	sfc_strv_clear(&l->items);
	free(l->origins);
	l->origins = NULL;
}

void sfc_spec_free(struct sfc_spec *spec)
{
	list_clear(&spec->allow_hosts);
	list_clear(&spec->readonly);
	list_clear(&spec->readwrite);
	list_clear(&spec->hide);
	list_clear(&spec->tmpfs);
	list_clear(&spec->io_max);
	list_clear(&spec->setenv);
	list_clear(&spec->unsetenv);
	list_clear(&spec->keep_env);
	list_clear(&spec->blocked_commands);
	list_clear(&spec->volumes);
	list_clear(&spec->allowed_images);
	free(spec->preset);
	free(spec->policy);
	free(spec->env_profile);
	free(spec->audit_log);
	free(spec->image);
	free(spec->workdir);
	free(spec->hostname);
}

static void list_add(struct sfc_list *l, char *item, const struct sfc_origin *o)
{
	sfc_strv_push_owned(&l->items, item);
	l->origins = sfc_xrealloc(l->origins, l->items.n * sizeof(*l->origins));
	l->origins[l->items.n - 1] = *o;
}

void sfc_spec_list_add(struct sfc_list *l, const char *item, const struct sfc_origin *o)
{
	list_add(l, sfc_xstrdup(item), o);
}

static const char *getenv_in(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **p = env; p && *p; p++)
		if (!strncmp(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

/* "~", "~/x", "$HOME", "$TMPDIR" at the start of a path. */
static char *expand_path(const struct sfc_spec *spec, const char *p)
{
	const char *home = spec->home;

	if ((p[0] == '~' && (p[1] == 0 || p[1] == '/')) && home)
		return sfc_xasprintf("%s%s", home, p + 1);
	if (!strncmp(p, "$HOME", 5) && (p[5] == 0 || p[5] == '/') && home)
		return sfc_xasprintf("%s%s", home, p + 5);
	if (!strncmp(p, "$TMPDIR", 7) && (p[7] == 0 || p[7] == '/')) {
		const char *t = getenv_in(spec->caller_env, "TMPDIR");
		return sfc_xasprintf("%s%s", t && *t ? t : "/tmp", p + 7);
	}
	return sfc_xstrdup(p);
}

static int parse_enum(const char *v, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

static const char *const level_names[] = { "strict", "default", "permissive" };
static const char *const net_names[] = { "deny", "localhost", "allow", "allow-hosts" };
static const char *const dir_names[] = { "none", "ro", "rw", "tmpfs" };
static const char *const sec_names[] = { "permissive", "default", "strict" };
static const char *const fs_names[] = { "minimal", "host" };
static const char *const cg_names[] = { "auto", "systemd", "none" }; /* enum sfc_cgmode */

const char *sfc_level_name(enum sfc_level l) { return level_names[l]; }
const char *sfc_net_name(enum sfc_net n) { return net_names[n]; }
const char *sfc_dirmode_name(enum sfc_dirmode d) { return dir_names[d]; }
const char *sfc_seclevel_name(enum sfc_seclevel s) { return sec_names[s]; }

static int set_network(struct sfc_spec *spec, const char *v, const struct sfc_origin *o, struct sfc_error *e)
{
	if (!strcmp(v, "deny") || !strcmp(v, "none"))
		spec->network = SFC_NET_DENY;
	else if (!strcmp(v, "localhost") || !strcmp(v, "loopback"))
		spec->network = SFC_NET_LOCALHOST;
	else if (!strcmp(v, "allow") || !strcmp(v, "host"))
		spec->network = SFC_NET_ALLOW;
	else if (!strncmp(v, "allow:", 6)) {
		struct sfc_strv hosts = { 0 };
		sfc_strv_split(&hosts, v + 6, ",");
		if (!hosts.n)
			return sfc_err(e, 0, "network 'allow:' needs at least one HOST[:PORT]");
		list_clear(&spec->allow_hosts);
		for (size_t i = 0; i < hosts.n; i++)
			list_add(&spec->allow_hosts, sfc_steal_pointer(&hosts.v[i]), o);
		sfc_strv_clear(&hosts);
		spec->network = SFC_NET_HOSTS;
	} else
		return sfc_err(e, 0, "bad network '%s' (expected deny, localhost, allow or allow:HOST[:PORT],...)", v);
	return 0;
}

static int set_list(struct sfc_spec *spec, enum sfc_key key, struct sfc_list *l, const char *v,
		    const struct sfc_origin *o, struct sfc_error *e)
{
	/* On the command line and in SEFACA_* lists are PATH:PATH (as $PATH);
	 * in config files they are comma-separated (as DESIGN.md shows). */
	bool colon = o->kind == SFC_ORIGIN_FLAG || o->kind == SFC_ORIGIN_ENV;
	bool paths = key == SFC_K_READONLY || key == SFC_K_READWRITE || key == SFC_K_HIDE || key == SFC_K_TMPFS;
	struct sfc_strv items = { 0 };

	if (key == SFC_K_SETENV && colon) {
		sfc_strv_push(&items, v); /* a value may contain ':' */
	} else if (key == SFC_K_TMPFS && colon) {
		sfc_strv_push(&items, v); /* PATH[:SIZE] */
	} else {
		sfc_strv_split(&items, v, colon && paths ? ":" : ",");
	}
	for (size_t i = 0; i < items.n; i++) {
		char *it = items.v[i];
		if (key == SFC_K_SETENV && (!strchr(it, '=') || it[0] == '=')) {
			sfc_strv_clear(&items);
			return sfc_err(e, 0, "bad setenv '%s' (expected NAME=VALUE)", v);
		}
		if (key == SFC_K_VOLUMES) {
			/* SRC:DST[:ro|:rw], DST absolute */
			const char *c = strchr(it, ':'), *m = c ? strchr(c + 1, ':') : NULL;
			if (!c || c == it || c[1] != '/' || (m && strcmp(m, ":ro") && strcmp(m, ":rw"))) {
				sfc_err(e, 0, "bad volume '%s' (expected SRC:DST[:ro] with DST absolute)", it);
				sfc_strv_clear(&items);
				return -EINVAL;
			}
		}
		if (key == SFC_K_BLOCKED_COMMANDS && strpbrk(it, " \t\n'\"$`;&|<>*?")) {
			sfc_err(e, 0, "bad blocked command '%s' (expected a program name or path)", it);
			sfc_strv_clear(&items);
			return -EINVAL;
		}
		if (key == SFC_K_TMPFS) {
			char *c = strrchr(it, ':');
			uint64_t sz;
			if (c && sfc_parse_size(c + 1, &sz, e) < 0) {
				sfc_strv_clear(&items);
				return -EINVAL;
			}
		}
		if (paths && !strcmp(it, "$TMPDIR")) {
			/* TMPDIR unset: the sandbox's private /tmp is the temporary
			 * directory; "$TMPDIR" must not become the host's shared /tmp. */
			const char *t = getenv_in(spec->caller_env, "TMPDIR");
			if (!t || !*t)
				continue;
		}
		if (paths || key == SFC_K_VOLUMES) {
			char *x = expand_path(spec, it);
			if (!*x) {
				free(x);
				sfc_strv_clear(&items);
				return sfc_err(e, 0, "empty path in '%s'", v);
			}
			list_add(l, x, o);
		} else {
			list_add(l, sfc_xstrdup(it), o);
		}
	}
	sfc_strv_clear(&items);
	return 0;
}

static int set_limit_size(uint64_t *dst, const char *v, struct sfc_error *e)
{
	if (sfc_is_none(v)) {
		*dst = 0;
		return 0;
	}
	return sfc_parse_size(v, dst, e);
}

int sfc_spec_set(struct sfc_spec *spec, enum sfc_key key, const char *v, const struct sfc_origin *o,
		 struct sfc_error *e)
{
	int r = 0, i;
	bool b;
	uint64_t u;

	switch (key) {
	case SFC_K_LEVEL:
		if (parse_enum(v, level_names, 3, &i) < 0)
			return sfc_err(e, 0, "bad level '%s' (expected strict, default or permissive)", v);
		spec->level = i;
		break;
	case SFC_K_PRESET:
		free(spec->preset);
		spec->preset = sfc_is_none(v) ? NULL : sfc_xstrdup(v);
		break;
	case SFC_K_POLICY:
		free(spec->policy);
		spec->policy = sfc_is_none(v) ? NULL : sfc_xstrdup(v);
		break;
	case SFC_K_ENV_PROFILE:
		free(spec->env_profile);
		spec->env_profile = sfc_is_none(v) ? NULL : sfc_xstrdup(v);
		break;
	case SFC_K_BLOCKED_COMMANDS: r = set_list(spec, key, &spec->blocked_commands, v, o, e); break;
	case SFC_K_VOLUMES: r = set_list(spec, key, &spec->volumes, v, o, e); break;
	case SFC_K_ALLOWED_IMAGES: r = set_list(spec, key, &spec->allowed_images, v, o, e); break;
	case SFC_K_AUDIT_REQUIRED:
		r = sfc_parse_bool(v, &spec->audit_required, e);
		break;
	case SFC_K_AUDIT_LOG:
		if (!*v)
			return sfc_err(e, 0, "empty audit_log (expected a file, syslog or none)");
		free(spec->audit_log);
		if (sfc_is_none(v) || !strcmp(v, "syslog")) {
			spec->audit_log = sfc_xstrdup(sfc_is_none(v) ? "none" : "syslog");
		} else {
			_cleanup_free_ char *x = expand_path(spec, v);
			_cleanup_free_ char *j = x[0] == '/' || !spec->cwd ? NULL : sfc_xasprintf("%s/%s", spec->cwd, x);
			spec->audit_log = sfc_path_normalize(j ? j : x);
			if (spec->audit_log[0] != '/') {
				free(spec->audit_log);
				spec->audit_log = NULL;
				return sfc_err(e, 0, "audit_log '%s' must be an absolute path, syslog or none", v);
			}
		}
		break;
	case SFC_K_IMAGE:
		if (!*v)
			return sfc_err(e, 0, "empty image");
		free(spec->image);
		spec->image = sfc_xstrdup(v);
		break;
	case SFC_K_NETWORK:
		r = set_network(spec, v, o, e);
		break;
	case SFC_K_ALLOW_HOSTS:
		if (sfc_is_none(v)) {
			list_clear(&spec->allow_hosts);
			if (spec->network == SFC_NET_HOSTS)
				spec->network = SFC_NET_DENY; /* an empty allowlist lets nothing out */
		} else if ((r = set_list(spec, key, &spec->allow_hosts, v, o, e)) == 0) {
			spec->network = SFC_NET_HOSTS;
			spec->origin[SFC_K_NETWORK] = *o;
		}
		break;
	case SFC_K_FILESYSTEM:
		if (parse_enum(v, fs_names, 2, &i) < 0)
			return sfc_err(e, 0, "bad filesystem '%s' (expected minimal or host)", v);
		spec->filesystem = i;
		break;
	case SFC_K_HOME:
	case SFC_K_CWD:
		if (parse_enum(v, dir_names, key == SFC_K_HOME ? 4 : 3, &i) < 0)
			return sfc_err(e, 0, "bad %s '%s' (expected none, ro, rw%s)", keys[key].name, v,
				       key == SFC_K_HOME ? " or tmpfs" : "");
		if (key == SFC_K_HOME)
			spec->home_mode = i;
		else
			spec->cwd_mode = i;
		break;
	case SFC_K_HIDE_SECRETS:
		r = sfc_parse_bool(v, &spec->hide_secrets, e);
		break;
	case SFC_K_READ_ONLY_ROOT:
		r = sfc_parse_bool(v, &spec->read_only_root, e);
		break;
	case SFC_K_ENV_CLEAR:
		r = sfc_parse_bool(v, &spec->env_clear, e);
		break;
	case SFC_K_ENV_FILTER:
		r = sfc_parse_bool(v, &spec->env_filter, e);
		break;
	case SFC_K_ALLOW_NESTED:
		r = sfc_parse_bool(v, &spec->allow_nested, e);
		break;
	case SFC_K_BEST_EFFORT:
		r = sfc_parse_bool(v, &spec->best_effort, e);
		break;
	case SFC_K_REQUIRE_LIMITS:
		r = sfc_parse_bool(v, &spec->require_limits, e);
		break;
	case SFC_K_MEMORY_SWAP:
		if (!strcmp(v, "0"))
			spec->memory_swap = 0;
		else if (!strcmp(v, "max") || sfc_is_none(v))
			spec->memory_swap = UINT64_MAX;
		else
			r = sfc_parse_size(v, &spec->memory_swap, e);
		break;
	case SFC_K_IO_WEIGHT:
		if (sfc_is_none(v))
			spec->io_weight = 0;
		else if ((r = sfc_parse_uint(v, 1, 10000, &u, e)) == 0)
			spec->io_weight = (uint32_t)u;
		break;
	case SFC_K_IO_MAX:
		if ((r = set_list(spec, key, &spec->io_max, v, o, e)) == 0)
			for (size_t n = 0; n < spec->io_max.items.n && r == 0; n++)
				r = sfc_cgroup_io_max_line(spec->io_max.items.v[n], NULL, 0, e);
		break;
	case SFC_K_CGROUP:
		if (parse_enum(v, cg_names, 3, &i) < 0)
			return sfc_err(e, 0, "bad cgroup '%s' (expected auto, systemd or none)", v);
		spec->cgroup_mode = i;
		break;
	case SFC_K_READONLY: r = set_list(spec, key, &spec->readonly, v, o, e); break;
	case SFC_K_READWRITE: r = set_list(spec, key, &spec->readwrite, v, o, e); break;
	case SFC_K_HIDE: r = set_list(spec, key, &spec->hide, v, o, e); break;
	case SFC_K_TMPFS: r = set_list(spec, key, &spec->tmpfs, v, o, e); break;
	case SFC_K_SETENV: r = set_list(spec, key, &spec->setenv, v, o, e); break;
	case SFC_K_UNSETENV: r = set_list(spec, key, &spec->unsetenv, v, o, e); break;
	case SFC_K_KEEP_ENV: r = set_list(spec, key, &spec->keep_env, v, o, e); break;
	case SFC_K_TMP_SIZE: r = set_limit_size(&spec->tmp_size, v, e); break;
	case SFC_K_MEMORY: r = set_limit_size(&spec->memory, v, e); break;
	case SFC_K_FSIZE: r = set_limit_size(&spec->fsize, v, e); break;
	case SFC_K_CPU:
		if (sfc_is_none(v))
			spec->cpu_milli = 0;
		else
			r = sfc_parse_cpu(v, &spec->cpu_milli, e);
		break;
	case SFC_K_PIDS:
	case SFC_K_NOFILE:
		if (sfc_is_none(v))
			u = 0;
		else if ((r = sfc_parse_uint(v, 1, key == SFC_K_PIDS ? 4194304 : 1048576, &u, e)) < 0)
			break;
		if (key == SFC_K_PIDS)
			spec->pids = u;
		else
			spec->nofile = u;
		break;
	case SFC_K_TIMEOUT:
		if (sfc_is_none(v))
			spec->timeout_ms = 0;
		else
			r = sfc_parse_duration(v, &spec->timeout_ms, e);
		break;
	case SFC_K_KILL_GRACE:
		r = sfc_parse_duration(v, &spec->kill_grace_ms, e);
		break;
	case SFC_K_WORKDIR:
		if (!*v)
			return sfc_err(e, 0, "empty workdir");
		free(spec->workdir);
		spec->workdir = expand_path(spec, v);
		break;
	case SFC_K_HOSTNAME:
		if (!*v || strlen(v) > 64 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != strlen(v))
			return sfc_err(e, 0, "bad hostname '%s'", v);
		free(spec->hostname);
		spec->hostname = sfc_xstrdup(v);
		break;
	case SFC_K_UID:
	case SFC_K_GID:
		if ((r = sfc_parse_uint(v, 0, 0xfffffffeULL, &u, e)) < 0)
			break;
		if (key == SFC_K_UID)
			spec->uid = u;
		else
			spec->gid = u;
		break;
	case SFC_K_SECCOMP:
		if (parse_enum(v, sec_names, 3, &i) < 0)
			return sfc_err(e, 0, "bad seccomp '%s' (expected strict, default or permissive)", v);
		spec->seccomp = i;
		break;
	default:
		return sfc_err(e, 0, "unknown setting");
	}
	(void)b;
	if (r < 0)
		return r;
	spec->origin[key] = *o;
	return 0;
}

/* ---- resolution ---- */

/* Last value of KEY in S, or NULL. */
static const struct sfc_setting *last_of(const struct sfc_settings *s, enum sfc_key key)
{
	for (size_t i = s->n; i-- > 0;)
		if (s->v[i].key == key)
			return &s->v[i];
	return NULL;
}

/* Built-in profile overlaid key by key with the config section of the same name. */
static int load_profile(struct sfc_sources *src, const char *kind, const char *name, struct sfc_settings *out,
			struct sfc_error *e)
{
	struct sfc_settings b = { 0 };
	struct sfc_profile *cfg = sfc_sources_find(src, kind, name);
	bool have = sfc_builtin_profile(kind, name, &b);

	if (!have && !cfg) {
		sfc_settings_clear(&b);
		return sfc_err(e, 0, "unknown %s '%s'", kind, name);
	}
	for (size_t i = 0; i < b.n; i++)
		if (!cfg || !last_of(&cfg->settings, b.v[i].key))
			sfc_settings_add(out, b.v[i].key, b.v[i].value, &b.v[i].origin);
	if (cfg)
		for (size_t i = 0; i < cfg->settings.n; i++)
			sfc_settings_add(out, cfg->settings.v[i].key, cfg->settings.v[i].value,
					 &cfg->settings.v[i].origin);
	sfc_settings_clear(&b);
	return 0;
}

static int apply(struct sfc_spec *spec, const struct sfc_settings *s, struct sfc_error *e)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sfc_setting *st = &s->v[i];
		char where[512];

		if (st->key == SFC_K_LEVEL || st->key == SFC_K_PRESET || st->key == SFC_K_POLICY ||
		    st->key == SFC_K_ENV_PROFILE) {
			spec->origin[st->key] = st->origin; /* resolved already; keep provenance */
			continue;
		}
		if (sfc_spec_set(spec, st->key, st->value, &st->origin, e) < 0) {
			sfc_origin_format(&st->origin, where, sizeof(where));
			if (st->origin.kind == SFC_ORIGIN_FLAG)
				sfc_err_prefix(e, "%s", st->origin.name);
			else
				sfc_err_prefix(e, "%s: %s", where, keys[st->key].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Which named profile (preset or policy) applies: flags > env > [default]. */
static const struct sfc_setting *pick(struct sfc_sources *src, struct sfc_profile *def, enum sfc_key key)
{
	const struct sfc_setting *s = last_of(&src->flags, key);
	if (!s)
		s = last_of(&src->env, key);
	if (!s && def)
		s = last_of(&def->settings, key);
	return s;
}

int sfc_spec_resolve(struct sfc_spec *spec, struct sfc_sources *src, struct sfc_error *e)
{
	struct sfc_profile *def = sfc_sources_find(src, "default", NULL);
	struct sfc_settings preset = { 0 }, policy = { 0 }, envp = { 0 }, level = { 0 };
	const struct sfc_setting *ps, *pl, *pe, *lv = NULL;
	char where[512];
	int r = -EINVAL;

	ps = pick(src, def, SFC_K_PRESET);
	pl = pick(src, def, SFC_K_POLICY);
	if (ps && !sfc_is_none(ps->value) && load_profile(src, "preset", ps->value, &preset, e) < 0)
		goto bad_name;
	if (pl && !sfc_is_none(pl->value) && load_profile(src, "policy", pl->value, &policy, e) < 0) {
		ps = pl;
		goto bad_name;
	}
	pe = pick(src, def, SFC_K_ENV_PROFILE);
	if (pe && !sfc_is_none(pe->value) && load_profile(src, "env", pe->value, &envp, e) < 0) {
		ps = pe;
		goto bad_name;
	}
	if (ps)
		sfc_spec_set(spec, SFC_K_PRESET, ps->value, &ps->origin, e);
	if (pl)
		sfc_spec_set(spec, SFC_K_POLICY, pl->value, &pl->origin, e);
	if (pe)
		sfc_spec_set(spec, SFC_K_ENV_PROFILE, pe->value, &pe->origin, e);

	/* The level decides the base every other source starts from. */
	lv = last_of(&src->flags, SFC_K_LEVEL);
	if (!lv)
		lv = last_of(&src->env, SFC_K_LEVEL);
	if (!lv)
		lv = last_of(&envp, SFC_K_LEVEL);
	if (!lv)
		lv = last_of(&policy, SFC_K_LEVEL);
	if (!lv)
		lv = last_of(&preset, SFC_K_LEVEL);
	if (!lv && def)
		lv = last_of(&def->settings, SFC_K_LEVEL);
	if (lv && sfc_spec_set(spec, SFC_K_LEVEL, lv->value, &lv->origin, e) < 0) {
		ps = lv;
		goto bad_value;
	}
	if (!lv) {
		spec->origin[SFC_K_LEVEL] = (struct sfc_origin){ SFC_ORIGIN_BUILTIN, "default", 0 };
	}
	sfc_builtin_profile("level", level_names[spec->level], &level);

	if ((r = apply(spec, &level, e)) < 0 || (def && (r = apply(spec, &def->settings, e)) < 0) ||
	    (r = apply(spec, &preset, e)) < 0 || (r = apply(spec, &policy, e)) < 0 || (r = apply(spec, &envp, e)) < 0 ||
	    (r = apply(spec, &src->env, e)) < 0 || (r = apply(spec, &src->flags, e)) < 0)
		goto out;
	if (lv)
		spec->origin[SFC_K_LEVEL] = lv->origin;
	r = 0;
	goto out;

bad_value:
	sfc_origin_format(&ps->origin, where, sizeof(where));
	sfc_err_prefix(e, "%s", where);
	r = -EINVAL;
	goto out;
bad_name:
	sfc_origin_format(&ps->origin, where, sizeof(where));
	sfc_err_prefix(e, "%s", ps->origin.kind == SFC_ORIGIN_FLAG ? ps->origin.name : where);
	r = -EINVAL;
out:
	sfc_settings_clear(&preset);
	sfc_settings_clear(&policy);
	sfc_settings_clear(&envp);
	sfc_settings_clear(&level);
	return r;
}

static char *join_list(const struct sfc_list *l)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < l->items.n; i++)
		len += strlen(l->items.v[i]) + 2;
	s = sfc_xmalloc(len);
	s[0] = 0;
	for (size_t i = 0; i < l->items.n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, l->items.v[i]);
	}
	return s;
}

char *sfc_spec_value_string(const struct sfc_spec *spec, enum sfc_key key)
{
	char buf[64];

	switch (key) {
	case SFC_K_LEVEL: return sfc_xstrdup(level_names[spec->level]);
	case SFC_K_PRESET: return sfc_xstrdup(spec->preset ? spec->preset : "none");
	case SFC_K_POLICY: return sfc_xstrdup(spec->policy ? spec->policy : "none");
	case SFC_K_ENV_PROFILE: return sfc_xstrdup(spec->env_profile ? spec->env_profile : "none");
	case SFC_K_BLOCKED_COMMANDS: return join_list(&spec->blocked_commands);
	case SFC_K_VOLUMES: return join_list(&spec->volumes);
	case SFC_K_ALLOWED_IMAGES: return join_list(&spec->allowed_images);
	case SFC_K_AUDIT_LOG: return sfc_xstrdup(spec->audit_log ? spec->audit_log : "(default)");
	case SFC_K_AUDIT_REQUIRED: return sfc_xstrdup(spec->audit_required ? "true" : "false");
	case SFC_K_IMAGE: return sfc_xstrdup(spec->image ? spec->image : "(none)");
	case SFC_K_NETWORK:
		if (spec->network == SFC_NET_HOSTS) {
			char *h = join_list(&spec->allow_hosts), *r = sfc_xasprintf("allow:%s", h);
			free(h);
			return r;
		}
		return sfc_xstrdup(net_names[spec->network]);
	case SFC_K_FILESYSTEM: return sfc_xstrdup(fs_names[spec->filesystem]);
	case SFC_K_HOME: return sfc_xstrdup(dir_names[spec->home_mode]);
	case SFC_K_CWD: return sfc_xstrdup(dir_names[spec->cwd_mode]);
	case SFC_K_HIDE_SECRETS: return sfc_xstrdup(spec->hide_secrets ? "true" : "false");
	case SFC_K_READ_ONLY_ROOT: return sfc_xstrdup(spec->read_only_root ? "true" : "false");
	case SFC_K_ENV_CLEAR: return sfc_xstrdup(spec->env_clear ? "true" : "false");
	case SFC_K_ENV_FILTER: return sfc_xstrdup(spec->env_filter ? "true" : "false");
	case SFC_K_ALLOW_NESTED: return sfc_xstrdup(spec->allow_nested ? "true" : "false");
	case SFC_K_BEST_EFFORT: return sfc_xstrdup(spec->best_effort ? "true" : "false");
	case SFC_K_ALLOW_HOSTS: return spec->allow_hosts.items.n ? join_list(&spec->allow_hosts) : sfc_xstrdup("none");
	case SFC_K_REQUIRE_LIMITS: return sfc_xstrdup(spec->require_limits ? "true" : "false");
	case SFC_K_CGROUP: return sfc_xstrdup(cg_names[spec->cgroup_mode]);
	case SFC_K_IO_MAX: return join_list(&spec->io_max);
	case SFC_K_IO_WEIGHT:
		return spec->io_weight ? sfc_xasprintf("%u", spec->io_weight) : sfc_xstrdup("default");
	case SFC_K_MEMORY_SWAP:
		if (spec->memory_swap == UINT64_MAX)
			return sfc_xstrdup("max");
		if (!spec->memory_swap)
			return sfc_xstrdup("0");
		sfc_format_size(spec->memory_swap, buf, sizeof(buf));
		return sfc_xstrdup(buf);
	case SFC_K_READONLY: return join_list(&spec->readonly);
	case SFC_K_READWRITE: return join_list(&spec->readwrite);
	case SFC_K_HIDE: return join_list(&spec->hide);
	case SFC_K_TMPFS: return join_list(&spec->tmpfs);
	case SFC_K_SETENV: return join_list(&spec->setenv);
	case SFC_K_UNSETENV: return join_list(&spec->unsetenv);
	case SFC_K_KEEP_ENV: return join_list(&spec->keep_env);
	case SFC_K_TMP_SIZE:
	case SFC_K_MEMORY:
	case SFC_K_FSIZE: {
		uint64_t v = key == SFC_K_MEMORY ? spec->memory : key == SFC_K_FSIZE ? spec->fsize : spec->tmp_size;
		if (!v)
			return sfc_xstrdup("none");
		sfc_format_size(v, buf, sizeof(buf));
		return sfc_xstrdup(buf);
	}
	case SFC_K_CPU:
		if (!spec->cpu_milli)
			return sfc_xstrdup("none");
		return sfc_xasprintf("%u.%03u", spec->cpu_milli / 1000, spec->cpu_milli % 1000);
	case SFC_K_PIDS:
	case SFC_K_NOFILE: {
		uint64_t v = key == SFC_K_PIDS ? spec->pids : spec->nofile;
		return v ? sfc_xasprintf("%llu", (unsigned long long)v) : sfc_xstrdup("none");
	}
	case SFC_K_TIMEOUT:
	case SFC_K_KILL_GRACE: {
		uint64_t v = key == SFC_K_TIMEOUT ? spec->timeout_ms : spec->kill_grace_ms;
		if (!v)
			return sfc_xstrdup("none");
		sfc_format_duration(v, buf, sizeof(buf));
		return sfc_xstrdup(buf);
	}
	case SFC_K_WORKDIR: return sfc_xstrdup(spec->workdir ? spec->workdir : "(current directory)");
	case SFC_K_HOSTNAME: return sfc_xstrdup(spec->hostname ? spec->hostname : "(host's)");
	case SFC_K_UID:
	case SFC_K_GID: {
		int64_t v = key == SFC_K_UID ? spec->uid : spec->gid;
		return v < 0 ? sfc_xstrdup("(caller's)") : sfc_xasprintf("%lld", (long long)v);
	}
	case SFC_K_SECCOMP: return sfc_xstrdup(sec_names[spec->seccomp]);
	default: return sfc_xstrdup("?");
	}
}

/* Unit tests: spec keys, precedence of sources, levels, environment, paths. */
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
#include "core/spec.h"
#include "core/util.h"
#include "unit.h"

static char *fake_env[] = { "PATH=/usr/bin:/bin", "HOME=/home/u", "GITHUB_TOKEN=x", "AWS_SECRET_ACCESS_KEY=y",
			    "LD_PRELOAD=/evil.so", "MY_PASSWORD=z", "TERM=xterm", "EDITOR=vi", "TMPDIR=/var/tmp/u",
			    "OPENAI_API_KEY=k", "SSH_AUTH_SOCK=/tmp/ssh", NULL };

static void spec_new(struct sfc_spec *s)
{
	sfc_spec_init(s);
	s->caller_env = fake_env;
	s->home = "/home/u";
	s->cwd = "/home/u/p";
}

static void flag(struct sfc_sources *src, enum sfc_key k, const char *v)
{
	struct sfc_origin o = { SFC_ORIGIN_FLAG, "--test", 0 };
	sfc_settings_add(&src->flags, k, v, &o);
}

static void envset(struct sfc_sources *src, enum sfc_key k, const char *v)
{
	struct sfc_origin o = { SFC_ORIGIN_ENV, "SEFACA_TEST", 0 };
	sfc_settings_add(&src->env, k, v, &o);
}

TEST(levels)
{
	struct sfc_spec s;
	struct sfc_sources src = { 0 };
	struct sfc_error e;

	spec_new(&s);
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.level == SFC_LEVEL_DEFAULT);
	CHECK(s.network == SFC_NET_LOCALHOST);
	CHECK(s.home_mode == SFC_DIR_RO && s.cwd_mode == SFC_DIR_RW);
	CHECK(s.hide_secrets && s.env_filter && !s.env_clear);
	CHECK(s.origin[SFC_K_NETWORK].kind == SFC_ORIGIN_BUILTIN);

	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_LEVEL, "strict");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.level == SFC_LEVEL_STRICT && s.network == SFC_NET_DENY && s.home_mode == SFC_DIR_TMPFS);
	CHECK(s.cwd_mode == SFC_DIR_RO && s.env_clear && s.seccomp == SFC_SECCOMP_STRICT && s.pids > 0 && s.memory > 0);
	sfc_sources_clear(&src);

	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_LEVEL, "permissive");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.network == SFC_NET_ALLOW && s.filesystem == SFC_FS_HOST && !s.env_filter);
	sfc_sources_clear(&src);

	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_LEVEL, "lax");
	CHECK(sfc_spec_resolve(&s, &src, &e) < 0);
	CHECK(strstr(e.msg, "lax") != NULL);
	sfc_sources_clear(&src);
	sfc_spec_free(&s);
	sfc_sources_clear(&src);
}

TEST(precedence)
{
	struct sfc_spec s;
	struct sfc_sources src = { 0 };
	struct sfc_error e;

	/* env over level, flag over env */
	spec_new(&s);
	envset(&src, SFC_K_MEMORY, "512m");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.memory == 512ULL << 20 && s.origin[SFC_K_MEMORY].kind == SFC_ORIGIN_ENV);

	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_MEMORY, "1g");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.memory == 1ULL << 30 && s.origin[SFC_K_MEMORY].kind == SFC_ORIGIN_FLAG);
	sfc_sources_clear(&src);

	/* a level chosen by env gives its base; flags still win */
	sfc_spec_free(&s);
	spec_new(&s);
	envset(&src, SFC_K_LEVEL, "strict");
	flag(&src, SFC_K_NETWORK, "localhost");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.level == SFC_LEVEL_STRICT && s.network == SFC_NET_LOCALHOST && s.home_mode == SFC_DIR_TMPFS);
	sfc_sources_clear(&src);

	/* "none" lifts a level's limit */
	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_LEVEL, "strict");
	flag(&src, SFC_K_MEMORY, "none");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.memory == 0);
	sfc_sources_clear(&src);

	/* bad values name their origin */
	sfc_spec_free(&s);
	spec_new(&s);
	envset(&src, SFC_K_TIMEOUT, "soon");
	CHECK(sfc_spec_resolve(&s, &src, &e) < 0);
	CHECK(strstr(e.msg, "SEFACA_TEST") && strstr(e.msg, "soon"));
	sfc_sources_clear(&src);
	sfc_spec_free(&s);
	sfc_sources_clear(&src);
}

TEST(lists)
{
	struct sfc_spec s;
	struct sfc_sources src = { 0 };
	struct sfc_error e;

	spec_new(&s);
	flag(&src, SFC_K_READONLY, "/a:/b");
	flag(&src, SFC_K_READONLY, "~/c");
	flag(&src, SFC_K_READWRITE, "$TMPDIR/x");
	flag(&src, SFC_K_SETENV, "A=b:c");
	flag(&src, SFC_K_TMPFS, "/scratch:1m");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	CHECK(s.readonly.items.n == 3);
	CHECK_STR(s.readonly.items.v[0], "/a");
	CHECK_STR(s.readonly.items.v[2], "/home/u/c");
	CHECK_STR(s.readwrite.items.v[0], "/var/tmp/u/x");
	CHECK_STR(s.setenv.items.v[0], "A=b:c");
	CHECK_STR(s.tmpfs.items.v[0], "/scratch:1m");
	sfc_sources_clear(&src);

	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_TMPFS, "/scratch:1x");
	CHECK(sfc_spec_resolve(&s, &src, &e) < 0);
	sfc_sources_clear(&src);

	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_SETENV, "novalue");
	CHECK(sfc_spec_resolve(&s, &src, &e) < 0);
	sfc_sources_clear(&src);
	sfc_spec_free(&s);
}

static bool env_has(struct sfc_strv *v, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < v->n; i++)
		if (!strncmp(v->v[i], name, n) && v->v[i][n] == '=')
			return true;
	return false;
}

TEST(environment)
{
	struct sfc_spec s;
	struct sfc_sources src = { 0 };
	struct sfc_error e;
	struct sfc_strv env = { 0 };

	/* default: secrets and loader variables dropped (SECURITY.md 22) */
	spec_new(&s);
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	sfc_env_build(&s, "/w", &env);
	CHECK(env_has(&env, "PATH") && env_has(&env, "EDITOR") && env_has(&env, "TERM"));
	CHECK(!env_has(&env, "GITHUB_TOKEN") && !env_has(&env, "AWS_SECRET_ACCESS_KEY"));
	CHECK(!env_has(&env, "LD_PRELOAD") && !env_has(&env, "MY_PASSWORD") && !env_has(&env, "OPENAI_API_KEY"));
	CHECK(!env_has(&env, "SSH_AUTH_SOCK"));
	sfc_strv_clear(&env);

	/* keep-env re-admits */
	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_KEEP_ENV, "GITHUB_TOKEN");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	sfc_env_build(&s, NULL, &env);
	CHECK(env_has(&env, "GITHUB_TOKEN") && !env_has(&env, "AWS_SECRET_ACCESS_KEY"));
	sfc_strv_clear(&env);
	sfc_sources_clear(&src);

	/* strict: a clean environment */
	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_LEVEL, "strict");
	flag(&src, SFC_K_SETENV, "X=1");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	sfc_env_build(&s, NULL, &env);
	CHECK(env_has(&env, "PATH") && env_has(&env, "HOME") && env_has(&env, "TERM") && env_has(&env, "X"));
	CHECK(!env_has(&env, "EDITOR") && !env_has(&env, "TMPDIR"));
	sfc_strv_clear(&env);
	sfc_sources_clear(&src);

	/* permissive: everything */
	sfc_spec_free(&s);
	spec_new(&s);
	flag(&src, SFC_K_LEVEL, "permissive");
	flag(&src, SFC_K_UNSETENV, "EDITOR");
	CHECK(sfc_spec_resolve(&s, &src, &e) == 0);
	sfc_env_build(&s, NULL, &env);
	CHECK(env_has(&env, "GITHUB_TOKEN") && env_has(&env, "LD_PRELOAD") && !env_has(&env, "EDITOR"));
	sfc_strv_clear(&env);
	sfc_sources_clear(&src);
	sfc_spec_free(&s);
	sfc_sources_clear(&src);
}

TEST(paths)
{
	char *p;
	p = sfc_path_normalize("/a//b/./c/../d/");
	CHECK_STR(p, "/a/b/d");
	free(p);
	p = sfc_path_normalize("/../..");
	CHECK_STR(p, "/");
	free(p);
	CHECK(sfc_path_within("/a/b", "/a") && sfc_path_within("/a", "/a") && !sfc_path_within("/ab", "/a"));
	CHECK(sfc_path_within("/x", "/"));
	CHECK(sfc_path_depth("/") == 0 && sfc_path_depth("/a/b") == 2);
	CHECK(sfc_glob_match("*_TOKEN", "GH_TOKEN") && !sfc_glob_match("*_TOKEN", "TOKENS"));
	CHECK(sfc_glob_match("AWS_*", "AWS_X") && sfc_glob_match("*", ""));
}

int main(void)
{
	unit_init("spec");
	RUN(levels);
	RUN(precedence);
	RUN(lists);
	RUN(environment);
	RUN(paths);
	return 0;
}

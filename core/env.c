#include "core/env.h"

#include <stdlib.h>
#include <string.h>

const char *const sfc_env_secret_patterns[] = {
	"*_TOKEN", "*_SECRET", "*_PASSWORD", "*_PASSWD", "*_API_KEY", "*_PRIVATE_KEY", "*_CREDENTIALS",
	"AWS_*", "SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO",
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",
	NULL,
};

static const char *const clean_keep[] = { "PATH", "HOME", "TERM", "LANG", "TZ", NULL };

bool sfc_env_is_secret(const char *name)
{
	for (const char *const *p = sfc_env_secret_patterns; *p; p++)
		if (sfc_glob_match(*p, name))
			return true;
	return false;
}

static bool kept(const struct sfc_spec *spec, const char *name)
{
	for (size_t i = 0; i < spec->keep_env.items.n; i++)
		if (sfc_glob_match(spec->keep_env.items.v[i], name))
			return true;
	return false;
}

const char *sfc_env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (char *const *p = env; p && *p; p++)
		if (!strncmp(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static ssize_t find(const struct sfc_strv *out, const char *name, size_t n)
{
	for (size_t i = 0; i < out->n; i++)
		if (!strncmp(out->v[i], name, n) && out->v[i][n] == '=')
			return i;
	return -1;
}

void sfc_env_set(struct sfc_strv *out, const char *name, const char *value)
{
	ssize_t i = find(out, name, strlen(name));
	char *kv = sfc_xasprintf("%s=%s", name, value);

	if (i >= 0) {
		free(out->v[i]);
		out->v[i] = kv;
	} else {
		sfc_strv_push_owned(out, kv);
	}
}

void sfc_env_build(const struct sfc_spec *spec, const char *workdir, struct sfc_strv *out)
{
	for (char **p = spec->caller_env; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		char name[256];
		size_t n;
		bool keep;

		if (!eq || (n = eq - *p) == 0 || n >= sizeof(name))
			continue;
		memcpy(name, *p, n);
		name[n] = 0;
		if (spec->env_clear) {
			keep = false;
			for (const char *const *c = clean_keep; *c; c++)
				if (!strcmp(*c, name))
					keep = true;
			keep = keep || kept(spec, name);
		} else if (spec->env_filter) {
			keep = !sfc_env_is_secret(name) || kept(spec, name);
		} else {
			keep = true;
		}
		if (keep && find(out, name, n) < 0)
			sfc_strv_push(out, *p);
	}
	if (spec->env_clear && find(out, "PATH", 4) < 0)
		sfc_strv_push(out, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
	for (size_t i = 0; i < spec->unsetenv.items.n; i++) {
		const char *u = spec->unsetenv.items.v[i];
		ssize_t j;
		while ((j = find(out, u, strlen(u))) >= 0)
			sfc_strv_remove(out, j);
	}
	for (size_t i = 0; i < spec->setenv.items.n; i++) {
		const char *kv = spec->setenv.items.v[i], *eq = strchr(kv, '=');
		char *name = sfc_xstrndup(kv, eq - kv);
		sfc_env_set(out, name, eq + 1);
		free(name);
	}
	if (workdir)
		sfc_env_set(out, "PWD", workdir);
	sfc_env_set(out, "SEFACA_SANDBOX", sfc_level_name(spec->level));
}

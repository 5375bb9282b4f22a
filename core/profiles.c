#include "core/profiles.h"

#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "core/util.h"

struct kv {
	enum sfc_key key;
	const char *value;
};

struct profile {
	const char *kind, *name, *origin, *about;
	const struct kv *kv;
};

/* ---- presets: seed 001's apply_preset(), in sefaca's keys ----
 *
 * The seed lists "." among the read-write (or read-only) paths; that is
 * the current directory, key cwd.  Its other paths are kept except where
 * the view already gives them: /usr and /lib are read-only in every
 * minimal view, and testing's ./tmp and ./test-output lie inside the
 * read-write current directory.  compiler's $TMPDIR is granted when
 * TMPDIR names a directory of its own; otherwise the sandbox's private
 * /tmp serves (granting the host's /tmp would expose other programs'
 * sockets there, tmux's and X11's among them). */
static const struct kv preset_compiler[] = {
	{ SFC_K_NETWORK, "deny" }, { SFC_K_CWD, "rw" }, { SFC_K_MEMORY, "2g" }, { SFC_K_TIMEOUT, "300" },
	{ SFC_K__MAX, NULL },
};
static const struct kv preset_network_client[] = {
	{ SFC_K_NETWORK, "allow" }, { SFC_K_CWD, "ro" }, { SFC_K_MEMORY, "512m" }, { SFC_K_TIMEOUT, "30" },
	{ SFC_K__MAX, NULL },
};
static const struct kv preset_development[] = {
	{ SFC_K_NETWORK, "localhost" }, { SFC_K_CWD, "rw" },	   { SFC_K_READWRITE, "~/.cache" },
	{ SFC_K_MEMORY, "1g" },		{ SFC_K_TIMEOUT, "120" }, { SFC_K__MAX, NULL },
};
static const struct kv preset_testing[] = {
	{ SFC_K_NETWORK, "localhost" }, { SFC_K_CWD, "rw" }, { SFC_K_MEMORY, "1g" }, { SFC_K_TIMEOUT, "600" },
	{ SFC_K__MAX, NULL },
};

/* ---- policies: seed 002's built-in policies ----
 *
 * Memory, CPU, network, user and execution time (30 minutes, the seed's
 * default) as the seed gives them.  "Read-only root filesystem" is
 * read_only_root (the host view read-only) plus a read-only current
 * directory, so only the private /tmp and explicit grants are writable.
 * hardened adds the strict seccomp filter; paranoid starts from the strict
 * level (empty $HOME, clean environment) with tight process and file
 * limits.  Capabilities are dropped and no_new_privs set at every level. */
static const struct kv policy_minimal[] = {
	{ SFC_K_MEMORY, "256m" }, { SFC_K_CPU, "0.5" }, { SFC_K_NETWORK, "deny" }, { SFC_K_READ_ONLY_ROOT, "false" },
	{ SFC_K_UID, "1000" },	  { SFC_K_GID, "1000" }, { SFC_K_TIMEOUT, "30m" }, { SFC_K__MAX, NULL },
};
static const struct kv policy_standard[] = {
	{ SFC_K_MEMORY, "512m" }, { SFC_K_CPU, "1.0" },	 { SFC_K_NETWORK, "deny" }, { SFC_K_READ_ONLY_ROOT, "true" },
	{ SFC_K_CWD, "ro" },	  { SFC_K_UID, "1000" }, { SFC_K_GID, "1000" },	    { SFC_K_TIMEOUT, "30m" },
	{ SFC_K__MAX, NULL },
};
static const struct kv policy_hardened[] = {
	{ SFC_K_MEMORY, "256m" }, { SFC_K_CPU, "0.5" },	  { SFC_K_NETWORK, "deny" }, { SFC_K_READ_ONLY_ROOT, "true" },
	{ SFC_K_CWD, "ro" },	  { SFC_K_UID, "65534" }, { SFC_K_GID, "65534" },    { SFC_K_SECCOMP, "strict" },
	{ SFC_K_TIMEOUT, "30m" }, { SFC_K__MAX, NULL },
};
static const struct kv policy_paranoid[] = {
	{ SFC_K_LEVEL, "strict" }, { SFC_K_MEMORY, "128m" },	 { SFC_K_CPU, "0.25" },	   { SFC_K_NETWORK, "deny" },
	{ SFC_K_READ_ONLY_ROOT, "true" }, { SFC_K_CWD, "ro" }, { SFC_K_UID, "65534" }, { SFC_K_GID, "65534" },
	{ SFC_K_SECCOMP, "strict" }, { SFC_K_PIDS, "64" },	 { SFC_K_NOFILE, "256" },  { SFC_K_FSIZE, "64m" },
	{ SFC_K_TIMEOUT, "30m" },  { SFC_K__MAX, NULL },
};

/* ---- container environments: seed 000's environments ----
 *
 * development uses the host image as DESIGN.md's example does (no
 * download) and only ~/.cache: the seed's ~/.config holds secret stores
 * (gh, gcloud).  The seed's "bridge" network of build is the user-mode
 * network sefaca-container gives for "allow". */
static const struct kv env_development[] = {
	{ SFC_K_IMAGE, "host" },
	{ SFC_K_NETWORK, "allow" },
	{ SFC_K_MEMORY, "2g" },
	{ SFC_K_CPU, "2.0" },
	{ SFC_K_VOLUMES, "~/.cache:/home/user/.cache" },
	{ SFC_K_SETENV, "DEBIAN_FRONTEND=noninteractive" },
	{ SFC_K_SETENV, "LANG=C.UTF-8" },
	{ SFC_K__MAX, NULL },
};
static const struct kv env_production[] = {
	{ SFC_K_IMAGE, "ubuntu:22.04" }, { SFC_K_NETWORK, "deny" },	     { SFC_K_MEMORY, "1g" },
	{ SFC_K_CPU, "1.0" },		 { SFC_K_READ_ONLY_ROOT, "true" }, { SFC_K_VOLUMES, "./dist:/output" },
	{ SFC_K__MAX, NULL },
};
static const struct kv env_build[] = {
	{ SFC_K_IMAGE, "ubuntu:22.04" },
	{ SFC_K_NETWORK, "allow" },
	{ SFC_K_MEMORY, "4g" },
	{ SFC_K_CPU, "4.0" },
	{ SFC_K_VOLUMES, ".:/workspace" },
	{ SFC_K_VOLUMES, "~/.cache/build:/cache" },
	{ SFC_K__MAX, NULL },
};

static const struct profile profiles[] = {
	{ "preset", "compiler", "preset compiler", "compilation: no network, writes to the tree and $TMPDIR, 2g, 5 min",
	  preset_compiler },
	{ "preset", "network-client", "preset network-client", "API clients: network, tree read-only, 512m, 30 s",
	  preset_network_client },
	{ "preset", "development", "preset development", "scripts: loopback, tree and ~/.cache writable, 1g, 2 min",
	  preset_development },
	{ "preset", "testing", "preset testing", "tests: loopback, tree writable, 1g, 10 min", preset_testing },
	{ "policy", "minimal", "policy minimal", "256m, 0.5 CPU, no network, uid 1000", policy_minimal },
	{ "policy", "standard", "policy standard", "512m, 1 CPU, no network, read-only, uid 1000", policy_standard },
	{ "policy", "hardened", "policy hardened", "256m, 0.5 CPU, no network, read-only, nobody, strict seccomp",
	  policy_hardened },
	{ "policy", "paranoid", "policy paranoid", "128m, 0.25 CPU, strict level, read-only, nobody, 64 processes",
	  policy_paranoid },
	{ "env", "development", "env development", "host image, host network, 2g, 2 CPUs, ~/.cache",
	  env_development },
	{ "env", "production", "env production", "ubuntu:22.04, no network, 1g, 1 CPU, read-only, ./dist",
	  env_production },
	{ "env", "build", "env build", "ubuntu:22.04, network, 4g, 4 CPUs, the tree at /workspace", env_build },
};

static const char *const preset_names[] = { "compiler", "network-client", "development", "testing", NULL };
static const char *const policy_names[] = { "minimal", "standard", "hardened", "paranoid", NULL };
static const char *const env_names[] = { "development", "production", "build", NULL };
static const char *const no_names[] = { NULL };

const char *const *sfc_profiles_builtin(const char *kind)
{
	if (!ENABLE_FEATURE_POLICY)
		return no_names;
	if (!strcmp(kind, "preset"))
		return preset_names;
	if (!strcmp(kind, "policy"))
		return policy_names;
	if (!strcmp(kind, "env"))
		return env_names;
	return no_names;
}

static const struct profile *find(const char *kind, const char *name)
{
	for (size_t i = 0; i < SFC_ARRAY_SIZE(profiles); i++)
		if (!strcmp(profiles[i].kind, kind) && !strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}

const char *sfc_profiles_describe(const char *kind, const char *name)
{
	const struct profile *p = ENABLE_FEATURE_POLICY ? find(kind, name) : NULL;
	return p ? p->about : NULL;
}

/* compiler's $TMPDIR: a directory of its own, not the shared /tmp. */
static bool tmpdir_of_its_own(void)
{
	const char *t = getenv("TMPDIR");
	_cleanup_free_ char *n = NULL;

	if (!t || t[0] != '/')
		return false;
	n = sfc_path_normalize(t);
	return strcmp(n, "/tmp") && strcmp(n, "/var/tmp") && strcmp(n, "/");
}

bool sfc_builtin_profile_extra(const char *kind, const char *name, struct sfc_settings *out)
{
	const struct profile *p;
	struct sfc_origin o;

	if (!ENABLE_FEATURE_POLICY)
		return false; /* compiled out: the names are unknown */
	if (!(p = find(kind, name)))
		return false;
	o = (struct sfc_origin){ SFC_ORIGIN_BUILTIN, p->origin, 0 };
	for (const struct kv *kv = p->kv; kv->value; kv++)
		sfc_settings_add(out, kv->key, kv->value, &o);
	if (p->kv == preset_compiler && tmpdir_of_its_own())
		sfc_settings_add(out, SFC_K_READWRITE, "$TMPDIR", &o);
	return true;
}

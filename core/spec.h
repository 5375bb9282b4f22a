/* The sandbox specification and how it is resolved from its sources.
 *
 * Every setting is a key (the same name in config files, as a flag
 * --name=value and, for some, as SEFACA_NAME).  Sources are lists of
 * key=value assignments with an origin; resolution applies them in
 * precedence order, lowest first:
 *
 *   built-in level < [default] < preset < policy < env < SEFACA_* < flags
 *
 * Scalars are replaced by later sources, lists are appended to.  A
 * config section of the same name as a built-in preset/policy replaces
 * the built-in one key by key. */
#ifndef SFC_SPEC_H
#define SFC_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/util.h"

enum sfc_level { SFC_LEVEL_STRICT, SFC_LEVEL_DEFAULT, SFC_LEVEL_PERMISSIVE };
enum sfc_net { SFC_NET_DENY, SFC_NET_LOCALHOST, SFC_NET_ALLOW, SFC_NET_HOSTS };
enum sfc_fsview { SFC_FS_MINIMAL, SFC_FS_HOST };
enum sfc_dirmode { SFC_DIR_NONE, SFC_DIR_RO, SFC_DIR_RW, SFC_DIR_TMPFS };
enum sfc_seclevel { SFC_SECCOMP_PERMISSIVE, SFC_SECCOMP_DEFAULT, SFC_SECCOMP_STRICT };

/* Keys, in the order --explain prints them. */
enum sfc_key {
	SFC_K_LEVEL,
	SFC_K_PRESET,
	SFC_K_POLICY,
	SFC_K_NETWORK,
	SFC_K_ALLOW_HOSTS,
	SFC_K_FILESYSTEM,
	SFC_K_HOME,
	SFC_K_CWD,
	SFC_K_HIDE_SECRETS,
	SFC_K_READ_ONLY_ROOT,
	SFC_K_READONLY,
	SFC_K_READWRITE,
	SFC_K_HIDE,
	SFC_K_TMPFS,
	SFC_K_TMP_SIZE,
	SFC_K_MEMORY,
	SFC_K_CPU,
	SFC_K_PIDS,
	SFC_K_TIMEOUT,
	SFC_K_KILL_GRACE,
	SFC_K_NOFILE,
	SFC_K_FSIZE,
	SFC_K_MEMORY_SWAP,
	SFC_K_IO_WEIGHT,
	SFC_K_IO_MAX,
	SFC_K_CGROUP,
	SFC_K_REQUIRE_LIMITS,
	SFC_K_ENV_CLEAR,
	SFC_K_ENV_FILTER,
	SFC_K_SETENV,
	SFC_K_UNSETENV,
	SFC_K_KEEP_ENV,
	SFC_K_WORKDIR,
	SFC_K_HOSTNAME,
	SFC_K_UID,
	SFC_K_GID,
	SFC_K_ALLOW_NESTED,
	SFC_K_SECCOMP,
	SFC_K_BEST_EFFORT,
	/* policy and audit (core/config.c, core/audit.c) */
	SFC_K_ENV_PROFILE,
	SFC_K_BLOCKED_COMMANDS,
	SFC_K_AUDIT_LOG,
	SFC_K_AUDIT_REQUIRED,
	/* read by sefaca-container; sefaca-run shows them in --explain only */
	SFC_K_IMAGE,
	SFC_K_VOLUMES,
	SFC_K_ALLOWED_IMAGES,
	SFC_K__MAX
};

enum sfc_origin_kind { SFC_ORIGIN_UNSET, SFC_ORIGIN_BUILTIN, SFC_ORIGIN_FILE, SFC_ORIGIN_ENV, SFC_ORIGIN_FLAG };
struct sfc_origin {
	enum sfc_origin_kind kind;
	const char *name; /* "level default", a file path, "SEFACA_MEMORY", "--memory"; must outlive the spec */
	int line;         /* for files */
};
/* "built-in (level default)", "/etc/sefaca/config.ini:12", "env SEFACA_MEMORY", "flag --memory" */
void sfc_origin_format(const struct sfc_origin *o, char *buf, size_t len);

struct sfc_key_info {
	const char *name;  /* config key; flag is --name with '_' -> '-' */
	const char *help;
	bool list;         /* value is a list: appended to across sources */
	bool env;          /* also read from SEFACA_<NAME> */
};
const struct sfc_key_info *sfc_key_info(enum sfc_key k);
/* Key by config name ("read_only_root") or flag spelling ("read-only-root"); -1 if unknown. */
int sfc_key_lookup(const char *name);

/* One assignment and where it came from. */
struct sfc_setting {
	enum sfc_key key;
	char *value;
	struct sfc_origin origin;
};
struct sfc_settings {
	struct sfc_setting *v;
	size_t n, cap;
};
void sfc_settings_add(struct sfc_settings *s, enum sfc_key key, const char *value, const struct sfc_origin *o);
void sfc_settings_clear(struct sfc_settings *s);

/* A named group of settings: a config section or a built-in. */
struct sfc_profile {
	char *kind; /* "default", "preset", "policy", "env" */
	char *name; /* NULL for [default] */
	struct sfc_settings settings;
	struct sfc_origin origin; /* where the section starts */
};

/* Everything resolution reads. */
struct sfc_sources {
	struct sfc_profile *profiles; /* from config files, in file order */
	size_t nprofiles;
	struct sfc_settings env;      /* SEFACA_* variables */
	struct sfc_settings flags;    /* command line */
	struct sfc_strv names;        /* file names the origins above point to (core/config.c) */
};
void sfc_sources_add_environ(struct sfc_sources *src, char **environ);
/* Find a config profile (NULL if none). */
struct sfc_profile *sfc_sources_find(struct sfc_sources *src, const char *kind, const char *name);
void sfc_sources_clear(struct sfc_sources *src);

/* Built-in profiles: the three levels, and whatever presets/policies are
 * compiled in.  Returns false if there is none of that name. */
bool sfc_builtin_profile(const char *kind, const char *name, struct sfc_settings *out);

/* A list of strings, each with its origin. */
struct sfc_list {
	struct sfc_strv items;
	struct sfc_origin *origins;
};

struct sfc_spec {
	/* --- resolved settings --- */
	enum sfc_level level;
	char *preset, *policy;
	enum sfc_net network;
	struct sfc_list allow_hosts; /* network=allow:HOST[:PORT],... or allow_hosts = ... */
	enum sfc_fsview filesystem;
	enum sfc_dirmode home_mode, cwd_mode;
	bool hide_secrets, read_only_root;
	struct sfc_list readonly, readwrite, hide, tmpfs;
	uint64_t tmp_size;      /* bytes; 0 = kernel default */
	uint64_t memory, fsize; /* bytes; 0 = unlimited */
	uint64_t pids, nofile;  /* 0 = unlimited */
	uint32_t cpu_milli;     /* 0 = unlimited */
	uint64_t memory_swap;   /* swap on top of memory: 0 = none, UINT64_MAX = no limit */
	uint32_t io_weight;     /* 0 = the kernel's default */
	struct sfc_list io_max; /* "DEVICE rbps=... wbps=..." */
	int cgroup_mode;        /* enum sfc_cgmode (core/cgroup.h) */
	bool require_limits;    /* a limit that cannot be enforced is an error */
	uint64_t timeout_ms, kill_grace_ms;
	bool env_clear, env_filter;
	struct sfc_list setenv, unsetenv, keep_env;
	char *workdir, *hostname;
	int64_t uid, gid; /* inside; -1 = the caller's */
	bool allow_nested, best_effort;
	enum sfc_seclevel seccomp;
	char *env_profile;              /* [env.NAME] in force, or NULL */
	struct sfc_list blocked_commands; /* program names refused (core/blocked.c) */
	char *audit_log;                /* path, "syslog" or "none"; NULL = $SEFACA_HOME/logs/audit.jsonl */
	bool audit_required;            /* an unwritable log is a setup error */
	char *image;                    /* sefaca-container */
	struct sfc_list volumes, allowed_images;
	struct sfc_origin origin[SFC_K__MAX];

	/* --- the run: filled by the applet --- */
	char **argv;        /* payload command, NULL-terminated */
	char **caller_env;  /* the caller's environment */
	char *cwd;          /* the caller's working directory (physical) */
	char *home;         /* the caller's $HOME, or NULL */
	uid_t caller_uid;
	gid_t caller_gid;
	int *preserve_fds;  /* extra fds passed to the payload */
	size_t npreserve_fds;
};

/* Append ITEM as it is (no splitting, no expansion) to a list of SPEC. */
void sfc_spec_list_add(struct sfc_list *l, const char *item, const struct sfc_origin *o);
void sfc_spec_init(struct sfc_spec *spec);
void sfc_spec_free(struct sfc_spec *spec);
/* Apply one setting.  Errors name the value; the caller adds the origin. */
int sfc_spec_set(struct sfc_spec *spec, enum sfc_key key, const char *value, const struct sfc_origin *o,
		 struct sfc_error *e);
/* Resolve SRC into SPEC (which sfc_spec_init prepared). */
int sfc_spec_resolve(struct sfc_spec *spec, struct sfc_sources *src, struct sfc_error *e);

const char *sfc_level_name(enum sfc_level l);
const char *sfc_net_name(enum sfc_net n);
const char *sfc_dirmode_name(enum sfc_dirmode d);
const char *sfc_seclevel_name(enum sfc_seclevel s);
/* Current value of KEY as text (for --explain); returns a new string. */
char *sfc_spec_value_string(const struct sfc_spec *spec, enum sfc_key key);

#endif

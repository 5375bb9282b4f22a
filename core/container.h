/* Containers: a named, persistent sandbox on an image's layers.
 *
 * A container is a directory $SEFACA_HOME/containers/NAME with
 * config.json (what to run: written once), state.json (what happened:
 * rewritten atomically at every change), upper/ and work/ (the overlay's
 * writable layer) and stdout.log/stderr.log (detached runs).  Nothing runs
 * between containers: a foreground run is supervised by the sefaca process
 * that started it; a detached one by a small monitor process of its own
 * that keeps the logs, applies the restart policy and records the exit. */
#ifndef SFC_CONTAINER_H
#define SFC_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/sandbox.h"
#include "core/spec.h"
#include "core/store.h"

enum sfc_cnet { SFC_CNET_NONE, SFC_CNET_HOST, SFC_CNET_PASTA, SFC_CNET_SLIRP };
const char *sfc_cnet_name(enum sfc_cnet n);
int sfc_cnet_parse(const char *v, enum sfc_cnet *out);

enum sfc_restart { SFC_RESTART_NO, SFC_RESTART_ON_FAILURE, SFC_RESTART_ALWAYS };

/* What `run`/`create` were asked for: the container's config.json. */
struct sfc_cconfig {
	char *name, *id;
	char *image;                /* the reference as given */
	char *image_id;             /* "sha256:..", NULL for host and dir: */
	char *rootfs;               /* dir:ROOTFS, resolved */
	bool host;                  /* image "host" */
	struct sfc_strv layers;     /* layer HEX names, bottom first */
	struct sfc_strv argv;       /* the command; empty: the image's */
	struct sfc_strv entrypoint; /* --entrypoint (replaces the image's) */
	bool has_entrypoint;
	struct sfc_strv env;        /* -e K=V, resolved at create time */
	char *envname;              /* --env=NAME */
	struct sfc_strv volumes;    /* SRC:DST[:ro] */
	struct sfc_strv tmpfs;      /* DST[:SIZE] */
	struct sfc_strv publish;    /* [IP:]HOST:CTR[/tcp|/udp] */
	struct sfc_strv flags;      /* spec flags: "--memory=1g", "--policy=hardened"... */
	char *workdir, *user;
	char *cwd;                  /* mounted at /workspace */
	enum sfc_cnet network;
	bool network_set;           /* given by a flag (else policy / env / default none) */
	bool read_only, rm, detach, tty, no_workspace;
	enum sfc_restart restart;
	int restart_max;            /* on-failure:N (0: unlimited) */
	int64_t created;
};
void sfc_cconfig_free(struct sfc_cconfig *c);

/* state.json */
struct sfc_cstate_rec {
	enum sfc_cstate state;
	pid_t monitor_pid, init_pid;
	uint64_t monitor_start, init_start;
	int64_t started, finished;
	int exit_code;              /* -1: none yet */
	int restarts;
	bool stop_requested;
	char *error;
};

/* The container fields of the audit record (seed 000): filled after each
 * run for the audit writer (core/audit.c) to serialise. */
struct sfc_container_record {
	const char *container_id, *name, *runtime; /* runtime is "sefaca" */
	const char *image, *image_id;
	const struct sfc_strv *volumes;
	const char *network;
	uint64_t memory_limit, pids_limit;
	uint32_t cpu_limit_milli;
	const struct sfc_result *result;           /* exit, duration, max_memory, cpu_time */
};

struct sfc_container {
	struct sfc_store *st;
	struct sfc_cconfig cfg;
	struct sfc_cstate_rec state;
	char *dir;                  /* containers/NAME, RUNDIR/NAME, or NULL: a foreground --rm run
				     * keeps no files; the sandbox registry lists it while it runs */
	struct sfc_container_record record; /* of the last run (record.result -> last) */
	struct sfc_result last;
	bool quiet;
	/* set by the caller: the sources (config files, SEFACA_*) that flags
	 * and the policy / env profile are resolved against */
	struct sfc_sources *src;
	char **caller_env;
	/* sefaca-container build: the config being built, used instead of the
	 * image's (cfg.layers are the layers so far) */
	const struct sfc_image_config *config_override;
	/* what the user should know before it runs (limits not enforced...);
	 * NULL: nothing is said */
	void (*on_note)(const char *msg, void *data);
	void *note_data;
	/* the image as sfc_container_create loaded it, for the first run */
	struct sfc_image *image;
	/* a detached container's monitor, after each run (the audit record) */
	void (*on_run_end)(const struct sfc_container *c, int status, const char *error);
};

/* Create the container directory and config.json from CFG (taken over).
 * Resolves the image (importing it if needed). */
int sfc_container_create(struct sfc_store *st, struct sfc_cconfig *cfg, struct sfc_container *c,
			 const struct sfc_strv *caller_env_unused, struct sfc_error *e);
int sfc_container_open(struct sfc_store *st, const char *name, struct sfc_container *c, struct sfc_error *e);
void sfc_container_close(struct sfc_container *c);
int sfc_container_save_state(struct sfc_container *c, struct sfc_error *e);
/* Re-read state.json and reconcile it with the processes that exist. */
int sfc_container_refresh(struct sfc_container *c, struct sfc_error *e);

/* Run in the foreground: returns the exit status sefaca should use, or
 * < 0 with E filled if nothing could be run. */
int sfc_container_run(struct sfc_container *c, struct sfc_error *e);
/* Start a monitor for it and return once the payload runs (or failed). */
int sfc_container_start_detached(struct sfc_container *c, struct sfc_error *e);
/* Ask it to stop (SIGTERM, then SIGKILL after TIMEOUT_MS); waits. */
int sfc_container_stop(struct sfc_container *c, uint64_t timeout_ms, struct sfc_error *e);
int sfc_container_kill(struct sfc_container *c, int sig, struct sfc_error *e);
/* Run a command in a running container's namespaces, with the same
 * seccomp, capability and rlimit layers.  Returns its exit status. */
int sfc_container_exec(struct sfc_container *c, char **argv, bool tty, struct sfc_error *e);
/* Write the container's root filesystem (its image's layers with its own
 * changes on top) as a tar to OUTPUT ("-": stdout).  Files are owned by
 * root in the tar, as the container sees them. */
int sfc_container_export(struct sfc_container *c, const char *output, struct sfc_error *e);
/* Usage of a running container: resident memory and CPU seconds of its processes. */
int sfc_container_usage(struct sfc_container *c, uint64_t *rss, double *cpu, unsigned *nproc, struct sfc_error *e);

/* A running foreground --rm container has no directory: find it by NAME
 * in the sandbox registry.  Returns 1 and fills the pids if found. */
int sfc_container_find_ephemeral(const char *name, pid_t *supervisor, pid_t *init, struct sfc_error *e);
/* List them: FN(name, command, started) for each. */
int sfc_container_list_ephemeral(void (*fn)(const char *name, const char *command, double started, void *data),
				 void *data, struct sfc_error *e);

/* For the store: load the reconciled info of container NAME; remove one. */
int sfc_container_load_info(const struct sfc_store *st, const char *name, struct sfc_container_info *ci,
			    struct sfc_error *e);
int sfc_container_remove(const struct sfc_store *st, const char *name, bool force, struct sfc_error *e);
/* JSON of config + state (inspect). */
char *sfc_container_json(struct sfc_container *c);

bool sfc_container_name_valid(const char *name);

#endif

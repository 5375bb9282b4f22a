/* The audit log: one JSON object per run, one line each (DESIGN.md
 * "Audit log").
 *
 * A record is appended with one write(2) on a descriptor opened with
 * O_APPEND, under an exclusive flock(2) on the log file, so concurrent
 * runs never interleave or split lines; a short write (disk full) is cut
 * back so no partial line stays.  Whoever rotates the log must rename it
 * while holding the same flock: a writer that finds the path now names
 * another file reopens it.  The sandbox never sees the log: sefaca's home
 * ($SEFACA_HOME: config, logs, images, containers) and a log file kept
 * elsewhere are hidden from it (sfc_audit_protect). */
#ifndef SFC_AUDIT_H
#define SFC_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/error.h"
#include "core/mount.h"
#include "core/sandbox.h"
#include "core/spec.h"

enum sfc_audit_kind { SFC_AUDIT_FILE, SFC_AUDIT_SYSLOG, SFC_AUDIT_NONE };

struct sfc_audit_target {
	enum sfc_audit_kind kind;
	char *path;       /* SFC_AUDIT_FILE */
	bool is_default;  /* $SEFACA_HOME/logs/audit.jsonl */
	char *home;       /* $SEFACA_HOME, NULL if unknown */
	bool required;    /* an unwritable log is a setup error */
};

/* Where records go: SETTING (spec->audit_log: path, "syslog", "none") or,
 * when NULL, $SEFACA_HOME/logs/audit.jsonl; without $SEFACA_HOME and
 * $HOME there is no default and nothing is logged. */
void sfc_audit_target_init(struct sfc_audit_target *t, const char *setting, bool required, char **env,
			   const char *cwd);
void sfc_audit_target_free(struct sfc_audit_target *t);
/* Before the run: create the log's directory (0700) and the file, so the
 * sandbox cannot plant either; with REQUIRED, fail if it cannot be opened
 * for appending. */
int sfc_audit_prepare(const struct sfc_audit_target *t, struct sfc_error *e);
/* Refuse a grant of anything inside $SEFACA_HOME, or of the log file. */
int sfc_audit_check_grants(const struct sfc_audit_target *t, const struct sfc_spec *spec, struct sfc_error *e);
/* Hide $SEFACA_HOME and the log file from the sandbox (entries of
 * SPEC's hide list, before the sandbox is prepared). */
void sfc_audit_protect(const struct sfc_audit_target *t, struct sfc_spec *spec);
/* Append LINE (LEN bytes, ending in '\n') as one record. */
int sfc_audit_append(const struct sfc_audit_target *t, const char *line, size_t len, struct sfc_error *e);
/* The same through FD, the log opened ahead with sfc_audit_open() (or -1);
 * FD is closed.  The lock is taken only for the write. */
int sfc_audit_append_fd(const struct sfc_audit_target *t, int fd, const char *line, size_t len,
			struct sfc_error *e);
/* Open the log file for appending ahead of the record (no lock); -1 if
 * the target is not a file or cannot be opened now. */
int sfc_audit_open(const struct sfc_audit_target *t);
/* Append to the log file PATH (the primitive under sfc_audit_append). */
int sfc_audit_append_file(const char *path, const char *line, size_t len, struct sfc_error *e);

/* A container's run (sefaca-container): seed 000's fields. */
struct sfc_audit_container {
	const char *container_id, *name, *runtime, *image, *image_id, *network;
	const struct sfc_strv *volumes;
	uint64_t memory_limit, pids_limit; /* 0: none */
	uint32_t cpu_limit_milli;
};

/* A make run (sefaca-make): a record per run says how many recipes ran,
 * each in a sandbox of its own; with --audit-recipes, one per recipe
 * names its target. */
struct sfc_audit_make {
	long recipes;         /* the run's record: recipe sandboxes made; -1 in a recipe's */
	const char *target;   /* a recipe's record: its make target ("" for $(shell ...)) */
	bool whole;           /* --whole: recipes were not sandboxed apart */
};

/* What a record says about one run. */
struct sfc_audit_info {
	const char *applet;           /* "run", "shell", "make", "container" */
	const char *id;               /* "r-<hex>" */
	struct timespec start;        /* CLOCK_REALTIME when sefaca started */
	double duration;              /* seconds, monotonic; the run's if it ran */
	char **argv;                  /* the command as given */
	const char *cwd;
	const struct sfc_spec *spec;  /* NULL if resolution failed early */
	const struct sfc_sandbox *sb; /* NULL if no sandbox was prepared */
	struct sfc_strv *sources;     /* config files read */
	int status;                   /* sefaca's exit status */
	const char *error;            /* why the run did not happen, or NULL */
	const struct sfc_violation *extra; /* violations found before the sandbox (blocked command) */
	size_t nextra;
	bool learn;
	const struct sfc_audit_container *container; /* or NULL */
	const struct sfc_audit_make *make;           /* or NULL */
	const struct sfc_result *result; /* the run's result where there is no SB */
};
/* The record as one line ending in '\n'; returns a new string. */
char *sfc_audit_record(const struct sfc_audit_info *a, size_t *len);
/* The same in two steps: what is known once the payload has started
 * (who, what, config, layers) is written into J while it runs, the rest
 * (resources, result, violations) after. */
struct sfc_json;
void sfc_audit_record_head(struct sfc_json *j, const struct sfc_audit_info *a);
char *sfc_audit_record_tail(struct sfc_json *j, const struct sfc_audit_info *a, size_t *len);
/* Record a run made without a session (sefaca-container): to
 * SEFACA_AUDIT_LOG, or the default log.  A is filled by the caller (its
 * start, id and the like may be left empty). */
int sfc_audit_write(struct sfc_audit_info *a, struct sfc_error *e);
/* A new run id "r-" + 16 hex digits. */
void sfc_audit_new_id(char buf[20]);
/* The user name of UID from /etc/passwd (no NSS), or NULL. */
char *sfc_audit_user_name(uid_t uid);

#endif

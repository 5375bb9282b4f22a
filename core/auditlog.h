/* Streaming reader of the audit log: $SEFACA_HOME/logs/audit.jsonl and its
 * rotations (audit.jsonl.1, audit.jsonl.2.gz, ...), one JSON object per
 * line (DESIGN.md "Audit log").
 *
 * Records are not built into a tree: a small hand-written scanner
 * validates each line completely (strings with their escapes, numbers,
 * literals, nesting up to SFC_JSON_MAX_DEPTH) and keeps, as spans into the
 * line, only the fields sefaca-stats and sefaca-clean use.  A line that is
 * not one well-formed JSON object is counted and skipped, never trusted in
 * part.  Memory is constant: one line buffer (grown up to
 * SFC_AUDITLOG_MAX_LINE) and the caller's per-record work.
 *
 * Rotation protocol (shared with the writer, core/audit.c, and with
 * sefaca-clean): writers open audit.jsonl with O_APPEND, take flock(LOCK_EX)
 * on it, and write one record with one write(2).  A rotation takes the same
 * lock on the active file, renames audit.jsonl.N -> .N+1 (newest first)
 * and audit.jsonl -> audit.jsonl.1, creates a new audit.jsonl, and only
 * then releases the lock.  A writer that opened the old file before the
 * rename must, after getting its lock, check that its descriptor is still
 * the file at the path (sfc_auditlog_open_locked() does that) and reopen
 * otherwise; a writer that does not check puts its record in
 * audit.jsonl.1, which sefaca-clean drains (it takes that file's lock too)
 * before it rewrites or compresses it.
 */
#ifndef SFC_AUDITLOG_H
#define SFC_AUDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/util.h"

#define SFC_JSON_MAX_DEPTH 32
#define SFC_AUDITLOG_MAX_LINE (16u << 20) /* longer lines are counted as corrupt */
#define SFC_AUDIT_MAX_VIOL 32              /* violations kept per record (all are counted) */
#define SFC_AUDITLOG_NAME "audit.jsonl"

/* A JSON string as it appears in the line, without its quotes.  ESC: it
 * holds backslash escapes and must be decoded (sfc_json_unescape). */
struct sfc_span {
	const char *p;
	uint32_t n;
	bool esc;
};

static inline bool sfc_span_set(const struct sfc_span *s) { return s->p != NULL; }

/* The fields of one record that are read.  Missing fields: spans unset,
 * numbers < 0 (or has_* false). */
struct sfc_audit_rec {
	const char *line; /* the whole line (no newline) */
	size_t len;
	double ts;        /* "timestamp" as seconds since the epoch; < 0 if missing or bad */
	struct sfc_span timestamp, id, applet, user, cwd, image, name;
	struct sfc_span level, preset, policy, network; /* "config" */
	struct sfc_span command;   /* raw array (with brackets) or the string */
	struct sfc_span cmd0;      /* command[0], or the command string */
	bool command_is_array;
	uint32_t argc;
	double max_memory;         /* bytes; "resources" (or seed 000's "stats") */
	double cpu_time;           /* seconds */
	double pids_peak;
	bool has_exit_code, has_status, ran_known, ran;
	int exit_code;             /* "result" (or top level, seed 000) */
	int status;                /* sefaca's own exit status when the writer gives it */
	int signal;                /* 0 if none */
	double duration;           /* seconds */
	bool timed_out, oom_killed;
	uint32_t nviol;            /* all violations of the record */
	struct {
		struct sfc_span kind;  /* "violation" (seed 001) or "kind" */
		struct sfc_span raw;   /* the whole object, for details */
	} viol[SFC_AUDIT_MAX_VIOL];
};

/* Parse one line.  0: a JSON object (whatever its keys); -1: not
 * well-formed JSON, or not an object (WHY says what, for the warning). */
int sfc_audit_parse(const char *line, size_t len, struct sfc_audit_rec *r, const char **why);

/* Decode S (escapes, \uXXXX with surrogate pairs -> UTF-8) into OUT
 * (always NUL-terminated, truncated to SIZE-1 bytes).  Returns the length. */
size_t sfc_json_unescape(const struct sfc_span *s, char *out, size_t size);
/* The string value of KEY in the JSON object OBJ (a raw span such as a
 * violation), decoded into OUT; numbers and literals are copied as
 * written.  Returns false when absent or null. */
bool sfc_json_object_get(const struct sfc_span *obj, const char *key, char *out, size_t size);
/* Append S as a JSON string (with quotes) to the buffer. */
struct sfc_buf {
	char *p;
	size_t n, cap;
};
void sfc_buf_add(struct sfc_buf *b, const char *s, size_t n);
void sfc_buf_addf(struct sfc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sfc_buf_json_str(struct sfc_buf *b, const char *s);
void sfc_buf_free(struct sfc_buf *b);

/* "2026-11-22T19:30:00.123Z", "...+02:00": seconds since the epoch, or -1. */
double sfc_parse_iso8601(const char *s, size_t n);
/* Seconds since the epoch as "2026-11-22T19:30:00.123Z". */
void sfc_format_iso8601(double t, char *buf, size_t size);

struct sfc_auditlog_counts {
	uint64_t files, bytes, lines, records, corrupt, truncated, skipped_files;
};

struct sfc_auditlog_reader {
	/* Called for every well-formed record; a negative return stops the read. */
	int (*record)(const struct sfc_audit_rec *r, void *data);
	/* Called for every skipped line (corrupt, too long, truncated) and
	 * unreadable file; LINENO 0 for a whole file. */
	void (*warn)(const char *file, uint64_t lineno, const char *why, void *data);
	/* Optional: called with every corrupt line (sefaca-clean keeps them). */
	int (*corrupt_line)(const char *line, size_t len, void *data);
	void *data;
	struct sfc_auditlog_counts n;
};

/* The log files of DIR, oldest first: BASE.N[.gz] from the highest N
 * down, then BASE itself (BASE is usually "audit.jsonl").  A missing
 * directory is an empty list. */
int sfc_auditlog_files(const char *dir, const char *base, struct sfc_strv *out, struct sfc_error *e);
/* Read one file (gzip when its name ends in .gz).  ACTIVE: the file is
 * being appended to, so a last line without its newline is a record in
 * the middle of its write(2): left alone, not counted as truncated. */
int sfc_auditlog_read_file(struct sfc_auditlog_reader *rd, const char *path, bool active, struct sfc_error *e);
/* Read every file of DIR in order (BASE and its rotations). */
int sfc_auditlog_read_dir(struct sfc_auditlog_reader *rd, const char *dir, const char *base, struct sfc_error *e);
/* The command of R as one line: array elements decoded and joined by
 * spaces (an element with a blank or a quote is quoted). */
void sfc_audit_command_string(const struct sfc_audit_rec *r, char *out, size_t size);
/* Can .gz rotations be read by this build (FEATURE_ZLIB)? */
bool sfc_auditlog_gzip_supported(void);

/* $SEFACA_HOME (default ~/.sefaca) and its logs directory, newly allocated. */
char *sfc_home_dir(void);
char *sfc_auditlog_dir(void);

/* Open PATH for appending and hold flock(LOCK_EX) on the file that is at
 * PATH once the lock is held (reopening after a rotation renamed it away).
 * Returns the descriptor or -errno.  CREATE: create it 0600 if missing. */
int sfc_auditlog_open_locked(int dirfd, const char *name, bool create, struct sfc_error *e);

#endif

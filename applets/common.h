/* Helpers shared by the applets: messages, exits, and the sandbox options
 * that sefaca-run, sefaca-shell and sefaca-make all accept. */
#ifndef SFC_APPLET_COMMON_H
#define SFC_APPLET_COMMON_H

#include <stdbool.h>
#include <stdnoreturn.h>

#include "core/error.h"
#include "core/spec.h"

extern const char *sfc_applet; /* "sefaca-run", for messages */

void sfc_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void sfc_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
noreturn void sfc_die_error(const struct sfc_error *e);
/* Bad usage: one line and a hint, exit 125. */
noreturn void sfc_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Options of a sandboxed run. */
struct sfc_runopts {
	struct sfc_sources src;   /* flags and SEFACA_* settings */
	bool help, quiet;
	int *preserve_fds;
	size_t npreserve_fds;
	/* configuration, explanation and audit (core/session.h) */
	struct sfc_strv configs;  /* --config=FILE... */
	bool no_config;           /* --no-config */
	bool explain, dry_run, json; /* --explain, --dry-run, --json */
	bool learn;               /* --learn, --audit-only */
	int status_fd;            /* --json-status-fd=FD, -1 if none (0 until parsed: see has_status_fd) */
	bool has_status_fd;
	bool report_writes;       /* set by the applet: report writes refused by read-only mounts */
	/* unknown to the shared parser: the caller's own options come back here */
};

/* Parse sandbox options from ARGV starting at *I; stop at "--" (consumed),
 * at the first non-option, or at an option this parser does not know when
 * STOP_AT_UNKNOWN (the caller handles it), else that is a usage error. */
int sfc_runopts_parse(struct sfc_runopts *o, int argc, char **argv, int *i, bool stop_at_unknown);
void sfc_runopts_free(struct sfc_runopts *o);
/* Fill the "who and where" part of SPEC from this process. */
int sfc_spec_from_process(struct sfc_spec *spec, char **argv, struct sfc_error *e);
/* Print the notes a plan or spec produced (unless quiet). */
void sfc_print_notes(const struct sfc_strv *notes, bool quiet);
/* One line per violation of a run (unless quiet). */
struct sfc_result;
void sfc_print_violations(const struct sfc_result *res, bool quiet);
/* `sefaca check` and `sefaca-run --check`: print the preflight table (or
 * JSON); returns the exit status (0 full sandbox, 1 best effort only, 2 none). */
int sfc_check_print(bool json);

/* Everything after option parsing for a command run in a sandbox: config
 * files, SEFACA_* variables, flags, resolution, blocked commands,
 * --explain/--dry-run, the run, violation notes, the audit record and
 * --json-status-fd.  APPLET names the record's applet ("run").  Returns
 * the exit status; a setup error is recorded, printed and exits 125. */
struct sfc_session;
int sfc_run_command(struct sfc_runopts *o, const char *applet, char **cmd);
/* The same in steps, for applets that change the sandbox between them
 * (sefaca-shell, -make, -container): resolve and prepare, or record,
 * print and exit on failure; --explain/--dry-run are handled here. */
void sfc_run_setup(struct sfc_runopts *o, struct sfc_session *s, const char *applet, char **cmd);
/* Run S and finish: notes, record, status.  Returns the exit status. */
int sfc_run_finish(struct sfc_runopts *o, struct sfc_session *s);

#endif

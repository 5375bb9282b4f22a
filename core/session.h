/* One accountable sandboxed run, the sequence every applet that runs a
 * command shares (sefaca-run, -shell, -make, -container):
 *
 *   sfc_session_resolve()  config files + SEFACA_* + flags -> spec;
 *                          blocked commands; where the audit record goes
 *   sfc_session_prepare()  the sandbox's view, environment and layers;
 *                          sefaca's own state hidden; violation reports
 *   sfc_session_run()      run it
 *   sfc_session_audit()    one record, whatever happened, to the log and
 *                          to --json-status-fd
 *
 * Each step returns < 0 with E filled on failure; the applet prints and
 * exits (see sfc_run_command in applets/common.c), after calling
 * sfc_session_audit() so that failed setups are recorded too. */
#ifndef SFC_SESSION_H
#define SFC_SESSION_H

#include <stdbool.h>
#include <time.h>

#include "core/audit.h"
#include "core/error.h"
#include "core/json.h"
#include "core/notify.h"
#include "core/registry.h"
#include "core/sandbox.h"
#include "core/spec.h"

struct sfc_session {
	/* set by the applet before resolve */
	const char *applet;        /* "run": the record's applet field */
	struct sfc_sources *src;   /* flags already parsed into src->flags */
	char **configs;            /* --config=FILE..., NULL-terminated or NULL */
	bool no_config;            /* --no-config */
	bool learn;                /* --learn / --audit-only */
	bool no_reports;           /* plain seccomp filter, no user notification */
	bool report_writes;        /* report writes refused by read-only mounts too (core/observe.h) */
	const struct sfc_audit_make *make; /* sefaca-make's part of the record, or NULL */

	/* filled by the steps */
	struct sfc_spec spec;
	struct sfc_sandbox sb;
	struct sfc_notify notify;
	struct sfc_audit_target audit;
	struct sfc_strv sources;   /* config files read */
	struct sfc_reg reg;        /* the registry entry while it runs (sefaca-stats --live);
				    * set reg.name before sfc_session_run for a container */
	struct sfc_violation blocked;
	bool has_blocked;
	bool resolved, prepared, ran;
	/* the record's head, built while the payload runs, and the log opened
	 * then: the end of a run only finishes and writes it */
	struct sfc_json head;
	bool have_head;
	int log_fd;
	void (*chained_start)(struct sfc_sandbox *sb, void *data); /* the applet's own on_start */
	void *chained_data;
	char id[20];
	struct timespec start;
	double t0;
};

void sfc_session_init(struct sfc_session *s, const char *applet, struct sfc_sources *src);
/* ARGV: the command (one argument is a shell line). */
int sfc_session_resolve(struct sfc_session *s, char **argv, struct sfc_error *e);
int sfc_session_prepare(struct sfc_session *s, struct sfc_error *e);
int sfc_session_run(struct sfc_session *s, struct sfc_error *e);
/* Write the record of this run (STATUS: sefaca's exit status; ERROR: why
 * it did not run, or NULL) to the audit log, and to STATUS_FD if >= 0.
 * Returns < 0 with E filled if the log could not be written. */
int sfc_session_audit(struct sfc_session *s, int status, const char *error, int status_fd, struct sfc_error *e);
void sfc_session_free(struct sfc_session *s);
/* A run that failed before a session existed (a bad option): record it
 * where SEFACA_AUDIT_LOG or the default says. */
int sfc_session_record_failure(const char *applet, char **argv, const char *error, struct sfc_error *e);

#endif

/* What sefaca-make borrows from sefaca-shell: running a command in a
 * sandbox whose supervisor also serves the broker (so that the recipes of
 * a make inside get sandboxes of their own), with reports that name the
 * make target. */
#ifndef SFC_APPLET_SHELL_H
#define SFC_APPLET_SHELL_H

#include <stdbool.h>
#include <stdint.h>

#include "applets/common.h"
#include "core/audit.h"
#include "core/sandbox.h"

struct sfc_session;
struct sfc_pty;

struct sfc_shell_run {
	struct sfc_runopts *o;
	struct sfc_session *s;      /* set up (sfc_run_setup) */
	struct sfc_pty *pty;        /* interactive: relay this pty, or NULL */
	bool quiet;
	bool audit_recipes;         /* a record per command run through the broker */
	uint64_t recipe_timeout_ms; /* their own timeout, if RECIPE_TIMEOUT_SET */
	bool recipe_timeout_set;
	struct sfc_audit_make *make; /* sefaca-make's part of the run's record, or NULL */
	/* filled by the run */
	unsigned long requests;     /* commands run through the broker (recipes, $(shell ...)) */
};

/* Run S with a broker; print what the sandbox refused; write the record.
 * Returns the exit status. */
int sfc_shell_finish(struct sfc_shell_run *r);

/* Pass the jobserver of the make that runs us into the sandbox: its
 * descriptors (SPEC, after sfc_run_setup), a make 4.4 named pipe as a grant
 * (SRC, before). */
void sfc_shell_pass_jobserver(struct sfc_spec *spec, struct sfc_sources *src);

/* Print what the sandbox refused, naming the make target if there is one. */
void sfc_shell_report(const struct sfc_result *res, const char *target, bool quiet);

#endif

/* What sefaca-make borrows from sefaca-shell: running a command in a
 * sandbox whose supervisor also serves the broker (so that the recipes of
 * a make inside get sandboxes of their own). */
#ifndef SFC_APPLET_SHELL_H
#define SFC_APPLET_SHELL_H

#include <stdbool.h>

#include "applets/common.h"
#include "core/sandbox.h"

struct sfc_shell_run {
	struct sfc_spec *spec;    /* resolved; argv set */
	bool quiet;
	/* filled by the run, for sefaca-make's summary */
	unsigned long requests;   /* commands served through the broker */
};

/* Run SPEC's command in a sandbox with a broker; returns the exit status
 * (messages already printed). */
int sfc_shell_run_brokered(struct sfc_shell_run *r);

/* Pass the jobserver of the make that runs us into the sandbox (its
 * descriptors, or a make 4.4 named pipe as a grant in SRC). */
void sfc_shell_pass_jobserver(struct sfc_spec *spec, struct sfc_sources *src);

/* Print what the sandbox refused, naming the make target if there is one. */
void sfc_shell_report(const struct sfc_result *res, const char *target, bool quiet);

#endif

/* `sefaca check` / `sefaca-run --check`: try each isolation layer on this
 * machine and say what is there, what is not, and how to get it.  Every
 * probe is read-only for the host (namespaces made and dropped, a scratch
 * directory under $TMPDIR; never a write to the host's cgroups). */
#ifndef SFC_CHECK_H
#define SFC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

enum sfc_check_status {
	SFC_CHECK_OK,      /* works */
	SFC_CHECK_PARTIAL, /* works, with less than the newest kernels give */
	SFC_CHECK_MISSING, /* a layer sefaca uses is not available */
	SFC_CHECK_ABSENT,  /* an optional tool is not installed */
};

struct sfc_check_item {
	const char *layer;
	enum sfc_check_status status;
	char detail[512];
	char fix[512]; /* empty when nothing is to be done */
};

struct sfc_check {
	struct sfc_check_item items[16];
	size_t n;
	bool full;        /* sefaca-run can build its full sandbox here */
	bool best_effort; /* or at least its no-namespace fallback (--best-effort) */
};

void sfc_check_run(struct sfc_check *c);
const char *sfc_check_status_name(enum sfc_check_status s);
/* The table (or a JSON object) as text; a new string. */
char *sfc_check_format(const struct sfc_check *c, bool json);

#endif

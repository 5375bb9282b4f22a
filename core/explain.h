/* --explain, --dry-run and --explain --json: the resolved settings, each
 * with where it came from (built-in level or profile, FILE:LINE, SEFACA_*
 * variable, flag), and what this kernel and this build put in force. */
#ifndef SFC_EXPLAIN_H
#define SFC_EXPLAIN_H

#include <stdbool.h>

#include "core/audit.h"
#include "core/notify.h"
#include "core/sandbox.h"
#include "core/spec.h"

struct sfc_explain {
	const char *applet;                   /* "sefaca-run" */
	const struct sfc_spec *spec;
	const struct sfc_sandbox *sb;         /* prepared; NULL if preparing failed */
	const char *error;                    /* why it could not be prepared, or NULL */
	const struct sfc_strv *sources;       /* config files read */
	const struct sfc_audit_target *audit;
	bool learn;
};

/* Text for people; a new string. */
char *sfc_explain_text(const struct sfc_explain *x);
/* One JSON object (with a trailing newline); a new string. */
char *sfc_explain_json(const struct sfc_explain *x);

/* What the kernel offers, probed without side effects. */
struct sfc_kernel_probe {
	const char *userns_blocked; /* why unprivileged user namespaces are not available, or NULL */
	int seccomp;                /* 1 filter mode available, 0 no */
	bool seccomp_notify;        /* user notification (5.0+) */
	int landlock_abi;           /* 0 none */
	bool cgroup2;               /* /sys/fs/cgroup is cgroup v2 */
};
void sfc_kernel_probe(struct sfc_kernel_probe *k, char *why, size_t len);

#endif

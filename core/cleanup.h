/* What sefaca-clean (and `sefaca-container clean`) removes, and how.
 *
 * Everything is removed through sfc_clean_remove_at(): a walk with
 * openat(O_NOFOLLOW|O_DIRECTORY) and unlinkat() from a directory
 * descriptor of sefaca's own, so a symlink planted anywhere in the store is
 * removed as a link and never followed, and a mount point (a running
 * container's rootfs, a bind mount) is never crossed.
 *
 * Ownership of the parts:
 *   state       this file: stale registrations (core/registry.h) and
 *               temporary entries (see SFC_CLEAN_TMP_PREFIX)
 *   logs        this file: audit log rotation (core/auditlog.h protocol)
 *   cgroups     the limits code provides sfc_clean_cgroup_leaves(); the
 *               weak default here reports "not checked"
 *   containers  sefaca-container provides sfc_clean_containers() and
 *   images      sfc_clean_images(); the weak defaults here fail closed
 *               (ENOTSUP) naming what is not compiled in
 */
#ifndef SFC_CLEANUP_H
#define SFC_CLEANUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* Temporary entries (extraction dirs, half-written state) are named
 * ".tmp-PID-ANYTHING" (or ".tmp-PID") directly under $SEFACA_HOME/tmp,
 * $SEFACA_HOME/images or $SEFACA_HOME/containers, PID being the process
 * that made them; they are removed once that process is gone. */
#define SFC_CLEAN_TMP_PREFIX ".tmp-"

struct sfc_clean_report {
	bool dry_run;
	uint64_t bytes;   /* freed (or that would be) */
	uint64_t items;
	unsigned errors;
	/* One line per item removed (or that would be); WHAT is the category. */
	void (*item)(const char *what, const char *path, uint64_t bytes, void *data);
	/* Something that could not be removed, or was left on purpose. */
	void (*note)(const char *what, const char *msg, void *data);
	void *data;
};

/* Remove NAME under DIRFD (a file, a symlink, or a whole tree), never
 * following symlinks and never crossing into another filesystem; in a dry
 * run only measure.  Bytes are allocated blocks of files with no other
 * link.  DISPLAY names it in the report. */
int sfc_clean_remove_at(int dirfd, const char *name, const char *what, const char *display,
			struct sfc_clean_report *rep, struct sfc_error *e);
/* Disk usage of NAME under DIRFD the same way (no removal). */
uint64_t sfc_clean_usage_at(int dirfd, const char *name);

/* Is PID a running process? */
bool sfc_clean_pid_alive(int pid);

/* Stale registrations of dead supervisors in the registry directory, and
 * temporary entries of dead processes under HOME. */
int sfc_clean_state(const char *home, struct sfc_clean_report *rep, struct sfc_error *e);
/* Audit records older than CUTOFF (seconds since the epoch) in the log
 * BASE of DIR and its rotations: the active log is rotated under the
 * writers' lock, never truncated; rotated files are then dropped or
 * rewritten (temp + rename) without their old records; rotations .2 and
 * up are gzip-compressed when zlib is compiled in. */
int sfc_clean_logs(const char *dir, const char *base, double cutoff, struct sfc_clean_report *rep,
		   struct sfc_error *e);

/* Hooks of other parts (weak defaults in core/cleanup.c). */
int sfc_clean_cgroup_leaves(struct sfc_clean_report *rep, struct sfc_error *e);
bool sfc_clean_containers_available(void);
/* Stopped containers (never a running one) and their upper dirs. */
int sfc_clean_containers(const char *home, struct sfc_clean_report *rep, struct sfc_error *e);
/* Images and layers no image or container refers to. */
int sfc_clean_images(const char *home, struct sfc_clean_report *rep, struct sfc_error *e);

#endif

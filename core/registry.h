/* Registry of running sandboxes, without a daemon.
 *
 * Each supervisor writes one small JSON record, PID.json, into the
 * registry directory when its payload starts (write to .PID.tmp, then
 * rename: readers never see half a record) and removes it when the run
 * ends.  A supervisor killed with SIGKILL leaves its record behind: it is
 * "stale" when no process has that pid any more, or when the process that
 * has it started after the record was written (the pid was reused).  The
 * record keeps the registration time on CLOCK_BOOTTIME, the clock of the
 * start times in /proc/PID/stat, so the test needs no extra system call
 * at registration.
 *
 * Directory: $XDG_RUNTIME_DIR/sefaca/sandboxes.  Without XDG_RUNTIME_DIR:
 * /run/user/UID/sefaca/sandboxes when /run/user/UID is ours (pam_systemd
 * made it, the variable was lost by su, cron or env -i), else
 * $SEFACA_HOME/run/sandboxes.  Never a shared /tmp path: another user
 * could pre-create it (symlink or squatting attacks on a predictable
 * name).  The last one survives reboots; a record older than the boot is
 * stale whatever its pid says.
 */
#ifndef SFC_REGISTRY_H
#define SFC_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

struct sfc_sandbox;

/* What a running sandbox says about itself. */
struct sfc_reg_entry {
	pid_t pid;           /* the supervisor (sefaca-run...) */
	pid_t init_pid;      /* the sandbox's init (its pid 1), host pid */
	uint64_t boot_ns;    /* CLOCK_BOOTTIME at registration */
	double started;      /* CLOCK_REALTIME at registration, seconds */
	char applet[32];     /* "run", "shell", "container"... */
	char name[64];       /* container name, or "" */
	char cgroup[256];    /* cgroup v2 path of the sandbox's own leaf, "" if none */
	char command[512];   /* the command line, truncated */
	char file[64];       /* the record's file name */
};

/* A registration in progress, owned by the applet. */
struct sfc_reg {
	char path[4096];     /* the record file, "" when not registered */
	const char *applet;  /* for sfc_registry_on_start */
	const char *name;
	struct sfc_error err; /* why the registration failed, if it did */
};

/* The registry directory (see above), newly allocated; NULL with E when
 * there is no usable one. */
char *sfc_registry_dir(struct sfc_error *e);

/* Register SB (its supervisor is this process): fills REG.  Best effort by
 * design: a registry that cannot be written does not stop a sandbox (the
 * live view then does not list it); the error says why. */
int sfc_registry_add(struct sfc_reg *reg, const struct sfc_sandbox *sb, const char *applet, const char *name,
		     const char *cgroup, struct sfc_error *e);
void sfc_registry_remove(struct sfc_reg *reg);
/* An on_start hook for struct sfc_sandbox: DATA is a struct sfc_reg with
 * applet (and name) set; a failure is kept in its err. */
void sfc_registry_on_start(struct sfc_sandbox *sb, void *data);

/* Is the process PID still the one that registered at BOOT_NS?  1 yes,
 * 0 no (gone, or the pid was reused), with START_TICKS (its start time in
 * clock ticks since boot) when it exists. */
int sfc_registry_alive(pid_t pid, uint64_t boot_ns);

/* Read every record; calls FN for each that parses (live or not) with
 * LIVE set.  Unparsable files are passed with LIVE false and a zeroed
 * entry (apart from file and pid from the name). */
int sfc_registry_scan(const char *dir, int (*fn)(const struct sfc_reg_entry *en, bool live, void *data), void *data,
		      struct sfc_error *e);

/* Parse one record. */
int sfc_registry_parse(const char *text, size_t len, struct sfc_reg_entry *en);

/* Usage of running sandboxes, for sefaca-stats --live and
 * sefaca-container stats.  One snapshot of /proc serves every sandbox of
 * a refresh. */
struct sfc_proc_info {
	pid_t pid, ppid;
	uint64_t cpu_ticks;  /* utime + stime */
	uint64_t rss_pages;
	uint32_t threads;
};
struct sfc_proc_snap {
	struct sfc_proc_info *p; /* sorted by pid */
	size_t n;
};
int sfc_proc_snapshot(struct sfc_proc_snap *s, struct sfc_error *e);
void sfc_proc_snapshot_free(struct sfc_proc_snap *s);

struct sfc_usage {
	uint64_t cpu_ns;     /* CPU time used so far by the sandbox */
	uint64_t mem_bytes;  /* memory.current, or the sum of RSS */
	uint32_t pids;       /* tasks (threads included) */
	char source[16];     /* "cgroup", "proc", or "cgroup+proc" */
	char cgroup[256];    /* the leaf that was read, "" if none */
};
/* Usage of the sandbox EN: from its cgroup leaf when it has one (the
 * recorded leaf, or its init's cgroup v2 path when that differs from the
 * supervisor's), otherwise the sum over its init's process tree in S. */
void sfc_usage_of(const struct sfc_reg_entry *en, const struct sfc_proc_snap *s, struct sfc_usage *u);

#endif

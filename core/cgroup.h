/* Resource limits on cgroup v2, where a writable delegated subtree exists.
 *
 *   sfc_cgroup_plan()     (prepare) is a leaf possible?  which controllers,
 *                         or ask systemd for a scope, or why not
 *   sfc_cgroup_create()   (run, before clone) make the leaf, write limits
 *   sfc_cgroup_attach()   (run, only without clone3) move init into it
 *   sfc_cgroup_collect()  (run, after) oom kills and usage from the kernel
 *   sfc_cgroup_destroy()  cgroup.kill, rmdir
 *
 * Naming scheme (sefaca-clean and sfc_cgroup_sweep() rely on it): every
 * directory sefaca creates in a cgroup hierarchy is named
 *
 *   sefaca-<PID>-<START>-<N>     the sandbox's leaf: its limits live here
 *   sefaca-<PID>-<START>-<N>/payload   the sandbox's processes (its
 *                                cgroup namespace root, see SECURITY.md 9)
 *   sefaca-<PID>-<START>-sup     the supervisor itself, only when sefaca
 *                                had to leave its own cgroup to use it
 *                                (alone in a delegated scope)
 *
 * where PID is the supervisor's pid and START its start time (field 22 of
 * /proc/PID/stat, clock ticks since boot), N a counter within that process.
 * Such a directory is stale when its cgroup.events says "populated 0" and
 * no process PID with start time START exists: then it (payload first) can
 * be removed with rmdir(2).  Leaves live directly in the delegated base
 * (the caller's cgroup or its parent), never deeper.
 */
#ifndef SFC_CGROUP_H
#define SFC_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/spec.h"
#include "core/util.h"

enum sfc_cgmode { SFC_CGROUP_AUTO, SFC_CGROUP_SYSTEMD, SFC_CGROUP_NONE };

/* Controllers, as a mask. */
#define SFC_CG_MEMORY 0x1u
#define SFC_CG_PIDS 0x2u
#define SFC_CG_CPU 0x4u
#define SFC_CG_IO 0x8u

/* Set in the environment of the re-executed sefaca inside systemd's scope
 * (so it does not ask again). */
#define SFC_CGROUP_SCOPE_ENV "SEFACA_CGROUP_SCOPE"

struct sfc_cgroup {
	bool active;         /* the sandbox gets a leaf */
	bool reexec;         /* ask systemd's user manager for a delegated scope first */
	bool in_scope;       /* we are the re-executed sefaca in such a scope */
	bool evacuate;       /* leave our own cgroup first (alone in it) */
	bool attach_by_pid;  /* clone3 unavailable: init is moved after clone */
	unsigned controllers;  /* what the leaf uses (limits and figures) */
	unsigned enable;       /* to enable in base/cgroup.subtree_control */
	unsigned enabled;      /* ... that we did enable (undone on evacuation) */
	unsigned cgroup_limits; /* limits the cgroup enforces: rlimits skip those */
	char *self;          /* our cgroup directory */
	char *base;          /* where the leaf goes */
	char *leaf, *inner, *sup;
	int inner_fd;        /* inner, for CLONE_INTO_CGROUP */
	size_t mnt_len;      /* length of the cgroup2 mount point prefix of the paths */
	char why[320];       /* why there is no cgroup (notes, --explain) */
};

struct sfc_result;
struct sfc_layers;

void sfc_cgroup_init(struct sfc_cgroup *cg);
void sfc_cgroup_free(struct sfc_cgroup *cg);
/* Decide how the spec's limits are enforced; fills L->limits, L->cgroup,
 * L->limits_detail and one NOTE line for limits that will not be enforced
 * as asked.  Fails (exit 125) when --require-limits or --cgroup=systemd
 * cannot be honoured.  Costs nothing when no limit was asked for. */
int sfc_cgroup_plan(struct sfc_cgroup *cg, const struct sfc_spec *s, struct sfc_layers *l, struct sfc_strv *notes,
		    struct sfc_error *e);
/* Re-execute this process under `systemd-run --user --scope -p Delegate=yes`;
 * returns only on failure. */
int sfc_cgroup_reexec(struct sfc_cgroup *cg, struct sfc_error *e);
int sfc_cgroup_create(struct sfc_cgroup *cg, const struct sfc_spec *s, struct sfc_error *e);
int sfc_cgroup_attach(struct sfc_cgroup *cg, pid_t pid, struct sfc_error *e);
/* Kill everything in the leaf (cgroup.kill). */
void sfc_cgroup_kill(struct sfc_cgroup *cg);
/* OOM kills, peak memory, CPU time and peak pids into RES. */
void sfc_cgroup_collect(struct sfc_cgroup *cg, const struct sfc_spec *s, struct sfc_result *res);
/* Kill what is left, remove the leaf; returns -errno if it stays. */
int sfc_cgroup_destroy(struct sfc_cgroup *cg);

/* For `sefaca check`: would a run asking for memory, pids and cpu limits
 * get a cgroup leaf here (read-only: nothing is written)?  Returns 0 yes,
 * 1 partly, 2 no; DETAIL says where or why, FIX how to get it. */
int sfc_cgroup_check(char *detail, size_t dlen, char *fix, size_t flen);

/* The leaf relative to the cgroup2 mount ("/u1000/sefaca-1-2-0"), or NULL. */
const char *sfc_cgroup_leaf_rel(const struct sfc_cgroup *cg);

/* Remove stale sefaca directories (see the naming scheme above) in DIR,
 * or, with DIR NULL, in the places this process would create leaves.
 * Names what it removed (or would, with DRY_RUN) in REMOVED.  Returns the
 * number of stale directories or -errno. */
int sfc_cgroup_sweep(const char *dir, bool dry_run, struct sfc_strv *removed, struct sfc_error *e);

/* ---- pure helpers (unit tested) ---- */
/* The cgroup v2 path in /proc/self/cgroup text ("0::/a/b"), or NULL. */
const char *sfc_cgroup_parse_self(const char *text, char *out, size_t len);
/* "cpu memory pids" -> mask */
unsigned sfc_cgroup_parse_controllers(const char *text);
/* "+memory +pids" for a mask */
void sfc_cgroup_format_controllers(unsigned mask, const char *prefix, char *buf, size_t len);
/* cpu.max for thousandths of a CPU: "50000 100000" */
void sfc_cgroup_cpu_max(uint32_t milli, char *buf, size_t len);
/* Check an io_max item "DEVICE KEY=VALUE..." (DEVICE: MAJ:MIN or a path;
 * KEY: rbps wbps riops wiops; VALUE: a size, a count or "max").  With OUT,
 * write the io.max line ("8:0 rbps=1048576"), resolving a device path. */
int sfc_cgroup_io_max_line(const char *item, char *out, size_t len, struct sfc_error *e);
/* Parse a sefaca directory name: "sefaca-PID-START-N" or "-sup". */
bool sfc_cgroup_name_parse(const char *name, pid_t *pid, unsigned long long *start);
/* Field 22 of /proc/PID/stat (start time in ticks), 0 if none. */
unsigned long long sfc_proc_starttime(pid_t pid);

#endif

/* The filesystem view: a plan of mount operations computed by the
 * supervisor from the spec (host paths resolved there, symlink traps
 * refused), and carried out by the sandbox's first process in its new
 * mount namespace, ending with pivot_root into the new root. */
#ifndef SFC_MOUNT_H
#define SFC_MOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/spec.h"
#include "core/util.h"

enum sfc_mop_kind {
	SFC_MOP_BIND,    /* src (host, real path) -> dst */
	SFC_MOP_TMPFS,   /* empty tmpfs at dst */
	SFC_MOP_HIDE,    /* dst hidden behind an empty read-only file or directory */
	SFC_MOP_SYMLINK, /* dst -> src (symlink text) */
	SFC_MOP_PROC,    /* fresh /proc with sensitive entries masked */
	SFC_MOP_SYS,     /* read-only /sys */
	SFC_MOP_DEV,     /* minimal /dev: null zero full random urandom tty, devpts, shm */
	SFC_MOP_DIR,     /* an empty directory */
};

#define SFC_MOP_RO 0x1         /* read-only (recursively) */
#define SFC_MOP_NOREC 0x2      /* bind without submounts */
#define SFC_MOP_FINAL_RO 0x4   /* tmpfs made read-only once everything below it is mounted */
#define SFC_MOP_DEVICES 0x8    /* keep device nodes usable (no nodev) */
#define SFC_MOP_OPTIONAL 0x10  /* skip quietly if the source is missing */

struct sfc_mop {
	enum sfc_mop_kind kind;
	unsigned flags;
	char *src, *dst;
	uint64_t size;   /* tmpfs size, 0 = kernel default */
	unsigned mode;   /* tmpfs/dir mode */
	char *why;       /* for --explain: "system", "home", "grant", "secret store"... */
};

enum sfc_root_kind { SFC_ROOT_TMPFS, SFC_ROOT_HOST, SFC_ROOT_DIR, SFC_ROOT_OVERLAY };

struct sfc_mount_plan {
	enum sfc_root_kind root;
	bool root_ro;
	char *root_dir;            /* SFC_ROOT_DIR: host path of a rootfs */
	struct sfc_strv lowerdirs; /* SFC_ROOT_OVERLAY: host paths, top first */
	char *upperdir, *ovl_workdir;
	bool upper_tmpfs;          /* SFC_ROOT_OVERLAY: the upper dir on a private tmpfs (thrown away) */
	bool sys_fresh;            /* a new sysfs (the sandbox owns its netns) */
	struct sfc_mop *ops;
	size_t n, cap;
	char *workdir;             /* initial working directory inside */
	struct sfc_strv notes;     /* things the user should know */
	struct sfc_strv hidden;    /* host paths hidden (for --explain) */
};

void sfc_mount_plan_add(struct sfc_mount_plan *p, enum sfc_mop_kind kind, unsigned flags, const char *src,
			const char *dst, const char *why);
/* Stable sort: parents before children. */
void sfc_mount_plan_sort(struct sfc_mount_plan *p);
void sfc_mount_plan_free(struct sfc_mount_plan *p);
/* A deep copy of FROM into TO (which is overwritten, not freed). */
void sfc_mount_plan_copy(struct sfc_mount_plan *to, const struct sfc_mount_plan *from);

/* Plan sefaca-run's view for SPEC.  NEW_NETNS: the sandbox gets its own
 * network namespace (then a fresh sysfs can be mounted). */
int sfc_mount_plan_for_run(const struct sfc_spec *spec, bool new_netns, struct sfc_mount_plan *p,
			   struct sfc_error *e);
/* Is PATH (inside) visible under plan P? */
bool sfc_mount_plan_visible(const struct sfc_mount_plan *p, const char *path);

/* Secret stores hidden at the default level, relative to $HOME. */
extern const char *const sfc_secret_stores[];

/* In the sandbox's first process, in its new user+mount namespaces:
 * carry out P and pivot_root into the new root (cwd "/"). */
/* BEFORE_SYS (if set) runs just before /sys is mounted, the last mount:
 * the caller may join the sandbox's network namespace there. */
int sfc_mount_plan_apply(const struct sfc_mount_plan *p, int (*before_sys)(void *), void *data,
			 struct sfc_error *e);
/* Join mode, in a new pid and mount namespace inside another sandbox: a
 * /proc of this pid namespace, masked as the one it covers. */
int sfc_mount_proc_again(struct sfc_error *e);

#endif

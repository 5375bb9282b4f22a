/* Landlock (Linux 5.13+): an unprivileged LSM the payload applies to
 * itself just before seccomp.  Filesystem rules mirror the mount plan
 * (read-only, read-write, nothing), TCP connect/bind rules (ABI 4+) back
 * up network=deny, and abstract unix sockets and signals are scoped to
 * the sandbox (ABI 6+).  On top of namespaces it is defence in depth;
 * without them (core/fallback.c) it is the filesystem layer.
 *
 * The rules are planned in the supervisor (paths, rights) and applied in
 * the payload with system calls only: it runs on init's memory as a
 * CLONE_VM child and must not allocate.
 *
 * The ABI is negotiated: landlock_create_ruleset(NULL, 0, VERSION) tells
 * what the kernel knows, and only rights of that ABI are handled (an
 * unknown right is EINVAL).  See Documentation/userspace-api/landlock.rst. */
#ifndef SFC_LANDLOCK_H
#define SFC_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mount.h"
#include "core/spec.h"

/* The newest ABI this code knows (Linux 6.15: audit of denials). */
#define SFC_LANDLOCK_ABI_KNOWN 7

/* Access rights (uapi linux/landlock.h; Debian 12's headers stop at ABI 2,
 * so every constant is ours). */
#define SFC_LL_FS_EXECUTE (1ULL << 0)
#define SFC_LL_FS_WRITE_FILE (1ULL << 1)
#define SFC_LL_FS_READ_FILE (1ULL << 2)
#define SFC_LL_FS_READ_DIR (1ULL << 3)
#define SFC_LL_FS_REMOVE_DIR (1ULL << 4)
#define SFC_LL_FS_REMOVE_FILE (1ULL << 5)
#define SFC_LL_FS_MAKE_CHAR (1ULL << 6)
#define SFC_LL_FS_MAKE_DIR (1ULL << 7)
#define SFC_LL_FS_MAKE_REG (1ULL << 8)
#define SFC_LL_FS_MAKE_SOCK (1ULL << 9)
#define SFC_LL_FS_MAKE_FIFO (1ULL << 10)
#define SFC_LL_FS_MAKE_BLOCK (1ULL << 11)
#define SFC_LL_FS_MAKE_SYM (1ULL << 12)
#define SFC_LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define SFC_LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define SFC_LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define SFC_LL_NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define SFC_LL_NET_CONNECT_TCP (1ULL << 1)
#define SFC_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define SFC_LL_SCOPE_SIGNAL (1ULL << 1)

/* Rights that make sense on a file (a rule on a file may hold no others). */
#define SFC_LL_FILE (SFC_LL_FS_EXECUTE | SFC_LL_FS_WRITE_FILE | SFC_LL_FS_READ_FILE | SFC_LL_FS_TRUNCATE | \
		     SFC_LL_FS_IOCTL_DEV)
/* What the views grant. */
#define SFC_LL_RO (SFC_LL_FS_EXECUTE | SFC_LL_FS_READ_FILE | SFC_LL_FS_READ_DIR)
#define SFC_LL_RW (~0ULL) /* everything the ABI handles */
#define SFC_LL_DEV (SFC_LL_FS_READ_FILE | SFC_LL_FS_WRITE_FILE | SFC_LL_FS_READ_DIR | SFC_LL_FS_TRUNCATE | \
		    SFC_LL_FS_IOCTL_DEV)
#define SFC_LL_PROC (SFC_LL_FS_READ_FILE | SFC_LL_FS_WRITE_FILE | SFC_LL_FS_READ_DIR | SFC_LL_FS_TRUNCATE)
#define SFC_LL_READ (SFC_LL_FS_READ_FILE | SFC_LL_FS_READ_DIR)

#define SFC_LL_RULE_FOLLOW 0x1 /* the path is a symlink to follow (/proc/self) */
#define SFC_LL_RULE_NOFOLLOW 0x2 /* the last component must not be a symlink */

struct sfc_landlock_rule {
	char *path;
	uint64_t access;
	unsigned flags;
};

/* A ruleset, planned.  handled_fs == 0 means no filesystem rules. */
struct sfc_landlock {
	int abi; /* the ABI the rules are made for; 0: no Landlock */
	uint64_t handled_fs, handled_net, scoped;
	struct sfc_landlock_rule *rules;
	size_t n, cap;
	uint16_t connect_ports[8]; /* TCP ports still allowed when connect is handled */
	size_t nconnect;
};

/* The ABI the running kernel offers, 0 if none (then *WHY, if given, says
 * why: compiled out, kernel too old, disabled at boot).  Asked once. */
int sfc_landlock_abi(const char **why);
/* "filesystem, truncate, TCP, ioctl, scoping, audit": what ABI gives. */
const char *sfc_landlock_abi_features(int abi);

/* Plan rules for SPEC's view P at ABI.  INSIDE: in the sandbox's mount
 * namespace, after pivot_root (the paths are the sandbox's); otherwise on
 * the host's tree without namespaces (core/fallback.c), where tmpfs mounts
 * cannot be had (left to the caller) and hidden paths are carved out of
 * their parents' rules.  NOTES gets what the user should know. */
int sfc_landlock_plan(struct sfc_landlock *ll, int abi, const struct sfc_spec *spec, const struct sfc_mount_plan *p,
		      bool inside, struct sfc_strv *notes, struct sfc_error *e);
/* Add a rule (ACCESS is masked to what the ABI handles). */
void sfc_landlock_add(struct sfc_landlock *ll, const char *path, uint64_t access, unsigned flags);
/* Apply: create the ruleset, add the rules, restrict the calling thread.
 * no_new_privs must be set.  System calls only (safe in a vfork child). */
int sfc_landlock_apply(const struct sfc_landlock *ll, struct sfc_error *e);
void sfc_landlock_free(struct sfc_landlock *ll);

#endif

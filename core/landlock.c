#include "core/landlock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/kernel.h"
#include "core/util.h"

/* The same numbers on every architecture (the unified syscall table). */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};
struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));
struct ll_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

/* Rights each ABI added to the filesystem set. */
static uint64_t fs_rights(int abi)
{
	uint64_t r = 0;

	if (abi >= 1)
		r |= (1ULL << 13) - 1; /* EXECUTE .. MAKE_SYM */
	if (abi >= 2)
		r |= SFC_LL_FS_REFER;
	if (abi >= 3)
		r |= SFC_LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= SFC_LL_FS_IOCTL_DEV;
	return r;
}

const char *sfc_landlock_abi_features(int abi)
{
	/* each ABI's list is the one before plus what it added: one string,
	 * cut where each ABI's list ends */
	static const char all[] = "filesystem, refer, truncate, TCP bind/connect, device ioctl, scoped abstract unix "
				  "sockets and signals, audit";
	static const unsigned char end[] = { 0, 10, 17, 27, 45, 59, 101, sizeof(all) - 1 };
	static char buf[sizeof(all)];

	if (abi < 0)
		abi = 0;
	if (abi > SFC_LANDLOCK_ABI_KNOWN)
		abi = SFC_LANDLOCK_ABI_KNOWN;
	if (!abi)
		return "none";
	memcpy(buf, all, end[abi]);
	buf[end[abi]] = 0;
	return buf;
}

#if ENABLE_FEATURE_LANDLOCK
int sfc_landlock_abi(const char **why)
{
	static int cached = -1;
	static const char *cached_why;

	if (cached < 0) {
		long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
		if (v > 0) {
			cached = v > SFC_LANDLOCK_ABI_KNOWN ? SFC_LANDLOCK_ABI_KNOWN : (int)v;
			cached_why = NULL;
		} else {
			cached = 0;
			if (errno == ENOSYS)
				cached_why = "the kernel has no Landlock (Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)";
			else if (errno == EOPNOTSUPP)
				cached_why = "Landlock is not enabled at boot (add landlock to the lsm= kernel parameter)";
			else
				cached_why = "the kernel refused Landlock";
		}
	}
	if (why)
		*why = cached_why;
	return cached;
}
#else
int sfc_landlock_abi(const char **why)
{
	if (why)
		*why = "compiled out of this build (FEATURE_LANDLOCK)";
	return 0;
}
#endif

void sfc_landlock_add(struct sfc_landlock *ll, const char *path, uint64_t access, unsigned flags)
{
	struct sfc_landlock_rule *r;

	access &= ll->handled_fs;
	if (!access)
		return;
	/* the same path twice: one rule with the union of the rights */
	for (size_t i = 0; i < ll->n; i++)
		if (!strcmp(ll->rules[i].path, path) && ll->rules[i].flags == flags) {
			ll->rules[i].access |= access;
			return;
		}
	if (ll->n == ll->cap) {
		ll->cap = ll->cap ? ll->cap * 2 : 32;
		ll->rules = sfc_xrealloc(ll->rules, ll->cap * sizeof(*ll->rules));
	}
	r = &ll->rules[ll->n++];
	r->path = sfc_xstrdup(path);
	r->access = access;
	r->flags = flags;
}

void sfc_landlock_free(struct sfc_landlock *ll)
{
	for (size_t i = 0; i < ll->n; i++)
		free(ll->rules[i].path);
	free(ll->rules);
	memset(ll, 0, sizeof(*ll));
}

/* ------------------------------------------------------------- planning */

/* Is a hidden path strictly beneath DIR?  Is PATH itself hidden? */
static bool hidden_below(const struct sfc_strv *hidden, const char *dir)
{
	for (size_t i = 0; i < hidden->n; i++)
		if (strcmp(hidden->v[i], dir) && sfc_path_within(hidden->v[i], dir))
			return true;
	return false;
}

static bool is_hidden(const struct sfc_strv *hidden, const char *path)
{
	for (size_t i = 0; i < hidden->n; i++)
		if (sfc_path_within(path, hidden->v[i]))
			return true;
	return false;
}

/* Without a mount namespace nothing can be laid over a hidden path, and
 * Landlock rules only add rights: a rule on $HOME grants everything
 * beneath it, ~/.ssh included.  So a directory with a hidden path beneath
 * it gets only READ_DIR itself (listing; no create, remove or rename
 * there, which would reach into the hidden entry), and each of its
 * entries gets the full rule, except the hidden ones, recursively.  The
 * names of hidden entries stay visible; their contents do not. */
static void carve(struct sfc_landlock *ll, const struct sfc_strv *hidden, const char *dir, uint64_t access, int depth)
{
	DIR *d;
	struct dirent *de;

	if (is_hidden(hidden, dir) || depth > 64)
		return; /* (too deep to carve: closed rather than open) */
	if (!hidden_below(hidden, dir)) {
		sfc_landlock_add(ll, dir, access, SFC_LL_RULE_NOFOLLOW);
		return;
	}
	sfc_landlock_add(ll, dir, access & SFC_LL_FS_READ_DIR, SFC_LL_RULE_NOFOLLOW);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *child = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = strcmp(dir, "/") ? sfc_xasprintf("%s/%s", dir, de->d_name) : sfc_xasprintf("/%s", de->d_name);
		if (is_hidden(hidden, child) || lstat(child, &st) < 0)
			continue;
		/* a symlink gets no rule: what it points to is granted (or not) where it lies */
		if (S_ISLNK(st.st_mode))
			continue;
		if (S_ISDIR(st.st_mode))
			carve(ll, hidden, child, access, depth + 1);
		else
			sfc_landlock_add(ll, child, access & SFC_LL_FILE, SFC_LL_RULE_NOFOLLOW);
	}
	closedir(d);
}

/* Devices of the minimal /dev, on the host (without a mount namespace). */
static const char *const host_devices[] = { "/dev/null", "/dev/zero",	 "/dev/full", "/dev/random",
					    "/dev/urandom", "/dev/tty", "/dev/ptmx", NULL };

int sfc_landlock_plan(struct sfc_landlock *ll, int abi, const struct sfc_spec *s, const struct sfc_mount_plan *p,
		      bool inside, struct sfc_strv *notes, struct sfc_error *e)
{
	struct sfc_strv hidden = { 0 };
	bool host_view = p->root == SFC_ROOT_HOST;
	bool net_deny = s->network == SFC_NET_DENY || (!inside && s->network == SFC_NET_LOCALHOST);

	memset(ll, 0, sizeof(*ll));
	if (abi <= 0)
		return 0;
	if (abi > SFC_LANDLOCK_ABI_KNOWN)
		abi = SFC_LANDLOCK_ABI_KNOWN;
	ll->abi = abi;
	/* Landlock forbids mount(2) and friends to a thread whose domain has
	 * filesystem rules; a nested sandbox must mount, so --allow-nested
	 * keeps only the network and scope restrictions. */
	ll->handled_fs = s->allow_nested && inside ? 0 : fs_rights(abi);
	if (s->allow_nested && inside)
		sfc_strv_push(notes, "landlock: no filesystem rules with --allow-nested (a nested sandbox must mount)");
	/* network=deny: no TCP connect or bind at all, even if a socket were
	 * passed in (the namespace has no route either; this is the second
	 * lock).  Landlock cannot tell loopback from other addresses, so
	 * without a network namespace localhost is enforced as deny. */
	if (abi >= 4 && net_deny)
		ll->handled_net = SFC_LL_NET_BIND_TCP | SFC_LL_NET_CONNECT_TCP;
	/* Abstract unix sockets live in the network namespace: with the host's
	 * network (or none of our own) they are the X11, D-Bus and agent
	 * sockets of the session (SECURITY.md 8).  The host view (permissive)
	 * asked for the host's sockets.  Signals never leave the sandbox. */
	if (abi >= 6) {
		ll->scoped = SFC_LL_SCOPE_SIGNAL;
		if (!host_view)
			ll->scoped |= SFC_LL_SCOPE_ABSTRACT_UNIX_SOCKET;
	}
	if (!ll->handled_fs)
		return 0;

	if (!inside) {
		for (size_t i = 0; i < p->n; i++)
			if (p->ops[i].kind == SFC_MOP_HIDE)
				sfc_strv_push(&hidden, p->ops[i].dst);
		for (size_t i = 0; i < p->hidden.n; i++)
			sfc_strv_push(&hidden, p->hidden.v[i]);
	}

	/* the root */
	switch (p->root) {
	case SFC_ROOT_TMPFS:
		/* Inside, everything the view shows may be read: the view is the
		 * grant (hidden paths are covered by mounts), so one rule on the
		 * new root stands for every read-only bind, and only what may be
		 * written needs a rule of its own.  A path that is not below this
		 * root (a host directory reached through a descriptor passed in)
		 * gets nothing.  On the host: nothing. */
		if (inside)
			sfc_landlock_add(ll, "/", SFC_LL_RO, SFC_LL_RULE_NOFOLLOW);
		break;
	case SFC_ROOT_HOST:
	case SFC_ROOT_DIR:
	case SFC_ROOT_OVERLAY:
		if (inside)
			sfc_landlock_add(ll, "/", p->root_ro ? SFC_LL_RO : SFC_LL_RW, SFC_LL_RULE_NOFOLLOW);
		else if (p->root == SFC_ROOT_HOST)
			carve(ll, &hidden, "/", p->root_ro ? SFC_LL_RO : SFC_LL_RW, 0);
		break;
	}

	for (size_t i = 0; i < p->n; i++) {
		const struct sfc_mop *m = &p->ops[i];
		uint64_t acc;

		switch (m->kind) {
		case SFC_MOP_BIND:
			acc = (m->flags & SFC_MOP_RO) ? SFC_LL_RO : SFC_LL_RW;
			if (inside)
				sfc_landlock_add(ll, m->dst, acc, SFC_LL_RULE_NOFOLLOW);
			else
				carve(ll, &hidden, m->src, acc, 0);
			break;
		case SFC_MOP_TMPFS:
			if (inside)
				sfc_landlock_add(ll, m->dst, (m->flags & SFC_MOP_FINAL_RO) ? SFC_LL_RO : SFC_LL_RW,
						 SFC_LL_RULE_NOFOLLOW);
			/* on the host: the caller provides a private directory for
			 * /tmp; other tmpfs mounts cannot be had and stay closed */
			else if (strcmp(m->dst, "/tmp") && strcmp(m->dst, "/var/tmp"))
				sfc_strv_push_owned(notes, sfc_xasprintf("%s (%s): no tmpfs without a mount namespace; "
									 "not accessible",
									 m->dst, m->why));
			break;
		case SFC_MOP_PROC:
			if (inside) {
				sfc_landlock_add(ll, m->dst, SFC_LL_PROC, SFC_LL_RULE_NOFOLLOW);
			} else {
				/* the host's /proc: read it; write only the payload's own entries */
				sfc_landlock_add(ll, "/proc", SFC_LL_READ, SFC_LL_RULE_NOFOLLOW);
				sfc_landlock_add(ll, "/proc/self", SFC_LL_PROC, SFC_LL_RULE_FOLLOW);
			}
			break;
		case SFC_MOP_SYS:
			sfc_landlock_add(ll, m->dst, SFC_LL_READ, SFC_LL_RULE_NOFOLLOW);
			break;
		case SFC_MOP_DEV:
			if (inside) {
				sfc_landlock_add(ll, m->dst, SFC_LL_DEV, SFC_LL_RULE_NOFOLLOW);
				sfc_landlock_add(ll, "/dev/shm", SFC_LL_RW, SFC_LL_RULE_NOFOLLOW);
			} else {
				/* the host's /dev: only the devices a minimal /dev has,
				 * and ptys; not the host's /dev/shm */
				for (const char *const *d = host_devices; *d; d++)
					sfc_landlock_add(ll, *d, SFC_LL_DEV & SFC_LL_FILE, SFC_LL_RULE_NOFOLLOW);
				sfc_landlock_add(ll, "/dev/pts", SFC_LL_DEV, SFC_LL_RULE_NOFOLLOW);
			}
			break;
		case SFC_MOP_HIDE:    /* covered by a mount inside; carved out on the host */
		case SFC_MOP_SYMLINK: /* resolution needs no right */
		case SFC_MOP_DIR:     /* an empty mount point */
			break;
		}
	}
	/* Inside, every path is below the root: a rule that grants no more
	 * than the root's is a system call pair saved at every start. */
	if (inside && ll->n && !strcmp(ll->rules[0].path, "/")) {
		size_t k = 1;
		for (size_t i = 1; i < ll->n; i++) {
			if ((ll->rules[i].access & ~ll->rules[0].access) == 0)
				free(ll->rules[i].path);
			else
				ll->rules[k++] = ll->rules[i];
		}
		ll->n = k;
	}
	sfc_strv_clear(&hidden);
	(void)e;
	return 0;
}

/* ------------------------------------------------------------- applying */

#if ENABLE_FEATURE_LANDLOCK
int sfc_landlock_apply(const struct sfc_landlock *ll, struct sfc_error *e)
{
	struct ll_ruleset_attr attr = { ll->handled_fs, ll->handled_net, ll->scoped };
	size_t asz = ll->abi >= 6 ? sizeof(attr) : ll->abi >= 4 ? 16 : 8;
	int rfd, err;

	if (ll->abi <= 0 || (!ll->handled_fs && !ll->handled_net && !ll->scoped))
		return 0;
	rfd = syscall(__NR_landlock_create_ruleset, &attr, asz, 0);
	if (rfd < 0)
		return sfc_err(e, errno, "landlock: create the ruleset (ABI %d)", ll->abi);
	for (size_t i = 0; i < ll->n; i++) {
		const struct sfc_landlock_rule *r = &ll->rules[i];
		struct ll_path_beneath_attr pb;
		long rc;
		int fd;

		if (r->flags & SFC_LL_RULE_FOLLOW)
			fd = open(r->path, O_PATH | O_CLOEXEC);
		else
			fd = sfc_openat2(AT_FDCWD, r->path, O_PATH | O_CLOEXEC | O_NOFOLLOW, SFC_RESOLVE_NO_SYMLINKS);
		if (fd < 0) {
			/* an optional mount that was not made, a device the host lacks */
			if (errno == ENOENT)
				continue;
			err = errno;
			close(rfd);
			return sfc_err(e, err, "landlock: open %s", r->path);
		}
		pb.allowed_access = r->access;
		pb.parent_fd = fd;
		rc = syscall(__NR_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0);
		if (rc < 0 && errno == EINVAL && (pb.allowed_access & ~SFC_LL_FILE)) {
			/* a file: directory rights do not apply to it */
			pb.allowed_access &= SFC_LL_FILE;
			rc = pb.allowed_access ? syscall(__NR_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0) : 0;
		}
		err = rc < 0 ? errno : 0;
		close(fd);
		if (err) {
			close(rfd);
			return sfc_err(e, err, "landlock: rule for %s", r->path);
		}
	}
	for (size_t i = 0; i < ll->nconnect; i++) {
		struct ll_net_port_attr np = { SFC_LL_NET_CONNECT_TCP, ll->connect_ports[i] };
		if (syscall(__NR_landlock_add_rule, rfd, LL_RULE_NET_PORT, &np, 0) < 0) {
			err = errno;
			close(rfd);
			return sfc_err(e, err, "landlock: rule for TCP port %u", ll->connect_ports[i]);
		}
	}
	if (syscall(__NR_landlock_restrict_self, rfd, 0) < 0) {
		err = errno;
		close(rfd);
		return sfc_err(e, err, "landlock: restrict_self");
	}
	close(rfd);
	return 0;
}
#else
int sfc_landlock_apply(const struct sfc_landlock *ll, struct sfc_error *e)
{
	if (ll->abi > 0)
		return sfc_err(e, ENOTSUP, "Landlock was compiled out of this build (FEATURE_LANDLOCK)");
	return 0;
}
#endif

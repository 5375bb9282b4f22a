#include "core/observe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/kernel.h"
#include "core/sandbox.h"
#include "core/util.h"

#if defined(__x86_64__)
#define OBS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OBS_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

/* ---- the filter ---- */

#ifdef OBS_ARCH
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#define ARG_HI(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#else
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#define ARG_HI(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#endif

/* Calls that always go to the supervisor: they create, remove or rename. */
static const int fs_calls[] = {
#ifdef __NR_creat
	__NR_creat,
#endif
#ifdef __NR_mkdir
	__NR_mkdir,
#endif
#ifdef __NR_rmdir
	__NR_rmdir,
#endif
#ifdef __NR_unlink
	__NR_unlink,
#endif
#ifdef __NR_rename
	__NR_rename,
#endif
#ifdef __NR_link
	__NR_link,
#endif
#ifdef __NR_symlink
	__NR_symlink,
#endif
#ifdef __NR_mknod
	__NR_mknod,
#endif
	__NR_mkdirat, __NR_unlinkat, __NR_renameat,
#ifdef __NR_renameat2
	__NR_renameat2,
#endif
	__NR_linkat, __NR_symlinkat, __NR_mknodat, __NR_truncate, __NR_openat2,
};

/* Classic BPF jumps only forward: the checks come first, the two exits
 * they jump to last (NOTIFY, and "fall through" to what follows). */
unsigned sfc_observe_prefix(struct sock_filter *out, unsigned max, bool connect)
{
	struct sock_filter f[64];
	int notify_jumps[48], nn = 0, through_jumps[8], nt = 0, open_j = -1, openat_j, sendto_j = -1, n = 0, k, notify,
	    through;

#define EMIT(x) (f[n] = (struct sock_filter)x, n++)
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	/* another ABI: the filter that follows deals with it */
	k = EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OBS_ARCH, 0, 0));
	through_jumps[nt++] = -1 - k;
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	/* openat first: by far the most frequent call here, and one the kernel
	 * cannot cache (the answer depends on its flags) */
	openat_j = EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 0));
#ifdef __NR_open
	open_j = EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 0, 0));
#endif
	for (size_t i = 0; i < SFC_ARRAY_SIZE(fs_calls); i++)
		notify_jumps[nn++] = EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, fs_calls[i], 0, 0));
	if (connect) {
		notify_jumps[nn++] = EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 0));
		sendto_j = EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 0));
	}
	k = EMIT(BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0)); /* none of ours */
	through_jumps[nt++] = k;
	/* sendto(fd, buf, n, flags, addr, len): only with an address (a
	 * datagram to somewhere; send() passes none) */
	if (sendto_j >= 0) {
		k = EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(4)));
		f[sendto_j].jt = k - (sendto_j + 1);
		notify_jumps[nn++] = EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0xffffffff, 0, 0));
		EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(4)));
		k = EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0xffffffff, 0, 0));
		notify_jumps[nn++] = k;
		through_jumps[nt++] = -1 - k;
	}
	/* open(path, flags) / openat(dirfd, path, flags): only when opening to write */
	if (open_j >= 0) {
		k = EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)));
		f[open_j].jt = k - (open_j + 1);
		k = EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, WRITE_FLAGS, 0, 0));
		notify_jumps[nn++] = k;
		through_jumps[nt++] = -1 - k;
	}
	k = EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)));
	f[openat_j].jt = k - (openat_j + 1);
	k = EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, WRITE_FLAGS, 0, 0));
	notify_jumps[nn++] = k;
	through_jumps[nt++] = -1 - k;
	notify = EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
	through = n; /* the first instruction after the prefix */
#undef EMIT
	for (int i = 0; i < nn; i++)
		f[notify_jumps[i]].jt = notify - (notify_jumps[i] + 1);
	for (int i = 0; i < nt; i++) {
		int at = through_jumps[i] >= 0 ? through_jumps[i] : -1 - through_jumps[i];
		if (BPF_OP(f[at].code) == BPF_JA)
			f[at].k = through - (at + 1);
		else
			f[at].jf = through - (at + 1);
	}
	if ((unsigned)n > max)
		return 0;
	memcpy(out, f, n * sizeof(*f));
	return n;
}

bool sfc_observe_traps(int nr)
{
	if (nr == __NR_openat)
		return true;
#ifdef __NR_open
	if (nr == __NR_open)
		return true;
#endif
	for (size_t i = 0; i < SFC_ARRAY_SIZE(fs_calls); i++)
		if (fs_calls[i] == nr)
			return true;
	return false;
}

/* ---- the supervisor's side ---- */

/* A NUL-terminated string of the target at ADDR, page by page. */
static bool read_string(pid_t pid, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	if (!addr)
		return false;
	while (got < size - 1) {
		size_t page = 4096 - ((addr + got) & 4095), want = size - 1 - got < page ? size - 1 - got : page;
		struct iovec l = { buf + got, want }, r = { (void *)(uintptr_t)(addr + got), want };
		ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (n <= 0)
			return false;
		if (memchr(buf + got, 0, n))
			return true;
		got += n;
	}
	return false;
}

static bool read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	return addr && process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len;
}

/* The sandbox's root, as the supervisor sees it: opened once per sandbox
 * (its init's pid says which), through any of its processes. */
static int rootfd = -1;
static pid_t rootpid;

static void report(struct sfc_result *res, const char *kind, const char *detail, const char *suggestion)
{
	sfc_result_add_violation(res, kind, detail, "blocked", suggestion);
}

/* Is PATH (as the target names it, relative to DIRFD) on a read-only
 * mount?  LEAF: the file itself if it exists (open, truncate); else the
 * directory it is created in or removed from.  Resolved inside the
 * sandbox's root, never following magic links: what the kernel will find
 * for the target, not what we would find on the host. */
static void check_write(int listener, struct sfc_result *res, pid_t pid, int dirfd, uint64_t pathp, bool leaf,
			uint64_t id)
{
	char path[4096], base[4096], proc[64];
	_cleanup_free_ char *abs = NULL, *norm = NULL;
	_cleanup_close_ int fd = -1;
	struct statvfs st;
	ssize_t n;

	if (!read_string(pid, pathp, path, sizeof(path)) || !path[0])
		return;
	if (path[0] != '/') {
		if (dirfd == AT_FDCWD)
			snprintf(proc, sizeof(proc), "/proc/%d/cwd", (int)pid);
		else
			snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)pid, dirfd);
		if ((n = readlink(proc, base, sizeof(base) - 1)) <= 0)
			return;
		base[n] = 0;
		if (base[0] != '/')
			return; /* not a directory of the sandbox's tree (a pipe, a deleted dir...) */
		abs = sfc_xasprintf("%s/%s", base, path);
	} else {
		abs = sfc_xstrdup(path);
	}
	/* the memory and the pid were the target's while we read them */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return;
	norm = sfc_path_normalize(abs);
	if (rootfd < 0 || rootpid != res->pid) {
		if (rootfd >= 0)
			close(rootfd);
		snprintf(proc, sizeof(proc), "/proc/%d/root", (int)pid);
		if ((rootfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return;
		rootpid = res->pid;
	}
	if (leaf)
		fd = sfc_openat2(rootfd, norm, O_PATH | O_CLOEXEC, SFC_RESOLVE_IN_ROOT | SFC_RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		char *slash = strrchr(norm, '/');
		if ((leaf && errno != ENOENT) || !slash)
			return;
		*slash = 0;
		fd = sfc_openat2(rootfd, *norm ? norm : "/", O_PATH | O_DIRECTORY | O_CLOEXEC,
				 SFC_RESOLVE_IN_ROOT | SFC_RESOLVE_NO_MAGICLINKS);
		*slash = '/';
		if (fd < 0)
			return;
	}
	if (fstatvfs(fd, &st) == 0 && (st.f_flag & ST_RDONLY))
		report(res, "write_denied", norm,
		       "read-only in the sandbox; grant it with --readwrite=PATH if the write is legitimate");
}

void sfc_observe_write(int listener, const struct seccomp_notif *n, struct sfc_result *res)
{
	const __u64 *a = n->data.args;
	pid_t pid = n->pid;
	int nr = n->data.nr;

#ifdef __NR_open
	if (nr == __NR_open) {
		check_write(listener, res, pid, AT_FDCWD, a[0], true, n->id);
		return;
	}
#endif
#ifdef __NR_creat
	if (nr == __NR_creat) {
		check_write(listener, res, pid, AT_FDCWD, a[0], true, n->id);
		return;
	}
#endif
#if defined(__NR_mkdir) && defined(__NR_rmdir) && defined(__NR_unlink) && defined(__NR_mknod)
	if (nr == __NR_mkdir || nr == __NR_rmdir || nr == __NR_unlink || nr == __NR_mknod) {
		check_write(listener, res, pid, AT_FDCWD, a[0], false, n->id);
		return;
	}
#endif
#if defined(__NR_rename) && defined(__NR_link) && defined(__NR_symlink)
	if (nr == __NR_rename || nr == __NR_link) {
		check_write(listener, res, pid, AT_FDCWD, a[1], false, n->id);
		if (nr == __NR_rename)
			check_write(listener, res, pid, AT_FDCWD, a[0], false, n->id);
		return;
	}
	if (nr == __NR_symlink) {
		check_write(listener, res, pid, AT_FDCWD, a[1], false, n->id);
		return;
	}
#endif
	if (nr == __NR_truncate) {
		check_write(listener, res, pid, AT_FDCWD, a[0], true, n->id);
	} else if (nr == __NR_openat) {
		check_write(listener, res, pid, (int)a[0], a[1], true, n->id);
	} else if (nr == __NR_openat2) {
		uint64_t flags;
		if (read_mem(pid, a[2], &flags, sizeof(flags)) && (flags & WRITE_FLAGS))
			check_write(listener, res, pid, (int)a[0], a[1], true, n->id);
	} else if (nr == __NR_mkdirat || nr == __NR_unlinkat || nr == __NR_mknodat) {
		check_write(listener, res, pid, (int)a[0], a[1], false, n->id);
	} else if (nr == __NR_renameat
#ifdef __NR_renameat2
		   || nr == __NR_renameat2
#endif
	) {
		check_write(listener, res, pid, (int)a[2], a[3], false, n->id);
		check_write(listener, res, pid, (int)a[0], a[1], false, n->id);
	} else if (nr == __NR_linkat) {
		check_write(listener, res, pid, (int)a[2], a[3], false, n->id);
	} else if (nr == __NR_symlinkat) {
		check_write(listener, res, pid, (int)a[1], a[2], false, n->id);
	}
}

#else /* no supported architecture: nothing is observed */

unsigned sfc_observe_prefix(struct sock_filter *out, unsigned max, bool connect)
{
	return 0;
}

bool sfc_observe_traps(int nr)
{
	return false;
}

void sfc_observe_write(int listener, const struct seccomp_notif *req, struct sfc_result *res)
{
}
#endif

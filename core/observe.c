#include "core/observe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

#define MAX_REPORTS 32
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

struct prog {
	struct sock_filter f[96];
	int n;
};

static int emit(struct prog *p, struct sock_filter s)
{
	p->f[p->n] = s;
	return p->n++;
}

/* Jumps are fixed up once the targets are known. */
static void jump_to(struct prog *p, int at, bool jt, int target)
{
	int off = target - (at + 1); /* < 256: the program is short */
	if (jt)
		p->f[at].jt = off;
	else
		p->f[at].jf = off;
}

/* Classic BPF jumps only forward: the checks come first, the two returns
 * they jump to last. */
static void build(struct prog *p, bool network)
{
	int notify_jumps[64], nn = 0, allow_jumps[8], na = 0, open_j = -1, openat_j, sendto_j = -1, allow, notify, k;

	p->n = 0;
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	/* another ABI: the main filter deals with it */
	k = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OBS_ARCH, 0, 0));
	allow_jumps[na++] = -1 - k; /* jf */
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	/* openat first: by far the most frequent call here, and one the kernel
	 * cannot cache (the answer depends on its flags) */
	openat_j = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 0));
#ifdef __NR_open
	open_j = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 0, 0));
#endif
	for (size_t i = 0; i < SFC_ARRAY_SIZE(fs_calls); i++)
		notify_jumps[nn++] = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, fs_calls[i], 0, 0));
	if (network)
		notify_jumps[nn++] = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 0));
	if (network)
		sendto_j = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 0));
	k = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0)); /* nothing of ours */
	allow_jumps[na++] = k; /* ja: k field */
	/* open(path, flags) / openat(dirfd, path, flags): only when opening to write */
	if (open_j >= 0) {
		k = emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)));
		jump_to(p, open_j, true, k);
		k = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, WRITE_FLAGS, 0, 0));
		notify_jumps[nn++] = k;
		allow_jumps[na++] = -1 - k;
	}
	k = emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)));
	jump_to(p, openat_j, true, k);
	k = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, WRITE_FLAGS, 0, 0));
	notify_jumps[nn++] = k;
	allow_jumps[na++] = -1 - k;
	/* sendto(fd, buf, len, flags, addr, addrlen): only with an address */
	if (sendto_j >= 0) {
		k = emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(4)));
		jump_to(p, sendto_j, true, k);
		k = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0));
		/* jt: low word 0, look at the high word (next); jf: an address */
		p->f[k].jf = 0; /* fixed below: notify */
		{
			int lo = k;
			emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(4)));
			k = emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0));
			allow_jumps[na++] = k;      /* jt */
			notify_jumps[nn++] = -1 - k; /* jf */
			notify_jumps[nn++] = -1 - lo; /* jf */
		}
	}
	allow = emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	notify = emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
	/* i >= 0: the true branch (or the k of a JA) goes there; i < 0: the
	 * false branch of instruction -1 - i */
	for (int i = 0; i < nn; i++)
		if (notify_jumps[i] >= 0)
			jump_to(p, notify_jumps[i], true, notify);
		else
			jump_to(p, -1 - notify_jumps[i], false, notify);
	for (int i = 0; i < na; i++) {
		int at = allow_jumps[i] >= 0 ? allow_jumps[i] : -1 - allow_jumps[i];
		if (BPF_OP(p->f[at].code) == BPF_JA)
			p->f[at].k = allow - (at + 1);
		else
			jump_to(p, at, allow_jumps[i] >= 0, allow);
	}
}
#endif

/* ---- the payload's side ---- */

static int observe_hook(struct sfc_sandbox *sb, void *data, struct sfc_error *e)
{
	struct sfc_observer *o = data;
#ifdef OBS_ARCH
	struct prog p;
	struct sock_fprog fp;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char one = 'l';
	struct iovec iov = { &one, 1 };
	struct msghdr m;
	int fd;
#endif

	if (o->prev_hook && o->prev_hook(sb, o->prev_data, e) < 0)
		return -1;
#ifdef OBS_ARCH
	/* no_new_privs now rather than a moment later: a filter needs it */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 0;
	build(&p, o->network);
	fp.len = p.n;
	fp.filter = p.f;
	fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	if (fd < 0)
		return 0; /* observation only: the run goes on without it */
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	/* Without the supervisor on the other end every observed call would
	 * hang: if the listener cannot be passed, the run stops here. */
	if (sendmsg(o->sock[1], &m, MSG_NOSIGNAL) != 1)
		return sfc_err(e, errno, "pass the observer to the supervisor");
	close(fd);
#endif
	return 0;
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

struct obs_ctx {
	struct sfc_observer *o;
	struct sfc_sandbox *sb;
	int rootfd;
};

static void report(struct obs_ctx *c, const char *kind, const char *detail, const char *suggestion)
{
	struct sfc_result *r = &c->sb->result;

	for (size_t i = 0; i < r->nviolations; i++)
		if (!strcmp(r->violations[i].kind, kind) && !strcmp(r->violations[i].detail, detail))
			return;
	if (c->o->reported++ >= MAX_REPORTS)
		return;
	sfc_result_add_violation(r, kind, detail, "blocked", suggestion);
}

/* Is PATH (as the target names it, relative to DIRFD) on a read-only
 * mount?  LEAF: the file itself if it exists (open, truncate); else the
 * directory it is created in or removed from.  Resolved inside the
 * sandbox's root, never following magic links: what the kernel will find
 * for the target, not what we would find on the host. */
static void check_write(struct obs_ctx *c, pid_t pid, int dirfd, uint64_t pathp, bool leaf, uint64_t id)
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
	if (ioctl(c->o->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return;
	norm = sfc_path_normalize(abs);
	if (c->rootfd < 0) {
		snprintf(proc, sizeof(proc), "/proc/%d/root", (int)pid);
		if ((c->rootfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return;
	}
	if (leaf)
		fd = sfc_openat2(c->rootfd, norm, O_PATH | O_CLOEXEC, SFC_RESOLVE_IN_ROOT | SFC_RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		char *slash = strrchr(norm, '/');
		if (leaf && errno != ENOENT)
			return;
		if (!slash)
			return;
		*slash = 0;
		fd = sfc_openat2(c->rootfd, *norm ? norm : "/", O_PATH | O_DIRECTORY | O_CLOEXEC,
				 SFC_RESOLVE_IN_ROOT | SFC_RESOLVE_NO_MAGICLINKS);
		*slash = '/';
		if (fd < 0)
			return;
	}
	if (fstatvfs(fd, &st) == 0 && (st.f_flag & ST_RDONLY))
		report(c, "write_denied", norm,
		       "read-only in the sandbox; grant it with --readwrite=PATH if the write is legitimate");
}

static void check_connect(struct obs_ctx *c, pid_t pid, uint64_t addrp, uint64_t len, uint64_t id)
{
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN], detail[INET6_ADDRSTRLEN + 16];
	enum sfc_net net = c->sb->spec->network;
	bool loopback = false;
	unsigned port;

	if (len < sizeof(sa_family_t) || len > sizeof(ss))
		return;
	memset(&ss, 0, sizeof(ss));
	if (!read_mem(pid, addrp, &ss, len))
		return;
	if (ioctl(c->o->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return;
	if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
		snprintf(detail, sizeof(detail), "%s:%u", host, port);
	} else if (ss.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
			   (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
		snprintf(detail, sizeof(detail), "[%s]:%u", host, port);
	} else {
		return; /* unix sockets and the like: not the network */
	}
	if (net == SFC_NET_DENY || (net == SFC_NET_LOCALHOST && !loopback))
		report(c, "network_access_denied", detail, "use --network if network access is needed");
}

static void examine(struct obs_ctx *c, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;
	pid_t pid = n->pid;
	int nr = n->data.nr;

#ifdef __NR_open
	if (nr == __NR_open) {
		check_write(c, pid, AT_FDCWD, a[0], true, n->id);
		return;
	}
#endif
#ifdef __NR_creat
	if (nr == __NR_creat) {
		check_write(c, pid, AT_FDCWD, a[0], true, n->id);
		return;
	}
#endif
#ifdef __NR_truncate
	if (nr == __NR_truncate) {
		check_write(c, pid, AT_FDCWD, a[0], true, n->id);
		return;
	}
#endif
#if defined(__NR_mkdir) && defined(__NR_rmdir) && defined(__NR_unlink) && defined(__NR_mknod)
	if (nr == __NR_mkdir || nr == __NR_rmdir || nr == __NR_unlink || nr == __NR_mknod) {
		check_write(c, pid, AT_FDCWD, a[0], false, n->id);
		return;
	}
#endif
#if defined(__NR_rename) && defined(__NR_link) && defined(__NR_symlink)
	if (nr == __NR_rename || nr == __NR_link) {
		check_write(c, pid, AT_FDCWD, a[1], false, n->id);
		if (nr == __NR_rename)
			check_write(c, pid, AT_FDCWD, a[0], false, n->id);
		return;
	}
	if (nr == __NR_symlink) {
		check_write(c, pid, AT_FDCWD, a[1], false, n->id);
		return;
	}
#endif
	if (nr == __NR_openat) {
		check_write(c, pid, (int)a[0], a[1], true, n->id);
	} else if (nr == __NR_openat2) {
		uint64_t flags;
		if (read_mem(pid, a[2], &flags, sizeof(flags)) && (flags & WRITE_FLAGS))
			check_write(c, pid, (int)a[0], a[1], true, n->id);
	} else if (nr == __NR_mkdirat || nr == __NR_unlinkat || nr == __NR_mknodat) {
		check_write(c, pid, (int)a[0], a[1], false, n->id);
	} else if (nr == __NR_renameat
#ifdef __NR_renameat2
		   || nr == __NR_renameat2
#endif
	) {
		check_write(c, pid, (int)a[2], a[3], false, n->id);
		check_write(c, pid, (int)a[0], a[1], false, n->id);
	} else if (nr == __NR_linkat) {
		check_write(c, pid, (int)a[2], a[3], false, n->id);
	} else if (nr == __NR_symlinkat) {
		check_write(c, pid, (int)a[1], a[2], false, n->id);
	} else if (nr == __NR_connect) {
		check_connect(c, pid, a[1], a[2], n->id);
	} else if (nr == __NR_sendto) {
		check_connect(c, pid, a[4], a[5], n->id);
	}
}

static int on_notify(struct sfc_sandbox *sb, int fd, short rev, void *data)
{
	struct obs_ctx *c = data;
	struct sfc_observer *o = c->o;
	struct seccomp_notif *n = o->notif;
	struct seccomp_notif_resp *r = o->resp;

	if (!(rev & POLLIN))
		return -1; /* POLLHUP: nobody is filtered any more */
	memset(n, 0, o->notif_size);
	if (ioctl(o->listener, SECCOMP_IOCTL_NOTIF_RECV, n) < 0)
		return errno == EINTR || errno == ENOENT || errno == EAGAIN ? 0 : -1;
	c->sb = sb;
	if (o->reported < MAX_REPORTS)
		examine(c, n);
	memset(r, 0, o->resp_size);
	r->id = n->id;
	/* The kernel decides, as if we had not looked. */
	r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	ioctl(o->listener, SECCOMP_IOCTL_NOTIF_SEND, r);
	return 0;
}

static int on_listener(struct sfc_sandbox *sb, int sock, short rev, void *data)
{
	struct sfc_observer *o = data;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr m;
	struct cmsghdr *cmh;
	struct obs_ctx *c;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	if (recvmsg(o->sock[0], &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (cmh = CMSG_FIRSTHDR(&m); cmh; cmh = CMSG_NXTHDR(&m, cmh))
		if (cmh->cmsg_level == SOL_SOCKET && cmh->cmsg_type == SCM_RIGHTS) {
			int k = (cmh->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cmh) + i * sizeof(int), sizeof(int));
				if (o->listener < 0)
					o->listener = fd;
				else
					close(fd);
			}
		}
	if (o->listener < 0)
		return -1;
	c = sfc_xcalloc(1, sizeof(*c));
	c->o = o;
	c->rootfd = -1;
	sfc_sandbox_watch(sb, o->listener, POLLIN, on_notify, c);
	return -1; /* one listener per run */
}

int sfc_observe_attach(struct sfc_observer *o, struct sfc_sandbox *sb)
{
#ifdef OBS_ARCH
	struct seccomp_notif_sizes sz;

	memset(o, 0, sizeof(*o));
	o->sock[0] = o->sock[1] = o->listener = -1;
	if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		return -errno; /* before Linux 5.0: nothing to observe with */
	o->notif_size = sz.seccomp_notif > sizeof(struct seccomp_notif) ? sz.seccomp_notif : sizeof(struct seccomp_notif);
	o->resp_size = sz.seccomp_notif_resp > sizeof(struct seccomp_notif_resp) ? sz.seccomp_notif_resp
										 : sizeof(struct seccomp_notif_resp);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, o->sock) < 0)
		return -errno;
	o->notif = sfc_xcalloc(1, o->notif_size);
	o->resp = sfc_xcalloc(1, o->resp_size);
	o->network = sb->spec->network != SFC_NET_ALLOW;
	o->prev_hook = sb->payload_hook;
	o->prev_data = sb->payload_hook_data;
	sb->payload_hook = observe_hook;
	sb->payload_hook_data = o;
	sfc_sandbox_watch(sb, o->sock[0], POLLIN, on_listener, o);
	return 0;
#else
	memset(o, 0, sizeof(*o));
	o->sock[0] = o->sock[1] = o->listener = -1;
	return -ENOTSUP;
#endif
}

void sfc_observe_close(struct sfc_observer *o)
{
	if (o->listener >= 0)
		close(o->listener);
	for (int i = 0; i < 2; i++)
		if (o->sock[i] >= 0)
			close(o->sock[i]);
	free(o->notif);
	free(o->resp);
	o->notif = o->resp = NULL;
	o->sock[0] = o->sock[1] = o->listener = -1;
}

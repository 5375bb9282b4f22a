#include "core/notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/observe.h"
#include "core/sandbox.h"
#include "core/seccomp.h"
#include "core/util.h"

/* Linux 6.6: wake the supervisor, and then the caller, on the CPU that
 * is already running (the two hand the CPU to each other instead of
 * waking one another across CPUs) */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS _IOW('!', 4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#if defined(__x86_64__) && !defined(__ILP32__)
#define SFC_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SFC_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define SFC_AUDIT_ARCH AUDIT_ARCH_RISCV64
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NOTIFY_ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#define NOTIFY_ARG_HI(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#else
#define NOTIFY_ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#define NOTIFY_ARG_HI(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#endif

/* ---- classic BPF, the subset seccomp accepts (seccomp_check_filter) ---- */

uint32_t sfc_notify_bpf_run(const struct sock_filter *f, unsigned len, const void *data, unsigned size)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };
	const uint8_t *d = data;

	for (unsigned pc = 0; pc < len; pc++) {
		const struct sock_filter *i = &f[pc];
		uint32_t k = i->k;
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k > size - 4 || (k & 3))
				return SECCOMP_RET_KILL_PROCESS;
			memcpy(&A, d + k, 4);
			break;
		case BPF_LD | BPF_W | BPF_LEN: A = size; break;
		case BPF_LDX | BPF_W | BPF_LEN: X = size; break;
		case BPF_LD | BPF_IMM: A = k; break;
		case BPF_LDX | BPF_IMM: X = k; break;
		case BPF_LD | BPF_MEM: A = M[k % BPF_MEMWORDS]; break;
		case BPF_LDX | BPF_MEM: X = M[k % BPF_MEMWORDS]; break;
		case BPF_ST: M[k % BPF_MEMWORDS] = A; break;
		case BPF_STX: M[k % BPF_MEMWORDS] = X; break;
		case BPF_MISC | BPF_TAX: X = A; break;
		case BPF_MISC | BPF_TXA: A = X; break;
		case BPF_ALU | BPF_ADD | BPF_K: A += k; break;
		case BPF_ALU | BPF_ADD | BPF_X: A += X; break;
		case BPF_ALU | BPF_SUB | BPF_K: A -= k; break;
		case BPF_ALU | BPF_SUB | BPF_X: A -= X; break;
		case BPF_ALU | BPF_MUL | BPF_K: A *= k; break;
		case BPF_ALU | BPF_MUL | BPF_X: A *= X; break;
		case BPF_ALU | BPF_DIV | BPF_K: A = k ? A / k : 0; break;
		case BPF_ALU | BPF_DIV | BPF_X: A = X ? A / X : 0; break;
		case BPF_ALU | BPF_MOD | BPF_K: A = k ? A % k : 0; break;
		case BPF_ALU | BPF_MOD | BPF_X: A = X ? A % X : 0; break;
		case BPF_ALU | BPF_AND | BPF_K: A &= k; break;
		case BPF_ALU | BPF_AND | BPF_X: A &= X; break;
		case BPF_ALU | BPF_OR | BPF_K: A |= k; break;
		case BPF_ALU | BPF_OR | BPF_X: A |= X; break;
		case BPF_ALU | BPF_XOR | BPF_K: A ^= k; break;
		case BPF_ALU | BPF_XOR | BPF_X: A ^= X; break;
		case BPF_ALU | BPF_LSH | BPF_K: A = k < 32 ? A << k : 0; break;
		case BPF_ALU | BPF_LSH | BPF_X: A = X < 32 ? A << X : 0; break;
		case BPF_ALU | BPF_RSH | BPF_K: A = k < 32 ? A >> k : 0; break;
		case BPF_ALU | BPF_RSH | BPF_X: A = X < 32 ? A >> X : 0; break;
		case BPF_ALU | BPF_NEG: A = -A; break;
		case BPF_JMP | BPF_JA: pc += k; break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += A == k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JEQ | BPF_X: pc += A == X ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGT | BPF_K: pc += A > k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGT | BPF_X: pc += A > X ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGE | BPF_K: pc += A >= k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGE | BPF_X: pc += A >= X ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_K: pc += (A & k) ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_X: pc += (A & X) ? i->jt : i->jf; break;
		case BPF_RET | BPF_K: return k;
		case BPF_RET | BPF_A: return A;
		default: return SECCOMP_RET_KILL_PROCESS; /* unknown: treat as the harshest answer */
		}
	}
	return SECCOMP_RET_KILL_PROCESS;
}

#if ENABLE_FEATURE_SECCOMP_REPORT

int sfc_notify_setup(struct sfc_sandbox *sb, struct sfc_notify *n, bool learn, struct sfc_error *e)
{
	const struct sfc_spec *s = sb->spec;
	const struct sock_filter *main;
	unsigned len, pre = 0;

	memset(n, 0, sizeof(*n));
	n->sock[0] = n->sock[1] = n->listener = -1;
	if (!sb->layers.seccomp) {
		if (learn)
			return sfc_err(e, ENOTSUP, "--learn needs the seccomp layer, which is not in force here");
		return 0;
	}
	n->learn = learn;
	n->level = s->seccomp;
	n->nested = s->allow_nested;
	n->network = s->network;
	/* The strictest filter observes; the configured one decides. */
	main = sfc_seccomp_filter(learn ? SFC_SECCOMP_STRICT : s->seccomp, learn ? false : s->allow_nested,
				  SFC_SECCOMP_NOTIFY, &len);
	if (!main)
		return sfc_err(e, ENOTSUP, "seccomp: no notify filter for level %s", sfc_seclevel_name(s->seccomp));
#ifdef SFC_AUDIT_ARCH
	n->trap_connect = learn || s->network != SFC_NET_ALLOW;
#endif
	if (n->trap_connect)
		pre = 10;
	if (len + pre > BPF_MAXINSNS)
		return sfc_err(e, E2BIG, "seccomp: filter too long");
	n->prog = sfc_xcalloc(len + pre, sizeof(*n->prog));
#ifdef SFC_AUDIT_ARCH
	if (pre) {
		/* connect(2) of the native ABI, and sendto(2) with an address (a
		 * UDP datagram: musl's resolver sends its queries so), go to the
		 * supervisor; everything else falls through to the level's
		 * filter, which checks the architecture itself.  Forward jumps
		 * only, so prefixing keeps the filter's own offsets valid.  A
		 * send() is sendto with no address and is not trapped. */
		const struct sock_filter p[10] = {
			/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
			/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SFC_AUDIT_ARCH, 0, 8),
			/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 5, 0),
			/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 5),
			/* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NOTIFY_ARG_LO(4)),
			/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
			/* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NOTIFY_ARG_HI(4)),
			/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
			/* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		};
		memcpy(n->prog, p, sizeof(p));
	}
#endif
	memcpy(n->prog + pre, main, len * sizeof(*main));
	n->len = len + pre;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, n->sock) < 0) {
		free(n->prog);
		n->prog = NULL;
		return sfc_err(e, errno, "socketpair");
	}
	sb->notify = n;
	return 0;
}

int sfc_notify_trap_writes(struct sfc_notify *n, struct sfc_error *e)
{
	const struct sock_filter *main;
	struct sock_filter pre[64];
	unsigned len, npre;

	if (!n->prog)
		return 0;
	main = sfc_seccomp_filter(n->learn ? SFC_SECCOMP_STRICT : n->level, n->learn ? false : n->nested,
				  SFC_SECCOMP_NOTIFY, &len);
	/* connect(2) in the same prefix, when it is trapped at all */
	if (!main || !(npre = sfc_observe_prefix(pre, SFC_ARRAY_SIZE(pre), n->trap_connect)))
		return 0;
	if (len + npre > BPF_MAXINSNS)
		return sfc_err(e, E2BIG, "seccomp: filter too long");
	free(n->prog);
	n->prog = sfc_xcalloc(len + npre, sizeof(*n->prog));
	memcpy(n->prog, pre, npre * sizeof(*pre));
	memcpy(n->prog + npre, main, len * sizeof(*main));
	n->len = len + npre;
	n->trap_writes = true;
	return 0;
}

int sfc_notify_install(const struct sfc_notify *n, struct sfc_error *e)
{
	struct sock_fprog prog = { .len = n->len, .filter = n->prog };
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = "l", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	long fd;

	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0) {
		int err = errno;
		if (n->learn)
			return sfc_err(e, err, "--learn needs seccomp user notification (Linux 5.0 or later, and "
					       "not inside another sandbox that uses it)");
		/* Before Linux 5.0 (EINVAL), or inside a sandbox whose filter
		 * already has a listener (EBUSY): the plain filter, without
		 * reports.  The supervisor sees no listener arrive. */
		if (err == EINVAL || err == EBUSY)
			return sfc_seccomp_install(n->level, n->nested, SFC_SECCOMP_ERRNO, e);
		return sfc_err(e, err, "seccomp");
	}
	memset(ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &(int){ (int)fd }, sizeof(int));
	if (sendmsg(n->sock[1], &mh, MSG_NOSIGNAL) != 1) {
		/* Nobody would answer: with the listener closed, the kernel fails
		 * notified calls with ENOSYS; but say it and run nothing. */
		int err = errno;
		close(fd);
		return sfc_err(e, err, "seccomp: hand the listener to the supervisor");
	}
	close(fd);
	return 0;
}

static int watch_cb(struct sfc_sandbox *sb, int fd, short revents, void *data)
{
	struct sfc_notify *n = data;

	sfc_notify_handle(n, revents, &sb->result);
	return n->listener < 0 ? -1 : 0;
}

void sfc_notify_started(struct sfc_sandbox *sb)
{
	struct sfc_notify *n = sb->notify;
	char ctl[CMSG_SPACE(sizeof(int))], b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;

	/* The payload sent it before execve, and we know execve happened. */
	if (recvmsg(n->sock[0], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int))) {
		memcpy(&n->listener, CMSG_DATA(cm), sizeof(int));
		n->received = true;
		/* a trapped call costs a round trip through us: make it one
		 * without cross-CPU wake-ups where the kernel can (older
		 * kernels: EINVAL, and the ordinary wake-ups) */
		(void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (__u64)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
		if (sfc_sandbox_watch(sb, n->listener, POLLIN, watch_cb, n) < 0) {
			/* no room to watch: nobody would answer; closing the
			 * listener makes notified calls fail (ENOSYS) instead of
			 * hanging */
			close(n->listener);
			n->listener = -1;
		}
	}
}

/* ---- what a notification means ---- */

static bool name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(name, *list))
			return true;
	return false;
}

static const char *suggest(const char *name)
{
	static const char *const nsmount[] = { "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig",
					       "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
					       "chroot", "setns", "unshare", "clone", NULL };
	static const char *const uring[] = { "io_uring_setup", "io_uring_enter", "io_uring_register", NULL };
	static const char *const strict[] = { "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
					      "pidfd_getfd", NULL };

	if (name_in(name, nsmount))
		return "namespaces and mounts are denied inside the sandbox; --allow-nested permits nested sandboxes";
	if (name_in(name, uring))
		return "io_uring is denied at seccomp=default and strict; --seccomp=permissive allows it";
	if (name_in(name, strict))
		return "denied at seccomp=strict; --seccomp=default allows it";
	if (!strcmp(name, "socket"))
		return "only UNIX, INET, INET6 and NETLINK sockets are allowed";
	if (!strcmp(name, "ioctl"))
		return "terminal injection (TIOCSTI, TIOCLINUX) is denied at every level";
	return "denied at every level: kernel attack surface a sandboxed program should not need";
}

static bool loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

/* connect(fd, addr, len) or sendto(fd, buf, n, flags, addr, len): where to? */
static void on_connect(struct sfc_notify *n, const struct seccomp_notif *req, struct sfc_result *res)
{
	struct sockaddr_storage ss;
	int ai = (int)req->data.nr == __NR_connect ? 1 : 4;
	uint64_t len = req->data.args[ai + 1];
	struct iovec local = { &ss, 0 }, remote = { (void *)(uintptr_t)req->data.args[ai], 0 };
	char host[INET6_ADDRSTRLEN], where[INET6_ADDRSTRLEN + 16];
	uint64_t id = req->id;

	memset(&ss, 0, sizeof(ss));
	if (len < sizeof(sa_family_t))
		return;
	local.iov_len = remote.iov_len = len > sizeof(ss) ? sizeof(ss) : len;
	if (process_vm_readv(req->pid, &local, 1, &remote, 1, 0) <= 0)
		return;
	/* the pid is still the caller (it waits for us) */
	if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return;
	if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(where, sizeof(where), "%s:%u", host, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(where, sizeof(where), "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		return; /* unix sockets and the like: not network access */
	}
	switch (n->network) {
	case SFC_NET_DENY:
		/* nothing is reachable, loopback included (lo is down) */
		sfc_result_add_violation(res, "network_access_denied", where, "blocked",
					 "use --network (or --network=allow:HOST:PORT) if network access is needed");
		break;
	case SFC_NET_LOCALHOST:
	case SFC_NET_HOSTS:
		if (!loopback(&ss))
			sfc_result_add_violation(res, "network_access_denied", where, "blocked",
						 n->network == SFC_NET_HOSTS
							 ? "only the allowed hosts are reachable, through the proxy"
							 : "only loopback is reachable; use --network if network "
							   "access is needed");
		break;
	case SFC_NET_ALLOW:
		if (n->learn && !loopback(&ss))
			sfc_result_add_violation(res, "network_access_denied", where, "logged",
						 "allowed here; --network=deny or localhost would refuse it");
		break;
	}
}

void sfc_notify_handle(struct sfc_notify *n, short revents, struct sfc_result *res)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	const char *name;
	char nbuf[32];

	if (!(revents & POLLIN)) {
		/* POLLHUP: no task uses the filter any more (a receive would
		 * block forever); stop listening. */
		if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
			close(n->listener);
			n->listener = -1;
		}
		return;
	}
	memset(&req, 0, sizeof(req));
	/* After POLLIN this does not block: a request whose caller died in
	 * the meantime makes it fail with ENOENT. */
	if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return;
	n->handled++;
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;

	if (n->trap_writes && sfc_observe_traps(req.data.nr)) {
		sfc_observe_write(n->listener, &req, res);
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE; /* the mounts decide */
	} else if (n->trap_connect && ((int)req.data.nr == __NR_connect || (int)req.data.nr == __NR_sendto)) {
		on_connect(n, &req, res);
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE; /* the network namespace decides */
	} else {
		unsigned len;
		const struct sock_filter *f = sfc_seccomp_filter(n->level, n->nested, SFC_SECCOMP_ERRNO, &len);
		uint32_t ret = f ? sfc_notify_bpf_run(f, len, &req.data, sizeof(req.data)) : SECCOMP_RET_KILL_PROCESS;

		name = sfc_seccomp_syscall_name(req.data.nr);
		if (!name) {
			snprintf(nbuf, sizeof(nbuf), "syscall %d", req.data.nr);
			name = nbuf;
		}
		if ((ret & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW) {
			/* learning: the configured level allows what strict denies */
			char why[128];
			snprintf(why, sizeof(why), "allowed at seccomp=%s; seccomp=strict would deny it",
				 sfc_seclevel_name(n->level));
			sfc_result_add_violation(res, "syscall_denied", name, "logged", why);
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		} else {
			int err = (ret & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO ? (int)(ret & SECCOMP_RET_DATA)
										       : EPERM;
			resp.error = -(err ? err : EPERM);
			sfc_result_add_violation(res, "syscall_denied", name, "blocked", suggest(name));
		}
	}
	/* ENOENT: the caller is gone (killed meanwhile); nothing to answer */
	(void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

#else /* !ENABLE_FEATURE_SECCOMP_REPORT: no reports; --learn fails closed */

int sfc_notify_setup(struct sfc_sandbox *sb, struct sfc_notify *n, bool learn, struct sfc_error *e)
{
	memset(n, 0, sizeof(*n));
	n->sock[0] = n->sock[1] = n->listener = -1;
	if (learn)
		return sfc_err(e, ENOTSUP, "--learn needs seccomp user notification, which was compiled out of this "
					   "build (FEATURE_SECCOMP_REPORT)");
	if (sb->layers.seccomp)
		sfc_strv_push(&sb->layers.missing, "seccomp reports: compiled out (FEATURE_SECCOMP_REPORT); denials "
						   "are not recorded");
	return 0;
}

int sfc_notify_trap_writes(struct sfc_notify *n, struct sfc_error *e)
{
	return 0;
}

int sfc_notify_install(const struct sfc_notify *n, struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "seccomp was compiled out of this build (FEATURE_SECCOMP)");
}

void sfc_notify_started(struct sfc_sandbox *sb)
{
}

void sfc_notify_handle(struct sfc_notify *n, short revents, struct sfc_result *res)
{
}
#endif

void sfc_notify_free(struct sfc_notify *n)
{
#ifdef SFC_TRACE
	if (getenv("SFC_TRACE") && n->handled)
		fprintf(stderr, "TS 0 %d notifications handled: %lu\n", (int)getpid(), (unsigned long)n->handled);
#endif
	for (int i = 0; i < 2; i++)
		if (n->sock[i] >= 0)
			close(n->sock[i]);
	if (n->listener >= 0)
		close(n->listener);
	free(n->prog);
	n->prog = NULL;
	n->sock[0] = n->sock[1] = n->listener = -1;
}

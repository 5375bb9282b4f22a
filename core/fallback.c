#include "core/fallback.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/caps.h"
#include "core/env.h"
#include "core/kernel.h"
#include "core/landlock.h"
#include "core/limits.h"
#include "core/proxy.h"
#include "core/notify.h"
#include "core/seccomp.h"
#include "core/util.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

#define SANDBOX_NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

/* ------------------------------------------------------------- probing */

static int probe_child(void *arg)
{
	return 0;
}

int sfc_userns_probe(void)
{
	static char stack[8192] __attribute__((aligned(16)));
	pid_t pid;
	int st;

	/* The same namespaces a run creates (the network namespace is made
	 * later, by a thread).  CLONE_VM|CLONE_VFORK: no page tables copied;
	 * the child exits at once. */
	pid = clone(probe_child, stack + sizeof(stack), SANDBOX_NS_FLAGS | CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (pid < 0)
		return errno ? errno : EPERM;
	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	return 0;
}

/* --------------------------------------------------------- extra filter */

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LO (offsetof(struct seccomp_data, args[0]) + 4)
#endif

unsigned sfc_fallback_filter(struct sock_filter *p, bool deny_inet, bool deny_unix)
{
#ifdef NATIVE_ARCH
	unsigned n = 0, to_deny[8], nd = 0, sock_jf, deny;

#define EMIT(c, k, t, f) (p[n] = (struct sock_filter)BPF_JUMP((c), (k), (t), (f)), n++)
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef __x86_64__
	/* x32 system calls have their own numbers: killed, as by the main filter */
	EMIT(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 0, 1);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
#endif
	sock_jf = n;
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 0); /* jf patched: to the io_uring check */
	EMIT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO, 0, 0);
	if (deny_inet) {
		to_deny[nd++] = n;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 0, 0);
		to_deny[nd++] = n;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 0);
	}
	if (deny_unix) {
		to_deny[nd++] = n;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 0);
	}
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	p[sock_jf].jf = n - sock_jf - 1;
	if (deny_inet) {
		/* io_uring can open and connect sockets without socket(2) */
		to_deny[nd++] = n;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 0);
	}
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	deny = n;
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES, 0, 0);
	for (unsigned i = 0; i < nd; i++)
		p[to_deny[i]].jt = deny - to_deny[i] - 1;
#undef EMIT
	return n;
#else
	return 0;
#endif
}

/* ------------------------------------------------------------- prepare */

static bool have_caps(void);

static bool host_rw_view(const struct sfc_mount_plan *p)
{
	if (p->root != SFC_ROOT_HOST || p->root_ro || p->hidden.n)
		return false;
	for (size_t i = 0; i < p->n; i++)
		if (p->ops[i].kind == SFC_MOP_HIDE || (p->ops[i].kind == SFC_MOP_BIND && (p->ops[i].flags & SFC_MOP_RO)))
			return false;
	return true;
}

int sfc_fallback_prepare(struct sfc_sandbox *sb, int err, struct sfc_error *e)
{
	struct sfc_spec *s = sb->spec;
	struct sfc_layers *l = &sb->layers;
	char whybuf[512];
	const char *why = sfc_userns_diagnose(err, whybuf, sizeof(whybuf)), *llwhy = NULL;
	int abi, r;

	if (!why) {
		snprintf(whybuf, sizeof(whybuf), "clone: %s", strerror(err));
		why = whybuf;
	}
	/* whatever a namespaced prepare planned does not apply */
	if (sb->landlock) {
		sfc_landlock_free(sb->landlock);
		free(sb->landlock);
		sb->landlock = NULL;
	}
	sfc_proxy_free(sb->proxy);
	sb->proxy = NULL;
	sfc_mount_plan_free(&sb->plan);
	sfc_strv_clear(&sb->env);
	sfc_strv_clear(&l->missing);
	sfc_strv_clear(&l->limits_detail);
	memset(l, 0, sizeof(*l));

	/* What only namespaces can give fails closed even with --best-effort:
	 * these were asked for by name. */
	if (s->network == SFC_NET_HOSTS)
		return sfc_err(e, 0, "a network allowlist (allow:HOST) needs a network namespace, and user namespaces "
				     "are unavailable here: %s", why);
	if (s->uid >= 0 || s->gid >= 0)
		return sfc_err(e, 0, "--uid/--gid need a user namespace, and user namespaces are unavailable here: %s",
			       why);
	if (s->hostname)
		return sfc_err(e, 0, "--hostname needs a UTS namespace, and user namespaces are unavailable here: %s",
			       why);

	if ((r = sfc_mount_plan_for_run(s, false, &sb->plan, e)) < 0)
		return r;
	abi = sfc_landlock_abi(&llwhy);
	if (!abi && !host_rw_view(&sb->plan))
		return sfc_err(e, 0, "user namespaces are unavailable (%s), and without them only Landlock can confine "
				     "the filesystem, which is unavailable too: %s", why, llwhy);

	l->fallback = true;
	l->no_new_privs = true;
	l->caps_dropped = true;
	/* cgroup v2 limits need no namespace (core/cgroup.c); else rlimits */
	if ((r = sfc_cgroup_plan(&sb->cg, s, l, &sb->plan.notes, e)) < 0)
		return r;
	if ((r = sfc_sandbox_seccomp_layer(s, l, e)) < 0)
		return r;
	if (abi > 0)
		sfc_strv_push_owned(&sb->plan.notes,
				    sfc_xasprintf("user namespaces are unavailable (%s); --best-effort: running "
						  "without namespaces on Landlock ABI %d, seccomp and rlimits",
						  why, abi));
	else
		sfc_strv_push_owned(&sb->plan.notes,
				    sfc_xasprintf("user namespaces are unavailable (%s); --best-effort: running "
						  "without namespaces on seccomp and rlimits only (the host's view "
						  "was asked for; no Landlock: %s)",
						  why, llwhy));
	sfc_strv_push(&sb->plan.notes, "not available in this mode: pid/network/IPC isolation (host processes "
				       "visible), a private /tmp (TMPDIR is private instead), invisible hidden paths "
				       "(names stay visible), --uid/--hostname; see --explain");
	if (abi > 0) {
		sb->landlock = sfc_xcalloc(1, sizeof(*sb->landlock));
		size_t first = sb->plan.notes.n;
		/* what the view asked for and cannot have here (a tmpfs) goes to
		 * stderr, and to the layers */
		if ((r = sfc_landlock_plan(sb->landlock, abi, s, &sb->plan, false, &sb->plan.notes, e)) < 0)
			return r;
		for (size_t i = first; i < sb->plan.notes.n; i++)
			sfc_strv_push(&l->missing, sb->plan.notes.v[i]);
		l->landlock = abi;
	} else {
		sfc_strv_push_owned(&l->missing, sfc_xasprintf("landlock: %s", llwhy));
	}
	sfc_env_build(s, sb->plan.workdir, &sb->env);

	/* What this mode cannot give, for --explain, the audit record and stderr. */
	sfc_strv_push_owned(&l->missing, sfc_xasprintf("namespaces: user namespaces are unavailable (%s); running "
						       "without namespaces (--best-effort)", why));
	sfc_strv_push(&l->missing, "pid namespace: host processes are visible");
	if (s->network == SFC_NET_ALLOW)
		sfc_strv_push(&l->missing, "network namespace: none needed (network=allow)");
	else if (abi >= 4)
		sfc_strv_push_owned(&l->missing, sfc_xasprintf(
			"network namespace: network=%s is enforced as deny: IPv4/IPv6 sockets refused by seccomp, TCP "
			"connect/bind by Landlock%s", sfc_net_name(s->network),
			s->network == SFC_NET_LOCALHOST ? " (loopback cannot be told apart without a namespace)" : ""));
	else
		sfc_strv_push_owned(&l->missing, sfc_xasprintf(
			"network namespace: network=%s is enforced as deny by seccomp alone (IPv4/IPv6 sockets refused; "
			"Landlock ABI %d has no TCP rules)", sfc_net_name(s->network), abi));
	if (sb->plan.root != SFC_ROOT_HOST)
		sfc_strv_push(&l->missing, "unix sockets: socket(AF_UNIX) refused (pathname sockets such as D-Bus cannot "
					   "be closed off without a mount namespace); socketpair works");
	if (sb->plan.hidden.n)
		sfc_strv_push(&l->missing, "hidden paths: their names stay visible; their contents are closed by Landlock, "
					   "and nothing can be created or removed next to them");
	sfc_strv_push(&l->missing, "private /tmp: TMPDIR is a private directory, removed afterwards; /tmp itself "
				   "is not accessible");
	sfc_strv_push(&l->missing, "IPC namespace: the host's SysV IPC and POSIX message queues are reachable");
	if (abi < 6)
		sfc_strv_push(&l->missing, "signals: the command can signal your other processes (Landlock ABI < 6 has "
					   "no signal scoping)");
	if (s->pids)
		sfc_strv_push(&l->missing, "pids: RLIMIT_NPROC counts all of your processes, not only the sandbox's");
	if (!have_caps())
		sfc_strv_push(&l->missing, "capabilities: none held; the bounding set stays as it is (dropping it needs "
					   "a privilege), no_new_privs keeps file capabilities from adding any");

	return 0;
}

/* ----------------------------------------------------------------- run */

struct shared {
	volatile int exec_attempted;
	volatile int payload_ended; /* the guard saw the payload end: */
	volatile int payload_status; /* its wait status */
};

struct sync_msg {
	int status;
	char msg[1020];
};

static void report(int fd, int status, const struct sfc_error *e)
{
	struct sync_msg m;

	memset(&m, 0, sizeof(m));
	m.status = status;
	snprintf(m.msg, sizeof(m.msg), "%s", e->msg);
	(void)!write(fd, &m, sizeof(m));
}

static bool have_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return true; /* unknown: try to drop */
	return d[0].effective | d[0].permitted | d[0].inheritable | d[1].effective | d[1].permitted |
	       d[1].inheritable;
}

static void install_extra_filter(const struct sfc_sandbox *sb, struct sfc_error *e, int *r)
{
	const struct sfc_spec *s = sb->spec;
	struct sock_filter prog[32];
	struct sock_fprog fp;
	bool deny_inet = s->network != SFC_NET_ALLOW, deny_unix = sb->plan.root != SFC_ROOT_HOST;

	*r = 0;
	if (!deny_inet && !deny_unix)
		return;
	fp.len = sfc_fallback_filter(prog, deny_inet, deny_unix);
	fp.filter = prog;
	if (!fp.len) {
		*r = sfc_err(e, ENOTSUP, "no network filter for this architecture: cannot enforce network=%s without "
					 "namespaces", sfc_net_name(s->network));
		return;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
		*r = sfc_err(e, errno, "seccomp: network filter");
}

static int signal_descendants(int sig);

/* The guard's signal that its supervisor is gone (PR_SET_PDEATHSIG): one
 * no supervisor forwards, a real-time one neither musl nor glibc keeps for
 * itself (they use 32-34). */
#define GUARD_SIG 40

/* The guard: the payload's parent, a child subreaper between it and the
 * supervisor.  Without a pid namespace, a SIGKILL of sefaca would leave
 * the payload's tree running (its orphans go to init).  The guard learns
 * of it through PR_SET_PDEATHSIG and kills the tree, which its subreaper
 * role keeps whole (double forks and setsid included).  Otherwise it
 * forwards the supervisor's signals, and when the payload ends, kills what
 * it left and hands its wait status to the supervisor (shared memory). */
static void guard(struct shared *sh, pid_t parent, pid_t payload, int sfd) __attribute__((noreturn));
static void guard(struct shared *sh, pid_t parent, pid_t payload, int sfd)
{
	struct signalfd_siginfo si;

	/* ends when the payload has, or the supervisor is gone: before
	 * PR_SET_PDEATHSIG was set, or since (GUARD_SIG wakes the read; the
	 * guard has been re-parented by then) */
	while (getppid() == parent && read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if ((int)si.ssi_signo == SIGCHLD) {
			pid_t w;
			int ws;
			while ((w = waitpid(-1, &ws, WNOHANG)) > 0)
				if (w == payload) {
					sh->payload_status = ws;
					sh->payload_ended = 1;
				}
			if (sh->payload_ended)
				break;
		} else if ((int)si.ssi_signo != GUARD_SIG && si.ssi_code != SI_KERNEL) {
			kill(payload, (int)si.ssi_signo);
		}
	}
	for (;;) {
		signal_descendants(SIGKILL);
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			break;
	}
	_exit(125);
}

static void child_main(struct sfc_sandbox *sb, int syncw, pid_t parent, const sigset_t *orig, struct shared *sh)
{
	struct sfc_spec *s = sb->spec;
	struct sfc_error e = { 0 };
	int r;

	/* Die with the supervisor; if it is already gone, do not start. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	/* into the sandbox's cgroup leaf, if it has one, before anything of
	 * the payload runs (no cgroup namespace without a user namespace:
	 * Landlock keeps the payload from writing to cgroupfs) */
	if (sb->cg.active && sfc_cgroup_attach(&sb->cg, 0, &e) < 0)
		goto fail;
	/* This process becomes the guard (above); the payload is its child.
	 * SIGCHLD and the forwarded signals are blocked already (the
	 * supervisor's mask); its signalfd hears them and GUARD_SIG. */
	{
		sigset_t g, gm;
		pid_t self = getpid(), pid = -1;
		int gfd = -1;

		sigemptyset(&g);
		sigaddset(&g, GUARD_SIG);
		sigprocmask(SIG_BLOCK, &g, &gm);
		sigaddset(&gm, GUARD_SIG);
		if (prctl(PR_SET_PDEATHSIG, GUARD_SIG) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ||
		    (gfd = signalfd(-1, &gm, SFD_CLOEXEC)) < 0 || (pid = fork()) < 0) {
			sfc_err(&e, errno, "the payload's guard process");
			goto fail;
		}
		if (pid > 0) {
			close(syncw);
			guard(sh, parent, pid, gfd);
		}
		close(gfd);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(125);
	}
	if (sfc_sandbox_payload_prepare(sb, orig, &e) < 0)
		goto fail;
	/* Without a user namespace our capabilities are real ones (a caller
	 * that is root in a container): all go.  An unprivileged caller has
	 * none to drop, and no_new_privs keeps file capabilities from adding any. */
	if (have_caps() && sfc_caps_drop_all(&e) < 0)
		goto fail;
	if (sb->landlock && sfc_landlock_apply(sb->landlock, &e) < 0)
		goto fail;
	install_extra_filter(sb, &e, &r);
	if (r < 0)
		goto fail;
	/* last before seccomp: what ran above may still allocate */
	if (sfc_limits_apply(s, sb->cg.cgroup_limits, &e) < 0)
		goto fail;
	if (sb->layers.seccomp && (sb->notify ? sfc_notify_install(sb->notify, &e)
					      : sfc_seccomp_install(s->seccomp, s->allow_nested, SFC_SECCOMP_ERRNO, &e)) < 0)
		goto fail;
	sh->exec_attempted = 1;
	sfc_sandbox_exec(sb->argv, sb->env.v, sb->shell_line, sb->shell_scripts, &e);
	report(syncw, e.status ? e.status : 127, &e);
	_exit(e.status ? e.status : 127);
fail:
	report(syncw, 125, &e);
	_exit(125);
}

/* ppid from /proc/PID/stat ("pid (comm) S ppid ..."; comm may hold anything). */
static pid_t read_ppid(int procfd, const char *pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stat", pid);
	if ((n = sfc_read_file_at(procfd, path, buf, sizeof(buf))) <= 0)
		return -1;
	if (!(p = strrchr(buf, ')')) || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -1;
	return (pid_t)atol(p + 4);
}

/* Send SIG to every descendant of this process (as a child subreaper,
 * orphans of the tree are re-parented to us, so the tree is whole:
 * double forks and setsid cannot leave it).  Returns how many were
 * signalled.  Each is opened as a pidfd and its parent checked again
 * before the signal, so a pid reused meanwhile is not hit. */
static int signal_descendants(int sig)
{
	_cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pid_t self = getpid(), *pids = NULL, *ppids = NULL;
	size_t n = 0, cap = 0;
	bool *in;
	DIR *d;
	struct dirent *de;
	int count = 0, fd;

	if (procfd < 0 || !(d = fdopendir(fcntl(procfd, F_DUPFD_CLOEXEC, 3))))
		return 0;
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atol(de->d_name), pp;
		if (pid <= 0 || pid == self || (pp = read_ppid(procfd, de->d_name)) <= 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			pids = sfc_xrealloc(pids, cap * sizeof(*pids));
			ppids = sfc_xrealloc(ppids, cap * sizeof(*ppids));
		}
		pids[n] = pid;
		ppids[n++] = pp;
	}
	closedir(d);
	in = sfc_xcalloc(n ? n : 1, sizeof(*in));
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			bool mine = ppids[i] == self;
			for (size_t j = 0; j < n && !mine; j++)
				mine = in[j] && pids[j] == ppids[i];
			if (mine)
				in[i] = more = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char name[32];
		if (!in[i])
			continue;
		snprintf(name, sizeof(name), "%d", (int)pids[i]);
		fd = syscall(__NR_pidfd_open, pids[i], 0);
		if (fd < 0) {
			if (errno == ENOSYS)
				count += kill(pids[i], sig) == 0;
			continue;
		}
		if (read_ppid(procfd, name) == ppids[i] && syscall(__NR_pidfd_send_signal, fd, sig, NULL, 0) == 0)
			count++;
		close(fd);
	}
	free(in);
	free(pids);
	free(ppids);
	return count;
}

/* Remove DIR's tree without following symlinks (the payload wrote it). */
static void rm_tree_at(int dfd, const char *name, int depth)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd >= 0 && depth < 256) {
		fchmod(fd, 0700); /* a directory the payload made unwritable */
		if ((d = fdopendir(fd))) {
			while ((de = readdir(d)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
				    unlinkat(dirfd(d), de->d_name, 0) < 0 && (errno == EISDIR || errno == EPERM))
					rm_tree_at(dirfd(d), de->d_name, depth + 1);
			closedir(d);
		} else {
			close(fd);
		}
	} else if (fd >= 0) {
		close(fd);
	}
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static int make_private_tmp(struct sfc_sandbox *sb, struct sfc_error *e)
{
	const char *base = sfc_env_get(sb->spec->caller_env, "TMPDIR");
	char *tmpl;

	if (!base || base[0] != '/')
		base = "/tmp";
	tmpl = sfc_xasprintf("%s/sefaca-tmp.XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		int err = errno;
		free(tmpl);
		return sfc_err(e, err, "create a private temporary directory in %s", base);
	}
	sb->private_tmp = tmpl;
	sfc_env_set(&sb->env, "TMPDIR", tmpl);
	if (sb->landlock)
		sfc_landlock_add(sb->landlock, tmpl, SFC_LL_RW, SFC_LL_RULE_NOFOLLOW);
	return 0;
}

static void remove_private_tmp(struct sfc_sandbox *sb)
{
	char *slash;

	if (!sb->private_tmp || !(slash = strrchr(sb->private_tmp, '/')))
		return;
	*slash = 0;
	{
		_cleanup_close_ int dfd = open(sb->private_tmp[0] ? sb->private_tmp : "/", O_PATH | O_DIRECTORY |
										 O_CLOEXEC);
		if (dfd >= 0)
			rm_tree_at(dfd, slash + 1, 0);
	}
	*slash = '/';
}

static double tv(const struct timeval *t)
{
	return t->tv_sec + t->tv_usec / 1e6;
}

int sfc_fallback_run(struct sfc_sandbox *sb, struct sfc_error *e)
{
	struct sfc_spec *s = sb->spec;
	struct sfc_result *res = &sb->result;
	int syncp[2] = { -1, -1 }, sfd = -1, r = 0, st = 0;
	sigset_t mask, orig;
	size_t nfwd;
	const int *fwd = sfc_sandbox_forwarded_signals(&nfwd);
	struct shared *sh;
	struct sync_msg msg;
	struct rusage before, after;
	double t0 = sfc_now_mono();
	uint64_t deadline = 0, kill_at = 0;
	bool payload_done = false;
	pid_t pid, parent = getpid();
	ssize_t n;

	res->status = 125;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return sfc_err(e, errno, "mmap");
	if ((r = make_private_tmp(sb, e)) < 0)
		goto out_unmap;
	if (pipe2(syncp, O_CLOEXEC) < 0) {
		r = sfc_err(e, errno, "pipe");
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < nfwd; i++)
		sigaddset(&mask, fwd[i]);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		r = sfc_err(e, errno, "signalfd");
		goto out;
	}
	/* Orphans of the payload's tree come to us, so that all of it can be
	 * found and killed (there is no pid namespace to tear down). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		r = sfc_err(e, errno, "PR_SET_CHILD_SUBREAPER");
		goto out;
	}
	if (sb->cg.active) {
		if ((r = sfc_cgroup_create(&sb->cg, s, e)) < 0)
			goto out;
		sb->layers.cgroup_path = sb->cg.leaf;
	}
	getrusage(RUSAGE_CHILDREN, &before);
	pid = fork();
	if (pid < 0) {
		r = sfc_err(e, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		close(syncp[0]);
		close(sfd);
		child_main(sb, syncp[1], parent, &orig, sh);
		_exit(125);
	}
	res->pid = pid;
	close(syncp[1]);
	syncp[1] = -1;

	n = sfc_read_full(syncp[0], &msg, sizeof(msg));
	if (n > 0 || !sh->exec_attempted) {
		if (n > 0) {
			msg.msg[sizeof(msg.msg) - 1] = 0;
			r = sfc_err_status(e, msg.status, 0, "%s", msg.msg);
			res->status = msg.status;
		} else {
			r = sfc_err(e, 0, "the sandbox failed during setup");
		}
		signal_descendants(SIGKILL);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
		res->duration = sfc_now_mono() - t0;
		goto out;
	}
	res->ran = true;
	if (sb->notify)
		sfc_notify_started(sb); /* violation reports (core/notify.c) */
	if (sb->on_start)
		sb->on_start(sb, sb->hook_data);

	if (s->timeout_ms)
		deadline = (uint64_t)(t0 * 1000) + s->timeout_ms;
	while (!payload_done) {
		struct pollfd pf[1 + SFC_MAX_WATCH];
		int timeout = -1, pr, npf = 0;
		uint64_t now = sfc_now_ms();

		pf[npf++] = (struct pollfd){ sfd, POLLIN, 0 };
		for (int i = 0; i < sb->nwatch; i++)
			pf[npf++] = (struct pollfd){ sb->watch[i].fd, sb->watch[i].events, 0 };
		if (kill_at)
			timeout = now >= kill_at ? 0 : (int)(kill_at - now);
		else if (deadline)
			timeout = now >= deadline ? 0 : (int)(deadline - now);
		pr = poll(pf, npf, timeout);
		if (pr < 0)
			continue;
		if (pr == 0) {
			if (kill_at) {
				signal_descendants(SIGKILL);
				sfc_cgroup_kill(&sb->cg);
				kill_at = 0;
			} else if (deadline) {
				/* the whole tree, stopped members woken to hear it */
				res->timed_out = true;
				signal_descendants(SIGTERM);
				signal_descendants(SIGCONT);
				kill_at = sfc_now_ms() + s->kill_grace_ms;
				deadline = 0;
			}
			continue;
		}
		/* what applets asked to watch (as sfc_sandbox_run does) */
		for (int i = 0, k = 1; i < sb->nwatch; i++, k++)
			if (pf[k].revents && sb->watch[i].cb(sb, sb->watch[i].fd, pf[k].revents, sb->watch[i].data) < 0) {
				sb->watch[i] = sb->watch[--sb->nwatch];
				break; /* indices shifted: poll again */
			}
		if (!pf[0].revents)
			continue;
		for (;;) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				break;
			if ((int)si.ssi_signo == SIGCHLD) {
				pid_t w;
				int ws;
				/* reap the payload and the orphans that came to us */
				while ((w = waitpid(-1, &ws, WNOHANG)) > 0)
					if (w == pid) {
						st = ws;
						payload_done = true;
					}
			} else if (si.ssi_code != SI_KERNEL && !payload_done) {
				kill(pid, si.ssi_signo);
			}
		}
	}
	/* the payload's own status, from its guard (which ends with 125) */
	if (sh->payload_ended)
		st = sh->payload_status;
	/* Everything the payload left behind dies with it (SECURITY.md 31). */
	for (;;) {
		signal_descendants(SIGKILL);
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			break;
	}
	res->duration = sfc_now_mono() - t0;
	if (WIFEXITED(st)) {
		res->exit_code = WEXITSTATUS(st);
		res->status = res->exit_code;
	} else {
		res->signal = WTERMSIG(st);
		res->status = 128 + res->signal;
	}
	if (res->timed_out)
		res->status = SFC_EXIT_TIMEOUT;
	getrusage(RUSAGE_CHILDREN, &after);
	/* the tree's usage: what our children used since the fork (the
	 * namespace probe, if any, was one of them before) */
	res->ru = after;
	timersub(&after.ru_utime, &before.ru_utime, &res->ru.ru_utime);
	timersub(&after.ru_stime, &before.ru_stime, &res->ru.ru_stime);
	res->cpu_time = tv(&res->ru.ru_utime) + tv(&res->ru.ru_stime);
	res->mem_peak = (uint64_t)after.ru_maxrss * 1024;
	res->usage_source = "rusage";
	if (sb->cg.leaf)
		sfc_cgroup_collect(&sb->cg, s, res);
	r = 0;
out:
	if (sb->cg.leaf || sb->cg.sup) {
		sfc_cgroup_destroy(&sb->cg);
		sb->layers.cgroup_path = NULL;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (sfd >= 0)
		close(sfd);
	for (int i = 0; i < 2; i++)
		if (syncp[i] >= 0)
			close(syncp[i]);
	remove_private_tmp(sb);
out_unmap:
	munmap(sh, sizeof(*sh));
	return r;
}

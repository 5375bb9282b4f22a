#include "core/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/caps.h"
#include "core/env.h"
#include "core/fallback.h"
#include "core/kernel.h"
#include "core/landlock.h"
#include "core/limits.h"
#include "core/net.h"
#include "core/notify.h"
#include "core/proxy.h"
#include "core/seccomp.h"
#include "core/userns.h"
#include "core/util.h"

/* Joining another sandbox (sb->join_pidfd) is what sefaca-shell's broker
 * does for make's recipes; a build without it (sefaca-run alone, the
 * embedded one) leaves that code out. */
#define JOINING(sb) ((ENABLE_SEFACA_SHELL || ENABLE_SEFACA_MAKE) && (sb)->join_pidfd >= 0)

/* The supervisor asks init to terminate the sandbox (timeout). */
#define SIG_TERMINATE (SIGRTMIN + 1)

/* Signals the supervisor passes on to the payload when a process (not the
 * terminal: the payload shares our process group and gets those itself)
 * sends them to us. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM };

const int *sfc_sandbox_forwarded_signals(size_t *n)
{
	*n = SFC_ARRAY_SIZE(forwarded);
	return forwarded;
}

/* Shared between init/payload and the supervisor (MAP_SHARED before clone). */
struct shared {
	volatile int exec_attempted; /* the payload reached execve */
	volatile int payload_done;
	volatile int payload_status; /* raw wait status */
	volatile int init_done;      /* init reaped everything; ru is valid */
	volatile int joined_init;    /* join mode: init's pid (a child of the supervisor) */
	struct rusage ru;            /* RUSAGE_CHILDREN of init: the whole tree */
};

struct sync_msg {
	int status;
	char msg[1020];
};

void sfc_sandbox_init(struct sfc_sandbox *sb, struct sfc_spec *spec)
{
	memset(sb, 0, sizeof(*sb));
	sb->spec = spec;
	sb->result.exit_code = -1;
	sigemptyset(&sb->catch_signals);
	sb->join_pidfd = -1;
	sfc_cgroup_init(&sb->cg);
}

void sfc_result_add_violation(struct sfc_result *r, const char *kind, const char *detail, const char *action,
			      const char *suggestion)
{
	struct sfc_violation *v;

	/* A loop that hits the same wall a million times is one entry with a
	 * count, and the record stays bounded. */
	for (size_t i = 0; i < r->nviolations; i++) {
		v = &r->violations[i];
		if (!strcmp(v->kind, kind) && !strcmp(v->detail, detail ? detail : "") &&
		    !strcmp(v->action, action ? action : "blocked")) {
			v->count++;
			return;
		}
	}
	if (r->nviolations >= SFC_MAX_VIOLATIONS) {
		r->violations_dropped++;
		return;
	}
	r->violations = sfc_xrealloc(r->violations, (r->nviolations + 1) * sizeof(*r->violations));
	v = &r->violations[r->nviolations++];
	v->kind = sfc_xstrdup(kind);
	v->detail = sfc_xstrdup(detail ? detail : "");
	v->action = sfc_xstrdup(action ? action : "blocked");
	v->suggestion = sfc_xstrdup(suggestion ? suggestion : "");
	v->count = 1;
}

int sfc_sandbox_watch(struct sfc_sandbox *sb, int fd, short events,
		      int (*cb)(struct sfc_sandbox *sb, int fd, short revents, void *data), void *data)
{
	if (sb->nwatch == SFC_MAX_WATCH)
		return -ENOSPC;
	sb->watch[sb->nwatch++] = (struct sfc_watch){ fd, events, cb, data };
	return 0;
}

void sfc_sandbox_free(struct sfc_sandbox *sb)
{
	for (size_t i = 0; i < sb->result.nviolations; i++) {
		free(sb->result.violations[i].kind);
		free(sb->result.violations[i].detail);
		free(sb->result.violations[i].action);
		free(sb->result.violations[i].suggestion);
	}
	free(sb->result.violations);
	if (sb->landlock) {
		sfc_landlock_free(sb->landlock);
		free(sb->landlock);
	}
	sfc_proxy_free(sb->proxy);
	free(sb->private_tmp);
	sfc_mount_plan_free(&sb->plan);
	sfc_strv_clear(&sb->env);
	sfc_strv_clear(&sb->layers.missing);
	sfc_strv_clear(&sb->layers.limits_detail);
	sfc_cgroup_free(&sb->cg);
	if (sb->argv && sb->argv != sb->spec->argv)
		free(sb->argv);
	free(sb->words);
}

/* A simple command line: words of ordinary characters separated by
 * blanks, the first neither an assignment nor a word the shell gives a
 * meaning of its own (reserved words, builtins: echo and pwd differ from
 * /bin/echo and /bin/pwd).  sh -c would only split it and execute the
 * first word, so the words are executed directly, saving a shell on every
 * call (make does the same for its recipes; sefaca-make's recipes come
 * through sefaca-shell -c, and `sefaca-run 'make build'` is one).  NULL
 * if the line is anything else: sh -c runs it. */
static char **simple_command(const char *line, char **buf)
{
	static const char *const shell_words[] = {
		"!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until",
		"while", ".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command", "continue", "echo", "eval",
		"exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd",
		"read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type", "ulimit", "umask",
		"unalias", "unset", "wait", NULL
	};
	static const char ordinary[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-,:@%=";
	char **argv, *w, *save = NULL;
	size_t n = 0, len = strlen(line);

	if (strspn(line, " \t") == len)
		return NULL;
	for (const char *p = line; *p; p++)
		if (*p != ' ' && *p != '\t' && !strchr(ordinary, *p))
			return NULL;
	*buf = sfc_xstrdup(line);
	argv = sfc_xcalloc(len / 2 + 2, sizeof(char *));
	for (w = strtok_r(*buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	for (const char *const *r = shell_words; *r; r++)
		if (!strcmp(argv[0], *r))
			goto shell;
	if (strchr(argv[0], '='))
		goto shell;
	return argv;
shell:
	free(argv);
	free(*buf);
	*buf = NULL;
	return NULL;
}

/* A layer compiled out is the integrator's choice: built-in levels do
 * without it and say so; a setting that names it fails closed. */
int sfc_sandbox_seccomp_layer(const struct sfc_spec *s, struct sfc_layers *l, struct sfc_error *e)
{
	if (sfc_seccomp_compiled()) {
		l->seccomp = true;
	} else if (s->origin[SFC_K_SECCOMP].kind != SFC_ORIGIN_BUILTIN &&
		   s->origin[SFC_K_SECCOMP].kind != SFC_ORIGIN_UNSET) {
		return sfc_err(e, ENOTSUP, "seccomp=%s was asked for, but seccomp was compiled out of this build "
					   "(FEATURE_SECCOMP)", sfc_seclevel_name(s->seccomp));
	} else {
		sfc_strv_push(&l->missing, "seccomp: compiled out of this build");
	}
	return 0;
}

int sfc_sandbox_prepare(struct sfc_sandbox *sb, struct sfc_error *e)
{
	struct sfc_spec *s = sb->spec;
	struct sfc_layers *l = &sb->layers;
	int r;

	if (!s->argv || !s->argv[0])
		return sfc_err(e, 0, "no command given");
	if (s->allow_nested && !ENABLE_FEATURE_NESTED)
		return sfc_err(e, ENOTSUP, "nested sandboxes (--allow-nested) were compiled out of this build "
					   "(FEATURE_NESTED)");
	/* One argument is a shell command line, as in `sefaca-run 'make build'`,
	 * and so is `/bin/sh -c LINE` (sefaca-shell, make's recipes).  A simple
	 * command ("make build", "/bin/true", "cc -c -o a.o a.c") means the
	 * same to sh -c as to execve, so it is executed directly; commands
	 * found nowhere in PATH fall back to sh -c (simple_command). */
	if (!s->argv[1])
		sb->shell_line = s->argv[0];
	else if (s->argv[2] && !s->argv[3] && !strcmp(s->argv[0], "/bin/sh") &&
		 (!strcmp(s->argv[1], "-c") || !strcmp(s->argv[1], "-ec"))) {
		sb->shell_line = s->argv[2];
		sb->shell_scripts = true;
	}
	if (sb->shell_line && (sb->argv = simple_command(sb->shell_line, &sb->words))) {
		/* executed as words */
	} else if (!s->argv[1]) {
		sb->argv = sfc_xcalloc(4, sizeof(char *));
		sb->argv[0] = "/bin/sh";
		sb->argv[1] = "-c";
		sb->argv[2] = s->argv[0];
	} else {
		sb->argv = s->argv;
	}
	if (!sb->words)
		sb->shell_line = NULL;
	/* --best-effort where user namespaces are blocked: a run without
	 * namespaces, decided here so that --explain and the notes say so. */
	if (s->best_effort) {
		int err = sfc_userns_probe();
		if (err)
			return sfc_fallback_prepare(sb, err, e);
	}
	/* joining another sandbox, its network (and its proxy) is that one's */
	if (s->network == SFC_NET_HOSTS && sb->join_pidfd < 0 && (r = sfc_proxy_new(s, &sb->proxy, e)) < 0)
		return r;

	l->userns = l->mntns = l->pidns = l->ipcns = l->utsns = l->cgroupns = true;
	l->netns = s->network != SFC_NET_ALLOW;
	l->caps_dropped = l->no_new_privs = true;
	if ((r = sfc_sandbox_seccomp_layer(s, l, e)) < 0)
		return r;
	/* cgroup v2 where a delegated subtree exists, else rlimits, and say so */
	if ((r = sfc_cgroup_plan(&sb->cg, s, l, &sb->plan.notes, e)) < 0)
		return r;
	SFC_TRACE_POINT("s: cgroup plan");

	if (!sb->plan_ready && (r = sfc_mount_plan_for_run(s, l->netns, &sb->plan, e)) < 0)
		return r;
	SFC_TRACE_POINT("s: mount plan");
	if (!sb->env_ready)
		sfc_env_build(s, sb->plan.workdir, &sb->env);
#ifdef SFC_TRACE
	if (getenv("SFC_TRACE")) /* the trace goes on inside (sefaca-make's recipes) */
		sfc_env_set(&sb->env, "SFC_TRACE", "1");
#endif
	SFC_TRACE_POINT("s: env");
	if (sb->proxy)
		sfc_proxy_env(sb->proxy, &sb->env);
	{
		const char *why;
		int abi = sfc_landlock_abi(&why);
		if (abi > 0) {
			sb->landlock = sfc_xcalloc(1, sizeof(*sb->landlock));
			if ((r = sfc_landlock_plan(sb->landlock, abi, s, &sb->plan, true, &l->missing, e)) < 0)
				return r;
			l->landlock = abi;
		} else {
			sfc_strv_push_owned(&l->missing, sfc_xasprintf("landlock: %s", why));
		}
	}
	return 0;
}

const char *sfc_userns_diagnose(int err, char *buf, size_t len)
{
	char v[64];

	if (sfc_read_file_at(AT_FDCWD, "/proc/sys/kernel/apparmor_restrict_unprivileged_userns", v, sizeof(v)) > 0 &&
	    v[0] == '1') {
		snprintf(buf, len, "AppArmor restricts unprivileged user namespaces "
				   "(kernel.apparmor_restrict_unprivileged_userns=1); allow sefaca with an AppArmor "
				   "profile granting 'userns,' or set the sysctl to 0");
		return buf;
	}
	if (sfc_read_file_at(AT_FDCWD, "/proc/sys/kernel/unprivileged_userns_clone", v, sizeof(v)) > 0 && v[0] == '0') {
		snprintf(buf, len, "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0); "
				   "set it to 1");
		return buf;
	}
	if (sfc_read_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", v, sizeof(v)) > 0 && atoi(v) == 0) {
		snprintf(buf, len, "user namespaces are disabled (user.max_user_namespaces=0); set it above 0");
		return buf;
	}
	if (err == ENOSPC) {
		snprintf(buf, len, "the user namespace limit is reached (user.max_user_namespaces, or nesting deeper "
				   "than 32 levels)");
		return buf;
	}
	if (err == EPERM) {
		snprintf(buf, len, "the kernel or a security policy (seccomp of an outer container, a LSM) refuses "
				   "unprivileged user namespaces; run outside that container or allow them there");
		return buf;
	}
	if (err == EINVAL) {
		snprintf(buf, len, "the kernel lacks user namespace support (CONFIG_USER_NS)");
		return buf;
	}
	return NULL;
}

/* ---------------------------------------------------------------- child */

static void report(int fd, int status, const struct sfc_error *e)
{
	struct sync_msg m;

	memset(&m, 0, sizeof(m));
	m.status = status;
	snprintf(m.msg, sizeof(m.msg), "%s", e->msg);
	(void)!write(fd, &m, sizeof(m));
}

/* Search PATH of the payload's own environment (execvp would use ours). */
static int exec_words(char **argv, char **envp, struct sfc_error *e)
{
	const char *cmd = argv[0], *path;
	bool eacces = false;
	char buf[4096];

	if (strchr(cmd, '/')) {
		execve(cmd, argv, envp);
		return sfc_err_status(e, errno == ENOENT || errno == ENOTDIR ? 127 : 126, errno, "%s", cmd);
	}
	path = sfc_env_get(envp, "PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n + strlen(cmd) + 2 < sizeof(buf)) {
			if (n == 0)
				snprintf(buf, sizeof(buf), "%s", cmd);
			else
				snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, cmd);
			execve(buf, argv, envp);
			if (errno == EACCES)
				eacces = true;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
				return sfc_err_status(e, 126, errno, "%s", cmd);
		}
		path += n;
		if (*path)
			path++;
	}
	if (eacces)
		return sfc_err_status(e, 126, EACCES, "%s", cmd);
	return sfc_err_status(e, 127, 0, "%s: command not found", cmd);
}

/* Executes ARGV.  SHELL_LINE: ARGV is that simple command line split into
 * words (simple_command); whatever keeps them from being executed as they
 * are (not in PATH, a shell builtin or function, a script without #!,
 * no permission) is for sh -c to deal with as it would have: it runs the
 * line, or fails with its own message and status. */
int sfc_sandbox_exec(char **argv, char **envp, const char *shell_line, bool scripts, struct sfc_error *e)
{
	int r = exec_words(argv, envp, e);

	/* A command not in PATH may be sh's own (a builtin, a function): sh
	 * runs the line.  SCRIPTS (the line came as /bin/sh -c LINE): every
	 * failure is sh's to deal with -- a file without #! it runs as a
	 * script (make does too), the others it reports in its own words.
	 * sefaca-run's one-argument command is otherwise executed or refused
	 * as sefaca's (126, 127). */
	if (shell_line && (scripts || (!strchr(argv[0], '/') && e->status == 127))) {
		char *sh[] = { "/bin/sh", "-c", (char *)shell_line, NULL };
		execve(sh[0], sh, envp);
		return sfc_err_status(e, 127, errno, "/bin/sh");
	}
	return r;
}

/* State of the sandbox's init while it builds the sandbox.  It lives in
 * the supervisor's frame (sfc_sandbox_run): init and the processes before
 * it read it there, or in their copy of it. */
struct child_ctx {
	struct sfc_sandbox *sb;
	int syncw;             /* -> supervisor: setup errors; closed by execve */
	int donew;             /* -> supervisor: the payload is done */
	int holdr;             /* <- supervisor: EOF when it is gone ('g': moved into its cgroup) */
	int proxysock;         /* -> supervisor: the proxy's listening socket (SCM_RIGHTS) */
	int netsync[2];        /* -> supervisor: the network namespace is there; <- 'g': go on */
	int theirs[8];         /* the supervisor's ends, closed first thing; every slot set
	                        * (-1 unused): a 0 would close the payload's stdin */
	const sigset_t *orig;  /* the caller's signal mask, for the payload */
	struct shared *sh;
	bool vm;               /* init shares the supervisor's memory (see sfc_sandbox_run) */
	char *join_stack;      /* VM join mode: the stack of the init cloned there */
	/* init's own, from its first instruction (a copy in each process that
	 * uses them: the net thread shares init's) */
	struct sfc_error *e;
	int procfd;            /* the host's /proc, for the thread's ns file */
	int netp[2];           /* thread -> init: done */
	volatile int netfd;    /* its new network namespace */
	volatile int neterr;
	char neterrmsg[256];
};

/* The network namespace is the slowest namespace to create (~0.5 ms of
 * per-net setup in the kernel), so a thread of init creates it with
 * unshare(2) on another CPU while init builds the mount tree, and init
 * joins it before it mounts /sys.  The thread shares init's memory and
 * errno: it makes system calls only, and init reads nothing it writes
 * until the pipe says it is done. */
static int net_thread(void *arg)
{
	struct child_ctx *c = arg;
	struct sfc_error e = { 0 };

	if (unshare(CLONE_NEWNET) < 0) {
		c->neterr = errno;
		snprintf(c->neterrmsg, sizeof(c->neterrmsg), "create the network namespace");
	} else if ((c->sb->spec->network == SFC_NET_LOCALHOST || c->sb->spec->network == SFC_NET_HOSTS) &&
		   sfc_net_loopback_up(&e) < 0) {
		c->neterr = e.err ? e.err : EIO;
		snprintf(c->neterrmsg, sizeof(c->neterrmsg), "%s", e.msg);
	} else if (c->proxysock >= 0 &&
		   (c->neterr = -sfc_proxy_listen_send(c->proxysock, c->neterrmsg, sizeof(c->neterrmsg))) > 0) {
		/* the allowlist proxy listens on the sandbox's loopback: the
		 * socket is made here, in its network namespace, and served by
		 * the supervisor from the host's */
	} else if ((c->netfd = openat(c->procfd, "thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		c->neterr = errno;
		snprintf(c->neterrmsg, sizeof(c->neterrmsg), "open the new network namespace");
	}
	SFC_TRACE_POINT("t: net done");
	(void)!write(c->netp[1], "n", 1);
	syscall(SYS_exit, 0); /* this thread only */
	return 0;
}

static int join_netns(void *data)
{
	struct child_ctx *c = data;
	char b;

	if (!c->sb->layers.netns)
		return 0;
	SFC_TRACE_POINT("i: wait net");
	if (read(c->netp[0], &b, 1) != 1)
		return sfc_err(c->e, EIO, "network namespace thread");
	SFC_TRACE_POINT("i: net ready");
	if (c->neterr) {
		errno = c->neterr;
		return sfc_err(c->e, c->neterr, "%s", c->neterrmsg);
	}
	/* /sys will show this namespace; nothing in the sandbox stays on the
	 * host's network, init included. */
	if (setns(c->netfd, CLONE_NEWNET) < 0)
		return sfc_err(c->e, errno, "join the sandbox's network namespace");
	close(c->netfd);
	return 0;
}

/* What every payload goes through before the kernel's locks, here and in
 * the fallback: the caller's signal mask, the working directory, the
 * payload hook (a pty's slave side), descriptors, no_new_privs. */
int sfc_sandbox_payload_prepare(struct sfc_sandbox *sb, const sigset_t *orig, struct sfc_error *e)
{
	struct sfc_spec *s = sb->spec;

	sigprocmask(SIG_SETMASK, orig, NULL);
	if (chdir(sb->plan.workdir) < 0)
		return sfc_err(e, errno, "working directory %s", sb->plan.workdir);
	if (sb->payload_hook && sb->payload_hook(sb, sb->payload_hook_data, e) < 0)
		return -1;
	/* Only 0, 1, 2 and what the caller asked to preserve reach the payload:
	 * none of our own descriptors (runc CVE-2024-21626). */
	if (sfc_close_range(3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
		for (int fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	for (size_t i = 0; i < s->npreserve_fds; i++)
		if (fcntl(s->preserve_fds[i], F_SETFD, 0) < 0)
			return sfc_err(e, errno, "preserve fd %d", s->preserve_fds[i]);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sfc_err(e, errno, "no_new_privs");
	return 0;
}

/* The payload: a CLONE_VM|CLONE_VFORK child of init (no page tables to
 * copy; init sleeps until execve).  System calls and its own stack only. */
static int payload_main(void *arg)
{
	struct child_ctx *c = arg;
	struct sfc_sandbox *sb = c->sb;
	struct sfc_spec *s = sb->spec;
	struct sfc_error e = { 0 };

	SFC_TRACE_POINT("p: start");
	if (sfc_limits_apply(s, sb->cg.cgroup_limits, &e) < 0)
		goto fail;
	if (sfc_sandbox_payload_prepare(sb, c->orig, &e) < 0)
		goto fail;
	SFC_TRACE_POINT("p: nnp");
	/* Landlock, with no_new_privs set and the mount tree final: rules on
	 * the sandbox's own paths (a second lock behind the read-only mounts,
	 * and one on what mounts cannot close: descriptors passed in,
	 * abstract sockets, signals). */
	if (sb->landlock && sfc_landlock_apply(sb->landlock, &e) < 0)
		goto fail;
	SFC_TRACE_POINT("p: landlock");
	/* seccomp goes on last, right before execve (as bubblewrap does): the
	 * filter then covers the payload from its first instruction. */
	if (sb->layers.seccomp && (sb->notify ? sfc_notify_install(sb->notify, &e)
					      : sfc_seccomp_install(s->seccomp, s->allow_nested, SFC_SECCOMP_ERRNO, &e)) < 0)
		goto fail;
	SFC_TRACE_POINT("p: exec");
	c->sh->exec_attempted = 1;
	sfc_sandbox_exec(sb->argv, sb->env.v, sb->shell_line, sb->shell_scripts, &e);
	report(c->syncw, e.status ? e.status : 127, &e);
	_exit(e.status ? e.status : 127);
fail:
	report(c->syncw, 125, &e);
	_exit(125);
}

/* pid 1 once the payload runs: reap, forward, and when the payload is
 * gone, kill what it left, reap that too, and tell the supervisor.  It
 * may share the supervisor's memory, which runs again by now: raw system
 * calls only (core/kernel.h), the C library's errno and state are the
 * supervisor's.  (Trace points, in trace builds, are the exception.) */
static _Noreturn void init_loop(pid_t payload, struct shared *sh, int donew)
{
	sigset_t all;
	int code = 0;
	long r;

	memset(&all, 0xff, sizeof(all));
	for (;;) {
		siginfo_t si;
		int sig = (int)sfc_raw_syscall(SYS_rt_sigtimedwait, (long)&all, (long)&si, 0, 8 /* the kernel's sigset */);

		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			int st;
			while ((r = sfc_raw_syscall(SYS_wait4, -1, (long)&st, WNOHANG, 0)) > 0) {
				if (r == payload) {
					SFC_TRACE_POINT("i: payload reaped");
					sh->payload_status = st;
					sh->payload_done = 1;
					code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
					goto done;
				}
			}
		} else if (sig == SIG_TERMINATE) {
			sfc_raw_syscall(SYS_kill, -1, SIGTERM, 0, 0);
			sfc_raw_syscall(SYS_kill, -1, SIGCONT, 0, 0);
		} else if (si.si_code != SI_KERNEL) {
			/* sent by a process (the supervisor, or one inside): pass on */
			sfc_raw_syscall(SYS_kill, payload, sig, 0, 0);
		}
	}
done:
	/* Everything the payload left behind dies with it, and is reaped
	 * before the supervisor hears of the end: when sefaca returns, nothing
	 * of the sandbox runs.  The namespaces are torn down after that, off
	 * the caller's clock. */
	sfc_raw_syscall(SYS_kill, -1, SIGKILL, 0, 0);
	while ((r = sfc_raw_syscall(SYS_wait4, -1, 0, 0, 0)) > 0 || r == -EINTR)
		;
	sfc_raw_syscall(SYS_getrusage, RUSAGE_CHILDREN, (long)&sh->ru, 0, 0);
	SFC_TRACE_POINT("i: all reaped");
	sh->init_done = 1;
	/* the last thing init does in memory it may share: the supervisor can
	 * return (and unmap what it gave us) from here on */
	sfc_raw_syscall(SYS_write, donew, (long)"d", 1, 0);
	for (;;)
		sfc_raw_syscall(SYS_exit_group, code, 0, 0, 0);
}

static int init_finish(struct child_ctx *c);

/* The rest of init in join mode, once it exists. */
static int joined_init(struct child_ctx *c)
{
	struct pollfd pf = { c->holdr, POLLIN, 0 };

	/* init, a child of the supervisor: die with it (SECURITY.md 30), and
	 * if it is gone already, do not start */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (poll(&pf, 1, 0) != 0)
		_exit(125);
	close(c->holdr);
	prctl(PR_SET_DUMPABLE, 0);
	SFC_TRACE_POINT("j: init");
	return sfc_mount_proc_again(c->e);
}

/* VM join mode: init of the pid namespace made beside the other sandbox's
 * (join_sandbox), sharing the supervisor's memory; ARG is the supervisor's
 * child_ctx, copied. */
static int joined_init_main(void *arg)
{
	struct child_ctx c = *(const struct child_ctx *)arg;
	struct sfc_error e = { 0 };

	c.e = &e;
	if (joined_init(&c) < 0) {
		report(c.syncw, 125, &e);
		_exit(125);
	}
	_exit(init_finish(&c));
}

/* Join mode (sb->join_pidfd), in the first child of the supervisor: enter
 * the namespaces of the process in the other sandbox -- its user, mount,
 * network, UTS (and cgroup) namespaces: its view, its network -- and
 * create, as a child of the supervisor (CLONE_PARENT), the init of a pid
 * namespace of the sandbox's own with an IPC namespace and a mount
 * namespace for its /proc.  This process then ends; the new one carries
 * on as init (returning from here, or in joined_init_main when it shares
 * the supervisor's memory).  The pid namespace is a sibling of the
 * other sandbox's, not nested in it: neither sees the other's processes,
 * the supervisor waits for and signals init directly, and there is no
 * process between them to relay (a fork and a hop less per recipe).
 * IN is the supervisor's child_ctx. */
static int join_sandbox(struct child_ctx *c, const struct child_ctx *in)
{
	struct sfc_sandbox *sb = c->sb;
	/* with a cgroup leaf of our own, the cgroup namespace rooted at it
	 * (unshared already) stays ours */
	const int ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | (sb->cg.active ? 0 : CLONE_NEWCGROUP);
	const unsigned long flags = CLONE_PARENT | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS | SIGCHLD;
	pid_t pid;

	prctl(PR_SET_DUMPABLE, 0);
	/* Joining the other sandbox's user namespace gives us capabilities
	 * there (we own it), which init drops before the payload starts, as in
	 * any sandbox. */
	if (setns(sb->join_pidfd, ns) < 0)
		return sfc_err(c->e, errno, "join the requester's sandbox");
	close(sb->join_pidfd);
	SFC_TRACE_POINT("j: joined");
	if (c->vm)
		pid = clone(joined_init_main, c->join_stack, flags | CLONE_VM, (void *)in);
	else
		pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return sfc_err(c->e, errno, "create the sandbox's pid, IPC and mount namespaces");
	if (pid > 0) {
		c->sh->joined_init = pid;
		_exit(0);
	}
	return 0;
}

/* pid 1 of the sandbox (or, in join mode, the process before it), from
 * its first instruction: a copy of the supervisor, or -- IN->vm -- a
 * process that shares its memory.  Then init builds the sandbox while the
 * supervisor waits, touching nothing but its own stack, IN, and memory
 * the supervisor does not read (no malloc: a timeout may kill it anywhere,
 * and the heap is the supervisor's), and once the payload runs keeps to
 * init_loop. */
static int child_main(const struct child_ctx *in)
{
	struct child_ctx c = *in;
	struct sfc_sandbox *sb = c.sb;
	struct sfc_spec *s = sb->spec;
	struct sfc_error e = { 0 };
	struct pollfd pf = { c.holdr, POLLIN, 0 };
	sigset_t all;

	c.e = &e;
	for (size_t i = 0; i < SFC_ARRAY_SIZE(c.theirs); i++)
		if (c.theirs[i] >= 0)
			close(c.theirs[i]);
	/* Die with the supervisor (SECURITY.md 30); and if it is already gone,
	 * do not start. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (sb->cg.attach_by_pid) {
		/* no clone3: wait until the supervisor has moved us into the leaf */
		char go;
		if (read(c.holdr, &go, 1) != 1)
			_exit(125);
	} else if (poll(&pf, 1, 0) != 0) {
		_exit(125);
	}
	if (!JOINING(sb))
		close(c.holdr);
	/* The supervisor's own descriptors (a pty master, a broker's socket)
	 * are never held inside. */
	for (int i = 0; i < sb->nwatch; i++)
		close(sb->watch[i].fd);
	/* In a leaf of its own, the sandbox's cgroup namespace is rooted at it:
	 * /proc/self/cgroup shows "/" and a cgroupfs mounted inside (nested
	 * namespaces) shows nothing above it (SECURITY.md 9).  clone3 with
	 * CLONE_INTO_CGROUP|CLONE_NEWCGROUP does this already; after a move by
	 * pid it is needed, and it is cheap. */
	if (sb->cg.active && unshare(CLONE_NEWCGROUP) < 0) {
		sfc_err(&e, errno, "cgroup namespace");
		report(c.syncw, 125, &e);
		_exit(125);
	}
	SFC_TRACE_POINT("i: start");
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);

	if (JOINING(sb)) {
		if (join_sandbox(&c, in) < 0 || joined_init(&c) < 0)
			goto fail;
		return init_finish(&c);
	}
	if (sb->layers.netns) {
		static char net_stack[16384] __attribute__((aligned(16)));
		if ((c.procfd = openat(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || pipe2(c.netp, O_CLOEXEC) < 0) {
			sfc_err(&e, errno, "prepare the network namespace");
			goto fail;
		}
		if (clone(net_thread, net_stack + sizeof(net_stack),
			  CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, &c) < 0) {
			sfc_err(&e, errno, "start the network namespace thread");
			goto fail;
		}
		SFC_TRACE_POINT("i: thread");
	}
	if (sfc_userns_map_self(s->uid >= 0 ? (uid_t)s->uid : s->caller_uid, s->caller_uid,
				s->gid >= 0 ? (gid_t)s->gid : s->caller_gid, s->caller_gid, &e) < 0)
		goto fail;
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
		sfc_err(&e, errno, "sethostname");
		goto fail;
	}
	SFC_TRACE_POINT("i: mapped");
	if (sfc_mount_plan_apply(&sb->plan, join_netns, &c, &e) < 0)
		goto fail;
	if (c.procfd >= 0)
		close(c.procfd);
	return init_finish(&c);
fail:
	report(c.syncw, 125, &e);
	_exit(125);
}

/* init, its view built: wait for user-mode networking, drop capabilities,
 * start the payload, then reap (init_loop). */
static int init_finish(struct child_ctx *c)
{
	static char payload_stack[65536] __attribute__((aligned(16)));
	pid_t pid;

	if (c->proxysock >= 0)
		close(c->proxysock);
	/* The supervisor wires up user-mode networking (sb->on_netns) while we
	 * wait: nothing runs before the network it set up is there. */
	if (c->netsync[0] >= 0) {
		char b = 'n';
		if (write(c->netsync[0], &b, 1) != 1 || read(c->netsync[1], &b, 1) != 1 || b != 'g') {
			sfc_err(c->e, EIO, "network setup");
			goto fail;
		}
		close(c->netsync[0]);
		close(c->netsync[1]);
	}
	/* Capabilities in our user namespace were needed for the mounts; from
	 * here on nobody in the sandbox has any: init drops them, the payload
	 * inherits the empty sets. */
	SFC_TRACE_POINT("i: mounted");
	if (sfc_caps_drop_all(c->e) < 0)
		goto fail;
	SFC_TRACE_POINT("i: caps");
	/* Not dumpable: nothing in the sandbox may ptrace init or read its
	 * memory (the supervisor's too, when it is shared) through /proc. */
	prctl(PR_SET_DUMPABLE, 0);
	pid = clone(payload_main, payload_stack + sizeof(payload_stack), CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	if (pid < 0) {
		sfc_err(c->e, errno, "start the payload");
		goto fail;
	}
	SFC_TRACE_POINT("i: vfork returned");
	/* The payload has its copies of 0, 1, 2 (the caller's terminal, for a
	 * plain run); init's go to /dev/null, so that no process of the
	 * sandbox but the payload's own holds what the caller gave it (after
	 * sefaca-shell's pty, nothing inside holds the caller's terminal). */
	{
		int nul = openat(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
		for (int i = 0; nul >= 0 && i < 3; i++)
			if (nul != i)
				dup2(nul, i);
		if (nul > 2)
			close(nul);
	}
	/* The payload has started (or reported why not): the supervisor goes
	 * on from here, in memory we may share with it. */
	close(c->syncw);
	SFC_TRACE_POINT("i: syncw closed");
	init_loop(pid, c->sh, c->donew);
fail:
	report(c->syncw, 125, c->e);
	_exit(125);
}

/* ----------------------------------------------------------- supervisor */


#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#define SFC_CLONE_INTO_CGROUP 0x200000000ULL

/* clone3 straight into the sandbox's cgroup (Linux 5.7): the sandbox never
 * runs a single instruction outside its limits.  -ENOSYS (older kernels, or
 * an outer seccomp filter like our own) and -E2BIG/-EINVAL (no
 * CLONE_INTO_CGROUP) make the caller fall back to clone + cgroup.procs. */
static pid_t clone_into_cgroup(unsigned long flags, int cgfd)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
			set_tid_size, cgroup;
	} args;

	memset(&args, 0, sizeof(args));
	args.flags = (flags & ~0xffUL) | SFC_CLONE_INTO_CGROUP;
	args.exit_signal = flags & 0xff;
	args.cgroup = (uint64_t)cgfd;
	return syscall(__NR_clone3, &args, sizeof(args));
}

static void collect(struct sfc_result *res, struct shared *sh, int status, bool init_exited)
{
	if (sh->payload_done) {
		int st = sh->payload_status;
		if (WIFEXITED(st)) {
			res->exit_code = WEXITSTATUS(st);
			res->status = res->exit_code;
		} else {
			res->signal = WTERMSIG(st);
			res->status = 128 + res->signal;
		}
	} else if (init_exited && WIFSIGNALED(status)) {
		/* init itself was killed (the timeout's grace ran out, or from outside) */
		res->signal = WTERMSIG(status);
		res->status = 128 + res->signal;
	} else if (init_exited) {
		res->status = WEXITSTATUS(status);
	}
	if (sh->init_done)
		res->ru = sh->ru;
	res->mem_peak = (uint64_t)res->ru.ru_maxrss * 1024;
	res->cpu_time = res->ru.ru_utime.tv_sec + res->ru.ru_utime.tv_usec / 1e6 + res->ru.ru_stime.tv_sec +
			res->ru.ru_stime.tv_usec / 1e6;
	res->usage_source = "rusage";
	if (res->timed_out)
		res->status = SFC_EXIT_TIMEOUT;
}

/* AddressSanitizer keeps one stack per thread, found by its TLS: a
 * process that shares ours and runs on a stack of its own confuses it
 * (false reports, a warning on stderr at its first noreturn call).  Under
 * ASan init is a copy (the path cgroup runs take too). */
#if defined(__SANITIZE_ADDRESS__)
#define SFC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SFC_ASAN 1
#endif
#endif
#ifndef SFC_ASAN
#define SFC_ASAN 0
#endif

/* init's stack when it shares our memory, and in join mode the first
 * child's above it, each with a guard page below: mapped for the run, and
 * unmapped once what ran on it is known to be gone (a run that ends
 * before init has exited leaves it to the end of the next run, or to our
 * exit; should that init still run then, its stack stays mapped: init
 * has only its exit_group left by then, so that is a corner case). */
#define VM_STACK (256 * 1024)
#define VM_GUARD 4096
static struct {
	char *base;
	size_t len;
	pid_t pid;
} vm_pending;
static bool vm_undumpable; /* an init of ours made our memory not dumpable */

static void vm_stack_free(char *base, size_t len, pid_t pid, bool gone)
{
	if (!base)
		return;
	if (gone) {
		munmap(base, len);
		return;
	}
	if (vm_pending.base) {
		/* reaped by us now, or by someone else (ECHILD): gone either way */
		pid_t w = waitpid(vm_pending.pid, NULL, WNOHANG);
		if (w == vm_pending.pid || (w < 0 && errno == ECHILD))
			munmap(vm_pending.base, vm_pending.len);
	}
	vm_pending.base = base;
	vm_pending.len = len;
	vm_pending.pid = pid;
}

static char *vm_stack_new(size_t n, size_t *len)
{
	char *p;

	*len = n * (VM_GUARD + VM_STACK);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char *g = p + i * (VM_GUARD + VM_STACK);
		if (mprotect(g, VM_GUARD, PROT_NONE) < 0) {
			munmap(p, *len);
			return NULL;
		}
		/* the top, where the frames go, in one call rather than a page
		 * fault a page (MADV_POPULATE_WRITE, Linux 5.14; else faults) */
		madvise(g + VM_GUARD + VM_STACK - 32768, 32768, 23 /* MADV_POPULATE_WRITE */);
	}
	return p;
}

/* The first child (init, or in join mode the process that makes it) when
 * it shares our memory. */
static int vm_child_main(void *arg)
{
	SFC_TRACE_POINT("i: entry");
	_exit(child_main(arg));
}

int sfc_sandbox_run(struct sfc_sandbox *sb, struct sfc_error *e)
{
	struct sfc_spec *s = sb->spec;
	struct sfc_result *res = &sb->result;
	int syncp[2] = { -1, -1 }, holdp[2] = { -1, -1 }, donep[2] = { -1, -1 }, proxyp[2] = { -1, -1 }, sfd = -1;
	int fallback_err = 0;
	int readyp[2] = { -1, -1 }, gop[2] = { -1, -1 };
	bool netsync = sb->on_netns && sb->layers.netns;
	/* init shares our memory (CLONE_VM): no page tables to copy, no page
	 * to copy on write in either process, which is most of what a fork
	 * costs (on a VM, 0.3-1 ms of a sandbox's start).  It makes the rule
	 * for both sides: until init's setup is over (the sync pipe: a
	 * message, or EOF at the payload's execve) the supervisor waits and
	 * leaves memory alone -- errno too: init's C library uses the same
	 * one, so no call of ours may fail then, nor may we set it -- except
	 * in on_netns, while init waits for it (blocked in a read);
	 * init uses no heap (a timeout may kill it anywhere) and, once the
	 * supervisor runs again, no C library (init_loop).  With a cgroup of
	 * its own, init is cloned into it with clone3 and is a copy, as it
	 * is where there are no raw system calls for init_loop. */
	bool vm = SFC_RAW_SYSCALL && !SFC_ASAN && !(ENABLE_FEATURE_CGROUP && sb->cg.active), vm_setup = false;
	struct shared vm_sh;
	char *vm_stack = NULL;
	size_t vm_len = 0;
	struct child_ctx cc;
	sigset_t mask, orig;
	struct shared *sh;
	unsigned long flags;
	struct sync_msg msg;
	double t0 = sfc_now_mono();
	uint64_t deadline = 0, kill_at = 0;
	bool done = false, exited = false;
	int status = 0, r = 0;
	pid_t pid = -1;
	ssize_t n;

	if (sb->cg.reexec)
		return sfc_cgroup_reexec(&sb->cg, e); /* returns only if it failed */
	if (sb->layers.fallback)
		return sfc_fallback_run(sb, e);
	res->status = 125;
	if (vm) {
		memset(&vm_sh, 0, sizeof(vm_sh));
		sh = &vm_sh;
		if (!(vm_stack = vm_stack_new(JOINING(sb) ? 2 : 1, &vm_len)))
			return sfc_err(e, errno, "mmap");
	} else {
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			return sfc_err(e, errno, "mmap");
	}
	if (pipe2(syncp, O_CLOEXEC) < 0 || pipe2(holdp, O_CLOEXEC) < 0 || pipe2(donep, O_CLOEXEC) < 0 ||
	    (netsync && (pipe2(readyp, O_CLOEXEC) < 0 || pipe2(gop, O_CLOEXEC) < 0))) {
		r = sfc_err(e, errno, "pipe");
		goto out;
	}
	if (sb->proxy && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, proxyp) < 0) {
		r = sfc_err(e, errno, "socketpair");
		goto out;
	}
	/* Signals stay blocked to the end: a terminal's Ctrl-C that reaches us
	 * as well as the payload must not kill us before the run is accounted for. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < SFC_ARRAY_SIZE(forwarded); i++)
		sigaddset(&mask, forwarded[i]);
	sigorset(&mask, &mask, &sb->catch_signals);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		r = sfc_err(e, errno, "signalfd");
		goto out;
	}
	/* the proxy starts serving when its listening socket arrives (made by
	 * init's network thread); set up before init exists, which then has
	 * nothing of ours changing under it */
	if (sb->proxy && (r = sfc_proxy_attach(sb, proxyp[0], e)) < 0)
		goto out;

	/* The network namespace is made by a thread of init, in parallel with
	 * the mounts (see net_thread). */
	flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | SIGCHLD;
	if (JOINING(sb))
		flags = SIGCHLD; /* the namespaces come from the other sandbox (join_sandbox) */
	if (sb->cg.active) {
		if ((r = sfc_cgroup_create(&sb->cg, s, e)) < 0)
			goto out;
		sb->layers.cgroup_path = sb->cg.leaf;
	}
	cc = (struct child_ctx){ .sb = sb, .syncw = syncp[1], .donew = donep[1], .holdr = holdp[0],
				 .proxysock = proxyp[1], .netsync = { readyp[1], gop[0] },
				 .theirs = { syncp[0], holdp[1], donep[0], sfd, proxyp[0], readyp[0], gop[1], -1 },
				 .orig = &orig, .sh = sh, .vm = vm, .procfd = -1, .netp = { -1, -1 }, .netfd = -1 };
	if (vm && JOINING(sb))
		cc.join_stack = vm_stack + 2 * (VM_GUARD + VM_STACK);
	/* A sandbox that shared our memory before left it not dumpable (init
	 * sets that for the memory, which is ours: prctl(2)); until init says
	 * otherwise, the new one must be able to open its /proc/self files,
	 * which belong to root while the memory is not dumpable, to write its
	 * uid and gid maps.  (Nothing of the earlier sandbox but its exiting
	 * init shares this memory now.) */
	if (vm) {
		if (vm_undumpable)
			prctl(PR_SET_DUMPABLE, 1); /* SUID_DUMP_USER: never refused */
		vm_undumpable = true;
	}
	SFC_TRACE_POINT("s: clone");
	if (sb->cg.active) {
		errno = ENOSYS;
		pid = clone_into_cgroup(flags, sb->cg.inner_fd);
		if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL))
			sb->cg.attach_by_pid = true;
		else if (pid < 0) {
			r = sfc_err(e, errno, "clone into the sandbox's cgroup %s", sb->cg.inner);
			goto out;
		}
	}
	if (pid < 0 && vm)
		pid = clone(vm_child_main, vm_stack + VM_GUARD + VM_STACK, (int)(flags | CLONE_VM), &cc);
	else if (pid < 0)
		pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		char why[512];
		int err = errno;
		if (s->best_effort && err != ENOMEM && err != EAGAIN) {
			fallback_err = err; /* namespaces went away since prepare */
			sigprocmask(SIG_SETMASK, &orig, NULL);
		} else if (sfc_userns_diagnose(err, why, sizeof(why))) {
			r = sfc_err(e, 0, "cannot create the sandbox's namespaces: %s (%s); --best-effort runs without "
					  "them (Landlock, seccomp and limits only)", strerror(err), why);
		} else {
			r = sfc_err(e, err, "clone");
		}
		goto out;
	}
	if (pid == 0)
		_exit(child_main(&cc));
	SFC_TRACE_POINT("s: cloned");
	vm_setup = vm;
	res->pid = pid;
	if (sb->cg.attach_by_pid) {
		if ((r = sfc_cgroup_attach(&sb->cg, pid, e)) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			goto out;
		}
		(void)!write(holdp[1], "g", 1);
	}
	if (JOINING(sb)) {
		/* The first child ends as soon as it has created init, a child of
		 * ours too (join_sandbox); init is what we wait for and signal.
		 * Without init, its error is on the sync pipe. */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (sh->joined_init > 0)
			pid = res->pid = sh->joined_init;
		else
			exited = true;
	}
	close(syncp[1]);
	syncp[1] = -1;
	close(holdp[0]);
	holdp[0] = -1;
	close(donep[1]);
	donep[1] = -1;
	if (proxyp[1] >= 0) {
		close(proxyp[1]);
		proxyp[1] = -1;
	}
	if (netsync) {
		char b;
		close(readyp[1]);
		readyp[1] = -1;
		close(gop[0]);
		gop[0] = -1;
		/* EOF: init failed before its network namespace was ready; its
		 * message is on the sync pipe.  init waits while on_netns runs. */
		if (sfc_read_full(readyp[0], &b, 1) == 1) {
			if ((r = sb->on_netns(sb, pid, sb->hook_data, e)) < 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				exited = true;
				res->duration = sfc_now_mono() - t0;
				goto out;
			}
			b = 'g';
			(void)!write(gop[1], &b, 1);
		}
	}

	/* One loop from here to the end: setup errors or execve (EOF) on the
	 * sync pipe, the end on the done pipe, signals, the timeout (which
	 * covers setup too), and whatever applets asked to watch.  While init
	 * sets up in our memory (vm_setup), only the sync pipe and the clock:
	 * signals wait in the signalfd and watches in their descriptors. */
	if (s->timeout_ms)
		deadline = (uint64_t)(t0 * 1000) + s->timeout_ms;
	while (!done) {
		struct pollfd pf[3 + SFC_MAX_WATCH];
		int timeout = -1, npf = 0, isync = -1, idone = -1, iwatch, nwatch = 0;
		uint64_t now = sfc_now_ms();

		if (!vm_setup) {
			pf[npf++] = (struct pollfd){ sfd, POLLIN, 0 };
			idone = npf;
			pf[npf++] = (struct pollfd){ donep[0], POLLIN, 0 };
		}
		if (syncp[0] >= 0) {
			isync = npf;
			pf[npf++] = (struct pollfd){ syncp[0], POLLIN, 0 };
		}
		/* watches added while this round runs (by on_start, a callback)
		 * are polled from the next round on */
		iwatch = npf;
		if (!vm_setup)
			nwatch = sb->nwatch;
		for (int i = 0; i < nwatch; i++)
			pf[npf++] = (struct pollfd){ sb->watch[i].fd, sb->watch[i].events, 0 };
		if (kill_at)
			timeout = now >= kill_at ? 0 : (int)(kill_at - now);
		else if (deadline)
			timeout = now >= deadline ? 0 : (int)(deadline - now);
		if (poll(pf, npf, timeout) == 0) {
			if (kill_at) {
				kill(pid, SIGKILL);
				sfc_cgroup_kill(&sb->cg);
				kill_at = 0;
			} else if (deadline) {
				res->timed_out = true;
				kill(pid, SIG_TERMINATE);
				kill_at = sfc_now_ms() + s->kill_grace_ms;
				deadline = 0;
			}
			continue;
		}
		if (isync >= 0 && pf[isync].revents) {
			n = sfc_read_full(syncp[0], &msg, sizeof(msg));
			close(syncp[0]);
			syncp[0] = -1;
			vm_setup = false;
			if (n > 0) {
				/* the sandbox could not be set up, or the command not run */
				msg.msg[sizeof(msg.msg) - 1] = 0;
				r = sfc_err_status(e, msg.status, 0, "%s", msg.msg);
				if (!exited)
					waitpid(pid, NULL, 0);
				exited = true;
				res->status = msg.status;
				res->duration = sfc_now_mono() - t0;
				goto out;
			}
			if (!sh->exec_attempted) {
				int st = status;
				if (!exited)
					waitpid(pid, &st, 0);
				exited = true;
				r = sfc_err(e, 0, "the sandbox failed during setup (%s %d)",
					    WIFSIGNALED(st) ? "signal" : "status",
					    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
				res->duration = sfc_now_mono() - t0;
				goto out;
			}
			res->ran = true;
			SFC_TRACE_POINT("s: exec seen");
			if (sb->notify)
				sfc_notify_started(sb);
			if (sb->on_start)
				sb->on_start(sb, sb->hook_data);
		}
		for (int i = 0, k = iwatch; i < nwatch; i++, k++)
			if (pf[k].revents && sb->watch[i].cb(sb, sb->watch[i].fd, pf[k].revents, sb->watch[i].data) < 0) {
				sb->watch[i] = sb->watch[--sb->nwatch];
				break; /* indices shifted: poll again */
			}
		if (idone >= 0 && pf[idone].revents && syncp[0] < 0)
			done = true; /* init reaped everything (or died: then SIGCHLD follows) */
		while (!vm_setup) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				break;
			/* the caller's handler sees every signal; SIGCHLD is ours too */
			if (sb->on_signal && sb->on_signal(sb, &si, sb->signal_data) && (int)si.ssi_signo != SIGCHLD)
				continue;
			if ((int)si.ssi_signo == SIGCHLD) {
				if (!exited && waitpid(pid, &status, WNOHANG) == pid)
					exited = true;
			} else if (si.ssi_code != SI_KERNEL && !done) {
				kill(pid, si.ssi_signo);
			}
		}
		if (exited && syncp[0] < 0)
			done = true;
	}
	SFC_TRACE_POINT("s: done");
	if (sb->proxy)
		sfc_proxy_stop(sb);
	res->duration = sfc_now_mono() - t0;
	if (!sh->init_done && !exited) {
		/* init closed the pipe without finishing: it died; collect it */
		waitpid(pid, &status, 0);
		exited = true;
	}
	if (sb->cg.leaf && !exited) {
		/* the leaf can go only once init has gone */
		waitpid(pid, &status, 0);
		exited = true;
	}
	collect(res, sh, status, exited);
	if (sb->cg.leaf)
		sfc_cgroup_collect(&sb->cg, s, res);
	if (sb->on_done)
		sb->on_done(sb, sb->done_data);
	if (!exited && waitpid(pid, NULL, WNOHANG) == pid) /* init may be tearing down the namespaces */
		exited = true;
	r = 0;
out:
	if (r < 0 && sb->proxy)
		sfc_proxy_stop(sb); /* attached before the clone */
	if (sb->cg.leaf || sb->cg.sup) {
		sfc_cgroup_destroy(&sb->cg);
		sb->layers.cgroup_path = NULL;
	}
	if (sfd >= 0)
		close(sfd);
	for (int i = 0; i < 2; i++) {
		if (proxyp[i] >= 0)
			close(proxyp[i]);
		if (syncp[i] >= 0)
			close(syncp[i]);
		if (holdp[i] >= 0)
			close(holdp[i]);
		if (donep[i] >= 0)
			close(donep[i]);
		if (readyp[i] >= 0)
			close(readyp[i]);
		if (gop[i] >= 0)
			close(gop[i]);
	}
	if (vm)
		vm_stack_free(vm_stack, vm_len, pid, pid < 0 || exited);
	else
		munmap(sh, sizeof(*sh));
	if (fallback_err) {
		/* user namespaces failed only now; the user allowed a weaker run */
		if ((r = sfc_fallback_prepare(sb, fallback_err, e)) < 0)
			return r;
		return sfc_fallback_run(sb, e);
	}
	return r;
}

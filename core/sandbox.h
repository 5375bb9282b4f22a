/* One sandboxed run: the supervisor (stays on the host side), the
 * sandbox's init (pid 1 in its namespaces: reaps, forwards signals) and
 * the payload (pid 2).
 *
 *   sfc_sandbox_prepare()  spec -> mount plan, environment, layer checks
 *   sfc_sandbox_run()      clone, set up, exec, supervise, collect
 */
#ifndef SFC_SANDBOX_H
#define SFC_SANDBOX_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#include "core/cgroup.h"
#include "core/error.h"
#include "core/mount.h"
#include "core/spec.h"

/* What is actually in force, reported, never guessed. */
struct sfc_layers {
	bool userns, mntns, pidns, ipcns, utsns, cgroupns, netns;
	bool fallback;         /* no namespaces (user namespaces unavailable, --best-effort):
				  Landlock + seccomp + rlimits + the supervisor (core/fallback.c) */
	int landlock;          /* ABI in force, 0 if none */
	bool seccomp;          /* a filter is installed */
	bool caps_dropped;
	bool no_new_privs;
	const char *limits;    /* "rlimit", "cgroup", "none" */
	const char *cgroup;    /* "v2", "v2 (systemd scope)", "none" */
	const char *cgroup_path; /* the sandbox's cgroup while it runs, else NULL */
	struct sfc_strv limits_detail; /* what enforces each limit: "memory 64m: cgroup memory.max, ..." */
	struct sfc_strv missing; /* "seccomp: compiled out", ... */
};

/* Something the sandbox refused or a limit that bit: observed, never
 * guessed.  Written to the audit record's "violations" and, unless
 * quiet, one line on stderr. */
struct sfc_violation {
	char *kind;       /* "syscall_denied", "network_access_denied", "oom_killed", "blocked_command", ... */
	char *detail;     /* the syscall name, "93.184.216.34:443", the command... */
	char *action;     /* "blocked", "logged", "killed" */
	char *suggestion; /* what to change if this was legitimate */
	unsigned count;   /* occurrences of this kind and detail */
};

struct sfc_result {
	int status;          /* sefaca's exit status */
	bool ran;            /* the payload's execve was reached */
	int exit_code;       /* the payload's exit code, -1 if it did not exit */
	int signal;          /* the signal that killed it, 0 if none */
	bool timed_out;
	bool oom_killed;
	double duration;     /* seconds, monotonic clock */
	struct rusage ru;    /* the whole sandbox tree (init and what it reaped) */
	pid_t pid;           /* host pid of the sandbox's init */
	/* usage of the whole sandbox, from the kernel: rusage of the tree, or
	 * cgroup figures where the sandbox has its own cgroup */
	uint64_t mem_peak;   /* bytes */
	double cpu_time;     /* seconds, user + system */
	uint64_t pids_peak;  /* 0 if unknown */
	const char *usage_source; /* "rusage" or "cgroup" */
	struct sfc_violation *violations;
	size_t nviolations;
	size_t violations_dropped; /* distinct ones beyond SFC_MAX_VIOLATIONS */
};
#define SFC_MAX_VIOLATIONS 256

void sfc_result_add_violation(struct sfc_result *r, const char *kind, const char *detail, const char *action,
			      const char *suggestion);

/* A descriptor the supervisor watches while the sandbox runs (a pty relay,
 * a proxy's sockets...).  CB gets the poll revents; returning < 0 stops
 * the watch.  Watched descriptors belong to the supervisor: the sandbox's
 * init closes them, so nothing inside holds them. */
#define SFC_MAX_WATCH 64
struct sfc_sandbox;
struct sfc_landlock;
struct sfc_proxy;
struct sfc_watch {
	int fd;
	short events;
	int (*cb)(struct sfc_sandbox *sb, int fd, short revents, void *data);
	void *data;
};

struct sfc_sandbox {
	struct sfc_spec *spec;
	struct sfc_mount_plan plan;
	struct sfc_strv env;        /* the payload's environment */
	char **argv;                /* the payload (spec->argv, or /bin/sh -c LINE) */
	/* argv is a simple shell command line split into words, executed
	 * without a shell: sh -c this line if argv[0] is not in PATH (a
	 * builtin, a function of the shell's, or not there at all: sh says). */
	const char *shell_line;
	bool shell_scripts;         /* ...and a file without #! is sh's too (/bin/sh -c LINE) */
	char *words;                /* the split line (argv's strings) */
	struct sfc_layers layers;
	struct sfc_result result;
	/* seccomp user notification for violation reports (core/notify.c);
	 * NULL: the filter answers by itself. */
	struct sfc_notify *notify;
	struct sfc_cgroup cg;       /* the sandbox's cgroup v2 leaf, if any */
	/* Called in the supervisor once the payload runs (registration, proxies...). */
	void (*on_start)(struct sfc_sandbox *sb, void *data);
	void *hook_data;
	/* Called in the supervisor as soon as the result is known (the payload
	 * and everything it left are gone, sb->result filled), before the
	 * namespaces are torn down: whoever waits for the status can have it
	 * that much sooner (a recipe's make). */
	void (*on_done)(struct sfc_sandbox *sb, void *data);
	void *done_data;
	struct sfc_watch watch[SFC_MAX_WATCH];
	int nwatch;
	struct sfc_landlock *landlock; /* rules the payload applies (core/landlock.h) */
	struct sfc_proxy *proxy;       /* network=allow:HOST... (core/proxy.h) */
	char *private_tmp;             /* without namespaces: the payload's TMPDIR (core/fallback.c) */
	/* sefaca-container builds the view itself: with these set,
	 * sfc_sandbox_prepare keeps sb->plan / sb->env as the caller made them. */
	bool plan_ready, env_ready;
	/* Called in the supervisor once the sandbox's own network namespace
	 * exists, before the payload starts (user-mode networking: pasta,
	 * slirp4netns).  PID is the sandbox's init, on the host.  A failure
	 * stops the run before anything is executed.  init, which shares the
	 * supervisor's memory (sfc_sandbox_run), waits meanwhile: this must
	 * not change what it reads (the spec, plan, env, argv of SB). */
	int (*on_netns)(struct sfc_sandbox *sb, pid_t pid, void *data, struct sfc_error *e);
	/* Signals the caller handles itself (SIGWINCH for a pty relay...):
	 * added to what the supervisor catches; on_signal sees every signal
	 * the supervisor receives first and returns true for those it took
	 * (they are then not forwarded; SIGCHLD is always the supervisor's too). */
	sigset_t catch_signals;
	bool (*on_signal)(struct sfc_sandbox *sb, const struct signalfd_siginfo *si, void *data);
	void *signal_data;
	/* Runs in the payload after it has entered its working directory and
	 * before its descriptors are closed, no_new_privs is set and the
	 * filter installed (a pty of the sandbox's own, an observer...).
	 * The payload is a vfork child of init, sharing its memory and, as
	 * init may, the supervisor's: system calls and its own stack only, no
	 * heap.  Returns < 0 with E filled to abort the run (125). */
	int (*payload_hook)(struct sfc_sandbox *sb, void *data, struct sfc_error *e);
	void *payload_hook_data;
	/* A pidfd of a process in another sandbox (-1: none).  Instead of
	 * creating namespaces and building a view from the plan, this sandbox
	 * joins that process's user, mount, network and UTS namespaces -- its
	 * view, its network -- and gets a pid namespace of its own beside that
	 * sandbox's (it and what it leaves behind die together; neither sees
	 * nor signals the other), SysV IPC of its own, and a mount namespace of
	 * its own for its /proc.  For a command a sandboxed payload asks to run
	 * with the settings of its own sandbox (sefaca-make's recipes): it gets
	 * what the requester has, never more, at a fraction of the cost of a
	 * new sandbox.  Its /tmp and /dev/shm are the other sandbox's.  The
	 * rest (limits, capabilities, no_new_privs, seccomp, the payload hook)
	 * is as for any sandbox.  Needs setns(2) with a pidfd (Linux 5.8). */
	int join_pidfd;
};

/* Watch FD while the sandbox runs (see struct sfc_watch); may be called
 * before sfc_sandbox_run or from a callback.  -ENOSPC when full. */
int sfc_sandbox_watch(struct sfc_sandbox *sb, int fd, short events,
		      int (*cb)(struct sfc_sandbox *sb, int fd, short revents, void *data), void *data);

void sfc_sandbox_init(struct sfc_sandbox *sb, struct sfc_spec *spec);
void sfc_sandbox_free(struct sfc_sandbox *sb);
int sfc_sandbox_prepare(struct sfc_sandbox *sb, struct sfc_error *e);
/* Run it.  Returns 0 when the payload ran (see sb->result), < 0 with E
 * filled when the sandbox could not be set up or the command not run
 * (E->status is 125, 126 or 127); sb->result.status is set either way. */
int sfc_sandbox_run(struct sfc_sandbox *sb, struct sfc_error *e);

/* For core/fallback.c: the signals the supervisor forwards, and the
 * payload's execve with PATH searched in its own environment. */
const int *sfc_sandbox_forwarded_signals(size_t *n);
int sfc_sandbox_exec(char **argv, char **envp, const char *shell_line, bool scripts, struct sfc_error *e);
int sfc_sandbox_seccomp_layer(const struct sfc_spec *s, struct sfc_layers *l, struct sfc_error *e);
int sfc_sandbox_payload_prepare(struct sfc_sandbox *sb, const sigset_t *orig, struct sfc_error *e);

/* Why unprivileged user namespaces are unavailable here, and how to fix
 * it; NULL if they should work.  ERR is the errno clone() failed with. */
const char *sfc_userns_diagnose(int err, char *buf, size_t len);

#endif

/* A run without namespaces, for machines where unprivileged user
 * namespaces are blocked (Ubuntu 24.04's AppArmor rule,
 * user.max_user_namespaces=0, unprivileged containers, nesting too deep),
 * and only when the user allowed it (--best-effort, best_effort = true).
 *
 * What is left: Landlock as the filesystem layer (rules on the host's own
 * paths: read-only, read-write or nothing; hidden paths carved out of
 * their parents), Landlock TCP rules and a small seccomp filter for
 * network=deny, scoped signals and abstract unix sockets, the usual
 * seccomp filter, no_new_privs, rlimits, and the supervisor as a child
 * subreaper that kills the whole tree on timeout and when the payload
 * exits.  What is not: pid, network, IPC and UTS namespaces, a private
 * /tmp (TMPDIR points at a private directory instead), invisible hidden
 * paths (their names stay visible), uid/gid/hostname changes, and a
 * SIGKILL of sefaca itself leaves the payload's children running.  All of
 * it is listed in layers.missing, --explain and the notes. */
#ifndef SFC_FALLBACK_H
#define SFC_FALLBACK_H

#include "core/error.h"
#include "core/sandbox.h"

/* Can this process create the sandbox's namespaces?  0 if so, else the
 * errno clone() fails with (a short-lived child is made to find out). */
int sfc_userns_probe(void);
/* Make SB a run without namespaces; ERR is the errno that namespace
 * creation failed with.  Resets whatever sfc_sandbox_prepare() planned.
 * Fails (exit 125) where the spec asks for what only namespaces give
 * (an allowlist proxy, --uid, --hostname) or Landlock is missing. */
int sfc_fallback_prepare(struct sfc_sandbox *sb, int err, struct sfc_error *e);
/* Run it (sfc_sandbox_run() calls this for a fallback sandbox). */
int sfc_fallback_run(struct sfc_sandbox *sb, struct sfc_error *e);

/* The extra seccomp filter of the fallback (exposed for unit tests):
 * socket(AF_INET/AF_INET6) and io_uring_setup refused when DENY_INET,
 * socket(AF_UNIX) when DENY_UNIX; foreign ABIs killed.  Returns the
 * number of instructions written to PROG (room for 32). */
struct sock_filter;
unsigned sfc_fallback_filter(struct sock_filter *prog, bool deny_inet, bool deny_unix);

#endif

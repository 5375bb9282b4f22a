/* Violation reports from seccomp user notification.
 *
 * Instead of the filter variant that answers EPERM by itself, the payload
 * installs the "notify" variant of the same level: a denied call then
 * waits while the supervisor, outside the sandbox, reads it from the
 * listener, evaluates the level's own errno filter on the same
 * seccomp_data (so the answer is exactly the errno the plain filter would
 * have given: EPERM, EAFNOSUPPORT...), answers, and records a
 * syscall_denied violation with the call's name.
 *
 * When the network is deny or localhost, connect(2) is trapped too (a
 * short prefix on the filter): the supervisor reads the address and
 * records network_access_denied with address:port for destinations the
 * sandbox's network namespace cannot reach, and lets the call continue
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE), so the namespace, not the
 * supervisor, refuses it.  Reading the address is observation only: no
 * decision depends on it, so the usual time-of-check race of CONTINUE does
 * not apply.
 *
 * Learning mode (--learn, --audit-only) installs the strictest filter
 * instead and lets through, recording them as "logged", the calls the
 * configured level would allow: a real run shows what stricter settings
 * would have denied.
 *
 * The listener fd travels from the payload to the supervisor over a
 * socketpair (SCM_RIGHTS) before execve.  A kernel without user
 * notification (before 5.0), or a sandbox inside another notifying
 * sandbox (one listener per filter chain: EBUSY), falls back to the plain
 * filter and says so.  Cost when nothing is denied: one socketpair, one
 * sendmsg/recvmsg and one more descriptor in the supervisor's poll (no
 * thread). */
#ifndef SFC_NOTIFY_H
#define SFC_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/spec.h"

struct sfc_sandbox;
struct sfc_result;
struct sock_filter;

struct sfc_notify {
	bool learn;
	bool trap_connect;
	bool trap_writes;  /* writes the sandbox refuses are reported too (core/observe.h) */
	int sock[2];       /* [0] supervisor end, [1] payload end */
	int listener;      /* supervisor's listener fd, -1 until received */
	bool received;     /* the payload sent a listener */
	struct sock_filter *prog; /* the filter the payload installs */
	unsigned len;
	enum sfc_seclevel level;  /* the configured filter, which decides answers */
	bool nested;
	enum sfc_net network;
	unsigned long handled;
};

/* Supervisor, before the run: prepare N for SB's spec and attach it
 * (sb->notify).  Returns 0 with N unused when seccomp is off. */
int sfc_notify_setup(struct sfc_sandbox *sb, struct sfc_notify *n, bool learn, struct sfc_error *e);
/* Also report writes the sandbox's shape refuses (EROFS: core/observe.h),
 * after sfc_notify_setup.  Returns 0 with nothing changed where N is not in
 * use (seccomp off) or this architecture has no prefix. */
int sfc_notify_trap_writes(struct sfc_notify *n, struct sfc_error *e);
/* Payload, the last step before execve: install the filter and hand the
 * listener to the supervisor.  System calls only (vfork child). */
int sfc_notify_install(const struct sfc_notify *n, struct sfc_error *e);
/* Supervisor, once the payload has exec'd: take the listener and watch it
 * (sfc_sandbox_watch) for the rest of the run. */
void sfc_notify_started(struct sfc_sandbox *sb);
/* Supervisor: the listener is readable (REVENTS from poll). */
void sfc_notify_handle(struct sfc_notify *n, short revents, struct sfc_result *res);
void sfc_notify_free(struct sfc_notify *n);

/* Classic BPF as seccomp runs it, on DATA (struct seccomp_data). */
uint32_t sfc_notify_bpf_run(const struct sock_filter *f, unsigned len, const void *data, unsigned size);

#endif

/* Observing what the sandbox refuses a command that is not denied by
 * seccomp but by the sandbox's shape: a write to a read-only place, a
 * connection out of a network namespace with no route.  The kernel
 * refuses those with EROFS or ENETUNREACH and nothing is recorded; a
 * build that fails that way should say which recipe tried what.
 *
 * A second, small seccomp filter (the payload installs it just before the
 * main one) sends the calls that can write to the filesystem or reach the
 * network to the supervisor as user notifications.  The supervisor looks
 * at the call's target -- the path resolved inside the sandbox's own root,
 * the mount it lands on, the address -- records a violation when the
 * sandbox's shape refuses it (a read-only mount, a denied network), and
 * always lets the call continue: the kernel makes the decision and
 * returns its own error; this layer only tells what happened.  A target
 * that cannot be looked at (the process is gone, not dumpable) is simply
 * not reported.
 *
 * Needs seccomp user notification with SECCOMP_USER_NOTIF_FLAG_CONTINUE
 * (Linux 5.5); without it nothing is observed and nothing else changes. */
#ifndef SFC_OBSERVE_H
#define SFC_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

struct sfc_sandbox;

struct sfc_observer {
	int sock[2];        /* the payload passes its listener over sock[1] */
	int listener;
	bool network;       /* also watch connect/sendto (network is not allow) */
	size_t reported;
	/* the payload hook that was there before (chained) */
	int (*prev_hook)(struct sfc_sandbox *sb, void *data, struct sfc_error *e);
	void *prev_data;
	void *notif, *resp; /* buffers of the kernel's sizes */
	unsigned short notif_size, resp_size;
};

/* Observe SB's payload (call after sfc_sandbox_prepare and after any
 * other payload hook is set).  Returns 0, or < 0 if this kernel cannot. */
int sfc_observe_attach(struct sfc_observer *o, struct sfc_sandbox *sb);
void sfc_observe_close(struct sfc_observer *o);

#endif

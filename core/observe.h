/* Observing writes the sandbox's shape refuses: a write to a read-only
 * place fails with EROFS and, unlike a denied system call, leaves no trace
 * anywhere.  A build that fails that way should say which recipe tried to
 * write where (sefaca-make names the target).
 *
 * The calls that can write to the filesystem (open and openat with a flag
 * that writes, creat, mkdir, unlink, rename, link, symlink, mknod,
 * truncate, openat2) go, through a prefix on the violation-report filter
 * (core/notify.c, one listener per filter chain), to the supervisor as
 * user notifications.  It looks at the call's target -- the path resolved
 * inside the sandbox's own root, never following magic links, and the
 * mount it lands on -- records write_denied when that mount is read-only,
 * and always lets the call continue: the kernel decides and returns its
 * own error; this only tells what happened.  A target that cannot be
 * looked at (the process is gone, not dumpable, a path through a deleted
 * directory) is not reported.  Cost: about 10 us per such call, none for
 * the others (reads, stat, the rest of the build). */
#ifndef SFC_OBSERVE_H
#define SFC_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>

struct sock_filter;
struct seccomp_notif;
struct sfc_result;

/* The filter prefix: calls of the native ABI that write to the filesystem
 * (and connect(2) with CONNECT) return SECCOMP_RET_USER_NOTIF; everything
 * else falls through to what follows the prefix.  Forward jumps only.
 * Writes at most MAX instructions to OUT; returns how many, 0 if this
 * architecture is not supported (then nothing is observed). */
unsigned sfc_observe_prefix(struct sock_filter *out, unsigned max, bool connect);
/* Is NR one of the calls the prefix sends to the supervisor for writing? */
bool sfc_observe_traps(int nr);
/* Supervisor: look at the notified call REQ (LISTENER: the seccomp listener,
 * to check the request is still valid after reading the caller's memory)
 * and record a write_denied violation in RES if its target is read-only.
 * The caller answers the notification (CONTINUE). */
void sfc_observe_write(int listener, const struct seccomp_notif *req, struct sfc_result *res);

#endif

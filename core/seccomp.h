/* The seccomp layer: filters compiled by libseccomp at build time
 * (scripts/seccomp-gen.c), installed here as the last step before exec. */
#ifndef SFC_SECCOMP_H
#define SFC_SECCOMP_H

#include <stdbool.h>

#include "core/error.h"
#include "core/spec.h"

enum sfc_seccomp_action {
	SFC_SECCOMP_ERRNO,  /* denied calls fail with EPERM (ENOSYS for clone3, EAFNOSUPPORT for sockets) */
	SFC_SECCOMP_NOTIFY, /* denied calls go to the supervisor (user notification), which answers EPERM */
	SFC_SECCOMP_LOG,    /* denied calls are logged by the kernel and allowed (learning mode) */
};

/* Is a seccomp layer compiled in? */
bool sfc_seccomp_compiled(void);
/* Install the filter for LEVEL.  Requires no_new_privs to be set already.
 * Returns 0, or for SFC_SECCOMP_NOTIFY the listener fd (> 0), or -errno. */
int sfc_seccomp_install(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act, struct sfc_error *e);
/* Name of a syscall the filter can deny, or NULL. */
const char *sfc_seccomp_syscall_name(int nr);
/* The BPF program of a variant (LEN instructions), NULL if none: for
 * core/notify.c, which evaluates and extends them. */
struct sock_filter;
const struct sock_filter *sfc_seccomp_filter(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act,
					     unsigned *len);
/* Number of BPF instructions of a variant (for --explain); 0 if none. */
unsigned sfc_seccomp_filter_len(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act);

#endif

/* Resource limits.  rlimits here; cgroup v2 where a delegated subtree exists. */
#ifndef SFC_LIMITS_H
#define SFC_LIMITS_H

#include "core/error.h"
#include "core/spec.h"

/* Apply the spec's limits as rlimits to the calling process (the payload,
 * before exec): memory -> RLIMIT_AS, pids -> RLIMIT_NPROC (counted per user
 * namespace since Linux 5.14, so it bounds the sandbox, not the user),
 * nofile -> RLIMIT_NOFILE, fsize -> RLIMIT_FSIZE.  Never raises a limit. */
int sfc_limits_apply_rlimits(const struct sfc_spec *spec, struct sfc_error *e);
/* The same, leaving out what a cgroup enforces (SKIP: SFC_CG_MEMORY, SFC_CG_PIDS). */
int sfc_limits_apply(const struct sfc_spec *spec, unsigned skip, struct sfc_error *e);

#endif

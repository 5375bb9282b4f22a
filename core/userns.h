/* User namespace: the payload's ids map to the caller's; no setuid helper. */
#ifndef SFC_USERNS_H
#define SFC_USERNS_H

#include <sys/types.h>

#include "core/error.h"

/* Called by the sandbox's first process right after clone(CLONE_NEWUSER):
 * map INSIDE_UID -> OUTSIDE_UID and INSIDE_GID -> OUTSIDE_GID (one id each,
 * which an unprivileged process may write for itself), setgroups denied. */
int sfc_userns_map_self(uid_t inside_uid, uid_t outside_uid, gid_t inside_gid, gid_t outside_gid,
			struct sfc_error *e);

#endif

#include "core/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "core/util.h"

int sfc_userns_map_self(uid_t in_uid, uid_t out_uid, gid_t in_gid, gid_t out_gid, struct sfc_error *e)
{
	char buf[64];
	int r;

	/* setgroups must be denied before an unprivileged gid_map is accepted
	 * (user_namespaces(7)); it also keeps the payload from dropping a
	 * supplementary group that a host ACL uses to deny it. */
	r = sfc_write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny");
	if (r < 0 && r != -ENOENT)
		return sfc_err(e, -r, "write /proc/self/setgroups");
	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)in_uid, (unsigned)out_uid);
	if ((r = sfc_write_file_at(AT_FDCWD, "/proc/self/uid_map", buf)) < 0)
		return sfc_err(e, -r, "write /proc/self/uid_map");
	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)in_gid, (unsigned)out_gid);
	if ((r = sfc_write_file_at(AT_FDCWD, "/proc/self/gid_map", buf)) < 0)
		return sfc_err(e, -r, "write /proc/self/gid_map");
	return 0;
}

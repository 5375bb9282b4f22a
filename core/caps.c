#include "core/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/kernel.h"

/* The bounding set is what a uid 0 inside would get back on execve: it
 * must be empty.  Dropped with prctl directly, up to the first capability
 * the kernel does not know (EINVAL): libcap-ng's bounding-set path re-reads
 * /proc/PID/status first, ~130 us on every sandbox start.  The kernel may
 * know a few fewer than our headers (CAP_LAST_CAP); an EINVAL far below
 * that is not the end of its list but a failure. */
static int drop_bounding(struct sfc_error *e)
{
	for (long c = 0;; c++) {
		long r = sfc_raw_syscall(SYS_prctl, PR_CAPBSET_DROP, c, 0, 0);
		if (r == -EINVAL && c > CAP_LAST_CAP - 8)
			return 0;
		if (r < 0)
			return sfc_err(e, (int)-r, "cannot drop capability %ld from the bounding set", c);
	}
}

#if ENABLE_FEATURE_CAPNG
#include <cap-ng.h>

static int drop_sets(struct sfc_error *e)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT) < 0)
		return sfc_err(e, errno ? errno : EPERM, "capng_apply: cannot drop capabilities");
	return 0;
}

#else /* raw prctl/capset: the same sets, without libcap-ng */

static int drop_sets(struct sfc_error *e)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return sfc_err(e, errno, "cannot clear ambient capabilities");
	if (syscall(SYS_capset, &h, d) < 0)
		return sfc_err(e, errno, "capset: cannot drop capabilities");
	return 0;
}
#endif

int sfc_caps_drop_all(struct sfc_error *e)
{
	int r = drop_bounding(e);

	return r < 0 ? r : drop_sets(e);
}

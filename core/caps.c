#include "core/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"

static int last_cap(void)
{
	/* PR_CAPBSET_READ fails with EINVAL past the last capability the kernel knows. */
	int c = CAP_LAST_CAP;
	while (prctl(PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0)
		c++;
	return c;
}

/* The bounding set is what a uid 0 inside would get back on execve: it
 * must be empty.  Dropped with prctl directly: libcap-ng's bounding-set
 * path re-reads /proc/PID/status first, ~130 us on every sandbox start. */
static int drop_bounding(struct sfc_error *e)
{
	int last = last_cap();

	for (int c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return sfc_err(e, errno, "cannot drop capability %d from the bounding set", c);
	return 0;
}

#if ENABLE_FEATURE_CAPNG
#include <cap-ng.h>

int sfc_caps_drop_all(struct sfc_error *e)
{
	int r;

	if ((r = drop_bounding(e)) < 0)
		return r;
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT) < 0)
		return sfc_err(e, errno ? errno : EPERM, "capng_apply: cannot drop capabilities");
	return 0;
}

#else /* raw prctl/capset: the same sets, without libcap-ng */

int sfc_caps_drop_all(struct sfc_error *e)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	int r;

	if ((r = drop_bounding(e)) < 0)
		return r;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return sfc_err(e, errno, "cannot clear ambient capabilities");
	if (syscall(SYS_capset, &h, d) < 0)
		return sfc_err(e, errno, "capset: cannot drop capabilities");
	return 0;
}
#endif

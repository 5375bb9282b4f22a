#include "core/limits.h"

#include <errno.h>
#include <sys/resource.h>

#include "core/cgroup.h"

static int lower(int res, const char *name, uint64_t v, struct sfc_error *e)
{
	struct rlimit rl;

	if (!v)
		return 0;
	if (getrlimit(res, &rl) < 0)
		return sfc_err(e, errno, "getrlimit %s", name);
	/* Only ever lower: a sandbox never gets more than its caller had. */
	if (rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	if (setrlimit(res, &rl) < 0)
		return sfc_err(e, errno, "setrlimit %s", name);
	return 0;
}

int sfc_limits_apply_rlimits(const struct sfc_spec *spec, struct sfc_error *e)
{
	return sfc_limits_apply(spec, 0, e);
}

int sfc_limits_apply(const struct sfc_spec *spec, unsigned skip, struct sfc_error *e)
{
	int r;

	if ((r = lower(RLIMIT_AS, "RLIMIT_AS (memory)", skip & SFC_CG_MEMORY ? 0 : spec->memory, e)) < 0 ||
	    (r = lower(RLIMIT_NPROC, "RLIMIT_NPROC (pids)", skip & SFC_CG_PIDS ? 0 : spec->pids, e)) < 0 ||
	    (r = lower(RLIMIT_NOFILE, "RLIMIT_NOFILE (nofile)", spec->nofile, e)) < 0 ||
	    (r = lower(RLIMIT_FSIZE, "RLIMIT_FSIZE (fsize)", spec->fsize, e)) < 0)
		return r;
	return 0;
}

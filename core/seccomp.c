#include "core/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"

#if ENABLE_FEATURE_SECCOMP
#include "seccomp_bpf.h"

static const struct sfc_bpf_variant *variant(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act)
{
	for (size_t i = 0; i < sizeof(sfc_bpf_variants) / sizeof(sfc_bpf_variants[0]); i++) {
		const struct sfc_bpf_variant *v = &sfc_bpf_variants[i];
		if (v->level == (int)level && v->nested == (int)nested && v->action == (int)act)
			return v;
	}
	return NULL;
}

bool sfc_seccomp_compiled(void)
{
	return true;
}

int sfc_seccomp_install(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act, struct sfc_error *e)
{
	const struct sfc_bpf_variant *v = variant(level, nested, act);
	struct sock_fprog prog;
	unsigned flags = 0;
	long r;

	if (!v && act != SFC_SECCOMP_ERRNO && !ENABLE_FEATURE_SECCOMP_REPORT)
		return sfc_err(e, ENOTSUP, "seccomp: %s filters were compiled out of this build (FEATURE_SECCOMP_REPORT)",
			       act == SFC_SECCOMP_NOTIFY ? "notifying" : "logging");
	if (!v && nested && !ENABLE_FEATURE_NESTED)
		return sfc_err(e, ENOTSUP, "nested sandboxes (--allow-nested) were compiled out of this build "
					   "(FEATURE_NESTED)");
	if (!v)
		return sfc_err(e, ENOTSUP, "seccomp: no filter for level %s", sfc_seclevel_name(level));
	prog.len = v->len;
	prog.filter = (struct sock_filter *)v->prog;
	if (act == SFC_SECCOMP_NOTIFY)
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0) {
		if (errno == ENOSYS || errno == EINVAL)
			return sfc_err(e, errno, "seccomp: the kernel refused the filter (CONFIG_SECCOMP_FILTER%s)",
				       act == SFC_SECCOMP_NOTIFY ? ", user notification needs Linux 5.0" : "");
		return sfc_err(e, errno, "seccomp");
	}
	return (int)r;
}

const char *sfc_seccomp_syscall_name(int nr)
{
#if ENABLE_FEATURE_SECCOMP_REPORT
	for (size_t i = 0; i < sizeof(sfc_denied_syscalls) / sizeof(sfc_denied_syscalls[0]); i++)
		if (sfc_denied_syscalls[i].nr == nr)
			return sfc_denied_syscalls[i].name;
#endif
	return NULL;
}

unsigned sfc_seccomp_filter_len(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act)
{
	const struct sfc_bpf_variant *v = variant(level, nested, act);
	return v ? v->len : 0;
}

const struct sock_filter *sfc_seccomp_filter(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act,
					     unsigned *len)
{
	const struct sfc_bpf_variant *v = variant(level, nested, act);
	*len = v ? v->len : 0;
	return v ? v->prog : NULL;
}

#else /* !ENABLE_FEATURE_SECCOMP: fail closed, never a silent no-op */

bool sfc_seccomp_compiled(void)
{
	return false;
}

int sfc_seccomp_install(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act, struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "seccomp was compiled out of this build (FEATURE_SECCOMP)");
}

const char *sfc_seccomp_syscall_name(int nr)
{
	return NULL;
}

unsigned sfc_seccomp_filter_len(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act)
{
	return 0;
}

const struct sock_filter *sfc_seccomp_filter(enum sfc_seclevel level, bool nested, enum sfc_seccomp_action act,
					     unsigned *len)
{
	*len = 0;
	return NULL;
}
#endif

#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int vset(struct sfc_error *e, int status, int err, const char *fmt, va_list ap)
{
	int n;

	if (err < 0)
		err = -err;
	e->err = err;
	e->status = status;
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (n < 0)
		n = 0;
	if (err && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(err));
	return err ? -err : -EINVAL;
}

int sfc_err(struct sfc_error *e, int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(e, 125, err, fmt, ap);
	va_end(ap);
	return r;
}

int sfc_err_status(struct sfc_error *e, int status, int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(e, status, err, fmt, ap);
	va_end(ap);
	return r;
}

void sfc_err_prefix(struct sfc_error *e, const char *fmt, ...)
{
	char pre[512], old[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", pre, old);
}

void sfc_err_clear(struct sfc_error *e)
{
	e->err = 0;
	e->status = 0;
	e->msg[0] = 0;
}

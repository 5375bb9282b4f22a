/* glibc entry points for a musl build.
 *
 * Debian ships libcap-ng, inih and json-c built against glibc.  Their
 * static archives are plain C and link against musl, except that
 * _FORTIFY_SOURCE turned some calls into glibc's checked variants
 * (__snprintf_chk...) and scanf into __isoc99_sscanf.  These forward to
 * the plain functions; the bounds the checked variants would verify are
 * the ones the callers already pass. */
#include <features.h> /* defines __GLIBC__ under glibc: the shims are for musl only */
#ifndef __GLIBC__
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

int __snprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, ...);
int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...);
int __printf_chk(int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __asprintf_chk(char **s, int flag, const char *fmt, ...);
int __vsnprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __vasprintf_chk(char **s, int flag, const char *fmt, va_list ap);
void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);
char *__strcat_chk(char *d, const char *s, size_t dlen);
int __isoc99_sscanf(const char *s, const char *fmt, ...);

int __snprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vsnprintf(s, n, fmt, ap);
	va_end(ap);
	return r;
}

int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vsnprintf(s, slen, fmt, ap);
	va_end(ap);
	return r;
}

int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int __asprintf_chk(char **s, int flag, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vasprintf(s, fmt, ap);
	va_end(ap);
	return r;
}

int __vsnprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, va_list ap)
{
	return vsnprintf(s, n, fmt, ap);
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	return vfprintf(f, fmt, ap);
}

int __vasprintf_chk(char **s, int flag, const char *fmt, va_list ap)
{
	return vasprintf(s, fmt, ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	vsyslog(pri, fmt, ap);
}

char *__strcat_chk(char *d, const char *s, size_t dlen)
{
	return strcat(d, s);
}

int __isoc99_sscanf(const char *s, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vsscanf(s, fmt, ap);
	va_end(ap);
	return r;
}

/* glibc's ctype macros (isspace... in inih) index a table of class bits
 * through __ctype_b_loc(); musl has no such table.  Bits as glibc lays
 * them out on a little-endian machine; indexes -128..255, C locale. */
const unsigned short **__ctype_b_loc(void);
const unsigned short **__ctype_b_loc(void)
{
	static unsigned short table[384];
	static const unsigned short *ptr;

	if (!ptr) {
		for (int c = 0; c < 128; c++) {
			unsigned short b = 0;
			b |= isupper(c) ? 0x100 : 0;
			b |= islower(c) ? 0x200 : 0;
			b |= isalpha(c) ? 0x400 : 0;
			b |= isdigit(c) ? 0x800 : 0;
			b |= isxdigit(c) ? 0x1000 : 0;
			b |= isspace(c) ? 0x2000 : 0;
			b |= isprint(c) ? 0x4000 : 0;
			b |= isgraph(c) ? 0x8000 : 0;
			b |= isblank(c) ? 0x1 : 0;
			b |= iscntrl(c) ? 0x2 : 0;
			b |= ispunct(c) ? 0x4 : 0;
			b |= isalnum(c) ? 0x8 : 0;
			table[128 + c] = b;
		}
		ptr = table + 128;
	}
	return &ptr;
}
#else
typedef int sfc_compat_unused; /* ISO C wants a non-empty unit */
#endif

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
/* glibc's out-of-line makedev/major/minor, called by libarchive's archive_entry.o */
unsigned long long gnu_dev_makedev(unsigned int maj, unsigned int min);
unsigned int gnu_dev_major(unsigned long long dev);
unsigned int gnu_dev_minor(unsigned long long dev);

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

unsigned long long gnu_dev_makedev(unsigned int maj, unsigned int min)
{
	return ((unsigned long long)(maj & 0xfffff000u) << 32) | ((unsigned long long)(maj & 0xfffu) << 8) |
	       ((unsigned long long)(min & 0xffffff00u) << 12) | (min & 0xffu);
}

unsigned int gnu_dev_major(unsigned long long dev)
{
	return (unsigned int)(((dev >> 32) & 0xfffff000u) | ((dev >> 8) & 0xfffu));
}

unsigned int gnu_dev_minor(unsigned long long dev)
{
	return (unsigned int)(((dev >> 12) & 0xffffff00u) | (dev & 0xffu));
}

#include "autoconf.h"
#if ENABLE_FEATURE_IMAGES
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
/* libarchive's pax writer (sefaca-container export) calls this helper,
 * which libarchive keeps in archive_write_set_format.o next to the table
 * of every format: linking that member would pull the xar, 7zip and iso9660
 * writers and with them libxml2, bzip2 and crypto into the static binary.
 * The same job, here: refuse the entry with a message. */
void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry, const char *format);
void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry, const char *format)
{
	archive_set_error(a, EILSEQ, "%s: %s cannot store this type of file", archive_entry_pathname(entry), format);
}

/* liblzma's own lzma_crc64 (crc64_fast.o) chooses its CPU code in a
 * constructor (CPUID: a hypervisor exit on a VM), which every process of
 * the multi-call binary would run, sefaca-run's included (+22 us per start
 * measured).  Defining the function here keeps that member out of the
 * link.  CRC-64 as xz uses it (ECMA-182, reflected, polynomial
 * 0xC96C5795D7870F42); an .xz layer whose check this gets wrong does not
 * unpack (tests/applets/container.test unpacks one made by xz). */
#include <stddef.h>
#include <stdint.h>
uint64_t lzma_crc64(const uint8_t *buf, size_t size, uint64_t crc);
uint64_t lzma_crc64(const uint8_t *buf, size_t size, uint64_t crc)
{
	static uint64_t table[256];
	static int ready;

	if (!ready) {
		for (uint64_t i = 0; i < 256; i++) {
			uint64_t r = i;
			for (int k = 0; k < 8; k++)
				r = (r >> 1) ^ (r & 1 ? 0xC96C5795D7870F42ULL : 0);
			table[i] = r;
		}
		ready = 1;
	}
	crc = ~crc;
	while (size--)
		crc = table[(crc ^ *buf++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
#endif
#else
typedef int sfc_compat_unused; /* ISO C wants a non-empty unit */
#endif

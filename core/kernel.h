/* Thin wrappers for syscalls that libcs wrap late or not at all
 * (mount_setattr, openat2, pivot_root, close_range), with the constants we use,
 * so the same code builds against glibc and musl. */
#ifndef SFC_KERNEL_H
#define SFC_KERNEL_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif

#define SFC_AT_RECURSIVE 0x8000
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#define SFC_MOUNT_ATTR_RDONLY 0x01
#define SFC_MOUNT_ATTR_NOSUID 0x02
#define SFC_MOUNT_ATTR_NODEV 0x04
#define SFC_MOUNT_ATTR_NOEXEC 0x08
#define SFC_RESOLVE_NO_XDEV 0x01
#define SFC_RESOLVE_NO_MAGICLINKS 0x02
#define SFC_RESOLVE_NO_SYMLINKS 0x04
#define SFC_RESOLVE_BENEATH 0x08
#define SFC_RESOLVE_IN_ROOT 0x10

struct sfc_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct sfc_open_how {
	uint64_t flags, mode, resolve;
};

static inline int sfc_mount_setattr(int dfd, const char *path, unsigned flags, uint64_t set, uint64_t clr)
{
	struct sfc_mount_attr a = { set, clr, 0, 0 };
	return syscall(__NR_mount_setattr, dfd, path, flags, &a, sizeof(a));
}
static inline int sfc_openat2(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct sfc_open_how how = { flags, 0, resolve };
	return syscall(__NR_openat2, dfd, path, &how, sizeof(how));
}
static inline int sfc_pivot_root(const char *new_root, const char *put_old)
{
	return syscall(SYS_pivot_root, new_root, put_old);
}
static inline int sfc_close_range(unsigned first, unsigned last, unsigned flags)
{
	return syscall(__NR_close_range, first, last, flags);
}

/* System calls that return -errno and leave errno (and everything else of
 * the C library's) alone.  The sandbox's init shares the supervisor's
 * memory while the payload runs (core/sandbox.c), its thread-local errno
 * included: once the supervisor runs again, init makes no call through
 * the C library.  Where there is no such helper, init is a copy of the
 * supervisor as before (SFC_RAW_SYSCALL 0). */
#if defined(__x86_64__) && !defined(__ILP32__)
#define SFC_RAW_SYSCALL 1
static inline long sfc_raw_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
#define SFC_RAW_SYSCALL 1
static inline long sfc_raw_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory", "cc");
	return x0;
}
#else
#define SFC_RAW_SYSCALL 0
#include <errno.h>
static inline long sfc_raw_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	long r = syscall(n, a, b, c, d, e, f);
	return r < 0 ? -errno : r;
}
#endif
static inline long sfc_raw_syscall(long n, long a, long b, long c, long d)
{
	return sfc_raw_syscall6(n, a, b, c, d, 0, 0);
}

#endif

/*
 * probe: a static helper the tests run inside sandboxes.  Each subcommand
 * tries one thing and prints what happened on stdout, one line each:
 *
 *   probe sys NAME...     call syscall NAME with bad arguments: prints
 *                         "NAME ERRNO" (EPERM/ENOSYS/EAFNOSUPPORT from the
 *                         filter, EFAULT/EBADF/EINVAL... from the kernel)
 *   probe int80           i386 getpid via int 0x80 (killed if filtered)
 *   probe x32             x32 getpid (killed if filtered)
 *   probe socket FAM      socket(FAM, ...) for alg, vsock, packet, key, inet...
 *   probe connect IP PORT TCP connect
 *   probe tiocsti FD HIGH TIOCSTI on FD (HIGH=1: with bits above 32 set)
 *   probe threads         pthread_create + posix_spawn of /bin/true
 *   probe fds             open descriptors other than 0 1 2
 *   probe nested          unshare(CLONE_NEWUSER), clone(CLONE_NEWUSER), setns
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef __NR_fspick
#define __NR_fspick 433
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static const char *ename(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ESRCH: return "ESRCH";
	case ENOTTY: return "ENOTTY";
	case EIO: return "EIO";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENETUNREACH: return "ENETUNREACH";
	case EROFS: return "EROFS";
	case ENOSPC: return "ENOSPC";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EUSERS: return "EUSERS";
	case ENOTDIR: return "ENOTDIR";
	default: {
		static char b[32];
		snprintf(b, sizeof(b), "E%d", e);
		return b;
	}
	}
}

#define BAD ((long)0x10)      /* an unmapped address */
#define BADFD ((long)-1)

/* name, number, arguments chosen so that the kernel (unfiltered) fails with
 * something other than EPERM/ENOSYS where it can. */
struct call {
	const char *name;
	long nr;
	long a[6];
};
static const struct call calls[] = {
	{ "keyctl", SYS_keyctl, { 9999, 0, 0, 0, 0, 0 } },
	{ "add_key", SYS_add_key, { BAD, BAD, BAD, 1, 0, 0 } },
	{ "request_key", SYS_request_key, { BAD, BAD, BAD, 0, 0, 0 } },
	{ "bpf", SYS_bpf, { 9999, BAD, 16, 0, 0, 0 } },
	{ "perf_event_open", SYS_perf_event_open, { BAD, 0, -1, -1, 0, 0 } },
	{ "userfaultfd", SYS_userfaultfd, { 1 /* UFFD_USER_MODE_ONLY */ | 0x40000000, 0, 0, 0, 0, 0 } },
	{ "kexec_load", SYS_kexec_load, { 0, 0, BAD, 0, 0, 0 } },
	{ "init_module", SYS_init_module, { BAD, 16, BAD, 0, 0, 0 } },
	{ "finit_module", SYS_finit_module, { BADFD, BAD, 0, 0, 0, 0 } },
	{ "delete_module", SYS_delete_module, { BAD, 0, 0, 0, 0, 0 } },
	{ "iopl", SYS_iopl, { 3, 0, 0, 0, 0, 0 } },
	{ "ioperm", SYS_ioperm, { 0, 1, 1, 0, 0, 0 } },
	{ "swapon", SYS_swapon, { BAD, 0, 0, 0, 0, 0 } },
	{ "reboot", SYS_reboot, { 0, 0, 0, BAD, 0, 0 } },
	{ "acct", SYS_acct, { BAD, 0, 0, 0, 0, 0 } },
	{ "open_by_handle_at", SYS_open_by_handle_at, { BADFD, BAD, 0, 0, 0, 0 } },
	{ "name_to_handle_at", SYS_name_to_handle_at, { BADFD, BAD, BAD, BAD, 0, 0 } },
	{ "syslog", SYS_syslog, { 3, BAD, 16, 0, 0, 0 } },
	{ "quotactl", SYS_quotactl, { 0, BAD, 0, BAD, 0, 0 } },
	{ "modify_ldt", SYS_modify_ldt, { 99, 0, 0, 0, 0, 0 } },
	{ "io_uring_setup", __NR_io_uring_setup, { 1, BAD, 0, 0, 0, 0 } },
	{ "mount", SYS_mount, { BAD, BAD, BAD, 0, 0, 0 } },
	{ "umount2", SYS_umount2, { BAD, 0, 0, 0, 0, 0 } },
	{ "pivot_root", SYS_pivot_root, { BAD, BAD, 0, 0, 0, 0 } },
	{ "fsopen", __NR_fsopen, { BAD, 0, 0, 0, 0, 0 } },
	{ "fsconfig", __NR_fsconfig, { BADFD, 0, 0, 0, 0, 0 } },
	{ "fsmount", __NR_fsmount, { BADFD, 0, 0, 0, 0, 0 } },
	{ "fspick", __NR_fspick, { BADFD, BAD, 0, 0, 0, 0 } },
	{ "open_tree", __NR_open_tree, { BADFD, BAD, 0, 0, 0, 0 } },
	{ "move_mount", __NR_move_mount, { BADFD, BAD, BADFD, BAD, 0, 0 } },
	{ "mount_setattr", __NR_mount_setattr, { BADFD, BAD, 0, BAD, 32, 0 } },
	{ "setns", SYS_setns, { BADFD, 0, 0, 0, 0, 0 } },
	{ "unshare_user", SYS_unshare, { CLONE_NEWUSER, 0, 0, 0, 0, 0 } },
	{ "unshare_net", SYS_unshare, { CLONE_NEWNET, 0, 0, 0, 0, 0 } },
	{ "unshare_files", SYS_unshare, { CLONE_FILES, 0, 0, 0, 0, 0 } },
	{ "clone3", __NR_clone3, { BAD, 88, 0, 0, 0, 0 } },
	{ "ptrace", SYS_ptrace, { PTRACE_PEEKDATA, 0, 0, 0, 0, 0 } },
	{ "process_vm_readv", SYS_process_vm_readv, { 0, BAD, 1, BAD, 1, 0 } },
	{ "personality_query", SYS_personality, { 0xffffffff, 0, 0, 0, 0, 0 } },
	{ "personality_linux32", SYS_personality, { 0x0008, 0, 0, 0, 0, 0 } },
	{ "personality_norandom", SYS_personality, { 0x0040000, 0, 0, 0, 0, 0 } },
	{ "personality_highbits", SYS_personality, { 0x100000000L, 0, 0, 0, 0, 0 } },
	{ "tiocsti", SYS_ioctl, { BADFD, TIOCSTI, BAD, 0, 0, 0 } },
	{ "tiocsti_high", SYS_ioctl, { BADFD, 0x100000000L | TIOCSTI, BAD, 0, 0, 0 } },
	{ "tioclinux", SYS_ioctl, { BADFD, TIOCLINUX, BAD, 0, 0, 0 } },
	{ "tcgets", SYS_ioctl, { BADFD, TCGETS, BAD, 0, 0, 0 } },
	{ "chroot", SYS_chroot, { BAD, 0, 0, 0, 0, 0 } },
	{ "getpid", SYS_getpid, { 0, 0, 0, 0, 0, 0 } },
};

static int do_sys(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const struct call *c = NULL;
		for (size_t j = 0; j < sizeof(calls) / sizeof(calls[0]); j++)
			if (!strcmp(calls[j].name, argv[i]))
				c = &calls[j];
		if (!c) {
			printf("%s unknown\n", argv[i]);
			continue;
		}
		errno = 0;
		long r = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
		printf("%s %s\n", c->name, r < 0 ? ename(errno) : "OK");
		fflush(stdout);
	}
	return 0;
}

static int do_int80(void)
{
	long r;
	/* getpid is 20 in the i386 table */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	printf("int80 returned %ld\n", r);
	return 0;
}

static int do_x32(void)
{
	long r = syscall(0x40000000L | SYS_getpid);
	printf("x32 returned %ld %s\n", r, r < 0 ? ename(errno) : "");
	return 0;
}

static int family(const char *s)
{
	if (!strcmp(s, "alg")) return 38;
	if (!strcmp(s, "vsock")) return 40;
	if (!strcmp(s, "packet")) return AF_PACKET;
	if (!strcmp(s, "key")) return 15;
	if (!strcmp(s, "inet")) return AF_INET;
	if (!strcmp(s, "inet6")) return AF_INET6;
	if (!strcmp(s, "unix")) return AF_UNIX;
	if (!strcmp(s, "netlink")) return AF_NETLINK;
	if (!strcmp(s, "bluetooth")) return 31;
	if (!strcmp(s, "can")) return 29;
	return atoi(s);
}

static int do_socket(const char *f)
{
	int fam = family(f), types[] = { SOCK_SEQPACKET, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW }, err = 0;
	for (unsigned i = 0; i < 4; i++) {
		int fd = socket(fam, types[i], 0);
		if (fd >= 0) {
			printf("socket %s OK\n", f);
			return 0;
		}
		if (!err || errno == EAFNOSUPPORT || errno == EPERM)
			err = errno;
	}
	printf("socket %s %s\n", f, ename(err));
	return 0;
}

static int do_connect(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		printf("connect %s\n", ename(errno));
		return 0;
	}
	inet_pton(AF_INET, ip, &a.sin_addr);
	printf("connect %s\n", connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? "OK" : ename(errno));
	return 0;
}

static int do_tiocsti(int fd, int high)
{
	char c = 'X';
	unsigned long req = TIOCSTI | (high ? 0xdead00000000UL : 0);
	long r = syscall(SYS_ioctl, fd, req, &c);
	printf("tiocsti %s\n", r < 0 ? ename(errno) : "OK");
	return 0;
}

static void *thr(void *a)
{
	return a;
}

static int do_threads(void)
{
	pthread_t t;
	pid_t pid;
	int st;
	char *av[] = { "true", NULL };
	extern char **environ;

	if (pthread_create(&t, NULL, thr, NULL) != 0) {
		printf("threads pthread_create failed\n");
		return 1;
	}
	pthread_join(t, NULL);
	if (posix_spawnp(&pid, "true", NULL, NULL, av, environ) != 0) {
		printf("threads posix_spawn failed\n");
		return 1;
	}
	waitpid(pid, &st, 0);
	printf("threads OK\n");
	return 0;
}

static int do_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self = dirfd(d), n = 0;

	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		char path[256], tgt[256];
		ssize_t k;
		if (de->d_name[0] == '.' || fd <= 2 || fd == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		k = readlink(path, tgt, sizeof(tgt) - 1);
		tgt[k > 0 ? k : 0] = 0;
		printf("fd %d %s\n", fd, tgt);
		n++;
	}
	closedir(d);
	printf("fds %d\n", n);
	return 0;
}

static int child_fn(void *a __attribute__((unused)))
{
	return 0;
}

static int do_nested(void)
{
	static char stack[16384];
	int fd;
	printf("unshare %s\n", unshare(CLONE_NEWUSER) == 0 ? "OK" : ename(errno));
	pid_t p = clone(child_fn, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD, NULL);
	if (p > 0)
		waitpid(p, NULL, 0);
	printf("clone %s\n", p > 0 ? "OK" : ename(errno));
	fd = open("/proc/self/ns/user", O_RDONLY);
	printf("setns %s\n", setns(fd, CLONE_NEWUSER) == 0 ? "OK" : ename(errno));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "sys"))
		return do_sys(argc - 2, argv + 2);
	if (!strcmp(argv[1], "int80"))
		return do_int80();
	if (!strcmp(argv[1], "x32"))
		return do_x32();
	if (!strcmp(argv[1], "socket") && argc > 2)
		return do_socket(argv[2]);
	if (!strcmp(argv[1], "connect") && argc > 3)
		return do_connect(argv[2], argv[3]);
	if (!strcmp(argv[1], "tiocsti") && argc > 3)
		return do_tiocsti(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "threads"))
		return do_threads();
	if (!strcmp(argv[1], "fds"))
		return do_fds();
	if (!strcmp(argv[1], "nested"))
		return do_nested();
	return 2;
}

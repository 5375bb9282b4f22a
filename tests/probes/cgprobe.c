/*
 * cgprobe: what the resource-limit tests run inside sandboxes (and one
 * helper outside).  Each subcommand prints what happened on stdout.
 *
 *   cgprobe hog MIB         allocate and touch MIB MiB, 1 MiB at a time;
 *                           prints "allocated N" every 16 MiB, "done N";
 *                           exit 3 if malloc fails (an rlimit), else 0
 *   cgprobe alloc MIB       the same (named for usage-figure tests)
 *   cgprobe forkbomb SECS   fork children that sleep until SECS pass;
 *                           prints "forked N first-error ERRNO"
 *   cgprobe spin SECS       burn CPU for SECS seconds of wall time; prints
 *                           "share X.XX" (CPU time / wall time)
 *   cgprobe children N      fork N children that sleep 1 s, wait for them
 *   cgprobe escape DIR      try to reach the cgroup hierarchy from inside
 *                           (SECURITY.md 9): mount cgroup2 at DIR, and with
 *                           nested namespaces allowed do so in a new user,
 *                           mount and cgroup namespace; try to raise limits
 *                           and to move out.  Prints one line per attempt
 *                           and "ESCAPED ..." if anything got through.
 *   cgprobe noclone3 CMD... run CMD under a seccomp filter that makes clone3
 *                           fail with ENOSYS (as an outer container's
 *                           filter would), to exercise the fallback
 *   cgprobe unixsock PATH   create a listening unix socket at PATH and
 *                           sleep (a stand-in for systemd's private socket)
 *   cgprobe setxattr PATH NAME VALUE   (as systemd marks delegated cgroups)
 *   cgprobe dwrite FD MIB   write MIB MiB to descriptor FD (a block device)
 *                           with O_DIRECT, past the page cache, and print
 *                           "dwrite N MiB in S s"
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int hog(long mib)
{
	long n;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (n = 0; n < mib; n++) {
		char *p = malloc(1 << 20);
		if (!p) {
			printf("malloc failed at %ld\n", n);
			return 3;
		}
		memset(p, 0x5a, 1 << 20);
		if (n % 16 == 15)
			printf("allocated %ld\n", n + 1);
	}
	printf("done %ld\n", n);
	return 0;
}

static int forkbomb(int secs)
{
	double end = now(CLOCK_MONOTONIC) + secs;
	int n = 0, first = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	while (now(CLOCK_MONOTONIC) < end) {
		pid_t p = fork();
		if (p == 0) {
			while (now(CLOCK_MONOTONIC) < end)
				usleep(10000);
			_exit(0);
		}
		if (p < 0) {
			if (!first)
				first = errno;
			usleep(1000);
			continue;
		}
		n++;
	}
	printf("forked %d first-error %s\n", n, first == EAGAIN ? "EAGAIN" : first ? strerror(first) : "none");
	while (wait(NULL) > 0)
		;
	return 0;
}

static int spin(double secs)
{
	double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	volatile unsigned long x = 0;

	while (now(CLOCK_MONOTONIC) - w0 < secs)
		for (int i = 0; i < 100000; i++)
			x += i;
	printf("share %.2f\n", (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / (now(CLOCK_MONOTONIC) - w0));
	return 0;
}

static int children(int n)
{
	for (int i = 0; i < n; i++)
		if (fork() == 0) {
			sleep(1);
			_exit(0);
		}
	while (wait(NULL) > 0)
		;
	return 0;
}

static int escaped;

static void try_write(const char *dir, const char *file, const char *val)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		printf("open %s: %s\n", path, strerror(errno));
		return;
	}
	if (write(fd, val, strlen(val)) < 0) {
		printf("write %s: %s\n", path, strerror(errno));
	} else {
		printf("ESCAPED: wrote '%s' to %s\n", val, path);
		escaped = 1;
	}
	close(fd);
}

static void list(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		printf("list %s: %s\n", dir, strerror(errno));
		return;
	}
	printf("list %s:", dir);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			printf(" %s", de->d_name);
			if (!strncmp(de->d_name, "sefaca-", 7) || !strcmp(de->d_name, "memory.max") ||
			    !strcmp(de->d_name, "pids.max")) {
				printf(" (ESCAPED: sees %s)", de->d_name);
				escaped = 1;
			}
		}
	printf("\n");
	closedir(d);
}

static void write_map(const char *file, const char *map)
{
	int fd = open(file, O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, map, strlen(map));
		close(fd);
	}
}

static int escape(const char *dir)
{
	char buf[512], map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	fd = open("/proc/self/cgroup", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("cgroup %s", buf);
		close(fd);
	}
	list("/sys/fs/cgroup");
	try_write("/sys/fs/cgroup", "cgroup.procs", "1");
	if (mount("none", dir, "cgroup2", 0, NULL) == 0) {
		printf("mounted cgroup2 at %s\n", dir);
		list(dir);
		try_write(dir, "memory.max", "max");
		try_write(dir, "pids.max", "max");
		try_write(dir, "../cgroup.procs", "0");
	} else {
		printf("mount cgroup2: %s\n", strerror(errno));
	}
	/* With nested namespaces allowed: a user namespace of our own, where we
	 * hold CAP_SYS_ADMIN, with a cgroup namespace and a mount namespace. */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
		printf("unshare: %s\n", strerror(errno));
	} else {
		write_map("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_map("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_map("/proc/self/gid_map", map);
		if (mount("none", dir, "cgroup2", 0, NULL) < 0) {
			printf("nested mount cgroup2: %s\n", strerror(errno));
		} else {
			printf("nested: mounted cgroup2 at %s\n", dir);
			list(dir);
			try_write(dir, "memory.max", "max");
			try_write(dir, "pids.max", "max");
			try_write(dir, "cpu.max", "max");
			snprintf(buf, sizeof(buf), "%s/..", dir);
			list(buf);
		}
	}
	printf("%s\n", escaped ? "ESCAPED" : "contained");
	return escaped;
}

static int noclone3(char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("seccomp");
		return 125;
	}
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

static int unixsock(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		perror(path);
		return 1;
	}
	for (;;)
		pause();
}

static int dwrite(int fd, long mib)
{
	struct timespec a, b;
	void *buf;
	long i;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_DIRECT) < 0 || posix_memalign(&buf, 4096, 1 << 20)) {
		perror("O_DIRECT");
		return 1;
	}
	memset(buf, 0x5a, 1 << 20);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < mib; i++)
		if (pwrite(fd, buf, 1 << 20, i << 20) != 1 << 20) {
			perror("pwrite");
			return 1;
		}
	fsync(fd);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("dwrite %ld MiB in %.2f s\n", mib, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "hog"))
		return hog(atol(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "alloc"))
		return hog(atol(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "forkbomb"))
		return forkbomb(atoi(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "spin"))
		return spin(atof(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "children"))
		return children(atoi(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "escape"))
		return escape(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "noclone3"))
		return noclone3(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "unixsock"))
		return unixsock(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "setxattr")) {
		if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) < 0) {
			perror("setxattr");
			return 1;
		}
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "dwrite"))
		return dwrite(atoi(argv[2]), atol(argv[3]));
	fprintf(stderr, "usage: cgprobe hog|alloc|forkbomb|spin|children|escape|noclone3|unixsock|setxattr|dwrite ARG\n");
	return 2;
}

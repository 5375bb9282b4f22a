#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

static void oom(void)
{
	static const char m[] = "sefaca: out of memory\n";
	(void)!write(2, m, sizeof(m) - 1);
	abort();
}

void *sfc_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *sfc_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *sfc_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *sfc_xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *sfc_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *sfc_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

void sfc_strv_push_owned(struct sfc_strv *sv, char *s)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = sfc_xrealloc(sv->v, sv->cap * sizeof(char *));
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void sfc_strv_push(struct sfc_strv *sv, const char *s)
{
	sfc_strv_push_owned(sv, sfc_xstrdup(s));
}

bool sfc_strv_contains(const struct sfc_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void sfc_strv_remove(struct sfc_strv *sv, size_t i)
{
	if (i >= sv->n)
		return;
	free(sv->v[i]);
	memmove(&sv->v[i], &sv->v[i + 1], (sv->n - i) * sizeof(char *));
	sv->n--;
}

void sfc_strv_clear(struct sfc_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void sfc_strv_copy(struct sfc_strv *dst, const struct sfc_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		sfc_strv_push(dst, src->v[i]);
}

void sfc_strv_split(struct sfc_strv *sv, const char *s, const char *seps)
{
	while (s && *s) {
		size_t n = strcspn(s, seps);
		const char *b = s, *e = s + n;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b)
			sfc_strv_push_owned(sv, sfc_xstrndup(b, e - b));
		s += n;
		if (*s)
			s++;
	}
}

int sfc_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= w;
	}
	return 0;
}

ssize_t sfc_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

int sfc_write_file_at(int dirfd, const char *path, const char *data)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0)
		return -errno;
	r = sfc_write_full(fd, data, strlen(data));
	close(fd);
	return r;
}

ssize_t sfc_read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = sfc_read_full(fd, buf, size - 1);
	close(fd);
	if (r >= 0)
		buf[r] = 0;
	return r;
}

/* One byte and the first descriptor sent with it (SCM_RIGHTS; any more are
 * closed): recvmsg's result, *FD -1 when none came. */
ssize_t sfc_recv_fd(int sock, char *byte, int *fd, int flags)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov = { byte, 1 };
	struct msghdr m;
	ssize_t n;

	*fd = -1;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(sock, &m, flags | MSG_CMSG_CLOEXEC)) < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*fd < 0)
					*fd = f;
				else
					close(f);
			}
		}
	return n;
}

/* NAME's executable in $PATH (or the usual directories), malloc'd; NULL
 * when there is none. */
char *sfc_which(const char *name)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char *c = sfc_xasprintf("%.*s/%s", (int)n, path, name);
		if (n && access(c, X_OK) == 0)
			return c;
		free(c);
		path += n;
		if (*path)
			path++;
	}
	return NULL;
}

char *sfc_path_normalize(const char *path)
{
	size_t len = strlen(path);
	char *out = sfc_xmalloc(len + 2);
	size_t o = 0;
	const char *p = path;

	out[o++] = '/';
	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		n = strcspn(p, "/");
		p += n;
		if (n == 1 && c[0] == '.')
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
			continue;
		}
		if (o > 1)
			out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	out[o] = 0;
	return out;
}

bool sfc_path_within(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return true;
	return strncmp(path, prefix, n) == 0 && (path[n] == 0 || path[n] == '/');
}

int sfc_path_depth(const char *path)
{
	int d = 0;
	for (const char *p = path; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			d++;
	return d;
}

uint64_t sfc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double sfc_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool sfc_str_has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

bool sfc_glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *ss = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			ss = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++ss;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == 0;
}

#ifdef SFC_TRACE
void sfc_trace(const char *point)
{
	struct timespec t;
	char buf[256];
	int n;

	if (!getenv("SFC_TRACE"))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (getenv("SFC_TRACE_FAULTS")) {
		struct rusage ru;
		getrusage(RUSAGE_THREAD, &ru);
		n = snprintf(buf, sizeof(buf), "TS %ld %d %s [minflt %ld]\n",
			     (long)(t.tv_sec % 1000) * 1000000 + t.tv_nsec / 1000, (int)getpid(), point, ru.ru_minflt);
	} else {
		n = snprintf(buf, sizeof(buf), "TS %ld %d %s\n", (long)(t.tv_sec % 1000) * 1000000 + t.tv_nsec / 1000,
			     (int)getpid(), point);
	}
	/* a copy of the first stderr: init points its own 0-2 at /dev/null */
	static int fd = -1;
	if (fd < 0 && (fd = fcntl(2, F_DUPFD_CLOEXEC, 900)) < 0)
		fd = 2;
	if (write(fd, buf, n) < 0 && errno == EBADF)
		(void)!write(fd = 2, buf, n);
}
#endif

#include "core/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/auditlog.h"
#include "core/registry.h"
#include "core/util.h"

#if ENABLE_FEATURE_ZLIB
#include <zlib.h>
#endif

#define MAX_DEPTH 512

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
/* musl 1.2.3 has no renameat2() wrapper */
static int rename_noreplace(int olddfd, const char *old, int newdfd, const char *new)
{
	return (int)syscall(SYS_renameat2, olddfd, old, newdfd, new, RENAME_NOREPLACE);
}

bool sfc_clean_pid_alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void add_item(struct sfc_clean_report *rep, const char *what, const char *path, uint64_t bytes)
{
	rep->items++;
	rep->bytes += bytes;
	if (rep->item)
		rep->item(what, path, bytes, rep->data);
}

static void add_note(struct sfc_clean_report *rep, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_note(struct sfc_clean_report *rep, const char *what, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (rep->note)
		rep->note(what, buf, rep->data);
}

/* Open directory NAME under DIRFD without following a symlink, making it
 * readable and writable for us first if it is not (image layers carry
 * 0555 directories).  The mode is changed through the descriptor, never
 * through a path a racing rename could redirect. */
static int open_dir_nofollow(int dirfd, const char *name, bool fix_mode)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 && errno == EACCES && fix_mode) {
		char p[64];
		int pfd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0)
			return -1;
		/* /proc/self/fd/N is the inode opened above, whatever the name points to now */
		snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
		if (chmod(p, 0700) < 0) {
			close(pfd);
			errno = EACCES;
			return -1;
		}
		close(pfd);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0 && fix_mode && fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
		fchmod(fd, (st.st_mode & 07777) | 0700);
	return fd;
}

static int walk(int dfd, const char *name, dev_t dev, bool dry, uint64_t *bytes, int depth, struct sfc_error *e)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sfc_err(e, errno, "%s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (st.st_nlink <= 1)
			*bytes += (uint64_t)st.st_blocks * 512;
		if (!dry && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return sfc_err(e, errno, "remove %s", name);
		return 0;
	}
	if (st.st_dev != dev)
		return sfc_err(e, EXDEV, "%s is a mount point; left alone", name);
	if (depth > MAX_DEPTH)
		return sfc_err(e, ELOOP, "%s: nested deeper than %d levels", name, MAX_DEPTH);
	*bytes += (uint64_t)st.st_blocks * 512;
	fd = open_dir_nofollow(dfd, name, !dry);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return sfc_err(e, errno == ELOOP || errno == ENOTDIR ? EXDEV : errno, "open %s", name);
	}
	{
		struct stat st2;
		/* the directory measured is the one opened (no swap in between) */
		if (fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
			close(fd);
			return sfc_err(e, EAGAIN, "%s changed while being removed", name);
		}
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		return sfc_err(e, errno, "%s", name);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = walk(dirfd(d), de->d_name, dev, dry, bytes, depth + 1, e)) < 0) {
			sfc_err_prefix(e, "%s", name);
			break;
		}
	}
	closedir(d);
	if (r < 0)
		return r;
	if (!dry && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return sfc_err(e, errno, "remove %s", name);
	return 0;
}

int sfc_clean_remove_at(int dirfd, const char *name, const char *what, const char *display,
			struct sfc_clean_report *rep, struct sfc_error *e)
{
	struct stat st;
	uint64_t bytes = 0;
	int r;

	if (fstat(dirfd, &st) < 0)
		return sfc_err(e, errno, "%s", display);
	r = walk(dirfd, name, st.st_dev, rep->dry_run, &bytes, 0, e);
	if (r < 0) {
		rep->errors++;
		add_note(rep, what, "%s: %s", display, e->msg);
		/* what went before the error is gone */
		if (!rep->dry_run)
			rep->bytes += bytes;
		return r;
	}
	add_item(rep, what, display, bytes);
	return 0;
}

uint64_t sfc_clean_usage_at(int dirfd, const char *name)
{
	struct stat st;
	struct sfc_error e;
	uint64_t bytes = 0;

	if (fstat(dirfd, &st) == 0)
		walk(dirfd, name, st.st_dev, true, &bytes, 0, &e);
	return bytes;
}

/* ---------------------------------------------------------------- state */

static int clean_registry(struct sfc_clean_report *rep, struct sfc_error *e)
{
	_cleanup_free_ char *dir = sfc_registry_dir(e);
	DIR *d;
	struct dirent *de;
	int dfd;

	if (!dir)
		return -EINVAL;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;
		return sfc_err(e, errno, "%s", dir);
	}
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return sfc_err(e, errno, "%s", dir);
	}
	while ((de = readdir(d))) {
		char path[4096 + 256], buf[8192];
		const char *nm = de->d_name;
		struct sfc_reg_entry en;
		struct stat st, st2;
		bool stale;
		ssize_t n;
		int fd, pid;

		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		if (nm[0] == '.' && sfc_str_has_suffix(nm, ".tmp") && (pid = atoi(nm + 1)) > 0) {
			/* a registration cut short between write and rename */
			if (!sfc_clean_pid_alive(pid))
				sfc_clean_remove_at(dfd, nm, "registration", path, rep, e);
			continue;
		}
		if (!sfc_str_has_suffix(nm, ".json") || (pid = atoi(nm)) <= 0)
			continue;
		fd = openat(dfd, nm, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		n = sfc_read_full(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0)
			continue;
		buf[n] = 0;
		memset(&en, 0, sizeof(en));
		if (sfc_registry_parse(buf, (size_t)n, &en) == 0 && en.pid == pid)
			stale = sfc_registry_alive(en.pid, en.boot_ns) != 1;
		else
			stale = !sfc_clean_pid_alive(pid); /* junk: judged by its name */
		if (!stale)
			continue;
		if (rep->dry_run) {
			add_item(rep, "registration", path, (uint64_t)st.st_blocks * 512);
			continue;
		}
		/* A new supervisor that got the same pid may have replaced the
		 * record since it was read: move it aside, check it is the file
		 * judged, and put it back if not. */
		{
			char aside[64];
			snprintf(aside, sizeof(aside), ".reap-%d-%d", pid, (int)getpid());
			if (renameat(dfd, nm, dfd, aside) < 0)
				continue;
			if (fstatat(dfd, aside, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
			    (st2.st_ino != st.st_ino || st2.st_dev != st.st_dev)) {
				rename_noreplace(dfd, aside, dfd, nm);
				continue;
			}
			if (unlinkat(dfd, aside, 0) == 0)
				add_item(rep, "registration", path, (uint64_t)st.st_blocks * 512);
		}
	}
	closedir(d);
	return 0;
}

static void clean_tmp(int homefd, const char *home, const char *sub, struct sfc_clean_report *rep)
{
	int dfd = openat(homefd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t pl = strlen(SFC_CLEAN_TMP_PREFIX);
	DIR *d;
	struct dirent *de;

	if (dfd < 0) {
		if (errno == ELOOP || errno == ENOTDIR) {
			rep->errors++;
			add_note(rep, "temporary", "%s/%s is not a directory (a symlink?); not entered", home, sub);
		}
		return;
	}
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		char path[4096 + 512];
		struct sfc_error e = { 0 };
		int pid;

		if (strncmp(de->d_name, SFC_CLEAN_TMP_PREFIX, pl))
			continue;
		pid = atoi(de->d_name + pl);
		if (pid <= 0 || sfc_clean_pid_alive(pid))
			continue; /* still being made (or not ours to judge) */
		snprintf(path, sizeof(path), "%s/%s/%s", home, sub, de->d_name);
		sfc_clean_remove_at(dirfd(d), de->d_name, "temporary", path, rep, &e);
	}
	closedir(d);
}

int sfc_clean_state(const char *home, struct sfc_clean_report *rep, struct sfc_error *e)
{
	static const char *const subs[] = { "tmp", "images", "containers" };
	struct sfc_error ce = { 0 };
	int homefd, r;

	if ((r = clean_registry(rep, e)) < 0) {
		rep->errors++;
		add_note(rep, "registration", "%s", e->msg);
	}
	homefd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (homefd >= 0) {
		for (size_t i = 0; i < SFC_ARRAY_SIZE(subs); i++)
			clean_tmp(homefd, home, subs[i], rep);
		close(homefd);
	}
	if (sfc_clean_cgroup_leaves(rep, &ce) < 0)
		add_note(rep, "cgroup", "%s", ce.msg);
	return 0;
}

/* ---------------------------------------------------------------- logs */

struct rewrite {
	double cutoff;
	uint64_t old_bytes, kept_bytes, old_records, kept_records;
	int out;           /* plain output, or -1 */
#if ENABLE_FEATURE_ZLIB
	gzFile gz;         /* gzip output, or NULL */
#endif
	int err;
};

static void emit(struct rewrite *w, const char *line, size_t len)
{
	char nl = '\n';

	w->kept_bytes += len + 1;
#if ENABLE_FEATURE_ZLIB
	if (w->gz) {
		if (gzwrite(w->gz, line, (unsigned)len) != (int)len || gzwrite(w->gz, &nl, 1) != 1)
			w->err = EIO;
		return;
	}
#endif
	if (w->out >= 0 && (sfc_write_full(w->out, line, len) < 0 || sfc_write_full(w->out, &nl, 1) < 0))
		w->err = errno ? errno : EIO;
}

static int rw_record(const struct sfc_audit_rec *r, void *data)
{
	struct rewrite *w = data;

	if (r->ts >= 0 && r->ts < w->cutoff) {
		w->old_bytes += r->len + 1;
		w->old_records++;
		return 0;
	}
	w->kept_records++;
	emit(w, r->line, r->len);
	return 0;
}

static int rw_corrupt(const char *line, size_t len, void *data)
{
	/* a line that cannot be read has no date: it is kept, never judged */
	emit(data, line, len);
	return 0;
}

/* Scan (and with OUT, copy the kept lines of) DIR/NAME. */
static int scan_log(const char *dir, const char *name, struct rewrite *w, struct sfc_error *e)
{
	struct sfc_auditlog_reader rd = { 0 };
	char path[4096 + 256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rd.record = rw_record;
	rd.corrupt_line = rw_corrupt;
	rd.data = w;
	return sfc_auditlog_read_file(&rd, path, false, e);
}

struct rot {
	unsigned long n;
	bool gz;
	char name[512];
};

static int cmp_rot(const void *a, const void *b)
{
	const struct rot *x = a, *y = b;
	return (x->n < y->n) - (x->n > y->n); /* oldest (highest N) first */
}

static size_t list_rotations(int dfd, const char *base, struct rot **out)
{
	size_t bl = strlen(base), n = 0, cap = 0;
	/* a new open file description: a dup() would share the read position */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	*out = NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		char *end;
		unsigned long k;
		if (strncmp(de->d_name, base, bl) || de->d_name[bl] != '.' || de->d_name[bl + 1] < '1' ||
		    de->d_name[bl + 1] > '9')
			continue;
		k = strtoul(de->d_name + bl + 1, &end, 10);
		if (*end && strcmp(end, ".gz"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = sfc_xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n].n = k;
		(*out)[n].gz = *end != 0;
		snprintf((*out)[n].name, sizeof((*out)[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(*out, n, sizeof(**out), cmp_rot);
	return n;
}

static uint64_t file_bytes(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* Rotate the active log under the writers' lock: .N -> .N+1, base -> .1,
 * a new empty base.  Never truncates: a writer holding the old file's
 * lock writes into what is now .1 (or, following the protocol of
 * core/auditlog.h, reopens the new base). */
static int rotate(int dfd, const char *base, struct sfc_error *e)
{
	struct rot *v;
	size_t n;
	char to[600];
	int lfd, nfd;

	if ((lfd = sfc_auditlog_open_locked(dfd, base, false, e)) < 0)
		return lfd;
	n = list_rotations(dfd, base, &v);
	for (size_t i = 0; i < n; i++) { /* highest first, so nothing is overwritten */
		snprintf(to, sizeof(to), "%s.%lu%s", base, v[i].n + 1, v[i].gz ? ".gz" : "");
		if (rename_noreplace(dfd, v[i].name, dfd, to) < 0) {
			int err = errno;
			free(v);
			close(lfd);
			return sfc_err(e, err, "rotate %s to %s", v[i].name, to);
		}
	}
	free(v);
	snprintf(to, sizeof(to), "%s.1", base);
	if (rename_noreplace(dfd, base, dfd, to) < 0) {
		int err = errno;
		close(lfd);
		return sfc_err(e, err, "rotate %s", base);
	}
	nfd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (nfd >= 0)
		close(nfd);
	close(lfd); /* releases the lock */
	return 0;
}

/* Rewrite rotated file NAME keeping only the lines that are not old
 * (COMPRESS: as gzip, named NAME.gz).  Under the file's own lock, so a
 * writer that still had it open (not following the reopen protocol) has
 * finished its write(2) first. */
static int rewrite_rotation(int dfd, const char *dir, const char *name, bool gz_in, bool compress, double cutoff,
			    struct sfc_clean_report *rep, struct sfc_error *e)
{
	struct rewrite w = { .cutoff = cutoff, .out = -1 };
	char tmp[700], dst[700], path[4096 + 700];
	uint64_t before = file_bytes(dfd, name), after;
	bool to_gz = gz_in || compress;
	int lfd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* dry run, or a first look: is anything old in there? */
	if ((r = scan_log(dir, name, &w, e)) < 0)
		return r;
	if (!w.old_records && !compress)
		return 0;
	if (!w.kept_records && w.kept_bytes == 0) {
		/* every record is old: the whole file goes */
		if (rep->dry_run) {
			add_item(rep, "log", path, before);
			return 0;
		}
		if ((lfd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
			flock(lfd, LOCK_EX);
			w = (struct rewrite){ .cutoff = cutoff, .out = -1 };
			scan_log(dir, name, &w, e); /* again, under the lock */
			if (w.kept_bytes == 0 && unlinkat(dfd, name, 0) == 0)
				add_item(rep, "log", path, before);
			close(lfd);
		}
		return 0;
	}
	if (rep->dry_run) {
		if (!w.old_records)
			return 0; /* compression alone: not predicted */
		/* gzip: the share of the compressed size the old records make */
		uint64_t total = w.old_bytes + w.kept_bytes;
		add_item(rep, "log", path, total ? before * w.old_bytes / total : 0);
		return 0;
	}
	if (to_gz && !ENABLE_FEATURE_ZLIB)
		return sfc_err(e, ENOTSUP, "%s: gzip needs zlib (FEATURE_ZLIB)", path);
	if ((lfd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return sfc_err(e, errno, "%s", path);
	flock(lfd, LOCK_EX);
	snprintf(tmp, sizeof(tmp), ".%s.tmp-%d", name, (int)getpid());
	if (compress && !gz_in)
		snprintf(dst, sizeof(dst), "%s.gz", name);
	else
		snprintf(dst, sizeof(dst), "%s", name);
	w = (struct rewrite){ .cutoff = cutoff, .out = -1 };
	w.out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w.out < 0) {
		close(lfd);
		return sfc_err(e, errno, "%s/%s", dir, tmp);
	}
#if ENABLE_FEATURE_ZLIB
	if (to_gz && !(w.gz = gzdopen(dup(w.out), "wb6"))) {
		close(w.out);
		unlinkat(dfd, tmp, 0);
		close(lfd);
		return sfc_err(e, ENOMEM, "gzip %s", path);
	}
#endif
	r = scan_log(dir, name, &w, e);
#if ENABLE_FEATURE_ZLIB
	if (w.gz && gzclose(w.gz) != Z_OK && !w.err)
		w.err = EIO;
#endif
	if (r == 0 && !w.err && fsync(w.out) < 0)
		w.err = errno;
	close(w.out);
	if (r < 0 || w.err || renameat(dfd, tmp, dfd, dst) < 0) {
		int err = r < 0 ? -r : w.err ? w.err : errno;
		unlinkat(dfd, tmp, 0);
		close(lfd);
		return r < 0 ? r : sfc_err(e, err, "rewrite %s", path);
	}
	if (strcmp(dst, name))
		unlinkat(dfd, name, 0); /* compressed: the plain one goes */
	close(lfd);
	after = file_bytes(dfd, dst);
	if (before > after || w.old_records)
		add_item(rep, w.old_records ? "log" : "log (compressed)", path, before > after ? before - after : 0);
	return 0;
}

int sfc_clean_logs(const char *dir, const char *base, double cutoff, struct sfc_clean_report *rep,
		   struct sfc_error *e)
{
	struct rewrite w = { .cutoff = cutoff, .out = -1 };
	struct rot *v = NULL;
	size_t n;
	int dfd, r;
	struct stat st;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return sfc_err(e, errno, "%s", dir);
	}
	/* The active log: rotated only if it holds old records. */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode)) {
			close(dfd);
			return sfc_err(e, EINVAL, "%s/%s is not a regular file; not touched", dir, base);
		}
		if ((r = scan_log(dir, base, &w, e)) < 0) {
			close(dfd);
			return r;
		}
		if (w.old_records) {
			if (rep->dry_run) {
				char path[4096 + 256];
				snprintf(path, sizeof(path), "%s/%s", dir, base);
				add_item(rep, "log", path,
					 w.old_bytes + w.kept_bytes ? (uint64_t)st.st_blocks * 512 * w.old_bytes /
									      (w.old_bytes + w.kept_bytes)
								    : 0);
			} else if ((r = rotate(dfd, base, e)) < 0) {
				close(dfd);
				return r;
			}
		}
	}
	n = list_rotations(dfd, base, &v);
	for (size_t i = 0; i < n; i++) {
		struct sfc_error fe = { 0 };
		/* .2 and up are compressed (.1 stays plain a while: a late
		 * writer that does not reopen may still be finishing into it) */
		bool compress = !v[i].gz && v[i].n >= 2 && ENABLE_FEATURE_ZLIB;
		if (v[i].gz && !ENABLE_FEATURE_ZLIB) {
			rep->errors++;
			add_note(rep, "log", "%s/%s: gzip-compressed, and this build has no zlib (FEATURE_ZLIB)", dir,
				 v[i].name);
			continue;
		}
		if (rewrite_rotation(dfd, dir, v[i].name, v[i].gz, compress, cutoff, rep, &fe) < 0) {
			rep->errors++;
			add_note(rep, "log", "%s", fe.msg);
		}
	}
	free(v);
	close(dfd);
	return 0;
}

/* ---------------------------------------------------------------- hooks */

/* The limits code (cgroup v2 leaves per sandbox) overrides this with a
 * sweep of its leaves whose sandbox is gone.  TODO(limits issue): the
 * leaf naming scheme and parent directory are defined there; a leftover
 * leaf is removed with rmdir(2), which the kernel refuses (EBUSY) while
 * any process is still inside, so a running sandbox's leaf cannot go. */
__attribute__((weak)) int sfc_clean_cgroup_leaves(struct sfc_clean_report *rep, struct sfc_error *e)
{
	add_note(rep, "cgroup", "cgroup leaves: not checked (this build creates no cgroup leaves)");
	return 0;
}

__attribute__((weak)) bool sfc_clean_containers_available(void)
{
	return false;
}

/* sefaca-container overrides these (strong definitions in its own files). */
__attribute__((weak)) int sfc_clean_containers(const char *home, struct sfc_clean_report *rep, struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "containers: the container feature (sefaca-container) is not compiled into this "
				   "build; nothing under %s/containers was touched", home);
}

__attribute__((weak)) int sfc_clean_images(const char *home, struct sfc_clean_report *rep, struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "images: the container feature (sefaca-container) is not compiled into this build; "
				   "nothing under %s/images was touched", home);
}

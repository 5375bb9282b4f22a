#include "core/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "core/util.h"

void sfc_imgref_free(struct sfc_imgref *r)
{
	free(r->path);
	free(r->tag);
	memset(r, 0, sizeof(*r));
}

const char *sfc_ref_kind_name(enum sfc_ref_kind k)
{
	static const char *const n[] = { "host", "dir", "oci", "oci-archive", "docker-archive", "tar", "docker", "name" };
	return (unsigned)k < SFC_ARRAY_SIZE(n) ? n[k] : "?";
}

int sfc_imgref_parse(const char *ref, struct sfc_imgref *r, struct sfc_error *e)
{
	static const struct {
		const char *prefix;
		enum sfc_ref_kind kind;
	} kinds[] = {
		{ "oci-archive:", SFC_REF_OCI_ARCHIVE }, { "docker-archive:", SFC_REF_DOCKER_ARCHIVE },
		{ "oci:", SFC_REF_OCI },		 { "dir:", SFC_REF_DIR },
		{ "tar:", SFC_REF_TAR },		 { "docker://", SFC_REF_DOCKER },
	};

	memset(r, 0, sizeof(*r));
	if (!ref || !*ref)
		return sfc_err(e, 0, "empty image reference");
	if (!strcmp(ref, "host")) {
		r->kind = SFC_REF_HOST;
		return 0;
	}
	for (size_t i = 0; i < SFC_ARRAY_SIZE(kinds); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(ref, kinds[i].prefix, n))
			continue;
		r->kind = kinds[i].kind;
		if (!ref[n])
			return sfc_err(e, 0, "image reference '%s' names no %s", ref,
				       r->kind == SFC_REF_DOCKER ? "image" : "path");
		r->path = sfc_xstrdup(ref + n);
		if (r->kind == SFC_REF_OCI) {
			/* oci:DIR:TAG; a DIR that itself holds ':' can be given as oci:DIR: */
			char *c = strrchr(r->path, ':');
			if (c && !strchr(c, '/')) {
				*c = 0;
				if (c[1])
					r->tag = sfc_xstrdup(c + 1);
			}
		}
		return 0;
	}
	if (strchr(ref, ':') && strchr(ref, '/') && strstr(ref, "://"))
		return sfc_err(e, 0, "unknown image transport in '%s' (known: oci:, oci-archive:, docker-archive:, dir:, "
				     "tar:, docker://, host)", ref);
	r->kind = SFC_REF_NAME;
	r->path = sfc_xstrdup(ref);
	return 0;
}

#if ENABLE_FEATURE_IMAGES
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/kernel.h"
#include "core/oci.h"
#include "core/parse.h"
#include "core/sha256.h"
#include "core/userns.h"

/* ---------------------------------------------------------- unpacking */

struct reader {
	int fd;
	struct sfc_sha256 sha;
	char buf[128 * 1024];
};

static la_ssize_t reader_read(struct archive *a, void *data, const void **out)
{
	struct reader *rd = data;
	ssize_t n;

	do
		n = read(rd->fd, rd->buf, sizeof(rd->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read");
		return -1;
	}
	sfc_sha256_update(&rd->sha, rd->buf, n);
	*out = rd->buf;
	return n;
}

/* "./a//b/" -> "a/b"; "/etc/x" -> "etc/x" (absolute names are taken
 * relative to the tree, as tar does); "" for the tree itself.  Returns
 * -1 for a name with a ".." component: it could only mean to leave. */
static int clean_path(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *p = in;

	while (*p) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (o + n + 2 > len)
			return -2;
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = 0;
	return 0;
}

/* Open directory PATH (clean, relative) beneath ROOT without following
 * any symlink, creating missing components when CREATE.  O_PATH fd. */
static int open_dir(int root, const char *path, bool create, struct sfc_error *e, const char *entry)
{
	_cleanup_close_ int cur = -1;
	const char *p = path;
	int fd;

	if (!*path)
		return fcntl(root, F_DUPFD_CLOEXEC, 3);
	fd = sfc_openat2(root, path, O_PATH | O_DIRECTORY | O_CLOEXEC,
			 SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS | SFC_RESOLVE_NO_XDEV);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT || !create)
		goto bad;
	cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
	while (*p) {
		char name[NAME_MAX + 1];
		size_t n = strcspn(p, "/");
		int nfd;
		if (n > NAME_MAX)
			return sfc_err(e, ENAMETOOLONG, "%s", entry);
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		while (*p == '/')
			p++;
		nfd = sfc_openat2(cur, name, O_PATH | O_DIRECTORY | O_CLOEXEC,
				  SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS | SFC_RESOLVE_NO_XDEV);
		if (nfd < 0 && errno == ENOENT) {
			if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
				return sfc_err(e, errno, "%s: create parent %s", entry, name);
			nfd = sfc_openat2(cur, name, O_PATH | O_DIRECTORY | O_CLOEXEC,
					  SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS | SFC_RESOLVE_NO_XDEV);
		}
		if (nfd < 0)
			goto bad;
		close(cur);
		cur = nfd;
	}
	return sfc_steal_fd(&cur);
bad:
	if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
		return sfc_err(e, ELOOP, "archive entry %s goes through a symlink or a non-directory; refusing "
					 "(it could only mean to write outside the layer)", entry);
	return sfc_err(e, errno, "archive entry %s", entry);
}

static void split(char *path, char **parent, char **name)
{
	char *s = strrchr(path, '/');
	if (s) {
		*s = 0;
		*parent = path;
		*name = s + 1;
	} else {
		*parent = "";
		*name = path;
	}
}

/* Make room for NAME in DIRFD: whatever is there goes, unless both are
 * directories (then the existing one is kept and updated). */
static int clear_slot(int dirfd, const char *name, bool want_dir)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (want_dir && S_ISDIR(st.st_mode))
		return 1;
	return sfc_rm_rf_at(dirfd, name);
}

static int write_data(struct archive *a, int fd, const char *entry, struct sfc_error *e)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *b = buf;
		while (size) {
			ssize_t n = pwrite(fd, b, size, off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return sfc_err(e, errno, "write %s", entry);
			}
			b += n;
			off += n;
			size -= n;
		}
	}
	if (r != ARCHIVE_EOF)
		return sfc_err(e, archive_errno(a) > 0 ? archive_errno(a) : EIO, "read %s: %s", entry,
			       archive_error_string(a) ? archive_error_string(a) : "archive error");
	return 0;
}

static int do_entry(struct archive *a, struct archive_entry *ent, int root, struct sfc_unpack_opts *o,
		    struct sfc_error *e)
{
	const char *raw = archive_entry_pathname(ent), *hl = archive_entry_hardlink(ent);
	char path[PATH_MAX], tpath[PATH_MAX];
	char *parent, *name;
	mode_t type = archive_entry_filetype(ent);
	mode_t mode = archive_entry_perm(ent);
	int64_t size = archive_entry_size(ent);
	_cleanup_close_ int pfd = -1;
	int r;

	if (!raw)
		return 0;
	if ((r = clean_path(raw, path, sizeof(path))) < 0)
		return sfc_err(e, 0, r == -1 ? "archive entry '%s' contains '..'; refusing (it could only mean to "
					       "write outside the layer)" : "archive entry '%.200s...' is too long", raw);
	/* size cap (SECURITY.md 11: size bombs); 512 per entry for the metadata */
	if (size < 0)
		size = 0;
	o->stats.bytes += (uint64_t)size + 512;
	if (o->used)
		*o->used += (uint64_t)size + 512;
	if (++o->stats.entries > SFC_IMAGE_MAX_ENTRIES)
		return sfc_err(e, EFBIG, "more than %u entries; refusing", SFC_IMAGE_MAX_ENTRIES);
	if ((o->used ? *o->used : o->stats.bytes) > o->max_size) {
		char lim[32];
		sfc_format_size(o->max_size, lim, sizeof(lim));
		return sfc_err(e, EFBIG, "the image unpacks to more than %s (the limit; SEFACA_IMAGE_MAX_SIZE sets it)",
			       lim);
	}
	if (!path[0]) {
		/* the tree itself: only its mode */
		if (type == AE_IFDIR)
			fchmod(root, (mode & 01777) | 0700);
		return 0;
	}
	split(path, &parent, &name);

	if (o->layer && !strncmp(name, ".wh.", 4)) {
		/* OCI whiteouts (image-spec layer.md): the overlay's forms of them
		 * in this layer's own directory. */
		if ((pfd = open_dir(root, parent, true, e, raw)) < 0)
			return pfd;
		if (!strcmp(name, ".wh..wh..opq")) {
			_cleanup_close_ int d = sfc_openat2(root, parent[0] ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC,
							    SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
			if (d < 0 || fsetxattr(d, "user.overlay.opaque", "y", 1, 0) < 0)
				return sfc_err(e, errno, "mark %s opaque (the store's filesystem needs user.* extended "
							 "attributes)", parent[0] ? parent : "/");
			o->stats.opaque++;
			return 0;
		}
		if (!strncmp(name, ".wh..wh.", 8)) {
			o->stats.skipped++; /* aufs bookkeeping (.wh..wh.plnk...) */
			return 0;
		}
		name += 4;
		if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
			return sfc_err(e, 0, "bad whiteout entry %s", raw);
		if ((r = clear_slot(pfd, name, false)) < 0)
			return sfc_err(e, -r, "whiteout %s", raw);
		/* a 0/0 character device: what overlayfs reads as "deleted"; any
		 * user may create one (Linux 5.8+) */
		if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
			return sfc_err(e, errno, "whiteout %s", raw);
		o->stats.whiteouts++;
		return 0;
	}

	if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) {
		o->stats.devices_dropped++; /* no device nodes from images (SECURITY.md 11) */
		return 0;
	}
	if ((pfd = open_dir(root, parent, true, e, raw)) < 0)
		return pfd;
	if ((r = clear_slot(pfd, name, type == AE_IFDIR && !hl)) < 0)
		return sfc_err(e, -r, "replace %s", raw);
	if (mode & (S_ISUID | S_ISGID)) {
		if (type == AE_IFREG)
			o->stats.setid_dropped++;
		mode &= ~(S_ISUID | S_ISGID); /* no setuid/setgid from images */
	}

	if (hl) {
		char *tparent, *tname;
		_cleanup_close_ int tfd = -1;
		struct stat st;
		if (clean_path(hl, tpath, sizeof(tpath)) < 0 || !tpath[0])
			return sfc_err(e, 0, "hard link %s -> %s leaves the layer; refusing", raw, hl);
		split(tpath, &tparent, &tname);
		if ((tfd = open_dir(root, tparent, false, e, hl)) < 0)
			return sfc_err(e, ELOOP, "hard link %s -> %s: the target is not in this layer", raw, hl);
		if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
			return sfc_err(e, 0, "hard link %s -> %s: the target is not a file of this layer", raw, hl);
		/* linkat without AT_SYMLINK_FOLLOW links the entry itself */
		if (linkat(tfd, tname, pfd, name, 0) < 0)
			return sfc_err(e, errno, "hard link %s", raw);
		return 0;
	}

	switch (type) {
	case AE_IFDIR: {
		_cleanup_close_ int d = -1;
		if (r == 0 && mkdirat(pfd, name, 0700) < 0)
			return sfc_err(e, errno, "mkdir %s", raw);
		if ((d = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return sfc_err(e, errno, "open %s", raw);
		/* owner rwx always: the store must stay ours to unpack into and remove */
		fchmod(d, (mode & 01777) | 0700);
		return 0;
	}
	case AE_IFREG: {
		_cleanup_close_ int f = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		struct timespec ts[2];
		if (f < 0)
			return sfc_err(e, errno, "create %s", raw);
		if ((r = write_data(a, f, raw, e)) < 0)
			return r;
		if (archive_entry_size(ent) > 0 && ftruncate(f, archive_entry_size(ent)) < 0)
			return sfc_err(e, errno, "write %s", raw);
		fchmod(f, (mode & 01777) | 0400);
		ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(ent);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		futimens(f, ts);
		return 0;
	}
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(ent);
		/* the target is only ever resolved inside the container's root;
		 * nothing of ours follows it (every open here refuses symlinks) */
		if (!t || !*t)
			return sfc_err(e, 0, "symlink %s has no target", raw);
		if (symlinkat(t, pfd, name) < 0)
			return sfc_err(e, errno, "symlink %s", raw);
		return 0;
	}
	case AE_IFIFO:
		if (mkfifoat(pfd, name, mode & 0777) < 0)
			return sfc_err(e, errno, "fifo %s", raw);
		return 0;
	default:
		o->stats.skipped++;
		return 0;
	}
}

int sfc_unpack(int fd, int root, const char *what, struct sfc_unpack_opts *o, struct sfc_error *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	struct reader *rd = sfc_xmalloc(sizeof(*rd));
	int r = 0, ar;

	memset(&o->stats, 0, sizeof(o->stats));
	if (!o->max_size)
		o->max_size = SFC_IMAGE_MAX_SIZE_DEFAULT;
	rd->fd = fd;
	sfc_sha256_init(&rd->sha);
	/* Only tar, and only these filters: nothing else of libarchive is
	 * referenced, so nothing else is linked into the static binary. */
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open(a, rd, NULL, reader_read, NULL) != ARCHIVE_OK) {
		r = sfc_err(e, 0, "%s: %s", what, archive_error_string(a) ? archive_error_string(a) : "not an archive");
		goto out;
	}
	while ((ar = archive_read_next_header(a, &ent)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		if ((r = do_entry(a, ent, root, o, e)) < 0) {
			sfc_err_prefix(e, "%s", what);
			goto out;
		}
	}
	if (ar != ARCHIVE_EOF) {
		r = sfc_err(e, 0, "%s: %s", what, archive_error_string(a) ? archive_error_string(a) : "archive error");
		goto out;
	}
	/* the digest covers the whole blob: what follows the tar's end marker too */
	for (;;) {
		ssize_t n = read(fd, rd->buf, sizeof(rd->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sfc_sha256_update(&rd->sha, rd->buf, n);
	}
	{
		char hex[65];
		sfc_sha256_final_hex(&rd->sha, hex);
		if (o->got_hex)
			memcpy(o->got_hex, hex, 65);
		if (o->expect_hex && strcmp(hex, o->expect_hex))
			r = sfc_err(e, 0, "%s: content does not match its digest (sha256:%s, expected sha256:%s)", what,
				    hex, o->expect_hex);
	}
out:
	archive_read_free(a);
	free(rd);
	return r;
}

/* The unpacker, confined: libarchive parses what a stranger wrote, so it
 * runs in a child of its own with a user, mount, network and IPC namespace
 * whose root holds nothing but DEST (a bind mount: '..' stops at its root)
 * and the archive as an open file.  Whatever a hostile archive could make
 * libarchive do, the rest of the caller's files are not in view.  The
 * child reports its result over a pipe. */
struct unpack_msg {
	int r, err;
	char msg[1024];
	struct sfc_unpack_stats stats;
	char got_hex[65];
};

static int unpack_isolated(int fd, const char *dest, const char *what, struct sfc_unpack_opts *o, struct sfc_error *e)
{
	struct unpack_msg m;
	uint64_t before = o->used ? *o->used : 0;
	int p[2], st;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sfc_err(e, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return sfc_err(e, errno, "fork");
	}
	if (pid == 0) {
		struct sfc_error ce = { 0 };
		uid_t u = geteuid();
		gid_t g = getegid();
		int root = -1, dfd = -1;
		char dpath[64];

		close(p[0]);
		memset(&m, 0, sizeof(m));
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) < 0) {
			m.r = sfc_err(&ce, errno, "unpack %s: a user namespace for the unpacker", what);
		} else if (sfc_userns_map_self(u, u, g, g, &ce) < 0) {
			m.r = -EPERM;
		} else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			   /* DEST may be under /tmp, which the tmpfs below covers: hold it
			    * by an fd of this mount namespace */
			   (dfd = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
			   snprintf(dpath, sizeof(dpath), "/proc/self/fd/%d", dfd) < 0 ||
			   mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=16384") < 0 ||
			   mkdir("/tmp/out", 0700) < 0 || mkdir("/tmp/old", 0700) < 0 ||
			   mount(dpath, "/tmp/out", NULL, MS_BIND, NULL) < 0 || chdir("/tmp") < 0 ||
			   sfc_pivot_root(".", "old") < 0 || umount2("old", MNT_DETACH) < 0 || rmdir("old") < 0 || chdir("/") < 0 ||
			   (root = open("/out", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			m.r = sfc_err(&ce, errno, "unpack %s: confine the unpacker", what);
		} else {
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
			if (o->got_hex)
				o->got_hex = m.got_hex;
			m.r = sfc_unpack(fd, root, what, o, &ce);
			m.stats = o->stats;
		}
		m.err = ce.err;
		snprintf(m.msg, sizeof(m.msg), "%s", ce.msg);
		(void)!write(p[1], &m, sizeof(m));
		_exit(0);
	}
	close(p[1]);
	n = sfc_read_full(p[0], &m, sizeof(m));
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(m))
		return sfc_err(e, 0, "unpack %s: the unpacker died (%s %d)", what, WIFSIGNALED(st) ? "signal" : "status",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	o->stats = m.stats;
	if (o->used)
		*o->used = before + m.stats.bytes;
	if (o->got_hex)
		memcpy(o->got_hex, m.got_hex, 65);
	if (m.r < 0) {
		e->err = m.err;
		e->status = 0;
		snprintf(e->msg, sizeof(e->msg), "%s", m.msg);
		return m.r;
	}
	return 0;
}

/* ------------------------------------------------------------ imports */

static uint64_t max_size(const struct sfc_import_opts *o)
{
	const char *v = getenv("SEFACA_IMAGE_MAX_SIZE");
	uint64_t n;
	struct sfc_error e;

	if (o && o->max_size)
		return o->max_size;
	if (v && sfc_parse_size(v, &n, &e) == 0)
		return n;
	return SFC_IMAGE_MAX_SIZE_DEFAULT;
}

static void progress(const struct sfc_import_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const struct sfc_import_opts *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!o || !o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->progress(o->data, buf);
}

/* Open FILE beneath directory DIRFD; symlinks are allowed only if they stay
 * beneath it (old docker archives link duplicate layers). */
static int open_beneath(int dirfd, const char *file, struct sfc_error *e)
{
	int fd = sfc_openat2(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOCTTY,
			     SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_MAGICLINKS);
	struct stat st;

	if (fd < 0)
		return sfc_err(e, errno == EXDEV ? ELOOP : errno, "%s", file);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sfc_err(e, EINVAL, "%s is not a regular file", file);
	}
	return fd;
}

static char *read_beneath(int dirfd, const char *file, size_t max, struct sfc_error *e)
{
	_cleanup_close_ int fd = open_beneath(dirfd, file, e);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		sfc_err(e, EFBIG, "%s is larger than %zu bytes", file, max);
		return NULL;
	}
	buf = sfc_xmalloc(st.st_size + 1);
	if ((n = sfc_read_full(fd, buf, st.st_size)) < 0) {
		free(buf);
		sfc_err(e, (int)-n, "read %s", file);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Unpack the layer in FD (already known to hash to HEX, or verified
 * against it while unpacking) into the store unless it is there. */
static int store_layer(struct sfc_store *st, int fd, const char *hex, bool verify, uint64_t *used, uint64_t cap,
		       const char *what, struct sfc_error *e)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int root = -1;
	struct sfc_unpack_opts uo = { .max_size = cap, .used = used, .layer = true, .expect_hex = verify ? hex : NULL };
	int r;

	if (sfc_store_has_layer(st, hex))
		return 0;
	if ((r = sfc_store_mktemp(st, "layer", &tmp, e)) < 0)
		return r;
	if ((root = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "open %s", tmp);
		goto fail;
	}
	fchmod(root, 0755);
	if ((r = unpack_isolated(fd, tmp, what, &uo, e)) < 0)
		goto fail;
	{
		/* its unpacked size, for `images` */
		_cleanup_free_ char *sz = sfc_xasprintf("%llu\n", (unsigned long long)uo.stats.bytes);
		_cleanup_free_ char *dir = sfc_xasprintf("%s/layers", st->images);
		_cleanup_free_ char *nm = sfc_xasprintf("%s.size", hex);
		sfc_store_write_atomic(dir, nm, sz, e);
	}
	return sfc_store_commit_layer(st, tmp, hex, e);
fail:
	sfc_rm_rf(tmp);
	return r;
}

static uint64_t layer_size(const struct sfc_store *st, const char *hex)
{
	_cleanup_free_ char *p = sfc_xasprintf("%s/layers/%s.size", st->images, hex);
	char buf[32];
	return sfc_read_file_at(AT_FDCWD, p, buf, sizeof(buf)) > 0 ? strtoull(buf, NULL, 10) : 0;
}

struct layout {
	int dirfd;
};

static char *load_blob(void *data, const char *digest, struct sfc_error *e)
{
	struct layout *l = data;
	_cleanup_free_ char *p = sfc_xasprintf("blobs/sha256/%s", digest + 7);
	char *b = read_beneath(l->dirfd, p, 4 << 20, e), hex[65];

	if (!b)
		return NULL;
	sfc_sha256_hex(b, strlen(b), hex);
	if (strcmp(hex, digest + 7)) {
		free(b);
		sfc_err(e, 0, "blob %s does not match its digest", digest);
		return NULL;
	}
	return b;
}

static int finish_image(struct sfc_store *st, struct sfc_image *img, const struct sfc_import_opts *o,
			struct sfc_error *e)
{
	struct sfc_image old;
	int r;

	img->created = time(NULL);
	img->size = 0;
	for (size_t i = 0; i < img->layers.n; i++)
		img->size += layer_size(st, img->layers.v[i]);
	/* re-importing keeps the names it had */
	if (sfc_store_load_image(st, img->id, &old, e) == 0) {
		for (size_t i = 0; i < old.names.n; i++)
			if (!sfc_strv_contains(&img->names, old.names.v[i]))
				sfc_strv_push(&img->names, old.names.v[i]);
		img->created = old.created;
		sfc_image_free(&old);
	}
	if ((r = sfc_store_save_image(st, img, e)) < 0)
		return r;
	if (o && o->name && (r = sfc_store_tag_image(st, o->name, img->id, e)) < 0)
		return r;
	for (size_t i = 0; i < img->names.n; i++)
		if ((r = sfc_store_tag_image(st, img->names.v[i], img->id, e)) < 0)
			return r;
	if (o && o->name) {
		_cleanup_free_ char *n = sfc_store_image_name(o->name);
		if (n && !sfc_strv_contains(&img->names, n))
			sfc_strv_push(&img->names, n);
	}
	return 0;
}

static int import_oci_dir(struct sfc_store *st, const char *dir, const char *tag, const char *source,
			  const struct sfc_import_opts *o, struct sfc_image *img, struct sfc_error *e)
{
	struct layout l = { -1 };
	_cleanup_free_ char *index = NULL, *cfg = NULL, *layout = NULL;
	struct sfc_oci_manifest m = { 0 };
	uint64_t used = 0, cap = max_size(o);
	int r;

	memset(img, 0, sizeof(*img));
	if ((l.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return sfc_err(e, errno, "OCI layout %s", dir);
	if (!(layout = read_beneath(l.dirfd, "oci-layout", 65536, e))) {
		r = sfc_err(e, e->err, "%s is not an OCI image layout (no oci-layout file)", dir);
		goto out;
	}
	if (!(index = read_beneath(l.dirfd, "index.json", 4 << 20, e))) {
		r = -EINVAL;
		sfc_err_prefix(e, "OCI layout %s", dir);
		goto out;
	}
	if ((r = sfc_oci_resolve(index, tag, load_blob, &l, &m, e)) < 0) {
		sfc_err_prefix(e, "OCI layout %s", dir);
		goto out;
	}
	if (!(cfg = load_blob(&l, m.config.digest, e))) {
		r = -EIO;
		goto out;
	}
	if ((r = sfc_oci_parse_config(cfg, &img->config, e)) < 0)
		goto out;
	if (img->config.os && strcmp(img->config.os, "linux")) {
		r = sfc_err(e, 0, "the image is for %s, not linux", img->config.os);
		goto out;
	}
	img->id = sfc_xstrdup(m.config.digest);
	img->source = sfc_xstrdup(source);
	if ((r = sfc_store_lock(st, false, e)) < 0)
		goto out;
	for (size_t i = 0; i < m.nlayers; i++) {
		const char *hex = m.layers[i].digest + 7;
		_cleanup_free_ char *blob = sfc_xasprintf("blobs/sha256/%s", hex);
		_cleanup_close_ int fd = -1;
		if (!sfc_store_has_layer(st, hex)) {
			progress(o, "unpacking layer %zu/%zu (%s)", i + 1, m.nlayers, m.layers[i].digest);
			if ((fd = open_beneath(l.dirfd, blob, e)) < 0) {
				r = fd;
				break;
			}
			if ((r = store_layer(st, fd, hex, true, &used, cap, m.layers[i].digest, e)) < 0)
				break;
		} else {
			used += layer_size(st, hex);
		}
		sfc_strv_push(&img->layers, hex);
	}
	if (r == 0)
		r = finish_image(st, img, o, e);
	sfc_store_unlock(st);
out:
	sfc_oci_manifest_free(&m);
	if (l.dirfd >= 0)
		close(l.dirfd);
	if (r < 0)
		sfc_image_free(img);
	return r;
}

/* Unpack an outer archive (oci-archive, docker-archive) to a temporary
 * directory of the store: with the same unpacker, so it is no easier to
 * escape than a layer. */
static int unpack_outer(struct sfc_store *st, const char *file, const struct sfc_import_opts *o, char **tmp,
			struct sfc_error *e)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY), root = -1;
	struct sfc_unpack_opts uo = { .max_size = max_size(o), .layer = false };
	int r;

	*tmp = NULL;
	if (fd < 0)
		return sfc_err(e, errno, "%s", file);
	if ((r = sfc_store_mktemp(st, "archive", tmp, e)) < 0)
		return r;
	if ((root = open(*tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "open %s", *tmp);
		goto fail;
	}
	progress(o, "reading %s", file);
	if ((r = unpack_isolated(fd, *tmp, file, &uo, e)) < 0)
		goto fail;
	return 0;
fail:
	sfc_rm_rf(*tmp);
	free(*tmp);
	*tmp = NULL;
	return r;
}

static int import_docker_archive(struct sfc_store *st, const char *file, const char *source,
				 const struct sfc_import_opts *o, struct sfc_image *img, struct sfc_error *e)
{
	_cleanup_free_ char *tmp = NULL, *manifest = NULL, *cfg = NULL;
	_cleanup_close_ int dfd = -1;
	struct sfc_docker_manifest dm = { 0 };
	uint64_t used = 0, cap = max_size(o);
	char hex[65];
	int r;

	memset(img, 0, sizeof(*img));
	if ((r = unpack_outer(st, file, o, &tmp, e)) < 0)
		return r;
	if ((dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "open %s", tmp);
		goto out;
	}
	if (!(manifest = read_beneath(dfd, "manifest.json", 4 << 20, e))) {
		r = sfc_err(e, 0, "%s is not a docker archive (no manifest.json)", file);
		goto out;
	}
	if ((r = sfc_docker_parse_manifest(manifest, NULL, &dm, e)) < 0)
		goto out;
	if (!(cfg = read_beneath(dfd, dm.config, 4 << 20, e))) {
		r = -EIO;
		goto out;
	}
	if ((r = sfc_oci_parse_config(cfg, &img->config, e)) < 0)
		goto out;
	sfc_sha256_hex(cfg, strlen(cfg), hex);
	img->id = sfc_xasprintf("sha256:%s", hex);
	img->source = sfc_xstrdup(source);
	for (size_t i = 0; i < dm.tags.n; i++) {
		_cleanup_free_ char *n = sfc_store_image_name(dm.tags.v[i]);
		if (n && !sfc_strv_contains(&img->names, n))
			sfc_strv_push(&img->names, n);
	}
	if ((r = sfc_store_lock(st, false, e)) < 0)
		goto out;
	for (size_t i = 0; i < dm.layers.n && r == 0; i++) {
		_cleanup_close_ int fd = open_beneath(dfd, dm.layers.v[i], e);
		if (fd < 0) {
			r = fd;
			break;
		}
		/* docker archives name layers by path: the content address is the
		 * digest of the layer as it is in the archive */
		if ((r = sfc_sha256_file(fd, hex, e)) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
			r = r < 0 ? r : sfc_err(e, errno, "%s", dm.layers.v[i]);
			break;
		}
		if (!sfc_store_has_layer(st, hex))
			progress(o, "unpacking layer %zu/%zu", i + 1, dm.layers.n);
		else
			used += layer_size(st, hex);
		if ((r = store_layer(st, fd, hex, true, &used, cap, dm.layers.v[i], e)) < 0)
			break;
		sfc_strv_push(&img->layers, hex);
	}
	if (r == 0)
		r = finish_image(st, img, o, e);
	sfc_store_unlock(st);
out:
	sfc_docker_manifest_free(&dm);
	if (tmp)
		sfc_rm_rf(tmp);
	if (r < 0)
		sfc_image_free(img);
	return r;
}

static int import_tar(struct sfc_store *st, const char *file, const char *source, const struct sfc_import_opts *o,
		      struct sfc_image *img, struct sfc_error *e)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	uint64_t used = 0;
	char hex[65], idhex[65];
	int r;

	memset(img, 0, sizeof(*img));
	if (fd < 0)
		return sfc_err(e, errno, "%s", file);
	if ((r = sfc_sha256_file(fd, hex, e)) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return r < 0 ? r : sfc_err(e, errno, "%s", file);
	if ((r = sfc_store_lock(st, false, e)) < 0)
		return r;
	if (!sfc_store_has_layer(st, hex))
		progress(o, "unpacking %s", file);
	if ((r = store_layer(st, fd, hex, true, &used, max_size(o), file, e)) < 0)
		goto out;
	{
		/* no config: the id is that of the one layer */
		_cleanup_free_ char *cfg = sfc_xasprintf("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}",
							  hex);
		sfc_sha256_hex(cfg, strlen(cfg), idhex);
	}
	img->id = sfc_xasprintf("sha256:%s", idhex);
	img->source = sfc_xstrdup(source);
	sfc_strv_push(&img->layers, hex);
	r = finish_image(st, img, o, e);
out:
	sfc_store_unlock(st);
	if (r < 0)
		sfc_image_free(img);
	return r;
}

static int import_docker(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o,
			 struct sfc_image *img, struct sfc_error *e)
{
	_cleanup_free_ char *skopeo = sfc_which("skopeo"), *tmp = NULL, *src = NULL, *dst = NULL, *name = NULL;
	struct sfc_import_opts o2 = o ? *o : (struct sfc_import_opts){ 0 };
	pid_t pid;
	int st_, r;

	memset(img, 0, sizeof(*img));
	if (!skopeo)
		return sfc_err(e, ENOENT, "pulling docker://%s needs skopeo, which is not installed (apt-get install "
					  "skopeo), or import the image from a file (oci:, oci-archive:, docker-archive:)",
			       ref);
	if ((r = sfc_store_mktemp(st, "pull", &tmp, e)) < 0)
		return r;
	src = sfc_xasprintf("docker://%s", ref);
	dst = sfc_xasprintf("oci:%s/layout:latest", tmp);
	progress(o, "pulling %s with skopeo", src);
	pid = fork();
	if (pid < 0) {
		r = sfc_err(e, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		char *argv[] = { skopeo, "copy", "--quiet", src, dst, NULL };
		dup2(2, 1); /* skopeo's chatter is diagnostics, not our output */
		execv(skopeo, argv);
		_exit(127);
	}
	while (waitpid(pid, &st_, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st_) || WEXITSTATUS(st_)) {
		r = sfc_err(e, 0, "skopeo could not pull %s (exit %d; see its message above)", src,
			    WIFEXITED(st_) ? WEXITSTATUS(st_) : 128 + WTERMSIG(st_));
		goto out;
	}
	{
		_cleanup_free_ char *ldir = sfc_xasprintf("%s/layout", tmp);
		name = sfc_store_image_name(ref);
		if (!o2.name)
			o2.name = name;
		r = import_oci_dir(st, ldir, "latest", src, &o2, img, e);
	}
out:
	sfc_rm_rf(tmp);
	return r;
}

int sfc_image_import(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o, struct sfc_image *img,
		     struct sfc_error *e)
{
	struct sfc_imgref ir;
	int r;

	memset(img, 0, sizeof(*img));
	if ((r = sfc_imgref_parse(ref, &ir, e)) < 0)
		return r;
	if (o && o->name && !sfc_store_image_name_valid(o->name)) {
		sfc_imgref_free(&ir);
		return sfc_err(e, 0, "bad image name '%s'", o->name);
	}
	switch (ir.kind) {
	case SFC_REF_HOST:
	case SFC_REF_DIR:
		r = sfc_err(e, 0, "'%s' is used in place; there is nothing to import", ref);
		break;
	case SFC_REF_OCI:
		r = import_oci_dir(st, ir.path, ir.tag, ref, o, img, e);
		break;
	case SFC_REF_OCI_ARCHIVE: {
		char *tmp = NULL;
		if ((r = unpack_outer(st, ir.path, o, &tmp, e)) == 0) {
			r = import_oci_dir(st, tmp, NULL, ref, o, img, e);
			sfc_rm_rf(tmp);
			free(tmp);
		}
		break;
	}
	case SFC_REF_DOCKER_ARCHIVE:
		r = import_docker_archive(st, ir.path, ref, o, img, e);
		break;
	case SFC_REF_TAR:
		r = import_tar(st, ir.path, ref, o, img, e);
		break;
	case SFC_REF_DOCKER:
		r = import_docker(st, ir.path, o, img, e);
		break;
	case SFC_REF_NAME:
		r = sfc_err(e, ENOENT, "no image named %s here", ref);
		break;
	}
	sfc_imgref_free(&ir);
	return r;
}

int sfc_image_get(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o, struct sfc_image *img,
		  struct sfc_error *e)
{
	struct sfc_imgref ir;
	int r;

	if ((r = sfc_imgref_parse(ref, &ir, e)) < 0)
		return r;
	if (ir.kind == SFC_REF_NAME) {
		r = sfc_store_find_image(st, ref, img, e);
		if (r == 0) {
			/* not here: registry names go to docker:// (through skopeo) */
			_cleanup_free_ char *n = sfc_store_image_name(ref);
			if (!n)
				r = sfc_err(e, 0, "bad image reference '%s'", ref);
			else
				r = import_docker(st, ref, o, img, e);
		} else if (r > 0) {
			r = 0;
		}
		sfc_imgref_free(&ir);
		return r;
	}
	sfc_imgref_free(&ir);
	return sfc_image_import(st, ref, o, img, e);
}

#else /* !ENABLE_FEATURE_IMAGES */
int sfc_image_import(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o, struct sfc_image *img,
		     struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "container images were compiled out of this build (FEATURE_IMAGES)");
}
int sfc_image_get(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o, struct sfc_image *img,
		  struct sfc_error *e)
{
	return sfc_image_import(st, ref, o, img, e);
}
#endif

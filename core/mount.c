#include "core/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/kernel.h"
#include "core/parse.h"

const char *const sfc_secret_stores[] = {
	".ssh", ".gnupg", ".aws", ".azure", ".netrc", ".kube", ".docker", ".config/gcloud", ".config/gh",
	".config/hub", ".password-store", ".local/share/keyrings", ".git-credentials", ".npmrc", ".pypirc",
	".cargo/credentials", ".cargo/credentials.toml", ".vault-token", ".terraform.d/credentials.tfrc.json",
	".pki", NULL,
};

/* System directories a minimal view shows read-only.  Symlinks (merged /usr)
 * are recreated as symlinks. */
static const char *const system_dirs[] = {
	"/usr", "/etc", "/opt", "/var", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", NULL,
};

/* ------------------------------------------------------------------ plan */

void sfc_mount_plan_add(struct sfc_mount_plan *p, enum sfc_mop_kind kind, unsigned flags, const char *src,
			const char *dst, const char *why)
{
	struct sfc_mop *m;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->ops = sfc_xrealloc(p->ops, p->cap * sizeof(*p->ops));
	}
	m = &p->ops[p->n++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->flags = flags;
	m->src = src ? sfc_xstrdup(src) : NULL;
	m->dst = sfc_path_normalize(dst);
	m->mode = 0755;
	m->why = sfc_xstrdup(why ? why : "");
}

void sfc_mount_plan_sort(struct sfc_mount_plan *p)
{
	/* insertion sort: stable, and plans are short */
	for (size_t i = 1; i < p->n; i++) {
		struct sfc_mop m = p->ops[i];
		int d = sfc_path_depth(m.dst);
		size_t j = i;
		while (j > 0 && sfc_path_depth(p->ops[j - 1].dst) > d) {
			p->ops[j] = p->ops[j - 1];
			j--;
		}
		p->ops[j] = m;
	}
}

void sfc_mount_plan_free(struct sfc_mount_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->ops[i].src);
		free(p->ops[i].dst);
		free(p->ops[i].why);
	}
	free(p->ops);
	free(p->root_dir);
	free(p->upperdir);
	free(p->ovl_workdir);
	free(p->workdir);
	sfc_strv_clear(&p->lowerdirs);
	sfc_strv_clear(&p->notes);
	sfc_strv_clear(&p->hidden);
	memset(p, 0, sizeof(*p));
}

static char *dup_or_null(const char *s)
{
	return s ? sfc_xstrdup(s) : NULL;
}

static void strv_copy(struct sfc_strv *to, const struct sfc_strv *from)
{
	for (size_t i = 0; i < from->n; i++)
		sfc_strv_push(to, from->v[i]);
}

void sfc_mount_plan_copy(struct sfc_mount_plan *to, const struct sfc_mount_plan *from)
{
	memset(to, 0, sizeof(*to));
	to->root = from->root;
	to->root_ro = from->root_ro;
	to->root_dir = dup_or_null(from->root_dir);
	strv_copy(&to->lowerdirs, &from->lowerdirs);
	to->upperdir = dup_or_null(from->upperdir);
	to->ovl_workdir = dup_or_null(from->ovl_workdir);
	to->upper_tmpfs = from->upper_tmpfs;
	to->sys_fresh = from->sys_fresh;
	if (from->n) {
		to->ops = sfc_xcalloc(from->n, sizeof(*to->ops));
		to->n = to->cap = from->n;
		for (size_t i = 0; i < from->n; i++) {
			to->ops[i] = from->ops[i];
			to->ops[i].src = dup_or_null(from->ops[i].src);
			to->ops[i].dst = dup_or_null(from->ops[i].dst);
			to->ops[i].why = dup_or_null(from->ops[i].why);
		}
	}
	to->workdir = dup_or_null(from->workdir);
	strv_copy(&to->notes, &from->notes);
	strv_copy(&to->hidden, &from->hidden);
}

bool sfc_mount_plan_visible(const struct sfc_mount_plan *p, const char *path)
{
	const struct sfc_mop *best = NULL;
	int bestd = -1;

	for (size_t i = 0; i < p->n; i++) {
		const struct sfc_mop *m = &p->ops[i];
		int d = sfc_path_depth(m->dst);
		if (m->kind == SFC_MOP_SYMLINK || m->kind == SFC_MOP_DIR)
			continue;
		if (sfc_path_within(path, m->dst) && d >= bestd) {
			best = m;
			bestd = d;
		}
	}
	if (!best)
		return p->root != SFC_ROOT_TMPFS || strcmp(path, "/") == 0;
	if (best->kind == SFC_MOP_HIDE)
		return false;
	if (best->kind == SFC_MOP_TMPFS)
		return strcmp(path, best->dst) == 0; /* an empty tmpfs shows only itself */
	return true;
}

static bool is_hidden(const struct sfc_mount_plan *p, const char *path)
{
	for (size_t i = 0; i < p->hidden.n; i++)
		if (sfc_path_within(path, p->hidden.v[i]))
			return true;
	return false;
}

/* Resolve a granted host path.  Relative paths (".", "./test-output") are
 * resolved beneath the current directory and may not leave it by ".." or a
 * symlink (openat2 RESOLVE_BENEATH); absolute ones follow symlinks as the
 * user's shell would.  A path that only *resolves* into a hidden secret
 * store is refused: a repository's ".git -> ~/.ssh" symlink cannot turn
 * --readonly=P/.git into a view of ~/.ssh (flatpak CVE-2024-42472,
 * runc CVE-2024-45310).  Returns 1 with *real set, 0 if missing, < 0 on error. */
static int resolve_grant(const struct sfc_spec *s, const struct sfc_mount_plan *p, const char *path, char **real,
			 struct sfc_error *e)
{
	_cleanup_free_ char *given = NULL;
	char buf[PATH_MAX];

	*real = NULL;
	if (path[0] != '/') {
		_cleanup_close_ int dfd = open(s->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int fd = -1;
		char proc[64];
		ssize_t n;

		if (dfd < 0)
			return sfc_err(e, errno, "open current directory %s", s->cwd);
		fd = sfc_openat2(dfd, path, O_PATH | O_CLOEXEC, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_MAGICLINKS);
		if (fd < 0) {
			if (errno == ENOENT)
				return 0;
			if (errno == EXDEV || errno == ELOOP)
				return sfc_err(e, 0, "%s leaves the current directory (through '..' or a symlink); "
						     "grants relative to the current directory must stay inside it", path);
			return sfc_err(e, errno, "%s", path);
		}
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if ((n = readlink(proc, buf, sizeof(buf) - 1)) < 0)
			return sfc_err(e, errno, "resolve %s", path);
		buf[n] = 0;
		given = sfc_path_normalize(buf); /* beneath cwd, so what was given is what resolved */
	} else {
		given = sfc_path_normalize(path);
		if (!realpath(path, buf)) {
			if (errno == ENOENT)
				return 0;
			return sfc_err(e, errno, "%s", path);
		}
	}
	if (is_hidden(p, buf) && !is_hidden(p, given))
		return sfc_err(e, 0, "%s resolves to %s, which is hidden in the sandbox; name that path itself if you "
				     "mean to grant it", path, buf);
	*real = sfc_xstrdup(buf);
	return 1;
}

static void add_system(struct sfc_mount_plan *p, const char *dir)
{
	struct stat st;
	char target[PATH_MAX];
	ssize_t n;

	if (lstat(dir, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(dir, target, sizeof(target) - 1)) < 0)
			return;
		target[n] = 0;
		sfc_mount_plan_add(p, SFC_MOP_SYMLINK, 0, target, dir, "system");
	} else if (S_ISDIR(st.st_mode)) {
		sfc_mount_plan_add(p, SFC_MOP_BIND, SFC_MOP_RO | SFC_MOP_OPTIONAL, dir, dir, "system");
	}
}

static int add_tmpfs_spec(const struct sfc_spec *s, struct sfc_mount_plan *p, const char *item, struct sfc_error *e)
{
	_cleanup_free_ char *path = sfc_xstrdup(item), *abs = NULL, *joined = NULL;
	char *c = strrchr(path, ':');
	uint64_t size = 0;

	if (c) {
		*c = 0;
		if (sfc_parse_size(c + 1, &size, e) < 0)
			return -EINVAL;
	}
	if (path[0] != '/')
		joined = sfc_xasprintf("%s/%s", s->cwd, path);
	abs = sfc_path_normalize(joined ? joined : path);
	if (!strcmp(abs, "/"))
		return sfc_err(e, 0, "a tmpfs on / is not allowed");
	sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, abs, "tmpfs");
	p->ops[p->n - 1].size = size;
	return 0;
}

static void add_secret_stores(const struct sfc_spec *s, struct sfc_mount_plan *p, const char *home)
{
	for (const char *const *d = sfc_secret_stores; *d; d++) {
		_cleanup_free_ char *path = sfc_xasprintf("%s/%s", home, *d);
		char real[PATH_MAX];
		struct stat st;

		if (lstat(path, &st) < 0)
			continue;
		/* A store that is a symlink is hidden where it points, if that is visible. */
		if (S_ISLNK(st.st_mode)) {
			if (!realpath(path, real))
				continue;
			sfc_strv_push(&p->hidden, path);
			sfc_strv_push(&p->hidden, real);
			if (sfc_mount_plan_visible(p, real))
				sfc_mount_plan_add(p, SFC_MOP_HIDE, 0, NULL, real, "secret store");
			continue;
		}
		sfc_strv_push(&p->hidden, path);
		sfc_mount_plan_add(p, SFC_MOP_HIDE, 0, NULL, path, "secret store");
	}
}

static int add_grants(const struct sfc_spec *s, struct sfc_mount_plan *p, const struct sfc_list *l, unsigned flags,
		      struct sfc_error *e)
{
	for (size_t i = 0; i < l->items.n; i++) {
		const char *path = l->items.v[i];
		char *real;
		int r = resolve_grant(s, p, path, &real, e);

		if (r < 0)
			return r;
		if (r == 0) {
			/* A flag names a path the user expects to exist; presets and
			 * config name paths that may not exist in every tree. */
			if (l->origins[i].kind == SFC_ORIGIN_FLAG)
				return sfc_err(e, ENOENT, "%s", path);
			sfc_strv_push_owned(&p->notes, sfc_xasprintf("%s does not exist; not granted", path));
			continue;
		}
		if (!strcmp(real, "/")) {
			free(real);
			return sfc_err(e, 0, "granting / is not allowed (use --level=permissive for the host view)");
		}
		sfc_mount_plan_add(p, SFC_MOP_BIND, flags, real, real, "grant");
		free(real);
	}
	return 0;
}

int sfc_mount_plan_for_run(const struct sfc_spec *s, bool new_netns, struct sfc_mount_plan *p, struct sfc_error *e)
{
	const bool host = s->filesystem == SFC_FS_HOST;
	char home[PATH_MAX];
	bool have_home = false;
	struct stat st;
	int r;

	p->root = host ? SFC_ROOT_HOST : SFC_ROOT_TMPFS;
	p->root_ro = host && s->read_only_root;
	p->sys_fresh = new_netns;

	if (!host) {
		for (const char *const *d = system_dirs; *d; d++)
			add_system(p, *d);
		if (stat("/var", &st) == 0 && S_ISDIR(st.st_mode)) {
			sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, "/var/tmp", "private tmp");
			p->ops[p->n - 1].mode = 01777;
		}
		sfc_mount_plan_add(p, SFC_MOP_DIR, 0, NULL, "/run", "empty");
		sfc_mount_plan_add(p, SFC_MOP_SYS, SFC_MOP_RO, NULL, "/sys", "sysfs");
		/* A resolv.conf that points into /run (systemd-resolved) needs its target. */
		if (s->network != SFC_NET_DENY) {
			char real[PATH_MAX];
			if (realpath("/etc/resolv.conf", real) && !sfc_path_within(real, "/etc") &&
			    !sfc_path_within(real, "/usr"))
				sfc_mount_plan_add(p, SFC_MOP_BIND, SFC_MOP_RO | SFC_MOP_OPTIONAL, real, real, "resolver");
		}
	}
	if (!host || s->read_only_root) {
		sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, "/tmp", "private tmp");
		p->ops[p->n - 1].mode = 01777;
		p->ops[p->n - 1].size = s->tmp_size;
	}
	sfc_mount_plan_add(p, SFC_MOP_PROC, 0, NULL, "/proc", "procfs");
	sfc_mount_plan_add(p, SFC_MOP_DEV, 0, NULL, "/dev", "devices");

	/* $HOME, then its secret stores. */
	if (s->home && s->home[0] == '/' && stat(s->home, &st) == 0 && S_ISDIR(st.st_mode) && realpath(s->home, home) &&
	    strcmp(home, "/") != 0)
		have_home = true;
	if (have_home) {
		switch (s->home_mode) {
		case SFC_DIR_RO:
			sfc_mount_plan_add(p, SFC_MOP_BIND, SFC_MOP_RO, home, home, "home");
			break;
		case SFC_DIR_RW:
			if (!host || s->read_only_root)
				sfc_mount_plan_add(p, SFC_MOP_BIND, 0, home, home, "home");
			break;
		case SFC_DIR_TMPFS:
			sfc_mount_plan_add(p, SFC_MOP_TMPFS, SFC_MOP_FINAL_RO, NULL, home, "empty home");
			p->ops[p->n - 1].mode = 0700;
			break;
		case SFC_DIR_NONE:
			if (host)
				sfc_mount_plan_add(p, SFC_MOP_HIDE, 0, NULL, home, "home hidden");
			break;
		}
		if (s->hide_secrets && (s->home_mode == SFC_DIR_RO || s->home_mode == SFC_DIR_RW))
			add_secret_stores(s, p, home);
		/* $HOME through a symlink (/home -> /data/home): the same path leads home inside */
		if (!host && s->home_mode != SFC_DIR_NONE) {
			_cleanup_free_ char *given = sfc_path_normalize(s->home);
			if (strcmp(given, home) != 0)
				sfc_mount_plan_add(p, SFC_MOP_SYMLINK, SFC_MOP_OPTIONAL, home, given, "home link");
		}
	}

	/* The current directory. */
	if (s->cwd_mode != SFC_DIR_NONE && strcmp(s->cwd, "/") != 0) {
		bool covered = host && !s->read_only_root && s->cwd_mode == SFC_DIR_RW;
		if (!covered)
			sfc_mount_plan_add(p, SFC_MOP_BIND, s->cwd_mode == SFC_DIR_RO ? SFC_MOP_RO : 0, s->cwd, s->cwd,
					   "current directory");
	}

	/* User grants. */
	for (size_t i = 0; i < s->hide.items.n; i++) {
		char real[PATH_MAX];
		const char *h = s->hide.items.v[i];
		_cleanup_free_ char *joined = h[0] == '/' ? NULL : sfc_xasprintf("%s/%s", s->cwd, h);
		if (!realpath(joined ? joined : h, real))
			continue; /* nothing there to hide */
		sfc_strv_push(&p->hidden, real);
	}
	if ((r = add_grants(s, p, &s->readonly, SFC_MOP_RO, e)) < 0 || (r = add_grants(s, p, &s->readwrite, 0, e)) < 0)
		return r;
	for (size_t i = 0; i < s->hide.items.n; i++) {
		char real[PATH_MAX];
		const char *h = s->hide.items.v[i];
		_cleanup_free_ char *joined = h[0] == '/' ? NULL : sfc_xasprintf("%s/%s", s->cwd, h);
		if (realpath(joined ? joined : h, real))
			sfc_mount_plan_add(p, SFC_MOP_HIDE, 0, NULL, real, "hidden");
	}
	for (size_t i = 0; i < s->tmpfs.items.n; i++)
		if ((r = add_tmpfs_spec(s, p, s->tmpfs.items.v[i], e)) < 0)
			return r;

	sfc_mount_plan_sort(p);

	/* Where the payload starts. */
	if (s->workdir) {
		_cleanup_free_ char *joined = s->workdir[0] == '/' ? NULL : sfc_xasprintf("%s/%s", s->cwd, s->workdir);
		p->workdir = sfc_path_normalize(joined ? joined : s->workdir);
	} else if (sfc_mount_plan_visible(p, s->cwd)) {
		p->workdir = sfc_xstrdup(s->cwd);
	} else {
		/* Never start in a host directory outside the new root (runc CVE-2024-21626). */
		p->workdir = sfc_xstrdup("/");
		sfc_strv_push_owned(&p->notes, sfc_xasprintf("the current directory %s is not visible in the sandbox; "
							     "starting in /", s->cwd));
	}
	return 0;
}

/* ----------------------------------------------------------------- apply */

struct apply_ctx {
	int oldroot; /* host root, after the first pivot_root */
	int newroot; /* the root being built */
	int empty;   /* an empty file, to hide files behind (on a read-only mount) */
	int emptydir; /* an empty directory, to hide directories behind (likewise) */
	int final_ro[64];
	int nfinal;
	/* a procfs of the sandbox's own pid namespace: its self/fd/N names
	 * what descriptor N was opened at, for mount(2) (see fdpath) */
	const char *proc;
	uid_t uid;   /* ours, as the sandbox sees it */
	struct sfc_error *e;
};

/* Open (creating as needed) DST beneath ROOT without following symlinks:
 * a mount target must never be redirected, whatever the trees we bound
 * in contain.  Returns an O_PATH fd (or, for a file it created, the
 * descriptor it created it with). */
static int make_target(int root, const char *dst, bool dir, struct sfc_error *e)
{
	const char *p = dst;
	int fd, nfd, cur = root;

	/* A directory right under the root, as most mount points of a new
	 * root are: made first, then opened (a lookup less than finding it
	 * missing); one that exists takes the way below. */
	if (dir && dst[0] == '/' && dst[1] && !strchr(dst + 1, '/') && mkdirat(root, dst + 1, 0755) == 0) {
		if ((fd = openat(root, dst + 1, O_PATH | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY)) < 0)
			return sfc_err(e, errno, "mount target %s", dst);
		return fd;
	}
	fd = sfc_openat2(root, dst[1] ? dst + 1 : ".", O_PATH | O_CLOEXEC | O_NOFOLLOW,
			 SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode) != dir || (!dir && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))) {
			close(fd);
			return sfc_err(e, ENOTDIR, "mount target %s is a %s", dst, dir ? "file" : "directory");
		}
		return fd;
	}
	if (errno == ELOOP || errno == EXDEV)
		return sfc_err(e, ELOOP, "mount target %s crosses a symlink", dst);
	if (errno != ENOENT)
		return sfc_err(e, errno, "mount target %s", dst);

	/* Create what is missing a component at a time: mkdirat and O_CREAT
	 * with O_EXCL never follow a symlink in the last component, and each
	 * directory is opened with O_NOFOLLOW before we go into it. */
	while (*p) {
		char name[NAME_MAX + 1];
		size_t n;
		bool last;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		if (n > NAME_MAX) {
			nfd = sfc_err(e, ENAMETOOLONG, "mount target %s", dst);
			goto out;
		}
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		while (*p == '/')
			p++;
		last = !*p;
		if (last && !dir) {
			nfd = openat(cur, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
			if (nfd < 0 && errno == EEXIST) {
				struct stat st;
				nfd = openat(cur, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
				if (nfd >= 0 && (fstat(nfd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)))) {
					close(nfd);
					nfd = sfc_err(e, ELOOP, "mount target %s is not a plain file", dst);
					goto out;
				}
			}
		} else {
			if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST) {
				nfd = sfc_err(e, errno, "create mount point %s", dst);
				goto out;
			}
			nfd = openat(cur, name, O_PATH | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY);
		}
		if (nfd < 0) {
			nfd = sfc_err(e, errno == ENOTDIR ? ELOOP : errno, "mount target %s", dst);
			goto out;
		}
		if (cur != root)
			close(cur);
		cur = nfd;
	}
	return cur == root ? sfc_err(e, EEXIST, "mount target %s", dst) : cur;
out:
	if (cur != root)
		close(cur);
	return nfd;
}

/* Mounts are made with mount(2) on descriptors opened without following
 * symlinks (make_target, open_src), named through /proc/self/fd/N: the
 * kernel follows such a link to exactly the object the descriptor holds
 * (as bubblewrap does).  Not with the new mount API's detached trees
 * (open_tree, fsmount, move_mount): each of those is an anonymous mount
 * namespace to make and to free, which measured 10-40 us a mount on a VM
 * against 2-4 us for mount(2) -- most of a sandbox's mount tree.  What
 * the new API is still used for: mount_setattr (recursive read-only). */
static const char *fdpath(const struct apply_ctx *c, char *buf, size_t len, int fd)
{
	snprintf(buf, len, "%s/self/fd/%d", c->proc, fd);
	return buf;
}

/* Raw system calls (core/kernel.h): -errno returned, errno left alone. */
#define RAW(n, a, b, c, d, e) sfc_raw_syscall6(SYS_##n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
static long raw_openat2(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct sfc_open_how how = { flags, 0, resolve };
	return sfc_raw_syscall(__NR_openat2, dfd, (long)path, (long)&how, sizeof(how));
}
static long raw_setattr(int fd, unsigned flags, uint64_t set)
{
	struct sfc_mount_attr a = { set, 0, 0, 0 };
	return sfc_raw_syscall6(__NR_mount_setattr, fd, (long)"", AT_EMPTY_PATH | flags, (long)&a, sizeof(a), 0);
}
static void raw_close(long fd)
{
	if (fd >= 0)
		RAW(close, fd, 0, 0, 0, 0);
}
/* DIRFD/PATH, which must not be reached through a symlink */
static long raw_reopen(int dirfd, const char *path, int flags)
{
	return raw_openat2(dirfd, path[0] ? path : ".", O_PATH | O_CLOEXEC | O_NOFOLLOW | flags,
			   SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
}

/* Bind SRC_FD's tree (REC: with its submounts) onto TARGET; then, with
 * ATTRS, set them on what was bound, submounts included, looked up again
 * as DIRFD/PATH (TARGET is the directory under the new mount). */
static int bind_fd(struct apply_ctx *c, int src_fd, int target, bool rec, uint64_t attrs, int dirfd, const char *path,
		   const char *what)
{
	char s[64], t[64];
	long m, r;

	if ((r = RAW(mount, fdpath(c, s, sizeof(s), src_fd), fdpath(c, t, sizeof(t), target), 0,
		     MS_BIND | (rec ? MS_REC : 0), 0)) < 0)
		return sfc_err(c->e, -r, "bind %s", what);
	if (!attrs)
		return 0;
	/* Read-only is applied to the whole tree, submounts included
	 * (SECURITY.md 4), before anything runs in the sandbox.  Inside our
	 * user namespace the payload could clear it only with CAP_SYS_ADMIN
	 * and the mount syscalls, both gone before it runs; a nested namespace
	 * it makes sees these flags locked. */
	if ((m = raw_reopen(dirfd, path, 0)) < 0)
		return sfc_err(c->e, -m, "reopen %s", what);
	r = raw_setattr(m, rec ? SFC_AT_RECURSIVE : 0, attrs);
	raw_close(m);
	if (r == -ENOSYS)
		return sfc_err(c->e, ENOSYS, "mount_setattr (sefaca needs Linux 5.12 or later)");
	if (r < 0)
		return sfc_err(c->e, -r, "set mount flags on %s", what);
	return 0;
}

/* A new filesystem instance of TYPE on TARGET. */
static int mount_fs(struct apply_ctx *c, const char *type, int target, unsigned long flags, const char *data,
		    const char *what)
{
	char t[64];
	long r = RAW(mount, type, fdpath(c, t, sizeof(t), target), type, flags, data);

	if (r == -EPERM && !strcmp(type, "proc"))
		return sfc_err(c->e, EPERM, "mount a new /proc (the kernel refuses when the host's /proc is partly "
					    "covered, as in some containers)");
	if (r < 0)
		return sfc_err(c->e, -r, "mount %s on %s", type, what);
	return 0;
}

/* A tmpfs on TARGET, which is DST of the new root; FINAL_RO: made
 * read-only once every mount point in it exists. */
static int do_tmpfs(struct apply_ctx *c, int target, const char *dst, uint64_t size, unsigned mode, bool final_ro)
{
	char data[64];
	int r, m;

	if (size)
		snprintf(data, sizeof(data), "mode=%o,size=%llu", mode, (unsigned long long)size);
	else
		snprintf(data, sizeof(data), "mode=%o", mode);
	if ((r = mount_fs(c, "tmpfs", target, MS_NOSUID | MS_NODEV, data, dst)) < 0)
		return r;
	if (!final_ro)
		return 0;
	if (c->nfinal == (int)SFC_ARRAY_SIZE(c->final_ro))
		return sfc_err(c->e, E2BIG, "too many read-only tmpfs mounts");
	m = sfc_openat2(c->newroot, dst[1] ? dst + 1 : ".", O_PATH | O_CLOEXEC | O_NOFOLLOW,
			SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
	if (m < 0)
		return sfc_err(c->e, errno, "reopen %s", dst);
	c->final_ro[c->nfinal++] = m;
	return 0;
}

static int open_src(struct apply_ctx *c, const char *src)
{
	/* src is a real path resolved by the supervisor: no symlink may appear
	 * in it now; if one did, the tree changed under us and we stop. */
	int fd = sfc_openat2(c->oldroot, src[1] ? src + 1 : ".", O_PATH | O_CLOEXEC | O_NOFOLLOW,
			     SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
	if (fd < 0 && (errno == ELOOP || errno == EXDEV))
		errno = ELOOP;
	return fd;
}

static int op_bind(struct apply_ctx *c, const struct sfc_mop *m)
{
	_cleanup_close_ int src = open_src(c, m->src), dst = -1;
	struct stat st;
	uint64_t attrs = SFC_MOUNT_ATTR_NOSUID;

	if (src < 0) {
		if (errno == ENOENT && (m->flags & SFC_MOP_OPTIONAL))
			return 0;
		return sfc_err(c->e, errno, "%s", m->src);
	}
	if (fstat(src, &st) < 0)
		return sfc_err(c->e, errno, "%s", m->src);
	if ((dst = make_target(c->newroot, m->dst, S_ISDIR(st.st_mode), c->e)) < 0)
		return dst;
	if (m->flags & SFC_MOP_RO)
		attrs |= SFC_MOUNT_ATTR_RDONLY;
	if (!(m->flags & SFC_MOP_DEVICES))
		attrs |= SFC_MOUNT_ATTR_NODEV;
	return bind_fd(c, src, dst, !(m->flags & SFC_MOP_NOREC), attrs, c->newroot, m->dst + 1, m->dst);
}

/* Hide NAME beneath DIRFD behind the empty file or directory, whose
 * read-only, nosuid, nodev, noexec mount the bind inherits (one mount(2)
 * and no mount_setattr a hidden path). */
static int hide_at(struct apply_ctx *c, int dirfd, const char *name, const char *what)
{
	long t = raw_reopen(dirfd, name, 0), r;
	struct stat st;

	if (t == -ENOENT)
		return 0;
	if (t < 0)
		return sfc_err(c->e, -t, "hide %s", what);
	if ((r = RAW(fstat, t, &st, 0, 0, 0)) < 0)
		r = sfc_err(c->e, -r, "hide %s", what);
	else if (S_ISLNK(st.st_mode))
		r = sfc_err(c->e, ELOOP, "hide %s: it is a symlink", what);
	else
		r = bind_fd(c, S_ISDIR(st.st_mode) ? c->emptydir : c->empty, t, false, 0, -1, "", what);
	raw_close(t);
	return r;
}

static int op_hide(struct apply_ctx *c, const struct sfc_mop *m)
{
	return hide_at(c, c->newroot, m->dst[1] ? m->dst + 1 : ".", m->dst);
}

/* PATH's directory in BUF (no heap in init: see sfc_mount_plan_apply). */
static const char *parent_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= len)
		return NULL;
	memcpy(buf, path, n);
	buf[n] = 0;
	return buf[0] ? buf : "/";
}

static int op_symlink(struct apply_ctx *c, const struct sfc_mop *m)
{
	char buf[PATH_MAX];
	const char *parent = parent_of(m->dst, buf, sizeof(buf));
	const char *base = strrchr(m->dst, '/') + 1;
	_cleanup_close_ int pfd = -1;

	if (!parent)
		return sfc_err(c->e, ENAMETOOLONG, "symlink %s", m->dst);
	if (!strcmp(parent, "/")) /* the new root itself: no lookup to make */
		return symlinkat(m->src, c->newroot, base) < 0 && errno != EEXIST && !(m->flags & SFC_MOP_OPTIONAL)
			       ? sfc_err(c->e, errno, "symlink %s", m->dst)
			       : 0;
	if ((pfd = make_target(c->newroot, parent, true, c->e)) < 0)
		return (m->flags & SFC_MOP_OPTIONAL) ? 0 : pfd;
	/* an O_PATH directory fd serves as the dirfd of *at() calls */
	if (symlinkat(m->src, pfd, base) < 0 && errno != EEXIST && !(m->flags & SFC_MOP_OPTIONAL))
		return sfc_err(c->e, errno, "symlink %s", m->dst);
	return 0;
}

/* /proc entries that leak host information or reach kernel knobs; the
 * last ones are directories. */
static const char *const proc_masked[] = {
	"kcore", "keys", "key-users", "timer_list", "timer_stats", "sched_debug", "latency_stats", "kallsyms",
	"kpagecount", "kpageflags", "kpagecgroup", "vmallocinfo", "acpi", "scsi", "asound", "driver",
	NULL,
};
#define PROC_MASKED_DIRS 12 /* proc_masked[12...] */
/* Those of them that kernels make readable by root alone (0400): looked
 * at first, and left alone if so -- the host's root owns them, unmapped in
 * the sandbox, so nothing inside can open them, and a mount less each is
 * start-up (and tear-down) time saved. */
static bool proc_root_only(int i)
{
	return i == 0 || i == 3 || (i >= 8 && i <= 11); /* kcore, timer_list, kpage*, vmallocinfo */
}
/* Read-only, for a payload that is uid 0 inside: /proc/sys/user and
 * /proc/sys/net of its own namespaces belong to that uid, and
 * user.max_user_namespaces must not be raised from inside (SECURITY.md 13).
 * The rest of /proc that only the host's root may write (sysrq-trigger,
 * irq, bus) is closed to us by the host's ownership already. */
static const char *const proc_readonly[] = { "sys", NULL };

static int proc_readonly_binds(struct apply_ctx *c, int mnt)
{
	int r;

	for (const char *const *p = proc_readonly; *p; p++) {
		long t = raw_reopen(mnt, *p, 0);
		if (t < 0)
			continue;
		r = bind_fd(c, t, t, true, SFC_MOUNT_ATTR_RDONLY | SFC_MOUNT_ATTR_NOSUID | SFC_MOUNT_ATTR_NODEV, mnt, *p, *p);
		raw_close(t);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A procfs on TARGET, which is DST of the new root, masked. */
static int proc_on(struct apply_ctx *c, int target, const char *dst)
{
	struct statfs sf;
	long mnt, r;

	if ((r = mount_fs(c, "proc", target, MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, dst)) < 0)
		return r;
	/* What the payload will find at /proc must be the procfs we just
	 * mounted, looked up again by name and without following symlinks: an
	 * image whose /proc is a symlink (to a host path, or to a directory it
	 * can write) would otherwise redirect the masks, or let fake proc
	 * files steer the runtime (runc CVE-2019-16884, CVE-2019-19921). */
	if ((mnt = raw_reopen(c->newroot, dst + 1, O_DIRECTORY)) < 0)
		return sfc_err(c->e, mnt == -EXDEV ? ELOOP : -mnt, "check %s", dst);
	if ((r = RAW(fstatfs, mnt, &sf, 0, 0, 0)) < 0) {
		raw_close(mnt);
		return sfc_err(c->e, -r, "check %s", dst);
	}
	if (sf.f_type != 0x9fa0 /* PROC_SUPER_MAGIC */) {
		raw_close(mnt);
		return sfc_err(c->e, 0, "%s is not the procfs just mounted (filesystem type 0x%lx); refusing", dst,
			       (unsigned long)sf.f_type);
	}
	/* Each mask is one mount(2), onto the entry named beneath the procfs
	 * we just checked (its root holds no symlinks but self, thread-self,
	 * mounts and net): an entry this kernel lacks fails with ENOENT.  One
	 * of another type than expected goes the long way (hide_at). */
	for (int i = 0; proc_masked[i]; i++) {
		char from[64], to[96];
		struct stat st;
		if (proc_root_only(i)) {
			r = RAW(newfstatat, mnt, proc_masked[i], &st, AT_SYMLINK_NOFOLLOW, 0);
			if (r == -ENOENT || (r == 0 && S_ISREG(st.st_mode) && st.st_uid != c->uid &&
					     !(st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH))))
				continue;
		}
		snprintf(to, sizeof(to), "%s/self/fd/%ld/%s", c->proc, mnt, proc_masked[i]);
		r = RAW(mount, fdpath(c, from, sizeof(from), i < PROC_MASKED_DIRS ? c->empty : c->emptydir), to, 0,
			MS_BIND, 0);
		if (r == 0 || r == -ENOENT)
			continue;
		if (r != -ENOTDIR && r != -EISDIR)
			r = sfc_err(c->e, -r, "hide /proc/%s", proc_masked[i]);
		else
			r = hide_at(c, mnt, proc_masked[i], proc_masked[i]);
		if (r < 0) {
			raw_close(mnt);
			return r;
		}
	}
	r = proc_readonly_binds(c, mnt);
	raw_close(mnt);
	return r;
}

static int op_proc(struct apply_ctx *c, const struct sfc_mop *m)
{
	_cleanup_close_ int dst = make_target(c->newroot, m->dst, true, c->e);

	return dst < 0 ? dst : proc_on(c, dst, m->dst);
}

/* Join mode: a process that made a pid namespace of its own inside another
 * sandbox (and a mount namespace, unshared by the caller) gets a /proc of
 * that pid namespace, over the one it found, with the same entries
 * masked: those are binds of an empty file or directory on a read-only
 * mount, recognised by their device, and bound again onto the new
 * instance (inheriting read-only).  Without this, getpid() and /proc/PID
 * would name different processes (ps, /proc/$$, sanitizers read the wrong
 * one). */
int sfc_mount_proc_again(struct sfc_error *e)
{
	_cleanup_close_ int old = openat(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), mnt = -1;
	/* for bind_fd alone: no new root, no empty file (the masks are bound again) */
	struct apply_ctx c = { .oldroot = -1, .newroot = -1, .empty = -1, .emptydir = -1, .e = e, .proc = "/proc" };
	struct stat pst, st;
	int r;

	if (old < 0 || fstat(old, &pst) < 0)
		return sfc_err(e, errno, "/proc");
	/* on top of the old one, which OLD still reaches (with its masks); from
	 * here on /proc/self is us, for fdpath */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sfc_err(e, errno, "mount proc on /proc");
	if ((mnt = openat(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return sfc_err(e, errno, "/proc");
	for (const char *const *p = proc_masked; *p; p++) {
		_cleanup_close_ int from = -1, to = -1;
		if (fstatat(old, *p, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev == pst.st_dev)
			continue; /* not there, or not masked there */
		from = sfc_openat2(old, *p, O_PATH | O_CLOEXEC | O_NOFOLLOW, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
		to = sfc_openat2(mnt, *p, O_PATH | O_CLOEXEC | O_NOFOLLOW, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
		if (from < 0)
			return sfc_err(e, errno, "/proc/%s", *p);
		if (to < 0) /* gone from the new instance: nothing to cover */
			continue;
		if ((r = bind_fd(&c, from, to, false, 0, -1, "", *p)) < 0)
			return r;
	}
	return proc_readonly_binds(&c, mnt);
}

static int sys_firmware_hide(struct apply_ctx *c, int sysfd)
{
	/* /sys/firmware: ACPI tables, DMI, EFI variables of the host */
	_cleanup_close_ int t = sfc_openat2(sysfd, "firmware", O_PATH | O_CLOEXEC | O_NOFOLLOW,
					    SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);

	if (t < 0)
		return 0;
	return mount_fs(c, "tmpfs", t, MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755,size=4096", "/sys/firmware");
}

static int op_sys(struct apply_ctx *c, const struct sfc_mop *m, bool fresh)
{
	_cleanup_close_ int dst = make_target(c->newroot, m->dst, true, c->e), src = -1;
	int r;

	if (dst < 0)
		return dst;
	/* sysfs may only be mounted by the owner of the network namespace it
	 * shows (we are, once in the sandbox's), and only while a full sysfs is
	 * visible (the host's, until the old root goes).  Sharing the host's
	 * network we bind the host's /sys instead, without submounts. */
	if (fresh) {
		if ((r = mount_fs(c, "sysfs", dst, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "/sys")) < 0)
			return r;
	} else {
		/* Recursive: the kernel will not clone a mount without the
		 * submounts locked over it.  The host's cgroup hierarchies under
		 * it are covered. */
		if ((src = open_src(c, "/sys")) < 0)
			return 0; /* no /sys on the host: none inside either */
		if ((r = bind_fd(c, src, dst, true, SFC_MOUNT_ATTR_RDONLY | SFC_MOUNT_ATTR_NOSUID | SFC_MOUNT_ATTR_NODEV,
				 c->newroot, m->dst + 1, m->dst)) < 0)
			return r;
	}
	close(dst);
	dst = sfc_openat2(c->newroot, m->dst + 1, O_PATH | O_CLOEXEC, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
	if (dst < 0)
		return sfc_err(c->e, errno, "reopen %s", m->dst);
	if (!fresh && (r = hide_at(c, dst, "fs/cgroup", "/sys/fs/cgroup")) < 0)
		return r;
	return sys_firmware_hide(c, dst);
}

/* A minimal /dev on TARGET, which is DST of the new root; SHM: the size
 * of its /dev/shm (0: unsized).  Made read-only with the other tmpfs
 * skeletons, once everything to be mounted in it is. */
static int dev_on(struct apply_ctx *c, int target, const char *dst, uint64_t shm)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty", NULL };
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },
	};
	char data[64];
	long dev, t, r;

	if ((r = mount_fs(c, "tmpfs", target, MS_NOSUID | MS_NOEXEC, "mode=755,size=65536", dst)) < 0)
		return r;
	/* the mount's root, as the dirfd to create entries in */
	if ((dev = raw_reopen(c->newroot, dst + 1, O_DIRECTORY)) < 0)
		return sfc_err(c->e, -dev, "open %s", dst);
	for (const char *const *n = nodes; *n; n++) {
		char from[96], to[96];
		/* the host's node (what the caller sees as /dev/NAME), onto a file
		 * made in our fresh tmpfs; nosuid and noexec mean nothing on a
		 * device node, and no other node is reachable there */
		snprintf(from, sizeof(from), "%s/self/fd/%d/dev/%s", c->proc, c->oldroot, *n);
		snprintf(to, sizeof(to), "%s/self/fd/%ld/%s", c->proc, dev, *n);
		if ((t = RAW(openat, dev, *n, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666, 0)) < 0) {
			r = sfc_err(c->e, -t, "create /dev/%s", *n);
			goto out;
		}
		raw_close(t);
		if ((r = RAW(mount, from, to, 0, MS_BIND, 0)) < 0) {
			if (r != -ENOENT) { /* the host lacks it: so does the sandbox */
				r = sfc_err(c->e, -r, "bind /dev/%s", *n);
				goto out;
			}
			RAW(unlinkat, dev, *n, 0, 0, 0);
		}
	}
	for (size_t i = 0; i < SFC_ARRAY_SIZE(links); i++)
		if ((r = RAW(symlinkat, links[i][1], dev, links[i][0], 0, 0)) < 0) {
			r = sfc_err(c->e, -r, "symlink /dev/%s", links[i][0]);
			goto out;
		}
	if ((r = RAW(mkdirat, dev, "pts", 0755, 0, 0)) < 0 || (r = RAW(mkdirat, dev, "shm", 01777, 0, 0)) < 0) {
		r = sfc_err(c->e, -r, "populate /dev");
		goto out;
	}
	/* A private devpts instance: the payload's ptys are its own and it
	 * cannot reach the host's (nor the caller's terminal through them). */
	if ((t = raw_reopen(dev, "pts", O_DIRECTORY)) < 0) {
		r = sfc_err(c->e, -t, "open /dev/pts");
		goto out;
	}
	r = mount_fs(c, "devpts", t, MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", "/dev/pts");
	raw_close(t);
	if (r < 0)
		goto out;
	if ((t = raw_reopen(dev, "shm", O_DIRECTORY)) < 0) {
		r = sfc_err(c->e, -t, "open /dev/shm");
		goto out;
	}
	if (shm)
		snprintf(data, sizeof(data), "mode=1777,size=%llu", (unsigned long long)shm);
	else
		snprintf(data, sizeof(data), "mode=1777");
	r = mount_fs(c, "tmpfs", t, MS_NOSUID | MS_NODEV, data, "/dev/shm");
	raw_close(t);
	if (r < 0)
		goto out;
	if (c->nfinal == (int)SFC_ARRAY_SIZE(c->final_ro)) {
		r = sfc_err(c->e, E2BIG, "too many read-only tmpfs mounts");
		goto out;
	}
	c->final_ro[c->nfinal++] = dev;
	return 0;
out:
	raw_close(dev);
	return r;
}

static int op_dev(struct apply_ctx *c, const struct sfc_mop *m)
{
	_cleanup_close_ int dst = make_target(c->newroot, m->dst, true, c->e);

	return dst < 0 ? dst : dev_on(c, dst, m->dst, m->size);
}

static int op_apply(struct apply_ctx *c, const struct sfc_mop *m, const struct sfc_mount_plan *p)
{
	_cleanup_close_ int t = -1;

	switch (m->kind) {
	case SFC_MOP_BIND:
		return op_bind(c, m);
	case SFC_MOP_TMPFS:
		if ((t = make_target(c->newroot, m->dst, true, c->e)) < 0)
			return t;
		return do_tmpfs(c, t, m->dst, m->size, m->mode, m->flags & SFC_MOP_FINAL_RO);
	case SFC_MOP_HIDE:
		return op_hide(c, m);
	case SFC_MOP_SYMLINK:
		return op_symlink(c, m);
	case SFC_MOP_PROC:
		return op_proc(c, m);
	case SFC_MOP_SYS:
		return op_sys(c, m, p->sys_fresh);
	case SFC_MOP_DEV:
		return op_dev(c, m);
	case SFC_MOP_DIR:
		if ((t = make_target(c->newroot, m->dst, true, c->e)) < 0)
			return t;
		return 0;
	}
	return sfc_err(c->e, EINVAL, "unknown mount operation");
}

/* Create every mount target of P, as an empty directory (or file, for a
 * bind of a file), beneath DIR of the scratch tmpfs.  This tree becomes the
 * top layer of a read-only overlay root, which has no upper directory to
 * create mount points in. */
static int make_mountpoints(struct apply_ctx *c, const struct sfc_mount_plan *p, int dir)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct sfc_mop *m = &p->ops[i];
		bool isdir = true;
		_cleanup_close_ int t = -1;

		if (m->kind == SFC_MOP_SYMLINK) {
			char buf[PATH_MAX];
			const char *parent = parent_of(m->dst, buf, sizeof(buf));
			if (!parent)
				return sfc_err(c->e, ENAMETOOLONG, "symlink %s", m->dst);
			if ((t = make_target(dir, parent, true, c->e)) < 0)
				return t;
			continue;
		}
		if (m->kind == SFC_MOP_BIND && m->src) {
			_cleanup_close_ int src = open_src(c, m->src);
			struct stat st;
			if (src < 0)
				continue; /* op_bind reports it */
			if (fstat(src, &st) == 0 && !S_ISDIR(st.st_mode))
				isdir = false;
		}
		if (m->kind == SFC_MOP_HIDE)
			continue; /* hides what exists; nothing to create */
		if ((t = make_target(dir, m->dst, isdir, c->e)) < 0)
			return t;
	}
	return 0;
}

/* The container root: an overlay of the image's layers (host paths,
 * resolved by the supervisor: no symlink may appear in them now) and the
 * container's upper directory.  Unprivileged overlayfs (Linux 5.11+) in
 * our user namespace; "userxattr" because trusted.* xattrs are not ours to
 * set: whiteouts are 0/0 character devices, which any user may create, and
 * opaque directories carry user.overlay.opaque. */
static int mount_overlay(struct apply_ctx *c, const struct sfc_mount_plan *p)
{
	/* mount(2) takes one page of options (copy_mount_options) */
	char opts[4096];
	size_t len = 0;
	int fds[512 + 3], nfds = 0, r = 0;
	unsigned long flags = MS_NOSUID | MS_NODEV;

#define OVL_APPEND(...)                                                                                               \
	do {                                                                                                          \
		int _n = snprintf(opts + len, sizeof(opts) - len, __VA_ARGS__);                                       \
		if (_n < 0 || (size_t)_n >= sizeof(opts) - len) {                                                     \
			r = sfc_err(c->e, E2BIG, "overlay root: the options of %zu layers do not fit in a page",     \
				    p->lowerdirs.n);                                                                  \
			goto out;                                                                                     \
		}                                                                                                     \
		len += _n;                                                                                            \
	} while (0)

	if (!p->lowerdirs.n || p->lowerdirs.n > 500)
		return sfc_err(c->e, EINVAL, "overlay root: %zu layers (1 to 500 are possible)", p->lowerdirs.n);
	OVL_APPEND("userxattr,lowerdir=");
	if (p->root_ro || (!p->upperdir && !p->upper_tmpfs)) {
		/* no upper directory: the mount points live in a layer of their own */
		int mp;
		if (mkdir("/mountpoints", 0755) < 0 || (mp = openat(AT_FDCWD, "/mountpoints", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
			r = sfc_err(c->e, errno, "prepare mount points");
			goto out;
		}
		fds[nfds++] = mp;
		if ((r = make_mountpoints(c, p, mp)) < 0)
			goto out;
		OVL_APPEND("%s/self/fd/%d:", c->proc, mp);
	}
	for (size_t i = 0; i < p->lowerdirs.n; i++) {
		int fd = open_src(c, p->lowerdirs.v[i]);
		if (fd < 0) {
			r = sfc_err(c->e, errno, "image layer %s", p->lowerdirs.v[i]);
			goto out;
		}
		fds[nfds++] = fd;
		OVL_APPEND("%s%s/self/fd/%d", i ? ":" : "", c->proc, fd);
	}
	if (!p->root_ro && p->upper_tmpfs) {
		/* a throw-away writable layer (run --rm): nothing on disk to create
		 * or remove; in the scratch tmpfs (tmpfs holds user.* xattrs since
		 * Linux 6.6), which outlives the old root through the overlay */
		if (mkdir("/upper", 0755) < 0 || mkdir("/upper/u", 0755) < 0 || mkdir("/upper/w", 0700) < 0) {
			r = sfc_err(c->e, errno, "prepare the container's writable layer");
			goto out;
		}
		OVL_APPEND(",upperdir=/upper/u,workdir=/upper/w");
	} else if (!p->root_ro && p->upperdir) {
		int u = open_src(c, p->upperdir), w = u >= 0 ? open_src(c, p->ovl_workdir) : -1;
		if (u < 0 || w < 0) {
			r = sfc_err(c->e, errno, "container directory %s", u < 0 ? p->upperdir : p->ovl_workdir);
			if (u >= 0)
				close(u);
			goto out;
		}
		fds[nfds++] = u;
		fds[nfds++] = w;
		OVL_APPEND(",upperdir=%s/self/fd/%d,workdir=%s/self/fd/%d", c->proc, u, c->proc, w);
	} else {
		flags |= MS_RDONLY;
	}
	if (mount("overlay", "/newroot", "overlay", flags, opts) < 0) {
		int err = errno;
		r = sfc_err(c->e, err, "mount the overlay root (unprivileged overlayfs needs Linux 5.11+%s)",
			    err == EINVAL ? "; the store's filesystem must support user.* xattrs" : "");
	}
out:
	while (nfds > 0)
		close(fds[--nfds]);
#undef OVL_APPEND
	return r;
}

/* What P needs of mount_scratch. */
#define SCRATCH_TMPFS_ROOT 1u /* the new root is a tmpfs (else a directory to bind or mount on) */
#define SCRATCH_UNSIZED 2u    /* no size limit (a container's writable layer is in it) */
static unsigned plan_scratch(const struct sfc_mount_plan *p)
{
	/* (a container's throw-away writable layer lives in the scratch tmpfs
	 * too: then it has no size of its own) */
	return (p->root == SFC_ROOT_TMPFS ? SCRATCH_TMPFS_ROOT : 0) |
	       (p->root == SFC_ROOT_OVERLAY && p->upper_tmpfs && !p->root_ro ? SCRATCH_UNSIZED : 0);
}

/* The scratch tmpfs the view is built in, made root (pivot_root) with the
 * host's tree under /oldroot and the new root's mount point in it. */
static int mount_scratch(unsigned kind, struct sfc_error *e)
{
	static const char *const dirs[] = { "newroot", "oldroot", "ro", "ro/emptydir", NULL };
	long r;

	/* Nothing we mount may propagate back to the host (SECURITY.md 3). */
	if ((r = RAW(mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0)) < 0)
		return sfc_err(e, -r, "make / private");
	SFC_TRACE_POINT("m: private");
	/* Build in a scratch tmpfs that becomes root first, so host paths stay
	 * reachable under /oldroot whatever they are (even under /tmp). */
	if ((r = RAW(mount, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		     kind & SCRATCH_UNSIZED ? "mode=0700" : "mode=0700,size=65536")) < 0)
		return sfc_err(e, -r, "mount scratch tmpfs");
	if ((r = RAW(chdir, "/tmp", 0, 0, 0, 0)) < 0)
		return sfc_err(e, -r, "prepare scratch tmpfs");
	for (const char *const *d = dirs; *d; d++)
		if ((r = RAW(mkdirat, AT_FDCWD, *d, 0755, 0, 0)) < 0)
			return sfc_err(e, -r, "prepare scratch tmpfs");
	if ((r = RAW(mkdirat, AT_FDCWD, "fdproc", 0555, 0, 0)) < 0 ||
	    (r = RAW(openat, AT_FDCWD, "ro/empty", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444, 0)) < 0)
		return sfc_err(e, -r, "prepare scratch tmpfs");
	raw_close(r);
	/* What hides paths, on a mount of its own that every bind of it
	 * inherits: read-only, nosuid, nodev, noexec. */
	if ((r = RAW(mount, "ro", "ro", 0, MS_BIND, 0)) < 0 ||
	    (r = RAW(mount, 0, "ro", 0, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0)) < 0)
		return sfc_err(e, -r, "prepare scratch tmpfs");
	/* A procfs of the sandbox's pid namespace, for fdpath's self/fd/N:
	 * ours whatever the host's /proc belongs to. */
	if ((r = RAW(mount, "proc", "fdproc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0)) < 0)
		return sfc_err(e, -r, "mount a new /proc (the kernel refuses when the host's /proc is partly "
				      "covered, as in some containers)");
	if (kind & SCRATCH_TMPFS_ROOT)
		r = RAW(mount, "tmpfs", "newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	else
		r = RAW(mount, "newroot", "newroot", 0, MS_BIND, 0);
	if (r < 0)
		return sfc_err(e, -r, "mount the new root");
	SFC_TRACE_POINT("m: base");
	if ((r = RAW(pivot_root, ".", "oldroot", 0, 0, 0)) < 0)
		return sfc_err(e, -r, "pivot_root");
	if ((r = RAW(chdir, "/", 0, 0, 0, 0)) < 0)
		return sfc_err(e, -r, "chdir /");
	SFC_TRACE_POINT("m: first pivot");
	return 0;
}

int sfc_mount_plan_apply(const struct sfc_mount_plan *p, int (*before_sys)(void *), void *data, struct sfc_error *e)
{
	const struct sfc_mop *sys = NULL;
	struct apply_ctx c = { .oldroot = -1, .newroot = -1, .empty = -1, .emptydir = -1, .e = e,
			       .proc = "/fdproc", .uid = getuid() };
	int r = mount_scratch(plan_scratch(p), e);

	if (r < 0)
		return r;
	if ((c.oldroot = openat(AT_FDCWD, "/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (c.empty = openat(AT_FDCWD, "/ro/empty", O_PATH | O_CLOEXEC)) < 0 ||
	    (c.emptydir = openat(AT_FDCWD, "/ro/emptydir", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "open /oldroot");
		goto out;
	}
	if (p->root == SFC_ROOT_HOST || p->root == SFC_ROOT_DIR) {
		_cleanup_close_ int src = p->root == SFC_ROOT_HOST ? fcntl(c.oldroot, F_DUPFD_CLOEXEC, 3)
								   : open_src(&c, p->root_dir);
		_cleanup_close_ int dst = openat(AT_FDCWD, "/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (src < 0 || dst < 0) {
			r = sfc_err(e, errno, "open root %s", p->root_dir ? p->root_dir : "/");
			goto out;
		}
		if ((r = bind_fd(&c, src, dst, true, SFC_MOUNT_ATTR_NOSUID | (p->root_ro ? SFC_MOUNT_ATTR_RDONLY : 0),
				 AT_FDCWD, "newroot", "/")) < 0)
			goto out;
	} else if (p->root == SFC_ROOT_OVERLAY) {
		if ((r = mount_overlay(&c, p)) < 0)
			goto out;
	}
	if ((c.newroot = openat(AT_FDCWD, "/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "open the new root");
		goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->ops[i].kind == SFC_MOP_SYS) {
			sys = &p->ops[i]; /* last: it may wait for the network namespace */
			continue;
		}
		if ((r = op_apply(&c, &p->ops[i], p)) < 0)
			goto out;
		SFC_TRACE_POINT(p->ops[i].dst);
	}
	if (before_sys && (r = before_sys(data)) < 0)
		goto out;
	if (sys && (r = op_apply(&c, sys, p)) < 0)
		goto out;
	SFC_TRACE_POINT("m: sys");
	/* Now that every mount point exists, seal the tmpfs skeletons. */
	for (int i = 0; i < c.nfinal; i++)
		if (sfc_mount_setattr(c.final_ro[i], "", AT_EMPTY_PATH, SFC_MOUNT_ATTR_RDONLY, 0) < 0) {
			r = sfc_err(e, errno, "make tmpfs read-only");
			goto out;
		}
	if (p->root == SFC_ROOT_TMPFS &&
	    sfc_mount_setattr(c.newroot, "", AT_EMPTY_PATH, SFC_MOUNT_ATTR_RDONLY, 0) < 0) {
		r = sfc_err(e, errno, "make the new root read-only");
		goto out;
	}
	/* Enter the new root and detach the old one entirely: after this no
	 * path and no fd of ours leads back to the host tree (pivot_root(2),
	 * "pivot_root(".", ".")"). */
	SFC_TRACE_POINT("m: sealed");
	if (fchdir(c.newroot) < 0 || sfc_pivot_root(".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		r = sfc_err(e, errno, "enter the new root");
		goto out;
	}
	SFC_TRACE_POINT("m: pivoted");
	r = 0;
out:
	for (int i = 0; i < c.nfinal; i++)
		close(c.final_ro[i]);
	if (c.oldroot >= 0)
		close(c.oldroot);
	if (c.newroot >= 0)
		close(c.newroot);
	if (c.empty >= 0)
		close(c.empty);
	if (c.emptydir >= 0)
		close(c.emptydir);
	return r;
}

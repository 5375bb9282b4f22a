#include "core/store.h"

#include "autoconf.h"

#if ENABLE_FEATURE_IMAGES
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/oci.h"
#include "core/sha256.h"

/* ------------------------------------------------------------ helpers */

bool sfc_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 7 + 64)
		return false;
	return strspn(d + 7, "0123456789abcdef") == 64;
}

void sfc_sha256_hex(const void *data, size_t len, char hex[65])
{
	struct sfc_sha256 c;

	sfc_sha256_init(&c);
	sfc_sha256_update(&c, data, len);
	sfc_sha256_final_hex(&c, hex);
}

int sfc_sha256_file(int fd, char hex[65], struct sfc_error *e)
{
	struct sfc_sha256 c;
	static char buf[65536];
	ssize_t n;

	sfc_sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sfc_err(e, errno, "read");
		}
		sfc_sha256_update(&c, buf, n);
	}
	sfc_sha256_final_hex(&c, hex);
	return 0;
}

char *sfc_store_read_file(const char *path, size_t max, struct sfc_error *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0) {
		sfc_err(e, errno, "%s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		sfc_err(e, S_ISREG(st.st_mode) ? EFBIG : EINVAL, "%s", path);
		return NULL;
	}
	buf = sfc_xmalloc(st.st_size + 1);
	n = sfc_read_full(fd, buf, st.st_size);
	if (n < 0) {
		free(buf);
		sfc_err(e, (int)-n, "%s", path);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

int sfc_store_write_atomic(const char *dir, const char *name, const char *data, struct sfc_error *e)
{
	_cleanup_free_ char *tmp = sfc_xasprintf("%s/.%s.%d.tmp", dir, name, (int)getpid());
	_cleanup_free_ char *dst = sfc_xasprintf("%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int r;

	if (fd < 0)
		return sfc_err(e, errno, "write %s", dst);
	r = sfc_write_full(fd, data, strlen(data));
	if (r == 0 && close(fd) < 0)
		r = -errno;
	else if (r < 0)
		close(fd);
	if (r == 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return sfc_err(e, -r, "write %s", dst);
	}
	return 0;
}

int sfc_rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, r = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	/* A directory we cannot read or write in (the overlay's work/work is
	 * mode 0; a container may chmod its files) is ours: open it up. */
	if ((st.st_mode & 0700) != 0700)
		fchmodat(dirfd, name, (st.st_mode & 07777) | 0700, 0);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		int rr;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((rr = sfc_rm_rf_at(fd, de->d_name)) < 0 && !r)
			r = rr;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !r)
		r = -errno;
	return r;
}

int sfc_rm_rf(const char *path)
{
	return sfc_rm_rf_at(AT_FDCWD, path);
}

static uint64_t du_at(int dirfd, const char *name)
{
	struct stat st;
	uint64_t sum;
	int fd;
	DIR *d;
	struct dirent *de;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	sum = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return sum;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return sum;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return sum;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sum += du_at(fd, de->d_name);
	closedir(d);
	return sum;
}

uint64_t sfc_du(const char *path)
{
	return du_at(AT_FDCWD, path);
}

uint64_t sfc_pid_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return 0;
	/* field 22; the command (field 2) may hold spaces and ')' */
	if (!(p = strrchr(buf, ')')))
		return 0;
	p++;
	for (int f = 3; f < 22 && p; f++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &v) != 1)
		return 0;
	return v;
}

bool sfc_pid_alive(pid_t pid, uint64_t start)
{
	char path[64], buf[512], *p;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	/* a zombie (nobody reaped it yet: an orphaned monitor) is dead */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')')) && p[1] == ' ' &&
	    (p[2] == 'Z' || p[2] == 'X'))
		return false;
	return !start || sfc_pid_starttime(pid) == start;
}

/* -------------------------------------------------------------- store */

static int mkdir_p(const char *path, mode_t mode, struct sfc_error *e)
{
	_cleanup_free_ char *p = sfc_xstrdup(path);
	struct stat sb;

	/* the usual case, on every run: it is all there */
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return sfc_err(e, errno, "create %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return sfc_err(e, errno, "create %s", p);
	return 0;
}

int sfc_store_open(struct sfc_store *st, const char *home, struct sfc_error *e)
{
	static const char *const sub[] = { "layers", "meta", "names" };
	const char *h = home ? home : getenv("SEFACA_HOME"), *xdg = getenv("XDG_RUNTIME_DIR");
	int r;

	memset(st, 0, sizeof(*st));
	st->lockfd = -1;
	if (h && *h) {
		st->home = sfc_xstrdup(h);
	} else {
		const char *uh = getenv("HOME");
		if (!uh || uh[0] != '/')
			return sfc_err(e, 0, "neither SEFACA_HOME nor HOME is set: nowhere to keep images");
		st->home = sfc_xasprintf("%s/.sefaca", uh);
	}
	if (st->home[0] != '/') {
		char *cwd = getcwd(NULL, 0), *abs = sfc_xasprintf("%s/%s", cwd ? cwd : "", st->home);
		free(cwd);
		free(st->home);
		st->home = sfc_path_normalize(abs);
		free(abs);
	}
	st->images = sfc_xasprintf("%s/images", st->home);
	st->containers = sfc_xasprintf("%s/containers", st->home);
	if (xdg && xdg[0] == '/' && access(xdg, W_OK) == 0)
		st->rundir = sfc_xasprintf("%s/sefaca", xdg);
	else
		st->rundir = sfc_xasprintf("%s/run", st->home);
	if ((r = mkdir_p(st->home, 0700, e)) < 0 || (r = mkdir_p(st->containers, 0700, e)) < 0 ||
	    (r = mkdir_p(st->rundir, 0700, e)) < 0)
		return r;
	for (size_t i = 0; i < SFC_ARRAY_SIZE(sub); i++) {
		_cleanup_free_ char *d = sfc_xasprintf("%s/%s", st->images, sub[i]);
		if ((r = mkdir_p(d, 0700, e)) < 0)
			return r;
	}
	return 0;
}

void sfc_store_close(struct sfc_store *st)
{
	if (st->lockfd >= 0)
		close(st->lockfd);
	free(st->home);
	free(st->images);
	free(st->containers);
	free(st->rundir);
	memset(st, 0, sizeof(*st));
	st->lockfd = -1;
}

int sfc_store_lock(struct sfc_store *st, bool exclusive, struct sfc_error *e)
{
	if (st->lockfd < 0) {
		_cleanup_free_ char *p = sfc_xasprintf("%s/.lock", st->images);
		if ((st->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
			return sfc_err(e, errno, "open %s", p);
	}
	while (flock(st->lockfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return sfc_err(e, errno, "lock the image store");
	return 0;
}

void sfc_store_unlock(struct sfc_store *st)
{
	if (st->lockfd >= 0)
		flock(st->lockfd, LOCK_UN);
}

char *sfc_store_layer_path(const struct sfc_store *st, const char *hex)
{
	return sfc_xasprintf("%s/layers/%s", st->images, hex);
}

bool sfc_store_has_layer(const struct sfc_store *st, const char *hex)
{
	_cleanup_free_ char *p = sfc_store_layer_path(st, hex);
	struct stat sb;
	return lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int sfc_store_mktemp(const struct sfc_store *st, const char *prefix, char **path, struct sfc_error *e)
{
	/* .tmp-PID-...: sefaca-clean removes it once PID is gone (core/cleanup.h) */
	char *p = sfc_xasprintf("%s/" SFC_CLEAN_TMP_PREFIX "%d-%s-XXXXXX", st->images, (int)getpid(), prefix);

	if (!mkdtemp(p)) {
		int err = errno;
		free(p);
		return sfc_err(e, err, "create a temporary directory in %s", st->images);
	}
	*path = p;
	return 0;
}

int sfc_store_commit_layer(const struct sfc_store *st, const char *tmp, const char *hex, struct sfc_error *e)
{
	_cleanup_free_ char *dst = sfc_store_layer_path(st, hex);

	if (rename(tmp, dst) == 0)
		return 0;
	if (errno == EEXIST || errno == ENOTEMPTY) {
		sfc_rm_rf(tmp); /* unpacked meanwhile by another import: same digest, same content */
		return 0;
	}
	return sfc_err(e, errno, "store layer %s", hex);
}

/* ------------------------------------------------------------- images */

void sfc_image_config_free(struct sfc_image_config *c)
{
	sfc_strv_clear(&c->env);
	sfc_strv_clear(&c->entrypoint);
	sfc_strv_clear(&c->cmd);
	sfc_strv_clear(&c->labels);
	free(c->workdir);
	free(c->user);
	free(c->os);
	free(c->arch);
	memset(c, 0, sizeof(*c));
}

void sfc_image_free(struct sfc_image *img)
{
	free(img->id);
	free(img->source);
	sfc_strv_clear(&img->layers);
	sfc_strv_clear(&img->names);
	sfc_image_config_free(&img->config);
	memset(img, 0, sizeof(*img));
}

static const char *hex_of_id(const char *id)
{
	return !strncmp(id, "sha256:", 7) ? id + 7 : id;
}

int sfc_store_save_image(const struct sfc_store *st, const struct sfc_image *img, struct sfc_error *e)
{
	json_object *o = json_object_new_object(), *c = json_object_new_object();
	_cleanup_free_ char *dir = sfc_xasprintf("%s/meta", st->images);
	_cleanup_free_ char *name = sfc_xasprintf("%s.json", hex_of_id(img->id));
	int r;

	json_object_object_add(o, "id", json_object_new_string(img->id));
	sfc_json_add_str(o, "source", img->source);
	json_object_object_add(o, "created", json_object_new_int64(img->created));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)img->size));
	json_object_object_add(o, "layers", sfc_json_from_strv(&img->layers));
	json_object_object_add(o, "names", sfc_json_from_strv(&img->names));
	json_object_object_add(c, "Env", sfc_json_from_strv(&img->config.env));
	sfc_json_add_str(c, "WorkingDir", img->config.workdir);
	sfc_json_add_str(c, "User", img->config.user);
	if (img->config.entrypoint.n)
		json_object_object_add(c, "Entrypoint", sfc_json_from_strv(&img->config.entrypoint));
	if (img->config.cmd.n)
		json_object_object_add(c, "Cmd", sfc_json_from_strv(&img->config.cmd));
	json_object_object_add(c, "Labels", sfc_json_from_strv(&img->config.labels));
	sfc_json_add_str(c, "os", img->config.os);
	sfc_json_add_str(c, "architecture", img->config.arch);
	json_object_object_add(o, "config", c);
	r = sfc_store_write_atomic(dir, name, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE), e);
	json_object_put(o);
	return r;
}

int sfc_store_load_image(const struct sfc_store *st, const char *id, struct sfc_image *img, struct sfc_error *e)
{
	_cleanup_free_ char *path = sfc_xasprintf("%s/meta/%s.json", st->images, hex_of_id(id));
	_cleanup_free_ char *text = sfc_store_read_file(path, 1 << 22, e);
	json_object *o, *c;

	memset(img, 0, sizeof(*img));
	if (!text)
		return -e->err ? -e->err : -EIO;
	if (!(o = json_tokener_parse(text)) || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return sfc_err(e, 0, "%s: not valid JSON", path);
	}
	img->id = sfc_xstrdup(sfc_json_str(o, "id") ? sfc_json_str(o, "id") : id);
	if (sfc_json_str(o, "source"))
		img->source = sfc_xstrdup(sfc_json_str(o, "source"));
	img->created = sfc_json_int(o, "created", 0);
	img->size = (uint64_t)sfc_json_int(o, "size", 0);
	sfc_json_to_strv(json_object_object_get(o, "layers"), &img->layers);
	sfc_json_to_strv(json_object_object_get(o, "names"), &img->names);
	if ((c = json_object_object_get(o, "config")))
		sfc_json_image_config(c, &img->config);
	json_object_put(o);
	for (size_t i = 0; i < img->layers.n; i++)
		if (strlen(img->layers.v[i]) != 64 || strspn(img->layers.v[i], "0123456789abcdef") != 64) {
			sfc_image_free(img);
			return sfc_err(e, 0, "%s: bad layer name", path);
		}
	return 0;
}

char *sfc_store_image_name(const char *ref)
{
	/* docker.io/library/busybox and busybox are the same image name */
	if (!strncmp(ref, "docker.io/library/", 18))
		ref += 18;
	else if (!strncmp(ref, "docker.io/", 10))
		ref += 10;
	{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	size_t n = strlen(ref);

	if (!n || n > 255 || strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@") != n)
		return NULL;
	if (ref[0] == '.' || ref[0] == '/' || ref[0] == ':' || strstr(ref, "..") || strstr(ref, "//"))
		return NULL;
	if (colon && (!slash || colon > slash))
		return colon[1] ? sfc_xstrdup(ref) : NULL;
	return sfc_xasprintf("%s:latest", ref);
	}
}

bool sfc_store_image_name_valid(const char *ref)
{
	char *n = sfc_store_image_name(ref);
	free(n);
	return n != NULL;
}

/* NAME:TAG as a file name: '/' becomes '%' (not allowed in names). */
static char *name_file(const struct sfc_store *st, const char *name)
{
	char *f = sfc_xasprintf("%s/names/%s", st->images, name), *p;
	for (p = f + strlen(st->images) + 7; *p; p++)
		if (*p == '/')
			*p = '%';
	return f;
}

static int read_name(const struct sfc_store *st, const char *name, char hex[65])
{
	_cleanup_free_ char *f = name_file(st, name);
	char buf[128];
	ssize_t n = sfc_read_file_at(AT_FDCWD, f, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (n != 64 || strspn(buf, "0123456789abcdef") != 64)
		return -EINVAL;
	memcpy(hex, buf, 65);
	return 0;
}

static int for_each_image(const struct sfc_store *st, int (*fn)(const char *hex, void *data), void *data)
{
	_cleanup_free_ char *dir = sfc_xasprintf("%s/meta", st->images);
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char hex[65];
		size_t n = strlen(de->d_name);
		if (n != 64 + 5 || strcmp(de->d_name + 64, ".json"))
			continue;
		memcpy(hex, de->d_name, 64);
		hex[64] = 0;
		if ((r = fn(hex, data)) != 0)
			break;
	}
	closedir(d);
	return r;
}

struct prefix_match {
	const char *prefix;
	char hex[65];
	int count;
};

static int match_prefix(const char *hex, void *data)
{
	struct prefix_match *m = data;
	if (!strncmp(hex, m->prefix, strlen(m->prefix))) {
		memcpy(m->hex, hex, 65);
		m->count++;
	}
	return 0;
}

int sfc_store_find_image(const struct sfc_store *st, const char *ref, struct sfc_image *img, struct sfc_error *e)
{
	_cleanup_free_ char *name = NULL;
	char hex[65];
	const char *id = !strncmp(ref, "sha256:", 7) ? ref + 7 : ref;
	int r;

	memset(img, 0, sizeof(*img));
	/* an id, or a unique prefix of one (at least 6 digits) */
	if (strlen(id) >= 6 && strlen(id) <= 64 && strspn(id, "0123456789abcdef") == strlen(id)) {
		struct prefix_match m = { .prefix = id };
		for_each_image(st, match_prefix, &m);
		if (m.count > 1)
			return sfc_err(e, 0, "image id prefix %s is ambiguous", id);
		if (m.count == 1)
			return sfc_store_load_image(st, m.hex, img, e) < 0 ? -EIO : 1;
	}
	if (!(name = sfc_store_image_name(ref)))
		return 0;
	r = read_name(st, name, hex);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return sfc_err(e, -r, "image name %s", name);
	if ((r = sfc_store_load_image(st, hex, img, e)) < 0)
		return r == -ENOENT ? 0 : r;
	return 1;
}

static void strv_remove_value(struct sfc_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n;)
		if (!strcmp(v->v[i], s))
			sfc_strv_remove(v, i);
		else
			i++;
}

int sfc_store_tag_image(const struct sfc_store *st, const char *ref, const char *id, struct sfc_error *e)
{
	_cleanup_free_ char *name = sfc_store_image_name(ref), *dir = sfc_xasprintf("%s/names", st->images);
	_cleanup_free_ char *file = NULL, *line = NULL;
	struct sfc_image img, old;
	char oldhex[65];
	int r;

	if (!name)
		return sfc_err(e, 0, "bad image name '%s'", ref);
	if ((r = sfc_store_load_image(st, id, &img, e)) < 0)
		return r;
	/* the name moves from the image that had it */
	if (read_name(st, name, oldhex) == 0 && strcmp(oldhex, hex_of_id(img.id)) &&
	    sfc_store_load_image(st, oldhex, &old, e) == 0) {
		strv_remove_value(&old.names, name);
		sfc_store_save_image(st, &old, e);
		sfc_image_free(&old);
	}
	file = name_file(st, name);
	line = sfc_xasprintf("%s\n", hex_of_id(img.id));
	if ((r = sfc_store_write_atomic(dir, strrchr(file, '/') + 1, line, e)) < 0)
		goto out;
	if (!sfc_strv_contains(&img.names, name))
		sfc_strv_push(&img.names, name);
	r = sfc_store_save_image(st, &img, e);
out:
	sfc_image_free(&img);
	return r;
}

struct list_ctx {
	const struct sfc_store *st;
	struct sfc_image *v;
	size_t n;
};

static int list_one(const char *hex, void *data)
{
	struct list_ctx *c = data;
	struct sfc_error e;
	struct sfc_image img;

	if (sfc_store_load_image(c->st, hex, &img, &e) < 0)
		return 0; /* half-written or foreign: not an image */
	c->v = sfc_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = img;
	return 0;
}

static int cmp_created(const void *a, const void *b)
{
	const struct sfc_image *x = a, *y = b;
	return x->created < y->created ? 1 : x->created > y->created ? -1 : strcmp(x->id, y->id);
}

int sfc_store_list_images(const struct sfc_store *st, struct sfc_image **out, size_t *n, struct sfc_error *e)
{
	struct list_ctx c = { .st = st };
	int r = for_each_image(st, list_one, &c);

	if (r < 0)
		return sfc_err(e, -r, "list %s/meta", st->images);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_created);
	*out = c.v;
	*n = c.n;
	return 0;
}

static bool image_in_use(const struct sfc_store *st, const char *id, char **by)
{
	struct sfc_container_info *cs = NULL;
	size_t n = 0;
	struct sfc_error e;
	bool used = false;

	if (sfc_store_list_containers(st, &cs, &n, &e) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!used && cs[i].image_id && !strcmp(hex_of_id(cs[i].image_id), hex_of_id(id))) {
			used = true;
			if (by)
				*by = sfc_xstrdup(cs[i].name);
		}
		sfc_container_info_free(&cs[i]);
	}
	free(cs);
	return used;
}

int sfc_store_remove_image(const struct sfc_store *st, const char *ref, bool force, struct sfc_error *e)
{
	_cleanup_free_ char *name = sfc_store_image_name(ref), *by = NULL;
	struct sfc_image img;
	bool by_name;
	int r = sfc_store_find_image(st, ref, &img, e);

	if (r < 0)
		return r;
	if (r == 0)
		return sfc_err(e, ENOENT, "no such image: %s", ref);
	by_name = name && sfc_strv_contains(&img.names, name);
	if (by_name && img.names.n > 1) {
		/* other names remain: only this one goes */
		_cleanup_free_ char *f = name_file(st, name);
		unlink(f);
		strv_remove_value(&img.names, name);
		r = sfc_store_save_image(st, &img, e);
		sfc_image_free(&img);
		return r;
	}
	if (!force && image_in_use(st, img.id, &by)) {
		r = sfc_err(e, EBUSY, "image %s is used by container %s (remove it first, or force)", ref, by);
		sfc_image_free(&img);
		return r;
	}
	for (size_t i = 0; i < img.names.n; i++) {
		_cleanup_free_ char *f = name_file(st, img.names.v[i]);
		char hex[65];
		if (read_name(st, img.names.v[i], hex) == 0 && !strcmp(hex, hex_of_id(img.id)))
			unlink(f);
	}
	{
		_cleanup_free_ char *m = sfc_xasprintf("%s/meta/%s.json", st->images, hex_of_id(img.id));
		if (unlink(m) < 0 && errno != ENOENT)
			r = sfc_err(e, errno, "remove %s", m);
		else
			r = 0;
	}
	sfc_image_free(&img);
	return r;
}

/* --------------------------------------------------------- containers */

static const char *const cstate_names[] = { "created", "running", "paused", "exited", "failed" };

const char *sfc_cstate_name(enum sfc_cstate s)
{
	return (unsigned)s < SFC_ARRAY_SIZE(cstate_names) ? cstate_names[s] : "unknown";
}

void sfc_container_info_free(struct sfc_container_info *c)
{
	free(c->name);
	free(c->id);
	free(c->image);
	free(c->image_id);
	free(c->command);
	free(c->error);
	sfc_strv_clear(&c->layers);
	memset(c, 0, sizeof(*c));
}

/* Implemented in core/container.c (reads config.json + state.json and
 * reconciles). */
int sfc_container_load_info(const struct sfc_store *st, const char *name, struct sfc_container_info *ci,
			    struct sfc_error *e);
int sfc_container_remove(const struct sfc_store *st, const char *name, bool force, struct sfc_error *e);

static int cmp_cinfo(const void *a, const void *b)
{
	const struct sfc_container_info *x = a, *y = b;
	return x->created < y->created ? 1 : x->created > y->created ? -1 : strcmp(x->name, y->name);
}

int sfc_store_list_containers(const struct sfc_store *st, struct sfc_container_info **out, size_t *n,
			      struct sfc_error *e)
{
	/* persistent containers, and the --rm ones of the run directory */
	const char *dirs[] = { st->containers, st->rundir };
	struct sfc_container_info *v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	for (size_t di = 0; di < SFC_ARRAY_SIZE(dirs); di++) {
		DIR *d = opendir(dirs[di]);
		struct dirent *de;
		if (!d) {
			if (errno == ENOENT)
				continue;
			return sfc_err(e, errno, "list %s", dirs[di]);
		}
		while ((de = readdir(d))) {
			struct sfc_container_info ci;
			struct sfc_error e2;
			if (de->d_name[0] == '.' || de->d_type != DT_DIR)
				continue;
			if (sfc_container_load_info(st, de->d_name, &ci, &e2) < 0)
				continue;
			v = sfc_xrealloc(v, (k + 1) * sizeof(*v));
			v[k++] = ci;
		}
		closedir(d);
	}
	if (k)
		qsort(v, k, sizeof(*v), cmp_cinfo);
	*out = v;
	*n = k;
	return 0;
}

int sfc_store_remove_container(const struct sfc_store *st, const char *name, bool force, struct sfc_error *e)
{
	return sfc_container_remove(st, name, force, e);
}

/* ----------------------------------------------------------------- gc */

struct ref_ctx {
	struct sfc_strv layers;
	struct sfc_strv images; /* HEX of images with no name */
	const struct sfc_store *st;
};

static int collect_refs(const char *hex, void *data)
{
	struct ref_ctx *c = data;
	struct sfc_image img;
	struct sfc_error e;

	if (sfc_store_load_image(c->st, hex, &img, &e) < 0)
		return 0;
	for (size_t i = 0; i < img.layers.n; i++)
		if (!sfc_strv_contains(&c->layers, img.layers.v[i]))
			sfc_strv_push(&c->layers, img.layers.v[i]);
	if (!img.names.n)
		sfc_strv_push(&c->images, hex);
	sfc_image_free(&img);
	return 0;
}

int sfc_store_gc(const struct sfc_store *st, unsigned what, bool dry_run, struct sfc_gc_report *rep,
		 struct sfc_error *e)
{
	struct sfc_container_info *cs = NULL;
	size_t nc = 0;
	struct ref_ctx refs = { .st = st };
	struct sfc_strv used_layers = { 0 };
	int r = 0;

	memset(rep, 0, sizeof(*rep));
	if ((r = sfc_store_lock((struct sfc_store *)st, true, e)) < 0)
		return r;
	if ((r = sfc_store_list_containers(st, &cs, &nc, e)) < 0)
		goto out;
	if (what & SFC_GC_STOPPED) {
		for (size_t i = 0; i < nc; i++) {
			if (cs[i].state != SFC_C_EXITED && cs[i].state != SFC_C_FAILED && cs[i].state != SFC_C_CREATED)
				continue;
			if (cs[i].state == SFC_C_CREATED)
				continue; /* created on purpose, not run yet */
			_cleanup_free_ char *dir = sfc_xasprintf("%s/%s", st->containers, cs[i].name);
			rep->bytes += sfc_du(dir);
			rep->containers++;
			if (!dry_run)
				sfc_container_remove(st, cs[i].name, false, e);
			free(cs[i].image_id);
			cs[i].image_id = NULL;
			sfc_strv_clear(&cs[i].layers);
		}
	}
	for (size_t i = 0; i < nc; i++)
		for (size_t j = 0; j < cs[i].layers.n; j++)
			sfc_strv_push(&used_layers, cs[i].layers.v[j]);
	if (what & SFC_GC_DANGLING) {
		for_each_image(st, collect_refs, &refs);
		for (size_t i = 0; i < refs.images.n; i++) {
			bool used = false;
			for (size_t k = 0; k < nc; k++)
				if (cs[k].image_id && !strcmp(hex_of_id(cs[k].image_id), refs.images.v[i]))
					used = true;
			if (used)
				continue;
			rep->images++;
			if (!dry_run) {
				_cleanup_free_ char *m = sfc_xasprintf("%s/meta/%s.json", st->images, refs.images.v[i]);
				unlink(m);
			}
		}
		sfc_strv_clear(&refs.layers);
		sfc_strv_clear(&refs.images);
	}
	if (what & SFC_GC_LAYERS) {
		_cleanup_free_ char *ldir = sfc_xasprintf("%s/layers", st->images);
		DIR *d;
		struct dirent *de;
		for_each_image(st, collect_refs, &refs);
		if ((d = opendir(ldir))) {
			while ((de = readdir(d))) {
				if (strlen(de->d_name) != 64 || sfc_strv_contains(&refs.layers, de->d_name) ||
				    sfc_strv_contains(&used_layers, de->d_name))
					continue;
				_cleanup_free_ char *p = sfc_xasprintf("%s/%s", ldir, de->d_name);
				rep->bytes += sfc_du(p);
				rep->layers++;
				if (!dry_run)
					sfc_rm_rf(p);
			}
			closedir(d);
		}
	}
	if (what & SFC_GC_TMP) {
		/* .tmp-PID-...: left by an import whose process is gone */
		const char *tdir = st->images;
		DIR *d = opendir(tdir);
		struct dirent *de;
		size_t pl = strlen(SFC_CLEAN_TMP_PREFIX);
		if (d) {
			while ((de = readdir(d))) {
				int pid;
				if (strncmp(de->d_name, SFC_CLEAN_TMP_PREFIX, pl))
					continue;
				pid = atoi(de->d_name + pl);
				if (pid <= 0 || sfc_clean_pid_alive(pid))
					continue;
				_cleanup_free_ char *p = sfc_xasprintf("%s/%s", tdir, de->d_name);
				rep->bytes += sfc_du(p);
				rep->tmp++;
				if (!dry_run)
					sfc_rm_rf(p);
			}
			closedir(d);
		}
	}
out:
	for (size_t i = 0; i < nc; i++)
		sfc_container_info_free(&cs[i]);
	free(cs);
	sfc_strv_clear(&refs.layers);
	sfc_strv_clear(&refs.images);
	sfc_strv_clear(&used_layers);
	sfc_store_unlock((struct sfc_store *)st);
	return r;
}

/* ------------------------------------------------ sefaca-clean's hooks */

/* Strong definitions of core/cleanup.h's hooks: sefaca-clean --containers
 * and --images.  Removal goes through sfc_clean_remove_at (no symlink
 * followed, no mount crossed). */
bool sfc_clean_containers_available(void)
{
	return true;
}

int sfc_clean_containers(const char *home, struct sfc_clean_report *rep, struct sfc_error *e)
{
	struct sfc_store st;
	struct sfc_container_info *cs = NULL;
	size_t n = 0;
	int r, dfd;

	if ((r = sfc_store_open(&st, home, e)) < 0)
		return r;
	if ((r = sfc_store_list_containers(&st, &cs, &n, e)) < 0)
		goto out;
	if ((dfd = open(st.containers, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "%s", st.containers);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* stopped ones only: never a running (or just created) container */
		if (cs[i].state == SFC_C_EXITED || cs[i].state == SFC_C_FAILED) {
			_cleanup_free_ char *path = sfc_xasprintf("%s/%s", st.containers, cs[i].name);
			struct stat sb;
			struct sfc_error e2 = { 0 };
			if (fstatat(dfd, cs[i].name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
				sfc_clean_remove_at(dfd, cs[i].name, "container", path, rep, &e2);
		}
	}
	close(dfd);
out:
	for (size_t i = 0; i < n; i++)
		sfc_container_info_free(&cs[i]);
	free(cs);
	sfc_store_close(&st);
	return r;
}

int sfc_clean_images(const char *home, struct sfc_clean_report *rep, struct sfc_error *e)
{
	struct sfc_store st;
	struct sfc_container_info *cs = NULL;
	size_t nc = 0;
	struct ref_ctx refs = { 0 };
	struct sfc_strv used = { 0 };
	int r, mfd = -1, lfd = -1;
	DIR *d = NULL;
	struct dirent *de;

	if ((r = sfc_store_open(&st, home, e)) < 0)
		return r;
	refs.st = &st;
	if ((r = sfc_store_lock(&st, true, e)) < 0)
		goto out;
	if ((r = sfc_store_list_containers(&st, &cs, &nc, e)) < 0)
		goto out;
	for (size_t i = 0; i < nc; i++)
		for (size_t j = 0; j < cs[i].layers.n; j++)
			sfc_strv_push(&used, cs[i].layers.v[j]);
	{
		_cleanup_free_ char *m = sfc_xasprintf("%s/meta", st.images), *l = sfc_xasprintf("%s/layers", st.images);
		mfd = open(m, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		lfd = open(l, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0 || lfd < 0) {
			r = sfc_err(e, errno, "%s", mfd < 0 ? m : l);
			goto out;
		}
	}
	/* images with no name that no container runs on go; the layers of
	 * the others stay (computed before removing anything: a dry run counts
	 * the same) */
	{
		struct list_ctx lc = { .st = &st };
		for_each_image(&st, list_one, &lc);
		for (size_t i = 0; i < lc.n; i++) {
			const char *hex = hex_of_id(lc.v[i].id);
			bool keep = lc.v[i].names.n > 0;
			for (size_t k = 0; k < nc && !keep; k++)
				if (cs[k].image_id && !strcmp(hex_of_id(cs[k].image_id), hex))
					keep = true;
			if (keep) {
				for (size_t j = 0; j < lc.v[i].layers.n; j++)
					sfc_strv_push(&refs.layers, lc.v[i].layers.v[j]);
			} else {
				_cleanup_free_ char *f = sfc_xasprintf("%s.json", hex);
				_cleanup_free_ char *path = sfc_xasprintf("%s/meta/%s", st.images, f);
				struct sfc_error e2 = { 0 };
				sfc_clean_remove_at(mfd, f, "image", path, rep, &e2);
			}
			sfc_image_free(&lc.v[i]);
		}
		free(lc.v);
	}
	if ((d = fdopendir(dup(lfd)))) {
		while ((de = readdir(d))) {
			if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64 ||
			    sfc_strv_contains(&refs.layers, de->d_name) || sfc_strv_contains(&used, de->d_name))
				continue;
			_cleanup_free_ char *path = sfc_xasprintf("%s/layers/%s", st.images, de->d_name);
			_cleanup_free_ char *sz = sfc_xasprintf("%s.size", de->d_name);
			struct sfc_error e2 = { 0 };
			if (sfc_clean_remove_at(lfd, de->d_name, "layer", path, rep, &e2) == 0 && !rep->dry_run)
				unlinkat(lfd, sz, 0);
		}
		closedir(d);
	}
	r = 0;
out:
	if (mfd >= 0)
		close(mfd);
	if (lfd >= 0)
		close(lfd);
	for (size_t i = 0; i < nc; i++)
		sfc_container_info_free(&cs[i]);
	free(cs);
	sfc_strv_clear(&refs.layers);
	sfc_strv_clear(&refs.images);
	sfc_strv_clear(&used);
	sfc_store_unlock(&st);
	sfc_store_close(&st);
	return r;
}

#else /* !ENABLE_FEATURE_IMAGES: the store needs json-c and libarchive; fail closed */
#include <errno.h>
#include <string.h>

#define NO_IMAGES(e) sfc_err(e, ENOTSUP, "container images were compiled out of this build (FEATURE_IMAGES)")

int sfc_store_open(struct sfc_store *st, const char *home, struct sfc_error *e)
{
	memset(st, 0, sizeof(*st));
	st->lockfd = -1;
	return NO_IMAGES(e);
}
void sfc_store_close(struct sfc_store *st) { (void)st; }
int sfc_store_list_images(const struct sfc_store *st, struct sfc_image **out, size_t *n, struct sfc_error *e)
{
	*out = NULL;
	*n = 0;
	return NO_IMAGES(e);
}
int sfc_store_list_containers(const struct sfc_store *st, struct sfc_container_info **out, size_t *n,
			      struct sfc_error *e)
{
	*out = NULL;
	*n = 0;
	return NO_IMAGES(e);
}
int sfc_store_remove_container(const struct sfc_store *st, const char *name, bool force, struct sfc_error *e)
{
	return NO_IMAGES(e);
}
int sfc_store_remove_image(const struct sfc_store *st, const char *ref, bool force, struct sfc_error *e)
{
	return NO_IMAGES(e);
}
int sfc_store_gc(const struct sfc_store *st, unsigned what, bool dry_run, struct sfc_gc_report *rep,
		 struct sfc_error *e)
{
	memset(rep, 0, sizeof(*rep));
	return NO_IMAGES(e);
}
#endif

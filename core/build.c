#include "core/build.h"

#include "autoconf.h"

#if ENABLE_FEATURE_IMAGES
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/image.h"
#include "core/kernel.h"
#include "core/oci.h"
#include "core/sha256.h"

struct bstate {
	struct sfc_store *st;
	const struct sfc_build_opts *o;
	struct sfc_strv layers;         /* so far, bottom first */
	struct sfc_image_config config; /* so far */
	char key[65];                   /* cache key of the top layer (or of FROM) */
	bool from_seen;
	int step, nsteps;
};

static void note(struct bstate *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct bstate *b, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!b->o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	b->o->progress(b->o->data, buf);
}

static void next_key(struct bstate *b, const char *what, const char *extra)
{
	struct sfc_sha256 c;

	sfc_sha256_init(&c);
	sfc_sha256_update(&c, b->key, 64);
	sfc_sha256_update(&c, what, strlen(what) + 1);
	if (extra)
		sfc_sha256_update(&c, extra, strlen(extra) + 1);
	/* what a RUN sees decides what it does */
	for (size_t i = 0; i < b->config.env.n; i++)
		sfc_sha256_update(&c, b->config.env.v[i], strlen(b->config.env.v[i]) + 1);
	if (b->config.user)
		sfc_sha256_update(&c, b->config.user, strlen(b->config.user) + 1);
	if (b->config.workdir)
		sfc_sha256_update(&c, b->config.workdir, strlen(b->config.workdir) + 1);
	sfc_sha256_final_hex(&c, b->key);
}

/* ["a", "b"] (exec form) or a shell line */
static int parse_cmd(const char *args, struct sfc_strv *out, bool shell_wrap, struct sfc_error *e)
{
	sfc_strv_clear(out);
	while (isspace((unsigned char)*args))
		args++;
	if (*args == '[') {
		json_object *a = json_tokener_parse(args);
		if (!a || !json_object_is_type(a, json_type_array)) {
			json_object_put(a);
			return sfc_err(e, 0, "bad JSON list: %s", args);
		}
		sfc_json_to_strv(a, out);
		json_object_put(a);
		return 0;
	}
	if (!*args)
		return sfc_err(e, 0, "missing command");
	if (shell_wrap) {
		sfc_strv_push(out, "/bin/sh");
		sfc_strv_push(out, "-c");
	}
	sfc_strv_push(out, args);
	return 0;
}

/* K=V K2="v 2" ...  or  K V */
static int parse_kv(const char *args, struct sfc_strv *out, struct sfc_error *e)
{
	const char *p = args;
	const char *sp = args + strcspn(args, " \t");

	if (!memchr(args, '=', sp - args)) {
		/* legacy form: the first word is the key, the rest the value */
		const char *v = sp;
		while (isspace((unsigned char)*v))
			v++;
		if (sp == args)
			return sfc_err(e, 0, "missing key");
		sfc_strv_push_owned(out, sfc_xasprintf("%.*s=%s", (int)(sp - args), args, v));
		return 0;
	}
	while (*p) {
		char buf[4096];
		size_t n = 0;
		bool q = false;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		while (*p && (q || !isspace((unsigned char)*p)) && n < sizeof(buf) - 1) {
			if (*p == '"') {
				q = !q;
				p++;
				continue;
			}
			if (*p == '\\' && p[1])
				p++;
			buf[n++] = *p++;
		}
		buf[n] = 0;
		if (!strchr(buf, '=') || buf[0] == '=')
			return sfc_err(e, 0, "expected KEY=VALUE, got '%s'", buf);
		sfc_strv_push(out, buf);
	}
	return 0;
}

static void set_kv(struct sfc_strv *v, const char *kv)
{
	size_t kl = strcspn(kv, "=");
	for (size_t i = 0; i < v->n; i++)
		if (!strncmp(v->v[i], kv, kl) && v->v[i][kl] == '=') {
			free(v->v[i]);
			v->v[i] = sfc_xstrdup(kv);
			return;
		}
	sfc_strv_push(v, kv);
}

static void layer_size(struct bstate *b, const char *hex)
{
	_cleanup_free_ char *p = sfc_store_layer_path(b->st, hex), *dir = sfc_xasprintf("%s/layers", b->st->images);
	_cleanup_free_ char *nm = sfc_xasprintf("%s.size", hex), *sz = NULL;
	struct sfc_error e;
	sz = sfc_xasprintf("%llu\n", (unsigned long long)sfc_du(p));
	sfc_store_write_atomic(dir, nm, sz, &e);
}

static void random_name(char *buf, size_t len)
{
	unsigned char r[6];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
		memset(r, (int)getpid(), sizeof(r));
	if (fd >= 0)
		close(fd);
	snprintf(buf, len, "build-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

static int do_run(struct bstate *b, const char *line, const char *args, struct sfc_error *e)
{
	struct sfc_cconfig cf = { 0 };
	struct sfc_container c = { .quiet = true };
	char name[64];
	int r;

	next_key(b, line, NULL);
	if (!b->o->no_cache && sfc_store_has_layer(b->st, b->key)) {
		note(b, "STEP %d/%d: %s (cached)", b->step, b->nsteps, line);
		sfc_strv_push(&b->layers, b->key);
		return 0;
	}
	note(b, "STEP %d/%d: %s", b->step, b->nsteps, line);
	random_name(name, sizeof(name));
	cf.name = sfc_xstrdup(name);
	cf.image = sfc_xstrdup(b->layers.n ? "(build)" : "scratch");
	sfc_strv_copy(&cf.layers, &b->layers);
	if ((r = parse_cmd(args, &cf.argv, false, e)) < 0)
		return r;
	cf.no_workspace = true;
	cf.network = b->o->network;
	cf.network_set = true;
	cf.cwd = sfc_xstrdup("/");
	if (b->o->flags)
		sfc_strv_copy(&cf.flags, b->o->flags);
	if ((r = sfc_container_create(b->st, &cf, &c, NULL, e)) < 0) {
		sfc_cconfig_free(&cf);
		sfc_container_close(&c);
		return r;
	}
	c.config_override = &b->config;
	c.src = b->o->src;
	c.caller_env = b->o->caller_env;
	r = sfc_container_run(&c, e);
	if (r == 0) {
		/* the container's writable layer, whiteouts and opaque markers as
		 * overlayfs wrote them, is the new layer as it is */
		_cleanup_free_ char *upper = sfc_xasprintf("%s/upper", c.dir);
		if ((r = sfc_store_commit_layer(b->st, upper, b->key, e)) == 0) {
			layer_size(b, b->key);
			sfc_strv_push(&b->layers, b->key);
		}
	} else if (r > 0) {
		r = sfc_err_status(e, r, 0, "RUN %s: exit status %d", args, r);
	}
	sfc_rm_rf(c.dir);
	sfc_container_close(&c);
	return r;
}

/* ---- COPY ---- */

static void hash_str(struct sfc_sha256 *h, const char *s)
{
	sfc_sha256_update(h, s, strlen(s) + 1);
}

static int copy_file(int sfd, int ddir, const char *name, mode_t mode, struct sfc_sha256 *h, const char *what,
		     struct sfc_error *e)
{
	_cleanup_close_ int d = openat(ddir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;

	if (d < 0)
		return sfc_err(e, errno, "COPY %s", what);
	while ((n = read(sfd, buf, sizeof(buf))) > 0) {
		sfc_sha256_update(h, buf, n);
		if (sfc_write_full(d, buf, n) < 0)
			return sfc_err(e, errno, "COPY %s", what);
	}
	if (n < 0)
		return sfc_err(e, errno, "COPY %s", what);
	fchmod(d, mode & 01777); /* no setuid/setgid into images */
	return 0;
}

/* Copy SNAME of directory SDIR to DNAME of directory DDIR: never following
 * a symlink of the context (they are copied as symlinks). */
static int copy_tree(int sdir, const char *sname, int ddir, const char *dname, const char *rel, struct sfc_sha256 *h,
		     struct sfc_error *e)
{
	struct stat st;
	int r = 0;

	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return sfc_err(e, errno, "COPY %s", rel);
	hash_str(h, rel);
	sfc_sha256_update(h, &st.st_mode, sizeof(st.st_mode));
	if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(sdir, sname, t, sizeof(t) - 1);
		if (n < 0)
			return sfc_err(e, errno, "COPY %s", rel);
		t[n] = 0;
		hash_str(h, t);
		unlinkat(ddir, dname, 0);
		if (symlinkat(t, ddir, dname) < 0)
			return sfc_err(e, errno, "COPY %s", rel);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int f = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (f < 0)
			return sfc_err(e, errno, "COPY %s", rel);
		return copy_file(f, ddir, dname, st.st_mode, h, rel, e);
	}
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int s = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), d = -1;
		struct dirent **ents = NULL;
		int n;
		if (s < 0)
			return sfc_err(e, errno, "COPY %s", rel);
		if (mkdirat(ddir, dname, 0755) < 0 && errno != EEXIST)
			return sfc_err(e, errno, "COPY %s", rel);
		if ((d = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return sfc_err(e, errno, "COPY %s: the destination is not a directory", rel);
		fchmod(d, (st.st_mode & 01777) | 0700);
		{
			/* sorted, so the content hash does not depend on readdir order */
			_cleanup_free_ char *proc = sfc_xasprintf("/proc/self/fd/%d", s);
			n = scandir(proc, &ents, NULL, alphasort);
		}
		if (n < 0)
			return sfc_err(e, errno, "COPY %s", rel);
		for (int i = 0; i < n; i++) {
			if (!r && strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
				_cleanup_free_ char *sub = sfc_xasprintf("%s/%s", rel, ents[i]->d_name);
				r = copy_tree(s, ents[i]->d_name, d, ents[i]->d_name, sub, h, e);
			}
			free(ents[i]);
		}
		free(ents);
		return r;
	}
	return 0; /* devices, fifos, sockets of the context are not copied */
}

/* mkdir -p PATH (relative, clean) beneath ROOT without symlinks; O_PATH fd */
static int mkdirs(int root, const char *path, struct sfc_error *e)
{
	_cleanup_close_ int cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
	const char *p = path;

	while (*p) {
		char name[NAME_MAX + 1];
		size_t n = strcspn(p, "/");
		int nfd;
		if (!n) {
			p++;
			continue;
		}
		if (n > NAME_MAX || (n == 2 && !strncmp(p, "..", 2)))
			return sfc_err(e, EINVAL, "COPY destination %s", path);
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
			return sfc_err(e, errno, "COPY destination %s", path);
		nfd = sfc_openat2(cur, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
		if (nfd < 0)
			return sfc_err(e, errno, "COPY destination %s", path);
		close(cur);
		cur = nfd;
	}
	return sfc_steal_fd(&cur);
}

static int do_copy(struct bstate *b, const char *line, const char *args, struct sfc_error *e)
{
	struct sfc_strv words = { 0 };
	struct sfc_sha256 h;
	_cleanup_free_ char *tmp = NULL, *dst = NULL;
	_cleanup_close_ int ctx = -1, root = -1;
	char digest[65];
	int r = 0;

	sfc_strv_split(&words, args, " \t");
	while (words.n && !strncmp(words.v[0], "--", 2))
		sfc_strv_remove(&words, 0); /* --chown=, --chmod=: ownership is the caller's here */
	if (words.n < 2) {
		sfc_strv_clear(&words);
		return sfc_err(e, 0, "COPY needs a source and a destination");
	}
	{
		const char *w = words.v[words.n - 1];
		_cleanup_free_ char *j = w[0] == '/' ? sfc_xstrdup(w)
						     : sfc_xasprintf("%s/%s", b->config.workdir ? b->config.workdir : "", w);
		dst = sfc_path_normalize(j);
		if (w[strlen(w) - 1] == '/' && strcmp(dst, "/")) {
			char *t = sfc_xasprintf("%s/", dst);
			free(dst);
			dst = t;
		}
	}
	if ((ctx = open(b->o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "build context %s", b->o->context);
		goto out;
	}
	if ((r = sfc_store_mktemp(b->st, "copy", &tmp, e)) < 0)
		goto out;
	if ((root = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sfc_err(e, errno, "%s", tmp);
		goto out;
	}
	fchmod(root, 0755);
	sfc_sha256_init(&h);
	for (size_t i = 0; i + 1 < words.n && r == 0; i++) {
		const char *src = words.v[i];
		/* sources are beneath the context: no '..' or symlink out of it */
		_cleanup_close_ int sp = -1, spar = -1, dd = -1;
		_cleanup_free_ char *sdup = sfc_xstrdup(src), *ddup = sfc_xstrdup(dst);
		struct stat st;
		bool into_dir = dst[strlen(dst) - 1] == '/' || words.n > 2;
		char *base, *slash;

		sp = sfc_openat2(ctx, src, O_PATH | O_NOFOLLOW | O_CLOEXEC, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_MAGICLINKS);
		if (sp < 0) {
			r = errno == EXDEV || errno == ELOOP
				    ? sfc_err(e, 0, "COPY %s: outside the build context", src)
				    : sfc_err(e, errno, "COPY %s", src);
			break;
		}
		if (fstat(sp, &st) < 0) {
			r = sfc_err(e, errno, "COPY %s", src);
			break;
		}
		/* the parent of the source, to copy it by name without following it */
		{
			_cleanup_free_ char *proc = sfc_xasprintf("/proc/self/fd/%d", sp);
			char real[PATH_MAX];
			ssize_t n = readlink(proc, real, sizeof(real) - 1);
			if (n < 0) {
				r = sfc_err(e, errno, "COPY %s", src);
				break;
			}
			real[n] = 0;
			free(sdup);
			sdup = sfc_xstrdup(real);
		}
		slash = strrchr(sdup, '/');
		*slash = 0;
		base = slash + 1;
		if ((spar = open(sdup[0] ? sdup : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			r = sfc_err(e, errno, "COPY %s", src);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			/* a directory's contents go into the destination directory */
			_cleanup_close_ int s = openat(spar, *base ? base : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			struct dirent **ents = NULL;
			int n;
			if ((dd = mkdirs(root, dst + 1, e)) < 0) {
				r = dd;
				break;
			}
			{
				_cleanup_free_ char *proc = sfc_xasprintf("/proc/self/fd/%d", s);
				n = s >= 0 ? scandir(proc, &ents, NULL, alphasort) : -1;
			}
			if (n < 0) {
				r = sfc_err(e, errno, "COPY %s", src);
				break;
			}
			for (int k = 0; k < n; k++) {
				if (!r && strcmp(ents[k]->d_name, ".") && strcmp(ents[k]->d_name, ".."))
					r = copy_tree(s, ents[k]->d_name, dd, ents[k]->d_name, ents[k]->d_name, &h, e);
				free(ents[k]);
			}
			free(ents);
		} else if (into_dir) {
			if ((dd = mkdirs(root, dst + 1, e)) < 0) {
				r = dd;
				break;
			}
			r = copy_tree(spar, base, dd, base, base, &h, e);
		} else {
			char *ds = strrchr(ddup, '/');
			*ds = 0;
			if ((dd = mkdirs(root, ddup + 1, e)) < 0) {
				r = dd;
				break;
			}
			r = copy_tree(spar, base, dd, ds + 1, ds + 1, &h, e);
		}
	}
	if (r < 0)
		goto out;
	sfc_sha256_final_hex(&h, digest);
	next_key(b, line, digest);
	if (sfc_store_has_layer(b->st, b->key)) {
		note(b, "STEP %d/%d: %s (cached)", b->step, b->nsteps, line);
		sfc_rm_rf(tmp);
	} else {
		note(b, "STEP %d/%d: %s", b->step, b->nsteps, line);
		if ((r = sfc_store_commit_layer(b->st, tmp, b->key, e)) < 0)
			goto out;
		layer_size(b, b->key);
	}
	free(tmp);
	tmp = NULL;
	sfc_strv_push(&b->layers, b->key);
out:
	if (tmp)
		sfc_rm_rf(tmp);
	sfc_strv_clear(&words);
	return r;
}

/* ---- the file ---- */

static int step(struct bstate *b, char *line, struct sfc_error *e)
{
	char *args = line + strcspn(line, " \t");
	char ins[16];
	size_t n = args - line;
	int r = 0;

	if (n >= sizeof(ins))
		return sfc_err(e, 0, "unknown instruction");
	for (size_t i = 0; i < n; i++)
		ins[i] = toupper((unsigned char)line[i]);
	ins[n] = 0;
	while (isspace((unsigned char)*args))
		args++;
	if (!b->from_seen && strcmp(ins, "FROM") && strcmp(ins, "ARG"))
		return sfc_err(e, 0, "the first instruction must be FROM");

	if (!strcmp(ins, "FROM")) {
		struct sfc_image img;
		struct sfc_import_opts io = { .progress = b->o->progress, .data = b->o->data };
		_cleanup_free_ char *ref = sfc_xstrndup(args, strcspn(args, " \t"));
		if (b->from_seen)
			return sfc_err(e, ENOTSUP, "multi-stage builds (a second FROM) are not supported");
		b->from_seen = true;
		note(b, "STEP %d/%d: FROM %s", b->step, b->nsteps, ref);
		if (!strcmp(ref, "scratch")) {
			memset(b->key, '0', 64);
			b->key[64] = 0;
			return 0;
		}
		if ((r = sfc_image_get(b->st, ref, &io, &img, e)) < 0)
			return r;
		sfc_strv_copy(&b->layers, &img.layers);
		b->config = img.config;
		memset(&img.config, 0, sizeof(img.config));
		snprintf(b->key, sizeof(b->key), "%s", img.id + (strncmp(img.id, "sha256:", 7) ? 0 : 7));
		sfc_image_free(&img);
		return 0;
	}
	if (!strcmp(ins, "RUN"))
		return do_run(b, line, args, e);
	if (!strcmp(ins, "COPY") || !strcmp(ins, "ADD")) {
		if (!strncmp(args, "http://", 7) || !strncmp(args, "https://", 8))
			return sfc_err(e, ENOTSUP, "ADD from a URL is not supported (no network in builds)");
		return do_copy(b, line, args, e);
	}
	note(b, "STEP %d/%d: %s", b->step, b->nsteps, line);
	if (!strcmp(ins, "ENV")) {
		struct sfc_strv kv = { 0 };
		if ((r = parse_kv(args, &kv, e)) == 0)
			for (size_t i = 0; i < kv.n; i++)
				set_kv(&b->config.env, kv.v[i]);
		sfc_strv_clear(&kv);
	} else if (!strcmp(ins, "LABEL")) {
		struct sfc_strv kv = { 0 };
		if ((r = parse_kv(args, &kv, e)) == 0)
			for (size_t i = 0; i < kv.n; i++)
				set_kv(&b->config.labels, kv.v[i]);
		sfc_strv_clear(&kv);
	} else if (!strcmp(ins, "WORKDIR")) {
		_cleanup_free_ char *j = args[0] == '/' ? sfc_xstrdup(args)
							: sfc_xasprintf("%s/%s", b->config.workdir ? b->config.workdir : "", args);
		if (!*args)
			return sfc_err(e, 0, "WORKDIR needs a path");
		free(b->config.workdir);
		b->config.workdir = sfc_path_normalize(j);
	} else if (!strcmp(ins, "USER")) {
		if (!*args)
			return sfc_err(e, 0, "USER needs a user");
		free(b->config.user);
		b->config.user = sfc_xstrdup(args);
	} else if (!strcmp(ins, "CMD")) {
		r = parse_cmd(args, &b->config.cmd, true, e);
	} else if (!strcmp(ins, "ENTRYPOINT")) {
		r = parse_cmd(args, &b->config.entrypoint, true, e);
		if (r == 0)
			sfc_strv_clear(&b->config.cmd); /* as docker: a new entrypoint resets CMD */
	} else if (!strcmp(ins, "EXPOSE") || !strcmp(ins, "VOLUME") || !strcmp(ins, "ARG") ||
		   !strcmp(ins, "STOPSIGNAL") || !strcmp(ins, "HEALTHCHECK") || !strcmp(ins, "MAINTAINER")) {
		note(b, "  (%s is recorded nowhere by sefaca; ignored)", ins);
	} else {
		return sfc_err(e, 0, "unknown instruction %s", ins);
	}
	if (r == 0)
		next_key(b, line, NULL);
	return r;
}

int sfc_build(struct sfc_store *st, const struct sfc_build_opts *o, struct sfc_image *out, struct sfc_error *e)
{
	struct bstate b = { .st = st, .o = o };
	_cleanup_free_ char *text = sfc_store_read_file(o->file, 1 << 20, e);
	struct sfc_strv lines = { 0 };
	char *p, *cur = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	memset(b.key, '0', 64);
	if (!text)
		return -EIO;
	/* lines, with '\' continuations joined and comments dropped */
	for (p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
		size_t n;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' && !cur)
			continue;
		if (*p == '#')
			continue;
		n = strlen(p);
		while (n && isspace((unsigned char)p[n - 1]))
			p[--n] = 0;
		if (n && p[n - 1] == '\\') {
			p[n - 1] = 0;
			char *c2 = sfc_xasprintf("%s%s ", cur ? cur : "", p);
			free(cur);
			cur = c2;
			continue;
		}
		if (cur) {
			char *c2 = sfc_xasprintf("%s%s", cur, p);
			free(cur);
			cur = NULL;
			sfc_strv_push_owned(&lines, c2);
		} else if (*p) {
			sfc_strv_push(&lines, p);
		}
	}
	if (cur)
		sfc_strv_push_owned(&lines, cur);
	if (!lines.n) {
		sfc_strv_clear(&lines);
		return sfc_err(e, 0, "%s has no instructions", o->file);
	}
	b.nsteps = (int)lines.n;
	for (size_t i = 0; i < lines.n; i++) {
		b.step = (int)i + 1;
		if ((r = step(&b, lines.v[i], e)) < 0) {
			sfc_err_prefix(e, "%s: step %d (%.60s)", o->file, b.step, lines.v[i]);
			goto done;
		}
	}
	if (!b.from_seen) {
		r = sfc_err(e, 0, "%s has no FROM", o->file);
		goto done;
	}
	{
		struct sfc_image tmp = { 0 };
		_cleanup_free_ char *j = NULL;
		char hex[65];
		tmp.layers = b.layers;
		tmp.config = b.config;
		tmp.id = "sha256:0";
		/* the id: a hash of what the image is (config and layers) */
		{
			json_object *o2 = json_object_new_object();
			json_object_object_add(o2, "layers", sfc_json_from_strv(&b.layers));
			json_object_object_add(o2, "env", sfc_json_from_strv(&b.config.env));
			json_object_object_add(o2, "cmd", sfc_json_from_strv(&b.config.cmd));
			json_object_object_add(o2, "entrypoint", sfc_json_from_strv(&b.config.entrypoint));
			json_object_object_add(o2, "labels", sfc_json_from_strv(&b.config.labels));
			sfc_json_add_str(o2, "workdir", b.config.workdir);
			sfc_json_add_str(o2, "user", b.config.user);
			j = sfc_xstrdup(json_object_to_json_string(o2));
			json_object_put(o2);
		}
		sfc_sha256_hex(j, strlen(j), hex);
		out->id = sfc_xasprintf("sha256:%s", hex);
		out->source = sfc_xasprintf("build:%s", o->file);
		out->layers = b.layers;
		out->config = b.config;
		out->created = time(NULL);
		for (size_t i = 0; i < b.layers.n; i++) {
			_cleanup_free_ char *sp = sfc_xasprintf("%s/layers/%s.size", st->images, b.layers.v[i]);
			char buf[32];
			if (sfc_read_file_at(AT_FDCWD, sp, buf, sizeof(buf)) > 0)
				out->size += strtoull(buf, NULL, 10);
		}
		memset(&b.layers, 0, sizeof(b.layers));
		memset(&b.config, 0, sizeof(b.config));
		(void)tmp;
		if ((r = sfc_store_save_image(st, out, e)) < 0)
			goto done;
		if (o->tag) {
			if ((r = sfc_store_tag_image(st, o->tag, out->id, e)) < 0)
				goto done;
			_cleanup_free_ char *n = sfc_store_image_name(o->tag);
			if (n)
				sfc_strv_push(&out->names, n);
		}
	}
done:
	sfc_strv_clear(&lines);
	sfc_strv_clear(&b.layers);
	sfc_image_config_free(&b.config);
	return r;
}
#else
typedef int sfc_build_unused;
#endif

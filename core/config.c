#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/parse.h"
#include "core/util.h"

#if ENABLE_FEATURE_CONFIG
#include <ini.h>
#endif

bool sfc_config_compiled(void)
{
	return ENABLE_FEATURE_CONFIG;
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **p = env; p && *p; p++)
		if (!strncmp(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

char *sfc_config_home(char **env, const char *cwd)
{
	const char *h = env_get(env, "SEFACA_HOME");

	if (h && *h) {
		_cleanup_free_ char *j = h[0] == '/' || !cwd ? NULL : sfc_xasprintf("%s/%s", cwd, h);
		return j || h[0] == '/' ? sfc_path_normalize(j ? j : h) : NULL;
	}
	h = env_get(env, "HOME");
	if (h && h[0] == '/')
		return sfc_xasprintf("%s/.sefaca", strcmp(h, "/") ? h : "");
	return NULL;
}

#if ENABLE_FEATURE_CONFIG

/* State of one file being read.  inih gives us lines through our reader
 * (so we count them, check their length and see section headers, also
 * of empty sections) and key/value pairs through the handler. */
struct loader {
	struct sfc_sources *src;
	const char *name; /* interned in src->names */
	const char *text;
	size_t len, pos;
	int line;
	bool in_key;       /* a key was read since the last header (inih's prev_name) */
	bool continuation; /* the current line continues the previous key */
	bool in_section;
	ssize_t prof;      /* index of the current profile in src->profiles */
	char section[80];
	struct sfc_strv sections; /* headers seen in this file ... */
	int *section_lines;       /* ... and their lines */
	int key_line[SFC_K__MAX]; /* first line of each key in this section */
	int last_key;
	struct sfc_spec scratch;  /* values are checked by applying them here */
	struct sfc_error *e;
	int err_line;
};

static int fail(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct loader *ld, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	if (ld->err_line)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ld->err_line = ld->line ? ld->line : 1;
	return sfc_err(ld->e, 0, "%s:%d: %s", ld->name, ld->err_line, msg);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 64 || !isalnum((unsigned char)s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void open_section(struct loader *ld, const char *hdr)
{
	static const char *const kinds[] = { "preset", "policy", "env" };
	char kind[16];
	const char *name = NULL;
	struct sfc_profile *p;

	for (size_t i = 0; i < ld->sections.n; i++)
		if (!strcmp(ld->sections.v[i], hdr)) {
			fail(ld, "duplicate section [%s] (first at line %d)", hdr, ld->section_lines[i]);
			return;
		}
	if (!strcmp(hdr, "default")) {
		snprintf(kind, sizeof(kind), "default");
	} else {
		const char *dot = strchr(hdr, '.');
		size_t i;
		for (i = 0; i < SFC_ARRAY_SIZE(kinds); i++)
			if (dot && (size_t)(dot - hdr) == strlen(kinds[i]) && !strncmp(hdr, kinds[i], dot - hdr))
				break;
		if (i == SFC_ARRAY_SIZE(kinds)) {
			fail(ld, "unknown section [%s] (expected [default], [preset.NAME], [policy.NAME] or [env.NAME])",
			     hdr);
			return;
		}
		if (!valid_name(dot + 1)) {
			fail(ld, "bad name in section [%s] (letters, digits, '_', '.' and '-', at most 64)", hdr);
			return;
		}
		snprintf(kind, sizeof(kind), "%s", kinds[i]);
		name = dot + 1;
	}
	sfc_strv_push(&ld->sections, hdr);
	ld->section_lines = sfc_xrealloc(ld->section_lines, ld->sections.n * sizeof(int));
	ld->section_lines[ld->sections.n - 1] = ld->line;
	snprintf(ld->section, sizeof(ld->section), "%s", hdr);
	memset(ld->key_line, 0, sizeof(ld->key_line));
	ld->in_section = true;

	/* The same section in an earlier file: this one adds to it. */
	p = sfc_sources_find(ld->src, kind, name);
	if (p) {
		ld->prof = p - ld->src->profiles;
		return;
	}
	ld->src->profiles = sfc_xrealloc(ld->src->profiles, (ld->src->nprofiles + 1) * sizeof(*p));
	p = &ld->src->profiles[ld->src->nprofiles];
	memset(p, 0, sizeof(*p));
	p->kind = sfc_xstrdup(kind);
	p->name = name ? sfc_xstrdup(name) : NULL;
	p->origin = (struct sfc_origin){ SFC_ORIGIN_FILE, ld->name, ld->line };
	ld->prof = ld->src->nprofiles++;
}

/* inih reads lines through this: one call is one line. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *p, *end, *s, *start;
	size_t n;

	if (ld->err_line || ld->pos >= ld->len)
		return NULL;
	p = ld->text + ld->pos;
	end = memchr(p, '\n', ld->len - ld->pos);
	if (!end)
		end = ld->text + ld->len;
	n = end - p;
	ld->pos += n + (end < ld->text + ld->len);
	ld->line++;
	ld->continuation = false;
	if (memchr(p, 0, n)) {
		fail(ld, "NUL byte in the file");
		return NULL;
	}
	if (n + 2 > (size_t)num) {
		fail(ld, "line too long (at most %d characters; continue a list on indented lines)", num - 2);
		return NULL;
	}
	memcpy(str, p, n);
	str[n] = '\n';
	str[n + 1] = 0;

	/* Classify the line as inih will, to see headers and continuations. */
	s = str;
	if (ld->line == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3;
	for (start = s; *start && isspace((unsigned char)*start); start++)
		;
	if (!*start || *start == ';' || *start == '#')
		return str;
	if (ld->in_key && start > s) {
		ld->continuation = true;
		return str;
	}
	if (*start == '[') {
		const char *close = strchr(start, ']');
		char hdr[80];
		if (!close) {
			fail(ld, "syntax error: a section header needs its ']'");
			return NULL;
		}
		if ((size_t)(close - start - 1) >= sizeof(hdr)) {
			fail(ld, "section name too long");
			return NULL;
		}
		snprintf(hdr, sizeof(hdr), "%.*s", (int)(close - start - 1), start + 1);
		for (const char *t = close + 1; *t; t++) {
			if (*t == ';' || *t == '#')
				break;
			if (!isspace((unsigned char)*t)) {
				fail(ld, "syntax error: text after the section header [%s]", hdr);
				return NULL;
			}
		}
		ld->in_key = false;
		open_section(ld, hdr);
		return ld->err_line ? NULL : str;
	}
	if (!strpbrk(start, "=:")) {
		fail(ld, "syntax error: expected [section] or key = value");
		return NULL;
	}
	ld->in_key = true;
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	struct sfc_origin o = { SFC_ORIGIN_FILE, ld->name, ld->line };
	struct sfc_profile *p;
	char val[1024];
	size_t vn;
	int k;

	if (ld->err_line)
		return 0;
	if (!ld->in_section) {
		fail(ld, "'%s' is outside any section (start with [default])", name);
		return 0;
	}
	p = &ld->src->profiles[ld->prof];
	k = sfc_key_lookup(name);
	if (k < 0) {
		fail(ld, "unknown key '%s' in [%s]", name, ld->section);
		return 0;
	}
	if (ld->continuation) {
		if (k != ld->last_key || !sfc_key_info(k)->list) {
			fail(ld, "'%s' takes one value; only lists continue on indented lines", sfc_key_info(k)->name);
			return 0;
		}
	} else if (ld->key_line[k]) {
		fail(ld, "duplicate key '%s' in [%s] (first at line %d)", sfc_key_info(k)->name, ld->section,
		     ld->key_line[k]);
		return 0;
	} else {
		ld->key_line[k] = ld->line;
	}
	if ((k == SFC_K_PRESET || k == SFC_K_POLICY || k == SFC_K_ENV_PROFILE) && strcmp(p->kind, "default")) {
		fail(ld, "'%s' can be chosen in [default], not inside [%s]", sfc_key_info(k)->name, ld->section);
		return 0;
	}
	/* One pair of double quotes around a value is dropped, for TOML habits. */
	vn = strlen(value);
	if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
		value++;
		vn -= 2;
	}
	snprintf(val, sizeof(val), "%.*s", (int)vn, value);
	if ((k == SFC_K_PRESET || k == SFC_K_POLICY || k == SFC_K_ENV_PROFILE) && !sfc_is_none(val) &&
	    !valid_name(val)) {
		fail(ld, "%s: bad name '%s'", sfc_key_info(k)->name, val);
		return 0;
	}
	if (sfc_spec_set(&ld->scratch, k, val, &o, ld->e) < 0) {
		char msg[sizeof(ld->e->msg)];
		snprintf(msg, sizeof(msg), "%s", ld->e->msg);
		fail(ld, "%s: %s", sfc_key_info(k)->name, msg);
		return 0;
	}
	ld->last_key = k;
	sfc_settings_add(&p->settings, k, val, &o);
	return 1;
}

int sfc_config_load_buffer(struct sfc_sources *src, const char *name, const char *text, size_t len,
			   const struct sfc_spec *ctx, struct sfc_error *e)
{
	struct loader ld;
	int r;

	memset(&ld, 0, sizeof(ld));
	sfc_strv_push(&src->names, name);
	ld.src = src;
	ld.name = src->names.v[src->names.n - 1];
	ld.text = text;
	ld.len = len;
	ld.e = e;
	ld.last_key = -1;
	sfc_spec_init(&ld.scratch);
	if (ctx) {
		ld.scratch.caller_env = ctx->caller_env;
		ld.scratch.home = ctx->home;
		ld.scratch.cwd = ctx->cwd;
	}
	r = ini_parse_stream(reader, &ld, handler, &ld);
	/* inih counts lines as our reader does; a syntax error it found on an
	 * earlier line than ours comes first. */
	if (r > 0 && (!ld.err_line || r < ld.err_line)) {
		ld.err_line = 0;
		ld.line = r;
		fail(&ld, "syntax error");
	} else if (r < 0 && !ld.err_line) {
		fail(&ld, "out of memory");
	}
	ld.scratch.caller_env = NULL;
	ld.scratch.home = ld.scratch.cwd = NULL;
	sfc_spec_free(&ld.scratch);
	sfc_strv_clear(&ld.sections);
	free(ld.section_lines);
	return ld.err_line ? -EINVAL : 0;
}

int sfc_config_load_file(struct sfc_sources *src, const char *path, bool missing_ok, const struct sfc_spec *ctx,
			 struct sfc_error *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0) {
		int err = errno;
		if ((err == ENOENT || err == ENOTDIR) && missing_ok)
			return 0;
		/* Not readable in a directory that is neither ours nor root's
		 * (HOME still names another user's, after su or sudo -u): not
		 * our configuration.  In our own or root's: fail closed. */
		if (err == EACCES && missing_ok) {
			_cleanup_free_ char *dir = sfc_xstrdup(path);
			char *slash = strrchr(dir, '/');
			struct stat ds;
			if (slash)
				*(slash == dir ? slash + 1 : slash) = 0;
			if (slash && stat(dir, &ds) == 0 && ds.st_uid != 0 && ds.st_uid != geteuid())
				return 0;
		}
		return sfc_err(e, err, "config %s", path);
	}
	if (fstat(fd, &st) < 0)
		return sfc_err(e, errno, "config %s", path);
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return 1; /* --config=/dev/null: nothing */
	if (!S_ISREG(st.st_mode))
		return sfc_err(e, 0, "config %s: not a regular file", path);
	/* A file others may write could lift every restriction: as ssh does
	 * with its files, refuse it rather than trust it. */
	if (st.st_mode & S_IWOTH)
		return sfc_err(e, 0, "config %s: writable by every user; refusing it (chmod o-w %s)", path, path);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return sfc_err(e, 0, "config %s: owned by uid %u, neither root nor you; refusing it", path,
			       (unsigned)st.st_uid);
	if (st.st_size > SFC_CONFIG_MAX_SIZE)
		return sfc_err(e, 0, "config %s: larger than %d bytes", path, SFC_CONFIG_MAX_SIZE);
	buf = sfc_xmalloc(st.st_size + 1);
	n = sfc_read_full(fd, buf, st.st_size + 1);
	if (n < 0)
		return sfc_err(e, -n, "config %s", path);
	if (n > st.st_size)
		return sfc_err(e, 0, "config %s: changed while being read", path);
	return sfc_config_load_buffer(src, path, buf, n, ctx, e) < 0 ? -EINVAL : 1;
}

#else /* !ENABLE_FEATURE_CONFIG: --config fails closed */

int sfc_config_load_buffer(struct sfc_sources *src, const char *name, const char *text, size_t len,
			   const struct sfc_spec *ctx, struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "%s: configuration files are not supported by this build (FEATURE_CONFIG)", name);
}

int sfc_config_load_file(struct sfc_sources *src, const char *path, bool missing_ok, const struct sfc_spec *ctx,
			 struct sfc_error *e)
{
	if (missing_ok && access(path, F_OK) < 0)
		return 0;
	return sfc_err(e, ENOTSUP, "%s: configuration files are not supported by this build (FEATURE_CONFIG)", path);
}
#endif

int sfc_config_load_all(struct sfc_sources *src, const struct sfc_config_request *req, const struct sfc_spec *ctx,
			struct sfc_strv *loaded, struct sfc_error *e)
{
	int r;

	if (!req->no_config) {
		_cleanup_free_ char *home = sfc_config_home(ctx->caller_env, ctx->cwd);
		_cleanup_free_ char *user = home ? sfc_xasprintf("%s/config.ini", home) : NULL;
		const char *envfile = env_get(ctx->caller_env, "SEFACA_CONFIG");
		const char *files[] = { SFC_CONFIG_SYSTEM, user };

		for (size_t i = 0; i < SFC_ARRAY_SIZE(files); i++) {
			if (!files[i])
				continue;
			if ((r = sfc_config_load_file(src, files[i], true, ctx, e)) < 0)
				return r;
			if (r > 0 && loaded)
				sfc_strv_push(loaded, files[i]);
		}
		if (envfile && *envfile && !(req->files && req->files[0])) {
			if ((r = sfc_config_load_file(src, envfile, false, ctx, e)) < 0) {
				sfc_err_prefix(e, "SEFACA_CONFIG");
				return r;
			}
			if (loaded)
				sfc_strv_push(loaded, envfile);
		}
	}
	for (char **f = req->files; f && *f; f++) {
		if ((r = sfc_config_load_file(src, *f, false, ctx, e)) < 0)
			return r;
		if (loaded)
			sfc_strv_push(loaded, *f);
	}
	sfc_sources_add_environ(src, ctx->caller_env);
	return 0;
}

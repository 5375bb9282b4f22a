#include "core/container.h"

#include "autoconf.h"

#if ENABLE_FEATURE_IMAGES
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/caps.h"
#include "core/env.h"
#include "core/image.h"
#include "core/kernel.h"
#include "core/landlock.h"
#include "core/limits.h"
#include "core/mount.h"
#include "core/oci.h"
#include "core/parse.h"
#include "core/registry.h"
#include "core/seccomp.h"
#include "core/userns.h"

static const char *const cnet_names[] = { "none", "host", "pasta", "slirp4netns" };

const char *sfc_cnet_name(enum sfc_cnet n)
{
	return (unsigned)n < SFC_ARRAY_SIZE(cnet_names) ? cnet_names[n] : "?";
}

int sfc_cnet_parse(const char *v, enum sfc_cnet *out)
{
	for (size_t i = 0; i < SFC_ARRAY_SIZE(cnet_names); i++)
		if (!strcmp(v, cnet_names[i])) {
			*out = i;
			return 0;
		}
	if (!strcmp(v, "deny") || !strcmp(v, "localhost") || !strcmp(v, "loopback")) {
		*out = SFC_CNET_NONE;
		return 0;
	}
	if (!strcmp(v, "allow")) {
		*out = SFC_CNET_HOST;
		return 0;
	}
	if (!strcmp(v, "slirp")) {
		*out = SFC_CNET_SLIRP;
		return 0;
	}
	return -1;
}

bool sfc_container_name_valid(const char *n)
{
	size_t len = strlen(n);
	return len > 0 && len <= 64 &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len && n[0] != '.' &&
	       n[0] != '-';
}

void sfc_cconfig_free(struct sfc_cconfig *c)
{
	free(c->name);
	free(c->id);
	free(c->image);
	free(c->image_id);
	free(c->rootfs);
	free(c->envname);
	free(c->workdir);
	free(c->user);
	free(c->cwd);
	sfc_strv_clear(&c->layers);
	sfc_strv_clear(&c->argv);
	sfc_strv_clear(&c->entrypoint);
	sfc_strv_clear(&c->env);
	sfc_strv_clear(&c->volumes);
	sfc_strv_clear(&c->tmpfs);
	sfc_strv_clear(&c->publish);
	sfc_strv_clear(&c->flags);
	memset(c, 0, sizeof(*c));
}

static void free_result(struct sfc_result *r);

void sfc_container_close(struct sfc_container *c)
{
	if (c->image) {
		sfc_image_free(c->image);
		free(c->image);
	}
	free_result(&c->last);
	sfc_cconfig_free(&c->cfg);
	free(c->state.error);
	free(c->dir);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------ config/state */

static const char *const restart_names[] = { "no", "on-failure", "always" };

static char *config_json(const struct sfc_cconfig *c)
{
	json_object *o = json_object_new_object();
	char *s;

	sfc_json_add_str(o, "name", c->name);
	sfc_json_add_str(o, "id", c->id);
	sfc_json_add_str(o, "image", c->image);
	sfc_json_add_str(o, "image_id", c->image_id);
	sfc_json_add_str(o, "rootfs", c->rootfs);
	json_object_object_add(o, "host", json_object_new_boolean(c->host));
	json_object_object_add(o, "layers", sfc_json_from_strv(&c->layers));
	json_object_object_add(o, "command", sfc_json_from_strv(&c->argv));
	if (c->has_entrypoint)
		json_object_object_add(o, "entrypoint", sfc_json_from_strv(&c->entrypoint));
	json_object_object_add(o, "env", sfc_json_from_strv(&c->env));
	sfc_json_add_str(o, "env_profile", c->envname);
	json_object_object_add(o, "volumes", sfc_json_from_strv(&c->volumes));
	json_object_object_add(o, "tmpfs", sfc_json_from_strv(&c->tmpfs));
	json_object_object_add(o, "publish", sfc_json_from_strv(&c->publish));
	json_object_object_add(o, "flags", sfc_json_from_strv(&c->flags));
	sfc_json_add_str(o, "workdir", c->workdir);
	sfc_json_add_str(o, "user", c->user);
	sfc_json_add_str(o, "cwd", c->cwd);
	json_object_object_add(o, "network", json_object_new_string(sfc_cnet_name(c->network)));
	json_object_object_add(o, "network_set", json_object_new_boolean(c->network_set));
	json_object_object_add(o, "read_only", json_object_new_boolean(c->read_only));
	json_object_object_add(o, "rm", json_object_new_boolean(c->rm));
	json_object_object_add(o, "detach", json_object_new_boolean(c->detach));
	json_object_object_add(o, "tty", json_object_new_boolean(c->tty));
	json_object_object_add(o, "no_workspace", json_object_new_boolean(c->no_workspace));
	json_object_object_add(o, "restart", json_object_new_string(restart_names[c->restart]));
	json_object_object_add(o, "restart_max", json_object_new_int(c->restart_max));
	json_object_object_add(o, "created", json_object_new_int64(c->created));
	s = sfc_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static void dup_str(char **dst, json_object *o, const char *k)
{
	const char *v = sfc_json_str(o, k);
	*dst = v ? sfc_xstrdup(v) : NULL;
}

static int parse_config(const char *text, struct sfc_cconfig *c, struct sfc_error *e)
{
	json_object *o = json_tokener_parse(text), *v;
	const char *s;

	memset(c, 0, sizeof(*c));
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return sfc_err(e, 0, "config.json is not valid JSON");
	}
	dup_str(&c->name, o, "name");
	dup_str(&c->id, o, "id");
	dup_str(&c->image, o, "image");
	dup_str(&c->image_id, o, "image_id");
	dup_str(&c->rootfs, o, "rootfs");
	dup_str(&c->envname, o, "env_profile");
	dup_str(&c->workdir, o, "workdir");
	dup_str(&c->user, o, "user");
	dup_str(&c->cwd, o, "cwd");
	c->host = sfc_json_bool(o, "host");
	sfc_json_to_strv(json_object_object_get(o, "layers"), &c->layers);
	sfc_json_to_strv(json_object_object_get(o, "command"), &c->argv);
	if (json_object_object_get_ex(o, "entrypoint", &v)) {
		c->has_entrypoint = true;
		sfc_json_to_strv(v, &c->entrypoint);
	}
	sfc_json_to_strv(json_object_object_get(o, "env"), &c->env);
	sfc_json_to_strv(json_object_object_get(o, "volumes"), &c->volumes);
	sfc_json_to_strv(json_object_object_get(o, "tmpfs"), &c->tmpfs);
	sfc_json_to_strv(json_object_object_get(o, "publish"), &c->publish);
	sfc_json_to_strv(json_object_object_get(o, "flags"), &c->flags);
	if ((s = sfc_json_str(o, "network")))
		sfc_cnet_parse(s, &c->network);
	c->network_set = sfc_json_bool(o, "network_set");
	c->read_only = sfc_json_bool(o, "read_only");
	c->rm = sfc_json_bool(o, "rm");
	c->detach = sfc_json_bool(o, "detach");
	c->tty = sfc_json_bool(o, "tty");
	c->no_workspace = sfc_json_bool(o, "no_workspace");
	if ((s = sfc_json_str(o, "restart")))
		for (size_t i = 0; i < SFC_ARRAY_SIZE(restart_names); i++)
			if (!strcmp(s, restart_names[i]))
				c->restart = i;
	c->restart_max = (int)sfc_json_int(o, "restart_max", 0);
	c->created = sfc_json_int(o, "created", 0);
	json_object_put(o);
	for (size_t i = 0; i < c->layers.n; i++)
		if (strlen(c->layers.v[i]) != 64 || strspn(c->layers.v[i], "0123456789abcdef") != 64)
			return sfc_err(e, 0, "config.json: bad layer name");
	if (!c->name || !sfc_container_name_valid(c->name))
		return sfc_err(e, 0, "config.json: bad container name");
	return 0;
}

static json_object *state_obj(const struct sfc_cstate_rec *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(sfc_cstate_name(s->state)));
	json_object_object_add(o, "monitor_pid", json_object_new_int(s->monitor_pid));
	json_object_object_add(o, "monitor_start", json_object_new_int64((int64_t)s->monitor_start));
	json_object_object_add(o, "init_pid", json_object_new_int(s->init_pid));
	json_object_object_add(o, "init_start", json_object_new_int64((int64_t)s->init_start));
	json_object_object_add(o, "started", json_object_new_int64(s->started));
	json_object_object_add(o, "finished", json_object_new_int64(s->finished));
	json_object_object_add(o, "exit_code", json_object_new_int(s->exit_code));
	json_object_object_add(o, "restarts", json_object_new_int(s->restarts));
	json_object_object_add(o, "stop_requested", json_object_new_boolean(s->stop_requested));
	sfc_json_add_str(o, "error", s->error);
	return o;
}

static int parse_state(const char *text, struct sfc_cstate_rec *s)
{
	json_object *o = json_tokener_parse(text);
	const char *v;

	memset(s, 0, sizeof(*s));
	s->exit_code = -1;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EINVAL;
	}
	if ((v = sfc_json_str(o, "state")))
		for (int i = 0; i <= SFC_C_FAILED; i++)
			if (!strcmp(v, sfc_cstate_name(i)))
				s->state = i;
	s->monitor_pid = (pid_t)sfc_json_int(o, "monitor_pid", 0);
	s->monitor_start = (uint64_t)sfc_json_int(o, "monitor_start", 0);
	s->init_pid = (pid_t)sfc_json_int(o, "init_pid", 0);
	s->init_start = (uint64_t)sfc_json_int(o, "init_start", 0);
	s->started = sfc_json_int(o, "started", 0);
	s->finished = sfc_json_int(o, "finished", 0);
	s->exit_code = (int)sfc_json_int(o, "exit_code", -1);
	s->restarts = (int)sfc_json_int(o, "restarts", 0);
	s->stop_requested = sfc_json_bool(o, "stop_requested");
	if ((v = sfc_json_str(o, "error")))
		s->error = sfc_xstrdup(v);
	json_object_put(o);
	return 0;
}

int sfc_container_save_state(struct sfc_container *c, struct sfc_error *e)
{
	json_object *o;

	if (!c->dir)
		return 0; /* a foreground --rm run: nothing on disk */
	o = state_obj(&c->state);
	int r = sfc_store_write_atomic(c->dir, "state.json", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE),
				       e);
	json_object_put(o);
	return r;
}

static void set_error(struct sfc_container *c, const char *msg)
{
	free(c->state.error);
	c->state.error = msg ? sfc_xstrdup(msg) : NULL;
}

/* A container recorded as running whose supervisor is gone (killed,
 * crashed, the machine rebooted) did not exit cleanly: say so. */
static bool reconcile(struct sfc_cstate_rec *s)
{
	if ((s->state == SFC_C_RUNNING || s->state == SFC_C_PAUSED) &&
	    !sfc_pid_alive(s->monitor_pid, s->monitor_start)) {
		s->state = SFC_C_FAILED;
		s->finished = time(NULL);
		free(s->error);
		s->error = sfc_xstrdup("its supervisor went away while it ran (killed, crashed, or the machine restarted)");
		s->monitor_pid = s->init_pid = 0;
		return true;
	}
	return false;
}

int sfc_container_refresh(struct sfc_container *c, struct sfc_error *e)
{
	_cleanup_free_ char *p = sfc_xasprintf("%s/state.json", c->dir);
	_cleanup_free_ char *text = sfc_store_read_file(p, 1 << 20, e);

	free(c->state.error);
	memset(&c->state, 0, sizeof(c->state));
	c->state.exit_code = -1;
	if (!text)
		return -EIO;
	parse_state(text, &c->state);
	if (reconcile(&c->state))
		return sfc_container_save_state(c, e);
	return 0;
}

int sfc_container_open(struct sfc_store *st, const char *name, struct sfc_container *c, struct sfc_error *e)
{
	_cleanup_free_ char *p = NULL, *text = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	c->st = st;
	if (!sfc_container_name_valid(name))
		return sfc_err(e, ENOENT, "no such container: %s", name);
	c->dir = sfc_xasprintf("%s/%s", st->containers, name);
	if (access(c->dir, F_OK) < 0) {
		free(c->dir);
		c->dir = sfc_xasprintf("%s/%s", st->rundir, name);
	}
	p = sfc_xasprintf("%s/config.json", c->dir);
	if (!(text = sfc_store_read_file(p, 1 << 20, e)))
		return e->err == ENOENT ? sfc_err(e, ENOENT, "no such container: %s", name) : -EIO;
	if ((r = parse_config(text, &c->cfg, e)) < 0)
		return r;
	return sfc_container_refresh(c, e);
}

int sfc_container_load_info(const struct sfc_store *st, const char *name, struct sfc_container_info *ci,
			    struct sfc_error *e)
{
	struct sfc_container c;
	int r = sfc_container_open((struct sfc_store *)st, name, &c, e);

	memset(ci, 0, sizeof(*ci));
	if (r < 0) {
		sfc_container_close(&c);
		return r;
	}
	ci->name = sfc_xstrdup(c.cfg.name);
	ci->id = sfc_xstrdup(c.cfg.id ? c.cfg.id : c.cfg.name);
	ci->image = sfc_xstrdup(c.cfg.image ? c.cfg.image : "host");
	ci->image_id = c.cfg.image_id ? sfc_xstrdup(c.cfg.image_id) : NULL;
	{
		size_t len = 1;
		for (size_t i = 0; i < c.cfg.argv.n; i++)
			len += strlen(c.cfg.argv.v[i]) + 1;
		ci->command = sfc_xcalloc(1, len);
		for (size_t i = 0; i < c.cfg.argv.n; i++) {
			if (i)
				strcat(ci->command, " ");
			strcat(ci->command, c.cfg.argv.v[i]);
		}
	}
	ci->state = c.state.state;
	ci->exit_code = c.state.exit_code;
	ci->monitor_pid = c.state.monitor_pid;
	ci->monitor_start = c.state.monitor_start;
	ci->init_pid = c.state.init_pid;
	ci->created = c.cfg.created;
	ci->started = c.state.started;
	ci->finished = c.state.finished;
	ci->restarts = c.state.restarts;
	ci->error = c.state.error ? sfc_xstrdup(c.state.error) : NULL;
	sfc_strv_copy(&ci->layers, &c.cfg.layers);
	sfc_container_close(&c);
	return 0;
}

char *sfc_container_json(struct sfc_container *c)
{
	_cleanup_free_ char *cfg = config_json(&c->cfg);
	json_object *o = json_tokener_parse(cfg);
	char *s;

	json_object_object_add(o, "state", state_obj(&c->state));
	json_object_object_add(o, "runtime", json_object_new_string("sefaca"));
	json_object_object_add(o, "dir", json_object_new_string(c->dir));
	s = sfc_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* ------------------------------------------------------------- create */

/* N hex digits; false if the kernel gave no randomness (then they come
 * from the clock and the pid, and may repeat). */
static bool random_hex(char *out, size_t n)
{
	static const char x[] = "0123456789abcdef";
	unsigned char b[32];
	bool strong = getrandom(b, sizeof(b), 0) == (ssize_t)sizeof(b);

	if (!strong) {
		uint64_t t = sfc_now_ms() ^ ((uint64_t)getpid() << 32);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)i;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = x[(b[i / 2] >> ((i & 1) * 4)) & 15];
	out[n] = 0;
	return strong;
}

static void import_progress(void *data, const char *msg)
{
	struct sfc_container *c = data;
	if (!c->quiet)
		fprintf(stderr, "%s\n", msg);
}

int sfc_container_create(struct sfc_store *st, struct sfc_cconfig *cfg, struct sfc_container *c,
			 const struct sfc_strv *unused, struct sfc_error *e)
{
	struct sfc_imgref ir;
	char hex[65];
	bool named = true, strong;
	int r;

	bool q = c->quiet;

	memset(c, 0, sizeof(*c));
	c->quiet = q;
	c->st = st;
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	cfg = &c->cfg;
	strong = random_hex(hex, 64);
	cfg->id = sfc_xstrdup(hex);
	if (!cfg->name) {
		cfg->name = sfc_xasprintf("c-%.10s", hex);
		named = !strong;
	}
	if (!sfc_container_name_valid(cfg->name))
		return sfc_err(e, 0, "bad container name '%s' (letters, digits, '_', '.', '-'; at most 64)", cfg->name);
	if (!cfg->image)
		cfg->image = sfc_xstrdup("host");
	cfg->created = time(NULL);

	if (!strcmp(cfg->image, "scratch") || !strcmp(cfg->image, "(build)")) {
		/* the layers are given (sefaca-container build); scratch: none */
		memset(&ir, 0, sizeof(ir));
		ir.kind = SFC_REF_NAME;
	} else if ((r = sfc_imgref_parse(cfg->image, &ir, e)) < 0) {
		return r;
	}
	if (ir.kind == SFC_REF_NAME && !ir.path) {
		/* layers as given */
	} else if (ir.kind == SFC_REF_HOST) {
		cfg->host = true;
	} else if (ir.kind == SFC_REF_DIR) {
		char real[PATH_MAX];
		struct stat sb;
		if (!realpath(ir.path, real) || stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			r = sfc_err(e, errno ? errno : ENOTDIR, "image root %s", ir.path);
			sfc_imgref_free(&ir);
			return r;
		}
		cfg->rootfs = sfc_xstrdup(real);
	} else {
		struct sfc_image img;
		struct sfc_import_opts io = { .progress = import_progress, .data = c };
		if ((r = sfc_image_get(st, cfg->image, &io, &img, e)) < 0) {
			sfc_imgref_free(&ir);
			return r;
		}
		cfg->image_id = sfc_xstrdup(img.id);
		sfc_strv_copy(&cfg->layers, &img.layers);
		/* kept for the run (prepare): no second load and parse */
		c->image = sfc_xmalloc(sizeof(*c->image));
		*c->image = img;
	}
	sfc_imgref_free(&ir);

	/* A --rm container is runtime state only: a detached one lives in the
	 * run directory ($XDG_RUNTIME_DIR/sefaca), a foreground one nowhere
	 * (the registry lists it while it runs); its writable layer is in memory. */
	if (cfg->rm && !cfg->detach) {
		pid_t sp, ip;
		_cleanup_free_ char *a = sfc_xasprintf("%s/%s", st->containers, cfg->name);
		_cleanup_free_ char *b = sfc_xasprintf("%s/%s", st->rundir, cfg->name);
		/* a name of ours is 40 random bits: only a given one can be taken */
		if (named && (access(a, F_OK) == 0 || access(b, F_OK) == 0 ||
			      sfc_container_find_ephemeral(cfg->name, &sp, &ip, e) > 0))
			return sfc_err(e, EEXIST, "a container named %s exists (remove it, or choose another --name)",
				       cfg->name);
		c->state.state = SFC_C_CREATED;
		c->state.exit_code = -1;
		return 0;
	}
	c->dir = sfc_xasprintf("%s/%s", cfg->rm ? st->rundir : st->containers, cfg->name);
	{
		_cleanup_free_ char *other = sfc_xasprintf("%s/%s", cfg->rm ? st->containers : st->rundir, cfg->name);
		struct stat sb;
		if (lstat(other, &sb) == 0)
			return sfc_err(e, EEXIST, "a container named %s exists (remove it, or choose another --name)",
				       cfg->name);
	}
	/* the directory is the name's lock: one container per name */
	if (mkdir(c->dir, 0700) < 0)
		return errno == EEXIST ? sfc_err(e, EEXIST, "a container named %s exists (remove it, or choose "
							    "another --name)", cfg->name)
				       : sfc_err(e, errno, "create %s", c->dir);
	if (!cfg->host && !cfg->read_only && !cfg->rm) {
		_cleanup_free_ char *u = sfc_xasprintf("%s/upper", c->dir), *w = sfc_xasprintf("%s/work", c->dir);
		if (mkdir(u, 0755) < 0 || mkdir(w, 0700) < 0) {
			r = sfc_err(e, errno, "create %s", u);
			goto fail;
		}
	}
	{
		_cleanup_free_ char *j = config_json(cfg);
		if ((r = sfc_store_write_atomic(c->dir, "config.json", j, e)) < 0)
			goto fail;
	}
	c->state.state = SFC_C_CREATED;
	c->state.exit_code = -1;
	/* a foreground --rm run writes its state once it runs */
	if ((!cfg->rm || cfg->detach) && (r = sfc_container_save_state(c, e)) < 0)
		goto fail;
	return 0;
fail:
	sfc_rm_rf(c->dir);
	return r;
}

int sfc_container_remove(const struct sfc_store *st, const char *name, bool force, struct sfc_error *e)
{
	struct sfc_container c;
	int r = sfc_container_open((struct sfc_store *)st, name, &c, e);

	if (r < 0) {
		sfc_container_close(&c);
		if (c.dir == NULL && r == -ENOENT)
			return r;
		return r;
	}
	if (c.state.state == SFC_C_RUNNING || c.state.state == SFC_C_PAUSED) {
		if (!force) {
			r = sfc_err(e, EBUSY, "container %s is running (stop it first, or force)", name);
			sfc_container_close(&c);
			return r;
		}
		sfc_container_kill(&c, SIGKILL, e);
		for (int i = 0; i < 200 && sfc_pid_alive(c.state.monitor_pid, c.state.monitor_start); i++)
			usleep(10000);
	}
	r = sfc_rm_rf(c.dir);
	if (r < 0)
		r = sfc_err(e, -r, "remove %s", c.dir);
	sfc_container_close(&c);
	return r;
}

/* ---------------------------------------------------------- the spec */

/* The run's spec: built-in level < config [default] < policy < the
 * --env=NAME profile < SEFACA_* < flags, as for sefaca-run; then what a
 * container decides itself (its view, environment, hostname, user). */
/* A policy's allowed_images (seed 002): the image, as it was named, must
 * match one of them (a glob; a name without a tag matches every tag of
 * it, "docker://" aside).  Nothing runs otherwise. */
static int check_allowed_image(const struct sfc_container *c, const struct sfc_spec *spec, struct sfc_error *e)
{
	const struct sfc_strv *allow = &spec->allowed_images.items;
	const char *ref = c->cfg.image ? c->cfg.image : "host";
	_cleanup_free_ char *list = NULL;
	size_t len = 0;

	if (!allow->n)
		return 0;
	if (!strncmp(ref, "docker://", 9))
		ref += 9;
	for (size_t i = 0; i < allow->n; i++) {
		const char *p = allow->v[i];
		_cleanup_free_ char *any_tag = NULL;
		if (!strncmp(p, "docker://", 9))
			p += 9;
		if (fnmatch(p, ref, 0) == 0)
			return 0;
		if (!strpbrk(p, ":@")) {
			any_tag = sfc_xasprintf("%s:*", p);
			if (fnmatch(any_tag, ref, 0) == 0)
				return 0;
		}
	}
	for (size_t i = 0; i < allow->n; i++) {
		list = sfc_xrealloc(list, len + strlen(allow->v[i]) + 3);
		len += sprintf(list + len, "%s%s", i ? ", " : "", allow->v[i]);
	}
	return sfc_err(e, EPERM, "image %s is not allowed here (allowed_images: %s%s%s)", ref, list,
		       spec->policy ? ", policy " : "", spec->policy ? spec->policy : "");
}

static int build_spec(struct sfc_container *c, struct sfc_spec *spec, struct sfc_error *e)
{
	struct sfc_sources src = { 0 };
	struct sfc_settings flags = { 0 };
	int r;

	if (c->src)
		src = *c->src;
	src.flags = (struct sfc_settings){ 0 };
	if (c->cfg.envname) {
		struct sfc_settings b = { 0 };
		struct sfc_profile *p = c->src ? sfc_sources_find(c->src, "env", c->cfg.envname) : NULL;
		bool have = sfc_builtin_profile("env", c->cfg.envname, &b);
		if (!have && !p) {
			sfc_settings_clear(&b);
			return sfc_err(e, 0, "unknown environment '%s' (no [env.%s] section and no built-in one)",
				       c->cfg.envname, c->cfg.envname);
		}
		for (size_t i = 0; i < b.n; i++)
			sfc_settings_add(&flags, b.v[i].key, b.v[i].value, &b.v[i].origin);
		for (size_t i = 0; p && i < p->settings.n; i++)
			sfc_settings_add(&flags, p->settings.v[i].key, p->settings.v[i].value, &p->settings.v[i].origin);
		sfc_settings_clear(&b);
	}
	for (size_t i = 0; i < c->cfg.flags.n; i++) {
		const char *f = c->cfg.flags.v[i], *eq = strchr(f, '=');
		char name[64];
		struct sfc_origin o = { SFC_ORIGIN_FLAG, f, 0 };
		int k;
		if (strncmp(f, "--", 2) || !eq || (size_t)(eq - f - 2) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - f - 2), f + 2);
		if ((k = sfc_key_lookup(name)) >= 0)
			sfc_settings_add(&flags, k, eq + 1, &o);
	}
	src.flags = flags;
	r = sfc_spec_resolve(spec, &src, e);
	sfc_settings_clear(&flags);
	if (r == 0)
		r = check_allowed_image(c, spec, e);
	return r;
}

/* The network a container gets: a flag wins; else what the policy, the
 * env profile or the config asked for; else none (issue: default none). */
static enum sfc_cnet effective_net(const struct sfc_container *c, const struct sfc_spec *spec)
{
	if (c->cfg.network_set)
		return c->cfg.network;
	if (spec->origin[SFC_K_NETWORK].kind != SFC_ORIGIN_BUILTIN && spec->origin[SFC_K_NETWORK].kind != SFC_ORIGIN_UNSET)
		return spec->network == SFC_NET_ALLOW ? SFC_CNET_HOST : SFC_CNET_NONE;
	return SFC_CNET_NONE;
}

/* ---------------------------------------------------------- the user */

/* Look NAME up in etc/passwd (or etc/group) of the image's layers, top
 * layer first; a layer that whites the file out ends the search. */
static int lookup_db(const struct sfc_container *c, const char *db, const char *name, unsigned *id, unsigned *gid)
{
	for (size_t i = c->cfg.layers.n + (c->cfg.rootfs ? 1 : 0); i-- > 0;) {
		_cleanup_free_ char *dir = c->cfg.rootfs && i == c->cfg.layers.n
						   ? sfc_xstrdup(c->cfg.rootfs)
						   : sfc_store_layer_path(c->st, c->cfg.layers.v[i]);
		_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int fd = -1;
		char buf[65536], *line, *save = NULL;
		struct stat sb;
		ssize_t n;
		if (dfd < 0)
			continue;
		fd = sfc_openat2(dfd, db, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_SYMLINKS);
		if (fd < 0) {
			if (fstatat(dfd, db, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(sb.st_mode))
				return -ENOENT; /* whited out */
			continue;
		}
		if ((n = sfc_read_full(fd, buf, sizeof(buf) - 1)) < 0)
			return (int)n;
		buf[n] = 0;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f[4] = { 0 };
			char *p = line;
			for (int k = 0; k < 4 && p; k++) {
				f[k] = p;
				p = strchr(p, ':');
				if (p)
					*p++ = 0;
			}
			if (f[0] && f[2] && !strcmp(f[0], name)) {
				*id = (unsigned)strtoul(f[2], NULL, 10);
				if (gid && f[3])
					*gid = (unsigned)strtoul(f[3], NULL, 10);
				return 0;
			}
		}
		return -ENOENT;
	}
	return -ENOENT;
}

/* USER: uid, uid:gid, name, name:group (image-spec config.md "User"). */
static int resolve_user(const struct sfc_container *c, const char *user, int64_t *uid, int64_t *gid,
			struct sfc_error *e)
{
	_cleanup_free_ char *u = sfc_xstrdup(user);
	char *g = strchr(u, ':');
	unsigned id = 0, pg = 0;
	bool have_pg = false;

	if (g)
		*g++ = 0;
	if (*u && strspn(u, "0123456789") == strlen(u)) {
		*uid = strtoll(u, NULL, 10);
	} else if (*u) {
		if (c->cfg.host || lookup_db(c, "etc/passwd", u, &id, &pg) < 0)
			return sfc_err(e, 0, "user '%s' is not in the image's /etc/passwd", u);
		*uid = id;
		have_pg = true;
	}
	if (g && *g && strspn(g, "0123456789") == strlen(g)) {
		*gid = strtoll(g, NULL, 10);
	} else if (g && *g) {
		if (c->cfg.host || lookup_db(c, "etc/group", g, &id, NULL) < 0)
			return sfc_err(e, 0, "group '%s' is not in the image's /etc/group", g);
		*gid = id;
	} else if (have_pg) {
		*gid = pg;
	} else {
		*gid = *uid;
	}
	if (*uid > 0xfffffffeLL || *gid > 0xfffffffeLL)
		return sfc_err(e, 0, "bad user '%s'", user);
	return 0;
}

/* ----------------------------------------------------------- the view */

static char *expand_home(const char *p)
{
	const char *h = getenv("HOME");
	if (p[0] == '~' && (p[1] == '/' || !p[1]) && h)
		return sfc_xasprintf("%s%s", h, p + 1);
	if (!strncmp(p, "$HOME", 5) && (p[5] == '/' || !p[5]) && h)
		return sfc_xasprintf("%s%s", h, p + 5);
	return sfc_xstrdup(p);
}

/* A volume's host side: absolute paths as the user's shell would find
 * them; relative ones beneath the current directory, never through '..'
 * or a symlink out of it (as sefaca-run's grants). */
static int resolve_src(const char *cwd, const char *src, char **out, struct sfc_error *e)
{
	_cleanup_free_ char *x = expand_home(src);
	char buf[PATH_MAX];

	if (x[0] == '/') {
		if (!realpath(x, buf))
			return sfc_err(e, errno, "volume source %s", src);
	} else {
		_cleanup_close_ int d = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int fd = -1;
		char proc[64];
		ssize_t n;
		if (d < 0)
			return sfc_err(e, errno, "%s", cwd);
		fd = sfc_openat2(d, x, O_PATH | O_CLOEXEC, SFC_RESOLVE_BENEATH | SFC_RESOLVE_NO_MAGICLINKS);
		if (fd < 0)
			return errno == EXDEV || errno == ELOOP
				       ? sfc_err(e, 0, "volume source %s leaves the current directory; give an absolute "
						       "path if you mean it", src)
				       : sfc_err(e, errno, "volume source %s", src);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if ((n = readlink(proc, buf, sizeof(buf) - 1)) < 0)
			return sfc_err(e, errno, "volume source %s", src);
		buf[n] = 0;
	}
	*out = sfc_xstrdup(buf);
	return 0;
}

static int check_dst(const char *dst, const char *what, struct sfc_error *e)
{
	if (dst[0] != '/')
		return sfc_err(e, 0, "%s target %s is not an absolute path", what, dst);
	if (!strcmp(dst, "/") || sfc_path_within(dst, "/proc") || sfc_path_within(dst, "/sys") ||
	    (sfc_path_within(dst, "/dev") && !sfc_path_within(dst, "/dev/shm")))
		return sfc_err(e, 0, "%s target %s is not allowed (/, /proc, /sys and /dev belong to the container)",
			       what, dst);
	return 0;
}

static int build_plan(struct sfc_container *c, const struct sfc_spec *spec, enum sfc_cnet net, const char *workdir,
		      bool ro, struct sfc_mount_plan *p, struct sfc_error *e)
{
	const struct sfc_cconfig *cf = &c->cfg;
	bool netns = net != SFC_CNET_HOST;
	int r;

	memset(p, 0, sizeof(*p));
	if (cf->host) {
		/* sefaca-run's system view (system directories read-only on an
		 * empty root), without the caller's home or directory */
		struct sfc_spec t = *spec;
		t.filesystem = SFC_FS_MINIMAL;
		t.home_mode = SFC_DIR_NONE;
		t.cwd_mode = SFC_DIR_NONE;
		t.hide_secrets = false;
		t.workdir = NULL;
		t.readonly = t.readwrite = t.hide = t.tmpfs = (struct sfc_list){ { 0 }, 0 };
		t.network = netns ? SFC_NET_DENY : SFC_NET_ALLOW;
		if ((r = sfc_mount_plan_for_run(&t, netns, p, e)) < 0)
			return r;
		sfc_strv_clear(&p->notes);
		free(p->workdir);
		p->workdir = NULL;
	} else {
		char real[PATH_MAX];
		p->root = SFC_ROOT_OVERLAY;
		p->root_ro = ro;
		p->sys_fresh = netns;
		/* overlay lowerdirs: top first; real paths, no symlink in them */
		if (cf->rootfs)
			sfc_strv_push(&p->lowerdirs, cf->rootfs);
		for (size_t i = cf->layers.n; i-- > 0;) {
			_cleanup_free_ char *l = sfc_store_layer_path(c->st, cf->layers.v[i]);
			if (!realpath(l, real))
				return sfc_err(e, errno, "image layer %s (removed from the store? re-import the image)",
					       cf->layers.v[i]);
			sfc_strv_push(&p->lowerdirs, real);
		}
		if (!p->lowerdirs.n) {
			/* an image of no layers: an empty root */
			_cleanup_free_ char *empty = sfc_xasprintf("%s/empty", c->dir ? c->dir : c->st->rundir);
			mkdir(empty, 0755);
			if (!realpath(empty, real))
				return sfc_err(e, errno, "%s", empty);
			sfc_strv_push(&p->lowerdirs, real);
		}
		if (!ro && cf->rm) {
			p->upper_tmpfs = true;
		} else if (!ro) {
			_cleanup_free_ char *u = sfc_xasprintf("%s/upper", c->dir), *w = sfc_xasprintf("%s/work", c->dir);
			if (!realpath(u, real))
				return sfc_err(e, errno, "%s", u);
			p->upperdir = sfc_xstrdup(real);
			if (!realpath(w, real))
				return sfc_err(e, errno, "%s", w);
			p->ovl_workdir = sfc_xstrdup(real);
		}
		sfc_mount_plan_add(p, SFC_MOP_PROC, 0, NULL, "/proc", "procfs");
		sfc_mount_plan_add(p, SFC_MOP_DEV, 0, NULL, "/dev", "devices");
		sfc_mount_plan_add(p, SFC_MOP_SYS, SFC_MOP_RO, NULL, "/sys", "sysfs");
		sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, "/tmp", "private tmp");
		p->ops[p->n - 1].mode = 01777;
		p->ops[p->n - 1].size = spec->tmp_size;
	}
	if (net != SFC_CNET_NONE) {
		/* the host's resolver configuration, as other runtimes do */
		char real[PATH_MAX];
		if (realpath("/etc/resolv.conf", real))
			sfc_mount_plan_add(p, SFC_MOP_BIND, SFC_MOP_RO | SFC_MOP_OPTIONAL, real, "/etc/resolv.conf",
					   "resolver");
	}
	/* seed 000: the current directory is the container's /workspace */
	if (!cf->no_workspace && cf->cwd && strcmp(cf->cwd, "/"))
		sfc_mount_plan_add(p, SFC_MOP_BIND, 0, cf->cwd, "/workspace", "workspace");
	for (size_t i = 0; i < cf->volumes.n; i++) {
		_cleanup_free_ char *v = sfc_xstrdup(cf->volumes.v[i]), *src = NULL, *dst = NULL;
		char *c1 = strchr(v, ':'), *c2;
		bool vro = false;
		if (!c1)
			return sfc_err(e, 0, "bad volume '%s' (expected SRC:DST[:ro])", cf->volumes.v[i]);
		*c1++ = 0;
		if ((c2 = strchr(c1, ':'))) {
			*c2++ = 0;
			if (!strcmp(c2, "ro"))
				vro = true;
			else if (strcmp(c2, "rw"))
				return sfc_err(e, 0, "bad volume '%s' (the mode is ro or rw)", cf->volumes.v[i]);
		}
		dst = sfc_path_normalize(c1);
		if ((r = check_dst(c1, "volume", e)) < 0 || (r = resolve_src(cf->cwd, v, &src, e)) < 0)
			return r;
		sfc_mount_plan_add(p, SFC_MOP_BIND, vro ? SFC_MOP_RO : 0, src, dst, "volume");
	}
	for (size_t i = 0; i < cf->tmpfs.n; i++) {
		_cleanup_free_ char *v = sfc_xstrdup(cf->tmpfs.v[i]), *dst = NULL;
		char *col = strchr(v, ':');
		uint64_t size = 0;
		if (col) {
			*col++ = 0;
			if ((r = sfc_parse_size(col, &size, e)) < 0)
				return r;
		}
		if ((r = check_dst(v, "tmpfs", e)) < 0)
			return r;
		dst = sfc_path_normalize(v);
		sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, dst, "tmpfs");
		p->ops[p->n - 1].size = size;
		p->ops[p->n - 1].mode = 01777;
	}
	/* the working directory must exist in the root */
	if (strcmp(workdir, "/") && strcmp(workdir, "/workspace")) {
		bool covered = false;
		for (size_t i = 0; i < p->n; i++)
			if (sfc_path_within(workdir, p->ops[i].dst) && p->ops[i].kind != SFC_MOP_DIR &&
			    p->ops[i].kind != SFC_MOP_SYMLINK)
				covered = true;
		if (!covered || cf->host)
			sfc_mount_plan_add(p, SFC_MOP_DIR, 0, NULL, workdir, "working directory");
	}
	sfc_mount_plan_sort(p);
	p->workdir = sfc_xstrdup(workdir);
	return 0;
}

/* ---------------------------------------------------- the environment */

static void build_env(const struct sfc_container *c, const struct sfc_image_config *ic, const struct sfc_spec *spec,
		      int64_t uid, struct sfc_strv *env)
{
	const char *term = sfc_env_get(c->caller_env, "TERM");

	if (ic)
		for (size_t i = 0; i < ic->env.n; i++) {
			char *eq = strchr(ic->env.v[i], '=');
			if (eq && eq != ic->env.v[i]) {
				_cleanup_free_ char *k = sfc_xstrndup(ic->env.v[i], eq - ic->env.v[i]);
				sfc_env_set(env, k, eq + 1);
			}
		}
	if (!sfc_env_get(env->v, "PATH"))
		sfc_env_set(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	sfc_env_set(env, "HOSTNAME", c->cfg.name);
	if (!sfc_env_get(env->v, "HOME"))
		sfc_env_set(env, "HOME", uid == 0 ? "/root" : "/");
	if (term && !sfc_env_get(env->v, "TERM"))
		sfc_env_set(env, "TERM", term);
	sfc_env_set(env, "container", "sefaca");
	for (size_t i = 0; i < spec->setenv.items.n; i++) {
		char *eq = strchr(spec->setenv.items.v[i], '=');
		_cleanup_free_ char *k = sfc_xstrndup(spec->setenv.items.v[i], eq - spec->setenv.items.v[i]);
		sfc_env_set(env, k, eq + 1);
	}
	for (size_t i = 0; i < c->cfg.env.n; i++) {
		char *eq = strchr(c->cfg.env.v[i], '=');
		if (eq) {
			_cleanup_free_ char *k = sfc_xstrndup(c->cfg.env.v[i], eq - c->cfg.env.v[i]);
			sfc_env_set(env, k, eq + 1);
		}
	}
}

/* ------------------------------------------------ user-mode networking */

struct netctx {
	struct sfc_container *c;
	struct sfc_reg reg;   /* listed by sefaca-stats --live while it runs */
	enum sfc_cnet net;
	pid_t helper;         /* pasta's daemon or slirp4netns */
	int exit_fd;          /* slirp4netns quits when this closes */
	char *pidfile;
};

/* --publish=[IP:]HOSTPORT:CTRPORT[/tcp|/udp] */
struct pub {
	char ip[64];
	unsigned host, ctr;
	bool udp;
};

static int parse_publish(const char *s, struct pub *p, struct sfc_error *e)
{
	_cleanup_free_ char *v = sfc_xstrdup(s);
	char *proto = strchr(v, '/'), *a, *b;
	unsigned long h, c;

	memset(p, 0, sizeof(*p));
	if (proto) {
		*proto++ = 0;
		if (!strcmp(proto, "udp"))
			p->udp = true;
		else if (strcmp(proto, "tcp"))
			return sfc_err(e, 0, "bad --publish '%s' (protocol tcp or udp)", s);
	}
	b = strrchr(v, ':');
	if (!b)
		return sfc_err(e, 0, "bad --publish '%s' (expected [IP:]HOSTPORT:CONTAINERPORT)", s);
	*b++ = 0;
	a = strrchr(v, ':');
	if (a) {
		*a++ = 0;
		if (strlen(v) >= sizeof(p->ip) || !*v)
			return sfc_err(e, 0, "bad --publish '%s'", s);
		snprintf(p->ip, sizeof(p->ip), "%s", v);
	} else {
		a = v;
	}
	h = strtoul(a, &a, 10);
	c = strtoul(b, &b, 10);
	if (*a || *b || !h || !c || h > 65535 || c > 65535)
		return sfc_err(e, 0, "bad --publish '%s' (ports are 1 to 65535)", s);
	p->host = h;
	p->ctr = c;
	return 0;
}

static int spawn_wait(char **argv, bool quiet_out, int keep_fd, struct sfc_error *e)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return sfc_err(e, errno, "fork");
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 0);
			if (quiet_out)
				dup2(devnull, 1);
		}
		if (keep_fd >= 0)
			fcntl(keep_fd, F_SETFD, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return sfc_err(e, errno, "wait for %s", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return sfc_err(e, 0, "%s failed (%s %d)", argv[0], WIFEXITED(st) ? "exit" : "signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

static int pasta_up(struct netctx *n, pid_t pid, struct sfc_error *e)
{
	_cleanup_free_ char *pasta = sfc_which("pasta"), *target = sfc_xasprintf("%d", (int)pid);
	char *argv[32];
	char tcp[1024] = "", udp[1024] = "";
	int a = 0, r;

	if (!pasta)
		return sfc_err(e, ENOENT, "--network=pasta needs pasta (Debian package passt), which is not installed");
	for (size_t i = 0; i < n->c->cfg.publish.n; i++) {
		struct pub p;
		char item[128];
		char *buf;
		if ((r = parse_publish(n->c->cfg.publish.v[i], &p, e)) < 0)
			return r;
		buf = p.udp ? udp : tcp;
		snprintf(item, sizeof(item), "%s%s%s%u:%u", *buf ? "," : "", p.ip, p.ip[0] ? "/" : "", p.host, p.ctr);
		if (strlen(buf) + strlen(item) + 1 > sizeof(tcp))
			return sfc_err(e, 0, "too many --publish");
		strcat(buf, item);
	}
	n->pidfile = n->c->dir ? sfc_xasprintf("%s/pasta.pid", n->c->dir)
			       : sfc_xasprintf("%s/pasta-%d.pid", n->c->st->rundir, (int)getpid());
	unlink(n->pidfile);
	argv[a++] = pasta;
	argv[a++] = "--config-net";
	argv[a++] = "--quiet";
	/* Only what was published goes in, nothing from the namespace goes to
	 * the host's own ports, and the gateway address is not the host's
	 * loopback: pasta's defaults ("auto") would forward the host's
	 * listening ports into the container. */
	argv[a++] = "-t";
	argv[a++] = *tcp ? tcp : "none";
	argv[a++] = "-u";
	argv[a++] = *udp ? udp : "none";
	argv[a++] = "-T";
	argv[a++] = "none";
	argv[a++] = "-U";
	argv[a++] = "none";
	argv[a++] = "--no-map-gw";
	argv[a++] = "--pid";
	argv[a++] = n->pidfile;
	argv[a++] = target;
	argv[a] = NULL;
	/* pasta forks into the background once the namespace is configured */
	if ((r = spawn_wait(argv, true, -1, e)) < 0) {
		sfc_err_prefix(e, "set up the container's network");
		return r;
	}
	{
		char buf[32];
		if (sfc_read_file_at(AT_FDCWD, n->pidfile, buf, sizeof(buf)) > 0)
			n->helper = atoi(buf);
	}
	return 0;
}

static int slirp_api(const char *sock, const char *req, struct sfc_error *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[1024];
	ssize_t n;

	if (fd < 0 || strlen(sock) >= sizeof(sa.sun_path))
		return sfc_err(e, errno ? errno : ENAMETOOLONG, "slirp4netns API socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return sfc_err(e, errno, "connect to slirp4netns");
	if (sfc_write_full(fd, req, strlen(req)) < 0)
		return sfc_err(e, errno, "talk to slirp4netns");
	shutdown(fd, SHUT_WR);
	n = sfc_read_full(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (n <= 0 || strstr(buf, "\"error\""))
		return sfc_err(e, 0, "slirp4netns refused the port forward: %s", buf);
	return 0;
}

static int slirp_up(struct netctx *n, pid_t pid, struct sfc_error *e)
{
	_cleanup_free_ char *slirp = sfc_which("slirp4netns"), *target = sfc_xasprintf("%d", (int)pid);
	_cleanup_free_ char *userns = sfc_xasprintf("--userns-path=/proc/%d/ns/user", (int)pid);
	_cleanup_free_ char *sock = sfc_xasprintf("%s/slirp.sock", n->c->st->rundir);
	_cleanup_free_ char *sockarg = NULL, *readyarg = NULL, *exitarg = NULL;
	int ready[2], ex[2];
	char b;
	pid_t h;

	if (!slirp)
		return sfc_err(e, ENOENT, "--network=slirp4netns needs slirp4netns, which is not installed");
	free(sock);
	sock = sfc_xasprintf("%s/slirp-%d.sock", n->c->st->rundir, (int)getpid());
	unlink(sock);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0)
		return sfc_err(e, errno, "pipe");
	sockarg = sfc_xasprintf("--api-socket=%s", sock);
	readyarg = sfc_xasprintf("--ready-fd=%d", ready[1]);
	exitarg = sfc_xasprintf("--exit-fd=%d", ex[0]);
	h = fork();
	if (h < 0)
		return sfc_err(e, errno, "fork");
	if (h == 0) {
		char *argv[] = { slirp, "--configure", "--mtu=65520", "--disable-host-loopback", userns, sockarg,
				 readyarg, exitarg, target, "tap0", NULL };
		int devnull = open("/dev/null", O_RDWR);
		fcntl(ready[1], F_SETFD, 0);
		fcntl(ex[0], F_SETFD, 0);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		setsid();
		execv(slirp, argv);
		_exit(127);
	}
	close(ready[1]);
	close(ex[0]);
	n->helper = h;
	n->exit_fd = ex[1];
	if (read(ready[0], &b, 1) != 1) {
		close(ready[0]);
		unlink(sock);
		return sfc_err(e, 0, "slirp4netns did not come up");
	}
	close(ready[0]);
	for (size_t i = 0; i < n->c->cfg.publish.n; i++) {
		struct pub p;
		char req[256];
		int r;
		if ((r = parse_publish(n->c->cfg.publish.v[i], &p, e)) < 0)
			goto fail;
		snprintf(req, sizeof(req),
			 "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"%s\",\"host_addr\":\"%s\","
			 "\"host_port\":%u,\"guest_port\":%u}}",
			 p.udp ? "udp" : "tcp", p.ip[0] ? p.ip : "0.0.0.0", p.host, p.ctr);
		if ((r = slirp_api(sock, req, e)) < 0)
			goto fail;
		continue;
	fail:
		unlink(sock);
		return r;
	}
	n->pidfile = sock; /* removed at the end */
	sock = NULL;
	return 0;
}

static int net_hook(struct sfc_sandbox *sb, pid_t pid, void *data, struct sfc_error *e)
{
	struct netctx *n = data;
	return n->net == SFC_CNET_PASTA ? pasta_up(n, pid, e) : slirp_up(n, pid, e);
}

static void net_down(struct netctx *n)
{
	if (n->exit_fd > 0)
		close(n->exit_fd);
	if (n->helper > 0) {
		/* pasta blocks SIGTERM (and outlived every container): it holds
		 * no state worth a clean exit */
		kill(n->helper, n->net == SFC_CNET_PASTA ? SIGKILL : SIGTERM);
		if (n->net == SFC_CNET_SLIRP)
			waitpid(n->helper, NULL, 0);
	}
	if (n->pidfile)
		unlink(n->pidfile);
	free(n->pidfile);
	n->pidfile = NULL;
	n->helper = 0;
	n->exit_fd = 0;
}

/* ------------------------------------------------------------ running */

static void on_start(struct sfc_sandbox *sb, void *data)
{
	struct netctx *n = data;
	struct sfc_container *c = n->c;
	struct sfc_error e;

	c->state.init_pid = sb->result.pid;
	c->state.init_start = sfc_pid_starttime(sb->result.pid);
	sfc_container_save_state(c, &e);
	if (ENABLE_FEATURE_REGISTRY) {
		n->reg.applet = "container";
		n->reg.name = c->cfg.name;
		sfc_registry_on_start(sb, &n->reg);
	}
}

struct prepared {
	struct sfc_spec spec;
	struct sfc_image img;
	bool have_img;
	const struct sfc_image_config *ic; /* the image's config, or the build's, or NULL */
	enum sfc_cnet net;
	char **argv;
	struct sfc_strv argvs;
};

static void prepared_free(struct prepared *pp)
{
	sfc_spec_free(&pp->spec);
	if (pp->have_img)
		sfc_image_free(&pp->img);
	sfc_strv_clear(&pp->argvs);
	free(pp->spec.cwd);
	free(pp->spec.home);
}

/* Everything of a run that does not need the sandbox: spec, command,
 * identity, network. */
static int prepare(struct sfc_container *c, struct prepared *pp, struct sfc_error *e)
{
	struct sfc_cconfig *cf = &c->cfg;
	const struct sfc_image_config *ic = NULL;
	int r;

	memset(pp, 0, sizeof(*pp));
	sfc_spec_init(&pp->spec);
	if (c->config_override) {
		ic = c->config_override;
	} else if (cf->image_id && c->image && c->image->id && !strcmp(c->image->id, cf->image_id)) {
		pp->img = *c->image;
		free(c->image);
		c->image = NULL;
		pp->have_img = true;
		ic = &pp->img.config;
	} else if (cf->image_id) {
		if ((r = sfc_store_load_image(c->st, cf->image_id, &pp->img, e)) < 0) {
			sfc_err_prefix(e, "image of container %s", cf->name);
			return r;
		}
		pp->have_img = true;
		ic = &pp->img.config;
	}
	SFC_TRACE_POINT("c: image loaded");
	pp->ic = ic;
	if ((r = build_spec(c, &pp->spec, e)) < 0)
		return r;
	SFC_TRACE_POINT("c: spec");
	pp->net = effective_net(c, &pp->spec);
	if (cf->publish.n && pp->net != SFC_CNET_PASTA && pp->net != SFC_CNET_SLIRP)
		return sfc_err(e, 0, "--publish needs --network=pasta or --network=slirp4netns");
	/* the command: Entrypoint + (the given command, else Cmd) */
	{
		const struct sfc_strv *ep = cf->has_entrypoint ? &cf->entrypoint : ic ? &ic->entrypoint : NULL;
		const struct sfc_strv *cmd = cf->argv.n ? &cf->argv : ic ? &ic->cmd : NULL;
		for (size_t i = 0; ep && i < ep->n; i++)
			sfc_strv_push(&pp->argvs, ep->v[i]);
		for (size_t i = 0; cmd && i < cmd->n; i++)
			sfc_strv_push(&pp->argvs, cmd->v[i]);
		if (!pp->argvs.n) {
			if (cf->host || cf->tty)
				sfc_strv_push(&pp->argvs, "/bin/sh");
			else
				return sfc_err(e, 0, "no command given and the image has no Entrypoint or Cmd");
		}
		pp->argv = pp->argvs.v;
	}
	return 0;
}

static int run_once(struct sfc_container *c, struct sfc_result *out, struct sfc_error *e)
{
	struct prepared pp;
	struct sfc_sandbox sb;
	struct netctx n = { .c = c };
	const char *workdir;
	int64_t uid = 0, gid = 0;
	bool ro;
	int r;

	if ((r = prepare(c, &pp, e)) < 0) {
		prepared_free(&pp);
		return r;
	}
	pp.spec.argv = pp.argv;
	pp.spec.caller_env = c->caller_env;
	pp.spec.cwd = sfc_xstrdup(c->cfg.cwd ? c->cfg.cwd : "/");
	pp.spec.caller_uid = geteuid();
	pp.spec.caller_gid = getegid();
	/* identity: --user > the image's User > the policy's uid > root */
	{
		const char *user = c->cfg.user ? c->cfg.user : pp.ic ? pp.ic->user : NULL;
		if (user) {
			if ((r = resolve_user(c, user, &uid, &gid, e)) < 0)
				goto out;
		} else if (pp.spec.uid >= 0) {
			uid = pp.spec.uid;
			gid = pp.spec.gid >= 0 ? pp.spec.gid : uid;
		}
		pp.spec.uid = uid;
		pp.spec.gid = gid;
	}
	SFC_TRACE_POINT("c: user");
	free(pp.spec.hostname);
	pp.spec.hostname = sfc_xstrdup(c->cfg.name);
	pp.spec.network = pp.net == SFC_CNET_HOST ? SFC_NET_ALLOW : SFC_NET_LOCALHOST;
	/* a policy's read_only_root makes the root read-only (the upper dir,
	 * if the container has one, is left out of the overlay) */
	ro = c->cfg.read_only || (pp.spec.read_only_root && pp.spec.origin[SFC_K_READ_ONLY_ROOT].kind != SFC_ORIGIN_BUILTIN &&
				  pp.spec.origin[SFC_K_READ_ONLY_ROOT].kind != SFC_ORIGIN_UNSET);
	workdir = c->cfg.workdir                                      ? c->cfg.workdir
		  : pp.ic && pp.ic->workdir                              ? pp.ic->workdir
		  : !c->cfg.no_workspace && c->cfg.cwd && strcmp(c->cfg.cwd, "/") ? "/workspace"
									     : "/";
	if (workdir[0] != '/') {
		r = sfc_err(e, 0, "working directory %s is not absolute", workdir);
		goto out;
	}

	sfc_sandbox_init(&sb, &pp.spec);
	if ((r = build_plan(c, &pp.spec, pp.net, workdir, ro, &sb.plan, e)) < 0)
		goto out_sb;
	SFC_TRACE_POINT("c: plan");
	build_env(c, pp.ic, &pp.spec, uid, &sb.env);
	{
		_cleanup_free_ char *pwd = sfc_path_normalize(workdir);
		sfc_env_set(&sb.env, "PWD", pwd);
	}
	sb.plan_ready = sb.env_ready = true;
	n.net = pp.net;
	sb.hook_data = &n;
	sb.on_start = on_start;
	if (pp.net == SFC_CNET_PASTA || pp.net == SFC_CNET_SLIRP)
		sb.on_netns = net_hook;
	if ((r = sfc_sandbox_prepare(&sb, e)) < 0)
		goto out_sb;
	for (size_t i = 0; c->on_note && i < sb.plan.notes.n; i++)
		c->on_note(sb.plan.notes.v[i], c->note_data);
	r = sfc_sandbox_run(&sb, e);
	sfc_registry_remove(&n.reg);
	net_down(&n);
	*out = sb.result;
	/* the violations belong to the copy now */
	sb.result.violations = NULL;
	sb.result.nviolations = 0;
	c->record = (struct sfc_container_record){
		.container_id = c->cfg.id,
		.name = c->cfg.name,
		.runtime = "sefaca",
		.image = c->cfg.image,
		.image_id = c->cfg.image_id,
		.volumes = &c->cfg.volumes,
		.network = sfc_cnet_name(pp.net),
		.memory_limit = pp.spec.memory,
		.pids_limit = pp.spec.pids,
		.cpu_limit_milli = pp.spec.cpu_milli,
		.result = &c->last,
	};
out_sb:
	sfc_sandbox_free(&sb);
	pp.spec.argv = NULL;
out:
	prepared_free(&pp);
	return r;
}

static void free_result(struct sfc_result *r)
{
	for (size_t i = 0; i < r->nviolations; i++) {
		free(r->violations[i].kind);
		free(r->violations[i].detail);
		free(r->violations[i].action);
		free(r->violations[i].suggestion);
	}
	free(r->violations);
	r->violations = NULL;
	r->nviolations = 0;
}

static void record_exit(struct sfc_container *c, int status, const char *err)
{
	struct sfc_error e;
	c->state.finished = time(NULL);
	c->state.exit_code = status;
	c->state.init_pid = 0;
	c->state.init_start = 0;
	c->state.state = err ? SFC_C_FAILED : SFC_C_EXITED;
	set_error(c, err);
	sfc_container_save_state(c, &e);
}

int sfc_container_run(struct sfc_container *c, struct sfc_error *e)
{
	struct sfc_result res = { 0 };
	int r;

	SFC_TRACE_POINT("c: run");
	c->state.state = SFC_C_RUNNING;
	c->state.monitor_pid = getpid();
	c->state.monitor_start = sfc_pid_starttime(getpid());
	c->state.started = time(NULL);
	c->state.exit_code = -1;
	c->state.stop_requested = false;
	set_error(c, NULL);
	/* --rm: the state is written once the payload runs (on_start) and
	 * never after (the directory goes) */
	if (!c->cfg.rm && (r = sfc_container_save_state(c, e)) < 0)
		return r;
	r = run_once(c, &res, e);
	if (r < 0) {
		if (!c->cfg.rm)
			record_exit(c, e->status ? e->status : 125, e->msg);
	} else {
		if (!c->cfg.rm)
			record_exit(c, res.status, NULL);
		r = res.status;
	}
	/* kept for the audit record (c->record.result) until the container is closed */
	free_result(&c->last);
	c->last = res;
	SFC_TRACE_POINT("c: run once returned");
	if (c->cfg.rm && c->dir)
		sfc_rm_rf(c->dir);
	SFC_TRACE_POINT("c: removed");
	return r;
}

/* The monitor of a detached container: its own session, logs for output,
 * the restart policy, the exit recorded. */
static void monitor(struct sfc_container *c, int readyw)
{
	_cleanup_free_ char *out = sfc_xasprintf("%s/stdout.log", c->dir), *err = sfc_xasprintf("%s/stderr.log", c->dir);
	int fo = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int fe = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct sfc_error e = { 0 };
	bool told = false;

	if (fo < 0 || fe < 0 || fi < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) {
		char m = 'x';
		(void)!write(readyw, &m, 1);
		_exit(125);
	}
	close(fo);
	close(fe);
	close(fi);
	c->quiet = true;
	c->state.restarts = 0;
	for (;;) {
		struct sfc_result res = { 0 };
		int r, status;

		c->state.state = SFC_C_RUNNING;
		c->state.monitor_pid = getpid();
		c->state.monitor_start = sfc_pid_starttime(getpid());
		c->state.started = time(NULL);
		c->state.exit_code = -1;
		set_error(c, NULL);
		sfc_container_save_state(c, &e);
		if (!told) {
			/* the parent returns once the first run is under way */
			char m = 'r';
			(void)!write(readyw, &m, 1);
			close(readyw);
			told = true;
		}
		r = run_once(c, &res, &e);
		status = r < 0 ? (e.status ? e.status : 125) : res.status;
		/* kept for the record (c->record.result) */
		free_result(&c->last);
		c->last = res;
		if (c->on_run_end)
			c->on_run_end(c, status, r < 0 ? e.msg : NULL);
		{
			/* a stop or kill asked for in the meantime wins over the policy */
			struct sfc_container now = { .dir = c->dir };
			_cleanup_free_ char *p = sfc_xasprintf("%s/state.json", c->dir);
			_cleanup_free_ char *text = sfc_store_read_file(p, 1 << 20, &e);
			if (text && parse_state(text, &now.state) == 0)
				c->state.stop_requested = now.state.stop_requested;
			free(now.state.error);
		}
		if (r < 0) {
			fprintf(stderr, "sefaca-container: %s\n", e.msg);
			record_exit(c, status, e.msg);
			break;
		}
		record_exit(c, status, NULL);
		if (c->state.stop_requested || c->cfg.restart == SFC_RESTART_NO)
			break;
		if (c->cfg.restart == SFC_RESTART_ON_FAILURE &&
		    (status == 0 || (c->cfg.restart_max && c->state.restarts >= c->cfg.restart_max)))
			break;
		c->state.restarts++;
		usleep(100000 * (c->state.restarts < 50 ? c->state.restarts : 50)); /* back off */
	}
	if (c->cfg.rm)
		sfc_rm_rf(c->dir);
	_exit(0);
}

int sfc_container_start_detached(struct sfc_container *c, struct sfc_error *e)
{
	int p[2];
	pid_t pid;
	char m = 0;
	ssize_t n;

	if (c->state.state == SFC_C_RUNNING)
		return sfc_err(e, EBUSY, "container %s is already running", c->cfg.name);
	if (pipe2(p, O_CLOEXEC) < 0)
		return sfc_err(e, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return sfc_err(e, errno, "fork");
	if (pid == 0) {
		close(p[0]);
		/* a session of its own: the caller's terminal and its signals are
		 * not the container's; the intermediate child exits so the
		 * monitor is nobody's child but init's */
		setsid();
		if (fork() != 0)
			_exit(0);
		monitor(c, p[1]);
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	n = read(p[0], &m, 1);
	close(p[0]);
	if (n != 1 || m != 'r')
		return sfc_err(e, 0, "the container's monitor did not start");
	/* give a failing setup the chance to show: wait until it is running or over */
	for (int i = 0; i < 500; i++) {
		struct sfc_error e2;
		if (sfc_container_refresh(c, &e2) < 0)
			break;
		if (c->state.state != SFC_C_RUNNING || c->state.init_pid)
			break;
		usleep(2000);
	}
	if (c->state.state == SFC_C_FAILED)
		return sfc_err(e, 0, "%s", c->state.error ? c->state.error : "the container failed to start");
	return 0;
}

/* ------------------------------------------- foreground --rm containers */

struct eph_find {
	const char *name;
	pid_t sp, ip;
	void (*fn)(const char *name, const char *command, double started, void *data);
	void *data;
};

static int eph_one(const struct sfc_reg_entry *en, bool live, void *data)
{
	struct eph_find *f = data;
	if (!live || strcmp(en->applet, "container") || !en->name[0])
		return 0;
	if (f->fn) {
		f->fn(en->name, en->command, en->started, f->data);
		return 0;
	}
	if (!strcmp(en->name, f->name)) {
		f->sp = en->pid;
		f->ip = en->init_pid;
		return 1;
	}
	return 0;
}

int sfc_container_find_ephemeral(const char *name, pid_t *supervisor, pid_t *init, struct sfc_error *e)
{
	struct eph_find f = { .name = name };
	_cleanup_free_ char *dir = ENABLE_FEATURE_REGISTRY ? sfc_registry_dir(e) : NULL;

	if (!dir)
		return 0;
	sfc_registry_scan(dir, eph_one, &f, e);
	if (!f.sp)
		return 0;
	*supervisor = f.sp;
	*init = f.ip;
	return 1;
}

int sfc_container_list_ephemeral(void (*fn)(const char *name, const char *command, double started, void *data),
				 void *data, struct sfc_error *e)
{
	struct eph_find f = { .fn = fn, .data = data };
	_cleanup_free_ char *dir = ENABLE_FEATURE_REGISTRY ? sfc_registry_dir(e) : NULL;

	if (!dir)
		return 0;
	return sfc_registry_scan(dir, eph_one, &f, e);
}

/* ---------------------------------------------------- stop, kill, exec */

static bool init_alive(const struct sfc_container *c)
{
	return c->state.init_pid > 0 && sfc_pid_alive(c->state.init_pid, c->state.init_start);
}

/* A process of the container whose namespaces we may open: the sandbox's
 * init is not dumpable (and its memory belongs to our user namespace), so
 * /proc/INIT/ns/ is closed to us; its children exec'd inside the
 * container's user namespace, whose owner we are. */
static pid_t member(const struct sfc_container *c)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	char want[32];

	if (!d)
		return 0;
	snprintf(want, sizeof(want), "PPid:\t%d\n", (int)c->state.init_pid);
	while ((de = readdir(d)) && !found) {
		char p[64], buf[4096];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/status", de->d_name);
		if (sfc_read_file_at(AT_FDCWD, p, buf, sizeof(buf)) <= 0 || !strstr(buf, want))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/user", de->d_name);
		if (access(p, F_OK) == 0) {
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				close(fd);
				found = atoi(de->d_name);
			}
		}
	}
	closedir(d);
	return found;
}

int sfc_container_kill(struct sfc_container *c, int sig, struct sfc_error *e)
{
	if (c->state.state != SFC_C_RUNNING && c->state.state != SFC_C_PAUSED)
		return sfc_err(e, 0, "container %s is not running", c->cfg.name);
	if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
		c->state.stop_requested = true;
		sfc_container_save_state(c, e);
	}
	/* SIGKILL to the sandbox's init takes the whole pid namespace with it;
	 * other signals go to the supervisor, which passes them to the payload */
	if (sig == SIGKILL && init_alive(c)) {
		if (kill(c->state.init_pid, SIGKILL) < 0)
			return sfc_err(e, errno, "kill %s", c->cfg.name);
		return 0;
	}
	if (!sfc_pid_alive(c->state.monitor_pid, c->state.monitor_start))
		return sfc_err(e, ESRCH, "container %s: its supervisor is gone", c->cfg.name);
	if (kill(c->state.monitor_pid, sig) < 0)
		return sfc_err(e, errno, "signal %s", c->cfg.name);
	return 0;
}

int sfc_container_stop(struct sfc_container *c, uint64_t timeout_ms, struct sfc_error *e)
{
	uint64_t deadline = sfc_now_ms() + timeout_ms;
	int r;

	if (c->state.state != SFC_C_RUNNING && c->state.state != SFC_C_PAUSED)
		return 0;
	if ((r = sfc_container_kill(c, SIGTERM, e)) < 0)
		return r;
	while (sfc_pid_alive(c->state.monitor_pid, c->state.monitor_start) && init_alive(c) &&
	       sfc_now_ms() < deadline)
		usleep(10000);
	if (init_alive(c))
		kill(c->state.init_pid, SIGKILL);
	for (int i = 0; i < 500 && sfc_pid_alive(c->state.monitor_pid, c->state.monitor_start); i++) {
		struct sfc_error e2;
		sfc_container_refresh(c, &e2);
		if (c->state.state != SFC_C_RUNNING)
			break;
		usleep(10000);
	}
	return sfc_container_refresh(c, e);
}

int sfc_container_exec(struct sfc_container *c, char **argv, bool tty, struct sfc_error *e)
{
	static const struct {
		const char *name;
		int type;
	} nss[] = { { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },	 { "pid", CLONE_NEWPID }, { "ipc", CLONE_NEWIPC },
		    { "uts", CLONE_NEWUTS },   { "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP } };
	int fds[SFC_ARRAY_SIZE(nss)];
	struct prepared pp;
	struct sfc_strv env = { 0 };
	int64_t uid = 0, gid = 0;
	const char *workdir;
	pid_t pid, mpid;
	struct sfc_mount_plan plan = { 0 };
	struct sfc_landlock ll = { 0 };
	int r, st;

	if (c->state.state != SFC_C_RUNNING || !init_alive(c))
		return sfc_err(e, 0, "container %s is not running", c->cfg.name);
	if ((r = prepare(c, &pp, e)) < 0) {
		prepared_free(&pp);
		return r;
	}
	{
		const char *user = c->cfg.user ? c->cfg.user : pp.ic ? pp.ic->user : NULL;
		if (user && (r = resolve_user(c, user, &uid, &gid, e)) < 0)
			goto out;
	}
	workdir = c->cfg.workdir                                  ? c->cfg.workdir
		  : pp.ic && pp.ic->workdir                          ? pp.ic->workdir
		  : !c->cfg.no_workspace && c->cfg.cwd && strcmp(c->cfg.cwd, "/") ? "/workspace"
									     : "/";
	build_env(c, pp.ic, &pp.spec, uid, &env);
	/* the same Landlock rules as the container's payload, on its paths */
	{
		const char *why;
		int abi = sfc_landlock_abi(&why);
		if (abi > 0) {
			bool ro = c->cfg.read_only || (pp.spec.read_only_root &&
						       pp.spec.origin[SFC_K_READ_ONLY_ROOT].kind != SFC_ORIGIN_BUILTIN &&
						       pp.spec.origin[SFC_K_READ_ONLY_ROOT].kind != SFC_ORIGIN_UNSET);
			struct sfc_strv notes = { 0 };
			if ((r = build_plan(c, &pp.spec, pp.net, workdir, ro, &plan, e)) < 0 ||
			    (r = sfc_landlock_plan(&ll, abi, &pp.spec, &plan, true, &notes, e)) < 0) {
				sfc_strv_clear(&notes);
				goto out;
			}
			sfc_strv_clear(&notes);
		}
	}
	if (!(mpid = member(c))) {
		r = sfc_err(e, 0, "container %s has no process to join (its command has ended)", c->cfg.name);
		goto out;
	}
	for (size_t i = 0; i < SFC_ARRAY_SIZE(nss); i++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)mpid, nss[i].name);
		fds[i] = open(p, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 && nss[i].type != CLONE_NEWCGROUP) {
			r = sfc_err(e, errno, "open %s", p);
			for (size_t k = 0; k < i; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			goto out;
		}
	}
	/* the start time again: the pid must still be that container's init */
	if (!init_alive(c)) {
		r = sfc_err(e, 0, "container %s stopped", c->cfg.name);
		goto closefds;
	}
	pid = fork();
	if (pid < 0) {
		r = sfc_err(e, errno, "fork");
		goto closefds;
	}
	if (pid == 0) {
		struct sfc_error ce = { 0 };
		pid_t child;
		/* join: the user namespace first (it gives the rights for the rest) */
		for (size_t i = 0; i < SFC_ARRAY_SIZE(nss); i++) {
			if (fds[i] < 0)
				continue;
			if (setns(fds[i], nss[i].type) < 0) {
				fprintf(stderr, "sefaca-container: exec: join the %s namespace: %s\n", nss[i].name,
					strerror(errno));
				_exit(125);
			}
		}
		/* the pid namespace applies to children: the command is one */
		child = fork();
		if (child < 0)
			_exit(125);
		if (child > 0) {
			int cst;
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			while (waitpid(child, &cst, 0) < 0 && errno == EINTR)
				;
			_exit(WIFEXITED(cst) ? WEXITSTATUS(cst) : 128 + WTERMSIG(cst));
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
			/* only the mapped id exists in there */
			fprintf(stderr, "sefaca-container: exec: become %lld:%lld: %s\n", (long long)uid, (long long)gid,
				strerror(errno));
			_exit(125);
		}
		if (chdir(workdir) < 0)
			(void)!chdir("/");
		if (sfc_caps_drop_all(&ce) < 0 || sfc_limits_apply_rlimits(&pp.spec, &ce) < 0 ||
		    (sfc_close_range(3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */), prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0 ||
		    (ll.abi && sfc_landlock_apply(&ll, &ce) < 0) ||
		    (sfc_seccomp_compiled() &&
		     sfc_seccomp_install(pp.spec.seccomp, pp.spec.allow_nested, SFC_SECCOMP_ERRNO, &ce) < 0)) {
			fprintf(stderr, "sefaca-container: exec: %s\n", ce.msg);
			_exit(125);
		}
		{
			const char *path = sfc_env_get(env.v, "PATH");
			if (!strchr(argv[0], '/') && path) {
				while (*path) {
					size_t n = strcspn(path, ":");
					char buf[PATH_MAX];
					snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, argv[0]);
					execve(buf, argv, env.v);
					path += n;
					if (*path)
						path++;
				}
			} else {
				execve(argv[0], argv, env.v);
			}
		}
		fprintf(stderr, "sefaca-container: exec: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
closefds:
	for (size_t i = 0; i < SFC_ARRAY_SIZE(nss); i++)
		if (fds[i] >= 0)
			close(fds[i]);
out:
	(void)tty;
	sfc_landlock_free(&ll);
	sfc_mount_plan_free(&plan);
	sfc_strv_clear(&env);
	prepared_free(&pp);
	return r;
}

/* ------------------------------------------------------------- export */

struct tarw {
	struct archive *a;
	struct { dev_t dev; ino_t ino; char *path; } *links;
	size_t nlinks;
	int err;
	char msg[256];
};

static void tar_walk(struct tarw *t, int dirfd, const char *name, const char *rel)
{
	struct stat st;
	struct archive_entry *en;
	int fd = -1;

	if (t->err || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	en = archive_entry_new();
	archive_entry_set_pathname(en, rel);
	archive_entry_set_mode(en, st.st_mode);
	archive_entry_set_uid(en, st.st_uid);
	archive_entry_set_gid(en, st.st_gid);
	archive_entry_set_mtime(en, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < t->nlinks; i++)
			if (t->links[i].dev == st.st_dev && t->links[i].ino == st.st_ino) {
				archive_entry_set_hardlink(en, t->links[i].path);
				archive_entry_set_size(en, 0);
				if (archive_write_header(t->a, en) != ARCHIVE_OK)
					t->err = EIO;
				archive_entry_free(en);
				return;
			}
		t->links = sfc_xrealloc(t->links, (t->nlinks + 1) * sizeof(*t->links));
		t->links[t->nlinks].dev = st.st_dev;
		t->links[t->nlinks].ino = st.st_ino;
		t->links[t->nlinks++].path = sfc_xstrdup(rel);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		archive_entry_set_symlink(en, target);
	} else if (S_ISREG(st.st_mode)) {
		archive_entry_set_size(en, st.st_size);
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		archive_entry_set_rdev(en, st.st_rdev);
	}
	if (archive_write_header(t->a, en) != ARCHIVE_OK) {
		t->err = EIO;
		snprintf(t->msg, sizeof(t->msg), "%s: %s", rel, archive_error_string(t->a));
	}
	if (fd >= 0) {
		char buf[65536];
		ssize_t n;
		while (!t->err && (n = read(fd, buf, sizeof(buf))) > 0)
			if (archive_write_data(t->a, buf, n) < 0) {
				t->err = EIO;
				snprintf(t->msg, sizeof(t->msg), "%s: %s", rel, archive_error_string(t->a));
			}
		close(fd);
	}
	archive_entry_free(en);
	if (S_ISDIR(st.st_mode) && !t->err) {
		int d = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct dirent **ents = NULL;
		int n;
		if (d < 0)
			return;
		{
			char proc[64];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d);
			n = scandir(proc, &ents, NULL, alphasort);
		}
		for (int i = 0; i < n; i++) {
			if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
				_cleanup_free_ char *sub = sfc_xasprintf("%s%s%s", rel, strcmp(rel, "./") ? "/" : "",
									 ents[i]->d_name);
				tar_walk(t, d, ents[i]->d_name, sub);
			}
			free(ents[i]);
		}
		free(ents);
		close(d);
	}
}

int sfc_container_export(struct sfc_container *c, const char *output, struct sfc_error *e)
{
	struct sfc_strv lowers = { 0 };
	_cleanup_free_ char *mnt = NULL, *upper = NULL;
	char real[PATH_MAX];
	int out = -1, r = 0, st;
	pid_t pid;

	if (c->cfg.host)
		return sfc_err(e, 0, "container %s runs on the host's directories: it has no root filesystem of its own",
			       c->cfg.name);
	/* its changes on top, then the image, top layer first */
	if (c->dir && !c->cfg.read_only && !c->cfg.rm) {
		upper = sfc_xasprintf("%s/upper", c->dir);
		if (realpath(upper, real))
			sfc_strv_push(&lowers, real);
	}
	for (size_t i = c->cfg.layers.n; i-- > 0;) {
		_cleanup_free_ char *l = sfc_store_layer_path(c->st, c->cfg.layers.v[i]);
		if (!realpath(l, real)) {
			r = sfc_err(e, errno, "image layer %s", c->cfg.layers.v[i]);
			goto out;
		}
		sfc_strv_push(&lowers, real);
	}
	if (c->cfg.rootfs)
		sfc_strv_push(&lowers, c->cfg.rootfs);
	if (!lowers.n) {
		r = sfc_err(e, 0, "container %s has an empty root filesystem", c->cfg.name);
		goto out;
	}
	out = !strcmp(output, "-") ? dup(1) : open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (out < 0) {
		r = sfc_err(e, errno, "%s", output);
		goto out;
	}
	mnt = sfc_xasprintf("%s/.export-%d", c->st->rundir, (int)getpid());
	if (mkdir(mnt, 0700) < 0) {
		r = sfc_err(e, errno, "%s", mnt);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = sfc_err(e, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		/* a user and mount namespace of our own: the merged view, read-only,
		 * files owned by root as inside the container */
		struct sfc_error ce = { 0 };
		struct tarw t = { 0 };
		uid_t u = geteuid();
		gid_t g = getegid();
		int rc = 0;
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || sfc_userns_map_self(0, u, 0, g, &ce) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			fprintf(stderr, "sefaca-container: export: namespaces: %s %s\n", strerror(errno), ce.msg);
			_exit(125);
		}
		if (lowers.n == 1) {
			rc = mount(lowers.v[0], mnt, NULL, MS_BIND | MS_REC, NULL);
		} else {
			size_t len = 32;
			char *opts;
			for (size_t i = 0; i < lowers.n; i++)
				len += strlen(lowers.v[i]) + 1;
			opts = sfc_xmalloc(len);
			strcpy(opts, "userxattr,lowerdir=");
			for (size_t i = 0; i < lowers.n; i++) {
				if (i)
					strcat(opts, ":");
				strcat(opts, lowers.v[i]);
			}
			rc = mount("overlay", mnt, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts);
			free(opts);
		}
		if (rc < 0) {
			fprintf(stderr, "sefaca-container: export: mount the root filesystem: %s\n", strerror(errno));
			_exit(125);
		}
		t.a = archive_write_new();
		archive_write_set_format_pax_restricted(t.a);
		archive_write_add_filter_none(t.a);
		if (archive_write_open_fd(t.a, out) != ARCHIVE_OK) {
			fprintf(stderr, "sefaca-container: export: %s\n", archive_error_string(t.a));
			_exit(125);
		}
		tar_walk(&t, AT_FDCWD, mnt, "./");
		if (archive_write_close(t.a) != ARCHIVE_OK && !t.err) {
			t.err = EIO;
			snprintf(t.msg, sizeof(t.msg), "%s", archive_error_string(t.a));
		}
		if (t.err) {
			fprintf(stderr, "sefaca-container: export: %s\n", t.msg);
			_exit(125);
		}
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		r = sfc_err_status(e, 125, 0, "export of %s failed", c->cfg.name);
out:
	if (mnt)
		rmdir(mnt);
	if (out >= 0)
		close(out);
	sfc_strv_clear(&lowers);
	return r;
}

int sfc_container_usage(struct sfc_container *c, uint64_t *rss, double *cpu, unsigned *nproc, struct sfc_error *e)
{
	char p[64], want[64], got[64];
	ssize_t n;
	DIR *d;
	struct dirent *de;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

	*rss = 0;
	*cpu = 0;
	*nproc = 0;
	if (c->state.state != SFC_C_RUNNING || !init_alive(c))
		return sfc_err(e, 0, "container %s is not running", c->cfg.name);
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)member(c));
	if ((n = readlink(p, want, sizeof(want) - 1)) < 0)
		return sfc_err(e, errno, "%s", p);
	want[n] = 0;
	if (!(d = opendir("/proc")))
		return sfc_err(e, errno, "/proc");
	/* every process whose pid namespace is the container's (init's own is
	 * the container's) */
	while ((de = readdir(d))) {
		char buf[1024], *q;
		unsigned long long ut = 0, stt = 0, rs = 0;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/pid", de->d_name);
		if ((n = readlink(p, got, sizeof(got) - 1)) < 0)
			continue;
		got[n] = 0;
		if (strcmp(got, want))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/stat", de->d_name);
		if (sfc_read_file_at(AT_FDCWD, p, buf, sizeof(buf)) <= 0 || !(q = strrchr(buf, ')')))
			continue;
		/* fields 14 utime, 15 stime, 24 rss (pages) */
		q += 2;
		for (int f = 3; f < 14 && q; f++)
			q = strchr(q, ' ') ? strchr(q, ' ') + 1 : NULL;
		if (!q || sscanf(q, "%llu %llu", &ut, &stt) != 2)
			continue;
		for (int f = 14; f < 24 && q; f++)
			q = strchr(q, ' ') ? strchr(q, ' ') + 1 : NULL;
		if (q)
			sscanf(q, "%llu", &rs);
		*cpu += (double)(ut + stt) / (tck > 0 ? tck : 100);
		*rss += rs * (uint64_t)page;
		(*nproc)++;
	}
	closedir(d);
	return 0;
}

#else
typedef int sfc_container_unused; /* FEATURE_IMAGES off: sefaca-container is not built */
#endif

#include "core/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/config.h"
#include "core/json.h"
#include "core/parse.h"
#include "core/util.h"

#define ARG_MAX_BYTES 4096      /* one argument in the record */
#define COMMAND_MAX_BYTES 65536 /* all of them */

void sfc_audit_target_init(struct sfc_audit_target *t, const char *setting, bool required, char **env,
			   const char *cwd)
{
	memset(t, 0, sizeof(*t));
	t->required = required;
	t->home = sfc_config_home(env, cwd);
	if (!ENABLE_FEATURE_AUDIT || (setting && !strcmp(setting, "none"))) {
		t->kind = SFC_AUDIT_NONE;
	} else if (setting && !strcmp(setting, "syslog")) {
		t->kind = SFC_AUDIT_SYSLOG;
	} else if (setting) {
		t->kind = SFC_AUDIT_FILE;
		t->path = sfc_xstrdup(setting);
	} else if (t->home) {
		t->kind = SFC_AUDIT_FILE;
		t->path = sfc_xasprintf("%s/logs/audit.jsonl", t->home);
		t->is_default = true;
	} else {
		t->kind = SFC_AUDIT_NONE; /* no $SEFACA_HOME, no $HOME: nowhere to log by default */
	}
}

void sfc_audit_target_free(struct sfc_audit_target *t)
{
	free(t->path);
	free(t->home);
	memset(t, 0, sizeof(*t));
}

static int open_log(const char *path, struct stat *st)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !(S_ISREG(st->st_mode) || S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode))) {
		int err = errno ? errno : EINVAL;
		close(fd);
		return -(S_ISDIR(st->st_mode) ? EISDIR : err);
	}
	return fd;
}

static int syslog_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int sfc_audit_prepare(const struct sfc_audit_target *t, struct sfc_error *e)
{
	struct stat st;
	int fd;

	/* sefaca's home exists before any sandbox runs, so that no sandbox
	 * can create it (and plant a config file in it) where $HOME is
	 * writable; it is hidden from every sandbox (sfc_audit_protect). */
	if (t->home && mkdir(t->home, 0700) < 0 && errno != EEXIST && t->is_default && t->required)
		return sfc_err(e, errno, "audit log: create %s", t->home);
	if (t->kind == SFC_AUDIT_FILE && t->is_default) {
		_cleanup_free_ char *dir = sfc_xasprintf("%s/logs", t->home);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST && t->required)
			return sfc_err(e, errno, "audit log: create %s", dir);
	}
	/* A log kept elsewhere is created now, so the sandbox cannot make it
	 * (a symlink, or a file with forged lines) before the first record. */
	if (t->kind == SFC_AUDIT_FILE && (t->required || !t->is_default)) {
		struct statvfs sv;
		if ((fd = open_log(t->path, &st)) < 0) {
			if (t->required)
				return sfc_err(e, -fd, "audit log %s (--audit-required)", t->path);
			return 0;
		}
		/* A full file system would lose the record after the run: with
		 * --audit-required, refuse to start instead. */
		if (t->required && S_ISREG(st.st_mode) && fstatvfs(fd, &sv) == 0 &&
		    (uint64_t)sv.f_bavail * sv.f_frsize < 65536) {
			close(fd);
			return sfc_err(e, ENOSPC, "audit log %s (--audit-required)", t->path);
		}
		close(fd);
	}
	if (t->kind == SFC_AUDIT_SYSLOG && t->required) {
		if ((fd = syslog_connect()) < 0)
			return sfc_err(e, -fd, "audit log: syslog (/dev/log) (--audit-required)");
		close(fd);
	}
	return 0;
}

int sfc_audit_check_grants(const struct sfc_audit_target *t, const struct sfc_spec *spec, struct sfc_error *e)
{
	const struct sfc_list *lists[] = { &spec->readonly, &spec->readwrite };
	char home[PATH_MAX], log[PATH_MAX], real[PATH_MAX];
	bool have_home, have_log;

	if (!spec->readonly.items.n && !spec->readwrite.items.n)
		return 0;
	have_home = t->home && realpath(t->home, home);
	have_log = t->kind == SFC_AUDIT_FILE && realpath(t->path, log);

	for (size_t l = 0; l < SFC_ARRAY_SIZE(lists); l++)
		for (size_t i = 0; i < lists[l]->items.n; i++) {
			const char *g = lists[l]->items.v[i];
			_cleanup_free_ char *j = g[0] == '/' || !spec->cwd ? NULL : sfc_xasprintf("%s/%s", spec->cwd, g);
			if (!realpath(j ? j : g, real))
				continue;
			if ((have_home && sfc_path_within(real, home)) || (have_log && !strcmp(real, log)))
				return sfc_err(e, 0, "%s is sefaca's own state (%s), which no sandbox may see: the audit "
						     "log and the configuration stay out of reach",
					       g, have_home && sfc_path_within(real, home) ? t->home : t->path);
		}
	return 0;
}

void sfc_audit_protect(const struct sfc_audit_target *t, struct sfc_spec *spec)
{
	static const struct sfc_origin home = { SFC_ORIGIN_BUILTIN, "sefaca's home: config, logs, images", 0 };
	static const struct sfc_origin log = { SFC_ORIGIN_BUILTIN, "the audit log", 0 };

	/* sefaca's own state: config (a writable one would lift every
	 * restriction of the next run), logs, images and containers.  As
	 * hidden paths they are covered by the mount namespace and, where
	 * Landlock is in force (or replaces namespaces), by its rules too. */
	if (t->home && access(t->home, F_OK) == 0)
		sfc_spec_list_add(&spec->hide, t->home, &home);
	if (t->kind == SFC_AUDIT_FILE && !t->is_default && access(t->path, F_OK) == 0)
		sfc_spec_list_add(&spec->hide, t->path, &log);
}

int sfc_audit_open(const struct sfc_audit_target *t)
{
	struct stat st;
	int fd;

	if (t->kind != SFC_AUDIT_FILE)
		return -1;
	fd = open_log(t->path, &st);
	return fd < 0 ? -1 : fd;
}

static int append_file(const char *path, int given, const char *line, size_t len, struct sfc_error *e)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		struct stat st, now;
		ssize_t n;
		int fd = given >= 0 ? given : open_log(path, &st);

		if (given >= 0 && fstat(fd, &st) < 0) {
			close(fd);
			fd = open_log(path, &st);
		}
		given = -1;
		if (fd < 0)
			return sfc_err(e, -fd, "audit log %s", path);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				int err = errno;
				close(fd);
				return sfc_err(e, err, "audit log %s: lock", path);
			}
		}
		/* Rotated between our open and our lock: write to the new file. */
		if (S_ISREG(st.st_mode) &&
		    (lstat(path, &now) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino)) {
			close(fd);
			continue;
		}
		if (S_ISREG(st.st_mode) && fstat(fd, &st) < 0) {
			int err = errno;
			close(fd);
			return sfc_err(e, err, "audit log %s", path);
		}
		n = write(fd, line, len);
		if (n != (ssize_t)len) {
			int err = n < 0 ? errno : ENOSPC;
			/* never leave half a line: cut back what was written */
			if (n > 0 && S_ISREG(st.st_mode))
				(void)!ftruncate(fd, st.st_size);
			close(fd);
			return sfc_err(e, err, "audit log %s: write", path);
		}
		close(fd);
		return 0;
	}
	return sfc_err(e, EAGAIN, "audit log %s: replaced repeatedly while writing", path);
}

int sfc_audit_append_file(const char *path, const char *line, size_t len, struct sfc_error *e)
{
	return append_file(path, -1, line, len, e);
}

static int append_syslog(const char *line, size_t len, struct sfc_error *e)
{
	/* <PRI>TAG[PID]: MSG, facility authpriv, severity info */
	_cleanup_free_ char *msg = sfc_xasprintf("<%d>sefaca[%d]: %.*s", 10 * 8 + 6, (int)getpid(),
						 (int)(len && line[len - 1] == '\n' ? len - 1 : len), line);
	int fd = syslog_connect();
	ssize_t n;

	if (fd < 0)
		return sfc_err(e, -fd, "audit log: syslog (/dev/log)");
	n = send(fd, msg, strlen(msg), MSG_NOSIGNAL);
	close(fd);
	if (n < 0)
		return sfc_err(e, errno, "audit log: syslog");
	return 0;
}

int sfc_audit_append(const struct sfc_audit_target *t, const char *line, size_t len, struct sfc_error *e)
{
	return sfc_audit_append_fd(t, -1, line, len, e);
}

int sfc_audit_append_fd(const struct sfc_audit_target *t, int fd, const char *line, size_t len,
			struct sfc_error *e)
{
	switch (t->kind) {
	case SFC_AUDIT_FILE: {
		int r = append_file(t->path, fd, line, len, e);
		/* the default directory may not exist yet (no prepare, or removed) */
		if (r == -ENOENT && t->is_default) {
			_cleanup_free_ char *dir = sfc_xasprintf("%s/logs", t->home);
			mkdir(t->home, 0700);
			mkdir(dir, 0700);
			r = sfc_audit_append_file(t->path, line, len, e);
		}
		return r;
	}
	case SFC_AUDIT_SYSLOG: break;
	case SFC_AUDIT_NONE: break;
	}
	if (fd >= 0)
		close(fd);
	return t->kind == SFC_AUDIT_SYSLOG ? append_syslog(line, len, e) : 0;
}

/* ---- the record ---- */

void sfc_audit_new_id(char buf[20])
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
	}
	snprintf(buf, 20, "r-%016llx", (unsigned long long)r);
}

/* One passwd line "name:x:uid:..." of UID?  Returns the name's length. */
static size_t passwd_match(const char *line, size_t n, uid_t uid)
{
	const char *c1 = memchr(line, ':', n), *c2, *c3;
	unsigned long v = 0;

	if (!c1 || !(c2 = memchr(c1 + 1, ':', line + n - c1 - 1)) || !(c3 = memchr(c2 + 1, ':', line + n - c2 - 1)))
		return 0;
	if (c3 == c2 + 1)
		return 0;
	for (const char *p = c2 + 1; p < c3; p++) {
		if (*p < '0' || *p > '9' || v > 0xffffffffUL)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return v == uid ? (size_t)(c1 - line) : 0;
}

char *sfc_audit_user_name(uid_t uid)
{
	/* /etc/passwd read in small pieces: no NSS (a static binary has none),
	 * and no big buffer on the hot path */
	char buf[4096];
	size_t have = 0;
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	char *name = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		char *p = buf, *nl;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += n;
		while ((nl = memchr(p, '\n', buf + have - p))) {
			size_t l = passwd_match(p, nl - p, uid);
			if (l) {
				name = sfc_xstrndup(p, l);
				goto out;
			}
			p = nl + 1;
		}
		have -= p - buf;
		memmove(buf, p, have);
		if (have == sizeof(buf))
			have = 0; /* a line longer than the buffer: skip it */
	}
	if (have) {
		size_t l = passwd_match(buf, have, uid);
		if (l)
			name = sfc_xstrndup(buf, l);
	}
out:
	close(fd);
	return name;
}

static void timestamp(struct sfc_json *j, const struct timespec *ts)
{
	struct tm tm;
	char b[40];

	gmtime_r(&ts->tv_sec, &tm);
	snprintf(b, sizeof(b), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
	sfc_json_string(j, b);
}

static void command(struct sfc_json *j, char **argv)
{
	size_t total = 0;
	bool cut = false;

	sfc_json_key(j, "command");
	sfc_json_arr_begin(j);
	for (char **a = argv; a && *a; a++) {
		size_t n = strlen(*a);
		if (n > ARG_MAX_BYTES) {
			n = ARG_MAX_BYTES;
			cut = true;
		}
		if (total + n > COMMAND_MAX_BYTES) {
			cut = true;
			break;
		}
		total += n;
		sfc_json_stringn(j, *a, n);
	}
	sfc_json_arr_end(j);
	if (cut)
		sfc_json_kbool(j, "command_truncated", true);
}

static void size_or_null(struct sfc_json *j, const char *key, uint64_t v)
{
	char b[32];

	sfc_json_key(j, key);
	if (!v) {
		sfc_json_null(j);
		return;
	}
	sfc_format_size(v, b, sizeof(b));
	sfc_json_string(j, b);
}

static void seconds_or_null(struct sfc_json *j, const char *key, uint64_t ms)
{
	sfc_json_key(j, key);
	if (!ms)
		sfc_json_null(j);
	else if (ms % 1000 == 0)
		sfc_json_uint(j, ms / 1000);
	else
		sfc_json_double(j, ms / 1000.0, 3);
}

static void config(struct sfc_json *j, const struct sfc_audit_info *a)
{
	const struct sfc_spec *s = a->spec;
	char *net;

	sfc_json_key(j, "config");
	if (!s) {
		sfc_json_null(j);
		return;
	}
	sfc_json_obj_begin(j);
	sfc_json_kstr(j, "level", sfc_level_name(s->level));
	sfc_json_kstr(j, "preset", s->preset);
	sfc_json_kstr(j, "policy", s->policy);
	sfc_json_kstr(j, "env", s->env_profile);
	net = sfc_spec_value_string(s, SFC_K_NETWORK);
	sfc_json_kstr(j, "network", net);
	free(net);
	seconds_or_null(j, "timeout", s->timeout_ms);
	size_or_null(j, "memory", s->memory);
	sfc_json_key(j, "cpu");
	if (s->cpu_milli)
		sfc_json_double(j, s->cpu_milli / 1000.0, 3);
	else
		sfc_json_null(j);
	sfc_json_key(j, "pids");
	if (s->pids)
		sfc_json_uint(j, s->pids);
	else
		sfc_json_null(j);
	sfc_json_kstr(j, "seccomp", sfc_seclevel_name(s->seccomp));
	if (a->learn)
		sfc_json_kbool(j, "learn", true);
	sfc_json_key(j, "sources");
	sfc_json_arr_begin(j);
	for (size_t i = 0; a->sources && i < a->sources->n; i++)
		sfc_json_string(j, a->sources->v[i]);
	sfc_json_arr_end(j);
	sfc_json_obj_end(j);
}

static void layers(struct sfc_json *j, const struct sfc_sandbox *sb)
{
	const struct sfc_layers *l = &sb->layers;

	sfc_json_key(j, "layers");
	sfc_json_obj_begin(j);
	sfc_json_kbool(j, "userns", l->userns);
	sfc_json_kbool(j, "mntns", l->mntns);
	sfc_json_kbool(j, "pidns", l->pidns);
	sfc_json_kbool(j, "netns", l->netns);
	sfc_json_kint(j, "landlock", l->landlock);
	sfc_json_kbool(j, "seccomp", l->seccomp);
	sfc_json_kbool(j, "caps_dropped", l->caps_dropped);
	sfc_json_kbool(j, "no_new_privs", l->no_new_privs);
	sfc_json_key(j, "cgroup");
	if (l->cgroup && strcmp(l->cgroup, "none"))
		sfc_json_string(j, l->cgroup);
	else
		sfc_json_null(j);
	sfc_json_kstr(j, "limits", l->limits);
	sfc_json_key(j, "limits_detail");
	sfc_json_arr_begin(j);
	for (size_t i = 0; i < l->limits_detail.n; i++)
		sfc_json_string(j, l->limits_detail.v[i]);
	sfc_json_arr_end(j);
	sfc_json_key(j, "missing");
	sfc_json_arr_begin(j);
	for (size_t i = 0; i < l->missing.n; i++)
		sfc_json_string(j, l->missing.v[i]);
	sfc_json_arr_end(j);
	sfc_json_obj_end(j);
}

/* Field that carries a violation's detail, by kind (seed 001's names). */
static const char *detail_field(const char *kind)
{
	if (!strcmp(kind, "network_access_denied"))
		return "attempted_host";
	if (!strcmp(kind, "syscall_denied"))
		return "syscall";
	if (!strcmp(kind, "blocked_command"))
		return "command";
	return "detail";
}

static void violation(struct sfc_json *j, const struct sfc_violation *v)
{
	sfc_json_obj_begin(j);
	sfc_json_kstr(j, "violation", v->kind);
	if (v->detail && *v->detail)
		sfc_json_kstr(j, detail_field(v->kind), v->detail);
	sfc_json_kstr(j, "action", v->action);
	if (v->suggestion && *v->suggestion)
		sfc_json_kstr(j, "suggestion", v->suggestion);
	if (v->count > 1)
		sfc_json_kuint(j, "count", v->count);
	sfc_json_obj_end(j);
}

void sfc_audit_record_head(struct sfc_json *j_, const struct sfc_audit_info *a)
{
	_cleanup_free_ char *user = sfc_audit_user_name(getuid());
#define j (*j_)
	sfc_json_init(&j);
	sfc_json_obj_begin(&j);
	sfc_json_key(&j, "timestamp");
	timestamp(&j, &a->start);
	sfc_json_kstr(&j, "id", a->id);
	sfc_json_kstr(&j, "applet", a->applet);
	sfc_json_kstr(&j, "version", SFC_VERSION);
	sfc_json_kint(&j, "pid", getpid());
	sfc_json_kuint(&j, "uid", getuid());
	sfc_json_kstr(&j, "user", user);
	sfc_json_kstr(&j, "cwd", a->cwd);
	command(&j, a->argv);
	if (a->container) {
		const struct sfc_audit_container *c = a->container;
		sfc_json_kstr(&j, "container_id", c->container_id);
		sfc_json_kstr(&j, "name", c->name);
		sfc_json_kstr(&j, "runtime", c->runtime);
		sfc_json_kstr(&j, "image", c->image);
		sfc_json_kstr(&j, "image_id", c->image_id);
		sfc_json_key(&j, "volumes");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; c->volumes && i < c->volumes->n; i++)
			sfc_json_string(&j, c->volumes->v[i]);
		sfc_json_arr_end(&j);
		if (!a->spec) {
			/* the limits as the container resolved them */
			sfc_json_key(&j, "config");
			sfc_json_obj_begin(&j);
			sfc_json_kstr(&j, "network", c->network);
			size_or_null(&j, "memory", c->memory_limit);
			sfc_json_key(&j, "cpu");
			if (c->cpu_limit_milli)
				sfc_json_double(&j, c->cpu_limit_milli / 1000.0, 3);
			else
				sfc_json_null(&j);
			sfc_json_key(&j, "pids");
			if (c->pids_limit)
				sfc_json_uint(&j, c->pids_limit);
			else
				sfc_json_null(&j);
			sfc_json_obj_end(&j);
		}
	}
	if (!a->container || a->spec)
		config(&j, a);
	if (a->sb && a->sb->layers.limits)
		layers(&j, a->sb);
	else
		sfc_json_knull(&j, "layers");
#undef j
}

char *sfc_audit_record_tail(struct sfc_json *j_, const struct sfc_audit_info *a, size_t *len)
{
	const struct sfc_result *res = a->sb ? &a->sb->result : a->result;
	char *s;
#define j (*j_)

	if (a->make) {
		sfc_json_key(&j, "make");
		sfc_json_obj_begin(&j);
		if (a->make->recipes >= 0) {
			sfc_json_key(&j, "recipes");
			sfc_json_sint(&j, a->make->recipes);
			sfc_json_kbool(&j, "whole", a->make->whole);
		} else {
			sfc_json_kstr(&j, "target", a->make->target ? a->make->target : "");
		}
		sfc_json_obj_end(&j);
	}
	sfc_json_key(&j, "resources");
	if (res && res->ran) {
		sfc_json_obj_begin(&j);
		sfc_json_kuint(&j, "max_memory", res->mem_peak);
		sfc_json_key(&j, "cpu_time");
		sfc_json_double(&j, res->cpu_time, 3);
		sfc_json_key(&j, "pids_peak");
		if (res->pids_peak)
			sfc_json_uint(&j, res->pids_peak);
		else
			sfc_json_null(&j);
		sfc_json_kstr(&j, "source", res->usage_source);
		sfc_json_obj_end(&j);
	} else {
		sfc_json_null(&j);
	}

	sfc_json_key(&j, "result");
	sfc_json_obj_begin(&j);
	sfc_json_kint(&j, "status", a->status);
	sfc_json_kbool(&j, "ran", res && res->ran);
	sfc_json_key(&j, "exit_code");
	if (res && res->ran && res->exit_code >= 0)
		sfc_json_sint(&j, res->exit_code);
	else
		sfc_json_null(&j);
	sfc_json_key(&j, "signal");
	if (res && res->signal)
		sfc_json_sint(&j, res->signal);
	else
		sfc_json_null(&j);
	sfc_json_key(&j, "duration");
	sfc_json_double(&j, a->duration, 3);
	sfc_json_kbool(&j, "timed_out", res && res->timed_out);
	sfc_json_kbool(&j, "oom_killed", res && res->oom_killed);
	sfc_json_kstr(&j, "error", a->error);
	sfc_json_obj_end(&j);

	sfc_json_key(&j, "violations");
	sfc_json_arr_begin(&j);
	for (size_t i = 0; i < a->nextra; i++)
		violation(&j, &a->extra[i]);
	for (size_t i = 0; res && i < res->nviolations; i++)
		violation(&j, &res->violations[i]);
	sfc_json_arr_end(&j);
	if (res && res->violations_dropped)
		sfc_json_kuint(&j, "violations_dropped", res->violations_dropped);
	sfc_json_obj_end(&j);
	size_t n;
	s = sfc_json_steal(&j, &n);
	/* the line's end */
	s = sfc_xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = 0;
	if (len)
		*len = n;
	return s;
#undef j
}

int sfc_audit_write(struct sfc_audit_info *a, struct sfc_error *e)
{
	extern char **environ;
	struct sfc_audit_target t;
	char id[20];
	const char *al = getenv("SEFACA_AUDIT_LOG");
	_cleanup_free_ char *cwd = a->cwd ? NULL : getcwd(NULL, 0);
	_cleanup_free_ char *line = NULL;
	size_t len;
	int r;

	if (!ENABLE_FEATURE_AUDIT)
		return 0;
	if (al && (!*al || (al[0] != '/' && strcmp(al, "none") && strcmp(al, "syslog"))))
		al = NULL;
	sfc_audit_target_init(&t, al, false, environ, cwd ? cwd : a->cwd);
	if (t.kind == SFC_AUDIT_NONE) {
		sfc_audit_target_free(&t);
		return 0;
	}
	if (!a->id) {
		sfc_audit_new_id(id);
		a->id = id;
	}
	if (!a->start.tv_sec)
		clock_gettime(CLOCK_REALTIME, &a->start);
	if (!a->cwd)
		a->cwd = cwd;
	line = sfc_audit_record(a, &len);
	r = sfc_audit_append(&t, line, len, e);
	if (a->cwd == cwd)
		a->cwd = NULL;
	if (a->id == id)
		a->id = NULL;
	sfc_audit_target_free(&t);
	return r;
}

char *sfc_audit_record(const struct sfc_audit_info *a, size_t *len)
{
	struct sfc_json j;

	sfc_audit_record_head(&j, a);
	return sfc_audit_record_tail(&j, a, len);
}

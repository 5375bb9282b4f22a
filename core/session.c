#include "core/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/blocked.h"
#include "core/config.h"
#include "core/util.h"

void sfc_session_init(struct sfc_session *s, const char *applet, struct sfc_sources *src)
{
	memset(s, 0, sizeof(*s));
	s->applet = applet;
	s->src = src;
	clock_gettime(CLOCK_REALTIME, &s->start);
	s->t0 = sfc_now_mono();
	sfc_audit_new_id(s->id);
	sfc_spec_init(&s->spec);
	s->notify.sock[0] = s->notify.sock[1] = s->notify.listener = -1;
	s->log_fd = -1;
}

/* The audit setting from flags or SEFACA_AUDIT_LOG alone: where a record
 * goes when the configuration itself cannot be read. */
static const char *early_setting(struct sfc_session *s, enum sfc_key key)
{
	for (size_t i = s->src->flags.n; i-- > 0;)
		if (s->src->flags.v[i].key == key)
			return s->src->flags.v[i].value;
	for (char **e = s->spec.caller_env; e && *e; e++) {
		const char *name = key == SFC_K_AUDIT_LOG ? "SEFACA_AUDIT_LOG=" : "SEFACA_AUDIT_REQUIRED=";
		if (!strncmp(*e, name, strlen(name)))
			return *e + strlen(name);
	}
	return NULL;
}

int sfc_session_resolve(struct sfc_session *s, char **argv, struct sfc_error *e)
{
	extern char **environ;
	struct sfc_config_request req = { .files = s->configs, .no_config = s->no_config };
	char *cwd = getcwd(NULL, 0);
	const char *home = getenv("HOME");
	const char *m;
	int r;

	if (!cwd)
		return sfc_err(e, errno, "current directory");
	s->spec.argv = argv;
	s->spec.caller_env = environ;
	s->spec.cwd = cwd;
	s->spec.home = home && *home ? sfc_xstrdup(home) : NULL;
	s->spec.caller_uid = geteuid();
	s->spec.caller_gid = getegid();

	/* Until the configuration is read, records go where the flags and
	 * the environment say (bad values there: the default). */
	{
		const char *al = early_setting(s, SFC_K_AUDIT_LOG), *ar = early_setting(s, SFC_K_AUDIT_REQUIRED);
		struct sfc_spec tmp;
		struct sfc_origin o = { SFC_ORIGIN_FLAG, "early", 0 };
		struct sfc_error ignore;

		sfc_spec_init(&tmp);
		tmp.caller_env = environ;
		tmp.home = s->spec.home;
		tmp.cwd = cwd;
		if (al)
			sfc_spec_set(&tmp, SFC_K_AUDIT_LOG, al, &o, &ignore);
		if (ar)
			sfc_spec_set(&tmp, SFC_K_AUDIT_REQUIRED, ar, &o, &ignore);
		sfc_audit_target_init(&s->audit, tmp.audit_log, tmp.audit_required, environ, cwd);
		tmp.caller_env = NULL;
		tmp.home = tmp.cwd = NULL;
		sfc_spec_free(&tmp);
	}

	SFC_TRACE_POINT("s: config");
	if ((r = sfc_config_load_all(s->src, &req, &s->spec, &s->sources, e)) < 0)
		return r;
	SFC_TRACE_POINT("s: resolve");
	if ((r = sfc_spec_resolve(&s->spec, s->src, e)) < 0)
		return r;
	SFC_TRACE_POINT("s: resolved");
	s->resolved = true;
	sfc_audit_target_free(&s->audit);
	sfc_audit_target_init(&s->audit, s->spec.audit_log, s->spec.audit_required, environ, cwd);

	/* a feature compiled out fails closed where a setting asks for it */
	if (!ENABLE_FEATURE_POLICY && s->spec.blocked_commands.items.n)
		return sfc_err(e, 0, "blocked_commands is set, but this build has no blocked-command support "
				     "(FEATURE_POLICY)");
	if (!ENABLE_FEATURE_AUDIT && ((s->spec.audit_log && strcmp(s->spec.audit_log, "none")) ||
				      s->spec.audit_required))
		return sfc_err(e, 0, "audit_log or audit_required is set, but the audit log was compiled out of this "
				     "build (FEATURE_AUDIT)");
	if ((m = sfc_blocked_match(&s->spec.blocked_commands, argv))) {
		char where[512];
		for (size_t i = 0; i < s->spec.blocked_commands.items.n; i++)
			if (s->spec.blocked_commands.items.v[i] == m)
				sfc_origin_format(&s->spec.blocked_commands.origins[i], where, sizeof(where));
		s->blocked.kind = "blocked_command";
		s->blocked.detail = (char *)m;
		s->blocked.action = "blocked";
		s->blocked.suggestion = "remove it from blocked_commands if it is needed";
		s->blocked.count = 1;
		s->has_blocked = true;
		return sfc_err(e, 0, "'%s' is a blocked command (blocked_commands, %s); nothing was run", m, where);
	}
	return 0;
}

int sfc_session_prepare(struct sfc_session *s, struct sfc_error *e)
{
	int r;

	SFC_TRACE_POINT("s: audit prepare");
	if ((r = sfc_audit_prepare(&s->audit, e)) < 0)
		return r;
	/* Nothing in the sandbox reaches sefaca's state or the log, whatever
	 * was granted (SECURITY.md 24); blocked programs are not there either.
	 * Both are hidden paths, so the mount namespace and Landlock (also
	 * without namespaces) both keep them out. */
	if ((r = sfc_audit_check_grants(&s->audit, &s->spec, e)) < 0)
		return r;
	sfc_audit_protect(&s->audit, &s->spec);
	sfc_blocked_hide(&s->spec);
	SFC_TRACE_POINT("s: sandbox prepare");
	sfc_sandbox_init(&s->sb, &s->spec);
	if ((r = sfc_sandbox_prepare(&s->sb, e)) < 0)
		return r;
	SFC_TRACE_POINT("s: notify setup");
	if (!s->no_reports || s->learn) {
		if ((r = sfc_notify_setup(&s->sb, &s->notify, s->learn, e)) < 0)
			return r;
		if (s->report_writes && (r = sfc_notify_trap_writes(&s->notify, e)) < 0)
			return r;
	}
	s->prepared = true;
	SFC_TRACE_POINT("s: session prepared");
	return 0;
}

static void info(struct sfc_session *s, struct sfc_audit_info *a, int status, const char *error)
{
	*a = (struct sfc_audit_info){
		.applet = s->applet,
		.id = s->id,
		.start = s->start,
		.duration = s->ran ? s->sb.result.duration : sfc_now_mono() - s->t0,
		.argv = s->spec.argv,
		.cwd = s->spec.cwd,
		.spec = s->resolved ? &s->spec : NULL,
		.sb = s->prepared ? &s->sb : NULL,
		.sources = &s->sources,
		.status = status,
		.error = error,
		.extra = s->has_blocked ? &s->blocked : NULL,
		.nextra = s->has_blocked,
		.learn = s->learn,
		.make = s->make,
	};
}

/* The payload has started: the applet's hook (the registry by default),
 * then, while the payload runs on another CPU, the part of the record
 * known by now and the log's descriptor, off the end of the run. */
static void on_start(struct sfc_sandbox *sb, void *data)
{
	struct sfc_session *s = data;
	struct sfc_audit_info a;

	if (s->chained_start)
		s->chained_start(sb, s->chained_data);
	if (sb->notify && !s->notify.received)
		sfc_strv_push(&sb->layers.missing, "seccomp reports: no user notification here (Linux < 5.0, or "
						   "inside another notifying sandbox); denials were not recorded");
	if (!ENABLE_FEATURE_AUDIT || s->audit.kind == SFC_AUDIT_NONE)
		return;
	s->log_fd = sfc_audit_open(&s->audit);
	info(s, &a, 0, NULL);
	sfc_audit_record_head(&s->head, &a);
	s->have_head = true;
}

int sfc_session_run(struct sfc_session *s, struct sfc_error *e)
{
	int r;

	s->chained_start = s->sb.on_start;
	s->chained_data = s->sb.hook_data;
	if (ENABLE_FEATURE_REGISTRY && !s->chained_start) {
		/* listed by sefaca-stats --live while it runs (core/registry.h) */
		s->reg.applet = s->applet;
		s->chained_start = sfc_registry_on_start;
		s->chained_data = &s->reg;
	}
	s->sb.on_start = on_start;
	s->sb.hook_data = s;
	r = sfc_sandbox_run(&s->sb, e);
	SFC_TRACE_POINT("s: run returned");
	if (ENABLE_FEATURE_REGISTRY)
		sfc_registry_remove(&s->reg);
	SFC_TRACE_POINT("s: unregistered");
	s->ran = s->sb.result.ran;
	return r;
}

int sfc_session_audit(struct sfc_session *s, int status, const char *error, int status_fd, struct sfc_error *e)
{
	struct sfc_audit_info a;
	size_t len;
	_cleanup_free_ char *line = NULL;
	int r, fd = s->log_fd;

	if (!ENABLE_FEATURE_AUDIT || (s->audit.kind == SFC_AUDIT_NONE && status_fd < 0))
		return 0;
	SFC_TRACE_POINT("s: record");
	info(s, &a, status, error);
	if (s->have_head) {
		line = sfc_audit_record_tail(&s->head, &a, &len);
		s->have_head = false;
	} else {
		line = sfc_audit_record(&a, &len);
	}
	SFC_TRACE_POINT("s: append");
	if (status_fd >= 0)
		(void)sfc_write_full(status_fd, line, len);
	s->log_fd = -1;
	r = sfc_audit_append_fd(&s->audit, fd, line, len, e);
	SFC_TRACE_POINT("s: appended");
	return r;
}

void sfc_session_free(struct sfc_session *s)
{
	if (s->prepared || s->sb.spec)
		sfc_sandbox_free(&s->sb);
	sfc_notify_free(&s->notify);
	if (s->log_fd >= 0)
		close(s->log_fd);
	if (s->have_head)
		sfc_json_free(&s->head);
	sfc_audit_target_free(&s->audit);
	sfc_strv_clear(&s->sources);
	sfc_spec_free(&s->spec);
	free(s->spec.cwd);
	free(s->spec.home);
}

int sfc_session_record_failure(const char *applet, char **argv, const char *error, struct sfc_error *e)
{
	extern char **environ;
	struct sfc_sources src = { 0 };
	struct sfc_session s;
	const char *al;
	int r;

	sfc_session_init(&s, applet, &src);
	s.spec.argv = argv;
	s.spec.caller_env = environ;
	s.spec.cwd = getcwd(NULL, 0);
	al = early_setting(&s, SFC_K_AUDIT_LOG);
	if (al && strcmp(al, "none") && strcmp(al, "syslog") && al[0] != '/')
		al = NULL; /* not yet checked: the default then */
	sfc_audit_target_init(&s.audit, al, false, environ, s.spec.cwd);
	r = sfc_session_audit(&s, 125, error, -1, e);
	sfc_session_free(&s);
	return r;
}

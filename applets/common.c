#include "applets/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/check.h"
#include "core/explain.h"
#include "core/parse.h"
#include "core/sandbox.h"
#include "core/session.h"
#include "core/util.h"

const char *sfc_applet = "sefaca";
/* The command line being parsed, so that a usage error is recorded too. */
static char **usage_argv;

void sfc_msg(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "%s: ", sfc_applet);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	(void)!write(2, buf, strlen(buf));
}

void sfc_die(int status, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sfc_msg("%s", buf);
	exit(status);
}

void sfc_die_error(const struct sfc_error *e)
{
	sfc_msg("%s", e->msg);
	exit(e->status ? e->status : 125);
}

void sfc_usage_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sfc_msg("%s (see %s --help)", buf, sfc_applet);
	if (usage_argv && ENABLE_FEATURE_AUDIT) {
		struct sfc_error e = { 0 };
		const char *applet = strncmp(sfc_applet, "sefaca-", 7) ? sfc_applet : sfc_applet + 7;
		(void)sfc_session_record_failure(applet, usage_argv, buf, &e);
	}
	exit(125);
}

/* Flags that are not spec keys, or spell one differently. */
static bool is_boolean_key(int k)
{
	return k == SFC_K_ENV_CLEAR || k == SFC_K_ENV_FILTER || k == SFC_K_ALLOW_NESTED || k == SFC_K_BEST_EFFORT ||
	       k == SFC_K_HIDE_SECRETS || k == SFC_K_READ_ONLY_ROOT || k == SFC_K_AUDIT_REQUIRED ||
	       k == SFC_K_REQUIRE_LIMITS;
}

static bool is_network_value(const char *v)
{
	return !strcmp(v, "deny") || !strcmp(v, "none") || !strcmp(v, "localhost") || !strcmp(v, "loopback") ||
	       !strcmp(v, "allow") || !strcmp(v, "host") || !strncmp(v, "allow:", 6);
}

int sfc_runopts_parse(struct sfc_runopts *o, int argc, char **argv, int *ip, bool stop_at_unknown)
{
	int i = *ip;

	usage_argv = argv + 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		char name[64];
		const char *val = NULL, *eq;
		struct sfc_origin org = { SFC_ORIGIN_FLAG, NULL, 0 };
		int k;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = true;
			continue;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->quiet = true;
			continue;
		}
		if (strncmp(a, "--", 2)) {
			if (stop_at_unknown)
				break;
			sfc_usage_error("unknown option %s", a);
		}
		eq = strchr(a, '=');
		if ((size_t)((eq ? (size_t)(eq - a) : strlen(a)) - 2) >= sizeof(name) - 1)
			sfc_usage_error("unknown option %s", a);
		snprintf(name, sizeof(name), "%.*s", (int)((eq ? (size_t)(eq - a) : strlen(a)) - 2), a + 2);
		if (eq)
			val = eq + 1;
		org.name = argv[i]; /* "--memory=1g": the flag as typed */

		if (!strcmp(name, "no-network")) {
			if (val)
				sfc_usage_error("--no-network takes no value");
			sfc_settings_add(&o->src.flags, SFC_K_NETWORK, "deny", &org);
			continue;
		}
		if (!strcmp(name, "network") || !strcmp(name, "net")) {
			if (!val && i + 1 < argc && is_network_value(argv[i + 1]))
				val = argv[++i];
			sfc_settings_add(&o->src.flags, SFC_K_NETWORK, val ? val : "allow", &org);
			continue;
		}
		if (!strcmp(name, "config")) {
			if (!val && i + 1 < argc)
				val = argv[++i];
			if (!val || !*val)
				sfc_usage_error("--config needs a file");
			sfc_strv_push(&o->configs, val);
			continue;
		}
		if (!strcmp(name, "no-config") || !strcmp(name, "explain") || !strcmp(name, "dry-run") ||
		    !strcmp(name, "json") || !strcmp(name, "learn") || !strcmp(name, "audit-only")) {
			if (val)
				sfc_usage_error("--%s takes no value", name);
			if (!strcmp(name, "no-config"))
				o->no_config = true;
			else if (!strcmp(name, "explain") || !strcmp(name, "dry-run")) {
				if (!ENABLE_FEATURE_EXPLAIN)
					sfc_usage_error("--%s is not in this build (FEATURE_EXPLAIN)", name);
				*(name[0] == 'e' ? &o->explain : &o->dry_run) = true;
			}
			else if (!strcmp(name, "json"))
				o->json = true;
			else
				o->learn = true;
			continue;
		}
		if (!strcmp(name, "json-status-fd")) {
			uint64_t fd;
			struct sfc_error e;
			if (!val && i + 1 < argc)
				val = argv[++i];
			if (!val || sfc_parse_uint(val, 0, 65535, &fd, &e) < 0)
				sfc_usage_error("--json-status-fd needs a descriptor number");
			if (fcntl((int)fd, F_GETFD) < 0)
				sfc_usage_error("--json-status-fd=%d: not an open descriptor", (int)fd);
			if (!ENABLE_FEATURE_AUDIT)
				sfc_usage_error("--json-status-fd needs the audit record, which this build has not "
						"(FEATURE_AUDIT)");
			o->status_fd = (int)fd;
			o->has_status_fd = true;
			continue;
		}
		if (!strcmp(name, "preserve-fd")) {
			uint64_t fd;
			struct sfc_error e;
			if (!val && i + 1 < argc)
				val = argv[++i];
			if (!val || sfc_parse_uint(val, 3, 65535, &fd, &e) < 0)
				sfc_usage_error("--preserve-fd needs a descriptor number (3 or more)");
			o->preserve_fds = sfc_xrealloc(o->preserve_fds, (o->npreserve_fds + 1) * sizeof(int));
			o->preserve_fds[o->npreserve_fds++] = (int)fd;
			continue;
		}
		k = sfc_key_lookup(name);
		if (k < 0 || strchr(name, '_')) {
			if (stop_at_unknown)
				break;
			sfc_usage_error("unknown option --%s", name);
		}
		if (is_boolean_key(k)) {
			if (!val)
				val = "true";
		} else if (!val) {
			if (i + 1 >= argc)
				sfc_usage_error("option --%s needs a value", name);
			val = argv[++i];
		}
		sfc_settings_add(&o->src.flags, k, val, &org);
	}
	*ip = i;
	return 0;
}

int sfc_spec_from_process(struct sfc_spec *spec, char **argv, struct sfc_error *e)
{
	extern char **environ;
	char *cwd = getcwd(NULL, 0);
	const char *home = getenv("HOME");

	if (!cwd)
		return sfc_err(e, errno, "current directory");
	spec->argv = argv;
	spec->caller_env = environ;
	spec->cwd = cwd;
	spec->home = home && *home ? sfc_xstrdup(home) : NULL;
	spec->caller_uid = geteuid();
	spec->caller_gid = getegid();
	return 0;
}

void sfc_runopts_free(struct sfc_runopts *o)
{
	sfc_sources_clear(&o->src);
	sfc_strv_clear(&o->configs);
	free(o->preserve_fds);
	o->preserve_fds = NULL;
}

void sfc_print_notes(const struct sfc_strv *notes, bool quiet)
{
	if (quiet)
		return;
	for (size_t i = 0; i < notes->n; i++)
		sfc_msg("note: %s", notes->v[i]);
}

void sfc_print_violations(const struct sfc_result *res, bool quiet)
{
	if (quiet)
		return;
	for (size_t i = 0; i < res->nviolations; i++) {
		const struct sfc_violation *v = &res->violations[i];
		char times[32] = "";
		if (v->count > 1)
			snprintf(times, sizeof(times), ", %u times", v->count);
		sfc_msg("violation: %s %s (%s%s)%s%s", v->kind, v->detail, v->action, times, v->suggestion[0] ? ": " : "",
			v->suggestion);
	}
	if (res->violations_dropped)
		sfc_msg("violation: %zu more kinds not listed", res->violations_dropped);
}

int sfc_check_print(bool json)
{
	struct sfc_check c;
	char *out;

	sfc_check_run(&c);
	out = sfc_check_format(&c, json);
	fputs(out, stdout);
	free(out);
	return c.full ? 0 : c.best_effort ? 1 : 2;
}

/* ---- one accountable run (core/session.h) ---- */

static noreturn void setup_failed(struct sfc_runopts *o, struct sfc_session *s, const struct sfc_error *e)
{
	struct sfc_error ae = { 0 };
	int status = e->status ? e->status : 125;

	sfc_msg("%s", e->msg);
	/* --dry-run: nothing was to run, so nothing is recorded */
	if (!o->dry_run && sfc_session_audit(s, status, e->msg, o->has_status_fd ? o->status_fd : -1, &ae) < 0 &&
	    (s->audit.required || !o->quiet))
		sfc_msg("%s%s", s->audit.required ? "" : "warning: ", ae.msg);
	exit(status);
}

static void explain(struct sfc_runopts *o, struct sfc_session *s, const char *error)
{
	struct sfc_explain x = {
		.applet = sfc_applet,
		.spec = &s->spec,
		.sb = s->prepared ? &s->sb : NULL,
		.error = error,
		.sources = &s->sources,
		.audit = &s->audit,
		.learn = s->learn,
	};
	_cleanup_free_ char *text = o->json ? sfc_explain_json(&x) : sfc_explain_text(&x);
	/* --dry-run: the explanation is the output; --explain: stdout stays the command's */
	(void)!sfc_write_full(o->dry_run ? 1 : 2, text, strlen(text));
}

void sfc_run_setup(struct sfc_runopts *o, struct sfc_session *s, const char *applet, char **cmd)
{
	struct sfc_error e = { 0 };

	if (o->json && !o->explain && !o->dry_run)
		sfc_usage_error("--json goes with --explain or --dry-run");
	sfc_session_init(s, applet, &o->src);
	s->configs = o->configs.v;
	s->no_config = o->no_config;
	s->learn = o->learn;
	s->report_writes = o->report_writes;
	if (sfc_session_resolve(s, cmd, &e) < 0)
		setup_failed(o, s, &e);
	if (sfc_session_prepare(s, &e) < 0) {
		if (o->dry_run || o->explain)
			explain(o, s, e.msg);
		setup_failed(o, s, &e);
	}
	s->spec.preserve_fds = o->preserve_fds;
	s->spec.npreserve_fds = o->npreserve_fds;
	if (o->explain || o->dry_run)
		explain(o, s, NULL);
	if (o->dry_run)
		exit(0);
	sfc_print_notes(&s->sb.plan.notes, o->quiet);
}

int sfc_run_finish(struct sfc_runopts *o, struct sfc_session *s)
{
	struct sfc_error e = { 0 }, ae = { 0 };
	const struct sfc_result *res = &s->sb.result;
	int r = sfc_session_run(s, &e), status;

	status = r < 0 ? (e.status ? e.status : 125) : res->status;
	if (r < 0)
		sfc_msg("%s", e.msg);
	sfc_print_violations(res, o->quiet);
	/* The record is written whatever happened; a log that cannot be
	 * written does not change the command's status. */
	if (sfc_session_audit(s, status, r < 0 ? e.msg : NULL, o->has_status_fd ? o->status_fd : -1, &ae) < 0 &&
	    (s->audit.required || !o->quiet))
		sfc_msg("%s%s", s->audit.required ? "" : "warning: ", ae.msg);
	return status;
}

int sfc_run_command(struct sfc_runopts *o, const char *applet, char **cmd)
{
	struct sfc_session s;
	int status;

	sfc_run_setup(o, &s, applet, cmd);
	status = sfc_run_finish(o, &s);
	sfc_session_free(&s);
	return status;
}

#include "applets/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/parse.h"
#include "core/sandbox.h"
#include "core/util.h"

const char *sfc_applet = "sefaca";

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
	exit(125);
}

/* Flags that are not spec keys, or spell one differently. */
static bool is_boolean_key(int k)
{
	return k == SFC_K_ENV_CLEAR || k == SFC_K_ENV_FILTER || k == SFC_K_ALLOW_NESTED || k == SFC_K_BEST_EFFORT ||
	       k == SFC_K_HIDE_SECRETS || k == SFC_K_READ_ONLY_ROOT || k == SFC_K_REQUIRE_LIMITS;
}

static bool is_network_value(const char *v)
{
	return !strcmp(v, "deny") || !strcmp(v, "none") || !strcmp(v, "localhost") || !strcmp(v, "loopback") ||
	       !strcmp(v, "allow") || !strcmp(v, "host") || !strncmp(v, "allow:", 6);
}

int sfc_runopts_parse(struct sfc_runopts *o, int argc, char **argv, int *ip, bool stop_at_unknown)
{
	int i = *ip;

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
		sfc_msg("violation: %s %s (%s)%s%s", v->kind, v->detail, v->action, v->suggestion[0] ? ": " : "",
			v->suggestion);
	}
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

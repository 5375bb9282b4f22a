/*
 * sefaca-clean: remove what sefaca left behind, never what is in use.
 */
//config:config SEFACA_CLEAN
//config:	bool "sefaca-clean: remove stale state, old logs, unused images"
//config:	default y
//config:	help
//config:	  Remove registrations of sandboxes that are gone, temporary
//config:	  extraction directories, leftover cgroup leaves, audit records
//config:	  older than a cut-off (by rotating the log, never truncating
//config:	  it under a writer), and with sefaca-container stopped
//config:	  containers and unused images.  Never follows a symlink out
//config:	  of sefaca's directories; --dry-run shows what would go.
//applet:SFC_APPLET(clean, SEFACA_CLEAN)
//usage:Usage: sefaca-clean [OPTIONS]
//usage:
//usage:Remove what sefaca left behind.  Without a selection: --state.
//usage:
//usage:  --state           registrations of sandboxes that are gone, temporary
//usage:                    entries of dead processes, leftover cgroup leaves
//usage:  --logs            audit records older than --older-than (rotates the
//usage:                    log; rotated files are rewritten or removed)
//usage:  --older-than=DUR  cut-off for --logs (default 30d)
//usage:  --containers      stopped containers and their upper directories
//usage:  --images          images and layers nothing refers to
//usage:  --all             all of the above (parts not compiled in are skipped)
//usage:  -n, --dry-run     list what would go and the bytes it would free
//usage:  --log=FILE        the audit log to prune (default as sefaca-stats)
//usage:  -q, --quiet       only the total
//usage:
//usage:A running sandbox or container is never touched.  Exit status: 0;
//usage:1 if something could not be removed; 125 on bad usage or when a
//usage:part asked for by name is not compiled in.

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applets/common.h"
#include "core/auditlog.h"
#include "core/cleanup.h"
#include "core/parse.h"
#include "core/util.h"

const char *sfc_applet_usage(const char *name);

struct out {
	bool quiet, dry;
};

static void human(uint64_t b, char *buf, size_t size)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void sanitize(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void on_item(const char *what, const char *path, uint64_t bytes, void *data)
{
	struct out *o = data;
	char b[32], p[4096];

	if (o->quiet)
		return;
	human(bytes, b, sizeof(b));
	snprintf(p, sizeof(p), "%s", path);
	sanitize(p);
	printf("%s %-13s %10s  %s\n", o->dry ? "would remove" : "removed", what, b, p);
}

static void on_note(const char *what, const char *msg, void *data)
{
	struct out *o = data;
	char m[1200];

	snprintf(m, sizeof(m), "%s", msg);
	sanitize(m);
	if (!o->quiet || strstr(m, "not "))
		sfc_msg("%s", m);
}

int clean_main(int argc, char **argv)
{
	struct out o = { 0 };
	struct sfc_clean_report rep = { 0 };
	struct sfc_error e = { 0 };
	bool state = false, logs = false, images = false, containers = false, all = false;
	uint64_t older_ms = 30ULL * 86400 * 1000;
	const char *log = NULL;
	_cleanup_free_ char *home = sfc_home_dir(), *logdir = NULL, *logbase = NULL;
	int status = 0;
	char b[32];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = strchr(a, '=');
		size_t kl = v ? (size_t)(v - a) : strlen(a);
#define OPT(name) (kl == strlen(name) && !strncmp(a, name, kl))
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(sfc_applet_usage("clean"), stdout);
			return 0;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o.quiet = true;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--dry-run")) {
			o.dry = true;
		} else if (!strcmp(a, "--state")) {
			state = true;
		} else if (!strcmp(a, "--logs")) {
			logs = true;
		} else if (!strcmp(a, "--images")) {
			images = true;
		} else if (!strcmp(a, "--containers")) {
			containers = true;
		} else if (!strcmp(a, "--all")) {
			all = true;
		} else if (OPT("--older-than") || OPT("--log")) {
			const char *val = v ? v + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val)
				sfc_usage_error("option %.*s needs a value", (int)kl, a);
			if (OPT("--log")) {
				log = val;
			} else if (sfc_parse_duration(val, &older_ms, &e) < 0) {
				sfc_usage_error("--older-than: %s", e.msg);
			}
		} else {
			sfc_usage_error("unknown option %s", a);
		}
#undef OPT
	}
	if (all)
		state = logs = images = containers = true;
	if (!state && !logs && !images && !containers)
		state = true;
	/* asked for by name, and not compiled in: fail before touching anything */
	if (!all && (images || containers) && !sfc_clean_containers_available()) {
		if (containers)
			sfc_clean_containers(home, &rep, &e);
		else
			sfc_clean_images(home, &rep, &e);
		sfc_die(125, "%s", e.msg);
	}

	rep.dry_run = o.dry;
	rep.item = on_item;
	rep.note = on_note;
	rep.data = &o;

	if (containers) {
		/* first: a removed container may free the images it held */
		if (sfc_clean_containers(home, &rep, &e) < 0) {
			if (all && e.err == ENOTSUP)
				sfc_msg("note: %s", e.msg);
			else {
				sfc_msg("%s", e.msg);
				status = 1;
			}
		}
	}
	if (images) {
		if (sfc_clean_images(home, &rep, &e) < 0) {
			if (all && e.err == ENOTSUP)
				sfc_msg("note: %s", e.msg);
			else {
				sfc_msg("%s", e.msg);
				status = 1;
			}
		}
	}
	if (state && sfc_clean_state(home, &rep, &e) < 0) {
		sfc_msg("%s", e.msg);
		status = 1;
	}
	if (logs) {
		struct timespec now;
		const char *env = getenv("SEFACA_AUDIT_LOG"), *sl;
		if (!log && env && *env && strcmp(env, "none") && strcmp(env, "syslog"))
			log = env;
		if (log) {
			sl = strrchr(log, '/');
			logdir = sl ? (sl == log ? sfc_xstrdup("/") : sfc_xstrndup(log, (size_t)(sl - log))) : sfc_xstrdup(".");
			logbase = sfc_xstrdup(sl ? sl + 1 : log);
		} else {
			logdir = sfc_auditlog_dir();
			logbase = sfc_xstrdup(SFC_AUDITLOG_NAME);
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (sfc_clean_logs(logdir, logbase, (double)now.tv_sec + now.tv_nsec / 1e9 - (double)older_ms / 1000.0, &rep,
				   &e) < 0) {
			sfc_msg("%s", e.msg);
			status = 1;
		}
	}
	human(rep.bytes, b, sizeof(b));
	printf("%s %llu item%s, %s (%llu bytes)%s\n", o.dry ? "Would free:" : "Freed:", (unsigned long long)rep.items,
	       rep.items == 1 ? "" : "s", b, (unsigned long long)rep.bytes,
	       rep.errors ? "; some items could not be removed (see above)" : "");
	if (rep.errors)
		status = 1;
	return status;
}

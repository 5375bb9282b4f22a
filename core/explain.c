#include "core/explain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/env.h"
#include "core/json.h"
#include "core/seccomp.h"
#include "core/util.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#define LANDLOCK_CREATE_RULESET_VERSION_ (1U << 0)
#define CGROUP2_SUPER_MAGIC_ 0x63677270

void sfc_kernel_probe(struct sfc_kernel_probe *k, char *why, size_t len)
{
	char v[256];
	struct statfs sf;
	long abi;

	memset(k, 0, sizeof(*k));
	k->userns_blocked = sfc_userns_diagnose(0, why, len);
	k->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
	if (sfc_read_file_at(AT_FDCWD, "/proc/sys/kernel/seccomp/actions_avail", v, sizeof(v)) > 0)
		k->seccomp_notify = strstr(v, "user_notif") != NULL;
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION_);
	k->landlock_abi = abi > 0 ? (int)abi : 0;
	k->cgroup2 = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC_;
}

/* ---- a small text buffer ---- */

struct out {
	char *s;
	size_t n, cap;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (o->n + n + 1 > o->cap) {
		o->cap = (o->n + n + 1) * 2;
		o->s = sfc_xrealloc(o->s, o->cap);
	}
	va_start(ap, fmt);
	vsnprintf(o->s + o->n, n + 1, fmt, ap);
	va_end(ap);
	o->n += n;
}

/* The list behind a list key, or NULL. */
static const struct sfc_list *key_list(const struct sfc_spec *s, enum sfc_key k)
{
	switch (k) {
	case SFC_K_READONLY: return &s->readonly;
	case SFC_K_READWRITE: return &s->readwrite;
	case SFC_K_HIDE: return &s->hide;
	case SFC_K_TMPFS: return &s->tmpfs;
	case SFC_K_SETENV: return &s->setenv;
	case SFC_K_UNSETENV: return &s->unsetenv;
	case SFC_K_KEEP_ENV: return &s->keep_env;
	case SFC_K_BLOCKED_COMMANDS: return &s->blocked_commands;
	case SFC_K_VOLUMES: return &s->volumes;
	case SFC_K_ALLOWED_IMAGES: return &s->allowed_images;
	case SFC_K_ALLOW_HOSTS: return &s->allow_hosts;
	case SFC_K_IO_MAX: return &s->io_max;
	default: return NULL;
	}
}

static void origin(const struct sfc_origin *o, char *buf, size_t len)
{
	if (o->kind == SFC_ORIGIN_UNSET)
		snprintf(buf, len, "default");
	else
		sfc_origin_format(o, buf, len);
}

static const char *mop_name(const struct sfc_mop *m)
{
	switch (m->kind) {
	case SFC_MOP_BIND: return m->flags & SFC_MOP_RO ? "ro" : "rw";
	case SFC_MOP_TMPFS: return "tmpfs";
	case SFC_MOP_HIDE: return "hidden";
	case SFC_MOP_SYMLINK: return "symlink";
	case SFC_MOP_PROC: return "proc";
	case SFC_MOP_SYS: return "sysfs";
	case SFC_MOP_DEV: return "dev";
	case SFC_MOP_DIR: return "dir";
	}
	return "?";
}

static const char *net_text(const struct sfc_spec *s)
{
	switch (s->network) {
	case SFC_NET_DENY: return "own namespace with nothing in it (deny)";
	case SFC_NET_LOCALHOST: return "own namespace with loopback only (localhost)";
	case SFC_NET_ALLOW: return "the host's network (allow)";
	case SFC_NET_HOSTS: return "own namespace; allowed hosts through the supervisor's proxy";
	}
	return "?";
}

/* Names of the caller's variables the payload does not get. */
static void dropped_env(const struct sfc_explain *x, struct sfc_strv *out)
{
	if (!x->sb)
		return;
	for (char **e = x->spec->caller_env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		_cleanup_free_ char *name = eq ? sfc_xstrndup(*e, eq - *e) : NULL;
		if (name && !sfc_env_get(x->sb->env.v, name) && !sfc_strv_contains(out, name))
			sfc_strv_push(out, name);
	}
}

static char *seccomp_text(const struct sfc_explain *x)
{
	const struct sfc_spec *s = x->spec;
	const struct sfc_sandbox *sb = x->sb;
	unsigned len = sfc_seccomp_filter_len(s->seccomp, s->allow_nested, SFC_SECCOMP_ERRNO);

	if (!sfc_seccomp_compiled())
		return sfc_xstrdup("no: compiled out of this build (FEATURE_SECCOMP)");
	if (!sb || !sb->layers.seccomp)
		return sfc_xstrdup("no");
	if (x->learn)
		return sfc_xasprintf("learning: the strict filter observes, the %s filter decides; calls it allows are "
				     "let through and logged",
				     sfc_seclevel_name(s->seccomp));
	return sfc_xasprintf("%s filter%s, %u instructions; denials %s", sfc_seclevel_name(s->seccomp),
			     s->allow_nested ? " (nested sandboxes allowed)" : "", len,
			     sb->notify ? "answered and reported by the supervisor (user notification)"
					: "answered by the kernel, not reported");
}

char *sfc_explain_text(const struct sfc_explain *x)
{
	const struct sfc_spec *s = x->spec;
	const struct sfc_sandbox *sb = x->sb;
	struct sfc_kernel_probe k;
	struct sfc_strv dropped = { 0 };
	struct out o = { 0 };
	char why[512], org[512];
	char *v;

	if (!ENABLE_FEATURE_EXPLAIN)
		return sfc_xstrdup("--explain is not in this build (FEATURE_EXPLAIN)\n");
	outf(&o, "%s: settings, and where each comes from\n", x->applet);
	for (int key = 0; key < SFC_K__MAX; key++) {
		const struct sfc_key_info *ki = sfc_key_info(key);
		const struct sfc_list *l = key_list(s, key);

		if (l && l->items.n) {
			for (size_t i = 0; i < l->items.n; i++) {
				origin(&l->origins[i], org, sizeof(org));
				outf(&o, "  %-16s %-34s %s\n", i ? "" : ki->name, l->items.v[i], org);
			}
			continue;
		}
		v = sfc_spec_value_string(s, key);
		origin(&s->origin[key], org, sizeof(org));
		outf(&o, "  %-16s %-34s %s\n", ki->name, *v ? v : "(none)", org);
		free(v);
	}
	outf(&o, "config files: ");
	if (!x->sources || !x->sources->n)
		outf(&o, "none");
	for (size_t i = 0; x->sources && i < x->sources->n; i++)
		outf(&o, "%s%s", i ? ", " : "", x->sources->v[i]);
	outf(&o, "\n");

	sfc_kernel_probe(&k, why, sizeof(why));
	outf(&o, "layers in force (this kernel, this build):\n");
	if (!sb) {
		outf(&o, "  none: the sandbox cannot be set up: %s\n", x->error ? x->error : "?");
	} else {
		const struct sfc_layers *l = &sb->layers;
		char *sc = seccomp_text(x);
		outf(&o, "  %-22s %s\n", "user namespace",
		     l->userns ? (k.userns_blocked ? "asked for, but the kernel refuses it" : "yes") : "no");
		if (l->userns && k.userns_blocked)
			outf(&o, "  %-22s %s\n", "", k.userns_blocked);
		outf(&o, "  %-22s %s\n", "mount namespace",
		     sb->plan.root == SFC_ROOT_HOST
			     ? (sb->plan.root_ro ? "yes: the host's view, read-only" : "yes: the host's view")
			     : "yes: system directories read-only, only the grants below writable");
		outf(&o, "  %-22s %s\n", "pid/ipc/uts/cgroup ns",
		     l->pidns && l->ipcns && l->utsns && l->cgroupns ? "yes" : "partly");
		outf(&o, "  %-22s %s\n", "network", net_text(s));
		outf(&o, "  %-22s %s\n", "seccomp", sc);
		free(sc);
		if (l->landlock)
			outf(&o, "  %-22s ABI %d\n", "landlock", l->landlock);
		else if (k.landlock_abi)
			outf(&o, "  %-22s no (the kernel offers ABI %d; this build does not use it)\n", "landlock",
			     k.landlock_abi);
		else
			outf(&o, "  %-22s no (not offered by this kernel)\n", "landlock");
		outf(&o, "  %-22s %s\n", "capabilities", l->caps_dropped ? "all sets emptied" : "kept");
		outf(&o, "  %-22s %s\n", "no_new_privs", l->no_new_privs ? "yes" : "no");
		outf(&o, "  %-22s %s (cgroup: %s)\n", "limits", l->limits ? l->limits : "none",
		     l->cgroup ? l->cgroup : k.cgroup2 ? "v2 mounted, not used" : "no cgroup v2 here");
		for (size_t i = 0; i < l->limits_detail.n; i++)
			outf(&o, "  %-22s %s\n", "", l->limits_detail.v[i]);
		for (size_t i = 0; i < l->missing.n; i++)
			outf(&o, "  %-22s %s\n", i ? "" : "missing", l->missing.v[i]);

		outf(&o, "view:\n");
		outf(&o, "  %-8s /  %s\n", sb->plan.root == SFC_ROOT_HOST ? (sb->plan.root_ro ? "ro" : "host") : "tmpfs",
		     sb->plan.root == SFC_ROOT_HOST ? "the host's root" : "new root");
		for (size_t i = 0; i < sb->plan.n; i++) {
			const struct sfc_mop *m = &sb->plan.ops[i];
			if (m->kind == SFC_MOP_SYMLINK)
				outf(&o, "  %-8s %s -> %s  %s\n", mop_name(m), m->dst, m->src, m->why);
			else
				outf(&o, "  %-8s %s  %s\n", mop_name(m), m->dst, m->why);
		}
		outf(&o, "  workdir  %s\n", sb->plan.workdir ? sb->plan.workdir : "/");
		dropped_env(x, &dropped);
		outf(&o, "environment: %zu variables", sb->env.n);
		if (dropped.n) {
			outf(&o, "; not passed:");
			for (size_t i = 0; i < dropped.n; i++)
				outf(&o, " %s", dropped.v[i]);
		}
		outf(&o, "\n");
		for (size_t i = 0; i < sb->plan.notes.n; i++)
			outf(&o, "note: %s\n", sb->plan.notes.v[i]);
	}
	if (x->audit) {
		switch (x->audit->kind) {
		case SFC_AUDIT_FILE:
			outf(&o, "audit log: %s%s\n", x->audit->path, x->audit->required ? " (required)" : "");
			break;
		case SFC_AUDIT_SYSLOG: outf(&o, "audit log: syslog (/dev/log)\n"); break;
		case SFC_AUDIT_NONE: outf(&o, "audit log: none\n"); break;
		}
	}
	outf(&o, "command:");
	for (char **a = sb && sb->argv ? sb->argv : s->argv; a && *a; a++) {
		struct sfc_json j;
		sfc_json_init(&j);
		sfc_json_string(&j, *a); /* quoted and escaped: control characters stay visible */
		outf(&o, " %s", j.buf);
		sfc_json_free(&j);
	}
	outf(&o, "\n");
	sfc_strv_clear(&dropped);
	return o.s;
}

static void j_origin(struct sfc_json *j, const struct sfc_origin *o)
{
	char org[512];

	sfc_json_obj_begin(j);
	switch (o->kind) {
	case SFC_ORIGIN_UNSET: sfc_json_kstr(j, "kind", "default"); break;
	case SFC_ORIGIN_BUILTIN:
		sfc_json_kstr(j, "kind", "built-in");
		sfc_json_kstr(j, "name", o->name);
		break;
	case SFC_ORIGIN_FILE:
		sfc_json_kstr(j, "kind", "file");
		sfc_json_kstr(j, "file", o->name);
		sfc_json_kint(j, "line", o->line);
		break;
	case SFC_ORIGIN_ENV:
		sfc_json_kstr(j, "kind", "env");
		sfc_json_kstr(j, "name", o->name);
		break;
	case SFC_ORIGIN_FLAG:
		sfc_json_kstr(j, "kind", "flag");
		sfc_json_kstr(j, "name", o->name);
		break;
	}
	origin(o, org, sizeof(org));
	sfc_json_kstr(j, "text", org);
	sfc_json_obj_end(j);
}

char *sfc_explain_json(const struct sfc_explain *x)
{
	const struct sfc_spec *s = x->spec;
	const struct sfc_sandbox *sb = x->sb;
	struct sfc_kernel_probe k;
	struct sfc_strv dropped = { 0 };
	struct sfc_json j;
	char why[512];
	size_t n;
	char *r;

	if (!ENABLE_FEATURE_EXPLAIN)
		return sfc_xstrdup("{\"error\":\"--explain is not in this build (FEATURE_EXPLAIN)\"}\n");
	sfc_json_init(&j);
	sfc_json_obj_begin(&j);
	sfc_json_kstr(&j, "applet", x->applet);
	sfc_json_key(&j, "settings");
	sfc_json_obj_begin(&j);
	for (int key = 0; key < SFC_K__MAX; key++) {
		const struct sfc_list *l = key_list(s, key);
		sfc_json_key(&j, sfc_key_info(key)->name);
		sfc_json_obj_begin(&j);
		if (l) {
			sfc_json_key(&j, "value");
			sfc_json_arr_begin(&j);
			for (size_t i = 0; i < l->items.n; i++)
				sfc_json_string(&j, l->items.v[i]);
			sfc_json_arr_end(&j);
			sfc_json_key(&j, "origins");
			sfc_json_arr_begin(&j);
			for (size_t i = 0; i < l->items.n; i++)
				j_origin(&j, &l->origins[i]);
			sfc_json_arr_end(&j);
		} else {
			char *v = sfc_spec_value_string(s, key);
			sfc_json_kstr(&j, "value", v);
			free(v);
		}
		sfc_json_key(&j, "origin");
		j_origin(&j, &s->origin[key]);
		sfc_json_obj_end(&j);
	}
	sfc_json_obj_end(&j);

	sfc_json_key(&j, "config_files");
	sfc_json_arr_begin(&j);
	for (size_t i = 0; x->sources && i < x->sources->n; i++)
		sfc_json_string(&j, x->sources->v[i]);
	sfc_json_arr_end(&j);

	sfc_kernel_probe(&k, why, sizeof(why));
	sfc_json_key(&j, "kernel");
	sfc_json_obj_begin(&j);
	sfc_json_kstr(&j, "userns_blocked", k.userns_blocked);
	sfc_json_kbool(&j, "seccomp", k.seccomp);
	sfc_json_kbool(&j, "seccomp_notify", k.seccomp_notify);
	sfc_json_kint(&j, "landlock_abi", k.landlock_abi);
	sfc_json_kbool(&j, "cgroup2", k.cgroup2);
	sfc_json_obj_end(&j);

	sfc_json_kstr(&j, "error", x->error);
	sfc_json_key(&j, "layers");
	if (sb) {
		const struct sfc_layers *l = &sb->layers;
		sfc_json_obj_begin(&j);
		sfc_json_kbool(&j, "userns", l->userns);
		sfc_json_kbool(&j, "mntns", l->mntns);
		sfc_json_kbool(&j, "pidns", l->pidns);
		sfc_json_kbool(&j, "ipcns", l->ipcns);
		sfc_json_kbool(&j, "utsns", l->utsns);
		sfc_json_kbool(&j, "cgroupns", l->cgroupns);
		sfc_json_kbool(&j, "netns", l->netns);
		sfc_json_kint(&j, "landlock", l->landlock);
		sfc_json_kbool(&j, "seccomp", l->seccomp);
		sfc_json_kstr(&j, "seccomp_reports", !l->seccomp ? NULL : x->learn ? "learn" : sb->notify ? "notify" : "none");
		sfc_json_kuint(&j, "seccomp_instructions",
			       l->seccomp ? sfc_seccomp_filter_len(s->seccomp, s->allow_nested, SFC_SECCOMP_ERRNO) : 0);
		sfc_json_kbool(&j, "caps_dropped", l->caps_dropped);
		sfc_json_kbool(&j, "no_new_privs", l->no_new_privs);
		sfc_json_kstr(&j, "limits", l->limits);
		sfc_json_kstr(&j, "cgroup", l->cgroup);
		sfc_json_key(&j, "limits_detail");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; i < l->limits_detail.n; i++)
			sfc_json_string(&j, l->limits_detail.v[i]);
		sfc_json_arr_end(&j);
		sfc_json_key(&j, "missing");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; i < l->missing.n; i++)
			sfc_json_string(&j, l->missing.v[i]);
		sfc_json_arr_end(&j);
		sfc_json_obj_end(&j);

		sfc_json_key(&j, "view");
		sfc_json_obj_begin(&j);
		sfc_json_kstr(&j, "root", sb->plan.root == SFC_ROOT_HOST ? (sb->plan.root_ro ? "host-ro" : "host") : "tmpfs");
		sfc_json_key(&j, "mounts");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; i < sb->plan.n; i++) {
			const struct sfc_mop *m = &sb->plan.ops[i];
			sfc_json_obj_begin(&j);
			sfc_json_kstr(&j, "op", mop_name(m));
			sfc_json_kstr(&j, "path", m->dst);
			if (m->src)
				sfc_json_kstr(&j, "source", m->src);
			sfc_json_kstr(&j, "why", m->why);
			sfc_json_obj_end(&j);
		}
		sfc_json_arr_end(&j);
		sfc_json_key(&j, "hidden");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; i < sb->plan.hidden.n; i++)
			sfc_json_string(&j, sb->plan.hidden.v[i]);
		sfc_json_arr_end(&j);
		sfc_json_kstr(&j, "workdir", sb->plan.workdir);
		sfc_json_obj_end(&j);

		dropped_env(x, &dropped);
		sfc_json_key(&j, "environment");
		sfc_json_obj_begin(&j);
		sfc_json_kuint(&j, "count", sb->env.n);
		sfc_json_key(&j, "dropped");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; i < dropped.n; i++)
			sfc_json_string(&j, dropped.v[i]);
		sfc_json_arr_end(&j);
		sfc_json_obj_end(&j);
		sfc_json_key(&j, "notes");
		sfc_json_arr_begin(&j);
		for (size_t i = 0; i < sb->plan.notes.n; i++)
			sfc_json_string(&j, sb->plan.notes.v[i]);
		sfc_json_arr_end(&j);
	} else {
		sfc_json_null(&j);
	}
	sfc_json_key(&j, "audit_log");
	if (!x->audit || x->audit->kind == SFC_AUDIT_NONE)
		sfc_json_string(&j, "none");
	else if (x->audit->kind == SFC_AUDIT_SYSLOG)
		sfc_json_string(&j, "syslog");
	else
		sfc_json_string(&j, x->audit->path);
	sfc_json_key(&j, "command");
	sfc_json_arr_begin(&j);
	for (char **a = sb && sb->argv ? sb->argv : s->argv; a && *a; a++)
		sfc_json_string(&j, *a);
	sfc_json_arr_end(&j);
	sfc_json_obj_end(&j);
	sfc_strv_clear(&dropped);
	r = sfc_json_steal(&j, &n);
	r = sfc_xrealloc(r, n + 2);
	r[n] = '\n';
	r[n + 1] = 0;
	return r;
}

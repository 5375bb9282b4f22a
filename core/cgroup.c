/* cgroup v2 limits: see core/cgroup.h for the plan and the naming scheme.
 *
 * Where the leaf goes.  cgroup v2 lets processes live only in cgroups that
 * do not hand controllers to children (the "no internal processes" rule,
 * Documentation/admin-guide/cgroup-v2.rst), so the cgroup we run in (C)
 * cannot get children with limits while we, or the shell that started us,
 * are in it.  In order:
 *   1. C already hands the controllers down (only the root cgroup can, with
 *      processes in it): the leaf goes in C.
 *   2. We are alone in C and own it (a scope made for us: systemd-run
 *      --scope -p Delegate=yes, or a cgroup an embedded init made): we move
 *      into C/sefaca-...-sup, enable the controllers in C and put the leaf in
 *      C; all undone afterwards.
 *   3. C's parent P is ours (cgroup.procs and the directory writable) and
 *      hands the controllers down: the leaf is C's sibling.  Not in a
 *      systemd slice (*.slice): those are systemd's, we ask it instead.
 * Moving a process between cgroups needs write access to cgroup.procs of
 * the common ancestor (cgroup_attach_permissions() in the kernel), which is
 * what "writable" checks.  Nothing here is tried unless a limit was asked
 * for, and nothing is written to a hierarchy that does not offer every
 * controller needed.
 */
#include "core/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/cleanup.h"
#include "core/parse.h"
#include "core/sandbox.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const char *const ctl_names[] = { "memory", "pids", "cpu", "io" };

/* ---------------------------------------------------------- pure helpers */

const char *sfc_cgroup_parse_self(const char *text, char *out, size_t len)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= 3 && !strncmp(p, "0::", 3)) {
			if (n - 3 >= len || n == 3 || p[3] != '/')
				return NULL;
			memcpy(out, p + 3, n - 3);
			out[n - 3] = 0;
			return out;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

unsigned sfc_cgroup_parse_controllers(const char *text)
{
	unsigned m = 0;

	for (const char *p = text; *p;) {
		size_t n;
		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		for (unsigned i = 0; i < SFC_ARRAY_SIZE(ctl_names); i++)
			if (n == strlen(ctl_names[i]) && !strncmp(p, ctl_names[i], n))
				m |= 1u << i;
		p += n;
	}
	return m;
}

void sfc_cgroup_format_controllers(unsigned mask, const char *prefix, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < SFC_ARRAY_SIZE(ctl_names); i++)
		if (mask & (1u << i) && o < len)
			o += snprintf(buf + o, len - o, "%s%s%s", o ? " " : "", prefix, ctl_names[i]);
}

void sfc_cgroup_cpu_max(uint32_t milli, char *buf, size_t len)
{
	/* The kernel wants a quota of at least 1 ms and a period of at most
	 * 1 s: tiny shares get the long period. */
	uint64_t period = milli >= 10 ? 100000 : 1000000;
	snprintf(buf, len, "%llu %llu", (unsigned long long)(milli * period / 1000), (unsigned long long)period);
}

int sfc_cgroup_io_max_line(const char *item, char *out, size_t len, struct sfc_error *e)
{
	static const char *const keys[] = { "rbps", "wbps", "riops", "wiops" };
	char dev[256], line[512];
	const char *p = item + strspn(item, " \t");
	size_t n = strcspn(p, " \t"), o;
	unsigned maj = 0, min = 0, seen = 0;
	char *end;

	if (!n || n >= sizeof(dev))
		return sfc_err(e, 0, "bad io_max '%s' (expected DEVICE KEY=VALUE..., e.g. '/dev/sda wbps=10m')", item);
	memcpy(dev, p, n);
	dev[n] = 0;
	p += n;
	maj = isdigit((unsigned char)dev[0]) ? strtoul(dev, &end, 10) : 0;
	if (isdigit((unsigned char)dev[0]) && *end == ':' && isdigit((unsigned char)end[1])) {
		min = strtoul(end + 1, &end, 10);
		if (*end)
			return sfc_err(e, 0, "bad io_max device '%s' (expected MAJOR:MINOR or a /dev path)", dev);
	} else {
		struct stat st;
		if (dev[0] != '/')
			return sfc_err(e, 0, "bad io_max device '%s' (expected MAJOR:MINOR or a /dev path)", dev);
		if (out) {
			if (stat(dev, &st) < 0)
				return sfc_err(e, errno, "io_max device %s", dev);
			if (!S_ISBLK(st.st_mode))
				return sfc_err(e, 0, "io_max device %s is not a block device", dev);
			maj = major(st.st_rdev);
			min = minor(st.st_rdev);
		}
	}
	o = snprintf(line, sizeof(line), "%u:%u", maj, min);
	for (;;) {
		char kv[128], *eq;
		unsigned k;
		uint64_t v;

		p += strspn(p, " \t");
		if (!*p)
			break;
		n = strcspn(p, " \t");
		if (n >= sizeof(kv))
			return sfc_err(e, 0, "bad io_max '%s'", item);
		memcpy(kv, p, n);
		kv[n] = 0;
		p += n;
		if (!(eq = strchr(kv, '=')))
			return sfc_err(e, 0, "bad io_max '%s' (expected KEY=VALUE after the device)", item);
		*eq++ = 0;
		for (k = 0; k < SFC_ARRAY_SIZE(keys); k++)
			if (!strcmp(kv, keys[k]))
				break;
		if (k == SFC_ARRAY_SIZE(keys))
			return sfc_err(e, 0, "bad io_max key '%s' (expected rbps, wbps, riops or wiops)", kv);
		if (seen & (1u << k))
			return sfc_err(e, 0, "io_max key '%s' given twice", kv);
		seen |= 1u << k;
		if (!strcmp(eq, "max")) {
			o += snprintf(line + o, sizeof(line) - o, " %s=max", kv);
			continue;
		}
		if (k < 2 ? sfc_parse_size(eq, &v, e) < 0 : sfc_parse_uint(eq, 1, UINT64_MAX >> 1, &v, e) < 0) {
			sfc_err_prefix(e, "io_max %s", kv);
			return -EINVAL;
		}
		o += snprintf(line + o, sizeof(line) - o, " %s=%llu", kv, (unsigned long long)v);
	}
	if (!seen)
		return sfc_err(e, 0, "bad io_max '%s' (no rbps, wbps, riops or wiops given)", item);
	if (out && (size_t)snprintf(out, len, "%s", line) >= len)
		return sfc_err(e, 0, "io_max '%s' is too long", item);
	return 0;
}

bool sfc_cgroup_name_parse(const char *name, pid_t *pid, unsigned long long *start)
{
	unsigned long long p, t;
	const char *c;
	char *end;

	if (strncmp(name, "sefaca-", 7) || !isdigit((unsigned char)name[7]))
		return false;
	p = strtoull(name + 7, &end, 10);
	if (*end != '-' || !p || p > 4194304 || !isdigit((unsigned char)end[1]))
		return false;
	t = strtoull(end + 1, &end, 10);
	if (*end != '-')
		return false;
	c = end + 1;
	if (strcmp(c, "sup") && (!*c || strspn(c, "0123456789") != strlen(c)))
		return false;
	*pid = (pid_t)p;
	*start = t;
	return true;
}

unsigned long long sfc_proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* after "pid (comm)": state is field 3, starttime field 22 */
	p++;
	for (int f = 3; f < 22 && p; f++)
		p = strchr(p + 1, ' ');
	if (!p || !isdigit((unsigned char)p[1]))
		return 0;
	v = strtoull(p + 1, NULL, 10);
	return v;
}

/* "memory, cpu and io" */
static void list_names(unsigned mask, char *buf, size_t len)
{
	unsigned n = 0, total = 0;
	size_t o = 0;

	for (unsigned i = 0; i < SFC_ARRAY_SIZE(ctl_names); i++)
		total += !!(mask & (1u << i));
	buf[0] = 0;
	for (unsigned i = 0; i < SFC_ARRAY_SIZE(ctl_names) && o < len; i++)
		if (mask & (1u << i)) {
			n++;
			o += snprintf(buf + o, len - o, "%s%s", n == 1 ? "" : n == total ? " and " : ", ", ctl_names[i]);
		}
}

/* 500 -> "0.5", 2000 -> "2", 1250 -> "1.25" */
static void format_cpu(uint32_t milli, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%u.%03u", milli / 1000, milli % 1000);
	while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
		buf[--n] = 0;
	if (n > 0 && (size_t)n < len && buf[n - 1] == '.')
		buf[--n] = 0;
}

/* ------------------------------------------------------------ files */

static ssize_t read_at(const char *dir, const char *file, char *buf, size_t size)
{
	char path[4096 + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return sfc_read_file_at(AT_FDCWD, path, buf, size);
}

static int write_at(const char *dir, const char *file, const char *data)
{
	char path[4096 + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return sfc_write_file_at(AT_FDCWD, path, data);
}

static bool writable(const char *dir, const char *file)
{
	char path[4096 + 64];

	snprintf(path, sizeof(path), "%s%s%s", dir, file ? "/" : "", file ? file : "");
	return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0;
}

static unsigned controllers_of(const char *dir, const char *file)
{
	char buf[512];
	return read_at(dir, file, buf, sizeof(buf)) > 0 ? sfc_cgroup_parse_controllers(buf) : 0;
}

/* "key value" lines (memory.events, cpu.stat): the value of KEY, or -1. */
static long long keyed(const char *dir, const char *file, const char *key)
{
	char buf[2048];
	size_t kl = strlen(key);

	if (read_at(dir, file, buf, sizeof(buf)) <= 0)
		return -1;
	for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

static bool populated(const char *dir)
{
	return keyed(dir, "cgroup.events", "populated") != 0;
}

static int cgroup_mount(char *out, size_t len)
{
	struct statfs sf;
	char buf[16384];
	ssize_t n;

	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
		snprintf(out, len, "/sys/fs/cgroup");
		return 0;
	}
	/* hybrid mode: v1 controllers, the unified hierarchy beside them */
	if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
		snprintf(out, len, "/sys/fs/cgroup/unified");
		return 0;
	}
	/* elsewhere: the first cgroup2 mount of its whole hierarchy */
	if ((n = sfc_read_file_at(AT_FDCWD, "/proc/self/mountinfo", buf, sizeof(buf))) <= 0)
		return -ENOENT;
	for (char *l = buf; l && *l;) {
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - cgroup2 ..." */
		char *nl = strchr(l, '\n'), *f[5], *p = l;
		int i;
		if (nl)
			*nl = 0;
		for (i = 0; i < 5 && p; i++) {
			f[i] = p;
			if ((p = strchr(p, ' ')))
				*p++ = 0;
		}
		if (i == 5 && p && strstr(p, " - cgroup2 ") && !strcmp(f[3], "/") && !strchr(f[4], '\\') &&
		    strlen(f[4]) < len) {
			snprintf(out, len, "%s", f[4]);
			return 0;
		}
		l = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

static bool alone_in(const char *dir)
{
	char buf[64];
	ssize_t n = read_at(dir, "cgroup.procs", buf, sizeof(buf));

	return n > 0 && (pid_t)atoi(buf) == getpid() && strchr(buf, '\n') == buf + n - 1;
}

/* A cgroup named like a systemd unit is systemd's, and ours to use only if
 * delegated (Delegate=yes): systemd marks those with the xattr
 * trusted.delegate (system manager) or user.delegate (user manager) set to
 * "1" (systemd.io/CGROUP_DELEGATION).  A scope we asked for ourselves is
 * delegated whether or not this systemd marks it. */
static bool systemd_unit(const char *dir)
{
	return sfc_str_has_suffix(dir, ".service") || sfc_str_has_suffix(dir, ".scope") ||
	       sfc_str_has_suffix(dir, ".slice");
}

static bool delegated(const char *dir)
{
	char v[8];

	return (getxattr(dir, "trusted.delegate", v, sizeof(v)) == 1 && v[0] == '1') ||
	       (getxattr(dir, "user.delegate", v, sizeof(v)) == 1 && v[0] == '1');
}

static char *parent_of(const char *dir)
{
	char *p = sfc_xstrdup(dir), *s = strrchr(p, '/');
	if (s && s != p)
		*s = 0;
	return p;
}

/* Where can a leaf go?  Fills cg->self, base, evacuate, enable and
 * controllers (REQUIRED, plus what of WANTED comes for free); else WHY. */
static int probe_base(struct sfc_cgroup *cg, unsigned required, unsigned wanted);

/* No usable cgroup stays no usable cgroup while sefaca runs: a make's
 * recipes (forks of its supervisor, same settings) do not read /proc and
 * /sys again for every one to find that out.  A base that was found is
 * looked at afresh each time (leaves come and go under it). */
static struct {
	bool set, in_scope;
	unsigned required, wanted;
	char why[sizeof(((struct sfc_cgroup *)0)->why)];
} no_base;

static int find_base(struct sfc_cgroup *cg, unsigned required, unsigned wanted)
{
	if (no_base.set && no_base.required == required && no_base.wanted == wanted &&
	    no_base.in_scope == cg->in_scope) {
		memcpy(cg->why, no_base.why, sizeof(cg->why));
		return -1;
	}
	if (probe_base(cg, required, wanted) == 0)
		return 0;
	no_base.set = true;
	no_base.in_scope = cg->in_scope;
	no_base.required = required;
	no_base.wanted = wanted;
	memcpy(no_base.why, cg->why, sizeof(no_base.why));
	return -1;
}

static int probe_base(struct sfc_cgroup *cg, unsigned required, unsigned wanted)
{
	char text[4096], rel[4096], mnt[256], need[64];
	unsigned avail, sub;
	bool v1 = false;
	char *self = NULL, *parent = NULL;

	if (sfc_read_file_at(AT_FDCWD, "/proc/self/cgroup", text, sizeof(text)) <= 0) {
		snprintf(cg->why, sizeof(cg->why), "cannot read /proc/self/cgroup");
		return -1;
	}
	v1 = strstr(text, ":memory:") || strstr(text, ":pids:") || strstr(text, ":cpu,") || strstr(text, ":cpu:");
	if (!sfc_cgroup_parse_self(text, rel, sizeof(rel)) || cgroup_mount(mnt, sizeof(mnt)) < 0) {
		snprintf(cg->why, sizeof(cg->why), "no cgroup v2 hierarchy is mounted%s",
			 v1 ? " (this system uses cgroup v1)" : "");
		return -1;
	}
	self = sfc_xasprintf("%s%s", mnt, strcmp(rel, "/") ? rel : "");
	if (access(self, F_OK) < 0) {
		snprintf(cg->why, sizeof(cg->why), "our cgroup %s is not visible", self);
		goto no;
	}
	avail = controllers_of(self, "cgroup.controllers");
	if (required & ~avail) {
		list_names(required & ~avail, need, sizeof(need));
		if (v1 && !avail)
			snprintf(cg->why, sizeof(cg->why), "%s %s on cgroup v1 here, not on cgroup v2 (%s)", need,
				 strchr(need, ' ') ? "are" : "is", mnt);
		else
			snprintf(cg->why, sizeof(cg->why), "the cgroup v2 controller%s %s %s not delegated to %s",
				 strchr(need, ' ') ? "s" : "", need, strchr(need, ' ') ? "are" : "is", self);
		goto no;
	}
	/* 1. our own cgroup hands the controllers down (the root cgroup) */
	sub = controllers_of(self, "cgroup.subtree_control");
	if (!(required & ~sub) && writable(self, NULL) && writable(self, "cgroup.procs")) {
		cg->base = sfc_xstrdup(self);
		cg->controllers = required | (wanted & sub);
		goto yes;
	}
	/* 2. alone in a cgroup we own: move aside and use it */
	if (writable(self, NULL) && writable(self, "cgroup.procs") && writable(self, "cgroup.subtree_control") &&
	    alone_in(self) && (!systemd_unit(self) || cg->in_scope || delegated(self))) {
		cg->base = sfc_xstrdup(self);
		cg->evacuate = true;
		cg->controllers = required | (wanted & avail);
		cg->enable = cg->controllers & ~sub;
		goto yes;
	}
	/* 3. our parent is ours and hands the controllers down */
	if (strcmp(rel, "/")) {
		parent = parent_of(self);
		if (systemd_unit(parent) && (sfc_str_has_suffix(parent, ".slice") || !delegated(parent))) {
			snprintf(cg->why, sizeof(cg->why), "%s belongs to systemd (not delegated)%s", parent,
				 alone_in(self) ? "" : " and we are not alone in our own cgroup");
			goto no;
		}
		if (writable(parent, NULL) && writable(parent, "cgroup.procs")) {
			cg->base = sfc_steal_pointer(&parent);
			cg->controllers = required | (wanted & avail); /* avail == parent's subtree_control */
			goto yes;
		}
	}
	snprintf(cg->why, sizeof(cg->why), "no writable delegated cgroup v2 subtree (%s%s is not ours%s)", self,
		 strcmp(rel, "/") ? " and its parent" : "", strcmp(rel, "/") ? " either" : "");
no:
	free(self);
	free(parent);
	return -1;
yes:
	cg->self = self;
	cg->mnt_len = strlen(mnt);
	free(parent);
	return 0;
}

/* A systemd user manager we could ask for a delegated scope. */
static bool systemd_user_manager(char *why, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char path[4096];
	struct stat st;
	char *run;

	if (!rt || !*rt) {
		snprintf(why, len, "no systemd user manager (XDG_RUNTIME_DIR is not set)");
		return false;
	}
	snprintf(path, sizeof(path), "%s/systemd/private", rt);
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(why, len, "no systemd user manager (%s is missing)", path);
		return false;
	}
	if (!(run = sfc_which("systemd-run"))) {
		snprintf(why, len, "systemd-run is not installed");
		return false;
	}
	free(run);
	return true;
}

/* ------------------------------------------------------------- plan */

/* Was this limit asked for, rather than a built-in level's default? */
static bool asked(const struct sfc_spec *s, enum sfc_key k)
{
	const struct sfc_origin *o = &s->origin[k];

	if (o->kind == SFC_ORIGIN_UNSET)
		return false;
	return !(o->kind == SFC_ORIGIN_BUILTIN && o->name && !strncmp(o->name, "level ", 6));
}

static void detail(struct sfc_layers *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void detail(struct sfc_layers *l, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sfc_strv_push(&l->limits_detail, buf);
}

void sfc_cgroup_init(struct sfc_cgroup *cg)
{
	memset(cg, 0, sizeof(*cg));
	cg->inner_fd = -1;
}

void sfc_cgroup_free(struct sfc_cgroup *cg)
{
	if (cg->inner_fd >= 0)
		close(cg->inner_fd);
	free(cg->self);
	free(cg->base);
	free(cg->leaf);
	free(cg->inner);
	free(cg->sup);
	sfc_cgroup_init(cg);
}

int sfc_cgroup_plan(struct sfc_cgroup *cg, const struct sfc_spec *s, struct sfc_layers *l, struct sfc_strv *notes,
		    struct sfc_error *e)
{
	unsigned required = 0, wanted = 0, lost;
	bool mode_asked = asked(s, SFC_K_CGROUP), consider;
	char size[32], why[320], lostn[64];
	int r;

	bool in_scope = cg->in_scope;

	/* planned again (user namespaces failed only at clone time): afresh */
	sfc_cgroup_free(cg);
	cg->in_scope = in_scope;
	if (getenv(SFC_CGROUP_SCOPE_ENV)) {
		cg->in_scope = true;
		unsetenv(SFC_CGROUP_SCOPE_ENV); /* not the payload's */
	}
	if (s->memory)
		*(asked(s, SFC_K_MEMORY) ? &required : &wanted) |= SFC_CG_MEMORY;
	if (s->pids)
		*(asked(s, SFC_K_PIDS) ? &required : &wanted) |= SFC_CG_PIDS;
	if (s->cpu_milli)
		required |= SFC_CG_CPU;
	if (s->io_weight || s->io_max.items.n)
		required |= SFC_CG_IO;
	if (s->require_limits) {
		required |= wanted;
		wanted = 0;
	}
	for (size_t i = 0; i < s->io_max.items.n; i++) {
		char line[512];
		if ((r = sfc_cgroup_io_max_line(s->io_max.items.v[i], line, sizeof(line), e)) < 0)
			return r;
	}
	/* Nothing asked for: the built-in levels' limits stay rlimits and this
	 * run pays for no cgroup work (the sefaca-run hot path). */
	consider = s->cgroup_mode != SFC_CGROUP_NONE && (required || mode_asked || cg->in_scope);
	l->cgroup = "none";
	why[0] = 0;
	if (!consider) {
		snprintf(why, sizeof(why), s->cgroup_mode == SFC_CGROUP_NONE ? "cgroup=none" : "no limit asked for");
	} else if (!ENABLE_FEATURE_CGROUP) {
		snprintf(why, sizeof(why), "cgroup v2 support was compiled out of this build (FEATURE_CGROUP)");
		if (mode_asked && s->cgroup_mode == SFC_CGROUP_SYSTEMD)
			return sfc_err(e, 0, "cgroup=systemd: %s", why);
	} else if (s->cgroup_mode == SFC_CGROUP_SYSTEMD && !cg->in_scope) {
		if (!systemd_user_manager(why, sizeof(why)))
			return sfc_err(e, 0, "cgroup=systemd: %s", why);
		cg->reexec = true;
	} else if (find_base(cg, required, wanted) == 0) {
		cg->active = true;
	} else if (cg->in_scope) {
		snprintf(why, sizeof(why), "systemd's scope gave us no usable cgroup: %s", cg->why);
	} else {
		char sd[256];
		snprintf(why, sizeof(why), "%s", cg->why);
		/* ask the user manager only for limits that were asked for */
		if (required && s->cgroup_mode == SFC_CGROUP_AUTO) {
			if (systemd_user_manager(sd, sizeof(sd)))
				cg->reexec = true;
			else
				snprintf(why + strlen(why), sizeof(why) - strlen(why), "; %s", sd);
		}
	}
	if (cg->reexec) {
		l->cgroup = "v2 (systemd scope)";
		l->limits = "cgroup";
		detail(l, "limits: a delegated scope from the systemd user manager (systemd-run --user --scope)");
		return 0;
	}
	if (cg->active) {
		l->cgroup = cg->in_scope ? "v2 (systemd scope)" : "v2";
		if (s->memory && (cg->controllers & SFC_CG_MEMORY))
			cg->cgroup_limits |= SFC_CG_MEMORY;
		if (s->pids && (cg->controllers & SFC_CG_PIDS))
			cg->cgroup_limits |= SFC_CG_PIDS;
		cg->cgroup_limits |= cg->controllers & (SFC_CG_CPU | SFC_CG_IO);
	}
	l->limits = cg->cgroup_limits ? "cgroup" : (s->memory || s->pids || s->nofile || s->fsize) ? "rlimit" : "none";

	/* What enforces each limit, for --explain. */
	if (s->memory) {
		sfc_format_size(s->memory, size, sizeof(size));
		if (cg->cgroup_limits & SFC_CG_MEMORY) {
			char sw[32] = "0";
			if (s->memory_swap == UINT64_MAX)
				snprintf(sw, sizeof(sw), "max");
			else if (s->memory_swap)
				sfc_format_size(s->memory_swap, sw, sizeof(sw));
			detail(l, "memory %s: cgroup memory.max, memory.swap.max %s", size, sw);
		} else {
			detail(l, "memory %s: RLIMIT_AS (address space; files in tmpfs are not counted)", size);
		}
	}
	if (s->pids)
		detail(l, "pids %llu: %s", (unsigned long long)s->pids,
		       cg->cgroup_limits & SFC_CG_PIDS ? "cgroup pids.max" : "RLIMIT_NPROC");
	if (s->cpu_milli)
		detail(l, "cpu %s: %s", (format_cpu(s->cpu_milli, size, sizeof(size)), size),
		       cg->cgroup_limits & SFC_CG_CPU ? "cgroup cpu.max" : "NOT ENFORCED (needs cgroup v2)");
	if (s->io_weight || s->io_max.items.n)
		detail(l, "io: %s", cg->cgroup_limits & SFC_CG_IO ? "cgroup io.weight/io.max" : "NOT ENFORCED (needs cgroup v2)");
	if (s->nofile)
		detail(l, "nofile %llu: RLIMIT_NOFILE", (unsigned long long)s->nofile);
	if (s->fsize)
		detail(l, "fsize: RLIMIT_FSIZE");
	if (!cg->active && why[0] && (s->memory || s->pids || s->cpu_milli || s->io_weight || s->io_max.items.n))
		detail(l, "no cgroup: %s", why);
	if (cg->active)
		return 0;

	/* No cgroup.  What rlimits cannot express is an error when demanded,
	 * else one note (SEFACA's promise: never silently ignored). */
	lost = 0;
	if (s->cpu_milli)
		lost |= SFC_CG_CPU;
	if (s->io_weight || s->io_max.items.n)
		lost |= SFC_CG_IO;
	if (s->memory && (asked(s, SFC_K_MEMORY) || s->require_limits))
		lost |= SFC_CG_MEMORY;
	if (!lost)
		return 0;
	list_names(lost, lostn, sizeof(lostn));
	if (s->require_limits)
		return sfc_err(e, 0, "require_limits: the %s limit%s cannot be enforced: %s%s", lostn,
			       strchr(lostn, ' ') ? "s" : "", why,
			       lost & SFC_CG_MEMORY ? " (an rlimit on address space is not a memory limit)" : "");
	{
		char buf[800], cpu[32];
		size_t o = 0;
		o += snprintf(buf + o, sizeof(buf) - o, "no cgroup v2 limits (%s):", why);
		if (lost & SFC_CG_CPU) {
			format_cpu(s->cpu_milli, cpu, sizeof(cpu));
			o += snprintf(buf + o, sizeof(buf) - o, " cpu=%s is not enforced;", cpu);
		}
		if (lost & SFC_CG_IO)
			o += snprintf(buf + o, sizeof(buf) - o, " io limits are not enforced;");
		if (lost & SFC_CG_MEMORY) {
			sfc_format_size(s->memory, size, sizeof(size));
			o += snprintf(buf + o, sizeof(buf) - o, " memory=%s is an rlimit on address space (tmpfs not counted);",
				      size);
		}
		if (o < sizeof(buf))
			snprintf(buf + o - 1, sizeof(buf) - o + 1, " (--require-limits makes this an error)");
		sfc_strv_push(notes, buf);
	}
	return 0;
}

/* ------------------------------------------------------------- re-exec */

int sfc_cgroup_reexec(struct sfc_cgroup *cg, struct sfc_error *e)
{
	char cmd[65536], exe[4096], *run;
	struct sfc_strv args = { 0 }, av = { 0 };
	ssize_t n, x;
	const char *base;
	size_t first;

	if (!ENABLE_FEATURE_CGROUP)
		return sfc_err(e, ENOTSUP, "cgroup v2 support was compiled out of this build (FEATURE_CGROUP)");
	if ((n = sfc_read_file_at(AT_FDCWD, "/proc/self/cmdline", cmd, sizeof(cmd))) <= 0 || n >= (ssize_t)sizeof(cmd) - 1)
		return sfc_err(e, n < 0 ? (int)-n : E2BIG, "cgroup: read /proc/self/cmdline");
	for (char *p = cmd; p < cmd + n; p += strlen(p) + 1)
		sfc_strv_push(&args, p);
	if ((x = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return sfc_err(e, errno, "cgroup: find my own binary");
	exe[x] = 0;
	if (!(run = sfc_which("systemd-run"))) {
		sfc_strv_clear(&args);
		return sfc_err(e, ENOENT, "cgroup: systemd-run");
	}
	/* The multi-call binary picks the applet from argv[0] or argv[1]. */
	base = strrchr(args.v[0], '/') ? strrchr(args.v[0], '/') + 1 : args.v[0];
	first = !strncmp(base, "sefaca-", 7) ? 1 : 2;
	if (first > args.n) {
		sfc_strv_clear(&args);
		free(run);
		return sfc_err(e, EINVAL, "cgroup: cannot tell which applet runs");
	}
	for (const char *a = "systemd-run\0--user\0--scope\0--quiet\0--collect\0-p\0Delegate=yes\0"
			     "--description=sefaca sandbox\0--\0";
	     *a; a += strlen(a) + 1)
		sfc_strv_push(&av, a);
	sfc_strv_push(&av, exe);
	sfc_strv_push(&av, first == 1 ? base + 7 : args.v[1]);
	for (size_t i = first; i < args.n; i++)
		sfc_strv_push(&av, args.v[i]);
	setenv(SFC_CGROUP_SCOPE_ENV, "1", 1);
	execv(run, av.v);
	/* still here: it failed */
	int err = errno;
	unsetenv(SFC_CGROUP_SCOPE_ENV);
	sfc_err(e, err, "cgroup: run %s", run);
	sfc_strv_clear(&args);
	sfc_strv_clear(&av);
	free(run);
	(void)cg;
	return -err;
}

/* ------------------------------------------------------------- create */

static int sweep_dir(const char *dir, bool dry_run, struct sfc_strv *removed)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[4096 + 256], inner[4096 + 300];
		unsigned long long start;
		pid_t pid;

		if (de->d_type != DT_DIR || !sfc_cgroup_name_parse(de->d_name, &pid, &start))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (populated(path) || (pid == getpid() && start == sfc_proc_starttime(pid)) ||
		    (pid != getpid() && sfc_proc_starttime(pid) == start))
			continue;
		found++;
		if (removed)
			sfc_strv_push(removed, path);
		if (dry_run)
			continue;
		snprintf(inner, sizeof(inner), "%s/payload", path);
		rmdir(inner);
		rmdir(path);
	}
	closedir(d);
	return found;
}

int sfc_cgroup_sweep(const char *dir, bool dry_run, struct sfc_strv *removed, struct sfc_error *e)
{
	struct sfc_cgroup cg;
	int r, n = 0;

	if (!ENABLE_FEATURE_CGROUP)
		return sfc_err(e, ENOTSUP, "cgroup v2 support was compiled out of this build (FEATURE_CGROUP)");
	if (dir) {
		if ((r = sweep_dir(dir, dry_run, removed)) < 0)
			return sfc_err(e, -r, "%s", dir);
		return r;
	}
	sfc_cgroup_init(&cg);
	if (find_base(&cg, 0, 0) == 0) {
		char *parent = parent_of(cg.self);
		if ((r = sweep_dir(cg.self, dry_run, removed)) > 0)
			n += r;
		if (strcmp(parent, cg.self) && writable(parent, NULL) && (r = sweep_dir(parent, dry_run, removed)) > 0)
			n += r;
		free(parent);
	}
	sfc_cgroup_free(&cg);
	return n;
}

static int cgwrite(struct sfc_cgroup *cg, const char *dir, const char *file, const char *val, struct sfc_error *e)
{
	int r = write_at(dir, file, val);
	if (r < 0)
		return sfc_err(e, -r, "cgroup: write '%s' to %s/%s", val, dir, file);
	return 0;
}

int sfc_cgroup_create(struct sfc_cgroup *cg, const struct sfc_spec *s, struct sfc_error *e)
{
	static unsigned counter;
	unsigned long long start;
	char buf[512];
	int r;

	if (!ENABLE_FEATURE_CGROUP || !cg->active)
		return sfc_err(e, ENOTSUP, "cgroup: no leaf planned");
	start = sfc_proc_starttime(getpid());
	/* leftovers of crashed runs in the same place (see the naming scheme) */
	sweep_dir(cg->base, false, NULL);
	if (cg->evacuate) {
		cg->sup = sfc_xasprintf("%s/sefaca-%d-%llu-sup", cg->base, (int)getpid(), start);
		if (mkdir(cg->sup, 0755) < 0 && errno != EEXIST)
			return sfc_err(e, errno, "cgroup: mkdir %s", cg->sup);
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		if ((r = cgwrite(cg, cg->sup, "cgroup.procs", buf, e)) < 0)
			return r;
	}
	if (cg->enable) {
		sfc_cgroup_format_controllers(cg->enable, "+", buf, sizeof(buf));
		if ((r = cgwrite(cg, cg->base, "cgroup.subtree_control", buf, e)) < 0)
			return r;
		cg->enabled = cg->enable;
	}
	cg->leaf = sfc_xasprintf("%s/sefaca-%d-%llu-%u", cg->base, (int)getpid(), start, counter++);
	if (mkdir(cg->leaf, 0755) < 0) {
		r = sfc_err(e, errno, "cgroup: mkdir %s", cg->leaf);
		free(cg->leaf);
		cg->leaf = NULL;
		return r;
	}
	if (cg->cgroup_limits & SFC_CG_MEMORY) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->memory);
		if ((r = cgwrite(cg, cg->leaf, "memory.max", buf, e)) < 0)
			return r;
		/* Without this a memory hog pushes its pages to swap instead of
		 * meeting the limit. */
		if (s->memory_swap == UINT64_MAX)
			snprintf(buf, sizeof(buf), "max");
		else
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->memory_swap);
		r = write_at(cg->leaf, "memory.swap.max", buf);
		if (r == -ENOENT && !s->memory_swap)
			r = 0; /* no swap accounting: nothing to swap to, or nothing to limit */
		if (r < 0)
			return sfc_err(e, -r, "cgroup: write '%s' to %s/memory.swap.max", buf, cg->leaf);
	}
	if (cg->cgroup_limits & SFC_CG_PIDS) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->pids);
		if ((r = cgwrite(cg, cg->leaf, "pids.max", buf, e)) < 0)
			return r;
	}
	if (cg->cgroup_limits & SFC_CG_CPU) {
		sfc_cgroup_cpu_max(s->cpu_milli, buf, sizeof(buf));
		if ((r = cgwrite(cg, cg->leaf, "cpu.max", buf, e)) < 0)
			return r;
	}
	if (cg->cgroup_limits & SFC_CG_IO) {
		if (s->io_weight) {
			snprintf(buf, sizeof(buf), "default %u", s->io_weight);
			if ((r = cgwrite(cg, cg->leaf, "io.weight", buf, e)) < 0)
				return r;
		}
		for (size_t i = 0; i < s->io_max.items.n; i++) {
			if ((r = sfc_cgroup_io_max_line(s->io_max.items.v[i], buf, sizeof(buf), e)) < 0 ||
			    (r = cgwrite(cg, cg->leaf, "io.max", buf, e)) < 0)
				return r;
		}
	}
	/* The sandbox's processes go one level down: the limits are then
	 * outside the cgroup namespace it sees, so even a cgroupfs it managed
	 * to mount (nested namespaces) shows neither them nor a way out
	 * (SECURITY.md 9). */
	cg->inner = sfc_xasprintf("%s/payload", cg->leaf);
	if (mkdir(cg->inner, 0755) < 0) {
		r = sfc_err(e, errno, "cgroup: mkdir %s", cg->inner);
		free(cg->inner);
		cg->inner = NULL;
		return r;
	}
	cg->inner_fd = open(cg->inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->inner_fd < 0)
		return sfc_err(e, errno, "cgroup: open %s", cg->inner);
	return 0;
}

int sfc_cgroup_attach(struct sfc_cgroup *cg, pid_t pid, struct sfc_error *e)
{
	char buf[32];

	if (!ENABLE_FEATURE_CGROUP)
		return sfc_err(e, ENOTSUP, "cgroup v2 support was compiled out of this build (FEATURE_CGROUP)");
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return cgwrite(cg, cg->inner, "cgroup.procs", buf, e);
}

void sfc_cgroup_kill(struct sfc_cgroup *cg)
{
	if (ENABLE_FEATURE_CGROUP && cg->leaf)
		write_at(cg->leaf, "cgroup.kill", "1");
}

void sfc_cgroup_collect(struct sfc_cgroup *cg, const struct sfc_spec *s, struct sfc_result *res)
{
	long long v;

	if (!ENABLE_FEATURE_CGROUP || !cg->leaf)
		return;
	res->usage_source = "cgroup";
	if ((v = keyed(cg->leaf, "cpu.stat", "usage_usec")) >= 0)
		res->cpu_time = v / 1e6;
	if (cg->controllers & SFC_CG_PIDS) {
		char buf[64];
		if (read_at(cg->leaf, "pids.peak", buf, sizeof(buf)) > 0)
			res->pids_peak = strtoull(buf, NULL, 10);
	}
	if (cg->controllers & SFC_CG_MEMORY) {
		char buf[64], size[32], detail[160];
		if (read_at(cg->leaf, "memory.peak", buf, sizeof(buf)) > 0)
			res->mem_peak = strtoull(buf, NULL, 10);
		if ((v = keyed(cg->leaf, "memory.events", "oom_kill")) > 0) {
			/* The memory limit killed part of the sandbox: the run was
			 * killed by its memory limit (DESIGN.md: exit 137), whatever
			 * the payload made of it. */
			res->oom_killed = true;
			if (!res->timed_out)
				res->status = 137;
			if (s->memory)
				sfc_format_size(s->memory, size, sizeof(size));
			else
				snprintf(size, sizeof(size), "(none)");
			snprintf(detail, sizeof(detail), "%lld process%s killed at memory.max %s", v, v == 1 ? "" : "es",
				 size);
			sfc_result_add_violation(res, "oom_killed", detail, "killed",
						 "raise --memory if the command needs more memory");
		}
	}
}

static void wait_unpopulated(const char *dir, int ms)
{
	char path[4096 + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	/* cgroup.events signals a change with POLLPRI (cgroup-v2.rst) */
	while (populated(dir) && ms > 0) {
		struct pollfd pf = { fd, POLLPRI, 0 };
		char b[128];
		poll(&pf, 1, ms < 100 ? ms : 100);
		lseek(fd, 0, SEEK_SET);
		(void)!read(fd, b, sizeof(b));
		ms -= 100;
	}
	close(fd);
}

int sfc_cgroup_destroy(struct sfc_cgroup *cg)
{
	int r = 0;

	if (!ENABLE_FEATURE_CGROUP)
		return 0;
	if (cg->inner_fd >= 0) {
		close(cg->inner_fd);
		cg->inner_fd = -1;
	}
	if (cg->leaf) {
		if (populated(cg->leaf)) {
			sfc_cgroup_kill(cg);
			wait_unpopulated(cg->leaf, 5000);
		}
		for (int i = 0; i < 50; i++) {
			if ((!cg->inner || rmdir(cg->inner) == 0 || errno == ENOENT) &&
			    (rmdir(cg->leaf) == 0 || errno == ENOENT)) {
				r = 0;
				break;
			}
			r = -errno;
			if (errno != EBUSY)
				break;
			usleep(2000);
		}
		free(cg->inner);
		free(cg->leaf);
		cg->inner = cg->leaf = NULL;
	}
	if (cg->sup) {
		char buf[64];
		/* back as we were: controllers off again, into our own cgroup */
		if (cg->enabled) {
			sfc_cgroup_format_controllers(cg->enabled, "-", buf, sizeof(buf));
			write_at(cg->base, "cgroup.subtree_control", buf);
			cg->enabled = 0;
		}
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		if (write_at(cg->self, "cgroup.procs", buf) == 0)
			rmdir(cg->sup);
		free(cg->sup);
		cg->sup = NULL;
	}
	return r;
}

const char *sfc_cgroup_leaf_rel(const struct sfc_cgroup *cg)
{
	return cg->leaf && strlen(cg->leaf) > cg->mnt_len ? cg->leaf + cg->mnt_len : NULL;
}

/* sefaca-clean's hook (core/cleanup.h): leaves of runs whose supervisor
 * died, by the naming scheme in core/cgroup.h. */
int sfc_clean_cgroup_leaves(struct sfc_clean_report *rep, struct sfc_error *e)
{
	struct sfc_strv removed = { 0 };
	int r;

	if (!ENABLE_FEATURE_CGROUP) {
		if (rep->note)
			rep->note("cgroup", "cgroup leaves: not checked (cgroup support is compiled out: FEATURE_CGROUP)",
				  rep->data);
		return 0;
	}
	if ((r = sfc_cgroup_sweep(NULL, rep->dry_run, &removed, e)) < 0)
		return r;
	for (size_t i = 0; i < removed.n; i++) {
		rep->items++;
		if (rep->item)
			rep->item("cgroup", removed.v[i], 0, rep->data);
	}
	sfc_strv_clear(&removed);
	return 0;
}

int sfc_cgroup_check(char *detail, size_t dlen, char *fix, size_t flen)
{
	struct sfc_cgroup cg;
	char ctl[64], sd[256];
	int st;

	fix[0] = 0;
	if (!ENABLE_FEATURE_CGROUP) {
		snprintf(detail, dlen, "cgroup v2 support is compiled out of this build (FEATURE_CGROUP): limits are rlimits");
		snprintf(fix, flen, "build sefaca with FEATURE_CGROUP");
		return 2;
	}
	sfc_cgroup_init(&cg);
	if (find_base(&cg, SFC_CG_MEMORY | SFC_CG_PIDS | SFC_CG_CPU, SFC_CG_IO) == 0) {
		sfc_cgroup_format_controllers(cg.controllers, "", ctl, sizeof(ctl));
		snprintf(detail, dlen, "a cgroup per sandbox in %s (%s)%s", cg.base, ctl,
			 cg.evacuate ? "; sefaca steps aside into a child of its own cgroup" : "");
		st = 0;
	} else if (sfc_cgroup_free(&cg), find_base(&cg, SFC_CG_MEMORY | SFC_CG_PIDS, 0) == 0) {
		snprintf(detail, dlen, "a cgroup per sandbox in %s, without the cpu controller: --cpu is not enforced",
			 cg.base);
		snprintf(fix, flen, "delegate the cpu controller too (systemd: Delegate=yes or Delegate=cpu memory pids)");
		st = 1;
	} else if (systemd_user_manager(sd, sizeof(sd))) {
		snprintf(detail, dlen, "%s; a run that asks for a limit re-executes in a delegated scope of the systemd "
				       "user manager (tens of milliseconds)", cg.why);
		snprintf(fix, flen, "start from a delegated cgroup to save the re-execution: systemd-run --user --scope "
				    "-p Delegate=yes $SHELL");
		st = 1;
	} else {
		snprintf(detail, dlen, "%s; %s: limits are rlimits (no --cpu, --io-*, tmpfs memory)", cg.why, sd);
		snprintf(fix, flen, "run under a delegated scope (systemd-run --user --scope -p Delegate=yes ...), or "
				    "delegate a cgroup v2 subtree to your user: chown the directory, cgroup.procs, "
				    "cgroup.subtree_control, cgroup.threads");
		st = 2;
	}
	sfc_cgroup_free(&cg);
	return st;
}

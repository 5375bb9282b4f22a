#include "core/check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/cgroup.h"
#include "core/fallback.h"
#include "core/landlock.h"
#include "core/sandbox.h"
#include "core/seccomp.h"
#include "core/userns.h"
#include "core/util.h"

static struct sfc_check_item *add(struct sfc_check *c, const char *layer, enum sfc_check_status st)
{
	struct sfc_check_item *it = &c->items[c->n++];

	memset(it, 0, sizeof(*it));
	it->layer = layer;
	it->status = st;
	return it;
}

const char *sfc_check_status_name(enum sfc_check_status s)
{
	static const char *const n[] = { "ok", "partial", "missing", "absent" };
	return n[s];
}

/* Run FN in a child (its own namespaces must not touch us); its exit
 * status is 0 or an errno. */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(fn(arg));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
}

static void check_kernel(struct sfc_check *c)
{
	struct utsname u;
	int maj = 0, min = 0;
	struct sfc_check_item *it;

	uname(&u);
	{
		char *end;
		maj = (int)strtol(u.release, &end, 10);
		min = *end == '.' ? (int)strtol(end + 1, NULL, 10) : 0;
	}
	if (maj > 5 || (maj == 5 && min >= 12)) {
		it = add(c, "kernel", SFC_CHECK_OK);
		snprintf(it->detail, sizeof(it->detail), "Linux %s (openat2 and mount_setattr: 5.12+)",
			 u.release);
	} else {
		it = add(c, "kernel", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "Linux %s is older than 5.12", u.release);
		snprintf(it->fix, sizeof(it->fix), "sefaca needs Linux 5.12 or later (openat2, mount_setattr)");
	}
}

static int netns_child(void *arg)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 ? errno : 0;
}

static int check_userns(struct sfc_check *c)
{
	int err = sfc_userns_probe();
	struct sfc_check_item *it;
	char why[512];

	if (!err) {
		it = add(c, "user namespaces", SFC_CHECK_OK);
		snprintf(it->detail, sizeof(it->detail), "unprivileged user, mount, pid, ipc, uts and cgroup namespaces");
		err = in_child(netns_child, NULL);
		it = add(c, "network namespace", err ? SFC_CHECK_MISSING : SFC_CHECK_OK);
		if (err) {
			snprintf(it->detail, sizeof(it->detail), "unshare(CLONE_NEWNET): %s", strerror(err));
			snprintf(it->fix, sizeof(it->fix), "raise user.max_net_namespaces; until then use --network=allow");
		} else {
			snprintf(it->detail, sizeof(it->detail), "network=deny, localhost and allowlists have their own "
								 "namespace");
		}
		return 0;
	}
	it = add(c, "user namespaces", SFC_CHECK_MISSING);
	snprintf(it->detail, sizeof(it->detail), "clone(CLONE_NEWUSER...): %s", strerror(err));
	if (sfc_userns_diagnose(err, why, sizeof(why)))
		snprintf(it->fix, sizeof(it->fix), "%s; or run with --best-effort (Landlock, seccomp, rlimits, no "
						   "namespaces)", why);
	else
		snprintf(it->fix, sizeof(it->fix), "allow unprivileged user namespaces, or run with --best-effort");
	return err;
}

struct ovl {
	const char *dir;
	uid_t uid;
	gid_t gid;
};

static int overlay_child(void *arg)
{
	struct ovl *o = arg;
	struct sfc_error e;
	char opts[1024], merged[512];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return errno;
	if (sfc_userns_map_self(0, o->uid, 0, o->gid, &e) < 0)
		return e.err ? e.err : EPERM;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return errno;
	snprintf(opts, sizeof(opts), "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", o->dir, o->dir, o->dir);
	snprintf(merged, sizeof(merged), "%s/m", o->dir);
	if (mount("overlay", merged, "overlay", 0, opts) < 0)
		return errno;
	umount2(merged, MNT_DETACH);
	return 0;
}

static void check_overlay(struct sfc_check *c, bool userns)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512], sub[600];
	struct ovl o = { dir, getuid(), getgid() };
	struct sfc_check_item *it;
	int err;

	if (!userns) {
		it = add(c, "overlayfs in userns", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "needs user namespaces");
		snprintf(it->fix, sizeof(it->fix), "see user namespaces; sefaca-container needs both");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/sefaca-check.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		it = add(c, "overlayfs in userns", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "cannot make a scratch directory: %s", strerror(errno));
		return;
	}
	for (const char *s = "luwm"; *s; s++) {
		snprintf(sub, sizeof(sub), "%s/%c", dir, *s);
		mkdir(sub, 0755);
	}
	err = in_child(overlay_child, &o);
	/* the work directory holds an inaccessible "work/work" after a mount */
	for (const char *s = "mluw"; *s; s++) {
		snprintf(sub, sizeof(sub), "%s/%c/work", dir, *s);
		chmod(sub, 0700);
		rmdir(sub);
		snprintf(sub, sizeof(sub), "%s/%c", dir, *s);
		rmdir(sub);
	}
	rmdir(dir);
	if (!err) {
		it = add(c, "overlayfs in userns", SFC_CHECK_OK);
		snprintf(it->detail, sizeof(it->detail), "unprivileged overlay mounts (container root filesystems)");
	} else {
		it = add(c, "overlayfs in userns", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "mount -t overlay in a user namespace: %s", strerror(err));
		snprintf(it->fix, sizeof(it->fix), "Linux 5.11 or later mounts overlayfs in user namespaces (Ubuntu "
						   "kernels earlier); a rootfs on overlayfs itself cannot be a lower "
						   "layer on some kernels");
	}
}

static int check_landlock(struct sfc_check *c)
{
	const char *why;
	int abi = sfc_landlock_abi(&why);
	struct sfc_check_item *it;

	if (!abi) {
		it = add(c, "landlock", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "%s", why);
		snprintf(it->fix, sizeof(it->fix), "%s",
			 ENABLE_FEATURE_LANDLOCK ? "Linux 5.13+ with CONFIG_SECURITY_LANDLOCK=y and landlock in the "
						   "lsm= boot parameter (or CONFIG_LSM)"
						 : "rebuild sefaca with FEATURE_LANDLOCK");
		return 0;
	}
	it = add(c, "landlock", abi >= 6 ? SFC_CHECK_OK : SFC_CHECK_PARTIAL);
	snprintf(it->detail, sizeof(it->detail), "ABI %d: %s", abi, sfc_landlock_abi_features(abi));
	if (abi < 4)
		snprintf(it->fix, sizeof(it->fix), "Linux 6.7+ adds TCP rules (ABI 4), 6.12+ scoped signals and "
						   "abstract sockets (ABI 6)");
	else if (abi < 6)
		snprintf(it->fix, sizeof(it->fix), "Linux 6.12+ scopes abstract unix sockets and signals (ABI 6)");
	return abi;
}

static int seccomp_child(void *arg)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog p = { 1, &allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return errno;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) < 0 ? errno : 0;
}

static bool check_seccomp(struct sfc_check *c)
{
	struct sfc_check_item *it;
	int err = in_child(seccomp_child, NULL);

	if (err) {
		it = add(c, "seccomp", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "the kernel refuses a filter: %s", strerror(err));
		snprintf(it->fix, sizeof(it->fix), "a kernel with CONFIG_SECCOMP_FILTER=y");
		return false;
	}
	if (!sfc_seccomp_compiled()) {
		it = add(c, "seccomp", SFC_CHECK_MISSING);
		snprintf(it->detail, sizeof(it->detail), "the kernel has it, this build does not");
		snprintf(it->fix, sizeof(it->fix), "rebuild sefaca with FEATURE_SECCOMP (libseccomp-dev at build time)");
		return false;
	}
	{
		unsigned short sizes[3];
		bool notif = syscall(SYS_seccomp, 3 /* SECCOMP_GET_NOTIF_SIZES */, 0, sizes) == 0;
		it = add(c, "seccomp", SFC_CHECK_OK);
		snprintf(it->detail, sizeof(it->detail), "filters compiled in (%u instructions at default)%s",
			 sfc_seccomp_filter_len(SFC_SECCOMP_DEFAULT, false, SFC_SECCOMP_ERRNO),
			 notif ? "; user notification available" : "");
	}
	return true;
}

/* The unified hierarchy and whether our own cgroup there is ours to
 * manage (the limits issue's delegation rules, read-only here). */
static void check_cgroup(struct sfc_check *c)
{
	/* the same decision a run makes (core/cgroup.c), without writing */
	char detail[sizeof(c->items[0].detail)], fix[sizeof(c->items[0].fix)];
	int st = sfc_cgroup_check(detail, sizeof(detail), fix, sizeof(fix));
	struct sfc_check_item *it = add(c, "cgroup v2", st == 0 ? SFC_CHECK_OK : st == 1 ? SFC_CHECK_PARTIAL : SFC_CHECK_MISSING);

	snprintf(it->detail, sizeof(it->detail), "%s", detail);
	snprintf(it->fix, sizeof(it->fix), "%s", fix);
}

static void check_tool(struct sfc_check *c, const char *layer, const char *name, const char *pkg, const char *use)
{
	const char *path = getenv("PATH");
	struct sfc_check_item *it;

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (n && access(buf, X_OK) == 0) {
			it = add(c, layer, SFC_CHECK_OK);
			snprintf(it->detail, sizeof(it->detail), "%s (%s)", buf, use);
			return;
		}
		path += n;
		if (*path)
			path++;
	}
	it = add(c, layer, SFC_CHECK_ABSENT);
	snprintf(it->detail, sizeof(it->detail), "not installed (%s)", use);
	snprintf(it->fix, sizeof(it->fix), "apt-get install %s", pkg);
}

void sfc_check_run(struct sfc_check *c)
{
	int userns_err, abi;
	bool seccomp;

	memset(c, 0, sizeof(*c));
	check_kernel(c);
	userns_err = check_userns(c);
	check_overlay(c, !userns_err);
	abi = check_landlock(c);
	seccomp = check_seccomp(c);
	check_cgroup(c);
	check_tool(c, "pasta", "pasta", "passt", "user-mode networking for containers");
	check_tool(c, "slirp4netns", "slirp4netns", "slirp4netns", "user-mode networking for containers");
	c->full = !userns_err && c->items[0].status == SFC_CHECK_OK;
	c->best_effort = abi > 0 && seccomp;
}

static void json_str(struct sfc_strv *out, const char *s)
{
	size_t n = strlen(s);
	char *o = sfc_xmalloc(n * 6 + 3), *p = o;

	*p++ = '"';
	for (; *s; s++) {
		unsigned char ch = *s;
		if (ch == '"' || ch == '\\') {
			*p++ = '\\';
			*p++ = ch;
		} else if (ch < 0x20) {
			p += sprintf(p, "\\u%04x", ch);
		} else {
			*p++ = ch;
		}
	}
	*p++ = '"';
	*p = 0;
	sfc_strv_push_owned(out, o);
}

static char *join(struct sfc_strv *parts)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < parts->n; i++)
		len += strlen(parts->v[i]);
	s = sfc_xmalloc(len);
	s[0] = 0;
	for (size_t i = 0; i < parts->n; i++)
		strcat(s, parts->v[i]);
	sfc_strv_clear(parts);
	return s;
}

char *sfc_check_format(const struct sfc_check *c, bool json)
{
	struct sfc_strv o = { 0 };
	const char *verdict = c->full ? "full" : c->best_effort ? "best-effort" : "none";

	if (json) {
		sfc_strv_push(&o, "{\"sandbox\":");
		json_str(&o, verdict);
		sfc_strv_push(&o, ",\"checks\":[");
		for (size_t i = 0; i < c->n; i++) {
			const struct sfc_check_item *it = &c->items[i];
			sfc_strv_push(&o, i ? ",{\"layer\":" : "{\"layer\":");
			json_str(&o, it->layer);
			sfc_strv_push(&o, ",\"status\":");
			json_str(&o, sfc_check_status_name(it->status));
			sfc_strv_push(&o, ",\"detail\":");
			json_str(&o, it->detail);
			sfc_strv_push(&o, ",\"fix\":");
			if (it->fix[0])
				json_str(&o, it->fix);
			else
				sfc_strv_push(&o, "null");
			sfc_strv_push(&o, "}");
		}
		sfc_strv_push(&o, "]}\n");
		return join(&o);
	}
	sfc_strv_push_owned(&o, sfc_xasprintf("%-22s %-8s %s\n", "LAYER", "STATUS", "DETAIL"));
	for (size_t i = 0; i < c->n; i++) {
		const struct sfc_check_item *it = &c->items[i];
		sfc_strv_push_owned(&o, sfc_xasprintf("%-22s %-8s %s\n", it->layer, sfc_check_status_name(it->status),
						      it->detail));
		if (it->fix[0])
			sfc_strv_push_owned(&o, sfc_xasprintf("%-22s %-8s fix: %s\n", "", "", it->fix));
	}
	sfc_strv_push_owned(&o, sfc_xasprintf("\n%s\n", c->full ? "sefaca-run builds its full sandbox here."
					      : c->best_effort
						      ? "sefaca-run cannot make namespaces here; with --best-effort it runs "
							"on Landlock, seccomp and rlimits (see the fixes above)."
						      : "sefaca-run cannot sandbox here: see the fixes above."));
	return join(&o);
}

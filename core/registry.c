#include "core/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/auditlog.h"
#include "core/sandbox.h"
#include "core/util.h"

#define REG_SUBDIR "sandboxes"

static bool dir_is_mine(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & 022);
}

char *sfc_registry_dir(struct sfc_error *e)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	char run[64];

	if (x && x[0] == '/')
		return sfc_xasprintf("%s/sefaca/" REG_SUBDIR, x);
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)getuid());
	if (dir_is_mine(run))
		return sfc_xasprintf("%s/sefaca/" REG_SUBDIR, run);
	{
		_cleanup_free_ char *home = sfc_home_dir();
		if (home[0] != '/') {
			sfc_err(e, 0, "no runtime directory: XDG_RUNTIME_DIR is unset and SEFACA_HOME is not absolute");
			return NULL;
		}
		return sfc_xasprintf("%s/run/" REG_SUBDIR, home);
	}
}

/* mkdir -p, private: the registry says what the user runs. */
static int mkdir_p(char *path, mode_t mode)
{
	char *s = path + 1;

	for (;;) {
		char *sl = strchr(s, '/');
		if (sl)
			*sl = 0;
		if (mkdir(path, mode) < 0 && errno != EEXIST) {
			int err = errno;
			if (sl)
				*sl = '/';
			return -err;
		}
		if (!sl)
			return 0;
		*sl = '/';
		s = sl + 1;
	}
}

static size_t json_escape_into(char *o, size_t size, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s && n + 7 < size && max; s++, max--) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			o[n++] = '\\';
			o[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o[n++] = '\\';
			o[n++] = 'u';
			o[n++] = '0';
			o[n++] = '0';
			o[n++] = hex[c >> 4];
			o[n++] = hex[c & 15];
		} else {
			o[n++] = (char)c;
		}
	}
	o[n] = 0;
	return n;
}

int sfc_registry_add(struct sfc_reg *reg, const struct sfc_sandbox *sb, const char *applet, const char *name,
		     const char *cgroup, struct sfc_error *e)
{
	char rec[4096], tmp[4160], cmd[2048];
	size_t cn = 0, n;
	struct timespec bt, rt;
	_cleanup_free_ char *dir = NULL;
	pid_t me = getpid();
	int fd;

	reg->path[0] = 0;
	if (!ENABLE_FEATURE_REGISTRY)
		return sfc_err(e, ENOTSUP, "the sandbox registry is compiled out (FEATURE_REGISTRY)");
	if (!(dir = sfc_registry_dir(e)))
		return -EINVAL;
	clock_gettime(CLOCK_BOOTTIME, &bt);
	clock_gettime(CLOCK_REALTIME, &rt);
	/* the command as typed, space-joined and cut at 400 bytes */
	for (char **a = sb->spec->argv; a && *a && cn < 400; a++) {
		if (a != sb->spec->argv)
			cmd[cn++] = ' ';
		n = strnlen(*a, 400 - cn);
		memcpy(cmd + cn, *a, n);
		cn += n;
	}
	cmd[cn] = 0;
	n = (size_t)snprintf(rec, sizeof(rec),
			     "{\"pid\":%d,\"init_pid\":%d,\"boot_ns\":%llu,\"started\":%lld.%03ld,\"applet\":\"", (int)me,
			     (int)sb->result.pid, (unsigned long long)bt.tv_sec * 1000000000ULL + (unsigned long long)bt.tv_nsec,
			     (long long)rt.tv_sec, rt.tv_nsec / 1000000);
	n += json_escape_into(rec + n, 64, applet ? applet : "", 31);
	memcpy(rec + n, "\",\"name\":\"", 10);
	n += 10;
	n += json_escape_into(rec + n, 200, name ? name : "", 63);
	memcpy(rec + n, "\",\"cgroup\":\"", 12);
	n += 12;
	n += json_escape_into(rec + n, 1024, cgroup ? cgroup : "", 255);
	memcpy(rec + n, "\",\"command\":\"", 13);
	n += 13;
	n += json_escape_into(rec + n, sizeof(rec) - n - 4, cmd, 511);
	memcpy(rec + n, "\"}\n", 4);
	n += 3;

	snprintf(tmp, sizeof(tmp), "%s/.%d.tmp", dir, (int)me);
	snprintf(reg->path, sizeof(reg->path), "%s/%d.json", dir, (int)me);
	/* openat(2) directly: musl's open() adds an fcntl(F_SETFD) for
	 * O_CLOEXEC, a system call this hot path does not need */
	fd = (int)syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT) {
		int r = mkdir_p(dir, 0700);
		if (r < 0) {
			reg->path[0] = 0;
			return sfc_err(e, -r, "registry %s", dir);
		}
		fd = (int)syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		reg->path[0] = 0;
		return sfc_err(e, errno, "registry %s", tmp);
	}
	if (sfc_write_full(fd, rec, n) < 0 || close(fd) < 0 || rename(tmp, reg->path) < 0) {
		int err = errno;
		unlink(tmp);
		reg->path[0] = 0;
		return sfc_err(e, err, "registry %s", tmp);
	}
	return 0;
}

void sfc_registry_remove(struct sfc_reg *reg)
{
	if (reg->path[0])
		unlink(reg->path);
	reg->path[0] = 0;
}

void sfc_registry_on_start(struct sfc_sandbox *sb, void *data)
{
	struct sfc_reg *reg = data;

	/* the sandbox's cgroup leaf (where its limits and figures are), if it
	 * has one; else the live view looks at /proc/INIT/cgroup */
	sfc_registry_add(reg, sb, reg->applet, reg->name, sfc_cgroup_leaf_rel(&sb->cg), &reg->err);
}

static bool read_stat_start(pid_t pid, unsigned long long *ticks)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((n = sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf))) <= 0)
		return false;
	/* comm may hold spaces and parentheses: fields start after the last ')' */
	if (!(p = strrchr(buf, ')')))
		return false;
	p++;
	/* field 3 (state) is the first after ')'; starttime is field 22 */
	for (i = 3; i < 22 && p; i++) {
		p = strchr(p + 1, ' ');
	}
	if (!p)
		return false;
	*ticks = strtoull(p + 1, NULL, 10);
	return true;
}

int sfc_registry_alive(pid_t pid, uint64_t boot_ns)
{
	static long hz;
	unsigned long long ticks;
	struct timespec now;

	if (pid <= 0)
		return 0;
	clock_gettime(CLOCK_BOOTTIME, &now);
	if (boot_ns > (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec)
		return 0; /* written before this boot */
	if (!read_stat_start(pid, &ticks))
		return 0;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	/* the kernel rounds the start time down to a tick: a process that
	 * registered after it started always passes; one that took the pid
	 * after the record was written started later than it */
	return (uint64_t)ticks * (1000000000ULL / (uint64_t)hz) <= boot_ns;
}

static void get_str(const struct sfc_span *obj, const char *k, char *out, size_t size)
{
	if (!sfc_json_object_get(obj, k, out, size))
		out[0] = 0;
}

int sfc_registry_parse(const char *text, size_t len, struct sfc_reg_entry *en)
{
	struct sfc_span obj = { text, (uint32_t)len, false };
	struct sfc_audit_rec r;
	const char *why;
	char num[64];

	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	obj.n = (uint32_t)len;
	if (sfc_audit_parse(text, len, &r, &why) < 0)
		return -1;
	get_str(&obj, "pid", num, sizeof(num));
	en->pid = (pid_t)atoi(num);
	get_str(&obj, "init_pid", num, sizeof(num));
	en->init_pid = (pid_t)atoi(num);
	get_str(&obj, "boot_ns", num, sizeof(num));
	en->boot_ns = strtoull(num, NULL, 10);
	get_str(&obj, "started", num, sizeof(num));
	en->started = strtod(num, NULL);
	get_str(&obj, "applet", en->applet, sizeof(en->applet));
	get_str(&obj, "name", en->name, sizeof(en->name));
	get_str(&obj, "cgroup", en->cgroup, sizeof(en->cgroup));
	get_str(&obj, "command", en->command, sizeof(en->command));
	return en->pid > 0 ? 0 : -1;
}

int sfc_registry_scan(const char *dir, int (*fn)(const struct sfc_reg_entry *en, bool live, void *data), void *data,
		      struct sfc_error *e)
{
	DIR *d;
	struct dirent *de;
	int dfd, r = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return sfc_err(e, errno, "%s", dir);
	}
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return sfc_err(e, errno, "%s", dir);
	}
	while ((de = readdir(d))) {
		struct sfc_reg_entry en;
		char buf[8192];
		ssize_t n;
		int fd;

		if (!sfc_str_has_suffix(de->d_name, ".json") || de->d_name[0] == '.')
			continue;
		memset(&en, 0, sizeof(en));
		snprintf(en.file, sizeof(en.file), "%s", de->d_name);
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue; /* removed meanwhile: the run ended */
		n = sfc_read_full(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0)
			continue;
		buf[n] = 0;
		if (sfc_registry_parse(buf, (size_t)n, &en) < 0) {
			memset(&en, 0, sizeof(en));
			snprintf(en.file, sizeof(en.file), "%s", de->d_name);
			en.pid = (pid_t)atoi(de->d_name);
			if ((r = fn(&en, false, data)) < 0)
				break;
			continue;
		}
		if ((r = fn(&en, sfc_registry_alive(en.pid, en.boot_ns) == 1, data)) < 0)
			break;
	}
	closedir(d);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------ usage */

static int cmp_proc(const void *a, const void *b)
{
	const struct sfc_proc_info *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool parse_stat(const char *buf, struct sfc_proc_info *pi)
{
	const char *p = strrchr(buf, ')');
	unsigned long long v[24];
	int i = 0;

	if (!p)
		return false;
	p += 2; /* ") " */
	/* fields from 3 (state) on; v[k] is field k+3 */
	while (*p && i < 22) {
		if (i == 0) {
			v[i++] = 0; /* state letter */
			p++;
		} else {
			char *end;
			v[i++] = strtoull(p, &end, 10);
			p = end;
		}
		while (*p == ' ')
			p++;
	}
	if (i < 22)
		return false;
	pi->ppid = (pid_t)v[1];           /* field 4 */
	pi->cpu_ticks = v[11] + v[12];    /* fields 14, 15 */
	pi->threads = (uint32_t)v[17];    /* field 20 */
	pi->rss_pages = v[21];            /* field 24 */
	return true;
}

int sfc_proc_snapshot(struct sfc_proc_snap *s, struct sfc_error *e)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t cap = 0;

	s->p = NULL;
	s->n = 0;
	if (!d)
		return sfc_err(e, errno, "/proc");
	while ((de = readdir(d))) {
		char path[64], buf[1024];
		struct sfc_proc_info pi = { 0 };

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pi.pid = (pid_t)atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0 || !parse_stat(buf, &pi))
			continue;
		if (s->n == cap) {
			cap = cap ? cap * 2 : 256;
			s->p = sfc_xrealloc(s->p, cap * sizeof(*s->p));
		}
		s->p[s->n++] = pi;
	}
	closedir(d);
	if (s->n)
		qsort(s->p, s->n, sizeof(*s->p), cmp_proc);
	return 0;
}

void sfc_proc_snapshot_free(struct sfc_proc_snap *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

static const struct sfc_proc_info *find_proc(const struct sfc_proc_snap *s, pid_t pid)
{
	struct sfc_proc_info key = { .pid = pid };
	if (!s->n)
		return NULL;
	return bsearch(&key, s->p, s->n, sizeof(*s->p), cmp_proc);
}

/* Is P in the tree rooted at ROOT? */
static bool in_tree(const struct sfc_proc_snap *s, const struct sfc_proc_info *p, pid_t root)
{
	for (int depth = 0; p && depth < 4096; depth++) {
		if (p->pid == root)
			return true;
		if (p->ppid <= 1)
			return false;
		p = find_proc(s, p->ppid);
	}
	return false;
}

/* The cgroup v2 path of PID ("0::/a/b" -> "/a/b"). */
static bool v2_path(pid_t pid, char *out, size_t size)
{
	char path[64], buf[4096], *l;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return false;
	for (l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "0::", 3)) {
			size_t n = strcspn(l + 3, "\n");
			snprintf(out, size, "%.*s", (int)n, l + 3);
			return true;
		}
	}
	return false;
}

/* Where cgroup2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on
 * a hybrid machine; found once from mountinfo. */
static const char *cgroup2_root(void)
{
	static char root[256];
	static int done;
	char buf[65536], *l;

	if (done)
		return root[0] ? root : NULL;
	done = 1;
	if (sfc_read_file_at(AT_FDCWD, "/proc/self/mountinfo", buf, sizeof(buf)) <= 0)
		return NULL;
	for (l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char mnt[256], fstype[64];
		const char *dash = strstr(l, " - ");
		if (!dash || dash > strchr(l, '\n'))
			continue;
		if (sscanf(dash + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(l, "%*s %*s %*s %*s %255s", mnt) == 1) {
			snprintf(root, sizeof(root), "%s", mnt);
			break;
		}
	}
	return root[0] ? root : NULL;
}

static bool read_u64(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[4096 + 64], buf[4096];
	const char *p = buf;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (sfc_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return false;
	if (key) {
		size_t kl = strlen(key);
		for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (!strncmp(p, key, kl) && p[kl] == ' ')
				break;
		if (!p)
			return false;
		p += kl + 1;
	}
	if (*p < '0' || *p > '9')
		return false;
	*out = strtoull(p, NULL, 10);
	return true;
}

void sfc_usage_of(const struct sfc_reg_entry *en, const struct sfc_proc_snap *s, struct sfc_usage *u)
{
	static long hz, page;
	char leaf[256] = "", sup[256] = "";
	bool have_cpu = false, have_mem = false, have_pids = false;
	const char *root = NULL;

	memset(u, 0, sizeof(*u));
	if (!hz) {
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
		page = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
	}
	if (en->cgroup[0])
		snprintf(leaf, sizeof(leaf), "%s", en->cgroup);
	else if (en->init_pid > 0 && v2_path(en->init_pid, leaf, sizeof(leaf)) && v2_path(en->pid, sup, sizeof(sup)) &&
		 !strcmp(leaf, sup))
		leaf[0] = 0; /* the sandbox shares its supervisor's cgroup: no figures of its own there */
	if (leaf[0] && strcmp(leaf, "/") && (root = cgroup2_root())) {
		char dir[4096];
		uint64_t v;
		snprintf(dir, sizeof(dir), "%s%s", root, leaf);
		if (read_u64(dir, "cpu.stat", "usage_usec", &v)) {
			u->cpu_ns = v * 1000;
			have_cpu = true;
		}
		if (read_u64(dir, "memory.current", NULL, &v)) {
			u->mem_bytes = v;
			have_mem = true;
		}
		if (read_u64(dir, "pids.current", NULL, &v)) {
			u->pids = (uint32_t)v;
			have_pids = true;
		}
		if (have_cpu || have_mem || have_pids)
			snprintf(u->cgroup, sizeof(u->cgroup), "%s", leaf);
	}
	if (!(have_cpu && have_mem && have_pids) && en->init_pid > 0) {
		uint64_t ticks = 0, rss = 0;
		uint32_t tasks = 0;
		for (size_t i = 0; i < s->n; i++) {
			if (!in_tree(s, &s->p[i], en->init_pid))
				continue;
			ticks += s->p[i].cpu_ticks;
			rss += s->p[i].rss_pages;
			tasks += s->p[i].threads;
		}
		if (!have_cpu)
			u->cpu_ns = ticks * (1000000000ULL / (uint64_t)hz);
		if (!have_mem)
			u->mem_bytes = rss * (uint64_t)page;
		if (!have_pids)
			u->pids = tasks;
	}
	snprintf(u->source, sizeof(u->source), "%s",
		 (have_cpu && have_mem && have_pids) ? "cgroup" : (have_cpu || have_mem || have_pids) ? "cgroup+proc" : "proc");
}

/* Unit tests: Landlock rules planned from mount plans (inside the
 * sandbox, and on the host's tree without namespaces), and the fallback's
 * extra seccomp filter run through a classic-BPF interpreter. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/fallback.h"
#include "core/landlock.h"
#include "unit.h"

static const struct sfc_landlock_rule *rule(const struct sfc_landlock *ll, const char *path)
{
	for (size_t i = 0; i < ll->n; i++)
		if (!strcmp(ll->rules[i].path, path))
			return &ll->rules[i];
	return NULL;
}

static uint64_t access_of(const struct sfc_landlock *ll, const char *path)
{
	const struct sfc_landlock_rule *r = rule(ll, path);
	return r ? r->access : 0;
}

static void default_plan(struct sfc_mount_plan *p, const char *home)
{
	char buf[512];

	memset(p, 0, sizeof(*p));
	p->root = SFC_ROOT_TMPFS;
	sfc_mount_plan_add(p, SFC_MOP_BIND, SFC_MOP_RO, "/usr", "/usr", "system");
	sfc_mount_plan_add(p, SFC_MOP_SYMLINK, 0, "usr/bin", "/bin", "system");
	sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, "/tmp", "private tmp");
	sfc_mount_plan_add(p, SFC_MOP_PROC, 0, NULL, "/proc", "procfs");
	sfc_mount_plan_add(p, SFC_MOP_DEV, 0, NULL, "/dev", "devices");
	sfc_mount_plan_add(p, SFC_MOP_SYS, SFC_MOP_RO, NULL, "/sys", "sysfs");
	sfc_mount_plan_add(p, SFC_MOP_DIR, 0, NULL, "/run", "empty");
	sfc_mount_plan_add(p, SFC_MOP_BIND, SFC_MOP_RO, home, home, "home");
	snprintf(buf, sizeof(buf), "%s/proj", home);
	sfc_mount_plan_add(p, SFC_MOP_BIND, 0, buf, buf, "current directory");
	snprintf(buf, sizeof(buf), "%s/.ssh", home);
	sfc_mount_plan_add(p, SFC_MOP_HIDE, 0, NULL, buf, "secret store");
	sfc_strv_push(&p->hidden, buf);
	sfc_mount_plan_add(p, SFC_MOP_TMPFS, 0, NULL, "/scratch", "tmpfs");
}

TEST(inside_mirrors_the_plan)
{
	struct sfc_spec s;
	struct sfc_mount_plan p;
	struct sfc_landlock ll;
	struct sfc_strv notes = { 0 };
	struct sfc_error e;
	uint64_t all7 = (1ULL << 16) - 1;

	sfc_spec_init(&s);
	s.network = SFC_NET_DENY;
	default_plan(&p, "/home/u");
	CHECK(sfc_landlock_plan(&ll, 7, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.abi == 7 && ll.handled_fs == all7);
	CHECK(ll.handled_net == (SFC_LL_NET_BIND_TCP | SFC_LL_NET_CONNECT_TCP));
	CHECK(ll.scoped == (SFC_LL_SCOPE_ABSTRACT_UNIX_SOCKET | SFC_LL_SCOPE_SIGNAL));
	/* the view is the grant: reading anything below the new root, and
	 * rules of their own only for what may be written */
	CHECK(access_of(&ll, "/") == SFC_LL_RO);
	CHECK(!rule(&ll, "/usr") && !rule(&ll, "/home/u") && !rule(&ll, "/sys"));
	CHECK(access_of(&ll, "/home/u/proj") == all7);
	CHECK(access_of(&ll, "/tmp") == all7);
	CHECK(access_of(&ll, "/scratch") == all7);
	CHECK(access_of(&ll, "/proc") == SFC_LL_PROC);
	CHECK(access_of(&ll, "/dev") == SFC_LL_DEV);
	CHECK(ll.n == 7); /* /, proj, /tmp, /scratch, /proc, /dev, /dev/shm */
	CHECK(access_of(&ll, "/dev/shm") == all7);
	CHECK(!rule(&ll, "/home/u/.ssh") && !rule(&ll, "/bin") && !rule(&ll, "/run"));
	sfc_landlock_free(&ll);

	/* older ABIs: only their rights; no TCP rules before 4, no scopes before 6 */
	CHECK(sfc_landlock_plan(&ll, 3, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.handled_fs == (1ULL << 15) - 1 && ll.handled_net == 0 && ll.scoped == 0);
	CHECK(access_of(&ll, "/dev") == (SFC_LL_DEV & ~SFC_LL_FS_IOCTL_DEV));
	sfc_landlock_free(&ll);
	CHECK(sfc_landlock_plan(&ll, 5, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.handled_net != 0 && ll.scoped == 0);
	sfc_landlock_free(&ll);
	CHECK(sfc_landlock_plan(&ll, 99, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.abi == SFC_LANDLOCK_ABI_KNOWN);
	sfc_landlock_free(&ll);

	/* localhost in a namespace: loopback is the namespace's business */
	s.network = SFC_NET_LOCALHOST;
	CHECK(sfc_landlock_plan(&ll, 7, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.handled_net == 0);
	sfc_landlock_free(&ll);

	/* a nested sandbox must mount: no filesystem rules, the rest stays */
	s.allow_nested = true;
	s.network = SFC_NET_DENY;
	CHECK(sfc_landlock_plan(&ll, 7, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.handled_fs == 0 && ll.n == 0 && ll.handled_net != 0 && ll.scoped != 0);
	sfc_landlock_free(&ll);
	sfc_mount_plan_free(&p);
	sfc_strv_clear(&notes);
}

TEST(host_view_keeps_host_sockets)
{
	struct sfc_spec s;
	struct sfc_mount_plan p = { 0 };
	struct sfc_landlock ll;
	struct sfc_strv notes = { 0 };
	struct sfc_error e;

	sfc_spec_init(&s);
	s.network = SFC_NET_ALLOW;
	p.root = SFC_ROOT_HOST;
	CHECK(sfc_landlock_plan(&ll, 7, &s, &p, true, &notes, &e) == 0);
	CHECK(ll.scoped == SFC_LL_SCOPE_SIGNAL && ll.handled_net == 0);
	CHECK(access_of(&ll, "/") == (1ULL << 16) - 1);
	sfc_landlock_free(&ll);
	p.root_ro = true;
	CHECK(sfc_landlock_plan(&ll, 7, &s, &p, true, &notes, &e) == 0);
	CHECK(access_of(&ll, "/") == SFC_LL_RO);
	sfc_landlock_free(&ll);
	sfc_mount_plan_free(&p);
	sfc_strv_clear(&notes);
}

static void touch(const char *dir, const char *name)
{
	char buf[512];
	int fd;

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

TEST(host_carves_hidden_paths)
{
	char tmpl[] = "/tmp/sefaca-unit.XXXXXX", home[600], buf[700], ssh[700], proj[700];
	struct sfc_spec s;
	struct sfc_mount_plan p;
	struct sfc_landlock ll;
	struct sfc_strv notes = { 0 };
	struct sfc_error e;
	uint64_t all = (1ULL << 16) - 1;

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(home, sizeof(home), "%s/home", tmpl);
	snprintf(ssh, sizeof(ssh), "%s/.ssh", home);
	snprintf(proj, sizeof(proj), "%s/proj", home);
	mkdir(home, 0755);
	mkdir(ssh, 0700);
	mkdir(proj, 0755);
	snprintf(buf, sizeof(buf), "%s/.config", home);
	mkdir(buf, 0755);
	touch(ssh, "id_rsa");
	touch(home, ".bashrc");
	snprintf(buf, sizeof(buf), "%s/link", home);
	CHECK(symlink("/etc", buf) == 0);

	sfc_spec_init(&s);
	s.network = SFC_NET_LOCALHOST;
	default_plan(&p, home);
	CHECK(sfc_landlock_plan(&ll, 7, &s, &p, false, &notes, &e) == 0);
	/* without a namespace loopback cannot be told apart: deny */
	CHECK(ll.handled_net == (SFC_LL_NET_BIND_TCP | SFC_LL_NET_CONNECT_TCP));
	CHECK(!rule(&ll, "/")); /* nothing of the host's root */
	CHECK(access_of(&ll, home) == SFC_LL_FS_READ_DIR);
	snprintf(buf, sizeof(buf), "%s/.bashrc", home);
	CHECK(access_of(&ll, buf) == (SFC_LL_RO & SFC_LL_FILE));
	snprintf(buf, sizeof(buf), "%s/.config", home);
	CHECK(access_of(&ll, buf) == SFC_LL_RO);
	CHECK(access_of(&ll, proj) == all); /* the read-write grant wins there */
	CHECK(!rule(&ll, ssh));
	snprintf(buf, sizeof(buf), "%s/id_rsa", ssh);
	CHECK(!rule(&ll, buf));
	snprintf(buf, sizeof(buf), "%s/link", home);
	CHECK(!rule(&ll, buf));
	CHECK(!rule(&ll, "/tmp") && !rule(&ll, "/scratch") && !rule(&ll, "/dev"));
	CHECK(access_of(&ll, "/dev/null") == (SFC_LL_DEV & SFC_LL_FILE));
	CHECK(access_of(&ll, "/proc") == SFC_LL_READ);
	CHECK(rule(&ll, "/proc/self") && (rule(&ll, "/proc/self")->flags & SFC_LL_RULE_FOLLOW));
	CHECK(access_of(&ll, "/usr") == SFC_LL_RO);
	CHECK(notes.n == 1 && strstr(notes.v[0], "/scratch"));
	sfc_landlock_free(&ll);
	sfc_mount_plan_free(&p);
	sfc_strv_clear(&notes);

	snprintf(buf, sizeof(buf), "rm -rf '%s'", tmpl);
	CHECK(system(buf) == 0);
}

static uint32_t bpf(const struct sock_filter *f, unsigned len, const struct seccomp_data *d)
{
	uint32_t A = 0;
	const uint8_t *data = (const uint8_t *)d;

	for (unsigned pc = 0; pc < len; pc++) {
		const struct sock_filter *i = &f[pc];
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS: A = *(const uint32_t *)(data + i->k); break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += (A == i->k) ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_K: pc += (A & i->k) ? i->jt : i->jf; break;
		case BPF_RET | BPF_K: return i->k;
		default: return 0xbad;
		}
	}
	return 0xbad;
}

static uint32_t call(bool inet, bool unix_, uint32_t arch, int nr, uint64_t a0)
{
	struct sock_filter prog[32];
	unsigned n = sfc_fallback_filter(prog, inet, unix_);
	struct seccomp_data d = { .nr = nr, .arch = arch, .args = { a0 } };
	return bpf(prog, n, &d);
}

TEST(fallback_filter)
{
#if defined(__x86_64__)
	const uint32_t N = AUDIT_ARCH_X86_64, DENY = SECCOMP_RET_ERRNO | EACCES, OK = SECCOMP_RET_ALLOW;

	CHECK(call(true, true, N, SYS_socket, AF_INET) == DENY);
	CHECK(call(true, true, N, SYS_socket, AF_INET6) == DENY);
	CHECK(call(true, true, N, SYS_socket, AF_UNIX) == DENY);
	CHECK(call(true, true, N, SYS_socket, AF_NETLINK) == OK);
	CHECK(call(true, true, N, SYS_socket, 0x100000000ULL | AF_INET) == DENY); /* low 32 bits, as the kernel */
	CHECK(call(true, false, N, SYS_socket, AF_UNIX) == OK);
	CHECK(call(false, true, N, SYS_socket, AF_INET) == OK);
	CHECK(call(false, true, N, SYS_socket, AF_UNIX) == DENY);
	CHECK(call(true, false, N, SYS_io_uring_setup, 0) == DENY);
	CHECK(call(false, true, N, SYS_io_uring_setup, 0) == OK);
	CHECK(call(true, true, N, SYS_socketpair, AF_UNIX) == OK);
	CHECK(call(true, true, N, SYS_connect, 3) == OK);
	CHECK(call(true, true, N, SYS_read, 0) == OK);
	CHECK(call(true, true, AUDIT_ARCH_I386, 359 /* socket */, AF_INET) == SECCOMP_RET_KILL_PROCESS);
	CHECK(call(true, true, N, 0x40000000 | SYS_socket, AF_INET) == SECCOMP_RET_KILL_PROCESS);
#endif
}

int main(void)
{
	unit_file = "landlock";
	RUN(inside_mirrors_the_plan);
	RUN(host_view_keeps_host_sockets);
	RUN(host_carves_hidden_paths);
	RUN(fallback_filter);
	return 0;
}

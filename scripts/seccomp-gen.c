/*
 * seccomp-gen: build sefaca's seccomp filters with libseccomp at build time
 * and write them out as BPF tables (build/gen/seccomp_bpf.h).
 *
 * The filter depends only on the level, on whether nested namespaces are
 * allowed and on what a denial does, so every variant is compiled here once,
 * by libseccomp, instead of on every sandbox start: starting a sandbox only
 * copies a table into seccomp(2), and a static build carries the filters
 * without linking libseccomp.
 *
 * Usage: seccomp-gen [--errno-only] [--flat-only] > seccomp_bpf.h
 *   --errno-only   only the variants whose denials fail with an error (no
 *                  user notification or log ones): a third of the tables,
 *                  for embedded builds (FEATURE_SECCOMP_REPORT off)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define NS_CLONE_FLAGS 0x7e020000ULL /* NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
#define CLONE_NEWTIME_ 0x80ULL

enum { LVL_PERMISSIVE, LVL_DEFAULT, LVL_STRICT };
enum { ACT_ERRNO, ACT_NOTIFY, ACT_LOG };
static const char *const lvl_names[] = { "permissive", "default", "strict" };
static const char *const act_names[] = { "errno", "notify", "log" };

/* Denied at every level: kernel attack surface and host-wide operations. */
static const char *const deny_always[] = {
	"keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "get_kernel_syms", "query_module", "iopl", "ioperm", "swapon",
	"swapoff", "reboot", "acct", "open_by_handle_at", "name_to_handle_at", "syslog",
	"quotactl", "quotactl_fd", "modify_ldt", "lookup_dcookie", "uselib", "nfsservctl",
	"_sysctl", "vm86", "vm86old", "afs_syscall", "socketcall",
	NULL,
};
/* Mount and the new mount API: setup is over when the filter goes on.  With
 * nested namespaces allowed they stay open: they only work inside a userns
 * the payload owns, and our own mounts are locked against it there. */
static const char *const deny_mount[] = {
	"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
	"open_tree", "move_mount", "mount_setattr", "chroot", NULL,
};
static const char *const deny_uring[] = { "io_uring_setup", "io_uring_enter", "io_uring_register", NULL };
static const char *const deny_strict[] = { "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", NULL };

static scmp_filter_ctx ctx;
static uint32_t deny_act;

static int nr(const char *name)
{
	return seccomp_syscall_resolve_name(name);
}

static void rule(uint32_t act, const char *name, unsigned n, const struct scmp_arg_cmp *c)
{
	int s = nr(name), r;
	if (s == __NR_SCMP_ERROR)
		return; /* not on this architecture */
	r = seccomp_rule_add_array(ctx, act, s, n, c);
	if (r < 0 && r != -EEXIST) {
		fprintf(stderr, "seccomp-gen: rule for %s: %s\n", name, strerror(-r));
		exit(1);
	}
}

static void deny_list(const char *const *l)
{
	for (; *l; l++)
		rule(deny_act, *l, 0, NULL);
}

static void cmp1(uint32_t act, const char *name, struct scmp_arg_cmp c)
{
	rule(act, name, 1, &c);
}

static void build(int level, int nested, int action)
{
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);

	deny_act = action == ACT_NOTIFY ? SCMP_ACT_NOTIFY : action == ACT_LOG ? SCMP_ACT_LOG : eperm;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		exit(1);
	/* Only the native ABI is allowed: i386 (int 0x80) and x32 entries go
	 * to the bad-arch action and kill the process (SECURITY.md 17).  The
	 * x86_64 filter libseccomp emits also rejects x32 numbers. */
	seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

	deny_list(deny_always);
	if (level != LVL_PERMISSIVE)
		deny_list(deny_uring);
	if (level == LVL_STRICT)
		deny_list(deny_strict);

	/* clone3 passes its flags in memory the filter cannot read: answer
	 * ENOSYS so libc falls back to clone(2), whose flags we can check. */
	rule(SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);

	if (!nested) {
		deny_list(deny_mount);
		rule(deny_act, "setns", 0, NULL);
		for (int b = 0; b < 64; b++) {
			uint64_t f = 1ULL << b;
			if (f & NS_CLONE_FLAGS) {
				cmp1(deny_act, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
				cmp1(deny_act, "unshare", SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
			}
		}
		cmp1(deny_act, "unshare", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWTIME_, CLONE_NEWTIME_));
	}

	/* Terminal injection (CVE-2017-5226): the kernel compares only the
	 * low 32 bits of the request, so must we. */
	cmp1(deny_act, "ioctl", SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCSTI));
	cmp1(deny_act, "ioctl", SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCLINUX));

	/* Socket families other than UNIX, INET, INET6 and NETLINK. */
	{
		uint32_t act = action == ACT_ERRNO ? SCMP_ACT_ERRNO(EAFNOSUPPORT) : deny_act;
		for (uint64_t f = 0; f < 17; f++)
			if (f != AF_UNIX && f != AF_INET && f != AF_INET6 && f != AF_NETLINK)
				cmp1(act, "socket", SCMP_A0(SCMP_CMP_EQ, f));
		cmp1(act, "socket", SCMP_A0(SCMP_CMP_GE, 17));
	}

	/* personality(2) is checked by the prefix emit() puts in front of
	 * this filter (see personality_prefix). */
}

/* personality(2): only PER_LINUX, PER_LINUX32 and UNAME26 combinations
 * and the 0xffffffff query.  "None of these five values" takes libseccomp
 * 33 rules and ~130 instructions (one comparison per argument and rule);
 * written directly it is twelve, and the kernel JIT-compiles every
 * instruction on every sandbox start.  Prepended: the filter's own jumps
 * are forward and relative, so they stay valid.  Other architectures and
 * system calls fall through to the libseccomp filter, which checks the
 * architecture itself; tests/unit/test_seccomp.c runs both. */
static size_t personality_prefix(struct sock_filter *f)
{
	uint32_t native = 0;
	int nr = seccomp_syscall_resolve_name("personality");
	size_t i = 0;

	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64: native = 0xc000003e; break;   /* AUDIT_ARCH_X86_64 */
	case SCMP_ARCH_AARCH64: native = 0xc00000b7; break;  /* AUDIT_ARCH_AARCH64 */
	default: return 0; /* elsewhere: no personality restriction (said in a comment of the output) */
	}
	/* offsets into struct seccomp_data: nr 0, arch 4, args[0] 16 (low
	 * word on little-endian) and 20 (high word) */
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native, 0, 10);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 8);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 20);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5);      /* high bits: deny */
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 2, 0); /* query: allow */
	f[i++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0x20008u);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);       /* other bits: deny */
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	return i;
}

static void emit(int level, int nested, int action)
{
	char path[] = "/tmp/seccomp-gen-XXXXXX";
	int fd = mkstemp(path);
	struct sock_filter f;
	size_t n = 0;

	if (fd < 0)
		exit(1);
	unlink(path);
	build(level, nested, action);
	if (seccomp_export_bpf(ctx, fd) < 0) {
		fprintf(stderr, "seccomp-gen: export failed\n");
		exit(1);
	}
	lseek(fd, 0, SEEK_SET);
	printf("static const struct sock_filter sfc_bpf_%s_%s_%s[] = {\n", lvl_names[level],
	       nested ? "nested" : "flat", act_names[action]);
	{
		struct sock_filter pre[16];
		size_t np = personality_prefix(pre);
		for (size_t i = 0; i < np; i++)
			printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", pre[i].code, pre[i].jt, pre[i].jf, pre[i].k);
		n += np;
	}
	while (read(fd, &f, sizeof(f)) == sizeof(f)) {
		printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", f.code, f.jt, f.jf, f.k);
		n++;
	}
	printf("};\n\n");
	close(fd);
	seccomp_release(ctx);
}

int main(int argc, char **argv)
{
	int nact = 3, nnest = 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--errno-only"))
			nact = 1;
		else if (!strcmp(argv[i], "--flat-only"))
			nnest = 1;
		else {
			fprintf(stderr, "usage: seccomp-gen [--errno-only] [--flat-only]\n");
			return 2;
		}
	}
	printf("/* DO NOT EDIT: generated by scripts/seccomp-gen.c with libseccomp %u.%u.%u */\n",
	       seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro);
	printf("#include <linux/filter.h>\n\n");
	for (int l = 0; l < 3; l++)
		for (int n = 0; n < nnest; n++)
			for (int a = 0; a < nact; a++)
				emit(l, n, a);
	printf("struct sfc_bpf_variant { int level, nested, action; const struct sock_filter *prog; unsigned short len; };\n");
	printf("static const struct sfc_bpf_variant sfc_bpf_variants[] = {\n");
	for (int l = 0; l < 3; l++)
		for (int n = 0; n < nnest; n++)
			for (int a = 0; a < nact; a++)
				printf("\t{ %d, %d, %d, sfc_bpf_%s_%s_%s, sizeof(sfc_bpf_%s_%s_%s) / sizeof(struct sock_filter) },\n",
				       l, n, a, lvl_names[l], n ? "nested" : "flat", act_names[a], lvl_names[l],
				       n ? "nested" : "flat", act_names[a]);
	printf("};\n\n");

	/* Names of the syscalls the filter can deny, for violation reports. */
	if (nact == 1)
		return 0;
	printf("struct sfc_sysname { int nr; const char *name; };\n");
	printf("static const struct sfc_sysname sfc_denied_syscalls[] = {\n");
	const char *const *lists[] = { deny_always, deny_mount, deny_uring, deny_strict, NULL };
	for (int i = 0; lists[i]; i++)
		for (const char *const *p = lists[i]; *p; p++)
			if (nr(*p) >= 0)
				printf("\t{ %d, \"%s\" },\n", nr(*p), *p);
	const char *extra[] = { "clone", "clone3", "unshare", "setns", "ioctl", "socket", "personality", "connect", "bind", NULL };
	for (int i = 0; extra[i]; i++)
		if (nr(extra[i]) >= 0)
			printf("\t{ %d, \"%s\" },\n", nr(extra[i]), extra[i]);
	printf("};\n");
	return 0;
}

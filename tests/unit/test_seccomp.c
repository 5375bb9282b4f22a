/* Unit tests: run the generated seccomp filters through a classic-BPF
 * interpreter on synthetic syscalls, so that every rule is checked, also
 * for calls whose kernel privilege checks would hide a missing rule from an
 * integration test (reboot, swapon, fsopen... fail with EPERM anyway for an
 * unprivileged user). */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "autoconf.h"
#include "unit.h"
#include <signal.h>

#if ENABLE_FEATURE_SECCOMP
#include "seccomp_bpf.h"

static uint32_t run(const struct sock_filter *f, unsigned len, const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[16] = { 0 };
	const uint8_t *data = (const uint8_t *)d;

	for (unsigned pc = 0; pc < len; pc++) {
		const struct sock_filter *i = &f[pc];
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (i->k + 4 > sizeof(*d))
				return 0xdead;
			A = *(const uint32_t *)(data + i->k);
			break;
		case BPF_LD | BPF_IMM: A = i->k; break;
		case BPF_LDX | BPF_IMM: X = i->k; break;
		case BPF_LD | BPF_MEM: A = M[i->k & 15]; break;
		case BPF_LDX | BPF_MEM: X = M[i->k & 15]; break;
		case BPF_ST: M[i->k & 15] = A; break;
		case BPF_STX: M[i->k & 15] = X; break;
		case BPF_ALU | BPF_AND | BPF_K: A &= i->k; break;
		case BPF_ALU | BPF_OR | BPF_K: A |= i->k; break;
		case BPF_ALU | BPF_AND | BPF_X: A &= X; break;
		case BPF_MISC | BPF_TAX: X = A; break;
		case BPF_MISC | BPF_TXA: A = X; break;
		case BPF_JMP | BPF_JA: pc += i->k; break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += (A == i->k) ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGT | BPF_K: pc += (A > i->k) ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGE | BPF_K: pc += (A >= i->k) ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_K: pc += (A & i->k) ? i->jt : i->jf; break;
		case BPF_RET | BPF_K: return i->k;
		case BPF_RET | BPF_A: return A;
		default: return 0xbad;
		}
	}
	return 0xbad;
}

static const struct sfc_bpf_variant *var(int level, int nested)
{
	for (size_t i = 0; i < sizeof(sfc_bpf_variants) / sizeof(sfc_bpf_variants[0]); i++)
		if (sfc_bpf_variants[i].level == level && sfc_bpf_variants[i].nested == nested &&
		    sfc_bpf_variants[i].action == 0)
			return &sfc_bpf_variants[i];
	return NULL;
}

static uint32_t call(int level, int nested, uint32_t arch, int nr, uint64_t a0, uint64_t a1)
{
	const struct sfc_bpf_variant *v = var(level, nested);

	struct seccomp_data d = { .nr = nr, .arch = arch, .args = { a0, a1 } };
	return v ? run(v->prog, v->len, &d) : 0xbad;
}

#define NATIVE AUDIT_ARCH_X86_64
#define EP (SECCOMP_RET_ERRNO | EPERM)
#define ALLOW SECCOMP_RET_ALLOW
#define DEF 1
#define STRICT 2
#define PERM 0

TEST(denied_everywhere)
{
	static const int nrs[] = { SYS_keyctl, SYS_add_key, SYS_request_key, SYS_bpf, SYS_perf_event_open,
				   SYS_userfaultfd, SYS_kexec_load, SYS_kexec_file_load, SYS_init_module,
				   SYS_finit_module, SYS_delete_module, SYS_iopl, SYS_ioperm, SYS_swapon, SYS_swapoff,
				   SYS_reboot, SYS_acct, SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_syslog,
				   SYS_quotactl, SYS_modify_ldt };
	for (int lvl = 0; lvl < 3; lvl++)
		for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
			uint32_t r = call(lvl, 0, NATIVE, nrs[i], 0, 0);
			if (r != EP)
				fprintf(stderr, "  level %d syscall %d -> %#x\n", lvl, nrs[i], r);
			CHECK(r == EP);
			if (ENABLE_FEATURE_NESTED)
				CHECK(call(lvl, 1, NATIVE, nrs[i], 0, 0) == EP);
		}
}

TEST(mount_api_and_namespaces)
{
	static const int mnt[] = { SYS_mount, SYS_umount2, SYS_pivot_root, 430 /* fsopen */, 431, 432, 433,
				   428 /* open_tree */, 429 /* move_mount */, 442 /* mount_setattr */, SYS_chroot,
				   SYS_setns };
	for (size_t i = 0; i < sizeof(mnt) / sizeof(mnt[0]); i++) {
		CHECK(call(DEF, 0, NATIVE, mnt[i], 0, 0) == EP);
		if (ENABLE_FEATURE_NESTED)
			CHECK(call(DEF, 1, NATIVE, mnt[i], 0, 0) == ALLOW); /* --allow-nested */
	}
	/* clone/unshare with any namespace flag; plain ones pass */
	CHECK(call(DEF, 0, NATIVE, SYS_clone, 0x10000000 /* NEWUSER */ | SIGCHLD, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_clone, 0x40000000 /* NEWNET */, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_clone, 0x00020000 /* NEWNS */, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_clone, 0x003d0f00 /* pthread_create's */, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_clone, SIGCHLD, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_unshare, 0x20000000 /* NEWPID */, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_unshare, 0x80 /* NEWTIME */, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_unshare, 0x400 /* FILES */, 0) == ALLOW);
	if (ENABLE_FEATURE_NESTED)
		CHECK(call(DEF, 1, NATIVE, SYS_unshare, 0x10000000, 0) == ALLOW);
	/* clone3 answers ENOSYS so libc falls back to clone (SECURITY.md 14) */
	CHECK(call(DEF, 0, NATIVE, 435, 0, 0) == (SECCOMP_RET_ERRNO | ENOSYS));
	if (ENABLE_FEATURE_NESTED)
		CHECK(call(DEF, 1, NATIVE, 435, 0, 0) == (SECCOMP_RET_ERRNO | ENOSYS));
}

TEST(levels)
{
	/* io_uring: strict and default only */
	CHECK(call(DEF, 0, NATIVE, 425, 0, 0) == EP);
	CHECK(call(STRICT, 0, NATIVE, 426, 0, 0) == EP);
	CHECK(call(PERM, 0, NATIVE, 425, 0, 0) == ALLOW);
	/* ptrace and process_vm_*: strict only */
	CHECK(call(STRICT, 0, NATIVE, SYS_ptrace, 0, 0) == EP);
	CHECK(call(STRICT, 0, NATIVE, SYS_process_vm_readv, 0, 0) == EP);
	CHECK(call(STRICT, 0, NATIVE, SYS_process_vm_writev, 0, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_ptrace, 0, 0) == ALLOW);
	/* ordinary calls pass everywhere */
	for (int l = 0; l < 3; l++) {
		CHECK(call(l, 0, NATIVE, SYS_read, 0, 0) == ALLOW);
		CHECK(call(l, 0, NATIVE, SYS_execve, 0, 0) == ALLOW);
		CHECK(call(l, 0, NATIVE, SYS_openat, 0, 0) == ALLOW);
		CHECK(call(l, 0, NATIVE, SYS_seccomp, 0, 0) == ALLOW);
	}
}

TEST(ioctl_terminal_injection)
{
	/* CVE-2017-5226: TIOCSTI, also with bits above 32 set in the request */
	CHECK(call(DEF, 0, NATIVE, SYS_ioctl, 0, TIOCSTI) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_ioctl, 0, 0xffffffff00000000ULL | TIOCSTI) == EP);
	CHECK(call(PERM, 0, NATIVE, SYS_ioctl, 0, 0x100000000ULL | TIOCSTI) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_ioctl, 0, TIOCLINUX) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_ioctl, 0, 0xdead00000000ULL | TIOCLINUX) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_ioctl, 0, TCGETS) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_ioctl, 0, TIOCGWINSZ) == ALLOW);
}

TEST(socket_families)
{
	const uint32_t noaf = SECCOMP_RET_ERRNO | EAFNOSUPPORT;
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 1 /* UNIX */, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 2 /* INET */, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 10 /* INET6 */, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 16 /* NETLINK */, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 38 /* ALG */, 0) == noaf);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 40 /* VSOCK */, 0) == noaf);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 17 /* PACKET */, 0) == noaf);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 15 /* KEY */, 0) == noaf);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 0, 0) == noaf);
	CHECK(call(DEF, 0, NATIVE, SYS_socket, 0x100000002ULL, 0) == noaf);
}

TEST(personality)
{
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 8, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0x20000, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0x20008, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0xffffffff, 0) == ALLOW);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0x1, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0xfffffff7, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0xfffdffff, 0) == EP);
	CHECK(call(DEF, 0, NATIVE, SYS_personality, 0x100000000ULL, 0) == EP);
}

TEST(foreign_abis)
{
	/* i386 via int 0x80 and x32 are killed (SECURITY.md 17) */
	CHECK(call(DEF, 0, AUDIT_ARCH_I386, 20, 0, 0) == SECCOMP_RET_KILL_PROCESS);
	if (ENABLE_FEATURE_NESTED)
		CHECK(call(PERM, 1, AUDIT_ARCH_I386, 102 /* socketcall */, 0, 0) == SECCOMP_RET_KILL_PROCESS);
	CHECK(call(DEF, 0, NATIVE, 0x40000000 | SYS_getpid, 0, 0) == SECCOMP_RET_KILL_PROCESS);
	CHECK(call(STRICT, 0, NATIVE, 0x40000000 | SYS_read, 0, 0) == SECCOMP_RET_KILL_PROCESS);
}
#endif

int main(void)
{
	unit_init("seccomp");
#if ENABLE_FEATURE_SECCOMP
	RUN(denied_everywhere);
	RUN(mount_api_and_namespaces);
	RUN(levels);
	RUN(ioctl_terminal_injection);
	RUN(socket_families);
	RUN(personality);
	RUN(foreign_abis);
#else
	printf("SKIP unit/seccomp: seccomp compiled out (FEATURE_SECCOMP)\n");
#endif
	return 0;
}

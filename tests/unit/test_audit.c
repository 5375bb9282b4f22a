/* Unit tests: the JSON writer's escaping, audit records and appends,
 * blocked-command matching, and the supervisor's evaluation of the
 * seccomp filters for violation reports. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/audit.h"
#include "core/blocked.h"
#include "core/json.h"
#include "core/notify.h"
#include "core/sandbox.h"
#include "core/seccomp.h"
#include "core/util.h"
#include "unit.h"

static char *json_of(const char *s, size_t n)
{
	struct sfc_json j;
	sfc_json_init(&j);
	sfc_json_stringn(&j, s, n);
	return sfc_json_steal(&j, NULL);
}

#define JSTR(lit, want)                                                                                                \
	do {                                                                                                           \
		char *_g = json_of(lit, sizeof(lit) - 1);                                                              \
		CHECK_STR(_g, want);                                                                                   \
		free(_g);                                                                                              \
	} while (0)

TEST(json_escaping)
{
	JSTR("plain", "\"plain\"");
	JSTR("a\"b\\c", "\"a\\\"b\\\\c\"");
	JSTR("l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
	JSTR("\x01\x1f\x7f\b\f", "\"\\u0001\\u001f\\u007f\\b\\f\"");
	JSTR("\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"");         /* valid UTF-8 kept */
	JSTR("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");           /* 4 bytes */
	JSTR("a\xffz", "\"a\\ufffdz\"");                            /* invalid byte */
	JSTR("\xc0\xaf", "\"\\ufffd\\ufffd\"");                     /* overlong '/' */
	JSTR("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");          /* surrogate */
	JSTR("\xe2\x80\xa8", "\"\\u2028\"");                        /* line separator */
	JSTR("\xe2\x82", "\"\\ufffd\\ufffd\"");                     /* truncated */
	JSTR("a\0b", "\"a\\u0000b\"");
	/* a forged field stays inside its string */
	JSTR("x\",\"user\":\"root", "\"x\\\",\\\"user\\\":\\\"root\"");
}

TEST(json_structure)
{
	struct sfc_json j;
	char *s;

	sfc_json_init(&j);
	sfc_json_obj_begin(&j);
	sfc_json_kstr(&j, "a", "1");
	sfc_json_key(&j, "b");
	sfc_json_arr_begin(&j);
	sfc_json_sint(&j, -1);
	sfc_json_uint(&j, 18446744073709551615ULL);
	sfc_json_obj_begin(&j);
	sfc_json_obj_end(&j);
	sfc_json_arr_begin(&j);
	sfc_json_arr_end(&j);
	sfc_json_null(&j);
	sfc_json_double(&j, 1.5, 3);
	sfc_json_double(&j, 1.0 / 0.0, 3);
	sfc_json_arr_end(&j);
	sfc_json_kbool(&j, "c", false);
	sfc_json_kstr(&j, "d", NULL);
	sfc_json_obj_end(&j);
	s = sfc_json_steal(&j, NULL);
	CHECK_STR(s, "{\"a\":\"1\",\"b\":[-1,18446744073709551615,{},[],null,1.500,null],\"c\":false,\"d\":null}");
	free(s);
}

TEST(record)
{
	struct sfc_spec spec;
	struct sfc_sandbox sb;
	char *argv[] = { "echo", "a\"b\nc", "\x1b[31m", NULL };
	struct sfc_audit_info a = { 0 };
	char *line;
	size_t len;

	sfc_spec_init(&spec);
	sfc_sandbox_init(&sb, &spec);
	sb.layers.userns = sb.layers.seccomp = true;
	sb.layers.limits = "rlimit";
	sb.result.ran = true;
	sb.result.exit_code = 3;
	sb.result.status = 3;
	sb.result.usage_source = "rusage";
	sfc_result_add_violation(&sb.result, "syscall_denied", "bpf", "blocked", "no");
	sfc_result_add_violation(&sb.result, "syscall_denied", "bpf", "blocked", "no");
	sfc_result_add_violation(&sb.result, "network_access_denied", "10.0.0.1:443", "blocked", "net");
	CHECK(sb.result.nviolations == 2 && sb.result.violations[0].count == 2);
	a.applet = "run";
	a.id = "r-0000000000000001";
	a.argv = argv;
	a.cwd = "/home/u/p\n\"x\"";
	a.spec = &spec;
	a.sb = &sb;
	a.status = 3;
	a.duration = 0.25;
	line = sfc_audit_record(&a, &len);
	CHECK(len == strlen(line) && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
	CHECK(strstr(line, "\"command\":[\"echo\",\"a\\\"b\\nc\",\"\\u001b[31m\"]") != NULL);
	CHECK(strstr(line, "\"cwd\":\"/home/u/p\\n\\\"x\\\"\"") != NULL);
	CHECK(strstr(line, "{\"violation\":\"syscall_denied\",\"syscall\":\"bpf\",\"action\":\"blocked\","
			   "\"suggestion\":\"no\",\"count\":2}") != NULL);
	CHECK(strstr(line, "\"attempted_host\":\"10.0.0.1:443\"") != NULL);
	CHECK(strstr(line, "\"exit_code\":3") && strstr(line, "\"duration\":0.250"));
	free(line);
	for (int i = 0; i < SFC_MAX_VIOLATIONS + 10; i++) {
		char d[16];
		snprintf(d, sizeof(d), "%d", i);
		sfc_result_add_violation(&sb.result, "syscall_denied", d, "blocked", "");
	}
	CHECK(sb.result.nviolations == SFC_MAX_VIOLATIONS && sb.result.violations_dropped == 12);
	sb.argv = NULL;
	sfc_sandbox_free(&sb);
}

TEST(append)
{
	char dir[] = "/tmp/sefaca-ut.XXXXXX", path[64], buf[256];
	struct sfc_error e;
	struct stat st;
	int fd;
	ssize_t n;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	CHECK(sfc_audit_append_file(path, "{\"a\":1}\n", 8, &e) == 0);
	CHECK(sfc_audit_append_file(path, "{\"a\":2}\n", 8, &e) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 16);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	CHECK_STR(buf, "{\"a\":1}\n{\"a\":2}\n");
	/* never through a symlink planted at the log's place */
	unlink(path);
	CHECK(symlink("/tmp/elsewhere", path) == 0);
	CHECK(sfc_audit_append_file(path, "x\n", 2, &e) < 0);
	unlink(path);
	/* a full device: an error, and nothing half-written anywhere */
	CHECK(sfc_audit_append_file("/dev/full", "x\n", 2, &e) == -ENOSPC);
	rmdir(dir);
}

static struct sfc_list list_of(const char *a, const char *b)
{
	struct sfc_list l = { { 0 }, NULL };
	sfc_strv_push(&l.items, a);
	if (b)
		sfc_strv_push(&l.items, b);
	return l;
}

TEST(blocked_commands)
{
	struct sfc_list l, p;

	if (!ENABLE_FEATURE_POLICY)
		return;
	l = list_of("sudo", "wget");
	p = list_of("/usr/bin/curl", NULL);
	static const char *const yes[] = {
		"sudo ls", "  wget x", "echo a; wget x", "true && sudo id", "false || sudo id", "a | sudo tee",
		"(sudo id)", "{ sudo id; }", "echo $(sudo id)", "echo `wget -q`", "echo \"$(wget x)\"",
		"X=1 Y=2 sudo id", "env -i A=1 sudo id", "nice -n 5 wget x", "timeout -s KILL 5 wget x",
		"exec wget", "command -p sudo", "nohup sudo x &", "xargs -n 1 wget", "'s'udo id", "s\\udo id",
		"\"wget\" x", "/usr/bin/sudo id", "./wget", "sh -c 'sudo id'", "bash -ec \"wget x\"",
		"if true; then sudo id; fi", "while sudo id; do :; done", "! sudo id", "echo x\nsudo id",
		"2>/dev/null sudo id", "sudo -u root id", "time wget x", "busybox wget x", NULL,
	};
	static const char *const no[] = {
		"echo sudo", "ls > sudo", "cat < wget", "echo 'sudo id'", "# sudo id", "for x in sudo; do echo; done",
		"sudoku", "wget2 x", "ls /usr/bin/sudo", "echo \"sudo\"", "case x in sudo) ;; esac", "grep -r wget .",
		"git commit -m 'sudo'", NULL,
	};
	for (const char *const *c = yes; *c; c++) {
		if (!sfc_blocked_match_line(&l, *c)) {
			fprintf(stderr, "  not matched: %s\n", *c);
			unit_failed_checks++;
		}
	}
	for (const char *const *c = no; *c; c++) {
		const char *m = sfc_blocked_match_line(&l, *c);
		if (m) {
			fprintf(stderr, "  matched %s in: %s\n", m, *c);
			unit_failed_checks++;
		}
	}
	{
		char *argv1[] = { "/usr/bin/env", "FOO=1", "sudo", "id", NULL };
		char *argv2[] = { "sh", "-c", "x; wget y", NULL };
		char *argv3[] = { "echo", "sudo", NULL };
		char *argv4[] = { "sudo id", NULL };
		CHECK(sfc_blocked_match(&l, argv1) != NULL);
		CHECK(sfc_blocked_match(&l, argv2) != NULL);
		CHECK(sfc_blocked_match(&l, argv3) == NULL);
		CHECK(sfc_blocked_match(&l, argv4) != NULL);
	}
	CHECK(sfc_blocked_match_line(&p, "/usr/bin/curl x") != NULL);
	CHECK(sfc_blocked_match_line(&p, "/usr//bin/./curl x") != NULL);
	CHECK(sfc_blocked_match_line(&p, "curl x") == NULL); /* a path entry names that path only */
	sfc_strv_clear(&l.items);
	sfc_strv_clear(&p.items);
}

#if ENABLE_FEATURE_SECCOMP && defined(__x86_64__)
static struct seccomp_data sd(int nr, uint64_t a0, uint64_t a1)
{
	struct seccomp_data d;
	memset(&d, 0, sizeof(d));
	d.nr = nr;
	d.arch = AUDIT_ARCH_X86_64;
	d.args[0] = a0;
	d.args[1] = a1;
	return d;
}
#endif

TEST(notify_variant_denies_what_errno_variant_denies)
{
#if ENABLE_FEATURE_SECCOMP && ENABLE_FEATURE_SECCOMP_REPORT && defined(__x86_64__)
	/* The supervisor answers a notification with what the errno variant
	 * says: that is only right if both variants deny the same calls. */
	static const uint64_t a0s[] = { 0, 1, 2, 10, 16, 17, 40, 0x10000000, 0x7e020000, 0xffffffff };
	static const uint64_t a1s[] = { 0, 0x5412, 0x541c, 0x100005412 };
	for (int lvl = 0; lvl < 3; lvl++)
		for (int nested = 0; nested < 2; nested++) {
			unsigned le, ln;
			const struct sock_filter *fe = sfc_seccomp_filter(lvl, nested, SFC_SECCOMP_ERRNO, &le);
			const struct sock_filter *fn = sfc_seccomp_filter(lvl, nested, SFC_SECCOMP_NOTIFY, &ln);
			int mismatches = 0;
			CHECK(fe && fn);
			if (!fe || !fn)
				continue;
			for (int nr = 0; nr < 460; nr++)
				for (size_t i = 0; i < SFC_ARRAY_SIZE(a0s); i++)
					for (size_t k = 0; k < SFC_ARRAY_SIZE(a1s); k++) {
						struct seccomp_data d = sd(nr, a0s[i], a1s[k]);
						uint32_t re = sfc_notify_bpf_run(fe, le, &d, sizeof(d));
						uint32_t rn = sfc_notify_bpf_run(fn, ln, &d, sizeof(d));
						bool de = (re & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW;
						bool dn = (rn & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW;
						if (de != dn)
							mismatches++;
						/* what the notify variant does not send us it answers like errno */
						if (dn && (rn & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_USER_NOTIF &&
						    rn != re)
							mismatches++;
					}
			CHECK(mismatches == 0);
		}
	{
		unsigned len;
		const struct sock_filter *f = sfc_seccomp_filter(SFC_SECCOMP_DEFAULT, false, SFC_SECCOMP_ERRNO, &len);
		struct seccomp_data d = sd(SYS_bpf, 0, 0);
		CHECK(sfc_notify_bpf_run(f, len, &d, sizeof(d)) == (SECCOMP_RET_ERRNO | EPERM));
		d = sd(SYS_getpid, 0, 0);
		CHECK(sfc_notify_bpf_run(f, len, &d, sizeof(d)) == SECCOMP_RET_ALLOW);
		d = sd(SYS_socket, 17 /* AF_PACKET */, 0);
		CHECK(sfc_notify_bpf_run(f, len, &d, sizeof(d)) == (SECCOMP_RET_ERRNO | EAFNOSUPPORT));
		d = sd(435 /* clone3 */, 0, 0);
		CHECK(sfc_notify_bpf_run(f, len, &d, sizeof(d)) == (SECCOMP_RET_ERRNO | ENOSYS));
		d = sd(SYS_getpid, 0, 0);
		d.arch = AUDIT_ARCH_I386;
		CHECK(sfc_notify_bpf_run(f, len, &d, sizeof(d)) == SECCOMP_RET_KILL_PROCESS);
	}
#endif
}

TEST(connect_trap_prefix)
{
#if ENABLE_FEATURE_SECCOMP && ENABLE_FEATURE_SECCOMP_REPORT && defined(__x86_64__)
	struct sfc_spec spec;
	struct sfc_sandbox sb;
	struct sfc_notify n;
	struct sfc_error e;
	struct seccomp_data d;

	sfc_spec_init(&spec);
	spec.network = SFC_NET_LOCALHOST;
	sfc_sandbox_init(&sb, &spec);
	sb.layers.seccomp = true;
	CHECK(sfc_notify_setup(&sb, &n, false, &e) == 0 && sb.notify == &n && n.trap_connect);
	d = sd(SYS_connect, 3, 0);
	CHECK(sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) == SECCOMP_RET_USER_NOTIF);
	d = sd(SYS_getpid, 0, 0);
	CHECK(sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) == SECCOMP_RET_ALLOW);
	d = sd(SYS_bpf, 0, 0);
	CHECK(sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) == SECCOMP_RET_USER_NOTIF);
	d = sd(SYS_connect | 0x40000000, 3, 0); /* x32: still killed by the level's filter */
	CHECK(sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) != SECCOMP_RET_USER_NOTIF &&
	      sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) != SECCOMP_RET_ALLOW);
	d = sd(SYS_connect, 3, 0);
	d.arch = AUDIT_ARCH_I386;
	CHECK(sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) == SECCOMP_RET_KILL_PROCESS);
	sfc_notify_free(&n);

	/* the host's network: no trap; learning: the strict filter observes */
	spec.network = SFC_NET_ALLOW;
	CHECK(sfc_notify_setup(&sb, &n, false, &e) == 0 && !n.trap_connect);
	sfc_notify_free(&n);
	CHECK(sfc_notify_setup(&sb, &n, true, &e) == 0 && n.trap_connect);
	d = sd(SYS_ptrace, 0, 0);
	CHECK(sfc_notify_bpf_run(n.prog, n.len, &d, sizeof(d)) == SECCOMP_RET_USER_NOTIF);
	sfc_notify_free(&n);
#endif
}

int main(void)
{
	unit_file = "audit";
	RUN(json_escaping);
	RUN(json_structure);
	RUN(record);
	RUN(append);
	RUN(blocked_commands);
	RUN(notify_variant_denies_what_errno_variant_denies);
	RUN(connect_trap_prefix);
	return 0;
}

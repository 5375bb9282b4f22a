/* Unit tests: the audit log scanner (fields, escapes, junk), timestamps,
 * the rotation file order, and the registry's record and liveness test. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/auditlog.h"
#include "core/registry.h"
#include "unit.h"

static const char *good =
	"{\"timestamp\":\"2026-11-22T19:30:00.123Z\",\"id\":\"r-1\",\"applet\":\"run\",\"pid\":12345,\"user\":\"alice\","
	"\"cwd\":\"/home/alice/p\",\"command\":[\"python\",\"script.py\"],"
	"\"config\":{\"level\":\"default\",\"preset\":null,\"network\":\"localhost\",\"timeout\":120,\"memory\":\"1g\"},"
	"\"layers\":{\"userns\":true,\"netns\":true,\"landlock\":7,\"seccomp\":true,\"cgroup\":\"v2\",\"limits\":\"cgroup\"},"
	"\"resources\":{\"max_memory\":1073741824,\"cpu_time\":45.2,\"pids_peak\":12},"
	"\"result\":{\"exit_code\":0,\"signal\":null,\"duration\":45.2,\"timed_out\":false,\"oom_killed\":false},"
	"\"violations\":[{\"violation\":\"network_access_denied\",\"attempted_host\":\"93.184.216.34:443\","
	"\"action\":\"blocked\",\"suggestion\":\"use --network if network access is needed\"}]}";

static int parse(const char *s, struct sfc_audit_rec *r)
{
	const char *why;
	return sfc_audit_parse(s, strlen(s), r, &why);
}

static char *str(const struct sfc_span *s)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	sfc_json_unescape(s, buf[k], sizeof(buf[k]));
	return buf[k];
}

TEST(design_record)
{
	struct sfc_audit_rec r;
	char d[128];

	CHECK(parse(good, &r) == 0);
	CHECK(r.ts == 1795375800.123 || (r.ts > 1795375800.122 && r.ts < 1795375800.124));
	CHECK_STR(str(&r.applet), "run");
	CHECK_STR(str(&r.level), "default");
	CHECK(!sfc_span_set(&r.preset)); /* null */
	CHECK_STR(str(&r.cmd0), "python");
	CHECK(r.argc == 2);
	CHECK(r.max_memory == 1073741824.0);
	CHECK(r.cpu_time == 45.2);
	CHECK(r.duration == 45.2);
	CHECK(r.has_exit_code && r.exit_code == 0);
	CHECK(r.signal == 0 && !r.timed_out && !r.oom_killed);
	CHECK(r.nviol == 1);
	CHECK_STR(str(&r.viol[0].kind), "network_access_denied");
	CHECK(sfc_json_object_get(&r.viol[0].raw, "attempted_host", d, sizeof(d)));
	CHECK_STR(d, "93.184.216.34:443");
	sfc_audit_command_string(&r, d, sizeof(d));
	CHECK_STR(d, "python script.py");
}

TEST(escapes)
{
	struct sfc_audit_rec r;
	char buf[256];
	/* an argument that tries to close the string and forge fields */
	const char *l = "{\"applet\":\"r\\u0075n\",\"command\":[\"a\\\"b\",\"x\\\\\\\"},\\\"result\\\":{\"],"
			"\"user\":\"\\ud83d\\ude00\\n\\t\\/\",\"appl\\u0065t\":\"shell\"}";
	CHECK(parse(l, &r) == 0);
	/* duplicate key (escaped spelling): the last one wins, as in most parsers */
	CHECK_STR(str(&r.applet), "shell");
	CHECK_STR(str(&r.cmd0), "a\"b");
	CHECK_STR(str(&r.user), "\xf0\x9f\x98\x80\n\t/");
	sfc_audit_command_string(&r, buf, sizeof(buf));
	CHECK_STR(buf, "'a\"b' 'x\\\"},\"result\":{'");
	CHECK(!r.has_exit_code);
	/* lone surrogate: replacement character */
	CHECK(parse("{\"user\":\"\\udc00x\"}", &r) == 0);
	CHECK_STR(str(&r.user), "\xef\xbf\xbdx");
}

TEST(numbers_and_legacy_strings)
{
	struct sfc_audit_rec r;
	CHECK(parse("{\"resources\":{\"max_memory\":\"1073741824\",\"cpu_time\":\"45.2\"},"
		    "\"result\":{\"exit_code\":3,\"duration\":\"45.2\",\"signal\":\"SIGKILL\"}}", &r) == 0);
	CHECK(r.max_memory == 1073741824.0 && r.cpu_time == 45.2 && r.duration == 45.2);
	CHECK(r.exit_code == 3 && r.signal == 9);
	/* seed 000's container record */
	CHECK(parse("{\"image\":\"ubuntu:22.04\",\"command\":[\"make\",\"build\"],\"exit_code\":0,\"duration\":\"45.2s\","
		    "\"stats\":{\"max_memory\":\"1.5g\"}}", &r) == 0);
	CHECK_STR(str(&r.image), "ubuntu:22.04");
	CHECK(r.duration == 45.2 && r.has_exit_code && r.exit_code == 0);
	CHECK(r.max_memory == 1.5 * 1024 * 1024 * 1024);
	CHECK(parse("{\"result\":{\"duration\":1e2,\"exit_code\":-0}}", &r) == 0);
	CHECK(r.duration == 100);
	CHECK(parse("{\"result\":{\"duration\":12345678901234567890.5}}", &r) == 0);
	CHECK(r.duration > 1.2e19 && r.duration < 1.3e19);
	CHECK(parse("{\"result\":{\"duration\":0.1}}", &r) == 0 && r.duration == 0.1);
}

TEST(junk_is_rejected)
{
	static const char *const bad[] = {
		"", "   ", "[]", "\"x\"", "42", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":1}x", "{\"a\":1}{\"b\":2}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}",
		"{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"tab\there\"}", "{\"a\":\"unterminated}", "{\"a\":[1,2}", "{\"a\":[1 2]}", "{'a':1}",
		"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":+1}", "{\"timestamp\":\"2026-11-22T19:30:00Z\"",
	};
	struct sfc_audit_rec r;
	char deep[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &r) == 0) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(!"junk accepted");
		}
	}
	/* nesting deeper than SFC_JSON_MAX_DEPTH is refused, not recursed into */
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"a\":", 5);
	deep[sizeof(deep) - 1] = 0;
	CHECK(parse(deep, &r) < 0);
	/* but ordinary nesting and whitespace are fine */
	CHECK(parse(" { \"a\" : [ { \"b\" : [ 1 , 2.5e-3 , true , false , null ] } ] } ", &r) == 0);
}

/* Every prefix of a record (a torn write) is refused, and random bytes
 * written over a record never crash the scanner (run under ASan in CI). */
TEST(truncation_and_mutation)
{
	struct sfc_audit_rec r;
	size_t n = strlen(good);
	char *buf = malloc(n + 1);
	unsigned seed = 12345;
	int accepted = 0;

	for (size_t k = 0; k < n; k++) {
		memcpy(buf, good, k);
		{
			const char *why;
			if (sfc_audit_parse(buf, k, &r, &why) == 0)
				CHECK(!"a truncated record was accepted");
		}
	}
	for (int it = 0; it < 200000; it++) {
		const char *why;
		size_t len = n;
		memcpy(buf, good, n);
		for (int m = 0; m < 1 + it % 4; m++) {
			seed = seed * 1103515245 + 12345;
			size_t pos = (seed >> 8) % n;
			seed = seed * 1103515245 + 12345;
			buf[pos] = (char)(seed >> 16);
		}
		if (it % 7 == 0) {
			seed = seed * 1103515245 + 12345;
			len = (seed >> 8) % n;
		}
		if (sfc_audit_parse(buf, len, &r, &why) == 0) {
			char tmp[512];
			accepted++;
			/* what it keeps must be usable */
			sfc_audit_command_string(&r, tmp, sizeof(tmp));
			for (uint32_t i = 0; i < r.nviol && i < SFC_AUDIT_MAX_VIOL; i++)
				sfc_json_object_get(&r.viol[i].raw, "action", tmp, sizeof(tmp));
		} else {
			CHECK(why && *why);
		}
	}
	CHECK(accepted > 0); /* a flip inside a string keeps it valid */
	free(buf);
}

TEST(timestamps)
{
	char buf[64];
	CHECK(sfc_parse_iso8601("1970-01-01T00:00:00Z", 20) == 0);
	CHECK(sfc_parse_iso8601("2000-03-01T00:00:00Z", 20) == 951868800);
	CHECK(sfc_parse_iso8601("2026-11-22T19:30:00+01:00", 25) == 1795375800 - 3600);
	CHECK(sfc_parse_iso8601("2026-11-22 19:30:00.5Z", 22) == 1795375800.5);
	CHECK(sfc_parse_iso8601("2026-13-22T19:30:00Z", 20) < 0);
	CHECK(sfc_parse_iso8601("2026-11-22T19:30:00Zjunk", 24) < 0);
	CHECK(sfc_parse_iso8601("2026-11-22", 10) < 0);
	sfc_format_iso8601(1795375800.123, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-22T19:30:00.123Z");
}

TEST(json_writer)
{
	struct sfc_buf b = { 0 };
	sfc_buf_json_str(&b, "a\"b\\c\n\x1b[2J\x7f");
	CHECK_STR(b.p, "\"a\\\"b\\\\c\\u000a\\u001b[2J\\u007f\"");
	sfc_buf_free(&b);
}

TEST(rotation_order)
{
	char dir[] = "/tmp/sefaca-ut.XXXXXX";
	static const char *const names[] = { "audit.jsonl", "audit.jsonl.1", "audit.jsonl.2.gz", "audit.jsonl.10.gz",
					     "audit.jsonl.3", "audit.jsonl.3.gz", "audit.jsonl.x", "audit.jsonl.0",
					     "other.jsonl.1", ".audit.jsonl.2.tmp-1" };
	static const char *const want[] = { "audit.jsonl.10.gz", "audit.jsonl.3", "audit.jsonl.2.gz", "audit.jsonl.1",
					    "audit.jsonl" };
	struct sfc_strv v = { 0 };
	struct sfc_error e;

	CHECK(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		close(open(p, O_CREAT | O_WRONLY, 0600));
	}
	CHECK(sfc_auditlog_files(dir, "audit.jsonl", &v, &e) == 0);
	CHECK(v.n == 5);
	for (size_t i = 0; i < v.n && i < 5; i++)
		CHECK_STR(strrchr(v.v[i], '/') + 1, want[i]);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	sfc_strv_clear(&v);
}

TEST(registry_alive)
{
	struct timespec bt;
	struct sfc_reg_entry en;
	const char *rec = "{\"pid\":42,\"init_pid\":43,\"boot_ns\":7,\"started\":1.5,\"applet\":\"run\",\"name\":\"\","
			  "\"cgroup\":\"\",\"command\":\"echo \\\"hi\\\"\"}\n";

	clock_gettime(CLOCK_BOOTTIME, &bt);
	/* this process registered "now": alive */
	CHECK(sfc_registry_alive(getpid(), (uint64_t)bt.tv_sec * 1000000000ULL + (uint64_t)bt.tv_nsec) == 1);
	/* a record written before this process started: its pid was reused */
	CHECK(sfc_registry_alive(getpid(), 1) == 0);
	/* a record from the future (an earlier boot) */
	CHECK(sfc_registry_alive(getpid(), UINT64_MAX / 2) == 0);
	CHECK(sfc_registry_alive(0, 1) == 0);
	CHECK(sfc_registry_parse(rec, strlen(rec), &en) == 0);
	CHECK(en.pid == 42 && en.init_pid == 43 && en.boot_ns == 7 && en.started == 1.5);
	CHECK_STR(en.applet, "run");
	CHECK_STR(en.command, "echo \"hi\"");
	CHECK(sfc_registry_parse("{\"pid\":", 7, &en) < 0);
}

int main(void)
{
	unit_file = "auditlog";
	RUN(design_record);
	RUN(escapes);
	RUN(numbers_and_legacy_strings);
	RUN(junk_is_rejected);
	RUN(truncation_and_mutation);
	RUN(timestamps);
	RUN(json_writer);
	RUN(rotation_order);
	RUN(registry_alive);
	return 0;
}

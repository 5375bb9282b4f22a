/* Unit tests: size, duration, CPU and count parsers. */
#include <stdint.h>

#include "core/parse.h"
#include "unit.h"

static int size_ok(const char *s, uint64_t want)
{
	struct sfc_error e;
	uint64_t v = 0;
	return sfc_parse_size(s, &v, &e) == 0 && v == want;
}

static int size_bad(const char *s)
{
	struct sfc_error e;
	uint64_t v;
	return sfc_parse_size(s, &v, &e) < 0 && e.msg[0];
}

TEST(size_valid)
{
	CHECK(size_ok("1", 1));
	CHECK(size_ok("512", 512));
	CHECK(size_ok("64k", 65536));
	CHECK(size_ok("64K", 65536));
	CHECK(size_ok("512m", 512ULL << 20));
	CHECK(size_ok("2g", 2ULL << 30));
	CHECK(size_ok("2G", 2ULL << 30));
	CHECK(size_ok("1t", 1ULL << 40));
	CHECK(size_ok("1gb", 1ULL << 30));
	CHECK(size_ok("1GiB", 1ULL << 30));
	CHECK(size_ok("100b", 100));
}

TEST(size_invalid)
{
	/* SECURITY.md 28: 0, -1, 2^64 and 1x are rejected */
	CHECK(size_bad("0"));
	CHECK(size_bad("0m"));
	CHECK(size_bad("-1"));
	CHECK(size_bad("18446744073709551616"));
	CHECK(size_bad("18446744073709551615"));
	CHECK(size_bad("9223372036854775808"));
	CHECK(size_bad("16777216t"));
	CHECK(size_bad("1x"));
	CHECK(size_bad(""));
	CHECK(size_bad(" 1"));
	CHECK(size_bad("1 "));
	CHECK(size_bad("+1"));
	CHECK(size_bad("1.5g"));
	CHECK(size_bad("m"));
	CHECK(size_bad("1mm"));
	CHECK(size_bad("0x10"));
}

static int dur(const char *s, uint64_t *ms)
{
	struct sfc_error e;
	return sfc_parse_duration(s, ms, &e);
}

TEST(duration)
{
	uint64_t ms;
	CHECK(dur("90", &ms) == 0 && ms == 90000);
	CHECK(dur("90s", &ms) == 0 && ms == 90000);
	CHECK(dur("5m", &ms) == 0 && ms == 300000);
	CHECK(dur("1h", &ms) == 0 && ms == 3600000);
	CHECK(dur("2d", &ms) == 0 && ms == 2 * 86400000ULL);
	CHECK(dur("1500ms", &ms) == 0 && ms == 1500);
	CHECK(dur("0", &ms) < 0);
	CHECK(dur("0s", &ms) < 0);
	CHECK(dur("-5", &ms) < 0);
	CHECK(dur("5x", &ms) < 0);
	CHECK(dur("", &ms) < 0);
	CHECK(dur("1.5s", &ms) < 0);
	CHECK(dur("99999999999999999999", &ms) < 0);
	CHECK(dur("9999999999999999", &ms) < 0);
	CHECK(dur("5 m", &ms) < 0);
}

TEST(cpu)
{
	struct sfc_error e;
	uint32_t m;
	CHECK(sfc_parse_cpu("0.5", &m, &e) == 0 && m == 500);
	CHECK(sfc_parse_cpu("2", &m, &e) == 0 && m == 2000);
	CHECK(sfc_parse_cpu("1.25", &m, &e) == 0 && m == 1250);
	CHECK(sfc_parse_cpu("0.001", &m, &e) == 0 && m == 1);
	CHECK(sfc_parse_cpu("0.5000", &m, &e) == 0 && m == 500);
	CHECK(sfc_parse_cpu("0", &m, &e) < 0);
	CHECK(sfc_parse_cpu("0.0", &m, &e) < 0);
	CHECK(sfc_parse_cpu("0.0001", &m, &e) < 0);
	CHECK(sfc_parse_cpu("-1", &m, &e) < 0);
	CHECK(sfc_parse_cpu("1.", &m, &e) < 0);
	CHECK(sfc_parse_cpu(".5", &m, &e) < 0);
	CHECK(sfc_parse_cpu("2000", &m, &e) < 0);
	CHECK(sfc_parse_cpu("1,5", &m, &e) < 0);
}

TEST(uint_and_bool)
{
	struct sfc_error e;
	uint64_t v;
	bool b;
	CHECK(sfc_parse_uint("64", 1, 100, &v, &e) == 0 && v == 64);
	CHECK(sfc_parse_uint("0", 1, 100, &v, &e) < 0);
	CHECK(sfc_parse_uint("101", 1, 100, &v, &e) < 0);
	CHECK(sfc_parse_uint("1e3", 1, 10000, &v, &e) < 0);
	CHECK(sfc_parse_bool("yes", &b, &e) == 0 && b);
	CHECK(sfc_parse_bool("False", &b, &e) == 0 && !b);
	CHECK(sfc_parse_bool("maybe", &b, &e) < 0);
	CHECK(sfc_is_none("none") && sfc_is_none("unlimited") && !sfc_is_none("1g"));
}

TEST(format)
{
	char buf[32];
	sfc_format_size(1ULL << 30, buf, sizeof(buf));
	CHECK_STR(buf, "1g");
	sfc_format_size(1536ULL << 20, buf, sizeof(buf));
	CHECK_STR(buf, "1536m");
	sfc_format_size(1000, buf, sizeof(buf));
	CHECK_STR(buf, "1000");
	sfc_format_duration(90000, buf, sizeof(buf));
	CHECK_STR(buf, "90s");
	sfc_format_duration(1500, buf, sizeof(buf));
	CHECK_STR(buf, "1500ms");
}

int main(void)
{
	unit_init("parse");
	RUN(size_valid);
	RUN(size_invalid);
	RUN(duration);
	RUN(cpu);
	RUN(uint_and_bool);
	RUN(format);
	return 0;
}

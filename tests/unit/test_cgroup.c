/* Unit tests: the pure parts of core/cgroup.c, and the limit keys of the
 * spec.  The cgroup path itself runs in the VM (make check-vm). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/spec.h"
#include "unit.h"

TEST(parse_self)
{
	char buf[256];

	CHECK_STR(sfc_cgroup_parse_self("0::/user.slice/u.scope\n", buf, sizeof(buf)), "/user.slice/u.scope");
	/* hybrid: v1 lines first, the unified one last */
	CHECK_STR(sfc_cgroup_parse_self("9:name=systemd:/\n4:memory:/x\n0::/\n", buf, sizeof(buf)), "/");
	CHECK_STR(sfc_cgroup_parse_self("12:pids:/a\n0::/a/b", buf, sizeof(buf)), "/a/b");
	/* pure v1, an empty path, a path that does not fit */
	CHECK(!sfc_cgroup_parse_self("4:memory:/x\n1:cpu:/\n", buf, sizeof(buf)));
	CHECK(!sfc_cgroup_parse_self("0::\n", buf, sizeof(buf)));
	CHECK(!sfc_cgroup_parse_self("0::/abcdef\n", buf, 4));
}

TEST(controllers)
{
	char buf[64];

	CHECK(sfc_cgroup_parse_controllers("cpuset cpu io memory hugetlb pids rdma misc\n") ==
	      (SFC_CG_MEMORY | SFC_CG_PIDS | SFC_CG_CPU | SFC_CG_IO));
	CHECK(sfc_cgroup_parse_controllers("cpuset hugetlb") == 0);
	CHECK(sfc_cgroup_parse_controllers("memoryx cpux") == 0);
	CHECK(sfc_cgroup_parse_controllers("") == 0);
	sfc_cgroup_format_controllers(SFC_CG_MEMORY | SFC_CG_CPU, "+", buf, sizeof(buf));
	CHECK_STR(buf, "+memory +cpu");
	sfc_cgroup_format_controllers(SFC_CG_PIDS, "-", buf, sizeof(buf));
	CHECK_STR(buf, "-pids");
}

TEST(cpu_max)
{
	char buf[64];

	sfc_cgroup_cpu_max(500, buf, sizeof(buf));
	CHECK_STR(buf, "50000 100000");
	sfc_cgroup_cpu_max(2000, buf, sizeof(buf));
	CHECK_STR(buf, "200000 100000");
	sfc_cgroup_cpu_max(10, buf, sizeof(buf));
	CHECK_STR(buf, "1000 100000");
	/* below 10 milli-CPUs the quota would be under the kernel's 1 ms minimum */
	sfc_cgroup_cpu_max(1, buf, sizeof(buf));
	CHECK_STR(buf, "1000 1000000");
}

static const char *io(const char *item)
{
	static char out[256];
	struct sfc_error e;
	return sfc_cgroup_io_max_line(item, out, sizeof(out), &e) == 0 ? out : NULL;
}

static int io_bad(const char *item)
{
	struct sfc_error e = { 0 };
	return sfc_cgroup_io_max_line(item, NULL, 0, &e) < 0 && e.msg[0];
}

TEST(io_max)
{
	CHECK_STR(io("8:0 wbps=1m"), "8:0 wbps=1048576");
	CHECK_STR(io("  259:3 rbps=2k wbps=max riops=100 wiops=5"), "259:3 rbps=2048 wbps=max riops=100 wiops=5");
	CHECK(io_bad("8:0"));
	CHECK(io_bad("8:0 wbs=1m"));
	CHECK(io_bad("8:0 wbps=0"));
	CHECK(io_bad("8:0 wbps=1x"));
	CHECK(io_bad("8:0 riops=1k"));
	CHECK(io_bad("8:0 wbps=1m wbps=2m"));
	CHECK(io_bad("8: wbps=1m"));
	CHECK(io_bad("8:0x wbps=1m"));
	CHECK(io_bad("sda wbps=1m"));
	CHECK(io_bad(""));
	/* a path is checked when resolved: it must be a block device */
	CHECK(!io("/dev/null wbps=1m"));
	CHECK(!io("/nonexistent wbps=1m"));
}

TEST(names)
{
	pid_t pid;
	unsigned long long start;

	CHECK(sfc_cgroup_name_parse("sefaca-123-4567-0", &pid, &start) && pid == 123 && start == 4567);
	CHECK(sfc_cgroup_name_parse("sefaca-1-0-sup", &pid, &start) && pid == 1 && start == 0);
	CHECK(sfc_cgroup_name_parse("sefaca-99-1-12", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca-0-1-0", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca-1-2", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca-1-2-", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca-1-2-3x", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca-1-2-supx", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca--1-2-3", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("user.slice", &pid, &start));
	CHECK(!sfc_cgroup_name_parse("sefaca-99999999-1-0", &pid, &start));
	/* our own start time is what a leaf of ours is named with */
	CHECK(sfc_proc_starttime(getpid()) > 0);
	CHECK(sfc_proc_starttime(0) == 0);
}

static int set(struct sfc_spec *s, enum sfc_key k, const char *v)
{
	struct sfc_error e;
	struct sfc_origin o = { SFC_ORIGIN_FLAG, "--x", 0 };
	return sfc_spec_set(s, k, v, &o, &e);
}

TEST(spec_keys)
{
	struct sfc_spec s;

	sfc_spec_init(&s);
	CHECK(s.cgroup_mode == SFC_CGROUP_AUTO && !s.require_limits && s.memory_swap == 0);
	CHECK(set(&s, SFC_K_CGROUP, "systemd") == 0 && s.cgroup_mode == SFC_CGROUP_SYSTEMD);
	CHECK(set(&s, SFC_K_CGROUP, "none") == 0 && s.cgroup_mode == SFC_CGROUP_NONE);
	CHECK(set(&s, SFC_K_CGROUP, "v1") < 0);
	CHECK(set(&s, SFC_K_REQUIRE_LIMITS, "yes") == 0 && s.require_limits);
	CHECK(set(&s, SFC_K_MEMORY_SWAP, "1g") == 0 && s.memory_swap == 1ULL << 30);
	CHECK(set(&s, SFC_K_MEMORY_SWAP, "max") == 0 && s.memory_swap == UINT64_MAX);
	CHECK(set(&s, SFC_K_MEMORY_SWAP, "0") == 0 && s.memory_swap == 0);
	CHECK(set(&s, SFC_K_MEMORY_SWAP, "-1") < 0);
	CHECK(set(&s, SFC_K_IO_WEIGHT, "100") == 0 && s.io_weight == 100);
	CHECK(set(&s, SFC_K_IO_WEIGHT, "0") < 0);
	CHECK(set(&s, SFC_K_IO_WEIGHT, "10001") < 0);
	CHECK(set(&s, SFC_K_IO_MAX, "8:0 wbps=1m,8:16 riops=10") == 0 && s.io_max.items.n == 2);
	CHECK(set(&s, SFC_K_IO_MAX, "8:0 bogus=1") < 0);
	CHECK(sfc_key_lookup("require-limits") == SFC_K_REQUIRE_LIMITS);
	CHECK(sfc_key_lookup("io-max") == SFC_K_IO_MAX);
	CHECK(sfc_key_lookup("memory-swap") == SFC_K_MEMORY_SWAP);
	char *v = sfc_spec_value_string(&s, SFC_K_CGROUP);
	CHECK_STR(v, "none");
	free(v);
	sfc_spec_free(&s);
}

int main(void)
{
	unit_init("cgroup");
	RUN(parse_self);
	RUN(controllers);
	RUN(cpu_max);
	RUN(io_max);
	RUN(names);
	RUN(spec_keys);
	return unit_failed_checks != 0;
}

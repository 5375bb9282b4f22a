/*
 * sfcresult: a test driver for the VM.  Runs one sandbox through the same
 * core code as sefaca-run and prints what struct sfc_result and struct
 * sfc_layers say, one key=value per line, so the tests can check the
 * figures the kernel gave (until the audit record carries them):
 *
 *   sfcresult [RUN OPTIONS] -- CMD...   run, print status=, oom_killed=,
 *                                       mem_peak=, cpu_time=, pids_peak=,
 *                                       usage_source=, limits=, cgroup=,
 *                                       cgroup_path=, violation=
 *   sfcresult sweep [DIR]               sfc_cgroup_sweep(): print what it removed
 *   sfcresult sweep-dry [DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/common.h"
#include "core/cgroup.h"
#include "core/sandbox.h"

static char path_seen[4096];

static void on_start(struct sfc_sandbox *sb, void *data)
{
	(void)data;
	snprintf(path_seen, sizeof(path_seen), "%s", sb->layers.cgroup_path ? sb->layers.cgroup_path : "");
}

int main(int argc, char **argv)
{
	extern char **environ;
	struct sfc_runopts o = { 0 };
	struct sfc_spec spec;
	struct sfc_sandbox sb;
	struct sfc_error e = { 0 };
	int i = 1, r;

	sfc_applet = "sfcresult";
	if (argc >= 2 && !strncmp(argv[1], "sweep", 5)) {
		struct sfc_strv removed = { 0 };
		r = sfc_cgroup_sweep(argc > 2 ? argv[2] : NULL, !strcmp(argv[1], "sweep-dry"), &removed, &e);
		if (r < 0) {
			fprintf(stderr, "sfcresult: %s\n", e.msg);
			return 125;
		}
		for (size_t k = 0; k < removed.n; k++)
			printf("stale=%s\n", removed.v[k]);
		printf("swept=%d\n", r);
		return 0;
	}
	sfc_runopts_parse(&o, argc, argv, &i, false);
	if (i >= argc) {
		fprintf(stderr, "usage: sfcresult [RUN OPTIONS] -- CMD...\n");
		return 125;
	}
	sfc_spec_init(&spec);
	if (sfc_spec_from_process(&spec, argv + i, &e) < 0)
		sfc_die_error(&e);
	sfc_sources_add_environ(&o.src, environ);
	if (sfc_spec_resolve(&spec, &o.src, &e) < 0)
		sfc_die_error(&e);
	sfc_sandbox_init(&sb, &spec);
	if (sfc_sandbox_prepare(&sb, &e) < 0)
		sfc_die_error(&e);
	sfc_print_notes(&sb.plan.notes, o.quiet);
	sb.on_start = on_start;
	r = sfc_sandbox_run(&sb, &e);
	fflush(stdout);
	if (r < 0)
		printf("error=%s\n", e.msg);
	printf("status=%d\nexit_code=%d\nsignal=%d\ntimed_out=%d\noom_killed=%d\n", sb.result.status,
	       sb.result.exit_code, sb.result.signal, sb.result.timed_out, sb.result.oom_killed);
	printf("mem_peak=%llu\ncpu_time=%.3f\npids_peak=%llu\nusage_source=%s\n", (unsigned long long)sb.result.mem_peak,
	       sb.result.cpu_time, (unsigned long long)sb.result.pids_peak,
	       sb.result.usage_source ? sb.result.usage_source : "");
	printf("limits=%s\ncgroup=%s\ncgroup_path=%s\n", sb.layers.limits ? sb.layers.limits : "",
	       sb.layers.cgroup ? sb.layers.cgroup : "", path_seen);
	for (size_t k = 0; k < sb.layers.limits_detail.n; k++)
		printf("detail=%s\n", sb.layers.limits_detail.v[k]);
	for (size_t k = 0; k < sb.result.nviolations; k++)
		printf("violation=%s:%s:%s\n", sb.result.violations[k].kind, sb.result.violations[k].detail,
		       sb.result.violations[k].action);
	r = sb.result.status;
	sfc_sandbox_free(&sb);
	sfc_spec_free(&spec);
	return r;
}

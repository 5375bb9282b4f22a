/*
 * sefaca-run: run one command in a sandbox on the host's filesystem view.
 */
//config:config SEFACA_RUN
//config:	bool "sefaca-run: run a command in a sandbox"
//config:	default y
//config:	help
//config:	  Run one command in a sandbox made of an unprivileged user
//config:	  namespace, a new mount namespace with a read-only system
//config:	  view, PID/IPC/UTS/network namespaces, seccomp, no
//config:	  capabilities and resource limits.  This is the applet an
//config:	  embedded build keeps.
//applet:SFC_APPLET(run, SEFACA_RUN)
//usage:Usage: sefaca-run [OPTIONS] [--] COMMAND [ARG...]
//usage:
//usage:Run COMMAND in a sandbox.  A single argument is a shell command line
//usage:(run with /bin/sh -c); several are executed directly.
//usage:
//usage:Levels and profiles:
//usage:  --level=strict|default|permissive
//usage:        strict: no network, $HOME an empty tmpfs, current directory
//usage:        read-only, only /tmp writable, clean environment, tight limits.
//usage:        default: network on loopback only, $HOME read-only with secret
//usage:        stores hidden, current directory read-write, secrets dropped
//usage:        from the environment.  permissive: the host's view and network,
//usage:        still in its own namespaces with seccomp and no privileges.
//usage:  --preset=NAME, --policy=NAME   named settings (see the config file)
//usage:Network:
//usage:  --network[=MODE], --no-network   MODE: deny, localhost, allow
//usage:  --network=allow:HOST[:PORT],...  only these, through a proxy on the
//usage:        sandbox's loopback (http_proxy, https_proxy, all_proxy are set)
//usage:Filesystem:
//usage:  --readonly=PATH[:PATH...]   show PATH read-only
//usage:  --readwrite=PATH[:PATH...]  show PATH read-write
//usage:  --hide=PATH                 hide PATH behind an empty file or directory
//usage:  --tmpfs=PATH[:SIZE]         a private empty tmpfs at PATH
//usage:  --tmp-size=SIZE             size of the private /tmp
//usage:  --workdir=DIR               start in DIR (default: the current directory)
//usage:Limits:
//usage:  --memory=SIZE  --pids=N  --nofile=N  --fsize=SIZE  (k/m/g suffixes)
//usage:  --cpu=CPUS  --memory-swap=SIZE|0|max  --io-weight=N  --io-max='DEV wbps=SIZE...'
//usage:        cgroup v2 where a delegated subtree exists (exit 137 when the
//usage:        memory limit kills), else rlimits, with a note for what they
//usage:        cannot express
//usage:  --cgroup=auto|systemd|none  --require-limits (fail rather than not enforce)
//usage:  --timeout=DURATION          seconds, or 90s, 5m, 1h; exit 124 when hit
//usage:  --kill-grace=DURATION       SIGTERM to SIGKILL delay on timeout (2s)
//usage:Environment:
//usage:  --env-clear  --setenv=K=V  --unsetenv=K  --keep-env=K (globs allowed)
//usage:Identity and nesting:
//usage:  --uid=N --gid=N  --hostname=NAME  --allow-nested
//usage:Other:
//usage:  --seccomp=strict|default|permissive
//usage:  --preserve-fd=FD            pass descriptor FD to the command
//usage:  --best-effort               use what this machine allows instead of failing
//usage:                              (no user namespaces: Landlock + seccomp only)
//usage:  --check [--json]            which layers this machine gives, and fixes
//usage:  -q, --quiet                 no notes on stderr
//usage:  -h, --help
//usage:
//usage:Exit status: the command's; 128+N if killed by signal N; 124 on
//usage:timeout; 125 if the sandbox could not be set up (nothing ran);
//usage:126 if the command is not executable; 127 if it is not found.
//usage:Settings also come from SEFACA_LEVEL, SEFACA_NETWORK, SEFACA_MEMORY,
//usage:SEFACA_TIMEOUT, SEFACA_PIDS... (the option name in capitals).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/common.h"
#include "autoconf.h"
#include "core/registry.h"
#include "core/sandbox.h"

const char *sfc_applet_usage(const char *name);

int run_main(int argc, char **argv)
{
	extern char **environ;
	struct sfc_runopts o = { 0 };
	struct sfc_spec spec;
	struct sfc_sandbox sb;
	struct sfc_error e = { 0 };
	struct sfc_reg reg = { .applet = "run" };
	int i = 1, r;

	SFC_TRACE_POINT("main");
	if (argc > 1 && !strcmp(argv[1], "--check"))
		return sfc_check_print(argc > 2 && !strcmp(argv[2], "--json"));
	sfc_runopts_parse(&o, argc, argv, &i, false);
	if (o.help) {
		fputs(sfc_applet_usage("run"), stdout);
		return 0;
	}
	if (i >= argc)
		sfc_usage_error("no command given");

	sfc_spec_init(&spec);
	if (sfc_spec_from_process(&spec, argv + i, &e) < 0)
		sfc_die_error(&e);
	spec.preserve_fds = o.preserve_fds;
	spec.npreserve_fds = o.npreserve_fds;
	sfc_sources_add_environ(&o.src, environ);
	if (sfc_spec_resolve(&spec, &o.src, &e) < 0)
		sfc_die_error(&e);

	sfc_sandbox_init(&sb, &spec);
	if (sfc_sandbox_prepare(&sb, &e) < 0)
		sfc_die_error(&e);
	sfc_print_notes(&sb.plan.notes, o.quiet);
	SFC_TRACE_POINT("s: prepared");
	if (ENABLE_FEATURE_REGISTRY) {
		/* listed by sefaca-stats --live while it runs (core/registry.h) */
		sb.on_start = sfc_registry_on_start;
		sb.hook_data = &reg;
	}
	r = sfc_sandbox_run(&sb, &e);
	sfc_registry_remove(&reg);
	sfc_print_violations(&sb.result, o.quiet);
	if (r < 0)
		sfc_msg("%s", e.msg);
	r = r < 0 ? (e.status ? e.status : 125) : sb.result.status;
	sfc_sandbox_free(&sb);
	sfc_spec_free(&spec);
	free(spec.cwd);
	free(spec.home);
	sfc_sources_clear(&o.src);
	free(o.preserve_fds);
	return r;
}

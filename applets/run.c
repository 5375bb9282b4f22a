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
//usage:  --preset=NAME   compiler, network-client, development, testing, or
//usage:                  [preset.NAME] of a config file
//usage:  --policy=NAME   minimal, standard, hardened, paranoid, or [policy.NAME]
//usage:  --env=NAME      development, production, build, or [env.NAME]
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
//usage:Configuration and audit:
//usage:  --config=FILE               read FILE after /etc/sefaca/config.ini and
//usage:                              $SEFACA_HOME/config.ini (~/.sefaca)
//usage:  --no-config                 read no configuration file
//usage:  --explain                   print every setting and its origin, and the
//usage:                              layers in force, on stderr; then run
//usage:  --dry-run                   the same on stdout, and run nothing
//usage:  --json                      --explain/--dry-run as JSON
//usage:  --audit-log=FILE|syslog|none  where the run's record goes
//usage:                              (default $SEFACA_HOME/logs/audit.jsonl)
//usage:  --audit-required            refuse to run if the record cannot be written
//usage:  --json-status-fd=FD         also write the record to descriptor FD
//usage:  --learn, --audit-only       record what the strict seccomp filter would
//usage:                              deny, without denying what the level allows
//usage:  --blocked-commands=NAME,... refuse commands that run these programs
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
//usage:SEFACA_TIMEOUT, SEFACA_PIDS... (the option name in capitals), and from
//usage:config files; flags win over variables, variables over files.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/common.h"
#include "autoconf.h"

const char *sfc_applet_usage(const char *name);

int run_main(int argc, char **argv)
{
	struct sfc_runopts o = { 0 };
	int i = 1;

	SFC_TRACE_POINT("main");
	if (argc > 1 && !strcmp(argv[1], "--check")) {
		if (!ENABLE_FEATURE_CHECK)
			sfc_die(125, "--check was compiled out of this build (FEATURE_CHECK)");
		return sfc_check_print(argc > 2 && !strcmp(argv[2], "--json"));
	}
	sfc_runopts_parse(&o, argc, argv, &i, false);
	if (o.help) {
		fputs(sfc_applet_usage("run"), stdout);
		return 0;
	}
	if (i >= argc)
		sfc_usage_error("no command given");
	i = sfc_run_command(&o, "run", argv + i);
	sfc_runopts_free(&o);
	return i;
}

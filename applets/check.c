/*
 * sefaca check: which isolation layers this machine gives, and how to get
 * the missing ones.
 */
//config:config SEFACA_CHECK
//config:	bool "sefaca check: preflight of the isolation layers"
//config:	default y
//config:	depends on FEATURE_CHECK
//config:	help
//config:	  Try each layer sefaca uses on this machine (user namespaces
//config:	  and why not, overlayfs in a user namespace, the Landlock ABI,
//config:	  seccomp, cgroup v2 delegation, pasta/slirp4netns) and print a
//config:	  table with the fix for each missing piece, or JSON.
//config:	  sefaca-run --check does the same without this applet.
//applet:SFC_APPLET(check, SEFACA_CHECK)
//usage:Usage: sefaca check [--json]
//usage:
//usage:Try each isolation layer on this machine and print what is there,
//usage:what is missing and how to get it.
//usage:  --json      one JSON object instead of the table
//usage:  -h, --help
//usage:
//usage:Exit status: 0 if sefaca-run builds its full sandbox here, 1 if it
//usage:can only run with --best-effort (no namespaces), 2 if not at all.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/common.h"
#include "core/check.h"

const char *sfc_applet_usage(const char *name);

int check_main(int argc, char **argv)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(sfc_applet_usage("check"), stdout);
			return 0;
		} else
			sfc_usage_error("unknown option %s", argv[i]);
	}
	return sfc_check_print(json);
}

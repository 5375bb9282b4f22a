/*
 * sefaca: one multi-call binary.  The applet is chosen by the name it is
 * called by (sefaca-run -> run) or by its first argument (sefaca run ...).
 * The applet table is generated from the //applet: markers of the applet sources
 * and holds only what .config enables.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets/common.h"
#include "autoconf.h"
#include "usage.h"

#define SFC_APPLET(name, sym) int name##_main(int argc, char **argv);
#include "applets.h"
#undef SFC_APPLET

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *usage;
};

static const struct applet applets[] = {
#define SFC_APPLET(name, sym) { #name, name##_main, usage_##name },
#include "applets.h"
#undef SFC_APPLET
	{ NULL, NULL, NULL },
};

static const struct applet *find(const char *name)
{
	for (const struct applet *a = applets; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

const char *sfc_applet_usage(const char *name)
{
	const struct applet *a = find(name);
	return a ? a->usage : NULL;
}

static void version(void)
{
	printf("sefaca %s\n%s\n", SFC_VERSION, SFC_FEATURE_LINE);
}

static void help(FILE *f)
{
	fprintf(f, "sefaca %s: setuid-free, daemon-free sandboxes\n\n"
		   "Usage: sefaca APPLET [ARGS...]   or   sefaca-APPLET [ARGS...]\n"
		   "       sefaca --list | --install DIR | --version | --help\n\n"
		   "Applets:",
		SFC_VERSION);
	for (const struct applet *a = applets; a->name; a++)
		fprintf(f, " %s", a->name);
	fprintf(f, "\n");
}

static int install(const char *dir)
{
	char exe[PATH_MAX], rdir[PATH_MAX], edir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *target = exe;
	int status = 0;

	if (n < 0) {
		sfc_msg("cannot find my own binary: %s", strerror(errno));
		return 125;
	}
	exe[n] = 0;
	if (!realpath(dir, rdir)) {
		sfc_msg("%s: %s", dir, strerror(errno));
		return 125;
	}
	/* Links next to the binary are relative, so the tree can move. */
	snprintf(edir, sizeof(edir), "%s", exe);
	*strrchr(edir, '/') = 0;
	if (!strcmp(edir, rdir))
		target = strrchr(exe, '/') + 1;
	for (const struct applet *a = applets; a->name; a++) {
		char link[PATH_MAX + 64];
		snprintf(link, sizeof(link), "%s/sefaca-%s", rdir, a->name);
		unlink(link);
		if (symlink(target, link) < 0) {
			sfc_msg("%s: %s", link, strerror(errno));
			status = 125;
		} else {
			printf("%s -> %s\n", link, target);
		}
	}
	return status;
}

/* The stack a start uses, in one call rather than a page fault a page:
 * on a VM a fault costs ~10 us (a start takes ~8 of them), making 16
 * pages present at once ~10 us in all (MADV_POPULATE_WRITE, Linux 5.14;
 * older kernels refuse it and the pages fault in as they would).  The
 * exec'd stack's mapping reaches 128 KiB below its top already. */
static void populate_stack(void)
{
	char here;
	uintptr_t top = ((uintptr_t)&here) & ~(uintptr_t)4095;

	madvise((void *)(top - 64 * 1024), 64 * 1024, 23 /* MADV_POPULATE_WRITE */);
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const struct applet *a;

	populate_stack();

	base = base ? base + 1 : argv[0];
	if (!strncmp(base, "sefaca-", 7)) {
		a = find(base + 7);
		if (!a) {
			fprintf(stderr, "sefaca: applet not found: %s\n", base + 7);
			return 127;
		}
		sfc_applet = base;
		return a->main(argc, argv);
	}
	if (argc < 2) {
		help(stderr);
		return 125;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		version();
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--list")) {
		for (a = applets; a->name; a++)
			printf("sefaca-%s\n", a->name);
		return 0;
	}
	if (!strcmp(argv[1], "--install")) {
		if (argc != 3) {
			fprintf(stderr, "sefaca: --install needs a directory\n");
			return 125;
		}
		return install(argv[2]);
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "sefaca: unknown option %s (see sefaca --help)\n", argv[1]);
		return 125;
	}
	a = find(argv[1]);
	if (!a) {
		fprintf(stderr, "sefaca: applet not found: %s\n", argv[1]);
		return 127;
	}
	{
		static char name[64];
		snprintf(name, sizeof(name), "sefaca-%s", a->name);
		sfc_applet = name;
		argv[1] = name;
	}
	return a->main(argc - 1, argv + 1);
}

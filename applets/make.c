/*
 * sefaca-make: make whose recipes each run in a sandbox (compiler preset:
 * no network, writes only to the tree and $TMPDIR), or the whole make in
 * one sandbox with --whole.
 */
//config:config SEFACA_MAKE
//config:	bool "sefaca-make: make with sandboxed recipes"
//config:	default y
//config:	depends on SEFACA_SHELL
//config:	help
//config:	  Run make with SHELL=sefaca-shell so that every recipe runs in
//config:	  a sandbox of its own (no network, writes only to the source
//config:	  tree and $TMPDIR by default), or the whole make in one sandbox
//config:	  with --whole.  -j, the jobserver, -k, .ONESHELL and recursive
//config:	  $(MAKE) keep working.
//applet:SFC_APPLET(make, SEFACA_MAKE)
//usage:Usage: sefaca-make [OPTIONS] [--] [MAKE ARGUMENTS...]
//usage:
//usage:Run make with every recipe in a sandbox of its own.  make itself runs
//usage:in a sandbox with the same settings, and each recipe (and $(shell ...))
//usage:gets a new sandbox next to it through make's SHELL (sefaca-shell), so
//usage:that neither a recipe nor the makefile (override SHELL, $(file ...),
//usage:load) gets more than the settings allow.
//usage:
//usage:Settings: the compiler preset unless --preset or SEFACA_PRESET names
//usage:another: no network, the current directory (the tree) and a $TMPDIR of
//usage:its own writable, a private /tmp, $HOME and the system read-only, secret
//usage:stores hidden, 2g of memory, and 5 minutes per recipe (a timeout named
//usage:by flag, SEFACA_TIMEOUT or configuration holds for the whole make).
//usage:Configuration files are read as for sefaca-run; one audit record per
//usage:run says how many recipes ran.
//usage:
//usage:Options: every sefaca-run option (--level, --preset, --policy,
//usage:--network, --readonly, --readwrite, --memory, --timeout, --config,
//usage:--explain, ...; they apply to each sandbox), and:
//usage:  --whole             the whole make in one sandbox, recipes not apart
//usage:  --shell=PATH        the shell that runs recipes (default: the SHELL the
//usage:                      makefile sets, else /bin/sh)
//usage:  --make=PROGRAM      the make to run (default: make)
//usage:  --audit-recipes     one audit record per recipe, not only per run
//usage:  --quiet             no notes on stderr (-q is make's question mode)
//usage:Options end at the first argument sefaca does not know (-j4, -k, a
//usage:target...) or at "--"; the rest goes to make.
//usage:
//usage:Exit status: make's; 125 if the sandbox could not be set up.

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets/shell.h"
#include "core/env.h"
#include "core/session.h"
#include "core/util.h"

const char *sfc_applet_usage(const char *name);

struct make_opts {
	struct sfc_runopts o;
	bool whole, audit_recipes;
	const char *shell, *make;
	int first; /* first make argument */
};

/* Our option at ARGV[*I] (with its value in the next word if it takes
 * one and has no "="): consumed -> true. */
static bool own_option(struct make_opts *mo, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (!strcmp(a, "--whole")) {
		mo->whole = true;
	} else if (!strcmp(a, "--audit-recipes")) {
		mo->audit_recipes = true;
	} else if (!strncmp(a, "--shell=", 8) || !strncmp(a, "--make=", 7)) {
		const char *v = strchr(a, '=') + 1;
		if (!*v)
			sfc_usage_error("%.*s needs a value", (int)(strchr(a, '=') - a), a);
		if (a[2] == 's')
			mo->shell = v;
		else
			mo->make = v;
	} else if (!strcmp(a, "--shell") || !strcmp(a, "--make")) {
		if (*i + 1 >= argc)
			sfc_usage_error("%s needs a value", a);
		if (a[2] == 's')
			mo->shell = argv[*i + 1];
		else
			mo->make = argv[*i + 1];
		(*i)++;
	} else {
		return false;
	}
	(*i)++;
	return true;
}

/* sefaca options come first; they end at "--" or at the first argument
 * that is not one of ours: -j4, -k, -q (make's question mode, not our
 * quiet), targets, VAR=value all belong to make. */
static void parse(struct make_opts *mo, int argc, char **argv)
{
	int i = 1;

	while (i < argc) {
		const char *a = argv[i];
		char *mini[4];
		int j = 1, n;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--quiet")) {
			mo->o.quiet = true;
			i++;
			continue;
		}
		if (strncmp(a, "--", 2))
			break;
		if (own_option(mo, argc, argv, &i))
			continue;
		/* one option (and its value, if it is the next word) at a time */
		mini[0] = argv[0];
		mini[1] = argv[i];
		n = 2;
		if (!strchr(a, '=') && i + 1 < argc && argv[i + 1][0] != '-')
			mini[n++] = argv[i + 1];
		mini[n] = NULL;
		sfc_runopts_parse(&mo->o, n, mini, &j, true);
		if (j == 1)
			break; /* not ours: make's (--keep-going, --jobs=4...) */
		i += j - 1;
	}
	mo->first = i;
}

/* PROG searched in PATH (a path with a slash is taken as it is). */
static char *find_in_path(const char *prog)
{
	if (strchr(prog, '/'))
		return realpath(prog, NULL);
	return sfc_which(prog);
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The sefaca-shell that recipes run through: the applet link next to the
 * one we were called by, or in PATH, and it must be this very binary. */
static char *find_shell_applet(const char *argv0)
{
	char *p = NULL;

	if (strchr(argv0, '/')) {
		_cleanup_free_ char *dir = sfc_xstrdup(argv0);
		*strrchr(dir, '/') = 0;
		p = sfc_xasprintf("%s/sefaca-shell", *dir ? dir : "");
		if (!same_file(p, "/proc/self/exe")) {
			free(p);
			p = NULL;
		} else {
			char *abs = realpath(dir, NULL);
			if (abs) {
				free(p);
				p = sfc_xasprintf("%s/sefaca-shell", abs);
				free(abs);
			}
		}
	}
	if (!p) {
		p = find_in_path("sefaca-shell");
		if (p && !same_file(p, "/proc/self/exe")) {
			free(p);
			p = NULL;
		}
	}
	return p;
}

/* ---- the makefile's own SHELL ---- */

static bool bourne_name(const char *b)
{
	static const char *const names[] = { "sh", "bash", "dash", "ksh", "mksh", "zsh", "ash", NULL };
	for (const char *const *n = names; *n; n++)
		if (!strcmp(b, *n))
			return true;
	return false;
}

/* The makefile make will read (-f/--file/--makefile, else GNUmakefile,
 * makefile, Makefile; after -C/--directory). */
static char *which_makefile(int argc, char **argv, int first)
{
	_cleanup_free_ char *dir = NULL;
	const char *file = NULL;
	static const char *const defaults[] = { "GNUmakefile", "makefile", "Makefile", NULL };

	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (!strcmp(a, "--"))
			break;
		if ((!strcmp(a, "-f") || !strcmp(a, "--file") || !strcmp(a, "--makefile")) && i + 1 < argc)
			v = argv[++i], file = v;
		else if (!strncmp(a, "--file=", 7) || !strncmp(a, "--makefile=", 11))
			file = strchr(a, '=') + 1;
		else if (!strncmp(a, "-f", 2) && a[2])
			file = a + 2;
		else if ((!strcmp(a, "-C") || !strcmp(a, "--directory")) && i + 1 < argc)
			v = argv[++i];
		else if (!strncmp(a, "--directory=", 12))
			v = a + 12;
		else if (!strncmp(a, "-C", 2) && a[2])
			v = a + 2;
		if (v && v != file) {
			char *d = dir ? sfc_xasprintf("%s/%s", dir, v) : sfc_xstrdup(v);
			if (v[0] == '/') {
				free(d);
				d = sfc_xstrdup(v);
			}
			free(dir);
			dir = d;
		}
	}
	if (file)
		return file[0] == '/' || !dir ? sfc_xstrdup(file) : sfc_xasprintf("%s/%s", dir, file);
	for (const char *const *d = defaults; *d; d++) {
		char *p = dir ? sfc_xasprintf("%s/%s", dir, *d) : sfc_xstrdup(*d);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* SHELL = /bin/bash (or := , ?=, override, export) at the top level of
 * the makefile: sefaca-make's SHELL on the command line replaces it, so
 * the recipes get that shell inside their sandboxes instead.  Only a
 * literal Bourne-style shell counts; anything computed is left alone
 * (--shell names it). */
static char *makefile_shell(const char *mf, int *line)
{
	FILE *f = fopen(mf, "re");
	char buf[4096], *found = NULL;
	int n = 0;

	if (!f)
		return NULL;
	while (fgets(buf, sizeof(buf), f)) {
		char *p = buf, *v, *end;
		n++;
		if (*p == '\t')
			continue; /* a recipe line */
		p += strspn(p, " ");
		if (!strncmp(p, "override ", 9))
			p += 9 + strspn(p + 9, " ");
		if (!strncmp(p, "export ", 7))
			p += 7 + strspn(p + 7, " ");
		if (strncmp(p, "SHELL", 5))
			continue;
		p += 5;
		p += strspn(p, " \t");
		if (!strncmp(p, "::=", 3))
			p += 3;
		else if (!strncmp(p, ":=", 2) || !strncmp(p, "?=", 2))
			p += 2;
		else if (*p == '=')
			p++;
		else
			continue;
		v = p + strspn(p, " \t");
		end = v + strcspn(v, " \t\r\n#");
		if (end == v || memchr(v, '$', end - v))
			continue;
		*end = 0;
		free(found);
		found = sfc_xstrdup(v);
		*line = n;
	}
	fclose(f);
	if (found && !bourne_name(strrchr(found, '/') ? strrchr(found, '/') + 1 : found)) {
		free(found);
		found = NULL;
	}
	if (found && !strchr(found, '/')) {
		char *p = find_in_path(found);
		free(found);
		found = p;
	}
	return found;
}

/* ---- settings ---- */

static bool has_setting(const struct sfc_settings *st, enum sfc_key k)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].key == k)
			return true;
	return false;
}

static bool system_path(const char *p)
{
	static const char *const sys[] = { "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", NULL };
	for (const char *const *s = sys; *s; s++)
		if (sfc_path_within(p, *s))
			return true;
	return false;
}

int make_main(int argc, char **argv)
{
	struct make_opts mo;
	struct sfc_session s;
	struct sfc_origin builtin = { SFC_ORIGIN_BUILTIN, "sefaca-make", 0 };
	_cleanup_free_ char *shellpath = NULL, *makeprog = NULL, *bindir = NULL, *exedir = NULL, *mf = NULL;
	char **margv, exe[PATH_MAX];
	const char *sh = NULL;
	_cleanup_free_ char *shell_arg = NULL, *sh_found = NULL;
	uint64_t recipe_timeout;
	bool recipe_timeout_set;
	ssize_t n;
	int k = 0, status;

	memset(&mo, 0, sizeof(mo));
	parse(&mo, argc, argv);
	if (mo.o.help) {
		fputs(sfc_applet_usage("make"), stdout);
		sfc_runopts_free(&mo.o);
		return 0;
	}
	makeprog = find_in_path(mo.make ? mo.make : "make");
	if (!makeprog)
		sfc_die(127, "%s: not found", mo.make ? mo.make : "make");

	if (!mo.whole) {
		shellpath = find_shell_applet(argv[0]);
		if (!shellpath)
			sfc_die(125, "sefaca-shell is not installed next to %s or in PATH (sefaca --install DIR makes the "
				     "links); without it only --whole works",
				argv[0]);
		/* make inside, and the sub-makes of recipes, exec it: it must be
		 * visible in the sandboxes */
		bindir = sfc_xstrdup(shellpath);
		*strrchr(bindir, '/') = 0;
		if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
			exe[n] = 0;
			exedir = sfc_xstrdup(exe);
			*strrchr(exedir, '/') = 0;
		}
		if (system_path(bindir)) {
			free(bindir);
			bindir = NULL;
		}
		if (exedir && (system_path(exedir) || (bindir && !strcmp(exedir, bindir)))) {
			free(exedir);
			exedir = NULL;
		}
		if (bindir)
			sfc_settings_add(&mo.o.src.flags, SFC_K_READONLY, bindir, &builtin);
		if (exedir)
			sfc_settings_add(&mo.o.src.flags, SFC_K_READONLY, exedir, &builtin);
	}

	/* make's argv */
	margv = sfc_xcalloc(argc - mo.first + 4, sizeof(char *));
	margv[k++] = makeprog;
	if (!mo.whole) {
		margv[k++] = shell_arg = sfc_xasprintf("SHELL=%s", shellpath);
		/* exported to each recipe, expanded for its target (and passed
		 * on to sub-makes in MAKEFLAGS): sefaca-shell names the target
		 * in what it reports */
		margv[k++] = "SEFACA_MAKE_TARGET=$@";
	}
	for (int i = mo.first; i < argc; i++)
		margv[k++] = argv[i];

	/* The compiler preset, unless --preset or SEFACA_PRESET names
	 * another (a configuration's [default] preset is for sefaca-run). */
	if (!has_setting(&mo.o.src.flags, SFC_K_PRESET) && !getenv("SEFACA_PRESET"))
		sfc_settings_add(&mo.o.src.flags, SFC_K_PRESET, "compiler", &builtin);
	sfc_shell_pass_jobserver(NULL, &mo.o.src);
	mo.o.report_writes = true;
	sfc_run_setup(&mo.o, &s, "make", margv);
	sfc_shell_pass_jobserver(&s.spec, NULL);

	/* A preset's timeout (compiler: 5 minutes) is for a command, not for a
	 * whole build: each recipe has it, make itself (and --whole) not.  A
	 * timeout asked for by name (flag, SEFACA_TIMEOUT, configuration)
	 * holds for the whole make, and for each recipe too. */
	recipe_timeout = s.spec.timeout_ms;
	recipe_timeout_set = !mo.whole;
	if (s.spec.origin[SFC_K_TIMEOUT].kind == SFC_ORIGIN_BUILTIN)
		s.spec.timeout_ms = 0;

	/* the shell recipes run with */
	if (!mo.whole) {
		int line = 0;
		sh = mo.shell;
		if (!sh && (mf = which_makefile(argc, argv, mo.first))) {
			_cleanup_free_ char *found = makefile_shell(mf, &line);
			if (found && strcmp(found, "/bin/sh")) {
				if (!mo.o.quiet)
					sfc_msg("note: recipes run with %s, as %s:%d sets SHELL", found, mf, line);
				sh = sh_found = sfc_xstrdup(found);
			}
		}
		if (sh)
			sfc_env_set(&s.sb.env, "SEFACA_SHELL", sh);
	}
	{
		struct sfc_audit_make mk = { 0, NULL, mo.whole };
		struct sfc_shell_run run = { .o = &mo.o,
					     .s = &s,
					     .quiet = mo.o.quiet,
					     .audit_recipes = mo.audit_recipes,
					     .recipe_timeout_ms = recipe_timeout,
					     .recipe_timeout_set = recipe_timeout_set,
					     .make = &mk };
		status = sfc_shell_finish(&run);
	}
	sfc_session_free(&s);
	sfc_runopts_free(&mo.o);
	free(margv);
	return status;
}

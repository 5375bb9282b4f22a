/* blocked_commands: programs a policy refuses by name.
 *
 * Two things happen, and neither is a complete barrier on its own:
 *
 * 1. Before anything runs, the command is matched by name: the program of
 *    a command given as several arguments, and of each simple command of a
 *    shell line (one argument, run by sh -c), as a fixed parse can tell:
 *    words are split on blanks and ; & | ( ) ` $( and newlines, quotes and
 *    backslashes are removed, leading assignments and redirections, the
 *    shell's reserved words and wrappers (exec, command, env, nice, nohup,
 *    timeout, xargs, setsid, stdbuf, time, sh/bash -c '...') are looked
 *    through.  A match refuses the run: exit 125 and a blocked_command
 *    violation in the audit record.
 * 2. In the sandbox, each blocked program found in PATH (and a blocked
 *    path) is hidden behind an empty, non-executable file.
 *
 * What neither catches: a name built at run time ($CMD, eval, printf),
 * aliases and functions, scripts and interpreters that call the program
 * (python -c, a Makefile), a copy or link under another name, or the same
 * program outside PATH.  It is a guard against accidents and obvious
 * attempts, not a substitute for denying what the program needs (network,
 * privileges: no_new_privs already makes sudo useless). */
#ifndef SFC_BLOCKED_H
#define SFC_BLOCKED_H

#include "core/mount.h"
#include "core/spec.h"

/* The blocked entry ARGV would run, or NULL.  ARGV is the command as
 * sefaca-run takes it (one argument: a shell line). */
const char *sfc_blocked_match(const struct sfc_list *blocked, char **argv);
/* The same for one shell command line. */
const char *sfc_blocked_match_line(const struct sfc_list *blocked, const char *line);
/* Hide the blocked programs found in PATH from the sandbox: entries of
 * SPEC's hide list, before the sandbox is prepared. */
void sfc_blocked_hide(struct sfc_spec *spec);

#endif

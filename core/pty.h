/* A new pseudo-terminal for an interactive sandbox, relayed by the
 * supervisor to the caller's terminal.
 *
 * The pty is made inside the sandbox, on its private devpts, by the
 * payload just before it executes the shell: the slave becomes its
 * standard descriptors and the controlling terminal of a new session, and
 * the master is passed out to the supervisor over a socket (runc's console
 * socket does the same).  So the sandbox never holds a descriptor of the
 * caller's terminal, TIOCSTI or anything else it does to its terminal
 * stays on its own pty (bubblewrap CVE-2017-5226), and ttyname() inside
 * names a real /dev/pts/N.  The supervisor copies bytes both ways, passes
 * window-size changes on and keeps the caller's terminal in raw mode for
 * the time of the run, so that Ctrl-C, Ctrl-Z and the like reach the
 * sandbox's own line discipline.
 *
 * The caller's terminal mode is restored by sfc_pty_restore() on every
 * return path; if the supervisor dies instead (a crash, SIGKILL), a tiny
 * guard process forked beforehand notices (PR_SET_PDEATHSIG) and restores
 * it.  Only a kill of both at once (kill -9 of the whole process group)
 * leaves the terminal raw, and then only if the caller's shell does not
 * restore it itself (bash and zsh do for jobs killed by a signal). */
#ifndef SFC_PTY_H
#define SFC_PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "core/error.h"

struct sfc_sandbox;

#define SFC_PTY_BUF 16384

struct sfc_pty {
	int master;          /* the new pty's master, once the payload sent it */
	int sock[2];         /* the payload sends the master over sock[1] */
	struct winsize ws;   /* the caller's window, for the new pty */
	bool have_ws;
	int in, out;         /* the caller's terminal: read from IN, write to OUT */
	int tty;             /* the caller's terminal whose mode we change (IN) */
	struct termios saved;
	bool raw, have_saved;
	pid_t guard;         /* restores SAVED if we die */
	int guard_fd;        /* write end: "q" = restored, exit quietly */
	pid_t sandbox;       /* the sandbox's init, for a hangup */
	bool in_eof, master_eof;
	/* caller -> master, master -> caller */
	unsigned char ibuf[4096], obuf[SFC_PTY_BUF];
	size_t ilen, olen;
};

/* Is FD a terminal? */
bool sfc_pty_isatty(int fd);
/* Prepare a pty whose mode and size will be those of the caller's
 * terminal IN (output goes to OUT).  Nothing is changed on the caller's
 * side yet. */
int sfc_pty_open(struct sfc_pty *p, int in, int out, struct sfc_error *e);
/* Start the guard, then put the caller's terminal in raw mode. */
int sfc_pty_raw(struct sfc_pty *p, struct sfc_error *e);
/* Make SB run on the pty: the payload makes it (see above), the relay
 * runs as watches of the supervisor, SIGWINCH and SIGCONT are handled
 * here. */
void sfc_pty_attach(struct sfc_pty *p, struct sfc_sandbox *sb);
/* Copy what the sandbox wrote and is still buffered (after the run). */
void sfc_pty_drain(struct sfc_pty *p);
/* Restore the caller's terminal, dismiss the guard, close everything. */
void sfc_pty_restore(struct sfc_pty *p);

#endif

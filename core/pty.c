#include "core/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/kernel.h"
#include "core/sandbox.h"
#include "core/util.h"

bool sfc_pty_isatty(int fd)
{
	struct termios t;
	return tcgetattr(fd, &t) == 0;
}

/* A descriptor of our own on the caller's terminal: reopened through
 * /proc, so that O_NONBLOCK is set on our open file only and never on the
 * one the caller's shell shares (it would find its terminal non-blocking
 * afterwards).  Where reopening is refused (a terminal we may not open by
 * name, after su), a duplicate with blocking I/O does. */
static int own_tty_fd(int fd, int flags)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((r = open(path, flags | O_NOCTTY | O_CLOEXEC)) >= 0 && sfc_pty_isatty(r))
		return r;
	if (r >= 0)
		close(r);
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int sfc_pty_open(struct sfc_pty *p, int in, int out, struct sfc_error *e)
{
	memset(p, 0, sizeof(*p));
	p->master = p->in = p->out = p->guard_fd = p->sock[0] = p->sock[1] = -1;
	p->tty = in;
	if (tcgetattr(in, &p->saved) < 0)
		return sfc_err(e, errno == ENOTTY ? 0 : errno, "an interactive shell needs a terminal on standard input");
	p->have_saved = true;
	p->have_ws = ioctl(in, TIOCGWINSZ, &p->ws) == 0 || ioctl(out, TIOCGWINSZ, &p->ws) == 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->sock) < 0)
		return sfc_err(e, errno, "socketpair");
	if ((p->in = own_tty_fd(in, O_RDONLY)) < 0)
		return sfc_err(e, errno, "standard input");
	if (sfc_pty_isatty(out))
		p->out = own_tty_fd(out, O_WRONLY | O_NONBLOCK);
	else
		p->out = fcntl(out, F_DUPFD_CLOEXEC, 3);
	if (p->out < 0)
		return sfc_err(e, errno, "standard output");
	return 0;
}

/* In the payload (a vfork child of init, in the sandbox's namespaces, its
 * mounts done): system calls only.  The sandbox's /dev/ptmx is its own
 * devpts instance. */
static int payload_hook(struct sfc_sandbox *sb, void *data, struct sfc_error *e)
{
	struct sfc_pty *p = data;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char one = 'm';
	struct iovec iov = { &one, 1 };
	struct msghdr m;
	unsigned zero = 0;
	int master, slave;

	if ((master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return sfc_err(e, errno, "open /dev/ptmx in the sandbox");
	if (ioctl(master, TIOCSPTLCK, &zero) < 0)
		return sfc_err(e, errno, "unlock the sandbox's pty");
	/* TIOCGPTPEER (Linux 4.13): the slave of this very master, no path */
	if ((slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0)
		return sfc_err(e, errno, "open the sandbox's pty");
	/* the new terminal starts as the caller's is now */
	if (tcsetattr(slave, TCSANOW, &p->saved) < 0)
		return sfc_err(e, errno, "set the pty's mode");
	if (p->have_ws)
		ioctl(master, TIOCSWINSZ, &p->ws);
	/* A session of its own, with this terminal as its controlling one: job
	 * control works, and /dev/tty is this pty, never the caller's.  (The
	 * payload is not a process group leader: init is.) */
	if (setsid() < 0)
		return sfc_err(e, errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return sfc_err(e, errno, "make the pty the controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return sfc_err(e, errno, "standard descriptor %d", i);
	if (slave > 2)
		close(slave);
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.h), &master, sizeof(int));
	if (sendmsg(p->sock[1], &m, MSG_NOSIGNAL) != 1)
		return sfc_err(e, errno, "pass the pty to the supervisor");
	close(master);
	return 0;
}

/* ---- the guard: restores the caller's terminal if the supervisor dies ---- */

static struct termios guard_saved;

static void guard_restore(int sig)
{
	(void)sig;
	tcsetattr(3, TCSANOW, &guard_saved);
	_exit(0);
}

static void guard_main(int tty, int rfd, pid_t parent, const struct termios *saved)
{
	static const int ignored[] = { SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGWINCH };
	struct sigaction sa;
	sigset_t none;
	char c;

	guard_saved = *saved;
	/* Nothing of the supervisor's but the terminal and the pipe: the guard
	 * must not keep a pty master or a pipe end of the sandbox alive. */
	if (dup2(tty, 3) < 0 || dup2(rfd, 4) < 0)
		_exit(1);
	if (sfc_close_range(5, ~0U, 0) < 0)
		for (int fd = 5; fd < 1024; fd++)
			close(fd);
	prctl(PR_SET_NAME, "sefaca-ttyguard");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < SFC_ARRAY_SIZE(ignored); i++)
		sigaction(ignored[i], &sa, NULL);
	sa.sa_handler = guard_restore;
	sigfillset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* SIGUSR1 when the supervisor dies, however it dies. */
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	if (getppid() != parent)
		guard_restore(0);
	for (;;) {
		ssize_t n = read(4, &c, 1);
		if (n == 1 && c == 'q')
			_exit(0); /* restored by the supervisor */
		if (n == 0 || (n < 0 && errno != EINTR))
			guard_restore(0);
	}
}

int sfc_pty_raw(struct sfc_pty *p, struct sfc_error *e)
{
	struct termios t;
	int pfd[2];
	pid_t parent = getpid(), pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sfc_err(e, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return sfc_err(e, errno, "fork the terminal guard");
	}
	if (pid == 0) {
		close(pfd[1]);
		guard_main(p->tty, pfd[0], parent, &p->saved);
	}
	close(pfd[0]);
	p->guard = pid;
	p->guard_fd = pfd[1];

	/* Raw: every key, Ctrl-C and Ctrl-Z included, goes to the sandbox's
	 * terminal, whose own line discipline makes signals of them. */
	t = p->saved;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(p->tty, TCSANOW, &t) < 0)
		return sfc_err(e, errno, "set the terminal to raw mode");
	p->raw = true;
	return 0;
}

/* ---- the relay ---- */

static int on_in(struct sfc_sandbox *sb, int fd, short rev, void *data);
static int on_master(struct sfc_sandbox *sb, int fd, short rev, void *data);
static int on_out(struct sfc_sandbox *sb, int fd, short rev, void *data);

static void set_events(struct sfc_sandbox *sb, int fd, int (*cb)(struct sfc_sandbox *, int, short, void *), short ev)
{
	for (int i = 0; i < sb->nwatch; i++)
		if (sb->watch[i].fd == fd && sb->watch[i].cb == cb)
			sb->watch[i].events = ev;
}

static void update(struct sfc_sandbox *sb, struct sfc_pty *p)
{
	set_events(sb, p->in, on_in, !p->in_eof && p->ilen < sizeof(p->ibuf) ? POLLIN : 0);
	set_events(sb, p->master, on_master,
		   (!p->master_eof && p->olen < sizeof(p->obuf) ? POLLIN : 0) | (p->ilen ? POLLOUT : 0));
	set_events(sb, p->out, on_out, p->olen ? POLLOUT : 0);
}

static void consume(unsigned char *buf, size_t *len, size_t n)
{
	memmove(buf, buf + n, *len - n);
	*len -= n;
}

static void flush_in(struct sfc_pty *p)
{
	while (p->ilen) {
		ssize_t n = write(p->master, p->ibuf, p->ilen);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN)
				p->ilen = 0; /* the pty is gone: drop it */
			return;
		}
		consume(p->ibuf, &p->ilen, n);
	}
}

static void flush_out(struct sfc_pty *p)
{
	while (p->olen) {
		ssize_t n = write(p->out, p->obuf, p->olen);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN)
				p->olen = 0; /* the caller's terminal is gone */
			return;
		}
		consume(p->obuf, &p->olen, n);
	}
}

/* The caller's terminal hung up: so does the sandbox's.  Its foreground
 * job gets SIGHUP from the pty, the shell from init. */
static void hangup(struct sfc_sandbox *sb, struct sfc_pty *p)
{
	ioctl(p->master, TIOCSIG, SIGHUP);
	if (sb->result.pid > 0)
		kill(sb->result.pid, SIGHUP);
}

static int on_in(struct sfc_sandbox *sb, int fd, short rev, void *data)
{
	struct sfc_pty *p = data;
	ssize_t n = read(p->in, p->ibuf + p->ilen, sizeof(p->ibuf) - p->ilen);

	if (n > 0) {
		p->ilen += n;
		flush_in(p);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		p->in_eof = true;
		hangup(sb, p);
	}
	update(sb, p);
	return 0;
}

static int on_master(struct sfc_sandbox *sb, int fd, short rev, void *data)
{
	struct sfc_pty *p = data;

	if (rev & POLLOUT)
		flush_in(p);
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && !p->master_eof && p->olen < sizeof(p->obuf)) {
		ssize_t n = read(p->master, p->obuf + p->olen, sizeof(p->obuf) - p->olen);
		if (n > 0) {
			p->olen += n;
			flush_out(p);
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			p->master_eof = true; /* EIO: nobody holds the slave any more */
		}
	}
	update(sb, p);
	return 0;
}

static int on_out(struct sfc_sandbox *sb, int fd, short rev, void *data)
{
	struct sfc_pty *p = data;

	flush_out(p);
	update(sb, p);
	return 0;
}

static void copy_winsize(struct sfc_pty *p)
{
	/* TIOCSWINSZ on the master: the kernel sends SIGWINCH to the
	 * sandbox's foreground job itself. */
	if (ioctl(p->tty, TIOCGWINSZ, &p->ws) == 0 || ioctl(p->out, TIOCGWINSZ, &p->ws) == 0) {
		p->have_ws = true;
		if (p->master >= 0)
			ioctl(p->master, TIOCSWINSZ, &p->ws);
	}
}

static bool on_signal(struct sfc_sandbox *sb, const struct signalfd_siginfo *si, void *data)
{
	struct sfc_pty *p = data;

	if (si->ssi_signo == SIGWINCH) {
		copy_winsize(p);
		return true;
	}
	if (si->ssi_signo == SIGCONT) {
		/* Stopped and continued from outside: the caller's shell may have
		 * set its own mode meanwhile. */
		if (p->raw) {
			struct termios t = p->saved;
			cfmakeraw(&t);
			tcsetattr(p->tty, TCSANOW, &t);
		}
		copy_winsize(p);
		return true;
	}
	return false;
}

/* The payload's master arrives: start relaying. */
static int on_master_passed(struct sfc_sandbox *sb, int sock, short rev, void *data)
{
	struct sfc_pty *p = data;
	char byte;
	int fd;

	if (sfc_recv_fd(p->sock[0], &byte, &fd, MSG_DONTWAIT) < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (p->master < 0)
		p->master = fd;
	else if (fd >= 0)
		close(fd);
	if (p->master < 0)
		return -1;
	fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK);
	copy_winsize(p); /* it may have changed since the payload set it */
	sfc_sandbox_watch(sb, p->in, POLLIN, on_in, p);
	sfc_sandbox_watch(sb, p->master, POLLIN, on_master, p);
	sfc_sandbox_watch(sb, p->out, 0, on_out, p);
	return -1; /* one master per run */
}

void sfc_pty_attach(struct sfc_pty *p, struct sfc_sandbox *sb)
{
	sb->payload_hook = payload_hook;
	sb->payload_hook_data = p;
	sfc_sandbox_watch(sb, p->sock[0], POLLIN, on_master_passed, p);
	sigaddset(&sb->catch_signals, SIGWINCH);
	sigaddset(&sb->catch_signals, SIGCONT);
	sb->on_signal = on_signal;
	sb->signal_data = p;
}

void sfc_pty_drain(struct sfc_pty *p)
{
	/* Everything the sandbox wrote is in the master's buffer by now (its
	 * processes are gone); a stuck terminal gets a second per chunk. */
	for (;;) {
		ssize_t n;

		while (p->olen) {
			struct pollfd pf = { p->out, POLLOUT, 0 };
			size_t before = p->olen;
			if (poll(&pf, 1, 1000) <= 0)
				return;
			flush_out(p);
			if (p->olen == before)
				return;
		}
		if (p->master_eof || p->master < 0)
			return;
		n = read(p->master, p->obuf, sizeof(p->obuf));
		if (n <= 0)
			return;
		p->olen = n;
	}
}

void sfc_pty_restore(struct sfc_pty *p)
{
	if (p->raw) {
		tcsetattr(p->tty, TCSANOW, &p->saved);
		/* Input still queued was typed for the sandbox, or is a terminal's
		 * late answer to a query the sandbox printed: not for the caller's
		 * shell. */
		tcflush(p->tty, TCIFLUSH);
		p->raw = false;
	}
	if (p->guard > 0) {
		/* Wait for it: a guard outliving us would restore the terminal
		 * under the caller's shell. */
		(void)!write(p->guard_fd, "q", 1);
		close(p->guard_fd);
		p->guard_fd = -1;
		while (waitpid(p->guard, NULL, 0) < 0 && errno == EINTR)
			;
		p->guard = 0;
	}
	if (p->guard_fd >= 0)
		close(p->guard_fd);
	{
		int *fds[] = { &p->master, &p->sock[0], &p->sock[1], &p->in, &p->out };
		for (size_t i = 0; i < SFC_ARRAY_SIZE(fds); i++)
			if (*fds[i] >= 0) {
				close(*fds[i]);
				*fds[i] = -1;
			}
	}
	p->guard_fd = -1;
}

#include "core/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/env.h"
#include "core/kernel.h"
#include "core/sandbox.h"
#include "core/util.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif

#define WIRE_MAGIC 0x53464342u /* "SFCB" */
#define WIRE_VERSION 1
#define WIRE_MAX (16u << 20)

struct wire_hdr {
	uint32_t magic, version;
	uint32_t have_std; /* bit i: fd i is among the passed descriptors */
	uint32_t nextra;
	int32_t targets[SFC_BROKER_MAXFDS];
	uint32_t argc, envc;
	uint32_t len; /* bytes of NUL-terminated strings that follow: cwd, argv, env */
};

/* ------------------------------------------------------------ requester */

int sfc_broker_find(void)
{
	const char *v = getenv(SFC_BROKER_ENV);
	struct ucred cr;
	socklen_t len;
	int fd, type = 0, dom = 0;
	char *end;
	long n;

	if (!v || !*v)
		return -1;
	n = strtol(v, &end, 10);
	if (*end || n < 3 || n > 65535)
		return -1;
	fd = (int)n;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		return -1;
	len = sizeof(dom);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0 || dom != AF_UNIX)
		return -1;
	/* The broker is the supervisor of the sandbox we are in: outside our
	 * pid namespace, so its pid reads as 0 here.  A socket a process on
	 * the host handed down (to fool a host sefaca-shell into skipping its
	 * sandbox) has a visible pid. */
	len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid != 0 || cr.uid != geteuid())
		return -1;
	return fd;
}

static size_t strv_bytes(char **v, uint32_t *count)
{
	size_t n = 0;
	*count = 0;
	for (; v && *v; v++, (*count)++)
		n += strlen(*v) + 1;
	return n;
}

static char *strv_put(char *p, char **v)
{
	for (; v && *v; v++) {
		size_t l = strlen(*v) + 1;
		memcpy(p, *v, l);
		p += l;
	}
	return p;
}

int sfc_broker_request(int sock, char **argv, char **envp, const int *extra, int nextra, struct sfc_error *e)
{
	_cleanup_close_ int c0 = -1;
	_cleanup_free_ char *cwd = getcwd(NULL, 0), *body = NULL;
	int sp[2], fds[3 + SFC_BROKER_MAXFDS], nfds = 0;
	struct wire_hdr h;
	size_t len;
	char *p, one = 'R';
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (3 + SFC_BROKER_MAXFDS))];
	} cm;
	struct iovec iov;
	struct msghdr m;
	int32_t status;
	ssize_t n;

	if (!cwd)
		return sfc_err(e, errno, "current directory");
	if (nextra > SFC_BROKER_MAXFDS)
		return sfc_err(e, E2BIG, "too many descriptors to pass");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return sfc_err(e, errno, "socketpair");
	c0 = sp[0];

	/* a connection of our own: the request and its answer go over it */
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	iov = (struct iovec){ &one, 1 };
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = CMSG_SPACE(sizeof(int));
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.h), &sp[1], sizeof(int));
	n = sendmsg(sock, &m, MSG_NOSIGNAL);
	close(sp[1]);
	if (n != 1)
		return sfc_err(e, errno, "ask the sandbox's supervisor");

	memset(&h, 0, sizeof(h));
	h.magic = WIRE_MAGIC;
	h.version = WIRE_VERSION;
	for (int i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) >= 0) {
			h.have_std |= 1u << i;
			fds[nfds++] = i;
		}
	for (int i = 0; i < nextra; i++) {
		h.targets[h.nextra++] = extra[i];
		fds[nfds++] = extra[i];
	}
	len = strlen(cwd) + 1 + strv_bytes(argv, &h.argc) + strv_bytes(envp, &h.envc);
	if (len > WIRE_MAX)
		return sfc_err(e, E2BIG, "command and environment too large to pass");
	h.len = len;
	body = sfc_xmalloc(len);
	p = body;
	memcpy(p, cwd, strlen(cwd) + 1);
	p = strv_put(p + strlen(cwd) + 1, argv);
	strv_put(p, envp);

	memset(&m, 0, sizeof(m));
	iov = (struct iovec){ &h, sizeof(h) };
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (nfds) {
		m.msg_control = cm.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(&cm.h), fds, sizeof(int) * nfds);
	}
	if (sendmsg(c0, &m, MSG_NOSIGNAL) != sizeof(h) || sfc_write_full(c0, body, len) < 0)
		return sfc_err(e, errno, "send the request to the sandbox's supervisor");
	n = sfc_read_full(c0, &status, sizeof(status));
	if (n != sizeof(status))
		return sfc_err(e, n < 0 ? (int)-n : 0, "the sandbox's supervisor did not answer");
	return status;
}

int sfc_jobserver_fds(char **envp, int fds[2], char **fifo)
{
	const char *mf = sfc_env_get(envp, "MAKEFLAGS"), *p;
	int n = 0;

	*fifo = NULL;
	if (!mf)
		return 0;
	/* options come before " -- " (command-line variables after it) */
	for (p = mf; *p;) {
		size_t w = strcspn(p, " ");
		const char *v = NULL;

		if (w == 2 && !strncmp(p, "--", 2))
			break;
		if (!strncmp(p, "--jobserver-auth=", 17) && w > 17)
			v = p + 17;
		else if (!strncmp(p, "--jobserver-fds=", 16) && w > 16)
			v = p + 16;
		if (v) {
			char *end;
			if (!strncmp(v, "fifo:", 5)) {
				free(*fifo);
				*fifo = sfc_xstrndup(v + 5, w - (v + 5 - p));
				n = 0;
			} else {
				long r = strtol(v, &end, 10), wr;
				n = 0;
				if (*end == ',' && (wr = strtol(end + 1, &end, 10)) >= 0 && end == p + w && r >= 0) {
					if (fcntl((int)r, F_GETFD) >= 0 && fcntl((int)wr, F_GETFD) >= 0) {
						fds[0] = (int)r;
						fds[1] = (int)wr;
						n = 2;
					}
				}
			}
		}
		p += w;
		while (*p == ' ')
			p++;
	}
	return n;
}

/* --------------------------------------------------------------- server */

/* Requests served in this process tree: the brokers of sandboxes made for
 * requests (a recursive make's recipes) run in children, so the count is
 * kept in memory they share. */
static unsigned long *served;

unsigned long sfc_broker_count(void)
{
	return served ? __atomic_load_n(served, __ATOMIC_RELAXED) : 0;
}

int sfc_broker_open(struct sfc_broker *b, sfc_broker_fn fn, void *data, struct sfc_error *e)
{
	int sp[2];

	memset(b, 0, sizeof(*b));
	b->sock = b->peer = -1;
	if (!served) {
		void *m = mmap(NULL, sizeof(*served), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return sfc_err(e, errno, "mmap");
		served = m;
	}
	/* SEQPACKET: one message per request, whoever sends it */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return sfc_err(e, errno, "socketpair");
	b->sock = sp[0];
	/* High, out of the way of a script's own "exec 3>file" */
	if ((b->peer = fcntl(sp[1], F_DUPFD_CLOEXEC, 200)) >= 0)
		close(sp[1]);
	else
		b->peer = sp[1];
	b->fn = fn;
	b->data = data;
	return 0;
}

static int recv_request(int conn, struct sfc_broker_request *req)
{
	struct wire_hdr h;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (3 + SFC_BROKER_MAXFDS))];
	} cm;
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr m;
	struct cmsghdr *c;
	int got[3 + SFC_BROKER_MAXFDS], ngot = 0, want = 0;
	char *p, *end;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	n = recvmsg(conn, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k && ngot < (int)SFC_ARRAY_SIZE(got); i++)
				memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	if (n != sizeof(h) || h.magic != WIRE_MAGIC || h.version != WIRE_VERSION || h.nextra > SFC_BROKER_MAXFDS ||
	    h.len > WIRE_MAX || (m.msg_flags & MSG_CTRUNC))
		return -EPROTO;
	for (int i = 0; i < 3; i++)
		want += !!(h.have_std & (1u << i));
	if (ngot != want + (int)h.nextra)
		return -EPROTO;
	ngot = 0;
	for (int i = 0; i < 3; i++)
		req->fds[i] = h.have_std & (1u << i) ? got[ngot++] : -1;
	for (uint32_t i = 0; i < h.nextra; i++) {
		if (h.targets[i] < 3)
			return -EPROTO;
		req->targets[i] = h.targets[i];
		req->fds[3 + i] = got[ngot++];
	}
	req->nextra = h.nextra;
	req->buf = sfc_xmalloc(h.len + 1);
	if (sfc_read_full(conn, req->buf, h.len) != (ssize_t)h.len)
		return -EPROTO;
	req->buf[h.len] = 0;
	/* cwd, argv, env: every string NUL-terminated and inside the buffer */
	p = req->buf;
	end = req->buf + h.len;
	if (!memchr(p, 0, end - p) || h.argc == 0 || h.argc > h.len || h.envc > h.len)
		return -EPROTO;
	req->cwd = p;
	p += strlen(p) + 1;
	req->argv = sfc_xcalloc(h.argc + 1, sizeof(char *));
	req->env = sfc_xcalloc(h.envc + 1, sizeof(char *));
	for (uint32_t i = 0; i < h.argc + h.envc; i++) {
		if (p >= end || !memchr(p, 0, end - p))
			return -EPROTO;
		if (i < h.argc)
			req->argv[i] = p;
		else
			req->env[i - h.argc] = p;
		p += strlen(p) + 1;
	}
	return 0;
}

/* Put descriptor FROM at number TO in this process. */
static int place_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	if (dup2(from, to) < 0)
		return -1;
	close(from);
	return 0;
}

void sfc_broker_answer(struct sfc_broker_request *req, int status)
{
	int32_t st = status;
	int nul;

	if (req->answered)
		return;
	(void)!write(req->conn, &st, sizeof(st));
	req->answered = true;
	/* Nothing more goes to the requester's input and output: let go of
	 * them, so that whoever reads the other end of a pipe there sees the
	 * end now.  Standard error stays, for what goes wrong from here on. */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		if (nul > 2)
			close(nul);
	}
}

/* One request, in a child of the supervisor. */
static void serve(struct sfc_broker *b, int conn)
{
	struct sfc_broker_request req;
	int32_t status = 125;
	int hi = 3;
	sigset_t none;

	/* Die with the supervisor, like the sandbox it would start. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&req, 0, sizeof(req));
	/* Only the connection: none of the supervisor's descriptors (its
	 * signalfd, the other sandbox's pipes, the pty) stay open here. */
	if (dup2(conn, 3) < 0)
		_exit(125);
	conn = 3;
	if (sfc_close_range(4, ~0U, 0) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	SFC_TRACE_POINT("b: serving");
	if (recv_request(conn, &req) < 0)
		_exit(125);
	SFC_TRACE_POINT("b: received");
	/* The requester's descriptors at the numbers it had them: 0, 1, 2,
	 * and its jobserver pipe where MAKEFLAGS says.  Everything is first
	 * moved above all target numbers so that no placement clobbers
	 * another. */
	for (int i = 0; i < req.nextra; i++)
		if (req.targets[i] >= hi)
			hi = req.targets[i] + 1;
	if ((conn = fcntl(conn, F_DUPFD_CLOEXEC, hi)) < 0)
		_exit(125);
	close(3);
	for (int i = 0; i < 3 + req.nextra; i++) {
		int fd;
		if (req.fds[i] < 0)
			continue;
		if ((fd = fcntl(req.fds[i], F_DUPFD_CLOEXEC, hi)) < 0)
			_exit(125);
		close(req.fds[i]);
		req.fds[i] = fd;
	}
	for (int i = 0; i < 3; i++) {
		if (req.fds[i] < 0) {
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fd < 0 || place_fd(fd, i) < 0)
				_exit(125);
		} else if (place_fd(req.fds[i], i) < 0) {
			_exit(125);
		}
	}
	for (int i = 0; i < req.nextra; i++) {
		if (place_fd(req.fds[3 + i], req.targets[i]) < 0)
			_exit(125);
		req.fds[3 + i] = req.targets[i];
	}
	req.fds[0] = 0;
	req.fds[1] = 1;
	req.fds[2] = 2;
	req.conn = conn;
	status = b->fn(b, &req, b->data);
	if (!req.answered)
		(void)!write(conn, &status, sizeof(status));
	SFC_TRACE_POINT("b: answered");
	_exit(0);
}

static int on_kid(struct sfc_sandbox *sb, int fd, short rev, void *data)
{
	struct sfc_broker *b = data;

	for (size_t i = 0; i < b->nkids; i++) {
		if (b->kids[i].pidfd != fd)
			continue;
		if (waitpid(b->kids[i].pid, NULL, WNOHANG) == 0)
			return 0;
		close(b->kids[i].pidfd);
		b->kids[i] = b->kids[--b->nkids];
		return -1;
	}
	return -1;
}

static int on_request(struct sfc_sandbox *sb, int sock, short rev, void *data)
{
	struct sfc_broker *b = data;
	char byte;
	int conn;
	pid_t pid;
	ssize_t n;

	n = sfc_recv_fd(b->sock, &byte, &conn, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n != 1 || byte != 'R' || conn < 0) {
		if (conn >= 0)
			close(conn);
		return 0;
	}
	b->requests++;
	SFC_TRACE_POINT("b: request");
	__atomic_fetch_add(served, 1, __ATOMIC_RELAXED);
	pid = fork();
	if (pid == 0)
		serve(b, conn); /* never returns */
	close(conn);
	if (pid < 0)
		return 0; /* the requester sees EOF and reports it */
	b->kids = sfc_xrealloc(b->kids, (b->nkids + 1) * sizeof(*b->kids));
	b->kids[b->nkids].pid = pid;
	/* reaped when its pidfd says it ended; without one (no room, an old
	 * kernel), at the end */
	b->kids[b->nkids].pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (b->kids[b->nkids].pidfd >= 0 && sfc_sandbox_watch(sb, b->kids[b->nkids].pidfd, POLLIN, on_kid, b) < 0) {
		close(b->kids[b->nkids].pidfd);
		b->kids[b->nkids].pidfd = -1;
	}
	b->nkids++;
	return 0;
}

void sfc_broker_attach(struct sfc_broker *b, struct sfc_sandbox *sb)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", b->peer);
	sfc_env_set(&sb->env, SFC_BROKER_ENV, v);
	sfc_sandbox_watch(sb, b->sock, POLLIN, on_request, b);
}

static int on_requester_gone(struct sfc_sandbox *sb, int fd, short rev, void *data)
{
	char c;

	if (read(fd, &c, 1) == 1)
		return 0;
	/* The requester died (make was interrupted, or killed it): so does
	 * the sandbox it asked for. */
	if (sb->result.pid > 0)
		kill(sb->result.pid, SIGKILL);
	return -1;
}

void sfc_broker_watch_requester(struct sfc_sandbox *sb, struct sfc_broker_request *req)
{
	sfc_sandbox_watch(sb, req->conn, POLLIN, on_requester_gone, req);
}

void sfc_broker_close(struct sfc_broker *b)
{
	for (size_t i = 0; i < b->nkids; i++)
		kill(b->kids[i].pid, SIGKILL);
	for (size_t i = 0; i < b->nkids; i++) {
		while (waitpid(b->kids[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (b->kids[i].pidfd >= 0)
			close(b->kids[i].pidfd);
	}
	free(b->kids);
	b->kids = NULL;
	b->nkids = 0;
	if (b->sock >= 0)
		close(b->sock);
	if (b->peer >= 0)
		close(b->peer);
	b->sock = b->peer = -1;
}

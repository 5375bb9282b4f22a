#include "core/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/env.h"
#include "core/sandbox.h"

struct rule {
	char host[256]; /* a name, "*.domain", or empty for an address */
	int family;     /* AF_INET / AF_INET6 for an address literal, 0 for a name */
	unsigned char addr[16];
	unsigned port;  /* 0: any */
	bool wildcard;
};

/* A descriptor in the proxy's epoll set. */
enum { EP_LISTEN, EP_DNS, EP_CLIENT, EP_UPSTREAM };
struct conn;
struct endpoint {
	int fd;
	int kind;
	struct conn *c;
	bool in; /* registered */
};

/* The proxy serves many sockets through one descriptor of the
 * supervisor's loop: an epoll set of its own. */
struct sfc_proxy {
	struct rule *rules;
	size_t nrules;
	bool loopback_allowed[3]; /* localhost, 127.0.0.1, ::1 are on the list */
	/* while serving */
	struct sfc_sandbox *sb;
	int ep;                 /* epoll set */
	struct endpoint lep;    /* listening socket (made in the sandbox's namespace) */
	struct endpoint dep;    /* resolver threads -> loop */
	int dnsw;               /* write end of the resolver pipe */
	struct conn *conns;
	struct conn *graveyard; /* closed during a round, freed after it */
	sigset_t oldmask;       /* the supervisor's, before SIGPIPE was blocked */
	bool masked;
	unsigned nconns;
	unsigned long next_id;
};

/* ---------------------------------------------------------- allowlists */

static int literal(const char *host, unsigned char *addr)
{
	if (inet_pton(AF_INET, host, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, host, addr) == 1)
		return AF_INET6;
	return 0;
}

int sfc_proxy_split(const char *s, size_t len, char *host, size_t hlen, unsigned *port)
{
	const char *h = s, *p = NULL, *end = s + len;
	bool bracket = len && s[0] == '[';
	size_t n;

	*port = 0;
	if (bracket) {
		const char *rb = memchr(s, ']', len);
		if (!rb)
			return -1;
		h = s + 1;
		n = rb - h;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			p = rb + 2;
		}
	} else {
		const char *c = memchr(s, ':', len);
		if (c && memchr(c + 1, ':', end - c - 1)) {
			n = len; /* a bare IPv6 address, no port */
		} else {
			n = c ? (size_t)(c - s) : len;
			if (c)
				p = c + 1;
		}
	}
	if (!n || n >= hlen)
		return -1;
	memcpy(host, h, n);
	host[n] = 0;
	for (char *c = host; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	if (n > 1 && host[n - 1] == '.')
		host[--n] = 0;
	if (p) {
		unsigned v = 0;
		if (p == end || end - p > 5)
			return -1;
		for (const char *c = p; c < end; c++) {
			if (*c < '0' || *c > '9')
				return -1;
			v = v * 10 + (*c - '0');
		}
		if (v < 1 || v > 65535)
			return -1;
		*port = v;
	}
	if (bracket || strchr(host, ':')) {
		unsigned char a[16];
		return inet_pton(AF_INET6, host, a) == 1 ? 0 : -1;
	}
	if (strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789-._*") != n)
		return -1;
	return 0;
}

bool sfc_proxy_allowed(const struct sfc_proxy *px, const char *host, unsigned port)
{
	unsigned char a[16];
	int fam = literal(host, a);
	size_t hl = strlen(host);

	for (size_t i = 0; i < px->nrules; i++) {
		const struct rule *r = &px->rules[i];
		if (r->port && r->port != port)
			continue;
		if (fam || r->family) {
			if (fam == r->family && !memcmp(a, r->addr, fam == AF_INET ? 4 : 16))
				return true;
			continue;
		}
		if (r->wildcard) {
			const char *suf = r->host + 1; /* ".domain" */
			size_t sl = strlen(suf);
			if (hl > sl && !strcmp(host + hl - sl, suf))
				return true;
		} else if (!strcmp(r->host, host)) {
			return true;
		}
	}
	return false;
}

#if ENABLE_FEATURE_PROXY
int sfc_proxy_new(const struct sfc_spec *s, struct sfc_proxy **out, struct sfc_error *e)
{
	struct sfc_proxy *px;

	*out = NULL;
	if (!s->allow_hosts.items.n)
		return sfc_err(e, 0, "network allowlist: no HOST[:PORT] given");
	px = sfc_xcalloc(1, sizeof(*px));
	px->ep = px->lep.fd = px->dep.fd = px->dnsw = -1;
	px->rules = sfc_xcalloc(s->allow_hosts.items.n, sizeof(*px->rules));
	for (size_t i = 0; i < s->allow_hosts.items.n; i++) {
		const char *it = s->allow_hosts.items.v[i];
		struct rule *r = &px->rules[px->nrules];

		if (sfc_proxy_split(it, strlen(it), r->host, sizeof(r->host), &r->port) < 0 ||
		    (strchr(r->host, '*') && (strncmp(r->host, "*.", 2) || strchr(r->host + 1, '*') || !r->host[2]))) {
			sfc_proxy_free(px);
			return sfc_err(e, 0, "network allowlist: bad entry '%s' (expected HOST, HOST:PORT, *.DOMAIN, "
					     "an IPv4 address or [IPv6]:PORT)", it);
		}
		r->wildcard = r->host[0] == '*';
		if ((r->family = literal(r->host, r->addr)))
			r->host[0] = 0;
		if (!strcmp(it, "localhost") || !strncmp(it, "localhost:", 10))
			px->loopback_allowed[0] = true;
		if (r->family == AF_INET && !memcmp(r->addr, "\x7f\0\0\1", 4))
			px->loopback_allowed[1] = true;
		if (r->family == AF_INET6 && !memcmp(r->addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16))
			px->loopback_allowed[2] = true;
		px->nrules++;
	}
	*out = px;
	return 0;
}
#else
int sfc_proxy_new(const struct sfc_spec *s, struct sfc_proxy **out, struct sfc_error *e)
{
	*out = NULL;
	return sfc_err(e, ENOTSUP, "network allowlists (allow:HOST) were compiled out of this build (FEATURE_PROXY); "
				   "use --network=deny, localhost or allow");
}
#endif

void sfc_proxy_env(const struct sfc_proxy *px, struct sfc_strv *env)
{
	static const char *const loop[] = { "localhost", "127.0.0.1", "::1" };
	char http[64], socks[64], noproxy[64] = "";

	snprintf(http, sizeof(http), "http://127.0.0.1:%d", SFC_PROXY_PORT);
	snprintf(socks, sizeof(socks), "socks5h://127.0.0.1:%d", SFC_PROXY_PORT);
	/* Loopback inside is the sandbox's own, unless the list names the
	 * host's loopback: then it goes through the proxy too. */
	for (int i = 0; i < 3; i++)
		if (!px->loopback_allowed[i])
			snprintf(noproxy + strlen(noproxy), sizeof(noproxy) - strlen(noproxy), "%s%s",
				 noproxy[0] ? "," : "", loop[i]);
	sfc_env_set(env, "http_proxy", http);
	sfc_env_set(env, "HTTP_PROXY", http);
	sfc_env_set(env, "https_proxy", http);
	sfc_env_set(env, "HTTPS_PROXY", http);
	sfc_env_set(env, "all_proxy", socks);
	sfc_env_set(env, "ALL_PROXY", socks);
	sfc_env_set(env, "no_proxy", noproxy);
	sfc_env_set(env, "NO_PROXY", noproxy);
}

int sfc_proxy_listen_send(int sock, char *err, size_t errlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(SFC_PROXY_PORT) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { "p", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	int fd, one = 1, r;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = errno;
		snprintf(err, errlen, "proxy: socket: %s", strerror(r));
		return -r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		r = errno;
		close(fd);
		snprintf(err, errlen, "proxy: listen on 127.0.0.1:%d: %s", SFC_PROXY_PORT, strerror(r));
		return -r;
	}
	memset(cm.buf, 0, sizeof(cm.buf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	r = sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? errno : 0;
	/* the supervisor holds the only copy from now on */
	close(fd);
	if (r) {
		snprintf(err, errlen, "proxy: hand the listening socket to the supervisor: %s", strerror(r));
		return -r;
	}
	return 0;
}

#if ENABLE_FEATURE_PROXY
/* ------------------------------------------------------------ serving */

#define HEAD_MAX 16384
#define BUF_SIZE (128 * 1024)
#define MAX_CONNS 512

enum cstate { ST_HEAD, ST_SOCKS_REQ, ST_RESOLVE, ST_CONNECT, ST_RELAY };
enum ckind { K_NONE, K_CONNECT, K_HTTP, K_SOCKS };

/* One direction of a relay: bytes the proxy itself queued (a reply, the
 * rewritten request head) in D, then the stream, moved through a pipe with
 * splice(2) so it is never copied through our memory (or through D when
 * no pipe could be had). */
struct buf {
	char *d;
	size_t off, len;
	int pr, pw;       /* the pipe, or -1 */
	size_t plen, pcap; /* bytes in it, its size */
};

static size_t pending(const struct buf *b)
{
	return b->len + b->plen;
}

static bool space(const struct buf *b)
{
	return b->pr >= 0 ? b->plen < b->pcap : b->off + b->len < BUF_SIZE || b->off;
}

struct conn {
	struct sfc_proxy *px;
	struct conn *next;
	unsigned long id;
	int cfd, ufd;
	struct endpoint ce, ue;
	bool dead;
	enum cstate st;
	enum ckind kind;
	char head[HEAD_MAX];
	size_t hlen;      /* bytes in head */
	size_t consumed;  /* of head: the request (the rest is payload data) */
	char *fwd;        /* plain HTTP: the rewritten request head */
	size_t fwdlen;
	char host[256];
	unsigned port;
	struct addrinfo *ai, *cur;
	struct buf up, down; /* client -> upstream, upstream -> client */
	bool c_eof, u_eof, c_shut, u_shut;
	bool c_gone, u_gone; /* fully closed (hang-up seen): out of the set */
	bool no_loopback;    /* a name: its loopback addresses are not for us */
};

struct lookup {
	int wfd;
	unsigned long id;
	char host[256], port[8];
	struct addrinfo *res;
	int err;
};

static void ep_set(struct sfc_proxy *px, struct endpoint *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (!e->in) {
		if (epoll_ctl(px->ep, EPOLL_CTL_ADD, e->fd, &ev) == 0)
			e->in = true;
	} else {
		epoll_ctl(px->ep, EPOLL_CTL_MOD, e->fd, &ev);
	}
}

static void ep_del(struct sfc_proxy *px, struct endpoint *e)
{
	if (e->in) {
		epoll_ctl(px->ep, EPOLL_CTL_DEL, e->fd, NULL);
		e->in = false;
	}
}

/* Close C's sockets now; the memory goes after the round, since events of
 * this round may still point at it. */
static void conn_free(struct conn *c)
{
	struct sfc_proxy *px = c->px;

	if (c->dead)
		return;
	c->dead = true;
	for (struct conn **pp = &px->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	px->nconns--;
	if (c->cfd >= 0) {
		ep_del(px, &c->ce);
		close(c->cfd);
		c->cfd = -1;
	}
	if (c->ufd >= 0) {
		ep_del(px, &c->ue);
		close(c->ufd);
		c->ufd = -1;
	}
	c->next = px->graveyard;
	px->graveyard = c;
}

static void bury(struct sfc_proxy *px)
{
	while (px->graveyard) {
		struct conn *c = px->graveyard;
		px->graveyard = c->next;
		if (c->ai)
			freeaddrinfo(c->ai);
		free(c->up.d);
		free(c->down.d);
		for (int i = 0; i < 2; i++) {
			struct buf *b = i ? &c->down : &c->up;
			if (b->pr >= 0) {
				close(b->pr);
				close(b->pw);
			}
		}
		free(c->fwd);
		free(c);
	}
}

static void deny(struct conn *c, const char *host, unsigned port)
{
	char detail[300];
	struct sfc_result *res = &c->px->sb->result;

	snprintf(detail, sizeof(detail), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	/* once per destination: a client retrying is one violation */
	for (size_t i = 0; i < res->nviolations; i++)
		if (!strcmp(res->violations[i].kind, "network_access_denied") &&
		    !strcmp(res->violations[i].detail, detail))
			return;
	sfc_result_add_violation(res, "network_access_denied", detail, "blocked", "use --network=allow:HOST if needed");
}

/* A short answer to the client, then the end (best effort: a fresh
 * socket's buffer takes it). */
static void reply_close(struct conn *c, const char *msg, size_t len)
{
	if (len)
		(void)!send(c->cfd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_free(c);
}

static void http_error(struct conn *c, int code, const char *reason, const char *text)
{
	char buf[768];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
			 code, reason, strlen(text), text);
	reply_close(c, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

static void socks_error(struct conn *c, unsigned char code)
{
	unsigned char r[10] = { 5, code, 0, 1, 0, 0, 0, 0, 0, 0 };
	reply_close(c, (const char *)r, sizeof(r));
}

static void fail(struct conn *c, int http, const char *reason, unsigned char socks, const char *text)
{
	if (c->kind == K_SOCKS)
		socks_error(c, socks);
	else
		http_error(c, http, reason, text);
}

static struct conn *find(struct sfc_proxy *px, unsigned long id)
{
	for (struct conn *c = px->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* ---- relaying ---- */

static void update_events(struct conn *c)
{
	uint32_t ce = 0, ue = 0;

	if (!c->c_eof && space(&c->up))
		ce |= EPOLLIN;
	if (pending(&c->down))
		ce |= EPOLLOUT;
	if (!c->u_eof && space(&c->down))
		ue |= EPOLLIN;
	if (pending(&c->up))
		ue |= EPOLLOUT;
	if (!c->c_gone)
		ep_set(c->px, &c->ce, ce);
	if (!c->u_gone)
		ep_set(c->px, &c->ue, ue);
}

/* FROM -> B.  Returns -1 on a hard error. */
static int pump_in(int from, struct buf *b, bool *eof)
{
	ssize_t n;

	if (b->pr >= 0) {
		n = splice(from, NULL, b->pw, NULL, b->pcap - b->plen, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0)
			b->plen += n;
		else if (n == 0)
			*eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
		return 0;
	}
	if (b->off + b->len == BUF_SIZE && b->off) {
		memmove(b->d, b->d + b->off, b->len);
		b->off = 0;
	}
	n = recv(from, b->d + b->off + b->len, BUF_SIZE - b->off - b->len, MSG_DONTWAIT);
	if (n > 0)
		b->len += n;
	else if (n == 0)
		*eof = true;
	else if (errno != EAGAIN && errno != EINTR)
		return -1;
	return 0;
}

/* B -> TO. */
static int pump_out(int to, struct buf *b)
{
	ssize_t n;

	if (b->len) {
		n = send(to, b->d + b->off, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			b->off += n;
			b->len -= n;
			if (!b->len)
				b->off = 0;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		}
		if (b->len)
			return 0;
	}
	if (b->plen) {
		/* splice into a socket has no MSG_NOSIGNAL: SIGPIPE is blocked
		 * while the proxy serves (sfc_proxy_attach) and EPIPE ends it */
		n = splice(b->pr, NULL, to, NULL, b->plen, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0)
			b->plen -= n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return 0;
}

static void relay(struct conn *c, bool client, uint32_t rev)
{
	if (rev & EPOLLERR)
		goto end;
	if (rev & (EPOLLIN | EPOLLHUP)) {
		if (client && !c->c_eof && space(&c->up) && pump_in(c->cfd, &c->up, &c->c_eof) < 0)
			goto end;
		if (!client && !c->u_eof && space(&c->down) && pump_in(c->ufd, &c->down, &c->u_eof) < 0)
			goto end;
	}
	/* write out at once what came in: saves a round per chunk */
	if (pending(&c->up) && pump_out(c->ufd, &c->up) < 0)
		goto end;
	if (pending(&c->down) && pump_out(c->cfd, &c->down) < 0)
		goto end;
	/* A hang-up: both directions of that socket are closed.  Once its
	 * input is drained it would be reported on every round: take it out
	 * of the set; what is buffered for the other side still goes there,
	 * what was buffered for it never can. */
	if ((rev & EPOLLHUP) && (client ? c->c_eof : c->u_eof)) {
		if (pending(client ? &c->down : &c->up))
			goto end;
		ep_del(c->px, client ? &c->ce : &c->ue);
		if (client)
			c->c_gone = c->c_shut = true;
		else
			c->u_gone = c->u_shut = true;
	}
	if (c->c_eof && !pending(&c->up) && !c->u_shut) {
		shutdown(c->ufd, SHUT_WR);
		c->u_shut = true;
	}
	if (c->u_eof && !pending(&c->down) && !c->c_shut) {
		shutdown(c->cfd, SHUT_WR);
		c->c_shut = true;
	}
	if (c->c_shut && c->u_shut)
		goto end;
	update_events(c);
	return;
end:
	conn_free(c);
}

static void start_relay(struct conn *c)
{
	static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const unsigned char socks_ok[10] = { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	size_t rest = c->hlen - c->consumed;
	int one = 1;

	setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = 0; i < 2; i++) {
		struct buf *b = i ? &c->down : &c->up;
		int p[2];
		/* with a pipe, D holds only what we queue now (at most the
		 * request head and what came with it); without, the stream */
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
			b->d = sfc_xmalloc(BUF_SIZE); /* out of descriptors: copy through D */
			continue;
		}
		b->d = sfc_xmalloc(i ? 64 : c->fwdlen + rest + 1);
		b->pr = p[0];
		b->pw = p[1];
		fcntl(b->pw, F_SETPIPE_SZ, 256 * 1024); /* may be refused: the default is fine */
		b->pcap = fcntl(b->pw, F_GETPIPE_SZ);
		if ((ssize_t)b->pcap <= 0)
			b->pcap = 65536;
	}
	if (c->kind == K_CONNECT) {
		memcpy(c->down.d, established, sizeof(established) - 1);
		c->down.len = sizeof(established) - 1;
	} else if (c->kind == K_SOCKS) {
		memcpy(c->down.d, socks_ok, sizeof(socks_ok));
		c->down.len = sizeof(socks_ok);
	} else {
		memcpy(c->up.d, c->fwd, c->fwdlen);
		c->up.len = c->fwdlen;
	}
	/* what the client sent past its request (a TLS hello, a body) */
	memcpy(c->up.d + c->up.len, c->head + c->consumed, rest);
	c->up.len += rest;
	c->st = ST_RELAY;
	relay(c, false, 0);
}

/* ---- connecting ---- */

static bool loopback(const struct sockaddr *sa);

static void try_connect(struct conn *c)
{
	for (; c->cur; c->cur = c->cur->ai_next) {
		int fd;
		if (c->no_loopback && loopback(c->cur->ai_addr))
			continue;
		fd = socket(c->cur->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, c->cur->ai_addr, c->cur->ai_addrlen) == 0 || errno == EINPROGRESS) {
			c->ufd = fd;
			c->ue = (struct endpoint){ fd, EP_UPSTREAM, c, false };
			c->st = ST_CONNECT;
			ep_set(c->px, &c->ue, EPOLLOUT);
			return;
		}
		close(fd);
	}
	fail(c, 502, "Bad Gateway", 5, "sefaca: cannot connect to the destination\n");
}

static void on_upstream(struct conn *c, uint32_t rev)
{
	if (c->st == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err || (rev & (EPOLLERR | EPOLLHUP))) {
			ep_del(c->px, &c->ue);
			close(c->ufd);
			c->ufd = -1;
			c->cur = c->cur->ai_next;
			try_connect(c);
			return;
		}
		start_relay(c);
		return;
	}
	relay(c, false, rev);
}

static void *lookup_thread(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	int wfd = l->wfd;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	l->err = getaddrinfo(l->host, l->port, &hints, &l->res);
	/* The loop takes the pointer (and frees it: L is not ours once
	 * written); if the loop is gone, nobody will. */
	if (write(wfd, &l, sizeof(l)) != sizeof(l)) {
		if (l->res)
			freeaddrinfo(l->res);
		free(l);
	}
	close(wfd);
	return NULL;
}

static bool loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static void resolved(struct conn *c, struct addrinfo *res, int err, bool name)
{
	if (err || !res) {
		if (res)
			freeaddrinfo(res);
		fail(c, 502, "Bad Gateway", 4, "sefaca: cannot resolve the destination\n");
		return;
	}
	c->ai = c->cur = res;
	/* A name that resolves to loopback would reach the host's own services
	 * (the sandbox's loopback is its own): only "localhost" itself, or an
	 * address on the list, goes there.  Otherwise any name under an
	 * allowed *.DOMAIN that someone points at 127.0.0.1 would do. */
	if (name && strcmp(c->host, "localhost")) {
		bool other = false;
		c->no_loopback = true;
		for (struct addrinfo *a = res; a; a = a->ai_next)
			other = other || !loopback(a->ai_addr);
		if (!other) {
			deny(c, c->host, c->port);
			fail(c, 403, "Forbidden", 2, "sefaca: the name resolves to the host's loopback\n");
			return;
		}
	}
	try_connect(c);
}

static void on_dns(struct sfc_proxy *px)
{
	struct lookup *l;

	while (read(px->dep.fd, &l, sizeof(l)) == sizeof(l)) {
		struct conn *c = find(px, l->id);
		if (c)
			resolved(c, l->res, l->err, true);
		else if (l->res)
			freeaddrinfo(l->res);
		free(l);
	}
}

/* The destination is known: check it, then resolve and connect. */
static void decide(struct conn *c)
{
	struct sfc_proxy *px = c->px;
	char port[8];

	ep_set(px, &c->ce, 0); /* nothing more from the client until connected */
	if (!sfc_proxy_allowed(px, c->host, c->port)) {
		char text[400];
		deny(c, c->host, c->port);
		snprintf(text, sizeof(text), "sefaca: %s:%u is not in the network allowlist (--network=allow:...)\n",
			 c->host, c->port);
		fail(c, 403, "Forbidden", 2, text);
		return;
	}
	snprintf(port, sizeof(port), "%u", c->port);
	c->st = ST_RESOLVE;
	{
		/* address literals need no lookup */
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		if (getaddrinfo(c->host, port, &hints, &res) == 0) {
			resolved(c, res, 0, false);
			return;
		}
	}
	{
		/* names: on a thread, the loop must not wait for DNS */
		struct lookup *l = sfc_xcalloc(1, sizeof(*l));
		pthread_attr_t at;
		pthread_t t;

		l->id = c->id;
		snprintf(l->host, sizeof(l->host), "%s", c->host);
		snprintf(l->port, sizeof(l->port), "%s", port);
		/* each thread answers through its own descriptor, so that stopping
		 * the proxy never leaves one writing into a number since reused */
		l->wfd = fcntl(px->dnsw, F_DUPFD_CLOEXEC, 3);
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		if (l->wfd < 0 || pthread_create(&t, &at, lookup_thread, l) != 0) {
			if (l->wfd >= 0)
				close(l->wfd);
			free(l);
			fail(c, 502, "Bad Gateway", 1, "sefaca: cannot resolve the destination\n");
		}
		pthread_attr_destroy(&at);
	}
}

/* ---- parsing requests ---- */

static const char *find_crlfcrlf(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\r' && s[i + 3] == '\n')
			return s + i;
	return NULL;
}

static bool hop_by_hop(const char *name, size_t n)
{
	static const char *const h[] = { "connection", "proxy-connection", "keep-alive", "proxy-authorization",
					  "proxy-authenticate", NULL };
	for (const char *const *p = h; *p; p++)
		if (strlen(*p) == n && !strncasecmp(name, *p, n))
			return true;
	return false;
}

static void http_request(struct conn *c)
{
	const char *end = find_crlfcrlf(c->head, c->hlen), *line_end, *sp1, *sp2, *target, *path = "/";
	char method[32], version[16], hhost[256] = "";
	unsigned hport = 0;
	size_t tlen, plen = 1;
	int nhost = 0;
	bool absolute;

	if (!end) {
		if (c->hlen == HEAD_MAX)
			http_error(c, 431, "Request Header Fields Too Large", "sefaca: request head too large\n");
		return;
	}
	c->consumed = end + 4 - c->head;
	line_end = memchr(c->head, '\r', end + 2 - c->head);
	sp1 = memchr(c->head, ' ', line_end - c->head);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', line_end - sp1 - 1) : NULL;
	if (!sp1 || !sp2 || sp1 - c->head >= (long)sizeof(method) || line_end - sp2 - 1 >= (long)sizeof(version) ||
	    line_end - sp2 - 1 < 1) {
		http_error(c, 400, "Bad Request", "sefaca: malformed request line\n");
		return;
	}
	snprintf(method, sizeof(method), "%.*s", (int)(sp1 - c->head), c->head);
	snprintf(version, sizeof(version), "%.*s", (int)(line_end - sp2 - 1), sp2 + 1);
	target = sp1 + 1;
	tlen = sp2 - target;

	/* Host headers: exactly one for the check below */
	for (const char *l = line_end + 2; l < end + 2;) {
		const char *le = memchr(l, '\r', end + 2 - l), *colon = memchr(l, ':', le - l);
		if (colon && colon - l == 4 && !strncasecmp(l, "host", 4)) {
			const char *v = colon + 1, *ve = le;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			nhost++;
			if (sfc_proxy_split(v, ve - v, hhost, sizeof(hhost), &hport) < 0) {
				http_error(c, 400, "Bad Request", "sefaca: malformed Host header\n");
				return;
			}
		}
		l = le + 2;
	}
	if (nhost > 1) {
		http_error(c, 400, "Bad Request", "sefaca: more than one Host header\n");
		return;
	}

	if (!strcmp(method, "CONNECT")) {
		c->kind = K_CONNECT;
		if (sfc_proxy_split(target, tlen, c->host, sizeof(c->host), &c->port) < 0 || !c->port) {
			http_error(c, 400, "Bad Request", "sefaca: CONNECT needs HOST:PORT\n");
			return;
		}
		decide(c);
		return;
	}

	c->kind = K_HTTP;
	absolute = tlen > 7 && !strncasecmp(target, "http://", 7);
	if (absolute) {
		const char *auth = target + 7, *aend = target + tlen, *at;
		const char *slash = memchr(auth, '/', aend - auth), *q = memchr(auth, '?', aend - auth);
		if (q && (!slash || q < slash))
			slash = q;
		if (slash) {
			path = slash;
			plen = aend - slash;
			aend = slash;
		}
		/* "http://allowed@elsewhere/": the host is after the last '@' */
		for (at = aend; at > auth && at[-1] != '@'; at--)
			;
		if (at > auth)
			auth = at;
		if (sfc_proxy_split(auth, aend - auth, c->host, sizeof(c->host), &c->port) < 0) {
			http_error(c, 400, "Bad Request", "sefaca: malformed URL\n");
			return;
		}
		if (!c->port)
			c->port = 80;
		/* the Host header must name the same place: a server behind an
		 * allowed address must not be asked for another site */
		if (nhost && (strcmp(hhost, c->host) || (hport ? hport : 80) != c->port)) {
			deny(c, hhost, hport ? hport : 80);
			http_error(c, 403, "Forbidden", "sefaca: the Host header does not match the URL\n");
			return;
		}
	} else if (tlen && target[0] == '/' && nhost) {
		/* origin form: the Host header is the destination */
		snprintf(c->host, sizeof(c->host), "%s", hhost);
		c->port = hport ? hport : 80;
		path = target;
		plen = tlen;
	} else {
		http_error(c, 400, "Bad Request",
			   tlen > 8 && !strncasecmp(target, "https://", 8)
				   ? "sefaca: use CONNECT for https (set https_proxy)\n"
				   : "sefaca: only http:// URLs can be proxied without CONNECT\n");
		return;
	}

	/* The request as the server expects it: origin form, no hop-by-hop
	 * headers, and one request per connection. */
	{
		size_t cap = c->consumed + 64;
		char *o = sfc_xmalloc(cap);
		size_t n = snprintf(o, cap, "%s %s%.*s %s\r\n", method, path[0] == '?' ? "/" : "", (int)plen, path,
				    version);
		if (n >= cap) {
			free(o);
			http_error(c, 414, "URI Too Long", "sefaca: request line too long\n");
			return;
		}
		if (!nhost)
			n += snprintf(o + n, cap - n, "Host: %s\r\n", c->host);
		for (const char *l = line_end + 2; l < end + 2;) {
			const char *le = memchr(l, '\r', end + 2 - l), *colon = memchr(l, ':', le - l);
			if (!colon || !hop_by_hop(l, colon - l)) {
				if (n + (le - l) + 2 + 24 > cap) {
					cap = n + (le - l) + 64;
					o = sfc_xrealloc(o, cap);
				}
				memcpy(o + n, l, le - l + 2);
				n += le - l + 2;
			}
			l = le + 2;
		}
		if (n + 24 > cap)
			o = sfc_xrealloc(o, cap = n + 24);
		memcpy(o + n, "Connection: close\r\n\r\n", 21);
		n += 21;
		c->fwd = o;
		c->fwdlen = n;
		if (c->fwdlen + (c->hlen - c->consumed) > BUF_SIZE) {
			http_error(c, 431, "Request Header Fields Too Large", "sefaca: request head too large\n");
			return;
		}
	}
	decide(c);
}

static void socks_request(struct conn *c)
{
	const unsigned char *h = (const unsigned char *)c->head;
	size_t need, alen;

	if (c->st == ST_HEAD) {
		/* greeting: VER NMETHODS METHODS... */
		if (c->hlen < 2 || c->hlen < 2u + h[1])
			return;
		c->kind = K_SOCKS;
		if (!memchr(h + 2, 0, h[1])) {
			reply_close(c, "\x05\xff", 2);
			return;
		}
		(void)!send(c->cfd, "\x05\x00", 2, MSG_NOSIGNAL | MSG_DONTWAIT);
		memmove(c->head, c->head + 2 + h[1], c->hlen - 2 - h[1]);
		c->hlen -= 2 + h[1];
		c->st = ST_SOCKS_REQ;
	}
	/* request: VER CMD RSV ATYP ADDR PORT */
	if (c->hlen < 5)
		return;
	if (h[0] != 5) {
		reply_close(c, NULL, 0);
		return;
	}
	switch (h[3]) {
	case 1: alen = 4; break;
	case 4: alen = 16; break;
	case 3: alen = 1 + h[4]; break;
	default: socks_error(c, 8); return;
	}
	need = 4 + alen + 2;
	if (c->hlen < need)
		return;
	if (h[1] != 1) {
		socks_error(c, 7); /* only CONNECT: no BIND, no UDP ASSOCIATE */
		return;
	}
	if (h[3] == 3) {
		if (sfc_proxy_split((const char *)h + 5, h[4], c->host, sizeof(c->host), &c->port) < 0 || c->port) {
			socks_error(c, 1);
			return;
		}
	} else {
		inet_ntop(h[3] == 1 ? AF_INET : AF_INET6, h + 4, c->host, sizeof(c->host));
	}
	c->port = (h[4 + alen] << 8) | h[5 + alen];
	c->consumed = need;
	decide(c);
}

static void on_client(struct conn *c, uint32_t rev)
{
	ssize_t n;

	if (c->st == ST_RELAY) {
		relay(c, true, rev);
		return;
	}
	if (c->st != ST_HEAD && c->st != ST_SOCKS_REQ) {
		/* resolving or connecting: only a hang-up can come (no events asked) */
		if (rev & (EPOLLHUP | EPOLLERR))
			conn_free(c);
		return;
	}
	n = recv(c->cfd, c->head + c->hlen, HEAD_MAX - c->hlen, MSG_DONTWAIT);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_free(c);
		return;
	}
	c->hlen += n;
	if (c->head[0] == 5)
		socks_request(c);
	else
		http_request(c);
}

static void on_accept(struct sfc_proxy *px)
{
	for (;;) {
		int cfd = accept4(px->lep.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (cfd < 0)
			return;
		if (px->nconns >= MAX_CONNS) {
			close(cfd);
			continue;
		}
		c = sfc_xcalloc(1, sizeof(*c));
		c->px = px;
		c->id = ++px->next_id;
		c->cfd = cfd;
		c->ufd = -1;
		c->up.pr = c->up.pw = c->down.pr = c->down.pw = -1;
		c->ce = (struct endpoint){ cfd, EP_CLIENT, c, false };
		c->next = px->conns;
		px->conns = c;
		px->nconns++;
		ep_set(px, &c->ce, EPOLLIN);
	}
}

/* The supervisor's loop: the epoll set has something. */
static int on_events(struct sfc_sandbox *sb, int fd, short revents, void *data)
{
	struct sfc_proxy *px = data;
	struct epoll_event ev[64];
	int n = epoll_wait(px->ep, ev, SFC_ARRAY_SIZE(ev), 0);

	for (int i = 0; i < n; i++) {
		struct endpoint *e = ev[i].data.ptr;
		if (e->c && e->c->dead)
			continue;
		switch (e->kind) {
		case EP_LISTEN: on_accept(px); break;
		case EP_DNS: on_dns(px); break;
		case EP_CLIENT: on_client(e->c, ev[i].events); break;
		case EP_UPSTREAM: on_upstream(e->c, ev[i].events); break;
		}
	}
	bury(px);
	return 0;
}

/* The listening socket arrives from the sandbox's network thread. */
static int on_listener(struct sfc_sandbox *sb, int sock, short revents, void *data)
{
	struct sfc_proxy *px = data;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char b;
	struct iovec iov = { &b, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	int fd, dns[2];

	if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
		return -1; /* the sandbox went away before: nothing to serve */
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	px->lep = (struct endpoint){ fd, EP_LISTEN, NULL, false };
	if (pipe2(dns, O_CLOEXEC | O_NONBLOCK) < 0) {
		/* no way to serve: the payload finds the door shut (fails closed) */
		close(fd);
		px->lep.fd = -1;
		return -1;
	}
	px->dep = (struct endpoint){ dns[0], EP_DNS, NULL, false };
	px->dnsw = dns[1];
	ep_set(px, &px->lep, EPOLLIN);
	ep_set(px, &px->dep, EPOLLIN);
	sfc_sandbox_watch(sb, px->ep, POLLIN, on_events, px);
	return -1; /* done with the socketpair */
}

int sfc_proxy_attach(struct sfc_sandbox *sb, int sock, struct sfc_error *e)
{
	struct sfc_proxy *px = sb->proxy;

	px->sb = sb;
	if ((px->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return sfc_err(e, errno, "proxy: epoll");
	/* A peer that goes away under a splice(2) raises SIGPIPE.  Blocked,
	 * not ignored: an ignored signal would be inherited by what we start
	 * later, a mask is restored (the payload gets the mask saved before
	 * this, core/sandbox.c). */
	{
		sigset_t pipe;
		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		sigprocmask(SIG_BLOCK, &pipe, &px->oldmask);
		px->masked = true;
	}
	if (sfc_sandbox_watch(sb, sock, POLLIN, on_listener, px) < 0)
		return sfc_err(e, ENOSPC, "proxy: too many watched descriptors");
	return 0;
}

static void shut(struct sfc_proxy *px)
{
	if (px->masked) {
		sigset_t pipe;
		struct timespec zero = { 0, 0 };
		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		while (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE)
			; /* the ones our splices raised */
		sigprocmask(SIG_SETMASK, &px->oldmask, NULL);
		px->masked = false;
	}
	while (px->conns)
		conn_free(px->conns);
	bury(px);
	if (px->lep.fd >= 0)
		close(px->lep.fd);
	if (px->dep.fd >= 0)
		close(px->dep.fd);
	if (px->dnsw >= 0)
		close(px->dnsw);
	if (px->ep >= 0)
		close(px->ep);
	px->lep.fd = px->dep.fd = px->dnsw = px->ep = -1;
}

void sfc_proxy_stop(struct sfc_sandbox *sb)
{
	struct sfc_proxy *px = sb->proxy;

	if (!px)
		return;
	for (int i = 0; i < sb->nwatch; i++)
		if (sb->watch[i].data == px)
			sb->watch[i--] = sb->watch[--sb->nwatch];
	shut(px);
}
#else
int sfc_proxy_attach(struct sfc_sandbox *sb, int sock, struct sfc_error *e)
{
	return sfc_err(e, ENOTSUP, "network allowlists were compiled out of this build (FEATURE_PROXY)");
}

static void shut(struct sfc_proxy *px)
{
}

void sfc_proxy_stop(struct sfc_sandbox *sb)
{
}
#endif

void sfc_proxy_free(struct sfc_proxy *px)
{
	if (!px)
		return;
	shut(px);
	free(px->rules);
	free(px);
}

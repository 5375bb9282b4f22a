/* Network allowlists (--network=allow:HOST[:PORT],..., allow_hosts = ...).
 *
 * The payload gets a network namespace with only lo up.  A listening
 * socket on its 127.0.0.1:SFC_PROXY_PORT is made inside that namespace (by
 * init's network thread) and handed to the supervisor over a socketpair
 * (SCM_RIGHTS); the supervisor, in the host's namespace, serves on it
 *   - HTTP CONNECT (https and anything tunnelled),
 *   - plain HTTP requests in absolute form, filtered on the URL's host and
 *     the Host header, sent on with "Connection: close",
 *   - SOCKS5 CONNECT (no authentication; names resolved by us),
 * and connects out only to destinations on the list, resolving names
 * itself.  http_proxy, https_proxy, all_proxy and no_proxy (and the
 * upper-case forms) point the payload at it.  There is no other route
 * out of the namespace: a program that ignores the variables fails
 * closed.  Denied destinations become network_access_denied violations.
 *
 * Not covered: UDP (DNS included: a program that resolves names itself
 * gets no answer), ICMP, and anything not TCP. */
#ifndef SFC_PROXY_H
#define SFC_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/spec.h"
#include "core/util.h"

/* The port on the sandbox's own loopback (the namespace is private, so a
 * fixed, well-known proxy port cannot clash with the host's). */
#define SFC_PROXY_PORT 3128

struct sfc_sandbox;
struct sfc_proxy;

/* Check SPEC's allowlist (every entry HOST, HOST:PORT, *.DOMAIN[:PORT],
 * IPv4, [IPv6][:PORT]) and make a proxy for it.  Fails closed (ENOTSUP)
 * when FEATURE_PROXY is compiled out. */
int sfc_proxy_new(const struct sfc_spec *spec, struct sfc_proxy **out, struct sfc_error *e);
void sfc_proxy_free(struct sfc_proxy *px);
/* Point the payload's environment at the proxy. */
void sfc_proxy_env(const struct sfc_proxy *px, struct sfc_strv *env);
/* In the sandbox's network namespace (lo up): listen on
 * 127.0.0.1:SFC_PROXY_PORT and send the socket over SOCK.  System calls
 * only (it runs on a raw thread of init).  0 or -errno with ERR filled. */
int sfc_proxy_listen_send(int sock, char *err, size_t errlen);
/* In the supervisor, once the sandbox is cloned: when the listening
 * socket arrives on SOCK (the caller's end of the socketpair, which it
 * keeps and closes), serve it.  The proxy's sockets live in an epoll set
 * of its own, one descriptor in SB's watches (sfc_sandbox_watch). */
int sfc_proxy_attach(struct sfc_sandbox *sb, int sock, struct sfc_error *e);
/* The payload is gone: close every connection. */
void sfc_proxy_stop(struct sfc_sandbox *sb);

/* Split "HOST[:PORT]" / "[V6][:PORT]" / "V6" of length LEN; HOST is
 * lower-cased without a trailing dot; *PORT is 0 when absent.  -1 if
 * malformed (bad characters, port out of range, empty host). */
int sfc_proxy_split(const char *s, size_t len, char *host, size_t hlen, unsigned *port);
/* Is HOST:PORT (as the client named it) on PX's list?  A name matches a
 * name entry (or *.DOMAIN: any name below DOMAIN), an address literal
 * matches an address entry; an entry without a port allows every port. */
bool sfc_proxy_allowed(const struct sfc_proxy *px, const char *host, unsigned port);

#endif

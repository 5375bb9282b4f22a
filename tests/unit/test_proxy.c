/* Unit tests: the allowlist proxy's parsing and matching, and the
 * allow_hosts key. */
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "core/proxy.h"
#include "core/spec.h"
#include "unit.h"

static int split(const char *s, char *host, unsigned *port)
{
	return sfc_proxy_split(s, strlen(s), host, 256, port);
}

TEST(split)
{
	char h[256];
	unsigned p;

	CHECK(split("example.com", h, &p) == 0 && !strcmp(h, "example.com") && p == 0);
	CHECK(split("Example.COM.:443", h, &p) == 0 && !strcmp(h, "example.com") && p == 443);
	CHECK(split("127.0.0.1:8080", h, &p) == 0 && !strcmp(h, "127.0.0.1") && p == 8080);
	CHECK(split("[::1]:443", h, &p) == 0 && !strcmp(h, "::1") && p == 443);
	CHECK(split("[::1]", h, &p) == 0 && !strcmp(h, "::1") && p == 0);
	CHECK(split("2001:db8::1", h, &p) == 0 && !strcmp(h, "2001:db8::1") && p == 0);
	CHECK(split("*.example.com:80", h, &p) == 0 && !strcmp(h, "*.example.com") && p == 80);
	CHECK(split("host:0", h, &p) < 0);
	CHECK(split("host:65536", h, &p) < 0);
	CHECK(split("host:", h, &p) < 0);
	CHECK(split("host:8x", h, &p) < 0);
	CHECK(split(":80", h, &p) < 0);
	CHECK(split("", h, &p) < 0);
	CHECK(split("a b", h, &p) < 0);
	CHECK(split("a/b", h, &p) < 0);
	CHECK(split("a@b", h, &p) < 0);
	CHECK(split("[::1", h, &p) < 0);
	CHECK(split("[::1]x", h, &p) < 0);
	CHECK(split("[nothex]:1", h, &p) < 0);
}

#if ENABLE_FEATURE_PROXY
static struct sfc_proxy *make(const char *list)
{
	struct sfc_spec s;
	struct sfc_origin o = { SFC_ORIGIN_FLAG, "--network", 0 };
	struct sfc_error e;
	struct sfc_proxy *px = NULL;

	sfc_spec_init(&s);
	if (sfc_spec_set(&s, SFC_K_NETWORK, list, &o, &e) < 0)
		return NULL;
	if (sfc_proxy_new(&s, &px, &e) < 0)
		px = NULL;
	sfc_spec_free(&s);
	return px;
}

TEST(allowed)
{
	struct sfc_proxy *px = make("allow:example.com,api.test:443,*.cdn.test,127.0.0.1:8080,[::1]:9");

	CHECK(px != NULL);
	if (!px)
		return;
	CHECK(sfc_proxy_allowed(px, "example.com", 80));
	CHECK(sfc_proxy_allowed(px, "example.com", 22)); /* no port: every port */
	CHECK(!sfc_proxy_allowed(px, "www.example.com", 80));
	CHECK(!sfc_proxy_allowed(px, "example.com.evil", 80));
	CHECK(!sfc_proxy_allowed(px, "xexample.com", 80));
	CHECK(sfc_proxy_allowed(px, "api.test", 443));
	CHECK(!sfc_proxy_allowed(px, "api.test", 80));
	CHECK(sfc_proxy_allowed(px, "a.cdn.test", 443));
	CHECK(sfc_proxy_allowed(px, "a.b.cdn.test", 1));
	CHECK(!sfc_proxy_allowed(px, "cdn.test", 443)); /* *.DOMAIN: below it only */
	CHECK(!sfc_proxy_allowed(px, "evilcdn.test", 443));
	CHECK(sfc_proxy_allowed(px, "127.0.0.1", 8080));
	CHECK(!sfc_proxy_allowed(px, "127.0.0.1", 8081));
	CHECK(!sfc_proxy_allowed(px, "localhost", 8080)); /* names and addresses do not mix */
	CHECK(!sfc_proxy_allowed(px, "127.000.000.001", 8080));
	CHECK(sfc_proxy_allowed(px, "::1", 9));
	CHECK(sfc_proxy_allowed(px, "0:0::1", 9));
	CHECK(!sfc_proxy_allowed(px, "::2", 9));
	sfc_proxy_free(px);
}

TEST(bad_entries)
{
	CHECK(make("allow:ok.test,bad host") == NULL);
	CHECK(make("allow:a.*.test") == NULL);
	CHECK(make("allow:*") == NULL);
	CHECK(make("allow:*.") == NULL);
	CHECK(make("allow:x:99999") == NULL);
}

TEST(environment)
{
	struct sfc_proxy *px = make("allow:127.0.0.1:80,example.com");
	struct sfc_strv env = { 0 };
	const char *np = NULL, *hp = NULL, *ap = NULL;

	CHECK(px != NULL);
	if (!px)
		return;
	sfc_proxy_env(px, &env);
	for (size_t i = 0; i < env.n; i++) {
		if (!strncmp(env.v[i], "no_proxy=", 9))
			np = env.v[i] + 9;
		if (!strncmp(env.v[i], "https_proxy=", 12))
			hp = env.v[i] + 12;
		if (!strncmp(env.v[i], "all_proxy=", 10))
			ap = env.v[i] + 10;
	}
	CHECK_STR(np, "localhost,::1"); /* 127.0.0.1 is the host's: through the proxy */
	CHECK_STR(hp, "http://127.0.0.1:3128");
	CHECK_STR(ap, "socks5h://127.0.0.1:3128");
	CHECK(env.n == 8);
	sfc_strv_clear(&env);
	sfc_proxy_free(px);
}
#endif

TEST(allow_hosts_key)
{
	struct sfc_spec s;
	struct sfc_origin cfg = { SFC_ORIGIN_FILE, "config.ini", 3 }, fl = { SFC_ORIGIN_FLAG, "--no-network", 0 };
	struct sfc_error e;
	char *v;

	CHECK(sfc_key_lookup("allow_hosts") == SFC_K_ALLOW_HOSTS);
	CHECK(sfc_key_lookup("allow-hosts") == SFC_K_ALLOW_HOSTS);
	sfc_spec_init(&s);
	CHECK(sfc_spec_set(&s, SFC_K_ALLOW_HOSTS, "github.com, api.github.com:443", &cfg, &e) == 0);
	CHECK(s.network == SFC_NET_HOSTS && s.allow_hosts.items.n == 2);
	CHECK(sfc_spec_set(&s, SFC_K_ALLOW_HOSTS, "pypi.org", &cfg, &e) == 0);
	CHECK(s.allow_hosts.items.n == 3); /* a list: appended to */
	v = sfc_spec_value_string(&s, SFC_K_NETWORK);
	CHECK_STR(v, "allow:github.com, api.github.com:443, pypi.org");
	free(v);
	CHECK(sfc_spec_set(&s, SFC_K_NETWORK, "deny", &fl, &e) == 0);
	CHECK(s.network == SFC_NET_DENY); /* a later source wins */
	CHECK(sfc_spec_set(&s, SFC_K_ALLOW_HOSTS, "none", &cfg, &e) == 0);
	CHECK(s.allow_hosts.items.n == 0 && s.network == SFC_NET_DENY);
	sfc_spec_free(&s);
}

int main(void)
{
	unit_file = "proxy";
	RUN(split);
#if ENABLE_FEATURE_PROXY
	RUN(allowed);
	RUN(bad_entries);
	RUN(environment);
#endif
	RUN(allow_hosts_key);
	return 0;
}

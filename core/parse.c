#include "core/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Digits only: strtoull accepts "-1", leading blanks and "+", which we do not. */
static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s)) {
		unsigned d = *s - '0';
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
		s++;
	}
	*p = s;
	*v = x;
	return 0;
}

bool sfc_is_none(const char *s)
{
	return !strcasecmp(s, "none") || !strcasecmp(s, "unlimited") || !strcasecmp(s, "off");
}

int sfc_parse_size(const char *s, uint64_t *out, struct sfc_error *e)
{
	const char *p = s;
	uint64_t v, mul = 1;
	int r;

	if ((r = digits(&p, &v)) < 0)
		return r == -ERANGE ? sfc_err(e, 0, "size '%s' is too large", s)
				    : sfc_err(e, 0, "bad size '%s' (expected a number with an optional k, m, g or t suffix)", s);
	switch (tolower((unsigned char)*p)) {
	case 'k': mul = 1ULL << 10; p++; break;
	case 'm': mul = 1ULL << 20; p++; break;
	case 'g': mul = 1ULL << 30; p++; break;
	case 't': mul = 1ULL << 40; p++; break;
	}
	if (mul != 1 && (*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B'))
		p += 2;
	else if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return sfc_err(e, 0, "bad size '%s' (expected a number with an optional k, m, g or t suffix)", s);
	if (v == 0)
		return sfc_err(e, 0, "size '%s' must be greater than zero", s);
	if (v > (UINT64_MAX >> 1) / mul)
		return sfc_err(e, 0, "size '%s' is too large", s);
	*out = v * mul;
	return 0;
}

int sfc_parse_duration(const char *s, uint64_t *ms, struct sfc_error *e)
{
	const char *p = s;
	uint64_t v, mul = 1000;
	int r;

	if ((r = digits(&p, &v)) < 0)
		return r == -ERANGE ? sfc_err(e, 0, "duration '%s' is too large", s)
				    : sfc_err(e, 0, "bad duration '%s' (expected seconds, or a number with ms, s, m, h or d)", s);
	if (!strcmp(p, "ms"))
		mul = 1;
	else if (!strcmp(p, "s") || !*p)
		mul = 1000;
	else if (!strcmp(p, "m"))
		mul = 60 * 1000;
	else if (!strcmp(p, "h"))
		mul = 3600 * 1000;
	else if (!strcmp(p, "d"))
		mul = 86400 * 1000;
	else
		return sfc_err(e, 0, "bad duration '%s' (expected seconds, or a number with ms, s, m, h or d)", s);
	if (v == 0)
		return sfc_err(e, 0, "duration '%s' must be greater than zero", s);
	if (v > UINT64_MAX / 4 / mul)
		return sfc_err(e, 0, "duration '%s' is too large", s);
	*ms = v * mul;
	return 0;
}

int sfc_parse_cpu(const char *s, uint32_t *milli, struct sfc_error *e)
{
	const char *p = s;
	uint64_t whole, frac = 0;
	int scale = 100;

	if (digits(&p, &whole) < 0)
		goto bad;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p)) {
			if (scale == 0) {
				if (*p != '0')
					return sfc_err(e, 0, "CPU share '%s' has more than three decimals", s);
			} else {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
			p++;
		}
	}
	if (*p)
		goto bad;
	if (whole > 1024)
		return sfc_err(e, 0, "CPU share '%s' is too large (at most 1024)", s);
	if (whole * 1000 + frac == 0)
		return sfc_err(e, 0, "CPU share '%s' must be greater than zero", s);
	*milli = whole * 1000 + frac;
	return 0;
bad:
	return sfc_err(e, 0, "bad CPU share '%s' (expected a number of CPUs such as 0.5 or 2)", s);
}

int sfc_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, struct sfc_error *e)
{
	const char *p = s;
	uint64_t v;

	if (digits(&p, &v) < 0 || *p)
		return sfc_err(e, 0, "bad number '%s'", s);
	if (v < min || v > max)
		return sfc_err(e, 0, "number '%s' out of range (%llu..%llu)", s, (unsigned long long)min,
			       (unsigned long long)max);
	*out = v;
	return 0;
}

int sfc_parse_bool(const char *s, bool *out, struct sfc_error *e)
{
	static const char *const yes[] = { "1", "yes", "true", "on", "y" };
	static const char *const no[] = { "0", "no", "false", "off", "n" };

	for (unsigned i = 0; i < 5; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return sfc_err(e, 0, "bad boolean '%s' (expected true or false)", s);
}

void sfc_format_size(uint64_t b, char *buf, int len)
{
	static const char sfx[] = "kmgt";
	int i = -1;

	while (i < 3 && b >= 1024 && b % 1024 == 0) {
		b /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu", (unsigned long long)b);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)b, sfx[i]);
}

void sfc_format_duration(uint64_t ms, char *buf, int len)
{
	if (ms % 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
}

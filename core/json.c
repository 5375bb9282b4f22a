#include "core/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void sfc_json_init(struct sfc_json *j)
{
	memset(j, 0, sizeof(*j));
}

void sfc_json_free(struct sfc_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

static void reserve(struct sfc_json *j, size_t n)
{
	if (j->len + n + 1 <= j->cap)
		return;
	while (j->len + n + 1 > j->cap)
		j->cap = j->cap ? j->cap * 2 : 2048; /* an audit record in one allocation */
	j->buf = sfc_xrealloc(j->buf, j->cap);
}

static void put(struct sfc_json *j, const char *s, size_t n)
{
	reserve(j, n);
	if (n > 16) {
		memcpy(j->buf + j->len, s, n);
	} else {
		for (size_t i = 0; i < n; i++) /* short pieces: a call to memcpy costs more */
			j->buf[j->len + i] = s[i];
	}
	j->len += n;
	j->buf[j->len] = 0;
}

static void putc_(struct sfc_json *j, char c)
{
	reserve(j, 1);
	j->buf[j->len++] = c;
	j->buf[j->len] = 0;
}

char *sfc_json_steal(struct sfc_json *j, size_t *len)
{
	char *s;

	reserve(j, 0);
	s = j->buf;
	if (len)
		*len = j->len;
	memset(j, 0, sizeof(*j));
	return s;
}

/* Before any value: a comma if this level already has one. */
static void value_prefix(struct sfc_json *j)
{
	uint64_t bit = 1ULL << (j->depth & 63);

	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma & bit)
		putc_(j, ',');
	j->need_comma |= bit;
}

void sfc_json_obj_begin(struct sfc_json *j)
{
	value_prefix(j);
	putc_(j, '{');
	j->depth++;
	j->need_comma &= ~(1ULL << (j->depth & 63));
}

void sfc_json_obj_end(struct sfc_json *j)
{
	j->depth--;
	putc_(j, '}');
}

void sfc_json_arr_begin(struct sfc_json *j)
{
	value_prefix(j);
	putc_(j, '[');
	j->depth++;
	j->need_comma &= ~(1ULL << (j->depth & 63));
}

void sfc_json_arr_end(struct sfc_json *j)
{
	j->depth--;
	putc_(j, ']');
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), 0 if invalid.
 * Overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void sfc_json_escape(struct sfc_json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	reserve(j, n + 2);
	while (i < n) {
		size_t run = i;
		/* copy plain ASCII in one go */
		while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			put(j, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = s[i];
		char esc[8];
		uint32_t cp;
		size_t l;

		switch (c) {
		case '"': put(j, "\\\"", 2); i++; continue;
		case '\\': put(j, "\\\\", 2); i++; continue;
		case '\n': put(j, "\\n", 2); i++; continue;
		case '\r': put(j, "\\r", 2); i++; continue;
		case '\t': put(j, "\\t", 2); i++; continue;
		case '\b': put(j, "\\b", 2); i++; continue;
		case '\f': put(j, "\\f", 2); i++; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(j, esc, 6);
			i++;
			continue;
		}
		l = utf8_len(s + i, n - i, &cp);
		if (!l) {
			put(j, "\\ufffd", 6); /* not UTF-8: one replacement per bad byte */
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			put(j, esc, 6);
			i += l;
		} else {
			put(j, (const char *)s + i, l);
			i += l;
		}
	}
}

void sfc_json_key(struct sfc_json *j, const char *key)
{
	value_prefix(j);
	putc_(j, '"');
	sfc_json_escape(j, key, strlen(key));
	put(j, "\":", 2);
	j->after_key = true;
}

void sfc_json_stringn(struct sfc_json *j, const char *s, size_t n)
{
	value_prefix(j);
	putc_(j, '"');
	sfc_json_escape(j, s, n);
	putc_(j, '"');
}

void sfc_json_string(struct sfc_json *j, const char *s)
{
	if (!s) {
		sfc_json_null(j);
		return;
	}
	sfc_json_stringn(j, s, strlen(s));
}

static void put_u64(struct sfc_json *j, uint64_t v, bool neg)
{
	char b[24], *p = b + sizeof(b);

	do
		*--p = '0' + v % 10;
	while ((v /= 10));
	if (neg)
		*--p = '-';
	put(j, p, b + sizeof(b) - p);
}

void sfc_json_sint(struct sfc_json *j, int64_t v)
{
	value_prefix(j);
	put_u64(j, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
}

void sfc_json_uint(struct sfc_json *j, uint64_t v)
{
	value_prefix(j);
	put_u64(j, v, false);
}

void sfc_json_double(struct sfc_json *j, double v, int decimals)
{
	char b[64];
	int n;

	if (!isfinite(v)) {
		sfc_json_null(j);
		return;
	}
	if (v >= 0 && v < 1e12 && decimals >= 0 && decimals <= 6) {
		/* fixed point by hand: musl's %f is slow and this is on every run */
		static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
		uint64_t scaled = (uint64_t)(v * pow10[decimals] + 0.5), ip = scaled / pow10[decimals];
		value_prefix(j);
		put_u64(j, ip, false);
		if (decimals) {
			uint64_t fp = scaled % pow10[decimals];
			n = decimals;
			b[n] = 0;
			while (n-- > 0) {
				b[n] = '0' + fp % 10;
				fp /= 10;
			}
			putc_(j, '.');
			put(j, b, decimals);
		}
		return;
	}
	n = snprintf(b, sizeof(b), "%.*f", decimals < 0 ? 0 : decimals > 9 ? 9 : decimals, v);
	value_prefix(j);
	put(j, b, n);
}

void sfc_json_boolean(struct sfc_json *j, bool v)
{
	value_prefix(j);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void sfc_json_null(struct sfc_json *j)
{
	value_prefix(j);
	put(j, "null", 4);
}

void sfc_json_kstr(struct sfc_json *j, const char *key, const char *s)
{
	sfc_json_key(j, key);
	sfc_json_string(j, s);
}

void sfc_json_kint(struct sfc_json *j, const char *key, int64_t v)
{
	sfc_json_key(j, key);
	sfc_json_sint(j, v);
}

void sfc_json_kuint(struct sfc_json *j, const char *key, uint64_t v)
{
	sfc_json_key(j, key);
	sfc_json_uint(j, v);
}

void sfc_json_kbool(struct sfc_json *j, const char *key, bool v)
{
	sfc_json_key(j, key);
	sfc_json_boolean(j, v);
}

void sfc_json_knull(struct sfc_json *j, const char *key)
{
	sfc_json_key(j, key);
	sfc_json_null(j);
}

#include "core/auditlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autoconf.h"

#if ENABLE_FEATURE_ZLIB
#include <zlib.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------ the scanner */

/* Where a value sits, which decides what is kept of it. */
enum ctx { C_SKIP, C_ROOT, C_CONFIG, C_RES, C_RESULT, C_COMMAND, C_VIOLS, C_VIOL };

struct jval {
	char type; /* 's' string, 'n' number, 't' true, 'f' false, 'z' null, 'o' object, 'a' array */
	struct sfc_span s; /* string contents, or the number's text, or the object/array's text */
	double num;
};

struct scan {
	const char *p, *end;
	const char *why;
	int depth;
	struct sfc_audit_rec *r;
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HASZERO(v) (((v) - ONES) & ~(v) & HIGHS)

static inline void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int bad(struct scan *s, const char *why)
{
	if (!s->why)
		s->why = why;
	return -1;
}

static inline int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* S->p is after the opening quote. */
static int scan_string(struct scan *s, struct sfc_span *out)
{
	const unsigned char *p = (const unsigned char *)s->p, *end = (const unsigned char *)s->end;
	bool esc = false;

	for (;;) {
#ifdef __SSE2__
		/* sixteen bytes at a time while none is '"', '\\' or a control
		 * byte (unsigned < 0x20: signed compare after flipping the top bit) */
		{
			const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
			const __m128i flip = _mm_set1_epi8((char)0x80), lim = _mm_set1_epi8((char)(0x20 ^ 0x80));
			while (end - p >= 16) {
				__m128i v = _mm_loadu_si128((const __m128i *)p);
				__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
							   _mm_cmplt_epi8(_mm_xor_si128(v, flip), lim));
				int m = _mm_movemask_epi8(hit);
				if (m) {
					p += __builtin_ctz((unsigned)m);
					break;
				}
				p += 16;
			}
		}
#endif
		/* eight bytes at a time while none is '"', '\\' or a control byte */
		while (end - p >= 8) {
			uint64_t v;
			memcpy(&v, p, 8);
			if (HASZERO(v ^ (ONES * '"')) | HASZERO(v ^ (ONES * '\\')) | ((v - ONES * 0x20) & ~v & HIGHS))
				break;
			p += 8;
		}
		if (p >= end)
			return bad(s, "unterminated string");
		if (*p == '"')
			break;
		if (*p < 0x20)
			return bad(s, "control character in a string");
		if (*p != '\\') {
			p++;
			continue;
		}
		esc = true;
		if (++p >= end)
			return bad(s, "unterminated string");
		switch (*p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p++;
			break;
		case 'u':
			if (end - p < 5 || hexval(p[1]) < 0 || hexval(p[2]) < 0 || hexval(p[3]) < 0 || hexval(p[4]) < 0)
				return bad(s, "bad \\u escape");
			p += 5;
			break;
		default:
			return bad(s, "bad escape in a string");
		}
	}
	if ((const char *)p - s->p > (long)UINT32_MAX)
		return bad(s, "string too long");
	out->p = s->p;
	out->n = (uint32_t)((const char *)p - s->p);
	out->esc = esc;
	s->p = (const char *)p + 1;
	return 0;
}

static const double pow10tab[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

/* JSON number grammar, and its value: exact (one correctly rounded
 * multiplication or division) for up to 15 significant digits and
 * |exponent| <= 22, strtod otherwise. */
static int scan_number(struct scan *s, struct jval *v)
{
	const char *p = s->p, *end = s->end, *start = p;
	uint64_t m = 0;
	int digits = 0, exp10 = 0;
	bool neg = false;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return bad(s, "bad number");
	if (*p == '0') {
		p++;
	} else {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				if (m)
					digits++;
			} else {
				exp10++;
				digits++;
			}
		}
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return bad(s, "bad number");
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				exp10--;
				if (m)
					digits++;
			} else {
				digits++;
			}
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		int x = 0;
		bool xneg = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			xneg = *p++ == '-';
		if (p >= end || *p < '0' || *p > '9')
			return bad(s, "bad number");
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (x < 100000)
				x = x * 10 + (*p - '0');
		exp10 += xneg ? -x : x;
	}
	v->type = 'n';
	v->s.p = start;
	v->s.n = (uint32_t)(p - start);
	v->s.esc = false;
	if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
		double d = (double)m;
		v->num = exp10 < 0 ? d / pow10tab[-exp10] : d * pow10tab[exp10];
	} else {
		char buf[400];
		size_t n = (size_t)(p - start);
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, start, n);
		buf[n] = 0;
		v->num = strtod(buf, NULL);
		neg = false; /* strtod saw the sign */
	}
	if (neg)
		v->num = -v->num;
	s->p = p;
	return 0;
}

static int scan_value(struct scan *s, enum ctx c, struct jval *v);

/* Which field a key names, in context C. */
enum fld {
	K_NONE, K_TIMESTAMP, K_ID, K_APPLET, K_USER, K_CWD, K_IMAGE, K_NAME, K_COMMAND, K_CONFIG, K_RESOURCES,
	K_RESULT, K_VIOLATIONS, K_LEVEL, K_PRESET, K_POLICY, K_NETWORK, K_MAX_MEMORY, K_CPU_TIME, K_PIDS_PEAK,
	K_EXIT_CODE, K_STATUS, K_SIGNAL, K_DURATION, K_TIMED_OUT, K_OOM_KILLED, K_RAN, K_KIND,
};

struct keydef {
	const char *name;
	enum fld f;
	unsigned char len;
};
#define KD(s, f) { s, f, sizeof(s) - 1 }

static const struct keydef root_keys[] = {
	KD("timestamp", K_TIMESTAMP), KD("id", K_ID), KD("applet", K_APPLET), KD("user", K_USER),
	KD("cwd", K_CWD), KD("image", K_IMAGE), KD("name", K_NAME), KD("container", K_NAME),
	KD("command", K_COMMAND), KD("config", K_CONFIG), KD("resources", K_RESOURCES), KD("stats", K_RESOURCES),
	KD("result", K_RESULT), KD("violations", K_VIOLATIONS),
	/* seed 000's container record keeps these at the top level */
	KD("exit_code", K_EXIT_CODE), KD("duration", K_DURATION), { NULL, K_NONE, 0 },
};
static const struct keydef config_keys[] = {
	KD("level", K_LEVEL), KD("preset", K_PRESET), KD("policy", K_POLICY), KD("network", K_NETWORK),
	KD("image", K_IMAGE), { NULL, K_NONE, 0 },
};
static const struct keydef res_keys[] = {
	KD("max_memory", K_MAX_MEMORY), KD("cpu_time", K_CPU_TIME), KD("pids_peak", K_PIDS_PEAK), { NULL, K_NONE, 0 },
};
static const struct keydef result_keys[] = {
	KD("exit_code", K_EXIT_CODE), KD("status", K_STATUS), KD("signal", K_SIGNAL), KD("duration", K_DURATION),
	KD("timed_out", K_TIMED_OUT), KD("oom_killed", K_OOM_KILLED), KD("ran", K_RAN), { NULL, K_NONE, 0 },
};
static const struct keydef viol_keys[] = {
	KD("violation", K_KIND), KD("kind", K_KIND), KD("type", K_KIND), { NULL, K_NONE, 0 },
};

static enum fld lookup_key(const struct keydef *t, const struct sfc_span *k)
{
	char buf[32];
	const char *p = k->p;
	size_t n = k->n;

	if (k->esc) {
		if (k->n >= 6 * sizeof(buf))
			return K_NONE;
		n = sfc_json_unescape(k, buf, sizeof(buf));
		p = buf;
	}
	for (; t->name; t++)
		if (t->len == n && t->name[0] == p[0] && !memcmp(t->name, p, n))
			return t->f;
	return K_NONE;
}

/* Numbers as numbers, or as the strings of seed 001 ("45.2", "1073741824",
 * "1.2g", "45.2s"). */
static double num_of(const struct jval *v, bool size_suffix)
{
	char buf[48], *end;
	double d;

	if (v->type == 'n')
		return v->num;
	if (v->type != 's' || v->s.esc || !v->s.n || v->s.n >= sizeof(buf))
		return -1;
	memcpy(buf, v->s.p, v->s.n);
	buf[v->s.n] = 0;
	d = strtod(buf, &end);
	if (end == buf || d < 0)
		return -1;
	if (size_suffix) {
		switch (*end | 0x20) {
		case 'k': d *= 1024.0; break;
		case 'm': d *= 1024.0 * 1024; break;
		case 'g': d *= 1024.0 * 1024 * 1024; break;
		case 't': d *= 1024.0 * 1024 * 1024 * 1024; break;
		default: break;
		}
	} else if (*end == 'm' && end[1] == 's') {
		d /= 1000;
	} else if (*end == 'm') {
		d *= 60;
	} else if (*end == 'h') {
		d *= 3600;
	}
	return d;
}

static int signal_of(const struct jval *v)
{
	static const struct { const char *n; int s; } names[] = {
		{ "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "ILL", 4 }, { "TRAP", 5 }, { "ABRT", 6 }, { "BUS", 7 },
		{ "FPE", 8 }, { "KILL", 9 }, { "USR1", 10 }, { "SEGV", 11 }, { "USR2", 12 }, { "PIPE", 13 },
		{ "ALRM", 14 }, { "TERM", 15 }, { "XCPU", 24 }, { "XFSZ", 25 }, { "SYS", 31 },
	};
	char buf[16];
	const char *n = buf;

	if (v->type == 'n')
		return v->num > 0 && v->num < 128 ? (int)v->num : 0;
	if (v->type != 's' || v->s.esc || !v->s.n || v->s.n >= sizeof(buf))
		return 0;
	memcpy(buf, v->s.p, v->s.n);
	buf[v->s.n] = 0;
	if (!strncmp(n, "SIG", 3))
		n += 3;
	for (size_t i = 0; i < SFC_ARRAY_SIZE(names); i++)
		if (!strcmp(n, names[i].n))
			return names[i].s;
	return atoi(n) > 0 && atoi(n) < 128 ? atoi(n) : 0;
}

static void assign(struct sfc_audit_rec *r, enum fld f, const struct jval *v, const char *vstart)
{
	const struct sfc_span *str = v->type == 's' ? &v->s : NULL;

	switch (f) {
	case K_TIMESTAMP:
		if (str) {
			r->timestamp = *str;
			r->ts = str->esc ? -1 : sfc_parse_iso8601(str->p, str->n);
		}
		break;
	case K_ID: if (str) r->id = *str; break;
	case K_APPLET: if (str) r->applet = *str; break;
	case K_USER: if (str) r->user = *str; break;
	case K_CWD: if (str) r->cwd = *str; break;
	case K_IMAGE: if (str) r->image = *str; break;
	case K_NAME: if (str) r->name = *str; break;
	case K_LEVEL: if (str) r->level = *str; break;
	case K_PRESET: if (str) r->preset = *str; break;
	case K_POLICY: if (str) r->policy = *str; break;
	case K_NETWORK: if (str) r->network = *str; break;
	case K_COMMAND:
		if (str) {
			r->command = *str;
			r->cmd0 = *str;
			r->argc = 1;
			r->command_is_array = false;
		} else if (v->type == 'a') {
			r->command = v->s;
			r->command.p = vstart;
			r->command_is_array = true;
		}
		break;
	case K_MAX_MEMORY: r->max_memory = num_of(v, true); break;
	case K_CPU_TIME: r->cpu_time = num_of(v, false); break;
	case K_PIDS_PEAK: r->pids_peak = num_of(v, false); break;
	case K_EXIT_CODE:
		if (v->type == 'n' || v->type == 's') {
			double d = num_of(v, false);
			if (d >= 0 && d < 256) {
				r->exit_code = (int)d;
				r->has_exit_code = true;
			}
		}
		break;
	case K_STATUS:
		if (v->type == 'n' && v->num >= 0 && v->num < 256) {
			r->status = (int)v->num;
			r->has_status = true;
		}
		break;
	case K_SIGNAL: r->signal = signal_of(v); break;
	case K_DURATION: r->duration = num_of(v, false); break;
	case K_TIMED_OUT: r->timed_out = v->type == 't'; break;
	case K_OOM_KILLED: r->oom_killed = v->type == 't'; break;
	case K_RAN:
		if (v->type == 't' || v->type == 'f') {
			r->ran_known = true;
			r->ran = v->type == 't';
		}
		break;
	default: break;
	}
}

static int scan_object(struct scan *s, enum ctx c)
{
	const struct keydef *keys = NULL;
	struct sfc_audit_rec *r = s->r;
	uint32_t vi = 0;

	if (c == C_ROOT)
		keys = root_keys;
	else if (c == C_CONFIG)
		keys = config_keys;
	else if (c == C_RES)
		keys = res_keys;
	else if (c == C_RESULT)
		keys = result_keys;
	else if (c == C_VIOL) {
		vi = r->nviol - 1; /* counted by the array */
		keys = vi < SFC_AUDIT_MAX_VIOL ? viol_keys : NULL;
	}
	s->p++; /* '{' */
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		struct sfc_span k;
		struct jval v;
		enum fld f = K_NONE;
		enum ctx cc = C_SKIP;
		const char *vstart;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return bad(s, "expected a key");
		s->p++;
		if (scan_string(s, &k) < 0)
			return -1;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return bad(s, "expected ':'");
		s->p++;
		skip_ws(s);
		if (keys) {
			f = lookup_key(keys, &k);
			if (f == K_NONE && c == C_ROOT) {
				/* tolerate a flat record */
				f = lookup_key(result_keys, &k);
				if (f == K_NONE)
					f = lookup_key(config_keys, &k);
			}
		}
		switch (f) {
		case K_CONFIG: cc = C_CONFIG; break;
		case K_RESOURCES: cc = C_RES; break;
		case K_RESULT: cc = C_RESULT; break;
		case K_VIOLATIONS: cc = C_VIOLS; break;
		case K_COMMAND: cc = C_COMMAND; break;
		default: break;
		}
		vstart = s->p;
		if (scan_value(s, cc, &v) < 0)
			return -1;
		if (c == C_VIOL) {
			if (f == K_KIND && v.type == 's')
				r->viol[vi].kind = v.s;
		} else if (f != K_NONE) {
			assign(r, f, &v, vstart);
		}
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return bad(s, "expected ',' or '}'");
	}
}

static int scan_array(struct scan *s, enum ctx c)
{
	struct sfc_audit_rec *r = s->r;
	enum ctx elem = c == C_VIOLS ? C_VIOL : C_SKIP;

	s->p++; /* '[' */
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		struct jval v;
		const char *vstart;

		skip_ws(s);
		vstart = s->p;
		if (c == C_VIOLS && r->nviol < UINT32_MAX)
			r->nviol++;
		if (scan_value(s, elem, &v) < 0)
			return -1;
		if (c == C_COMMAND) {
			if (r->argc++ == 0 && v.type == 's')
				r->cmd0 = v.s;
		} else if (c == C_VIOLS && r->nviol - 1 < SFC_AUDIT_MAX_VIOL) {
			struct sfc_span raw = { vstart, (uint32_t)(s->p - vstart), false };
			r->viol[r->nviol - 1].raw = raw;
			if (v.type == 's')
				r->viol[r->nviol - 1].kind = v.s;
		}
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		return bad(s, "expected ',' or ']'");
	}
}

static int scan_value(struct scan *s, enum ctx c, struct jval *v)
{
	const char *start = s->p;
	int r;

	if (s->p >= s->end)
		return bad(s, "truncated");
	v->s.p = NULL;
	v->s.n = 0;
	v->s.esc = false;
	switch (*s->p) {
	case '"':
		s->p++;
		v->type = 's';
		return scan_string(s, &v->s);
	case '{':
	case '[':
		if (++s->depth > SFC_JSON_MAX_DEPTH)
			return bad(s, "nested too deeply");
		if (*s->p == '{') {
			v->type = 'o';
			r = scan_object(s, c == C_ROOT || c == C_CONFIG || c == C_RES || c == C_RESULT || c == C_VIOL ? c
															: C_SKIP);
		} else {
			v->type = 'a';
			r = scan_array(s, c == C_COMMAND || c == C_VIOLS ? c : C_SKIP);
		}
		s->depth--;
		v->s.p = start;
		v->s.n = (uint32_t)(s->p - start);
		return r;
	case 't':
		if (s->end - s->p >= 4 && !memcmp(s->p, "true", 4)) {
			s->p += 4;
			v->type = 't';
			return 0;
		}
		break;
	case 'f':
		if (s->end - s->p >= 5 && !memcmp(s->p, "false", 5)) {
			s->p += 5;
			v->type = 'f';
			return 0;
		}
		break;
	case 'n':
		if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) {
			s->p += 4;
			v->type = 'z';
			return 0;
		}
		break;
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s, v);
		break;
	}
	return bad(s, "unexpected character");
}

int sfc_audit_parse(const char *line, size_t len, struct sfc_audit_rec *r, const char **why)
{
	struct scan s = { line, line + len, NULL, 0, r };
	struct jval v;

	/* memset of the whole record costs more than the parse of a short
	 * line; clear what is read, the spans of violations are set as met */
	memset(r, 0, offsetof(struct sfc_audit_rec, viol));
	r->line = line;
	r->len = len;
	r->ts = r->max_memory = r->cpu_time = r->pids_peak = r->duration = -1;
	r->exit_code = -1;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{') {
		*why = s.p >= s.end ? "empty line" : "not a JSON object";
		return -1;
	}
	if (scan_value(&s, C_ROOT, &v) < 0) {
		*why = s.why ? s.why : "bad JSON";
		return -1;
	}
	skip_ws(&s);
	if (s.p != s.end) {
		*why = "text after the object";
		return -1;
	}
	for (uint32_t i = 0; i < r->nviol && i < SFC_AUDIT_MAX_VIOL; i++)
		if (!r->viol[i].raw.p)
			r->viol[i].kind.p = NULL;
	return 0;
}

/* ------------------------------------------------------------ strings */

void sfc_audit_command_string(const struct sfc_audit_rec *r, char *out, size_t size)
{
	struct scan s = { r->command.p, r->command.p + r->command.n, NULL, 0, NULL };
	size_t o = 0;

	out[0] = 0;
	if (!r->command.p || size < 2)
		return;
	if (!r->command_is_array) {
		sfc_json_unescape(&r->command, out, size);
		return;
	}
	s.p++; /* '[' (validated by the parse) */
	for (;;) {
		struct jval v;
		char el[4096];
		size_t n;
		bool quote;

		skip_ws(&s);
		if (s.p >= s.end || *s.p == ']')
			break;
		if (scan_value(&s, C_SKIP, &v) < 0)
			break;
		if (v.type == 's')
			n = sfc_json_unescape(&v.s, el, sizeof(el));
		else if (v.s.p)
			n = (size_t)snprintf(el, sizeof(el), "%.*s", (int)v.s.n, v.s.p);
		else
			n = (size_t)snprintf(el, sizeof(el), "%s", v.type == 't' ? "true" : v.type == 'f' ? "false" : "null");
		if (n >= sizeof(el))
			n = sizeof(el) - 1;
		quote = !n || strpbrk(el, " \t\n'\"") != NULL;
		if (o && o + 1 < size)
			out[o++] = ' ';
		if (quote && o + 1 < size)
			out[o++] = '\'';
		for (size_t i = 0; i < n && o + 1 < size; i++)
			out[o++] = el[i];
		if (quote && o + 1 < size)
			out[o++] = '\'';
		skip_ws(&s);
		if (s.p < s.end && *s.p == ',')
			s.p++;
	}
	out[o] = 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const char *p)
{
	return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

size_t sfc_json_unescape(const struct sfc_span *s, char *out, size_t size)
{
	const char *p = s->p, *end = s->p + s->n;
	size_t o = 0;

	if (!size)
		return 0;
	if (!p) {
		out[0] = 0;
		return 0;
	}
	if (!s->esc) {
		o = s->n < size - 1 ? s->n : size - 1;
		memcpy(out, p, o);
		out[o] = 0;
		return o;
	}
	while (p < end && o + 1 < size) {
		char tmp[4];
		size_t k;

		if (*p != '\\') {
			out[o++] = *p++;
			continue;
		}
		p++;
		if (p >= end)
			break;
		switch (*p) {
		case 'b': tmp[0] = '\b'; k = 1; p++; break;
		case 'f': tmp[0] = '\f'; k = 1; p++; break;
		case 'n': tmp[0] = '\n'; k = 1; p++; break;
		case 'r': tmp[0] = '\r'; k = 1; p++; break;
		case 't': tmp[0] = '\t'; k = 1; p++; break;
		case 'u': {
			uint32_t cp;
			if (end - p < 5) {
				p = end;
				continue;
			}
			cp = hex4(p + 1);
			p += 5;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				uint32_t lo = hex4(p + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd; /* a lone surrogate */
			k = put_utf8(tmp, cp);
			break;
		}
		default: tmp[0] = *p++; k = 1; break;
		}
		if (o + k >= size)
			break;
		memcpy(out + o, tmp, k);
		o += k;
	}
	out[o] = 0;
	return o;
}

bool sfc_json_object_get(const struct sfc_span *obj, const char *key, char *out, size_t size)
{
	struct sfc_audit_rec dummy;
	struct scan s = { obj->p, obj->p + obj->n, NULL, 0, &dummy };

	memset(&dummy, 0, offsetof(struct sfc_audit_rec, viol));
	if (!obj->p || !obj->n || *s.p != '{')
		return false;
	s.p++;
	for (;;) {
		struct sfc_span k;
		struct jval v;
		char kb[64];

		skip_ws(&s);
		if (s.p >= s.end || *s.p != '"')
			return false;
		s.p++;
		if (scan_string(&s, &k) < 0)
			return false;
		skip_ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			return false;
		skip_ws(&s);
		if (scan_value(&s, C_SKIP, &v) < 0)
			return false;
		sfc_json_unescape(&k, kb, sizeof(kb));
		if (!strcmp(kb, key)) {
			if (v.type == 'z')
				return false;
			if (v.type == 's') {
				sfc_json_unescape(&v.s, out, size);
			} else if (v.type == 'n') {
				snprintf(out, size, "%.*s", (int)v.s.n, v.s.p);
			} else if (v.type == 't' || v.type == 'f') {
				snprintf(out, size, "%s", v.type == 't' ? "true" : "false");
			} else {
				snprintf(out, size, "%.*s", (int)v.s.n, v.s.p);
			}
			return true;
		}
		skip_ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		return false;
	}
}

void sfc_buf_add(struct sfc_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = sfc_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void sfc_buf_addf(struct sfc_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sfc_buf_add(b, tmp, (size_t)n);
	} else {
		char *big = sfc_xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sfc_buf_add(b, big, (size_t)n);
		free(big);
	}
}

void sfc_buf_json_str(struct sfc_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	sfc_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[7];
		size_t k = 0;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			k = 2;
		} else if (c < 0x20 || c == 0x7f) {
			e[0] = '\\';
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			k = 6;
		}
		if (k) {
			sfc_buf_add(b, run, (size_t)(s - run));
			sfc_buf_add(b, e, k);
			run = s + 1;
		}
	}
	sfc_buf_add(b, run, (size_t)(s - run));
	sfc_buf_add(b, "\"", 1);
}

void sfc_buf_free(struct sfc_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------ time */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits_at(const char *p, const char *end, int n)
{
	int v = 0;

	if (end - p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

double sfc_parse_iso8601(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	int y, mo, d, h, mi, sec;
	double frac = 0, t;

	if ((y = digits_at(p, end, 4)) < 0 || end - p < 19 || p[4] != '-' || (mo = digits_at(p + 5, end, 2)) < 1 ||
	    mo > 12 || p[7] != '-' || (d = digits_at(p + 8, end, 2)) < 1 || d > 31 || (p[10] != 'T' && p[10] != ' ') ||
	    (h = digits_at(p + 11, end, 2)) < 0 || h > 23 || p[13] != ':' || (mi = digits_at(p + 14, end, 2)) < 0 ||
	    mi > 59 || p[16] != ':' || (sec = digits_at(p + 17, end, 2)) < 0 || sec > 60)
		return -1;
	p += 19;
	if (p < end && *p == '.') {
		double scale = 0.1;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return -1;
		for (; p < end && *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	t = (double)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) + frac;
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int oh, om;
		int sign = *p == '-' ? -1 : 1;
		p++;
		if ((oh = digits_at(p, end, 2)) < 0 || oh > 23)
			return -1;
		p += 2;
		if (p < end && *p == ':')
			p++;
		if ((om = digits_at(p, end, 2)) < 0 || om > 59)
			return -1;
		p += 2;
		t -= sign * (oh * 3600 + om * 60);
	}
	return p == end ? t : -1;
}

void sfc_format_iso8601(double t, char *buf, size_t size)
{
	time_t s = (time_t)t;
	int ms = (int)((t - (double)s) * 1000 + 0.5);
	struct tm tm;

	if (ms >= 1000) {
		s++;
		ms -= 1000;
	}
	gmtime_r(&s, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* ------------------------------------------------------------ files */

char *sfc_home_dir(void)
{
	const char *h = getenv("SEFACA_HOME");
	struct passwd *pw;

	if (h && *h)
		return sfc_xstrdup(h);
	h = getenv("HOME");
	if ((!h || !*h) && (pw = getpwuid(getuid())))
		h = pw->pw_dir;
	return sfc_xasprintf("%s/.sefaca", h && *h ? h : "/");
}

char *sfc_auditlog_dir(void)
{
	_cleanup_free_ char *home = sfc_home_dir();
	return sfc_xasprintf("%s/logs", home);
}

bool sfc_auditlog_gzip_supported(void)
{
	return ENABLE_FEATURE_ZLIB;
}

struct logname {
	unsigned long n;
	bool gz;
	char *path;
};

static int cmp_logname(const void *a, const void *b)
{
	const struct logname *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1; /* higher N is older */
	return x->gz - y->gz;
}

int sfc_auditlog_files(const char *dir, const char *base, struct sfc_strv *out, struct sfc_error *e)
{
	size_t blen = strlen(base);
	struct logname *v = NULL;
	size_t n = 0, cap = 0;
	bool active = false;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return sfc_err(e, errno, "%s", dir);
	}
	while ((de = readdir(d))) {
		const char *nm = de->d_name, *q;
		char *endp;
		unsigned long k;

		if (strncmp(nm, base, blen))
			continue;
		if (!nm[blen]) {
			active = true;
			continue;
		}
		if (nm[blen] != '.' || nm[blen + 1] < '1' || nm[blen + 1] > '9')
			continue;
		errno = 0;
		k = strtoul(nm + blen + 1, &endp, 10);
		if (errno || k > 1000000)
			continue;
		q = endp;
		if (*q && strcmp(q, ".gz"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = sfc_xrealloc(v, cap * sizeof(*v));
		}
		v[n].n = k;
		v[n].gz = *q != 0;
		v[n].path = sfc_xasprintf("%s/%s", dir, nm);
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_logname);
	for (size_t i = 0; i < n; i++) {
		/* .N and .N.gz side by side: sefaca-clean is compressing .N; the
		 * plain file is whole, the .gz may not be */
		if (i > 0 && v[i].n == v[i - 1].n) {
			free(v[i].path);
			continue;
		}
		sfc_strv_push_owned(out, v[i].path);
	}
	free(v);
	if (active)
		sfc_strv_push_owned(out, sfc_xasprintf("%s/%s", dir, base));
	return 0;
}

struct src {
	int fd;
#if ENABLE_FEATURE_ZLIB
	gzFile gz;
#endif
};

static ssize_t src_read(struct src *s, char *buf, size_t n, const char **why)
{
#if ENABLE_FEATURE_ZLIB
	if (s->gz) {
		int r = gzread(s->gz, buf, n > (1u << 30) ? 1u << 30 : (unsigned)n);
		if (r < 0) {
			int zerr;
			*why = gzerror(s->gz, &zerr);
			errno = EIO;
		}
		return r;
	}
#endif
	for (;;) {
		ssize_t r = read(s->fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			*why = strerror(errno);
		return r;
	}
}

static void handle_line(struct sfc_auditlog_reader *rd, const char *file, uint64_t lineno, const char *p, size_t n,
			bool *stop)
{
	struct sfc_audit_rec r;
	const char *why = NULL;

	rd->n.lines++;
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (!n)
		return; /* blank lines are not records */
	if (sfc_audit_parse(p, n, &r, &why) < 0) {
		rd->n.corrupt++;
		if (rd->warn)
			rd->warn(file, lineno, why, rd->data);
		if (rd->corrupt_line && rd->corrupt_line(p, n, rd->data) < 0)
			*stop = true;
		return;
	}
	rd->n.records++;
	if (rd->record && rd->record(&r, rd->data) < 0)
		*stop = true;
}

int sfc_auditlog_read_file(struct sfc_auditlog_reader *rd, const char *path, bool active, struct sfc_error *e)
{
	struct src src;
	size_t cap = 1u << 20, len = 0;
	char *buf;
	uint64_t lineno = 0;
	bool skipping = false, stop = false, gz = sfc_str_has_suffix(path, ".gz");
	const char *why = NULL;
	int r = 0;

	memset(&src, 0, sizeof(src));
	src.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0)
		return sfc_err(e, errno, "%s", path);
	if (gz) {
#if ENABLE_FEATURE_ZLIB
		src.gz = gzdopen(src.fd, "rb");
		if (!src.gz) {
			close(src.fd);
			return sfc_err(e, ENOMEM, "%s: gzdopen", path);
		}
		gzbuffer(src.gz, 256 * 1024);
#else
		close(src.fd);
		rd->n.skipped_files++;
		return sfc_err(e, ENOTSUP, "%s: gzip-compressed, and this build cannot read gzip (FEATURE_ZLIB is off)",
			       path);
#endif
	}
	rd->n.files++;
	buf = sfc_xmalloc(cap);
	for (;;) {
		ssize_t got = src_read(&src, buf + len, cap - len, &why);
		char *p, *nl, *end;

		if (got < 0) {
			r = sfc_err(e, errno, "%s: %s", path, why ? why : "read error");
			if (len && rd->warn) {
				rd->n.truncated++;
				rd->warn(path, lineno + 1, "truncated: the file ends in a read error", rd->data);
			}
			len = 0;
			break;
		}
		if (got == 0)
			break;
		rd->n.bytes += (uint64_t)got;
		p = buf;
		end = buf + len + got;
		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			lineno++;
			if (skipping) {
				skipping = false;
			} else {
				handle_line(rd, path, lineno, p, (size_t)(nl - p), &stop);
				if (stop)
					goto done;
			}
			p = nl + 1;
		}
		len = (size_t)(end - p);
		if (skipping) {
			len = 0; /* still inside an overlong line */
		} else if (len == cap) {
			if (cap >= SFC_AUDITLOG_MAX_LINE) {
				lineno++;
				rd->n.lines++;
				rd->n.corrupt++;
				if (rd->warn)
					rd->warn(path, lineno, "line longer than 16 MiB", rd->data);
				skipping = true;
				len = 0;
			} else {
				cap *= 2;
				buf = sfc_xrealloc(buf, cap);
			}
		} else if (p != buf && len) {
			memmove(buf, p, len);
		}
	}
	if (len && !stop) {
		/* a last line without its newline */
		struct sfc_audit_rec rec;
		const char *w;
		lineno++;
		if (sfc_audit_parse(buf, len, &rec, &w) == 0) {
			handle_line(rd, path, lineno, buf, len, &stop);
		} else if (!active) {
			rd->n.lines++;
			rd->n.truncated++;
			if (rd->warn)
				rd->warn(path, lineno, "truncated last line", rd->data);
		}
		/* the active log: a record being written right now; its writer
		 * completes it with the same write(2), the next read sees it */
	}
done:
	free(buf);
#if ENABLE_FEATURE_ZLIB
	if (src.gz)
		gzclose(src.gz); /* closes the fd */
	else
#endif
		close(src.fd);
	return r;
}

int sfc_auditlog_read_dir(struct sfc_auditlog_reader *rd, const char *dir, const char *base, struct sfc_error *e)
{
	struct sfc_strv files = { 0 };
	int r;

	if ((r = sfc_auditlog_files(dir, base, &files, e)) < 0)
		return r;
	for (size_t i = 0; i < files.n; i++) {
		const char *sl = strrchr(files.v[i], '/');
		bool active = !strcmp(sl ? sl + 1 : files.v[i], base);
		struct sfc_error fe = { 0 };
		if (sfc_auditlog_read_file(rd, files.v[i], active, &fe) < 0) {
			/* a file that cannot be read is reported; the others still count */
			if (rd->warn)
				rd->warn(files.v[i], 0, fe.msg, rd->data);
			if (fe.err != ENOTSUP)
				rd->n.skipped_files++;
		}
	}
	sfc_strv_clear(&files);
	return 0;
}

int sfc_auditlog_open_locked(int dirfd, const char *name, bool create, struct sfc_error *e)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat a, b;
		int fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);

		if (fd < 0)
			return sfc_err(e, errno, "%s", name);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				int err = errno;
				close(fd);
				return sfc_err(e, err, "lock %s", name);
			}
		}
		/* Rotated away while we waited for the lock: the record belongs
		 * in the file that is at the name now. */
		if (fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return fd;
		close(fd);
		if (!create && errno == ENOENT)
			return sfc_err(e, ENOENT, "%s", name);
	}
	return sfc_err(e, EAGAIN, "%s keeps being rotated", name);
}

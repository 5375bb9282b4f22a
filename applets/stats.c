/*
 * sefaca-stats: what ran, what was denied, what it cost (from the audit
 * log), and what runs now (from the registry of running sandboxes).
 */
//config:config SEFACA_STATS
//config:	bool "sefaca-stats: statistics from the audit log, live usage"
//config:	default y
//config:	help
//config:	  Summarise the audit log (runs, failures, timeouts, OOM kills,
//config:	  blocked commands, violations by kind, duration percentiles,
//config:	  memory and CPU), grouped and filtered, as tables or JSON; and
//config:	  list running sandboxes with their CPU, memory and pids, live.
//applet:SFC_APPLET(stats, SEFACA_STATS)
//usage:Usage: sefaca-stats [OPTIONS]
//usage:       sefaca-stats --live [--no-stream] [--interval=DURATION] [--json]
//usage:
//usage:Summarise the audit log ($SEFACA_HOME/logs/audit.jsonl and its
//usage:rotations audit.jsonl.1, audit.jsonl.2.gz ...).
//usage:
//usage:  --by=KEY          group by command, preset, policy, level, applet,
//usage:                    image or day
//usage:  --since=WHEN      only runs since WHEN: a duration back from now (24h,
//usage:                    7d, 90m) or a date (2026-11-22, "2026-11-22 18:00",
//usage:                    an ISO 8601 time with Z or an offset)
//usage:  --until=WHEN      only runs before WHEN
//usage:  --failed          only failed runs (and list the last ones)
//usage:  --violations      list recent security violations (--limit=N of them)
//usage:  --command=GLOB    only runs whose command line, program or program
//usage:                    name matches GLOB
//usage:  --limit=N         rows of the lists (default 20)
//usage:  --log=FILE        read FILE and its rotations instead
//usage:  --json            one JSON document for programs
//usage:  -q, --quiet       no warnings about corrupt lines
//usage:Live view of running sandboxes:
//usage:  --live            CPU %, memory, pids and uptime, refreshed like top
//usage:  --no-stream       one sample and exit
//usage:  --interval=DUR    refresh period (default 2s)
//usage:  --count=N         stop after N refreshes
//usage:
//usage:Exit status: 0; 1 if the log could not be read; 125 on bad usage.

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "applets/common.h"
#include "autoconf.h"
#include "core/auditlog.h"
#include "core/parse.h"
#include "core/registry.h"
#include "core/util.h"

const char *sfc_applet_usage(const char *name);

enum by { BY_NONE, BY_COMMAND, BY_PRESET, BY_POLICY, BY_LEVEL, BY_APPLET, BY_IMAGE, BY_DAY };
static const char *const by_names[] = { "", "command", "preset", "policy", "level", "applet", "image", "day" };

/* ---------------------------------------------------------------- figures */

/* Durations: exact up to EXACT_MAX samples per group, then a histogram of
 * 2%-wide buckets from 1 us to ~115 days, so memory stays bounded
 * whatever the log's length. */
#define EXACT_MAX 4096
#define HIST_MIN 1e-6
#define HIST_GROWTH 1.02
#define HIST_N 1600

struct dist {
	double *exact;
	uint32_t n, cap;
	uint32_t *hist; /* non-NULL once past EXACT_MAX */
	uint64_t count;
	double max, sum;
};

/* Bucket lower bounds, HIST_MIN * HIST_GROWTH^i, made once (no libm). */
static double hist_lo[HIST_N + 1];

static void hist_init(void)
{
	if (hist_lo[1] > 0)
		return;
	hist_lo[0] = HIST_MIN;
	for (int i = 1; i <= HIST_N; i++)
		hist_lo[i] = hist_lo[i - 1] * HIST_GROWTH;
}

static int hist_bucket(double v)
{
	int lo = 0, hi = HIST_N - 1;
	if (v <= HIST_MIN)
		return 0;
	while (lo < hi) { /* the last bucket whose lower bound is <= v */
		int mid = (lo + hi + 1) / 2;
		if (hist_lo[mid] <= v)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static void dist_add(struct dist *d, double v)
{
	d->count++;
	d->sum += v;
	if (v > d->max)
		d->max = v;
	if (!d->hist && d->n < EXACT_MAX) {
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 8;
			d->exact = sfc_xrealloc(d->exact, d->cap * sizeof(double));
		}
		d->exact[d->n++] = v;
		return;
	}
	if (!d->hist) {
		hist_init();
		d->hist = sfc_xcalloc(HIST_N, sizeof(uint32_t));
		for (uint32_t i = 0; i < d->n; i++)
			d->hist[hist_bucket(d->exact[i])]++;
		free(d->exact);
		d->exact = NULL;
		d->n = d->cap = 0;
	}
	d->hist[hist_bucket(v)]++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile: the value at rank ceil(P/100 * N). */
static double dist_pct(struct dist *d, double p)
{
	uint64_t rank;

	if (!d->count)
		return -1;
	rank = (uint64_t)((p * (double)d->count + 99.999999) / 100.0); /* ceil, for integer P */
	if (rank < 1)
		rank = 1;
	if (!d->hist) {
		qsort(d->exact, d->n, sizeof(double), cmp_double);
		return d->exact[rank - 1];
	}
	for (uint64_t seen = 0, i = 0; i < HIST_N; i++) {
		seen += d->hist[i];
		if (seen >= rank) {
			double v = (hist_lo[i] + hist_lo[i + 1]) / 2;
			return v > d->max ? d->max : v;
		}
	}
	return d->max;
}

static void dist_free(struct dist *d)
{
	free(d->exact);
	free(d->hist);
}

struct agg {
	char *key;
	uint64_t runs, ok, failed, timeouts, oom, blocked, viol, viol_runs, undated;
	struct dist dur;
	double mem_max, cpu_sum, first, last;
	bool has_mem, has_cpu;
};

static void agg_add(struct agg *a, const struct sfc_audit_rec *r, bool failed, bool blocked)
{
	a->runs++;
	if (failed)
		a->failed++;
	else
		a->ok++;
	a->timeouts += r->timed_out;
	a->oom += r->oom_killed;
	a->blocked += blocked;
	a->viol += r->nviol;
	a->viol_runs += r->nviol > 0;
	if (r->duration >= 0)
		dist_add(&a->dur, r->duration);
	if (r->max_memory >= 0) {
		a->has_mem = true;
		if (r->max_memory > a->mem_max)
			a->mem_max = r->max_memory;
	}
	if (r->cpu_time >= 0) {
		a->has_cpu = true;
		a->cpu_sum += r->cpu_time;
	}
	if (r->ts >= 0) {
		if (a->first == 0 || r->ts < a->first)
			a->first = r->ts;
		if (r->ts > a->last)
			a->last = r->ts;
	} else {
		a->undated++;
	}
}

/* A string -> agg table, open addressing. */
struct table {
	struct agg *v;
	size_t n, cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct agg *table_get(struct table *t, const char *key)
{
	size_t i;

	if (t->n * 2 >= t->cap) {
		struct table nt = { sfc_xcalloc(t->cap ? t->cap * 2 : 64, sizeof(struct agg)), 0,
				    t->cap ? t->cap * 2 : 64 };
		for (size_t j = 0; j < t->cap; j++) {
			if (!t->v[j].key)
				continue;
			i = hash_str(t->v[j].key) & (nt.cap - 1);
			while (nt.v[i].key)
				i = (i + 1) & (nt.cap - 1);
			nt.v[i] = t->v[j];
			nt.n++;
		}
		free(t->v);
		*t = nt;
	}
	i = hash_str(key) & (t->cap - 1);
	while (t->v[i].key) {
		if (!strcmp(t->v[i].key, key))
			return &t->v[i];
		i = (i + 1) & (t->cap - 1);
	}
	t->v[i].key = sfc_xstrdup(key);
	t->n++;
	return &t->v[i];
}

/* ---------------------------------------------------------------- state */

struct recent {
	double ts;
	char *applet, *command, *kind, *detail, *action, *suggestion;
	int status;
	double duration;
};

struct stats {
	/* options */
	enum by by;
	double since, until; /* < 0: none */
	bool failed_only, violations, json, quiet;
	const char *glob;
	unsigned limit;
	/* results */
	struct agg total;
	struct table groups, kinds, days;
	struct recent *ring; /* the last LIMIT violations or failures */
	uint64_t ring_n;
	uint64_t filtered_out;
	unsigned warnings;
	/* --by=day: the local day of the last record, cached */
	time_t day_lo, day_hi;
	char day_key[16];
};

static void sanitize(char *s)
{
	/* Nothing from the log reaches the terminal as a control sequence:
	 * a command line may carry ESC (CVE-2021-31701-style injection into the
	 * operator's terminal). */
	unsigned char *p = (unsigned char *)s;
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) { /* C1 controls in UTF-8 */
			p[0] = '?';
			p[1] = '?';
			p++;
		}
	}
}

static void span_str(const struct sfc_span *s, char *out, size_t size, const char *dflt)
{
	if (!sfc_span_set(s)) {
		snprintf(out, size, "%s", dflt);
		return;
	}
	sfc_json_unescape(s, out, size);
}

static const char *day_of(struct stats *st, double ts)
{
	time_t t = (time_t)ts;
	struct tm tm;

	if (ts < 0)
		return "unknown";
	if (st->day_key[0] && t >= st->day_lo && t < st->day_hi)
		return st->day_key;
	localtime_r(&t, &tm);
	strftime(st->day_key, sizeof(st->day_key), "%Y-%m-%d", &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	st->day_lo = mktime(&tm);
	tm.tm_mday++;
	tm.tm_isdst = -1;
	st->day_hi = mktime(&tm);
	return st->day_key;
}

/* The program of a record: the first word of command[0], without its directory. */
static void program_of(const struct sfc_audit_rec *r, char *out, size_t size)
{
	char buf[1024], *p, *sl;
	size_t n;

	span_str(&r->cmd0, buf, sizeof(buf), "-");
	p = buf + strspn(buf, " \t");
	n = strcspn(p, " \t");
	p[n] = 0;
	if ((sl = strrchr(p, '/')) && sl[1])
		p = sl + 1;
	snprintf(out, size, "%s", *p ? p : "-");
}

static int status_of(const struct sfc_audit_rec *r)
{
	if (r->has_status)
		return r->status;
	if (r->timed_out)
		return 124;
	if (r->signal)
		return 128 + r->signal;
	if (r->has_exit_code)
		return r->exit_code;
	return -1; /* no result recorded */
}

static void recent_free(struct recent *x)
{
	free(x->applet);
	free(x->command);
	free(x->kind);
	free(x->detail);
	free(x->action);
	free(x->suggestion);
	memset(x, 0, sizeof(*x));
}

static struct recent *ring_next(struct stats *st)
{
	struct recent *x = &st->ring[st->ring_n++ % st->limit];
	recent_free(x);
	return x;
}

static void violation_detail(const struct sfc_span *raw, char *out, size_t size)
{
	static const char *const keys[] = { "detail", "attempted_host", "syscall", "path", "command", "host", NULL };
	for (const char *const *k = keys; *k; k++)
		if (sfc_json_object_get(raw, *k, out, size))
			return;
	snprintf(out, size, "-");
}

static int on_record(const struct sfc_audit_rec *r, void *data)
{
	struct stats *st = data;
	char key[1024], cmd[4096];
	bool blocked = false, failed;
	int status;
	bool have_cmd = false;

	if ((st->since >= 0 && (r->ts < 0 || r->ts < st->since)) || (st->until >= 0 && (r->ts < 0 || r->ts >= st->until)))
		goto out;
	status = status_of(r);
	failed = status != 0;
	if (st->failed_only && !failed)
		goto out;
	if (st->violations && !r->nviol)
		goto out;
	if (st->glob) {
		char prog[256];
		sfc_audit_command_string(r, cmd, sizeof(cmd));
		have_cmd = true;
		program_of(r, prog, sizeof(prog));
		if (fnmatch(st->glob, cmd, 0) && fnmatch(st->glob, prog, 0)) {
			char c0[1024];
			span_str(&r->cmd0, c0, sizeof(c0), "");
			if (fnmatch(st->glob, c0, 0))
				goto out;
		}
	}
	for (uint32_t i = 0; i < r->nviol && i < SFC_AUDIT_MAX_VIOL; i++) {
		char kind[128];
		span_str(&r->viol[i].kind, kind, sizeof(kind), "unknown");
		if (!strcmp(kind, "blocked_command") || !strcmp(kind, "command_blocked"))
			blocked = true;
		/* kinds are few; a log with thousands is not worth more memory */
		if (st->kinds.n < 1000 || table_get(&st->kinds, kind)->runs)
			table_get(&st->kinds, kind)->runs++;
		else
			table_get(&st->kinds, "other")->runs++;
	}
	if (r->nviol > SFC_AUDIT_MAX_VIOL)
		table_get(&st->kinds, "other")->runs += r->nviol - SFC_AUDIT_MAX_VIOL;
	agg_add(&st->total, r, failed, blocked);
	if (r->ts >= 0) {
		struct agg *d = table_get(&st->days, day_of(st, r->ts));
		d->runs++;
		d->failed += failed;
	}
	if (st->by != BY_NONE) {
		switch (st->by) {
		case BY_COMMAND: program_of(r, key, sizeof(key)); break;
		case BY_PRESET: span_str(&r->preset, key, sizeof(key), "-"); break;
		case BY_POLICY: span_str(&r->policy, key, sizeof(key), "-"); break;
		case BY_LEVEL: span_str(&r->level, key, sizeof(key), "-"); break;
		case BY_APPLET: span_str(&r->applet, key, sizeof(key), "-"); break;
		case BY_IMAGE: span_str(&r->image, key, sizeof(key), "-"); break;
		case BY_DAY: snprintf(key, sizeof(key), "%s", day_of(st, r->ts)); break;
		default: key[0] = 0; break;
		}
		agg_add(table_get(&st->groups, key), r, failed, blocked);
	}
	/* the lists: last LIMIT violations, or last LIMIT failed runs */
	if (st->violations || st->failed_only) {
		char applet[64];
		span_str(&r->applet, applet, sizeof(applet), "-");
		if (!have_cmd)
			sfc_audit_command_string(r, cmd, sizeof(cmd));
		if (st->violations) {
			for (uint32_t i = 0; i < r->nviol && i < SFC_AUDIT_MAX_VIOL; i++) {
				struct recent *x = ring_next(st);
				char buf[1024];
				x->ts = r->ts;
				x->applet = sfc_xstrdup(applet);
				x->command = sfc_xstrdup(cmd);
				span_str(&r->viol[i].kind, buf, sizeof(buf), "unknown");
				x->kind = sfc_xstrdup(buf);
				violation_detail(&r->viol[i].raw, buf, sizeof(buf));
				x->detail = sfc_xstrdup(buf);
				if (!sfc_json_object_get(&r->viol[i].raw, "action", buf, sizeof(buf)))
					snprintf(buf, sizeof(buf), "-");
				x->action = sfc_xstrdup(buf);
				if (!sfc_json_object_get(&r->viol[i].raw, "suggestion", buf, sizeof(buf)))
					buf[0] = 0;
				x->suggestion = sfc_xstrdup(buf);
			}
		} else {
			struct recent *x = ring_next(st);
			x->ts = r->ts;
			x->applet = sfc_xstrdup(applet);
			x->command = sfc_xstrdup(cmd);
			x->status = status;
			x->duration = r->duration;
			x->kind = sfc_xstrdup(r->timed_out ? "timeout" : r->oom_killed ? "oom" : blocked ? "blocked" : "");
		}
	}
	return 0;
out:
	st->filtered_out++;
	return 0;
}

static void on_warn(const char *file, uint64_t lineno, const char *why, void *data)
{
	struct stats *st = data;

	if (st->quiet)
		return;
	if (++st->warnings <= 10) {
		if (lineno)
			sfc_msg("warning: %s:%llu: %s; line skipped", file, (unsigned long long)lineno, why);
		else
			sfc_msg("warning: %s", why);
	} else if (st->warnings == 11) {
		sfc_msg("warning: more lines skipped; the totals below count them");
	}
}

/* ---------------------------------------------------------------- output */

static bool utf8_out(void)
{
	const char *v = getenv("LC_ALL");
	if (!v || !*v)
		v = getenv("LC_CTYPE");
	if (!v || !*v)
		v = getenv("LANG");
	return v && (strstr(v, "UTF-8") || strstr(v, "utf8") || strstr(v, "UTF8") || strstr(v, "utf-8"));
}

/* A bar of WIDTH cells for FRAC in [0,1], eighths in UTF-8, '#' otherwise. */
static void bar(char *out, size_t size, double frac, int width)
{
	static const char *const eighths[] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
	int units = (int)(frac * width * 8 + 0.5);
	size_t o = 0;

	out[0] = 0;
	if (frac > 0 && units == 0)
		units = 1;
	if (!utf8_out()) {
		for (int i = 0; i < (units + 4) / 8 && o + 1 < size; i++)
			out[o++] = '#';
		out[o] = 0;
		return;
	}
	for (int i = 0; i < units / 8 && o + 4 < size; i++) {
		memcpy(out + o, "█", 3);
		o += 3;
	}
	if (units % 8 && o + 4 < size) {
		memcpy(out + o, eighths[units % 8], 3);
		o += 3;
	}
	out[o] = 0;
}

static int display_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void spark(char *out, size_t size, const uint64_t *v, int n)
{
	static const char *const lv[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char asc[] = "_.-=+*#@";
	uint64_t max = 0;
	size_t o = 0;
	bool u = utf8_out();

	for (int i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	for (int i = 0; i < n && o + 4 < size; i++) {
		int k = max ? (int)((v[i] * 7 + max - 1) / max) : 0;
		if (v[i] == 0) {
			out[o++] = u ? ' ' : ' ';
			continue;
		}
		if (u) {
			memcpy(out + o, lv[k], 3);
			o += 3;
		} else {
			out[o++] = asc[k];
		}
	}
	out[o] = 0;
}

static void fmt_secs(double s, char *buf, size_t size)
{
	if (s < 0)
		snprintf(buf, size, "-");
	else if (s < 1)
		snprintf(buf, size, "%.0fms", s * 1000);
	else if (s < 60)
		snprintf(buf, size, "%.2fs", s);
	else if (s < 3600)
		snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
	else if (s < 86400 * 2)
		snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	else
		snprintf(buf, size, "%.1fd", s / 86400);
}

static void fmt_bytes(double b, char *buf, size_t size)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	if (b < 0) {
		snprintf(buf, size, "-");
		return;
	}
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void fmt_time(double ts, char *buf, size_t size)
{
	time_t t = (time_t)ts;
	struct tm tm;
	if (ts < 0) {
		snprintf(buf, size, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void json_num(struct sfc_buf *b, double v)
{
	if (v < 0 || v != v || v > 1e300)
		sfc_buf_add(b, "null", 4);
	else if (v < 9e15 && v == (double)(int64_t)v)
		sfc_buf_addf(b, "%.0f", v);
	else
		sfc_buf_addf(b, "%.15g", v);
}

static void json_agg(struct sfc_buf *b, struct agg *a)
{
	char ts[40];

	sfc_buf_addf(b,
		     "\"runs\":%llu,\"succeeded\":%llu,\"failed\":%llu,\"timeouts\":%llu,\"oom_kills\":%llu,"
		     "\"blocked\":%llu,\"violations\":%llu,\"runs_with_violations\":%llu,",
		     (unsigned long long)a->runs, (unsigned long long)a->ok, (unsigned long long)a->failed,
		     (unsigned long long)a->timeouts, (unsigned long long)a->oom, (unsigned long long)a->blocked,
		     (unsigned long long)a->viol, (unsigned long long)a->viol_runs);
	sfc_buf_addf(b, "\"failure_rate\":");
	json_num(b, a->runs ? (double)a->failed / (double)a->runs : -1);
	sfc_buf_add(b, ",\"first\":", 9);
	if (a->first > 0) {
		sfc_format_iso8601(a->first, ts, sizeof(ts));
		sfc_buf_json_str(b, ts);
	} else {
		sfc_buf_add(b, "null", 4);
	}
	sfc_buf_add(b, ",\"last\":", 8);
	if (a->last > 0) {
		sfc_format_iso8601(a->last, ts, sizeof(ts));
		sfc_buf_json_str(b, ts);
	} else {
		sfc_buf_add(b, "null", 4);
	}
	sfc_buf_addf(b, ",\"duration\":{\"count\":%llu,\"p50\":", (unsigned long long)a->dur.count);
	json_num(b, dist_pct(&a->dur, 50));
	sfc_buf_add(b, ",\"p95\":", 7);
	json_num(b, dist_pct(&a->dur, 95));
	sfc_buf_add(b, ",\"max\":", 7);
	json_num(b, a->dur.count ? a->dur.max : -1);
	sfc_buf_add(b, ",\"total\":", 9);
	json_num(b, a->dur.count ? a->dur.sum : -1);
	sfc_buf_addf(b, ",\"exact\":%s},\"max_memory\":", a->dur.hist ? "false" : "true");
	json_num(b, a->has_mem ? a->mem_max : -1);
	sfc_buf_add(b, ",\"cpu_time\":", 12);
	json_num(b, a->has_cpu ? a->cpu_sum : -1);
}

static int cmp_groups(const void *x, const void *y, void *by)
{
	const struct agg *a = x, *b = y;
	if (*(enum by *)by == BY_DAY)
		return strcmp(a->key, b->key);
	if (a->runs != b->runs)
		return a->runs > b->runs ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* qsort_r is not in every libc the same way: a file-scope key will do. */
static enum by sort_by;
static int cmp_groups_q(const void *x, const void *y)
{
	return cmp_groups(x, y, &sort_by);
}

static size_t sorted(struct table *t, enum by by, struct agg **out)
{
	size_t n = 0;
	*out = sfc_xcalloc(t->n ? t->n : 1, sizeof(struct agg));
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].key)
			(*out)[n++] = t->v[i];
	sort_by = by;
	qsort(*out, n, sizeof(struct agg), cmp_groups_q);
	return n;
}

static int cmp_kinds(const void *x, const void *y)
{
	const struct agg *a = x, *b = y;
	if (a->runs != b->runs)
		return a->runs > b->runs ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void print_json(struct stats *st, const struct sfc_auditlog_counts *n, const struct sfc_strv *files)
{
	struct sfc_buf b = { 0 };
	struct agg *g = NULL, *k = NULL;
	size_t ng, nk;
	char ts[40];

	sfc_buf_add(&b, "{\"source\":{\"files\":[", 20);
	for (size_t i = 0; i < files->n; i++) {
		if (i)
			sfc_buf_add(&b, ",", 1);
		sfc_buf_json_str(&b, files->v[i]);
	}
	sfc_buf_addf(&b,
		     "],\"bytes\":%llu,\"lines\":%llu,\"records\":%llu,\"corrupt\":%llu,\"truncated\":%llu,"
		     "\"unreadable_files\":%llu,\"filtered_out\":%llu},",
		     (unsigned long long)n->bytes, (unsigned long long)n->lines, (unsigned long long)n->records,
		     (unsigned long long)n->corrupt, (unsigned long long)n->truncated,
		     (unsigned long long)n->skipped_files, (unsigned long long)st->filtered_out);
	sfc_buf_add(&b, "\"filter\":{\"since\":", 18);
	if (st->since >= 0) {
		sfc_format_iso8601(st->since, ts, sizeof(ts));
		sfc_buf_json_str(&b, ts);
	} else {
		sfc_buf_add(&b, "null", 4);
	}
	sfc_buf_add(&b, ",\"until\":", 9);
	if (st->until >= 0) {
		sfc_format_iso8601(st->until, ts, sizeof(ts));
		sfc_buf_json_str(&b, ts);
	} else {
		sfc_buf_add(&b, "null", 4);
	}
	sfc_buf_addf(&b, ",\"failed\":%s,\"violations\":%s,\"command\":", st->failed_only ? "true" : "false",
		     st->violations ? "true" : "false");
	if (st->glob)
		sfc_buf_json_str(&b, st->glob);
	else
		sfc_buf_add(&b, "null", 4);
	sfc_buf_add(&b, "},\"totals\":{", 12);
	json_agg(&b, &st->total);
	sfc_buf_add(&b, "},\"violations_by_kind\":{", 24);
	nk = sorted(&st->kinds, BY_NONE, &k);
	qsort(k, nk, sizeof(*k), cmp_kinds);
	for (size_t i = 0; i < nk; i++) {
		if (i)
			sfc_buf_add(&b, ",", 1);
		sfc_buf_json_str(&b, k[i].key);
		sfc_buf_addf(&b, ":%llu", (unsigned long long)k[i].runs);
	}
	sfc_buf_add(&b, "}", 1);
	if (st->by != BY_NONE) {
		sfc_buf_add(&b, ",\"by\":", 6);
		sfc_buf_json_str(&b, by_names[st->by]);
		sfc_buf_add(&b, ",\"groups\":[", 11);
		ng = sorted(&st->groups, st->by, &g);
		for (size_t i = 0; i < ng; i++) {
			sfc_buf_add(&b, i ? ",{\"key\":" : "{\"key\":", i ? 8 : 7);
			sfc_buf_json_str(&b, g[i].key);
			sfc_buf_add(&b, ",", 1);
			json_agg(&b, &g[i]);
			sfc_buf_add(&b, "}", 1);
		}
		sfc_buf_add(&b, "]", 1);
	}
	if (st->violations || st->failed_only) {
		uint64_t from = st->ring_n > st->limit ? st->ring_n - st->limit : 0;
		sfc_buf_add(&b, st->violations ? ",\"recent_violations\":[" : ",\"recent_failures\":[",
			    st->violations ? 22 : 20);
		for (uint64_t i = from; i < st->ring_n; i++) {
			struct recent *x = &st->ring[i % st->limit];
			sfc_buf_add(&b, i > from ? ",{\"timestamp\":" : "{\"timestamp\":", i > from ? 14 : 13);
			if (x->ts >= 0) {
				sfc_format_iso8601(x->ts, ts, sizeof(ts));
				sfc_buf_json_str(&b, ts);
			} else {
				sfc_buf_add(&b, "null", 4);
			}
			sfc_buf_add(&b, ",\"applet\":", 10);
			sfc_buf_json_str(&b, x->applet);
			sfc_buf_add(&b, ",\"command\":", 11);
			sfc_buf_json_str(&b, x->command);
			if (st->violations) {
				sfc_buf_add(&b, ",\"violation\":", 13);
				sfc_buf_json_str(&b, x->kind);
				sfc_buf_add(&b, ",\"detail\":", 10);
				sfc_buf_json_str(&b, x->detail);
				sfc_buf_add(&b, ",\"action\":", 10);
				sfc_buf_json_str(&b, x->action);
				sfc_buf_add(&b, ",\"suggestion\":", 14);
				sfc_buf_json_str(&b, x->suggestion);
			} else {
				sfc_buf_addf(&b, ",\"status\":%d,\"duration\":", x->status);
				json_num(&b, x->duration);
				sfc_buf_add(&b, ",\"reason\":", 10);
				sfc_buf_json_str(&b, x->kind);
			}
			sfc_buf_add(&b, "}", 1);
		}
		sfc_buf_add(&b, "]", 1);
	}
	sfc_buf_add(&b, "}\n", 2);
	fwrite(b.p, 1, b.n, stdout);
	sfc_buf_free(&b);
	free(g);
	free(k);
}

static void pct(char *buf, size_t size, uint64_t a, uint64_t total)
{
	if (!total)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%%", 100.0 * (double)a / (double)total);
}

static void print_table(struct stats *st, const struct sfc_auditlog_counts *n, const struct sfc_strv *files,
			const char *logpath)
{
	struct agg *a = &st->total, *k = NULL, *g = NULL;
	char b1[64], b2[64], b3[64], b4[64], barbuf[256];
	size_t nk, ng;
	double span;

	printf("Audit log  %s", logpath);
	if (files->n > 1)
		printf(" (+%zu rotation%s)", files->n - 1, files->n > 2 ? "s" : "");
	printf("\nRecords    %llu", (unsigned long long)n->records);
	if (n->corrupt || n->truncated)
		printf(", %llu corrupt and %llu truncated lines skipped", (unsigned long long)n->corrupt,
		       (unsigned long long)n->truncated);
	if (n->skipped_files)
		printf(", %llu unreadable file%s", (unsigned long long)n->skipped_files, n->skipped_files > 1 ? "s" : "");
	if (st->filtered_out)
		printf(", %llu not matching the filters", (unsigned long long)st->filtered_out);
	printf("\n");
	if (!a->runs) {
		printf("\nNo runs%s.\n", st->filtered_out ? " match" : " recorded");
		return;
	}
	fmt_time(a->first, b1, sizeof(b1));
	fmt_time(a->last, b2, sizeof(b2));
	span = a->last - a->first;
	printf("Period     %s .. %s", b1, b2);
	if (span > 0) {
		fmt_secs(span, b3, sizeof(b3));
		printf(" (%s)", b3);
	}
	printf("\n\n");

	if (st->by == BY_NONE) {
		double per_day = span >= 3600 ? (double)a->runs / (span / 86400) : -1;
		printf("Runs        %8llu", (unsigned long long)a->runs);
		if (per_day >= 0)
			printf("   %.1f/day", per_day);
		printf("\n");
		pct(b1, sizeof(b1), a->ok, a->runs);
		bar(barbuf, sizeof(barbuf), (double)a->ok / (double)a->runs, 30);
		printf("Succeeded   %8llu  %6s  %s\n", (unsigned long long)a->ok, b1, barbuf);
		pct(b1, sizeof(b1), a->failed, a->runs);
		bar(barbuf, sizeof(barbuf), (double)a->failed / (double)a->runs, 30);
		printf("Failed      %8llu  %6s  %s\n", (unsigned long long)a->failed, b1, barbuf);
		pct(b1, sizeof(b1), a->timeouts, a->runs);
		printf("Timeouts    %8llu  %6s\n", (unsigned long long)a->timeouts, b1);
		pct(b1, sizeof(b1), a->oom, a->runs);
		printf("OOM kills   %8llu  %6s\n", (unsigned long long)a->oom, b1);
		pct(b1, sizeof(b1), a->blocked, a->runs);
		printf("Blocked     %8llu  %6s\n", (unsigned long long)a->blocked, b1);
		printf("Violations  %8llu  in %llu run%s\n", (unsigned long long)a->viol, (unsigned long long)a->viol_runs,
		       a->viol_runs == 1 ? "" : "s");
		nk = sorted(&st->kinds, BY_NONE, &k);
		qsort(k, nk, sizeof(*k), cmp_kinds);
		for (size_t i = 0; i < nk && i < 10; i++) {
			char kb[48];
			snprintf(kb, sizeof(kb), "%s", k[i].key);
			sanitize(kb);
			bar(barbuf, sizeof(barbuf), (double)k[i].runs / (double)k[0].runs, 20);
			printf("  %-30s %6llu  %s\n", kb, (unsigned long long)k[i].runs, barbuf);
		}
		printf("\n");
		fmt_secs(dist_pct(&a->dur, 50), b1, sizeof(b1));
		fmt_secs(dist_pct(&a->dur, 95), b2, sizeof(b2));
		fmt_secs(a->dur.count ? a->dur.max : -1, b3, sizeof(b3));
		fmt_secs(a->dur.count ? a->dur.sum : -1, b4, sizeof(b4));
		printf("Duration    p50 %-8s p95 %-8s max %-8s total %s%s\n", b1, b2, b3, b4,
		       a->dur.hist ? "  (percentiles within 2%)" : "");
		fmt_bytes(a->has_mem ? a->mem_max : -1, b1, sizeof(b1));
		printf("Memory      peak %s\n", b1);
		fmt_secs(a->has_cpu ? a->cpu_sum : -1, b1, sizeof(b1));
		fmt_secs(a->has_cpu ? a->cpu_sum / (double)a->runs : -1, b2, sizeof(b2));
		printf("CPU time    total %s, mean %s a run\n", b1, b2);
		/* runs per day over the last (up to) 30 days of the period */
		if (st->days.n > 1) {
			uint64_t v[30] = { 0 }, f[30] = { 0 };
			int nd = 0;
			time_t t = (time_t)a->last;
			for (nd = 0; nd < 30; nd++) {
				struct tm tm;
				char key[16];
				struct agg *d;
				time_t day = t - (time_t)nd * 86400;
				if ((double)day < a->first - 86400)
					break;
				localtime_r(&day, &tm);
				strftime(key, sizeof(key), "%Y-%m-%d", &tm);
				d = table_get(&st->days, key);
				v[29 - nd] = d->runs;
				f[29 - nd] = d->failed;
			}
			spark(barbuf, sizeof(barbuf), v + 30 - nd, nd);
			{ uint64_t mx = 0; for (int q = 0; q < 30; q++) if (v[q] > mx) mx = v[q]; printf("Runs/day    %s  (last %d days, max %llu)\n", barbuf, nd, (unsigned long long)mx); }
			spark(barbuf, sizeof(barbuf), f + 30 - nd, nd);
			printf("Failed/day  %s\n", barbuf);
		}
	} else {
		int w = (int)strlen(by_names[st->by]);
		uint64_t maxruns = 0;
		ng = sorted(&st->groups, st->by, &g);
		for (size_t i = 0; i < ng; i++) {
			int kw;
			sanitize(g[i].key);
			kw = display_width(g[i].key);
			if (kw > w)
				w = kw;
			if (g[i].runs > maxruns)
				maxruns = g[i].runs;
		}
		if (w > 40)
			w = 40;
		{
			char up[32];
			size_t j;
			for (j = 0; by_names[st->by][j] && j + 1 < sizeof(up); j++)
				up[j] = (char)(by_names[st->by][j] - 32);
			up[j] = 0;
			printf("%-*s  %8s %-12s %6s %5s %4s %5s %5s %8s %8s %8s %10s %8s\n", w, up, "RUNS", "", "FAIL%",
			       "TMOUT", "OOM", "BLOCK", "VIOL", "P50", "P95", "MAX", "PEAK MEM", "CPU");
		}
		for (size_t i = 0; i < ng; i++) {
			struct agg *x = &g[i];
			char key[256], p50[16], p95[16], mx[16], mem[24], cpu[16], fr[16];
			int kw;
			snprintf(key, sizeof(key), "%s", x->key);
			kw = display_width(key);
			bar(barbuf, sizeof(barbuf), (double)x->runs / (double)maxruns, 12);
			pct(fr, sizeof(fr), x->failed, x->runs);
			fmt_secs(dist_pct(&x->dur, 50), p50, sizeof(p50));
			fmt_secs(dist_pct(&x->dur, 95), p95, sizeof(p95));
			fmt_secs(x->dur.count ? x->dur.max : -1, mx, sizeof(mx));
			fmt_bytes(x->has_mem ? x->mem_max : -1, mem, sizeof(mem));
			fmt_secs(x->has_cpu ? x->cpu_sum : -1, cpu, sizeof(cpu));
			printf("%s%*s  %8llu %s%*s %6s %5llu %4llu %5llu %5llu %8s %8s %8s %10s %8s\n", key,
			       kw < w ? w - kw : 0, "", (unsigned long long)x->runs, barbuf, 12 - display_width(barbuf), "",
			       fr, (unsigned long long)x->timeouts, (unsigned long long)x->oom,
			       (unsigned long long)x->blocked, (unsigned long long)x->viol, p50, p95, mx, mem, cpu);
		}
		printf("%-*s  %8llu\n", w, "total", (unsigned long long)a->runs);
	}

	if (st->violations || st->failed_only) {
		uint64_t from = st->ring_n > st->limit ? st->ring_n - st->limit : 0;
		printf("\n%s (last %llu of %llu):\n", st->violations ? "Recent violations" : "Recent failures",
		       (unsigned long long)(st->ring_n - from), (unsigned long long)st->ring_n);
		for (uint64_t i = from; i < st->ring_n; i++) {
			struct recent *x = &st->ring[i % st->limit];
			char when[32], cmd[72];
			fmt_time(x->ts, when, sizeof(when));
			snprintf(cmd, sizeof(cmd), "%s", x->command);
			sanitize(cmd);
			if (st->violations) {
				char kind[64], detail[128], action[32];
				snprintf(kind, sizeof(kind), "%s", x->kind);
				snprintf(detail, sizeof(detail), "%s", x->detail);
				snprintf(action, sizeof(action), "%s", x->action);
				sanitize(kind);
				sanitize(detail);
				sanitize(action);
				printf("  %s  %-24s %-8s %-28s %s\n", when, kind, action, detail, cmd);
			} else {
				char d[16], why[32];
				fmt_secs(x->duration, d, sizeof(d));
				snprintf(why, sizeof(why), "%s", x->kind);
				printf("  %s  status %-3d %-8s %-8s %s\n", when, x->status, d, why, cmd);
			}
		}
	}
	free(k);
	free(g);
}

/* "24h", "7d", "90m": back from now; else a date. */
static double parse_when(const char *s, const char *opt)
{
	uint64_t ms;
	struct sfc_error e;
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	double t;

	if (s[0] >= '0' && s[0] <= '9' && !strchr(s, '-') && sfc_parse_duration(s, &ms, &e) == 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		return (double)now.tv_sec + now.tv_nsec / 1e9 - (double)ms / 1000.0;
	}
	if (!strcmp(s, "now"))
		return (double)time(NULL);
	if ((t = sfc_parse_iso8601(s, strlen(s))) >= 0 && (strchr(s, 'Z') || strchr(s + 10, '+') || strchr(s + 10, '-')))
		return t;
	/* local time: DATE, DATE HH:MM, DATE HH:MM:SS (T or blank) */
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && (!s[n] || ((s[n] == ' ' || s[n] == 'T') &&
			(sscanf(s + n + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) == 3 ||
			 (sec = 0, sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &n) == 2))))) {
		if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
			goto bad;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		tm.tm_isdst = -1;
		return (double)mktime(&tm);
	}
bad:
	sfc_usage_error("%s: bad time '%s' (a duration such as 24h or 7d, or a date such as 2026-11-22)", opt, s);
}

/* ---------------------------------------------------------------- live */

struct live_row {
	struct sfc_reg_entry en;
	struct sfc_usage u0, u1;
	bool have0;
};

struct live {
	struct live_row *rows;
	size_t n, cap;
	unsigned stale;
};

static int live_collect(const struct sfc_reg_entry *en, bool live, void *data)
{
	struct live *l = data;

	if (!live) {
		l->stale++;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->rows = sfc_xrealloc(l->rows, l->cap * sizeof(*l->rows));
	}
	memset(&l->rows[l->n], 0, sizeof(l->rows[0]));
	l->rows[l->n++].en = *en;
	return 0;
}

static void live_sample(struct live *l)
{
	struct sfc_proc_snap snap;
	struct sfc_error e = { 0 };

	sfc_proc_snapshot(&snap, &e);
	for (size_t i = 0; i < l->n; i++)
		sfc_usage_of(&l->rows[i].en, &snap, &l->rows[i].u1);
	sfc_proc_snapshot_free(&snap);
}

static int live_main(bool stream, double interval, long count, bool json)
{
	struct sfc_error e = { 0 };
	_cleanup_free_ char *dir = sfc_registry_dir(&e);
	struct live prev = { 0 };
	bool tty = isatty(1);

	if (!dir)
		sfc_die(1, "%s", e.msg);
	if (!ENABLE_FEATURE_REGISTRY && !json)
		sfc_msg("note: this build does not register sandboxes (FEATURE_REGISTRY is off): only sandboxes "
			"started by another build are listed");
	for (long iter = 0;; iter++) {
		struct live cur = { 0 };
		struct timespec now, bt;
		double wall, dt;
		struct sfc_buf b = { 0 };

		if (sfc_registry_scan(dir, live_collect, &cur, &e) < 0)
			sfc_die(1, "%s", e.msg);
		live_sample(&cur);
		clock_gettime(CLOCK_REALTIME, &now);
		clock_gettime(CLOCK_BOOTTIME, &bt);
		wall = (double)now.tv_sec + now.tv_nsec / 1e9;
		/* CPU % needs two samples: the previous refresh, or a short first wait */
		if (iter == 0) {
			struct timespec ts = { 0, 0 };
			double first = interval < 0.5 ? interval : 0.5;
			prev = cur;
			prev.rows = sfc_xmalloc((cur.n ? cur.n : 1) * sizeof(*cur.rows));
			if (cur.n)
				memcpy(prev.rows, cur.rows, cur.n * sizeof(*cur.rows));
			ts.tv_sec = (time_t)first;
			ts.tv_nsec = (long)((first - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
			free(cur.rows);
			cur = (struct live){ 0 };
			sfc_registry_scan(dir, live_collect, &cur, &e);
			live_sample(&cur);
			dt = first;
			clock_gettime(CLOCK_REALTIME, &now);
			wall = (double)now.tv_sec + now.tv_nsec / 1e9;
		} else {
			dt = interval;
		}
		/* pair with the previous sample of the same supervisor */
		for (size_t i = 0; i < cur.n; i++)
			for (size_t j = 0; j < prev.n; j++)
				if (prev.rows[j].en.pid == cur.rows[i].en.pid &&
				    prev.rows[j].en.boot_ns == cur.rows[i].en.boot_ns) {
					cur.rows[i].u0 = prev.rows[j].u1;
					cur.rows[i].have0 = true;
				}
		if (json) {
			sfc_buf_add(&b, "[", 1);
			for (size_t i = 0; i < cur.n; i++) {
				struct live_row *r = &cur.rows[i];
				double cpu = r->have0 && r->u1.cpu_ns >= r->u0.cpu_ns
						     ? 100.0 * (double)(r->u1.cpu_ns - r->u0.cpu_ns) / 1e9 / dt
						     : -1;
				char ts[40];
				sfc_format_iso8601(r->en.started, ts, sizeof(ts));
				sfc_buf_addf(&b, "%s{\"pid\":%d,\"init_pid\":%d,\"applet\":", i ? "," : "", (int)r->en.pid,
					     (int)r->en.init_pid);
				sfc_buf_json_str(&b, r->en.applet);
				sfc_buf_add(&b, ",\"name\":", 8);
				sfc_buf_json_str(&b, r->en.name);
				sfc_buf_add(&b, ",\"command\":", 11);
				sfc_buf_json_str(&b, r->en.command);
				sfc_buf_add(&b, ",\"started\":", 11);
				sfc_buf_json_str(&b, ts);
				sfc_buf_addf(&b, ",\"uptime\":%.3f,\"cpu_percent\":", wall - r->en.started);
				json_num(&b, cpu);
				sfc_buf_addf(&b, ",\"cpu_time\":%.3f,\"memory\":%llu,\"pids\":%u,\"source\":",
					     (double)r->u1.cpu_ns / 1e9, (unsigned long long)r->u1.mem_bytes, r->u1.pids);
				sfc_buf_json_str(&b, r->u1.source);
				sfc_buf_add(&b, ",\"cgroup\":", 10);
				if (r->u1.cgroup[0])
					sfc_buf_json_str(&b, r->u1.cgroup);
				else
					sfc_buf_add(&b, "null", 4);
				sfc_buf_add(&b, "}", 1);
			}
			sfc_buf_add(&b, "]\n", 2);
		} else {
			if (stream && tty)
				sfc_buf_add(&b, "\033[H\033[J", 6);
			else if (iter)
				sfc_buf_add(&b, "\n", 1);
			sfc_buf_addf(&b, "%zu running sandbox%s", cur.n, cur.n == 1 ? "" : "es");
			if (cur.stale)
				sfc_buf_addf(&b, " (%u stale registration%s: sefaca-clean --state removes %s)", cur.stale,
					     cur.stale == 1 ? "" : "s", cur.stale == 1 ? "it" : "them");
			sfc_buf_addf(&b, "\n%-8s %-10s %6s %10s %5s %9s %-11s %s\n", "PID", "APPLET", "CPU%", "MEM", "PIDS",
				     "UPTIME", "SOURCE", "COMMAND");
			for (size_t i = 0; i < cur.n; i++) {
				struct live_row *r = &cur.rows[i];
				char mem[24], up[16], cpu[16], cmd[128], ap[64];
				if (r->have0 && r->u1.cpu_ns >= r->u0.cpu_ns)
					snprintf(cpu, sizeof(cpu), "%.1f",
						 100.0 * (double)(r->u1.cpu_ns - r->u0.cpu_ns) / 1e9 / dt);
				else
					snprintf(cpu, sizeof(cpu), "-");
				fmt_bytes((double)r->u1.mem_bytes, mem, sizeof(mem));
				fmt_secs(wall - r->en.started, up, sizeof(up));
				snprintf(cmd, sizeof(cmd), "%s", r->en.command);
				sanitize(cmd);
				snprintf(ap, sizeof(ap), "%s%s%s", r->en.applet, r->en.name[0] ? ":" : "", r->en.name);
				sanitize(ap);
				sfc_buf_addf(&b, "%-8d %-10s %6s %10s %5u %9s %-11s %s\n", (int)r->en.pid, ap, cpu, mem,
					     r->u1.pids, up, r->u1.source, cmd);
			}
		}
		fwrite(b.p, 1, b.n, stdout);
		fflush(stdout);
		sfc_buf_free(&b);
		free(prev.rows);
		prev = cur;
		if (!stream || (count > 0 && iter + 1 >= count))
			break;
		{
			struct timespec ts;
			ts.tv_sec = (time_t)interval;
			ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		(void)bt;
	}
	free(prev.rows);
	return 0;
}

/* ---------------------------------------------------------------- main */

int stats_main(int argc, char **argv)
{
	struct stats st = { .since = -1, .until = -1, .limit = 20 };
	struct sfc_auditlog_reader rd = { 0 };
	struct sfc_strv files = { 0 };
	struct sfc_error e = { 0 };
	const char *log = NULL;
	_cleanup_free_ char *logdir = NULL, *logbase = NULL, *dflt = NULL;
	bool live = false, stream = true;
	double interval = 2;
	long count = 0;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = strchr(a, '=');
		size_t kl = v ? (size_t)(v - a) : strlen(a);
#define OPT(name) (kl == strlen(name) && !strncmp(a, name, kl))
#define NEED()                                                                                                         \
	do {                                                                                                           \
		if (!v) {                                                                                              \
			if (i + 1 >= argc)                                                                             \
				sfc_usage_error("option %s needs a value", a);                                         \
			v = argv[++i];                                                                                 \
		} else {                                                                                               \
			v++;                                                                                           \
		}                                                                                                      \
	} while (0)
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(sfc_applet_usage("stats"), stdout);
			return 0;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			st.quiet = true;
		} else if (OPT("--json")) {
			st.json = true;
		} else if (OPT("--failed")) {
			st.failed_only = true;
		} else if (OPT("--violations")) {
			st.violations = true;
		} else if (OPT("--live")) {
			live = true;
		} else if (OPT("--no-stream")) {
			live = true;
			stream = false;
		} else if (OPT("--by")) {
			size_t k;
			NEED();
			for (k = 1; k < SFC_ARRAY_SIZE(by_names); k++)
				if (!strcmp(v, by_names[k]))
					break;
			if (k == SFC_ARRAY_SIZE(by_names))
				sfc_usage_error("--by: unknown key '%s' (command, preset, policy, level, applet, image, day)", v);
			st.by = (enum by)k;
		} else if (OPT("--since")) {
			NEED();
			st.since = parse_when(v, "--since");
		} else if (OPT("--until")) {
			NEED();
			st.until = parse_when(v, "--until");
		} else if (OPT("--command")) {
			NEED();
			st.glob = v;
		} else if (OPT("--log")) {
			NEED();
			log = v;
		} else if (OPT("--limit")) {
			uint64_t n;
			NEED();
			if (sfc_parse_uint(v, 1, 100000, &n, &e) < 0)
				sfc_usage_error("--limit: %s", e.msg);
			st.limit = (unsigned)n;
		} else if (OPT("--count")) {
			uint64_t n;
			NEED();
			if (sfc_parse_uint(v, 1, 1000000000, &n, &e) < 0)
				sfc_usage_error("--count: %s", e.msg);
			count = (long)n;
		} else if (OPT("--interval")) {
			uint64_t ms;
			NEED();
			if (sfc_parse_duration(v, &ms, &e) < 0)
				sfc_usage_error("--interval: %s", e.msg);
			interval = (double)ms / 1000.0;
		} else {
			sfc_usage_error("unknown option %s", a);
		}
#undef OPT
#undef NEED
	}
	if (live)
		return live_main(stream, interval, count, st.json);

	if (!log) {
		const char *env = getenv("SEFACA_AUDIT_LOG");
		if (env && *env && strcmp(env, "none") && strcmp(env, "syslog"))
			log = env;
	}
	if (!log) {
		logdir = sfc_auditlog_dir();
		dflt = sfc_xasprintf("%s/%s", logdir, SFC_AUDITLOG_NAME);
		log = dflt;
	}
	{
		const char *sl = strrchr(log, '/');
		free(logdir);
		logdir = sl ? (sl == log ? sfc_xstrdup("/") : sfc_xstrndup(log, (size_t)(sl - log))) : sfc_xstrdup(".");
		logbase = sfc_xstrdup(sl ? sl + 1 : log);
		if (!*logbase)
			sfc_usage_error("--log: '%s' names a directory, not a log file", log);
	}
	st.ring = sfc_xcalloc(st.limit, sizeof(*st.ring));
	rd.record = on_record;
	rd.warn = on_warn;
	rd.data = &st;
	if (sfc_auditlog_files(logdir, logbase, &files, &e) < 0)
		sfc_die(1, "%s", e.msg);
	for (size_t i = 0; i < files.n; i++) {
		const char *sl = strrchr(files.v[i], '/');
		bool active = !strcmp(sl ? sl + 1 : files.v[i], logbase);
		struct sfc_error fe = { 0 };
		if (sfc_auditlog_read_file(&rd, files.v[i], active, &fe) < 0) {
			if (!st.quiet)
				sfc_msg("warning: %s", fe.msg);
			if (fe.err != ENOTSUP)
				rd.n.skipped_files++;
			status = 1;
		}
	}
	if (!files.n && !st.quiet && !st.json)
		sfc_msg("note: no audit log at %s", log);
	if (rd.n.corrupt + rd.n.truncated > 10 && !st.quiet)
		sfc_msg("warning: %llu corrupt and %llu truncated lines skipped in all", (unsigned long long)rd.n.corrupt,
			(unsigned long long)rd.n.truncated);
	if (st.json)
		print_json(&st, &rd.n, &files);
	else
		print_table(&st, &rd.n, &files, log);
	/* free what the sanitizer's leak check would name */
	for (size_t i = 0; i < st.groups.cap; i++) {
		free(st.groups.v[i].key);
		dist_free(&st.groups.v[i].dur);
	}
	for (size_t i = 0; i < st.kinds.cap; i++)
		free(st.kinds.v[i].key);
	for (size_t i = 0; i < st.days.cap; i++)
		free(st.days.v[i].key);
	free(st.groups.v);
	free(st.kinds.v);
	free(st.days.v);
	dist_free(&st.total.dur);
	for (unsigned i = 0; i < st.limit; i++)
		recent_free(&st.ring[i]);
	free(st.ring);
	sfc_strv_clear(&files);
	return status;
}

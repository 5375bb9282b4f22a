#include "core/blocked.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "autoconf.h"
#include "core/util.h"

#define MAX_DEPTH 4

/* A shell line as words, NULL marking the end of a simple command. */
struct words {
	char **v;
	size_t n, cap;
};

static void push(struct words *w, char *s)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->v = sfc_xrealloc(w->v, w->cap * sizeof(char *));
	}
	w->v[w->n++] = s;
}

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
}

struct buf {
	char *s;
	size_t n, cap;
	bool any; /* a word has started (also an empty '' word) */
};

static void addc(struct buf *b, char c)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->s = sfc_xrealloc(b->s, b->cap);
	}
	b->s[b->n++] = c;
	b->s[b->n] = 0;
	b->any = true;
}

static void end_word(struct buf *b, struct words *w, bool *skip_next)
{
	if (!b->any)
		return;
	if (*skip_next) {
		*skip_next = false; /* a redirection's target */
		free(b->s);
	} else {
		push(w, b->s ? b->s : sfc_xstrdup(""));
	}
	memset(b, 0, sizeof(*b));
}

static void sep(struct buf *b, struct words *w, bool *skip_next)
{
	end_word(b, w, skip_next);
	*skip_next = false;
	if (w->n && w->v[w->n - 1])
		push(w, NULL);
}

/* Split LINE as a shell would into words and simple commands, as far as
 * a parse without expansion can. */
static void tokenize(const char *s, struct words *w)
{
	struct buf b = { 0 };
	bool skip_next = false;

	while (*s) {
		char c = *s;
		if (c == '\'') {
			const char *e = strchr(s + 1, '\'');
			b.any = true;
			for (s++; *s && s != e; s++)
				addc(&b, *s);
			if (*s)
				s++;
			continue;
		}
		if (c == '"') {
			b.any = true;
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1] && strchr("\"\\$`\n", s[1])) {
					s++;
					if (*s != '\n')
						addc(&b, *s);
				} else if ((*s == '$' && s[1] == '(') || *s == '`') {
					/* a command inside the string: parse on from here */
					break;
				} else {
					addc(&b, *s);
				}
			}
			if (*s == '"')
				s++;
			continue;
		}
		if (c == '\\') {
			if (s[1] == '\n') {
				s += 2;
				continue;
			}
			if (s[1])
				addc(&b, s[1]);
			s += s[1] ? 2 : 1;
			continue;
		}
		if (c == '#' && !b.any) {
			while (*s && *s != '\n')
				s++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			end_word(&b, w, &skip_next);
			s++;
			continue;
		}
		if (c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '`') {
			sep(&b, w, &skip_next);
			s++;
			continue;
		}
		if (c == '$' && s[1] == '(') {
			sep(&b, w, &skip_next);
			s += 2;
			continue;
		}
		if (c == '<' || c == '>') {
			/* "2>file", ">>file", "<&3": drop the fd number and the target */
			if (b.any && b.s && strspn(b.s, "0123456789") == b.n) {
				free(b.s);
				memset(&b, 0, sizeof(b));
			}
			end_word(&b, w, &skip_next);
			while (*s == '<' || *s == '>' || *s == '&' || *s == '|')
				s++;
			skip_next = true;
			continue;
		}
		addc(&b, c);
		s++;
	}
	end_word(&b, w, &skip_next);
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static const char *match_word(const struct sfc_list *blocked, const char *word)
{
	for (size_t i = 0; i < blocked->items.n; i++) {
		const char *b = blocked->items.v[i];
		if (strchr(b, '/')) {
			_cleanup_free_ char *n = word[0] == '/' ? sfc_path_normalize(word) : NULL;
			if (n && !strcmp(n, b))
				return b;
		} else if (!strcmp(basename_of(word), b)) {
			return b;
		}
	}
	return NULL;
}

static bool is_assignment(const char *w)
{
	const char *eq = strchr(w, '=');
	if (!eq || eq == w || !(w[0] == '_' || (w[0] >= 'A' && w[0] <= 'Z') || (w[0] >= 'a' && w[0] <= 'z')))
		return false;
	for (const char *p = w; p < eq; p++)
		if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static bool in(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return true;
	return false;
}

static const char *line_match(const struct sfc_list *blocked, const char *line, int depth);

/* The simple command W[0..N): its program, looked for through
 * assignments, reserved words and wrappers. */
static const char *simple_match(const struct sfc_list *blocked, char **w, size_t n, int depth)
{
	static const char *const reserved[] = { "if", "then", "else", "elif", "fi", "do", "done", "while", "until",
						"!", "{", "}", "[[", "]]", "time", "in", "esac", NULL };
	static const char *const shells[] = { "sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "posh", NULL };
	/* programs that run another, and their options that take a separate value */
	static const struct {
		const char *name, *valued;
	} wrappers[] = {
		{ "exec", "a" },     { "command", "" },	  { "builtin", "" }, { "nohup", "" },	  { "setsid", "" },
		{ "env", "uCS" },    { "nice", "n" },	  { "timeout", "sk" }, { "xargs", "IPdELnsa" },
		{ "stdbuf", "ioe" }, { "sudo", "ugpUhCDrtT" }, { "doas", "uC" }, { "time", "fo" }, { "busybox", "" },
	};
	size_t i = 0;

	while (i < n) {
		const char *word = w[i], *m, *base;

		if (is_assignment(word) || in(word, reserved)) {
			i++;
			continue;
		}
		if (!strcmp(word, "for") || !strcmp(word, "case") || !strcmp(word, "select") ||
		    !strcmp(word, "function"))
			return NULL; /* "for x in ...": no program here */
		if ((m = match_word(blocked, word)))
			return m;
		base = basename_of(word);
		if (in(base, shells)) {
			/* sh -c 'line' */
			for (size_t j = i + 1; j < n; j++) {
				if (!strcmp(w[j], "-c") || (w[j][0] == '-' && strchr(w[j], 'c') && w[j][1] != '-')) {
					if (j + 1 < n && depth < MAX_DEPTH)
						return line_match(blocked, w[j + 1], depth + 1);
					break;
				}
				if (w[j][0] != '-')
					break;
			}
			return NULL;
		}
		const char *valued = NULL;
		for (size_t k = 0; k < SFC_ARRAY_SIZE(wrappers); k++)
			if (!strcmp(base, wrappers[k].name))
				valued = wrappers[k].valued;
		if (!valued)
			return NULL;
		/* a wrapper: skip its options (and their values) and, for
		 * timeout, its duration, then look at what it runs */
		i++;
		while (i < n && (w[i][0] == '-' || (!strcmp(base, "env") && is_assignment(w[i])))) {
			if (!strcmp(w[i], "--")) {
				i++;
				break;
			}
			/* "-u NAME" (not "-uNAME") */
			if (w[i][0] == '-' && w[i][1] && w[i][1] != '-' && !w[i][2] && strchr(valued, w[i][1]))
				i++;
			i++;
		}
		if (!strcmp(base, "timeout") && i < n)
			i++;
		if (!strcmp(base, "busybox") && i < n && (m = match_word(blocked, w[i])))
			return m;
	}
	return NULL;
}

static const char *line_match(const struct sfc_list *blocked, const char *line, int depth)
{
	struct words w = { 0 };
	const char *m = NULL;
	size_t start = 0;

	tokenize(line, &w);
	push(&w, NULL);
	for (size_t i = 0; i < w.n && !m; i++) {
		if (w.v[i])
			continue;
		if (i > start)
			m = simple_match(blocked, w.v + start, i - start, depth);
		start = i + 1;
	}
	words_free(&w);
	return m;
}

const char *sfc_blocked_match_line(const struct sfc_list *blocked, const char *line)
{
	if (!ENABLE_FEATURE_POLICY || !blocked->items.n)
		return NULL;
	return line_match(blocked, line, 0);
}

const char *sfc_blocked_match(const struct sfc_list *blocked, char **argv)
{
	size_t n = 0;

	if (!ENABLE_FEATURE_POLICY || !blocked->items.n || !argv || !argv[0])
		return NULL;
	while (argv[n])
		n++;
	if (n == 1)
		return line_match(blocked, argv[0], 0);
	return simple_match(blocked, argv, n, 0);
}

static void hide_file(struct sfc_spec *spec, const char *path)
{
	static const struct sfc_origin o = { SFC_ORIGIN_BUILTIN, "blocked command", 0 };
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (sfc_strv_contains(&spec->hide.items, real))
		return;
	sfc_spec_list_add(&spec->hide, real, &o);
}

void sfc_blocked_hide(struct sfc_spec *spec)
{
	const struct sfc_list *blocked = &spec->blocked_commands;
	const char *path = NULL;
	static const char *const std = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

	if (!ENABLE_FEATURE_POLICY || !blocked->items.n)
		return;
	for (char **e = spec->caller_env; e && *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	for (size_t i = 0; i < blocked->items.n; i++) {
		const char *b = blocked->items.v[i];
		if (strchr(b, '/')) {
			hide_file(spec, b);
			continue;
		}
		for (int pass = 0; pass < 2; pass++) {
			const char *d = pass ? std : path;
			while (d && *d) {
				size_t len = strcspn(d, ":");
				if (len && d[0] == '/') {
					_cleanup_free_ char *f = sfc_xasprintf("%.*s/%s", (int)len, d, b);
					hide_file(spec, f);
				}
				d += len;
				if (*d)
					d++;
			}
		}
	}
}

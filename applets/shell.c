/*
 * sefaca-shell: an interactive sandboxed shell on a pseudo-terminal of its
 * own, and a drop-in `sh` for make's SHELL and for #! lines.
 */
//config:config SEFACA_SHELL
//config:	bool "sefaca-shell: sandboxed shell, and a SHELL for make"
//config:	default y
//config:	help
//config:	  Run $SHELL (or /bin/sh) in a sandbox on a new pseudo-terminal
//config:	  that sefaca relays: job control and window size work, and
//config:	  nothing inside can type into the caller's terminal.  With -c
//config:	  or a script it behaves as sh does, so that make SHELL=... and
//config:	  #!/usr/bin/env sefaca-shell scripts run sandboxed.
//applet:SFC_APPLET(shell, SEFACA_SHELL)
//usage:Usage: sefaca-shell [OPTIONS] [-i]
//usage:   or: sefaca-shell [OPTIONS] [SH-OPTIONS] -c COMMAND [NAME [ARG...]]
//usage:   or: sefaca-shell [OPTIONS] [SH-OPTIONS] SCRIPT [ARG...]
//usage:
//usage:A shell in a sandbox.  Without a command, on a terminal: $SHELL (or
//usage:/bin/sh) on a new pseudo-terminal, with the prompt marked "[sefaca] ".
//usage:With -c or a script: /bin/sh runs it in the sandbox exactly as sh
//usage:would (exit status, standard input and output pass through), so that
//usage:`make SHELL=sefaca-shell` and `#!/usr/bin/env sefaca-shell` work.
//usage:
//usage:Options: every sefaca-run option (--level, --preset, --policy,
//usage:--network, --readonly, --readwrite, --memory, ...; see sefaca-run
//usage:--help), and:
//usage:  --shell=PATH        the shell inside (default: $SHELL when
//usage:                      interactive, /bin/sh for commands); also SEFACA_SHELL
//usage:  --no-prompt-mark    leave the prompt as it is
//usage:  -i                  interactive (needs a terminal)
//usage:  -q, --quiet         no notes on stderr
//usage:
//usage:Make and #! lines pass no options: settings also come from SEFACA_*
//usage:variables (SEFACA_LEVEL, SEFACA_NETWORK, SEFACA_READWRITE, ...).
//usage:Inside a sefaca sandbox (a recipe's recursive make), a command runs in
//usage:a new sandbox next to it, made by that sandbox's supervisor with the
//usage:same settings.
//usage:
//usage:Exit status: the shell's; 125 if the sandbox could not be set up.

#include "applets/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/audit.h"
#include "core/broker.h"
#include "core/env.h"
#include "core/notify.h"
#include "core/pty.h"
#include "core/session.h"
#include "core/util.h"

const char *sfc_applet_usage(const char *name);

#define SFC_SO_PEERPIDFD 77 /* <asm-generic/socket.h>, Linux 6.5 */

struct shell_opts {
	struct sfc_runopts o;
	const char *shell;     /* --shell / SEFACA_SHELL */
	bool no_mark, interactive_flag;
	/* what the sh-style arguments say */
	bool cmd_mode, interactive;
	int first;             /* index of the first sh argument */
	int cmd;               /* index of COMMAND (-c) or SCRIPT, -1 if none */
};

/* ------------------------------------------------------------ reporting */

void sfc_shell_report(const struct sfc_result *res, const char *target, bool quiet)
{
	char where[512] = "";

	if (quiet)
		return;
	if (target && *target)
		snprintf(where, sizeof(where), "target '%s': ", target);
	for (size_t i = 0; i < res->nviolations; i++) {
		const struct sfc_violation *v = &res->violations[i];
		char times[32] = "";
		if (v->count > 1)
			snprintf(times, sizeof(times), " (%u times)", v->count);
		if (!strcmp(v->kind, "write_denied"))
			sfc_msg("%swrite to %s %s%s: %s", where, v->detail, v->action, times, v->suggestion);
		else if (!strcmp(v->kind, "network_access_denied"))
			sfc_msg("%snetwork access to %s %s%s: %s", where, v->detail, v->action, times, v->suggestion);
		else
			sfc_msg("%sviolation: %s %s (%s%s)%s%s", where, v->kind, v->detail, v->action, times,
				v->suggestion[0] ? ": " : "", v->suggestion);
	}
	if (res->violations_dropped)
		sfc_msg("%s%zu more kinds of violation not listed", where, res->violations_dropped);
}

/* ------------------------------------------------------- make's .ONESHELL */

/* Called by make?  MAKELEVEL is in make's recipes' environment, and our
 * parent is make itself (not a script some recipe ran). */
static bool called_by_make(void)
{
	char path[64], comm[32];
	ssize_t n;

	if (!getenv("MAKELEVEL"))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)getppid());
	if ((n = sfc_read_file_at(AT_FDCWD, path, comm, sizeof(comm))) <= 0)
		return false;
	return !strncmp(comm, "make", 4) || !strncmp(comm, "gmake", 5);
}

/* With .ONESHELL, make hands a POSIX shell the whole recipe as one
 * command after removing the @, - and + prefixes of its lines; to a shell
 * of another name (sefaca-shell) it hands them over as they are.  We are
 * a POSIX shell: remove them as make does for one.  Without .ONESHELL a
 * command from make never holds an unescaped newline (make splits the
 * recipe there), so this changes nothing else. */
static void strip_oneshell_prefixes(char *cmd)
{
	const char *f = cmd;
	char *t = cmd;
	bool multi = false;

	for (const char *p = cmd; *p; p++)
		if (*p == '\n') {
			size_t bs = 0;
			while (p - bs > cmd && p[-1 - (long)bs] == '\\')
				bs++;
			if (!(bs & 1))
				multi = true;
		}
	if (!multi)
		return;
	while (*f) {
		bool esc = false;
		while (*f == ' ' || *f == '\t' || *f == '-' || *f == '@' || *f == '+')
			f++;
		while (*f) {
			*t++ = *f++;
			if (f[-1] == '\\') {
				esc = !esc;
			} else {
				if (f[-1] == '\n' && !esc)
					break;
				esc = false;
			}
		}
	}
	*t = 0;
}

/* ------------------------------------------------------------- options */

/* sh's own options, so that the mode is known: -c, -i, -s, -o NAME. */
static void scan_sh_args(struct shell_opts *so, int argc, char **argv)
{
	int i = so->first;
	bool stdin_mode = false;

	so->cmd = -1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--") || !strcmp(a, "-")) {
			i++;
			break;
		}
		if ((a[0] != '-' && a[0] != '+') || !a[1])
			break;
		if (a[1] == '-')
			continue; /* a long option of the shell's own (bash --norc) */
		for (const char *c = a + 1; *c; c++) {
			if (a[0] == '-' && *c == 'c')
				so->cmd_mode = true;
			if (a[0] == '-' && *c == 'i')
				so->interactive_flag = true;
			if (a[0] == '-' && *c == 's')
				stdin_mode = true;
			/* -o NAME (-euo pipefail), and bash's -O NAME, take the next word */
			if ((*c == 'o' || *c == 'O') && i + 1 < argc)
				i++;
		}
	}
	if (i < argc && !stdin_mode)
		so->cmd = i;
	if (so->cmd_mode && so->cmd < 0) {
		sfc_msg("-c requires an argument");
		exit(2);
	}
	/* sh is interactive when told, or when it reads commands from a
	 * terminal with stderr on one too */
	so->interactive = so->cmd < 0 && (so->interactive_flag || (isatty(0) && isatty(2)));
}

static void parse(struct shell_opts *so, int argc, char **argv)
{
	int i = 1;

	for (;;) {
		int start = i;
		sfc_runopts_parse(&so->o, argc, argv, &i, true);
		if (i > start && !strcmp(argv[i - 1], "--"))
			break; /* "--" ends the options; what follows is sh's */
		if (i < argc && !strcmp(argv[i], "--no-prompt-mark")) {
			so->no_mark = true;
			i++;
		} else if (i < argc && !strncmp(argv[i], "--shell=", 8) && argv[i][8]) {
			so->shell = argv[i] + 8;
			i++;
		} else if (i < argc && !strcmp(argv[i], "--shell") && i + 1 < argc) {
			so->shell = argv[i + 1];
			i += 2;
		} else if (i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]) {
			sfc_usage_error("unknown option %s", argv[i]);
		} else {
			break;
		}
	}
	so->first = i;
	if (!so->shell) {
		const char *s = getenv("SEFACA_SHELL");
		if (s && *s)
			so->shell = s;
	}
}

/* The payload's argv: the shell, then sh's arguments as they were given. */
static char **payload_argv(const char *sh, int argc, char **argv, int first)
{
	char **v = sfc_xcalloc(argc - first + 2, sizeof(char *));
	int n = 0;

	v[n++] = (char *)sh;
	for (int i = first; i < argc; i++)
		v[n++] = argv[i];
	return v;
}

/* -------------------------------------------------------- the prompt mark */

struct mark {
	char *dir;             /* host directory with the rc files, granted read-only */
	struct sfc_strv env;   /* NAME=VALUE set in the payload's environment */
	char **argv;           /* the shell's argv */
	char *rcfile;          /* an argument of it we allocated */
};

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int write_rc(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = sfc_xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), r;

	if (fd < 0)
		return -errno;
	r = sfc_write_full(fd, text, strlen(text));
	close(fd);
	return r;
}

static const char sh_rc[] =
	"# sefaca-shell: mark the prompt, then run the user's own $ENV\n"
	"if [ -n \"${SEFACA_USER_ENV-}\" ]; then ENV=$SEFACA_USER_ENV; [ -r \"$ENV\" ] && . \"$ENV\"; else unset ENV; fi\n"
	"unset SEFACA_USER_ENV\n"
	"case ${PS1-} in '[sefaca] '*) ;; *) PS1=\"[sefaca] ${PS1-\\$ }\" ;; esac\n";
static const char bash_rc[] =
	"# sefaca-shell: the user's ~/.bashrc (bash read /etc/bash.bashrc itself), then the mark\n"
	"[ -r ~/.bashrc ] && . ~/.bashrc\n"
	"case $PS1 in '[sefaca] '*) ;; *) PS1=\"[sefaca] $PS1\" ;; esac\n";
static const char zsh_env[] =
	"# sefaca-shell: back to the user's ZDOTDIR for the other files, and a\n"
	"# precmd hook that marks whatever prompt they set\n"
	"if [[ -n ${SEFACA_USER_ZDOTDIR+x} ]]; then ZDOTDIR=$SEFACA_USER_ZDOTDIR; else unset ZDOTDIR; fi\n"
	"unset SEFACA_USER_ZDOTDIR\n"
	"[[ -r ${ZDOTDIR:-$HOME}/.zshenv ]] && . ${ZDOTDIR:-$HOME}/.zshenv\n"
	"_sefaca_mark() { [[ $PS1 == '[sefaca] '* ]] || PS1=\"[sefaca] $PS1\" }\n"
	"typeset -ga precmd_functions\n"
	"precmd_functions+=(_sefaca_mark)\n";
static const char fish_init[] =
	"functions -q fish_prompt; and functions -c fish_prompt _sefaca_fish_prompt; "
	"function fish_prompt; printf '[sefaca] '; functions -q _sefaca_fish_prompt; and _sefaca_fish_prompt; "
	"or printf '> '; end";

/* Mark the prompt of SH the way that shell allows (sh-family: $ENV; bash:
 * --rcfile; zsh: $ZDOTDIR; fish: --init-command); the rc files live in a
 * host directory granted read-only.  Returns < 0 with E filled. */
static int mark_prompt(struct mark *m, const char *sh, struct sfc_runopts *o, struct sfc_error *e)
{
	const char *b = base_name(sh), *tmp = getenv("XDG_RUNTIME_DIR");
	struct sfc_origin org = { SFC_ORIGIN_FLAG, "(sefaca-shell prompt files)", 0 };
	struct stat st;
	int r = 0;

	if (!strcmp(b, "fish")) {
		m->argv = sfc_xcalloc(4, sizeof(char *));
		m->argv[0] = (char *)sh;
		m->argv[1] = "--init-command";
		m->argv[2] = (char *)fish_init;
		return 0;
	}
	if (!tmp || !*tmp || stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	m->dir = sfc_xasprintf("%s/sefaca-shell.XXXXXX", tmp);
	if (!mkdtemp(m->dir)) {
		r = sfc_err(e, errno, "create %s", m->dir);
		free(m->dir);
		m->dir = NULL;
		return r;
	}
	m->argv = sfc_xcalloc(4, sizeof(char *));
	m->argv[0] = (char *)sh;
	if (!strcmp(b, "bash")) {
		m->argv[1] = "--rcfile";
		m->argv[2] = m->rcfile = sfc_xasprintf("%s/bashrc", m->dir);
		r = write_rc(m->dir, "bashrc", bash_rc);
	} else if (!strcmp(b, "zsh")) {
		const char *z = getenv("ZDOTDIR");
		if (z)
			sfc_strv_push_owned(&m->env, sfc_xasprintf("SEFACA_USER_ZDOTDIR=%s", z));
		sfc_strv_push_owned(&m->env, sfc_xasprintf("ZDOTDIR=%s", m->dir));
		r = write_rc(m->dir, ".zshenv", zsh_env);
	} else {
		/* sh, dash, ash, ksh, mksh, busybox...: POSIX $ENV */
		const char *u = getenv("ENV");
		if (u && *u)
			sfc_strv_push_owned(&m->env, sfc_xasprintf("SEFACA_USER_ENV=%s", u));
		sfc_strv_push_owned(&m->env, sfc_xasprintf("ENV=%s/shrc", m->dir));
		r = write_rc(m->dir, "shrc", sh_rc);
	}
	if (r < 0)
		return sfc_err(e, -r, "write the prompt file in %s", m->dir);
	sfc_settings_add(&o->src.flags, SFC_K_READONLY, m->dir, &org);
	return 0;
}

static void mark_cleanup(struct mark *m)
{
	if (m->dir) {
		static const char *const files[] = { "bashrc", ".zshenv", "shrc" };
		for (size_t i = 0; i < SFC_ARRAY_SIZE(files); i++) {
			_cleanup_free_ char *p = sfc_xasprintf("%s/%s", m->dir, files[i]);
			unlink(p);
		}
		rmdir(m->dir);
		free(m->dir);
		m->dir = NULL;
	}
	sfc_strv_clear(&m->env);
	free(m->argv);
	free(m->rcfile);
	m->argv = NULL;
	m->rcfile = NULL;
}

/* ------------------------------------------------------------- running */

struct brokered {
	struct sfc_session *outer;   /* whose settings requests run with */
	bool quiet, audit_recipes;
	const char *applet;          /* the records' applet */
	uint64_t recipe_timeout_ms;  /* a request's own timeout */
	bool timeout_set;
};

static int serve_request(struct sfc_broker *b, struct sfc_broker_request *req, void *data);

/* SB's payload gets a broker for what runs inside (its other end is
 * inherited: preserve_fds belongs to the spec, so a copy is extended, and
 * the spec gets its own list back when the broker is closed). */
struct shell_broker {
	struct sfc_broker b;
	struct sfc_spec *spec;
	int *fds, *prev;
	size_t nprev;
};

static int broker_begin(struct shell_broker *sb_, struct sfc_sandbox *sb, struct brokered *ctx, struct sfc_error *e)
{
	struct sfc_spec *s = sb->spec;
	int r;

	memset(sb_, 0, sizeof(*sb_));
	if ((r = sfc_broker_open(&sb_->b, serve_request, ctx, e)) < 0)
		return r;
	sb_->spec = s;
	sb_->prev = s->preserve_fds;
	sb_->nprev = s->npreserve_fds;
	sb_->fds = sfc_xcalloc(s->npreserve_fds + 1, sizeof(int));
	if (s->npreserve_fds)
		memcpy(sb_->fds, s->preserve_fds, s->npreserve_fds * sizeof(int));
	sb_->fds[s->npreserve_fds] = sb_->b.peer;
	s->preserve_fds = sb_->fds;
	s->npreserve_fds++;
	sfc_broker_attach(&sb_->b, sb);
	return 0;
}

static void broker_end(struct shell_broker *sb_)
{
	sfc_broker_close(&sb_->b);
	if (sb_->spec) {
		sb_->spec->preserve_fds = sb_->prev;
		sb_->spec->npreserve_fds = sb_->nprev;
		sb_->spec = NULL;
	}
	free(sb_->fds);
	sb_->fds = NULL;
}

/* Jobserver descriptors of the make that runs us go into the sandbox at
 * the numbers MAKEFLAGS names (after sfc_run_setup, which sets the
 * spec's list); a make 4.4 named pipe is granted (before it). */
void sfc_shell_pass_jobserver(struct sfc_spec *spec, struct sfc_sources *src)
{
	extern char **environ;
	int fds[2], n;
	char *fifo = NULL;
	struct stat st;

	n = sfc_jobserver_fds(environ, fds, &fifo);
	if (n && spec) {
		int *v = sfc_xcalloc(spec->npreserve_fds + n, sizeof(int));
		if (spec->npreserve_fds)
			memcpy(v, spec->preserve_fds, spec->npreserve_fds * sizeof(int));
		for (int i = 0; i < n; i++)
			v[spec->npreserve_fds++] = fds[i];
		spec->preserve_fds = v;
	}
	if (fifo && src && stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode)) {
		struct sfc_origin org = { SFC_ORIGIN_BUILTIN, "make's jobserver", 0 };
		sfc_settings_add(&src->flags, SFC_K_READWRITE, fifo, &org);
	}
	free(fifo);
}

/* One record for a command run through the broker (--audit-recipes). */
static void audit_request(struct brokered *ctx, struct sfc_broker_request *req, struct sfc_sandbox *sb,
			  const struct timespec *start, int status, const char *error, const char *target)
{
	struct sfc_audit_make mk = { -1, target ? target : "", false };
	struct sfc_audit_info a;
	struct sfc_error e = { 0 };
	_cleanup_free_ char *line = NULL;
	char id[20];
	size_t len;

	if (!ENABLE_FEATURE_AUDIT || ctx->outer->audit.kind == SFC_AUDIT_NONE)
		return;
	sfc_audit_new_id(id);
	a = (struct sfc_audit_info){
		.applet = ctx->applet,
		.id = id,
		.start = *start,
		.duration = sb->result.duration,
		.argv = req->argv,
		.cwd = req->cwd,
		.spec = sb->spec,
		.sb = sb,
		.sources = &ctx->outer->sources,
		.status = status,
		.error = error,
		.make = &mk,
	};
	line = sfc_audit_record(&a, &len);
	if (sfc_audit_append(&ctx->outer->audit, line, len, &e) < 0 && !ctx->quiet)
		sfc_msg("warning: %s", e.msg);
}

/* The requester (make, waiting for its recipe) gets the status as soon as
 * it is known -- after the report of what was refused and the recipe's
 * audit record -- and not after the sandbox's namespaces are torn down. */
struct early_answer {
	struct brokered *ctx;
	struct sfc_broker_request *req;
	const struct timespec *start;
	const char *target;
};

static void answer_early(struct sfc_sandbox *sb, void *data)
{
	struct early_answer *a = data;

	sfc_shell_report(&sb->result, a->target, a->ctx->quiet);
	if (a->ctx->audit_recipes)
		audit_request(a->ctx, a->req, sb, a->start, sb->result.status, NULL, a->target);
	sfc_broker_answer(a->req, sb->result.status);
}

/* A request from inside: a command (a make recipe, mostly) of a payload
 * of ours.  This is a child of the supervisor with the requester's
 * descriptors as its own; the sandbox is made with OUR settings, only the
 * command, environment and directory come from the request. */
static int serve_request(struct sfc_broker *b, struct sfc_broker_request *req, void *data)
{
	struct brokered *ctx = data;
	struct sfc_spec *spec = &ctx->outer->spec;
	const char *target = sfc_env_get(req->env, "SEFACA_MAKE_TARGET");
	struct sfc_origin org = { SFC_ORIGIN_FLAG, "(the requester's directory)", 0 };
	struct timespec start;
	int *fds = sfc_xcalloc(req->nextra + 1, sizeof(int));

	clock_gettime(CLOCK_REALTIME, &start);
	spec->argv = req->argv;
	spec->caller_env = req->env;
	if (ctx->timeout_set)
		spec->timeout_ms = ctx->recipe_timeout_ms;
	/* where the requester was; inside the same view (same paths) */
	{
		struct sfc_error ignore;
		sfc_spec_set(spec, SFC_K_WORKDIR, req->cwd, &org, &ignore);
	}
	for (int i = 0; i < req->nextra; i++)
		fds[i] = req->targets[i];
	spec->preserve_fds = fds;
	spec->npreserve_fds = req->nextra;

	/* The requester is in a sandbox made with these very settings: join
	 * its view rather than build the same one again (a fraction of the
	 * cost; see sfc_sandbox.join_pidfd).  The pidfd comes from the socket
	 * it connected with (SO_PEERPIDFD, Linux 6.5): it names the process
	 * that made the connection, never another one that reused its pid.
	 * Without it, or if joining fails, a sandbox of its own. */
	for (int join = 1; join >= 0; join--) {
		struct sfc_sandbox sb;
		struct sfc_notify n;
		struct shell_broker nb = { .spec = NULL };
		struct early_answer early = { ctx, req, &start, target };
		struct sfc_error e = { 0 };
		socklen_t len = sizeof(int);
		int pidfd = -1, r, status;

		if (join && (getsockopt(req->conn, SOL_SOCKET, SFC_SO_PEERPIDFD, &pidfd, &len) < 0 || pidfd < 0))
			continue;
		sfc_sandbox_init(&sb, spec);
		sb.join_pidfd = pidfd;
		/* Our settings make the view the requester is in: the plan it was
		 * built from serves again, only the working directory is the
		 * requester's (no planning afresh, path by path, every recipe). */
		if (ctx->outer->sb.plan.n) {
			sfc_mount_plan_copy(&sb.plan, &ctx->outer->sb.plan);
			free(sb.plan.workdir);
			sb.plan.workdir = sfc_path_normalize(req->cwd);
			sb.plan_ready = true;
		}
		memset(&n, 0, sizeof(n));
		n.sock[0] = n.sock[1] = n.listener = -1;
		if ((r = sfc_sandbox_prepare(&sb, &e)) < 0 || (r = sfc_notify_setup(&sb, &n, false, &e)) < 0 ||
		    (r = sfc_notify_trap_writes(&n, &e)) < 0 || (r = broker_begin(&nb, &sb, ctx, &e)) < 0) {
			if (pidfd >= 0)
				close(pidfd);
			sfc_msg("%s", e.msg);
			status = e.status ? e.status : 125;
			if (ctx->audit_recipes)
				audit_request(ctx, req, &sb, &start, status, e.msg, target);
			return status;
		}
		sfc_broker_watch_requester(&sb, req);
		sb.on_done = answer_early;
		sb.done_data = &early;
		r = sfc_sandbox_run(&sb, &e);
		broker_end(&nb);
		sfc_notify_free(&n);
		if (pidfd >= 0)
			close(pidfd);
		if (r < 0 && join && !sb.result.ran && (!e.status || e.status == 125))
			continue; /* could not join: build one */
		status = r < 0 ? (e.status ? e.status : 125) : sb.result.status;
		if (r < 0)
			sfc_msg("%s", e.msg);
		if (req->answered)
			return status;
		sfc_shell_report(&sb.result, target, ctx->quiet);
		if (ctx->audit_recipes)
			audit_request(ctx, req, &sb, &start, status, r < 0 ? e.msg : NULL, target);
		return status;
	}
	return 125;
}

int sfc_shell_finish(struct sfc_shell_run *x)
{
	struct sfc_session *s = x->s;
	struct brokered ctx = { s, x->quiet, x->audit_recipes, s->applet, x->recipe_timeout_ms, x->recipe_timeout_set };
	struct sfc_error e = { 0 }, ae = { 0 };
	struct shell_broker b;
	int r, status;

	r = broker_begin(&b, &s->sb, &ctx, &e);
	if (r == 0 && x->pty)
		r = sfc_pty_raw(x->pty, &e);
	if (r == 0)
		r = sfc_session_run(s, &e);
	if (x->pty) {
		sfc_pty_drain(x->pty);
		sfc_pty_restore(x->pty);
	}
	x->requests = sfc_broker_count();
	broker_end(&b);
	status = r < 0 ? (e.status ? e.status : 125) : s->sb.result.status;
	if (r < 0)
		sfc_msg("%s", e.msg);
	sfc_shell_report(&s->sb.result, NULL, x->quiet);
	if (x->make) {
		x->make->recipes = x->requests;
		s->make = x->make;
	}
	/* The record is written whatever happened; a log that cannot be
	 * written does not change the command's status. */
	if (sfc_session_audit(s, status, r < 0 ? e.msg : NULL, x->o->has_status_fd ? x->o->status_fd : -1, &ae) < 0 &&
	    (s->audit.required || !x->quiet))
		sfc_msg("%s%s", s->audit.required ? "" : "warning: ", ae.msg);
	return status;
}

/* Inside a sandbox with a broker: hand the command over. */
static int run_via_broker(int bfd, struct shell_opts *so, char **argv)
{
	extern char **environ;
	struct sfc_error e = { 0 };
	int fds[2], n, r;
	char *fifo = NULL;

	if (so->o.src.flags.n)
		sfc_die(125, "sandbox settings cannot be changed from inside a sandbox (%s)",
			so->o.src.flags.v[0].origin.name);
	n = sfc_jobserver_fds(environ, fds, &fifo);
	free(fifo);
	r = sfc_broker_request(bfd, argv, environ, fds, n, &e);
	if (r < 0)
		sfc_die(125, "%s", e.msg);
	return r;
}

int shell_main(int argc, char **argv)
{
	struct shell_opts so;
	struct sfc_session s;
	struct sfc_pty pty;
	struct mark m = { 0 };
	const char *sh;
	char **pargv, **own_argv;
	int bfd, status;

	SFC_TRACE_POINT("c: main");
	memset(&so, 0, sizeof(so));
	parse(&so, argc, argv);
	if (so.o.help) {
		fputs(sfc_applet_usage("shell"), stdout);
		return 0;
	}
	scan_sh_args(&so, argc, argv);
	if (so.cmd_mode && called_by_make())
		strip_oneshell_prefixes(argv[so.cmd]);

	if (so.interactive) {
		sh = so.shell;
		if (!sh) {
			sh = getenv("SHELL");
			/* a login shell set to sefaca-shell must not run itself */
			if (!sh || sh[0] != '/' || !strncmp(base_name(sh), "sefaca", 6))
				sh = "/bin/sh";
		}
	} else {
		sh = so.shell ? so.shell : "/bin/sh";
	}
	pargv = own_argv = payload_argv(sh, argc, argv, so.first);

	/* Inside a sandbox of ours: its supervisor makes the sandbox. */
	if ((bfd = sfc_broker_find()) >= 0) {
		if (so.interactive)
			sfc_die(125, "already inside a sefaca sandbox; an interactive shell needs a terminal of its own "
				     "(run sefaca-shell outside)");
		SFC_TRACE_POINT("c: request");
		status = run_via_broker(bfd, &so, pargv);
		SFC_TRACE_POINT("c: answered");
		free(pargv);
		sfc_runopts_free(&so.o);
		return status;
	}

	if (so.interactive) {
		struct sfc_error e = { 0 };
		if (!sfc_pty_isatty(0))
			sfc_die(125, "an interactive shell needs a terminal on standard input");
		if (!so.no_mark && mark_prompt(&m, sh, &so.o, &e) < 0) {
			mark_cleanup(&m);
			sfc_die_error(&e);
		}
		if (m.argv)
			pargv = m.argv;
	} else {
		sfc_shell_pass_jobserver(NULL, &so.o.src);
	}
	so.o.report_writes = true;
	sfc_run_setup(&so.o, &s, "shell", pargv);
	if (so.interactive) {
		struct sfc_error e = { 0 };
		if (sfc_pty_open(&pty, 0, 1, &e) < 0) {
			mark_cleanup(&m);
			sfc_die_error(&e);
		}
		for (size_t i = 0; i < m.env.n; i++) {
			char *kv = sfc_xstrdup(m.env.v[i]), *eq = strchr(kv, '=');
			*eq = 0;
			sfc_env_set(&s.sb.env, kv, eq + 1);
			free(kv);
		}
		if (!so.o.quiet)
			sfc_msg("%s in a sandbox (level %s, network %s); exit to leave", sh, sfc_level_name(s.spec.level),
				sfc_net_name(s.spec.network));
		sfc_pty_attach(&pty, &s.sb);
	} else {
		sfc_shell_pass_jobserver(&s.spec, NULL);
	}
	{
		struct sfc_shell_run run = { .o = &so.o, .s = &s, .pty = so.interactive ? &pty : NULL,
					     .quiet = so.o.quiet };
		status = sfc_shell_finish(&run);
	}
	mark_cleanup(&m);
	sfc_session_free(&s);
	sfc_runopts_free(&so.o);
	free(own_argv);
	return status;
}

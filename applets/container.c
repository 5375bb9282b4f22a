/*
 * sefaca-container: rootless containers from real images, no daemon.
 */
//config:config SEFACA_CONTAINER
//config:	bool "sefaca-container: rootless containers from images"
//config:	default y
//config:	depends on HAVE_LIBARCHIVE && HAVE_JSONC
//config:	select FEATURE_IMAGES
//config:	help
//config:	  Run commands in containers made from OCI images, docker
//config:	  archives or root filesystem tarballs, without a daemon and
//config:	  without root: an unprivileged overlay of the image's layers,
//config:	  the same namespaces, seccomp, capability and limit layers as
//config:	  sefaca-run, and user-mode networking through pasta or
//config:	  slirp4netns.  Containers can run detached, with a small
//config:	  monitor process of their own.
//applet:SFC_APPLET(container, SEFACA_CONTAINER)
//usage:Usage: sefaca-container COMMAND [OPTIONS] [ARGS]
//usage:
//usage:Containers:
//usage:  run [OPTIONS] [--] [COMMAND [ARG...]]   run a command in a new container
//usage:  shell [OPTIONS]            an interactive shell in a new container (--rm)
//usage:  create [OPTIONS] [--] [COMMAND...]      create a container, do not start it
//usage:  start NAME                 start a created or stopped container (detached)
//usage:  stop [--time=SECONDS] NAME...          SIGTERM, then SIGKILL
//usage:  kill [--signal=SIG] NAME...            default SIGKILL
//usage:  rm [-f] NAME...            remove containers (-f: running ones too)
//usage:  ps, list [-a] [-q]         containers and their state (-a: all)
//usage:  inspect NAME|IMAGE         configuration and state, as JSON
//usage:  logs [-f] [--stdout|--stderr] NAME    output of a detached container
//usage:  exec NAME [--] COMMAND...  run a command in a running container
//usage:  stats NAME...              memory and CPU of running containers
//usage:  export NAME --output=FILE  its root filesystem as a tar (- for stdout)
//usage:Images:
//usage:  images [-q]                the images in the store
//usage:  import REF [--name=NAME[:TAG]]       import an image (see REF below)
//usage:  pull REF                   import, docker:// references through skopeo
//usage:  rmi [-f] IMAGE...          remove images (their layers go with clean)
//usage:  build [-f FILE] [-t NAME[:TAG]] [--network=MODE] [--no-cache] CONTEXT
//usage:                             an image from a Containerfile (FROM RUN COPY ADD
//usage:                             ENV WORKDIR USER LABEL CMD ENTRYPOINT)
//usage:  clean [--dry-run]          remove stopped containers, unused images and layers
//usage:
//usage:Run options:
//usage:  --image=REF     host (default): the host's system directories, read-only;
//usage:                  oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE,
//usage:                  dir:ROOTFS, tar:FILE[.gz|.xz|.zst], docker://REF,
//usage:                  NAME[:TAG] (imported before; else docker://NAME)
//usage:  --name=NAME     --rm    --detach, -d
//usage:  --network=none|host|pasta|slirp4netns   (default none: loopback only)
//usage:  --publish=[IP:]HOSTPORT:PORT[/udp], -p  (pasta or slirp4netns)
//usage:  --volume=SRC:DST[:ro], -v    --tmpfs=DST[:SIZE]    --read-only
//usage:  --env=NAME      the [env.NAME] profile;  -e K=V (or -e K: from here)
//usage:  --workdir=DIR, -w   --user=UID[:GID], -u   --entrypoint=CMD
//usage:  --no-workspace  do not mount the current directory at /workspace
//usage:  --memory=SIZE --cpu=CPUS --pids=N --timeout=DURATION --nofile=N --fsize=SIZE
//usage:  --require-limits  fail if a limit cannot be enforced (else a note)
//usage:  --policy=NAME --seccomp=LEVEL --restart=no|on-failure[:N]|always
//usage:  -q, --quiet     -h, --help
//usage:
//usage:The current directory is mounted at /workspace and is the working
//usage:directory unless the image or --workdir names another.  Exit status:
//usage:the command's; 125 if the container could not be set up; as sefaca-run.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applets/common.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/build.h"
#include "core/container.h"
#include "core/env.h"
#include "core/image.h"
#include "core/oci.h"
#include "core/parse.h"
#include "core/store.h"

const char *sfc_applet_usage(const char *name);

static bool quiet;

static void usage_out(void)
{
	fputs(sfc_applet_usage("container"), stdout);
}

/* The store of this invocation: opened by a command, closed by container_main. */
static struct sfc_store g_store = { .lockfd = -1 };
static bool opened;

static struct sfc_store *open_store(void)
{
	struct sfc_error e = { 0 };
	if (sfc_store_open(&g_store, NULL, &e) < 0)
		sfc_die_error(&e);
	opened = true;
	return &g_store;
}

/* --opt=value or --opt value (or -x value) */
static bool opt_value(int argc, char **argv, int *i, const char *lng, const char *shrt, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (!strncmp(a, lng, n) && a[n] == '=') {
		*val = a + n + 1;
		return true;
	}
	if (!strcmp(a, lng) || (shrt && !strcmp(a, shrt))) {
		if (*i + 1 >= argc)
			sfc_usage_error("option %s needs a value", a);
		*val = argv[++*i];
		return true;
	}
	if (shrt && !strncmp(a, shrt, strlen(shrt)) && a[1] != '-' && a[strlen(shrt)]) {
		*val = a + strlen(shrt); /* -vSRC:DST */
		return true;
	}
	return false;
}

/* sandbox settings a container takes as flags */
static const char *const spec_flags[] = { "memory", "cpu", "pids", "timeout", "kill-grace", "nofile", "fsize",
					  "seccomp", "policy", "level", "tmp-size", "best-effort", "allow-nested",
					  "require-limits", NULL };

static void parse_run_opts(int argc, char **argv, int *ip, struct sfc_cconfig *cf, bool *help)
{
	extern char **environ;
	int i = *ip;

	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			*help = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
		} else if (!strcmp(a, "--rm")) {
			cf->rm = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--detach")) {
			cf->detach = true;
		} else if (!strcmp(a, "--read-only")) {
			cf->read_only = true;
		} else if (!strcmp(a, "--no-workspace")) {
			cf->no_workspace = true;
		} else if (!strcmp(a, "-t") || !strcmp(a, "-i") || !strcmp(a, "-it") || !strcmp(a, "--tty") ||
			   !strcmp(a, "--interactive")) {
			cf->tty = true;
		} else if (opt_value(argc, argv, &i, "--image", NULL, &v)) {
			free(cf->image);
			cf->image = sfc_xstrdup(v);
		} else if (opt_value(argc, argv, &i, "--name", NULL, &v)) {
			if (!sfc_container_name_valid(v))
				sfc_usage_error("bad container name '%s'", v);
			free(cf->name);
			cf->name = sfc_xstrdup(v);
		} else if (opt_value(argc, argv, &i, "--network", "--net", &v)) {
			if (sfc_cnet_parse(v, &cf->network) < 0)
				sfc_usage_error("bad network '%s' (none, host, pasta or slirp4netns)", v);
			cf->network_set = true;
		} else if (opt_value(argc, argv, &i, "--publish", "-p", &v)) {
			sfc_strv_push(&cf->publish, v);
		} else if (opt_value(argc, argv, &i, "--volume", "-v", &v)) {
			if (!strchr(v, ':'))
				sfc_usage_error("bad volume '%s' (expected SRC:DST[:ro])", v);
			sfc_strv_push(&cf->volumes, v);
		} else if (opt_value(argc, argv, &i, "--tmpfs", NULL, &v)) {
			sfc_strv_push(&cf->tmpfs, v);
		} else if (!strncmp(a, "-e", 2) && opt_value(argc, argv, &i, "-e", "-e", &v)) {
			/* -e K=V, or -e K (its value here) */
			if (!strchr(v, '=')) {
				const char *hv = sfc_env_get(environ, v);
				if (!*v)
					sfc_usage_error("-e needs NAME=VALUE");
				if (hv)
					sfc_strv_push_owned(&cf->env, sfc_xasprintf("%s=%s", v, hv));
			} else if (v[0] == '=') {
				sfc_usage_error("bad -e '%s'", v);
			} else {
				sfc_strv_push(&cf->env, v);
			}
		} else if (!strncmp(a, "--env=", 6) || !strcmp(a, "--env")) {
			if (a[5] == '=')
				v = a + 6;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				sfc_usage_error("--env needs a profile name");
			free(cf->envname);
			cf->envname = sfc_xstrdup(v);
		} else if (opt_value(argc, argv, &i, "--setenv", NULL, &v)) {
			if (!strchr(v, '=') || v[0] == '=')
				sfc_usage_error("bad --setenv '%s' (expected NAME=VALUE)", v);
			sfc_strv_push(&cf->env, v);
		} else if (opt_value(argc, argv, &i, "--workdir", "-w", &v)) {
			if (v[0] != '/')
				sfc_usage_error("--workdir must be an absolute path in the container");
			free(cf->workdir);
			cf->workdir = sfc_path_normalize(v);
		} else if (opt_value(argc, argv, &i, "--user", "-u", &v)) {
			if (!*v)
				sfc_usage_error("--user needs UID[:GID]");
			free(cf->user);
			cf->user = sfc_xstrdup(v);
		} else if (opt_value(argc, argv, &i, "--entrypoint", NULL, &v)) {
			sfc_strv_clear(&cf->entrypoint);
			if (*v)
				sfc_strv_push(&cf->entrypoint, v);
			cf->has_entrypoint = true;
		} else if (opt_value(argc, argv, &i, "--restart", NULL, &v)) {
			if (!strcmp(v, "no"))
				cf->restart = SFC_RESTART_NO;
			else if (!strcmp(v, "always"))
				cf->restart = SFC_RESTART_ALWAYS;
			else if (!strncmp(v, "on-failure", 10) && (!v[10] || v[10] == ':')) {
				uint64_t n = 0;
				struct sfc_error e;
				cf->restart = SFC_RESTART_ON_FAILURE;
				if (v[10] && sfc_parse_uint(v + 11, 1, 1000000, &n, &e) < 0)
					sfc_usage_error("bad --restart '%s'", v);
				cf->restart_max = (int)n;
			} else
				sfc_usage_error("bad --restart '%s' (no, on-failure[:N] or always)", v);
		} else {
			/* the sandbox settings shared with sefaca-run */
			char name[64];
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) : strlen(a);
			bool known = false;
			if (strncmp(a, "--", 2) || n - 2 >= sizeof(name))
				sfc_usage_error("unknown option %s", a);
			snprintf(name, sizeof(name), "%.*s", (int)(n - 2), a + 2);
			for (const char *const *f = spec_flags; *f; f++)
				if (!strcmp(*f, name))
					known = true;
			if (!known)
				sfc_usage_error("unknown option %s", a);
			if (eq) {
				sfc_strv_push(&cf->flags, a);
			} else if (!strcmp(name, "best-effort") || !strcmp(name, "allow-nested") ||
				   !strcmp(name, "require-limits")) {
				sfc_strv_push_owned(&cf->flags, sfc_xasprintf("--%s=true", name));
			} else {
				if (i + 1 >= argc)
					sfc_usage_error("option %s needs a value", a);
				sfc_strv_push_owned(&cf->flags, sfc_xasprintf("--%s=%s", name, argv[++i]));
			}
		}
	}
	*ip = i;
}

/* Check the settings before anything is created: a bad --memory is a usage error. */
static void check_flags(const struct sfc_cconfig *cf)
{
	struct sfc_spec spec;
	struct sfc_error e = { 0 };

	sfc_spec_init(&spec);
	for (size_t i = 0; i < cf->flags.n; i++) {
		const char *f = cf->flags.v[i], *eq = strchr(f, '=');
		char name[64];
		struct sfc_origin o = { SFC_ORIGIN_FLAG, f, 0 };
		int k;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - f - 2), f + 2);
		k = sfc_key_lookup(name);
		if (k == SFC_K_POLICY || k == SFC_K_LEVEL)
			continue;
		if (k < 0 || sfc_spec_set(&spec, k, eq + 1, &o, &e) < 0)
			sfc_usage_error("%s: %s", f, e.msg);
	}
	sfc_spec_free(&spec);
}

struct runenv {
	struct sfc_sources src;
};

static void print_note(const char *msg, void *data)
{
	sfc_msg("note: %s", msg);
}

static void audit_run(const struct sfc_container *c, int status, const char *error);

static void setup_container(struct sfc_container *c, struct runenv *re)
{
	extern char **environ;
	struct sfc_config_request req = { 0 };
	struct sfc_error e = { 0 };
	struct sfc_spec ctx;
	char *cwd = getcwd(NULL, 0);

	c->quiet = quiet;
	c->on_note = quiet ? NULL : print_note;
	c->caller_env = environ;
	/* the config files ([env.NAME], [policy.NAME], [default]) and the
	 * SEFACA_* variables, as every applet reads them (core/config.h) */
	sfc_spec_init(&ctx);
	ctx.caller_env = environ;
	ctx.home = getenv("HOME");
	ctx.cwd = cwd;
	if (sfc_config_load_all(&re->src, &req, &ctx, NULL, &e) < 0)
		sfc_die_error(&e);
	free(cwd);
	c->src = &re->src;
	c->on_run_end = audit_run; /* detached runs: their monitor writes the record */
}

/* One audit record per container run (core/audit.h), with seed 000's
 * container fields. */
static void audit_run(const struct sfc_container *c, int status, const char *error)
{
	const struct sfc_container_record *rec = &c->record;
	struct sfc_audit_container ct = {
		.container_id = c->cfg.id,
		.name = c->cfg.name,
		.runtime = "sefaca",
		.image = c->cfg.image,
		.image_id = c->cfg.image_id,
		.network = rec->network,
		.volumes = &c->cfg.volumes,
		.memory_limit = rec->memory_limit,
		.pids_limit = rec->pids_limit,
		.cpu_limit_milli = rec->cpu_limit_milli,
	};
	struct sfc_audit_info a = {
		.applet = "container",
		.argv = c->cfg.argv.v,
		.cwd = c->cfg.cwd,
		.status = status,
		.error = error,
		.container = &ct,
		.result = rec->result,
		.duration = rec->result ? rec->result->duration : 0,
	};
	struct sfc_error ae = { 0 };

	if (sfc_audit_write(&a, &ae) < 0 && !quiet)
		sfc_msg("warning: %s", ae.msg);
}

static int cmd_run(int argc, char **argv, bool create_only, bool shell)
{
	struct sfc_cconfig cf = { 0 };
	struct sfc_container c = { 0 };
	struct runenv re = { 0 };
	struct sfc_error e = { 0 };
	bool help = false;
	int i = 1, r;

	parse_run_opts(argc, argv, &i, &cf, &help);
	c.quiet = quiet;
	if (help) {
		usage_out();
		sfc_cconfig_free(&cf);
		return 0;
	}
	check_flags(&cf);
	for (; i < argc; i++)
		sfc_strv_push(&cf.argv, argv[i]);
	if (shell) {
		if (cf.argv.n)
			sfc_usage_error("shell takes no command (use run)");
		cf.tty = true;
		cf.rm = true;
		sfc_strv_push(&cf.argv, "/bin/sh");
	}
	if (cf.rm && cf.restart != SFC_RESTART_NO)
		sfc_usage_error("--rm and --restart do not go together");
	if (cf.restart != SFC_RESTART_NO && !cf.detach && !create_only)
		sfc_usage_error("--restart needs --detach");
	if (cf.publish.n && (!cf.network_set || (cf.network != SFC_CNET_PASTA && cf.network != SFC_CNET_SLIRP)))
		sfc_usage_error("--publish needs --network=pasta or --network=slirp4netns");
	if (create_only)
		cf.detach = true; /* `start` runs it detached */
	{
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			sfc_die(125, "current directory: %s", strerror(errno));
		cf.cwd = cwd;
	}
	open_store();
	SFC_TRACE_POINT("c: store open");
	if (sfc_container_create(&g_store, &cf, &c, NULL, &e) < 0) {
		sfc_cconfig_free(&cf);
		sfc_container_close(&c);
		sfc_die_error(&e);
	}
	SFC_TRACE_POINT("c: created");
	setup_container(&c, &re);
	SFC_TRACE_POINT("c: config read");
	if (create_only) {
		printf("%s\n", c.cfg.name);
		r = 0;
	} else if (c.cfg.detach) {
		if (sfc_container_start_detached(&c, &e) < 0) {
			sfc_msg("%s", e.msg);
			r = 125;
		} else {
			printf("%s\n", c.cfg.name);
			r = 0;
		}
	} else {
		r = sfc_container_run(&c, &e);
		SFC_TRACE_POINT("c: ran");
		if (r < 0) {
			sfc_msg("%s", e.msg);
			r = e.status ? e.status : 125;
		}
		audit_run(&c, r, r >= 125 && e.msg[0] ? e.msg : NULL);
		SFC_TRACE_POINT("c: audited");
	}
	sfc_container_close(&c);
	SFC_TRACE_POINT("c: closed");
	sfc_sources_clear(&re.src);
	return r;
}

static int cmd_start(int argc, char **argv)
{
	struct runenv re = { 0 };
	int status = 0;

	if (argc < 2)
		sfc_usage_error("start needs a container name");
	open_store();
	for (int i = 1; i < argc; i++) {
		struct sfc_container c;
		struct sfc_error e = { 0 };
		if (sfc_container_open(&g_store, argv[i], &c, &e) < 0 || (setup_container(&c, &re), 0) ||
		    sfc_container_start_detached(&c, &e) < 0) {
			sfc_msg("%s", e.msg);
			status = 125;
		} else {
			printf("%s\n", argv[i]);
		}
		sfc_container_close(&c);
	}
	sfc_sources_clear(&re.src);
	return status;
}

static int parse_signal(const char *s)
{
	static const struct {
		const char *n;
		int s;
	} sigs[] = { { "KILL", SIGKILL }, { "TERM", SIGTERM }, { "INT", SIGINT },   { "HUP", SIGHUP },
		     { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "STOP", SIGSTOP },
		     { "CONT", SIGCONT }, { "WINCH", SIGWINCH }, { "ALRM", SIGALRM } };
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < SFC_ARRAY_SIZE(sigs); i++)
		if (!strcasecmp(s, sigs[i].n))
			return sigs[i].s;
	if (*s && strspn(s, "0123456789") == strlen(s) && atoi(s) > 0 && atoi(s) < 65)
		return atoi(s);
	return -1;
}

static int cmd_stop_kill(int argc, char **argv, bool kill_)
{
	uint64_t timeout = 10000;
	int sig = SIGKILL, i = 1, status = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		if (!kill_ && (opt_value(argc, argv, &i, "--time", "-t", &v) || opt_value(argc, argv, &i, "--timeout", NULL, &v))) {
			struct sfc_error e;
			if (sfc_parse_duration(v, &timeout, &e) < 0)
				sfc_usage_error("%s", e.msg);
		} else if (kill_ && opt_value(argc, argv, &i, "--signal", "-s", &v)) {
			if ((sig = parse_signal(v)) < 0)
				sfc_usage_error("bad signal '%s'", v);
		} else {
			sfc_usage_error("unknown option %s", argv[i]);
		}
	}
	if (i >= argc)
		sfc_usage_error("%s needs a container name", kill_ ? "kill" : "stop");
	open_store();
	for (; i < argc; i++) {
		struct sfc_container c;
		struct sfc_error e = { 0 };
		pid_t sp, ip;
		int r = sfc_container_open(&g_store, argv[i], &c, &e);
		if (r == 0) {
			r = kill_ ? sfc_container_kill(&c, sig, &e) : sfc_container_stop(&c, timeout, &e);
		} else if (r == -ENOENT && sfc_container_find_ephemeral(argv[i], &sp, &ip, &e) > 0) {
			/* a foreground --rm container: its supervisor passes signals on;
			 * SIGKILL (and a stop that runs out of time) goes to its init */
			uint64_t end = sfc_now_ms() + timeout;
			r = 0;
			if (kill_ && sig == SIGKILL)
				kill(ip, SIGKILL);
			else
				kill(sp, kill_ ? sig : SIGTERM);
			while (!kill_ && sfc_pid_alive(sp, 0) && sfc_now_ms() < end)
				usleep(10000);
			if (!kill_ && sfc_pid_alive(sp, 0))
				kill(ip, SIGKILL);
		}
		if (r < 0) {
			sfc_msg("%s", e.msg);
			status = 125;
		}
		sfc_container_close(&c);
	}
	return status;
}

/* rm and rmi: [-f] NAME..., each removed with REMOVE. */
static int remove_each(int argc, char **argv, const char *what,
		       int (*remove)(const struct sfc_store *, const char *, bool, struct sfc_error *))
{
	bool force = false;
	int i = 1, status = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force"))
			force = true;
		else
			sfc_usage_error("unknown option %s", argv[i]);
	}
	if (i >= argc)
		sfc_usage_error("%s", what);
	open_store();
	for (; i < argc; i++) {
		struct sfc_error e = { 0 };
		if (remove(&g_store, argv[i], force, &e) < 0) {
			sfc_msg("%s", e.msg);
			status = 125;
		}
	}
	return status;
}

static int cmd_rm(int argc, char **argv)
{
	return remove_each(argc, argv, "rm needs a container name", sfc_store_remove_container);
}

static void fmt_age(int64_t t, char *buf, size_t len)
{
	int64_t d = time(NULL) - t;
	if (!t)
		snprintf(buf, len, "-");
	else if (d < 120)
		snprintf(buf, len, "%llds ago", (long long)d);
	else if (d < 7200)
		snprintf(buf, len, "%lldm ago", (long long)d / 60);
	else if (d < 172800)
		snprintf(buf, len, "%lldh ago", (long long)d / 3600);
	else
		snprintf(buf, len, "%lldd ago", (long long)d / 86400);
}

static void ps_eph(const char *name, const char *command, double started, void *data)
{
	char age[32];
	fmt_age((int64_t)started, age, sizeof(age));
	printf("%-20s %-10s %-8s %-14s %-28.28s %s\n", name, "running", "-", age, "(--rm)", command);
}

static void ps_eph_id(const char *name, const char *command, double started, void *data)
{
	printf("%s\n", name);
}

static int cmd_ps(int argc, char **argv)
{
	struct sfc_container_info *cs;
	struct sfc_error e = { 0 };
	bool all = !strcmp(argv[0], "list"), ids = false;
	size_t n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			ids = true;
		else
			sfc_usage_error("unknown option %s", argv[i]);
	}
	open_store();
	if (sfc_store_list_containers(&g_store, &cs, &n, &e) < 0)
		sfc_die_error(&e);
	if (!ids)
		printf("%-20s %-10s %-8s %-14s %-28s %s\n", "NAME", "STATE", "EXIT", "CREATED", "IMAGE", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		char age[32], ex[16];
		if (all || cs[i].state == SFC_C_RUNNING || cs[i].state == SFC_C_PAUSED || cs[i].state == SFC_C_CREATED) {
			if (ids) {
				printf("%s\n", cs[i].name);
			} else {
				fmt_age(cs[i].created, age, sizeof(age));
				if (cs[i].exit_code >= 0)
					snprintf(ex, sizeof(ex), "%d", cs[i].exit_code);
				else
					snprintf(ex, sizeof(ex), "-");
				printf("%-20s %-10s %-8s %-14s %-28.28s %s\n", cs[i].name, sfc_cstate_name(cs[i].state), ex,
				       age, cs[i].image, cs[i].command);
			}
		}
		sfc_container_info_free(&cs[i]);
	}
	free(cs);
	/* foreground --rm containers keep no files: the registry has them */
	sfc_container_list_ephemeral(ids ? ps_eph_id : ps_eph, NULL, &e);
	return 0;
}

static char *image_json(const struct sfc_image *img)
{
	json_object *o = json_object_new_object(), *c = json_object_new_object();
	char *s;

	json_object_object_add(o, "id", json_object_new_string(img->id));
	sfc_json_add_str(o, "source", img->source);
	json_object_object_add(o, "names", sfc_json_from_strv(&img->names));
	json_object_object_add(o, "layers", sfc_json_from_strv(&img->layers));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)img->size));
	json_object_object_add(o, "created", json_object_new_int64(img->created));
	json_object_object_add(c, "Env", sfc_json_from_strv(&img->config.env));
	sfc_json_add_str(c, "WorkingDir", img->config.workdir);
	sfc_json_add_str(c, "User", img->config.user);
	json_object_object_add(c, "Entrypoint", sfc_json_from_strv(&img->config.entrypoint));
	json_object_object_add(c, "Cmd", sfc_json_from_strv(&img->config.cmd));
	json_object_object_add(c, "Labels", sfc_json_from_strv(&img->config.labels));
	json_object_object_add(o, "config", c);
	s = sfc_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static int cmd_inspect(int argc, char **argv)
{
	int status = 0;

	if (argc < 2)
		sfc_usage_error("inspect needs a container or image");
	open_store();
	for (int i = 1; i < argc; i++) {
		struct sfc_container c;
		struct sfc_image img;
		struct sfc_error e = { 0 };
		if (sfc_container_open(&g_store, argv[i], &c, &e) == 0) {
			char *j = sfc_container_json(&c);
			printf("%s\n", j);
			free(j);
		} else if (e.err == ENOENT && sfc_store_find_image(&g_store, argv[i], &img, &e) > 0) {
			char *j = image_json(&img);
			printf("%s\n", j);
			free(j);
			sfc_image_free(&img);
		} else {
			sfc_msg("no such container or image: %s", argv[i]);
			status = 125;
		}
		sfc_container_close(&c);
	}
	return status;
}

static int copy_fd(int in, int out)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (sfc_write_full(out, buf, n) < 0)
			return -1;
	return 0;
}

static int cmd_logs(int argc, char **argv)
{
	struct sfc_container c;
	struct sfc_error e = { 0 };
	bool follow = false, out = true, err = true;
	const char *name = NULL;
	int fo = -1, fe = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = true;
		else if (!strcmp(argv[i], "--stderr"))
			out = false, err = true;
		else if (!strcmp(argv[i], "--stdout"))
			err = false, out = true;
		else if (argv[i][0] == '-')
			sfc_usage_error("unknown option %s", argv[i]);
		else if (!name)
			name = argv[i];
		else
			sfc_usage_error("logs takes one container");
	}
	if (!name)
		sfc_usage_error("logs needs a container name");
	open_store();
	if (sfc_container_open(&g_store, name, &c, &e) < 0)
		sfc_die_error(&e);
	{
		_cleanup_free_ char *po = sfc_xasprintf("%s/stdout.log", c.dir), *pe = sfc_xasprintf("%s/stderr.log", c.dir);
		if (out)
			fo = open(po, O_RDONLY | O_CLOEXEC);
		if (err)
			fe = open(pe, O_RDONLY | O_CLOEXEC);
	}
	for (;;) {
		if (fo >= 0)
			copy_fd(fo, 1);
		if (fe >= 0)
			copy_fd(fe, 2);
		if (!follow)
			break;
		if (sfc_container_refresh(&c, &e) < 0 || c.state.state != SFC_C_RUNNING) {
			if (fo >= 0)
				copy_fd(fo, 1);
			if (fe >= 0)
				copy_fd(fe, 2);
			break;
		}
		usleep(100000);
	}
	if (fo >= 0)
		close(fo);
	if (fe >= 0)
		close(fe);
	sfc_container_close(&c);
	return 0;
}

static int cmd_exec(int argc, char **argv)
{
	struct sfc_container c;
	struct runenv re = { 0 };
	struct sfc_error e = { 0 };
	bool tty = false;
	int i = 1, r;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "-i") || !strcmp(argv[i], "-it"))
			tty = true;
		else if (!strcmp(argv[i], "--"))
			break;
		else
			sfc_usage_error("unknown option %s", argv[i]);
	}
	if (i >= argc)
		sfc_usage_error("exec needs a container name and a command");
	open_store();
	if (sfc_container_open(&g_store, argv[i], &c, &e) < 0)
		sfc_die_error(&e);
	i++;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		sfc_usage_error("exec needs a command");
	setup_container(&c, &re);
	if (argc - i == 1 && strpbrk(argv[i], " \t|&;<>()$`\\\"'*?[#~=%")) {
		char *sh[] = { "/bin/sh", "-c", argv[i], NULL };
		r = sfc_container_exec(&c, sh, tty, &e);
	} else {
		r = sfc_container_exec(&c, argv + i, tty, &e);
	}
	if (r < 0) {
		sfc_msg("%s", e.msg);
		r = 125;
	}
	sfc_container_close(&c);
	sfc_sources_clear(&re.src);
	return r;
}

static int cmd_export(int argc, char **argv)
{
	struct sfc_container c;
	struct sfc_error e = { 0 };
	const char *name = NULL, *outp = NULL, *v;
	int r = 0;

	for (int i = 1; i < argc; i++) {
		if (opt_value(argc, argv, &i, "--output", "-o", &v))
			outp = v;
		else if (argv[i][0] == '-' && argv[i][1])
			sfc_usage_error("unknown option %s", argv[i]);
		else if (!name)
			name = argv[i];
		else
			sfc_usage_error("export takes one container");
	}
	if (!name || !outp)
		sfc_usage_error("export needs a container and --output=FILE (- for stdout)");
	if (!strcmp(outp, "-") && isatty(1))
		sfc_usage_error("refusing to write a tar to a terminal");
	open_store();
	if (sfc_container_open(&g_store, name, &c, &e) < 0)
		sfc_die_error(&e);
	if (sfc_container_export(&c, outp, &e) < 0) {
		sfc_msg("%s", e.msg);
		r = 125;
	}
	sfc_container_close(&c);
	return r;
}

static int cmd_stats(int argc, char **argv)
{
	int status = 0;

	if (argc < 2)
		sfc_usage_error("stats needs a container name");
	open_store();
	printf("%-20s %-12s %-10s %s\n", "NAME", "MEMORY", "CPU(s)", "PIDS");
	for (int i = 1; i < argc; i++) {
		struct sfc_container c;
		struct sfc_error e = { 0 };
		uint64_t rss;
		double cpu;
		unsigned np;
		char sz[32];
		if (sfc_container_open(&g_store, argv[i], &c, &e) < 0 || sfc_container_usage(&c, &rss, &cpu, &np, &e) < 0) {
			sfc_msg("%s", e.msg);
			status = 125;
		} else {
			sfc_format_size(rss, sz, sizeof(sz));
			printf("%-20s %-12s %-10.2f %u\n", argv[i], sz, cpu, np);
		}
		sfc_container_close(&c);
	}
	return status;
}

static int cmd_images(int argc, char **argv)
{
	struct sfc_image *imgs;
	struct sfc_error e = { 0 };
	bool ids = argc > 1 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--quiet"));
	size_t n;

	open_store();
	if (sfc_store_list_images(&g_store, &imgs, &n, &e) < 0)
		sfc_die_error(&e);
	if (!ids)
		printf("%-36s %-14s %-10s %-14s %s\n", "NAME", "ID", "SIZE", "IMPORTED", "SOURCE");
	for (size_t i = 0; i < n; i++) {
		char sz[32], age[32];
		const char *hex = imgs[i].id + (strncmp(imgs[i].id, "sha256:", 7) ? 0 : 7);
		sfc_format_size(imgs[i].size, sz, sizeof(sz));
		fmt_age(imgs[i].created, age, sizeof(age));
		if (ids)
			printf("%.12s\n", hex);
		else if (!imgs[i].names.n)
			printf("%-36s %-14.12s %-10s %-14s %s\n", "<none>", hex, sz, age, imgs[i].source ? imgs[i].source : "");
		for (size_t k = 0; !ids && k < imgs[i].names.n; k++)
			printf("%-36s %-14.12s %-10s %-14s %s\n", imgs[i].names.v[k], hex, sz, age,
			       imgs[i].source ? imgs[i].source : "");
		sfc_image_free(&imgs[i]);
	}
	free(imgs);
	return 0;
}

static void cli_progress(void *data, const char *msg)
{
	if (!quiet)
		fprintf(stderr, "%s\n", msg);
}

static int cmd_import(int argc, char **argv, bool pull)
{
	struct sfc_image img;
	struct sfc_error e = { 0 };
	struct sfc_import_opts io = { .progress = cli_progress };
	const char *ref = NULL, *v;

	for (int i = 1; i < argc; i++) {
		if (opt_value(argc, argv, &i, "--name", "-t", &v) || opt_value(argc, argv, &i, "--tag", NULL, &v))
			io.name = v;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (argv[i][0] == '-')
			sfc_usage_error("unknown option %s", argv[i]);
		else if (!ref)
			ref = argv[i];
		else
			sfc_usage_error("%s takes one image reference", argv[0]);
	}
	if (!ref)
		sfc_usage_error("%s needs an image reference", argv[0]);
	if (io.name && !sfc_store_image_name_valid(io.name))
		sfc_usage_error("bad image name '%s'", io.name);
	open_store();
	if ((pull ? sfc_image_get(&g_store, ref, &io, &img, &e) : sfc_image_import(&g_store, ref, &io, &img, &e)) < 0)
		sfc_die_error(&e);
	printf("%s\n", img.id);
	sfc_image_free(&img);
	return 0;
}

static int cmd_rmi(int argc, char **argv)
{
	return remove_each(argc, argv, "rmi needs an image", sfc_store_remove_image);
}

static int cmd_clean(int argc, char **argv)
{
	struct sfc_gc_report rep;
	struct sfc_error e = { 0 };
	bool dry = false;
	char sz[32];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n"))
			dry = true;
		else
			sfc_usage_error("unknown option %s", argv[i]);
	}
	open_store();
	if (sfc_store_gc(&g_store, SFC_GC_LAYERS | SFC_GC_DANGLING | SFC_GC_TMP | SFC_GC_STOPPED, dry, &rep, &e) < 0)
		sfc_die_error(&e);
	sfc_format_size(rep.bytes, sz, sizeof(sz));
	printf("%s %zu containers, %zu images, %zu layers, %zu leftovers: %s\n", dry ? "would remove" : "removed",
	       rep.containers, rep.images, rep.layers, rep.tmp, sz);
	return 0;
}

static int cmd_build(int argc, char **argv)
{
	extern char **environ;
	struct sfc_image img;
	struct sfc_error e = { 0 };
	struct sfc_build_opts bo = { .progress = cli_progress, .caller_env = environ };
	struct sfc_sources src = { 0 };
	struct sfc_strv flags = { 0 };
	_cleanup_free_ char *file = NULL;
	const char *ctx = NULL, *v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opt_value(argc, argv, &i, "--file", "-f", &v)) {
			free(file);
			file = sfc_xstrdup(v);
		} else if (opt_value(argc, argv, &i, "--tag", "-t", &v)) {
			if (!sfc_store_image_name_valid(v))
				sfc_usage_error("bad image name '%s'", v);
			bo.tag = v;
		} else if (opt_value(argc, argv, &i, "--network", NULL, &v)) {
			if (sfc_cnet_parse(v, &bo.network) < 0 || bo.network == SFC_CNET_PASTA || bo.network == SFC_CNET_SLIRP) {
				if (sfc_cnet_parse(v, &bo.network) < 0)
					sfc_usage_error("bad network '%s'", v);
			}
		} else if (!strcmp(a, "--no-cache")) {
			bo.no_cache = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
		} else if (!strncmp(a, "--", 2) && strchr(a, '=')) {
			char name[64];
			bool known = false;
			snprintf(name, sizeof(name), "%.*s", (int)(strchr(a, '=') - a - 2), a + 2);
			for (const char *const *f = spec_flags; *f; f++)
				if (!strcmp(*f, name))
					known = true;
			if (!known)
				sfc_usage_error("unknown option %s", a);
			sfc_strv_push(&flags, a);
		} else if (a[0] == '-' && a[1]) {
			sfc_usage_error("unknown option %s", a);
		} else if (!ctx) {
			ctx = a;
		} else {
			sfc_usage_error("build takes one context directory");
		}
	}
	if (!ctx)
		sfc_usage_error("build needs a context directory (e.g. .)");
	if (!file) {
		file = sfc_xasprintf("%s/Containerfile", ctx);
		if (access(file, F_OK) < 0) {
			free(file);
			file = sfc_xasprintf("%s/Dockerfile", ctx);
		}
	}
	bo.file = file;
	bo.context = ctx;
	bo.flags = &flags;
	sfc_sources_add_environ(&src, environ);
	bo.src = &src;
	open_store();
	if (sfc_build(&g_store, &bo, &img, &e) < 0)
		sfc_die_error(&e);
	printf("%s\n", img.id);
	sfc_image_free(&img);
	sfc_strv_clear(&flags);
	sfc_sources_clear(&src);
	return 0;
}

int container_main(int argc, char **argv)
{
	SFC_TRACE_POINT("c: main");
	const char *cmd;
	int r = 0;

	if (argc < 2) {
		usage_out();
		return 125;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage_out();
		return 0;
	}
	argc--;
	argv++;
	if (!strcmp(cmd, "run"))
		r = cmd_run(argc, argv, false, false);
	else if (!strcmp(cmd, "shell"))
		r = cmd_run(argc, argv, false, true);
	else if (!strcmp(cmd, "create"))
		r = cmd_run(argc, argv, true, false);
	else if (!strcmp(cmd, "start"))
		r = cmd_start(argc, argv);
	else if (!strcmp(cmd, "stop"))
		r = cmd_stop_kill(argc, argv, false);
	else if (!strcmp(cmd, "kill"))
		r = cmd_stop_kill(argc, argv, true);
	else if (!strcmp(cmd, "rm"))
		r = cmd_rm(argc, argv);
	else if (!strcmp(cmd, "ps") || !strcmp(cmd, "list"))
		r = cmd_ps(argc, argv);
	else if (!strcmp(cmd, "inspect"))
		r = cmd_inspect(argc, argv);
	else if (!strcmp(cmd, "logs"))
		r = cmd_logs(argc, argv);
	else if (!strcmp(cmd, "exec"))
		r = cmd_exec(argc, argv);
	else if (!strcmp(cmd, "export"))
		r = cmd_export(argc, argv);
	else if (!strcmp(cmd, "stats"))
		r = cmd_stats(argc, argv);
	else if (!strcmp(cmd, "images"))
		r = cmd_images(argc, argv);
	else if (!strcmp(cmd, "import"))
		r = cmd_import(argc, argv, false);
	else if (!strcmp(cmd, "pull"))
		r = cmd_import(argc, argv, true);
	else if (!strcmp(cmd, "rmi"))
		r = cmd_rmi(argc, argv);
	else if (!strcmp(cmd, "clean"))
		r = cmd_clean(argc, argv);
	else if (!strcmp(cmd, "build"))
		r = cmd_build(argc, argv);
	else
		sfc_usage_error("unknown command '%s'", cmd);
	if (opened)
		sfc_store_close(&g_store);
	return r;
}

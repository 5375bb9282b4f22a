/*
 * timeit: interleaved A/B timing of whole commands.
 *
 *   timeit [-n ROUNDS] [-l LOOP] [-s SLEEP_MS] -- NAME [VAR=VALUE...] CMD... ';' NAME ... ';' ...
 *
 * Each round runs every command once (or LOOP times back to back), in turn,
 * so drift of the machine hits all of them alike.  Prints per command the
 * median wall time per call and, after a plain baseline if one is named
 * "baseline", the overhead over it.  Output: "NAME median_us p10_us p90_us".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cmd {
	const char *name;
	char **argv;
	double *t;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void run_once(char **argv, int devnull)
{
	pid_t p = fork();
	int st;
	if (p == 0) {
		dup2(devnull, 1);
		dup2(devnull, 2);
		/* leading VAR=VALUE words set the command's environment */
		while (argv[0] && strchr(argv[0], '=') && argv[0][0] != '/')
			putenv(*argv++);
		execvp(argv[0], argv);
		_exit(127);
	}
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "timeit: %s failed (status %d)\n", argv[0], st);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	int rounds = 30, loop = 1, sleep_ms = 0, i = 1, n = 0;
	struct cmd cmds[16];
	int devnull = open("/dev/null", O_WRONLY);

	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-n"))
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-l"))
			loop = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-s"))
			sleep_ms = atoi(argv[++i]);
	}
	for (i++; i < argc && n < 16;) {
		cmds[n].name = argv[i++];
		cmds[n].argv = &argv[i];
		while (i < argc && strcmp(argv[i], ";"))
			i++;
		if (i < argc)
			argv[i++] = NULL;
		cmds[n].t = calloc(rounds, sizeof(double));
		n++;
	}
	/* warm up: page cache, dentries */
	for (int c = 0; c < n; c++)
		for (int k = 0; k < 5; k++)
			run_once(cmds[c].argv, devnull);
	for (int r = 0; r < rounds; r++)
		for (int c = 0; c < n; c++) {
			double t0 = now();
			for (int k = 0; k < loop; k++)
				run_once(cmds[c].argv, devnull);
			cmds[c].t[r] = (now() - t0) / loop;
			if (sleep_ms)
				usleep(sleep_ms * 1000);
		}
	for (int c = 0; c < n; c++) {
		qsort(cmds[c].t, rounds, sizeof(double), cmpd);
		printf("%s %.0f %.0f %.0f\n", cmds[c].name, cmds[c].t[rounds / 2], cmds[c].t[rounds / 10],
		       cmds[c].t[rounds * 9 / 10]);
	}
	return 0;
}

/* The sandbox broker: how a command inside a sandbox gets a sandbox of
 * its own without nesting namespaces.
 *
 * A make running in a sandbox (sefaca-make, or a recursive $(MAKE) in a
 * sandboxed recipe) runs each recipe through SHELL=sefaca-shell.  Inside,
 * sefaca-shell cannot create namespaces (seccomp forbids it, and /proc is
 * masked), so it asks the supervisor outside, through a socket the
 * sandbox inherited, to run the command in a new sandbox next to it.  The
 * supervisor runs it with its OWN resolved policy: a request carries only
 * the command, its environment, its working directory and its standard
 * (and jobserver) descriptors, never settings.  So a request can only get
 * what its sender already had.
 *
 * A requester recognises a real broker by the socket's peer: a process
 * outside its own pid namespace (SO_PEERCRED pid 0), which nothing on the
 * host can fake by setting SEFACA_BROKER_FD; anything else and it builds
 * its own sandbox as usual. */
#ifndef SFC_BROKER_H
#define SFC_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

struct sfc_sandbox;

#define SFC_BROKER_ENV "SEFACA_BROKER_FD"
#define SFC_BROKER_MAXFDS 8

struct sfc_broker_request {
	char **argv, **env;   /* NULL-terminated, in BUF */
	char *cwd;
	int fds[3 + SFC_BROKER_MAXFDS]; /* 0, 1, 2 (-1 if closed), then extras */
	int targets[SFC_BROKER_MAXFDS]; /* numbers the extras had in the requester */
	int nextra;
	int conn;             /* the connection: the answer goes there */
	bool answered;        /* the function wrote the answer itself (sfc_broker_answer) */
	char *buf;
};

struct sfc_broker;
/* Give the requester its exit status now, before the function returns
 * (what remains is tear-down it need not wait for). */
void sfc_broker_answer(struct sfc_broker_request *req, int status);
/* Runs in a child process per request, with the request's 0, 1, 2 as its
 * own and the extras at their numbers; returns the requester's exit
 * status. */
typedef int (*sfc_broker_fn)(struct sfc_broker *b, struct sfc_broker_request *req, void *data);

struct sfc_broker {
	int sock;            /* ours */
	int peer;            /* the end the sandbox inherits */
	sfc_broker_fn fn;
	void *data;
	unsigned long requests; /* served so far (recipes, for sefaca-make) */
	struct { pid_t pid; int pidfd; } *kids;
	size_t nkids;
};

int sfc_broker_open(struct sfc_broker *b, sfc_broker_fn fn, void *data, struct sfc_error *e);
/* Serve SB's payload: the peer end is passed in (preserve it, see
 * sfc_broker_peer_fd) and SEFACA_BROKER_FD names it in SB's environment
 * (call after sfc_sandbox_prepare). */
void sfc_broker_attach(struct sfc_broker *b, struct sfc_sandbox *sb);
/* In a request's child: kill the sandbox SB if the requester goes away. */
void sfc_broker_watch_requester(struct sfc_sandbox *sb, struct sfc_broker_request *req);
/* Requests served so far by the brokers of this process and of the
 * sandboxes made for requests (its children): recipes, recursive ones too. */
unsigned long sfc_broker_count(void);
/* Kill and reap what is still running, close the sockets. */
void sfc_broker_close(struct sfc_broker *b);

/* Requester side.  The broker's socket from the environment, or -1 when
 * there is none we can trust (then build a sandbox as usual). */
int sfc_broker_find(void);
/* Send ARGV, the environment and the working directory, with 0, 1, 2 and
 * EXTRA (fds to pass at their numbers), and wait for the exit status.
 * Returns the status, or < 0 with E filled. */
int sfc_broker_request(int sock, char **argv, char **envp, const int *extra, int nextra, struct sfc_error *e);

/* The jobserver descriptors of a make that runs us ("--jobserver-auth=R,W"
 * in MAKEFLAGS, "--jobserver-fds" before make 4.2), if they are open here.
 * Returns how many were stored in FDS (at most 2).  A make 4.4 named-pipe
 * jobserver ("fifo:PATH") is returned in *FIFO (malloc'ed), else NULL. */
int sfc_jobserver_fds(char **envp, int fds[2], char **fifo);

#endif

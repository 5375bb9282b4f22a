/* Error objects: core code never prints or exits; it returns a negative
 * errno-style int and fills a struct sfc_error, to which callers add
 * context as it travels up.  Only the applet turns it into a message and
 * an exit status (crun's habit). */
#ifndef SFC_ERROR_H
#define SFC_ERROR_H

#include <stddef.h>

#define SFC_EXIT_SETUP 125  /* the sandbox could not be set up; nothing ran */
#define SFC_EXIT_NOEXEC 126 /* found but not executable */
#define SFC_EXIT_NOENT 127  /* command not found */
#define SFC_EXIT_TIMEOUT 124

struct sfc_error {
	int err;     /* errno of the failing call, 0 if none */
	int status;  /* exit status the applet should use (125 unless set) */
	char msg[1024];
};

/* Fill E with "FMT: strerror(ERR)" (ERR > 0) or "FMT" (ERR == 0).
 * Returns -ERR, or -EINVAL when ERR is 0, so callers can `return sfc_err(...)`. */
int sfc_err(struct sfc_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, with a specific exit status. */
int sfc_err_status(struct sfc_error *e, int status, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend "FMT: " to the message already in E. */
void sfc_err_prefix(struct sfc_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sfc_err_clear(struct sfc_error *e);

#endif

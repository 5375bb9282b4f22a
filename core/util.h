/* Small helpers shared by core/ and applets/: allocation that aborts on
 * exhaustion, string vectors, whole-file I/O, cleanup attributes. */
#ifndef SFC_UTIL_H
#define SFC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#define SFC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *sfc_xmalloc(size_t n);
void *sfc_xcalloc(size_t n, size_t m);
void *sfc_xrealloc(void *p, size_t n);
char *sfc_xstrdup(const char *s);
char *sfc_xstrndup(const char *s, size_t n);
char *sfc_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void sfc_freep(void *p) { extern void free(void *); free(*(void **)p); }
static inline void sfc_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_ __attribute__((cleanup(sfc_freep)))
#define _cleanup_close_ __attribute__((cleanup(sfc_closep)))
/* Hand ownership on: returns *pp and leaves NULL behind. */
#define sfc_steal_pointer(pp) ({ __typeof__(*(pp)) _p = *(pp); *(pp) = NULL; _p; })
#define sfc_steal_fd(fdp) ({ int _f = *(fdp); *(fdp) = -1; _f; })

/* A NULL-terminated, growable vector of owned strings. */
struct sfc_strv {
	char **v;
	size_t n, cap;
};
void sfc_strv_push(struct sfc_strv *sv, const char *s);
void sfc_strv_push_owned(struct sfc_strv *sv, char *s);
bool sfc_strv_contains(const struct sfc_strv *sv, const char *s);
void sfc_strv_remove(struct sfc_strv *sv, size_t i);
void sfc_strv_clear(struct sfc_strv *sv);
void sfc_strv_copy(struct sfc_strv *dst, const struct sfc_strv *src);
/* Split S on any character of SEPS, trimming blanks, skipping empty items. */
void sfc_strv_split(struct sfc_strv *sv, const char *s, const char *seps);

/* I/O returning -errno. */
int sfc_write_full(int fd, const void *buf, size_t len);
ssize_t sfc_read_full(int fd, void *buf, size_t len);
int sfc_write_file_at(int dirfd, const char *path, const char *data);
/* Read up to SIZE-1 bytes and NUL-terminate; returns length or -errno. */
ssize_t sfc_read_file_at(int dirfd, const char *path, char *buf, size_t size);

/* Lexically normalise an absolute path: collapse "//", "/./" and "/x/..";
 * never touches the filesystem.  Returns a new string. */
char *sfc_path_normalize(const char *path);
char *sfc_which(const char *name);
ssize_t sfc_recv_fd(int sock, char *byte, int *fd, int flags);
/* Does PATH equal PREFIX or lie beneath it (both normalised)? */
bool sfc_path_within(const char *path, const char *prefix);
/* Number of components: "/" is 0, "/a/b" is 2. */
int sfc_path_depth(const char *path);

uint64_t sfc_now_ms(void);        /* CLOCK_MONOTONIC */
double sfc_now_mono(void);        /* seconds, CLOCK_MONOTONIC */
bool sfc_str_has_suffix(const char *s, const char *suf);
bool sfc_glob_match(const char *pat, const char *s); /* '*' only, for env patterns */

/* Start-up tracing for development: build with CFLAGS=-DSFC_TRACE and run
 * with SFC_TRACE=1 to get "TS <usec> <pid> <point>" lines on stderr. */
#ifdef SFC_TRACE
void sfc_trace(const char *point);
#define SFC_TRACE_POINT(p) sfc_trace(p)
#else
#define SFC_TRACE_POINT(p) ((void)0)
#endif

#endif

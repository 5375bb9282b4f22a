/* The image and container store under $SEFACA_HOME (default ~/.sefaca):
 *
 *   images/layers/HEX/     one unpacked layer, named by the sha256 of the
 *                          blob it came from (content-addressed: unpacked once,
 *                          shared by every image that has it)
 *   images/meta/HEX.json   one image: its layers, config, names, source
 *   images/names/NAME      NAME:TAG (escaped) -> image id
 *   images/tmp/            work in progress (renamed into place when done)
 *   containers/NAME/       config.json state.json upper/ work/ *.log
 *
 * Every JSON file is written to a temporary name and renamed into place.
 * These functions are what sefaca-container and sefaca-clean call; none
 * prints or exits. */
#ifndef SFC_STORE_H
#define SFC_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/util.h"

struct sfc_store {
	char *home;       /* $SEFACA_HOME */
	char *images;     /* home/images */
	char *containers; /* home/containers */
	char *rundir;     /* $XDG_RUNTIME_DIR/sefaca, or home/run */
	int lockfd;
};

/* The parts of an image's config that a run honours (OCI image-spec
 * "config" object). */
struct sfc_image_config {
	struct sfc_strv env;        /* K=V */
	char *workdir;              /* WorkingDir, NULL if unset */
	char *user;                 /* User, NULL if unset */
	struct sfc_strv entrypoint; /* Entrypoint */
	struct sfc_strv cmd;        /* Cmd */
	struct sfc_strv labels;     /* K=V */
	char *os, *arch;
};

struct sfc_image {
	char *id;                   /* "sha256:HEX" */
	char *source;               /* the reference it was imported from */
	struct sfc_strv layers;     /* layer HEX names, bottom first */
	struct sfc_strv names;      /* NAME:TAG */
	struct sfc_image_config config;
	uint64_t size;              /* bytes unpacked (sum of the layers) */
	int64_t created;            /* import time, seconds since the epoch */
};

void sfc_image_config_free(struct sfc_image_config *c);
void sfc_image_free(struct sfc_image *img);

/* Open the store (creating its directories).  HOME NULL: $SEFACA_HOME or
 * ~/.sefaca. */
int sfc_store_open(struct sfc_store *st, const char *home, struct sfc_error *e);
void sfc_store_close(struct sfc_store *st);
/* An exclusive (or shared) lock over the store, for gc against imports. */
int sfc_store_lock(struct sfc_store *st, bool exclusive, struct sfc_error *e);
void sfc_store_unlock(struct sfc_store *st);

/* images/layers/HEX, and whether it is there. */
char *sfc_store_layer_path(const struct sfc_store *st, const char *hex);
bool sfc_store_has_layer(const struct sfc_store *st, const char *hex);
/* A fresh directory under images/tmp (for an unpack in progress). */
int sfc_store_mktemp(const struct sfc_store *st, const char *prefix, char **path, struct sfc_error *e);
/* Move a finished unpack to images/layers/HEX.  If another process got
 * there first, TMP is removed and theirs is kept (same content). */
int sfc_store_commit_layer(const struct sfc_store *st, const char *tmp, const char *hex, struct sfc_error *e);

/* Image metadata. */
int sfc_store_save_image(const struct sfc_store *st, const struct sfc_image *img, struct sfc_error *e);
int sfc_store_load_image(const struct sfc_store *st, const char *id, struct sfc_image *img, struct sfc_error *e);
/* NAME[:TAG] (":latest" when omitted), or an id or unique id prefix.
 * Returns 1 and fills IMG if found, 0 if not, < 0 on error. */
int sfc_store_find_image(const struct sfc_store *st, const char *ref, struct sfc_image *img, struct sfc_error *e);
/* Point NAME[:TAG] at image ID (moving it from any other image). */
int sfc_store_tag_image(const struct sfc_store *st, const char *name, const char *id, struct sfc_error *e);
int sfc_store_list_images(const struct sfc_store *st, struct sfc_image **out, size_t *n, struct sfc_error *e);
/* Remove an image (by name: only the name, and the image when no name is
 * left; by id: the image and all its names).  Layers stay until gc.
 * Refuses while a container uses it unless FORCE. */
int sfc_store_remove_image(const struct sfc_store *st, const char *ref, bool force, struct sfc_error *e);
/* Normalise NAME[:TAG] ("busybox" -> "busybox:latest"); NULL if invalid. */
char *sfc_store_image_name(const char *ref);
bool sfc_store_image_name_valid(const char *ref);

/* Containers (see core/container.h for the rest of the lifecycle). */
enum sfc_cstate { SFC_C_CREATED, SFC_C_RUNNING, SFC_C_PAUSED, SFC_C_EXITED, SFC_C_FAILED };
const char *sfc_cstate_name(enum sfc_cstate s);

struct sfc_container_info {
	char *name, *id, *image, *image_id, *command;
	enum sfc_cstate state;
	int exit_code;              /* -1 if not exited */
	pid_t monitor_pid, init_pid;
	uint64_t monitor_start;     /* its start time (/proc/PID/stat), against pid reuse */
	int64_t created, started, finished;
	int restarts;
	char *error;                /* why it failed, NULL if it did not */
	struct sfc_strv layers;     /* the image layers it runs on */
	uint64_t disk_usage;        /* bytes in upper/ (0 unless asked for) */
};
void sfc_container_info_free(struct sfc_container_info *c);
/* Every container, its state reconciled with reality first: a container
 * recorded as running whose monitor is gone (crash, reboot) is recorded
 * as failed, atomically. */
int sfc_store_list_containers(const struct sfc_store *st, struct sfc_container_info **out, size_t *n,
			      struct sfc_error *e);
/* Remove a stopped container (FORCE: kill it first). */
int sfc_store_remove_container(const struct sfc_store *st, const char *name, bool force, struct sfc_error *e);

/* Garbage collection for sefaca-clean: what to remove. */
#define SFC_GC_LAYERS 0x1   /* layers no image references */
#define SFC_GC_DANGLING 0x2 /* images with no name that no container uses */
#define SFC_GC_TMP 0x4      /* leftovers of interrupted imports (not in use) */
#define SFC_GC_STOPPED 0x8  /* containers that are exited or failed */
struct sfc_gc_report {
	size_t layers, images, tmp, containers;
	uint64_t bytes;
};
/* DRY_RUN: count, remove nothing. */
int sfc_store_gc(const struct sfc_store *st, unsigned what, bool dry_run, struct sfc_gc_report *rep,
		 struct sfc_error *e);

/* ---- helpers shared by the image and container code ---- */
/* Write DATA to DIR/NAME atomically (temp + rename). */
int sfc_store_write_atomic(const char *dir, const char *name, const char *data, struct sfc_error *e);
/* Read a whole (small) file; NULL with E filled on error (ENOENT: e->err). */
char *sfc_store_read_file(const char *path, size_t max, struct sfc_error *e);
/* rm -rf DIRFD/NAME without following symlinks; directories without
 * write permission are made writable first. */
int sfc_rm_rf_at(int dirfd, const char *name);
int sfc_rm_rf(const char *path);
/* Bytes used under a directory (no symlinks followed). */
uint64_t sfc_du(const char *path);
/* "sha256:" + 64 lower-case hex digits? */
bool sfc_digest_valid(const char *d);
/* SHA-256 of a file; HEX gets 64 digits and a NUL. */
int sfc_sha256_file(int fd, char hex[65], struct sfc_error *e);
void sfc_sha256_hex(const void *data, size_t len, char hex[65]);
/* Is PID alive and the same process that started at START (from /proc)? */
bool sfc_pid_alive(pid_t pid, uint64_t start);
uint64_t sfc_pid_starttime(pid_t pid);

#endif

/* Image references, imports into the store, and the safe layer unpacker.
 *
 *   host                 the host's system directories, read-only (no image)
 *   dir:ROOTFS           a directory used in place as the only layer
 *   oci:DIR[:TAG]        an OCI image layout (skopeo, umoci, buildah)
 *   oci-archive:FILE     a tar of an OCI image layout
 *   docker-archive:FILE  `docker save` / `podman save` / skopeo's docker-archive
 *   tar:FILE             a root filesystem tarball (.tar, .gz, .xz, .zst)
 *   docker://REF         pulled with skopeo, when installed
 *   NAME[:TAG]           an image imported under that name, else docker://NAME */
#ifndef SFC_IMAGE_H
#define SFC_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"

enum sfc_ref_kind {
	SFC_REF_HOST,
	SFC_REF_DIR,
	SFC_REF_OCI,
	SFC_REF_OCI_ARCHIVE,
	SFC_REF_DOCKER_ARCHIVE,
	SFC_REF_TAR,
	SFC_REF_DOCKER,
	SFC_REF_NAME,
};

struct sfc_imgref {
	enum sfc_ref_kind kind;
	char *path; /* DIR, FILE, ROOTFS, the docker REF or the NAME */
	char *tag;  /* oci:DIR:TAG */
};
int sfc_imgref_parse(const char *ref, struct sfc_imgref *out, struct sfc_error *e);
void sfc_imgref_free(struct sfc_imgref *r);
const char *sfc_ref_kind_name(enum sfc_ref_kind k);

/* Default cap on what one image may unpack to (SECURITY.md 11: size
 * bombs); SEFACA_IMAGE_MAX_SIZE overrides it. */
#define SFC_IMAGE_MAX_SIZE_DEFAULT (32ULL << 30)
#define SFC_IMAGE_MAX_ENTRIES (4u << 20)

struct sfc_import_opts {
	uint64_t max_size;      /* 0: default */
	const char *name;       /* NAME[:TAG] to give the image, or NULL */
	/* progress for imports that take more than a moment ("layer 2/5"); may be NULL */
	void (*progress)(void *data, const char *msg);
	void *data;
};

/* Import REF (not host or dir:) into the store; IMG is the stored image.
 * Layers already in the store are not unpacked again. */
int sfc_image_import(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o, struct sfc_image *img,
		     struct sfc_error *e);
/* For a run: NAME[:TAG] and ids from the store, anything else imported
 * (or found already imported). */
int sfc_image_get(struct sfc_store *st, const char *ref, const struct sfc_import_opts *o, struct sfc_image *img,
		  struct sfc_error *e);

/* What one unpack did. */
struct sfc_unpack_stats {
	uint64_t bytes, entries;
	unsigned devices_dropped, setid_dropped, whiteouts, opaque, skipped;
};
struct sfc_unpack_opts {
	uint64_t max_size;      /* cap on bytes (with *used) */
	uint64_t *used;         /* running total over the layers of one image; may be NULL */
	bool layer;             /* apply whiteouts (.wh.*) and opaque markers */
	const char *expect_hex; /* sha256 the raw stream must have, or NULL */
	char *got_hex;          /* 65 bytes: the sha256 of the raw stream, or NULL */
	struct sfc_unpack_stats stats;
};
/* Unpack the archive read from FD (tar, plain or compressed) into the
 * directory ROOTFD.  No entry can create or change anything outside it
 * (SECURITY.md 11): paths with ".." are refused, absolute paths are taken
 * relative to it, nothing is created through a symlink, hard links must
 * point at files of the same tree, device nodes are dropped, setuid and
 * setgid bits cleared, and the size is capped. */
int sfc_unpack(int fd, int rootfd, const char *what, struct sfc_unpack_opts *o, struct sfc_error *e);

#endif

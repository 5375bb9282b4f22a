/* OCI image layouts, manifests and configs, and docker-archive's
 * manifest.json, read with json-c (image-spec v1: image-layout.md,
 * image-index.md, manifest.md, config.md). */
#ifndef SFC_OCI_H
#define SFC_OCI_H

#include <stdbool.h>
#include <stdint.h>

#include "autoconf.h"
#include "core/error.h"
#include "core/store.h"
#include "core/util.h"

#if ENABLE_FEATURE_IMAGES
#include <json-c/json.h>

/* json-c helpers shared by the store and the container state files. */
const char *sfc_json_str(json_object *o, const char *key);
int64_t sfc_json_int(json_object *o, const char *key, int64_t dflt);
bool sfc_json_bool(json_object *o, const char *key);
void sfc_json_add_str(json_object *o, const char *key, const char *v);
json_object *sfc_json_from_strv(const struct sfc_strv *v);
/* Array of strings -> strv; an object of string values -> "K=V" items. */
void sfc_json_to_strv(json_object *a, struct sfc_strv *out);
/* The "config" object of an image config (Env, WorkingDir, User...). */
void sfc_json_image_config(json_object *c, struct sfc_image_config *out);
#endif

/* A content descriptor. */
struct sfc_oci_desc {
	char *media_type;
	char *digest; /* "sha256:HEX", validated */
	int64_t size;
};

struct sfc_oci_manifest {
	struct sfc_oci_desc config;
	struct sfc_oci_desc *layers; /* bottom first */
	size_t nlayers;
};
void sfc_oci_manifest_free(struct sfc_oci_manifest *m);

/* Which manifest of an index.json (or nested image index) to use:
 * the one whose org.opencontainers.image.ref.name is TAG (NULL: the only
 * one, or "latest").  Nested indexes choose linux and this machine's
 * architecture.  LOAD reads a blob by digest (at most MAX bytes). */
typedef char *(*sfc_oci_loader)(void *data, const char *digest, struct sfc_error *e);
int sfc_oci_resolve(const char *index_json, const char *tag, sfc_oci_loader load, void *data,
		    struct sfc_oci_manifest *out, struct sfc_error *e);
/* Parse an image manifest. */
int sfc_oci_parse_manifest(const char *json, struct sfc_oci_manifest *out, struct sfc_error *e);
/* Parse an image config blob. */
int sfc_oci_parse_config(const char *json, struct sfc_image_config *out, struct sfc_error *e);
/* Is MEDIA_TYPE a layer we can unpack (tar, optionally gzip/zstd)? */
bool sfc_oci_layer_type_ok(const char *media_type);

/* docker-archive manifest.json: the entry for TAG (NULL: the first). */
struct sfc_docker_manifest {
	char *config;           /* path inside the archive */
	struct sfc_strv layers; /* paths inside the archive, bottom first */
	struct sfc_strv tags;   /* RepoTags */
};
void sfc_docker_manifest_free(struct sfc_docker_manifest *m);
int sfc_docker_parse_manifest(const char *json, const char *tag, struct sfc_docker_manifest *out,
			      struct sfc_error *e);

/* GOARCH name of this machine ("amd64", "arm64"...). */
const char *sfc_oci_arch(void);

#endif

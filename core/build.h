/* sefaca-container build: an image from a Containerfile (FROM, RUN, COPY,
 * ADD (local files), ENV, WORKDIR, USER, LABEL, CMD, ENTRYPOINT).  Each
 * RUN runs in a container on the layers so far; its upper directory
 * becomes the next layer.  Layers are named by a hash of the parent and
 * the instruction (and, for COPY, the content copied), so an unchanged
 * prefix of a Containerfile is not run again. */
#ifndef SFC_BUILD_H
#define SFC_BUILD_H

#include <stdbool.h>

#include "core/container.h"
#include "core/error.h"
#include "core/store.h"

struct sfc_build_opts {
	const char *file;          /* the Containerfile */
	const char *context;       /* the build context directory */
	const char *tag;           /* NAME[:TAG] for the result, or NULL */
	const struct sfc_strv *flags; /* sandbox flags for RUN ("--memory=2g"...) */
	enum sfc_cnet network;     /* network of RUN steps (default none) */
	bool no_cache;
	struct sfc_sources *src;
	char **caller_env;
	void (*progress)(void *data, const char *msg);
	void *data;
};

int sfc_build(struct sfc_store *st, const struct sfc_build_opts *o, struct sfc_image *out, struct sfc_error *e);

#endif

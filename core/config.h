/* INI configuration files, read with inih, into the profiles of struct
 * sfc_sources (core/spec.h).
 *
 * Files, later overriding earlier: /etc/sefaca/config.ini,
 * $SEFACA_HOME/config.ini ($SEFACA_HOME defaults to ~/.sefaca), then
 * $SEFACA_CONFIG or --config=FILE.  None is required.  Sections:
 *
 *   [default]        every run
 *   [preset.NAME]    --preset=NAME   (overrides a built-in preset key by key)
 *   [policy.NAME]    --policy=NAME
 *   [env.NAME]       --env=NAME      (sefaca-container's environments)
 *
 * Every key is a spec key (core/spec.c); lists are comma-separated and may
 * continue on indented lines.  An unknown section or key, a bad value, a
 * duplicate key or section and a syntax error are errors "FILE:LINE: ...";
 * nothing is ignored silently. */
#ifndef SFC_CONFIG_H
#define SFC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/spec.h"

#define SFC_CONFIG_SYSTEM "/etc/sefaca/config.ini"
#define SFC_CONFIG_MAX_SIZE (1 << 20)

/* Load one file.  MISSING_OK: a file that does not exist is not an error.
 * CTX gives $HOME, $TMPDIR and the current directory for checking path
 * values.  Returns 1 if loaded, 0 if missing (and MISSING_OK), < 0 on error. */
int sfc_config_load_file(struct sfc_sources *src, const char *path, bool missing_ok, const struct sfc_spec *ctx,
			 struct sfc_error *e);
/* Load INI text NAME (for messages) of LEN bytes. */
int sfc_config_load_buffer(struct sfc_sources *src, const char *name, const char *text, size_t len,
			   const struct sfc_spec *ctx, struct sfc_error *e);

/* $SEFACA_HOME (relative to CWD if relative), else $HOME/.sefaca, from
 * ENV; NULL if neither is set.  Returns a new string. */
char *sfc_config_home(char **env, const char *cwd);

struct sfc_config_request {
	char **files;    /* --config=FILE..., in order (NULL-terminated, may be NULL) */
	bool no_config;  /* --no-config: skip the system and user files and $SEFACA_CONFIG */
};
/* The standard sequence: the system and user files (unless no_config),
 * then --config files or else $SEFACA_CONFIG, then the SEFACA_*
 * variables of CTX->caller_env.  Files loaded are appended to LOADED
 * (for --explain) when it is not NULL. */
int sfc_config_load_all(struct sfc_sources *src, const struct sfc_config_request *req, const struct sfc_spec *ctx,
			struct sfc_strv *loaded, struct sfc_error *e);

/* Is configuration file support compiled in? */
bool sfc_config_compiled(void);

#endif

/* The payload's environment. */
#ifndef SFC_ENV_H
#define SFC_ENV_H

#include <stdbool.h>

#include "core/spec.h"

/* Variables a default-level sandbox does not pass on: secrets and loader
 * variables (DESIGN.md).  NULL-terminated glob list. */
extern const char *const sfc_env_secret_patterns[];
bool sfc_env_is_secret(const char *name);

/* Build the environment for SPEC from spec->caller_env:
 *   env_clear:  only PATH HOME TERM LANG TZ and keep_env;
 *   env_filter: everything but secrets and loader variables, unless kept;
 *   then unsetenv, then setenv.  PWD is set to WORKDIR when given. */
void sfc_env_build(const struct sfc_spec *spec, const char *workdir, struct sfc_strv *out);
/* Value of NAME in a NULL-terminated environment, or NULL. */
const char *sfc_env_get(char *const *env, const char *name);
/* Set or replace NAME=VALUE in OUT. */
void sfc_env_set(struct sfc_strv *out, const char *name, const char *value);

#endif

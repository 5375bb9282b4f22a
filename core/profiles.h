/* Built-in presets (seed 001), policies (seed 002) and container
 * environments (seed 000).  They reach resolution through the weak hook
 * sfc_builtin_profile_extra() of core/spec.c; a config section of the
 * same name overrides them key by key. */
#ifndef SFC_PROFILES_H
#define SFC_PROFILES_H

#include <stdbool.h>

#include "core/spec.h"

/* Names of the built-in profiles of KIND ("preset", "policy", "env"),
 * NULL-terminated; an empty list for other kinds. */
const char *const *sfc_profiles_builtin(const char *kind);
/* One line describing a built-in profile, for --explain; NULL if unknown. */
const char *sfc_profiles_describe(const char *kind, const char *name);

bool sfc_builtin_profile_extra(const char *kind, const char *name, struct sfc_settings *out);

#endif

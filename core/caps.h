/* Capabilities: every set emptied before the payload runs. */
#ifndef SFC_CAPS_H
#define SFC_CAPS_H

#include "core/error.h"

/* Empty the effective, permitted, inheritable, ambient and bounding sets
 * of the calling process (needs CAP_SETPCAP for the bounding set, which
 * the sandbox's init has in its user namespace). */
int sfc_caps_drop_all(struct sfc_error *e);

#endif

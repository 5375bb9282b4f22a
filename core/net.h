/* Network namespace setup done inside the sandbox. */
#ifndef SFC_NET_H
#define SFC_NET_H

#include "core/error.h"

/* Bring up "lo" in the current (new) network namespace. */
int sfc_net_loopback_up(struct sfc_error *e);

#endif

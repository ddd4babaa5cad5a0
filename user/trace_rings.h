/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GMA_TRACE_RINGS_H
#define GMA_TRACE_RINGS_H

#include "trace_helpers.h"

/* gma-trace rings: the live trace of a VM's virtqueues. */
int cmd_rings(int argc, char **argv, struct env *env);
/* gma-trace ring: one queue's state decoded from userspace. */
int cmd_ring(int argc, char **argv, struct env *env);

#endif /* GMA_TRACE_RINGS_H */

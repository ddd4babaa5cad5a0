/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Request queues and receive queues (queue_kind.c says which is which, and why it matters).
 * Internal to libgma.
 */
#ifndef GMA_QUEUE_KIND_H
#define GMA_QUEUE_KIND_H

#include <linux/types.h>
#include <stdbool.h>

/* Whether queue of a device of type device_id (VIRTIO_ID_*) is a receive queue by the spec. */
bool qk_receive_by_index(__u32 device_id, __u32 queue);
/* "receive" or "request" */
const char *qk_name(bool receive);

#endif /* GMA_QUEUE_KIND_H */

/* SPDX-License-Identifier: GPL-2.0 */
/* The demo guest's virtio traffic (io.c). */
#ifndef GMA_DEMO_GUEST_IO_H
#define GMA_DEMO_GUEST_IO_H

#include <stdint.h>

/* Probes and sets up the virtio devices; @req_pace 0 leaves them alone. */
void io_init(uint32_t req_pace);
/* Called once per heartbeat: polls completions, issues the next step every req_pace beats. */
void io_tick(uint32_t tick);

#endif /* GMA_DEMO_GUEST_IO_H */

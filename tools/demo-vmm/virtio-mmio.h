/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-mmio transport of the demo VMM (modern, version 2; legacy, version 1, with
 * --legacy): a register window per device, no interrupts. Devices are in virtio-dev.c.
 */
#ifndef GMA_DEMO_VIRTIO_MMIO_H
#define GMA_DEMO_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "virtio-dev.h"

/* Creates a device of model @m with its register window at @base on @mmio, and logs it. */
int virtio_mmio_add(struct virtio_host *h, struct bus *mmio, enum virtio_model m, uint64_t base,
		    bool legacy);

#endif /* GMA_DEMO_VIRTIO_MMIO_H */

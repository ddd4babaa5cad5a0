// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The virtio-mmio register state machine (bpf/virtio_mmio_regs.h, the same code the tracer
 * runs in BPF) over random access sequences: no access may reach outside the device model,
 * and every action names a queue the caller can use safely.
 */
#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gma/record.h>
#include "tracer_maps.h"
#include "virtio_mmio_regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gma_tracer_virtio_dev dev;

	memset(&dev, 0, sizeof(dev));
	for (size_t i = 0; i + 7 <= size; i += 7) {
		/* an aligned 32-bit register in the window, as the tracer passes them */
		__u32 off = (data[i] | data[i + 1] << 8) & (GMA_VIRTIO_MMIO_WINDOW - 4);
		__u32 val, q = ~0u;
		bool write = data[i + 2] & 1;
		enum mmio_action act;

		memcpy(&val, data + i + 3, 4);
		act = virtio_mmio_access(&dev, off, val, write, &q);
		switch (act) {
		case MMIO_QUEUE_READY:
			if (q >= GMA_TRACER_QUEUES_MAX || !(dev.q[q].flags & GMA_QUEUE_READY))
				abort();
			break;
		case MMIO_NOTIFY:
			if (!write || off != VIRTIO_MMIO_QUEUE_NOTIFY || q != val)
				abort();
			break;
		case MMIO_DEVICE_CHANGED:
		case MMIO_SCAN_USED:
		case MMIO_NONE:
			break;
		}
		if (dev.status == 0 && write && off == VIRTIO_MMIO_STATUS)
			for (int k = 0; k < GMA_TRACER_QUEUES_MAX; k++)
				if (dev.q[k].num || dev.q[k].flags)
					abort(); /* reset must forget every queue */
	}
	return 0;
}

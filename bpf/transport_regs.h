/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every VirtIO transport shares: the answer a register access gives its caller (enum
 * mmio_action), and the device-level registers each transport has in its own place, with one
 * meaning (VirtIO 1.x 2.1 device status, 2.2 feature bits, and a queue made ready). The
 * virtio-mmio rules (virtio_mmio_regs.h) and the virtio-pci ones (virtio_pci_regs.h) both
 * build on it, so neither transport depends on the other and the rest of the tracer sees one
 * device model (struct gma_tracer_virtio_dev, tracer.h) whichever transport fed it.
 *
 * Pure code over guest-written values, compiled into the tracer (BPF) and into userspace (the
 * unit tests and fuzz targets that drive the transports).
 */
#ifndef GMA_TRANSPORT_REGS_H
#define GMA_TRANSPORT_REGS_H

#include "compiler.h"
#include <gma/record.h>
#include "tracer_maps.h"

/*
 * Feature bits (VirtIO 1.x 6) that change how a queue is read. The uapi headers that hold them
 * (<linux/virtio_ring.h>, <linux/virtio_config.h>) pull in <linux/types.h>, which BPF cannot
 * include beside vmlinux.h; spelt as they spell them, so a userspace file may include both.
 */
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_RING_PACKED 34

/*
 * What an access asks the caller to do. Named for the register accesses it answers (KVM's
 * kvm_mmio), it is every transport's answer: virtio-pci's port accesses give the same.
 */
enum mmio_action {
	MMIO_NONE,
	MMIO_NOTIFY, /* sample queue *q */
	MMIO_SCAN_USED, /* look at the device's used rings (interrupt handling) */
	MMIO_DEVICE_CHANGED, /* device id or status changed: report it */
	MMIO_QUEUE_READY, /* queue *q became ready: report its layout */
};

/* A 64-bit register written as two 32-bit halves, as both transports' queue addresses are. */
static __always_inline void set_lo(__u64 *v, __u32 lo)
{
	*v = (*v & ~0xffffffffULL) | lo;
}

static __always_inline void set_hi(__u64 *v, __u32 hi)
{
	*v = (*v & 0xffffffffULL) | ((__u64)hi << 32);
}

/*
 * The device status register, as every transport has it: 0 resets the device, its queues
 * are gone.
 */
static __always_inline enum mmio_action virtio_dev_set_status(struct gma_tracer_virtio_dev *dev,
							      __u32 val)
{
	dev->status = val;
	if (!val)
		for (__u32 i = 0; i < GMA_TRACER_QUEUES_MAX; i++) {
			/* opaque to clang: it would make the loop a memset, which BPF has not */
			__asm__ __volatile__("" : "+r"(i));
			dev->q[i & (GMA_TRACER_QUEUES_MAX - 1)] = (struct gma_tracer_vq_state){};
		}
	return MMIO_DEVICE_CHANGED;
}

/* 32 bits of the driver features, the half dfeatures_sel selects. */
static __always_inline enum mmio_action virtio_dev_set_features(struct gma_tracer_virtio_dev *dev,
								__u32 val)
{
	if (dev->dfeatures_sel == 0)
		set_lo(&dev->driver_features, val);
	else if (dev->dfeatures_sel == 1)
		set_hi(&dev->driver_features, val);
	return MMIO_NONE;
}

/* A queue made ready starts empty: both indices at 0, as the spec requires of the driver. */
static __always_inline enum mmio_action virtio_dev_queue_ready(struct gma_tracer_virtio_dev *dev,
							       struct gma_tracer_vq_state *vq)
{
	vq->flags |= GMA_QUEUE_READY;
	if (dev->driver_features & (1ULL << VIRTIO_F_RING_PACKED))
		vq->flags |= GMA_QUEUE_PACKED;
	if (dev->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX))
		vq->flags |= GMA_QUEUE_EVENT_IDX;
	vq->last_avail = vq->last_used = 0;
	vq->avail_known = vq->used_known = 1;
	return MMIO_QUEUE_READY;
}

#endif /* GMA_TRANSPORT_REGS_H */

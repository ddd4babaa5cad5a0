/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtio-mmio register state machine: what one guest access to a device's registers
 * changes in the tracer's model of the device (struct gma_tracer_virtio_dev, tracer.h), and what the
 * caller must do about it. Pure code over guest-written values, compiled into the tracer
 * (BPF) and into the fuzz target that feeds it random access sequences (tests/fuzz/).
 */
#ifndef GMA_VIRTIO_MMIO_REGS_H
#define GMA_VIRTIO_MMIO_REGS_H

#include "compiler.h"
#include <gma/record.h>
#include "vring_walk.h"
#include "tracer_maps.h"
#include "transport_regs.h" /* enum mmio_action, the device status and features */

/*
 * The register offsets (VirtIO 1.x 4.2.2, 4.2.4 for the legacy ones) from the kernel's uapi
 * header: plain #defines that need no <linux/types.h>, so BPF includes it beside vmlinux.h as
 * userspace does. They are the spec's ABI, never CO-RE. The window's size, which the header
 * does not give, is GMA_VIRTIO_MMIO_WINDOW (<gma/record.h>: a device's key is its base).
 */
#include <linux/virtio_mmio.h>

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt", the value at VIRTIO_MMIO_MAGIC_VALUE */

/* The window a guest physical address falls in (its device's key), and the offset in it. */
static __always_inline __u64 virtio_mmio_base(__u64 gpa)
{
	return gpa & ~(__u64)(GMA_VIRTIO_MMIO_WINDOW - 1);
}

static __always_inline __u32 virtio_mmio_off(__u64 gpa)
{
	return gpa & (GMA_VIRTIO_MMIO_WINDOW - 1);
}

/* Whether a first access to an unknown window shows a virtio-mmio device: its magic read. */
static __always_inline bool virtio_mmio_is_probe(__u32 off, __u32 val, bool write)
{
	return !write && off == VIRTIO_MMIO_MAGIC_VALUE && val == VIRTIO_MMIO_MAGIC;
}

/* The split ring's legacy layout (VirtIO 1.x 2.7.2 "Legacy Interfaces"): from the PFN. */
static __always_inline void legacy_layout(struct gma_tracer_vq_state *vq, __u64 pfn, __u32 page,
					  __u32 align)
{
	if (!page || (page & (page - 1)))
		page = 4096;
	vq->desc = pfn * page;
	gma_vring_legacy_layout(vq->desc, vq->num, align, &vq->driver, &vq->device);
}

/* A read by the driver: val is the device's answer, which the model learns from. */
static __always_inline enum mmio_action virtio_mmio_read(struct gma_tracer_virtio_dev *dev,
							 __u32 off, __u32 val)
{
	switch (off) {
	case VIRTIO_MMIO_VERSION:
		dev->version = val;
		return MMIO_NONE;
	case VIRTIO_MMIO_DEVICE_ID:
		if (dev->device_id == val)
			return MMIO_NONE;
		dev->device_id = val;
		return MMIO_DEVICE_CHANGED;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return MMIO_SCAN_USED;
	}
	return MMIO_NONE;
}

/*
 * A write to the registers of queue vq (dev->queue_sel's): its layout, or whether it is ready.
 * Other offsets are not the queue's: nothing to do.
 */
static __always_inline enum mmio_action virtio_mmio_queue_write(struct gma_tracer_virtio_dev *dev,
								struct gma_tracer_vq_state *vq,
								__u32 off, __u32 val)
{
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		vq->num = val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		set_lo(&vq->desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_hi(&vq->desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		set_lo(&vq->driver, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_hi(&vq->driver, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		set_lo(&vq->device, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_hi(&vq->device, val);
		break;
	case VIRTIO_MMIO_QUEUE_ALIGN:
		dev->queue_align = val; /* applies when QueuePFN is written */
		break;
	case VIRTIO_MMIO_QUEUE_PFN:
		if (!val) {
			*vq = (struct gma_tracer_vq_state){};
			break;
		}
		legacy_layout(vq, val, dev->guest_page_size, dev->queue_align);
		vq->flags |= GMA_QUEUE_LEGACY;
		return virtio_dev_queue_ready(dev, vq);
	case VIRTIO_MMIO_QUEUE_READY:
		if (!val) {
			vq->flags &= ~GMA_QUEUE_READY;
			break;
		}
		return virtio_dev_queue_ready(dev, vq);
	}
	return MMIO_NONE;
}

/*
 * Applies one 32-bit access at offset off of the device's window. *q receives the queue an
 * action is about. Queue registers address dev->queue_sel; a selector past GMA_TRACER_QUEUES_MAX is
 * remembered but its queue is not followed.
 */
static __always_inline enum mmio_action
virtio_mmio_access(struct gma_tracer_virtio_dev *dev, __u32 off, __u32 val, bool write, __u32 *q)
{
	__u32 qi;

	if (!write)
		return virtio_mmio_read(dev, off, val);
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		*q = val;
		return MMIO_NOTIFY;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		return MMIO_SCAN_USED;
	case VIRTIO_MMIO_STATUS:
		return virtio_dev_set_status(dev, val);
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->dfeatures_sel = val;
		return MMIO_NONE;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		return virtio_dev_set_features(dev, val);
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
		dev->guest_page_size = val;
		return MMIO_NONE;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = val;
		return MMIO_NONE;
	}
	if (dev->queue_sel >= GMA_TRACER_QUEUES_MAX)
		return MMIO_NONE; /* a queue this tracer does not follow */
	qi = dev->queue_sel & (GMA_TRACER_QUEUES_MAX - 1);
	*q = qi;
	return virtio_mmio_queue_write(dev, &dev->q[qi], off, val);
}

#endif /* GMA_VIRTIO_MMIO_REGS_H */

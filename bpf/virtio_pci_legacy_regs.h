/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The legacy interface of a VirtIO PCI function (VirtIO 1.x 4.1.4.8), which legacy and
 * transitional devices have and drivers older than VirtIO 1.0 use: one I/O BAR of registers
 * (QUEUE_SEL, QUEUE_NUM, QUEUE_PFN, QUEUE_NOTIFY, STATUS, GUEST_FEATURES), each queue's split
 * ring in the legacy layout at a page frame, and, while MSI-X is enabled, two vector
 * registers that push the device configuration from 20 to 24. What one guest access changes
 * in the tracer's model, and what the caller must do about it. The function itself is found
 * as a modern one is (virtio_pci_modern_regs.h), its I/O BAR by pci_config_regs.h.
 *
 * Offsets are the spec's, fixed, never CO-RE; spelt here, as <linux/virtio_pci.h> pulls in
 * <linux/types.h>, which vmlinux.h conflicts with. Pure code, compiled into the tracer (BPF,
 * virtio_pci.bpf.h) and userspace (the unit test, the fuzz target).
 */
#ifndef GMA_VIRTIO_PCI_LEGACY_REGS_H
#define GMA_VIRTIO_PCI_LEGACY_REGS_H

#include "compiler.h"
#include <gma/record.h>
#include "vring_walk.h"
#include "tracer_maps.h"
#include "transport_regs.h" /* enum mmio_action, set_lo, the device status */
#include "pci_msix_regs.h" /* whether MSI-X is enabled, the queues' vectors */

/* The legacy I/O BAR (VirtIO 1.x 4.1.4.8) */
#define VIRTIO_PCI_LEGACY_GUEST_FEATURES 4
#define VIRTIO_PCI_LEGACY_QUEUE_PFN 8
#define VIRTIO_PCI_LEGACY_QUEUE_NUM 12
#define VIRTIO_PCI_LEGACY_QUEUE_SEL 14
#define VIRTIO_PCI_LEGACY_QUEUE_NOTIFY 16
#define VIRTIO_PCI_LEGACY_STATUS 18
#define VIRTIO_PCI_LEGACY_ISR 19
#define VIRTIO_MSI_CONFIG_VECTOR 20 /* only while MSI-X is enabled */
#define VIRTIO_MSI_QUEUE_VECTOR 22
#define VIRTIO_PCI_LEGACY_ALIGN 4096
#define VIRTIO_PCI_LEGACY_PFN_SHIFT 12

/* An access to the legacy I/O BAR at off. *q receives the queue an action is about. */
static __always_inline enum mmio_action virtio_pci_legacy_access(struct gma_tracer_virtio_dev *dev,
								 __u32 off, __u32 val, bool write,
								 __u32 *q)
{
	struct gma_tracer_vq_state *vq;
	__u32 qi;

	if (!write) {
		if (off == VIRTIO_PCI_LEGACY_QUEUE_NUM && dev->queue_sel < GMA_TRACER_QUEUES_MAX)
			dev->q[dev->queue_sel & (GMA_TRACER_QUEUES_MAX - 1)].num = val & 0xffff;
		return off == VIRTIO_PCI_LEGACY_ISR ? MMIO_SCAN_USED : MMIO_NONE;
	}
	switch (off) {
	case VIRTIO_PCI_LEGACY_QUEUE_NOTIFY:
		*q = val & 0xffff;
		return MMIO_NOTIFY;
	case VIRTIO_PCI_LEGACY_GUEST_FEATURES:
		set_lo(&dev->driver_features, val);
		return MMIO_NONE;
	case VIRTIO_PCI_LEGACY_STATUS:
		return virtio_dev_set_status(dev, val & 0xff);
	case VIRTIO_PCI_LEGACY_QUEUE_SEL:
		dev->queue_sel = val & 0xffff;
		return MMIO_NONE;
	case VIRTIO_PCI_LEGACY_QUEUE_PFN:
		if (dev->queue_sel >= GMA_TRACER_QUEUES_MAX)
			return MMIO_NONE;
		qi = dev->queue_sel & (GMA_TRACER_QUEUES_MAX - 1);
		vq = &dev->q[qi];
		*q = qi;
		if (!val) {
			*vq = (struct gma_tracer_vq_state){};
			return MMIO_NONE;
		}
		/* QUEUE_NUM is the device's, read by the driver: learnt from the read below */
		vq->desc = (__u64)val << VIRTIO_PCI_LEGACY_PFN_SHIFT;
		gma_vring_legacy_layout(vq->desc, vq->num, VIRTIO_PCI_LEGACY_ALIGN, &vq->driver,
					&vq->device);
		vq->flags |= GMA_QUEUE_LEGACY;
		return virtio_dev_queue_ready(dev, vq);
	}
	return MMIO_NONE;
}

/*
 * An access of width bytes to the legacy I/O BAR at off, for its MSI-X vectors: the vector
 * registers exist only while MSI-X is enabled (else 20 is the device configuration); a status
 * write of 0 (reset) gives the vectors back. Goes beside virtio_pci_legacy_access().
 */
static __always_inline void virtio_pci_legacy_msix_access(struct gma_tracer_pci_fn *f,
							  const struct gma_tracer_virtio_dev *dev,
							  __u32 off, __u32 width, __u32 val,
							  bool write)
{
	if (write && off == VIRTIO_PCI_LEGACY_STATUS && !(val & 0xff))
		pci_vectors_forget(f);
	if (width != 2 || !pci_msix_enabled(f))
		return;
	if (off == VIRTIO_MSI_CONFIG_VECTOR) {
		f->config_vector = val & 0xffff;
		f->config_vector_known = 1;
	} else if (off == VIRTIO_MSI_QUEUE_VECTOR && dev->queue_sel < GMA_TRACER_QUEUES_MAX) {
		pci_queue_vector(f, dev->queue_sel, val);
	}
}

#endif /* GMA_VIRTIO_PCI_LEGACY_REGS_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtio-mmio transport: follows the guest's accesses to virtio-mmio windows (kvm_mmio)
 * to learn each device and the layout of each of its queues, and turns a write to
 * QueueNotify into a sample of that queue (virtqueue.bpf.h).
 *
 * A window is found when the guest reads the magic value at its offset 0, or is given by
 * userspace (--mmio, or a whole queue layout with --queue / QMP) through the devices map.
 * Windows are assumed GMA_VIRTIO_MMIO_WINDOW-aligned (<gma/record.h>), as VMMs place them.
 */
#ifndef GMA_VIRTIO_MMIO_BPF_H
#define GMA_VIRTIO_MMIO_BPF_H

#include "virtqueue.bpf.h"
#include "virtio_mmio_regs.h"

#define KVM_TRACE_MMIO_READ_UNSATISFIED 0
#define KVM_TRACE_MMIO_READ 1
#define KVM_TRACE_MMIO_WRITE 2

/*
 * A guest access to a virtio-mmio register: the state machine, then what it asks for. Returns
 * MMIO_NOTIFY with the queue index above the low 8 bits when the caller must sample a queue.
 */
__noinline int mmio_access(__u64 vm_id, __u32 write, __u64 gpa, __u32 val)
{
	struct gma_tracer_dev_key key = { .vm_id = vm_id, .base = virtio_mmio_base(gpa) };
	__u32 off = virtio_mmio_off(gpa), q = 0;
	struct gma_tracer_virtio_dev *dev;

	dev = bpf_map_lookup_elem(&devices, &key);
	if (!dev) {
		if (virtio_mmio_is_probe(off, val, write)) {
			bpf_map_update_elem(&devices, &key, &empty_dev, BPF_NOEXIST);
			remember_device(vm_id, key.base);
		}
		return 0;
	}
	switch (virtio_mmio_access(dev, off, val, write, &q)) {
	case MMIO_NOTIFY:
		/* sampled by the caller, so the chain walks do not nest below this frame */
		return MMIO_NOTIFY | (q < 0xffffff ? q : 0xffffff) << 8;
	case MMIO_SCAN_USED:
		set_pending(PENDING_SCAN, key.base, 0); /* looked at by the caller */
		break;
	case MMIO_DEVICE_CHANGED:
		emit_device(vm_id, key.base, dev);
		break;
	case MMIO_QUEUE_READY:
		emit_queue(vm_id, key.base, q, dev, &dev->q[q & (GMA_TRACER_QUEUES_MAX - 1)]);
		break;
	case MMIO_NONE:
		break;
	}
	return 0;
}

#endif /* GMA_VIRTIO_MMIO_BPF_H */

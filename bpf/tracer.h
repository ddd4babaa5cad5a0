/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Map value layouts shared by tracer.bpf.c and libgma's loader (user/tracer.c), which fills
 * them for queues the guest set up before tracing began. Records, the public interface, are
 * in include/gma/record.h; these are the tracer's private state.
 */
#ifndef GMA_TRACER_H
#define GMA_TRACER_H

/* Queues tracked per virtio-mmio device. */
#define QUEUES_MAX 8

/* What the kernel knows of one queue. */
struct vq_state {
	__u64 desc;
	__u64 driver;
	__u64 device;
	__u32 num;
	__u32 flags; /* GMA_QUEUE_* */
	__u16 last_avail;
	__u16 last_used;
	__u8 avail_known; /* last_avail is a real observation */
	__u8 used_known;
	__u16 pad;
};

/* One virtio-mmio window of one VM, keyed by (vm_id, base). */
struct mmio_dev {
	__u32 device_id;
	__u32 version;
	__u32 status;
	__u32 queue_sel;
	__u32 dfeatures_sel;
	__u32 guest_page_size; /* legacy */
	__u32 queue_align; /* legacy: QueueAlign, used when QueuePFN is written */
	__u32 pad;
	__u64 driver_features;
	struct vq_state q[QUEUES_MAX];
};

struct mmio_key {
	__u64 vm_id;
	__u64 base;
};

/* The devices of a VM, so an exit can look for completions without iterating a map. */
#define VM_DEVS_MAX 8

struct vm_devs {
	__u64 bases[VM_DEVS_MAX];
	__u32 n;
	__u32 pad;
	__u64 last_scan_ns;
};

#endif /* GMA_TRACER_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtio-mmio register decoder: follows the guest's accesses to virtio-mmio windows
 * (kvm_mmio) to learn each device and the layout of each of its queues, and turns a write to
 * QueueNotify into a sample of that queue (virtqueue.bpf.h).
 *
 * A window is found when the guest reads the magic value at its offset 0, or is given by
 * userspace (--mmio, or a whole queue layout with --queue / QMP) through the mmio_devs map.
 * Windows are assumed 0x200-aligned, as QEMU, Firecracker and crosvm place them.
 */
#ifndef GMA_VIRTIO_MMIO_BPF_H
#define GMA_VIRTIO_MMIO_BPF_H

#include "virtio_mmio_regs.h"

#define KVM_TRACE_MMIO_READ 1
#define KVM_TRACE_MMIO_WRITE 2

/* A new device's state, all zero: too large for the BPF stack. */
const struct mmio_dev empty_dev;

/* A VM's first device list, all zero. */
const struct vm_devs empty_vm_devs;

static __always_inline void remember_device(__u64 vm_id, __u64 base)
{
	struct vm_devs *v;

	v = bpf_map_lookup_elem(&vm_devs, &vm_id);
	if (!v) {
		bpf_map_update_elem(&vm_devs, &vm_id, &empty_vm_devs, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&vm_devs, &vm_id);
		if (!v)
			return;
	}
	for (__u32 i = 0; i < VM_DEVS_MAX; i++) {
		if (i >= v->n)
			break;
		if (v->bases[i] == base)
			return;
	}
	if (v->n < VM_DEVS_MAX)
		v->bases[v->n++ & (VM_DEVS_MAX - 1)] = base;
}

static __noinline void emit_device(__u64 vm_id, __u64 base, struct mmio_dev *dev)
{
	struct gma_rec_device rec = {};

	rec_hdr(&rec.hdr, GMA_REC_DEVICE, sizeof(rec));
	rec.vm_id = vm_id;
	rec.base = base;
	rec.ts_ns = bpf_ktime_get_ns();
	rec.features = dev->driver_features;
	rec.device_id = dev->device_id;
	rec.version = dev->version;
	rec.status = dev->status;
	rec.pid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), 0))
		count_drop();
}

static __noinline void emit_queue(__u64 vm_id, __u64 base, __u32 q, struct mmio_dev *dev,
				  struct vq_state *vq)
{
	struct gma_rec_queue rec = {};

	rec_hdr(&rec.hdr, GMA_REC_QUEUE, sizeof(rec));
	rec.key.vm_id = vm_id;
	rec.key.base = base;
	rec.key.queue = q;
	rec.ts_ns = bpf_ktime_get_ns();
	rec.desc = vq->desc;
	rec.driver = vq->driver;
	rec.device = vq->device;
	rec.num = vq->num;
	rec.device_id = dev->device_id;
	rec.flags = vq->flags;
	rec.pid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), 0))
		count_drop();
}

/* The used ring of queue vq since the last look; a holds the queue's identity. */
static __noinline void scan_queue_used(struct chain_args *a, struct vq_state *vq)
{
	struct chain_args u = *a; /* on the stack: scan_used is verified for that */
	int r;

	u.desc = vq->device;
	r = scan_used(&u, vq->last_used, vq->used_known);
	if (r >= 0) {
		vq->last_used = r;
		vq->used_known = 1;
	}
}

/*
 * The first part of sampling a queue on QueueNotify: checks the layout, reads the avail index
 * and the heads of the new entries since the last look (up to chains_per_notify). Returns how
 * many chains walk_chain() should walk.
 */
__noinline int notify_begin(__u64 vm_id, __u64 base, __u32 q)
{
	struct mmio_key key = { .vm_id = vm_id, .base = base };
	struct notify_scratch *ns;
	struct gma_rec_notify *rec;
	struct chain_args *a;
	struct gma_backend *be;
	struct mmio_dev *dev;
	struct vq_state *vq;
	__u16 avail_new = 0, used = 0, start;
	__u32 delta, cap = chains_per_notify, i, zero = 0;
	__u64 id = bpf_get_current_pid_tgid();

	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	if (!ns)
		return 0;
	rec = &ns->rec;
	a = &ns->a;
	be = &ns->be;
	__builtin_memset(rec, 0, sizeof(*rec));
	__builtin_memset(a, 0, sizeof(*a));
	ns->nr_heads = 0;
	ns->delta = 0;
	rec_hdr(&rec->hdr, GMA_REC_NOTIFY, sizeof(*rec));
	rec->key.vm_id = vm_id;
	rec->key.base = base;
	rec->key.queue = q;
	rec->ts_ns = bpf_ktime_get_ns();
	rec->notify_seq = __sync_fetch_and_add(&notify_seq, 1);
	rec->pid = id >> 32;
	rec->tid = (__u32)id;
	dev = bpf_map_lookup_elem(&mmio_devs, &key);
	if (!dev)
		return 0;
	if (q >= QUEUES_MAX) {
		rec->anomalies |= GMA_ANOM_UNKNOWN_LAYOUT;
		return 0;
	}
	vq = &dev->q[q & (QUEUES_MAX - 1)];
	if (!vq->num || !vq->desc || vq->num > QUEUE_NUM_MAX) {
		rec->anomalies |= GMA_ANOM_UNKNOWN_LAYOUT;
		return 0;
	}
	if (!(vq->flags & GMA_QUEUE_READY))
		rec->anomalies |= GMA_ANOM_NOT_READY;
	if (vq->flags & GMA_QUEUE_PACKED) {
		rec->anomalies |= GMA_ANOM_PACKED;
		return 0;
	}
	if ((vq->desc & 15) || (vq->driver & 1) || (vq->device & 3))
		rec->anomalies |= GMA_ANOM_RING_MISALIGNED;
	gma_backend_init(be, (struct kvm *)vm_id);
	/* the three ring areas in guest memory */
	if (!guest_range_ends_mapped(be, vq->desc, gma_vring_desc_area_size(vq->num)) ||
	    !guest_range_ends_mapped(be, vq->driver, gma_vring_avail_area_size(vq->num)) ||
	    !guest_range_ends_mapped(be, vq->device, gma_vring_used_area_size(vq->num)))
		rec->anomalies |= GMA_ANOM_RING_UNREADABLE;
	if (guest_read_u16(be, vq->driver + GMA_VRING_AVAIL_IDX_OFF, &avail_new) ||
	    guest_read_u16(be, vq->device + GMA_VRING_USED_IDX_OFF, &used)) {
		rec->anomalies |= GMA_ANOM_RING_UNREADABLE;
		return 0;
	}
	/* A queue first seen now (imported layout): what the device has not used is new. */
	start = vq->avail_known ? vq->last_avail : used;
	rec->avail_old = start;
	rec->avail_new = avail_new;
	rec->used_idx = used;
	delta = (__u16)(avail_new - start);
	if (delta > vq->num) {
		rec->anomalies |= GMA_ANOM_AVAIL_JUMP;
		delta = vq->num;
	}
	if (cap == 0 || cap > CHAINS_PER_NOTIFY_CAP)
		cap = CHAINS_PER_NOTIFY_CAP;
	a->vm_id = vm_id;
	a->base = base;
	a->desc = vq->desc;
	a->notify_seq = rec->notify_seq;
	a->ts_ns = rec->ts_ns;
	a->queue = q;
	a->num = vq->num;
	a->avail_idx = start;
	/*
	 * What the device completed since the last look goes first: a head it used may be made
	 * available again by this very notify, and its old completion must not be taken for
	 * the new request's.
	 */
	scan_queue_used(a, vq);
	for (i = 0; i < CHAINS_PER_NOTIFY_CAP && i < cap && i < delta; i++) {
		__u16 pos = start + i, head = 0;

		if (guest_read_u16(be, vq->driver + gma_vring_avail_entry_off(pos % a->num),
				   &head)) {
			rec->anomalies |= GMA_ANOM_RING_UNREADABLE;
			break;
		}
		ns->heads[i & (CHAINS_PER_NOTIFY_CAP - 1)] = head;
	}
	ns->nr_heads = i;
	ns->delta = delta;
	vq->last_avail = avail_new;
	vq->avail_known = 1;
	return i;
}

/* The end of a notify: its record, which wakes the reader once enough has piled up. */
__noinline int notify_end(__u32 walked)
{
	struct notify_scratch *ns;
	__u32 zero = 0;

	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	if (!ns)
		return 0;
	ns->rec.nr_chains = walked;
	ns->rec.nr_skipped = ns->delta > ns->nr_heads ? ns->delta - ns->nr_heads : 0;
	if (bpf_ringbuf_output(&events, &ns->rec, sizeof(ns->rec), batch_end_flags()))
		count_drop();
	return 0;
}

/* Samples a queue on QueueNotify: called by the tracepoint program, one step after another. */
static __always_inline void notify_queue(__u64 vm_id, __u64 base, __u32 q)
{
	__u32 n = notify_begin(vm_id, base, q), walked = 0;

	for (__u32 i = 0; i < CHAINS_PER_NOTIFY_CAP && i < n; i++)
		walked += walk_chain(i);
	notify_end(walked);
}

/* Looks at the used rings of a device's queues with requests in flight. */
__noinline int scan_device(__u64 vm_id, __u64 base)
{
	struct mmio_key key = { .vm_id = vm_id, .base = base };
	struct chain_args a = {};
	struct mmio_dev *dev;
	int r;

	dev = bpf_map_lookup_elem(&mmio_devs, &key);
	if (!dev)
		return 0;
	a.vm_id = vm_id;
	a.base = base;
	a.ts_ns = bpf_ktime_get_ns();
	for (__u32 q = 0; q < QUEUES_MAX; q++) {
		struct vq_state *vq = &dev->q[q];

		if (!vq->num || !vq->device || !vq->avail_known ||
		    (vq->used_known && vq->last_used == vq->last_avail))
			continue;
		a.queue = q;
		a.num = vq->num;
		a.desc = vq->device;
		r = scan_used(&a, vq->last_used, vq->used_known);
		if (r >= 0) {
			vq->last_used = r;
			vq->used_known = 1;
		}
	}
	return 0;
}

/* On any exit of a vCPU of the VM, at most every used_scan_ns: completions since. */
static __always_inline void maybe_scan_vm(__u64 vm_id)
{
	struct vm_devs *v = bpf_map_lookup_elem(&vm_devs, &vm_id);
	__u64 now;

	if (!v)
		return;
	now = bpf_ktime_get_ns();
	if (now - v->last_scan_ns < used_scan_ns)
		return;
	v->last_scan_ns = now;
	for (__u32 i = 0; i < VM_DEVS_MAX; i++) {
		if (i >= v->n)
			break;
		scan_device(vm_id, v->bases[i]);
	}
}

/*
 * A guest access to a virtio-mmio register: the state machine, then what it asks for. Returns
 * MMIO_NOTIFY with the queue index above the low 8 bits when the caller must sample a queue.
 */
__noinline int mmio_access(__u64 vm_id, __u32 write, __u64 gpa, __u32 val)
{
	struct mmio_key key = { .vm_id = vm_id, .base = gpa & ~(__u64)(VIRTIO_MMIO_WINDOW - 1) };
	__u32 off = gpa & (VIRTIO_MMIO_WINDOW - 1), q = 0;
	struct mmio_dev *dev;

	dev = bpf_map_lookup_elem(&mmio_devs, &key);
	if (!dev) {
		if (virtio_mmio_is_probe(off, val, write)) {
			bpf_map_update_elem(&mmio_devs, &key, &empty_dev, BPF_NOEXIST);
			remember_device(vm_id, key.base);
		}
		return 0;
	}
	switch (virtio_mmio_access(dev, off, val, write, &q)) {
	case MMIO_NOTIFY:
		/* sampled by the caller, so the chain walks do not nest below this frame */
		return MMIO_NOTIFY | (q < 0xffffff ? q : 0xffffff) << 8;
	case MMIO_SCAN_USED:
		scan_device(vm_id, key.base);
		break;
	case MMIO_DEVICE_CHANGED:
		emit_device(vm_id, key.base, dev);
		break;
	case MMIO_QUEUE_READY:
		emit_queue(vm_id, key.base, q, dev, &dev->q[q & (QUEUES_MAX - 1)]);
		break;
	case MMIO_NONE:
		break;
	}
	return 0;
}

#endif /* GMA_VIRTIO_MMIO_BPF_H */

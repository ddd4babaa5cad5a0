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

static __always_inline void remember_device(__u64 vm_id, __u64 base)
{
	struct vm_devs zero = {}, *v;

	v = bpf_map_lookup_elem(&vm_devs, &vm_id);
	if (!v) {
		bpf_map_update_elem(&vm_devs, &vm_id, &zero, BPF_NOEXIST);
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

static __always_inline void emit_device(__u64 vm_id, __u64 base, struct mmio_dev *dev)
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

static __always_inline void emit_queue(__u64 vm_id, __u64 base, __u32 q, struct mmio_dev *dev,
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

/*
 * Samples a queue on QueueNotify: the new avail entries since the last look, each chain, and
 * the used ring. Global: verified once, called from the MMIO decoder.
 */
__noinline int notify_queue(__u64 vm_id, __u64 base, __u32 q)
{
	struct mmio_key key = { .vm_id = vm_id, .base = base };
	struct gma_rec_notify rec = {};
	struct chain_args a = {};
	struct gma_backend be = {};
	struct mmio_dev *dev;
	struct vq_state *vq;
	__u16 avail_new = 0, used = 0, start;
	__u32 delta, cap = chains_per_notify, i, qi;
	__u64 id = bpf_get_current_pid_tgid();
	int r;

	dev = bpf_map_lookup_elem(&mmio_devs, &key);
	if (!dev)
		return 0;
	rec_hdr(&rec.hdr, GMA_REC_NOTIFY, sizeof(rec));
	rec.key.vm_id = vm_id;
	rec.key.base = base;
	rec.key.queue = q;
	rec.ts_ns = bpf_ktime_get_ns();
	rec.notify_seq = __sync_fetch_and_add(&notify_seq, 1);
	rec.pid = id >> 32;
	rec.tid = (__u32)id;
	if (q >= QUEUES_MAX) {
		rec.anomalies |= GMA_ANOM_UNKNOWN_LAYOUT;
		goto out;
	}
	qi = q & (QUEUES_MAX - 1);
	vq = &dev->q[qi];
	if (!vq->num || !vq->desc || vq->num > QUEUE_NUM_MAX) {
		rec.anomalies |= GMA_ANOM_UNKNOWN_LAYOUT;
		goto out;
	}
	if (!(vq->flags & GMA_QUEUE_READY))
		rec.anomalies |= GMA_ANOM_NOT_READY;
	if (vq->flags & GMA_QUEUE_PACKED) {
		rec.anomalies |= GMA_ANOM_PACKED;
		goto out;
	}
	if ((vq->desc & 15) || (vq->driver & 1) || (vq->device & 3))
		rec.anomalies |= GMA_ANOM_RING_MISALIGNED;
	gma_backend_init(&be, (struct kvm *)vm_id);
	/* the three ring areas (VirtIO 1.x 2.7: 16, 6 + 2 n and 6 + 8 n bytes) in guest memory */
	if (!guest_range_ends_mapped(&be, vq->desc, 16 * (__u64)vq->num) ||
	    !guest_range_ends_mapped(&be, vq->driver, 6 + 2 * (__u64)vq->num) ||
	    !guest_range_ends_mapped(&be, vq->device, 6 + 8 * (__u64)vq->num))
		rec.anomalies |= GMA_ANOM_RING_UNREADABLE;
	if (guest_read_u16(&be, vq->driver + 2, &avail_new) ||
	    guest_read_u16(&be, vq->device + 2, &used)) {
		rec.anomalies |= GMA_ANOM_RING_UNREADABLE;
		goto out;
	}
	/* A queue first seen now (imported layout): what the device has not used is new. */
	start = vq->avail_known ? vq->last_avail : used;
	rec.avail_old = start;
	rec.avail_new = avail_new;
	rec.used_idx = used;
	delta = (__u16)(avail_new - start);
	if (delta > vq->num) {
		rec.anomalies |= GMA_ANOM_AVAIL_JUMP;
		delta = vq->num;
	}
	if (cap == 0 || cap > CHAINS_PER_NOTIFY_CAP)
		cap = CHAINS_PER_NOTIFY_CAP;
	a.vm_id = vm_id;
	a.base = base;
	a.desc = vq->desc;
	a.notify_seq = rec.notify_seq;
	a.ts_ns = rec.ts_ns;
	a.queue = q;
	a.num = vq->num;
	for (i = 0; i < CHAINS_PER_NOTIFY_CAP && i < cap && i < delta; i++) {
		__u16 pos = start + i, head = 0;

		if (guest_read_u16(&be, vq->driver + 4 + 2 * (__u64)(pos % a.num), &head)) {
			rec.anomalies |= GMA_ANOM_RING_UNREADABLE;
			break;
		}
		a.head = head;
		a.avail_idx = pos;
		rec.nr_chains += walk_chain(&a);
	}
	rec.nr_skipped = delta - i;
	vq->last_avail = avail_new;
	vq->avail_known = 1;
	/* and whatever the device completed meanwhile */
	a.desc = vq->device;
	r = scan_used(&a, vq->last_used, vq->used_known);
	if (r >= 0) {
		vq->last_used = r;
		vq->used_known = 1;
	}
out:
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), 0))
		count_drop();
	return 0;
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

/* A guest access to a virtio-mmio register: the state machine, then what it asks for. */
static __always_inline void on_mmio(__u64 vm_id, int type, int len, __u64 gpa, const void *valp)
{
	struct mmio_key key = { .vm_id = vm_id, .base = gpa & ~(__u64)(VIRTIO_MMIO_WINDOW - 1) };
	__u32 off = gpa & (VIRTIO_MMIO_WINDOW - 1), val = 0, q = 0;
	bool write = type == KVM_TRACE_MMIO_WRITE;
	struct mmio_dev *dev;

	if (len != 4 || !valp || (type != KVM_TRACE_MMIO_READ && !write))
		return;
	if (bpf_probe_read_kernel(&val, sizeof(val), valp))
		return;
	dev = bpf_map_lookup_elem(&mmio_devs, &key);
	if (!dev) {
		if (virtio_mmio_is_probe(off, val, write)) {
			bpf_map_update_elem(&mmio_devs, &key, &empty_dev, BPF_NOEXIST);
			remember_device(vm_id, key.base);
		}
		return;
	}
	switch (virtio_mmio_access(dev, off, val, write, &q)) {
	case MMIO_NOTIFY:
		notify_queue(vm_id, key.base, q);
		break;
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
}

#endif /* GMA_VIRTIO_MMIO_BPF_H */

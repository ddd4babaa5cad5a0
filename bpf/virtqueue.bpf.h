/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The transport-independent half of the tracer: the VirtIO devices and queues of each VM
 * (the devices map), and split virtqueues read at the moment the driver notifies: new avail
 * entries, each descriptor chain walked by the shared rules (bpf/vring_walk.h), the first
 * bytes of each buffer, and the used ring's progress. Everything here is guest memory, hence
 * hostile: every index is range-checked against the queue size before use and every loop
 * has a compile-time bound.
 *
 * A transport (virtio_mmio.bpf.h; virtio-pci next) includes this header, learns devices and
 * queue layouts into the devices map, and calls notify_queue() and scan_device(); nothing
 * here knows which transport fed it.
 */
#ifndef GMA_VIRTQUEUE_BPF_H
#define GMA_VIRTQUEUE_BPF_H

#include "sampler.bpf.h"

/*
 * The ring layouts are the spec's, read with plain offsets (bpf/vring_walk.h), never CO-RE:
 * a KVM host's BTF has no VirtIO types.
 */
#define GMA_VRING_WALK_CTX
#include "vring_walk.h"

const volatile __u32 snap_len = GMA_TRACER_SNAP_LEN_DEFAULT; /* <= GMA_TRACER_SNAP_CAP */
const volatile __u32 chains_per_notify =
	GMA_TRACER_CHAINS_PER_NOTIFY_DEFAULT; /* <= GMA_TRACER_CHAINS_PER_NOTIFY_CAP */
const volatile __u64 used_scan_ns = GMA_TRACER_USED_SCAN_US_DEFAULT * 1000ULL;
/*
 * Read only the rings' indices: no chain walked, no used element read. The model's indices
 * (and in flight) stay the guest's; chains and completions are counted as skipped.
 */
const volatile __u32 indices_only;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct gma_tracer_dev_key);
	__type(value, struct gma_tracer_virtio_dev);
} devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct gma_tracer_vm_devs);
} vm_devs SEC(".maps");

/*
 * A queue to sample, found below the tracepoint program's top level: by a transport that
 * decoded a notify (PENDING_NOTIFY), or by a look at the rings that found its avail index
 * moved with no notify (PENDING_SILENT). The program samples it next, at its top level
 * (kernels before 6.13 give a whole call chain 512 bytes of stack).
 */
struct pending_notify {
	__u64 base;
	__u32 queue;
	__u32 set;
};

/* PENDING_SCAN: a device whose used rings a transport asked to look at (interrupt handling). */
enum { PENDING_NOTIFY, PENDING_SILENT, PENDING_SCAN, PENDING_SLOTS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PENDING_SLOTS);
	__type(key, __u32);
	__type(value, struct pending_notify);
} pending_notify SEC(".maps");

static __always_inline void set_pending(__u32 slot, __u64 base, __u32 queue)
{
	struct pending_notify *p = bpf_map_lookup_elem(&pending_notify, &slot);

	if (p && !p->set) {
		p->base = base;
		p->queue = queue;
		p->set = 1;
	}
}

/*
 * Scratch for the records too large for the BPF stack, and the chain walk's state. Kept in a
 * map value rather than in registers, the state is an unknown scalar to the verifier at each
 * loop head, so the paths of one step merge instead of multiplying step after step.
 */
struct chain_scratch {
	struct gma_rec_chain rec;
	struct gma_vring_walk w;
	struct gma_vring_desc d;
	struct gma_backend be;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chain_scratch);
} chain_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gma_rec_used);
} used_scratch SEC(".maps");

/* Sequence numbers of notifies and samples, shared by all CPUs. */
__u64 notify_seq;
__u64 sample_seq;

/* Everything a chain walk needs, as scalars: global functions take a pointer to it. */
struct chain_args {
	__u64 vm_id;
	__u64 base;
	__u64 desc;
	__u64 notify_seq;
	__u64 ts_ns;
	__u32 queue;
	__u32 num;
	__u32 avail_idx; /* of the first head of the notify */
	__u32 pad;
};

/*
 * A notify in progress, kept off the BPF stack: its record, what the chain walks need, and
 * the heads read from the avail ring. A notify is sampled in three global functions called
 * one after the other by the tracepoint program (notify_begin, walk_chain for each head,
 * notify_end) rather than nested, because kernels before 6.13 hold a whole call chain's
 * frames to 512 bytes of stack in all.
 */
struct notify_scratch {
	struct gma_rec_notify rec;
	struct chain_args a;
	struct gma_backend be;
	__u16 heads[GMA_TRACER_CHAINS_PER_NOTIFY_CAP];
	__u32 nr_heads;
	__u32 delta;
	/* notify_begin found the queue's layout: a known queue explains the notify (ioeventfd) */
	__u32 queue_known;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct notify_scratch);
} notify_scratch SEC(".maps");

/*
 * The helpers below are not inlined on purpose: their locals then live in a frame of their
 * own, off the deepest call chain (mmio_access -> notify_queue -> walk_chain ->
 * sample_fragment -> translate), which kernels before 6.13 hold to 512 bytes in all.
 */
static __noinline int guest_read_u16(struct gma_backend *be, __u64 gpa, __u16 *v)
{
	__u64 val = 0;
	int err = gma_read_volatile(be, gpa, 2, &val);

	*v = val;
	return err;
}

/*
 * Samples the first snap_len bytes of one buffer as fragments of sample_id, seq = position.
 * Returns the bytes covered.
 */
static __always_inline __u32 sample_buffer(struct gma_backend *be, __u64 sample_id, __u64 addr,
					   __u32 len, __u32 pos)
{
	__u32 want = len < snap_len ? len : snap_len, i;
	__u64 off = 0;
	__s64 r;

	if (want > GMA_TRACER_SNAP_CAP)
		want = GMA_TRACER_SNAP_CAP;
	for (i = 0; i < GMA_TRACER_BUFFER_FRAGS_MAX && off < want; i++) {
		r = sample_fragment(be, sample_id, addr + off, want - off, pos);
		if (r < 2)
			break;
		off += r >> 1;
	}
	return off;
}

/* The chain walk (bpf/vring_walk.h) over the VM's memslots, recording into the CHAIN record. */
struct gma_vring_ctx {
	struct chain_scratch s;
};

static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d)
{
	return gma_read_obj(&ctx->s.be, gpa, d, sizeof(*d));
}

/* Not inlined: its locals live in a frame of their own, off the deepest call chain. */
static __noinline int gma_vring_translate(struct gma_vring_ctx *ctx, __u64 gpa, __u64 *limit)
{
	struct gma_xlat x;
	int err = gma_translate(&ctx->s.be, gpa, &x);

	*limit = x.limit;
	return err;
}

static int gma_vring_on_desc(struct gma_vring_ctx *ctx, const struct gma_vring_walk *w,
			     const struct gma_vring_desc *d, __u32 idx, enum gma_vring_step kind)
{
	struct gma_rec_chain *rec = &ctx->s.rec;
	struct gma_desc_rec *dr;
	__u32 pos;

	if (kind != GMA_VRING_BUFFER)
		return 0; /* a table pointer: the record's indirect_addr/len */
	rec->total_len += d->len;
	if (rec->nr_recorded >= GMA_CHAIN_DESC_MAX)
		return 0; /* walked and checked, not recorded */
	pos = rec->nr_recorded & (GMA_CHAIN_DESC_MAX - 1);
	dr = &rec->descs[pos];
	dr->addr = d->addr;
	dr->len = d->len;
	dr->flags = d->flags;
	dr->next = d->next;
	dr->index = idx;
	dr->in_indirect = gma_vring_walk_in_indirect(w, kind);
	dr->pad = 0;
	dr->snap_len = sample_buffer(&ctx->s.be, rec->sample_id, d->addr, d->len, pos);
	rec->nr_recorded++;
	return 0;
}

/*
 * One round of the chain walk: one descriptor read, checked, recorded and sampled. Global so
 * the verifier checks a round once, not once per round of the walk's loop.
 */
__noinline int walk_chain_round(__u32 unused)
{
	struct chain_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&chain_scratch, &zero);
	if (!s)
		return -1;
	return gma_vring_walk_one((struct gma_vring_ctx *)s, &s->w, &s->d);
}

/*
 * Walks the chain at head and sends its buffers' first bytes and a CHAIN record. Global so
 * the verifier checks it once; its loop is bounded by GMA_VRING_WALK_BPF_MAX whatever the
 * guest wrote.
 */
__noinline int walk_chain(__u32 i_head)
{
	struct notify_scratch *ns;
	struct chain_args *a;
	struct chain_scratch *s;
	struct gma_rec_chain *rec;
	__u32 zero = 0;

	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	s = bpf_map_lookup_elem(&chain_scratch, &zero);
	if (!ns || !s || i_head >= ns->nr_heads)
		return 0;
	a = &ns->a;
	rec = &s->rec;
	rec->key.vm_id = a->vm_id;
	rec->key.base = a->base;
	rec->key.queue = a->queue;
	rec->key.pad = 0;
	rec->ts_ns = a->ts_ns;
	rec->notify_seq = a->notify_seq;
	rec->sample_id = __sync_fetch_and_add(&sample_seq, 1) | (1ULL << 63);
	rec->avail_idx = a->avail_idx + i_head;
	rec->head = ns->heads[i_head & (GMA_TRACER_CHAINS_PER_NOTIFY_CAP - 1)];
	rec->nr_recorded = 0;
	rec->total_len = 0;
	rec->pid = bpf_get_current_pid_tgid() >> 32;
	s->be = ns->be; /* bound by notify_begin() in this same run */
	gma_vring_walk_begin(&s->w, a->desc, a->num, rec->head, GMA_VRING_WALK_BPF_MAX);
	/* one more round than the cap: the walk itself says the cap stopped it */
	for (__u32 k = 0; k <= GMA_VRING_WALK_BPF_MAX; k++)
		if (walk_chain_round(k))
			break;
	rec->nr_descs = s->w.nr_buffers;
	rec->anomalies = s->w.anomalies;
	rec->indirect_addr = s->w.indirect_addr;
	rec->indirect_len = s->w.indirect_len;
	rec_hdr(&rec->hdr, GMA_REC_CHAIN, sizeof(*rec));
	if (bpf_ringbuf_output(&events, rec, sizeof(*rec), BPF_RB_NO_WAKEUP))
		count_drop();
	return 1;
}

/*
 * Reports the used ring's progress since the last look; returns the new used index. be is the
 * VM's backend, bound by the caller; used_now the used index the caller has just read, or -1.
 */
__noinline int scan_used(struct gma_backend *be, struct chain_args *a, __u32 last_used,
			 __u32 used_known, __s32 used_now)
{
	struct gma_rec_used *rec;
	__u32 zero = 0, delta, i;
	__u16 used_new = used_now;

	if (!be || !a || a->num == 0 || a->num > GMA_QUEUE_NUM_MAX)
		return -1;
	if (used_now < 0 && guest_read_u16(be, a->desc + GMA_VRING_USED_IDX_OFF,
					   &used_new)) /* a->desc holds the used ring here */
		return -1;
	if (used_known && used_new == (__u16)last_used)
		return used_new;
	rec = bpf_map_lookup_elem(&used_scratch, &zero);
	if (!rec)
		return used_new;
	rec->key.vm_id = a->vm_id;
	rec->key.base = a->base;
	rec->key.queue = a->queue;
	rec->key.pad = 0;
	rec->ts_ns = a->ts_ns;
	rec->used_old = last_used;
	rec->used_new = used_new;
	rec->anomalies = 0;
	rec->nr_elems = 0;
	rec->nr_skipped = 0;
	rec->pid = bpf_get_current_pid_tgid() >> 32;
	delta = (__u16)(used_new - (__u16)last_used);
	if (!used_known) {
		delta = 0; /* the first look only learns where the ring is */
	} else if ((__s16)(used_new - (__u16)last_used) < 0) {
		rec->anomalies |= GMA_ANOM_USED_BACKWARDS;
		delta = 0;
	} else if (delta > a->num) {
		rec->anomalies |= GMA_ANOM_AVAIL_JUMP; /* the device skipped past the ring size */
	}
	for (i = 0; i < GMA_USED_ELEM_MAX && i < delta && !indices_only; i++) {
		__u64 at = a->desc + gma_vring_used_elem_off(((__u16)last_used + i) % a->num);
		struct gma_vring_used_elem e;

		if (gma_read_obj(be, at, &e, sizeof(e))) {
			rec->anomalies |= GMA_ANOM_RING_UNREADABLE;
			break;
		}
		rec->elems[i & (GMA_USED_ELEM_MAX - 1)].id = e.id;
		rec->elems[i & (GMA_USED_ELEM_MAX - 1)].len = e.len;
		rec->nr_elems++;
	}
	rec->nr_skipped = delta > rec->nr_elems ? delta - rec->nr_elems : 0;
	rec_hdr(&rec->hdr, GMA_REC_USED, sizeof(*rec));
	if (bpf_ringbuf_output(&events, rec, sizeof(*rec), BPF_RB_NO_WAKEUP))
		count_drop();
	return used_new;
}

/* A new device's state, all zero: too large for the BPF stack. */
const struct gma_tracer_virtio_dev empty_dev;

/* A VM's first device list, all zero. */
const struct gma_tracer_vm_devs empty_vm_devs;

static __always_inline void remember_device(__u64 vm_id, __u64 base)
{
	struct gma_tracer_vm_devs *v;

	v = bpf_map_lookup_elem(&vm_devs, &vm_id);
	if (!v) {
		bpf_map_update_elem(&vm_devs, &vm_id, &empty_vm_devs, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&vm_devs, &vm_id);
		if (!v)
			return;
	}
	for (__u32 i = 0; i < GMA_TRACER_VM_DEVS_MAX; i++) {
		if (i >= v->n)
			break;
		if (v->bases[i] == base)
			return;
	}
	if (v->n < GMA_TRACER_VM_DEVS_MAX)
		v->bases[v->n++ & (GMA_TRACER_VM_DEVS_MAX - 1)] = base;
}

static __noinline void emit_device(__u64 vm_id, __u64 base, struct gma_tracer_virtio_dev *dev)
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

static __noinline void emit_queue(__u64 vm_id, __u64 base, __u32 q,
				  struct gma_tracer_virtio_dev *dev, struct gma_tracer_vq_state *vq)
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
static __noinline void scan_queue_used(struct gma_backend *be, struct chain_args *a,
				       struct gma_tracer_vq_state *vq, __u16 used)
{
	struct chain_args u = *a; /* on the stack: scan_used is verified for that */
	int r;

	u.desc = vq->device;
	r = scan_used(be, &u, vq->last_used, vq->used_known, used);
	if (r >= 0) {
		vq->last_used = r;
		vq->used_known = 1;
	}
}

/*
 * The verdict on a queue's three ring areas, kept per CPU for the layout and the memslot set
 * (struct gma_slot_tag) it was reached with: a layout is checked once per set, not at each
 * notify. Indexed by a hash of the VM and the table; a collision only costs a new check.
 */
#define RING_CHECKS 16

struct ring_check {
	struct gma_slot_tag tag;
	__u64 desc;
	__u64 driver;
	__u64 device;
	__u32 num;
	__u32 mapped;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RING_CHECKS);
	__type(key, __u32);
	__type(value, struct ring_check);
} ring_checks SEC(".maps");

/* Whether the three ring areas of vq start and end in guest memory (gma_vring_range_mapped()). */
static __noinline bool ring_areas_mapped(struct gma_backend *be, struct gma_tracer_vq_state *vq)
{
	__u32 zero = 0, idx = ((__u32)(vq->desc >> 4) ^ (__u32)(be->tag.kvm >> 12)) % RING_CHECKS;
	struct ring_check *rc = bpf_map_lookup_elem(&ring_checks, &idx);
	struct chain_scratch *s = bpf_map_lookup_elem(&chain_scratch, &zero);
	struct gma_vring_ctx *ctx = (struct gma_vring_ctx *)s;
	bool mapped;

	if (!s)
		return false;
	if (rc && be->cached && gma_slot_tag_eq(&rc->tag, &be->tag) && rc->desc == vq->desc &&
	    rc->driver == vq->driver && rc->device == vq->device && rc->num == vq->num)
		return rc->mapped;
	s->be = *be; /* the chain walks of this notify have not begun */
	mapped = gma_vring_range_mapped(ctx, vq->desc, gma_vring_desc_area_size(vq->num)) &&
		 gma_vring_range_mapped(ctx, vq->driver, gma_vring_avail_area_size(vq->num)) &&
		 gma_vring_range_mapped(ctx, vq->device, gma_vring_used_area_size(vq->num));
	if (rc && be->cached) {
		rc->tag = be->tag;
		rc->desc = vq->desc;
		rc->driver = vq->driver;
		rc->device = vq->device;
		rc->num = vq->num;
		rc->mapped = mapped;
	}
	return mapped;
}

/* A new NOTIFY record in ns: who notified and when; nothing read from the guest yet. */
static __always_inline void notify_record_begin(struct notify_scratch *ns, __u64 vm_id, __u64 base,
						__u32 q, __u32 flags, __u64 pid_tgid)
{
	struct gma_rec_notify *rec = &ns->rec;

	__builtin_memset(rec, 0, sizeof(*rec));
	__builtin_memset(&ns->a, 0, sizeof(ns->a));
	ns->nr_heads = 0;
	ns->delta = 0;
	ns->queue_known = 0;
	rec_hdr(&rec->hdr, GMA_REC_NOTIFY, sizeof(*rec));
	rec->key.vm_id = vm_id;
	rec->key.base = base;
	rec->key.queue = q;
	rec->flags = flags;
	rec->ts_ns = bpf_ktime_get_ns();
	rec->notify_seq = __sync_fetch_and_add(&notify_seq, 1);
	rec->pid = pid_tgid >> 32;
	rec->tid = (__u32)pid_tgid;
}

/*
 * The ring's indices into the record, and how many avail entries are new since start: no
 * more than the ring holds, whatever the guest wrote.
 */
static __always_inline __u32 new_avail_entries(struct gma_rec_notify *rec,
					       const struct gma_tracer_vq_state *vq, __u16 start,
					       __u16 avail_new, __u16 used)
{
	__u32 delta;

	rec->avail_old = start;
	rec->avail_new = avail_new;
	rec->used_idx = used;
	delta = (__u16)(avail_new - start);
	if (delta > vq->num) {
		rec->anomalies |= GMA_ANOM_AVAIL_JUMP;
		delta = vq->num;
	}
	return delta;
}

/* What each chain walk of this notify needs to know (walk_chain() reads it). */
static __always_inline void set_chain_args(struct chain_args *a, const struct gma_rec_notify *rec,
					   __u64 vm_id, __u64 base, __u32 q,
					   const struct gma_tracer_vq_state *vq, __u16 start)
{
	a->vm_id = vm_id;
	a->base = base;
	a->desc = vq->desc;
	a->notify_seq = rec->notify_seq;
	a->ts_ns = rec->ts_ns;
	a->queue = q;
	a->num = vq->num;
	a->avail_idx = start;
}

/* The head of avail entry start + i into ns->heads[i]; false if unreadable (in the record). */
static __always_inline bool read_avail_head(struct notify_scratch *ns, struct gma_backend *be,
					    const struct gma_tracer_vq_state *vq, __u16 start,
					    __u32 i)
{
	__u16 pos = start + i, head = 0;

	if (guest_read_u16(be, vq->driver + gma_vring_avail_entry_off(pos % ns->a.num), &head)) {
		ns->rec.anomalies |= GMA_ANOM_RING_UNREADABLE;
		return false;
	}
	ns->heads[i & (GMA_TRACER_CHAINS_PER_NOTIFY_CAP - 1)] = head;
	return true;
}

/*
 * The first part of sampling a queue on QueueNotify: checks the layout, reads the avail index
 * and the heads of the new entries since the last look (up to chains_per_notify). Returns how
 * many chains walk_chain() should walk.
 *
 * Its steps are inlined and kept in the order they had when they were one function, with
 * pid_tgid and chains_per_notify still read first: what the verifier costs is sensitive to
 * this code's shape (the heads loop's sways it by thousands of instructions a program, as
 * test_load --verbose shows), so a change here is measured before it is kept.
 */
__noinline int notify_begin(__u64 vm_id, __u64 base, __u32 q, __u32 flags)
{
	struct gma_tracer_dev_key key = { .vm_id = vm_id, .base = base };
	struct notify_scratch *ns;
	struct gma_rec_notify *rec;
	struct chain_args *a;
	struct gma_backend *be;
	struct gma_tracer_virtio_dev *dev;
	struct gma_tracer_vq_state *vq;
	__u16 avail_new = 0, used = 0, start;
	__u32 delta, cap = chains_per_notify, n, zero = 0;
	__u64 id = bpf_get_current_pid_tgid();

	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	if (!ns)
		return 0;
	rec = &ns->rec;
	a = &ns->a;
	be = &ns->be;
	notify_record_begin(ns, vm_id, base, q, flags, id);
	dev = bpf_map_lookup_elem(&devices, &key);
	if (!dev)
		return 0;
	if (q >= GMA_TRACER_QUEUES_MAX) {
		rec->anomalies |= GMA_ANOM_UNKNOWN_LAYOUT;
		return 0;
	}
	vq = &dev->q[q & (GMA_TRACER_QUEUES_MAX - 1)];
	if (!vq->num || !vq->desc || vq->num > GMA_QUEUE_NUM_MAX) {
		rec->anomalies |= GMA_ANOM_UNKNOWN_LAYOUT;
		return 0;
	}
	ns->queue_known = 1;
	if (!(vq->flags & GMA_QUEUE_READY))
		rec->anomalies |= GMA_ANOM_NOT_READY;
	if (vq->flags & GMA_QUEUE_PACKED) {
		rec->anomalies |= GMA_ANOM_PACKED;
		return 0;
	}
	if ((vq->desc & 15) || (vq->driver & 1) || (vq->device & 3))
		rec->anomalies |= GMA_ANOM_RING_MISALIGNED;
	gma_backend_init(be, (struct kvm *)vm_id);
	if (!ring_areas_mapped(be, vq))
		rec->anomalies |= GMA_ANOM_RING_UNREADABLE;
	if (guest_read_u16(be, vq->driver + GMA_VRING_AVAIL_IDX_OFF, &avail_new) ||
	    guest_read_u16(be, vq->device + GMA_VRING_USED_IDX_OFF, &used)) {
		rec->anomalies |= GMA_ANOM_RING_UNREADABLE;
		return 0;
	}
	/* A queue first seen now (imported layout): what the device has not used is new. */
	start = vq->avail_known ? vq->last_avail : used;
	delta = new_avail_entries(rec, vq, start, avail_new, used);
	if (cap == 0 || cap > GMA_TRACER_CHAINS_PER_NOTIFY_CAP)
		cap = GMA_TRACER_CHAINS_PER_NOTIFY_CAP;
	set_chain_args(a, rec, vm_id, base, q, vq, start);
	/*
	 * What the device completed since the last look goes first: a head it used may be made
	 * available again by this very notify, and its old completion must not be taken for
	 * the new request's.
	 */
	scan_queue_used(be, a, vq, used);
	for (n = 0; n < GMA_TRACER_CHAINS_PER_NOTIFY_CAP && n < cap && n < delta && !indices_only;
	     n++) {
		if (!read_avail_head(ns, be, vq, start, n))
			break;
	}
	ns->nr_heads = n;
	ns->delta = delta;
	vq->last_avail = avail_new;
	vq->avail_known = 1;
	return n;
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
static __always_inline void notify_queue(__u64 vm_id, __u64 base, __u32 q, __u32 flags)
{
	__u32 n = notify_begin(vm_id, base, q, flags), walked = 0;

	for (__u32 i = 0; i < GMA_TRACER_CHAINS_PER_NOTIFY_CAP && i < n; i++)
		walked += walk_chain(i);
	notify_end(walked);
}

/*
 * Looks at the used rings of the device left in the PENDING_SCAN slot, at the program's top
 * level: below a transport's frame the look's call chain would pass the 512 bytes of stack
 * kernels before 6.13 give it.
 */
__noinline int scan_device(__u64 vm_id, __u64 base);

static __always_inline void scan_pending(__u64 vm_id)
{
	__u32 slot = PENDING_SCAN;
	struct pending_notify *p = bpf_map_lookup_elem(&pending_notify, &slot);

	if (p && p->set) {
		p->set = 0;
		scan_device(vm_id, p->base);
	}
}

/* Samples the queue left in a pending slot, if any, at the program's top level. */
static __always_inline void sample_pending(__u64 vm_id, __u32 slot)
{
	struct pending_notify *p = bpf_map_lookup_elem(&pending_notify, &slot);

	if (p && p->set) {
		p->set = 0;
		notify_queue(vm_id, p->base, p->queue,
			     slot == PENDING_SILENT ? GMA_NOTIFY_SILENT : 0);
	}
}

/*
 * Looks at both rings of one queue, if it has a layout: completions since the last look (a
 * USED record), and whether the driver made chains available without notifying, which the
 * model must not miss (the first such queue of a scan is left in the PENDING_SILENT slot sq).
 * a holds the device and the queue's index. Global so the verifier checks it once, not once
 * for each of scan_device()'s GMA_TRACER_QUEUES_MAX rounds (that was half of every program's load time).
 */
__noinline int scan_queue(struct gma_backend *be, struct chain_args *a,
			  struct gma_tracer_vq_state *vq, struct pending_notify *sq)
{
	__u16 avail;
	int r;

	if (!be || !a || !vq || !sq)
		return 0;
	if (!vq->num || !vq->desc || !vq->driver || !vq->device || !(vq->flags & GMA_QUEUE_READY) ||
	    (vq->flags & GMA_QUEUE_PACKED))
		return 0;
	a->num = vq->num;
	a->desc = vq->device;
	r = scan_used(be, a, vq->last_used, vq->used_known, -1);
	if (r >= 0) {
		vq->last_used = r;
		vq->used_known = 1;
	}
	if (sq->set || guest_read_u16(be, vq->driver + GMA_VRING_AVAIL_IDX_OFF, &avail))
		return 0;
	if (!vq->avail_known) {
		vq->last_avail = avail; /* learnt now: what came before is not new */
		vq->avail_known = 1;
	} else if (avail != vq->last_avail) {
		sq->base = a->base;
		sq->queue = a->queue;
		sq->set = 1;
	}
	return 0;
}

/* Looks at every queue of a device (scan_queue()). */
__noinline int scan_device(__u64 vm_id, __u64 base)
{
	struct gma_tracer_dev_key key = { .vm_id = vm_id, .base = base };
	struct gma_backend be = {};
	struct chain_args a = {};
	struct pending_notify *sq;
	struct gma_tracer_virtio_dev *dev;
	__u32 slot = PENDING_SILENT;

	dev = bpf_map_lookup_elem(&devices, &key);
	sq = bpf_map_lookup_elem(&pending_notify, &slot);
	if (!dev || !sq)
		return 0;
	gma_backend_init(&be, (struct kvm *)vm_id);
	a.vm_id = vm_id;
	a.base = base;
	a.ts_ns = bpf_ktime_get_ns();
	for (__u32 q = 0; q < GMA_TRACER_QUEUES_MAX; q++) {
		a.queue = q;
		scan_queue(&be, &a, &dev->q[q], sq);
	}
	return 0;
}

/*
 * On any exit of a vCPU of the VM, at most every used_scan_ns: completions since, and chains
 * made available without a notify, walked here as a notify's would be.
 */
static __always_inline void maybe_scan_vm(__u64 vm_id)
{
	struct gma_tracer_vm_devs *v = bpf_map_lookup_elem(&vm_devs, &vm_id);
	__u64 now;

	if (!v)
		return;
	now = bpf_ktime_get_ns();
	if (now - v->last_scan_ns < used_scan_ns)
		return;
	v->last_scan_ns = now;
	for (__u32 i = 0; i < GMA_TRACER_VM_DEVS_MAX; i++) {
		if (i >= v->n)
			break;
		scan_device(vm_id, v->bases[i]);
	}
	sample_pending(vm_id, PENDING_SILENT);
}

#endif /* GMA_VIRTQUEUE_BPF_H */

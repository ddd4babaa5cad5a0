/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Split virtqueues read from the kernel at the moment the driver notifies: new avail entries,
 * each descriptor chain (bounded, indirect tables followed one level, loops and out-of-range
 * indices stopped and flagged), the first bytes of each buffer, and the used ring's progress.
 * Everything here is guest memory, hence hostile: every index is range-checked against the
 * queue size before use and every loop has a compile-time bound.
 *
 * Included by tracer.bpf.c after the memslot backend, the ring buffer and sample_fragment().
 */
#ifndef GMA_VIRTQUEUE_BPF_H
#define GMA_VIRTQUEUE_BPF_H

/*
 * The ring layouts are the spec's, read with plain offsets (gma/vring_walk.h), never CO-RE:
 * a KVM host's BTF has no VirtIO types.
 */
#define GMA_VRING_WALK_CTX
#define GMA_VRING_WALK_ROUNDS(w) (GMA_VRING_WALK_BPF_MAX + 1)
#include <gma/vring_walk.h>

/* Chains walked per notify; more new avail entries are counted in nr_skipped. */
#define CHAINS_PER_NOTIFY_CAP 32
/* Fragments per sampled buffer: a buffer's first bytes may cross a memslot or host page. */
#define BUFFER_FRAGS_MAX 4
/* The split ring's largest size (VirtIO 1.x 2.7: Queue Size <= 32768). */
#define QUEUE_NUM_MAX 32768

const volatile __u32 snap_len = 64; /* bytes sampled from the start of each buffer */
const volatile __u32 chains_per_notify = 16; /* <= CHAINS_PER_NOTIFY_CAP */
const volatile __u64 used_scan_ns = 1000000; /* how often exits look for completions */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct mmio_key);
	__type(value, struct mmio_dev);
} mmio_devs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct vm_devs);
} vm_devs SEC(".maps");

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
	__u16 heads[CHAINS_PER_NOTIFY_CAP];
	__u32 nr_heads;
	__u32 delta;
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

/* Whether gpa is guest memory. */
static __noinline bool guest_mapped(struct gma_backend *be, __u64 gpa)
{
	struct gma_xlat x;

	return !gma_translate(be, gpa, &x);
}

/*
 * Whether [gpa, gpa + len) starts and ends in guest memory and does not wrap. (A hole in its
 * middle is not looked for: that would cost a translation per memslot crossed.)
 */
static __always_inline bool guest_range_ends_mapped(struct gma_backend *be, __u64 gpa, __u64 len)
{
	if (!len)
		return true;
	if (gpa + (len - 1) < gpa)
		return false;
	return guest_mapped(be, gpa) && guest_mapped(be, gpa + (len - 1));
}

/*
 * Samples the first snap_len bytes of one buffer as fragments of sample_id, seq = position.
 * Returns the bytes covered.
 */
static __always_inline __u32 sample_buffer(__u64 vm_id, __u64 sample_id, __u64 addr, __u32 len,
					   __u32 pos)
{
	__u32 want = len < snap_len ? len : snap_len, i;
	__u64 off = 0;
	__s64 r;

	if (want > GMA_COPY_CAP)
		want = GMA_COPY_CAP;
	for (i = 0; i < BUFFER_FRAGS_MAX && off < want; i++) {
		r = sample_fragment(vm_id, sample_id, addr + off, want - off, pos);
		if (r < 2)
			break;
		off += r >> 1;
	}
	return off;
}

/* The chain walk (gma/vring_walk.h) over the VM's memslots, recording into the CHAIN record. */
struct gma_vring_ctx {
	struct chain_scratch s;
};

static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d)
{
	return gma_read_obj(&ctx->s.be, gpa, d, sizeof(*d));
}

static bool gma_vring_mapped(struct gma_vring_ctx *ctx, __u64 gpa)
{
	return guest_mapped(&ctx->s.be, gpa);
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
	dr->snap_len = sample_buffer(rec->key.vm_id, rec->sample_id, d->addr, d->len, pos);
	rec->nr_recorded++;
	return 0;
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
	rec->head = ns->heads[i_head & (CHAINS_PER_NOTIFY_CAP - 1)];
	rec->nr_recorded = 0;
	rec->total_len = 0;
	rec->pid = bpf_get_current_pid_tgid() >> 32;
	gma_backend_init(&s->be, (struct kvm *)a->vm_id);
	gma_vring_walk_begin(&s->w, a->desc, a->num, rec->head, GMA_VRING_WALK_BPF_MAX);
	gma_vring_walk_chain((struct gma_vring_ctx *)s, &s->w, &s->d);
	rec->nr_descs = s->w.nr_buffers;
	rec->anomalies = s->w.anomalies;
	rec->indirect_addr = s->w.indirect_addr;
	rec->indirect_len = s->w.indirect_len;
	rec_hdr(&rec->hdr, GMA_REC_CHAIN, sizeof(*rec));
	if (bpf_ringbuf_output(&events, rec, sizeof(*rec), BPF_RB_NO_WAKEUP))
		count_drop();
	return 1;
}

/* Reports the used ring's progress since the last look; returns the new used index. */
__noinline int scan_used(struct chain_args *a, __u32 last_used, __u32 used_known)
{
	struct gma_backend be = {};
	struct gma_rec_used *rec;
	__u32 zero = 0, delta, i;
	__u16 used_new = 0;

	if (!a || a->num == 0 || a->num > QUEUE_NUM_MAX)
		return -1;
	gma_backend_init(&be, (struct kvm *)a->vm_id);
	if (guest_read_u16(&be, a->desc + GMA_VRING_USED_IDX_OFF,
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
	for (i = 0; i < GMA_USED_ELEM_MAX && i < delta; i++) {
		__u64 at = a->desc + gma_vring_used_elem_off(((__u16)last_used + i) % a->num);
		struct gma_vring_used_elem e;

		if (gma_read_obj(&be, at, &e, sizeof(e))) {
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

#endif /* GMA_VIRTQUEUE_BPF_H */

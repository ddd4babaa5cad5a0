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
#include <gma/vring_walk.h>

/* Descriptors walked per chain (direct and indirect together); longer chains are truncated. */
#define CHAIN_WALK_MAX 64
/* Chains walked per notify; more new avail entries are counted in nr_skipped. */
#define CHAINS_PER_NOTIFY_CAP 32
/* Fragments per sampled buffer: a buffer's first bytes may cross a memslot or host page. */
#define BUFFER_FRAGS_MAX 4
/* Largest queue whose descriptors the loop detector tracks one by one (1024 bits). */
#define VISITED_MAX 1024
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
	__u64 visited[VISITED_MAX / 64];
	__u64 table; /* the indirect table being walked, when in_ind */
	__u32 idx; /* next descriptor index */
	__u32 limit; /* entries in the table idx indexes */
	__u32 in_ind;
	__u32 seen_write;
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

/*
 * Whether [gpa, gpa + len) starts and ends in guest memory and does not wrap: a buffer that
 * fails it reaches outside the guest. (A hole in its middle is not looked for: that would
 * cost a translation per memslot crossed.)
 */
static __noinline bool guest_range_ends_mapped(struct gma_backend *be, __u64 gpa, __u64 len)
{
	struct gma_xlat x;

	if (!len)
		return true;
	if (gpa + (len - 1) < gpa)
		return false;
	return !gma_translate(be, gpa, &x) && !gma_translate(be, gpa + (len - 1), &x);
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

/*
 * Walks the chain at head and sends its buffers' first bytes and a CHAIN record. Global so
 * the verifier checks it once; its loop is bounded by CHAIN_WALK_MAX whatever the guest wrote.
 */
__noinline int walk_chain(__u32 i_head)
{
	struct notify_scratch *ns;
	struct chain_args *a;
	struct chain_scratch *s;
	struct gma_rec_chain *rec;
	struct gma_backend *be;
	struct gma_vring_desc *d;
	__u64 sample_id, at;
	__u32 zero = 0, k, i, idx;

	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	s = bpf_map_lookup_elem(&chain_scratch, &zero);
	if (!ns || !s || i_head >= ns->nr_heads)
		return 0;
	a = &ns->a;
	rec = &s->rec;
	be = &s->be;
	d = &s->d;
	for (i = 0; i < VISITED_MAX / 64; i++)
		s->visited[i] = 0;
	sample_id = __sync_fetch_and_add(&sample_seq, 1) | (1ULL << 63);
	rec->key.vm_id = a->vm_id;
	rec->key.base = a->base;
	rec->key.queue = a->queue;
	rec->key.pad = 0;
	rec->ts_ns = a->ts_ns;
	rec->notify_seq = a->notify_seq;
	rec->sample_id = sample_id;
	rec->indirect_addr = 0;
	rec->indirect_len = 0;
	rec->avail_idx = a->avail_idx + i_head;
	rec->head = ns->heads[i_head & (CHAINS_PER_NOTIFY_CAP - 1)];
	rec->nr_descs = 0;
	rec->nr_recorded = 0;
	rec->anomalies = 0;
	rec->total_len = 0;
	rec->pid = bpf_get_current_pid_tgid() >> 32;
	s->idx = rec->head;
	s->limit = a->num;
	s->in_ind = 0;
	s->table = 0;
	s->seen_write = 0;
	gma_backend_init(be, (struct kvm *)a->vm_id);

	for (k = 0; k < CHAIN_WALK_MAX; k++) {
		idx = s->idx;
		if (idx >= s->limit) {
			rec->anomalies |= GMA_ANOM_DESC_OUT_OF_RANGE;
			break;
		}
		if (idx < VISITED_MAX) {
			__u64 bit = 1ULL << (idx & 63);
			__u32 word = (idx / 64) & (VISITED_MAX / 64 - 1);

			if (s->visited[word] & bit) {
				rec->anomalies |= GMA_ANOM_CHAIN_LOOP;
				break;
			}
			s->visited[word] |= bit;
		}
		if (rec->nr_descs >= a->num) {
			rec->anomalies |= GMA_ANOM_CHAIN_TOO_LONG;
			break;
		}
		at = (s->in_ind ? s->table : a->desc) + (__u64)idx * sizeof(*d);
		if (gma_read_obj(be, at, d, sizeof(*d))) {
			rec->anomalies |= s->in_ind ? GMA_ANOM_BUFFER_UNMAPPED :
						      GMA_ANOM_RING_UNREADABLE;
			break;
		}
		rec->nr_descs++;
		if (d->flags & GMA_VRING_DESC_F_INDIRECT) {
			if (s->in_ind) {
				rec->anomalies |= GMA_ANOM_NESTED_INDIRECT;
				break;
			}
			if (d->len % sizeof(*d))
				rec->anomalies |= GMA_ANOM_INDIRECT_LEN;
			rec->indirect_addr = d->addr;
			rec->indirect_len = d->len;
			if (d->len < sizeof(*d))
				break;
			/* an indirect table: its entries chain by index within the table */
			s->in_ind = 1;
			s->table = d->addr;
			s->limit = d->len / sizeof(*d);
			s->idx = 0;
			for (i = 0; i < VISITED_MAX / 64; i++)
				s->visited[i] = 0;
			continue;
		}
		if (d->flags & GMA_VRING_DESC_F_WRITE)
			s->seen_write = 1;
		else if (s->seen_write)
			rec->anomalies |= GMA_ANOM_READ_AFTER_WRITE;
		if (d->len == 0)
			rec->anomalies |= GMA_ANOM_ZERO_LEN;
		else if (!guest_range_ends_mapped(be, d->addr, d->len))
			rec->anomalies |= GMA_ANOM_BUFFER_UNMAPPED;
		rec->total_len += d->len;
		if (rec->nr_recorded < GMA_CHAIN_DESC_MAX) {
			__u32 pos = rec->nr_recorded & (GMA_CHAIN_DESC_MAX - 1);
			struct gma_desc_rec *dr = &rec->descs[pos];

			dr->addr = d->addr;
			dr->len = d->len;
			dr->flags = d->flags;
			dr->next = d->next;
			dr->index = idx;
			dr->in_indirect = s->in_ind;
			dr->pad = 0;
			dr->snap_len = sample_buffer(a->vm_id, sample_id, d->addr, d->len, pos);
			rec->nr_recorded++;
		}
		if (!(d->flags & GMA_VRING_DESC_F_NEXT))
			break;
		s->idx = d->next;
	}
	if (k == CHAIN_WALK_MAX)
		rec->anomalies |= GMA_ANOM_CHAIN_TRUNCATED;
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

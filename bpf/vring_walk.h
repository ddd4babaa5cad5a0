/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The split virtqueue as the VirtIO spec fixes it (1.x, 2.7) and the descriptor chain walk,
 * written once and compiled both into the BPF tracer (gma-trace rings, at each notify) and
 * into libgma (gma-trace ring, one-shot): one set of rules, the same verdict live and
 * one-shot. Everything read from a ring is hostile guest input.
 *
 * The walk is a state machine with no memory access of its own, and one loop over it,
 * gma_vring_walk_chain(). As with the accessor core, the includer binds the memory: it
 * defines GMA_VRING_WALK_CTX, a `struct gma_vring_ctx`, and three static functions,
 *
 *   gma_vring_read_desc(ctx, gpa, d)   the 16 bytes at gpa as one object: 0 or an error
 *   gma_vring_translate(ctx, gpa, limit)   0 when gpa is guest memory, *limit then the bytes
 *                                      from gpa to the end of its region (at least 1)
 *   gma_vring_on_desc(ctx, w, d, idx, kind)   a descriptor the walk stepped (a buffer or a
 *                                      table pointer): both sides record the buffers (a
 *                                      chain's descriptor list) and keep the table in
 *                                      w->indirect_addr/len; nonzero stops the walk
 *                                      (userspace: -ENOMEM)
 *
 * so BPF reads through the host's memslots, userspace through a process or a dump, and the
 * rules are the same. BPF bounds the loop with a constant (GMA_VRING_WALK_ROUNDS).
 *
 * The rules (anomaly bits of include/gma/record.h; "stop" ends the walk there):
 *
 *   head or next index >= entries of its table      DESC_OUT_OF_RANGE, stop
 *   a descriptor reached twice within its table      CHAIN_LOOP, stop: seen by a bitmap for
 *                                                    indices < GMA_VRING_VISITED_MAX, beyond
 *                                                    by a table walked more times than it
 *                                                    has entries (a loop, by pigeonhole)
 *   more buffers than the queue size                 CHAIN_TOO_LONG, stop (a table pointer
 *                                                    is not a buffer)
 *   descriptor unreadable (16 bytes as one object:   RING_UNREADABLE in the queue's table,
 *   one straddling two regions is unreadable)        BUFFER_UNMAPPED in an indirect table;
 *                                                    stop
 *   INDIRECT inside an indirect table                NESTED_INDIRECT, stop
 *   INDIRECT with NEXT (the spec forbids it)         INDIRECT_NEXT; the chain ends at the
 *                                                    table, as a device ends it
 *   indirect table length 0 or not a multiple of 16  INDIRECT_LEN, the table is not
 *                                                    followed (a device refuses it)
 *   a writable buffer before a readable one          READ_AFTER_WRITE, the walk goes on
 *   a buffer of length 0                             ZERO_LEN, the walk goes on
 *   buffer or table whose first or last byte is not  BUFFER_UNMAPPED, the walk goes on
 *   guest memory, or that wraps past 2^64
 *   max_descs descriptors read, the chain goes on    CHAIN_TRUNCATED, stop: the walker's
 *                                                    cap, not the guest's fault
 *
 * max_descs counts every descriptor read, table pointers included: BPF walks at most
 * GMA_VRING_WALK_BPF_MAX; userspace's cap is a budget per ring. With equal caps both give the
 * same descriptors and the same bits (tests/unit/test_vring_walk.c, tests/fuzz/fuzz_ring.c).
 *
 * The layouts are an ABI of the spec, not kernel internals, so they are plain structs with
 * plain offsets in both compilers. BPF must never read them through CO-RE: a bare-metal KVM
 * host has no VirtIO device, so its virtio/virtio_ring modules are not loaded and its BTF
 * has no struct vring_desc to relocate against (the tracer then failed to load there).
 * Userspace checks at compile time that they match the kernel's uapi <linux/virtio_ring.h>.
 */
#ifndef GMA_VRING_WALK_H
#define GMA_VRING_WALK_H

#ifndef __bpf__
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#endif

#include <gma/record.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* A descriptor: 16 bytes, little-endian (x86 hosts and guests only). */
struct gma_vring_desc {
	__u64 addr;
	__u32 len;
	__u16 flags;
	__u16 next;
};

/* An element of the used ring: the head of a chain and the bytes the device wrote. */
struct gma_vring_used_elem {
	__u32 id;
	__u32 len;
};

#define GMA_VRING_DESC_F_NEXT 1
#define GMA_VRING_DESC_F_WRITE 2
#define GMA_VRING_DESC_F_INDIRECT 4

/*
 * Offsets within the driver area (avail ring) and the device area (used ring):
 *   avail: flags u16 | idx u16 | ring[num] u16 | used_event u16
 *   used:  flags u16 | idx u16 | ring[num] {id u32, len u32} | avail_event u16
 */
#define GMA_VRING_AVAIL_IDX_OFF 2
#define GMA_VRING_USED_IDX_OFF 2
#define GMA_VRING_RING_OFF 4

/* Sizes of the three ring areas of a queue of num entries, event fields included. */
static inline __u64 gma_vring_desc_area_size(__u32 num)
{
	return (__u64)num * sizeof(struct gma_vring_desc);
}

static inline __u64 gma_vring_avail_area_size(__u32 num)
{
	return GMA_VRING_RING_OFF + (__u64)num * sizeof(__u16) + sizeof(__u16);
}

static inline __u64 gma_vring_used_area_size(__u32 num)
{
	return GMA_VRING_RING_OFF + (__u64)num * sizeof(struct gma_vring_used_elem) + sizeof(__u16);
}

/*
 * The legacy layout (VirtIO 1.x 2.7.2, "Legacy Interfaces"): one contiguous area from the
 * descriptor table, the used ring aligned to align (4096 for legacy PCI, QueueAlign for
 * legacy virtio-mmio) after the avail ring.
 */
static inline void gma_vring_legacy_layout(__u64 desc, __u32 num, __u32 align, __u64 *driver,
					   __u64 *device)
{
	__u64 avail_end;

	if (!align || (align & (align - 1)))
		align = 4096;
	*driver = desc + gma_vring_desc_area_size(num);
	avail_end = *driver + gma_vring_avail_area_size(num);
	*device = (avail_end + align - 1) & ~((__u64)align - 1);
}

static inline __u64 gma_vring_avail_entry_off(__u32 slot)
{
	return GMA_VRING_RING_OFF + (__u64)slot * sizeof(__u16);
}

static inline __u64 gma_vring_used_elem_off(__u32 slot)
{
	return GMA_VRING_RING_OFF + (__u64)slot * sizeof(struct gma_vring_used_elem);
}

/* --- the chain walk ---------------------------------------------------------------------- */

/* Indices whose visits are tracked one by one (a bitmap of this many bits per table). */
#define GMA_VRING_VISITED_MAX 1024
/* Descriptors the BPF tracer reads per chain (tables included): its walk cap. */
#define GMA_VRING_WALK_BPF_MAX 64

enum gma_vring_step {
	GMA_VRING_STOP = 0, /* nothing to record: the walk stopped on this descriptor */
	GMA_VRING_BUFFER = 1, /* a buffer of the chain: record it, check its range, sample it */
	GMA_VRING_TABLE = 2, /* an indirect table, followed next: record it, check its range */
};

struct gma_vring_walk {
	__u64 queue_table; /* gpa of the queue's descriptor table */
	__u64 table; /* gpa of the table being walked: queue_table or the indirect table */
	__u64 indirect_addr; /* the indirect table met, if any */
	__u32 indirect_len;
	__u32 queue_num;
	__u32 limit; /* entries of the table being walked */
	__u32 idx; /* the next descriptor, within table */
	__u32 max_descs;
	__u32 nr_descs; /* descriptors read, tables included */
	__u32 nr_in_table; /* descriptors read within the table being walked */
	__u32 nr_buffers; /* buffers stepped: a chain's length as both sides report it */
	__u32 anomalies; /* GMA_ANOM_* */
	__u8 in_indirect;
	__u8 seen_write;
	__u8 done;
	__u8 pad;
	__u64 visited[GMA_VRING_VISITED_MAX / 64];
};

static __always_inline void gma_vring_walk_clear_visited(struct gma_vring_walk *w)
{
	for (__u32 i = 0; i < GMA_VRING_VISITED_MAX / 64; i++)
		w->visited[i] = 0;
}

/* Starts the walk of the chain at head of a queue of queue_num entries at desc_table. */
static __always_inline void gma_vring_walk_begin(struct gma_vring_walk *w, __u64 desc_table,
						 __u32 queue_num, __u32 head, __u32 max_descs)
{
	w->queue_table = desc_table;
	w->table = desc_table;
	w->indirect_addr = 0;
	w->indirect_len = 0;
	w->queue_num = queue_num;
	w->limit = queue_num;
	w->idx = head;
	w->max_descs = max_descs;
	w->nr_descs = 0;
	w->nr_in_table = 0;
	w->nr_buffers = 0;
	w->anomalies = 0;
	w->in_indirect = 0;
	w->seen_write = 0;
	w->done = 0;
	w->pad = 0;
	gma_vring_walk_clear_visited(w);
}

static __always_inline int gma_vring_walk_stop(struct gma_vring_walk *w, __u32 anomaly)
{
	w->anomalies |= anomaly;
	w->done = 1;
	return -1;
}

/*
 * Where the next descriptor is: 0 and *gpa, or -1 when the walk is over (the chain ended, or
 * an anomaly or the cap stopped it, in w->anomalies).
 */
static __always_inline int gma_vring_walk_next(struct gma_vring_walk *w, __u64 *gpa)
{
	__u32 idx = w->idx;
	__u64 bit, off;

	if (w->done)
		return -1;
	if (idx >= w->limit)
		return gma_vring_walk_stop(w, GMA_ANOM_DESC_OUT_OF_RANGE);
	if (idx < GMA_VRING_VISITED_MAX) {
		bit = 1ULL << (idx & 63);
		if (w->visited[(idx / 64) & (GMA_VRING_VISITED_MAX / 64 - 1)] & bit)
			return gma_vring_walk_stop(w, GMA_ANOM_CHAIN_LOOP);
	}
	if (w->nr_in_table >= w->limit) /* more reads than entries: one came back */
		return gma_vring_walk_stop(w, GMA_ANOM_CHAIN_LOOP);
	if (w->nr_descs >= w->max_descs)
		return gma_vring_walk_stop(w, GMA_ANOM_CHAIN_TRUNCATED);
	off = (__u64)idx * sizeof(struct gma_vring_desc);
	if (w->table + off < w->table) /* an indirect table at the top of the address space */
		return gma_vring_walk_stop(w, GMA_ANOM_BUFFER_UNMAPPED);
	*gpa = w->table + off;
	return 0;
}

/* The descriptor gma_vring_walk_next() pointed at could not be read. */
static __always_inline void gma_vring_walk_unreadable(struct gma_vring_walk *w)
{
	gma_vring_walk_stop(w,
			    w->in_indirect ? GMA_ANOM_BUFFER_UNMAPPED : GMA_ANOM_RING_UNREADABLE);
}

/* Feeds the descriptor read: what it is, and where the walk goes next. */
static __always_inline enum gma_vring_step gma_vring_walk_step(struct gma_vring_walk *w,
							       const struct gma_vring_desc *d)
{
	__u32 idx = w->idx;

	if (idx < GMA_VRING_VISITED_MAX)
		w->visited[(idx / 64) & (GMA_VRING_VISITED_MAX / 64 - 1)] |= 1ULL << (idx & 63);
	w->nr_descs++;
	w->nr_in_table++;
	if (d->flags & GMA_VRING_DESC_F_INDIRECT) {
		if (w->in_indirect) {
			gma_vring_walk_stop(w, GMA_ANOM_NESTED_INDIRECT);
			return GMA_VRING_STOP;
		}
		w->indirect_addr = d->addr;
		w->indirect_len = d->len;
		if (d->flags & GMA_VRING_DESC_F_NEXT)
			w->anomalies |= GMA_ANOM_INDIRECT_NEXT;
		if (!d->len || d->len % sizeof(struct gma_vring_desc)) {
			w->anomalies |= GMA_ANOM_INDIRECT_LEN;
			w->done = 1;
			return GMA_VRING_TABLE;
		}
		/* the chain continues in the table, entries chained by their index in it */
		w->in_indirect = 1;
		w->table = d->addr;
		w->limit = d->len / sizeof(struct gma_vring_desc);
		w->idx = 0;
		w->nr_in_table = 0;
		gma_vring_walk_clear_visited(w);
		return GMA_VRING_TABLE;
	}
	if (w->nr_buffers >= w->queue_num) {
		gma_vring_walk_stop(w, GMA_ANOM_CHAIN_TOO_LONG);
		return GMA_VRING_STOP;
	}
	w->nr_buffers++;
	if (d->flags & GMA_VRING_DESC_F_WRITE)
		w->seen_write = 1;
	else if (w->seen_write)
		w->anomalies |= GMA_ANOM_READ_AFTER_WRITE;
	if (!d->len)
		w->anomalies |= GMA_ANOM_ZERO_LEN;
	if (d->flags & GMA_VRING_DESC_F_NEXT)
		w->idx = d->next;
	else
		w->done = 1;
	return GMA_VRING_BUFFER;
}

/* Whether the descriptor of kind just stepped lies in an indirect table (a table pointer does not). */
static __always_inline bool gma_vring_walk_in_indirect(const struct gma_vring_walk *w,
						       enum gma_vring_step kind)
{
	return kind == GMA_VRING_BUFFER && w->in_indirect;
}

/*
 * Userspace only: the walker's own layouts checked against the uapi header at compile time.
 * BPF never names struct vring_* (from vmlinux.h they would be CO-RE-relocated against the
 * running kernel's BTF, which on a KVM host without VirtIO modules has none of them).
 */
#ifndef __bpf__
#include <linux/virtio_ring.h>

_Static_assert(sizeof(struct gma_vring_desc) == sizeof(struct vring_desc) &&
		       offsetof(struct gma_vring_desc, len) == offsetof(struct vring_desc, len) &&
		       offsetof(struct gma_vring_desc, flags) ==
			       offsetof(struct vring_desc, flags) &&
		       offsetof(struct gma_vring_desc, next) == offsetof(struct vring_desc, next),
	       "struct gma_vring_desc is the spec's descriptor");
_Static_assert(sizeof(struct gma_vring_used_elem) == sizeof(struct vring_used_elem) &&
		       offsetof(struct gma_vring_used_elem, len) ==
			       offsetof(struct vring_used_elem, len),
	       "struct gma_vring_used_elem is the spec's used element");
_Static_assert(GMA_VRING_DESC_F_NEXT == VRING_DESC_F_NEXT &&
		       GMA_VRING_DESC_F_WRITE == VRING_DESC_F_WRITE &&
		       GMA_VRING_DESC_F_INDIRECT == VRING_DESC_F_INDIRECT,
	       "descriptor flags are the spec's");
_Static_assert(offsetof(struct vring_avail, idx) == GMA_VRING_AVAIL_IDX_OFF &&
		       offsetof(struct vring_avail, ring) == GMA_VRING_RING_OFF &&
		       offsetof(struct vring_used, idx) == GMA_VRING_USED_IDX_OFF &&
		       offsetof(struct vring_used, ring) == GMA_VRING_RING_OFF,
	       "ring offsets are the spec's");
#endif

#endif /* GMA_VRING_WALK_H */

/*
 * The loop, for includers that bind memory to the walk. Outside the include guard: a header
 * that needs only the layouts may include this one before the includer defines the context.
 */
#if defined(GMA_VRING_WALK_CTX) && !defined(GMA_VRING_WALK_CHAIN_DEFINED)
#define GMA_VRING_WALK_CHAIN_DEFINED
struct gma_vring_ctx;
static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d);
static int gma_vring_translate(struct gma_vring_ctx *ctx, __u64 gpa, __u64 *limit);
static int gma_vring_on_desc(struct gma_vring_ctx *ctx, const struct gma_vring_walk *w,
			     const struct gma_vring_desc *d, __u32 idx, enum gma_vring_step kind);

/*
 * Whether [gpa, gpa + len) starts and ends in guest memory and does not wrap past 2^64: the
 * check of a buffer or table the walk steps, and of a queue's three ring areas (the tracer at
 * a notify, gma_ring_read() one-shot). The last byte is translated only when the region of
 * the first does not reach it, which a buffer rarely does. A hole in the middle of a range
 * crossing regions is not looked for: that would cost a translation per region crossed.
 */
static __always_inline bool gma_vring_range_mapped(struct gma_vring_ctx *ctx, __u64 gpa, __u64 len)
{
	__u64 limit = 0;

	if (!len)
		return true;
	if (gpa + (len - 1) < gpa)
		return false;
	if (gma_vring_translate(ctx, gpa, &limit))
		return false;
	if (limit >= len)
		return true;
	return !gma_vring_translate(ctx, gpa + (len - 1), &limit);
}

/* Rounds of the walk loop: one more than the cap, so the walk itself says the cap stopped it. */
#ifndef GMA_VRING_WALK_ROUNDS
#define GMA_VRING_WALK_ROUNDS(w) ((w)->max_descs + 1)
#endif

/*
 * One round of the walk: reads the next descriptor into d, applies the rules, hands it to
 * gma_vring_on_desc(). 0 when the walk goes on, -1 when it is over (w->done).
 */
static __always_inline int gma_vring_walk_one(struct gma_vring_ctx *ctx, struct gma_vring_walk *w,
					      struct gma_vring_desc *d)
{
	enum gma_vring_step kind;
	__u64 gpa = 0;
	__u32 idx;

	if (gma_vring_walk_next(w, &gpa))
		return -1;
	if (gma_vring_read_desc(ctx, gpa, d)) {
		gma_vring_walk_unreadable(w);
		return -1;
	}
	idx = w->idx;
	kind = gma_vring_walk_step(w, d);
	if (kind == GMA_VRING_STOP)
		return -1;
	if (!gma_vring_range_mapped(ctx, d->addr, d->len))
		w->anomalies |= GMA_ANOM_BUFFER_UNMAPPED;
	if (gma_vring_on_desc(ctx, w, d, idx, kind)) {
		w->done = 1;
		return -1;
	}
	return w->done ? -1 : 0;
}

/*
 * Walks the chain gma_vring_walk_begin() set up, to its end or to what stops it. The result
 * is in w (anomalies, nr_descs, indirect table); each descriptor went to gma_vring_on_desc().
 * (The BPF tracer runs the same rounds, each one a global function the verifier checks once,
 * rather than this loop, whose body a verifier checks once per round.)
 */
static __always_inline void gma_vring_walk_chain(struct gma_vring_ctx *ctx,
						 struct gma_vring_walk *w, struct gma_vring_desc *d)
{
	for (__u32 k = 0; k < GMA_VRING_WALK_ROUNDS(w); k++)
		if (gma_vring_walk_one(ctx, w, d))
			break;
}
#endif /* GMA_VRING_WALK_CTX */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Split virtqueues decoded from userspace through the accessor. Chains are walked by the
 * rules the live tracer walks them with (bpf/vring_walk.h, one source for both). The guest
 * owns every byte read here: indices are range-checked before use, walks are bounded, and
 * allocations capped by GMA_QUEUE_NUM_MAX, GMA_RING_DESCS_MAX and GMA_RING_BYTES_MAX.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include <gma/virtio.h>
#define GMA_VRING_WALK_CTX
#include "vring_walk.h"

#include "gma_internal.h"

#define LEGACY_ALIGN 4096

static bool is_pow2(__u32 v)
{
	return v && !(v & (v - 1));
}

__u32 gma_queue_layout_anomalies(const struct gma_queue_layout *q)
{
	__u64 a_desc = 16, a_drv = 2, a_dev = 4;

	if (!q)
		return 0;
	if (q->flags & GMA_QUEUE_PACKED) {
		a_drv = 4;
	} else if (q->flags & GMA_QUEUE_LEGACY) {
		a_desc = LEGACY_ALIGN;
		a_dev = LEGACY_ALIGN;
	}
	if (!q->num || q->num > GMA_QUEUE_NUM_MAX ||
	    (!(q->flags & GMA_QUEUE_PACKED) && !is_pow2(q->num)))
		return GMA_ANOM_RING_MISALIGNED;
	if ((q->desc & (a_desc - 1)) || (q->driver & (a_drv - 1)) || (q->device & (a_dev - 1)))
		return GMA_ANOM_RING_MISALIGNED;
	return 0;
}

/* --- reading ---------------------------------------------------------------------------- */

/* A ring index: one volatile access where the backend allows it, a plain read otherwise. */
static int read_u16(struct gma_mem *mem, __u64 gpa, __u16 *val)
{
	__u64 v;

	if (!(gpa & 1) && !gma_mem_read_volatile(mem, gpa, 2, &v)) {
		*val = (__u16)v;
		return 0;
	}
	return gma_mem_read_obj(mem, gpa, val, sizeof(*val));
}

/* gpa + off without wrapping past 2^64. */
static bool add_ok(__u64 gpa, __u64 off, __u64 *res)
{
	return !__builtin_add_overflow(gpa, off, res);
}

/* The first region starting above gpa, or 0 when there is none. */
static __u64 next_region(struct gma_mem *mem, __u64 gpa)
{
	size_t n;
	const struct gma_region *r = gma_mem_regions(mem, &n);

	for (size_t i = 0; i < n; i++)
		if (r[i].gpa > gpa)
			return r[i].gpa;
	return 0;
}

/*
 * Captures [gpa, gpa + len) with per-byte precision: a hole or a fault part-way leaves the
 * bytes after it to be tried. Each round either finishes or moves past at least one byte.
 * Returns true when any byte was outside guest memory.
 */
static bool capture(struct gma_mem *mem, __u64 gpa, __u8 *data, __u8 *state, __u32 len)
{
	bool unmapped = false;
	__u32 pos = 0;

	while (pos < len) {
		__u64 at, skip, nxt, want = len - pos;
		size_t done = 0;
		int err;

		if (!add_ok(gpa, pos, &at)) {
			memset(state + pos, GMA_BYTE_UNMAPPED, len - pos);
			return true;
		}
		if (at + want - 1 < at)
			want = 0 - at; /* up to 2^64; the rest wraps and is unmapped */
		err = gma_mem_read(mem, at, data + pos, want, &done);
		if (!err && want < len - pos)
			err = -EOVERFLOW;
		if (done > want)
			done = want;
		memset(state + pos, GMA_BYTE_READ, done);
		pos += done;
		if (!err || pos >= len)
			break;
		if (err == -EOVERFLOW) {
			memset(data + pos, 0, len - pos);
			memset(state + pos, GMA_BYTE_UNMAPPED, len - pos);
			return true;
		}
		at += done;
		if (err == -EFAULT) {
			/* The backend could not copy this page: try again at the next one. */
			skip = 4096 - (at & 4095);
			if (skip > len - pos)
				skip = len - pos;
			memset(data + pos, 0, skip);
			memset(state + pos, GMA_BYTE_FAULT, skip);
		} else {
			nxt = next_region(mem, at);
			skip = nxt > at ? nxt - at : len - pos;
			if (skip > len - pos)
				skip = len - pos;
			memset(data + pos, 0, skip);
			memset(state + pos, GMA_BYTE_UNMAPPED, skip);
			unmapped = true;
		}
		pos += skip;
	}
	return unmapped;
}

/* --- walking ---------------------------------------------------------------------------- */

struct walk {
	struct gma_mem *mem;
	const struct gma_queue_layout *q;
	__u32 snap_len;
	__u32 descs_left; /* of GMA_RING_DESCS_MAX */
	__u64 bytes_left; /* of GMA_RING_BYTES_MAX */
	struct gma_vring_walk chain; /* the shared walk (bpf/vring_walk.h) */
};

/* A chain's descriptors: the ring's own, libgma's to fill (handed out const). */
static struct gma_chain_desc *descs_of(struct gma_chain *c)
{
	return (struct gma_chain_desc *)c->descs;
}

static int chain_push(struct gma_chain *c, __u32 *cap, const struct gma_vring_desc *d, __u16 index,
		      bool in_indirect)
{
	if (c->nr_descs == *cap) {
		__u32 ncap = *cap ? *cap * 2 : 8;
		void *p;

		p = realloc(descs_of(c), ncap * sizeof(struct gma_chain_desc));
		if (!p)
			return -ENOMEM;
		c->descs = p;
		*cap = ncap;
	}
	descs_of(c)[c->nr_descs++] = (struct gma_chain_desc){
		.addr = d->addr,
		.len = d->len,
		.flags = d->flags,
		.next = d->next,
		.index = index,
		.in_indirect = in_indirect,
	};
	return 0;
}

/* The chain walk (bpf/vring_walk.h) over the accessor, recording into a gma_chain. */
struct gma_vring_ctx {
	struct gma_mem *mem;
	struct gma_chain *c;
	__u32 cap; /* entries allocated in c->descs */
	int err; /* -ENOMEM from recording, which stopped the walk */
};

static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d)
{
	return gma_mem_read_obj(ctx->mem, gpa, d, sizeof(*d));
}

static int gma_vring_translate(struct gma_vring_ctx *ctx, __u64 gpa, __u64 *limit)
{
	__u64 addr;

	return gma_mem_translate(ctx->mem, gpa, &addr, limit);
}

/* gma_vring_range_mapped() on memory alone, for a queue's ring areas. */
static bool range_mapped(struct gma_mem *mem, __u64 gpa, __u64 len)
{
	struct gma_vring_ctx ctx = { .mem = mem };

	return gma_vring_range_mapped(&ctx, gpa, len);
}

static int gma_vring_on_desc(struct gma_vring_ctx *ctx, const struct gma_vring_walk *w,
			     const struct gma_vring_desc *d, __u32 idx, enum gma_vring_step kind)
{
	if (kind != GMA_VRING_BUFFER)
		return 0; /* a table pointer: the chain's indirect_addr/len */
	ctx->err = chain_push(ctx->c, &ctx->cap, d, idx, w->in_indirect);
	return ctx->err;
}

/*
 * Walks the chain at c->head by the rules the BPF tracer walks it with; the ring's budget of
 * descriptors (GMA_RING_DESCS_MAX) is the walk's cap. 0 or -ENOMEM.
 */
static int walk_chain(struct walk *w, struct gma_chain *c)
{
	struct gma_vring_ctx ctx = { .mem = w->mem, .c = c };
	struct gma_vring_walk *cw = &w->chain;
	struct gma_vring_desc d;

	gma_vring_walk_begin(cw, w->q->desc, w->q->num, c->head, w->descs_left);
	gma_vring_walk_chain(&ctx, cw, &d);
	if (ctx.err)
		return ctx.err;
	w->descs_left -= cw->nr_descs;
	c->anomalies |= cw->anomalies;
	c->indirect_addr = cw->indirect_addr;
	c->indirect_len = cw->indirect_len;
	if (c->indirect_addr)
		c->flags |= GMA_CHAIN_INDIRECT;
	c->nr_walked = c->nr_descs; /* every buffer walked is recorded */
	return 0;
}

/* The first snap_len bytes of each buffer, byte by byte with their state. */
static int chain_capture(struct walk *w, struct gma_chain *c)
{
	for (__u32 i = 0; i < c->nr_descs; i++) {
		struct gma_chain_desc *d = &descs_of(c)[i];
		__u8 *bytes, *state;
		__u32 n;

		c->total_len += d->len;
		n = d->len < w->snap_len ? d->len : w->snap_len;
		if (n > w->bytes_left) {
			n = (__u32)w->bytes_left;
			c->anomalies |= GMA_ANOM_CHAIN_TRUNCATED;
		}
		if (!n)
			continue;
		w->bytes_left -= n;
		d->bytes = bytes = calloc(1, n);
		d->state = state = malloc(n);
		if (!bytes || !state)
			return -ENOMEM;
		d->nbytes = n;
		/* bytes not read are in their state; the verdict on the range is the walk's */
		capture(w->mem, d->addr, bytes, state, n);
	}
	return 0;
}

static void chain_free(struct gma_chain *c)
{
	for (__u32 i = 0; c->descs && i < c->nr_descs; i++) {
		free((void *)c->descs[i].bytes);
		free((void *)c->descs[i].state);
	}
	free(descs_of(c));
}

void gma_ring_free(struct gma_ring *ring)
{
	struct gma_chain *chains;

	if (!ring)
		return;
	chains = (struct gma_chain *)ring->chains;
	for (__u32 i = 0; chains && i < ring->nr_chains; i++)
		chain_free(&chains[i]);
	free(chains);
	free((void *)ring->used);
	free(ring);
}

/* The last used elements into r->used; -ENOMEM. */
static int read_used_tail(struct gma_mem *mem, struct gma_ring *r)
{
	const struct gma_queue_layout *q = &r->layout;
	__u32 m = q->num < GMA_RING_USED_TAIL ? q->num : GMA_RING_USED_TAIL;
	struct gma_ring_used_elem *used;

	/*
	 * Not from before the ring's start: a queue with used index 3 has 3 used entries, not
	 * a tail of stale slots (after 65536 completions the index wraps and looks the same:
	 * those older entries are then not shown either).
	 */
	if (m > r->used_idx)
		m = r->used_idx;
	if (!m)
		return 0;
	r->used = used = calloc(m, sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (__u32 k = 0; k < m; k++) {
		__u16 pos = (__u16)(r->used_idx - m + k);
		struct vring_used_elem e;
		__u64 gpa;

		if (!add_ok(q->device,
			    offsetof(struct vring_used, ring) + (__u64)(pos % q->num) * sizeof(e),
			    &gpa) ||
		    gma_mem_read(mem, gpa, &e, sizeof(e), NULL)) {
			r->anomalies |= GMA_ANOM_RING_UNREADABLE;
			continue;
		}
		used[r->nr_used++] = (struct gma_ring_used_elem){
			.pos = pos,
			.id = e.id,
			.len = e.len,
		};
	}
	return 0;
}

/* The avail ring entries and chains; returns a negative errno only for ENOMEM. */
static int read_chains(struct gma_mem *mem, struct gma_ring *r, __u32 snap_len, __u32 max)
{
	const struct gma_queue_layout *q = &r->layout;
	struct walk w = {
		.mem = mem,
		.q = q,
		.snap_len = snap_len,
		.descs_left = GMA_RING_DESCS_MAX,
		.bytes_left = GMA_RING_BYTES_MAX,
	};
	__u32 want = r->nr_pending;
	struct gma_chain *chains;
	__u8 *in_flight;
	int err = 0;

	if (want > q->num) {
		r->anomalies |= GMA_ANOM_AVAIL_JUMP;
		want = q->num;
	}
	if (max && want > max)
		want = max;
	if (!want)
		return 0;
	r->chains = chains = calloc(want, sizeof(*chains));
	/* the heads in flight: a head listed twice is a chain made available again too soon */
	in_flight = calloc((q->num + 7) / 8, 1);
	if (!chains || !in_flight) {
		free(in_flight);
		return -ENOMEM;
	}
	for (__u32 k = 0; k < want; k++) {
		struct gma_chain *c = &chains[r->nr_chains];
		__u16 pos = (__u16)(r->used_idx + k);
		__u64 gpa;

		if (!add_ok(q->driver,
			    offsetof(struct vring_avail, ring) + (__u64)(pos % q->num) * 2, &gpa) ||
		    gma_mem_read_obj(mem, gpa, &c->head, sizeof(c->head))) {
			r->anomalies |= GMA_ANOM_RING_UNREADABLE;
			break;
		}
		c->sz = sizeof(*c);
		c->desc_sz = sizeof(struct gma_chain_desc);
		c->avail_idx = pos;
		r->nr_chains++;
		if (c->head < q->num) {
			if (in_flight[c->head / 8] & (1u << (c->head % 8)))
				c->anomalies |= GMA_ANOM_HEAD_IN_FLIGHT;
			in_flight[c->head / 8] |= 1u << (c->head % 8);
		}
		err = walk_chain(&w, c);
		if (!err)
			err = chain_capture(&w, c);
		if (err)
			break;
	}
	free(in_flight);
	return err;
}

int gma_ring_read(struct gma_mem *mem, const struct gma_queue_layout *q,
		  const struct gma_ring_read_opts *opts, struct gma_ring **out)
{
	__u32 snap_len = GMA_SNAP_LEN_DEFAULT, max_chains = 0;
	struct gma_ring *r;
	__u64 gpa;
	int err;

	if (!mem || !q || !out)
		return -EINVAL;
	*out = NULL;
	if (!OPTS_VALID(opts, gma_ring_read_opts))
		return -EINVAL;
	snap_len = OPTS_GET(opts, snap_len, 0) ?: snap_len;
	max_chains = OPTS_GET(opts, max_chains, 0);
	if (snap_len > GMA_SNAP_LEN_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->sz = sizeof(*r);
	r->chain_sz = sizeof(struct gma_chain);
	r->used_sz = sizeof(struct gma_ring_used_elem);
	r->layout = *q;
	r->anomalies = gma_queue_layout_anomalies(q);
	*out = r;
	if (q->flags & GMA_QUEUE_PACKED) {
		r->anomalies |= GMA_ANOM_PACKED;
		return 0;
	}
	if (!q->num || q->num > GMA_QUEUE_NUM_MAX) {
		r->anomalies |= GMA_ANOM_RING_UNREADABLE;
		return 0;
	}
	if (read_u16(mem, q->driver, &r->avail_flags) ||
	    !add_ok(q->driver, offsetof(struct vring_avail, idx), &gpa) ||
	    read_u16(mem, gpa, &r->avail_idx) || read_u16(mem, q->device, &r->used_flags) ||
	    !add_ok(q->device, offsetof(struct vring_used, idx), &gpa) ||
	    read_u16(mem, gpa, &r->used_idx)) {
		r->anomalies |= GMA_ANOM_RING_UNREADABLE;
		return 0;
	}
	/* the three ring areas end in guest memory, as the tracer checks them at a notify */
	if (!range_mapped(mem, q->desc, gma_vring_desc_area_size(q->num)) ||
	    !range_mapped(mem, q->driver, gma_vring_avail_area_size(q->num)) ||
	    !range_mapped(mem, q->device, gma_vring_used_area_size(q->num)))
		r->anomalies |= GMA_ANOM_RING_UNREADABLE;
	r->nr_pending = (__u16)(r->avail_idx - r->used_idx);
	err = read_used_tail(mem, r);
	if (!err)
		err = read_chains(mem, r, snap_len, max_chains);
	if (err) {
		gma_ring_free(r);
		*out = NULL;
	}
	return err;
}

size_t gma_chain_gather(const struct gma_chain *c, bool writable, __u8 *out, size_t size)
{
	size_t got = 0;

	if (!c || !out)
		return 0;
	for (size_t i = 0; i < c->nr_descs && got < size; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(c, i);

		if (d->flags & VRING_DESC_F_INDIRECT)
			continue;
		if (!!(d->flags & VRING_DESC_F_WRITE) != writable)
			continue;
		for (__u32 k = 0; k < d->nbytes && got < size; k++) {
			/* a caller's chain, as well as libgma's: no byte read is no byte */
			if (!d->bytes || (d->state && d->state[k] != GMA_BYTE_READ))
				return got;
			out[got++] = d->bytes[k];
		}
		if (d->nbytes < d->len)
			break;
	}
	return got;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Split virtqueues decoded from userspace through the accessor, and the chain checks the live
 * tracer shares. The guest owns every byte read here: indices are range-checked before use,
 * walks are bounded by the queue size and a visited bitmap, allocations by GMA_QUEUE_NUM_MAX
 * and GMA_SNAP_LEN_MAX.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include <gma/virtio.h>

#define LEGACY_ALIGN 4096
#define IDX_SPACE 65536 /* a __u16 index: the most entries an indirect table can address */

static bool is_table_ptr(const struct gma_desc_rec *d)
{
	return !d->in_indirect && (d->flags & VRING_DESC_F_INDIRECT);
}

__u32 gma_chain_anomalies(const struct gma_desc_rec *descs, size_t n, __u32 queue_num)
{
	bool seen_write = false;
	size_t buffers = 0;
	__u32 anom = 0;

	if (!descs)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct gma_desc_rec *d = &descs[i];

		if (!d->len)
			anom |= GMA_ANOM_ZERO_LEN;
		if (d->flags & VRING_DESC_F_INDIRECT) {
			if (d->len % sizeof(struct vring_desc))
				anom |= GMA_ANOM_INDIRECT_LEN;
			if (d->in_indirect)
				anom |= GMA_ANOM_NESTED_INDIRECT;
			if (is_table_ptr(d))
				continue;
		}
		buffers++;
		if (d->flags & VRING_DESC_F_WRITE)
			seen_write = true;
		else if (seen_write)
			anom |= GMA_ANOM_READ_AFTER_WRITE;
	}
	if (buffers > queue_num)
		anom |= GMA_ANOM_CHAIN_TOO_LONG;
	return anom;
}

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

/* A descriptor may straddle regions when its table is misaligned: read it as a buffer. */
static int read_desc(struct gma_mem *mem, __u64 table, __u64 i, struct vring_desc *d)
{
	__u64 gpa;

	if (!add_ok(table, i * sizeof(*d), &gpa))
		return -EOVERFLOW;
	return gma_mem_read(mem, gpa, d, sizeof(*d), NULL);
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
	__u8 *visited; /* num bits: main table */
	__u8 *ivisited; /* IDX_SPACE bits: the indirect table */
	__u32 descs_left; /* of GMA_RING_DESCS_MAX */
	__u64 bytes_left; /* of GMA_RING_BYTES_MAX */
};

static bool test_and_set(__u8 *bm, __u32 i)
{
	bool was = bm[i / 8] & (1u << (i % 8));

	bm[i / 8] |= 1u << (i % 8);
	return was;
}

static void clear_bit(__u8 *bm, __u32 i)
{
	bm[i / 8] &= ~(1u << (i % 8));
}

static int chain_push(struct gma_ring_chain *c, __u32 *cap, const struct vring_desc *d, __u16 index,
		      bool in_indirect)
{
	struct gma_desc_rec *r;

	if (c->nr_descs == *cap) {
		__u32 ncap = *cap ? *cap * 2 : 8;
		void *p;

		p = realloc(c->descs, ncap * sizeof(*c->descs));
		if (!p)
			return -ENOMEM;
		c->descs = p;
		*cap = ncap;
	}
	r = &c->descs[c->nr_descs++];
	memset(r, 0, sizeof(*r));
	r->addr = d->addr;
	r->len = d->len;
	r->flags = d->flags;
	r->next = d->next;
	r->index = index;
	r->in_indirect = in_indirect;
	return 0;
}

/*
 * Walks the indirect table [addr, addr + len) of the chain. Returns the anomalies that
 * stopped it (or 0), or a negative errno.
 */
static int walk_indirect(struct walk *w, struct gma_ring_chain *c, __u32 *cap, __u64 *buffers)
{
	__u64 entries = c->indirect_len / sizeof(struct vring_desc);
	__u32 anom = 0, i = 0, first = c->nr_descs;
	struct vring_desc d;
	int err;

	if (!entries)
		return 0; /* ZERO_LEN is gma_chain_anomalies()' */
	for (;;) {
		if (i >= entries) {
			anom = GMA_ANOM_DESC_OUT_OF_RANGE;
			break;
		}
		if (test_and_set(w->ivisited, i)) {
			anom = GMA_ANOM_CHAIN_LOOP;
			break;
		}
		if (read_desc(w->mem, c->indirect_addr, i, &d)) {
			anom = GMA_ANOM_BUFFER_UNMAPPED;
			break;
		}
		if (++*buffers > w->q->num) {
			anom = GMA_ANOM_CHAIN_TOO_LONG;
			break;
		}
		if (!w->descs_left) {
			anom = GMA_ANOM_CHAIN_TRUNCATED;
			break;
		}
		err = chain_push(c, cap, &d, i, true);
		if (err)
			return err;
		w->descs_left--;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			anom = GMA_ANOM_NESTED_INDIRECT;
			break;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
	}
	/* Leave the bitmap clear for the next chain: the walked entries, and one set unpushed. */
	for (__u32 k = first; k < c->nr_descs; k++)
		clear_bit(w->ivisited, c->descs[k].index);
	if (i < entries)
		clear_bit(w->ivisited, i);
	return anom;
}

static int walk_chain(struct walk *w, struct gma_ring_chain *c)
{
	__u32 cap = 0, idx = c->head, num = w->q->num;
	__u64 buffers = 0;
	struct vring_desc d;
	int err = 0, r;

	for (;;) {
		if (idx >= num) {
			c->anomalies |= GMA_ANOM_DESC_OUT_OF_RANGE;
			break;
		}
		if (test_and_set(w->visited, idx)) {
			c->anomalies |= GMA_ANOM_CHAIN_LOOP;
			break;
		}
		if (read_desc(w->mem, w->q->desc, idx, &d)) {
			c->anomalies |= GMA_ANOM_BUFFER_UNMAPPED;
			break;
		}
		if (!(d.flags & VRING_DESC_F_INDIRECT) && ++buffers > num) {
			c->anomalies |= GMA_ANOM_CHAIN_TOO_LONG;
			break;
		}
		if (!w->descs_left) {
			c->anomalies |= GMA_ANOM_CHAIN_TRUNCATED;
			break;
		}
		err = chain_push(c, &cap, &d, idx, false);
		if (err)
			break;
		w->descs_left--;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (d.len % sizeof(struct vring_desc)) {
				c->anomalies |= GMA_ANOM_INDIRECT_LEN;
				break;
			}
			c->indirect_addr = d.addr;
			c->indirect_len = d.len;
			r = walk_indirect(w, c, &cap, &buffers);
			if (r < 0)
				err = r;
			else
				c->anomalies |= r;
			break; /* a device ends the chain at its indirect table */
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		idx = d.next;
	}
	for (__u32 k = 0; k < c->nr_descs; k++)
		if (!c->descs[k].in_indirect)
			clear_bit(w->visited, c->descs[k].index);
	if (idx < num)
		clear_bit(w->visited, idx);
	return err;
}

static int chain_capture(struct walk *w, struct gma_ring_chain *c)
{
	if (!c->nr_descs)
		return 0;
	c->data = calloc(c->nr_descs, sizeof(*c->data));
	c->state = calloc(c->nr_descs, sizeof(*c->state));
	if (!c->data || !c->state)
		return -ENOMEM;
	for (__u32 i = 0; i < c->nr_descs; i++) {
		struct gma_desc_rec *d = &c->descs[i];
		__u32 n;

		if (d->flags & VRING_DESC_F_INDIRECT)
			continue;
		c->total_len += d->len;
		n = d->len < w->snap_len ? d->len : w->snap_len;
		if (n > w->bytes_left) {
			n = (__u32)w->bytes_left;
			c->anomalies |= GMA_ANOM_CHAIN_TRUNCATED;
		}
		if (!n)
			continue;
		w->bytes_left -= n;
		c->data[i] = calloc(1, n);
		c->state[i] = malloc(n);
		if (!c->data[i] || !c->state[i])
			return -ENOMEM;
		d->snap_len = n;
		if (capture(w->mem, d->addr, c->data[i], c->state[i], n))
			c->anomalies |= GMA_ANOM_BUFFER_UNMAPPED;
	}
	return 0;
}

static void chain_free(struct gma_ring_chain *c)
{
	for (__u32 i = 0; c->data && i < c->nr_descs; i++)
		free(c->data[i]);
	for (__u32 i = 0; c->state && i < c->nr_descs; i++)
		free(c->state[i]);
	free(c->data);
	free(c->state);
	free(c->descs);
}

void gma_ring_free(struct gma_ring *ring)
{
	if (!ring)
		return;
	for (__u32 i = 0; ring->chains && i < ring->nr_chains; i++)
		chain_free(&ring->chains[i]);
	free(ring->chains);
	free(ring);
}

static void read_used_tail(struct gma_mem *mem, struct gma_ring *r)
{
	const struct gma_queue_layout *q = &r->layout;
	__u32 m = q->num < GMA_RING_USED_TAIL ? q->num : GMA_RING_USED_TAIL;

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
		r->used[r->nr_used++] = (struct gma_ring_used_elem){
			.pos = pos,
			.id = e.id,
			.len = e.len,
		};
	}
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
	int err = 0;

	if (want > q->num) {
		r->anomalies |= GMA_ANOM_AVAIL_JUMP;
		want = q->num;
	}
	if (max && want > max)
		want = max;
	if (!want)
		return 0;
	r->chains = calloc(want, sizeof(*r->chains));
	w.visited = calloc(1, (q->num + 7) / 8);
	w.ivisited = calloc(1, IDX_SPACE / 8);
	if (!r->chains || !w.visited || !w.ivisited) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 k = 0; k < want; k++) {
		struct gma_ring_chain *c = &r->chains[r->nr_chains];
		__u16 pos = (__u16)(r->used_idx + k);
		__u64 gpa;

		if (!add_ok(q->driver,
			    offsetof(struct vring_avail, ring) + (__u64)(pos % q->num) * 2, &gpa) ||
		    gma_mem_read_obj(mem, gpa, &c->head, sizeof(c->head))) {
			r->anomalies |= GMA_ANOM_RING_UNREADABLE;
			break;
		}
		c->avail_pos = pos;
		r->nr_chains++;
		err = walk_chain(&w, c);
		if (!err)
			err = chain_capture(&w, c);
		if (err)
			break;
		c->anomalies |= gma_chain_anomalies(c->descs, c->nr_descs, q->num);
	}
out:
	free(w.visited);
	free(w.ivisited);
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
	if (opts && opts->sz >= offsetof(struct gma_ring_read_opts, snap_len) + sizeof(__u32) &&
	    opts->snap_len)
		snap_len = opts->snap_len;
	if (opts && opts->sz >= offsetof(struct gma_ring_read_opts, max_chains) + sizeof(__u32))
		max_chains = opts->max_chains;
	if (snap_len > GMA_SNAP_LEN_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
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
	r->nr_pending = (__u16)(r->avail_idx - r->used_idx);
	read_used_tail(mem, r);
	err = read_chains(mem, r, snap_len, max_chains);
	if (err) {
		gma_ring_free(r);
		*out = NULL;
	}
	return err;
}

size_t gma_chain_gather(const struct gma_desc_rec *descs, __u8 *const *data, __u8 *const *state,
			size_t n, bool writable, __u8 *out, size_t size)
{
	size_t got = 0;

	if (!descs || !data || !out)
		return 0;
	for (size_t i = 0; i < n && got < size; i++) {
		const struct gma_desc_rec *d = &descs[i];

		if (d->flags & VRING_DESC_F_INDIRECT)
			continue;
		if (!!(d->flags & VRING_DESC_F_WRITE) != writable)
			continue;
		for (__u32 k = 0; k < d->snap_len && got < size; k++) {
			if (!data[i] || (state && (!state[i] || state[i][k] != GMA_BYTE_READ)))
				return got;
			out[got++] = data[i][k];
		}
		if (d->snap_len < d->len)
			break;
	}
	return got;
}

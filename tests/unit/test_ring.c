// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma_ring_read() over guest memory built with test_guest: rings are written around libgma
 * (test_guest_poke), decoded through it, and compared with what was written, byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <linux/virtio_ring.h>

#include <gma/virtio.h>

#include "gma_print.h" /* gma_blk_format */
#include "test_guest.h"

/*
 * R0 0x10000-0x20000 and R1 0x20000-0x21000 are guest-contiguous (host-separate); a hole up
 * to 0x30000; R2 0x30000-0x31000. Rings live in R0: descriptors at 0x10000, avail 0x18000,
 * used 0x19000; indirect tables at 0x1a000; buffers from 0x1c000.
 */
#define DESC 0x10000ULL
#define AVAIL 0x18000ULL
#define USED 0x19000ULL
#define TABLE 0x1a000ULL
#define BUF 0x1c000ULL
#define HOLE 0x21000ULL
#define R2 0x30000ULL

static const struct test_layout layout[] = {
	{ 0x10000, 0x10000 },
	{ 0x20000, 0x1000 },
	{ 0x30000, 0x1000 },
};

static struct test_guest *guest(enum test_backend kind)
{
	return test_guest_new(kind, layout, 3);
}

static struct gma_queue_layout qlayout(__u32 num)
{
	return (struct gma_queue_layout){
		.desc = DESC, .driver = AVAIL, .device = USED, .num = num
	};
}

static void set_desc(struct test_guest *g, __u64 table, __u32 i, __u64 addr, __u32 len, __u16 flags,
		     __u16 next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	test_guest_poke(g, table + 16ULL * i, &d, sizeof(d));
}

static void set_u16(struct test_guest *g, __u64 gpa, __u16 v)
{
	test_guest_poke(g, gpa, &v, sizeof(v));
}

/* avail: flags 0, idx, ring[pos % num] = heads[k] for pos = first + k; used: flags 0, idx. */
static void set_ring(struct test_guest *g, __u32 num, __u16 used_idx, __u16 avail_idx,
		     const __u16 *heads, size_t nr_heads)
{
	set_u16(g, AVAIL, 0);
	set_u16(g, AVAIL + 2, avail_idx);
	set_u16(g, USED, 0);
	set_u16(g, USED + 2, used_idx);
	for (size_t k = 0; k < nr_heads; k++)
		set_u16(g, AVAIL + 4 + 2 * ((__u16)(used_idx + k) % num), heads[k]);
}

static struct gma_ring *ring_read(struct test_guest *g, const struct gma_queue_layout *q)
{
	struct gma_ring *r = NULL;

	cr_assert_eq(gma_ring_read(g->mem, q, NULL, &r), 0);
	cr_assert(r);
	return r;
}

/* Buffer i of chain c holds the guest's bytes at its address, all of them read. */
static void expect_bytes(struct test_guest *g, const struct gma_chain *c, __u32 i)
{
	const struct gma_chain_desc *d = gma_chain_desc(c, i);
	__u8 want[GMA_SNAP_LEN_DEFAULT];

	cr_assert_eq(d->nbytes, d->len < 64 ? d->len : 64, "desc %u nbytes %u", i, d->nbytes);
	test_guest_peek(g, d->addr, want, d->nbytes);
	cr_assert_arr_eq(d->bytes, want, d->nbytes, "desc %u bytes", i);
	for (__u32 k = 0; k < d->nbytes; k++)
		cr_assert_eq(d->state[k], GMA_BYTE_READ, "desc %u byte %u", i, k);
}

static void expect_desc(const struct gma_chain_desc *d, __u64 addr, __u32 len, __u16 flags,
			__u16 index, bool in_indirect)
{
	cr_assert_eq(d->addr, addr);
	cr_assert_eq(d->len, len);
	cr_assert_eq(d->flags, flags);
	cr_assert_eq(d->index, index);
	cr_assert_eq(d->in_indirect, in_indirect);
}

/* A virtio-blk style chain: header (readable), data (writable), status (writable). */
static void direct_chain(enum test_backend kind)
{
	struct test_guest *g = guest(kind);
	struct gma_queue_layout q = qlayout(8);
	__u16 heads[] = { 5 };
	struct gma_ring *r;
	const struct gma_chain *c;

	set_desc(g, DESC, 5, BUF, 16, VRING_DESC_F_NEXT, 2);
	set_desc(g, DESC, 2, BUF + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 7);
	set_desc(g, DESC, 7, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	set_ring(g, 8, 3, 4, heads, 1);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, 0, "ring anomalies 0x%x", r->anomalies);
	cr_assert_eq(r->avail_idx, 4);
	cr_assert_eq(r->used_idx, 3);
	cr_assert_eq(r->nr_pending, 1);
	cr_assert_eq(r->nr_chains, 1);
	c = gma_ring_chain(r, 0);
	cr_assert_eq(c->head, 5);
	cr_assert_eq(c->avail_idx, 3);
	cr_assert_eq(c->anomalies, 0, "chain anomalies 0x%x", c->anomalies);
	cr_assert_eq(c->nr_descs, 3);
	cr_assert_eq(c->total_len, 529);
	expect_desc(gma_chain_desc(c, 0), BUF, 16, VRING_DESC_F_NEXT, 5, false);
	expect_desc(gma_chain_desc(c, 1), BUF + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		    2, false);
	expect_desc(gma_chain_desc(c, 2), BUF + 0x400, 1, VRING_DESC_F_WRITE, 7, false);
	for (__u32 i = 0; i < 3; i++)
		expect_bytes(g, c, i);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, direct_chain_local)
{
	direct_chain(TEST_LOCAL);
}

Test(ring, direct_chain_file)
{
	direct_chain(TEST_FILE);
}

/* The process backend refuses volatile access: indices come through the plain read. */
Test(ring, direct_chain_process)
{
	direct_chain(TEST_PROCESS);
}

Test(ring, several_chains_wrap_and_used_tail)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 heads[] = { 1, 0, 3 };
	struct vring_used_elem e;
	struct gma_ring *r;

	for (__u32 i = 0; i < 4; i++)
		set_desc(g, DESC, i, BUF + 0x100 * i, 32 + i, 0, 0);
	/* used idx 65535, avail idx 2: three chains at positions 65535, 0, 1. */
	set_ring(g, 8, 65535, 2, heads, 3);
	for (__u32 k = 0; k < 8; k++) {
		e = (struct vring_used_elem){ .id = 100 + k, .len = 1000 + k };
		test_guest_poke(g, USED + 4 + 8 * k, &e, sizeof(e));
	}
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, 0);
	cr_assert_eq(r->nr_pending, 3);
	cr_assert_eq(r->nr_chains, 3);
	cr_assert_eq(gma_ring_chain(r, 0)->avail_idx, 65535);
	cr_assert_eq(gma_ring_chain(r, 1)->avail_idx, 0);
	cr_assert_eq(gma_ring_chain(r, 2)->avail_idx, 1);
	for (__u32 k = 0; k < 3; k++) {
		cr_assert_eq(gma_ring_chain(r, k)->head, heads[k]);
		cr_assert_eq(gma_ring_chain(r, k)->nr_descs, 1);
		cr_assert_eq(gma_chain_desc(gma_ring_chain(r, k), 0)->len, 32 + heads[k]);
		expect_bytes(g, gma_ring_chain(r, k), 0);
	}
	/* the last 8 used elements: positions 65527..65534, ring slots 7, 0, 1, ..., 6 */
	cr_assert_eq(r->nr_used, 8);
	cr_assert_eq(gma_ring_used(r, 0)->pos, 65527);
	cr_assert_eq(gma_ring_used(r, 0)->id, 107);
	cr_assert_eq(gma_ring_used(r, 1)->id, 100);
	cr_assert_eq(gma_ring_used(r, 7)->pos, 65534);
	cr_assert_eq(gma_ring_used(r, 7)->id, 106);
	cr_assert_eq(gma_ring_used(r, 7)->len, 1006);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, indirect_table)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(4);
	__u16 heads[] = { 2 };
	struct gma_ring *r;
	const struct gma_chain *c;

	set_desc(g, DESC, 2, TABLE, 48, VRING_DESC_F_INDIRECT, 0);
	set_desc(g, TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 2);
	set_desc(g, TABLE, 2, BUF + 0x200, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(g, TABLE, 1, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	set_ring(g, 4, 0, 1, heads, 1);
	r = ring_read(g, &q);
	c = gma_ring_chain(r, 0);
	cr_assert_eq(c->anomalies, 0, "0x%x", c->anomalies);
	cr_assert_eq(c->indirect_addr, TABLE);
	cr_assert_eq(c->indirect_len, 48);
	cr_assert_eq(c->flags, GMA_CHAIN_INDIRECT, "read from userspace: not at a notify");
	cr_assert_eq(c->nr_descs, 3, "the buffers; the table is indirect_addr/len");
	cr_assert_eq(c->nr_walked, 3, "every buffer walked is recorded");
	expect_desc(gma_chain_desc(c, 0), BUF, 16, VRING_DESC_F_NEXT, 0, true);
	expect_desc(gma_chain_desc(c, 1), BUF + 0x200, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		    2, true);
	expect_desc(gma_chain_desc(c, 2), BUF + 0x400, 1, VRING_DESC_F_WRITE, 1, true);
	for (__u32 i = 0; i < 3; i++)
		expect_bytes(g, c, i);
	cr_assert_eq(c->total_len, 117);
	gma_ring_free(r);
	test_guest_free(g);
}

static void crossing(enum test_backend kind)
{
	struct test_guest *g = guest(kind);
	struct gma_queue_layout q = qlayout(4);
	__u16 heads[] = { 0, 1, 2 };
	__u8 want[64];
	struct gma_ring *r;
	const struct gma_chain *c;

	set_desc(g, DESC, 0, 0x1ffe0, 64, 0, 0); /* R0 into R1 */
	set_desc(g, DESC, 1, HOLE - 24, 64, 0, 0); /* R1 into the hole */
	set_desc(g, DESC, 2, R2 - 16, 48, 0, 0); /* the hole into R2 */
	set_ring(g, 4, 0, 3, heads, 3);
	r = ring_read(g, &q);
	cr_assert_eq(r->nr_chains, 3);
	c = gma_ring_chain(r, 0);
	cr_assert_eq(c->anomalies, 0);
	expect_bytes(g, c, 0);

	c = gma_ring_chain(r, 1);
	cr_assert_eq(c->anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(gma_chain_desc(c, 0)->nbytes, 64);
	test_guest_peek(g, HOLE - 24, want, 24);
	cr_assert_arr_eq(gma_chain_desc(c, 0)->bytes, want, 24);
	for (__u32 k = 0; k < 64; k++) {
		cr_assert_eq(gma_chain_desc(c, 0)->state[k],
			     k < 24 ? GMA_BYTE_READ : GMA_BYTE_UNMAPPED, "byte %u", k);
		if (k >= 24)
			cr_assert_eq(gma_chain_desc(c, 0)->bytes[k], 0);
	}

	c = gma_ring_chain(r, 2);
	cr_assert_eq(c->anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	test_guest_peek(g, R2, want, 32);
	cr_assert_arr_eq(gma_chain_desc(c, 0)->bytes + 16, want, 32);
	for (__u32 k = 0; k < 48; k++)
		cr_assert_eq(gma_chain_desc(c, 0)->state[k],
			     k < 16 ? GMA_BYTE_UNMAPPED : GMA_BYTE_READ, "byte %u", k);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, buffers_crossing_regions_and_holes_local)
{
	crossing(TEST_LOCAL);
}

Test(ring, buffers_crossing_regions_and_holes_file)
{
	crossing(TEST_FILE);
}

/* One chain from head; returns the ring (the caller frees it). */
static struct gma_ring *one_chain(struct test_guest *g, __u32 num, __u16 head)
{
	struct gma_queue_layout q = qlayout(num);
	struct gma_ring *r;

	set_ring(g, num, 0, 1, &head, 1);
	r = ring_read(g, &q);
	cr_assert_eq(r->nr_chains, 1);
	return r;
}

Test(ring, head_out_of_range)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r = one_chain(g, 8, 8);

	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_DESC_OUT_OF_RANGE);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->head, 8);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, next_out_of_range)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	set_desc(g, DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 0xffff);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_DESC_OUT_OF_RANGE);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 2);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 1)->next, 0xffff);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, self_loop)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 3, BUF, 8, VRING_DESC_F_NEXT, 3);
	r = one_chain(g, 8, 3);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 1);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, two_cycle)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 2);
	set_desc(g, DESC, 2, BUF, 8, VRING_DESC_F_NEXT, 1);
	r = one_chain(g, 8, 1);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 2);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 0)->index, 1);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 1)->index, 2);
	gma_ring_free(r);
	test_guest_free(g);
}

/* A 300-descriptor cycle, a clean chain, the cycle again: the bitmap is clean between. */
Test(ring, long_cycle_then_clean_chains)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(512);
	__u16 heads[] = { 0, 400, 150 };
	struct gma_ring *r;

	for (__u32 i = 0; i < 300; i++)
		set_desc(g, DESC, i, BUF, 4, VRING_DESC_F_NEXT, (i + 1) % 300);
	set_desc(g, DESC, 400, BUF, 4, 0, 0);
	set_ring(g, 512, 0, 3, heads, 3);
	r = ring_read(g, &q);
	cr_assert_eq(r->nr_chains, 3);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 300);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 299)->index, 299);
	cr_assert_eq(gma_ring_chain(r, 1)->anomalies, 0);
	cr_assert_eq(gma_ring_chain(r, 1)->nr_descs, 1);
	cr_assert_eq(gma_ring_chain(r, 2)->anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(gma_ring_chain(r, 2)->nr_descs, 300);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 2), 0)->index, 150);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 2), 299)->index, 149);
	gma_ring_free(r);
	test_guest_free(g);
}

/* Queue size 4; an indirect table of 4 entries is legal, one of 6 is too long. */
Test(ring, chain_too_long_via_indirect)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	for (__u32 i = 0; i < 6; i++)
		set_desc(g, TABLE, i, BUF + 8 * i, 8, i == 3 ? 0 : VRING_DESC_F_NEXT, i + 1);
	set_desc(g, DESC, 0, TABLE, 6 * 16, VRING_DESC_F_INDIRECT, 0);
	r = one_chain(g, 4, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, 0, "0x%x", gma_ring_chain(r, 0)->anomalies);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 4,
		     "the buffers; the table is indirect_addr/len");
	gma_ring_free(r);

	/* Twice in one read: the second walk starts from a clean table bitmap. */
	set_desc(g, TABLE, 3, BUF + 24, 8, VRING_DESC_F_NEXT, 4);
	set_ring(g, 4, 0, 2, (__u16[]){ 0, 0 }, 2);
	r = ring_read(g, &(struct gma_queue_layout){ DESC, AVAIL, USED, 4, 0 });
	cr_assert_eq(r->nr_chains, 2);
	for (int k = 0; k < 2; k++) {
		/* the second also reuses head 0 while it is in flight */
		cr_assert_eq(gma_ring_chain(r, k)->anomalies,
			     GMA_ANOM_CHAIN_TOO_LONG | (k ? GMA_ANOM_HEAD_IN_FLIGHT : 0),
			     "chain %d: 0x%x", k, gma_ring_chain(r, k)->anomalies);
		cr_assert_eq(gma_ring_chain(r, k)->nr_descs, 4, "the fifth buffer stops the walk");
	}
	gma_ring_free(r);
	test_guest_free(g);
}

/* A descriptor table running into a hole: entries 4..7 cannot be read, every time. */
Test(ring, descriptor_table_half_unmapped)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 heads[] = { 0, 5 };
	struct gma_ring *r;

	q.desc = HOLE - 64;
	set_desc(g, q.desc, 0, BUF, 8, VRING_DESC_F_NEXT, 5);
	set_ring(g, 8, 0, 2, heads, 2);
	r = ring_read(g, &q);
	/* the table's end is outside guest memory, and so are the descriptors there */
	cr_assert_eq(r->anomalies, GMA_ANOM_RING_UNREADABLE);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_RING_UNREADABLE);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 1);
	cr_assert_eq(gma_ring_chain(r, 1)->anomalies, GMA_ANOM_RING_UNREADABLE, "0x%x",
		     gma_ring_chain(r, 1)->anomalies);
	cr_assert_eq(gma_ring_chain(r, 1)->nr_descs, 0);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, indirect_cycle_and_out_of_table)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(g, TABLE, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	set_desc(g, TABLE, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 2);
	gma_ring_free(r);

	set_desc(g, TABLE, 1, BUF, 8, VRING_DESC_F_NEXT, 2); /* entry 2 is past len 32 */
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_DESC_OUT_OF_RANGE);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 2);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, nested_indirect)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, TABLE, 48, VRING_DESC_F_INDIRECT, 0);
	set_desc(g, TABLE, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	set_desc(g, TABLE, 1, TABLE + 0x100, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	set_desc(g, TABLE, 2, BUF, 8, 0, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_NESTED_INDIRECT);
	/* entry 0; the walk stops at the nested table, unrecorded */
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 1);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 0)->in_indirect, 1);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 0)->nbytes, 8);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, indirect_len_17)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, TABLE, 17, VRING_DESC_F_INDIRECT, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_INDIRECT_LEN);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 0, "not followed");
	cr_assert_eq(gma_ring_chain(r, 0)->indirect_addr, TABLE, "the table met is reported");
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, indirect_table_unmapped)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, HOLE, 32, VRING_DESC_F_INDIRECT, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->indirect_addr, HOLE);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, read_after_write)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, BUF, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(g, DESC, 1, BUF + 8, 8, 0, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_READ_AFTER_WRITE);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 2, "the walk goes on");
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, zero_len)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_ring *r;

	set_desc(g, DESC, 0, BUF, 0, VRING_DESC_F_NEXT, 1);
	set_desc(g, DESC, 1, BUF, 4, 0, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_ZERO_LEN);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 2);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 0)->nbytes, 0);
	cr_assert_null(gma_chain_desc(gma_ring_chain(r, 0), 0)->bytes);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, buffer_unmapped)
{
	struct test_guest *g = guest(TEST_LOCAL);
	const struct gma_chain *c;
	struct gma_ring *r;

	set_desc(g, DESC, 0, 0x100000, 16, 0, 0);
	r = one_chain(g, 8, 0);
	c = gma_ring_chain(r, 0);
	cr_assert_eq(c->anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(gma_chain_desc(c, 0)->nbytes, 16);
	for (__u32 k = 0; k < 16; k++) {
		cr_assert_eq(gma_chain_desc(c, 0)->state[k], GMA_BYTE_UNMAPPED);
		cr_assert_eq(gma_chain_desc(c, 0)->bytes[k], 0);
	}
	gma_ring_free(r);
	/* A buffer ending past 2^64 is unmapped too, not an overflow. */
	set_desc(g, DESC, 0, ~0ULL - 3, 16, 0, 0);
	r = one_chain(g, 8, 0);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 0)->state[15], GMA_BYTE_UNMAPPED);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, descriptor_table_unmapped)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 head = 0;
	struct gma_ring *r;

	q.desc = HOLE;
	set_ring(g, 8, 0, 1, &head, 1);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_RING_UNREADABLE);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, GMA_ANOM_RING_UNREADABLE);
	cr_assert_eq(gma_ring_chain(r, 0)->nr_descs, 0);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, avail_jump)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 heads[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	struct gma_ring *r;

	set_desc(g, DESC, 0, BUF, 4, 0, 0);
	set_ring(g, 8, 10, 30, heads, 8);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_AVAIL_JUMP);
	cr_assert_eq(r->nr_pending, 20);
	cr_assert_eq(r->nr_chains, 8);
	cr_assert_eq(gma_ring_chain(r, 7)->avail_idx, 17);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, misaligned_ring_still_decoded)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 head = 1;
	struct gma_ring *r;

	q.driver = AVAIL + 1;
	set_desc(g, DESC, 1, BUF, 4, 0, 0);
	set_u16(g, AVAIL + 1, 0);
	set_u16(g, AVAIL + 3, 1);
	set_u16(g, AVAIL + 5, head);
	set_u16(g, USED, 0);
	set_u16(g, USED + 2, 0);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_RING_MISALIGNED);
	cr_assert_eq(r->avail_idx, 1);
	cr_assert_eq(r->nr_chains, 1);
	cr_assert_eq(gma_ring_chain(r, 0)->head, 1);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, 0);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, packed_is_detected_not_decoded)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	struct gma_ring *r;

	q.flags = GMA_QUEUE_PACKED;
	set_u16(g, AVAIL + 2, 3);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_PACKED);
	cr_assert_eq(r->nr_chains, 0);
	cr_assert_eq(r->avail_idx, 0);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, ring_unreadable_and_bad_sizes)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	struct gma_ring *r;

	q.driver = HOLE;
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_RING_UNREADABLE);
	cr_assert_eq(r->nr_chains, 0);
	gma_ring_free(r);

	q = qlayout(0);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_RING_UNREADABLE | GMA_ANOM_RING_MISALIGNED);
	gma_ring_free(r);
	q = qlayout(65536);
	r = ring_read(g, &q);
	cr_assert_eq(r->anomalies, GMA_ANOM_RING_UNREADABLE | GMA_ANOM_RING_MISALIGNED);
	gma_ring_free(r);
	test_guest_free(g);
}

Test(ring, options)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 heads[] = { 0, 0, 0 };
	GMA_OPTS(gma_ring_read_opts, opts, .snap_len = 8, .max_chains = 2);
	GMA_OPTS(gma_ring_read_opts, big, .snap_len = GMA_SNAP_LEN_MAX + 1);
	GMA_OPTS(gma_ring_read_opts, max, .snap_len = 1000);
	__u8 want[1000];
	struct gma_ring *r;

	set_desc(g, DESC, 0, BUF, 1000, 0, 0);
	set_ring(g, 8, 0, 3, heads, 3);
	cr_assert_eq(gma_ring_read(g->mem, &q, &opts, &r), 0);
	cr_assert_eq(r->nr_chains, 2);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 0), 0)->nbytes, 8);
	gma_ring_free(r);
	cr_assert_eq(gma_ring_read(g->mem, &q, &max, &r), 0);
	cr_assert_eq(r->nr_chains, 3);
	cr_assert_eq(gma_chain_desc(gma_ring_chain(r, 2), 0)->nbytes, 1000);
	test_guest_peek(g, BUF, want, sizeof(want));
	cr_assert_arr_eq(gma_chain_desc(gma_ring_chain(r, 2), 0)->bytes, want, sizeof(want));
	gma_ring_free(r);
	r = (void *)1;
	cr_assert_eq(gma_ring_read(g->mem, &q, &big, &r), -EINVAL);
	cr_assert_null(r);
	cr_assert_eq(gma_ring_read(NULL, &q, NULL, &r), -EINVAL);
	gma_ring_free(NULL);
	test_guest_free(g);
}

Test(ring, blk_request_through_ring)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct {
		__u32 type, ioprio;
		__u64 sector;
	} hdr = { 1, 0, 2048 };
	__u8 status = 0;
	GMA_OPTS(gma_blk_req, req);
	const struct gma_chain *c;
	struct gma_ring *r;
	char line[128];

	test_guest_poke(g, BUF, &hdr, sizeof(hdr));
	test_guest_poke(g, BUF + 0x400, &status, 1);
	set_desc(g, DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	set_desc(g, DESC, 1, BUF + 0x100, 4096, VRING_DESC_F_NEXT, 2);
	set_desc(g, DESC, 2, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	r = one_chain(g, 8, 0);
	c = gma_ring_chain(r, 0);
	cr_assert_eq(gma_blk_decode(c, &req), 0);
	cr_assert_eq(req.type, 1);
	cr_assert_eq(req.sector, 2048);
	cr_assert_eq(req.data_len, 4096);
	cr_assert(req.has_status);
	cr_assert_eq(req.status, 0);
	gma_blk_format(&req, line, sizeof(line));
	cr_assert_str_eq(line, "OUT sector 2048 len 4096 status OK");
	gma_ring_free(r);
	test_guest_free(g);
}

/* --- the layout checks ------------------------------------------------------------------ */

Test(layout_anomalies, alignment_and_size)
{
	struct gma_queue_layout q = { 0x1000, 0x1002, 0x1004, 256, 0 };

	cr_assert_eq(gma_queue_layout_anomalies(&q), 0);
	q.desc = 0x1008;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q.desc = 0x1010;
	q.driver = 0x1001;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q.driver = 0x1002;
	q.device = 0x1006;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q.device = 0x1004;
	cr_assert_eq(gma_queue_layout_anomalies(&q), 0);
	q.flags = GMA_QUEUE_LEGACY; /* desc and used must be page aligned */
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q = (struct gma_queue_layout){ 0x1000, 0x2000, 0x3000, 256, GMA_QUEUE_LEGACY };
	cr_assert_eq(gma_queue_layout_anomalies(&q), 0);
	q.flags = 0;
	q.num = 0;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q.num = 3;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q.num = 32768;
	cr_assert_eq(gma_queue_layout_anomalies(&q), 0);
	q.num = 32769;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
	q.num = 3;
	q.flags = GMA_QUEUE_PACKED; /* packed rings may have any size */
	cr_assert_eq(gma_queue_layout_anomalies(&q), 0);
	q.driver = 0x2002;
	cr_assert_eq(gma_queue_layout_anomalies(&q), GMA_ANOM_RING_MISALIGNED);
}

/*
 * Every avail entry names the same queue-long chain: num * num descriptors if walked in full.
 * The read stops at its budget, and says so.
 */
Test(ring, hostile_ring_hits_the_budget, .timeout = 20)
{
	static const struct test_layout big[] = { { 0x100000, 0x100000 } };
	struct test_guest *g = test_guest_new(TEST_LOCAL, big, 1);
	struct gma_queue_layout q = { 0x100000, 0x180000, 0x1a0000, GMA_QUEUE_NUM_MAX, 0 };
	const __u32 num = GMA_QUEUE_NUM_MAX, full = GMA_RING_DESCS_MAX / GMA_QUEUE_NUM_MAX;
	struct vring_desc *table = calloc(num, sizeof(*table));
	__u16 *avail = calloc(num + 2, sizeof(*avail));
	struct gma_ring *r;

	cr_assert(table && avail);
	for (__u32 i = 0; i < num; i++)
		table[i] = (struct vring_desc){ 0x1f0000, 64, i + 1 < num ? VRING_DESC_F_NEXT : 0,
						(__u16)(i + 1) };
	test_guest_poke(g, q.desc, table, num * sizeof(*table));
	avail[1] = 0; /* idx 0 wraps to num: num pending chains, all head 0 */
	test_guest_poke(g, q.driver, avail, (num + 2) * sizeof(*avail));
	set_u16(g, q.driver + 2, (__u16)num);
	set_u16(g, q.device + 2, 0);
	cr_assert_eq(gma_ring_read(g->mem, &q, NULL, &r), 0);
	cr_assert_eq(r->nr_chains, num);
	/* every chain after the first reuses head 0 while it is in flight */
	for (__u32 k = 0; k < full; k++) {
		cr_assert_eq(gma_ring_chain(r, k)->anomalies, k ? GMA_ANOM_HEAD_IN_FLIGHT : 0);
		cr_assert_eq(gma_ring_chain(r, k)->nr_descs, num);
	}
	cr_assert_eq(gma_ring_chain(r, full)->anomalies,
		     GMA_ANOM_CHAIN_TRUNCATED | GMA_ANOM_HEAD_IN_FLIGHT);
	cr_assert_eq(gma_ring_chain(r, full)->nr_descs, 0);
	cr_assert_eq(gma_ring_chain(r, num - 1)->anomalies,
		     GMA_ANOM_CHAIN_TRUNCATED | GMA_ANOM_HEAD_IN_FLIGHT);
	gma_ring_free(r);
	free(table);
	free(avail);
	test_guest_free(g);
}

/* Random bytes as rings: every read terminates and its result is self-consistent. */
Test(ring, random_rings, .timeout = 60)
{
	struct test_guest *g = guest(TEST_LOCAL);
	unsigned int seed = 4242;
	static __u8 junk[0x10000];
	GMA_OPTS(gma_ring_read_opts, opts, .snap_len = 16);

	for (int it = 0; it < 300; it++) {
		struct gma_queue_layout q;
		struct gma_ring *r;

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = rand_r(&seed);
		/* Keep flags and indices plausible often enough to walk far. */
		for (size_t i = 0; it % 2 && i < 0x8000; i += 16)
			junk[i + 12] &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE |
					(it % 4 == 1 ? VRING_DESC_F_INDIRECT : 0);
		test_guest_poke(g, 0x10000, junk, sizeof(junk));
		q.num = it % 3 ? 1u << (rand_r(&seed) % 10) : (__u32)(rand_r(&seed) % 600);
		q.desc = 0x10000 + (rand_r(&seed) % 0x10000 & ~15u);
		q.driver = 0x10000 + (rand_r(&seed) % 0x10000 & ~1u);
		q.device = 0x10000 + (rand_r(&seed) % 0x12000 & ~3u);
		q.flags = 0;
		cr_assert_eq(gma_ring_read(g->mem, &q, &opts, &r), 0);
		cr_assert(r->nr_chains <= (q.num ? q.num : 1));
		for (__u32 k = 0; k < r->nr_chains; k++) {
			const struct gma_chain *c = gma_ring_chain(r, k);

			cr_assert(c->nr_descs <= 2 * q.num + 1, "it %d chain %u: %u descs", it, k,
				  c->nr_descs);
			for (__u32 i = 0; i < c->nr_descs; i++) {
				cr_assert(gma_chain_desc(c, i)->nbytes <= 16);
				for (__u32 b = 0; b < gma_chain_desc(c, i)->nbytes; b++)
					cr_assert(gma_chain_desc(c, i)->state[b] <= GMA_BYTE_FAULT);
			}
		}
		gma_ring_free(r);
	}
	test_guest_free(g);
}

/* A head made available twice while in flight: the second is flagged, the first is not. */
Test(ring, head_made_available_again_while_in_flight)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	__u16 heads[] = { 2, 5, 2 };
	struct gma_ring *r;

	set_desc(g, DESC, 2, BUF, 8, 0, 0);
	set_desc(g, DESC, 5, BUF + 8, 8, 0, 0);
	set_ring(g, 8, 0, 3, heads, 3);
	r = ring_read(g, &q);
	cr_assert_eq(r->nr_chains, 3);
	cr_assert_eq(gma_ring_chain(r, 0)->anomalies, 0);
	cr_assert_eq(gma_ring_chain(r, 1)->anomalies, 0);
	cr_assert_eq(gma_ring_chain(r, 2)->anomalies, GMA_ANOM_HEAD_IN_FLIGHT);
	gma_ring_free(r);
	test_guest_free(g);
}

/* A fresh queue: used index 0 lists no used entry, 3 lists three (none from before 0). */
Test(ring, no_used_entries_from_before_the_ring_start)
{
	struct test_guest *g = guest(TEST_LOCAL);
	struct gma_queue_layout q = qlayout(8);
	struct gma_ring *r;

	set_ring(g, 8, 0, 0, NULL, 0);
	r = ring_read(g, &q);
	cr_assert_eq(r->nr_used, 0);
	gma_ring_free(r);
	set_ring(g, 8, 3, 3, NULL, 0);
	r = ring_read(g, &q);
	cr_assert_eq(r->nr_used, 3);
	cr_assert_eq(gma_ring_used(r, 0)->pos, 0);
	cr_assert_eq(gma_ring_used(r, 2)->pos, 2);
	gma_ring_free(r);
	test_guest_free(g);
}

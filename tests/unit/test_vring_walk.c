// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The chain walk of bpf/vring_walk.h, rule by rule, over a flat guest memory of this test
 * (guest physical 0 .. MEM_SIZE, nothing above): each row of the header's rule table gives
 * its anomaly, stops or goes on as the table says, and records the descriptors it says.
 * tests/bpf/test_vring_walk_bpf.c runs the same walk compiled into BPF and compares.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#define GMA_VRING_WALK_CTX
#include "vring_walk.h"

#define MEM_SIZE 0x10000
#define DESC 0x1000 /* the queue's descriptor table */
#define TABLE 0x4000 /* an indirect table */
#define BUF 0x8000

struct step {
	struct gma_vring_desc d;
	__u32 idx;
	enum gma_vring_step kind;
	bool in_indirect;
};

struct gma_vring_ctx {
	__u8 mem[MEM_SIZE];
	struct step steps[128];
	__u32 nr_steps;
};

static struct gma_vring_ctx g;

static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d)
{
	if (gpa >= MEM_SIZE || MEM_SIZE - gpa < sizeof(*d))
		return -EINVAL;
	memcpy(d, ctx->mem + gpa, sizeof(*d));
	return 0;
}

static int gma_vring_translate(struct gma_vring_ctx *ctx, __u64 gpa, __u64 *limit)
{
	(void)ctx; /* one guest memory: every context maps the same */
	if (gpa >= MEM_SIZE)
		return -EINVAL;
	*limit = MEM_SIZE - gpa;
	return 0;
}

static int gma_vring_on_desc(struct gma_vring_ctx *ctx, const struct gma_vring_walk *w,
			     const struct gma_vring_desc *d, __u32 idx, enum gma_vring_step kind)
{
	if (ctx->nr_steps < 128)
		ctx->steps[ctx->nr_steps] =
			(struct step){ *d, idx, kind, gma_vring_walk_in_indirect(w, kind) };
	ctx->nr_steps++;
	return 0;
}

static void set_desc(__u64 table, __u32 i, __u64 addr, __u32 len, __u16 flags, __u16 next)
{
	struct gma_vring_desc d = { addr, len, flags, next };

	memcpy(g.mem + table + i * sizeof(d), &d, sizeof(d));
}

static struct gma_vring_walk walk(__u64 table, __u32 num, __u32 head, __u32 max)
{
	struct gma_vring_walk w;
	struct gma_vring_desc d;

	g.nr_steps = 0;
	gma_vring_walk_begin(&w, table, num, head, max);
	gma_vring_walk_chain(&g, &w, &d);
	cr_assert(w.done, "the walk ended");
	return w;
}

static void reset(void)
{
	memset(&g, 0, sizeof(g));
}

TestSuite(vring_walk, .init = reset);

#define NEXT GMA_VRING_DESC_F_NEXT
#define WRITE GMA_VRING_DESC_F_WRITE
#define INDIRECT GMA_VRING_DESC_F_INDIRECT

Test(vring_walk, a_well_formed_chain_has_no_anomaly)
{
	struct gma_vring_walk w;

	set_desc(DESC, 3, BUF, 16, NEXT, 5);
	set_desc(DESC, 5, BUF + 16, 512, NEXT | WRITE, 1);
	set_desc(DESC, 1, BUF + 528, 1, WRITE, 0);
	w = walk(DESC, 8, 3, 64);
	cr_assert_eq(w.anomalies, 0);
	cr_assert_eq(w.nr_descs, 3);
	cr_assert_eq(g.nr_steps, 3);
	cr_assert_eq(g.steps[0].idx, 3);
	cr_assert_eq(g.steps[1].idx, 5);
	cr_assert_eq(g.steps[2].idx, 1);
	cr_assert_eq(g.steps[2].d.len, 1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(g.steps[i].kind, GMA_VRING_BUFFER);
}

Test(vring_walk, head_or_next_out_of_range_stops)
{
	cr_assert_eq(walk(DESC, 8, 8, 64).anomalies, GMA_ANOM_DESC_OUT_OF_RANGE);
	cr_assert_eq(g.nr_steps, 0);
	set_desc(DESC, 0, BUF, 8, NEXT, 200);
	cr_assert_eq(walk(DESC, 8, 0, 64).anomalies, GMA_ANOM_DESC_OUT_OF_RANGE);
	cr_assert_eq(g.nr_steps, 1);
}

Test(vring_walk, a_loop_stops_at_the_descriptor_reached_twice)
{
	set_desc(DESC, 0, BUF, 8, NEXT, 1);
	set_desc(DESC, 1, BUF, 8, NEXT, 2);
	set_desc(DESC, 2, BUF, 8, NEXT, 1);
	cr_assert_eq(walk(DESC, 8, 0, 64).anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(g.nr_steps, 3);
	set_desc(DESC, 0, BUF, 8, NEXT, 0); /* itself */
	cr_assert_eq(walk(DESC, 8, 0, 64).anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(g.nr_steps, 1);
}

Test(vring_walk, a_loop_beyond_the_bitmap_is_found_by_counting)
{
	struct gma_vring_walk w;

	/* queue of 2048: 1500 -> 1501 -> 1500, past GMA_VRING_VISITED_MAX */
	set_desc(0, 1500, BUF, 8, NEXT, 1501);
	set_desc(0, 1501, BUF, 8, NEXT, 1500);
	w = walk(0, 2048, 1500, 1 << 20);
	cr_assert_eq(w.anomalies, GMA_ANOM_CHAIN_LOOP);
	cr_assert_eq(w.nr_descs, 2048,
		     "stopped once the table was walked more than it has entries");
	/* with a small cap the same ring is cut first: a cap, not a verdict */
	cr_assert_eq(walk(0, 2048, 1500, 64).anomalies, GMA_ANOM_CHAIN_TRUNCATED);
	cr_assert_eq(g.nr_steps, 64);
}

Test(vring_walk, more_buffers_than_the_queue_size_is_too_long)
{
	/* an indirect table of 4 buffers in a queue of 2: the table pointer does not count */
	set_desc(DESC, 0, TABLE, 64, INDIRECT, 0);
	for (int i = 0; i < 4; i++)
		set_desc(TABLE, i, BUF, 8, i < 3 ? NEXT : 0, i + 1);
	cr_assert_eq(walk(DESC, 2, 0, 64).anomalies, GMA_ANOM_CHAIN_TOO_LONG);
	cr_assert_eq(g.nr_steps, 3, "the table pointer and two buffers");
	/* a table of exactly the queue size is legal */
	set_desc(DESC, 0, TABLE, 32, INDIRECT, 0);
	set_desc(TABLE, 1, BUF, 8, 0, 0);
	cr_assert_eq(walk(DESC, 2, 0, 64).anomalies, 0);
}

Test(vring_walk, an_unreadable_descriptor_names_its_table)
{
	/* the queue's own table: the ring is unreadable */
	cr_assert_eq(walk(MEM_SIZE - 16, 8, 1, 64).anomalies, GMA_ANOM_RING_UNREADABLE);
	/* a descriptor straddling the end of memory is one object: unreadable as a whole */
	cr_assert_eq(walk(MEM_SIZE - 8, 8, 0, 64).anomalies, GMA_ANOM_RING_UNREADABLE);
	/* an indirect table outside guest memory: a buffer outside it */
	set_desc(DESC, 0, MEM_SIZE + 0x1000, 32, INDIRECT, 0);
	cr_assert_eq(walk(DESC, 8, 0, 64).anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(g.nr_steps, 1);
	cr_assert_eq(g.steps[0].kind, GMA_VRING_TABLE);
}

Test(vring_walk, indirect_tables)
{
	struct gma_vring_walk w;

	set_desc(DESC, 2, TABLE, 48, INDIRECT, 0);
	set_desc(TABLE, 0, BUF, 8, NEXT, 2);
	set_desc(TABLE, 2, BUF + 8, 8, NEXT | WRITE, 1);
	set_desc(TABLE, 1, BUF + 16, 8, WRITE, 0);
	w = walk(DESC, 8, 2, 64);
	cr_assert_eq(w.anomalies, 0);
	cr_assert_eq(w.indirect_addr, TABLE);
	cr_assert_eq(w.indirect_len, 48);
	cr_assert_eq(g.nr_steps, 4);
	cr_assert_eq(g.steps[0].kind, GMA_VRING_TABLE);
	cr_assert_not(g.steps[0].in_indirect);
	cr_assert_eq(g.steps[2].idx, 2);
	cr_assert(g.steps[3].in_indirect);
	/* nested: stops, the nested pointer unrecorded */
	set_desc(TABLE, 1, TABLE, 16, INDIRECT, 0);
	cr_assert_eq(walk(DESC, 8, 2, 64).anomalies, GMA_ANOM_NESTED_INDIRECT);
	cr_assert_eq(g.nr_steps, 3);
	/* a length of 0 or not a multiple of 16: met, not followed */
	set_desc(DESC, 2, TABLE, 17, INDIRECT, 0);
	cr_assert_eq(walk(DESC, 8, 2, 64).anomalies, GMA_ANOM_INDIRECT_LEN);
	cr_assert_eq(g.nr_steps, 1);
	set_desc(DESC, 2, TABLE, 0, INDIRECT, 0);
	cr_assert_eq(walk(DESC, 8, 2, 64).anomalies, GMA_ANOM_INDIRECT_LEN);
	/* with NEXT: flagged, the chain ends at the table as a device ends it */
	set_desc(DESC, 2, TABLE, 16, INDIRECT | NEXT, 3);
	set_desc(TABLE, 0, BUF, 8, 0, 0);
	set_desc(DESC, 3, BUF, 8, 0, 0);
	w = walk(DESC, 8, 2, 64);
	cr_assert_eq(w.anomalies, GMA_ANOM_INDIRECT_NEXT);
	cr_assert_eq(g.nr_steps, 2);
	cr_assert(g.steps[1].in_indirect, "the table's entry, not descriptor 3");
	/* a table running past guest memory: its range is flagged, its entries walked */
	set_desc(DESC, 2, MEM_SIZE - 16, 32, INDIRECT, 0);
	memset(g.mem + MEM_SIZE - 16, 0, 16);
	set_desc(MEM_SIZE - 16, 0, BUF, 8, 0, 0);
	cr_assert_eq(walk(DESC, 8, 2, 64).anomalies, GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(g.nr_steps, 2);
}

Test(vring_walk, buffer_rules_flag_and_go_on)
{
	set_desc(DESC, 0, BUF, 8, NEXT | WRITE, 1);
	set_desc(DESC, 1, BUF, 0, NEXT, 2); /* readable after writable, and empty */
	set_desc(DESC, 2, MEM_SIZE - 4, 8, NEXT, 3); /* last byte outside */
	set_desc(DESC, 3, ~0ULL - 3, 8, NEXT, 4); /* wraps past 2^64 */
	set_desc(DESC, 4, MEM_SIZE, 8, 0, 0); /* first byte outside */
	cr_assert_eq(walk(DESC, 8, 0, 64).anomalies,
		     GMA_ANOM_READ_AFTER_WRITE | GMA_ANOM_ZERO_LEN | GMA_ANOM_BUFFER_UNMAPPED);
	cr_assert_eq(g.nr_steps, 5, "none of these stops the walk");
}

Test(vring_walk, the_cap_truncates_only_a_chain_that_goes_on)
{
	for (int i = 0; i < 8; i++)
		set_desc(DESC, i, BUF, 8, i < 7 ? NEXT : 0, i + 1);
	cr_assert_eq(walk(DESC, 8, 0, 8).anomalies, 0, "exactly the cap: complete");
	cr_assert_eq(walk(DESC, 8, 0, 7).anomalies, GMA_ANOM_CHAIN_TRUNCATED);
	cr_assert_eq(g.nr_steps, 7);
	cr_assert_eq(walk(DESC, 8, 0, 0).anomalies, GMA_ANOM_CHAIN_TRUNCATED);
}

Test(vring_walk, ring_arithmetic_is_the_spec_s)
{
	__u64 driver, device;

	cr_assert_eq(gma_vring_desc_area_size(256), 4096);
	cr_assert_eq(gma_vring_avail_area_size(256), 6 + 512);
	cr_assert_eq(gma_vring_used_area_size(256), 6 + 2048);
	cr_assert_eq(gma_vring_avail_entry_off(3), 4 + 6);
	cr_assert_eq(gma_vring_used_elem_off(3), 4 + 24);
	/* legacy: the used ring on the next alignment boundary after the avail ring */
	gma_vring_legacy_layout(0x10000, 256, 4096, &driver, &device);
	cr_assert_eq(driver, 0x11000);
	cr_assert_eq(device, 0x12000);
	gma_vring_legacy_layout(0x10000, 16, 0 /* bad: 4096 */, &driver, &device);
	cr_assert_eq(driver, 0x10100);
	cr_assert_eq(device, 0x11000);
}

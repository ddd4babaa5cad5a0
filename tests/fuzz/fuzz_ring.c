// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one-shot ring decoder over random guest memory and queue layouts: the input is the
 * guest's memory (split into regions with a hole) and the layout. Every index, length and
 * flag in it is hostile; the decoder must stay within its caps and never hang. Each chain is
 * also walked as the BPF tracer walks it (bpf/vring_walk.h with the tracer's cap, here over
 * the same memory): both must give the same verdict (tests/helpers/walk_compare.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gma/gma.h>
#include <gma/virtio.h>

#include "walk_compare.h"

/* The walk with the BPF tracer's configuration, recording its steps as the selftest does. */
struct gma_vring_ctx {
	struct gma_mem *mem;
	struct selftest_walk out;
};

#define GMA_VRING_WALK_CTX
#define GMA_VRING_WALK_ROUNDS(w) (GMA_VRING_WALK_BPF_MAX + 1)
#include "vring_walk.h"

static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d)
{
	return gma_mem_read_obj(ctx->mem, gpa, d, sizeof(*d));
}

static int gma_vring_translate(struct gma_vring_ctx *ctx, __u64 gpa, __u64 *limit)
{
	__u64 addr;

	return gma_mem_translate(ctx->mem, gpa, &addr, limit);
}

static int gma_vring_on_desc(struct gma_vring_ctx *ctx, const struct gma_vring_walk *w,
			     const struct gma_vring_desc *d, __u32 idx, enum gma_vring_step kind)
{
	if (ctx->out.nr_steps < SELFTEST_WALK_STEPS)
		ctx->out.steps[ctx->out.nr_steps++] = (struct selftest_step){
			.addr = d->addr,
			.len = d->len,
			.flags = d->flags,
			.next = d->next,
			.idx = idx,
			.kind = kind,
			.in_indirect = gma_vring_walk_in_indirect(w, kind),
		};
	return 0;
}

static void walk_as_bpf(struct gma_mem *mem, const struct gma_queue_layout *q, __u16 head,
			struct gma_vring_ctx *ctx)
{
	struct gma_vring_walk w;
	struct gma_vring_desc d;

	memset(ctx, 0, sizeof(*ctx));
	ctx->mem = mem;
	gma_vring_walk_begin(&w, q->desc, q->num, head, GMA_VRING_WALK_BPF_MAX);
	gma_vring_walk_chain(ctx, &w, &d);
	ctx->out.anomalies = w.anomalies;
	ctx->out.nr_descs = w.nr_descs;
	ctx->out.nr_buffers = w.nr_buffers;
	ctx->out.indirect_addr = w.indirect_addr;
	ctx->out.indirect_len = w.indirect_len;
}

#define GUEST 0x10000

static uint8_t guest[GUEST];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gma_region r[3];
	struct gma_queue_layout q;
	GMA_OPTS(gma_ring_read_opts, opts);
	struct gma_mem *mem;
	struct gma_ring *ring;
	uint8_t hdr[32] = { 0 };
	size_t total = 0;

	memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
	data += size < sizeof(hdr) ? size : sizeof(hdr);
	size -= size < sizeof(hdr) ? size : sizeof(hdr);
	memset(guest, 0, sizeof(guest));
	memcpy(guest, data, size < sizeof(guest) ? size : sizeof(guest));
	/* 0x0-0x6000, 0x6000-0x8000, a hole, 0xa000-0x10000: host ranges out of order */
	r[0] = (struct gma_region){ 0x0, 0x6000, (uintptr_t)guest + 0xa000 };
	r[1] = (struct gma_region){ 0x6000, 0x2000, (uintptr_t)guest };
	r[2] = (struct gma_region){ 0xa000, 0x6000, (uintptr_t)guest + 0x2000 };
	mem = gma_mem_new_local(r, 3);
	if (!mem)
		abort();
	memcpy(&q.desc, hdr, 8);
	memcpy(&q.driver, hdr + 8, 8);
	memcpy(&q.device, hdr + 16, 8);
	q.desc &= hdr[30] & 1 ? ~0ULL : 0xffff; /* mostly inside guest memory */
	q.driver &= hdr[30] & 2 ? ~0ULL : 0xffff;
	q.device &= hdr[30] & 4 ? ~0ULL : 0xffff;
	q.num = (hdr[24] | hdr[25] << 8) % (hdr[30] & 8 ? 70000 : 300);
	q.flags = hdr[26] & (GMA_QUEUE_LEGACY | GMA_QUEUE_PACKED);
	opts.snap_len = (hdr[27] | hdr[28] << 8) % 5000;
	opts.max_chains = hdr[29] % 40;
	if (gma_ring_read(mem, &q, &opts, &ring) == 0) {
		if (ring->nr_chains > (q.num ? q.num : 1))
			abort();
		for (__u32 i = 0; i < ring->nr_chains; i++) {
			const struct gma_chain *c = gma_ring_chain(ring, i);
			static struct gma_vring_ctx bpf;
			char why[256];

			for (__u32 d = 0; d < c->nr_descs; d++)
				total += gma_chain_desc(c, d)->nbytes;
			/* the byte budget adds its own TRUNCATED: compare where it did not */
			if (c->anomalies & GMA_ANOM_CHAIN_TRUNCATED)
				continue;
			walk_as_bpf(mem, &q, c->head, &bpf);
			if (walk_differs(c, &bpf.out, why, sizeof(why))) {
				fprintf(stderr, "chain %u (head %u): %s\n", i, c->head, why);
				abort();
			}
		}
		if (total > 64u << 20)
			abort(); /* the decoder's byte budget */
		gma_ring_free(ring);
	}
	gma_mem_free(mem);
	return 0;
}

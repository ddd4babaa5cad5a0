// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fragment reassembly over random record streams that look right: well-formed headers around
 * fields that lie (lengths, addresses, sequence numbers, statuses), fragments truncated,
 * duplicated, out of order, for requests that exist and requests that do not, chain records
 * whose descriptors disagree with their fragments. The stream is built from the input, so the
 * fuzzer reaches the reassembly logic rather than the header checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

#include "record_reader.h"

static __u64 delivered_bytes;

static void on_sample(void *ctx, const struct gma_sample *s)
{
	(void)ctx;
	for (__u32 i = 0; i < s->len; i++)
		delivered_bytes += s->data[i] + s->state[i];
}

static void on_chain(void *ctx, const struct gma_chain *c)
{
	(void)ctx;
	for (__u32 i = 0; i < c->nr_descs; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(c, i);

		for (__u32 b = 0; b < d->nbytes; b++)
			delivered_bytes += d->bytes[b] + d->state[b];
	}
}

static void on_completion(void *ctx, const struct gma_completion *c)
{
	(void)ctx;
	delivered_bytes += c->head;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gma_ring_callbacks cb = { .sz = sizeof(cb),
					 .on_chain = on_chain,
					 .on_completion = on_completion };
	static union {
		struct gma_rec_hdr hdr;
		struct gma_rec_fragment frag;
		struct gma_rec_sample_end end;
		struct gma_rec_chain chain;
		struct gma_rec_queue queue;
		struct gma_rec_used used;
		uint8_t raw[sizeof(struct gma_rec_fragment) + 4096];
	} u;
	struct input in = { data, size };
	struct record_reader r;

	if (rr_init(&r, on_sample, NULL, &cb))
		return 0;
	for (int i = 0; i < 3; i++)
		rr_new_pending(&r, 1, i + 1, take(&in, 2) << 4, take(&in, 2) % 20000 + 1);
	while (in.left) {
		size_t size_rec;

		memset(&u, 0, sizeof(u));
		switch (take(&in, 1) % 6) {
		case 0: /* a fragment of a sample or a chain */
			u.frag.sample_id = take(&in, 1) & 1 ? (1ULL << 63) | take(&in, 1) % 4 :
							      take(&in, 1) % 5;
			u.frag.gpa = take(&in, 3);
			u.frag.len = take(&in, 2);
			u.frag.seq = take(&in, 1) % 20;
			u.frag.status = take(&in, 1) % 5;
			size_rec = sizeof(u.frag) +
				   (u.frag.status == GMA_FRAG_READ ? u.frag.len % 4097 : 0);
			if (take(&in, 1) == 0xff)
				size_rec = take(&in, 2) % sizeof(u); /* lying about its size */
			u.hdr.type = GMA_REC_FRAGMENT;
			break;
		case 1:
			u.end.sample_id = take(&in, 1) % 5;
			u.end.gpa = take(&in, 2) << 4;
			u.end.len = take(&in, 2);
			u.end.covered = take(&in, 2);
			u.end.nr_fragments = take(&in, 1);
			u.hdr.type = GMA_REC_SAMPLE_END;
			size_rec = sizeof(u.end);
			break;
		case 2:
			u.chain.sample_id = (1ULL << 63) | take(&in, 1) % 4;
			u.chain.key.queue = take(&in, 1) % 3;
			u.chain.head = take(&in, 2);
			u.chain.nr_recorded = take(&in, 1);
			u.chain.nr_descs = take(&in, 1);
			for (int d = 0; d < GMA_CHAIN_DESC_MAX; d++) {
				u.chain.descs[d].addr = take(&in, 3);
				u.chain.descs[d].len = take(&in, 2);
				u.chain.descs[d].snap_len = take(&in, 2);
				u.chain.descs[d].flags = take(&in, 1);
			}
			u.hdr.type = GMA_REC_CHAIN;
			size_rec = sizeof(u.chain);
			break;
		case 3:
			u.queue.key.queue = take(&in, 1) % 3;
			u.queue.num = take(&in, 4);
			u.queue.desc = take(&in, 3);
			u.queue.flags = take(&in, 1);
			u.hdr.type = GMA_REC_QUEUE;
			size_rec = sizeof(u.queue);
			break;
		case 4:
			u.used.key.queue = take(&in, 1) % 3;
			u.used.used_old = take(&in, 2);
			u.used.used_new = take(&in, 2);
			u.used.nr_elems = take(&in, 1);
			for (int e = 0; e < GMA_USED_ELEM_MAX; e++)
				u.used.elems[e].id = take(&in, 2);
			u.hdr.type = GMA_REC_USED;
			size_rec = sizeof(u.used);
			break;
		default: /* a record of another version or an unknown type */
			u.hdr.type = take(&in, 1);
			size_rec = sizeof(u.hdr) + take(&in, 1);
			u.hdr.version = take(&in, 1);
			u.hdr.size = size_rec;
			rr_feed(&r, &u, size_rec);
			continue;
		}
		u.hdr.version = GMA_REC_VERSION;
		u.hdr.size = size_rec;
		rr_feed(&r, &u, size_rec);
	}
	rr_free(&r);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The record reader over random bytes: the input is cut into records of random sizes, each
 * fed as the ring buffer would hand it over. Whatever they hold, the reader must neither
 * crash nor read or write outside a record or its own buffers, and every sample it delivers
 * stays within the request it answers. The queues the records made are then judged: every
 * verdict is one of enum gma_health, stuck exactly when gma_health_stuck() says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record_reader.h"

static void on_sample(void *ctx, const struct gma_sample *s)
{
	(void)ctx;
	/* the reader hands over exactly what was asked */
	if ((s->id != 1 || s->gpa != 0x1000 || s->len != 300) &&
	    (s->id != 2 || s->gpa != 0xfff0 || s->len != 5000))
		abort();
	for (__u32 i = 0; i < s->len; i++)
		if (s->state[i] > GMA_BYTE_CAPPED || (s->state[i] != GMA_BYTE_READ && s->data[i]))
			abort();
}

static void on_chain(void *ctx, const struct gma_chain *c)
{
	(void)ctx;
	/* what a chain hands out stays within what the tracer records and samples */
	if (c->sz != sizeof(*c) || c->desc_sz != sizeof(struct gma_chain_desc) ||
	    c->nr_descs > GMA_CHAIN_DESC_MAX)
		abort();
	for (__u32 i = 0; i < c->nr_descs; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(c, i);

		if (d->nbytes > 4096 || (d->nbytes && (!d->bytes || !d->state)) ||
		    (!d->nbytes && (d->bytes || d->state)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gma_ring_callbacks cb = { .sz = sizeof(cb), .on_chain = on_chain };
	struct record_reader r;
	static uint8_t rec[8192] __attribute__((aligned(8)));

	if (rr_init(&r, on_sample, NULL, &cb))
		return 0;
	rr_new_pending(&r, 1, 1, 0x1000, 300);
	rr_new_pending(&r, 1, 2, 0xfff0, 5000);
	while (size >= 2) {
		size_t n = (data[0] | data[1] << 8) % sizeof(rec);

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		memcpy(rec, data, n); /* the ring buffer hands records 8-byte aligned */
		rr_feed(&r, rec, n);
		data += n;
		size -= n;
	}
	for (int w = 0; w < 2; w++) {
		struct gma_queue_health *h;
		size_t nq;

		/* a window of 0 and of 1 s, at a time past every record's */
		if (qm_health(&r.model, ~0ULL >> 1, w ? 1000000000ULL : 0, NULL, NULL, &h, &nq,
			      sizeof(*h)))
			continue;
		for (size_t i = 0; i < nq; i++)
			if (h[i].verdict >= GMA_HEALTH_NR ||
			    h[i].stuck != gma_health_stuck(h[i].verdict) ||
			    h[i].stats_sz != sizeof(*h[i].stats) || h[i].stats->queue != h[i].queue)
				abort();
		free(h);
	}
	rr_free(&r);
	return 0;
}

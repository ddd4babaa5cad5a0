// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one-shot ring decoder over random guest memory and queue layouts: the input is the
 * guest's memory (split into regions with a hole) and the layout. Every index, length and
 * flag in it is hostile; the decoder must stay within its caps and never hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gma/gma.h>
#include <gma/virtio.h>

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
			const struct gma_ring_chain *c = &ring->chains[i];

			for (__u32 d = 0; d < c->nr_descs; d++)
				total += c->descs[d].snap_len;
		}
		if (total > 64u << 20)
			abort(); /* the decoder's byte budget */
		gma_ring_free(ring);
	}
	gma_mem_free(mem);
	return 0;
}

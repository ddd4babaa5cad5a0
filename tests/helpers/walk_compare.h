/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One comparison of a chain decoded two ways: libgma's one-shot decode (a struct gma_chain)
 * and the walk as the BPF tracer runs it (the steps of struct selftest_walk, with the
 * tracer's cap of GMA_VRING_WALK_BPF_MAX descriptors). Used by the BPF differential test and
 * by the ring fuzz target, which runs the BPF-configured walk in userspace.
 */
#ifndef GMA_TEST_WALK_COMPARE_H
#define GMA_TEST_WALK_COMPARE_H

#include <stdio.h>

#include <gma/virtio.h>
#include "vring_walk.h"

#include "accessor_selftest.h"

/*
 * NULL when both agree: the same anomaly bits, buffers and indirect table, or, where the cap
 * cut the BPF walk (CHAIN_TRUNCATED), the same first buffers. Else why not, in buf.
 */
static inline const char *walk_differs(const struct gma_chain *c, const struct selftest_walk *w,
				       char *buf, size_t size)
{
	/* a head listed twice in the avail ring is the ring's verdict, not the walk's */
	__u32 walk_bits = c->anomalies & ~GMA_ANOM_HEAD_IN_FLIGHT, k = 0;
	bool cut = w->anomalies & GMA_ANOM_CHAIN_TRUNCATED;

	if (!cut && w->anomalies != walk_bits)
		snprintf(buf, size, "anomalies: bpf 0x%x, userspace 0x%x", w->anomalies, walk_bits);
	else if (!cut && w->nr_buffers != c->nr_descs)
		snprintf(buf, size, "buffers: bpf %u, userspace %u", w->nr_buffers, c->nr_descs);
	else if (!cut &&
		 (w->indirect_addr != c->indirect_addr || w->indirect_len != c->indirect_len))
		snprintf(buf, size, "indirect table: bpf 0x%llx+%u, userspace 0x%llx+%u",
			 (unsigned long long)w->indirect_addr, w->indirect_len,
			 (unsigned long long)c->indirect_addr, c->indirect_len);
	else
		buf[0] = 0;
	for (__u32 s = 0; !buf[0] && s < w->nr_steps && s < SELFTEST_WALK_STEPS; s++) {
		const struct selftest_step *st = &w->steps[s];
		const struct gma_chain_desc *d;

		if (st->kind != GMA_VRING_BUFFER)
			continue;
		if (k >= c->nr_descs) {
			snprintf(buf, size, "bpf stepped more buffers than userspace's %u",
				 c->nr_descs);
			break;
		}
		d = gma_chain_desc(c, k++);
		if (d->addr != st->addr || d->len != st->len || d->flags != st->flags ||
		    d->next != st->next || d->index != st->idx || d->in_indirect != st->in_indirect)
			snprintf(buf, size,
				 "buffer %u: bpf idx %u addr 0x%llx len %u, userspace idx %u addr "
				 "0x%llx len %u",
				 k - 1, st->idx, (unsigned long long)st->addr, st->len, d->index,
				 (unsigned long long)d->addr, d->len);
	}
	return buf[0] ? buf : NULL;
}

#endif /* GMA_TEST_WALK_COMPARE_H */

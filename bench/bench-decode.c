// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-decode: records/s through libgma's record reader (reassembly of chain fragments,
 * queue model, completions) and gma-trace's chain printers (user/print/gma_print.h, the very
 * functions gma-trace rings prints with) to /dev/null.
 *
 *   bench-decode [--chain N] [--notifies M]
 *
 * The stream is synthesized in the order the tracer emits it for one notify of one chain:
 * the chain's buffer fragments (64 bytes each), the CHAIN record, the USED record of the
 * previous completion, the NOTIFY record; DEVICE and QUEUE records first. Chains look like
 * virtio-blk requests (16-byte header, data, status). Three passes over the same records:
 * reassembly only, text lines, JSON lines. JSON on stdout.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gma/gma.h>
#include "gma_print.h"
#include <gma/record.h>
#include <gma/virtio.h>

#include "record_reader.h"

#define SNAP 64
#define BASE 0xd0000000ULL
#define VM_ID 0xffff888012345000ULL

enum out_mode { OUT_NONE, OUT_TEXT, OUT_JSON };

static struct {
	enum out_mode mode;
	FILE *out;
	struct gma_json *json;
	unsigned long chains, completions;
} st;

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One line per chain, printed by the very functions gma-trace rings uses. */
static void on_chain(void *ctx, const struct gma_chain *c)
{
	(void)ctx;
	st.chains++;
	if (st.mode == OUT_TEXT) {
		fprintf(st.out, "%llu.%06llu", (unsigned long long)c->ts_ns / 1000000000ULL,
			(unsigned long long)(c->ts_ns % 1000000000ULL) / 1000);
		gma_chain_print(st.out, c, false);
	} else if (st.mode == OUT_JSON) {
		gma_chain_json(st.json, c);
	}
}

static void on_completion(void *ctx, const struct gma_completion *c)
{
	(void)ctx;
	(void)c;
	st.completions++;
}

/* A growing byte stream of records, each 8-byte aligned with its size in front. */
struct stream {
	__u8 *buf;
	size_t len, cap;
	unsigned long nr;
};

static void *put(struct stream *s, size_t size)
{
	size_t need = 8 + ((size + 7) & ~7UL);
	__u8 *p;

	if (s->len + need > s->cap) {
		s->cap = (s->cap + need) * 2;
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf) {
			perror("realloc");
			exit(1);
		}
	}
	p = s->buf + s->len;
	*(__u64 *)p = size; /* the record's size as the ring buffer gives it */
	memset(p + 8, 0, size);
	s->len += need;
	s->nr++;
	return p + 8;
}

static void hdr(struct gma_rec_hdr *h, __u16 type, __u32 size)
{
	h->type = type;
	h->version = GMA_REC_VERSION;
	h->size = size;
}

static void key(struct gma_queue_key *k)
{
	k->vm_id = VM_ID;
	k->base = BASE;
	k->queue = 0;
}

/* A blk-like chain: 16-byte header, 512-byte data buffers, 1-byte status. */
static __u32 desc_len(unsigned int d, unsigned int chain)
{
	if (chain > 1 && d == 0)
		return 16;
	if (chain > 1 && d + 1 == chain)
		return 1;
	return 512;
}

static void synthesize(struct stream *s, unsigned int chain, unsigned long notifies)
{
	struct gma_rec_device *dev = put(s, sizeof(*dev));
	struct gma_rec_queue *q = put(s, sizeof(*q));
	__u64 ts = 1000000000ULL;

	hdr(&dev->hdr, GMA_REC_DEVICE, sizeof(*dev));
	dev->vm_id = VM_ID;
	dev->base = BASE;
	dev->device_id = 2;
	dev->version = 2;
	dev->pid = 4242;
	dev->features = 1ULL << 32;
	hdr(&q->hdr, GMA_REC_QUEUE, sizeof(*q));
	key(&q->key);
	q->desc = 0x10000;
	q->driver = 0x11000;
	q->device = 0x12000;
	q->num = 64;
	q->device_id = 2;
	q->flags = GMA_QUEUE_READY;
	q->pid = 4242;
	for (unsigned long i = 0; i < notifies; i++) {
		__u64 sid = (1ULL << 63) | i;
		struct gma_rec_chain *c;
		struct gma_rec_notify *n;
		struct gma_rec_used *u;

		ts += 10000;
		for (unsigned int d = 0; d < chain; d++) {
			__u32 snap = desc_len(d, chain) < SNAP ? desc_len(d, chain) : SNAP;
			struct gma_rec_fragment *f = put(s, sizeof(*f) + snap);

			hdr(&f->hdr, GMA_REC_FRAGMENT, sizeof(*f) + snap);
			f->vm_id = VM_ID;
			f->sample_id = sid;
			f->gpa = 0x20000 + d * 0x1000;
			f->len = snap;
			f->seq = d;
			f->status = GMA_FRAG_READ;
			memset(f->data, 0x40 + d, snap);
			if (d == 0 && chain > 1) { /* a virtio-blk header: OUT, sector i */
				__u32 type = 1;
				__u64 sector = i;

				memcpy(f->data, &type, 4);
				memset(f->data + 4, 0, 4);
				memcpy(f->data + 8, &sector, 8);
			}
		}
		c = put(s, sizeof(*c));
		hdr(&c->hdr, GMA_REC_CHAIN, sizeof(*c));
		key(&c->key);
		c->ts_ns = ts;
		c->notify_seq = i;
		c->sample_id = sid;
		c->avail_idx = i;
		c->head = 0;
		c->nr_descs = c->nr_recorded = chain;
		c->pid = 4242;
		for (unsigned int d = 0; d < chain; d++) {
			struct gma_desc_rec *dr = &c->descs[d];

			dr->addr = 0x20000 + d * 0x1000;
			dr->len = desc_len(d, chain);
			dr->flags = (d + 1 < chain ? 1 : 0) | (d + 1 == chain ? 2 : 0);
			dr->next = d + 1 < chain ? d + 1 : 0;
			dr->index = d;
			dr->snap_len = dr->len < SNAP ? dr->len : SNAP;
			c->total_len += dr->len;
		}
		u = put(s, sizeof(*u));
		hdr(&u->hdr, GMA_REC_USED, sizeof(*u));
		key(&u->key);
		u->ts_ns = ts;
		u->used_old = i ? (__u16)(i - 1) : 0;
		u->used_new = i ? (__u16)i : 0;
		u->nr_elems = i ? 1 : 0;
		u->elems[0].id = 0;
		u->elems[0].len = 1;
		u->pid = 4242;
		n = put(s, sizeof(*n));
		hdr(&n->hdr, GMA_REC_NOTIFY, sizeof(*n));
		key(&n->key);
		n->ts_ns = ts;
		n->notify_seq = i;
		n->pid = n->tid = 4242;
		n->avail_old = i;
		n->avail_new = i + 1;
		n->used_idx = i;
		n->nr_chains = 1;
	}
}

static double run(struct stream *s, enum out_mode mode, unsigned long *bad)
{
	static const struct gma_ring_callbacks cb = {
		.sz = sizeof(cb),
		.on_chain = on_chain,
		.on_completion = on_completion,
	};
	struct record_reader rr;
	char *obuf = malloc(1 << 20);
	__u64 t0, t1;

	st.mode = mode;
	st.out = fopen("/dev/null", "w");
	st.json = st.out ? gma_json_new(st.out) : NULL;
	if (!st.json || !obuf || rr_init(&rr, NULL, NULL, &cb)) {
		perror("bench-decode");
		exit(1);
	}
	setvbuf(st.out, obuf, _IOFBF, 1 << 20);
	st.chains = st.completions = 0;
	t0 = now_ns();
	for (size_t off = 0; off < s->len;) {
		__u64 size = *(__u64 *)(s->buf + off);

		rr_feed(&rr, s->buf + off + 8, size);
		off += 8 + ((size + 7) & ~7UL);
	}
	fflush(st.out);
	t1 = now_ns();
	*bad = rr.bad_records;
	rr_free(&rr);
	gma_json_free(st.json);
	fclose(st.out);
	free(obuf);
	return s->nr / ((t1 - t0) / 1e9);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chain", required_argument, NULL, 'c' },
		{ "notifies", required_argument, NULL, 'n' },
		{},
	};
	unsigned int chain = 4;
	unsigned long notifies = 100000, bad[3];
	struct stream s = {};
	double rate[3] = {};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c')
			chain = strtoul(optarg, NULL, 0);
		else if (o == 'n')
			notifies = strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	if (chain < 1 || chain > GMA_CHAIN_DESC_MAX)
		return 2;
	synthesize(&s, chain, notifies);
	/* best of three passes per mode, interleaved */
	for (int t = 0; t < 3; t++) {
		for (int m = 0; m < 3; m++) {
			double r = run(&s, m, &bad[m]);

			if (r > rate[m])
				rate[m] = r;
		}
	}
	printf("{\"chain\":%u,\"records\":%lu,\"chains\":%lu,\"completions\":%lu,"
	       "\"bad_records\":%lu,\"reassembly_rps\":%.0f,\"text_rps\":%.0f,\"json_rps\":%.0f,"
	       "\"text_ratio\":%.3f,\"json_ratio\":%.3f}\n",
	       chain, s.nr, st.chains, st.completions, bad[0], rate[0], rate[1], rate[2],
	       rate[1] / rate[0], rate[2] / rate[0]);
	free(s.buf);
	return 0;
}

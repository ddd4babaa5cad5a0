// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record_reader.h"

int rr_init(struct record_reader *r, gma_sample_fn on_sample, void *ctx,
	    const struct gma_ring_callbacks *ring)
{
	memset(r, 0, sizeof(*r));
	r->on_sample = on_sample;
	r->ctx = ctx;
	qm_init(&r->model, ring, ctx);
	r->chains = calloc(CHAIN_ASSEMBLY_MAX, sizeof(*r->chains));
	return r->chains ? 0 : -ENOMEM;
}

void rr_free(struct record_reader *r)
{
	for (int i = 0; i < GMA_SAMPLE_REQ_MAX; i++) {
		free(r->pending[i].data);
		free(r->pending[i].state);
	}
	qm_free(&r->model);
	free(r->chains);
	memset(r, 0, sizeof(*r));
}

struct pending_sample *rr_new_pending(struct record_reader *r, pid_t pid, __u64 id, __u64 gpa,
				      __u32 len)
{
	struct pending_sample *p = NULL;

	for (int i = 0; i < GMA_SAMPLE_REQ_MAX && !p; i++)
		if (!r->pending[i].used) {
			p = &r->pending[i];
			p->slot = i;
		}
	if (!p)
		return NULL;
	p->data = calloc(1, len);
	p->state = malloc(len);
	if (!p->data || !p->state) {
		free(p->data);
		free(p->state);
		p->data = p->state = NULL;
		return NULL;
	}
	/* Bytes no fragment reaches are lost until a fragment says otherwise */
	memset(p->state, GMA_BYTE_LOST, len);
	p->used = true;
	p->pid = pid;
	p->id = id;
	p->gpa = gpa;
	p->len = len;
	p->frags_seen = 0;
	p->next_off = 0;
	p->last_seq = -1;
	return p;
}

struct pending_sample *rr_find_pending(struct record_reader *t, __u64 id)
{
	for (int i = 0; i < GMA_SAMPLE_REQ_MAX; i++)
		if (t->pending[i].used && t->pending[i].id == id)
			return &t->pending[i];
	return NULL;
}

void rr_release(struct record_reader *t, struct pending_sample *p)
{
	if (t->release_slot)
		t->release_slot(t->owner, p->slot);
	free(p->data);
	free(p->state);
	memset(p, 0, sizeof(*p));
}

static struct chain_assembly *find_assembly(struct record_reader *t, __u64 sample_id, bool create)
{
	struct chain_assembly *oldest = NULL;

	for (int i = 0; i < CHAIN_ASSEMBLY_MAX; i++) {
		struct chain_assembly *a = &t->chains[i];

		if (a->used && a->sample_id == sample_id)
			return a;
		if (!oldest || !a->used || (oldest->used && a->age < oldest->age))
			oldest = a;
	}
	if (!create)
		return NULL;
	/* evicting: the chain record of the oldest never came (dropped): count it */
	if (oldest->used)
		t->bad_records++;
	memset(oldest->nbytes, 0, sizeof(oldest->nbytes));
	oldest->used = true;
	oldest->sample_id = sample_id;
	oldest->age = ++t->chain_age;
	return oldest;
}

/*
 * A fragment of a chain's buffer: seq is the descriptor's position in the chain record, and
 * fragments of one descriptor come in address order from its start.
 */
static int on_chain_fragment(struct record_reader *t, const struct gma_rec_fragment *f, size_t size)
{
	struct chain_assembly *a = find_assembly(t, f->sample_id, true);
	__u32 pos = f->seq, n;

	if (pos >= GMA_CHAIN_DESC_MAX)
		return -EPROTO;
	if (f->status == GMA_FRAG_READ ? size != sizeof(*f) + f->len : size != sizeof(*f))
		return -EPROTO;
	if (a->nbytes[pos] == 0)
		a->gpa[pos] = f->gpa;
	else if (f->gpa != a->gpa[pos] + a->nbytes[pos])
		return -EPROTO;
	n = f->len;
	if (n > GMA_TRACER_SNAP_CAP - a->nbytes[pos])
		return -EPROTO;
	if (f->status == GMA_FRAG_READ)
		memcpy(a->data[pos] + a->nbytes[pos], f->data, n);
	else
		memset(a->data[pos] + a->nbytes[pos], 0, n);
	memset(a->state[pos] + a->nbytes[pos],
	       f->status == GMA_FRAG_READ	? GMA_BYTE_READ :
	       f->status == GMA_FRAG_UNMAPPED	? GMA_BYTE_UNMAPPED :
	       f->status == GMA_FRAG_FOREIGN_MM ? GMA_BYTE_FOREIGN_MM :
						  GMA_BYTE_FAULT,
	       n);
	a->nbytes[pos] += n;
	return 0;
}

/* The chain record: its buffers' bytes must be where its descriptors say. */
static int on_chain(struct record_reader *t, const struct gma_rec_chain *r)
{
	struct chain_assembly *a = find_assembly(t, r->sample_id, false);
	struct gma_chain_desc descs[GMA_CHAIN_DESC_MAX] = {};
	__u32 n = r->nr_recorded < GMA_CHAIN_DESC_MAX ? r->nr_recorded : GMA_CHAIN_DESC_MAX;
	struct gma_chain c = {
		.sz = sizeof(c),
		.vm_id = r->key.vm_id,
		.base = r->key.base,
		.queue = r->key.queue,
		.pid = r->pid,
		.ts_ns = r->ts_ns,
		.avail_idx = r->avail_idx,
		.head = r->head,
		.flags = GMA_CHAIN_AT_NOTIFY | (r->indirect_addr ? GMA_CHAIN_INDIRECT : 0),
		.anomalies = r->anomalies,
		.indirect_addr = r->indirect_addr,
		.indirect_len = r->indirect_len,
		.nr_walked = r->nr_descs,
		.total_len = r->total_len,
		.nr_descs = n,
		.desc_sz = sizeof(descs[0]),
		.descs = descs,
	};
	int err = 0;

	for (__u32 i = 0; i < n; i++) {
		const struct gma_desc_rec *d = &r->descs[i];

		descs[i] = (struct gma_chain_desc){
			.addr = d->addr,
			.len = d->len,
			.flags = d->flags,
			.next = d->next,
			.index = d->index,
			.in_indirect = d->in_indirect,
		};
		if (!a || !a->nbytes[i])
			continue;
		if (a->gpa[i] != d->addr || a->nbytes[i] > d->snap_len) {
			err = -EPROTO; /* fragments that do not belong to this descriptor */
			continue;
		}
		/* a fragment was lost: show none rather than part */
		if (a->nbytes[i] < d->snap_len)
			continue;
		descs[i].nbytes = a->nbytes[i];
		descs[i].bytes = a->data[i];
		descs[i].state = a->state[i];
	}
	qm_on_chain(&t->model, &c);
	if (a)
		a->used = false;
	return err;
}

/* A fragment must lie inside its request and carry exactly the bytes its status promises. */
static int on_fragment(struct record_reader *t, const struct gma_rec_fragment *f, size_t size)
{
	struct pending_sample *p;
	__u64 off;

	if (f->sample_id & CHAIN_SAMPLE_BIT)
		return on_chain_fragment(t, f, size);
	p = rr_find_pending(t, f->sample_id);
	if (!p)
		return -ENOENT; /* late fragment of a cancelled request, or garbage */
	if (f->gpa < p->gpa || f->gpa - p->gpa > p->len || f->len > p->len - (f->gpa - p->gpa) ||
	    f->len == 0 || (f->status == GMA_FRAG_READ && f->len > GMA_TRACER_FRAG_CAP))
		return -EPROTO;
	if (f->status == GMA_FRAG_READ ? size != sizeof(*f) + f->len : size != sizeof(*f))
		return -EPROTO;
	off = f->gpa - p->gpa;
	/*
	 * The kernel sends a sample's fragments in order, never overlapping; some may be missing
	 * (dropped by a full ring buffer). One that goes back is a lie: refused.
	 */
	if (off < p->next_off || (int)f->seq <= p->last_seq)
		return -EPROTO;
	p->next_off = off + f->len;
	p->last_seq = f->seq;
	switch (f->status) {
	case GMA_FRAG_READ:
		memcpy(p->data + off, f->data, f->len);
		memset(p->state + off, GMA_BYTE_READ, f->len);
		break;
	case GMA_FRAG_UNMAPPED:
		memset(p->state + off, GMA_BYTE_UNMAPPED, f->len);
		break;
	case GMA_FRAG_FAULT:
		memset(p->state + off, GMA_BYTE_FAULT, f->len);
		break;
	case GMA_FRAG_FOREIGN_MM:
		memset(p->state + off, GMA_BYTE_FOREIGN_MM, f->len);
		break;
	default:
		return -EPROTO;
	}
	p->frags_seen++;
	return 0;
}

/*
 * The end of a sample: bytes no fragment reached are LOST when fragments went missing (the
 * ring buffer dropped them) and CAPPED beyond what the kernel covered.
 */
static int on_sample_end(struct record_reader *t, const struct gma_rec_sample_end *e)
{
	struct pending_sample *p = rr_find_pending(t, e->sample_id);
	struct gma_sample s;
	__u32 covered;

	if (!p)
		return -ENOENT;
	if (e->gpa != p->gpa || e->len != p->len)
		return -EPROTO;
	covered = e->covered < p->len ? e->covered : p->len;
	/* what the kernel says it did not cover is not guest data, whatever arrived for it */
	memset(p->state + covered, GMA_BYTE_CAPPED, p->len - covered);
	memset(p->data + covered, 0, p->len - covered);
	s = (struct gma_sample){
		.sz = sizeof(s),
		.id = p->id,
		.vm_id = e->vm_id,
		.pid = e->pid,
		.tid = e->tid,
		.ts_ns = e->ts_ns,
		.gpa = p->gpa,
		.len = p->len,
		.nr_fragments = e->nr_fragments,
		.nr_lost = e->nr_fragments > p->frags_seen ? e->nr_fragments - p->frags_seen : 0,
		.err = e->err,
		.data = p->data,
		.state = p->state,
	};
	if (t->on_sample)
		t->on_sample(t->ctx, &s);
	rr_release(t, p);
	return 0;
}

int rr_feed(struct record_reader *t, const void *data, size_t size)
{
	const struct gma_rec_hdr *h = data;
	int err = -EPROTO;

	t->handled++;
	if (size < sizeof(*h) || h->size != size || h->version != GMA_REC_VERSION) {
		t->bad_records++;
		return -EPROTO;
	}
	switch (h->type) {
	case GMA_REC_FRAGMENT:
		if (size >= sizeof(struct gma_rec_fragment))
			err = on_fragment(t, data, size);
		break;
	case GMA_REC_SAMPLE_END:
		if (size == sizeof(struct gma_rec_sample_end))
			err = on_sample_end(t, data);
		break;
	case GMA_REC_CHAIN:
		if (size == sizeof(struct gma_rec_chain))
			err = on_chain(t, data);
		break;
	case GMA_REC_NOTIFY:
		if (size == sizeof(struct gma_rec_notify)) {
			qm_on_notify(&t->model, data);
			err = 0;
		}
		break;
	case GMA_REC_USED:
		if (size == sizeof(struct gma_rec_used)) {
			qm_on_used(&t->model, data);
			err = 0;
		}
		break;
	case GMA_REC_QUEUE:
		if (size == sizeof(struct gma_rec_queue)) {
			qm_on_queue(&t->model, data);
			err = 0;
		}
		break;
	case GMA_REC_DEVICE:
		if (size == sizeof(struct gma_rec_device)) {
			qm_on_device(&t->model, data);
			err = 0;
		}
		break;
	}
	if (err)
		t->bad_records++;
	return err;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Userspace's look at the rings. Busy devices suppress notifications (NO_NOTIFY, EVENT_IDX)
 * and a vCPU that rarely exits gives the BPF side few chances to look at the used rings, so
 * the model would miss completions if it followed only the kernel's records: every ring poll
 * period (gma_tracer_opts.ring_poll_ms) each known queue's indices, flags, event-index words
 * and new used elements are read from the guest through process_vm_readv, and fed to the
 * model as the kernel's records are. The guest memory of each traced VM is kept here too
 * (tracer_vm_memory()), for the imports as well.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <gma/gma.h>
#include "vring_walk.h"

#include "tracer_internal.h"

/* Used elements one poll reads per queue; past it they are counted, not read. */
#define RING_POLL_ELEMS_MAX 256

/*
 * The guest memory of VM vm_id as its VMM maps it, or NULL when the VM is gone or not listed.
 * Listed again after vm_memory_stale() (a read failed: a memslot may have moved, KVM's
 * generation tells), at most once per ring poll period for a VM that cannot be found.
 */
struct gma_mem *tracer_vm_memory(struct gma_tracer *t, __u64 vm_id)
{
	struct vm_reader *r = NULL;
	struct gma_region *regions;
	const struct gma_vm *vm = NULL;
	struct gma_vm *vms;
	size_t n, nr;
	__u64 now = now_ns();

	for (size_t i = 0; i < t->nr_vm_readers; i++)
		if (t->vm_readers[i].vm_id == vm_id)
			r = &t->vm_readers[i];
	if (r && (r->mem || now - r->listed_ns < t->ring_poll_ns))
		return r->mem;
	if (!r && t->nr_vm_readers == VM_READERS_MAX)
		return NULL;
	if (!r) {
		r = &t->vm_readers[t->nr_vm_readers++];
		memset(r, 0, sizeof(*r));
		r->vm_id = vm_id;
	}
	r->listed_ns = now;
	if (!t->lister && !(t->lister = gma_vm_lister_new()))
		return NULL;
	if (gma_vm_lister_list(t->lister, &vms, &n, sizeof(*vms)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (vms[i].id == vm_id)
			vm = &vms[i];
	if (vm && !gma_vm_regions(vm, &regions, &nr)) {
		r->mem = gma_mem_new_process(vm->pid, regions, nr);
		r->pid = vm->pid;
		r->generation = vm->generation;
		free(regions);
	}
	gma_vms_free(vms);
	return r->mem;
}

/*
 * A read through VM vm_id's memory failed: list the VM again at a next use, no sooner than a
 * ring poll period after the last listing, or at once with now.
 */
void tracer_vm_memory_stale(struct gma_tracer *t, __u64 vm_id, bool now)
{
	for (size_t i = 0; i < t->nr_vm_readers; i++)
		if (t->vm_readers[i].vm_id == vm_id) {
			gma_mem_free(t->vm_readers[i].mem);
			t->vm_readers[i].mem = NULL;
			if (now)
				t->vm_readers[i].listed_ns = 0;
		}
}

/* What one look at a queue's rings read from guest memory. */
struct ring_look {
	struct gma_queue_key key;
	pid_t pid;
	bool indices_known; /* the model knew where the used ring was before this look */
	__u16 avail;
	__u16 used;
	__u16 from; /* the used elements read: [from, from + nr_elems) */
	__u16 nr_elems;
	bool fields_known; /* fields read too (the health verdicts' evidence) */
	struct qm_ring_fields fields;
	struct gma_vring_used_elem elems[RING_POLL_ELEMS_MAX];
};

/* The flags and event-index words beside the indices: 0, or -EFAULT. */
static int read_ring_fields(struct gma_mem *mem, const struct gma_queue_stats *st,
			    struct qm_ring_fields *f)
{
	__u64 ring_end = GMA_VRING_RING_OFF + 2ULL * st->num; /* avail ring: used_event */
	__u64 used_end = gma_vring_used_elem_off(st->num); /* used ring: avail_event */

	if (tracer_read_idx(mem, st->driver, &f->avail_flags) ||
	    tracer_read_idx(mem, st->device, &f->used_flags) ||
	    tracer_read_idx(mem, st->driver + ring_end, &f->used_event) ||
	    tracer_read_idx(mem, st->device + used_end, &f->avail_event))
		return -EFAULT;
	return 0;
}

/*
 * Reads one queue's indices, and the used elements past the model's used index, into l.
 * 0, or -EFAULT when the rings could not be read.
 */
static int look_at_queue(struct gma_mem *mem, const struct gma_queue_stats *st, struct ring_look *l)
{
	__u16 n;

	if (tracer_read_idx(mem, st->driver + GMA_VRING_AVAIL_IDX_OFF, &l->avail) ||
	    tracer_read_idx(mem, st->device + GMA_VRING_USED_IDX_OFF, &l->used))
		return -EFAULT;
	l->indices_known = st->indices_known;
	l->fields_known = !read_ring_fields(mem, st, &l->fields);
	l->from = st->last_used;
	l->nr_elems = 0;
	n = (__u16)(l->used - l->from);
	if (!l->indices_known || (__s16)n <= 0)
		return 0;
	if (n > RING_POLL_ELEMS_MAX)
		n = RING_POLL_ELEMS_MAX; /* the rest counted, not read */
	while (l->nr_elems < n &&
	       !gma_mem_read_obj(mem,
				 st->device + gma_vring_used_elem_off(
						      (__u16)(l->from + l->nr_elems) % st->num),
				 &l->elems[l->nr_elems], sizeof(l->elems[0])))
		l->nr_elems++;
	return 0;
}

/*
 * A look's results, fed to the model as the kernel's records are: the avail index, and the
 * completions as USED records (the model counts each completion once, whoever saw it first).
 */
static void apply_look(struct gma_tracer *t, const struct ring_look *l)
{
	__u32 delta = (__u16)(l->used - l->from), done = 0;
	struct gma_rec_used rec;

	qm_on_avail_idx(&t->reader.model, &l->key, l->avail, now_ns());
	if (!l->indices_known || !delta || (__s16)delta < 0) {
		rec = (struct gma_rec_used){ .key = l->key,
					     .ts_ns = now_ns(),
					     .pid = l->pid,
					     .used_old = l->used,
					     .used_new = l->used };
		if (!l->indices_known)
			qm_on_used(&t->reader.model, &rec); /* where the used ring is now */
		goto fields;
	}
	while (done < delta) {
		memset(&rec, 0, sizeof(rec));
		rec.key = l->key;
		rec.ts_ns = now_ns();
		rec.pid = l->pid;
		rec.used_old = (__u16)(l->from + done);
		while (rec.nr_elems < GMA_USED_ELEM_MAX && done < l->nr_elems) {
			rec.elems[rec.nr_elems].id = l->elems[done].id;
			rec.elems[rec.nr_elems].len = l->elems[done].len;
			rec.nr_elems++;
			done++;
		}
		if (!rec.nr_elems) {
			rec.nr_skipped = delta - done; /* past what one look reads, or unreadable */
			done = delta;
		}
		rec.used_new = (__u16)(l->from + done);
		qm_on_used(&t->reader.model, &rec);
	}
fields:
	if (l->fields_known)
		qm_on_ring_fields(&t->reader.model, &l->key, &l->fields, now_ns());
}

/*
 * Every known queue's indices, read from the guest: the model follows the rings. The rings
 * are read first and the ring buffer drained after: a chain the device completed was made
 * available, and its record written by the kernel, before the look, so the model has the
 * chain before the look's completion of it.
 */
void tracer_poll_rings(struct gma_tracer *t)
{
	const struct gma_queue_key *key;
	const struct gma_queue_stats *st;
	size_t n = 0;

	for (size_t i = 0; (st = qm_queue_at(&t->reader.model, i, &key)); i++) {
		struct ring_look *l;
		struct gma_mem *mem;

		if (!st->num || !st->driver || !st->device || (st->flags & GMA_QUEUE_PACKED) ||
		    !(st->flags & GMA_QUEUE_READY))
			continue;
		if (n == t->cap_looks) {
			size_t cap = t->cap_looks ? 2 * t->cap_looks : 8;
			void *p = realloc(t->looks, cap * sizeof(*t->looks));

			if (!p)
				break;
			t->looks = p;
			t->cap_looks = cap;
		}
		l = &t->looks[n];
		l->key = *key;
		l->pid = st->pid;
		mem = tracer_vm_memory(t, key->vm_id);
		if (!mem || look_at_queue(mem, st, l)) {
			tracer_vm_memory_stale(t, key->vm_id, false); /* a slot may have moved */
			continue;
		}
		n++;
	}
	ring_buffer__consume(t->rb);
	for (size_t i = 0; i < n; i++)
		apply_look(t, &t->looks[i]);
}

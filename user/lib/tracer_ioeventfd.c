// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * KVM's ioeventfd registrations, and the notifies no known queue explains. A VM traced late
 * has devices whose setup the tracer never saw, but KVM still holds where their notifies go
 * (KVM_IOEVENTFD): the VM lister reads the registrations, they are mirrored into the
 * ioeventfds map (refreshed from gma_tracer_poll()), and the BPF side counts the guest writes
 * that hit one with no queue known behind it. Those counts come back here, each with the
 * registration it hit, even once its VM has exited.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>

#include "gma_internal.h"
#include "tracer_internal.h"

static int ioeventfd_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct gma_tracer_ioeventfd_key));
}

/*
 * The registrations of the traced VM (or every VM) as the map's entries, sorted by key, those
 * at one address merged (GMA_TRACER_IOEVENTFD_MULTI). -E2BIG when some are left out: past the map's
 * size, or past what the VM lister lists of a VM (its ioeventfds_more).
 */
static int collect_ioeventfds(const struct gma_tracer *t, const struct gma_vm *vms, size_t nvms,
			      struct ioeventfd_entry *e, size_t *n_out)
{
	size_t n = 0, k = 0;
	int err = 0;

	for (size_t i = 0; i < nvms; i++) {
		if (t->pid && vms[i].pid != t->pid)
			continue;
		if (vms[i].ioeventfds_more || (vms[i].flags & GMA_VM_IOEVENTFDS_INCOMPLETE))
			err = -E2BIG;
		for (size_t r = 0; r < vms[i].nr_ioeventfds; r++) {
			const struct gma_ioeventfd *io = gma_vm_ioeventfd(&vms[i], r);

			if (n == GMA_TRACER_IOEVENTFDS_MAX) {
				err = -E2BIG;
				break;
			}
			e[n++] = (struct ioeventfd_entry){
				.key = { .vm_id = vms[i].id, .addr = io->addr, .bus = io->bus },
				.val = { .datamatch = io->datamatch,
					 .len = io->len,
					 .flags = io->wildcard ? GMA_TRACER_IOEVENTFD_WILDCARD :
								 0 },
			};
		}
	}
	qsort(e, n, sizeof(*e), ioeventfd_key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && !ioeventfd_key_cmp(&e[k - 1].key, &e[i].key)) {
			e[k - 1].val.flags |= GMA_TRACER_IOEVENTFD_MULTI;
			continue;
		}
		e[k++] = e[i];
	}
	*n_out = k;
	return err;
}

static bool vm_listed(const struct gma_vm *vms, size_t n, __u64 vm_id)
{
	for (size_t i = 0; i < n; i++)
		if (vms[i].id == vm_id)
			return true;
	return false;
}

/* Keeps the registration at k of a VM that exited (t->gone), before the map forgets it. */
static void remember_gone(struct gma_tracer *t, const struct gma_tracer_ioeventfd_key *k)
{
	struct ioeventfd_entry g = { .key = *k };

	if (bpf_map__lookup_elem(t->skel->maps.ioeventfds, k, sizeof(*k), &g.val, sizeof(g.val), 0))
		return;
	if (!t->gone && !(t->gone = calloc(GMA_TRACER_IOEVENTFDS_MAX, sizeof(*t->gone))))
		return;
	t->gone[t->next_gone] = g;
	t->next_gone = (t->next_gone + 1) % GMA_TRACER_IOEVENTFDS_MAX;
	if (t->nr_gone < GMA_TRACER_IOEVENTFDS_MAX)
		t->nr_gone++;
}

/* The registration at rk: the VM's as KVM holds it now, or as it was when the VM exited. */
static int registration_of(const struct gma_tracer *t, const struct gma_tracer_ioeventfd_key *rk,
			   struct gma_tracer_ioeventfd_val *rv)
{
	if (!bpf_map__lookup_elem(t->skel->maps.ioeventfds, rk, sizeof(*rk), rv, sizeof(*rv), 0))
		return 0;
	/* newest first: a struct kvm address an exited VM had may have been another's since */
	for (size_t j = 1; j <= t->nr_gone; j++) {
		const struct ioeventfd_entry *g =
			&t->gone[(t->next_gone + GMA_TRACER_IOEVENTFDS_MAX - j) %
				 GMA_TRACER_IOEVENTFDS_MAX];

		if (!ioeventfd_key_cmp(&g->key, rk)) {
			*rv = g->val;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The ioeventfds map made equal to the registrations KVM holds now, for the traced VM (or
 * every VM): the ones no longer registered deleted, then the others added or updated. 0 or
 * -errno: the VM lister could not run, or -E2BIG when some registrations are not followed;
 * remembered for gma_tracer_ioeventfds_error().
 */
int tracer_sync_ioeventfds(struct gma_tracer *t)
{
	struct bpf_map *map = t->skel->maps.ioeventfds;
	struct ioeventfd_entry *e = NULL;
	struct gma_tracer_ioeventfd_key k, next;
	struct gma_vm *vms = NULL;
	size_t n = 0, nvms = 0;
	int err, uerr = 0;
	bool more;

	t->ioeventfds_listed_ns = now_ns();
	if (!t->lister && !(t->lister = gma_vm_lister_new())) {
		err = -errno;
		goto out;
	}
	err = gma_vm_lister_list(t->lister, &vms, &nvms, sizeof(*vms));
	if (err)
		goto out;
	e = calloc(GMA_TRACER_IOEVENTFDS_MAX, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto out;
	}
	err = collect_ioeventfds(t, vms, nvms, e, &n);
	/* the stale ones first, so the map has room: a key is deleted once its successor is known */
	more = !bpf_map__get_next_key(map, NULL, &k, sizeof(k));
	while (more) {
		more = !bpf_map__get_next_key(map, &k, &next, sizeof(next));
		if (!bsearch(&k, e, n, sizeof(*e), ioeventfd_key_cmp)) {
			if (!vm_listed(vms, nvms, k.vm_id))
				remember_gone(t, &k);
			bpf_map__delete_elem(map, &k, sizeof(k), 0);
		}
		k = next;
	}
	for (size_t i = 0; i < n && !uerr; i++)
		uerr = bpf_map__update_elem(map, &e[i].key, sizeof(e[i].key), &e[i].val,
					    sizeof(e[i].val), BPF_ANY);
	err = uerr ?: err;
out:
	gma_vms_free(vms);
	free(e);
	t->ioeventfds_err = err;
	return err;
}

int gma_tracer_ioeventfds_error(const struct gma_tracer *t)
{
	return t->ioeventfds_err;
}

int gma_tracer_unexplained_notifies(struct gma_tracer *t, struct gma_unexplained_notify **out,
				    size_t *n_out, size_t elem_sz, __u64 *overflow)
{
	struct bpf_map *map = t->skel->maps.unexplained;
	struct gma_tracer_unexplained_key k, next;
	struct gma_unexplained_notify *a;
	struct gma_tracer_unexplained_val v;
	size_t n = 0;
	bool more;

	*out = NULL;
	*n_out = 0;
	if (!elem_sz)
		return -EINVAL;
	if (overflow)
		*overflow = t->skel->bss->unexplained_overflow;
	a = calloc(GMA_TRACER_UNEXPLAINED_MAX, sizeof(*a));
	if (!a)
		return -ENOMEM;
	more = !bpf_map__get_next_key(map, NULL, &next, sizeof(next));
	while (more && n < GMA_TRACER_UNEXPLAINED_MAX) {
		struct gma_tracer_ioeventfd_key rk;
		struct gma_tracer_ioeventfd_val rv;
		struct gma_unexplained_notify *u = &a[n];

		k = next;
		more = !bpf_map__get_next_key(map, &k, &next, sizeof(next));
		if (bpf_map__lookup_elem(map, &k, sizeof(k), &v, sizeof(v), 0))
			continue; /* deleted meanwhile: there is no deleting here, never happens */
		*u = (struct gma_unexplained_notify){ .vm_id = k.vm_id,
						      .pid = v.pid,
						      .bus = k.bus,
						      .addr = k.addr,
						      .data = k.data,
						      .count = v.count,
						      .first_ns = v.first_ns,
						      .last_ns = v.last_ns };
		rk = (struct gma_tracer_ioeventfd_key){ .vm_id = k.vm_id,
							.addr = k.addr,
							.bus = k.bus };
		if (!registration_of(t, &rk, &rv)) {
			u->reg_len = rv.len;
			u->reg_wildcard = rv.flags & GMA_TRACER_IOEVENTFD_WILDCARD;
			u->reg_shared = rv.flags & GMA_TRACER_IOEVENTFD_MULTI;
			u->reg_datamatch = rv.datamatch;
		}
		n++;
	}
	*out = gma_elems_copy(a, n, sizeof(*a), elem_sz);
	free(a);
	if (!*out)
		return -ENOMEM;
	*n_out = n;
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a VM traced late set up before the trace began, given to the tracer: its queues
 * (gma_tracer_add_queue(), from --queue or QMP), its PCI ECAM window (gma_tracer_set_ecam())
 * and its virtio-pci functions (gma_tracer_add_pci_function(), from QMP). Each is written into
 * the BPF maps as the transports would have filled them had they seen the guest set it up,
 * and an imported queue starts from its ring as it is now: the chains then in flight are
 * listed once (on_attach), not mistaken for new ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>
#include <gma/virtio.h>
#include "vring_walk.h"

#include "gma_internal.h"
#include "tracer_internal.h"
#include "virtio_pci_regs.h" /* pci_ecam_valid, pci_fn_from_snapshot, pci_bar_size, pci_virtio_version */

/* A queue's state at import: the model's start, and the chains then in flight. */
struct import_state {
	struct qm_ring_state ring;
	struct gma_ring *decoded; /* gma_ring_read(): chains from its own used index on */
	__u32 first; /* decoded->chains[first] is at ring.used_idx */
	__u32 nr_chains; /* from first: those below ring.avail_idx, in order */
	pid_t pid;
};

/*
 * A queue's current state read from the guest at import: its indices, and the chains in
 * flight (avail ring entries from used to avail, at most num) decoded once as gma_ring_read()
 * decodes them (the model takes their heads, the caller lists them). The decode reads the
 * indices again: of its chains, those between the indices read first are kept (a device or
 * driver that moved in between changes which). 0, or -errno when the indices cannot be read
 * (a driver that has not set the queue up: the first look learns it instead).
 */
static int read_ring_state(struct gma_tracer *t, __u64 vm_id, const struct gma_queue_layout *l,
			   struct import_state *st)
{
	GMA_OPTS(gma_ring_read_opts, opts, .snap_len = t->skel->rodata->snap_len);
	struct qm_ring_state *ring = &st->ring;
	struct gma_ring *r;
	struct gma_mem *mem;
	__u16 *heads;
	bool *is_request;
	__u32 n, skip;
	int err;

	tracer_vm_memory_stale(t, vm_id, true); /* the memslots as they are now */
	mem = tracer_vm_memory(t, vm_id);
	if (!mem || !l->driver || !l->device || l->flags & GMA_QUEUE_PACKED)
		return -ENOENT;
	for (size_t i = 0; i < t->nr_vm_readers; i++)
		if (t->vm_readers[i].vm_id == vm_id)
			st->pid = t->vm_readers[i].pid;
	if (tracer_read_idx(mem, l->driver + GMA_VRING_AVAIL_IDX_OFF, &ring->avail_idx) ||
	    tracer_read_idx(mem, l->device + GMA_VRING_USED_IDX_OFF, &ring->used_idx))
		return -EFAULT;
	n = (__u16)(ring->avail_idx - ring->used_idx);
	if (n > l->num)
		n = l->num; /* a hostile index: the model flags nothing here, the ring shows it */
	err = gma_ring_read(mem, l, &opts, &r);
	if (err)
		return err;
	st->decoded = r;
	/* the decode's chains that lie in [used_idx, avail_idx) as read above: a contiguous run */
	skip = (__u16)(ring->used_idx - r->used_idx);
	if ((__s16)skip < 0 || skip > r->nr_chains)
		skip = r->nr_chains; /* the device went back: the ring shows it, nothing listed */
	st->first = skip;
	while (st->nr_chains < r->nr_chains - skip && st->nr_chains < n &&
	       (__u16)(gma_ring_chain(r, skip + st->nr_chains)->avail_idx - ring->used_idx) < n)
		st->nr_chains++;
	heads = calloc(st->nr_chains ? st->nr_chains : 1, sizeof(*heads));
	is_request = calloc(st->nr_chains ? st->nr_chains : 1, sizeof(*is_request));
	if (!heads || !is_request) {
		free(heads);
		free(is_request);
		return -ENOMEM;
	}
	for (__u32 i = 0; i < st->nr_chains; i++) {
		const struct gma_chain *c = gma_ring_chain(r, skip + i);

		heads[i] = c->head;
		/* a device-readable descriptor: a request, else a buffer posted for data */
		for (__u32 d = 0; d < c->nr_descs; d++)
			if (!(gma_chain_desc(c, d)->flags & VRING_DESC_F_WRITE))
				is_request[i] = true;
	}
	ring->heads = heads;
	ring->is_request = is_request;
	ring->nr_heads = st->nr_chains;
	ring->ts_ns = now_ns();
	return 0;
}

/*
 * The chains in flight at import, to the caller's on_attach (the first GMA_ATTACH_CHAINS_MAX),
 * each with what the decode alone could not know: the queue, its device and the time.
 */
static void report_attach(struct gma_tracer *t, const struct gma_queue_key *key,
			  const struct gma_queue_stats *qs, __u64 features,
			  const struct gma_queue_layout *l, const struct import_state *st)
{
	const struct gma_ring_callbacks *cb = &t->reader.model.cb;
	struct gma_attach_chains a = {
		.sz = sizeof(a),
		.vm_id = key->vm_id,
		.base = key->base,
		.queue = key->queue,
		.device_id = qs->device_id,
		.pid = st->pid,
	};

	if (!cb->on_attach)
		return;
	a.in_flight = (__u16)(st->ring.avail_idx - st->ring.used_idx);
	if (a.in_flight > l->num)
		a.in_flight = l->num;
	if (!a.in_flight)
		return;
	a.ts_ns = now_ns();
	a.anomalies = st->decoded ? st->decoded->anomalies : 0;
	a.nr_chains = st->nr_chains < GMA_ATTACH_CHAINS_MAX ? st->nr_chains : GMA_ATTACH_CHAINS_MAX;
	a.not_listed = a.in_flight - a.nr_chains;
	a.chain_sz = sizeof(struct gma_chain);
	a.chains = st->decoded && a.nr_chains ? gma_ring_chain(st->decoded, st->first) : NULL;
	for (__u32 i = 0; i < a.nr_chains; i++) {
		/* the decode's own chains, libgma's to complete */
		struct gma_chain *c = (struct gma_chain *)gma_attach_chain(&a, i);

		c->vm_id = a.vm_id;
		c->base = a.base;
		c->queue = a.queue;
		c->device_id = a.device_id;
		c->pid = a.pid;
		c->ts_ns = a.ts_ns;
		c->features = features;
	}
	cb->on_attach(t->reader.model.ctx, &a);
}

/* Device base of VM vm_id in its vm_devs entry, so vCPU exits look at its used rings. */
static int remember_vm_device(struct gma_tracer *t, __u64 vm_id, __u64 base)
{
	struct gma_tracer_vm_devs vd = {};

	bpf_map__lookup_elem(t->skel->maps.vm_devs, &vm_id, sizeof(vm_id), &vd, sizeof(vd), 0);
	for (__u32 i = 0; i < vd.n && i < GMA_TRACER_VM_DEVS_MAX; i++)
		if (vd.bases[i] == base)
			return 0;
	if (vd.n < GMA_TRACER_VM_DEVS_MAX)
		vd.bases[vd.n++] = base;
	return bpf_map__update_elem(t->skel->maps.vm_devs, &vm_id, sizeof(vm_id), &vd, sizeof(vd),
				    BPF_ANY);
}

int gma_tracer_add_queue(struct gma_tracer *t, __u64 vm_id, __u64 base, int queue,
			 const struct gma_queue_layout *layout, __u32 device_id)
{
	struct gma_tracer_dev_key key = { .vm_id = vm_id, .base = base };
	struct bpf_map *devs = t->skel->maps.devices;
	struct gma_tracer_virtio_dev dev = {};
	struct gma_queue_key qkey = { .vm_id = vm_id, .base = base };
	struct import_state st = {};
	bool have_ring = false;
	int err;

	if (!GMA_KEY_IS_PCI(base) && (base & (GMA_VIRTIO_MMIO_WINDOW - 1)))
		return -EINVAL;
	if (layout && queue < 0)
		return -EINVAL;
	if (queue >= GMA_TRACER_QUEUES_MAX)
		return -E2BIG;
	if (layout && (!layout->num || layout->num > GMA_QUEUE_NUM_MAX || !layout->desc))
		return -EINVAL;
	bpf_map__lookup_elem(devs, &key, sizeof(key), &dev, sizeof(dev), 0);
	if (device_id)
		dev.device_id = device_id;
	if (layout) {
		dev.q[queue] = (struct gma_tracer_vq_state){ .desc = layout->desc,
							     .driver = layout->driver,
							     .device = layout->device,
							     .num = layout->num,
							     .flags = GMA_QUEUE_READY |
								      GMA_QUEUE_FROM_USER };
		/* the ring as it is now: the kernel walks only what comes after */
		have_ring = !read_ring_state(t, vm_id, layout, &st);
		if (have_ring) {
			dev.q[queue].last_avail = st.ring.avail_idx;
			dev.q[queue].last_used = st.ring.used_idx;
			dev.q[queue].avail_known = dev.q[queue].used_known = 1;
		}
	}
	err = bpf_map__update_elem(devs, &key, sizeof(key), &dev, sizeof(dev), BPF_ANY);
	if (!err)
		err = remember_vm_device(t, vm_id, base);
	if (err)
		goto out;
	if (layout && GMA_KEY_IS_PCI(base)) {
		/* its notifies cannot be decoded: the BARs were not seen (bpf/ioeventfd.bpf.h) */
		__u64 bits = 0;

		bpf_map__lookup_elem(t->skel->maps.given_pci_queues, &vm_id, sizeof(vm_id), &bits,
				     sizeof(bits), 0);
		bits |= 1ULL << queue;
		err = bpf_map__update_elem(t->skel->maps.given_pci_queues, &vm_id, sizeof(vm_id),
					   &bits, sizeof(bits), BPF_ANY);
		if (err)
			goto out;
	}
	if (layout) {
		const struct gma_queue_key *mkey;
		const struct gma_queue_stats *qs;

		qkey.queue = queue;
		qm_add_queue(&t->reader.model, &qkey, layout, device_id,
			     have_ring ? &st.ring : NULL);
		/* the model's own key and device: what the completions will carry */
		for (size_t i = 0; have_ring && (qs = qm_queue_at(&t->reader.model, i, &mkey)); i++)
			if (!memcmp(mkey, &qkey, sizeof(qkey)))
				report_attach(t, mkey, qs, qm_queue_features(&t->reader.model, i),
					      layout, &st);
	}
out:
	free((void *)st.ring.heads);
	free((void *)st.ring.is_request);
	gma_ring_free(st.decoded);
	return err;
}

int gma_tracer_set_ecam(struct gma_tracer *t, __u64 vm_id, __u64 base, __u32 buses)
{
	struct gma_tracer_pci_vm pv = {};

	if (!pci_ecam_valid(base, buses))
		return -EINVAL;
	if (!vm_id) {
		t->skel->bss->ecam_default =
			(struct gma_tracer_pci_ecam){ .base = base, .buses = buses };
		return 0;
	}
	/* keep what the tracer learnt of the VM's 0xCF8 and host bridge */
	bpf_map__lookup_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv), 0);
	pv.ecam = (struct gma_tracer_pci_ecam){ .base = base, .buses = buses };
	return bpf_map__update_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv),
				    BPF_ANY);
}

/*
 * Whether the tracer saw the guest set up the BARs of function dk (read into known): it then
 * knows more than a snapshot (vectors). One the guest only enumerated since the trace began
 * (a vendor id read: lspci) is not.
 */
static bool pci_function_set_up(struct gma_tracer *t, const struct gma_tracer_dev_key *dk,
				struct gma_tracer_pci_fn *known)
{
	if (bpf_map__lookup_elem(t->skel->maps.pci_fns, dk, sizeof(*dk), known, sizeof(*known), 0))
		return false;
	for (__u32 i = 0; i < GMA_TRACER_PCI_BARS; i++)
		if (known->bar_registered[i])
			return true;
	return false;
}

/* The VM's PCI state, unless the tracer has one already: the default ECAM window. */
static int add_pci_vm(struct gma_tracer *t, __u64 vm_id)
{
	struct gma_tracer_pci_vm pv = {};
	int err;

	if (!bpf_map__lookup_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv), 0))
		return 0;
	pv = (struct gma_tracer_pci_vm){ .ecam = t->skel->bss->ecam_default };
	err = bpf_map__update_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv),
				   BPF_NOEXIST);
	return err == -EEXIST ? 0 : err; /* the tracer made one in between: it stands */
}

/* Function f's VirtIO device (its type and version), in the devices the exits look at. */
static int add_pci_device(struct gma_tracer *t, const struct gma_tracer_dev_key *dk,
			  const struct gma_tracer_pci_fn *f)
{
	struct gma_tracer_virtio_dev dev = {};
	__u32 type = pci_virtio_type(f);
	int err;

	bpf_map__lookup_elem(t->skel->maps.devices, dk, sizeof(*dk), &dev, sizeof(dev), 0);
	if (dev.device_id != type || !dev.version) {
		dev.device_id = type;
		dev.version = pci_virtio_version(f);
	}
	err = bpf_map__update_elem(t->skel->maps.devices, dk, sizeof(*dk), &dev, sizeof(dev),
				   BPF_ANY);
	return err ? err : remember_vm_device(t, dk->vm_id, dk->base);
}

/* Function f, its BARs marked set up as their addresses say, then the BARs themselves. */
static int add_pci_fn_and_bars(struct gma_tracer *t, const struct gma_tracer_dev_key *dk,
			       struct gma_tracer_pci_fn *f)
{
	struct gma_tracer_pci_bar_key bk = { .vm_id = dk->vm_id };
	struct gma_tracer_pci_bar_val bv = { .base = dk->base };
	int err;

	for (__u32 i = 0; i < GMA_TRACER_PCI_BARS; i++) {
		if (f->bar_addr[i] && pci_bar_size(f, i)) {
			f->bar_registered[i] = f->bar_addr[i];
			f->bar_registered_io[i] = f->bar_io[i];
		}
	}
	err = bpf_map__update_elem(t->skel->maps.pci_fns, dk, sizeof(*dk), f, sizeof(*f), BPF_ANY);
	for (__u32 i = 0; !err && i < GMA_TRACER_PCI_BARS; i++) {
		if (!f->bar_registered[i])
			continue;
		bk.addr = f->bar_addr[i];
		bk.io = f->bar_io[i];
		bv.size = pci_bar_size(f, i);
		bv.bar = i;
		err = bpf_map__update_elem(t->skel->maps.pci_bars, &bk, sizeof(bk), &bv, sizeof(bv),
					   BPF_ANY);
	}
	return err;
}

/*
 * The maps the transport fills when it sees a function set up (pci_config() in
 * bpf/virtio_pci.bpf.h), filled from a snapshot: the VM's PCI state, the device, the
 * function, and last its BARs, through which the transport finds the rest.
 */
int gma_tracer_add_pci_function(struct gma_tracer *t, __u64 vm_id, __u64 key,
				const struct gma_pci_function *fn)
{
	struct gma_tracer_dev_key dk = { .vm_id = vm_id, .base = key };
	struct gma_tracer_pci_fn *f, *known;
	int err;

	_Static_assert(GMA_PCI_NOTIFY_QUEUES == GMA_TRACER_QUEUES_MAX,
		       "a notify offset per queue followed");
	/* every field of fn is needed: a struct that does not hold them all is refused */
	if (!t || !vm_id || !fn || !GMA_KEY_IS_PCI(key) || key >> 16 != GMA_PCI_KEY >> 16 ||
	    !OPTS_HAS(fn, queue_notify_off) || !OPTS_VALID(fn, gma_pci_function))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	known = malloc(sizeof(*known)); /* both too large for the stack */
	if (!f || !known)
		err = -ENOMEM;
	else if (!pci_fn_from_snapshot(f, fn->config, fn->bar_size, fn->notify_off_known,
				       fn->queue_notify_off))
		err = -EINVAL;
	else if (!pci_is_virtio(f))
		err = -ENODEV;
	else if (pci_function_set_up(t, &dk, known))
		err = -EEXIST;
	else
		err = add_pci_vm(t, vm_id);
	if (!err)
		err = add_pci_device(t, &dk, f);
	if (!err)
		err = add_pci_fn_and_bars(t, &dk, f);
	free(known);
	free(f);
	return err;
}

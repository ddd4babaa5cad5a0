// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The evidence behind each queue's health verdict that only the kernel's maps hold: whether
 * the guest runs (its vCPUs' exits), whether a PCI function's notifies can be seen at all,
 * and the interrupts the host injected for the queue (a virtio-mmio device's line, learnt
 * from its driver's InterruptStatus reads; a virtio-pci queue's MSI-X vector and message).
 * The verdicts themselves are queue_health.c's, from the model and this evidence.
 */
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>

#include "gma_internal.h"
#include "tracer_internal.h"
#include "virtio_pci_regs.h" /* pci_msix_ctrl, pci_notify_observable */

/*
 * The line of the virtio-mmio device at dk while its driver's reads left several candidates:
 * the one left once the lines other devices of its VM are known to raise are dropped (each
 * virtio-mmio window has a line of its own in QEMU microvm, Firecracker and the demo VMM). A
 * device whose interrupts always came with another's (both completed between two looks of
 * its driver) is told apart only this way. -1 when none or several are left.
 */
static int line_by_elimination(struct gma_tracer *t, const struct gma_tracer_dev_key *dk,
			       __u64 candidates)
{
	struct bpf_map *map = t->skel->maps.dev_irqs;
	struct gma_tracer_dev_key k, next;
	struct gma_tracer_dev_irq other;
	const void *prev = NULL;
	unsigned int n = 0;

	while (candidates && n++ < bpf_map__max_entries(map) &&
	       !bpf_map__get_next_key(map, prev, &next, sizeof(next))) {
		k = next;
		prev = &k;
		if (k.vm_id != dk->vm_id || k.base == dk->base ||
		    bpf_map__lookup_elem(map, &k, sizeof(k), &other, sizeof(other), 0))
			continue;
		if (other.gsi >= 0 && other.gsi < GMA_TRACER_IRQ_GSI_MAX)
			candidates &= ~(1ULL << other.gsi);
	}
	if (!candidates || (candidates & (candidates - 1)))
		return -1;
	return __builtin_ctzll(candidates);
}

/*
 * A virtio-pci queue's MSI-X evidence: its vector (pci_fn), the message the guest wrote into
 * that vector's table entry (msix_entries), and that message's injections (msi_irqs, looked
 * up as x86 traces it: the high address half only in KVM's x2APIC format). A vector the
 * driver gave as VIRTIO_MSI_NO_VECTOR, or a masked one, is said as such: no interrupt is due.
 * MSI-X disabled (INTx), the vector or its message not seen: GMA_IRQ_UNMAPPED.
 */
static void msix_evidence(struct gma_tracer *t, const struct gma_queue_key *key,
			  const struct gma_tracer_pci_fn *f, struct gma_queue_health *h)
{
	struct gma_tracer_msix_msg_key mk = { .vm_id = key->vm_id, .base = key->base };
	struct gma_tracer_msi_irq_key ik = { .vm_id = key->vm_id };
	struct gma_tracer_msix_msg m;
	struct gma_tracer_msi_irq irq;
	__u16 ctrl;

	h->irq = GMA_IRQ_UNMAPPED;
	if (!f || key->queue >= GMA_TRACER_QUEUES_MAX)
		return;
	ctrl = pci_msix_ctrl(f);
	if (!(ctrl & PCI_MSIX_FLAGS_ENABLE))
		return; /* INTx: its line is not learnt for PCI */
	if (f->vector_known & (1ULL << key->queue))
		h->msix_vector = f->queue_vector[key->queue];
	else if (f->vectors_reset) /* none set since the reset: Linux's callback-less queues */
		h->msix_vector = VIRTIO_MSI_NO_VECTOR;
	else
		return; /* set before the trace */
	if (h->msix_vector == VIRTIO_MSI_NO_VECTOR) {
		h->irq = GMA_IRQ_NO_VECTOR;
		return;
	}
	mk.vector = h->msix_vector;
	/*
	 * Its message, and its Vector Control: an entry resets masked, and a driver writes the
	 * control word whenever it (un)masks, so one never written is not known to be unmasked.
	 */
	if (bpf_map__lookup_elem(t->skel->maps.msix_entries, &mk, sizeof(mk), &m, sizeof(m), 0) ||
	    (m.written & (GMA_TRACER_MSIX_ENTRY_ADDR_LO | GMA_TRACER_MSIX_ENTRY_DATA |
			  GMA_TRACER_MSIX_ENTRY_CTRL)) !=
		    (GMA_TRACER_MSIX_ENTRY_ADDR_LO | GMA_TRACER_MSIX_ENTRY_DATA |
		     GMA_TRACER_MSIX_ENTRY_CTRL))
		return; /* not written while traced */
	h->msi_address = (__u64)m.addr_hi << 32 | m.addr_lo;
	h->msi_data = m.data;
	h->irq = (ctrl & PCI_MSIX_FLAGS_MASKALL) || (m.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) ?
			 GMA_IRQ_MASKED :
			 GMA_IRQ_OBSERVED;
	ik.data = m.data;
	ik.address = h->msi_address;
	if (bpf_map__lookup_elem(t->skel->maps.msi_irqs, &ik, sizeof(ik), &irq, sizeof(irq), 0)) {
		ik.address = m.addr_lo;
		if (bpf_map__lookup_elem(t->skel->maps.msi_irqs, &ik, sizeof(ik), &irq, sizeof(irq),
					 0))
			return; /* none injected yet */
	}
	h->interrupts = irq.count;
	h->last_irq_ns = irq.last_ns;
}

/*
 * A queue's evidence from the kernel's maps: when its VM's vCPUs last exited (vm_devs), and
 * from interrupts.bpf.h the line its virtio-mmio device raises, once learnt, and that line's
 * injections, or a virtio-pci queue's MSI-X vector, message and injections (msix_evidence).
 */
static void irq_evidence(void *ctx, const struct gma_queue_key *key, struct gma_queue_health *h)
{
	struct gma_tracer *t = ctx;
	struct gma_tracer_dev_key dk = { .vm_id = key->vm_id, .base = key->base };
	struct gma_tracer_vm_devs vd;
	struct gma_tracer_dev_irq d;
	struct gma_tracer_vm_irqs *v;

	/* whether the guest runs: its vCPUs' exits, as the periodic look at them records */
	if (!bpf_map__lookup_elem(t->skel->maps.vm_devs, &key->vm_id, sizeof(key->vm_id), &vd,
				  sizeof(vd), 0))
		h->guest_ran_ns = vd.last_scan_ns;
	/*
	 * A PCI function's notifies are decoded only once the transport knows its notify
	 * capability, BAR and the queue's notify offset (modern: Intel's fast path has only the
	 * address) or its I/O BAR (legacy: QUEUE_NOTIFY in BAR0), from the configuration
	 * accesses it saw or a snapshot (gma_tracer_add_pci_function()); one imported late with
	 * only its queues (--queue) has neither: its driver's notifies are unseen, not missing.
	 */
	if (GMA_KEY_IS_PCI(key->base)) {
		struct gma_tracer_pci_fn *f = malloc(sizeof(*f));

		if (f && bpf_map__lookup_elem(t->skel->maps.pci_fns, &dk, sizeof(dk), f, sizeof(*f),
					      0)) {
			free(f);
			f = NULL;
		}
		h->notify_observable = f && (pci_notify_observable(f, key->queue, t->fast_mmio) ||
					     (f->bar_registered[0] && f->bar_registered_io[0]));
		if (t->msi_traced)
			msix_evidence(t, key, f, h);
		free(f);
		return;
	}
	if (!t->irq_traced)
		return; /* GMA_IRQ_NOT_OBSERVABLE */
	h->irq = GMA_IRQ_UNMAPPED;
	if (bpf_map__lookup_elem(t->skel->maps.dev_irqs, &dk, sizeof(dk), &d, sizeof(d), 0))
		return;
	if (d.gsi < 0)
		d.gsi = line_by_elimination(t, &dk, d.candidates);
	if (d.gsi < 0 || d.gsi >= GMA_TRACER_IRQ_GSI_MAX)
		return;
	v = malloc(sizeof(*v)); /* 1 KiB: off the stack */
	if (!v)
		return;
	if (!bpf_map__lookup_elem(t->skel->maps.vm_irqs, &key->vm_id, sizeof(key->vm_id), v,
				  sizeof(*v), 0)) {
		h->irq = GMA_IRQ_OBSERVED;
		h->irq_line = d.gsi;
		h->interrupts = v->count[d.gsi];
		h->last_irq_ns = v->last_ns[d.gsi];
	}
	free(v);
}

int gma_tracer_set_device_view(struct gma_tracer *t, __u64 vm_id, __u64 base, __u32 queue,
			       const struct gma_device_view *view)
{
	struct gma_queue_key key = { .vm_id = vm_id, .base = base, .queue = queue };

	if (!t || !view || !OPTS_VALID(view, gma_device_view))
		return -EINVAL;
	return qm_set_device_view(&t->reader.model, &key, view, now_ns());
}

int gma_tracer_queue_health(struct gma_tracer *t, __u64 window_ns, struct gma_queue_health **health,
			    size_t *n, size_t elem_sz)
{
	return qm_health(&t->reader.model, now_ns(), window_ns, irq_evidence, t, health, n,
			 elem_sz);
}

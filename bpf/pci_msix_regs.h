/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * MSI-X (PCI 3.0 6.8.2) as the guest programs it, and which vector each VirtIO queue uses:
 * the link from a queue to the interrupts the host kernel injects for it (interrupts.bpf.h,
 * and libgma's health verdicts). Learnt from the guest's accesses, like the rest of PCI:
 *   - the capability (PCI_CAP_ID_MSIX): the table's BAR, offset and size, Message Control's
 *     enable and mask-all, as the guest reads and writes it in configuration space;
 *   - the table entries as the guest writes them into the BAR (pci_msix_table_decode);
 *   - each queue's vector and the configuration change vector (VirtIO 1.x 4.1.5.1.2), written
 *     through the modern common configuration or the legacy vector registers: a vector is what
 *     the driver wrote, or what it read back, as a device that cannot give the vector answers
 *     VIRTIO_MSI_NO_VECTOR, and drivers check.
 *
 * Offsets are the spec's, fixed, never CO-RE: the kernel's uapi <linux/pci_regs.h>. Pure
 * code, compiled into the tracer (BPF) and userspace (libgma, the unit test, the fuzz target).
 */
#ifndef GMA_PCI_MSIX_REGS_H
#define GMA_PCI_MSIX_REGS_H

#include "compiler.h"
#include <gma/record.h>
#include "tracer_maps.h"
#include "pci_config_regs.h" /* the shadow's fields */

#define VIRTIO_MSI_NO_VECTOR 0xffff /* VirtIO 1.x 4.1.5.1.2: no vector, or none could be given */

/* The MSI-X capability's Message Control as the guest last read or wrote it, 0: none. */
static __always_inline __u16 pci_msix_ctrl(const struct gma_tracer_pci_fn *f)
{
	return f->msix_cap ? pci_cfg_u16(f, f->msix_cap + PCI_MSIX_FLAGS) : 0;
}

/* Whether the function sends MSI-X messages (else INTx), and whether all are masked. */
static __always_inline bool pci_msix_enabled(const struct gma_tracer_pci_fn *f)
{
	return pci_msix_ctrl(f) & PCI_MSIX_FLAGS_ENABLE;
}

static __always_inline bool pci_msix_masked(const struct gma_tracer_pci_fn *f)
{
	return pci_msix_ctrl(f) & PCI_MSIX_FLAGS_MASKALL;
}

/*
 * The MSI-X table from the capability at `at`: its BAR (BIR) and offset, and its size from
 * Message Control's table size field (N - 1). A BIR of 6 or 7 is reserved: no table.
 */
static __always_inline void pci_msix_cap(struct gma_tracer_pci_fn *f, __u32 at)
{
	__u32 table = pci_cfg_u32(f, at + PCI_MSIX_TABLE);

	f->msix_cap = at;
	f->msix_table.bar = table & PCI_MSIX_TABLE_BIR;
	f->msix_table.off = table & PCI_MSIX_TABLE_OFFSET;
	f->msix_table.len = ((pci_cfg_u16(f, at + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1) *
			    PCI_MSIX_ENTRY_SIZE;
	f->msix_table.valid = f->msix_table.bar < GMA_TRACER_PCI_BARS;
}

/*
 * A memory access of len bytes at offset off of BAR bar: whether it is a word of the MSI-X
 * table, and which (*vector, *word: PCI_MSIX_ENTRY_*). Only aligned 32-bit accesses are
 * decoded, as Linux makes them (a 64-bit write of the address is not followed).
 */
static __always_inline bool pci_msix_table_decode(const struct gma_tracer_pci_fn *f, __u32 bar,
						  __u64 off, __u32 len, __u32 *vector, __u32 *word)
{
	__u64 rel;

	if (!f->msix_table.valid || f->msix_table.bar != bar || len != 4 || off < f->msix_table.off)
		return false;
	rel = off - f->msix_table.off;
	if (rel >= f->msix_table.len || (rel & 3))
		return false;
	*vector = rel / PCI_MSIX_ENTRY_SIZE;
	*word = rel % PCI_MSIX_ENTRY_SIZE;
	return *vector < GMA_TRACER_MSIX_VECTORS_MAX;
}

/* A guest write of word (PCI_MSIX_ENTRY_*) of a table entry. */
static __always_inline void pci_msix_entry_write(struct gma_tracer_msix_msg *e, __u32 word,
						 __u32 val)
{
	switch (word) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		e->addr_lo = val;
		e->written |= GMA_TRACER_MSIX_ENTRY_ADDR_LO;
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		e->addr_hi = val;
		e->written |= GMA_TRACER_MSIX_ENTRY_ADDR_HI;
		break;
	case PCI_MSIX_ENTRY_DATA:
		e->data = val;
		e->written |= GMA_TRACER_MSIX_ENTRY_DATA;
		break;
	case PCI_MSIX_ENTRY_VECTOR_CTRL:
		e->ctrl = val;
		e->written |= GMA_TRACER_MSIX_ENTRY_CTRL;
		break;
	}
}

/*
 * Which vector each queue and the configuration change use (VirtIO 1.x 4.1.5.1.2): the
 * driver writes it through the modern common configuration (virtio_pci_modern_regs.h) or the
 * legacy vector registers (virtio_pci_legacy_regs.h), then reads it back.
 *
 * A device reset gives every vector back: each reads VIRTIO_MSI_NO_VECTOR until the driver
 * sets it (QEMU resets them so, and Linux relies on it: it never writes NO_VECTOR for a
 * queue without a callback, it writes nothing).
 */
static __always_inline void pci_vectors_forget(struct gma_tracer_pci_fn *f)
{
	f->vector_known = 0;
	f->config_vector_known = 0;
	f->vectors_reset = 1;
}

/* Queue qi's vector, as the driver wrote it or read it back. */
static __always_inline void pci_queue_vector(struct gma_tracer_pci_fn *f, __u32 qi, __u32 val)
{
	f->queue_vector[qi & (GMA_TRACER_QUEUES_MAX - 1)] = val & 0xffff;
	f->vector_known |= 1ull << (qi & (GMA_TRACER_QUEUES_MAX - 1));
}

#endif /* GMA_PCI_MSIX_REGS_H */

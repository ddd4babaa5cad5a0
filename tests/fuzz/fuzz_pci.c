// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The virtio-pci transport's pure rules (bpf/virtio_pci_regs.h, the code the tracer runs in
 * BPF) over random access sequences: configuration accesses, the q35 host bridge's PCIEXBAR,
 * ECAM decodes of any address in or out of any window, common configuration and legacy
 * registers, MSI-X table accesses. Nothing may reach outside the models, a decoded ECAM access must be one the
 * window really holds, and a learnt window must be one the tracer can follow.
 *
 * Input: 16 bytes per access: u8 op, u8 width, u16 offset, u32 value, u64 address (LE).
 */
#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gma/record.h>
#include "tracer_maps.h"
#include "virtio_pci_regs.h"

static void check_ecam(const struct gma_tracer_pci_ecam *w, __u64 gpa, __u32 width)
{
	__u64 key = 0, bus, want;
	__u32 reg = 0;

	if (!pci_ecam_decode(w, gpa, width, &key, &reg))
		return;
	if (!pci_ecam_valid(w->base, w->buses) || !GMA_KEY_IS_PCI(key))
		abort();
	if (reg + width > GMA_TRACER_PCI_CFG_SIZE || reg % width)
		abort(); /* within the shadow, never straddling registers */
	bus = (key >> 8) & 0xff;
	if (bus >= w->buses)
		abort();
	want = w->base + (bus << PCI_ECAM_BUS_SHIFT) + ((key & 0xff) << 12) + reg;
	if (want != gpa)
		abort(); /* the (function, register) the address really is */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gma_tracer_pci_fn f;
	static struct gma_tracer_virtio_dev dev;
	struct gma_tracer_pci_ecam w;
	struct gma_tracer_pci_vm pv;
	__u32 q;

	memset(&f, 0, sizeof(f));
	memset(&dev, 0, sizeof(dev));
	memset(&pv, 0, sizeof(pv));
	for (size_t i = 0; i + 16 <= size; i += 16) {
		__u32 op = data[i], width = data[i + 1], off, val;
		bool write = op & 0x80;
		__u64 gpa;
		enum mmio_action act;
		int nq;

		off = data[i + 2] | data[i + 3] << 8;
		memcpy(&val, data + i + 4, 4);
		memcpy(&gpa, data + i + 8, 8);
		q = ~0u;
		switch (op & 7) {
		case 0: /* a configuration access as 0xCFC or ECAM hands it over */
			pci_config_access(&f, off & 0xff, width, val, write);
			for (__u32 b = 0; b < GMA_TRACER_PCI_BARS; b++)
				pci_bar_size(&f, b);
			if ((f.common.valid && f.common.bar >= GMA_TRACER_PCI_BARS) ||
			    (f.notify.valid && f.notify.bar >= GMA_TRACER_PCI_BARS) ||
			    (f.msix_table.valid && f.msix_table.bar >= GMA_TRACER_PCI_BARS) ||
			    f.msix_table.len > GMA_TRACER_MSIX_VECTORS_MAX * PCI_MSIX_ENTRY_SIZE)
				abort();
			pci_virtio_type(&f);
			break;
		case 1: /* the host bridge */
			pci_host_bridge_access(&pv, off & 0xff, width, val, write);
			if (pv.ecam.buses && !pci_ecam_valid(pv.ecam.base, pv.ecam.buses))
				abort();
			break;
		case 2: /* an address near the window */
			check_ecam(&pv.ecam, pv.ecam.base + (gpa & 0x1fffffff) - (off & 0xff),
				   width);
			break;
		case 3: /* any address, any window */
			check_ecam(&pv.ecam, gpa, width);
			w.base = (gpa & ~0xfffffULL) - ((__u64)(val >> 16) << 20);
			w.buses = val & 0x1ff;
			check_ecam(&w, gpa, width);
			break;
		case 4:
			act = virtio_pci_common_access(&f, &dev, off & 0x3f, width & 7, val, write,
						       &q);
			if (act == MMIO_QUEUE_READY &&
			    (q >= GMA_TRACER_QUEUES_MAX || !(dev.q[q].flags & GMA_QUEUE_READY)))
				abort();
			break;
		case 5:
			virtio_pci_legacy_msix_access(&f, &dev, off & 0x1f, width & 7, val, write);
			act = virtio_pci_legacy_access(&dev, off & 0x1f, val, write, &q);
			if (act == MMIO_QUEUE_READY && q >= GMA_TRACER_QUEUES_MAX)
				abort();
			break;
		case 6: { /* an MSI-X table access: a vector the table holds, one of its words */
			struct gma_tracer_msix_msg e = {};
			__u32 v, word;

			if (pci_msix_table_decode(&f, width & 7, gpa, val & 7, &v, &word)) {
				if (v >= GMA_TRACER_MSIX_VECTORS_MAX ||
				    (__u64)v * PCI_MSIX_ENTRY_SIZE >= f.msix_table.len ||
				    f.msix_table.off + (__u64)v * PCI_MSIX_ENTRY_SIZE + word != gpa)
					abort();
				pci_msix_entry_write(&e, word, val);
			}
			break;
		}
		default:
			nq = virtio_pci_notify_queue(&f, gpa);
			if (nq < -1 || nq >= GMA_TRACER_QUEUES_MAX)
				abort();
			break;
		}
	}
	return 0;
}

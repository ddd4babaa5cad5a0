/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-pci transport of the demo VMM: virtio devices as functions on PCI bus 0 (pci.h),
 * either modern (device ID 0x1040 + type, revision 1, the common, notify, ISR and device
 * structures in one memory BAR, found through vendor-specific capabilities) or legacy
 * (transitional device ID 0x1000-0x103f, revision 0, the legacy registers in I/O BAR 0).
 * Devices are in virtio-dev.c. Every device but the hostile one has MSI-X (BAR 1), used
 * with --irq: each queue's interrupt is its vector's message, sent with KVM_SIGNAL_MSI.
 */
#ifndef GMA_DEMO_VIRTIO_PCI_H
#define GMA_DEMO_VIRTIO_PCI_H

#include <stdbool.h>

#include "pci.h"
#include "virtio-dev.h"

/* Creates a device of model @m as function 0 of device @slot on bus 0, and logs it. */
int virtio_pci_add(struct pci_host *p, struct virtio_host *h, unsigned int slot,
		   enum virtio_model m, bool legacy);

#endif /* GMA_DEMO_VIRTIO_PCI_H */

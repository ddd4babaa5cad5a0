/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtio-pci transport's rules, pure code over the guest's accesses, compiled into the
 * tracer (virtio_pci.bpf.h) and into userspace (libgma's loader, the unit test, the fuzz
 * target), who include this one header. Each layer is its own header, including the ones
 * below it:
 *   transport_regs.h          what every VirtIO transport shares (enum mmio_action, the
 *                             device status and features, a queue made ready)
 *   pci_config_regs.h         PCI configuration space: 0xCF8/0xCFC and ECAM, the q35 host
 *                             bridge's PCIEXBAR, the shadow of a function, its BARs
 *   pci_msix_regs.h           the MSI-X capability and table, and each queue's vector
 *   virtio_pci_modern_regs.h  a VirtIO function (IDs, capabilities, a configuration access,
 *                             a snapshot) and its modern interface (common configuration,
 *                             notify area)
 *   virtio_pci_legacy_regs.h  the legacy interface: the I/O BAR's registers
 */
#ifndef GMA_VIRTIO_PCI_REGS_H
#define GMA_VIRTIO_PCI_REGS_H

#include "transport_regs.h"
#include "pci_config_regs.h"
#include "pci_msix_regs.h"
#include "virtio_pci_modern_regs.h"
#include "virtio_pci_legacy_regs.h"

#endif /* GMA_VIRTIO_PCI_REGS_H */

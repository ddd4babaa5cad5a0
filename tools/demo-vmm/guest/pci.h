/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The demo guest's PCI code (pci.c): what firmware and an OS do before a driver runs. It
 * finds the functions of bus 0 through configuration mechanism #1 (0xCF8/0xCFC) or, as the
 * VMM says (DEMO_PIO_PCI_CONFIG), through ECAM: after programming a q35 host bridge's
 * PCIEXBAR as firmware does, or at a fixed base. Then it sizes their BARs, places them (memory from DEMO_PCI_MEM_BASE, I/O from DEMO_PCI_IO_BASE) and
 * enables decoding and bus mastering. Offsets from the kernel's uapi <linux/pci_regs.h>.
 */
#ifndef GMA_DEMO_GUEST_PCI_H
#define GMA_DEMO_GUEST_PCI_H

#include <stdint.h>

#define PCI_GUEST_BARS 6

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t revision;
	uint16_t subsys;
	uint32_t bar[PCI_GUEST_BARS]; /* where the BAR was placed (port or address), 0: none */
	uint32_t bar_size[PCI_GUEST_BARS];
	uint8_t bar_io; /* bit i: BAR i is an I/O BAR */
};

/* Enumerates bus 0 and sets up every function found; returns how many there are. */
unsigned int pci_init(void);
/* Function 0 of device @dev on bus 0, or NULL. */
const struct pci_dev *pci_find(unsigned int dev);

uint8_t pci_read8(const struct pci_dev *p, uint8_t off);
uint16_t pci_read16(const struct pci_dev *p, uint8_t off);
uint32_t pci_read32(const struct pci_dev *p, uint8_t off);
void pci_write16(const struct pci_dev *p, uint8_t off, uint16_t v);
void pci_write32(const struct pci_dev *p, uint8_t off, uint32_t v);
/* The first capability (0: none) and the one after @off. */
uint8_t pci_cap_first(const struct pci_dev *p);
uint8_t pci_cap_next(const struct pci_dev *p, uint8_t off);

#endif /* GMA_DEMO_GUEST_PCI_H */

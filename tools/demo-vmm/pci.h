/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI bus 0 of the demo VMM: a host bridge answering configuration mechanism #1 (the address
 * at port 0xCF8, the data at 0xCFC-0xCFF) and/or an ECAM window (at a fixed base, or where the
 * q35 host bridge's PCIEXBAR puts it: demo-abi.h, DEMO_PCI_CONFIG_*), type 0 functions with a 256-byte config space,
 * BARs that the guest sizes and places (a BAR is decoded only while the command register
 * enables its space) and a capability list. Register offsets from <linux/pci_regs.h>.
 */
#ifndef GMA_DEMO_PCI_H
#define GMA_DEMO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define PCI_DEMO_DEVS 32
#define PCI_DEMO_BARS 6

struct pci_host;

struct pci_bar {
	uint64_t size; /* a power of 2; 0: no BAR here (and the upper half of a 64-bit one) */
	bool io, mem64, prefetch;
	bus_handler fn; /* gets offsets into the BAR */
	void *opaque;
	uint64_t mapped; /* where it is decoded now, 0: not decoded */
};

struct pci_func {
	struct pci_host *host;
	uint8_t dev, fn;
	char bdf[16]; /* "0000:00:DD.F" */
	uint8_t cfg[256];
	uint8_t wmask[256]; /* bits the guest may write */
	uint8_t last_cap; /* offset of the last capability, 0: none yet */
	uint8_t cap_end; /* where the next capability goes */
	struct pci_bar bars[PCI_DEMO_BARS];
	/*
	 * Called before a config read copies out [reg, reg + len), and after a config write
	 * stored it: registers whose value is not just the stored bytes.
	 */
	void (*cfg_hook)(struct pci_func *f, uint32_t reg, uint32_t len, bool is_write);
	/* What the guest did to this function, for the log. */
	uint64_t cfg_reads, cfg_writes, bar_sizings, cap_reads;
};

struct pci_host {
	struct bus *pio, *mmio;
	uint32_t config; /* DEMO_PCI_CONFIG_* */
	uint32_t addr; /* CONFIG_ADDRESS, as last written to 0xCF8 */
	struct pci_func *devs[PCI_DEMO_DEVS]; /* function 0 of each device */
	struct pci_func bridge;
	uint64_t ecam_base; /* the ECAM window on @mmio, ecam_buses 0: none */
	uint32_t ecam_buses;
	uint64_t cfg_reads, cfg_writes; /* through 0xCFC */
	uint64_t ecam_reads, ecam_writes;
};

/*
 * Sets up configuration access as @config (DEMO_PCI_CONFIG_*) says, on @pio (0xCF8/0xCFC)
 * and @mmio (ECAM), and the host bridge as 00.0; BARs go on @mmio/@pio.
 */
int pci_host_init(struct pci_host *p, struct bus *pio, struct bus *mmio, uint32_t config);
/* A function with these IDs (class: base << 16 | sub << 8 | prog-if), its command register 0. */
void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device, uint8_t revision,
		   uint32_t class, uint16_t subsys_vendor, uint16_t subsys);
/* Declares BAR @i (a 64-bit BAR takes @i and @i + 1); @size a power of 2, at least 16. */
void pci_func_set_bar(struct pci_func *f, unsigned int i, uint64_t size, bool io, bool mem64,
		      bool prefetch, bus_handler fn, void *opaque);
/* Appends capability @cap of @len bytes (its next pointer is set here); returns its offset. */
uint8_t pci_func_add_cap(struct pci_func *f, const void *cap, uint8_t len);
/* Puts @f at device @dev of bus 0 (function 0) and logs it. */
int pci_host_attach(struct pci_host *p, struct pci_func *f, unsigned int dev);
/* The address BAR @i is programmed with, decoded or not (0: never programmed). */
uint64_t pci_bar_addr(const struct pci_func *f, unsigned int i);
/* JSON array of the implemented BARs as programmed: [{"bar":N,"type":...,"addr":N,...}] */
int pci_bars_json(const struct pci_func *f, char *out, size_t size);

#endif /* GMA_DEMO_PCI_H */

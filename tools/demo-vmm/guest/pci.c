// SPDX-License-Identifier: GPL-2.0
/* The demo guest's PCI enumeration and BAR placement; see pci.h. */
#include <stdbool.h>

#include <linux/pci_regs.h>

#include "demo-abi.h"
#include "lib.h"
#include "pci.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define MAX_FUNCS 16

/* The q35 host bridge: Intel's MCH, and its PCIEXBAR register (64-bit, bit 0 enables). */
#define Q35_HOST_ID 0x29c08086u
#define Q35_PCIEXBAR 0x60
#define Q35_PCIEXBAR_EN 1u

static struct pci_dev funcs[MAX_FUNCS];
static unsigned int nr_funcs;
static uint32_t mem_next = DEMO_PCI_MEM_BASE, io_next = DEMO_PCI_IO_BASE;
/* Where ECAM is, once known: every access goes there; 0: through 0xCF8/0xCFC. */
static uintptr_t ecam;

static void select_reg(const struct pci_dev *p, uint8_t off)
{
	outl(CONFIG_ADDRESS, 0x80000000u | (uint32_t)p->bus << 16 | (uint32_t)p->dev << 11 |
				     (uint32_t)p->fn << 8 | (off & 0xfc));
}

/* A register's address in the ECAM window: bus << 20 | dev << 15 | fn << 12 | off. */
static uintptr_t ecam_reg(const struct pci_dev *p, uint8_t off)
{
	return ecam +
	       ((uintptr_t)p->bus << 20 | (uintptr_t)p->dev << 15 | (uintptr_t)p->fn << 12 | off);
}

uint8_t pci_read8(const struct pci_dev *p, uint8_t off)
{
	if (ecam)
		return mmio_read8(ecam_reg(p, off));
	select_reg(p, off);
	return inb(CONFIG_DATA + (off & 3));
}

uint16_t pci_read16(const struct pci_dev *p, uint8_t off)
{
	if (ecam)
		return mmio_read16(ecam_reg(p, off & ~1));
	select_reg(p, off);
	return inw(CONFIG_DATA + (off & 2));
}

uint32_t pci_read32(const struct pci_dev *p, uint8_t off)
{
	if (ecam)
		return mmio_read32(ecam_reg(p, off & ~3));
	select_reg(p, off);
	return inl(CONFIG_DATA);
}

void pci_write16(const struct pci_dev *p, uint8_t off, uint16_t v)
{
	if (ecam) {
		mmio_write16(ecam_reg(p, off & ~1), v);
		return;
	}
	select_reg(p, off);
	outw(CONFIG_DATA + (off & 2), v);
}

void pci_write32(const struct pci_dev *p, uint8_t off, uint32_t v)
{
	if (ecam) {
		mmio_write32(ecam_reg(p, off & ~3), v);
		return;
	}
	select_reg(p, off);
	outl(CONFIG_DATA, v);
}

/*
 * As firmware does on a q35 machine: the host bridge's ECAM window programmed through
 * 0xCF8/0xCFC (the upper half first, then the base with the enable bit: 256 buses), then
 * every configuration access through it.
 */
static void q35_ecam(void)
{
	const struct pci_dev host = { .bus = 0, .dev = 0, .fn = 0 };

	if (pci_read32(&host, PCI_VENDOR_ID) != Q35_HOST_ID)
		panic("pci: 00.0 is not a q35 host bridge: no PCIEXBAR");
	pci_write32(&host, Q35_PCIEXBAR + 4, 0);
	pci_write32(&host, Q35_PCIEXBAR, DEMO_ECAM_Q35_BASE | Q35_PCIEXBAR_EN);
	ecam = DEMO_ECAM_Q35_BASE;
}

uint8_t pci_cap_first(const struct pci_dev *p)
{
	if (!(pci_read16(p, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	return pci_read8(p, PCI_CAPABILITY_LIST) & ~3;
}

uint8_t pci_cap_next(const struct pci_dev *p, uint8_t off)
{
	return pci_read8(p, off + PCI_CAP_LIST_NEXT) & ~3;
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Sizes each BAR (all-ones written, the mask read back, the old value restored) with
 * decoding off, gives it an address aligned to its size, then turns decoding on.
 */
static void setup_bars(struct pci_dev *p)
{
	uint16_t cmd = pci_read16(p, PCI_COMMAND);
	bool io = false, mem = false;

	pci_write16(p, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned int i = 0; i < PCI_GUEST_BARS; i++) {
		uint8_t off = PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t old = pci_read32(p, off), mask, size, addr;
		bool is64;

		pci_write32(p, off, 0xffffffff);
		mask = pci_read32(p, off);
		pci_write32(p, off, old);
		if (!mask)
			continue; /* no BAR here */
		if (mask & PCI_BASE_ADDRESS_SPACE_IO) {
			size = ~(mask & PCI_BASE_ADDRESS_IO_MASK) + 1;
			size &= 0xffff; /* upper bits may be hardwired to 0 */
			addr = align_up(io_next, size);
			io_next = addr + size;
			pci_write32(p, off, addr);
			p->bar_io |= 1u << i;
			io = true;
		} else {
			is64 = (mask & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
			       PCI_BASE_ADDRESS_MEM_TYPE_64;
			if (is64 && i + 1 < PCI_GUEST_BARS) {
				uint32_t old_hi = pci_read32(p, off + 4), hi;

				pci_write32(p, off + 4, 0xffffffff);
				hi = pci_read32(p, off + 4);
				pci_write32(p, off + 4, old_hi);
				if (hi != 0xffffffff)
					panic("pci: 64-bit BAR of 4 GiB or more");
			}
			size = ~(mask & PCI_BASE_ADDRESS_MEM_MASK) + 1;
			addr = align_up(mem_next, size);
			mem_next = addr + size;
			pci_write32(p, off, addr);
			if (is64)
				pci_write32(p, off + 4, 0); /* placed below 4 GiB */
			mem = true;
		}
		p->bar[i] = addr;
		p->bar_size[i] = size;
		if (!(mask & PCI_BASE_ADDRESS_SPACE_IO) && is64)
			i++; /* the upper half */
	}
	if (!io && !mem)
		return;
	cmd |= PCI_COMMAND_MASTER;
	if (io)
		cmd |= PCI_COMMAND_IO;
	if (mem)
		cmd |= PCI_COMMAND_MEMORY;
	pci_write16(p, PCI_COMMAND, cmd);
}

static void probe(uint8_t dev, uint8_t fn)
{
	struct pci_dev *p = &funcs[nr_funcs];
	uint32_t id;

	*p = (struct pci_dev){ .bus = 0, .dev = dev, .fn = fn };
	id = pci_read32(p, PCI_VENDOR_ID);
	if ((id & 0xffff) == 0xffff || nr_funcs >= MAX_FUNCS)
		return;
	p->vendor = id & 0xffff;
	p->device = id >> 16;
	p->revision = pci_read8(p, PCI_REVISION_ID);
	p->subsys = pci_read16(p, PCI_SUBSYSTEM_ID);
	nr_funcs++;
	if ((pci_read8(p, PCI_HEADER_TYPE) & 0x7f) == PCI_HEADER_TYPE_NORMAL)
		setup_bars(p);
}

unsigned int pci_init(void)
{
	uint32_t how = inl(DEMO_PIO_PCI_CONFIG);

	if (how == DEMO_PCI_CONFIG_Q35)
		q35_ecam();
	else if (how == DEMO_PCI_CONFIG_FIXED)
		ecam = DEMO_ECAM_FIXED_BASE;
	for (uint8_t dev = 0; dev < 32; dev++) {
		struct pci_dev f0 = { .bus = 0, .dev = dev, .fn = 0 };

		if (pci_read16(&f0, PCI_VENDOR_ID) == 0xffff)
			continue;
		probe(dev, 0);
		if (pci_read8(&f0, PCI_HEADER_TYPE) & 0x80) /* multi-function */
			for (uint8_t fn = 1; fn < 8; fn++)
				probe(dev, fn);
	}
	return nr_funcs;
}

const struct pci_dev *pci_find(unsigned int dev)
{
	for (unsigned int i = 0; i < nr_funcs; i++)
		if (funcs[i].dev == dev && funcs[i].fn == 0)
			return &funcs[i];
	return NULL;
}

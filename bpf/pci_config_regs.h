/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * PCI configuration space as the tracer learns it from the guest's own accesses, knowing
 * nothing of VirtIO: the tracer cannot read a guest's PCI devices, it can only watch the
 * driver enumerate them, so it keeps a shadow of each function's 256 bytes of standard
 * configuration space (struct gma_tracer_pci_fn.cfg, tracer.h) made of what the guest read and wrote.
 *   - The two ways in: ports 0xCF8 (address) / 0xCFC-0xCFF (data), and an ECAM (MMCONFIG)
 *     window, one rule for both (pci_config_shadow); the ECAM window of a q35 machine from
 *     its host bridge's PCIEXBAR, as the firmware programs it through 0xCF8/0xCFC (other
 *     VMMs' windows are given by userspace: gma-trace --ecam, QMP).
 *   - The BARs as the guest programs them: sizing with all-ones, 64-bit BARs, the command
 *     register's enables. A BAR is where a function's registers are: the transports look
 *     accesses up by it.
 * The capabilities are read by their users: MSI-X (pci_msix_regs.h), VirtIO's
 * (virtio_pci_modern_regs.h, which turns a configuration access into all of it).
 *
 * Offsets are PCI 3.0 6.1's, fixed, never CO-RE: the kernel's uapi <linux/pci_regs.h> (plain
 * #defines, safe beside vmlinux.h). Pure code, compiled into the tracer (BPF) and userspace
 * (libgma, the unit test, the fuzz target).
 */
#ifndef GMA_PCI_CONFIG_REGS_H
#define GMA_PCI_CONFIG_REGS_H

#include "compiler.h"
#include <gma/record.h>
#include "tracer_maps.h"
#include <linux/pci_regs.h>

/* Configuration mechanism #1 (PCI 3.0 3.2.2.3.2): an address latched in 0xCF8, data at 0xCFC. */
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_BAR0 PCI_BASE_ADDRESS_0
#define PCI_CAP_PTR PCI_CAPABILITY_LIST
#define PCI_CAPS_MAX 16 /* capabilities followed per function */

/* The config space address the guest latched in 0xCF8: the function key and the register. */
static __always_inline bool pci_cf8_decode(__u32 cf8, __u64 *key, __u32 *reg)
{
	if (!(cf8 & 0x80000000u))
		return false;
	*key = GMA_PCI_BASE((cf8 >> 16) & 0xff, (cf8 >> 11) & 0x1f, (cf8 >> 8) & 7);
	*reg = cf8 & 0xfc;
	return true;
}

/*
 * ECAM (PCIe enhanced configuration access, MMCONFIG): function bus:dev.fn's 4 KiB of
 * configuration space at base + (bus << 20 | dev << 15 | fn << 12). Only the first 256
 * bytes are shadowed: an access to the extended space (0x100-0xfff) is not followed, never
 * folded onto the standard space.
 */
#define PCI_ECAM_BUS_SHIFT 20
#define PCI_ECAM_FN_SIZE 4096
#define PCI_ECAM_BUSES_MAX 256
#define PCI_ECAM_GPA_LIMIT (1ULL << 52) /* a guest physical address is below 2^52 */

/* A window the tracer can follow: 1..256 buses, 1 MiB aligned, inside the gpa space. */
static __always_inline bool pci_ecam_valid(__u64 base, __u32 buses)
{
	if (!buses || buses > PCI_ECAM_BUSES_MAX || (base & ((1ULL << PCI_ECAM_BUS_SHIFT) - 1)))
		return false;
	return base < PCI_ECAM_GPA_LIMIT &&
	       PCI_ECAM_GPA_LIMIT - base >= (__u64)buses << PCI_ECAM_BUS_SHIFT;
}

/*
 * An access of len bytes at gpa inside window w: the function key and the register. False
 * outside the window (below it, past its last bus), for a width other than 1, 2, 4, an
 * access that is not naturally aligned (it would straddle registers), or the extended space.
 */
static __always_inline bool pci_ecam_decode(const struct gma_tracer_pci_ecam *w, __u64 gpa,
					    __u32 len, __u64 *key, __u32 *reg)
{
	__u64 off;

	if (!pci_ecam_valid(w->base, w->buses) || gpa < w->base)
		return false;
	off = gpa - w->base;
	if (off >= (__u64)w->buses << PCI_ECAM_BUS_SHIFT)
		return false;
	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)))
		return false;
	if ((off & (PCI_ECAM_FN_SIZE - 1)) >= GMA_TRACER_PCI_CFG_SIZE)
		return false;
	*key = GMA_PCI_BASE(off >> PCI_ECAM_BUS_SHIFT, (off >> 15) & 0x1f, (off >> 12) & 7);
	*reg = off & (GMA_TRACER_PCI_CFG_SIZE - 1);
	return true;
}

/*
 * The q35 host bridge (00:00.0, Intel MCH 8086:29c0) maps ECAM where its PCIEXBAR (config
 * 0x60, 64 bits) says: bit 0 enables, bits 2:1 give the length (0: 256 buses, 1: 128, 2: 64,
 * 3: reserved, no window), the base is bits 35:28, with bit 27 (128 and 64 buses) and bit
 * 26 (64 buses) as the length allows (Intel 3 Series chipset datasheet; QEMU
 * hw/pci-host/q35.c maps the same, firmware writes it before it enumerates).
 */
#define PCI_Q35_HOST_ID 0x29c08086u
#define PCI_Q35_PCIEXBAR 0x60
#define PCI_Q35_PCIEXBAR_EN 0x1
#define PCI_Q35_PCIEXBAR_ADDR 0x0000000ff0000000ULL /* bits 35:28 */
#define PCI_Q35_PCIEXBAR_128ADDR (1ULL << 27)
#define PCI_Q35_PCIEXBAR_64ADDR (1ULL << 26)

/* The window a PCIEXBAR value maps; false when it maps none. */
static __always_inline bool pci_q35_pciexbar_decode(__u64 bar, struct gma_tracer_pci_ecam *w)
{
	__u64 mask = PCI_Q35_PCIEXBAR_ADDR;

	if (!(bar & PCI_Q35_PCIEXBAR_EN))
		return false;
	switch ((bar >> 1) & 3) {
	case 0:
		w->buses = 256;
		break;
	case 1:
		w->buses = 128;
		mask |= PCI_Q35_PCIEXBAR_128ADDR;
		break;
	case 2:
		w->buses = 64;
		mask |= PCI_Q35_PCIEXBAR_128ADDR | PCI_Q35_PCIEXBAR_64ADDR;
		break;
	default:
		return false;
	}
	w->base = bar & mask;
	return true;
}

static __always_inline __u64 pci_u64_le(const __u8 *b)
{
	__u64 v = 0;

	for (__u32 i = 0; i < 8; i++)
		v |= (__u64)b[i] << (8 * i);
	return v;
}

/*
 * A configuration access to 00:00.0 (the host bridge; not a VirtIO function): its IDs as
 * read, PCIEXBAR as written. Returns true when pv->ecam changed: the window PCIEXBAR maps
 * now if the bridge is q35's, none once the guest disables it.
 */
static __always_inline bool pci_host_bridge_access(struct gma_tracer_pci_vm *pv, __u32 reg,
						   __u32 width, __u32 val, bool write)
{
	struct gma_tracer_pci_ecam w = {};
	bool on;

	if (width != 1 && width != 2 && width != 4)
		return false;
	for (__u32 i = 0; i < 4; i++) {
		__u32 r = reg + i;

		if (i >= width)
			break;
		if (!write && r < 4) {
			pv->host_id &= ~(0xffu << (8 * r));
			pv->host_id |= ((val >> (8 * i)) & 0xff) << (8 * r);
		}
		if (write && r >= PCI_Q35_PCIEXBAR && r < PCI_Q35_PCIEXBAR + 8)
			pv->pciexbar[(r - PCI_Q35_PCIEXBAR) & 7] = val >> (8 * i);
	}
	if (!write || reg + width <= PCI_Q35_PCIEXBAR || reg >= PCI_Q35_PCIEXBAR + 8 ||
	    pv->host_id != PCI_Q35_HOST_ID)
		return false;
	on = pci_q35_pciexbar_decode(pci_u64_le(pv->pciexbar), &w);
	if (!on)
		w = (struct gma_tracer_pci_ecam){};
	if (w.base == pv->ecam.base && w.buses == pv->ecam.buses)
		return false;
	pv->ecam = w;
	return true;
}

/*
 * A little-endian field of the shadow, its offset aligned down to its width: the index stays
 * inside cfg whatever off the guest made, and the verifier sees that it does.
 */
static __always_inline __u32 pci_cfg_u32(const struct gma_tracer_pci_fn *f, __u32 off)
{
	off &= GMA_TRACER_PCI_CFG_SIZE - 4;
	return f->cfg[off] | f->cfg[off + 1] << 8 | f->cfg[off + 2] << 16 |
	       (__u32)f->cfg[off + 3] << 24;
}

static __always_inline __u16 pci_cfg_u16(const struct gma_tracer_pci_fn *f, __u32 off)
{
	off &= GMA_TRACER_PCI_CFG_SIZE - 2;
	return f->cfg[off] | f->cfg[off + 1] << 8;
}

/*
 * The BARs as programmed: an address where the command register enables its space, else 0.
 * A BAR's size is known from the guest's sizing (all-ones written, the mask read back).
 */
static __always_inline void pci_decode_bars(struct gma_tracer_pci_fn *f)
{
	__u32 cmd = f->cfg[PCI_COMMAND];

	for (__u32 i = 0; i < GMA_TRACER_PCI_BARS; i++) {
		__u32 lo = pci_cfg_u32(f, PCI_BAR0 + 4 * i);
		__u64 addr;

		f->bar_io[i] = lo & 1;
		if (lo & 1) {
			addr = lo & ~3u;
			f->bar_addr[i] = (cmd & PCI_COMMAND_IO) ? addr : 0;
			continue;
		}
		addr = lo & ~0xfu;
		if (((lo >> 1) & 3) == 2 &&
		    i + 1 < GMA_TRACER_PCI_BARS) /* 64-bit: the next BAR is the top */
			addr |= (__u64)pci_cfg_u32(f, PCI_BAR0 + 4 * (i + 1)) << 32;
		f->bar_addr[i] = (cmd & PCI_COMMAND_MEMORY) ? addr : 0;
		if (((lo >> 1) & 3) == 2 && i + 1 < GMA_TRACER_PCI_BARS) {
			i++;
			f->bar_addr[i] = 0;
			f->bar_io[i] = 0;
		}
	}
}

/*
 * A configuration access of width bytes (1, 2 or 4: the caller checks) at register off, with
 * the value the guest wrote or read, applied to the shadow: its bytes, the IDs as read, a
 * BAR's sizing, the BARs decoded again (accesses are rare, at set-up: decoded after each).
 * The caller decodes the capabilities it follows (pci_config_access()).
 */
static __always_inline void pci_config_shadow(struct gma_tracer_pci_fn *f, __u32 off, __u32 width,
					      __u32 val, bool write)
{
	__u32 bar, shadow = val, old, prev, ro;

	/*
	 * A BAR's low bits say its type and are read-only: a written address does not clear
	 * them (the upper half of a 64-bit BAR has none).
	 */
	if (write && width == 4 && off >= PCI_BAR0 && off < PCI_BAR0 + 4 * GMA_TRACER_PCI_BARS) {
		old = pci_cfg_u32(f, off);
		prev = off > PCI_BAR0 ? pci_cfg_u32(f, off - 4) : 0;
		ro = old & 1 ? 0x3u : 0xfu;
		if (off > PCI_BAR0 && !(prev & 1) && (prev & 6) == 4)
			ro = 0;
		shadow = (val & ~ro) | (old & ro);
	}
	for (__u32 i = 0; i < 4; i++) {
		if (i >= width)
			break;
		f->cfg[(off + i) & (GMA_TRACER_PCI_CFG_SIZE - 1)] = shadow >> (8 * i);
	}
	if (!write && off == PCI_VENDOR_ID) {
		f->vendor = val & 0xffff;
		if (width == 4)
			f->device = val >> 16;
	}
	if (!write && off == PCI_DEVICE_ID)
		f->device = val & 0xffff;
	/* a BAR being sized: all-ones written, the mask read back; the address follows */
	if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * GMA_TRACER_PCI_BARS && width == 4) {
		bar = (off - PCI_BAR0) / 4;
		if (write && val == 0xffffffffu)
			f->sizing |= 1u << bar;
		else if (write)
			f->sizing &= ~(1u << bar);
		else if ((f->sizing & (1u << bar)) && bar < GMA_TRACER_PCI_BARS)
			f->bar_mask[bar] = val;
	}
	pci_decode_bars(f);
}

/* The size of BAR i from its sizing mask, or 0 when the guest did not size it. */
static __always_inline __u64 pci_bar_size(const struct gma_tracer_pci_fn *f, __u32 i)
{
	__u32 m;

	if (i >= GMA_TRACER_PCI_BARS)
		return 0;
	m = f->bar_mask[i];
	if (!m)
		return 0;
	if (f->bar_io[i]) /* the upper 16 bits of an I/O BAR may be hardwired to 0 */
		return (__u64)(~(m & ~3u) + 1) & 0xffff;
	m &= ~0xfu;
	return m ? (__u64)(~m) + 1 : 0;
}

#endif /* GMA_PCI_CONFIG_REGS_H */

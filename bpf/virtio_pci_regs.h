/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtio-pci transport's state machine: what one guest access changes in the tracer's
 * model of a PCI function (struct pci_fn) and of its VirtIO device (struct virtio_dev), and
 * what the caller must do about it. Pure code over guest-written (and guest-read) values,
 * compiled into the tracer (BPF, virtio_pci.bpf.h) and into its unit test.
 *
 * Everything is learnt from the guest's own accesses, as a driver makes them:
 *   - configuration space through ports 0xCF8 (address) / 0xCFC-0xCFF (data), or through an
 *     ECAM (MMCONFIG) window, reads with their values: a shadow of the 256 bytes of standard
 *     configuration space (pci_config_access, one rule for both mechanisms);
 *   - the ECAM window of a q35 machine from its host bridge's PCIEXBAR, as the firmware
 *     programs it through 0xCF8/0xCFC (pci_host_bridge_access); other VMMs' windows are
 *     given by userspace (gma-trace --ecam, QMP);
 *   - the BARs as the guest programs them (sizing with all-ones, 64-bit BARs, the command
 *     register's enables), the VirtIO vendor capabilities (common, notify with its
 *     multiplier, ISR, device) as the guest reads them;
 *   - modern devices: common configuration writes (features, status, queue_select,
 *     queue_size, queue_desc/driver/device, queue_enable) and reads of queue_notify_off;
 *     notifies are writes to the notify area (the queue index as data), or on Intel's
 *     ioeventfd fast path an address with no data (virtio_pci_notify_queue());
 *   - legacy and transitional devices: the I/O BAR's registers (QUEUE_SEL, QUEUE_NUM,
 *     QUEUE_PFN, QUEUE_NOTIFY, STATUS, GUEST_FEATURES);
 *   - MSI-X: the capability (cap ID 0x11: the table's BAR, offset and size, Message Control's
 *     enable and mask-all) as the guest reads and writes it, the table entries as the guest
 *     writes them into the BAR (pci_msix_table_decode), and each queue's vector: modern
 *     devices' queue_msix_vector and config_msix_vector in the common configuration, legacy
 *     ones' VIRTIO_MSI_QUEUE_VECTOR / VIRTIO_MSI_CONFIG_VECTOR, which exist only while MSI-X is
 *     enabled (they push the device configuration from 20 to 24). A vector is what the driver
 *     wrote, or what it read back: a device that cannot give the vector answers
 *     VIRTIO_MSI_NO_VECTOR, and drivers check.
 * Offsets are the spec's (VirtIO 1.x 4.1, PCI 3.0 6.8.2), fixed: never CO-RE. The PCI ones come
 * from the kernel's uapi <linux/pci_regs.h> (plain #defines, safe beside vmlinux.h); the
 * VirtIO ones are spelt here, as <linux/virtio_pci.h> pulls in <linux/types.h>, which
 * vmlinux.h conflicts with.
 */
#ifndef GMA_VIRTIO_PCI_REGS_H
#define GMA_VIRTIO_PCI_REGS_H

#include <gma/record.h>
#include <gma/vring_walk.h>
#include "tracer.h"
#include "transport_regs.h" /* enum mmio_action, set_lo/set_hi, the device status */
#include <linux/pci_regs.h>

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_BAR0 PCI_BASE_ADDRESS_0
#define PCI_CAP_PTR PCI_CAPABILITY_LIST
#define PCI_CAPS_MAX 16 /* capabilities followed per function */

/* struct virtio_pci_cap: cap_vndr, cap_next, cap_len, cfg_type, bar, id, pad, offset, length */
#define VIRTIO_PCI_CAP_CFG_TYPE 3
#define VIRTIO_PCI_CAP_BAR 4
#define VIRTIO_PCI_CAP_OFFSET 8
#define VIRTIO_PCI_CAP_LENGTH 12
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 16
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00
#define VIRTIO_PCI_COMMON_GFSELECT 0x08
#define VIRTIO_PCI_COMMON_GF 0x0c
#define VIRTIO_PCI_COMMON_MSIX 0x10
#define VIRTIO_PCI_COMMON_STATUS 0x14
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34

/* The legacy I/O BAR (VirtIO 1.x 4.1.4.8) */
#define VIRTIO_PCI_LEGACY_GUEST_FEATURES 4
#define VIRTIO_PCI_LEGACY_QUEUE_PFN 8
#define VIRTIO_PCI_LEGACY_QUEUE_NUM 12
#define VIRTIO_PCI_LEGACY_QUEUE_SEL 14
#define VIRTIO_PCI_LEGACY_QUEUE_NOTIFY 16
#define VIRTIO_PCI_LEGACY_STATUS 18
#define VIRTIO_PCI_LEGACY_ISR 19
#define VIRTIO_MSI_CONFIG_VECTOR 20 /* only while MSI-X is enabled */
#define VIRTIO_MSI_QUEUE_VECTOR 22
#define VIRTIO_MSI_NO_VECTOR 0xffff
#define VIRTIO_PCI_LEGACY_ALIGN 4096
#define VIRTIO_PCI_LEGACY_PFN_SHIFT 12

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
static __always_inline bool pci_ecam_decode(const struct pci_ecam *w, __u64 gpa, __u32 len,
					    __u64 *key, __u32 *reg)
{
	__u64 off;

	if (!pci_ecam_valid(w->base, w->buses) || gpa < w->base)
		return false;
	off = gpa - w->base;
	if (off >= (__u64)w->buses << PCI_ECAM_BUS_SHIFT)
		return false;
	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)))
		return false;
	if ((off & (PCI_ECAM_FN_SIZE - 1)) >= PCI_CFG_SIZE)
		return false;
	*key = GMA_PCI_BASE(off >> PCI_ECAM_BUS_SHIFT, (off >> 15) & 0x1f, (off >> 12) & 7);
	*reg = off & (PCI_CFG_SIZE - 1);
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
static __always_inline bool pci_q35_pciexbar_decode(__u64 bar, struct pci_ecam *w)
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
static __always_inline bool pci_host_bridge_access(struct pci_vm *pv, __u32 reg, __u32 width,
						   __u32 val, bool write)
{
	struct pci_ecam w = {};
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
		w = (struct pci_ecam){};
	if (w.base == pv->ecam.base && w.buses == pv->ecam.buses)
		return false;
	pv->ecam = w;
	return true;
}

static __always_inline __u32 pci_cfg_u32(const struct pci_fn *f, __u32 off)
{
	off &= PCI_CFG_SIZE - 4;
	return f->cfg[off] | f->cfg[off + 1] << 8 | f->cfg[off + 2] << 16 |
	       (__u32)f->cfg[off + 3] << 24;
}

/*
 * The BARs as programmed: an address where the command register enables its space, else 0.
 * A BAR's size is known from the guest's sizing (all-ones written, the mask read back).
 */
static __always_inline void pci_decode_bars(struct pci_fn *f)
{
	__u32 cmd = f->cfg[PCI_COMMAND];

	for (__u32 i = 0; i < PCI_BARS; i++) {
		__u32 lo = pci_cfg_u32(f, PCI_BAR0 + 4 * i);
		__u64 addr;

		f->bar_io[i] = lo & 1;
		if (lo & 1) {
			addr = lo & ~3u;
			f->bar_addr[i] = (cmd & PCI_COMMAND_IO) ? addr : 0;
			continue;
		}
		addr = lo & ~0xfu;
		if (((lo >> 1) & 3) == 2 && i + 1 < PCI_BARS) /* 64-bit: the next BAR is the top */
			addr |= (__u64)pci_cfg_u32(f, PCI_BAR0 + 4 * (i + 1)) << 32;
		f->bar_addr[i] = (cmd & PCI_COMMAND_MEMORY) ? addr : 0;
		if (((lo >> 1) & 3) == 2 && i + 1 < PCI_BARS) {
			i++;
			f->bar_addr[i] = 0;
			f->bar_io[i] = 0;
		}
	}
}

static __always_inline void pci_cap_loc(const struct pci_fn *f, __u32 at, struct pci_cap_loc *l)
{
	l->bar = f->cfg[(at + VIRTIO_PCI_CAP_BAR) & (PCI_CFG_SIZE - 1)];
	l->off = pci_cfg_u32(f, at + VIRTIO_PCI_CAP_OFFSET);
	l->len = pci_cfg_u32(f, at + VIRTIO_PCI_CAP_LENGTH);
	l->valid = l->bar < PCI_BARS;
}

static __always_inline __u16 pci_cfg_u16(const struct pci_fn *f, __u32 off)
{
	off &= PCI_CFG_SIZE - 2;
	return f->cfg[off] | f->cfg[off + 1] << 8;
}

/* The MSI-X capability's Message Control as the guest last read or wrote it, 0: none. */
static __always_inline __u16 pci_msix_ctrl(const struct pci_fn *f)
{
	return f->msix_cap ? pci_cfg_u16(f, f->msix_cap + PCI_MSIX_FLAGS) : 0;
}

/* Whether the function sends MSI-X messages (else INTx), and whether all are masked. */
static __always_inline bool pci_msix_enabled(const struct pci_fn *f)
{
	return pci_msix_ctrl(f) & PCI_MSIX_FLAGS_ENABLE;
}

static __always_inline bool pci_msix_masked(const struct pci_fn *f)
{
	return pci_msix_ctrl(f) & PCI_MSIX_FLAGS_MASKALL;
}

/*
 * The MSI-X table from the capability at `at`: its BAR (BIR) and offset, and its size from
 * Message Control's table size field (N - 1). A BIR of 6 or 7 is reserved: no table.
 */
static __always_inline void pci_msix_cap(struct pci_fn *f, __u32 at)
{
	__u32 table = pci_cfg_u32(f, at + PCI_MSIX_TABLE);

	f->msix_cap = at;
	f->msix_table.bar = table & PCI_MSIX_TABLE_BIR;
	f->msix_table.off = table & PCI_MSIX_TABLE_OFFSET;
	f->msix_table.len = ((pci_cfg_u16(f, at + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1) *
			    PCI_MSIX_ENTRY_SIZE;
	f->msix_table.valid = f->msix_table.bar < PCI_BARS;
}

/*
 * The VirtIO and MSI-X capabilities as the guest read them, from the capability list of the
 * shadow. The first MSI-X capability counts (a function has at most one).
 */
static __always_inline void pci_decode_caps(struct pci_fn *f)
{
	__u32 at = f->cfg[PCI_CAP_PTR] & 0xfc;

	f->common.valid = f->notify.valid = f->msix_table.valid = 0;
	f->msix_cap = 0;
	if (!(f->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return;
	for (__u32 i = 0; i < PCI_CAPS_MAX && at >= 0x40; i++) {
		at &= PCI_CFG_SIZE - 4;
		if (f->cfg[at] == PCI_CAP_ID_MSIX && !f->msix_cap)
			pci_msix_cap(f, at);
		if (f->cfg[at] == PCI_CAP_ID_VNDR) {
			switch (f->cfg[(at + VIRTIO_PCI_CAP_CFG_TYPE) & (PCI_CFG_SIZE - 1)]) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				pci_cap_loc(f, at, &f->common);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				pci_cap_loc(f, at, &f->notify);
				f->notify_mult = pci_cfg_u32(f, at + VIRTIO_PCI_NOTIFY_MULTIPLIER);
				break;
			}
		}
		at = f->cfg[(at + 1) & (PCI_CFG_SIZE - 1)] & 0xfc;
	}
}

/*
 * A config space access of width bytes at reg + (port - 0xCFC), with the value the guest
 * wrote or read. Returns PCI_CFG_CHANGED when the BARs, the command register or the
 * capabilities may have changed (the caller re-registers the function's windows).
 */
enum pci_cfg_result {
	PCI_CFG_NONE,
	PCI_CFG_CHANGED,
};

static __always_inline enum pci_cfg_result pci_config_access(struct pci_fn *f, __u32 off,
							     __u32 width, __u32 val, bool write)
{
	__u32 bar, shadow = val, old, prev, ro;

	if (width != 1 && width != 2 && width != 4)
		return PCI_CFG_NONE;
	/*
	 * A BAR's low bits say its type and are read-only: a written address does not clear
	 * them (the upper half of a 64-bit BAR has none).
	 */
	if (write && width == 4 && off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_BARS) {
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
		f->cfg[(off + i) & (PCI_CFG_SIZE - 1)] = shadow >> (8 * i);
	}
	if (!write && off == 0) {
		f->vendor = val & 0xffff;
		if (width == 4)
			f->device = val >> 16;
	}
	if (!write && off == 2)
		f->device = val & 0xffff;
	/* a BAR being sized: all-ones written, the mask read back; the address follows */
	if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_BARS && width == 4) {
		bar = (off - PCI_BAR0) / 4;
		if (write && val == 0xffffffffu)
			f->sizing |= 1u << bar;
		else if (write)
			f->sizing &= ~(1u << bar);
		else if ((f->sizing & (1u << bar)) && bar < PCI_BARS)
			f->bar_mask[bar] = val;
	}
	/* config accesses are rare (set-up): decode after each */
	pci_decode_bars(f);
	pci_decode_caps(f);
	return PCI_CFG_CHANGED;
}

/* The size of BAR i from its sizing mask, or 0 when the guest did not size it. */
static __always_inline __u64 pci_bar_size(const struct pci_fn *f, __u32 i)
{
	__u32 m;

	if (i >= PCI_BARS)
		return 0;
	m = f->bar_mask[i];
	if (!m)
		return 0;
	if (f->bar_io[i]) /* the upper 16 bits of an I/O BAR may be hardwired to 0 */
		return (__u64)(~(m & ~3u) + 1) & 0xffff;
	m &= ~0xfu;
	return m ? (__u64)(~m) + 1 : 0;
}

/* Whether the device is a VirtIO one, and whether it speaks the legacy interface. */
static __always_inline bool pci_is_virtio(const struct pci_fn *f)
{
	return f->vendor == PCI_VENDOR_VIRTIO && f->device >= 0x1000 && f->device <= 0x107f;
}

static __always_inline __u32 pci_virtio_type(const struct pci_fn *f)
{
	/* modern 0x1040 + type; transitional 0x1000 + n: the subsystem id holds the type */
	if (f->device >= 0x1040)
		return f->device - 0x1040;
	return pci_cfg_u32(f, 0x2c) >> 16;
}

/*
 * A function set up before the trace began, learnt from its configuration space as it is
 * now (cfg: PCI_CFG_SIZE bytes) and each BAR's size (the VMM's; 0: none, or the upper half
 * of a 64-bit BAR): the accesses a driver makes are replayed through pci_config_access(),
 * every dword read, then each BAR sized (all-ones written, the mask read back, the address
 * written again), so the function is what the guest's own enumeration would have made it.
 * The queues' notify offsets (noff[q] where bit q of noff_known is set) are taken as the
 * driver's reads of queue_notify_off would have left them.
 * Userspace only (gma_tracer_add_pci_function()). False for a size that is no BAR's: not a
 * power of two, an I/O BAR of 64 KiB or more (pci_bar_size() keeps 16 bits). A memory BAR of
 * 4 GiB or more is left unsized: the tracer looks up BARs of at most 16 MiB
 * (PCI_MEM_BAR_ORDER_MAX).
 */
static __always_inline bool pci_fn_from_snapshot(struct pci_fn *f, const __u8 *cfg,
						 const __u64 *bar_size, __u64 noff_known,
						 const __u16 *noff)
{
	for (__u32 off = 0; off < PCI_CFG_SIZE; off += 4)
		pci_config_access(f, off, 4,
				  cfg[off] | cfg[off + 1] << 8 | cfg[off + 2] << 16 |
					  (__u32)cfg[off + 3] << 24,
				  false);
	for (__u32 i = 0; i < PCI_BARS; i++) {
		__u32 lo = pci_cfg_u32(f, PCI_BAR0 + 4 * i), mask;
		__u64 size = bar_size[i];

		if (size & (size - 1) || ((lo & 1) && size >= 0x10000))
			return false;
		if (!size || size > 0x80000000ULL)
			continue; /* none, or too large for its low half to say (and to be looked up) */
		if (lo & 1)
			mask = (~((__u32)size - 1) & ~3u) | 1;
		else
			mask = (~((__u32)size - 1) & ~0xfu) | (lo & 0xf);
		pci_config_access(f, PCI_BAR0 + 4 * i, 4, 0xffffffffu, true);
		pci_config_access(f, PCI_BAR0 + 4 * i, 4, mask, false);
		pci_config_access(f, PCI_BAR0 + 4 * i, 4, lo, true);
	}
	for (__u32 q = 0; q < QUEUES_MAX; q++) {
		if (noff_known & (1ULL << q)) {
			f->queue_notify_off[q] = noff[q];
			f->noff_known |= 1ULL << q;
		}
	}
	return true;
}

/*
 * The queue a notify at offset off of the notify structure is for, from the addresses the
 * driver learnt (queue_notify_off * notify_off_multiplier), or -1. With a multiplier of 0
 * every queue shares one address: only the data can tell (Intel's fast path has none).
 */
static __always_inline int virtio_pci_notify_queue(const struct pci_fn *f, __u64 off)
{
	if (!f->notify_mult)
		return -1;
	for (__u32 q = 0; q < QUEUES_MAX; q++)
		if ((f->noff_known & (1ull << q)) &&
		    (__u64)f->queue_notify_off[q] * f->notify_mult == off)
			return q;
	return -1;
}

/*
 * Whether queue q's notifies through the modern notify area are decoded: the area's BAR
 * registered, and where they may take Intel's fast path (fast_path: a VMX host), which
 * carries the address only, the queue's notify offset known.
 */
static __always_inline bool pci_notify_observable(const struct pci_fn *f, __u32 q, bool fast_path)
{
	return f->notify.valid && f->notify.bar < PCI_BARS && f->bar_registered[f->notify.bar] &&
	       (!fast_path || (q < QUEUES_MAX && (f->noff_known & (1ULL << q))));
}

/*
 * A device reset gives every vector back: each reads VIRTIO_MSI_NO_VECTOR until the driver
 * sets it (QEMU resets them so, and Linux relies on it: it never writes NO_VECTOR for a
 * queue without a callback, it writes nothing).
 */
static __always_inline void pci_vectors_forget(struct pci_fn *f)
{
	f->vector_known = 0;
	f->config_vector_known = 0;
	f->vectors_reset = 1;
}

/* Queue qi's vector, as the driver wrote it or read it back. */
static __always_inline void pci_queue_vector(struct pci_fn *f, __u32 qi, __u32 val)
{
	f->queue_vector[qi & (QUEUES_MAX - 1)] = val & 0xffff;
	f->vector_known |= 1ull << (qi & (QUEUES_MAX - 1));
}

/*
 * An access to the common configuration structure at off (width 1, 2 or 4; a 64-bit field
 * is written as two halves). *q receives the queue an action is about.
 */
static __always_inline enum mmio_action virtio_pci_common_access(struct pci_fn *f,
								 struct virtio_dev *dev, __u32 off,
								 __u32 width, __u32 val, bool write,
								 __u32 *q)
{
	struct vq_state *vq;
	__u32 qi;

	if (width < 4)
		val &= (1u << (8 * width)) - 1;
	if (off == VIRTIO_PCI_COMMON_DFSELECT || off == VIRTIO_PCI_COMMON_GFSELECT) {
		if (write && off == VIRTIO_PCI_COMMON_GFSELECT)
			dev->dfeatures_sel = val;
		return MMIO_NONE;
	}
	if (off == VIRTIO_PCI_COMMON_GF && write)
		return virtio_dev_set_features(dev, val);
	if (off == VIRTIO_PCI_COMMON_STATUS && write) {
		if (!(val & 0xff)) /* a reset gives every vector back: the driver sets them again */
			pci_vectors_forget(f);
		return virtio_dev_set_status(dev, val & 0xff);
	}
	if (off == VIRTIO_PCI_COMMON_MSIX && width == 2) {
		/* written, then read back: the read is the device's answer */
		f->config_vector = val;
		f->config_vector_known = 1;
		return MMIO_NONE;
	}
	if (off == VIRTIO_PCI_COMMON_Q_SELECT && write) {
		dev->queue_sel = val & 0xffff;
		return MMIO_NONE;
	}
	if (off < VIRTIO_PCI_COMMON_Q_SIZE || off > VIRTIO_PCI_COMMON_Q_USEDHI)
		return MMIO_NONE;
	if (dev->queue_sel >= QUEUES_MAX)
		return MMIO_NONE; /* a queue this tracer does not follow */
	qi = dev->queue_sel & (QUEUES_MAX - 1);
	vq = &dev->q[qi];
	*q = qi;
	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		if (width == 2)
			pci_queue_vector(f, qi, val);
		return MMIO_NONE;
	}
	if (!write) {
		if (off == VIRTIO_PCI_COMMON_Q_NOFF) {
			f->queue_notify_off[qi] = val & 0xffff;
			f->noff_known |= 1ull << qi;
		}
		return MMIO_NONE;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		vq->num = val & 0xffff;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		set_lo(&vq->desc, val);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_hi(&vq->desc, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		set_lo(&vq->driver, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_hi(&vq->driver, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		set_lo(&vq->device, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_hi(&vq->device, val);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (!(val & 1)) {
			vq->flags &= ~GMA_QUEUE_READY;
			break;
		}
		return virtio_dev_queue_ready(dev, vq);
	}
	return MMIO_NONE;
}

/* An access to the legacy I/O BAR at off. *q receives the queue an action is about. */
static __always_inline enum mmio_action virtio_pci_legacy_access(struct virtio_dev *dev, __u32 off,
								 __u32 val, bool write, __u32 *q)
{
	struct vq_state *vq;
	__u32 qi;

	if (!write) {
		if (off == VIRTIO_PCI_LEGACY_QUEUE_NUM && dev->queue_sel < QUEUES_MAX)
			dev->q[dev->queue_sel & (QUEUES_MAX - 1)].num = val & 0xffff;
		return off == VIRTIO_PCI_LEGACY_ISR ? MMIO_SCAN_USED : MMIO_NONE;
	}
	switch (off) {
	case VIRTIO_PCI_LEGACY_QUEUE_NOTIFY:
		*q = val & 0xffff;
		return MMIO_NOTIFY;
	case VIRTIO_PCI_LEGACY_GUEST_FEATURES:
		set_lo(&dev->driver_features, val);
		return MMIO_NONE;
	case VIRTIO_PCI_LEGACY_STATUS:
		return virtio_dev_set_status(dev, val & 0xff);
	case VIRTIO_PCI_LEGACY_QUEUE_SEL:
		dev->queue_sel = val & 0xffff;
		return MMIO_NONE;
	case VIRTIO_PCI_LEGACY_QUEUE_PFN:
		if (dev->queue_sel >= QUEUES_MAX)
			return MMIO_NONE;
		qi = dev->queue_sel & (QUEUES_MAX - 1);
		vq = &dev->q[qi];
		*q = qi;
		if (!val) {
			*vq = (struct vq_state){};
			return MMIO_NONE;
		}
		/* QUEUE_NUM is the device's, read by the driver: learnt from the read below */
		vq->desc = (__u64)val << VIRTIO_PCI_LEGACY_PFN_SHIFT;
		gma_vring_legacy_layout(vq->desc, vq->num, VIRTIO_PCI_LEGACY_ALIGN, &vq->driver,
					&vq->device);
		vq->flags |= GMA_QUEUE_LEGACY;
		return virtio_dev_queue_ready(dev, vq);
	}
	return MMIO_NONE;
}

/*
 * An access of width bytes to the legacy I/O BAR at off, for its MSI-X vectors: the vector
 * registers exist only while MSI-X is enabled (else 20 is the device configuration); a status
 * write of 0 (reset) gives the vectors back. Goes beside virtio_pci_legacy_access().
 */
static __always_inline void virtio_pci_legacy_msix_access(struct pci_fn *f,
							  const struct virtio_dev *dev, __u32 off,
							  __u32 width, __u32 val, bool write)
{
	if (write && off == VIRTIO_PCI_LEGACY_STATUS && !(val & 0xff))
		pci_vectors_forget(f);
	if (width != 2 || !pci_msix_enabled(f))
		return;
	if (off == VIRTIO_MSI_CONFIG_VECTOR) {
		f->config_vector = val & 0xffff;
		f->config_vector_known = 1;
	} else if (off == VIRTIO_MSI_QUEUE_VECTOR && dev->queue_sel < QUEUES_MAX) {
		pci_queue_vector(f, dev->queue_sel, val);
	}
}

/*
 * A memory access of len bytes at offset off of BAR bar: whether it is a word of the MSI-X
 * table, and which (*vector, *word: PCI_MSIX_ENTRY_*). Only aligned 32-bit accesses are
 * decoded, as Linux makes them (a 64-bit write of the address is not followed).
 */
static __always_inline bool pci_msix_table_decode(const struct pci_fn *f, __u32 bar, __u64 off,
						  __u32 len, __u32 *vector, __u32 *word)
{
	__u64 rel;

	if (!f->msix_table.valid || f->msix_table.bar != bar || len != 4 || off < f->msix_table.off)
		return false;
	rel = off - f->msix_table.off;
	if (rel >= f->msix_table.len || (rel & 3))
		return false;
	*vector = rel / PCI_MSIX_ENTRY_SIZE;
	*word = rel % PCI_MSIX_ENTRY_SIZE;
	return *vector < MSIX_VECTORS_MAX;
}

/* A guest write of word (PCI_MSIX_ENTRY_*) of a table entry. */
static __always_inline void pci_msix_entry_write(struct msix_msg *e, __u32 word, __u32 val)
{
	switch (word) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		e->addr_lo = val;
		e->written |= MSIX_ENTRY_ADDR_LO;
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		e->addr_hi = val;
		e->written |= MSIX_ENTRY_ADDR_HI;
		break;
	case PCI_MSIX_ENTRY_DATA:
		e->data = val;
		e->written |= MSIX_ENTRY_DATA;
		break;
	case PCI_MSIX_ENTRY_VECTOR_CTRL:
		e->ctrl = val;
		e->written |= MSIX_ENTRY_CTRL;
		break;
	}
}

#endif /* GMA_VIRTIO_PCI_REGS_H */

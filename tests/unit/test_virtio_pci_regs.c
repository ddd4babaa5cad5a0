// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The virtio-pci state machine (bpf/virtio_pci_regs.h, compiled here as in the tracer) fed
 * the accesses a Linux driver makes: enumeration, BAR sizing (a 64-bit memory BAR and an I/O
 * BAR), the capability list, queue set-up through the common configuration, notify offsets,
 * and the legacy interface. Intel's ioeventfd fast path (kvm_fast_mmio: an address, no data)
 * cannot run under TCG, so its address -> queue mapping is checked here.
 */
#include <stdbool.h>
#include <string.h>

#include <criterion/criterion.h>
#include <linux/types.h>

#include "q35_virtio_pci.h"
#include "virtio_pci_regs.h"

static struct gma_tracer_pci_fn f;
static struct gma_tracer_virtio_dev dev;

static void reset(void)
{
	memset(&f, 0, sizeof(f));
	memset(&dev, 0, sizeof(dev));
}

TestSuite(virtio_pci_regs, .init = reset);

static void rd(__u32 off, __u32 width, __u32 val)
{
	pci_config_access(&f, off, width, val, false);
}

static void wr(__u32 off, __u32 width, __u32 val)
{
	pci_config_access(&f, off, width, val, true);
}

/* A BAR sized as Linux does: old value read, all-ones written, the mask read, old restored. */
static void size_bar(__u32 i, __u32 type_bits, __u32 mask)
{
	rd(PCI_BAR0 + 4 * i, 4, type_bits);
	wr(PCI_BAR0 + 4 * i, 4, 0xffffffff);
	rd(PCI_BAR0 + 4 * i, 4, mask);
	wr(PCI_BAR0 + 4 * i, 4, type_bits);
}

/* A vendor capability at `at`: cfg_type, bar, offset, length (and the notify multiplier). */
static void cap(__u32 at, __u32 next, __u32 type, __u32 bar, __u32 off, __u32 len, __u32 mult)
{
	rd(at, 4, PCI_CAP_ID_VNDR | next << 8 | (type == 2 ? 20 : 16) << 16 | type << 24);
	rd(at + 4, 4, bar);
	rd(at + 8, 4, off);
	rd(at + 12, 4, len);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		rd(at + 16, 4, mult);
}

static void modern_blk(void)
{
	rd(0, 4, 0x1042u << 16 | PCI_VENDOR_VIRTIO);
	rd(PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	/* BAR4: 64-bit prefetchable memory of 16 KiB at 0x8_0000_4000 */
	size_bar(4, 0xc, 0xffffc00c);
	size_bar(5, 0, 0xffffffff);
	wr(PCI_BAR0 + 16, 4, 0x4000);
	wr(PCI_BAR0 + 20, 4, 0x8);
	rd(PCI_CAP_PTR, 1, 0x40);
	cap(0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0, 0x38, 0);
	cap(0x50, 0x68, VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 1, 0);
	cap(0x68, 0x00, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000, 4);
}

Test(virtio_pci_regs, bars_follow_sizing_type_bits_and_the_command_register)
{
	modern_blk();
	cr_assert(pci_is_virtio(&f));
	cr_assert_eq(pci_virtio_type(&f), 2, "blk");
	cr_assert_eq(pci_bar_size(&f, 4), 0x4000);
	cr_assert_eq(f.bar_addr[4], 0, "memory decoding still off");
	wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(f.bar_addr[4], 0x800004000ULL, "64-bit, type bits kept");
	cr_assert_eq(f.bar_addr[5], 0, "the upper half is not a BAR of its own");
	/* moved, then disabled */
	wr(PCI_BAR0 + 16, 4, 0xe0000000);
	wr(PCI_BAR0 + 20, 4, 0);
	cr_assert_eq(f.bar_addr[4], 0xe0000000);
	wr(PCI_COMMAND, 2, 0);
	cr_assert_eq(f.bar_addr[4], 0);
}

Test(virtio_pci_regs, capabilities_as_the_guest_read_them)
{
	modern_blk();
	cr_assert(f.common.valid);
	cr_assert_eq(f.common.bar, 4);
	cr_assert_eq(f.common.len, 0x38);
	cr_assert(f.notify.valid);
	cr_assert_eq(f.notify.off, 0x3000);
	cr_assert_eq(f.notify_mult, 4);
}

Test(virtio_pci_regs, queue_set_up_through_the_common_configuration)
{
	__u32 q = 99;

	modern_blk();
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_GFSELECT, 4, 1, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_GF, 4, 1, true, &q);
	cr_assert_eq(dev.driver_features, 1ULL << 32, "VIRTIO_F_VERSION_1");
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_SIZE, 2, 256, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x1, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x2000, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0x3000, true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_NOFF, 2, 7, false, &q);
	cr_assert_eq(virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1, true, &q),
		     MMIO_QUEUE_READY);
	cr_assert_eq(q, 1);
	cr_assert_eq(dev.q[1].desc, 0x100001000ULL);
	cr_assert_eq(dev.q[1].driver, 0x2000);
	cr_assert_eq(dev.q[1].device, 0x3000);
	cr_assert_eq(dev.q[1].num, 256);
	cr_assert(dev.q[1].flags & GMA_QUEUE_READY);
	cr_assert_eq(f.queue_notify_off[1], 7);
	/* a queue past what the tracer follows is not written anywhere */
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, GMA_TRACER_QUEUES_MAX,
				 true, &q);
	cr_assert_eq(virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1, true, &q),
		     MMIO_NONE);
	/* a reset forgets the queues */
	cr_assert_eq(virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_STATUS, 1, 0, true, &q),
		     MMIO_DEVICE_CHANGED);
	cr_assert_eq(dev.q[1].num, 0);
}

/* kvm_fast_mmio gives the address only: the queue whose notify_off * multiplier it is. */
Test(virtio_pci_regs, fast_mmio_notify_address_to_queue)
{
	__u32 q;

	modern_blk();
	for (__u32 i = 0; i < 4; i++) {
		virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, i, true, &q);
		virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_NOFF, 2, 3 - i, false, &q);
	}
	cr_assert_eq(virtio_pci_notify_queue(&f, 0), 3);
	cr_assert_eq(virtio_pci_notify_queue(&f, 12), 0);
	cr_assert_eq(virtio_pci_notify_queue(&f, 4), 2);
	cr_assert_eq(virtio_pci_notify_queue(&f, 2), -1, "between two queues' addresses");
	cr_assert_eq(virtio_pci_notify_queue(&f, 16), -1, "no queue there");
	f.notify_mult = 0; /* one address for all: only the data could tell */
	cr_assert_eq(virtio_pci_notify_queue(&f, 0), -1);
}

Test(virtio_pci_regs, legacy_io_bar_and_interface)
{
	__u32 q = 99;

	rd(0, 2, PCI_VENDOR_VIRTIO);
	rd(2, 2, 0x1000);
	rd(0x2c, 4, 1u << 16 | PCI_VENDOR_VIRTIO); /* subsystem: the device type, net */
	cr_assert_eq(pci_virtio_type(&f), 1);
	size_bar(0, 0x1, 0x0000ffc1); /* 64 ports; the upper half hardwired to 0 */
	wr(PCI_BAR0, 4, 0xc000);
	wr(PCI_COMMAND, 2, PCI_COMMAND_IO);
	cr_assert(f.bar_io[0]);
	cr_assert_eq(f.bar_addr[0], 0xc000, "the I/O type bit kept");
	cr_assert_eq(pci_bar_size(&f, 0), 0x40);
	virtio_pci_legacy_access(&dev, VIRTIO_PCI_LEGACY_QUEUE_SEL, 1, true, &q);
	virtio_pci_legacy_access(&dev, VIRTIO_PCI_LEGACY_QUEUE_NUM, 256, false, &q);
	cr_assert_eq(virtio_pci_legacy_access(&dev, VIRTIO_PCI_LEGACY_QUEUE_PFN, 0x12, true, &q),
		     MMIO_QUEUE_READY);
	cr_assert_eq(q, 1);
	cr_assert_eq(dev.q[1].desc, 0x12000);
	cr_assert_eq(dev.q[1].driver, 0x12000 + 256 * 16);
	cr_assert_eq(dev.q[1].device, 0x14000, "the used ring 4096-aligned after the avail ring");
	cr_assert(dev.q[1].flags & GMA_QUEUE_LEGACY);
	cr_assert_eq(virtio_pci_legacy_access(&dev, VIRTIO_PCI_LEGACY_QUEUE_NOTIFY, 1, true, &q),
		     MMIO_NOTIFY);
	cr_assert_eq(q, 1);
}

Test(virtio_pci_regs, the_config_address_latch)
{
	__u64 key;
	__u32 reg;

	cr_assert(pci_cf8_decode(0x80001810, &key, &reg)); /* 00:03.0, BAR0 */
	cr_assert_eq(key, GMA_PCI_BASE(0, 3, 0));
	cr_assert_eq(reg, 0x10);
	cr_assert_not(pci_cf8_decode(0x00001810, &key, &reg), "the enable bit");
}

/* ECAM decode: what lies in the window is a (function, register); nothing else is. */
Test(virtio_pci_regs, ecam_decode_of_hostile_addresses)
{
	const struct gma_tracer_pci_ecam w = { .base = 0xb0000000, .buses = 16 };
	__u64 key = 0;
	__u32 reg = 0;

	/* 00:03.0 BAR0, 01:1f.7 the capability pointer, the last register of the last bus */
	cr_assert(pci_ecam_decode(&w, 0xb0000000 + (3 << 15) + 0x10, 4, &key, &reg));
	cr_assert_eq(key, GMA_PCI_BASE(0, 3, 0));
	cr_assert_eq(reg, 0x10);
	cr_assert(pci_ecam_decode(&w, 0xb0000000 + (1 << 20 | 31 << 15 | 7 << 12) + 0x34, 1, &key,
				  &reg));
	cr_assert_eq(key, GMA_PCI_BASE(1, 31, 7));
	cr_assert_eq(reg, 0x34);
	cr_assert(pci_ecam_decode(&w, 0xb0000000 + (15 << 20 | 31 << 15 | 7 << 12) + 0xfc, 4, &key,
				  &reg));
	cr_assert_eq(key, GMA_PCI_BASE(15, 31, 7));
	cr_assert_eq(reg, 0xfc);
	cr_assert(pci_ecam_decode(&w, 0xb0000000 + 0x6, 2, &key, &reg), "the status register");
	cr_assert_eq(reg, 6);

	key = 0x5a;
	reg = 0x5a;
	cr_assert_not(pci_ecam_decode(&w, 0xafffffff, 1, &key, &reg), "below the window");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000000 + (16 << 20), 4, &key, &reg),
		      "bus 16 beyond the window's 16 buses");
	cr_assert_not(pci_ecam_decode(&w, 0xc0000000, 4, &key, &reg), "past the window");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000002, 4, &key, &reg), "a dword straddling two");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000001, 2, &key, &reg), "a word not aligned");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000000, 8, &key, &reg), "8 bytes");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000000, 3, &key, &reg), "3 bytes");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000000, 0, &key, &reg), "no data (fast path)");
	/* the extended space is not folded onto the 256 bytes shadowed */
	cr_assert_not(pci_ecam_decode(&w, 0xb0000000 + (3 << 15) + 0x100, 4, &key, &reg),
		      "the first extended capability");
	cr_assert_not(pci_ecam_decode(&w, 0xb0000000 + (3 << 15) + 0xffc, 4, &key, &reg));
	cr_assert_not(pci_ecam_decode(&w, ~0ULL, 1, &key, &reg), "the last address");
	cr_assert_eq(key, 0x5a, "a refused access leaves the outputs alone");
	cr_assert_eq(reg, 0x5a);
}

/* Windows the tracer refuses to follow, whoever gave them. */
Test(virtio_pci_regs, ecam_windows_that_cannot_be)
{
	const struct gma_tracer_pci_ecam none = { .base = 0xb0000000, .buses = 0 };
	const struct gma_tracer_pci_ecam wrap = { .base = 0xfffffffffff00000ULL, .buses = 256 };
	const struct gma_tracer_pci_ecam past = { .base = (1ULL << 52) - (1 << 20), .buses = 2 };
	const struct gma_tracer_pci_ecam unaligned = { .base = 0xb0080000, .buses = 1 };
	const struct gma_tracer_pci_ecam too_many = { .base = 0, .buses = 257 };
	__u64 key;
	__u32 reg;

	cr_assert_not(pci_ecam_decode(&none, 0xb0000000, 4, &key, &reg), "no window");
	cr_assert_not(pci_ecam_decode(&wrap, 0xfffffffffff00000ULL, 4, &key, &reg),
		      "a window wrapping past 2^64");
	cr_assert_not(pci_ecam_decode(&past, (1ULL << 52) - (1 << 20), 4, &key, &reg),
		      "a window ending past the gpa space");
	cr_assert_not(pci_ecam_decode(&unaligned, 0xb0080000, 4, &key, &reg), "not 1 MiB aligned");
	cr_assert_not(pci_ecam_decode(&too_many, 0, 4, &key, &reg), "257 buses");
	cr_assert(pci_ecam_valid((1ULL << 52) - (1 << 20), 1), "the last MiB of the gpa space");
	cr_assert(pci_ecam_valid(0, 256));
}

/* PCIEXBAR as SeaBIOS and OVMF program it: the high dword, then the low one with enable. */
static bool pciexbar(struct gma_tracer_pci_vm *pv, __u64 bar)
{
	pci_host_bridge_access(pv, PCI_Q35_PCIEXBAR + 4, 4, bar >> 32, true);
	return pci_host_bridge_access(pv, PCI_Q35_PCIEXBAR, 4, (__u32)bar, true);
}

Test(virtio_pci_regs, q35_pciexbar_maps_the_ecam_window)
{
	struct gma_tracer_pci_vm pv = {};

	/* not known to be q35's MCH yet: nothing learnt */
	cr_assert_not(pciexbar(&pv, 0xb0000001));
	cr_assert_eq(pv.ecam.buses, 0);
	pv = (struct gma_tracer_pci_vm){};
	pci_host_bridge_access(&pv, 0, 4, PCI_Q35_HOST_ID, false);
	cr_assert(pciexbar(&pv, 0xb0000001), "256 buses at 0xb0000000 (SeaBIOS)");
	cr_assert_eq(pv.ecam.base, 0xb0000000);
	cr_assert_eq(pv.ecam.buses, 256);
	cr_assert_not(pciexbar(&pv, 0xb0000001), "the same again: no change");
	cr_assert(pciexbar(&pv, 0xe0000000 | 2 << 1 | 1 | 0x0c000000), "64 buses");
	cr_assert_eq(pv.ecam.base, 0xec000000, "bits 27 and 26 are the address's at 64 MiB");
	cr_assert_eq(pv.ecam.buses, 64);
	cr_assert(pciexbar(&pv, 0x8e0000000ULL | 1 << 1 | 1 | 0x0c000000), "128 buses");
	cr_assert_eq(pv.ecam.base, 0x8e8000000ULL, "bit 26 is not the address's at 128 MiB");
	cr_assert_eq(pv.ecam.buses, 128);
	cr_assert(pciexbar(&pv, 0xb0000000 | 3 << 1 | 1), "the reserved length maps nothing");
	cr_assert_eq(pv.ecam.buses, 0);
	cr_assert(pciexbar(&pv, 0xb0000001));
	cr_assert(pciexbar(&pv, 0xb0000000), "disabled");
	cr_assert_eq(pv.ecam.buses, 0);
	/* a byte write of the enable bit, as a driver poking one register could */
	cr_assert(pci_host_bridge_access(&pv, PCI_Q35_PCIEXBAR, 1, 1, true));
	cr_assert_eq(pv.ecam.base, 0xb0000000);
	/* the ID read as two words counts too; another bridge's register 0x60 is not PCIEXBAR */
	pv = (struct gma_tracer_pci_vm){};
	pci_host_bridge_access(&pv, 0, 2, 0x8086, false);
	pci_host_bridge_access(&pv, 2, 2, 0x29c0, false);
	cr_assert(pciexbar(&pv, 0xb0000001));
	pv = (struct gma_tracer_pci_vm){};
	pci_host_bridge_access(&pv, 0, 4, 0x12378086, false); /* i440FX */
	cr_assert_not(pciexbar(&pv, 0xb0000001));
	cr_assert_eq(pv.ecam.buses, 0);
	/* writes elsewhere, or of a width no bus makes, change nothing */
	pci_host_bridge_access(&pv, 0, 4, PCI_Q35_HOST_ID, false);
	cr_assert_not(pci_host_bridge_access(&pv, 0x5c, 4, 0xffffffff, true));
	cr_assert_not(pci_host_bridge_access(&pv, 0x60, 3, 0xb0000001, true));
	cr_assert_not(pci_host_bridge_access(&pv, 0x68, 4, 0xffffffff, true));
	cr_assert_eq(pv.ecam.buses, 0);
}

/*
 * An MSI-X capability at `at` as Linux reads it: ID and next, Message Control (table size
 * N - 1), then the table's BIR and offset.
 */
static void msix_cap(__u32 at, __u32 next, __u32 qsize, __u32 table)
{
	rd(at, 2, PCI_CAP_ID_MSIX | next << 8);
	rd(at + PCI_MSIX_FLAGS, 2, qsize);
	rd(at + PCI_MSIX_TABLE, 4, table);
}

/* modern_blk with an MSI-X capability after the vendor ones: 4 vectors in BAR 1 at 0x800. */
static void modern_blk_msix(void)
{
	modern_blk();
	rd(0x68 + 1, 1, 0x80); /* the notify capability's next: the list goes on */
	msix_cap(0x80, 0, 3, 0x800 | 1);
}

Test(virtio_pci_regs, msix_capability_table_and_enable)
{
	modern_blk_msix();
	cr_assert(f.notify.valid, "the vendor capabilities still found");
	cr_assert_eq(f.msix_cap, 0x80);
	cr_assert(f.msix_table.valid);
	cr_assert_eq(f.msix_table.bar, 1);
	cr_assert_eq(f.msix_table.off, 0x800);
	cr_assert_eq(f.msix_table.len, 4 * PCI_MSIX_ENTRY_SIZE);
	cr_assert_not(pci_msix_enabled(&f));
	/* the driver enables it with everything masked, then unmasks (as Linux does) */
	wr(0x80 + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 3);
	cr_assert(pci_msix_enabled(&f));
	cr_assert(pci_msix_masked(&f));
	wr(0x80 + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | 3);
	cr_assert_not(pci_msix_masked(&f));
	/* a reserved BIR: no table */
	rd(0x80 + PCI_MSIX_TABLE, 4, 0x800 | 6);
	cr_assert_not(f.msix_table.valid);
	/* the capability unlinked from the list: gone */
	rd(0x68 + 1, 1, 0);
	cr_assert_eq(f.msix_cap, 0);
	cr_assert_not(f.msix_table.valid);
	cr_assert_not(pci_msix_enabled(&f));
}

Test(virtio_pci_regs, msix_table_writes_in_the_bar)
{
	struct gma_tracer_msix_msg e = {};
	__u32 v = 99, w = 99;

	modern_blk_msix();
	cr_assert(pci_msix_table_decode(&f, 1, 0x800 + 2 * 16 + PCI_MSIX_ENTRY_DATA, 4, &v, &w));
	cr_assert_eq(v, 2);
	cr_assert_eq(w, PCI_MSIX_ENTRY_DATA);
	cr_assert(pci_msix_table_decode(&f, 1, 0x800 + 3 * 16 + 12, 4, &v, &w));
	cr_assert_eq(v, 3);
	cr_assert_eq(w, PCI_MSIX_ENTRY_VECTOR_CTRL);
	cr_assert_not(pci_msix_table_decode(&f, 1, 0x800 + 4 * 16, 4, &v, &w), "past the table");
	cr_assert_not(pci_msix_table_decode(&f, 1, 0x7fc, 4, &v, &w), "before it");
	cr_assert_not(pci_msix_table_decode(&f, 4, 0x800, 4, &v, &w), "another BAR");
	cr_assert_not(pci_msix_table_decode(&f, 1, 0x800, 2, &v, &w), "not a dword");
	cr_assert_not(pci_msix_table_decode(&f, 1, 0x802, 4, &v, &w), "unaligned");
	/* the largest table Message Control can give, and an offset near 4 GiB: no overflow */
	rd(0x80 + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_QSIZE);
	rd(0x80 + PCI_MSIX_TABLE, 4, 0xfffffff8u | 1);
	cr_assert_eq(f.msix_table.len, GMA_TRACER_MSIX_VECTORS_MAX * PCI_MSIX_ENTRY_SIZE);
	cr_assert(pci_msix_table_decode(&f, 1, 0xfffffff8ULL + 2047 * 16, 4, &v, &w));
	cr_assert_eq(v, 2047);
	cr_assert_not(pci_msix_table_decode(&f, 1, 0xfffffff8ULL + 2048 * 16, 4, &v, &w));

	pci_msix_entry_write(&e, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	pci_msix_entry_write(&e, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000);
	pci_msix_entry_write(&e, PCI_MSIX_ENTRY_UPPER_ADDR, 0);
	pci_msix_entry_write(&e, PCI_MSIX_ENTRY_DATA, 0x4031);
	pci_msix_entry_write(&e, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	cr_assert_eq(e.addr_lo, 0xfee00000);
	cr_assert_eq(e.data, 0x4031);
	cr_assert_eq(e.ctrl, 0, "unmasked last");
	cr_assert_eq(e.written, GMA_TRACER_MSIX_ENTRY_ADDR_LO | GMA_TRACER_MSIX_ENTRY_ADDR_HI |
					GMA_TRACER_MSIX_ENTRY_DATA | GMA_TRACER_MSIX_ENTRY_CTRL);
}

Test(virtio_pci_regs, modern_queue_vectors_from_the_common_configuration)
{
	__u32 q = 99;

	modern_blk_msix();
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_MSIX, 2, 0, true, &q);
	cr_assert(f.config_vector_known);
	cr_assert_eq(f.config_vector, 0);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2, true, &q);
	cr_assert_eq(virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, 3, true, &q),
		     MMIO_NONE);
	cr_assert_eq(f.vector_known, 1u << 2);
	cr_assert_eq(f.queue_vector[2], 3);
	/* the device refused it: the read back is what counts */
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR, false,
				 &q);
	cr_assert_eq(f.queue_vector[2], VIRTIO_MSI_NO_VECTOR);
	/* not a 16-bit access: not the register */
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_MSIX, 1, 1, true, &q);
	cr_assert_eq(f.queue_vector[2], VIRTIO_MSI_NO_VECTOR);
	/* a queue past what the tracer follows */
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, GMA_TRACER_QUEUES_MAX,
				 true, &q);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1, true, &q);
	cr_assert_eq(f.vector_known, 1u << 2);
	/* a reset gives the vectors back: none written since is NO_VECTOR */
	cr_assert_not(f.vectors_reset);
	virtio_pci_common_access(&f, &dev, VIRTIO_PCI_COMMON_STATUS, 1, 0, true, &q);
	cr_assert_eq(f.vector_known, 0);
	cr_assert_not(f.config_vector_known);
	cr_assert(f.vectors_reset);
}

Test(virtio_pci_regs, legacy_vectors_only_while_msix_is_enabled)
{
	rd(0, 2, PCI_VENDOR_VIRTIO);
	rd(2, 2, 0x1000);
	rd(PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	rd(PCI_CAP_PTR, 1, 0x40);
	msix_cap(0x40, 0, 2, 0x0 | 1);
	dev.queue_sel = 1;
	/* MSI-X off: offset 22 is the device configuration, not a vector */
	virtio_pci_legacy_msix_access(&f, &dev, VIRTIO_MSI_QUEUE_VECTOR, 2, 1, true);
	cr_assert_eq(f.vector_known, 0);
	wr(0x40 + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | 2);
	virtio_pci_legacy_msix_access(&f, &dev, VIRTIO_MSI_CONFIG_VECTOR, 2, 0, true);
	virtio_pci_legacy_msix_access(&f, &dev, VIRTIO_MSI_QUEUE_VECTOR, 2, 1, true);
	cr_assert(f.config_vector_known);
	cr_assert_eq(f.vector_known, 1u << 1);
	cr_assert_eq(f.queue_vector[1], 1);
	virtio_pci_legacy_msix_access(&f, &dev, VIRTIO_MSI_QUEUE_VECTOR, 1, 0, true);
	cr_assert_eq(f.queue_vector[1], 1, "a byte is not the register");
	dev.queue_sel = GMA_TRACER_QUEUES_MAX;
	virtio_pci_legacy_msix_access(&f, &dev, VIRTIO_MSI_QUEUE_VECTOR, 2, 0, true);
	cr_assert_eq(f.vector_known, 1u << 1, "a queue past the cap is not written anywhere");
	virtio_pci_legacy_msix_access(&f, &dev, VIRTIO_PCI_LEGACY_STATUS, 1, 0, true);
	cr_assert_eq(f.vector_known, 0, "reset");
	cr_assert(f.vectors_reset);
}

/*
 * A function set up before the trace began, from its snapshot (QEMU's configuration space and
 * BAR sizes): what the guest's enumeration would have taught, checked against QEMU's own
 * layout of a virtio-blk-pci function ("info pci", hw/virtio/virtio-pci.c).
 */
Test(virtio_pci_regs, a_function_learnt_from_its_snapshot)
{
	__u8 cfg[GMA_TRACER_PCI_CFG_SIZE] = { 0 };

	q35_blk_config_bytes(cfg);
	cr_assert(pci_fn_from_snapshot(&f, cfg, q35_blk_bar_size, 0, NULL));
	cr_assert(pci_is_virtio(&f));
	cr_assert_eq(pci_virtio_type(&f), 2, "blk, from the subsystem id");
	cr_assert_eq(f.bar_addr[0], 0xc000);
	cr_assert(f.bar_io[0]);
	cr_assert_eq(pci_bar_size(&f, 0), 128);
	cr_assert_eq(f.bar_addr[1], 0xfebfd000);
	cr_assert_eq(pci_bar_size(&f, 1), 4096);
	cr_assert_eq(f.bar_addr[4], 0xfebf4000);
	cr_assert_eq(pci_bar_size(&f, 4), 16384);
	cr_assert_eq(f.bar_addr[5], 0, "the upper half of BAR4");
	cr_assert(f.common.valid);
	cr_assert_eq(f.common.bar, 4);
	cr_assert_eq(f.common.off, 0);
	cr_assert(f.notify.valid);
	cr_assert_eq(f.notify.bar, 4);
	cr_assert_eq(f.notify.off, 0x3000);
	cr_assert_eq(f.notify.len, 0x1000);
	cr_assert_eq(f.notify_mult, 4);
	cr_assert(f.msix_table.valid);
	cr_assert_eq(f.msix_table.bar, 1);
	cr_assert_eq(f.msix_table.len, 2 * PCI_MSIX_ENTRY_SIZE);
	cr_assert(pci_msix_enabled(&f));
	cr_assert_eq(pci_cfg_u32(&f, PCI_BAR0 + 16), 0xfebf400c, "the BAR as read, type bits kept");
	/* without the queues' notify offsets Intel's fast path (no data) cannot be decoded */
	cr_assert_eq(virtio_pci_notify_queue(&f, 3 * 4), -1);
	cr_assert_not(pci_notify_observable(&f, 3, false), "BAR4 not looked up yet");
	f.bar_registered[4] = f.bar_addr[4]; /* as the tracer's pci_bars entry says */
	cr_assert(pci_notify_observable(&f, 3, false), "notifies carry the queue index");
	cr_assert_not(pci_notify_observable(&f, 3, true), "on a VMX host they may not");

	/* QEMU's notify offsets (the queue index): the fast path's address names the queue */
	memset(&f, 0, sizeof(f));
	{
		__u16 noff[GMA_TRACER_QUEUES_MAX];

		for (__u32 q = 0; q < GMA_TRACER_QUEUES_MAX; q++)
			noff[q] = q;
		cr_assert(pci_fn_from_snapshot(&f, cfg, q35_blk_bar_size, 0xf, noff));
	}
	cr_assert_eq(virtio_pci_notify_queue(&f, 3 * 4), 3);
	cr_assert_eq(virtio_pci_notify_queue(&f, 4 * 4), -1, "queue 4's offset not given");
	f.bar_registered[4] = f.bar_addr[4];
	cr_assert(pci_notify_observable(&f, 3, true));
	cr_assert_not(pci_notify_observable(&f, 4, true));

	/* memory decoding off: the BARs are not where the guest reaches them */
	memset(&f, 0, sizeof(f));
	cfg[PCI_COMMAND] &= ~PCI_COMMAND_MEMORY;
	cr_assert(pci_fn_from_snapshot(&f, cfg, q35_blk_bar_size, 0, NULL));
	cr_assert_eq(f.bar_addr[4], 0);
	cr_assert_eq(f.bar_addr[0], 0xc000);
}

/* Sizes no BAR can have are refused, not turned into a mask. */
Test(virtio_pci_regs, snapshot_bar_sizes_that_cannot_be)
{
	static const __u64 bad[][6] = {
		{ 96, 4096, 0, 0, 16384, 0 }, /* not a power of two */
		{ 0x10000, 4096, 0, 0, 16384, 0 }, /* I/O of 64 KiB: past what 16 bits say */
	};
	__u8 cfg[GMA_TRACER_PCI_CFG_SIZE] = { 0 };

	q35_blk_config_bytes(cfg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&f, 0, sizeof(f));
		cr_assert_not(pci_fn_from_snapshot(&f, cfg, bad[i], 0, NULL), "sizes %zu", i);
	}
	/* a 64-bit BAR of 4 GiB is real hardware, too large to follow: left unsized */
	memset(&f, 0, sizeof(f));
	cr_assert(pci_fn_from_snapshot(&f, cfg, (const __u64[6]){ 128, 4096, 0, 0, 1ULL << 32 }, 0,
				       NULL));
	cr_assert_eq(pci_bar_size(&f, 4), 0);
	cr_assert_eq(pci_bar_size(&f, 1), 4096);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A virtio-blk-pci function as QEMU 7.2 shows it on q35 (transitional, 00:01.0, on pcie.0)
 * once SeaBIOS and Linux set it up: its configuration space, read with the monitor's
 * `xp /64wx 0xb0008000` (ECAM), and its BARs as `query-pci` lists them. Ground truth for the
 * snapshot of a function set up before the trace began (test_qmp, test_virtio_pci_regs).
 * Linux enabled MSI-X (Message Control 0x8001 at 0x9a). The capability list: MSI-X at 0x98,
 * VirtIO PCI configuration access at 0x84 (its data window at 0x94), notify at 0x70, device
 * at 0x60, ISR at 0x50, common at 0x40.
 */
#ifndef GMA_TEST_Q35_VIRTIO_PCI_H
#define GMA_TEST_Q35_VIRTIO_PCI_H

#include <linux/types.h>

static const __u32 q35_blk_config[64] = {
	0x10011af4, 0x00100107, 0x01000000, 0x00000000, /* 1af4:1001, IO|MEM|MASTER */
	0x0000c001, 0xfebfd000, 0x00000000, 0x00000000, /* BAR0 I/O, BAR1 32-bit */
	0xfebf400c, 0x00000000, 0x00000000, 0x00021af4, /* BAR4 64-bit pref; subsystem 2 */
	0x00000000, 0x00000098, 0x00000000, 0x0000010a,
	0x01100009, 0x00000004, 0x00000000, 0x00001000, /* 0x40 common: BAR4 + 0 */
	0x03104009, 0x00000004, 0x00001000, 0x00001000, /* 0x50 ISR: BAR4 + 0x1000 */
	0x04105009, 0x00000004, 0x00002000, 0x00001000, /* 0x60 device: BAR4 + 0x2000 */
	0x02146009, 0x00000004, 0x00003000, 0x00001000, /* 0x70 notify: BAR4 + 0x3000 */
	0x00000004, 0x05147009, 0x00000000, 0x00000000, /* multiplier 4; 0x84 PCI cfg */
	0x00000000, 0x00000000, 0x80018411, 0x00000001, /* 0x98 MSI-X: 2 vectors, on */
	0x00000801, /* PBA: BAR1 + 0x800 */
};

/* The BARs' sizes (query-pci "regions"): 128 ports, 4 KiB, and 16 KiB 64-bit. */
static const __u64 q35_blk_bar_size[6] = { 128, 4096, 0, 0, 16384, 0 };

/* q35_blk_config as the bytes of configuration space (little-endian). */
static inline void q35_blk_config_bytes(__u8 cfg[256])
{
	for (unsigned int i = 0; i < 64; i++)
		for (unsigned int b = 0; b < 4; b++)
			cfg[4 * i + b] = q35_blk_config[i] >> (8 * b);
}

#define Q35_ECAM_BASE 0xb0000000ULL
#define Q35_BLK_CFG_DATA 0x94 /* the VirtIO PCI configuration access window */

#endif /* GMA_TEST_Q35_VIRTIO_PCI_H */

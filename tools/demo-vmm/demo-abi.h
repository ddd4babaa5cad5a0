/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the demo VMM and its guest agree on: where the guest is loaded, and the I/O ports and
 * MMIO windows through which it reports to the VMM. Included by the VMM, the guest's C and
 * assembly, and its linker script, so it holds only #defines.
 */
#ifndef GMA_DEMO_ABI_H
#define GMA_DEMO_ABI_H

/* Guest physical layout inside slot 0 (0x0-0x10000). Pattern writes stay above 0xf000. */
#define DEMO_GDT_GPA 0x00000500 /* by the VMM: null, code 0x08, data 0x10 */
#define DEMO_GUEST_LOAD_GPA 0x00001000 /* flat binary, entry at its first byte */
#define DEMO_GUEST_MAX_SIZE 0x00007000 /* image must end below the stack */
#define DEMO_GUEST_STACK_TOP 0x0000e000 /* stack grows down towards the image */

#define DEMO_SEL_CODE 0x08
#define DEMO_SEL_DATA 0x10

/*
 * Report ports (PIO, 32-bit unless noted). The guest announces each pattern write by writing
 * its gpa then its length; the length write commits the report, so the VMM logs one event.
 */
#define DEMO_PIO_BASE 0xe0
#define DEMO_PIO_WRITE_GPA (DEMO_PIO_BASE + 0x00) /* out: gpa of the next report */
#define DEMO_PIO_WRITE_LEN (DEMO_PIO_BASE + 0x04) /* out: its length, commits it */
#define DEMO_PIO_HEARTBEAT (DEMO_PIO_BASE + 0x08) /* out: heartbeat counter */
#define DEMO_PIO_STATUS (DEMO_PIO_BASE + 0x0c) /* out: one of DEMO_STATUS_* */
#define DEMO_PIO_CONSOLE (DEMO_PIO_BASE + 0x10) /* out 8-bit: console character */
#define DEMO_PIO_DELAY (DEMO_PIO_BASE + 0x14) /* in: spins per beat, 0: hlt */
#define DEMO_PIO_REQ_PACE (DEMO_PIO_BASE + 0x18) /* in: beats per virtio step, 0: no virtio */
#define DEMO_PIO_SIZE 0x1c

#define DEMO_STATUS_READY 1 /* all pattern writes done and read back correctly */
#define DEMO_STATUS_PANIC 2 /* the guest found something wrong; see its console */

/*
 * MMIO window outside RAM: every access exits to the VMM, so tracers see kvm_mmio events.
 * Offset 0 holds the heartbeat counter (write it; a read returns the last value written).
 * The virtio-mmio devices have windows of their own next to it.
 */
#define DEMO_MMIO_HEARTBEAT 0xd0000000
#define DEMO_MMIO_HEARTBEAT_SIZE 0x1000

/* virtio-mmio devices (version 2; version 1 with the VMM's --legacy), no interrupts. */
#define DEMO_VIRTIO_BLK_BASE 0xd0001000
#define DEMO_VIRTIO_CONSOLE_BASE 0xd0002000
#define DEMO_VIRTIO_NET_BASE 0xd0003000
#define DEMO_VIRTIO_MMIO_SIZE 0x200
#define DEMO_VIRTIO_QUEUE_NUM_MAX 16
#define DEMO_BLK_DISK_SIZE 0x100000 /* 1 MiB in-memory disk */

/*
 * Where the guest driver puts its rings and buffers. Data buffers are the pattern areas of
 * the guest (they hold pattern bytes; the disk is written with them first, so reads put the
 * same bytes back): 0x13f00+0x200 crosses slot 1 -> 2, 0x13f00+0x3200 crosses slots 1, 2, 3.
 * Everything else lies in slot 4 (0x31000-0x34000) or, for indirect tables, in slot 3.
 * Each queue gets 0x400 bytes: descriptor table, then the driver area at +0x100, the device
 * area at +0x200 (legacy: 0x1000-aligned areas of 0x2000 bytes, see the guest driver).
 */
#define DEMO_VQ_AREA 0x00031000 /* modern: blk q0, console q0, q1, net q0, q1 */
#define DEMO_VQ_LEGACY_AREA 0x00034000 /* legacy: 0x2000 per queue, up to 0x3e000 */
#define DEMO_BLK_HDR_AREA 0x00033000 /* 16-byte request headers, one per head */
#define DEMO_BLK_STATUS_AREA 0x00033100 /* status bytes, one per head */
#define DEMO_BLK_ID_BUF 0x00033200 /* GET_ID, 20 bytes */
#define DEMO_CONSOLE_BUF 0x00033400 /* console transmit buffer, 64 bytes */
#define DEMO_NET_HDR_BUF 0x00033800 /* virtio_net_hdr_v1, 12 bytes */
#define DEMO_NET_FRAME_BUF 0x00033840 /* Ethernet frame */
#define DEMO_INDIRECT_AREA 0x00018000 /* slot 3: indirect tables, 0x40 per head */
#define DEMO_BLK_SMALL_BUF 0x00013f00 /* 1 sector, slots 1 -> 2 */
#define DEMO_BLK_BIG_BUF 0x00013f00 /* 25 sectors, slots 1 -> 2 -> 3 */
#define DEMO_BLK_BIG_SECTORS 25
#define DEMO_BLK_BIG_SECTOR 64 /* where the big buffer's bytes live on the disk */

#endif /* GMA_DEMO_ABI_H */

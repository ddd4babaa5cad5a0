/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the demo VMM and its guest agree on: the memory layout (memslots, where the guest is
 * loaded, where its pattern, rings and buffers are), the I/O ports and MMIO windows through
 * which it reports to the VMM, and where its devices are. The tests take these facts from here
 * too, never as retyped numbers. Included by the VMM, the guest's C and assembly, and its
 * linker script, so it holds only #defines.
 */
#ifndef GMA_DEMO_ABI_H
#define GMA_DEMO_ABI_H

/*
 * Guest RAM as the VMM registers it: five memslots with separate, non-adjacent host mappings.
 * DEMO_SLOT1_GPA-DEMO_HOLE_GPA is contiguous for the guest but split over three slots, so its
 * buffers cross memslot boundaries as they do in real VMMs; then a hole the guest cannot touch
 * as RAM, then one more slot. Each slot ends where the next begins (slot 3 at the hole, slot 4
 * at DEMO_RAM_END); every boundary is a multiple of 4K.
 */
#define DEMO_SLOT0_GPA 0x00000000 /* GDT, guest code, stack; its pattern from 0xff00 */
#define DEMO_SLOT1_GPA 0x00010000
#define DEMO_SLOT2_GPA 0x00014000
#define DEMO_SLOT3_GPA 0x00017000
#define DEMO_HOLE_GPA 0x00020000 /* no RAM from here up to slot 4 */
#define DEMO_SLOT4_GPA 0x00030000
#define DEMO_RAM_END 0x00040000

/*
 * The ranges the guest fills with its pattern (pattern.h) and reports before it is ready, each
 * across a boundary a reader must get right. They stay as written: the blk data buffers lie in
 * them, and the disk holds the same bytes (see "Where the guest driver puts" below).
 */
#define DEMO_PATTERN_SLOT0_1_GPA (DEMO_SLOT1_GPA - 0x100) /* slot 0 -> 1 */
#define DEMO_PATTERN_SLOT0_1_LEN 0x200
#define DEMO_PATTERN_SLOT1_2_GPA (DEMO_SLOT2_GPA - 0x100) /* slot 1 -> 2 */
#define DEMO_PATTERN_SLOT1_2_LEN 0x200
#define DEMO_PATTERN_SLOT1_3_GPA DEMO_PATTERN_SLOT1_2_GPA /* slot 1 -> 2 -> 3 */
#define DEMO_PATTERN_SLOT1_3_LEN 0x3200
#define DEMO_PATTERN_HOLE_GPA (DEMO_HOLE_GPA - 0x100) /* slot 3's last bytes, to the hole */
#define DEMO_PATTERN_HOLE_LEN 0x100
#define DEMO_PATTERN_SLOT4_GPA DEMO_SLOT4_GPA /* slot 4, after the hole */
#define DEMO_PATTERN_SLOT4_LEN 0x1000
#define DEMO_PATTERN_END_GPA (DEMO_RAM_END - 0x80) /* the last bytes of RAM */
#define DEMO_PATTERN_END_LEN 0x80

/*
 * --memslot-churn: a memslot of the VMM's own, away from RAM, which the guest never touches:
 * added at DEMO_CHURN_GPA_A, moved to DEMO_CHURN_GPA_B, deleted, in turn.
 */
#define DEMO_CHURN_SLOT 15
#define DEMO_CHURN_GPA_A 0x00050000
#define DEMO_CHURN_GPA_B 0x00058000
#define DEMO_CHURN_SIZE 0x00001000

/* Guest physical layout inside slot 0. */
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
/*
 * Hostile mode (--hostile): the guest reads which scenarios to perform, and announces each
 * one before it does it: it sets the fields that apply (each write marks its field present),
 * then writes the scenario number to DEMO_PIO_H_COMMIT; the VMM logs one "hostile" event with
 * the fields present and clears them.
 */
#define DEMO_PIO_HOSTILE (DEMO_PIO_BASE + 0x1c) /* in: bit n set: scenario n selected */
#define DEMO_PIO_HOSTILE_REPEAT (DEMO_PIO_BASE + 0x20) /* in: rerun every N cycles, 0: once */
#define DEMO_PIO_H_BASE (DEMO_PIO_BASE + 0x24) /* out: device base */
#define DEMO_PIO_H_QUEUE (DEMO_PIO_BASE + 0x28) /* out: queue index */
#define DEMO_PIO_H_HEAD (DEMO_PIO_BASE + 0x2c) /* out: head written in the avail ring */
#define DEMO_PIO_H_AVAIL (DEMO_PIO_BASE + 0x30) /* out: avail ring position (u16) */
#define DEMO_PIO_H_ADDR_LO (DEMO_PIO_BASE + 0x34) /* out: address of interest, bits 0-31 */
#define DEMO_PIO_H_ADDR_HI (DEMO_PIO_BASE + 0x38) /* out: bits 32-63 */
#define DEMO_PIO_H_LEN (DEMO_PIO_BASE + 0x3c) /* out: length of interest */
#define DEMO_PIO_H_COUNT (DEMO_PIO_BASE + 0x40) /* out: notifies, avail jump, entries */
#define DEMO_PIO_H_COMMIT (DEMO_PIO_BASE + 0x44) /* out: DEMO_HOSTILE_*, commits */
#define DEMO_PIO_H_BASE_HI (DEMO_PIO_BASE + 0x48) /* out: device base, bits 32-63 (PCI) */
#define DEMO_PIO_TRANSPORT (DEMO_PIO_BASE + 0x4c) /* in: DEMO_TRANSPORT_* bits */
/*
 * Stopping on what a test waits for (--requests, --until): the guest reads DEMO_PIO_QUIESCE
 * before each step it would start (1: start none, the VMM is about to stop), and reports each
 * finished round of hostile scenarios on DEMO_PIO_H_DONE.
 */
#define DEMO_PIO_QUIESCE (DEMO_PIO_BASE + 0x50) /* in: 1 once no new request may start */
#define DEMO_PIO_H_DONE (DEMO_PIO_BASE + 0x54) /* out: hostile rounds completed */
#define DEMO_PIO_SUPPRESS (DEMO_PIO_BASE + 0x58) /* in: 1 with --suppress */
#define DEMO_PIO_PCI_CONFIG (DEMO_PIO_BASE + 0x5c) /* in: DEMO_PCI_CONFIG_* (--pci-config) */
/*
 * --fault of the driver side: the guest reads what to break (DEMO_FAULT_* | its device,
 * DEMO_FAULT_DEV_*, << 8 | the queue << 16) and after how many chains of that queue, and
 * reports once, on DEMO_PIO_FAULT_FIRED, that it broke it (the value: its avail index for a
 * notify it left out, its last used index for a used entry it left unreaped).
 */
#define DEMO_PIO_FAULT (DEMO_PIO_BASE + 0x60) /* in: kind | dev << 8 | queue << 16, 0: none */
#define DEMO_PIO_FAULT_AFTER (DEMO_PIO_BASE + 0x64) /* in: chains the queue takes normally */
#define DEMO_PIO_FAULT_FIRED (DEMO_PIO_BASE + 0x68) /* out: the fault was done, with an index */
/*
 * --irq: the VM has KVM's in-kernel interrupt controllers and each virtio-mmio device raises
 * its line (DEMO_VIRTIO_GSI_BASE + window number) when it wants to interrupt. The guest keeps
 * interrupts off and, as a handler would, reads each device's InterruptStatus, acknowledges
 * it, and reaps a device's used rings only when it says VIRTIO_MMIO_INT_VRING. On virtio-pci
 * the guest enables MSI-X, programs a vector per queue (DEMO_MSI_ADDRESS, data
 * DEMO_MSI_DATA(slot, vector): unique in the VM) and reads the ISR instead, which the
 * device sets once the queue's message is sent.
 */
#define DEMO_MSI_ADDRESS 0xfee00000u /* local APIC 0, fixed delivery */
#define DEMO_MSI_DATA(slot, vector) (0x40 + (slot)*8 + (vector)) /* an x86 vector, < 0x100 */
#define DEMO_PIO_IRQ (DEMO_PIO_BASE + 0x6c) /* in: 1 with --irq */
/*
 * driver-no-reap: once the guest has reaped all it will, it writes here and starts no new
 * request while a read returns 1 (DEMO_FAULT_QUIET_MS): an observer of the rings then sees
 * them all reaped before the entries the driver leaves.
 */
#define DEMO_PIO_FAULT_HOLD (DEMO_PIO_BASE + 0x70)
#define DEMO_FAULT_QUIET_MS 1000
#define DEMO_PIO_SIZE 0x74

/*
 * --fault kinds: the device side is done by the VMM, the driver side by the guest (only on
 * the first set of devices: the virtio-mmio ones with --transport both).
 */
#define DEMO_FAULT_NONE 0
#define DEMO_FAULT_DEVICE_STALL 1 /* the device stops consuming the queue */
#define DEMO_FAULT_DEVICE_SLOW 2 /* the device completes all but one request of a batch */
#define DEMO_FAULT_DRIVER_NO_NOTIFY 3 /* the driver stops notifying the queue */
#define DEMO_FAULT_DRIVER_NO_REAP 4 /* the driver stops reaping the queue's used entries */
#define DEMO_FAULT_DEVICE_NO_IRQ 5 /* the device completes without interrupting (--irq) */
#define DEMO_FAULT_DEVICE_IRQ_NO_USED 6 /* it interrupts for a request it never completes */
#define DEMO_FAULT_COUNT 7
#define DEMO_FAULT_DEV_BLK 0
#define DEMO_FAULT_DEV_CONSOLE 1
#define DEMO_FAULT_DEV_NET 2

/* Which virtio devices the VMM has (--transport): read from DEMO_PIO_TRANSPORT. */
#define DEMO_TRANSPORT_MMIO 1 /* blk, console, net at DEMO_VIRTIO_*_BASE */
#define DEMO_TRANSPORT_PCI 2 /* blk, console, net on PCI bus 0 at DEMO_PCI_SLOT_* */

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
#define DEMO_VIRTIO_HOSTILE_BASE 0xd0004000 /* only with --hostile: a blk that survives garbage */
#define DEMO_VIRTIO_MMIO_SIZE 0x200
#define DEMO_VIRTIO_GSI_BASE 5 /* --irq: blk 5, console 6, net 7, hostile 8 */
#define DEMO_VIRTIO_QUEUE_NUM_MAX 16
#define DEMO_BLK_DISK_SIZE 0x100000 /* 1 MiB in-memory disk */
#define DEMO_NET_RX_BUF_LEN 0x80 /* --suppress: each receive buffer, up to 16 of them */

/*
 * virtio-pci devices (--transport pci|both): function 0 of these devices on bus 0, next to
 * the host bridge at 00.0. The guest finds them through 0xCF8/0xCFC or ECAM (below) and
 * places their BARs
 * itself, memory BARs from DEMO_PCI_MEM_BASE up, I/O BARs from DEMO_PCI_IO_BASE up.
 */
#define DEMO_PCI_SLOT_BLK 1 /* modern (--legacy: legacy, like the others) */
#define DEMO_PCI_SLOT_CONSOLE 2 /* modern */
#define DEMO_PCI_SLOT_NET 3 /* legacy: transitional device ID, I/O BAR 0 */
#define DEMO_PCI_SLOT_HOSTILE 4 /* modern, only with --hostile */
#define DEMO_PCI_MEM_BASE 0xe0000000
#define DEMO_PCI_IO_BASE 0xc000
/*
 * How the guest reaches configuration space (--pci-config), read from DEMO_PIO_PCI_CONFIG:
 *   CF8: ports 0xCF8/0xCFC only;
 *   Q35: as on QEMU's q35 machine: the host bridge (00.0, Intel MCH 8086:29c0) maps an ECAM
 *        window where its PCIEXBAR (config 0x60, 64-bit) says; the guest programs it through
 *        0xCF8/0xCFC, as firmware does, at DEMO_ECAM_Q35_BASE (256 buses), then makes every
 *        other configuration access through ECAM;
 *   FIXED: an ECAM window at DEMO_ECAM_FIXED_BASE (DEMO_ECAM_FIXED_BUSES buses) from the
 *        start, as Cloud Hypervisor and crosvm have, and no 0xCF8/0xCFC ports at all.
 */
#define DEMO_PCI_CONFIG_CF8 0
#define DEMO_PCI_CONFIG_Q35 1
#define DEMO_PCI_CONFIG_FIXED 2
#define DEMO_ECAM_Q35_BASE 0xb0000000
#define DEMO_ECAM_Q35_BUSES 256 /* PCIEXBAR length 0, as the guest programs it */
#define DEMO_ECAM_FIXED_BASE 0xc0000000
#define DEMO_ECAM_FIXED_BUSES 16
/*
 * The key gma knows a PCI device by in its records and the VMM's log ("base"): the same as
 * GMA_PCI_BASE of <gma/record.h>. A virtio-mmio base is a gpa below 2^52: never the same.
 */
#define DEMO_PCI_BASE(bus, dev, fn) \
	((1ULL << 63) | (unsigned long long)(bus) << 8 | (dev) << 3 | (fn))

/*
 * Where the guest driver puts its rings and buffers. Data buffers are the pattern areas of
 * the guest (they hold pattern bytes; the disk is written with them first, so reads put the
 * same bytes back): the small one crosses slot 1 -> 2, the big one slots 1, 2, 3.
 * Everything else lies in slot 4 (0x31000-0x34000) or, for indirect tables, in slot 3.
 * Each queue gets DEMO_VQ_SIZE bytes: descriptor table, then the driver area at
 * DEMO_VQ_DRIVER_OFF, the device area at DEMO_VQ_DEVICE_OFF (legacy: 0x1000-aligned areas of
 * DEMO_VQ_LEGACY_SIZE bytes, see the guest driver). A set's queues take their areas in the
 * order of DEMO_VQ_BLK..DEMO_VQ_NET_TX, with the sizes DEMO_*_QUEUE_NUM.
 */
#define DEMO_VQ_AREA 0x00031000 /* modern: blk q0, console q0, q1, net q0, q1 */
#define DEMO_VQ_LEGACY_AREA 0x00034000 /* legacy: 0x2000 per queue, up to 0x3e000 */
#define DEMO_VQ_SIZE 0x400
#define DEMO_VQ_DRIVER_OFF 0x100
#define DEMO_VQ_DEVICE_OFF 0x200
#define DEMO_VQ_LEGACY_SIZE 0x2000
#define DEMO_VQ_BLK 0 /* blk q0, requests */
#define DEMO_VQ_CONSOLE_RX 1 /* console q0 */
#define DEMO_VQ_CONSOLE_TX 2 /* console q1 */
#define DEMO_VQ_NET_RX 3 /* net q0 */
#define DEMO_VQ_NET_TX 4 /* net q1 */
#define DEMO_VQS 5
/* Queue k (DEMO_VQ_*) of a modern area: its descriptor table, driver and device areas. */
#define DEMO_VQ_DESC(area, k) ((area) + (k)*DEMO_VQ_SIZE)
#define DEMO_VQ_DRIVER(area, k) (DEMO_VQ_DESC(area, k) + DEMO_VQ_DRIVER_OFF)
#define DEMO_VQ_DEVICE(area, k) (DEMO_VQ_DESC(area, k) + DEMO_VQ_DEVICE_OFF)
#define DEMO_BLK_QUEUE_NUM 16
#define DEMO_CONSOLE_QUEUE_NUM 8
#define DEMO_NET_QUEUE_NUM 8
#define DEMO_BLK_HDR_AREA 0x00033000 /* 16-byte request headers, one per head */
#define DEMO_BLK_STATUS_AREA 0x00033100 /* status bytes, one per head */
#define DEMO_BLK_ID_BUF 0x00033200 /* GET_ID, 20 bytes */
#define DEMO_CONSOLE_BUF 0x00033400 /* console transmit buffer, 64 bytes */
#define DEMO_NET_HDR_BUF 0x00033800 /* virtio_net_hdr_v1, 12 bytes */
#define DEMO_NET_FRAME_BUF 0x00033840 /* Ethernet frame */
#define DEMO_CONSOLE_BUF2 0x00033440 /* --suppress: a second console line, 64 bytes */
#define DEMO_NET_RX_AREA 0x00032400 /* --suppress: net receive buffers, up to 0x32c00 */
#define DEMO_INDIRECT_AREA 0x00018000 /* slot 3: indirect tables, 0x40 per head */
#define DEMO_BLK_SMALL_BUF DEMO_PATTERN_SLOT1_2_GPA /* 1 sector, slots 1 -> 2 */
#define DEMO_BLK_BIG_BUF DEMO_PATTERN_SLOT1_3_GPA /* 25 sectors, slots 1 -> 2 -> 3 */
#define DEMO_BLK_BIG_SECTORS 25 /* DEMO_PATTERN_SLOT1_3_LEN in 512-byte sectors */
#define DEMO_BLK_BIG_SECTOR 64 /* where the big buffer's bytes live on the disk */
/*
 * With --transport both the PCI devices have a set of areas of their own, in slot 3 (the data
 * buffers are shared: both blk devices move the same pattern bytes). Their net is legacy:
 * its two queues take 0x2000 each from DEMO_SET1_VQ_LEGACY_AREA.
 */
#define DEMO_SET1_INDIRECT_AREA 0x00018400
#define DEMO_SET1_BLK_HDR_AREA 0x00018800
#define DEMO_SET1_BLK_STATUS_AREA 0x00018900
#define DEMO_SET1_BLK_ID_BUF 0x00018a00
#define DEMO_SET1_CONSOLE_BUF 0x00018b00
#define DEMO_SET1_NET_HDR_BUF 0x00018c00
#define DEMO_SET1_NET_FRAME_BUF 0x00018c40
#define DEMO_SET1_CONSOLE_BUF2 0x00018b40
#define DEMO_SET1_NET_RX_AREA 0x0001a400 /* up to 0x1ac00 */
#define DEMO_SET1_VQ_AREA 0x00019000 /* modern: 0x400 per queue, up to 0x1a400 */
#define DEMO_SET1_VQ_LEGACY_AREA 0x0001b000 /* up to 0x1f000 */

/*
 * Hostile scenarios (--hostile), in the order the guest performs them. Bit n of
 * DEMO_PIO_HOSTILE selects scenario n; the names are in options.c. All but used-backwards
 * are done by the guest on the "hostile" device (DEMO_VIRTIO_HOSTILE_BASE), whose model drops
 * malformed chains (virtio_error, no used element) and keeps going.
 */
#define DEMO_HOSTILE_LOOP_SELF 0
#define DEMO_HOSTILE_LOOP_TWO 1
#define DEMO_HOSTILE_LOOP_LONG 2
#define DEMO_HOSTILE_NEXT_OUT_OF_RANGE 3
#define DEMO_HOSTILE_HEAD_OUT_OF_RANGE 4
#define DEMO_HOSTILE_CHAIN_TOO_LONG 5
#define DEMO_HOSTILE_NESTED_INDIRECT 6
#define DEMO_HOSTILE_INDIRECT_LEN 7
#define DEMO_HOSTILE_READ_AFTER_WRITE 8
#define DEMO_HOSTILE_ZERO_LEN 9
#define DEMO_HOSTILE_LEN_MAX 10
#define DEMO_HOSTILE_BUFFER_UNMAPPED 11
#define DEMO_HOSTILE_BUFFER_WRAPPING 12
#define DEMO_HOSTILE_AVAIL_JUMP 13
#define DEMO_HOSTILE_USED_BACKWARDS 14
#define DEMO_HOSTILE_RING_STRADDLE 15
#define DEMO_HOSTILE_MISALIGNED 16
#define DEMO_HOSTILE_NOT_READY 17
#define DEMO_HOSTILE_NOTIFY_STORM 18
#define DEMO_HOSTILE_COUNT 19

/*
 * The hostile device's queues (all of 16 entries) and buffers. It needs the modern
 * transport, so it may use the legacy ring area (0x34000-0x3e000).
 *   0: the queue the malformed chains go to
 *   1: layout written, QueueReady never set (not-ready)
 *   2: descriptor table across slots 1 -> 2 (ring-straddle; saved and restored around it,
 *      as it lies in a pattern area)
 *   3: device area ending past the end of RAM (ring-straddle)
 *   4: descriptor table not 16-aligned (misaligned)
 */
#define DEMO_HOSTILE_QUEUES 5
#define DEMO_HQ_NUM 16
#define DEMO_HQ0_DESC 0x00035400
#define DEMO_HQ0_DRIVER 0x00035500
#define DEMO_HQ0_DEVICE 0x00035600
#define DEMO_HQ1_DESC 0x00035800
#define DEMO_HQ1_DRIVER 0x00035900
#define DEMO_HQ1_DEVICE 0x00035a00
#define DEMO_HQ2_DESC (DEMO_SLOT2_GPA - 0x80) /* entries 0-7 in slot 1, 8-15 in slot 2 */
#define DEMO_HQ2_DRIVER 0x00035b00
#define DEMO_HQ2_DEVICE 0x00035c00
#define DEMO_HQ3_DESC 0x00035d00
#define DEMO_HQ3_DRIVER 0x00035e00
#define DEMO_HQ3_DEVICE (DEMO_RAM_END - 4) /* 6 + 8 * 16 bytes: 0x82 past the end of RAM */
#define DEMO_HQ4_DESC 0x00035008
#define DEMO_HQ4_DRIVER 0x00035180
#define DEMO_HQ4_DEVICE 0x00035200
#define DEMO_HOSTILE_HDR_BUF 0x00036000 /* 16-byte GET_ID request header */
#define DEMO_HOSTILE_ID_BUF 0x00036040 /* 20 bytes */
#define DEMO_HOSTILE_STATUS_BUF 0x00036080 /* status bytes */
#define DEMO_HOSTILE_ITAB 0x00036400 /* indirect table, up to 32 entries */
#define DEMO_HOSTILE_ITAB2 0x00036800 /* second indirect table (nested-indirect) */
#define DEMO_HOSTILE_SAVE_AREA 0x00036c00 /* bytes under DEMO_HQ2_DESC while it is in use */

/*
 * Console q1's legacy rings: only --legacy uses them, and they lie past the hostile device's
 * queues and buffers, so without --legacy it is a page of RAM nothing ever touches (the
 * kernel cannot read it: it was never made resident).
 */
#define DEMO_UNTOUCHED_GPA (DEMO_VQ_LEGACY_AREA + DEMO_VQ_CONSOLE_TX * DEMO_VQ_LEGACY_SIZE)

#endif /* GMA_DEMO_ABI_H */

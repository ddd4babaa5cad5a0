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
#define DEMO_PIO_SIZE 0x18

#define DEMO_STATUS_READY 1 /* all pattern writes done and read back correctly */
#define DEMO_STATUS_PANIC 2 /* the guest found something wrong; see its console */

/*
 * MMIO window outside RAM: every access exits to the VMM, so tracers see kvm_mmio events.
 * Offset 0 holds the heartbeat counter (write it; a read returns the last value written).
 * Later devices (virtio-mmio) get windows of their own next to it.
 */
#define DEMO_MMIO_HEARTBEAT 0xd0000000
#define DEMO_MMIO_HEARTBEAT_SIZE 0x1000

#endif /* GMA_DEMO_ABI_H */

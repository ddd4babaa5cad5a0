// SPDX-License-Identifier: GPL-2.0
/*
 * The demo guest: writes the pattern of pattern.h over ranges that cross memslot boundaries,
 * reports each range to the VMM, then sends heartbeats forever so the VM keeps exiting.
 */
#include "demo-abi.h"
#include "io.h"
#include "lib.h"
#include "pattern.h"

struct pattern_write {
	uint32_t gpa;
	uint32_t len;
};

/* The pattern areas of demo-abi.h, each across a slot boundary, the hole or the end of RAM. */
static const struct pattern_write writes[] = {
	{ DEMO_PATTERN_SLOT0_1_GPA, DEMO_PATTERN_SLOT0_1_LEN },
	{ DEMO_PATTERN_SLOT1_2_GPA, DEMO_PATTERN_SLOT1_2_LEN },
	{ DEMO_PATTERN_SLOT1_3_GPA, DEMO_PATTERN_SLOT1_3_LEN },
	{ DEMO_PATTERN_HOLE_GPA, DEMO_PATTERN_HOLE_LEN },
	{ DEMO_PATTERN_SLOT4_GPA, DEMO_PATTERN_SLOT4_LEN },
	{ DEMO_PATTERN_END_GPA, DEMO_PATTERN_END_LEN },
};

static void fill(uint32_t gpa, uint32_t len)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)gpa;

	for (uint32_t i = 0; i < len; i++)
		p[i] = gma_demo_pattern(gpa + i);
}

/* Reads back what was written: the VMM's "ready" then means the guest saw it too. */
static void check(uint32_t gpa, uint32_t len)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)gpa;

	for (uint32_t i = 0; i < len; i++) {
		if (p[i] != gma_demo_pattern(gpa + i)) {
			puts("pattern mismatch at ");
			put_hex(gpa + i);
			putc('\n');
			panic("memory does not hold what was written");
		}
	}
}

static void report(uint32_t gpa, uint32_t len)
{
	outl(DEMO_PIO_WRITE_GPA, gpa);
	outl(DEMO_PIO_WRITE_LEN, len);
}

void guest_main(void)
{
	uint32_t n, pace;

	puts("demo guest: writing patterns\n");
	for (n = 0; n < sizeof(writes) / sizeof(writes[0]); n++) {
		fill(writes[n].gpa, writes[n].len);
		report(writes[n].gpa, writes[n].len);
	}
	for (n = 0; n < sizeof(writes) / sizeof(writes[0]); n++)
		check(writes[n].gpa, writes[n].len);
	outl(DEMO_PIO_STATUS, DEMO_STATUS_READY);
	puts("demo guest: ready, heartbeats follow\n");

	/*
	 * Between heartbeats, either halt (the VMM sees the HLT exit and resumes us at its
	 * heartbeat rate: few instructions, few kvm_emulate_insn events) or spin, which keeps
	 * the vCPU busy for load tests.
	 */
	pace = inl(DEMO_PIO_DELAY);
	io_init(inl(DEMO_PIO_REQ_PACE));
	for (n = 0;; n++) {
		if (pace)
			delay(pace);
		else
			asm volatile("hlt");
		outl(DEMO_PIO_HEARTBEAT, n);
		mmio_write32(DEMO_MMIO_HEARTBEAT, n);
		io_tick(n);
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The demo guest's memory pattern, shared by the guest and the tests.
 *
 * Every byte the guest writes is a pure function of its guest physical address, so a test can
 * check any range it reads back (through /proc/PID/mem, a BPF sample, a dump) without knowing
 * which write put it there. The function mixes all four address bytes: a translation that is
 * off by a page, a slot size or 64K gives different bytes, and neighbouring bytes differ.
 * Only the low 32 bits of the address are used, which keeps 64-bit arithmetic out of the
 * 32-bit guest; the demo's RAM lies far below 4G.
 */
#ifndef GMA_DEMO_PATTERN_H
#define GMA_DEMO_PATTERN_H

#include <stddef.h>
#include <stdint.h>

static inline uint8_t gma_demo_pattern(uint64_t gpa)
{
	uint32_t a = (uint32_t)gpa;

	return (uint8_t)(a * 131u + (a >> 8) * 7u + (a >> 16) * 29u + (a >> 24) * 53u);
}

/*
 * Checks @len bytes at @buf, read from guest physical address @gpa, against the pattern.
 * Returns the offset of the first byte that differs, or @len when all match.
 */
static inline size_t gma_demo_pattern_check(uint64_t gpa, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != gma_demo_pattern(gpa + i))
			break;
	return i;
}

#endif /* GMA_DEMO_PATTERN_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor core over random region tables and requests, checked byte by byte against a
 * naive reference: translate every byte on its own. Region tables that libgma refuses must be
 * exactly the invalid ones; reads return the guest's bytes or fail where the reference says;
 * a write that fails changes nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"

#include <gma/gma.h>

#define MAX_REGIONS 16
#define SLOT 8192 /* each region has its own slice of the arena */

static uint8_t arena[MAX_REGIONS * SLOT], before[MAX_REGIONS * SLOT];

/* The reference: the region holding gpa, or -1 (regions never overlap when valid). */
static int ref_region(const struct gma_region *r, size_t n, uint64_t gpa)
{
	for (size_t i = 0; i < n; i++)
		if (gpa >= r[i].gpa && gpa - r[i].gpa < r[i].size)
			return i;
	return -1;
}

/* Leading bytes of [gpa, gpa + len) the reference can translate. */
static size_t ref_mapped_prefix(const struct gma_region *r, size_t n, uint64_t gpa, size_t len)
{
	size_t k = 0;

	while (k < len && ref_region(r, n, gpa + k) >= 0)
		k++;
	return k;
}

static bool ref_valid(const struct gma_region *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!r[i].size || r[i].gpa + (r[i].size - 1) < r[i].gpa)
			return false;
		if (i && r[i].gpa <= r[i - 1].gpa + (r[i - 1].size - 1))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct gma_region r[MAX_REGIONS];
	size_t n = take(&in, 1) % (MAX_REGIONS + 1);
	static uint8_t buf[4 * SLOT], want[4 * SLOT];
	struct gma_mem *mem;

	for (size_t i = 0; i < n; i++) {
		/* gpas near interesting edges: small, shifted high, near 2^64 */
		uint64_t g = take(&in, 4), shift = take(&in, 1) % 64;

		r[i].gpa = shift >= 61 ? ~0ULL - g : g << (shift % 40);
		r[i].size = take(&in, 2) % SLOT + (take(&in, 1) & 1);
		r[i].addr = (uint64_t)(uintptr_t)(arena + i * SLOT);
	}
	for (size_t i = 0; i < sizeof(arena); i++)
		arena[i] = (uint8_t)(i * 7 + (i >> 9));
	mem = gma_mem_new_local(r, n);
	if (ref_valid(r, n) != (mem != NULL))
		abort(); /* validation disagrees with the contract */
	if (!mem)
		return 0;

	for (int op = 0; op < 8 && in.left; op++) {
		uint8_t kind = take(&in, 1) % 4;
		int base = n ? (int)(take(&in, 1) % n) : 0;
		uint64_t gpa = n ? r[base].gpa + (int64_t)(int16_t)take(&in, 2) : take(&in, 8);
		size_t len = take(&in, 2) % sizeof(buf), done = 99, k;
		bool wraps = len && gpa + (len - 1) < gpa;
		int err;

		switch (kind) {
		case 0: /* read a buffer */
			err = gma_mem_read(mem, gpa, buf, len, &done);
			k = wraps ? 0 : ref_mapped_prefix(r, n, gpa, len);
			if (wraps ? err != -EOVERFLOW : (k == len) != (err == 0))
				abort();
			if (done != k)
				abort();
			for (size_t i = 0; i < done; i++) {
				int ri = ref_region(r, n, gpa + i);

				if (buf[i] != arena[ri * SLOT + (gpa + i - r[ri].gpa)])
					abort();
			}
			break;
		case 1: /* write a buffer: all or nothing on holes */
			memcpy(before, arena, sizeof(arena));
			for (size_t i = 0; i < len; i++)
				want[i] = (uint8_t)(i ^ 0x5a);
			err = gma_mem_write(mem, gpa, want, len, &done);
			k = wraps ? 0 : ref_mapped_prefix(r, n, gpa, len);
			if ((k == len && !wraps) != (err == 0))
				abort();
			if (err && memcmp(before, arena, sizeof(arena)))
				abort(); /* a failed write changed guest memory */
			break;
		case 2: { /* one object: within one region, or an error and nothing copied */
			int ri = ref_region(r, n, gpa);
			bool fits = !wraps && ri >= 0 && gpa - r[ri].gpa + len <= r[ri].size;

			memset(buf, 0xee, len);
			err = gma_mem_read_obj(mem, gpa, buf, len);
			if (fits != (err == 0))
				abort();
			for (size_t i = 0; i < len; i++)
				if (buf[i] !=
				    (fits ? arena[ri * SLOT + (gpa + i - r[ri].gpa)] : 0xee))
					abort();
			break;
		}
		case 3: { /* volatile */
			unsigned int w = 1u << (take(&in, 1) % 5); /* 1..16: 16 is invalid */
			__u64 v;

			err = gma_mem_read_volatile(mem, gpa, w, &v);
			if (!err && (w > 8 || (gpa & (w - 1)) || ref_region(r, n, gpa) < 0))
				abort();
			break;
		}
		}
	}
	gma_mem_free(mem);
	return 0;
}

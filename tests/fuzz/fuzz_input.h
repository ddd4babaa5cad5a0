/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Structured fuzz targets read their input as a little-endian stream of fields. */
#ifndef GMA_FUZZ_INPUT_H
#define GMA_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t left;
};

/* The next n bytes (n <= 8) as a little-endian number; 0 for the bytes past the end. */
static inline uint64_t take(struct input *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

#endif /* GMA_FUZZ_INPUT_H */

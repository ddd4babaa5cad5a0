/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A guest memory layout made real for one backend: each region gets its own host mapping
 * (local), a mapping in a child process (process) or a scattered range of a file (file), all
 * filled with test_pattern(). test_guest_peek/poke go around libgma to the backing itself, so
 * tests compare libgma against ground truth, not against itself.
 */
#ifndef GMA_TEST_GUEST_H
#define GMA_TEST_GUEST_H

#include <gma/gma.h>

enum test_backend {
	TEST_LOCAL,
	TEST_PROCESS,
	TEST_FILE,
};

struct test_layout {
	__u64 gpa;
	__u64 size;
};

struct test_guest {
	enum test_backend kind;
	struct gma_region *regions;
	size_t n;
	struct gma_mem *mem;
	pid_t child;
	int ctl_fd;
	int fd;
	char path[64];
};

static inline __u8 test_pattern(__u64 gpa)
{
	return (__u8)(gpa * 131 + (gpa >> 8) * 7 + (gpa >> 16));
}

/* Builds the backing and a gma_mem over it; aborts the test on any set-up failure. */
struct test_guest *test_guest_new(enum test_backend kind, const struct test_layout *layout,
				  size_t n);
void test_guest_free(struct test_guest *g);

/* Ground truth: reads/writes the backing of [gpa, gpa + len) without libgma. */
void test_guest_peek(struct test_guest *g, __u64 gpa, void *buf, size_t len);
void test_guest_poke(struct test_guest *g, __u64 gpa, const void *buf, size_t len);

/* Fills buf with the pattern of [gpa, gpa + len). */
void test_pattern_fill(__u64 gpa, void *buf, size_t len);

extern const char *const test_backend_names[];

#endif /* GMA_TEST_GUEST_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor contract through libgma, on each userspace backend: an in-process region table,
 * a real child process, and a dump file. Ground truth comes from the backing itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_guest.h"

#define SMALL_BASE 0x10000ULL
#define SMALL_SIZE 0x40ULL
#define NR_SMALL 64
#define ODD_GPA (SMALL_BASE + NR_SMALL * SMALL_SIZE)
#define TOP_GPA 0xfffffffffffff000ULL

/*
 * 0x1000-0x4000 is three regions (A, B, C), 0x4000-0x5000 a hole, then D; 64 regions of 64
 * bytes from 0x10000; a 3-byte region; and a region ending exactly at 2^64.
 */
static struct test_layout layout[4 + NR_SMALL + 2] = {
	{ 0x1000, 0x1000 },
	{ 0x2000, 0x800 },
	{ 0x2800, 0x1800 },
	{ 0x5000, 0x1000 },
};
static const size_t nr_layout = sizeof(layout) / sizeof(layout[0]);

static struct test_guest *guest_new(enum test_backend kind)
{
	for (int i = 0; i < NR_SMALL; i++)
		layout[4 + i] = (struct test_layout){ SMALL_BASE + i * SMALL_SIZE, SMALL_SIZE };
	layout[4 + NR_SMALL] = (struct test_layout){ ODD_GPA, 3 };
	layout[5 + NR_SMALL] = (struct test_layout){ TOP_GPA, 0x1000 };
	return test_guest_new(kind, layout, nr_layout);
}

/* Reads [gpa, gpa + len) through libgma and checks every byte against the pattern. */
static void expect_read(struct test_guest *g, __u64 gpa, size_t len)
{
	char *got = malloc(len), *want = malloc(len);
	size_t done = 1234;

	cr_assert(got && want);
	test_pattern_fill(gpa, want, len);
	cr_assert_eq(gma_mem_read(g->mem, gpa, got, len, &done), 0, "read 0x%llx+%zu (%s)",
		     (unsigned long long)gpa, len, test_backend_names[g->kind]);
	cr_assert_eq(done, len);
	cr_assert_arr_eq(got, want, len);
	free(got);
	free(want);
}

/* Each body runs once per backend, as three tests named after the backend. */
#define BACKEND_TEST(name)                        \
	static void name(enum test_backend kind); \
	Test(local, name)                         \
	{                                         \
		name(TEST_LOCAL);                 \
	}                                         \
	Test(process, name)                       \
	{                                         \
		name(TEST_PROCESS);               \
	}                                         \
	Test(file, name)                          \
	{                                         \
		name(TEST_FILE);                  \
	}                                         \
	static void name(enum test_backend kind)

BACKEND_TEST(translate_gives_address_and_limit)
{
	struct test_guest *g = guest_new(kind);
	__u64 addr, limit;

	cr_assert_eq(gma_mem_translate(g->mem, 0x2100, &addr, &limit), 0);
	cr_assert_eq(addr, g->regions[1].addr + 0x100);
	cr_assert_eq(limit, 0x700);
	cr_assert_eq(gma_mem_translate(g->mem, 0x27ff, &addr, &limit), 0);
	cr_assert_eq(limit, 1);
	cr_assert_eq(gma_mem_translate(g->mem, 0x4000, &addr, &limit), -EINVAL, "hole");
	cr_assert_eq(gma_mem_translate(g->mem, 0xfff, &addr, &limit), -EINVAL, "below first");
	cr_assert_eq(gma_mem_translate(g->mem, 0x100000, &addr, &limit), -EINVAL, "gap");
	test_guest_free(g);
}

BACKEND_TEST(read_spans_2_3_and_64_regions)
{
	struct test_guest *g = guest_new(kind);

	expect_read(g, 0x1f00, 0x200); /* A, B */
	expect_read(g, 0x1f00, 0xa00); /* A, B, C */
	expect_read(g, 0x1000, 0x3000); /* all of A, B, C exactly */
	expect_read(g, SMALL_BASE, NR_SMALL * SMALL_SIZE); /* 64 regions */
	expect_read(g, SMALL_BASE + 1, NR_SMALL * SMALL_SIZE + 1); /* 64 + the odd one */
	test_guest_free(g);
}

BACKEND_TEST(read_stops_at_hole_with_count)
{
	struct test_guest *g = guest_new(kind);
	char got[0x200], want[0x100];
	size_t done = 0;

	cr_assert_eq(gma_mem_read(g->mem, 0x3f00, got, sizeof(got), &done), -EINVAL);
	cr_assert_eq(done, 0x100, "bytes before the hole: %zu", done);
	test_pattern_fill(0x3f00, want, sizeof(want));
	cr_assert_arr_eq(got, want, sizeof(want));
	/* A hole part-way through many regions: from the last small region into the gap after */
	cr_assert_eq(gma_mem_read(g->mem, ODD_GPA - 8, got, 16, &done), -EINVAL);
	cr_assert_eq(done, 11);
	test_guest_free(g);
}

BACKEND_TEST(write_hitting_hole_changes_nothing)
{
	struct test_guest *g = guest_new(kind);
	char junk[0x1200], before[0x1100], after[0x1100];
	size_t done = 99;

	memset(junk, 0x5a, sizeof(junk));
	test_guest_peek(g, 0x2f00, before, sizeof(before));
	/* Starts in C and would cross into the hole at 0x4000 */
	cr_assert_eq(gma_mem_write(g->mem, 0x2f00, junk, sizeof(junk), &done), -EINVAL);
	cr_assert_eq(done, 0);
	test_guest_peek(g, 0x2f00, after, sizeof(after));
	cr_assert_arr_eq(before, after, sizeof(after), "guest bytes changed by a failed write");
	test_guest_free(g);
}

BACKEND_TEST(write_spans_regions)
{
	struct test_guest *g = guest_new(kind);
	char data[0xa00], back[0xa00];
	size_t done = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 3);
	cr_assert_eq(gma_mem_write(g->mem, 0x1f00, data, sizeof(data), &done), 0);
	cr_assert_eq(done, sizeof(data));
	test_guest_peek(g, 0x1f00, back, sizeof(back));
	cr_assert_arr_eq(back, data, sizeof(data));
	/* and over the 64 small regions */
	cr_assert_eq(gma_mem_write(g->mem, SMALL_BASE + 5, data, sizeof(data), &done), 0);
	test_guest_peek(g, SMALL_BASE + 5, back, sizeof(back));
	cr_assert_arr_eq(back, data, sizeof(data));
	test_guest_free(g);
}

BACKEND_TEST(object_never_straddles)
{
	struct test_guest *g = guest_new(kind);
	char obj[0x801], want[0x800];

	memset(obj, 0xaa, sizeof(obj));
	/* B is 0x800 bytes: one byte more does not fit, and nothing is copied */
	cr_assert_eq(gma_mem_read_obj(g->mem, 0x2000, obj, 0x801), -ERANGE);
	for (size_t i = 0; i < sizeof(obj); i++)
		cr_assert_eq((__u8)obj[i], 0xaa, "byte %zu copied by a failed read_obj", i);
	cr_assert_eq(gma_mem_read_obj(g->mem, 0x2000, obj, 0x800), 0);
	test_pattern_fill(0x2000, want, sizeof(want));
	cr_assert_arr_eq(obj, want, sizeof(want));
	/* 8 bytes at 0x1ffc would straddle A and B although both are mapped */
	cr_assert_eq(gma_mem_read_obj(g->mem, 0x1ffc, obj, 8), -ERANGE);
	cr_assert_eq(gma_mem_write_obj(g->mem, 0x1ffc, obj, 8), -ERANGE);
	test_guest_peek(g, 0x1ff8, obj, 16);
	test_pattern_fill(0x1ff8, want, 16);
	cr_assert_arr_eq(obj, want, 16, "failed write_obj changed guest memory");
	cr_assert_eq(gma_mem_read_obj(g->mem, 0x4000, obj, 4), -EINVAL, "hole");
	test_guest_free(g);
}

BACKEND_TEST(zero_length_at_unmapped_succeeds)
{
	struct test_guest *g = guest_new(kind);
	size_t done = 7;
	char c;

	cr_assert_eq(gma_mem_read(g->mem, 0x4000, &c, 0, &done), 0);
	cr_assert_eq(done, 0);
	cr_assert_eq(gma_mem_write(g->mem, 0xdead0000, &c, 0, &done), 0);
	cr_assert_eq(gma_mem_read(g->mem, ~0ULL, &c, 0, NULL), 0);
	test_guest_free(g);
}

BACKEND_TEST(wrap_past_2_64_is_overflow)
{
	struct test_guest *g = guest_new(kind);
	char buf[32];
	size_t done = 5;

	cr_assert_eq(gma_mem_read(g->mem, ~0ULL - 7, buf, 16, &done), -EOVERFLOW);
	cr_assert_eq(done, 0);
	cr_assert_eq(gma_mem_write(g->mem, ~0ULL - 7, buf, 16, NULL), -EOVERFLOW);
	cr_assert_eq(gma_mem_read_obj(g->mem, ~0ULL, buf, 2), -EOVERFLOW);
	/* A range ending exactly at 2^64 does not wrap */
	expect_read(g, ~0ULL - 15, 16);
	cr_assert_eq(gma_mem_read_obj(g->mem, ~0ULL, buf, 1), 0);
	test_guest_free(g);
}

BACKEND_TEST(volatile_width_and_alignment)
{
	struct test_guest *g = guest_new(kind);
	unsigned int widths[] = { 1, 2, 4, 8 };
	__u64 v, want;

	for (int i = 0; i < 4; i++) {
		unsigned int w = widths[i];
		int err = gma_mem_read_volatile(g->mem, 0x1008, w, &v);

		if (kind == TEST_PROCESS) {
			cr_assert_eq(err, -EOPNOTSUPP, "process backend cannot promise untorn");
			continue;
		}
		cr_assert_eq(err, 0, "width %u: %d", w, err);
		want = 0;
		test_pattern_fill(0x1008, &want, w);
		cr_assert_eq(v, want, "width %u: 0x%llx != 0x%llx", w, (unsigned long long)v,
			     (unsigned long long)want);
		cr_assert_eq(gma_mem_write_volatile(g->mem, 0x1010, w, 0x1122334455667788ULL), 0);
		v = 0;
		test_guest_peek(g, 0x1010, &v, w);
		want = w == 8 ? 0x1122334455667788ULL :
				0x1122334455667788ULL & ((1ULL << (w * 8)) - 1);
		cr_assert_eq(v, want, "volatile write of width %u", w);
		/* misaligned for every width above 1 */
		if (w > 1)
			cr_assert_eq(gma_mem_read_volatile(g->mem, 0x1009, w, &v), -EINVAL);
	}
	cr_assert_eq(gma_mem_read_volatile(g->mem, 0x1008, 3, &v), -EINVAL, "width 3");
	cr_assert_eq(gma_mem_read_volatile(g->mem, 0x1008, 16, &v), -EINVAL, "width 16");
	cr_assert_eq(gma_mem_read_volatile(g->mem, 0x4000, 4, &v), -EINVAL, "hole");
	cr_assert_eq(gma_mem_write_volatile(g->mem, 0x4000, 4, 0), -EINVAL, "hole");
	/* The 3-byte region: an aligned 4-byte access runs past its end */
	cr_assert_eq(gma_mem_read_volatile(g->mem, ODD_GPA, 4, &v), -ERANGE);
	test_guest_free(g);
}

Test(process, copy_fault_is_efault_not_einval)
{
	/* 0x1000 is below mmap_min_addr: never mapped in the VMM */
	struct gma_region r[] = { { 0x0, 0x2000, 0x1000 } };
	struct gma_mem *mem = gma_mem_new_process(getpid(), r, 1);
	char buf[16];
	size_t done = 3;

	cr_assert(mem);
	cr_assert_eq(gma_mem_read(mem, 0x10, buf, sizeof(buf), &done), -EFAULT);
	cr_assert_eq(done, 0);
	cr_assert_eq(gma_mem_read_obj(mem, 0x10, buf, 8), -EFAULT);
	cr_assert_eq(gma_mem_write(mem, 0x10, buf, 8, NULL), -EFAULT);
	cr_assert_eq(gma_mem_read(mem, 0x4000, buf, 8, NULL), -EINVAL, "translation still EINVAL");
	gma_mem_free(mem);
}

/*
 * A span read with one process_vm_readv over many regions: a fault in a middle region stops
 * it there, with the regions before it copied and counted, as region by region.
 */
Test(process, fault_mid_span_counts_the_regions_before_it)
{
	static char a[0x300], c[0x100];
	struct gma_region r[] = {
		{ 0x0, 0x100, (__u64)(unsigned long)a },
		{ 0x100, 0x200, (__u64)(unsigned long)(a + 0x100) },
		{ 0x300, 0x100, 0x1000 }, /* below mmap_min_addr: never mapped */
		{ 0x400, 0x100, (__u64)(unsigned long)c },
	};
	struct gma_mem *mem = gma_mem_new_process(getpid(), r, 4);
	char buf[0x500];
	size_t done = 0;

	cr_assert(mem);
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (char)(i * 13 + 1);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(gma_mem_read(mem, 0x80, buf, 0x400, &done), -EFAULT);
	cr_assert_eq(done, 0x280, "bytes of the regions before the fault: 0x%zx", done);
	cr_assert_arr_eq(buf, a + 0x80, 0x280);
	/* and a read ending before the fault is whole */
	cr_assert_eq(gma_mem_read(mem, 0x10, buf, 0x2f0, &done), 0);
	cr_assert_eq(done, 0x2f0);
	cr_assert_arr_eq(buf, a + 0x10, 0x2f0);
	gma_mem_free(mem);
}

Test(process, process_gone_is_efault)
{
	struct test_guest *g = guest_new(TEST_PROCESS);
	char buf[8];

	expect_read(g, 0x1000, 8);
	kill(g->child, SIGKILL);
	waitpid(g->child, NULL, 0);
	g->child = 0;
	cr_assert_eq(gma_mem_read(g->mem, 0x1000, buf, 8, NULL), -EFAULT);
	test_guest_free(g);
}

Test(process, unknown_pid_is_esrch)
{
	struct gma_region r[] = { { 0, 0x1000, 0x10000 } };
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	errno = 0;
	cr_assert_null(gma_mem_new_process(pid, r, 1));
	cr_assert_eq(errno, ESRCH);
}

Test(file, dump_shorter_than_map_is_efault)
{
	struct test_guest *g = guest_new(TEST_FILE);
	struct gma_region r[] = { { 0x0, 0x1000, 0 }, { 0x1000, 0x1000, 1 << 30 } };
	struct gma_mem *mem = gma_mem_new_file(g->path, r, 2, NULL);
	char buf[0x20];
	size_t done = 0;

	cr_assert(mem);
	cr_assert_eq(gma_mem_read(mem, 0xff0, buf, sizeof(buf), &done), -EFAULT);
	cr_assert_eq(done, 0x10);
	cr_assert_eq(gma_mem_write(mem, 0x1000, buf, 8, NULL), -EROFS, "opened read-only");
	gma_mem_free(mem);
	test_guest_free(g);
}

Test(file, missing_file_reports_open_errno)
{
	struct gma_region r[] = { { 0, 0x1000, 0 } };

	errno = 0;
	cr_assert_null(gma_mem_new_file("/nonexistent/gma.dump", r, 1, NULL));
	cr_assert_eq(errno, ENOENT);
}

/* A FIFO would block open(2) until a writer came: it is refused at once, with its reason. */
Test(file, fifo_is_refused_without_waiting, .timeout = 5)
{
	struct gma_region r[] = { { 0, 0x1000, 0 } };
	char path[64] = "/tmp/gma-fifo-XXXXXX";

	cr_assert(mkdtemp(path));
	strcat(path, "/f");
	cr_assert_eq(mkfifo(path, 0600), 0);
	errno = 0;
	cr_assert_null(gma_mem_new_file(path, r, 1, NULL));
	cr_expect_eq(errno, ESPIPE, "errno %d", errno);
	unlink(path);
	*strrchr(path, '/') = 0;
	rmdir(path);
}

Test(file, directory_and_character_device_are_refused)
{
	struct gma_region r[] = { { 0, 0x1000, 0 } };

	errno = 0;
	cr_assert_null(gma_mem_new_file("/tmp", r, 1, NULL));
	cr_expect_eq(errno, EISDIR);
	errno = 0;
	cr_assert_null(gma_mem_new_file("/dev/null", r, 1, NULL));
	cr_expect_eq(errno, ESPIPE);
}

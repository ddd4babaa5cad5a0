// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Region tables are checked when a gma_mem is created: bad tables are a clear error. */
#include <errno.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <gma/gma.h>

static void expect_bad(const struct gma_region *r, size_t n, size_t bad_index)
{
	size_t bad = 12345;

	cr_assert_eq(gma_regions_validate(r, n, &bad), -EINVAL);
	cr_assert_eq(bad, bad_index, "reported region %zu, expected %zu", bad, bad_index);
	errno = 0;
	cr_assert_null(gma_mem_new_local(r, n));
	cr_assert_eq(errno, EINVAL);
}

Test(regions, good_table_accepted)
{
	struct gma_region r[] = { { 0, 0x1000, 0x10000 },
				  { 0x1000, 0x1000, 0x5000 },
				  { 0xfffffffffffff000ULL, 0x1000, 0x20000 } };

	cr_assert_eq(gma_regions_validate(r, 3, NULL), 0);
	cr_assert_eq(gma_regions_validate(r, 0, NULL), 0, "an empty table is valid");
}

Test(regions, overlapping)
{
	struct gma_region r[] = { { 0, 0x1000, 0x10000 }, { 0xfff, 0x10, 0x20000 } };

	expect_bad(r, 2, 1);
}

Test(regions, unsorted)
{
	struct gma_region r[] = { { 0x0, 0x1000, 0 }, { 0x3000, 0x1000, 0 }, { 0x2000, 0x100, 0 } };

	expect_bad(r, 3, 2);
}

Test(regions, guest_range_wraps)
{
	struct gma_region r[] = { { 0xfffffffffffff000ULL, 0x1001, 0x10000 } };

	expect_bad(r, 1, 0);
}

Test(regions, host_range_wraps)
{
	struct gma_region r[] = { { 0, 0x1000, 0x10000 }, { 0x1000, 0x1000, ~0ULL - 10 } };

	expect_bad(r, 2, 1);
}

Test(regions, empty_region)
{
	struct gma_region r[] = { { 0, 0x1000, 0x10000 }, { 0x2000, 0, 0x20000 } };

	expect_bad(r, 2, 1);
}

Test(regions, too_many)
{
	size_t n = GMA_REGIONS_MAX + 1;
	struct gma_region *r = calloc(n, sizeof(*r));

	cr_assert(r);
	for (size_t i = 0; i < n; i++)
		r[i] = (struct gma_region){ i * 0x1000, 0x1000, 0x100000 };
	cr_assert_eq(gma_regions_validate(r, n, NULL), -E2BIG);
	cr_assert_eq(gma_regions_validate(r, n - 1, NULL), 0);
	errno = 0;
	cr_assert_null(gma_mem_new_local(r, n));
	cr_assert_eq(errno, E2BIG);
	free(r);
}

Test(regions, table_is_copied)
{
	struct gma_region r[] = { { 0x1000, 0x1000, 0x10000 } };
	struct gma_mem *mem = gma_mem_new_local(r, 1);
	const struct gma_region *kept;
	size_t n;

	cr_assert(mem);
	r[0].gpa = 0x9000;
	kept = gma_mem_regions(mem, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(kept[0].gpa, 0x1000);
	gma_mem_free(mem);
}

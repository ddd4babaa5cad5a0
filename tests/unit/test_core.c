// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor core over a scripted backend, for the rules no well-formed region table can
 * trigger: a translation reporting 0 bytes, more regions than GMA_SPAN_MAX, faults at a chosen
 * step, and proof that a write is validated before its first copy.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <linux/types.h>

#define GMA_SPAN_MAX 4
#define GMA_BACKEND_HAS_WRITE

struct gma_backend {
	__u64 step; /* every region is `step` bytes long */
	__u64 zero_at; /* gpa whose translation reports limit 0 (0: none) */
	__u64 fault_at; /* host address whose copy faults (0: none) */
	__u64 hole_at; /* gpa that does not translate (0: none) */
	int copies; /* backend copies performed */
	__u8 mem[0x1000];
};

#include <gma/accessor.h>

static int gma_backend_translate(struct gma_backend *be, __u64 gpa, struct gma_xlat *out)
{
	if (gpa >= sizeof(be->mem) ||
	    (be->hole_at && gpa >= be->hole_at && gpa < be->hole_at + be->step))
		return -EINVAL;
	out->hva = gpa;
	out->limit = gpa == be->zero_at && be->zero_at ? 0 : be->step - gpa % be->step;
	if (out->limit > sizeof(be->mem) - gpa)
		out->limit = sizeof(be->mem) - gpa;
	return 0;
}

static int gma_backend_read(struct gma_backend *be, void *dst, __u64 dst_off, __u64 hva, __u64 len)
{
	if (be->fault_at && hva == be->fault_at)
		return -EFAULT;
	be->copies++;
	memcpy((char *)dst + dst_off, be->mem + hva, len);
	return 0;
}

static int gma_backend_write(struct gma_backend *be, __u64 hva, const void *src, __u64 src_off,
			     __u64 len)
{
	if (be->fault_at && hva == be->fault_at)
		return -EFAULT;
	be->copies++;
	memcpy(be->mem + hva, (const char *)src + src_off, len);
	return 0;
}

static int gma_backend_read_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 *val)
{
	*val = 0;
	memcpy(val, be->mem + hva, width);
	return 0;
}

static int gma_backend_write_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 val)
{
	memcpy(be->mem + hva, &val, width);
	return 0;
}

static struct gma_backend be;

static void setup(void)
{
	memset(&be, 0, sizeof(be));
	be.step = 0x100;
	for (size_t i = 0; i < sizeof(be.mem); i++)
		be.mem[i] = (__u8)i;
}

TestSuite(core, .init = setup);

Test(core, zero_limit_is_an_error_not_a_loop)
{
	struct gma_xlat x;
	__u64 done = 9;
	__u8 buf[0x200];

	be.zero_at = 0x200;
	cr_assert_eq(gma_translate(&be, 0x200, &x), -EINVAL);
	cr_assert_eq(gma_read_buf(&be, 0x180, buf, 0x100, &done), -EINVAL);
	cr_assert_eq(done, 0x80, "copied before the zero-limit region: 0x%llx", done);
	cr_assert_eq(gma_read_obj(&be, 0x200, buf, 1), -EINVAL);
	cr_assert_eq(gma_write_buf(&be, 0x180, buf, 0x100, &done), -EINVAL);
	cr_assert_eq(be.copies, 1, "only the read's first region was copied");
}

Test(core, more_regions_than_span_max_is_e2big)
{
	__u8 buf[0x500];
	__u64 done = 0;

	/* 4 regions is the cap in this file: 0x400 bytes from 0 fit, 0x401 do not */
	cr_assert_eq(gma_read_buf(&be, 0, buf, 0x400, &done), 0);
	cr_assert_eq(done, 0x400);
	cr_assert_eq(gma_read_buf(&be, 0, buf, 0x401, &done), -E2BIG);
	cr_assert_eq(done, 0x400);
	be.copies = 0;
	cr_assert_eq(gma_write_buf(&be, 0, buf, 0x401, &done), -E2BIG);
	cr_assert_eq(be.copies, 0, "a write past the cap must not start");
}

Test(core, fault_is_efault_with_count)
{
	__u8 buf[0x300];
	__u64 done = 0;

	be.fault_at = 0x200;
	cr_assert_eq(gma_read_buf(&be, 0x100, buf, 0x200, &done), -EFAULT);
	cr_assert_eq(done, 0x100);
	cr_assert_eq(gma_read_obj(&be, 0x200, buf, 4), -EFAULT);
	cr_assert_eq(gma_write_buf(&be, 0x100, buf, 0x200, &done), -EFAULT);
	cr_assert_eq(done, 0x100, "validated span, then faulted after the first region");
}

Test(core, write_validates_whole_span_first)
{
	__u8 junk[0x300], before[sizeof(be.mem)];
	__u64 done = 1;

	memset(junk, 0xee, sizeof(junk));
	memcpy(before, be.mem, sizeof(before));
	be.hole_at = 0x300;
	cr_assert_eq(gma_write_buf(&be, 0x100, junk, 0x300, &done), -EINVAL);
	cr_assert_eq(done, 0);
	cr_assert_eq(be.copies, 0);
	cr_assert_arr_eq(be.mem, before, sizeof(before));
}

Test(core, overflow_checked_before_translation)
{
	__u8 buf[16];
	__u64 done = 1;

	cr_assert_eq(gma_check_range(~0ULL, 1), 0, "last byte of the space");
	cr_assert_eq(gma_check_range(~0ULL, 2), -EOVERFLOW);
	cr_assert_eq(gma_check_range(~0ULL - 15, 16), 0);
	cr_assert_eq(gma_check_range(1, ~0ULL), 0, "[1, 2^64) ends at 2^64");
	cr_assert_eq(gma_check_range(2, ~0ULL), -EOVERFLOW);
	cr_assert_eq(gma_read_buf(&be, ~0ULL - 3, buf, 8, &done), -EOVERFLOW);
	cr_assert_eq(done, 0);
	cr_assert_eq(gma_read_obj(&be, ~0ULL - 3, buf, 8), -EOVERFLOW);
	cr_assert_eq(be.copies, 0);
}

Test(core, volatile_is_one_exact_access)
{
	__u64 v = 0;

	cr_assert_eq(gma_read_volatile(&be, 0x10, 4, &v), 0);
	cr_assert_eq(v, 0x13121110);
	cr_assert_eq(gma_read_volatile(&be, 0x12, 4, &v), -EINVAL);
	cr_assert_eq(gma_read_volatile(&be, 0x10, 0, &v), -EINVAL);
	cr_assert_eq(gma_write_volatile(&be, 0x20, 2, 0xbeef), 0);
	cr_assert_eq(be.mem[0x20], 0xef);
	cr_assert_eq(be.mem[0x21], 0xbe);
	cr_assert_eq(be.mem[0x22], 0x22, "no byte beyond the width written");
	/* 0x1000-byte space ends: an aligned 8-byte access at 0xff8 fits, so shrink a region */
	be.step = 0x6; /* regions of 6 bytes: an aligned 8-byte load cannot fit */
	cr_assert_eq(gma_read_volatile(&be, 0x0, 8, &v), -ERANGE);
}

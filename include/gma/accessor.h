/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gma accessor core: the guest memory accessor contract, written once and compiled both into
 * userspace (libgma) and into BPF programs.
 *
 * The only required operation is translate-and-get-limit: a guest physical address becomes a
 * host address plus the number of bytes accessible there without crossing into another
 * region. Everything else (one object, a buffer over many regions, volatile access) is built
 * on it here, by these rules (every backend keeps them; tests/unit/test_core.c and
 * test_backends.c check each):
 *
 *   untranslatable address             -EINVAL, nothing copied
 *   translation with 0 bytes left      -EINVAL (never a loop that makes no progress)
 *   object larger than its region      -ERANGE, nothing copied; objects never straddle
 *   gpa + len wraps past 2^64          -EOVERFLOW before any copy
 *   zero-length buffer                 0, even at an unmapped address
 *   buffer across N regions            copied region by region; a hole is -EINVAL and
 *                                      *done says how many bytes were copied before it
 *   buffer write hitting a hole        whole span validated first: no guest byte changes
 *   more regions than GMA_SPAN_MAX     -E2BIG, *done as for a hole
 *   volatile access                    width 1/2/4/8, naturally aligned, else -EINVAL
 *   backend copy fault                 -EFAULT, distinct from a translation error
 *
 * BPF has no function pointers and no unbounded loops, so the backend is not a vtable here:
 * the file that includes this header defines `struct gma_backend` and the static functions
 * declared below, and every loop is bounded by GMA_SPAN_MAX, a compile-time constant the
 * includer may lower (BPF) before including.
 */
#ifndef GMA_ACCESSOR_H
#define GMA_ACCESSOR_H

#ifdef __bpf__
/* BPF programs include vmlinux.h first: it provides __u64/__u32 and nothing else is needed. */
#ifndef EINVAL
#define EFAULT 14
#define EINVAL 22
#define ERANGE 34
#define E2BIG 7
#define EOVERFLOW 75
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#else
#include <errno.h>
#include <linux/types.h>
#include <stddef.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

/*
 * Upper bound on the regions one buffer access may cross. Each step of a buffer walk either
 * enters a new region or fails, so in userspace this equals the largest region table
 * (GMA_REGIONS_MAX) and is never the reason an access fails; BPF lowers it to keep the
 * verifier's work small and reports -E2BIG past it.
 */
#ifndef GMA_SPAN_MAX
#define GMA_SPAN_MAX 32768
#endif

/* What translate-and-get-limit returns: a host address and the bytes accessible from it. */
struct gma_xlat {
	__u64 hva;
	__u64 limit;
};

struct gma_backend;

/*
 * Backend operations, defined by the includer. translate returns 0 or -EINVAL (no region
 * holds gpa; a backend that knows may then set out->limit to the length of the hole from gpa,
 * else 0, so a sampler can step over it); the copies return 0 or -EFAULT. dst_off is passed apart from dst so the BPF
 * backend can bound the destination offset in a form the verifier accepts. The volatile
 * operations perform exactly one access of `width` bytes at an aligned hva.
 *
 * translate is declared with GMA_TRANSLATE_FN, `static` unless the includer says otherwise:
 * BPF makes it a global (__noinline, non-static) function, which the verifier checks once on
 * its own instead of once per path through every caller's loop. Its arguments must then be
 * checked for NULL inside it.
 */
#ifndef GMA_TRANSLATE_FN
#define GMA_TRANSLATE_FN static
#endif
GMA_TRANSLATE_FN int gma_backend_translate(struct gma_backend *be, __u64 gpa, struct gma_xlat *out);
static int gma_backend_read(struct gma_backend *be, void *dst, __u64 dst_off, __u64 hva, __u64 len);
static int gma_backend_read_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 *val);
#ifdef GMA_BACKEND_HAS_WRITE
static int gma_backend_write(struct gma_backend *be, __u64 hva, const void *src, __u64 src_off,
			     __u64 len);
static int gma_backend_write_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 val);
#endif

/* Returns -EOVERFLOW when [gpa, gpa + len) wraps past 2^64; a range ending exactly at 2^64 fits. */
static __always_inline int gma_check_range(__u64 gpa, __u64 len)
{
	if (len && gpa + (len - 1) < gpa)
		return -EOVERFLOW;
	return 0;
}

/*
 * Translate-and-get-limit with the contract's rules applied on top of the backend: a region
 * that reports 0 accessible bytes is an untranslatable address, never a step of length 0.
 */
static __always_inline int gma_translate(struct gma_backend *be, __u64 gpa, struct gma_xlat *out)
{
	int err = gma_backend_translate(be, gpa, out);

	if (err)
		return err;
	if (out->limit == 0)
		return -EINVAL;
	return 0;
}

/*
 * Reads one object of `size` bytes at gpa. Returns -ERANGE when the object does not fit in
 * the region gpa is in: objects never straddle regions, and nothing is copied.
 */
static __always_inline int gma_read_obj(struct gma_backend *be, __u64 gpa, void *dst, __u64 size)
{
	struct gma_xlat x;
	int err;

	err = gma_check_range(gpa, size);
	if (err)
		return err;
	err = gma_translate(be, gpa, &x);
	if (err)
		return err;
	if (size > x.limit)
		return -ERANGE;
	return gma_backend_read(be, dst, 0, x.hva, size);
}

/*
 * One step of a buffer walk at offset off of [gpa, gpa + len): the region there and the
 * bytes of the rest it holds. Returns what gma_translate() returns.
 */
static __always_inline int gma_span_step(struct gma_backend *be, __u64 gpa, __u64 off, __u64 len,
					 struct gma_xlat *x, __u64 *n)
{
	int err = gma_translate(be, gpa + off, x);

	if (err)
		return err;
	*n = len - off < x->limit ? len - off : x->limit;
	return 0;
}

/*
 * Reads len bytes at gpa into dst, region by region. On error *done (when not NULL) holds the
 * bytes copied before the failing region: -EINVAL for a hole, -EFAULT for a backend fault,
 * -E2BIG past GMA_SPAN_MAX regions. A zero-length read succeeds at any address.
 */
static __always_inline int gma_read_buf(struct gma_backend *be, __u64 gpa, void *dst, __u64 len,
					__u64 *done)
{
	struct gma_xlat x;
	__u64 off = 0, n;
	int err = 0;
	__u32 i;

	if (done)
		*done = 0;
	err = gma_check_range(gpa, len);
	if (err)
		return err;
	for (i = 0; i < GMA_SPAN_MAX && off < len; i++) {
		err = gma_span_step(be, gpa, off, len, &x, &n);
		if (err)
			break;
		err = gma_backend_read(be, dst, off, x.hva, n);
		if (err)
			break;
		off += n;
	}
	if (!err && off < len)
		err = -E2BIG;
	if (done)
		*done = off;
	return err;
}

/*
 * Volatile read of exactly `width` (1, 2, 4 or 8) bytes: one access, never torn. Returns
 * -EINVAL for another width or an address not aligned to it.
 */
static __always_inline int gma_read_volatile(struct gma_backend *be, __u64 gpa, __u32 width,
					     __u64 *val)
{
	struct gma_xlat x;
	int err;

	if ((width != 1 && width != 2 && width != 4 && width != 8) || (gpa & (width - 1)))
		return -EINVAL;
	err = gma_translate(be, gpa, &x);
	if (err)
		return err;
	/* An aligned access of width <= 8 could only miss the limit in a region of odd size. */
	if (x.limit < width)
		return -ERANGE;
	return gma_backend_read_volatile(be, x.hva, width, val);
}

#ifdef GMA_BACKEND_HAS_WRITE
/* Writes one object; the same rules as gma_read_obj(). */
static __always_inline int gma_write_obj(struct gma_backend *be, __u64 gpa, const void *src,
					 __u64 size)
{
	struct gma_xlat x;
	int err;

	err = gma_check_range(gpa, size);
	if (err)
		return err;
	err = gma_translate(be, gpa, &x);
	if (err)
		return err;
	if (size > x.limit)
		return -ERANGE;
	return gma_backend_write(be, x.hva, src, 0, size);
}

/*
 * Writes len bytes from src at gpa. The whole span is translated first, so a hole anywhere
 * fails the write before any guest byte changes (*done stays 0). After validation, only a
 * backend fault can stop the copy part-way, and *done then says how far it got.
 */
static __always_inline int gma_write_buf(struct gma_backend *be, __u64 gpa, const void *src,
					 __u64 len, __u64 *done)
{
	struct gma_xlat x;
	__u64 off = 0, n;
	int err = 0;
	__u32 i;

	if (done)
		*done = 0;
	err = gma_check_range(gpa, len);
	if (err)
		return err;
	for (i = 0; i < GMA_SPAN_MAX && off < len; i++) {
		err = gma_span_step(be, gpa, off, len, &x, &n);
		if (err)
			return err;
		off += n;
	}
	if (off < len)
		return -E2BIG;
	off = 0;
	for (i = 0; i < GMA_SPAN_MAX && off < len; i++) {
		err = gma_span_step(be, gpa, off, len, &x, &n);
		if (err)
			break;
		err = gma_backend_write(be, x.hva, src, off, n);
		if (err)
			break;
		off += n;
	}
	if (done)
		*done = off;
	return err;
}

/* Volatile write of exactly `width` bytes; the same rules as gma_read_volatile(). */
static __always_inline int gma_write_volatile(struct gma_backend *be, __u64 gpa, __u32 width,
					      __u64 val)
{
	struct gma_xlat x;
	int err;

	if ((width != 1 && width != 2 && width != 4 && width != 8) || (gpa & (width - 1)))
		return -EINVAL;
	err = gma_translate(be, gpa, &x);
	if (err)
		return err;
	if (x.limit < width)
		return -ERANGE;
	return gma_backend_write_volatile(be, x.hva, width, val);
}
#endif /* GMA_BACKEND_HAS_WRITE */

#endif /* GMA_ACCESSOR_H */

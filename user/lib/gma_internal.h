/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What libgma's modules share and its users never see: the checks of options structs, and the
 * copies into what the caller sized (the growth rules at the top of <gma/gma.h>). Every
 * public function that takes an options struct (or a callbacks struct, which is one) reads it
 * through these, like libbpf's OPTS_VALID/OPTS_HAS/OPTS_GET: a caller built against an older,
 * shorter struct gets the defaults for the fields it does not have, and a caller built
 * against a newer, longer one is refused unless the fields this library does not know are 0.
 */
#ifndef GMA_INTERNAL_H
#define GMA_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef offsetofend
#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#endif

static inline bool gma_mem_is_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* sz covers at least itself; bytes past what this library knows of the struct are zero. */
static inline bool gma_validate_opts(const char *opts, size_t known_sz, size_t user_sz)
{
	if (user_sz < sizeof(size_t))
		return false;
	if (user_sz > known_sz && !gma_mem_is_zero(opts + known_sz, user_sz - known_sz))
		return false;
	return true;
}

/* NULL is valid (all defaults); else as gma_validate_opts. */
#define OPTS_VALID(opts, type) \
	(!(opts) || gma_validate_opts((const char *)(opts), sizeof(struct type), (opts)->sz))
/* The caller's struct is long enough to hold field. */
#define OPTS_HAS(opts, field) ((opts) && (opts)->sz >= offsetofend(typeof(*(opts)), field))
/* field, or fallback when the caller's struct does not hold it. */
#define OPTS_GET(opts, field, fallback) (OPTS_HAS(opts, field) ? (opts)->field : (fallback))

/*
 * One struct of lib_sz bytes (libgma's) at src into the caller's of out_sz bytes at out: the
 * fields that fit, and the caller's bytes past what libgma knows zeroed, as the kernel's
 * bpf_obj_get_info_by_fd() fills an info struct of info_len.
 */
static inline void gma_copy_sized(void *out, size_t out_sz, const void *src, size_t lib_sz)
{
	size_t n = out_sz < lib_sz ? out_sz : lib_sz;

	memcpy(out, src, n);
	if (out_sz > n)
		memset((char *)out + n, 0, out_sz - n);
}

/*
 * A struct of libgma's into the caller's struct of the same type whose first member, sz, is
 * the caller's size (struct gma_load_error, gma_blk_req, ...): as far as sz reaches, sz
 * itself kept. The caller's sz was checked to hold at least itself.
 */
#define GMA_COPY_OUT(out, src)                                          \
	do {                                                            \
		size_t out_sz__ = (out)->sz;                            \
		gma_copy_sized((out), out_sz__, (src), sizeof(*(src))); \
		(out)->sz = out_sz__;                                   \
	} while (0)

/* The caller's sz of a struct libgma fills holds at least sz itself. */
#define OUT_VALID(out) ((out) && (out)->sz >= sizeof((out)->sz))

/*
 * A zeroed block for n elements of elem_sz bytes, the caller's array, and extra bytes after
 * it (what the elements point to: it is freed with them), at *tail, aligned for any type.
 * Never NULL for n 0 (the caller frees what it is given). NULL on overflow or ENOMEM.
 */
static inline void *gma_elems_alloc(size_t n, size_t elem_sz, size_t extra, void **tail)
{
	const size_t align = _Alignof(max_align_t);
	size_t head, total;
	char *p;

	if (__builtin_mul_overflow(n, elem_sz, &head) ||
	    __builtin_add_overflow(head, align - 1, &head))
		return NULL;
	head -= head % align;
	if (__builtin_add_overflow(head, extra, &total))
		return NULL;
	p = calloc(1, total ? total : 1);
	if (p && tail)
		*tail = p + head;
	return p;
}

/*
 * n elements of libgma's (lib_sz bytes each, at src) as a new array of the caller's elem_sz
 * stride, each element copied as gma_copy_sized() does. NULL on overflow or ENOMEM.
 */
static inline void *gma_elems_copy(const void *src, size_t n, size_t lib_sz, size_t elem_sz)
{
	char *out = gma_elems_alloc(n, elem_sz, 0, NULL);

	for (size_t i = 0; out && i < n; i++)
		gma_copy_sized(out + i * elem_sz, elem_sz, (const char *)src + i * lib_sz, lib_sz);
	return out;
}

#endif /* GMA_INTERNAL_H */

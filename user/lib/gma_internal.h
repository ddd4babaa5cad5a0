/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What libgma's modules share and its users never see: the checks of options structs. Every
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

#endif /* GMA_INTERNAL_H */

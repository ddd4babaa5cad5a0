/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every libgma header shares: the export mark, the sized-struct declarator and checks,
 * and the library's runtime version. The conventions all of libgma follows are at the top of
 * <gma/gma.h>.
 */
#ifndef GMA_COMMON_H
#define GMA_COMMON_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h> /* GMA_OPTS */
#include <sys/types.h>

#include <gma/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Marks what libgma exports: the library is built with -fvisibility=hidden and a version
 * script (user/lib/libgma.map), so only declarations carrying it are in its ABI.
 */
#ifndef GMA_API
#define GMA_API __attribute__((visibility("default")))
#endif

/*
 * Declares a struct the caller hands to libgma (options, callbacks, a struct libgma fills)
 * with its size set and every other byte zero, padding included, as LIBBPF_OPTS does: the
 * library refuses a struct whose bytes past what it knows are not zero (a caller built
 * against a newer gma), so padding must not hold stack garbage.
 */
#define GMA_OPTS(type, name, ...)                                        \
	struct type name = ({                                            \
		memset(&name, 0, sizeof(struct type));                   \
		(struct type){ .sz = sizeof(struct type), __VA_ARGS__ }; \
	})

/*
 * Whether sz bytes of a struct type hold field. For what libgma hands out with its size (the
 * growth rules at the top of <gma/gma.h>): an element of an array beside its *_sz.
 */
#define GMA_SIZE_HAS(sz, type, field) \
	((size_t)(sz) >= offsetof(type, field) + sizeof(((type *)0)->field))

/*
 * Whether *s, a struct libgma handed out with the size it filled in s->sz (an event, a
 * decoded ring), holds field: a program built against a newer header than the library it
 * runs with reads a field the library may not know only then.
 */
#define GMA_HAS(s, field) GMA_SIZE_HAS((s)->sz, __typeof__(*(s)), field)

/*
 * Element i of an array libgma handed out whose elements lie elem_sz bytes apart (its own
 * size of them, which may be larger than the caller's): what the accessors below use.
 */
#define GMA_ELEM(type, base, i, elem_sz) ((const type *)((const char *)(base) + (i) * (elem_sz)))

/* Runtime version, to compare with GMA_VERSION_MAJOR/MINOR at build time. */
GMA_API unsigned int gma_version_major(void);
GMA_API unsigned int gma_version_minor(void);

#ifdef __cplusplus
}
#endif

#endif /* GMA_COMMON_H */

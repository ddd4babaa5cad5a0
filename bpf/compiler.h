/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few language helpers the bpf/ headers need wherever they are compiled: into the BPF
 * programs (after vmlinux.h and <bpf/bpf_helpers.h>) and into userspace (libgma, the unit
 * tests, the fuzz targets), so that each header compiles on its own in either. Each is
 * defined only where the environment gave none: bpf_helpers.h and glibc's <sys/cdefs.h>
 * bring their own __always_inline (both #undef it first, so either order is fine).
 */
#ifndef GMA_COMPILER_H
#define GMA_COMPILER_H

#ifndef __bpf__
#include <stdbool.h> /* BPF has bool from vmlinux.h */
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * The number of elements of array a. Given a pointer it would be wrong silently, were it not
 * for gcc's and clang's -Wsizeof-pointer-div (in -Wall, and warnings are errors here).
 */
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#endif /* GMA_COMPILER_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma's version, the one place it is written: the Makefile reads it for the shared
 * library's file name (libgma.so.MAJOR.MINOR.PATCH) and soname (libgma.so.MAJOR) and for
 * gma.pc; gma-trace --version prints it; the newest version node of user/lib/libgma.map must
 * be GMA_MAJOR.MINOR (tools/check-libgma-version.sh, run at every link of libgma.so).
 * These macros are the API a program was built against; gma_version_major()/minor() say
 * which library it runs with.
 */
#ifndef GMA_VERSION_H
#define GMA_VERSION_H

#define GMA_VERSION_MAJOR 0
#define GMA_VERSION_MINOR 2
#define GMA_VERSION_PATCH 0

#define GMA_VERSION_STR__(x) #x
#define GMA_VERSION_STR_(x) GMA_VERSION_STR__(x)
/* "MAJOR.MINOR.PATCH" */
#define GMA_VERSION_STRING                  \
	GMA_VERSION_STR_(GMA_VERSION_MAJOR) \
	"." GMA_VERSION_STR_(GMA_VERSION_MINOR) "." GMA_VERSION_STR_(GMA_VERSION_PATCH)

#endif /* GMA_VERSION_H */

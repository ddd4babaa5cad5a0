/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma's version, the one place it is written: the Makefile reads it for the shared
 * library's file name (libgma.so.MAJOR.MINOR.PATCH), its soname and gma.pc; gma-trace
 * --version prints it; the man pages and the newest version node of user/lib/libgma.map must
 * say it (tools/check-libgma-version.sh at every link of libgma.so, make doc-test).
 *
 * The soname: before 1.0 each minor release may change the ABI (0.3 took gma-trace's
 * printers out of the library), so it is its own soname, libgma.so.0.MINOR; from 1.0 on,
 * libgma.so.MAJOR. A program built against one release runs with any patch release of it.
 *
 * These macros are the API a program was built against; gma_version_major()/minor() say
 * which library it runs with.
 */
#ifndef GMA_VERSION_H
#define GMA_VERSION_H

#define GMA_VERSION_MAJOR 0
#define GMA_VERSION_MINOR 3
#define GMA_VERSION_PATCH 0

#define GMA_VERSION_STR__(x) #x
#define GMA_VERSION_STR_(x) GMA_VERSION_STR__(x)
/* "MAJOR.MINOR.PATCH" */
#define GMA_VERSION_STRING                  \
	GMA_VERSION_STR_(GMA_VERSION_MAJOR) \
	"." GMA_VERSION_STR_(GMA_VERSION_MINOR) "." GMA_VERSION_STR_(GMA_VERSION_PATCH)

#endif /* GMA_VERSION_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma: guest memory of KVM virtual machines, read from the host.
 *
 * Conventions follow libbpf: functions return 0 or a negative errno; constructors return a
 * pointer, or NULL with errno set; options structs start with their size so they can grow
 * without breaking callers (declare them with GMA_OPTS).
 *
 * Threads: there is no global state. Objects (struct gma_mem, struct gma_tracer) are
 * independent and may be used from different threads at once, but one object by one thread
 * at a time: the caller serialises calls on the same object. Callbacks run on the thread that
 * called gma_tracer_poll(), inside it.
 *
 * Ownership: constructors copy their arguments (region tables, options); the caller keeps
 * its own. What a function returns through a pointer-to-pointer is the caller's, freed as
 * its comment says. Pointers handed to a callback are valid only until it returns.
 * gma_mem_free() and gma_tracer_free() accept NULL.
 *
 * Versions (<gma/version.h>): GMA_VERSION_MAJOR/MINOR are the API a program is built against,
 * the gma_version_*() functions that of the library it runs with; before 1.0 each minor
 * version is an ABI and a soname of its own (libgma.so.0.3). Records from the kernel carry
 * GMA_REC_VERSION
 * (<gma/record.h>) and libgma rejects other versions.
 *
 * Link with `pkg-config --libs gma` (libgma.so) or `pkg-config --static --libs gma`
 * (libgma.a and its dependencies: libbpf, libelf, zlib, json-c).
 */
#ifndef GMA_GMA_H
#define GMA_GMA_H

/*
 * Each part of the API has a header of its own, and this one includes them all: common.h
 * (conventions' macros, versions), mem.h (guest memory), vms.h (the host's VMs), tracer.h
 * (sampling, ring events, queue models, a trace attached late), health.h (verdicts),
 * virtio.h (ring and device decoders), qmp.h (QEMU's QMP), record.h (the BPF programs'
 * records). <gma/accessor.h>, the accessor core for a backend of one's own, is included
 * apart, as its top says.
 */
#include <gma/common.h>
#include <gma/mem.h>
#include <gma/vms.h>
#include <gma/tracer.h>
#include <gma/health.h>
#include <gma/record.h>
#include <gma/virtio.h>
#include <gma/qmp.h>

#endif /* GMA_GMA_H */

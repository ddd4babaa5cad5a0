/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma: guest memory of KVM virtual machines, read from the host.
 *
 * Conventions follow libbpf: functions return 0 or a negative errno; constructors return a
 * pointer, or NULL with errno set.
 *
 * Growth: a public struct may grow, only at its end, in any release that keeps the soname (a
 * 0.3.x; from 1.0 a minor one too), and never holds another struct that may grow by value.
 * Each struct crosses the API with its size, so that a program and the library it runs with,
 * built against different versions of these headers, agree on what it holds:
 *
 * - A struct the caller hands to libgma (options, callbacks, and those libgma fills: struct
 *   gma_load_error, gma_pci_function, gma_blk_req, gma_net_hdr) starts with `size_t sz`, the
 *   caller's sizeof, and ends with `size_t : 0;`: declare it with GMA_OPTS(). libgma reads,
 *   or writes, only what sz covers, takes the defaults for the fields past it, and refuses
 *   with -EINVAL (errno EINVAL) one whose bytes past what it knows are not zero.
 * - A struct libgma hands out alone (to a callback: struct gma_sample, gma_chain, the events;
 *   returned: struct gma_ring) starts with `size_t sz`, the size libgma filled: a field added
 *   after the oldest release a program runs with is read only where GMA_HAS(s, field).
 * - An array libgma returns for the caller to free (gma_tracer_queue_stats(),
 *   gma_tracer_queue_health(), gma_tracer_unexplained_notifies(), gma_vms_list(),
 *   gma_vm_lister_list(), gma_qmp_virtio_queues()) is written at the element size the caller
 *   states, elem_sz, passed as sizeof(**out), as the kernel fills a struct of the size
 *   bpf_obj_get_info_by_fd() is given: each element holds the fields that fit in it, the
 *   bytes past what libgma knows are zero, and out[i] is indexed as usual. A smaller elem_sz
 *   (a program built against an older header) gets each element's prefix; 0 is -EINVAL.
 *   What the elements point to is in the same allocation.
 * - An array inside what libgma hands out (a chain's descriptors, a VM's memslots and
 *   ioeventfds, a ring's chains and used elements) carries its element size beside it
 *   (desc_sz, slot_sz, ...): read it through its accessor in these headers
 *   (gma_chain_desc(c, i), gma_vm_slot(vm, i), ...), never by indexing, and a field added
 *   later only where GMA_SIZE_HAS(c->desc_sz, struct gma_chain_desc, field); so does a
 *   struct one points to (struct gma_queue_health.stats, stats_sz).
 * - Two value structs never grow: struct gma_region and struct gma_queue_layout, which
 *   callers build, pass in arrays and embed. What a later release needs beside them goes in
 *   the layout's flags or in an options struct.
 *
 * The raw records of the BPF programs (<gma/record.h>) are for embedders of the raw
 * skeleton: no libgma function or callback hands one out.
 *
 * Threads: there is no global state. Objects (struct gma_mem, struct gma_tracer) are
 * independent and may be used from different threads at once, but one object by one thread
 * at a time: the caller serialises calls on the same object. Callbacks run on the thread that
 * called gma_tracer_poll(), inside it.
 *
 * Ownership: constructors copy their arguments (region tables, options); the caller keeps
 * its own. What a function returns through a pointer-to-pointer is the caller's, freed as
 * its comment says. Pointers handed to a callback are valid only until it returns.
 * gma_mem_free(), gma_tracer_free(), gma_vms_free() and gma_ring_free() accept NULL.
 *
 * Versions (<gma/version.h>): GMA_VERSION_MAJOR/MINOR are the API a program is built against,
 * the gma_version_*() functions that of the library it runs with; before 1.0 each minor
 * version is an ABI and a soname of its own (libgma.so.0.3). Records from the kernel carry
 * GMA_REC_VERSION (<gma/record.h>) and libgma rejects other versions.
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

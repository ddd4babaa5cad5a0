/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracer's caps and the defaults of its settings, one definition each: the BPF programs'
 * loop and copy bounds (bpf/tracer_maps.h includes this), the limits libgma checks struct
 * gma_tracer_opts and gma_tracer_add_queue() against, and what gma-trace checks its options
 * against.
 */
#ifndef GMA_TRACER_CAPS_H
#define GMA_TRACER_CAPS_H

/*
 * Compile-time caps: the bounds of the programs' loops and copies. The settings
 * (struct gma_tracer_opts, the .rodata of tracer.bpf.c) stay within them.
 */
#define GMA_TRACER_FRAG_CAP 4096 /* bytes in one fragment: fragments never cross a host page */
#define GMA_TRACER_SAMPLE_FRAGS_CAP 64 /* fragments in one sample */
#define GMA_TRACER_SNAP_CAP 4096 /* bytes sampled from the start of one buffer */
#define GMA_TRACER_BUFFER_FRAGS_MAX \
	4 /* fragments of one buffer's sample (memslot or page crossings) */
#define GMA_TRACER_CHAINS_PER_NOTIFY_CAP 32 /* chains walked per notify; the rest are counted */

/* Defaults of the settings. */
#define GMA_TRACER_SNAP_LEN_DEFAULT 64
#define GMA_TRACER_CHAINS_PER_NOTIFY_DEFAULT 16
#define GMA_TRACER_USED_SCAN_US_DEFAULT 1000 /* how often vCPU exits look at used rings */
#define GMA_TRACER_RINGBUF_SIZE_DEFAULT (4u << 20)

/*
 * Queues tracked per device, a power of two: a virtio-serial device with its default 31 ports
 * has 64, a virtio-net device 2 per queue pair and a control queue. A queue past it is
 * reported (its notifies as GMA_ANOM_UNKNOWN_LAYOUT, an import by gma-trace), never traced.
 */
#define GMA_TRACER_QUEUES_MAX 64

/* Places (VM, bus, address, value) of notifies no known queue explains, counted apart. */
#define GMA_TRACER_UNEXPLAINED_MAX 1024

#endif /* GMA_TRACER_CAPS_H */

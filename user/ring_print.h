/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How gma-trace shows a descriptor chain, whether the kernel sampled it at notify time
 * (rings) or userspace read it through the accessor (ring): one summary line decoded per
 * device type, the descriptors, and JSON.
 */
#ifndef GMA_RING_PRINT_H
#define GMA_RING_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include <gma/gma.h>
#include <gma/record.h>

/* A chain and the captured first bytes of its buffers, from either source. */
struct chain_view {
	const struct gma_desc_rec *descs;
	size_t n;
	__u8 *const *data; /* data[i]: captured bytes of descs[i], may be NULL */
	__u8 *const *state; /* per byte enum gma_byte_state, NULL when all read */
	const __u32 *nbytes;
	__u32 device_id;
	__u32 queue;
	__u32 anomalies;
	__u64 features; /* negotiated features, 0 when unknown (then VirtIO 1.x is assumed) */
	/* the whole chain as walked, when descs[] holds only its first n descriptors */
	__u32 nr_walked;
	__u64 total_len;
	bool at_notify; /* sampled when made available: device-written bytes not there yet */
};

/* The device-specific one-line summary ("OUT sector 12 len 512 status OK", a frame, text). */
void chain_summary(const struct chain_view *c, char *buf, size_t size);

/* Text: one line per descriptor with the first bytes of its buffer. */
void print_chain_descs(FILE *f, const struct chain_view *c);

/* JSON: "descs":[...] members (without braces around the whole chain). */
void print_chain_descs_json(FILE *f, const struct chain_view *c);

/* A GMA_ANOM_* mask as a JSON array of {"name", "reason"}. */
void print_anomaly_list_json(FILE *f, __u32 mask);

/* The members every JSON chain ends with: "summary", "anomalies", "descs" (no braces). */
void print_chain_json_tail(FILE *f, const char *summary, const struct chain_view *c);

/* Prints s as a JSON string (quotes included), escaping what JSON requires. */
void print_json_string(FILE *f, const char *s);

/* "virtio-blk@d0001000 q0". */
void print_queue_label(FILE *f, __u32 device_id, __u64 base, __u32 queue);

/*
 * A chain of the live trace as gma-trace rings prints it: one JSON line, or the text line after
 * the caller's timestamp (then the descriptors, with descs).
 */
void print_live_chain(FILE *f, const struct gma_chain *c, bool json, bool descs);

/* "virtio-blk" or "device 42" when unknown. */
const char *device_label(__u32 device_id, char *buf, size_t size);

#endif /* GMA_RING_PRINT_H */

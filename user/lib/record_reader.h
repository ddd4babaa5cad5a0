/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The reader of the tracer's record stream, apart from BPF so it can be tested and fuzzed on
 * its own: every record's size, version and type are checked, samples are reassembled from
 * their fragments against the request they answer, chains get their buffers' bytes, and the
 * rest feeds the queue model. Internal to libgma.
 */
#ifndef GMA_RECORD_READER_H
#define GMA_RECORD_READER_H

#include <gma/gma.h>
#include <gma/record.h>

#include "queue_model.h"
#include "tracer_maps.h" /* GMA_TRACER_SNAP_CAP: the most bytes the tracer samples of one buffer */

/* Chains whose buffer fragments arrived but whose chain record has not, at once. */
#define CHAIN_ASSEMBLY_MAX 8
/* Chain samples have the top bit of their id set (virtqueue.bpf.h). */
#define CHAIN_SAMPLE_BIT (1ULL << 63)

/* The fragments of one chain's buffers, waiting for the chain record that follows them. */
struct chain_assembly {
	bool used;
	__u64 sample_id;
	__u64 age;
	__u32 nbytes[GMA_CHAIN_DESC_MAX];
	__u64 gpa[GMA_CHAIN_DESC_MAX]; /* where each descriptor's fragments start */
	__u8 data[GMA_CHAIN_DESC_MAX][GMA_TRACER_SNAP_CAP];
	__u8 state[GMA_CHAIN_DESC_MAX][GMA_TRACER_SNAP_CAP];
};

/* A request in flight, and the buffer its fragments are reassembled into. */
struct pending_sample {
	bool used;
	__u32 slot; /* index in the BPF request map */
	pid_t pid;
	__u64 id;
	__u64 gpa;
	__u32 len;
	__u32 frags_seen;
	__u32 next_off; /* where the next fragment may start: fragments never overlap */
	int last_seq;
	__u8 *data;
	__u8 *state;
};

struct record_reader {
	gma_sample_fn on_sample;
	void *ctx;
	/* Called when a request's slot is free again (the BPF request map's entry). */
	void (*release_slot)(void *owner, __u32 slot);
	void *owner;
	__u64 bad_records;
	int handled;
	struct pending_sample pending[GMA_SAMPLE_REQ_MAX];
	struct queue_model model;
	struct chain_assembly *chains; /* CHAIN_ASSEMBLY_MAX of them */
	__u64 chain_age;
};

/* Returns -ENOMEM, else 0; callbacks may be NULL. */
int rr_init(struct record_reader *r, gma_sample_fn on_sample, void *ctx,
	    const struct gma_ring_callbacks *ring);
void rr_free(struct record_reader *r);

/*
 * Reads one record. Returns 0, or a negative errno for a record that is malformed or answers
 * nothing (counted in bad_records): -EPROTO, -ENOENT (a sample nobody asked for).
 */
int rr_feed(struct record_reader *r, const void *data, size_t size);

/* A free request slot with room for len bytes, marked used; NULL when none is free. */
struct pending_sample *rr_new_pending(struct record_reader *r, pid_t pid, __u64 id, __u64 gpa,
				      __u32 len);
struct pending_sample *rr_find_pending(struct record_reader *r, __u64 id);
void rr_release(struct record_reader *r, struct pending_sample *p);

#endif /* GMA_RECORD_READER_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The queue model fed by hand-made records: completions are matched with the notify that made
 * their chain available, with its latency; a used element nobody made available is flagged;
 * only requests (chains with a device-readable buffer) can make a queue stuck, not a NIC's
 * receive buffers waiting for traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <linux/virtio_ring.h>

#include "record_reader.h"

static struct {
	int completions, stuck, used_invalid;
	__u64 latency;
	__u32 stuck_queue;
} seen;

static void on_completion(void *ctx, const struct gma_completion *c)
{
	(void)ctx;
	seen.completions++;
	seen.latency = c->latency_ns;
}

static void on_anomaly(void *ctx, const struct gma_anomaly_event *a)
{
	(void)ctx;
	if (a->anomalies & GMA_ANOM_STUCK) {
		seen.stuck++;
		seen.stuck_queue = a->queue;
	}
	if (a->anomalies & GMA_ANOM_USED_ID_INVALID)
		seen.used_invalid++;
}

static const struct gma_ring_callbacks cb = { .sz = sizeof(cb),
					      .on_completion = on_completion,
					      .on_anomaly = on_anomaly };
static struct record_reader r;

static void setup(void)
{
	memset(&seen, 0, sizeof(seen));
	cr_assert_eq(rr_init(&r, NULL, NULL, &cb), 0);
}

static void teardown(void)
{
	rr_free(&r);
}

TestSuite(queue_model, .init = setup, .fini = teardown);

/* Queue q set up by the guest, with flags beside GMA_QUEUE_READY. */
static void feed_queue_flags(__u32 q, __u32 flags)
{
	struct gma_rec_queue rec = { .hdr = { GMA_REC_QUEUE, GMA_REC_VERSION, sizeof(rec) } };

	rec.key = (struct gma_queue_key){ .vm_id = 1, .base = 0xd0000000, .queue = q };
	rec.desc = 0x1000 * (q + 1);
	rec.driver = rec.desc + 0x100;
	rec.device = rec.desc + 0x200;
	rec.num = 8;
	rec.flags = GMA_QUEUE_READY | flags;
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

static void feed_queue(__u32 q)
{
	feed_queue_flags(q, 0);
}

/* A chain of one buffer at head, device-writable or readable. */
static void feed_chain(__u32 q, __u16 head, bool writable, __u64 ts)
{
	static struct gma_rec_chain rec;

	memset(&rec, 0, sizeof(rec));
	rec.hdr = (struct gma_rec_hdr){ GMA_REC_CHAIN, GMA_REC_VERSION, sizeof(rec) };
	rec.key = (struct gma_queue_key){ .vm_id = 1, .base = 0xd0000000, .queue = q };
	rec.ts_ns = ts;
	rec.sample_id = (1ULL << 63) | head;
	rec.head = head;
	rec.nr_descs = rec.nr_recorded = 1;
	rec.descs[0] = (struct gma_desc_rec){ .addr = 0x9000,
					      .len = 64,
					      .flags = writable ? VRING_DESC_F_WRITE : 0 };
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

static void feed_used(__u32 q, __u16 old, __u32 id, __u64 ts)
{
	struct gma_rec_used rec = { .hdr = { GMA_REC_USED, GMA_REC_VERSION, sizeof(rec) } };

	rec.key = (struct gma_queue_key){ .vm_id = 1, .base = 0xd0000000, .queue = q };
	rec.ts_ns = ts;
	rec.used_old = old;
	rec.used_new = old + 1;
	rec.nr_elems = 1;
	rec.elems[0].id = id;
	rec.elems[0].len = 1;
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

Test(queue_model, completion_latency_from_its_notify)
{
	feed_queue(0);
	feed_chain(0, 3, false, 1000000);
	feed_used(0, 0, 3, 3500000);
	cr_assert_eq(seen.completions, 1);
	cr_assert_eq(seen.latency, 2500000);
	/* an id past the queue size cannot be a head */
	feed_used(0, 1, 9, 4000000);
	cr_assert_eq(seen.used_invalid, 1);
}

/* With notifications suppressed, a chain may be used before the tracer sees it made available. */
Test(queue_model, completion_before_its_chain_is_not_an_anomaly)
{
	const __u64 s = 1000000000ULL;

	feed_queue(1);
	feed_used(1, 0, 5, 1 * s);
	cr_assert_eq(seen.used_invalid, 0);
	cr_assert_eq(seen.completions, 1);
	cr_assert_eq(seen.latency, 0, "no notify seen: latency unknown");
	feed_chain(1, 5, false, 2 * s);
	/* already completed: it must not sit in flight and make the queue stuck */
	cr_assert_eq(qm_check_stuck(&r.model, 10 * s, s), 0);
}

Test(queue_model, receive_buffers_never_make_a_queue_stuck)
{
	const __u64 s = 1000000000ULL;

	feed_queue(0); /* rx: writable buffers, waiting for packets */
	feed_queue(1); /* tx: a request */
	feed_chain(0, 0, true, 1 * s);
	feed_chain(1, 0, false, 1 * s);
	cr_assert_eq(qm_check_stuck(&r.model, 1 * s + s / 2, s), 0, "not yet");
	cr_assert_eq(qm_check_stuck(&r.model, 3 * s, s), 1);
	cr_assert_eq(seen.stuck, 1, "reported once");
	cr_assert_eq(seen.stuck_queue, 1, "the request's queue, not the receive queue");
	qm_check_stuck(&r.model, 4 * s, s);
	cr_assert_eq(seen.stuck, 1, "once per episode");
}

static void feed_notify(__u32 q, __u16 avail_old, __u16 avail_new, __u16 used, __u16 flags)
{
	struct gma_rec_notify rec = { .hdr = { GMA_REC_NOTIFY, GMA_REC_VERSION, sizeof(rec) } };

	rec.key = (struct gma_queue_key){ .vm_id = 1, .base = 0xd0000000, .queue = q };
	rec.avail_old = avail_old;
	rec.avail_new = avail_new;
	rec.used_idx = used;
	rec.flags = flags;
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

static struct gma_queue_stats stats_of(__u32 q)
{
	struct gma_queue_stats *st, out = {};
	size_t n;

	cr_assert_eq(qm_stats(&r.model, &st, &n, sizeof(*st)), 0);
	for (size_t i = 0; i < n; i++)
		if (st[i].queue == q)
			out = st[i];
	free(st);
	return out;
}

/*
 * A receive queue filled in bulk with one kick: 1 notify, then the driver posts 1026 more
 * buffers without notifying. The model's indices are the ring's, and so is in_flight.
 */
Test(queue_model, in_flight_is_what_the_rings_say)
{
	struct gma_queue_stats st;

	feed_queue(0);
	feed_notify(0, 0, 1, 0, 0);
	feed_chain(0, 0, true, 1000);
	feed_notify(0, 1, 1027, 0, GMA_NOTIFY_SILENT); /* a look found them */
	feed_used(0, 0, 0, 2000);
	qm_on_avail_idx(&r.model, &(struct gma_queue_key){ 1, 0xd0000000, 0, 0 }, 1020, 1);
	st = stats_of(0);
	cr_assert_eq(st.last_avail, 1027, "an older avail index never moves the model back");
	cr_assert_eq(st.last_used, 1);
	cr_assert_eq(st.in_flight, 1026, "walked or not");
	cr_assert_eq(st.notifies, 1);
	cr_assert_eq(st.silent, 1);
	cr_assert(st.indices_known);
}

/* The kernel's look and userspace's poll both report a completion: it counts once. */
Test(queue_model, a_completion_reported_twice_counts_once)
{
	struct gma_queue_stats st;

	feed_queue(0);
	feed_chain(0, 3, false, 1000);
	feed_used(0, 0, 3, 2000); /* userspace's poll */
	feed_used(0, 0, 3, 2500); /* the kernel's look, later */
	st = stats_of(0);
	cr_assert_eq(seen.completions, 1);
	cr_assert_eq(st.completions, 1);
	cr_assert_eq(st.last_used, 1);
	cr_assert_eq(seen.used_invalid, 0);
}

/*
 * A look that read no element (the tracer's --indices-only) after one that read some: the
 * completions both covered count once.
 */
Test(queue_model, skipped_completions_reported_twice_count_once)
{
	struct gma_rec_used rec = { .hdr = { GMA_REC_USED, GMA_REC_VERSION, sizeof(rec) } };
	struct gma_queue_stats st;

	feed_queue(0);
	feed_used(0, 0, 3, 2000); /* userspace's poll: used 0 -> 1 */
	rec.key = (struct gma_queue_key){ .vm_id = 1, .base = 0xd0000000, .queue = 0 };
	rec.ts_ns = 2500;
	rec.used_old = 0;
	rec.used_new = 5;
	rec.nr_skipped = 5; /* the kernel's look, indices only: used 0 -> 5, no element */
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
	st = stats_of(0);
	cr_assert_eq(st.completions, 5, "%llu completions for used 0 -> 5",
		     (unsigned long long)st.completions);
	cr_assert_eq(st.last_used, 5);
}

/* Imported while running: the ring's state at import, chains in flight with unknown age. */
Test(queue_model, an_imported_queue_starts_from_its_ring)
{
	const __u16 heads[] = { 4, 5, 6 };
	struct qm_ring_state ring = {
		.avail_idx = 1027, .used_idx = 1024, .nr_heads = 3, .heads = heads
	};
	struct gma_queue_layout l = { 0x1000, 0x1100, 0x1200, 8, 0 };
	struct gma_queue_key key = { 1, 0xd0000000, 2, 0 };
	struct gma_queue_stats st;

	qm_add_queue(&r.model, &key, &l, 1, &ring);
	st = stats_of(2);
	cr_assert_eq(st.last_avail, 1027);
	cr_assert_eq(st.last_used, 1024);
	cr_assert_eq(st.in_flight, 3);
	cr_assert_eq(st.in_flight_at_attach, 3);
	cr_assert_eq(st.oldest_in_flight_ns, 0, "their age is unknown");
	feed_used(2, 1024, 5, 5000);
	cr_assert_eq(seen.completions, 1);
	cr_assert_eq(seen.latency, 0, "no latency for a chain older than the trace");
	st = stats_of(2);
	cr_assert_eq(st.in_flight, 2);
	cr_assert_eq(st.in_flight_at_attach, 2);
	/* nothing of it can make the queue stuck: its age is unknown */
	cr_assert_eq(qm_check_stuck(&r.model, 100000000000ULL, 1000), 0);
}

static struct {
	int chains;
	__u32 anomalies;
} chains_seen;

static void on_chain(void *ctx, const struct gma_chain *c)
{
	(void)ctx;
	chains_seen.chains++;
	chains_seen.anomalies = c->anomalies;
}

/* Live: a head made available again before its completion; after it, it is not flagged. */
Test(queue_model, head_made_available_again_while_in_flight)
{
	const struct gma_ring_callbacks cbs = { .sz = sizeof(cbs), .on_chain = on_chain };

	rr_free(&r);
	cr_assert_eq(rr_init(&r, NULL, NULL, &cbs), 0);
	memset(&chains_seen, 0, sizeof(chains_seen));
	feed_queue(0);
	feed_chain(0, 3, false, 1000);
	cr_assert_eq(chains_seen.anomalies, 0);
	feed_chain(0, 3, false, 2000);
	cr_assert_eq(chains_seen.anomalies, GMA_ANOM_HEAD_IN_FLIGHT);
	feed_used(0, 0, 3, 3000);
	feed_chain(0, 3, false, 4000);
	cr_assert_eq(chains_seen.anomalies, 0, "used, then made available again: healthy");
	cr_assert_eq(chains_seen.chains, 3);
}

/* The health evidence of queue q at now_ns (1 s window). */
static struct gma_queue_health health_of(__u32 q, __u64 now_ns)
{
	struct gma_queue_health *h, out = {};
	size_t n;

	cr_assert_eq(qm_health(&r.model, now_ns, 1000000000ULL, NULL, NULL, &h, &n, sizeof(*h)), 0);
	for (size_t i = 0; i < n; i++)
		if (h[i].queue == q) {
			out = h[i];
			out.stats = NULL; /* freed with h */
		}
	free(h);
	return out;
}

/*
 * Whether the device's request to be notified (avail_event here) was in place when the
 * driver made entries available without a kick: not seen to change since, yes; changed after
 * it, no (the driver may have read the value before).
 */
Test(queue_model, a_notify_request_is_dated_by_the_look_that_saw_it)
{
	const struct gma_queue_key k = { 1, 0xd0000000, 0, 0 };
	struct qm_ring_fields f = { .avail_event = 2 };

	feed_queue_flags(0, GMA_QUEUE_EVENT_IDX);
	feed_notify(0, 0, 2, 0, 0);
	qm_on_ring_fields(&r.model, &k, &f, 100);
	qm_on_avail_idx(&r.model, &k, 4, 200); /* 2 -> 4, no kick */
	cr_assert(health_of(0, 300).notify_asked_before,
		  "avail_event 2 seen at 100, avail moved at 200");
	f.avail_event = 3; /* the device moved it afterwards */
	qm_on_ring_fields(&r.model, &k, &f, 250);
	cr_assert_not(health_of(0, 300).notify_asked_before);
	qm_on_ring_fields(&r.model, &k, &f, 260); /* the same value again: still dated 250 */
	cr_assert_not(health_of(0, 300).notify_asked_before);
	feed_notify(0, 2, 4, 0, 0); /* the kick: nothing owed */
	cr_assert_not(health_of(0, 300).notify_asked_before);
}

/* Without EVENT_IDX the request is VRING_USED_F_NO_NOTIFY; avail_event's place counts for nothing. */
Test(queue_model, without_event_idx_the_used_flags_ask)
{
	const struct gma_queue_key k = { 1, 0xd0000000, 0, 0 };
	struct qm_ring_fields f = { .avail_event = 7 };

	feed_queue(0);
	feed_notify(0, 0, 2, 0, 0);
	qm_on_ring_fields(&r.model, &k, &f, 100);
	qm_on_avail_idx(&r.model, &k, 4, 200);
	f.avail_event = 9; /* whatever lies past the used ring */
	qm_on_ring_fields(&r.model, &k, &f, 250);
	cr_assert(health_of(0, 300).notify_asked_before);
	f.used_flags = VRING_USED_F_NO_NOTIFY;
	qm_on_ring_fields(&r.model, &k, &f, 260);
	f.used_flags = 0; /* notifications back on after the entries */
	qm_on_ring_fields(&r.model, &k, &f, 270);
	cr_assert_not(health_of(0, 300).notify_asked_before);
}

/*
 * gma_tracer_queue_stats() and gma_tracer_queue_health() (the model's qm_stats, qm_health)
 * at a caller's own element size, the growth rules of <gma/gma.h>: a program built against
 * an older, shorter struct gets each element's prefix; one built against a newer, longer
 * struct the fields this library knows and zeros past them. Each health element points to
 * its queue's stats, at this library's size, in the same block.
 */
Test(queue_model, stats_and_health_at_the_callers_element_size)
{
	struct older_stats {
		__u64 vm_id;
		__u64 base;
		__u32 queue;
		__u32 device_id;
	};
	struct newer_stats {
		struct gma_queue_stats st;
		__u64 added[2];
	};
	struct older_health {
		__u64 vm_id;
		__u64 base;
		__u32 queue;
		__u32 device_id;
		pid_t pid;
		__u32 verdict;
	};
	struct newer_health {
		struct gma_queue_health h;
		__u64 added[2];
	};
	struct gma_queue_stats *st, *ost, *nst;
	struct gma_queue_health *h, *oh, *nh;
	size_t n, n_old, n_new;

	_Static_assert(sizeof(struct older_stats) < sizeof(struct gma_queue_stats), "a prefix");
	_Static_assert(sizeof(struct older_health) < sizeof(struct gma_queue_health), "a prefix");
	feed_queue(0);
	feed_queue(1);
	feed_notify(1, 0, 1, 0, 0);
	feed_chain(1, 2, false, 1000);
	feed_used(1, 0, 2, 3000);

	cr_assert_eq(qm_stats(&r.model, &st, &n, sizeof(*st)), 0);
	cr_assert_eq(qm_stats(&r.model, &ost, &n_old, sizeof(struct older_stats)), 0);
	cr_assert_eq(qm_stats(&r.model, &nst, &n_new, sizeof(struct newer_stats)), 0);
	cr_assert(n == 2 && n_old == n && n_new == n);
	for (size_t i = 0; i < n; i++) {
		const struct older_stats *o = (const struct older_stats *)ost + i;
		const struct newer_stats *w = (const struct newer_stats *)nst + i;

		cr_assert_eq(o->vm_id, st[i].vm_id, "stats %zu", i);
		cr_assert_eq(o->base, st[i].base);
		cr_assert_eq(o->queue, st[i].queue);
		cr_assert_eq(o->device_id, st[i].device_id);
		cr_assert_arr_eq(&w->st, &st[i], sizeof(st[i]), "stats %zu", i);
		cr_assert(w->added[0] == 0 && w->added[1] == 0, "unknown here: 0");
	}
	cr_assert_eq(st[1].completions, 1);

	cr_assert_eq(qm_health(&r.model, 5000, 1000000, NULL, NULL, &h, &n, sizeof(*h)), 0);
	cr_assert_eq(qm_health(&r.model, 5000, 1000000, NULL, NULL, &oh, &n_old,
			       sizeof(struct older_health)),
		     0);
	cr_assert_eq(qm_health(&r.model, 5000, 1000000, NULL, NULL, &nh, &n_new,
			       sizeof(struct newer_health)),
		     0);
	cr_assert(n == 2 && n_old == n && n_new == n);
	for (size_t i = 0; i < n; i++) {
		const struct older_health *o = (const struct older_health *)oh + i;
		const struct newer_health *w = (const struct newer_health *)nh + i;

		cr_assert_eq(h[i].stats_sz, sizeof(struct gma_queue_stats));
		cr_assert_arr_eq(h[i].stats, &st[i], sizeof(st[i]), "health %zu's stats", i);
		cr_assert_eq(h[i].queue, st[i].queue);
		cr_assert_eq(o->vm_id, h[i].vm_id, "health %zu", i);
		cr_assert_eq(o->queue, h[i].queue);
		cr_assert_eq(o->pid, h[i].pid);
		cr_assert_eq(o->verdict, h[i].verdict);
		cr_assert_eq(w->h.verdict, h[i].verdict);
		cr_assert_eq(w->h.notify_observable, h[i].notify_observable);
		cr_assert_eq(w->h.msix_vector, -1);
		cr_assert_eq(w->h.msi_data, h[i].msi_data);
		cr_assert_arr_eq(w->h.stats, h[i].stats, sizeof(*h[i].stats));
		/* the stats lie past the caller's elements, in the one block it frees */
		cr_assert((const char *)w->h.stats >= (const char *)nh + n * sizeof(*w));
		cr_assert(w->added[0] == 0 && w->added[1] == 0, "unknown here: 0");
	}
	free(st);
	free(ost);
	free(nst);
	free(h);
	free(oh);
	free(nh);
	cr_assert_eq(qm_stats(&r.model, &st, &n, 0), -EINVAL, "no element size");
	cr_assert_eq(qm_health(&r.model, 5000, 1000000, NULL, NULL, &h, &n, 0), -EINVAL);
}

/* What on_chain is handed: the record's fields, public, and the bytes by descriptor. */
static struct gma_chain chain_got;
static struct gma_chain_desc desc_got;
static __u8 bytes_got[8];

static void keep_chain(void *ctx, const struct gma_chain *c)
{
	(void)ctx;
	chain_got = *c;
	if (c->nr_descs) {
		desc_got = *gma_chain_desc(c, 0);
		memcpy(bytes_got, desc_got.bytes, desc_got.nbytes < 8 ? desc_got.nbytes : 8);
	}
	/* valid only during the callback */
	chain_got.descs = NULL;
	desc_got.bytes = desc_got.state = NULL;
}

Test(queue_model, a_chain_handed_out_with_its_sizes)
{
	static struct gma_rec_chain rec;
	struct gma_rec_fragment *f;
	__u8 frag[sizeof(*f) + 8] __attribute__((aligned(8)));
	GMA_OPTS(gma_ring_callbacks, cbs, .on_chain = keep_chain);

	rr_free(&r);
	cr_assert_eq(rr_init(&r, NULL, NULL, &cbs), 0);
	feed_queue(3);
	/* the first 8 bytes of the buffer, sampled before its chain record */
	f = (struct gma_rec_fragment *)frag;
	memset(frag, 0, sizeof(frag));
	f->hdr = (struct gma_rec_hdr){ GMA_REC_FRAGMENT, GMA_REC_VERSION, sizeof(frag) };
	f->vm_id = 1;
	f->sample_id = (1ULL << 63) | 7;
	f->gpa = 0x9000;
	f->len = 8;
	memcpy(f->data, "virtio!!", 8);
	cr_assert_eq(rr_feed(&r, frag, sizeof(frag)), 0);
	memset(&rec, 0, sizeof(rec));
	rec.hdr = (struct gma_rec_hdr){ GMA_REC_CHAIN, GMA_REC_VERSION, sizeof(rec) };
	rec.key = (struct gma_queue_key){ .vm_id = 1, .base = 0xd0000000, .queue = 3 };
	rec.ts_ns = 4242;
	rec.sample_id = (1ULL << 63) | 7;
	rec.avail_idx = 9;
	rec.head = 7;
	rec.pid = 77;
	rec.indirect_addr = 0x8000;
	rec.indirect_len = 16 * 20;
	rec.nr_descs = 20; /* longer than the record holds */
	rec.nr_recorded = GMA_CHAIN_DESC_MAX;
	rec.total_len = 20 * 64;
	for (int i = 0; i < GMA_CHAIN_DESC_MAX; i++)
		rec.descs[i] = (struct gma_desc_rec){ .addr = 0x9000 + 0x100 * i,
						      .len = 64,
						      .index = i,
						      .in_indirect = 1,
						      .snap_len = i ? 0 : 8 };
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
	cr_assert_eq(chain_got.sz, sizeof(struct gma_chain));
	cr_assert(GMA_HAS(&chain_got, descs));
	cr_assert_eq(chain_got.vm_id, 1);
	cr_assert_eq(chain_got.base, 0xd0000000);
	cr_assert_eq(chain_got.queue, 3);
	cr_assert_eq(chain_got.pid, 77);
	cr_assert_eq(chain_got.ts_ns, 4242);
	cr_assert_eq(chain_got.avail_idx, 9);
	cr_assert_eq(chain_got.head, 7);
	cr_assert_eq(chain_got.flags, GMA_CHAIN_AT_NOTIFY | GMA_CHAIN_INDIRECT);
	cr_assert_eq(chain_got.indirect_addr, 0x8000);
	cr_assert_eq(chain_got.nr_walked, 20);
	cr_assert_eq(chain_got.nr_descs, GMA_CHAIN_DESC_MAX);
	cr_assert_eq(chain_got.total_len, 20 * 64);
	cr_assert_eq(chain_got.desc_sz, sizeof(struct gma_chain_desc));
	cr_assert(GMA_SIZE_HAS(chain_got.desc_sz, struct gma_chain_desc, state));
	cr_assert_eq(desc_got.addr, 0x9000);
	cr_assert_eq(desc_got.len, 64);
	cr_assert(desc_got.in_indirect);
	cr_assert_eq(desc_got.nbytes, 8);
	cr_assert_arr_eq(bytes_got, "virtio!!", 8);
}

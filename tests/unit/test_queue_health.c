// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The health verdicts, rule by rule (queue_health.c's table): each verdict from the evidence
 * made for it, and the neighbouring evidence that must not give it (a condition one instant
 * short of the window, a notification the device did not ask for, a reaped entry). Then the
 * queue model fed hand-made records and ring looks: the evidence it gathers gives the same
 * verdicts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <linux/virtio_ring.h>

#include "queue_health.h"
#include "record_reader.h"

#define MS 1000000ULL
#define S (1000 * MS)

/* The stats of the queue base() makes: each base() starts them afresh. */
static struct gma_queue_stats st;

/* A queue whose indices are known, evaluated at 100 s with a 1 s window. */
static struct gma_queue_health base(void)
{
	struct gma_queue_health h = { .now_ns = 100 * S, .window_ns = S };

	memset(&st, 0, sizeof(st));
	h.stats_sz = sizeof(st);
	h.stats = &st;
	st.indices_known = 1;
	st.num = 8;
	st.flags = GMA_QUEUE_READY;
	h.ring_fields_known = 1;
	h.notify_observable = 1;
	h.notify_asked_before = 1;
	return h;
}

Test(queue_health, names_reasons_and_which_are_stuck)
{
	for (__u32 v = 0; v < GMA_HEALTH_NR; v++) {
		cr_assert_not_null(gma_health_name(v));
		cr_assert_not_null(gma_health_reason(v));
	}
	cr_assert_null(gma_health_name(GMA_HEALTH_NR));
	cr_assert_not(gma_health_stuck(GMA_HEALTH_NR));
	cr_assert_not(gma_health_stuck(GMA_HEALTH_IDLE));
	cr_assert_not(gma_health_stuck(GMA_HEALTH_HEALTHY));
	cr_assert_not(gma_health_stuck(GMA_HEALTH_UNKNOWN));
	cr_assert(gma_health_stuck(GMA_HEALTH_DEVICE_NOT_CONSUMING));
	cr_assert(gma_health_stuck(GMA_HEALTH_UNREAPED));
	cr_assert_str_eq(gma_health_name(GMA_HEALTH_DRIVER_NOT_NOTIFYING), "driver-not-notifying");
}

Test(queue_health, unknown_until_the_indices_are_read_or_for_a_packed_ring)
{
	struct gma_queue_health h = base();

	st.indices_known = 0;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNKNOWN);
	h = base();
	st.flags |= GMA_QUEUE_PACKED;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNKNOWN);
}

/* Chains in flight at import: of unknown age and kind, never said idle. */
Test(queue_health, chains_from_before_the_trace_are_not_idle)
{
	struct gma_queue_health h = base();

	st.last_avail = 5;
	st.last_used = 4;
	h.notified_avail = 5;
	st.in_flight_at_attach = 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNKNOWN);
	h.used_moved_ns = h.now_ns - S / 2; /* the device completes: it is working */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY);
	h.used_moved_ns = 0;
	h.oldest_request_ns = h.now_ns - 2 * S; /* a new request, walked, unanswered */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
}

Test(queue_health, idle_and_healthy)
{
	struct gma_queue_health h = base();

	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h.used_moved_ns = h.now_ns - S / 2;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY, "used moved within the window");
	h = base();
	h.oldest_request_ns = h.now_ns - S / 2;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY, "a request younger than the window");
	/* receive buffers the device holds for traffic: no request, nothing moved */
	h = base();
	st.last_avail = 8;
	h.notified_avail = 8;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
}

static struct gma_queue_health unnotified(void)
{
	struct gma_queue_health h = base();

	st.last_avail = 5;
	st.last_used = 3;
	h.notified_avail = 3;
	h.avail_moved_ns = h.unnotified_since_ns = h.now_ns - S;
	return h;
}

Test(queue_health, driver_not_notifying)
{
	struct gma_queue_health h = unnotified();

	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	/* the device said not to notify */
	h.used_flags = VRING_USED_F_NO_NOTIFY;
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	/* one instant short of the window */
	h = unnotified();
	h.unnotified_since_ns += 1;
	h.avail_moved_ns += 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY, "avail moved within the window");
	/* the device consumed them without a notify (it polls): nothing owed */
	h = unnotified();
	st.last_used = 5;
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	/* the flags were never read: no verdict against the driver */
	h = unnotified();
	h.ring_fields_known = 0;
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
}

Test(queue_health, driver_not_notifying_with_event_idx)
{
	struct gma_queue_health h = unnotified();

	h.event_idx = 1;
	h.used_flags = VRING_USED_F_NO_NOTIFY; /* ignored with EVENT_IDX */
	h.avail_event = 3; /* notify me once entry 3 is available: avail went 3 -> 5 */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.avail_event = 4;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.avail_event = 5; /* not before entry 5: suppressed, rightly */
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.avail_event = 2; /* behind the last notify: that notify answered it */
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
}

/*
 * The device asked to be notified only after the driver made the entries available (seen in
 * a loaded vmtest run: the demo device, done with its held requests, re-enabled notifications
 * with avail_event 2 after the driver had gone 2 -> 4 without a kick, rightly, as notifications
 * were off then). The spec makes such a device re-read avail: the driver is not blamed.
 */
Test(queue_health, a_notify_asked_for_after_the_entries_is_not_the_drivers)
{
	struct gma_queue_health h = unnotified();

	h.event_idx = 1;
	h.avail_event = 3;
	h.notify_asked_before = 0;
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.event_idx = 0;
	h.used_flags = 0; /* VRING_USED_F_NO_NOTIFY cleared after the entries */
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.notify_asked_before = 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
}

Test(queue_health, device_not_consuming_and_device_slow)
{
	struct gma_queue_health h = base();

	st.last_avail = 1;
	h.notified_avail = 1;
	h.oldest_request_ns = h.now_ns - S;
	h.last_notify_ns = h.oldest_request_ns;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	h.used_moved_ns = h.oldest_request_ns - 1; /* before the request: still nothing since */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	h.used_moved_ns = h.oldest_request_ns + 1; /* it completed another one since */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_SLOW);
	h.oldest_request_ns += 1; /* one instant short of the window */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY);
}

/* Used entries past used_event, not reaped for the window, avail still. */
static struct gma_queue_health unreaped(void)
{
	struct gma_queue_health h = base();

	h.event_idx = 1;
	h.used_event_moved = 1;
	st.last_avail = 4;
	st.last_used = 4;
	h.notified_avail = 4;
	h.used_event = 2;
	h.avail_moved_ns = h.now_ns - 3 * S;
	h.used_moved_ns = h.now_ns - 2 * S;
	h.unreaped_since_ns = h.now_ns - 2 * S;
	return h;
}

Test(queue_health, completed_unreaped_without_interrupt_evidence)
{
	struct gma_queue_health h = unreaped();

	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
	h.used_event = 4; /* reaped: the driver asked for the next one */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h = unreaped();
	h.avail_moved_ns = h.now_ns - S / 2; /* the driver is busy making requests */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY);
	h = unreaped();
	h.event_idx = 0; /* without EVENT_IDX reaping leaves no trace: no verdict */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h = unreaped();
	h.unreaped_since_ns = h.now_ns - S + 1;
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
}

/* Interrupts observed on the device's line; a look found all reaped before the entries. */
static struct gma_queue_health unreaped_irq(void)
{
	struct gma_queue_health h = unreaped();

	h.irq = GMA_IRQ_OBSERVED;
	h.irq_line = 5;
	h.reaped_seen_ns = h.unreaped_since_ns - S / 10;
	h.used_event_at_reaped = h.used_event;
	return h;
}

Test(queue_health, completed_no_interrupt_and_driver_not_reaping)
{
	struct gma_queue_health h = unreaped_irq();

	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NO_INTERRUPT, "no interrupt ever");
	h.interrupts = 1;
	h.last_irq_ns = h.reaped_seen_ns - S; /* for entries reaped before the look */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NO_INTERRUPT);
	h.last_irq_ns = h.reaped_seen_ns; /* the same instant: not after it */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NO_INTERRUPT);
	/* after the look, before the poll saw the entries unreaped: it told the driver */
	h.last_irq_ns = h.reaped_seen_ns + 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NOT_REAPING);
	h.last_irq_ns = h.unreaped_since_ns + S / 10;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NOT_REAPING);
}

/* When the evidence cannot tell the two apart, neither is said. */
Test(queue_health, interrupt_verdicts_are_not_guessed)
{
	struct gma_queue_health h = unreaped_irq();

	h.last_irq_ns = h.reaped_seen_ns + 1;
	h.used_event_at_reaped = h.used_event - 1; /* the driver reaped some since the look */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
	h = unreaped_irq();
	h.reaped_seen_ns = 0; /* no look ever found all reaped */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
	h = unreaped_irq();
	h.irq = GMA_IRQ_UNMAPPED; /* traced, the device's line unknown */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
	h.irq = GMA_IRQ_NOT_OBSERVABLE;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
	/*
	 * MSI-X: a queue the driver gave no vector, or whose vector is masked, gets no interrupt
	 * by design: neither "no interrupt" nor "not reaping" is said, with or without injections.
	 */
	for (__u32 irq = GMA_IRQ_NO_VECTOR; irq <= GMA_IRQ_MASKED; irq++) {
		h = unreaped_irq();
		h.irq = irq;
		h.irq_line = -1;
		h.msix_vector = irq == GMA_IRQ_NO_VECTOR ? 0xffff : 1;
		cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED, "irq evidence %u", irq);
		h.interrupts = 1;
		h.last_irq_ns = h.reaped_seen_ns + 1;
		cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED, "irq evidence %u", irq);
	}
}

/* Rules earlier in the table win: a request stuck in the device beats the reaping rules. */
Test(queue_health, rule_order)
{
	struct gma_queue_health h = unreaped();

	st.last_avail = 5;
	h.oldest_request_ns = h.now_ns - 2 * S;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	h.notified_avail = 4;
	h.unnotified_since_ns = h.now_ns - 2 * S;
	h.avail_event = 4;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
}

/* --- the same through the queue model -------------------------------------------------- */

static struct record_reader r;
static const struct gma_queue_key key = { .vm_id = 1, .base = 0xd0000000, .queue = 0 };

static void setup(void)
{
	cr_assert_eq(rr_init(&r, NULL, NULL, NULL), 0);
}

static void teardown(void)
{
	rr_free(&r);
}

static void feed_queue(__u32 flags)
{
	struct gma_rec_queue rec = { .hdr = { GMA_REC_QUEUE, GMA_REC_VERSION, sizeof(rec) } };

	rec.key = key;
	rec.desc = 0x1000;
	rec.driver = 0x1100;
	rec.device = 0x1200;
	rec.num = 8;
	rec.flags = GMA_QUEUE_READY | flags;
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

static void feed_notify(__u16 avail_old, __u16 avail_new, __u64 ts)
{
	struct gma_rec_notify rec = { .hdr = { GMA_REC_NOTIFY, GMA_REC_VERSION, sizeof(rec) } };

	rec.key = key;
	rec.ts_ns = ts;
	rec.avail_old = avail_old;
	rec.avail_new = avail_new;
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

static void feed_request(__u16 head, __u64 ts)
{
	static struct gma_rec_chain rec;

	memset(&rec, 0, sizeof(rec));
	rec.hdr = (struct gma_rec_hdr){ GMA_REC_CHAIN, GMA_REC_VERSION, sizeof(rec) };
	rec.key = key;
	rec.ts_ns = ts;
	rec.sample_id = (1ULL << 63) | head;
	rec.head = head;
	rec.nr_descs = rec.nr_recorded = 1;
	rec.descs[0] = (struct gma_desc_rec){ .addr = 0x9000, .len = 16 };
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

static void feed_used(__u16 old, __u32 id, __u64 ts)
{
	struct gma_rec_used rec = { .hdr = { GMA_REC_USED, GMA_REC_VERSION, sizeof(rec) } };

	rec.key = key;
	rec.ts_ns = ts;
	rec.used_old = old;
	rec.used_new = old + 1;
	rec.nr_elems = 1;
	rec.elems[0].id = id;
	rec.elems[0].len = 1;
	cr_assert_eq(rr_feed(&r, &rec, sizeof(rec)), 0);
}

/*
 * A driver that maintains used_event (as one with interrupts does at each reap): seen
 * non-zero once, early, and all reaped at 6 s. A queue whose used_event stays 0 as set up
 * is polled and never judged unreaped.
 */
static void driver_maintains_used_event(void)
{
	struct qm_ring_fields f = { .used_event = 0 };

	qm_on_ring_fields(&r.model, &key, &f, 5 * S);
	cr_assert_eq(r.model.queues[0].used_event_moved, false, "0 as set up: maybe polled");
	f.used_event = 0xffff;
	qm_on_ring_fields(&r.model, &key, &f, 5 * S);
	f.used_event = 0;
	qm_on_ring_fields(&r.model, &key, &f, 6 * S);
	cr_assert(r.model.queues[0].used_event_moved);
}

static enum gma_health verdict_at(__u64 now)
{
	struct gma_queue_health *h;
	enum gma_health v;
	size_t n;

	cr_assert_eq(qm_health(&r.model, now, S, NULL, NULL, &h, &n, sizeof(*h)), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(h[0].stuck, gma_health_stuck(h[0].verdict));
	cr_assert_eq(h[0].irq, GMA_IRQ_NOT_OBSERVABLE, "no interrupt source is mapped");
	v = h[0].verdict;
	free(h);
	return v;
}

TestSuite(queue_health_model, .init = setup, .fini = teardown);

Test(queue_health_model, a_request_served_is_healthy_then_idle)
{
	feed_queue(0);
	feed_notify(0, 1, 10 * S);
	feed_request(0, 10 * S);
	cr_assert_eq(verdict_at(10 * S + S / 2), GMA_HEALTH_HEALTHY);
	feed_used(0, 0, 10 * S + MS);
	cr_assert_eq(verdict_at(10 * S + S / 2), GMA_HEALTH_HEALTHY);
	cr_assert_eq(verdict_at(20 * S), GMA_HEALTH_IDLE);
}

Test(queue_health_model, a_request_never_used_then_one_of_two_used)
{
	struct qm_ring_fields f = {};

	feed_queue(0);
	feed_notify(0, 2, 10 * S);
	feed_request(0, 10 * S);
	feed_request(1, 10 * S);
	qm_on_ring_fields(&r.model, &key, &f, 10 * S);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	feed_used(0, 1, 12 * S);
	cr_assert_eq(verdict_at(13 * S), GMA_HEALTH_DEVICE_SLOW, "head 0 still waits");
	feed_used(1, 0, 13 * S);
	cr_assert_eq(verdict_at(13 * S), GMA_HEALTH_HEALTHY);
}

Test(queue_health_model, avail_moved_without_the_notify_the_device_asked_for)
{
	struct qm_ring_fields f = {};

	feed_queue(0);
	feed_notify(0, 1, 10 * S);
	feed_request(0, 10 * S);
	feed_used(0, 0, 10 * S);
	qm_on_ring_fields(&r.model, &key, &f, 10 * S); /* the device asks for notifies */
	/* the poll finds two more entries, no notify follows */
	qm_on_avail_idx(&r.model, &key, 3, 11 * S);
	qm_on_ring_fields(&r.model, &key, &f, 11 * S);
	cr_assert_eq(verdict_at(11 * S + S / 2), GMA_HEALTH_HEALTHY);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	/* the same with the device saying VRING_USED_F_NO_NOTIFY: its own doing */
	f.used_flags = VRING_USED_F_NO_NOTIFY;
	qm_on_ring_fields(&r.model, &key, &f, 12 * S);
	cr_assert_neq(verdict_at(12 * S), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	/* the notify comes: the debt is paid */
	f.used_flags = 0;
	qm_on_ring_fields(&r.model, &key, &f, 12 * S);
	feed_notify(1, 3, 12 * S);
	cr_assert_neq(verdict_at(14 * S), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
}

Test(queue_health_model, used_past_used_event_not_reaped)
{
	struct qm_ring_fields f = { .used_event = 0 };

	feed_queue(GMA_QUEUE_EVENT_IDX);
	driver_maintains_used_event();
	feed_notify(0, 1, 10 * S);
	feed_request(0, 10 * S);
	feed_used(0, 0, 10 * S);
	qm_on_ring_fields(&r.model, &key, &f, 10 * S);
	cr_assert_eq(verdict_at(10 * S + S / 2), GMA_HEALTH_HEALTHY);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_UNREAPED);
	/* the driver reaps it: used_event moves to the next entry */
	f.used_event = 1;
	qm_on_ring_fields(&r.model, &key, &f, 12 * S);
	cr_assert_eq(verdict_at(14 * S), GMA_HEALTH_IDLE);
}

/* The model's interrupt evidence: a line's injections, and the look that found all reaped. */
static __u64 irq_at;

static void irq_of(void *ctx, const struct gma_queue_key *k, struct gma_queue_health *h)
{
	(void)ctx;
	(void)k;
	h->irq = GMA_IRQ_OBSERVED;
	h->irq_line = 5;
	h->interrupts = irq_at ? 1 : 0;
	h->last_irq_ns = irq_at;
}

static enum gma_health verdict_irq_at(__u64 now)
{
	struct gma_queue_health *h;
	enum gma_health v;
	size_t n;

	cr_assert_eq(qm_health(&r.model, now, S, irq_of, NULL, &h, &n, sizeof(*h)), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(h[0].irq_line, 5);
	v = h[0].verdict;
	free(h);
	return v;
}

Test(queue_health_model, interrupt_or_none_after_the_look_that_found_all_reaped)
{
	struct qm_ring_fields f = { .used_event = 0 };

	feed_queue(GMA_QUEUE_EVENT_IDX);
	driver_maintains_used_event();
	qm_on_ring_fields(&r.model, &key, &f, 9 * S); /* all reaped (nothing used yet) */
	feed_notify(0, 1, 10 * S);
	feed_request(0, 10 * S);
	feed_used(0, 0, 10 * S);
	qm_on_ring_fields(&r.model, &key, &f, 10 * S + MS);
	irq_at = 0;
	cr_assert_eq(verdict_irq_at(12 * S), GMA_HEALTH_NO_INTERRUPT);
	irq_at = 10 * S; /* raised with the completion, after the look at 9 s */
	cr_assert_eq(verdict_irq_at(12 * S), GMA_HEALTH_NOT_REAPING);
	irq_at = 8 * S; /* before the look: for something else */
	cr_assert_eq(verdict_irq_at(12 * S), GMA_HEALTH_NO_INTERRUPT);
}

/* A queue set up again starts over: no evidence of its previous life. */
Test(queue_health_model, a_new_layout_forgets_the_evidence)
{
	struct qm_ring_fields f = {};

	feed_queue(0);
	feed_notify(0, 1, 10 * S);
	feed_request(0, 10 * S);
	qm_on_ring_fields(&r.model, &key, &f, 10 * S);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	feed_queue(0);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_IDLE);
}

/* A driver that does not run is not blamed: no vCPU exit in the window, or since the irq. */
Test(queue_health, a_stopped_guest_is_not_blamed)
{
	struct gma_queue_health h = unreaped_irq();

	h.interrupts = 1;
	h.last_irq_ns = h.reaped_seen_ns + 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NOT_REAPING,
		     "no exit evidence: the verdict stands");
	h.guest_ran_ns = h.now_ns - S / 10; /* ran lately, after the interrupt */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NOT_REAPING);
	h.guest_ran_ns = h.last_irq_ns; /* not after the interrupt: it was never handled */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_GUEST_STOPPED);
	cr_assert(!gma_health_stuck(GMA_HEALTH_GUEST_STOPPED));
	h = unreaped();
	h.guest_ran_ns = h.now_ns - 2 * S; /* paused for longer than the window */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_GUEST_STOPPED);
	h.guest_ran_ns = h.now_ns - S / 2;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_UNREAPED);
	/* a device-side verdict stands whether the guest runs or not */
	h = unreaped_irq();
	h.guest_ran_ns = h.now_ns - 2 * S;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_NO_INTERRUPT);
}

/* A queue the driver polls (Linux's control queues) never has its used_event written. */
Test(queue_health, a_polled_queue_is_not_judged_unreaped)
{
	struct gma_queue_health h = unreaped_irq();

	h.used_event_moved = 0;
	h.used_event = 0;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h.interrupts = 1;
	h.last_irq_ns = h.reaped_seen_ns + 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
}

/* Notifies the tracer cannot see (a virtio-pci function imported late) are not missing. */
Test(queue_health, unseen_notifies_are_not_missing)
{
	struct gma_queue_health h = base();

	st.last_avail = 3;
	st.last_used = 1;
	h.notified_avail = 1;
	h.unnotified_since_ns = h.now_ns - 2 * S;
	h.ring_fields_known = 1;
	h.notify_observable = 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.notify_observable = 0;
	cr_assert_neq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
	h.last_notify_ns = h.now_ns - 3 * S; /* one seen: they are visible after all */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_NOTIFYING);
}

/* --- late attach, receive queues, the device's own view (issue: health after the hang) --- */

/* A NIC's receive queue attached late: its posted buffers are not requests; idle, not unknown. */
Test(queue_health, receive_buffers_posted_are_idle)
{
	struct gma_queue_health h = base();

	st.kind = GMA_QUEUE_KIND_RECEIVE;
	st.num = 256;
	st.last_avail = 1017;
	st.last_used = 0;
	st.in_flight = 1017;
	st.in_flight_at_attach = 1017;
	h.notified_avail = 1017;
	h.attached_ns = h.now_ns - S / 2; /* within the window, and after it */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h.attached_ns = h.now_ns - 30 * S;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h.used_moved_ns = h.now_ns - S / 2; /* traffic arrives */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY);
}

/* A receive queue with no buffer posted for the window: the driver stopped refilling it. */
Test(queue_health, a_receive_queue_left_empty_is_the_drivers)
{
	struct gma_queue_health h = base();

	st.kind = GMA_QUEUE_KIND_RECEIVE;
	st.last_avail = st.last_used = 300;
	h.notified_avail = 300;
	h.empty_since_ns = h.now_ns - S + 1; /* one instant short of the window */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	h.empty_since_ns = h.now_ns - 2 * S;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DRIVER_NOT_REFILLING);
	cr_assert(gma_health_stuck(GMA_HEALTH_DRIVER_NOT_REFILLING));
	h.guest_ran_ns = h.now_ns - 10 * S; /* no vCPU ran: a paused VM refills nothing */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_GUEST_STOPPED);
	/* never given a buffer since its set-up (avail 0): unused, not emptied */
	st.last_avail = st.last_used = 0;
	h.notified_avail = 0;
	h.guest_ran_ns = 0;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
	/* a request queue with nothing in flight is idle, whatever empty_since says */
	h = base();
	st.last_avail = st.last_used = 300;
	h.notified_avail = 300;
	h.empty_since_ns = h.now_ns - 2 * S;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_IDLE);
}

/*
 * The hung disk found by a trace attached after the hang: the request in flight at the import
 * counts from the import, so once the window has passed it is judged, at least that old.
 */
Test(queue_health, a_request_from_before_the_attach_is_judged_after_the_window)
{
	struct gma_queue_health h = base();

	st.last_avail = 5;
	st.last_used = 4;
	st.in_flight = st.in_flight_at_attach = 1;
	h.notified_avail = 5;
	h.attached_ns = h.oldest_request_ns = h.now_ns - S / 2;
	h.age_lower_bound = true;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_HEALTHY, "within the window: not yet");
	h.attached_ns = h.oldest_request_ns = h.now_ns - 30 * S;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	h.used_moved_ns = h.now_ns - 10 * S; /* others completed since the attach */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_SLOW);
}

/* The device's own view tells a request it never took from one its backend holds. */
Test(queue_health, the_devices_view_tells_not_taken_from_not_completed)
{
	struct gma_queue_health h = base();

	st.last_avail = 5;
	st.last_used = 4;
	st.in_flight = 1;
	h.notified_avail = 5;
	h.oldest_request_ns = h.now_ns - 2 * S;
	h.device_view_ns = h.now_ns - S / 2;
	h.device_used = 4;
	h.device_last_avail = 4; /* its next entry is the stuck one: never taken */
	h.device_inuse = 0;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_TAKING);
	cr_assert(gma_health_stuck(GMA_HEALTH_DEVICE_NOT_TAKING));
	h.device_last_avail = 5; /* taken, and held by its backend */
	h.device_inuse = 1;
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	h.device_last_avail = 4;
	h.device_inuse = 0;
	h.device_view_ns = h.now_ns - 2 * S; /* a view older than the window says nothing */
	cr_assert_eq(qh_verdict(&h), GMA_HEALTH_DEVICE_NOT_CONSUMING);
}

/* The model: a queue imported with a request in flight, judged a window after the import. */
Test(queue_health_model, an_imported_request_is_judged_from_the_import)
{
	static const struct gma_queue_layout l = {
		.desc = 0x1000, .driver = 0x1100, .device = 0x1200, .num = 8
	};
	static const __u16 heads[] = { 3 };
	static const bool request[] = { true };
	struct qm_ring_state ring = { .avail_idx = 5,
				      .used_idx = 4,
				      .nr_heads = 1,
				      .heads = heads,
				      .is_request = request,
				      .ts_ns = 10 * S };
	struct gma_device_view v = {
		.sz = sizeof(v), .last_avail_idx = 5, .used_idx = 4, .inuse = 1
	};

	qm_add_queue(&r.model, &key, &l, 2 /* virtio-blk */, &ring);
	cr_assert_eq(verdict_at(10 * S + S / 2), GMA_HEALTH_HEALTHY);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_DEVICE_NOT_CONSUMING);
	cr_assert_eq(qm_set_device_view(&r.model, &key, &v, 12 * S), 0);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_DEVICE_NOT_CONSUMING, "taken: its backend's");
	v.last_avail_idx = 4;
	v.inuse = 0;
	cr_assert_eq(qm_set_device_view(&r.model, &key, &v, 12 * S), 0);
	cr_assert_eq(verdict_at(12 * S), GMA_HEALTH_DEVICE_NOT_TAKING);
	cr_assert_eq(qm_set_device_view(&r.model, &(struct gma_queue_key){ .queue = 9 }, &v, 1),
		     -ENOENT);
}

/* The model: a NIC's receive queue imported with its buffers posted is idle, by its kind. */
Test(queue_health_model, an_imported_receive_queue_is_idle)
{
	static const struct gma_queue_layout l = {
		.desc = 0x1000, .driver = 0x1100, .device = 0x1200, .num = 8
	};
	static const __u16 heads[] = { 0, 1, 2, 3, 4, 5, 6 };
	static const bool request[7] = {}; /* writable buffers only */
	struct qm_ring_state ring = { .avail_idx = 7,
				      .used_idx = 0,
				      .nr_heads = 7,
				      .heads = heads,
				      .is_request = request,
				      .ts_ns = 10 * S };
	struct gma_queue_stats *s;
	size_t n;

	qm_add_queue(&r.model, &key, &l, 1 /* virtio-net */, &ring);
	cr_assert_eq(verdict_at(10 * S + S / 2), GMA_HEALTH_IDLE);
	cr_assert_eq(verdict_at(60 * S), GMA_HEALTH_IDLE);
	cr_assert_eq(qm_stats(&r.model, &s, &n, sizeof(*s)), 0);
	cr_assert_eq(s[0].kind, GMA_QUEUE_KIND_RECEIVE);
	cr_assert_eq(s[0].in_flight, 7);
	free(s);
}

/* The model: with no chain seen, a queue's kind is its device type's and index's. */
Test(queue_health_model, the_kind_by_device_type_until_a_chain_says)
{
	struct gma_queue_stats *s;
	size_t n;

	feed_queue(0); /* queue 0 of a device of unknown type: a request queue */
	cr_assert_eq(qm_stats(&r.model, &s, &n, sizeof(*s)), 0);
	cr_assert_eq(s[0].kind, GMA_QUEUE_KIND_REQUEST);
	free(s);
	r.model.queues[0].st.device_id = 1; /* virtio-net: queue 0 receives */
	cr_assert_eq(qm_stats(&r.model, &s, &n, sizeof(*s)), 0);
	cr_assert_eq(s[0].kind, GMA_QUEUE_KIND_RECEIVE);
	free(s);
	feed_notify(0, 1, 10 * S);
	feed_request(0, 10 * S); /* a chain with a device-readable descriptor: requests */
	cr_assert_eq(qm_stats(&r.model, &s, &n, sizeof(*s)), 0);
	cr_assert_eq(s[0].kind, GMA_QUEUE_KIND_REQUEST);
	free(s);
}

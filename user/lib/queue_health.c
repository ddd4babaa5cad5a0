// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Why is this queue stuck: one verdict per queue, from what the queue model saw of its rings
 * (indices re-read by the userspace poll, notifies, completions, the rings' flags and
 * event-index fields) and of its interrupts. The rules, tried in this order; the first that
 * holds is the verdict. "For the window" means the condition has held for window_ns (gma-trace
 * --stuck-ms) without a break, so a healthy exchange caught half-way is never a verdict.
 *
 * | verdict                 | holds when                                                      |
 * | ----------------------- | --------------------------------------------------------------- |
 * | unknown                 | the indices were never read from the guest, or a packed ring    |
 * | driver-not-notifying    | avail ahead of used and of the last notify, for the window, and |
 * |                         | the device asked to hear of it: no VRING_USED_F_NO_NOTIFY, or   |
 * |                         | with EVENT_IDX avail_event within (notified avail, avail], not  |
 * |                         | seen to change since avail moved (a device that asks only       |
 * |                         | afterwards must look at avail itself: the spec's re-check); and |
 * |                         | the tracer can see its notifies (a virtio-pci function imported |
 * |                         | late has its notify area unknown) or has seen one               |
 * | device-slow             | the oldest request in flight is older than the window, and the  |
 * |                         | used index moved since it was made available: the device        |
 * |                         | completes others. A request already in flight when the queue    |
 * |                         | was imported (a trace attached late) counts as made available   |
 * |                         | at the import: it is at least that old (age_lower_bound)        |
 * | device-not-taking       | the same request, the used index not moved since, and the       |
 * |                         | device's own view (its VMM's, gma_tracer_set_device_view(),     |
 * |                         | given within the window) says it holds nothing and its next     |
 * |                         | avail entry is behind avail: it never took the request (its     |
 * |                         | notify was lost or never processed)                             |
 * | device-not-consuming    | the same otherwise: the device took it (or its view is not      |
 * |                         | known) and has completed nothing since (its backend)            |
 * | completed-no-interrupt  | EVENT_IDX: used ahead of used_event (the driver asked to hear   |
 * |                         | of it and has not reaped it) for the window, used_event seen    |
 * |                         | non-zero or to change (a driver that polls a queue, as Linux    |
 * |                         | its control queues, never writes it: it stays 0), avail not     |
 * |                         | moved in the window, the device's line known, and no interrupt  |
 * |                         | injected                                                        |
 * |                         | since the last look that found all reaped (the entries came     |
 * |                         | after it, so would their interrupt)                             |
 * | driver-not-reaping      | the same, with an interrupt injected since that look, and       |
 * |                         | used_event unchanged since: the driver reaped nothing after it  |
 * | completed-unreaped      | the same otherwise: interrupts not observable (no tracepoint,   |
 * |                         | the line or MSI-X vector not learnt, no vector or masked), no   |
 * |                         | look ever found all reaped, or                                  |
 * |                         | an interrupt came and the driver reaped some since: which of    |
 * |                         | the two is not guessed                                          |
 * | guest-stopped           | instead of driver-not-notifying, driver-not-reaping or          |
 * |                         | completed-unreaped: no vCPU of the VM exited in the window (a   |
 * |                         | paused VM, or one halted with nothing to wake it), or none      |
 * |                         | since the interrupt it should have handled: a driver that does  |
 * |                         | not run cannot be blamed                                        |
 * | driver-not-refilling    | a receive queue with no buffer posted (avail = used, not 0: it  |
 * |                         | had some) for the window: whatever arrives has nowhere to go    |
 * | healthy                 | a request in flight, or a ring index moved in the window        |
 * | unknown                 | chains in flight since before the trace (an imported queue)     |
 * |                         | whose kind the import could not tell, within the window after   |
 * |                         | the import                                                      |
 * | idle                    | anything else: nothing in flight, or a receive queue's buffers  |
 * |                         | posted and waiting for data (a NIC's, a console port's)         |
 *
 * Without EVENT_IDX a driver's reaping leaves no trace in guest memory (its last used index is
 * private), so the three verdicts on used entries need EVENT_IDX: such a queue is idle or
 * healthy there. A receive queue (struct gma_queue_stats.kind) holds buffers, not requests:
 * their age is not latency and none makes the device stuck; what stops such a queue is its
 * driver no longer posting them.
 */
#include <stddef.h>

#include <gma/record.h>

#include "queue_health.h"

static const struct {
	const char *name;
	const char *reason;
	bool stuck;
} verdicts[GMA_HEALTH_NR] = {
	[GMA_HEALTH_UNKNOWN] = { "unknown",
				 "the rings were not read yet (a packed ring is not decoded), or chains "
				 "in flight since before the trace are of a kind the import could not "
				 "tell: wait for the window",
				 false },
	[GMA_HEALTH_IDLE] = { "idle",
			      "nothing in flight, or receive buffers posted and waiting for data; "
			      "nothing moved",
			      false },
	[GMA_HEALTH_HEALTHY] = { "healthy", "requests complete, the rings move", false },
	[GMA_HEALTH_DRIVER_NOT_NOTIFYING] = { "driver-not-notifying",
					      "the driver made buffers available and never notified the device, which asked to "
					      "be notified: look at the guest driver's kick path",
					      true },
	[GMA_HEALTH_DEVICE_NOT_CONSUMING] = { "device-not-consuming",
					      "the device was told of a request and has used nothing since: look at the device "
					      "(the VMM's or vhost backend's thread for this queue)",
					      true },
	[GMA_HEALTH_DEVICE_SLOW] = { "device-slow",
				     "the device completes requests but its oldest is older than the window: a slow or "
				     "lost backend request",
				     true },
	[GMA_HEALTH_NO_INTERRUPT] = { "completed-no-interrupt",
				      "used entries the driver asked to hear of, and no interrupt injected: look at the "
				      "device's interrupt path (irqfd, MSI-X vector, interrupt line)",
				      true },
	[GMA_HEALTH_NOT_REAPING] = { "driver-not-reaping",
				     "an interrupt was injected and the driver has not reaped the used entries: look at "
				     "the guest's interrupt handler and its masked vectors",
				     true },
	[GMA_HEALTH_UNREAPED] = { "completed-unreaped",
				  "used entries the driver asked to hear of, not reaped; whether an interrupt "
				  "told it is not known (see the evidence), so the interrupt path and the "
				  "guest's handler are both suspects",
				  true },
	[GMA_HEALTH_GUEST_STOPPED] = { "guest-stopped",
				       "the driver has work waiting, but no vCPU of the VM ran in the window: "
				       "the VM is paused (QMP query-status) or halted with nothing to wake it",
				       false },
	[GMA_HEALTH_DEVICE_NOT_TAKING] = { "device-not-taking",
					   "the device never took the request from the ring (its "
					   "VMM holds nothing and its next avail entry is behind): "
					   "its notify was lost or never processed (the VMM's "
					   "ioeventfd, its event loop or iothread)",
					   true },
	[GMA_HEALTH_DRIVER_NOT_REFILLING] = { "driver-not-refilling",
					      "a receive queue with no buffer posted: what arrives "
					      "has nowhere to go; look at the guest driver's refill "
					      "path (its memory, a stalled NAPI poll)",
					      true },
};

const char *gma_health_name(__u32 verdict)
{
	return verdict < GMA_HEALTH_NR ? verdicts[verdict].name : NULL;
}

const char *gma_health_reason(__u32 verdict)
{
	return verdict < GMA_HEALTH_NR ? verdicts[verdict].reason : NULL;
}

bool gma_health_stuck(__u32 verdict)
{
	return verdict < GMA_HEALTH_NR && verdicts[verdict].stuck;
}

/* Whether free-running index b is ahead of a. */
static bool ahead(__u16 b, __u16 a)
{
	return (__s16)(b - a) > 0;
}

/* Whether a condition that started at since (0: it does not hold) has held for the window. */
static bool held(const struct gma_queue_health *h, __u64 since)
{
	return since && h->now_ns >= since && h->now_ns - since >= h->window_ns;
}

/* Whether ts (0: never) lies within the window before now. */
static bool within_window(const struct gma_queue_health *h, __u64 ts)
{
	return ts && (ts > h->now_ns || h->now_ns - ts < h->window_ns);
}

/*
 * The device asked to hear of the entries in (notified avail, avail], before they were made
 * available: the spec's vring_need_event() with EVENT_IDX, else the used ring's
 * VRING_USED_F_NO_NOTIFY. Unread fields say nothing, nor a request seen to change after avail
 * moved (the driver may have read the one before: a device that re-enables notifications
 * must then re-read avail itself): no verdict against the driver.
 */
static bool device_wants_notify(const struct gma_queue_health *h)
{
	__u16 avail = h->stats->last_avail;

	if (!h->ring_fields_known || !h->notify_asked_before)
		return false;
	if (h->event_idx)
		return (__u16)(avail - h->avail_event - 1) < (__u16)(avail - h->notified_avail);
	return !(h->used_flags & 1 /* VRING_USED_F_NO_NOTIFY */);
}

/*
 * A verdict against the driver, unless its guest did not run in the window, or not since
 * after_ns (the interrupt it should have handled): a vCPU that runs exits many times a second
 * (timer ticks, interrupts, its own accesses) and one woken by an interrupt exits after it;
 * none is a paused VM. Without the evidence (guest_ran_ns 0: no exit seen) the verdict stands.
 */
static enum gma_health against_driver(const struct gma_queue_health *h, enum gma_health v,
				      __u64 after_ns)
{
	if (h->guest_ran_ns && (!within_window(h, h->guest_ran_ns) || h->guest_ran_ns <= after_ns))
		return GMA_HEALTH_GUEST_STOPPED;
	return v;
}

/*
 * The device's own view, given within the window, says it never took the request in flight:
 * it holds nothing, and avail has entries past its next one.
 */
static bool device_never_took(const struct gma_queue_health *h)
{
	return within_window(h, h->device_view_ns) && !h->device_inuse &&
	       ahead(h->stats->last_avail, h->device_last_avail);
}

enum gma_health qh_verdict(const struct gma_queue_health *h)
{
	const struct gma_queue_stats *st = h->stats;

	if (!st->indices_known || (st->flags & GMA_QUEUE_PACKED))
		return GMA_HEALTH_UNKNOWN;
	if (ahead(st->last_avail, st->last_used) && ahead(st->last_avail, h->notified_avail) &&
	    held(h, h->unnotified_since_ns) && device_wants_notify(h) &&
	    (h->notify_observable || h->last_notify_ns))
		return against_driver(h, GMA_HEALTH_DRIVER_NOT_NOTIFYING, 0);
	if (held(h, h->oldest_request_ns)) {
		if (h->used_moved_ns > h->oldest_request_ns)
			return GMA_HEALTH_DEVICE_SLOW;
		return device_never_took(h) ? GMA_HEALTH_DEVICE_NOT_TAKING :
					      GMA_HEALTH_DEVICE_NOT_CONSUMING;
	}
	if (h->event_idx && h->ring_fields_known && h->used_event_moved &&
	    ahead(st->last_used, h->used_event) && held(h, h->unreaped_since_ns) &&
	    !within_window(h, h->avail_moved_ns)) {
		if (h->irq != GMA_IRQ_OBSERVED || !h->reaped_seen_ns)
			return against_driver(h, GMA_HEALTH_UNREAPED, 0);
		if (h->last_irq_ns <= h->reaped_seen_ns)
			return GMA_HEALTH_NO_INTERRUPT;
		if (h->used_event == h->used_event_at_reaped)
			return against_driver(h, GMA_HEALTH_NOT_REAPING, h->last_irq_ns);
		return against_driver(h, GMA_HEALTH_UNREAPED, 0);
	}
	/* avail 0: never given a buffer since its set-up (a port no one opened), not emptied */
	if (st->kind == GMA_QUEUE_KIND_RECEIVE && held(h, h->empty_since_ns) && st->last_avail)
		return against_driver(h, GMA_HEALTH_DRIVER_NOT_REFILLING, 0);
	if (h->oldest_request_ns || within_window(h, h->avail_moved_ns) ||
	    within_window(h, h->used_moved_ns))
		return GMA_HEALTH_HEALTHY;
	if (st->kind != GMA_QUEUE_KIND_RECEIVE && st->in_flight_at_attach &&
	    !held(h, h->attached_ns))
		return GMA_HEALTH_UNKNOWN;
	return GMA_HEALTH_IDLE;
}

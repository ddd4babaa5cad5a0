/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which side of each queue stopped: a verdict per queue, with the evidence it rests on, from
 * what the tracer saw of its rings, notifies, completions and interrupts.
 */
#ifndef GMA_HEALTH_H
#define GMA_HEALTH_H

#include <gma/common.h>
#include <gma/tracer.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Why a queue is stuck, or that it is not: a verdict per queue with the evidence it rests on
 * (gma_tracer_queue_health). The rules, in the order they are tried, are at the top of
 * user/lib/queue_health.c and in gma-trace(8); a verdict needs its condition to hold for the
 * whole window (gma-trace's --stuck-ms), so a queue caught between two steps of a healthy
 * exchange is never stuck.
 */
enum gma_health {
	GMA_HEALTH_UNKNOWN = 0, /* indices not read from the guest yet, or a packed ring */
	GMA_HEALTH_IDLE, /* nothing in flight but buffers waiting for the outside world */
	GMA_HEALTH_HEALTHY, /* requests in flight and completing, or the rings moved lately */
	GMA_HEALTH_DRIVER_NOT_NOTIFYING, /* avail moved, the device asked for a notify, none */
	GMA_HEALTH_DEVICE_NOT_CONSUMING, /* a request made available, nothing used since */
	GMA_HEALTH_DEVICE_SLOW, /* completing, but the oldest request older than the window */
	GMA_HEALTH_NO_INTERRUPT, /* used past used_event, not reaped, no interrupt injected */
	GMA_HEALTH_NOT_REAPING, /* an interrupt injected, used entries not reaped */
	GMA_HEALTH_UNREAPED, /* used past used_event, not reaped; interrupts not observable */
	GMA_HEALTH_GUEST_STOPPED, /* the driver would be judged, but no vCPU ran in the window */
	GMA_HEALTH_DEVICE_NOT_TAKING, /* a request the device never took from the ring (its own
				       * view, gma_tracer_set_device_view()) */
	GMA_HEALTH_DRIVER_NOT_REFILLING, /* a receive queue with no buffer posted: the device
					  * has nowhere to put what arrives */
	GMA_HEALTH_NR,
};

/* What libgma knows of a queue's interrupts (struct gma_queue_health.irq). */
enum gma_irq_evidence {
	GMA_IRQ_NOT_OBSERVABLE = 0, /* the kernel has no interrupt tracepoint gma uses */
	GMA_IRQ_OBSERVED, /* interrupts and last_irq_ns: the host kernel's, on irq_line or msix_vector */
	GMA_IRQ_UNMAPPED, /* traced, but the line or the MSI-X vector and message not learnt */
	GMA_IRQ_NO_VECTOR, /* MSI-X: the queue's vector is VIRTIO_MSI_NO_VECTOR, no interrupts */
	GMA_IRQ_MASKED, /* MSI-X: the queue's vector (or the whole function) is masked */
};

/*
 * A queue's verdict and the evidence it rests on: an element of gma_tracer_queue_health().
 * The queue's model is its stats element, in the same allocation.
 */
struct gma_queue_health {
	/* the queue, as in its stats */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	__u32 verdict; /* enum gma_health */
	bool stuck; /* a verdict that says one side stopped (gma_health_stuck()) */
	/*
	 * The queue's model at the evaluation (indices, in flight, counts), stats_sz bytes of
	 * libgma's struct gma_queue_stats: a field added to it after the release a program
	 * requires is read only where GMA_SIZE_HAS(h->stats_sz, struct gma_queue_stats, field).
	 */
	size_t stats_sz;
	const struct gma_queue_stats *stats;
	__u64 now_ns; /* CLOCK_MONOTONIC of the evaluation */
	__u64 window_ns; /* how long a condition must hold */
	/* the requests and notifies */
	__u64 oldest_request_ns; /* notify time of the oldest walked request in flight, 0: none */
	__u64 last_notify_ns; /* the driver's last notify (not a silent look), 0: none seen */
	__u16 notified_avail; /* avail index at the last notify */
	bool notify_observable; /* the tracer knows where the queue's notifies land */
	/*
	 * The device's request to be notified (avail_event with EVENT_IDX, else used_flags'
	 * VRING_USED_F_NO_NOTIFY) was not seen to change since avail moved past notified_avail:
	 * as far as the looks can tell (a flag set and cleared between two looks is not seen),
	 * the driver read it as it reads now when it decided not to notify; else the device
	 * asked afterwards and had to look at avail itself, and the driver is not judged until
	 * its next notify
	 */
	bool notify_asked_before;
	__u64 avail_moved_ns; /* when the avail index last moved, 0: not seen move */
	__u64 used_moved_ns; /* when the used index last moved, 0: not seen move */
	__u64 unnotified_since_ns; /* avail ahead of the last notify since, 0: it is not */
	__u64 unreaped_since_ns; /* used ahead of used_event since, 0: it is not */
	__u64 reaped_seen_ns; /* the last look that found used not ahead of used_event, 0: none */
	__u64 guest_ran_ns; /* the last vCPU exit of the VM the tracer saw, 0: none seen */
	/* the rings' own words, as the last look read them (ring_fields_known) */
	bool ring_fields_known;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool used_event_moved; /* the driver maintains used_event (seen non-zero or to change) */
	__u16 avail_flags; /* VRING_AVAIL_F_NO_INTERRUPT */
	__u16 used_flags; /* VRING_USED_F_NO_NOTIFY */
	__u16 used_event; /* driver: interrupt me past this used index (EVENT_IDX) */
	__u16 avail_event; /* device: notify me past this avail index (EVENT_IDX) */
	__u16 used_event_at_reaped; /* used_event at reaped_seen_ns */
	/*
	 * The interrupts (irq, enum gma_irq_evidence): the injections seen (GMA_IRQ_OBSERVED)
	 * on a virtio-mmio device's line, irq_line (else -1), or on a virtio-pci queue's MSI-X
	 * vector as its driver set it (0xffff: VIRTIO_MSI_NO_VECTOR; -1 when not known), whose
	 * table entry holds the message msi_address, msi_data.
	 */
	__u32 irq;
	__u64 interrupts;
	__u64 last_irq_ns;
	__s32 irq_line;
	__s32 msix_vector;
	__u64 msi_address;
	__u32 msi_data;
	/*
	 * A queue imported late (gma_tracer_add_queue() with a layout): when, and whether
	 * oldest_request_ns is that time because the oldest request was already in flight then,
	 * so that it is at least so old (its true age is older, and not known).
	 */
	__u64 attached_ns;
	bool age_lower_bound;
	/* a receive queue with no buffer posted since, 0: it has some (or is a request queue) */
	__u64 empty_since_ns;
	/*
	 * The device's own view of the queue, as its VMM reports it (gma_tracer_set_device_view();
	 * QEMU's x-query-virtio-queue-status): device_view_ns 0 when none was given. A request
	 * the device took (device_inuse) and has not completed is its backend's; one it never took
	 * (its next avail entry, device_last_avail, still behind avail) is its notify path's.
	 */
	__u64 device_view_ns;
	__u16 device_last_avail;
	__u16 device_used;
	__u32 device_inuse;
};

/*
 * Every modelled queue's verdict at this moment, conditions held for window_ns: *n elements of
 * elem_sz bytes (the caller's sizeof(**health): the growth rules of <gma/gma.h>), each
 * pointing to its queue's stats, all in one malloc'ed block the caller frees with free().
 * 0, -EINVAL (elem_sz 0) or -ENOMEM. The verdicts rest on the rings as the userspace poll
 * last read them: keep gma_tracer_poll() running for at least a window before trusting an
 * absence (no notify, no completion).
 */
/*
 * What the device's own side (its VMM) says of a queue, for the verdicts: QEMU's
 * x-query-virtio-queue-status ("last-avail-idx", "used-idx", "inuse"). Declare with GMA_OPTS.
 */
struct gma_device_view {
	size_t sz;
	__u16 last_avail_idx; /* the next avail entry the device will take */
	__u16 used_idx; /* the device's used index */
	__u32 inuse; /* chains it took and has not completed */
	size_t : 0;
};

/*
 * Gives the tracer queue's device view, stamped with the time of the call: the health
 * verdicts then tell a request the device never took (its notify path) from one it took and
 * has not completed (its backend). Give it again before each evaluation: an old view is not
 * used past the window. 0, -ENOENT for a queue the tracer does not model, -EINVAL.
 */
GMA_API int gma_tracer_set_device_view(struct gma_tracer *t, __u64 vm_id, __u64 base, __u32 queue,
				       const struct gma_device_view *view);

GMA_API int gma_tracer_queue_health(struct gma_tracer *t, __u64 window_ns,
				    struct gma_queue_health **health, size_t *n, size_t elem_sz);

/* "driver-not-notifying", ...; NULL for a value outside enum gma_health. */
GMA_API const char *gma_health_name(__u32 verdict);
/* What the verdict means and what to look at next, one sentence; NULL outside the enum. */
GMA_API const char *gma_health_reason(__u32 verdict);
/* Whether the verdict says a side of the queue stopped (what gma-trace health exits 2 for). */
GMA_API bool gma_health_stuck(__u32 verdict);

#ifdef __cplusplus
}
#endif

#endif /* GMA_HEALTH_H */

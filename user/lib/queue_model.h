/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma's model of each virtqueue, fed by the tracer's records: indices, chains in flight
 * with their notify time, completions and their latency, anomalies. Internal to libgma.
 */
#ifndef GMA_QUEUE_MODEL_H
#define GMA_QUEUE_MODEL_H

#include <gma/gma.h>
#include <gma/record.h>

/* Bounds on what a hostile stream of records can make the model allocate. */
#define QM_QUEUES_MAX 256
#define QM_DEVICES_MAX 256

/* The words of a split ring beside its indices, as the userspace poll read them. */
struct qm_ring_fields {
	__u16 avail_flags; /* VRING_AVAIL_F_NO_INTERRUPT */
	__u16 used_flags; /* VRING_USED_F_NO_NOTIFY */
	__u16 used_event; /* the avail ring's last word (EVENT_IDX) */
	__u16 avail_event; /* the used ring's last word (EVENT_IDX) */
};

struct qm_queue {
	struct gma_queue_key key;
	struct gma_queue_stats st;
	__u64 *in_flight_ts; /* by head: notify time, 0 when not in flight */
	/*
	 * by head: the chain carries a request (a device-readable buffer). Chains of writable
	 * buffers only (a NIC's receive buffers) wait for the outside world, not the device: they
	 * never make a queue stuck.
	 */
	bool *is_request;
	/*
	 * by head: completed before the tracer saw its chain. A driver need not notify for every
	 * chain (VIRTIO_RING_F_EVENT_IDX, VRING_USED_F_NO_NOTIFY), so a busy device may use a
	 * chain the tracer learns of only at a later notify.
	 */
	bool *done_early;
	__u64 last_completion_ns;
	bool avail_known, used_known; /* st.last_avail, st.last_used read from the guest */
	__u64 features; /* the device's driver features, 0 when not seen */
	bool stuck_reported;
	/*
	 * Health evidence (queue_health.c): CLOCK_MONOTONIC times, 0 for never. notified_avail
	 * is the avail index of the last notify (not a silent look); unknown for a queue imported
	 * without its ring state until the first look, which counts as notified.
	 */
	__u16 notified_avail;
	bool notified_known;
	__u64 last_notify_ns;
	__u64 avail_moved_ns;
	__u64 used_moved_ns;
	__u64 unnotified_since_ns;
	__u64 unreaped_since_ns;
	__u64 reaped_seen_ns;
	__u16 used_event_at_reaped;
	struct qm_ring_fields fields;
	bool fields_known;
	bool used_event_moved; /* the driver writes used_event: seen non-zero, or to change */
	/*
	 * When a look last saw the device's request to be notified change (avail_event with
	 * EVENT_IDX, else VRING_USED_F_NO_NOTIFY), 0: never. A driver is blamed for a missing
	 * notify only when the request was not seen to change after it made the buffers
	 * available (it may have read the one before).
	 */
	__u64 notify_asked_ns;
	/*
	 * A trace attached late (qm_add_queue() with the ring's state): when. The requests then
	 * in flight are at least that old once the window has passed (their true age is older).
	 */
	__u64 attached_ns;
	/* chains seen that carry a request, and chains of writable buffers only (queue_kind.c) */
	bool saw_request, saw_receive;
	/* no buffer posted (avail == used) since, 0: some are (a receive queue's evidence) */
	__u64 empty_since_ns;
	/* the device's own view, as its VMM said it at view_ns (qm_set_device_view()) */
	struct gma_device_view view;
	__u64 view_ns;
};

struct qm_device {
	__u64 vm_id;
	__u64 base;
	__u32 device_id;
	__u64 features;
};

struct queue_model {
	struct gma_ring_callbacks cb; /* the caller's, copied as far as its sz goes */
	void *ctx;
	struct qm_queue *queues;
	size_t nr_queues;
	size_t cap_queues;
	struct qm_device devices[QM_DEVICES_MAX];
	size_t nr_devices;
	__u64 dropped_queues; /* queues past QM_QUEUES_MAX, not modelled */
};

void qm_init(struct queue_model *m, const struct gma_ring_callbacks *cb, void *ctx);
void qm_free(struct queue_model *m);

void qm_on_device(struct queue_model *m, const struct gma_rec_device *r);
void qm_on_queue(struct queue_model *m, const struct gma_rec_queue *r);
void qm_on_notify(struct queue_model *m, const struct gma_rec_notify *r);
/*
 * A chain as the tracer recorded it, its bytes filled in; its anomalies, device_id and
 * features are completed here before on_chain sees it.
 */
void qm_on_chain(struct queue_model *m, struct gma_chain *chain);
void qm_on_used(struct queue_model *m, const struct gma_rec_used *r);

/* The notify time of a chain already in flight when its queue was imported: age unknown. */
#define QM_AGE_UNKNOWN (~0ULL)

/*
 * A queue layout given by the user (--queue, QMP) rather than learnt. With ring (indices
 * read from the guest at import, and the heads then in flight), the model starts from the
 * ring's current state; those chains are in flight with their age unknown.
 */
struct qm_ring_state {
	__u16 avail_idx;
	__u16 used_idx;
	__u32 nr_heads;
	const __u16 *heads; /* nr_heads entries */
	/* per heads[] entry, whether its chain carries a request; NULL: not decoded */
	const bool *is_request;
	__u64 ts_ns; /* when the ring was read: the attach */
};
/* The device's own view of key's queue at now_ns (gma_tracer_set_device_view()); -ENOENT. */
int qm_set_device_view(struct queue_model *m, const struct gma_queue_key *key,
		       const struct gma_device_view *view, __u64 now_ns);
void qm_add_queue(struct queue_model *m, const struct gma_queue_key *key,
		  const struct gma_queue_layout *layout, __u32 device_id,
		  const struct qm_ring_state *ring);

/*
 * The avail index as userspace read it from the guest's ring (the tracer's poll): the model
 * follows it forward. (Completions the poll finds come as USED records, to qm_on_used().)
 */
void qm_on_avail_idx(struct queue_model *m, const struct gma_queue_key *key, __u16 avail_idx,
		     __u64 ts_ns);
/*
 * The ring's flags and event-index fields as the same poll read them, after its completions
 * were fed: the evidence of notification and interrupt suppression.
 */
void qm_on_ring_fields(struct queue_model *m, const struct gma_queue_key *key,
		       const struct qm_ring_fields *f, __u64 ts_ns);
/* The queues the model has a layout for (the poll's list); NULL when i is past the end. */
const struct gma_queue_stats *qm_queue_at(struct queue_model *m, size_t i,
					  const struct gma_queue_key **key);
/* The driver features of queue i's device (of qm_queue_at()), 0 when not seen. */
__u64 qm_queue_features(const struct queue_model *m, size_t i);

int qm_check_stuck(struct queue_model *m, __u64 now_ns, __u64 stuck_ns);
/* gma_tracer_queue_stats(): the stats at the caller's elem_sz. 0, -EINVAL or -ENOMEM. */
int qm_stats(struct queue_model *m, struct gma_queue_stats **stats, size_t *n, size_t elem_sz);
/*
 * The interrupt evidence of a queue's device, filled in by irq_of (the tracer's maps): irq
 * (enum gma_irq_evidence), interrupts, last_irq_ns, irq_line.
 */
typedef void (*qm_irq_fn)(void *ctx, const struct gma_queue_key *key, struct gma_queue_health *h);
/*
 * Every queue's health verdict and evidence at now_ns, conditions held for window_ns, at the
 * caller's elem_sz with the stats they point to in the same block (gma_tracer_queue_health());
 * irq_of NULL: interrupts not observable. 0, -EINVAL or -ENOMEM.
 */
int qm_health(struct queue_model *m, __u64 now_ns, __u64 window_ns, qm_irq_fn irq_of, void *ctx,
	      struct gma_queue_health **h, size_t *n, size_t elem_sz);

#endif /* GMA_QUEUE_MODEL_H */

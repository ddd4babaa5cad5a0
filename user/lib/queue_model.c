// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "gma_internal.h"
#include "queue_health.h"
#include "queue_kind.h"
#include "queue_model.h"

void qm_init(struct queue_model *m, const struct gma_ring_callbacks *cb, void *ctx)
{
	memset(m, 0, sizeof(*m));
	/* the callbacks the caller's struct holds (it may be older, shorter than ours) */
	m->cb.sz = sizeof(m->cb);
	m->cb.on_queue = OPTS_GET(cb, on_queue, NULL);
	m->cb.on_notify = OPTS_GET(cb, on_notify, NULL);
	m->cb.on_chain = OPTS_GET(cb, on_chain, NULL);
	m->cb.on_completion = OPTS_GET(cb, on_completion, NULL);
	m->cb.on_anomaly = OPTS_GET(cb, on_anomaly, NULL);
	m->cb.on_attach = OPTS_GET(cb, on_attach, NULL);
	m->ctx = ctx;
}

void qm_free(struct queue_model *m)
{
	for (size_t i = 0; i < m->nr_queues; i++) {
		free(m->queues[i].in_flight_ts);
		free(m->queues[i].is_request);
		free(m->queues[i].done_early);
	}
	free(m->queues);
	memset(m, 0, sizeof(*m));
}

static bool same_key(const struct gma_queue_key *a, const struct gma_queue_key *b)
{
	return a->vm_id == b->vm_id && a->base == b->base && a->queue == b->queue;
}

static __u32 device_id_of(struct queue_model *m, __u64 vm_id, __u64 base)
{
	for (size_t i = 0; i < m->nr_devices; i++)
		if (m->devices[i].vm_id == vm_id && m->devices[i].base == base)
			return m->devices[i].device_id;
	return 0;
}

/* The queue of key, created on first sight; NULL past QM_QUEUES_MAX. */
static struct qm_queue *queue_of(struct queue_model *m, const struct gma_queue_key *key, pid_t pid)
{
	struct qm_queue *q;

	for (size_t i = 0; i < m->nr_queues; i++)
		if (same_key(&m->queues[i].key, key))
			return &m->queues[i];
	if (m->nr_queues == QM_QUEUES_MAX) {
		m->dropped_queues++;
		return NULL;
	}
	if (m->nr_queues == m->cap_queues) {
		size_t cap = m->cap_queues ? 2 * m->cap_queues : 8;
		struct qm_queue *nq = realloc(m->queues, cap * sizeof(*m->queues));

		if (!nq)
			return NULL;
		m->queues = nq;
		m->cap_queues = cap;
	}
	q = &m->queues[m->nr_queues++];
	memset(q, 0, sizeof(*q));
	q->key = *key;
	q->key.pad = 0;
	q->st.vm_id = key->vm_id;
	q->st.base = key->base;
	q->st.queue = key->queue;
	q->st.pid = pid;
	q->st.device_id = device_id_of(m, key->vm_id, key->base);
	for (size_t i = 0; i < m->nr_devices; i++)
		if (m->devices[i].vm_id == key->vm_id && m->devices[i].base == key->base)
			q->features = m->devices[i].features;
	return q;
}

static void raise_anomaly(struct queue_model *m, struct qm_queue *q,
			  const struct gma_queue_key *key, __u64 ts, __u32 bits, __u32 head,
			  pid_t pid)
{
	struct gma_anomaly_event ev = {
		.sz = sizeof(ev),
		.vm_id = key->vm_id,
		.base = key->base,
		.queue = key->queue,
		.device_id = q ? q->st.device_id : device_id_of(m, key->vm_id, key->base),
		.pid = pid,
		.ts_ns = ts,
		.anomalies = bits,
		.head = head,
	};

	if (!bits)
		return;
	if (q)
		q->st.anomalies++;
	if (m->cb.on_anomaly)
		m->cb.on_anomaly(m->ctx, &ev);
}

void qm_on_device(struct queue_model *m, const struct gma_rec_device *r)
{
	size_t i;

	for (i = 0; i < m->nr_devices; i++)
		if (m->devices[i].vm_id == r->vm_id && m->devices[i].base == r->base)
			break;
	if (i == m->nr_devices) {
		if (m->nr_devices == QM_DEVICES_MAX)
			return;
		m->nr_devices++;
	}
	m->devices[i] = (struct qm_device){ r->vm_id, r->base, r->device_id, r->features };
	for (size_t k = 0; k < m->nr_queues; k++)
		if (m->queues[k].key.vm_id == r->vm_id && m->queues[k].key.base == r->base) {
			m->queues[k].st.device_id = r->device_id;
			m->queues[k].features = r->features;
		}
}

/* Sets a queue's layout; its in-flight table restarts empty. Misalignment is an anomaly. */
static void set_layout(struct queue_model *m, struct qm_queue *q, __u64 desc, __u64 driver,
		       __u64 device, __u32 num, __u32 flags, __u64 ts)
{
	__u32 bad = 0;

	free(q->in_flight_ts);
	free(q->is_request);
	free(q->done_early);
	q->in_flight_ts = NULL;
	q->is_request = NULL;
	q->done_early = NULL;
	q->st.desc = desc;
	q->st.driver = driver;
	q->st.device = device;
	q->st.num = num;
	q->st.flags = flags;
	q->st.last_avail = q->st.last_used = 0;
	q->st.in_flight_at_attach = 0;
	/* a queue set up now starts empty, as the spec requires of the driver */
	q->avail_known = q->used_known = !(flags & GMA_QUEUE_FROM_USER);
	q->st.indices_known = q->avail_known;
	/* a queue set up now has been notified of nothing, and owes no notify */
	q->notified_avail = 0;
	q->notified_known = q->avail_known;
	q->last_notify_ns = q->avail_moved_ns = q->used_moved_ns = 0;
	q->unnotified_since_ns = q->unreaped_since_ns = q->reaped_seen_ns = 0;
	q->used_event_at_reaped = 0;
	q->fields_known = false;
	q->used_event_moved = false;
	q->notify_asked_ns = 0;
	if (num && num <= GMA_QUEUE_NUM_MAX) {
		q->in_flight_ts = calloc(num, sizeof(*q->in_flight_ts));
		q->is_request = calloc(num, sizeof(*q->is_request));
		q->done_early = calloc(num, sizeof(*q->done_early));
		if (!q->in_flight_ts || !q->is_request || !q->done_early) {
			free(q->in_flight_ts);
			free(q->is_request);
			free(q->done_early);
			q->in_flight_ts = NULL;
			q->is_request = NULL;
			q->done_early = NULL;
		}
	}
	if ((desc & 15) || (driver & 1) || (device & 3))
		bad |= GMA_ANOM_RING_MISALIGNED;
	if (flags & GMA_QUEUE_PACKED)
		bad |= GMA_ANOM_PACKED;
	raise_anomaly(m, q, &q->key, ts, bad, ~0u, q->st.pid);
}

void qm_on_queue(struct queue_model *m, const struct gma_rec_queue *r)
{
	struct qm_queue *q = queue_of(m, &r->key, r->pid);
	struct gma_queue_event ev = {
		.sz = sizeof(ev),
		.vm_id = r->key.vm_id,
		.base = r->key.base,
		.queue = r->key.queue,
		.device_id = r->device_id,
		.pid = r->pid,
		.ts_ns = r->ts_ns,
		.layout = { .desc = r->desc,
			    .driver = r->driver,
			    .device = r->device,
			    .num = r->num,
			    .flags = r->flags },
	};

	if (!q)
		return;
	if (r->device_id)
		q->st.device_id = r->device_id;
	set_layout(m, q, r->desc, r->driver, r->device, r->num, r->flags, r->ts_ns);
	if (m->cb.on_queue)
		m->cb.on_queue(m->ctx, &ev);
}

/* A chain of the queue seen: its kind says the queue's (queue_kind.c). */
static void saw_kind(struct qm_queue *q, bool request)
{
	if (request)
		q->saw_request = true;
	else
		q->saw_receive = true;
}

/* Since when no buffer is posted (avail == used), as the indices now say. */
static void track_empty(struct qm_queue *q, __u64 ts)
{
	if (!q->avail_known || !q->used_known || q->st.last_avail != q->st.last_used)
		q->empty_since_ns = 0;
	else if (!q->empty_since_ns)
		q->empty_since_ns = ts ? ts : 1;
}

/* The queue's kind: its chains', else its device type's and index's (queue_kind.c). */
static bool qm_receive(const struct qm_queue *q)
{
	if (q->saw_request)
		return false;
	return q->saw_receive || qk_receive_by_index(q->st.device_id, q->key.queue);
}

void qm_add_queue(struct queue_model *m, const struct gma_queue_key *key,
		  const struct gma_queue_layout *l, __u32 device_id,
		  const struct qm_ring_state *ring)
{
	struct qm_queue *q = queue_of(m, key, 0);

	if (!q)
		return;
	if (device_id)
		q->st.device_id = device_id;
	set_layout(m, q, l->desc, l->driver, l->device, l->num,
		   GMA_QUEUE_READY | GMA_QUEUE_FROM_USER, 0);
	if (!ring)
		return;
	q->st.last_avail = ring->avail_idx;
	q->st.last_used = ring->used_idx;
	q->avail_known = q->used_known = true;
	q->st.indices_known = 1;
	q->notified_avail = ring->avail_idx; /* what came before the trace is not judged */
	q->notified_known = true;
	q->attached_ns = ring->ts_ns ? ring->ts_ns : 1;
	for (__u32 i = 0; q->in_flight_ts && i < ring->nr_heads; i++) {
		__u16 head = ring->heads[i];

		if (head >= q->st.num)
			continue;
		q->in_flight_ts[head] = QM_AGE_UNKNOWN;
		q->is_request[head] = ring->is_request && ring->is_request[i];
		if (ring->is_request)
			saw_kind(q, ring->is_request[i]);
	}
	track_empty(q, q->attached_ns);
}

int qm_set_device_view(struct queue_model *m, const struct gma_queue_key *key,
		       const struct gma_device_view *view, __u64 now_ns)
{
	for (size_t i = 0; i < m->nr_queues; i++) {
		struct qm_queue *q = &m->queues[i];

		if (!same_key(&q->key, key))
			continue;
		q->view = (struct gma_device_view){
			.sz = sizeof(q->view),
			.last_avail_idx = OPTS_GET(view, last_avail_idx, 0),
			.used_idx = OPTS_GET(view, used_idx, 0),
			.inuse = OPTS_GET(view, inuse, 0),
		};
		q->view_ns = now_ns ? now_ns : 1;
		return 0;
	}
	return -ENOENT;
}

/* Whether the queue's driver and device use VIRTIO_RING_F_EVENT_IDX. */
static bool qm_event_idx(const struct qm_queue *q)
{
	return (q->st.flags & GMA_QUEUE_EVENT_IDX) ||
	       (q->features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
}

/* Whether index b is ahead of a (free-running 16-bit ring indices). */
static bool idx_ahead(__u16 b, __u16 a)
{
	return (__s16)(b - a) > 0;
}

/*
 * Moves the model's avail index forward to what the guest's ring says, never back, and notes
 * since when the driver has made available what it has not notified.
 */
static void follow_avail(struct qm_queue *q, __u16 avail, __u64 ts)
{
	if (q->avail_known && idx_ahead(avail, q->st.last_avail))
		q->avail_moved_ns = ts;
	if (!q->avail_known || idx_ahead(avail, q->st.last_avail))
		q->st.last_avail = avail;
	q->avail_known = true;
	q->st.indices_known = q->used_known;
	if (!q->notified_known) {
		q->notified_avail = q->st.last_avail;
		q->notified_known = true;
	}
	if (!idx_ahead(q->st.last_avail, q->notified_avail))
		q->unnotified_since_ns = 0;
	else if (!q->unnotified_since_ns)
		q->unnotified_since_ns = ts ? ts : 1;
	track_empty(q, ts);
}

void qm_on_avail_idx(struct queue_model *m, const struct gma_queue_key *key, __u16 avail_idx,
		     __u64 ts_ns)
{
	for (size_t i = 0; i < m->nr_queues; i++)
		if (same_key(&m->queues[i].key, key))
			follow_avail(&m->queues[i], avail_idx, ts_ns);
}

void qm_on_ring_fields(struct queue_model *m, const struct gma_queue_key *key,
		       const struct qm_ring_fields *f, __u64 ts_ns)
{
	for (size_t i = 0; i < m->nr_queues; i++) {
		struct qm_queue *q = &m->queues[i];

		if (!same_key(&q->key, key))
			continue;
		/* a driver that polls the queue never writes used_event: it stays as set up, 0 */
		if (f->used_event || (q->fields_known && f->used_event != q->fields.used_event))
			q->used_event_moved = true;
		/* the word that asks: without EVENT_IDX avail_event's place may hold anything */
		if (q->fields_known && (qm_event_idx(q) ? f->avail_event != q->fields.avail_event :
							  (f->used_flags ^ q->fields.used_flags) &
								  1 /* VRING_USED_F_NO_NOTIFY */))
			q->notify_asked_ns = ts_ns ? ts_ns : 1;
		q->fields = *f;
		q->fields_known = true;
		/* used entries past the one the driver asked to hear of, not reaped since */
		if (!q->used_known) {
			q->unreaped_since_ns = 0;
		} else if (!idx_ahead(q->st.last_used, f->used_event)) {
			/* all reaped that the driver asked to hear of: interrupts owed start here */
			q->unreaped_since_ns = 0;
			q->reaped_seen_ns = ts_ns ? ts_ns : 1;
			q->used_event_at_reaped = f->used_event;
		} else if (!q->unreaped_since_ns)
			q->unreaped_since_ns = ts_ns ? ts_ns : 1;
	}
}

const struct gma_queue_stats *qm_queue_at(struct queue_model *m, size_t i,
					  const struct gma_queue_key **key)
{
	if (i >= m->nr_queues)
		return NULL;
	*key = &m->queues[i].key;
	return &m->queues[i].st;
}

__u64 qm_queue_features(const struct queue_model *m, size_t i)
{
	return i < m->nr_queues ? m->queues[i].features : 0;
}

void qm_on_notify(struct queue_model *m, const struct gma_rec_notify *r)
{
	struct qm_queue *q = queue_of(m, &r->key, r->pid);

	if (q) {
		q->st.pid = r->pid;
		if (r->flags & GMA_NOTIFY_SILENT)
			q->st.silent++;
		else
			q->st.notifies++;
		q->st.skipped += r->nr_skipped;
		if (!(r->flags & GMA_NOTIFY_SILENT)) {
			q->last_notify_ns = r->ts_ns;
			if (!(r->anomalies &
			      (GMA_ANOM_UNKNOWN_LAYOUT | GMA_ANOM_RING_UNREADABLE))) {
				q->notified_avail = r->avail_new;
				q->notified_known = true;
			}
		}
		if (!(r->anomalies & (GMA_ANOM_UNKNOWN_LAYOUT | GMA_ANOM_RING_UNREADABLE)))
			follow_avail(q, r->avail_new, r->ts_ns);
	}
	raise_anomaly(m, q, &r->key, r->ts_ns, r->anomalies, ~0u, r->pid);
	if (m->cb.on_notify) {
		struct gma_notify_event ev = {
			.sz = sizeof(ev),
			.vm_id = r->key.vm_id,
			.base = r->key.base,
			.queue = r->key.queue,
			.device_id = q ? q->st.device_id :
					 device_id_of(m, r->key.vm_id, r->key.base),
			.pid = r->pid,
			.tid = r->tid,
			.ts_ns = r->ts_ns,
			.avail_old = r->avail_old,
			.avail_new = r->avail_new,
			.used_idx = r->used_idx,
			.flags = r->flags,
			.nr_chains = r->nr_chains,
			.nr_skipped = r->nr_skipped,
			.anomalies = r->anomalies,
		};

		m->cb.on_notify(m->ctx, &ev);
	}
}

void qm_on_chain(struct queue_model *m, struct gma_chain *c)
{
	struct gma_queue_key key = { .vm_id = c->vm_id, .base = c->base, .queue = c->queue };
	struct qm_queue *q = queue_of(m, &key, c->pid);

	/* a buffer whose sampled bytes lie outside guest memory */
	for (__u32 i = 0; i < c->nr_descs; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(c, i);

		for (__u32 b = 0; b < d->nbytes; b++)
			if (d->state[b] == GMA_BYTE_UNMAPPED) {
				c->anomalies |= GMA_ANOM_BUFFER_UNMAPPED;
				break;
			}
	}
	if (q) {
		q->st.chains++;
		c->device_id = q->st.device_id;
		c->features = q->features;
		/* still in flight: the driver made it available again before the device used it */
		if (q->in_flight_ts && c->head < q->st.num && q->in_flight_ts[c->head] &&
		    !q->done_early[c->head])
			c->anomalies |= GMA_ANOM_HEAD_IN_FLIGHT;
		if (q->in_flight_ts && c->head < q->st.num && q->done_early[c->head]) {
			q->done_early[c->head] =
				false; /* its completion came first: not in flight */
		} else if (q->in_flight_ts && c->head < q->st.num) {
			q->in_flight_ts[c->head] = c->ts_ns ? c->ts_ns : 1;
			q->is_request[c->head] = false;
			for (__u32 i = 0; i < c->nr_descs; i++)
				if (!(gma_chain_desc(c, i)->flags & VRING_DESC_F_WRITE))
					q->is_request[c->head] = true;
			if (c->nr_descs)
				saw_kind(q, q->is_request[c->head]);
		}
	}
	if (m->cb.on_chain)
		m->cb.on_chain(m->ctx, c);
	raise_anomaly(m, q, &key, c->ts_ns, c->anomalies & ~GMA_ANOM_CHAIN_TRUNCATED, c->head,
		      c->pid);
}

void qm_on_used(struct queue_model *m, const struct gma_rec_used *r)
{
	struct qm_queue *q = queue_of(m, &r->key, r->pid);
	__u32 n = r->nr_elems < GMA_USED_ELEM_MAX ? r->nr_elems : GMA_USED_ELEM_MAX;
	__u32 bad = r->anomalies, first = 0;

	if (!q)
		return;
	/*
	 * The kernel's looks and userspace's poll both report completions: what the model has
	 * already followed is not counted twice, and a report older than it changes nothing.
	 */
	if (q->used_known && !(bad & GMA_ANOM_USED_BACKWARDS)) {
		if (!idx_ahead(r->used_new, q->st.last_used))
			return;
		if (idx_ahead(q->st.last_used, r->used_old))
			first = (__u16)(q->st.last_used - r->used_old);
	}
	for (__u32 i = first; i < n; i++) {
		__u32 id = r->elems[i].id;
		struct gma_completion c = {
			.sz = sizeof(c),
			.vm_id = q->key.vm_id,
			.base = q->key.base,
			.queue = q->key.queue,
			.device_id = q->st.device_id,
			.pid = r->pid,
			.ts_ns = r->ts_ns,
			.head = id,
			.len = r->elems[i].len,
		};

		if (q->in_flight_ts && id < q->st.num && q->in_flight_ts[id] == QM_AGE_UNKNOWN) {
			q->in_flight_ts[id] = 0; /* in flight at import: no latency to tell */
			c.age_unknown = true;
		} else if (q->in_flight_ts && id < q->st.num && q->in_flight_ts[id]) {
			c.latency_ns =
				r->ts_ns > q->in_flight_ts[id] ? r->ts_ns - q->in_flight_ts[id] : 0;
			q->in_flight_ts[id] = 0;
			q->st.latency_sum_ns += c.latency_ns;
			q->st.latency_n++;
			if (c.latency_ns > q->st.latency_max_ns)
				q->st.latency_max_ns = c.latency_ns;
		} else if (id >= q->st.num) {
			bad |= GMA_ANOM_USED_ID_INVALID;
		} else if (q->done_early) {
			q->done_early[id] = true;
		}
		q->st.completions++;
		if (m->cb.on_completion)
			m->cb.on_completion(m->ctx, &c);
	}
	/* the skipped ones follow the elements: those before first were counted already */
	if (first < r->nr_elems + r->nr_skipped)
		q->st.completions +=
			r->nr_elems + r->nr_skipped - (first > r->nr_elems ? first : r->nr_elems);
	if (q->used_known && r->used_new != q->st.last_used)
		q->used_moved_ns = r->ts_ns;
	q->st.last_used = r->used_new;
	q->used_known = true;
	q->st.indices_known = q->avail_known;
	track_empty(q, r->ts_ns);
	q->last_completion_ns = r->ts_ns;
	q->stuck_reported = false;
	raise_anomaly(m, q, &q->key, r->ts_ns, bad, ~0u, r->pid);
}

/*
 * Walked chains in flight and the oldest notify time among them; *unknown counts those in
 * flight since before the queue was imported. Among requests only, if asked: then a request
 * already in flight at the import counts too, as made available at the import, which it is
 * at least as old as (*lower_bound, when it is the oldest; may be NULL).
 */
static void in_flight(const struct qm_queue *q, bool requests, __u32 *count, __u64 *oldest,
		      __u32 *unknown, bool *lower_bound)
{
	bool bound = false;

	*count = 0;
	*oldest = 0;
	*unknown = 0;
	for (__u32 i = 0; q->in_flight_ts && i < q->st.num; i++) {
		__u64 ts = q->in_flight_ts[i];
		bool at_attach = ts == QM_AGE_UNKNOWN;

		if (at_attach)
			(*unknown)++;
		if (at_attach && requests && q->is_request[i] && q->attached_ns)
			ts = q->attached_ns;
		if (!ts || ts == QM_AGE_UNKNOWN || (requests && !q->is_request[i]))
			continue;
		(*count)++;
		if (!*oldest || ts < *oldest || (ts == *oldest && at_attach)) {
			*oldest = ts;
			bound = at_attach;
		}
	}
	if (lower_bound)
		*lower_bound = bound;
}

int qm_check_stuck(struct queue_model *m, __u64 now_ns, __u64 stuck_ns)
{
	int stuck = 0;

	for (size_t i = 0; i < m->nr_queues; i++) {
		struct qm_queue *q = &m->queues[i];
		__u64 oldest, since;
		__u32 count, unknown;

		in_flight(q, true, &count, &oldest, &unknown, NULL);
		if (!count)
			continue;
		since = q->last_completion_ns > oldest ? q->last_completion_ns : oldest;
		if (now_ns < since || now_ns - since < stuck_ns)
			continue;
		stuck++;
		if (!q->stuck_reported) {
			q->stuck_reported = true;
			raise_anomaly(m, q, &q->key, now_ns, GMA_ANOM_STUCK, ~0u, q->st.pid);
		}
	}
	return stuck;
}

/* Every queue's stats as this library's structs, in a malloc'ed array of m->nr_queues. */
static struct gma_queue_stats *stats_of(struct queue_model *m)
{
	struct gma_queue_stats *s = calloc(m->nr_queues ? m->nr_queues : 1, sizeof(*s));

	for (size_t i = 0; s && i < m->nr_queues; i++) {
		const struct qm_queue *q = &m->queues[i];
		__u32 walked;

		s[i] = q->st;
		in_flight(q, false, &walked, &s[i].oldest_in_flight_ns, &s[i].in_flight_at_attach,
			  NULL);
		s[i].kind = qm_receive(q) ? GMA_QUEUE_KIND_RECEIVE : GMA_QUEUE_KIND_REQUEST;
		/* what the rings say, walked or not */
		s[i].in_flight = q->avail_known && q->used_known ?
					 (__u16)(q->st.last_avail - q->st.last_used) :
					 walked;
	}
	return s;
}

int qm_stats(struct queue_model *m, struct gma_queue_stats **stats, size_t *n, size_t elem_sz)
{
	struct gma_queue_stats *s;

	if (!elem_sz)
		return -EINVAL;
	s = stats_of(m);
	*stats = s ? gma_elems_copy(s, m->nr_queues, sizeof(*s), elem_sz) : NULL;
	free(s);
	if (!*stats)
		return -ENOMEM;
	*n = m->nr_queues;
	return 0;
}

/* Queue i's verdict and evidence at now_ns, its stats at st (this library's struct). */
static void health_of(struct queue_model *m, size_t i, __u64 now_ns, __u64 window_ns,
		      qm_irq_fn irq_of, void *ctx, const struct gma_queue_stats *st,
		      struct gma_queue_health *e)
{
	const struct qm_queue *q = &m->queues[i];
	__u32 count, unknown;

	e->vm_id = st->vm_id;
	e->base = st->base;
	e->queue = st->queue;
	e->device_id = st->device_id;
	e->pid = st->pid;
	e->stats_sz = sizeof(*st);
	e->stats = st;
	e->now_ns = now_ns;
	e->window_ns = window_ns;
	in_flight(q, true, &count, &e->oldest_request_ns, &unknown, &e->age_lower_bound);
	e->attached_ns = q->attached_ns;
	if (st->kind == GMA_QUEUE_KIND_RECEIVE)
		e->empty_since_ns = q->empty_since_ns;
	if (q->view_ns) {
		e->device_view_ns = q->view_ns;
		e->device_last_avail = q->view.last_avail_idx;
		e->device_used = q->view.used_idx;
		e->device_inuse = q->view.inuse;
	}
	e->last_notify_ns = q->last_notify_ns;
	e->avail_moved_ns = q->avail_moved_ns;
	e->used_moved_ns = q->used_moved_ns;
	e->unnotified_since_ns = q->unnotified_since_ns;
	e->unreaped_since_ns = q->unreaped_since_ns;
	e->reaped_seen_ns = q->reaped_seen_ns;
	e->used_event_at_reaped = q->used_event_at_reaped;
	e->notified_avail = q->notified_avail;
	e->ring_fields_known = q->fields_known;
	e->avail_flags = q->fields.avail_flags;
	e->used_flags = q->fields.used_flags;
	e->used_event = q->fields.used_event;
	e->used_event_moved = q->used_event_moved;
	e->avail_event = q->fields.avail_event;
	e->notify_asked_before = q->fields_known && q->unnotified_since_ns &&
				 q->notify_asked_ns < q->unnotified_since_ns;
	e->event_idx = qm_event_idx(q);
	e->notify_observable = true; /* unless the evidence callback knows better */
	e->irq = GMA_IRQ_NOT_OBSERVABLE;
	e->irq_line = -1;
	e->msix_vector = -1;
	if (irq_of)
		irq_of(ctx, &q->key, e);
	e->verdict = qh_verdict(e);
	e->stuck = gma_health_stuck(e->verdict);
}

int qm_health(struct queue_model *m, __u64 now_ns, __u64 window_ns, qm_irq_fn irq_of, void *ctx,
	      struct gma_queue_health **h, size_t *n, size_t elem_sz)
{
	size_t nr = m->nr_queues;
	struct gma_queue_stats *st, *st_out;
	char *out;

	if (!elem_sz)
		return -EINVAL;
	/*
	 * One block: the caller's elements, then the stats they point to at this library's
	 * size (stats_sz), so that free() of the array frees them too. nr is at most
	 * QM_QUEUES_MAX: no product here overflows.
	 */
	st = stats_of(m);
	if (!st)
		goto nomem;
	out = gma_elems_alloc(nr, elem_sz, nr * sizeof(*st), (void **)&st_out);
	if (!out)
		goto nomem;
	memcpy(st_out, st, nr * sizeof(*st));
	for (size_t i = 0; i < nr; i++) {
		struct gma_queue_health e = {};

		health_of(m, i, now_ns, window_ns, irq_of, ctx, &st_out[i], &e);
		gma_copy_sized(out + i * elem_sz, elem_sz, &e, sizeof(e));
	}
	free(st);
	*h = (struct gma_queue_health *)out;
	*n = nr;
	return 0;
nomem:
	free(st);
	return -ENOMEM;
}

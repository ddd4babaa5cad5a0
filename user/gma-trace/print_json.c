// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace's JSON output: every record of struct printer as one line, all through libgma's
 * JSON writer (user/print/gma_print.h). The records are documented in doc/json.md; each carries
 * "version" (GMA_JSON_VERSION) and, in rings' event stream, "type".
 */
#include <stdlib.h>
#include <string.h>

#include "gma-trace.h"

/* The writer on stdout, made at the first record. */
static struct gma_json *jw(void)
{
	static struct gma_json *w;

	if (!w)
		w = gma_json_new(stdout);
	if (!w) {
		perror("gma-trace: JSON writer");
		exit(1);
	}
	return w;
}

/* Opens a record: its type (NULL for none) and the format's version. */
static struct gma_json *record(const char *type)
{
	struct gma_json *w = jw();

	gma_json_start_object(w);
	if (type)
		gma_json_string_field(w, "type", type);
	gma_json_u64_field(w, "version", GMA_JSON_VERSION);
	return w;
}

/* The queue a record is about. */
static void queue_fields(struct gma_json *w, pid_t pid, __u32 device_id, __u64 base, __u32 queue)
{
	char addr[32];

	gma_json_s64_field(w, "pid", pid);
	gma_json_u64_field(w, "device_id", device_id);
	gma_json_u64_field(w, "base", base);
	gma_json_string_field(w, "transport", gma_device_transport(base));
	gma_json_string_field(w, "address", gma_device_address(base, addr, sizeof(addr)));
	gma_json_u64_field(w, "queue", queue);
}

/* "ioeventfds": [{bus, addr, len (0: any), wildcard, datamatch}], "ioeventfds_more": N */
static void json_ioeventfds(struct gma_json *w, const struct gma_vm *vm)
{
	gma_json_name(w, "ioeventfds");
	gma_json_start_array(w);
	for (size_t k = 0; k < vm->nr_ioeventfds; k++) {
		const struct gma_ioeventfd *e = gma_vm_ioeventfd(vm, k);

		gma_json_start_object(w);
		gma_json_string_field(w, "bus", gma_bus_name(e->bus));
		gma_json_u64_field(w, "addr", e->addr);
		gma_json_u64_field(w, "len", e->len);
		gma_json_bool_field(w, "wildcard", e->wildcard);
		gma_json_u64_field(w, "datamatch", e->datamatch);
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
	gma_json_u64_field(w, "ioeventfds_more", vm->ioeventfds_more);
}

static void json_vms(const struct gma_vm *vms, size_t n)
{
	struct gma_json *w = jw();
	char id[32];

	gma_json_start_array(w);
	for (size_t i = 0; i < n; i++) {
		gma_json_start_object(w);
		gma_json_u64_field(w, "version", GMA_JSON_VERSION);
		gma_json_s64_field(w, "pid", vms[i].pid);
		gma_json_s64_field(w, "creator_pid", vms[i].creator_pid);
		gma_json_u64_field(w, "fd", vms[i].fd);
		gma_json_u64_field(w, "vcpus", vms[i].nr_vcpus);
		snprintf(id, sizeof(id), "0x%llx", (unsigned long long)vms[i].id);
		gma_json_string_field(w, "vm_id", id);
		gma_json_u64_field(w, "flags", vms[i].flags);
		gma_json_name(w, "memslots");
		gma_json_start_array(w);
		for (size_t k = 0; k < vms[i].nr_slots; k++) {
			const struct gma_memslot *s = gma_vm_slot(&vms[i], k);

			gma_json_start_object(w);
			gma_json_u64_field(w, "slot", s->id);
			gma_json_u64_field(w, "as", s->as_id);
			gma_json_u64_field(w, "gpa", s->gpa);
			gma_json_u64_field(w, "size", s->size);
			gma_json_u64_field(w, "hva", s->hva);
			gma_json_u64_field(w, "flags", s->flags);
			gma_json_end_object(w);
		}
		gma_json_end_array(w);
		json_ioeventfds(w, &vms[i]);
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
}

static void unread_range(void *ctx, __u64 gpa, size_t len, __u8 state, bool first)
{
	struct gma_json *w = ctx;

	(void)first;
	gma_json_start_object(w);
	gma_json_u64_field(w, "gpa", gpa);
	gma_json_u64_field(w, "len", len);
	gma_json_string_field(w, "reason", byte_state_name(state));
	gma_json_end_object(w);
}

/* The bytes as hex (0 where not read) and the ranges not read with their reason. */
static void json_dump(const struct dump *d, const char *source, pid_t pid)
{
	struct gma_json *w = record(NULL);
	__u8 *bytes = malloc(d->len ? d->len : 1);

	gma_json_s64_field(w, "pid", pid);
	gma_json_string_field(w, "source", source);
	gma_json_u64_field(w, "gpa", d->gpa);
	gma_json_u64_field(w, "len", d->len);
	if (bytes) {
		for (size_t i = 0; i < d->len; i++)
			bytes[i] = d->state[i] == GMA_BYTE_READ ? d->data[i] : 0;
		gma_json_name(w, "bytes");
		gma_json_hex(w, bytes, d->len);
		free(bytes);
	}
	gma_json_name(w, "unread");
	gma_json_start_array(w);
	for_each_unread(d, unread_range, w);
	gma_json_end_array(w);
	gma_json_end_object(w);
}

static void json_queue(const struct gma_queue_event *q)
{
	struct gma_json *w = record("queue");

	gma_json_u64_field(w, "ts_ns", q->ts_ns);
	queue_fields(w, q->pid, q->device_id, q->base, q->queue);
	gma_json_u64_field(w, "num", q->layout.num);
	gma_json_u64_field(w, "desc", q->layout.desc);
	gma_json_u64_field(w, "driver", q->layout.driver);
	gma_json_u64_field(w, "device", q->layout.device);
	gma_json_u64_field(w, "flags", q->layout.flags);
	gma_json_end_object(w);
}

static void json_chain(const struct gma_chain *c, bool descs)
{
	(void)descs; /* JSON chains always hold their descriptors */
	gma_chain_json(jw(), c);
}

static void json_completion(const struct gma_completion *c)
{
	struct gma_json *w = record("completion");

	gma_json_u64_field(w, "ts_ns", c->ts_ns);
	queue_fields(w, c->pid, c->device_id, c->base, c->queue);
	gma_json_u64_field(w, "head", c->head);
	gma_json_u64_field(w, "len", c->len);
	gma_json_u64_field(w, "latency_ns", c->latency_ns);
	gma_json_bool_field(w, "age_unknown", c->age_unknown);
	gma_json_end_object(w);
}

/*
 * An attach_chain record per chain listed (the members of a chain record, but notify_seq and
 * sample times: it was read from userspace at import), then one attach record for the queue.
 */
static void json_attach(const struct gma_attach_chains *a, bool descs)
{
	struct gma_json *w;
	char summary[256];

	(void)descs; /* JSON chains always hold their descriptors */
	for (__u32 i = 0; i < a->nr_chains; i++) {
		const struct gma_chain *c = gma_attach_chain(a, i);
		struct gma_chain_view v;

		gma_chain_view_ring(&v, c, a->device_id, a->queue);
		gma_chain_summary(&v, summary, sizeof(summary));
		w = record("attach_chain");
		gma_json_u64_field(w, "ts_ns", a->ts_ns);
		queue_fields(w, a->pid, a->device_id, a->base, a->queue);
		gma_json_u64_field(w, "avail_idx", c->avail_idx);
		gma_json_u64_field(w, "head", c->head);
		gma_json_u64_field(w, "nr_descs", c->nr_walked);
		gma_json_u64_field(w, "total_len", c->total_len);
		gma_json_bool_field(w, "indirect", c->flags & GMA_CHAIN_INDIRECT);
		gma_json_bool_field(w, "age_unknown", true);
		gma_chain_json_members(w, summary, &v);
		gma_json_end_object(w);
	}
	w = record("attach");
	gma_json_u64_field(w, "ts_ns", a->ts_ns);
	queue_fields(w, a->pid, a->device_id, a->base, a->queue);
	gma_json_u64_field(w, "in_flight", a->in_flight);
	gma_json_u64_field(w, "listed", a->nr_chains);
	gma_json_u64_field(w, "not_listed", a->not_listed);
	gma_json_name(w, "anomalies");
	gma_json_anomalies(w, a->anomalies);
	gma_json_end_object(w);
}

static void json_anomaly(const struct gma_anomaly_event *a)
{
	struct gma_json *w = record("anomaly");

	gma_json_u64_field(w, "ts_ns", a->ts_ns);
	queue_fields(w, a->pid, a->device_id, a->base, a->queue);
	if (a->head != ~0u)
		gma_json_u64_field(w, "head", a->head);
	gma_json_name(w, "anomalies");
	gma_json_anomalies(w, a->anomalies);
	gma_json_end_object(w);
}

/* The verdict and its evidence, as fields of the record being written. */
static void health_fields(struct gma_json *w, const struct gma_queue_health *h)
{
	gma_json_string_field(w, "verdict", gma_health_name(h->verdict));
	gma_json_bool_field(w, "stuck", h->stuck);
	gma_json_string_field(w, "kind", queue_kind_name(h->stats->kind));
	gma_json_name(w, "evidence");
	gma_json_start_object(w);
	gma_json_u64_field(w, "now_ns", h->now_ns);
	gma_json_u64_field(w, "window_ns", h->window_ns);
	gma_json_u64_field(w, "oldest_request_ns", h->oldest_request_ns);
	gma_json_bool_field(w, "oldest_request_age_at_least", h->age_lower_bound);
	gma_json_u64_field(w, "attached_ns", h->attached_ns);
	gma_json_u64_field(w, "empty_since_ns", h->empty_since_ns);
	if (h->device_view_ns) {
		gma_json_name(w, "device_view");
		gma_json_start_object(w);
		gma_json_u64_field(w, "ts_ns", h->device_view_ns);
		gma_json_u64_field(w, "last_avail_idx", h->device_last_avail);
		gma_json_u64_field(w, "used_idx", h->device_used);
		gma_json_u64_field(w, "inuse", h->device_inuse);
		gma_json_end_object(w);
	}
	gma_json_u64_field(w, "last_notify_ns", h->last_notify_ns);
	gma_json_u64_field(w, "notified_avail", h->notified_avail);
	gma_json_u64_field(w, "avail_moved_ns", h->avail_moved_ns);
	gma_json_u64_field(w, "used_moved_ns", h->used_moved_ns);
	gma_json_u64_field(w, "unnotified_since_ns", h->unnotified_since_ns);
	gma_json_u64_field(w, "unreaped_since_ns", h->unreaped_since_ns);
	gma_json_bool_field(w, "ring_fields_known", h->ring_fields_known);
	gma_json_u64_field(w, "avail_flags", h->avail_flags);
	gma_json_u64_field(w, "used_flags", h->used_flags);
	gma_json_bool_field(w, "event_idx", h->event_idx);
	gma_json_u64_field(w, "used_event", h->used_event);
	gma_json_u64_field(w, "avail_event", h->avail_event);
	gma_json_u64_field(w, "reaped_seen_ns", h->reaped_seen_ns);
	gma_json_u64_field(w, "used_event_at_reaped", h->used_event_at_reaped);
	gma_json_u64_field(w, "guest_ran_ns", h->guest_ran_ns);
	gma_json_bool_field(w, "notify_observable", h->notify_observable);
	gma_json_bool_field(w, "notify_asked_before", h->notify_asked_before);
	gma_json_string_field(w, "interrupts_evidence",
			      h->irq == GMA_IRQ_OBSERVED  ? "observed" :
			      h->irq == GMA_IRQ_UNMAPPED  ? "line_not_learnt" :
			      h->irq == GMA_IRQ_NO_VECTOR ? "no_vector" :
			      h->irq == GMA_IRQ_MASKED	  ? "masked" :
							    "not_observable");
	gma_json_s64_field(w, "irq_line", h->irq_line);
	gma_json_s64_field(w, "msix_vector", h->msix_vector);
	gma_json_u64_field(w, "msi_address", h->msi_address);
	gma_json_u64_field(w, "msi_data", h->msi_data);
	gma_json_u64_field(w, "interrupts", h->interrupts);
	gma_json_u64_field(w, "last_irq_ns", h->last_irq_ns);
	gma_json_end_object(w);
}

static void json_queue_stats(const struct gma_queue_health *h, size_t n, bool last)
{
	(void)last;
	for (size_t i = 0; i < n; i++) {
		const struct gma_queue_stats *st = h[i].stats;
		struct gma_json *w = record("queue_stats");

		queue_fields(w, st->pid, st->device_id, st->base, st->queue);
		gma_json_u64_field(w, "num", st->num);
		gma_json_u64_field(w, "desc", st->desc);
		gma_json_u64_field(w, "driver", st->driver);
		gma_json_u64_field(w, "device", st->device);
		gma_json_u64_field(w, "avail_idx", st->last_avail);
		gma_json_u64_field(w, "used_idx", st->last_used);
		gma_json_u64_field(w, "in_flight", st->in_flight);
		gma_json_u64_field(w, "notifies", st->notifies);
		gma_json_u64_field(w, "chains", st->chains);
		gma_json_u64_field(w, "completions", st->completions);
		gma_json_u64_field(w, "anomalies", st->anomalies);
		gma_json_u64_field(w, "skipped", st->skipped);
		gma_json_u64_field(w, "silent", st->silent);
		gma_json_u64_field(w, "in_flight_at_attach", st->in_flight_at_attach);
		gma_json_bool_field(w, "indices_known", st->indices_known);
		gma_json_string_field(w, "kind", queue_kind_name(st->kind));
		gma_json_u64_field(w, "latency_avg_ns",
				   st->latency_n ? st->latency_sum_ns / st->latency_n : 0);
		gma_json_u64_field(w, "latency_max_ns", st->latency_max_ns);
		health_fields(w, &h[i]);
		gma_json_end_object(w);
	}
}

static void json_health(const struct gma_queue_health *h, size_t n, bool last, bool all)
{
	(void)last;
	(void)all; /* every queue: a program filters */
	for (size_t i = 0; i < n; i++) {
		const struct gma_queue_stats *st = h[i].stats;
		struct gma_json *w = record("queue_health");

		queue_fields(w, st->pid, st->device_id, st->base, st->queue);
		gma_json_u64_field(w, "num", st->num);
		gma_json_u64_field(w, "avail_idx", st->last_avail);
		gma_json_u64_field(w, "used_idx", st->last_used);
		gma_json_u64_field(w, "in_flight", st->in_flight);
		gma_json_u64_field(w, "oldest_request_age_ns",
				   h[i].oldest_request_ns && h[i].now_ns >= h[i].oldest_request_ns ?
					   h[i].now_ns - h[i].oldest_request_ns :
					   0);
		health_fields(w, &h[i]);
		gma_json_string_field(w, "reason", gma_health_reason(h[i].verdict));
		gma_json_end_object(w);
	}
}

/* An unexplained notify's members: where, what value, how many, which registration. */
static void unexplained_fields(struct gma_json *w, const struct gma_unexplained_notify *u)
{
	char id[32];

	snprintf(id, sizeof(id), "0x%llx", (unsigned long long)u->vm_id);
	gma_json_string_field(w, "vm_id", id);
	gma_json_s64_field(w, "pid", u->pid);
	gma_json_string_field(w, "bus", gma_bus_name(u->bus));
	gma_json_u64_field(w, "addr", u->addr);
	gma_json_bool_field(w, "has_data", u->data != GMA_NOTIFY_NO_DATA);
	gma_json_u64_field(w, "data", u->data != GMA_NOTIFY_NO_DATA ? u->data : 0);
	gma_json_u64_field(w, "count", u->count);
	gma_json_u64_field(w, "first_ns", u->first_ns);
	gma_json_u64_field(w, "last_ns", u->last_ns);
	gma_json_u64_field(w, "reg_len", u->reg_len);
	gma_json_bool_field(w, "reg_wildcard", u->reg_wildcard);
	gma_json_bool_field(w, "reg_shared", u->reg_shared);
	gma_json_u64_field(w, "reg_datamatch", u->reg_datamatch);
}

static void json_unexplained(const struct gma_unexplained_notify *u)
{
	struct gma_json *w = record("unexplained_notify");

	unexplained_fields(w, u);
	gma_json_string_field(w, "hint",
			      "the device was set up before the trace started; pass "
			      "--qmp SOCKET or --queue");
	gma_json_end_object(w);
}

static void json_quiet(const struct quiet_notice *q)
{
	struct gma_json *w = record("quiet");

	gma_json_s64_field(w, "pid", q->pid);
	gma_json_u64_field(w, "quiet_ms", q->quiet_ms);
	gma_json_u64_field(w, "vcpu_events", q->vcpu_events);
	gma_json_string_field(w, "meaning", quiet_meaning(q));
	gma_json_end_object(w);
}

static void json_summary(const struct trace_summary *s)
{
	struct gma_json *w = record("summary");

	gma_json_u64_field(w, "notifies", s->notifies);
	gma_json_u64_field(w, "chains", s->chains);
	gma_json_u64_field(w, "completions", s->completions);
	gma_json_u64_field(w, "anomalies", s->anomalies);
	gma_json_u64_field(w, "drops", s->drops);
	gma_json_u64_field(w, "bad_records", s->bad_records);
	gma_json_s64_field(w, "max_rss_kb", s->max_rss_kb);
	gma_json_name(w, "unexplained_notifies");
	gma_json_start_array(w);
	for (size_t i = 0; i < s->nr_unexplained; i++) {
		gma_json_start_object(w);
		unexplained_fields(w, &s->unexplained[i]);
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
	gma_json_u64_field(w, "unexplained_overflow", s->unexplained_overflow);
	gma_json_name(w, "by_anomaly");
	gma_json_start_object(w);
	for (int b = 0; b < 32; b++)
		if (s->by_anomaly[b])
			gma_json_u64_field(w, gma_anomaly_name(1u << b) ?: "unknown",
					   s->by_anomaly[b]);
	gma_json_end_object(w);
	gma_json_name(w, "verdicts");
	gma_json_start_array(w);
	for (size_t i = 0; i < s->nr_health; i++) {
		char addr[32];

		gma_json_start_object(w);
		gma_json_string_field(w, "address",
				      gma_device_address(s->health[i].base, addr, sizeof(addr)));
		gma_json_u64_field(w, "queue", s->health[i].queue);
		gma_json_string_field(w, "verdict", gma_health_name(s->health[i].verdict));
		gma_json_bool_field(w, "stuck", s->health[i].stuck);
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
	gma_json_end_object(w);
}

static void json_ring(const struct queue_spec *q, const struct gma_ring *ring, bool descs)
{
	struct gma_json *w = record("ring");
	char summary[256], label[32];

	(void)descs; /* JSON chains always hold their descriptors */
	gma_json_string_field(w, "device", gma_device_label(q->device_id, label, sizeof(label)));
	gma_json_u64_field(w, "base", q->base);
	gma_json_u64_field(w, "queue", q->index);
	gma_json_u64_field(w, "num", ring->layout.num);
	gma_json_u64_field(w, "avail_idx", ring->avail_idx);
	gma_json_u64_field(w, "used_idx", ring->used_idx);
	gma_json_u64_field(w, "avail_flags", ring->avail_flags);
	gma_json_u64_field(w, "used_flags", ring->used_flags);
	gma_json_u64_field(w, "pending", ring->nr_pending);
	gma_json_name(w, "anomalies");
	gma_json_anomalies(w, ring->anomalies);
	if (q->has_qmp) {
		gma_json_name(w, "qmp");
		gma_json_start_object(w);
		gma_json_u64_field(w, "last_avail_idx", q->qmp_last_avail_idx);
		gma_json_u64_field(w, "used_idx", q->qmp_used_idx);
		gma_json_u64_field(w, "inuse", q->qmp_inuse);
		gma_json_end_object(w);
	}
	gma_json_name(w, "chains");
	gma_json_start_array(w);
	for (__u32 i = 0; i < ring->nr_chains; i++) {
		const struct gma_chain *c = gma_ring_chain(ring, i);
		struct gma_chain_view v;

		gma_chain_view_ring(&v, c, q->device_id, q->index);
		gma_chain_summary(&v, summary, sizeof(summary));
		gma_json_start_object(w);
		gma_json_u64_field(w, "avail_idx", c->avail_idx);
		gma_json_u64_field(w, "head", c->head);
		gma_json_u64_field(w, "nr_descs", c->nr_descs);
		gma_chain_json_members(w, summary, &v);
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
	gma_json_name(w, "used");
	gma_json_start_array(w);
	for (__u32 i = 0; i < ring->nr_used; i++) {
		const struct gma_ring_used_elem *u = gma_ring_used(ring, i);

		gma_json_start_object(w);
		gma_json_u64_field(w, "pos", u->pos);
		gma_json_u64_field(w, "id", u->id);
		gma_json_u64_field(w, "len", u->len);
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
	gma_json_end_object(w);
}

const struct printer json_printer = PRINTER(json);

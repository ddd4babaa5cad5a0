// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gma-trace's text output: every record of struct printer, for people. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_mmio.h>

#include "gma-trace.h"

__s64 wall_minus_mono_ns;

static void print_time(FILE *f, __u64 mono_ns)
{
	__u64 wall = mono_ns + wall_minus_mono_ns;
	time_t sec = wall / 1000000000ULL;
	struct tm tm;

	localtime_r(&sec, &tm);
	fprintf(f, "%02d:%02d:%02d.%06llu", tm.tm_hour, tm.tm_min, tm.tm_sec,
		(unsigned long long)(wall % 1000000000ULL) / 1000);
}

static void print_slot_flags(FILE *f, __u32 flags)
{
	fprintf(f, "%s%s%s", flags & 1 ? "dirty-log " : "", flags & 2 ? "readonly " : "",
		flags & GMA_SLOT_INVALID ? "invalid " : "");
}

/* The VM's KVM_IOEVENTFD registrations: where its VMM takes notifies without an exit. */
static void text_ioeventfds(const struct gma_vm *vm)
{
	if (!vm->nr_ioeventfds && !vm->ioeventfds_more &&
	    !(vm->flags & GMA_VM_IOEVENTFDS_INCOMPLETE))
		return;
	printf("  %-10s %-18s %-4s %s\n", "IOEVENTFD", "ADDR", "LEN", "DATAMATCH");
	for (size_t k = 0; k < vm->nr_ioeventfds; k++) {
		const struct gma_ioeventfd *e = gma_vm_ioeventfd(vm, k);
		char len[16] = "any";

		if (e->len)
			snprintf(len, sizeof(len), "%u", e->len);
		printf("  %-10s 0x%016llx %-4s ", gma_bus_name(e->bus), (unsigned long long)e->addr,
		       len);
		if (e->wildcard)
			printf("any\n");
		else
			printf("%llu\n", (unsigned long long)e->datamatch);
	}
	if (vm->ioeventfds_more)
		printf("  (%u more ioeventfds not listed)\n", vm->ioeventfds_more);
	if (vm->flags & GMA_VM_IOEVENTFDS_INCOMPLETE)
		printf("  (the ioeventfd list changed while it was read: a subset; list again)\n");
}

static void text_vms(const struct gma_vm *vms, size_t n)
{
	if (!n)
		printf("no KVM VMs on this host\n");
	for (size_t i = 0; i < n; i++) {
		printf("VM pid %d (%s): %u vCPUs, %zu memslots, vm fd %u%s\n", vms[i].pid,
		       comm_of(vms[i].pid), vms[i].nr_vcpus, vms[i].nr_slots, vms[i].fd,
		       vms[i].flags & GMA_VM_SLOTS_TRUNCATED ? " (slot list truncated)" : "");
		printf("  %5s  %-18s %-18s %-10s %-18s %s\n", "SLOT", "GPA", "END", "SIZE", "HVA",
		       "FLAGS");
		for (size_t k = 0; k < vms[i].nr_slots; k++) {
			const struct gma_memslot *s = gma_vm_slot(&vms[i], k);

			printf("  %5u  0x%016llx 0x%016llx %-10s 0x%016llx ", s->id,
			       (unsigned long long)s->gpa,
			       (unsigned long long)(s->gpa + s->size - 1), human_size(s->size),
			       (unsigned long long)s->hva);
			print_slot_flags(stdout, s->flags);
			printf("\n");
		}
		text_ioeventfds(&vms[i]);
	}
}

static const char *byte_mark(__u8 state)
{
	static const char *marks[] = { "", "--", "!!", "##", "??", ".." };

	return state < ARRAY_SIZE(marks) ? marks[state] : "**";
}

static void print_range(void *ctx, __u64 gpa, size_t len, __u8 state, bool first)
{
	(void)ctx;
	printf("%s  0x%016llx-0x%016llx  %s\n", first ? "not read:\n" : "", (unsigned long long)gpa,
	       (unsigned long long)(gpa + len - 1), byte_state_name(state));
}

/*
 * 16 bytes a line; bytes that are not guest data print as "--" (unmapped), "!!" (fault),
 * "##" (foreign mm), "??" (lost), ".." (not covered), then those ranges with their reason.
 */
static void text_dump(const struct dump *d, const char *source, pid_t pid)
{
	(void)source;
	(void)pid;
	for (size_t line = 0; line < d->len; line += 16) {
		size_t n = d->len - line < 16 ? d->len - line : 16;

		printf("%016llx ", (unsigned long long)(d->gpa + line));
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				putchar(' ');
			if (i >= n)
				printf("   ");
			else if (d->state[line + i] == GMA_BYTE_READ)
				printf(" %02x", d->data[line + i]);
			else
				printf(" %s", byte_mark(d->state[line + i]));
		}
		printf("  |");
		for (size_t i = 0; i < n; i++) {
			__u8 c = d->data[line + i];

			putchar(d->state[line + i] == GMA_BYTE_READ && c >= 0x20 && c < 0x7f ? c :
											       '.');
		}
		printf("|\n");
	}
	for_each_unread(d, print_range, NULL);
}

static void text_queue(const struct gma_queue_event *q)
{
	print_time(stdout, q->ts_ns);
	printf(" %u ", (unsigned int)q->pid);
	gma_print_queue_label(stdout, q->device_id, q->base, q->queue);
	printf(" ready: %u entries, desc 0x%llx driver 0x%llx device 0x%llx%s\n", q->layout.num,
	       (unsigned long long)q->layout.desc, (unsigned long long)q->layout.driver,
	       (unsigned long long)q->layout.device,
	       q->layout.flags & GMA_QUEUE_LEGACY ? " (legacy)" : "");
}

static void text_chain(const struct gma_chain *c, bool descs)
{
	print_time(stdout, c->ts_ns);
	gma_chain_print(stdout, c, descs);
}

static void text_completion(const struct gma_completion *c)
{
	print_time(stdout, c->ts_ns);
	printf(" %d ", c->pid);
	gma_print_queue_label(stdout, c->device_id, c->base, c->queue);
	printf(" used head %u len %u", c->head, c->len);
	if (c->age_unknown)
		printf(" age unknown (in flight at attach)");
	else if (c->latency_ns)
		printf(" latency %.3f ms", c->latency_ns / 1e6);
	printf("\n");
}

/* Each chain as a live one prints (gma_chain_print), marked; then what was not listed. */
static void text_attach(const struct gma_attach_chains *a, bool descs)
{
	char summary[256], an[256];

	for (__u32 i = 0; i < a->nr_chains; i++) {
		const struct gma_chain *c = gma_attach_chain(a, i);
		struct gma_chain_view v;

		gma_chain_view_ring(&v, c, a->device_id, a->queue);
		gma_chain_summary(&v, summary, sizeof(summary));
		print_time(stdout, a->ts_ns);
		printf(" %d ", a->pid);
		gma_print_queue_label(stdout, a->device_id, a->base, a->queue);
		printf(" avail %u head %u: %s (%u desc%s%s)", c->avail_idx, c->head, summary,
		       c->nr_walked, c->nr_walked == 1 ? "" : "s",
		       c->flags & GMA_CHAIN_INDIRECT ? ", indirect" : "");
		if (c->anomalies & ~GMA_ANOM_CHAIN_TRUNCATED) {
			gma_anomaly_format(c->anomalies, an, sizeof(an));
			printf(" !! %s", an);
		}
		printf(" -- in flight at attach, age unknown\n");
		if (descs)
			gma_chain_print_descs(stdout, &v);
	}
	if (a->not_listed) {
		print_time(stdout, a->ts_ns);
		printf(" %d ", a->pid);
		gma_print_queue_label(stdout, a->device_id, a->base, a->queue);
		printf(" %u more in flight at attach not listed (%u in all)\n", a->not_listed,
		       a->in_flight);
	}
}

static void text_anomaly(const struct gma_anomaly_event *a)
{
	for (int b = 0; b < 32; b++) {
		if (!(a->anomalies & (1u << b)))
			continue;
		print_time(stdout, a->ts_ns);
		printf(" %d ", a->pid);
		gma_print_queue_label(stdout, a->device_id, a->base, a->queue);
		if (a->head != ~0u)
			printf(" head %u", a->head);
		printf(" ANOMALY %s: %s\n", gma_anomaly_name(1u << b) ?: "unknown",
		       gma_anomaly_reason(1u << b) ?: "");
	}
}

static void text_queue_stats(const struct gma_queue_health *h, size_t n, bool last)
{
	char label[32], addr[32];

	if (!last && isatty(1))
		printf("\033[H\033[2J");
	printf("%-16s %-12s %2s %-7s %5s %6s %6s %6s %8s %8s %8s %9s %9s %5s %s\n", "DEVICE",
	       "ADDRESS", "Q", "KIND", "NUM", "AVAIL", "USED", "INFLT", "NOTIFY", "CHAINS", "DONE",
	       "LAT-AVG", "LAT-MAX", "ANOM", "VERDICT");
	for (size_t i = 0; i < n; i++) {
		const struct gma_queue_stats *st = h[i].stats;

		printf("%-16s %-12s %2u %-7s %5u %6u %6u %6u %8llu %8llu %8llu %7.3fms %7.3fms "
		       "%5llu %s\n",
		       gma_device_label(st->device_id, label, sizeof(label)),
		       gma_device_address(st->base, addr, sizeof(addr)), st->queue,
		       queue_kind_name(st->kind), st->num, st->last_avail, st->last_used,
		       st->in_flight, (unsigned long long)st->notifies,
		       (unsigned long long)st->chains, (unsigned long long)st->completions,
		       st->latency_n ? st->latency_sum_ns / 1e6 / st->latency_n : 0.0,
		       st->latency_max_ns / 1e6, (unsigned long long)st->anomalies,
		       gma_health_name(h[i].verdict));
	}
	fflush(stdout);
}

/* "1.234s ago", or "never" for a time never seen. */
static const char *ago(const struct gma_queue_health *h, __u64 ts, char *buf, size_t len)
{
	if (!ts)
		return "never";
	if (ts > h->now_ns)
		return "just now";
	snprintf(buf, len, "%.3fs ago", (h->now_ns - ts) / 1e9);
	return buf;
}

char *health_evidence(const struct gma_queue_health *h, char *buf, size_t len)
{
	char a[32], b[32], c[32], irq[128];
	const char *ring;

	if (!h->stats->indices_known) {
		snprintf(buf, len, "indices not read from the guest yet");
		return buf;
	}
	if (h->irq == GMA_IRQ_OBSERVED && h->msix_vector >= 0)
		snprintf(irq, sizeof(irq),
			 "MSI-X vector %d (address %#llx data %#x): %llu "
			 "interrupts, last %s",
			 h->msix_vector, (unsigned long long)h->msi_address, h->msi_data,
			 (unsigned long long)h->interrupts, ago(h, h->last_irq_ns, c, sizeof(c)));
	else if (h->irq == GMA_IRQ_OBSERVED)
		snprintf(irq, sizeof(irq), "GSI %d: %llu interrupts, last %s", h->irq_line,
			 (unsigned long long)h->interrupts, ago(h, h->last_irq_ns, c, sizeof(c)));
	else if (h->irq == GMA_IRQ_NO_VECTOR)
		snprintf(irq, sizeof(irq), "no MSI-X vector for this queue: no interrupts");
	else if (h->irq == GMA_IRQ_MASKED)
		snprintf(irq, sizeof(irq), "MSI-X vector %d masked: no interrupts (%llu injected)",
			 h->msix_vector, (unsigned long long)h->interrupts);
	else if (h->irq == GMA_IRQ_UNMAPPED)
		snprintf(irq, sizeof(irq), "%s",
			 GMA_KEY_IS_PCI(h->base) ?
				 "interrupts traced, the queue's MSI-X vector or message not seen" :
				 "interrupts traced, the device's line not learnt yet");
	else
		snprintf(irq, sizeof(irq), "interrupts not observable on this kernel");
	ring = h->ring_fields_known ? "" : " (ring flags not read)";
	snprintf(buf, len,
		 "avail %u (notified %u, moved %s), used %u (moved %s), last notify %s; avail "
		 "flags %#x%s, used flags %#x%s%s; %s",
		 h->stats->last_avail, h->notified_avail, ago(h, h->avail_moved_ns, a, sizeof(a)),
		 h->stats->last_used, ago(h, h->used_moved_ns, b, sizeof(b)),
		 ago(h, h->last_notify_ns, c, sizeof(c)), h->avail_flags,
		 h->avail_flags & 1 ? " NO_INTERRUPT" : "", h->used_flags,
		 h->used_flags & 1 ? " NO_NOTIFY" : "", ring, irq);
	if (h->stats->in_flight_at_attach) {
		size_t l = strlen(buf);

		snprintf(buf + l, len - l,
			 "; %u in flight since before the trace, attached %s (at least that old)",
			 h->stats->in_flight_at_attach, ago(h, h->attached_ns, a, sizeof(a)));
	}
	if (h->empty_since_ns) {
		size_t l = strlen(buf);

		snprintf(buf + l, len - l, "; no receive buffer posted since %s",
			 ago(h, h->empty_since_ns, a, sizeof(a)));
	}
	if (h->device_view_ns) {
		size_t l = strlen(buf);

		snprintf(buf + l, len - l,
			 "; the device (its VMM, %s): next avail %u, used %u, %u taken and not "
			 "completed",
			 ago(h, h->device_view_ns, a, sizeof(a)), h->device_last_avail,
			 h->device_used, h->device_inuse);
	}
	if (h->event_idx) {
		size_t l = strlen(buf);

		snprintf(buf + l, len - l,
			 "; EVENT_IDX: used_event %u, avail_event %u, all reaped seen %s",
			 h->used_event, h->avail_event, ago(h, h->reaped_seen_ns, a, sizeof(a)));
	}
	return buf;
}

/*
 * How much a queue needs the operator: 0 stuck, 1 not known (unknown, guest-stopped), 2
 * healthy, 3 idle. The screen lists them in this order and folds the idle ones.
 */
static int attention(const struct gma_queue_health *h)
{
	if (h->stuck)
		return 0;
	if (h->verdict == GMA_HEALTH_IDLE)
		return 3;
	return h->verdict == GMA_HEALTH_HEALTHY ? 2 : 1;
}

static void text_health_line(const struct gma_queue_health *h, bool evidence)
{
	const struct gma_queue_stats *st = h->stats;
	char label[32], addr[32], ev[1024], age[32];

	if (h->oldest_request_ns && h->now_ns >= h->oldest_request_ns)
		snprintf(age, sizeof(age), "%s%.3fs", h->age_lower_bound ? ">=" : "",
			 (h->now_ns - h->oldest_request_ns) / 1e9);
	else
		snprintf(age, sizeof(age), "-");
	printf("%-16s %-12s %2u %-7s %-22s %10s %6u\n",
	       gma_device_label(st->device_id, label, sizeof(label)),
	       gma_device_address(st->base, addr, sizeof(addr)), st->queue,
	       queue_kind_name(st->kind), gma_health_name(h->verdict), age, st->in_flight);
	if (evidence)
		printf("    %s\n", health_evidence(h, ev, sizeof(ev)));
	if (h->stuck || h->verdict == GMA_HEALTH_UNKNOWN || h->verdict == GMA_HEALTH_GUEST_STOPPED)
		printf("    => %s\n", gma_health_reason(h->verdict));
}

/*
 * One screen: the queues that need attention first (stuck, then not known), each with its
 * evidence and what to look at, then the healthy ones; the idle ones folded into a count
 * (all: every queue, each with its evidence).
 */
static void text_health(const struct gma_queue_health *h, size_t n, bool last, bool all)
{
	size_t idle = 0, posted = 0;

	if (!last && isatty(1))
		printf("\033[H\033[2J");
	printf("%-16s %-12s %2s %-7s %-22s %10s %6s\n", "DEVICE", "ADDRESS", "Q", "KIND", "VERDICT",
	       "OLDEST", "INFLT");
	for (int rank = 0; rank <= 3; rank++) {
		for (size_t i = 0; i < n; i++) {
			if (attention(&h[i]) != rank)
				continue;
			if (rank == 3 && !all) {
				idle++;
				posted += h[i].stats->kind == GMA_QUEUE_KIND_RECEIVE &&
					  h[i].stats->in_flight;
				continue;
			}
			text_health_line(&h[i], all || rank < 2);
		}
	}
	if (idle)
		printf("%zu idle queue%s not listed (%zu receive queue%s with buffers posted, waiting "
		       "for data); --all lists them\n",
		       idle, idle == 1 ? "" : "s", posted, posted == 1 ? "" : "s");
	fflush(stdout);
}

/* On stderr: stdout holds the events. */
static void text_summary(const struct trace_summary *s)
{
	fprintf(stderr,
		"\n%llu notifies, %llu chains, %llu completions, %llu anomalies, %llu records "
		"dropped (ring buffer full), %llu malformed\n",
		(unsigned long long)s->notifies, (unsigned long long)s->chains,
		(unsigned long long)s->completions, (unsigned long long)s->anomalies,
		(unsigned long long)s->drops, (unsigned long long)s->bad_records);
	for (int b = 0; b < 32; b++)
		if (s->by_anomaly[b])
			fprintf(stderr, "  %-20s %llu\n", gma_anomaly_name(1u << b) ?: "unknown",
				(unsigned long long)s->by_anomaly[b]);
	for (size_t i = 0; i < s->nr_health; i++) {
		char label[32], addr[32];

		fprintf(stderr, "  %s@%s queue %u: %s%s\n",
			gma_device_label(s->health[i].device_id, label, sizeof(label)),
			gma_device_address(s->health[i].base, addr, sizeof(addr)),
			s->health[i].queue, gma_health_name(s->health[i].verdict),
			s->health[i].stuck ? " (stuck)" : "");
	}
	if (s->drops)
		fprintf(stderr, "records were lost: raise --ringbuf-size or lower --snap-len\n");
	for (size_t i = 0; i < s->nr_unexplained; i++) {
		const struct gma_unexplained_notify *u = &s->unexplained[i];
		char what[64];

		fprintf(stderr, "%llu %s on %s 0x%llx (ioeventfd, %s) no known queue explains\n",
			(unsigned long long)u->count, u->count == 1 ? "notify" : "notifies",
			u->bus == GMA_BUS_PIO ? "port" : "address", (unsigned long long)u->addr,
			unexplained_what(u, what, sizeof(what)));
	}
	if (s->unexplained_overflow)
		fprintf(stderr,
			"%llu more notifies no known queue explains, on addresses not counted "
			"(the kernel's table of %d was full)\n",
			(unsigned long long)s->unexplained_overflow, GMA_TRACER_UNEXPLAINED_MAX);
	if (s->nr_unexplained)
		fprintf(stderr,
			"pass --qmp SOCKET or --queue for the queues set up before the trace "
			"started, or start the VMM under gma-trace rings -- COMMAND\n");
}

/*
 * On stderr, as a warning: the trace misses a device's chains, and why, and what to do. The
 * count is the total so far.
 */
static void text_unexplained(const struct gma_unexplained_notify *u)
{
	char what[64], mmio[128] = "";

	/* a write to a virtio-mmio window's QueueNotify carries the queue's index */
	if (u->bus == GMA_BUS_MMIO &&
	    (u->addr & (GMA_VIRTIO_MMIO_WINDOW - 1)) == VIRTIO_MMIO_QUEUE_NOTIFY &&
	    u->data != GMA_NOTIFY_NO_DATA)
		snprintf(
			mmio, sizeof(mmio),
			" (if it is a virtio-mmio window's QueueNotify: --queue base=0x%llx,index=%llu,"
			"...)",
			(unsigned long long)(u->addr - VIRTIO_MMIO_QUEUE_NOTIFY),
			(unsigned long long)u->data);
	fprintf(stderr,
		"gma-trace: %llu %s on %s 0x%llx (ioeventfd, %s) that no known queue explains: "
		"the device was set up before the trace started; pass --qmp SOCKET or --queue with "
		"the queue's layout%s\n",
		(unsigned long long)u->count, u->count == 1 ? "notify" : "notifies",
		u->bus == GMA_BUS_PIO ? "port" : "address", (unsigned long long)u->addr,
		unexplained_what(u, what, sizeof(what)), mmio);
}

static void text_quiet(const struct quiet_notice *q)
{
	fprintf(stderr, "gma-trace: VM pid %d: no VirtIO notify in %llu s (%llu vCPU events): %s\n",
		q->pid, (unsigned long long)(q->quiet_ms / 1000),
		(unsigned long long)q->vcpu_events, quiet_meaning(q));
}

static void text_ring(const struct queue_spec *q, const struct gma_ring *ring, bool descs)
{
	char summary[256], an[256];

	gma_print_queue_label(stdout, q->device_id, q->base, q->index);
	printf(": %u entries, avail idx %u, used idx %u, %u in flight\n", ring->layout.num,
	       ring->avail_idx, ring->used_idx, ring->nr_pending);
	if (q->has_qmp)
		printf("  QEMU: next avail %u, used idx %u, %u in use\n", q->qmp_last_avail_idx,
		       q->qmp_used_idx, q->qmp_inuse);
	if (ring->anomalies) {
		gma_anomaly_format(ring->anomalies, an, sizeof(an));
		printf("  !! %s\n", an);
	}
	for (__u32 i = 0; i < ring->nr_chains; i++) {
		const struct gma_chain *c = gma_ring_chain(ring, i);
		struct gma_chain_view v;

		gma_chain_view_ring(&v, c, q->device_id, q->index);
		gma_chain_summary(&v, summary, sizeof(summary));
		printf("  avail %u head %u: %s (%u desc%s)", c->avail_idx, c->head, summary,
		       c->nr_descs, c->nr_descs == 1 ? "" : "s");
		if (c->anomalies) {
			gma_anomaly_format(c->anomalies, an, sizeof(an));
			printf(" !! %s", an);
		}
		printf("\n");
		if (descs)
			gma_chain_print_descs(stdout, &v);
	}
}

const struct printer text_printer = PRINTER(text);

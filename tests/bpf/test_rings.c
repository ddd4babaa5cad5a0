// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace rings against the demo VM's ground truth: every chain the VMM's devices consumed
 * is decoded by gma-trace with the same descriptors, in order, and the sampled bytes are what
 * the guest queued; completions come with their latency; the JSON output is JSON lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <gma/record.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"
#include "../../tools/demo-vmm/pattern.h"

TestSuite(rings, .init = test_clock_start, .fini = trace_run_cleanup, .timeout = TEST_LIMIT_S);

struct chain_counts {
	size_t chains, indirect, crossing, blk, console, net;
};

/*
 * One chain of the ground truth (t) against gma-trace's record of it (g, a "chain" record, or
 * an "attach_chain" one read at import: its bytes are not sampled at snap_len), counted in
 * cnt.
 */
static void compare_chain(struct json_object *t, struct json_object *g, struct chain_counts *cnt)
{
	struct json_object *gdescs;

	cnt->chains++;
	cr_assert_eq(num(g, "head"), num(t, "head"));
	cnt->crossing += assert_same_descs(t, g, is(g, "type", "chain") ? 64 : 0);
	cr_assert(json_object_object_get_ex(g, "descs", &gdescs));
	if (json_object_object_get_ex(t, "indirect_table", NULL)) {
		struct json_object *v;

		cr_assert(json_object_object_get_ex(g, "indirect", &v) &&
			  json_object_get_boolean(v));
		cnt->indirect++;
	}
	if (is(t, "dev", "blk")) {
		struct json_object *b, *d0;
		__u8 hdr[16];

		cr_assert(json_object_object_get_ex(t, "blk", &b));
		d0 = json_object_array_get_idx(gdescs, 0);
		cr_assert_eq(desc_bytes(d0, hdr, sizeof(hdr)), 16);
		cr_assert_eq(hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (__u32)hdr[3] << 24,
			     num(b, "type"));
		cr_assert_eq(*(__u64 *)(hdr + 8), num(b, "sector"));
		cnt->blk++;
	} else if (is(t, "dev", "console")) {
		cnt->console++;
	} else if (is(t, "dev", "net") && num(t, "queue") == 0) {
		/* --suppress: receive buffers the guest posted, never filled */
		cr_assert(strstr(str(g, "summary"), "rx"), "net rx summary: %s", str(g, "summary"));
	} else if (is(t, "dev", "net")) {
		cr_assert(strstr(str(g, "summary"), "10.0.0.2 > 10.0.0.1 UDP 1234 > 5678"),
			  "net summary: %s", str(g, "summary"));
		cnt->net++;
	}
}

/* Compares every chain of the ground truth with gma-trace's decode of it: all were traced. */
static void compare_chains(struct chain_counts *cnt)
{
	*cnt = (struct chain_counts){};
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *g;

		if (!is(t, "event", "chain"))
			continue;
		g = find_chain(num(t, "base"), num(t, "queue"), num(t, "avail_idx"));
		cr_assert(g, "chain at avail %llu of %s q%llu not traced", num(t, "avail_idx"),
			  str(t, "dev"), num(t, "queue"));
		compare_chain(t, g, cnt);
	}
}

Test(rings, every_chain_matches_the_ground_truth)
{
	struct chain_counts c;

	run_traced(20, "");
	compare_chains(&c);
	cr_assert_geq(c.chains, 20, "only %zu chains for 20 completed requests", c.chains);
	cr_assert_gt(c.indirect, 0);
	cr_assert_gt(c.crossing, 0, "no chain with a buffer crossing memslots");
	cr_assert_gt(c.blk, 0);
	cr_assert_gt(c.console, 0);
	cr_assert_gt(c.net, 0);
	/* the model ends where the rings are: every queue notified at each chain */
	cr_assert_eq(compare_ring_state(), DEMO_VQS);
}

Test(rings, legacy_virtio_mmio_layout)
{
	struct chain_counts c;

	run_traced_vmm("", "--legacy --requests 10");
	compare_chains(&c);
	cr_assert_geq(c.chains, 10, "only %zu chains", c.chains);
	cr_assert_gt(c.indirect, 0);
	cr_assert_gt(c.blk, 0);
}

/* A temporary file for gma-trace's output, its name in trace_path. */
static void make_trace_path(void)
{
	int fd;

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-rings-trace.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
}

/*
 * gma-trace started with `args` on the running demo VM until its output has `n` lines with
 * `needle` (then Ctrl-C: it ends with its summary), at most until the test's deadline.
 */
static void trace_until(struct demo_vm *vm, const char *args, const char *needle, size_t n)
{
	char cmd[1024];
	pid_t pid;

	make_trace_path();
	snprintf(cmd, sizeof(cmd), "exec " GMA_OUTPUT "/gma-trace rings --json --pid %d %s >%s",
		 vm->pid, args, trace_path);
	pid = spawn_shell(cmd);
	cr_assert(wait_lines(trace_path, needle, n, pid), "no %zu lines with %s from %s", n, needle,
		  cmd);
	kill(pid, SIGINT);
	cr_assert_eq(wait_exit(pid), 0, "%s", cmd);
}

/* The queues the test below gives gma-trace: blk's requests and console's transmit queue. */
static const struct {
	__u64 base, queue;
} given[] = { { DEMO_VIRTIO_BLK_BASE, 0 }, { DEMO_VIRTIO_CONSOLE_BASE, 1 } };

#define NR_GIVEN (sizeof(given) / sizeof(given[0]))
/* Chains of each queue given that the guest is to make available past the mark, at least. */
#define AFTER_MARK 3

/* Which queue given the VMM's event t is about, or NR_GIVEN. */
static size_t given_queue(struct json_object *t)
{
	size_t q;

	for (q = 0; q < NR_GIVEN; q++)
		if (num(t, "base") == given[q].base && num(t, "queue") == given[q].queue)
			break;
	return q;
}

/*
 * Where a queue's chains count as made available after the mark (lines of the VMM's log
 * before it, `mark`): from the avail index the first notify of the queue past the mark read
 * (from[q]), -1 while there is none.
 */
static void avail_from(struct jlines *log, size_t mark, long long *from)
{
	for (size_t q = 0; q < NR_GIVEN; q++)
		from[q] = -1;
	for (size_t i = mark; i < log->n; i++) {
		struct json_object *t = log->v[i];
		size_t q;

		if (!is(t, "event", "notify") || json_object_object_get_ex(t, "ignored", NULL))
			continue;
		q = given_queue(t);
		if (q < NR_GIVEN && from[q] < 0)
			from[q] = num(t, "avail_idx");
	}
}

struct mark_wait {
	const char *log_path;
	size_t mark;
	pid_t vmm;
};

/*
 * Whether the guest has made AFTER_MARK chains available past the mark on each queue given
 * (and the VMM took them), or the VMM is gone: what follows says which were missing.
 */
static bool made_after_mark(void *ctx)
{
	const struct mark_wait *w = ctx;
	size_t n[NR_GIVEN] = {}, q;
	struct jlines log = {};
	long long from[NR_GIVEN];
	bool all = true;

	if (child_exited(w->vmm))
		return true;
	load_jsonl(w->log_path, &log, false);
	avail_from(&log, w->mark, from);
	for (size_t i = w->mark; i < log.n; i++) {
		struct json_object *t = log.v[i];

		if (is(t, "event", "chain") && (q = given_queue(t)) < NR_GIVEN && from[q] >= 0 &&
		    (long long)num(t, "avail_idx") >= from[q])
			n[q]++;
	}
	for (q = 0; q < NR_GIVEN; q++)
		all &= n[q] >= AFTER_MARK;
	for (size_t i = 0; i < log.n; i++)
		json_object_put(log.v[i]);
	free(log.v);
	return all;
}

/* The record of `type` (chain, attach_chain) gma-trace made of (base, queue, avail), or NULL. */
static struct json_object *find_record(const char *type, __u64 base, __u64 queue, __u64 avail)
{
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i];

		if (is(o, "type", type) && num(o, "base") == base && num(o, "queue") == queue &&
		    num(o, "avail_idx") == (avail & 0xffff))
			return o;
	}
	return NULL;
}

/* The ground truth's chain at (base, queue, avail), or NULL. */
static struct json_object *truth_chain(__u64 base, __u64 queue, __u64 avail)
{
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (is(t, "event", "chain") && num(t, "base") == base && num(t, "queue") == queue &&
		    (num(t, "avail_idx") & 0xffff) == (avail & 0xffff))
			return t;
	}
	return NULL;
}

/*
 * A VM traced after its driver set up the queues, layouts given with --queue: both
 * directions, from a marker both sides have.
 *
 * The marker: once gma-trace has printed its first chain record, it has imported every queue
 * given (it prints records from its poll loop, which starts after the imports), and the test
 * notes how many lines the VMM's log has then (`mark`): the VMM's log of a moment after the
 * trace began. For each queue given, the first notify the VMM logs past the mark read the
 * guest's avail index `from`: the guest's one vCPU waits while the VMM handles its exits, so
 * a chain at avail position `from` or later was made available after the mark, hence after
 * the import: gma-trace must have sampled it at its notify (a "chain" record). A chain the
 * VMM took past the mark but made available before it was either sampled too or in flight at
 * the import (an "attach_chain" record). The VMM is stopped first, once the guest has made
 * AFTER_MARK chains of each queue available past the mark, so gma-trace has every chain the
 * VMM logged. The other way, every chain and attach_chain gma-trace printed is one of the
 * VMM's log, with the same head, descriptors and bytes.
 */
Test(rings, queue_layout_given_for_a_running_guest)
{
	struct chain_counts c = {};
	struct json_object *t, *g;
	struct mark_wait w;
	struct demo_vm vm;
	size_t traced = 0, listed = 0, after[NR_GIVEN] = {};
	long long from[NR_GIVEN];
	char cmd[1024], blk_q[128], console_q[128];
	pid_t pid;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	make_trace_path();
	snprintf(cmd, sizeof(cmd), "exec " GMA_OUTPUT "/gma-trace rings --json --pid %d %s %s >%s",
		 vm.pid, demo_mmio_queue_arg(blk_q, sizeof(blk_q), DEMO_VQ_BLK),
		 demo_mmio_queue_arg(console_q, sizeof(console_q), DEMO_VQ_CONSOLE_TX), trace_path);
	pid = spawn_shell(cmd);
	cr_assert(wait_lines(trace_path, "\"type\":\"chain\"", 1, pid), "no chain from %s", cmd);
	/* every line of the VMM's log is one JSON object: the index of the next in the truth */
	w = (struct mark_wait){ .log_path = vm.log_path,
				.mark = count_lines(vm.log_path, "{\"event\""),
				.vmm = vm.pid };
	cr_assert(wait_lines(trace_path, "\"type\":\"chain\"", 10, pid), "no 10 chains from %s",
		  cmd);
	cr_assert(wait_until_deadline(made_after_mark, &w), "the guest's traffic stopped");
	demo_vm_stop_keep_log(&vm);
	/* its VM gone, gma-trace ends by itself */
	cr_assert_eq(wait_exit_by_deadline(pid, cmd), 0, "%s", cmd);
	snprintf(truth_path, sizeof(truth_path), "%s", vm.log_path);
	load_jsonl(trace_path, &trace, true);
	load_jsonl(truth_path, &truth, false);
	cr_assert_leq(w.mark, truth.n);
	avail_from(&truth, w.mark, from);

	/* truth -> trace: every chain the VMM took past the mark, on a queue given */
	for (size_t i = w.mark; i < truth.n; i++) {
		size_t q;

		t = truth.v[i];
		if (!is(t, "event", "chain") || (q = given_queue(t)) == NR_GIVEN)
			continue;
		g = find_record("chain", num(t, "base"), num(t, "queue"), num(t, "avail_idx"));
		if (from[q] >= 0 && (long long)num(t, "avail_idx") >= from[q]) {
			cr_assert(g,
				  "chain at avail %llu of %s q%llu, made available after the trace "
				  "began (from avail %lld), not traced",
				  num(t, "avail_idx"), str(t, "dev"), num(t, "queue"), from[q]);
			after[q]++;
		}
		if (!g)
			g = find_record("attach_chain", num(t, "base"), num(t, "queue"),
					num(t, "avail_idx"));
		cr_assert(
			g,
			"chain at avail %llu of %s q%llu, taken by the VMM after the trace began, "
			"neither traced nor listed in flight at attach",
			num(t, "avail_idx"), str(t, "dev"), num(t, "queue"));
	}
	for (size_t q = 0; q < NR_GIVEN; q++)
		cr_assert_geq(after[q], AFTER_MARK,
			      "%zu chains of %#llx q%llu made available after the mark", after[q],
			      (unsigned long long)given[q].base,
			      (unsigned long long)given[q].queue);
	/* trace -> truth: every chain gma-trace printed, as the VMM took it */
	for (size_t i = 0; i < trace.n; i++) {
		g = trace.v[i];
		if (!is(g, "type", "chain") && !is(g, "type", "attach_chain"))
			continue;
		t = truth_chain(num(g, "base"), num(g, "queue"), num(g, "avail_idx"));
		cr_assert(t, "traced %s not in the ground truth: %s", str(g, "type"),
			  json_object_to_json_string(g));
		compare_chain(t, g, &c);
		traced += is(g, "type", "chain");
		listed += is(g, "type", "attach_chain");
	}
	cr_assert_geq(traced, 10, "only %zu chains traced", traced);
	cr_assert_gt(c.blk, 0);
	cr_assert_gt(c.console, 0);
	fprintf(stderr,
		"queue_layout_given: %zu chains traced, %zu listed in flight at attach; made "
		"available after the mark: %zu of blk q0, %zu of console q1\n",
		traced, listed, after[0], after[1]);
}

/* A notify on a window whose queues are unknown is said plainly. */
Test(rings, unknown_layout_is_reported)
{
	struct demo_vm vm;
	char mmio[32];

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	/* waits for the anomaly itself: the notify comes when the guest's next request does */
	snprintf(mmio, sizeof(mmio), "--mmio %#x", DEMO_VIRTIO_BLK_BASE);
	trace_until(&vm, mmio, "unknown_layout", 1);
	demo_vm_stop(&vm);
	truth_path[0] = 0;
	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "anomaly") &&
		    strstr(json_object_to_json_string(trace.v[i]), "unknown_layout"))
			return;
	cr_assert_fail("no unknown_layout anomaly for a notify on an unknown queue");
}

/* The VMM's own notify-to-used time of a "used" event, in microseconds. */
static __u64 delay_us(struct json_object *t)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(t, "delay_ms", &v));
	return (__u64)(json_object_get_double(v) * 1000.0);
}

/* The VMM's run time, from its exit event. */
static __u64 vmm_elapsed_ms(void)
{
	for (size_t i = 0; i < truth.n; i++)
		if (is(truth.v[i], "event", "exit"))
			return num(truth.v[i], "elapsed_ms");
	cr_assert_fail("no exit event");
	return 0;
}

Test(rings, console_text_and_completions_with_latency)
{
	bool *taken;
	struct json_object *g;
	size_t used = 0, matched = 0, timed = 0, k;
	__u64 run_ms;

	run_traced(12, "");
	taken = calloc(trace.n + 1, sizeof(*taken));
	cr_assert(taken);
	run_ms = vmm_elapsed_ms();
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];
		bool found = false;

		if (is(t, "event", "virtio_console")) {
			char want[128];

			snprintf(want, sizeof(want), "tx \"%s\\n\"", str(t, "text"));
			for (k = 0; k < trace.n && !found; k++)
				found = is(trace.v[k], "type", "chain") &&
					!strcmp(str(trace.v[k], "summary"), want);
			cr_assert(found, "console text '%s' not traced", want);
			continue;
		}
		if (!is(t, "event", "used"))
			continue;
		used++;
		/*
		 * The same completion: the next one gma-trace saw on that queue (heads are
		 * reused), with the same head and len; latency from the notify, which gma saw
		 * before the VMM did, to the look that found it, after the VMM wrote it.
		 */
		for (k = 0; k < trace.n; k++) {
			g = trace.v[k];
			if (!taken[k] && is(g, "type", "completion") &&
			    num(g, "base") == num(t, "base") && num(g, "queue") == num(t, "queue"))
				break;
		}
		cr_assert(k < trace.n, "completion %s not traced", json_object_to_json_string(t));
		taken[k] = true;
		cr_assert_eq(num(g, "head"), num(t, "head"), "%s", json_object_to_json_string(t));
		cr_assert_eq(num(g, "len"), num(t, "len"), "%s", json_object_to_json_string(t));
		matched++;
		if (!num(g, "latency_ns"))
			continue; /* unknown (doc/json.md): see below */
		cr_assert_geq(num(g, "latency_ns"), 1000000, "%s", /* held 2 ms */
			      json_object_to_json_string(g));
		cr_assert_geq(num(g, "latency_ns") / 1000, delay_us(t), "%s",
			      json_object_to_json_string(g));
		cr_assert_leq(num(g, "latency_ns") / 1000000, run_ms, "%s",
			      json_object_to_json_string(g));
		timed++;
	}
	cr_assert_gt(used, 10);
	/* the VM settles before it stops: the tracer has looked at the last completions too */
	cr_assert_eq(matched, used, "%zu of %zu completions matched", matched, used);
	/*
	 * A completion userspace's poll finds before the chain's record is read has no latency
	 * (0): a few may.
	 */
	cr_assert_geq(timed, used - 5, "only %zu of %zu completions with a latency", timed, used);
	for (k = 0; k < trace.n; k++)
		cr_assert(taken[k] || !is(trace.v[k], "type", "completion"),
			  "completion %s not in the ground truth",
			  json_object_to_json_string(trace.v[k]));
	free(taken);
}

Test(rings, summary_counts_without_drops)
{
	struct json_object *sum = NULL;

	run_traced(8, "");
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "summary"))
			sum = trace.v[i];
	cr_assert(sum, "no summary line");
	cr_assert_gt(num(sum, "chains"), 0);
	cr_assert_eq(num(sum, "drops"), 0);
	cr_assert_eq(num(sum, "bad_records"), 0);
	cr_assert_eq(num(sum, "anomalies"), 0, "a well-formed guest raised anomalies");
}

/* Requests in flight with no completion for longer than --stuck-ms are flagged. */
Test(rings, stuck_queue_is_flagged)
{
	bool stuck = false;

	/* the VMM holds every completion for 2.5 s: the blk queue is stuck for 0.5 s */
	run_traced_vmm("--stuck-ms 500", "--complete-delay-ms 2500 --requests 1");
	for (size_t i = 0; i < trace.n; i++)
		stuck |= is(trace.v[i], "type", "anomaly") &&
			 strstr(json_object_to_json_string(trace.v[i]), "\"stuck\"");
	cr_assert(stuck, "no stuck anomaly although completions took 2.5 s");
}

/*
 * virtio-pci (demo-vmm --transport pci): modern devices learnt from their configuration
 * space, BARs, capabilities and common configuration, notified through the notify area; the
 * network device is transitional, driven through its legacy I/O BAR. Every chain as for
 * virtio-mmio, keyed by the function (GMA_PCI_BASE).
 */
Test(rings, virtio_pci_modern_and_legacy_devices)
{
	struct chain_counts c;
	size_t pci = 0;

	run_traced_vmm("", "--transport pci --requests 20");
	compare_chains(&c);
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "chain") && GMA_KEY_IS_PCI(num(trace.v[i], "base")))
			pci++;
	cr_assert_geq(c.chains, 10, "only %zu chains", c.chains);
	cr_assert_eq(pci, c.chains, "%zu of %zu chains on a PCI function", pci, c.chains);
	cr_assert_gt(c.blk, 0);
	cr_assert_gt(c.console, 0);
	cr_assert_gt(c.net, 0, "no chain of the legacy (I/O BAR) device");
}

/* Both transports in one VM: each device's chains under its own key. */
Test(rings, virtio_mmio_and_pci_in_one_vm)
{
	struct chain_counts c;
	size_t pci = 0, mmio = 0;

	run_traced_vmm("", "--transport both --requests 20");
	compare_chains(&c);
	for (size_t i = 0; i < trace.n; i++) {
		if (!is(trace.v[i], "type", "chain"))
			continue;
		if (GMA_KEY_IS_PCI(num(trace.v[i], "base")))
			pci++;
		else
			mmio++;
	}
	cr_assert_gt(pci, 0);
	cr_assert_gt(mmio, 0);
}

/*
 * Drivers that suppress notifications (demo --suppress): devices that ask for no kicks while
 * they process a queue (VRING_USED_F_NO_NOTIFY on console, EVENT_IDX's avail_event on blk and
 * net), a driver that honours both, and a receive ring filled with one kick. Every chain is
 * decoded, those queued without a notify too, and at the end the model of each queue is the
 * ring in guest memory as the VMM left it: avail, used, in flight.
 */
Test(rings, suppressed_notifies_model_matches_the_rings)
{
	size_t silent_flag = 0, silent_event_idx = 0, rx = 0, event_idx_queues = 0;
	struct chain_counts c;

	run_traced_vmm("", "--suppress --requests 30");
	compare_chains(&c);
	cr_assert_geq(c.chains, 30);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (is(t, "event", "ring_state")) {
			struct json_object *v;

			cr_assert(json_object_object_get_ex(t, "event_idx", &v));
			event_idx_queues += json_object_get_boolean(v);
			continue;
		}
		if (!is(t, "event", "chain"))
			continue;
		if (is(t, "dev", "net") && num(t, "queue") == 0)
			rx++;
		if (!json_object_object_get_ex(t, "silent", NULL))
			continue;
		/* the device found it when it turned notifications back on: no notify for it */
		if (is(t, "dev", "console"))
			silent_flag++;
		else
			silent_event_idx++;
	}
	cr_assert_gt(silent_flag, 0, "no chain queued under VRING_USED_F_NO_NOTIFY");
	cr_assert_gt(silent_event_idx, 0, "no chain queued without a kick under EVENT_IDX");
	cr_assert_eq(rx, DEMO_NET_QUEUE_NUM, "the net receive ring holds %zu buffers, not %d", rx,
		     DEMO_NET_QUEUE_NUM);
	cr_assert_eq(event_idx_queues, 3, "EVENT_IDX on %zu queues, not blk's and net's",
		     event_idx_queues);
	cr_assert_eq(compare_ring_state(), DEMO_VQS);
}

/* The VMM's own count of configuration accesses, from its exit event. */
static __u64 vmm_exit_count(const char *key)
{
	for (size_t i = 0; i < truth.n; i++)
		if (is(truth.v[i], "event", "exit"))
			return num(truth.v[i], key);
	cr_assert_fail("no exit event");
	return 0;
}

/* The ECAM window the VMM mapped, from its log: whether there was one at base, buses. */
static bool vmm_mapped_ecam(__u64 base, __u64 buses)
{
	struct json_object *v;

	for (size_t i = 0; i < truth.n; i++)
		if (is(truth.v[i], "event", "pci_ecam") && num(truth.v[i], "base") == base &&
		    num(truth.v[i], "buses") == buses &&
		    json_object_object_get_ex(truth.v[i], "mapped", &v) &&
		    json_object_get_boolean(v))
			return true;
	return false;
}

/* Every chain of the run on a PCI function, checked against the ground truth. */
static void expect_pci_chains(void)
{
	struct chain_counts c;
	size_t pci = 0;

	compare_chains(&c);
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "chain") && GMA_KEY_IS_PCI(num(trace.v[i], "base")))
			pci++;
	cr_assert_geq(c.chains, 20, "only %zu chains for 20 completed requests", c.chains);
	cr_assert_eq(pci, c.chains, "%zu of %zu chains on a PCI function", pci, c.chains);
	cr_assert_gt(c.blk, 0);
	cr_assert_gt(c.console, 0);
	cr_assert_gt(c.net, 0, "no chain of the legacy (I/O BAR) device");
	cr_assert_eq(compare_ring_state(), DEMO_VQS);
}

/*
 * A guest configured as on QEMU's q35 (demo-vmm --pci-config ecam): it programs the host
 * bridge's PCIEXBAR through 0xCF8/0xCFC, as firmware does, and makes every other
 * configuration access through the ECAM window that maps: the tracer learns the window from
 * that write, and the functions from their configuration space read there.
 */
Test(rings, virtio_pci_configured_through_q35_ecam)
{
	run_traced_vmm("", "--transport pci --pci-config ecam --requests 20");
	/* the VMM's count: only the ID read and PCIEXBAR's two halves went through 0xCFC */
	cr_assert_eq(vmm_exit_count("pci_config_reads"), 1);
	cr_assert_eq(vmm_exit_count("pci_config_writes"), 2);
	cr_assert_gt(vmm_exit_count("pci_ecam_reads"), 50);
	cr_assert_gt(vmm_exit_count("pci_ecam_writes"), 10);
	cr_assert(vmm_mapped_ecam(DEMO_ECAM_Q35_BASE, DEMO_ECAM_Q35_BUSES),
		  "the VMM mapped no ECAM window");
	expect_pci_chains();
}

/*
 * A VMM with its ECAM window at a fixed base and no 0xCF8/0xCFC (as Cloud Hypervisor and
 * crosvm): the guest never writes a PCIEXBAR, so without --ecam no function is learnt; with
 * it every chain is.
 */
Test(rings, virtio_pci_at_a_fixed_ecam_window_given_with_the_option)
{
	char ecam[64];
	size_t chains = 0;

	run_traced_vmm("", "--transport pci --pci-config ecam-fixed --requests 5");
	cr_assert_eq(vmm_exit_count("pci_config_reads") + vmm_exit_count("pci_config_writes"), 0);
	cr_assert_gt(vmm_exit_count("pci_ecam_reads"), 50);
	for (size_t i = 0; i < trace.n; i++)
		chains += is(trace.v[i], "type", "chain") || is(trace.v[i], "type", "queue");
	cr_assert_eq(chains, 0, "%zu queues or chains learnt with no ECAM window known", chains);
	cr_assert_geq(count_lines(truth_path, "\"event\":\"chain\""), 5, "the guest queued none");
	trace_run_cleanup();

	snprintf(ecam, sizeof(ecam), "--ecam %#x,%u", DEMO_ECAM_FIXED_BASE, DEMO_ECAM_FIXED_BUSES);
	run_traced_vmm(ecam, "--transport pci --pci-config ecam-fixed --requests 20");
	cr_assert(vmm_mapped_ecam(DEMO_ECAM_FIXED_BASE, DEMO_ECAM_FIXED_BUSES));
	cr_assert_eq(vmm_exit_count("pci_config_reads") + vmm_exit_count("pci_config_writes"), 0,
		     "the guest used 0xCF8/0xCFC");
	expect_pci_chains();
}

/*
 * --snap-len 0: every chain still decoded with the descriptors the guest queued, and no byte
 * of any buffer read.
 */
Test(rings, snap_len_0_descriptors_without_bytes)
{
	size_t chains = 0;

	run_traced(20, "--snap-len 0");
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *g, *tdescs, *gdescs;

		if (!is(t, "event", "chain"))
			continue;
		g = find_chain(num(t, "base"), num(t, "queue"), num(t, "avail_idx"));
		cr_assert(g, "chain at avail %llu of %s q%llu not traced", num(t, "avail_idx"),
			  str(t, "dev"), num(t, "queue"));
		cr_assert_eq(num(g, "head"), num(t, "head"));
		cr_assert(json_object_object_get_ex(t, "descs", &tdescs));
		cr_assert(json_object_object_get_ex(g, "descs", &gdescs));
		cr_assert_eq(json_object_array_length(gdescs), json_object_array_length(tdescs));
		for (size_t k = 0; k < json_object_array_length(tdescs); k++) {
			struct json_object *td = json_object_array_get_idx(tdescs, k);
			struct json_object *gd = json_object_array_get_idx(gdescs, k);

			cr_assert_eq(num(gd, "addr"), num(td, "addr"));
			cr_assert_eq(num(gd, "len"), num(td, "len"));
			cr_assert_eq(num(gd, "flags"), num(td, "flags"));
			cr_assert_str_empty(str(gd, "bytes"), "bytes sampled with --snap-len 0: %s",
					    json_object_to_json_string(gd));
		}
		chains++;
	}
	cr_assert_geq(chains, 20);
	cr_assert_eq(compare_ring_state(), DEMO_VQS);
}

/*
 * --stats --indices-only: no chain walked, and the model of each queue still ends where the
 * ring in guest memory is (avail, used, in flight), notifications suppressed or not.
 */
Test(rings, indices_only_model_matches_the_rings)
{
	__u64 notifies = 0, chains = 0, skipped = 0;
	struct json_object *last[16] = {};
	size_t truth_chains = 0, nq = 0;

	run_traced_vmm("--stats --indices-only", "--suppress --requests 30");
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *g = trace.v[i];
		size_t q;

		cr_assert(!is(g, "type", "chain"), "a chain walked with --indices-only: %s",
			  json_object_to_json_string(g));
		if (!is(g, "type", "queue_stats"))
			continue;
		/* each refresh prints every queue again: keep each queue's last */
		for (q = 0; q < nq; q++)
			if (num(last[q], "base") == num(g, "base") &&
			    num(last[q], "queue") == num(g, "queue"))
				break;
		cr_assert_lt(q, 16);
		last[q] = g;
		nq += q == nq;
	}
	for (size_t q = 0; q < nq; q++) {
		notifies += num(last[q], "notifies");
		chains += num(last[q], "chains");
		skipped += num(last[q], "skipped");
	}
	for (size_t i = 0; i < truth.n; i++)
		truth_chains += is(truth.v[i], "event", "chain");
	cr_assert_gt(notifies, 0);
	cr_assert_eq(chains, 0);
	cr_assert_gt(skipped, 0, "no avail entry counted as skipped");
	cr_assert_leq(skipped, truth_chains);
	cr_assert_eq(compare_ring_state(), DEMO_VQS);
}

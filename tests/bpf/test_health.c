// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace health against faults the demo VMM makes on purpose (--fault): each fault gives
 * its verdict on exactly the queue the VMM's log says it broke, no other queue is ever judged
 * stuck, and the exit status is 2; healthy runs on every transport, with and without
 * notification suppression, are never judged stuck and exit 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"

TestSuite(health, .init = test_clock_start, .fini = trace_run_cleanup, .timeout = TEST_LIMIT_S);

/*
 * The window a verdict needs: long enough that a healthy exchange on a loaded machine (two
 * CPUs shared with other work) never fills it, short enough to keep the faults quick.
 */
#define STUCK_MS "2000"

static void make_paths(void)
{
	int fd;

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-health-trace.XXXXXX");
	snprintf(truth_path, sizeof(truth_path), "/tmp/gma-health-truth.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0);
	close(fd);
	cr_assert((fd = mkstemp(truth_path)) >= 0);
	close(fd);
}

/*
 * gma-trace health -j --watch over the demo VMM given vmm_extra; returns the running shell.
 * Both end by the test's deadline: the VMM first (its --seconds), so that a VMM short of its
 * goals says what it was waiting for before the watch ends (--duration).
 */
static pid_t start_health(const char *vmm_extra, char *cmd, size_t len)
{
	unsigned int left = (unsigned int)test_seconds_left();

	make_paths();
	snprintf(cmd, len,
		 "exec " GMA_OUTPUT "/gma-trace health --json --watch --interval-ms 200 "
		 "--stuck-ms " STUCK_MS " --duration %u -- " GMA_OUTPUT "/demo-vmm --log %s "
		 "--seconds %u %s >%s 2>/dev/null",
		 left + 1, truth_path, left > 5 ? left - 5 : 1, vmm_extra, trace_path);
	return spawn_shell(cmd);
}

/* The evidence's evaluation time of a queue_health record. */
static __u64 screen_time(struct json_object *o)
{
	struct json_object *ev;

	cr_assert(json_object_object_get_ex(o, "evidence", &ev));
	return num(ev, "now_ns");
}

static bool stuck(struct json_object *o)
{
	struct json_object *v;

	return json_object_object_get_ex(o, "stuck", &v) && json_object_get_boolean(v);
}

/*
 * The VMM's request (its "used" event in truth) that shows the device itself held a request
 * of (base, queue) through the window of screen o, or NULL: one completed after the screen
 * was made, the VMM having taken it (done_ns less its delay) at the window's start or before,
 * give or take 250 ms (the tracer counts from the request's publication, a little earlier
 * than the VMM's taking it). The device-no-interrupt fault holds its completion 1 s on
 * purpose, and a loaded machine can starve the VMM: a device-side verdict is then the truth.
 * Both clocks are the host's CLOCK_MONOTONIC.
 */
static struct json_object *device_held_a_request(struct json_object *o)
{
	struct json_object *ev;
	__u64 now, window;

	cr_assert(json_object_object_get_ex(o, "evidence", &ev));
	now = num(ev, "now_ns");
	window = num(ev, "window_ns");
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *d;
		__u64 done, taken;

		if (!is(t, "event", "used") || num(t, "base") != num(o, "base") ||
		    num(t, "queue") != num(o, "queue") ||
		    !json_object_object_get_ex(t, "delay_ms", &d))
			continue;
		done = num(t, "done_ns");
		taken = done - (__u64)(json_object_get_double(d) * 1e6);
		if (done >= now && taken <= now - window + 250000000ULL)
			return t;
	}
	return NULL;
}

/* How often a run used the excuse above. */
struct excuses {
	size_t verdicts; /* stuck verdicts it excused */
	size_t held; /* distinct requests of the VMM they rested on */
	size_t requests; /* requests the VMM completed in the run */
};

/* Adds the truth's request r to those an excuse rested on (seen, n), once. */
static void mark_excuse(struct json_object *r, struct json_object **seen, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (seen[i] == r)
			return;
	seen[(*n)++] = r;
}

/*
 * Checks every screen: a queue judged stuck is (base, queue) with verdict, or judged on the
 * device's side where the VMM's log shows the device held a request that long (excused:
 * counted in *ex, and printed); returns how many were (base, queue) with verdict.
 */
static size_t check_screens(__u64 base, __u64 queue, const char *verdict, struct excuses *ex)
{
	struct json_object **held;
	size_t n = 0;

	*ex = (struct excuses){};
	for (size_t i = 0; i < truth.n; i++)
		ex->requests += is(truth.v[i], "event", "used");
	held = calloc(ex->requests + 1, sizeof(*held));
	cr_assert(held);
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i], *r = NULL;
		bool due;

		cr_assert(is(o, "type", "queue_health"), "not a queue_health record: %s",
			  json_object_to_json_string(o));
		if (!stuck(o))
			continue;
		due = verdict && num(o, "base") == base && num(o, "queue") == queue &&
		      is(o, "verdict", verdict);
		if (!due &&
		    (is(o, "verdict", "device-slow") || is(o, "verdict", "device-not-consuming")))
			r = device_held_a_request(o);
		cr_assert(due || r,
			  "a stuck verdict where none is due (the fault is on %#llx q%llu): %s",
			  (unsigned long long)base, (unsigned long long)queue,
			  json_object_to_json_string(o));
		n += due;
		if (r) {
			ex->verdicts++;
			mark_excuse(r, held, &ex->held);
		}
	}
	free(held);
	fprintf(stderr,
		"test_health: %zu verdicts excused by %zu of the %zu requests the VMM completed "
		"(held through the window)\n",
		ex->verdicts, ex->held, ex->requests);
	return n;
}

/* The record of (base, queue) in the last screen. */
static struct json_object *final_verdict(__u64 base, __u64 queue)
{
	__u64 last = 0;
	struct json_object *found = NULL;

	for (size_t i = 0; i < trace.n; i++)
		if (screen_time(trace.v[i]) > last)
			last = screen_time(trace.v[i]);
	for (size_t i = 0; i < trace.n; i++)
		if (screen_time(trace.v[i]) == last && num(trace.v[i], "base") == base &&
		    num(trace.v[i], "queue") == queue)
			found = trace.v[i];
	cr_assert(found, "no verdict on %#llx q%llu in the last screen", (unsigned long long)base,
		  (unsigned long long)queue);
	return found;
}

/*
 * The demo VMM with --fault `fault` (and vmm_extra) under gma-trace health: once the VMM has
 * logged the fault and health has judged its queue stuck, Ctrl-C makes the last screen.
 */
static void fault_gives(const char *fault, const char *vmm_extra, const char *verdict)
{
	struct json_object *f = NULL, *last;
	char cmd[1024], extra[256];
	struct excuses ex;
	pid_t pid;
	size_t faults = 0;

	snprintf(extra, sizeof(extra), "--fault %s %s", fault, vmm_extra);
	pid = start_health(extra, cmd, sizeof(cmd));
	cr_assert(wait_lines(truth_path, "\"event\":\"fault\"", 1, pid),
		  "the VMM never did its fault: %s", cmd);
	cr_assert(wait_lines(trace_path, "\"stuck\":true", 1, pid), "no queue judged stuck: %s",
		  cmd);
	/* one more screen, whole, after the first stuck one */
	cr_assert(wait_lines(trace_path, "\"stuck\":true", 2, pid), "%s", cmd);
	kill(pid, SIGINT);
	cr_assert_eq(wait_exit(pid), 2, "exit status 2 for a stuck queue: %s", cmd);
	load_jsonl(trace_path, &trace, true);
	load_jsonl(truth_path, &truth, false);
	for (size_t i = 0; i < truth.n; i++)
		if (is(truth.v[i], "event", "fault")) {
			f = truth.v[i];
			faults++;
		}
	cr_assert_eq(faults, 1, "one fault logged by the VMM");
	/*
	 * The excuses are counted, not capped: a fault run completes a handful of requests
	 * (four before the default fault) and ends two screens after its fault, too few for a
	 * share to say anything; the fault's own verdict is required of the last screen.
	 */
	cr_assert(check_screens(num(f, "base"), num(f, "queue"), verdict, &ex) >= 2);
	last = final_verdict(num(f, "base"), num(f, "queue"));
	cr_assert(is(last, "verdict", verdict), "%s on %s q%llu: %s, want %s", fault, str(f, "dev"),
		  num(f, "queue"), str(last, "verdict"), verdict);
	cr_assert(stuck(last));
}

Test(health, device_stall_is_device_not_consuming)
{
	fault_gives("device-stall", "", "device-not-consuming");
}

Test(health, console_stall_on_pci_is_device_not_consuming)
{
	fault_gives("device-stall,dev=console,after=2", "--transport pci", "device-not-consuming");
}

Test(health, a_request_held_while_others_complete_is_device_slow)
{
	fault_gives("device-slow", "--transport pci", "device-slow");
}

Test(health, kicks_left_out_are_driver_not_notifying)
{
	fault_gives("driver-no-notify", "", "driver-not-notifying");
}

Test(health, net_kicks_left_out_with_event_idx_are_driver_not_notifying)
{
	fault_gives("driver-no-notify,dev=net,after=3", "--suppress --transport both",
		    "driver-not-notifying");
}

Test(health, used_entries_left_unreaped_are_completed_unreaped)
{
	fault_gives("driver-no-reap", "--suppress", "completed-unreaped");
}

/*
 * Interrupts (--irq: KVM's irqchip, each virtio-mmio device raising its line): the device's
 * line is learnt from the guest's InterruptStatus reads, and the interrupt verdicts need it.
 */
#define IRQ_RUN "--irq --delay 2000 "

Test(health, completions_without_an_interrupt_are_completed_no_interrupt)
{
	fault_gives("device-no-interrupt", IRQ_RUN "--suppress", "completed-no-interrupt");
}

Test(health, net_completions_without_an_interrupt_are_completed_no_interrupt)
{
	fault_gives("device-no-interrupt,dev=net,after=2", IRQ_RUN "--suppress",
		    "completed-no-interrupt");
}

Test(health, an_interrupt_the_driver_does_not_answer_is_driver_not_reaping)
{
	fault_gives("driver-no-reap", IRQ_RUN "--suppress", "driver-not-reaping");
}

/*
 * virtio-pci with MSI-X: the queue's vector is learnt from its driver's queue_msix_vector
 * write, the vector's message from its MSI-X table writes, and the message's injections from
 * kvm_msi_set_irq (KVM_SIGNAL_MSI here).
 */
Test(health, completions_without_an_msix_interrupt_are_completed_no_interrupt)
{
	fault_gives("device-no-interrupt", IRQ_RUN "--suppress --transport pci",
		    "completed-no-interrupt");
}

Test(health, an_msix_interrupt_the_driver_does_not_answer_is_driver_not_reaping)
{
	fault_gives("driver-no-reap", IRQ_RUN "--suppress --transport pci", "driver-not-reaping");
}

Test(health, an_interrupt_without_a_completion_is_device_not_consuming)
{
	fault_gives("device-irq-no-used", IRQ_RUN, "device-not-consuming");
}

/*
 * A healthy run's excuses may rest on at most one in EXCUSE_MAX_SHARE of the requests the
 * VMM completed. The excuse is for a VMM the machine starved now and then (a starved VMM
 * holds what it has in flight: a request or so on each queue), whose device really held a
 * request through the window; a run where more of its requests were held that long is not
 * the healthy traffic the test means to judge: its device-side verdicts would all pass on
 * the excuse, and the run would no longer show that healthy traffic is judged healthy. It
 * fails instead. Unloaded, no request is held that long (each run prints how many were).
 */
#define EXCUSE_MAX_SHARE 4

/*
 * Healthy traffic until the VMM stops on its own: never a stuck verdict, exit status 0; but
 * for a device the VMM's own log shows holding a request for the window (a starved VMM on a
 * loaded machine), whose verdict is then the truth, and the exit status 2.
 */
static void healthy(const char *vmm_extra)
{
	char cmd[1024];
	size_t judged = 0, stuck_screens = 0;
	struct excuses ex;
	pid_t pid;
	int rc;

	pid = start_health(vmm_extra, cmd, sizeof(cmd));
	rc = wait_exit(pid);
	load_jsonl(trace_path, &trace, true);
	load_jsonl(truth_path, &truth, false);
	expect_vmm_done();
	cr_assert_eq(check_screens(0, 0, NULL, &ex), 0);
	cr_assert_leq(ex.held * EXCUSE_MAX_SHARE, ex.requests,
		      "%zu verdicts excused by %zu of the %zu requests the VMM completed: more "
		      "than 1 in %d held through the window, the traffic was not healthy",
		      ex.verdicts, ex.held, ex.requests, EXCUSE_MAX_SHARE);
	for (size_t i = 0; i < trace.n; i++) {
		judged += !is(trace.v[i], "verdict", "unknown");
		stuck_screens += stuck(trace.v[i]);
	}
	cr_assert(rc == 0 || (rc == 2 && stuck_screens),
		  "exit status %d: healthy traffic judged stuck, or a failure: %s", rc, cmd);
	cr_assert_gt(judged, 0, "no queue was ever judged: %s", cmd);
}

Test(health, healthy_virtio_mmio)
{
	healthy("--requests 40");
}

Test(health, healthy_virtio_pci_and_legacy)
{
	healthy("--transport pci --legacy --requests 40");
}

Test(health, healthy_both_transports_with_suppression)
{
	healthy("--transport both --suppress --requests 40");
}

/*
 * Healthy traffic with interrupts: never stuck, and the line gma-trace learnt for each device
 * is the one the VMM raised for it (its "irq" events).
 */
Test(health, healthy_with_interrupts_and_the_lines_learnt)
{
	size_t observed = 0, matched = 0;

	healthy(IRQ_RUN "--suppress --requests 40");
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i], *ev;
		__s64 line;

		cr_assert(json_object_object_get_ex(o, "evidence", &ev));
		if (!is(ev, "interrupts_evidence", "observed"))
			continue;
		line = (__s64)num(ev, "irq_line");
		for (size_t k = 0; k < truth.n; k++) {
			if (!is(truth.v[k], "event", "irq") ||
			    num(truth.v[k], "base") != num(o, "base"))
				continue;
			cr_assert_eq(line, (__s64)num(truth.v[k], "gsi"),
				     "%s: learnt GSI %lld, the VMM raised %llu", str(o, "address"),
				     (long long)line, num(truth.v[k], "gsi"));
			matched++;
		}
		observed++;
	}
	cr_assert_gt(observed, 0, "no device's interrupt line was learnt");
	/* else the comparison above never ran: no line learnt was one the VMM raised */
	cr_assert_gt(matched, 0, "no device whose line was learnt had an interrupt the VMM logged");
}

/* 16 requests: enough that the share of them the excuse may rest on is not one or two */
Test(health, healthy_slow_completions_within_the_window)
{
	healthy("--complete-delay-ms 500 --requests 16");
}

/*
 * Healthy traffic on virtio-pci with MSI-X (legacy too: its vector registers and moved device
 * configuration): never stuck, and for each queue whose interrupts gma-trace observed, the
 * vector, address and data it learnt are those of every message the VMM sent for that queue
 * (its "irq" events).
 */
static void healthy_msix(const char *vmm_extra)
{
	size_t checked = 0, matched = 0;

	healthy(vmm_extra);
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i], *ev;
		__s64 vector;

		cr_assert(json_object_object_get_ex(o, "evidence", &ev));
		if (!is(ev, "interrupts_evidence", "observed"))
			continue;
		cr_assert(is(o, "transport", "pci"), "%s", json_object_to_json_string(o));
		vector = (__s64)num(ev, "msix_vector");
		cr_assert_geq(vector, 0, "observed without a vector: %s",
			      json_object_to_json_string(o));
		for (size_t k = 0; k < truth.n; k++) {
			struct json_object *t = truth.v[k];

			if (!is(t, "event", "irq") || num(t, "base") != num(o, "base") ||
			    num(t, "queue") != num(o, "queue"))
				continue;
			cr_assert_eq(vector, (__s64)num(t, "vector"),
				     "%s q%llu: learnt vector %lld, the VMM sent %llu",
				     str(o, "address"), num(o, "queue"), (long long)vector,
				     num(t, "vector"));
			cr_assert_eq(num(ev, "msi_address"), num(t, "address"),
				     "%s q%llu: learnt address %#llx, the VMM sent %#llx",
				     str(o, "address"), num(o, "queue"), num(ev, "msi_address"),
				     num(t, "address"));
			cr_assert_eq(num(ev, "msi_data"), num(t, "data"),
				     "%s q%llu: learnt data %#llx, the VMM sent %#llx",
				     str(o, "address"), num(o, "queue"), num(ev, "msi_data"),
				     num(t, "data"));
			matched++;
		}
		if (num(ev, "interrupts"))
			checked++;
	}
	cr_assert_gt(checked, 0, "no queue's MSI-X injections were observed");
	cr_assert_gt(matched, 0, "no observed queue had a message the VMM logged");
}

Test(health, healthy_with_msix_and_the_messages_learnt)
{
	healthy_msix(IRQ_RUN "--suppress --transport pci --requests 40");
}

Test(health, healthy_with_legacy_msix_and_the_messages_learnt)
{
	healthy_msix(IRQ_RUN "--suppress --transport pci --legacy --requests 40");
}

/*
 * The operator who arrives after the hang: the demo VMM's device stops consuming its blk
 * queue, and only then gma-trace health attaches (--pid, the layouts given as --qmp would).
 * The request in flight at the attach has no known age; once it has stayed in flight a
 * window after the attach, with nothing used, it is judged as from boot, at least that old.
 * Every other queue (receive queues with buffers posted included) is judged, none unknown.
 */
Test(health, a_stall_found_by_a_trace_attached_after_it)
{
	char cmd[2048], q[DEMO_VQS][160];
	struct json_object *blk = NULL;
	unsigned int left = (unsigned int)test_seconds_left();
	size_t judged = 0;
	pid_t vmm, health;
	int rc;

	make_paths();
	snprintf(cmd, sizeof(cmd),
		 "exec " GMA_OUTPUT "/demo-vmm --log %s --seconds %u --fault device-stall "
		 ">/dev/null 2>&1",
		 truth_path, left > 5 ? left - 5 : 1);
	vmm = spawn_shell(cmd);
	cr_assert(wait_lines(truth_path, "\"event\":\"fault\"", 1, vmm),
		  "the VMM never did its fault");
	for (unsigned int i = 0; i < DEMO_VQS; i++)
		demo_mmio_queue_arg(q[i], sizeof(q[i]), i);
	snprintf(cmd, sizeof(cmd),
		 "exec " GMA_OUTPUT "/gma-trace health --json --pid %d --stuck-ms " STUCK_MS
		 " --duration 6 %s %s %s %s %s >%s 2>/dev/null",
		 vmm, q[0], q[1], q[2], q[3], q[4], trace_path);
	health = spawn_shell(cmd);
	rc = wait_exit_by_deadline(health, "gma-trace health attached after the fault");
	kill(vmm, SIGTERM);
	wait_exit(vmm);
	cr_assert_eq(rc, 2, "exit status 2 for the stuck blk queue, got %d", rc);
	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i];

		if (!is(o, "type", "queue_health"))
			continue;
		judged++;
		cr_assert_str_neq(str(o, "verdict"), "unknown", "a queue left unknown: %s",
				  json_object_to_json_string(o));
		if (num(o, "base") == DEMO_VIRTIO_BLK_BASE && num(o, "queue") == 0) {
			blk = o;
			continue;
		}
		cr_assert_not(stuck(o), "only the blk queue is stuck: %s",
			      json_object_to_json_string(o));
	}
	cr_assert_eq(judged, DEMO_VQS, "%zu queues judged of the %d given", judged, DEMO_VQS);
	cr_assert(blk, "no verdict on the blk queue");
	cr_assert(is(blk, "verdict", "device-not-consuming"), "blk: %s",
		  json_object_to_json_string(blk));
	cr_assert(stuck(blk));
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chains in flight when gma-trace attaches to a running VM with --queue: each is listed once,
 * decoded as gma-trace prints chains and marked "in flight at attach, age unknown", and its
 * completion later says age unknown instead of a latency.
 *
 * The demo VMM holds every completion (--hold completions) until SIGUSR1: its guest's first
 * blk request (an indirect chain whose data buffer holds the guest's pattern) and, with
 * --suppress, the net receive buffers it posts at once stay in flight, and the guest queues
 * nothing more while its request is outstanding. The VMM's log of those chains is the ground
 * truth the listing is compared with, descriptor by descriptor.
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
#include "../../tools/demo-vmm/pattern.h"

/* The hex bytes gma-trace read of one descriptor, decoded; returns how many. */
static size_t desc_bytes(struct json_object *d, __u8 *buf, size_t size)
{
	const char *hex = str(d, "bytes");
	size_t n = 0;

	for (; hex[0] && hex[1] && n < size; hex += 2)
		sscanf(hex, "%2hhx", &buf[n++]);
	return n;
}

/* --queue for the VMM's queue (dev, q) as its log gave it, type = VIRTIO_ID_* */
static void queue_arg(char *buf, size_t size, const char *dev, __u64 q, unsigned int type)
{
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (!is(t, "event", "queue") || !is(t, "dev", dev) || num(t, "queue") != q)
			continue;
		snprintf(buf, size,
			 "--queue base=%llu,index=%llu,num=%llu,desc=%llu,driver=%llu,"
			 "device=%llu,type=%u",
			 num(t, "base"), q, num(t, "size"), num(t, "desc"), num(t, "driver"),
			 num(t, "device"), type);
		return;
	}
	cr_assert_fail("the VMM logged no layout of %s q%llu", dev, q);
}

static bool traced_queue(struct json_object *t)
{
	return (is(t, "dev", "blk") || is(t, "dev", "net")) && num(t, "queue") == 0;
}

/* The record of type at (base, queue[, avail_idx]) in the trace, or NULL. */
static struct json_object *find(const char *type, __u64 base, __u64 queue, long avail_idx)
{
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i];

		if (is(o, "type", type) && num(o, "base") == base && num(o, "queue") == queue &&
		    (avail_idx < 0 || num(o, "avail_idx") == (__u64)avail_idx))
			return o;
	}
	return NULL;
}

Test(attach, in_flight_chains_listed_once, .timeout = 300)
{
	static const char *const args[] = { "--hold",	 "completions", "--suppress",
					    "--seconds", "240",		NULL };
	char blk_q[256], net_q[256], cmd[1024], text_path[64];
	size_t expected = 0, per_queue[2] = { 0 }, listed = 0;
	__u64 blk_head = ~0ULL, blk_base = 0;
	struct json_object *done = NULL;
	pid_t json_trace, text_trace;
	struct demo_vm vm;

	demo_vm_start(&vm, args);
	cr_assert(wait_lines(vm.log_path, "\"event\":\"chain\",\"dev\":\"blk\"", 1, vm.pid),
		  "the guest made no blk request");
	/* nothing completes and the guest waits for its request: these chains stay as they are */
	load_jsonl(vm.log_path, &truth, false);
	queue_arg(blk_q, sizeof(blk_q), "blk", 0, 2);
	queue_arg(net_q, sizeof(net_q), "net", 0, 1);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (!is(t, "event", "chain") || !traced_queue(t))
			continue;
		expected++;
		per_queue[is(t, "dev", "net")]++;
		if (is(t, "dev", "blk")) {
			blk_head = num(t, "head");
			blk_base = num(t, "base");
		}
	}
	cr_assert_eq(per_queue[0], 1, "%zu blk chains in flight, the guest makes one at first",
		     per_queue[0]);
	cr_assert_gt(per_queue[1], 0, "no net receive buffer posted (--suppress)");

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-attach-trace.XXXXXX");
	snprintf(text_path, sizeof(text_path), "/tmp/gma-attach-text.XXXXXX");
	close(mkstemp(trace_path));
	close(mkstemp(text_path));
	snprintf(cmd, sizeof(cmd), "exec %s/gma-trace rings --pid %d -j --completions %s %s > %s",
		 GMA_OUTPUT, vm.pid, blk_q, net_q, trace_path);
	json_trace = spawn_shell(cmd);
	snprintf(cmd, sizeof(cmd),
		 "exec %s/gma-trace rings --pid %d --completions %s %s > %s 2>/dev/null",
		 GMA_OUTPUT, vm.pid, blk_q, net_q, text_path);
	text_trace = spawn_shell(cmd);
	cr_assert(wait_lines(trace_path, "\"type\":\"attach\"", 2, json_trace),
		  "gma-trace -j listed no chains in flight at attach");
	cr_assert(wait_lines(text_path, "in flight at attach, age unknown", expected, text_trace),
		  "gma-trace listed fewer than %zu chains in flight at attach", expected);
	/* the held completions go: the blk request completes, age unknown */
	kill(vm.pid, SIGUSR1);
	cr_assert(wait_lines(trace_path, "\"age_unknown\":true}", 1, json_trace),
		  "no completion record with its age unknown");
	cr_assert(wait_lines(text_path, "age unknown (in flight at attach)", 1, text_trace));
	demo_vm_stop_keep_log(&vm);
	cr_assert_eq(wait_exit(json_trace), 0);
	cr_assert_eq(wait_exit(text_trace), 0);

	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "attach_chain"))
			listed++;
	cr_expect_eq(listed, expected, "%zu chains listed at attach, %zu were in flight", listed,
		     expected);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *g, *a, *tdescs, *gdescs;

		if (!is(t, "event", "chain") || !traced_queue(t))
			continue;
		g = find("attach_chain", num(t, "base"), 0, num(t, "avail_idx"));
		cr_assert_not_null(g, "%s chain at avail %llu in flight at attach not listed",
				   str(t, "dev"), num(t, "avail_idx"));
		cr_expect_eq(num(g, "head"), num(t, "head"));
		cr_assert(json_object_object_get_ex(t, "descs", &tdescs));
		cr_assert(json_object_object_get_ex(g, "descs", &gdescs));
		cr_assert_eq(json_object_array_length(gdescs), json_object_array_length(tdescs),
			     "descriptor count of %s", json_object_to_json_string(t));
		for (size_t k = 0; k < json_object_array_length(tdescs); k++) {
			struct json_object *td = json_object_array_get_idx(tdescs, k);
			struct json_object *gd = json_object_array_get_idx(gdescs, k);
			__u64 addr = num(td, "addr"), len = num(td, "len");
			__u8 bytes[4096];
			size_t n;

			cr_expect_eq(num(gd, "addr"), addr);
			cr_expect_eq(num(gd, "len"), len);
			cr_expect_eq(num(gd, "flags"), num(td, "flags"));
			n = desc_bytes(gd, bytes, sizeof(bytes));
			if (addr >= DEMO_BLK_BIG_BUF &&
			    addr + len <= DEMO_BLK_BIG_BUF + DEMO_BLK_BIG_SECTORS * 512)
				cr_expect_eq(gma_demo_pattern_check(addr, bytes, n), n,
					     "bytes of desc at 0x%llx", addr);
		}
		a = find("attach", num(t, "base"), 0, -1);
		cr_assert_not_null(a);
		cr_expect_eq(num(a, "in_flight"), per_queue[is(t, "dev", "net")]);
		cr_expect_eq(num(a, "not_listed"), 0);
	}
	/* the blk request's completion: the first of its queue, no latency */
	for (size_t i = 0; i < trace.n && !done; i++)
		if (is(trace.v[i], "type", "completion") && num(trace.v[i], "base") == blk_base)
			done = trace.v[i];
	cr_assert_not_null(done, "the blk request's completion was not traced");
	cr_expect_eq(num(done, "head"), blk_head);
	cr_expect(json_object_get_boolean(json_object_object_get(done, "age_unknown")));
	cr_expect_eq(num(done, "latency_ns"), 0);
	/* the text lines say the same */
	cr_expect_eq(count_lines(text_path, "in flight at attach, age unknown"), expected);
	snprintf(cmd, sizeof(cmd), "used head %llu len %llu age unknown (in flight at attach)",
		 blk_head, num(done, "len"));
	cr_expect_eq(count_lines(text_path, cmd), 1, "no text line '%s'", cmd);
	unlink(text_path);
	trace_run_cleanup();
	demo_vm_stop(&vm);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace rings against the demo VM's ground truth: every chain the VMM's devices consumed
 * is decoded by gma-trace with the same descriptors, in order, and the sampled bytes are what
 * the guest queued; completions come with their latency; the JSON output is JSON lines.
 */
#define _GNU_SOURCE
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

TestSuite(rings, .fini = trace_run_cleanup, .timeout = 120);

/* The hex bytes gma-trace sampled of one descriptor, decoded; returns how many. */
static size_t desc_bytes(struct json_object *d, __u8 *buf, size_t size)
{
	const char *hex = str(d, "bytes");
	size_t n = 0;

	for (; hex[0] && hex[1] && n < size; hex += 2)
		sscanf(hex, "%2hhx", &buf[n++]);
	return n;
}

struct chain_counts {
	size_t chains, indirect, crossing, blk, console, net;
};

/*
 * Compares every chain of the ground truth with gma-trace's decode of it; with
 * only_traced_queues, those the trace did not see (before it began, or on a queue it was not
 * given) are skipped.
 */
static void compare_chains(struct chain_counts *cnt, bool only_traced_queues)
{
	size_t chains = 0, indirect = 0, crossing = 0, blk = 0, console = 0, net = 0;

	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *g, *tdescs, *gdescs;
		__u8 bytes[4096];

		if (!is(t, "event", "chain"))
			continue;
		g = find_chain(num(t, "base"), num(t, "queue"), num(t, "avail_idx"));
		if (!g && only_traced_queues)
			continue; /* before the trace began, or a queue not given */
		chains++;
		cr_assert(g, "chain at avail %llu of %s q%llu not traced", num(t, "avail_idx"),
			  str(t, "dev"), num(t, "queue"));
		cr_assert_eq(num(g, "head"), num(t, "head"));
		cr_assert(json_object_object_get_ex(t, "descs", &tdescs));
		cr_assert(json_object_object_get_ex(g, "descs", &gdescs));
		cr_assert_eq(json_object_array_length(gdescs), json_object_array_length(tdescs),
			     "descriptor count of %s", json_object_to_json_string(t));
		for (size_t k = 0; k < json_object_array_length(tdescs); k++) {
			struct json_object *td = json_object_array_get_idx(tdescs, k);
			struct json_object *gd = json_object_array_get_idx(gdescs, k);
			__u64 addr = num(td, "addr"), len = num(td, "len");
			size_t n;

			cr_assert_eq(num(gd, "addr"), addr);
			cr_assert_eq(num(gd, "len"), len);
			cr_assert_eq(num(gd, "flags"), num(td, "flags"));
			n = desc_bytes(gd, bytes, sizeof(bytes));
			cr_assert_eq(n, len < 64 ? len : 64, "sampled %zu of desc at 0x%llx", n,
				     addr);
			/* the data buffers hold the guest's pattern (demo-abi.h) */
			if (addr >= DEMO_BLK_BIG_BUF &&
			    addr + len <= DEMO_BLK_BIG_BUF + DEMO_BLK_BIG_SECTORS * 512) {
				cr_assert_eq(gma_demo_pattern_check(addr, bytes, n), n,
					     "bytes of desc at 0x%llx", addr);
				if (addr < 0x14000 && addr + len > 0x14000)
					crossing++;
			}
		}
		if (json_object_object_get_ex(t, "indirect_table", NULL)) {
			struct json_object *v;

			cr_assert(json_object_object_get_ex(g, "indirect", &v) &&
				  json_object_get_boolean(v));
			indirect++;
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
			blk++;
		} else if (is(t, "dev", "console")) {
			console++;
		} else if (is(t, "dev", "net")) {
			cr_assert(strstr(str(g, "summary"), "10.0.0.2 > 10.0.0.1 UDP 1234 > 5678"),
				  "net summary: %s", str(g, "summary"));
			net++;
		}
	}
	*cnt = (struct chain_counts){ chains, indirect, crossing, blk, console, net };
}

Test(rings, every_chain_matches_the_ground_truth)
{
	struct chain_counts c;

	run_traced(3, "");
	compare_chains(&c, false);
	cr_assert_geq(c.chains, 20, "only %zu chains in 3 s", c.chains);
	cr_assert_gt(c.indirect, 0);
	cr_assert_gt(c.crossing, 0, "no chain with a buffer crossing memslots");
	cr_assert_gt(c.blk, 0);
	cr_assert_gt(c.console, 0);
	cr_assert_gt(c.net, 0);
}

Test(rings, legacy_virtio_mmio_layout)
{
	struct chain_counts c;

	run_traced_vmm(3, "", "--legacy");
	compare_chains(&c, false);
	cr_assert_geq(c.chains, 10, "only %zu chains", c.chains);
	cr_assert_gt(c.indirect, 0);
	cr_assert_gt(c.blk, 0);
}

/* A VM traced after its driver set up the queues: layouts given with --queue. */
Test(rings, queue_layout_given_for_a_running_guest)
{
	struct demo_vm vm;
	char cmd[1024], *out;
	struct chain_counts c;
	size_t traced = 0;
	int fd;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", "30", NULL });
	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-rings-trace.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 GMA_OUTPUT "/gma-trace rings --json --pid %d --duration 2 "
			    "--queue base=0xd0001000,index=0,num=16,desc=0x31000,driver=0x31100,"
			    "device=0x31200,type=2 "
			    "--queue base=0xd0002000,index=1,num=8,desc=0x31800,driver=0x31900,"
			    "device=0x31a00,type=3 >%s",
		 vm.pid, trace_path);
	cr_assert_eq(run_capture(cmd, &out), 0, "%s", cmd);
	free(out);
	demo_vm_stop_keep_log(&vm);
	snprintf(truth_path, sizeof(truth_path), "%s", vm.log_path);
	load_jsonl(trace_path, &trace, true);
	load_jsonl(truth_path, &truth, false);
	compare_chains(&c, true);
	for (size_t i = 0; i < trace.n; i++)
		traced += is(trace.v[i], "type", "chain");
	cr_assert_geq(traced, 10, "only %zu chains traced", traced);
	cr_assert_eq(c.chains, traced, "%zu traced chains, %zu of them in the ground truth", traced,
		     c.chains);
	cr_assert_gt(c.blk, 0);
	cr_assert_gt(c.console, 0);
}

/* A notify on a window whose queues are unknown is said plainly. */
Test(rings, unknown_layout_is_reported)
{
	struct demo_vm vm;
	char cmd[512], *out;
	bool said = false;
	int fd;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", "30", NULL });
	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-rings-trace.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 GMA_OUTPUT "/gma-trace rings --json --pid %d --duration 1 --mmio 0xd0001000 >%s",
		 vm.pid, trace_path);
	cr_assert_eq(run_capture(cmd, &out), 0, "%s", cmd);
	free(out);
	demo_vm_stop(&vm);
	truth_path[0] = 0;
	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++)
		said |= is(trace.v[i], "type", "anomaly") &&
			strstr(json_object_to_json_string(trace.v[i]), "unknown_layout");
	cr_assert(said, "no unknown_layout anomaly for a notify on an unknown queue");
}

Test(rings, console_text_and_completions_with_latency)
{
	size_t used = 0, matched = 0;

	run_traced(3, "");
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];
		bool found = false;

		if (is(t, "event", "virtio_console")) {
			char want[128];

			snprintf(want, sizeof(want), "tx \"%s\\n\"", str(t, "text"));
			for (size_t k = 0; k < trace.n && !found; k++)
				found = is(trace.v[k], "type", "chain") &&
					!strcmp(str(trace.v[k], "summary"), want);
			cr_assert(found, "console text '%s' not traced", want);
			continue;
		}
		if (!is(t, "event", "used"))
			continue;
		used++;
		/* the same completion: queue, head, len; latency from the notify */
		for (size_t k = 0; k < trace.n; k++) {
			struct json_object *g = trace.v[k];

			if (!is(g, "type", "completion") || num(g, "base") != num(t, "base") ||
			    num(g, "queue") != num(t, "queue") ||
			    num(g, "head") != num(t, "head") || num(g, "len") != num(t, "len") ||
			    num(g, "latency_ns") == 0)
				continue;
			/* the VMM holds completions for 2 ms; the tracer sees them within 1 ms */
			cr_assert_geq(num(g, "latency_ns"), 1000000);
			cr_assert_leq(num(g, "latency_ns"), 200000000);
			matched++;
			break;
		}
	}
	cr_assert_gt(used, 10);
	/* the last completions may land after the trace stopped */
	cr_assert_geq(matched, used - 5, "%zu of %zu completions matched", matched, used);
}

Test(rings, summary_counts_without_drops)
{
	struct json_object *sum = NULL;

	run_traced(2, "");
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
	run_traced_vmm(3, "--stuck-ms 500", "--complete-delay-ms 2500");
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

	run_traced_vmm(10, "", "--transport pci");
	compare_chains(&c, false);
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

	run_traced_vmm(10, "", "--transport both");
	compare_chains(&c, false);
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

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A guest that breaks its rings on purpose (demo VMM --hostile all): each malformed case is
 * flagged by gma-trace with its reason, at the chain or queue where the guest did it, while
 * the well-formed traffic around it keeps being decoded, nothing is dropped and gma-trace's
 * memory stays bounded.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"

TestSuite(hostile, .init = test_clock_start, .fini = trace_run_cleanup, .timeout = TEST_LIMIT_S);

/* Every scenario once, and well-formed requests around them, then the VM stops. */
#define NORMAL_REQUESTS 21
#define STR_(x) #x
#define STR(x) STR_(x)
#define HOSTILE_RUN "--hostile all --until hostile-done --requests " STR(NORMAL_REQUESTS)

/* Where each scenario must be flagged: on the chain it made available, or on its queue. */
static const struct {
	const char *scenario;
	const char *anomaly;
	bool on_chain;
} expect[] = {
	{ "loop-self", "chain_loop", true },
	{ "loop-two", "chain_loop", true },
	{ "loop-long", "chain_loop", true },
	{ "next-out-of-range", "desc_out_of_range", true },
	{ "head-out-of-range", "desc_out_of_range", true },
	{ "chain-too-long", "chain_too_long", true },
	{ "nested-indirect", "nested_indirect", true },
	{ "indirect-len", "indirect_len", true },
	{ "read-after-write", "read_after_write", true },
	{ "zero-len", "zero_len", true },
	{ "len-max", "buffer_unmapped", true },
	{ "buffer-unmapped", "buffer_unmapped", true },
	{ "buffer-wrapping", "buffer_unmapped", true },
	{ "avail-jump", "avail_jump", false },
	{ "used-backwards", "used_backwards", false },
	{ "misaligned", "ring_misaligned", false },
	{ "not-ready", "not_ready", false },
};

/* An anomaly event about (base, queue) naming `name`. */
static bool queue_flagged(__u64 base, __u64 queue, const char *name)
{
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i];

		if (is(o, "type", "anomaly") && num(o, "base") == base &&
		    num(o, "queue") == queue && has_anomaly(o, name))
			return true;
	}
	return false;
}

#define NR_EXPECT (sizeof(expect) / sizeof(expect[0]))

/*
 * Each scenario of --hostile all, by name: the VMM logged it ("hostile", before doing it) and
 * gma-trace flagged it where it was done. A scenario missing from the VMM's log fails by its
 * name: counting events would let another one's repeat stand in for it.
 */
Test(hostile, each_malformed_case_is_flagged_with_its_reason)
{
	size_t seen[NR_EXPECT] = {}, storm = 0, straddle_table = 0, straddle_used = 0;

	run_traced_vmm("--stuck-ms 0", HOSTILE_RUN);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *chain;
		const char *sc;
		size_t k;

		if (!is(t, "event", "hostile"))
			continue;
		sc = str(t, "scenario");
		if (!strcmp(sc, "notify-storm")) {
			storm++;
			continue;
		}
		if (!strcmp(sc, "ring-straddle")) {
			/* q2: a descriptor table across memslots decodes like any other */
			if (num(t, "queue") == 2) {
				chain = find_chain(num(t, "base"), 2, num(t, "avail_idx"));
				cr_assert(chain, "chain on the straddling table not traced");
				cr_assert_eq(num(chain, "head"), num(t, "head"));
				cr_assert(!has_anomaly(chain, "ring_unreadable"));
				straddle_table++;
			} else {
				cr_assert(queue_flagged(num(t, "base"), num(t, "queue"),
							"ring_unreadable"),
					  "used ring past guest memory not flagged");
				straddle_used++;
			}
			continue;
		}
		for (k = 0; k < NR_EXPECT; k++)
			if (!strcmp(expect[k].scenario, sc))
				break;
		cr_assert(k < NR_EXPECT, "unexpected scenario %s", sc);
		if (expect[k].on_chain) {
			chain = find_chain(num(t, "base"), num(t, "queue"), num(t, "avail_idx"));
			cr_assert(chain, "%s: no chain traced at avail %llu", sc,
				  num(t, "avail_idx"));
			cr_assert_eq(num(chain, "head"), num(t, "head"), "%s: head", sc);
			cr_assert(has_anomaly(chain, expect[k].anomaly), "%s: not flagged %s: %s",
				  sc, expect[k].anomaly, json_object_to_json_string(chain));
		} else {
			cr_assert(queue_flagged(num(t, "base"), num(t, "queue"), expect[k].anomaly),
				  "%s: no %s anomaly on queue %llu", sc, expect[k].anomaly,
				  num(t, "queue"));
		}
		seen[k]++;
	}
	for (size_t k = 0; k < NR_EXPECT; k++)
		cr_assert_gt(seen[k], 0,
			     "scenario %s never ran: the VMM logged no \"hostile\" event of it",
			     expect[k].scenario);
	cr_assert_eq(straddle_table, 1, "ring-straddle's descriptor table (q2): %zu events",
		     straddle_table);
	cr_assert_eq(straddle_used, 1, "ring-straddle's used ring past guest memory: %zu events",
		     straddle_used);
	cr_assert_eq(storm, 1, "notify-storm: %zu events", storm);
}

Test(hostile, well_formed_traffic_keeps_being_decoded_and_nothing_is_lost)
{
	struct json_object *sum = NULL;
	size_t normal = 0;

	run_traced_vmm("--stuck-ms 0", HOSTILE_RUN);
	/* every chain the well-behaved devices consumed, before and after the hostile round */
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *g;

		if (!is(t, "event", "chain") || num(t, "base") == DEMO_VIRTIO_HOSTILE_BASE)
			continue;
		g = find_chain(num(t, "base"), num(t, "queue"), num(t, "avail_idx"));
		cr_assert(g, "well-formed chain at avail %llu of %s not traced",
			  num(t, "avail_idx"), str(t, "dev"));
		cr_assert_eq(num(g, "head"), num(t, "head"));
		cr_assert(!has_anomaly(g, "chain_loop") && !has_anomaly(g, "desc_out_of_range"));
		normal++;
	}
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "summary"))
			sum = trace.v[i];
	cr_assert(sum, "gma-trace did not finish with a summary");
	cr_assert_geq(normal, NORMAL_REQUESTS);
	cr_assert_geq(num(sum, "notifies"), 1000, "the notify storm was not seen");
	cr_assert_eq(num(sum, "drops"), 0);
	cr_assert_eq(num(sum, "bad_records"), 0);
	cr_assert_lt(num(sum, "max_rss_kb"), 64 * 1024, "gma-trace grew to %llu KiB",
		     num(sum, "max_rss_kb"));
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor core over the backend the tracer ships: KVM's memslots walked in the host
 * kernel (bpf/kvm_memslot.bpf.h, slot cache on) with the tracer's caps, answering on a vCPU
 * thread of the demo VM (bpf/memslot_selftest.bpf.c). Every answer must equal libgma's over
 * the same VM through its live-process backend (process_vm_readv at the regions the VMM
 * logged), and the bytes must be the guest's pattern (tools/demo-vmm/pattern.h), which
 * neither backend computed. test_accessor_bpf.c runs the same core over a region table of its
 * own with a span cap of 16; this is the one the product runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <gma/gma.h>

#include "accessor_selftest.h"
#include "compiler.h" /* ARRAY_SIZE */
#include "demo_vm.h"
#include "memslot_selftest.skel.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"
#include "../../tools/demo-vmm/pattern.h"

/* An address in the demo's hole between slots 3 and 4: no memslot has it. */
#define IN_THE_HOLE (DEMO_HOLE_GPA + 0x5000)

static struct demo_vm vm;
static struct memslot_selftest_bpf *skel;
static struct gma_mem *mem;

static void setup(void)
{
	struct gma_region r[ARRAY_SIZE(vm.slots)];

	test_clock_start();
	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	for (size_t i = 0; i < vm.nr_slots; i++)
		r[i] = (struct gma_region){ .gpa = vm.slots[i].gpa,
					    .size = vm.slots[i].size,
					    .addr = vm.slots[i].hva };
	mem = gma_mem_new_process(vm.pid, r, vm.nr_slots);
	cr_assert(mem, "gma_mem_new_process(%d): %s", vm.pid, strerror(errno));
	skel = memslot_selftest_bpf__open_and_load();
	cr_assert(skel, "loading memslot_selftest (the verifier refused the memslot backend?): %s",
		  strerror(errno));
	skel->bss->target_tgid = vm.pid;
	cr_assert_eq(memslot_selftest_bpf__attach(skel), 0,
		     "attaching to kvm_entry and kvm_emulate_insn: %s", strerror(errno));
}

static void teardown(void)
{
	memslot_selftest_bpf__destroy(skel);
	gma_mem_free(mem);
	demo_vm_stop(&vm);
}

TestSuite(memslot_bpf, .init = setup, .fini = teardown, .timeout = TEST_LIMIT_S);

/* One request, answered by the kernel on the demo VM's vCPU thread at its next exit. */
static struct selftest_resp *bpf_run(enum selftest_op op, __u64 gpa, __u64 len)
{
	struct selftest_req *req = &skel->bss->req;
	struct timespec pause = { 0, 100000 };

	req->op = op;
	req->gpa = gpa;
	req->len = len;
	__atomic_store_n(&req->seq, req->seq + 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&skel->bss->resp.seq, __ATOMIC_SEQ_CST) != req->seq) {
		cr_assert_gt(test_seconds_left(), 0,
			     "no answer by the test's deadline: the demo VM made no exit on "
			     "kvm_entry nor kvm_emulate_insn");
		nanosleep(&pause, NULL); /* polls an answer, not a time */
	}
	return &skel->bss->resp;
}

/* A demo slot boundary and the slot's end, for the cases below. */
static const struct demo_slot *slot_at(__u64 gpa)
{
	for (size_t i = 0; i < vm.nr_slots; i++)
		if (gpa >= vm.slots[i].gpa && gpa - vm.slots[i].gpa < vm.slots[i].size)
			return &vm.slots[i];
	return NULL;
}

Test(memslot_bpf, built_with_the_tracers_caps)
{
	/* kvm_memslot.bpf.h's cap: the tracer's programs include it without defining one */
	cr_assert_eq(skel->rodata->span_max, 8, "span cap %u", skel->rodata->span_max);
}

Test(memslot_bpf, translate_matches_userspace_at_every_slot_edge)
{
	__u64 gpas[4 * ARRAY_SIZE(vm.slots) + 3];
	size_t n = 0;

	cr_assert_geq(vm.nr_slots, 4, "the demo VM has %zu memslots", vm.nr_slots);
	for (size_t i = 0; i < vm.nr_slots; i++) {
		const struct demo_slot *s = &vm.slots[i];

		gpas[n++] = s->gpa;
		gpas[n++] = s->gpa + 0x123;
		gpas[n++] = s->gpa + s->size - 1;
		gpas[n++] = s->gpa + s->size; /* the next slot, or a hole */
	}
	gpas[n++] = IN_THE_HOLE;
	gpas[n++] = 0x100000000ull;
	gpas[n++] = ~0ull;
	for (size_t i = 0; i < n; i++) {
		struct selftest_resp *r = bpf_run(SELFTEST_TRANSLATE, gpas[i], 0);
		__u64 addr = 0, limit = 0;
		int err = gma_mem_translate(mem, gpas[i], &addr, &limit);

		cr_assert_eq(r->err, err, "gpa 0x%llx: bpf %d, user %d", gpas[i], r->err, err);
		if (err)
			continue;
		cr_assert_eq(r->hva, addr, "gpa 0x%llx: bpf hva 0x%llx, user 0x%llx", gpas[i],
			     r->hva, addr);
		cr_assert_eq(r->limit, limit, "gpa 0x%llx: bpf limit 0x%llx, user 0x%llx", gpas[i],
			     r->limit, limit);
		cr_assert(slot_at(gpas[i]), "gpa 0x%llx translated outside every slot", gpas[i]);
	}
}

/* A read of [gpa, gpa + len) through both backends: same error, count and bytes. */
static void expect_same_read(__u64 gpa, __u64 len, bool pattern)
{
	static __u8 user[SELFTEST_COPY_CAP];
	struct selftest_resp *r = bpf_run(SELFTEST_READ_BUF, gpa, len);
	size_t done = 0;
	int err = gma_mem_read(mem, gpa, user, len, &done);

	cr_assert_eq(r->err, err, "read 0x%llx+0x%llx: bpf %d (fault %u), user %d", gpa, len,
		     r->err, skel->bss->fault, err);
	cr_assert_eq(r->done, done, "read 0x%llx+0x%llx: bpf copied 0x%llx, user 0x%zx", gpa, len,
		     r->done, done);
	cr_assert_arr_eq(skel->bss->buf, user, done, "read 0x%llx+0x%llx: the bytes differ", gpa,
			 len);
	if (pattern)
		cr_assert_eq(gma_demo_pattern_check(gpa, skel->bss->buf, done), done,
			     "read 0x%llx+0x%llx: not the guest's pattern at +0x%zx", gpa, len,
			     gma_demo_pattern_check(gpa, skel->bss->buf, done));
}

/*
 * The ranges the demo guest fills with its pattern (tools/demo-vmm/guest/main.c), static once
 * the VM is ready; the rest of its RAM may never have been touched, and an untouched page is
 * a fault to the kernel where process_vm_readv reads zeros (DESIGN.md).
 */
static const struct {
	__u64 gpa, len;
} pattern_areas[] = {
	{ DEMO_PATTERN_SLOT0_1_GPA, DEMO_PATTERN_SLOT0_1_LEN },
	{ DEMO_PATTERN_SLOT1_3_GPA, DEMO_PATTERN_SLOT1_3_LEN },
	{ DEMO_PATTERN_SLOT4_GPA, DEMO_PATTERN_SLOT4_LEN },
};

Test(memslot_bpf, reads_across_slots_and_into_holes_match_userspace)
{
	expect_same_read(DEMO_PATTERN_SLOT0_1_GPA, DEMO_PATTERN_SLOT0_1_LEN, true);
	expect_same_read(DEMO_PATTERN_SLOT1_2_GPA, DEMO_PATTERN_SLOT1_2_LEN, true);
	expect_same_read(DEMO_PATTERN_SLOT1_3_GPA, SELFTEST_COPY_CAP, true);
	expect_same_read(DEMO_SLOT3_GPA - 0x100, 0x200, true); /* slot 2 -> 3 */
	/* a hole part-way: the count copied */
	expect_same_read(DEMO_PATTERN_HOLE_GPA, 0x200, true);
	expect_same_read(IN_THE_HOLE, 0x10, false);
	expect_same_read(IN_THE_HOLE, 0, false); /* zero length: success anywhere */
	expect_same_read(~0ull - 3, 8, false); /* wraps */
	cr_assert_eq(
		bpf_run(SELFTEST_READ_BUF, DEMO_PATTERN_SLOT1_3_GPA, SELFTEST_COPY_CAP + 1)->err,
		-E2BIG, "past the copy cap");
}

Test(memslot_bpf, objects_never_straddle_slots)
{
	const struct demo_slot *s = slot_at(DEMO_SLOT1_GPA);
	__u64 end = s->gpa + s->size;
	__u8 user[16];

	cr_assert(s);
	cr_assert_eq(bpf_run(SELFTEST_READ_OBJ, end - 8, 16)->err, -ERANGE);
	cr_assert_eq(gma_mem_read_obj(mem, end - 8, user, 16), -ERANGE);
	cr_assert_eq(bpf_run(SELFTEST_READ_OBJ, end - 16, 16)->err, 0);
	cr_assert_eq(gma_mem_read_obj(mem, end - 16, user, 16), 0);
	cr_assert_arr_eq(skel->bss->buf, user, 16);
	cr_assert_eq(bpf_run(SELFTEST_READ_OBJ, IN_THE_HOLE, 4)->err, -EINVAL);
}

/* The live-process backend refuses volatile access (-EOPNOTSUPP): the pattern is the truth. */
Test(memslot_bpf, volatile_reads_are_the_guests_bytes)
{
	const __u64 gpa = DEMO_PATTERN_SLOT1_3_GPA + 8; /* 8-aligned, in a pattern area */

	for (unsigned int w = 1; w <= 8; w *= 2) {
		struct selftest_resp *r = bpf_run(SELFTEST_READ_VOLATILE, gpa, w);
		__u64 want = 0;

		cr_assert_eq(r->err, 0, "width %u: %d", w, r->err);
		for (unsigned int i = 0; i < w; i++)
			want |= (__u64)gma_demo_pattern(gpa + i) << (8 * i);
		cr_assert_eq(r->val, want, "width %u: 0x%llx, the pattern says 0x%llx", w, r->val,
			     want);
		if (w > 1)
			cr_assert_eq(bpf_run(SELFTEST_READ_VOLATILE, gpa + 1, w)->err, -EINVAL);
	}
	cr_assert_eq(bpf_run(SELFTEST_READ_VOLATILE, IN_THE_HOLE, 4)->err, -EINVAL);
}

/* Random reads within the pattern areas, and from the end of slot 3 into the hole after it. */
Test(memslot_bpf, random_reads_match_userspace)
{
	unsigned int seed = 4242;

	for (int i = 0; i < 400; i++) {
		size_t a = rand_r(&seed) % (ARRAY_SIZE(pattern_areas) + 1);
		__u64 gpa, len = rand_r(&seed) % (SELFTEST_COPY_CAP + 1);

		if (a == ARRAY_SIZE(pattern_areas)) {
			gpa = DEMO_PATTERN_HOLE_GPA + rand_r(&seed) % DEMO_PATTERN_HOLE_LEN;
		} else {
			gpa = pattern_areas[a].gpa + rand_r(&seed) % pattern_areas[a].len;
			if (gpa + len > pattern_areas[a].gpa + pattern_areas[a].len)
				len = pattern_areas[a].gpa + pattern_areas[a].len - gpa;
		}
		expect_same_read(gpa, len, true);
	}
}

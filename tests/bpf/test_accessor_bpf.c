// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor core compiled into BPF, loaded through the kernel verifier, and run on a
 * tracepoint over this process's own memory: every answer must equal libgma's for the same
 * region table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "accessor_selftest.h"
#include "accessor_selftest.skel.h"
#include "test_guest.h"

static struct accessor_selftest_bpf *skel;
static struct test_guest *guest;

/* One region more than the BPF build's span cap */
#define NR_SMALL (SELFTEST_SPAN_MAX + 1)
static struct test_layout layout[3 + NR_SMALL];
static const size_t nr_layout = sizeof(layout) / sizeof(layout[0]);

/*
 * 0x1000-0x4000 in three regions, a hole, then SELFTEST_SPAN_MAX + 1 regions of 64 bytes from
 * 0x10000: a read across all of them is one region past the cap.
 */
static void setup(void)
{
	layout[0] = (struct test_layout){ 0x1000, 0x1000 };
	layout[1] = (struct test_layout){ 0x2000, 0x800 };
	layout[2] = (struct test_layout){ 0x2800, 0x1800 };
	for (int i = 0; i < NR_SMALL; i++)
		layout[3 + i] = (struct test_layout){ 0x10000 + i * 0x40, 0x40 };
	guest = test_guest_new(TEST_LOCAL, layout, nr_layout);

	skel = accessor_selftest_bpf__open_and_load();
	cr_assert(skel, "load accessor_selftest (verifier rejected the core?): %s",
		  strerror(errno));
	skel->bss->target_pid_tgid = ((__u64)getpid() << 32) | (__u32)gettid();
	for (size_t i = 0; i < nr_layout; i++) {
		skel->bss->regions[i].gpa = guest->regions[i].gpa;
		skel->bss->regions[i].size = guest->regions[i].size;
		skel->bss->regions[i].hva = guest->regions[i].addr;
	}
	skel->bss->nr_regions = nr_layout;
	cr_assert_eq(accessor_selftest_bpf__attach(skel), 0, "attach tp_btf/sys_enter");
}

static void teardown(void)
{
	accessor_selftest_bpf__destroy(skel);
	test_guest_free(guest);
}

TestSuite(bpf_accessor, .init = setup, .fini = teardown);

/* Runs one request in the kernel: any syscall of this thread fires the program. */
static struct selftest_resp *bpf_run(enum selftest_op op, __u64 gpa, __u64 len)
{
	struct selftest_req *req = &skel->bss->req;

	req->op = op;
	req->gpa = gpa;
	req->len = len;
	__atomic_store_n(&req->seq, req->seq + 1, __ATOMIC_SEQ_CST);
	syscall(SYS_getppid);
	cr_assert_eq(skel->bss->resp.seq, req->seq, "BPF program did not run");
	return &skel->bss->resp;
}

Test(bpf_accessor, translate_matches_userspace)
{
	__u64 gpas[] = { 0x1000,  0x1fff, 0x2000, 0x27ff,  0x2800,
			 0x3fff,  0x4000, 0x0,	  0x10fc0, 0x10000 + 64 * 0x40 + 0x3f,
			 0x20000, ~0ULL };

	for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++) {
		struct selftest_resp *r = bpf_run(SELFTEST_TRANSLATE, gpas[i], 0);
		__u64 addr = 0, limit = 0;
		int err = gma_mem_translate(guest->mem, gpas[i], &addr, &limit);

		cr_assert_eq(r->err, err, "gpa 0x%llx: bpf %d user %d", gpas[i], r->err, err);
		if (!err) {
			cr_assert_eq(r->hva, addr);
			cr_assert_eq(r->limit, limit);
		}
	}
}

static void expect_bpf_read(__u64 gpa, __u64 len)
{
	struct selftest_resp *r = bpf_run(SELFTEST_READ_BUF, gpa, len);
	__u8 want[SELFTEST_COPY_CAP];

	cr_assert_eq(r->err, 0, "read 0x%llx+%llu: %d", gpa, len, r->err);
	cr_assert_eq(r->done, len);
	test_pattern_fill(gpa, want, len);
	cr_assert_arr_eq(skel->bss->buf, want, len);
}

Test(bpf_accessor, read_spans_2_3_and_cap_regions)
{
	expect_bpf_read(0x1f00, 0x200);
	expect_bpf_read(0x1f00, 0xa00);
	expect_bpf_read(0x10000, SELFTEST_SPAN_MAX * 0x40);
	expect_bpf_read(0x10001, (SELFTEST_SPAN_MAX - 1) * 0x40);
}

Test(bpf_accessor, hole_and_cap_report_count)
{
	struct selftest_resp *r = bpf_run(SELFTEST_READ_BUF, 0x3f00, 0x200);
	__u8 want[0x100];

	cr_assert_eq(r->err, -EINVAL);
	cr_assert_eq(r->done, 0x100);
	test_pattern_fill(0x3f00, want, sizeof(want));
	cr_assert_arr_eq(skel->bss->buf, want, sizeof(want));
	/* One region more than GMA_SPAN_MAX in the BPF build */
	r = bpf_run(SELFTEST_READ_BUF, 0x10000, NR_SMALL * 0x40);
	cr_assert_eq(r->err, -E2BIG);
	cr_assert_eq(r->done, SELFTEST_SPAN_MAX * 0x40);
}

Test(bpf_accessor, object_rules)
{
	struct selftest_resp *r;

	r = bpf_run(SELFTEST_READ_OBJ, 0x2000, 0x801);
	cr_assert_eq(r->err, -ERANGE, "one byte larger than its region");
	r = bpf_run(SELFTEST_READ_OBJ, 0x1ffc, 8);
	cr_assert_eq(r->err, -ERANGE, "straddles A and B");
	r = bpf_run(SELFTEST_READ_OBJ, 0x2000, 0x800);
	cr_assert_eq(r->err, 0);
	r = bpf_run(SELFTEST_READ_OBJ, 0x4000, 4);
	cr_assert_eq(r->err, -EINVAL);
}

Test(bpf_accessor, zero_length_and_wrap)
{
	cr_assert_eq(bpf_run(SELFTEST_READ_BUF, 0x4000, 0)->err, 0);
	cr_assert_eq(bpf_run(SELFTEST_READ_BUF, ~0ULL - 3, 8)->err, -EOVERFLOW);
	cr_assert_eq(bpf_run(SELFTEST_READ_BUF, ~0ULL - 3, 8)->done, 0);
}

Test(bpf_accessor, volatile_widths)
{
	for (unsigned int w = 1; w <= 8; w *= 2) {
		struct selftest_resp *r = bpf_run(SELFTEST_READ_VOLATILE, 0x2008, w);
		__u64 want = 0;

		cr_assert_eq(r->err, 0);
		test_pattern_fill(0x2008, &want, w);
		cr_assert_eq(r->val, want, "width %u", w);
		if (w > 1)
			cr_assert_eq(bpf_run(SELFTEST_READ_VOLATILE, 0x2009, w)->err, -EINVAL);
	}
	cr_assert_eq(bpf_run(SELFTEST_READ_VOLATILE, 0x2008, 3)->err, -EINVAL);
}

Test(bpf_accessor, fault_is_efault)
{
	/* Point region A at a page this process unmapped: translation works, the copy faults. */
	void *p = mmap(NULL, 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert(p != MAP_FAILED);
	munmap(p, 0x1000);
	skel->bss->regions[0].hva = (__u64)(unsigned long)p;
	cr_assert_eq(bpf_run(SELFTEST_READ_BUF, 0x1000, 16)->err, -EFAULT);
	cr_assert_eq(bpf_run(SELFTEST_READ_BUF, 0x4000, 16)->err, -EINVAL);
}

/* Random requests: the kernel's answer equals libgma's, error and bytes. */
Test(bpf_accessor, random_requests_match_userspace)
{
	static __u8 user[SELFTEST_COPY_CAP];
	unsigned int seed = 12345;

	for (int i = 0; i < 2000; i++) {
		__u64 gpa = 0xf00 + rand_r(&seed) % 0x3400;
		__u64 len = rand_r(&seed) % 0x900;
		size_t done = 0;
		struct selftest_resp *r;
		int err;

		if (i % 2)
			gpa = 0xff80 + rand_r(&seed) % (NR_SMALL * 0x40 + 0x100);
		r = bpf_run(SELFTEST_READ_BUF, gpa, len);
		err = gma_mem_read(guest->mem, gpa, user, len, &done);
		/* Only the BPF span cap may make the kernel stop earlier than userspace */
		if (r->err == -E2BIG) {
			cr_assert_lt(r->done, done + (err ? 1 : 0));
		} else {
			cr_assert_eq(r->err, err, "gpa 0x%llx len %llu: bpf %d user %d", gpa, len,
				     r->err, err);
			cr_assert_eq(r->done, done);
		}
		cr_assert_arr_eq(skel->bss->buf, user, r->done);
	}
}

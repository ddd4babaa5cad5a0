/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by bpf/accessor_selftest.bpf.c and its tests: the accessor core and the chain walk
 * (bpf/vring_walk.h) compiled into BPF, driven over a region table of the test's own memory,
 * so the kernel verifier accepts them and the kernel's answers can be compared with
 * userspace's (tests/bpf/test_accessor_bpf.c, test_vring_walk_bpf.c).
 */
#ifndef GMA_ACCESSOR_SELFTEST_H
#define GMA_ACCESSOR_SELFTEST_H

#include "vring_walk.h" /* the walk's state lives in the program's .bss */

#define SELFTEST_REGIONS_MAX 128
#define SELFTEST_SPAN_MAX 16
#define SELFTEST_COPY_CAP 4096

enum selftest_op {
	SELFTEST_TRANSLATE = 1,
	SELFTEST_READ_OBJ,
	SELFTEST_READ_BUF,
	SELFTEST_READ_VOLATILE,
	SELFTEST_WALK_CHAIN, /* gpa: descriptor table, len: queue size, head */
};

struct selftest_region {
	__u64 gpa;
	__u64 size;
	__u64 hva;
};

struct selftest_req {
	__u32 seq;
	__u32 op;
	__u64 gpa;
	__u64 len;
	__u32 head;
	__u32 pad;
};

/* Descriptors a walk reports, tables included: the BPF walk's cap. */
#define SELFTEST_WALK_STEPS 64

/* What a walk stepped, in order (kind: enum gma_vring_step). */
struct selftest_step {
	__u64 addr;
	__u32 len;
	__u16 flags;
	__u16 next;
	__u32 idx;
	__u8 kind;
	__u8 in_indirect;
	__u16 pad;
};

struct selftest_walk {
	__u32 anomalies;
	__u32 nr_descs;
	__u32 nr_buffers;
	__u32 nr_steps;
	__u64 indirect_addr;
	__u32 indirect_len;
	__u32 pad;
	struct selftest_step steps[SELFTEST_WALK_STEPS];
};

struct selftest_resp {
	__u32 seq;
	__s32 err;
	__u64 done;
	__u64 hva;
	__u64 limit;
	__u64 val;
};

#endif /* GMA_ACCESSOR_SELFTEST_H */

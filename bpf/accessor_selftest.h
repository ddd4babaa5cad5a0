/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by bpf/accessor_selftest.bpf.c and its test: the accessor core compiled into BPF,
 * driven over a region table of the test's own memory, so the kernel verifier accepts the
 * core and the kernel's answers can be compared with userspace's.
 */
#ifndef GMA_ACCESSOR_SELFTEST_H
#define GMA_ACCESSOR_SELFTEST_H

#define SELFTEST_REGIONS_MAX 128
#define SELFTEST_SPAN_MAX 16
#define SELFTEST_COPY_CAP 4096

enum selftest_op {
	SELFTEST_TRANSLATE = 1,
	SELFTEST_READ_OBJ,
	SELFTEST_READ_BUF,
	SELFTEST_READ_VOLATILE,
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

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor core and the chain walk compiled into BPF over a region table held in .bss,
 * run on the raw_syscalls:sys_enter tracepoint of one thread of the test. Proves both pass the
 * verifier and behave in the kernel as they do in userspace.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "accessor_selftest.h"

#define GMA_SPAN_MAX SELFTEST_SPAN_MAX
#define GMA_COPY_CAP SELFTEST_COPY_CAP
#define GMA_TRANSLATE_FN __noinline
#include <gma/accessor.h>
#include "guest_copy.bpf.h"

#include "vring_walk.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The thread whose syscalls run the request (pid_tgid as bpf_get_current_pid_tgid). */
__u64 target_pid_tgid;
__u32 nr_regions;
struct selftest_region regions[SELFTEST_REGIONS_MAX];
struct selftest_req req;
struct selftest_resp resp;
__u8 buf[GMA_COPY_DST_SIZE];

struct gma_backend {
	__u32 nr;
};

/* log2(SELFTEST_REGIONS_MAX) + 1 halvings find any region of a sorted table. */
#define SEARCH_STEPS 8

__noinline int gma_backend_translate(struct gma_backend *be, __u64 gpa, struct gma_xlat *out)
{
	__u32 lo = 0, hi, mid, i;

	if (!be || !out)
		return -EINVAL;
	hi = be->nr;
	for (i = 0; i < SEARCH_STEPS && lo < hi; i++) {
		struct selftest_region *r;

		mid = (lo + (hi - lo) / 2) & (SELFTEST_REGIONS_MAX - 1);
		r = &regions[mid];
		if (gpa < r->gpa) {
			hi = mid;
		} else if (gpa - r->gpa >= r->size) {
			lo = mid + 1;
		} else {
			out->hva = r->hva + (gpa - r->gpa);
			out->limit = r->size - (gpa - r->gpa);
			return 0;
		}
	}
	return -EINVAL;
}

static int gma_backend_read(struct gma_backend *be, void *dst, __u64 dst_off, __u64 hva, __u64 len)
{
	return gma_bpf_copy_user(dst, dst_off, hva, len);
}

static int gma_backend_read_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 *val)
{
	return gma_bpf_read_user_volatile(hva, width, val);
}

/* The chain walk over the same backend, with the tracer's cap. */
struct gma_vring_ctx {
	struct gma_backend be;
};

struct gma_vring_walk walk_state;
struct gma_vring_desc walk_desc;
struct selftest_walk walk;

#define GMA_VRING_WALK_CTX
#define GMA_VRING_WALK_ROUNDS(w) (GMA_VRING_WALK_BPF_MAX + 1)
#include "vring_walk.h"

static int gma_vring_read_desc(struct gma_vring_ctx *ctx, __u64 gpa, struct gma_vring_desc *d)
{
	return gma_read_obj(&ctx->be, gpa, d, sizeof(*d));
}

/*
 * No limit: the walk then translates both ends of every range. The selftest compares the
 * walk's verdicts with userspace, not the shortcut; and with the limit a value the verifier
 * must follow down every branch, 6.1's verifier stopped at its 1M instructions.
 */
static int gma_vring_translate(struct gma_vring_ctx *ctx, __u64 gpa, __u64 *limit)
{
	struct gma_xlat x;

	*limit = 0;
	return gma_translate(&ctx->be, gpa, &x);
}

static int gma_vring_on_desc(struct gma_vring_ctx *ctx, const struct gma_vring_walk *w,
			     const struct gma_vring_desc *d, __u32 idx, enum gma_vring_step kind)
{
	struct selftest_step *st;

	if (walk.nr_steps >= SELFTEST_WALK_STEPS)
		return 0;
	st = &walk.steps[walk.nr_steps & (SELFTEST_WALK_STEPS - 1)];
	st->addr = d->addr;
	st->len = d->len;
	st->flags = d->flags;
	st->next = d->next;
	st->idx = idx;
	st->kind = kind;
	st->in_indirect = gma_vring_walk_in_indirect(w, kind);
	walk.nr_steps++;
	return 0;
}

static __noinline int walk_chain(struct gma_vring_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	walk.nr_steps = 0;
	gma_vring_walk_begin(&walk_state, req.gpa, req.len, req.head, GMA_VRING_WALK_BPF_MAX);
	gma_vring_walk_chain(ctx, &walk_state, &walk_desc);
	walk.anomalies = walk_state.anomalies;
	walk.nr_descs = walk_state.nr_descs;
	walk.nr_buffers = walk_state.nr_buffers;
	walk.indirect_addr = walk_state.indirect_addr;
	walk.indirect_len = walk_state.indirect_len;
	return 0;
}

/* the requests both selftests answer, over the region table above */
#include "accessor_selftest.bpf.h"

SEC("tp_btf/sys_enter")
int BPF_PROG(accessor_selftest, struct pt_regs *regs, long id)
{
	struct gma_backend be = {};
	int err;

	if (bpf_get_current_pid_tgid() != target_pid_tgid || req.seq == resp.seq)
		return 0;
	be.nr = nr_regions < SELFTEST_REGIONS_MAX ? nr_regions : SELFTEST_REGIONS_MAX;
	resp.done = 0;
	if (req.op == SELFTEST_WALK_CHAIN)
		err = walk_chain((struct gma_vring_ctx *)&be);
	else
		err = selftest_access(&be, &req, &resp, buf);
	resp.err = err;
	resp.seq = req.seq;
	return 0;
}

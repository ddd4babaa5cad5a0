/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The accessor requests both BPF selftests answer (accessor_selftest.h), over whichever
 * backend the includer defined before including this: accessor_selftest.bpf.c's region table,
 * memslot_selftest.bpf.c's KVM memslots. One dispatch, so that both run the same calls.
 */
#ifndef GMA_ACCESSOR_SELFTEST_BPF_H
#define GMA_ACCESSOR_SELFTEST_BPF_H

#include "accessor_selftest.h"

/*
 * Request rq on be: translate, or read an object, a buffer or a volatile word into buf
 * (GMA_COPY_DST_SIZE bytes) and rs. The error of the access; -EINVAL for another op.
 */
static __always_inline int selftest_access(struct gma_backend *be, const struct selftest_req *rq,
					   struct selftest_resp *rs, __u8 *buf)
{
	struct gma_xlat x = {};
	__u64 len = rq->len;
	int err;

	switch (rq->op) {
	case SELFTEST_TRANSLATE:
		err = gma_translate(be, rq->gpa, &x);
		rs->hva = x.hva;
		rs->limit = x.limit;
		return err;
	case SELFTEST_READ_OBJ:
		return len > GMA_COPY_CAP ? -E2BIG : gma_read_obj(be, rq->gpa, buf, len);
	case SELFTEST_READ_BUF:
		return len > GMA_COPY_CAP ? -E2BIG : gma_read_buf(be, rq->gpa, buf, len, &rs->done);
	case SELFTEST_READ_VOLATILE:
		return gma_read_volatile(be, rq->gpa, len, &rs->val);
	default:
		return -EINVAL; /* no such request */
	}
}

#endif /* GMA_ACCESSOR_SELFTEST_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The byte-moving half of every BPF backend of the accessor core: copies from the VMM's
 * address space with bpf_probe_read_user, in forms the verifier can bound.
 */
#ifndef GMA_GUEST_COPY_BPF_H
#define GMA_GUEST_COPY_BPF_H

#include <bpf/bpf_helpers.h>

/*
 * Largest single copy, a power of two. The verifier checks a destination access as
 * max(offset) + max(length), and cannot see that the core keeps offset + length <= len, so
 * destinations are buffers of GMA_COPY_DST_SIZE = 2 * GMA_COPY_CAP bytes, offsets are masked
 * below GMA_COPY_CAP and lengths clamped to it. BPF callers pass len <= GMA_COPY_CAP to the
 * buffer functions of the core, which keeps the mask an identity.
 */
#ifndef GMA_COPY_CAP
#define GMA_COPY_CAP 4096
#endif
#define GMA_COPY_DST_SIZE (2 * GMA_COPY_CAP)

/* Returns -E2BIG past GMA_COPY_CAP, -EFAULT when the page is not resident or not mapped. */
static __always_inline int gma_bpf_copy_user(void *dst, __u64 dst_off, __u64 hva, __u64 len)
{
	if (len > GMA_COPY_CAP || dst_off >= GMA_COPY_CAP)
		return -E2BIG;
	dst_off &= GMA_COPY_CAP - 1;
	if (bpf_probe_read_user((char *)dst + dst_off, len, (const void *)hva))
		return -EFAULT;
	return 0;
}

/*
 * One read of exactly `width` bytes. Each width is a separate call with a constant size, so
 * the kernel copies the aligned value in one go; the helper itself promises no atomicity
 * against another vCPU writing at the same time, which the tracer tolerates because it
 * re-checks indices it reads this way.
 */
static __always_inline int gma_bpf_read_user_volatile(__u64 hva, __u32 width, __u64 *val)
{
	const void *p = (const void *)hva;
	__u8 v1;
	__u16 v2;
	__u32 v4;
	__u64 v8;
	long err = -EINVAL;

	switch (width) {
	case 1:
		err = bpf_probe_read_user(&v1, 1, p);
		v8 = v1;
		break;
	case 2:
		err = bpf_probe_read_user(&v2, 2, p);
		v8 = v2;
		break;
	case 4:
		err = bpf_probe_read_user(&v4, 4, p);
		v8 = v4;
		break;
	case 8:
		err = bpf_probe_read_user(&v8, 8, p);
		break;
	default:
		return -EINVAL;
	}
	if (err)
		return -EFAULT;
	*val = v8;
	return 0;
}

#endif /* GMA_GUEST_COPY_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sampler: guest memory of a VM copied through its memslots into bounded fragments on
 * the ring buffer, each within one memslot and one host page (a page that is not resident
 * marks exactly its bytes FAULT), and the ring buffer itself, its drop counter and record
 * headers. Everything that sends records includes this; it includes only the memslot
 * backend.
 */
#ifndef GMA_SAMPLER_BPF_H
#define GMA_SAMPLER_BPF_H

#include <gma/record.h>
#include "tracer_maps.h"

/* Fragments never cross a host page, so one copy is at most a page. */
#define GMA_COPY_CAP GMA_TRACER_FRAG_CAP
#define GMA_TRANSLATE_FN __noinline
/* Programs on KVM tracepoints translate through the per-CPU slot cache. */
#define GMA_KVM_SLOT_CACHE
#include "kvm_memslot.bpf.h"

#define HOST_PAGE_SIZE 4096ULL

/* Settings, from userspace at load time (struct gma_tracer_opts), within tracer.h's caps. */
const volatile __u32 frag_max = GMA_TRACER_FRAG_CAP;
const volatile __u32 sample_frags_max = GMA_TRACER_SAMPLE_FRAGS_CAP;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GMA_TRACER_RINGBUF_SIZE_DEFAULT); /* resized by userspace before load */
} events SEC(".maps");

/* Records the ring buffer refused, per CPU: userspace sums and reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/*
 * A fragment record and room for its data, in the form gma_backend_read() can bound, and the
 * backend of a sample: kept off the BPF stack, which the whole call chain shares on older
 * kernels.
 */
struct frag_buf {
	__u8 bytes[sizeof(struct gma_rec_fragment) + GMA_COPY_DST_SIZE];
	struct gma_backend be;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frag_buf);
} frag_scratch SEC(".maps");

/*
 * Waking the reader costs more than writing a record, so records go out without a wakeup
 * (BPF_RB_NO_WAKEUP) but for the last of a batch (a notify's, a sample's end), which wakes it
 * once wakeup_bytes have piled up; the reader also drains on its own every poll timeout.
 */
const volatile __u64 wakeup_bytes = 64 << 10;

static __always_inline __u64 batch_end_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
									       BPF_RB_NO_WAKEUP;
}

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void rec_hdr(struct gma_rec_hdr *hdr, __u16 type, __u32 size)
{
	hdr->type = type;
	hdr->version = GMA_REC_VERSION;
	hdr->size = size;
}

static __always_inline __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

/*
 * Sends one fragment of a sample: the guest bytes at gpa within one memslot, one host page and
 * the fragment cap, or a record saying why they cannot be read. be is the VM's backend, bound
 * by the caller (gma_backend_init()) once for all its fragments. Returns the bytes covered,
 * shifted left by one, with bit 0 set when the ring buffer refused the record. A global
 * function: the verifier checks it once, and its caller's loop sees an unknown scalar, so the
 * loop's paths merge instead of doubling at each fragment.
 */
__noinline __s64 sample_fragment(struct gma_backend *be, __u64 sample_id, __u64 gpa, __u64 remain,
				 __u32 seq)
{
	struct gma_rec_fragment *rec;
	struct gma_xlat x = {};
	struct frag_buf *buf;
	__u32 zero = 0, cap = frag_max;
	__u64 size, n;
	int err;

	buf = bpf_map_lookup_elem(&frag_scratch, &zero);
	if (!buf || !be || remain == 0)
		return -EINVAL;
	if (cap == 0 || cap > GMA_TRACER_FRAG_CAP)
		cap = GMA_TRACER_FRAG_CAP;
	rec = (void *)buf->bytes;
	size = sizeof(*rec);
	rec->vm_id = (__u64)be->kvm;
	rec->sample_id = sample_id;
	rec->gpa = gpa;
	rec->seq = seq;
	err = gma_translate(be, gpa, &x);
	if (err) {
		/* The backend says how far the hole reaches, or 0: then the rest is unmapped. */
		n = x.limit ? min_u64(x.limit, remain) : remain;
		rec->status = GMA_FRAG_UNMAPPED;
	} else {
		n = min_u64(min_u64(remain, x.limit), cap);
		n = min_u64(n, HOST_PAGE_SIZE - (x.hva & (HOST_PAGE_SIZE - 1)));
		err = gma_backend_read(be, buf->bytes + sizeof(*rec), 0, x.hva, n);
		if (!err) {
			rec->status = GMA_FRAG_READ;
			size += n;
		} else if (be->fault == GMA_KVM_FAULT_FOREIGN_MM) {
			rec->status = GMA_FRAG_FOREIGN_MM;
		} else {
			rec->status = GMA_FRAG_FAULT;
		}
	}
	rec->len = n;
	rec_hdr(&rec->hdr, GMA_REC_FRAGMENT, size);
	if (size > sizeof(*buf))
		return -EINVAL;
	if (bpf_ringbuf_output(&events, buf, size, BPF_RB_NO_WAKEUP)) {
		count_drop();
		return (__s64)(n << 1) | 1;
	}
	return (__s64)(n << 1);
}

/*
 * Samples [gpa, gpa + len) of VM kvm as fragments, then a SAMPLE_END record. Global, so it is
 * verified once, not once per request slot. Returns the number of fragments sent.
 */
__noinline int sample_range(__u64 kvm, __u64 sample_id, __u64 gpa, __u32 len)
{
	struct gma_rec_sample_end end = {};
	__u32 i, frags_max = sample_frags_max, zero = 0;
	__u64 off = 0, id = bpf_get_current_pid_tgid();
	struct frag_buf *buf;
	__s64 r;

	buf = bpf_map_lookup_elem(&frag_scratch, &zero);
	if (!buf)
		return 0;
	gma_backend_init(&buf->be, (struct kvm *)kvm);
	if (frags_max == 0 || frags_max > GMA_TRACER_SAMPLE_FRAGS_CAP)
		frags_max = GMA_TRACER_SAMPLE_FRAGS_CAP;
	for (i = 0; i < GMA_TRACER_SAMPLE_FRAGS_CAP && i < frags_max && off < len; i++) {
		r = sample_fragment(&buf->be, sample_id, gpa + off, len - off, i);
		if (r < 2)
			break;
		end.nr_lost += r & 1;
		off += r >> 1;
	}

	rec_hdr(&end.hdr, GMA_REC_SAMPLE_END, sizeof(end));
	end.vm_id = kvm;
	end.sample_id = sample_id;
	end.gpa = gpa;
	end.len = len;
	end.covered = off;
	end.ts_ns = bpf_ktime_get_ns();
	end.pid = id >> 32;
	end.tid = (__u32)id;
	end.nr_fragments = i;
	end.err = off < len ? -E2BIG : 0;
	/* someone waits for this one sample: wake them now */
	if (bpf_ringbuf_output(&events, &end, sizeof(end), BPF_RB_FORCE_WAKEUP))
		count_drop();
	return i;
}

#endif /* GMA_SAMPLER_BPF_H */

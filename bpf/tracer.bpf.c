// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma's tracer: learns on KVM tracepoints which VM each vCPU thread runs, and samples guest
 * memory on request from userspace at the next exit of a vCPU of that VM, through the VM's
 * memslots, as bounded fragments sent over a ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include <gma/record.h>
#include "tracer.h"

/* Fragments never cross a host page, so one copy is at most a page. */
#define GMA_COPY_CAP 4096
#define GMA_TRANSLATE_FN __noinline
#include "kvm_memslot.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define HOST_PAGE_SIZE 4096ULL

/*
 * Compile-time caps, the bounds the verifier sees. The values actually used are the read-only
 * settings below, set by userspace before load and clamped to these.
 */
#define FRAG_CAP GMA_COPY_CAP /* bytes in one fragment */
#define SAMPLE_FRAGS_CAP 64 /* fragments in one sample */

/* Settings, from userspace at load time (struct gma_tracer_opts). */
const volatile __u32 frag_max = FRAG_CAP;
const volatile __u32 sample_frags_max = SAMPLE_FRAGS_CAP;

/* Only this process's VM (0: all). */
const volatile __u32 target_tgid;

/* Requests waiting in sample_reqs: lets every exit skip the request scan when there is none. */
__u32 nr_pending;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by userspace before load */
} events SEC(".maps");

/* Records the ring buffer refused, per CPU: userspace sums and reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GMA_SAMPLE_REQ_MAX);
	__type(key, __u32);
	__type(value, struct gma_sample_req);
} sample_reqs SEC(".maps");

/* vCPU thread (tid) -> the struct kvm it runs, learnt on tracepoints that carry the vCPU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} vcpu_vm SEC(".maps");

/*
 * A fragment record and room for its data, in the form gma_backend_read() can bound, and the
 * backend: kept off the BPF stack, which the whole call chain shares on older kernels.
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
 * the fragment cap, or a record saying why they cannot be read. Returns the bytes covered,
 * shifted left by one, with bit 0 set when the ring buffer refused the record. A global
 * function: the verifier checks it once, and its caller's loop sees an unknown scalar, so the
 * loop's paths merge instead of doubling at each fragment.
 */
__noinline __s64 sample_fragment(__u64 kvm, __u64 sample_id, __u64 gpa, __u64 remain, __u32 seq)
{
	struct gma_rec_fragment *rec;
	struct gma_xlat x = {};
	struct gma_backend *be;
	struct frag_buf *buf;
	__u32 zero = 0, cap = frag_max;
	__u64 size, n;
	int err;

	buf = bpf_map_lookup_elem(&frag_scratch, &zero);
	if (!buf || remain == 0)
		return -EINVAL;
	if (cap == 0 || cap > FRAG_CAP)
		cap = FRAG_CAP;
	rec = (void *)buf->bytes;
	be = &buf->be;
	size = sizeof(*rec);
	rec->vm_id = kvm;
	rec->sample_id = sample_id;
	rec->gpa = gpa;
	rec->seq = seq;
	gma_backend_init(be, (struct kvm *)kvm);
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
	__u32 i, frags_max = sample_frags_max;
	__u64 off = 0, id = bpf_get_current_pid_tgid();
	__s64 r;

	if (frags_max == 0 || frags_max > SAMPLE_FRAGS_CAP)
		frags_max = SAMPLE_FRAGS_CAP;
	for (i = 0; i < SAMPLE_FRAGS_CAP && i < frags_max && off < len; i++) {
		r = sample_fragment(kvm, sample_id, gpa + off, len - off, i);
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

#include "virtqueue.bpf.h"
#include "virtio_mmio.bpf.h"

/* Serves the pending requests for the current process, from a thread running VM kvm. */
static __always_inline void serve_requests(__u64 kvm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!nr_pending)
		return;
	for (__u32 i = 0; i < GMA_SAMPLE_REQ_MAX; i++) {
		__u32 key = i;
		struct gma_sample_req *req = bpf_map_lookup_elem(&sample_reqs, &key);

		if (!req || req->state != GMA_REQ_PENDING || req->pid != tgid)
			continue;
		if (__sync_val_compare_and_swap(&req->state, GMA_REQ_PENDING, GMA_REQ_CLAIMED) !=
		    GMA_REQ_PENDING)
			continue;
		sample_range(kvm, req->sample_id, req->gpa, req->len);
		req->state = GMA_REQ_DONE;
		__sync_fetch_and_sub(&nr_pending, 1);
	}
}

static __always_inline bool traced_process(void)
{
	return !target_tgid || target_tgid == bpf_get_current_pid_tgid() >> 32;
}

/* A tracepoint that carries the vCPU: remember this thread's VM, then serve requests. */
static __always_inline int on_vcpu(struct kvm_vcpu *vcpu)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 kvm, *known;

	if (!traced_process())
		return 0;
	kvm = (__u64)BPF_CORE_READ(vcpu, kvm);
	if (!kvm)
		return 0;
	known = bpf_map_lookup_elem(&vcpu_vm, &tid);
	if (!known || *known != kvm)
		bpf_map_update_elem(&vcpu_vm, &tid, &kvm, BPF_ANY);
	serve_requests(kvm);
	maybe_scan_vm(kvm);
	return 0;
}

/* A tracepoint without the vCPU: the thread's VM is known if a vCPU tracepoint saw it. */
static __always_inline __u64 current_vm(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *kvm;

	if (!traced_process())
		return 0;
	kvm = bpf_map_lookup_elem(&vcpu_vm, &tid);

	return kvm ? *kvm : 0;
}

/*
 * Userspace disables, before load, each of these the running kernel lacks (the vCPU-carrying
 * tracepoints differ between kernels, and kvm_exit only fires with hardware virtualization).
 */
SEC("tp_btf/kvm_exit")
int BPF_PROG(kvm_exit, struct kvm_vcpu *vcpu)
{
	return on_vcpu(vcpu);
}

SEC("tp_btf/kvm_entry")
int BPF_PROG(kvm_entry, struct kvm_vcpu *vcpu)
{
	return on_vcpu(vcpu);
}

SEC("tp_btf/kvm_emulate_insn")
int BPF_PROG(kvm_emulate_insn, struct kvm_vcpu *vcpu)
{
	return on_vcpu(vcpu);
}

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(kvm_page_fault, struct kvm_vcpu *vcpu)
{
	return on_vcpu(vcpu);
}

SEC("tp_btf/kvm_pio")
int BPF_PROG(kvm_pio)
{
	__u64 vm = current_vm();

	if (vm) {
		serve_requests(vm);
		maybe_scan_vm(vm);
	}
	return 0;
}

SEC("tp_btf/kvm_mmio")
int BPF_PROG(kvm_mmio, int type, int len, __u64 gpa, void *valp)
{
	__u64 vm = current_vm();
	__u32 val = 0;

	if (!vm)
		return 0;
	/* 32-bit register accesses with a value: writes, and reads once satisfied */
	if (len == 4 && valp && (type == KVM_TRACE_MMIO_READ || type == KVM_TRACE_MMIO_WRITE) &&
	    !bpf_probe_read_kernel(&val, sizeof(val), valp)) {
		int r = mmio_access(vm, type == KVM_TRACE_MMIO_WRITE, gpa, val);

		if ((r & 0xff) == MMIO_NOTIFY)
			notify_queue(vm, gpa & ~(__u64)(VIRTIO_MMIO_WINDOW - 1), (__u32)r >> 8);
	}
	serve_requests(vm);
	maybe_scan_vm(vm);
	return 0;
}

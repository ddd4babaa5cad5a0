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

#include "sampler.bpf.h"
#include "virtio_mmio.bpf.h"
#include "virtio_pci.bpf.h"
#include "ioeventfd.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Only this process's VM (0: all). */
const volatile __u32 target_tgid;

/* Requests waiting in sample_reqs: lets every exit skip the request scan when there is none. */
__u32 nr_pending;

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

/* VMM process (tgid) -> the last VM one of its vCPU threads ran: for its other threads. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} tgid_vm SEC(".maps");

/*
 * Hits of the vCPU-carrying tracepoints on the traced vCPU threads (a few per exit), per CPU:
 * userspace tells an idle or absent guest from one that exits but never notifies.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vcpu_events SEC(".maps");

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

	/* kernels since 6.12 (and stable backports) type tp_btf pointer arguments maybe-NULL */
	__u32 zero = 0;
	__u64 *events;

	if (!vcpu || !traced_process())
		return 0;
	kvm = (__u64)BPF_CORE_READ(vcpu, kvm);
	if (!kvm)
		return 0;
	events = bpf_map_lookup_elem(&vcpu_events, &zero);
	if (events)
		(*events)++;
	known = bpf_map_lookup_elem(&vcpu_vm, &tid);
	if (!known || *known != kvm) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		bpf_map_update_elem(&vcpu_vm, &tid, &kvm, BPF_ANY);
		bpf_map_update_elem(&tgid_vm, &tgid, &kvm, BPF_ANY);
	}
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

#include "interrupts.bpf.h"

/*
 * Userspace disables, before load, each of these the running kernel lacks (the vCPU-carrying
 * tracepoints differ between kernels, and kvm_exit only fires with hardware virtualization),
 * and kvm_entry and kvm_page_fault where kvm_exit is there (tracepoints[] in
 * user/lib/tracer_load.c).
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

/*
 * A port access: PCI configuration, a legacy virtio-pci I/O BAR. KVM_PIO_OUT is 1. The data
 * argument is a `const void *`, which kernels before 6.4 refuse to let a program read from its
 * context ("arg4 type UNKNOWN is not a struct"): it is copied out of the context instead.
 */
SEC("tp_btf/kvm_pio")
int BPF_PROG(kvm_pio, unsigned int rw, unsigned int port, unsigned int size, unsigned int count)
{
	__u64 vm = current_vm();
	const void *data = NULL;
	__u32 val = 0;

	if (!vm || bpf_probe_read_kernel(&data, sizeof(data), &ctx[4]))
		return 0;
	/* IN is traced once its data is there: reads carry their value too */
	if (count == 1 && data && (size == 1 || size == 2 || size == 4) &&
	    !bpf_probe_read_kernel(&val, size & 7, data)) {
		if (rw == 1)
			unexplained_begin();
		pci_pio(vm, rw == 1, port, size, val);
		sample_pending(vm, PENDING_NOTIFY);
		if (rw == 1)
			unexplained_notify(vm, GMA_BUS_PIO, port, size, val);
		scan_pending(vm);
	}
	serve_requests(vm);
	maybe_scan_vm(vm);
	return 0;
}

SEC("tp_btf/kvm_mmio")
int BPF_PROG(kvm_mmio, int type, int len, __u64 gpa, void *valp)
{
	__u64 vm = current_vm();
	__u32 val = 0;

	if (!vm)
		return 0;
	if (len == 4 && type == KVM_TRACE_MMIO_READ_UNSATISFIED &&
	    virtio_mmio_off(gpa) == VIRTIO_MMIO_INTERRUPT_STATUS)
		irq_status_exit(vm, virtio_mmio_base(gpa));
	/* register accesses with a value: writes, and reads once satisfied */
	if ((len == 1 || len == 2 || len == 4) && valp &&
	    (type == KVM_TRACE_MMIO_READ || type == KVM_TRACE_MMIO_WRITE) &&
	    !bpf_probe_read_kernel(&val, len & 7, valp)) {
		bool write = type == KVM_TRACE_MMIO_WRITE;
		int r;

		if (write)
			unexplained_begin();
		r = len == 4 ? mmio_access(vm, write, gpa, val) : 0;
		if (len == 4 && type == KVM_TRACE_MMIO_READ &&
		    virtio_mmio_off(gpa) == VIRTIO_MMIO_INTERRUPT_STATUS)
			irq_status_read(vm, virtio_mmio_base(gpa), val);

		if ((r & 0xff) == MMIO_NOTIFY)
			notify_queue(vm, virtio_mmio_base(gpa), (__u32)r >> 8, 0);
		else
			pci_mmio(vm, write, gpa, len, val);
		sample_pending(vm, PENDING_NOTIFY);
		if (write)
			unexplained_notify(vm, GMA_BUS_MMIO, gpa, len, val);
		scan_pending(vm);
	}
	serve_requests(vm);
	maybe_scan_vm(vm);
	return 0;
}

/* Intel's ioeventfd fast path: a write to a notify address, with no data. */
SEC("tp_btf/kvm_fast_mmio")
int BPF_PROG(kvm_fast_mmio, __u64 gpa)
{
	__u64 vm = current_vm();

	if (!vm)
		return 0;
	unexplained_begin();
	pci_mmio_fast(vm, gpa);
	sample_pending(vm, PENDING_NOTIFY);
	unexplained_notify(vm, GMA_BUS_FAST_MMIO, gpa, 0, 0);
	scan_pending(vm);
	serve_requests(vm);
	maybe_scan_vm(vm);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accessor core over the backend the tracer ships: the host kernel's KVM memslots
 * (kvm_memslot.bpf.h, with its per-CPU slot cache) and the caps the tracer builds it with
 * (GMA_SPAN_MAX as kvm_memslot.bpf.h sets it, GMA_COPY_CAP = GMA_TRACER_FRAG_CAP, as sampler.bpf.h
 * does). accessor_selftest.bpf.c runs the same core over a region table of its own with a
 * span cap of 16; this one answers through a live VM's memslots, on the vCPU thread of the VM
 * the test names, at its next exit (tests/bpf/test_memslot_bpf.c compares every answer with
 * libgma's live-process backend over the same VM).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "accessor_selftest.h"
#include "tracer_maps.h" /* GMA_TRACER_FRAG_CAP */

/* The defines of sampler.bpf.h, which the tracer's programs translate through. */
#define GMA_COPY_CAP GMA_TRACER_FRAG_CAP
#define GMA_TRANSLATE_FN __noinline
#define GMA_KVM_SLOT_CACHE
#include "kvm_memslot.bpf.h"
#include "accessor_selftest.bpf.h" /* the requests, as accessor_selftest.bpf.c answers them */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The VMM whose vCPU threads answer (its tgid), and the request and answer. */
__u32 target_tgid;
struct selftest_req req;
struct selftest_resp resp;
/* what the backend says of the latest copy that failed (enum gma_kvm_fault) */
__u32 fault;
/* the span cap this object was built with, for the test to check against */
const volatile __u32 span_max = GMA_SPAN_MAX;
__u8 buf[GMA_COPY_DST_SIZE];

static __noinline int serve(struct kvm *kvm)
{
	struct gma_backend be = {};
	int err;

	resp.done = 0;
	resp.hva = 0;
	resp.limit = 0;
	err = gma_backend_init(&be, kvm);
	if (err)
		goto out;
	err = selftest_access(&be, &req, &resp, buf);
	fault = be.fault;
out:
	resp.err = err;
	resp.seq = req.seq;
	return 0;
}

static __always_inline int on_vcpu(struct kvm_vcpu *vcpu)
{
	if (bpf_get_current_pid_tgid() >> 32 != target_tgid || req.seq == resp.seq || !vcpu)
		return 0;
	return serve(BPF_CORE_READ(vcpu, kvm));
}

/*
 * Two tracepoints that carry the vCPU: kvm_entry fires on every entry where the CPU runs the
 * guest (hardware virtualization, the vmtest VMs), kvm_emulate_insn on each instruction KVM
 * emulates (every exit of the demo guest where KVM emulates the CPU, this machine's host).
 */
SEC("tp_btf/kvm_entry")
int BPF_PROG(memslot_selftest_entry, struct kvm_vcpu *vcpu)
{
	return on_vcpu(vcpu);
}

SEC("tp_btf/kvm_emulate_insn")
int BPF_PROG(memslot_selftest_emulate, struct kvm_vcpu *vcpu)
{
	return on_vcpu(vcpu);
}

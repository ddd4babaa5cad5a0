/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Interrupts the host kernel injects into each VM, and which virtio-mmio device raises which
 * line: the evidence of the health verdicts about interrupts (user/lib/queue_health.c).
 *
 * kvm_set_irq(gsi, level, irq_source_id) fires when a VMM raises a line (KVM_IRQ_LINE, from
 * its own thread) or an irqfd routed to a line is signalled. The VM is the calling thread's,
 * learnt on the vCPU tracepoints (its own vCPU thread, or another thread of the VMM); an
 * injection from a kernel worker (a level-triggered irqfd) names no VM and is not counted.
 *
 * virtio-mmio has no vector register: the line of a device is learnt from its driver, whose
 * handler reads InterruptStatus (VIRTIO_MMIO_INTERRUPT_STATUS). A read that finds bits set
 * keeps, of the device's candidate lines, those raised since its previous read; a read that
 * finds none drops the lines raised since (they were another device's). One candidate left
 * is the device's line; while several are left, userspace drops those other devices are
 * known to raise (user/lib/tracer_health.c).
 *
 * "Since" is exact about when the VMM made its answer, which lies between the read's exit
 * (kvm_mmio READ_UNSATISFIED) and the answer's return (READ, with the value): a line raised
 * in between, after the answer was made (a VMM completes requests while it handles any exit),
 * is in the next read's status, not this one's. So a read with bits set keeps the lines raised
 * since the previous read's exit, and a read with none drops only those raised between the
 * previous answer and its own exit.
 *
 * MSI and MSI-X: kvm_msi_set_irq(address, data) fires in kvm_set_msi_irq(), for KVM_SIGNAL_MSI
 * and for irqfds routed to an MSI (both the atomic and the workqueue path), from the thread
 * that signals: the VMM's (a vCPU or I/O thread, or on 6.4+ a vhost worker of its process);
 * vhost kthreads before 6.4 name no VM and are not counted, as above. Injections are counted
 * per (VM, address, data) in msi_irqs; a virtio-pci queue's vector and the message its MSI-X
 * table entry holds (virtio_pci.bpf.h) lead userspace from the queue to its injections.
 * x86 traces the high half of the address only in KVM's x2APIC format (address_hi carries
 * destination bits there): userspace looks the message up both ways.
 */
#ifndef GMA_INTERRUPTS_BPF_H
#define GMA_INTERRUPTS_BPF_H

#include "virtqueue.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct gma_tracer_vm_irqs);
} vm_irqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct gma_tracer_dev_key);
	__type(value, struct gma_tracer_dev_irq);
} dev_irqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GMA_TRACER_MSI_IRQS_MAX);
	__type(key, struct gma_tracer_msi_irq_key);
	__type(value, struct gma_tracer_msi_irq);
} msi_irqs SEC(".maps");

/* Messages a full msi_irqs could not count. */
__u64 msi_irqs_full;

/* A VM's first record, copied from here (too large for the stack). */
static const struct gma_tracer_vm_irqs vm_irqs_zero;

/* A line raised into VM vm_id. */
__noinline int irq_raised(__u64 vm_id, __u32 gsi)
{
	struct gma_tracer_vm_irqs *v = bpf_map_lookup_elem(&vm_irqs, &vm_id);

	if (!v) {
		bpf_map_update_elem(&vm_irqs, &vm_id, &vm_irqs_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&vm_irqs, &vm_id);
		if (!v)
			return 0;
	}
	if (gsi >= GMA_TRACER_IRQ_GSI_MAX) {
		__sync_fetch_and_add(&v->beyond, 1);
		return 0;
	}
	__sync_fetch_and_add(&v->count[gsi], 1);
	v->last_ns[gsi] = bpf_ktime_get_ns();
	return 0;
}

/* The interrupt state of the virtio-mmio device at base, made on first use; NULL if none. */
static __always_inline struct gma_tracer_dev_irq *dev_irq_get(__u64 vm_id, __u64 base)
{
	struct gma_tracer_dev_key key = { .vm_id = vm_id, .base = base };
	struct gma_tracer_dev_irq fresh = { .gsi = -1 }, *d;

	if (!bpf_map_lookup_elem(&devices, &key))
		return NULL; /* not a virtio-mmio window the transport knows */
	d = bpf_map_lookup_elem(&dev_irqs, &key);
	if (!d) {
		bpf_map_update_elem(&dev_irqs, &key, &fresh, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&dev_irqs, &key);
	}
	return d;
}

/* 1 when v is not 0, without a branch (each would double the paths the verifier follows). */
static __always_inline __u64 nonzero(__u64 v)
{
	return (v | -v) >> 63;
}

/* The index of the one bit set in x: BPF has no count-trailing-zeros, and a loop costs 64 rounds. */
static __always_inline __u32 bit_index(__u64 x)
{
	return nonzero(x & 0xffffffff00000000ULL) << 5 | nonzero(x & 0xffff0000ffff0000ULL) << 4 |
	       nonzero(x & 0xff00ff00ff00ff00ULL) << 3 | nonzero(x & 0xf0f0f0f0f0f0f0f0ULL) << 2 |
	       nonzero(x & 0xccccccccccccccccULL) << 1 | nonzero(x & 0xaaaaaaaaaaaaaaaaULL);
}

/* The guest's read of InterruptStatus exits to the VMM: when the read was made. */
__noinline int irq_status_exit(__u64 vm_id, __u64 base)
{
	struct gma_tracer_dev_irq *d = dev_irq_get(vm_id, base);

	if (d)
		d->exit_ns = bpf_ktime_get_ns();
	return 0;
}

/* The VMM answered the guest's read of InterruptStatus with status: narrow its lines down. */
__noinline int irq_status_read(__u64 vm_id, __u64 base, __u32 status)
{
	struct gma_tracer_dev_irq *d = dev_irq_get(vm_id, base);
	struct gma_tracer_vm_irqs *v;
	__u64 raised, exit_ns, now = bpf_ktime_get_ns();

	if (!d)
		return 0;
	/* the exit not seen (the trace began in between): the answer's time */
	exit_ns = d->exit_ns > d->last_read_ns ? d->exit_ns : now;
	/*
	 * Accumulated in the map value, not a register: the verifier then sees an unknown
	 * scalar at each loop head and merges the paths instead of following 2^64 of them.
	 */
	d->raised = 0;
	d->unset = 0;
	v = bpf_map_lookup_elem(&vm_irqs, &vm_id);
	for (__u32 g = 0; v && g < GMA_TRACER_IRQ_GSI_MAX; g++) {
		__u64 t = v->last_ns[g];

		if (t && t > d->read_exit_ns)
			d->raised |= 1ULL << g;
		if (t && t > d->last_read_ns && t <= exit_ns)
			d->unset |= 1ULL << g;
	}
	raised = d->raised;
	if (status) {
		/* its line is among those raised since its last read; none: start over */
		__u64 c = (d->candidates ? d->candidates : ~0ULL) & raised;

		d->candidates = c ? c : raised;
	} else if (d->candidates) {
		d->candidates &= ~d->unset;
	}
	/* exactly one candidate: that is its line */
	if (d->candidates && !(d->candidates & (d->candidates - 1)))
		d->gsi = bit_index(d->candidates);
	d->read_exit_ns = exit_ns;
	d->last_read_ns = now;
	d->reads++;
	return 0;
}

/* The thread's VM: a vCPU thread's, else its process's (another thread of the VMM). */
static __always_inline __u64 irq_vm(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	__u64 *kvm;

	if (!traced_process())
		return 0;
	kvm = bpf_map_lookup_elem(&vcpu_vm, &tid);
	if (!kvm)
		kvm = bpf_map_lookup_elem(&tgid_vm, &tgid);
	return kvm ? *kvm : 0;
}

/* Optional: userspace turns it off where the kernel lacks the tracepoint. */
SEC("tp_btf/kvm_set_irq")
int BPF_PROG(kvm_set_irq, unsigned int gsi, int level, int irq_source_id)
{
	__u64 vm = irq_vm();

	if (vm && level == 1)
		irq_raised(vm, gsi);
	return 0;
}

/* An MSI (address, data) injected into VM vm_id. */
__noinline int msi_raised(__u64 vm_id, __u64 address, __u64 data)
{
	struct gma_tracer_msi_irq_key k = { .vm_id = vm_id,
					    .address = address,
					    .data = (__u32)data };
	static const struct gma_tracer_msi_irq fresh;
	struct gma_tracer_msi_irq *m = bpf_map_lookup_elem(&msi_irqs, &k);

	if (!m) {
		if (bpf_map_update_elem(&msi_irqs, &k, &fresh, BPF_NOEXIST) == -E2BIG)
			__sync_fetch_and_add(&msi_irqs_full, 1);
		m = bpf_map_lookup_elem(&msi_irqs, &k);
		if (!m)
			return 0;
	}
	__sync_fetch_and_add(&m->count, 1);
	m->last_ns = bpf_ktime_get_ns();
	return 0;
}

/* Optional too: userspace turns it off where the kernel lacks it or its arguments differ. */
SEC("tp_btf/kvm_msi_set_irq")
int BPF_PROG(kvm_msi_set_irq, __u64 address, __u64 data)
{
	__u64 vm = irq_vm();

	if (vm)
		msi_raised(vm, address, data);
	return 0;
}

#endif /* GMA_INTERRUPTS_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Notifies nobody explains: a guest write to an address the VMM registered with KVM_IOEVENTFD
 * (a VirtIO notify address, whatever the VMM) that no queue the tracer knows accounts for,
 * because the device was set up before the trace began and no layout was given. Without
 * this such notifies would pass unseen; they are counted by (VM, bus, address, value) for
 * userspace to report with what to do. The registrations come from the loader (the VM
 * lister reads them from struct kvm), refreshed while the trace runs.
 *
 * A tracepoint program brackets its transport: unexplained_begin() before it, and after the
 * notify it may have led to was sampled, unexplained_notify(): a notify_begin() in between
 * that found the queue's layout explains the write. A transport cannot decode a notify to a
 * PCI function whose BARs it did not see being set up, even when its queues were given
 * (--queue, QMP): a write the transports left undecoded is taken as a notify of such a
 * queue when one has the index the guest wrote (the low 16 bits: the queue index, also with
 * VIRTIO_F_NOTIFICATION_DATA; any such queue for a fast MMIO write, which has no value), and
 * the VM's queues are looked at at once so its chains are sampled now. A rule, not a guess
 * from which ring moved: a look at the rings from another exit may already have taken that
 * move. A notify of a queue not given is then missed when a given one shares its index.
 */
#ifndef GMA_IOEVENTFD_BPF_H
#define GMA_IOEVENTFD_BPF_H

#include "virtqueue.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GMA_TRACER_IOEVENTFDS_MAX);
	__type(key, struct gma_tracer_ioeventfd_key);
	__type(value, struct gma_tracer_ioeventfd_val);
} ioeventfds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GMA_TRACER_UNEXPLAINED_MAX);
	__type(key, struct gma_tracer_unexplained_key);
	__type(value, struct gma_tracer_unexplained_val);
} unexplained SEC(".maps");

_Static_assert(GMA_TRACER_QUEUES_MAX <= 64, "a queue index is a bit of given_pci_queues");

/* Per VM: bit q set when a queue of index q was given for a PCI function (the loader). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u64);
} given_pci_queues SEC(".maps");

/* Unexplained notifies not counted in the map because it was full. */
__u64 unexplained_overflow;

static __always_inline void unexplained_begin(void)
{
	__u32 zero = 0;
	struct notify_scratch *ns = bpf_map_lookup_elem(&notify_scratch, &zero);

	if (ns)
		ns->queue_known = 0;
}

/* Whether the write at addr on bus hit a registration and no decoded notify explained it. */
__noinline int unexplained_candidate(__u64 vm_id, __u32 bus, __u64 addr)
{
	struct gma_tracer_ioeventfd_key k = { .vm_id = vm_id, .addr = addr, .bus = bus };
	struct notify_scratch *ns;
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(&ioeventfds, &k))
		return 0;
	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	return !ns || !ns->queue_known;
}

/*
 * Counts a write of len bytes (0: a fast MMIO write, no value) at addr on bus when it hits a
 * registration and no known queue explained it. Global: verified once, its frame off the
 * transports' call chains.
 */
__noinline int unexplained_check(__u64 vm_id, __u32 bus, __u64 addr, __u32 len, __u64 val)
{
	struct gma_tracer_ioeventfd_key k = { .vm_id = vm_id, .addr = addr, .bus = bus };
	struct gma_tracer_unexplained_key uk = { .vm_id = vm_id, .addr = addr, .bus = bus };
	struct gma_tracer_unexplained_val nv = {};
	struct gma_tracer_unexplained_val *v;
	struct gma_tracer_ioeventfd_val *reg;
	struct notify_scratch *ns;
	__u32 zero = 0;

	reg = bpf_map_lookup_elem(&ioeventfds, &k);
	if (!reg)
		return 0;
	/* KVM signals a registration of another width only as an ordinary exit: still a notify */
	ns = bpf_map_lookup_elem(&notify_scratch, &zero);
	if (ns && ns->queue_known)
		return 0;
	if (len)
		uk.data = val;
	else if (!(reg->flags & (GMA_TRACER_IOEVENTFD_WILDCARD | GMA_TRACER_IOEVENTFD_MULTI)))
		uk.data = reg->datamatch; /* the one registration there says which queue */
	else
		uk.data = GMA_TRACER_UNEXPLAINED_NO_DATA;
	nv.last_ns = bpf_ktime_get_ns();
	v = bpf_map_lookup_elem(&unexplained, &uk);
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		v->last_ns = nv.last_ns;
		return 1;
	}
	nv.count = 1;
	nv.first_ns = nv.last_ns;
	nv.pid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_update_elem(&unexplained, &uk, &nv, BPF_NOEXIST))
		return 1;
	/* another CPU made it first, or the map is full */
	v = bpf_map_lookup_elem(&unexplained, &uk);
	if (v)
		__sync_fetch_and_add(&v->count, 1);
	else
		__sync_fetch_and_add(&unexplained_overflow, 1);
	return 1;
}

/*
 * Whether a queue with index q was given for a PCI function of the VM (any when q is ~0): a
 * notify the transport could not decode may be its.
 */
static __always_inline bool given_pci_queue(__u64 vm_id, __u32 q)
{
	__u64 *bits = bpf_map_lookup_elem(&given_pci_queues, &vm_id);

	if (!bits)
		return false;
	if (q == ~0u)
		return *bits != 0;
	return q < GMA_TRACER_QUEUES_MAX && (*bits >> q & 1);
}

/*
 * After the transport and the notify it decoded, if any: a write to a registered notify
 * address nothing explained yet is a given PCI queue's (see the top of this file), sampled
 * now by a look at the VM's queues, or counted. At the program's top level, as the looks of
 * maybe_scan_vm().
 */
static __always_inline void unexplained_notify(__u64 vm_id, __u32 bus, __u64 addr, __u32 len,
					       __u64 val)
{
	struct gma_tracer_vm_devs *v;

	if (!unexplained_candidate(vm_id, bus, addr))
		return;
	if (!given_pci_queue(vm_id, len ? (__u16)val : ~0u)) {
		unexplained_check(vm_id, bus, addr, len, val);
		return;
	}
	v = bpf_map_lookup_elem(&vm_devs, &vm_id);
	for (__u32 i = 0; v && i < GMA_TRACER_VM_DEVS_MAX; i++) {
		if (i >= v->n)
			break;
		scan_device(vm_id, v->bases[i]);
	}
	sample_pending(vm_id, PENDING_SILENT);
}

#endif /* GMA_IOEVENTFD_BPF_H */

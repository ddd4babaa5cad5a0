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
 * notify it may have led to was sampled, unexplained_check(): a notify_begin() in between
 * that found the queue's layout explains the write.
 */
#ifndef GMA_IOEVENTFD_BPF_H
#define GMA_IOEVENTFD_BPF_H

#include "virtqueue.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOEVENTFDS_MAX);
	__type(key, struct ioeventfd_key);
	__type(value, struct ioeventfd_val);
} ioeventfds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UNEXPLAINED_MAX);
	__type(key, struct unexplained_key);
	__type(value, struct unexplained_val);
} unexplained SEC(".maps");

/* Unexplained notifies not counted in the map because it was full. */
__u64 unexplained_overflow;

static __always_inline void unexplained_begin(void)
{
	__u32 zero = 0;
	struct notify_scratch *ns = bpf_map_lookup_elem(&notify_scratch, &zero);

	if (ns)
		ns->queue_known = 0;
}

/*
 * Counts a write of len bytes (0: a fast MMIO write, no value) at addr on bus when it hits a
 * registration and no known queue explained it. Global: verified once, its frame off the
 * transports' call chains.
 */
__noinline int unexplained_check(__u64 vm_id, __u32 bus, __u64 addr, __u32 len, __u64 val)
{
	struct ioeventfd_key k = { .vm_id = vm_id, .addr = addr, .bus = bus };
	struct unexplained_key uk = { .vm_id = vm_id, .addr = addr, .bus = bus };
	struct unexplained_val nv = {};
	struct unexplained_val *v;
	struct ioeventfd_val *reg;
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
	else if (!(reg->flags & (IOEVENTFD_WILDCARD | IOEVENTFD_MULTI)))
		uk.data = reg->datamatch; /* the one registration there says which queue */
	else
		uk.data = UNEXPLAINED_NO_DATA;
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

#endif /* GMA_IOEVENTFD_BPF_H */

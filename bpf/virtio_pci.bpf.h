/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The virtio-pci transport: follows the guest's configuration space accesses (ports
 * 0xCF8/0xCFC, kvm_pio; an ECAM window, kvm_mmio) to learn each VirtIO PCI function, its
 * BARs and capabilities; then its common configuration and notify area (kvm_mmio,
 * kvm_fast_mmio) or, for legacy and transitional devices, its I/O BAR (kvm_pio). Devices are
 * keyed GMA_PCI_BASE(bus, dev, fn) in the devices map, so the rest of the tracer
 * (virtqueue.bpf.h) samples them as it samples virtio-mmio ones. The register rules are pure
 * code in virtio_pci_regs.h and the headers it lists; this file holds the maps and lookups.
 *
 * A function is found when the guest reads its vendor id (PCI_VENDOR_VIRTIO), as every
 * driver does at enumeration, through 0xCF8/0xCFC or ECAM: both go to pci_config(). The ECAM
 * window of a VM is learnt from the q35 host bridge's PCIEXBAR when the firmware programs it
 * (traced from boot), or given by userspace for a VM traced late or another VMM (gma-trace
 * --ecam, QMP): per VM in pci_vms, or for every VM of the traced process in ecam_default.
 *
 * MSI-X: the table entries the guest writes into a function's BAR are kept in msix_entries
 * (its queues' vectors are in pci_fn), for userspace to map a queue to the message the host
 * kernel injects for it (interrupts.bpf.h).
 */
#ifndef GMA_VIRTIO_PCI_BPF_H
#define GMA_VIRTIO_PCI_BPF_H

#include "virtqueue.bpf.h"
#include "virtio_pci_regs.h"

/* The BAR sizes a memory access is looked up with: 4 KiB .. 16 MiB, naturally aligned. */
#define PCI_MEM_BAR_ORDER_MIN 12
#define PCI_MEM_BAR_ORDER_MAX 24
/* I/O BARs: 32 .. 256 ports. */
#define PCI_IO_BAR_ORDER_MIN 5
#define PCI_IO_BAR_ORDER_MAX 8

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct gma_tracer_dev_key);
	__type(value, struct gma_tracer_pci_fn);
} pci_fns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1536);
	__type(key, struct gma_tracer_pci_bar_key);
	__type(value, struct gma_tracer_pci_bar_val);
} pci_bars SEC(".maps");

/* Per VM: 0xCF8 and the ECAM window; present once the VM has shown PCI or been given it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct gma_tracer_pci_vm);
} pci_vms SEC(".maps");

/* MSI-X table entries as the guest wrote them, by (VM, function, vector). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GMA_TRACER_MSIX_ENTRIES_MAX);
	__type(key, struct gma_tracer_msix_msg_key);
	__type(value, struct gma_tracer_msix_msg);
} msix_entries SEC(".maps");

/* Entries a full msix_entries could not take: a guest programming vectors beyond its cap. */
__u64 msix_entries_full;

/* The ECAM window of every VM of the traced process without one of its own (buses 0: none). */
struct gma_tracer_pci_ecam ecam_default;

const struct gma_tracer_pci_fn empty_fn;

/* The VM's PCI state; created (with ecam_default's window) when create says so. */
static __always_inline struct gma_tracer_pci_vm *pci_vm_get(__u64 vm_id, bool create)
{
	struct gma_tracer_pci_vm *pv = bpf_map_lookup_elem(&pci_vms, &vm_id), init = {};

	if (pv || !create)
		return pv;
	init.ecam.base = ecam_default.base;
	init.ecam.buses = ecam_default.buses;
	bpf_map_update_elem(&pci_vms, &vm_id, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&pci_vms, &vm_id);
}

/* The BARs of function key as pci_bars entries: the stale ones removed, the current added. */
static __noinline void register_bars(__u64 vm_id, __u64 key, struct gma_tracer_pci_fn *f)
{
	struct gma_tracer_pci_bar_key k = { .vm_id = vm_id };
	struct gma_tracer_pci_bar_val v = { .base = key };

	for (__u32 i = 0; i < GMA_TRACER_PCI_BARS; i++) {
		__u64 size = pci_bar_size(f, i);

		if (f->bar_registered[i] && (f->bar_registered[i] != f->bar_addr[i] || !size)) {
			k.addr = f->bar_registered[i];
			k.io = f->bar_registered_io[i];
			bpf_map_delete_elem(&pci_bars, &k);
			f->bar_registered[i] = 0;
		}
		if (!f->bar_addr[i] || !size || f->bar_registered[i] == f->bar_addr[i])
			continue;
		k.addr = f->bar_addr[i];
		k.io = f->bar_io[i];
		v.size = size;
		v.bar = i;
		if (!bpf_map_update_elem(&pci_bars, &k, &v, BPF_ANY)) {
			f->bar_registered[i] = f->bar_addr[i];
			f->bar_registered_io[i] = f->bar_io[i];
		}
	}
}

/* The device of a VirtIO function, created on first sight with its type and interface. */
static __always_inline struct gma_tracer_virtio_dev *pci_device(__u64 vm_id, __u64 key,
								struct gma_tracer_pci_fn *f)
{
	struct gma_tracer_dev_key dk = { .vm_id = vm_id, .base = key };
	struct gma_tracer_virtio_dev *dev = bpf_map_lookup_elem(&devices, &dk);
	__u32 type = pci_virtio_type(f);

	if (!dev) {
		bpf_map_update_elem(&devices, &dk, &empty_dev, BPF_NOEXIST);
		dev = bpf_map_lookup_elem(&devices, &dk);
		if (!dev)
			return NULL;
		remember_device(vm_id, key);
	}
	if (dev->device_id != type || !dev->version) {
		dev->device_id = type;
		dev->version = pci_virtio_version(f);
		emit_device(vm_id, key, dev);
	}
	return dev;
}

/* What an access to a device asks for: reports, a look at the used rings, a sample. */
static __always_inline void pci_act(__u64 vm_id, __u64 key, struct gma_tracer_virtio_dev *dev,
				    enum mmio_action act, __u32 q)
{
	switch (act) {
	case MMIO_NOTIFY:
		set_pending(PENDING_NOTIFY, key, q); /* sampled at the program's top level */
		break;
	case MMIO_SCAN_USED:
		set_pending(PENDING_SCAN, key, 0); /* looked at by the caller */
		break;
	case MMIO_DEVICE_CHANGED:
		emit_device(vm_id, key, dev);
		break;
	case MMIO_QUEUE_READY:
		emit_queue(vm_id, key, q, dev, &dev->q[q & (GMA_TRACER_QUEUES_MAX - 1)]);
		break;
	case MMIO_NONE:
		break;
	}
}

/* BPF calls take 5 arguments: a configuration access's register, width and direction in one. */
#define PCI_CFG_ACC(reg, size, write) ((reg) | (size) << 16 | (__u32) !!(write) << 24)

/*
 * A configuration space access of function key (acc: PCI_CFG_ACC), with the value written or
 * read: through 0xCFC-0xCFF at the address latched in 0xCF8, or through ECAM.
 */
static __noinline int pci_config(__u64 vm_id, __u64 key, __u32 acc, __u32 val)
{
	struct gma_tracer_dev_key dk = { .vm_id = vm_id, .base = key };
	__u32 reg = acc & 0xffff, size = (acc >> 16) & 0xff;
	bool write = acc >> 24;
	struct gma_tracer_pci_vm *pv;
	struct gma_tracer_pci_fn *f;

	if (key == GMA_PCI_BASE(0, 0, 0)) {
		/* the host bridge's place: a q35 one says where ECAM is */
		pv = pci_vm_get(vm_id, false);
		if (pv)
			pci_host_bridge_access(pv, reg, size, val, write);
	}
	f = bpf_map_lookup_elem(&pci_fns, &dk);
	if (!f) {
		/* a VirtIO function: its vendor id read at enumeration */
		if (write || reg != 0 || (val & 0xffff) != PCI_VENDOR_VIRTIO)
			return 0;
		bpf_map_update_elem(&pci_fns, &dk, &empty_fn, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&pci_fns, &dk);
		if (!f)
			return 0;
	}
	pci_config_access(f, reg, size, val, write);
	register_bars(vm_id, dk.base, f);
	if (pci_is_virtio(f))
		pci_device(vm_id, dk.base, f);
	return 0;
}

/* The BAR of a virtio-pci function holding addr (memory or I/O), or NULL. */
static __always_inline struct gma_tracer_pci_bar_val *pci_bar_at(__u64 vm_id, __u64 addr, bool io,
								 __u64 *bar_base)
{
	struct gma_tracer_pci_bar_key k = { .vm_id = vm_id, .io = io };
	__u32 lo = io ? PCI_IO_BAR_ORDER_MIN : PCI_MEM_BAR_ORDER_MIN;
	__u32 hi = io ? PCI_IO_BAR_ORDER_MAX : PCI_MEM_BAR_ORDER_MAX;
	struct gma_tracer_pci_bar_val *v;

	for (__u32 order = PCI_IO_BAR_ORDER_MIN; order <= PCI_MEM_BAR_ORDER_MAX; order++) {
		if (order < lo || order > hi)
			continue;
		k.addr = addr & ~((1ULL << order) - 1);
		v = bpf_map_lookup_elem(&pci_bars, &k);
		if (v && addr - k.addr < v->size) {
			*bar_base = k.addr;
			return v;
		}
	}
	return NULL;
}

/* A guest write of word (PCI_MSIX_ENTRY_*) of vector's entry in function key's MSI-X table. */
static __noinline int pci_msix_write(__u64 vm_id, __u64 key, __u32 vector, __u32 word, __u32 val)
{
	struct gma_tracer_msix_msg_key k = { .vm_id = vm_id, .base = key, .vector = vector };
	static const struct gma_tracer_msix_msg fresh;
	struct gma_tracer_msix_msg *e = bpf_map_lookup_elem(&msix_entries, &k);

	if (!e) {
		if (bpf_map_update_elem(&msix_entries, &k, &fresh, BPF_NOEXIST) == -E2BIG)
			__sync_fetch_and_add(&msix_entries_full, 1);
		e = bpf_map_lookup_elem(&msix_entries, &k);
		if (!e)
			return 0;
	}
	pci_msix_entry_write(e, word, val);
	return 0;
}

/*
 * A port access of a VM with PCI: 0xCF8/0xCFC configuration, or a legacy I/O BAR's
 * registers. A notify is left in the PENDING_NOTIFY slot for the caller.
 */
__noinline int pci_pio(__u64 vm_id, __u32 write, __u32 port, __u32 size, __u32 val)
{
	struct gma_tracer_dev_key dk = { .vm_id = vm_id };
	struct gma_tracer_pci_bar_val *bar;
	struct gma_tracer_virtio_dev *dev;
	__u64 bar_base = 0;
	__u32 q = 0;

	struct gma_tracer_pci_vm *pv;
	struct gma_tracer_pci_fn *f;
	__u32 reg;

	if (port == PCI_CONFIG_ADDRESS && size == 4) {
		pv = write ? pci_vm_get(vm_id, true) : NULL;
		if (pv)
			pv->cf8 = val;
		return 0;
	}
	pv = pci_vm_get(vm_id, false);
	if (!pv)
		return 0; /* no PCI seen in this VM */
	if (port >= PCI_CONFIG_DATA && port < PCI_CONFIG_DATA + 4) {
		if (!pci_cf8_decode(pv->cf8, &dk.base, &reg))
			return 0;
		return pci_config(vm_id, dk.base,
				  PCI_CFG_ACC(reg + port - PCI_CONFIG_DATA, size, write), val);
	}
	bar = pci_bar_at(vm_id, port, true, &bar_base);
	if (!bar)
		return 0;
	dk.base = bar->base;
	dev = bpf_map_lookup_elem(&devices, &dk);
	if (!dev)
		return 0;
	f = bpf_map_lookup_elem(&pci_fns, &dk);
	if (f)
		virtio_pci_legacy_msix_access(f, dev, port - bar_base, size, val, write);
	pci_act(vm_id, dk.base, dev, virtio_pci_legacy_access(dev, port - bar_base, val, write, &q),
		q);
	return 0;
}

/* Whether offset off of BAR bar is in the function's notify area. */
static __always_inline bool pci_in_notify_area(const struct gma_tracer_pci_fn *f, __u32 bar,
					       __u64 off)
{
	return f->notify.valid && f->notify.bar == bar && off >= f->notify.off &&
	       off - f->notify.off < f->notify.len;
}

/*
 * A write at offset off of a notify area (len bytes of val; 0: Intel's fast path, no data):
 * the queue is left in the PENDING_NOTIFY slot for the caller.
 */
static __always_inline void pci_notify(const struct gma_tracer_pci_fn *f, __u64 key, __u64 off,
				       __u32 len, __u32 val)
{
	/* drivers write the queue index; the fast path has only the address */
	int nq = virtio_pci_notify_queue(f, off - f->notify.off);

	if (len >= 2 && (val & 0xffff) < GMA_TRACER_QUEUES_MAX)
		nq = val & 0xffff;
	if (nq >= 0)
		set_pending(PENDING_NOTIFY, key, nq);
}

/*
 * Intel's ioeventfd fast path: a write with no data at gpa, an address KVM has as an
 * ioeventfd's, so only a notify area (not a configuration access: pci_mmio() would have
 * kvm_fast_mmio verify its configuration paths again, for nothing).
 */
__noinline int pci_mmio_fast(__u64 vm_id, __u64 gpa)
{
	struct gma_tracer_dev_key dk = { .vm_id = vm_id };
	struct gma_tracer_pci_bar_val *bar;
	__u64 bar_base = 0;
	struct gma_tracer_pci_fn *f;

	if (!pci_vm_get(vm_id, false))
		return 0; /* no PCI seen in this VM */
	bar = pci_bar_at(vm_id, gpa, false, &bar_base);
	if (!bar)
		return 0;
	dk.base = bar->base;
	f = bpf_map_lookup_elem(&pci_fns, &dk);
	if (f && bpf_map_lookup_elem(&devices, &dk) &&
	    pci_in_notify_area(f, bar->bar, gpa - bar_base))
		pci_notify(f, dk.base, gpa - bar_base, 0, 0);
	return 0;
}

/*
 * A memory access of a VM with PCI, of len bytes (1, 2 or 4): a configuration access through the VM's ECAM window, or a modern function's common
 * configuration or notify area. ECAM reads come with their value: x86 KVM traces a read
 * twice, KVM_TRACE_MMIO_READ_UNSATISFIED with no value when it exits to the VMM, then
 * KVM_TRACE_MMIO_READ with the VMM's answer when the vCPU runs again and the emulator
 * completes the instruction (read_prepare() in 6.1, emulator_read_write() later); the
 * caller passes only the second.
 */
__noinline int pci_mmio(__u64 vm_id, __u32 write, __u64 gpa, __u32 len, __u32 val)
{
	struct gma_tracer_dev_key dk = { .vm_id = vm_id };
	struct gma_tracer_pci_bar_val *bar;
	struct gma_tracer_virtio_dev *dev;
	struct gma_tracer_pci_fn *f;
	struct gma_tracer_pci_vm *pv;
	__u64 bar_base = 0, off;
	__u32 q = 0, reg, vector, word;

	pv = pci_vm_get(vm_id, ecam_default.buses != 0);
	if (!pv)
		return 0; /* no PCI seen in this VM */
	if (pci_ecam_decode(&pv->ecam, gpa, len, &dk.base, &reg))
		return pci_config(vm_id, dk.base, PCI_CFG_ACC(reg, len, write), val);
	bar = pci_bar_at(vm_id, gpa, false, &bar_base);
	if (!bar)
		return 0;
	dk.base = bar->base;
	f = bpf_map_lookup_elem(&pci_fns, &dk);
	dev = bpf_map_lookup_elem(&devices, &dk);
	if (!f || !dev)
		return 0;
	off = gpa - bar_base;
	if (pci_in_notify_area(f, bar->bar, off)) {
		if (write)
			pci_notify(f, dk.base, off, len, val);
		return 0;
	}
	if (pci_msix_table_decode(f, bar->bar, off, len, &vector, &word)) {
		if (write)
			pci_msix_write(vm_id, dk.base, vector, word, val);
		return 0;
	}
	if (f->common.valid && f->common.bar == bar->bar && off >= f->common.off &&
	    off - f->common.off < f->common.len && len && len <= 4)
		pci_act(vm_id, dk.base, dev,
			virtio_pci_common_access(f, dev, off - f->common.off, len, val, write, &q),
			q);
	return 0;
}

#endif /* GMA_VIRTIO_PCI_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What tracer.bpf.c and libgma's loader (user/lib/tracer*.c) share: the key and value layouts
 * of the tracer's maps, which the loader fills for queues the guest set up before tracing
 * began and reads back, one definition each, named in gma's namespace at the source. It is
 * installed as <gma/tracer_maps.h> for programs that embed the raw skeleton (its read-only
 * data embeds some of these types). The caps are in <gma/tracer_caps.h>; records, the
 * programs' output, in <gma/record.h>.
 */
#ifndef GMA_TRACER_MAPS_H
#define GMA_TRACER_MAPS_H

#include <gma/tracer_caps.h>

/* What the kernel knows of one queue. */
struct gma_tracer_vq_state {
	__u64 desc;
	__u64 driver;
	__u64 device;
	__u32 num;
	__u32 flags; /* GMA_QUEUE_* */
	__u16 last_avail;
	__u16 last_used;
	__u8 avail_known; /* last_avail is a real observation */
	__u8 used_known;
	__u16 pad;
};

/*
 * One VirtIO device of one VM, whichever transport found it, keyed by (vm_id, base): a
 * virtio-mmio window's guest physical base, or GMA_PCI_BASE() of a PCI function. The
 * register selectors are the transport's view of the device (both transports have a queue
 * and a feature selector); the legacy fields are virtio-mmio's.
 */
struct gma_tracer_virtio_dev {
	__u32 device_id;
	__u32 version;
	__u32 status;
	__u32 queue_sel;
	__u32 dfeatures_sel;
	__u32 guest_page_size; /* legacy */
	__u32 queue_align; /* legacy: QueueAlign, used when QueuePFN is written */
	__u32 pad;
	__u64 driver_features;
	struct gma_tracer_vq_state q[GMA_TRACER_QUEUES_MAX];
};

/* A BAR-relative structure of a virtio-pci function, as its vendor capability says. */
struct gma_tracer_pci_cap_loc {
	__u32 off;
	__u32 len;
	__u8 bar;
	__u8 valid;
	__u16 pad;
};

#define GMA_TRACER_PCI_CFG_SIZE 256
#define GMA_TRACER_PCI_BARS 6

/*
 * One PCI function of one VM, keyed like its device (base GMA_PCI_BASE): the transport's
 * state. cfg is the standard configuration space as the guest last read or wrote each byte.
 */
struct gma_tracer_pci_fn {
	__u8 cfg[GMA_TRACER_PCI_CFG_SIZE];
	__u64 bar_addr[GMA_TRACER_PCI_BARS]; /* as programmed and enabled, else 0 */
	__u32 bar_mask[GMA_TRACER_PCI_BARS]; /* read back after all-ones: the size */
	__u8 bar_io[GMA_TRACER_PCI_BARS];
	__u16 vendor;
	__u16 device;
	__u32 sizing; /* bit i: BAR i was written all-ones */
	__u32 notify_mult;
	__u64 noff_known; /* bit q: queue_notify_off[q] was read */
	__u16 queue_notify_off[GMA_TRACER_QUEUES_MAX];
	struct gma_tracer_pci_cap_loc common;
	struct gma_tracer_pci_cap_loc notify;
	__u64 bar_registered
		[GMA_TRACER_PCI_BARS]; /* the pci_bars entries made for it, to undo on a move */
	__u8 bar_registered_io[GMA_TRACER_PCI_BARS];
	__u8 msix_cap; /* where the MSI-X capability is in cfg, 0: none read */
	__u8 config_vector_known;
	struct gma_tracer_pci_cap_loc
		msix_table; /* the MSI-X table: BAR, offset, 16 bytes per vector */
	__u16 config_vector; /* the configuration change vector, as written or read back */
	__u8 vectors_reset; /* a device reset seen: a vector not written since is NO_VECTOR */
	__u8 pad2;
	__u64 vector_known; /* bit q: queue_vector[q] was written or read back */
	__u16 queue_vector[GMA_TRACER_QUEUES_MAX]; /* the MSI-X vector of each queue */
};

/* A BAR of a virtio-pci function mapped at (vm_id, addr): memory or I/O. */
struct gma_tracer_pci_bar_key {
	__u64 vm_id;
	__u64 addr;
	__u32 io;
	__u32 pad;
};

struct gma_tracer_pci_bar_val {
	__u64 base; /* the function's key */
	__u64 size;
	__u32 bar;
	__u32 pad;
};

/*
 * An ECAM (MMCONFIG) window: bus 0's configuration space at guest physical base, buses of
 * 1 MiB each after it. buses 0: no window.
 */
struct gma_tracer_pci_ecam {
	__u64 base;
	__u32 buses;
	__u32 pad;
};

/*
 * Per VM: the virtio-pci transport's configuration mechanisms. Present once the guest wrote
 * 0xCF8, or an ECAM window is known (learnt from the q35 host bridge's PCIEXBAR, or given by
 * userspace: --ecam, QMP).
 */
struct gma_tracer_pci_vm {
	struct gma_tracer_pci_ecam ecam;
	__u32 cf8; /* the configuration address latched in 0xCF8 */
	__u32 host_id; /* 00:00.0's vendor and device IDs as the guest read them */
	__u8 pciexbar[8]; /* the q35 MCH's PCIEXBAR (config 0x60) as the guest wrote it */
};

struct gma_tracer_dev_key {
	__u64 vm_id;
	__u64 base;
};

/* The devices of a VM, so an exit can look for completions without iterating a map. */
#define GMA_TRACER_VM_DEVS_MAX 32

struct gma_tracer_vm_devs {
	__u64 bases[GMA_TRACER_VM_DEVS_MAX];
	__u32 n;
	__u32 pad;
	__u64 last_scan_ns;
};

/*
 * Interrupt injection (interrupts.bpf.h): lines (GSIs) below GMA_TRACER_IRQ_GSI_MAX raised into each VM,
 * and which line each virtio-mmio device raises, learnt from the guest's InterruptStatus
 * reads (a driver's handler reads it first).
 */
#define GMA_TRACER_IRQ_GSI_MAX 64

struct gma_tracer_vm_irqs {
	__u64 count[GMA_TRACER_IRQ_GSI_MAX]; /* kvm_set_irq with level 1 */
	__u64 last_ns[GMA_TRACER_IRQ_GSI_MAX];
	__u64 beyond; /* raises of lines >= GMA_TRACER_IRQ_GSI_MAX: counted, not followed */
};

/* Keyed by struct gma_tracer_dev_key: the line a virtio-mmio device raises. */
struct gma_tracer_dev_irq {
	__u64 candidates; /* bit g: line g may be this device's (0: not started) */
	__u64 last_read_ns; /* the VMM's answer to the guest's last read of InterruptStatus */
	__u64 read_exit_ns; /* that read's exit to the VMM (0: not seen) */
	__u64 exit_ns; /* the exit of the read being answered */
	__s32 gsi; /* the one candidate left, -1 while there are several */
	__u32 reads;
	__u64 raised; /* scratch of the read being handled: lines its value may show */
	__u64 unset; /* scratch: lines its value would show, were they the device's */
};

/*
 * MSI-X (interrupts.bpf.h, virtio_pci.bpf.h): the messages the guest programs into each
 * virtio-pci function's MSI-X table, keyed by (VM, function, vector), and the messages the
 * host kernel injects into each VM (kvm_msi_set_irq), keyed by (VM, address, data). A queue's
 * vector (pci_fn.queue_vector) leads to its message, the message to its injections.
 */
#define GMA_TRACER_MSIX_VECTORS_MAX 2048 /* the largest table Message Control can describe */
#define GMA_TRACER_MSIX_ENTRIES_MAX 4096
#define GMA_TRACER_MSI_IRQS_MAX 1024

struct gma_tracer_msix_msg_key {
	__u64 vm_id;
	__u64 base; /* the function's key, GMA_PCI_BASE */
	__u32 vector;
	__u32 pad;
};

/* An MSI-X table entry as the guest last wrote it (only what the guest wrote is known). */
struct gma_tracer_msix_msg {
	__u32 addr_lo;
	__u32 addr_hi;
	__u32 data;
	__u32 ctrl; /* Vector Control: bit 0 masks the vector */
	__u32 written; /* MSIX_ENTRY_* bits: which of the four words the guest wrote */
	__u32 pad;
};

#define GMA_TRACER_MSIX_ENTRY_ADDR_LO (1u << 0)
#define GMA_TRACER_MSIX_ENTRY_ADDR_HI (1u << 1)
#define GMA_TRACER_MSIX_ENTRY_DATA (1u << 2)
#define GMA_TRACER_MSIX_ENTRY_CTRL (1u << 3)

struct gma_tracer_msi_irq_key {
	__u64 vm_id;
	__u64 address; /* as the tracepoint gives it: the high half only in x2APIC format */
	__u32 data;
	__u32 pad;
};

struct gma_tracer_msi_irq {
	__u64 count;
	__u64 last_ns;
};

/*
 * KVM_IOEVENTFD registrations the loader copies from the VM lister (bpf/kvm_vms.bpf.c), keyed
 * by where a guest write lands: (VM, bus GMA_BUS_*, address). Several registrations at one
 * address (one per queue, datamatch = its index) are one entry marked GMA_TRACER_IOEVENTFD_MULTI.
 */
#define GMA_TRACER_IOEVENTFDS_MAX 4096
#define GMA_TRACER_IOEVENTFD_WILDCARD (1u << 0) /* any value (one registration) */
#define GMA_TRACER_IOEVENTFD_MULTI (1u << 1) /* several registrations, one per datamatch */

struct gma_tracer_ioeventfd_key {
	__u64 vm_id;
	__u64 addr;
	__u32 bus;
	__u32 pad;
};

struct gma_tracer_ioeventfd_val {
	__u64 datamatch; /* of the one registration (not WILDCARD, not MULTI) */
	__u32 len; /* 0: any width */
	__u32 flags; /* IOEVENTFD_* */
};

/*
 * Guest writes to a registered notify address that no known queue explained, counted by
 * (VM, bus, address, value written), GMA_TRACER_UNEXPLAINED_MAX of them. A fast MMIO write
 * carries no value: GMA_TRACER_UNEXPLAINED_NO_DATA.
 */
#define GMA_TRACER_UNEXPLAINED_NO_DATA (~0ULL)

struct gma_tracer_unexplained_key {
	__u64 vm_id;
	__u64 addr;
	__u64 data;
	__u32 bus;
	__u32 pad;
};

struct gma_tracer_unexplained_val {
	__u64 count;
	__u64 first_ns;
	__u64 last_ns;
	__u32 pid;
	__u32 pad;
};

#endif /* GMA_TRACER_MAPS_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What tracer.bpf.c and libgma's loader (user/lib/tracer.c) share: the caps the verifier
 * sees and the loader checks settings against, the settings' defaults, and the map value
 * layouts the loader fills for queues the guest set up before tracing began. One definition
 * each. Records, the public interface, are in include/gma/record.h.
 */
#ifndef GMA_TRACER_H
#define GMA_TRACER_H

/*
 * Compile-time caps: the bounds of the programs' loops and copies. The settings
 * (struct gma_tracer_opts, the .rodata below in tracer.bpf.c) stay within them.
 */
#define FRAG_CAP 4096 /* bytes in one fragment: fragments never cross a host page */
#define SAMPLE_FRAGS_CAP 64 /* fragments in one sample */
#define SNAP_CAP 4096 /* bytes sampled from the start of one buffer */
#define BUFFER_FRAGS_MAX 4 /* fragments of one buffer's sample (memslot or page crossings) */
#define CHAINS_PER_NOTIFY_CAP 32 /* chains walked per notify; the rest are counted */

/* Defaults of the settings. */
#define SNAP_LEN_DEFAULT 64
#define CHAINS_PER_NOTIFY_DEFAULT 16
#define USED_SCAN_US_DEFAULT 1000 /* how often vCPU exits look at used rings */
#define RINGBUF_SIZE_DEFAULT (4u << 20)

/*
 * Queues tracked per device, a power of two: a virtio-serial device with its default 31 ports
 * has 64, a virtio-net device 2 per queue pair and a control queue. A queue past it is
 * reported (its notifies as GMA_ANOM_UNKNOWN_LAYOUT, an import by gma-trace), never traced.
 */
#define QUEUES_MAX 64

/* What the kernel knows of one queue. */
struct vq_state {
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
struct virtio_dev {
	__u32 device_id;
	__u32 version;
	__u32 status;
	__u32 queue_sel;
	__u32 dfeatures_sel;
	__u32 guest_page_size; /* legacy */
	__u32 queue_align; /* legacy: QueueAlign, used when QueuePFN is written */
	__u32 pad;
	__u64 driver_features;
	struct vq_state q[QUEUES_MAX];
};

/* A BAR-relative structure of a virtio-pci function, as its vendor capability says. */
struct pci_cap_loc {
	__u32 off;
	__u32 len;
	__u8 bar;
	__u8 valid;
	__u16 pad;
};

#define PCI_CFG_SIZE 256
#define PCI_BARS 6

/*
 * One PCI function of one VM, keyed like its device (base GMA_PCI_BASE): the transport's
 * state. cfg is the standard configuration space as the guest last read or wrote each byte.
 */
struct pci_fn {
	__u8 cfg[PCI_CFG_SIZE];
	__u64 bar_addr[PCI_BARS]; /* as programmed and enabled, else 0 */
	__u32 bar_mask[PCI_BARS]; /* read back after all-ones: the size */
	__u8 bar_io[PCI_BARS];
	__u16 vendor;
	__u16 device;
	__u32 sizing; /* bit i: BAR i was written all-ones */
	__u32 notify_mult;
	__u64 noff_known; /* bit q: queue_notify_off[q] was read */
	__u16 queue_notify_off[QUEUES_MAX];
	struct pci_cap_loc common;
	struct pci_cap_loc notify;
	__u64 bar_registered[PCI_BARS]; /* the pci_bars entries made for it, to undo on a move */
	__u8 bar_registered_io[PCI_BARS];
	__u8 msix_cap; /* where the MSI-X capability is in cfg, 0: none read */
	__u8 config_vector_known;
	struct pci_cap_loc msix_table; /* the MSI-X table: BAR, offset, 16 bytes per vector */
	__u16 config_vector; /* the configuration change vector, as written or read back */
	__u8 vectors_reset; /* a device reset seen: a vector not written since is NO_VECTOR */
	__u8 pad2;
	__u64 vector_known; /* bit q: queue_vector[q] was written or read back */
	__u16 queue_vector[QUEUES_MAX]; /* the MSI-X vector of each queue */
};

/* A BAR of a virtio-pci function mapped at (vm_id, addr): memory or I/O. */
struct pci_bar_key {
	__u64 vm_id;
	__u64 addr;
	__u32 io;
	__u32 pad;
};

struct pci_bar_val {
	__u64 base; /* the function's key */
	__u64 size;
	__u32 bar;
	__u32 pad;
};

/*
 * An ECAM (MMCONFIG) window: bus 0's configuration space at guest physical base, buses of
 * 1 MiB each after it. buses 0: no window.
 */
struct pci_ecam {
	__u64 base;
	__u32 buses;
	__u32 pad;
};

/*
 * Per VM: the virtio-pci transport's configuration mechanisms. Present once the guest wrote
 * 0xCF8, or an ECAM window is known (learnt from the q35 host bridge's PCIEXBAR, or given by
 * userspace: --ecam, QMP).
 */
struct pci_vm {
	struct pci_ecam ecam;
	__u32 cf8; /* the configuration address latched in 0xCF8 */
	__u32 host_id; /* 00:00.0's vendor and device IDs as the guest read them */
	__u8 pciexbar[8]; /* the q35 MCH's PCIEXBAR (config 0x60) as the guest wrote it */
};

struct dev_key {
	__u64 vm_id;
	__u64 base;
};

/* The devices of a VM, so an exit can look for completions without iterating a map. */
#define VM_DEVS_MAX 32

struct vm_devs {
	__u64 bases[VM_DEVS_MAX];
	__u32 n;
	__u32 pad;
	__u64 last_scan_ns;
};

/*
 * Interrupt injection (interrupts.bpf.h): lines (GSIs) below IRQ_GSI_MAX raised into each VM,
 * and which line each virtio-mmio device raises, learnt from the guest's InterruptStatus
 * reads (a driver's handler reads it first).
 */
#define IRQ_GSI_MAX 64

struct vm_irqs {
	__u64 count[IRQ_GSI_MAX]; /* kvm_set_irq with level 1 */
	__u64 last_ns[IRQ_GSI_MAX];
	__u64 beyond; /* raises of lines >= IRQ_GSI_MAX: counted, not followed */
};

/* Keyed by struct dev_key: the line a virtio-mmio device raises. */
struct dev_irq {
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
#define MSIX_VECTORS_MAX 2048 /* the largest table Message Control can describe */
#define MSIX_ENTRIES_MAX 4096
#define MSI_IRQS_MAX 1024

struct msix_msg_key {
	__u64 vm_id;
	__u64 base; /* the function's key, GMA_PCI_BASE */
	__u32 vector;
	__u32 pad;
};

/* An MSI-X table entry as the guest last wrote it (only what the guest wrote is known). */
struct msix_msg {
	__u32 addr_lo;
	__u32 addr_hi;
	__u32 data;
	__u32 ctrl; /* Vector Control: bit 0 masks the vector */
	__u32 written; /* MSIX_ENTRY_* bits: which of the four words the guest wrote */
	__u32 pad;
};

#define MSIX_ENTRY_ADDR_LO (1u << 0)
#define MSIX_ENTRY_ADDR_HI (1u << 1)
#define MSIX_ENTRY_DATA (1u << 2)
#define MSIX_ENTRY_CTRL (1u << 3)

struct msi_irq_key {
	__u64 vm_id;
	__u64 address; /* as the tracepoint gives it: the high half only in x2APIC format */
	__u32 data;
	__u32 pad;
};

struct msi_irq {
	__u64 count;
	__u64 last_ns;
};

/*
 * KVM_IOEVENTFD registrations the loader copies from the VM lister (bpf/kvm_vms.bpf.c), keyed
 * by where a guest write lands: (VM, bus GMA_BUS_*, address). Several registrations at one
 * address (one per queue, datamatch = its index) are one entry marked IOEVENTFD_MULTI.
 */
#define IOEVENTFDS_MAX 4096
#define IOEVENTFD_WILDCARD (1u << 0) /* any value (one registration) */
#define IOEVENTFD_MULTI (1u << 1) /* several registrations, one per datamatch */

struct ioeventfd_key {
	__u64 vm_id;
	__u64 addr;
	__u32 bus;
	__u32 pad;
};

struct ioeventfd_val {
	__u64 datamatch; /* of the one registration (not WILDCARD, not MULTI) */
	__u32 len; /* 0: any width */
	__u32 flags; /* IOEVENTFD_* */
};

/*
 * Guest writes to a registered notify address that no known queue explained, counted by
 * (VM, bus, address, value written). A fast MMIO write carries no value: UNEXPLAINED_NO_DATA.
 */
#define UNEXPLAINED_MAX 1024
#define UNEXPLAINED_NO_DATA (~0ULL)

struct unexplained_key {
	__u64 vm_id;
	__u64 addr;
	__u64 data;
	__u32 bus;
	__u32 pad;
};

struct unexplained_val {
	__u64 count;
	__u64 first_ns;
	__u64 last_ns;
	__u32 pid;
	__u32 pad;
};

#endif /* GMA_TRACER_H */

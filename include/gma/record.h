/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records gma's BPF programs hand to userspace: through the tracer's ring buffer and through
 * the VM iterator's seq file. One definition, included after vmlinux.h in BPF and after
 * <linux/types.h> in userspace, so only fixed-width types appear.
 *
 * Every record starts with struct gma_rec_hdr. hdr.size is the whole record, header
 * included, a multiple of 8 except for fragments (whose data follows immediately), so a reader
 * can skip types it does not know; a reader rejects a hdr.version it does not know.
 */
#ifndef GMA_RECORD_H
#define GMA_RECORD_H

#ifndef __bpf__
#include <linux/types.h> /* BPF has the types from vmlinux.h */
#endif

#define GMA_REC_VERSION 2

enum gma_rec_type {
	GMA_REC_VM = 1, /* iterator: one VM, followed by its GMA_REC_SLOT records */
	GMA_REC_SLOT = 2, /* iterator: one memslot of address space 0 */
	GMA_REC_FRAGMENT = 3, /* ring buffer: guest bytes of one sample, one memslot at most */
	GMA_REC_SAMPLE_END = 4, /* ring buffer: a sample is complete, with its summary */
	GMA_REC_QUEUE = 5, /* ring buffer: a virtqueue's layout, learnt or changed */
	GMA_REC_NOTIFY = 6, /* ring buffer: the driver notified a queue */
	GMA_REC_CHAIN = 7, /* ring buffer: one descriptor chain made available */
	GMA_REC_USED = 8, /* ring buffer: the device completed chains */
	GMA_REC_DEVICE = 9, /* ring buffer: a virtio-mmio window found, or its status changed */
	GMA_REC_IOEVENTFD = 10, /* iterator: one of a VM's KVM_IOEVENTFD registrations */
};

struct gma_rec_hdr {
	__u16 type; /* enum gma_rec_type */
	__u16 version; /* GMA_REC_VERSION */
	__u32 size; /* whole record, header included */
};

/* vm.flags */
#define GMA_VM_SLOTS_TRUNCATED (1u << 0) /* more slots than the iterator emits */
#define GMA_VM_WALK_INCOMPLETE (1u << 1) /* tree deeper than the walk stack: a subset */
#define GMA_VM_LAYOUT_ARRAY (1u << 2) /* kernel < 5.17: sorted memslots[] array */
/* the ioeventfd list did not lead back to its head within the walk's bound: a subset */
#define GMA_VM_IOEVENTFDS_INCOMPLETE (1u << 3)

struct gma_rec_vm {
	struct gma_rec_hdr hdr;
	/*
	 * The struct kvm address: the key the tracepoint programs use for "which VM this thread
	 * runs", so records from both can be joined. Only root can read either.
	 */
	__u64 vm_id;
	__u32 owner_tgid; /* tgid of the first process found holding the VM fd */
	__s32 creator_pid; /* kvm->userspace_pid: the thread that created the VM */
	__u32 fd; /* the VM fd number in owner_tgid */
	__u32 online_vcpus; /* kvm->online_vcpus */
	__u32 nr_slots; /* slot records that follow */
	__u32 flags; /* GMA_VM_* */
	__u64 generation; /* the memslots' generation: changes whenever a slot does */
	__u32 nr_ioeventfds; /* ioeventfd records that follow the slot records */
	__u32 ioeventfds_more; /* registrations past the iterator's cap: counted, not sent */
};

/* The iterator's cap: ioeventfd records it sends per VM at most (a power of 2). */
#define GMA_VM_IOEVENTFDS_MAX 128

/* Slot flags beyond the uapi KVM_MEM_*: KVM is deleting or moving the slot. */
#define GMA_SLOT_INVALID (1u << 16)

struct gma_rec_slot {
	struct gma_rec_hdr hdr;
	__u64 vm_id;
	__u64 gpa; /* base_gfn << 12 */
	__u64 size; /* npages << 12 */
	__u64 userspace_addr; /* VMM virtual address of gpa */
	__u32 flags; /* KVM_MEM_* (uapi) and GMA_SLOT_INVALID */
	__u16 slot_id; /* low 16 bits of KVM_SET_USER_MEMORY_REGION's slot */
	__u16 as_id; /* its high 16 bits; always 0 in the records emitted today */
};

/* KVM's I/O buses (enum kvm_bus), as struct gma_rec_ioeventfd.bus gives them. */
#define GMA_BUS_MMIO 0
#define GMA_BUS_PIO 1
#define GMA_BUS_VIRTIO_CCW 2
#define GMA_BUS_FAST_MMIO 3 /* a length-0 MMIO registration's second entry (any width) */

/*
 * One KVM_IOEVENTFD registration of a VM, as the kernel keeps it (struct _ioeventfd): a write
 * of `length` bytes (0: any) at addr on bus signals the VMM's eventfd without an exit to it,
 * when the value written is datamatch (or any value when wildcard). VMMs register their
 * VirtIO notify addresses this way, the datamatch being the queue index where the address is
 * shared by a device's queues (virtio-mmio's QueueNotify, legacy virtio-pci's I/O port).
 */
struct gma_rec_ioeventfd {
	struct gma_rec_hdr hdr;
	__u64 vm_id;
	__u64 addr;
	__u64 datamatch; /* 0 when wildcard */
	__u32 length;
	__u8 bus; /* GMA_BUS_* */
	__u8 wildcard;
	__u16 pad;
};

/* What a fragment holds. */
enum gma_frag_status {
	GMA_FRAG_READ = 0, /* data[] holds the guest's bytes */
	GMA_FRAG_UNMAPPED = 1, /* no memslot holds this range (a hole, or past the last) */
	GMA_FRAG_FAULT = 2, /* mapped, but the VMM page could not be read (not resident) */
	GMA_FRAG_FOREIGN_MM = 3, /* sampled from a thread outside the VMM: not readable */
};

/*
 * A piece of a sample: within one memslot, one host page and the fragment cap. Fragments of a
 * sample carry the sample's id and consecutive seq numbers from 0; data[] is present (len
 * bytes) only for GMA_FRAG_READ.
 */
struct gma_rec_fragment {
	struct gma_rec_hdr hdr;
	__u64 vm_id;
	__u64 sample_id;
	__u64 gpa;
	__u32 len;
	__u16 seq;
	__u8 status; /* enum gma_frag_status */
	__u8 pad;
	__u8 data[];
};

/*
 * The last record of a sample. nr_fragments says how many fragments were sent, so a reader
 * knows which were lost in the ring buffer (they also count in the tracer's drop counter).
 * covered < len when the sample hit its fragment cap (err -E2BIG): the rest was not read.
 */
struct gma_rec_sample_end {
	struct gma_rec_hdr hdr;
	__u64 vm_id;
	__u64 sample_id;
	__u64 gpa;
	__u64 ts_ns; /* bpf_ktime_get_ns() when the sample was taken */
	__u32 len;
	__u32 covered;
	__u32 pid; /* VMM tgid */
	__u32 tid; /* the vCPU thread that took the sample */
	__u16 nr_fragments;
	__u16 nr_lost; /* fragments the ring buffer refused */
	__s32 err;
};

/*
 * A sample request from userspace: a slot of the tracer's request map. The first exit of a
 * vCPU thread of `pid` claims it (PENDING -> CLAIMED), samples and marks it DONE; userspace
 * frees it (-> FREE) once it has read the sample.
 */
enum gma_req_state {
	GMA_REQ_FREE = 0,
	GMA_REQ_PENDING = 1,
	GMA_REQ_CLAIMED = 2,
	GMA_REQ_DONE = 3,
};

#define GMA_SAMPLE_REQ_MAX 16

struct gma_sample_req {
	__u32 state; /* enum gma_req_state */
	__u32 pid;
	__u64 sample_id;
	__u64 gpa;
	__u32 len;
	__u32 pad;
};

/* --- VirtIO rings ------------------------------------------------------------------------ */

/*
 * Anomalies of a virtqueue, found in the kernel while walking (the walk stops at the ones
 * that make it unsafe to go on) or in userspace while decoding. A bit mask: one chain or one
 * notify may have several.
 */
enum gma_anomaly {
	GMA_ANOM_DESC_OUT_OF_RANGE = 1u << 0, /* head or next index >= queue size */
	GMA_ANOM_CHAIN_LOOP = 1u << 1, /* a descriptor visited twice */
	GMA_ANOM_CHAIN_TOO_LONG = 1u << 2, /* more descriptors than the queue size */
	GMA_ANOM_NESTED_INDIRECT = 1u << 3, /* an indirect descriptor inside an indirect table */
	GMA_ANOM_INDIRECT_LEN = 1u << 4, /* indirect table length not a multiple of 16 */
	GMA_ANOM_READ_AFTER_WRITE = 1u << 5, /* a device-readable buffer after a writable one */
	GMA_ANOM_BUFFER_UNMAPPED = 1u << 6, /* a buffer (or table) outside guest memory */
	GMA_ANOM_AVAIL_JUMP = 1u << 7, /* avail index moved more than the queue size */
	GMA_ANOM_USED_BACKWARDS = 1u << 8, /* used index went backwards */
	GMA_ANOM_RING_MISALIGNED = 1u << 9, /* a ring area not aligned as the spec requires */
	GMA_ANOM_NOT_READY = 1u << 10, /* notify on a queue that is not ready */
	GMA_ANOM_STUCK = 1u << 11, /* requests in flight, no completion for too long */
	GMA_ANOM_UNKNOWN_LAYOUT = 1u << 12, /* notify on a queue whose layout is not known */
	GMA_ANOM_RING_UNREADABLE = 1u << 13, /* the ring itself could not be read */
	GMA_ANOM_PACKED = 1u << 14, /* packed ring: detected, not decoded */
	GMA_ANOM_CHAIN_TRUNCATED = 1u << 15, /* the walk's cap stopped it: not an error */
	GMA_ANOM_ZERO_LEN = 1u << 16, /* a descriptor of length 0 */
	GMA_ANOM_USED_ID_INVALID = 1u << 17, /* used element id not a head in flight */
	GMA_ANOM_INDIRECT_NEXT = 1u << 18, /* an indirect descriptor with NEXT set */
	GMA_ANOM_HEAD_IN_FLIGHT = 1u << 19, /* a head made available again while in flight */
};

/* The anomaly bits above are 1u << 0 .. 1u << (GMA_ANOM_NR_BITS - 1). */
#define GMA_ANOM_NR_BITS 20

/* Identifies a queue: the VM, the virtio-mmio window (guest physical base), the index. */
struct gma_queue_key {
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 pad;
};

/* queue.flags */
/*
 * A device's key (struct gma_queue_key.base): a virtio-mmio window's guest physical base, or
 * for a PCI function GMA_PCI_BASE(bus, dev, fn). A guest physical address is below 2^52, so
 * the two never collide.
 */
#define GMA_PCI_KEY (1ULL << 63)
#define GMA_PCI_BASE(bus, dev, fn) \
	(GMA_PCI_KEY | (__u64)(bus) << 8 | (__u64)(dev) << 3 | (__u64)(fn))
#define GMA_KEY_IS_PCI(base) (((base)&GMA_PCI_KEY) != 0)

/*
 * A virtio-mmio window as the tracer divides guest physical memory: an access belongs to the
 * window at its address rounded down to a multiple of this, registers at 0x000-0x0ff and the
 * device configuration after them (VirtIO 1.x 4.2.2). The spec fixes no window size; VMMs
 * place windows 0x200-aligned (QEMU, Firecracker, crosvm), so a window's base, the device's
 * key, is a multiple of it.
 */
#define GMA_VIRTIO_MMIO_WINDOW 0x200

/* The largest split-ring queue size the VirtIO spec allows (2.7: Queue Size <= 32768). */
#define GMA_QUEUE_NUM_MAX 32768

#define GMA_QUEUE_READY (1u << 0)
#define GMA_QUEUE_LEGACY (1u << 1) /* legacy (version 1) layout from QueuePFN */
#define GMA_QUEUE_PACKED (1u << 2) /* VIRTIO_F_RING_PACKED negotiated */
#define GMA_QUEUE_FROM_USER (1u << 3) /* layout given by userspace, not learnt */
#define GMA_QUEUE_EVENT_IDX (1u << 4) /* VIRTIO_RING_F_EVENT_IDX negotiated */

struct gma_rec_queue {
	struct gma_rec_hdr hdr;
	struct gma_queue_key key;
	__u64 ts_ns;
	__u64 desc; /* descriptor area */
	__u64 driver; /* driver area (avail ring) */
	__u64 device; /* device area (used ring) */
	__u32 num; /* queue size */
	__u32 device_id;
	__u32 flags; /* GMA_QUEUE_* */
	__u32 pid;
};

struct gma_rec_device {
	struct gma_rec_hdr hdr;
	__u64 vm_id;
	__u64 base;
	__u64 ts_ns;
	__u64 features; /* driver features, as written */
	__u32 device_id;
	__u32 version; /* 1 legacy, 2 modern */
	__u32 status; /* device status register */
	__u32 pid;
};

struct gma_rec_notify {
	struct gma_rec_hdr hdr;
	struct gma_queue_key key;
	__u64 ts_ns;
	__u64 notify_seq; /* per tracer, increasing: chains of this notify carry it */
	__u32 pid;
	__u32 tid;
	__u16 avail_old; /* last avail index seen before this notify */
	__u16 avail_new; /* avail->idx now */
	__u16 used_idx; /* used->idx now */
	__u16 nr_chains; /* chains sent for this notify */
	__u16 nr_skipped; /* new chains past the per-notify cap: counted, not walked */
	__u16 flags; /* GMA_NOTIFY_* */
	__u32 anomalies; /* GMA_ANOM_*: NOT_READY, UNKNOWN_LAYOUT, AVAIL_JUMP, ... */
};

/*
 * The avail index moved and no notify came: a look at the ring (on a vCPU exit, at most every
 * used_scan period) found it. A driver need not notify for every chain (the device's
 * VRING_USED_F_NO_NOTIFY, VIRTIO_RING_F_EVENT_IDX), so busy queues make many chains
 * available this way; they are walked like a notify's.
 */
#define GMA_NOTIFY_SILENT (1u << 0)

/* Descriptors a chain record carries; a longer chain is walked to its end but truncated here. */
#define GMA_CHAIN_DESC_MAX 16

struct gma_desc_rec {
	__u64 addr;
	__u32 len;
	__u16 flags; /* VRING_DESC_F_* as the guest wrote them */
	__u16 next;
	__u16 index; /* in the descriptor table (or the indirect table when in_indirect) */
	__u8 in_indirect;
	__u8 pad;
	__u32 snap_len; /* bytes of this buffer sampled: fragments with seq = position */
};

/*
 * One chain made available. Its buffers' first bytes arrive before it, as fragments whose
 * sample_id is the chain's sample_id and whose seq is the descriptor's position in descs[].
 */
struct gma_rec_chain {
	struct gma_rec_hdr hdr;
	struct gma_queue_key key;
	__u64 ts_ns;
	__u64 notify_seq;
	__u64 sample_id;
	__u64 indirect_addr; /* the indirect table followed, or 0 */
	__u32 indirect_len;
	__u16 avail_idx; /* position in the avail ring (free-running) */
	__u16 head;
	__u16 nr_descs; /* buffers walked (may exceed what descs[] holds); tables apart */
	__u16 nr_recorded; /* entries of descs[] filled */
	__u32 anomalies; /* GMA_ANOM_* */
	__u32 total_len; /* sum of the walked descriptors' lengths */
	__u32 pid; /* VMM tgid */
	struct gma_desc_rec descs[GMA_CHAIN_DESC_MAX];
};

/* Used elements a used record carries. */
#define GMA_USED_ELEM_MAX 16

struct gma_rec_used {
	struct gma_rec_hdr hdr;
	struct gma_queue_key key;
	__u64 ts_ns;
	__u16 used_old;
	__u16 used_new;
	__u16 nr_elems; /* entries of elems[] filled (the rest counted in nr_skipped) */
	__u16 nr_skipped;
	__u32 anomalies;
	__u32 pid;
	struct {
		__u32 id;
		__u32 len;
	} elems[GMA_USED_ELEM_MAX];
};

#endif /* GMA_RECORD_H */

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

#define GMA_REC_VERSION 1

enum gma_rec_type {
	GMA_REC_VM = 1, /* iterator: one VM, followed by its GMA_REC_SLOT records */
	GMA_REC_SLOT = 2, /* iterator: one memslot of address space 0 */
	GMA_REC_FRAGMENT = 3, /* ring buffer: guest bytes of one sample, one memslot at most */
	GMA_REC_SAMPLE_END = 4, /* ring buffer: a sample is complete, with its summary */
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
};

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

#endif /* GMA_RECORD_H */

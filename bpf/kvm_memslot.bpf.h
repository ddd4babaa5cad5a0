/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF backend of the gma accessor core: guest physical -> VMM virtual through the host
 * kernel's own KVM memslots, and copies with bpf_probe_read_user(). Read-only toward the
 * guest: GMA_BACKEND_HAS_WRITE is never defined here.
 *
 * KVM layouts this header relies on (checked against the kernels' BTF where noted):
 *
 * 5.17 .. 6.18 (6.18: this host's vmlinux BTF; 6.1: Debian 12 6.1.0-50 kvm.ko BTF)
 *   struct kvm { struct mm_struct *mm; ...
 *		  struct kvm_memslots __memslots[AS_NUM][2];	inactive/active pairs
 *		  struct kvm_memslots __rcu *memslots[AS_NUM];	the active set per AS
 *		  struct xarray vcpu_array; ... atomic_t online_vcpus; ...
 *		  struct list_head vm_list; ... pid_t userspace_pid; ... }
 *   struct kvm_memslots { u64 generation; atomic_long_t last_used_slot;
 *		  struct rb_root_cached hva_tree; struct rb_root gfn_tree;
 *		  DECLARE_HASHTABLE(id_hash, 7); int node_idx; }
 *   struct kvm_memory_slot { struct hlist_node id_node[2];
 *		  struct interval_tree_node hva_node[2]; struct rb_node gfn_node[2];
 *		  gfn_t base_gfn; unsigned long npages; ...; unsigned long userspace_addr;
 *		  u32 flags; short id; u16 as_id; [6.8+: struct { file, pgoff } gmem] }
 *   Every slot sits in both sets' trees; set k links it through gfn_node[k], k being the
 *   set's node_idx. gfn_tree is keyed by base_gfn, slots never overlap.
 *   AS_NUM is 2 on x86 with SMM (6.1: __memslots[2][2], memslots[2]) and 1 without (6.18
 *   here: KVM_MAX_NR_ADDRESS_SPACES, CONFIG_KVM_SMM off). Only address space 0 (non-SMM)
 *   is walked.
 *
 * before 5.17 (read from a 5.14 tree; the array became dynamically sized in 5.7, before
 * that memslots[KVM_MEM_SLOTS_NUM] was a fixed array; CO-RE relocates both the same way)
 *   struct kvm { ...; struct mm_struct *mm; struct kvm_memslots __rcu
 *		  *memslots[KVM_ADDRESS_SPACE_NUM]; struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
 *		  atomic_t online_vcpus; ...; struct list_head vm_list; ...;
 *		  pid_t userspace_pid (4.16+); ... }
 *   struct kvm_memslots { u64 generation; short id_to_index[KVM_MEM_SLOTS_NUM];
 *		  atomic_t lru_slot; int used_slots; struct kvm_memory_slot memslots[]; }
 *   struct kvm_memory_slot { gfn_t base_gfn; unsigned long npages; ...;
 *		  unsigned long userspace_addr; u32 flags; short id; [5.10+: u16 as_id] }
 *   memslots[0 .. used_slots) is sorted by base_gfn, descending.
 *   Kernels before 4.2 had a single kvm->memslots pointer: not supported.
 *
 * The layout is picked at load time: bpf_core_field_exists(struct kvm_memslots, gfn_tree)
 * for the tree, else the ___old flavor below for the array. Everything is read through
 * BPF_CORE_READ (probe reads), so a slot freed under us yields garbage, never a crash. On the
 * KVM tracepoints the vCPU thread holds kvm->srcu, which keeps the memslots it sees alive.
 *
 * kvm->userspace_pid is the pid (thread id) that created the VM, set in
 * kvm_uevent_notify_change(); kvm->mm is the creator's mm. Both exist in all versions above.
 *
 * Includers may define, before including: GMA_SPAN_MAX (default 8 here), GMA_COPY_CAP (see
 * guest_copy.bpf.h), GMA_TRANSLATE_FN (see accessor.h).
 */
#ifndef GMA_KVM_MEMSLOT_BPF_H
#define GMA_KVM_MEMSLOT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* A buffer crossing more than a handful of memslots is not worth the verifier's time. */
#ifndef GMA_SPAN_MAX
#define GMA_SPAN_MAX 8
#endif
#include <gma/accessor.h>

/* The bounded user copies every BPF backend shares (GMA_COPY_CAP, GMA_COPY_DST_SIZE). */
#include "guest_copy.bpf.h"

/*
 * Steps of one memslot lookup. An rb-tree of n nodes is at most 2*log2(n+1) deep and a
 * binary search takes log2(n)+1 steps; KVM allows at most 32767 slots per address space,
 * so 32 steps always reach the slot or prove there is none.
 */
#define GMA_MEMSLOT_WALK_MAX 32

#define GMA_KVM_PAGE_SHIFT 12
#define GMA_KVM_PAGE_SIZE (1ull << GMA_KVM_PAGE_SHIFT)

/* Slot flags: the uapi ones (include/uapi/linux/kvm.h) and KVM's internal "going away" bit. */
#ifndef KVM_MEM_LOG_DIRTY_PAGES
#define KVM_MEM_LOG_DIRTY_PAGES (1u << 0)
#endif
#ifndef KVM_MEM_READONLY
#define KVM_MEM_READONLY (1u << 1)
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1u << 2)
#endif
#ifndef KVM_MEMSLOT_INVALID
#define KVM_MEMSLOT_INVALID (1u << 16)
#endif

/*
 * Why a backend copy failed, kept apart from the -EFAULT the contract returns so records can
 * say it: the page was not readable, or the current task is not a thread of the VMM and the
 * VMM's user addresses mean nothing here.
 */
enum gma_kvm_fault {
	GMA_KVM_FAULT_NONE = 0,
	GMA_KVM_FAULT_COPY = 1, /* bpf_probe_read_user() failed (not resident, ...) */
	GMA_KVM_FAULT_FOREIGN_MM = 2, /* current->mm != kvm->mm: read refused */
	GMA_KVM_FAULT_BAD_LEN = 3, /* caller broke the GMA_COPY_CAP bounds (-E2BIG) */
};

/* The kernel < 5.17 flavor of struct kvm_memslots: a sorted array instead of trees. */
struct kvm_memslots___old {
	int used_slots;
	struct kvm_memory_slot memslots[];
} __attribute__((preserve_access_index));

/*
 * One VM as the accessor core sees it. slots is address space 0's active kvm_memslots,
 * read once by gma_backend_init(); the last_* fields describe the slot of the latest
 * successful translation.
 */
struct gma_backend {
	struct kvm *kvm;
	struct kvm_memslots *slots;
	__u32 mm_ok; /* current->mm == kvm->mm */
	__u32 fault; /* enum gma_kvm_fault of the latest failed copy */
	__u32 last_flags;
	__s32 last_slot_id;
};

/* True on kernels >= 5.17 (gfn rb-tree), false on those with the sorted array. */
static __always_inline bool gma_kvm_has_gfn_tree(void)
{
	return bpf_core_field_exists(struct kvm_memslots, gfn_tree);
}

/* Address space 0's active memslots of a VM, or NULL. */
static __always_inline struct kvm_memslots *gma_kvm_memslots(struct kvm *kvm)
{
	return BPF_CORE_READ(kvm, memslots[0]);
}

/*
 * Whether the running task may read the VM's guest memory: user addresses in memslots are
 * the VMM's, and bpf_probe_read_user() reads the current task's address space, so only a
 * thread of the VMM (a vCPU thread on a KVM tracepoint) can read them.
 */
static __always_inline bool gma_kvm_current_mm_is_vm(struct kvm *kvm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	return mm && mm == BPF_CORE_READ(kvm, mm);
}

/*
 * Binds be to kvm. Returns -EINVAL when the VM has no memslots. A VM whose mm is not the
 * current task's still binds (translation only reads kernel memory), but every copy then
 * fails with -EFAULT and be->fault = GMA_KVM_FAULT_FOREIGN_MM.
 */
static __always_inline int gma_backend_init(struct gma_backend *be, struct kvm *kvm)
{
	be->kvm = kvm;
	be->slots = kvm ? gma_kvm_memslots(kvm) : NULL;
	be->mm_ok = kvm ? gma_kvm_current_mm_is_vm(kvm) : 0;
	be->fault = GMA_KVM_FAULT_NONE;
	be->last_flags = 0;
	be->last_slot_id = -1;
	return be->slots ? 0 : -EINVAL;
}

/* The struct kvm_memory_slot whose gfn_node[idx] is node (container_of with a runtime idx). */
static __always_inline struct kvm_memory_slot *gma_kvm_gfn_node_slot(struct rb_node *node, int idx)
{
	__u64 off = bpf_core_field_offset(struct kvm_memory_slot, gfn_node) +
		    (__u64)(idx & 1) * bpf_core_type_size(struct rb_node);

	return (struct kvm_memory_slot *)((char *)node - off);
}

/*
 * The two layout-specific lookups are separate functions, never inlined, on purpose: the
 * relocations of the layout the running kernel lacks cannot be resolved, and libbpf turns
 * them into poisoned instructions that the verifier rejects if it reaches them. Inlined, clang
 * is free to hoist such a relocated constant above the bpf_core_field_exists() test that
 * guards it; a call it cannot hoist, so the poison stays behind the branch.
 */

/* Kernels >= 5.17: descend the gfn rb-tree of slots (what KVM's search_memslots() does). */
static __noinline struct kvm_memory_slot *gma_kvm_find_slot_tree(struct kvm_memslots *slots,
								 __u64 gfn, __u64 *next_gfn)
{
	int idx = BPF_CORE_READ(slots, node_idx);
	struct rb_node *node = BPF_CORE_READ(slots, gfn_tree.rb_node);
	struct kvm_memory_slot *slot;
	__u64 base, npages;
	__u32 i;

	for (i = 0; i < GMA_MEMSLOT_WALK_MAX && node; i++) {
		slot = gma_kvm_gfn_node_slot(node, idx);
		base = BPF_CORE_READ(slot, base_gfn);
		if (gfn >= base) {
			npages = BPF_CORE_READ(slot, npages);
			if (gfn - base < npages)
				return slot;
			node = BPF_CORE_READ(node, rb_right);
		} else {
			/* the last left turn of a descent is the successor of gfn */
			*next_gfn = base;
			node = BPF_CORE_READ(node, rb_left);
		}
	}
	return NULL;
}

/* Element i of a < 5.17 memslots[] array; its element size is the running kernel's. */
static __always_inline struct kvm_memory_slot *gma_kvm_array_slot(struct kvm_memslots___old *s,
								  __u32 i)
{
	return (struct kvm_memory_slot *)((char *)s +
					  bpf_core_field_offset(struct kvm_memslots___old,
								memslots) +
					  (__u64)i * bpf_core_type_size(struct kvm_memory_slot));
}

/*
 * Kernels < 5.17: binary search of memslots[0 .. used_slots), sorted by base_gfn descending:
 * find the first slot whose base_gfn <= gfn, then check gfn is inside it.
 */
static __noinline struct kvm_memory_slot *gma_kvm_find_slot_array(struct kvm_memslots *slots_new,
								  __u64 gfn, __u64 *next_gfn)
{
	struct kvm_memslots___old *slots = (void *)slots_new;
	struct kvm_memory_slot *slot;
	__u32 start = 0, end, mid, i;
	__s32 used = BPF_CORE_READ(slots, used_slots);
	__u64 base;

	if (used <= 0 || used > 32767)
		return NULL;
	end = used;
	for (i = 0; i < GMA_MEMSLOT_WALK_MAX && start < end; i++) {
		mid = start + (end - start) / 2;
		if (gfn >= BPF_CORE_READ(gma_kvm_array_slot(slots, mid), base_gfn))
			end = mid;
		else
			start = mid + 1;
	}
	if (start != end)
		return NULL;
	/* descending order: the slot before the first one below gfn is its successor */
	if (start > 0 && start <= (__u32)used)
		*next_gfn = BPF_CORE_READ(gma_kvm_array_slot(slots, start - 1), base_gfn);
	if (start >= (__u32)used)
		return NULL;
	slot = gma_kvm_array_slot(slots, start);
	base = BPF_CORE_READ(slot, base_gfn);
	if (gfn < base || gfn - base >= BPF_CORE_READ(slot, npages))
		return NULL;
	return slot;
}

/*
 * Accessor core backend: gpa -> VMM virtual address and the bytes left in its memslot.
 * -EINVAL when no slot holds gpa or the slot is being deleted or moved (KVM_MEMSLOT_INVALID:
 * KVM itself no longer translates through it); out->limit then says how many bytes from gpa
 * are untranslatable (to the next slot, or the invalid slot's end), 0 when no slot follows. Declared as the includer chose with
 * GMA_TRANSLATE_FN (see accessor.h); as a global function the verifier checks it on its own,
 * for any arguments, hence the NULL checks.
 */
GMA_TRANSLATE_FN int gma_backend_translate(struct gma_backend *be, __u64 gpa, struct gma_xlat *out)
{
	__u64 gfn = gpa >> GMA_KVM_PAGE_SHIFT, in_page = gpa & (GMA_KVM_PAGE_SIZE - 1);
	struct kvm_memory_slot *slot;
	__u64 base, npages, ua, next_gfn = 0;
	__u32 flags;

	if (!be || !out || !be->slots)
		return -EINVAL;
	out->hva = 0;
	out->limit = 0;
	if (gma_kvm_has_gfn_tree())
		slot = gma_kvm_find_slot_tree(be->slots, gfn, &next_gfn);
	else
		slot = gma_kvm_find_slot_array(be->slots, gfn, &next_gfn);
	if (!slot) {
		/* a hole: report how far it reaches, up to the next slot (0: none follows) */
		if (next_gfn > gfn)
			out->limit = (next_gfn << GMA_KVM_PAGE_SHIFT) - gpa;
		return -EINVAL;
	}
	flags = BPF_CORE_READ(slot, flags);
	base = BPF_CORE_READ(slot, base_gfn);
	npages = BPF_CORE_READ(slot, npages);
	if (flags & KVM_MEMSLOT_INVALID) {
		out->limit = ((base + npages - gfn) << GMA_KVM_PAGE_SHIFT) - in_page;
		return -EINVAL;
	}
	ua = BPF_CORE_READ(slot, userspace_addr);
	be->last_flags = flags;
	be->last_slot_id = BPF_CORE_READ(slot, id);
	out->hva = ua + ((gfn - base) << GMA_KVM_PAGE_SHIFT) + in_page;
	out->limit = ((base + npages - gfn) << GMA_KVM_PAGE_SHIFT) - in_page;
	return 0;
}

/*
 * Copies len bytes at hva into dst + dst_off with gma_bpf_copy_user(): dst must be a buffer of
 * GMA_COPY_DST_SIZE (2 * GMA_COPY_CAP) bytes, dst_off < GMA_COPY_CAP and len <= GMA_COPY_CAP,
 * which is how the verifier sees the write stay inside dst; the accessor core keeps to it when
 * the caller's total length is at most GMA_COPY_CAP (else -E2BIG, be->fault BAD_LEN).
 * -EFAULT with be->fault = GMA_KVM_FAULT_FOREIGN_MM when the current task is not the VMM's.
 */
static int gma_backend_read(struct gma_backend *be, void *dst, __u64 dst_off, __u64 hva, __u64 len)
{
	int err;

	if (!be->mm_ok) {
		be->fault = GMA_KVM_FAULT_FOREIGN_MM;
		return -EFAULT;
	}
	err = gma_bpf_copy_user(dst, dst_off, hva, len);
	if (err)
		be->fault = err == -E2BIG ? GMA_KVM_FAULT_BAD_LEN : GMA_KVM_FAULT_COPY;
	return err;
}

/*
 * Reads exactly width bytes at hva (the core has checked width and alignment); see
 * gma_bpf_read_user_volatile() for what "one access" means through a BPF helper.
 */
static int gma_backend_read_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 *val)
{
	int err;

	if (!be->mm_ok) {
		be->fault = GMA_KVM_FAULT_FOREIGN_MM;
		return -EFAULT;
	}
	err = gma_bpf_read_user_volatile(hva, width, val);
	if (err)
		be->fault = GMA_KVM_FAULT_COPY;
	return err;
}

#endif /* GMA_KVM_MEMSLOT_BPF_H */

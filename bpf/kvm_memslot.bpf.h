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
 * guest_copy.bpf.h), GMA_TRANSLATE_FN (see accessor.h), GMA_KVM_SLOT_CACHE (the slot cache
 * below, for programs on KVM tracepoints; the VM iterator walks the slots itself).
 *
 * The slot cache. A walk of the gfn tree costs a dozen probe reads and more (each level reads
 * base_gfn, npages and a child), and a notify translates a dozen addresses or more, nearly
 * all in one or two slots. So each CPU keeps, for the last GMA_SLOT_CACHE_VMS VMs it saw,
 * the last GMA_SLOT_CACHE_SLOTS slots a walk found (base_gfn, npages, userspace_addr, flags,
 * id), and translates through them with no probe read at all. An entry is valid only for the
 * memslot set it was filled from, identified by what gma_backend_init() reads each time:
 *
 *   kvm, kvm->memslots[0], and its generation: KVM never changes a slot of an active set in
 *	place; every change (add, delete, move, flags, the INVALID mark of a slot going away)
 *	builds the inactive set and publishes it with a new generation, strictly greater than
 *	any before in this VM (5.17+: kvm_swap_active_memslots(); before: install_new_memslots(),
 *	a new array each time). The "update in progress" bit only ever makes it differ.
 *   kvm->arch.kvmclock_offset: set from the clock when the VM is created (x86), so a VM freed
 *	and another created at the same address, with as many memslot updates behind it (so the
 *	same set pointer and generation), still does not match. KVM_SET_CLOCK changes it too,
 *	which only costs a refill.
 *
 * A set seen once is read under kvm->srcu, which the vCPU thread holds on these tracepoints,
 * so a translation bound at gma_backend_init() stays as valid as KVM's own for the rest of
 * the program's run. Entries are per CPU (tracepoint programs run with preemption off, one at
 * a time per CPU), never shared, so none is read half-written. Holes and INVALID slots are
 * never cached: they take the walk every time.
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

/* What identifies one memslot set of one VM instance (see the slot cache above). */
struct gma_slot_tag {
	__u64 kvm;
	__u64 slots;
	__u64 gen;
	__s64 clock;
};

/*
 * One VM as the accessor core sees it. slots is address space 0's active kvm_memslots,
 * read once by gma_backend_init(); the last_* fields describe the slot of the latest
 * successful translation. tag and cache_idx bind it to its slot cache entry.
 */
struct gma_backend {
	struct kvm *kvm;
	struct kvm_memslots *slots;
	__u32 mm_ok; /* current->mm == kvm->mm */
	__u32 fault; /* enum gma_kvm_fault of the latest failed copy */
	__u32 last_flags;
	__s32 last_slot_id;
	struct gma_slot_tag tag;
	__u32 cache_idx;
	__u32 cached; /* tag is valid and the cache entry was bound to it */
};

#ifdef GMA_KVM_SLOT_CACHE
#define GMA_SLOT_CACHE_VMS 8 /* VMs per CPU; a power of 2 */
#define GMA_SLOT_CACHE_SLOTS 4 /* slots per VM */

struct gma_slot_cache_ent {
	__u64 base_gfn;
	__u64 npages;
	__u64 ua;
	__u32 flags;
	__s32 id;
};

struct gma_slot_cache {
	struct gma_slot_tag tag;
	__u64 mm; /* kvm->mm: fixed for the VM's life, so for the tag's */
	__u32 n; /* entries in use */
	__u32 next; /* the one a new slot replaces when all are in use */
	struct gma_slot_cache_ent e[GMA_SLOT_CACHE_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GMA_SLOT_CACHE_VMS);
	__type(key, __u32);
	__type(value, struct gma_slot_cache);
} gma_slot_cache SEC(".maps");

static __always_inline bool gma_slot_tag_eq(const struct gma_slot_tag *a,
					    const struct gma_slot_tag *b)
{
	return a->kvm == b->kvm && a->slots == b->slots && a->gen == b->gen && a->clock == b->clock;
}

/* The cache entry bound to be, or NULL when another VM or set took it since. */
static __always_inline struct gma_slot_cache *gma_slot_cache_of(struct gma_backend *be)
{
	__u32 idx = be->cache_idx;
	struct gma_slot_cache *c;

	if (!be->cached)
		return NULL;
	c = bpf_map_lookup_elem(&gma_slot_cache, &idx);
	if (!c || !gma_slot_tag_eq(&c->tag, &be->tag))
		return NULL;
	return c;
}
#endif /* GMA_KVM_SLOT_CACHE */

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
#ifndef GMA_KVM_SLOT_CACHE
static __always_inline int gma_backend_init(struct gma_backend *be, struct kvm *kvm)
{
	be->kvm = kvm;
	be->slots = kvm ? gma_kvm_memslots(kvm) : NULL;
	be->mm_ok = kvm ? gma_kvm_current_mm_is_vm(kvm) : 0;
	be->fault = GMA_KVM_FAULT_NONE;
	be->last_flags = 0;
	be->last_slot_id = -1;
	be->cached = 0;
	return be->slots ? 0 : -EINVAL;
}
#else
/*
 * The same, and binds be to the VM's slot cache entry: kept when it was filled from the set
 * active now, emptied and retagged when not. Three probe reads (the set, its generation, the
 * VM's clock offset) where the walk costs a dozen per translation; a function of its own, so
 * callers bind once and pass be on. Only for programs on tp_btf tracepoints (current->mm is
 * read through BTF).
 */
static __noinline int gma_backend_init(struct gma_backend *be, struct kvm *kvm)
{
	/* programs on tp_btf tracepoints read current's fields directly: no probe read */
	struct task_struct *task = bpf_get_current_task_btf();
	struct kvm_memslots *slots;
	struct gma_slot_cache *c;
	__u64 mm = 0;
	__u32 idx;

	if (!be)
		return -EINVAL;
	be->kvm = kvm;
	be->slots = NULL;
	be->mm_ok = 0;
	be->fault = GMA_KVM_FAULT_NONE;
	be->last_flags = 0;
	be->last_slot_id = -1;
	be->cached = 0;
	if (!kvm)
		return -EINVAL;
	slots = gma_kvm_memslots(kvm);
	be->slots = slots;
	if (!slots)
		return -EINVAL;
	be->tag.kvm = (__u64)kvm;
	be->tag.slots = (__u64)slots;
	be->tag.gen = BPF_CORE_READ(slots, generation);
	be->tag.clock = BPF_CORE_READ(kvm, arch.kvmclock_offset);
	idx = (((__u64)kvm >> 12) ^ ((__u64)kvm >> 20)) & (GMA_SLOT_CACHE_VMS - 1);
	be->cache_idx = idx;
	c = bpf_map_lookup_elem(&gma_slot_cache, &idx);
	if (c && gma_slot_tag_eq(&c->tag, &be->tag)) {
		mm = c->mm;
	} else {
		mm = (__u64)BPF_CORE_READ(kvm, mm);
		if (c) {
			c->tag = be->tag;
			c->mm = mm;
			c->n = 0;
			c->next = 0;
		}
	}
	be->cached = c != NULL;
	be->mm_ok = mm && mm == (__u64)task->mm;
	return 0;
}

/* A slot of the bound set holding gfn, from the cache: 0 and *out, or -1. */
static __always_inline int gma_slot_cache_lookup(struct gma_backend *be, __u64 gfn, __u64 in_page,
						 struct gma_xlat *out)
{
	struct gma_slot_cache *c = gma_slot_cache_of(be);
	struct gma_slot_cache_ent *e;

	if (!c)
		return -1;
	for (__u32 i = 0; i < GMA_SLOT_CACHE_SLOTS; i++) {
		if (i >= c->n)
			break;
		e = &c->e[i];
		/* unsigned: a gfn below base_gfn wraps past npages */
		if (gfn - e->base_gfn >= e->npages)
			continue;
		be->last_flags = e->flags;
		be->last_slot_id = e->id;
		out->hva = e->ua + ((gfn - e->base_gfn) << GMA_KVM_PAGE_SHIFT) + in_page;
		out->limit = ((e->base_gfn + e->npages - gfn) << GMA_KVM_PAGE_SHIFT) - in_page;
		return 0;
	}
	return -1;
}

/* Remembers a valid slot the walk found in the bound set. */
static __always_inline void gma_slot_cache_fill(struct gma_backend *be, __u64 base, __u64 npages,
						__u64 ua, __u32 flags, __s32 id)
{
	struct gma_slot_cache *c = gma_slot_cache_of(be);
	struct gma_slot_cache_ent *e;
	__u32 i;

	if (!c || !npages)
		return;
	if (c->n < GMA_SLOT_CACHE_SLOTS) {
		i = c->n++;
	} else {
		i = c->next;
		c->next = (i + 1) % GMA_SLOT_CACHE_SLOTS;
	}
	e = &c->e[i & (GMA_SLOT_CACHE_SLOTS - 1)];
	e->base_gfn = base;
	e->npages = npages;
	e->ua = ua;
	e->flags = flags;
	e->id = id;
}
#endif /* GMA_KVM_SLOT_CACHE */

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
#ifdef GMA_KVM_SLOT_CACHE
	if (!gma_slot_cache_lookup(be, gfn, in_page, out))
		return 0;
#endif
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
#ifdef GMA_KVM_SLOT_CACHE
	gma_slot_cache_fill(be, base, npages, ua, flags, be->last_slot_id);
#endif
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

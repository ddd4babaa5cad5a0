// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF iterator listing the host's KVM VMs and their memslots (address space 0), as binary
 * records (include/gma/record.h): one gma_rec_vm per VM, followed by its
 * gma_rec_slot in ascending guest physical order.
 *
 * KVM keeps its VMs on vm_list, a static symbol BPF cannot reach. Every VM is held open by an
 * fd though (KVM_CREATE_VM returns it; vCPU fds pin the VM but the VMM keeps the VM fd to
 * issue VM ioctls), so this is an iter/task_file program: it looks at every open file and
 * keeps the VM files, whose private_data is the struct kvm. A VM file is recognised as an anon
 * inode (ANON_INODE_FS_MAGIC) whose dentry is named "kvm-vm": the name anon_inode_getfile()
 * gets in kvm_dev_ioctl_create_vm() on every kernel version, and only kernel code names an
 * anon inode (a file on disk may be called kvm-vm, it is no anon inode). The file's f_op
 * (&kvm_vm_fops, or its ioctl kvm_vm_ioctl) would say it too, but only as typeless ksyms,
 * which libbpf resolves by reading all of /proc/kallsyms at each load: 0.13 s on this host,
 * seconds in a TCG VM, at every gma-trace start (kvm_vm_fops is no BTF variable, so a typed
 * ksym would not load anywhere).
 *
 * Dedupe: the kernel's task_file iterator already skips threads that share their leader's
 * file table, so each process is visited once. A VM fd can still be open in several
 * processes (fork, SCM_RIGHTS) or twice in one (dup): the first (tgid, fd) in iteration order
 * (ascending tgid, then fd) reports the VM and an LRU map keyed by (iteration session, struct
 * kvm) suppresses the others. A VM is marked seen only after its records were written, so
 * when the seq buffer is full and the kernel replays the file on the next read(), the VM is
 * not lost. Under extreme LRU pressure (over GMA_VM_SEEN_MAX VMs alive in concurrent
 * iterations) a VM could be reported twice, never missed; readers may dedupe on vm_id.
 *
 * ioeventfds: kvm->ioeventfds, the list of struct _ioeventfd KVM_IOEVENTFD adds to (under
 * kvm->slots_lock, which a BPF program cannot take), follows the slots: the first
 * GMA_VM_IOEVENTFDS_MAX are sent, the rest up to the walk's bound counted. KVM caps each bus
 * at NR_IOBUS_DEVS (1000) devices, so a walk of GMA_VM_IOEVENTFD_WALK_MAX steps that does not
 * lead back to the head met a list changing under it (a registration freed mid-walk: every
 * read is a fault-tolerant bpf_probe_read_kernel) and says so (GMA_VM_IOEVENTFDS_INCOMPLETE).
 * One VM's records must fit the 8 pages of a bpf_seq_read buffer (32 KiB): the caps see to it.
 *
 * Memslot walk: the gfn rb-tree in order with an explicit stack (kernels >= 5.17), or the
 * sorted array from its end (< 5.17). The walk state lives in a per-CPU map value rather than
 * in registers: the verifier then sees unknown scalars, not constants, at each loop head, and
 * the paths of one iteration merge instead of multiplying.
 */
#include "vmlinux.h"
#include <linux/magic.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "kvm_memslot.bpf.h"
#include <gma/record.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Slot records per VM; more sets GMA_VM_SLOTS_TRUNCATED. A power of 2. */
#define GMA_VM_SLOTS_MAX 512
/* Depth of the in-order walk stack; an rb-tree of 32767 slots is at most 30 deep. */
#define GMA_VM_STACK_MAX 64
/* VMs remembered per iteration for the dedupe. */
#define GMA_VM_SEEN_MAX 4096

/* ioeventfd list nodes visited at most (GMA_VM_IOEVENTFDS_MAX of them sent: <gma/record.h>). */
#define GMA_VM_IOEVENTFD_WALK_MAX 4096

_Static_assert((GMA_VM_SLOTS_MAX & (GMA_VM_SLOTS_MAX - 1)) == 0, "power of 2");
_Static_assert((GMA_VM_IOEVENTFDS_MAX & (GMA_VM_IOEVENTFDS_MAX - 1)) == 0, "power of 2");
/* what one VM sends must fit one bpf_seq_read buffer (8 pages) */
_Static_assert(sizeof(struct gma_rec_vm) + GMA_VM_SLOTS_MAX * sizeof(struct gma_rec_slot) +
			       GMA_VM_IOEVENTFDS_MAX * sizeof(struct gma_rec_ioeventfd) <=
		       8 * 4096,
	       "a VM's records fit the seq buffer");
_Static_assert((GMA_VM_STACK_MAX & (GMA_VM_STACK_MAX - 1)) == 0, "power of 2");

/* The VM record directly followed by its slot records: written with one bpf_seq_write(). */
struct vm_out {
	struct gma_rec_vm vm;
	struct gma_rec_slot slots[GMA_VM_SLOTS_MAX];
	/* written with a second bpf_seq_write() */
	struct gma_rec_ioeventfd ioeventfds[GMA_VM_IOEVENTFDS_MAX];
	/* walk state, see the file comment */
	__u64 stack[GMA_VM_STACK_MAX];
	__u64 cur;
	__u32 sp;
	__u32 n;
	__u32 nr_ioeventfds;
	__u32 ioeventfds_more;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vm_out);
} gma_kvm_vm_out SEC(".maps");

struct seen_key {
	__u64 session;
	__u64 kvm;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GMA_VM_SEEN_MAX);
	__type(key, struct seen_key);
	__type(value, __u8);
} gma_kvm_vm_seen SEC(".maps");

/* "kvm-vm" and its NUL as one little-endian word, for the dentry name test. */
#define GMA_VM_NAME 0x00006d762d6d766bull

static __always_inline bool is_kvm_vm_file(struct file *f)
{
	const unsigned char *name;
	__u64 word = 0;

	if (BPF_CORE_READ(f, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC)
		return false;
	name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(&word, sizeof(word), name) < 0)
		return false;
	return word == GMA_VM_NAME;
}

static __always_inline void fill_slot(struct gma_rec_slot *r, struct kvm_memory_slot *s,
				      __u64 vm_id)
{
	r->hdr.type = GMA_REC_SLOT;
	r->hdr.version = GMA_REC_VERSION;
	r->hdr.size = sizeof(*r);
	r->vm_id = vm_id;
	r->gpa = BPF_CORE_READ(s, base_gfn) << GMA_KVM_PAGE_SHIFT;
	r->size = BPF_CORE_READ(s, npages) << GMA_KVM_PAGE_SHIFT;
	r->userspace_addr = BPF_CORE_READ(s, userspace_addr);
	r->flags = BPF_CORE_READ(s, flags);
	r->slot_id = BPF_CORE_READ(s, id);
	r->as_id = bpf_core_field_exists(s->as_id) ? BPF_CORE_READ(s, as_id) : 0;
}

/* What a step of the tree walk needs beside the walk state in the map value. */
struct walk_ctx {
	__u64 vm_id;
	int idx;
	__u32 flags;
	__u32 done;
};

/*
 * One step of the in-order walk: push the current node and go left, or pop one, emit its
 * slot and go right. A bpf_loop() callback rather than a loop body: kernels before 6.2 accept
 * a loop only when its back edge is a jump, and clang may lay a loop out so that its body
 * falls through into its head ("back-edge from insn N to N+1"). Returns 1 to stop.
 */
static long walk_tree_step(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	struct rb_node *node;
	struct vm_out *o;
	__u32 zero = 0, sp, n;

	o = bpf_map_lookup_elem(&gma_kvm_vm_out, &zero);
	if (!o)
		return 1;
	sp = o->sp;
	if (o->cur) {
		if (sp >= GMA_VM_STACK_MAX) {
			w->flags = GMA_VM_WALK_INCOMPLETE;
			return 1;
		}
		node = (struct rb_node *)o->cur;
		o->stack[sp & (GMA_VM_STACK_MAX - 1)] = (__u64)node;
		o->sp = sp + 1;
		o->cur = (__u64)BPF_CORE_READ(node, rb_left);
		return 0;
	}
	if (sp == 0) {
		w->done = 1;
		return 1;
	}
	n = o->n;
	if (n >= GMA_VM_SLOTS_MAX) {
		w->flags = GMA_VM_SLOTS_TRUNCATED;
		return 1;
	}
	sp--;
	o->sp = sp;
	node = (struct rb_node *)o->stack[sp & (GMA_VM_STACK_MAX - 1)];
	fill_slot(&o->slots[n & (GMA_VM_SLOTS_MAX - 1)], gma_kvm_gfn_node_slot(node, w->idx),
		  w->vm_id);
	o->n = n + 1;
	o->cur = (__u64)BPF_CORE_READ(node, rb_right);
	return 0;
}

/*
 * Kernels >= 5.17: in-order walk of the gfn tree. Returns GMA_VM_* flags. Not inlined, nor
 * is walk_array(), for the reason given above gma_kvm_find_slot_tree().
 */
static __noinline __u32 walk_tree(struct vm_out *o, struct kvm_memslots *slots, __u64 vm_id)
{
	struct walk_ctx w = { .vm_id = vm_id, .idx = BPF_CORE_READ(slots, node_idx) };

	o->cur = (__u64)BPF_CORE_READ(slots, gfn_tree.rb_node);
	o->sp = 0;
	o->n = 0;
	/*
	 * Each node is pushed once and popped once, plus the final empty-stack step; when there
	 * are more than GMA_VM_SLOTS_MAX nodes, up to a stack's worth more pushes can come before
	 * the last slot that fits is popped.
	 */
	bpf_loop(2 * GMA_VM_SLOTS_MAX + GMA_VM_STACK_MAX + 1, walk_tree_step, &w, 0);
	if (w.flags)
		return w.flags;
	return w.done ? 0 : GMA_VM_SLOTS_TRUNCATED;
}

/* Kernels < 5.17: memslots[used_slots - 1] down to [0] is ascending gfn order. */
static __noinline __u32 walk_array(struct vm_out *o, struct kvm_memslots *slots_new, __u64 vm_id)
{
	struct kvm_memslots___old *slots = (void *)slots_new;
	__s32 used = BPF_CORE_READ(slots, used_slots);
	__u32 i, n;

	o->n = 0;
	if (used <= 0)
		return GMA_VM_LAYOUT_ARRAY;
	for (i = 0; i < GMA_VM_SLOTS_MAX; i++) {
		n = o->n;
		if (n >= (__u32)used)
			return GMA_VM_LAYOUT_ARRAY;
		fill_slot(&o->slots[n & (GMA_VM_SLOTS_MAX - 1)],
			  gma_kvm_array_slot(slots, used - 1 - n), vm_id);
		o->n = n + 1;
	}
	return GMA_VM_LAYOUT_ARRAY | (used > GMA_VM_SLOTS_MAX ? GMA_VM_SLOTS_TRUNCATED : 0);
}

/* What a step of the ioeventfd list walk needs beside the walk state in the map value. */
struct ioeventfd_walk {
	__u64 vm_id;
	__u64 head; /* &kvm->ioeventfds */
	__u32 done;
};

/*
 * One node of kvm->ioeventfds: sent while there is room, else counted. o->cur is the node's
 * struct list_head. A bpf_loop() callback, like walk_tree_step(). Returns 1 to stop.
 */
static long walk_ioeventfd_step(__u32 i, void *arg)
{
	struct ioeventfd_walk *w = arg;
	struct gma_rec_ioeventfd *r;
	struct _ioeventfd *p;
	struct vm_out *o;
	__u32 zero = 0, n;

	o = bpf_map_lookup_elem(&gma_kvm_vm_out, &zero);
	if (!o)
		return 1;
	if (!o->cur || o->cur == w->head) {
		w->done = 1;
		return 1;
	}
	p = (void *)(o->cur - bpf_core_field_offset(struct _ioeventfd, list));
	n = o->nr_ioeventfds;
	if (n < GMA_VM_IOEVENTFDS_MAX) {
		r = &o->ioeventfds[n & (GMA_VM_IOEVENTFDS_MAX - 1)];
		r->hdr.type = GMA_REC_IOEVENTFD;
		r->hdr.version = GMA_REC_VERSION;
		r->hdr.size = sizeof(*r);
		r->vm_id = w->vm_id;
		r->addr = BPF_CORE_READ(p, addr);
		r->length = BPF_CORE_READ(p, length);
		r->bus = BPF_CORE_READ(p, bus_idx);
		r->wildcard = BPF_CORE_READ(p, wildcard);
		r->datamatch = r->wildcard ? 0 : BPF_CORE_READ(p, datamatch);
		r->pad = 0;
		o->nr_ioeventfds = n + 1;
	} else {
		o->ioeventfds_more++;
	}
	o->cur = (__u64)BPF_CORE_READ(p, list.next);
	return 0;
}

/*
 * The VM's KVM_IOEVENTFD registrations into o->ioeventfds. Returns GMA_VM_* flags. Kernels
 * without struct _ioeventfd in their BTF (KVM without eventfd support) have none to list.
 */
static __noinline __u32 walk_ioeventfds(struct vm_out *o, struct kvm *kvm, __u64 vm_id)
{
	struct ioeventfd_walk w = { .vm_id = vm_id };

	o->nr_ioeventfds = 0;
	o->ioeventfds_more = 0;
	if (!kvm || !bpf_core_type_exists(struct _ioeventfd) ||
	    !bpf_core_field_exists(kvm->ioeventfds))
		return 0;
	w.head = (__u64)&kvm->ioeventfds;
	o->cur = (__u64)BPF_CORE_READ(kvm, ioeventfds.next);
	bpf_loop(GMA_VM_IOEVENTFD_WALK_MAX, walk_ioeventfd_step, &w, 0);
	return w.done ? 0 : GMA_VM_IOEVENTFDS_INCOMPLETE;
}

SEC("iter/task_file")
int gma_kvm_vms(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct kvm_memslots *slots;
	struct seen_key key = {};
	struct vm_out *o;
	struct kvm *kvm;
	__u32 zero = 0, n, nio, flags = 0;
	__u8 one = 1;
	__u64 len;

	if (!task || !file || !is_kvm_vm_file(file))
		return 0;
	kvm = BPF_CORE_READ(file, private_data);
	if (!kvm)
		return 0;
	key.session = ctx->meta->session_id;
	key.kvm = (__u64)kvm;
	if (bpf_map_lookup_elem(&gma_kvm_vm_seen, &key))
		return 0;
	o = bpf_map_lookup_elem(&gma_kvm_vm_out, &zero);
	if (!o)
		return 0;

	o->n = 0;
	slots = gma_kvm_memslots(kvm);
	if (slots) {
		if (gma_kvm_has_gfn_tree())
			flags = walk_tree(o, slots, key.kvm);
		else
			flags = walk_array(o, slots, key.kvm);
	}
	n = o->n;
	if (n > GMA_VM_SLOTS_MAX)
		n = GMA_VM_SLOTS_MAX;
	flags |= walk_ioeventfds(o, kvm, key.kvm);
	nio = o->nr_ioeventfds;
	if (nio > GMA_VM_IOEVENTFDS_MAX)
		nio = GMA_VM_IOEVENTFDS_MAX;

	o->vm.hdr.type = GMA_REC_VM;
	o->vm.hdr.version = GMA_REC_VERSION;
	o->vm.hdr.size = sizeof(o->vm);
	o->vm.vm_id = key.kvm;
	o->vm.owner_tgid = BPF_CORE_READ(task, tgid);
	o->vm.creator_pid = BPF_CORE_READ(kvm, userspace_pid);
	o->vm.fd = ctx->fd;
	o->vm.online_vcpus = BPF_CORE_READ(kvm, online_vcpus.counter);
	o->vm.nr_slots = n;
	o->vm.flags = flags;
	o->vm.generation = slots ? BPF_CORE_READ(slots, generation) : 0;
	o->vm.nr_ioeventfds = nio;
	o->vm.ioeventfds_more = o->ioeventfds_more;

	len = sizeof(o->vm) + (__u64)n * sizeof(o->slots[0]);
	/*
	 * On a full seq buffer nothing of this file is kept (the reader rolls back to where the
	 * file started, both writes) and it is shown again on the next read.
	 */
	if (bpf_seq_write(seq, &o->vm, len))
		return 0;
	if (nio && bpf_seq_write(seq, o->ioeventfds, (__u64)nio * sizeof(o->ioeventfds[0])))
		return 0;
	bpf_map_update_elem(&gma_kvm_vm_seen, &key, &one, BPF_ANY);
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The KVM VMs of this host, listed by a BPF iterator (no VMM's help): each VM's process, its
 * memslots (guest physical -> VMM virtual) and its KVM_IOEVENTFD registrations.
 */
#ifndef GMA_VMS_H
#define GMA_VMS_H

#include <gma/common.h>
#include <gma/mem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A memslot of a VM: an element of struct gma_vm's slots, read with gma_vm_slot(). */
struct gma_memslot {
	__u64 gpa;
	__u64 size;
	__u64 hva; /* VMM virtual address of gpa */
	__u32 flags; /* KVM_MEM_* and GMA_SLOT_INVALID (<gma/record.h>) */
	__u16 id;
	__u16 as_id;
};

/*
 * A KVM_IOEVENTFD registration of a VM: a guest write of len bytes (0: any width) at addr on
 * bus GMA_BUS_* (<gma/record.h>) that KVM turns into an eventfd signal to the VMM, when the
 * value is datamatch or wildcard is set. VMMs register their VirtIO notify addresses so. An
 * element of struct gma_vm's ioeventfds, read with gma_vm_ioeventfd().
 */
struct gma_ioeventfd {
	__u64 addr;
	__u64 datamatch;
	__u32 len;
	__u8 bus;
	bool wildcard;
};

struct gma_vm {
	__u64 id; /* the kernel's struct kvm address: stable for the VM's life */
	pid_t pid; /* the process holding the VM fd (the VMM) */
	pid_t creator_pid; /* the thread that created the VM */
	__u32 fd;
	__u32 nr_vcpus;
	__u32 flags; /* GMA_VM_* (<gma/record.h>) */
	__u64 generation; /* KVM's memslot generation: differs once any slot changed */
	/* the memslots, ascending gpa: gma_vm_slot(vm, 0 .. nr_slots - 1) */
	size_t nr_slots;
	size_t slot_sz;
	const struct gma_memslot *slots;
	/*
	 * KVM's ioeventfd list, in registration order: gma_vm_ioeventfd(vm, 0 ..
	 * nr_ioeventfds - 1); ioeventfds_more past the lister's cap are counted, not listed
	 * (flags GMA_VM_IOEVENTFDS_INCOMPLETE: the list changed mid-walk).
	 */
	size_t nr_ioeventfds;
	size_t ioeventfd_sz;
	const struct gma_ioeventfd *ioeventfds;
	__u32 ioeventfds_more;
};

/* Memslot i of vm, i below vm->nr_slots. */
static inline const struct gma_memslot *gma_vm_slot(const struct gma_vm *vm, size_t i)
{
	return GMA_ELEM(struct gma_memslot, vm->slots, i, vm->slot_sz);
}

/* KVM_IOEVENTFD registration i of vm, i below vm->nr_ioeventfds. */
static inline const struct gma_ioeventfd *gma_vm_ioeventfd(const struct gma_vm *vm, size_t i)
{
	return GMA_ELEM(struct gma_ioeventfd, vm->ioeventfds, i, vm->ioeventfd_sz);
}

/*
 * Lists every KVM VM on the host with its memslots (address space 0), by loading and running
 * the embedded BPF iterator. Needs CAP_BPF and CAP_PERFMON (or root). Returns -EPERM without
 * them, -ENOENT when the kernel has no KVM (no VM can exist), -EPROTO for a record whose
 * version this library does not know, -EINVAL for an elem_sz of 0. *vms is an array of *n
 * VMs of elem_sz bytes each (the caller's sizeof(**vms): the growth rules of <gma/gma.h>),
 * their memslots and ioeventfds in the same allocation: the caller's, freed with
 * gma_vms_free(). A snapshot: VMs may come and go after.
 */
GMA_API int gma_vms_list(struct gma_vm **vms, size_t *n, size_t elem_sz);
GMA_API void gma_vms_free(struct gma_vm *vms);

/*
 * The same, for callers that list again and again (to see memslots change): the iterator is
 * loaded once by gma_vm_lister_new (NULL with errno as for gma_vms_list's errors), and each
 * gma_vm_lister_list costs a read of the kernel's VM list, not a program load.
 */
struct gma_vm_lister;
GMA_API struct gma_vm_lister *gma_vm_lister_new(void);
GMA_API int gma_vm_lister_list(struct gma_vm_lister *l, struct gma_vm **vms, size_t *n,
			       size_t elem_sz);
GMA_API void gma_vm_lister_free(struct gma_vm_lister *l);

/* "mmio", "pio", "virtio-ccw", "fast-mmio" for a GMA_BUS_*, "?" for another value. */
GMA_API const char *gma_bus_name(__u32 bus);

/*
 * The VM of process pid in a list from gma_vms_list() made with elem_sz, or NULL (also for an
 * elem_sz that does not hold pid); points into vms.
 */
GMA_API const struct gma_vm *gma_vms_find_pid(const struct gma_vm *vms, size_t n, size_t elem_sz,
					      pid_t pid);

/*
 * The region table of a VM for gma_mem_new_process(): one region per memslot that KVM still
 * translates through (slots being deleted or moved are left out). vm is from a list whose
 * elem_sz holds its slots (sizeof(struct gma_vm) does). *regions is malloc'ed: the caller
 * frees it (gma_mem_new_process() keeps a copy); *n may be 0. -ENOMEM, or
 * gma_regions_validate()'s error for slots that overlap.
 */
GMA_API int gma_vm_regions(const struct gma_vm *vm, struct gma_region **regions, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* GMA_VMS_H */

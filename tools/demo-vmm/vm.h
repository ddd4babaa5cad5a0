/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal x86 VM on the raw KVM API: RAM as several memslots with separate host mappings,
 * one vCPU started in flat 32-bit protected mode.
 */
#ifndef GMA_DEMO_VM_H
#define GMA_DEMO_VM_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#define VM_MAX_SLOTS 16

struct vm_slot {
	uint32_t slot; /* KVM memslot id */
	uint64_t gpa;
	uint64_t size;
	void *hva; /* start of the RAM in the VMM's address space */
	void *map; /* whole mapping, guard pages included */
	size_t map_size;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct vm_slot slots[VM_MAX_SLOTS];
	unsigned int nr_slots;
};

int vm_create(struct vm *vm);
int vm_add_ram(struct vm *vm, uint64_t gpa, uint64_t size);
int vm_create_vcpu(struct vm *vm);
/* KVM's in-kernel PIC, IOAPIC and local APIC: before vm_create_vcpu. */
int vm_create_irqchip(struct vm *vm);
/* Raises and lowers interrupt line gsi (KVM_IRQ_LINE): one edge. 0 or -errno. */
int vm_irq_pulse(struct vm *vm, uint32_t gsi);
/*
 * Sends an MSI (KVM_SIGNAL_MSI) through the in-kernel irqchip: > 0 delivered, 0 the guest
 * blocked it (its local APIC off, say), or -errno.
 */
int vm_signal_msi(struct vm *vm, uint64_t address, uint32_t data);
int vm_start_protected(struct vm *vm, uint32_t entry, uint32_t stack);
void vm_destroy(struct vm *vm);

/* Host address of [gpa, gpa + len) if it lies within one slot, else NULL. */
void *vm_gpa_to_hva(const struct vm *vm, uint64_t gpa, uint64_t len);
/* True if every byte of [gpa, gpa + len) is RAM (possibly across several slots). */
bool vm_range_is_ram(const struct vm *vm, uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM across slots; -EFAULT if any byte is not RAM (nothing copied). */
int vm_write(struct vm *vm, uint64_t gpa, const void *buf, uint64_t len);
int vm_read(const struct vm *vm, uint64_t gpa, void *buf, uint64_t len);

void vm_dump_regs(const struct vm *vm, FILE *f);

#endif /* GMA_DEMO_VM_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * KVM plumbing of the demo VMM. Everything here reports its own errors on stderr with the
 * operation that failed, so callers only propagate a negative errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "demo-abi.h"
#include "vm.h"

/* Unmapped pages kept around each RAM mapping, so no two slots are adjacent in the host. */
#define GUARD_SIZE 0x10000UL

/* The TSS that VMX needs for real-mode emulation: 3 pages just below the BIOS area at 4G. */
#define TSS_GPA 0xfffbd000UL

static int err(const char *what)
{
	int e = errno;

	fprintf(stderr, "demo-vmm: %s: %s\n", what, strerror(e));
	return -e;
}

int vm_create(struct vm *vm)
{
	int ver;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			fprintf(stderr, "demo-vmm: /dev/kvm: permission denied: run as root or add "
					"the user to group kvm\n");
		else if (e == ENOENT || e == ENXIO || e == ENODEV)
			fprintf(stderr,
				"demo-vmm: /dev/kvm: %s: KVM is not available (load "
				"kvm and kvm_intel or kvm_amd, or enable nested virtualization)\n",
				strerror(e));
		else
			fprintf(stderr, "demo-vmm: /dev/kvm: %s\n", strerror(e));
		return -e;
	}
	ver = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver < 0)
		return err("KVM_GET_API_VERSION");
	if (ver != KVM_API_VERSION) {
		fprintf(stderr, "demo-vmm: KVM API version %d, expected %d\n", ver,
			KVM_API_VERSION);
		return -EINVAL;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		fprintf(stderr, "demo-vmm: KVM lacks KVM_CAP_USER_MEMORY\n");
		return -EINVAL;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return err("KVM_CREATE_VM");
	/* Intel needs it before the first KVM_RUN; AMD ignores it. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, TSS_GPA) < 0)
		return err("KVM_SET_TSS_ADDR");
	return 0;
}

/*
 * Each slot gets a mapping of its own, surrounded by PROT_NONE guard pages, so host addresses
 * are never contiguous across a slot boundary even when guest addresses are: a reader that
 * assumes "next gpa = next hva" faults or reads the wrong bytes instead of passing by luck.
 */
int vm_add_ram(struct vm *vm, uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region region;
	struct vm_slot *s;
	uint8_t *map, *ram;
	size_t map_size;

	if (vm->nr_slots >= VM_MAX_SLOTS) {
		fprintf(stderr, "demo-vmm: too many memslots (max %d)\n", VM_MAX_SLOTS);
		return -ENOSPC;
	}
	if (!size || (gpa | size) & 0xfff) {
		fprintf(stderr,
			"demo-vmm: memslot gpa 0x%" PRIx64 " size 0x%" PRIx64 " not page aligned\n",
			gpa, size);
		return -EINVAL;
	}
	map_size = size + 2 * GUARD_SIZE;
	map = mmap(NULL, map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return err("mmap guest RAM");
	ram = map + GUARD_SIZE;
	if (mprotect(ram, size, PROT_READ | PROT_WRITE) < 0) {
		int e = err("mprotect guest RAM");

		munmap(map, map_size);
		return e;
	}

	s = &vm->slots[vm->nr_slots];
	*s = (struct vm_slot){ .slot = vm->nr_slots,
			       .gpa = gpa,
			       .size = size,
			       .hva = ram,
			       .map = map,
			       .map_size = map_size };
	region = (struct kvm_userspace_memory_region){
		.slot = s->slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int e = err("KVM_SET_USER_MEMORY_REGION");

		munmap(map, map_size);
		return e;
	}
	vm->nr_slots++;
	return 0;
}

int vm_create_irqchip(struct vm *vm)
{
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err("KVM_CREATE_IRQCHIP");
	return 0;
}

int vm_signal_msi(struct vm *vm, uint64_t address, uint32_t data)
{
	struct kvm_msi m = { .address_lo = (uint32_t)address,
			     .address_hi = (uint32_t)(address >> 32),
			     .data = data };
	int r = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m);

	return r < 0 ? -errno : r;
}

int vm_irq_pulse(struct vm *vm, uint32_t gsi)
{
	struct kvm_irq_level l = { .irq = gsi, .level = 1 };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	l.level = 0;
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}

int vm_create_vcpu(struct vm *vm)
{
	int size;

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return err("KVM_CREATE_VCPU");
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return size < 0 ? err("KVM_GET_VCPU_MMAP_SIZE") : -EINVAL;
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return err("mmap kvm_run");
	}
	vm->run_size = size;
	return 0;
}

static void flat_segment(struct kvm_segment *seg, uint16_t sel, uint8_t type)
{
	*seg = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,
		.s = 1,
		.l = 0,
		.g = 1,
	};
}

static uint64_t gdt_entry(uint8_t type)
{
	/* base 0, limit 0xfffff pages, present, DPL 0, code/data, 32-bit, 4K granularity */
	return 0x00cf0000000ffffULL | (uint64_t)(0x90 | type) << 40;
}

/*
 * Start directly in 32-bit protected mode, paging off, flat 4G segments. The hidden segment
 * state comes from KVM_SET_SREGS; the GDT in guest memory only matches it, so that a segment
 * reload (or an emulator that re-reads descriptors) sees the same thing.
 */
int vm_start_protected(struct vm *vm, uint32_t entry, uint32_t stack)
{
	uint64_t gdt[3] = { 0, gdt_entry(0xb), gdt_entry(0x3) };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int e;

	e = vm_write(vm, DEMO_GDT_GPA, gdt, sizeof(gdt));
	if (e) {
		fprintf(stderr, "demo-vmm: GDT at 0x%x is not in RAM\n", DEMO_GDT_GPA);
		return e;
	}
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err("KVM_GET_SREGS");
	flat_segment(&sregs.cs, DEMO_SEL_CODE, 0xb); /* execute/read, accessed */
	flat_segment(&sregs.ds, DEMO_SEL_DATA, 0x3); /* read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = DEMO_GDT_GPA;
	sregs.gdt.limit = sizeof(gdt) - 1;
	/* No IDT: any exception becomes a triple fault, which KVM reports as a shutdown. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x11; /* PE, ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return err("KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsp = stack;
	regs.rflags = 0x2; /* reserved bit 1; interrupts off */
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err("KVM_SET_REGS");
	return 0;
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	for (i = 0; i < vm->nr_slots; i++)
		munmap(vm->slots[i].map, vm->slots[i].map_size);
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

static const struct vm_slot *find_slot(const struct vm *vm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++)
		if (gpa >= vm->slots[i].gpa && gpa - vm->slots[i].gpa < vm->slots[i].size)
			return &vm->slots[i];
	return NULL;
}

void *vm_gpa_to_hva(const struct vm *vm, uint64_t gpa, uint64_t len)
{
	const struct vm_slot *s = find_slot(vm, gpa);

	if (!s || len > s->size - (gpa - s->gpa))
		return NULL;
	return (uint8_t *)s->hva + (gpa - s->gpa);
}

bool vm_range_is_ram(const struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return false;
	while (len) {
		const struct vm_slot *s = find_slot(vm, gpa);
		uint64_t n;

		if (!s)
			return false;
		n = s->size - (gpa - s->gpa);
		if (n > len)
			n = len;
		gpa += n;
		len -= n;
	}
	return true;
}

/* Walks [gpa, gpa + len) slot by slot; validates the whole range before touching a byte. */
static int copy(const struct vm *vm, uint64_t gpa, void *buf, uint64_t len, bool to_guest)
{
	uint8_t *p = buf;

	if (!vm_range_is_ram(vm, gpa, len))
		return -EFAULT;
	while (len) {
		const struct vm_slot *s = find_slot(vm, gpa);
		uint64_t off = gpa - s->gpa, n = s->size - off;

		if (n > len)
			n = len;
		if (to_guest)
			memcpy((uint8_t *)s->hva + off, p, n);
		else
			memcpy(p, (uint8_t *)s->hva + off, n);
		gpa += n;
		p += n;
		len -= n;
	}
	return 0;
}

int vm_write(struct vm *vm, uint64_t gpa, const void *buf, uint64_t len)
{
	return copy(vm, gpa, (void *)buf, len, true);
}

int vm_read(const struct vm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	return copy(vm, gpa, buf, len, false);
}

void vm_dump_regs(const struct vm *vm, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "demo-vmm: cannot read vCPU registers: %s\n", strerror(errno));
		return;
	}
	fprintf(f,
		"  rip %08llx rsp %08llx rflags %08llx\n"
		"  eax %08llx ebx %08llx ecx %08llx edx %08llx\n"
		"  esi %08llx edi %08llx ebp %08llx\n"
		"  cr0 %08llx cs %04x base %llx ds %04x ss %04x\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, s.cr0,
		s.cs.selector, s.cs.base, s.ds.selector, s.ss.selector);
}

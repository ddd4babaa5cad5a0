// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The VM lister reports each VM's KVM_IOEVENTFD registrations as the kernel holds them. The
 * ground truth is this test's own VM: it registers known addresses, lengths, data matches and
 * buses with KVM_IOEVENTFD itself (no vCPU is needed), and the listing must hold exactly them,
 * in registration order, with the lister's cap and its count of the rest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <gma/gma.h>
#include <gma/record.h>

/* The iterator's cap (bpf/kvm_vms.bpf.c GMA_VM_IOEVENTFDS_MAX). */
#define LISTED_MAX 128

struct own_vm {
	int kvm_fd;
	int vm_fd;
};

static void own_vm_create(struct own_vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	cr_assert_geq(vm->kvm_fd, 0, "/dev/kvm: %s", strerror(errno));
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(vm->vm_fd, 0, "KVM_CREATE_VM: %s", strerror(errno));
	cr_assert_gt(ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD), 0,
		     "KVM without KVM_CAP_IOEVENTFD");
}

static void own_vm_destroy(struct own_vm *vm)
{
	close(vm->vm_fd);
	close(vm->kvm_fd);
}

/* Registers one ioeventfd (datamatch < 0: any value); returns its eventfd. */
static int reg(struct own_vm *vm, __u64 addr, __u32 len, bool pio, long long datamatch)
{
	struct kvm_ioeventfd io = { .addr = addr, .len = len };
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	cr_assert_geq(fd, 0, "eventfd: %s", strerror(errno));
	io.fd = fd;
	if (pio)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (datamatch >= 0) {
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		io.datamatch = datamatch;
	}
	cr_assert_eq(ioctl(vm->vm_fd, KVM_IOEVENTFD, &io), 0,
		     "KVM_IOEVENTFD addr 0x%llx len %u: %s", (unsigned long long)addr, len,
		     strerror(errno));
	return fd;
}

/* This process's VM in a fresh listing (freed by the caller with gma_vms_free). */
static const struct gma_vm *list_own(struct gma_vm **vms, size_t *n)
{
	const struct gma_vm *vm;
	int err = gma_vms_list(vms, n);

	cr_assert_eq(err, 0, "gma_vms_list: %s", strerror(-err));
	vm = gma_vms_find_pid(*vms, *n, getpid());
	cr_assert_not_null(vm, "this process's VM is not listed (%zu VMs)", *n);
	return vm;
}

static void expect(const struct gma_ioeventfd *e, __u8 bus, __u64 addr, __u32 len,
		   long long datamatch, size_t i)
{
	cr_expect_eq(e->bus, bus, "ioeventfd %zu: bus %s, registered %s", i, gma_bus_name(e->bus),
		     gma_bus_name(bus));
	cr_expect_eq(e->addr, addr, "ioeventfd %zu: addr 0x%llx, registered 0x%llx", i,
		     (unsigned long long)e->addr, (unsigned long long)addr);
	cr_expect_eq(e->len, len, "ioeventfd %zu: len %u, registered %u", i, e->len, len);
	cr_expect_eq(e->wildcard, datamatch < 0, "ioeventfd %zu: wildcard %d", i, e->wildcard);
	if (datamatch >= 0)
		cr_expect_eq(e->datamatch, (__u64)datamatch, "ioeventfd %zu: datamatch %llu, %lld",
			     i, (unsigned long long)e->datamatch, datamatch);
}

/*
 * Each bus and kind: two queues sharing a virtio-mmio QueueNotify (datamatch = queue index),
 * a legacy virtio-pci I/O port, and a length-0 MMIO registration (any width, any value),
 * which KVM puts on the MMIO bus and on the fast MMIO bus: two entries.
 */
Test(vms, ioeventfds_listed)
{
	struct own_vm own;
	struct gma_vm *vms;
	const struct gma_vm *vm;
	size_t n;

	own_vm_create(&own);
	reg(&own, 0xd0001050, 4, false, 0);
	reg(&own, 0xd0001050, 4, false, 1);
	reg(&own, 0xc010, 2, true, 3);
	reg(&own, 0xe0003000, 0, false, -1);

	vm = list_own(&vms, &n);
	cr_assert_eq(vm->nr_ioeventfds, 5, "%zu ioeventfds listed, 5 registered",
		     vm->nr_ioeventfds);
	cr_expect_eq(vm->ioeventfds_more, 0);
	cr_expect_eq(vm->flags & GMA_VM_IOEVENTFDS_INCOMPLETE, 0);
	expect(&vm->ioeventfds[0], GMA_BUS_MMIO, 0xd0001050, 4, 0, 0);
	expect(&vm->ioeventfds[1], GMA_BUS_MMIO, 0xd0001050, 4, 1, 1);
	expect(&vm->ioeventfds[2], GMA_BUS_PIO, 0xc010, 2, 3, 2);
	expect(&vm->ioeventfds[3], GMA_BUS_MMIO, 0xe0003000, 0, -1, 3);
	expect(&vm->ioeventfds[4], GMA_BUS_FAST_MMIO, 0xe0003000, 0, -1, 4);
	gma_vms_free(vms, n);
	own_vm_destroy(&own);
}

/* Past the cap the rest is counted, and the first LISTED_MAX are the first registered. */
Test(vms, ioeventfds_capped)
{
	const unsigned int total = LISTED_MAX + 72;
	struct own_vm own;
	struct gma_vm *vms;
	const struct gma_vm *vm;
	size_t n;

	own_vm_create(&own);
	for (unsigned int i = 0; i < total; i++)
		reg(&own, 0x1000 + 4 * i, 4, true, i);
	vm = list_own(&vms, &n);
	cr_assert_eq(vm->nr_ioeventfds, LISTED_MAX, "%zu listed, the cap is %d", vm->nr_ioeventfds,
		     LISTED_MAX);
	cr_expect_eq(vm->ioeventfds_more, total - LISTED_MAX, "%u counted past the cap, %u",
		     vm->ioeventfds_more, total - LISTED_MAX);
	cr_expect_eq(vm->flags & GMA_VM_IOEVENTFDS_INCOMPLETE, 0);
	for (size_t i = 0; i < vm->nr_ioeventfds; i++)
		expect(&vm->ioeventfds[i], GMA_BUS_PIO, 0x1000 + 4 * i, 4, i, i);
	gma_vms_free(vms, n);
	own_vm_destroy(&own);
}

/* A registration taken back (KVM_IOEVENTFD_FLAG_DEASSIGN) is gone from the next listing. */
Test(vms, ioeventfd_deassigned)
{
	struct kvm_ioeventfd io = { .addr = 0xd0002050,
				    .len = 4,
				    .datamatch = 1,
				    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
					     KVM_IOEVENTFD_FLAG_DEASSIGN };
	struct gma_vm_lister *l = gma_vm_lister_new();
	struct own_vm own;
	struct gma_vm *vms;
	const struct gma_vm *vm;
	size_t n;

	cr_assert_not_null(l, "gma_vm_lister_new: %s", strerror(errno));
	own_vm_create(&own);
	reg(&own, 0xd0002050, 4, false, 0);
	io.fd = reg(&own, 0xd0002050, 4, false, 1);
	cr_assert_eq(gma_vm_lister_list(l, &vms, &n), 0);
	vm = gma_vms_find_pid(vms, n, getpid());
	cr_assert(vm && vm->nr_ioeventfds == 2);
	gma_vms_free(vms, n);

	cr_assert_eq(ioctl(own.vm_fd, KVM_IOEVENTFD, &io), 0, "deassign: %s", strerror(errno));
	cr_assert_eq(gma_vm_lister_list(l, &vms, &n), 0);
	vm = gma_vms_find_pid(vms, n, getpid());
	cr_assert_not_null(vm);
	cr_assert_eq(vm->nr_ioeventfds, 1, "%zu listed after the deassign", vm->nr_ioeventfds);
	expect(&vm->ioeventfds[0], GMA_BUS_MMIO, 0xd0002050, 4, 0, 0);
	gma_vms_free(vms, n);
	gma_vm_lister_free(l);
	own_vm_destroy(&own);
}

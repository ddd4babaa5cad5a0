// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The VM lister reports each VM's KVM_IOEVENTFD registrations as the kernel holds them. The
 * ground truth is this test's own VM: it registers known addresses, lengths, data matches and
 * buses with KVM_IOEVENTFD itself (no vCPU is needed), and the listing must hold exactly them,
 * in registration order, with the lister's cap and its count of the rest.
 *
 * Then what the tracer does with them: the demo VMM with --ioeventfd registers its
 * virtio-mmio notifies and holds its guest before the first request (--hold requests) until
 * gma-trace rings --pid, attached late and given no queue, is running. Its notifies are then
 * explained by no known queue: gma-trace must count them per address and queue exactly as
 * the VMM's own eventfd counts (ioeventfd_total), and, while the guest was held, say that the
 * VM did nothing at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <dirent.h>

#include <gma/gma.h>
#include <gma/record.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"

/* The iterator's cap (bpf/kvm_vms.bpf.c GMA_VM_IOEVENTFDS_MAX). */
#define LISTED_MAX 128

/*
 * What the demo's devices register (the test's own VM registers the same): the blk and console
 * windows' QueueNotify, a legacy virtio-pci notify port at the first I/O BAR, a modern
 * virtio-pci notify area in the first memory BAR (at 0x3000, as tools/demo-vmm/virtio-pci.c
 * lays out its BARs).
 */
#define BLK_NOTIFY (DEMO_VIRTIO_BLK_BASE + VIRTIO_MMIO_QUEUE_NOTIFY)
#define CONSOLE_NOTIFY (DEMO_VIRTIO_CONSOLE_BASE + VIRTIO_MMIO_QUEUE_NOTIFY)
#define LEGACY_PCI_NOTIFY (DEMO_PCI_IO_BASE + VIRTIO_PCI_QUEUE_NOTIFY)
#define MODERN_PCI_NOTIFY (DEMO_PCI_MEM_BASE + 0x3000)

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
	int err = gma_vms_list(vms, n, sizeof(**vms));

	cr_assert_eq(err, 0, "gma_vms_list: %s", strerror(-err));
	vm = gma_vms_find_pid(*vms, *n, sizeof(**vms), getpid());
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
	reg(&own, BLK_NOTIFY, 4, false, 0);
	reg(&own, BLK_NOTIFY, 4, false, 1);
	reg(&own, LEGACY_PCI_NOTIFY, 2, true, 3);
	reg(&own, MODERN_PCI_NOTIFY, 0, false, -1);

	vm = list_own(&vms, &n);
	cr_assert_eq(vm->nr_ioeventfds, 5, "%zu ioeventfds listed, 5 registered",
		     vm->nr_ioeventfds);
	cr_expect_eq(vm->ioeventfds_more, 0);
	cr_expect_eq(vm->flags & GMA_VM_IOEVENTFDS_INCOMPLETE, 0);
	expect(gma_vm_ioeventfd(vm, 0), GMA_BUS_MMIO, BLK_NOTIFY, 4, 0, 0);
	expect(gma_vm_ioeventfd(vm, 1), GMA_BUS_MMIO, BLK_NOTIFY, 4, 1, 1);
	expect(gma_vm_ioeventfd(vm, 2), GMA_BUS_PIO, LEGACY_PCI_NOTIFY, 2, 3, 2);
	expect(gma_vm_ioeventfd(vm, 3), GMA_BUS_MMIO, MODERN_PCI_NOTIFY, 0, -1, 3);
	expect(gma_vm_ioeventfd(vm, 4), GMA_BUS_FAST_MMIO, MODERN_PCI_NOTIFY, 0, -1, 4);
	gma_vms_free(vms);
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
		expect(gma_vm_ioeventfd(vm, i), GMA_BUS_PIO, 0x1000 + 4 * i, 4, i, i);
	gma_vms_free(vms);
	own_vm_destroy(&own);
}

/* A registration taken back (KVM_IOEVENTFD_FLAG_DEASSIGN) is gone from the next listing. */
Test(vms, ioeventfd_deassigned)
{
	struct kvm_ioeventfd io = { .addr = CONSOLE_NOTIFY,
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
	reg(&own, CONSOLE_NOTIFY, 4, false, 0);
	io.fd = reg(&own, CONSOLE_NOTIFY, 4, false, 1);
	cr_assert_eq(gma_vm_lister_list(l, &vms, &n, sizeof(*vms)), 0);
	vm = gma_vms_find_pid(vms, n, sizeof(*vms), getpid());
	cr_assert(vm && vm->nr_ioeventfds == 2);
	gma_vms_free(vms);

	cr_assert_eq(ioctl(own.vm_fd, KVM_IOEVENTFD, &io), 0, "deassign: %s", strerror(errno));
	cr_assert_eq(gma_vm_lister_list(l, &vms, &n, sizeof(*vms)), 0);
	vm = gma_vms_find_pid(vms, n, sizeof(*vms), getpid());
	cr_assert_not_null(vm);
	cr_assert_eq(vm->nr_ioeventfds, 1, "%zu listed after the deassign", vm->nr_ioeventfds);
	expect(gma_vm_ioeventfd(vm, 0), GMA_BUS_MMIO, CONSOLE_NOTIFY, 4, 0, 0);
	gma_vms_free(vms);
	gma_vm_lister_free(l);
	own_vm_destroy(&own);
}

/* Creates the temporary file named by the template in path (its XXXXXX replaced). */
static void make_temp(char *path)
{
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0, "mkstemp %s: %s", path, strerror(errno));
	close(fd);
}

/* The VMM's registrations, from its log: {"event":"ioeventfd_register",...,"addr","len",...}. */
static size_t truth_registrations(struct json_object **regs, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < truth.n && n < cap; i++)
		if (is(truth.v[i], "event", "ioeventfd_register"))
			regs[n++] = truth.v[i];
	return n;
}

/*
 * gma-trace vms -j lists the VMM's registrations exactly, in order. KVM keeps a length-0 MMIO
 * registration twice, on its MMIO bus and then on its fast MMIO bus: two entries.
 */
static void expect_vms_lists(pid_t pid)
{
	struct json_object *all, *vm = NULL, *list, *regs[64];
	size_t n, k = 0;
	char *out;
	int status = run_capture(GMA_OUTPUT "/gma-trace vms -j", &out);

	cr_assert_eq(status, 0, "gma-trace vms -j failed: %s", out);
	all = json_tokener_parse(out);
	cr_assert_not_null(all, "gma-trace vms -j: not JSON: %s", out);
	for (size_t i = 0; i < json_object_array_length(all); i++)
		if (num(json_object_array_get_idx(all, i), "pid") == (__u64)pid)
			vm = json_object_array_get_idx(all, i);
	cr_assert_not_null(vm, "VM pid %d not in gma-trace vms", pid);
	cr_assert(json_object_object_get_ex(vm, "ioeventfds", &list));
	n = truth_registrations(regs, 64);
	cr_assert_gt(n, 0, "the VMM logged no ioeventfd_register");
	for (size_t i = 0; i < n; i++) {
		bool twice = is(regs[i], "bus", "mmio") && !num(regs[i], "len");

		for (int copy = 0; copy <= twice; copy++, k++) {
			struct json_object *e = json_object_array_get_idx(list, k);

			cr_assert_not_null(e, "registration %zu (%s) not listed", i,
					   json_object_to_json_string(regs[i]));
			cr_expect(is(e, "bus", copy ? "fast-mmio" : str(regs[i], "bus")),
				  "ioeventfd %zu: bus %s", k, str(e, "bus"));
			cr_expect_eq(num(e, "addr"), num(regs[i], "addr"), "ioeventfd %zu: addr",
				     k);
			cr_expect_eq(num(e, "len"), num(regs[i], "len"), "ioeventfd %zu: len", k);
			cr_expect_eq(json_object_get_boolean(json_object_object_get(e, "wildcard")),
				     json_object_get_boolean(
					     json_object_object_get(regs[i], "wildcard")),
				     "ioeventfd %zu: wildcard", k);
			cr_expect_eq(num(e, "datamatch"), num(regs[i], "datamatch"),
				     "ioeventfd %zu: datamatch", k);
		}
	}
	cr_expect_eq(json_object_array_length(list), k, "%zu ioeventfds listed, %zu expected",
		     json_object_array_length(list), k);
	json_object_put(all);
	free(out);
}

/* gma's count at addr, every value and bus together. */
static __u64 summary_count_at(struct json_object *summary, __u64 addr)
{
	struct json_object *list;
	__u64 n = 0;

	cr_assert(json_object_object_get_ex(summary, "unexplained_notifies", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (num(json_object_array_get_idx(list, i), "addr") == addr)
			n += num(json_object_array_get_idx(list, i), "count");
	return n;
}

/* The VMM's eventfd count at addr, every queue together. */
static __u64 truth_count_at(__u64 addr)
{
	__u64 n = 0;

	for (size_t i = 0; i < truth.n; i++)
		if (is(truth.v[i], "event", "ioeventfd_total") && num(truth.v[i], "addr") == addr)
			n += num(truth.v[i], "notifies");
	return n;
}

/* The unexplained notify of (addr, data) in the trace's summary, or NULL. */
static struct json_object *summary_unexplained(struct json_object *summary, __u64 addr, __u64 data)
{
	struct json_object *list;

	cr_assert(json_object_object_get_ex(summary, "unexplained_notifies", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *u = json_object_array_get_idx(list, i);

		if (num(u, "addr") == addr && num(u, "data") == data)
			return u;
	}
	return NULL;
}

Test(trace, late_ioeventfd_unexplained, .init = test_clock_start, .timeout = TEST_LIMIT_S)
{
	const char *const args[] = { "--ioeventfd", "--transport", "both",	  "--hold",
				     "requests",    "--seconds",   vmm_seconds(), NULL };
	char cmd[512], text_path[64], err_path[64];
	struct json_object *summary = NULL, *quiet = NULL, *list;
	struct demo_vm vm;
	size_t compared = 0, records = 0;
	pid_t json_trace, text_trace;

	demo_vm_start(&vm, args);
	cr_assert(wait_lines(vm.log_path, "\"event\":\"held\"", 1, vm.pid),
		  "the guest was not held before its first request");
	load_jsonl(vm.log_path, &truth, false);
	expect_vms_lists(vm.pid);

	/* one trace in JSON, one in text, both attached while the guest is held */
	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-ioev-trace.XXXXXX");
	snprintf(text_path, sizeof(text_path), "/tmp/gma-ioev-text.XXXXXX");
	snprintf(err_path, sizeof(err_path), "/tmp/gma-ioev-err.XXXXXX");
	make_temp(trace_path);
	make_temp(text_path);
	make_temp(err_path);
	snprintf(cmd, sizeof(cmd), "exec %s/gma-trace rings --pid %d -j > %s 2>%s", GMA_OUTPUT,
		 vm.pid, trace_path, err_path);
	json_trace = spawn_shell(cmd);
	snprintf(cmd, sizeof(cmd), "exec %s/gma-trace rings --pid %d > /dev/null 2>%s", GMA_OUTPUT,
		 vm.pid, text_path);
	text_trace = spawn_shell(cmd);
	/* held: no exit, no notify; both say so once the quiet time has passed */
	cr_assert(wait_lines(trace_path, "\"type\":\"quiet\"", 1, json_trace),
		  "gma-trace -j said nothing of a VM that did nothing");
	cr_assert(wait_lines(text_path, "no VirtIO notify in", 1, text_trace),
		  "gma-trace said nothing of a VM that did nothing");
	/* released: the guest notifies, both say so while they trace; then the VMM is stopped */
	kill(vm.pid, SIGUSR1);
	cr_assert(wait_lines(text_path, "that no known queue explains", 1, text_trace),
		  "gma-trace did not say that notifies go unexplained");
	cr_assert(wait_lines(trace_path, "\"type\":\"unexplained_notify\"", 1, json_trace),
		  "gma-trace -j wrote no unexplained_notify record");
	demo_vm_stop_keep_log(&vm);
	/* their VM gone, both end by themselves */
	cr_assert_eq(wait_exit_by_deadline(json_trace, "gma-trace rings -j"), 0);
	cr_assert_eq(wait_exit_by_deadline(text_trace, "gma-trace rings"), 0);

	for (size_t i = 0; i < truth.n; i++) /* loaded again: the whole run */
		json_object_put(truth.v[i]);
	load_jsonl(vm.log_path, &truth, false);
	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++) {
		if (is(trace.v[i], "type", "summary"))
			summary = trace.v[i];
		if (is(trace.v[i], "type", "quiet"))
			quiet = trace.v[i];
		if (is(trace.v[i], "type", "unexplained_notify"))
			records++;
	}
	cr_assert_not_null(quiet);
	cr_expect_eq(num(quiet, "vcpu_events"), 0,
		     "%llu vCPU exits counted while the guest was held",
		     (unsigned long long)num(quiet, "vcpu_events"));
	cr_assert_not_null(summary, "no summary record");
	cr_expect_gt(records, 0, "no unexplained_notify record");
	/*
	 * Every notify the VMM's eventfds counted, counted by gma: per address and queue where
	 * the registration has a datamatch (virtio-mmio, legacy virtio-pci's port); per address
	 * where it takes any value (modern virtio-pci: the value is the guest's, and on Intel a
	 * fast MMIO write carries none).
	 */
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *reg = NULL, *u;
		bool pio = is(t, "bus", "pio");
		__u64 addr;

		if (!is(t, "event", "ioeventfd_total") || !num(t, "notifies"))
			continue;
		addr = num(t, "addr");
		compared++;
		for (size_t k = 0; k < truth.n && !reg; k++)
			if (is(truth.v[k], "event", "ioeventfd_register") &&
			    num(truth.v[k], "addr") == addr &&
			    num(truth.v[k], "queue") == num(t, "queue"))
				reg = truth.v[k];
		cr_assert_not_null(reg);
		cr_expect_eq(summary_count_at(summary, addr), truth_count_at(addr),
			     "0x%llx: gma counted %llu notifies, the VMM's eventfds %llu",
			     (unsigned long long)addr,
			     (unsigned long long)summary_count_at(summary, addr),
			     (unsigned long long)truth_count_at(addr));
		if (json_object_get_boolean(json_object_object_get(reg, "wildcard")))
			continue;
		u = summary_unexplained(summary, addr, num(t, "queue"));
		cr_expect_not_null(u, "notifies on 0x%llx queue %llu not counted",
				   (unsigned long long)addr, (unsigned long long)num(t, "queue"));
		if (!u)
			continue;
		cr_expect_eq(num(u, "count"), num(t, "notifies"),
			     "0x%llx queue %llu: gma counted %llu notifies, the VMM's eventfd %llu",
			     (unsigned long long)addr, (unsigned long long)num(t, "queue"),
			     (unsigned long long)num(u, "count"),
			     (unsigned long long)num(t, "notifies"));
		cr_expect(is(u, "bus", pio ? "pio" : "mmio"));
		/* the text summary says the same */
		snprintf(cmd, sizeof(cmd),
			 "%llu %s on %s 0x%llx (ioeventfd, queue %llu) no known queue "
			 "explains",
			 (unsigned long long)num(t, "notifies"),
			 num(t, "notifies") == 1 ? "notify" : "notifies", pio ? "port" : "address",
			 (unsigned long long)addr, (unsigned long long)num(t, "queue"));
		cr_expect_eq(count_lines(text_path, cmd), 1, "not in the text summary: %s", cmd);
	}
	cr_assert_gt(compared, 0, "the VMM counted no notify");
	/* nothing counted where the VMM's eventfds counted nothing */
	list = json_object_object_get(summary, "unexplained_notifies");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		__u64 addr = num(json_object_array_get_idx(list, i), "addr");

		cr_expect_gt(truth_count_at(addr), 0,
			     "gma counted notifies on 0x%llx, the VMM none",
			     (unsigned long long)addr);
	}
	/* and what to do, in the summary and in the messages while tracing */
	cr_expect_eq(count_lines(text_path, "pass --qmp SOCKET or --queue for the queues"), 1);
	cr_expect_geq(count_lines(text_path, "that no known queue explains: the device was set up "
					     "before the trace started; pass --qmp SOCKET"),
		      1);
	cr_expect_eq(count_lines(text_path, "none of its vCPUs exited"), 1);
	unlink(text_path);
	unlink(err_path);
	trace_run_cleanup();
	demo_vm_stop(&vm);
}

/*
 * A running VM's virtio-pci queues given with --queue (as QMP gives them): the tracer never
 * saw the functions' BARs, so it cannot decode their notifies, yet notifies with a given
 * queue's index are taken as its and its chains are traced; the others are counted. Given:
 * blk q0 (modern) and net q0 (legacy); left out: console q0, q1 (modern) and net q1. So the
 * notifies with index 1 (console's and net's transmit queues) are counted, as many as the
 * VMM's eventfds counted, and nothing else is (receive queues get no notify here).
 */
static bool given(struct json_object *t)
{
	return (is(t, "dev", "blk") || is(t, "dev", "net")) && num(t, "queue") == 0;
}

Test(trace, imported_pci_queues_explain_their_notifies, .init = test_clock_start,
     .timeout = TEST_LIMIT_S)
{
	const char *const args[] = { "--ioeventfd", "--transport", "pci",	  "--hold",
				     "requests",    "--seconds",   vmm_seconds(), NULL };
	char queues[2048] = "", cmd[3072], blk_pci[32], net_pci[32];
	struct json_object *summary = NULL, *list;
	__u64 left_out[2] = { 0 }, traced = 0;
	struct demo_vm vm;
	size_t len = 0;
	pid_t json_trace;

	demo_vm_start(&vm, args);
	cr_assert(wait_lines(vm.log_path, "\"event\":\"held\"", 1, vm.pid),
		  "the guest was not held before its first request");
	load_jsonl(vm.log_path, &truth, false);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (is(t, "event", "ioeventfd_register") && num(t, "queue") == 1)
			left_out[is(t, "dev", "net")] = num(t, "addr");
		if (!is(t, "event", "queue") || !is(t, "transport", "pci") || !given(t))
			continue;
		len += snprintf(
			queues + len, sizeof(queues) - len,
			" --queue pci=%s,index=%llu,num=%llu,desc=%llu,driver=%llu,device=%llu",
			str(t, "pci"), (unsigned long long)num(t, "queue"),
			(unsigned long long)num(t, "size"), (unsigned long long)num(t, "desc"),
			(unsigned long long)num(t, "driver"), (unsigned long long)num(t, "device"));
		cr_assert_lt(len, sizeof(queues));
	}
	snprintf(blk_pci, sizeof(blk_pci), "pci=0000:00:%02x.0", DEMO_PCI_SLOT_BLK);
	snprintf(net_pci, sizeof(net_pci), "pci=0000:00:%02x.0", DEMO_PCI_SLOT_NET);
	cr_assert(strstr(queues, blk_pci) && strstr(queues, net_pci),
		  "the VMM logged no layout of blk or net q0: %s", queues);
	cr_assert(left_out[0] && left_out[1], "console q1 or net q1 was not registered");

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-ioev-pci.XXXXXX");
	make_temp(trace_path);
	snprintf(cmd, sizeof(cmd), "exec %s/gma-trace rings --pid %d -j%s > %s 2>/dev/null",
		 GMA_OUTPUT, vm.pid, queues, trace_path);
	json_trace = spawn_shell(cmd);
	/* attached: the VM, held, is said to be quiet */
	cr_assert(wait_lines(trace_path, "\"type\":\"quiet\"", 1, json_trace), "%s", cmd);
	kill(vm.pid, SIGUSR1);
	cr_assert(wait_lines(trace_path, "\"type\":\"unexplained_notify\"", 2, json_trace),
		  "the notifies of the queues left out were not counted");
	cr_assert(wait_lines(trace_path, "\"type\":\"chain\"", 8, json_trace),
		  "the given queues' chains were not traced");
	demo_vm_stop_keep_log(&vm);
	cr_assert_eq(wait_exit_by_deadline(json_trace, cmd), 0, "%s", cmd);

	for (size_t i = 0; i < truth.n; i++)
		json_object_put(truth.v[i]);
	load_jsonl(vm.log_path, &truth, false);
	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "summary"))
			summary = trace.v[i];
	cr_assert_not_null(summary);
	list = json_object_object_get(summary, "unexplained_notifies");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *u = json_object_array_get_idx(list, i);

		cr_expect(num(u, "addr") == left_out[0] || num(u, "addr") == left_out[1],
			  "notifies on 0x%llx counted unexplained, its queue was given",
			  (unsigned long long)num(u, "addr"));
		cr_expect_eq(num(u, "data"), 1, "value %llu counted: a given queue has that index",
			     (unsigned long long)num(u, "data"));
	}
	for (int k = 0; k < 2; k++) {
		cr_expect_gt(truth_count_at(left_out[k]), 0);
		cr_expect_eq(
			summary_count_at(summary, left_out[k]), truth_count_at(left_out[k]),
			"0x%llx (left out): gma counted %llu notifies, the VMM's eventfds %llu",
			(unsigned long long)left_out[k],
			(unsigned long long)summary_count_at(summary, left_out[k]),
			(unsigned long long)truth_count_at(left_out[k]));
	}
	/* every chain of a queue given was traced, whatever its notify went through */
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (!is(t, "event", "chain") || !given(t))
			continue;
		cr_expect_not_null(find_chain(num(t, "base"), num(t, "queue"), num(t, "avail_idx")),
				   "%s q%llu chain at avail %llu not traced", str(t, "dev"),
				   (unsigned long long)num(t, "queue"),
				   (unsigned long long)num(t, "avail_idx"));
		traced++;
	}
	cr_expect_gt(traced, 0);
	trace_run_cleanup();
	demo_vm_stop(&vm);
}

/*
 * The fd of this process's one BPF map named `name`: one of the tracer's, found by the ids
 * its fds name in /proc/self/fdinfo.
 */
static int own_map(const char *name)
{
	char path[300], line[128];
	struct dirent *e;
	int found = -1;
	DIR *d = opendir("/proc/self/fdinfo");

	cr_assert_not_null(d, "/proc/self/fdinfo: %s", strerror(errno));
	while ((e = readdir(d))) {
		FILE *f;
		__u32 id;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			int fd;

			if (sscanf(line, "map_id: %u", &id) != 1)
				continue;
			fd = bpf_map_get_fd_by_id(id);
			if (fd < 0)
				continue;
			if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name) &&
			    found < 0)
				found = fd;
			else
				close(fd);
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	cr_assert_geq(found, 0, "the tracer has no BPF map named %s", name);
	return found;
}

/* Whether BPF map fd holds an entry. */
static bool map_holds_entries(int fd)
{
	__u8 key[256];

	return !bpf_map_get_next_key(fd, NULL, key);
}

/*
 * The unexplained notifies of a VM that has exited still name the registration they hit
 * (which queue): the tracer's copy of the VM's registrations (its map "ioeventfds"), read
 * again every second, drops a VM once it is gone, and keeps its last registrations aside.
 * Before, a summary made after such a refresh said "any value" where it had said "queue 1"
 * (seen in a loaded vmtest run). Compared: the notifies as named once the VM has stopped
 * but before the tracer has polled since (no refresh: its copy is still the VM's), and as
 * named once its copy no longer holds the VM (a refresh made with the VM gone), waited for
 * in that copy, not for a time the refresh is expected to take.
 */
Test(trace, unexplained_notifies_keep_their_registration_after_the_vm_exits,
     .init = test_clock_start, .timeout = TEST_LIMIT_S)
{
	const char *const args[] = { "--ioeventfd", "--transport", "mmio",	  "--hold",
				     "requests",    "--seconds",   vmm_seconds(), NULL };
	struct gma_unexplained_notify *before = NULL, *after = NULL;
	GMA_OPTS(gma_tracer_opts, opts);
	size_t nbefore = 0, nafter = 0;
	struct gma_tracer *t;
	struct demo_vm vm;
	int map;

	demo_vm_start(&vm, args);
	cr_assert(wait_lines(vm.log_path, "\"event\":\"held\"", 1, vm.pid),
		  "the guest was not held before its first request");
	opts.pid = vm.pid;
	t = gma_tracer_new(&opts);
	cr_assert(t, "gma_tracer_new: %s", strerror(errno));
	map = own_map("ioeventfds");
	kill(vm.pid, SIGUSR1);
	while (!nbefore) {
		gma_tracer_poll(t, 100);
		free(before);
		cr_assert_eq(gma_tracer_unexplained_notifies(t, &before, &nbefore, sizeof(*before),
							     NULL),
			     0);
		cr_assert_gt(test_seconds_left(), 0,
			     "no unexplained notify by the test's deadline");
	}
	/* the VM gone: its notifies all counted, named while the tracer's copy still has it */
	demo_vm_stop(&vm);
	free(before);
	cr_assert(map_holds_entries(map), "the tracer's copy holds no registration of its VM");
	cr_assert_eq(gma_tracer_unexplained_notifies(t, &before, &nbefore, sizeof(*before), NULL),
		     0);
	/* until a refresh made with the VM gone has dropped it from the copy */
	while (map_holds_entries(map)) {
		gma_tracer_poll(t, 100);
		cr_assert_gt(test_seconds_left(), 0,
			     "the tracer still holds the registrations of a VM that exited");
	}
	cr_assert_eq(gma_tracer_unexplained_notifies(t, &after, &nafter, sizeof(*after), NULL), 0);
	cr_assert_eq(nafter, nbefore);
	for (size_t i = 0; i < nbefore; i++) {
		const struct gma_unexplained_notify *b = &before[i], *a = NULL;

		cr_assert_gt(b->reg_len, 0, "0x%llx: no registration while the VM ran",
			     (unsigned long long)b->addr);
		for (size_t k = 0; k < nafter && !a; k++)
			if (after[k].addr == b->addr && after[k].data == b->data)
				a = &after[k];
		cr_assert_not_null(a, "0x%llx value %llu no longer counted",
				   (unsigned long long)b->addr, (unsigned long long)b->data);
		cr_expect(a->reg_len == b->reg_len && a->reg_datamatch == b->reg_datamatch &&
				  a->reg_wildcard == b->reg_wildcard &&
				  a->reg_shared == b->reg_shared,
			  "once the VM exited, 0x%llx's registration: len %u datamatch %llu "
			  "shared %d; while it ran: len %u datamatch %llu shared %d",
			  (unsigned long long)a->addr, a->reg_len,
			  (unsigned long long)a->reg_datamatch, a->reg_shared, b->reg_len,
			  (unsigned long long)b->reg_datamatch, b->reg_shared);
	}
	close(map);
	free(before);
	free(after);
	gma_tracer_free(t);
}

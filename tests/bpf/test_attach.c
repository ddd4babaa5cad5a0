// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chains in flight when gma-trace attaches to a running VM with --queue: each is listed once,
 * decoded as gma-trace prints chains and marked "in flight at attach, age unknown", and its
 * completion later says age unknown instead of a latency.
 *
 * The demo VMM holds every completion (--hold completions) until SIGUSR1: its guest's first
 * blk request (an indirect chain whose data buffer holds the guest's pattern) and, with
 * --suppress, the net receive buffers it posts at once stay in flight, and the guest queues
 * nothing more while its request is outstanding. The VMM's log of those chains is the ground
 * truth the listing is compared with, descriptor by descriptor.
 *
 * The cap on the listing is checked on a VM of the test's own (no vCPU needed): a memslot
 * holding a ring it wrote with more chains in flight than are listed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/virtio_ring.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <gma/gma.h>
#include <gma/virtio.h>

#include "demo_vm.h"
#include "q35_virtio_pci.h"
#include "trace_run.h"

#include "../../tools/demo-vmm/demo-abi.h"
#include "../../tools/demo-vmm/pattern.h"

TestSuite(attach, .init = test_clock_start, .timeout = TEST_LIMIT_S);

/* --queue for the VMM's queue (dev, q) as its log gave it, type = VIRTIO_ID_* */
static void queue_arg(char *buf, size_t size, const char *dev, __u64 q, unsigned int type)
{
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (!is(t, "event", "queue") || !is(t, "dev", dev) || num(t, "queue") != q)
			continue;
		snprintf(buf, size,
			 "--queue base=%llu,index=%llu,num=%llu,desc=%llu,driver=%llu,"
			 "device=%llu,type=%u",
			 num(t, "base"), q, num(t, "size"), num(t, "desc"), num(t, "driver"),
			 num(t, "device"), type);
		return;
	}
	cr_assert_fail("the VMM logged no layout of %s q%llu", dev, q);
}

static bool traced_queue(struct json_object *t)
{
	return (is(t, "dev", "blk") || is(t, "dev", "net")) && num(t, "queue") == 0;
}

/* The record of type at (base, queue[, avail_idx]) in the trace, or NULL. */
static struct json_object *find(const char *type, __u64 base, __u64 queue, long avail_idx)
{
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i];

		if (is(o, "type", type) && num(o, "base") == base && num(o, "queue") == queue &&
		    (avail_idx < 0 || num(o, "avail_idx") == (__u64)avail_idx))
			return o;
	}
	return NULL;
}

Test(attach, in_flight_chains_listed_once)
{
	const char *const args[] = { "--hold",	  "completions", "--suppress",
				     "--seconds", vmm_seconds(), NULL };
	char blk_q[256], net_q[256], cmd[1024], text_path[64];
	size_t expected = 0, per_queue[2] = { 0 }, listed = 0;
	__u64 blk_head = ~0ULL, blk_base = 0;
	struct json_object *done = NULL;
	pid_t json_trace, text_trace;
	struct demo_vm vm;

	demo_vm_start(&vm, args);
	cr_assert(wait_lines(vm.log_path, "\"event\":\"chain\",\"dev\":\"blk\"", 1, vm.pid),
		  "the guest made no blk request");
	/* nothing completes and the guest waits for its request: these chains stay as they are */
	load_jsonl(vm.log_path, &truth, false);
	queue_arg(blk_q, sizeof(blk_q), "blk", 0, 2);
	queue_arg(net_q, sizeof(net_q), "net", 0, 1);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i];

		if (!is(t, "event", "chain") || !traced_queue(t))
			continue;
		expected++;
		per_queue[is(t, "dev", "net")]++;
		if (is(t, "dev", "blk")) {
			blk_head = num(t, "head");
			blk_base = num(t, "base");
		}
	}
	cr_assert_eq(per_queue[0], 1, "%zu blk chains in flight, the guest makes one at first",
		     per_queue[0]);
	cr_assert_gt(per_queue[1], 0, "no net receive buffer posted (--suppress)");

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-attach-trace.XXXXXX");
	snprintf(text_path, sizeof(text_path), "/tmp/gma-attach-text.XXXXXX");
	close(mkstemp(trace_path));
	close(mkstemp(text_path));
	snprintf(cmd, sizeof(cmd), "exec %s/gma-trace rings --pid %d -j --completions %s %s > %s",
		 GMA_OUTPUT, vm.pid, blk_q, net_q, trace_path);
	json_trace = spawn_shell(cmd);
	snprintf(cmd, sizeof(cmd),
		 "exec %s/gma-trace rings --pid %d --completions %s %s > %s 2>/dev/null",
		 GMA_OUTPUT, vm.pid, blk_q, net_q, text_path);
	text_trace = spawn_shell(cmd);
	cr_assert(wait_lines(trace_path, "\"type\":\"attach\"", 2, json_trace),
		  "gma-trace -j listed no chains in flight at attach");
	cr_assert(wait_lines(text_path, "in flight at attach, age unknown", expected, text_trace),
		  "gma-trace listed fewer than %zu chains in flight at attach", expected);
	/* the held completions go: the blk request completes, age unknown */
	kill(vm.pid, SIGUSR1);
	cr_assert(wait_lines(trace_path, "\"age_unknown\":true}", 1, json_trace),
		  "no completion record with its age unknown");
	cr_assert(wait_lines(text_path, "age unknown (in flight at attach)", 1, text_trace));
	demo_vm_stop_keep_log(&vm);
	/* their VM gone, both end by themselves */
	cr_assert_eq(wait_exit_by_deadline(json_trace, "gma-trace rings -j"), 0);
	cr_assert_eq(wait_exit_by_deadline(text_trace, "gma-trace rings"), 0);

	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "attach_chain"))
			listed++;
	cr_expect_eq(listed, expected, "%zu chains listed at attach, %zu were in flight", listed,
		     expected);
	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *g, *a;

		if (!is(t, "event", "chain") || !traced_queue(t))
			continue;
		g = find("attach_chain", num(t, "base"), 0, num(t, "avail_idx"));
		cr_assert_not_null(g, "%s chain at avail %llu in flight at attach not listed",
				   str(t, "dev"), num(t, "avail_idx"));
		cr_expect_eq(num(g, "head"), num(t, "head"));
		assert_same_descs(t, g, 0);
		a = find("attach", num(t, "base"), 0, -1);
		cr_assert_not_null(a);
		cr_expect_eq(num(a, "in_flight"), per_queue[is(t, "dev", "net")]);
		cr_expect_eq(num(a, "not_listed"), 0);
	}
	/* the blk request's completion: the first of its queue, no latency */
	for (size_t i = 0; i < trace.n && !done; i++)
		if (is(trace.v[i], "type", "completion") && num(trace.v[i], "base") == blk_base)
			done = trace.v[i];
	cr_assert_not_null(done, "the blk request's completion was not traced");
	cr_expect_eq(num(done, "head"), blk_head);
	cr_expect(json_object_get_boolean(json_object_object_get(done, "age_unknown")));
	cr_expect_eq(num(done, "latency_ns"), 0);
	/* the text lines say the same */
	cr_expect_eq(count_lines(text_path, "in flight at attach, age unknown"), expected);
	snprintf(cmd, sizeof(cmd), "used head %llu len %llu age unknown (in flight at attach)",
		 blk_head, num(done, "len"));
	cr_expect_eq(count_lines(text_path, cmd), 1, "no text line '%s'", cmd);
	unlink(text_path);
	trace_run_cleanup();
	demo_vm_stop(&vm);
}

/* What on_attach saw. */
struct attach_seen {
	int calls;
	__u32 in_flight, nr_chains, not_listed;
	__u16 heads[GMA_ATTACH_CHAINS_MAX];
	__u16 pos[GMA_ATTACH_CHAINS_MAX];
	__u64 addr[GMA_ATTACH_CHAINS_MAX];
	__u32 not_keyed; /* chains that do not carry the attach's queue, device and time */
};

static void on_attach(void *ctx, const struct gma_attach_chains *a)
{
	struct attach_seen *s = ctx;

	s->calls++;
	s->in_flight = a->in_flight;
	s->nr_chains = a->nr_chains;
	s->not_listed = a->not_listed;
	for (__u32 i = 0; i < a->nr_chains && i < GMA_ATTACH_CHAINS_MAX; i++) {
		const struct gma_chain *c = gma_attach_chain(a, i);

		s->heads[i] = c->head;
		s->pos[i] = c->avail_idx;
		s->addr[i] = c->nr_descs ? gma_chain_desc(c, 0)->addr : 0;
		s->not_keyed += c->vm_id != a->vm_id || c->base != a->base ||
				c->queue != a->queue || c->device_id != a->device_id ||
				c->ts_ns != a->ts_ns || (c->flags & GMA_CHAIN_AT_NOTIFY);
	}
}

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x10000ULL
#define NUM 64
#define DESC_OFF 0x0
#define AVAIL_OFF 0x400
#define USED_OFF 0x1000
#define BUF_OFF 0x2000
/* The key the test's queues are known by: any virtio-mmio base, the VM has no devices. */
#define QUEUE_BASE 0xd0000000ULL

/*
 * A ring with `pending` chains from used index `used` on, head h = (7 * k + 3) % NUM for the
 * k-th, one 16-byte buffer each at BUF_OFF + 16 * h.
 */
static void write_ring(__u8 *ram, __u16 used, __u32 pending)
{
	struct vring_desc *d = (void *)(ram + DESC_OFF);
	__u16 *avail = (void *)(ram + AVAIL_OFF), *used_idx = (void *)(ram + USED_OFF + 2);

	for (__u32 h = 0; h < NUM; h++)
		d[h] = (struct vring_desc){ .addr = RAM_GPA + BUF_OFF + 16 * h, .len = 16 };
	for (__u32 k = 0; k < NUM; k++)
		avail[2 + (__u16)(used + k) % NUM] = (7 * k + 3) % NUM;
	avail[1] = (__u16)(used + pending);
	*used_idx = used;
}

/*
 * More chains in flight than GMA_ATTACH_CHAINS_MAX: the first are listed in avail order,
 * decoded from the test's ring, the rest counted; a ring whose avail index is more than the
 * queue size ahead (hostile) counts the queue size in flight, no more.
 */
Test(attach, listing_capped)
{
	struct attach_seen seen = {};
	struct gma_ring_callbacks cb = { .sz = sizeof(cb), .on_attach = on_attach };
	GMA_OPTS(gma_tracer_opts, opts, .pid = getpid(), .ring = &cb, .ctx = &seen,
		 .ring_poll_ms = GMA_RING_POLL_OFF);
	struct gma_queue_layout l = { .desc = RAM_GPA + DESC_OFF,
				      .driver = RAM_GPA + AVAIL_OFF,
				      .device = RAM_GPA + USED_OFF,
				      .num = NUM };
	struct kvm_userspace_memory_region region = { .slot = 0,
						      .guest_phys_addr = RAM_GPA,
						      .memory_size = RAM_SIZE };
	const __u32 pending = GMA_ATTACH_CHAINS_MAX + 9;
	const struct gma_vm *vm;
	struct gma_tracer *t;
	struct gma_vm *vms;
	int kvm, vmfd, err;
	size_t n;
	__u8 *ram;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	cr_assert_geq(kvm, 0);
	vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vmfd, 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(ram != MAP_FAILED);
	region.userspace_addr = (__u64)(unsigned long)ram;
	cr_assert_eq(ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region), 0);
	write_ring(ram, 65530, pending); /* the indices wrap past 65535 while in flight */
	cr_assert_eq(gma_vms_list(&vms, &n, sizeof(*vms)), 0);
	vm = gma_vms_find_pid(vms, n, sizeof(*vms), getpid());
	cr_assert_not_null(vm);
	t = gma_tracer_new(&opts);
	cr_assert_not_null(t, "gma_tracer_new: %s", strerror(errno));

	err = gma_tracer_add_queue(t, vm->id, QUEUE_BASE, 0, &l, 2);
	cr_assert_eq(err, 0, "gma_tracer_add_queue: %s", strerror(-err));
	cr_assert_eq(seen.calls, 1);
	cr_expect_eq(seen.in_flight, pending);
	cr_expect_eq(seen.nr_chains, GMA_ATTACH_CHAINS_MAX);
	cr_expect_eq(seen.not_listed, pending - GMA_ATTACH_CHAINS_MAX);
	cr_expect_eq(seen.not_keyed, 0, "each chain carries its queue, device and time");
	for (__u32 k = 0; k < seen.nr_chains; k++) {
		__u16 h = (7 * k + 3) % NUM;

		cr_expect_eq(seen.pos[k], (__u16)(65530 + k), "chain %u at avail %u", k,
			     seen.pos[k]);
		cr_expect_eq(seen.heads[k], h, "chain %u: head %u, the ring has %u", k,
			     seen.heads[k], h);
		cr_expect_eq(seen.addr[k], RAM_GPA + BUF_OFF + 16 * h);
	}

	/* hostile: avail 1000 ahead of used */
	memset(&seen, 0, sizeof(seen));
	write_ring(ram, 0, 1000);
	err = gma_tracer_add_queue(t, vm->id, QUEUE_BASE, 1, &l, 2);
	cr_assert_eq(err, 0);
	cr_assert_eq(seen.calls, 1);
	cr_expect_eq(seen.in_flight, NUM, "%u in flight for a queue of %d", seen.in_flight, NUM);
	cr_expect_eq(seen.nr_chains, GMA_ATTACH_CHAINS_MAX);
	cr_expect_eq(seen.not_listed, NUM - GMA_ATTACH_CHAINS_MAX);

	gma_tracer_free(t);
	gma_vms_free(vms);
	close(vmfd);
	close(kvm);
	munmap(ram, RAM_SIZE);
}

/*
 * A PCI function given to the tracer is sized (GMA_OPTS): one shorter than this release's
 * struct lacks fields the tracer needs, and one longer with bytes this library does not know
 * set asks for what it cannot do; both are refused before any map is touched. The q35
 * virtio-blk function of QMP's ground truth, sized right or longer with zeros, is taken.
 */
Test(attach, pci_function_sized)
{
	struct longer {
		struct gma_pci_function fn;
		__u64 added;
	} l = { .fn.sz = sizeof(l) };
	GMA_OPTS(gma_pci_function, fn);
	GMA_OPTS(gma_tracer_opts, opts, .ring_poll_ms = GMA_RING_POLL_OFF);
	const __u64 vm_id = 0x5a5a0000, key = GMA_PCI_BASE(0, 1, 0);
	struct gma_tracer *t = gma_tracer_new(&opts);

	cr_assert_not_null(t, "gma_tracer_new: %s", strerror(errno));
	q35_blk_config_bytes(fn.config);
	memcpy(fn.bar_size, q35_blk_bar_size, sizeof(fn.bar_size));
	memcpy(l.fn.config, fn.config, sizeof(fn.config));
	memcpy(l.fn.bar_size, fn.bar_size, sizeof(fn.bar_size));

	fn.sz = offsetof(struct gma_pci_function, queue_notify_off);
	cr_expect_eq(gma_tracer_add_pci_function(t, vm_id, key, &fn), -EINVAL,
		     "a struct without queue_notify_off");
	l.added = 1;
	cr_expect_eq(gma_tracer_add_pci_function(t, vm_id, key, &l.fn), -EINVAL,
		     "a newer struct with a field this library does not know set");
	l.added = 0;
	cr_expect_eq(gma_tracer_add_pci_function(t, vm_id, key, &l.fn), 0,
		     "a newer struct whose new fields are 0");
	fn.sz = sizeof(fn);
	cr_expect_eq(gma_tracer_add_pci_function(t, vm_id + 1, key, &fn), 0);
	gma_tracer_free(t);
}

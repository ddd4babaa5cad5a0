// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer against the demo VM: the iterator's memslots are the ones the VMM registered,
 * kernel samples across 2 and 3 memslots are the guest's bytes, holes and the space past the
 * last slot are reported as unmapped (never as zeros), and gma-trace mem agrees with itself
 * with and without --via-bpf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <dirent.h>

#include <gma/gma.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"
#include "../../tools/demo-vmm/pattern.h"

static struct demo_vm vm;

static void setup(void)
{
	test_clock_start();
	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
}

static void teardown(void)
{
	demo_vm_stop(&vm);
}

TestSuite(tracer, .init = setup, .fini = teardown, .timeout = TEST_LIMIT_S);

/* gma-trace mem --timeout-ms: the time left until the test's deadline, at least 1 ms. */
static unsigned int ms_left(void)
{
	unsigned int ms = (unsigned int)(test_seconds_left() * 1000);

	return ms ? ms : 1;
}

Test(tracer, iterator_lists_the_vmm_memslots)
{
	const struct gma_vm *v;
	struct gma_vm *vms;
	size_t n;

	cr_assert_eq(gma_vms_list(&vms, &n, sizeof(*vms)), 0);
	v = gma_vms_find_pid(vms, n, sizeof(*vms), vm.pid);
	cr_assert(v, "VM of pid %d not listed", vm.pid);
	cr_assert_eq(v->nr_vcpus, 1);
	cr_assert_eq(v->nr_slots, vm.nr_slots, "iterator %zu slots, VMM %zu", v->nr_slots,
		     vm.nr_slots);
	for (size_t i = 0; i < vm.nr_slots; i++) {
		cr_expect_eq(gma_vm_slot(v, i)->id, vm.slots[i].slot);
		cr_expect_eq(gma_vm_slot(v, i)->gpa, vm.slots[i].gpa, "slot %zu gpa", i);
		cr_expect_eq(gma_vm_slot(v, i)->size, vm.slots[i].size, "slot %zu size", i);
		cr_expect_eq(gma_vm_slot(v, i)->hva, vm.slots[i].hva, "slot %zu hva", i);
	}
	gma_vms_free(vms);
}

/*
 * The list at a caller's own element size (the growth rules of <gma/gma.h>): a program built
 * against an older, shorter struct gma_vm gets each VM's prefix, one built against a newer,
 * longer one the fields this library knows (its memslots in the same block) and zeros past
 * them; gma_vms_find_pid() strides by it.
 */
Test(tracer, vms_listed_at_the_callers_element_size)
{
	struct older {
		__u64 id;
		pid_t pid;
		pid_t creator_pid;
		__u32 fd;
		__u32 nr_vcpus;
	};
	struct newer {
		struct gma_vm vm;
		__u64 added[4];
	};
	struct gma_vm *old, *new;
	const struct newer *nv;
	const struct older *ov;
	struct gma_region *regions;
	size_t n_old, n_new, nr;

	_Static_assert(sizeof(struct older) < sizeof(struct gma_vm), "a prefix");
	cr_assert_eq(gma_vms_list(&old, &n_old, sizeof(struct older)), 0);
	cr_assert_eq(gma_vms_list(&new, &n_new, sizeof(struct newer)), 0);
	ov = (const void *)gma_vms_find_pid(old, n_old, sizeof(struct older), vm.pid);
	nv = (const void *)gma_vms_find_pid(new, n_new, sizeof(struct newer), vm.pid);
	cr_assert(ov && nv, "VM of pid %d not listed at both sizes", vm.pid);
	cr_assert_eq(ov->pid, vm.pid);
	cr_assert_eq(ov->id, nv->vm.id);
	cr_assert_eq(ov->nr_vcpus, 1);
	cr_assert_eq(ov->fd, nv->vm.fd);
	cr_assert_eq(nv->vm.pid, vm.pid);
	cr_assert_eq(nv->vm.nr_slots, vm.nr_slots);
	cr_assert_eq(nv->vm.slot_sz, sizeof(struct gma_memslot));
	for (size_t i = 0; i < vm.nr_slots; i++)
		cr_expect_eq(gma_vm_slot(&nv->vm, i)->gpa, vm.slots[i].gpa, "slot %zu gpa", i);
	for (size_t k = 0; k < 4; k++)
		cr_assert_eq(nv->added[k], 0, "what this library does not know is 0");
	cr_assert_eq(gma_vm_regions(&nv->vm, &regions, &nr), 0);
	cr_assert_gt(nr, 0);
	free(regions);
	cr_assert_null(gma_vms_find_pid(old, n_old, offsetof(struct gma_vm, pid), vm.pid),
		       "an element size that does not hold pid finds nothing");
	gma_vms_free(old);
	gma_vms_free(new);
	cr_assert_eq(gma_vms_list(&old, &n_old, 0), -EINVAL, "no element size");
}

/*
 * A VM file is an anon inode named kvm-vm: not a file on disk of that name (a FIFO: its
 * private_data, the pipe, is not NULL as a regular file's is), nor another anon inode (an
 * eventfd), nor the VMM's other KVM files (/dev/kvm, the vCPU's kvm-vcpu:0).
 */
Test(tracer, only_kvm_vm_files_are_vms)
{
	char dir[] = "/tmp/gma-kvm-vm.XXXXXX", path[64];
	struct gma_vm *vms;
	size_t n, listed = 0;
	int fd, efd;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kvm-vm", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	fd = open(path, O_RDWR); /* a FIFO opened for both ends does not wait */
	efd = eventfd(0, 0);
	cr_assert(fd >= 0 && efd >= 0);
	cr_assert_eq(gma_vms_list(&vms, &n, sizeof(*vms)), 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_neq(vms[i].pid, getpid(), "the test's file %s listed as a VM", path);
		listed += vms[i].pid == vm.pid;
	}
	cr_assert_eq(listed, 1, "the demo VM listed %zu times", listed);
	gma_vms_free(vms);
	close(efd);
	close(fd);
	unlink(path);
	rmdir(dir);
}

struct got {
	int count;
	__u64 gpa;
	__u32 len;
	__u8 data[0x20000];
	__u8 state[0x20000];
	struct gma_sample meta;
};

static void on_sample(void *ctx, const struct gma_sample *s)
{
	struct got *g = ctx;

	cr_assert_leq(s->len, sizeof(g->data));
	memcpy(g->data, s->data, s->len);
	memcpy(g->state, s->state, s->len);
	g->meta = *s;
	g->count++;
}

/* Samples [gpa, gpa + len) of the demo VM through the kernel. */
static void bpf_sample(struct gma_tracer *t, struct got *g, __u64 gpa, __u32 len)
{
	g->count = 0;
	cr_assert_eq(gma_tracer_request_sample(t, vm.pid, gpa, len, NULL), 0);
	while (!g->count) {
		cr_assert_geq(gma_tracer_poll(t, 100), 0);
		cr_assert_gt(test_seconds_left(), 0, "no sample of 0x%llx by the test's deadline",
			     (unsigned long long)gpa);
	}
	cr_assert_eq(g->meta.pid, vm.pid);
	cr_assert_eq(g->meta.gpa, gpa);
	cr_assert_eq(g->meta.len, len);
	cr_assert_eq(g->meta.nr_lost, 0);
}

static struct gma_tracer *tracer_new(struct got *g)
{
	GMA_OPTS(gma_tracer_opts, opts, .on_sample = on_sample, .ctx = g);
	struct gma_tracer *t = gma_tracer_new(&opts);

	cr_assert(t, "gma_tracer_new: %s", strerror(errno));
	return t;
}

/* The sample's bytes from offset off, for guest address gpa, are the guest's pattern. */
static void expect_pattern_at(struct got *g, __u32 off, __u64 gpa, __u32 len)
{
	for (__u32 i = off; i < off + len; i++, gpa++) {
		cr_assert_eq(g->state[i], GMA_BYTE_READ, "byte at 0x%llx not read (state %u)",
			     (unsigned long long)gpa, g->state[i]);
		cr_assert_eq(g->data[i], gma_demo_pattern(gpa), "byte at 0x%llx",
			     (unsigned long long)gpa);
	}
}

static void expect_pattern(struct got *g, __u64 gpa, __u32 len)
{
	expect_pattern_at(g, 0, gpa, len);
}

Test(tracer, samples_across_2_and_3_memslots_are_guest_bytes)
{
	static struct got g;
	struct gma_tracer *t = tracer_new(&g);

	bpf_sample(t, &g, DEMO_PATTERN_SLOT1_2_GPA, DEMO_PATTERN_SLOT1_2_LEN);
	expect_pattern(&g, DEMO_PATTERN_SLOT1_2_GPA, DEMO_PATTERN_SLOT1_2_LEN);
	cr_assert_geq(g.meta.nr_fragments, 2);
	bpf_sample(t, &g, DEMO_PATTERN_SLOT1_3_GPA, DEMO_PATTERN_SLOT1_3_LEN);
	expect_pattern(&g, DEMO_PATTERN_SLOT1_3_GPA, DEMO_PATTERN_SLOT1_3_LEN);
	cr_assert_geq(g.meta.nr_fragments, 3);
	bpf_sample(t, &g, DEMO_PATTERN_SLOT0_1_GPA, DEMO_PATTERN_SLOT0_1_LEN);
	expect_pattern(&g, DEMO_PATTERN_SLOT0_1_GPA, DEMO_PATTERN_SLOT0_1_LEN);
	cr_assert_eq(gma_tracer_drops(t), 0);
	cr_assert_eq(gma_tracer_bad_records(t), 0);
	gma_tracer_free(t);
}

Test(tracer, holes_and_past_the_end_are_unmapped_not_zeros)
{
	/* slot 3's last pattern bytes, the hole, then slot 4's first 0x100, as sample offsets */
	const __u32 hole = DEMO_HOLE_GPA - DEMO_PATTERN_HOLE_GPA;
	const __u32 slot4 = DEMO_SLOT4_GPA - DEMO_PATTERN_HOLE_GPA;
	static struct got g;
	struct gma_tracer *t = tracer_new(&g);
	__u32 i;

	bpf_sample(t, &g, DEMO_PATTERN_HOLE_GPA, slot4 + 0x100);
	expect_pattern(&g, DEMO_PATTERN_HOLE_GPA, hole);
	for (i = hole; i < slot4; i++)
		cr_assert_eq(g.state[i], GMA_BYTE_UNMAPPED, "offset 0x%x state %u", i, g.state[i]);
	expect_pattern_at(&g, slot4, DEMO_SLOT4_GPA, 0x100);
	/* past the last slot: the last pattern bytes of RAM, then 0x80 bytes beyond */
	bpf_sample(t, &g, DEMO_PATTERN_END_GPA, DEMO_PATTERN_END_LEN + 0x80);
	expect_pattern(&g, DEMO_PATTERN_END_GPA, DEMO_PATTERN_END_LEN);
	for (i = DEMO_PATTERN_END_LEN; i < DEMO_PATTERN_END_LEN + 0x80; i++)
		cr_assert_eq(g.state[i], GMA_BYTE_UNMAPPED);
	/* far past it: 1 MiB, where the demo has nothing */
	bpf_sample(t, &g, 0x100000, 0x40);
	for (i = 0; i < 0x40; i++)
		cr_assert_eq(g.state[i], GMA_BYTE_UNMAPPED);
	gma_tracer_free(t);
}

Test(tracer, fragment_caps_are_configurable_and_reported)
{
	static struct got g;
	GMA_OPTS(gma_tracer_opts, opts, .on_sample = on_sample, .ctx = &g, .frag_max = 256,
		 .sample_frags_max = 4);
	struct gma_tracer *t = gma_tracer_new(&opts);
	__u32 i;

	cr_assert(t);
	cr_assert_eq(gma_tracer_request_sample(t, vm.pid, DEMO_PATTERN_SLOT1_3_GPA, 1025, NULL),
		     -E2BIG);
	/* 4 fragments of at most 256 bytes cover 0x400 bytes: the rest is capped, not zero */
	bpf_sample(t, &g, DEMO_SLOT2_GPA, 0x400);
	expect_pattern(&g, DEMO_SLOT2_GPA, 0x400);
	cr_assert_eq(g.meta.nr_fragments, 4);
	cr_assert_eq(g.meta.err, 0);
	/* 0x80 bytes before slot 2 the first fragment ends at the slot (0x80): 4 cover 0x380 */
	bpf_sample(t, &g, DEMO_SLOT2_GPA - 0x80, 0x400);
	cr_assert_eq(g.meta.err, -E2BIG);
	expect_pattern(&g, DEMO_SLOT2_GPA - 0x80, 0x380);
	for (i = 0x380; i < 0x400; i++)
		cr_assert_eq(g.state[i], GMA_BYTE_CAPPED);
	gma_tracer_free(t);
}

Test(tracer, gma_trace_mem_agrees_with_and_without_bpf)
{
	/* across slots 1 -> 2 and 1 -> 2 -> 3, into the hole, past the end of RAM */
	static const struct {
		unsigned int gpa, len;
	} ranges[] = {
		{ DEMO_PATTERN_SLOT1_2_GPA, DEMO_PATTERN_SLOT1_2_LEN },
		{ DEMO_PATTERN_SLOT1_3_GPA, DEMO_PATTERN_SLOT1_3_LEN },
		{ DEMO_HOLE_GPA - 0x80, 0x100 },
		{ DEMO_RAM_END - 0x40, 0x80 },
	};
	char cmd[256], *plain, *bpf;

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		int len = snprintf(cmd, sizeof(cmd),
				   GMA_OUTPUT "/gma-trace mem --pid %d --gpa %#x --len %#x", vm.pid,
				   ranges[i].gpa, ranges[i].len);

		cr_assert_eq(run_capture(cmd, &plain), 0, "%s", cmd);
		/* the sample comes at the VM's next exit: waited for until the test's deadline */
		snprintf(cmd + len, sizeof(cmd) - len, " --via-bpf --timeout-ms %u", ms_left());
		cr_assert_eq(run_capture(cmd, &bpf), 0, "%s", cmd);
		cr_assert(strlen(plain) > 0);
		cr_assert_str_eq(plain, bpf, "%s: outputs differ", cmd);
		free(plain);
		free(bpf);
	}
}

Test(tracer, clear_errors)
{
	char cmd[256], *out;

	/* A process that is not a VM */
	snprintf(cmd, sizeof(cmd), GMA_OUTPUT "/gma-trace mem --pid %d --gpa 0 2>&1", getpid());
	cr_assert_eq(run_capture(cmd, &out), 1);
	cr_assert(strstr(out, "runs no KVM VM"), "got: %s", out);
	free(out);
	/* No such process */
	cr_assert_eq(run_capture(GMA_OUTPUT "/gma-trace mem --pid 4000000 --gpa 0 2>&1", &out), 1);
	cr_assert(strstr(out, "no process 4000000"), "got: %s", out);
	free(out);
	/* Without privilege: says what is missing */
	/* by its path: a busybox shell would run its own setpriv applet, which lacks --reuid */
	cr_assert_eq(run_capture("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "
				 "--inh-caps=-all " GMA_OUTPUT "/gma-trace vms 2>&1",
				 &out),
		     1);
	cr_assert(strstr(out, "needs root, or CAP_BPF and CAP_PERFMON"), "got: %s", out);
	free(out);
}

/*
 * Whether process *ctx (a pid_t) has attached a tracepoint program (a link fd in
 * /proc/PID/fdinfo); for wait_until_deadline.
 */
static bool holds_program(void *ctx)
{
	pid_t pid = *(pid_t *)ctx;
	char path[320], line[128];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	while (d && !found && (e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, e->d_name);
		f = fopen(path, "r");
		/* a tracepoint's link, not the VM lister's iterator or a program being loaded */
		while (f && !found && fgets(line, sizeof(line), f))
			found = !strncmp(line, "link_type:", 10) &&
				(strstr(line, "tracing") || strstr(line, "raw_tracepoint"));
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

Test(tracer, vm_exiting_during_trace_is_reported)
{
	char cmd[256], out_path[64];
	pid_t pid = vm.pid, tracer;
	int fd;

	/*
	 * The VM is stopped (SIGSTOP): no exits come; then it is killed once gma-trace has
	 * attached and waits (however long loading took).
	 */
	kill(pid, SIGSTOP);
	snprintf(out_path, sizeof(out_path), "/tmp/gma-tracer-out.XXXXXX");
	cr_assert((fd = mkstemp(out_path)) >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "exec " GMA_OUTPUT "/gma-trace mem --via-bpf --pid %d --gpa 0 --timeout-ms %u "
		 ">%s 2>&1",
		 pid, ms_left(), out_path);
	tracer = spawn_shell(cmd);
	cr_assert(wait_until_deadline(holds_program, &tracer), "gma-trace never attached");
	kill(pid, SIGKILL);
	cr_assert_eq(wait_exit_by_deadline(tracer, cmd), 1);
	cr_assert_eq(count_lines(out_path, "exited before it could be sampled"), 1,
		     "no exit message (%s)", out_path);
	unlink(out_path);
}

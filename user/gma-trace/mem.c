// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace mem: a hexdump of guest physical memory, read through the live-process backend
 * (memslots listed again after the read, so a read racing a memslot change is done again) or
 * sampled by the kernel at the VM's next exit (--via-bpf).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gma-trace.h"

struct mem_args {
	pid_t pid;
	__u64 gpa;
	__u64 len;
	bool via_bpf;
	__u32 timeout_ms;
};

/* The most --len reads. */
#define MEM_LEN_MAX (1u << 18)

static struct mem_args mem_args = { .timeout_ms = 5000 };

enum { OPT_VIA_BPF = 0x100, OPT_TIMEOUT };

static const struct argp_option mem_options[] = {
	{ "pid", 'p', "PID", 0, "The VMM process (see gma-trace vms)", 0 },
	{ "gpa", 'a', "ADDR", 0, "Guest physical address (0x... for hex)", 0 },
	{ "len", 'n', "BYTES", 0, "Bytes to read (default 256)", 0 },
	{ "via-bpf", OPT_VIA_BPF, NULL, 0,
	  "Sample from the kernel at the VM's next exit instead of process_vm_readv", 0 },
	{ "timeout-ms", OPT_TIMEOUT, "MS", 0, "How long --via-bpf waits for an exit (5000)", 0 },
	BTF_OPTION,
	JSON_OPTION("Print JSON instead of text"),
	VERBOSE_OPTION,
	{},
};

static error_t parse_mem(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p':
		return parse_pid(arg, &mem_args.pid, state);
	case 'a':
		return parse_u64(arg, &mem_args.gpa, "--gpa", state);
	case 'n':
		parse_u64(arg, &mem_args.len, "--len", state);
		if (!mem_args.len || mem_args.len > MEM_LEN_MAX)
			argp_error(state, "--len '%s': out of range, want 1 to %u", arg,
				   MEM_LEN_MAX);
		return 0;
	case OPT_VIA_BPF:
		mem_args.via_bpf = true;
		return 0;
	case OPT_TIMEOUT:
		return parse_u32_range(arg, &mem_args.timeout_ms, "--timeout-ms", 1, INT32_MAX,
				       state);
	case ARGP_KEY_END:
		if (!mem_args.pid)
			argp_error(state, "--pid is required");
		if (mem_args.gpa + (mem_args.len - 1) < mem_args.gpa)
			argp_error(state, "--gpa 0x%llx + --len %llu wraps past 2^64",
				   (unsigned long long)mem_args.gpa,
				   (unsigned long long)mem_args.len);
		return 0;
	default:
		return parse_common(key, arg, state);
	}
}

/*
 * Reads [gpa, gpa + len) through the live-process backend, byte state as the BPF sampler
 * reports it: holes are UNMAPPED, pages the VMM cannot read are FAULT (page by page).
 */
static int dump_via_process(const struct gma_vm *vm, struct dump *d)
{
	struct gma_region *regions;
	struct gma_mem *mem;
	size_t nr, off = 0;
	int err;

	err = gma_vm_regions(vm, &regions, &nr);
	if (err)
		return err;
	mem = gma_mem_new_process(vm->pid, regions, nr);
	if (!mem) {
		err = -errno;
		free(regions);
		return err;
	}
	while (off < d->len) {
		__u64 gpa = d->gpa + off, addr, limit, n;

		err = gma_mem_translate(mem, gpa, &addr, &limit);
		if (err) {
			/* up to the next region, or the end */
			n = d->len - off;
			for (size_t i = 0; i < nr; i++)
				if (regions[i].gpa > gpa && regions[i].gpa - gpa < n)
					n = regions[i].gpa - gpa;
			memset(d->state + off, GMA_BYTE_UNMAPPED, n);
		} else {
			n = limit < d->len - off ? limit : d->len - off;
			/* one host page at most, so a fault marks exactly the page it hit */
			if (n > 4096 - (addr & 4095))
				n = 4096 - (addr & 4095);
			err = gma_mem_read(mem, gpa, d->data + off, n, NULL);
			memset(d->state + off, err ? GMA_BYTE_FAULT : GMA_BYTE_READ, n);
			if (err)
				memset(d->data + off, 0, n);
		}
		off += n;
	}
	gma_mem_free(mem);
	free(regions);
	return 0;
}

/* Lists the VMs with l and finds pid's, whose memslots may have changed since. */
static int relist(struct gma_vm_lister *l, pid_t pid, struct gma_vm **vms, size_t *n,
		  const struct gma_vm **vm)
{
	int err = gma_vm_lister_list(l, vms, n, sizeof(**vms));

	if (err)
		return report_bpf_error(err, "listing VMs");
	*vm = gma_vms_find_pid(*vms, *n, sizeof(**vms), pid);
	if (!*vm) {
		fprintf(stderr, "gma-trace: VM pid %d exited during the read\n", pid);
		return -ESRCH;
	}
	return 0;
}

/*
 * Reads through the process backend with the memslots the iterator listed, and lists them
 * again after: if KVM changed a slot meanwhile (the VMM may have unmapped its memory and put
 * something else at the same address), the read may hold stale bytes, so it is done again.
 */
static int dump_consistent(struct gma_vm **vms, size_t *n, const struct gma_vm **vm, struct dump *d)
{
	struct gma_vm_lister *l = gma_vm_lister_new();
	struct gma_vm *after = NULL;
	const struct gma_vm *avm = NULL;
	size_t nafter = 0;
	int err = 0;

	if (!l)
		return report_bpf_error(-errno, "loading the VM iterator");
	for (int attempt = 0; attempt < 5; attempt++) {
		err = dump_via_process(*vm, d);
		if (err) {
			err = report_error(err, "reading guest memory");
			break;
		}
		err = relist(l, mem_args.pid, &after, &nafter, &avm);
		if (err)
			break;
		if (avm->id == (*vm)->id && avm->generation == (*vm)->generation)
			break;
		/* read again with the memslots as they are now */
		gma_vms_free(*vms);
		*vms = after;
		*n = nafter;
		*vm = avm;
		after = NULL;
		nafter = 0;
		err = -EAGAIN;
	}
	gma_vms_free(after);
	gma_vm_lister_free(l);
	if (err != -EAGAIN)
		return err;
	fprintf(stderr,
		"gma-trace: the memslots of VM pid %d kept changing during the read: no consistent "
		"snapshot; try again, or --via-bpf\n",
		mem_args.pid);
	return -EAGAIN;
}

struct bpf_wait {
	struct dump *d;
	bool done;
	int err;
	__u32 lost;
};

static void on_sample(void *ctx, const struct gma_sample *s)
{
	struct bpf_wait *w = ctx;

	memcpy(w->d->data, s->data, s->len);
	memcpy(w->d->state, s->state, s->len);
	w->err = s->err;
	w->lost = s->nr_lost;
	w->done = true;
}

static int dump_via_bpf(const struct gma_vm *vm, struct dump *d)
{
	struct bpf_wait w = { .d = d };
	GMA_OPTS(gma_load_error, why);
	GMA_OPTS(gma_tracer_opts, opts, .on_sample = on_sample, .ctx = &w, .btf_path = env.btf_path,
		 .load_error = &why);
	struct gma_tracer *t;
	struct timespec start;
	int err;

	t = gma_tracer_new(&opts);
	if (!t)
		return report_load_error(-errno, &why);
	err = gma_tracer_request_sample(t, vm->pid, d->gpa, d->len, NULL);
	if (err) {
		gma_tracer_free(t);
		return report_bpf_error(err, "requesting a sample");
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!w.done && !exiting) {
		err = gma_tracer_poll(t, 100);
		if (err < 0)
			break;
		err = 0;
		if (process_exited(vm->pid)) {
			fprintf(stderr, "gma-trace: VM pid %d exited before it could be sampled\n",
				vm->pid);
			err = -ESRCH;
			break;
		}
		if (elapsed_ms(&start) > (long)mem_args.timeout_ms) {
			fprintf(stderr,
				"gma-trace: no exit of VM pid %d within %u ms (tracepoints: %s); "
				"is the guest running?\n",
				vm->pid, mem_args.timeout_ms, gma_tracer_tracepoints(t));
			err = -ETIMEDOUT;
			break;
		}
	}
	if (w.done && w.lost)
		fprintf(stderr,
			"gma-trace: %u fragments missing (ring buffer full or malformed), their "
			"bytes shown as lost\n",
			w.lost);
	gma_tracer_free(t);
	return err ? err : (w.done ? 0 : -EINTR);
}

int cmd_mem(int argc, char **argv)
{
	static const struct argp argp = { .options = mem_options,
					  .parser = parse_mem,
					  .doc = "Hexdump guest physical memory of a running VM." };
	struct dump d = {};
	struct gma_vm *vms;
	const struct gma_vm *vm;
	size_t n;
	int err;

	mem_args.len = 256;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	err = find_vm(mem_args.pid, &vms, &n, &vm);
	if (err)
		return err;
	d.gpa = mem_args.gpa;
	d.len = mem_args.len;
	d.data = calloc(1, d.len);
	d.state = calloc(1, d.len);
	if (!d.data || !d.state) {
		err = report_error(-ENOMEM, "allocating the dump");
		goto out;
	}
	if (mem_args.via_bpf)
		err = dump_via_bpf(vm, &d);
	else
		err = dump_consistent(&vms, &n, &vm, &d);
	if (!err)
		out()->dump(&d, mem_args.via_bpf ? "bpf" : "process", vm->pid);
out:
	free(d.data);
	free(d.state);
	gma_vms_free(vms);
	return err ? 1 : 0;
}

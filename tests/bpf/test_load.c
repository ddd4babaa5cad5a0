// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer loads on a host like a bare-metal KVM host, whose BTF has no VirtIO types (no
 * virtio/virtio_ring module is loaded: the host has no VirtIO device of its own), says what
 * is missing when a type it really needs is not there, and its programs stay within a budget
 * of instructions verified (what every gma-trace start costs).
 *
 * The kernel's BTF is copied into one file (vmlinux and, where KVM is a module, the kvm
 * module's split BTF on top of it, type ids unchanged) with the names of the hidden types
 * renamed, and the tracer is relocated against that file (gma_tracer_opts.btf_path, the
 * same path as gma-trace --btf). This runs on any kernel, whatever modules it has loaded;
 * make vmtest also runs every test in a VM that has no VirtIO module at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <linux/btf.h>

#include <gma/gma.h>

#include "compiler.h" /* ARRAY_SIZE */
#include "demo_vm.h"
#include "tracer_maps.h" /* the types of the skeleton's globals */
#include "tracer.skel.h"

/* Appends every type of src (ids from..to) to dst: ids stay the same as dst fills in order. */
static void copy_types(struct btf *dst, const struct btf *src, __u32 from, __u32 to)
{
	for (__u32 id = from; id < to; id++) {
		int err = btf__add_type(dst, src, btf__type_by_id(src, id));

		cr_assert_geq(err, 0, "copying BTF type %u: %s", id, strerror(-err));
	}
}

/*
 * Writes the running kernel's BTF to path with every string starting with one of the
 * NULL-terminated prefixes `hide` renamed (first letter 'X'): for CO-RE, those types are gone.
 * Returns how many names were hidden.
 */
static int write_kernel_btf_without(const char *path, const char *const *hide)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *out = btf__new_empty(), *mod;
	const struct btf_header *hdr;
	__u32 size, hidden = 0;
	const void *raw;
	char *copy, *strs;
	FILE *f;

	cr_assert(vmlinux && out, "loading the kernel's BTF: %s", strerror(errno));
	copy_types(out, vmlinux, 1, btf__type_cnt(vmlinux));
	/*
	 * Where KVM is a module, its split BTF continues vmlinux's ids and holds every type the
	 * tracer relocates (struct kvm, the memslots, the vCPU); kvm_amd/kvm_intel add none.
	 */
	mod = btf__load_module_btf("kvm", vmlinux);
	if (mod) {
		copy_types(out, mod, btf__type_cnt(vmlinux), btf__type_cnt(mod));
		btf__free(mod);
	}
	raw = btf__raw_data(out, &size);
	cr_assert(raw);
	copy = malloc(size);
	cr_assert(copy);
	memcpy(copy, raw, size);
	hdr = (const struct btf_header *)copy;
	strs = copy + hdr->hdr_len + hdr->str_off;
	for (__u32 off = 0; off < hdr->str_len; off += strlen(strs + off) + 1)
		for (const char *const *h = hide; *h; h++)
			if (!strncmp(strs + off, *h, strlen(*h))) {
				strs[off] = 'X';
				hidden++;
			}
	f = fopen(path, "w");
	cr_assert(f && fwrite(copy, 1, size, f) == size && !fclose(f), "writing %s", path);
	free(copy);
	btf__free(out);
	btf__free(vmlinux);
	return hidden;
}

static char btf_path[] = "/tmp/gma-test-btf-XXXXXX";

static void setup(void)
{
	int fd = mkstemp(btf_path);

	cr_assert_geq(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(btf_path);
}

TestSuite(load, .init = setup, .fini = teardown, .timeout = 120);

Test(load, tracer_loads_without_any_virtio_type_in_the_kernel_btf)
{
	static const char *const virtio[] = { "vring", "virtio", "virtqueue", NULL };
	struct gma_load_error why = { .sz = sizeof(why), .kind = GMA_LOAD_KIND_NR };
	GMA_OPTS(gma_tracer_opts, opts, .btf_path = btf_path, .load_error = &why);
	struct gma_tracer *t;

	write_kernel_btf_without(btf_path, virtio);
	t = gma_tracer_new(&opts);
	cr_assert(t,
		  "the tracer needs a VirtIO type from the kernel's BTF: %s (%s '%s%s%s'; "
		  "libbpf: %s)",
		  strerror(errno), gma_load_error_kind_name(why.kind), why.type,
		  why.field[0] ? "." : "", why.field, why.libbpf_line);
	cr_assert_eq(why.kind, GMA_LOAD_OK, "a tracer that loaded, but load_error says %s",
		     gma_load_error_kind_name(why.kind));
	gma_tracer_free(t);
}

Test(load, a_missing_kvm_type_is_named_with_what_to_do)
{
	static const char *const memslots[] = { "kvm_memslots", NULL };
	struct demo_vm vm;
	char cmd[512], *out;
	int rc;

	cr_assert_gt(write_kernel_btf_without(btf_path, memslots), 0,
		     "the kernel's BTF has no struct kvm_memslots");
	demo_vm_start(&vm, NULL);
	snprintf(cmd, sizeof(cmd),
		 GMA_OUTPUT "/gma-trace rings --pid %d --duration 1 --btf %s 2>&1 >/dev/null",
		 vm.pid, btf_path);
	rc = run_capture(cmd, &out);
	demo_vm_stop(&vm);
	cr_assert_eq(rc, 1, "gma-trace exited %d: %s", rc, out);
	cr_log_info("%s", out);
	cr_expect(strstr(out, "loading the tracer"), "got: %s", out);
	cr_expect(strstr(out, "has no 'struct kvm_memslots"), "no type named: %s", out);
	cr_expect(strstr(out, "libbpf: failed to resolve CO-RE relocation"), "got: %s", out);
	free(out);
}

static int warnings_passed_on;

static int count_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)fmt;
	(void)args;
	warnings_passed_on += level == LIBBPF_WARN;
	return 0;
}

/*
 * What gma-trace's message above is made from: libgma names the type in the load error
 * (gma_tracer_opts.load_error), as the kernel spells it, and libbpf's line that said so;
 * libbpf's messages still reach the print function the caller set, which is its again after.
 */
Test(load, a_missing_kvm_type_is_named_in_the_load_error)
{
	static const char *const memslots[] = { "kvm_memslots", NULL };
	GMA_OPTS(gma_load_error, why);
	GMA_OPTS(gma_tracer_opts, opts, .btf_path = btf_path, .load_error = &why);
	libbpf_print_fn_t prev;
	struct gma_tracer *t;
	int err;

	cr_assert_gt(write_kernel_btf_without(btf_path, memslots), 0,
		     "the kernel's BTF has no struct kvm_memslots");
	prev = libbpf_set_print(count_warnings);
	t = gma_tracer_new(&opts);
	err = -errno;
	cr_expect_eq(libbpf_set_print(prev), count_warnings, "the caller's print function is lost");
	cr_expect_gt(warnings_passed_on, 0,
		     "libbpf's warnings did not reach the caller's function");
	cr_assert_null(t, "the tracer loaded without struct kvm_memslots");
	cr_log_info("load error: %s, err %d, type '%s' field '%s' program '%s', libbpf: %s",
		    gma_load_error_kind_name(why.kind), why.err, why.type, why.field, why.program,
		    why.libbpf_line);
	cr_expect_eq(why.err, err, "load_error says %d, errno %d", why.err, err);
	cr_assert_eq(why.kind, GMA_LOAD_MISSING_TYPE, "kind %s",
		     gma_load_error_kind_name(why.kind));
	cr_expect_str_eq(why.type, "struct kvm_memslots");
	cr_expect_str_not_empty(why.field, "the field the tracer reads first is named");
	cr_expect_str_not_empty(why.program, "the program libbpf was loading is named");
	cr_expect(strstr(why.libbpf_line, "failed to resolve CO-RE relocation") == why.libbpf_line,
		  "libbpf: %s", why.libbpf_line);
}

Test(load, an_unreadable_btf_file_is_refused_with_its_name)
{
	char *out;

	cr_assert_eq(run_capture(GMA_OUTPUT "/gma-trace rings --pid 1 --btf /nonexistent/btf 2>&1",
				 &out),
		     64);
	cr_expect(strstr(out, "--btf '/nonexistent/btf': No such file or directory"), "got: %s",
		  out);
	free(out);
}

/*
 * What the kernel's verifier checks at each start of gma-trace, per program (139k
 * instructions in all on 6.18: a quarter of a second, and 30 times that in a TCG VM). A loop
 * over a guest-sized table whose body is verified once per round (scan_device() over 64
 * queues did so: 38813 instructions per vCPU program, now 16201 on 6.18) shows here on every
 * kernel, as a count and not as a time. Each budget is about 1.5 times the largest count seen
 * on 6.1, 6.12 and 6.18: the vCPU programs 20999 (6.1), kvm_pio 36859 (6.18), kvm_mmio 48394
 * (6.1), kvm_fast_mmio 25904 (6.1), the interrupt programs 89. Each is verified on its own,
 * even those libgma leaves out beside kvm_exit. Every kernel gma supports has all nine
 * tracepoints (each is older than 5.10): one the kernel lacks is named, and fails the test,
 * instead of being left out in silence as a smaller check.
 */
static const struct {
	const char *name;
	__u32 budget;
} verified_budget[] = {
	{ "kvm_exit", 32000 },	     { "kvm_emulate_insn", 32000 }, { "kvm_entry", 32000 },
	{ "kvm_page_fault", 32000 }, { "kvm_pio", 56000 },	    { "kvm_mmio", 72000 },
	{ "kvm_fast_mmio", 39000 },  { "kvm_set_irq", 1000 },	    { "kvm_msi_set_irq", 1000 },
};

static bool kernel_has_tracepoint(struct btf *vmlinux, struct btf *kvm, const char *name)
{
	char tname[64];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return btf__find_by_name_kind(vmlinux, tname, BTF_KIND_TYPEDEF) > 0 ||
	       (kvm && btf__find_by_name_kind(kvm, tname, BTF_KIND_TYPEDEF) > 0);
}

Test(load, each_program_verifies_within_its_budget)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm;
	size_t elf_size, loaded = 0;
	const void *elf = tracer_bpf__elf_bytes(&elf_size);
	static char log[1 << 16];
	char missing[256] = "";

	cr_assert(vmlinux, "loading the kernel's BTF: %s", strerror(errno));
	kvm = btf__load_module_btf("kvm", vmlinux); /* NULL where KVM is built in */
	for (size_t i = 0; i < ARRAY_SIZE(verified_budget); i++) {
		struct bpf_object *obj = bpf_object__open_mem(elf, elf_size, NULL);
		struct bpf_program *p;
		const char *processed;
		unsigned long insns;
		int err;

		cr_assert(obj, "opening the tracer's object: %s", strerror(errno));
		if (!kernel_has_tracepoint(vmlinux, kvm, verified_budget[i].name)) {
			size_t len = strlen(missing);

			snprintf(missing + len, sizeof(missing) - len, " %s",
				 verified_budget[i].name);
			bpf_object__close(obj);
			continue;
		}
		bpf_object__for_each_program(p, obj)
		{
			bool it = !strcmp(bpf_program__name(p), verified_budget[i].name);

			bpf_program__set_autoload(p, it);
			if (it) {
				bpf_program__set_log_level(p, 4); /* the statistics only */
				bpf_program__set_log_buf(p, log, sizeof(log));
			}
		}
		log[0] = 0;
		err = bpf_object__load(obj);
		cr_assert_eq(err, 0, "%s does not load: %s", verified_budget[i].name,
			     strerror(-err));
		processed = strstr(log, "processed ");
		cr_assert(processed, "%s: no statistics in the verifier's log: %s",
			  verified_budget[i].name, log);
		insns = strtoul(processed + strlen("processed "), NULL, 10);
		cr_log_info("%s: %lu instructions verified (budget %u)", verified_budget[i].name,
			    insns, verified_budget[i].budget);
		cr_expect_leq(
			insns, verified_budget[i].budget,
			"%s: the verifier checked %lu instructions, over its budget of %u: a "
			"loop body verified once per round? (make its body a global function)",
			verified_budget[i].name, insns, verified_budget[i].budget);
		loaded++;
		bpf_object__close(obj);
	}
	btf__free(kvm);
	btf__free(vmlinux);
	cr_log_info("%zu of %zu programs verified; left out (no tracepoint in the kernel's BTF):%s",
		    loaded, ARRAY_SIZE(verified_budget), missing[0] ? missing : " none");
	cr_assert_str_empty(missing, "the kernel's BTF has no tracepoint for:%s", missing);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer loads on a host like a bare-metal KVM host, whose BTF has no VirtIO types (no
 * virtio/virtio_ring module is loaded: the host has no VirtIO device of its own), and says
 * what is missing when a type it really needs is not there.
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
#include <criterion/criterion.h>
#include <linux/btf.h>

#include <gma/gma.h>

#include "demo_vm.h"

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
	GMA_OPTS(gma_tracer_opts, opts, .btf_path = btf_path);
	struct gma_tracer *t;

	write_kernel_btf_without(btf_path, virtio);
	t = gma_tracer_new(&opts);
	cr_assert(t,
		  "the tracer needs a VirtIO type from the kernel's BTF: %s ('gma-trace rings "
		  "-v --btf FILE' shows libbpf's relocation)",
		  strerror(errno));
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

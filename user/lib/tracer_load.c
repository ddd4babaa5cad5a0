// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer's BPF side loaded: the skeleton opened (relocated against the kernel's BTF, or a
 * BTF file for a kernel without), configured from gma_tracer_opts, loaded and attached. One
 * BPF object serves every supported kernel: a program whose tracepoint the kernel (or the kvm
 * module) lacks, or whose arguments changed, is turned off before the load rather than
 * failing it, and what was attached is said (gma_tracer_tracepoints()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "tracer_internal.h"

/*
 * Tracepoints the tracer can use; the vCPU-carrying ones tell which VM a thread runs and
 * serve sample requests. With hardware virtualization kvm_exit fires on every exit, and
 * kvm_entry and kvm_page_fault only around one: they are loaded only on a kernel without
 * kvm_exit (each vCPU program is a verification of its own at load, and a run at each hit).
 * kvm_emulate_insn is kept beside kvm_exit: KVM emulating in software never exits.
 */
static const struct {
	const char *name;
	bool carries_vcpu;
	bool unless_kvm_exit;
} tracepoints[] = {
	{ .name = "kvm_exit", .carries_vcpu = true },
	{ .name = "kvm_entry", .carries_vcpu = true, .unless_kvm_exit = true },
	{ .name = "kvm_emulate_insn", .carries_vcpu = true },
	{ .name = "kvm_page_fault", .carries_vcpu = true, .unless_kvm_exit = true },
	{ .name = "kvm_pio" },
	{ .name = "kvm_mmio" },
	{ .name = "kvm_fast_mmio" },
	{ .name = "kvm_set_irq" },
	{ .name = "kvm_msi_set_irq" },
};

static struct bpf_program *tracepoint_prog(struct tracer_bpf *skel, const char *name)
{
	return bpf_object__find_program_by_name(skel->obj, name);
}

/* True when the kernel (or the kvm module) has a BTF-typed tracepoint `name`. */
static bool have_tracepoint(struct btf *vmlinux, struct btf *kvm, const char *name)
{
	char tname[64];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return (vmlinux && btf__find_by_name_kind(vmlinux, tname, BTF_KIND_TYPEDEF) > 0) ||
	       (kvm && btf__find_by_name_kind(kvm, tname, BTF_KIND_TYPEDEF) > 0);
}

/*
 * The arguments of tracepoint `name` (its btf_trace_ typedef's prototype, less the context),
 * -1 when not found. kvm_set_irq(gsi, level, irq_source_id) and kvm_msi_set_irq(address,
 * data) are read by position: a kernel that changed their arguments gets no program on them,
 * rather than one that fails to load.
 */
static int tracepoint_nargs(struct btf *vmlinux, struct btf *kvm, const char *name)
{
	struct btf *btfs[] = { kvm, vmlinux };
	char tname[64];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	for (size_t i = 0; i < 2; i++) {
		const struct btf_type *t;
		int id;

		if (!btfs[i] ||
		    (id = btf__find_by_name_kind(btfs[i], tname, BTF_KIND_TYPEDEF)) <= 0)
			continue;
		t = btf__type_by_id(btfs[i], btf__resolve_type(btfs[i], id));
		if (t && btf_is_ptr(t))
			t = btf__type_by_id(btfs[i], t->type);
		return t && btf_is_func_proto(t) ? (int)btf_vlen(t) - 1 : -1;
	}
	return -1;
}

/* Turns off the programs whose tracepoint the kernel lacks; -ENODEV when no vCPU one is left. */
static int select_tracepoints(struct gma_tracer *t)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm = NULL;
	bool any_vcpu = false, have_exit;
	size_t i, pos = 0;

	if (!vmlinux)
		return -ENOENT;
	kvm = btf__load_module_btf("kvm", vmlinux); /* NULL where KVM is built in */
	have_exit = have_tracepoint(vmlinux, kvm, "kvm_exit");
	for (i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		bool have = have_tracepoint(vmlinux, kvm, tracepoints[i].name) &&
			    !(tracepoints[i].unless_kvm_exit && have_exit);

		if (have && !strcmp(tracepoints[i].name, "kvm_set_irq"))
			have = tracepoint_nargs(vmlinux, kvm, "kvm_set_irq") == 3;
		if (have && !strcmp(tracepoints[i].name, "kvm_msi_set_irq"))
			have = tracepoint_nargs(vmlinux, kvm, "kvm_msi_set_irq") == 2;

		bpf_program__set_autoload(tracepoint_prog(t->skel, tracepoints[i].name), have);
		if (!have)
			continue;
		if (!strcmp(tracepoints[i].name, "kvm_set_irq"))
			t->irq_traced = true;
		if (!strcmp(tracepoints[i].name, "kvm_msi_set_irq"))
			t->msi_traced = true;
		any_vcpu |= tracepoints[i].carries_vcpu;
		pos += snprintf(t->tracepoints + pos, sizeof(t->tracepoints) - pos, "%s%s",
				pos ? " " : "", tracepoints[i].name);
	}
	/*
	 * Only VMX hands an ioeventfd write to the fast path (handle_ept_misconfig), which
	 * carries no data: /sys/module/kvm_intel exists where kvm_intel is loaded or built in.
	 */
	t->fast_mmio = !access("/sys/module/kvm_intel", F_OK);
	btf__free(kvm);
	btf__free(vmlinux);
	return any_vcpu ? 0 : -ENODEV;
}

/* The skeleton configured from the options, its programs chosen, loaded and attached. */
static int load_and_attach(struct gma_tracer *t, const struct tracer_config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = cfg->btf_path);
	struct tracer_bpf *skel;
	int err;

	skel = t->skel = tracer_bpf__open_opts(&open_opts);
	if (!skel)
		return -errno;
	/* read-only data: the verifier sees these as constants, dead branches pruned */
	skel->rodata->frag_max = cfg->frag_max;
	skel->rodata->sample_frags_max = cfg->sample_frags_max;
	skel->rodata->snap_len = cfg->snap_len;
	skel->rodata->chains_per_notify = cfg->chains_per_notify;
	skel->rodata->indices_only = cfg->indices_only;
	skel->rodata->used_scan_ns = (__u64)cfg->used_scan_us * 1000;
	skel->rodata->target_tgid = cfg->pid;
	err = bpf_map__set_max_entries(skel->maps.events, cfg->ringbuf_size);
	if (!err)
		err = select_tracepoints(t);
	if (!err)
		err = tracer_bpf__load(skel);
	if (!err)
		err = tracer_bpf__attach(skel);
	return err;
}

int tracer_load(struct gma_tracer *t, const struct tracer_config *cfg, struct gma_load_error *why)
{
	int err;

	tracer_capture_start(why);
	err = load_and_attach(t, cfg);
	tracer_capture_stop();
	return err;
}

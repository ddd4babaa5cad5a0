// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Why the tracer did not load (tracer_load_error.c): libbpf's messages as libbpf 1.x prints
 * them, fed one by one as the load's print function gets them, give the kind and the names
 * (type without its flavor suffix, field, tracepoint, program); errno alone gives the kinds
 * no message tells; the caller's struct is filled as far as its sz says. No BPF is loaded:
 * tests/bpf/test_load.c checks the same against a real load.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include <gma/gma.h>

#include "tracer_internal.h"

/* What libbpf prints when the verifier meets an instruction a failed CO-RE relocation poisoned. */
static const char refused[] =
	"libbpf: prog 'kvm_exit': BPF program load failed: Invalid argument\n";
static const char core_log[] =
	"libbpf: prog 'kvm_exit': -- BEGIN PROG LOAD LOG --\n"
	"func 'kvm_exit' arg0 has btf_id 4884 type STRUCT 'kvm_vcpu'\n"
	"12: <invalid CO-RE relocation>\n"
	"failed to resolve CO-RE relocation <byte_off> [179] struct kvm_memslots___old.used_slots "
	"(0:1 @ offset 8)\n"
	"processed 14 insns (limit 1000000) max_states_per_insn 0 total_states 1\n"
	"-- END PROG LOAD LOG --\n";

static struct gma_load_error fresh(void)
{
	return (struct gma_load_error){ .sz = sizeof(struct gma_load_error) };
}

Test(load_error, a_core_relocation_names_the_kernel_type_and_field)
{
	struct gma_load_error why = fresh();

	tracer_load_error_note(&why, refused);
	tracer_load_error_note(&why, core_log);
	tracer_load_error_note(&why, "libbpf: prog 'kvm_exit': failed to load: -22\n");
	tracer_load_error_note(&why, "libbpf: failed to load object 'tracer_bpf'\n");
	tracer_load_error_conclude(&why, -EINVAL);
	cr_assert_eq(why.err, -EINVAL);
	/* built in, or a module with its BTF, on the machines the tests run on: see test_load */
	cr_assert(why.kind == GMA_LOAD_MISSING_TYPE || why.kind == GMA_LOAD_NO_KVM_BTF, "kind %s",
		  gma_load_error_kind_name(why.kind));
	cr_assert_str_eq(why.type, "struct kvm_memslots");
	cr_assert_str_eq(why.field, "used_slots");
	cr_assert_str_eq(why.program, "kvm_exit");
	cr_assert_str_empty(why.tracepoint);
	cr_assert_str_eq(why.libbpf_line, "failed to resolve CO-RE relocation <byte_off> [179] "
					  "struct kvm_memslots___old.used_slots (0:1 @ offset 8)");
}

Test(load_error, a_type_based_relocation_and_a_nested_field)
{
	struct gma_load_error why = fresh();

	tracer_load_error_note(&why, "failed to resolve CO-RE relocation <type_exists> [5] "
				     "struct task_struct___new\n");
	tracer_load_error_conclude(&why, -EINVAL);
	/* not a KVM type: never blamed on KVM's BTF */
	cr_assert_eq(why.kind, GMA_LOAD_MISSING_TYPE);
	cr_assert_str_eq(why.type, "struct task_struct");
	cr_assert_str_empty(why.field);
	cr_assert_str_empty(why.program, "no 'prog' prefix: no program");

	why = fresh();
	tracer_load_error_note(&why, "failed to resolve CO-RE relocation <byte_off> [7] "
				     "struct mm_struct.mmap_lock.owner (0:3:0 @ offset 120)");
	tracer_load_error_conclude(&why, -EINVAL);
	cr_assert_str_eq(why.type, "struct mm_struct");
	cr_assert_str_eq(why.field, "mmap_lock.owner");
}

Test(load_error, the_first_line_that_names_a_cause_is_the_cause)
{
	struct gma_load_error why = fresh();

	tracer_load_error_note(&why, refused);
	tracer_load_error_note(&why, core_log);
	tracer_load_error_note(&why,
			       "libbpf: prog 'kvm_pio': -- BEGIN PROG LOAD LOG --\n"
			       "failed to resolve CO-RE relocation <byte_off> [3] struct kvm.x "
			       "(0:0 @ offset 0)\n");
	tracer_load_error_note(&why, "libbpf: failed to find valid kernel BTF\n");
	cr_assert_str_eq(why.type, "struct kvm_memslots");
	cr_assert_str_eq(why.program, "kvm_exit");
	cr_assert_eq(why.kind, GMA_LOAD_MISSING_TYPE);
}

Test(load_error, a_missing_tracepoint_and_no_kernel_btf)
{
	struct gma_load_error why = fresh();

	tracer_load_error_note(&why, "libbpf: prog 'kvm_mmio': failed to find kernel BTF type ID "
				     "of 'kvm_mmio': -3\n");
	tracer_load_error_conclude(&why, -ESRCH);
	cr_assert(why.kind == GMA_LOAD_MISSING_TRACEPOINT || why.kind == GMA_LOAD_NO_KVM_BTF);
	cr_assert_str_eq(why.tracepoint, "kvm_mmio");
	cr_assert_str_eq(why.program, "kvm_mmio");
	cr_assert_str_eq(why.libbpf_line, "failed to find kernel BTF type ID of 'kvm_mmio': -3");

	why = fresh();
	tracer_load_error_note(&why, "libbpf: failed to find valid kernel BTF\n");
	tracer_load_error_conclude(&why, -ENOENT);
	cr_assert_eq(why.kind, GMA_LOAD_NO_KERNEL_BTF);
	cr_assert_str_eq(why.libbpf_line, "failed to find valid kernel BTF");
}

Test(load_error, a_refusal_without_a_telling_line_is_the_verifier_or_privilege)
{
	struct gma_load_error why = fresh();
	static const char log[] = "libbpf: prog 'kvm_mmio': -- BEGIN PROG LOAD LOG --\n"
				  "R1 invalid mem access 'scalar'\n-- END PROG LOAD LOG --\n";

	tracer_load_error_note(&why, "libbpf: prog 'kvm_mmio': BPF program load failed: "
				     "Permission denied\n");
	tracer_load_error_note(&why, log);
	tracer_load_error_conclude(&why, -EACCES);
	cr_assert_eq(why.kind, GMA_LOAD_VERIFIER);
	cr_assert_str_eq(why.program, "kvm_mmio");
	cr_assert_str_empty(why.libbpf_line, "a verifier's complaint is in libbpf's log, not here");

	why = fresh();
	tracer_load_error_note(&why, "libbpf: prog 'kvm_mmio': BPF program load failed: "
				     "Operation not permitted\n");
	tracer_load_error_conclude(&why, -EPERM);
	cr_assert_eq(why.kind, GMA_LOAD_PERMISSION);
}

Test(load_error, errno_alone)
{
	static const struct {
		int err;
		__u32 kind;
	} cases[] = {
		{ -EPERM, GMA_LOAD_PERMISSION }, { -EACCES, GMA_LOAD_PERMISSION },
		{ -ENODEV, GMA_LOAD_NO_KVM },	 { -ENOMEM, GMA_LOAD_OTHER },
		{ -EINVAL, GMA_LOAD_OTHER },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gma_load_error why = fresh();

		tracer_load_error_note(&why, "libbpf: map 'events': created\n"); /* tells nothing */
		tracer_load_error_conclude(&why, cases[i].err);
		cr_expect_eq(why.kind, cases[i].kind, "%s: %s", strerror(-cases[i].err),
			     gma_load_error_kind_name(why.kind));
		cr_expect_eq(why.err, cases[i].err);
	}
}

Test(load_error, a_load_that_succeeds_clears_what_was_noted)
{
	struct gma_load_error why = fresh();

	tracer_load_error_note(&why, refused);
	tracer_load_error_note(&why, core_log);
	tracer_load_error_conclude(&why, 0);
	cr_assert_eq(why.kind, GMA_LOAD_OK);
	cr_assert_eq(why.err, 0);
	cr_assert_str_empty(why.type);
	cr_assert_str_empty(why.libbpf_line);
	cr_assert_eq(why.sz, sizeof(why));
}

Test(load_error, the_callers_struct_is_filled_as_far_as_its_sz)
{
	struct gma_load_error why = fresh();
	struct {
		struct gma_load_error e;
		char newer[16]; /* fields of a newer gma.h than this library's */
	} big;
	struct gma_load_error small;

	tracer_load_error_note(&why, core_log);
	tracer_load_error_conclude(&why, -EINVAL);

	/* an older caller's struct: err and kind, nothing past its end */
	memset(&small, 0x5a, sizeof(small));
	small.sz = offsetof(struct gma_load_error, type);
	tracer_load_error_copy(&small, &why);
	cr_assert_eq(small.sz, offsetof(struct gma_load_error, type));
	cr_assert_eq(small.err, -EINVAL);
	cr_assert_eq(small.kind, why.kind);
	cr_assert_eq(small.type[0], 0x5a, "written past the caller's sz");

	/* a newer caller's: all of it, and what this library does not know zeroed */
	memset(&big, 0x5a, sizeof(big));
	big.e.sz = sizeof(big);
	tracer_load_error_copy(&big.e, &why);
	cr_assert_eq(big.e.sz, sizeof(big));
	cr_assert_str_eq(big.e.type, "struct kvm_memslots");
	for (size_t i = 0; i < sizeof(big.newer); i++)
		cr_assert_eq(big.newer[i], 0);

	tracer_load_error_copy(NULL, &why); /* none asked for */
}

Test(load_error, kinds_have_names)
{
	for (__u32 k = 0; k < GMA_LOAD_KIND_NR; k++)
		cr_assert_not_null(gma_load_error_kind_name(k), "kind %u", k);
	cr_assert_str_eq(gma_load_error_kind_name(GMA_LOAD_MISSING_TYPE), "missing-type");
	cr_assert_null(gma_load_error_kind_name(GMA_LOAD_KIND_NR));
}

/* Through the public API, before anything is loaded: no privilege needed. */
Test(load_error, gma_tracer_new_says_an_option_is_out_of_range)
{
	struct gma_load_error why = { .sz = sizeof(why), .kind = 99 };
	GMA_OPTS(gma_tracer_opts, opts, .ringbuf_size = 3, .load_error = &why);

	cr_assert_null(gma_tracer_new(&opts));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(why.kind, GMA_LOAD_INVALID_OPTS);
	cr_assert_eq(why.err, -EINVAL);

	why.sz = 0; /* not declared with GMA_OPTS: refused, not written */
	opts.ringbuf_size = 0;
	cr_assert_null(gma_tracer_new(&opts));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(why.kind, GMA_LOAD_INVALID_OPTS);
}

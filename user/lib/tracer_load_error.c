// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Why the tracer did not load (struct gma_load_error). errno alone says little: a kernel
 * type the tracer reads that the BTF lacks, a verifier refusal and a bad option are all
 * EINVAL. What was missing is only in libbpf's messages, so during the load a print function
 * of ours reads them (passing each on to the caller's) and notes the first line that names
 * the cause: libbpf's words are understood here, once, and callers get names (the type, the
 * field, the tracepoint, the program) instead of a log to search.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <gma/gma.h>

#include "gma_internal.h"
#include "tracer_internal.h"

/*
 * libbpf's lines that name the cause. A CO-RE relocation that found no type is reported by
 * the verifier's log (one message, many lines): libbpf rewrites the poisoned instruction
 * there into this line. Spellings of libbpf 1.x.
 */
#define CORE_RELO_FAILED "failed to resolve CO-RE relocation"
#define NO_TRACEPOINT "failed to find kernel BTF type ID of '"
#define NO_KERNEL_BTF "failed to find valid kernel BTF"
#define PROG_REFUSED "BPF program load failed"

static const char *const kind_names[GMA_LOAD_KIND_NR] = {
	[GMA_LOAD_OK] = "ok",
	[GMA_LOAD_OTHER] = "other",
	[GMA_LOAD_INVALID_OPTS] = "invalid-opts",
	[GMA_LOAD_PERMISSION] = "permission",
	[GMA_LOAD_NO_KVM] = "no-kvm",
	[GMA_LOAD_NO_KERNEL_BTF] = "no-kernel-btf",
	[GMA_LOAD_NO_KVM_BTF] = "no-kvm-btf",
	[GMA_LOAD_MISSING_TYPE] = "missing-type",
	[GMA_LOAD_MISSING_TRACEPOINT] = "missing-tracepoint",
	[GMA_LOAD_VERIFIER] = "verifier",
};

const char *gma_load_error_kind_name(__u32 kind)
{
	return kind < GMA_LOAD_KIND_NR ? kind_names[kind] : NULL;
}

/* Copies n bytes of src into the array dst as a string, cut to fit. */
#define COPY_STR(dst, src, n) snprintf(dst, sizeof(dst), "%.*s", (int)(n), src)

/*
 * The type and field libbpf's CO-RE line names, after the needle: " <byte_off> [179] struct
 * kvm_memslots___old.used_slots (0:0 @ offset 0)" (a type-based relocation has no field and
 * no parenthesis). The tracer's flavor suffix ("___old") is dropped: the kernel's name is
 * what a user looks for in its BTF.
 */
static void note_core_names(struct gma_load_error *why, const char *p)
{
	size_t len = strcspn(p, "\n"), name_len, type_len;
	const char *name = memmem(p, len, "] ", 2), *paren, *flavor;

	if (!name)
		return;
	name += 2;
	len -= name - p;
	paren = memmem(name, len, " (", 2);
	name_len = paren ? (size_t)(paren - name) : len;
	/* "struct NAME": the kind word, then the name up to the access path (".a.b", "[1]") */
	type_len = strcspn(name, " ");
	if (type_len < name_len)
		type_len += 1 + strcspn(name + type_len + 1, ".[:( \n");
	if (type_len > name_len)
		type_len = name_len;
	flavor = memmem(name, type_len, "___", 3);
	COPY_STR(why->type, name, flavor ? (size_t)(flavor - name) : type_len);
	name += type_len;
	name_len -= type_len;
	if (name_len && *name == '.') {
		name++;
		name_len--;
	}
	COPY_STR(why->field, name, name_len);
}

void tracer_load_error_note(struct gma_load_error *why, const char *msg)
{
	const char *p = NULL;
	__u32 kind = GMA_LOAD_OK;

	if ((p = strstr(msg, CORE_RELO_FAILED))) {
		kind = GMA_LOAD_MISSING_TYPE;
	} else if ((p = strstr(msg, NO_TRACEPOINT))) {
		kind = GMA_LOAD_MISSING_TRACEPOINT;
	} else if ((p = strstr(msg, NO_KERNEL_BTF))) {
		kind = GMA_LOAD_NO_KERNEL_BTF;
	} else if (strstr(msg, PROG_REFUSED)) {
		if (why->kind == GMA_LOAD_OK)
			why->kind = GMA_LOAD_VERIFIER; /* unless a line below names more */
	} else {
		return;
	}
	/* "libbpf: prog 'kvm_exit': ...": the program being loaded */
	if (!strncmp(msg, "libbpf: ", 8))
		msg += 8;
	if (!why->program[0] && !strncmp(msg, "prog '", 6))
		COPY_STR(why->program, msg + 6, strcspn(msg + 6, "'\n"));
	/* the first line that names a cause is the cause: what follows is its consequence */
	if (kind == GMA_LOAD_OK || why->libbpf_line[0])
		return;
	why->kind = kind;
	COPY_STR(why->libbpf_line, p, strcspn(p, "\n"));
	if (kind == GMA_LOAD_MISSING_TYPE)
		note_core_names(why, p + strlen(CORE_RELO_FAILED));
	else if (kind == GMA_LOAD_MISSING_TRACEPOINT)
		COPY_STR(why->tracepoint, p + strlen(NO_TRACEPOINT),
			 strcspn(p + strlen(NO_TRACEPOINT), "'\n"));
}

/* KVM is a module, loaded, and its BTF is not in /sys/kernel/btf: KVM's types are nowhere. */
static bool kvm_module_without_btf(void)
{
	return !access("/sys/module/kvm", F_OK) && !access("/sys/module/kvm/initstate", F_OK) &&
	       access("/sys/kernel/btf/kvm", F_OK);
}

void tracer_load_error_conclude(struct gma_load_error *why, int err)
{
	if (!err) {
		*why = (struct gma_load_error){ .sz = why->sz };
		return;
	}
	why->err = err;
	if (why->kind == GMA_LOAD_MISSING_TYPE || why->kind == GMA_LOAD_MISSING_TRACEPOINT) {
		if ((strstr(why->type, "kvm") || strstr(why->tracepoint, "kvm")) &&
		    kvm_module_without_btf())
			why->kind = GMA_LOAD_NO_KVM_BTF;
		return;
	}
	/* a refusal for want of privilege is not the verifier's */
	if (why->kind == GMA_LOAD_OK || (why->kind == GMA_LOAD_VERIFIER && err == -EPERM)) {
		switch (err) {
		case -EPERM:
		case -EACCES:
			why->kind = GMA_LOAD_PERMISSION;
			break;
		case -ENODEV:
			why->kind = GMA_LOAD_NO_KVM;
			break;
		default:
			why->kind = GMA_LOAD_OTHER;
		}
	}
}

void tracer_load_error_copy(struct gma_load_error *out, const struct gma_load_error *why)
{
	/* as far as the caller's sz; a newer caller's fields, unknown here, zeroed */
	if (OUT_VALID(out))
		GMA_COPY_OUT(out, why);
}

/*
 * The capture. libbpf has one print function per process and passes it no context: the
 * load being captured is found through a thread-local pointer, so that messages of other
 * threads (another libbpf user) are passed on untouched, and loads are serialised so that the
 * function restored at the end is the caller's, not another load's.
 */
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static libbpf_print_fn_t outer_print; /* the caller's, messages go on to it */
static __thread struct gma_load_error *capturing;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *msg;

	if (level == LIBBPF_WARN && capturing) {
		va_list copy;

		va_copy(copy, args);
		if (vasprintf(&msg, fmt, copy) >= 0) {
			tracer_load_error_note(capturing, msg);
			free(msg);
		}
		va_end(copy);
	}
	return outer_print ? outer_print(level, fmt, args) : 0;
}

void tracer_capture_start(struct gma_load_error *why)
{
	pthread_mutex_lock(&capture_lock);
	outer_print = libbpf_set_print(capture_print);
	capturing = why;
}

void tracer_capture_stop(void)
{
	capturing = NULL;
	libbpf_set_print(outer_print);
	pthread_mutex_unlock(&capture_lock);
}

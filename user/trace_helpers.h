/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by gma-trace's commands: option parsing, errors with hints, output. */
#ifndef GMA_TRACE_HELPERS_H
#define GMA_TRACE_HELPERS_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <gma/gma.h>

struct env {
	bool json;
	bool verbose;
	const char *btf_path; /* --btf: relocate the tracer against this BTF */
};

/* Key of --btf in the commands that load the tracer (handled by parse_common). */
#define OPT_BTF 0x1000
#define BTF_OPTION                                                                                \
	{                                                                                         \
		"btf", OPT_BTF, "FILE", 0,                                                        \
			"Kernel BTF to relocate the tracer against instead of /sys/kernel/btf", 0 \
	}

/* Set by SIGINT/SIGTERM: long-running commands stop and print their summary. */
extern volatile sig_atomic_t exiting;

/* Routes libbpf's messages (warnings only unless -v) and installs the signal handlers. */
void setup_env(struct env *env);

/* -j and -v, shared by every command's argp parser. */
error_t parse_common(struct env *env, int key, char *arg, struct argp_state *state);
error_t parse_pid(const char *arg, pid_t *pid, struct argp_state *state);
error_t parse_u64(const char *arg, __u64 *v, const char *what, struct argp_state *state);

/* Prints "gma-trace: WHAT: reason" and what to do about it; returns err. */
int report_error(int err, const char *what);

/*
 * The tracer did not load: the reason, with libbpf's own words on what was missing (a kernel
 * type, a tracepoint) and what to do; returns err.
 */
int report_load_error(int err);

/* Lists the VMs and finds pid's; prints why not (no such process, not a VM) on failure. */
int find_vm(pid_t pid, struct gma_vm **vms, size_t *n, const struct gma_vm **vm);

/* True once pid is gone or a zombie: a VMM that exited runs no more vCPUs. */
bool process_exited(pid_t pid);
const char *comm_of(pid_t pid);
const char *human_size(__u64 bytes);
long elapsed_ms(const struct timespec *since);

/*
 * Hexdump of a sample, 16 bytes a line; bytes that are not guest data print as "--" (unmapped),
 * "!!" (fault), "##" (foreign mm), "??" (lost), ".." (not covered), then a list of those
 * ranges with their reason. JSON: one object with the bytes as hex and the unread ranges.
 */
void print_hexdump(FILE *f, __u64 gpa, const __u8 *data, const __u8 *state, size_t len, bool json,
		   const char *source, pid_t pid);

const char *byte_state_name(__u8 state);

#endif /* GMA_TRACE_HELPERS_H */

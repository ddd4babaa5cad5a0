// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "trace_helpers.h"

volatile sig_atomic_t exiting;
static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !verbose))
		return 0;
	if (!verbose && level == LIBBPF_WARN)
		return 0; /* errors are reported by gma-trace with a reason; -v shows libbpf's */
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	exiting = 1;
}

void setup_env(struct env *env)
{
	struct sigaction sa = { .sa_handler = on_signal };

	libbpf_set_print(libbpf_print);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	(void)env;
}

error_t parse_common(struct env *env, int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'j':
		env->json = true;
		return 0;
	case 'v':
		env->verbose = verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		argp_usage(state);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

error_t parse_pid(const char *arg, pid_t *pid, struct argp_state *state)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v <= 0 || v > INT32_MAX)
		argp_error(state, "invalid PID '%s'", arg);
	*pid = v;
	return 0;
}

error_t parse_u64(const char *arg, __u64 *v, const char *what, struct argp_state *state)
{
	char *end;

	errno = 0;
	*v = strtoull(arg, &end, 0);
	if (errno || *end || !*arg || arg[0] == '-')
		argp_error(state, "invalid %s '%s' (decimal, or 0x for hex)", what, arg);
	return 0;
}

int report_error(int err, const char *what)
{
	const char *hint = NULL;

	switch (-err) {
	case EPERM:
	case EACCES:
		hint = "loading BPF programs needs root, or CAP_BPF and CAP_PERFMON";
		break;
	case ENODEV:
		hint = "the kernel has no KVM tracepoints: load kvm (and kvm_amd or kvm_intel)";
		break;
	case ENOENT:
		if (access("/sys/kernel/btf/vmlinux", R_OK))
			hint = "the kernel has no BTF (/sys/kernel/btf/vmlinux): it needs "
			       "CONFIG_DEBUG_INFO_BTF=y";
		else if (access("/dev/kvm", F_OK))
			hint = "this host has no KVM (/dev/kvm missing): no VM can run here";
		break;
	case EPROTO:
		hint = "a record of an unknown version: gma-trace and its BPF side disagree";
		break;
	}
	fprintf(stderr, "gma-trace: %s: %s%s%s\n", what, strerror(-err), hint ? "; " : "",
		hint ? hint : "");
	return err;
}

int find_vm(pid_t pid, struct gma_vm **vms, size_t *n, const struct gma_vm **vm)
{
	int err;

	if (kill(pid, 0) && errno == ESRCH) {
		fprintf(stderr, "gma-trace: no process %d\n", pid);
		return -ESRCH;
	}
	err = gma_vms_list(vms, n);
	if (err)
		return report_error(err, "listing VMs");
	*vm = gma_vms_find_pid(*vms, *n, pid);
	if (!*vm) {
		fprintf(stderr,
			"gma-trace: process %d (%s) runs no KVM VM; 'gma-trace vms' lists them\n",
			pid, comm_of(pid));
		gma_vms_free(*vms, *n);
		*vms = NULL;
		*n = 0;
		return -ESRCH;
	}
	return 0;
}

bool process_exited(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')' */
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

const char *comm_of(pid_t pid)
{
	static char comm[64];
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f || !fgets(comm, sizeof(comm), f))
		snprintf(comm, sizeof(comm), "?");
	if (f)
		fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	return comm;
}

const char *human_size(__u64 bytes)
{
	static char buf[32];
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && !(bytes % 1024) && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, sizeof(buf), "%llu%s", (unsigned long long)bytes, units[u]);
	return buf;
}

long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

const char *byte_state_name(__u8 state)
{
	switch (state) {
	case GMA_BYTE_READ:
		return "read";
	case GMA_BYTE_UNMAPPED:
		return "unmapped";
	case GMA_BYTE_FAULT:
		return "fault";
	case GMA_BYTE_FOREIGN_MM:
		return "foreign-mm";
	case GMA_BYTE_LOST:
		return "lost";
	case GMA_BYTE_CAPPED:
		return "capped";
	}
	return "unknown";
}

static const char *byte_mark(__u8 state)
{
	static const char *marks[] = { "", "--", "!!", "##", "??", ".." };

	return state < sizeof(marks) / sizeof(marks[0]) ? marks[state] : "**";
}

/* Calls fn for each maximal run of equal non-READ states. */
static void for_each_unread(__u64 gpa, const __u8 *state, size_t len,
			    void (*fn)(void *ctx, __u64 gpa, size_t len, __u8 state, bool first),
			    void *ctx)
{
	bool first = true;

	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && state[j] == state[i])
			j++;
		if (state[i] != GMA_BYTE_READ) {
			fn(ctx, gpa + i, j - i, state[i], first);
			first = false;
		}
		i = j;
	}
}

static void print_range_text(void *ctx, __u64 gpa, size_t len, __u8 state, bool first)
{
	fprintf(ctx, "%s  0x%016llx-0x%016llx  %s\n", first ? "not read:\n" : "",
		(unsigned long long)gpa, (unsigned long long)(gpa + len - 1),
		byte_state_name(state));
}

static void print_range_json(void *ctx, __u64 gpa, size_t len, __u8 state, bool first)
{
	fprintf(ctx, "%s{\"gpa\":%llu,\"len\":%zu,\"reason\":\"%s\"}", first ? "" : ",",
		(unsigned long long)gpa, len, byte_state_name(state));
}

void print_hexdump(FILE *f, __u64 gpa, const __u8 *data, const __u8 *state, size_t len, bool json,
		   const char *source, pid_t pid)
{
	if (json) {
		fprintf(f, "{\"pid\":%d,\"source\":\"%s\",\"gpa\":%llu,\"len\":%zu,\"bytes\":\"",
			pid, source, (unsigned long long)gpa, len);
		for (size_t i = 0; i < len; i++)
			fprintf(f, "%02x", state[i] == GMA_BYTE_READ ? data[i] : 0);
		fprintf(f, "\",\"unread\":[");
		for_each_unread(gpa, state, len, print_range_json, f);
		fprintf(f, "]}\n");
		return;
	}
	for (size_t line = 0; line < len; line += 16) {
		size_t n = len - line < 16 ? len - line : 16;

		fprintf(f, "%016llx ", (unsigned long long)(gpa + line));
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				fputc(' ', f);
			if (i >= n)
				fprintf(f, "   ");
			else if (state[line + i] == GMA_BYTE_READ)
				fprintf(f, " %02x", data[line + i]);
			else
				fprintf(f, " %s", byte_mark(state[line + i]));
		}
		fprintf(f, "  |");
		for (size_t i = 0; i < n; i++) {
			__u8 c = data[line + i];

			fputc(state[line + i] == GMA_BYTE_READ && c >= 0x20 && c < 0x7f ? c : '.',
			      f);
		}
		fprintf(f, "|\n");
	}
	for_each_unread(gpa, state, len, print_range_text, f);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What gma-trace's commands share: option parsing, errors with hints, process helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "gma-trace.h"

volatile sig_atomic_t exiting;
static bool verbose;

/*
 * libbpf's first warning that names why a load failed (a CO-RE relocation against a type the
 * kernel lacks, a tracepoint it does not have), kept for report_load_error() when -v is off.
 */
static char load_why[512];

static void keep_load_why(const char *fmt, va_list args)
{
	static const char *const needles[] = { "failed to resolve CO-RE relocation",
					       "failed to find kernel BTF type ID",
					       "failed to find valid kernel BTF" };
	char *msg, *p = NULL;

	/* a verifier log comes as one message: look for the telling line inside it */
	if (load_why[0] || vasprintf(&msg, fmt, args) < 0)
		return;
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]) && !p; i++)
		p = strstr(msg, needles[i]);
	if (p)
		snprintf(load_why, sizeof(load_why), "%.*s", (int)strcspn(p, "\n"), p);
	free(msg);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	va_list copy;

	if (level == LIBBPF_WARN) {
		va_copy(copy, args);
		keep_load_why(fmt, copy);
		va_end(copy);
	}
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !verbose))
		return 0;
	if (!verbose && level == LIBBPF_WARN)
		return 0; /* errors are reported by gma-trace with a reason; -v shows libbpf's */
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

void setup_env(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	libbpf_set_print(libbpf_print);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

error_t parse_common(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'j':
		env.json = true;
		return 0;
	case 'v':
		env.verbose = verbose = true;
		return 0;
	case OPT_BTF:
		if (access(arg, R_OK))
			argp_error(state, "--btf '%s': %s", arg, strerror(errno));
		env.btf_path = arg;
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

error_t parse_u32(const char *arg, __u32 *v, const char *what, struct argp_state *state)
{
	__u64 x;

	parse_u64(arg, &x, what, state);
	if (x > 0xffffffffULL)
		argp_error(state, "%s '%s' is too large", what, arg);
	*v = x;
	return 0;
}

int parse_queue_spec(const char *arg, struct queue_spec *q)
{
	char *s = strdup(arg), *save = NULL, *kv;
	unsigned int have = 0;
	int err = 0;

	if (!s)
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	for (kv = strtok_r(s, ",", &save); kv && !err; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		unsigned long long v;

		if (!eq) {
			err = -EINVAL;
			break;
		}
		*eq = 0;
		errno = 0;
		v = strtoull(eq + 1, &end, 0);
		if (errno || *end || end == eq + 1) {
			err = -EINVAL;
			break;
		}
		if (!strcmp(kv, "base"))
			q->base = v, have |= 1;
		else if (!strcmp(kv, "index"))
			q->index = v, have |= 2;
		else if (!strcmp(kv, "num"))
			q->layout.num = v, have |= 4;
		else if (!strcmp(kv, "desc"))
			q->layout.desc = v, have |= 8;
		else if (!strcmp(kv, "driver") || !strcmp(kv, "avail"))
			q->layout.driver = v, have |= 16;
		else if (!strcmp(kv, "device") || !strcmp(kv, "used"))
			q->layout.device = v, have |= 32;
		else if (!strcmp(kv, "type"))
			q->device_id = v;
		else
			err = -EINVAL;
	}
	free(s);
	if (!err && (have & 0x3c) != 0x3c)
		err = -EINVAL;
	return err;
}

error_t parse_queue_opt(const char *arg, struct queue_spec *queues, size_t *n,
			struct argp_state *state)
{
	if (*n == QUEUE_SPECS_MAX)
		argp_error(state, "at most %d --queue", QUEUE_SPECS_MAX);
	else if (parse_queue_spec(arg, &queues[*n]))
		argp_error(state, "bad --queue '%s': want " QUEUE_SPEC_SYNTAX, arg);
	else
		++*n;
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

/*
 * The type libbpf's warning names ("... [12] struct kvm_memslots___old.used_slots (0:0 ...")
 * as the kernel spells it, without the CO-RE flavor suffix.
 */
static void print_missing_type(const char *why)
{
	const char *p = strstr(why, "] "), *end;
	char name[128], *flavor;

	if (!strstr(why, "CO-RE") || !p) {
		fprintf(stderr, "gma-trace: %s\n", why);
		return;
	}
	p += 2;
	end = strstr(p, " (");
	snprintf(name, sizeof(name), "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
	flavor = strstr(name, "___");
	if (flavor) /* "kvm_memslots___old.used_slots" -> "kvm_memslots.used_slots" */
		memmove(flavor, flavor + strcspn(flavor, "."),
			strlen(flavor + strcspn(flavor, ".")) + 1);
	fprintf(stderr, "gma-trace: the kernel's BTF has no '%s', which the tracer reads\n", name);
}

int report_load_error(int err)
{
	report_error(err, "loading the tracer");
	if (!load_why[0]) {
		if (!verbose && err != -EPERM && err != -EACCES && err != -ENODEV)
			fprintf(stderr, "gma-trace: run with -v to see libbpf's log\n");
		return err;
	}
	print_missing_type(load_why);
	fprintf(stderr, "gma-trace: libbpf: %s\n", load_why);
	if (strstr(load_why, "kvm") && !access("/sys/module/kvm", F_OK) &&
	    access("/sys/kernel/btf/kvm", F_OK) && !access("/sys/module/kvm/initstate", F_OK))
		fprintf(stderr, "gma-trace: KVM is a module here and has no BTF "
				"(/sys/kernel/btf/kvm): the kernel needs "
				"CONFIG_DEBUG_INFO_BTF_MODULES=y, or pass --btf with a BTF file "
				"holding KVM's types\n");
	else if (strstr(load_why, "kernel BTF type ID"))
		fprintf(stderr, "gma-trace: this kernel lacks a KVM tracepoint the tracer needs; "
				"load kvm and kvm_amd or kvm_intel\n");
	else
		fprintf(stderr,
			"gma-trace: this kernel lacks a type the tracer was built "
			"against; please report it with the output of 'gma-trace ... -v'\n");
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

void for_each_unread(const struct dump *d,
		     void (*fn)(void *ctx, __u64 gpa, size_t len, __u8 state, bool first),
		     void *ctx)
{
	bool first = true;

	for (size_t i = 0; i < d->len;) {
		size_t j = i;

		while (j < d->len && d->state[j] == d->state[i])
			j++;
		if (d->state[i] != GMA_BYTE_READ) {
			fn(ctx, d->gpa + i, j - i, d->state[i], first);
			first = false;
		}
		i = j;
	}
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What gma-trace's commands share: option parsing, errors with hints, process helpers. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include <bpf/libbpf.h>

#include "gma-trace.h"

volatile sig_atomic_t exiting;
static bool verbose;

/* libbpf's log with -v; without, why a load failed comes from libgma (report_load_error). */
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

/*
 * A number in C syntax (0x hex, 0 octal), digits only: no sign, no space (strtoull would
 * take " -1" as 2^64 - 1). 0, or -EINVAL (not such a number) or -ERANGE (above 2^64 - 1).
 */
int str_u64(const char *arg, __u64 *v)
{
	char *end;

	if (!isdigit((unsigned char)arg[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoull(arg, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	return errno || *end ? -EINVAL : 0;
}

error_t parse_u64(const char *arg, __u64 *v, const char *what, struct argp_state *state)
{
	int err = str_u64(arg, v);

	if (err == -ERANGE)
		argp_error(state, "%s '%s': above 2^64 - 1", what, arg);
	else if (err)
		argp_error(state, "invalid %s '%s' (a number: decimal, or 0x for hex)", what, arg);
	return 0;
}

error_t parse_u32(const char *arg, __u32 *v, const char *what, struct argp_state *state)
{
	return parse_u32_range(arg, v, what, 0, UINT32_MAX, state);
}

error_t parse_u32_range(const char *arg, __u32 *v, const char *what, __u32 min, __u32 max,
			struct argp_state *state)
{
	__u64 x;

	parse_u64(arg, &x, what, state);
	if (x < min || x > max)
		argp_error(state, "%s '%s': out of range, want %u to %u", what, arg, min, max);
	*v = x;
	return 0;
}

error_t parse_ringbuf_size(const char *arg, __u32 *v, struct argp_state *state)
{
	__u32 page = sysconf(_SC_PAGESIZE), max = 1u << 31;
	__u64 x;

	parse_u64(arg, &x, "--ringbuf-size", state);
	if (x < page || x > max || (x & (x - 1)))
		argp_error(state,
			   "--ringbuf-size '%s': want a power of 2 from %u (the page size) to %u",
			   arg, page, max);
	*v = x;
	return 0;
}

int report_error(int err, const char *what)
{
	fprintf(stderr, "gma-trace: %s: %s\n", what, strerror(-err));
	return err;
}

/* Whether this process holds CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON (/proc/self/status). */
static bool has_bpf_caps(void)
{
	unsigned long long eff = 0;
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return (eff & 1ULL << 21) || ((eff & 1ULL << 39) && (eff & 1ULL << 38));
}

int report_bpf_error(int err, const char *what)
{
	const char *hint = NULL;

	switch (-err) {
	case EPERM:
	case EACCES:
		/* with the privilege, EACCES is the verifier refusing a program */
		hint = has_bpf_caps() ?
			       "the kernel's verifier refused a program of the tracer; "
			       "'-v' shows its log, please report it" :
			       "loading BPF programs needs root, or CAP_BPF and CAP_PERFMON";
		break;
	case ENODEV:
		hint = "the kernel has no KVM tracepoints: load kvm (and kvm_amd or kvm_intel)";
		break;
	case ENOENT:
		if (!env.btf_path && access("/sys/kernel/btf/vmlinux", R_OK))
			hint = "the kernel has no BTF (/sys/kernel/btf/vmlinux): it needs "
			       "CONFIG_DEBUG_INFO_BTF=y, or pass --btf";
		else if (access("/dev/kvm", F_OK))
			hint = "this host has no KVM (/dev/kvm missing): no VM can run here";
		break;
	case EPROTO:
		hint = "a BPF record of an unknown version: gma-trace and its BPF side disagree";
		break;
	}
	fprintf(stderr, "gma-trace: %s: %s%s%s\n", what, strerror(-err), hint ? "; " : "",
		hint ? hint : "");
	return err;
}

int report_qmp_error(int err, const char *path, const char *step, const struct gma_qmp *q)
{
	const char *why;

	switch (-err) {
	case EPROTO:
		why = "the peer does not speak QMP (a reply that is not a QMP JSON object); is it "
		      "QEMU's -qmp socket?";
		break;
	case EREMOTEIO:
		why = q && gma_qmp_last_error(q)[0] ? gma_qmp_last_error(q) : "QEMU refused it";
		break;
	case ETIMEDOUT:
		why = "no answer in time";
		break;
	case ECONNRESET:
		why = "the peer closed the connection";
		break;
	case EMSGSIZE:
		why = "a message longer than the client accepts";
		break;
	default:
		why = strerror(-err);
	}
	fprintf(stderr, "gma-trace: QMP %s: %s: %s\n", path, step, why);
	if (err == -EREMOTEIO && strstr(why, "CommandNotFound") && strstr(step, "x-query-virtio"))
		fprintf(stderr, "gma-trace: this QEMU has no x-query-virtio: give the queues "
				"with --queue instead\n");
	return err;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

int open_input(const char *path, bool blk, __u64 *size)
{
	/* O_NONBLOCK: open(2) of a FIFO would wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	if (fd < 0) {
		fprintf(stderr, "gma-trace: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		fprintf(stderr, "gma-trace: %s: %s\n", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !(blk && S_ISBLK(st.st_mode))) {
		fprintf(stderr, "gma-trace: %s: %s; want a regular file%s\n", path,
			file_kind(st.st_mode), blk ? " or a block device" : "");
		goto fail;
	}
	*size = st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, size)) {
		fprintf(stderr, "gma-trace: %s: the block device's size: %s\n", path,
			strerror(errno));
		goto fail;
	}
	if (!*size) {
		fprintf(stderr, "gma-trace: %s: empty\n", path);
		goto fail;
	}
	/* a regular file or a disk: reads never wait anyway */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		fprintf(stderr, "gma-trace: %s: %s\n", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int report_load_error(int err, const struct gma_load_error *why)
{
	report_bpf_error(err, "loading the tracer");
	switch (why->kind) {
	case GMA_LOAD_MISSING_TYPE:
	case GMA_LOAD_MISSING_TRACEPOINT:
	case GMA_LOAD_NO_KVM_BTF:
	case GMA_LOAD_NO_KERNEL_BTF:
		break; /* named below, with libbpf's line */
	default:
		/* errno's hint said it (permission, no KVM), or only libbpf's log can */
		if (!verbose && err != -EPERM && err != -EACCES && err != -ENODEV)
			fprintf(stderr, "gma-trace: run with -v to see libbpf's log\n");
		return err;
	}
	if (why->type[0])
		fprintf(stderr,
			"gma-trace: the kernel's BTF has no '%s%s%s', which the tracer reads\n",
			why->type, why->field[0] ? "." : "", why->field);
	else if (why->tracepoint[0])
		fprintf(stderr,
			"gma-trace: the kernel has no tracepoint '%s', which the tracer "
			"attaches to\n",
			why->tracepoint);
	fprintf(stderr, "gma-trace: libbpf: %s\n", why->libbpf_line);
	if (why->kind == GMA_LOAD_NO_KVM_BTF)
		fprintf(stderr, "gma-trace: KVM is a module here and has no BTF "
				"(/sys/kernel/btf/kvm): the kernel needs "
				"CONFIG_DEBUG_INFO_BTF_MODULES=y, or pass --btf with a BTF file "
				"holding KVM's types\n");
	else if (why->kind == GMA_LOAD_MISSING_TRACEPOINT)
		fprintf(stderr, "gma-trace: this kernel lacks a KVM tracepoint the tracer needs; "
				"load kvm and kvm_amd or kvm_intel\n");
	else if (why->kind == GMA_LOAD_MISSING_TYPE)
		fprintf(stderr,
			"gma-trace: this kernel lacks a type the tracer was built "
			"against; please report it with the output of 'gma-trace ... -v'\n");
	/* GMA_LOAD_NO_KERNEL_BTF: report_bpf_error's hint (ENOENT) said what to do */
	return err;
}

int report_no_process(pid_t pid)
{
	fprintf(stderr, "gma-trace: no process %d\n", pid);
	return -ESRCH;
}

int find_vm_quiet(pid_t pid, struct gma_vm **vms, size_t *n, const struct gma_vm **vm)
{
	int err;

	if (kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	err = gma_vms_list(vms, n, sizeof(**vms));
	if (err)
		return report_bpf_error(err, "listing VMs");
	*vm = gma_vms_find_pid(*vms, *n, sizeof(**vms), pid);
	if (!*vm) {
		gma_vms_free(*vms);
		*vms = NULL;
		*n = 0;
		return process_exited(pid) ? -ESRCH : -ENOENT;
	}
	return 0;
}

int find_vm(pid_t pid, struct gma_vm **vms, size_t *n, const struct gma_vm **vm)
{
	int err = find_vm_quiet(pid, vms, n, vm);

	if (err == -ESRCH)
		return report_no_process(pid);
	if (err == -ENOENT) {
		fprintf(stderr,
			"gma-trace: process %d (%s) runs no KVM VM; 'gma-trace vms' lists them\n",
			pid, comm_of(pid));
		return -ESRCH;
	}
	return err;
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

const char *queue_kind_name(__u32 kind)
{
	return kind == GMA_QUEUE_KIND_RECEIVE ? "receive" : "request";
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

/* Records are stamped with the monotonic clock; a person reads them in wall-clock time. */
void set_wall_minus_mono(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	wall_minus_mono_ns =
		(real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
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

const char *unexplained_what(const struct gma_unexplained_notify *u, char *buf, size_t len)
{
	if (u->data == GMA_NOTIFY_NO_DATA)
		snprintf(buf, len, "fast MMIO, no value%s",
			 u->reg_shared ? ": one of several queues" : "");
	else if (u->reg_wildcard)
		snprintf(buf, len, "value %llu", (unsigned long long)u->data);
	else if (u->reg_shared || u->reg_datamatch == u->data)
		snprintf(buf, len, "queue %llu", (unsigned long long)u->data);
	else /* KVM signals no eventfd for it: the VMM saw an exit */
		snprintf(buf, len, "value %llu, registered for %llu", (unsigned long long)u->data,
			 (unsigned long long)u->reg_datamatch);
	return buf;
}

const char *quiet_meaning(const struct quiet_notice *q)
{
	if (!q->vcpu_events)
		return "none of its vCPUs exited: the guest is halted or paused, or the process "
		       "given is not the one running its vCPUs (gma-trace vms lists each VM's)";
	return "its guest is idle, or its devices are not VirtIO, or they are set up where "
	       "gma does not look (PCI configured through ECAM)";
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gma-trace: what its files share. main.c dispatches to one file per subcommand (vms.c,
 * mem.c, rings.c, ring.c); helpers.c parses options and explains errors; every record is
 * printed through a struct printer, text (print_text.c) or JSON (print_json.c, through
 * libgma's JSON writer).
 */
#ifndef GMA_TRACE_H
#define GMA_TRACE_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sysexits.h>
#include <time.h>

/*
 * Only libgma's public headers (the tracer's caps, checked when options are parsed, come
 * with <gma/gma.h>: <gma/tracer_caps.h>) and gma-trace's printers; never a bpf/ header (the
 * CLI is compiled without bpf/ on its include path).
 */
#include <gma/gma.h>
#include <gma/virtio.h>

#include "gma_print.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Exit statuses, as gma-trace(8) EXIT STATUS lists them: 0 a result (a decoded ring with its
 * anomalies is a result); 1 a failure at run time, reported with its reason (the tracer did
 * not load, the VM is gone, a read failed); EX_USAGE (64, argp's own) a bad command line;
 * EX_DATAERR (65) an input file whose contents are wrong; EX_NOINPUT (66) an input file that
 * cannot be used at all. A command returns 0, a negative errno (status 1, already reported)
 * or one of the EX_* statuses.
 */
#define EXIT_RUNTIME 1
/* gma-trace health: a queue is stuck (a verdict gma_health_stuck() says so). */
#define EXIT_STUCK 2

struct env {
	bool json;
	bool verbose;
	const char *btf_path; /* --btf: relocate the tracer against this BTF */
};

/* The options every command shares, set by parse_common(). */
extern struct env env;

/* The subcommands, each in its own file. */
int cmd_vms(int argc, char **argv);
int cmd_mem(int argc, char **argv);
int cmd_rings(int argc, char **argv);
int cmd_ring(int argc, char **argv);
int cmd_health(int argc, char **argv);

/* Key of --btf in the commands that load the tracer (handled by parse_common). */
#define OPT_BTF 0x1000
#define BTF_OPTION                                                                                \
	{                                                                                         \
		"btf", OPT_BTF, "FILE", 0,                                                        \
			"Kernel BTF to relocate the tracer against instead of /sys/kernel/btf", 0 \
	}
#define JSON_OPTION(doc)                     \
	{                                    \
		"json", 'j', NULL, 0, doc, 0 \
	}
#define VERBOSE_OPTION                                               \
	{                                                            \
		"verbose", 'v', NULL, 0, "Show libbpf's messages", 0 \
	}

/* Set by SIGINT/SIGTERM: long-running commands stop and print their summary. */
extern volatile sig_atomic_t exiting;

/* Routes libbpf's messages (warnings only unless -v) and installs the signal handlers. */
void setup_env(void);

/* -j, -v and --btf, shared by every command's argp parser. */
error_t parse_common(int key, char *arg, struct argp_state *state);
error_t parse_pid(const char *arg, pid_t *pid, struct argp_state *state);
/*
 * A number in C syntax (0x hex, 0 octal), digits only, no sign or space: 0, -EINVAL, -ERANGE.
 */
int str_u64(const char *arg, __u64 *v);
error_t parse_u64(const char *arg, __u64 *v, const char *what, struct argp_state *state);
error_t parse_u32(const char *arg, __u32 *v, const char *what, struct argp_state *state);
/* A number from min to max; argp_error naming the allowed range otherwise. */
error_t parse_u32_range(const char *arg, __u32 *v, const char *what, __u32 min, __u32 max,
			struct argp_state *state);
/* --ringbuf-size: a power of 2, a multiple of the page size, at most 2^31. */
error_t parse_ringbuf_size(const char *arg, __u32 *v, struct argp_state *state);

/* A queue given on the command line (--queue) or imported from QMP. */
struct queue_spec {
	__u64 base;
	__u32 index;
	__u32 device_id;
	struct gma_queue_layout layout;
	/* from QMP: the device's own view of the queue */
	bool has_qmp;
	__u16 qmp_last_avail_idx;
	__u16 qmp_used_idx;
	__u32 qmp_inuse;
};

#define QUEUE_SPEC_SYNTAX "{base=B|pci=BB:DD.F},index=I,num=N,desc=D,driver=A,device=U[,type=ID]"
#define QUEUE_SPECS_MAX 32

/*
 * --queue QUEUE_SPEC_SYNTAX, every field range-checked against the VirtIO spec (split ring:
 * index below 65536, num a power of 2 up to 32768, areas not wrapping past 2^64, type a
 * device ID gma knows), each key once; traced: also what the tracer follows (index below
 * GMA_TRACER_QUEUES_MAX, base GMA_VIRTIO_MMIO_WINDOW-aligned, desc not 0). -EINVAL with why[] saying
 * what is wrong.
 */
int parse_queue_spec(const char *arg, struct queue_spec *q, bool traced, char *why, size_t why_len);
/*
 * One more --queue into queues[*n] (QUEUE_SPECS_MAX at most, each queue once); argp_error
 * when bad.
 */
error_t parse_queue_opt(const char *arg, struct queue_spec *queues, size_t *n, bool traced,
			struct argp_state *state);

/* Prints "gma-trace: WHAT: reason"; returns err. No hint: the errno alone says little. */
int report_error(int err, const char *what);
/*
 * The same for an operation that loads or runs BPF (listing VMs, loading the tracer), with
 * what to do where the errno means one thing there: EPERM (privileges), ENODEV (no KVM
 * tracepoints), ENOENT (no kernel BTF, or no KVM), EPROTO (records of another version).
 */
int report_bpf_error(int err, const char *what);
/*
 * A QMP failure at socket path: step is "connecting" or the command that failed; q (may be
 * NULL) gives what QEMU answered. Returns err.
 */
int report_qmp_error(int err, const char *path, const char *step, const struct gma_qmp *q);

/*
 * Opens an input file for reading without ever waiting (a FIFO is refused, not opened for
 * good): a regular file, or a block device when blk; not empty. Returns the descriptor and its
 * size in *size, or prints "gma-trace: PATH: reason" and returns -1.
 */
int open_input(const char *path, bool blk, __u64 *size);

/*
 * The tracer did not load (gma_tracer_new() failed with errno -err): the reason, from why
 * (gma_tracer_opts.load_error) what was missing by name (a kernel type, a tracepoint) with
 * libbpf's own line, and what to do; returns err.
 */
int report_load_error(int err, const struct gma_load_error *why);

/* Lists the VMs and finds pid's; prints why not (no such process, not a VM) on failure. */
/*
 * find_vm_quiet: pid's VM, -ESRCH when there is no such process, -ENOENT when it runs no VM,
 * saying nothing; find_vm says which, and what to do.
 */
int find_vm_quiet(pid_t pid, struct gma_vm **vms, size_t *n, const struct gma_vm **vm);
int report_no_process(pid_t pid);
int find_vm(pid_t pid, struct gma_vm **vms, size_t *n, const struct gma_vm **vm);

/*
 * target.c: the VM rings and health trace, from target_argp (an argp child: --pid, --mmio,
 * --queue, --qmp, --ecam, or -- COMMAND). target_start starts the command held, or finds the
 * VM of --pid: the pid to trace, or -errno (reported). target_add_given adds to t what the VM
 * set up before the trace began (the options, QMP's layouts and ECAM window): 0 or -errno,
 * reported. target_release lets a held command run; target_end stops it (a command is the
 * trace's: it does not outlive it) and frees the VM list.
 */
#define MMIO_BASES_MAX 16

struct trace_target {
	pid_t pid;
	char **cmd; /* -- COMMAND: the VMM started under the trace */
	const char *qmp;
	__u64 ecam_base; /* --ecam: the VM's ECAM window, ecam_buses 0: none given */
	__u32 ecam_buses;
	__u64 mmio[MMIO_BASES_MAX];
	size_t nr_mmio;
	struct queue_spec queues[QUEUE_SPECS_MAX];
	size_t nr_queues;
	/* set by target_start */
	struct gma_vm *vms;
	size_t nr_vms;
	const struct gma_vm *vm; /* --pid's; NULL for a command (its VM is not made yet) */
	int go_fd; /* releases a held command, -1: none */
	int exec_fd; /* the held command's exec result (errno, or end of file), -1: none */
	__u32 wait_s; /* --wait: how long --pid's VM may take to appear, 0: no wait */
};

extern struct trace_target target;
extern const struct argp target_argp;

pid_t target_start(void);
int target_add_given(struct gma_tracer *t);
int target_release(void);
/*
 * With --qmp: each imported queue's device view as QEMU has it now (x-query-virtio-queue-
 * status), given to the tracer for its verdicts (not for vhost devices, whose QEMU copy is
 * stale). A QMP that stops answering is said once and no more asked.
 */
void target_device_views(struct gma_tracer *t);
/* The traced VMM's name: the command's, or --pid's comm. */
const char *target_name(void);
void target_end(void);

/* True once pid is gone or a zombie: a VMM that exited runs no more vCPUs. */
bool process_exited(pid_t pid);
const char *comm_of(pid_t pid);
const char *human_size(__u64 bytes);
long elapsed_ms(const struct timespec *since);
const char *byte_state_name(__u8 state);

/* "request" or "receive" (enum gma_queue_kind). */
const char *queue_kind_name(__u32 kind);

/* --- printers ------------------------------------------------------------------------------ */

/* What gma-trace rings counted, for its summary. */
struct trace_summary {
	__u64 notifies, chains, completions, anomalies, drops, bad_records;
	long max_rss_kb;
	__u64 by_anomaly[32];
	/* every queue's health verdict at the end */
	const struct gma_queue_health *health;
	size_t nr_health;
	/* notifies on ioeventfd addresses no known queue explained (gma_tracer_unexplained_*) */
	const struct gma_unexplained_notify *unexplained;
	size_t nr_unexplained;
	__u64 unexplained_overflow;
};

/* The traced VM did nothing for quiet_ms: no notify, and vcpu_events vCPU exits. */
struct quiet_notice {
	pid_t pid;
	__u64 quiet_ms;
	__u64 vcpu_events;
};

/* Guest memory read by gma-trace mem: bytes, and per byte an enum gma_byte_state. */
struct dump {
	__u64 gpa;
	size_t len;
	__u8 *data;
	__u8 *state;
};

/*
 * Every record gma-trace prints, once as text and once as JSON. Times are CLOCK_MONOTONIC
 * nanoseconds; the text printer shows them as wall-clock time (wall_minus_mono_ns).
 */
struct printer {
	void (*vms)(const struct gma_vm *vms, size_t n);
	void (*dump)(const struct dump *d, const char *source, pid_t pid);
	void (*queue)(const struct gma_queue_event *q);
	void (*chain)(const struct gma_chain *c, bool descs);
	void (*completion)(const struct gma_completion *c);
	void (*anomaly)(const struct gma_anomaly_event *a);
	/* the model of each queue with its health verdict (rings --stats, the end of -j) */
	void (*queue_stats)(const struct gma_queue_health *h, size_t n, bool last);
	/*
	 * gma-trace health: each queue's verdict and its evidence; text lists the queues that
	 * need attention first and folds the idle ones into a count, unless all
	 */
	void (*health)(const struct gma_queue_health *h, size_t n, bool last, bool all);
	void (*summary)(const struct trace_summary *s);
	void (*ring)(const struct queue_spec *q, const struct gma_ring *ring, bool descs);
	/* notifies no known queue explains, so far (text: on stderr, with what to do) */
	void (*unexplained)(const struct gma_unexplained_notify *u);
	void (*quiet)(const struct quiet_notice *q);
	/* the chains in flight when a queue was imported, decoded once; age unknown */
	void (*attach)(const struct gma_attach_chains *a, bool descs);
};

/*
 * The evidence of a verdict in words: the indices, the last notify, the ring words, the
 * interrupts, ages relative to h->now_ns. Returns buf.
 */
char *health_evidence(const struct gma_queue_health *h, char *buf, size_t len);

/* Calls fn for each maximal run of bytes of d not read, all in one state. */
void for_each_unread(const struct dump *d,
		     void (*fn)(void *ctx, __u64 gpa, size_t len, __u8 state, bool first),
		     void *ctx);

/* A printer of functions PREFIX_vms, PREFIX_dump, ... */
#define PRINTER(prefix)                                                                        \
	{                                                                                      \
		.vms = prefix##_vms, .dump = prefix##_dump, .queue = prefix##_queue,           \
		.chain = prefix##_chain, .completion = prefix##_completion,                    \
		.anomaly = prefix##_anomaly, .queue_stats = prefix##_queue_stats,              \
		.health = prefix##_health, .summary = prefix##_summary, .ring = prefix##_ring, \
		.unexplained = prefix##_unexplained, .quiet = prefix##_quiet,                  \
		.attach = prefix##_attach,                                                     \
	}

extern const struct printer text_printer, json_printer;

/* "queue 1", "value 5", "any queue": what an unexplained notify's value says. */
const char *unexplained_what(const struct gma_unexplained_notify *u, char *buf, size_t len);
/* What a quiet VM means, for a person: a sentence. */
const char *quiet_meaning(const struct quiet_notice *q);
/* CLOCK_REALTIME - CLOCK_MONOTONIC, set when a trace starts (set_wall_minus_mono()). */
extern __s64 wall_minus_mono_ns;
void set_wall_minus_mono(void);

/* The printer -j chose. */
static inline const struct printer *out(void)
{
	return env.json ? &json_printer : &text_printer;
}

#endif /* GMA_TRACE_H */

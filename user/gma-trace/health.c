// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace health: which side of each virtqueue stopped. Traces the VM for a while (the
 * verdicts need their conditions to hold for --stuck-ms), then prints each queue's verdict,
 * its evidence and the age of its oldest request, and exits 2 when a queue is stuck, so a
 * script can ask "is this VM's I/O hung, and where".
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gma-trace.h"

#define MMIO_BASES_MAX 16

static struct health_args {
	pid_t pid;
	__u32 stuck_ms;
	__u32 duration_ms; /* 0: twice --stuck-ms, at least HEALTH_MIN_MS */
	__u32 interval_ms;
	bool watch;
	const char *qmp;
	__u64 mmio[MMIO_BASES_MAX];
	size_t nr_mmio;
	struct queue_spec queues[QUEUE_SPECS_MAX];
	size_t nr_queues;
	char **cmd;
} args = { .stuck_ms = 1000, .interval_ms = 1000 };

/* The shortest look: the userspace poll reads the rings every 100 ms; give it a few turns. */
#define HEALTH_MIN_MS 2000

enum {
	OPT_STUCK = 0x300,
	OPT_DURATION,
	OPT_WATCH,
	OPT_INTERVAL,
	OPT_MMIO,
	OPT_QUEUE,
	OPT_QMP,
};

static const struct argp_option health_options[] = {
	{ "pid", 'p', "PID", 0, "The VMM process to examine (see gma-trace vms)", 0 },
	JSON_OPTION("One JSON line per queue instead of text"),
	{ "stuck-ms", OPT_STUCK, "MS", 0,
	  "How long a condition must hold to be a verdict (1000; 1 to 3600000)", 0 },
	{ "duration", OPT_DURATION, "SECONDS", 0,
	  "How long to watch before the verdicts (default: twice --stuck-ms, at least 2 s)", 0 },
	{ "watch", OPT_WATCH, NULL, 0,
	  "Refresh the screen every --interval-ms until --duration or Ctrl-C", 0 },
	{ "interval-ms", OPT_INTERVAL, "MS", 0, "Refresh period of --watch (1000)", 0 },
	{ "mmio", OPT_MMIO, "BASE", 0, "A virtio-mmio window set up before the trace began", 0 },
	{ "queue", OPT_QUEUE, "SPEC", 0,
	  "A queue set up before the trace began: " QUEUE_SPEC_SYNTAX, 0 },
	{ "qmp", OPT_QMP, "SOCKET", 0, "Import every queue's layout from QEMU's QMP socket", 0 },
	BTF_OPTION,
	VERBOSE_OPTION,
	{},
};

static error_t parse_health(int key, char *arg, struct argp_state *state)
{
	__u32 s;

	switch (key) {
	case 'p':
		return parse_pid(arg, &args.pid, state);
	case OPT_STUCK:
		return parse_u32_range(arg, &args.stuck_ms, "--stuck-ms", 1, 3600000, state);
	case OPT_DURATION:
		parse_u32_range(arg, &s, "--duration", 1, 86400, state);
		args.duration_ms = s * 1000;
		return 0;
	case OPT_WATCH:
		args.watch = true;
		return 0;
	case OPT_INTERVAL:
		return parse_u32_range(arg, &args.interval_ms, "--interval-ms", 10, 3600000, state);
	case OPT_MMIO:
		if (args.nr_mmio == MMIO_BASES_MAX)
			argp_error(state, "at most %d --mmio", MMIO_BASES_MAX);
		parse_u64(arg, &args.mmio[args.nr_mmio], "--mmio", state);
		if (args.mmio[args.nr_mmio++] & 0x1ff)
			argp_error(state,
				   "--mmio '%s': a virtio-mmio window's base, a multiple of "
				   "0x200",
				   arg);
		return 0;
	case OPT_QUEUE:
		return parse_queue_opt(arg, args.queues, &args.nr_queues, true, state);
	case OPT_QMP:
		args.qmp = arg;
		return 0;
	case ARGP_KEY_ARG:
		return ARGP_ERR_UNKNOWN;
	case ARGP_KEY_ARGS:
		args.cmd = state->argv + state->next;
		return 0;
	case ARGP_KEY_END:
		if (!args.pid && !args.cmd)
			argp_error(state, "--pid (or a command to run) is required");
		if (args.pid && args.cmd)
			argp_error(state, "--pid and a command exclude each other");
		if (args.cmd && (args.nr_mmio || args.nr_queues || args.qmp))
			argp_error(state,
				   "--mmio, --queue and --qmp need --pid: a command's queues "
				   "are learnt as its guest sets them up");
		return 0;
	default:
		return parse_common(key, arg, state);
	}
}

/* Prints the verdicts; 0, EXIT_STUCK when a queue is stuck, or -errno. */
static int verdicts(struct gma_tracer *t, bool last)
{
	struct gma_queue_health *h;
	size_t n;
	int err, stuck = 0;

	err = gma_tracer_queue_health(t, args.stuck_ms * 1000000ULL, &h, &n);
	if (err)
		return report_error(err, "judging the queues");
	out()->health(h, n, last);
	for (size_t i = 0; i < n; i++)
		stuck += h[i].stuck;
	free(h);
	if (last && !n) {
		fprintf(stderr,
			"gma-trace: no queue to judge: the guest set none up while traced; give "
			"its layouts (--queue, --qmp) or start the VMM under gma-trace health\n");
		return -ENOENT;
	}
	return stuck ? EXIT_STUCK : 0;
}

int cmd_health(int argc, char **argv)
{
	static const struct argp argp = {
		.options = health_options,
		.parser = parse_health,
		.args_doc = "[-- COMMAND [ARG...]]",
		.doc = "Which side of each VirtIO queue stopped: trace a VM for a while, then "
		       "print each queue's verdict (idle, healthy, driver-not-notifying, "
		       "device-not-consuming, device-slow, completed-no-interrupt, "
		       "driver-not-reaping, completed-unreaped), its evidence and the age of its "
		       "oldest request. Exit status 2 when a queue is stuck.",
	};
	GMA_OPTS(gma_tracer_opts, opts);
	struct timespec start, mono, real;
	const struct gma_vm *vm = NULL;
	struct gma_tracer *t;
	struct gma_vm *vms = NULL;
	long last_screen = 0, duration;
	size_t nvms = 0;
	int err = 0, go_fd = -1, status;
	pid_t pid;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	duration = args.duration_ms ? (long)args.duration_ms : 2L * args.stuck_ms;
	if (duration < HEALTH_MIN_MS && !args.duration_ms)
		duration = HEALTH_MIN_MS;
	pid = args.pid;
	if (args.cmd) {
		pid = spawn_held(args.cmd, &go_fd, env.json);
		if (pid < 0)
			return report_error(pid, "starting the command");
	} else {
		err = find_vm(pid, &vms, &nvms, &vm);
		if (err)
			return err;
	}
	opts.pid = pid;
	opts.btf_path = env.btf_path;
	t = gma_tracer_new(&opts);
	if (!t) {
		err = report_load_error(-errno);
		goto out;
	}
	for (size_t i = 0; vm && i < args.nr_mmio && !err; i++)
		err = gma_tracer_add_queue(t, vm->id, args.mmio[i], -1, NULL, 0);
	for (size_t i = 0; vm && i < args.nr_queues && !err; i++) {
		const struct queue_spec *q = &args.queues[i];

		err = gma_tracer_add_queue(t, vm->id, q->base, q->index, &q->layout, q->device_id);
	}
	if (err) {
		report_bpf_error(err, "adding a --mmio or --queue");
		goto out_tracer;
	}
	if (args.qmp && (err = import_qmp(t, vm, args.qmp, true)))
		goto out_tracer;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	wall_minus_mono_ns =
		(real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
	if (!env.json)
		fprintf(stderr,
			"gma-trace: watching VM pid %d (%s) for %.1f s, verdicts after %u ms of a "
			"condition; Ctrl-C to judge now\n",
			pid, args.cmd ? args.cmd[0] : comm_of(pid), duration / 1000.0,
			args.stuck_ms);
	if (go_fd >= 0) {
		if (write(go_fd, "g", 1) != 1)
			err = -errno;
		close(go_fd);
		go_fd = -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exiting && !err) {
		long now;

		err = gma_tracer_poll(t, 100);
		if (err < 0) {
			report_error(err, "polling the ring buffer");
			break;
		}
		err = 0;
		now = elapsed_ms(&start);
		if (now >= duration)
			break;
		if (args.watch && now - last_screen >= (long)args.interval_ms) {
			verdicts(t, false);
			last_screen = now;
		}
		if (process_exited(pid)) {
			if (!env.json)
				fprintf(stderr, "gma-trace: VM pid %d exited\n", pid);
			break;
		}
	}
	if (!err) {
		gma_tracer_poll(t, 0);
		err = verdicts(t, true);
	}
out_tracer:
	gma_tracer_free(t);
out:
	if (go_fd >= 0)
		close(go_fd);
	if (args.cmd && pid > 0) {
		if (!process_exited(pid))
			kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	}
	gma_vms_free(vms, nvms);
	return err;
}

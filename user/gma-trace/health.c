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

static struct health_args {
	__u32 stuck_ms;
	__u32 duration_ms; /* 0: twice --stuck-ms, at least HEALTH_MIN_MS */
	__u32 interval_ms;
	bool watch;
	bool all;
} args = { .stuck_ms = 1000, .interval_ms = 1000 };

/* How often the device's own view is asked of its VMM (--qmp) while watching. */
#define DEVICE_VIEW_MS 1000

/* The shortest look: the userspace poll reads the rings every 100 ms; give it a few turns. */
#define HEALTH_MIN_MS 2000

enum {
	OPT_STUCK = 0x300,
	OPT_DURATION,
	OPT_WATCH,
	OPT_INTERVAL,
	OPT_ALL,
};

static const struct argp_option health_options[] = {
	JSON_OPTION("One JSON line per queue instead of text"),
	{ "stuck-ms", OPT_STUCK, "MS", 0,
	  "How long a condition must hold to be a verdict (1000; 1 to 3600000)", 0 },
	{ "duration", OPT_DURATION, "SECONDS", 0,
	  "How long to watch before the verdicts (default: twice --stuck-ms, at least 2 s)", 0 },
	{ "watch", OPT_WATCH, NULL, 0,
	  "Refresh the screen every --interval-ms until --duration or Ctrl-C", 0 },
	{ "interval-ms", OPT_INTERVAL, "MS", 0, "Refresh period of --watch (1000)", 0 },
	{ "all", OPT_ALL, NULL, 0,
	  "List every queue with its evidence (text: the idle ones are folded into a count)", 0 },
	BTF_OPTION,
	VERBOSE_OPTION,
	{},
};

static error_t parse_health(int key, char *arg, struct argp_state *state)
{
	__u32 s;

	switch (key) {
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
	case OPT_ALL:
		args.all = true;
		return 0;
	case ARGP_KEY_ARG:
		return ARGP_ERR_UNKNOWN; /* -- COMMAND: target_argp's */
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

	target_device_views(t); /* what the VMM says now, beside what the rings say */
	err = gma_tracer_queue_health(t, args.stuck_ms * 1000000ULL, &h, &n, sizeof(*h));
	if (err)
		return report_error(err, "judging the queues");
	out()->health(h, n, last, args.all);
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

/* How long to watch: --duration, else twice --stuck-ms and at least HEALTH_MIN_MS. */
static long watch_ms(void)
{
	if (args.duration_ms)
		return args.duration_ms;
	return 2L * args.stuck_ms < HEALTH_MIN_MS ? HEALTH_MIN_MS : 2L * args.stuck_ms;
}

/* The tracer on the VM of pid: 0 with *t, or -errno after saying why it could not be loaded. */
static int open_tracer(pid_t pid, struct gma_tracer **t)
{
	GMA_OPTS(gma_load_error, why);
	GMA_OPTS(gma_tracer_opts, opts, .load_error = &why);

	opts.pid = pid;
	opts.btf_path = env.btf_path;
	*t = gma_tracer_new(&opts);
	return *t ? 0 : report_load_error(-errno, &why);
}

/*
 * Reads the trace for duration ms, or until Ctrl-C or the VM's exit; with --watch, the
 * verdicts so far every --interval-ms. 0, or the poll's error.
 */
static int watch_queues(struct gma_tracer *t, pid_t pid, long duration)
{
	struct timespec start;
	long last_screen = 0, last_view = 0, now;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exiting) {
		err = gma_tracer_poll(t, 100);
		if (err < 0)
			return report_error(err, "polling the ring buffer");
		now = elapsed_ms(&start);
		if (now >= duration)
			break;
		if (now - last_view >= DEVICE_VIEW_MS) {
			target_device_views(t);
			last_view = now;
		}
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
	return 0;
}

int cmd_health(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &target_argp, 0, "The VM:", 0 },
		{},
	};
	static const struct argp argp = {
		.options = health_options,
		.parser = parse_health,
		.args_doc = "[-- COMMAND [ARG...]]",
		.doc = "Which side of each VirtIO queue stopped: trace a VM for a while, then "
		       "print each queue's verdict (idle, healthy, driver-not-notifying, "
		       "device-not-consuming, device-slow, completed-no-interrupt, "
		       "driver-not-reaping, completed-unreaped), its evidence and the age of its "
		       "oldest request. Exit status 2 when a queue is stuck.",
		.children = children,
	};
	struct gma_tracer *t = NULL;
	long duration;
	int err;
	pid_t pid;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	duration = watch_ms();
	pid = target_start();
	if (pid < 0)
		return pid;
	err = open_tracer(pid, &t);
	if (!err)
		err = target_add_given(t);
	if (!err) {
		set_wall_minus_mono();
		err = target_release();
		if (!err && !env.json)
			fprintf(stderr,
				"gma-trace: watching VM pid %d (%s) for %.1f s, verdicts after %u ms "
				"of a condition; Ctrl-C to judge now\n",
				pid, target_name(), duration / 1000.0, args.stuck_ms);
	}
	if (!err)
		err = watch_queues(t, pid, duration);
	if (!err) {
		gma_tracer_poll(t, 0);
		err = verdicts(t, true);
	}
	gma_tracer_free(t);
	target_end();
	return err;
}

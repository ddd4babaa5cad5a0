// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace rings: the live trace of a VM's virtqueues, one line per chain, from the kernel at
 * each notify.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gma-trace.h"

static struct rings_args {
	bool stats;
	bool completions;
	bool descs;
	bool indices_only;
	__u32 stuck_ms;
	__u32 interval_ms;
	__u32 snap_len;
	__u32 duration_s;
	__u32 ringbuf_size;
	__u32 ring_poll_ms; /* 0: the library's default */
} args = { .stuck_ms = 1000, .interval_ms = 1000 };

/* What the trace counted, for the summary. */
static struct trace_summary seen;

/*
 * Notifies no known queue explains: looked for every UNEXPLAINED_CHECK_MS, each (VM, bus,
 * address, value) reported when its count grew, at most every UNEXPLAINED_REPEAT_MS.
 */
#define UNEXPLAINED_CHECK_MS 1000
#define UNEXPLAINED_REPEAT_MS 10000
/*
 * A VM with no notify at all this long is said to be quiet, once: a running VM (--pid), or a
 * VMM started under the trace, whose guest may take a while to boot.
 */
#define QUIET_MS 5000
#define QUIET_BOOT_MS 30000

struct reported {
	struct gma_unexplained_notify u; /* as last reported */
	long at_ms;
};

static struct reported *reported;
static size_t nr_reported;

enum {
	OPT_STATS = 0x200,
	OPT_COMPLETIONS,
	OPT_STUCK,
	OPT_SNAP,
	OPT_DURATION,
	OPT_INTERVAL,
	OPT_RINGBUF,
	OPT_RING_POLL,
	OPT_INDICES_ONLY,
};

static const struct argp_option rings_options[] = {
	JSON_OPTION("JSON lines instead of text"),
	{ "stats", OPT_STATS, NULL, 0, "A refreshing per-queue table instead of events", 0 },
	{ "interval-ms", OPT_INTERVAL, "MS", 0, "Refresh period of --stats (1000)", 0 },
	{ "completions", OPT_COMPLETIONS, NULL, 0, "Also a line per completion", 0 },
	{ "descs", 'd', NULL, 0, "Also each chain's descriptors and first bytes", 0 },
	{ "stuck-ms", OPT_STUCK, "MS", 0,
	  "Flag queues with requests in flight and no completion for MS (1000; 0: off)", 0 },
	{ "snap-len", OPT_SNAP, "BYTES", 0,
	  "Bytes sampled from each buffer (64; 0 to 4096, 0: descriptors only)", 0 },
	{ "indices-only", OPT_INDICES_ONLY, NULL, 0,
	  "With --stats: read only the rings' indices at a notify, walk no chain (the cheapest "
	  "trace: counts and in flight, no latency)",
	  0 },
	{ "duration", OPT_DURATION, "SECONDS", 0, "Stop after SECONDS (default: Ctrl-C)", 0 },
	{ "ringbuf-size", OPT_RINGBUF, "BYTES", 0,
	  "BPF ring buffer size, a power of 2 from the page size to 2^31 (4194304)", 0 },
	{ "ring-poll-ms", OPT_RING_POLL, "MS", 0,
	  "How often userspace reads every queue's indices from guest memory, 10 to 60000 ms, "
	  "or 'off' (100)",
	  0 },
	BTF_OPTION,
	VERBOSE_OPTION,
	{},
};

static const char rings_args_doc[] = "[-- COMMAND [ARG...]]";

static error_t parse_rings(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case OPT_STATS:
		args.stats = true;
		return 0;
	case OPT_COMPLETIONS:
		args.completions = true;
		return 0;
	case 'd':
		args.descs = true;
		return 0;
	case OPT_STUCK:
		return parse_u32(arg, &args.stuck_ms, "--stuck-ms", state);
	case OPT_INTERVAL:
		return parse_u32(arg, &args.interval_ms, "--interval-ms", state);
	case OPT_SNAP:
		if (parse_u32_range(arg, &args.snap_len, "--snap-len", 0, GMA_TRACER_SNAP_CAP,
				    state))
			return EINVAL;
		if (!args.snap_len)
			args.snap_len = GMA_SNAP_NONE;
		return 0;
	case OPT_INDICES_ONLY:
		args.indices_only = true;
		return 0;
	case OPT_DURATION:
		return parse_u32(arg, &args.duration_s, "--duration", state);
	case OPT_RINGBUF:
		return parse_ringbuf_size(arg, &args.ringbuf_size, state);
	case OPT_RING_POLL:
		if (!strcmp(arg, "off")) {
			args.ring_poll_ms = GMA_RING_POLL_OFF;
			return 0;
		}
		return parse_u32_range(arg, &args.ring_poll_ms, "--ring-poll-ms", 10, 60000, state);
	case ARGP_KEY_END:
		if (args.indices_only && !args.stats)
			argp_error(state, "--indices-only walks no chain, so it has no events to "
					  "print: use it with --stats");
		return 0;
	case ARGP_KEY_ARG:
		return ARGP_ERR_UNKNOWN; /* -- COMMAND: target_argp's */
	default:
		return parse_common(key, arg, state);
	}
}

static void on_chain(void *ctx, const struct gma_chain *c)
{
	(void)ctx;
	seen.chains++;
	if (!args.stats)
		out()->chain(c, args.descs);
}

static void on_completion(void *ctx, const struct gma_completion *c)
{
	(void)ctx;
	seen.completions++;
	if (!args.stats && args.completions)
		out()->completion(c);
}

static void on_anomaly(void *ctx, const struct gma_anomaly_event *a)
{
	(void)ctx;
	seen.anomalies++;
	for (int b = 0; b < 32; b++)
		if (a->anomalies & (1u << b))
			seen.by_anomaly[b]++;
	if (!args.stats)
		out()->anomaly(a);
}

static void on_queue(void *ctx, const struct gma_queue_event *q)
{
	(void)ctx;
	if (!args.stats)
		out()->queue(q);
}

static void on_attach(void *ctx, const struct gma_attach_chains *a)
{
	(void)ctx;
	if (!args.stats)
		out()->attach(a, args.descs);
}

static void on_notify(void *ctx, const struct gma_notify_event *n)
{
	(void)ctx;
	(void)n;
	seen.notifies++;
}

/* What rings does with each decoded event; gma_tracer_new() copies them. */
static const struct gma_ring_callbacks rings_callbacks = {
	.sz = sizeof(rings_callbacks),
	.on_queue = on_queue,
	.on_notify = on_notify,
	.on_chain = on_chain,
	.on_completion = on_completion,
	.on_anomaly = on_anomaly,
	.on_attach = on_attach,
};

/* The health verdicts' window: --stuck-ms, or with 0 (off) one no condition ever fills. */
static __u64 health_window_ns(void)
{
	return args.stuck_ms ? args.stuck_ms * 1000000ULL : ~0ULL >> 1;
}

static void print_stats(struct gma_tracer *t, bool final)
{
	struct gma_queue_health *h;
	size_t n;

	if (gma_tracer_queue_health(t, health_window_ns(), &h, &n, sizeof(*h)))
		return;
	out()->queue_stats(h, n, final);
	free(h);
}

static void print_summary(struct gma_tracer *t)
{
	struct gma_queue_health *h = NULL;
	struct gma_unexplained_notify *us = NULL;
	struct rusage ru = {};

	getrusage(RUSAGE_SELF, &ru);
	/* --indices-only sees no used element: its completions are the used indices' progress */
	if (args.indices_only) {
		struct gma_queue_stats *st;
		size_t n;

		if (!gma_tracer_queue_stats(t, &st, &n, sizeof(*st))) {
			seen.completions = 0;
			for (size_t i = 0; i < n; i++)
				seen.completions += st[i].completions;
			free(st);
		}
	}
	seen.drops = gma_tracer_drops(t);
	seen.bad_records = gma_tracer_bad_records(t);
	seen.max_rss_kb = ru.ru_maxrss;
	if (!gma_tracer_queue_health(t, health_window_ns(), &h, &seen.nr_health, sizeof(*h)))
		seen.health = h;
	gma_tracer_unexplained_notifies(t, &us, &seen.nr_unexplained, sizeof(*us),
					&seen.unexplained_overflow);
	seen.unexplained = us;
	out()->summary(&seen);
	free(h);
	free(us);
}

static bool same_place(const struct gma_unexplained_notify *a,
		       const struct gma_unexplained_notify *b)
{
	return a->vm_id == b->vm_id && a->bus == b->bus && a->addr == b->addr && a->data == b->data;
}

/* Reports what grew since it was last reported, no sooner than UNEXPLAINED_REPEAT_MS after. */
static void report_unexplained(struct gma_tracer *t, long now_ms)
{
	struct gma_unexplained_notify *us;
	size_t n;

	if (gma_tracer_unexplained_notifies(t, &us, &n, sizeof(*us), NULL))
		return;
	if (!reported && n)
		reported = calloc(GMA_TRACER_UNEXPLAINED_MAX, sizeof(*reported));
	for (size_t i = 0; reported && i < n; i++) {
		struct reported *r = NULL;

		for (size_t k = 0; k < nr_reported && !r; k++)
			if (same_place(&reported[k].u, &us[i]))
				r = &reported[k];
		if (!r && nr_reported < GMA_TRACER_UNEXPLAINED_MAX) {
			r = &reported[nr_reported++];
			r->at_ms = -UNEXPLAINED_REPEAT_MS;
		}
		if (!r || us[i].count == r->u.count || now_ms - r->at_ms < UNEXPLAINED_REPEAT_MS)
			continue;
		r->u = us[i];
		r->at_ms = now_ms;
		out()->unexplained(&us[i]);
	}
	free(us);
}

/*
 * The tracer on the VM of pid, as the options want it: 0 with *t, or -errno after saying why
 * it could not be loaded.
 */
static int open_tracer(pid_t pid, struct gma_tracer **t)
{
	GMA_OPTS(gma_load_error, why);
	GMA_OPTS(gma_tracer_opts, opts, .ring = &rings_callbacks, .load_error = &why);

	opts.pid = pid;
	opts.snap_len = args.snap_len;
	opts.indices_only = args.indices_only;
	opts.ringbuf_size = args.ringbuf_size;
	opts.ring_poll_ms = args.ring_poll_ms;
	opts.btf_path = env.btf_path;
	*t = gma_tracer_new(&opts);
	return *t ? 0 : report_load_error(-errno, &why);
}

/* What is traced, and what cannot be counted; on stderr, so stdout is the trace alone. */
static void announce_trace(struct gma_tracer *t, pid_t pid)
{
	int ioeventfds_err = gma_tracer_ioeventfds_error(t);

	if (env.json)
		return;
	fprintf(stderr, "gma-trace: tracing VM pid %d (%s) on %s; Ctrl-C to stop\n", pid,
		target_name(), gma_tracer_tracepoints(t));
	if (ioeventfds_err == -E2BIG)
		fprintf(stderr,
			"gma-trace: more KVM ioeventfd registrations than gma-trace follows (the "
			"first 128 of a VM): notifies on the others pass uncounted\n");
	else if (ioeventfds_err)
		fprintf(stderr,
			"gma-trace: KVM's ioeventfd registrations could not be read (%s): notifies to "
			"devices set up before the trace started pass uncounted\n",
			strerror(-ioeventfds_err));
}

/* Says, once, that a VM did nothing the trace could see for its first now_ms, if so. */
static void report_quiet(struct gma_tracer *t, pid_t pid, long now_ms)
{
	struct quiet_notice q = { .pid = pid,
				  .quiet_ms = now_ms,
				  .vcpu_events = gma_tracer_vcpu_events(t) };

	if (!seen.notifies && !seen.chains && !nr_reported)
		out()->quiet(&q);
}

/*
 * Reads the trace until Ctrl-C, --duration or the VM's exit, with what is due on the way:
 * stuck queues, unexplained notifies, a quiet VM, --stats. 0, or the poll's error.
 */
static int trace_until_done(struct gma_tracer *t, pid_t pid)
{
	long last_stats = 0, last_unexplained = 0, now;
	bool quiet_checked = false;
	struct timespec start;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exiting) {
		err = gma_tracer_poll(t, 100);
		if (err < 0)
			return report_error(err, "polling the ring buffer");
		if (args.stuck_ms)
			gma_tracer_check_stuck(t, args.stuck_ms * 1000000ULL);
		now = elapsed_ms(&start);
		if (now - last_unexplained >= UNEXPLAINED_CHECK_MS) {
			report_unexplained(t, now);
			last_unexplained = now;
		}
		if (!quiet_checked && now >= (target.cmd ? QUIET_BOOT_MS : QUIET_MS)) {
			quiet_checked = true;
			report_quiet(t, pid, now);
		}
		if (args.stats && now - last_stats >= (long)args.interval_ms) {
			print_stats(t, false);
			last_stats = now;
		}
		if (args.duration_s && now >= (long)args.duration_s * 1000)
			break;
		if (process_exited(pid)) {
			if (!env.json)
				fprintf(stderr, "gma-trace: VM pid %d exited\n", pid);
			break;
		}
		fflush(stdout);
	}
	return 0;
}

int cmd_rings(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &target_argp, 0, "The VM:", 0 },
		{},
	};
	static const struct argp argp = {
		.options = rings_options,
		.parser = parse_rings,
		.args_doc = rings_args_doc,
		.doc = "Trace the VirtIO rings of a VM: one line per descriptor chain, sampled by "
		       "the kernel when the guest notifies the device. Either a running VM "
		       "(--pid), or a VMM command started under the trace, so every queue the "
		       "driver sets up is learnt.",
		.children = children,
	};
	struct gma_tracer *t = NULL;
	int err;
	pid_t pid;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	pid = target_start();
	if (pid < 0)
		return pid;
	/* before the imports: the chains in flight at attach are printed with their time */
	set_wall_minus_mono();
	err = open_tracer(pid, &t);
	if (!err)
		err = target_add_given(t);
	if (!err) {
		err = target_release();
		/* said once the command runs: a command that could not start was never traced */
		if (!err)
			announce_trace(t, pid);
	}
	if (!err) {
		err = trace_until_done(t, pid);
		gma_tracer_poll(t, 0);
		/* JSON ends with every queue's model, for comparison with the VMM's own view (QMP) */
		if (args.stats || env.json)
			print_stats(t, true);
		print_summary(t);
	}
	gma_tracer_free(t);
	target_end();
	free(reported);
	return err;
}

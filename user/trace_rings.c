// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace rings: the live trace of a VM's virtqueues, one line per chain, from the kernel at
 * each notify. gma-trace ring: a one-shot decode of one queue's current state read entirely
 * from userspace through the accessor (a running VM, or a memory dump and its region map).
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

#include <gma/gma.h>
#include <gma/record.h>
#include <gma/virtio.h>

#include "ring_print.h"
#include "trace_helpers.h"
#include "trace_rings.h"

#define QUEUE_SPECS_MAX 32
#define MMIO_BASES_MAX 16

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

static struct rings_args {
	pid_t pid;
	bool stats;
	bool completions;
	bool descs;
	__u32 stuck_ms;
	__u32 interval_ms;
	__u32 snap_len;
	__u32 duration_s;
	__u32 ringbuf_size;
	const char *qmp;
	__u64 mmio[MMIO_BASES_MAX];
	size_t nr_mmio;
	struct queue_spec queues[QUEUE_SPECS_MAX];
	size_t nr_queues;
	/* rings -- COMMAND: start the VMM under the trace */
	char **cmd;
	/* ring (one-shot) */
	const char *dump;
	const char *map;
} args = { .stuck_ms = 1000, .interval_ms = 1000 };

static struct env *env;

/* What the trace counted, for the summary. */
static struct {
	__u64 chains, completions, notifies, anomalies, queues;
	__u64 by_anomaly[32];
	__u64 wall_minus_mono_ns;
} seen;

enum {
	OPT_STATS = 0x200,
	OPT_COMPLETIONS,
	OPT_STUCK,
	OPT_MMIO,
	OPT_QUEUE,
	OPT_QMP,
	OPT_SNAP,
	OPT_DURATION,
	OPT_INTERVAL,
	OPT_RINGBUF,
	OPT_DUMP,
	OPT_MAP,
};

/* --queue base=0xd0001000,index=0,num=16,desc=..,driver=..,device=..[,type=2] */
static int parse_queue_spec(const char *arg, struct queue_spec *q)
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

static const struct argp_option rings_options[] = {
	{ "pid", 'p', "PID", 0, "The VMM process to trace (see gma-trace vms)", 0 },
	{ "json", 'j', NULL, 0, "JSON lines instead of text", 0 },
	{ "stats", OPT_STATS, NULL, 0, "A refreshing per-queue table instead of events", 0 },
	{ "interval-ms", OPT_INTERVAL, "MS", 0, "Refresh period of --stats (1000)", 0 },
	{ "completions", OPT_COMPLETIONS, NULL, 0, "Also a line per completion", 0 },
	{ "descs", 'd', NULL, 0, "Also each chain's descriptors and first bytes", 0 },
	{ "stuck-ms", OPT_STUCK, "MS", 0,
	  "Flag queues with requests in flight and no completion for MS (1000; 0: off)", 0 },
	{ "mmio", OPT_MMIO, "BASE", 0, "A virtio-mmio window set up before the trace began", 0 },
	{ "queue", OPT_QUEUE, "SPEC", 0,
	  "A queue set up before the trace began: "
	  "base=B,index=I,num=N,desc=D,driver=A,device=U[,type=ID]",
	  0 },
	{ "qmp", OPT_QMP, "SOCKET", 0, "Import every queue's layout from QEMU's QMP socket", 0 },
	{ "snap-len", OPT_SNAP, "BYTES", 0, "Bytes sampled from each buffer (64, max 4096)", 0 },
	{ "duration", OPT_DURATION, "SECONDS", 0, "Stop after SECONDS (default: Ctrl-C)", 0 },
	{ "ringbuf-size", OPT_RINGBUF, "BYTES", 0, "BPF ring buffer size (4194304)", 0 },
	BTF_OPTION,
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

static const char rings_args_doc[] = "[-- COMMAND [ARG...]]";

static error_t parse_u32_opt(const char *arg, __u32 *v, const char *what, struct argp_state *state)
{
	__u64 x;

	parse_u64(arg, &x, what, state);
	if (x > 0xffffffffULL)
		argp_error(state, "%s '%s' is too large", what, arg);
	*v = x;
	return 0;
}

static error_t parse_rings(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p':
		return parse_pid(arg, &args.pid, state);
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
		return parse_u32_opt(arg, &args.stuck_ms, "--stuck-ms", state);
	case OPT_INTERVAL:
		return parse_u32_opt(arg, &args.interval_ms, "--interval-ms", state);
	case OPT_SNAP:
		return parse_u32_opt(arg, &args.snap_len, "--snap-len", state);
	case OPT_DURATION:
		return parse_u32_opt(arg, &args.duration_s, "--duration", state);
	case OPT_RINGBUF:
		return parse_u32_opt(arg, &args.ringbuf_size, "--ringbuf-size", state);
	case OPT_MMIO:
		if (args.nr_mmio == MMIO_BASES_MAX)
			argp_error(state, "at most %d --mmio", MMIO_BASES_MAX);
		return parse_u64(arg, &args.mmio[args.nr_mmio++], "--mmio", state);
	case OPT_QUEUE:
		if (args.nr_queues == QUEUE_SPECS_MAX)
			argp_error(state, "at most %d --queue", QUEUE_SPECS_MAX);
		if (parse_queue_spec(arg, &args.queues[args.nr_queues++]))
			argp_error(state,
				   "bad --queue '%s': want base=B,index=I,num=N,desc=D,driver=A,"
				   "device=U[,type=ID]",
				   arg);
		return 0;
	case OPT_QMP:
		args.qmp = arg;
		return 0;
	case OPT_DUMP:
		args.dump = arg;
		return 0;
	case OPT_MAP:
		args.map = arg;
		return 0;
	case ARGP_KEY_ARG:
		return ARGP_ERR_UNKNOWN; /* all of them at once, as ARGP_KEY_ARGS */
	case ARGP_KEY_ARGS:
		args.cmd = state->argv + state->next;
		return 0;
	case ARGP_KEY_END:
		if (!args.pid && !args.dump && !args.cmd)
			argp_error(state, "--pid (or a command to run) is required");
		if (args.pid && args.cmd)
			argp_error(state, "--pid and a command exclude each other");
		return 0;
	default:
		return parse_common(env, key, arg, state);
	}
}

/*
 * Forks the VMM command, held before exec until the tracer is attached, so the trace sees
 * its driver set up every queue. Returns the child's pid; *go_fd releases it. With JSON
 * output the command's stdout goes to stderr, so stdout stays JSON lines.
 */
static pid_t spawn_held(char **cmd, int *go_fd, bool json)
{
	int go[2];
	pid_t pid;
	char c;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* the tracer failed: do not run untraced */
		/* a VMM left running untraced after gma-trace dies would mislead: stop with it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* JSON lines on stdout stay parseable: the command writes to stderr */
		if (json)
			dup2(2, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "gma-trace: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	*go_fd = go[1];
	return pid;
}

static void print_time(FILE *f, __u64 mono_ns)
{
	__u64 wall = mono_ns + seen.wall_minus_mono_ns;
	time_t sec = wall / 1000000000ULL;
	struct tm tm;

	localtime_r(&sec, &tm);
	fprintf(f, "%02d:%02d:%02d.%06llu", tm.tm_hour, tm.tm_min, tm.tm_sec,
		(unsigned long long)(wall % 1000000000ULL) / 1000);
}

static void on_chain(void *ctx, const struct gma_chain *c)
{
	seen.chains++;
	if (args.stats)
		return;
	if (!env->json)
		print_time(stdout, c->rec->ts_ns);
	print_live_chain(stdout, c, env->json, args.descs);
}

static void on_completion(void *ctx, const struct gma_completion *c)
{
	seen.completions++;
	if (args.stats || !args.completions)
		return;
	if (env->json) {
		printf("{\"type\":\"completion\",\"ts_ns\":%llu,\"pid\":%d,\"device_id\":%u,"
		       "\"base\":%llu,\"queue\":%u,\"head\":%u,\"len\":%u,\"latency_ns\":%llu}\n",
		       (unsigned long long)c->ts_ns, c->pid, c->device_id,
		       (unsigned long long)c->key->base, c->key->queue, c->head, c->len,
		       (unsigned long long)c->latency_ns);
		return;
	}
	print_time(stdout, c->ts_ns);
	printf(" %d ", c->pid);
	print_queue_label(stdout, c->device_id, c->key->base, c->key->queue);
	printf(" used head %u len %u", c->head, c->len);
	if (c->latency_ns)
		printf(" latency %.3f ms", c->latency_ns / 1e6);
	printf("\n");
}

static void on_anomaly(void *ctx, const struct gma_anomaly_event *a)
{
	seen.anomalies++;
	for (int b = 0; b < 32; b++)
		if (a->anomalies & (1u << b))
			seen.by_anomaly[b]++;
	if (args.stats)
		return;
	if (env->json) {
		printf("{\"type\":\"anomaly\",\"ts_ns\":%llu,\"pid\":%d,\"device_id\":%u,"
		       "\"base\":%llu,\"queue\":%u,",
		       (unsigned long long)a->ts_ns, a->pid, a->device_id,
		       (unsigned long long)a->key->base, a->key->queue);
		if (a->head != ~0u)
			printf("\"head\":%u,", a->head);
		printf("\"anomalies\":");
		print_anomaly_list_json(stdout, a->anomalies);
		printf("}\n");
		return;
	}
	for (int b = 0; b < 32; b++) {
		if (!(a->anomalies & (1u << b)))
			continue;
		print_time(stdout, a->ts_ns);
		printf(" %d ", a->pid);
		print_queue_label(stdout, a->device_id, a->key->base, a->key->queue);
		if (a->head != ~0u)
			printf(" head %u", a->head);
		printf(" ANOMALY %s: %s\n", gma_anomaly_name(1u << b) ?: "unknown",
		       gma_anomaly_reason(1u << b) ?: "");
	}
}

static void on_queue(void *ctx, const struct gma_rec_queue *q)
{
	seen.queues++;
	if (args.stats)
		return;
	if (env->json) {
		printf("{\"type\":\"queue\",\"ts_ns\":%llu,\"pid\":%u,\"device_id\":%u,\"base\":%llu,"
		       "\"queue\":%u,\"num\":%u,\"desc\":%llu,\"driver\":%llu,\"device\":%llu,"
		       "\"flags\":%u}\n",
		       (unsigned long long)q->ts_ns, q->pid, q->device_id,
		       (unsigned long long)q->key.base, q->key.queue, q->num,
		       (unsigned long long)q->desc, (unsigned long long)q->driver,
		       (unsigned long long)q->device, q->flags);
		return;
	}
	print_time(stdout, q->ts_ns);
	printf(" %u ", q->pid);
	print_queue_label(stdout, q->device_id, q->key.base, q->key.queue);
	printf(" ready: %u entries, desc 0x%llx driver 0x%llx device 0x%llx%s\n", q->num,
	       (unsigned long long)q->desc, (unsigned long long)q->driver,
	       (unsigned long long)q->device, q->flags & GMA_QUEUE_LEGACY ? " (legacy)" : "");
}

static void on_notify(void *ctx, const struct gma_rec_notify *n)
{
	seen.notifies++;
}

static void print_stats(struct gma_tracer *t, bool final)
{
	struct gma_queue_stats *st;
	size_t n;
	char label[32];

	if (gma_tracer_queue_stats(t, &st, &n))
		return;
	if (env->json) {
		for (size_t i = 0; i < n; i++)
			printf("{\"type\":\"queue_stats\",\"pid\":%d,\"device_id\":%u,\"base\":%llu,"
			       "\"queue\":%u,\"num\":%u,\"avail_idx\":%u,\"used_idx\":%u,"
			       "\"in_flight\":%u,\"notifies\":%llu,\"chains\":%llu,"
			       "\"completions\":%llu,\"anomalies\":%llu,\"skipped\":%llu,"
			       "\"latency_avg_ns\":%llu,\"latency_max_ns\":%llu}\n",
			       st[i].pid, st[i].device_id, (unsigned long long)st[i].base,
			       st[i].queue, st[i].num, st[i].last_avail, st[i].last_used,
			       st[i].in_flight, (unsigned long long)st[i].notifies,
			       (unsigned long long)st[i].chains,
			       (unsigned long long)st[i].completions,
			       (unsigned long long)st[i].anomalies,
			       (unsigned long long)st[i].skipped,
			       (unsigned long long)(st[i].latency_n ?
							    st[i].latency_sum_ns / st[i].latency_n :
							    0),
			       (unsigned long long)st[i].latency_max_ns);
		free(st);
		return;
	}
	if (!final && isatty(1))
		printf("\033[H\033[2J");
	printf("%-16s %-10s %2s %5s %6s %6s %6s %8s %8s %8s %9s %9s %5s\n", "DEVICE", "BASE", "Q",
	       "NUM", "AVAIL", "USED", "INFLT", "NOTIFY", "CHAINS", "DONE", "LAT-AVG", "LAT-MAX",
	       "ANOM");
	for (size_t i = 0; i < n; i++)
		printf("%-16s %-10llx %2u %5u %6u %6u %6u %8llu %8llu %8llu %7.3fms %7.3fms %5llu\n",
		       device_label(st[i].device_id, label, sizeof(label)),
		       (unsigned long long)st[i].base, st[i].queue, st[i].num, st[i].last_avail,
		       st[i].last_used, st[i].in_flight, (unsigned long long)st[i].notifies,
		       (unsigned long long)st[i].chains, (unsigned long long)st[i].completions,
		       st[i].latency_n ? st[i].latency_sum_ns / 1e6 / st[i].latency_n : 0.0,
		       st[i].latency_max_ns / 1e6, (unsigned long long)st[i].anomalies);
	fflush(stdout);
	free(st);
}

static void print_summary(struct gma_tracer *t)
{
	__u64 drops = gma_tracer_drops(t), bad = gma_tracer_bad_records(t);
	struct rusage ru = {};

	getrusage(RUSAGE_SELF, &ru);
	if (env->json) {
		printf("{\"type\":\"summary\",\"notifies\":%llu,\"chains\":%llu,\"completions\":%llu,"
		       "\"anomalies\":%llu,\"drops\":%llu,\"bad_records\":%llu,\"max_rss_kb\":%ld,"
		       "\"by_anomaly\":{",
		       (unsigned long long)seen.notifies, (unsigned long long)seen.chains,
		       (unsigned long long)seen.completions, (unsigned long long)seen.anomalies,
		       (unsigned long long)drops, (unsigned long long)bad, ru.ru_maxrss);
		for (int b = 0, first = 1; b < 32; b++) {
			if (!seen.by_anomaly[b])
				continue;
			printf("%s\"%s\":%llu", first ? "" : ",",
			       gma_anomaly_name(1u << b) ?: "unknown",
			       (unsigned long long)seen.by_anomaly[b]);
			first = 0;
		}
		printf("}}\n");
		return;
	}
	fprintf(stderr,
		"\n%llu notifies, %llu chains, %llu completions, %llu anomalies, %llu records "
		"dropped (ring buffer full), %llu malformed\n",
		(unsigned long long)seen.notifies, (unsigned long long)seen.chains,
		(unsigned long long)seen.completions, (unsigned long long)seen.anomalies,
		(unsigned long long)drops, (unsigned long long)bad);
	for (int b = 0; b < 32; b++)
		if (seen.by_anomaly[b])
			fprintf(stderr, "  %-20s %llu\n", gma_anomaly_name(1u << b) ?: "unknown",
				(unsigned long long)seen.by_anomaly[b]);
	if (drops)
		fprintf(stderr, "records were lost: raise --ringbuf-size or lower --snap-len\n");
}

/* Queue layouts from QMP, keyed to the VM by the virtio-mmio base QEMU reports. */
static int import_qmp(struct gma_tracer *t, const struct gma_vm *vm)
{
	struct gma_qmp_queue *qs;
	struct gma_qmp *qmp;
	size_t n, used = 0;
	int err;

	err = gma_qmp_connect(args.qmp, &qmp);
	if (err)
		return report_error(err, "connecting to QMP");
	err = gma_qmp_virtio_queues(qmp, &qs, &n);
	gma_qmp_close(qmp);
	if (err)
		return report_error(err, "querying virtio queues over QMP");
	for (size_t i = 0; i < n; i++) {
		if (!qs[i].mmio_base) {
			fprintf(stderr,
				"gma-trace: QMP: %s queue %u has no virtio-mmio base: skipped\n",
				qs[i].path, qs[i].queue);
			continue;
		}
		if (!qs[i].layout.num || !qs[i].layout.desc)
			continue; /* a queue the driver never set up */
		err = gma_tracer_add_queue(t, vm->id, qs[i].mmio_base, qs[i].queue,
					   qs[i].layout.desc, qs[i].layout.driver,
					   qs[i].layout.device, qs[i].layout.num, qs[i].device_id);
		if (err == -E2BIG)
			continue;
		if (err) {
			free(qs);
			return report_error(err, "importing a QMP queue");
		}
		used++;
	}
	if (!env->json)
		fprintf(stderr, "gma-trace: imported %zu queue layouts from QMP\n", used);
	free(qs);
	return 0;
}

int cmd_rings(int argc, char **argv, struct env *e)
{
	static const struct argp argp = {
		.options = rings_options,
		.parser = parse_rings,
		.args_doc = rings_args_doc,
		.doc = "Trace the VirtIO rings of a VM: one line per descriptor chain, sampled by "
		       "the kernel when the guest notifies the device. Either a running VM "
		       "(--pid), or a VMM command started under the trace, so every queue the "
		       "driver sets up is learnt.",
	};
	struct gma_ring_callbacks cb = { .sz = sizeof(cb),
					 .on_queue = on_queue,
					 .on_notify = on_notify,
					 .on_chain = on_chain,
					 .on_completion = on_completion,
					 .on_anomaly = on_anomaly };
	GMA_OPTS(gma_tracer_opts, opts, .ring = &cb);
	struct timespec start, mono, real;
	const struct gma_vm *vm = NULL;
	struct gma_tracer *t;
	struct gma_vm *vms = NULL;
	long last_stats = 0;
	size_t nvms = 0;
	int err, go_fd = -1, status;
	pid_t pid = args.pid;

	env = e;
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return err;
	pid = args.pid;
	if (args.cmd) {
		if (args.nr_mmio || args.nr_queues || args.qmp)
			return report_error(-EINVAL, "--mmio, --queue and --qmp need --pid");
		pid = spawn_held(args.cmd, &go_fd, env->json);
		if (pid < 0)
			return report_error(pid, "starting the command");
	} else {
		err = find_vm(pid, &vms, &nvms, &vm);
		if (err)
			return err;
	}
	opts.pid = pid;
	opts.snap_len = args.snap_len;
	opts.ringbuf_size = args.ringbuf_size;
	opts.btf_path = env->btf_path;
	t = gma_tracer_new(&opts);
	if (!t) {
		err = report_load_error(-errno);
		goto out;
	}
	for (size_t i = 0; vm && i < args.nr_mmio && !err; i++)
		err = gma_tracer_add_queue(t, vm->id, args.mmio[i], -1, 0, 0, 0, 0, 0);
	for (size_t i = 0; vm && i < args.nr_queues && !err; i++) {
		const struct queue_spec *q = &args.queues[i];

		err = gma_tracer_add_queue(t, vm->id, q->base, q->index, q->layout.desc,
					   q->layout.driver, q->layout.device, q->layout.num,
					   q->device_id);
	}
	if (err) {
		report_error(err, "adding a --mmio or --queue");
		goto out_tracer;
	}
	if (args.qmp && (err = import_qmp(t, vm)))
		goto out_tracer;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	seen.wall_minus_mono_ns =
		(real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
	if (!env->json)
		fprintf(stderr, "gma-trace: tracing VM pid %d (%s) on %s; Ctrl-C to stop\n", pid,
			args.cmd ? args.cmd[0] : comm_of(pid), gma_tracer_tracepoints(t));
	if (go_fd >= 0) {
		if (write(go_fd, "g", 1) != 1)
			err = -errno;
		close(go_fd);
		go_fd = -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exiting) {
		long now;

		err = gma_tracer_poll(t, 100);
		if (err < 0) {
			report_error(err, "polling the ring buffer");
			break;
		}
		err = 0;
		if (args.stuck_ms)
			gma_tracer_check_stuck(t, args.stuck_ms * 1000000ULL);
		now = elapsed_ms(&start);
		if (args.stats && now - last_stats >= (long)args.interval_ms) {
			print_stats(t, false);
			last_stats = now;
		}
		if (args.duration_s && now >= (long)args.duration_s * 1000)
			break;
		if (process_exited(pid)) {
			if (!env->json)
				fprintf(stderr, "gma-trace: VM pid %d exited\n", pid);
			break;
		}
		fflush(stdout);
	}
	gma_tracer_poll(t, 0);
	/* JSON ends with every queue's model, for comparison with the VMM's own view (QMP) */
	if (args.stats || env->json)
		print_stats(t, true);
	print_summary(t);
out_tracer:
	gma_tracer_free(t);
out:
	if (go_fd >= 0)
		close(go_fd); /* the held child exits without running */
	if (args.cmd && pid > 0) {
		if (!process_exited(pid))
			kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	}
	gma_vms_free(vms, nvms);
	return err;
}

/* --- ring: one-shot decode from userspace ----------------------------------------------- */

static const struct argp_option ring_options[] = {
	{ "pid", 'p', "PID", 0, "The VMM process whose memory holds the queue", 0 },
	{ "dump", OPT_DUMP, "FILE", 0, "A guest memory dump instead of a running VM", 0 },
	{ "map", OPT_MAP, "FILE", 0,
	  "The dump's region map: lines 'GPA SIZE OFFSET' (numbers in C syntax)", 0 },
	{ "queue", OPT_QUEUE, "SPEC", 0, "base=B,index=I,num=N,desc=D,driver=A,device=U[,type=ID]",
	  0 },
	{ "qmp", OPT_QMP, "SOCKET", 0, "Decode every queue QEMU reports over QMP", 0 },
	{ "snap-len", OPT_SNAP, "BYTES", 0, "Bytes shown of each buffer (64, max 65536)", 0 },
	{ "descs", 'd', NULL, 0, "Show each chain's descriptors and first bytes", 0 },
	{ "json", 'j', NULL, 0, "JSON instead of text", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

/* Reads a region map: one region per line, "GPA SIZE OFFSET", '#' comments. */
static int read_region_map(const char *path, struct gma_region **out, size_t *n)
{
	FILE *f = fopen(path, "r");
	struct gma_region *r = NULL;
	size_t cap = 0, k = 0;
	char line[256];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long gpa, size, off;

		if (line[0] == '#' || line[strspn(line, " \t")] == '\n')
			continue;
		if (sscanf(line, "%lli %lli %lli", &gpa, &size, &off) != 3 ||
		    k == GMA_REGIONS_MAX) {
			fclose(f);
			free(r);
			return -EINVAL;
		}
		if (k == cap) {
			struct gma_region *nr = realloc(r, (cap ? cap * 2 : 16) * sizeof(*r));

			if (!nr) {
				fclose(f);
				free(r);
				return -ENOMEM;
			}
			r = nr;
			cap = cap ? cap * 2 : 16;
		}
		r[k++] = (struct gma_region){ gpa, size, off };
	}
	fclose(f);
	*out = r;
	*n = k;
	return 0;
}

static void print_ring(const struct queue_spec *q, const struct gma_ring *ring)
{
	char summary[256], an[256], label[32];

	if (env->json) {
		printf("{\"type\":\"ring\",\"device\":\"%s\",\"base\":%llu,\"queue\":%u,\"num\":%u,"
		       "\"avail_idx\":%u,\"used_idx\":%u,\"avail_flags\":%u,\"used_flags\":%u,"
		       "\"pending\":%u,\"anomalies\":",
		       device_label(q->device_id, label, sizeof(label)),
		       (unsigned long long)q->base, q->index, ring->layout.num, ring->avail_idx,
		       ring->used_idx, ring->avail_flags, ring->used_flags, ring->nr_pending);
		print_anomaly_list_json(stdout, ring->anomalies);
		if (q->has_qmp)
			printf(",\"qmp\":{\"last_avail_idx\":%u,\"used_idx\":%u,\"inuse\":%u}",
			       q->qmp_last_avail_idx, q->qmp_used_idx, q->qmp_inuse);
		printf(",\"chains\":[");
	} else {
		print_queue_label(stdout, q->device_id, q->base, q->index);
		printf(": %u entries, avail idx %u, used idx %u, %u in flight\n", ring->layout.num,
		       ring->avail_idx, ring->used_idx, ring->nr_pending);
		if (q->has_qmp)
			printf("  QEMU: next avail %u, used idx %u, %u in use\n",
			       q->qmp_last_avail_idx, q->qmp_used_idx, q->qmp_inuse);
		if (ring->anomalies) {
			gma_anomaly_format(ring->anomalies, an, sizeof(an));
			printf("  !! %s\n", an);
		}
	}
	for (__u32 i = 0; i < ring->nr_chains; i++) {
		const struct gma_ring_chain *c = &ring->chains[i];
		__u32 *nbytes = calloc(c->nr_descs ? c->nr_descs : 1, sizeof(*nbytes));
		struct chain_view v = { .descs = c->descs,
					.n = c->nr_descs,
					.data = c->data,
					.state = c->state,
					.nbytes = nbytes,
					.device_id = q->device_id,
					.queue = q->index,
					.anomalies = c->anomalies };

		if (!nbytes)
			v.n = 0; /* out of memory: the chain without its descriptors */
		for (size_t k = 0; k < v.n; k++)
			nbytes[k] = c->descs[k].snap_len;
		chain_summary(&v, summary, sizeof(summary));
		if (env->json) {
			printf("%s{\"avail_idx\":%u,\"head\":%u,\"nr_descs\":%u,", i ? "," : "",
			       c->avail_pos, c->head, c->nr_descs);
			print_chain_json_tail(stdout, summary, &v);
			printf("}");
			free(nbytes);
			continue;
		}
		printf("  avail %u head %u: %s (%u desc%s)", c->avail_pos, c->head, summary,
		       c->nr_descs, c->nr_descs == 1 ? "" : "s");
		if (c->anomalies) {
			gma_anomaly_format(c->anomalies, an, sizeof(an));
			printf(" !! %s", an);
		}
		printf("\n");
		if (args.descs)
			print_chain_descs(stdout, &v);
		free(nbytes);
	}
	if (env->json) {
		printf("],\"used\":[");
		for (__u32 i = 0; i < ring->nr_used; i++)
			printf("%s{\"pos\":%u,\"id\":%u,\"len\":%u}", i ? "," : "",
			       ring->used[i].pos, ring->used[i].id, ring->used[i].len);
		printf("]}\n");
	}
}

int cmd_ring(int argc, char **argv, struct env *e)
{
	static const struct argp argp = {
		.options = ring_options,
		.parser = parse_rings,
		.doc = "Decode one queue's current state, read entirely from userspace through "
		       "the accessor: the chains made available and not yet used, and the last "
		       "used elements. Unbounded by the BPF side's caps.",
	};
	GMA_OPTS(gma_ring_read_opts, ropts);
	struct gma_region *regions = NULL;
	struct gma_vm *vms = NULL;
	const struct gma_vm *vm;
	struct gma_mem *mem = NULL;
	size_t nregions = 0, nvms = 0;
	int err;

	env = e;
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return err;
	if (args.dump && !args.map)
		return report_error(-EINVAL, "--dump needs --map");
	if (!args.nr_queues && !args.qmp)
		return report_error(-EINVAL, "which queue? give --queue or --qmp");
	ropts.snap_len = args.snap_len;
	if (args.dump) {
		err = read_region_map(args.map, &regions, &nregions);
		if (err)
			return report_error(err, args.map);
		mem = gma_mem_new_file(args.dump, regions, nregions, NULL);
	} else {
		err = find_vm(args.pid, &vms, &nvms, &vm);
		if (err)
			return err;
		err = gma_vm_regions(vm, &regions, &nregions);
		if (err) {
			report_error(err, "building the region table");
			goto out;
		}
		mem = gma_mem_new_process(vm->pid, regions, nregions);
	}
	if (!mem) {
		err = report_error(-errno, args.dump ? args.dump : "opening the VM's memory");
		goto out;
	}
	if (args.qmp) {
		struct gma_qmp_queue *qs;
		struct gma_qmp *qmp;
		size_t n;

		err = gma_qmp_connect(args.qmp, &qmp);
		if (err) {
			report_error(err, "connecting to QMP");
			goto out;
		}
		err = gma_qmp_virtio_queues(qmp, &qs, &n);
		gma_qmp_close(qmp);
		if (err) {
			report_error(err, "querying virtio queues over QMP");
			goto out;
		}
		if (env->verbose)
			for (size_t i = 0; i < n; i++)
				fprintf(stderr,
					"gma-trace: QMP: %s %s queue %u: base 0x%llx num %u desc 0x%llx "
					"driver 0x%llx device 0x%llx\n",
					qs[i].device, qs[i].path, qs[i].queue,
					(unsigned long long)qs[i].mmio_base, qs[i].layout.num,
					(unsigned long long)qs[i].layout.desc,
					(unsigned long long)qs[i].layout.driver,
					(unsigned long long)qs[i].layout.device);
		for (size_t i = 0; i < n && args.nr_queues < QUEUE_SPECS_MAX; i++) {
			if (!qs[i].layout.num || !qs[i].layout.desc)
				continue; /* a queue the driver never set up */
			args.queues[args.nr_queues++] = (struct queue_spec){
				.base = qs[i].mmio_base,
				.index = qs[i].queue,
				.device_id = qs[i].device_id,
				.layout = qs[i].layout,
				.has_qmp = true,
				.qmp_last_avail_idx = qs[i].last_avail_idx,
				.qmp_used_idx = qs[i].used_idx,
				.qmp_inuse = qs[i].inuse,
			};
		}
		free(qs);
		if (!args.nr_queues) {
			fprintf(stderr,
				"gma-trace: QEMU lists %zu virtio queues over QMP, none set up by "
				"the guest's driver yet\n",
				n);
			err = -ENOENT;
			goto out;
		}
	}
	for (size_t i = 0; i < args.nr_queues; i++) {
		struct gma_ring *ring;

		err = gma_ring_read(mem, &args.queues[i].layout, &ropts, &ring);
		if (err) {
			report_error(err, "reading the ring");
			break;
		}
		print_ring(&args.queues[i], ring);
		gma_ring_free(ring);
	}
out:
	gma_mem_free(mem);
	free(regions);
	gma_vms_free(vms, nvms);
	return err;
}

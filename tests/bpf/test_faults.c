// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Faults mid-trace: the ring buffer full (drops counted and shown), guest pages the VMM never
 * touched (a fault, not zeros), two VMs traced at once without their queues mixing, the VM
 * exiting under the trace, and gma-trace killed and started again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <dirent.h>

#include <gma/gma.h>
#include <gma/record.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"

TestSuite(faults, .init = test_clock_start, .fini = trace_run_cleanup, .timeout = TEST_LIMIT_S);

Test(faults, full_ring_buffer_drops_are_counted_and_shown)
{
	struct json_object *sum = NULL;

	/* one page of ring buffer, and a reader that stops while the guest queues 16 chains */
	run_traced_reader_stopped(30, "--ringbuf-size 4096 --snap-len 4096");
	for (size_t i = 0; i < trace.n; i++)
		if (is(trace.v[i], "type", "summary"))
			sum = trace.v[i];
	cr_assert(sum, "no summary record");
	cr_assert_gt(num(sum, "drops"), 0, "a 4 KiB ring buffer lost nothing?");
}

Test(faults, text_summary_says_records_were_lost)
{
	char cmd[512], out_path[64];
	size_t before;
	bool queued;
	FILE *f;
	pid_t pid;
	int fd;

	/* the reader stopped while the guest queues 16 chains: one page of ring buffer overflows */
	snprintf(truth_path, sizeof(truth_path), "/tmp/gma-faults-truth.XXXXXX");
	snprintf(out_path, sizeof(out_path), "/tmp/gma-faults-out.XXXXXX");
	cr_assert((fd = mkstemp(truth_path)) >= 0);
	close(fd);
	cr_assert((fd = mkstemp(out_path)) >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "exec " GMA_OUTPUT
		 "/gma-trace rings --ringbuf-size 4096 --snap-len 4096 -- " GMA_OUTPUT
		 "/demo-vmm --log %s --requests 30 --seconds %s >%s 2>&1",
		 truth_path, vmm_seconds(), out_path);
	pid = spawn_shell(cmd);
	cr_assert(wait_lines(truth_path, "\"event\":\"chain\"", 1, pid), "no traffic: %s", cmd);
	before = count_lines(truth_path, "\"event\":\"chain\"");
	kill(pid, SIGSTOP);
	queued = wait_lines(truth_path, "\"event\":\"chain\"", before + STOPPED_CHAINS, 0);
	kill(pid, SIGCONT);
	cr_assert(queued, "the guest queued %zu of %d chains while the reader was stopped: %s",
		  count_lines(truth_path, "\"event\":\"chain\"") - before, STOPPED_CHAINS, cmd);
	cr_assert_eq(wait_exit(pid), 0, "%s", cmd);
	load_jsonl(truth_path, &truth, false);
	expect_vmm_done();
	cr_assert_geq(count_lines(truth_path, "\"event\":\"chain\""), before + STOPPED_CHAINS);
	f = fopen(out_path, "r");
	cr_assert(f);
	{
		char line[1024];
		bool said = false;

		while (fgets(line, sizeof(line), f))
			said |= strstr(line, "records were lost") != NULL;
		fclose(f);
		unlink(out_path);
		cr_assert(said, "no loss message in the output of %s", cmd);
	}
}

struct got {
	bool done;
	struct gma_sample s;
	__u8 state[256];
};

static void on_sample(void *ctx, const struct gma_sample *s)
{
	struct got *g = ctx;

	g->s = *s;
	memcpy(g->state, s->state, s->len < 256 ? s->len : 256);
	g->done = true;
}

/* RAM neither the guest nor the VMM ever touched is not resident: the kernel cannot read it. */
Test(faults, page_never_touched_is_a_fault_not_zeros)
{
	struct got g = {};
	GMA_OPTS(gma_tracer_opts, opts, .on_sample = on_sample, .ctx = &g);
	struct gma_tracer *t;
	struct demo_vm vm;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	t = gma_tracer_new(&opts);
	cr_assert(t);
	cr_assert_eq(gma_tracer_request_sample(t, vm.pid, DEMO_UNTOUCHED_GPA, 64, NULL), 0);
	while (!g.done) {
		gma_tracer_poll(t, 100);
		cr_assert_gt(test_seconds_left(), 0, "no sample of %#x by the test's deadline",
			     DEMO_UNTOUCHED_GPA);
	}
	for (int i = 0; i < 64; i++)
		cr_assert_eq(g.state[i], GMA_BYTE_FAULT, "byte %d: state %u", i, g.state[i]);
	gma_tracer_free(t);
	demo_vm_stop(&vm);
}

struct two {
	__u64 vm_a, vm_b; /* struct kvm of each, from the iterator */
	pid_t pid_a, pid_b;
	size_t chains_a, chains_b, wrong;
};

static void on_chain(void *ctx, const struct gma_chain *c)
{
	struct two *w = ctx;

	/* each chain under the VM it came from: its queue key and its pid agree */
	if (c->pid == w->pid_a)
		w->chains_a++;
	else if (c->pid == w->pid_b)
		w->chains_b++;
	if ((c->pid == w->pid_a && w->vm_a && c->vm_id != w->vm_a) ||
	    (c->pid == w->pid_b && w->vm_b && c->vm_id != w->vm_b))
		w->wrong++;
}

/*
 * One tracer, every VM: two demo VMs with identical layouts (same gpas, same virtio-mmio
 * bases), their queues kept apart. Chains of other VMs on the host are ignored.
 */
Test(faults, two_vms_traced_at_once_do_not_mix)
{
	struct two w = {};
	struct gma_ring_callbacks cb = { .sz = sizeof(cb), .on_chain = on_chain };
	GMA_OPTS(gma_tracer_opts, opts, .ring = &cb, .ctx = &w);
	struct gma_queue_stats *st;
	struct gma_tracer *t;
	struct demo_vm a, b;
	struct gma_vm *vms;
	size_t n, nvms, qa = 0, qb = 0;

	t = gma_tracer_new(&opts);
	cr_assert(t);
	demo_vm_start(&a, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	demo_vm_start(&b, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	w.pid_a = a.pid;
	w.pid_b = b.pid;
	cr_assert_eq(gma_vms_list(&vms, &nvms, sizeof(*vms)), 0);
	cr_assert(gma_vms_find_pid(vms, nvms, sizeof(*vms), a.pid) &&
		  gma_vms_find_pid(vms, nvms, sizeof(*vms), b.pid));
	w.vm_a = gma_vms_find_pid(vms, nvms, sizeof(*vms), a.pid)->id;
	w.vm_b = gma_vms_find_pid(vms, nvms, sizeof(*vms), b.pid)->id;
	cr_assert_neq(w.vm_a, w.vm_b);
	gma_vms_free(vms);
	/* until each VM has had a few chains decoded (a full guest cycle sets up every queue) */
	do {
		gma_tracer_poll(t, 100);
		cr_assert_gt(test_seconds_left(), 0, "chains: %zu of VM a, %zu of VM b", w.chains_a,
			     w.chains_b);
	} while (w.chains_a <= 8 || w.chains_b <= 8);
	cr_assert_eq(gma_tracer_queue_stats(t, &st, &n, sizeof(*st)), 0);
	for (size_t i = 0; i < n; i++) {
		if (st[i].pid == a.pid)
			qa++;
		else if (st[i].pid == b.pid)
			qb++;
	}
	/* each VM's blk, console and net queues, under its own VM */
	cr_assert_geq(qa, 3, "VM a: %zu queues", qa);
	cr_assert_geq(qb, 3, "VM b: %zu queues", qb);
	cr_assert_gt(w.chains_a, 5);
	cr_assert_gt(w.chains_b, 5);
	cr_assert_eq(w.wrong, 0);
	free(st);
	gma_tracer_free(t);
	demo_vm_stop(&a);
	demo_vm_stop(&b);
}

/*
 * Lines of path that are gma-trace's text summary: the line of counts print_text.c's
 * text_summary writes, read whole, not a line that merely has one of its words.
 */
static size_t text_summaries(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;

	cr_assert(f, "open %s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		unsigned long long c[6];
		int end = 0;

		if (sscanf(line,
			   "%llu notifies, %llu chains, %llu completions, %llu anomalies, %llu "
			   "records dropped (ring buffer full), %llu malformed%n",
			   &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &end) == 6 &&
		    end && (line[end] == '\n' || !line[end]))
			n++;
	}
	free(line);
	fclose(f);
	return n;
}

/*
 * The VM exiting under the trace ends it, with its summary. Two traces of the running VM,
 * which end by themselves once it has stopped: one in JSON, whose summary is its record of
 * type "summary", once, as its last line; one in text, which says the VM exited and prints
 * its summary line.
 */
Test(faults, vm_exiting_under_the_trace_ends_it_with_a_summary)
{
	char json_cmd[512], text_cmd[512], text_path[64];
	pid_t json_pid, text_pid;
	size_t summaries = 0;
	struct demo_vm vm;
	int fd;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-faults-trace.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	snprintf(text_path, sizeof(text_path), "/tmp/gma-faults-out.XXXXXX");
	cr_assert((fd = mkstemp(text_path)) >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	snprintf(json_cmd, sizeof(json_cmd),
		 "exec " GMA_OUTPUT "/gma-trace rings --json --pid %d --mmio %#x "
		 "--duration %s >%s 2>/dev/null",
		 vm.pid, DEMO_VIRTIO_BLK_BASE, vmm_seconds(), trace_path);
	snprintf(text_cmd, sizeof(text_cmd),
		 "exec " GMA_OUTPUT "/gma-trace rings --pid %d --mmio %#x --duration %s "
		 ">%s 2>&1",
		 vm.pid, DEMO_VIRTIO_BLK_BASE, vmm_seconds(), text_path);
	json_pid = spawn_shell(json_cmd);
	text_pid = spawn_shell(text_cmd);
	/*
	 * The VM stops once both trace it, not after a time that a slow machine may outlast: the
	 * text trace says it runs, the JSON one has printed a record (the notifies of the blk
	 * window, whose queues it does not know).
	 */
	cr_assert(wait_lines(text_path, "tracing VM pid", 1, text_pid), "%s did not start",
		  text_cmd);
	cr_assert(wait_lines(trace_path, "{\"type\":", 1, json_pid), "no record from %s", json_cmd);
	demo_vm_stop(&vm);
	cr_assert_eq(wait_exit_by_deadline(json_pid, json_cmd), 0, "%s", json_cmd);
	cr_assert_eq(wait_exit_by_deadline(text_pid, text_cmd), 0, "%s", text_cmd);
	load_jsonl(trace_path, &trace, true);
	for (size_t i = 0; i < trace.n; i++)
		summaries += is(trace.v[i], "type", "summary");
	cr_assert_eq(summaries, 1, "%zu summary records from %s", summaries, json_cmd);
	cr_assert(is(trace.v[trace.n - 1], "type", "summary"), "the last record of %s: %s",
		  json_cmd, json_object_to_json_string(trace.v[trace.n - 1]));
	cr_assert_eq(count_lines(text_path, "exited"), 1, "no exit message from %s", text_cmd);
	cr_assert_eq(text_summaries(text_path), 1, "no summary line from %s", text_cmd);
	unlink(text_path);
}

/*
 * The BPF programs process pid holds (its link fds name them in /proc/PID/fdinfo). By id, not
 * by counting programs system-wide: another tracer's programs may still be on their way out
 * (freeing is deferred) while this test runs.
 */
static int held_programs(pid_t pid, __u32 *ids, int max)
{
	char path[320], line[128];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	while (d && (e = readdir(d)) && n < max) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f) && n < max)
			if (sscanf(line, "prog_id: %u", &ids[n]) == 1)
				n++;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* The programs a tracer holds, for wait_until_deadline: enough to say it is attached. */
struct held {
	pid_t pid;
	__u32 ids[64];
	int n;
};

static bool attached(void *ctx)
{
	struct held *h = ctx;

	h->n = held_programs(h->pid, h->ids, 64);
	return h->n >= 2;
}

/* Whether program *id no longer exists (freeing a program is deferred). */
static bool program_gone(void *id)
{
	int fd = bpf_prog_get_fd_by_id(*(__u32 *)id);

	if (fd < 0)
		return true;
	close(fd);
	return false;
}

Test(faults, killed_and_restarted)
{
	char cmd[512], mmio[32], blk_q[128], chain[64];
	struct held h = {};
	struct demo_vm vm;
	int status, fd;
	pid_t pid;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), NULL });
	snprintf(mmio, sizeof(mmio), "%#x", DEMO_VIRTIO_BLK_BASE);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char p[16];

		snprintf(p, sizeof(p), "%d", vm.pid);
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(GMA_OUTPUT "/gma-trace", "gma-trace", "rings", "--pid", p, "--mmio", mmio,
		      NULL);
		_exit(127);
	}
	/* loading and attaching takes a while in a slow (emulated) VM */
	h.pid = pid;
	cr_assert(wait_until_deadline(attached, &h), "the tracer is not attached (%d programs)",
		  h.n);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "gma-trace ended before it was killed (status %#x)", status);
	for (int i = 0; i < h.n; i++)
		cr_assert(wait_until_deadline(program_gone, &h.ids[i]),
			  "program %u left behind by a killed gma-trace", h.ids[i]);
	/* and a new one works: the blk queue given, its chains decoded */
	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-faults-out.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	snprintf(cmd, sizeof(cmd), "exec " GMA_OUTPUT "/gma-trace rings --pid %d %s >%s", vm.pid,
		 demo_mmio_queue_arg(blk_q, sizeof(blk_q), DEMO_VQ_BLK), trace_path);
	pid = spawn_shell(cmd);
	snprintf(chain, sizeof(chain), "virtio-blk@%x q0 avail", DEMO_VIRTIO_BLK_BASE);
	cr_assert(wait_lines(trace_path, chain, 1, pid), "no chain after restart");
	kill(pid, SIGINT);
	cr_assert_eq(wait_exit(pid), 0, "%s", cmd);
	demo_vm_stop(&vm);
}

/* Every byte of a sample of the churning slot: one generation's fill, or unmapped. */
static bool consistent(const __u8 *state, const __u8 *data, size_t len, bool *mapped)
{
	*mapped = state[0] == GMA_BYTE_READ;
	for (size_t i = 0; i < len; i++) {
		if (*mapped ? state[i] != GMA_BYTE_READ || data[i] != data[0] || !data[0] :
			      state[i] != GMA_BYTE_UNMAPPED)
			return false;
	}
	return true;
}

struct churn_got {
	bool done;
	__u8 state[64], data[64];
};

static void on_churn_sample(void *ctx, const struct gma_sample *s)
{
	struct churn_got *g = ctx;

	memcpy(g->state, s->state, 64);
	memcpy(g->data, s->data, 64);
	g->done = true;
}

/* Memslots added, moved and deleted under the trace: no stale translation is ever used. */
Test(faults, memslot_churn_samples_are_current_or_unmapped)
{
	struct churn_got g = {};
	GMA_OPTS(gma_tracer_opts, opts, .on_sample = on_churn_sample, .ctx = &g);
	size_t mapped_n = 0, unmapped_n = 0;
	struct gma_tracer *t;
	struct demo_vm vm;
	bool mapped;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), "--memslot-churn",
						  "3", NULL });
	t = gma_tracer_new(&opts);
	cr_assert(t);
	/* at least 60 samples, spread over the slot's phases until both kinds were seen */
	for (int i = 0; i < 60 || !mapped_n || !unmapped_n; i++) {
		cr_assert_lt(i, 5000, "only %zu mapped and %zu unmapped samples", mapped_n,
			     unmapped_n);
		usleep(1000);
		g.done = false;
		cr_assert_eq(gma_tracer_request_sample(t, vm.pid,
						       i % 2 ? DEMO_CHURN_GPA_B : DEMO_CHURN_GPA_A,
						       64, NULL),
			     0);
		while (!g.done) {
			gma_tracer_poll(t, 50);
			cr_assert_gt(test_seconds_left(), 0, "no sample %d by the test's deadline",
				     i);
		}
		cr_assert(consistent(g.state, g.data, 64, &mapped),
			  "sample %d mixes generations or states", i);
		mapped ? mapped_n++ : unmapped_n++;
	}
	cr_assert_gt(mapped_n, 0);
	cr_assert_gt(unmapped_n, 0);
	gma_tracer_free(t);
	demo_vm_stop(&vm);
}

/* A sample of the churning slot and when it was taken. */
struct churn_sample {
	__u64 ts_ns, gpa;
	__u8 state[64], data[64];
};

struct churn_all {
	struct churn_sample s[400];
	size_t n;
	bool done;
};

static void on_churn_sample_all(void *ctx, const struct gma_sample *s)
{
	struct churn_all *a = ctx;

	a->done = true;
	if (a->n >= sizeof(a->s) / sizeof(a->s[0]))
		return;
	a->s[a->n].ts_ns = s->ts_ns;
	a->s[a->n].gpa = s->gpa;
	memcpy(a->s[a->n].state, s->state, 64);
	memcpy(a->s[a->n].data, s->data, 64);
	a->n++;
}

/*
 * What the demo's log says the 64 bytes at gpa were at ts: the slot's fill where the last
 * change before ts put it (add: DEMO_CHURN_GPA_A, move: DEMO_CHURN_GPA_B), else unmapped. The
 * VMM changes the slot on the vCPU thread between two KVM_RUNs and logs the change before the
 * next one, so each sample, taken during a KVM_RUN of that thread, falls strictly between two
 * changes.
 */
static bool churn_expected(struct jlines *log, __u64 ts, __u64 gpa, __u8 *fill)
{
	__u64 at = 0, last_ts = 0;
	__u8 f = 0;

	for (size_t i = 0; i < log->n; i++) {
		struct json_object *e = log->v[i];

		if (!is(e, "event", "slot_change") || num(e, "ts_ns") >= ts)
			continue;
		cr_assert_geq(num(e, "ts_ns"), last_ts, "slot changes out of order in the log");
		last_ts = num(e, "ts_ns");
		if (is(e, "op", "add")) {
			f = num(e, "fill");
			at = num(e, "gpa");
		} else if (is(e, "op", "move")) {
			at = num(e, "gpa");
		} else {
			at = 0;
		}
	}
	*fill = f;
	return at && at == gpa;
}

/*
 * The slot cache under churn: every sampled byte of the moving slot is what the demo's log
 * says was there when the sample was taken, at both addresses it moves between. A translation
 * kept across a change of memslots would read the slot at its old address (after a move) or
 * unmapped memory (after a delete), and fail here.
 */
Test(faults, memslot_churn_samples_match_the_slot_log)
{
	static struct churn_all a;
	GMA_OPTS(gma_tracer_opts, opts, .on_sample = on_churn_sample_all, .ctx = &a);
	size_t mapped[2] = { 0, 0 }, unmapped = 0;
	struct gma_tracer *t;
	struct demo_vm vm;
	__u8 fill;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), "--memslot-churn",
						  "2", NULL });
	t = gma_tracer_new(&opts);
	cr_assert(t);
	a.n = 0;
	/* 120 samples or more, until the slot was seen at both addresses and away */
	for (size_t i = 0; a.n < 120 || !mapped[0] || !mapped[1] || !unmapped; i++) {
		__u64 gpa = i % 2 ? DEMO_CHURN_GPA_B : DEMO_CHURN_GPA_A;

		cr_assert_lt(a.n, sizeof(a.s) / sizeof(a.s[0]),
			     "only %zu/%zu mapped and %zu unmapped samples", mapped[0], mapped[1],
			     unmapped);
		usleep(500);
		a.done = false;
		cr_assert_eq(gma_tracer_request_sample(t, vm.pid, gpa, 64, NULL), 0);
		while (!a.done) {
			gma_tracer_poll(t, 50);
			cr_assert_gt(test_seconds_left(), 0, "no sample %zu by the test's deadline",
				     i);
		}
		if (a.s[a.n - 1].state[0] == GMA_BYTE_READ)
			mapped[gpa == DEMO_CHURN_GPA_B]++;
		else
			unmapped++;
	}
	gma_tracer_free(t);
	demo_vm_stop_keep_log(&vm);
	load_jsonl(vm.log_path, &truth, false);
	unlink(vm.log_path);
	for (size_t i = 0; i < a.n; i++) {
		struct churn_sample *s = &a.s[i];
		bool at = churn_expected(&truth, s->ts_ns, s->gpa, &fill);

		for (size_t k = 0; k < 64; k++) {
			cr_assert_eq(s->state[k], at ? GMA_BYTE_READ : GMA_BYTE_UNMAPPED,
				     "sample %zu of 0x%llx byte %zu: state %u, the log says %s", i,
				     (unsigned long long)s->gpa, k, s->state[k],
				     at ? "mapped" : "unmapped");
			if (at)
				cr_assert_eq(
					s->data[k], fill,
					"sample %zu of 0x%llx byte %zu: 0x%02x, the log says 0x%02x",
					i, (unsigned long long)s->gpa, k, s->data[k], fill);
		}
	}
}

Test(faults, memslot_churn_process_reads_are_consistent)
{
	size_t ok = 0;
	struct demo_vm vm;

	demo_vm_start(&vm, (const char *const[]){ "--seconds", vmm_seconds(), "--memslot-churn",
						  "100", NULL });
	for (int i = 0; i < 15; i++) {
		char cmd[256], *out;
		struct json_object *o, *unread;
		__u8 data[64], state[64];
		const char *hex;
		int status;

		snprintf(cmd, sizeof(cmd),
			 GMA_OUTPUT "/gma-trace mem -j --pid %d --gpa %#x --len 64 2>&1", vm.pid,
			 DEMO_CHURN_GPA_A);
		status = run_capture(cmd, &out);
		if (status == 1 && strstr(out, "kept changing")) {
			free(out);
			continue; /* said plainly: no consistent snapshot */
		}
		cr_assert_eq(status, 0, "%s", out);
		o = json_tokener_parse(out);
		cr_assert(o, "not JSON: %s", out);
		hex = str(o, "bytes");
		cr_assert(json_object_object_get_ex(o, "unread", &unread));
		memset(state, GMA_BYTE_READ, sizeof(state));
		if (json_object_array_length(unread)) {
			struct json_object *u = json_object_array_get_idx(unread, 0);

			cr_assert_eq(json_object_array_length(unread), 1);
			cr_assert(is(u, "reason", "unmapped") && num(u, "len") == 64, "%s", out);
			memset(state, GMA_BYTE_UNMAPPED, sizeof(state));
		}
		for (int k = 0; k < 64; k++)
			sscanf(hex + 2 * k, "%2hhx", &data[k]);
		cr_assert(state[0] != GMA_BYTE_READ || data[0], "read zeros: %s", out);
		cr_assert(state[0] == GMA_BYTE_READ || !data[0]);
		for (int k = 1; k < 64; k++)
			cr_assert_eq(data[k], data[0], "mixed bytes: %s", out);
		ok++;
		json_object_put(o);
		free(out);
	}
	cr_assert_gt(ok, 5);
	demo_vm_stop(&vm);
}

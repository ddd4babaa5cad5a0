// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"
#include "../../tools/demo-vmm/pattern.h"

struct jlines trace, truth;
char trace_path[64], truth_path[64];

/*
 * Parses a file of JSON lines; every non-empty line must parse as one JSON object. Not strict
 * (a log its writer may still be writing, the demo VMM's): the last line without its newline
 * is being written, and is left out.
 */
void load_jsonl(const char *path, struct jlines *out, bool strict)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;

	cr_assert(f, "open %s", path);
	out->n = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		struct json_object *o;

		lineno++;
		if (!strict && line[len - 1] != '\n')
			break; /* the writer is in its middle */
		if (line[0] != '{') {
			cr_assert(!strict, "%s:%zu is not a JSON object: %s", path, lineno, line);
			continue;
		}
		o = json_tokener_parse(line);
		cr_assert(o && json_object_is_type(o, json_type_object), "%s:%zu: bad JSON: %s",
			  path, lineno, line);
		cr_assert_lt(out->n, MAX_LINES, "%s: more than %d lines", path, MAX_LINES);
		if (out->n == out->cap) {
			out->cap = out->cap ? 2 * out->cap : 4096;
			out->v = realloc(out->v, out->cap * sizeof(*out->v));
			cr_assert(out->v, "%s: %zu lines: out of memory", path, out->n);
		}
		out->v[out->n++] = o;
	}
	free(line);
	fclose(f);
}

__u64 num(struct json_object *o, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
		  json_object_to_json_string(o));
	/* a PCI function's key is above 2^63: int64 would clamp it */
	if (json_object_get_int64(v) < 0)
		return (__u64)json_object_get_int64(v);
	return json_object_get_uint64(v);
}

const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return "";
	return json_object_get_string(v);
}

bool is(struct json_object *o, const char *key, const char *value)
{
	return !strcmp(str(o, key), value);
}

size_t desc_bytes(struct json_object *d, __u8 *buf, size_t size)
{
	const char *hex = str(d, "bytes");
	size_t n = 0;

	for (; hex[0] && hex[1] && n < size; hex += 2)
		sscanf(hex, "%2hhx", &buf[n++]);
	return n;
}

size_t assert_same_descs(struct json_object *t, struct json_object *g, size_t snap_len)
{
	struct json_object *tdescs, *gdescs;
	size_t crossing = 0;

	cr_assert(json_object_object_get_ex(t, "descs", &tdescs));
	cr_assert(json_object_object_get_ex(g, "descs", &gdescs));
	cr_assert_eq(json_object_array_length(gdescs), json_object_array_length(tdescs),
		     "descriptor count of %s", json_object_to_json_string(t));
	for (size_t k = 0; k < json_object_array_length(tdescs); k++) {
		struct json_object *td = json_object_array_get_idx(tdescs, k);
		struct json_object *gd = json_object_array_get_idx(gdescs, k);
		__u64 addr = num(td, "addr"), len = num(td, "len");
		__u8 bytes[4096];
		size_t n;

		cr_assert_eq(num(gd, "addr"), addr);
		cr_assert_eq(num(gd, "len"), len);
		cr_assert_eq(num(gd, "flags"), num(td, "flags"));
		n = desc_bytes(gd, bytes, sizeof(bytes));
		if (snap_len)
			cr_assert_eq(n, len < snap_len ? len : snap_len,
				     "sampled %zu of desc at 0x%llx", n, addr);
		if (addr >= DEMO_BLK_BIG_BUF &&
		    addr + len <= DEMO_BLK_BIG_BUF + DEMO_BLK_BIG_SECTORS * 512) {
			cr_assert_eq(gma_demo_pattern_check(addr, bytes, n), n,
				     "bytes of desc at 0x%llx", addr);
			crossing += addr < DEMO_SLOT2_GPA && addr + len > DEMO_SLOT2_GPA;
		}
	}
	return crossing;
}

pid_t spawn_shell(const char *cmd)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int wait_exit(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool child_exited(pid_t pid)
{
	siginfo_t info = { 0 };

	return !waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) && info.si_pid == pid;
}

int wait_exit_by_deadline(pid_t pid, const char *what)
{
	while (!child_exited(pid)) {
		if (!test_seconds_left()) {
			kill(pid, SIGKILL);
			wait_exit(pid);
			cr_assert_fail("%s was still running at the test's deadline", what);
		}
		usleep(20000);
	}
	return wait_exit(pid);
}

size_t count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0)
		n += strstr(line, needle) != NULL;
	free(line);
	fclose(f);
	return n;
}

static struct timespec test_started;

void test_clock_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &test_started);
}

double test_seconds_left(void)
{
	struct timespec now;
	double ran;

	/* a suite without test_clock_start as its .init: from the test's first wait */
	if (!test_started.tv_sec && !test_started.tv_nsec)
		test_clock_start();
	clock_gettime(CLOCK_MONOTONIC, &now);
	ran = (now.tv_sec - test_started.tv_sec) + (now.tv_nsec - test_started.tv_nsec) / 1e9;
	return ran < SAFETY_SECONDS ? SAFETY_SECONDS - ran : 0;
}

const char *vmm_seconds(void)
{
	static char buf[16];
	unsigned int left = (unsigned int)test_seconds_left();

	snprintf(buf, sizeof(buf), "%u", left ? left : 1);
	return buf;
}

bool wait_until_deadline(bool (*cond)(void *ctx), void *ctx)
{
	for (;;) {
		if (cond(ctx))
			return true;
		if (!test_seconds_left())
			return cond(ctx);
		usleep(20000);
	}
}

bool wait_lines(const char *path, const char *needle, size_t n, pid_t alive)
{
	for (;;) {
		if (count_lines(path, needle) >= n)
			return true;
		/* the process that should write them is gone: they will not come */
		if (alive > 0 && child_exited(alive))
			return count_lines(path, needle) >= n;
		if (!test_seconds_left())
			return false;
		usleep(20000);
	}
}

static void make_paths(void)
{
	int fd;

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-rings-trace.XXXXXX");
	snprintf(truth_path, sizeof(truth_path), "/tmp/gma-rings-truth.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0);
	close(fd);
	cr_assert((fd = mkstemp(truth_path)) >= 0);
	close(fd);
}

/*
 * The VMM stopped because what it waited for (--requests, --until) happened, not on its
 * --seconds safety limit: else the test fails saying what was missing.
 */
void expect_vmm_done(void)
{
	struct json_object *exit_ev = NULL, *unmet = NULL;

	for (size_t i = 0; i < truth.n; i++) {
		if (is(truth.v[i], "event", "exit"))
			exit_ev = truth.v[i];
		else if (is(truth.v[i], "event", "unmet"))
			unmet = truth.v[i];
	}
	cr_assert(exit_ev, "the demo VMM logged no exit (%s)", truth_path);
	cr_assert(is(exit_ev, "reason", "done"),
		  "the demo VMM stopped (%s) before what the test needs: it was waiting for %s",
		  str(exit_ev, "reason"), unmet ? str(unmet, "waiting_for") : "?");
}

/*
 * Healthy traffic is never judged stuck: each queue's health verdict at the end of the trace
 * (in its queue_stats) says so. (The hostile runs turn the window off with --stuck-ms 0; a
 * device that drops malformed chains would rightly be judged not consuming them.)
 */
static void expect_no_stuck_verdict(void)
{
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *st = trace.v[i], *v;

		if (!is(st, "type", "queue_stats") || !json_object_object_get_ex(st, "stuck", &v))
			continue;
		cr_assert(!json_object_get_boolean(v), "healthy traffic judged %s: %s",
			  str(st, "verdict"), json_object_to_json_string(st));
	}
}

/*
 * gma-trace rings --json over the demo VM until the VMM's goals in vmm_extra (--requests N,
 * --until hostile-done) are met, its --seconds (the test's deadline) its safety limit; with
 * stop_reader, gma-trace is stopped (SIGSTOP) once the guest's traffic runs, until the guest
 * has queued STOPPED_CHAINS more chains: its ring buffer fills whatever the machine's speed.
 */
static void run_traced_cmd(const char *extra, const char *vmm_extra, bool stop_reader)
{
	char cmd[1024];
	pid_t pid;
	int status;

	make_paths();
	snprintf(cmd, sizeof(cmd),
		 "exec " GMA_OUTPUT "/gma-trace rings --json --completions %s -- " GMA_OUTPUT
		 "/demo-vmm --log %s --seconds %s %s >%s 2>/dev/null",
		 extra, truth_path, vmm_seconds(), vmm_extra, trace_path);
	pid = spawn_shell(cmd);
	if (stop_reader) {
		size_t before;
		bool queued;

		cr_assert(wait_lines(truth_path, "\"event\":\"chain\"", 1, pid),
			  "no virtio traffic: %s", cmd);
		before = count_lines(truth_path, "\"event\":\"chain\"");
		kill(pid, SIGSTOP);
		queued = wait_lines(truth_path, "\"event\":\"chain\"", before + STOPPED_CHAINS, 0);
		kill(pid, SIGCONT);
		cr_assert(queued,
			  "the guest queued %zu of %d chains while the reader was stopped: %s",
			  count_lines(truth_path, "\"event\":\"chain\"") - before, STOPPED_CHAINS,
			  cmd);
	}
	status = wait_exit(pid);
	cr_assert_eq(status, 0, "%s failed", cmd);
	load_jsonl(trace_path, &trace, true);
	load_jsonl(truth_path, &truth, false);
	expect_vmm_done();
	expect_no_stuck_verdict();
}

void run_traced_vmm(const char *extra, const char *vmm_extra)
{
	run_traced_cmd(extra, vmm_extra, false);
}

void run_traced(unsigned int requests, const char *extra)
{
	char vmm[32];

	snprintf(vmm, sizeof(vmm), "--requests %u", requests);
	run_traced_vmm(extra, vmm);
}

void run_traced_reader_stopped(unsigned int requests, const char *extra)
{
	char vmm[32];

	cr_assert_gt(requests, STOPPED_CHAINS, "the VMM must outlast the stop of the reader");
	snprintf(vmm, sizeof(vmm), "--requests %u", requests);
	run_traced_cmd(extra, vmm, true);
}

/* A boolean member of o, which must have it (a member the format says is there). */
static bool flag(struct json_object *o, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v) &&
			  json_object_is_type(v, json_type_boolean),
		  "no boolean \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_boolean(v);
}

size_t compare_ring_state(void)
{
	size_t queues = 0;

	for (size_t i = 0; i < truth.n; i++) {
		struct json_object *t = truth.v[i], *st = NULL;
		__u64 avail, used;

		if (!is(t, "event", "ring_state"))
			continue;
		cr_assert(!json_object_object_get_ex(t, "error", NULL), "%s",
			  json_object_to_json_string(t));
		/* the last: --stats prints the table at each refresh, the final one last */
		for (size_t k = trace.n; k-- > 0 && !st;)
			if (is(trace.v[k], "type", "queue_stats") &&
			    num(trace.v[k], "base") == num(t, "base") &&
			    num(trace.v[k], "queue") == num(t, "queue"))
				st = trace.v[k];
		cr_assert(st, "no queue_stats for %s q%llu", str(t, "dev"), num(t, "queue"));
		/* the members gma-trace prints (user/gma-trace/print_json.c, doc/json.md) */
		avail = num(st, "avail_idx");
		used = num(st, "used_idx");
		cr_assert_eq(avail, num(t, "avail_idx"), "%s q%llu: model avail %llu, ring %llu",
			     str(t, "dev"), num(t, "queue"), avail, num(t, "avail_idx"));
		cr_assert_eq(used, num(t, "used_idx"), "%s q%llu: model used %llu, ring %llu",
			     str(t, "dev"), num(t, "queue"), used, num(t, "used_idx"));
		cr_assert_eq(num(st, "in_flight"), num(t, "in_flight"),
			     "%s q%llu: model in flight %llu, ring %llu", str(t, "dev"),
			     num(t, "queue"), num(st, "in_flight"), num(t, "in_flight"));
		cr_assert_eq(num(st, "in_flight"), (avail - used) & 0xffff);
		/* every queue_stats record says whether its indices are known */
		cr_assert(flag(st, "indices_known"), "%s q%llu: indices not known", str(t, "dev"),
			  num(t, "queue"));
		queues++;
	}
	return queues;
}

void trace_run_cleanup(void)
{
	for (size_t i = 0; i < trace.n; i++)
		json_object_put(trace.v[i]);
	for (size_t i = 0; i < truth.n; i++)
		json_object_put(truth.v[i]);
	trace.n = truth.n = 0;
	unlink(trace_path);
	if (truth_path[0])
		unlink(truth_path);
}

struct json_object *find_chain(__u64 base, __u64 queue, __u64 avail_idx)
{
	for (size_t i = 0; i < trace.n; i++) {
		struct json_object *o = trace.v[i];

		if (is(o, "type", "chain") && num(o, "base") == base && num(o, "queue") == queue &&
		    num(o, "avail_idx") == (avail_idx & 0xffff))
			return o;
	}
	return NULL;
}

bool has_anomaly(struct json_object *o, const char *name)
{
	struct json_object *list;

	if (!json_object_object_get_ex(o, "anomalies", &list))
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (is(json_object_array_get_idx(list, i), "name", name))
			return true;
	return false;
}

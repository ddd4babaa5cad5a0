/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runs the demo VM under `gma-trace rings --json` and loads both sides for comparison: the
 * trace (JSON lines, every line must parse) and the VMM's ground-truth log.
 */
#ifndef GMA_TEST_TRACE_RUN_H
#define GMA_TEST_TRACE_RUN_H

#include <json-c/json.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Lines a JSON file may have. A demo VM traced late has run on while the tracer loaded: a
 * loaded machine's took over 20 000 lines of log first (the cap was 20 000, and the lines
 * past it were dropped in silence: no traced chain was "in the ground truth").
 */
#define MAX_LINES 4000000

struct jlines {
	struct json_object **v;
	size_t n, cap;
};

extern struct jlines trace, truth;
extern char trace_path[64], truth_path[64];

void load_jsonl(const char *path, struct jlines *out, bool strict);
__u64 num(struct json_object *o, const char *key);
const char *str(struct json_object *o, const char *key);
bool is(struct json_object *o, const char *key, const char *value);
/* Whether a JSON array member "anomalies" of o names `name`. */
bool has_anomaly(struct json_object *o, const char *name);
/* The hex bytes gma-trace sampled of one descriptor record, decoded; returns how many. */
size_t desc_bytes(struct json_object *d, __u8 *buf, size_t size);
/*
 * The descriptors gma-trace gave of a chain (g: a "chain" or "attach_chain" record) against
 * the VMM's log of the same chain (t), asserted one by one: address, length, flags, and the
 * bytes sampled of the guest's data buffers, which hold its pattern (demo-abi.h); with
 * snap_len, also that each one's first snap_len bytes (at most) were sampled. Returns how many
 * of the pattern buffers cross DEMO_SLOT2_GPA, the demo's boundary between memslots 1 and 2.
 */
size_t assert_same_descs(struct json_object *t, struct json_object *g, size_t snap_len);

/*
 * Time. A test has one limit, TEST_LIMIT_S: its Criterion timeout (every suite that runs the
 * demo VM declares .timeout = TEST_LIMIT_S). Everything else is derived from it: every wait of
 * the test for a condition (wait_lines, wait_until_deadline), the demo VMM's --seconds safety
 * stop (vmm_seconds) and gma-trace's --duration end by the test's deadline, TEST_MARGIN_S
 * before the limit, counted from the test's start (test_clock_start, its suite's .init): no
 * wait outlives its test, and a test that waited in vain fails saying what it waited for,
 * with time left to say it, instead of being killed by Criterion with "timed out". No run
 * waits for a time: the demo VMM stops on what a test needs (--requests, --until).
 *
 * The limit holds where the tests are slowest: a loaded 2-CPU machine running them in a
 * one-vCPU TCG VM (vmtest) took 138 s for what takes 5 s unloaded, and the longest of these
 * tests takes about 10 s unloaded. It stays below vmtest's 900 s for a whole test binary
 * (tools/vmtest/config VMTEST_TEST_TIMEOUT), so that a test that hangs is named by Criterion
 * rather than killed with its binary.
 */
#define TEST_LIMIT_S 480
/* What a test needs after its last wait: load both logs, compare them, fail with a message. */
#define TEST_MARGIN_S 60
/* How long a test may wait in all, from its start: the limit less the margin. */
#define SAFETY_SECONDS (TEST_LIMIT_S - TEST_MARGIN_S)

/* Starts the test's clock (a suite's .init); else the first wait starts it. */
void test_clock_start(void);
/* Seconds left until the test's deadline (SAFETY_SECONDS after its start), 0 past it. */
double test_seconds_left(void);
/*
 * The demo VMM's --seconds (or gma-trace's --duration): the whole seconds left until the
 * test's deadline, at least 1, as a string (static: used before the next call).
 */
const char *vmm_seconds(void);
/*
 * Polls cond(ctx) every 20 ms until it holds (true) or the test's deadline passes (false).
 * For conditions that need no polling of their own (a tracer's gma_tracer_poll waits itself).
 */
bool wait_until_deadline(bool (*cond)(void *ctx), void *ctx);
/* Chains the guest queues while run_traced_reader_stopped's reader is stopped. */
#define STOPPED_CHAINS 16

/*
 * The demo VM under gma-trace rings --json --completions `extra`, the VMM given vmm_extra,
 * which says when it stops (--requests N and/or --until hostile-done); loads both logs and
 * fails the test if the VMM stopped on its safety limit (the test's deadline) instead.
 */
void run_traced_vmm(const char *extra, const char *vmm_extra);
/* The same until `requests` requests of blk, console and net have completed. */
void run_traced(unsigned int requests, const char *extra);
/* The same, gma-trace stopped (SIGSTOP) while the guest queues STOPPED_CHAINS chains. */
void run_traced_reader_stopped(unsigned int requests, const char *extra);
/* The truth log's exit event says the VMM stopped on its goals ("done"). */
void expect_vmm_done(void);
/*
 * Each queue's model at the end of the trace (queue_stats) against the ring in guest memory
 * as the VMM left it (ring_state): avail, used, in flight, equal queue by queue. Returns the
 * queues compared.
 */
size_t compare_ring_state(void);

/* Runs `cmd` with sh -c in the background (start it with exec to get the pid of the program). */
pid_t spawn_shell(const char *cmd);
/* Whether child pid has exited, leaving it to be waited for. */
bool child_exited(pid_t pid);
/* Waits for pid; its exit status, -1 if it was killed. */
int wait_exit(pid_t pid);
/*
 * The same, until the test's deadline: a process still running then (`what` names it) is
 * killed and fails the test.
 */
int wait_exit_by_deadline(pid_t pid, const char *what);
/* Lines of the file at path that contain needle. */
size_t count_lines(const char *path, const char *needle);
/*
 * Waits until path has n lines containing needle, until the test's deadline, or until process
 * `alive` (if > 0) has exited; whether they came.
 */
bool wait_lines(const char *path, const char *needle, size_t n, pid_t alive);
/* Frees both and removes the files. */
void trace_run_cleanup(void);

/* The traced chain at (base, queue, avail position), or NULL. */
struct json_object *find_chain(__u64 base, __u64 queue, __u64 avail_idx);

#endif /* GMA_TEST_TRACE_RUN_H */

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
 * of the pattern buffers cross guest physical 0x14000, the demo's memory region boundary.
 */
size_t assert_same_descs(struct json_object *t, struct json_object *g, size_t snap_len);

/*
 * No run waits for a time: the demo VMM stops on what a test needs (--requests, --until);
 * this is only its safety limit, and every wait of a test for a condition has the same. A
 * loaded 2-CPU machine running the tests in a one-vCPU TCG VM took 138 s for what takes 5 s
 * unloaded: the limit is far above that, for a hang only.
 */
#define SAFETY_SECONDS 600
#define SAFETY_SECONDS_STR "600" /* the demo VMM's --seconds */
/* Chains the guest queues while run_traced_reader_stopped's reader is stopped. */
#define STOPPED_CHAINS 16

/*
 * The demo VM under gma-trace rings --json --completions `extra`, the VMM given vmm_extra,
 * which says when it stops (--requests N and/or --until hostile-done); loads both logs and
 * fails the test if the VMM stopped on its safety limit instead.
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
/* Waits for pid; its exit status, -1 if it was killed. */
int wait_exit(pid_t pid);
/* Lines of the file at path that contain needle. */
size_t count_lines(const char *path, const char *needle);
/*
 * Waits until path has n lines containing needle, at most SAFETY_SECONDS, or until process
 * `alive` (if > 0) has exited; whether they came.
 */
bool wait_lines(const char *path, const char *needle, size_t n, pid_t alive);
/* Frees both and removes the files. */
void trace_run_cleanup(void);

/* The traced chain at (base, queue, avail position), or NULL. */
struct json_object *find_chain(__u64 base, __u64 queue, __u64 avail_idx);

#endif /* GMA_TEST_TRACE_RUN_H */

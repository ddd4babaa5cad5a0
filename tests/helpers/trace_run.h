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

#define MAX_LINES 20000

struct jlines {
	struct json_object *v[MAX_LINES];
	size_t n;
};

extern struct jlines trace, truth;
extern char trace_path[64], truth_path[64];

void load_jsonl(const char *path, struct jlines *out, bool strict);
__u64 num(struct json_object *o, const char *key);
const char *str(struct json_object *o, const char *key);
bool is(struct json_object *o, const char *key, const char *value);
/* Whether a JSON array member "anomalies" of o names `name`. */
bool has_anomaly(struct json_object *o, const char *name);

/* The demo VM for `seconds`, VMM arguments vmm_extra, under gma-trace rings --json extra. */
void run_traced_vmm(int seconds, const char *extra, const char *vmm_extra);
void run_traced(int seconds, const char *extra);
/* The same, gma-trace stopped (SIGSTOP) for its second second: its ring buffer fills. */
void run_traced_reader_stopped(int seconds, const char *extra);
/* Frees both and removes the files. */
void trace_run_cleanup(void);

/* The traced chain at (base, queue, avail position), or NULL. */
struct json_object *find_chain(__u64 base, __u64 queue, __u64 avail_idx);

#endif /* GMA_TEST_TRACE_RUN_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "demo_vm.h"
#include "trace_run.h"

struct jlines trace, truth;
char trace_path[64], truth_path[64];

/* Parses a file of JSON lines; every non-empty line must parse as one JSON object. */
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
		if (line[0] != '{') {
			cr_assert(!strict, "%s:%zu is not a JSON object: %s", path, lineno, line);
			continue;
		}
		o = json_tokener_parse(line);
		cr_assert(o && json_object_is_type(o, json_type_object), "%s:%zu: bad JSON: %s",
			  path, lineno, line);
		if (out->n < MAX_LINES)
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

/*
 * Runs the demo VM for `seconds` under gma-trace rings --json, the VMM writing its
 * ground-truth log, and loads both.
 */
/*
 * The shell command that runs gma-trace; with stop_reader, gma-trace is stopped (SIGSTOP)
 * from the first second to the second while the VM goes on, so its ring buffer fills
 * whatever the machine's speed.
 */
static void run_traced_cmd(int seconds, const char *extra, const char *vmm_extra, bool stop_reader)
{
	char cmd[1024], trace_cmd[768], *out;
	int fd, status;

	snprintf(trace_path, sizeof(trace_path), "/tmp/gma-rings-trace.XXXXXX");
	snprintf(truth_path, sizeof(truth_path), "/tmp/gma-rings-truth.XXXXXX");
	cr_assert((fd = mkstemp(trace_path)) >= 0);
	close(fd);
	cr_assert((fd = mkstemp(truth_path)) >= 0);
	close(fd);
	snprintf(trace_cmd, sizeof(trace_cmd),
		 GMA_OUTPUT "/gma-trace rings --json --completions %s -- " GMA_OUTPUT
			    "/demo-vmm --log %s --seconds %d %s >%s 2>/dev/null",
		 extra, truth_path, seconds, vmm_extra, trace_path);
	if (stop_reader)
		snprintf(cmd, sizeof(cmd),
			 "%s & p=$!; sleep 1; kill -STOP $p; sleep 1; kill -CONT $p; wait $p",
			 trace_cmd);
	else
		snprintf(cmd, sizeof(cmd), "%s", trace_cmd);
	status = run_capture(cmd, &out);
	free(out);
	cr_assert_eq(status, 0, "%s failed", cmd);
	load_jsonl(trace_path, &trace, true);
	load_jsonl(truth_path, &truth, false);
}

void run_traced_vmm(int seconds, const char *extra, const char *vmm_extra)
{
	run_traced_cmd(seconds, extra, vmm_extra, false);
}

void run_traced(int seconds, const char *extra)
{
	run_traced_vmm(seconds, extra, "");
}

void run_traced_reader_stopped(int seconds, const char *extra)
{
	cr_assert_geq(seconds, 3, "the reader stops from second 1 to 2 of the run");
	run_traced_cmd(seconds, extra, "", true);
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

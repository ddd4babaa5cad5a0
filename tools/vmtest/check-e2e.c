// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The checks of vmtest's real-guest end to end (tools/vmtest/guest-e2e.sh) on gma-trace's JSON
 * lines (rings --json --completions), parsed with json-c: a record's members are found by name
 * whatever their order, and every line that is not a JSON object with a string "type", or a
 * record the check reads that lacks a member or has one of the wrong type, is an error with its
 * file and line number (never skipped).
 *
 * Usage: check-e2e rings WHO RINGS.txt TRACE.jsonl
 *   Every queue's indices in the trace's model against guest memory: the "QMP-RING ..." lines
 *   of qmp-rings (ring addresses from QMP, avail and used index read by QEMU from guest memory
 *   with the disk stalled) against the trace's "queue_stats" records, joined by the descriptor
 *   table's address. Each queue QEMU lists must be in the trace, with the same avail and used
 *   index and in_flight equal to their difference. Prints "E2E-RINGS WHO: ..." lines.
 *
 *        check-e2e health WHO TRACE.jsonl
 *   The health verdicts ("verdict" of each "queue_stats") of the nested guest whose disk
 *   stalled (blkdebug suspends its reads) while the guest kept reading it: the blk queue
 *   (device_id 2) must be judged device-not-consuming, every other queue idle or healthy, or
 *   unknown if it was imported with chains in flight (attached late: rx buffers posted before
 *   the trace, their age and kind not known). The tracer must know where each queue's notifies
 *   land (evidence.notify_observable: a late attach reads each virtio-pci function through
 *   QMP), and the blk queue's chains made available while traced came with notifies (QEMU's
 *   virtio-blk, idle between the trickle's reads, asks for each). Prints "E2E-HEALTH WHO: ...".
 *
 *        check-e2e blk WRITE_COUNT READ_BYTES TRACE.jsonl
 *   The trace against the guest's workload (tools/vmtest/guest-init): every chain on a
 *   virtio-blk queue decodes as a well-formed request with no anomaly, the OUT requests are
 *   exactly the guest's WRITE_COUNT 4 KiB direct writes, the IN requests carry at least
 *   READ_BYTES in 64 KiB requests, no record was lost (summary: drops, bad_records 0), and the
 *   only anomaly events are the blk queue's "stuck" once guest-e2e.sh stalls the disk on purpose.
 *   Prints "E2E-CHECK ..." lines.
 *
 *        check-e2e late-health healthy|hung-disk WHO RINGS.txt HEALTH.jsonl STATUS
 *   A new `gma-trace health --json` attached to the running nested guest (the operator who
 *   arrives after the hang), its "queue_health" records and exit STATUS against QEMU's queues
 *   (qmp-rings' QMP-RING lines, read once health had ended), joined by device (QEMU's name,
 *   the record's device_id) and queue index. Every queue QEMU lists is judged once, none it
 *   does not list. healthy (the guest's trickle runs): exit 0, every queue idle or healthy (not
 *   unknown, receive queues included). hung-disk (blkdebug stalled a read before the attach):
 *   exit 2; the blk queue QEMU shows in flight, whose request QEMU took (last_avail_idx at its
 *   avail index: the backend holds it), stuck as device-not-consuming or device-slow; every
 *   other queue idle or healthy; the stalled queue's evidence.device_view (QEMU's view as
 *   health read it) shows the device took the request: last_avail_idx at the driver's avail
 *   index, inuse at least 1. A verdict must agree with "stuck"; "kind" is "request" (blk, and
 *   the odd queues, tx) or "receive" (the even queues of net and virtio-serial; net's control
 *   queue, the last of an odd count, either). Prints "E2E-LATE-HEALTH WHO: ..." lines.
 *
 * Exit status: 0 all hold, 1 a check failed or an input is malformed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define FINDINGS_SHOWN 20 /* blk: findings printed; all are counted */
#define RINGS_MAX 1024
#define DEVICES_MAX 64
#define KINDS_MAX 16

static const char *prefix; /* "E2E-RINGS WHO: ", "E2E-HEALTH WHO: ", "E2E-CHECK " */
static unsigned int nbad; /* findings, malformed lines among them */

/* A finding: counted; the first FINDINGS_SHOWN printed as "<prefix>bad: ...". */
static void __attribute__((format(printf, 1, 2))) bad(const char *fmt, ...)
{
	va_list ap;

	if (++nbad > FINDINGS_SHOWN)
		return;
	printf("%sbad: ", prefix);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* One line of an input being read: where it is, for the messages. */
struct where {
	const char *file;
	unsigned long line;
};

/* A member of a record, of the type wanted; NULL (and a finding) when it is missing or not. */
static json_object *member(const struct where *w, json_object *o, const char *type, const char *key,
			   json_type want)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v)) {
		bad("%s:%lu: a \"%s\" record without \"%s\"", w->file, w->line, type, key);
		return NULL;
	}
	if (!json_object_is_type(v, want)) {
		bad("%s:%lu: \"%s\" of a \"%s\" record is a %s, not a %s", w->file, w->line, key,
		    type, json_type_to_name(json_object_get_type(v)), json_type_to_name(want));
		return NULL;
	}
	return v;
}

/* An unsigned integer member; false (and a finding) when missing, of another type, negative. */
static bool u64_member(const struct where *w, json_object *o, const char *type, const char *key,
		       uint64_t *out)
{
	json_object *v = member(w, o, type, key, json_type_int);

	if (!v)
		return false;
	/* json-c holds integers past INT64_MAX as unsigned: get_int64 then saturates */
	if (json_object_get_int64(v) < 0) {
		bad("%s:%lu: \"%s\" of a \"%s\" record is negative: %" PRId64, w->file, w->line,
		    key, type, json_object_get_int64(v));
		return false;
	}
	*out = json_object_get_uint64(v);
	return true;
}

static const char *str_member(const struct where *w, json_object *o, const char *type,
			      const char *key)
{
	json_object *v = member(w, o, type, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

static bool bool_member(const struct where *w, json_object *o, const char *type, const char *key,
			bool *out)
{
	json_object *v = member(w, o, type, key, json_type_boolean);

	if (v)
		*out = json_object_get_boolean(v);
	return v;
}

/*
 * Calls fn for each record of a JSON-lines file, with its "type". A line that does not parse
 * as one JSON object (all of the line: nothing may follow it) with a string "type" is a
 * finding, and so is a file that cannot be read.
 */
static void each_record(const char *file,
			void (*fn)(const struct where *, json_object *, const char *, void *),
			void *ctx)
{
	struct where w = { file, 0 };
	FILE *f = fopen(file, "r");
	json_tokener *tok = json_tokener_new();
	char *line = NULL;
	size_t size = 0;
	ssize_t n;

	if (!f || !tok) {
		bad("%s: %s", file, f ? "json_tokener_new failed" : strerror(errno));
		if (f)
			fclose(f);
		json_tokener_free(tok);
		return;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	while ((n = getline(&line, &size, f)) >= 0) {
		enum json_tokener_error err;
		json_object *o, *type;

		w.line++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, line, (int)n);
		err = json_tokener_get_error(tok);
		if (err == json_tokener_continue)
			err = json_tokener_error_parse_eof; /* the line ended inside the object */
		if (!o || err != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != (size_t)n) {
			bad("%s:%lu: not one JSON object (%s): %.120s", file, w.line,
			    o ? "text after it" : json_tokener_error_desc(err), line);
		} else if (!json_object_is_type(o, json_type_object)) {
			bad("%s:%lu: a JSON %s, not an object: %.120s", file, w.line,
			    json_type_to_name(json_object_get_type(o)), line);
		} else if (!json_object_object_get_ex(o, "type", &type) ||
			   !json_object_is_type(type, json_type_string)) {
			bad("%s:%lu: a record without a string \"type\": %.120s", file, w.line,
			    line);
		} else {
			fn(&w, o, json_object_get_string(type), ctx);
		}
		json_object_put(o);
	}
	if (ferror(f))
		bad("%s: read error after line %lu: %s", file, w.line, strerror(errno));
	free(line);
	fclose(f);
	json_tokener_free(tok);
}

/* --- rings ------------------------------------------------------------------------------- */

struct ring {
	char name[160]; /* "DEVICE queue N" */
	char dev[64]; /* QEMU's name of the device: "virtio-blk" */
	uint64_t queue, desc, avail, used;
	uint64_t last_avail; /* the device's own view (QMP), when has_last_avail */
	bool has_last_avail;
	bool seen;
	unsigned int judged; /* late-health: its queue_health records */
};

struct rings {
	const char *who;
	struct ring r[RINGS_MAX];
	size_t n;
};

/* The value of " key=VALUE" in a QMP-RING line, copied to buf; false when absent. */
static bool qmp_field(const char *line, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = line;

	while ((p = strchr(p, ' '))) {
		p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t len = strcspn(p + klen + 1, " ");

			if (len >= size)
				return false;
			memcpy(buf, p + klen + 1, len);
			buf[len] = 0;
			return true;
		}
	}
	return false;
}

/* A number of a QMP-RING line (0x... hex, or decimal); false when absent or not a number. */
static bool qmp_num(const char *line, const char *key, uint64_t *out)
{
	char buf[32], *end;

	if (!qmp_field(line, key, buf, sizeof(buf)) || !buf[0] || buf[0] == '-')
		return false;
	errno = 0;
	*out = strtoull(buf, &end, 0);
	return !*end && !errno;
}

static void read_qmp_rings(const char *file, struct rings *rs)
{
	FILE *f = fopen(file, "r");
	char *line = NULL, dev[64];
	unsigned long lineno = 0;
	size_t size = 0;
	ssize_t n;

	if (!f) {
		bad("%s: %s", file, strerror(errno));
		return;
	}
	while ((n = getline(&line, &size, f)) >= 0) {
		struct ring *r = &rs->r[rs->n];

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		if (strncmp(line, "QMP-RING ", 9)) {
			bad("%s:%lu: not a QMP-RING line: %.120s", file, lineno, line);
			continue;
		}
		if (rs->n == RINGS_MAX) {
			bad("%s:%lu: more than %d queues", file, lineno, RINGS_MAX);
			break;
		}
		memset(r, 0, sizeof(*r));
		if (!qmp_field(line, "device", dev, sizeof(dev)) ||
		    !qmp_num(line, "queue", &r->queue) || !qmp_num(line, "desc", &r->desc) ||
		    !qmp_num(line, "avail_idx", &r->avail) ||
		    !qmp_num(line, "used_idx", &r->used) || r->avail > 0xffff || r->used > 0xffff) {
			bad("%s:%lu: a QMP-RING line without device, queue, desc, avail_idx and "
			    "used_idx (indices 0 to 65535): %.160s",
			    file, lineno, line);
			continue;
		}
		/* optional (QEMU's schema); present, it must be an index */
		if (strstr(line, " last_avail_idx=")) {
			if (!qmp_num(line, "last_avail_idx", &r->last_avail) ||
			    r->last_avail > 0xffff) {
				bad("%s:%lu: last_avail_idx is not an index (0 to 65535): %.160s",
				    file, lineno, line);
				continue;
			}
			r->has_last_avail = true;
		}
		snprintf(r->dev, sizeof(r->dev), "%s", dev);
		snprintf(r->name, sizeof(r->name), "%s queue %" PRIu64, dev, r->queue);
		rs->n++;
	}
	free(line);
	fclose(f);
}

static void rings_record(const struct where *w, json_object *o, const char *type, void *ctx)
{
	struct rings *rs = ctx;
	uint64_t desc, a, u, fl;
	struct ring *r = NULL;

	if (strcmp(type, "queue_stats"))
		return;
	if (!u64_member(w, o, type, "desc", &desc))
		return;
	for (size_t i = 0; i < rs->n && !r; i++)
		if (rs->r[i].desc == desc)
			r = &rs->r[i];
	if (!r)
		return; /* a queue QEMU does not list as set up (e.g. reset by the driver) */
	if (!u64_member(w, o, type, "avail_idx", &a) || !u64_member(w, o, type, "used_idx", &u) ||
	    !u64_member(w, o, type, "in_flight", &fl))
		return;
	r->seen = true;
	bool ok = a == r->avail && u == r->used && fl == ((a - u + 65536) % 65536);
	printf("E2E-RINGS %s: %s: gma-trace avail %" PRIu64 " used %" PRIu64 " in_flight %" PRIu64
	       ", guest memory avail %" PRIu64 " used %" PRIu64 "%s\n",
	       rs->who, r->name, a, u, fl, r->avail, r->used, ok ? "" : "  <- differs");
	if (!ok)
		nbad++;
}

static int check_rings(const char *who, const char *rings_file, const char *trace)
{
	static struct rings rs;
	static char pfx[128];

	snprintf(pfx, sizeof(pfx), "E2E-RINGS %s: ", who);
	prefix = pfx;
	rs.who = who;
	read_qmp_rings(rings_file, &rs);
	if (!rs.n) {
		printf("E2E-RINGS %s: bad: QEMU listed no queue set up by the driver (%s)\n", who,
		       rings_file);
		nbad++;
	}
	each_record(trace, rings_record, &rs);
	for (size_t i = 0; i < rs.n; i++)
		if (!rs.r[i].seen)
			bad("%s is missing from gma-trace's queue_stats", rs.r[i].name);
	printf("E2E-RINGS %s: %s: %zu queues compared with guest memory\n", who,
	       nbad ? "FAIL" : "ok", rs.n);
	return nbad ? 1 : 0;
}

/* --- health ------------------------------------------------------------------------------ */

struct health {
	const char *who;
	unsigned int queues, blk;
};

static void health_record(const struct where *w, json_object *o, const char *type, void *ctx)
{
	uint64_t dev, queue, in_flight_at_attach, chains, notifies;
	struct health *h = ctx;
	const char *v, *addr;
	json_object *ev;
	bool ok, observable;
	char q[96];

	if (strcmp(type, "queue_stats"))
		return;
	v = str_member(w, o, type, "verdict");
	addr = str_member(w, o, type, "address");
	ev = member(w, o, type, "evidence", json_type_object);
	if (!v || !addr || !ev || !u64_member(w, o, type, "device_id", &dev) ||
	    !u64_member(w, o, type, "queue", &queue) ||
	    !u64_member(w, o, type, "in_flight_at_attach", &in_flight_at_attach) ||
	    !u64_member(w, o, type, "chains", &chains) ||
	    !u64_member(w, o, type, "notifies", &notifies) ||
	    !bool_member(w, ev, "queue_stats evidence", "notify_observable", &observable))
		return;
	snprintf(q, sizeof(q), "device_id %" PRIu64 " queue %" PRIu64 " (%s)", dev, queue, addr);
	h->queues++;
	if (dev == 2) {
		h->blk++;
		ok = !strcmp(v, "device-not-consuming");
	} else {
		ok = !strcmp(v, "idle") || !strcmp(v, "healthy") ||
		     (!strcmp(v, "unknown") && in_flight_at_attach > 0);
	}
	printf("E2E-HEALTH %s: %s: %s%s\n", h->who, q, v, ok ? "" : "  <- not expected");
	if (!ok)
		nbad++;
	if (!observable) {
		printf("E2E-HEALTH %s: %s: where its notifies land is not known  <- not expected\n",
		       h->who, q);
		nbad++;
	}
	/*
	 * chains are those made available while traced (the ones in flight at the attach are
	 * "attach_chain" records): the first after a quiet spell was notified
	 */
	if (dev == 2 && chains > 0 && notifies == 0) {
		printf("E2E-HEALTH %s: %s: %" PRIu64
		       " chains and no notify seen  <- not expected\n",
		       h->who, q, chains);
		nbad++;
	}
}

static int check_health(const char *who, const char *trace)
{
	static char pfx[128];
	struct health h = { who, 0, 0 };

	snprintf(pfx, sizeof(pfx), "E2E-HEALTH %s: ", who);
	prefix = pfx;
	each_record(trace, health_record, &h);
	if (!h.blk)
		bad("no verdict for the blk queue");
	printf("E2E-HEALTH %s: %s: %u queues judged\n", who, nbad ? "FAIL" : "ok", h.queues);
	return nbad ? 1 : 0;
}

/* --- blk --------------------------------------------------------------------------------- */

struct count {
	char name[64];
	uint64_t n, bytes;
};

struct blk {
	struct count devices[DEVICES_MAX], kinds[KINDS_MAX]; /* chains per device, requests */
	size_t ndevices, nkinds;
	uint64_t blk_chains, out4k, in64k, completions, stuck, queues;
	bool summary;
	regex_t rw, other;
};

/* The counter NAME of a table, made at its first use; NULL when the table is full. */
static struct count *counter(struct count *t, size_t *n, size_t max, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	if (*n == max)
		return NULL;
	snprintf(t[*n].name, sizeof(t[*n].name), "%s", name);
	return &t[(*n)++];
}

static void blk_chain(const struct where *w, json_object *o, const char *type, struct blk *b)
{
	const char *dev = str_member(w, o, type, "device"), *s;
	json_object *anomalies;
	struct count *c;
	regmatch_t m[3];

	if (!dev)
		return;
	c = counter(b->devices, &b->ndevices, DEVICES_MAX, dev);
	if (!c) {
		bad("%s:%lu: more than %d devices", w->file, w->line, DEVICES_MAX);
		return;
	}
	c->n++;
	if (strcmp(dev, "virtio-blk"))
		return;
	b->blk_chains++;
	s = str_member(w, o, type, "summary");
	anomalies = member(w, o, type, "anomalies", json_type_array);
	if (!s || !anomalies)
		return;
	if (json_object_array_length(anomalies))
		bad("%s:%lu: chain with anomalies: %s", w->file, w->line,
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	/* Linux sets an I/O priority class in the header: "... ioprio 16388" may follow */
	if (!regexec(&b->rw, s, 3, m, 0)) {
		bool out = s[m[1].rm_so] == 'O';
		uint64_t len = strtoull(s + m[2].rm_so, NULL, 10);

		c = counter(b->kinds, &b->nkinds, KINDS_MAX, out ? "OUT" : "IN");
		c->n++;
		c->bytes += len;
		b->out4k += out && len == 4096;
		b->in64k += !out && len == 65536;
	} else if (!regexec(&b->other, s, 2, m, 0)) {
		char kind[32];

		snprintf(kind, sizeof(kind), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
			 s + m[1].rm_so);
		counter(b->kinds, &b->nkinds, KINDS_MAX, kind)->n++;
	} else {
		bad("%s:%lu: chain does not decode as a virtio-blk request: \"%s\"", w->file,
		    w->line, s);
	}
}

/*
 * The blk queue stuck, once guest-e2e.sh stalls the disk on purpose: expected and counted. It
 * is a queue's event (no "head"), on device_id 2's queue 0, with "stuck" its only anomaly.
 */
static bool blk_stuck(const struct where *w, json_object *o, const char *type)
{
	json_object *anomalies, *a, *name, *reason, *head;
	uint64_t dev, queue;

	anomalies = member(w, o, type, "anomalies", json_type_array);
	if (!anomalies || !str_member(w, o, type, "address") ||
	    !u64_member(w, o, type, "device_id", &dev) || !u64_member(w, o, type, "queue", &queue))
		return true; /* malformed: counted already */
	if (dev != 2 || queue != 0 || json_object_object_get_ex(o, "head", &head) ||
	    json_object_array_length(anomalies) != 1)
		return false;
	a = json_object_array_get_idx(anomalies, 0);
	return json_object_is_type(a, json_type_object) &&
	       json_object_object_get_ex(a, "name", &name) &&
	       json_object_is_type(name, json_type_string) &&
	       !strcmp(json_object_get_string(name), "stuck") &&
	       json_object_object_get_ex(a, "reason", &reason) &&
	       json_object_is_type(reason, json_type_string);
}

static void blk_record(const struct where *w, json_object *o, const char *type, void *ctx)
{
	struct blk *b = ctx;
	uint64_t v;

	if (!strcmp(type, "chain")) {
		blk_chain(w, o, type, b);
	} else if (!strcmp(type, "completion")) {
		b->completions++;
	} else if (!strcmp(type, "anomaly")) {
		if (blk_stuck(w, o, type))
			b->stuck++;
		else
			bad("%s:%lu: anomaly event: %s", w->file, w->line,
			    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	} else if (!strcmp(type, "queue")) {
		b->queues++;
	} else if (!strcmp(type, "summary")) {
		b->summary = true;
		if (u64_member(w, o, type, "drops", &v) && v)
			bad("%s:%lu: %" PRIu64 " records dropped", w->file, w->line, v);
		if (u64_member(w, o, type, "bad_records", &v) && v)
			bad("%s:%lu: %" PRIu64 " bad records", w->file, w->line, v);
	}
}

static bool parse_u64_arg(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s && *s != '-' && !*end && !errno;
}

static int check_blk(const char *write_count_s, const char *read_bytes_s, const char *trace)
{
	static struct blk b;
	uint64_t write_count, read_bytes, out_bytes = 0, in_bytes = 0;

	prefix = "E2E-CHECK ";
	if (!parse_u64_arg(write_count_s, &write_count) ||
	    !parse_u64_arg(read_bytes_s, &read_bytes)) {
		fprintf(stderr, "check-e2e blk: WRITE_COUNT and READ_BYTES are numbers\n");
		return 2;
	}
	if (regcomp(&b.rw, "^(IN|OUT) sector [0-9]+ len ([0-9]+)( ioprio [0-9]+)?$",
		    REG_EXTENDED) ||
	    regcomp(&b.other, "^(FLUSH|GET_ID|GET_LIFETIME|DISCARD|WRITE_ZEROES|SECURE_ERASE)( |$)",
		    REG_EXTENDED)) {
		fprintf(stderr, "check-e2e blk: regcomp failed\n");
		return 2;
	}
	each_record(trace, blk_record, &b);
	for (size_t i = 0; i < b.ndevices; i++)
		printf("E2E-CHECK chains %s %" PRIu64 "\n", b.devices[i].name, b.devices[i].n);
	for (size_t i = 0; i < b.nkinds; i++) {
		const struct count *c = &b.kinds[i];
		bool rw = !strcmp(c->name, "IN") || !strcmp(c->name, "OUT");

		printf("E2E-CHECK blk %s requests %" PRIu64, c->name, c->n);
		if (rw)
			printf(" bytes %" PRIu64, c->bytes);
		putchar('\n');
		if (!strcmp(c->name, "OUT"))
			out_bytes = c->bytes;
		if (!strcmp(c->name, "IN"))
			in_bytes = c->bytes;
	}
	printf("E2E-CHECK queues %" PRIu64 " completions %" PRIu64 " stuck %" PRIu64 "\n", b.queues,
	       b.completions, b.stuck);
	if (!b.summary)
		bad("no summary line (gma-trace did not finish)");
	if (!b.blk_chains)
		bad("no virtio-blk chain traced");
	if (b.out4k != write_count || out_bytes != write_count * 4096)
		bad("OUT: %" PRIu64 " requests of 4096 bytes, %" PRIu64 " bytes; the guest wrote "
		    "%" PRIu64 " x 4096",
		    b.out4k, out_bytes, write_count);
	if (in_bytes < read_bytes || b.in64k < read_bytes / 65536)
		bad("IN: %" PRIu64 " bytes, %" PRIu64 " requests of 65536; the guest read %" PRIu64
		    " bytes in 64 KiB requests",
		    in_bytes, b.in64k, read_bytes);
	regfree(&b.rw);
	regfree(&b.other);
	if (nbad) {
		printf("E2E-CHECK FAIL %u finding(s)\n", nbad);
		return 1;
	}
	printf("E2E-CHECK ok\n");
	return 0;
}

/* --- late-health ------------------------------------------------------------------------ */

/* The VIRTIO device ids of QEMU's device names (QMP-RING device=): the nested guest's. */
static const struct {
	const char *name;
	uint64_t id;
} virtio_ids[] = {
	{ "virtio-net", 1 },
	{ "virtio-blk", 2 },
	{ "virtio-serial", 3 }, /* VIRTIO_ID_CONSOLE */
};

/* The verdicts that are a queue stuck, and those that are not (gma-trace(8)). */
static const char *const stuck_verdicts[] = {
	"driver-not-notifying", "device-not-taking",	  "device-not-consuming",
	"device-slow",		"completed-no-interrupt", "driver-not-reaping",
	"completed-unreaped",	"driver-not-refilling",
};
static const char *const unstuck_verdicts[] = { "unknown", "idle", "healthy", "guest-stopped" };

static bool among(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

struct late {
	bool hung; /* hung-disk: the blk queue's read stalled (blkdebug) before the attach */
	struct rings rs; /* QEMU's view of the queues, read after gma-trace health ended */
	struct count verdicts[KINDS_MAX];
	size_t nverdicts;
	unsigned int records, stuck;
};

/* QEMU's name of the device of id, NULL if it is none of the nested guest's. */
static const char *device_name(uint64_t id)
{
	for (size_t i = 0; i < sizeof(virtio_ids) / sizeof(virtio_ids[0]); i++)
		if (virtio_ids[i].id == id)
			return virtio_ids[i].name;
	return NULL;
}

/* The ring QEMU lists as queue of the device named dev; NULL if none. */
static struct ring *qemu_ring(struct rings *rs, const char *dev, uint64_t queue)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!strcmp(rs->r[i].dev, dev) && rs->r[i].queue == queue)
			return &rs->r[i];
	return NULL;
}

/*
 * The kind of a queue, from its device and index: blk queues carry requests; net and
 * virtio-serial alternate receive (even: rx, the control rx of virtio-serial among them) and
 * request (odd: tx). NULL, not judged: net's control queue, the last of an odd count.
 */
static const char *queue_kind(const struct rings *rs, const struct ring *r)
{
	size_t n = 0;

	if (!strcmp(r->dev, "virtio-blk"))
		return "request";
	for (size_t i = 0; i < rs->n; i++)
		n += !strcmp(rs->r[i].dev, r->dev);
	if (!strcmp(r->dev, "virtio-net") && n % 2 && r->queue == n - 1)
		return NULL;
	return r->queue % 2 ? "request" : "receive";
}

/* The blk queue whose read blkdebug stalled: QEMU shows it in flight. */
static bool stalled(const struct late *l, const struct ring *r)
{
	return l->hung && !strcmp(r->dev, "virtio-blk") && r->avail != r->used;
}

/* The device's own view of a queue: evidence.device_view (health --qmp asks QEMU). */
struct device_view {
	bool present;
	uint64_t last_avail, inuse;
};

/* Reads the record's device view, if it has one; false (and a finding) when malformed. */
static bool device_view(const struct where *w, json_object *o, const char *type,
			struct device_view *dv)
{
	json_object *ev = member(w, o, type, "evidence", json_type_object), *v;
	uint64_t ts, used;

	dv->present = false;
	if (!ev)
		return false;
	if (!json_object_object_get_ex(ev, "device_view", &v))
		return true;
	v = member(w, ev, "queue_health evidence", "device_view", json_type_object);
	if (!v || !u64_member(w, v, "device_view", "ts_ns", &ts) ||
	    !u64_member(w, v, "device_view", "last_avail_idx", &dv->last_avail) ||
	    !u64_member(w, v, "device_view", "used_idx", &used) ||
	    !u64_member(w, v, "device_view", "inuse", &dv->inuse))
		return false;
	dv->present = true;
	return true;
}

static void late_record(const struct where *w, json_object *o, const char *type, void *ctx)
{
	struct late *l = ctx;
	const char *v, *dev, *kind = NULL, *want_kind = NULL, *addr = NULL, *want;
	struct device_view dv;
	uint64_t id, queue;
	struct count *c;
	struct ring *r;
	json_object *m;
	bool stuck, ok;
	char q[192];

	if (strcmp(type, "queue_health"))
		return;
	l->records++;
	v = str_member(w, o, type, "verdict");
	if (!v || !bool_member(w, o, type, "stuck", &stuck) ||
	    !u64_member(w, o, type, "device_id", &id) || !u64_member(w, o, type, "queue", &queue))
		return;
	kind = str_member(w, o, type, "kind");
	if (!kind || !device_view(w, o, type, &dv))
		return;
	/* the address, where the record has it: for the messages */
	if (json_object_object_get_ex(o, "address", &m) &&
	    !(addr = str_member(w, o, type, "address")))
		return;
	dev = device_name(id);
	if (dev)
		snprintf(q, sizeof(q), "%s queue %" PRIu64 " (%s)", dev, queue, addr ? addr : "?");
	else
		snprintf(q, sizeof(q), "device_id %" PRIu64 " queue %" PRIu64 " (%s)", id, queue,
			 addr ? addr : "?");
	c = counter(l->verdicts, &l->nverdicts, KINDS_MAX, v);
	if (c)
		c->n++;
	l->stuck += stuck;
	printf("%s%s: %s %s%s\n", prefix, q, kind, v, stuck ? " (stuck)" : "");
	if ((among(v, stuck_verdicts, sizeof(stuck_verdicts) / sizeof(stuck_verdicts[0])) &&
	     !stuck) ||
	    (among(v, unstuck_verdicts, sizeof(unstuck_verdicts) / sizeof(unstuck_verdicts[0])) &&
	     stuck))
		bad("%s:%lu: %s: verdict %s with \"stuck\" %s", w->file, w->line, q, v,
		    stuck ? "true" : "false");
	if (strcmp(kind, "request") && strcmp(kind, "receive"))
		bad("%s:%lu: %s: kind \"%s\" is neither request nor receive", w->file, w->line, q,
		    kind);
	r = dev ? qemu_ring(&l->rs, dev, queue) : NULL;
	if (!r) {
		bad("%s:%lu: %s: a queue QEMU does not list (x-query-virtio)", w->file, w->line, q);
		return;
	}
	if (++r->judged == 2)
		bad("%s:%lu: %s: judged twice", w->file, w->line, q);
	want_kind = queue_kind(&l->rs, r);
	if (want_kind && strcmp(kind, want_kind))
		bad("%s:%lu: %s: kind %s, wanted %s", w->file, w->line, q, kind, want_kind);
	if (stalled(l, r)) {
		ok = stuck && (!strcmp(v, "device-not-consuming") || !strcmp(v, "device-slow"));
		want = "stuck, device-not-consuming or device-slow (QEMU took the request, its "
		       "backend is stalled)";
	} else {
		ok = !stuck && (!strcmp(v, "idle") || !strcmp(v, "healthy"));
		want = "idle or healthy";
	}
	if (!ok)
		bad("%s:%lu: %s: %s%s; wanted %s", w->file, w->line, q, v, stuck ? " (stuck)" : "",
		    want);
	/*
	 * The device-side evidence of the stalled request: QEMU's view, as health read it, has
	 * the device's next avail entry at the driver's avail index (it took every request) and
	 * holds at least one (the stalled read).
	 */
	if (!stalled(l, r))
		return;
	if (!dv.present)
		bad("%s:%lu: %s: no evidence.device_view: the device's own view (QMP) is missing",
		    w->file, w->line, q);
	else if (dv.last_avail != r->avail || !dv.inuse)
		bad("%s:%lu: %s: the device view does not show the device took the request "
		    "(last_avail_idx %" PRIu64 ", inuse %" PRIu64
		    "; the driver's avail_idx %" PRIu64 ")",
		    w->file, w->line, q, dv.last_avail, dv.inuse, r->avail);
	else
		printf("%s%s: the device took it (device view: last_avail_idx %" PRIu64
		       ", inuse %" PRIu64 ")\n",
		       prefix, q, dv.last_avail, dv.inuse);
}

static int check_late_health(const char *mode, const char *who, const char *rings_file,
			     const char *trace, const char *status_s)
{
	static struct late l;
	static char pfx[128];
	uint64_t status;
	unsigned int want_status, stalls = 0;

	if ((strcmp(mode, "healthy") && strcmp(mode, "hung-disk")) ||
	    !parse_u64_arg(status_s, &status)) {
		fprintf(stderr, "check-e2e late-health: MODE is healthy or hung-disk, STATUS a "
				"number\n");
		return 2;
	}
	snprintf(pfx, sizeof(pfx), "E2E-LATE-HEALTH %s: ", who);
	prefix = pfx;
	l.hung = !strcmp(mode, "hung-disk");
	want_status = l.hung ? 2 : 0;
	read_qmp_rings(rings_file, &l.rs);
	if (!l.rs.n)
		bad("QEMU listed no queue set up by the driver (%s)", rings_file);
	for (size_t i = 0; i < l.rs.n; i++) {
		const struct ring *r = &l.rs.r[i];
		bool known = false;

		for (size_t k = 0; k < sizeof(virtio_ids) / sizeof(virtio_ids[0]); k++)
			known |= !strcmp(virtio_ids[k].name, r->dev);
		if (!known)
			bad("%s: a device check-e2e does not know", r->name);
		if (qemu_ring(&l.rs, r->dev, r->queue) != r)
			bad("%s: listed twice by QEMU (two devices of a kind: the check joins by "
			    "device and queue)",
			    r->name);
	}
	each_record(trace, late_record, &l);
	if (!l.records)
		bad("no queue_health record in %s", trace);
	for (size_t i = 0; i < l.rs.n; i++) {
		const struct ring *r = &l.rs.r[i];

		if (!r->judged)
			bad("%s: a queue QEMU lists, with no verdict", r->name);
		if (!stalled(&l, r))
			continue;
		stalls++;
		/* the premise: the device took the request (its backend holds it), not the ring */
		if (!r->has_last_avail)
			bad("%s: QEMU gave no last_avail_idx: whether it took the stalled request "
			    "is not known",
			    r->name);
		else if (r->last_avail != r->avail)
			bad("%s: QEMU has not taken the stalled request (last_avail_idx %" PRIu64
			    ", avail_idx %" PRIu64 "): not the device-side stall checked here",
			    r->name, r->last_avail, r->avail);
	}
	if (l.hung && !stalls)
		bad("QEMU shows no virtio-blk request in flight (%s): the disk did not stall",
		    rings_file);
	if (status != want_status)
		bad("gma-trace health exited with status %" PRIu64 ", wanted %u (%s), with %u "
		    "queue(s) stuck",
		    status, want_status, l.hung ? "a queue stuck" : "no queue stuck", l.stuck);
	if (nbad)
		printf("%sFAIL: %u finding(s); ", prefix, nbad);
	else
		printf("%sok: ", prefix);
	printf("exit %" PRIu64 ", %u queues judged, %zu listed by QEMU (", status, l.records,
	       l.rs.n);
	for (size_t i = 0; i < l.nverdicts; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", l.verdicts[i].name, l.verdicts[i].n);
	printf(")\n");
	return nbad ? 1 : 0;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc == 5 && !strcmp(argv[1], "rings")) {
		rc = check_rings(argv[2], argv[3], argv[4]);
	} else if (argc == 4 && !strcmp(argv[1], "health")) {
		rc = check_health(argv[2], argv[3]);
	} else if (argc == 5 && !strcmp(argv[1], "blk")) {
		rc = check_blk(argv[2], argv[3], argv[4]);
	} else if (argc == 7 && !strcmp(argv[1], "late-health")) {
		rc = check_late_health(argv[2], argv[3], argv[4], argv[5], argv[6]);
	} else {
		fprintf(stderr, "usage: check-e2e rings WHO RINGS.txt TRACE.jsonl\n"
				"       check-e2e health WHO TRACE.jsonl\n"
				"       check-e2e blk WRITE_COUNT READ_BYTES TRACE.jsonl\n"
				"       check-e2e late-health healthy|hung-disk WHO RINGS.txt "
				"HEALTH.jsonl STATUS\n");
		return 2;
	}
	if (fflush(stdout)) {
		perror("check-e2e: stdout");
		return 1;
	}
	return rc;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --queue SPEC, the layout of a queue set up before the trace began (rings, ring, health):
 * its keys (base or pci, index, num, desc, driver, device, type, legacy), read through a
 * table of each key's reader, its checks and its ring-area sizes, so that every error names
 * the key, the value and what is allowed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gma-trace.h"

/* "[0000:]BB:DD.F" as a device key (GMA_PCI_BASE); -EINVAL when it is not one. */
static int parse_pci_address(const char *s, __u64 *key)
{
	unsigned int dom = 0, bus, dev, fn;
	char tail;

	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) != 4 &&
	    (dom = 0, sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3))
		return -EINVAL;
	if (dom || bus > 0xff || dev > 0x1f || fn > 7 || s[0] == '-')
		return -EINVAL;
	*key = GMA_PCI_BASE(bus, dev, fn);
	return 0;
}

/* The device IDs gma_virtio_device_name() knows, as "1-13 16-41". */
static void known_device_ids(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (__u32 id = 1; id < 256 && off < len; id++) {
		__u32 last = id;

		if (!gma_virtio_device_name(id))
			continue;
		while (last < 255 && gma_virtio_device_name(last + 1))
			last++;
		off += snprintf(buf + off, len - off, last > id ? "%s%u-%u" : "%s%u",
				off ? " " : "", id, last);
		id = last;
	}
}

/* Whether [addr, addr + len) wraps past 2^64 (len > 0). */
static bool area_wraps(__u64 addr, __u64 len)
{
	return addr + (len - 1) < addr;
}

/* The keys of --queue, in the order of QUEUE_SPEC_SYNTAX. */
enum { QK_BASE, QK_INDEX, QK_NUM, QK_DESC, QK_DRIVER, QK_DEVICE, QK_TYPE, QK_PCI, QK_N };

/* What a --queue gave: each key's value, and its text as given for the messages. */
struct queue_values {
	unsigned int have; /* 1 << QK_* for each key given */
	__u64 v[QK_N];
	const char *txt[QK_N];
};

/*
 * How each key of --queue is read and checked (queue_keys[], below the functions it names).
 * The checks run once every key is read, in the table's order: the order of their errors.
 */
struct queue_key {
	const char *name;
	const char *alias; /* another name accepted */
	bool optional;
	/* val into *v: 0, or -EINVAL with why; key is the name as given. NULL: read_number() */
	int (*read)(const char *key, const char *val, __u64 *v, char *why, size_t why_len);
	/* whether qv->v[k] fits what a split ring allows; NULL: any value read does */
	int (*check)(const struct queue_values *qv, unsigned int k, char *why, size_t why_len);
	/* desc, driver, device: a split ring's area, fixed + per_entry * num bytes */
	struct {
		__u8 fixed, per_entry;
	} area;
};

static const struct queue_key queue_keys[QK_N];

/* Writes why[] and returns -EINVAL: each error of --queue is one return. */
__attribute__((format(printf, 3, 4))) static int queue_spec_error(char *why, size_t why_len,
								  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int read_number(const char *key, const char *val, __u64 *v, char *why, size_t why_len)
{
	switch (str_u64(val, v)) {
	case 0:
		return 0;
	case -ERANGE:
		return queue_spec_error(why, why_len, "%s=%s: above 2^64 - 1", key, val);
	default:
		return queue_spec_error(why, why_len, "%s=%s: %s", key, val,
					val[0] == '-' ? "negative" :
							"not a number (decimal, or 0x for hex)");
	}
}

static int read_pci_function(const char *key, const char *val, __u64 *v, char *why, size_t why_len)
{
	(void)key;
	if (!parse_pci_address(val, v))
		return 0;
	return queue_spec_error(why, why_len,
				"pci=%s: want a PCI function's address, BB:DD.F (bus 00-ff, "
				"device 00-1f, function 0-7) or 0000:BB:DD.F",
				val);
}

static int check_index(const struct queue_values *qv, unsigned int k, char *why, size_t why_len)
{
	if (qv->v[k] > 0xffff)
		return queue_spec_error(why, why_len, "index=%s: want 0 to 65535", qv->txt[k]);
	return 0;
}

static int check_num(const struct queue_values *qv, unsigned int k, char *why, size_t why_len)
{
	__u64 num = qv->v[k];

	if (!num || num > GMA_QUEUE_NUM_MAX || (num & (num - 1)))
		return queue_spec_error(why, why_len,
					"num=%s: want a power of 2 from 1 to %u (a split ring)",
					qv->txt[k], GMA_QUEUE_NUM_MAX);
	return 0;
}

/* num is checked by now: the sizes cannot overflow. */
static int check_area(const struct queue_values *qv, unsigned int k, char *why, size_t why_len)
{
	const struct queue_key *key = &queue_keys[k];

	if (area_wraps(qv->v[k], key->area.fixed + key->area.per_entry * qv->v[QK_NUM]))
		return queue_spec_error(why, why_len,
					"a ring area of num=%s entries wraps past 2^64",
					qv->txt[QK_NUM]);
	return 0;
}

static int check_device_type(const struct queue_values *qv, unsigned int k, char *why,
			     size_t why_len)
{
	char ids[256];

	if (!(qv->have & (1u << k)))
		return 0; /* optional */
	if (qv->v[k] <= UINT32_MAX && gma_virtio_device_name(qv->v[k]))
		return 0;
	known_device_ids(ids, sizeof(ids));
	return queue_spec_error(why, why_len, "type=%s: not a VirtIO device ID gma knows (%s)",
				qv->txt[k], ids);
}

/* A split ring's areas: 16 bytes a descriptor; driver and device: flags, idx, ring[num], event. */
static const struct queue_key queue_keys[QK_N] = {
	[QK_BASE] = { .name = "base" },
	[QK_INDEX] = { .name = "index", .check = check_index },
	[QK_NUM] = { .name = "num", .check = check_num },
	[QK_DESC] = { .name = "desc", .check = check_area, .area = { 0, 16 } },
	[QK_DRIVER] = { .name = "driver", .alias = "avail", .check = check_area, .area = { 6, 2 } },
	[QK_DEVICE] = { .name = "device", .alias = "used", .check = check_area, .area = { 6, 8 } },
	[QK_TYPE] = { .name = "type", .optional = true, .check = check_device_type },
	/* instead of base: a PCI function's address */
	[QK_PCI] = { .name = "pci", .optional = true, .read = read_pci_function },
};

/* The key named name (or its alias), or QK_N. */
static unsigned int find_queue_key(const char *name)
{
	unsigned int k;

	for (k = 0; k < QK_N; k++)
		if (!strcmp(name, queue_keys[k].name) ||
		    (queue_keys[k].alias && !strcmp(name, queue_keys[k].alias)))
			break;
	return k;
}

/* One KEY=VALUE of a --queue, cut at its ',': its value into qv, each key once. */
static int read_queue_key(char *kv, struct queue_values *qv, char *why, size_t why_len)
{
	char *eq = strchr(kv, '=');
	unsigned int k;

	if (!eq)
		return queue_spec_error(why, why_len,
					"'%s' is not KEY=VALUE; want " QUEUE_SPEC_SYNTAX, kv);
	*eq = 0;
	k = find_queue_key(kv);
	if (k == QK_N)
		return queue_spec_error(why, why_len,
					"unknown key '%s'; want " QUEUE_SPEC_SYNTAX
					" (avail and used are driver and device)",
					kv);
	if (qv->have & (1u << k))
		return queue_spec_error(why, why_len, "%s given twice%s", queue_keys[k].name,
					queue_keys[k].alias ? " (or as its alias)" : "");
	qv->have |= 1u << k;
	qv->txt[k] = eq + 1;
	if (queue_keys[k].read)
		return queue_keys[k].read(kv, eq + 1, &qv->v[k], why, why_len);
	return read_number(kv, eq + 1, &qv->v[k], why, why_len);
}

/* Every KEY=VALUE of s, split in place; strtok_r would skip empty ones, which are errors. */
static int read_queue_keys(char *s, struct queue_values *qv, char *why, size_t why_len)
{
	char *kv, *next;
	int err;

	for (kv = s; kv; kv = next) {
		next = strchr(kv, ',');
		if (next)
			*next++ = 0;
		err = read_queue_key(kv, qv, why, why_len);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Once every key is read: one device key (pci stands in for base), every key that must be
 * there, each value within what a split ring allows.
 */
static int check_queue_values(struct queue_values *qv, char *why, size_t why_len)
{
	unsigned int k;
	int err;

	if ((qv->have & (1u << QK_PCI)) && (qv->have & (1u << QK_BASE)))
		return queue_spec_error(why, why_len,
					"base and pci both given: one names the device");
	if (qv->have & (1u << QK_PCI)) {
		qv->v[QK_BASE] = qv->v[QK_PCI];
		qv->have |= 1u << QK_BASE;
	}
	for (k = 0; k < QK_N; k++)
		if (!queue_keys[k].optional && !(qv->have & (1u << k)))
			return queue_spec_error(why, why_len, "%s missing; want " QUEUE_SPEC_SYNTAX,
						queue_keys[k].name);
	for (k = 0; k < QK_N; k++) {
		err = queue_keys[k].check ? queue_keys[k].check(qv, k, why, why_len) : 0;
		if (err)
			return err;
	}
	return 0;
}

/* What the tracer follows of a queue, beyond what the spec allows. */
static int check_traced_queue(const struct queue_values *qv, char *why, size_t why_len)
{
	const __u64 *v = qv->v;

	if (v[QK_INDEX] >= GMA_TRACER_QUEUES_MAX)
		return queue_spec_error(why, why_len,
					"index=%s: the tracer follows queues 0 to %d of a device",
					qv->txt[QK_INDEX], GMA_TRACER_QUEUES_MAX - 1);
	if (!GMA_KEY_IS_PCI(v[QK_BASE]) && (v[QK_BASE] & (GMA_VIRTIO_MMIO_WINDOW - 1)))
		return queue_spec_error(why, why_len,
					"base=%s: a virtio-mmio window's base, a multiple of %#x",
					qv->txt[QK_BASE], GMA_VIRTIO_MMIO_WINDOW);
	if (!v[QK_DESC])
		return queue_spec_error(why, why_len,
					"desc=0: the tracer takes it for a queue not set up");
	return 0;
}

int parse_queue_spec(const char *arg, struct queue_spec *q, bool traced, char *why, size_t why_len)
{
	struct queue_values qv = {};
	char *s = strdup(arg); /* cut into keys and values, which qv.txt points into */
	int err;

	if (!s)
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	err = read_queue_keys(s, &qv, why, why_len);
	if (!err)
		err = check_queue_values(&qv, why, why_len);
	if (!err && traced)
		err = check_traced_queue(&qv, why, why_len);
	if (!err) {
		q->base = qv.v[QK_BASE];
		q->index = qv.v[QK_INDEX];
		q->layout.num = qv.v[QK_NUM];
		q->layout.desc = qv.v[QK_DESC];
		q->layout.driver = qv.v[QK_DRIVER];
		q->layout.device = qv.v[QK_DEVICE];
		q->device_id = qv.v[QK_TYPE];
	}
	free(s);
	return err;
}

error_t parse_queue_opt(const char *arg, struct queue_spec *queues, size_t *n, bool traced,
			struct argp_state *state)
{
	struct queue_spec *q = &queues[*n];
	char why[512];
	int err;

	if (*n == QUEUE_SPECS_MAX)
		argp_error(state, "at most %d --queue", QUEUE_SPECS_MAX);
	err = parse_queue_spec(arg, q, traced, why, sizeof(why));
	if (err == -ENOMEM)
		argp_failure(state, EXIT_RUNTIME, ENOMEM, "--queue");
	else if (err)
		argp_error(state, "--queue '%s': %s", arg, why);
	for (size_t i = 0; i < *n; i++)
		if (queues[i].base == q->base && queues[i].index == q->index)
			argp_error(state, "--queue '%s': queue %u of 0x%llx given twice", arg,
				   q->index, (unsigned long long)q->base);
	++*n;
	return 0;
}

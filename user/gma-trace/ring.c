// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace ring: a one-shot decode of one queue's current state read entirely from userspace
 * through the accessor (a running VM, or a memory dump and its region map).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gma-trace.h"

enum {
	OPT_QUEUE = 0x200,
	OPT_QMP,
	OPT_SNAP,
	OPT_DUMP,
	OPT_MAP,
};

static struct ring_args {
	pid_t pid;
	bool descs;
	__u32 snap_len;
	const char *qmp;
	const char *dump;
	const char *map;
	struct queue_spec queues[QUEUE_SPECS_MAX];
	size_t nr_queues;
} args;

static const struct argp_option ring_options[] = {
	{ "pid", 'p', "PID", 0, "The VMM process whose memory holds the queue", 0 },
	{ "dump", OPT_DUMP, "FILE", 0, "A guest memory dump instead of a running VM", 0 },
	{ "map", OPT_MAP, "FILE", 0,
	  "The dump's region map: lines 'GPA SIZE OFFSET' (numbers in C syntax)", 0 },
	{ "queue", OPT_QUEUE, "SPEC", 0, QUEUE_SPEC_SYNTAX, 0 },
	{ "qmp", OPT_QMP, "SOCKET", 0, "Decode every queue QEMU reports over QMP", 0 },
	{ "snap-len", OPT_SNAP, "BYTES", 0, "Bytes shown of each buffer (64; 1 to 65536)", 0 },
	{ "descs", 'd', NULL, 0, "Show each chain's descriptors and first bytes", 0 },
	JSON_OPTION("JSON instead of text"),
	VERBOSE_OPTION,
	{},
};

/* s (of a map line) for a message: at most 40 bytes up to a blank, control bytes as '?'. */
static const char *excerpt(const char *s)
{
	static char buf[48];
	size_t i;

	for (i = 0; i < 40 && s[i] && !isspace((unsigned char)s[i]); i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[i] = 0;
	return buf;
}

/*
 * One number of a map line at *p: C syntax (0x hex, 0 octal), no sign, at most 2^64 - 1,
 * followed by a blank, a comment or the end. Prints "MAP:LINE: ..." when not.
 */
static bool map_number(char **p, __u64 *v, const char *what, unsigned int line)
{
	char *end;

	*p += strspn(*p, " \t");
	if (!**p || **p == '#' || **p == '\n') {
		fprintf(stderr, "gma-trace: %s:%u: no %s; want 'GPA SIZE OFFSET'\n", args.map, line,
			what);
		return false;
	}
	if (**p == '-' || **p == '+' || !isdigit((unsigned char)**p)) {
		fprintf(stderr, "gma-trace: %s:%u: %s '%s': %s\n", args.map, line, what,
			excerpt(*p),
			**p == '-' ? "negative" : "not a number (decimal, or 0x for hex)");
		return false;
	}
	errno = 0;
	*v = strtoull(*p, &end, 0);
	if (errno == ERANGE) {
		fprintf(stderr, "gma-trace: %s:%u: %s '%s': above 2^64 - 1\n", args.map, line, what,
			excerpt(*p));
		return false;
	}
	if (*end && !isspace((unsigned char)*end) && *end != '#') {
		fprintf(stderr,
			"gma-trace: %s:%u: %s '%s': not a number (decimal, or 0x for hex)\n",
			args.map, line, what, excerpt(*p));
		return false;
	}
	*p = end;
	return true;
}

/*
 * The structure of region k (of map line lines[k]) after regions 0..k-1: what
 * gma_regions_validate() wants, said with the lines involved. False after printing why.
 */
static bool map_region_ok(const struct gma_region *r, const unsigned int *lines, size_t k)
{
	const struct gma_region *prev = k ? &r[k - 1] : NULL;

	if (!r[k].size) {
		fprintf(stderr, "gma-trace: %s:%u: a region of size 0\n", args.map, lines[k]);
		return false;
	}
	if (r[k].gpa + (r[k].size - 1) < r[k].gpa || r[k].addr + (r[k].size - 1) < r[k].addr) {
		fprintf(stderr, "gma-trace: %s:%u: %s + SIZE wraps past 2^64\n", args.map, lines[k],
			r[k].gpa + (r[k].size - 1) < r[k].gpa ? "GPA" : "OFFSET");
		return false;
	}
	if (prev && r[k].gpa < prev->gpa) {
		fprintf(stderr,
			"gma-trace: %s:%u: GPA 0x%llx is below line %u's 0x%llx; regions must be "
			"sorted by GPA\n",
			args.map, lines[k], (unsigned long long)r[k].gpa, lines[k - 1],
			(unsigned long long)prev->gpa);
		return false;
	}
	if (prev && r[k].gpa - prev->gpa < prev->size) {
		fprintf(stderr,
			"gma-trace: %s:%u: GPA 0x%llx overlaps line %u's region 0x%llx-0x%llx\n",
			args.map, lines[k], (unsigned long long)r[k].gpa, lines[k - 1],
			(unsigned long long)prev->gpa,
			(unsigned long long)(prev->gpa + (prev->size - 1)));
		return false;
	}
	return true;
}

/*
 * Line number line of the map, text (got bytes as read): 1 with *r, 0 when it holds no
 * region (blank, or a comment), -1 after printing "MAP:LINE: what is wrong".
 */
static int map_line(char *text, ssize_t got, unsigned int line, struct gma_region *r)
{
	__u64 gpa, size, off;
	char *p = text;

	if (strlen(text) != (size_t)got) {
		fprintf(stderr, "gma-trace: %s:%u: a NUL byte; a map is text\n", args.map, line);
		return -1;
	}
	p += strspn(p, " \t\r");
	if (!*p || *p == '\n' || *p == '#')
		return 0;
	if (!map_number(&p, &gpa, "GPA", line) || !map_number(&p, &size, "SIZE", line) ||
	    !map_number(&p, &off, "OFFSET", line))
		return -1;
	p += strspn(p, " \t\r");
	if (*p && *p != '\n' && *p != '#') {
		fprintf(stderr, "gma-trace: %s:%u: '%s' after GPA SIZE OFFSET\n", args.map, line,
			excerpt(p));
		return -1;
	}
	*r = (struct gma_region){ gpa, size, off };
	return 1;
}

/*
 * Doubles the room in *r and *lines (*cap entries each; 16 at first). 0, or -ENOMEM with
 * both as they were or grown, either way the caller's to free.
 */
static int grow_region_map(struct gma_region **r, unsigned int **lines, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	struct gma_region *nr = realloc(*r, ncap * sizeof(**r));
	unsigned int *nl = nr ? realloc(*lines, ncap * sizeof(**lines)) : NULL;

	*r = nr ?: *r;
	*lines = nl ?: *lines;
	if (!nr || !nl)
		return -ENOMEM;
	*cap = ncap;
	return 0;
}

/*
 * Reads the region map: one region per line, "GPA SIZE OFFSET", blank lines and '#' comments
 * ignored. Returns 0 with *out and *lines (the line of each region), EX_NOINPUT or
 * EX_DATAERR after printing "MAP[:LINE]: what is wrong", or -ENOMEM.
 */
static int read_region_map(struct gma_region **out, unsigned int **lines_out, size_t *n)
{
	struct gma_region *r = NULL, region;
	unsigned int *lines = NULL, line = 0;
	size_t cap = 0, k = 0, len = 0;
	char *text = NULL;
	ssize_t got;
	__u64 size;
	int fd, err = EX_DATAERR, found;
	FILE *f;

	fd = open_input(args.map, false, &size);
	if (fd < 0)
		return EX_NOINPUT;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	while ((got = getline(&text, &len, f)) > 0) {
		found = map_line(text, got, ++line, &region);
		if (found < 0)
			goto out;
		if (!found)
			continue;
		if (k == GMA_REGIONS_MAX) {
			fprintf(stderr, "gma-trace: %s:%u: more than %d regions\n", args.map, line,
				GMA_REGIONS_MAX);
			goto out;
		}
		if (k == cap && grow_region_map(&r, &lines, &cap)) {
			err = report_error(-ENOMEM, args.map);
			goto out;
		}
		r[k] = region;
		lines[k] = line;
		if (!map_region_ok(r, lines, k))
			goto out;
		k++;
	}
	if (ferror(f)) {
		fprintf(stderr, "gma-trace: %s: %s\n", args.map, strerror(errno));
		err = EX_NOINPUT;
		goto out;
	}
	if (!k) {
		fprintf(stderr, "gma-trace: %s: no regions; want lines 'GPA SIZE OFFSET'\n",
			args.map);
		goto out;
	}
	err = 0;
out:
	free(text);
	fclose(f);
	if (err) {
		free(r);
		free(lines);
		return err;
	}
	*out = r;
	*lines_out = lines;
	*n = k;
	return 0;
}

/*
 * The dump and its map: both usable files, every region within the dump. Returns 0 with *mem
 * and *regions, or an exit status after saying what is wrong, and with which file.
 */
static int open_dump(struct gma_mem **mem, struct gma_region **regions, size_t *n)
{
	unsigned int *lines = NULL;
	__u64 dump_size;
	int fd, err;

	fd = open_input(args.dump, true, &dump_size);
	if (fd < 0)
		return EX_NOINPUT;
	close(fd);
	err = read_region_map(regions, &lines, n);
	if (err)
		return err;
	for (size_t i = 0; i < *n; i++) {
		const struct gma_region *r = &(*regions)[i];

		if (r->addr < dump_size && r->size <= dump_size - r->addr)
			continue;
		fprintf(stderr,
			"gma-trace: %s:%u: OFFSET 0x%llx + SIZE 0x%llx runs past the end of %s "
			"(0x%llx bytes)\n",
			args.map, lines[i], (unsigned long long)r->addr,
			(unsigned long long)r->size, args.dump, (unsigned long long)dump_size);
		free(lines);
		return EX_DATAERR;
	}
	free(lines);
	*mem = gma_mem_new_file(args.dump, *regions, *n, NULL);
	if (!*mem) {
		err = errno;
		fprintf(stderr, "gma-trace: %s: %s\n", args.dump, strerror(err));
		return err == ENOMEM ? -ENOMEM : err == EINVAL ? EX_DATAERR : EX_NOINPUT;
	}
	return 0;
}

static error_t parse_ring(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p':
		return parse_pid(arg, &args.pid, state);
	case 'd':
		args.descs = true;
		return 0;
	case OPT_SNAP:
		return parse_u32_range(arg, &args.snap_len, "--snap-len", 1, GMA_SNAP_LEN_MAX,
				       state);
	case OPT_QUEUE:
		return parse_queue_opt(arg, args.queues, &args.nr_queues, false, state);
	case OPT_QMP:
		args.qmp = arg;
		return 0;
	case OPT_DUMP:
		args.dump = arg;
		return 0;
	case OPT_MAP:
		args.map = arg;
		return 0;
	case ARGP_KEY_END:
		if (!args.pid && !args.dump)
			argp_error(state, "--pid (or --dump) is required");
		if (args.pid && args.dump)
			argp_error(state, "--pid and --dump exclude each other: a running VM, or a "
					  "dump");
		if (!!args.dump != !!args.map)
			argp_error(state, "--dump and --map go together: the dump, and its region "
					  "map");
		if (!args.nr_queues && !args.qmp)
			argp_error(state, "which queue? give --queue or --qmp");
		return 0;
	default:
		return parse_common(key, arg, state);
	}
}

/*
 * The memory of the running VM of --pid, read through its process. Returns 0 with *mem and
 * *regions (as open_dump()), or an error after saying what could not be done.
 */
static int open_process(struct gma_mem **mem, struct gma_region **regions, size_t *n)
{
	struct gma_vm *vms = NULL;
	const struct gma_vm *vm;
	size_t nvms = 0;
	int err;

	err = find_vm(args.pid, &vms, &nvms, &vm);
	if (err)
		return err;
	err = gma_vm_regions(vm, regions, n);
	if (err) {
		report_error(err, "building the region table");
	} else {
		*mem = gma_mem_new_process(vm->pid, *regions, *n);
		if (!*mem)
			err = report_error(-errno, "opening the VM's memory");
	}
	gma_vms_free(vms);
	return err;
}

/* Every virtio queue QEMU lists over the QMP socket --qmp: 0 with *qs, or an error said. */
static int list_qmp_queues(struct gma_qmp_queue **qs, size_t *n)
{
	struct gma_qmp *qmp;
	int err;

	qmp = gma_qmp_new(args.qmp, NULL);
	if (!qmp)
		return report_qmp_error(-errno, args.qmp, "connecting (greeting, qmp_capabilities)",
					NULL);
	err = gma_qmp_virtio_queues(qmp, qs, n, sizeof(**qs));
	if (err)
		report_qmp_error(err, args.qmp, "x-query-virtio (listing the virtio queues)", qmp);
	gma_qmp_close(qmp);
	return err;
}

static void print_qmp_queue(const struct gma_qmp_queue *q)
{
	fprintf(stderr,
		"gma-trace: QMP: %s %s queue %u: base 0x%llx num %u desc 0x%llx driver 0x%llx "
		"device 0x%llx\n",
		q->device, q->path, q->queue, (unsigned long long)q->mmio_base, q->layout.num,
		(unsigned long long)q->layout.desc, (unsigned long long)q->layout.driver,
		(unsigned long long)q->layout.device);
}

/* Adds the queues QMP lists to args.queues: those the guest's driver set up, with its view. */
static int add_qmp_queues(void)
{
	struct gma_qmp_queue *qs;
	size_t n;
	int err;

	err = list_qmp_queues(&qs, &n);
	if (err)
		return err;
	for (size_t i = 0; env.verbose && i < n; i++)
		print_qmp_queue(&qs[i]);
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
			"gma-trace: QEMU lists %zu virtio queues over QMP, none set up by the guest's "
			"driver yet\n",
			n);
		return -ENOENT;
	}
	return 0;
}

/* Decodes and prints each queue of args.queues; stops at the first that cannot be read. */
static int print_rings(struct gma_mem *mem)
{
	GMA_OPTS(gma_ring_read_opts, ropts, .snap_len = args.snap_len);
	struct gma_ring *ring;
	int err;

	for (size_t i = 0; i < args.nr_queues; i++) {
		err = gma_ring_read(mem, &args.queues[i].layout, &ropts, &ring);
		if (err)
			return report_error(err, "reading the ring");
		out()->ring(&args.queues[i], ring, args.descs);
		gma_ring_free(ring);
	}
	return 0;
}

int cmd_ring(int argc, char **argv)
{
	static const struct argp argp = {
		.options = ring_options,
		.parser = parse_ring,
		.doc = "Decode one queue's current state, read entirely from userspace through "
		       "the accessor: the chains made available and not yet used, and the last "
		       "used elements. Unbounded by the BPF side's caps.",
	};
	struct gma_region *regions = NULL;
	struct gma_mem *mem = NULL;
	size_t nregions = 0;
	int err;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	if (args.dump)
		err = open_dump(&mem, &regions, &nregions);
	else
		err = open_process(&mem, &regions, &nregions);
	if (!err && args.qmp)
		err = add_qmp_queues();
	if (!err)
		err = print_rings(mem);
	gma_mem_free(mem);
	free(regions);
	return err;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace ring: a one-shot decode of one queue's current state read entirely from userspace
 * through the accessor (a running VM, or a memory dump and its region map).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int cmd_ring(int argc, char **argv)
{
	static const struct argp argp = {
		.options = ring_options,
		.parser = parse_ring,
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

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	ropts.snap_len = args.snap_len;
	if (args.dump) {
		err = read_region_map(args.map, &regions, &nregions);
		if (err)
			return report_error(err, args.map);
		mem = gma_mem_new_file(args.dump, regions, nregions, NULL);
		if (!mem) {
			err = report_error(-errno, args.dump);
			goto out;
		}
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
		if (!mem) {
			err = report_error(-errno, "opening the VM's memory");
			goto out;
		}
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
		if (env.verbose)
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
		out()->ring(&args.queues[i], ring, args.descs);
		gma_ring_free(ring);
	}
out:
	gma_mem_free(mem);
	free(regions);
	gma_vms_free(vms, nvms);
	return err;
}

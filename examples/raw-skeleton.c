// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Embedding gma's BPF tracer without libgma: the installed skeleton <gma/tracer.skel.h> is
 * loaded with libbpf directly and the ring buffer's records are read with the public record
 * format <gma/record.h>. Prints the QUEUE and CHAIN records of one VMM, started under the
 * trace so that every queue its guest driver sets up is seen:
 *
 *   raw-skeleton [-s SECONDS] -- CMD ARGS...
 *
 * Build against an installed gma:
 *   cc $(pkg-config --cflags gma) raw-skeleton.c $(pkg-config --libs libbpf)
 * Needs root (or CAP_BPF + CAP_PERFMON) to run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <gma/record.h>
/* the tracer's map value types (gma_tracer_*), which the skeleton's read-only data embeds */
#include <gma/tracer_maps.h>
#include <gma/tracer.skel.h>

/*
 * The record version this program was written for: the one of the <gma/record.h> it is built
 * with. (Building with -DRAW_REC_VERSION=N shows what happens against another tracer.)
 */
#ifndef RAW_REC_VERSION
#define RAW_REC_VERSION GMA_REC_VERSION
#endif

struct counts {
	unsigned long queues, chains, other;
	int bad; /* a record this program refuses: the trace stops */
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct counts *n = ctx;
	const struct gma_rec_hdr *h = data;

	if (size < sizeof(*h) || h->size > size) {
		fprintf(stderr, "raw-skeleton: malformed record (%zu bytes)\n", size);
		n->bad = -EPROTO;
		return n->bad;
	}
	if (h->version != RAW_REC_VERSION) {
		fprintf(stderr,
			"raw-skeleton: unknown record version %u (this program reads version %u "
			"only): rebuild it against the installed <gma/record.h>\n",
			h->version, RAW_REC_VERSION);
		n->bad = -EPROTO;
		return n->bad; /* stops ring_buffer__poll() */
	}
	if (h->type == GMA_REC_QUEUE && h->size >= sizeof(struct gma_rec_queue)) {
		const struct gma_rec_queue *q = data;

		printf("QUEUE pid %u base 0x%llx q%u num %u desc 0x%llx driver 0x%llx device 0x%llx "
		       "device_id %u flags 0x%x\n",
		       q->pid, (unsigned long long)q->key.base, q->key.queue, q->num,
		       (unsigned long long)q->desc, (unsigned long long)q->driver,
		       (unsigned long long)q->device, q->device_id, q->flags);
		n->queues++;
	} else if (h->type == GMA_REC_CHAIN && h->size >= sizeof(struct gma_rec_chain)) {
		const struct gma_rec_chain *c = data;

		printf("CHAIN pid %u base 0x%llx q%u avail %u head %u descs %u total %u anomalies "
		       "0x%x",
		       c->pid, (unsigned long long)c->key.base, c->key.queue, c->avail_idx, c->head,
		       c->nr_descs, c->total_len, c->anomalies);
		for (unsigned int i = 0; i < c->nr_recorded && i < GMA_CHAIN_DESC_MAX; i++)
			printf(" [0x%llx+%u%s]", (unsigned long long)c->descs[i].addr,
			       c->descs[i].len, c->descs[i].flags & 2 ? " w" : "");
		printf("\n");
		n->chains++;
	} else {
		n->other++; /* fragments, notifies, used, devices: skipped by their size */
	}
	return 0;
}

/* True when the kernel (or the kvm module, with split BTF) has tracepoint `name`. */
static bool have_tracepoint(struct btf *vmlinux, struct btf *kvm, const char *name)
{
	char t[64];

	snprintf(t, sizeof(t), "btf_trace_%s", name);
	return btf__find_by_name_kind(vmlinux, t, BTF_KIND_TYPEDEF) > 0 ||
	       (kvm && btf__find_by_name_kind(kvm, t, BTF_KIND_TYPEDEF) > 0);
}

/*
 * Loading fails when a tp_btf program's tracepoint does not exist, so each program whose
 * tracepoint the kernel lacks is not loaded (e.g. kvm_page_fault on older kernels). At least
 * one tracepoint that carries the vCPU must remain: it tells which VM a thread runs.
 */
static int select_tracepoints(struct gma_tracer_bpf *skel)
{
	const struct {
		struct bpf_program *prog;
		const char *name;
		bool vcpu;
	} tps[] = {
		{ skel->progs.kvm_exit, "kvm_exit", true },
		{ skel->progs.kvm_entry, "kvm_entry", true },
		{ skel->progs.kvm_emulate_insn, "kvm_emulate_insn", true },
		{ skel->progs.kvm_page_fault, "kvm_page_fault", true },
		{ skel->progs.kvm_pio, "kvm_pio", false },
		{ skel->progs.kvm_mmio, "kvm_mmio", false },
	};
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm;
	bool vcpu = false;

	if (!vmlinux)
		return -ENOENT;
	kvm = btf__load_module_btf("kvm", vmlinux); /* NULL where KVM is built in */
	printf("tracepoints:");
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		bool have = have_tracepoint(vmlinux, kvm, tps[i].name);

		bpf_program__set_autoload(tps[i].prog, have);
		if (have)
			printf(" %s", tps[i].name);
		vcpu |= have && tps[i].vcpu;
	}
	printf("\n");
	btf__free(kvm);
	btf__free(vmlinux);
	return vcpu ? 0 : -ENODEV;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct counts counts = {};
	struct gma_tracer_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	double seconds = 3, end;
	int go[2], opt, err;
	pid_t child;
	char c;

	setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with the VMM's output */
	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's') {
			fprintf(stderr, "usage: %s [-s SECONDS] -- CMD ARGS...\n", argv[0]);
			return 2;
		}
		seconds = atof(optarg);
	}
	if (optind == argc) {
		fprintf(stderr, "usage: %s [-s SECONDS] -- CMD ARGS...\n", argv[0]);
		return 2;
	}
	/* The VMM waits before exec until the programs are attached. */
	if (pipe2(go, O_CLOEXEC))
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* not outliving the trace */
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	close(go[0]);

	skel = gma_tracer_bpf__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "opening the skeleton: %s\n", strerror(errno));
		goto out;
	}
	skel->rodata->target_tgid = child; /* only this VMM's VM */
	err = select_tracepoints(skel);
	if (err) {
		fprintf(stderr, "no usable KVM tracepoint (is KVM loaded?): %s\n", strerror(-err));
		goto out;
	}
	err = gma_tracer_bpf__load(skel);
	if (!err)
		err = gma_tracer_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "loading the tracer: %s\n", strerror(-err));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, &counts, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "ring buffer: %s\n", strerror(errno));
		goto out;
	}
	if (write(go[1], "g", 1) != 1) {
		err = -errno;
		goto out;
	}
	printf("tracing pid %d for %.1f s\n", child, seconds);
	fflush(stdout);
	end = now_s() + seconds;
	/* for -s seconds, or until the command exits */
	while (now_s() < end && !counts.bad) {
		if (waitpid(child, NULL, WNOHANG) == child) {
			child = 0;
			ring_buffer__consume(rb); /* what it left in the ring buffer */
			break;
		}
		err = ring_buffer__poll(rb, 100);
		/*
		 * The tracer writes most records without waking the reader (a wakeup costs more
		 * than a record) and wakes it once 64 KiB are pending: a slow VM may never get
		 * there, so drain whatever is pending after each wait.
		 */
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR && !counts.bad) {
			fprintf(stderr, "ring buffer poll: %s\n", strerror(-err));
			break;
		}
		err = 0;
	}
	err = counts.bad;
	printf("%lu QUEUE, %lu CHAIN, %lu other records\n", counts.queues, counts.chains,
	       counts.other);
out:
	close(go[1]); /* an unreleased child exits without running */
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	ring_buffer__free(rb);
	gma_tracer_bpf__destroy(skel);
	return err ? 1 : 0;
}

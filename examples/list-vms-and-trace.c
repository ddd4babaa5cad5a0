// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Embedding libgma: list the KVM VMs of this host, then trace the VirtIO rings of one VM for
 * a few seconds and print a line per descriptor chain, decoded for virtio-blk.
 *
 *   list-vms-and-trace                        list VMs only
 *   list-vms-and-trace -p PID [-s SECONDS]    trace a running VM (only the queues it sets up
 *                                             or changes while traced are known)
 *   list-vms-and-trace [-s SECONDS] -- CMD... start a VMM under the trace, so every queue
 *                                             its driver sets up is learnt
 *
 * Build against an installed libgma:
 *   cc $(pkg-config --cflags gma) list-vms-and-trace.c $(pkg-config --libs gma)
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

#include <linux/virtio_ids.h>

#include <gma/gma.h>
#include <gma/virtio.h>

static unsigned long nr_chains;

static void on_chain(void *ctx, const struct gma_chain *c)
{
	const char *dev = gma_virtio_device_name(c->device_id);
	char what[160] = "";

	(void)ctx;

	if (c->device_id == VIRTIO_ID_BLOCK) {
		/* sized, as every struct libgma fills: it may grow in a later libgma */
		GMA_OPTS(gma_blk_req, req);

		if (!gma_blk_decode(c, &req)) {
			const char *type = gma_blk_type_name(req.type);

			/* at notify time the device has not answered: no status yet */
			if (type)
				snprintf(what, sizeof(what), "%s sector %llu len %llu", type,
					 (unsigned long long)req.sector,
					 (unsigned long long)req.data_len);
		}
	}
	if (!what[0])
		snprintf(what, sizeof(what), "%llu bytes", (unsigned long long)c->total_len);
	printf("chain pid %d %s@%llx q%u head %u: %s (%u descs)%s\n", c->pid, dev ? dev : "virtio",
	       (unsigned long long)c->base, c->queue, c->head, what, c->nr_walked,
	       c->anomalies ? " ANOMALY" : "");
	nr_chains++;
}

static void on_anomaly(void *ctx, const struct gma_anomaly_event *a)
{
	(void)ctx;
	printf("anomaly pid %d base 0x%llx q%u:", a->pid, (unsigned long long)a->base, a->queue);
	for (int b = 0; b < 32; b++)
		if (a->anomalies & (1u << b))
			printf(" %s", gma_anomaly_name(1u << b) ?: "unknown");
	printf("\n");
}

static int list_vms(void)
{
	struct gma_vm *vms;
	size_t n;
	/* the element size this program was built with: libgma writes each VM at it */
	int err = gma_vms_list(&vms, &n, sizeof(*vms));

	if (err) {
		fprintf(stderr, "listing VMs: %s\n", strerror(-err));
		return err;
	}
	printf("%zu VM(s)\n", n);
	for (size_t i = 0; i < n; i++) {
		printf("vm pid %d: %u vCPUs, %zu memslots\n", vms[i].pid, vms[i].nr_vcpus,
		       vms[i].nr_slots);
		for (size_t k = 0; k < vms[i].nr_slots; k++) {
			/* libgma's memslots, at its own size: through the accessor */
			const struct gma_memslot *s = gma_vm_slot(&vms[i], k);

			printf("  slot %u gpa 0x%llx size 0x%llx\n", s->id,
			       (unsigned long long)s->gpa, (unsigned long long)s->size);
		}
	}
	gma_vms_free(vms);
	return 0;
}

/* Forks cmd, held before exec until *go is written: the tracer must be attached first. */
static pid_t spawn_held(char **cmd, int *go)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (read(p[0], &c, 1) != 1)
			_exit(127);
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* not outliving the trace */
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	GMA_OPTS(gma_ring_callbacks, cb, .on_chain = on_chain, .on_anomaly = on_anomaly);
	GMA_OPTS(gma_tracer_opts, opts, .ring = &cb);
	struct gma_tracer *t;
	pid_t pid = 0, child = 0;
	double seconds = 3, end;
	int opt, go = -1;

	setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with the VMM's output */
	while ((opt = getopt(argc, argv, "p:s:")) != -1) {
		switch (opt) {
		case 'p':
			pid = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-p PID | -- CMD ARGS...] [-s SECONDS]\n",
				argv[0]);
			return 2;
		}
	}
	/*
	 * The library this program runs with must have the ABI it was built for: the same
	 * major version, and before 1.0 the same minor one (the soname says as much).
	 */
	if (gma_version_major() != GMA_VERSION_MAJOR ||
	    (GMA_VERSION_MAJOR == 0 && gma_version_minor() != GMA_VERSION_MINOR)) {
		fprintf(stderr, "built for libgma %d.%d, running with %u.%u\n", GMA_VERSION_MAJOR,
			GMA_VERSION_MINOR, gma_version_major(), gma_version_minor());
		return 1;
	}
	printf("libgma %u.%u\n", gma_version_major(), gma_version_minor());
	if (list_vms())
		return 1;
	if (optind < argc) {
		child = spawn_held(argv + optind, &go);
		if (child < 0) {
			perror("fork");
			return 1;
		}
		pid = child;
	}
	if (!pid)
		return 0;

	opts.pid = pid;
	t = gma_tracer_new(&opts);
	if (!t) {
		fprintf(stderr, "loading the tracer: %s\n", strerror(errno));
		if (child)
			kill(child, SIGKILL);
		return 1;
	}
	printf("tracing pid %d on %s for %.1f s\n", pid, gma_tracer_tracepoints(t), seconds);
	fflush(stdout);
	if (child && (write(go, "g", 1) != 1 || close(go))) {
		perror("starting the command");
		kill(child, SIGKILL);
		gma_tracer_free(t);
		return 1;
	}
	end = now_s() + seconds;
	/* for -s seconds, or until the command exits */
	while (now_s() < end) {
		int err = gma_tracer_poll(t, 100);

		if (err < 0) {
			fprintf(stderr, "poll: %s\n", strerror(-err));
			break;
		}
		if (child && waitpid(child, NULL, WNOHANG) == child) {
			gma_tracer_poll(t, 0); /* what it left in the ring buffer */
			child = 0;
			break;
		}
	}
	printf("%lu chains, %llu records dropped, %llu malformed\n", nr_chains,
	       (unsigned long long)gma_tracer_drops(t),
	       (unsigned long long)gma_tracer_bad_records(t));
	gma_tracer_free(t);
	if (child) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return 0;
}

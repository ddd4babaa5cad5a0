// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer as an object: gma_tracer_new() and gma_tracer_free(), the ring buffer's records
 * (fed to the record reader, which reassembles samples and feeds the queue model), sample
 * requests, gma_tracer_poll() with the periodic work it drives (the ring poll, the ioeventfd
 * refresh), and the getters of what was counted. The other jobs are in the tracer_*.c files
 * that tracer_internal.h lists.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>

#include "gma_internal.h"
#include "tracer_internal.h"

/* The userspace ring poll's period (gma_tracer_opts.ring_poll_ms). */
#define RING_POLL_MS_DEFAULT 100
#define RING_POLL_MS_MIN 10
/* How often the ioeventfds map is filled again from the VM list (registrations change). */
#define IOEVENTFD_REFRESH_NS 1000000000ULL

/* The request's slot in the BPF map is free again. */
static void release_slot(void *owner, __u32 slot)
{
	struct gma_tracer *t = owner;
	struct gma_sample_req req = { .state = GMA_REQ_FREE };

	bpf_map__update_elem(t->skel->maps.sample_reqs, &slot, sizeof(slot), &req, sizeof(req),
			     BPF_ANY);
}

static int on_record(void *ctx, void *data, size_t size)
{
	rr_feed(ctx, data, size); /* malformed records are counted by the reader */
	return 0;
}

static bool valid_ringbuf_size(__u32 sz)
{
	long page = sysconf(_SC_PAGESIZE);

	return sz >= (__u32)page && !(sz & (sz - 1)) && !(sz % page);
}

/* The options with their defaults filled in; -EINVAL for one past the tracer's caps. */
static int read_config(const struct gma_tracer_opts *opts, struct tracer_config *cfg)
{
/* a field left 0, or past the caller's struct (built against an older gma.h): its default */
#define OPT(field, dflt) (OPTS_GET(opts, field, 0) ?: (dflt))
	*cfg = (struct tracer_config){
		.ringbuf_size = OPT(ringbuf_size, GMA_TRACER_RINGBUF_SIZE_DEFAULT),
		.frag_max = OPT(frag_max, GMA_TRACER_FRAG_CAP),
		.sample_frags_max = OPT(sample_frags_max, GMA_TRACER_SAMPLE_FRAGS_CAP),
		.snap_len = OPT(snap_len, GMA_TRACER_SNAP_LEN_DEFAULT),
		.chains_per_notify = OPT(chains_per_notify, GMA_TRACER_CHAINS_PER_NOTIFY_DEFAULT),
		.used_scan_us = OPT(used_scan_us, GMA_TRACER_USED_SCAN_US_DEFAULT),
		.ring_poll_ms = OPT(ring_poll_ms, RING_POLL_MS_DEFAULT),
		.pid = OPTS_GET(opts, pid, 0),
		.indices_only = OPTS_GET(opts, indices_only, false),
		.btf_path = OPTS_GET(opts, btf_path, NULL),
	};
#undef OPT
	if (cfg->snap_len == GMA_SNAP_NONE)
		cfg->snap_len = 0;
	if (!valid_ringbuf_size(cfg->ringbuf_size) || cfg->frag_max > GMA_TRACER_FRAG_CAP ||
	    cfg->sample_frags_max > GMA_TRACER_SAMPLE_FRAGS_CAP ||
	    cfg->snap_len > GMA_TRACER_SNAP_CAP ||
	    cfg->chains_per_notify > GMA_TRACER_CHAINS_PER_NOTIFY_CAP || cfg->pid < 0 ||
	    (cfg->ring_poll_ms < RING_POLL_MS_MIN && cfg->ring_poll_ms != GMA_RING_POLL_OFF))
		return -EINVAL;
	return 0;
}

/* The tracer and its record reader, nothing loaded yet, in *out. 0 or -ENOMEM. */
static int tracer_alloc(const struct gma_tracer_opts *opts, const struct tracer_config *cfg,
			struct gma_tracer **out)
{
	struct gma_tracer *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	err = rr_init(&t->reader, OPTS_GET(opts, on_sample, NULL), OPTS_GET(opts, ctx, NULL),
		      OPTS_GET(opts, ring, NULL));
	if (err) {
		rr_free(&t->reader);
		free(t);
		return err;
	}
	t->reader.release_slot = release_slot;
	t->reader.owner = t;
	t->ring_poll_ns =
		cfg->ring_poll_ms == GMA_RING_POLL_OFF ? 0 : (__u64)cfg->ring_poll_ms * 1000000;
	t->pid = cfg->pid;
	t->sample_max = cfg->frag_max * cfg->sample_frags_max;
	*out = t;
	return 0;
}

/*
 * Once the programs are attached: the ring buffer opened for gma_tracer_poll(), and what the
 * periodic work needs from the start. 0, or -errno when the ring buffer cannot be read.
 */
static int start_reading(struct gma_tracer *t)
{
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, &t->reader, NULL);
	if (!t->rb)
		return -errno;
	/*
	 * The ring poll's VM lister loads a BPF iterator (BTF, verification: 0.6 s on a loaded
	 * host): done now, before the caller starts reading, rather than at the first queue,
	 * when nothing drains the ring buffer meanwhile (a 256 KiB one overflowed at 300
	 * notifies/s). On failure tracer_vm_memory() tries again later, as before.
	 */
	if (t->ring_poll_ns)
		t->lister = gma_vm_lister_new();
	/*
	 * The ioeventfd registrations, through the same lister (loaded now if not yet); a
	 * failure is kept for gma_tracer_ioeventfds_error(): the trace works without them.
	 */
	tracer_sync_ioeventfds(t);
	return 0;
}

/* Structs this libgma can read (their sz checked), and a load_error it can write. */
static bool valid_opts(const struct gma_tracer_opts *opts)
{
	const struct gma_load_error *why;

	if (!OPTS_VALID(opts, gma_tracer_opts) ||
	    !OPTS_VALID(OPTS_GET(opts, ring, NULL), gma_ring_callbacks))
		return false;
	why = OPTS_GET(opts, load_error, NULL);
	return !why || why->sz >= sizeof(why->sz);
}

struct gma_tracer *gma_tracer_new(const struct gma_tracer_opts *opts)
{
	struct gma_load_error why = { .sz = sizeof(why) };
	struct gma_tracer *t = NULL;
	struct tracer_config cfg;
	int err;

	if (!valid_opts(opts)) {
		errno = EINVAL;
		return NULL;
	}
	err = read_config(opts, &cfg);
	if (err)
		why.kind = GMA_LOAD_INVALID_OPTS;
	else
		err = tracer_alloc(opts, &cfg, &t);
	if (!err)
		err = tracer_load(t, &cfg, &why);
	if (!err)
		err = start_reading(t);
	tracer_load_error_conclude(&why, err);
	tracer_load_error_copy(OPTS_GET(opts, load_error, NULL), &why);
	if (err) {
		gma_tracer_free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

void gma_tracer_free(struct gma_tracer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nr_vm_readers; i++)
		gma_mem_free(t->vm_readers[i].mem);
	gma_vm_lister_free(t->lister);
	free(t->gone);
	free(t->looks);
	ring_buffer__free(t->rb);
	tracer_bpf__destroy(t->skel);
	rr_free(&t->reader);
	free(t);
}

const char *gma_tracer_tracepoints(const struct gma_tracer *t)
{
	return t->tracepoints;
}

int gma_tracer_request_sample(struct gma_tracer *t, pid_t pid, __u64 gpa, __u32 len, __u64 *id)
{
	struct pending_sample *p;
	struct gma_sample_req req;
	int err, used = 0;

	if (len == 0 || pid <= 0)
		return -EINVAL;
	if (len > t->sample_max)
		return -E2BIG;
	if (gpa + (len - 1) < gpa)
		return -EOVERFLOW;
	for (int i = 0; i < GMA_SAMPLE_REQ_MAX; i++)
		used += t->reader.pending[i].used;
	if (used == GMA_SAMPLE_REQ_MAX)
		return -EBUSY;
	p = rr_new_pending(&t->reader, pid, ++t->next_id, gpa, len);
	if (!p)
		return -ENOMEM;
	req = (struct gma_sample_req){
		.state = GMA_REQ_PENDING, .pid = pid, .sample_id = p->id, .gpa = gpa, .len = len
	};
	err = bpf_map__update_elem(t->skel->maps.sample_reqs, &p->slot, sizeof(p->slot), &req,
				   sizeof(req), BPF_ANY);
	if (err) {
		rr_release(&t->reader, p); /* the slot in the map is marked free: harmless */
		return err;
	}
	__atomic_fetch_add(&t->skel->bss->nr_pending, 1, __ATOMIC_SEQ_CST);
	if (id)
		*id = p->id;
	return 0;
}

int gma_tracer_cancel_pid(struct gma_tracer *t, pid_t pid)
{
	struct gma_sample_req req;
	int n = 0;

	for (__u32 i = 0; i < GMA_SAMPLE_REQ_MAX; i++) {
		struct pending_sample *p = &t->reader.pending[i];

		if (!p->used || p->pid != pid)
			continue;
		/* Only a request the kernel has not claimed can be taken back. */
		if (bpf_map__lookup_elem(t->skel->maps.sample_reqs, &i, sizeof(i), &req,
					 sizeof(req), 0) == 0 &&
		    req.state == GMA_REQ_PENDING) {
			__atomic_fetch_sub(&t->skel->bss->nr_pending, 1, __ATOMIC_SEQ_CST);
			rr_release(&t->reader, p);
			n++;
		}
	}
	return n;
}

/* The sum over CPUs of a one-slot per-CPU counter map (vcpu_events, drops); 0 if unreadable. */
static __u64 percpu_counter_sum(const struct bpf_map *map)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *per_cpu, sum = 0;
	__u32 zero = 0;

	if (ncpu <= 0)
		return 0;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return 0;
	if (bpf_map__lookup_elem(map, &zero, sizeof(zero), per_cpu, ncpu * sizeof(*per_cpu), 0) ==
	    0)
		for (int i = 0; i < ncpu; i++)
			sum += per_cpu[i];
	free(per_cpu);
	return sum;
}

__u64 gma_tracer_vcpu_events(const struct gma_tracer *t)
{
	return percpu_counter_sum(t->skel->maps.vcpu_events);
}

int gma_tracer_poll(struct gma_tracer *t, int timeout_ms)
{
	__u64 now;
	int err;

	t->reader.handled = 0;
	if (t->ring_poll_ns && timeout_ms < 0)
		timeout_ms = (int)(t->ring_poll_ns / 1000000);
	err = ring_buffer__poll(t->rb, timeout_ms);
	if (err < 0 && err != -EINTR)
		return err;
	/* records written without a wakeup (see tracer.bpf.c) wait for this */
	err = ring_buffer__consume(t->rb);
	if (err < 0 && err != -EINTR)
		return err;
	now = now_ns();
	if (t->ring_poll_ns && now - t->last_ring_poll_ns >= t->ring_poll_ns) {
		t->last_ring_poll_ns = now;
		tracer_poll_rings(t);
	}
	if (now - t->ioeventfds_listed_ns >= IOEVENTFD_REFRESH_NS)
		tracer_sync_ioeventfds(t);
	return t->reader.handled;
}

__u64 gma_tracer_drops(const struct gma_tracer *t)
{
	return percpu_counter_sum(t->skel->maps.drops);
}

__u64 gma_tracer_bad_records(const struct gma_tracer *t)
{
	return t->reader.bad_records;
}

int gma_tracer_check_stuck(struct gma_tracer *t, __u64 stuck_ns)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return qm_check_stuck(&t->reader.model, now.tv_sec * 1000000000ULL + now.tv_nsec, stuck_ns);
}

int gma_tracer_queue_stats(struct gma_tracer *t, struct gma_queue_stats **stats, size_t *n,
			   size_t elem_sz)
{
	return qm_stats(&t->reader.model, stats, n, elem_sz);
}

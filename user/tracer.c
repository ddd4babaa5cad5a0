// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer's loader and the reassembly of samples: fragments from the ring buffer are put
 * back into contiguous buffers with a per-byte state, checked against the request they answer
 * (the request is ours; only its bytes come from the guest).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>
#include <gma/record.h>

#include "queue_model.h"
#include "tracer.h"
#include "tracer.skel.h"

#define FRAG_CAP 4096
#define SAMPLE_FRAGS_CAP 64
#define RINGBUF_DEFAULT (4u << 20)
#define SNAP_CAP 4096
#define CHAINS_PER_NOTIFY_CAP 32
/* Chains whose buffer fragments arrived but whose chain record has not, at once. */
#define CHAIN_ASSEMBLY_MAX 8

/* The fragments of one chain's buffers, waiting for the chain record that follows them. */
struct chain_assembly {
	bool used;
	__u64 sample_id;
	__u64 age;
	__u32 nbytes[GMA_CHAIN_DESC_MAX];
	__u64 gpa[GMA_CHAIN_DESC_MAX]; /* where each descriptor's fragments start */
	__u8 data[GMA_CHAIN_DESC_MAX][SNAP_CAP];
	__u8 state[GMA_CHAIN_DESC_MAX][SNAP_CAP];
};

/* A request in flight, and the buffer its fragments are reassembled into. */
struct pending_sample {
	bool used;
	__u32 slot; /* index in the BPF request map */
	pid_t pid;
	__u64 id;
	__u64 gpa;
	__u32 len;
	__u32 frags_seen;
	__u8 *data;
	__u8 *state;
};

struct gma_tracer {
	struct tracer_bpf *skel;
	struct ring_buffer *rb;
	gma_sample_fn on_sample;
	void *ctx;
	__u32 sample_max;
	__u64 next_id;
	__u64 bad_records;
	pid_t pid_filter;
	int handled;
	char tracepoints[128];
	struct pending_sample pending[GMA_SAMPLE_REQ_MAX];
	struct queue_model model;
	struct chain_assembly *chains; /* CHAIN_ASSEMBLY_MAX of them */
	__u64 chain_age;
};

/* Tracepoints the tracer can use; the vCPU-carrying ones tell which VM a thread runs. */
static const struct {
	const char *name;
	bool carries_vcpu;
} tracepoints[] = {
	{ "kvm_exit", true },	    { "kvm_entry", true }, { "kvm_emulate_insn", true },
	{ "kvm_page_fault", true }, { "kvm_pio", false },  { "kvm_mmio", false },
};

static struct bpf_program *tracepoint_prog(struct tracer_bpf *skel, const char *name)
{
	return bpf_object__find_program_by_name(skel->obj, name);
}

/* True when the kernel (or the kvm module) has a BTF-typed tracepoint `name`. */
static bool have_tracepoint(struct btf *vmlinux, struct btf *kvm, const char *name)
{
	char tname[64];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return (vmlinux && btf__find_by_name_kind(vmlinux, tname, BTF_KIND_TYPEDEF) > 0) ||
	       (kvm && btf__find_by_name_kind(kvm, tname, BTF_KIND_TYPEDEF) > 0);
}

/* Turns off the programs whose tracepoint the kernel lacks; -ENODEV when no vCPU one is left. */
static int select_tracepoints(struct gma_tracer *t)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm = NULL;
	bool any_vcpu = false;
	size_t i, pos = 0;

	if (!vmlinux)
		return -ENOENT;
	kvm = btf__load_module_btf("kvm", vmlinux); /* NULL where KVM is built in */
	for (i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		bool have = have_tracepoint(vmlinux, kvm, tracepoints[i].name);

		bpf_program__set_autoload(tracepoint_prog(t->skel, tracepoints[i].name), have);
		if (!have)
			continue;
		any_vcpu |= tracepoints[i].carries_vcpu;
		pos += snprintf(t->tracepoints + pos, sizeof(t->tracepoints) - pos, "%s%s",
				pos ? " " : "", tracepoints[i].name);
	}
	btf__free(kvm);
	btf__free(vmlinux);
	return any_vcpu ? 0 : -ENODEV;
}

static struct pending_sample *find_pending(struct gma_tracer *t, __u64 id)
{
	for (int i = 0; i < GMA_SAMPLE_REQ_MAX; i++)
		if (t->pending[i].used && t->pending[i].id == id)
			return &t->pending[i];
	return NULL;
}

static void release(struct gma_tracer *t, struct pending_sample *p)
{
	struct gma_sample_req req = { .state = GMA_REQ_FREE };

	bpf_map__update_elem(t->skel->maps.sample_reqs, &p->slot, sizeof(p->slot), &req,
			     sizeof(req), BPF_ANY);
	free(p->data);
	free(p->state);
	memset(p, 0, sizeof(*p));
}

/* Chain samples have the top bit of their id set (virtqueue.bpf.h). */
#define CHAIN_SAMPLE_BIT (1ULL << 63)

static struct chain_assembly *find_assembly(struct gma_tracer *t, __u64 sample_id, bool create)
{
	struct chain_assembly *oldest = NULL;

	for (int i = 0; i < CHAIN_ASSEMBLY_MAX; i++) {
		struct chain_assembly *a = &t->chains[i];

		if (a->used && a->sample_id == sample_id)
			return a;
		if (!oldest || !a->used || (oldest->used && a->age < oldest->age))
			oldest = a;
	}
	if (!create)
		return NULL;
	/* evicting: the chain record of the oldest never came (dropped): count it */
	if (oldest->used)
		t->bad_records++;
	memset(oldest->nbytes, 0, sizeof(oldest->nbytes));
	oldest->used = true;
	oldest->sample_id = sample_id;
	oldest->age = ++t->chain_age;
	return oldest;
}

/*
 * A fragment of a chain's buffer: seq is the descriptor's position in the chain record, and
 * fragments of one descriptor come in address order from its start.
 */
static int on_chain_fragment(struct gma_tracer *t, const struct gma_rec_fragment *f, size_t size)
{
	struct chain_assembly *a = find_assembly(t, f->sample_id, true);
	__u32 pos = f->seq, n;

	if (pos >= GMA_CHAIN_DESC_MAX)
		return -EPROTO;
	if (f->status == GMA_FRAG_READ ? size != sizeof(*f) + f->len : size != sizeof(*f))
		return -EPROTO;
	if (a->nbytes[pos] == 0)
		a->gpa[pos] = f->gpa;
	else if (f->gpa != a->gpa[pos] + a->nbytes[pos])
		return -EPROTO;
	n = f->len;
	if (n > SNAP_CAP - a->nbytes[pos])
		return -EPROTO;
	if (f->status == GMA_FRAG_READ)
		memcpy(a->data[pos] + a->nbytes[pos], f->data, n);
	else
		memset(a->data[pos] + a->nbytes[pos], 0, n);
	memset(a->state[pos] + a->nbytes[pos],
	       f->status == GMA_FRAG_READ	? GMA_BYTE_READ :
	       f->status == GMA_FRAG_UNMAPPED	? GMA_BYTE_UNMAPPED :
	       f->status == GMA_FRAG_FOREIGN_MM ? GMA_BYTE_FOREIGN_MM :
						  GMA_BYTE_FAULT,
	       n);
	a->nbytes[pos] += n;
	return 0;
}

/* The chain record: its buffers' bytes must be where its descriptors say. */
static int on_chain(struct gma_tracer *t, const struct gma_rec_chain *r)
{
	struct chain_assembly *a = find_assembly(t, r->sample_id, false);
	struct gma_chain c = { .rec = r };
	__u32 n = r->nr_recorded < GMA_CHAIN_DESC_MAX ? r->nr_recorded : GMA_CHAIN_DESC_MAX;
	int err = 0;

	for (__u32 i = 0; a && i < n; i++) {
		if (!a->nbytes[i])
			continue;
		if (a->gpa[i] != r->descs[i].addr || a->nbytes[i] > r->descs[i].snap_len) {
			err = -EPROTO; /* fragments that do not belong to this descriptor */
			continue;
		}
		c.bytes[i] = a->data[i];
		c.state[i] = a->state[i];
		c.nbytes[i] = a->nbytes[i];
	}
	for (__u32 i = 0; i < n; i++)
		if (c.nbytes[i] < r->descs[i].snap_len)
			c.nbytes[i] = 0; /* a fragment was lost: show none rather than part */
	qm_on_chain(&t->model, &c);
	if (a)
		a->used = false;
	return err;
}

/* A fragment must lie inside its request and carry exactly the bytes its status promises. */
static int on_fragment(struct gma_tracer *t, const struct gma_rec_fragment *f, size_t size)
{
	struct pending_sample *p;
	__u64 off;

	if (f->sample_id & CHAIN_SAMPLE_BIT)
		return on_chain_fragment(t, f, size);
	p = find_pending(t, f->sample_id);
	if (!p)
		return -ENOENT; /* late fragment of a cancelled request, or garbage */
	if (f->gpa < p->gpa || f->gpa - p->gpa > p->len || f->len > p->len - (f->gpa - p->gpa) ||
	    f->len == 0 || (f->status == GMA_FRAG_READ && f->len > FRAG_CAP))
		return -EPROTO;
	if (f->status == GMA_FRAG_READ ? size != sizeof(*f) + f->len : size != sizeof(*f))
		return -EPROTO;
	off = f->gpa - p->gpa;
	switch (f->status) {
	case GMA_FRAG_READ:
		memcpy(p->data + off, f->data, f->len);
		memset(p->state + off, GMA_BYTE_READ, f->len);
		break;
	case GMA_FRAG_UNMAPPED:
		memset(p->state + off, GMA_BYTE_UNMAPPED, f->len);
		break;
	case GMA_FRAG_FAULT:
		memset(p->state + off, GMA_BYTE_FAULT, f->len);
		break;
	case GMA_FRAG_FOREIGN_MM:
		memset(p->state + off, GMA_BYTE_FOREIGN_MM, f->len);
		break;
	default:
		return -EPROTO;
	}
	p->frags_seen++;
	return 0;
}

/*
 * The end of a sample: bytes no fragment reached are LOST when fragments went missing (the
 * ring buffer dropped them) and CAPPED beyond what the kernel covered.
 */
static int on_sample_end(struct gma_tracer *t, const struct gma_rec_sample_end *e)
{
	struct pending_sample *p = find_pending(t, e->sample_id);
	struct gma_sample s;
	__u32 covered;

	if (!p)
		return -ENOENT;
	if (e->gpa != p->gpa || e->len != p->len)
		return -EPROTO;
	covered = e->covered < p->len ? e->covered : p->len;
	memset(p->state + covered, GMA_BYTE_CAPPED, p->len - covered);
	s = (struct gma_sample){
		.id = p->id,
		.vm_id = e->vm_id,
		.pid = e->pid,
		.tid = e->tid,
		.ts_ns = e->ts_ns,
		.gpa = p->gpa,
		.len = p->len,
		.nr_fragments = e->nr_fragments,
		.nr_lost = e->nr_fragments > p->frags_seen ? e->nr_fragments - p->frags_seen : 0,
		.err = e->err,
		.data = p->data,
		.state = p->state,
	};
	if (t->on_sample)
		t->on_sample(t->ctx, &s);
	release(t, p);
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct gma_rec_hdr *h = data;
	struct gma_tracer *t = ctx;
	int err = -EPROTO;

	t->handled++;
	if (size < sizeof(*h) || h->size != size || h->version != GMA_REC_VERSION) {
		t->bad_records++;
		return 0;
	}
	switch (h->type) {
	case GMA_REC_FRAGMENT:
		if (size >= sizeof(struct gma_rec_fragment))
			err = on_fragment(t, data, size);
		break;
	case GMA_REC_SAMPLE_END:
		if (size == sizeof(struct gma_rec_sample_end))
			err = on_sample_end(t, data);
		break;
	case GMA_REC_CHAIN:
		if (size == sizeof(struct gma_rec_chain))
			err = on_chain(t, data);
		break;
	case GMA_REC_NOTIFY:
		if (size == sizeof(struct gma_rec_notify)) {
			qm_on_notify(&t->model, data);
			err = 0;
		}
		break;
	case GMA_REC_USED:
		if (size == sizeof(struct gma_rec_used)) {
			qm_on_used(&t->model, data);
			err = 0;
		}
		break;
	case GMA_REC_QUEUE:
		if (size == sizeof(struct gma_rec_queue)) {
			qm_on_queue(&t->model, data);
			err = 0;
		}
		break;
	case GMA_REC_DEVICE:
		if (size == sizeof(struct gma_rec_device)) {
			qm_on_device(&t->model, data);
			err = 0;
		}
		break;
	}
	if (err)
		t->bad_records++;
	return 0;
}

static bool valid_ringbuf_size(__u32 sz)
{
	long page = sysconf(_SC_PAGESIZE);

	return sz >= (__u32)page && !(sz & (sz - 1)) && !(sz % page);
}

struct gma_tracer *gma_tracer_new(const struct gma_tracer_opts *opts)
{
	struct gma_tracer *t;
	__u32 rb_size = RINGBUF_DEFAULT, frag = FRAG_CAP, frags = SAMPLE_FRAGS_CAP;
	__u32 snap = 64, chains = 16, scan_us = 1000;
	pid_t pid = 0;
	int err;

	if (opts && opts->sz < sizeof(size_t)) {
		errno = EINVAL;
		return NULL;
	}
	if (opts) {
		rb_size = opts->ringbuf_size ? opts->ringbuf_size : rb_size;
		frag = opts->frag_max ? opts->frag_max : frag;
		frags = opts->sample_frags_max ? opts->sample_frags_max : frags;
		snap = opts->snap_len ? opts->snap_len : snap;
		chains = opts->chains_per_notify ? opts->chains_per_notify : chains;
		scan_us = opts->used_scan_us ? opts->used_scan_us : scan_us;
		pid = opts->pid;
	}
	if (!valid_ringbuf_size(rb_size) || frag > FRAG_CAP || frags > SAMPLE_FRAGS_CAP ||
	    snap > SNAP_CAP || chains > CHAINS_PER_NOTIFY_CAP || pid < 0) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (opts) {
		t->on_sample = opts->on_sample;
		t->ctx = opts->ctx;
	}
	t->pid_filter = pid;
	qm_init(&t->model, opts ? opts->ring : NULL, t->ctx);
	t->chains = calloc(CHAIN_ASSEMBLY_MAX, sizeof(*t->chains));
	if (!t->chains) {
		free(t);
		return NULL;
	}
	t->sample_max = frag * frags;
	t->skel = tracer_bpf__open();
	if (!t->skel) {
		err = -errno;
		goto fail;
	}
	t->skel->rodata->frag_max = frag;
	t->skel->rodata->sample_frags_max = frags;
	t->skel->rodata->snap_len = snap;
	t->skel->rodata->chains_per_notify = chains;
	t->skel->rodata->used_scan_ns = (__u64)scan_us * 1000;
	t->skel->rodata->target_tgid = pid;
	err = bpf_map__set_max_entries(t->skel->maps.events, rb_size);
	if (!err)
		err = select_tracepoints(t);
	if (!err)
		err = tracer_bpf__load(t->skel);
	if (!err)
		err = tracer_bpf__attach(t->skel);
	if (err)
		goto fail;
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		err = -errno;
		goto fail;
	}
	return t;
fail:
	gma_tracer_free(t);
	errno = -err;
	return NULL;
}

void gma_tracer_free(struct gma_tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tracer_bpf__destroy(t->skel);
	for (int i = 0; i < GMA_SAMPLE_REQ_MAX; i++) {
		free(t->pending[i].data);
		free(t->pending[i].state);
	}
	qm_free(&t->model);
	free(t->chains);
	free(t);
}

const char *gma_tracer_tracepoints(const struct gma_tracer *t)
{
	return t->tracepoints;
}

int gma_tracer_request_sample(struct gma_tracer *t, pid_t pid, __u64 gpa, __u32 len, __u64 *id)
{
	struct pending_sample *p = NULL;
	struct gma_sample_req req;
	int err;

	if (len == 0 || pid <= 0)
		return -EINVAL;
	if (len > t->sample_max)
		return -E2BIG;
	if (gpa + (len - 1) < gpa)
		return -EOVERFLOW;
	for (int i = 0; i < GMA_SAMPLE_REQ_MAX && !p; i++)
		if (!t->pending[i].used) {
			p = &t->pending[i];
			p->slot = i;
		}
	if (!p)
		return -EBUSY;
	p->data = calloc(1, len);
	p->state = malloc(len);
	if (!p->data || !p->state) {
		free(p->data);
		free(p->state);
		return -ENOMEM;
	}
	/* Bytes no fragment reaches are lost until a fragment says otherwise */
	memset(p->state, GMA_BYTE_LOST, len);
	p->used = true;
	p->pid = pid;
	p->id = ++t->next_id;
	p->gpa = gpa;
	p->len = len;
	p->frags_seen = 0;
	req = (struct gma_sample_req){
		.state = GMA_REQ_PENDING, .pid = pid, .sample_id = p->id, .gpa = gpa, .len = len
	};
	err = bpf_map__update_elem(t->skel->maps.sample_reqs, &p->slot, sizeof(p->slot), &req,
				   sizeof(req), BPF_ANY);
	if (err) {
		free(p->data);
		free(p->state);
		memset(p, 0, sizeof(*p));
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
		struct pending_sample *p = &t->pending[i];

		if (!p->used || p->pid != pid)
			continue;
		/* Only a request the kernel has not claimed can be taken back. */
		if (bpf_map__lookup_elem(t->skel->maps.sample_reqs, &i, sizeof(i), &req,
					 sizeof(req), 0) == 0 &&
		    req.state == GMA_REQ_PENDING) {
			__atomic_fetch_sub(&t->skel->bss->nr_pending, 1, __ATOMIC_SEQ_CST);
			release(t, p);
			n++;
		}
	}
	return n;
}

int gma_tracer_poll(struct gma_tracer *t, int timeout_ms)
{
	int err;

	t->handled = 0;
	err = ring_buffer__poll(t->rb, timeout_ms);
	if (err < 0 && err != -EINTR)
		return err;
	return t->handled;
}

__u64 gma_tracer_drops(const struct gma_tracer *t)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *per_cpu, sum = 0;
	__u32 zero = 0;

	if (ncpu <= 0)
		return 0;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return 0;
	if (bpf_map__lookup_elem(t->skel->maps.drops, &zero, sizeof(zero), per_cpu,
				 ncpu * sizeof(*per_cpu), 0) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += per_cpu[i];
	free(per_cpu);
	return sum;
}

__u64 gma_tracer_bad_records(const struct gma_tracer *t)
{
	return t->bad_records;
}

int gma_tracer_add_queue(struct gma_tracer *t, __u64 vm_id, __u64 base, int queue, __u64 desc,
			 __u64 driver, __u64 device, __u32 num, __u32 device_id)
{
	struct mmio_key key = { .vm_id = vm_id, .base = base };
	struct bpf_map *devs = t->skel->maps.mmio_devs;
	struct vm_devs vd = {};
	struct mmio_dev dev = {};
	struct gma_queue_key qkey = { .vm_id = vm_id, .base = base };
	int err;

	if (base & (0x200 - 1))
		return -EINVAL;
	if (queue >= QUEUES_MAX)
		return -E2BIG;
	if (queue >= 0 && (!num || num > 32768 || !desc))
		return -EINVAL;
	bpf_map__lookup_elem(devs, &key, sizeof(key), &dev, sizeof(dev), 0);
	if (device_id)
		dev.device_id = device_id;
	if (queue >= 0) {
		dev.q[queue] = (struct vq_state){ .desc = desc,
						  .driver = driver,
						  .device = device,
						  .num = num,
						  .flags = GMA_QUEUE_READY | GMA_QUEUE_FROM_USER };
	}
	err = bpf_map__update_elem(devs, &key, sizeof(key), &dev, sizeof(dev), BPF_ANY);
	if (err)
		return err;
	/* so vCPU exits look at its used rings */
	bpf_map__lookup_elem(t->skel->maps.vm_devs, &vm_id, sizeof(vm_id), &vd, sizeof(vd), 0);
	for (__u32 i = 0; i < vd.n && i < VM_DEVS_MAX; i++)
		if (vd.bases[i] == base)
			goto known;
	if (vd.n < VM_DEVS_MAX)
		vd.bases[vd.n++] = base;
	err = bpf_map__update_elem(t->skel->maps.vm_devs, &vm_id, sizeof(vm_id), &vd, sizeof(vd),
				   BPF_ANY);
	if (err)
		return err;
known:
	if (queue >= 0) {
		qkey.queue = queue;
		qm_add_queue(&t->model, &qkey, desc, driver, device, num, device_id);
	}
	return 0;
}

int gma_tracer_check_stuck(struct gma_tracer *t, __u64 stuck_ns)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return qm_check_stuck(&t->model, now.tv_sec * 1000000000ULL + now.tv_nsec, stuck_ns);
}

int gma_tracer_queue_stats(struct gma_tracer *t, struct gma_queue_stats **stats, size_t *n)
{
	return qm_stats(&t->model, stats, n);
}

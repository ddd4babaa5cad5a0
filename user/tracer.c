// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer's loader and the reassembly of samples: fragments from the ring buffer are put
 * back into contiguous buffers with a per-byte state, checked against the request they answer
 * (the request is ours; only its bytes come from the guest).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>
#include <gma/record.h>

#include "tracer.skel.h"

#define FRAG_CAP 4096
#define SAMPLE_FRAGS_CAP 64
#define RINGBUF_DEFAULT (4u << 20)

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
	int handled;
	char tracepoints[128];
	struct pending_sample pending[GMA_SAMPLE_REQ_MAX];
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

/* A fragment must lie inside its request and carry exactly the bytes its status promises. */
static int on_fragment(struct gma_tracer *t, const struct gma_rec_fragment *f, size_t size)
{
	struct pending_sample *p = find_pending(t, f->sample_id);
	__u64 off;

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
	if (h->type == GMA_REC_FRAGMENT && size >= sizeof(struct gma_rec_fragment))
		err = on_fragment(t, data, size);
	else if (h->type == GMA_REC_SAMPLE_END && size >= sizeof(struct gma_rec_sample_end))
		err = on_sample_end(t, data);
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
	int err;

	if (opts && opts->sz < sizeof(size_t)) {
		errno = EINVAL;
		return NULL;
	}
	if (opts) {
		rb_size = opts->ringbuf_size ? opts->ringbuf_size : rb_size;
		frag = opts->frag_max ? opts->frag_max : frag;
		frags = opts->sample_frags_max ? opts->sample_frags_max : frags;
	}
	if (!valid_ringbuf_size(rb_size) || frag > FRAG_CAP || frags > SAMPLE_FRAGS_CAP) {
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
	t->sample_max = frag * frags;
	t->skel = tracer_bpf__open();
	if (!t->skel) {
		err = -errno;
		goto fail;
	}
	t->skel->rodata->frag_max = frag;
	t->skel->rodata->sample_frags_max = frags;
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

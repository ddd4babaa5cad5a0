// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer's loader and the reassembly of samples: fragments from the ring buffer are put
 * back into contiguous buffers with a per-byte state, checked against the request they answer
 * (the request is ours; only its bytes come from the guest).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>
#include <gma/record.h>
#include <gma/virtio.h>
#include <gma/vring_walk.h>

#include "gma_internal.h"
#include "record_reader.h"
#include "tracer.h"
#include "tracer.skel.h"
#include "virtio_pci_regs.h" /* pci_ecam_valid, pci_msix_ctrl */

/*
 * Guest memory of one traced VM as userspace reads it (process_vm_readv through the
 * accessor), for the ring poll and imports: rebuilt when KVM's memslot generation changes.
 */
struct vm_reader {
	__u64 vm_id;
	pid_t pid;
	__u64 generation;
	__u64 listed_ns; /* when the VM list was last read for it */
	struct gma_mem *mem;
};

struct ring_look;

#define VM_READERS_MAX 16

/* A registration as the ioeventfds map holds it. */
struct ioeventfd_entry {
	struct ioeventfd_key key;
	struct ioeventfd_val val;
};

struct gma_tracer {
	struct tracer_bpf *skel;
	struct ring_buffer *rb;
	__u32 sample_max;
	__u64 next_id;
	char tracepoints[128];
	struct record_reader reader;
	/* the userspace poll of every known queue's indices (gma_tracer_opts.ring_poll_ms) */
	__u64 ring_poll_ns;
	__u64 last_ring_poll_ns;
	struct gma_vm_lister *lister;
	struct vm_reader vm_readers[VM_READERS_MAX];
	size_t nr_vm_readers;
	struct ring_look *looks; /* one poll's reads, before they are applied */
	size_t cap_looks;
	bool irq_traced; /* kvm_set_irq attached: interrupt injection is observable */
	bool msi_traced; /* kvm_msi_set_irq attached: MSI injection is observable */
	bool fast_mmio; /* a VMX host: ioeventfd writes may come as kvm_fast_mmio, without data */
	pid_t pid; /* gma_tracer_opts.pid: only this VMM's VMs */
	__u64 ioeventfds_listed_ns; /* when the ioeventfds map was last filled */
	int ioeventfds_err; /* of the last fill: 0, or why it failed */
	/*
	 * The last registrations of VMs no longer listed (exited): their unexplained notifies
	 * still name the registration they hit. Up to IOEVENTFDS_MAX, the oldest replaced.
	 */
	struct ioeventfd_entry *gone;
	size_t nr_gone, next_gone;
};

/* The request's slot in the BPF map is free again. */
static void release_slot(void *owner, __u32 slot)
{
	struct gma_tracer *t = owner;
	struct gma_sample_req req = { .state = GMA_REQ_FREE };

	bpf_map__update_elem(t->skel->maps.sample_reqs, &slot, sizeof(slot), &req, sizeof(req),
			     BPF_ANY);
}

static __u64 now_ns(void);
static int sync_ioeventfds(struct gma_tracer *t);

static int on_record(void *ctx, void *data, size_t size)
{
	rr_feed(ctx, data, size); /* malformed records are counted by the reader */
	return 0;
}

/* The userspace ring poll's period (gma_tracer_opts.ring_poll_ms). */
#define RING_POLL_MS_DEFAULT 100
#define RING_POLL_MS_MIN 10
/* How often the ioeventfds map is filled again from the VM list (registrations change). */
#define IOEVENTFD_REFRESH_NS 1000000000ULL
/* Used elements one poll reads per queue; past it they are counted, not read. */
#define RING_POLL_ELEMS_MAX 256

/*
 * Tracepoints the tracer can use; the vCPU-carrying ones tell which VM a thread runs and
 * serve sample requests. With hardware virtualization kvm_exit fires on every exit, and
 * kvm_entry and kvm_page_fault only around one: they are loaded only on a kernel without
 * kvm_exit (each vCPU program is a verification of its own at load, and a run at each hit).
 * kvm_emulate_insn is kept beside kvm_exit: KVM emulating in software never exits.
 */
static const struct {
	const char *name;
	bool carries_vcpu;
	bool unless_kvm_exit;
} tracepoints[] = {
	{ .name = "kvm_exit", .carries_vcpu = true },
	{ .name = "kvm_entry", .carries_vcpu = true, .unless_kvm_exit = true },
	{ .name = "kvm_emulate_insn", .carries_vcpu = true },
	{ .name = "kvm_page_fault", .carries_vcpu = true, .unless_kvm_exit = true },
	{ .name = "kvm_pio" },
	{ .name = "kvm_mmio" },
	{ .name = "kvm_fast_mmio" },
	{ .name = "kvm_set_irq" },
	{ .name = "kvm_msi_set_irq" },
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

/*
 * The arguments of tracepoint `name` (its btf_trace_ typedef's prototype, less the context),
 * -1 when not found. kvm_set_irq(gsi, level, irq_source_id) and kvm_msi_set_irq(address,
 * data) are read by position: a kernel that changed their arguments gets no program on them,
 * rather than one that fails to load.
 */
static int tracepoint_nargs(struct btf *vmlinux, struct btf *kvm, const char *name)
{
	struct btf *btfs[] = { kvm, vmlinux };
	char tname[64];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	for (size_t i = 0; i < 2; i++) {
		const struct btf_type *t;
		int id;

		if (!btfs[i] ||
		    (id = btf__find_by_name_kind(btfs[i], tname, BTF_KIND_TYPEDEF)) <= 0)
			continue;
		t = btf__type_by_id(btfs[i], btf__resolve_type(btfs[i], id));
		if (t && btf_is_ptr(t))
			t = btf__type_by_id(btfs[i], t->type);
		return t && btf_is_func_proto(t) ? (int)btf_vlen(t) - 1 : -1;
	}
	return -1;
}

/* Turns off the programs whose tracepoint the kernel lacks; -ENODEV when no vCPU one is left. */
static int select_tracepoints(struct gma_tracer *t)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm = NULL;
	bool any_vcpu = false, have_exit;
	size_t i, pos = 0;

	if (!vmlinux)
		return -ENOENT;
	kvm = btf__load_module_btf("kvm", vmlinux); /* NULL where KVM is built in */
	have_exit = have_tracepoint(vmlinux, kvm, "kvm_exit");
	for (i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		bool have = have_tracepoint(vmlinux, kvm, tracepoints[i].name) &&
			    !(tracepoints[i].unless_kvm_exit && have_exit);

		if (have && !strcmp(tracepoints[i].name, "kvm_set_irq"))
			have = tracepoint_nargs(vmlinux, kvm, "kvm_set_irq") == 3;
		if (have && !strcmp(tracepoints[i].name, "kvm_msi_set_irq"))
			have = tracepoint_nargs(vmlinux, kvm, "kvm_msi_set_irq") == 2;

		bpf_program__set_autoload(tracepoint_prog(t->skel, tracepoints[i].name), have);
		if (!have)
			continue;
		if (!strcmp(tracepoints[i].name, "kvm_set_irq"))
			t->irq_traced = true;
		if (!strcmp(tracepoints[i].name, "kvm_msi_set_irq"))
			t->msi_traced = true;
		any_vcpu |= tracepoints[i].carries_vcpu;
		pos += snprintf(t->tracepoints + pos, sizeof(t->tracepoints) - pos, "%s%s",
				pos ? " " : "", tracepoints[i].name);
	}
	/*
	 * Only VMX hands an ioeventfd write to the fast path (handle_ept_misconfig), which
	 * carries no data: /sys/module/kvm_intel exists where kvm_intel is loaded or built in.
	 */
	t->fast_mmio = !access("/sys/module/kvm_intel", F_OK);
	btf__free(kvm);
	btf__free(vmlinux);
	return any_vcpu ? 0 : -ENODEV;
}

static bool valid_ringbuf_size(__u32 sz)
{
	long page = sysconf(_SC_PAGESIZE);

	return sz >= (__u32)page && !(sz & (sz - 1)) && !(sz % page);
}

struct gma_tracer *gma_tracer_new(const struct gma_tracer_opts *opts)
{
	struct gma_tracer *t;
	__u32 rb_size = RINGBUF_SIZE_DEFAULT, frag = FRAG_CAP, frags = SAMPLE_FRAGS_CAP;
	__u32 snap = SNAP_LEN_DEFAULT, chains = CHAINS_PER_NOTIFY_DEFAULT;
	__u32 scan_us = USED_SCAN_US_DEFAULT, poll_ms;
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	const char *btf_path = NULL;
	pid_t pid = 0;
	int err;

	if (!OPTS_VALID(opts, gma_tracer_opts) ||
	    !OPTS_VALID(OPTS_GET(opts, ring, NULL), gma_ring_callbacks)) {
		errno = EINVAL;
		return NULL;
	}
	rb_size = OPTS_GET(opts, ringbuf_size, 0) ?: rb_size;
	frag = OPTS_GET(opts, frag_max, 0) ?: frag;
	frags = OPTS_GET(opts, sample_frags_max, 0) ?: frags;
	snap = OPTS_GET(opts, snap_len, 0) ?: snap;
	if (snap == GMA_SNAP_NONE)
		snap = 0;
	chains = OPTS_GET(opts, chains_per_notify, 0) ?: chains;
	scan_us = OPTS_GET(opts, used_scan_us, 0) ?: scan_us;
	poll_ms = OPTS_GET(opts, ring_poll_ms, 0) ?: RING_POLL_MS_DEFAULT;
	pid = OPTS_GET(opts, pid, 0);
	btf_path = OPTS_GET(opts, btf_path, NULL);
	if (!valid_ringbuf_size(rb_size) || frag > FRAG_CAP || frags > SAMPLE_FRAGS_CAP ||
	    snap > SNAP_CAP || chains > CHAINS_PER_NOTIFY_CAP || pid < 0 ||
	    (poll_ms < RING_POLL_MS_MIN && poll_ms != GMA_RING_POLL_OFF)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (rr_init(&t->reader, OPTS_GET(opts, on_sample, NULL), OPTS_GET(opts, ctx, NULL),
		    OPTS_GET(opts, ring, NULL))) {
		rr_free(&t->reader);
		free(t);
		return NULL;
	}
	t->ring_poll_ns = poll_ms == GMA_RING_POLL_OFF ? 0 : (__u64)poll_ms * 1000000;
	t->pid = pid;
	t->reader.release_slot = release_slot;
	t->reader.owner = t;
	t->sample_max = frag * frags;
	open_opts.btf_custom_path = btf_path;
	t->skel = tracer_bpf__open_opts(&open_opts);
	if (!t->skel) {
		err = -errno;
		goto fail;
	}
	t->skel->rodata->frag_max = frag;
	t->skel->rodata->sample_frags_max = frags;
	t->skel->rodata->snap_len = snap;
	t->skel->rodata->chains_per_notify = chains;
	t->skel->rodata->indices_only = OPTS_GET(opts, indices_only, false);
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
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, &t->reader, NULL);
	if (!t->rb) {
		err = -errno;
		goto fail;
	}
	/*
	 * The ring poll's VM lister loads a BPF iterator (BTF, verification: 0.6 s on a loaded
	 * host): done now, before the caller starts reading, rather than at the first queue,
	 * when nothing drains the ring buffer meanwhile (a 256 KiB one overflowed at 300
	 * notifies/s). On failure vm_memory() tries again later, as before.
	 */
	if (t->ring_poll_ns)
		t->lister = gma_vm_lister_new();
	/*
	 * The ioeventfd registrations, through the same lister (loaded now if not yet); a
	 * failure is kept for gma_tracer_ioeventfds_error(): the trace works without them.
	 */
	sync_ioeventfds(t);
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

/* --- KVM's ioeventfd registrations, and the notifies no known queue explains --------------- */

static int ioeventfd_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ioeventfd_key));
}

/*
 * The registrations of the traced VM (or every VM) as the map's entries, sorted by key, those
 * at one address merged (IOEVENTFD_MULTI). -E2BIG when some are left out: past the map's
 * size, or past what the VM lister lists of a VM (its ioeventfds_more).
 */
static int collect_ioeventfds(const struct gma_tracer *t, const struct gma_vm *vms, size_t nvms,
			      struct ioeventfd_entry *e, size_t *n_out)
{
	size_t n = 0, k = 0;
	int err = 0;

	for (size_t i = 0; i < nvms; i++) {
		if (t->pid && vms[i].pid != t->pid)
			continue;
		if (vms[i].ioeventfds_more || (vms[i].flags & GMA_VM_IOEVENTFDS_INCOMPLETE))
			err = -E2BIG;
		for (size_t r = 0; r < vms[i].nr_ioeventfds; r++) {
			const struct gma_ioeventfd *io = &vms[i].ioeventfds[r];

			if (n == IOEVENTFDS_MAX) {
				err = -E2BIG;
				break;
			}
			e[n++] = (struct ioeventfd_entry){
				.key = { .vm_id = vms[i].id, .addr = io->addr, .bus = io->bus },
				.val = { .datamatch = io->datamatch,
					 .len = io->len,
					 .flags = io->wildcard ? IOEVENTFD_WILDCARD : 0 },
			};
		}
	}
	qsort(e, n, sizeof(*e), ioeventfd_key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && !ioeventfd_key_cmp(&e[k - 1].key, &e[i].key)) {
			e[k - 1].val.flags |= IOEVENTFD_MULTI;
			continue;
		}
		e[k++] = e[i];
	}
	*n_out = k;
	return err;
}

static bool vm_listed(const struct gma_vm *vms, size_t n, __u64 vm_id)
{
	for (size_t i = 0; i < n; i++)
		if (vms[i].id == vm_id)
			return true;
	return false;
}

/* Keeps the registration at k of a VM that exited (t->gone), before the map forgets it. */
static void remember_gone(struct gma_tracer *t, const struct ioeventfd_key *k)
{
	struct ioeventfd_entry g = { .key = *k };

	if (bpf_map__lookup_elem(t->skel->maps.ioeventfds, k, sizeof(*k), &g.val, sizeof(g.val), 0))
		return;
	if (!t->gone && !(t->gone = calloc(IOEVENTFDS_MAX, sizeof(*t->gone))))
		return;
	t->gone[t->next_gone] = g;
	t->next_gone = (t->next_gone + 1) % IOEVENTFDS_MAX;
	if (t->nr_gone < IOEVENTFDS_MAX)
		t->nr_gone++;
}

/* The registration at rk: the VM's as KVM holds it now, or as it was when the VM exited. */
static int registration_of(const struct gma_tracer *t, const struct ioeventfd_key *rk,
			   struct ioeventfd_val *rv)
{
	if (!bpf_map__lookup_elem(t->skel->maps.ioeventfds, rk, sizeof(*rk), rv, sizeof(*rv), 0))
		return 0;
	/* newest first: a struct kvm address an exited VM had may have been another's since */
	for (size_t j = 1; j <= t->nr_gone; j++) {
		const struct ioeventfd_entry *g =
			&t->gone[(t->next_gone + IOEVENTFDS_MAX - j) % IOEVENTFDS_MAX];

		if (!ioeventfd_key_cmp(&g->key, rk)) {
			*rv = g->val;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The ioeventfds map made equal to the registrations KVM holds now, for the traced VM (or
 * every VM): the ones no longer registered deleted, then the others added or updated. 0 or
 * -errno: the VM lister could not run, or -E2BIG when some registrations are not followed;
 * remembered for gma_tracer_ioeventfds_error().
 */
static int sync_ioeventfds(struct gma_tracer *t)
{
	struct bpf_map *map = t->skel->maps.ioeventfds;
	struct ioeventfd_entry *e = NULL;
	struct ioeventfd_key k, next;
	struct gma_vm *vms = NULL;
	size_t n = 0, nvms = 0;
	int err, uerr = 0;
	bool more;

	t->ioeventfds_listed_ns = now_ns();
	if (!t->lister && !(t->lister = gma_vm_lister_new())) {
		err = -errno;
		goto out;
	}
	err = gma_vm_lister_list(t->lister, &vms, &nvms);
	if (err)
		goto out;
	e = calloc(IOEVENTFDS_MAX, sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto out;
	}
	err = collect_ioeventfds(t, vms, nvms, e, &n);
	/* the stale ones first, so the map has room: a key is deleted once its successor is known */
	more = !bpf_map__get_next_key(map, NULL, &k, sizeof(k));
	while (more) {
		more = !bpf_map__get_next_key(map, &k, &next, sizeof(next));
		if (!bsearch(&k, e, n, sizeof(*e), ioeventfd_key_cmp)) {
			if (!vm_listed(vms, nvms, k.vm_id))
				remember_gone(t, &k);
			bpf_map__delete_elem(map, &k, sizeof(k), 0);
		}
		k = next;
	}
	for (size_t i = 0; i < n && !uerr; i++)
		uerr = bpf_map__update_elem(map, &e[i].key, sizeof(e[i].key), &e[i].val,
					    sizeof(e[i].val), BPF_ANY);
	err = uerr ?: err;
out:
	gma_vms_free(vms, nvms);
	free(e);
	t->ioeventfds_err = err;
	return err;
}

int gma_tracer_ioeventfds_error(const struct gma_tracer *t)
{
	return t->ioeventfds_err;
}

int gma_tracer_unexplained_notifies(struct gma_tracer *t, struct gma_unexplained_notify **out,
				    size_t *n_out, __u64 *overflow)
{
	struct bpf_map *map = t->skel->maps.unexplained;
	struct unexplained_key k, next;
	struct gma_unexplained_notify *a;
	struct unexplained_val v;
	size_t n = 0;
	bool more;

	*out = NULL;
	*n_out = 0;
	if (overflow)
		*overflow = t->skel->bss->unexplained_overflow;
	a = calloc(UNEXPLAINED_MAX, sizeof(*a));
	if (!a)
		return -ENOMEM;
	more = !bpf_map__get_next_key(map, NULL, &next, sizeof(next));
	while (more && n < UNEXPLAINED_MAX) {
		struct ioeventfd_key rk;
		struct ioeventfd_val rv;
		struct gma_unexplained_notify *u = &a[n];

		k = next;
		more = !bpf_map__get_next_key(map, &k, &next, sizeof(next));
		if (bpf_map__lookup_elem(map, &k, sizeof(k), &v, sizeof(v), 0))
			continue; /* deleted meanwhile: there is no deleting here, never happens */
		*u = (struct gma_unexplained_notify){ .vm_id = k.vm_id,
						      .pid = v.pid,
						      .bus = k.bus,
						      .addr = k.addr,
						      .data = k.data,
						      .count = v.count,
						      .first_ns = v.first_ns,
						      .last_ns = v.last_ns };
		rk = (struct ioeventfd_key){ .vm_id = k.vm_id, .addr = k.addr, .bus = k.bus };
		if (!registration_of(t, &rk, &rv)) {
			u->reg_len = rv.len;
			u->reg_wildcard = rv.flags & IOEVENTFD_WILDCARD;
			u->reg_shared = rv.flags & IOEVENTFD_MULTI;
			u->reg_datamatch = rv.datamatch;
		}
		n++;
	}
	*out = a;
	*n_out = n;
	return 0;
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

/* --- userspace's look at the rings ------------------------------------------------------ */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return (__u64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The guest memory of VM vm_id as its VMM maps it, or NULL when the VM is gone or not listed.
 * Listed again after vm_memory_stale() (a read failed: a memslot may have moved, KVM's
 * generation tells), at most once per ring poll period for a VM that cannot be found.
 */
static struct gma_mem *vm_memory(struct gma_tracer *t, __u64 vm_id)
{
	struct vm_reader *r = NULL;
	struct gma_region *regions;
	const struct gma_vm *vm = NULL;
	struct gma_vm *vms;
	size_t n, nr;
	__u64 now = now_ns();

	for (size_t i = 0; i < t->nr_vm_readers; i++)
		if (t->vm_readers[i].vm_id == vm_id)
			r = &t->vm_readers[i];
	if (r && (r->mem || now - r->listed_ns < t->ring_poll_ns))
		return r->mem;
	if (!r && t->nr_vm_readers == VM_READERS_MAX)
		return NULL;
	if (!r) {
		r = &t->vm_readers[t->nr_vm_readers++];
		memset(r, 0, sizeof(*r));
		r->vm_id = vm_id;
	}
	r->listed_ns = now;
	if (!t->lister && !(t->lister = gma_vm_lister_new()))
		return NULL;
	if (gma_vm_lister_list(t->lister, &vms, &n))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (vms[i].id == vm_id)
			vm = &vms[i];
	if (vm && !gma_vm_regions(vm, &regions, &nr)) {
		r->mem = gma_mem_new_process(vm->pid, regions, nr);
		r->pid = vm->pid;
		r->generation = vm->generation;
		free(regions);
	}
	gma_vms_free(vms, n);
	return r->mem;
}

/*
 * A read through VM vm_id's memory failed: list the VM again at a next use, no sooner than a
 * ring poll period after the last listing, or at once with now.
 */
static void vm_memory_stale(struct gma_tracer *t, __u64 vm_id, bool now)
{
	for (size_t i = 0; i < t->nr_vm_readers; i++)
		if (t->vm_readers[i].vm_id == vm_id) {
			gma_mem_free(t->vm_readers[i].mem);
			t->vm_readers[i].mem = NULL;
			if (now)
				t->vm_readers[i].listed_ns = 0;
		}
}

static int read_idx(struct gma_mem *mem, __u64 gpa, __u16 *v)
{
	return gma_mem_read_obj(mem, gpa, v, sizeof(*v));
}

/* What one look at a queue's rings read from guest memory. */
struct ring_look {
	struct gma_queue_key key;
	pid_t pid;
	bool indices_known; /* the model knew where the used ring was before this look */
	__u16 avail;
	__u16 used;
	__u16 from; /* the used elements read: [from, from + nr_elems) */
	__u16 nr_elems;
	bool fields_known; /* fields read too (the health verdicts' evidence) */
	struct qm_ring_fields fields;
	struct gma_vring_used_elem elems[RING_POLL_ELEMS_MAX];
};

/* The flags and event-index words beside the indices: 0, or -EFAULT. */
static int read_ring_fields(struct gma_mem *mem, const struct gma_queue_stats *st,
			    struct qm_ring_fields *f)
{
	__u64 ring_end = GMA_VRING_RING_OFF + 2ULL * st->num; /* avail ring: used_event */
	__u64 used_end = gma_vring_used_elem_off(st->num); /* used ring: avail_event */

	if (read_idx(mem, st->driver, &f->avail_flags) ||
	    read_idx(mem, st->device, &f->used_flags) ||
	    read_idx(mem, st->driver + ring_end, &f->used_event) ||
	    read_idx(mem, st->device + used_end, &f->avail_event))
		return -EFAULT;
	return 0;
}

/*
 * Reads one queue's indices, and the used elements past the model's used index, into l.
 * 0, or -EFAULT when the rings could not be read.
 */
static int look_at_queue(struct gma_mem *mem, const struct gma_queue_stats *st, struct ring_look *l)
{
	__u16 n;

	if (read_idx(mem, st->driver + GMA_VRING_AVAIL_IDX_OFF, &l->avail) ||
	    read_idx(mem, st->device + GMA_VRING_USED_IDX_OFF, &l->used))
		return -EFAULT;
	l->indices_known = st->indices_known;
	l->fields_known = !read_ring_fields(mem, st, &l->fields);
	l->from = st->last_used;
	l->nr_elems = 0;
	n = (__u16)(l->used - l->from);
	if (!l->indices_known || (__s16)n <= 0)
		return 0;
	if (n > RING_POLL_ELEMS_MAX)
		n = RING_POLL_ELEMS_MAX; /* the rest counted, not read */
	while (l->nr_elems < n &&
	       !gma_mem_read_obj(mem,
				 st->device + gma_vring_used_elem_off(
						      (__u16)(l->from + l->nr_elems) % st->num),
				 &l->elems[l->nr_elems], sizeof(l->elems[0])))
		l->nr_elems++;
	return 0;
}

/*
 * A look's results, fed to the model as the kernel's records are: the avail index, and the
 * completions as USED records (the model counts each completion once, whoever saw it first).
 */
static void apply_look(struct gma_tracer *t, const struct ring_look *l)
{
	__u32 delta = (__u16)(l->used - l->from), done = 0;
	struct gma_rec_used rec;

	qm_on_avail_idx(&t->reader.model, &l->key, l->avail, now_ns());
	if (!l->indices_known || !delta || (__s16)delta < 0) {
		rec = (struct gma_rec_used){ .key = l->key,
					     .ts_ns = now_ns(),
					     .pid = l->pid,
					     .used_old = l->used,
					     .used_new = l->used };
		if (!l->indices_known)
			qm_on_used(&t->reader.model, &rec); /* where the used ring is now */
		goto fields;
	}
	while (done < delta) {
		memset(&rec, 0, sizeof(rec));
		rec.key = l->key;
		rec.ts_ns = now_ns();
		rec.pid = l->pid;
		rec.used_old = (__u16)(l->from + done);
		while (rec.nr_elems < GMA_USED_ELEM_MAX && done < l->nr_elems) {
			rec.elems[rec.nr_elems].id = l->elems[done].id;
			rec.elems[rec.nr_elems].len = l->elems[done].len;
			rec.nr_elems++;
			done++;
		}
		if (!rec.nr_elems) {
			rec.nr_skipped = delta - done; /* past what one look reads, or unreadable */
			done = delta;
		}
		rec.used_new = (__u16)(l->from + done);
		qm_on_used(&t->reader.model, &rec);
	}
fields:
	if (l->fields_known)
		qm_on_ring_fields(&t->reader.model, &l->key, &l->fields, now_ns());
}

/*
 * Every known queue's indices, read from the guest: the model follows the rings. The rings
 * are read first and the ring buffer drained after: a chain the device completed was made
 * available, and its record written by the kernel, before the look, so the model has the
 * chain before the look's completion of it.
 */
static void poll_rings(struct gma_tracer *t)
{
	const struct gma_queue_key *key;
	const struct gma_queue_stats *st;
	size_t n = 0;

	for (size_t i = 0; (st = qm_queue_at(&t->reader.model, i, &key)); i++) {
		struct ring_look *l;
		struct gma_mem *mem;

		if (!st->num || !st->driver || !st->device || (st->flags & GMA_QUEUE_PACKED) ||
		    !(st->flags & GMA_QUEUE_READY))
			continue;
		if (n == t->cap_looks) {
			size_t cap = t->cap_looks ? 2 * t->cap_looks : 8;
			void *p = realloc(t->looks, cap * sizeof(*t->looks));

			if (!p)
				break;
			t->looks = p;
			t->cap_looks = cap;
		}
		l = &t->looks[n];
		l->key = *key;
		l->pid = st->pid;
		mem = vm_memory(t, key->vm_id);
		if (!mem || look_at_queue(mem, st, l)) {
			vm_memory_stale(t, key->vm_id, false); /* a slot may have moved */
			continue;
		}
		n++;
	}
	ring_buffer__consume(t->rb);
	for (size_t i = 0; i < n; i++)
		apply_look(t, &t->looks[i]);
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
		poll_rings(t);
	}
	if (now - t->ioeventfds_listed_ns >= IOEVENTFD_REFRESH_NS)
		sync_ioeventfds(t);
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

/* A queue's state at import: the model's start, and the chains then in flight. */
struct import_state {
	struct qm_ring_state ring;
	struct gma_ring *decoded; /* gma_ring_read(): chains from its own used index on */
	__u32 first; /* decoded->chains[first] is at ring.used_idx */
	__u32 nr_chains; /* from first: those below ring.avail_idx, in order */
	pid_t pid;
};

/*
 * A queue's current state read from the guest at import: its indices, and the chains in
 * flight (avail ring entries from used to avail, at most num) decoded once as gma_ring_read()
 * decodes them (the model takes their heads, the caller lists them). The decode reads the
 * indices again: of its chains, those between the indices read first are kept (a device or
 * driver that moved in between changes which). 0, or -errno when the indices cannot be read
 * (a driver that has not set the queue up: the first look learns it instead).
 */
static int read_ring_state(struct gma_tracer *t, __u64 vm_id, const struct gma_queue_layout *l,
			   struct import_state *st)
{
	GMA_OPTS(gma_ring_read_opts, opts, .snap_len = t->skel->rodata->snap_len);
	struct qm_ring_state *ring = &st->ring;
	struct gma_ring *r;
	struct gma_mem *mem;
	__u16 *heads;
	__u32 n, skip;
	int err;

	vm_memory_stale(t, vm_id, true); /* the memslots as they are now */
	mem = vm_memory(t, vm_id);
	if (!mem || !l->driver || !l->device || l->flags & GMA_QUEUE_PACKED)
		return -ENOENT;
	for (size_t i = 0; i < t->nr_vm_readers; i++)
		if (t->vm_readers[i].vm_id == vm_id)
			st->pid = t->vm_readers[i].pid;
	if (read_idx(mem, l->driver + GMA_VRING_AVAIL_IDX_OFF, &ring->avail_idx) ||
	    read_idx(mem, l->device + GMA_VRING_USED_IDX_OFF, &ring->used_idx))
		return -EFAULT;
	n = (__u16)(ring->avail_idx - ring->used_idx);
	if (n > l->num)
		n = l->num; /* a hostile index: the model flags nothing here, the ring shows it */
	err = gma_ring_read(mem, l, &opts, &r);
	if (err)
		return err;
	st->decoded = r;
	/* the decode's chains that lie in [used_idx, avail_idx) as read above: a contiguous run */
	skip = (__u16)(ring->used_idx - r->used_idx);
	if ((__s16)skip < 0 || skip > r->nr_chains)
		skip = r->nr_chains; /* the device went back: the ring shows it, nothing listed */
	st->first = skip;
	while (st->nr_chains < r->nr_chains - skip && st->nr_chains < n &&
	       (__u16)(r->chains[skip + st->nr_chains].avail_pos - ring->used_idx) < n)
		st->nr_chains++;
	heads = calloc(st->nr_chains ? st->nr_chains : 1, sizeof(*heads));
	if (!heads)
		return -ENOMEM;
	for (__u32 i = 0; i < st->nr_chains; i++)
		heads[i] = r->chains[skip + i].head;
	ring->heads = heads;
	ring->nr_heads = st->nr_chains;
	return 0;
}

/* The chains in flight at import, to the caller's on_attach (the first GMA_ATTACH_CHAINS_MAX). */
static void report_attach(struct gma_tracer *t, const struct gma_queue_key *key, __u32 device_id,
			  const struct gma_queue_layout *l, const struct import_state *st)
{
	const struct gma_ring_callbacks *cb = &t->reader.model.cb;
	struct gma_attach_chains a = { .key = key, .device_id = device_id, .pid = st->pid };

	if (!cb->on_attach)
		return;
	a.in_flight = (__u16)(st->ring.avail_idx - st->ring.used_idx);
	if (a.in_flight > l->num)
		a.in_flight = l->num;
	if (!a.in_flight)
		return;
	a.ts_ns = now_ns();
	a.anomalies = st->decoded ? st->decoded->anomalies : 0;
	a.nr_chains = st->nr_chains < GMA_ATTACH_CHAINS_MAX ? st->nr_chains : GMA_ATTACH_CHAINS_MAX;
	a.not_listed = a.in_flight - a.nr_chains;
	a.chains = st->decoded && a.nr_chains ? &st->decoded->chains[st->first] : NULL;
	cb->on_attach(t->reader.model.ctx, &a);
}

/* Device base of VM vm_id in its vm_devs entry, so vCPU exits look at its used rings. */
static int remember_vm_device(struct gma_tracer *t, __u64 vm_id, __u64 base)
{
	struct vm_devs vd = {};

	bpf_map__lookup_elem(t->skel->maps.vm_devs, &vm_id, sizeof(vm_id), &vd, sizeof(vd), 0);
	for (__u32 i = 0; i < vd.n && i < VM_DEVS_MAX; i++)
		if (vd.bases[i] == base)
			return 0;
	if (vd.n < VM_DEVS_MAX)
		vd.bases[vd.n++] = base;
	return bpf_map__update_elem(t->skel->maps.vm_devs, &vm_id, sizeof(vm_id), &vd, sizeof(vd),
				    BPF_ANY);
}

int gma_tracer_add_queue(struct gma_tracer *t, __u64 vm_id, __u64 base, int queue,
			 const struct gma_queue_layout *layout, __u32 device_id)
{
	struct dev_key key = { .vm_id = vm_id, .base = base };
	struct bpf_map *devs = t->skel->maps.devices;
	struct virtio_dev dev = {};
	struct gma_queue_key qkey = { .vm_id = vm_id, .base = base };
	struct import_state st = {};
	bool have_ring = false;
	int err;

	if (!GMA_KEY_IS_PCI(base) && (base & (0x200 - 1)))
		return -EINVAL;
	if (layout && queue < 0)
		return -EINVAL;
	if (queue >= QUEUES_MAX)
		return -E2BIG;
	if (layout && (!layout->num || layout->num > GMA_QUEUE_NUM_MAX || !layout->desc))
		return -EINVAL;
	bpf_map__lookup_elem(devs, &key, sizeof(key), &dev, sizeof(dev), 0);
	if (device_id)
		dev.device_id = device_id;
	if (layout) {
		dev.q[queue] = (struct vq_state){ .desc = layout->desc,
						  .driver = layout->driver,
						  .device = layout->device,
						  .num = layout->num,
						  .flags = GMA_QUEUE_READY | GMA_QUEUE_FROM_USER };
		/* the ring as it is now: the kernel walks only what comes after */
		have_ring = !read_ring_state(t, vm_id, layout, &st);
		if (have_ring) {
			dev.q[queue].last_avail = st.ring.avail_idx;
			dev.q[queue].last_used = st.ring.used_idx;
			dev.q[queue].avail_known = dev.q[queue].used_known = 1;
		}
	}
	err = bpf_map__update_elem(devs, &key, sizeof(key), &dev, sizeof(dev), BPF_ANY);
	if (!err)
		err = remember_vm_device(t, vm_id, base);
	if (err)
		goto out;
	if (layout && GMA_KEY_IS_PCI(base)) {
		/* its notifies cannot be decoded: the BARs were not seen (bpf/ioeventfd.bpf.h) */
		__u64 bits = 0;

		bpf_map__lookup_elem(t->skel->maps.given_pci_queues, &vm_id, sizeof(vm_id), &bits,
				     sizeof(bits), 0);
		bits |= 1ULL << queue;
		err = bpf_map__update_elem(t->skel->maps.given_pci_queues, &vm_id, sizeof(vm_id),
					   &bits, sizeof(bits), BPF_ANY);
		if (err)
			goto out;
	}
	if (layout) {
		const struct gma_queue_key *mkey;
		const struct gma_queue_stats *qs;

		qkey.queue = queue;
		qm_add_queue(&t->reader.model, &qkey, layout, device_id,
			     have_ring ? &st.ring : NULL);
		/* the model's own key and device: what the completions will carry */
		for (size_t i = 0; have_ring && (qs = qm_queue_at(&t->reader.model, i, &mkey)); i++)
			if (!memcmp(mkey, &qkey, sizeof(qkey)))
				report_attach(t, mkey, qs->device_id, layout, &st);
	}
out:
	free((void *)st.ring.heads);
	gma_ring_free(st.decoded);
	return err;
}

int gma_tracer_set_ecam(struct gma_tracer *t, __u64 vm_id, __u64 base, __u32 buses)
{
	struct pci_vm pv = {};

	if (!pci_ecam_valid(base, buses))
		return -EINVAL;
	if (!vm_id) {
		t->skel->bss->ecam_default = (struct pci_ecam){ .base = base, .buses = buses };
		return 0;
	}
	/* keep what the tracer learnt of the VM's 0xCF8 and host bridge */
	bpf_map__lookup_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv), 0);
	pv.ecam = (struct pci_ecam){ .base = base, .buses = buses };
	return bpf_map__update_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv),
				    BPF_ANY);
}

/*
 * The maps the transport fills when it sees a function set up (pci_config() in
 * bpf/virtio_pci.bpf.h), filled from a snapshot: the VM's PCI state, the device, the
 * function, and last its BARs, through which the transport finds the rest.
 */
int gma_tracer_add_pci_function(struct gma_tracer *t, __u64 vm_id, __u64 key,
				const struct gma_pci_function *fn)
{
	struct dev_key dk = { .vm_id = vm_id, .base = key };
	struct pci_bar_key bk = { .vm_id = vm_id };
	struct pci_bar_val bv = { .base = key };
	struct virtio_dev dev = {};
	struct pci_fn *f, *known;
	struct pci_vm pv = {};
	__u32 type;
	int err;

	_Static_assert(GMA_PCI_NOTIFY_QUEUES == QUEUES_MAX, "a notify offset per queue followed");
	if (!t || !vm_id || !fn || !GMA_KEY_IS_PCI(key) || key >> 16 != GMA_PCI_KEY >> 16)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	known = malloc(sizeof(*known));
	if (!f || !known) {
		err = -ENOMEM;
		goto out;
	}
	if (!pci_fn_from_snapshot(f, fn->config, fn->bar_size, fn->notify_off_known,
				  fn->queue_notify_off)) {
		err = -EINVAL;
		goto out;
	}
	if (!pci_is_virtio(f)) {
		err = -ENODEV;
		goto out;
	}
	/*
	 * One whose BARs the tracer saw set up knows more (vectors); one the guest only
	 * enumerated since the trace began (a vendor id read: lspci) is replaced.
	 */
	if (!bpf_map__lookup_elem(t->skel->maps.pci_fns, &dk, sizeof(dk), known, sizeof(*known),
				  0)) {
		for (__u32 i = 0; i < PCI_BARS; i++) {
			if (known->bar_registered[i]) {
				err = -EEXIST;
				goto out;
			}
		}
	}
	if (bpf_map__lookup_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv, sizeof(pv),
				 0)) {
		pv = (struct pci_vm){ .ecam = t->skel->bss->ecam_default };
		err = bpf_map__update_elem(t->skel->maps.pci_vms, &vm_id, sizeof(vm_id), &pv,
					   sizeof(pv), BPF_NOEXIST);
		if (err && err != -EEXIST)
			goto out;
	}
	bpf_map__lookup_elem(t->skel->maps.devices, &dk, sizeof(dk), &dev, sizeof(dev), 0);
	type = pci_virtio_type(f);
	if (dev.device_id != type || !dev.version) {
		dev.device_id = type;
		dev.version = f->device >= 0x1040 ? 2 : 1;
	}
	err = bpf_map__update_elem(t->skel->maps.devices, &dk, sizeof(dk), &dev, sizeof(dev),
				   BPF_ANY);
	if (!err)
		err = remember_vm_device(t, vm_id, key);
	for (__u32 i = 0; !err && i < PCI_BARS; i++) {
		if (f->bar_addr[i] && pci_bar_size(f, i)) {
			f->bar_registered[i] = f->bar_addr[i];
			f->bar_registered_io[i] = f->bar_io[i];
		}
	}
	if (!err)
		err = bpf_map__update_elem(t->skel->maps.pci_fns, &dk, sizeof(dk), f, sizeof(*f),
					   BPF_ANY);
	for (__u32 i = 0; !err && i < PCI_BARS; i++) {
		if (!f->bar_registered[i])
			continue;
		bk.addr = f->bar_addr[i];
		bk.io = f->bar_io[i];
		bv.size = pci_bar_size(f, i);
		bv.bar = i;
		err = bpf_map__update_elem(t->skel->maps.pci_bars, &bk, sizeof(bk), &bv, sizeof(bv),
					   BPF_ANY);
	}
out:
	free(known);
	free(f);
	return err;
}

int gma_tracer_check_stuck(struct gma_tracer *t, __u64 stuck_ns)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return qm_check_stuck(&t->reader.model, now.tv_sec * 1000000000ULL + now.tv_nsec, stuck_ns);
}

int gma_tracer_queue_stats(struct gma_tracer *t, struct gma_queue_stats **stats, size_t *n)
{
	return qm_stats(&t->reader.model, stats, n);
}

/*
 * The line of the virtio-mmio device at dk while its driver's reads left several candidates:
 * the one left once the lines other devices of its VM are known to raise are dropped (each
 * virtio-mmio window has a line of its own in QEMU microvm, Firecracker and the demo VMM). A
 * device whose interrupts always came with another's (both completed between two looks of
 * its driver) is told apart only this way. -1 when none or several are left.
 */
static int line_by_elimination(struct gma_tracer *t, const struct dev_key *dk, __u64 candidates)
{
	struct bpf_map *map = t->skel->maps.dev_irqs;
	struct dev_key k, next;
	struct dev_irq other;
	const void *prev = NULL;
	unsigned int n = 0;

	while (candidates && n++ < bpf_map__max_entries(map) &&
	       !bpf_map__get_next_key(map, prev, &next, sizeof(next))) {
		k = next;
		prev = &k;
		if (k.vm_id != dk->vm_id || k.base == dk->base ||
		    bpf_map__lookup_elem(map, &k, sizeof(k), &other, sizeof(other), 0))
			continue;
		if (other.gsi >= 0 && other.gsi < IRQ_GSI_MAX)
			candidates &= ~(1ULL << other.gsi);
	}
	if (!candidates || (candidates & (candidates - 1)))
		return -1;
	return __builtin_ctzll(candidates);
}

/*
 * A virtio-pci queue's MSI-X evidence: its vector (pci_fn), the message the guest wrote into
 * that vector's table entry (msix_entries), and that message's injections (msi_irqs, looked
 * up as x86 traces it: the high address half only in KVM's x2APIC format). A vector the
 * driver gave as VIRTIO_MSI_NO_VECTOR, or a masked one, is said as such: no interrupt is due.
 * MSI-X disabled (INTx), the vector or its message not seen: GMA_IRQ_UNMAPPED.
 */
static void msix_evidence(struct gma_tracer *t, const struct gma_queue_key *key,
			  const struct pci_fn *f, struct gma_queue_health *h)
{
	struct msix_msg_key mk = { .vm_id = key->vm_id, .base = key->base };
	struct msi_irq_key ik = { .vm_id = key->vm_id };
	struct msix_msg m;
	struct msi_irq irq;
	__u16 ctrl;

	h->irq = GMA_IRQ_UNMAPPED;
	if (!f || key->queue >= QUEUES_MAX)
		return;
	ctrl = pci_msix_ctrl(f);
	if (!(ctrl & PCI_MSIX_FLAGS_ENABLE))
		return; /* INTx: its line is not learnt for PCI */
	if (f->vector_known & (1ULL << key->queue))
		h->msix_vector = f->queue_vector[key->queue];
	else if (f->vectors_reset) /* none set since the reset: Linux's callback-less queues */
		h->msix_vector = VIRTIO_MSI_NO_VECTOR;
	else
		return; /* set before the trace */
	if (h->msix_vector == VIRTIO_MSI_NO_VECTOR) {
		h->irq = GMA_IRQ_NO_VECTOR;
		return;
	}
	mk.vector = h->msix_vector;
	/*
	 * Its message, and its Vector Control: an entry resets masked, and a driver writes the
	 * control word whenever it (un)masks, so one never written is not known to be unmasked.
	 */
	if (bpf_map__lookup_elem(t->skel->maps.msix_entries, &mk, sizeof(mk), &m, sizeof(m), 0) ||
	    (m.written & (MSIX_ENTRY_ADDR_LO | MSIX_ENTRY_DATA | MSIX_ENTRY_CTRL)) !=
		    (MSIX_ENTRY_ADDR_LO | MSIX_ENTRY_DATA | MSIX_ENTRY_CTRL))
		return; /* not written while traced */
	h->msi_address = (__u64)m.addr_hi << 32 | m.addr_lo;
	h->msi_data = m.data;
	h->irq = (ctrl & PCI_MSIX_FLAGS_MASKALL) || (m.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) ?
			 GMA_IRQ_MASKED :
			 GMA_IRQ_OBSERVED;
	ik.data = m.data;
	ik.address = h->msi_address;
	if (bpf_map__lookup_elem(t->skel->maps.msi_irqs, &ik, sizeof(ik), &irq, sizeof(irq), 0)) {
		ik.address = m.addr_lo;
		if (bpf_map__lookup_elem(t->skel->maps.msi_irqs, &ik, sizeof(ik), &irq, sizeof(irq),
					 0))
			return; /* none injected yet */
	}
	h->interrupts = irq.count;
	h->last_irq_ns = irq.last_ns;
}

/*
 * A queue's evidence from the kernel's maps: when its VM's vCPUs last exited (vm_devs), and
 * from interrupts.bpf.h the line its virtio-mmio device raises, once learnt, and that line's
 * injections, or a virtio-pci queue's MSI-X vector, message and injections (msix_evidence).
 */
static void irq_evidence(void *ctx, const struct gma_queue_key *key, struct gma_queue_health *h)
{
	struct gma_tracer *t = ctx;
	struct dev_key dk = { .vm_id = key->vm_id, .base = key->base };
	struct vm_devs vd;
	struct dev_irq d;
	struct vm_irqs *v;

	/* whether the guest runs: its vCPUs' exits, as the periodic look at them records */
	if (!bpf_map__lookup_elem(t->skel->maps.vm_devs, &key->vm_id, sizeof(key->vm_id), &vd,
				  sizeof(vd), 0))
		h->guest_ran_ns = vd.last_scan_ns;
	/*
	 * A PCI function's notifies are decoded only once the transport knows its notify
	 * capability, BAR and the queue's notify offset (modern: Intel's fast path has only the
	 * address) or its I/O BAR (legacy: QUEUE_NOTIFY in BAR0), from the configuration
	 * accesses it saw or a snapshot (gma_tracer_add_pci_function()); one imported late with
	 * only its queues (--queue) has neither: its driver's notifies are unseen, not missing.
	 */
	if (GMA_KEY_IS_PCI(key->base)) {
		struct pci_fn *f = malloc(sizeof(*f));

		if (f && bpf_map__lookup_elem(t->skel->maps.pci_fns, &dk, sizeof(dk), f, sizeof(*f),
					      0)) {
			free(f);
			f = NULL;
		}
		h->notify_observable = f && (pci_notify_observable(f, key->queue, t->fast_mmio) ||
					     (f->bar_registered[0] && f->bar_registered_io[0]));
		if (t->msi_traced)
			msix_evidence(t, key, f, h);
		free(f);
		return;
	}
	if (!t->irq_traced)
		return; /* GMA_IRQ_NOT_OBSERVABLE */
	h->irq = GMA_IRQ_UNMAPPED;
	if (bpf_map__lookup_elem(t->skel->maps.dev_irqs, &dk, sizeof(dk), &d, sizeof(d), 0))
		return;
	if (d.gsi < 0)
		d.gsi = line_by_elimination(t, &dk, d.candidates);
	if (d.gsi < 0 || d.gsi >= IRQ_GSI_MAX)
		return;
	v = malloc(sizeof(*v)); /* 1 KiB: off the stack */
	if (!v)
		return;
	if (!bpf_map__lookup_elem(t->skel->maps.vm_irqs, &key->vm_id, sizeof(key->vm_id), v,
				  sizeof(*v), 0)) {
		h->irq = GMA_IRQ_OBSERVED;
		h->irq_line = d.gsi;
		h->interrupts = v->count[d.gsi];
		h->last_irq_ns = v->last_ns[d.gsi];
	}
	free(v);
}

int gma_tracer_queue_health(struct gma_tracer *t, __u64 window_ns, struct gma_queue_health **health,
			    size_t *n)
{
	return qm_health(&t->reader.model, now_ns(), window_ns, irq_evidence, t, health, n);
}

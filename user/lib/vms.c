// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The host's KVM VMs and their memslots, read from the BPF iterator in bpf/kvm_vms.bpf.c.
 * The iterator's output is untrusted only in the sense of being parsed carefully: every
 * record's size and version is checked before it is used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <gma/gma.h>
#include <gma/record.h>

#include "gma_internal.h"
#include "kvm_vms.skel.h"

/* Bounds on what one listing may allocate, whatever the iterator says. */
#define VMS_MAX 4096
#define ITER_OUTPUT_MAX (64u << 20)

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *nbuf;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= ITER_OUTPUT_MAX) {
				free(buf);
				return -E2BIG;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return r;
		}
		if (r == 0)
			break;
		n += r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* What the VM record being filled announced. */
struct vm_caps {
	size_t slots;
	size_t ioeventfds;
};

/* Appends one VM from its record; its slot and ioeventfd records follow and fill it. */
static int add_vm(struct gma_vm **vms, size_t *n, const struct gma_rec_vm *r, struct vm_caps *cap)
{
	struct gma_vm *nv, *vm;

	if (*n == VMS_MAX)
		return -E2BIG;
	nv = realloc(*vms, (*n + 1) * sizeof(**vms));
	if (!nv)
		return -ENOMEM;
	*vms = nv;
	vm = &nv[(*n)++];
	memset(vm, 0, sizeof(*vm));
	vm->id = r->vm_id;
	vm->pid = r->owner_tgid;
	vm->creator_pid = r->creator_pid;
	vm->fd = r->fd;
	vm->nr_vcpus = r->online_vcpus;
	vm->flags = r->flags;
	vm->generation = r->generation;
	vm->ioeventfds_more = r->ioeventfds_more;
	cap->slots = r->nr_slots < GMA_REGIONS_MAX ? r->nr_slots : GMA_REGIONS_MAX;
	/* the iterator sends at most GMA_VM_IOEVENTFDS_MAX: a record saying more is capped */
	cap->ioeventfds = r->nr_ioeventfds < GMA_VM_IOEVENTFDS_MAX ? r->nr_ioeventfds :
								     GMA_VM_IOEVENTFDS_MAX;
	vm->slot_sz = sizeof(*vm->slots);
	vm->ioeventfd_sz = sizeof(*vm->ioeventfds);
	if (cap->slots) {
		vm->slots = calloc(cap->slots, sizeof(*vm->slots));
		if (!vm->slots)
			return -ENOMEM;
	}
	if (cap->ioeventfds) {
		vm->ioeventfds = calloc(cap->ioeventfds, sizeof(*vm->ioeventfds));
		if (!vm->ioeventfds)
			return -ENOMEM;
	}
	return 0;
}

/* A list parse_vms() made: its own arrays, each VM's apart. */
static void free_parsed(struct gma_vm *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((void *)vms[i].slots);
		free((void *)vms[i].ioeventfds);
	}
	free(vms);
}

/*
 * Parses the record stream: each VM record, then as many slot records as it announced. A
 * record of another version, or one that does not fit, is -EPROTO.
 */
static int parse_vms(const char *buf, size_t len, struct gma_vm **vms_out, size_t *n_out)
{
	struct gma_vm *vms = NULL, *vm = NULL;
	struct vm_caps cap = {};
	size_t n = 0, off = 0;
	int err = 0;

	while (off < len && !err) {
		const struct gma_rec_hdr *h = (const void *)(buf + off);

		if (len - off < sizeof(*h) || h->size < sizeof(*h) || h->size > len - off ||
		    h->version != GMA_REC_VERSION) {
			err = -EPROTO;
			break;
		}
		if (h->type == GMA_REC_VM && h->size >= sizeof(struct gma_rec_vm)) {
			err = add_vm(&vms, &n, (const void *)h, &cap);
			vm = err ? NULL : &vms[n - 1];
		} else if (h->type == GMA_REC_SLOT && h->size >= sizeof(struct gma_rec_slot)) {
			const struct gma_rec_slot *r = (const void *)h;
			struct gma_memslot *s;

			if (!vm || vm->id != r->vm_id || vm->nr_slots >= cap.slots) {
				err = -EPROTO;
				break;
			}
			/* the parse's own array, handed out const later */
			s = (struct gma_memslot *)&vm->slots[vm->nr_slots++];
			s->gpa = r->gpa;
			s->size = r->size;
			s->hva = r->userspace_addr;
			s->flags = r->flags;
			s->id = r->slot_id;
			s->as_id = r->as_id;
		} else if (h->type == GMA_REC_IOEVENTFD &&
			   h->size >= sizeof(struct gma_rec_ioeventfd)) {
			const struct gma_rec_ioeventfd *r = (const void *)h;
			struct gma_ioeventfd *e;

			if (!vm || vm->id != r->vm_id || vm->nr_ioeventfds >= cap.ioeventfds) {
				err = -EPROTO;
				break;
			}
			e = (struct gma_ioeventfd *)&vm->ioeventfds[vm->nr_ioeventfds++];
			e->addr = r->addr;
			e->datamatch = r->datamatch;
			e->len = r->length;
			e->bus = r->bus;
			e->wildcard = r->wildcard;
		}
		off += h->size;
	}
	if (err) {
		free_parsed(vms, n);
		return err;
	}
	*vms_out = vms;
	*n_out = n;
	return 0;
}

/*
 * The parsed list as the caller's: one block, the VMs at its elem_sz, then every VM's
 * memslots and ioeventfds (at this library's sizes, slot_sz and ioeventfd_sz), so that
 * gma_vms_free() is one free() whatever elem_sz held. 0 or -ENOMEM.
 */
static int pack_vms(const struct gma_vm *vms, size_t n, size_t elem_sz, struct gma_vm **out)
{
	struct gma_memslot *slots;
	struct gma_ioeventfd *io;
	size_t nr_slots = 0, nr_io = 0;
	char *p;
	void *tail;

	/* VMS_MAX VMs of GMA_REGIONS_MAX slots at most: a few GiB, no size_t wraps (64-bit) */
	for (size_t i = 0; i < n; i++) {
		nr_slots += vms[i].nr_slots;
		nr_io += vms[i].nr_ioeventfds;
	}
	_Static_assert(sizeof(*slots) % _Alignof(struct gma_ioeventfd) == 0,
		       "ioeventfds aligned after the memslots");
	p = gma_elems_alloc(n, elem_sz, nr_slots * sizeof(*slots) + nr_io * sizeof(*io), &tail);
	if (!p)
		return -ENOMEM;
	slots = tail;
	io = (struct gma_ioeventfd *)(slots + nr_slots);
	for (size_t i = 0; i < n; i++) {
		struct gma_vm vm = vms[i];

		vm.slots = vm.nr_slots ? memcpy(slots, vms[i].slots, vm.nr_slots * sizeof(*slots)) :
					 NULL;
		slots += vm.nr_slots;
		vm.ioeventfds = vm.nr_ioeventfds ? memcpy(io, vms[i].ioeventfds,
							  vm.nr_ioeventfds * sizeof(*io)) :
						   NULL;
		io += vm.nr_ioeventfds;
		gma_copy_sized(p + i * elem_sz, elem_sz, &vm, sizeof(vm));
	}
	*out = (struct gma_vm *)p;
	return 0;
}

/* Whether this kernel can have VMs at all: KVM's types are in its BTF once KVM is loaded. */
static bool kvm_present(void)
{
	return access("/dev/kvm", F_OK) == 0 || access("/sys/kernel/btf/kvm", F_OK) == 0;
}

/* The iterator, loaded once: listing again only reads a new iterator instance. */
struct gma_vm_lister {
	struct kvm_vms_bpf *skel;
	struct bpf_link *link;
};

struct gma_vm_lister *gma_vm_lister_new(void)
{
	struct gma_vm_lister *l;
	int err;

	if (!kvm_present()) {
		errno = ENOENT;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->skel = kvm_vms_bpf__open_and_load();
	if (!l->skel) {
		err = errno ? errno : EINVAL;
		goto fail;
	}
	l->link = bpf_program__attach_iter(l->skel->progs.gma_kvm_vms, NULL);
	if (!l->link) {
		err = errno;
		goto fail;
	}
	return l;
fail:
	gma_vm_lister_free(l);
	errno = err;
	return NULL;
}

void gma_vm_lister_free(struct gma_vm_lister *l)
{
	if (!l)
		return;
	bpf_link__destroy(l->link);
	kvm_vms_bpf__destroy(l->skel);
	free(l);
}

int gma_vm_lister_list(struct gma_vm_lister *l, struct gma_vm **vms, size_t *n, size_t elem_sz)
{
	struct gma_vm *parsed = NULL;
	char *buf = NULL;
	size_t len = 0, nr = 0;
	int err, fd;

	*vms = NULL;
	*n = 0;
	if (!elem_sz)
		return -EINVAL;
	fd = bpf_iter_create(bpf_link__fd(l->link));
	if (fd < 0)
		return -errno;
	err = read_all(fd, &buf, &len);
	close(fd);
	if (!err)
		err = parse_vms(buf, len, &parsed, &nr);
	if (!err)
		err = pack_vms(parsed, nr, elem_sz, vms);
	if (!err)
		*n = nr;
	free_parsed(parsed, nr);
	free(buf);
	return err;
}

int gma_vms_list(struct gma_vm **vms, size_t *n, size_t elem_sz)
{
	struct gma_vm_lister *l;
	int err;

	*vms = NULL;
	*n = 0;
	if (!elem_sz)
		return -EINVAL;
	l = gma_vm_lister_new();
	if (!l)
		return -errno;
	err = gma_vm_lister_list(l, vms, n, elem_sz);
	gma_vm_lister_free(l);
	return err;
}

void gma_vms_free(struct gma_vm *vms)
{
	free(vms); /* one block: pack_vms() */
}

const char *gma_bus_name(__u32 bus)
{
	static const char *const names[] = {
		[GMA_BUS_MMIO] = "mmio",
		[GMA_BUS_PIO] = "pio",
		[GMA_BUS_VIRTIO_CCW] = "virtio-ccw",
		[GMA_BUS_FAST_MMIO] = "fast-mmio",
	};

	return bus < sizeof(names) / sizeof(names[0]) ? names[bus] : "?";
}

const struct gma_vm *gma_vms_find_pid(const struct gma_vm *vms, size_t n, size_t elem_sz, pid_t pid)
{
	if (!vms || !GMA_SIZE_HAS(elem_sz, struct gma_vm, pid))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *vm = (const char *)vms + i * elem_sz;
		pid_t p;

		/* the caller's stride need not keep its elements aligned */
		memcpy(&p, vm + offsetof(struct gma_vm, pid), sizeof(p));
		if (p == pid)
			return (const struct gma_vm *)vm;
	}
	return NULL;
}

int gma_vm_regions(const struct gma_vm *vm, struct gma_region **regions, size_t *n)
{
	struct gma_region *r = calloc(vm->nr_slots ? vm->nr_slots : 1, sizeof(*r));
	size_t k = 0;
	int err;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < vm->nr_slots; i++) {
		const struct gma_memslot *s = gma_vm_slot(vm, i);

		if (s->as_id != 0 || (s->flags & GMA_SLOT_INVALID))
			continue;
		r[k++] = (struct gma_region){ .gpa = s->gpa, .size = s->size, .addr = s->hva };
	}
	err = gma_regions_validate(r, k, NULL);
	if (err) {
		free(r);
		return err;
	}
	*regions = r;
	*n = k;
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracer's parts and what they share: struct gma_tracer, and the few functions one part
 * calls in another. Internal to libgma. The tracer (include/gma/gma.h, "gma_tracer_*") is one
 * object split by job, each file readable alone:
 *
 *   tracer.c            create and free; the record stream (ring buffer, sample requests)
 *                       and gma_tracer_poll(), which drives the periodic work below
 *   tracer_load.c       the BPF skeleton opened, configured, loaded and attached, on the
 *                       tracepoints this kernel has
 *   tracer_load_error.c why a load failed, named, from libbpf's messages (gma_load_error)
 *   tracer_ioeventfd.c  KVM's ioeventfd registrations mirrored into BPF, and the notifies no
 *                       known queue explains
 *   tracer_ring_poll.c  userspace's periodic look at every known queue's rings
 *   tracer_import.c     what a VM traced late set up before: queues, PCI functions, ECAM
 *   tracer_health.c     the interrupt evidence behind each queue's health verdict
 *
 * Every part reads and writes the BPF maps through t->skel; only tracer_load.c opens it.
 */
#ifndef GMA_TRACER_INTERNAL_H
#define GMA_TRACER_INTERNAL_H

#include <stdbool.h>
#include <time.h>

#include <gma/gma.h>

#include "record_reader.h"
#include "tracer_maps.h" /* the BPF maps' key and value types */
#include "tracer.skel.h"

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
	struct gma_tracer_ioeventfd_key key;
	struct gma_tracer_ioeventfd_val val;
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
	 * still name the registration they hit. Up to GMA_TRACER_IOEVENTFDS_MAX, the oldest replaced.
	 */
	struct ioeventfd_entry *gone;
	size_t nr_gone, next_gone;
};

/* bpf_ktime_get_ns()'s clock: the records' timestamps and the model's are on it. */
static inline __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* tracer_load.c */

/* What gma_tracer_opts asks of the BPF side, defaults filled in and checked (tracer.c). */
struct tracer_config {
	__u32 ringbuf_size;
	__u32 frag_max;
	__u32 sample_frags_max;
	__u32 snap_len;
	__u32 chains_per_notify;
	__u32 used_scan_us;
	__u32 ring_poll_ms;
	pid_t pid;
	bool indices_only;
	const char *btf_path;
};

/*
 * Opens the skeleton into t->skel (relocated against cfg->btf_path, or the running kernel's
 * BTF), configures it, turns off the programs whose tracepoint this kernel lacks, loads and
 * attaches. 0 or -errno (-ENODEV: no vCPU tracepoint, -ENOENT: no kernel BTF); on failure
 * gma_tracer_free() cleans up. What libbpf said failed is noted into why.
 */
int tracer_load(struct gma_tracer *t, const struct tracer_config *cfg, struct gma_load_error *why);

/* tracer_load_error.c */

/*
 * While a load runs, libbpf's warnings from this thread are noted into why (and passed on to
 * the print function the caller set, restored at the stop). One load at a time.
 */
void tracer_capture_start(struct gma_load_error *why);
void tracer_capture_stop(void);
/* One libbpf warning: why notes the first line that names a cause (the type, ...). */
void tracer_load_error_note(struct gma_load_error *why, const char *msg);
/* The load ended with err: why's kind from what was noted, else from err (0: all cleared). */
void tracer_load_error_conclude(struct gma_load_error *why, int err);
/* why into the caller's struct, as much as its sz holds; the rest of it zeroed. */
void tracer_load_error_copy(struct gma_load_error *out, const struct gma_load_error *why);

/* tracer_ioeventfd.c */

/*
 * Makes the ioeventfds map equal to the registrations KVM holds now. 0 or -errno, kept for
 * gma_tracer_ioeventfds_error(): the trace works without them.
 */
int tracer_sync_ioeventfds(struct gma_tracer *t);

/* tracer_ring_poll.c */

/* Every known queue's indices and new completions, read from the guest into the model. */
void tracer_poll_rings(struct gma_tracer *t);
/* VM vm_id's guest memory as its VMM maps it; NULL when the VM is gone or not listed. */
struct gma_mem *tracer_vm_memory(struct gma_tracer *t, __u64 vm_id);
/* A read through VM vm_id's memory failed: list it again (at once with now). */
void tracer_vm_memory_stale(struct gma_tracer *t, __u64 vm_id, bool now);

static inline int tracer_read_idx(struct gma_mem *mem, __u64 gpa, __u16 *v)
{
	return gma_mem_read_obj(mem, gpa, v, sizeof(*v));
}

#endif /* GMA_TRACER_INTERNAL_H */

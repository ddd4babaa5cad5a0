/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracer: BPF programs on KVM's tracepoints sample guest memory and the VirtIO rings of
 * every VM (or one) at the moment a vCPU notifies a device; libgma reassembles what they
 * send, models each queue and hands events to callbacks. Its caps: <gma/tracer_caps.h>.
 */
#ifndef GMA_TRACER_H
#define GMA_TRACER_H

#include <gma/common.h>
#include <gma/tracer_caps.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Where a virtqueue lives in guest physical memory. desc: descriptor area; driver: driver
 * area (the avail ring); device: device area (the used ring); num: queue size; flags:
 * GMA_QUEUE_* of <gma/record.h> (LEGACY selects the page alignment rules, PACKED marks a
 * packed ring, which is detected but not decoded). It never grows (the growth rules of
 * <gma/gma.h>): callers embed it and build it in place; what a later ring needs is a flag.
 */
struct gma_queue_layout {
	__u64 desc;
	__u64 driver;
	__u64 device;
	__u32 num;
	__u32 flags;
};

/* What a byte of a sample holds (struct gma_sample.state). */
enum gma_byte_state {
	GMA_BYTE_READ = 0, /* the guest's byte, read at the sample's time */
	GMA_BYTE_UNMAPPED, /* no memslot holds it */
	GMA_BYTE_FAULT, /* mapped, but the VMM's page was not resident */
	GMA_BYTE_FOREIGN_MM, /* sampled from a thread outside the VMM */
	GMA_BYTE_LOST, /* its fragment was dropped by a full ring buffer */
	GMA_BYTE_CAPPED, /* beyond the sample's fragment cap: not read */
};

/* A reassembled sample: contiguous bytes and, per byte, whether it is guest data. */
struct gma_sample {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	__u64 id;
	__u64 vm_id;
	pid_t pid;
	pid_t tid; /* the vCPU thread that took it */
	__u64 ts_ns; /* CLOCK_MONOTONIC of the sample */
	__u64 gpa;
	__u32 len;
	__u32 nr_fragments;
	__u32 nr_lost; /* fragments lost in the ring buffer */
	int err; /* 0, or -E2BIG when the fragment cap cut it short */
	const __u8 *data; /* len bytes; 0 where state[i] != GMA_BYTE_READ */
	const __u8 *state; /* len entries of enum gma_byte_state */
};

/*
 * Called from gma_tracer_poll() for each complete sample; the sample and its data/state arrays
 * live until it returns (copy what you keep). It must not call gma_tracer_free() or
 * gma_tracer_poll() on its tracer.
 */
typedef void (*gma_sample_fn)(void *ctx, const struct gma_sample *sample);

/*
 * One buffer of a descriptor chain, with the first bytes of the buffer as they were captured.
 * An element of struct gma_chain's descs, desc_sz bytes apart: read it with gma_chain_desc().
 */
struct gma_chain_desc {
	__u64 addr; /* guest physical */
	__u32 len;
	__u16 flags; /* VRING_DESC_F_* as the guest wrote them */
	__u16 next;
	__u16 index; /* in the descriptor table, or in the indirect table when in_indirect */
	bool in_indirect;
	/*
	 * The buffer's first nbytes bytes (at most the snap length asked for): bytes[k] is the
	 * guest's where state[k] is GMA_BYTE_READ, else 0 and state[k] says why (enum
	 * gma_byte_state). nbytes is 0, bytes and state NULL, when nothing was captured: a
	 * tracer's sample lost in part is not shown at all, rather than in part.
	 */
	__u32 nbytes;
	const __u8 *bytes;
	const __u8 *state;
};

/* struct gma_chain.flags */
#define GMA_CHAIN_INDIRECT (1u << 0) /* an indirect table was followed: indirect_addr, _len */
/*
 * Sampled by the tracer when the driver made the chain available (on_chain): what the device
 * writes into its buffers (a status byte, received data) is not there yet.
 */
#define GMA_CHAIN_AT_NOTIFY (1u << 1)

/*
 * A descriptor chain the driver made available: walked by the tracer at its notify
 * (on_chain), or read from userspace (gma_ring_read(), on_attach); the walk's rules are one
 * (bpf/vring_walk.h) either way. What gma_ring_read() cannot know (vm_id, base, queue,
 * device_id, pid, ts_ns, features) is 0 in its chains.
 */
struct gma_chain {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	/* the queue: struct gma_vm.id, the device's key (struct gma_queue_stats.base), index */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id; /* VIRTIO_ID_* of the queue's device, 0 when unknown */
	pid_t pid; /* the VMM */
	__u64 ts_ns; /* CLOCK_MONOTONIC: when it was sampled (or read) */
	__u64 features; /* driver features of the device (VIRTIO_F_*), 0 when not seen */
	__u16 avail_idx; /* its position in the avail ring, free-running */
	__u16 head;
	__u32 flags; /* GMA_CHAIN_* */
	__u32 anomalies; /* GMA_ANOM_* bits of the chain (the walk's and libgma's) */
	__u64 indirect_addr; /* the indirect table followed (GMA_CHAIN_INDIRECT), or 0 */
	__u32 indirect_len;
	/*
	 * Buffers the walk found, and the sum of their lengths. The tracer records the first
	 * GMA_CHAIN_DESC_MAX (<gma/record.h>) of a longer chain: nr_walked > nr_descs.
	 */
	__u32 nr_walked;
	__u64 total_len;
	/* The buffers recorded, in chain order: gma_chain_desc(c, 0 .. nr_descs - 1). */
	__u32 nr_descs;
	size_t desc_sz;
	const struct gma_chain_desc *descs;
};

/* Buffer i of chain c, i below c->nr_descs. */
static inline const struct gma_chain_desc *gma_chain_desc(const struct gma_chain *c, size_t i)
{
	return GMA_ELEM(struct gma_chain_desc, c->descs, i, c->desc_sz);
}

/* A queue's layout, learnt as the driver set it up, or changed (a reset): on_queue. */
struct gma_queue_event {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	__u64 ts_ns;
	struct gma_queue_layout layout; /* flags: GMA_QUEUE_* of <gma/record.h> */
};

/*
 * The driver notified a queue, or a look at the rings (a vCPU exit, at most every
 * used_scan_us) found chains made available without a notify (GMA_NOTIFY_SILENT of
 * <gma/record.h>: a driver need not notify for every chain): on_notify. The chains it made
 * available go to on_chain.
 */
struct gma_notify_event {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	pid_t tid; /* the vCPU thread */
	__u64 ts_ns;
	__u16 avail_old; /* the avail index before it */
	__u16 avail_new; /* the avail index it found */
	__u16 used_idx; /* the used index then */
	__u16 flags; /* GMA_NOTIFY_* */
	__u32 nr_chains; /* chains walked for it */
	__u32 nr_skipped; /* new chains past the per-notify cap: counted, not walked */
	__u32 anomalies; /* GMA_ANOM_*: NOT_READY, UNKNOWN_LAYOUT, AVAIL_JUMP, ... */
};

/* A chain the device completed, matched with its notify when libgma saw it made available. */
struct gma_completion {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	__u64 ts_ns; /* when the tracer saw the used element (within used_scan_ns) */
	__u64 latency_ns; /* from the notify that made it available; 0 when unknown */
	__u32 head;
	__u32 len; /* bytes the device wrote, from the used element */
	/* in flight when its queue was imported (struct gma_attach_chains): no latency to tell */
	bool age_unknown;
};

/*
 * The chains in flight when a queue was imported (gma_tracer_add_queue() with a layout):
 * the heads from the used index to the avail index, each decoded once from userspace as
 * gma_ring_read() (<gma/virtio.h>) decodes them, the first GMA_ATTACH_CHAINS_MAX of them.
 * They were made available before the trace: their age is unknown, and their completions
 * say so (struct gma_completion.age_unknown).
 */
#define GMA_ATTACH_CHAINS_MAX 32

struct gma_attach_chains {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	__u64 ts_ns; /* when the ring was read */
	__u32 in_flight; /* avail - used at import, at most the queue size */
	__u32 not_listed; /* in_flight - nr_chains: past the cap, or not readable */
	__u32 anomalies; /* of the ring (struct gma_ring.anomalies) */
	/* in avail order, each with the queue's key: gma_attach_chain(a, 0 .. nr_chains - 1) */
	__u32 nr_chains;
	size_t chain_sz;
	const struct gma_chain *chains;
};

/* Chain i of a, i below a->nr_chains. */
static inline const struct gma_chain *gma_attach_chain(const struct gma_attach_chains *a, size_t i)
{
	return GMA_ELEM(struct gma_chain, a->chains, i, a->chain_sz);
}

/* An anomaly of a queue, with why. head is the chain's head, or ~0 when not about one chain. */
struct gma_anomaly_event {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	__u64 ts_ns;
	__u32 anomalies; /* GMA_ANOM_* bits */
	__u32 head;
};

/*
 * One queue as libgma models it: an element of gma_tracer_queue_stats(), and what struct
 * gma_queue_health.stats points to.
 */
struct gma_queue_stats {
	__u64 vm_id;
	__u64 base;
	__u32 queue;
	__u32 device_id;
	pid_t pid;
	__u32 num;
	__u32 flags; /* GMA_QUEUE_* */
	__u64 desc, driver, device;
	/*
	 * The indices are the guest's: last_avail and last_used as last read from its rings (on
	 * notifies, on looks at the rings at vCPU exits, and by a userspace poll), and in_flight
	 * is last_avail - last_used, walked or not.
	 */
	__u16 last_avail;
	__u16 last_used;
	__u32 in_flight;
	__u32 in_flight_at_attach; /* of in_flight, chains already there when the queue was
				    * imported: their age is unknown */
	__u32 indices_known; /* last_avail and last_used were read from the guest */
	__u64 notifies;
	__u64 silent; /* looks that found chains made available without a notify */
	__u64 chains;
	__u64 completions;
	__u64 anomalies;
	__u64 skipped; /* avail entries past the per-notify cap, not walked */
	__u64 latency_sum_ns;
	__u64 latency_max_ns;
	__u64 latency_n;
	__u64 oldest_in_flight_ns; /* notify time of the oldest chain in flight, 0 if none */
	/*
	 * enum gma_queue_kind: what its chains are. A receive queue's in-flight chains are
	 * buffers posted ahead of data (a NIC's, a console port's receive queue): not requests,
	 * their age is not latency, and idle with them posted is healthy.
	 */
	__u32 kind;
};

/*
 * A queue's kind: from its chains (one with a device-readable descriptor carries a request)
 * and, until a chain says, from its device type and index as VirtIO numbers them (net and
 * console receive queues are the even ones).
 */
enum gma_queue_kind {
	GMA_QUEUE_KIND_REQUEST = 0,
	GMA_QUEUE_KIND_RECEIVE,
};

/*
 * VirtIO ring events, called from gma_tracer_poll() on its thread with opts.ctx. Any callback
 * may be NULL. The structs passed (and what they point to: a chain's descriptors and bytes)
 * are valid only until the callback returns. Declare it with GMA_OPTS().
 */
struct gma_ring_callbacks {
	size_t sz;
	void (*on_queue)(void *ctx, const struct gma_queue_event *q);
	void (*on_notify)(void *ctx, const struct gma_notify_event *n);
	void (*on_chain)(void *ctx, const struct gma_chain *c);
	void (*on_completion)(void *ctx, const struct gma_completion *c);
	void (*on_anomaly)(void *ctx, const struct gma_anomaly_event *a);
	/* from gma_tracer_add_queue(), on its caller's thread, when chains were in flight */
	void (*on_attach)(void *ctx, const struct gma_attach_chains *a);
	size_t : 0;
};

struct gma_tracer_opts {
	size_t sz;
	/* Ring buffer size in bytes, a power of 2 and multiple of the page size (default 4 MiB). */
	__u32 ringbuf_size;
	/* Bytes per fragment (default and maximum 4096) and fragments per sample (max 64). */
	__u32 frag_max;
	__u32 sample_frags_max;
	gma_sample_fn on_sample;
	void *ctx;
	/* Only this process's VM (0: every VM on the host). */
	pid_t pid;
	/* VirtIO ring events; ctx is passed to them too. */
	const struct gma_ring_callbacks *ring;
	/*
	 * Bytes sampled from the start of each buffer (default 64, at most 4096; GMA_SNAP_NONE:
	 * descriptors only, no byte).
	 */
	__u32 snap_len;
	/* Chains walked per notify (default 16, at most 32); the rest are counted. */
	__u32 chains_per_notify;
	/* How often vCPU exits look at the rings, in microseconds (default 1000). */
	__u32 used_scan_us;
	/*
	 * Kernel BTF to relocate the programs against instead of the running kernel's (NULL:
	 * /sys/kernel/btf). For kernels built without BTF (a BTFHub file); where KVM is a module
	 * it must hold the kvm module's types too, as libbpf then looks nowhere else.
	 */
	const char *btf_path;
	/*
	 * How often gma_tracer_poll() reads every known queue's avail and used indices (and new
	 * used elements) from userspace, in milliseconds (default 100, at least 10): completions
	 * and suppressed notifications are seen even when the VM's vCPUs rarely exit.
	 * GMA_RING_POLL_OFF turns it off.
	 */
	__u32 ring_poll_ms;
	/*
	 * Read only each queue's avail and used indices at a notify: no chain walked, no byte
	 * sampled, no used element read. on_chain is never called and chains and completions
	 * are counted as skipped; the queues' indices and in-flight counts
	 * (gma_tracer_queue_stats()) stay the guest's, latency is unknown. The cheapest trace.
	 */
	bool indices_only;
	/*
	 * Where gma_tracer_new() says why it failed (struct gma_load_error, declared with
	 * GMA_OPTS so its sz is set), or NULL. Since libgma 0.3.
	 */
	struct gma_load_error *load_error;
	size_t : 0;
};

#define GMA_RING_POLL_OFF 0xffffffffu
#define GMA_SNAP_NONE 0xffffffffu

/*
 * Why the tracer did not load, as libgma understood it from errno and from libbpf's messages
 * during the load: what is missing, by name, so that a caller can say what to do without
 * reading libbpf's log. The kinds, and the fields each one fills:
 */
enum gma_load_error_kind {
	GMA_LOAD_OK = 0, /* it loaded */
	GMA_LOAD_OTHER, /* none of the below: err says, and libbpf's log (libbpf_set_print) */
	GMA_LOAD_INVALID_OPTS, /* an option out of its range (err -EINVAL) */
	GMA_LOAD_PERMISSION, /* needs root, or CAP_BPF and CAP_PERFMON */
	GMA_LOAD_NO_KVM, /* no KVM tracepoint in the kernel: kvm (and kvm_amd or kvm_intel) not loaded */
	GMA_LOAD_NO_KERNEL_BTF, /* no kernel BTF (CONFIG_DEBUG_INFO_BTF): btf_path gives one */
	/*
	 * KVM is a module without BTF (/sys/kernel/btf/kvm; CONFIG_DEBUG_INFO_BTF_MODULES):
	 * type (and field) or tracepoint names what was looked for; btf_path gives a BTF file
	 * holding KVM's types.
	 */
	GMA_LOAD_NO_KVM_BTF,
	GMA_LOAD_MISSING_TYPE, /* the BTF has no type (or field in it), which the tracer reads */
	GMA_LOAD_MISSING_TRACEPOINT, /* the kernel has no tracepoint, which program attaches to */
	GMA_LOAD_VERIFIER, /* the kernel's verifier refused program: libbpf's log says why */
	GMA_LOAD_KIND_NR,
};

struct gma_load_error {
	size_t sz;
	int err; /* what gma_tracer_new() set errno to, negated; 0 when it loaded */
	__u32 kind; /* enum gma_load_error_kind */
	/*
	 * The kernel type the tracer reads, as the kernel spells it ("struct kvm_memslots", the
	 * tracer's CO-RE flavor suffix dropped), and the field path in it that was not found
	 * ("used_slots"; "" when the type itself is missing).
	 */
	char type[128];
	char field[128];
	char tracepoint[64]; /* "kvm_exit" */
	char program[64]; /* the BPF program libbpf was loading, when it named one */
	/*
	 * libbpf's own line that told the kind ("failed to resolve CO-RE relocation ..."): for
	 * a report. "" for the kinds errno alone tells.
	 */
	char libbpf_line[512];
	size_t : 0;
};

/* "missing-type", "no-kvm-btf", ... for a GMA_LOAD_*; NULL for a value outside the enum. */
GMA_API const char *gma_load_error_kind_name(__u32 kind);

struct gma_tracer;

/*
 * Loads the embedded tracer and attaches it to each KVM tracepoint the kernel has. Returns
 * NULL with errno: EPERM (needs CAP_BPF + CAP_PERFMON, or root), ENODEV (no KVM tracepoints:
 * KVM not loaded), ENOENT (no kernel BTF), EINVAL (bad options), or libbpf's error (a kernel
 * type the tracer reads missing from the BTF). Only KVM's own types are relocated: VirtIO
 * layouts are read at the spec's offsets, so a host without VirtIO modules loads it.
 *
 * With opts->load_error set, what failed is said there, named (GMA_LOAD_OK on success). To
 * learn it libgma puts its own libbpf print function in place during the load, passing every
 * message on to the one it found (so a caller's libbpf_set_print() log still gets them all),
 * and restores that one after: loads are serialised, and a libbpf_set_print() made by another
 * thread while one runs is undone at its end.
 */
GMA_API struct gma_tracer *gma_tracer_new(const struct gma_tracer_opts *opts);
/* Detaches and unloads the programs; pending sample requests are dropped. NULL is allowed. */
GMA_API void gma_tracer_free(struct gma_tracer *t);

/* The tracepoints attached, as a static string like "kvm_exit kvm_pio ...". */
GMA_API const char *gma_tracer_tracepoints(const struct gma_tracer *t);

/*
 * Asks the kernel to sample [gpa, gpa + len) of the VM run by process pid at the next exit of
 * one of its vCPUs; the sample arrives through on_sample. Returns -EBUSY when
 * GMA_SAMPLE_REQ_MAX requests are pending, -E2BIG when len exceeds what one sample may cover
 * (frag_max * sample_frags_max), -EINVAL for len 0.
 */
GMA_API int gma_tracer_request_sample(struct gma_tracer *t, pid_t pid, __u64 gpa, __u32 len,
				      __u64 *id);

/* Drops pending requests of pid (e.g. when it exits); returns how many. */
GMA_API int gma_tracer_cancel_pid(struct gma_tracer *t, pid_t pid);

/*
 * Waits up to timeout_ms (0: do not wait, -1: forever) for records and calls the callbacks
 * for each, on this thread. Returns the number handled (0 on timeout; a signal interrupting
 * the wait is not an error) or a negative errno from the ring buffer. A record with an
 * unknown version or a bad size is dropped and counted in gma_tracer_bad_records().
 */
GMA_API int gma_tracer_poll(struct gma_tracer *t, int timeout_ms);

/*
 * Tells the tracer about a virtio-mmio window the guest set up before tracing began (so its
 * magic value read was missed): with layout NULL, only the window (queue is not used); else
 * queue `queue`'s layout, as from --queue or QEMU's QMP (layout->flags is not used: the queue
 * is marked GMA_QUEUE_READY | GMA_QUEUE_FROM_USER). vm_id is struct gma_vm.id; device_id a
 * VIRTIO_ID_*, 0 when unknown. The queue's ring is read as it is now: the model starts from
 * it, and the chains in flight go once to the on_attach callback (struct gma_attach_chains).
 * -E2BIG for a queue index the tracer does not follow (GMA_TRACER_QUEUES_MAX of
 * <gma/tracer.h>, 64, or more), -EINVAL for a base not a multiple of GMA_VIRTIO_MMIO_WINDOW
 * (<gma/record.h>), a negative queue with a layout, or a bad size.
 */
GMA_API int gma_tracer_add_queue(struct gma_tracer *t, __u64 vm_id, __u64 base, int queue,
				 const struct gma_queue_layout *layout, __u32 device_id);

/*
 * Tells the tracer where a VM's PCI configuration space is mapped (ECAM, MMCONFIG): bus 0's
 * 4 KiB functions at guest physical `base`, `buses` buses of 1 MiB after it (1..256), so
 * the virtio-pci functions a guest configures there are learnt as through 0xCF8/0xCFC. A
 * q35 VM traced from boot needs none (its firmware programs the host bridge's PCIEXBAR, which
 * the tracer follows); a VM traced late does, or one of another VMM (gma-trace(8) --ecam
 * lists known bases). vm_id is struct gma_vm.id, or 0 for every VM of the traced process
 * that the tracer has not yet seen use PCI. -EINVAL for a window not 1 MiB aligned, of 0 or
 * more than 256 buses, or not below 2^52.
 */
GMA_API int gma_tracer_set_ecam(struct gma_tracer *t, __u64 vm_id, __u64 base, __u32 buses);

/*
 * A PCI function as it is now, for a tracer attached after the guest set it up: its
 * standard configuration space (the 256 bytes a driver reads through 0xCF8/0xCFC or ECAM),
 * each BAR's size, which the guest learnt by writing all-ones, a write the tracer cannot
 * make (0: no such BAR, or the upper half of a 64-bit one), and its queues' notify offsets.
 * gma_qmp_pci_function() reads one from QEMU. Declare it with GMA_OPTS().
 */
#define GMA_PCI_NOTIFY_QUEUES 64

struct gma_pci_function {
	size_t sz;
	__u8 config[256];
	__u64 bar_size[6];
	/*
	 * Each queue's queue_notify_off (bit q of notify_off_known: queue q's is given), as
	 * the driver read it from the common configuration: where Intel's ioeventfd fast path,
	 * which carries no data, says a notify landed. A read the tracer cannot make (it needs a
	 * queue_select write); QEMU's rule is the queue index.
	 */
	__u64 notify_off_known;
	__u16 queue_notify_off[GMA_PCI_NOTIFY_QUEUES];
	size_t : 0;
};

/*
 * Tells the tracer about a virtio-pci function of VM vm_id the guest set up before tracing
 * began (key: GMA_PCI_BASE(bus, dev, fn)), as if it had seen the driver enumerate it: its
 * BARs where the configuration space puts them (where the command register enables them),
 * its common configuration, notify area and MSI-X table from its capabilities. Then its
 * notifies are decoded (whose queue: the index the driver writes, or on Intel's fast path,
 * with no data, the address of the queue's notify offset in fn; a queue whose offset is not
 * given has its notifies there unseen, and is said so: notify_observable), and the queues
 * given with gma_tracer_add_queue() for the same key are sampled at them. -EINVAL for a bad
 * argument (fn->sz shorter than this release's struct, or with fields it does not know set)
 * or a BAR size that no BAR has, -ENODEV for a function that is not VirtIO,
 * -EEXIST when the tracer saw the guest set the function's BARs up (it knows more than a
 * snapshot: vectors), -ENOMEM, or a map update's error.
 */
GMA_API int gma_tracer_add_pci_function(struct gma_tracer *t, __u64 vm_id, __u64 key,
					const struct gma_pci_function *fn);

/*
 * Raises GMA_ANOM_STUCK (through on_anomaly, once per episode) for each queue with chains in
 * flight and no completion for longer than stuck_ns. Returns the number of stuck queues.
 */
GMA_API int gma_tracer_check_stuck(struct gma_tracer *t, __u64 stuck_ns);

/*
 * The model of every queue seen: *n elements of elem_sz bytes (the caller's
 * sizeof(**stats): the growth rules of <gma/gma.h>) in a malloc'ed array the caller frees with
 * free(). 0, -EINVAL (elem_sz 0) or -ENOMEM.
 */
GMA_API int gma_tracer_queue_stats(struct gma_tracer *t, struct gma_queue_stats **stats, size_t *n,
				   size_t elem_sz);

/*
 * Guest writes to a notify address the VMM registered with KVM_IOEVENTFD (struct
 * gma_ioeventfd) that no queue the tracer knows explained: the device was set up before the
 * trace began and its layout was not given (gma_tracer_add_queue; the tracer does not know
 * where a given virtio-pci queue is notified, so a write it cannot attribute is taken as a
 * given virtio-pci queue's when one has the index written). Counted in the kernel by
 * (VM, bus, address, value) since the tracer was made: a kvm_mmio or kvm_pio write, or a
 * kvm_fast_mmio hit (no value: data is then the one registration's datamatch, or
 * GMA_NOTIFY_NO_DATA). The registrations are read from the VM list when the tracer is made
 * and again every second while gma_tracer_poll() runs.
 */
#define GMA_NOTIFY_NO_DATA (~0ULL)

struct gma_unexplained_notify {
	__u64 vm_id;
	pid_t pid; /* the VMM */
	__u32 bus; /* GMA_BUS_* */
	__u64 addr;
	__u64 data; /* the value written: the queue index for VirtIO notifies */
	__u64 count;
	__u64 first_ns, last_ns; /* CLOCK_MONOTONIC */
	/* the registration hit, as last listed (kept once its VM exits; all 0: never listed) */
	__u64 reg_datamatch; /* when neither wildcard nor shared */
	__u32 reg_len; /* 0: any width */
	bool reg_wildcard; /* any value */
	bool reg_shared; /* several registrations at addr, one per datamatch (queue) */
};

/*
 * Every (VM, bus, address, value) counted, *n elements of elem_sz bytes (the caller's
 * sizeof(**out)) in a malloc'ed array the caller frees with free(), and in *overflow (may be
 * NULL) the notifies not counted because the kernel's table was full. 0, -EINVAL (elem_sz 0)
 * or -ENOMEM.
 */
GMA_API int gma_tracer_unexplained_notifies(struct gma_tracer *t,
					    struct gma_unexplained_notify **out, size_t *n,
					    size_t elem_sz, __u64 *overflow);
/*
 * Why the ioeventfd registrations could not be followed, the last time they were read: 0,
 * -E2BIG when some were left out (more than the tracer's table of 4096, or than the VM
 * lister lists of a VM: notifies there are not counted), else -errno of the VM lister
 * (without the registrations no notify is found unexplained).
 */
GMA_API int gma_tracer_ioeventfds_error(const struct gma_tracer *t);
/*
 * Hits of the tracepoints that carry the vCPU (kvm_exit, kvm_emulate_insn: one or two per
 * exit) on the traced VM's vCPU threads since the tracer was made: 0 for a guest that does
 * not run, or not in the traced process.
 */
GMA_API __u64 gma_tracer_vcpu_events(const struct gma_tracer *t);

/* Records the ring buffer refused (kernel side) and records userspace rejected as malformed. */
GMA_API __u64 gma_tracer_drops(const struct gma_tracer *t);
GMA_API __u64 gma_tracer_bad_records(const struct gma_tracer *t);

#ifdef __cplusplus
}
#endif

#endif /* GMA_TRACER_H */

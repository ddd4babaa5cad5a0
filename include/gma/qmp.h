/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * QEMU's QMP socket: queue layouts, the PCI ECAM window and PCI functions of a running QEMU,
 * for a trace attached late (gma_tracer_add_queue(), gma_tracer_add_pci_function()).
 */
#ifndef GMA_QMP_H
#define GMA_QMP_H

#include <gma/common.h>
#include <gma/tracer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gma_qmp;

/* Options of gma_qmp_new(), declared with GMA_OPTS(); every field may be left 0. */
struct gma_qmp_opts {
	size_t sz;
	/* Time allowed for the greeting and for each command's reply (0: the default, 5000 ms). */
	int timeout_ms;
	/* Longest message accepted from QEMU, in bytes (0: the default, 4 MiB; at least 4 KiB). */
	size_t max_msg;
	size_t : 0;
};

/*
 * Connects to QEMU's QMP unix socket at socket_path, reads the greeting and negotiates
 * capabilities; opts may be NULL. Returns the client (close it with gma_qmp_close()), or NULL
 * with errno: EINVAL (no path, or opts with a field this library does not know set),
 * ENAMETOOLONG, socket(2)'s or connect(2)'s errno, ETIMEDOUT (the peer stays silent),
 * EMSGSIZE (a message over max_msg), EPROTO (not QMP), ECONNRESET (peer closed), EREMOTEIO
 * (QEMU refused qmp_capabilities), ENOMEM.
 */
GMA_API struct gma_qmp *gma_qmp_new(const char *socket_path, const struct gma_qmp_opts *opts);
GMA_API void gma_qmp_close(struct gma_qmp *q);

/*
 * Runs one command. args_json is the JSON object of its arguments, or NULL. Asynchronous
 * events that arrive first are skipped. On success *ret_json (when ret_json is not NULL) is
 * the reply's "return" value as JSON text, malloc'ed, owned by the caller. Errors: -EINVAL
 * (no command, arguments that are not a JSON object), -ETIMEDOUT, -EMSGSIZE, -EPROTO,
 * -ECONNRESET and -ENOMEM as for gma_qmp_new(), send(2)'s errno, and -EREMOTEIO when QEMU
 * answered with an error, whose class and description gma_qmp_last_error() gives until the
 * next command. After -EMSGSIZE the stream is out of step: later commands fail with -ENOTCONN.
 */
GMA_API int gma_qmp_command(struct gma_qmp *q, const char *execute, const char *args_json,
			    char **ret_json);
GMA_API const char *gma_qmp_last_error(const struct gma_qmp *q);

/* QEMU's version from the greeting, e.g. 7.2.22 as 7, 2, 22. */
GMA_API void gma_qmp_version(const struct gma_qmp *q, int *major, int *minor, int *micro);

struct gma_qmp_queue {
	char device[64]; /* x-query-virtio's name, e.g. "virtio-blk" */
	char path[128]; /* its QOM path, e.g. "/machine/peripheral-anon/device[0]" */
	char bus[64]; /* the bus it sits on, e.g. "virtio-mmio-bus.23"; "" when unknown */
	/*
	 * The device's key: a virtio-mmio window's guest physical base, or GMA_PCI_BASE() of a
	 * virtio-pci device on the root bus (q35's pcie.0, pc's pci.0); 0 when unknown (a PCI
	 * device behind a bridge: its bus number is the guest's, which QMP does not tie to it).
	 */
	__u64 mmio_base;
	__u32 device_id; /* VIRTIO_ID_*; 0 when unknown */
	__u32 queue; /* queue index */
	struct gma_queue_layout layout; /* flags: FROM_USER, and LEGACY, PACKED, EVENT_IDX,
					 * READY as QEMU reports them */
	__u16 last_avail_idx; /* the device's next avail position */
	__u16 used_idx; /* the device's used index */
	__u16 shadow_avail_idx;
	__u16 pad;
	__u32 inuse; /* chains the device holds */
	__u32 vring_align;
	/*
	 * The device's rings are served by vhost (the host kernel, vhost-user): QEMU's
	 * last_avail_idx, used_idx and inuse above are then its own stale copy, not the device's.
	 */
	bool vhost;
};

/*
 * Every queue of every virtio device of the guest: x-query-virtio lists the devices,
 * x-query-virtio-status gives the device id and negotiated features, and
 * x-query-virtio-queue-status is asked for queue 0, 1, ... until QEMU says there is no such
 * queue (at most 1024). The virtio-mmio base is found by asking qom-get for the device's
 * parent_bus ("/machine/unattached/device[27]/virtio-mmio-bus.23") and looking that bus up in
 * "info qtree" (the virtio-mmio device holding it, and its "mmio BASE/SIZE" line); a PCI
 * device's backend sits on its proxy's "virtio-bus", and the proxy's "addr" (devfn) on the
 * root bus gives GMA_PCI_BASE(0, dev, fn). *out is *n elements of elem_sz bytes (the caller's
 * sizeof(**out): the growth rules of <gma/gma.h>), malloc'ed: free() it. Errors as for
 * gma_qmp_command (x-query-virtio must succeed; the mapping steps may fail without error),
 * and -EINVAL for an elem_sz of 0.
 */
GMA_API int gma_qmp_virtio_queues(struct gma_qmp *q, struct gma_qmp_queue **out, size_t *n,
				  size_t elem_sz);

/*
 * The guest's PCI ECAM (MMCONFIG) window as QEMU maps it now, from "info mtree": the
 * pcie-mmcfg-mmio region in the system memory address space (q35 maps it once the firmware
 * has enabled the host bridge's PCIEXBAR), or an alias of it from its start (arm virt).
 * *base is bus 0's guest physical address, *buses the buses it covers. -ENOENT when none is
 * mapped (pc, microvm, PCIEXBAR disabled), -EPROTO for a window gma cannot follow (not 1 MiB
 * aligned, more than 256 buses, past 2^52) or an answer that is not text; other errors as
 * for gma_qmp_command.
 */
GMA_API int gma_qmp_pci_ecam(struct gma_qmp *q, __u64 *base, __u32 *buses);

/*
 * PCI function key (GMA_PCI_BASE()) as it is now, for gma_tracer_add_pci_function(): its
 * configuration space read through the ECAM window at ecam_base (ecam_buses buses, as
 * gma_qmp_pci_ecam() gives them) with the monitor's xp, and its BAR sizes from query-pci.
 * The space is read as a driver reads it, never whole: the header and each capability, and
 * never the data window of a VIRTIO_PCI_CAP_PCI_CFG capability, whose read would be a read
 * of the BAR the guest pointed it at; other bytes are left 0. The queues' notify offsets are
 * QEMU's: the queue index (hw/virtio/virtio-pci.c). out->sz is the caller's (GMA_OPTS()):
 * what it covers is filled, the rest of it zeroed. -EINVAL for a bad argument (out->sz
 * shorter than a size_t) or a bus outside the window, -ENODEV when no function answers there or query-pci does not list
 * it, -EPROTO for an xp answer gma cannot read; other errors as for gma_qmp_command.
 */
GMA_API int gma_qmp_pci_function(struct gma_qmp *q, __u64 ecam_base, __u32 ecam_buses, __u64 key,
				 struct gma_pci_function *out);

#ifdef __cplusplus
}
#endif

#endif /* GMA_QMP_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A VirtIO PCI function as the tracer follows it (VirtIO 1.x 4.1), and its modern interface:
 * what one guest access changes in the tracer's model of the function (struct gma_tracer_pci_fn) and of
 * its device (struct gma_tracer_virtio_dev), and what the caller must do about it.
 *   - The function: its IDs (4.1.2: modern 0x1040 + device type, transitional 0x1000 +
 *     n), and its capabilities as the guest reads them, after each configuration access
 *     (pci_config_access: pci_config_regs.h's shadow, then the capabilities). A function set
 *     up before the trace began is learnt from a snapshot of its configuration space.
 *   - The modern interface lives in configuration space: the VirtIO structure capabilities
 *     (4.1.4: common configuration, notify area with its multiplier, ISR, device
 *     configuration) say where in which BAR. Common configuration writes (features, status,
 *     queue_select, queue_size, queue_desc/driver/device, queue_enable, the MSI-X vectors)
 *     and reads of queue_notify_off; notifies are writes to the notify area (the queue index
 *     as data), or on Intel's ioeventfd fast path an address with no data
 *     (virtio_pci_notify_queue()).
 * The legacy interface, of legacy and transitional functions, is their I/O BAR
 * (virtio_pci_legacy_regs.h).
 *
 * Offsets are the spec's, fixed, never CO-RE. They are spelt here: <linux/virtio_pci.h> pulls
 * in <linux/types.h>, which vmlinux.h conflicts with. Pure code, compiled into the tracer
 * (BPF, virtio_pci.bpf.h) and userspace (libgma, the unit test, the fuzz target).
 */
#ifndef GMA_VIRTIO_PCI_MODERN_REGS_H
#define GMA_VIRTIO_PCI_MODERN_REGS_H

#include "compiler.h"
#include <gma/record.h>
#include "tracer_maps.h"
#include "transport_regs.h" /* enum mmio_action, set_lo/set_hi, the device status and features */
#include "pci_config_regs.h"
#include "pci_msix_regs.h"

/* Device IDs (4.1.2): a function is VirtIO's by its vendor and a device ID in this range. */
#define PCI_VENDOR_VIRTIO 0x1af4
#define VIRTIO_PCI_DEVICE_ID_FIRST 0x1000 /* transitional: 0x1000 + n */
#define VIRTIO_PCI_DEVICE_ID_MODERN 0x1040 /* modern: 0x1040 + the device type */
#define VIRTIO_PCI_DEVICE_ID_LAST 0x107f

/*
 * struct virtio_pci_cap (4.1.4), a vendor-specific capability: cap_vndr, cap_next, cap_len,
 * cfg_type, bar, id, pad, offset, length; the notify one adds notify_off_multiplier.
 */
#define VIRTIO_PCI_CAP_CFG_TYPE 3
#define VIRTIO_PCI_CAP_BAR 4
#define VIRTIO_PCI_CAP_OFFSET 8
#define VIRTIO_PCI_CAP_LENGTH 12
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 16
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg (4.1.4.3): the fields the tracer follows */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00
#define VIRTIO_PCI_COMMON_GFSELECT 0x08
#define VIRTIO_PCI_COMMON_GF 0x0c
#define VIRTIO_PCI_COMMON_MSIX 0x10
#define VIRTIO_PCI_COMMON_STATUS 0x14
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34

/* Whether the function is a VirtIO one (modern or transitional), and its device type. */
static __always_inline bool pci_is_virtio(const struct gma_tracer_pci_fn *f)
{
	return f->vendor == PCI_VENDOR_VIRTIO && f->device >= VIRTIO_PCI_DEVICE_ID_FIRST &&
	       f->device <= VIRTIO_PCI_DEVICE_ID_LAST;
}

static __always_inline __u32 pci_virtio_type(const struct gma_tracer_pci_fn *f)
{
	/* a transitional device's ID (0x1000 + n) is not its type: its subsystem ID is */
	if (f->device >= VIRTIO_PCI_DEVICE_ID_MODERN)
		return f->device - VIRTIO_PCI_DEVICE_ID_MODERN;
	return pci_cfg_u16(f, PCI_SUBSYSTEM_ID);
}

/*
 * The version a function speaks, as virtio-mmio's Version register gives it: 2 for a modern
 * one; 1 for a transitional one, which a driver may drive through its legacy interface.
 */
static __always_inline __u32 pci_virtio_version(const struct gma_tracer_pci_fn *f)
{
	return f->device >= VIRTIO_PCI_DEVICE_ID_MODERN ? 2 : 1;
}

/* Where a VirtIO structure capability at `at` says its structure is: BAR, offset, length. */
static __always_inline void pci_cap_loc(const struct gma_tracer_pci_fn *f, __u32 at,
					struct gma_tracer_pci_cap_loc *l)
{
	l->bar = f->cfg[(at + VIRTIO_PCI_CAP_BAR) & (GMA_TRACER_PCI_CFG_SIZE - 1)];
	l->off = pci_cfg_u32(f, at + VIRTIO_PCI_CAP_OFFSET);
	l->len = pci_cfg_u32(f, at + VIRTIO_PCI_CAP_LENGTH);
	l->valid = l->bar < GMA_TRACER_PCI_BARS;
}

/*
 * The VirtIO and MSI-X capabilities as the guest read them, from the capability list of the
 * shadow. The first MSI-X capability counts (a function has at most one).
 */
static __always_inline void pci_decode_caps(struct gma_tracer_pci_fn *f)
{
	__u32 at = f->cfg[PCI_CAP_PTR] & 0xfc;

	f->common.valid = f->notify.valid = f->msix_table.valid = 0;
	f->msix_cap = 0;
	if (!(f->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return;
	for (__u32 i = 0; i < PCI_CAPS_MAX && at >= PCI_STD_HEADER_SIZEOF; i++) {
		at &= GMA_TRACER_PCI_CFG_SIZE - 4;
		if (f->cfg[at] == PCI_CAP_ID_MSIX && !f->msix_cap)
			pci_msix_cap(f, at);
		if (f->cfg[at] == PCI_CAP_ID_VNDR) {
			switch (f->cfg[(at + VIRTIO_PCI_CAP_CFG_TYPE) &
				       (GMA_TRACER_PCI_CFG_SIZE - 1)]) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				pci_cap_loc(f, at, &f->common);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				pci_cap_loc(f, at, &f->notify);
				f->notify_mult = pci_cfg_u32(f, at + VIRTIO_PCI_NOTIFY_MULTIPLIER);
				break;
			}
		}
		at = f->cfg[(at + PCI_CAP_LIST_NEXT) & (GMA_TRACER_PCI_CFG_SIZE - 1)] & 0xfc;
	}
}

/*
 * A config space access of width bytes at reg + (port - 0xCFC), or through ECAM, with the
 * value the guest wrote or read. Returns PCI_CFG_CHANGED when the BARs, the command register
 * or the capabilities may have changed (the caller re-registers the function's windows).
 */
enum pci_cfg_result {
	PCI_CFG_NONE,
	PCI_CFG_CHANGED,
};

static __always_inline enum pci_cfg_result pci_config_access(struct gma_tracer_pci_fn *f, __u32 off,
							     __u32 width, __u32 val, bool write)
{
	if (width != 1 && width != 2 && width != 4)
		return PCI_CFG_NONE;
	pci_config_shadow(f, off, width, val, write);
	pci_decode_caps(f);
	return PCI_CFG_CHANGED;
}

/*
 * A function set up before the trace began, learnt from its configuration space as it is
 * now (cfg: GMA_TRACER_PCI_CFG_SIZE bytes) and each BAR's size (the VMM's; 0: none, or the upper half
 * of a 64-bit BAR): the accesses a driver makes are replayed through pci_config_access(),
 * every dword read, then each BAR sized (all-ones written, the mask read back, the address
 * written again), so the function is what the guest's own enumeration would have made it.
 * The queues' notify offsets (noff[q] where bit q of noff_known is set) are taken as the
 * driver's reads of queue_notify_off would have left them.
 * Userspace only (gma_tracer_add_pci_function()). False for a size that is no BAR's: not a
 * power of two, an I/O BAR of 64 KiB or more (pci_bar_size() keeps 16 bits). A memory BAR of
 * 4 GiB or more is left unsized: the tracer looks up BARs of at most 16 MiB
 * (PCI_MEM_BAR_ORDER_MAX).
 */
static __always_inline bool pci_fn_from_snapshot(struct gma_tracer_pci_fn *f, const __u8 *cfg,
						 const __u64 *bar_size, __u64 noff_known,
						 const __u16 *noff)
{
	for (__u32 off = 0; off < GMA_TRACER_PCI_CFG_SIZE; off += 4)
		pci_config_access(f, off, 4,
				  cfg[off] | cfg[off + 1] << 8 | cfg[off + 2] << 16 |
					  (__u32)cfg[off + 3] << 24,
				  false);
	for (__u32 i = 0; i < GMA_TRACER_PCI_BARS; i++) {
		__u32 lo = pci_cfg_u32(f, PCI_BAR0 + 4 * i), mask;
		__u64 size = bar_size[i];

		if (size & (size - 1) || ((lo & 1) && size >= 0x10000))
			return false;
		if (!size || size > 0x80000000ULL)
			continue; /* none, or too large for its low half to say (and to be looked up) */
		if (lo & 1)
			mask = (~((__u32)size - 1) & ~3u) | 1;
		else
			mask = (~((__u32)size - 1) & ~0xfu) | (lo & 0xf);
		pci_config_access(f, PCI_BAR0 + 4 * i, 4, 0xffffffffu, true);
		pci_config_access(f, PCI_BAR0 + 4 * i, 4, mask, false);
		pci_config_access(f, PCI_BAR0 + 4 * i, 4, lo, true);
	}
	for (__u32 q = 0; q < GMA_TRACER_QUEUES_MAX; q++) {
		if (noff_known & (1ULL << q)) {
			f->queue_notify_off[q] = noff[q];
			f->noff_known |= 1ULL << q;
		}
	}
	return true;
}

/*
 * The queue a notify at offset off of the notify structure is for, from the addresses the
 * driver learnt (queue_notify_off * notify_off_multiplier), or -1. With a multiplier of 0
 * every queue shares one address: only the data can tell (Intel's fast path has none).
 */
static __always_inline int virtio_pci_notify_queue(const struct gma_tracer_pci_fn *f, __u64 off)
{
	if (!f->notify_mult)
		return -1;
	for (__u32 q = 0; q < GMA_TRACER_QUEUES_MAX; q++)
		if ((f->noff_known & (1ull << q)) &&
		    (__u64)f->queue_notify_off[q] * f->notify_mult == off)
			return q;
	return -1;
}

/*
 * Whether queue q's notifies through the modern notify area are decoded: the area's BAR
 * registered, and where they may take Intel's fast path (fast_path: a VMX host), which
 * carries the address only, the queue's notify offset known.
 */
static __always_inline bool pci_notify_observable(const struct gma_tracer_pci_fn *f, __u32 q,
						  bool fast_path)
{
	return f->notify.valid && f->notify.bar < GMA_TRACER_PCI_BARS &&
	       f->bar_registered[f->notify.bar] &&
	       (!fast_path || (q < GMA_TRACER_QUEUES_MAX && (f->noff_known & (1ULL << q))));
}

/*
 * An access to the registers of queue qi (dev->queue_sel's) in the common configuration:
 * its MSI-X vector, its notify offset (read: the device's answer), its layout, whether it
 * is enabled.
 */
static __always_inline enum mmio_action virtio_pci_queue_access(struct gma_tracer_pci_fn *f,
								struct gma_tracer_virtio_dev *dev,
								__u32 qi, __u32 off, __u32 width,
								__u32 val, bool write)
{
	struct gma_tracer_vq_state *vq = &dev->q[qi];

	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		if (width == 2)
			pci_queue_vector(f, qi, val);
		return MMIO_NONE;
	}
	if (!write) {
		if (off == VIRTIO_PCI_COMMON_Q_NOFF) {
			f->queue_notify_off[qi] = val & 0xffff;
			f->noff_known |= 1ull << qi;
		}
		return MMIO_NONE;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		vq->num = val & 0xffff;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		set_lo(&vq->desc, val);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_hi(&vq->desc, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		set_lo(&vq->driver, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_hi(&vq->driver, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		set_lo(&vq->device, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_hi(&vq->device, val);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (!(val & 1)) {
			vq->flags &= ~GMA_QUEUE_READY;
			break;
		}
		return virtio_dev_queue_ready(dev, vq);
	}
	return MMIO_NONE;
}

/*
 * An access to the common configuration structure at off (width 1, 2 or 4; a 64-bit field
 * is written as two halves). *q receives the queue an action is about.
 */
static __always_inline enum mmio_action virtio_pci_common_access(struct gma_tracer_pci_fn *f,
								 struct gma_tracer_virtio_dev *dev,
								 __u32 off, __u32 width, __u32 val,
								 bool write, __u32 *q)
{
	__u32 qi;

	if (width < 4)
		val &= (1u << (8 * width)) - 1;
	if (off == VIRTIO_PCI_COMMON_DFSELECT || off == VIRTIO_PCI_COMMON_GFSELECT) {
		if (write && off == VIRTIO_PCI_COMMON_GFSELECT)
			dev->dfeatures_sel = val;
		return MMIO_NONE;
	}
	if (off == VIRTIO_PCI_COMMON_GF && write)
		return virtio_dev_set_features(dev, val);
	if (off == VIRTIO_PCI_COMMON_STATUS && write) {
		if (!(val & 0xff)) /* a reset gives every vector back: the driver sets them again */
			pci_vectors_forget(f);
		return virtio_dev_set_status(dev, val & 0xff);
	}
	if (off == VIRTIO_PCI_COMMON_MSIX && width == 2) {
		/* written, then read back: the read is the device's answer */
		f->config_vector = val;
		f->config_vector_known = 1;
		return MMIO_NONE;
	}
	if (off == VIRTIO_PCI_COMMON_Q_SELECT && write) {
		dev->queue_sel = val & 0xffff;
		return MMIO_NONE;
	}
	if (off < VIRTIO_PCI_COMMON_Q_SIZE || off > VIRTIO_PCI_COMMON_Q_USEDHI)
		return MMIO_NONE;
	if (dev->queue_sel >= GMA_TRACER_QUEUES_MAX)
		return MMIO_NONE; /* a queue this tracer does not follow */
	qi = dev->queue_sel & (GMA_TRACER_QUEUES_MAX - 1);
	*q = qi;
	return virtio_pci_queue_access(f, dev, qi, off, width, val, write);
}

#endif /* GMA_VIRTIO_PCI_MODERN_REGS_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-pci transport of the demo VMM; see virtio-pci.h. Offsets and layouts come from the
 * kernel's uapi <linux/virtio_pci.h>. Each modern device puts its structures in one memory
 * BAR, one 4 KiB region each, like QEMU: common config at 0x0000, ISR at 0x1000, device
 * config at 0x2000, notify area from 0x3000. The devices differ on purpose, so a tracer
 * must use what the guest reads rather than assume QEMU's choices:
 *   blk      BAR 4, 64-bit prefetchable, notify_off_multiplier 4, queue_notify_off = index
 *   console  BAR 2, 64-bit, notify_off_multiplier 0x1000 (a page per queue)
 *   hostile  BAR 1, 32-bit, notify_off_multiplier 4, queue_notify_off in reverse order
 *   net      legacy by default: I/O BAR 0 with the legacy register layout
 * The notify area is decoded by address: a write at notify base + off * multiplier is a
 * notification of the queue whose queue_notify_off is off (the value is the queue index).
 * Modern devices also have the VIRTIO_PCI_CAP_PCI_CFG capability the spec requires (a
 * window into the BAR through config space); the demo guest never uses it.
 *
 * MSI-X: every device but the hostile one has an MSI-X capability, its table (a vector per
 * queue and one for configuration changes) at 0 and its pending bits at 0x800 of a 4 KiB
 * 32-bit memory BAR 1, as QEMU's. The driver gives each queue a vector (queue_msix_vector;
 * legacy: VIRTIO_MSI_QUEUE_VECTOR, which exists only while MSI-X is enabled and moves the
 * device configuration from 20 to 24); a vector beyond the table reads back
 * VIRTIO_MSI_NO_VECTOR. With --irq a queue's interrupt is its vector's message, sent with
 * KVM_SIGNAL_MSI and logged ("irq": vector, address, data); a masked vector gets its pending
 * bit instead, and the message when unmasked.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "demo-abi.h"
#include "demo-log.h"
#include "ioeventfd.h"
#include "virtio-pci.h"
#include "vm.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_ID 0x1040 /* + virtio device type */
#define REGION 0x1000 /* size of each structure's region in the BAR */
#define R_COMMON 0x0000
#define R_ISR 0x1000
#define R_DEVICE 0x2000
#define R_NOTIFY 0x3000
#define LEGACY_IO_SIZE 0x40 /* registers (20 bytes) and the device config, a power of 2 */
#define MSIX_BAR 1
#define MSIX_BAR_SIZE 0x1000
#define MSIX_TABLE 0x000
#define MSIX_PBA 0x800
#define MSIX_VECTORS (VIRTIO_DEMO_MAX_QUEUES + 1) /* a vector per queue, one for config */

struct virtio_pci {
	struct pci_func f;
	struct virtio_dev *v;
	unsigned int bar; /* modern: the BAR holding the structures */
	uint8_t cfg_cap; /* modern: offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
	uint32_t notify_mult;
	uint16_t notify_off[VIRTIO_DEMO_MAX_QUEUES];
	uint8_t msix_cap; /* offset of the MSI-X capability, 0: none (hostile) */
	uint32_t msix_table[MSIX_VECTORS][PCI_MSIX_ENTRY_SIZE / 4]; /* as the guest wrote it */
	uint64_t msix_pba; /* bit i: vector i was signalled while masked */
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_DEMO_MAX_QUEUES];
};

static struct virtio_pci devs[VIRTIO_DEMO_MAX_DEVS];
static unsigned int nr_devs;

static uint32_t get_le(const uint8_t *d, uint32_t len)
{
	uint32_t v = 0;

	while (len--)
		v = v << 8 | d[len];
	return v;
}

static void put_le(uint8_t *d, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++, v >>= 8)
		d[i] = v & 0xff;
}

/* ---- MSI-X ---- */

static uint16_t msix_ctrl(const struct virtio_pci *vp)
{
	return vp->msix_cap ? get_le(&vp->f.cfg[vp->msix_cap + PCI_MSIX_FLAGS], 2) : 0;
}

static bool msix_enabled(const struct virtio_pci *vp)
{
	return msix_ctrl(vp) & PCI_MSIX_FLAGS_ENABLE;
}

static bool msix_masked(const struct virtio_pci *vp, uint16_t vec)
{
	return (msix_ctrl(vp) & PCI_MSIX_FLAGS_MASKALL) ||
	       (vp->msix_table[vec][PCI_MSIX_ENTRY_VECTOR_CTRL / 4] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* The vector a driver may set: one the table has, else VIRTIO_MSI_NO_VECTOR (it reads back). */
static uint16_t msix_vector_ok(const struct virtio_pci *vp, uint32_t val)
{
	return vp->msix_cap && val < MSIX_VECTORS ? val : VIRTIO_MSI_NO_VECTOR;
}

/*
 * A vector register (config, or the selected queue's: slot NULL when none is selected), the
 * same in common config and the legacy header: a write sets what the table has, a read
 * returns it.
 */
static uint32_t vector_reg(const struct virtio_pci *vp, uint16_t *slot, bool is_write, uint32_t val)
{
	if (is_write && slot)
		*slot = msix_vector_ok(vp, val);
	return slot ? *slot : VIRTIO_MSI_NO_VECTOR;
}

static void msix_vectors_reset(struct virtio_pci *vp)
{
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (unsigned int i = 0; i < VIRTIO_DEMO_MAX_QUEUES; i++)
		vp->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
}

/* Sends vector vec's message for queue @queue (-1: a pending one, on its unmasking). */
static void msix_send(struct virtio_pci *vp, uint16_t vec, int queue)
{
	const uint32_t *e = vp->msix_table[vec];
	uint64_t address = e[PCI_MSIX_ENTRY_LOWER_ADDR / 4] |
			   (uint64_t)e[PCI_MSIX_ENTRY_UPPER_ADDR / 4] << 32;
	uint32_t data = e[PCI_MSIX_ENTRY_DATA / 4];
	int r = vm_signal_msi(vp->v->host->vm, address, data);

	if (r < 0) {
		vp->v->host->errors++;
		jlog("{\"event\":\"virtio_error\",%s,\"queue\":%d,\"reason\":\"KVM_SIGNAL_MSI "
		     "vector %u: %s\"}",
		     vp->v->tag, queue, vec, strerror(-r));
		return;
	}
	jlog("{\"event\":\"irq\",%s,\"queue\":%d,\"vector\":%u,\"address\":%" PRIu64
	     ",\"data\":%u,\"delivered\":%d}",
	     vp->v->tag, queue, vec, address, data, r);
}

/* virtio_dev.msix_signal: queue qi's vector, if the driver gave it one and MSI-X is on. */
static void msix_signal(struct virtio_dev *v, uint32_t qi)
{
	struct virtio_pci *vp = v->transport_opaque;
	uint16_t vec = qi < VIRTIO_DEMO_MAX_QUEUES ? vp->queue_vector[qi] : VIRTIO_MSI_NO_VECTOR;

	if (!msix_enabled(vp) || vec >= MSIX_VECTORS)
		return; /* no vector: the driver asked for no interrupt (INTx is never raised) */
	if (msix_masked(vp, vec)) {
		vp->msix_pba |= 1ULL << vec;
		return;
	}
	msix_send(vp, vec, (int)qi);
}

/* Pending messages of vectors no longer masked go now (PCI 3.0 6.8.3.5). */
static void msix_unmasked(struct virtio_pci *vp)
{
	for (uint16_t vec = 0; vec < MSIX_VECTORS; vec++) {
		if (!(vp->msix_pba & 1ULL << vec) || !msix_enabled(vp) || msix_masked(vp, vec))
			continue;
		vp->msix_pba &= ~(1ULL << vec);
		msix_send(vp, vec, -1);
	}
}

/* BAR 1: the table (dword accesses) and the pending bits (read-only). */
static void msix_bar(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	uint32_t *w;

	if (!is_write)
		memset(data, 0, len);
	if (len != 4 || off % 4)
		return;
	if (off >= MSIX_PBA && off < MSIX_PBA + 8) {
		if (!is_write)
			put_le(data, 4, (uint32_t)(vp->msix_pba >> (8 * (off - MSIX_PBA))));
		return;
	}
	if (off - MSIX_TABLE >= sizeof(vp->msix_table))
		return;
	w = &vp->msix_table[(off - MSIX_TABLE) / PCI_MSIX_ENTRY_SIZE]
			   [(off - MSIX_TABLE) % PCI_MSIX_ENTRY_SIZE / 4];
	if (!is_write) {
		put_le(data, 4, *w);
		return;
	}
	*w = get_le(data, 4);
	if ((off - MSIX_TABLE) % PCI_MSIX_ENTRY_SIZE == PCI_MSIX_ENTRY_VECTOR_CTRL)
		msix_unmasked(vp);
}

/* ---- the log ---- */

static void log_device(struct virtio_pci *vp)
{
	struct virtio_dev *v = vp->v;
	const uint8_t *c = vp->f.cfg;
	char bars[512], notify[VIRTIO_DEMO_MAX_QUEUES * 64 + 8], where[sizeof(notify) + 256];
	uint64_t base = pci_bar_addr(&vp->f, vp->bar);
	int n = 0;

	pci_bars_json(&vp->f, bars, sizeof(bars));
	if (v->legacy) {
		snprintf(where, sizeof(where), "\"io_base\":%" PRIu64 ",\"notify_port\":%" PRIu64,
			 base, base + VIRTIO_PCI_QUEUE_NOTIFY);
	} else {
		n = snprintf(notify, sizeof(notify), "[");
		for (unsigned int i = 0; i < v->nr_queues; i++)
			n += snprintf(notify + n, sizeof(notify) - n,
				      "%s{\"queue\":%u,\"notify_off\":%u,\"addr\":%" PRIu64 "}",
				      i ? "," : "", i, vp->notify_off[i],
				      base + R_NOTIFY +
					      (uint64_t)vp->notify_off[i] * vp->notify_mult);
		snprintf(notify + n, sizeof(notify) - n, "]");
		snprintf(where, sizeof(where),
			 "\"common\":%" PRIu64 ",\"isr\":%" PRIu64 ",\"device_cfg\":%" PRIu64
			 ",\"notify\":%" PRIu64 ",\"notify_off_multiplier\":%u,\"queue_notify\":%s",
			 base + R_COMMON, base + R_ISR, base + R_DEVICE, base + R_NOTIFY,
			 vp->notify_mult, notify);
	}
	jlog("{\"event\":\"pci_device\",%s,\"vendor_id\":%u,\"device_id\":%u,\"revision\":%u,"
	     "\"subsystem_id\":%u,\"legacy\":%s,\"bars\":%s,%s,\"config_reads\":%" PRIu64
	     ",\"config_writes\":%" PRIu64 ",\"bar_sizings\":%" PRIu64 ",\"cap_reads\":%" PRIu64
	     "}",
	     v->tag, get_le(c + PCI_VENDOR_ID, 2), get_le(c + PCI_DEVICE_ID, 2), c[PCI_REVISION_ID],
	     get_le(c + PCI_SUBSYSTEM_ID, 2), v->legacy ? "true" : "false", bars, where,
	     vp->f.cfg_reads, vp->f.cfg_writes, vp->f.bar_sizings, vp->f.cap_reads);
}

/*
 * --ioeventfd: the notify addresses once the driver is ready and the BARs placed, as QEMU
 * starts its ioeventfds at DRIVER_OK: legacy, the I/O port with datamatch = queue; modern,
 * each queue's notify address, any width and value.
 */
static void register_ioeventfds(struct virtio_pci *vp)
{
	struct virtio_dev *v = vp->v;
	uint64_t base = vp->f.bars[vp->bar].mapped;

	if (!v->host->ioeventfds || v->hostile || !base)
		return;
	for (unsigned int i = 0; i < v->nr_queues; i++) {
		if (v->legacy)
			ioeventfd_add(v->host->ioeventfds, v, i, true,
				      base + VIRTIO_PCI_QUEUE_NOTIFY, 2, false);
		else
			ioeventfd_add(v->host->ioeventfds, v, i, false,
				      base + R_NOTIFY +
					      (uint64_t)vp->notify_off[i] * vp->notify_mult,
				      0, true);
	}
}

/* A status write; the device's PCI setup is logged each time the driver sets DRIVER_OK. */
static void set_status(struct virtio_pci *vp, uint32_t s)
{
	bool was = vp->v->status & VIRTIO_CONFIG_S_DRIVER_OK;

	if (!s)
		msix_vectors_reset(vp);
	virtio_dev_set_status(vp->v, s);
	if (!was && (vp->v->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		log_device(vp);
		register_ioeventfds(vp);
	}
}

/* ---- modern: the structures in the memory BAR ---- */

/* Width of the common config field at @off, 0 if no field starts there. */
static uint32_t common_width(uint64_t off)
{
	if (off < VIRTIO_PCI_COMMON_MSIX)
		return off % 4 ? 0 : 4;
	if (off == VIRTIO_PCI_COMMON_STATUS || off == VIRTIO_PCI_COMMON_CFGGENERATION)
		return 1;
	if (off < VIRTIO_PCI_COMMON_Q_DESCLO)
		return off % 2 ? 0 : 2;
	if (off < VIRTIO_PCI_COMMON_Q_NDATA)
		return off % 4 ? 0 : 4;
	if (off == VIRTIO_PCI_COMMON_Q_NDATA || off == VIRTIO_PCI_COMMON_Q_RESET)
		return 2;
	return 0;
}

static uint64_t *queue_addr(struct virtio_queue *q, uint64_t off)
{
	if (off < VIRTIO_PCI_COMMON_Q_AVAILLO)
		return &q->desc;
	return off < VIRTIO_PCI_COMMON_Q_USEDLO ? &q->driver : &q->device;
}

/* Common config: a field of the wrong width or offset is ignored (reads give 0). */
static void common_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	struct virtio_dev *v = vp->v;
	struct virtio_queue *q = virtio_dev_queue(v);
	uint32_t val = is_write ? get_le(data, len) : 0, r = 0;

	if (common_width(off) != len) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		if (is_write)
			v->dev_features_sel = val;
		r = v->dev_features_sel;
		break;
	case VIRTIO_PCI_COMMON_DF:
		r = virtio_dev_features(v);
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		if (is_write)
			v->drv_features_sel = val;
		r = v->drv_features_sel;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (is_write)
			virtio_dev_set_driver_features(v, val);
		r = v->drv_features_sel > 1 ?
			    0 :
			    (uint32_t)(v->drv_features >> (32 * v->drv_features_sel));
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		r = vector_reg(vp, &vp->config_vector, is_write, val);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		r = vector_reg(vp, q ? &vp->queue_vector[v->queue_sel] : NULL, is_write, val);
		break;
	case VIRTIO_PCI_COMMON_NUMQ:
		r = v->nr_queues;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		if (is_write)
			set_status(vp, val);
		r = v->status;
		break;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		r = v->generation;
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		if (is_write)
			v->queue_sel = val;
		r = v->queue_sel;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (is_write && q && !q->ready)
			q->num = val;
		r = q ? q->num : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Writing 0 is not allowed (queue_reset is not offered): ignored. */
		if (is_write && val == 1)
			virtio_dev_queue_enable(v);
		r = q && q->ready;
		break;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		r = q ? vp->notify_off[v->queue_sel] : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI: {
		bool hi = off % 8 == 4;
		uint64_t *a;

		if (!q)
			break;
		a = queue_addr(q, off);
		/* Ring addresses can only change while the queue is not live. */
		if (is_write && !q->ready)
			*a = hi ? (*a & 0xffffffffULL) | (uint64_t)val << 32 :
				  (*a & ~0xffffffffULL) | val;
		r = (uint32_t)(*a >> (hi ? 32 : 0));
		break;
	}
	}
	if (!is_write)
		put_le(data, len, r);
}

static void notify_write(struct virtio_pci *vp, uint64_t off, uint32_t val)
{
	struct virtio_dev *v = vp->v;

	if (!vp->notify_mult) {
		virtio_dev_notify(v, val);
		return;
	}
	for (unsigned int i = 0; i < v->nr_queues; i++) {
		if ((uint64_t)vp->notify_off[i] * vp->notify_mult == off) {
			virtio_dev_notify(v, i);
			return;
		}
	}
	v->host->errors++;
	jlog("{\"event\":\"virtio_error\",%s,\"queue\":-1,\"reason\":\"notify at offset %" PRIu64
	     " of the notify area, where no queue is\"}",
	     v->tag, off);
}

static void modern_bar(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *v = vp->v;

	if (off < R_COMMON + REGION) {
		common_access(vp, off - R_COMMON, data, len, is_write);
		return;
	}
	if (!is_write)
		memset(data, 0, len);
	if (off == R_ISR && !is_write) {
		data[0] = v->isr; /* reading the ISR acknowledges it */
		v->isr = 0;
	} else if (off >= R_DEVICE && off < R_DEVICE + REGION && !is_write) {
		virtio_dev_config_read(v, off - R_DEVICE, data, len);
	} else if (off >= R_NOTIFY && is_write && (len == 2 || len == 4)) {
		notify_write(vp, off - R_NOTIFY, get_le(data, len));
	}
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG: the driver sets bar, offset and length (1, 2 or 4) in the
 * capability, then reads or writes pci_cfg_data to access the BAR there.
 */
static void cfg_window(struct pci_func *f, uint32_t reg, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = (struct virtio_pci *)f; /* f is its first member */
	uint8_t *cap = &f->cfg[vp->cfg_cap];
	uint32_t data = vp->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	uint32_t off = get_le(cap + VIRTIO_PCI_CAP_OFFSET, 4);
	uint32_t n = get_le(cap + VIRTIO_PCI_CAP_LENGTH, 4);

	if (!vp->cfg_cap || reg + len <= data || reg >= data + 4)
		return;
	if (cap[VIRTIO_PCI_CAP_BAR] != vp->bar || (n != 1 && n != 2 && n != 4) ||
	    off > f->bars[vp->bar].size - n)
		return;
	if (!is_write)
		memset(&f->cfg[data], 0, 4);
	modern_bar(vp, off, &f->cfg[data], n, is_write);
}

/* ---- legacy: the registers in I/O BAR 0 ---- */

static void legacy_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *v = vp->v;
	struct virtio_queue *q = virtio_dev_queue(v);
	uint32_t val = is_write ? get_le(data, len) : 0, r = 0;
	/* the vector registers exist only while MSI-X is on: they push the config to 24 */
	uint32_t config = VIRTIO_PCI_CONFIG_OFF(msix_enabled(vp));

	if (off >= config) {
		if (!is_write)
			virtio_dev_config_read(v, off - config, data, len);
		return;
	}
	switch (off) {
	case VIRTIO_PCI_HOST_FEATURES:
		r = (uint32_t)v->dev_features;
		break;
	case VIRTIO_PCI_GUEST_FEATURES:
		if (is_write) {
			v->drv_features_sel = 0;
			virtio_dev_set_driver_features(v, val);
		}
		r = (uint32_t)v->drv_features;
		break;
	case VIRTIO_PCI_QUEUE_PFN:
		if (is_write)
			virtio_dev_queue_pfn(v, val);
		r = q ? q->pfn : 0;
		break;
	case VIRTIO_PCI_QUEUE_NUM: /* read-only: the legacy driver cannot choose */
		r = q ? q->num : 0;
		break;
	case VIRTIO_PCI_QUEUE_SEL:
		if (is_write)
			v->queue_sel = val;
		r = v->queue_sel;
		break;
	case VIRTIO_PCI_QUEUE_NOTIFY:
		if (is_write)
			virtio_dev_notify(v, val);
		break;
	case VIRTIO_PCI_STATUS:
		if (is_write)
			set_status(vp, val & 0xff);
		r = v->status;
		break;
	case VIRTIO_PCI_ISR:
		if (!is_write) {
			r = v->isr; /* reading the ISR acknowledges it */
			v->isr = 0;
		}
		break;
	case VIRTIO_MSI_CONFIG_VECTOR:
		r = vector_reg(vp, &vp->config_vector, is_write, val);
		break;
	case VIRTIO_MSI_QUEUE_VECTOR:
		r = vector_reg(vp, q ? &vp->queue_vector[v->queue_sel] : NULL, is_write, val);
		break;
	}
	if (!is_write)
		put_le(data, len, r);
}

/* ---- setup ---- */

/* Config hook: the PCI_CFG window (modern), and pending messages once the function unmasks. */
static void cfg_hook(struct pci_func *f, uint32_t reg, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = (struct virtio_pci *)f; /* f is its first member */

	if (vp->cfg_cap)
		cfg_window(f, reg, len, is_write);
	if (is_write && vp->msix_cap && reg < vp->msix_cap + PCI_MSIX_FLAGS + 2u &&
	    reg + len > vp->msix_cap + PCI_MSIX_FLAGS + 0u)
		msix_unmasked(vp);
}

/* The MSI-X capability and BAR 1 (table and pending bits), enable and mask-all writable. */
static void add_msix(struct virtio_pci *vp)
{
	uint8_t cap[PCI_CAP_MSIX_SIZEOF] = { PCI_CAP_ID_MSIX };

	put_le(&cap[PCI_MSIX_FLAGS], 2, MSIX_VECTORS - 1);
	put_le(&cap[PCI_MSIX_TABLE], 4, MSIX_TABLE | MSIX_BAR);
	put_le(&cap[PCI_MSIX_PBA], 4, MSIX_PBA | MSIX_BAR);
	pci_func_set_bar(&vp->f, MSIX_BAR, MSIX_BAR_SIZE, false, false, false, msix_bar, vp);
	vp->msix_cap = pci_func_add_cap(&vp->f, cap, sizeof(cap));
	vp->f.wmask[vp->msix_cap + PCI_MSIX_FLAGS + 1] =
		(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
	vp->v->msix_signal = msix_signal;
	for (unsigned int i = 0; i < MSIX_VECTORS; i++) /* masked at reset */
		vp->msix_table[i][PCI_MSIX_ENTRY_VECTOR_CTRL / 4] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

/* Returns the capability's offset in config space. */
static uint8_t add_vendor_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length)
{
	struct virtio_pci_notify_cap c = { 0 }; /* the longest, with struct virtio_pci_cfg_cap */
	uint8_t len = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? sizeof(c) :
		      type == VIRTIO_PCI_CAP_PCI_CFG	? sizeof(struct virtio_pci_cfg_cap) :
							  sizeof(c.cap);

	c.cap.cap_vndr = PCI_CAP_ID_VNDR;
	c.cap.cap_len = len;
	c.cap.cfg_type = type;
	c.cap.bar = vp->bar;
	c.cap.offset = offset;
	c.cap.length = length;
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		c.notify_off_multiplier = vp->notify_mult;
	return pci_func_add_cap(&vp->f, &c, len);
}

static uint32_t pci_class(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK:
		return 0x010000; /* mass storage, SCSI (as QEMU) */
	case VIRTIO_ID_NET:
		return 0x020000; /* network, Ethernet */
	default:
		return 0x078000; /* communication, other */
	}
}

int virtio_pci_add(struct pci_host *p, struct virtio_host *h, unsigned int slot,
		   enum virtio_model m, bool legacy)
{
	/* PCI power management, version 3, D0: a capability that is not virtio's, to skip */
	static const uint8_t pm_cap[8] = { PCI_CAP_ID_PM, 0, 3, 0, 0, 0, 0, 0 };
	struct virtio_pci *vp;
	struct virtio_dev *v;
	uint32_t notify_len;
	uint64_t bar_size;
	char bdf[16];

	if (nr_devs >= VIRTIO_DEMO_MAX_DEVS || slot >= PCI_DEMO_DEVS)
		return -1;
	v = virtio_dev_create(h, m, legacy);
	if (!v)
		return -1;
	vp = &devs[nr_devs++];
	memset(vp, 0, sizeof(*vp));
	vp->v = v;
	v->transport_opaque = vp;
	msix_vectors_reset(vp);
	snprintf(bdf, sizeof(bdf), "0000:00:%02x.0", slot);
	virtio_dev_set_key(v, VIRTIO_TRANSPORT_PCI, DEMO_PCI_BASE(0ULL, slot, 0), bdf);

	if (legacy) {
		/* Transitional IDs: 0x1000 net, 0x1001 blk, 0x1003 console (type - 1 + 0x1000) */
		pci_func_init(&vp->f, VIRTIO_PCI_VENDOR, 0x1000 + v->device_id - 1, 0,
			      pci_class(v->device_id), VIRTIO_PCI_VENDOR, v->device_id);
		vp->bar = 0;
		pci_func_set_bar(&vp->f, 0, LEGACY_IO_SIZE, true, false, false, legacy_io, vp);
	} else {
		bool mem64 = m != VIRTIO_MODEL_HOSTILE;

		pci_func_init(&vp->f, VIRTIO_PCI_VENDOR, VIRTIO_PCI_MODERN_ID + v->device_id, 1,
			      pci_class(v->device_id), VIRTIO_PCI_VENDOR, v->device_id);
		vp->bar = m == VIRTIO_MODEL_CONSOLE ? 2 : m == VIRTIO_MODEL_HOSTILE ? 1 : 4;
		vp->notify_mult = m == VIRTIO_MODEL_CONSOLE ? 0x1000 : 4;
		for (unsigned int i = 0; i < v->nr_queues; i++)
			vp->notify_off[i] = m == VIRTIO_MODEL_HOSTILE ? v->nr_queues - 1 - i : i;
		notify_len = vp->notify_mult * v->nr_queues;
		notify_len = (notify_len + REGION - 1) & ~(REGION - 1);
		for (bar_size = REGION; bar_size < R_NOTIFY + notify_len; bar_size *= 2)
			;
		pci_func_set_bar(&vp->f, vp->bar, bar_size, false, mem64, m == VIRTIO_MODEL_BLK,
				 modern_bar, vp);
		pci_func_add_cap(&vp->f, pm_cap, sizeof(pm_cap));
		add_vendor_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, R_COMMON, REGION);
		add_vendor_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, R_NOTIFY, notify_len);
		add_vendor_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, R_ISR, REGION);
		add_vendor_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, R_DEVICE, REGION);
		vp->cfg_cap = add_vendor_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
		/* bar, offset, length and the data are the driver's to write */
		memset(&vp->f.wmask[vp->cfg_cap + VIRTIO_PCI_CAP_BAR], 0xff, 1);
		memset(&vp->f.wmask[vp->cfg_cap + VIRTIO_PCI_CAP_OFFSET], 0xff, 12);
	}
	if (m != VIRTIO_MODEL_HOSTILE)
		add_msix(vp);
	vp->f.cfg_hook = cfg_hook;
	vp->f.cfg[PCI_INTERRUPT_PIN] = 1; /* INTA#, never raised: the guest polls */
	if (pci_host_attach(p, &vp->f, slot))
		return -1;
	jlog("{\"event\":\"virtio_dev\",%s,\"device_id\":%u,\"legacy\":%s,\"queues\":%u,"
	     "\"queue_num_max\":%u,\"features\":%" PRIu64 "%s}",
	     v->tag, v->device_id, legacy ? "true" : "false", v->nr_queues,
	     DEMO_VIRTIO_QUEUE_NUM_MAX, v->dev_features, v->hostile ? ",\"hostile\":true" : "");
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* The demo guest's virtio driver; see virtio.h. */
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>

#include "lib.h"
#include "virtio.h"

#define VIRTIO_MAGIC 0x74726976 /* "virt" */
#define LEGACY_PAGE 4096u
#define VIRTIO_PCI_VENDOR 0x1af4

/* The device runs only while this vCPU is stopped in an exit: a compiler barrier suffices. */
#define barrier() asm volatile("" ::: "memory")

/* ---- virtio-mmio registers ---- */

static uint32_t rd(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

uint32_t vdev_isr(const struct vdev *d)
{
	if (d->transport == VDEV_PCI)
		return d->version == 2 ? mmio_read8(d->isr) : inb(d->io + VIRTIO_PCI_ISR);
	return rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
}

static void wr(const struct vdev *d, uint32_t off, uint32_t v);

void vdev_isr_ack(const struct vdev *d, uint32_t bits)
{
	if (d->transport == VDEV_MMIO)
		wr(d, VIRTIO_MMIO_INTERRUPT_ACK, bits);
}

static void wr(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

/* ---- virtio-pci: modern common config, legacy I/O registers ---- */

static uint32_t cc32(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->common + off);
}

static uint16_t cc16(const struct vdev *d, uint32_t off)
{
	return mmio_read16(d->common + off);
}

static void cc_w32(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->common + off, v);
}

static void cc_w16(const struct vdev *d, uint32_t off, uint16_t v)
{
	mmio_write16(d->common + off, v);
}

static bool pci_modern(const struct vdev *d)
{
	return d->transport == VDEV_PCI && d->version == 2;
}

static bool pci_legacy(const struct vdev *d)
{
	return d->transport == VDEV_PCI && d->version == 1;
}

/* ---- the transport seam: status, features, config ---- */

static void set_status(const struct vdev *d, uint32_t s)
{
	if (pci_modern(d))
		mmio_write8(d->common + VIRTIO_PCI_COMMON_STATUS, (uint8_t)s);
	else if (pci_legacy(d))
		outb(d->io + VIRTIO_PCI_STATUS, (uint8_t)s);
	else
		wr(d, VIRTIO_MMIO_STATUS, s);
}

static uint32_t get_status(const struct vdev *d)
{
	if (pci_modern(d))
		return mmio_read8(d->common + VIRTIO_PCI_COMMON_STATUS);
	if (pci_legacy(d))
		return inb(d->io + VIRTIO_PCI_STATUS);
	return rd(d, VIRTIO_MMIO_STATUS);
}

static uint64_t device_features(const struct vdev *d)
{
	uint64_t f;

	if (pci_legacy(d))
		return inl(d->io + VIRTIO_PCI_HOST_FEATURES);
	if (pci_modern(d)) {
		cc_w32(d, VIRTIO_PCI_COMMON_DFSELECT, 1);
		f = (uint64_t)cc32(d, VIRTIO_PCI_COMMON_DF) << 32;
		cc_w32(d, VIRTIO_PCI_COMMON_DFSELECT, 0);
		return f | cc32(d, VIRTIO_PCI_COMMON_DF);
	}
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

static void driver_features(const struct vdev *d, uint64_t f)
{
	if (pci_legacy(d)) {
		outl(d->io + VIRTIO_PCI_GUEST_FEATURES, (uint32_t)f);
	} else if (pci_modern(d)) {
		cc_w32(d, VIRTIO_PCI_COMMON_GFSELECT, 1);
		cc_w32(d, VIRTIO_PCI_COMMON_GF, (uint32_t)(f >> 32));
		cc_w32(d, VIRTIO_PCI_COMMON_GFSELECT, 0);
		cc_w32(d, VIRTIO_PCI_COMMON_GF, (uint32_t)f);
	} else {
		wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
		wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
		wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	}
}

bool vdev_has(const struct vdev *d, unsigned int bit)
{
	return d->features & (1ULL << bit);
}

uint32_t vdev_config32(const struct vdev *d, uint32_t off)
{
	if (pci_modern(d))
		return mmio_read32(d->devcfg + off);
	if (pci_legacy(d))
		return inl(d->io + VIRTIO_PCI_CONFIG_OFF(d->msix) + off);
	return rd(d, VIRTIO_MMIO_CONFIG + off);
}

uint8_t vdev_config8(const struct vdev *d, uint32_t off)
{
	if (pci_modern(d))
		return mmio_read8(d->devcfg + off);
	if (pci_legacy(d))
		return inb(d->io + VIRTIO_PCI_CONFIG_OFF(d->msix) + off);
	return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off);
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (modern): the same on every transport. */
static int negotiate(struct vdev *d, uint64_t wanted)
{
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t offered;

	set_status(d, 0);
	for (unsigned int i = 0; get_status(d); i++) /* the reset is done when it reads 0 */
		if (i == 1000)
			return -1;
	set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(d, status);

	offered = device_features(d);
	wanted |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (d->version == 2) {
		if (!(offered & (1ULL << VIRTIO_F_VERSION_1)))
			goto fail;
		wanted |= 1ULL << VIRTIO_F_VERSION_1;
	}
	d->features = offered & wanted;
	driver_features(d, d->features);

	if (d->version == 2) {
		status |= VIRTIO_CONFIG_S_FEATURES_OK;
		set_status(d, status);
		if (!(get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK))
			goto fail;
	} else if (d->transport == VDEV_MMIO) {
		wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, LEGACY_PAGE);
	}
	return 0;
fail:
	set_status(d, status | VIRTIO_CONFIG_S_FAILED);
	return -1;
}

int vdev_init(struct vdev *d, uint32_t base, uint32_t device_id, uint64_t wanted)
{
	memset(d, 0, sizeof(*d));
	d->transport = VDEV_MMIO;
	d->base = base;
	d->key = base;
	if (rd(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MAGIC)
		return -1;
	d->version = rd(d, VIRTIO_MMIO_VERSION);
	d->device_id = rd(d, VIRTIO_MMIO_DEVICE_ID);
	if ((d->version != 1 && d->version != 2) || d->device_id != device_id)
		return -1;
	return negotiate(d, wanted);
}

/*
 * Walks the capability list and takes the first vendor capability of each virtio structure
 * type, reading its fields from config space the way Linux does (bytes, then dwords).
 */
static void find_structures(struct vdev *d, const struct pci_dev *p)
{
	uint8_t off = pci_cap_first(p);

	for (unsigned int n = 0; off && n < 48; n++, off = pci_cap_next(p, off)) {
		uint8_t type, bar;
		uint32_t where, len;

		if (pci_read8(p, off) != PCI_CAP_ID_VNDR)
			continue;
		type = pci_read8(p, off + VIRTIO_PCI_CAP_CFG_TYPE);
		bar = pci_read8(p, off + VIRTIO_PCI_CAP_BAR);
		if (bar >= PCI_GUEST_BARS || !p->bar[bar] || (p->bar_io & 1u << bar))
			continue;
		where = pci_read32(p, off + VIRTIO_PCI_CAP_OFFSET);
		len = pci_read32(p, off + VIRTIO_PCI_CAP_LENGTH);
		if (where > p->bar_size[bar] || len > p->bar_size[bar] - where)
			continue;
		where += p->bar[bar];
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !d->common &&
		    len >= sizeof(struct virtio_pci_common_cfg)) {
			d->common = where;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !d->notify && len >= 2) {
			d->notify = where;
			d->notify_len = len;
			d->notify_mult = pci_read32(p, off + VIRTIO_PCI_NOTIFY_CAP_MULT);
		} else if (type == VIRTIO_PCI_CAP_ISR_CFG && !d->isr && len) {
			d->isr = where;
		} else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !d->devcfg && len) {
			d->devcfg = where;
		}
	}
}

int vdev_init_pci(struct vdev *d, const struct pci_dev *p, uint32_t device_id, uint64_t wanted)
{
	memset(d, 0, sizeof(*d));
	d->transport = VDEV_PCI;
	if (!p || p->vendor != VIRTIO_PCI_VENDOR)
		return -1;
	d->key = DEMO_PCI_BASE(p->bus, p->dev, p->fn);
	d->device_id = p->device >= 0x1040 ? p->device - 0x1040u : p->subsys;
	if (d->device_id != device_id)
		return -1;
	find_structures(d, p);
	if (d->common && d->notify && d->isr && d->devcfg) {
		d->version = 2;
	} else if (p->device < 0x1040 && (p->bar_io & 1) && p->bar_size[0] >= 0x20) {
		d->version = 1;
		d->io = (uint16_t)p->bar[0];
	} else {
		return -1;
	}
	return negotiate(d, wanted);
}

/* Sets the configuration vector (queue 0xffff) or queue @index's: what the device kept. */
static uint16_t set_vector(const struct vdev *d, uint32_t index, uint16_t vector)
{
	bool cfg = index == 0xffff;

	if (pci_modern(d)) {
		cc_w16(d, cfg ? VIRTIO_PCI_COMMON_MSIX : VIRTIO_PCI_COMMON_Q_MSIX, vector);
		return cc16(d, cfg ? VIRTIO_PCI_COMMON_MSIX : VIRTIO_PCI_COMMON_Q_MSIX);
	}
	outw(d->io + (cfg ? VIRTIO_MSI_CONFIG_VECTOR : VIRTIO_MSI_QUEUE_VECTOR), vector);
	return inw(d->io + (cfg ? VIRTIO_MSI_CONFIG_VECTOR : VIRTIO_MSI_QUEUE_VECTOR));
}

int vdev_msix_enable(struct vdev *d, const struct pci_dev *p)
{
	uint8_t off = pci_cap_first(p);
	uint32_t table, bar, base;
	uint16_t ctrl, n;

	for (unsigned int i = 0; off && pci_read8(p, off) != PCI_CAP_ID_MSIX; i++)
		off = i < 48 ? pci_cap_next(p, off) : 0;
	if (!off)
		return -1;
	ctrl = pci_read16(p, off + PCI_MSIX_FLAGS);
	table = pci_read32(p, off + PCI_MSIX_TABLE);
	bar = table & PCI_MSIX_TABLE_BIR;
	n = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	if (bar >= PCI_GUEST_BARS || !p->bar[bar] || (p->bar_io & 1u << bar) ||
	    (table & PCI_MSIX_TABLE_OFFSET) + n * PCI_MSIX_ENTRY_SIZE > p->bar_size[bar])
		return -1;
	base = p->bar[bar] + (table & PCI_MSIX_TABLE_OFFSET);
	pci_write16(p, off + PCI_MSIX_FLAGS, ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint16_t v = 0; v < n && v < 8; v++) {
		uint32_t e = base + v * PCI_MSIX_ENTRY_SIZE;

		mmio_write32(e + PCI_MSIX_ENTRY_LOWER_ADDR, DEMO_MSI_ADDRESS);
		mmio_write32(e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
		mmio_write32(e + PCI_MSIX_ENTRY_DATA, DEMO_MSI_DATA(p->dev, v));
		mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
	}
	pci_write16(p, off + PCI_MSIX_FLAGS,
		    (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
	d->msix = true;
	return set_vector(d, 0xffff, 0) == 0 ? 0 : -1;
}

void vdev_driver_ok(struct vdev *d)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		     VIRTIO_CONFIG_S_DRIVER_OK;

	if (d->version == 2)
		s |= VIRTIO_CONFIG_S_FEATURES_OK;
	set_status(d, s);
}

/* ---- the transport seam: queues ---- */

/* Selects queue @index; returns its maximum size, 0 if it does not exist or is live. */
static uint32_t queue_select(struct vdev *d, uint16_t index)
{
	if (pci_modern(d)) {
		cc_w16(d, VIRTIO_PCI_COMMON_Q_SELECT, index);
		return cc16(d, VIRTIO_PCI_COMMON_Q_ENABLE) ? 0 : cc16(d, VIRTIO_PCI_COMMON_Q_SIZE);
	}
	if (pci_legacy(d)) {
		outw(d->io + VIRTIO_PCI_QUEUE_SEL, index);
		return inl(d->io + VIRTIO_PCI_QUEUE_PFN) ? 0 : inw(d->io + VIRTIO_PCI_QUEUE_NUM);
	}
	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (d->version == 2 ? rd(d, VIRTIO_MMIO_QUEUE_READY) : rd(d, VIRTIO_MMIO_QUEUE_PFN))
		return 0;
	return rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

/* Modern: size, the three areas, then (if @ready) the queue goes live. */
static int queue_program(struct virtq *q, bool ready)
{
	struct vdev *d = q->dev;
	uint32_t desc = (uint32_t)(uintptr_t)q->desc, driver = (uint32_t)(uintptr_t)q->avail;
	uint32_t device = (uint32_t)(uintptr_t)q->used;

	if (pci_modern(d)) {
		uint32_t off = cc16(d, VIRTIO_PCI_COMMON_Q_NOFF) * d->notify_mult;

		if (off > d->notify_len - 2)
			return -1;
		q->notify_addr = d->notify + off;
		cc_w16(d, VIRTIO_PCI_COMMON_Q_SIZE, q->num);
		cc_w32(d, VIRTIO_PCI_COMMON_Q_DESCLO, desc);
		cc_w32(d, VIRTIO_PCI_COMMON_Q_DESCHI, 0);
		cc_w32(d, VIRTIO_PCI_COMMON_Q_AVAILLO, driver);
		cc_w32(d, VIRTIO_PCI_COMMON_Q_AVAILHI, 0);
		cc_w32(d, VIRTIO_PCI_COMMON_Q_USEDLO, device);
		cc_w32(d, VIRTIO_PCI_COMMON_Q_USEDHI, 0);
		if (ready)
			cc_w16(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
		return 0;
	}
	wr(d, VIRTIO_MMIO_QUEUE_NUM, q->num);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, driver);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, device);
	wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	if (ready)
		wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

/*
 * Modern: descriptor table at @area, driver and device areas at DEMO_VQ_DRIVER_OFF and
 * DEMO_VQ_DEVICE_OFF from it.
 * Legacy: one contiguous vring (vring_init() layout) with the used ring on the next page.
 */
int virtq_setup(struct virtq *q, struct vdev *d, uint16_t index, uint16_t num, uint32_t area)
{
	uint32_t max = queue_select(d, index);

	if (!max)
		return -1;
	/* its vector before it goes live, checked as Linux does: the device may refuse it */
	if (d->msix && set_vector(d, index, index + 1) != index + 1)
		return -1;
	if (pci_legacy(d)) /* its QUEUE_NUM is the size: the driver cannot choose */
		num = max;
	if (num > max)
		num = max;
	if (num > DEMO_VIRTIO_QUEUE_NUM_MAX)
		return -1;

	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->num = num;
	q->desc = (struct vring_desc *)(uintptr_t)area;
	if (d->version == 2) {
		q->avail = (struct vring_avail *)(uintptr_t)(area + DEMO_VQ_DRIVER_OFF);
		q->used = (struct vring_used *)(uintptr_t)(area + DEMO_VQ_DEVICE_OFF);
		memset(q->desc, 0, 0x300);
	} else {
		q->avail = (struct vring_avail *)(uintptr_t)(area + 16u * num);
		q->used = (struct vring_used *)(uintptr_t)(area + LEGACY_PAGE);
		memset(q->desc, 0, LEGACY_PAGE + 0x100);
	}
	for (uint16_t i = 0; i < num; i++)
		q->desc[i].next = i + 1;
	q->num_free = num;
	q->event_idx = vdev_has(d, VIRTIO_RING_F_EVENT_IDX);

	if (d->version == 2)
		return queue_program(q, true);
	if (pci_legacy(d)) {
		outl(d->io + VIRTIO_PCI_QUEUE_PFN, area / LEGACY_PAGE);
	} else {
		wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
		wr(d, VIRTIO_MMIO_QUEUE_ALIGN, LEGACY_PAGE);
		wr(d, VIRTIO_MMIO_QUEUE_PFN, area / LEGACY_PAGE);
	}
	return 0;
}

int virtq_setup_at(struct virtq *q, struct vdev *d, uint16_t index, uint16_t num, uint32_t desc,
		   uint32_t driver, uint32_t device, bool ready)
{
	if (d->version != 2 || queue_select(d, index) < num)
		return -1;
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->num = num;
	q->desc = (struct vring_desc *)(uintptr_t)desc;
	q->avail = (struct vring_avail *)(uintptr_t)driver;
	q->used = (struct vring_used *)(uintptr_t)device;
	return queue_program(q, ready);
}

void virtq_kick(struct virtq *q)
{
	const struct vdev *d = q->dev;

	q->kicked_avail = q->avail_idx;
	barrier();
	if (pci_modern(d))
		mmio_write16(q->notify_addr, q->index);
	else if (pci_legacy(d))
		outw(d->io + VIRTIO_PCI_QUEUE_NOTIFY, q->index);
	else
		wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* avail_event: the 16 bits after the used ring's last element, written by the device */
static uint16_t avail_event(const struct virtq *q)
{
	return *(volatile uint16_t *)((uintptr_t)q->used + offsetof(struct vring_used, ring) +
				      q->num * sizeof(struct vring_used_elem));
}

bool virtq_kick_if_needed(struct virtq *q)
{
	uint16_t old = q->kicked_avail, new = q->avail_idx;
	bool need;

	q->kicked_avail = new;
	barrier(); /* avail->idx written before the device's word is read */
	if (q->event_idx)
		need = vring_need_event(avail_event(q), new, old);
	else
		need = !(*(volatile __virtio16 *)&q->used->flags & VRING_USED_F_NO_NOTIFY);
	if (!need) {
		q->kicks_suppressed++;
		return false;
	}
	q->kicks++;
	virtq_kick(q);
	return true;
}

int virtq_next_head(const struct virtq *q)
{
	return q->num_free ? q->free_head : -1;
}

int virtq_add(struct virtq *q, const struct vbuf *bufs, unsigned int n, struct vring_desc *indirect)
{
	unsigned int need = indirect ? 1 : n;
	uint16_t head = q->free_head, i = head;

	if (!n || need > q->num_free)
		return -1;
	if (indirect) {
		for (unsigned int k = 0; k < n; k++) {
			indirect[k].addr = bufs[k].addr;
			indirect[k].len = bufs[k].len;
			indirect[k].flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
					    (k + 1 < n ? VRING_DESC_F_NEXT : 0);
			indirect[k].next = k + 1 < n ? k + 1 : 0;
		}
		q->desc[head].addr = (uint32_t)(uintptr_t)indirect;
		q->desc[head].len = n * sizeof(struct vring_desc);
		q->desc[head].flags = VRING_DESC_F_INDIRECT;
		q->free_head = q->desc[head].next;
	} else {
		/* Free descriptors are linked by .next: a chain simply keeps those links. */
		for (unsigned int k = 0; k < n; k++) {
			q->desc[i].addr = bufs[k].addr;
			q->desc[i].len = bufs[k].len;
			q->desc[i].flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
					   (k + 1 < n ? VRING_DESC_F_NEXT : 0);
			i = q->desc[i].next;
		}
		q->free_head = i;
	}
	q->num_free -= need;
	q->chain_len[head] = need;

	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	barrier(); /* the entry before the index that publishes it */
	q->avail_idx++;
	*(volatile __virtio16 *)&q->avail->idx = q->avail_idx;
	return head;
}

int virtq_get_used(struct virtq *q, uint32_t *len)
{
	uint16_t idx = *(volatile __virtio16 *)&q->used->idx, head, i, n;
	struct vring_used_elem e;

	if (idx == q->last_used)
		return -1;
	barrier();
	e = q->used->ring[q->last_used & (q->num - 1)];
	q->last_used++;
	if (e.id >= q->num || !q->chain_len[e.id])
		panic("virtio: used element with a head that is not in flight");
	head = (uint16_t)e.id;
	n = q->chain_len[head];
	q->chain_len[head] = 0;
	q->num_free += n;
	/* Put the chain back on the free list: its last descriptor links to the old head. */
	for (i = head; --n; i = q->desc[i].next)
		;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	*len = e.len;
	/* used_event: tell me of the next completion (the guest polls; the device counts) */
	if (q->event_idx)
		*(volatile uint16_t *)((uintptr_t)q->avail + offsetof(struct vring_avail, ring) +
				       q->num * sizeof(__virtio16)) = q->last_used;
	return head;
}

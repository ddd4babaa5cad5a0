// SPDX-License-Identifier: GPL-2.0
/* The demo guest's virtio-mmio driver; see virtio.h. */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "lib.h"
#include "virtio.h"

#define VIRTIO_MAGIC 0x74726976 /* "virt" */
#define LEGACY_PAGE 4096u

/* The device runs only while this vCPU is stopped in an exit: a compiler barrier suffices. */
#define barrier() asm volatile("" ::: "memory")

static uint32_t rd(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void wr(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

bool vdev_has(const struct vdev *d, unsigned int bit)
{
	return d->features & (1ULL << bit);
}

uint32_t vdev_config32(const struct vdev *d, uint32_t off)
{
	return rd(d, VIRTIO_MMIO_CONFIG + off);
}

uint8_t vdev_config8(const struct vdev *d, uint32_t off)
{
	return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off);
}

int vdev_init(struct vdev *d, uint32_t base, uint32_t device_id, uint64_t wanted)
{
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t offered;

	d->base = base;
	if (rd(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MAGIC)
		return -1;
	d->version = rd(d, VIRTIO_MMIO_VERSION);
	d->device_id = rd(d, VIRTIO_MMIO_DEVICE_ID);
	if ((d->version != 1 && d->version != 2) || d->device_id != device_id)
		return -1;

	wr(d, VIRTIO_MMIO_STATUS, 0);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(d, VIRTIO_MMIO_STATUS, status);

	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered = (uint64_t)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered |= rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	wanted |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (d->version == 2) {
		if (!(offered & (1ULL << VIRTIO_F_VERSION_1)))
			goto fail;
		wanted |= 1ULL << VIRTIO_F_VERSION_1;
	}
	d->features = offered & wanted;
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);

	if (d->version == 2) {
		status |= VIRTIO_CONFIG_S_FEATURES_OK;
		wr(d, VIRTIO_MMIO_STATUS, status);
		if (!(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
			goto fail;
	} else {
		wr(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, LEGACY_PAGE);
	}
	return 0;
fail:
	wr(d, VIRTIO_MMIO_STATUS, status | VIRTIO_CONFIG_S_FAILED);
	return -1;
}

void vdev_driver_ok(struct vdev *d)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		     VIRTIO_CONFIG_S_DRIVER_OK;

	if (d->version == 2)
		s |= VIRTIO_CONFIG_S_FEATURES_OK;
	wr(d, VIRTIO_MMIO_STATUS, s);
}

/*
 * Modern: descriptor table at @area, driver area at +0x100, device area at +0x200.
 * Legacy: one contiguous vring (vring_init() layout) with the used ring on the next page.
 */
int virtq_setup(struct virtq *q, struct vdev *d, uint16_t index, uint16_t num, uint32_t area)
{
	uint32_t max;

	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (d->version == 2 ? rd(d, VIRTIO_MMIO_QUEUE_READY) : rd(d, VIRTIO_MMIO_QUEUE_PFN))
		return -1;
	max = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max)
		return -1;
	if (num > max)
		num = max;
	if (num > DEMO_VIRTIO_QUEUE_NUM_MAX)
		num = DEMO_VIRTIO_QUEUE_NUM_MAX;

	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->num = num;
	q->desc = (struct vring_desc *)(uintptr_t)area;
	if (d->version == 2) {
		q->avail = (struct vring_avail *)(uintptr_t)(area + 0x100);
		q->used = (struct vring_used *)(uintptr_t)(area + 0x200);
		memset(q->desc, 0, 0x300);
	} else {
		q->avail = (struct vring_avail *)(uintptr_t)(area + 16u * num);
		q->used = (struct vring_used *)(uintptr_t)(area + LEGACY_PAGE);
		memset(q->desc, 0, LEGACY_PAGE + 0x100);
	}
	for (uint16_t i = 0; i < num; i++)
		q->desc[i].next = i + 1;
	q->num_free = num;

	wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
	if (d->version == 2) {
		wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)q->desc);
		wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(uintptr_t)q->avail);
		wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(uintptr_t)q->used);
		wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	} else {
		wr(d, VIRTIO_MMIO_QUEUE_ALIGN, LEGACY_PAGE);
		wr(d, VIRTIO_MMIO_QUEUE_PFN, area / LEGACY_PAGE);
	}
	return 0;
}

int virtq_setup_at(struct virtq *q, struct vdev *d, uint16_t index, uint16_t num, uint32_t desc,
		   uint32_t driver, uint32_t device, bool ready)
{
	if (d->version != 2)
		return -1;
	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (rd(d, VIRTIO_MMIO_QUEUE_READY) || rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < num)
		return -1;
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->num = num;
	q->desc = (struct vring_desc *)(uintptr_t)desc;
	q->avail = (struct vring_avail *)(uintptr_t)driver;
	q->used = (struct vring_used *)(uintptr_t)device;
	wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
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

void vdev_notify(const struct vdev *d, uint32_t index)
{
	barrier();
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, index);
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

void virtq_kick(struct virtq *q)
{
	barrier();
	wr(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
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
	return head;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio transport of the demo VMM: the register file of each device's window, decoded
 * into calls of virtio-dev.c. Register offsets come from the kernel's uapi header.
 */
#include <inttypes.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "demo-abi.h"
#include "demo-log.h"
#include "virtio-mmio.h"

#define VIRTIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_DEMO_VENDOR 0x00414d47 /* "GMA" */

static uint32_t reg_read(struct virtio_dev *v, uint64_t off)
{
	struct virtio_queue *q = virtio_dev_queue(v);
	bool legacy = v->legacy;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return legacy ? 1 : 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return v->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_DEMO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_dev_features(v);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? DEMO_VIRTIO_QUEUE_NUM_MAX : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return !legacy && q ? q->ready : 0;
	case VIRTIO_MMIO_QUEUE_PFN:
		return legacy && q ? q->pfn : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return v->isr;
	case VIRTIO_MMIO_STATUS:
		return v->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return legacy ? 0 : v->generation;
	}
	return 0;
}

static void set_addr(uint64_t *a, bool high, uint32_t val)
{
	*a = high ? (*a & 0xffffffffULL) | (uint64_t)val << 32 : (*a & ~0xffffffffULL) | val;
}

static void reg_write(struct virtio_dev *v, uint64_t off, uint32_t val)
{
	struct virtio_queue *q = virtio_dev_queue(v);
	bool legacy = v->legacy;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		v->dev_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_dev_set_driver_features(v, val);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		v->drv_features_sel = val;
		return;
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
		if (legacy && val && !(val & (val - 1)))
			v->guest_page_size = val;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		v->queue_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q && !q->ready)
			q->num = val;
		return;
	case VIRTIO_MMIO_QUEUE_ALIGN:
		if (legacy && q && val && !(val & (val - 1)))
			q->align = val;
		return;
	case VIRTIO_MMIO_QUEUE_PFN:
		if (legacy)
			virtio_dev_queue_pfn(v, val);
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (legacy || !q)
			return;
		if (val == 1)
			virtio_dev_queue_enable(v);
		else if (val == 0)
			q->ready = false;
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		virtio_dev_notify(v, val);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		v->isr &= ~val;
		return;
	case VIRTIO_MMIO_STATUS:
		virtio_dev_set_status(v, val);
		return;
	}
	/* Ring addresses can only change while the queue is not live. */
	if (legacy || !q || q->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_addr(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_addr(&q->driver, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_addr(&q->device, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	}
}

static void mmio_handler(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_dev *v = opaque;
	uint32_t val = 0;

	if (off >= VIRTIO_MMIO_CONFIG) {
		/* Device config: any width, read-only. */
		if (!is_write)
			virtio_dev_config_read(v, off - VIRTIO_MMIO_CONFIG, data, len);
		return;
	}
	/* Registers are 32 bits wide and aligned; other accesses are ignored (reads give 0). */
	if (len != 4 || off % 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		memcpy(&val, data, 4);
		reg_write(v, off, val);
	} else {
		val = reg_read(v, off);
		memcpy(data, &val, 4);
	}
}

int virtio_mmio_add(struct virtio_host *h, struct bus *mmio, enum virtio_model m, uint64_t base,
		    bool legacy)
{
	struct virtio_dev *v = virtio_dev_create(h, m, legacy);

	if (!v)
		return -1;
	virtio_dev_set_key(v, VIRTIO_TRANSPORT_MMIO, base, NULL);
	v->gsi = DEMO_VIRTIO_GSI_BASE + (uint32_t)((base - DEMO_VIRTIO_BLK_BASE) / 0x1000);
	jlog("{\"event\":\"virtio_dev\",%s,\"size\":%u,\"device_id\":%u,\"version\":%u,"
	     "\"queues\":%u,\"queue_num_max\":%u,\"features\":%" PRIu64 "%s}",
	     v->tag, DEMO_VIRTIO_MMIO_SIZE, v->device_id, legacy ? 1 : 2, v->nr_queues,
	     DEMO_VIRTIO_QUEUE_NUM_MAX, v->dev_features, v->hostile ? ",\"hostile\":true" : "");
	return bus_add(mmio, v->name, base, DEMO_VIRTIO_MMIO_SIZE, mmio_handler, v);
}

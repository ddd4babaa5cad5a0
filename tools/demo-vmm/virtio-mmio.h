/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-mmio devices of the demo VMM: the transport (modern, version 2; legacy, version 1,
 * with --legacy), split virtqueues, and three small device models (blk, console, net).
 *
 * Every queue notification is processed at once (chains walked, validated, logged, the
 * request carried out) but its used-ring entries are held back for a configurable delay and
 * written later from the run loop, so a tracer sees a measurable notify-to-completion time.
 */
#ifndef GMA_DEMO_VIRTIO_MMIO_H
#define GMA_DEMO_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "vm.h"

#define VIRTIO_DEMO_MAX_QUEUES 5 /* the hostile device has 5 */
#define VIRTIO_DEMO_MAX_DEVS 4
#define VIRTIO_DEMO_MAX_PENDING 256

struct virtio_host;

struct virtio_queue {
	uint32_t num; /* QueueNum as written by the driver */
	bool ready;
	uint64_t desc, driver, device; /* ring addresses (gpa) */
	uint32_t pfn, align; /* legacy */
	uint16_t last_avail; /* next avail ring position the device will consume */
	uint16_t used_idx; /* next used ring position the device will fill */
	uint64_t chains, bytes_written;
};

struct virtio_dev {
	struct virtio_host *host;
	const char *name;
	uint32_t device_id;
	uint64_t base;
	/*
	 * A hostile-mode device: a malformed chain is logged and dropped (no used element),
	 * the device is never marked NEEDS_RESET, an avail index that jumps is resynchronised,
	 * misaligned rings are accepted, and chains longer than the queue or with a
	 * zero-length descriptor count as malformed too.
	 */
	bool hostile;
	uint64_t dev_features, drv_features;
	uint32_t dev_features_sel, drv_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t isr;
	uint32_t generation;
	uint32_t guest_page_size; /* legacy */
	unsigned int nr_queues;
	struct virtio_queue queues[VIRTIO_DEMO_MAX_QUEUES];
	uint8_t config[64];
	uint32_t config_len;
	uint32_t reset_count; /* completions queued before a reset are dropped */
	char line[256]; /* console: bytes of the current output line */
	uint32_t line_len;
};

struct virtio_pending {
	struct virtio_dev *dev;
	uint32_t reset_count;
	uint16_t queue;
	uint16_t head;
	uint32_t len;
	uint64_t notify_ns; /* when the driver notified */
	uint64_t due_ns; /* when to write the used element */
};

struct virtio_host {
	struct vm *vm;
	bool legacy;
	uint32_t delay_ms;
	struct virtio_dev devs[VIRTIO_DEMO_MAX_DEVS];
	unsigned int nr_devs;
	struct virtio_pending pending[VIRTIO_DEMO_MAX_PENDING]; /* FIFO ring */
	unsigned int pending_head, pending_count;
	uint8_t *disk;
	uint64_t requests, completions, errors;
};

/*
 * Creates blk, console and net (and with @hostile the hostile blk device at
 * DEMO_VIRTIO_HOSTILE_BASE) and registers their windows on @mmio.
 */
int virtio_host_init(struct virtio_host *h, struct vm *vm, struct bus *mmio, bool legacy,
		     uint32_t delay_ms, bool hostile);
/*
 * used-backwards: writes the used->idx of queue @qi of the hostile device at @base one less
 * than the device last published (its own position is kept, so the next completion jumps
 * forward by 2). Returns 0 with the old and the new value, or -errno.
 */
int virtio_hostile_used_backwards(struct virtio_host *h, uint64_t base, unsigned int qi,
				  uint16_t *old_idx, uint16_t *new_idx);
/* Writes the used elements whose delay has passed. Call after every exit. */
void virtio_host_poll(struct virtio_host *h);
/* Frees the disk; completions still held back are dropped. */
void virtio_host_destroy(struct virtio_host *h);

#endif /* GMA_DEMO_VIRTIO_MMIO_H */

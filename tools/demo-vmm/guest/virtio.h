/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The demo guest's virtio driver: device probe and init over virtio-mmio or virtio-pci
 * (modern or legacy), split virtqueues with a free list of descriptors, direct and indirect
 * chains, and polling of the used ring (the guest has no interrupts). The transport is a
 * seam: init, queue setup, notify and config reads; the rings are the same for all. Layouts come from the kernel's uapi headers: they need only
 * <linux/types.h>, which works freestanding with -m32 once the multiarch asm/ directory is
 * on the include path (demo-vmm.mk adds it with -idirafter).
 */
#ifndef GMA_DEMO_GUEST_VIRTIO_H
#define GMA_DEMO_GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "demo-abi.h"
#include "pci.h"

enum vdev_transport {
	VDEV_MMIO,
	VDEV_PCI,
};

struct vdev {
	enum vdev_transport transport;
	uint64_t key; /* the base gma knows it by: MMIO window, or DEMO_PCI_BASE */
	uint32_t base; /* virtio-mmio window */
	uint32_t version; /* 2 modern, 1 legacy (either transport) */
	uint32_t device_id;
	uint64_t features; /* negotiated */
	/* virtio-pci modern: the structures, as the capabilities place them */
	uint32_t common, isr, devcfg, notify, notify_len, notify_mult;
	uint16_t io; /* virtio-pci legacy: I/O BAR 0 */
	bool msix; /* virtio-pci with MSI-X on: queue i has vector i + 1, config changes 0 */
};

struct virtq {
	struct vdev *dev;
	uint16_t index;
	uint32_t notify_addr; /* virtio-pci modern: where its notifications go */
	uint16_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t free_head; /* first free descriptor; free ones are linked by .next */
	uint16_t num_free;
	uint16_t avail_idx; /* next avail position (shadow of avail->idx) */
	uint16_t last_used; /* next used position to look at */
	uint16_t chain_len[DEMO_VIRTIO_QUEUE_NUM_MAX]; /* per head: descriptors it holds */
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated: used_event, avail_event */
	uint16_t kicked_avail; /* avail index at the last kick decision */
	uint32_t kicks, kicks_suppressed; /* of virtq_kick_if_needed */
};

/* One buffer of a chain; @write: the device writes it. */
struct vbuf {
	uint32_t addr;
	uint32_t len;
	bool write;
};

/*
 * Probes the device at @base and runs the init sequence up to FEATURES_OK, offering
 * @wanted (VERSION_1 and INDIRECT_DESC are added). Returns 0, or -1 if no such device.
 */
int vdev_init(struct vdev *d, uint32_t base, uint32_t device_id, uint64_t wanted);
/*
 * The same for the PCI function @p (NULL: none): modern if its capabilities describe the
 * virtio structures, else legacy through I/O BAR 0 if it has a transitional device ID.
 */
int vdev_init_pci(struct vdev *d, const struct pci_dev *p, uint32_t device_id, uint64_t wanted);
/*
 * Sets up queue @index with up to @num entries (legacy virtio-pci: the device's size);
 * @area: where its rings go (see demo-abi.h).
 */
int virtq_setup(struct virtq *q, struct vdev *d, uint16_t index, uint16_t num, uint32_t area);
/*
 * Modern transport only: sets up queue @index with its three areas wherever the caller wants
 * them (nothing is cleared: RAM starts zeroed), and sets QueueReady only if @ready.
 */
int virtq_setup_at(struct virtq *q, struct vdev *d, uint16_t index, uint16_t num, uint32_t desc,
		   uint32_t driver, uint32_t device, bool ready);
void vdev_driver_ok(struct vdev *d);
bool vdev_has(const struct vdev *d, unsigned int bit);
/*
 * virtio-pci, --irq: enables MSI-X of @p as Linux does (all masked, the table programmed
 * with DEMO_MSI_ADDRESS and DEMO_MSI_DATA, unmasked), after negotiation and before the
 * queues are set up, which then each get a vector. 0, or -1 if the device has no usable
 * MSI-X or refuses the configuration vector.
 */
int vdev_msix_enable(struct vdev *d, const struct pci_dev *p);
/*
 * virtio-mmio: InterruptStatus, and InterruptACK of the bits given; virtio-pci: the ISR,
 * which its read acknowledges (the ack does nothing).
 */
uint32_t vdev_isr(const struct vdev *d);
void vdev_isr_ack(const struct vdev *d, uint32_t bits);
uint32_t vdev_config32(const struct vdev *d, uint32_t off);
uint8_t vdev_config8(const struct vdev *d, uint32_t off);

/* The head the next virtq_add will use, or -1 if the queue is full. */
int virtq_next_head(const struct virtq *q);
/*
 * Makes a chain of @bufs available (not yet notified). With @indirect non-NULL the buffers go
 * into that table and the chain takes one descriptor. Returns the head, or -1 if full.
 */
int virtq_add(struct virtq *q, const struct vbuf *bufs, unsigned int n,
	      struct vring_desc *indirect);
/* Notifies the device of queue @q, whatever its state. */
void virtq_kick(struct virtq *q);
/*
 * Notifies the device only if it asked to be: with EVENT_IDX when vring_need_event() says
 * its avail_event lies among the entries added since the last kick decision, else unless the
 * used ring has VRING_USED_F_NO_NOTIFY. Returns whether it kicked.
 */
bool virtq_kick_if_needed(struct virtq *q);
/* Takes one used element and frees its chain: returns its head, or -1 if none. */
int virtq_get_used(struct virtq *q, uint32_t *len);

#endif /* GMA_DEMO_GUEST_VIRTIO_H */

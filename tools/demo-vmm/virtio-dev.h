/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio devices of the demo VMM, whatever their transport: split virtqueues and three small
 * device models (blk, console, net), plus the "hostile" blk of --hostile. The transports
 * (virtio-mmio.c, virtio-pci.c) decode the guest's register accesses and call in here.
 *
 * Every queue notification is processed at once (chains walked, validated, logged, the
 * request carried out) but its used-ring entries are held back for a configurable delay and
 * written later from the run loop, so a tracer sees a measurable notify-to-completion time.
 */
#ifndef GMA_DEMO_VIRTIO_DEV_H
#define GMA_DEMO_VIRTIO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

#define VIRTIO_DEMO_MAX_QUEUES 5 /* the hostile device has 5 */
#define VIRTIO_DEMO_MAX_DEVS 8
#define VIRTIO_DEMO_MAX_PENDING 256

struct virtio_host;
struct ioeventfds;

enum virtio_model {
	VIRTIO_MODEL_BLK,
	VIRTIO_MODEL_CONSOLE,
	VIRTIO_MODEL_NET,
	VIRTIO_MODEL_HOSTILE, /* a blk that survives garbage (--hostile) */
};

enum virtio_transport {
	VIRTIO_TRANSPORT_MMIO,
	VIRTIO_TRANSPORT_PCI,
};

struct virtio_queue {
	uint32_t num; /* queue size as set by the driver (PCI: preset to the maximum) */
	bool ready;
	uint64_t desc, driver, device; /* ring addresses (gpa) */
	uint32_t pfn, align; /* legacy */
	uint16_t last_avail; /* next avail ring position the device will consume */
	uint16_t used_idx; /* next used ring position the device will fill */
	uint64_t chains, bytes_written;
	/*
	 * --suppress: completions held back for this queue; while there are any the device is
	 * "processing" it and asks for no notifications (VRING_USED_F_NO_NOTIFY, or with
	 * VIRTIO_RING_F_EVENT_IDX an avail_event it does not move), as QEMU does.
	 */
	uint32_t pending;
	bool notify_off;
	uint16_t logged_avail; /* receive queues: avail positions logged so far */
	uint64_t silent_chains; /* chains found with no notify, when notifications came back */
	uint64_t interrupts, interrupts_suppressed; /* used_event / VRING_AVAIL_F_NO_INTERRUPT */
	uint64_t last_irq_ns; /* --irq: when its device last raised its line for it */
};

struct virtio_dev {
	struct virtio_host *host;
	const char *name;
	uint32_t device_id;
	enum virtio_transport transport;
	/*
	 * The key gma knows the device by: the window base for virtio-mmio, GMA_PCI_BASE
	 * (DEMO_PCI_BASE) of its bus/device/function for virtio-pci.
	 */
	uint64_t base;
	/* JSON fields naming the device in every log line: "dev", "base", "transport"[, "pci"] */
	char tag[128];
	bool legacy; /* virtio-mmio version 1, or the legacy virtio-pci interface */
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
	uint32_t gsi; /* --irq: the interrupt line it raises, 0: none (PCI) */
	/*
	 * --irq on virtio-pci: sends queue qi's MSI-X message (the transport's), and logs it;
	 * nothing when the driver gave the queue no vector, MSI-X is off, or the vector is
	 * masked (then its pending bit is set). NULL: none.
	 */
	void (*msix_signal)(struct virtio_dev *v, uint32_t qi);
	void *transport_opaque; /* the transport's state of this device */
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

/*
 * --fault: one thing that goes wrong on purpose, on the queue of the first device of its
 * type, after the queue has taken `after` chains; logged ("fault") when it is done.
 */
struct virtio_fault {
	uint32_t kind; /* DEMO_FAULT_* */
	uint32_t device_id; /* VIRTIO_ID_BLOCK, _CONSOLE, _NET */
	uint32_t queue;
	uint32_t after;
	bool fired;
};

struct virtio_host {
	struct vm *vm;
	uint32_t delay_ms;
	struct virtio_dev devs[VIRTIO_DEMO_MAX_DEVS];
	unsigned int nr_devs;
	struct virtio_pending pending[VIRTIO_DEMO_MAX_PENDING]; /* FIFO ring */
	unsigned int pending_head, pending_count;
	uint8_t *disk; /* shared by every blk device: they all hold the same bytes */
	uint64_t requests, completions, errors;
	uint64_t normal_completions; /* of the devices that are not hostile (--requests) */
	bool suppress; /* --suppress: set before the devices are created */
	struct virtio_fault fault; /* --fault */
	/* --fault device-no-interrupt: the last poll that found the kernel's tick stalled */
	uint64_t tick_stall_ns;
	bool tick_stalled; /* at the last poll (a stall is logged once, "tick-stall") */
	bool irq; /* --irq: devices with a gsi raise it, PCI ones send MSI-X (in-kernel irqchip) */
	bool held; /* --hold completions: no used element is written while set */
	struct ioeventfds *ioeventfds; /* --ioeventfd: where virtio-pci registers at DRIVER_OK */
};

int virtio_host_init(struct virtio_host *h, struct vm *vm, uint32_t delay_ms);
/*
 * A new device of model @m, in reset state, for a transport to attach: it sets base,
 * transport and tag (virtio_dev_set_key), then logs the device. NULL if there are too many.
 */
struct virtio_dev *virtio_dev_create(struct virtio_host *h, enum virtio_model m, bool legacy);
/* Names the device in the log: @pci is "0000:00:DD.F" for virtio-pci, NULL for virtio-mmio. */
void virtio_dev_set_key(struct virtio_dev *v, enum virtio_transport t, uint64_t base,
			const char *pci);

/* ---- what the transports call; every value comes from the untrusted guest ---- */

void virtio_dev_reset(struct virtio_dev *v);
/* The 32 feature bits selected by dev_features_sel (0 beyond bit 63). */
uint32_t virtio_dev_features(const struct virtio_dev *v);
/* Driver features, 32 bits at drv_features_sel; ignored once FEATURES_OK is set. */
void virtio_dev_set_driver_features(struct virtio_dev *v, uint32_t val);
/* A status write: 0 resets; FEATURES_OK is refused (cleared) if the features are not. */
void virtio_dev_set_status(struct virtio_dev *v, uint32_t s);
/* The selected queue, or NULL if queue_sel names none. */
struct virtio_queue *virtio_dev_queue(struct virtio_dev *v);
/* Modern: the driver enabled the selected queue (QueueReady, queue_enable). */
void virtio_dev_queue_enable(struct virtio_dev *v);
/* Legacy: QueuePFN of the selected queue (0 takes it down); @align: the used ring's. */
void virtio_dev_queue_pfn(struct virtio_dev *v, uint32_t pfn);
/* A queue notification: the chains the driver made available are processed. */
void virtio_dev_notify(struct virtio_dev *v, uint32_t queue);
/* Device-specific configuration: any width, read-only; bytes past its end read 0. */
void virtio_dev_config_read(const struct virtio_dev *v, uint64_t off, uint8_t *data, uint32_t len);

/*
 * used-backwards: writes the used->idx of queue @qi of the hostile device at @base one less
 * than the device last published (its own position is kept, so the next completion jumps
 * forward by 2). Returns 0 with the old and the new value, or -errno.
 */
int virtio_hostile_used_backwards(struct virtio_host *h, uint64_t base, unsigned int qi,
				  uint16_t *old_idx, uint16_t *new_idx);
/*
 * Logs each ready queue's avail and used index as read from guest memory now ("ring_state"):
 * the ground truth of the rings at the end of a run, with the vCPU stopped.
 */
void virtio_host_log_rings(struct virtio_host *h);
/*
 * The guest reports it did its --fault (DEMO_PIO_FAULT_FIRED, with an index): logged with the
 * device's key, as the VMM's own faults are.
 */
void virtio_fault_fired(struct virtio_host *h, const char *kind, uint32_t idx);
/* Writes the used elements whose delay has passed (none while held). Call after every exit. */
void virtio_host_poll(struct virtio_host *h);
/* Frees the disk; completions still held back are dropped. */
void virtio_host_destroy(struct virtio_host *h);

#endif /* GMA_DEMO_VIRTIO_DEV_H */

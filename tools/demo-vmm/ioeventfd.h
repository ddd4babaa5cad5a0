/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --ioeventfd: the devices' notify addresses are registered with KVM (KVM_IOEVENTFD) as QEMU
 * registers them: a virtio-mmio QueueNotify once per queue with datamatch = queue index (4
 * bytes), a legacy virtio-pci notify port likewise (2 bytes, I/O), a modern virtio-pci
 * queue's notify address with any width and value (length 0, which KVM puts on its MMIO and
 * fast MMIO buses). The guest's notify is then taken by KVM without an exit to the VMM, which
 * finds it on an eventfd, drained after every exit (the guest's heartbeats are exits). Each
 * registration and each drain is logged: the ground truth of what KVM holds and of how many
 * notifies went through it. The hostile device is left out: its scenarios count on each
 * notify reaching the VMM as an exit.
 */
#ifndef GMA_DEMO_IOEVENTFD_H
#define GMA_DEMO_IOEVENTFD_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio-dev.h"

#define IOEVENTFD_MAX (VIRTIO_DEMO_MAX_DEVS * VIRTIO_DEMO_MAX_QUEUES)

struct ioeventfd_reg {
	int fd;
	bool pio;
	bool wildcard; /* any value; else the queue index */
	uint64_t addr;
	uint32_t len; /* 0: any width (MMIO only) */
	uint32_t queue;
	struct virtio_dev *dev;
	uint64_t notifies; /* the eventfd's counts, summed */
};

struct ioeventfds {
	int vm_fd;
	struct ioeventfd_reg regs[IOEVENTFD_MAX];
	unsigned int nr;
};

void ioeventfd_init(struct ioeventfds *io, int vm_fd);
/* Registers every queue's notify of the virtio-mmio devices of @h. 0 or -errno, reported. */
int ioeventfd_register_mmio(struct ioeventfds *io, struct virtio_host *h);
/*
 * Registers queue @queue of @v at @addr (see above for what each transport uses); a device
 * registers once (a second DRIVER_OK after a reset keeps the first). 0 or -errno, reported.
 */
int ioeventfd_add(struct ioeventfds *io, struct virtio_dev *v, uint32_t queue, bool pio,
		  uint64_t addr, uint32_t len, bool wildcard);
/* Drains every eventfd; each count is logged and the queue processed as on a notify. */
void ioeventfd_poll(struct ioeventfds *io);
/* Drains once more, logs each registration's total, deassigns and closes. */
void ioeventfd_destroy(struct ioeventfds *io);

#endif /* GMA_DEMO_IOEVENTFD_H */

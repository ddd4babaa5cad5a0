/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --ioeventfd: the virtio-mmio devices' QueueNotify registers are registered with KVM
 * (KVM_IOEVENTFD, datamatch = queue index), as QEMU and other VMMs register their notify
 * addresses: the guest's notify is then taken by KVM without an exit to the VMM, which finds
 * it on an eventfd, drained after every exit (the guest's heartbeats are exits). Each
 * registration and each drain is logged: the ground truth of what KVM holds and of how many
 * notifies went through it.
 */
#ifndef GMA_DEMO_IOEVENTFD_H
#define GMA_DEMO_IOEVENTFD_H

#include <stdint.h>

#include "virtio-dev.h"

#define IOEVENTFD_MAX (VIRTIO_DEMO_MAX_DEVS * VIRTIO_DEMO_MAX_QUEUES)

struct ioeventfd_reg {
	int fd;
	uint64_t addr;
	uint32_t len;
	uint32_t datamatch;
	struct virtio_dev *dev;
	uint64_t notifies; /* the eventfd's counts, summed */
};

struct ioeventfds {
	int vm_fd;
	struct ioeventfd_reg regs[IOEVENTFD_MAX];
	unsigned int nr;
};

/*
 * Registers every queue's notify of the virtio-mmio devices of @h (those not hostile: their
 * scenarios count on each notify reaching the VMM as an exit). 0 or -errno, reported.
 */
int ioeventfd_register_mmio(struct ioeventfds *io, int vm_fd, struct virtio_host *h);
/* Drains every eventfd; each count is logged and the queue processed as on a notify. */
void ioeventfd_poll(struct ioeventfds *io);
/* Drains once more, logs each registration's total, deassigns and closes. */
void ioeventfd_destroy(struct ioeventfds *io);

#endif /* GMA_DEMO_IOEVENTFD_H */

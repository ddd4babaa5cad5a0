// SPDX-License-Identifier: GPL-2.0
/* --ioeventfd of the demo VMM: see ioeventfd.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/virtio_mmio.h>

#include "demo-log.h"
#include "ioeventfd.h"

static int assign(struct ioeventfds *io, const struct ioeventfd_reg *r, bool deassign)
{
	struct kvm_ioeventfd a = { .addr = r->addr, .len = r->len, .fd = r->fd };

	if (!r->wildcard) {
		a.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		a.datamatch = r->queue;
	}
	if (r->pio)
		a.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (deassign)
		a.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(io->vm_fd, KVM_IOEVENTFD, &a) ? -errno : 0;
}

void ioeventfd_init(struct ioeventfds *io, int vm_fd)
{
	memset(io, 0, sizeof(*io));
	io->vm_fd = vm_fd;
}

int ioeventfd_add(struct ioeventfds *io, struct virtio_dev *v, uint32_t queue, bool pio,
		  uint64_t addr, uint32_t len, bool wildcard)
{
	struct ioeventfd_reg *r = &io->regs[io->nr];
	int e;

	for (unsigned int i = 0; i < io->nr; i++)
		if (io->regs[i].dev == v && io->regs[i].queue == queue)
			return 0;
	if (io->nr == IOEVENTFD_MAX)
		return -ENOSPC;
	*r = (struct ioeventfd_reg){
		.pio = pio, .wildcard = wildcard, .addr = addr, .len = len, .queue = queue, .dev = v
	};
	r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->fd < 0) {
		e = -errno;
		fprintf(stderr, "demo-vmm: eventfd: %s\n", strerror(-e));
		return e;
	}
	e = assign(io, r, false);
	if (e) {
		fprintf(stderr, "demo-vmm: KVM_IOEVENTFD %s 0x%" PRIx64 " len %u queue %u: %s\n",
			pio ? "pio" : "mmio", addr, len, queue, strerror(-e));
		close(r->fd);
		return e;
	}
	io->nr++;
	jlog("{\"event\":\"ioeventfd_register\",%s,\"queue\":%u,\"bus\":\"%s\",\"addr\":%" PRIu64
	     ",\"len\":%u,\"wildcard\":%s,\"datamatch\":%u}",
	     v->tag, queue, pio ? "pio" : "mmio", addr, len, wildcard ? "true" : "false",
	     wildcard ? 0 : queue);
	return 0;
}

int ioeventfd_register_mmio(struct ioeventfds *io, struct virtio_host *h)
{
	for (unsigned int i = 0; i < h->nr_devs; i++) {
		struct virtio_dev *v = &h->devs[i];

		if (v->transport != VIRTIO_TRANSPORT_MMIO || v->hostile)
			continue;
		for (unsigned int qi = 0; qi < v->nr_queues; qi++) {
			int e = ioeventfd_add(io, v, qi, false, v->base + VIRTIO_MMIO_QUEUE_NOTIFY,
					      4, false);

			if (e)
				return e;
		}
	}
	return 0;
}

void ioeventfd_poll(struct ioeventfds *io)
{
	for (unsigned int i = 0; i < io->nr; i++) {
		struct ioeventfd_reg *r = &io->regs[i];
		uint64_t n;

		/* EAGAIN: no notify since the last drain */
		if (read(r->fd, &n, sizeof(n)) != sizeof(n) || !n)
			continue;
		r->notifies += n;
		jlog("{\"event\":\"ioeventfd\",%s,\"queue\":%u,\"addr\":%" PRIu64
		     ",\"count\":%" PRIu64 "}",
		     r->dev->tag, r->queue, r->addr, n);
		/* notifies the eventfd folded into one are one look at the ring, as for QEMU */
		virtio_dev_notify(r->dev, r->queue);
	}
}

void ioeventfd_destroy(struct ioeventfds *io)
{
	ioeventfd_poll(io);
	for (unsigned int i = 0; i < io->nr; i++) {
		struct ioeventfd_reg *r = &io->regs[i];

		jlog("{\"event\":\"ioeventfd_total\",%s,\"queue\":%u,\"bus\":\"%s\",\"addr\":%" PRIu64
		     ",\"notifies\":%" PRIu64 "}",
		     r->dev->tag, r->queue, r->pio ? "pio" : "mmio", r->addr, r->notifies);
		assign(io, r, true);
		close(r->fd);
	}
	io->nr = 0;
}

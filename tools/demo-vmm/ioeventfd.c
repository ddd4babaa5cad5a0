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
	struct kvm_ioeventfd a = { .datamatch = r->datamatch,
				   .addr = r->addr,
				   .len = r->len,
				   .fd = r->fd,
				   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH };

	if (deassign)
		a.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(io->vm_fd, KVM_IOEVENTFD, &a) ? -errno : 0;
}

int ioeventfd_register_mmio(struct ioeventfds *io, int vm_fd, struct virtio_host *h)
{
	io->vm_fd = vm_fd;
	for (unsigned int i = 0; i < h->nr_devs; i++) {
		struct virtio_dev *v = &h->devs[i];

		if (v->transport != VIRTIO_TRANSPORT_MMIO || v->hostile)
			continue;
		for (unsigned int qi = 0; qi < v->nr_queues; qi++) {
			struct ioeventfd_reg *r = &io->regs[io->nr];
			int e;

			if (io->nr == IOEVENTFD_MAX)
				return -ENOSPC;
			*r = (struct ioeventfd_reg){ .addr = v->base + VIRTIO_MMIO_QUEUE_NOTIFY,
						     .len = 4,
						     .datamatch = qi,
						     .dev = v };
			r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (r->fd < 0) {
				e = -errno;
				fprintf(stderr, "demo-vmm: eventfd: %s\n", strerror(-e));
				return e;
			}
			e = assign(io, r, false);
			if (e) {
				fprintf(stderr,
					"demo-vmm: KVM_IOEVENTFD 0x%" PRIx64
					" len 4 datamatch %u: %s\n",
					r->addr, qi, strerror(-e));
				close(r->fd);
				return e;
			}
			io->nr++;
			jlog("{\"event\":\"ioeventfd_register\",%s,\"queue\":%u,\"bus\":\"mmio\","
			     "\"addr\":%" PRIu64 ",\"len\":4,\"datamatch\":%u}",
			     v->tag, qi, r->addr, qi);
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
		     r->dev->tag, r->datamatch, r->addr, n);
		/* notifies the eventfd folded into one are one look at the ring, as for QEMU */
		virtio_dev_notify(r->dev, r->datamatch);
	}
}

void ioeventfd_destroy(struct ioeventfds *io)
{
	ioeventfd_poll(io);
	for (unsigned int i = 0; i < io->nr; i++) {
		struct ioeventfd_reg *r = &io->regs[i];

		jlog("{\"event\":\"ioeventfd_total\",%s,\"queue\":%u,\"addr\":%" PRIu64
		     ",\"notifies\":%" PRIu64 "}",
		     r->dev->tag, r->datamatch, r->addr, r->notifies);
		assign(io, r, true);
		close(r->fd);
	}
	io->nr = 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * --memslot-churn: a memslot of the VMM's own, away from the guest's RAM and never used by
 * the guest, added, moved and deleted in turn while the guest runs, each time with a fresh
 * mapping whose every byte is a new fill value. A tracer that kept a translation across a
 * change of memslots would read the old mapping or unmapped memory; each change is logged
 * ("slot_change") with the time a test orders its samples against.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "demo-log.h"
#include "demo-vmm.h"

/* Where the slot is (demo-abi.h, where the tests find it), typed for the log's %llu. */
#define CHURN_SLOT DEMO_CHURN_SLOT
#define CHURN_GPA_A ((unsigned long long)DEMO_CHURN_GPA_A)
#define CHURN_GPA_B ((unsigned long long)DEMO_CHURN_GPA_B)
#define CHURN_SIZE ((unsigned long long)DEMO_CHURN_SIZE)

static int churn_set(struct demo *d, uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = CHURN_SLOT,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)d->churn.map,
	};

	return ioctl(d->vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

/*
 * One step of --memslot-churn, between two KVM_RUNs: add the slot (a fresh mapping, every
 * byte the generation's fill), move it to another gpa, delete it and unmap its memory. A
 * tracer must see the current bytes or none, never a stale translation. Each change is logged
 * with now_ns(), CLOCK_MONOTONIC, the clock of the tracer's samples: taken after the ioctl and
 * before the next KVM_RUN, it orders the change against every sample of this vCPU.
 */
void churn_step(struct demo *d)
{
	uint64_t now = elapsed_ms();
	int err = 0;

	if (!d->opts->churn_ms || now < d->churn.next_ms)
		return;
	d->churn.next_ms = now + d->opts->churn_ms;
	switch (d->churn.phase) {
	case 0:
		d->churn.map = mmap(NULL, CHURN_SIZE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (d->churn.map == MAP_FAILED) {
			d->churn.map = NULL;
			return;
		}
		d->churn.fill = d->churn.fill % 250 + 1;
		memset(d->churn.map, d->churn.fill, CHURN_SIZE);
		err = churn_set(d, CHURN_GPA_A, CHURN_SIZE);
		jlog("{\"event\":\"slot_change\",\"op\":\"add\",\"slot\":%d,\"gpa\":%llu,"
		     "\"size\":%llu,\"hva\":%llu,\"fill\":%u,\"ts_ns\":%" PRIu64 "}",
		     CHURN_SLOT, CHURN_GPA_A, CHURN_SIZE,
		     (unsigned long long)(uintptr_t)d->churn.map, d->churn.fill, now_ns());
		break;
	case 1:
		err = churn_set(d, CHURN_GPA_B, CHURN_SIZE); /* KVM_MR_MOVE: a new gpa */
		jlog("{\"event\":\"slot_change\",\"op\":\"move\",\"slot\":%d,\"gpa\":%llu,"
		     "\"ts_ns\":%" PRIu64 "}",
		     CHURN_SLOT, CHURN_GPA_B, now_ns());
		break;
	case 2:
		err = churn_set(d, CHURN_GPA_B, 0);
		munmap(d->churn.map, CHURN_SIZE);
		d->churn.map = NULL;
		jlog("{\"event\":\"slot_change\",\"op\":\"delete\",\"slot\":%d,\"ts_ns\":%" PRIu64
		     "}",
		     CHURN_SLOT, now_ns());
		break;
	}
	if (err)
		fprintf(stderr, "demo-vmm: memslot churn: %s\n", strerror(errno));
	d->churn.phase = (d->churn.phase + 1) % 3;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Builds the demo VM before it runs: its RAM as several memslots with separate, non-adjacent
 * host mappings (so guest buffers cross memslot boundaries the way they do in real VMMs), the
 * vCPU, the guest image, and the devices --transport asks for, each on its bus. The "start"
 * and "slot" events it logs tell a test how the VM was made, before any guest event.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demo-log.h"
#include "demo-vmm.h"
#include "virtio-mmio.h"
#include "virtio-pci.h"

/* Guest RAM: the slots of demo-abi.h, each up to where the next begins. */
static const struct {
	uint64_t gpa;
	uint64_t size;
} ram_layout[] = {
	{ DEMO_SLOT0_GPA, DEMO_SLOT1_GPA - DEMO_SLOT0_GPA },
	{ DEMO_SLOT1_GPA, DEMO_SLOT2_GPA - DEMO_SLOT1_GPA },
	{ DEMO_SLOT2_GPA, DEMO_SLOT3_GPA - DEMO_SLOT2_GPA },
	{ DEMO_SLOT3_GPA, DEMO_HOLE_GPA - DEMO_SLOT3_GPA }, /* then the hole */
	{ DEMO_SLOT4_GPA, DEMO_RAM_END - DEMO_SLOT4_GPA },
};

int default_guest_path(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0) {
		fprintf(stderr, "demo-vmm: /proc/self/exe: %s; use --guest\n", strerror(errno));
		return -errno;
	}
	exe[n] = '\0';
	if ((size_t)snprintf(buf, size, "%s/demo-guest.bin", dirname(exe)) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int load_guest(struct demo *d, const char *path)
{
	static uint8_t image[DEMO_GUEST_MAX_SIZE + 1];
	size_t n;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "demo-vmm: guest %s: %s\n", path, strerror(errno));
		return -errno;
	}
	n = fread(image, 1, sizeof(image), f);
	fclose(f);
	if (n == 0 || n > DEMO_GUEST_MAX_SIZE) {
		fprintf(stderr, "demo-vmm: guest %s: size %zu%s, must be 1..%u bytes\n", path, n,
			n > DEMO_GUEST_MAX_SIZE ? "+" : "", DEMO_GUEST_MAX_SIZE);
		return -EINVAL;
	}
	return vm_write(&d->vm, DEMO_GUEST_LOAD_GPA, image, n);
}

static int setup_virtio(struct demo *d)
{
	static const struct {
		enum virtio_model model;
		uint64_t base;
	} mmio_devs[] = {
		{ VIRTIO_MODEL_BLK, DEMO_VIRTIO_BLK_BASE },
		{ VIRTIO_MODEL_CONSOLE, DEMO_VIRTIO_CONSOLE_BASE },
		{ VIRTIO_MODEL_NET, DEMO_VIRTIO_NET_BASE },
		{ VIRTIO_MODEL_HOSTILE, DEMO_VIRTIO_HOSTILE_BASE },
	};
	/* net is legacy on PCI whatever --legacy says: one run covers both interfaces */
	static const struct {
		enum virtio_model model;
		unsigned int slot;
		bool legacy;
	} pci_devs[] = {
		{ VIRTIO_MODEL_BLK, DEMO_PCI_SLOT_BLK, false },
		{ VIRTIO_MODEL_CONSOLE, DEMO_PCI_SLOT_CONSOLE, false },
		{ VIRTIO_MODEL_NET, DEMO_PCI_SLOT_NET, true },
		{ VIRTIO_MODEL_HOSTILE, DEMO_PCI_SLOT_HOSTILE, false },
	};
	const struct opts *o = d->opts;
	bool pci = o->transport & DEMO_TRANSPORT_PCI;
	int e;

	e = virtio_host_init(&d->virtio, &d->vm, o->complete_delay_ms);
	if (e)
		return e;
	d->virtio.suppress = o->suppress;
	d->virtio.fault = o->fault;
	d->virtio.irq = o->irq;
	d->virtio.held = o->hold & HOLD_COMPLETIONS;
	/* The hostile device is on PCI when there is PCI. */
	for (size_t i = 0; i < sizeof(mmio_devs) / sizeof(mmio_devs[0]); i++) {
		if (!(o->transport & DEMO_TRANSPORT_MMIO) ||
		    (mmio_devs[i].model == VIRTIO_MODEL_HOSTILE && (!o->hostile || pci)))
			continue;
		e = virtio_mmio_add(&d->virtio, &d->mmio, mmio_devs[i].model, mmio_devs[i].base,
				    o->legacy);
		if (e)
			return e;
	}
	if (o->ioeventfd) {
		ioeventfd_init(&d->io, d->vm.vm_fd);
		d->virtio.ioeventfds = &d->io;
		e = ioeventfd_register_mmio(&d->io, &d->virtio);
		if (e)
			return e;
	}
	if (!pci)
		return 0;
	e = pci_host_init(&d->pci, &d->pio, &d->mmio, o->pci_config);
	for (size_t i = 0; !e && i < sizeof(pci_devs) / sizeof(pci_devs[0]); i++) {
		if (pci_devs[i].model == VIRTIO_MODEL_HOSTILE && !o->hostile)
			continue;
		e = virtio_pci_add(&d->pci, &d->virtio, pci_devs[i].slot, pci_devs[i].model,
				   o->legacy || pci_devs[i].legacy);
	}
	return e;
}

int setup(struct demo *d, const char *guest)
{
	char esc[PATH_MAX * 6 + 1];
	int e;

	e = vm_create(&d->vm);
	if (e)
		return e;
	jlog("{\"event\":\"start\",\"pid\":%d,\"guest\":\"%s\",\"load_gpa\":%u,\"hz\":%u,"
	     "\"delay\":%u,\"req_hz\":%u,\"req_pace\":%u,\"complete_delay_ms\":%u,"
	     "\"legacy\":%s,\"transport\":\"%s\",\"pci_config\":\"%s\",\"hostile\":%u,"
	     "\"hostile_repeat\":%u,\"requests\":%" PRIu64 ",\"until_hostile_done\":%s,"
	     "\"suppress\":%s}",
	     (int)getpid(), json_escape(guest, esc, sizeof(esc)), DEMO_GUEST_LOAD_GPA,
	     d->opts->delay ? 0 : d->opts->hz, d->opts->delay, d->opts->req_hz, req_pace(d->opts),
	     d->opts->complete_delay_ms, d->opts->legacy ? "true" : "false",
	     transport_name(d->opts->transport), pci_config_name(d->opts->pci_config),
	     d->opts->hostile, d->opts->hostile_repeat, d->opts->requests,
	     d->opts->until_hostile_done ? "true" : "false", d->opts->suppress ? "true" : "false");
	for (size_t i = 0; i < sizeof(ram_layout) / sizeof(ram_layout[0]); i++) {
		struct vm_slot *s;

		e = vm_add_ram(&d->vm, ram_layout[i].gpa, ram_layout[i].size);
		if (e)
			return e;
		s = &d->vm.slots[d->vm.nr_slots - 1];
		jlog("{\"event\":\"slot\",\"slot\":%u,\"gpa\":%" PRIu64 ",\"size\":%" PRIu64
		     ",\"hva\":%" PRIu64 "}",
		     s->slot, s->gpa, s->size, (uint64_t)(uintptr_t)s->hva);
	}
	if (d->opts->irq) {
		e = vm_create_irqchip(&d->vm);
		if (e)
			return e;
	}
	e = vm_create_vcpu(&d->vm);
	if (e)
		return e;
	e = load_guest(d, guest);
	if (e)
		return e;
	e = vm_start_protected(&d->vm, DEMO_GUEST_LOAD_GPA, DEMO_GUEST_STACK_TOP);
	if (e)
		return e;

	d->pio.name = "pio";
	d->mmio.name = "mmio";
	e = bus_add(&d->pio, "demo-report", DEMO_PIO_BASE, DEMO_PIO_SIZE, report_pio, d);
	if (e)
		return e;
	e = bus_add(&d->mmio, "demo-heartbeat", DEMO_MMIO_HEARTBEAT, DEMO_MMIO_HEARTBEAT_SIZE,
		    heartbeat_mmio, d);
	if (e)
		return e;
	return setup_virtio(d);
}

// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"

/* Overlapping windows are refused: which device owns an address must never be ambiguous. */
int bus_add(struct bus *bus, const char *name, uint64_t base, uint64_t size, bus_handler fn,
	    void *opaque)
{
	unsigned int i;

	if (!size || base + size < base) {
		fprintf(stderr, "demo-vmm: %s window %s: bad size\n", bus->name, name);
		return -EINVAL;
	}
	for (i = 0; i < bus->nr; i++) {
		const struct bus_window *w = &bus->windows[i];

		if (base < w->base + w->size && w->base < base + size) {
			fprintf(stderr, "demo-vmm: %s window %s overlaps %s at 0x%" PRIx64 "\n",
				bus->name, name, w->name, w->base);
			return -EBUSY;
		}
	}
	if (bus->nr >= BUS_MAX_WINDOWS) {
		fprintf(stderr, "demo-vmm: too many %s windows\n", bus->name);
		return -ENOSPC;
	}
	bus->windows[bus->nr++] = (struct bus_window){ name, base, size, fn, opaque };
	return 0;
}

int bus_del(struct bus *bus, uint64_t base, void *opaque)
{
	for (unsigned int i = 0; i < bus->nr; i++) {
		if (bus->windows[i].base != base || bus->windows[i].opaque != opaque)
			continue;
		memmove(&bus->windows[i], &bus->windows[i + 1],
			(bus->nr - i - 1) * sizeof(bus->windows[0]));
		bus->nr--;
		return 0;
	}
	return -ENOENT;
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	unsigned int i;

	for (i = 0; i < bus->nr; i++) {
		const struct bus_window *w = &bus->windows[i];

		if (addr >= w->base && addr - w->base < w->size &&
		    len <= w->size - (addr - w->base)) {
			if (!is_write)
				memset(data, 0xff, len);
			w->handler(w->opaque, addr - w->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	/* Say so a few times, then only count: a looping guest must not flood stderr. */
	if (bus->unhandled++ < 8)
		fprintf(stderr, "demo-vmm: unhandled %s %s at 0x%" PRIx64 " len %u\n", bus->name,
			is_write ? "write" : "read", addr, len);
	return false;
}

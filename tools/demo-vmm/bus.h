/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dispatch of guest PIO and MMIO accesses to device handlers by address window. A device
 * (the demo report ports, virtio-mmio devices, PCI BARs) registers a window; the run loop looks
 * up the window of each exit and calls its handler with the offset into the window. PCI BARs
 * come and go as the guest programs them (bus_del, bus_add).
 */
#ifndef GMA_DEMO_BUS_H
#define GMA_DEMO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_WINDOWS 32

/*
 * @off is relative to the window base. For a write, @data holds @len bytes from the guest;
 * for a read, the handler fills them (they are preset to 0xff, what an idle bus returns).
 */
typedef void (*bus_handler)(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

struct bus_window {
	const char *name;
	uint64_t base;
	uint64_t size;
	bus_handler handler;
	void *opaque;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct bus_window windows[BUS_MAX_WINDOWS];
	unsigned int nr;
	uint64_t unhandled; /* accesses that hit no window */
};

int bus_add(struct bus *bus, const char *name, uint64_t base, uint64_t size, bus_handler fn,
	    void *opaque);
/* Removes the window at @base whose handler data is @opaque; -ENOENT if there is none. */
int bus_del(struct bus *bus, uint64_t base, void *opaque);
/* Returns false if no window holds all of [addr, addr + len). */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif /* GMA_DEMO_BUS_H */

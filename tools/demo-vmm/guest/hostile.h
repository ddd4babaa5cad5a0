/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hostile mode of the demo guest (hostile.c): malformed virtqueue use on purpose, on the
 * VMM's "hostile" device, between the normal well-formed requests.
 */
#ifndef GMA_DEMO_GUEST_HOSTILE_H
#define GMA_DEMO_GUEST_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Asks the VMM which scenarios to run and sets up the hostile device if any: on PCI
 * (DEMO_PCI_SLOT_HOSTILE) if @pci, else the virtio-mmio one.
 */
void hostile_init(bool pci);
/* Once per heartbeat: true while a scenario waits for the device (no other step may run). */
bool hostile_busy(void);
/*
 * Takes one step slot: performs the next scenario (or the next phase of one) and returns
 * true, or returns false if there is nothing to do now. @cycle: the normal traffic's cycle.
 */
bool hostile_step(uint32_t cycle);

#endif /* GMA_DEMO_GUEST_HOSTILE_H */

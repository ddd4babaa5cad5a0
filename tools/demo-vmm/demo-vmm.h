/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the demo VMM's own files share, and nothing its device models need: the settings
 * (options.c), the state of one run (struct demo), and the entry points of each part:
 *   options.c        the command line, parsed into struct opts
 *   setup.c          the VM, its memslots, the guest image and the devices
 *   report_pio.c     the guest's report ports: pattern writes, heartbeats, status, console,
 *                    the hostile scenarios' and faults' reports, and the settings it reads
 *   memslot_churn.c  --memslot-churn
 *   demo-vmm.c       main, the run loop and when to stop
 * Device models (virtio-*.c, pci.c) and the VM (vm.c) have headers of their own.
 */
#ifndef GMA_DEMO_VMM_H
#define GMA_DEMO_VMM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bus.h"
#include "demo-abi.h"
#include "ioeventfd.h"
#include "pci.h"
#include "virtio-dev.h"
#include "vm.h"

#define MAX_WRITES 256 /* pattern write reports kept for the check at "ready" */

struct opts {
	const char *log_path;
	const char *guest_path;
	double seconds; /* 0: run until SIGINT/SIGTERM */
	int ready_fd;
	uint32_t hz; /* heartbeat rate of a halting guest */
	uint32_t delay; /* 0: the guest halts between heartbeats, else it spins */
	uint32_t req_hz; /* virtio request steps per second, 0: none */
	uint32_t complete_delay_ms; /* held before a used element is written */
	bool legacy; /* virtio-mmio version 1, legacy virtio-pci */
	uint32_t transport; /* DEMO_TRANSPORT_* bits (--transport) */
	uint32_t pci_config; /* DEMO_PCI_CONFIG_* (--pci-config) */
	uint32_t hostile; /* bit n: DEMO_HOSTILE scenario n (--hostile) */
	uint32_t hostile_repeat; /* rerun them every N guest cycles, 0: once */
	uint32_t churn_ms; /* --memslot-churn: change the churn slot every N ms, 0: never */
	/*
	 * What the run waits for before it stops (all of them; --seconds is then a safety limit
	 * whose expiry is a failure): completions on the well-behaved devices, the hostile round.
	 */
	uint64_t requests; /* --requests */
	bool until_hostile_done; /* --until hostile-done */
	bool suppress; /* --suppress */
	struct virtio_fault fault; /* --fault */
	bool irq; /* --irq */
	bool ioeventfd; /* --ioeventfd */
	uint32_t hold; /* --hold: HOLD_* bits, until SIGUSR1 */
};

/* --hold: what waits for SIGUSR1. */
#define HOLD_REQUESTS 1u /* the guest's first virtio request: its vCPU waits in the VMM */
#define HOLD_COMPLETIONS 2u /* every used element */

/* Fields of the hostile report being assembled (DEMO_PIO_H_*). */
enum { HF_BASE, HF_QUEUE, HF_HEAD, HF_AVAIL, HF_ADDR, HF_LEN, HF_COUNT, HF_NR };

struct hostile_report {
	uint32_t present; /* bit per HF_* */
	uint64_t val[HF_NR];
};

struct demo {
	uint64_t fault_hold_until_ms; /* DEMO_PIO_FAULT_HOLD */
	struct vm vm;
	struct bus pio;
	struct bus mmio;
	struct virtio_host virtio;
	struct pci_host pci;
	struct ioeventfds io;
	const struct opts *opts;

	uint32_t pending_gpa;
	struct {
		uint32_t gpa, len;
	} writes[MAX_WRITES];
	unsigned int nr_writes;
	bool ready;
	bool panic;

	uint64_t heartbeats;
	uint32_t last_heartbeat;
	uint32_t mmio_value;
	uint64_t mmio_writes;
	uint64_t mmio_mismatch;

	char console[256];
	size_t console_len;

	struct hostile_report hostile;
	uint64_t hostile_events;
	uint32_t hostile_rounds; /* reported done by the guest (DEMO_PIO_H_DONE) */

	/* stopping on goals: see SETTLE_BEATS in demo-vmm.c */
	bool quiesce; /* the goals are met: the guest starts nothing new */
	bool quiet; /* the guest saw it with nothing in flight */
	uint64_t quiet_beats, quiet_ms; /* heartbeats and time when it did */
	bool done;
	bool held_requests; /* --hold requests: done once */

	struct timespec next_tick; /* when to resume a halted guest */

	/* --memslot-churn: a slot the guest never uses, added, moved and deleted in turn */
	struct {
		uint8_t *map;
		unsigned int phase; /* 0: absent, 1: at DEMO_CHURN_GPA_A, 2: at DEMO_CHURN_GPA_B */
		uint8_t fill; /* every byte of the current mapping */
		uint64_t next_ms; /* when the next change is due */
	} churn;
};

/* demo-vmm.c: the run's clock and the signals the run loop and the report ports heed. */
uint64_t elapsed_ms(void); /* since the start of the run */
extern volatile sig_atomic_t stop_signal; /* SIGINT, SIGTERM, SIGALRM (--seconds) */
extern volatile sig_atomic_t released; /* SIGUSR1: what --hold held goes on */

/* options.c */
void parse_options(struct opts *o, int argc, char **argv);
/* --fault and --hostile names (also those of the log), indexed by DEMO_FAULT_*, DEMO_HOSTILE_* */
extern const char *const fault_names[DEMO_FAULT_COUNT];
extern const char *const hostile_names[DEMO_HOSTILE_COUNT];
/* Heartbeats between two virtio request steps of the guest; 0: no virtio traffic. */
uint32_t req_pace(const struct opts *o);
/* Whether the run stops on what it waits for (--requests, --until), not on a signal. */
bool has_goals(const struct opts *o);
const char *transport_name(uint32_t t); /* as --transport spells it */
const char *pci_config_name(uint32_t c); /* as --pci-config spells it */

/* setup.c */
/* The guest image next to this executable: demo-guest.bin. 0 or -errno. */
int default_guest_path(char *buf, size_t size);
/* Creates the VM, its RAM, vCPU and devices and loads the guest at @guest. 0 or -errno. */
int setup(struct demo *d, const char *guest);

/* report_pio.c: bus handlers of the report ports and the heartbeat window */
void report_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void heartbeat_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* Logs the console line the guest has not ended yet, if any. */
void console_flush(struct demo *d);

/* memslot_churn.c: one step of --memslot-churn, between two KVM_RUNs */
void churn_step(struct demo *d);

#endif /* GMA_DEMO_VMM_H */

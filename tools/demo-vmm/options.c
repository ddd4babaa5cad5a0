// SPDX-License-Identifier: GPL-2.0
/*
 * The demo VMM's command line: every option, its checks, and the settings it leaves in struct
 * opts. Kept apart from the run so that adding an option is one table entry, one case in
 * parse_opt and one field, and the cross-option rules (ARGP_KEY_END) are read in one place.
 * The --fault and --hostile names are here because they are what the user types; the log
 * uses the same spelling.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "demo-vmm.h"

#define DEFAULT_HZ 1000 /* heartbeats per second when the guest halts between them */
#define DEFAULT_REQ_HZ 50 /* virtio request steps per second */
#define DEFAULT_COMPLETE_DELAY_MS 2

/* --fault names, indexed by DEMO_FAULT_*. */
const char *const fault_names[DEMO_FAULT_COUNT] = {
	[DEMO_FAULT_DEVICE_STALL] = "device-stall",
	[DEMO_FAULT_DEVICE_SLOW] = "device-slow",
	[DEMO_FAULT_DRIVER_NO_NOTIFY] = "driver-no-notify",
	[DEMO_FAULT_DRIVER_NO_REAP] = "driver-no-reap",
	[DEMO_FAULT_DEVICE_NO_IRQ] = "device-no-interrupt",
	[DEMO_FAULT_DEVICE_IRQ_NO_USED] = "device-irq-no-used",
};

/* --hostile names, indexed by DEMO_HOSTILE_*. */
const char *const hostile_names[DEMO_HOSTILE_COUNT] = {
	[DEMO_HOSTILE_LOOP_SELF] = "loop-self",
	[DEMO_HOSTILE_LOOP_TWO] = "loop-two",
	[DEMO_HOSTILE_LOOP_LONG] = "loop-long",
	[DEMO_HOSTILE_NEXT_OUT_OF_RANGE] = "next-out-of-range",
	[DEMO_HOSTILE_HEAD_OUT_OF_RANGE] = "head-out-of-range",
	[DEMO_HOSTILE_CHAIN_TOO_LONG] = "chain-too-long",
	[DEMO_HOSTILE_NESTED_INDIRECT] = "nested-indirect",
	[DEMO_HOSTILE_INDIRECT_LEN] = "indirect-len",
	[DEMO_HOSTILE_READ_AFTER_WRITE] = "read-after-write",
	[DEMO_HOSTILE_ZERO_LEN] = "zero-len",
	[DEMO_HOSTILE_LEN_MAX] = "len-max",
	[DEMO_HOSTILE_BUFFER_UNMAPPED] = "buffer-unmapped",
	[DEMO_HOSTILE_BUFFER_WRAPPING] = "buffer-wrapping",
	[DEMO_HOSTILE_AVAIL_JUMP] = "avail-jump",
	[DEMO_HOSTILE_USED_BACKWARDS] = "used-backwards",
	[DEMO_HOSTILE_RING_STRADDLE] = "ring-straddle",
	[DEMO_HOSTILE_MISALIGNED] = "misaligned",
	[DEMO_HOSTILE_NOT_READY] = "not-ready",
	[DEMO_HOSTILE_NOTIFY_STORM] = "notify-storm",
};

uint32_t req_pace(const struct opts *o)
{
	if (!o->req_hz)
		return 0;
	return o->hz / o->req_hz ? o->hz / o->req_hz : 1;
}

bool has_goals(const struct opts *o)
{
	return o->requests || o->until_hostile_done;
}

enum {
	OPT_READY_FD = 0x100,
	OPT_REQ_HZ,
	OPT_COMPLETE_DELAY,
	OPT_LEGACY,
	OPT_HOSTILE,
	OPT_HOSTILE_REPEAT,
	OPT_CHURN,
	OPT_TRANSPORT,
	OPT_REQUESTS,
	OPT_UNTIL,
	OPT_SUPPRESS,
	OPT_PCI_CONFIG,
	OPT_FAULT,
	OPT_IRQ,
	OPT_IOEVENTFD,
	OPT_HOLD,
};

static const struct argp_option options[] = {
	{ "log", 'l', "FILE", 0, "Ground-truth log, JSON lines (\"-\": stdout)", 0 },
	{ "seconds", 's', "N", 0,
	  "Stop after N seconds (may be fractional); default: run until "
	  "SIGINT or SIGTERM",
	  0 },
	{ "guest", 'g', "FILE", 0,
	  "Guest flat binary (default: demo-guest.bin next to this "
	  "executable)",
	  0 },
	{ "ready-fd", OPT_READY_FD, "FD", 0,
	  "Write \"ready\\n\" to FD and close it once the "
	  "guest has written its patterns",
	  0 },
	{ "hz", 'r', "N", 0,
	  "Heartbeats per second (default 1000); the guest halts in "
	  "between",
	  0 },
	{ "delay", 'd', "N", 0,
	  "Make the guest spin N loop iterations between heartbeats instead "
	  "of halting (a busy vCPU; the rate then depends on the host)",
	  0 },
	{ "req-hz", OPT_REQ_HZ, "N", 0,
	  "Virtio request steps per second (default 50, at most --hz; 0: the guest "
	  "leaves the virtio devices alone). A step is 1 to 3 requests",
	  0 },
	{ "complete-delay-ms", OPT_COMPLETE_DELAY, "N", 0,
	  "Hold each virtio completion N ms before writing the used ring (default 2)", 0 },
	{ "legacy", OPT_LEGACY, NULL, 0,
	  "Legacy virtio devices: virtio-mmio version 1 (GuestPageSize, QueuePFN, QueueAlign), "
	  "virtio-pci through the legacy registers of I/O BAR 0",
	  0 },
	{ "transport", OPT_TRANSPORT, "mmio|pci|both", 0,
	  "Where the virtio devices are (default mmio): virtio-mmio windows at 0xd0001000, or "
	  "functions on PCI bus 0 (config space at 0xCF8/0xCFC; blk 00:01.0 and console 00:02.0 "
	  "modern, net 00:03.0 legacy; the guest places the BARs), or both sets in one VM",
	  0 },
	{ "pci-config", OPT_PCI_CONFIG, "cf8|ecam|ecam-fixed", 0,
	  "How the guest reaches PCI configuration space (default cf8): ports 0xCF8/0xCFC; or "
	  "ECAM as on QEMU's q35 (the guest programs the host bridge's PCIEXBAR through 0xCF8, "
	  "256 buses at 0xb0000000, then uses only ECAM); or ECAM at a fixed 0xc0000000, 16 "
	  "buses, with no 0xCF8/0xCFC ports (as Cloud Hypervisor, crosvm). Needs --transport "
	  "pci|both",
	  0 },
	{ "hostile", OPT_HOSTILE, "LIST", 0,
	  "Make the guest misuse a 4th virtio device (\"hostile\", a blk at 0xd0004000, or at "
	  "PCI 00:04.0 with --transport pci|both) on purpose, between its normal requests: comma-separated scenarios, repeatable, or "
	  "\"all\": loop-self, loop-two, loop-long, next-out-of-range, head-out-of-range, "
	  "chain-too-long, nested-indirect, indirect-len, read-after-write, zero-len, len-max, "
	  "buffer-unmapped, buffer-wrapping, avail-jump, used-backwards, ring-straddle, "
	  "misaligned, not-ready, notify-storm. Each is logged (\"hostile\") before it is done",
	  0 },
	{ "hostile-repeat", OPT_HOSTILE_REPEAT, "N", 0,
	  "Run the --hostile scenarios again every N guest cycles (default: once)", 0 },
	{ "requests", OPT_REQUESTS, "N", 0,
	  "Stop once N virtio requests of the blk, console and net devices have completed: the "
	  "guest then starts no new request, and the VM runs on briefly (20 heartbeats and "
	  "200 ms) so a tracer sees the rings' last state. With this or --until, --seconds is a "
	  "safety limit: reaching it first is a failure (exit status 1, saying what was missing)",
	  0 },
	{ "until", OPT_UNTIL, "hostile-done", 0,
	  "Stop (as with --requests, and after it if both are given) once the guest has run "
	  "every --hostile scenario and reported the round done",
	  0 },
	{ "suppress", OPT_SUPPRESS, NULL, 0,
	  "Notification suppression: the devices offer VIRTIO_RING_F_EVENT_IDX and ask for no "
	  "notifications while they process a queue (VRING_USED_F_NO_NOTIFY, or avail_event); "
	  "the guest negotiates EVENT_IDX on blk and net (not console, which sees the flag), "
	  "kicks only when vring_need_event() or the flag says so, sends several requests per "
	  "step, and posts the net receive ring full with one kick. The VMM logs each queue's "
	  "\"ring_state\" at exit either way",
	  0 },
	{ "fault", OPT_FAULT, "KIND[,dev=D,queue=N,after=N]", 0,
	  "Break one queue on purpose, once it has taken N chains (after=, default 4): the "
	  "device stops consuming it (device-stall), completes all but the first request of a "
	  "batch of two or more, which it never completes (device-slow), or the guest stops "
	  "notifying it (driver-no-notify) or reaping its used entries (driver-no-reap; only "
	  "visible with --suppress, i.e. EVENT_IDX), or the device completes without "
	  "interrupting (device-no-interrupt) or interrupts for a request it never completes "
	  "(device-irq-no-used), both for --irq. D is blk (default), console or net, of the "
	  "first set of devices; N a queue the guest sends on (blk 0, console 1, net 1: the "
	  "default). Logged (\"fault\") when done",
	  0 },
	{ "irq", OPT_IRQ, NULL, 0,
	  "Interrupts: KVM's in-kernel irqchip, each virtio-mmio device raising its line (GSI 5 "
	  "blk, 6 console, 7 net) when it interrupts, each virtio-pci device sending its queue's "
	  "MSI-X message (KVM_SIGNAL_MSI), logged (\"irq\": gsi, or vector, address and data); "
	  "the guest, interrupts off, programs MSI-X, reads InterruptStatus or the ISR as a "
	  "handler would and reaps a device only when it says so. Needs --delay (a halt would "
	  "wait in the kernel)",
	  0 },
	{ "ioeventfd", OPT_IOEVENTFD, NULL, 0,
	  "Register the devices' notify addresses with KVM (KVM_IOEVENTFD) as QEMU does, not the "
	  "hostile device's: virtio-mmio QueueNotify and legacy virtio-pci's I/O port with "
	  "datamatch = queue index, modern virtio-pci notify addresses with any width and value "
	  "(at DRIVER_OK). KVM takes the notify without an exit, the VMM drains the eventfds "
	  "after every exit. Each registration (\"ioeventfd_register\"), "
	  "drain (\"ioeventfd\", with its count) and total (\"ioeventfd_total\") is logged",
	  0 },
	{ "hold", OPT_HOLD, "requests|completions", 0,
	  "Until SIGUSR1: requests, the guest's first virtio request, once its devices are set up "
	  "(its vCPU waits in the VMM: no exit meanwhile); completions, every used element (requests stay "
	  "in flight). Repeatable; logged (\"held\", \"released\")",
	  0 },
	{ "memslot-churn", OPT_CHURN, "MS", 0,
	  "Every MS ms add, move or delete memslot 15 (gpa 0x50000/0x58000, never used by the "
	  "guest), each time with a fresh mapping filled with a new byte",
	  0 },
	{ 0 }
};

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return !errno && end != s && !*end && *s != '-' && *out <= max;
}

/* --fault KIND[,dev=D,queue=N,after=N] */
static void parse_fault(struct argp_state *state, struct opts *o, const char *arg)
{
	static const char *const devs[] = { [DEMO_FAULT_DEV_BLK] = "blk",
					    [DEMO_FAULT_DEV_CONSOLE] = "console",
					    [DEMO_FAULT_DEV_NET] = "net" };
	static const uint32_t ids[] = { VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_NET };
	struct virtio_fault *f = &o->fault;
	char buf[128], *save = NULL, *tok;
	unsigned long v;
	bool queue_set = false;

	if (strlen(arg) >= sizeof(buf))
		argp_error(state, "--fault: '%s' is too long", arg);
	strcpy(buf, arg);
	*f = (struct virtio_fault){ .device_id = VIRTIO_ID_BLOCK, .after = 4 };
	tok = strtok_r(buf, ",", &save);
	for (uint32_t k = 1; tok && k < DEMO_FAULT_COUNT; k++)
		if (!strcmp(tok, fault_names[k]))
			f->kind = k;
	if (!f->kind)
		argp_error(state,
			   "--fault: '%s' is not device-stall, device-slow, driver-no-notify, "
			   "driver-no-reap, device-no-interrupt or device-irq-no-used",
			   tok ? tok : "");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "dev=", 4)) {
			size_t i;

			for (i = 0; i < 3 && strcmp(tok + 4, devs[i]); i++)
				;
			if (i == 3)
				argp_error(state, "--fault: dev '%s' is not blk, console or net",
					   tok + 4);
			f->device_id = ids[i];
		} else if (!strncmp(tok, "queue=", 6) && parse_ulong(tok + 6, 1, &v)) {
			f->queue = (uint32_t)v;
			queue_set = true;
		} else if (!strncmp(tok, "after=", 6) && parse_ulong(tok + 6, 60000, &v)) {
			f->after = (uint32_t)v;
		} else {
			argp_error(state,
				   "--fault: '%s' is not dev=blk|console|net, queue=0|1 or "
				   "after=0..60000",
				   tok);
		}
	}
	/* the queues the guest sends requests on; the receive queues only hold buffers */
	if (!queue_set)
		f->queue = f->device_id == VIRTIO_ID_BLOCK ? 0 : 1;
	if (f->queue != (f->device_id == VIRTIO_ID_BLOCK ? 0u : 1u))
		argp_error(state, "--fault: queue %u of %s is not one the guest sends on (%s)",
			   f->queue, f->device_id == VIRTIO_ID_BLOCK ? "blk" : "console or net",
			   f->device_id == VIRTIO_ID_BLOCK ? "0" : "1");
}

static void parse_hostile(struct argp_state *state, struct opts *o, const char *arg)
{
	char buf[512], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		argp_error(state, "--hostile: list too long");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned int n;

		if (!strcmp(tok, "all")) {
			o->hostile = (1u << DEMO_HOSTILE_COUNT) - 1;
			continue;
		}
		for (n = 0; n < DEMO_HOSTILE_COUNT; n++)
			if (!strcmp(tok, hostile_names[n]))
				break;
		if (n == DEMO_HOSTILE_COUNT)
			argp_error(state, "--hostile: unknown scenario '%s'", tok);
		o->hostile |= 1u << n;
	}
	if (!o->hostile)
		argp_error(state, "--hostile: no scenario in '%s'", arg);
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct opts *o = state->input;
	unsigned long v;
	char *end;

	switch (key) {
	case 'l':
		o->log_path = arg;
		break;
	case 'g':
		o->guest_path = arg;
		break;
	case 's':
		errno = 0;
		o->seconds = strtod(arg, &end);
		if (errno || end == arg || *end || !(o->seconds > 0) || o->seconds > 1e7)
			argp_error(state, "--seconds: '%s' is not a positive number", arg);
		break;
	case OPT_READY_FD:
		if (!parse_ulong(arg, INT_MAX, &v) || fcntl((int)v, F_GETFD) < 0)
			argp_error(state, "--ready-fd: '%s' is not an open file descriptor", arg);
		o->ready_fd = (int)v;
		break;
	case 'd':
		if (!parse_ulong(arg, UINT32_MAX, &v))
			argp_error(state, "--delay: '%s' is not a number in 0..%u", arg,
				   UINT32_MAX);
		o->delay = (uint32_t)v;
		break;
	case 'r':
		if (!parse_ulong(arg, 1000000, &v) || v == 0)
			argp_error(state, "--hz: '%s' is not a number in 1..1000000", arg);
		o->hz = (uint32_t)v;
		break;
	case OPT_REQ_HZ:
		if (!parse_ulong(arg, 1000000, &v))
			argp_error(state, "--req-hz: '%s' is not a number in 0..1000000", arg);
		o->req_hz = (uint32_t)v;
		break;
	case OPT_COMPLETE_DELAY:
		if (!parse_ulong(arg, 60000, &v))
			argp_error(state, "--complete-delay-ms: '%s' is not a number in 0..60000",
				   arg);
		o->complete_delay_ms = (uint32_t)v;
		break;
	case OPT_LEGACY:
		o->legacy = true;
		break;
	case OPT_TRANSPORT:
		if (!strcmp(arg, "mmio"))
			o->transport = DEMO_TRANSPORT_MMIO;
		else if (!strcmp(arg, "pci"))
			o->transport = DEMO_TRANSPORT_PCI;
		else if (!strcmp(arg, "both"))
			o->transport = DEMO_TRANSPORT_MMIO | DEMO_TRANSPORT_PCI;
		else
			argp_error(state, "--transport: '%s' is not mmio, pci or both", arg);
		break;
	case OPT_PCI_CONFIG:
		if (!strcmp(arg, "cf8"))
			o->pci_config = DEMO_PCI_CONFIG_CF8;
		else if (!strcmp(arg, "ecam"))
			o->pci_config = DEMO_PCI_CONFIG_Q35;
		else if (!strcmp(arg, "ecam-fixed"))
			o->pci_config = DEMO_PCI_CONFIG_FIXED;
		else
			argp_error(state, "--pci-config: '%s' is not cf8, ecam or ecam-fixed", arg);
		break;
	case OPT_HOSTILE:
		parse_hostile(state, o, arg);
		break;
	case OPT_REQUESTS:
		if (!parse_ulong(arg, 1000000, &v) || v == 0)
			argp_error(state, "--requests: '%s' is not a number in 1..1000000", arg);
		o->requests = v;
		break;
	case OPT_UNTIL:
		if (strcmp(arg, "hostile-done"))
			argp_error(state, "--until: '%s' is not hostile-done", arg);
		o->until_hostile_done = true;
		break;
	case OPT_SUPPRESS:
		o->suppress = true;
		break;
	case OPT_FAULT:
		parse_fault(state, o, arg);
		break;
	case OPT_IRQ:
		o->irq = true;
		break;
	case OPT_IOEVENTFD:
		o->ioeventfd = true;
		break;
	case OPT_HOLD:
		if (!strcmp(arg, "requests"))
			o->hold |= HOLD_REQUESTS;
		else if (!strcmp(arg, "completions"))
			o->hold |= HOLD_COMPLETIONS;
		else
			argp_error(state, "--hold: '%s' is not requests or completions", arg);
		break;
	case OPT_CHURN:
		if (!parse_ulong(arg, 100000, &v) || v == 0)
			argp_error(state, "--memslot-churn: '%s' is not a number in 1..100000",
				   arg);
		o->churn_ms = (uint32_t)v;
		break;
	case OPT_HOSTILE_REPEAT:
		if (!parse_ulong(arg, 1000000, &v) || v == 0)
			argp_error(state, "--hostile-repeat: '%s' is not a number in 1..1000000",
				   arg);
		o->hostile_repeat = (uint32_t)v;
		break;
	case ARGP_KEY_END:
		if (o->hostile && o->legacy)
			argp_error(state, "--hostile needs the modern transport, not --legacy");
		/* Two sets of legacy rings (0x2000 a queue) do not fit in the guest's RAM. */
		if (o->legacy && o->transport == (DEMO_TRANSPORT_MMIO | DEMO_TRANSPORT_PCI))
			argp_error(state, "--legacy works with --transport mmio or pci, not both");
		if (o->pci_config != DEMO_PCI_CONFIG_CF8 && !(o->transport & DEMO_TRANSPORT_PCI))
			argp_error(state, "--pci-config needs PCI devices (--transport pci|both)");
		if (o->hostile_repeat && !o->hostile)
			argp_error(state, "--hostile-repeat without --hostile");
		if (o->until_hostile_done && (!o->hostile || o->hostile_repeat))
			argp_error(state, "--until hostile-done needs --hostile, without "
					  "--hostile-repeat");
		if (o->irq && !o->delay)
			argp_error(state, "--irq needs --delay N (a guest that spins: with KVM's "
					  "irqchip a halt waits in the kernel)");
		if ((o->fault.kind == DEMO_FAULT_DEVICE_NO_IRQ ||
		     o->fault.kind == DEMO_FAULT_DEVICE_IRQ_NO_USED) &&
		    !o->irq)
			argp_error(state, "--fault %s needs --irq", fault_names[o->fault.kind]);
		if ((o->requests || o->until_hostile_done) && !o->req_hz)
			argp_error(state,
				   "--requests and --until need virtio traffic (--req-hz > 0)");
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options,
	parse_opt,
	NULL,
	"Runs the gma demo guest in a KVM VM whose RAM is split over several memslots, and logs "
	"what the guest wrote where (the ground truth for gma's tests).",
	NULL,
	NULL,
	NULL
};

const char *transport_name(uint32_t t)
{
	return t == DEMO_TRANSPORT_PCI ? "pci" : t == DEMO_TRANSPORT_MMIO ? "mmio" : "both";
}

const char *pci_config_name(uint32_t c)
{
	return c == DEMO_PCI_CONFIG_Q35	  ? "ecam" :
	       c == DEMO_PCI_CONFIG_FIXED ? "ecam-fixed" :
					    "cf8";
}

void parse_options(struct opts *o, int argc, char **argv)
{
	*o = (struct opts){ .ready_fd = -1,
			    .transport = DEMO_TRANSPORT_MMIO,
			    .hz = DEFAULT_HZ,
			    .req_hz = DEFAULT_REQ_HZ,
			    .complete_delay_ms = DEFAULT_COMPLETE_DELAY_MS };
	argp_parse(&argp, argc, argv, 0, NULL, o);
}

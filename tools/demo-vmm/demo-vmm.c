// SPDX-License-Identifier: GPL-2.0
/*
 * demo-vmm: a small VMM on the raw KVM API that runs the demo guest, for gma's tests and demos.
 *
 * Its guest RAM is split into several memslots with separate, non-adjacent host mappings, so
 * guest buffers cross memslot boundaries the way they do in real VMMs. The guest writes a
 * known pattern (pattern.h) and reports each write through I/O ports; the VMM logs every
 * report as JSON lines: the ground truth a test compares with what gma read. Afterwards the
 * guest keeps exiting to the VMM (PIO and MMIO heartbeats) so tracers always have events.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "bus.h"
#include "demo-abi.h"
#include "demo-log.h"
#include "ioeventfd.h"
#include "pattern.h"
#include "pci.h"
#include "virtio-mmio.h"
#include "virtio-pci.h"
#include "vm.h"

/*
 * Guest RAM. 0x10000-0x20000 is contiguous for the guest but split over three slots, then a
 * hole the guest cannot touch as RAM, then one more slot. Sizes are multiples of 4K.
 */
static const struct {
	uint64_t gpa;
	uint64_t size;
} ram_layout[] = {
	{ 0x00000, 0x10000 }, /* slot 0: GDT, guest code, stack, pattern from 0xf000 */
	{ 0x10000, 0x04000 }, /* slot 1 */
	{ 0x14000, 0x03000 }, /* slot 2 */
	{ 0x17000, 0x09000 }, /* slot 3; 0x20000-0x30000 is a hole */
	{ 0x30000, 0x10000 }, /* slot 4 */
};

#define DEFAULT_HZ 1000 /* heartbeats per second when the guest halts between them */
#define DEFAULT_REQ_HZ 50 /* virtio request steps per second */
#define DEFAULT_COMPLETE_DELAY_MS 2
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

/*
 * Once the goals are met the guest is told to start no new request (DEMO_PIO_QUIESCE); once
 * it has seen that with nothing in flight, the VM runs SETTLE_BEATS more heartbeats and at
 * least SETTLE_MS, so a tracer looks at the rings after their last change (on exits, which
 * heartbeats are, and in its own periodic poll), then stops.
 */
#define SETTLE_BEATS 20
#define SETTLE_MS 200

/* --fault names, indexed by DEMO_FAULT_*. */
static const char *const fault_names[DEMO_FAULT_COUNT] = {
	[DEMO_FAULT_DEVICE_STALL] = "device-stall",
	[DEMO_FAULT_DEVICE_SLOW] = "device-slow",
	[DEMO_FAULT_DRIVER_NO_NOTIFY] = "driver-no-notify",
	[DEMO_FAULT_DRIVER_NO_REAP] = "driver-no-reap",
	[DEMO_FAULT_DEVICE_NO_IRQ] = "device-no-interrupt",
	[DEMO_FAULT_DEVICE_IRQ_NO_USED] = "device-irq-no-used",
};

/* --hostile names, indexed by DEMO_HOSTILE_*. */
static const char *const hostile_names[DEMO_HOSTILE_COUNT] = {
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

	/* stopping on goals: see SETTLE_BEATS */
	bool quiesce; /* the goals are met: the guest starts nothing new */
	bool quiet; /* the guest saw it with nothing in flight */
	uint64_t quiet_beats, quiet_ms; /* heartbeats and time when it did */
	bool done;
	bool held_requests; /* --hold requests: done once */

	struct timespec next_tick; /* when to resume a halted guest */

	/* --memslot-churn: a slot the guest never uses, added, moved and deleted in turn */
	struct {
		uint8_t *map;
		uint64_t gpa;
		unsigned int phase; /* 0: absent, 1: at CHURN_GPA_A, 2: at CHURN_GPA_B */
		uint8_t fill; /* every byte of the current mapping */
		uint64_t next_ms;
		uint64_t changes;
	} churn;
};

#define CHURN_SLOT 15
#define CHURN_GPA_A 0x50000ULL
#define CHURN_GPA_B 0x58000ULL
#define CHURN_SIZE 0x1000ULL

static struct timespec t_start;
static struct kvm_run *volatile signal_run;
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t released; /* SIGUSR1: what --hold held goes on */

static uint64_t elapsed_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) * 1000ULL + t.tv_nsec / 1000000 -
	       t_start.tv_nsec / 1000000;
}

/* ---- demo devices ---- */

static uint32_t le32(const uint8_t *d, uint32_t len)
{
	uint32_t v = 0;

	while (len--)
		v = v << 8 | d[len];
	return v;
}

static void put_le32(uint8_t *d, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++, v >>= 8)
		d[i] = v & 0xff;
}

static void console_flush(struct demo *d)
{
	char esc[sizeof(d->console) * 6 + 1];

	if (!d->console_len)
		return;
	d->console[d->console_len] = '\0';
	fprintf(stderr, "guest: %s\n", d->console);
	jlog("{\"event\":\"console\",\"text\":\"%s\"}", json_escape(d->console, esc, sizeof(esc)));
	d->console_len = 0;
}

static void console_putc(struct demo *d, char c)
{
	if (c == '\n') {
		console_flush(d);
		return;
	}
	if (c == '\r')
		return;
	if (d->console_len >= sizeof(d->console) - 1)
		console_flush(d);
	d->console[d->console_len++] = c;
}

/* The VMM re-reads every reported range, so "ready" also certifies the memory content. */
static bool verify_writes(struct demo *d)
{
	static uint8_t buf[0x10000];
	bool ok = true;

	for (unsigned int i = 0; i < d->nr_writes; i++) {
		uint32_t gpa = d->writes[i].gpa, len = d->writes[i].len, done = 0;

		while (done < len) {
			uint32_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
			size_t bad;

			if (vm_read(&d->vm, gpa + done, buf, n)) {
				fprintf(stderr,
					"demo-vmm: reported write 0x%x+0x%x is not "
					"all RAM\n",
					gpa, len);
				ok = false;
				break;
			}
			bad = gma_demo_pattern_check(gpa + done, buf, n);
			if (bad != n) {
				fprintf(stderr, "demo-vmm: pattern mismatch at gpa 0x%" PRIx64 "\n",
					(uint64_t)gpa + done + bad);
				ok = false;
				break;
			}
			done += n;
		}
	}
	return ok;
}

static void signal_ready(struct demo *d)
{
	bool ok;

	if (d->ready)
		return;
	d->ready = true;
	ok = verify_writes(d);
	jlog("{\"event\":\"ready\",\"writes\":%u,\"verified\":%s}", d->nr_writes,
	     ok ? "true" : "false");
	if (!ok)
		d->panic = true;
	printf("ready\n");
	fflush(stdout);
	if (d->opts->ready_fd >= 0) {
		if (write(d->opts->ready_fd, "ready\n", 6) != 6)
			fprintf(stderr, "demo-vmm: --ready-fd %d: %s\n", d->opts->ready_fd,
				strerror(errno));
		close(d->opts->ready_fd);
	}
}

/* Heartbeats between two virtio request steps of the guest; 0: no virtio traffic. */
static uint32_t req_pace(const struct opts *o)
{
	if (!o->req_hz)
		return 0;
	return o->hz / o->req_hz ? o->hz / o->req_hz : 1;
}

static void hostile_field(struct demo *d, uint32_t port, uint32_t v)
{
	struct hostile_report *r = &d->hostile;
	unsigned int f;

	switch (port) {
	case DEMO_PIO_H_BASE:
		f = HF_BASE;
		r->val[f] = (r->present & 1u << f ? r->val[f] & ~0xffffffffULL : 0) | v;
		r->present |= 1u << f;
		return;
	case DEMO_PIO_H_QUEUE:
		f = HF_QUEUE;
		break;
	case DEMO_PIO_H_HEAD:
		f = HF_HEAD;
		break;
	case DEMO_PIO_H_AVAIL:
		f = HF_AVAIL;
		break;
	case DEMO_PIO_H_ADDR_LO:
	case DEMO_PIO_H_ADDR_HI:
	case DEMO_PIO_H_BASE_HI:
		/* 64-bit fields: the address, and the base of a PCI device (DEMO_PCI_BASE) */
		f = port == DEMO_PIO_H_BASE_HI ? HF_BASE : HF_ADDR;
		if (!(r->present & 1u << f))
			r->val[f] = 0;
		if (port == DEMO_PIO_H_ADDR_LO)
			r->val[f] = (r->val[f] & ~0xffffffffULL) | v;
		else
			r->val[f] = (r->val[f] & 0xffffffffULL) | (uint64_t)v << 32;
		r->present |= 1u << f;
		return;
	case DEMO_PIO_H_LEN:
		f = HF_LEN;
		break;
	default:
		f = HF_COUNT;
		break;
	}
	r->val[f] = v;
	r->present |= 1u << f;
}

/*
 * The guest is about to perform hostile scenario @n: log the ground truth first. The one
 * scenario the device performs (used-backwards) is carried out here, right after the log.
 */
static void hostile_commit(struct demo *d, uint32_t n)
{
	static const char *const field_names[HF_NR] = { "base", "queue", "head", "avail_idx",
							"addr", "len",	 "count" };
	struct hostile_report *r = &d->hostile;
	char line[512];
	size_t len;
	uint16_t old_idx = 0, new_idx = 0;
	int e = -EINVAL;

	if (n >= DEMO_HOSTILE_COUNT) {
		fprintf(stderr, "demo-vmm: guest reported unknown hostile scenario %u\n", n);
		memset(r, 0, sizeof(*r));
		return;
	}
	if (n == DEMO_HOSTILE_USED_BACKWARDS && (r->present & 1u << HF_BASE) &&
	    (r->present & 1u << HF_QUEUE))
		e = virtio_hostile_used_backwards(&d->virtio, r->val[HF_BASE],
						  (unsigned int)r->val[HF_QUEUE], &old_idx,
						  &new_idx);
	len = (size_t)snprintf(line, sizeof(line), "{\"event\":\"hostile\",\"scenario\":\"%s\"",
			       hostile_names[n]);
	for (unsigned int f = 0; f < HF_NR; f++) {
		uint64_t v = r->val[f];

		if (!(r->present & 1u << f))
			continue;
		/* The avail position is a free-running u16 in the ring. */
		if (f == HF_AVAIL)
			v &= 0xffff;
		len += (size_t)snprintf(line + len, sizeof(line) - len, ",\"%s\":%" PRIu64,
					field_names[f], v);
	}
	if (n == DEMO_HOSTILE_USED_BACKWARDS) {
		if (e)
			len += (size_t)snprintf(line + len, sizeof(line) - len, ",\"error\":\"%s\"",
						strerror(-e));
		else
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						",\"used_idx_before\":%u,\"used_idx\":%u", old_idx,
						new_idx);
	}
	snprintf(line + len, sizeof(line) - len, ",\"ms\":%" PRIu64 "}", elapsed_ms());
	jlog("%s", line);
	d->hostile_events++;
	memset(r, 0, sizeof(*r));
}

/* DEMO_PIO_FAULT's value: a driver-side --fault for the guest to do, else 0. */
static uint32_t guest_fault(const struct virtio_fault *f)
{
	uint32_t dev = f->device_id == VIRTIO_ID_BLOCK	 ? DEMO_FAULT_DEV_BLK :
		       f->device_id == VIRTIO_ID_CONSOLE ? DEMO_FAULT_DEV_CONSOLE :
							   DEMO_FAULT_DEV_NET;

	if (f->kind != DEMO_FAULT_DRIVER_NO_NOTIFY && f->kind != DEMO_FAULT_DRIVER_NO_REAP)
		return 0;
	return f->kind | dev << 8 | f->queue << 16;
}

/*
 * --hold requests: the guest asks whether to quiesce before each step of requests, the first
 * time once its devices are set up; its vCPU waits here, in the VMM, until SIGUSR1 (or a
 * stop): no exit, no notify meanwhile.
 */
static void hold_requests(void)
{
	const struct timespec step = { 0, 10 * 1000000L };

	jlog("{\"event\":\"held\",\"what\":\"requests\",\"ms\":%" PRIu64 "}", elapsed_ms());
	while (!released && !stop_signal)
		nanosleep(&step, NULL);
	jlog("{\"event\":\"released\",\"what\":\"requests\",\"ms\":%" PRIu64 "}", elapsed_ms());
}

/* Report ports: see DEMO_PIO_* in demo-abi.h. */
static void report_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct demo *d = opaque;
	uint32_t v = le32(data, len);

	switch (DEMO_PIO_BASE + off) {
	case DEMO_PIO_WRITE_GPA:
		if (is_write)
			d->pending_gpa = v;
		break;
	case DEMO_PIO_WRITE_LEN:
		if (!is_write)
			break;
		jlog("{\"event\":\"write\",\"gpa\":%u,\"len\":%u}", d->pending_gpa, v);
		if (!vm_range_is_ram(&d->vm, d->pending_gpa, v))
			fprintf(stderr,
				"demo-vmm: guest reported a write outside RAM: "
				"0x%x+0x%x\n",
				d->pending_gpa, v);
		if (d->nr_writes < MAX_WRITES) {
			d->writes[d->nr_writes].gpa = d->pending_gpa;
			d->writes[d->nr_writes].len = v;
			d->nr_writes++;
		}
		break;
	case DEMO_PIO_HEARTBEAT:
		if (!is_write)
			break;
		d->heartbeats++;
		d->last_heartbeat = v;
		jlog("{\"event\":\"heartbeat\",\"n\":%u}", v);
		break;
	case DEMO_PIO_STATUS:
		if (!is_write)
			break;
		if (v == DEMO_STATUS_READY) {
			signal_ready(d);
		} else {
			console_flush(d);
			fprintf(stderr, "demo-vmm: guest reported status %u (panic)\n", v);
			jlog("{\"event\":\"panic\",\"status\":%u}", v);
			d->panic = true;
		}
		break;
	case DEMO_PIO_CONSOLE:
		if (is_write)
			console_putc(d, (char)data[0]);
		break;
	case DEMO_PIO_DELAY:
		if (!is_write)
			put_le32(data, len, d->opts->delay);
		break;
	case DEMO_PIO_REQ_PACE:
		if (!is_write)
			put_le32(data, len, req_pace(d->opts));
		break;
	case DEMO_PIO_HOSTILE:
		if (!is_write)
			put_le32(data, len, d->opts->hostile);
		break;
	case DEMO_PIO_HOSTILE_REPEAT:
		if (!is_write)
			put_le32(data, len, d->opts->hostile_repeat);
		break;
	case DEMO_PIO_TRANSPORT:
		if (!is_write)
			put_le32(data, len, d->opts->transport);
		break;
	case DEMO_PIO_SUPPRESS:
		if (!is_write)
			put_le32(data, len, d->opts->suppress);
		break;
	case DEMO_PIO_PCI_CONFIG:
		if (!is_write)
			put_le32(data, len, d->opts->pci_config);
		break;
	case DEMO_PIO_FAULT:
		/* the guest's own faults only: the device's are the VMM's to do */
		if (!is_write)
			put_le32(data, len, guest_fault(&d->opts->fault));
		break;
	case DEMO_PIO_FAULT_HOLD:
		if (is_write)
			d->fault_hold_until_ms = elapsed_ms() + DEMO_FAULT_QUIET_MS;
		else
			put_le32(data, len, elapsed_ms() < d->fault_hold_until_ms);
		break;
	case DEMO_PIO_IRQ:
		if (!is_write)
			put_le32(data, len, d->opts->irq);
		break;
	case DEMO_PIO_FAULT_AFTER:
		if (!is_write)
			put_le32(data, len, d->opts->fault.after);
		break;
	case DEMO_PIO_FAULT_FIRED:
		if (is_write && d->opts->fault.kind < DEMO_FAULT_COUNT)
			virtio_fault_fired(&d->virtio, fault_names[d->opts->fault.kind], v);
		break;
	case DEMO_PIO_QUIESCE:
		if (is_write)
			break;
		if ((d->opts->hold & HOLD_REQUESTS) && !d->held_requests) {
			d->held_requests = true;
			hold_requests();
		}
		put_le32(data, len, d->quiesce);
		if (d->quiesce && !d->quiet) {
			d->quiet = true;
			d->quiet_beats = d->heartbeats;
			d->quiet_ms = elapsed_ms();
			jlog("{\"event\":\"quiesced\",\"ms\":%" PRIu64 "}", d->quiet_ms);
		}
		break;
	case DEMO_PIO_H_DONE:
		if (!is_write)
			break;
		d->hostile_rounds = v;
		jlog("{\"event\":\"hostile_done\",\"rounds\":%u,\"ms\":%" PRIu64 "}", v,
		     elapsed_ms());
		break;
	case DEMO_PIO_H_BASE:
	case DEMO_PIO_H_QUEUE:
	case DEMO_PIO_H_HEAD:
	case DEMO_PIO_H_AVAIL:
	case DEMO_PIO_H_ADDR_LO:
	case DEMO_PIO_H_ADDR_HI:
	case DEMO_PIO_H_LEN:
	case DEMO_PIO_H_COUNT:
	case DEMO_PIO_H_BASE_HI:
		if (is_write)
			hostile_field(d, DEMO_PIO_BASE + off, v);
		break;
	case DEMO_PIO_H_COMMIT:
		if (is_write)
			hostile_commit(d, v);
		break;
	}
}

/* MMIO heartbeat: the guest writes the counter it just sent by PIO; reads return it. */
static void heartbeat_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct demo *d = opaque;

	if (off != 0)
		return;
	if (!is_write) {
		put_le32(data, len, d->mmio_value);
		return;
	}
	d->mmio_value = le32(data, len);
	d->mmio_writes++;
	if (d->mmio_value != d->last_heartbeat && d->mmio_mismatch++ < 8)
		fprintf(stderr, "demo-vmm: MMIO heartbeat %u != PIO heartbeat %u\n", d->mmio_value,
			d->last_heartbeat);
}

/* ---- guest image ---- */

static int default_guest_path(char *buf, size_t size)
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

/* ---- run loop ---- */

static void on_release(int sig)
{
	(void)sig;
	released = 1;
}

static void on_signal(int sig)
{
	stop_signal = sig;
	/* Makes a KVM_RUN that has not started yet return at once; one in progress gets EINTR. */
	if (signal_run)
		signal_run->immediate_exit = 1;
}

static int setup_signals(double seconds)
{
	struct sigaction sa = { .sa_handler = on_signal }, rel = { .sa_handler = on_release };

	sigemptyset(&sa.sa_mask);
	sigemptyset(&rel.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGALRM, &sa, NULL) || sigaction(SIGUSR1, &rel, NULL)) {
		fprintf(stderr, "demo-vmm: sigaction: %s\n", strerror(errno));
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	if (seconds > 0) {
		struct itimerval it = { 0 };

		it.it_value.tv_sec = (time_t)seconds;
		it.it_value.tv_usec = (suseconds_t)((seconds - (time_t)seconds) * 1e6);
		if (!it.it_value.tv_sec && !it.it_value.tv_usec)
			it.it_value.tv_usec = 1;
		if (setitimer(ITIMER_REAL, &it, NULL)) {
			fprintf(stderr, "demo-vmm: setitimer: %s\n", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN:
		return "unknown";
	case KVM_EXIT_EXCEPTION:
		return "exception";
	case KVM_EXIT_DEBUG:
		return "debug";
	case KVM_EXIT_FAIL_ENTRY:
		return "fail-entry";
	case KVM_EXIT_SYSTEM_EVENT:
		return "system-event";
	default:
		return "?";
	}
}

/*
 * A halt after "ready" is the guest waiting for its next heartbeat: there is no interrupt
 * controller, so the VMM is the timer. Sleeping to absolute ticks keeps the rate steady
 * whatever the exits cost; a signal cuts the sleep short and the run loop sees it.
 */
static void idle(struct demo *d)
{
	long step = 1000000000L / d->opts->hz;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	d->next_tick.tv_nsec += step;
	while (d->next_tick.tv_nsec >= 1000000000L) {
		d->next_tick.tv_nsec -= 1000000000L;
		d->next_tick.tv_sec++;
	}
	/* Fell behind (stopped, or slow exits): restart from now instead of bursting. */
	if (d->next_tick.tv_sec < now.tv_sec ||
	    (d->next_tick.tv_sec == now.tv_sec && d->next_tick.tv_nsec < now.tv_nsec))
		d->next_tick = now;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d->next_tick, NULL);
}

/*
 * CLOCK_MONOTONIC in ns, the clock of the tracer's samples: a slot change logged with it, taken
 * after the ioctl and before the next KVM_RUN, orders it against every sample of this vCPU.
 */
static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

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
 * tracer must see the current bytes or none, never a stale translation.
 */
static void churn_step(struct demo *d)
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
		     (unsigned long long)(uintptr_t)d->churn.map, d->churn.fill, mono_ns());
		break;
	case 1:
		err = churn_set(d, CHURN_GPA_B, CHURN_SIZE); /* KVM_MR_MOVE: a new gpa */
		jlog("{\"event\":\"slot_change\",\"op\":\"move\",\"slot\":%d,\"gpa\":%llu,"
		     "\"ts_ns\":%" PRIu64 "}",
		     CHURN_SLOT, CHURN_GPA_B, mono_ns());
		break;
	case 2:
		err = churn_set(d, CHURN_GPA_B, 0);
		munmap(d->churn.map, CHURN_SIZE);
		d->churn.map = NULL;
		jlog("{\"event\":\"slot_change\",\"op\":\"delete\",\"slot\":%d,\"ts_ns\":%" PRIu64
		     "}",
		     CHURN_SLOT, mono_ns());
		break;
	}
	if (err)
		fprintf(stderr, "demo-vmm: memslot churn: %s\n", strerror(errno));
	d->churn.phase = (d->churn.phase + 1) % 3;
	d->churn.changes++;
}

static bool has_goals(const struct opts *o)
{
	return o->requests || o->until_hostile_done;
}

/* What the run still waits for, said for a human ("" once the goals are met). */
static const char *waiting_for(const struct demo *d, char *buf, size_t size)
{
	const struct opts *o = d->opts;
	size_t n = 0;

	buf[0] = '\0';
	if (o->requests && d->virtio.normal_completions < o->requests)
		n += snprintf(buf + n, size - n,
			      "%" PRIu64 " completed virtio requests (%" PRIu64 " so far)",
			      o->requests, d->virtio.normal_completions);
	if (n < size && o->until_hostile_done && !d->hostile_rounds)
		n += snprintf(buf + n, size - n,
			      "%sthe end of the hostile round (%" PRIu64
			      " scenarios reported so far)",
			      n ? ", and " : "", d->hostile_events);
	if (n < size && !buf[0] && !d->done)
		snprintf(buf, size, "the guest to go quiet and settle");
	return buf;
}

/* After every exit: goals met -> quiesce; quiet and settled -> done. */
static void check_goals(struct demo *d)
{
	const struct opts *o = d->opts;

	if (!has_goals(o) || d->done)
		return;
	if (!d->quiesce) {
		if ((o->requests && d->virtio.normal_completions < o->requests) ||
		    (o->until_hostile_done && !d->hostile_rounds))
			return;
		d->quiesce = true;
		jlog("{\"event\":\"goals_met\",\"completions\":%" PRIu64
		     ",\"hostile_rounds\":%u,\"ms\":%" PRIu64 "}",
		     d->virtio.normal_completions, d->hostile_rounds, elapsed_ms());
	}
	if (!d->quiet || d->virtio.pending_count || d->heartbeats < d->quiet_beats + SETTLE_BEATS ||
	    elapsed_ms() < d->quiet_ms + SETTLE_MS)
		return;
	d->done = true;
}

/* Returns the reason the VM stopped, as logged; *status is the process exit status. */
static const char *run(struct demo *d, int *status)
{
	struct kvm_run *r = d->vm.run;

	*status = 1;
	for (;;) {
		if (stop_signal)
			break;
		if (ioctl(d->vm.vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "demo-vmm: KVM_RUN: %s\n", strerror(errno));
			return "error";
		}
		switch (r->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)r + r->io.data_offset;

			for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size)
				bus_access(&d->pio, r->io.port, data, r->io.size,
					   r->io.direction == KVM_EXIT_IO_OUT);
			break;
		}
		case KVM_EXIT_MMIO:
			bus_access(&d->mmio, r->mmio.phys_addr, r->mmio.data,
				   r->mmio.len <= 8 ? r->mmio.len : 8, r->mmio.is_write);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_HLT:
			if (d->ready && !d->panic) {
				idle(d);
				break;
			}
			console_flush(d);
			fprintf(stderr, "demo-vmm: guest halted before it was ready\n");
			vm_dump_regs(&d->vm, stderr);
			return "halt";
		case KVM_EXIT_SHUTDOWN:
			console_flush(d);
			fprintf(stderr, "demo-vmm: guest shutdown (triple fault: an exception with "
					"no IDT)\n");
			vm_dump_regs(&d->vm, stderr);
			return "shutdown";
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "demo-vmm: KVM internal error, suberror %u%s\n",
				r->internal.suberror,
				r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
					" (instruction emulation failed)" :
					"");
			vm_dump_regs(&d->vm, stderr);
			return "internal-error";
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "demo-vmm: VM entry failed, hardware reason 0x%llx\n",
				(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
			vm_dump_regs(&d->vm, stderr);
			return "fail-entry";
		default:
			fprintf(stderr, "demo-vmm: unexpected KVM exit %u (%s)\n", r->exit_reason,
				exit_name(r->exit_reason));
			vm_dump_regs(&d->vm, stderr);
			return "unexpected-exit";
		}
		/* notifies KVM took for the VMM (--ioeventfd), then completions */
		ioeventfd_poll(&d->io);
		if (d->virtio.held && released) {
			d->virtio.held = false;
			jlog("{\"event\":\"released\",\"what\":\"completions\",\"ms\":%" PRIu64 "}",
			     elapsed_ms());
		}
		/* Used elements whose --complete-delay-ms has passed, before the guest runs. */
		virtio_host_poll(&d->virtio);
		churn_step(d);
		if (d->panic) {
			console_flush(d);
			return "panic";
		}
		check_goals(d);
		if (d->done) {
			console_flush(d);
			*status = 0;
			return "done";
		}
	}
	console_flush(d);
	/* --seconds is a safety limit when there are goals: reaching it is a failure */
	if (stop_signal == SIGALRM && has_goals(d->opts)) {
		char why[256];

		fprintf(stderr, "demo-vmm: --seconds %g reached while waiting for %s\n",
			d->opts->seconds, waiting_for(d, why, sizeof(why)));
		return "timeout";
	}
	*status = 0;
	return stop_signal == SIGALRM ? "timeout" : "signal";
}

/* ---- options ---- */

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

static const char *transport_name(uint32_t t)
{
	return t == DEMO_TRANSPORT_PCI ? "pci" : t == DEMO_TRANSPORT_MMIO ? "mmio" : "both";
}

static const char *pci_config_name(uint32_t c)
{
	return c == DEMO_PCI_CONFIG_Q35	  ? "ecam" :
	       c == DEMO_PCI_CONFIG_FIXED ? "ecam-fixed" :
					    "cf8";
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

static int setup(struct demo *d, const char *guest)
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

int main(int argc, char **argv)
{
	static struct demo d;
	struct opts o = { .ready_fd = -1,
			  .transport = DEMO_TRANSPORT_MMIO,
			  .hz = DEFAULT_HZ,
			  .req_hz = DEFAULT_REQ_HZ,
			  .complete_delay_ms = DEFAULT_COMPLETE_DELAY_MS };
	char guest[PATH_MAX];
	const char *reason;
	uint64_t ms;
	int status;

	argp_parse(&argp, argc, argv, 0, NULL, &o);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	setvbuf(stdout, NULL, _IOLBF, 0);
	d.opts = &o;
	d.next_tick = t_start;

	if (o.guest_path) {
		snprintf(guest, sizeof(guest), "%s", o.guest_path);
	} else if (default_guest_path(guest, sizeof(guest))) {
		return 1;
	}
	if (o.log_path) {
		if (jlog_open(o.log_path)) {
			fprintf(stderr, "demo-vmm: --log %s: %s\n", o.log_path, strerror(errno));
			return 1;
		}
	}

	if (o.req_hz > o.hz)
		o.req_hz = o.hz;
	if (setup(&d, guest)) {
		virtio_host_destroy(&d.virtio);
		vm_destroy(&d.vm);
		return 1;
	}
	signal_run = d.vm.run;
	if (setup_signals(o.seconds)) {
		vm_destroy(&d.vm);
		return 1;
	}

	reason = run(&d, &status);
	signal_run = NULL;
	ms = elapsed_ms();
	/* the vCPU is stopped: the last notifies KVM took, then the rings as they are left */
	ioeventfd_destroy(&d.io);
	virtio_host_log_rings(&d.virtio);
	if (has_goals(&o) && !d.done) {
		char why[256], esc[256 * 6 + 1];

		jlog("{\"event\":\"unmet\",\"waiting_for\":\"%s\"}",
		     json_escape(waiting_for(&d, why, sizeof(why)), esc, sizeof(esc)));
	}
	jlog("{\"event\":\"exit\",\"reason\":\"%s\",\"status\":%d,\"heartbeats\":%" PRIu64
	     ",\"mmio_heartbeats\":%" PRIu64 ",\"elapsed_ms\":%" PRIu64
	     ",\"virtio_requests\":%" PRIu64 ",\"virtio_completions\":%" PRIu64
	     ",\"virtio_errors\":%" PRIu64 ",\"hostile_events\":%" PRIu64
	     ",\"pci_config_reads\":%" PRIu64 ",\"pci_config_writes\":%" PRIu64
	     ",\"pci_ecam_reads\":%" PRIu64 ",\"pci_ecam_writes\":%" PRIu64 "}",
	     reason, status, d.heartbeats, d.mmio_writes, ms, d.virtio.requests,
	     d.virtio.completions, d.virtio.errors, d.hostile_events, d.pci.cfg_reads,
	     d.pci.cfg_writes, d.pci.ecam_reads, d.pci.ecam_writes);
	fprintf(stderr,
		"demo-vmm: stopped (%s) after %" PRIu64 " ms: %" PRIu64 " heartbeats (%.1f/s)%s\n",
		reason, ms, d.heartbeats, ms ? d.heartbeats * 1000.0 / ms : 0.0,
		d.ready ? "" : ", guest never got ready");
	fprintf(stderr,
		"demo-vmm: virtio: %" PRIu64 " requests (%.1f/s), %" PRIu64 " completions, %" PRIu64
		" errors\n",
		d.virtio.requests, ms ? d.virtio.requests * 1000.0 / ms : 0.0, d.virtio.completions,
		d.virtio.errors);
	jlog_close();
	virtio_host_destroy(&d.virtio);
	vm_destroy(&d.vm);
	return status;
}

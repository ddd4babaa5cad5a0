// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's side channel to the VMM: the report ports (DEMO_PIO_*, demo-abi.h) and the MMIO
 * heartbeat window. Through them the guest announces each pattern write, its heartbeats, its
 * status and console, each hostile scenario before it performs it and each driver-side fault
 * once done, and reads the settings it runs with. Each report becomes one event of the
 * ground-truth log, the VMM's word on what the guest did, which the tests compare with what
 * gma read: the log lines written here are a format the tests parse.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "demo-log.h"
#include "demo-vmm.h"
#include "pattern.h"

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

void console_flush(struct demo *d)
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

/*
 * One field of the hostile report being assembled: a write marks its field present until the
 * commit. The 64-bit fields (the address, a PCI device's base) come as two 32-bit halves,
 * each kept when the other is written.
 */
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
void report_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
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
void heartbeat_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
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

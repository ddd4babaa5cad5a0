// SPDX-License-Identifier: GPL-2.0
/*
 * virtio device models of the demo VMM, shared by its transports (virtio-mmio.c,
 * virtio-pci.c). Layouts come from the kernel's uapi headers. The guest is untrusted: every index, length, address and flag read from its
 * rings is checked, chains are bounded by the queue size (or the indirect table size), and
 * a malformed queue is reported ("virtio_error" in the log) and the device marked
 * DEVICE_NEEDS_RESET instead of being trusted. The hostile device (--hostile) is the
 * exception: it reports and drops each malformed chain and keeps serving the queue, so a
 * guest can feed it garbage again and again (see struct virtio_dev.hostile).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "demo-abi.h"
#include "demo-log.h"
#include "virtio-dev.h"

/* ISR bit 0, "a used buffer": the same in virtio-mmio's InterruptStatus and virtio-pci's ISR */
#define VIRTIO_ISR_VRING 1
#define BLK_SECTOR 512u
#define BLK_ID "gma-demo-blk"
/* Entries an indirect table may have; the chain length bound of indirect chains. */
#define MAX_INDIRECT 64
#define MAX_CHAIN \
	(MAX_INDIRECT > DEMO_VIRTIO_QUEUE_NUM_MAX ? MAX_INDIRECT : DEMO_VIRTIO_QUEUE_NUM_MAX)
#define MAX_TX_BYTES 4096 /* console/net bytes looked at per chain */

static const uint8_t net_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

struct chain_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
	uint16_t idx; /* index in its table (the queue's, or the indirect table) */
};

struct chain {
	uint16_t avail_pos; /* free-running avail ring position */
	uint16_t head;
	bool indirect;
	uint64_t itab_addr;
	uint32_t itab_len;
	unsigned int n;
	struct chain_desc d[MAX_CHAIN];
	uint64_t rd_len, wr_len; /* bytes in device-readable / device-writable buffers */
	bool silent; /* found when notifications came back on, with no notify for it */
};

/* ---- small helpers ---- */

static bool has_feature(const struct virtio_dev *v, unsigned int bit)
{
	return v->drv_features & (1ULL << bit);
}

/* --suppress applies to the well-behaved devices; the hostile one keeps its own rules. */
static bool suppressing(const struct virtio_dev *v)
{
	return v->host->suppress && !v->hostile;
}

static void verror(struct virtio_dev *v, int queue, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verror_at(struct virtio_dev *v, int queue, const char *extra, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A driver bug or hostile guest: log it, mark the device broken, never trust the queue. The
 * hostile device is not marked: it drops what is malformed and goes on. @extra: more JSON
 * fields (",\"name\":value..."), or "".
 */
static void vlog_error(struct virtio_dev *v, int queue, const char *extra, const char *fmt,
		       va_list ap)
{
	char msg[256], esc[256 * 6 + 1];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	v->host->errors++;
	if (v->host->errors <= 16)
		fprintf(stderr, "demo-vmm: virtio-%s queue %d: %s\n", v->name, queue, msg);
	jlog("{\"event\":\"virtio_error\",%s,\"queue\":%d%s,\"reason\":\"%s\"}", v->tag, queue,
	     extra, json_escape(msg, esc, sizeof(esc)));
	if ((v->status & VIRTIO_CONFIG_S_DRIVER_OK) && !v->hostile)
		v->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
}

static void verror(struct virtio_dev *v, int queue, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_error(v, queue, "", fmt, ap);
	va_end(ap);
}

static void verror_at(struct virtio_dev *v, int queue, const char *extra, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_error(v, queue, extra, fmt, ap);
	va_end(ap);
}

/*
 * Copies between @buf and the device-readable (@writable false) or device-writable part of
 * the chain, starting @off bytes into that part. Returns the bytes copied.
 */
static uint64_t chain_copy(struct vm *vm, const struct chain *c, bool writable, uint64_t off,
			   void *buf, uint64_t len, bool to_guest)
{
	uint8_t *p = buf;
	uint64_t done = 0;

	for (unsigned int i = 0; i < c->n && done < len; i++) {
		const struct chain_desc *d = &c->d[i];
		uint64_t n;

		if (!!(d->flags & VRING_DESC_F_WRITE) != writable)
			continue;
		if (off >= d->len) {
			off -= d->len;
			continue;
		}
		n = d->len - off;
		if (n > len - done)
			n = len - done;
		/* Each buffer was checked to be RAM when the chain was walked. */
		if (to_guest ? vm_write(vm, d->addr + off, p + done, n) :
			       vm_read(vm, d->addr + off, p + done, n))
			break;
		done += n;
		off = 0;
	}
	return done;
}

/* ---- queue walking ---- */

static int read_desc(struct vm *vm, uint64_t table, uint16_t i, struct vring_desc *d)
{
	return vm_read(vm, table + (uint64_t)i * sizeof(*d), d, sizeof(*d));
}

/* Walks the chain at @head; returns NULL or why the chain is malformed. */
static const char *walk_chain(struct virtio_dev *v, struct virtio_queue *q, uint16_t head,
			      struct chain *c)
{
	struct vm *vm = v->host->vm;
	uint64_t table = q->desc;
	unsigned int max = q->num;
	bool seen_write = false;
	struct vring_desc d;
	uint16_t i = head;

	c->head = head;
	c->n = 0;
	c->indirect = false;
	c->itab_addr = 0;
	c->itab_len = 0;
	c->rd_len = c->wr_len = 0;
	if (head >= q->num)
		return "head index out of range";
	if (read_desc(vm, table, head, &d))
		return "descriptor table not in RAM";
	if (d.flags & VRING_DESC_F_INDIRECT) {
		if (!has_feature(v, VIRTIO_RING_F_INDIRECT_DESC))
			return "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC";
		if (d.flags & VRING_DESC_F_NEXT)
			return "indirect descriptor with VRING_DESC_F_NEXT";
		if (!d.len || d.len % sizeof(struct vring_desc) ||
		    d.len / sizeof(struct vring_desc) > MAX_INDIRECT)
			return "bad indirect table length";
		if (!vm_range_is_ram(vm, d.addr, d.len))
			return "indirect table not in RAM";
		c->indirect = true;
		c->itab_addr = d.addr;
		c->itab_len = d.len;
		table = d.addr;
		max = d.len / sizeof(struct vring_desc);
		i = 0;
	}
	for (;;) {
		struct chain_desc *cd;

		if (c->n >= max)
			return "chain longer than its table (loop?)";
		if (read_desc(vm, table, i, &d))
			return "descriptor not in RAM";
		if (d.flags & VRING_DESC_F_INDIRECT)
			return c->indirect ? "nested indirect descriptor" :
					     "indirect descriptor inside a chain";
		if (d.flags & VRING_DESC_F_WRITE)
			seen_write = true;
		else if (seen_write)
			return "device-readable descriptor after a device-writable one";
		if (!vm_range_is_ram(vm, d.addr, d.len))
			return "buffer not in RAM";
		if (!d.len && v->hostile)
			return "zero-length descriptor";
		cd = &c->d[c->n++];
		*cd = (struct chain_desc){ d.addr, d.len, d.flags, d.next, i };
		if (d.flags & VRING_DESC_F_WRITE)
			c->wr_len += d.len;
		else
			c->rd_len += d.len;
		if (!(d.flags & VRING_DESC_F_NEXT)) {
			/* The spec's limit; the others accept indirect chains up to seg_max. */
			if (v->hostile && c->n > q->num)
				return "chain longer than the queue size";
			return NULL;
		}
		if (d.next >= max)
			return "next index out of range";
		i = d.next;
	}
}

/* Appends to a fixed buffer; output that does not fit is cut, never overflows. */
struct sbuf {
	char *p;
	size_t size, len;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = b->len + n < b->size ? b->len + n : b->size - 1;
}

static void log_chain(struct virtio_dev *v, unsigned int qi, const struct chain *c,
		      const char *extra)
{
	static char line[MAX_CHAIN * 112 + 1024];
	struct sbuf b = { line, sizeof(line), 0 };

	sb_printf(&b,
		  "{\"event\":\"chain\",%s,\"queue\":%u,\"avail_idx\":%u,\"head\":%u,"
		  "\"indirect\":%s",
		  v->tag, qi, c->avail_pos, c->head, c->indirect ? "true" : "false");
	if (c->indirect)
		sb_printf(&b, ",\"indirect_table\":{\"addr\":%" PRIu64 ",\"len\":%u}", c->itab_addr,
			  c->itab_len);
	sb_printf(&b, ",\"descs\":[");
	for (unsigned int i = 0; i < c->n; i++)
		sb_printf(&b,
			  "%s{\"idx\":%u,\"addr\":%" PRIu64
			  ",\"len\":%u,\"flags\":%u,\"next\":%u,\"write\":%s}",
			  i ? "," : "", c->d[i].idx, c->d[i].addr, c->d[i].len, c->d[i].flags,
			  c->d[i].next, c->d[i].flags & VRING_DESC_F_WRITE ? "true" : "false");
	sb_printf(&b, "],\"readable\":%" PRIu64 ",\"writable\":%" PRIu64 "%s%s}", c->rd_len,
		  c->wr_len, c->silent ? ",\"silent\":true" : "", extra);
	jlog("%s", line);
}

/* ---- device models: each returns the bytes written into device-writable buffers ---- */

static uint32_t blk_request(struct virtio_dev *v, unsigned int qi, const struct chain *c)
{
	struct virtio_host *h = v->host;
	struct virtio_blk_outhdr hdr;
	uint64_t data_in, data_out, off;
	uint8_t status = VIRTIO_BLK_S_OK;
	char extra[128] = "";
	uint32_t written = 0;

	memset(&hdr, 0, sizeof(hdr));
	if (c->rd_len >= sizeof(hdr))
		chain_copy(h->vm, c, false, 0, &hdr, sizeof(hdr), false);
	snprintf(extra, sizeof(extra), ",\"blk\":{\"type\":%u,\"sector\":%" PRIu64 "}", hdr.type,
		 (uint64_t)hdr.sector);
	log_chain(v, qi, c, extra);

	if (c->rd_len < sizeof(hdr) || c->wr_len < 1) {
		/* No header, or nowhere to put the status: nothing can be done or reported. */
		verror(v, qi, "blk request at head %u without header or status byte", c->head);
		return 0;
	}
	data_in = c->wr_len - 1;
	data_out = c->rd_len - sizeof(hdr);
	off = hdr.sector * BLK_SECTOR;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		if (hdr.sector > DEMO_BLK_DISK_SIZE / BLK_SECTOR ||
		    data_in > DEMO_BLK_DISK_SIZE - off) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		chain_copy(h->vm, c, true, 0, h->disk + off, data_in, true);
		written = data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		if (hdr.sector > DEMO_BLK_DISK_SIZE / BLK_SECTOR ||
		    data_out > DEMO_BLK_DISK_SIZE - off) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		chain_copy(h->vm, c, false, sizeof(hdr), h->disk + off, data_out, false);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = BLK_ID;

		written = data_in < sizeof(id) ? data_in : sizeof(id);
		chain_copy(h->vm, c, true, 0, id, written, true);
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	/* The status byte is the last device-writable byte. */
	chain_copy(h->vm, c, true, data_in, &status, 1, true);
	return written + 1;
}

static void console_line(struct virtio_dev *v)
{
	char esc[sizeof(v->line) * 6 + 1];

	v->line[v->line_len] = '\0';
	fprintf(stderr, "virtio-console: %s\n", v->line);
	jlog("{\"event\":\"virtio_console\",%s,\"text\":\"%s\"}", v->tag,
	     json_escape(v->line, esc, sizeof(esc)));
	v->line_len = 0;
}

static uint32_t console_request(struct virtio_dev *v, unsigned int qi, const struct chain *c)
{
	uint8_t buf[MAX_TX_BYTES];
	uint64_t n;

	log_chain(v, qi, c, "");
	if (qi != 1) /* receiveq: there is never input; not consumed (see notify) */
		return 0;
	n = chain_copy(v->host->vm, c, false, 0, buf, sizeof(buf), false);
	for (uint64_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			console_line(v);
			continue;
		}
		if (v->line_len >= sizeof(v->line) - 1)
			console_line(v);
		v->line[v->line_len++] = (char)buf[i];
	}
	return 0;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Decodes what the demo guest sends: Ethernet, IPv4 (header checksum checked), UDP. */
static void net_log_frame(struct virtio_dev *v, const uint8_t *f, uint64_t len)
{
	char payload[64], esc[64 * 6 + 1];
	uint32_t sum = 0, ihl, plen;
	const uint8_t *ip, *udp;

	if (len < 14 + 20 + 8 || get_be16(f + 12) != 0x0800 || (f[14] >> 4) != 4) {
		jlog("{\"event\":\"net_tx\",%s,\"frame_len\":%" PRIu64 "}", v->tag, len);
		return;
	}
	ip = f + 14;
	ihl = (ip[0] & 0xf) * 4u;
	if (ihl < 20 || 14 + ihl + 8 > len)
		ihl = 20;
	for (uint32_t i = 0; i < ihl; i += 2)
		sum += get_be16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	udp = ip + ihl;
	plen = get_be16(udp + 4) >= 8 ? get_be16(udp + 4) - 8u : 0;
	if (plen > len - 14 - ihl - 8)
		plen = len - 14 - ihl - 8;
	if (plen > sizeof(payload) - 1)
		plen = sizeof(payload) - 1;
	memcpy(payload, udp + 8, plen);
	payload[plen] = '\0';
	jlog("{\"event\":\"net_tx\",%s,\"frame_len\":%" PRIu64
	     ",\"dst\":\"%02x:%02x:%02x:%02x:%02x:%02x\",\"src\":\"%02x:%02x:%02x:%02x:%02x:%02x\","
	     "\"ip_src\":\"%u.%u.%u.%u\",\"ip_dst\":\"%u.%u.%u.%u\",\"ip_csum_ok\":%s,"
	     "\"proto\":%u,\"sport\":%u,\"dport\":%u,\"payload\":\"%s\"}",
	     v->tag, len, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11],
	     ip[12], ip[13], ip[14], ip[15], ip[16], ip[17], ip[18], ip[19],
	     sum == 0xffff ? "true" : "false", ip[9], get_be16(udp), get_be16(udp + 2),
	     json_escape(payload, esc, sizeof(esc)));
}

static uint32_t net_request(struct virtio_dev *v, unsigned int qi, const struct chain *c)
{
	uint8_t buf[MAX_TX_BYTES];
	struct virtio_net_hdr_v1 hdr = { 0 };
	/* 12 bytes with VERSION_1; legacy without MRG_RXBUF: 10 (no num_buffers). */
	size_t hlen = has_feature(v, VIRTIO_F_VERSION_1) ? sizeof(hdr) :
							   sizeof(struct virtio_net_hdr);
	char extra[128] = "";
	uint64_t n;

	if (qi != 1) { /* receiveq: nothing ever arrives */
		log_chain(v, qi, c, "");
		return 0;
	}
	n = chain_copy(v->host->vm, c, false, 0, buf, sizeof(buf), false);
	if (n >= hlen) {
		memcpy(&hdr, buf, hlen);
		snprintf(extra, sizeof(extra),
			 ",\"net_hdr\":{\"flags\":%u,\"gso_type\":%u,\"hdr_len\":%u,"
			 "\"gso_size\":%u,\"num_buffers\":%u}",
			 hdr.flags, hdr.gso_type, hdr.hdr_len, hdr.gso_size, hdr.num_buffers);
	}
	log_chain(v, qi, c, extra);
	if (n < hlen) {
		verror(v, qi, "net tx at head %u shorter than its virtio_net_hdr", c->head);
		return 0;
	}
	net_log_frame(v, buf + hlen, n - hlen);
	return 0;
}

/* ---- --fault ---- */

#define FAULT_QUIET_NS 1000000000ULL

/*
 * A quiet second is one an observer could look in only if the kernel's tick ran through it.
 * QEMU's TCG, while this vCPU runs its guest, sometimes loses the test VM's timer interrupt
 * for seconds: nothing but this thread runs then (no tick, no preemption), while it goes on
 * completing. CLOCK_MONOTONIC, read from the clocksource, moves on; CLOCK_MONOTONIC_COARSE,
 * advanced by the tick, stands still. A poll that finds them further apart than
 * TICK_STALL_NS (a tick is 1 to 10 ms) marks a stall; the quiet second counts from the later
 * of the queue's last interrupt and the last stall. (Seen: test_health's 6.1 VM silent for
 * 8 s, the completion in the middle, the tracer's next look 7 s after it.)
 */
#define TICK_STALL_NS 250000000ULL

static void watch_tick(struct virtio_host *h, uint64_t now)
{
	struct timespec c;
	uint64_t coarse;
	bool stalled;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &c);
	coarse = (uint64_t)c.tv_sec * 1000000000ULL + (uint64_t)c.tv_nsec;
	stalled = now > coarse + TICK_STALL_NS;
	if (stalled && !h->tick_stalled)
		jlog("{\"event\":\"tick-stall\",\"lag_ms\":%" PRIu64 ",\"ns\":%" PRIu64 "}",
		     (now - coarse) / 1000000, now);
	h->tick_stalled = stalled;
	if (stalled)
		h->tick_stall_ns = now;
}

/* The device --fault is about: the first well-behaved one of its type (NULL: none yet). */
static struct virtio_dev *fault_dev(struct virtio_host *h)
{
	for (unsigned int i = 0; h->fault.kind && i < h->nr_devs; i++)
		if (!h->devs[i].hostile && h->devs[i].device_id == h->fault.device_id)
			return &h->devs[i];
	return NULL;
}

/* Whether the device's own --fault @kind applies to queue @qi of @v now. */
static bool device_fault(struct virtio_dev *v, uint32_t qi, uint32_t kind)
{
	struct virtio_host *h = v->host;

	return h->fault.kind == kind && qi == h->fault.queue && fault_dev(h) == v &&
	       v->queues[qi].chains >= h->fault.after;
}

/* The ground truth of a fault: which queue, and the index where it happened. */
static void log_fault(struct virtio_dev *v, const char *kind, uint32_t qi, const char *what,
		      uint32_t idx)
{
	v->host->fault.fired = true;
	jlog("{\"event\":\"fault\",\"kind\":\"%s\",%s,\"queue\":%u,\"%s\":%u}", kind, v->tag, qi,
	     what, idx);
}

void virtio_fault_fired(struct virtio_host *h, const char *kind, uint32_t idx)
{
	struct virtio_dev *v = fault_dev(h);

	if (!v || h->fault.fired)
		return;
	log_fault(v, kind, h->fault.queue,
		  h->fault.kind == DEMO_FAULT_DRIVER_NO_REAP ? "used_idx" : "avail_idx", idx);
}

/* ---- notification suppression (--suppress) ---- */

/* used_event: the driver area's last field; avail_event: the device area's. */
static uint64_t used_event_addr(const struct virtio_queue *q)
{
	return q->driver + offsetof(struct vring_avail, ring) + 2ULL * q->num;
}

static uint64_t avail_event_addr(const struct virtio_queue *q)
{
	return q->device + offsetof(struct vring_used, ring) +
	       (uint64_t)q->num * sizeof(struct vring_used_elem);
}

/*
 * Whether the driver wants to hear of the used element at @old (the index goes to @new):
 * with VIRTIO_RING_F_EVENT_IDX vring_need_event() on its used_event, else unless it set
 * VRING_AVAIL_F_NO_INTERRUPT. The guest polls; the ISR bit and the counts are all it gets.
 */
static bool want_interrupt(struct virtio_dev *v, const struct virtio_queue *q, uint16_t old,
			   uint16_t new)
{
	struct vm *vm = v->host->vm;
	uint16_t val;

	if (!suppressing(v))
		return true;
	if (has_feature(v, VIRTIO_RING_F_EVENT_IDX))
		return vm_read(vm, used_event_addr(q), &val, sizeof(val)) ||
		       vring_need_event(val, new, old);
	return vm_read(vm, q->driver + offsetof(struct vring_avail, flags), &val, sizeof(val)) ||
	       !(val & VRING_AVAIL_F_NO_INTERRUPT);
}

/*
 * Notifications of queue @q off while the device is processing it (requests held back), on
 * once it is idle. With EVENT_IDX "off" leaves avail_event where it was (the driver's next
 * avail index is past it: vring_need_event() says no kick) and "on" moves it to the next
 * position the device will look at; without, the used ring's VRING_USED_F_NO_NOTIFY.
 */
static void set_notify(struct virtio_dev *v, struct virtio_queue *q, bool on)
{
	struct vm *vm = v->host->vm;
	uint16_t val;

	if (has_feature(v, VIRTIO_RING_F_EVENT_IDX)) {
		if (on)
			vm_write(vm, avail_event_addr(q), &q->last_avail, sizeof(q->last_avail));
	} else {
		val = on ? 0 : VRING_USED_F_NO_NOTIFY;
		vm_write(vm, q->device + offsetof(struct vring_used, flags), &val, sizeof(val));
	}
	q->notify_off = !on;
	/* the driver reads the index after our write: ours must be visible before we re-read */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void process_avail(struct virtio_dev *v, uint32_t qi, uint16_t avail_idx, uint64_t t,
			  bool silent);

/* Notifications back on for queues that have gone idle, then what came in meanwhile. */
static void resume_queues(struct virtio_host *h)
{
	for (unsigned int i = 0; i < h->nr_devs; i++) {
		struct virtio_dev *v = &h->devs[i];

		if (!suppressing(v) || !(v->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
		    (v->status & VIRTIO_CONFIG_S_NEEDS_RESET))
			continue;
		for (unsigned int qi = 0; qi < v->nr_queues; qi++) {
			struct virtio_queue *q = &v->queues[qi];
			uint16_t avail_idx;

			if (!q->ready || !q->notify_off || q->pending)
				continue;
			set_notify(v, q, true);
			if (vm_read(h->vm, q->driver + offsetof(struct vring_avail, idx),
				    &avail_idx, sizeof(avail_idx)))
				continue;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (avail_idx != q->last_avail)
				process_avail(v, qi, avail_idx, now_ns(), true);
		}
	}
}

/* ---- completions ---- */

/*
 * The device interrupts the driver: InterruptStatus says why, and with --irq its line is
 * raised (one edge), or on virtio-pci the queue's MSI-X message sent, logged ("irq") as the
 * ground truth of what KVM was asked to inject. On virtio-pci the ISR bit is set after the
 * message: the demo guest, interrupts off, takes the ISR bit for its handler having run, so
 * it never reaps before the injection.
 */
static void interrupt(struct virtio_dev *v, uint32_t qi)
{
	int e;

	v->queues[qi].interrupts++;
	if (v->host->irq && v->msix_signal) {
		v->queues[qi].last_irq_ns = now_ns();
		v->msix_signal(v, qi);
		v->isr |= VIRTIO_ISR_VRING;
		return;
	}
	v->isr |= VIRTIO_ISR_VRING;
	if (!v->host->irq || !v->gsi)
		return;
	e = vm_irq_pulse(v->host->vm, v->gsi);
	v->queues[qi].last_irq_ns = now_ns();
	if (e)
		verror(v, (int)qi, "KVM_IRQ_LINE %u: %s", v->gsi, strerror(-e));
	else
		jlog("{\"event\":\"irq\",%s,\"queue\":%u,\"gsi\":%u}", v->tag, qi, v->gsi);
}

static void complete(struct virtio_dev *v, const struct virtio_pending *p, uint64_t now)
{
	struct virtio_queue *q = &v->queues[p->queue];
	struct vm *vm = v->host->vm;
	struct vring_used_elem e = { .id = p->head, .len = p->len };
	uint16_t pos = q->used_idx, idx;
	uint64_t delay_us = (now - p->notify_ns) / 1000;

	if (!q->ready || !q->num) /* the driver took the queue down meanwhile */
		return;

	/* The ring's addresses were checked at notify; a reset since then dropped this entry. */
	if (vm_write(vm, q->device + offsetof(struct vring_used, ring) + (pos % q->num) * sizeof(e),
		     &e, sizeof(e))) {
		verror(v, p->queue, "used ring not in RAM");
		return;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	idx = pos + 1;
	if (vm_write(vm, q->device + offsetof(struct vring_used, idx), &idx, sizeof(idx))) {
		verror(v, p->queue, "used ring not in RAM");
		return;
	}
	q->used_idx = idx;
	q->bytes_written += p->len;
	if (device_fault(v, p->queue, DEMO_FAULT_DEVICE_NO_IRQ)) {
		/* --fault device-no-interrupt: completed, and the driver is never told */
		if (!v->host->fault.fired)
			log_fault(v, "device-no-interrupt", p->queue, "used_idx", pos);
		q->interrupts_suppressed++;
	} else if (want_interrupt(v, q, pos, idx)) {
		interrupt(v, p->queue);
	} else {
		q->interrupts_suppressed++;
	}
	v->host->completions++;
	if (!v->hostile)
		v->host->normal_completions++;
	jlog("{\"event\":\"used\",%s,\"queue\":%u,\"head\":%u,\"len\":%u,\"used_idx\":%u,"
	     "\"delay_ms\":%" PRIu64 ".%03" PRIu64 ",\"done_ns\":%" PRIu64 "}",
	     v->tag, p->queue, p->head, p->len, pos, delay_us / 1000, delay_us % 1000, now);
}

void virtio_host_poll(struct virtio_host *h)
{
	uint64_t now = now_ns();

	if (h->fault.kind == DEMO_FAULT_DEVICE_NO_IRQ && !h->fault.fired)
		watch_tick(h, now);
	if (!h->pending_count || h->held)
		return;
	while (h->pending_count) {
		struct virtio_pending *p = &h->pending[h->pending_head];

		if (p->due_ns > now)
			break;
		/*
		 * --fault device-no-interrupt: the completion left without an interrupt waits
		 * until the queue has been quiet for FAULT_QUIET_NS (the driver, which reaps on
		 * interrupts, has reaped all it was told of), the tick running: an observer
		 * looking at the rings a few times a second sees it all reaped before the entry
		 * nobody is told of.
		 */
		if (device_fault(p->dev, p->queue, DEMO_FAULT_DEVICE_NO_IRQ) && !h->fault.fired &&
		    (now - p->dev->queues[p->queue].last_irq_ns < FAULT_QUIET_NS ||
		     now - h->tick_stall_ns < FAULT_QUIET_NS))
			break;
		if (p->reset_count == p->dev->reset_count) {
			complete(p->dev, p, now);
			if (p->dev->queues[p->queue].pending)
				p->dev->queues[p->queue].pending--;
		}
		h->pending_head = (h->pending_head + 1) % VIRTIO_DEMO_MAX_PENDING;
		h->pending_count--;
	}
	if (h->suppress)
		resume_queues(h);
}

static void queue_completion(struct virtio_dev *v, unsigned int qi, uint16_t head, uint32_t len,
			     uint64_t notify_ns)
{
	struct virtio_host *h = v->host;
	struct virtio_pending p = {
		v, v->reset_count, qi, head, len, notify_ns, notify_ns + h->delay_ms * 1000000ULL
	};

	if (!h->delay_ms || h->pending_count == VIRTIO_DEMO_MAX_PENDING) {
		/* No delay wanted, or the list is full (cannot happen with 16-entry queues). */
		virtio_host_poll(h);
		complete(v, &p, now_ns());
		return;
	}
	h->pending[(h->pending_head + h->pending_count) % VIRTIO_DEMO_MAX_PENDING] = p;
	h->pending_count++;
	v->queues[qi].pending++;
}

/* ---- notify ---- */

static bool rings_ok(struct virtio_dev *v, unsigned int qi, struct virtio_queue *q)
{
	struct vm *vm = v->host->vm;

	if (!q->num || q->num > DEMO_VIRTIO_QUEUE_NUM_MAX || (q->num & (q->num - 1))) {
		verror(v, qi, "queue size %u is not a power of 2 in 1..%u", q->num,
		       DEMO_VIRTIO_QUEUE_NUM_MAX);
		return false;
	}
	/* The hostile device reads misaligned rings: a tracer should flag but still decode. */
	if (!v->hostile && (q->desc % 16 || q->driver % 2 || q->device % 4)) {
		verror(v, qi,
		       "misaligned ring (desc %#" PRIx64 " driver %#" PRIx64 " device %#" PRIx64
		       ")",
		       q->desc, q->driver, q->device);
		return false;
	}
	if (!vm_range_is_ram(vm, q->desc, 16ULL * q->num) ||
	    !vm_range_is_ram(vm, q->driver, 6 + 2ULL * q->num) ||
	    !vm_range_is_ram(vm, q->device, 6 + 8ULL * q->num)) {
		verror(v, qi, "ring not in RAM");
		return false;
	}
	return true;
}

/* Receive queues: no input ever arrives, so their buffers stay with the device; logged once. */
static void log_receive_buffers(struct virtio_dev *v, uint32_t qi, uint16_t avail_idx)
{
	static struct chain c;
	struct virtio_queue *q = &v->queues[qi];

	while (q->logged_avail != avail_idx) {
		const char *why;
		uint16_t head;

		if (vm_read(v->host->vm,
			    q->driver + offsetof(struct vring_avail, ring) +
				    (q->logged_avail % q->num) * sizeof(head),
			    &head, sizeof(head))) {
			verror(v, qi, "avail ring not in RAM");
			return;
		}
		memset(&c, 0, sizeof(c));
		c.avail_pos = q->logged_avail;
		why = walk_chain(v, q, head, &c);
		if (why) {
			verror(v, qi, "avail_idx %u head %u: %s", q->logged_avail, head, why);
			return;
		}
		log_chain(v, qi, &c, "");
		q->logged_avail++;
	}
}

/* The chains from the device's last avail position to @avail_idx; @silent: no notify came. */
static void process_avail(struct virtio_dev *v, uint32_t qi, uint16_t avail_idx, uint64_t t,
			  bool silent)
{
	static struct chain c;
	struct virtio_queue *q = &v->queues[qi];

	while (q->last_avail != avail_idx) {
		uint16_t head;
		const char *why;
		uint32_t len;

		/* --fault device-stall: the chains stay in the avail ring, unconsumed */
		if (device_fault(v, qi, DEMO_FAULT_DEVICE_STALL)) {
			if (!v->host->fault.fired)
				log_fault(v, "device-stall", qi, "avail_idx", q->last_avail);
			break;
		}
		if (vm_read(v->host->vm,
			    q->driver + offsetof(struct vring_avail, ring) +
				    (q->last_avail % q->num) * sizeof(head),
			    &head, sizeof(head))) {
			verror(v, qi, "avail ring not in RAM");
			return;
		}
		c.avail_pos = q->last_avail;
		why = walk_chain(v, q, head, &c);
		c.silent = silent;
		if (why) {
			char extra[64];

			snprintf(extra, sizeof(extra), ",\"avail_idx\":%u,\"head\":%u",
				 q->last_avail, head);
			verror_at(v, qi, extra, "avail_idx %u head %u: %s%s", q->last_avail, head,
				  why, v->hostile ? "; chain dropped" : "");
			if (!v->hostile)
				return;
			q->last_avail++; /* dropped: no used element */
			continue;
		}
		switch (v->device_id) {
		case VIRTIO_ID_BLOCK:
			len = blk_request(v, qi, &c);
			break;
		case VIRTIO_ID_CONSOLE:
			len = console_request(v, qi, &c);
			break;
		default:
			len = net_request(v, qi, &c);
			break;
		}
		/*
		 * --fault device-slow: the first request of a batch (a notify that made two or more
		 * chains available) is carried out and never completed; the rest of the batch is
		 * completed after it, so the device is seen completing.
		 */
		/* --fault device-irq-no-used: an interrupt for a request never completed */
		if (device_fault(v, qi, DEMO_FAULT_DEVICE_IRQ_NO_USED) && !v->host->fault.fired) {
			log_fault(v, "device-irq-no-used", qi, "avail_idx", q->last_avail);
			q->last_avail++;
			q->chains++;
			v->host->requests++;
			interrupt(v, qi);
			continue;
		}
		if (device_fault(v, qi, DEMO_FAULT_DEVICE_SLOW) && !v->host->fault.fired &&
		    (uint16_t)(avail_idx - q->last_avail) >= 2) {
			log_fault(v, "device-slow", qi, "avail_idx", q->last_avail);
			jlog("{\"event\":\"fault_held\",%s,\"queue\":%u,\"head\":%u}", v->tag, qi,
			     head);
			q->last_avail++;
			q->chains++;
			v->host->requests++;
			continue;
		}
		q->last_avail++;
		q->chains++;
		if (silent)
			q->silent_chains++;
		v->host->requests++;
		queue_completion(v, qi, head, len, t);
	}
	/* processing until the held completions are written: no notifications meanwhile */
	if (suppressing(v))
		set_notify(v, q, !q->pending);
}

void virtio_dev_notify(struct virtio_dev *v, uint32_t qi)
{
	struct virtio_queue *q;
	uint16_t avail_idx, pending;
	uint64_t t = now_ns();

	if (qi >= v->nr_queues) {
		verror(v, (int)qi, "notify of a queue that does not exist");
		return;
	}
	q = &v->queues[qi];
	if (!(v->status & VIRTIO_CONFIG_S_DRIVER_OK) || !q->ready ||
	    (v->status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		jlog("{\"event\":\"notify\",%s,\"queue\":%u,\"ignored\":true}", v->tag, qi);
		if (v->hostile && (v->status & VIRTIO_CONFIG_S_DRIVER_OK) && !q->ready)
			verror(v, (int)qi, "notify of a queue that is not ready");
		return;
	}
	if (!rings_ok(v, qi, q))
		return;
	if (vm_read(v->host->vm, q->driver + offsetof(struct vring_avail, idx), &avail_idx,
		    sizeof(avail_idx))) {
		verror(v, qi, "avail ring not in RAM");
		return;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	jlog("{\"event\":\"notify\",%s,\"queue\":%u,\"avail_idx\":%u,\"last_avail_idx\":%u}",
	     v->tag, qi, avail_idx, q->last_avail);
	pending = avail_idx - q->last_avail;
	if (pending > q->num) {
		verror(v, qi, "avail idx %u is %u entries ahead of %u (queue size %u)%s", avail_idx,
		       pending, q->last_avail, q->num,
		       v->hostile ? "; skipped, resynchronised" : "");
		if (v->hostile)
			q->last_avail = avail_idx;
		return;
	}
	if (qi == 0 && (v->device_id == VIRTIO_ID_CONSOLE || v->device_id == VIRTIO_ID_NET)) {
		log_receive_buffers(v, qi, avail_idx);
		return;
	}
	process_avail(v, qi, avail_idx, t, false);
}

void virtio_host_log_rings(struct virtio_host *h)
{
	for (unsigned int i = 0; i < h->nr_devs; i++) {
		struct virtio_dev *v = &h->devs[i];

		for (unsigned int qi = 0; qi < v->nr_queues; qi++) {
			const struct virtio_queue *q = &v->queues[qi];
			uint16_t avail, used, flags = 0;

			if (!q->ready || !q->num)
				continue;
			if (vm_read(h->vm, q->driver + offsetof(struct vring_avail, idx), &avail,
				    sizeof(avail)) ||
			    vm_read(h->vm, q->device + offsetof(struct vring_used, idx), &used,
				    sizeof(used)) ||
			    vm_read(h->vm, q->device + offsetof(struct vring_used, flags), &flags,
				    sizeof(flags))) {
				jlog("{\"event\":\"ring_state\",%s,\"queue\":%u,"
				     "\"error\":\"ring not in RAM\"}",
				     v->tag, qi);
				continue;
			}
			jlog("{\"event\":\"ring_state\",%s,\"queue\":%u,\"avail_idx\":%u,"
			     "\"used_idx\":%u,\"in_flight\":%u,\"used_flags\":%u,"
			     "\"event_idx\":%s,\"chains\":%" PRIu64 ",\"silent_chains\":%" PRIu64
			     ",\"interrupts\":%" PRIu64 ",\"interrupts_suppressed\":%" PRIu64 "}",
			     v->tag, qi, avail, used, (uint16_t)(avail - used), flags,
			     has_feature(v, VIRTIO_RING_F_EVENT_IDX) ? "true" : "false", q->chains,
			     q->silent_chains, q->interrupts, q->interrupts_suppressed);
		}
	}
}

/* ---- what the transports call ---- */

void virtio_dev_reset(struct virtio_dev *v)
{
	v->drv_features = 0;
	v->dev_features_sel = v->drv_features_sel = v->queue_sel = 0;
	v->status = 0;
	v->isr = 0;
	v->guest_page_size = 4096;
	memset(v->queues, 0, sizeof(v->queues));
	/* virtio-pci: queue_size (legacy: QUEUE_NUM) reads the maximum until the driver sets it */
	if (v->transport == VIRTIO_TRANSPORT_PCI)
		for (unsigned int i = 0; i < v->nr_queues; i++)
			v->queues[i].num = DEMO_VIRTIO_QUEUE_NUM_MAX;
	v->reset_count++;
	v->line_len = 0;
}

uint32_t virtio_dev_features(const struct virtio_dev *v)
{
	if (v->dev_features_sel > 1)
		return 0;
	return (uint32_t)(v->dev_features >> (32 * v->dev_features_sel));
}

void virtio_dev_set_driver_features(struct virtio_dev *v, uint32_t val)
{
	uint64_t *a = &v->drv_features;

	if (v->drv_features_sel > 1 || (v->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	*a = v->drv_features_sel ? (*a & 0xffffffffULL) | (uint64_t)val << 32 :
				   (*a & ~0xffffffffULL) | val;
}

struct virtio_queue *virtio_dev_queue(struct virtio_dev *v)
{
	return v->queue_sel < v->nr_queues ? &v->queues[v->queue_sel] : NULL;
}

static void log_queue(struct virtio_dev *v, unsigned int qi)
{
	const struct virtio_queue *q = &v->queues[qi];

	jlog("{\"event\":\"queue\",%s,\"queue\":%u,\"size\":%u,\"desc\":%" PRIu64
	     ",\"driver\":%" PRIu64 ",\"device\":%" PRIu64 ",\"legacy\":%s}",
	     v->tag, qi, q->num, q->desc, q->driver, q->device, v->legacy ? "true" : "false");
}

void virtio_dev_queue_enable(struct virtio_dev *v)
{
	struct virtio_queue *q = virtio_dev_queue(v);

	if (!q || q->ready)
		return;
	q->ready = true;
	q->last_avail = q->used_idx = q->logged_avail = 0;
	log_queue(v, v->queue_sel);
}

void virtio_dev_queue_pfn(struct virtio_dev *v, uint32_t pfn)
{
	struct virtio_queue *q = virtio_dev_queue(v);
	uint32_t align;

	if (!q)
		return;
	align = q->align ? q->align : 4096;
	q->pfn = pfn;
	if (!pfn) {
		q->ready = false;
		return;
	}
	q->desc = (uint64_t)pfn * v->guest_page_size;
	q->driver = q->desc + 16ULL * q->num;
	/* vring_init(): the used ring starts at the next @align boundary after used_event. */
	q->device = (q->driver + 6 + 2ULL * q->num + align - 1) & ~((uint64_t)align - 1);
	q->ready = true;
	log_queue(v, v->queue_sel);
}

void virtio_dev_set_status(struct virtio_dev *v, uint32_t s)
{
	if (!s) {
		virtio_dev_reset(v);
		jlog("{\"event\":\"status\",%s,\"status\":0}", v->tag);
		return;
	}
	if ((s & VIRTIO_CONFIG_S_FEATURES_OK) && !(v->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		bool ok = !(v->drv_features & ~v->dev_features) &&
			  (v->legacy || has_feature(v, VIRTIO_F_VERSION_1));

		jlog("{\"event\":\"features\",%s,\"device\":%" PRIu64 ",\"driver\":%" PRIu64
		     ",\"accepted\":%s}",
		     v->tag, v->dev_features, v->drv_features, ok ? "true" : "false");
		if (!ok)
			s &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* the driver reads it back and fails */
	}
	v->status = s | (v->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	jlog("{\"event\":\"status\",%s,\"status\":%u}", v->tag, v->status);
}

void virtio_dev_config_read(const struct virtio_dev *v, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	for (uint32_t i = 0; i < len; i++)
		if (off + i < v->config_len)
			data[i] = v->config[off + i];
}

/* ---- setup ---- */

int virtio_host_init(struct virtio_host *h, struct vm *vm, uint32_t delay_ms)
{
	memset(h, 0, sizeof(*h));
	h->vm = vm;
	h->delay_ms = delay_ms;
	h->disk = calloc(1, DEMO_BLK_DISK_SIZE);
	return h->disk ? 0 : -ENOMEM;
}

struct virtio_dev *virtio_dev_create(struct virtio_host *h, enum virtio_model m, bool legacy)
{
	struct virtio_blk_config blk = { 0 };
	struct virtio_net_config net = { 0 };
	struct virtio_dev *v;

	if (h->nr_devs >= VIRTIO_DEMO_MAX_DEVS)
		return NULL;
	v = &h->devs[h->nr_devs++];
	memset(v, 0, sizeof(*v));
	v->host = h;
	v->legacy = legacy;
	blk.capacity = DEMO_BLK_DISK_SIZE / BLK_SECTOR;
	blk.seg_max = MAX_INDIRECT - 2;
	switch (m) {
	case VIRTIO_MODEL_BLK:
	case VIRTIO_MODEL_HOSTILE:
		v->hostile = m == VIRTIO_MODEL_HOSTILE;
		v->name = v->hostile ? "hostile" : "blk";
		v->device_id = VIRTIO_ID_BLOCK;
		v->nr_queues = v->hostile ? DEMO_HOSTILE_QUEUES : 1;
		v->dev_features = 1ULL << VIRTIO_BLK_F_SEG_MAX;
		if (!v->hostile)
			v->dev_features |= 1ULL << VIRTIO_BLK_F_FLUSH;
		memcpy(v->config, &blk, 16); /* capacity, size_max, seg_max */
		v->config_len = 16;
		break;
	case VIRTIO_MODEL_CONSOLE:
		v->name = "console";
		v->device_id = VIRTIO_ID_CONSOLE;
		v->nr_queues = 2;
		v->config_len = sizeof(struct virtio_console_config);
		break;
	case VIRTIO_MODEL_NET:
		v->name = "net";
		v->device_id = VIRTIO_ID_NET;
		v->nr_queues = 2;
		v->dev_features = 1ULL << VIRTIO_NET_F_MAC;
		memcpy(net.mac, net_mac, sizeof(net_mac));
		memcpy(v->config, &net, 10); /* mac, status, max_virtqueue_pairs */
		v->config_len = 10;
		break;
	}
	v->dev_features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (h->suppress && !v->hostile)
		v->dev_features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (!legacy)
		v->dev_features |= 1ULL << VIRTIO_F_VERSION_1;
	return v;
}

void virtio_dev_set_key(struct virtio_dev *v, enum virtio_transport t, uint64_t base,
			const char *pci)
{
	v->transport = t;
	v->base = base;
	if (pci)
		snprintf(v->tag, sizeof(v->tag),
			 "\"dev\":\"%s\",\"base\":%" PRIu64 ",\"transport\":\"pci\",\"pci\":\"%s\"",
			 v->name, base, pci);
	else
		snprintf(v->tag, sizeof(v->tag),
			 "\"dev\":\"%s\",\"base\":%" PRIu64 ",\"transport\":\"mmio\"", v->name,
			 base);
	virtio_dev_reset(v);
	v->reset_count = 0;
}

int virtio_hostile_used_backwards(struct virtio_host *h, uint64_t base, unsigned int qi,
				  uint16_t *old_idx, uint16_t *new_idx)
{
	for (unsigned int i = 0; i < h->nr_devs; i++) {
		struct virtio_dev *v = &h->devs[i];
		struct virtio_queue *q;
		uint16_t idx;

		if (v->base != base)
			continue;
		if (!v->hostile || qi >= v->nr_queues)
			return -EINVAL;
		q = &v->queues[qi];
		if (!q->ready || !q->num)
			return -EINVAL;
		idx = q->used_idx - 1;
		if (vm_write(h->vm, q->device + offsetof(struct vring_used, idx), &idx,
			     sizeof(idx)))
			return -EFAULT;
		*old_idx = q->used_idx;
		*new_idx = idx;
		return 0;
	}
	return -ENODEV;
}

void virtio_host_destroy(struct virtio_host *h)
{
	free(h->disk);
	h->disk = NULL;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The demo guest's virtio traffic: a repeating cycle of requests on blk, console and net,
 * one step every few heartbeats, completions polled after each wakeup. Every buffer lies at
 * a fixed address (demo-abi.h) so a tracer's findings can be checked against the VMM's log.
 *
 * The blk data buffers are pattern areas: the disk is first written from them, so every
 * read puts back the bytes the pattern says, and the pattern stays true for any reader.
 *
 * The devices are a "set": virtio-mmio, or virtio-pci, or (--transport both) one of each,
 * each set with its own rings and buffers, stepping together.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "hostile.h"
#include "io.h"
#include "lib.h"
#include "pattern.h"
#include "pci.h"
#include "virtio.h"

#define SECTOR 512u
#define SMALL_SECTORS 64u /* the 1-sector write/read cycles through sectors 0..63 */
#define ID_LEN VIRTIO_BLK_ID_BYTES

enum step {
	STEP_BLK_WRITE, /* write 1 sector + flush + get id: three chains, one notify */
	STEP_BLK_READ, /* read that sector back and check it */
	STEP_BLK_BIG_READ, /* 25 sectors over 3 memslots through an indirect table */
	STEP_CONSOLE,
	STEP_NET,
	STEP_COUNT,
	STEP_INIT = STEP_COUNT, /* once: write the big buffer's bytes to the disk */
};

/* What each blk head is doing, to check its completion. */
struct blk_req {
	uint32_t type;
	uint32_t expect_len;
	uint32_t buf; /* data buffer to check after a read */
	uint32_t buf_len;
};

/* Where a set's rings and buffers go; 0: not available. */
struct io_layout {
	uint32_t vq[DEMO_VQS], vq_legacy[DEMO_VQS]; /* indexed by DEMO_VQ_* */
	uint32_t indirect, blk_hdr, blk_status, blk_id, console_buf, net_hdr, net_frame;
	uint32_t console_buf2, net_rx; /* --suppress */
};

static const struct io_layout layouts[2] = {
	{
		{ DEMO_VQ_DESC(DEMO_VQ_AREA, 0), DEMO_VQ_DESC(DEMO_VQ_AREA, 1),
		  DEMO_VQ_DESC(DEMO_VQ_AREA, 2), DEMO_VQ_DESC(DEMO_VQ_AREA, 3),
		  DEMO_VQ_DESC(DEMO_VQ_AREA, 4) },
		{ DEMO_VQ_LEGACY_AREA, DEMO_VQ_LEGACY_AREA + DEMO_VQ_LEGACY_SIZE,
		  DEMO_VQ_LEGACY_AREA + 2 * DEMO_VQ_LEGACY_SIZE,
		  DEMO_VQ_LEGACY_AREA + 3 * DEMO_VQ_LEGACY_SIZE,
		  DEMO_VQ_LEGACY_AREA + 4 * DEMO_VQ_LEGACY_SIZE },
		DEMO_INDIRECT_AREA,
		DEMO_BLK_HDR_AREA,
		DEMO_BLK_STATUS_AREA,
		DEMO_BLK_ID_BUF,
		DEMO_CONSOLE_BUF,
		DEMO_NET_HDR_BUF,
		DEMO_NET_FRAME_BUF,
		DEMO_CONSOLE_BUF2,
		DEMO_NET_RX_AREA,
	},
	{
		{ DEMO_VQ_DESC(DEMO_SET1_VQ_AREA, 0), DEMO_VQ_DESC(DEMO_SET1_VQ_AREA, 1),
		  DEMO_VQ_DESC(DEMO_SET1_VQ_AREA, 2), DEMO_VQ_DESC(DEMO_SET1_VQ_AREA, 3),
		  DEMO_VQ_DESC(DEMO_SET1_VQ_AREA, 4) },
		{ 0, 0, 0, DEMO_SET1_VQ_LEGACY_AREA,
		  DEMO_SET1_VQ_LEGACY_AREA + DEMO_VQ_LEGACY_SIZE },
		DEMO_SET1_INDIRECT_AREA,
		DEMO_SET1_BLK_HDR_AREA,
		DEMO_SET1_BLK_STATUS_AREA,
		DEMO_SET1_BLK_ID_BUF,
		DEMO_SET1_CONSOLE_BUF,
		DEMO_SET1_NET_HDR_BUF,
		DEMO_SET1_NET_FRAME_BUF,
		DEMO_SET1_CONSOLE_BUF2,
		DEMO_SET1_NET_RX_AREA,
	},
};

struct io_set {
	const struct io_layout *l;
	bool pci;
	struct vdev blk, con, net;
	struct virtq blkq, con_rx, con_tx, net_rx, net_tx;
	bool have_blk, have_con, have_net;
	struct blk_req blk_reqs[DEMO_VIRTIO_QUEUE_NUM_MAX];
	unsigned int in_flight;
};

static struct io_set sets[2];
static unsigned int nr_sets;
static uint32_t pace, last_step_tick, cycle;
static unsigned int step = STEP_INIT;
static bool hostile_turn; /* the next step slot goes to hostile mode, if it has work */
/*
 * --suppress: kick only when the device asks (virtq_kick_if_needed), several requests per
 * step each followed by its kick decision (the later ones find the device still processing
 * the first: no kick), the net receive ring filled with one kick.
 */
static bool suppress;
static bool quiet; /* the VMM said to start no new request (DEMO_PIO_QUIESCE) */

/*
 * A driver-side --fault (DEMO_PIO_FAULT): the queue of the first set it breaks, once that
 * queue has taken fault_after chains, and whether it has told the VMM it did.
 */
static uint32_t fault_kind;
static struct virtq *fault_q;
static uint32_t fault_after;
static bool fault_told;
static bool fault_hold; /* driver-no-reap: the VMM holds new requests (DEMO_PIO_FAULT_HOLD) */

static void fault_tell(uint32_t idx)
{
	if (!fault_told)
		outl(DEMO_PIO_FAULT_FIRED, idx);
	fault_told = true;
}

/* --fault driver-no-notify: chains past the first fault_after are made available silently. */
static bool fault_no_notify(const struct virtq *q)
{
	if (fault_kind != DEMO_FAULT_DRIVER_NO_NOTIFY || q != fault_q ||
	    q->avail_idx <= fault_after)
		return false;
	fault_tell(q->avail_idx);
	return true;
}

/* --fault driver-no-reap: used entries past the first fault_after are left in the ring. */
static bool reaping(struct virtq *q)
{
	if (fault_kind != DEMO_FAULT_DRIVER_NO_REAP || q != fault_q || q->last_used < fault_after)
		return true;
	if (!fault_hold) {
		outl(DEMO_PIO_FAULT_HOLD, 1); /* all reaped that will be: quiet for a while */
		fault_hold = true;
	}
	if (*(volatile uint16_t *)&q->used->idx != q->last_used)
		fault_tell(q->last_used);
	return false;
}

/*
 * --irq: a device's used rings are reaped only once its InterruptStatus (virtio-pci: its ISR,
 * which the device sets after sending the queue's MSI-X message) says a ring was used, read
 * and acknowledged as an interrupt handler does; interrupts stay off.
 */
static bool irq_mode;

static bool interrupted(const struct vdev *d)
{
	uint32_t isr;

	if (!irq_mode)
		return true;
	isr = vdev_isr(d);
	if (isr)
		vdev_isr_ack(d, isr);
	return isr & 1; /* VIRTIO_MMIO_INT_VRING, VIRTIO_PCI_ISR_QUEUE */
}

static void notify(struct virtq *q)
{
	if (fault_no_notify(q))
		return;
	if (suppress)
		virtq_kick_if_needed(q);
	else
		virtq_kick(q);
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* Appends the decimal digits of @v at @p; returns the end. */
static char *put_dec(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* Where queue @k (DEMO_VQ_*: blk q0, console q0, q1, net q0, q1) of the set goes on device @d. */
static uint32_t vq_area(const struct io_set *s, unsigned int k, const struct vdev *d)
{
	return d->version == 2 ? s->l->vq[k] : s->l->vq_legacy[k];
}

/*
 * Every guest instruction may be emulated by the host: checking all 0x3200 bytes of the big
 * read would cost more than the rest of the cycle. Reads of up to one sector are checked
 * whole, bigger ones at the first and last 8 bytes of every 256-byte block, which covers
 * every sector boundary and both memslot boundaries (0x14000, 0x17000).
 */
static void check_range(uint32_t gpa, uint32_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)gpa;
	uint8_t want = gma_demo_pattern(gpa);

	for (uint32_t i = 0; i < len; i++) {
		if (p[i] != want) {
			puts("virtio-blk: read data mismatch at ");
			put_hex(gpa + i);
			putc('\n');
			panic("virtio-blk read returned wrong data");
		}
		/* Within a 256-byte block the pattern steps by 131 (see pattern.h). */
		want += 131;
		if (!((gpa + i + 1) & 0xff))
			want = gma_demo_pattern(gpa + i + 1);
	}
}

static void check_pattern(uint32_t gpa, uint32_t len)
{
	if (len <= SECTOR) {
		check_range(gpa, len);
		return;
	}
	for (uint32_t off = 0; off < len; off += 256) {
		uint32_t n = len - off < 256 ? len - off : 256;

		check_range(gpa + off, n < 8 ? n : 8);
		if (n > 8)
			check_range(gpa + off + n - 8, 8);
	}
}

/* ---- blk ---- */

static void blk_submit(struct io_set *s, uint32_t type, uint32_t sector, uint32_t buf, uint32_t len,
		       bool indirect)
{
	int head = virtq_next_head(&s->blkq);
	struct virtio_blk_outhdr *hdr;
	struct vbuf b[3];
	unsigned int n = 0;
	uint32_t data_in = 0;

	if (head < 0)
		panic("virtio-blk: queue full");
	hdr = (struct virtio_blk_outhdr *)(uintptr_t)(s->l->blk_hdr + 16 * head);
	hdr->type = type;
	hdr->ioprio = 0;
	hdr->sector = sector;
	b[n++] = (struct vbuf){ (uint32_t)(uintptr_t)hdr, sizeof(*hdr), false };
	if (len) {
		bool w = type != VIRTIO_BLK_T_OUT;

		b[n++] = (struct vbuf){ buf, len, w };
		if (w)
			data_in = len;
	}
	*(volatile uint8_t *)(uintptr_t)(s->l->blk_status + head) = 0xff;
	b[n++] = (struct vbuf){ s->l->blk_status + head, 1, true };
	s->blk_reqs[head] = (struct blk_req){ type, data_in + 1, buf, len };
	if (virtq_add(&s->blkq, b, n,
		      indirect ? (struct vring_desc *)(uintptr_t)(s->l->indirect + 0x40 * head) :
				 NULL) != head)
		panic("virtio-blk: add failed");
	s->in_flight++;
}

static void blk_complete(struct io_set *s, int head, uint32_t len)
{
	const struct blk_req *r = &s->blk_reqs[head];
	uint8_t status = *(volatile uint8_t *)(uintptr_t)(s->l->blk_status + head);

	if (status != VIRTIO_BLK_S_OK)
		panic("virtio-blk: request failed");
	if (len != r->expect_len)
		panic("virtio-blk: wrong used length");
	if (r->type == VIRTIO_BLK_T_IN)
		check_pattern(r->buf, r->buf_len);
	else if (r->type == VIRTIO_BLK_T_GET_ID &&
		 memcmp((const void *)(uintptr_t)s->l->blk_id, "gma-demo-blk", 13))
		panic("virtio-blk: wrong device id");
}

/* ---- console and net ---- */

static void console_line(struct io_set *s, uint32_t buf, const char *text)
{
	char *msg = (char *)(uintptr_t)buf, *p = msg;
	struct vbuf b;

	p = put_str(p, text);
	p = put_dec(p, cycle);
	*p++ = '\n';
	b = (struct vbuf){ buf, (uint32_t)(p - msg), false };
	if (virtq_add(&s->con_tx, &b, 1, NULL) < 0)
		panic("virtio-console: queue full");
	s->in_flight++;
	notify(&s->con_tx);
}

static void console_send(struct io_set *s)
{
	/* the set of --transport both's PCI devices says so */
	console_line(s, s->l->console_buf,
		     s == &sets[1] ? "hello from the demo guest over pci #" :
				     "hello from the demo guest #");
	/* --suppress: the device is still processing the first: VRING_USED_F_NO_NOTIFY */
	if (suppress)
		console_line(s, s->l->console_buf2, "and a line sent without a kick #");
}

/* --suppress: every receive buffer the ring holds, then one kick (nothing ever arrives). */
static void net_fill_rx(struct io_set *s)
{
	for (uint32_t i = 0; virtq_next_head(&s->net_rx) >= 0; i++) {
		struct vbuf b = { s->l->net_rx + i * DEMO_NET_RX_BUF_LEN, DEMO_NET_RX_BUF_LEN,
				  true };

		if (virtq_add(&s->net_rx, &b, 1, NULL) < 0)
			panic("virtio-net: receive ring add failed");
	}
	notify(&s->net_rx);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t ip_checksum(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void net_send(struct io_set *s)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)(uintptr_t)s->l->net_hdr;
	uint8_t *f = (uint8_t *)(uintptr_t)s->l->net_frame, *ip = f + 14, *udp = ip + 20;
	char *payload = (char *)udp + 8;
	uint32_t plen = (uint32_t)(put_dec(put_str(payload, "gma demo #"), cycle) - payload);
	struct vbuf b[2];

	memset(h, 0, sizeof(*h)); /* no offloads; num_buffers is 0 on transmit */
	memcpy(f, bcast, 6);
	memcpy(f + 6, our_mac, 6);
	put_be16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put_be16(ip + 2, (uint16_t)(20 + 8 + plen));
	put_be16(ip + 4, (uint16_t)cycle); /* identification */
	put_be16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	put_be16(ip + 10, 0);
	ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = 2;
	ip[16] = 10, ip[17] = 0, ip[18] = 0, ip[19] = 1;
	put_be16(ip + 10, ip_checksum(ip, 20));
	put_be16(udp, 1234);
	put_be16(udp + 2, 5678);
	put_be16(udp + 4, (uint16_t)(8 + plen));
	put_be16(udp + 6, 0); /* no UDP checksum: allowed over IPv4 */

	/* VERSION_1 has num_buffers in every header; legacy only with MRG_RXBUF. */
	b[0] = (struct vbuf){ s->l->net_hdr,
			      s->net.version == 2 ? sizeof(*h) : sizeof(struct virtio_net_hdr),
			      false };
	b[1] = (struct vbuf){ s->l->net_frame, 14 + 20 + 8 + plen, false };
	if (virtq_add(&s->net_tx, b, 2, NULL) < 0)
		panic("virtio-net: queue full");
	s->in_flight++;
	notify(&s->net_tx);
}

/* ---- the cycle ---- */

static void poll(struct io_set *s)
{
	uint32_t len;
	int head;

	bool blk = interrupted(&s->blk), con = s->have_con && interrupted(&s->con),
	     net = s->have_net && interrupted(&s->net);

	while (blk && reaping(&s->blkq) && (head = virtq_get_used(&s->blkq, &len)) >= 0) {
		blk_complete(s, head, len);
		s->in_flight--;
	}
	while (con && reaping(&s->con_tx) && (head = virtq_get_used(&s->con_tx, &len)) >= 0)
		s->in_flight--;
	while (net && reaping(&s->net_tx) && (head = virtq_get_used(&s->net_tx, &len)) >= 0)
		s->in_flight--;
}

static void do_step(struct io_set *s)
{
	uint32_t sector = cycle % SMALL_SECTORS;

	switch (step) {
	case STEP_INIT:
		blk_submit(s, VIRTIO_BLK_T_OUT, DEMO_BLK_BIG_SECTOR, DEMO_BLK_BIG_BUF,
			   DEMO_BLK_BIG_SECTORS * SECTOR, true);
		virtq_kick(&s->blkq);
		break;
	case STEP_BLK_WRITE:
		/* --suppress: a kick decision per request, as a driver without batching makes */
		blk_submit(s, VIRTIO_BLK_T_OUT, sector, DEMO_BLK_SMALL_BUF, SECTOR, false);
		if (suppress)
			notify(&s->blkq);
		if (vdev_has(&s->blk, VIRTIO_BLK_F_FLUSH)) {
			blk_submit(s, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
			if (suppress)
				notify(&s->blkq);
		}
		blk_submit(s, VIRTIO_BLK_T_GET_ID, 0, s->l->blk_id, ID_LEN, false);
		notify(&s->blkq);
		break;
	case STEP_BLK_READ:
		blk_submit(s, VIRTIO_BLK_T_IN, sector, DEMO_BLK_SMALL_BUF, SECTOR, false);
		notify(&s->blkq);
		break;
	case STEP_BLK_BIG_READ:
		blk_submit(s, VIRTIO_BLK_T_IN, DEMO_BLK_BIG_SECTOR, DEMO_BLK_BIG_BUF,
			   DEMO_BLK_BIG_SECTORS * SECTOR, true);
		notify(&s->blkq);
		break;
	case STEP_CONSOLE:
		if (s->have_con)
			console_send(s);
		break;
	case STEP_NET:
		if (s->have_net)
			net_send(s);
		break;
	}
}

static void next_step(void)
{
	if (step == STEP_NET) {
		cycle++;
		step = 0;
	} else {
		step = step == STEP_INIT ? 0 : step + 1;
	}
}

static void put_kicks(const char *name, const struct virtq *q)
{
	puts(name);
	put_hex(q->kicks);
	puts(" kicks, ");
	put_hex(q->kicks_suppressed);
	puts(" not needed\n");
}

static void report_kicks(void)
{
	if (!suppress)
		return;
	for (unsigned int i = 0; i < nr_sets; i++) {
		put_kicks("demo guest: blk ", &sets[i].blkq);
		if (sets[i].have_con)
			put_kicks("demo guest: console tx ", &sets[i].con_tx);
		if (sets[i].have_net)
			put_kicks("demo guest: net tx ", &sets[i].net_tx);
	}
}

void io_tick(uint32_t tick)
{
	unsigned int in_flight = 0, i;

	if (!pace)
		return;
	for (i = 0; i < nr_sets; i++) {
		poll(&sets[i]);
		in_flight += sets[i].in_flight;
	}
	if (quiet || hostile_busy() || in_flight || tick - last_step_tick < pace)
		return;
	if (fault_hold && inl(DEMO_PIO_FAULT_HOLD))
		return;
	/* nothing in flight: the VMM may be waiting for that to stop */
	if (inl(DEMO_PIO_QUIESCE)) {
		quiet = true;
		report_kicks();
		return;
	}
	last_step_tick = tick;
	/* Hostile scenarios take every other step slot while they have work. */
	if (hostile_turn) {
		hostile_turn = false;
		if (hostile_step(cycle))
			return;
	}
	for (i = 0; i < nr_sets; i++)
		do_step(&sets[i]);
	next_step();
	hostile_turn = true;
}

/* virtio-mmio window or PCI device of blk (0), console (1), net (2) */
static int dev_init(struct io_set *s, struct vdev *d, unsigned int which, uint32_t id,
		    uint64_t wanted)
{
	static const uint32_t mmio[] = { DEMO_VIRTIO_BLK_BASE, DEMO_VIRTIO_CONSOLE_BASE,
					 DEMO_VIRTIO_NET_BASE };
	static const uint8_t slot[] = { DEMO_PCI_SLOT_BLK, DEMO_PCI_SLOT_CONSOLE,
					DEMO_PCI_SLOT_NET };

	const struct pci_dev *p;

	if (!s->pci)
		return vdev_init(d, mmio[which], id, wanted);
	p = pci_find(slot[which]);
	if (vdev_init_pci(d, p, id, wanted))
		return -1;
	/* --irq: MSI-X before the queues, which each get a vector */
	if (irq_mode && vdev_msix_enable(d, p))
		panic("virtio-pci: MSI-X could not be set up");
	return 0;
}

static bool set_init(struct io_set *s)
{
	uint64_t event_idx = suppress ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0;

	/* --suppress: EVENT_IDX on blk and net; console keeps to VRING_USED_F_NO_NOTIFY */
	s->have_blk = !dev_init(s, &s->blk, 0, VIRTIO_ID_BLOCK,
				(1ULL << VIRTIO_BLK_F_FLUSH) | event_idx) &&
		      !virtq_setup(&s->blkq, &s->blk, 0, DEMO_BLK_QUEUE_NUM,
				   vq_area(s, DEMO_VQ_BLK, &s->blk));
	if (!s->have_blk) {
		puts(s->pci ? "demo guest: no virtio-blk on PCI\n" : "demo guest: no virtio-blk\n");
		return false;
	}
	if (vdev_config32(&s->blk, 0) * SECTOR <
	    (DEMO_BLK_BIG_SECTOR + DEMO_BLK_BIG_SECTORS) * SECTOR)
		panic("virtio-blk: disk too small");
	vdev_driver_ok(&s->blk);

	s->have_con = !dev_init(s, &s->con, 1, VIRTIO_ID_CONSOLE, 0) &&
		      !virtq_setup(&s->con_rx, &s->con, 0, DEMO_CONSOLE_QUEUE_NUM,
				   vq_area(s, DEMO_VQ_CONSOLE_RX, &s->con)) &&
		      !virtq_setup(&s->con_tx, &s->con, 1, DEMO_CONSOLE_QUEUE_NUM,
				   vq_area(s, DEMO_VQ_CONSOLE_TX, &s->con));
	if (s->have_con)
		vdev_driver_ok(&s->con);

	s->have_net =
		!dev_init(s, &s->net, 2, VIRTIO_ID_NET, (1ULL << VIRTIO_NET_F_MAC) | event_idx) &&
		!virtq_setup(&s->net_rx, &s->net, 0, DEMO_NET_QUEUE_NUM,
			     vq_area(s, DEMO_VQ_NET_RX, &s->net)) &&
		!virtq_setup(&s->net_tx, &s->net, 1, DEMO_NET_QUEUE_NUM,
			     vq_area(s, DEMO_VQ_NET_TX, &s->net));
	if (s->have_net) {
		vdev_driver_ok(&s->net);
		if (suppress)
			net_fill_rx(s);
	}

	puts("demo guest: virtio");
	puts(s->pci ? "-pci blk " : "-mmio blk ");
	puts(s->blk.version == 2 ? "modern" : "legacy");
	puts(s->have_con ? (s->con.version == 2 ? ", console modern" : ", console legacy") :
			   ", no console");
	puts(s->have_net ? (s->net.version == 2 ? ", net modern\n" : ", net legacy\n") :
			   ", no net\n");
	return true;
}

/* The driver-side --fault, on the first set's queue it names (only queues the guest sends on). */
static void fault_init(void)
{
	uint32_t f = inl(DEMO_PIO_FAULT), dev = f >> 8 & 0xff, queue = f >> 16;

	fault_kind = f & 0xff;
	fault_after = inl(DEMO_PIO_FAULT_AFTER);
	if (fault_kind != DEMO_FAULT_DRIVER_NO_NOTIFY && fault_kind != DEMO_FAULT_DRIVER_NO_REAP)
		fault_kind = DEMO_FAULT_NONE;
	else if (dev == DEMO_FAULT_DEV_BLK && queue == 0)
		fault_q = &sets[0].blkq;
	else if (dev == DEMO_FAULT_DEV_CONSOLE && queue == 1 && sets[0].have_con)
		fault_q = &sets[0].con_tx;
	else if (dev == DEMO_FAULT_DEV_NET && queue == 1 && sets[0].have_net)
		fault_q = &sets[0].net_tx;
	if (fault_kind && !fault_q)
		panic("--fault: the guest has no such queue");
}

void io_init(uint32_t req_pace)
{
	uint32_t transport;

	if (!req_pace)
		return;
	transport = inl(DEMO_PIO_TRANSPORT);
	suppress = inl(DEMO_PIO_SUPPRESS);
	irq_mode = inl(DEMO_PIO_IRQ);
	if (transport & DEMO_TRANSPORT_PCI) {
		puts("demo guest: PCI bus 0: ");
		put_hex(pci_init());
		puts(" functions\n");
	}
	/* The first set gets the first layout, as the only set always has. */
	if (transport & DEMO_TRANSPORT_MMIO) {
		sets[nr_sets] = (struct io_set){ .l = &layouts[nr_sets], .pci = false };
		nr_sets++;
	}
	if (transport & DEMO_TRANSPORT_PCI) {
		sets[nr_sets] = (struct io_set){ .l = &layouts[nr_sets], .pci = true };
		nr_sets++;
	}
	for (unsigned int i = 0; i < nr_sets; i++) {
		if (!set_init(&sets[i])) {
			puts("demo guest: no virtio traffic\n");
			return;
		}
	}
	fault_init();
	hostile_init(transport & DEMO_TRANSPORT_PCI);
	pace = req_pace;
}

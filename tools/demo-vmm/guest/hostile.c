// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile mode: the guest misuses the VMM's "hostile" virtio-blk device (a 4th device, only
 * there with --hostile) on purpose, so a tracer can be tested against a live guest that
 * misbehaves. Each selected scenario (DEMO_HOSTILE_* in demo-abi.h) runs once per round,
 * in that order, one per step slot between the normal steps; the guest announces it to the
 * VMM (DEMO_PIO_H_*) before it writes anything, and the VMM logs that as ground truth.
 *
 * The hostile queues are driven by hand, not through virtq_add: descriptors, avail entries
 * and avail->idx are written exactly as each scenario wants. Malformed chains go to queue 0,
 * whose device model drops them (no used element); after each one a well-formed GET_ID chain
 * (the "probe", head 12) shows that the queue still works. The guest never reads the hostile
 * used rings, except to wait for a completion in used-backwards and ring-straddle.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "hostile.h"
#include "lib.h"
#include "pci.h"
#include "virtio.h"

#define ID_LEN VIRTIO_BLK_ID_BYTES
#define PROBE_HEAD 12 /* descriptors 12 -> 13 -> 14 */
#define WAIT_TICKS 200 /* a completion not seen by then is given up on */
#define STORM_NOTIFIES 1000
#define AVAIL_JUMP 40
#define LONG_CHAIN 20 /* chain-too-long: entries of the indirect table */
#define HQ2_BYTES (16 * DEMO_HQ_NUM)

static struct vdev hdev;
static struct virtq hq[DEMO_HOSTILE_QUEUES];
static bool have_hostile;
static uint32_t selected, repeat;
static bool round_active;
static uint32_t rounds, round_cycle;
static unsigned int next; /* scenario to run next in this round */
static unsigned int phase; /* of a scenario that takes more than one step */
static uint16_t probes; /* well-formed chains posted on queue 0: its used idx, once done */

/* Waiting for queue wait_q's used->idx to reach wait_idx, for at most wait_ticks beats. */
static struct virtq *wait_q;
static uint16_t wait_idx;
static uint32_t wait_ticks;
static bool restore_hq2; /* put the pattern bytes back under queue 2's table when done */

/* ---- reports to the VMM ---- */

static void rep_queue(uint32_t queue)
{
	outl(DEMO_PIO_H_BASE, (uint32_t)hdev.key);
	if (hdev.key >> 32) /* a PCI device's key (DEMO_PCI_BASE) */
		outl(DEMO_PIO_H_BASE_HI, (uint32_t)(hdev.key >> 32));
	outl(DEMO_PIO_H_QUEUE, queue);
}

static void rep_chain(uint32_t queue, uint32_t head, uint16_t avail_pos)
{
	rep_queue(queue);
	outl(DEMO_PIO_H_HEAD, head);
	outl(DEMO_PIO_H_AVAIL, avail_pos);
}

static void rep_buf(uint64_t addr, uint32_t len)
{
	outl(DEMO_PIO_H_ADDR_LO, (uint32_t)addr);
	outl(DEMO_PIO_H_ADDR_HI, (uint32_t)(addr >> 32));
	outl(DEMO_PIO_H_LEN, len);
}

static void commit(uint32_t scenario)
{
	outl(DEMO_PIO_H_COMMIT, scenario);
}

/* ---- ring writes ---- */

static void set_desc(struct vring_desc *t, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* A well-formed GET_ID request in @t at @a -> @b -> @c; @status: its status byte. */
static void get_id_chain(struct vring_desc *t, unsigned int a, unsigned int b, unsigned int c,
			 uint32_t status)
{
	set_desc(t, a, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, b);
	set_desc(t, b, DEMO_HOSTILE_ID_BUF, ID_LEN, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, c);
	set_desc(t, c, status, 1, VRING_DESC_F_WRITE, 0);
}

/* Puts @head at the next avail position and publishes it (no notify). */
static void post(struct virtq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	asm volatile("" ::: "memory");
	q->avail_idx++;
	*(volatile __virtio16 *)&q->avail->idx = q->avail_idx;
}

static void kick(struct virtq *q)
{
	virtq_kick(q);
}

/* A well-formed chain on queue 0 after a malformed one: the device must still serve it. */
static void probe(void)
{
	get_id_chain(hq[0].desc, PROBE_HEAD, PROBE_HEAD + 1, PROBE_HEAD + 2,
		     DEMO_HOSTILE_STATUS_BUF);
	post(&hq[0], PROBE_HEAD);
	probes++;
	kick(&hq[0]);
}

static void wait_used(struct virtq *q, uint16_t idx)
{
	wait_q = q;
	wait_idx = idx;
	wait_ticks = WAIT_TICKS;
}

/* The bytes under queue 2's descriptor table are a pattern area (demo-abi.h). */
static void copy_bytes(uint32_t dst, uint32_t src, uint32_t n)
{
	volatile uint8_t *d = (volatile uint8_t *)(uintptr_t)dst;
	const volatile uint8_t *s = (const volatile uint8_t *)(uintptr_t)src;

	for (uint32_t i = 0; i < n; i++)
		d[i] = s[i];
}

/* ---- scenarios ---- */

/* One malformed chain at @head on queue 0: announce, write (by @fill), publish, notify. */
static void q0_bad(uint32_t scenario, uint16_t head, void (*fill)(struct vring_desc *t))
{
	struct virtq *q = &hq[0];

	rep_chain(0, head, q->avail_idx);
	commit(scenario);
	if (fill)
		fill(q->desc);
	post(q, head);
	kick(q);
	probe();
}

static void fill_loop_self(struct vring_desc *t)
{
	set_desc(t, 15, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 15);
}

static void fill_loop_two(struct vring_desc *t)
{
	set_desc(t, 1, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 2);
	set_desc(t, 2, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 1);
}

static void fill_loop_long(struct vring_desc *t)
{
	for (unsigned int i = 0; i < DEMO_HQ_NUM; i++)
		set_desc(t, i, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT,
			 (i + 1) & (DEMO_HQ_NUM - 1));
}

static void fill_next_oor(struct vring_desc *t)
{
	set_desc(t, 3, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, DEMO_HQ_NUM);
}

static void fill_chain_too_long(struct vring_desc *t)
{
	struct vring_desc *it = (struct vring_desc *)(uintptr_t)DEMO_HOSTILE_ITAB;

	set_desc(it, 0, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 1);
	for (unsigned int k = 1; k < LONG_CHAIN - 1; k++)
		set_desc(it, k, DEMO_HOSTILE_ID_BUF + k - 1, 1,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, k + 1);
	set_desc(it, LONG_CHAIN - 1, DEMO_HOSTILE_STATUS_BUF, 1, VRING_DESC_F_WRITE, 0);
	set_desc(t, 4, DEMO_HOSTILE_ITAB, LONG_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
}

static void fill_nested(struct vring_desc *t)
{
	struct vring_desc *it = (struct vring_desc *)(uintptr_t)DEMO_HOSTILE_ITAB;
	struct vring_desc *it2 = (struct vring_desc *)(uintptr_t)DEMO_HOSTILE_ITAB2;

	get_id_chain(it, 0, 1, 2, DEMO_HOSTILE_STATUS_BUF);
	set_desc(it2, 0, DEMO_HOSTILE_ITAB, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(t, 5, DEMO_HOSTILE_ITAB2, 16, VRING_DESC_F_INDIRECT, 0);
}

static void fill_indirect_len(struct vring_desc *t)
{
	get_id_chain((struct vring_desc *)(uintptr_t)DEMO_HOSTILE_ITAB, 0, 1, 2,
		     DEMO_HOSTILE_STATUS_BUF);
	set_desc(t, 6, DEMO_HOSTILE_ITAB, 40, VRING_DESC_F_INDIRECT, 0);
}

static void fill_read_after_write(struct vring_desc *t)
{
	set_desc(t, 7, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 8);
	set_desc(t, 8, DEMO_HOSTILE_ID_BUF, ID_LEN, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 9);
	set_desc(t, 9, DEMO_HOSTILE_HDR_BUF, 16, 0, 0);
}

static void fill_zero_len(struct vring_desc *t)
{
	set_desc(t, 10, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 11);
	set_desc(t, 11, DEMO_HOSTILE_ID_BUF, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 9);
	set_desc(t, 9, DEMO_HOSTILE_STATUS_BUF, 1, VRING_DESC_F_WRITE, 0);
}

static void fill_len_max(struct vring_desc *t)
{
	set_desc(t, 8, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 9);
	set_desc(t, 9, DEMO_HOSTILE_ID_BUF, 0xffffffff, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 10);
	set_desc(t, 10, DEMO_HOSTILE_STATUS_BUF, 1, VRING_DESC_F_WRITE, 0);
}

static void fill_wrapping(struct vring_desc *t)
{
	set_desc(t, 11, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 3);
	set_desc(t, 3, 0xfffffffffffff000ULL, 0x2000, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	set_desc(t, 4, DEMO_HOSTILE_STATUS_BUF, 1, VRING_DESC_F_WRITE, 0);
}

/* Two chains, one notify: a buffer in the hole, then a header at 2 GiB. */
static void buffer_unmapped(void)
{
	struct virtq *q = &hq[0];
	struct vring_desc *t = q->desc;

	rep_chain(0, 9, q->avail_idx);
	rep_buf(0x20000, 512);
	commit(DEMO_HOSTILE_BUFFER_UNMAPPED);
	rep_chain(0, 2, (uint16_t)(q->avail_idx + 1));
	rep_buf(0x80000000, 16);
	commit(DEMO_HOSTILE_BUFFER_UNMAPPED);
	set_desc(t, 9, DEMO_HOSTILE_HDR_BUF, 16, VRING_DESC_F_NEXT, 10);
	set_desc(t, 10, 0x20000, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 11);
	set_desc(t, 11, DEMO_HOSTILE_STATUS_BUF, 1, VRING_DESC_F_WRITE, 0);
	set_desc(t, 2, 0x80000000, 16, 0, 0);
	post(q, 9);
	post(q, 2);
	kick(q);
	probe();
}

static void avail_jump(void)
{
	struct virtq *q = &hq[0];

	rep_queue(0);
	outl(DEMO_PIO_H_AVAIL, q->avail_idx);
	outl(DEMO_PIO_H_COUNT, AVAIL_JUMP);
	commit(DEMO_HOSTILE_AVAIL_JUMP);
	q->avail_idx += AVAIL_JUMP;
	*(volatile __virtio16 *)&q->avail->idx = q->avail_idx;
	kick(q);
	probe();
}

/*
 * Phase 0: a probe, and wait for its completion. Phase 1: a notify without new entries (a
 * tracer sampling there sees the used idx U), then the report, on which the VMM writes U - 1,
 * then another such notify (the tracer sees U - 1).
 */
static bool used_backwards(void)
{
	if (phase == 0) {
		probe();
		wait_used(&hq[0], probes);
		return false;
	}
	kick(&hq[0]);
	rep_queue(0);
	commit(DEMO_HOSTILE_USED_BACKWARDS);
	kick(&hq[0]);
	return true;
}

/*
 * Queue 2's descriptor table crosses slot 1 -> 2: a well-formed chain 7 -> 8 -> 9 (entry 8
 * is the first in slot 2), kept there until it completes. Queue 3's device area runs past
 * the end of RAM: the device cannot use it and drops the queue's chain.
 */
static void ring_straddle(void)
{
	struct virtq *q2 = &hq[2], *q3 = &hq[3];

	rep_chain(2, 7, q2->avail_idx);
	rep_buf(DEMO_HQ2_DESC, HQ2_BYTES);
	commit(DEMO_HOSTILE_RING_STRADDLE);
	rep_chain(3, 0, q3->avail_idx);
	rep_buf(DEMO_HQ3_DEVICE, 6 + 8 * DEMO_HQ_NUM);
	commit(DEMO_HOSTILE_RING_STRADDLE);

	copy_bytes(DEMO_HOSTILE_SAVE_AREA, DEMO_HQ2_DESC, HQ2_BYTES);
	restore_hq2 = true;
	get_id_chain(q2->desc, 7, 8, 9, DEMO_HOSTILE_STATUS_BUF + 2);
	post(q2, 7);
	kick(q2);
	wait_used(q2, q2->avail_idx);

	get_id_chain(q3->desc, 0, 1, 2, DEMO_HOSTILE_STATUS_BUF + 3);
	post(q3, 0);
	kick(q3);
}

/* A well-formed chain on a queue that is misaligned (4) or not ready (1). */
static void other_queue(uint32_t scenario, struct virtq *q, uint32_t addr)
{
	rep_chain(q->index, 0, q->avail_idx);
	rep_buf(addr, 16 * DEMO_HQ_NUM);
	commit(scenario);
	get_id_chain(q->desc, 0, 1, 2, DEMO_HOSTILE_STATUS_BUF + q->index);
	post(q, 0);
	kick(q);
}

static void notify_storm(void)
{
	rep_queue(0);
	outl(DEMO_PIO_H_COUNT, STORM_NOTIFIES);
	commit(DEMO_HOSTILE_NOTIFY_STORM);
	for (unsigned int i = 0; i < STORM_NOTIFIES; i++)
		kick(&hq[0]);
}

/* Runs phase @phase of scenario @n; returns true once the scenario is complete. */
static bool run(unsigned int n)
{
	switch (n) {
	case DEMO_HOSTILE_LOOP_SELF:
		q0_bad(n, 15, fill_loop_self);
		break;
	case DEMO_HOSTILE_LOOP_TWO:
		q0_bad(n, 1, fill_loop_two);
		break;
	case DEMO_HOSTILE_LOOP_LONG:
		q0_bad(n, 0, fill_loop_long);
		break;
	case DEMO_HOSTILE_NEXT_OUT_OF_RANGE:
		q0_bad(n, 3, fill_next_oor);
		break;
	case DEMO_HOSTILE_HEAD_OUT_OF_RANGE:
		q0_bad(n, DEMO_HQ_NUM, NULL);
		break;
	case DEMO_HOSTILE_CHAIN_TOO_LONG:
		rep_buf(DEMO_HOSTILE_ITAB, LONG_CHAIN * 16);
		outl(DEMO_PIO_H_COUNT, LONG_CHAIN);
		q0_bad(n, 4, fill_chain_too_long);
		break;
	case DEMO_HOSTILE_NESTED_INDIRECT:
		rep_buf(DEMO_HOSTILE_ITAB2, 16);
		q0_bad(n, 5, fill_nested);
		break;
	case DEMO_HOSTILE_INDIRECT_LEN:
		rep_buf(DEMO_HOSTILE_ITAB, 40);
		q0_bad(n, 6, fill_indirect_len);
		break;
	case DEMO_HOSTILE_READ_AFTER_WRITE:
		q0_bad(n, 7, fill_read_after_write);
		break;
	case DEMO_HOSTILE_ZERO_LEN:
		rep_buf(DEMO_HOSTILE_ID_BUF, 0);
		q0_bad(n, 10, fill_zero_len);
		break;
	case DEMO_HOSTILE_LEN_MAX:
		rep_buf(DEMO_HOSTILE_ID_BUF, 0xffffffff);
		q0_bad(n, 8, fill_len_max);
		break;
	case DEMO_HOSTILE_BUFFER_UNMAPPED:
		buffer_unmapped();
		break;
	case DEMO_HOSTILE_BUFFER_WRAPPING:
		rep_buf(0xfffffffffffff000ULL, 0x2000);
		q0_bad(n, 11, fill_wrapping);
		break;
	case DEMO_HOSTILE_AVAIL_JUMP:
		avail_jump();
		break;
	case DEMO_HOSTILE_USED_BACKWARDS:
		return used_backwards();
	case DEMO_HOSTILE_RING_STRADDLE:
		ring_straddle();
		break;
	case DEMO_HOSTILE_MISALIGNED:
		other_queue(n, &hq[4], DEMO_HQ4_DESC);
		break;
	case DEMO_HOSTILE_NOT_READY:
		other_queue(n, &hq[1], DEMO_HQ1_DESC);
		break;
	case DEMO_HOSTILE_NOTIFY_STORM:
		notify_storm();
		break;
	}
	return true;
}

bool hostile_busy(void)
{
	if (!wait_q)
		return false;
	if (*(volatile __virtio16 *)&wait_q->used->idx != wait_idx && --wait_ticks)
		return true;
	if (!wait_ticks)
		puts("demo guest: hostile: gave up waiting for a completion\n");
	wait_q = NULL;
	if (restore_hq2) {
		copy_bytes(DEMO_HQ2_DESC, DEMO_HOSTILE_SAVE_AREA, HQ2_BYTES);
		restore_hq2 = false;
	}
	return false;
}

bool hostile_step(uint32_t cycle)
{
	if (!have_hostile)
		return false;
	if (!round_active) {
		if (rounds && (!repeat || cycle - round_cycle < repeat))
			return false;
		round_active = true;
		round_cycle = cycle;
		next = 0;
		phase = 0;
	}
	while (next < DEMO_HOSTILE_COUNT && !(selected & 1u << next))
		next++;
	if (next == DEMO_HOSTILE_COUNT) {
		round_active = false;
		rounds++;
		puts("demo guest: hostile round done\n");
		outl(DEMO_PIO_H_DONE, rounds);
		return false;
	}
	if (run(next)) {
		next++;
		phase = 0;
	} else {
		phase++;
	}
	return true;
}

void hostile_init(bool pci)
{
	struct virtio_blk_outhdr *hdr = (struct virtio_blk_outhdr *)(uintptr_t)DEMO_HOSTILE_HDR_BUF;

	selected = inl(DEMO_PIO_HOSTILE);
	repeat = inl(DEMO_PIO_HOSTILE_REPEAT);
	if (!selected)
		return;
	if ((pci ? vdev_init_pci(&hdev, pci_find(DEMO_PCI_SLOT_HOSTILE), VIRTIO_ID_BLOCK, 0) :
		   vdev_init(&hdev, DEMO_VIRTIO_HOSTILE_BASE, VIRTIO_ID_BLOCK, 0)) ||
	    virtq_setup_at(&hq[0], &hdev, 0, DEMO_HQ_NUM, DEMO_HQ0_DESC, DEMO_HQ0_DRIVER,
			   DEMO_HQ0_DEVICE, true) ||
	    virtq_setup_at(&hq[1], &hdev, 1, DEMO_HQ_NUM, DEMO_HQ1_DESC, DEMO_HQ1_DRIVER,
			   DEMO_HQ1_DEVICE, false) ||
	    virtq_setup_at(&hq[2], &hdev, 2, DEMO_HQ_NUM, DEMO_HQ2_DESC, DEMO_HQ2_DRIVER,
			   DEMO_HQ2_DEVICE, true) ||
	    virtq_setup_at(&hq[3], &hdev, 3, DEMO_HQ_NUM, DEMO_HQ3_DESC, DEMO_HQ3_DRIVER,
			   DEMO_HQ3_DEVICE, true) ||
	    virtq_setup_at(&hq[4], &hdev, 4, DEMO_HQ_NUM, DEMO_HQ4_DESC, DEMO_HQ4_DRIVER,
			   DEMO_HQ4_DEVICE, true)) {
		puts("demo guest: no hostile device, no hostile scenarios\n");
		return;
	}
	hdr->type = VIRTIO_BLK_T_GET_ID;
	hdr->ioprio = 0;
	hdr->sector = 0;
	vdev_driver_ok(&hdev);
	have_hostile = true;
	puts("demo guest: hostile device ready\n");
}

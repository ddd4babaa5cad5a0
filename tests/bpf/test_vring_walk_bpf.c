// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The chain walk compiled into BPF (bpf/accessor_selftest.bpf.c, the tracer's cap) against
 * libgma's one-shot decoder (gma_ring_read, what gma-trace ring prints) on the same hostile
 * rings: every chain gets the same buffers, the same indirect table and the same anomaly
 * bits from both, or, where the BPF cap cut it, the same first buffers. The rings are the
 * fuzz corpus of the ring decoder (tests/fuzz/corpus/ring, read relative to the repository
 * root, the cwd of make bpf-test and of the vmtest VM, whose initramfs ships it at /gma) and
 * thousands generated here with every field biased towards the rules' edges.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include <gma/gma.h>
#include <gma/virtio.h>
#include "vring_walk.h"

#include "accessor_selftest.h"
#include "accessor_selftest.skel.h"
#include "walk_compare.h"

#define GUEST 0x10000

static struct accessor_selftest_bpf *skel;
static __u8 guest[GUEST];
static struct gma_region regions[3];

/* The fuzz target's layout: 0x0-0x8000 in two regions, a hole, 0xa000-0x10000. */
static void setup(void)
{
	regions[0] = (struct gma_region){ 0x0, 0x6000, (__u64)(uintptr_t)guest + 0xa000 };
	regions[1] = (struct gma_region){ 0x6000, 0x2000, (__u64)(uintptr_t)guest };
	regions[2] = (struct gma_region){ 0xa000, 0x6000, (__u64)(uintptr_t)guest + 0x2000 };
	skel = accessor_selftest_bpf__open_and_load();
	cr_assert(skel, "load accessor_selftest (verifier rejected the walk?): %s",
		  strerror(errno));
	skel->bss->target_pid_tgid = ((__u64)getpid() << 32) | (__u32)gettid();
	for (int i = 0; i < 3; i++) {
		skel->bss->regions[i].gpa = regions[i].gpa;
		skel->bss->regions[i].size = regions[i].size;
		skel->bss->regions[i].hva = regions[i].addr;
	}
	skel->bss->nr_regions = 3;
	cr_assert_eq(accessor_selftest_bpf__attach(skel), 0, "attach tp_btf/sys_enter");
}

static void teardown(void)
{
	accessor_selftest_bpf__destroy(skel);
}

TestSuite(bpf_walk, .init = setup, .fini = teardown, .timeout = 120);

static struct selftest_walk *bpf_walk(__u64 desc, __u32 num, __u32 head)
{
	struct selftest_req *req = &skel->bss->req;

	req->op = SELFTEST_WALK_CHAIN;
	req->gpa = desc;
	req->len = num;
	req->head = head;
	__atomic_store_n(&req->seq, req->seq + 1, __ATOMIC_SEQ_CST);
	syscall(SYS_getppid);
	cr_assert_eq(skel->bss->resp.seq, req->seq, "BPF program did not run");
	cr_assert_eq(skel->bss->resp.err, 0);
	return &skel->bss->walk;
}

struct tally {
	size_t rings, chains, truncated, with_anomalies;
	__u32 bits; /* every anomaly bit seen */
};

/* Decodes the guest's ring both ways and compares chain by chain. */
static void compare(const struct gma_queue_layout *q, const char *what, struct tally *t)
{
	GMA_OPTS(gma_ring_read_opts, opts, .snap_len = 1, .max_chains = 16);
	struct gma_mem *mem = gma_mem_new_local(regions, 3);
	struct gma_ring *ring;

	cr_assert(mem);
	cr_assert_eq(gma_ring_read(mem, q, &opts, &ring), 0);
	t->rings++;
	for (__u32 i = 0; i < ring->nr_chains; i++) {
		const struct gma_chain *c = gma_ring_chain(ring, i);
		struct selftest_walk *w = bpf_walk(q->desc, q->num, c->head);
		bool cut = w->anomalies & GMA_ANOM_CHAIN_TRUNCATED;
		char why[256];

		t->chains++;
		t->truncated += cut;
		t->with_anomalies += !!c->anomalies;
		t->bits |= c->anomalies | w->anomalies;
		cr_assert_null(walk_differs(c, w, why, sizeof(why)), "%s chain %u (head %u): %s",
			       what, i, c->head, why);
	}
	gma_ring_free(ring);
	gma_mem_free(mem);
}

/* xorshift64: the same hostile rings on every run. */
static __u64 rnd(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A value near one of the rules' edges, or anything. */
static __u64 pick(__u64 *s, const __u64 *edges, size_t n)
{
	__u64 r = rnd(s);

	return r % 4 ? edges[(r >> 8) % n] : rnd(s);
}

static void put_desc(__u64 gpa, __u64 addr, __u32 len, __u16 flags, __u16 next)
{
	struct gma_vring_desc d = { addr, len, flags, next };
	struct gma_mem *mem = gma_mem_new_local(regions, 3);

	gma_mem_write_obj(mem, gpa, &d, sizeof(d)); /* a table in the hole stays unwritten */
	gma_mem_free(mem);
}

/*
 * A chain the spec allows, of a length around the caps (the BPF walk's 64 descriptors, the
 * queue size), direct or through an indirect table, at avail slot 0.
 */
static void well_formed_chain(struct gma_mem *mem, struct gma_queue_layout *q, __u64 *seed)
{
	static const __u64 lengths[] = { 1, 3, 16, 63, 64, 65, 100 };
	__u32 len = pick(seed, lengths, 7) % 128, head = 0;
	bool indirect = rnd(seed) % 2;
	__u64 table = indirect ? 0x3000 : q->desc;

	if (!len)
		len = 1;
	if (!indirect && q->num < len)
		q->num = 128; /* the direct chain fits its queue */
	if (!indirect)
		q->desc = 0x1000;
	table = indirect ? 0x3000 : q->desc;
	for (__u32 i = 0; i < len; i++)
		put_desc(table + (__u64)i * 16, 0xa000 + i * 64, 64,
			 (i + 1 < len ? GMA_VRING_DESC_F_NEXT : 0) |
				 (i >= len / 2 ? GMA_VRING_DESC_F_WRITE : 0),
			 i + 1);
	if (indirect)
		put_desc(q->desc, 0x3000, len * 16, GMA_VRING_DESC_F_INDIRECT, 0);
	gma_mem_write_obj(mem, q->driver + gma_vring_avail_entry_off(0), &head, 2);
}

Test(bpf_walk, generated_hostile_rings_get_the_same_verdict)
{
	static const __u64 nums[] = { 1, 2, 4, 8, 16, 64, 128, 1024, 2048, 300 };
	static const __u64 tables[] = { 0x1000, 0x7ff0, 0x7ff8, 0x9ff0, 0xfff0, 0x10000, 0x5ff8 };
	static const __u64 addrs[] = { 0x2000, 0x7fff,	0x8000,	   0x9fff, 0xa000,
				       0xfffc, 0x10000, ~0ULL - 3, 0 };
	static const __u64 lens[] = { 0, 1, 8, 16, 17, 32, 48, 64, 0x4000, 0xffffffff };
	struct tally t = {};
	__u64 seed = 0x9e3779b97f4a7c15ULL;

	for (int it = 0; it < 1500; it++) {
		struct gma_queue_layout q = {
			.num = pick(&seed, nums, 10),
			.desc = pick(&seed, tables, 7) & 0xffff0,
			.driver = 0xc000,
			.device = 0xd000,
		};
		__u16 idx[2] = { 0, (__u16)(1 + rnd(&seed) % 8) };
		struct gma_mem *mem = gma_mem_new_local(regions, 3);
		char what[64];

		cr_assert(mem);
		memset(guest, 0, sizeof(guest));
		if (q.num > 256)
			q.desc = 0x1000; /* a big table where it fits before the hole */
		/* descriptors of the queue's table and of the tables they may point at */
		for (int n = 0; n < 24; n++) {
			__u64 at = rnd(&seed) % 3 ? q.desc + (rnd(&seed) % 8) * 16 :
						    pick(&seed, addrs, 9) & ~15ULL;
			__u16 flags = rnd(&seed) % 8;
			__u16 next = rnd(&seed) % 4 ? rnd(&seed) % 8 : rnd(&seed);

			put_desc(at, pick(&seed, addrs, 9), pick(&seed, lens, 10), flags, next);
		}
		for (__u16 h = 0; h < idx[1]; h++) {
			__u16 head = rnd(&seed) % 4 ? rnd(&seed) % 8 : rnd(&seed);

			gma_mem_write_obj(mem, q.driver + gma_vring_avail_entry_off(h % q.num),
					  &head, 2);
		}
		if (it % 3 == 0)
			well_formed_chain(mem, &q, &seed);
		gma_mem_write_obj(mem, q.driver + GMA_VRING_AVAIL_IDX_OFF, &idx[1], 2);
		gma_mem_write_obj(mem, q.device + GMA_VRING_USED_IDX_OFF, &idx[0], 2);
		gma_mem_free(mem);
		snprintf(what, sizeof(what), "ring %d (num %u, desc 0x%llx)", it, q.num,
			 (unsigned long long)q.desc);
		compare(&q, what, &t);
	}
	cr_log_info("%zu rings, %zu chains, %zu with anomalies, %zu cut by the BPF cap, bits 0x%x",
		    t.rings, t.chains, t.with_anomalies, t.truncated, t.bits);
	cr_assert_gt(t.chains - t.with_anomalies, 300, "too few well-formed chains");
	/* the generator reaches every rule of the walk */
	cr_assert_eq(
		t.bits & (GMA_ANOM_DESC_OUT_OF_RANGE | GMA_ANOM_CHAIN_LOOP |
			  GMA_ANOM_NESTED_INDIRECT | GMA_ANOM_INDIRECT_LEN |
			  GMA_ANOM_READ_AFTER_WRITE | GMA_ANOM_BUFFER_UNMAPPED |
			  GMA_ANOM_RING_UNREADABLE | GMA_ANOM_ZERO_LEN | GMA_ANOM_INDIRECT_NEXT |
			  GMA_ANOM_CHAIN_TOO_LONG | GMA_ANOM_CHAIN_TRUNCATED),
		GMA_ANOM_DESC_OUT_OF_RANGE | GMA_ANOM_CHAIN_LOOP | GMA_ANOM_NESTED_INDIRECT |
			GMA_ANOM_INDIRECT_LEN | GMA_ANOM_READ_AFTER_WRITE |
			GMA_ANOM_BUFFER_UNMAPPED | GMA_ANOM_RING_UNREADABLE | GMA_ANOM_ZERO_LEN |
			GMA_ANOM_INDIRECT_NEXT | GMA_ANOM_CHAIN_TOO_LONG | GMA_ANOM_CHAIN_TRUNCATED,
		"rules never reached: bits seen 0x%x", t.bits);
}

/* The fuzz target's input: a 32-byte header (layout, flags), then guest memory. */
static bool load_fuzz_input(const char *path, struct gma_queue_layout *q)
{
	__u8 hdr[32] = { 0 };
	FILE *f = fopen(path, "rb");
	size_t n;

	cr_assert(f, "%s: %s", path, strerror(errno));
	n = fread(hdr, 1, sizeof(hdr), f);
	memset(guest, 0, sizeof(guest));
	if (n == sizeof(hdr))
		n = fread(guest, 1, sizeof(guest), f);
	fclose(f);
	memcpy(&q->desc, hdr, 8);
	memcpy(&q->driver, hdr + 8, 8);
	memcpy(&q->device, hdr + 16, 8);
	q->desc &= hdr[30] & 1 ? ~0ULL : 0xffff;
	q->driver &= hdr[30] & 2 ? ~0ULL : 0xffff;
	q->device &= hdr[30] & 4 ? ~0ULL : 0xffff;
	q->num = (hdr[24] | hdr[25] << 8) % (hdr[30] & 8 ? 70000 : 300);
	q->flags = hdr[26] & GMA_QUEUE_LEGACY; /* packed rings are not walked */
	return true;
}

/*
 * The corpus is part of the test, not an option: without it this test fails (a skip would let
 * a run that never compared it pass). It prints one line, VRING-WALK-CORPUS inputs=N ..., which
 * tools/vmtest/run.sh shows per kernel and checks against the corpus in the tree.
 */
Test(bpf_walk, fuzz_corpus_rings_get_the_same_verdict)
{
	static const char dir_path[] = "tests/fuzz/corpus/ring";
	struct tally t = {};
	struct dirent *e;
	DIR *dir = opendir(dir_path);
	char path[512], cwd[256];
	size_t inputs = 0;

	cr_assert(dir,
		  "%s: %s (cwd %s): the corpus must be there; run the test from the repository "
		  "root (make bpf-test), or ship the corpus (tools/vmtest/build-initramfs.sh)",
		  dir_path, strerror(errno), getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	while ((e = readdir(dir))) {
		struct gma_queue_layout q;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_path, e->d_name);
		if (load_fuzz_input(path, &q))
			compare(&q, path, &t);
		inputs++;
	}
	closedir(dir);
	cr_log_info("%zu corpus rings, %zu chains, %zu with anomalies, %zu cut by the BPF cap",
		    t.rings, t.chains, t.with_anomalies, t.truncated);
	printf("VRING-WALK-CORPUS inputs=%zu rings=%zu chains=%zu anomalies=%zu cut=%zu dir=%s\n",
	       inputs, t.rings, t.chains, t.with_anomalies, t.truncated, dir_path);
	fflush(stdout);
	cr_assert_gt(inputs, 0, "%s holds no input", dir_path);
	cr_assert_eq(t.rings, inputs, "%zu of %zu corpus inputs compared", t.rings, inputs);
	cr_assert_gt(t.chains, 100, "the corpus walks few chains: %zu", t.chains);
}

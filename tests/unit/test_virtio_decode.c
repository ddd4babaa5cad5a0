// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Device decoders and names: exact strings for well-formed input, "truncated" / "bad-len"
 * for short or inconsistent input, and no read past the input for garbage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <linux/virtio_ring.h>

#include <gma/virtio.h>

#include "gma_print.h" /* gma-trace's formats of what the decoders give */

/* --- frames ------------------------------------------------------------------------------- */

struct frame {
	__u8 b[256];
	size_t len;
};

static void put(struct frame *f, const void *p, size_t n)
{
	cr_assert(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put8(struct frame *f, __u8 v)
{
	put(f, &v, 1);
}

static void put16(struct frame *f, __u16 v)
{
	put8(f, v >> 8);
	put8(f, v & 0xff);
}

static void put32(struct frame *f, __u32 v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static const __u8 mac_src[] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const __u8 mac_bcast[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 ip_a[] = { 10, 0, 0, 2 }, ip_b[] = { 10, 0, 0, 1 };

static void eth(struct frame *f, __u16 type)
{
	f->len = 0;
	put(f, mac_bcast, 6);
	put(f, mac_src, 6);
	put16(f, type);
}

/* An IPv4 header with ihl_words 32-bit words (options zero-filled). */
static void ipv4(struct frame *f, __u8 proto, __u16 payload, __u16 frag, int ihl_words)
{
	put8(f, 0x40 | ihl_words);
	put8(f, 0);
	put16(f, ihl_words * 4 + payload);
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, ip_a, 4);
	put(f, ip_b, 4);
	for (int i = 5; i < ihl_words; i++)
		put32(f, 0x01010101);
}

static void udp(struct frame *f, __u16 sport, __u16 dport, __u16 payload)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 8 + payload);
	put16(f, 0);
	for (__u16 i = 0; i < payload; i++)
		put8(f, 'a' + i % 26);
}

static void expect_summary(const struct frame *f, size_t len, const char *want)
{
	char got[512];
	int n = gma_frame_summary(f->b, len, got, sizeof(got));

	cr_assert_str_eq(got, want);
	cr_assert_eq(n, (int)strlen(want));
}

#define PFX "52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff"

Test(frame, ipv4_udp)
{
	struct frame f;

	eth(&f, 0x0800);
	ipv4(&f, 17, 8 + 19, 0, 5);
	udp(&f, 1234, 5678, 19);
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 UDP 1234 > 5678 len 19");
	/* cut inside the UDP header, inside the IP header, inside the Ethernet header */
	expect_summary(&f, 14 + 20 + 4, PFX " IPv4 10.0.0.2 > 10.0.0.1 UDP truncated");
	expect_summary(&f, 14 + 19, PFX " IPv4 truncated");
	expect_summary(&f, 13, "truncated ethernet (13 bytes)");
	/* cut in the payload: the header is whole, the length is the header's */
	expect_summary(&f, 14 + 20 + 8 + 2, PFX " IPv4 10.0.0.2 > 10.0.0.1 UDP 1234 > 5678 len 19");
}

Test(frame, ipv4_options_and_fragments)
{
	struct frame f;

	eth(&f, 0x0800);
	ipv4(&f, 17, 8 + 3, 0, 7);
	udp(&f, 53, 4000, 3);
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 options 8 UDP 53 > 4000 len 3");
	expect_summary(&f, 14 + 24, PFX " IPv4 10.0.0.2 > 10.0.0.1 options 8 truncated");

	eth(&f, 0x0800);
	ipv4(&f, 17, 8 + 3, 0x2000, 5); /* first fragment, more to come */
	udp(&f, 53, 4000, 3);
	expect_summary(&f, f.len,
		       PFX " IPv4 10.0.0.2 > 10.0.0.1 frag id 4660 off 0+ UDP 53 > 4000 len 3");
	eth(&f, 0x0800);
	ipv4(&f, 17, 100, 185, 5); /* last fragment at 1480: no transport header */
	expect_summary(&f, f.len,
		       PFX " IPv4 10.0.0.2 > 10.0.0.1 frag id 4660 off 1480 proto 17 len 100");
}

Test(frame, vlan_and_qinq)
{
	struct frame f;

	eth(&f, 0x8100);
	put16(&f, 0x2064); /* pri 1, vid 100 */
	put16(&f, 0x0800);
	ipv4(&f, 17, 8, 0, 5);
	udp(&f, 1, 2, 0);
	expect_summary(&f, f.len, PFX " vlan 100 pri 1 IPv4 10.0.0.2 > 10.0.0.1 UDP 1 > 2 len 0");
	expect_summary(&f, 16, PFX " vlan truncated");

	eth(&f, 0x88a8);
	put16(&f, 0x0005);
	put16(&f, 0x8100);
	put16(&f, 0xe00a);
	put16(&f, 0x88cc);
	put32(&f, 0);
	expect_summary(&f, f.len, PFX " vlan 5 pri 0 vlan 10 pri 7 ethertype 0x88cc len 4");
}

Test(frame, arp)
{
	struct frame f;

	eth(&f, 0x0806);
	put16(&f, 1);
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 1);
	put(&f, mac_src, 6);
	put(&f, ip_a, 4);
	put(&f, (__u8[6]){ 0 }, 6);
	put(&f, ip_b, 4);
	expect_summary(&f, f.len, PFX " ARP who-has 10.0.0.1 tell 10.0.0.2");
	f.b[14 + 7] = 2;
	expect_summary(&f, f.len, PFX " ARP reply 10.0.0.2 is-at 52:54:00:12:34:56");
	expect_summary(&f, 14 + 27, PFX " ARP truncated");
	f.b[14 + 1] = 6; /* hardware type 6 */
	expect_summary(&f, f.len, PFX " ARP hrd 6 pro 0x0800 op 2");
}

Test(frame, tcp_flags)
{
	struct frame f;

	eth(&f, 0x0800);
	ipv4(&f, 6, 20 + 5, 0x4000, 5);
	put16(&f, 80);
	put16(&f, 40000);
	put32(&f, 1000);
	put32(&f, 2001);
	put8(&f, 5 << 4);
	put8(&f, 0x12); /* SYN ACK */
	put16(&f, 64240);
	put32(&f, 0);
	put(&f, "hello", 5);
	expect_summary(&f, f.len,
		       PFX " IPv4 10.0.0.2 > 10.0.0.1 TCP 80 > 40000 [S.] seq 1000 ack 2001 "
			   "win 64240 len 5");
	f.b[14 + 20 + 13] = 0x19; /* FIN PSH ACK */
	expect_summary(&f, f.len,
		       PFX " IPv4 10.0.0.2 > 10.0.0.1 TCP 80 > 40000 [FP.] seq 1000 ack 2001 "
			   "win 64240 len 5");
	f.b[14 + 20 + 13] = 0x04; /* RST, no ACK: no ack number */
	f.b[14 + 20 + 12] = 15 << 4; /* data offset 60 > the 25-byte payload */
	expect_summary(&f, f.len,
		       PFX " IPv4 10.0.0.2 > 10.0.0.1 TCP 80 > 40000 [R] seq 1000 win 64240 "
			   "bad-len");
	expect_summary(&f, 14 + 20 + 19, PFX " IPv4 10.0.0.2 > 10.0.0.1 TCP truncated");
}

Test(frame, icmp)
{
	struct frame f;

	eth(&f, 0x0800);
	ipv4(&f, 1, 8, 0, 5);
	put8(&f, 8);
	put8(&f, 0);
	put16(&f, 0);
	put16(&f, 7);
	put16(&f, 1);
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 ICMP echo request id 7 seq 1");
	expect_summary(&f, f.len - 2, PFX " IPv4 10.0.0.2 > 10.0.0.1 ICMP echo request truncated");
	f.b[34] = 3;
	f.b[35] = 1;
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 ICMP unreachable code 1");
}

static void ipv6(struct frame *f, __u8 nh, __u16 plen)
{
	static const __u8 src[16] = { 0xfe, 0x80, [15] = 1 };
	static const __u8 dst[16] = { 0xff, 0x02, [15] = 1 };

	put32(f, 0x60000000);
	put16(f, plen);
	put8(f, nh);
	put8(f, 255);
	put(f, src, 16);
	put(f, dst, 16);
}

Test(frame, ipv6_icmpv6_and_extension_headers)
{
	struct frame f;

	eth(&f, 0x86dd);
	ipv6(&f, 58, 8);
	put8(&f, 128);
	put8(&f, 0);
	put16(&f, 0);
	put16(&f, 9);
	put16(&f, 3);
	expect_summary(&f, f.len, PFX " IPv6 fe80::1 > ff02::1 ICMPv6 echo request id 9 seq 3");
	expect_summary(&f, 14 + 39, PFX " IPv6 truncated");

	eth(&f, 0x86dd);
	ipv6(&f, 0, 8 + 24); /* hop-by-hop, then a neighbor solicitation */
	put8(&f, 58);
	put8(&f, 0);
	put(&f, (__u8[6]){ 0 }, 6);
	put8(&f, 135);
	put8(&f, 0);
	put16(&f, 0);
	put32(&f, 0);
	put(&f, (__u8[16]){ 0xfe, 0x80, [15] = 2 }, 16);
	expect_summary(&f, f.len,
		       PFX " IPv6 fe80::1 > ff02::1 ICMPv6 neighbor solicitation fe80::2");
	expect_summary(&f, 14 + 44, PFX " IPv6 fe80::1 > ff02::1 truncated");
	f.b[14 + 41] = 200; /* extension length past the payload */
	expect_summary(&f, f.len, PFX " IPv6 fe80::1 > ff02::1 bad-len");

	eth(&f, 0x86dd);
	ipv6(&f, 17, 8 + 2);
	udp(&f, 546, 547, 2);
	expect_summary(&f, f.len, PFX " IPv6 fe80::1 > ff02::1 UDP 546 > 547 len 2");
}

Test(frame, garbage)
{
	struct frame f;
	char small[16];

	eth(&f, 0x0800);
	ipv4(&f, 17, 8, 0, 5);
	udp(&f, 1, 2, 0);
	f.b[14] = 0x55; /* version 5 */
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 bad-header");
	f.b[14] = 0x45;
	f.b[16] = 0;
	f.b[17] = 10; /* total length below the header's */
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 bad-header");
	f.b[17] = 28;
	f.b[14 + 20 + 5] = 200; /* UDP length past the IP payload */
	expect_summary(&f, f.len, PFX " IPv4 10.0.0.2 > 10.0.0.1 UDP 1 > 2 bad-len 200");
	eth(&f, 0x0033);
	expect_summary(&f, f.len, PFX " 802.3 len 51");
	expect_summary(&f, 0, "truncated ethernet (0 bytes)");
	/* truncation of the output itself: snprintf semantics */
	eth(&f, 0x88cc);
	cr_assert_eq(gma_frame_summary(f.b, f.len, small, sizeof(small)),
		     (int)strlen(PFX " ethertype 0x88cc len 0"));
	cr_assert_str_eq(small, "52:54:00:12:34:");
	cr_assert_eq(gma_frame_summary(f.b, f.len, NULL, 0),
		     (int)strlen(PFX " ethertype 0x88cc len 0"));
}

/* Random frames, many lengths: the summary is bounded and never reads past len. */
Test(frame, random_bytes_never_overrun)
{
	unsigned int seed = 12345;
	char out[512];

	for (int it = 0; it < 20000; it++) {
		size_t len = rand_r(&seed) % 120;
		__u8 *p = malloc(len ? len : 1);
		int n;

		cr_assert(p);
		for (size_t i = 0; i < len; i++)
			p[i] = rand_r(&seed);
		if (len > 13 && it % 3 == 0) {
			static const __u16 types[] = { 0x0800, 0x86dd, 0x0806, 0x8100 };

			p[12] = types[it % 4] >> 8;
			p[13] = types[it % 4] & 0xff;
			if (len > 14 && p[12] == 0x08 && p[13] == 0)
				p[14] = 0x40 | (p[14] & 0xf);
		}
		n = gma_frame_summary(p, len, out, sizeof(out));
		cr_assert(n > 0 && (size_t)n == strlen(out), "it %d", it);
		free(p);
	}
}

/* --- virtio-net header -------------------------------------------------------------------- */

Test(net, header_v1_and_legacy)
{
	const __u8 raw[12] = { 1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0, 1, 0 };
	GMA_OPTS(gma_net_hdr, h);
	char line[160];

	cr_assert_eq(gma_net_hdr_len(true, false), 12);
	cr_assert_eq(gma_net_hdr_len(false, true), 12);
	cr_assert_eq(gma_net_hdr_len(false, false), 10);
	cr_assert_eq(gma_net_hdr_parse(raw, 12, 12, &h), 0);
	cr_assert_eq(h.sz, sizeof(h), "the caller's sz is kept");
	cr_assert_eq(h.flags, 1);
	cr_assert_eq(h.gso_type, 1);
	cr_assert_eq(h.hdr_len, 54);
	cr_assert_eq(h.gso_size, 1448);
	cr_assert_eq(h.csum_start, 34);
	cr_assert_eq(h.csum_offset, 16);
	cr_assert_eq(h.num_buffers, 1);
	gma_net_hdr_format(&h, line, sizeof(line));
	cr_assert_str_eq(
		line,
		"flags NEEDS_CSUM gso TCPV4 hdr_len 54 gso_size 1448 csum 34+16 num_buffers 1");
	cr_assert_eq(gma_net_hdr_parse(raw, 12, 10, &h), 0);
	cr_assert_eq(h.num_buffers, 0);
	cr_assert_eq(gma_net_hdr_parse(raw, 11, 12, &h), -ENODATA);
	cr_assert_eq(gma_net_hdr_parse(raw, 12, 11, &h), -EINVAL);
	h.sz = 0; /* not declared with GMA_OPTS */
	cr_assert_eq(gma_net_hdr_parse(raw, 12, 12, &h), -EINVAL);
	h = (struct gma_net_hdr){ .sz = sizeof(h), .flags = 0x0a, .gso_type = 0x84 };
	gma_net_hdr_format(&h, line, sizeof(line));
	cr_assert_str_eq(
		line,
		"flags DATA_VALID|0x8 gso TCPV6|ECN hdr_len 0 gso_size 0 csum 0+0 num_buffers 0");
}

/* A chain of n descriptors for the decoders, as libgma hands one out. */
static struct gma_chain chain_of(const struct gma_chain_desc *d, __u32 n)
{
	return (struct gma_chain){ .sz = sizeof(struct gma_chain),
				   .nr_descs = n,
				   .nr_walked = n,
				   .desc_sz = sizeof(*d),
				   .descs = d };
}

/* A TX chain: header in one buffer, frame in the next; gathered and summarised. */
Test(net, chain_gather_then_summary)
{
	struct frame f;
	__u8 hdr[12] = { 0 }, all[256], st0[12] = { 0 }, st1[256] = { 0 };
	struct gma_chain_desc d[2] = {
		{ .len = 12, .nbytes = 12, .flags = VRING_DESC_F_NEXT, .bytes = hdr, .state = st0 },
		{ .len = 0, .nbytes = 0, .state = st1 },
	};
	struct gma_chain c = chain_of(d, 2);
	GMA_OPTS(gma_net_hdr, h);
	char line[200];
	size_t n;

	eth(&f, 0x0800);
	ipv4(&f, 17, 8 + 19, 0, 5);
	udp(&f, 1234, 5678, 19);
	d[1].len = d[1].nbytes = f.len;
	d[1].bytes = f.b;
	n = gma_chain_gather(&c, false, all, sizeof(all));
	cr_assert_eq(n, 12 + f.len);
	cr_assert_eq(gma_net_hdr_parse(all, n, 12, &h), 0);
	gma_frame_summary(all + 12, n - 12, line, sizeof(line));
	cr_assert_str_eq(line, PFX " IPv4 10.0.0.2 > 10.0.0.1 UDP 1234 > 5678 len 19");
	/* a byte not read ends the gather there */
	st1[20] = GMA_BYTE_UNMAPPED;
	cr_assert_eq(gma_chain_gather(&c, false, all, sizeof(all)), 12 + 20);
	/* a buffer captured in part ends it after its captured bytes */
	st1[20] = GMA_BYTE_READ;
	d[0].len = 100;
	cr_assert_eq(gma_chain_gather(&c, false, all, sizeof(all)), 12);
	/* writable buffers only */
	cr_assert_eq(gma_chain_gather(&c, true, all, sizeof(all)), 0);
	cr_assert_eq(gma_chain_gather(&c, false, all, 5), 5);
	cr_assert_eq(gma_chain_gather(NULL, false, all, 5), 0);
}

/* --- virtio-blk --------------------------------------------------------------------------- */

Test(blk, decode_and_names)
{
	struct {
		__u32 type, ioprio;
		__u64 sector;
	} hdr = { 0, 3, 123456789 };
	__u8 data_buf[64] = { 0 }, status[1] = { 1 }, read[64] = { 0 };
	struct gma_chain_desc d[3] = {
		{ .len = 16, .nbytes = 16, .flags = VRING_DESC_F_NEXT, .bytes = (__u8 *)&hdr },
		{ .len = 512,
		  .nbytes = 64,
		  .flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		  .bytes = data_buf },
		{ .len = 1, .nbytes = 1, .flags = VRING_DESC_F_WRITE, .bytes = status },
	};
	struct gma_chain c = chain_of(d, 3), first2 = chain_of(d, 2);
	GMA_OPTS(gma_blk_req, req);
	char line[128];

	for (int i = 0; i < 3; i++)
		d[i].state = read; /* all GMA_BYTE_READ */
	cr_assert_eq(gma_blk_decode(&c, &req), 0);
	cr_assert_eq(req.type, 0);
	cr_assert_eq(req.ioprio, 3);
	cr_assert_eq(req.sector, 123456789);
	cr_assert_eq(req.data_len, 512);
	cr_assert(req.has_status);
	cr_assert_eq(req.status, 1);
	gma_blk_format(&req, line, sizeof(line));
	cr_assert_str_eq(line, "IN sector 123456789 len 512 ioprio 3 status IOERR");

	/* status inside a data buffer not captured to its end: unknown */
	cr_assert_eq(gma_blk_decode(&first2, &req), 0);
	cr_assert(!req.has_status);
	cr_assert_eq(req.data_len, 511);
	hdr.type = 99;
	hdr.ioprio = 0;
	gma_blk_format(&req, line, sizeof(line));
	cr_assert_str_eq(line, "IN sector 123456789 len 511 ioprio 3");
	cr_assert_eq(gma_blk_decode(&c, &req), 0);
	gma_blk_format(&req, line, sizeof(line));
	cr_assert_str_eq(line, "type 99 sector 123456789 len 512 status IOERR");
	hdr.type = 0x80000001;
	cr_assert_eq(gma_blk_decode(&c, &req), 0);
	gma_blk_format(&req, line, sizeof(line));
	cr_assert_str_eq(line, "OUT|BARRIER sector 123456789 len 512 status IOERR");
	/* a status byte not read is no status */
	status[0] = 0;
	d[2].state = (const __u8[]){ GMA_BYTE_FAULT };
	cr_assert_eq(gma_blk_decode(&c, &req), 0);
	cr_assert(!req.has_status);

	/* a header cut short */
	d[0].len = d[0].nbytes = 10;
	cr_assert_eq(gma_blk_decode(&c, &req), -ENODATA);
	cr_assert_eq(gma_blk_decode(NULL, &req), -EINVAL);
	req.sz = 0;
	cr_assert_eq(gma_blk_decode(&c, &req), -EINVAL, "an out struct without its size");

	cr_assert_str_eq(gma_blk_type_name(1), "OUT");
	cr_assert_str_eq(gma_blk_type_name(4), "FLUSH");
	cr_assert_str_eq(gma_blk_type_name(8), "GET_ID");
	cr_assert_str_eq(gma_blk_type_name(11), "DISCARD");
	cr_assert_str_eq(gma_blk_type_name(13), "WRITE_ZEROES");
	cr_assert_null(gma_blk_type_name(99));
	cr_assert_str_eq(gma_blk_status_name(0), "OK");
	cr_assert_str_eq(gma_blk_status_name(2), "UNSUPP");
	cr_assert_null(gma_blk_status_name(200));
}

/* --- console, names ----------------------------------------------------------------------- */

Test(console, escaping)
{
	const __u8 in[] = { 'h', 'i', '\n', 0x01, '\\', 0xff, '\t', '\r', '~' };
	char out[64];

	cr_assert_eq(gma_console_text(in, sizeof(in), out, sizeof(out)), 19);
	cr_assert_str_eq(out, "hi\\n\\x01\\\\\\xff\\t\\r~");
	/* never half an escape */
	cr_assert_eq(gma_console_text(in, sizeof(in), out, 4), 19);
	cr_assert_str_eq(out, "hi");
	cr_assert_eq(gma_console_text(in, sizeof(in), out, 5), 19);
	cr_assert_str_eq(out, "hi\\n");
	cr_assert_eq(gma_console_text(in, 0, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(gma_console_text(in, sizeof(in), NULL, 0), 19);
}

Test(names, devices_and_anomalies)
{
	char buf[256];

	cr_assert_str_eq(gma_virtio_device_name(1), "virtio-net");
	cr_assert_str_eq(gma_virtio_device_name(2), "virtio-blk");
	cr_assert_str_eq(gma_virtio_device_name(3), "virtio-console");
	cr_assert_null(gma_virtio_device_name(0));
	cr_assert_null(gma_virtio_device_name(1000));

	for (int b = 0; b < GMA_ANOM_NR_BITS; b++) {
		const char *name = gma_anomaly_name(1u << b);

		cr_assert_not_null(name, "bit %d", b);
		cr_assert_not_null(gma_anomaly_reason(1u << b), "bit %d", b);
		for (int k = 0; k < b; k++)
			cr_assert_str_neq(name, gma_anomaly_name(1u << k));
	}
	cr_assert_str_eq(gma_anomaly_name(GMA_ANOM_CHAIN_LOOP), "chain_loop");
	cr_assert_str_eq(gma_anomaly_reason(GMA_ANOM_INDIRECT_LEN),
			 "an indirect table's length is 0 or not a multiple of 16 bytes");
	cr_assert_null(gma_anomaly_name(0));
	cr_assert_null(gma_anomaly_name(1u << GMA_ANOM_NR_BITS));
	cr_assert_null(gma_anomaly_name(GMA_ANOM_CHAIN_LOOP | GMA_ANOM_ZERO_LEN));

	cr_assert_eq(gma_anomaly_format(GMA_ANOM_ZERO_LEN | GMA_ANOM_CHAIN_LOOP | 1u << 31, buf,
					sizeof(buf)),
		     (int)strlen("chain_loop,zero_len,0x80000000"));
	cr_assert_str_eq(buf, "chain_loop,zero_len,0x80000000");
	gma_anomaly_format(0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	gma_anomaly_format(GMA_ANOM_PACKED | GMA_ANOM_DESC_OUT_OF_RANGE, buf, 10);
	cr_assert_str_eq(buf, "desc_out_");
}

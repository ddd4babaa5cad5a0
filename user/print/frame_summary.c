// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One line per Ethernet frame, as gma-trace shows a virtio-net chain: addresses, VLAN tags,
 * ARP, IPv4, IPv6, UDP, TCP, ICMP. The frame is guest data: every header is read only once
 * the bytes holding it were captured, and a header cut short says "truncated".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/icmp.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "gma_print.h"
#include "strbuf.h"

static __u16 get16be(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 get32be(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static void put_mac(struct out *o, const __u8 *m)
{
	out_printf(o, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void put_ip4(struct out *o, const __u8 *a)
{
	out_printf(o, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

static void put_ip6(struct out *o, const __u8 *a)
{
	char s[INET6_ADDRSTRLEN];

	if (inet_ntop(AF_INET6, a, s, sizeof(s)))
		out_printf(o, "%s", s);
	else
		out_printf(o, "?");
}

static void summary_udp(struct out *o, const __u8 *p, size_t cap, size_t plen)
{
	__u16 ulen;

	if (cap < sizeof(struct udphdr)) {
		out_printf(o, " UDP truncated");
		return;
	}
	ulen = get16be(p + offsetof(struct udphdr, len));
	out_printf(o, " UDP %u > %u", get16be(p), get16be(p + 2));
	if (ulen < sizeof(struct udphdr) || ulen > plen)
		out_printf(o, " bad-len %u", ulen);
	else
		out_printf(o, " len %zu", ulen - sizeof(struct udphdr));
}

static void summary_tcp(struct out *o, const __u8 *p, size_t cap, size_t plen)
{
	static const struct {
		__u8 bit;
		char c;
	} fl[] = { { 0x02, 'S' }, { 0x01, 'F' }, { 0x04, 'R' }, { 0x08, 'P' },
		   { 0x20, 'U' }, { 0x40, 'E' }, { 0x80, 'W' }, { 0x10, '.' } };
	char flags[9];
	size_t doff, k = 0;
	__u8 f;

	if (cap < sizeof(struct tcphdr)) {
		out_printf(o, " TCP truncated");
		return;
	}
	f = p[13];
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		if (f & fl[i].bit)
			flags[k++] = fl[i].c;
	flags[k] = '\0';
	doff = (size_t)(p[12] >> 4) * 4;
	out_printf(o, " TCP %u > %u [%s] seq %u", get16be(p), get16be(p + 2), flags,
		   get32be(p + 4));
	if (f & 0x10)
		out_printf(o, " ack %u", get32be(p + 8));
	out_printf(o, " win %u", get16be(p + 14));
	if (doff < sizeof(struct tcphdr) || doff > plen)
		out_printf(o, " bad-len");
	else
		out_printf(o, " len %zu", plen - doff);
}

static void summary_icmp(struct out *o, const __u8 *p, size_t cap)
{
	if (cap < 4) {
		out_printf(o, " ICMP truncated");
		return;
	}
	switch (p[0]) {
	case ICMP_ECHO:
	case ICMP_ECHOREPLY:
		out_printf(o, " ICMP echo %s", p[0] == ICMP_ECHO ? "request" : "reply");
		if (cap >= 8)
			out_printf(o, " id %u seq %u", get16be(p + 4), get16be(p + 6));
		else
			out_printf(o, " truncated");
		return;
	case ICMP_DEST_UNREACH:
		out_printf(o, " ICMP unreachable code %u", p[1]);
		return;
	case ICMP_TIME_EXCEEDED:
		out_printf(o, " ICMP time-exceeded code %u", p[1]);
		return;
	}
	out_printf(o, " ICMP type %u code %u", p[0], p[1]);
}

static void summary_icmp6(struct out *o, const __u8 *p, size_t cap)
{
	const char *name = NULL;

	if (cap < 4) {
		out_printf(o, " ICMPv6 truncated");
		return;
	}
	switch (p[0]) {
	case 1:
		name = "unreachable";
		break;
	case 2:
		name = "packet-too-big";
		break;
	case 3:
		name = "time-exceeded";
		break;
	case 128:
		name = "echo request";
		break;
	case 129:
		name = "echo reply";
		break;
	case 133:
		name = "router solicitation";
		break;
	case 134:
		name = "router advertisement";
		break;
	case 135:
		name = "neighbor solicitation";
		break;
	case 136:
		name = "neighbor advertisement";
		break;
	}
	if (!name) {
		out_printf(o, " ICMPv6 type %u code %u", p[0], p[1]);
		return;
	}
	out_printf(o, " ICMPv6 %s", name);
	if (p[0] == 128 || p[0] == 129) {
		if (cap >= 8)
			out_printf(o, " id %u seq %u", get16be(p + 4), get16be(p + 6));
		else
			out_printf(o, " truncated");
	} else if ((p[0] == 135 || p[0] == 136) && cap >= 24) {
		out_printf(o, " ");
		put_ip6(o, p + 8);
	}
}

/* The transport of an IP packet: cap bytes captured of plen the IP header claims. */
static void summary_l4(struct out *o, __u8 proto, const __u8 *p, size_t cap, size_t plen)
{
	switch (proto) {
	case IPPROTO_UDP:
		summary_udp(o, p, cap, plen);
		return;
	case IPPROTO_TCP:
		summary_tcp(o, p, cap, plen);
		return;
	case IPPROTO_ICMP:
		summary_icmp(o, p, cap);
		return;
	case IPPROTO_ICMPV6:
		summary_icmp6(o, p, cap);
		return;
	}
	out_printf(o, " proto %u len %zu", proto, plen);
}

static void summary_ipv4(struct out *o, const __u8 *p, size_t cap)
{
	size_t ihl, tot, plen;
	__u16 frag;

	if (cap < sizeof(struct iphdr)) {
		out_printf(o, " IPv4 truncated");
		return;
	}
	ihl = (size_t)(p[0] & 0xf) * 4;
	tot = get16be(p + offsetof(struct iphdr, tot_len));
	out_printf(o, " IPv4 ");
	put_ip4(o, p + offsetof(struct iphdr, saddr));
	out_printf(o, " > ");
	put_ip4(o, p + offsetof(struct iphdr, daddr));
	if (p[0] >> 4 != 4 || ihl < sizeof(struct iphdr) || tot < ihl) {
		out_printf(o, " bad-header");
		return;
	}
	if (ihl > sizeof(struct iphdr))
		out_printf(o, " options %zu", ihl - sizeof(struct iphdr));
	frag = get16be(p + offsetof(struct iphdr, frag_off));
	if (frag & 0x3fff) {
		out_printf(o, " frag id %u off %u%s", get16be(p + offsetof(struct iphdr, id)),
			   (frag & 0x1fff) * 8, frag & 0x2000 ? "+" : "");
		if (frag & 0x1fff) {
			out_printf(o, " proto %u len %zu", p[9], tot - ihl);
			return;
		}
	}
	if (cap < ihl) {
		out_printf(o, " truncated");
		return;
	}
	plen = tot - ihl;
	cap -= ihl;
	summary_l4(o, p[9], p + ihl, cap < plen ? cap : plen, plen);
}

static bool ipv6_ext(__u8 nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

static void summary_ipv6(struct out *o, const __u8 *p, size_t cap)
{
	size_t off = sizeof(struct ipv6hdr), plen;
	__u8 nh;

	if (cap < sizeof(struct ipv6hdr)) {
		out_printf(o, " IPv6 truncated");
		return;
	}
	out_printf(o, " IPv6 ");
	put_ip6(o, p + offsetof(struct ipv6hdr, saddr));
	out_printf(o, " > ");
	put_ip6(o, p + offsetof(struct ipv6hdr, daddr));
	if (p[0] >> 4 != 6) {
		out_printf(o, " bad-header");
		return;
	}
	plen = get16be(p + offsetof(struct ipv6hdr, payload_len));
	nh = p[offsetof(struct ipv6hdr, nexthdr)];
	/* Extension headers: a few, each inside both what was captured and the payload. */
	for (int i = 0; i < 8 && ipv6_ext(nh); i++) {
		size_t ext;

		if (cap < off + 8) {
			out_printf(o, " truncated");
			return;
		}
		if (nh == 44) {
			__u16 fo = get16be(p + off + 2);

			out_printf(o, " frag id %u off %u%s", get32be(p + off + 4), fo & 0xfff8,
				   fo & 1 ? "+" : "");
			ext = 8;
			if (fo & 0xfff8) {
				out_printf(o, " proto %u", p[off]);
				return;
			}
		} else {
			ext = ((size_t)p[off + 1] + 1) * 8;
		}
		if (off - sizeof(struct ipv6hdr) + ext > plen) {
			out_printf(o, " bad-len");
			return;
		}
		nh = p[off];
		off += ext;
	}
	if (ipv6_ext(nh)) {
		out_printf(o, " ext-headers");
		return;
	}
	plen -= off - sizeof(struct ipv6hdr);
	if (cap < off) {
		out_printf(o, " truncated");
		return;
	}
	cap -= off;
	summary_l4(o, nh, p + off, cap < plen ? cap : plen, plen);
}

static void summary_arp(struct out *o, const __u8 *p, size_t cap)
{
	__u16 op;

	if (cap < 8) {
		out_printf(o, " ARP truncated");
		return;
	}
	op = get16be(p + 6);
	if (get16be(p) != ARPHRD_ETHER || get16be(p + 2) != ETH_P_IP || p[4] != ETH_ALEN ||
	    p[5] != 4) {
		out_printf(o, " ARP hrd %u pro 0x%04x op %u", get16be(p), get16be(p + 2), op);
		return;
	}
	if (cap < 28) {
		out_printf(o, " ARP truncated");
		return;
	}
	/* sha 8, spa 14, tha 18, tpa 24 */
	if (op == ARPOP_REQUEST) {
		out_printf(o, " ARP who-has ");
		put_ip4(o, p + 24);
		out_printf(o, " tell ");
		put_ip4(o, p + 14);
	} else if (op == ARPOP_REPLY) {
		out_printf(o, " ARP reply ");
		put_ip4(o, p + 14);
		out_printf(o, " is-at ");
		put_mac(o, p + 8);
	} else {
		out_printf(o, " ARP op %u", op);
	}
}

int gma_frame_summary(const __u8 *frame, size_t len, char *buf, size_t size)
{
	size_t off = 2 * ETH_ALEN;
	struct out o;
	__u16 type;

	out_init(&o, buf, size);
	if (!frame || len < ETH_HLEN) {
		out_printf(&o, "truncated ethernet (%zu bytes)", frame ? len : 0);
		return out_done(&o);
	}
	put_mac(&o, frame + ETH_ALEN);
	out_printf(&o, " > ");
	put_mac(&o, frame);
	type = get16be(frame + off);
	off += 2;
	for (int tags = 0; (type == ETH_P_8021Q || type == ETH_P_8021AD) && tags < 2; tags++) {
		__u16 tci;

		if (len < off + 4) {
			out_printf(&o, " vlan truncated");
			return out_done(&o);
		}
		tci = get16be(frame + off);
		out_printf(&o, " vlan %u pri %u", tci & 0xfff, tci >> 13);
		type = get16be(frame + off + 2);
		off += 4;
	}
	switch (type) {
	case ETH_P_IP:
		summary_ipv4(&o, frame + off, len - off);
		break;
	case ETH_P_IPV6:
		summary_ipv6(&o, frame + off, len - off);
		break;
	case ETH_P_ARP:
		summary_arp(&o, frame + off, len - off);
		break;
	default:
		if (type < ETH_P_802_3_MIN)
			out_printf(&o, " 802.3 len %u", type);
		else
			out_printf(&o, " ethertype 0x%04x len %zu", type, len - off);
	}
	return out_done(&o);
}

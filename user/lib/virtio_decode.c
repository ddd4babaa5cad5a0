// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Decoders of device requests (virtio-blk, virtio-net and the Ethernet frame behind its
 * header, virtio-console text) and names of devices and anomalies. Input bytes are guest
 * data: every field is read only after checking that the bytes holding it were captured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/icmp.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <gma/virtio.h>

/* An snprintf-like sink: counts everything, stores what fits, always NUL-terminated. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_init(struct out *o, char *buf, size_t size)
{
	o->buf = buf;
	o->size = buf ? size : 0;
	o->len = 0;
	if (o->size)
		buf[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void out_printf(struct out *o, const char *fmt, ...)
{
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += n;
}

static int out_done(const struct out *o)
{
	return o->len > 0x7fffffff ? 0x7fffffff : (int)o->len;
}

/* --- names -------------------------------------------------------------------------------- */

static const struct {
	__u32 id;
	const char *name;
} device_names[] = {
	{ VIRTIO_ID_NET, "virtio-net" },
	{ VIRTIO_ID_BLOCK, "virtio-blk" },
	{ VIRTIO_ID_CONSOLE, "virtio-console" },
	{ VIRTIO_ID_RNG, "virtio-rng" },
	{ VIRTIO_ID_BALLOON, "virtio-balloon" },
	{ VIRTIO_ID_IOMEM, "virtio-iomem" },
	{ VIRTIO_ID_RPMSG, "virtio-rpmsg" },
	{ VIRTIO_ID_SCSI, "virtio-scsi" },
	{ VIRTIO_ID_9P, "virtio-9p" },
	{ VIRTIO_ID_MAC80211_WLAN, "virtio-mac80211-wlan" },
	{ VIRTIO_ID_RPROC_SERIAL, "virtio-rproc-serial" },
	{ VIRTIO_ID_CAIF, "virtio-caif" },
	{ VIRTIO_ID_MEMORY_BALLOON, "virtio-memory-balloon" },
	{ VIRTIO_ID_GPU, "virtio-gpu" },
	{ VIRTIO_ID_CLOCK, "virtio-clock" },
	{ VIRTIO_ID_INPUT, "virtio-input" },
	{ VIRTIO_ID_VSOCK, "virtio-vsock" },
	{ VIRTIO_ID_CRYPTO, "virtio-crypto" },
	{ VIRTIO_ID_SIGNAL_DIST, "virtio-signal-dist" },
	{ VIRTIO_ID_PSTORE, "virtio-pstore" },
	{ VIRTIO_ID_IOMMU, "virtio-iommu" },
	{ VIRTIO_ID_MEM, "virtio-mem" },
	{ VIRTIO_ID_SOUND, "virtio-sound" },
	{ VIRTIO_ID_FS, "virtio-fs" },
	{ VIRTIO_ID_PMEM, "virtio-pmem" },
	{ VIRTIO_ID_RPMB, "virtio-rpmb" },
	{ VIRTIO_ID_MAC80211_HWSIM, "virtio-mac80211-hwsim" },
	{ VIRTIO_ID_VIDEO_ENCODER, "virtio-video-encoder" },
	{ VIRTIO_ID_VIDEO_DECODER, "virtio-video-decoder" },
	{ VIRTIO_ID_SCMI, "virtio-scmi" },
	{ VIRTIO_ID_NITRO_SEC_MOD, "virtio-nitro-sec-mod" },
	{ VIRTIO_ID_I2C_ADAPTER, "virtio-i2c" },
	{ VIRTIO_ID_WATCHDOG, "virtio-watchdog" },
	{ VIRTIO_ID_CAN, "virtio-can" },
	{ VIRTIO_ID_DMABUF, "virtio-dmabuf" },
	{ VIRTIO_ID_PARAM_SERV, "virtio-param-serv" },
	{ VIRTIO_ID_AUDIO_POLICY, "virtio-audio-policy" },
	{ VIRTIO_ID_BT, "virtio-bt" },
	{ VIRTIO_ID_GPIO, "virtio-gpio" },
};

const char *gma_virtio_device_name(__u32 device_id)
{
	for (size_t i = 0; i < sizeof(device_names) / sizeof(device_names[0]); i++)
		if (device_names[i].id == device_id)
			return device_names[i].name;
	return NULL;
}

static const struct {
	__u32 bit;
	const char *name;
	const char *reason;
} anomalies[] = {
	{ GMA_ANOM_DESC_OUT_OF_RANGE, "desc_out_of_range",
	  "a head or next index is not below the queue size" },
	{ GMA_ANOM_CHAIN_LOOP, "chain_loop", "a descriptor chain visits a descriptor twice" },
	{ GMA_ANOM_CHAIN_TOO_LONG, "chain_too_long",
	  "a descriptor chain has more buffers than the queue size" },
	{ GMA_ANOM_NESTED_INDIRECT, "nested_indirect",
	  "an indirect table holds another indirect descriptor" },
	{ GMA_ANOM_INDIRECT_LEN, "indirect_len",
	  "an indirect table's length is 0 or not a multiple of 16 bytes" },
	{ GMA_ANOM_READ_AFTER_WRITE, "read_after_write",
	  "a device-readable buffer follows a device-writable one" },
	{ GMA_ANOM_BUFFER_UNMAPPED, "buffer_unmapped",
	  "a buffer or descriptor table lies outside guest memory" },
	{ GMA_ANOM_AVAIL_JUMP, "avail_jump",
	  "the avail index is more than the queue size ahead of the used index" },
	{ GMA_ANOM_USED_BACKWARDS, "used_backwards", "the used index went backwards" },
	{ GMA_ANOM_RING_MISALIGNED, "ring_misaligned",
	  "a ring area is misaligned or the queue size breaks the spec" },
	{ GMA_ANOM_NOT_READY, "not_ready", "the driver notified a queue that is not ready" },
	{ GMA_ANOM_STUCK, "stuck", "requests are in flight and the device completes none" },
	{ GMA_ANOM_UNKNOWN_LAYOUT, "unknown_layout",
	  "the driver notified a queue whose layout is not known" },
	{ GMA_ANOM_RING_UNREADABLE, "ring_unreadable", "the ring itself could not be read" },
	{ GMA_ANOM_PACKED, "packed", "the queue is a packed ring, which is not decoded" },
	{ GMA_ANOM_CHAIN_TRUNCATED, "chain_truncated",
	  "the chain is longer than the walk records (not an error)" },
	{ GMA_ANOM_ZERO_LEN, "zero_len", "a descriptor has length 0" },
	{ GMA_ANOM_USED_ID_INVALID, "used_id_invalid",
	  "a used element names a descriptor that is not a head in flight" },
	{ GMA_ANOM_HEAD_IN_FLIGHT, "head_in_flight",
	  "a head is made available again while its chain is still in flight" },
	{ GMA_ANOM_INDIRECT_NEXT, "indirect_next",
	  "an indirect descriptor also has NEXT set (the device ends the chain at its table)" },
};

#define NR_ANOMALIES (sizeof(anomalies) / sizeof(anomalies[0]))

const char *gma_anomaly_name(__u32 bit)
{
	for (size_t i = 0; i < NR_ANOMALIES; i++)
		if (anomalies[i].bit == bit)
			return anomalies[i].name;
	return NULL;
}

const char *gma_anomaly_reason(__u32 bit)
{
	for (size_t i = 0; i < NR_ANOMALIES; i++)
		if (anomalies[i].bit == bit)
			return anomalies[i].reason;
	return NULL;
}

int gma_anomaly_format(__u32 mask, char *buf, size_t size)
{
	struct out o;
	const char *sep = "";

	out_init(&o, buf, size);
	for (int b = 0; b < 32; b++) {
		__u32 bit = 1u << b;
		const char *name;

		if (!(mask & bit))
			continue;
		name = gma_anomaly_name(bit);
		if (name)
			out_printf(&o, "%s%s", sep, name);
		else
			out_printf(&o, "%s0x%x", sep, bit);
		sep = ",";
	}
	return out_done(&o);
}

/* --- virtio-blk --------------------------------------------------------------------------- */

/* Request types and statuses of VirtIO 1.2 that older uapi headers lack. */
#define BLK_T_GET_LIFETIME 10
#define BLK_T_ZONE_APPEND 15
#define BLK_T_ZONE_REPORT 16
#define BLK_T_ZONE_OPEN 18
#define BLK_T_ZONE_CLOSE 20
#define BLK_T_ZONE_FINISH 22
#define BLK_T_ZONE_RESET 24
#define BLK_T_ZONE_RESET_ALL 26
#define BLK_S_ZONE_INVALID_CMD 3
#define BLK_S_ZONE_UNALIGNED_WP 4
#define BLK_S_ZONE_OPEN_RESOURCE 5
#define BLK_S_ZONE_ACTIVE_RESOURCE 6

const char *gma_blk_type_name(__u32 type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return "IN";
	case VIRTIO_BLK_T_OUT:
		return "OUT";
	case VIRTIO_BLK_T_SCSI_CMD:
		return "SCSI_CMD";
	case VIRTIO_BLK_T_FLUSH:
		return "FLUSH";
	case VIRTIO_BLK_T_GET_ID:
		return "GET_ID";
	case BLK_T_GET_LIFETIME:
		return "GET_LIFETIME";
	case VIRTIO_BLK_T_DISCARD:
		return "DISCARD";
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return "WRITE_ZEROES";
	case VIRTIO_BLK_T_SECURE_ERASE:
		return "SECURE_ERASE";
	case BLK_T_ZONE_APPEND:
		return "ZONE_APPEND";
	case BLK_T_ZONE_REPORT:
		return "ZONE_REPORT";
	case BLK_T_ZONE_OPEN:
		return "ZONE_OPEN";
	case BLK_T_ZONE_CLOSE:
		return "ZONE_CLOSE";
	case BLK_T_ZONE_FINISH:
		return "ZONE_FINISH";
	case BLK_T_ZONE_RESET:
		return "ZONE_RESET";
	case BLK_T_ZONE_RESET_ALL:
		return "ZONE_RESET_ALL";
	}
	return NULL;
}

const char *gma_blk_status_name(__u8 status)
{
	switch (status) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	case BLK_S_ZONE_INVALID_CMD:
		return "ZONE_INVALID_CMD";
	case BLK_S_ZONE_UNALIGNED_WP:
		return "ZONE_UNALIGNED_WP";
	case BLK_S_ZONE_OPEN_RESOURCE:
		return "ZONE_OPEN_RESOURCE";
	case BLK_S_ZONE_ACTIVE_RESOURCE:
		return "ZONE_ACTIVE_RESOURCE";
	}
	return NULL;
}

static bool is_buffer(const struct gma_desc_rec *d)
{
	return !(d->flags & VRING_DESC_F_INDIRECT);
}

int gma_blk_decode(const struct gma_desc_rec *descs, __u8 *const *data, __u8 *const *state,
		   size_t n, struct gma_blk_req *out)
{
	struct virtio_blk_outhdr hdr;
	__u64 readable = 0, writable = 0;
	size_t last_w = n;

	if (!descs || !data || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (gma_chain_gather(descs, data, state, n, false, (__u8 *)&hdr, sizeof(hdr)) < sizeof(hdr))
		return -ENODATA;
	out->type = hdr.type;
	out->ioprio = hdr.ioprio;
	out->sector = hdr.sector;
	for (size_t i = 0; i < n; i++) {
		if (!is_buffer(&descs[i]))
			continue;
		if (descs[i].flags & VRING_DESC_F_WRITE) {
			writable += descs[i].len;
			last_w = i;
		} else {
			readable += descs[i].len;
		}
	}
	/* Data: readable bytes after the header, writable bytes before the status byte. */
	out->data_len = readable - sizeof(hdr) + (writable ? writable - 1 : 0);
	if (last_w < n) {
		const struct gma_desc_rec *d = &descs[last_w];
		__u32 at = d->len - 1;

		if (d->len && at < d->snap_len && data[last_w] &&
		    (!state || (state[last_w] && state[last_w][at] == GMA_BYTE_READ))) {
			out->has_status = true;
			out->status = data[last_w][at];
		}
	}
	return 0;
}

int gma_blk_format(const struct gma_blk_req *req, char *buf, size_t size)
{
	const char *t, *s;
	struct out o;

	out_init(&o, buf, size);
	if (!req)
		return 0;
	t = gma_blk_type_name(req->type & ~VIRTIO_BLK_T_BARRIER);
	if (t)
		out_printf(&o, "%s%s", t, req->type & VIRTIO_BLK_T_BARRIER ? "|BARRIER" : "");
	else
		out_printf(&o, "type %u", req->type);
	out_printf(&o, " sector %llu len %llu", (unsigned long long)req->sector,
		   (unsigned long long)req->data_len);
	if (req->ioprio)
		out_printf(&o, " ioprio %u", req->ioprio);
	if (req->has_status) {
		s = gma_blk_status_name(req->status);
		if (s)
			out_printf(&o, " status %s", s);
		else
			out_printf(&o, " status %u", req->status);
	}
	return out_done(&o);
}

/* --- virtio-net --------------------------------------------------------------------------- */

size_t gma_net_hdr_len(bool version_1, bool mrg_rxbuf)
{
	return version_1 || mrg_rxbuf ? sizeof(struct virtio_net_hdr_v1) :
					sizeof(struct virtio_net_hdr);
}

static __u16 get16le(const __u8 *p)
{
	return (__u16)(p[0] | p[1] << 8);
}

int gma_net_hdr_parse(const __u8 *p, size_t len, size_t hdr_len, struct gma_net_hdr *out)
{
	if (!p || !out ||
	    (hdr_len != sizeof(struct virtio_net_hdr) &&
	     hdr_len != sizeof(struct virtio_net_hdr_v1)))
		return -EINVAL;
	if (len < hdr_len)
		return -ENODATA;
	memset(out, 0, sizeof(*out));
	out->flags = p[offsetof(struct virtio_net_hdr, flags)];
	out->gso_type = p[offsetof(struct virtio_net_hdr, gso_type)];
	out->hdr_len = get16le(p + offsetof(struct virtio_net_hdr, hdr_len));
	out->gso_size = get16le(p + offsetof(struct virtio_net_hdr, gso_size));
	out->csum_start = get16le(p + offsetof(struct virtio_net_hdr, csum_start));
	out->csum_offset = get16le(p + offsetof(struct virtio_net_hdr, csum_offset));
	if (hdr_len == sizeof(struct virtio_net_hdr_v1))
		out->num_buffers = get16le(p + offsetof(struct virtio_net_hdr_v1, num_buffers));
	return 0;
}

int gma_net_hdr_format(const struct gma_net_hdr *h, char *buf, size_t size)
{
	static const char *const fl[] = { "NEEDS_CSUM", "DATA_VALID", "RSC_INFO" };
	const char *sep = "";
	struct out o;

	out_init(&o, buf, size);
	if (!h)
		return 0;
	out_printf(&o, "flags ");
	for (int b = 0; b < 8; b++) {
		if (!(h->flags & (1u << b)))
			continue;
		if (b < 3)
			out_printf(&o, "%s%s", sep, fl[b]);
		else
			out_printf(&o, "%s0x%x", sep, 1u << b);
		sep = "|";
	}
	if (!h->flags)
		out_printf(&o, "0");
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		out_printf(&o, " gso NONE");
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		out_printf(&o, " gso TCPV4");
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		out_printf(&o, " gso UDP");
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		out_printf(&o, " gso TCPV6");
		break;
	case 5: /* VIRTIO_NET_HDR_GSO_UDP_L4, absent from older headers */
		out_printf(&o, " gso UDP_L4");
		break;
	default:
		out_printf(&o, " gso 0x%x", h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN);
	}
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		out_printf(&o, "|ECN");
	out_printf(&o, " hdr_len %u gso_size %u csum %u+%u num_buffers %u", h->hdr_len, h->gso_size,
		   h->csum_start, h->csum_offset, h->num_buffers);
	return out_done(&o);
}

/* --- Ethernet frames ---------------------------------------------------------------------- */

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

/* --- virtio-console ----------------------------------------------------------------------- */

int gma_console_text(const __u8 *in, size_t len, char *out, size_t size)
{
	size_t total = 0, stored = 0;
	bool full = false;

	if (out && size)
		out[0] = '\0';
	for (size_t i = 0; in && i < len; i++) {
		char esc[5];
		size_t n;

		switch (in[i]) {
		case '\n':
			n = (size_t)snprintf(esc, sizeof(esc), "\\n");
			break;
		case '\r':
			n = (size_t)snprintf(esc, sizeof(esc), "\\r");
			break;
		case '\t':
			n = (size_t)snprintf(esc, sizeof(esc), "\\t");
			break;
		case '\\':
			n = (size_t)snprintf(esc, sizeof(esc), "\\\\");
			break;
		default:
			if (in[i] >= 0x20 && in[i] < 0x7f) {
				esc[0] = (char)in[i];
				esc[1] = '\0';
				n = 1;
			} else {
				n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", in[i]);
			}
		}
		total += n;
		if (!full && out && stored + n < size) {
			memcpy(out + stored, esc, n);
			stored += n;
			out[stored] = '\0';
		} else {
			full = true; /* never store a later, shorter piece after a cut */
		}
	}
	return total > 0x7fffffff ? 0x7fffffff : (int)total;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace's one-line formats of what libgma decodes: anomaly masks, virtio-blk requests,
 * virtio-net headers, virtio-console text. snprintf semantics, guest bytes escaped.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_net.h>

#include "gma_print.h"
#include "strbuf.h"

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

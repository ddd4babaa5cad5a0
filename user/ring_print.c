// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include <gma/virtio.h>

#include "ring_print.h"

/* Bytes of each buffer a text line shows. */
#define SHOW_BYTES 16

const char *device_label(__u32 device_id, char *buf, size_t size)
{
	const char *name = gma_virtio_device_name(device_id);

	if (name)
		return name;
	snprintf(buf, size, device_id ? "device %u" : "virtio", device_id);
	return buf;
}

void chain_summary(const struct chain_view *c, char *buf, size_t size)
{
	__u8 gathered[4096];
	size_t n, total = 0;

	for (size_t i = 0; i < c->n; i++)
		total += c->descs[i].len;
	switch (c->device_id) {
	case VIRTIO_ID_BLOCK: {
		struct gma_blk_req req;

		if (!gma_blk_decode(c->descs, c->data, c->state, c->n, &req)) {
			if (c->at_notify)
				req.has_status = false;
			/* a chain longer than the record: the data is all but header and status */
			if (c->nr_walked > c->n &&
			    c->total_len >= sizeof(struct virtio_blk_outhdr) + 1)
				req.data_len = c->total_len - sizeof(struct virtio_blk_outhdr) - 1;
			gma_blk_format(&req, buf, size);
			return;
		}
		break;
	}
	case VIRTIO_ID_NET: {
		struct gma_net_hdr h;
		char hdr[160], frame[200];
		/* VIRTIO_F_VERSION_1 (32) and VIRTIO_NET_F_MRG_RXBUF (15) set the header size */
		bool modern = !c->features || (c->features & (1ULL << 32));
		size_t hl = gma_net_hdr_len(modern, c->features & (1ULL << 15));

		/* odd queues transmit: the driver's readable buffers hold header and frame */
		if (c->queue % 2 == 1) {
			n = gma_chain_gather(c->descs, c->data, c->state, c->n, false, gathered,
					     sizeof(gathered));
			if (!gma_net_hdr_parse(gathered, n, hl, &h)) {
				gma_net_hdr_format(&h, hdr, sizeof(hdr));
				gma_frame_summary(gathered + hl, n - hl, frame, sizeof(frame));
				snprintf(buf, size, "tx %s | %s", frame, hdr);
				return;
			}
		} else {
			snprintf(buf, size, "rx buffers, %zu bytes", total);
			return;
		}
		break;
	}
	case VIRTIO_ID_CONSOLE:
		if (c->queue % 2 == 1) {
			char text[200];

			n = gma_chain_gather(c->descs, c->data, c->state, c->n, false, gathered,
					     sizeof(gathered));
			gma_console_text(gathered, n, text, sizeof(text));
			snprintf(buf, size, "tx \"%s\"", text);
			return;
		}
		snprintf(buf, size, "rx buffers, %zu bytes", total);
		return;
	}
	snprintf(buf, size, "%zu descriptors, %zu bytes", c->n, total);
}

static bool byte_read(const struct chain_view *c, size_t i, size_t b)
{
	return !c->state || !c->state[i] || c->state[i][b] == GMA_BYTE_READ;
}

void print_chain_descs(FILE *f, const struct chain_view *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct gma_desc_rec *d = &c->descs[i];
		size_t shown = c->nbytes && c->data && c->data[i] ? c->nbytes[i] : 0;

		fprintf(f, "    %s[%2u] 0x%010llx %6u %c%s%s ", d->in_indirect ? "i" : " ",
			d->index, (unsigned long long)d->addr, d->len,
			d->flags & VRING_DESC_F_WRITE ? 'W' : 'R',
			d->flags & VRING_DESC_F_NEXT ? " next" : "",
			d->flags & VRING_DESC_F_INDIRECT ? " indirect" : "");
		for (size_t b = 0; b < shown && b < SHOW_BYTES; b++) {
			if (byte_read(c, i, b))
				fprintf(f, " %02x", c->data[i][b]);
			else
				fprintf(f, " --");
		}
		if (shown > SHOW_BYTES)
			fprintf(f, " ...");
		fprintf(f, "\n");
	}
}

void print_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void print_chain_descs_json(FILE *f, const struct chain_view *c)
{
	fprintf(f, "\"descs\":[");
	for (size_t i = 0; i < c->n; i++) {
		const struct gma_desc_rec *d = &c->descs[i];
		size_t shown = c->nbytes && c->data && c->data[i] ? c->nbytes[i] : 0;

		fprintf(f,
			"%s{\"index\":%u,\"addr\":%llu,\"len\":%u,\"flags\":%u,\"write\":%s,"
			"\"indirect_table\":%s,\"bytes\":\"",
			i ? "," : "", d->index, (unsigned long long)d->addr, d->len, d->flags,
			d->flags & VRING_DESC_F_WRITE ? "true" : "false",
			d->in_indirect ? "true" : "false");
		for (size_t b = 0; b < shown; b++) {
			if (!byte_read(c, i, b))
				break; /* bytes is the read prefix; unread_from says where it ends */
			fprintf(f, "%02x", c->data[i][b]);
		}
		fprintf(f, "\"}");
	}
	fprintf(f, "]");
}

void print_anomaly_list_json(FILE *f, __u32 mask)
{
	bool first = true;

	fprintf(f, "[");
	for (int b = 0; b < 32; b++) {
		const char *name = gma_anomaly_name(1u << b);

		if (!(mask & (1u << b)))
			continue;
		fprintf(f, "%s{\"name\":", first ? "" : ",");
		print_json_string(f, name ? name : "unknown");
		fprintf(f, ",\"reason\":");
		print_json_string(f,
				  gma_anomaly_reason(1u << b) ? gma_anomaly_reason(1u << b) : "");
		fprintf(f, "}");
		first = false;
	}
	fprintf(f, "]");
}

void print_chain_json_tail(FILE *f, const char *summary, const struct chain_view *c)
{
	fprintf(f, "\"summary\":");
	print_json_string(f, summary);
	fprintf(f, ",\"anomalies\":");
	print_anomaly_list_json(f, c->anomalies);
	fprintf(f, ",");
	print_chain_descs_json(f, c);
}

void print_queue_label(FILE *f, __u32 device_id, __u64 base, __u32 queue)
{
	char buf[32];

	fprintf(f, "%s@%llx q%u", device_label(device_id, buf, sizeof(buf)),
		(unsigned long long)base, queue);
}

void print_live_chain(FILE *f, const struct gma_chain *c, bool json, bool descs)
{
	const struct gma_rec_chain *r = c->rec;
	__u32 nbytes[GMA_CHAIN_DESC_MAX];
	struct chain_view v = {
		.descs = r->descs,
		.n = r->nr_recorded < GMA_CHAIN_DESC_MAX ? r->nr_recorded : GMA_CHAIN_DESC_MAX,
		.data = (__u8 *const *)c->bytes,
		.state = (__u8 *const *)c->state,
		.nbytes = nbytes,
		.device_id = c->device_id,
		.queue = r->key.queue,
		.anomalies = c->anomalies,
		.features = c->features,
		.nr_walked = r->nr_descs,
		.total_len = r->total_len,
		/* at notify time the device has not written its status yet: no status shown */
		.at_notify = true,
	};
	char summary[256], label[32], an[256];

	memcpy(nbytes, c->nbytes, sizeof(nbytes));
	chain_summary(&v, summary, sizeof(summary));
	if (json) {
		fprintf(f,
			"{\"type\":\"chain\",\"ts_ns\":%llu,\"pid\":%d,\"device\":\"%s\","
			"\"device_id\":%u,\"base\":%llu,\"queue\":%u,\"avail_idx\":%u,\"head\":%u,"
			"\"nr_descs\":%u,\"total_len\":%u,\"indirect\":%s,",
			(unsigned long long)r->ts_ns, c->pid,
			device_label(c->device_id, label, sizeof(label)), c->device_id,
			(unsigned long long)r->key.base, r->key.queue, r->avail_idx, r->head,
			r->nr_descs, r->total_len, r->indirect_addr ? "true" : "false");
		print_chain_json_tail(f, summary, &v);
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, " %d ", c->pid);
	print_queue_label(f, c->device_id, r->key.base, r->key.queue);
	fprintf(f, " avail %u head %u: %s (%u desc%s%s)", r->avail_idx, r->head, summary,
		r->nr_descs, r->nr_descs == 1 ? "" : "s", r->indirect_addr ? ", indirect" : "");
	if (c->anomalies & ~GMA_ANOM_CHAIN_TRUNCATED) {
		gma_anomaly_format(c->anomalies, an, sizeof(an));
		fprintf(f, " !! %s", an);
	}
	fputc('\n', f);
	if (descs)
		print_chain_descs(f, &v);
}

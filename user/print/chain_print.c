// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chains as gma-trace shows them, whether the kernel sampled them at notify time (rings) or
 * userspace read them through the accessor (ring): a summary decoded per device type, the
 * descriptors as text, and the JSON chain record.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "gma_print.h"

/* Bytes of each buffer a text line shows. */
#define SHOW_BYTES 16

const char *gma_device_label(__u32 device_id, char *buf, size_t size)
{
	const char *name = gma_virtio_device_name(device_id);

	if (name)
		return name;
	snprintf(buf, size, device_id ? "device %u" : "virtio", device_id);
	return buf;
}

void gma_chain_summary(const struct gma_chain_view *v, char *buf, size_t size)
{
	const struct gma_chain *c = v->c;
	__u8 gathered[4096];
	size_t n, total = 0;

	for (size_t i = 0; i < c->nr_descs; i++)
		total += gma_chain_desc(c, i)->len;
	switch (v->device_id) {
	case VIRTIO_ID_BLOCK: {
		GMA_OPTS(gma_blk_req, req);

		if (!gma_blk_decode(c, &req)) {
			if (c->flags & GMA_CHAIN_AT_NOTIFY)
				req.has_status = false;
			/* a chain longer than the record: the data is all but header and status */
			if (c->nr_walked > c->nr_descs &&
			    c->total_len >= sizeof(struct virtio_blk_outhdr) + 1)
				req.data_len = c->total_len - sizeof(struct virtio_blk_outhdr) - 1;
			gma_blk_format(&req, buf, size);
			return;
		}
		break;
	}
	case VIRTIO_ID_NET: {
		GMA_OPTS(gma_net_hdr, h);
		char hdr[160], frame[200];
		/* VIRTIO_F_VERSION_1 (32) and VIRTIO_NET_F_MRG_RXBUF (15) set the header size */
		bool modern = !v->features || (v->features & (1ULL << 32));
		size_t hl = gma_net_hdr_len(modern, v->features & (1ULL << 15));

		/* odd queues transmit: the driver's readable buffers hold header and frame */
		if (v->queue % 2 == 1) {
			n = gma_chain_gather(c, false, gathered, sizeof(gathered));
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
		if (v->queue % 2 == 1) {
			char text[200];

			n = gma_chain_gather(c, false, gathered, sizeof(gathered));
			gma_console_text(gathered, n, text, sizeof(text));
			snprintf(buf, size, "tx \"%s\"", text);
			return;
		}
		snprintf(buf, size, "rx buffers, %zu bytes", total);
		return;
	}
	snprintf(buf, size, "%zu descriptors, %zu bytes", (size_t)c->nr_descs, total);
}

/* Bytes captured of a descriptor. */
static size_t shown_bytes(const struct gma_chain_desc *d)
{
	return d->bytes ? d->nbytes : 0;
}

static bool byte_read(const struct gma_chain_desc *d, size_t b)
{
	return !d->state || d->state[b] == GMA_BYTE_READ;
}

void gma_chain_print_descs(FILE *f, const struct gma_chain_view *v)
{
	for (size_t i = 0; i < v->c->nr_descs; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(v->c, i);
		size_t shown = shown_bytes(d);

		fprintf(f, "    %s[%2u] 0x%010llx %6u %c%s%s ", d->in_indirect ? "i" : " ",
			d->index, (unsigned long long)d->addr, d->len,
			d->flags & VRING_DESC_F_WRITE ? 'W' : 'R',
			d->flags & VRING_DESC_F_NEXT ? " next" : "",
			d->flags & VRING_DESC_F_INDIRECT ? " indirect" : "");
		for (size_t b = 0; b < shown && b < SHOW_BYTES; b++) {
			if (byte_read(d, b))
				fprintf(f, " %02x", d->bytes[b]);
			else
				fprintf(f, " --");
		}
		if (shown > SHOW_BYTES)
			fprintf(f, " ...");
		fprintf(f, "\n");
	}
}

/* The prefix of a buffer read from the guest: "bytes" in JSON, unread_from where it stops. */
static size_t read_prefix(const struct gma_chain_desc *d)
{
	size_t shown = shown_bytes(d), b = 0;

	while (b < shown && byte_read(d, b))
		b++;
	return b;
}

static void chain_descs_json(struct gma_json *w, const struct gma_chain_view *v)
{
	gma_json_name(w, "descs");
	gma_json_start_array(w);
	for (size_t i = 0; i < v->c->nr_descs; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(v->c, i);

		gma_json_start_object(w);
		gma_json_u64_field(w, "index", d->index);
		gma_json_u64_field(w, "addr", d->addr);
		gma_json_u64_field(w, "len", d->len);
		gma_json_u64_field(w, "flags", d->flags);
		gma_json_bool_field(w, "write", d->flags & VRING_DESC_F_WRITE);
		gma_json_bool_field(w, "indirect_table", d->in_indirect);
		gma_json_name(w, "bytes");
		gma_json_hex(w, d->bytes, read_prefix(d));
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
}

void gma_json_anomalies(struct gma_json *w, __u32 mask)
{
	gma_json_start_array(w);
	for (int b = 0; b < 32; b++) {
		if (!(mask & (1u << b)))
			continue;
		gma_json_start_object(w);
		gma_json_string_field(w, "name", gma_anomaly_name(1u << b) ?: "unknown");
		gma_json_string_field(w, "reason", gma_anomaly_reason(1u << b) ?: "");
		gma_json_end_object(w);
	}
	gma_json_end_array(w);
}

void gma_chain_json_members(struct gma_json *w, const char *summary, const struct gma_chain_view *v)
{
	gma_json_string_field(w, "summary", summary);
	gma_json_name(w, "anomalies");
	gma_json_anomalies(w, v->c->anomalies);
	chain_descs_json(w, v);
}

const char *gma_device_address(__u64 base, char *buf, size_t size)
{
	if (GMA_KEY_IS_PCI(base))
		snprintf(buf, size, "0000:%02x:%02x.%x", (unsigned int)(base >> 8) & 0xff,
			 (unsigned int)(base >> 3) & 0x1f, (unsigned int)base & 7);
	else
		snprintf(buf, size, "%llx", (unsigned long long)base);
	return buf;
}

const char *gma_device_transport(__u64 base)
{
	return GMA_KEY_IS_PCI(base) ? "pci" : "mmio";
}

void gma_print_queue_label(FILE *f, __u32 device_id, __u64 base, __u32 queue)
{
	char buf[32], addr[32];

	fprintf(f, "%s@%s q%u", gma_device_label(device_id, buf, sizeof(buf)),
		gma_device_address(base, addr, sizeof(addr)), queue);
}

void gma_chain_view_live(struct gma_chain_view *v, const struct gma_chain *c)
{
	*v = (struct gma_chain_view){
		.c = c,
		.device_id = c->device_id,
		.queue = c->queue,
		.features = c->features,
	};
}

void gma_chain_view_ring(struct gma_chain_view *v, const struct gma_chain *c, __u32 device_id,
			 __u32 queue)
{
	*v = (struct gma_chain_view){
		.c = c,
		.device_id = device_id,
		.queue = queue,
	};
}

void gma_chain_json(struct gma_json *w, const struct gma_chain *c)
{
	struct gma_chain_view v;
	char summary[256], label[32];

	gma_chain_view_live(&v, c);
	gma_chain_summary(&v, summary, sizeof(summary));
	gma_json_start_object(w);
	gma_json_string_field(w, "type", "chain");
	gma_json_u64_field(w, "version", GMA_JSON_VERSION);
	gma_json_u64_field(w, "ts_ns", c->ts_ns);
	gma_json_s64_field(w, "pid", c->pid);
	gma_json_string_field(w, "device", gma_device_label(c->device_id, label, sizeof(label)));
	gma_json_u64_field(w, "device_id", c->device_id);
	gma_json_u64_field(w, "base", c->base);
	gma_json_string_field(w, "transport", gma_device_transport(c->base));
	gma_json_string_field(w, "address", gma_device_address(c->base, label, sizeof(label)));
	gma_json_u64_field(w, "queue", c->queue);
	gma_json_u64_field(w, "avail_idx", c->avail_idx);
	gma_json_u64_field(w, "head", c->head);
	gma_json_u64_field(w, "nr_descs", c->nr_walked);
	gma_json_u64_field(w, "total_len", c->total_len);
	gma_json_bool_field(w, "indirect", c->flags & GMA_CHAIN_INDIRECT);
	gma_chain_json_members(w, summary, &v);
	gma_json_end_object(w);
}

void gma_chain_print(FILE *f, const struct gma_chain *c, bool descs)
{
	struct gma_chain_view v;
	char summary[256], an[256];

	gma_chain_view_live(&v, c);
	gma_chain_summary(&v, summary, sizeof(summary));
	fprintf(f, " %d ", c->pid);
	gma_print_queue_label(f, c->device_id, c->base, c->queue);
	fprintf(f, " avail %u head %u: %s (%u desc%s%s)", c->avail_idx, c->head, summary,
		c->nr_walked, c->nr_walked == 1 ? "" : "s",
		c->flags & GMA_CHAIN_INDIRECT ? ", indirect" : "");
	if (c->anomalies & ~GMA_ANOM_CHAIN_TRUNCATED) {
		gma_anomaly_format(c->anomalies, an, sizeof(an));
		fprintf(f, " !! %s", an);
	}
	fputc('\n', f);
	if (descs)
		gma_chain_print_descs(f, &v);
}

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

void gma_chain_summary(const struct gma_chain_view *c, char *buf, size_t size)
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

/* Bytes captured of descriptor i. */
static size_t shown_bytes(const struct gma_chain_view *c, size_t i)
{
	if (!c->data || !c->data[i])
		return 0;
	return c->nbytes ? c->nbytes[i] : c->descs[i].snap_len;
}

static bool byte_read(const struct gma_chain_view *c, size_t i, size_t b)
{
	return !c->state || !c->state[i] || c->state[i][b] == GMA_BYTE_READ;
}

void gma_chain_print_descs(FILE *f, const struct gma_chain_view *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct gma_desc_rec *d = &c->descs[i];
		size_t shown = shown_bytes(c, i);

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

/* The prefix of buffer i read from the guest: "bytes" in JSON, unread_from where it stops. */
static size_t read_prefix(const struct gma_chain_view *c, size_t i)
{
	size_t shown = shown_bytes(c, i), b = 0;

	while (b < shown && byte_read(c, i, b))
		b++;
	return b;
}

static void chain_descs_json(struct gma_json *w, const struct gma_chain_view *c)
{
	gma_json_name(w, "descs");
	gma_json_start_array(w);
	for (size_t i = 0; i < c->n; i++) {
		const struct gma_desc_rec *d = &c->descs[i];

		gma_json_start_object(w);
		gma_json_u64_field(w, "index", d->index);
		gma_json_u64_field(w, "addr", d->addr);
		gma_json_u64_field(w, "len", d->len);
		gma_json_u64_field(w, "flags", d->flags);
		gma_json_bool_field(w, "write", d->flags & VRING_DESC_F_WRITE);
		gma_json_bool_field(w, "indirect_table", d->in_indirect);
		gma_json_name(w, "bytes");
		gma_json_hex(w, c->data && c->data[i] ? c->data[i] : NULL, read_prefix(c, i));
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

void gma_chain_json_members(struct gma_json *w, const char *summary, const struct gma_chain_view *c)
{
	gma_json_string_field(w, "summary", summary);
	gma_json_name(w, "anomalies");
	gma_json_anomalies(w, c->anomalies);
	chain_descs_json(w, c);
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
	const struct gma_rec_chain *r = c->rec;

	*v = (struct gma_chain_view){
		.descs = r->descs,
		.n = r->nr_recorded < GMA_CHAIN_DESC_MAX ? r->nr_recorded : GMA_CHAIN_DESC_MAX,
		.data = (__u8 *const *)c->bytes,
		.state = (__u8 *const *)c->state,
		.nbytes = c->nbytes,
		.device_id = c->device_id,
		.queue = r->key.queue,
		.anomalies = c->anomalies,
		.features = c->features,
		.nr_walked = r->nr_descs,
		.total_len = r->total_len,
		/* at notify time the device has not written its status yet: no status shown */
		.at_notify = true,
	};
}

void gma_chain_view_ring(struct gma_chain_view *v, const struct gma_ring_chain *c, __u32 device_id,
			 __u32 queue)
{
	*v = (struct gma_chain_view){
		.descs = c->descs,
		.n = c->nr_descs,
		.data = c->data,
		.state = c->state,
		.device_id = device_id,
		.queue = queue,
		.anomalies = c->anomalies,
	};
}

void gma_chain_json(struct gma_json *w, const struct gma_chain *c)
{
	const struct gma_rec_chain *r = c->rec;
	struct gma_chain_view v;
	char summary[256], label[32];

	gma_chain_view_live(&v, c);
	gma_chain_summary(&v, summary, sizeof(summary));
	gma_json_start_object(w);
	gma_json_string_field(w, "type", "chain");
	gma_json_u64_field(w, "version", GMA_JSON_VERSION);
	gma_json_u64_field(w, "ts_ns", r->ts_ns);
	gma_json_s64_field(w, "pid", c->pid);
	gma_json_string_field(w, "device", gma_device_label(c->device_id, label, sizeof(label)));
	gma_json_u64_field(w, "device_id", c->device_id);
	gma_json_u64_field(w, "base", r->key.base);
	gma_json_string_field(w, "transport", gma_device_transport(r->key.base));
	gma_json_string_field(w, "address", gma_device_address(r->key.base, label, sizeof(label)));
	gma_json_u64_field(w, "queue", r->key.queue);
	gma_json_u64_field(w, "avail_idx", r->avail_idx);
	gma_json_u64_field(w, "head", r->head);
	gma_json_u64_field(w, "nr_descs", r->nr_descs);
	gma_json_u64_field(w, "total_len", r->total_len);
	gma_json_bool_field(w, "indirect", r->indirect_addr);
	gma_chain_json_members(w, summary, &v);
	gma_json_end_object(w);
}

void gma_chain_print(FILE *f, const struct gma_chain *c, bool descs)
{
	const struct gma_rec_chain *r = c->rec;
	struct gma_chain_view v;
	char summary[256], an[256];

	gma_chain_view_live(&v, c);
	gma_chain_summary(&v, summary, sizeof(summary));
	fprintf(f, " %d ", c->pid);
	gma_print_queue_label(f, c->device_id, r->key.base, r->key.queue);
	fprintf(f, " avail %u head %u: %s (%u desc%s%s)", r->avail_idx, r->head, summary,
		r->nr_descs, r->nr_descs == 1 ? "" : "s", r->indirect_addr ? ", indirect" : "");
	if (c->anomalies & ~GMA_ANOM_CHAIN_TRUNCATED) {
		gma_anomaly_format(c->anomalies, an, sizeof(an));
		fprintf(f, " !! %s", an);
	}
	fputc('\n', f);
	if (descs)
		gma_chain_print_descs(f, &v);
}

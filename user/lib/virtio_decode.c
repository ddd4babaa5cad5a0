// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Decoders of device requests (virtio-blk, the virtio-net header) and names of devices,
 * request types, statuses and anomalies. Input bytes are guest data: every field is read
 * only after checking that the bytes holding it were captured. How gma-trace shows them (the
 * one-line formats, frame summaries, console text) is gma-trace's: user/print/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <gma/virtio.h>

#include "gma_internal.h"

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

static bool is_buffer(const struct gma_chain_desc *d)
{
	return !(d->flags & VRING_DESC_F_INDIRECT);
}

int gma_blk_decode(const struct gma_chain *c, struct gma_blk_req *out)
{
	GMA_OPTS(gma_blk_req, req);
	struct virtio_blk_outhdr hdr;
	__u64 readable = 0, writable = 0;
	size_t last_w = SIZE_MAX;

	if (!c || !OUT_VALID(out))
		return -EINVAL;
	GMA_COPY_OUT(out, &req); /* nothing decoded yet */
	if (gma_chain_gather(c, false, (__u8 *)&hdr, sizeof(hdr)) < sizeof(hdr))
		return -ENODATA;
	req.type = hdr.type;
	req.ioprio = hdr.ioprio;
	req.sector = hdr.sector;
	for (size_t i = 0; i < c->nr_descs; i++) {
		const struct gma_chain_desc *d = gma_chain_desc(c, i);

		if (!is_buffer(d))
			continue;
		if (d->flags & VRING_DESC_F_WRITE) {
			writable += d->len;
			last_w = i;
		} else {
			readable += d->len;
		}
	}
	/* Data: readable bytes after the header, writable bytes before the status byte. */
	req.data_len = readable - sizeof(hdr) + (writable ? writable - 1 : 0);
	if (last_w != SIZE_MAX) {
		const struct gma_chain_desc *d = gma_chain_desc(c, last_w);
		__u32 at = d->len - 1;

		if (d->len && at < d->nbytes && d->bytes &&
		    (!d->state || d->state[at] == GMA_BYTE_READ)) {
			req.has_status = true;
			req.status = d->bytes[at];
		}
	}
	GMA_COPY_OUT(out, &req);
	return 0;
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
	GMA_OPTS(gma_net_hdr, h);

	if (!p || !OUT_VALID(out) ||
	    (hdr_len != sizeof(struct virtio_net_hdr) &&
	     hdr_len != sizeof(struct virtio_net_hdr_v1)))
		return -EINVAL;
	if (len < hdr_len)
		return -ENODATA;
	h.flags = p[offsetof(struct virtio_net_hdr, flags)];
	h.gso_type = p[offsetof(struct virtio_net_hdr, gso_type)];
	h.hdr_len = get16le(p + offsetof(struct virtio_net_hdr, hdr_len));
	h.gso_size = get16le(p + offsetof(struct virtio_net_hdr, gso_size));
	h.csum_start = get16le(p + offsetof(struct virtio_net_hdr, csum_start));
	h.csum_offset = get16le(p + offsetof(struct virtio_net_hdr, csum_offset));
	if (hdr_len == sizeof(struct virtio_net_hdr_v1))
		h.num_buffers = get16le(p + offsetof(struct virtio_net_hdr_v1, num_buffers));
	GMA_COPY_OUT(out, &h);
	return 0;
}

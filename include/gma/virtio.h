/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma: VirtIO split rings decoded from userspace, device request decoders, anomaly names,
 * and a QMP client that imports the queue layouts of a running QEMU.
 *
 * Everything these functions read (guest memory, QEMU's replies) is untrusted: loops are
 * bounded, lengths checked, allocations capped. A malformed ring is not an error of the call:
 * it is decoded as far as is safe and its anomalies (enum gma_anomaly, <gma/record.h>) say
 * why it stopped. Functions return 0 or a negative errno unless documented otherwise.
 */
#ifndef GMA_VIRTIO_H
#define GMA_VIRTIO_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include <gma/common.h>
#include <gma/mem.h>
#include <gma/tracer.h>
#include <gma/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of each buffer gma_ring_read() captures by default, and the most it will capture. */
#define GMA_SNAP_LEN_DEFAULT 64
#define GMA_SNAP_LEN_MAX 65536
/* Used elements gma_ring_read() reports: the last min(num, GMA_RING_USED_TAIL). */
#define GMA_RING_USED_TAIL 16
/*
 * What one gma_ring_read() records at most, over all its chains: descriptors, and buffer
 * bytes captured. A well-formed ring never needs more (in-flight chains share no
 * descriptor); a hostile one (every avail entry naming one queue-long chain) would need
 * num * num. Past the budget, chains are cut with GMA_ANOM_CHAIN_TRUNCATED.
 */
#define GMA_RING_DESCS_MAX (4 * GMA_QUEUE_NUM_MAX)
#define GMA_RING_BYTES_MAX (32u << 20)

/* --- Checks shared by live and one-shot decoding (the chain walk: bpf/vring_walk.h) ------ */

/*
 * Anomalies of a layout, as GMA_ANOM_RING_MISALIGNED: for a split ring (VirtIO 1.x) the
 * descriptor area must be 16-byte aligned, the driver area 2, the device area 4; for a legacy
 * layout (GMA_QUEUE_LEGACY) the descriptor table and the used ring must be page (4096)
 * aligned and the avail ring 2; for a packed ring 16, 4, 4. A queue size of 0, above
 * GMA_QUEUE_NUM_MAX, or (split rings only) not a power of 2 also sets RING_MISALIGNED: the
 * ring's geometry breaks the spec either way. Returns 0 or GMA_ANOM_RING_MISALIGNED.
 */
GMA_API __u32 gma_queue_layout_anomalies(const struct gma_queue_layout *q);

/* --- One-shot ring decode through the accessor ------------------------------------------ */

struct gma_ring_read_opts {
	size_t sz;
	/* Bytes of each buffer to capture: 0 means GMA_SNAP_LEN_DEFAULT; at most SNAP_LEN_MAX. */
	__u32 snap_len;
	/* Chains to decode: 0 means all outstanding ones (never more than the queue size). */
	__u32 max_chains;
	size_t : 0;
};

/* A used element of a ring: an element of struct gma_ring's used, read with gma_ring_used(). */
struct gma_ring_used_elem {
	__u16 pos; /* free-running position in the used ring */
	__u32 id;
	__u32 len;
};

/*
 * The state of a queue at one moment. anomalies holds the ring-level bits: the layout's
 * (RING_MISALIGNED), AVAIL_JUMP (avail idx more than num ahead of used idx: only num chains
 * decoded), RING_UNREADABLE (an index or the avail ring could not be read; what follows it is
 * absent) and PACKED (packed ring: no chains, indices 0). Each chain has its own anomalies.
 */
struct gma_ring {
	size_t sz; /* bytes of this struct libgma filled: GMA_HAS() */
	struct gma_queue_layout layout;
	__u32 anomalies;
	__u16 avail_flags;
	__u16 avail_idx;
	__u16 used_flags;
	__u16 used_idx;
	__u32 nr_pending; /* avail_idx - used_idx, as the guest claims it */
	/*
	 * The chains made available and not yet used, from used_idx on in avail order:
	 * gma_ring_chain(r, 0 .. nr_chains - 1). Each chain's descriptors hold the first
	 * snap_len bytes of their buffers; states GMA_BYTE_READ, GMA_BYTE_UNMAPPED (outside
	 * guest memory) or GMA_BYTE_FAULT (the backend could not copy it).
	 */
	__u32 nr_chains;
	size_t chain_sz;
	const struct gma_chain *chains;
	/* The last used elements, oldest first, the last at used_idx - 1: gma_ring_used(). */
	__u32 nr_used;
	size_t used_sz;
	const struct gma_ring_used_elem *used;
};

/* Chain i of r, i below r->nr_chains. */
static inline const struct gma_chain *gma_ring_chain(const struct gma_ring *r, size_t i)
{
	return GMA_ELEM(struct gma_chain, r->chains, i, r->chain_sz);
}

/* Used element i of r, i below r->nr_used. */
static inline const struct gma_ring_used_elem *gma_ring_used(const struct gma_ring *r, size_t i)
{
	return GMA_ELEM(struct gma_ring_used_elem, r->used, i, r->used_sz);
}

/*
 * Reads and decodes the split ring q through mem, entirely in userspace. Ring indices are
 * read with gma_mem_read_volatile() (falling back to gma_mem_read_obj() where the backend
 * refuses, e.g. the process backend's -EOPNOTSUPP). Descriptor chains are walked with loop
 * detection (a visited bitmap of num bits), every index range-checked, indirect tables
 * followed one level; the walk stops at DESC_OUT_OF_RANGE, CHAIN_LOOP, CHAIN_TOO_LONG,
 * NESTED_INDIRECT, INDIRECT_LEN or an unreadable table (BUFFER_UNMAPPED) and the chain keeps
 * what was walked. After an INDIRECT descriptor the main chain ends (as devices do). Past
 * GMA_RING_DESCS_MAX descriptors or GMA_RING_BYTES_MAX bytes in all, chains are cut short
 * (or captured short) with CHAIN_TRUNCATED.
 * Returns 0 and *out (free with gma_ring_free) even for a malformed ring; -EINVAL for NULL
 * arguments or opts->snap_len above GMA_SNAP_LEN_MAX; -ENOMEM. A queue size of 0 or above
 * GMA_QUEUE_NUM_MAX gives RING_MISALIGNED | RING_UNREADABLE and nothing read.
 */
GMA_API int gma_ring_read(struct gma_mem *mem, const struct gma_queue_layout *q,
			  const struct gma_ring_read_opts *opts, struct gma_ring **out);
GMA_API void gma_ring_free(struct gma_ring *ring);

/*
 * Concatenates the captured bytes of chain c's device-readable (writable false) or
 * device-writable buffers, in chain order, into out (at most size bytes). It stops at the
 * first byte not read, and after a buffer that was captured only in part, so the result is
 * always a prefix of what the device sees. Returns the bytes stored (0 for NULL arguments).
 */
GMA_API size_t gma_chain_gather(const struct gma_chain *c, bool writable, __u8 *out, size_t size);

/* --- Device decoders -------------------------------------------------------------------- */

/* A virtio-blk request: struct virtio_blk_outhdr and the status byte. Declare with GMA_OPTS(). */
struct gma_blk_req {
	size_t sz;
	__u32 type; /* VIRTIO_BLK_T_* */
	__u32 ioprio;
	__u64 sector;
	__u64 data_len; /* bytes of the buffers between the header and the status byte */
	bool has_status; /* the status byte was captured */
	__u8 status; /* VIRTIO_BLK_S_*: meaningful only once the device has used the chain */
	size_t : 0;
};

/*
 * Decodes a virtio-blk chain: the header from the first 16 device-readable bytes, the status
 * from the last byte of the last device-writable descriptor recorded (has_status false when
 * that byte was not captured), data_len from the descriptors recorded. out->sz is the
 * caller's (GMA_OPTS()): what it covers is filled. Returns 0, -EINVAL for NULL arguments or
 * an out->sz shorter than a size_t, -ENODATA when fewer than 16 header bytes were captured.
 */
GMA_API int gma_blk_decode(const struct gma_chain *c, struct gma_blk_req *out);

/* "IN", "OUT", "FLUSH", "GET_ID", "DISCARD", "WRITE_ZEROES", ...; NULL for unknown types. */
GMA_API const char *gma_blk_type_name(__u32 type);
/* "OK", "IOERR", "UNSUPP", ...; NULL for unknown values. */
GMA_API const char *gma_blk_status_name(__u8 status);

/* A virtio-net header (struct virtio_net_hdr_v1), host byte order. Declare with GMA_OPTS(). */
struct gma_net_hdr {
	size_t sz;
	__u8 flags; /* VIRTIO_NET_HDR_F_* */
	__u8 gso_type; /* VIRTIO_NET_HDR_GSO_* */
	__u16 hdr_len;
	__u16 gso_size;
	__u16 csum_start;
	__u16 csum_offset;
	__u16 num_buffers; /* 0 in a 10-byte header, which has no such field */
	size_t : 0;
};

/*
 * The header length a driver uses: 12 with VIRTIO_F_VERSION_1 or VIRTIO_NET_F_MRG_RXBUF
 * negotiated, 10 (the legacy struct virtio_net_hdr) otherwise.
 */
GMA_API size_t gma_net_hdr_len(bool version_1, bool mrg_rxbuf);

/*
 * Parses a header of hdr_len bytes (10 or 12) from p into out, as far as out->sz (the
 * caller's, GMA_OPTS()) reaches. Returns 0, -EINVAL for another hdr_len, NULL arguments or an
 * out->sz shorter than a size_t, -ENODATA when len < hdr_len.
 */
GMA_API int gma_net_hdr_parse(const __u8 *p, size_t len, size_t hdr_len, struct gma_net_hdr *out);

/* "virtio-net", "virtio-blk", "virtio-console", ... for a VIRTIO_ID_*; NULL when unknown. */
GMA_API const char *gma_virtio_device_name(__u32 device_id);

/*
 * For one GMA_ANOM_* bit: a short name ("chain_loop") and a sentence saying what the guest
 * did. NULL for 0, several bits, or a bit enum gma_anomaly does not define.
 */
GMA_API const char *gma_anomaly_name(__u32 bit);
GMA_API const char *gma_anomaly_reason(__u32 bit);

#ifdef __cplusplus
}
#endif

#endif /* GMA_VIRTIO_H */

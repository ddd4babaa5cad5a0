/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gma-trace's printers: descriptor chains shown as gma-trace shows them, one-line formats of
 * what libgma decodes (requests, frames, console text, anomalies), and the JSON writer every
 * record goes through. An internal static library (libgma-print.a) of gma-trace, its tests
 * and benchmarks: not installed, not part of libgma's ABI, changed with gma-trace's output.
 * The JSON records are documented in doc/json.md and carry "version" (GMA_JSON_VERSION).
 *
 * Strings and bytes from the guest are untrusted: the writer escapes every string it is given
 * and prints buffer bytes as hex, so a record is always one line of valid JSON.
 */
#ifndef GMA_PRINT_GMA_PRINT_H
#define GMA_PRINT_GMA_PRINT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <gma/gma.h>
#include <gma/record.h>
#include <gma/virtio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of gma-trace's JSON records, in each record's "version" member. */
#define GMA_JSON_VERSION 1

/* --- One-line formats -------------------------------------------------------------- */

/* "OUT sector 2048 len 4096 status OK"; snprintf semantics (returns the untruncated length). */
int gma_blk_format(const struct gma_blk_req *req, char *buf, size_t size);
/* "flags NEEDS_CSUM gso TCPV4 hdr_len 54 gso_size 1448 csum 34+16 num_buffers 1". */
int gma_net_hdr_format(const struct gma_net_hdr *h, char *buf, size_t size);
/*
 * One line summarising the Ethernet frame in frame[0, len): addresses, VLAN tags, ARP, IPv4
 * (options, fragments), IPv6 (extension headers), UDP, TCP (flags), ICMP, ICMPv6, e.g.
 * "52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff IPv4 10.0.0.2 > 10.0.0.1 UDP 1234 > 5678 len 19".
 * A header cut short by len reads "truncated" rather than being guessed at; inconsistent
 * lengths read "bad-len". snprintf semantics: returns the length of the whole summary, stores
 * at most size - 1 characters and a NUL (when size > 0).
 */
int gma_frame_summary(const __u8 *frame, size_t len, char *buf, size_t size);

/*
 * virtio-console bytes as printable text: printable ASCII as is, "\n", "\r", "\t", "\\" and
 * "\xNN" for the rest; an escape is never cut in half. snprintf semantics.
 */
int gma_console_text(const __u8 *in, size_t len, char *out, size_t size);

/*
 * A mask as comma-separated names, lowest bit first, an unknown bit as its hex value
 * ("chain_loop,zero_len,0x80000000"); "" for 0. snprintf semantics.
 */
int gma_anomaly_format(__u32 mask, char *buf, size_t size);

/* --- The JSON writer -------------------------------------------------------------------- */

/*
 * Compact JSON to a stdio stream: commas and escaping are the writer's, a top-level value
 * ends with a newline (JSON lines). Values inside an object follow gma_json_name(). The
 * writer holds no buffer of its own: what it wrote is in the FILE as each call returns.
 */
struct gma_json;

/* NULL with errno EINVAL (f NULL) or ENOMEM. */
struct gma_json *gma_json_new(FILE *f);
void gma_json_free(struct gma_json *w);

void gma_json_start_object(struct gma_json *w);
void gma_json_end_object(struct gma_json *w);
void gma_json_start_array(struct gma_json *w);
void gma_json_end_array(struct gma_json *w);
void gma_json_name(struct gma_json *w, const char *name);
/* A string (NULL: ""); '"', '\\', control and non-ASCII bytes are escaped. */
void gma_json_string(struct gma_json *w, const char *s);
void gma_json_u64(struct gma_json *w, __u64 v);
void gma_json_s64(struct gma_json *w, __s64 v);
void gma_json_bool(struct gma_json *w, bool v);
/* len bytes as one string of 2 * len lowercase hex digits. */
void gma_json_hex(struct gma_json *w, const __u8 *p, size_t len);
/* A name and its value. */
void gma_json_string_field(struct gma_json *w, const char *name, const char *s);
void gma_json_u64_field(struct gma_json *w, const char *name, __u64 v);
void gma_json_s64_field(struct gma_json *w, const char *name, __s64 v);
void gma_json_bool_field(struct gma_json *w, const char *name, bool v);

/* A GMA_ANOM_* mask as an array of {"name", "reason"}, lowest bit first. */
void gma_json_anomalies(struct gma_json *w, __u32 mask);

/* --- One view of a chain, whoever read it ----------------------------------------------- */

/*
 * A chain and the captured first bytes of its buffers as a printer decodes it: sampled by
 * the kernel at notify time (gma_chain_view_live) or read from userspace (a chain of
 * gma_ring_read() or of on_attach, gma_chain_view_ring, whose queue and device the caller
 * gives). The view points to its chain: valid as long as that is.
 */
struct gma_chain_view {
	const struct gma_chain *c; /* descriptors, bytes, anomalies, walked length */
	__u32 device_id;
	__u32 queue;
	__u64 features; /* negotiated features, 0 when unknown (then VirtIO 1.x is assumed) */
};

void gma_chain_view_live(struct gma_chain_view *v, const struct gma_chain *c);
void gma_chain_view_ring(struct gma_chain_view *v, const struct gma_chain *c, __u32 device_id,
			 __u32 queue);

/*
 * The device-specific one-line summary: "OUT sector 12 len 512 status OK" (virtio-blk), a
 * frame summary (virtio-net transmit), the text (virtio-console transmit), else the number
 * of descriptors and bytes. Always NUL-terminated when size > 0.
 */
void gma_chain_summary(const struct gma_chain_view *v, char *buf, size_t size);

/* Text: one line per descriptor with the first 16 bytes of its buffer ("--" not read). */
void gma_chain_print_descs(FILE *f, const struct gma_chain_view *v);

/*
 * JSON: the members every chain record ends with, "summary", "anomalies" and "descs" (each
 * descriptor with its read bytes as hex), inside an object the caller opened.
 */
void gma_chain_json_members(struct gma_json *w, const char *summary,
			    const struct gma_chain_view *v);

/* "virtio-blk", or "device 42" / "virtio" when unknown; returns buf or a static name. */
const char *gma_device_label(__u32 device_id, char *buf, size_t size);
/*
 * Where a device is, from its key (struct gma_chain.base, gma_queue_stats.base): a PCI
 * function's address ("0000:00:03.0") or a virtio-mmio window's base in hex ("d0001000").
 * Returns buf.
 */
const char *gma_device_address(__u64 base, char *buf, size_t size);
/* The transport of a device key: "pci" or "mmio". */
const char *gma_device_transport(__u64 base);
/* "virtio-blk@d0001000 q0", "virtio-net@0000:00:03.0 q1". */
void gma_print_queue_label(FILE *f, __u32 device_id, __u64 base, __u32 queue);

/*
 * A chain of the live trace as gma-trace rings prints it: the text line after the caller's
 * timestamp (and, with descs, its descriptors), or one JSON "chain" record.
 */
void gma_chain_print(FILE *f, const struct gma_chain *c, bool descs);
void gma_chain_json(struct gma_json *w, const struct gma_chain *c);

#ifdef __cplusplus
}
#endif

#endif /* GMA_PRINT_GMA_PRINT_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The PCI side of a running QEMU, over the QMP transport (qmp.c): where the guest's ECAM
 * window is mapped now (gma_qmp_pci_ecam()), and one PCI function as it is now, its
 * configuration space and BAR sizes, as a gma_pci_function (gma_qmp_pci_function()), for a
 * trace that starts after the guest's driver set the function up. QEMU's answers are parsed
 * as untrusted text: fixed-width fields, bounded lists, bridges followed to a bounded depth.
 *
 * "info mtree" shows where q35 maps PCI configuration space (ECAM):
 *
 *   address-space: memory
 *     0000000000000000-ffffffffffffffff (prio 0, i/o): system
 *       00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include <gma/qmp.h>
#include <gma/virtio.h>

#include "gma_internal.h"
#include "qmp_internal.h"

/* --- the PCI ECAM window ------------------------------------------------------------------ */

#define ECAM_REGION "pcie-mmcfg-mmio" /* QEMU's name for it (hw/pci/pcie_host.c) */

/* 16 hex digits at s, as QEMU prints addresses in "info mtree". */
static bool hex16(const char *s, __u64 *v)
{
	char num[17];
	char *e;

	memcpy(num, s, 16);
	num[16] = '\0';
	errno = 0;
	*v = strtoull(num, &e, 16);
	return !errno && !*e && num[0] != '-' && num[0] != '+' && num[0] != ' ';
}

/* "START-END (prio P, KIND): " at the start of an mtree line: the range, and what follows. */
static const char *mtree_range(const char *s, size_t len, __u64 *start, __u64 *end)
{
	const char *colon = memchr(s, ':', len);

	if (len < 34 || s[16] != '-' || s[33] != ' ' || !colon || colon + 2 > s + len)
		return NULL;
	if (!hex16(s, start) || !hex16(s + 17, end) || *end < *start)
		return NULL;
	return colon + 2;
}

/* Whether the len bytes at s are name, or name then " [disabled]" or another attribute. */
static bool is_region(const char *s, size_t len, const char *name, bool *disabled)
{
	size_t n = strlen(name);

	if (len < n || memcmp(s, name, n) || (len > n && s[n] != ' '))
		return false;
	*disabled = len > n && memmem(s + n, len - n, "[disabled]", 10);
	return true;
}

/*
 * Whether what follows an mtree line's range (len bytes at what) maps the window: the
 * region itself, or an alias of it from its start, not disabled.
 */
static bool maps_ecam(const char *what, size_t len)
{
	const char *at;
	bool disabled;
	__u64 off;

	if (is_region(what, len, ECAM_REGION, &disabled))
		return !disabled;
	if (!hmp_starts(what, len, "alias "))
		return false;
	/* alias NAME @pcie-mmcfg-mmio OFFSET-END: only from the window's start */
	at = memmem(what, len, " @" ECAM_REGION " ", 18);
	return at && (size_t)(what + len - (at + 18)) >= 16 && hex16(at + 18, &off) && !off &&
	       !memmem(what, len, "[disabled]", 10);
}

/*
 * The window in "info mtree": in the system memory address space ("address-space: memory",
 * possibly listed with others sharing its tree), a region named pcie-mmcfg-mmio (q35), or an
 * alias of it from its start (arm virt's pcie-ecam), not disabled. The "memory-region:"
 * sections after the address spaces list regions at offset 0: never a mapping. Returns
 * whether one was found.
 */
static bool parse_mtree_ecam(const char *text, __u64 *base, __u64 *size)
{
	bool in_memory = false, in_tree = false;
	const char *p = text, *s, *what;
	size_t ind, len;
	__u64 start, end;

	while ((s = hmp_next_line(&p, &ind, &len))) {
		if (!ind) {
			/* a header: a group of address spaces sharing the tree that follows */
			if (in_tree)
				in_memory = false;
			in_tree = false;
			if (hmp_starts(s, len, "address-space: memory") && len == 21)
				in_memory = true;
			continue;
		}
		in_tree = true;
		if (!in_memory)
			continue;
		what = mtree_range(s, len, &start, &end);
		if (!what || !maps_ecam(what, len - (what - s)))
			continue;
		*base = start;
		*size = end - start + 1;
		return true;
	}
	return false;
}

int gma_qmp_pci_ecam(struct gma_qmp *q, __u64 *base, __u32 *buses)
{
	json_object *ret = NULL;
	__u64 b = 0, size = 0;
	bool found = false;
	int err;

	if (!q || !base || !buses)
		return -EINVAL;
	err = qmp_hmp(q, "info mtree", &ret);
	if (err)
		return err;
	if (!json_object_is_type(ret, json_type_string)) {
		json_object_put(ret);
		return -EPROTO;
	}
	found = parse_mtree_ecam(json_object_get_string(ret), &b, &size);
	json_object_put(ret);
	if (!found)
		return -ENOENT;
	/* 1 MiB a bus, 1 to 256 of them, 1 MiB aligned, below 2^52 */
	if (!size || (size & 0xfffff) || size > 256ULL << 20 || (b & 0xfffff) || b >= 1ULL << 52 ||
	    (1ULL << 52) - b < size)
		return -EPROTO;
	*base = b;
	*buses = (__u32)(size >> 20);
	return 0;
}

/* --- a PCI function as it is now: configuration space and BAR sizes ----------------------- */

#define PCI_CFG_BYTES 256
#define PCI_CFG_WORDS (PCI_CFG_BYTES / 4)
#define QUERY_PCI_DEPTH_MAX 8 /* bridges followed in query-pci's answer */

/*
 * words 32-bit words of guest physical memory at gpa as QEMU reads them, 4 bytes an access:
 * "xp /Nwx GPA", answered four words a line, "00000000b0008000: 0x10011af4 0x00100107 ...".
 * -EPROTO for an answer that is not that (an error text, a line for another address).
 */
static int read_phys_words(struct gma_qmp *q, __u64 gpa, __u32 words, __u32 *out)
{
	json_object *ret = NULL;
	const char *s;
	char line[64];
	__u32 n = 0;
	int err;

	snprintf(line, sizeof(line), "xp /%uwx 0x%llx", words, (unsigned long long)gpa);
	err = qmp_hmp(q, line, &ret);
	if (err)
		return err;
	s = json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : "";
	while (*s && n < words) {
		const char *eol = s + strcspn(s, "\r\n"), *colon = memchr(s, ':', eol - s);
		__u64 addr;

		if (!colon || colon - s != 16 || !hex16(s, &addr) || addr != gpa + 4ULL * n)
			break;
		for (s = colon + 1; n < words && s < eol;) {
			unsigned long long v;
			char *e;

			if (eol - s < 11 || memcmp(s, " 0x", 3))
				break;
			v = strtoull(s + 3, &e, 16);
			if (e != s + 11)
				break;
			out[n++] = (__u32)v;
			s = e;
		}
		if (s != eol)
			break;
		s = eol + strspn(eol, "\r\n");
	}
	json_object_put(ret);
	return n == words ? 0 : -EPROTO;
}

/* Words [from, from + words) of the function's configuration space at ecam into cfg. */
static int read_config(struct gma_qmp *q, __u64 ecam, __u32 from, __u32 words, __u8 *cfg,
		       __u64 *read)
{
	__u32 w[PCI_CFG_WORDS];
	int err;

	if (from >= PCI_CFG_WORDS || words > PCI_CFG_WORDS - from)
		return 0; /* a capability claiming bytes past the space: not read */
	err = read_phys_words(q, ecam + 4 * from, words, w);
	for (__u32 i = 0; !err && i < words; i++) {
		for (__u32 b = 0; b < 4; b++)
			cfg[4 * (from + i) + b] = w[i] >> (8 * b);
		read[(from + i) / 64] |= 1ULL << ((from + i) % 64);
	}
	return err;
}

/*
 * The configuration space, read as a driver reads it, never whole: the header, then each
 * capability of the list, and of a VirtIO PCI configuration access capability
 * (VIRTIO_PCI_CAP_PCI_CFG) never its data window, whose read is a read of the BAR the guest
 * last pointed it at (the ISR, say, which a read clears). Other configuration reads have no
 * side effect.
 */
static int read_function_config(struct gma_qmp *q, __u64 ecam, __u8 *cfg)
{
	__u64 read[PCI_CFG_WORDS / 64] = { 0 };
	__u32 at, len;
	int err;

	err = read_config(q, ecam, 0, PCI_STD_HEADER_SIZEOF / 4, cfg, read);
	if (err)
		return err;
	if ((cfg[PCI_VENDOR_ID] | cfg[PCI_VENDOR_ID + 1] << 8) == 0xffff)
		return -ENODEV; /* nothing there: the bus answers all-ones */
	if (!(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return 0;
	at = cfg[PCI_CAPABILITY_LIST] & 0xfc;
	for (__u32 i = 0; i < PCI_CFG_WORDS && at >= PCI_STD_HEADER_SIZEOF; i++) {
		if (read[at / 4 / 64] & 1ULL << (at / 4 % 64))
			break; /* a loop in the list */
		err = read_config(q, ecam, at / 4, 1, cfg, read);
		if (err)
			return err;
		len = 0;
		if (cfg[at] == PCI_CAP_ID_VNDR) {
			len = cfg[at + offsetof(struct virtio_pci_cap, cap_len)];
			if (cfg[at + offsetof(struct virtio_pci_cap, cfg_type)] ==
				    VIRTIO_PCI_CAP_PCI_CFG &&
			    len > offsetof(struct virtio_pci_cfg_cap, pci_cfg_data))
				len = offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
		} else if (cfg[at] == PCI_CAP_ID_MSIX) {
			len = PCI_CAP_MSIX_SIZEOF;
		}
		if (len > 4)
			err = read_config(q, ecam, at / 4 + 1, (len + 3) / 4 - 1, cfg, read);
		if (err)
			return err;
		at = cfg[at + PCI_CAP_LIST_NEXT] & 0xfc;
	}
	return 0;
}

static size_t array_len(json_object *o)
{
	return json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
}

/*
 * The device at (bus, devfn) among b's "devices" (a PciBusInfo of query-pci's answer, or a
 * bridge's PciBridgeInfo, which lists the devices behind it), or behind one of its bridges.
 */
static json_object *query_pci_find(json_object *b, __u32 bus, __u32 devfn, int depth)
{
	json_object *devs = qmp_get(b, "devices");

	for (size_t k = 0; k < array_len(devs); k++) {
		json_object *d = json_object_array_get_idx(devs, k), *br, *found;
		__u64 nr, slot, fn;

		if (qmp_get_u64(d, "bus", &nr) && qmp_get_u64(d, "slot", &slot) &&
		    qmp_get_u64(d, "function", &fn) && nr == bus && slot < 32 && fn < 8 &&
		    (slot << 3 | fn) == devfn)
			return d;
		br = qmp_get(d, "pci_bridge");
		if (br && depth < QUERY_PCI_DEPTH_MAX &&
		    (found = query_pci_find(br, bus, devfn, depth + 1)))
			return found;
	}
	return NULL;
}

/* Each BAR's size from query-pci's "regions" of the function at (bus, devfn). */
static int read_bar_sizes(struct gma_qmp *q, __u32 bus, __u32 devfn, __u64 *bar_size)
{
	json_object *ret = NULL, *d = NULL, *regions;
	int err;

	err = qmp_command(q, "query-pci", NULL, &ret);
	if (err)
		return err;
	for (size_t i = 0; !d && i < array_len(ret); i++)
		d = query_pci_find(json_object_array_get_idx(ret, i), bus, devfn, 0);
	regions = qmp_get(d, "regions");
	for (size_t i = 0; i < array_len(regions); i++) {
		json_object *r = json_object_array_get_idx(regions, i);
		__u64 bar, size;

		if (qmp_get_u64(r, "bar", &bar) && qmp_get_u64(r, "size", &size) && bar < 6)
			bar_size[bar] = size;
	}
	json_object_put(ret);
	return d ? 0 : -ENODEV;
}

int gma_qmp_pci_function(struct gma_qmp *q, __u64 ecam_base, __u32 ecam_buses, __u64 key,
			 struct gma_pci_function *out)
{
	__u32 bus = (key >> 8) & 0xff, devfn = key & 0xff;
	struct gma_pci_function *fn;
	int err;

	if (!q || !OUT_VALID(out) || !GMA_KEY_IS_PCI(key) || key >> 16 != GMA_PCI_KEY >> 16 ||
	    bus >= ecam_buses || ecam_buses > 256 || (ecam_base & 0xfffff) ||
	    ecam_base >= 1ULL << 52)
		return -EINVAL;
	fn = calloc(1, sizeof(*fn)); /* 700 bytes: off the stack */
	if (!fn)
		return -ENOMEM;
	fn->sz = sizeof(*fn);
	err = read_function_config(q, ecam_base + ((__u64)bus << 20 | (__u64)devfn << 12),
				   fn->config);
	if (!err)
		err = read_bar_sizes(q, bus, devfn, fn->bar_size);
	/* QEMU maps queues in order: its queue_notify_off reads the queue index */
	for (__u32 i = 0; i < GMA_PCI_NOTIFY_QUEUES; i++)
		fn->queue_notify_off[i] = i;
	fn->notify_off_known = ~0ULL;
	GMA_COPY_OUT(out, fn);
	free(fn);
	return err;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * PCI bus 0 of the demo VMM; see pci.h. The guest does what firmware and an OS do on real
 * hardware: it finds functions by reading vendor IDs through 0xCF8/0xCFC or ECAM (having
 * programmed the q35 host bridge's PCIEXBAR, or at the fixed base), sizes each BAR
 * (writes all-ones, reads back the mask), programs its address and enables decoding in the
 * command register. The VMM only follows: a BAR's window is on the bus exactly while the
 * function's command register enables its space and the BAR holds a usable address.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "demo-abi.h"
#include "demo-log.h"
#include "pci.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_CONFIG_ENABLE 0x80000000u
/*
 * The q35 host bridge's PCIEXBAR (Intel 3 Series chipset datasheet, MCH config 0x60): bit 0
 * enables the ECAM window, bits 2:1 its length (0: 256 buses, 1: 128, 2: 64, 3: reserved),
 * bits 35:28 its base, and bit 27 (128 and 64 buses), bit 26 (64 buses) too.
 */
#define Q35_PCIEXBAR 0x60
#define Q35_PCIEXBAR_WMASK 0x0000000ffc000007ULL
#define ECAM_BUS_SHIFT 20

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The device key gma uses for a PCI function, as in the virtio devices' log lines */
static uint64_t pci_key(const struct pci_func *f)
{
	return DEMO_PCI_BASE(0, f->dev, f->fn);
}

static const char *bar_type(const struct pci_bar *b)
{
	return b->io ? "io" : b->mem64 ? "mem64" : "mem32";
}

uint64_t pci_bar_addr(const struct pci_func *f, unsigned int i)
{
	const struct pci_bar *b = &f->bars[i];
	uint32_t lo = get32(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * i]);

	if (b->io)
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	return (lo & PCI_BASE_ADDRESS_MEM_MASK) |
	       (b->mem64 ? (uint64_t)get32(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * i + 4]) << 32 : 0);
}

int pci_bars_json(const struct pci_func *f, char *out, size_t size)
{
	int n = snprintf(out, size, "[");

	for (unsigned int i = 0; i < PCI_DEMO_BARS; i++) {
		const struct pci_bar *b = &f->bars[i];

		if (!b->size || (size_t)n >= size)
			continue;
		n += snprintf(out + n, size - n,
			      "%s{\"bar\":%u,\"type\":\"%s\",\"prefetchable\":%s,\"addr\":%" PRIu64
			      ",\"size\":%" PRIu64 ",\"decoded\":%s}",
			      n > 1 ? "," : "", i, bar_type(b), b->prefetch ? "true" : "false",
			      pci_bar_addr(f, i), b->size, b->mapped ? "true" : "false");
	}
	if ((size_t)n < size)
		n += snprintf(out + n, size - n, "]");
	return n;
}

/*
 * After a write to the command register or a BAR: put each BAR's window where the guest now
 * wants it, or take it off the bus. An address of 0, one that wraps, an I/O BAR beyond 64K,
 * or one that would overlap another window is not decoded.
 */
static void update_bars(struct pci_func *f)
{
	uint16_t cmd = f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8;

	for (unsigned int i = 0; i < PCI_DEMO_BARS; i++) {
		struct pci_bar *b = &f->bars[i];
		struct bus *bus = b->io ? f->host->pio : f->host->mmio;
		uint64_t addr = pci_bar_addr(f, i), want = addr;
		bool on = cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);

		if (!b->size)
			continue;
		if (!on || !addr || addr + b->size < addr || (b->io && addr + b->size > 0x10000))
			want = 0;
		if (want == b->mapped)
			continue;
		if (b->mapped)
			bus_del(bus, b->mapped, b->opaque);
		b->mapped = 0;
		if (want && !bus_add(bus, f->bdf, want, b->size, b->fn, b->opaque))
			b->mapped = want;
		jlog("{\"event\":\"pci_bar\",\"pci\":\"%s\",\"base\":%" PRIu64
		     ",\"bar\":%u,\"type\":\"%s\",\"prefetchable\":%s,\"addr\":%" PRIu64
		     ",\"size\":%" PRIu64 ",\"decoded\":%s}",
		     f->bdf, pci_key(f), i, bar_type(b), b->prefetch ? "true" : "false", addr,
		     b->size, b->mapped ? "true" : "false");
	}
}

static void cfg_write(struct pci_func *f, uint32_t reg, const uint8_t *data, uint32_t len)
{
	bool bars = false;

	f->cfg_writes++;
	if (reg >= PCI_BASE_ADDRESS_0 && reg < PCI_BASE_ADDRESS_5 + 4 && len == 4 &&
	    get32(data) == 0xffffffff)
		f->bar_sizings++;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t r = reg + i;

		f->cfg[r] = (f->cfg[r] & ~f->wmask[r]) | (data[i] & f->wmask[r]);
		if ((r >= PCI_COMMAND && r < PCI_COMMAND + 2) ||
		    (r >= PCI_BASE_ADDRESS_0 && r < PCI_BASE_ADDRESS_5 + 4))
			bars = true;
	}
	if (bars)
		update_bars(f);
	if (f->cfg_hook)
		f->cfg_hook(f, reg, len, true);
}

static void cfg_read(struct pci_func *f, uint32_t reg, uint8_t *data, uint32_t len)
{
	f->cfg_reads++;
	if (reg == PCI_CAPABILITY_LIST || (f->last_cap && reg >= PCI_STD_HEADER_SIZEOF))
		f->cap_reads++;
	if (f->cfg_hook)
		f->cfg_hook(f, reg, len, false);
	memcpy(data, &f->cfg[reg], len);
}

/*
 * An ECAM access at @off of the window: bus << 20 | dev << 15 | fn << 12 | register. An
 * access not naturally aligned or of another width is dropped (reads: all-ones); the
 * extended space (0x100-0xfff) has no capabilities (reads 0).
 */
static void ecam_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *p = opaque;
	unsigned int bus = off >> ECAM_BUS_SHIFT, dev = (off >> 15) & 0x1f, fn = (off >> 12) & 7;
	uint32_t reg = off & 0xfff;
	struct pci_func *f = NULL;

	if (is_write)
		p->ecam_writes++;
	else
		p->ecam_reads++;
	if (bus == 0 && fn == 0)
		f = p->devs[dev];
	if (!f || (len != 1 && len != 2 && len != 4) || (reg & (len - 1)))
		return;
	if (reg >= sizeof(f->cfg)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write)
		cfg_write(f, reg, data, len);
	else
		cfg_read(f, reg, data, len);
}

/* The ECAM window moves to @base, @buses buses (0: off the bus); logged. */
static int ecam_map(struct pci_host *p, uint64_t base, uint32_t buses)
{
	int e = 0;

	if (base == p->ecam_base && buses == p->ecam_buses)
		return 0;
	if (p->ecam_buses)
		bus_del(p->mmio, p->ecam_base, p);
	p->ecam_base = p->ecam_buses = 0;
	if (buses) {
		e = bus_add(p->mmio, "pci-ecam", base, (uint64_t)buses << ECAM_BUS_SHIFT, ecam_mmio,
			    p);
		if (!e) {
			p->ecam_base = base;
			p->ecam_buses = buses;
		}
	}
	jlog("{\"event\":\"pci_ecam\",\"base\":%" PRIu64 ",\"buses\":%u,\"mapped\":%s}", base,
	     buses, p->ecam_buses ? "true" : "false");
	return e;
}

/* After a write to the host bridge: PCIEXBAR says where ECAM is. */
static void bridge_hook(struct pci_func *f, uint32_t reg, uint32_t len, bool is_write)
{
	uint64_t bar = get64(&f->cfg[Q35_PCIEXBAR]), mask = 0xff0000000ULL;
	uint32_t buses = 0;

	if (!is_write || reg + len <= Q35_PCIEXBAR || reg >= Q35_PCIEXBAR + 8)
		return;
	switch ((bar >> 1) & 3) {
	case 0:
		buses = 256;
		break;
	case 1:
		buses = 128;
		mask |= 1ULL << 27;
		break;
	case 2:
		buses = 64;
		mask |= 3ULL << 26;
		break;
	}
	if (!(bar & 1))
		buses = 0;
	ecam_map(f->host, buses ? bar & mask : 0, buses);
}

/* CONFIG_ADDRESS: only whole 32-bit accesses (0xCF9 is another register on real chipsets). */
static void pio_address(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *p = opaque;

	if (off || len != 4)
		return;
	if (is_write)
		p->addr = get32(data) & ~3u;
	else
		put32(data, p->addr);
}

/* CONFIG_DATA: 1, 2 or 4 bytes of the register CONFIG_ADDRESS selects, at 0xCFC + (reg & 3). */
static void pio_data(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *p = opaque;
	uint32_t a = p->addr, reg = (a & 0xfc) + (uint32_t)off;
	unsigned int bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	struct pci_func *f = NULL;

	if (is_write)
		p->cfg_writes++;
	else
		p->cfg_reads++;
	if ((a & PCI_CONFIG_ENABLE) && bus == 0 && fn == 0)
		f = p->devs[dev];
	/* Nothing there: writes are dropped, reads give all-ones (already in @data). */
	if (!f)
		return;
	if (is_write)
		cfg_write(f, reg, data, len);
	else
		cfg_read(f, reg, data, len);
}

void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device, uint8_t revision,
		   uint32_t class, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(f, 0, sizeof(*f));
	put16(&f->cfg[PCI_VENDOR_ID], vendor);
	put16(&f->cfg[PCI_DEVICE_ID], device);
	f->cfg[PCI_REVISION_ID] = revision;
	f->cfg[PCI_CLASS_PROG] = class & 0xff;
	put16(&f->cfg[PCI_CLASS_DEVICE], class >> 8);
	f->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	put16(&f->cfg[PCI_SUBSYSTEM_VENDOR_ID], subsys_vendor);
	put16(&f->cfg[PCI_SUBSYSTEM_ID], subsys);
	put16(&f->wmask[PCI_COMMAND],
	      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	f->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	f->wmask[PCI_LATENCY_TIMER] = 0xff;
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

void pci_func_set_bar(struct pci_func *f, unsigned int i, uint64_t size, bool io, bool mem64,
		      bool prefetch, bus_handler fn, void *opaque)
{
	uint8_t *reg = &f->cfg[PCI_BASE_ADDRESS_0 + 4 * i];
	uint8_t *mask = &f->wmask[PCI_BASE_ADDRESS_0 + 4 * i];
	uint64_t wmask = ~(size - 1);

	f->bars[i] = (struct pci_bar){ size, io, mem64, prefetch, fn, opaque, 0 };
	if (io) {
		put32(reg, PCI_BASE_ADDRESS_SPACE_IO);
		put32(mask, (uint32_t)wmask & PCI_BASE_ADDRESS_IO_MASK);
		return;
	}
	put32(reg, (mem64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32) |
			   (prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0));
	put32(mask, (uint32_t)wmask & PCI_BASE_ADDRESS_MEM_MASK);
	if (mem64)
		put32(mask + 4, (uint32_t)(wmask >> 32));
}

uint8_t pci_func_add_cap(struct pci_func *f, const void *cap, uint8_t len)
{
	uint8_t off = f->cap_end ? f->cap_end : PCI_STD_HEADER_SIZEOF;

	memcpy(&f->cfg[off], cap, len);
	f->cfg[off + PCI_CAP_LIST_NEXT] = 0;
	if (f->last_cap)
		f->cfg[f->last_cap + PCI_CAP_LIST_NEXT] = off;
	else
		f->cfg[PCI_CAPABILITY_LIST] = off;
	put16(&f->cfg[PCI_STATUS], PCI_STATUS_CAP_LIST);
	f->last_cap = off;
	f->cap_end = (off + len + 3) & ~3;
	return off;
}

int pci_host_attach(struct pci_host *p, struct pci_func *f, unsigned int dev)
{
	if (dev >= PCI_DEMO_DEVS || p->devs[dev])
		return -EBUSY;
	f->host = p;
	f->dev = dev;
	f->fn = 0;
	snprintf(f->bdf, sizeof(f->bdf), "0000:00:%02x.0", dev);
	p->devs[dev] = f;
	jlog("{\"event\":\"pci_function\",\"pci\":\"%s\",\"base\":%" PRIu64
	     ",\"vendor_id\":%u,\"device_id\":%u,\"revision\":%u,\"class\":%u,"
	     "\"subsystem_vendor_id\":%u,\"subsystem_id\":%u}",
	     f->bdf, pci_key(f), f->cfg[0] | f->cfg[1] << 8, f->cfg[2] | f->cfg[3] << 8,
	     f->cfg[PCI_REVISION_ID],
	     f->cfg[PCI_CLASS_PROG] | f->cfg[PCI_CLASS_DEVICE] << 8 |
		     f->cfg[PCI_CLASS_DEVICE + 1] << 16,
	     f->cfg[PCI_SUBSYSTEM_VENDOR_ID] | f->cfg[PCI_SUBSYSTEM_VENDOR_ID + 1] << 8,
	     f->cfg[PCI_SUBSYSTEM_ID] | f->cfg[PCI_SUBSYSTEM_ID + 1] << 8);
	return 0;
}

int pci_host_init(struct pci_host *p, struct bus *pio, struct bus *mmio, uint32_t config)
{
	uint64_t wmask = Q35_PCIEXBAR_WMASK;
	int e = 0;

	memset(p, 0, sizeof(*p));
	p->pio = pio;
	p->mmio = mmio;
	p->config = config;
	/* a VMM with a fixed ECAM window has no 0xCF8/0xCFC (Cloud Hypervisor, crosvm) */
	if (config != DEMO_PCI_CONFIG_FIXED) {
		e = bus_add(pio, "pci-address", PCI_CONFIG_ADDRESS, 4, pio_address, p);
		if (!e)
			e = bus_add(pio, "pci-data", PCI_CONFIG_DATA, 4, pio_data, p);
	}
	if (e)
		return e;
	/* 00.0: the host bridge of a q35 machine (Intel 82G33/G31/P35/P31 DRAM controller). */
	pci_func_init(&p->bridge, 0x8086, 0x29c0, 2, 0x060000 /* host bridge */, 0x1af4, 0x1100);
	if (config == DEMO_PCI_CONFIG_Q35) {
		/* its PCIEXBAR, disabled until the guest programs it */
		for (unsigned int i = 0; i < 8; i++)
			p->bridge.wmask[Q35_PCIEXBAR + i] = wmask >> (8 * i);
		p->bridge.cfg_hook = bridge_hook;
	}
	e = pci_host_attach(p, &p->bridge, 0);
	if (!e && config == DEMO_PCI_CONFIG_FIXED)
		e = ecam_map(p, DEMO_ECAM_FIXED_BASE, DEMO_ECAM_FIXED_BUSES);
	return e;
}

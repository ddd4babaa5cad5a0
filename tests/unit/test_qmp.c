// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The QMP client against a fake QEMU: a forked child serving a unix socket with the JSON
 * shapes and "info qtree" text QEMU 7.2 (microvm, virtio-mmio devices) really sends, plus
 * misbehaving peers: silent, endless lines, not QMP, hanging up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include <gma/qmp.h>
#include <gma/virtio.h>
#include <linux/pci_regs.h>

#include "q35_virtio_pci.h"

/*
 * "info mtree" of a QEMU q35 machine once SeaBIOS enabled PCIEXBAR, cut short: address
 * spaces sharing one tree, disabled aliases, the ECAM region among the system's, and the
 * region sections after the address spaces, which list regions at offset 0.
 */
static const char mtree_q35[] =
	"address-space: cpu-memory-0\n"
	"address-space: memory\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	"    0000000000000000-000000007fffffff (prio 0, ram): alias ram-below-4g @pc.ram "
	"0000000000000000-000000007fffffff\n"
	"    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n"
	"      00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
	"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"    00000000000c0000-00000000000c3fff (prio 1, i/o): alias pam-pci @pci "
	"00000000000c0000-00000000000c3fff [disabled]\n"
	"    0000000020000000-0000000020000000 (prio 1, i/o): tseg-blackhole [disabled]\n"
	"    00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\n"
	"    00000000fec00000-00000000fec00fff (prio 0, i/o): kvm-ioapic\n"
	"\n"
	"address-space: I/O\n"
	"  0000000000000000-000000000000ffff (prio 0, i/o): io\n"
	"    0000000000000cf8-0000000000000cfb (prio 0, i/o): pci-conf-idx\n"
	"\n"
	"memory-region: pc.ram\n"
	"  0000000000000000-000000007fffffff (prio 0, ram): pc.ram\n"
	"\n"
	"memory-region: pcie-mmcfg-mmio\n"
	"  0000000000000000-000000000fffffff (prio 0, i/o): pcie-mmcfg-mmio\n";

/* What the fake answers to "info mtree" (the test sets it before fake_start). */
static const char *fake_mtree = mtree_q35;

enum fake_mode {
	FAKE_QEMU, /* greeting, capabilities, the virtio queries */
	FAKE_SILENT, /* accepts and never writes */
	FAKE_HUGE_GREETING, /* a 10 MB greeting line */
	FAKE_HUGE_REPLY, /* a normal greeting, then a 10 MB reply */
	FAKE_NOT_QMP, /* a JSON object that is not a greeting */
	FAKE_HANGUP, /* greeting, then closes on the first command */
	FAKE_CAPS_ERROR, /* refuses qmp_capabilities */
};

struct fake {
	pid_t pid;
	char path[108];
};

#define GREETING                                                                           \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
	"\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define EVENT_RESUME                                                                       \
	"{\"timestamp\": {\"seconds\": 1795624847, \"microseconds\": 533109}, \"event\": " \
	"\"RESUME\"}\r\n"

/* "info qtree" of QEMU 7.2 microvm as observed, with the 20 empty transports cut to 2. */
static const char qtree[] = "bus: main-system-bus\r\n"
			    "  type System\r\n"
			    "  dev: acpi-ged-x86, id \"\"\r\n"
			    "    gpio-out \"sysbus-irq\" 1\r\n"
			    "    ged-event = 2 (0x2)\r\n"
			    "    mmio 00000000fea00000/0000000000000004\r\n"
			    "    mmio ffffffffffffffff/0000000000000018\r\n"
			    "  dev: virtio-mmio, id \"\"\r\n"
			    "    gpio-out \"sysbus-irq\" 1\r\n"
			    "    format_transport_address = true\r\n"
			    "    force-legacy = true\r\n"
			    "    ioeventfd = false\r\n"
			    "    mmio 00000000feb02e00/0000000000000200\r\n"
			    "    bus: virtio-mmio-bus.23\r\n"
			    "      type virtio-mmio-bus\r\n"
			    "      dev: virtio-blk-device, id \"\"\r\n"
			    "        drive = \"d\"\r\n"
			    "        queue-size = 256 (0x100)\r\n"
			    "        packed = false\r\n"
			    "  dev: virtio-mmio, id \"\"\r\n"
			    "    gpio-out \"sysbus-irq\" 1\r\n"
			    "    format_transport_address = true\r\n"
			    "    force-legacy = false\r\n"
			    "    ioeventfd = false\r\n"
			    "    mmio 00000000feb02c00/0000000000000200\r\n"
			    "    bus: virtio-mmio-bus.22\r\n"
			    "      type virtio-mmio-bus\r\n"
			    "      dev: virtio-net-device, id \"\"\r\n"
			    "        mac = \"52:54:00:12:34:56\"\r\n"
			    "        netdev = \"n\"\r\n"
			    "  dev: virtio-mmio, id \"\"\r\n"
			    "    gpio-out \"sysbus-irq\" 1\r\n"
			    "    format_transport_address = true\r\n"
			    "    force-legacy = true\r\n"
			    "    ioeventfd = false\r\n"
			    "    mmio 00000000feb02a00/0000000000000200\r\n"
			    "    bus: virtio-mmio-bus.21\r\n"
			    "      type virtio-mmio-bus\r\n"
			    "      dev: virtio-serial-device, id \"\"\r\n"
			    "        max_ports = 31 (0x1f)\r\n"
			    "        bus: virtio-serial-bus.0\r\n"
			    "          type virtio-serial-bus\r\n"
			    "  dev: virtio-mmio, id \"\"\r\n"
			    "    gpio-out \"sysbus-irq\" 1\r\n"
			    "    format_transport_address = true\r\n"
			    "    force-legacy = true\r\n"
			    "    ioeventfd = false\r\n"
			    "    mmio 00000000feb02800/0000000000000200\r\n"
			    "    bus: virtio-mmio-bus.20\r\n"
			    "      type virtio-mmio-bus\r\n"
			    "  dev: virtio-mmio, id \"\"\r\n"
			    "    gpio-out \"sysbus-irq\" 1\r\n"
			    "    format_transport_address = true\r\n"
			    "    force-legacy = true\r\n"
			    "    ioeventfd = false\r\n"
			    "    mmio 00000000feb00000/0000000000000200\r\n"
			    "    bus: virtio-mmio-bus.0\r\n"
			    "      type virtio-mmio-bus\r\n"
			    "  dev: ioapic, id \"\"\r\n"
			    "    gpio-in \"\" 24\r\n"
			    "    version = 32 (0x20)\r\n"
			    "    mmio 00000000fec10000/0000000000001000\r\n";

/* The devices the fake has: x-query-virtio's entries, their bus, queues, status. */
static const struct fake_dev {
	const char *name, *path, *parent_bus;
	int device_id, nr_queues, vring_num;
	bool driver_ok;
} fake_devs[] = {
	{ "virtio-serial", "/machine/peripheral-anon/device[2]",
	  "/machine/unattached/device[25]/virtio-mmio-bus.21", 3, 64, 128, false },
	{ "virtio-net", "/machine/peripheral-anon/device[1]",
	  "/machine/unattached/device[26]/virtio-mmio-bus.22", 1, 3, 256, false },
	{ "virtio-blk", "/machine/peripheral-anon/device[0]",
	  "/machine/unattached/device[27]/virtio-mmio-bus.23", 2, 1, 256, true },
	/* a PCI device: its bus is no virtio-mmio transport */
	{ "virtio-rng", "/machine/peripheral-anon/device[3]/virtio-backend",
	  "/machine/peripheral-anon/device[3]/virtio-bus", 4, 1, 8, false },
};

#define NR_FAKE_DEVS (sizeof(fake_devs) / sizeof(fake_devs[0]))

static void say(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			_exit(0);
		s += n;
		len -= n;
	}
}

static void say_obj(int fd, json_object *o)
{
	say(fd, json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED));
	say(fd, "\r\n");
	json_object_put(o);
}

static void reply(int fd, json_object *id, json_object *ret)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "return", ret);
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	say_obj(fd, o);
}

static void reply_error(int fd, json_object *id, const char *cls, const char *desc)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	say_obj(fd, o);
}

static const struct fake_dev *find_dev(json_object *args)
{
	json_object *p = NULL;

	if (!json_object_object_get_ex(args, "path", &p))
		return NULL;
	for (size_t i = 0; i < NR_FAKE_DEVS; i++)
		if (!strcmp(fake_devs[i].path, json_object_get_string(p)))
			return &fake_devs[i];
	return NULL;
}

/* The PCI proxy of the fake's virtio-pci device (the parent of its virtio-backend). */
static bool is_pci_proxy(json_object *args, const char *property)
{
	json_object *p = NULL, *prop = NULL;

	return json_object_object_get_ex(args, "path", &p) &&
	       json_object_object_get_ex(args, "property", &prop) &&
	       !strcmp(json_object_get_string(p), "/machine/peripheral-anon/device[3]") &&
	       !strcmp(json_object_get_string(prop), property);
}

static json_object *strings(const char *const *s, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(s[i]));
	return a;
}

static json_object *virtio_status(const struct fake_dev *d)
{
	static const char *const transports[] = {
		"VIRTIO_RING_F_EVENT_IDX: Used & avail. event fields enabled",
		"VIRTIO_RING_F_INDIRECT_DESC: Indirect descriptors supported",
	};
	static const char *const statuses[] = {
		"VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready",
		"VIRTIO_CONFIG_S_DRIVER: Driver loaded",
		"VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found",
	};
	json_object *o = json_object_new_object(), *gf = json_object_new_object(),
		    *st = json_object_new_object();

	json_object_object_add(o, "device-endian", json_object_new_string("little"));
	json_object_object_add(o, "bus-name", json_object_new_string(""));
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "device-id", json_object_new_int(d->device_id));
	json_object_object_add(o, "num-vqs", json_object_new_int(d->nr_queues));
	json_object_object_add(gf, "dev-features", json_object_new_array());
	json_object_object_add(gf, "transports",
			       d->driver_ok ? strings(transports, 2) : json_object_new_array());
	json_object_object_add(o, "guest-features", gf);
	json_object_object_add(st, "statuses",
			       d->driver_ok ? strings(statuses, 3) : json_object_new_array());
	json_object_object_add(o, "status", st);
	json_object_object_add(o, "vm-running", json_object_new_boolean(true));
	return o;
}

/* As x-query-virtio-queue-status answers; rings of queue q at 0x4000000 + q * 0x10000. */
static json_object *queue_status(const struct fake_dev *d, int q)
{
	json_object *o = json_object_new_object();
	__u64 base = d->driver_ok ? 0x4000000ULL + (__u64)q * 0x10000 : 0;

	json_object_object_add(o, "signalled-used", json_object_new_int(7));
	json_object_object_add(o, "inuse", json_object_new_int(d->driver_ok ? 2 : 0));
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "vring-align", json_object_new_int(4096));
	json_object_object_add(o, "vring-desc", json_object_new_uint64(base));
	json_object_object_add(o, "signalled-used-valid", json_object_new_boolean(false));
	json_object_object_add(o, "vring-num-default", json_object_new_int(d->vring_num));
	json_object_object_add(o, "vring-avail",
			       json_object_new_uint64(base ? base + 16ULL * d->vring_num : 0));
	json_object_object_add(o, "queue-index", json_object_new_int(q));
	json_object_object_add(o, "last-avail-idx", json_object_new_int(d->driver_ok ? 9 : 0));
	json_object_object_add(o, "vring-used", json_object_new_uint64(base ? base + 0x2000 : 0));
	json_object_object_add(o, "used-idx", json_object_new_int(d->driver_ok ? 7 : 0));
	json_object_object_add(o, "shadow-avail-idx", json_object_new_int(d->driver_ok ? 9 : 0));
	json_object_object_add(o, "vring-num", json_object_new_int(d->vring_num));
	return o;
}

/*
 * query-pci of that q35 machine as QEMU 7.2 answers it, cut to the host bridge, the
 * virtio-blk (00:01.0) and virtio-net (00:02.0) functions, plus a hostile function at
 * 00:04.0 (see ecam_word) and a PCIe root port at 00:05.0 with a virtio function behind it,
 * 01:00.0 (a PciBridgeInfo lists the devices behind it beside its bus).
 */
static const char query_pci_q35[] =
	"[{\"bus\":0,\"devices\":["
	"{\"irq_pin\":0,\"bus\":0,\"qdev_id\":\"\",\"slot\":0,\"class_info\":{\"class\":1536,"
	"\"desc\":\"Host bridge\"},\"id\":{\"device\":10688,\"subsystem-vendor\":6900,"
	"\"vendor\":32902,\"subsystem\":4352},\"function\":0,\"regions\":[]},"
	"{\"irq_pin\":1,\"bus\":0,\"qdev_id\":\"\",\"irq\":10,\"slot\":1,\"class_info\":"
	"{\"class\":256,\"desc\":\"SCSI controller\"},\"id\":{\"device\":4097,"
	"\"subsystem-vendor\":6900,\"vendor\":6900,\"subsystem\":2},\"function\":0,"
	"\"regions\":[{\"bar\":0,\"size\":128,\"address\":49152,\"type\":\"io\"},"
	"{\"prefetch\":false,\"mem_type_64\":false,\"bar\":1,\"size\":4096,"
	"\"address\":4273983488,\"type\":\"memory\"},{\"prefetch\":true,\"mem_type_64\":true,"
	"\"bar\":4,\"size\":16384,\"address\":4273946624,\"type\":\"memory\"}]},"
	"{\"irq_pin\":1,\"bus\":0,\"qdev_id\":\"\",\"irq\":11,\"slot\":2,\"class_info\":"
	"{\"class\":512,\"desc\":\"Ethernet controller\"},\"id\":{\"device\":4096,"
	"\"subsystem-vendor\":6900,\"vendor\":6900,\"subsystem\":1},\"function\":0,"
	"\"regions\":[{\"bar\":0,\"size\":32,\"address\":49344,\"type\":\"io\"},"
	"{\"prefetch\":false,\"mem_type_64\":false,\"bar\":1,\"size\":4096,"
	"\"address\":4273987584,\"type\":\"memory\"},{\"prefetch\":true,\"mem_type_64\":true,"
	"\"bar\":4,\"size\":16384,\"address\":4273963008,\"type\":\"memory\"}]},"
	"{\"bus\":0,\"slot\":4,\"function\":0,\"id\":{\"device\":4162,\"vendor\":6900},"
	"\"regions\":[]},"
	"{\"bus\":0,\"slot\":5,\"function\":0,\"class_info\":{\"class\":1540,"
	"\"desc\":\"PCI bridge\"},\"id\":{\"device\":12,\"vendor\":6966},\"regions\":[],"
	"\"pci_bridge\":{\"bus\":{\"number\":1,\"secondary\":1,\"subordinate\":1,"
	"\"io_range\":{\"base\":61440,\"limit\":4095}},\"devices\":["
	"{\"bus\":1,\"slot\":0,\"function\":0,\"id\":{\"device\":4162,\"vendor\":6900},"
	"\"regions\":[{\"prefetch\":true,\"mem_type_64\":true,\"bar\":4,\"size\":16384,"
	"\"address\":4273946624,\"type\":\"memory\"}]}]}}]}]";

/*
 * A 4-byte ECAM read at gpa, as q35 answers it: virtio-blk at 00:01.0 (its data window at
 * 0x94 holds a value nobody should see: reading it is a BAR read, so the fake hangs up); at
 * 00:04.0 a function whose only capability, at 0xfc, names itself next and claims 255 bytes
 * (read twice, the fake hangs up: the loop was not seen); at 01:00.0 behind the root port a
 * modern virtio-blk function without capabilities; all-ones where no function is.
 */
static __u32 ecam_word(__u64 gpa)
{
	static unsigned int looped_cap_reads;
	__u64 off = gpa - Q35_ECAM_BASE;
	__u32 reg = off & 0xffc;

	if (gpa < Q35_ECAM_BASE || off >= 256 << 20)
		return 0;
	if (off >> 12 == (1 << 3)) { /* 00:01.0 */
		if (reg == Q35_BLK_CFG_DATA)
			_exit(3);
		return reg < 256 ? q35_blk_config[reg / 4] : 0;
	}
	if (off >> 12 == (4 << 3)) { /* 00:04.0 */
		if (reg == 0)
			return 0x10421af4;
		if (reg == PCI_COMMAND)
			return 0x00100000; /* status: a capability list */
		if (reg == PCI_CAPABILITY_LIST)
			return 0xfc;
		if (reg == 0xfc && ++looped_cap_reads > 1)
			_exit(4);
		return reg == 0xfc ? 0x00fffc09 : 0;
	}
	if (off >> 12 == 1 << 8) /* 01:00.0 */
		return reg == 0 ? 0x10421af4 : 0;
	return 0xffffffff;
}

/* "xp /Nwx ADDR" over the ECAM window, in QEMU's format: four words a line. */
static void serve_xp(int fd, json_object *id, const char *line)
{
	unsigned long long addr;
	char out[4096];
	size_t len = 0;
	unsigned int n;

	if (sscanf(line, "xp /%uwx %llx", &n, &addr) != 2 || n > 64) {
		reply(fd, id, json_object_new_string("Invalid parameter\r\n"));
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (i % 4 == 0)
			len += snprintf(out + len, sizeof(out) - len, "%016llx:", addr + 4 * i);
		len += snprintf(out + len, sizeof(out) - len, " 0x%08x", ecam_word(addr + 4 * i));
		if (i % 4 == 3 || i + 1 == n)
			len += snprintf(out + len, sizeof(out) - len, "\r\n");
	}
	reply(fd, id, json_object_new_string(out));
}

static void serve_command(int fd, json_object *req, enum fake_mode mode)
{
	json_object *exe = NULL, *args = NULL, *id = NULL, *v;
	const struct fake_dev *d;
	const char *cmd;

	json_object_object_get_ex(req, "execute", &exe);
	json_object_object_get_ex(req, "arguments", &args);
	json_object_object_get_ex(req, "id", &id);
	cmd = exe ? json_object_get_string(exe) : "";
	if (mode == FAKE_HANGUP)
		_exit(0);
	if (!strcmp(cmd, "qmp_capabilities")) {
		if (mode == FAKE_CAPS_ERROR) {
			reply_error(fd, id, "CommandNotFound", "nope");
			return;
		}
		say(fd, EVENT_RESUME);
		reply(fd, id, json_object_new_object());
	} else if (mode == FAKE_HUGE_REPLY) {
		char *big = malloc(10 << 20);

		memset(big, 'a', 10 << 20);
		big[(10 << 20) - 1] = '\0';
		say(fd, "{\"return\": \"");
		say(fd, big);
		say(fd, "\"}\r\n");
		free(big);
	} else if (!strcmp(cmd, "x-query-virtio")) {
		json_object *list = json_object_new_array();

		for (size_t i = 0; i < NR_FAKE_DEVS; i++) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name",
					       json_object_new_string(fake_devs[i].name));
			json_object_object_add(o, "path",
					       json_object_new_string(fake_devs[i].path));
			json_object_array_add(list, o);
		}
		/* events and a stale reply before the answer */
		say(fd, EVENT_RESUME);
		say(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": "
			"\"NIC_RX_FILTER_CHANGED\", \"data\": {\"path\": \"/machine/x\"}}\r\n");
		say(fd, "{\"return\": [], \"id\": 999999}\r\n");
		reply(fd, id, list);
	} else if (!strcmp(cmd, "human-monitor-command") &&
		   json_object_object_get_ex(args, "command-line", &v) &&
		   !strcmp(json_object_get_string(v), "info mtree")) {
		reply(fd, id, json_object_new_string(fake_mtree));
	} else if (!strcmp(cmd, "human-monitor-command") &&
		   json_object_object_get_ex(args, "command-line", &v) &&
		   !strncmp(json_object_get_string(v), "xp ", 3)) {
		serve_xp(fd, id, json_object_get_string(v));
	} else if (!strcmp(cmd, "human-monitor-command")) {
		reply(fd, id, json_object_new_string(qtree));
	} else if (!strcmp(cmd, "query-pci")) {
		reply(fd, id, json_tokener_parse(query_pci_q35));
	} else if (!strcmp(cmd, "qom-get") && (d = find_dev(args))) {
		reply(fd, id, json_object_new_string(d->parent_bus));
	} else if (!strcmp(cmd, "qom-get") && is_pci_proxy(args, "parent_bus")) {
		reply(fd, id, json_object_new_string("/machine/q35/pcie.0"));
	} else if (!strcmp(cmd, "qom-get") && is_pci_proxy(args, "addr")) {
		reply(fd, id, json_object_new_int(0x18)); /* devfn: 00:03.0 */
	} else if (!strcmp(cmd, "x-query-virtio-status") && (d = find_dev(args))) {
		reply(fd, id, virtio_status(d));
	} else if (!strcmp(cmd, "x-query-virtio-queue-status") && (d = find_dev(args)) &&
		   json_object_object_get_ex(args, "queue", &v)) {
		int q = json_object_get_int(v);
		char desc[64];

		if (q < d->nr_queues) {
			reply(fd, id, queue_status(d, q));
		} else {
			snprintf(desc, sizeof(desc), "Invalid virtqueue number %d", q);
			reply_error(fd, id, "GenericError", desc);
		}
	} else {
		char desc[128];

		snprintf(desc, sizeof(desc), "The command %s has not been found", cmd);
		reply_error(fd, id, "CommandNotFound", desc);
	}
}

static void serve(int lfd, enum fake_mode mode)
{
	char line[1 << 16];
	size_t len = 0;
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		_exit(1);
	switch (mode) {
	case FAKE_SILENT:
		pause();
		_exit(0);
	case FAKE_NOT_QMP:
		say(fd, "{\"hello\": 1}\r\n");
		pause();
		_exit(0);
	case FAKE_HUGE_GREETING: {
		char *big = malloc(10 << 20);

		memset(big, ' ', 10 << 20);
		say(fd, "{\"QMP\": {\"version\": ");
		big[(10 << 20) - 1] = '\0';
		say(fd, big);
		say(fd, "{}}}\r\n");
		pause();
		_exit(0);
	}
	default:
		say(fd, GREETING);
	}
	for (;;) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
		char *nl;

		if (n <= 0)
			_exit(0);
		len += n;
		line[len] = '\0';
		while ((nl = strchr(line, '\n'))) {
			json_object *req;

			*nl = '\0';
			req = json_tokener_parse(line);
			if (!req)
				_exit(2);
			serve_command(fd, req, mode);
			json_object_put(req);
			len -= nl + 1 - line;
			memmove(line, nl + 1, len + 1);
		}
	}
}

static struct fake fake_start(enum fake_mode mode)
{
	static int counter;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake f;
	int lfd;

	snprintf(f.path, sizeof(f.path), "/tmp/gma-test-qmp.%d.%d.sock", getpid(), counter++);
	unlink(f.path);
	strcpy(sa.sun_path, f.path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(lfd >= 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(listen(lfd, 1), 0);
	f.pid = fork();
	cr_assert(f.pid >= 0);
	if (f.pid == 0)
		serve(lfd, mode);
	close(lfd);
	return f;
}

static void fake_stop(struct fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	unlink(f->path);
}

static __u64 ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* gma_qmp_new() as 0 and *q, or its errno negated (and *q NULL). */
static int qmp_new(const char *path, const struct gma_qmp_opts *opts, struct gma_qmp **q)
{
	errno = 0;
	*q = gma_qmp_new(path, opts);
	if (*q)
		return 0;
	cr_assert_neq(errno, 0, "NULL without errno");
	return -errno;
}

Test(qmp, greeting_capabilities_commands_and_errors)
{
	struct fake f = fake_start(FAKE_QEMU);
	struct gma_qmp *q = NULL;
	int major, minor, micro;
	char *ret = NULL;

	cr_assert_eq(qmp_new(f.path, NULL, &q), 0);
	gma_qmp_version(q, &major, &minor, &micro);
	cr_assert_eq(major, 7);
	cr_assert_eq(minor, 2);
	cr_assert_eq(micro, 22);
	cr_assert_eq(gma_qmp_command(q, "qom-get",
				     "{\"path\": \"/machine/peripheral-anon/device[0]\", "
				     "\"property\": \"parent_bus\"}",
				     &ret),
		     0);
	cr_assert_str_eq(ret, "\"/machine/unattached/device[27]/virtio-mmio-bus.23\"");
	free(ret);
	cr_assert_eq(gma_qmp_command(q, "x-query-virtio-queue-status",
				     "{\"path\": \"/machine/peripheral-anon/device[0]\", "
				     "\"queue\": 1}",
				     &ret),
		     -EREMOTEIO);
	cr_assert_null(ret);
	cr_assert_str_eq(gma_qmp_last_error(q), "GenericError: Invalid virtqueue number 1");
	cr_assert_eq(gma_qmp_command(q, "nonexistent", NULL, NULL), -EREMOTEIO);
	cr_assert_str_eq(gma_qmp_last_error(q),
			 "CommandNotFound: The command nonexistent has not been found");
	cr_assert_eq(gma_qmp_command(q, "x", "[1]", NULL), -EINVAL, "arguments must be an object");
	gma_qmp_close(q);
	fake_stop(&f);
}

static const struct gma_qmp_queue *find_queue(const struct gma_qmp_queue *qs, size_t n,
					      const char *device, __u32 queue)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(qs[i].device, device) && qs[i].queue == queue)
			return &qs[i];
	cr_assert_fail("no %s queue %u", device, queue);
	return NULL;
}

Test(qmp, virtio_queues_with_mmio_bases)
{
	struct fake f = fake_start(FAKE_QEMU);
	const struct gma_qmp_queue *e;
	struct gma_qmp_queue *qs = NULL;
	struct gma_qmp *q = NULL;
	size_t n = 0;

	cr_assert_eq(qmp_new(f.path, NULL, &q), 0);
	cr_assert_eq(gma_qmp_virtio_queues(q, &qs, &n, sizeof(*qs)), 0);
	cr_assert_eq(n, 64 + 3 + 1 + 1);

	e = find_queue(qs, n, "virtio-blk", 0);
	cr_assert_str_eq(e->path, "/machine/peripheral-anon/device[0]");
	cr_assert_str_eq(e->bus, "virtio-mmio-bus.23");
	cr_assert_eq(e->mmio_base, 0xfeb02e00);
	cr_assert_eq(e->device_id, 2);
	cr_assert_eq(e->layout.desc, 0x4000000);
	cr_assert_eq(e->layout.driver, 0x4000000 + 16 * 256);
	cr_assert_eq(e->layout.device, 0x4002000);
	cr_assert_eq(e->layout.num, 256);
	cr_assert_eq(e->layout.flags,
		     GMA_QUEUE_FROM_USER | GMA_QUEUE_LEGACY | GMA_QUEUE_READY | GMA_QUEUE_EVENT_IDX,
		     "flags 0x%x", e->layout.flags);
	cr_assert_eq(e->last_avail_idx, 9);
	cr_assert_eq(e->used_idx, 7);
	cr_assert_eq(e->shadow_avail_idx, 9);
	cr_assert_eq(e->inuse, 2);
	cr_assert_eq(e->vring_align, 4096);

	e = find_queue(qs, n, "virtio-net", 2);
	cr_assert_eq(e->mmio_base, 0xfeb02c00);
	cr_assert_eq(e->layout.flags, GMA_QUEUE_FROM_USER, "force-legacy = false");
	cr_assert_eq(e->layout.num, 256);
	cr_assert_eq(e->layout.desc, 0);
	cr_assert_eq(e->device_id, 1);

	e = find_queue(qs, n, "virtio-serial", 63);
	cr_assert_eq(e->mmio_base, 0xfeb02a00);
	cr_assert_eq(e->layout.flags, GMA_QUEUE_FROM_USER | GMA_QUEUE_LEGACY);
	cr_assert_eq(e->layout.num, 128);

	e = find_queue(qs, n, "virtio-rng", 0);
	cr_assert_eq(e->mmio_base, GMA_PCI_BASE(0, 3, 0),
		     "a PCI device on the root bus is keyed by its address (0x%llx)",
		     (unsigned long long)e->mmio_base);
	cr_assert_str_eq(e->bus, "virtio-bus");
	cr_assert_eq(e->device_id, 4);
	free(qs);
	gma_qmp_close(q);
	fake_stop(&f);
}

/*
 * The queues at a caller's own element size (the growth rules of <gma/gma.h>): a program
 * built against an older, shorter struct gets each element's prefix, one built against a
 * newer, longer struct gets the fields this library knows and zeros after them.
 */
Test(qmp, virtio_queues_at_the_callers_element_size)
{
	struct older {
		char device[64];
		char path[128];
		char bus[64];
		__u64 mmio_base;
		__u32 device_id;
	};
	struct newer {
		struct gma_qmp_queue q;
		__u64 added[3];
	};
	struct fake f = fake_start(FAKE_QEMU);
	struct gma_qmp_queue *qs = NULL, *old_qs = NULL, *new_qs = NULL;
	const struct older *old;
	const struct newer *new;
	struct gma_qmp *q = NULL;
	size_t n = 0, n_old = 0, n_new = 0;

	_Static_assert(sizeof(struct older) < sizeof(struct gma_qmp_queue), "a prefix");
	cr_assert_eq(qmp_new(f.path, NULL, &q), 0);
	cr_assert_eq(gma_qmp_virtio_queues(q, &qs, &n, sizeof(*qs)), 0);
	cr_assert_eq(gma_qmp_virtio_queues(q, &old_qs, &n_old, sizeof(*old)), 0);
	cr_assert_eq(gma_qmp_virtio_queues(q, &new_qs, &n_new, sizeof(*new)), 0);
	cr_assert(n > 1 && n_old == n && n_new == n);
	old = (const void *)old_qs;
	new = (const void *)new_qs;
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(old[i].device, qs[i].device, "element %zu", i);
		cr_assert_str_eq(old[i].path, qs[i].path);
		cr_assert_str_eq(old[i].bus, qs[i].bus);
		cr_assert_eq(old[i].mmio_base, qs[i].mmio_base);
		cr_assert_eq(old[i].device_id, qs[i].device_id);
		cr_assert_arr_eq(&new[i].q, &qs[i], sizeof(qs[i]), "element %zu", i);
		for (size_t k = 0; k < 3; k++)
			cr_assert_eq(new[i].added[k], 0, "what this library does not know is 0");
	}
	free(qs);
	free(old_qs);
	free(new_qs);
	cr_assert_eq(gma_qmp_virtio_queues(q, &qs, &n, 0), -EINVAL, "no element size");
	gma_qmp_close(q);
	fake_stop(&f);
}

Test(qmp, silent_server_times_out)
{
	struct fake f = fake_start(FAKE_SILENT);
	GMA_OPTS(gma_qmp_opts, opts, .timeout_ms = 300);
	struct gma_qmp *q = (void *)1;
	__u64 t0 = ms_now(), dt;

	cr_assert_eq(qmp_new(f.path, &opts, &q), -ETIMEDOUT);
	dt = ms_now() - t0;
	cr_assert_null(q);
	cr_assert(dt >= 290 && dt < 2000, "took %llu ms", (unsigned long long)dt);
	fake_stop(&f);
}

Test(qmp, ten_megabyte_line_is_refused)
{
	struct fake f = fake_start(FAKE_HUGE_GREETING);
	struct gma_qmp *q = NULL;

	cr_assert_eq(qmp_new(f.path, NULL, &q), -EMSGSIZE);
	cr_assert_null(q);
	fake_stop(&f);

	f = fake_start(FAKE_HUGE_REPLY);
	GMA_OPTS(gma_qmp_opts, opts, .max_msg = 1 << 20);
	cr_assert_eq(qmp_new(f.path, &opts, &q), 0);
	cr_assert_eq(gma_qmp_command(q, "x-query-virtio", NULL, NULL), -EMSGSIZE);
	cr_assert_eq(gma_qmp_command(q, "x-query-virtio", NULL, NULL), -ENOTCONN);
	gma_qmp_close(q);
	fake_stop(&f);
}

Test(qmp, misbehaving_peers)
{
	struct fake f = fake_start(FAKE_NOT_QMP);
	GMA_OPTS(gma_qmp_opts, opts, .timeout_ms = 2000);
	struct gma_qmp *q = NULL;

	cr_assert_eq(qmp_new(f.path, &opts, &q), -EPROTO);
	fake_stop(&f);

	f = fake_start(FAKE_HANGUP);
	cr_assert_eq(qmp_new(f.path, &opts, &q), -ECONNRESET);
	fake_stop(&f);

	f = fake_start(FAKE_CAPS_ERROR);
	cr_assert_eq(qmp_new(f.path, &opts, &q), -EREMOTEIO);
	fake_stop(&f);

	cr_assert_eq(qmp_new("/tmp/gma-test-qmp-no-such.sock", NULL, &q), -ENOENT);
	cr_assert_eq(qmp_new("/tmp/"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			     NULL, &q),
		     -ENAMETOOLONG);
}

/*
 * The options are read as libbpf reads its own: a shorter struct (a caller built against an
 * older libgma) gets the defaults for the fields it lacks, a longer one is refused when a
 * field this library does not know is set, before anything is connected.
 */
Test(qmp, options_checked_by_their_size)
{
	struct {
		struct gma_qmp_opts opts;
		__u64 newer_field;
	} newer = { .opts = { .sz = sizeof(newer) }, .newer_field = 1 };
	struct gma_qmp_opts older = {
		.sz = offsetof(struct gma_qmp_opts, timeout_ms) + sizeof(older.timeout_ms),
		.timeout_ms = 2000,
		.max_msg = 16 << 20, /* past older's size: not read */
	};
	struct gma_qmp_opts no_size = { .timeout_ms = 2000 };
	struct gma_qmp *q = NULL;
	struct fake f;

	cr_assert_eq(qmp_new("/tmp/gma-test-qmp-no-such.sock", &newer.opts, &q), -EINVAL,
		     "an unknown field set: refused before connecting");
	cr_assert_eq(qmp_new("/tmp/gma-test-qmp-no-such.sock", &no_size, &q), -EINVAL);
	cr_assert_eq(qmp_new(NULL, NULL, &q), -EINVAL);

	newer.newer_field = 0;
	f = fake_start(FAKE_QEMU);
	cr_assert_eq(qmp_new(f.path, &newer.opts, &q), 0, "an unknown field left 0: accepted");
	gma_qmp_close(q);
	fake_stop(&f);

	f = fake_start(FAKE_HUGE_REPLY);
	cr_assert_eq(qmp_new(f.path, &older, &q), 0);
	cr_assert_eq(gma_qmp_command(q, "x-query-virtio", NULL, NULL), -EMSGSIZE,
		     "the default max_msg (4 MiB), not the 16 MiB past the caller's struct");
	gma_qmp_close(q);
	fake_stop(&f);
}

/* gma_qmp_pci_ecam against a fake QEMU answering "info mtree" with mtree. */
static int ecam_from(const char *mtree, __u64 *base, __u32 *buses)
{
	struct gma_qmp *q = NULL;
	struct fake f;
	int err;

	fake_mtree = mtree;
	f = fake_start(FAKE_QEMU);
	cr_assert_eq(qmp_new(f.path, NULL, &q), 0);
	err = gma_qmp_pci_ecam(q, base, buses);
	gma_qmp_close(q);
	fake_stop(&f);
	return err;
}

Test(qmp, pci_ecam_window_from_info_mtree)
{
	__u64 base = 0;
	__u32 buses = 0;

	cr_assert_eq(ecam_from(mtree_q35, &base, &buses), 0);
	cr_assert_eq(base, 0xb0000000);
	cr_assert_eq(buses, 256);
	/* arm virt: the high ECAM is an alias of the region from its start */
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
			  "    0000004010000000-000000401fffffff (prio 0, i/o): alias "
			  "pcie-ecam-high @pcie-mmcfg-mmio 0000000000000000-000000000fffffff\n",
			  &base, &buses),
		0);
	cr_assert_eq(base, 0x4010000000ULL);
	cr_assert_eq(buses, 256);
	/* 64 buses (q35 with PCIEXBAR's length 64 MiB) */
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
			  "    00000000e0000000-00000000e3ffffff (prio 0, i/o): pcie-mmcfg-mmio\n",
			  &base, &buses),
		0);
	cr_assert_eq(base, 0xe0000000);
	cr_assert_eq(buses, 64);
}

/* No window mapped, or one gma cannot follow, is said, never guessed. */
Test(qmp, pci_ecam_absent_or_malformed)
{
	__u64 base = 0x5a;
	__u32 buses = 0x5a;

	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
			  "    00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio "
			  "[disabled]\n",
			  &base, &buses),
		-ENOENT, "disabled");
	/* only in the region sections and another address space: not mapped in memory */
	cr_assert_eq(
		ecam_from("address-space: I/O\n"
			  "  00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\n"
			  "address-space: memory\n"
			  "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
			  "\n"
			  "memory-region: pcie-mmcfg-mmio\n"
			  "  0000000000000000-000000000fffffff (prio 0, i/o): pcie-mmcfg-mmio\n",
			  &base, &buses),
		-ENOENT, "a region section is not a mapping");
	cr_assert_eq(ecam_from("address-space: memory\n"
			       "    00000000b0000000-00000000bfffffff (prio 0, i/o): alias x "
			       "@pcie-mmcfg-mmio 0000000000100000-00000000100fffff\n",
			       &base, &buses),
		     -ENOENT, "an alias from bus 1: bus 0's base unknown");
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "    00000000b0000000-00000000bfffff (prio 0, i/o): pcie-mmcfg-mmio\n"
			  "    00000000b0000000-\n"
			  "    zzzzzzzzb0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\n"
			  "    00000000c0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\n"
			  "    00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmioX\n",
			  &base, &buses),
		-ENOENT, "truncated, not hex, end before start, another name");
	cr_assert_eq(ecam_from("", &base, &buses), -ENOENT, "an empty answer");
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "    00000000b0080000-00000000b017ffff (prio 0, i/o): pcie-mmcfg-mmio\n",
			  &base, &buses),
		-EPROTO, "not 1 MiB aligned");
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "    00000000a0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio\n",
			  &base, &buses),
		-EPROTO, "512 buses");
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "    fffffffff0000000-ffffffffffffffff (prio 0, i/o): pcie-mmcfg-mmio\n",
			  &base, &buses),
		-EPROTO, "past 2^52");
	cr_assert_eq(
		ecam_from("address-space: memory\n"
			  "    0000000000000000-ffffffffffffffff (prio 0, i/o): pcie-mmcfg-mmio\n",
			  &base, &buses),
		-EPROTO, "the whole address space (its size wraps to 0)");
	cr_assert_eq(base, 0x5a, "a failure leaves the outputs alone");
	cr_assert_eq(buses, 0x5a);
}

/* gma_qmp_pci_function against the fake q35: the function read as a driver reads it. */
static int pci_function_of(__u64 key, struct gma_pci_function *fn)
{
	struct fake f = fake_start(FAKE_QEMU);
	struct gma_qmp *q = NULL;
	int err;

	cr_assert_eq(qmp_new(f.path, NULL, &q), 0);
	err = gma_qmp_pci_function(q, Q35_ECAM_BASE, 256, key, fn);
	gma_qmp_close(q);
	fake_stop(&f);
	return err;
}

Test(qmp, pci_function_configuration_and_bar_sizes)
{
	GMA_OPTS(gma_pci_function, fn);
	__u8 want[256] = { 0 };

	q35_blk_config_bytes(want);
	cr_assert_eq(pci_function_of(GMA_PCI_BASE(0, 1, 0), &fn), 0,
		     "the VirtIO PCI configuration access window was read (the fake hung up)");
	for (__u32 i = 0; i < 256; i++)
		cr_expect_eq(fn.config[i], want[i], "config byte 0x%x: 0x%02x, QEMU has 0x%02x", i,
			     fn.config[i], want[i]);
	for (__u32 i = 0; i < 6; i++)
		cr_expect_eq(fn.bar_size[i], q35_blk_bar_size[i], "BAR%u", i);
	/* QEMU's notify offsets: the queue index */
	cr_expect_eq(fn.notify_off_known, ~0ULL);
	cr_expect_eq(fn.queue_notify_off[5], 5);
	cr_expect_eq(fn.sz, sizeof(fn), "the caller's size is kept");
}

/* A caller's struct shorter than this library's: filled as far as its sz, not a byte past. */
Test(qmp, pci_function_into_a_shorter_struct)
{
	struct gma_pci_function fn;
	__u8 want[256] = { 0 };

	memset(&fn, 0x5a, sizeof(fn));
	fn.sz = offsetof(struct gma_pci_function, bar_size);
	q35_blk_config_bytes(want);
	cr_assert_eq(pci_function_of(GMA_PCI_BASE(0, 1, 0), &fn), 0);
	cr_assert_eq(fn.sz, offsetof(struct gma_pci_function, bar_size));
	cr_assert_arr_eq(fn.config, want, sizeof(want));
	for (size_t i = fn.sz; i < sizeof(fn); i++)
		cr_assert_eq(((__u8 *)&fn)[i], 0x5a, "byte %zu past the caller's sz written", i);
	fn.sz = 0;
	cr_assert_eq(pci_function_of(GMA_PCI_BASE(0, 1, 0), &fn), -EINVAL, "no sz: not sized");
}

/* A function behind a PCIe root port: query-pci lists it in the bridge's "devices". */
Test(qmp, pci_function_behind_a_bridge)
{
	GMA_OPTS(gma_pci_function, fn);

	cr_assert_eq(pci_function_of(GMA_PCI_BASE(1, 0, 0), &fn), 0);
	cr_assert_eq(fn.config[0], 0xf4);
	cr_assert_eq(fn.bar_size[4], 16384);
}

Test(qmp, pci_function_absent_hostile_or_out_of_the_window)
{
	GMA_OPTS(gma_pci_function, fn);
	struct gma_qmp *q = (struct gma_qmp *)1; /* never used: the arguments are refused */

	cr_assert_eq(pci_function_of(GMA_PCI_BASE(0, 5, 0), &fn), -ENODEV, "no function there");
	/* a capability that names itself next, claiming bytes past the space: read once */
	cr_assert_eq(pci_function_of(GMA_PCI_BASE(0, 4, 0), &fn), 0,
		     "the capability loop was followed (the fake hung up)");
	cr_assert_eq(fn.config[0xfc], PCI_CAP_ID_VNDR);
	cr_assert_eq(fn.config[0xfe], 0xff);
	cr_assert_eq(gma_qmp_pci_function(q, Q35_ECAM_BASE, 1, GMA_PCI_BASE(1, 0, 0), &fn), -EINVAL,
		     "bus 1 is outside a 1-bus window");
	cr_assert_eq(gma_qmp_pci_function(q, Q35_ECAM_BASE, 256, 0xfebf4000, &fn), -EINVAL,
		     "not a PCI key");
	cr_assert_eq(gma_qmp_pci_function(q, Q35_ECAM_BASE + 4096, 256, GMA_PCI_BASE(0, 1, 0), &fn),
		     -EINVAL, "a window not 1 MiB aligned");
}

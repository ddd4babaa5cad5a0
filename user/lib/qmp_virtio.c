// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every virtqueue of a running QEMU as gma queue layouts (gma_qmp_virtio_queues()), from
 * QEMU's virtio queries over the QMP transport (qmp.c). A device's queues are keyed by where
 * the guest sees the device: a virtio-mmio window's base, or a virtio-pci function's address
 * on the root bus. Counts of devices, queues and buses are bounded: QEMU is not trusted.
 *
 * QEMU 7.2 as observed: x-query-virtio returns [{"name": "virtio-blk", "path":
 * "/machine/peripheral-anon/device[0]"}, ...] (the -device object itself for virtio-mmio
 * devices); qom-get of that path's "parent_bus" gives
 * "/machine/unattached/device[27]/virtio-mmio-bus.23"; "info qtree" lists
 *
 *   dev: virtio-mmio, id ""
 *     force-legacy = true
 *     mmio 00000000feb02e00/0000000000000200
 *     bus: virtio-mmio-bus.23
 *       dev: virtio-blk-device, id ""
 *
 * so the bus name joins a device to its window. x-query-virtio-queue-status answers
 * {"vring-num": 256, "vring-desc": ..., "vring-avail": ..., "vring-used": ...,
 * "last-avail-idx": 0, "used-idx": 0, "shadow-avail-idx": 0, "inuse": 0, "vring-align": 4096,
 * "queue-index": 0, "name": "virtio-blk", ...} and a GenericError "Invalid virtqueue number N"
 * past the last queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <gma/qmp.h>
#include <gma/virtio.h>

#include "gma_internal.h"
#include "qmp_internal.h"

#define QMP_DEVICES_MAX 256
#define QMP_QUEUES_PER_DEVICE_MAX 1024 /* QEMU's VIRTIO_QUEUE_MAX */
#define QMP_BUSES_MAX 4096

struct mmio_bus {
	char name[64];
	__u64 base;
	bool legacy;
};

/* The virtio-mmio device being read in "info qtree", and the buses it holds. */
struct qtree_dev {
	size_t indent; /* of its "dev:" line */
	size_t prop_indent; /* of its own lines, one level in; 0 before the first */
	size_t first; /* its first bus in the table */
	bool have_base;
	bool legacy;
	__u64 base;
};

/* The device's window and force-legacy given to the buses it holds, buses[first, n). */
static void qtree_dev_end(const struct qtree_dev *d, struct mmio_bus *buses, size_t n)
{
	for (size_t i = d->first; i < n; i++) {
		buses[i].base = d->have_base ? d->base : 0;
		buses[i].legacy = d->legacy;
	}
}

/* One of the device's own lines: its first "mmio BASE/SIZE", force-legacy, or a bus. */
static void qtree_dev_line(struct qtree_dev *d, const char *s, size_t len, struct mmio_bus *buses,
			   size_t *n, size_t max)
{
	if (hmp_starts(s, len, "mmio ") && !d->have_base) {
		char num[20];
		char *end;

		if (len - 5 < 16)
			return;
		memcpy(num, s + 5, 16);
		num[16] = '\0';
		errno = 0;
		d->base = strtoull(num, &end, 16);
		d->have_base = !errno && *end == '\0' && d->base != ~0ULL;
	} else if (hmp_starts(s, len, "force-legacy = ")) {
		d->legacy = hmp_starts(s + 15, len - 15, "true");
	} else if (hmp_starts(s, len, "bus: ") && *n < max && len - 5 < sizeof(buses[*n].name)) {
		memcpy(buses[*n].name, s + 5, len - 5);
		buses[*n].name[len - 5] = '\0';
		(*n)++;
	}
}

/*
 * The buses of every virtio-mmio device in "info qtree" with the device's window base (the
 * first "mmio BASE/SIZE" line) and force-legacy property. Only lines one level inside the
 * virtio-mmio device are its own; deeper ones belong to the devices on its bus.
 */
static size_t parse_qtree(const char *text, struct mmio_bus *buses, size_t max)
{
	struct qtree_dev d = { 0 };
	bool in_dev = false;
	size_t n = 0, ind, len;
	const char *p = text, *s;

	while ((s = hmp_next_line(&p, &ind, &len))) {
		if (in_dev && ind <= d.indent) {
			qtree_dev_end(&d, buses, n);
			in_dev = false;
		}
		if (!in_dev) {
			if (hmp_starts(s, len, "dev: virtio-mmio,")) {
				d = (struct qtree_dev){ .indent = ind, .first = n };
				in_dev = true;
			}
			continue;
		}
		if (!d.prop_indent)
			d.prop_indent = ind;
		if (ind == d.prop_indent)
			qtree_dev_line(&d, s, len, buses, &n, max);
	}
	if (in_dev)
		qtree_dev_end(&d, buses, n);
	return n;
}

/* "VIRTIO_F_RING_PACKED: ..." in a list of feature strings. */
static bool has_feature(json_object *list, const char *name)
{
	size_t n = strlen(name), len;

	if (!list || !json_object_is_type(list, json_type_array))
		return false;
	len = json_object_array_length(list);
	for (size_t i = 0; i < len && i < 256; i++) {
		json_object *v = json_object_array_get_idx(list, i);
		const char *s =
			json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

		if (s && !strncmp(s, name, n) && (s[n] == ':' || s[n] == '\0'))
			return true;
	}
	return false;
}

static json_object *path_args(const char *path)
{
	json_object *a = json_object_new_object();

	if (a)
		json_object_object_add(a, "path", json_object_new_string(path));
	return a;
}

struct dev_info {
	const char *name;
	const char *path;
	char bus[64];
	__u64 base;
	__u32 device_id;
	__u32 flags;
	bool vhost; /* x-query-virtio-status has a "vhost-dev": the rings are vhost's */
};

/* qom-get of path's property into *ret (the caller puts it); -EREMOTEIO when QEMU has none. */
static int qom_get(struct gma_qmp *q, const char *path, const char *property, json_object **ret)
{
	json_object *args = path_args(path);

	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "property", json_object_new_string(property));
	return qmp_command(q, "qom-get", args, ret);
}

/*
 * A virtio-pci device: x-query-virtio names its backend, ".../device[N]/virtio-backend", on
 * the proxy's "virtio-bus"; the proxy's "addr" is its devfn on the proxy's parent bus. The
 * root bus (q35's pcie.0, pc's pci.0) is bus 0; a bus behind a bridge has the number the
 * guest gave it, which QMP does not tie to the path: such a device stays unknown.
 */
static int map_pci_device(struct gma_qmp *q, struct dev_info *d)
{
	char proxy[256];
	const char *s, *slash;
	json_object *ret = NULL;
	__s64 devfn;
	int err;

	slash = strrchr(d->path, '/');
	if (!slash || strcmp(slash, "/virtio-backend") ||
	    (size_t)(slash - d->path) >= sizeof(proxy))
		return 0;
	snprintf(proxy, sizeof(proxy), "%.*s", (int)(slash - d->path), d->path);
	err = qom_get(q, proxy, "parent_bus", &ret);
	if (err)
		return err == -EREMOTEIO ? 0 : err;
	s = json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : "";
	slash = strrchr(s, '/');
	s = slash ? slash + 1 : s;
	if (strcmp(s, "pcie.0") && strcmp(s, "pci.0")) {
		qmp_copy_str(d->bus, sizeof(d->bus), s);
		json_object_put(ret);
		return 0;
	}
	json_object_put(ret);
	ret = NULL;
	err = qom_get(q, proxy, "addr", &ret);
	if (err)
		return err == -EREMOTEIO ? 0 : err;
	devfn = json_object_is_type(ret, json_type_int) ? json_object_get_int64(ret) : -1;
	json_object_put(ret);
	if (devfn >= 0 && devfn < 256)
		d->base = GMA_PCI_BASE(0, devfn >> 3, devfn & 7);
	return 0;
}

/* Bus and window of a device: failures leave them unknown. */
static int map_device(struct gma_qmp *q, struct dev_info *d, const struct mmio_bus *buses,
		      size_t nr_buses)
{
	json_object *ret = NULL;
	const char *s, *slash;
	int err;

	err = qom_get(q, d->path, "parent_bus", &ret);
	if (err)
		return err == -EREMOTEIO ? 0 : err;
	s = json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : NULL;
	slash = s ? strrchr(s, '/') : NULL;
	qmp_copy_str(d->bus, sizeof(d->bus), slash ? slash + 1 : s);
	json_object_put(ret);
	if (!strncmp(d->bus, "virtio-bus", 10))
		return map_pci_device(q, d);
	for (size_t i = 0; d->bus[0] && i < nr_buses; i++) {
		if (!strcmp(buses[i].name, d->bus)) {
			d->base = buses[i].base;
			if (buses[i].legacy)
				d->flags |= GMA_QUEUE_LEGACY;
		}
	}
	return 0;
}

static int device_status(struct gma_qmp *q, struct dev_info *d)
{
	json_object *args = path_args(d->path), *ret = NULL, *gf;
	__u64 v;
	int err;

	if (!args)
		return -ENOMEM;
	err = qmp_command(q, "x-query-virtio-status", args, &ret);
	if (err)
		return err == -EREMOTEIO ? 0 : err;
	if (qmp_get_u64(ret, "device-id", &v) && v <= 0xffffffffu)
		d->device_id = (__u32)v;
	gf = qmp_get(qmp_get(ret, "guest-features"), "transports");
	if (has_feature(gf, "VIRTIO_F_RING_PACKED"))
		d->flags |= GMA_QUEUE_PACKED;
	if (has_feature(gf, "VIRTIO_RING_F_EVENT_IDX"))
		d->flags |= GMA_QUEUE_EVENT_IDX;
	if (has_feature(qmp_get(qmp_get(ret, "status"), "statuses"), "VIRTIO_CONFIG_S_DRIVER_OK"))
		d->flags |= GMA_QUEUE_READY;
	d->vhost = qmp_get(ret, "vhost-dev") != NULL;
	json_object_put(ret);
	return 0;
}

static int queue_status(struct gma_qmp *q, const struct dev_info *d, __u32 index,
			struct gma_qmp_queue *out)
{
	json_object *args = path_args(d->path), *ret = NULL;
	__u64 v;
	int err;

	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "queue", json_object_new_int64(index));
	err = qmp_command(q, "x-query-virtio-queue-status", args, &ret);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	qmp_copy_str(out->device, sizeof(out->device), d->name);
	qmp_copy_str(out->path, sizeof(out->path), d->path);
	qmp_copy_str(out->bus, sizeof(out->bus), d->bus);
	out->mmio_base = d->base;
	out->device_id = d->device_id;
	out->queue = index;
	out->layout.flags = d->flags | GMA_QUEUE_FROM_USER;
	out->vhost = d->vhost;
	if (qmp_get_u64(ret, "vring-desc", &v))
		out->layout.desc = v;
	if (qmp_get_u64(ret, "vring-avail", &v))
		out->layout.driver = v;
	if (qmp_get_u64(ret, "vring-used", &v))
		out->layout.device = v;
	if (qmp_get_u64(ret, "vring-num", &v) && v <= 0xffffffffu)
		out->layout.num = (__u32)v;
	if (qmp_get_u64(ret, "last-avail-idx", &v))
		out->last_avail_idx = (__u16)v;
	if (qmp_get_u64(ret, "used-idx", &v))
		out->used_idx = (__u16)v;
	if (qmp_get_u64(ret, "shadow-avail-idx", &v))
		out->shadow_avail_idx = (__u16)v;
	if (qmp_get_u64(ret, "inuse", &v) && v <= 0xffffffffu)
		out->inuse = (__u32)v;
	if (qmp_get_u64(ret, "vring-align", &v) && v <= 0xffffffffu)
		out->vring_align = (__u32)v;
	if (!out->layout.desc)
		out->layout.flags &= ~GMA_QUEUE_READY; /* the driver has not set it up */
	json_object_put(ret);
	return 0;
}

static struct mmio_bus *read_qtree(struct gma_qmp *q, size_t *n, int *err)
{
	json_object *ret = NULL;
	struct mmio_bus *buses;

	*n = 0;
	*err = qmp_hmp(q, "info qtree", &ret);
	if (*err) {
		if (*err == -EREMOTEIO)
			*err = 0;
		return NULL;
	}
	buses = calloc(QMP_BUSES_MAX, sizeof(*buses));
	if (!buses)
		*err = -ENOMEM;
	else if (json_object_is_type(ret, json_type_string))
		*n = parse_qtree(json_object_get_string(ret), buses, QMP_BUSES_MAX);
	json_object_put(ret);
	return buses;
}

struct queue_list {
	struct gma_qmp_queue *v;
	size_t n;
	size_t cap;
};

/*
 * Queue 0, 1, ... of the device at x-query-virtio's entry dev, appended to l, until QEMU
 * says there is no such queue. An entry without a path is skipped.
 */
static int add_device(struct gma_qmp *q, json_object *dev, const struct mmio_bus *buses,
		      size_t nr_buses, struct queue_list *l)
{
	struct dev_info d = { .name = qmp_get_str(dev, "name"), .path = qmp_get_str(dev, "path") };
	int err;

	if (!d.path)
		return 0;
	err = map_device(q, &d, buses, nr_buses);
	if (!err)
		err = device_status(q, &d);
	for (__u32 k = 0; !err && k < QMP_QUEUES_PER_DEVICE_MAX; k++) {
		if (l->n == l->cap) {
			size_t ncap = l->cap ? l->cap * 2 : 16;
			void *p = realloc(l->v, ncap * sizeof(*l->v));

			if (!p)
				return -ENOMEM;
			l->v = p;
			l->cap = ncap;
		}
		err = queue_status(q, &d, k, &l->v[l->n]);
		if (err == -EREMOTEIO)
			return 0; /* past the device's last queue */
		if (!err)
			l->n++;
	}
	return err;
}

int gma_qmp_virtio_queues(struct gma_qmp *q, struct gma_qmp_queue **out, size_t *n, size_t elem_sz)
{
	struct queue_list l = { 0 };
	json_object *list = NULL;
	struct mmio_bus *buses = NULL;
	size_t nr_buses = 0, nr_devs;
	int err;

	if (!q || !out || !n || !elem_sz)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	err = qmp_command(q, "x-query-virtio", NULL, &list);
	if (err)
		return err;
	if (!json_object_is_type(list, json_type_array)) {
		err = -EPROTO;
		goto out;
	}
	buses = read_qtree(q, &nr_buses, &err);
	nr_devs = json_object_array_length(list);
	if (nr_devs > QMP_DEVICES_MAX)
		nr_devs = QMP_DEVICES_MAX;
	for (size_t i = 0; !err && i < nr_devs; i++)
		err = add_device(q, json_object_array_get_idx(list, i), buses, nr_buses, &l);
out:
	json_object_put(list);
	free(buses);
	if (!err) {
		*out = gma_elems_copy(l.v, l.n, sizeof(*l.v), elem_sz);
		err = *out ? 0 : -ENOMEM;
	}
	free(l.v);
	if (err)
		return err;
	*n = l.n;
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A QMP client for importing the virtqueue layouts of a running QEMU. QEMU is a peer, not a
 * trusted one: every wait has a deadline, every message a size cap, JSON a depth cap, and
 * each count of devices, queues and buses a bound.
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
 * past the last queue. "info mtree" shows where q35 maps PCI configuration space (ECAM):
 *
 *   address-space: memory
 *     0000000000000000-ffffffffffffffff (prio 0, i/o): system
 *       00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include <gma/virtio.h>

#include "gma_internal.h"

#define QMP_TIMEOUT_MS_DEFAULT 5000
#define QMP_MAX_MSG_DEFAULT (4u << 20)
#define QMP_MAX_MSG_MIN 4096
#define QMP_JSON_DEPTH 32
#define QMP_SKIP_MAX 10000 /* messages skipped while waiting for one reply */
#define QMP_DEVICES_MAX 256
#define QMP_QUEUES_PER_DEVICE_MAX 1024 /* QEMU's VIRTIO_QUEUE_MAX */
#define QMP_BUSES_MAX 4096

struct gma_qmp {
	int fd;
	int timeout_ms;
	size_t max_msg;
	char *buf;
	size_t len;
	size_t cap;
	__u64 next_id;
	bool broken; /* a message was refused part-way: the stream is out of step */
	int version[3];
	char error[256];
};

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

/* Waits for events on the socket until the deadline: 0, -ETIMEDOUT or poll's errno. */
static int wait_fd(struct gma_qmp *q, short events, __u64 deadline)
{
	for (;;) {
		struct pollfd p = { .fd = q->fd, .events = events };
		__u64 now = now_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now > 0x7fffffff ? 0x7fffffff : deadline - now));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int send_all(struct gma_qmp *q, const char *s, size_t len, __u64 deadline)
{
	while (len) {
		ssize_t n = send(q->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int err;

		if (n > 0) {
			s += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == EPIPE ? -ECONNRESET : -errno;
		err = wait_fd(q, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

/*
 * One message: QMP sends each as one line of JSON. A line longer than max_msg is refused
 * before more of it is read. Returns 0 with *msg (a JSON object), or a negative errno.
 */
static int read_msg(struct gma_qmp *q, __u64 deadline, json_object **msg)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;

		if (nl) {
			size_t line = nl - q->buf, used = line + 1;
			struct json_tokener *tok;
			json_object *obj;
			bool ok;

			while (line && (q->buf[line - 1] == '\r' || q->buf[line - 1] == ' '))
				line--;
			if (!line) {
				memmove(q->buf, q->buf + used, q->len - used);
				q->len -= used;
				continue;
			}
			tok = json_tokener_new_ex(QMP_JSON_DEPTH);
			if (!tok)
				return -ENOMEM;
			json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
			obj = json_tokener_parse_ex(tok, q->buf, (int)line);
			ok = obj && json_tokener_get_error(tok) == json_tokener_success &&
			     json_tokener_get_parse_end(tok) == line &&
			     json_object_is_type(obj, json_type_object);
			json_tokener_free(tok);
			memmove(q->buf, q->buf + used, q->len - used);
			q->len -= used;
			if (!ok) {
				json_object_put(obj);
				return -EPROTO;
			}
			*msg = obj;
			return 0;
		}
		if (q->len > q->max_msg) {
			q->broken = true;
			return -EMSGSIZE;
		}
		if (q->len == q->cap) {
			size_t ncap = q->cap * 2;
			char *p;

			if (ncap > q->max_msg + 2)
				ncap = q->max_msg + 2;
			p = realloc(q->buf, ncap);
			if (!p)
				return -ENOMEM;
			q->buf = p;
			q->cap = ncap;
		}
		ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);

		if (n > 0) {
			q->len += n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		n = wait_fd(q, POLLIN, deadline);
		if (n)
			return (int)n;
	}
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool get_u64(json_object *o, const char *key, __u64 *val)
{
	json_object *v = get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*val = json_object_get_uint64(v);
	return !errno;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/*
 * Sends execute(args) and waits for its reply, skipping events. args is consumed. Returns 0
 * and *ret (a new reference, when ret is not NULL), -EREMOTEIO with q->error set, or another
 * negative errno.
 */
static int command(struct gma_qmp *q, const char *execute, json_object *args, json_object **ret)
{
	__u64 deadline = now_ms() + (__u64)q->timeout_ms, id = ++q->next_id;
	json_object *req = json_object_new_object();
	const char *text;
	int err;

	q->error[0] = '\0';
	if (q->broken || !req) {
		json_object_put(req);
		json_object_put(args);
		return q->broken ? -ENOTCONN : -ENOMEM;
	}
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(req, "arguments", args);
	json_object_object_add(req, "id", json_object_new_uint64(id));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	err = text ? send_all(q, text, strlen(text), deadline) : -ENOMEM;
	if (!err)
		err = send_all(q, "\n", 1, deadline);
	json_object_put(req);
	if (err)
		return err;
	for (int skipped = 0; skipped < QMP_SKIP_MAX; skipped++) {
		json_object *msg, *r, *e, *rid;
		__u64 got;

		err = read_msg(q, deadline, &msg);
		if (err)
			return err;
		rid = get(msg, "id");
		if (get(msg, "event") || (rid && (!get_u64(msg, "id", &got) || got != id))) {
			json_object_put(msg); /* an event, or the reply to an abandoned command */
			continue;
		}
		r = get(msg, "return");
		e = get(msg, "error");
		if (r) {
			if (ret)
				*ret = json_object_get(r);
			err = 0;
		} else if (e) {
			const char *cls = get_str(e, "class"), *desc = get_str(e, "desc");

			snprintf(q->error, sizeof(q->error), "%s: %s", cls ? cls : "?",
				 desc ? desc : "?");
			err = -EREMOTEIO;
		} else {
			err = -EPROTO;
		}
		json_object_put(msg);
		return err;
	}
	return -EPROTO;
}

int gma_qmp_command(struct gma_qmp *q, const char *execute, const char *args_json, char **ret_json)
{
	json_object *args = NULL, *ret = NULL;
	int err;

	if (!q || !execute)
		return -EINVAL;
	if (ret_json)
		*ret_json = NULL;
	if (args_json) {
		args = json_tokener_parse(args_json);
		if (!args || !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			return -EINVAL;
		}
	}
	err = command(q, execute, args, ret_json ? &ret : NULL);
	if (err || !ret_json)
		return err;
	*ret_json = strdup(json_object_to_json_string_ext(
		ret, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(ret);
	return *ret_json ? 0 : -ENOMEM;
}

const char *gma_qmp_last_error(const struct gma_qmp *q)
{
	return q ? q->error : "";
}

void gma_qmp_version(const struct gma_qmp *q, int *major, int *minor, int *micro)
{
	if (major)
		*major = q ? q->version[0] : 0;
	if (minor)
		*minor = q ? q->version[1] : 0;
	if (micro)
		*micro = q ? q->version[2] : 0;
}

void gma_qmp_close(struct gma_qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	free(q);
}

static int greeting(struct gma_qmp *q)
{
	json_object *msg, *ver;
	const char *keys[] = { "major", "minor", "micro" };
	int err;

	err = read_msg(q, now_ms() + (__u64)q->timeout_ms, &msg);
	if (err)
		return err;
	if (!get(msg, "QMP")) {
		json_object_put(msg);
		return -EPROTO;
	}
	ver = get(get(get(msg, "QMP"), "version"), "qemu");
	for (int i = 0; i < 3; i++) {
		__u64 v;

		if (get_u64(ver, keys[i], &v) && v < 100000)
			q->version[i] = (int)v;
	}
	json_object_put(msg);
	return command(q, "qmp_capabilities", NULL, NULL);
}

int gma_qmp_connect_opts(const char *socket_path, const struct gma_qmp_opts *opts,
			 struct gma_qmp **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct gma_qmp *q;
	int err;

	if (!socket_path || !out || !OPTS_VALID(opts, gma_qmp_opts))
		return -EINVAL;
	*out = NULL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->timeout_ms = QMP_TIMEOUT_MS_DEFAULT;
	q->max_msg = QMP_MAX_MSG_DEFAULT;
	if (OPTS_GET(opts, timeout_ms, 0) > 0)
		q->timeout_ms = opts->timeout_ms;
	if (OPTS_GET(opts, max_msg, 0))
		q->max_msg = opts->max_msg < QMP_MAX_MSG_MIN ? QMP_MAX_MSG_MIN : opts->max_msg;
	q->cap = 4096;
	q->buf = malloc(q->cap);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!q->buf || q->fd < 0) {
		err = q->buf ? -errno : -ENOMEM;
		goto fail;
	}
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto fail;
	}
	err = greeting(q);
	if (err)
		goto fail;
	*out = q;
	return 0;
fail:
	gma_qmp_close(q);
	return err;
}

int gma_qmp_connect(const char *socket_path, struct gma_qmp **out)
{
	return gma_qmp_connect_opts(socket_path, NULL, out);
}

/* --- virtio queues ------------------------------------------------------------------------ */

struct mmio_bus {
	char name[64];
	__u64 base;
	bool legacy;
};

static size_t indent_of(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] == ' ')
		i++;
	return i;
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

/*
 * The buses of every virtio-mmio device in "info qtree" with the device's window base (the
 * first "mmio BASE/SIZE" line) and force-legacy property. Only lines one level inside the
 * virtio-mmio device are its own; deeper ones belong to the devices on its bus.
 */
static size_t parse_qtree(const char *text, struct mmio_bus *buses, size_t max)
{
	size_t n = 0, first = 0, dev_indent = 0, prop_indent = 0;
	bool in_dev = false, have_base = false, legacy = false;
	__u64 base = 0;
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p), ind;
		const char *s;

		while (len && (p[len - 1] == '\r'))
			len--;
		ind = indent_of(p, len);
		s = p + ind;
		len -= ind;
		p = eol ? eol + 1 : NULL;
		if (!len)
			continue;
		if (in_dev && ind <= dev_indent) {
			for (size_t i = first; i < n; i++) {
				buses[i].base = have_base ? base : 0;
				buses[i].legacy = legacy;
			}
			in_dev = false;
		}
		if (!in_dev) {
			if (starts(s, len, "dev: virtio-mmio,")) {
				in_dev = true;
				dev_indent = ind;
				prop_indent = 0;
				have_base = legacy = false;
				base = 0;
				first = n;
			}
			continue;
		}
		if (!prop_indent)
			prop_indent = ind;
		if (ind != prop_indent)
			continue;
		if (starts(s, len, "mmio ") && !have_base) {
			char num[20];
			char *end;

			if (len - 5 < 16)
				continue;
			memcpy(num, s + 5, 16);
			num[16] = '\0';
			errno = 0;
			base = strtoull(num, &end, 16);
			have_base = !errno && *end == '\0' && base != ~0ULL;
		} else if (starts(s, len, "force-legacy = ")) {
			legacy = starts(s + 15, len - 15, "true");
		} else if (starts(s, len, "bus: ") && n < max && len - 5 < sizeof(buses[n].name)) {
			memcpy(buses[n].name, s + 5, len - 5);
			buses[n].name[len - 5] = '\0';
			n++;
		}
	}
	if (in_dev)
		for (size_t i = first; i < n; i++) {
			buses[i].base = have_base ? base : 0;
			buses[i].legacy = legacy;
		}
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
};

/* qom-get of path's property into *ret (the caller puts it); -EREMOTEIO when QEMU has none. */
static int qom_get(struct gma_qmp *q, const char *path, const char *property, json_object **ret)
{
	json_object *args = path_args(path);

	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "property", json_object_new_string(property));
	return command(q, "qom-get", args, ret);
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
		copy_str(d->bus, sizeof(d->bus), s);
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
	copy_str(d->bus, sizeof(d->bus), slash ? slash + 1 : s);
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
	err = command(q, "x-query-virtio-status", args, &ret);
	if (err)
		return err == -EREMOTEIO ? 0 : err;
	if (get_u64(ret, "device-id", &v) && v <= 0xffffffffu)
		d->device_id = (__u32)v;
	gf = get(get(ret, "guest-features"), "transports");
	if (has_feature(gf, "VIRTIO_F_RING_PACKED"))
		d->flags |= GMA_QUEUE_PACKED;
	if (has_feature(gf, "VIRTIO_RING_F_EVENT_IDX"))
		d->flags |= GMA_QUEUE_EVENT_IDX;
	if (has_feature(get(get(ret, "status"), "statuses"), "VIRTIO_CONFIG_S_DRIVER_OK"))
		d->flags |= GMA_QUEUE_READY;
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
	err = command(q, "x-query-virtio-queue-status", args, &ret);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	copy_str(out->device, sizeof(out->device), d->name);
	copy_str(out->path, sizeof(out->path), d->path);
	copy_str(out->bus, sizeof(out->bus), d->bus);
	out->mmio_base = d->base;
	out->device_id = d->device_id;
	out->queue = index;
	out->layout.flags = d->flags | GMA_QUEUE_FROM_USER;
	if (get_u64(ret, "vring-desc", &v))
		out->layout.desc = v;
	if (get_u64(ret, "vring-avail", &v))
		out->layout.driver = v;
	if (get_u64(ret, "vring-used", &v))
		out->layout.device = v;
	if (get_u64(ret, "vring-num", &v) && v <= 0xffffffffu)
		out->layout.num = (__u32)v;
	if (get_u64(ret, "last-avail-idx", &v))
		out->last_avail_idx = (__u16)v;
	if (get_u64(ret, "used-idx", &v))
		out->used_idx = (__u16)v;
	if (get_u64(ret, "shadow-avail-idx", &v))
		out->shadow_avail_idx = (__u16)v;
	if (get_u64(ret, "inuse", &v) && v <= 0xffffffffu)
		out->inuse = (__u32)v;
	if (get_u64(ret, "vring-align", &v) && v <= 0xffffffffu)
		out->vring_align = (__u32)v;
	if (!out->layout.desc)
		out->layout.flags &= ~GMA_QUEUE_READY; /* the driver has not set it up */
	json_object_put(ret);
	return 0;
}

static struct mmio_bus *read_qtree(struct gma_qmp *q, size_t *n, int *err)
{
	json_object *args = json_object_new_object(), *ret = NULL;
	struct mmio_bus *buses;

	*n = 0;
	*err = 0;
	if (!args) {
		*err = -ENOMEM;
		return NULL;
	}
	json_object_object_add(args, "command-line", json_object_new_string("info qtree"));
	*err = command(q, "human-monitor-command", args, &ret);
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

int gma_qmp_virtio_queues(struct gma_qmp *q, struct gma_qmp_queue **out, size_t *n)
{
	json_object *list = NULL;
	struct gma_qmp_queue *res = NULL;
	struct mmio_bus *buses = NULL;
	size_t nr = 0, cap = 0, nr_buses = 0, nr_devs;
	int err;

	if (!q || !out || !n)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	err = command(q, "x-query-virtio", NULL, &list);
	if (err)
		return err;
	if (!json_object_is_type(list, json_type_array)) {
		err = -EPROTO;
		goto out;
	}
	buses = read_qtree(q, &nr_buses, &err);
	if (err)
		goto out;
	nr_devs = json_object_array_length(list);
	if (nr_devs > QMP_DEVICES_MAX)
		nr_devs = QMP_DEVICES_MAX;
	for (size_t i = 0; i < nr_devs; i++) {
		json_object *dev = json_object_array_get_idx(list, i);
		struct dev_info d = { .name = get_str(dev, "name"), .path = get_str(dev, "path") };

		if (!d.path)
			continue;
		err = map_device(q, &d, buses, nr_buses);
		if (!err)
			err = device_status(q, &d);
		if (err)
			goto out;
		for (__u32 k = 0; k < QMP_QUEUES_PER_DEVICE_MAX; k++) {
			if (nr == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				void *p = realloc(res, ncap * sizeof(*res));

				if (!p) {
					err = -ENOMEM;
					goto out;
				}
				res = p;
				cap = ncap;
			}
			err = queue_status(q, &d, k, &res[nr]);
			if (err == -EREMOTEIO) {
				err = 0; /* past the device's last queue */
				break;
			}
			if (err)
				goto out;
			nr++;
		}
	}
out:
	json_object_put(list);
	free(buses);
	if (err) {
		free(res);
		return err;
	}
	*out = res;
	*n = nr;
	return 0;
}

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
 * The window in "info mtree": in the system memory address space ("address-space: memory",
 * possibly listed with others sharing its tree), a region named pcie-mmcfg-mmio (q35), or an
 * alias of it from its start (arm virt's pcie-ecam), not disabled. The "memory-region:"
 * sections after the address spaces list regions at offset 0: never a mapping. Returns
 * whether one was found.
 */
static bool parse_mtree_ecam(const char *text, __u64 *base, __u64 *size)
{
	bool in_memory = false, in_tree = false, disabled;
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n'), *s, *what;
		size_t len = eol ? (size_t)(eol - p) : strlen(p), ind;
		__u64 start, end;

		while (len && p[len - 1] == '\r')
			len--;
		ind = indent_of(p, len);
		s = p + ind;
		len -= ind;
		p = eol ? eol + 1 : NULL;
		if (!len)
			continue;
		if (!ind) {
			/* a header: a group of address spaces sharing the tree that follows */
			if (in_tree)
				in_memory = false;
			in_tree = false;
			if (starts(s, len, "address-space: memory") && len == 21)
				in_memory = true;
			continue;
		}
		in_tree = true;
		if (!in_memory)
			continue;
		what = mtree_range(s, len, &start, &end);
		if (!what)
			continue;
		len -= what - s;
		if (is_region(what, len, ECAM_REGION, &disabled)) {
			if (disabled)
				continue;
		} else if (starts(what, len, "alias ")) {
			/* alias NAME @pcie-mmcfg-mmio OFFSET-END: only from the window's start */
			const char *at = memmem(what, len, " @" ECAM_REGION " ", 18);
			__u64 off;

			if (!at || (size_t)(what + len - (at + 18)) < 16 || !hex16(at + 18, &off) ||
			    off || memmem(what, len, "[disabled]", 10))
				continue;
		} else {
			continue;
		}
		*base = start;
		*size = end - start + 1;
		return true;
	}
	return false;
}

int gma_qmp_pci_ecam(struct gma_qmp *q, __u64 *base, __u32 *buses)
{
	json_object *args, *ret = NULL;
	__u64 b = 0, size = 0;
	bool found = false;
	int err;

	if (!q || !base || !buses)
		return -EINVAL;
	args = json_object_new_object();
	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "command-line", json_object_new_string("info mtree"));
	err = command(q, "human-monitor-command", args, &ret);
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
	json_object *args = json_object_new_object(), *ret = NULL;
	const char *s;
	char line[64];
	__u32 n = 0;
	int err;

	if (!args)
		return -ENOMEM;
	snprintf(line, sizeof(line), "xp /%uwx 0x%llx", words, (unsigned long long)gpa);
	json_object_object_add(args, "command-line", json_object_new_string(line));
	err = command(q, "human-monitor-command", args, &ret);
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
	json_object *devs = get(b, "devices");

	for (size_t k = 0; k < array_len(devs); k++) {
		json_object *d = json_object_array_get_idx(devs, k), *br, *found;
		__u64 nr, slot, fn;

		if (get_u64(d, "bus", &nr) && get_u64(d, "slot", &slot) &&
		    get_u64(d, "function", &fn) && nr == bus && slot < 32 && fn < 8 &&
		    (slot << 3 | fn) == devfn)
			return d;
		br = get(d, "pci_bridge");
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

	err = command(q, "query-pci", NULL, &ret);
	if (err)
		return err;
	for (size_t i = 0; !d && i < array_len(ret); i++)
		d = query_pci_find(json_object_array_get_idx(ret, i), bus, devfn, 0);
	regions = get(d, "regions");
	for (size_t i = 0; i < array_len(regions); i++) {
		json_object *r = json_object_array_get_idx(regions, i);
		__u64 bar, size;

		if (get_u64(r, "bar", &bar) && get_u64(r, "size", &size) && bar < 6)
			bar_size[bar] = size;
	}
	json_object_put(ret);
	return d ? 0 : -ENODEV;
}

int gma_qmp_pci_function(struct gma_qmp *q, __u64 ecam_base, __u32 ecam_buses, __u64 key,
			 struct gma_pci_function *out)
{
	__u32 bus = (key >> 8) & 0xff, devfn = key & 0xff;
	int err;

	if (!q || !out || !GMA_KEY_IS_PCI(key) || key >> 16 != GMA_PCI_KEY >> 16 ||
	    bus >= ecam_buses || ecam_buses > 256 || (ecam_base & 0xfffff) ||
	    ecam_base >= 1ULL << 52)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	err = read_function_config(q, ecam_base + ((__u64)bus << 20 | (__u64)devfn << 12),
				   out->config);
	if (!err)
		err = read_bar_sizes(q, bus, devfn, out->bar_size);
	/* QEMU maps queues in order: its queue_notify_off reads the queue index */
	for (__u32 i = 0; i < GMA_PCI_NOTIFY_QUEUES; i++)
		out->queue_notify_off[i] = i;
	out->notify_off_known = ~0ULL;
	return err;
}

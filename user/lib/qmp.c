// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The QMP transport of libgma's QMP client: a unix socket to QEMU, its greeting, the
 * capabilities negotiation, and one command at a time with its reply, as json-c objects;
 * errors are negative errnos, QEMU's own kept as text for gma_qmp_last_error(). QEMU is a
 * peer, not a trusted one: every wait has a deadline, every message a size cap, JSON a depth
 * cap, and the events and stale replies skipped while waiting a bound. What is asked over it
 * is in qmp_virtio.c (queue layouts) and qmp_pci.c (the ECAM window, PCI functions).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <gma/qmp.h>
#include <gma/virtio.h>

#include "gma_internal.h"
#include "qmp_internal.h"

#define QMP_TIMEOUT_MS_DEFAULT 5000
#define QMP_MAX_MSG_DEFAULT (4u << 20)
#define QMP_MAX_MSG_MIN 4096
#define QMP_JSON_DEPTH 32
#define QMP_SKIP_MAX 10000 /* messages skipped while waiting for one reply */

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

/* The len bytes at s as one JSON object, strictly: 0 and *obj, -EPROTO, or -ENOMEM. */
static int parse_object(const char *s, size_t len, json_object **obj)
{
	struct json_tokener *tok = json_tokener_new_ex(QMP_JSON_DEPTH);
	json_object *o;
	bool ok;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	ok = o && json_tokener_get_error(tok) == json_tokener_success &&
	     json_tokener_get_parse_end(tok) == len && json_object_is_type(o, json_type_object);
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return -EPROTO;
	}
	*obj = o;
	return 0;
}

/* Drops the first used bytes of the buffer. */
static void consume(struct gma_qmp *q, size_t used)
{
	memmove(q->buf, q->buf + used, q->len - used);
	q->len -= used;
}

/*
 * The first whole line in the buffer, taken out of it: 1 and *msg (a JSON object), 0 when
 * no whole line is buffered yet, or -EPROTO (the line is dropped), -ENOMEM (it is kept).
 * Blank lines are skipped.
 */
static int take_line(struct gma_qmp *q, json_object **msg)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		size_t line, used;
		int err;

		if (!nl)
			return 0;
		line = nl - q->buf;
		used = line + 1;
		while (line && (q->buf[line - 1] == '\r' || q->buf[line - 1] == ' '))
			line--;
		if (!line) {
			consume(q, used);
			continue;
		}
		err = parse_object(q->buf, line, msg);
		if (err == -ENOMEM)
			return err;
		consume(q, used);
		return err ? err : 1;
	}
}

/*
 * More bytes from the socket into the buffer, waiting for them until the deadline: 0, or
 * -EMSGSIZE when the buffered line is already longer than max_msg (the stream is then out
 * of step: nothing more is read), -ECONNRESET at the end of the stream, -ETIMEDOUT, or
 * another negative errno.
 */
static int fill(struct gma_qmp *q, __u64 deadline)
{
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
	for (;;) {
		ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
		int err;

		if (n > 0) {
			q->len += n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		err = wait_fd(q, POLLIN, deadline);
		if (err)
			return err;
	}
}

/*
 * One message: QMP sends each as one line of JSON. A line longer than max_msg is refused
 * before more of it is read. Returns 0 with *msg (a JSON object), or a negative errno.
 */
static int read_msg(struct gma_qmp *q, __u64 deadline, json_object **msg)
{
	for (;;) {
		int err = take_line(q, msg);

		if (err)
			return err < 0 ? err : 0;
		err = fill(q, deadline);
		if (err)
			return err;
	}
}

json_object *qmp_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *qmp_get_str(json_object *o, const char *key)
{
	json_object *v = qmp_get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool qmp_get_u64(json_object *o, const char *key, __u64 *val)
{
	json_object *v = qmp_get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*val = json_object_get_uint64(v);
	return !errno;
}

void qmp_copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* {"execute": execute, "arguments": args, "id": id} as one line. args is consumed. */
static int send_command(struct gma_qmp *q, const char *execute, json_object *args, __u64 id,
			__u64 deadline)
{
	json_object *req = json_object_new_object();
	const char *text;
	int err;

	if (!req) {
		json_object_put(args);
		return -ENOMEM;
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
	return err;
}

/* The outcome a reply carries: its "return" (into *ret), or its "error" (into q->error). */
static int reply_result(struct gma_qmp *q, json_object *msg, json_object **ret)
{
	json_object *r = qmp_get(msg, "return"), *e = qmp_get(msg, "error");
	const char *cls, *desc;

	if (r) {
		if (ret)
			*ret = json_object_get(r);
		return 0;
	}
	if (!e)
		return -EPROTO;
	cls = qmp_get_str(e, "class");
	desc = qmp_get_str(e, "desc");
	snprintf(q->error, sizeof(q->error), "%s: %s", cls ? cls : "?", desc ? desc : "?");
	return -EREMOTEIO;
}

/* Declared in qmp_internal.h: -EREMOTEIO leaves QEMU's error in q->error. */
int qmp_command(struct gma_qmp *q, const char *execute, json_object *args, json_object **ret)
{
	__u64 deadline = now_ms() + (__u64)q->timeout_ms, id = ++q->next_id;
	int err;

	q->error[0] = '\0';
	if (q->broken) {
		json_object_put(args);
		return -ENOTCONN;
	}
	err = send_command(q, execute, args, id, deadline);
	if (err)
		return err;
	/* QMP may send events, and replies to commands abandoned at their deadline, first */
	for (int skipped = 0; skipped < QMP_SKIP_MAX; skipped++) {
		json_object *msg, *rid;
		__u64 got;

		err = read_msg(q, deadline, &msg);
		if (err)
			return err;
		rid = qmp_get(msg, "id");
		if (qmp_get(msg, "event") ||
		    (rid && (!qmp_get_u64(msg, "id", &got) || got != id))) {
			json_object_put(msg);
			continue;
		}
		err = reply_result(q, msg, ret);
		json_object_put(msg);
		return err;
	}
	return -EPROTO;
}

int qmp_hmp(struct gma_qmp *q, const char *command_line, json_object **ret)
{
	json_object *args = json_object_new_object();

	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "command-line", json_object_new_string(command_line));
	return qmp_command(q, "human-monitor-command", args, ret);
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
	err = qmp_command(q, execute, args, ret_json ? &ret : NULL);
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
	if (!qmp_get(msg, "QMP")) {
		json_object_put(msg);
		return -EPROTO;
	}
	ver = qmp_get(qmp_get(qmp_get(msg, "QMP"), "version"), "qemu");
	for (int i = 0; i < 3; i++) {
		__u64 v;

		if (qmp_get_u64(ver, keys[i], &v) && v < 100000)
			q->version[i] = (int)v;
	}
	json_object_put(msg);
	return qmp_command(q, "qmp_capabilities", NULL, NULL);
}

/* A client with opts' limits, its buffer allocated, not connected; NULL with errno ENOMEM. */
static struct gma_qmp *qmp_alloc(const struct gma_qmp_opts *opts)
{
	struct gma_qmp *q = calloc(1, sizeof(*q));

	if (q)
		q->buf = malloc(4096);
	if (!q || !q->buf) {
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	q->cap = 4096;
	q->fd = -1;
	q->timeout_ms = QMP_TIMEOUT_MS_DEFAULT;
	q->max_msg = QMP_MAX_MSG_DEFAULT;
	if (OPTS_GET(opts, timeout_ms, 0) > 0)
		q->timeout_ms = opts->timeout_ms;
	if (OPTS_GET(opts, max_msg, 0))
		q->max_msg = opts->max_msg < QMP_MAX_MSG_MIN ? QMP_MAX_MSG_MIN : opts->max_msg;
	return q;
}

struct gma_qmp *gma_qmp_new(const char *socket_path, const struct gma_qmp_opts *opts)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct gma_qmp *q;
	int err;

	if (!socket_path || !OPTS_VALID(opts, gma_qmp_opts)) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	q = qmp_alloc(opts);
	if (!q)
		return NULL;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
		err = -errno;
	else
		err = greeting(q);
	if (err) {
		gma_qmp_close(q);
		errno = -err; /* after close(), which may change it */
		return NULL;
	}
	return q;
}

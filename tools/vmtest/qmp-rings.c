// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ground truth of vmtest's real-guest check: every virtqueue of a running QEMU with its
 * ring addresses (QMP x-query-virtio-queue-status) and its avail and used indices read from
 * guest memory by QEMU itself (the monitor's `xp` through QMP human-monitor-command). It
 * shares no code with gma on purpose: what it prints is what gma-trace is compared with.
 *
 * Not x-query-virtio-queue-element: it follows descriptors the guest may be rewriting and
 * can mark a live device broken.
 *
 * Usage: qmp-rings SOCKET stop     pause the vCPUs (the rings stop moving)
 *        qmp-rings SOCKET cont     resume them
 *        qmp-rings SOCKET hmp LINE  a monitor command (human-monitor-command), its output
 *        qmp-rings SOCKET rings    one line per queue the driver set up:
 *   QMP-RING device=virtio-blk path=/machine/... queue=0 num=256 desc=0x... driver=0x...
 *            device_area=0x... avail_idx=N used_idx=N last_avail_idx=N inuse=N
 *   avail_idx and used_idx as QEMU reads them from guest memory; last_avail_idx (the next
 *   avail entry the device will take: the requests it took are those before it) and inuse
 *   (taken and not yet used) are the device's own view, from QMP, where QEMU gives them.
 * Exit status: 0 done, 1 QMP failed (the reason on stderr).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#define MSG_MAX (1u << 20)
#define TIMEOUT_MS 10000
#define DEVICES_MAX 64
#define QUEUES_MAX 1024 /* QEMU's VIRTIO_QUEUE_MAX */

static int qmp_fd = -1;
static char buf[MSG_MAX];
static size_t buf_len;
static char last_error[256]; /* of the last command QEMU refused */

static void die(const char *what, const char *why)
{
	fprintf(stderr, "qmp-rings: %s: %s\n", what, why);
	exit(1);
}

/* The next line QEMU sends, parsed; NULL at a timeout or end of stream (fatal). */
static json_object *read_msg(void)
{
	for (;;) {
		char *nl = memchr(buf, '\n', buf_len);

		if (nl) {
			json_object *o;

			*nl = 0;
			o = json_tokener_parse(buf);
			buf_len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, buf_len);
			if (!o)
				die("reading QMP", "a line that is not JSON");
			return o;
		}
		if (buf_len == sizeof(buf))
			die("reading QMP", "a message longer than 1 MiB");
		struct pollfd p = { .fd = qmp_fd, .events = POLLIN };
		if (poll(&p, 1, TIMEOUT_MS) != 1)
			die("reading QMP", "no answer in 10 s");
		ssize_t n = read(qmp_fd, buf + buf_len, sizeof(buf) - buf_len);
		if (n <= 0)
			die("reading QMP", n ? strerror(errno) : "QEMU closed the socket");
		buf_len += (size_t)n;
	}
}

/* Runs one command; returns its "return" (the caller puts it) or NULL for an "error". */
static json_object *run(const char *cmd, json_object *args)
{
	json_object *req = json_object_new_object(), *resp, *ret, *err;
	const char *s;

	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (write(qmp_fd, s, strlen(s)) != (ssize_t)strlen(s) || write(qmp_fd, "\n", 1) != 1)
		die(cmd, strerror(errno));
	json_object_put(req);
	for (;;) {
		resp = read_msg();
		if (json_object_object_get_ex(resp, "return", &ret)) {
			json_object_get(ret);
			json_object_put(resp);
			return ret;
		}
		if (json_object_object_get_ex(resp, "error", &err)) {
			json_object *desc;

			snprintf(last_error, sizeof(last_error), "%s",
				 json_object_object_get_ex(err, "desc", &desc) ?
					 json_object_get_string(desc) :
					 "an error with no description");
			json_object_put(resp);
			return NULL;
		}
		json_object_put(resp); /* an event */
	}
}

static unsigned long long num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
		       (unsigned long long)json_object_get_uint64(v) :
		       0;
}

/*
 * A 16-bit word of guest memory as QEMU reads it: "xp /1hx ADDR" -> "ADDR: 0x1234". An answer
 * of another form (an address QEMU cannot read) is fatal: the ground truth has no guesses.
 */
static long guest_u16(unsigned long long gpa)
{
	json_object *args = json_object_new_object(), *ret;
	char line[64], *end;
	const char *out, *colon;
	long v = -1;

	snprintf(line, sizeof(line), "xp /1hx 0x%llx", gpa);
	json_object_object_add(args, "command-line", json_object_new_string(line));
	ret = run("human-monitor-command", args);
	if (!ret)
		die(line, last_error);
	out = json_object_get_string(ret);
	colon = strchr(out, ':');
	if (colon)
		v = strtol(colon + 1, &end, 16);
	if (!colon || end == colon + 1 || v < 0 || v > 0xffff) {
		fprintf(stderr, "qmp-rings: %s: the answer is no 16-bit word: %.200s\n", line, out);
		exit(1);
	}
	json_object_put(ret);
	return v;
}

/* A monitor command through human-monitor-command; its output on stdout. */
static void hmp(const char *line)
{
	json_object *args = json_object_new_object(), *ret;

	json_object_object_add(args, "command-line", json_object_new_string(line));
	ret = run("human-monitor-command", args);
	if (!ret)
		die(line, last_error);
	fputs(json_object_get_string(ret), stdout);
	json_object_put(ret);
}

static void print_rings(void)
{
	json_object *devs = run("x-query-virtio", NULL);
	size_t n = devs && json_object_is_type(devs, json_type_array) ?
			   json_object_array_length(devs) :
			   0;

	if (!devs)
		die("x-query-virtio", last_error);
	if (n > DEVICES_MAX)
		n = DEVICES_MAX;
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(devs, i), *path, *name;

		if (!json_object_object_get_ex(d, "path", &path) ||
		    !json_object_object_get_ex(d, "name", &name))
			continue;
		for (int q = 0; q < QUEUES_MAX; q++) {
			json_object *args = json_object_new_object(), *st;

			json_object_object_add(args, "path", json_object_get(path));
			json_object_object_add(args, "queue", json_object_new_int(q));
			st = run("x-query-virtio-queue-status", args);
			if (!st)
				break; /* "Invalid virtqueue number": past the last one */
			if (num(st, "vring-desc")) {
				unsigned long long driver = num(st, "vring-avail");
				unsigned long long device = num(st, "vring-used");

				json_object *v;

				printf("QMP-RING device=%s path=%s queue=%d num=%llu desc=0x%llx "
				       "driver=0x%llx device_area=0x%llx avail_idx=%ld used_idx=%ld",
				       json_object_get_string(name), json_object_get_string(path),
				       q, num(st, "vring-num"), num(st, "vring-desc"), driver,
				       device, guest_u16(driver + 2), guest_u16(device + 2));
				/* optional in QEMU's schema: absent, they are not printed */
				if (json_object_object_get_ex(st, "last-avail-idx", &v))
					printf(" last_avail_idx=%llu", num(st, "last-avail-idx"));
				if (json_object_object_get_ex(st, "inuse", &v))
					printf(" inuse=%llu", num(st, "inuse"));
				putchar('\n');
			}
			json_object_put(st);
		}
	}
	json_object_put(devs);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *greeting, *ret = NULL;

	if (!(argc == 3 && (!strcmp(argv[2], "stop") || !strcmp(argv[2], "cont") ||
			    !strcmp(argv[2], "rings"))) &&
	    !(argc == 4 && !strcmp(argv[2], "hmp"))) {
		fprintf(stderr, "usage: qmp-rings SOCKET stop|cont|rings|hmp LINE\n");
		return 64;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		die(argv[1], "path too long for a unix socket");
	strcpy(sa.sun_path, argv[1]);
	qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (qmp_fd < 0 || connect(qmp_fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(argv[1], strerror(errno));
	greeting = read_msg();
	json_object_put(greeting);
	json_object_put(run("qmp_capabilities", NULL));
	if (!strcmp(argv[2], "rings"))
		print_rings();
	else if (!strcmp(argv[2], "hmp"))
		hmp(argv[3]);
	else if (!(ret = run(argv[2], NULL)))
		die(argv[2], last_error);
	json_object_put(ret);
	fflush(stdout);
	return 0;
}

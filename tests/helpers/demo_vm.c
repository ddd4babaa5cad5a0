// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <linux/virtio_ids.h>

#include "demo_vm.h"
#include "trace_run.h"
#include "../../tools/demo-vmm/demo-abi.h"

/*
 * The slot events of the ground-truth log, {"event":"slot","slot":N,"gpa":N,"size":N,"hva":N},
 * read with the JSON parser every test uses: members in any order, each one required.
 */
static void read_slots(struct demo_vm *vm)
{
	struct jlines log = {};

	load_jsonl(vm->log_path, &log, false);
	for (size_t i = 0; i < log.n; i++) {
		struct json_object *o = log.v[i];

		if (is(o, "event", "slot")) {
			cr_assert_lt(vm->nr_slots, sizeof(vm->slots) / sizeof(vm->slots[0]),
				     "more slots than struct demo_vm holds in %s", vm->log_path);
			vm->slots[vm->nr_slots++] = (struct demo_slot){ .slot = num(o, "slot"),
									.gpa = num(o, "gpa"),
									.size = num(o, "size"),
									.hva = num(o, "hva") };
		}
		json_object_put(o);
	}
	free(log.v);
}

void demo_vm_start(struct demo_vm *vm, const char *const *extra_args)
{
	const char *argv[32] = { GMA_OUTPUT "/demo-vmm", "--ready-fd", "3", "--log", NULL };
	int out[2], fd, argc = 5;
	char buf[256];
	ssize_t n, got = 0;

	memset(vm, 0, sizeof(*vm));
	snprintf(vm->log_path, sizeof(vm->log_path), "/tmp/gma-demo-vm.XXXXXX");
	fd = mkstemp(vm->log_path);
	cr_assert(fd >= 0);
	close(fd);
	argv[4] = vm->log_path;
	for (int i = 0; extra_args && extra_args[i] && argc < 30; i++)
		argv[argc++] = extra_args[i];
	argv[argc] = NULL;
	cr_assert(pipe(out) == 0);
	vm->pid = fork();
	cr_assert(vm->pid >= 0);
	if (vm->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* stdout and stderr to /dev/null: nobody reads them once the VM is ready */
		dup2(null, 1);
		dup2(null, 2);
		dup2(out[1], 3);
		close(out[0]);
		if (out[1] != 3)
			close(out[1]);
		execv(argv[0], (char **)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	/*
	 * The VMM writes "ready" to fd 3 once its guest has written (and checked) its patterns. A
	 * VMM that never gets ready (a stuck or very slow guest) fails the test by its deadline.
	 */
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       poll(&(struct pollfd){ .fd = out[0], .events = POLLIN }, 1,
		    (int)(test_seconds_left() * 1000)) == 1 &&
	       (n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += n;
		buf[got] = 0;
		if (strstr(buf, "ready\n"))
			break;
	}
	close(out[0]);
	cr_assert(strstr(buf, "ready"), "demo VMM did not become ready (output: '%s')", buf);
	read_slots(vm);
	cr_assert(vm->nr_slots > 0, "no slot events in %s", vm->log_path);
}

void demo_vm_stop_keep_log(struct demo_vm *vm)
{
	int status;
	pid_t pid = vm->pid;

	if (pid <= 0)
		return;
	vm->pid = 0;
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid %d: %s", pid, strerror(errno));
	/* SIGTERM stops the demo VMM with status 0; anything else is its own failure */
	cr_assert(WIFEXITED(status) && !WEXITSTATUS(status), "the demo VMM (%s) %s %d",
		  vm->log_path, WIFEXITED(status) ? "exited with status" : "was killed by signal",
		  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

void demo_vm_stop(struct demo_vm *vm)
{
	demo_vm_stop_keep_log(vm);
	unlink(vm->log_path);
}

const char *demo_mmio_queue_arg(char *buf, size_t size, unsigned int vq)
{
	static const struct {
		__u64 base;
		unsigned int index, num, type;
	} vqs[DEMO_VQS] = {
		[DEMO_VQ_BLK] = { DEMO_VIRTIO_BLK_BASE, 0, DEMO_BLK_QUEUE_NUM, VIRTIO_ID_BLOCK },
		[DEMO_VQ_CONSOLE_RX] = { DEMO_VIRTIO_CONSOLE_BASE, 0, DEMO_CONSOLE_QUEUE_NUM,
					 VIRTIO_ID_CONSOLE },
		[DEMO_VQ_CONSOLE_TX] = { DEMO_VIRTIO_CONSOLE_BASE, 1, DEMO_CONSOLE_QUEUE_NUM,
					 VIRTIO_ID_CONSOLE },
		[DEMO_VQ_NET_RX] = { DEMO_VIRTIO_NET_BASE, 0, DEMO_NET_QUEUE_NUM, VIRTIO_ID_NET },
		[DEMO_VQ_NET_TX] = { DEMO_VIRTIO_NET_BASE, 1, DEMO_NET_QUEUE_NUM, VIRTIO_ID_NET },
	};
	int n;

	cr_assert_lt(vq, DEMO_VQS, "no demo queue %u", vq);
	n = snprintf(buf, size,
		     "--queue base=%#llx,index=%u,num=%u,desc=%#x,driver=%#x,device=%#x,type=%u",
		     (unsigned long long)vqs[vq].base, vqs[vq].index, vqs[vq].num,
		     DEMO_VQ_DESC(DEMO_VQ_AREA, vq), DEMO_VQ_DRIVER(DEMO_VQ_AREA, vq),
		     DEMO_VQ_DEVICE(DEMO_VQ_AREA, vq), vqs[vq].type);
	cr_assert(n > 0 && (size_t)n < size, "--queue of demo queue %u: no room", vq);
	return buf;
}

int run_capture(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);
	int status;

	cr_assert(p && buf);
	while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	buf[len] = 0;
	status = pclose(p);
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

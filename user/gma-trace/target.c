// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The VM a trace starts on, shared by rings and health: a running VMM (--pid), with what it
 * set up before the trace began (--mmio, --queue, --qmp, --ecam), or a VMM command started
 * under the trace (-- COMMAND), held before exec until the tracer is attached so the trace
 * sees its driver set up every queue. target_argp is an argp child: its options are parsed,
 * checked and listed in --help alike in every command that traces.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gma-trace.h"

struct trace_target target = { .go_fd = -1, .exec_fd = -1 };

enum {
	OPT_MMIO = 0x800,
	OPT_QUEUE,
	OPT_QMP,
	OPT_ECAM,
	OPT_WAIT,
};

/* --wait without a value; and how long a released command may take to exec. */
#define WAIT_DEFAULT_S 30
#define WAIT_MAX_S 86400
#define EXEC_TIMEOUT_MS 10000

static const struct argp_option target_options[] = {
	{ "pid", 'p', "PID", 0, "The VMM process to trace (see gma-trace vms)", 0 },
	{ "mmio", OPT_MMIO, "BASE", 0, "A virtio-mmio window set up before the trace began", 0 },
	{ "queue", OPT_QUEUE, "SPEC", 0,
	  "A queue set up before the trace began: " QUEUE_SPEC_SYNTAX, 0 },
	{ "qmp", OPT_QMP, "SOCKET", 0,
	  "Import every queue's layout, and the PCI ECAM window, from QEMU's QMP socket", 0 },
	{ "ecam", OPT_ECAM, "BASE[,BUSES]", 0,
	  "The VM's PCI ECAM (MMCONFIG) window: bus 0 at guest physical BASE, BUSES buses "
	  "(1 to 256, default 256); for a VM traced late or a VMM other than QEMU q35",
	  0 },
	{ "wait", OPT_WAIT, "SECONDS", OPTION_ARG_OPTIONAL,
	  "With --pid: wait up to SECONDS (default 30) for the process to create its KVM VM "
	  "(a VMM just started), instead of failing at once",
	  0 },
	{},
};

/* --ecam BASE[,BUSES] */
static error_t parse_ecam(const char *arg, struct argp_state *state)
{
	unsigned long long base, buses = 256;
	char *end;

	errno = 0;
	base = strtoull(arg, &end, 0);
	if (errno || end == arg || *arg == '-' || (*end && *end != ','))
		argp_error(state, "--ecam '%s': not BASE[,BUSES] (a guest physical address)", arg);
	if (*end == ',') {
		const char *b = end + 1;

		errno = 0;
		buses = strtoull(b, &end, 0);
		if (errno || end == b || *b == '-' || *end)
			argp_error(state, "--ecam '%s': BUSES is not a number", arg);
	}
	if (buses < 1 || buses > 256)
		argp_error(state, "--ecam '%s': %llu buses; a window has 1 to 256", arg, buses);
	if (base & 0xfffff)
		argp_error(state, "--ecam '%s': the base is not 1 MiB aligned", arg);
	if (base >= 1ULL << 52 || (1ULL << 52) - base < buses << 20)
		argp_error(state,
			   "--ecam '%s': the window does not fit below 2^52 (guest physical "
			   "addresses)",
			   arg);
	target.ecam_base = base;
	target.ecam_buses = (__u32)buses;
	return 0;
}

static error_t parse_target(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p':
		return parse_pid(arg, &target.pid, state);
	case OPT_MMIO:
		if (target.nr_mmio == MMIO_BASES_MAX)
			argp_error(state, "at most %d --mmio", MMIO_BASES_MAX);
		parse_u64(arg, &target.mmio[target.nr_mmio], "--mmio", state);
		if (target.mmio[target.nr_mmio++] & (GMA_VIRTIO_MMIO_WINDOW - 1))
			argp_error(state,
				   "--mmio '%s': a virtio-mmio window's base, a multiple of %#x",
				   arg, GMA_VIRTIO_MMIO_WINDOW);
		return 0;
	case OPT_QUEUE:
		return parse_queue_opt(arg, target.queues, &target.nr_queues, true, state);
	case OPT_QMP:
		target.qmp = arg;
		return 0;
	case OPT_ECAM:
		return parse_ecam(arg, state);
	case OPT_WAIT:
		target.wait_s = WAIT_DEFAULT_S;
		return arg ? parse_u32_range(arg, &target.wait_s, "--wait", 1, WAIT_MAX_S, state) :
			     0;
	case ARGP_KEY_ARG:
		return ARGP_ERR_UNKNOWN; /* all of them at once, as ARGP_KEY_ARGS */
	case ARGP_KEY_ARGS:
		target.cmd = state->argv + state->next;
		return 0;
	case ARGP_KEY_END:
		if (!target.pid && !target.cmd)
			argp_error(state, "--pid (or a command to run) is required");
		if (target.pid && target.cmd)
			argp_error(state, "--pid and a command exclude each other");
		if (target.cmd && target.wait_s)
			argp_error(state,
				   "--wait is for --pid: a command is traced from its start");
		if (target.cmd && (target.nr_mmio || target.nr_queues || target.qmp))
			argp_error(state,
				   "--mmio, --queue and --qmp need --pid: a command's queues "
				   "are learnt as its guest sets them up");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp target_argp = {
	.options = target_options,
	.parser = parse_target,
};

/*
 * Forks the VMM command, held before exec until a byte is written to go_fd (closing it
 * unwritten makes the child exit). Whether the exec worked comes back on exec_fd, as
 * posix_spawn learns it: close-on-exec, it reads end-of-file once the command runs, or the
 * errno of a failed execvp. With JSON output the command's stdout goes to stderr, so stdout
 * stays JSON lines. The child's pid, or -errno.
 */
static pid_t spawn_held(char **cmd, int *go_fd, int *exec_fd, bool json)
{
	int go[2], ex[2], e;
	pid_t pid;
	char c;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(ex, O_CLOEXEC)) {
		e = -errno;
		close(go[0]);
		close(go[1]);
		return e;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(go[1]);
		close(ex[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* the tracer failed: do not run untraced */
		/* a VMM left running untraced after gma-trace dies would mislead: stop with it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (json)
			dup2(2, 1);
		execvp(cmd[0], cmd);
		e = errno;
		if (write(ex[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	*go_fd = go[1];
	*exec_fd = ex[0];
	return pid;
}

/*
 * --pid with --wait: the process's VM, waited for up to --wait seconds (a VMM started just
 * before gma-trace has not created it yet). Says once that it waits; fails when the process
 * exits or the time is up.
 */
static int wait_for_vm(void)
{
	struct timespec start, pause = { 0, 100 * 1000000 };
	bool said = false;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		err = find_vm_quiet(target.pid, &target.vms, &target.nr_vms, &target.vm);
		if (err != -ENOENT)
			return err == -ESRCH ? report_no_process(target.pid) : err;
		if (elapsed_ms(&start) >= (long)target.wait_s * 1000) {
			fprintf(stderr,
				"gma-trace: process %d (%s) created no KVM VM in %u s (--wait); "
				"'gma-trace vms' lists the VMs there are\n",
				target.pid, comm_of(target.pid), target.wait_s);
			return -ETIMEDOUT;
		}
		if (exiting)
			return -EINTR;
		if (!said)
			fprintf(stderr,
				"gma-trace: process %d (%s) runs no KVM VM yet: waiting up to %u s "
				"for it to create one\n",
				target.pid, comm_of(target.pid), target.wait_s);
		said = true;
		nanosleep(&pause, NULL); /* the next look at the VM list */
	}
}

pid_t target_start(void)
{
	int err;

	if (target.cmd) {
		target.pid = spawn_held(target.cmd, &target.go_fd, &target.exec_fd, env.json);
		if (target.pid < 0)
			return report_error(target.pid, "starting the command");
		return target.pid;
	}
	if (target.wait_s)
		return wait_for_vm() ?: target.pid;
	err = find_vm(target.pid, &target.vms, &target.nr_vms, &target.vm);
	if (err == -ESRCH && !process_exited(target.pid))
		fprintf(stderr, "gma-trace: a VMM that has just started may not have created it "
				"yet: --wait waits for it\n");
	return err ? err : target.pid;
}

/*
 * The PCI ECAM window QEMU maps (info mtree), unless --ecam gave one: so functions the guest
 * configures from now on through ECAM are learnt. Its absence is no error (a pc or microvm
 * machine has none); a window gma cannot follow is said and skipped.
 */
static int import_qmp_ecam(struct gma_tracer *t, const struct gma_vm *vm, struct gma_qmp *qmp,
			   const char *path)
{
	__u64 base;
	__u32 buses;
	int err;

	err = gma_qmp_pci_ecam(qmp, &base, &buses);
	if (err == -ENOENT)
		return 0;
	if (err == -EPROTO) {
		fprintf(stderr,
			"gma-trace: QMP %s: info mtree: a PCI ECAM window gma cannot follow (not "
			"1 MiB aligned, more than 256 buses, or past 2^52); give it with --ecam\n",
			path);
		return 0;
	}
	if (err)
		return report_qmp_error(err, path, "info mtree (the PCI ECAM window)", qmp);
	err = gma_tracer_set_ecam(t, vm->id, base, buses);
	if (err)
		return report_bpf_error(err, "setting the ECAM window from QMP");
	target.ecam_base = base; /* where the functions are read (import_qmp_pci) */
	target.ecam_buses = buses;
	if (!env.json)
		fprintf(stderr, "gma-trace: PCI ECAM window from QMP: 0x%llx, %u buses\n",
			(unsigned long long)base, buses);
	return 0;
}

/*
 * The virtio-pci functions of the queues QMP listed, as they are now: their configuration
 * space read through the ECAM window, their BAR sizes from query-pci. Then their notifies
 * are decoded as for a function the tracer saw set up. Without a window (a pc machine) the
 * space cannot be read without moving the guest's 0xCF8 latch under it: the notifies are
 * then told apart by the queue index they carry only (bpf/ioeventfd.bpf.h), which is said.
 * A function that cannot be read is said and traced so; a broken QMP stream ends the import.
 */
static int import_qmp_pci(struct gma_tracer *t, const struct gma_vm *vm, struct gma_qmp *qmp,
			  const char *path, const struct gma_qmp_queue *qs, size_t n,
			  size_t *imported)
{
	GMA_OPTS(gma_pci_function, fn);
	const char *step;
	char addr[32];
	int err;

	for (size_t i = 0; i < n; i++) {
		__u64 key = qs[i].mmio_base;

		if (!GMA_KEY_IS_PCI(key) || (i && qs[i - 1].mmio_base == key))
			continue; /* a device's queues come together */
		if (!target.ecam_buses) {
			fprintf(stderr,
				"gma-trace: QMP %s: no PCI ECAM window (a pc machine?): the virtio-pci "
				"functions' configuration cannot be read without disturbing the "
				"guest, so their notifies are told apart by queue index only; give "
				"the window with --ecam if the VM has one\n",
				path);
			return 0;
		}
		gma_device_address(key, addr, sizeof(addr));
		step = "reading its configuration space (xp) and BAR sizes (query-pci)";
		err = gma_qmp_pci_function(qmp, target.ecam_base, target.ecam_buses, key, &fn);
		if (err == -ETIMEDOUT || err == -ECONNRESET || err == -ENOTCONN ||
		    err == -EMSGSIZE || err == -ENOMEM)
			return report_qmp_error(err, path, "reading a PCI function (xp, query-pci)",
						qmp);
		if (!err) {
			step = "giving it to the tracer";
			err = gma_tracer_add_pci_function(t, vm->id, key, &fn);
		}
		if (err == -EEXIST)
			continue; /* the tracer saw the guest set it up */
		if (err == -ENOMEM || err == -E2BIG)
			return report_bpf_error(err, "adding a PCI function read through QMP");
		if (err) {
			fprintf(stderr,
				"gma-trace: QMP %s: %s (%s): %s: %s; its notifies are told apart by "
				"queue index only\n",
				path, addr, qs[i].device, step,
				err == -ENODEV	  ? "no VirtIO function answers there" :
				err == -EREMOTEIO ? gma_qmp_last_error(qmp) :
				err == -EINVAL	  ? "a BAR size no BAR can have" :
						    strerror(-err));
			continue;
		}
		(*imported)++;
	}
	return 0;
}

/* Every queue layout QEMU's QMP socket at path reports, and its ECAM window unless given. */
static int import_qmp(struct gma_tracer *t, const struct gma_vm *vm, const char *path, bool ecam)
{
	struct gma_qmp_queue *qs = NULL;
	size_t n = 0, used = 0, fns = 0;
	struct gma_qmp *qmp;
	int err;

	qmp = gma_qmp_new(path, NULL);
	if (!qmp)
		return report_qmp_error(-errno, path, "connecting (greeting, qmp_capabilities)",
					NULL);
	err = gma_qmp_virtio_queues(qmp, &qs, &n, sizeof(*qs));
	if (err)
		report_qmp_error(err, path, "x-query-virtio (listing the virtio queues)", qmp);
	if (!err && ecam)
		err = import_qmp_ecam(t, vm, qmp, path);
	if (!err)
		err = import_qmp_pci(t, vm, qmp, path, qs, n, &fns);
	gma_qmp_close(qmp);
	for (size_t i = 0; !err && i < n; i++) {
		if (!qs[i].mmio_base) {
			fprintf(stderr,
				"gma-trace: QMP: %s (bus %s) queue %u: neither a virtio-mmio window nor "
				"a PCI function on the root bus; skipped (give it with --queue "
				"pci=BB:DD.F,...)\n",
				qs[i].path, qs[i].bus[0] ? qs[i].bus : "?", qs[i].queue);
			continue;
		}
		if (!qs[i].layout.num || !qs[i].layout.desc)
			continue; /* a queue the driver never set up */
		err = gma_tracer_add_queue(t, vm->id, qs[i].mmio_base, qs[i].queue, &qs[i].layout,
					   qs[i].device_id);
		if (err == -E2BIG) {
			fprintf(stderr,
				"gma-trace: QMP: %s queue %u: past the %u queues a device can have "
				"traced; not traced\n",
				qs[i].path, qs[i].queue, GMA_TRACER_QUEUES_MAX);
			err = 0;
			continue;
		}
		if (err)
			report_bpf_error(err, "importing a QMP queue");
		else
			used++;
	}
	free(qs);
	if (!err && !env.json)
		fprintf(stderr,
			"gma-trace: imported %zu queue layouts and %zu PCI functions from QMP\n",
			used, fns);
	return err;
}

int target_add_given(struct gma_tracer *t)
{
	const struct gma_vm *vm = target.vm;
	int err = 0;

	for (size_t i = 0; vm && i < target.nr_mmio && !err; i++)
		err = gma_tracer_add_queue(t, vm->id, target.mmio[i], -1, NULL, 0);
	for (size_t i = 0; vm && i < target.nr_queues && !err; i++) {
		const struct queue_spec *q = &target.queues[i];

		err = gma_tracer_add_queue(t, vm->id, q->base, q->index, &q->layout, q->device_id);
	}
	/* a command's VM is not known yet: its window is every VM's of the process */
	if (!err && target.ecam_buses)
		err = gma_tracer_set_ecam(t, vm ? vm->id : 0, target.ecam_base, target.ecam_buses);
	if (err)
		return report_bpf_error(err, "adding a --mmio, --queue or --ecam");
	if (target.qmp)
		return import_qmp(t, vm, target.qmp, !target.ecam_buses);
	return 0;
}

/*
 * The command's exec, as the child reports it on exec_fd: 0 once it runs (end of file), or
 * the reason it could not start, reported with its name. A command that cannot start is the
 * trace's failure, never an empty trace that ends with status 0.
 */
static int command_started(void)
{
	struct pollfd p = { .fd = target.exec_fd, .events = POLLIN };
	int e = 0, r;
	ssize_t n;

	do
		r = poll(&p, 1, EXEC_TIMEOUT_MS);
	while (r < 0 && errno == EINTR && !exiting);
	if (r == 0) {
		fprintf(stderr, "gma-trace: '%s' did not start in %d s (its exec never returned)\n",
			target.cmd[0], EXEC_TIMEOUT_MS / 1000);
		return -ETIMEDOUT;
	}
	if (r < 0)
		return report_error(-errno, "waiting for the command to start");
	n = read(target.exec_fd, &e, sizeof(e));
	if (n == 0)
		return 0;
	if (n != sizeof(e))
		e = n < 0 ? errno : EIO;
	fprintf(stderr, "gma-trace: cannot start '%s': %s\n", target.cmd[0], strerror(e));
	return -e;
}

void target_device_views(struct gma_tracer *t)
{
	static struct gma_qmp *qmp;
	static bool failed;
	struct gma_qmp_queue *qs;
	size_t n;
	int err;

	if (!target.qmp || !target.vm || failed)
		return;
	if (!qmp)
		qmp = gma_qmp_new(target.qmp, NULL);
	err = qmp ? gma_qmp_virtio_queues(qmp, &qs, &n, sizeof(*qs)) : -errno;
	if (err) {
		report_qmp_error(err, target.qmp, "asking the devices' view of their queues", qmp);
		fprintf(stderr, "gma-trace: the verdicts rest on the rings alone from now on\n");
		gma_qmp_close(qmp);
		qmp = NULL;
		failed = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		GMA_OPTS(gma_device_view, v, .last_avail_idx = qs[i].last_avail_idx,
			 .used_idx = qs[i].used_idx, .inuse = qs[i].inuse);

		if (qs[i].vhost || !qs[i].mmio_base || !qs[i].layout.desc)
			continue;
		gma_tracer_set_device_view(t, target.vm->id, qs[i].mmio_base, qs[i].queue, &v);
	}
	free(qs);
}

int target_release(void)
{
	int err = 0;

	if (target.go_fd < 0)
		return 0;
	if (write(target.go_fd, "g", 1) != 1)
		err = report_error(-errno, "starting the command");
	close(target.go_fd);
	target.go_fd = -1;
	if (!err)
		err = command_started();
	close(target.exec_fd);
	target.exec_fd = -1;
	return err;
}

const char *target_name(void)
{
	return target.cmd ? target.cmd[0] : comm_of(target.pid);
}

void target_end(void)
{
	int status;

	if (target.go_fd >= 0)
		close(target.go_fd); /* the held child exits without running */
	target.go_fd = -1;
	if (target.exec_fd >= 0)
		close(target.exec_fd);
	target.exec_fd = -1;
	if (target.cmd && target.pid > 0) {
		if (!process_exited(target.pid))
			kill(target.pid, SIGTERM);
		waitpid(target.pid, &status, 0);
	}
	gma_vms_free(target.vms);
	target.vms = NULL;
	target.nr_vms = 0;
	target.vm = NULL;
}

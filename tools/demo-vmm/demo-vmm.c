// SPDX-License-Identifier: GPL-2.0
/*
 * demo-vmm: a small VMM on the raw KVM API that runs the demo guest, for gma's tests and demos.
 *
 * Its guest RAM is split into several memslots with separate, non-adjacent host mappings, so
 * guest buffers cross memslot boundaries the way they do in real VMMs. The guest writes a
 * known pattern (pattern.h) and reports each write through I/O ports; the VMM logs every
 * report as JSON lines: the ground truth a test compares with what gma read. Afterwards the
 * guest keeps exiting to the VMM (PIO and MMIO heartbeats) so tracers always have events.
 *
 * This file is main and the run loop: KVM_RUN, each exit to its bus, and when to stop (a
 * signal, --seconds, or the goals of --requests and --until met and the rings settled). What
 * the other files do is listed in demo-vmm.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>

#include "demo-log.h"
#include "demo-vmm.h"

/*
 * Once the goals are met the guest is told to start no new request (DEMO_PIO_QUIESCE); once
 * it has seen that with nothing in flight, the VM runs SETTLE_BEATS more heartbeats and at
 * least SETTLE_MS, so a tracer looks at the rings after their last change (on exits, which
 * heartbeats are, and in its own periodic poll), then stops.
 */
#define SETTLE_BEATS 20
#define SETTLE_MS 200

static struct timespec t_start;
static struct kvm_run *volatile signal_run;
volatile sig_atomic_t stop_signal;
volatile sig_atomic_t released;

uint64_t elapsed_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) * 1000ULL + t.tv_nsec / 1000000 -
	       t_start.tv_nsec / 1000000;
}

static void on_release(int sig)
{
	(void)sig;
	released = 1;
}

static void on_signal(int sig)
{
	stop_signal = sig;
	/* Makes a KVM_RUN that has not started yet return at once; one in progress gets EINTR. */
	if (signal_run)
		signal_run->immediate_exit = 1;
}

static int setup_signals(double seconds)
{
	struct sigaction sa = { .sa_handler = on_signal }, rel = { .sa_handler = on_release };

	sigemptyset(&sa.sa_mask);
	sigemptyset(&rel.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGALRM, &sa, NULL) || sigaction(SIGUSR1, &rel, NULL)) {
		fprintf(stderr, "demo-vmm: sigaction: %s\n", strerror(errno));
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	if (seconds > 0) {
		struct itimerval it = { 0 };

		it.it_value.tv_sec = (time_t)seconds;
		it.it_value.tv_usec = (suseconds_t)((seconds - (time_t)seconds) * 1e6);
		if (!it.it_value.tv_sec && !it.it_value.tv_usec)
			it.it_value.tv_usec = 1;
		if (setitimer(ITIMER_REAL, &it, NULL)) {
			fprintf(stderr, "demo-vmm: setitimer: %s\n", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN:
		return "unknown";
	case KVM_EXIT_EXCEPTION:
		return "exception";
	case KVM_EXIT_DEBUG:
		return "debug";
	case KVM_EXIT_FAIL_ENTRY:
		return "fail-entry";
	case KVM_EXIT_SYSTEM_EVENT:
		return "system-event";
	default:
		return "?";
	}
}

/*
 * A halt after "ready" is the guest waiting for its next heartbeat: there is no interrupt
 * controller, so the VMM is the timer. Sleeping to absolute ticks keeps the rate steady
 * whatever the exits cost; a signal cuts the sleep short and the run loop sees it.
 */
static void idle(struct demo *d)
{
	long step = 1000000000L / d->opts->hz;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	d->next_tick.tv_nsec += step;
	while (d->next_tick.tv_nsec >= 1000000000L) {
		d->next_tick.tv_nsec -= 1000000000L;
		d->next_tick.tv_sec++;
	}
	/* Fell behind (stopped, or slow exits): restart from now instead of bursting. */
	if (d->next_tick.tv_sec < now.tv_sec ||
	    (d->next_tick.tv_sec == now.tv_sec && d->next_tick.tv_nsec < now.tv_nsec))
		d->next_tick = now;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d->next_tick, NULL);
}

/* What the run still waits for, said for a human ("" once the goals are met). */
static const char *waiting_for(const struct demo *d, char *buf, size_t size)
{
	const struct opts *o = d->opts;
	size_t n = 0;

	buf[0] = '\0';
	if (o->requests && d->virtio.normal_completions < o->requests)
		n += snprintf(buf + n, size - n,
			      "%" PRIu64 " completed virtio requests (%" PRIu64 " so far)",
			      o->requests, d->virtio.normal_completions);
	if (n < size && o->until_hostile_done && !d->hostile_rounds)
		n += snprintf(buf + n, size - n,
			      "%sthe end of the hostile round (%" PRIu64
			      " scenarios reported so far)",
			      n ? ", and " : "", d->hostile_events);
	if (n < size && !buf[0] && !d->done)
		snprintf(buf, size, "the guest to go quiet and settle");
	return buf;
}

/* After every exit: goals met -> quiesce; quiet and settled -> done. */
static void check_goals(struct demo *d)
{
	const struct opts *o = d->opts;

	if (!has_goals(o) || d->done)
		return;
	if (!d->quiesce) {
		if ((o->requests && d->virtio.normal_completions < o->requests) ||
		    (o->until_hostile_done && !d->hostile_rounds))
			return;
		d->quiesce = true;
		jlog("{\"event\":\"goals_met\",\"completions\":%" PRIu64
		     ",\"hostile_rounds\":%u,\"ms\":%" PRIu64 "}",
		     d->virtio.normal_completions, d->hostile_rounds, elapsed_ms());
	}
	if (!d->quiet || d->virtio.pending_count || d->heartbeats < d->quiet_beats + SETTLE_BEATS ||
	    elapsed_ms() < d->quiet_ms + SETTLE_MS)
		return;
	d->done = true;
}

/* Returns the reason the VM stopped, as logged; *status is the process exit status. */
static const char *run(struct demo *d, int *status)
{
	struct kvm_run *r = d->vm.run;

	*status = 1;
	for (;;) {
		if (stop_signal)
			break;
		if (ioctl(d->vm.vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "demo-vmm: KVM_RUN: %s\n", strerror(errno));
			return "error";
		}
		switch (r->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)r + r->io.data_offset;

			for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size)
				bus_access(&d->pio, r->io.port, data, r->io.size,
					   r->io.direction == KVM_EXIT_IO_OUT);
			break;
		}
		case KVM_EXIT_MMIO:
			bus_access(&d->mmio, r->mmio.phys_addr, r->mmio.data,
				   r->mmio.len <= 8 ? r->mmio.len : 8, r->mmio.is_write);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_HLT:
			if (d->ready && !d->panic) {
				idle(d);
				break;
			}
			console_flush(d);
			fprintf(stderr, "demo-vmm: guest halted before it was ready\n");
			vm_dump_regs(&d->vm, stderr);
			return "halt";
		case KVM_EXIT_SHUTDOWN:
			console_flush(d);
			fprintf(stderr, "demo-vmm: guest shutdown (triple fault: an exception with "
					"no IDT)\n");
			vm_dump_regs(&d->vm, stderr);
			return "shutdown";
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "demo-vmm: KVM internal error, suberror %u%s\n",
				r->internal.suberror,
				r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
					" (instruction emulation failed)" :
					"");
			vm_dump_regs(&d->vm, stderr);
			return "internal-error";
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "demo-vmm: VM entry failed, hardware reason 0x%llx\n",
				(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
			vm_dump_regs(&d->vm, stderr);
			return "fail-entry";
		default:
			fprintf(stderr, "demo-vmm: unexpected KVM exit %u (%s)\n", r->exit_reason,
				exit_name(r->exit_reason));
			vm_dump_regs(&d->vm, stderr);
			return "unexpected-exit";
		}
		/* notifies KVM took for the VMM (--ioeventfd), then completions */
		ioeventfd_poll(&d->io);
		if (d->virtio.held && released) {
			d->virtio.held = false;
			jlog("{\"event\":\"released\",\"what\":\"completions\",\"ms\":%" PRIu64 "}",
			     elapsed_ms());
		}
		/* Used elements whose --complete-delay-ms has passed, before the guest runs. */
		virtio_host_poll(&d->virtio);
		churn_step(d);
		if (d->panic) {
			console_flush(d);
			return "panic";
		}
		check_goals(d);
		if (d->done) {
			console_flush(d);
			*status = 0;
			return "done";
		}
	}
	console_flush(d);
	/* --seconds is a safety limit when there are goals: reaching it is a failure */
	if (stop_signal == SIGALRM && has_goals(d->opts)) {
		char why[256];

		fprintf(stderr, "demo-vmm: --seconds %g reached while waiting for %s\n",
			d->opts->seconds, waiting_for(d, why, sizeof(why)));
		return "timeout";
	}
	*status = 0;
	return stop_signal == SIGALRM ? "timeout" : "signal";
}

int main(int argc, char **argv)
{
	static struct demo d;
	struct opts o;
	char guest[PATH_MAX];
	const char *reason;
	uint64_t ms;
	int status;

	parse_options(&o, argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	setvbuf(stdout, NULL, _IOLBF, 0);
	d.opts = &o;
	d.next_tick = t_start;

	if (o.guest_path) {
		snprintf(guest, sizeof(guest), "%s", o.guest_path);
	} else if (default_guest_path(guest, sizeof(guest))) {
		return 1;
	}
	if (o.log_path) {
		if (jlog_open(o.log_path)) {
			fprintf(stderr, "demo-vmm: --log %s: %s\n", o.log_path, strerror(errno));
			return 1;
		}
	}

	if (o.req_hz > o.hz)
		o.req_hz = o.hz;
	if (setup(&d, guest)) {
		virtio_host_destroy(&d.virtio);
		vm_destroy(&d.vm);
		return 1;
	}
	signal_run = d.vm.run;
	if (setup_signals(o.seconds)) {
		vm_destroy(&d.vm);
		return 1;
	}

	reason = run(&d, &status);
	signal_run = NULL;
	ms = elapsed_ms();
	/* the vCPU is stopped: the last notifies KVM took, then the rings as they are left */
	ioeventfd_destroy(&d.io);
	virtio_host_log_rings(&d.virtio);
	if (has_goals(&o) && !d.done) {
		char why[256], esc[256 * 6 + 1];

		jlog("{\"event\":\"unmet\",\"waiting_for\":\"%s\"}",
		     json_escape(waiting_for(&d, why, sizeof(why)), esc, sizeof(esc)));
	}
	jlog("{\"event\":\"exit\",\"reason\":\"%s\",\"status\":%d,\"heartbeats\":%" PRIu64
	     ",\"mmio_heartbeats\":%" PRIu64 ",\"elapsed_ms\":%" PRIu64
	     ",\"virtio_requests\":%" PRIu64 ",\"virtio_completions\":%" PRIu64
	     ",\"virtio_errors\":%" PRIu64 ",\"hostile_events\":%" PRIu64
	     ",\"pci_config_reads\":%" PRIu64 ",\"pci_config_writes\":%" PRIu64
	     ",\"pci_ecam_reads\":%" PRIu64 ",\"pci_ecam_writes\":%" PRIu64 "}",
	     reason, status, d.heartbeats, d.mmio_writes, ms, d.virtio.requests,
	     d.virtio.completions, d.virtio.errors, d.hostile_events, d.pci.cfg_reads,
	     d.pci.cfg_writes, d.pci.ecam_reads, d.pci.ecam_writes);
	fprintf(stderr,
		"demo-vmm: stopped (%s) after %" PRIu64 " ms: %" PRIu64 " heartbeats (%.1f/s)%s\n",
		reason, ms, d.heartbeats, ms ? d.heartbeats * 1000.0 / ms : 0.0,
		d.ready ? "" : ", guest never got ready");
	fprintf(stderr,
		"demo-vmm: virtio: %" PRIu64 " requests (%.1f/s), %" PRIu64 " completions, %" PRIu64
		" errors\n",
		d.virtio.requests, ms ? d.virtio.requests * 1000.0 / ms : 0.0, d.virtio.completions,
		d.virtio.errors);
	jlog_close();
	virtio_host_destroy(&d.virtio);
	vm_destroy(&d.vm);
	return status;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-vm: a tiny synthetic KVM VM for gma's benchmarks. Its guest (a dozen hand-assembled
 * 32-bit instructions) sets up one virtio-mmio queue through register writes the tracer
 * learns from (magic read, QueueNum, Desc/Driver/Device, QueueReady), then loops: make one
 * chain of --chain descriptors available, write QueueNotify. Every notify carries exactly one
 * chain; the VMM completes it at once (used ring) and resumes the guest, so one notify is one
 * round trip guest -> KVM -> VMM -> guest.
 *
 *   bench-vm [--chain N] [--seconds S] [--rate R] [--stop]
 *
 * --rate paces notifies (the VMM waits before resuming; a late notify restarts the schedule,
 * counted as "late", rather than a burst catching up); --stop raises SIGSTOP after the VM is
 * built and before the guest runs, so a tracer can attach and then SIGCONT it. On stdout: one
 * line "avail_idx_hva=0x..." at start; at exit a JSON line with the count and rate, on stdout
 * and on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE 0x100000UL /* 1 MiB at gpa 0 */
#define CODE_GPA 0x1000
#define GDT_GPA 0x500
#define STACK_GPA 0x8000
#define DESC_GPA 0x10000
#define AVAIL_GPA 0x11000
#define USED_GPA 0x12000
#define BUF_GPA 0x20000 /* descriptor i's buffer at BUF_GPA + i * 0x1000 */
#define BUF_LEN 512
#define QUEUE_NUM 64
#define MMIO_BASE 0xd0000000UL
#define MMIO_WINDOW 0x200
#define DEVICE_ID 2 /* virtio-blk-like chains */

#define VIRTIO_MAGIC 0x74726976
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-vm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A little assembler: enough encodings for the guest below. */
struct code {
	uint8_t *p;
	size_t n;
};

static void emit(struct code *c, const void *bytes, size_t n)
{
	memcpy(c->p + c->n, bytes, n);
	c->n += n;
}

static void emit32(struct code *c, uint32_t v)
{
	emit(c, &v, 4);
}

/* mov dword [esi + off], imm32 (disp32 form) */
static void mmio_write(struct code *c, uint32_t off, uint32_t val)
{
	emit(c, (uint8_t[]){ 0xc7, 0x86 }, 2);
	emit32(c, off);
	emit32(c, val);
}

/* mov eax, dword [esi + off] (disp32 form) */
static void mmio_read(struct code *c, uint32_t off)
{
	emit(c, (uint8_t[]){ 0x8b, 0x86 }, 2);
	emit32(c, off);
}

static void build_guest(uint8_t *ram)
{
	struct code c = { .p = ram + CODE_GPA };
	size_t loop;

	emit(&c, (uint8_t[]){ 0xbe }, 1); /* mov esi, MMIO_BASE */
	emit32(&c, MMIO_BASE);
	mmio_read(&c, 0x000); /* MagicValue */
	mmio_read(&c, 0x004); /* Version */
	mmio_read(&c, 0x008); /* DeviceID */
	mmio_write(&c, 0x030, 0); /* QueueSel */
	mmio_write(&c, 0x038, QUEUE_NUM); /* QueueNum */
	mmio_write(&c, 0x080, DESC_GPA);
	mmio_write(&c, 0x084, 0);
	mmio_write(&c, 0x090, AVAIL_GPA);
	mmio_write(&c, 0x094, 0);
	mmio_write(&c, 0x0a0, USED_GPA);
	mmio_write(&c, 0x0a4, 0);
	mmio_write(&c, 0x044, 1); /* QueueReady */
	emit(&c, (uint8_t[]){ 0xbb }, 1); /* mov ebx, &avail->idx */
	emit32(&c, AVAIL_GPA + 2);
	loop = c.n;
	emit(&c, (uint8_t[]){ 0x66, 0xff, 0x03 }, 3); /* inc word [ebx] */
	mmio_write(&c, 0x050, 0); /* QueueNotify: queue 0 */
	emit(&c, (uint8_t[]){ 0xeb, (uint8_t)(loop - (c.n + 2)) }, 2); /* jmp loop */
}

/* Descriptors 0..chain-1 chained; every avail entry is head 0 (the VMM completes each). */
static void build_queue(uint8_t *ram, unsigned int chain)
{
	struct vring_desc_le *d = (void *)(ram + DESC_GPA);
	uint16_t *avail_ring = (void *)(ram + AVAIL_GPA + 4);

	for (unsigned int i = 0; i < chain; i++) {
		d[i].addr = BUF_GPA + i * 0x1000UL;
		d[i].len = BUF_LEN;
		d[i].flags = i + 1 < chain ? DESC_F_NEXT : DESC_F_WRITE;
		d[i].next = i + 1 < chain ? i + 1 : 0;
		memset(ram + d[i].addr, 0x40 + i, BUF_LEN);
	}
	for (unsigned int i = 0; i < QUEUE_NUM; i++)
		avail_ring[i] = 0;
}

static void flat(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){ .base = 0,
				   .limit = 0xffffffff,
				   .selector = sel,
				   .type = type,
				   .present = 1,
				   .db = 1,
				   .s = 1,
				   .g = 1 };
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-vm [--chain 1..16] [--seconds S] [--rate R] [--stop]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chain", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "stop", no_argument, NULL, 'S' },
		{},
	};
	unsigned int chain = 4;
	double seconds = 3, rate = 0;
	bool stop = false;
	int kvm, vmfd, vcpu, size, o;
	struct kvm_userspace_memory_region mr;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	uint64_t notifies = 0, other_exits = 0, late = 0, t0, t1, end_ns, due = 0;
	uint16_t used_idx = 0;
	uint8_t *ram;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			chain = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 'S':
			stop = true;
			break;
		default:
			usage();
		}
	}
	if (chain < 1 || chain > 16 || seconds <= 0)
		usage();

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vmfd < 0)
		die("KVM_CREATE_VM");
	if (ioctl(vmfd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
		die("KVM_SET_TSS_ADDR");
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap");
	memset(ram, 0, RAM_SIZE); /* resident, as a booted guest's rings would be */
	mr = (struct kvm_userspace_memory_region){ .slot = 0,
						   .guest_phys_addr = 0,
						   .memory_size = RAM_SIZE,
						   .userspace_addr = (uintptr_t)ram };
	if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(*run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	build_guest(ram);
	build_queue(ram, chain);
	/* flat 32-bit protected mode, paging off; the GDT in memory matches the hidden state */
	((uint64_t *)(ram + GDT_GPA))[1] = 0x00cf9b000000ffffULL;
	((uint64_t *)(ram + GDT_GPA))[2] = 0x00cf93000000ffffULL;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	flat(&sregs.cs, 0x08, 0xb);
	flat(&sregs.ds, 0x10, 0x3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.cr0 |= 1; /* PE */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	printf("avail_idx_hva=0x%" PRIxPTR "\n", (uintptr_t)(ram + AVAIL_GPA + 2));
	fflush(stdout);
	if (stop)
		raise(SIGSTOP);

	signal(SIGALRM, on_alarm);
	alarm((unsigned int)seconds + 2); /* KVM_RUN returns EINTR if the guest stops exiting */
	t0 = now_ns();
	end_ns = t0 + (uint64_t)(seconds * 1e9);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (errno != EINTR)
				die("KVM_RUN");
			break;
		}
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr >= MMIO_BASE &&
		    run->mmio.phys_addr < MMIO_BASE + MMIO_WINDOW) {
			uint32_t off = run->mmio.phys_addr - MMIO_BASE, val = 0;

			if (!run->mmio.is_write) {
				val = off == 0x000 ? VIRTIO_MAGIC :
				      off == 0x004 ? 2 :
				      off == 0x008 ? DEVICE_ID :
						     0;
				memcpy(run->mmio.data, &val, 4);
			} else if (off == 0x050) {
				/* complete the chain: used elem {head 0, BUF_LEN}, used->idx++ */
				uint32_t *elem =
					(void *)(ram + USED_GPA + 4 + 8 * (used_idx % QUEUE_NUM));

				elem[0] = 0;
				elem[1] = BUF_LEN;
				used_idx++;
				__atomic_store_n((uint16_t *)(ram + USED_GPA + 2), used_idx,
						 __ATOMIC_RELEASE);
				notifies++;
				if (rate > 0) {
					/*
					 * Wait (spinning: a sleep's wakeup is too coarse for these
					 * rates) to the next notify's time. A notify that comes late
					 * (the VMM was descheduled) starts the schedule again from
					 * now instead of catching up in a burst, so the rate is the
					 * rate at every moment.
					 */
					uint64_t period = (uint64_t)(1e9 / rate), t = now_ns();

					due = due ? due + period : t0 + period;
					if (t > due + period) {
						due = t;
						late++;
					}
					while (now_ns() < due)
						;
				}
			}
		} else if (run->exit_reason == KVM_EXIT_HLT ||
			   run->exit_reason == KVM_EXIT_SHUTDOWN ||
			   run->exit_reason == KVM_EXIT_FAIL_ENTRY ||
			   run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			fprintf(stderr, "bench-vm: guest stopped: exit reason %u\n",
				run->exit_reason);
			return 1;
		} else {
			other_exits++;
		}
		if (timed_out || now_ns() >= end_ns)
			break;
	}
	t1 = now_ns();
	/* on both streams: under gma-trace one of them is the trace's */
	for (int i = 0; i < 2; i++) {
		fprintf(i ? stderr : stdout,
			"{\"chain\":%u,\"notifies\":%" PRIu64 ",\"other_exits\":%" PRIu64
			",\"late\":%" PRIu64 ",\"seconds\":%.3f,\"rate\":%.1f}\n",
			chain, notifies, other_exits, late, (t1 - t0) / 1e9,
			notifies / ((t1 - t0) / 1e9));
	}
	return 0;
}

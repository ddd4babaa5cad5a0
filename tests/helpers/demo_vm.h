/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runs the demo VMM (tools/demo-vmm) for a test: starts it with a ground-truth log, waits
 * until its guest has written its patterns, and reads back what the VMM registered.
 */
#ifndef GMA_TEST_DEMO_VM_H
#define GMA_TEST_DEMO_VM_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef GMA_OUTPUT
#define GMA_OUTPUT "build"
#endif

struct demo_slot {
	__u32 slot;
	__u64 gpa;
	__u64 size;
	__u64 hva;
};

struct demo_vm {
	pid_t pid;
	char log_path[64];
	size_t nr_slots;
	struct demo_slot slots[16];
};

/* Starts build/demo-vmm with extra arguments (NULL-terminated); aborts the test on failure. */
void demo_vm_start(struct demo_vm *vm, const char *const *extra_args);
void demo_vm_stop(struct demo_vm *vm);
/* Stops the VMM but keeps its log at vm->log_path (the caller unlinks it). */
void demo_vm_stop_keep_log(struct demo_vm *vm);

/*
 * gma-trace's --queue for queue vq (DEMO_VQ_*) of the demo guest's virtio-mmio devices, modern
 * (the VMM's default), as the guest lays it out (demo-abi.h); written into buf, returned.
 */
const char *demo_mmio_queue_arg(char *buf, size_t size, unsigned int vq);

/* Runs a shell command, returns its exit status and stdout (malloc'ed) in *out. */
int run_capture(const char *cmd, char **out);

#endif /* GMA_TEST_DEMO_VM_H */

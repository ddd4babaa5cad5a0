/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libgma: guest memory of KVM virtual machines, read from the host.
 *
 * Conventions follow libbpf: functions return 0 or a negative errno; constructors return a
 * pointer, or NULL with errno set; options structs start with their size so they can grow
 * without breaking callers (declare them with GMA_OPTS). There is no global state: objects
 * are independent, and one object may be used by one thread at a time.
 */
#ifndef GMA_GMA_H
#define GMA_GMA_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GMA_VERSION_MAJOR 0
#define GMA_VERSION_MINOR 1

/* Declares and zero-fills an options struct with its size set, like LIBBPF_OPTS. */
#define GMA_OPTS(type, name, ...) struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

/* The largest region table libgma accepts (KVM allows 32764 memslots per address space). */
#define GMA_REGIONS_MAX 32768

/*
 * One contiguous range of guest physical memory and where the backend finds it: a pointer in
 * this process (local), a virtual address in the VMM (process) or an offset in a dump file.
 */
struct gma_region {
	__u64 gpa;
	__u64 size;
	__u64 addr;
};

/*
 * Checks a region table: sorted by gpa, no overlap, no empty region, neither the guest nor the
 * host range wrapping past 2^64. Returns -EINVAL and stores the index of the first bad region
 * in *bad (when not NULL), -E2BIG for more than GMA_REGIONS_MAX regions.
 */
int gma_regions_validate(const struct gma_region *regions, size_t n, size_t *bad);

struct gma_mem;

struct gma_mem_opts {
	size_t sz;
	/* File backend: open the dump read-write, so writes reach the file. */
	bool writable;
	size_t : 0;
};

/*
 * Constructors copy and validate the region table. local: addr is a pointer in this process.
 * process: addr is a virtual address in process pid, accessed with process_vm_readv/writev
 * (volatile access is refused with -EOPNOTSUPP: those syscalls do not promise an untorn
 * access). file: addr is an offset in the dump at path, accessed with pread/pwrite.
 * Return NULL with errno EINVAL (bad table), E2BIG, ESRCH (no such pid), or open(2)'s errno.
 */
struct gma_mem *gma_mem_new_local(const struct gma_region *regions, size_t n);
struct gma_mem *gma_mem_new_process(pid_t pid, const struct gma_region *regions, size_t n);
struct gma_mem *gma_mem_new_file(const char *path, const struct gma_region *regions, size_t n,
				 const struct gma_mem_opts *opts);
void gma_mem_free(struct gma_mem *mem);

/* Translate-and-get-limit: the backend address of gpa and the bytes accessible from it. */
int gma_mem_translate(struct gma_mem *mem, __u64 gpa, __u64 *addr, __u64 *limit);

/* One object, which must lie within one region (-ERANGE otherwise, nothing copied). */
int gma_mem_read_obj(struct gma_mem *mem, __u64 gpa, void *dst, size_t size);
int gma_mem_write_obj(struct gma_mem *mem, __u64 gpa, const void *src, size_t size);

/*
 * A buffer across any number of regions. -EINVAL at a hole, -EFAULT when the backend cannot
 * copy, -EOVERFLOW when the range wraps; *done (may be NULL) is the bytes copied before the
 * failure. A write checks the whole span first: a write that fails on a hole changes nothing.
 * Writes to a dump opened without gma_mem_opts.writable fail with -EROFS.
 */
int gma_mem_read(struct gma_mem *mem, __u64 gpa, void *dst, size_t len, size_t *done);
int gma_mem_write(struct gma_mem *mem, __u64 gpa, const void *src, size_t len, size_t *done);

/* Exactly one access of width 1, 2, 4 or 8 bytes at a gpa aligned to width. */
int gma_mem_read_volatile(struct gma_mem *mem, __u64 gpa, unsigned int width, __u64 *val);
int gma_mem_write_volatile(struct gma_mem *mem, __u64 gpa, unsigned int width, __u64 val);

/* The region table the object was created with (validated, owned by mem). */
const struct gma_region *gma_mem_regions(const struct gma_mem *mem, size_t *n);

/* Runtime version, to compare with GMA_VERSION_MAJOR/MINOR at build time. */
unsigned int gma_version_major(void);
unsigned int gma_version_minor(void);

#ifdef __cplusplus
}
#endif

#endif /* GMA_GMA_H */

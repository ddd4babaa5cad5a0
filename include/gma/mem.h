/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Guest memory through the accessor contract (<gma/accessor.h>): a region table and one of
 * three backends, this process's memory, a live VMM process (process_vm_readv/writev at the
 * VMM's virtual addresses) or a memory dump file.
 */
#ifndef GMA_MEM_H
#define GMA_MEM_H

#include <gma/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest region table libgma accepts (KVM allows 32764 memslots per address space). */
#define GMA_REGIONS_MAX 32768

/*
 * One contiguous range of guest physical memory and where the backend finds it: a pointer in
 * this process (local), a virtual address in the VMM (process) or an offset in a dump file.
 * It never grows (the growth rules of <gma/gma.h>): callers pass tables of it; what a later
 * backend needs beside it goes in its options.
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
GMA_API int gma_regions_validate(const struct gma_region *regions, size_t n, size_t *bad);

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
 * access). file: addr is an offset in the dump at path, accessed with pread/pwrite; the dump
 * is a regular file or a block device (opening never waits: a FIFO is refused at once), and
 * may be shorter than its table (reads past its end fail with -EFAULT).
 * Return NULL with errno EINVAL (bad table), E2BIG, ESRCH (no such pid), EISDIR (the dump is
 * a directory), ESPIPE (a FIFO, socket or character device), or open(2)'s errno.
 */
GMA_API struct gma_mem *gma_mem_new_local(const struct gma_region *regions, size_t n);
GMA_API struct gma_mem *gma_mem_new_process(pid_t pid, const struct gma_region *regions, size_t n);
GMA_API struct gma_mem *gma_mem_new_file(const char *path, const struct gma_region *regions,
					 size_t n, const struct gma_mem_opts *opts);
GMA_API void gma_mem_free(struct gma_mem *mem);

/* Translate-and-get-limit: the backend address of gpa and the bytes accessible from it. */
GMA_API int gma_mem_translate(struct gma_mem *mem, __u64 gpa, __u64 *addr, __u64 *limit);

/* One object, which must lie within one region (-ERANGE otherwise, nothing copied). */
GMA_API int gma_mem_read_obj(struct gma_mem *mem, __u64 gpa, void *dst, size_t size);
GMA_API int gma_mem_write_obj(struct gma_mem *mem, __u64 gpa, const void *src, size_t size);

/*
 * A buffer across any number of regions. -EINVAL at a hole, -EFAULT when the backend cannot
 * copy, -EOVERFLOW when the range wraps; *done (may be NULL) is the bytes copied before the
 * failure. A write checks the whole span first: a write that fails on a hole changes nothing.
 * Writes to a dump opened without gma_mem_opts.writable fail with -EROFS.
 */
GMA_API int gma_mem_read(struct gma_mem *mem, __u64 gpa, void *dst, size_t len, size_t *done);
GMA_API int gma_mem_write(struct gma_mem *mem, __u64 gpa, const void *src, size_t len,
			  size_t *done);

/* Exactly one access of width 1, 2, 4 or 8 bytes at a gpa aligned to width. */
GMA_API int gma_mem_read_volatile(struct gma_mem *mem, __u64 gpa, unsigned int width, __u64 *val);
GMA_API int gma_mem_write_volatile(struct gma_mem *mem, __u64 gpa, unsigned int width, __u64 val);

/* The region table the object was created with (validated; owned by mem, valid until freed). */
GMA_API const struct gma_region *gma_mem_regions(const struct gma_mem *mem, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* GMA_MEM_H */

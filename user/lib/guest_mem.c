// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Userspace backends of the accessor core: an in-process region table, a live VMM process
 * (process_vm_readv/writev) and a memory dump file (pread/pwrite). All three share the region
 * table and its translation; they differ only in how bytes are moved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gma/gma.h>

#include "gma_internal.h"

enum gma_backend_kind {
	GMA_BACKEND_LOCAL,
	GMA_BACKEND_PROCESS,
	GMA_BACKEND_FILE,
};

struct gma_backend {
	enum gma_backend_kind kind;
	struct gma_region *regions;
	size_t nr_regions;
	pid_t pid;
	int fd;
	bool writable;
};

struct gma_mem {
	struct gma_backend be;
};

#define GMA_BACKEND_HAS_WRITE
#include <gma/accessor.h>

/* The last byte of a non-empty range, or false when it wraps past 2^64. */
static bool range_last(__u64 start, __u64 size, __u64 *last)
{
	*last = start + size - 1;
	return *last >= start;
}

int gma_regions_validate(const struct gma_region *regions, size_t n, size_t *bad)
{
	__u64 last, prev_last = 0;
	size_t i;

	if (n > GMA_REGIONS_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		const struct gma_region *r = &regions[i];

		if (!r->size || !range_last(r->gpa, r->size, &last) ||
		    !range_last(r->addr, r->size, &(__u64){ 0 }) || (i && r->gpa <= prev_last)) {
			if (bad)
				*bad = i;
			return -EINVAL;
		}
		prev_last = last;
	}
	return 0;
}

/* Binary search of the sorted table; the limit is what is left of the region from gpa. */
static int gma_backend_translate(struct gma_backend *be, __u64 gpa, struct gma_xlat *out)
{
	size_t lo = 0, hi = be->nr_regions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct gma_region *r = &be->regions[mid];

		if (gpa < r->gpa) {
			hi = mid;
		} else if (gpa - r->gpa >= r->size) {
			lo = mid + 1;
		} else {
			out->hva = r->addr + (gpa - r->gpa);
			out->limit = r->size - (gpa - r->gpa);
			return 0;
		}
	}
	return -EINVAL;
}

/* process_vm_{readv,writev} may stop early at an unmapped page: anything short is a fault. */
static int process_copy(pid_t pid, void *local, __u64 remote, __u64 len, bool write)
{
	struct iovec liov = { .iov_base = local, .iov_len = len };
	struct iovec riov = { .iov_base = (void *)(unsigned long)remote, .iov_len = len };
	ssize_t n;

	n = write ? process_vm_writev(pid, &liov, 1, &riov, 1, 0) :
		    process_vm_readv(pid, &liov, 1, &riov, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* A dump file shorter than its region map reads short: that is a fault, not a hole. */
static int file_copy(int fd, void *buf, __u64 off, __u64 len, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EFAULT;
		buf = (char *)buf + n;
		off += n;
		len -= n;
	}
	return 0;
}

static int gma_backend_read(struct gma_backend *be, void *dst, __u64 dst_off, __u64 hva, __u64 len)
{
	char *to = (char *)dst + dst_off;

	switch (be->kind) {
	case GMA_BACKEND_LOCAL:
		memcpy(to, (const void *)(unsigned long)hva, len);
		return 0;
	case GMA_BACKEND_PROCESS:
		return process_copy(be->pid, to, hva, len, false);
	case GMA_BACKEND_FILE:
		return file_copy(be->fd, to, hva, len, false);
	}
	return -EINVAL;
}

static int gma_backend_write(struct gma_backend *be, __u64 hva, const void *src, __u64 src_off,
			     __u64 len)
{
	void *from = (char *)src + src_off;

	switch (be->kind) {
	case GMA_BACKEND_LOCAL:
		memcpy((void *)(unsigned long)hva, from, len);
		return 0;
	case GMA_BACKEND_PROCESS:
		return process_copy(be->pid, from, hva, len, true);
	case GMA_BACKEND_FILE:
		if (!be->writable)
			return -EROFS;
		return file_copy(be->fd, from, hva, len, true);
	}
	return -EINVAL;
}

/*
 * Local memory is accessed with one atomic load of the exact width. A dump file is not shared
 * with a running guest, so one pread of the aligned width is a whole access. Across processes
 * no syscall promises an untorn copy, so the process backend refuses.
 */
static int gma_backend_read_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 *val)
{
	const void *p = (const void *)(unsigned long)hva;
	__u64 v = 0;
	int err;

	switch (be->kind) {
	case GMA_BACKEND_LOCAL:
		if (hva & (width - 1))
			return -EINVAL; /* a region mapped at an odd host address */
		switch (width) {
		case 1:
			*val = __atomic_load_n((const __u8 *)p, __ATOMIC_RELAXED);
			return 0;
		case 2:
			*val = __atomic_load_n((const __u16 *)p, __ATOMIC_RELAXED);
			return 0;
		case 4:
			*val = __atomic_load_n((const __u32 *)p, __ATOMIC_RELAXED);
			return 0;
		case 8:
			*val = __atomic_load_n((const __u64 *)p, __ATOMIC_RELAXED);
			return 0;
		}
		return -EINVAL;
	case GMA_BACKEND_FILE:
		err = file_copy(be->fd, &v, hva, width, false);
		if (!err)
			*val = v; /* little-endian host: the low `width` bytes hold the value */
		return err;
	case GMA_BACKEND_PROCESS:
		return -EOPNOTSUPP;
	}
	return -EINVAL;
}

static int gma_backend_write_volatile(struct gma_backend *be, __u64 hva, __u32 width, __u64 val)
{
	void *p = (void *)(unsigned long)hva;

	switch (be->kind) {
	case GMA_BACKEND_LOCAL:
		if (hva & (width - 1))
			return -EINVAL;
		switch (width) {
		case 1:
			__atomic_store_n((__u8 *)p, (__u8)val, __ATOMIC_RELAXED);
			return 0;
		case 2:
			__atomic_store_n((__u16 *)p, (__u16)val, __ATOMIC_RELAXED);
			return 0;
		case 4:
			__atomic_store_n((__u32 *)p, (__u32)val, __ATOMIC_RELAXED);
			return 0;
		case 8:
			__atomic_store_n((__u64 *)p, val, __ATOMIC_RELAXED);
			return 0;
		}
		return -EINVAL;
	case GMA_BACKEND_FILE:
		if (!be->writable)
			return -EROFS;
		return file_copy(be->fd, &val, hva, width, true);
	case GMA_BACKEND_PROCESS:
		return -EOPNOTSUPP;
	}
	return -EINVAL;
}

static struct gma_mem *mem_new(enum gma_backend_kind kind, const struct gma_region *regions,
			       size_t n)
{
	struct gma_mem *mem;
	int err;

	err = gma_regions_validate(regions, n, NULL);
	if (err) {
		errno = -err;
		return NULL;
	}
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return NULL;
	mem->be.kind = kind;
	mem->be.fd = -1;
	mem->be.nr_regions = n;
	if (n) {
		mem->be.regions = malloc(n * sizeof(*regions));
		if (!mem->be.regions) {
			free(mem);
			return NULL;
		}
		memcpy(mem->be.regions, regions, n * sizeof(*regions));
	}
	return mem;
}

struct gma_mem *gma_mem_new_local(const struct gma_region *regions, size_t n)
{
	return mem_new(GMA_BACKEND_LOCAL, regions, n);
}

struct gma_mem *gma_mem_new_process(pid_t pid, const struct gma_region *regions, size_t n)
{
	struct gma_mem *mem;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH)) {
		errno = ESRCH;
		return NULL;
	}
	mem = mem_new(GMA_BACKEND_PROCESS, regions, n);
	if (mem)
		mem->be.pid = pid;
	return mem;
}

/*
 * Only a regular file or a block device has bytes at offsets that pread(2) can address: a
 * directory is -EISDIR, anything else (a FIFO, a socket, a character device) -ESPIPE. The
 * descriptor is made blocking again (O_NONBLOCK means nothing to a file or a disk).
 */
static int dump_file_usable(int fd)
{
	struct stat st;
	int flags;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -ESPIPE;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK))
		return -errno;
	return 0;
}

struct gma_mem *gma_mem_new_file(const char *path, const struct gma_region *regions, size_t n,
				 const struct gma_mem_opts *opts)
{
	bool writable = false;
	struct gma_mem *mem;
	int fd, err;

	if (!OPTS_VALID(opts, gma_mem_opts)) {
		errno = EINVAL;
		return NULL;
	}
	writable = OPTS_GET(opts, writable, false);
	/* O_NONBLOCK: a FIFO opened for reading must not wait for a writer */
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	err = dump_file_usable(fd);
	if (err) {
		close(fd);
		errno = -err;
		return NULL;
	}
	mem = mem_new(GMA_BACKEND_FILE, regions, n);
	if (!mem) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	mem->be.fd = fd;
	mem->be.writable = writable;
	return mem;
}

void gma_mem_free(struct gma_mem *mem)
{
	if (!mem)
		return;
	if (mem->be.fd >= 0)
		close(mem->be.fd);
	free(mem->be.regions);
	free(mem);
}

int gma_mem_translate(struct gma_mem *mem, __u64 gpa, __u64 *addr, __u64 *limit)
{
	struct gma_xlat x;
	int err = gma_translate(&mem->be, gpa, &x);

	if (err)
		return err;
	*addr = x.hva;
	*limit = x.limit;
	return 0;
}

int gma_mem_read_obj(struct gma_mem *mem, __u64 gpa, void *dst, size_t size)
{
	return gma_read_obj(&mem->be, gpa, dst, size);
}

int gma_mem_write_obj(struct gma_mem *mem, __u64 gpa, const void *src, size_t size)
{
	return gma_write_obj(&mem->be, gpa, src, size);
}

/*
 * Regions gathered into one process_vm_readv: the remote iovec has one element per region,
 * the local one a single element. Well under the kernel's UIO_MAXIOV (1024), and small enough
 * for the stack.
 */
#define PROCESS_GATHER_MAX 64

/*
 * gma_read_buf() for the process backend, with the same contract, one syscall per
 * PROCESS_GATHER_MAX regions instead of one per region: a span over 64 small regions cost 64
 * syscalls. The regions up to a hole (or the end) are translated first, then copied at once;
 * a short copy is a fault in the first region not copied whole, and *done counts the regions
 * copied whole before it, as region-by-region copies would have.
 */
static int process_read_span(struct gma_backend *be, __u64 gpa, void *dst, __u64 len, __u64 *done)
{
	struct iovec remote[PROCESS_GATHER_MAX], local;
	__u64 off = 0, batch_off, n;
	__u32 regions = 0;
	struct gma_xlat x;
	ssize_t got;
	int err = 0, k;

	*done = 0;
	err = gma_check_range(gpa, len);
	if (err)
		return err;
	while (off < len && !err) {
		batch_off = off;
		for (k = 0; k < PROCESS_GATHER_MAX && off < len; k++) {
			if (regions == GMA_SPAN_MAX) {
				err = -E2BIG;
				break;
			}
			err = gma_span_step(be, gpa, off, len, &x, &n);
			if (err)
				break;
			remote[k].iov_base = (void *)(unsigned long)x.hva;
			remote[k].iov_len = n;
			off += n;
			regions++;
		}
		if (!k)
			break;
		local.iov_base = (char *)dst + batch_off;
		local.iov_len = off - batch_off;
		got = process_vm_readv(be->pid, &local, 1, remote, k, 0);
		if (got != (ssize_t)local.iov_len) {
			/* the regions copied whole before the one that faulted */
			__u64 whole = batch_off;

			for (int i = 0; i < k && got > 0 && (size_t)got >= remote[i].iov_len; i++) {
				whole += remote[i].iov_len;
				got -= remote[i].iov_len;
			}
			*done = whole;
			return -EFAULT;
		}
		*done = off;
	}
	return err;
}

int gma_mem_read(struct gma_mem *mem, __u64 gpa, void *dst, size_t len, size_t *done)
{
	__u64 n;
	int err = mem->be.kind == GMA_BACKEND_PROCESS ?
			  process_read_span(&mem->be, gpa, dst, len, &n) :
			  gma_read_buf(&mem->be, gpa, dst, len, &n);

	if (done)
		*done = n;
	return err;
}

int gma_mem_write(struct gma_mem *mem, __u64 gpa, const void *src, size_t len, size_t *done)
{
	__u64 n;
	int err = gma_write_buf(&mem->be, gpa, src, len, &n);

	if (done)
		*done = n;
	return err;
}

int gma_mem_read_volatile(struct gma_mem *mem, __u64 gpa, unsigned int width, __u64 *val)
{
	return gma_read_volatile(&mem->be, gpa, width, val);
}

int gma_mem_write_volatile(struct gma_mem *mem, __u64 gpa, unsigned int width, __u64 val)
{
	return gma_write_volatile(&mem->be, gpa, width, val);
}

const struct gma_region *gma_mem_regions(const struct gma_mem *mem, size_t *n)
{
	*n = mem->be.nr_regions;
	return mem->be.regions;
}

unsigned int gma_version_major(void)
{
	return GMA_VERSION_MAJOR;
}

unsigned int gma_version_minor(void)
{
	return GMA_VERSION_MINOR;
}

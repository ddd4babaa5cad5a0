// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-accessor: the accessor's copy speed against the copies it wraps, measured in one run.
 *
 *   bench-accessor local     gma_mem_read (local backend) vs memcpy of the same bytes
 *   bench-accessor process   gma_mem_read (process backend) vs one process_vm_readv of the
 *                            whole range and vs pread of /proc/PID/mem, on a child's memory
 *   bench-accessor obj N R   N gma_mem_read_obj of 8 bytes over R regions (for callgrind)
 *   bench-accessor direct N  N direct 8-byte loads (for callgrind)
 *
 * Buffers of 4 KiB, 64 KiB and 1 MiB span 1, 4 or 64 regions, each region its own mapping
 * with unmapped guard pages around it, so no two are contiguous in the host. Each result is
 * the best of several interleaved trials (the machine is shared and noisy): JSON on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gma/gma.h>

#define GUEST_BASE 0x100000ULL
#define GUARD 0x10000UL
#define TRIALS 7
#define MAX_REGIONS 64

static const size_t sizes[] = { 4096, 65536, 1 << 20 };
static const unsigned int region_counts[] = { 1, 4, 64 };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Keeps the compiler from dropping copies whose destination is never read. */
static inline void clobber(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static void die(const char *what)
{
	fprintf(stderr, "bench-accessor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* n regions of size/n bytes each, consecutive in guest physical space, apart in the host. */
static void map_regions(struct gma_region *r, unsigned int n, size_t size)
{
	size_t each = size / n;

	for (unsigned int i = 0; i < n; i++) {
		size_t span = (each + 4095) & ~4095UL;
		uint8_t *m = mmap(NULL, span + 2 * GUARD, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (m == MAP_FAILED || mprotect(m + GUARD, span, PROT_READ | PROT_WRITE))
			die("mmap region");
		memset(m + GUARD, 0x11 * (i + 1), span);
		r[i] = (struct gma_region){ .gpa = GUEST_BASE + i * each,
					    .size = each,
					    .addr = (uintptr_t)(m + GUARD) };
	}
}

static void unmap_regions(struct gma_region *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		size_t span = (r[i].size + 4095) & ~4095UL;

		munmap((uint8_t *)(uintptr_t)r[i].addr - GUARD, span + 2 * GUARD);
	}
}

/* Repetitions so that one trial moves about 64 MiB (at least 16 calls). */
static unsigned long reps_for(size_t size)
{
	unsigned long reps = (64UL << 20) / size;

	return reps < 16 ? 16 : reps;
}

static double gbps(size_t size, unsigned long reps, uint64_t ns)
{
	return (double)size * reps / (ns ? ns : 1);
}

static int bench_local(void)
{
	int first = 1;

	printf("[");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t k = 0; k < sizeof(region_counts) / sizeof(region_counts[0]); k++) {
			size_t size = sizes[s];
			unsigned int n = region_counts[k];
			struct gma_region r[MAX_REGIONS];
			unsigned long reps = reps_for(size);
			uint64_t best_gma = UINT64_MAX, best_mc = UINT64_MAX,
				 best_flat = UINT64_MAX;
			uint8_t *dst = aligned_alloc(4096, size), *flat = aligned_alloc(4096, size);
			struct gma_mem *mem;

			if (!dst || !flat)
				die("malloc");
			map_regions(r, n, size);
			memset(flat, 0x5a, size);
			mem = gma_mem_new_local(r, n);
			if (!mem)
				die("gma_mem_new_local");
			for (int t = 0; t < TRIALS; t++) {
				uint64_t t0 = now_ns();

				for (unsigned long i = 0; i < reps; i++) {
					if (gma_mem_read(mem, GUEST_BASE, dst, size, NULL))
						die("gma_mem_read");
					clobber(dst);
				}
				uint64_t t1 = now_ns();

				/* the same bytes from the same mappings, one memcpy per region */
				for (unsigned long i = 0; i < reps; i++) {
					size_t off = 0;

					for (unsigned int j = 0; j < n; j++) {
						memcpy(dst + off, (void *)(uintptr_t)r[j].addr,
						       r[j].size);
						off += r[j].size;
					}
					clobber(dst);
				}
				uint64_t t2 = now_ns();

				/* and from one flat buffer, one memcpy in all */
				for (unsigned long i = 0; i < reps; i++) {
					memcpy(dst, flat, size);
					clobber(dst);
				}
				uint64_t t3 = now_ns();

				if (t1 - t0 < best_gma)
					best_gma = t1 - t0;
				if (t2 - t1 < best_mc)
					best_mc = t2 - t1;
				if (t3 - t2 < best_flat)
					best_flat = t3 - t2;
			}
			printf("%s{\"size\":%zu,\"regions\":%u,\"gma_gbps\":%.3f,"
			       "\"memcpy_gbps\":%.3f,\"memcpy_flat_gbps\":%.3f,\"ratio\":%.3f,"
			       "\"ratio_flat\":%.3f,\"ns_per_call_gma\":%.1f,"
			       "\"ns_per_call_memcpy\":%.1f}",
			       first ? "" : ",", size, n, gbps(size, reps, best_gma),
			       gbps(size, reps, best_mc), gbps(size, reps, best_flat),
			       (double)best_mc / best_gma, (double)best_flat / best_gma,
			       (double)best_gma / reps, (double)best_mc / reps);
			fflush(stdout);
			first = 0;
			gma_mem_free(mem);
			unmap_regions(r, n);
			free(dst);
			free(flat);
		}
	}
	printf("]\n");
	return 0;
}

/*
 * The child maps the regions and sends their table through a pipe, then waits to be killed.
 * The parent reads them three ways.
 */
static pid_t spawn_child(struct gma_region *r, unsigned int n, size_t size)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		map_regions(r, n, size);
		if (write(p[1], r, n * sizeof(*r)) != (ssize_t)(n * sizeof(*r)))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], r, n * sizeof(*r)) != (ssize_t)(n * sizeof(*r)))
		die("child regions");
	close(p[0]);
	return pid;
}

static int bench_process(void)
{
	int first = 1;

	printf("[");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t k = 0; k < sizeof(region_counts) / sizeof(region_counts[0]); k++) {
			size_t size = sizes[s];
			unsigned int n = region_counts[k];
			struct gma_region r[MAX_REGIONS];
			struct iovec local, remote[MAX_REGIONS];
			unsigned long reps = reps_for(size) / 4;
			uint64_t best_gma = UINT64_MAX, best_rv = UINT64_MAX, best_pr = UINT64_MAX;
			uint8_t *dst = aligned_alloc(4096, size);
			struct gma_mem *mem;
			char path[64];
			pid_t pid;
			int fd;

			if (!dst)
				die("malloc");
			if (reps < 16)
				reps = 16;
			pid = spawn_child(r, n, size);
			mem = gma_mem_new_process(pid, r, n);
			if (!mem)
				die("gma_mem_new_process");
			snprintf(path, sizeof(path), "/proc/%d/mem", pid);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				die(path);
			local = (struct iovec){ .iov_base = dst, .iov_len = size };
			for (unsigned int j = 0; j < n; j++)
				remote[j] =
					(struct iovec){ .iov_base = (void *)(uintptr_t)r[j].addr,
							.iov_len = r[j].size };
			for (int t = 0; t < TRIALS; t++) {
				uint64_t t0 = now_ns();

				for (unsigned long i = 0; i < reps; i++)
					if (gma_mem_read(mem, GUEST_BASE, dst, size, NULL))
						die("gma_mem_read (process)");
				uint64_t t1 = now_ns();

				for (unsigned long i = 0; i < reps; i++)
					if (process_vm_readv(pid, &local, 1, remote, n, 0) !=
					    (ssize_t)size)
						die("process_vm_readv");
				uint64_t t2 = now_ns();

				for (unsigned long i = 0; i < reps; i++) {
					size_t off = 0;

					for (unsigned int j = 0; j < n; j++) {
						if (pread(fd, dst + off, r[j].size, r[j].addr) !=
						    (ssize_t)r[j].size)
							die("pread /proc/PID/mem");
						off += r[j].size;
					}
				}
				uint64_t t3 = now_ns();

				if (t1 - t0 < best_gma)
					best_gma = t1 - t0;
				if (t2 - t1 < best_rv)
					best_rv = t2 - t1;
				if (t3 - t2 < best_pr)
					best_pr = t3 - t2;
			}
			printf("%s{\"size\":%zu,\"regions\":%u,\"gma_gbps\":%.3f,"
			       "\"readv_one_gbps\":%.3f,\"proc_mem_gbps\":%.3f,"
			       "\"ratio_vs_readv\":%.3f,\"ratio_vs_proc_mem\":%.3f}",
			       first ? "" : ",", size, n, gbps(size, reps, best_gma),
			       gbps(size, reps, best_rv), gbps(size, reps, best_pr),
			       (double)best_rv / best_gma, (double)best_pr / best_gma);
			fflush(stdout);
			first = 0;
			close(fd);
			gma_mem_free(mem);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			free(dst);
		}
	}
	printf("]\n");
	return 0;
}

/*
 * The two loops callgrind counts (--toggle-collect, by these names): out of line, and global
 * so that no build drops or renames them.
 */
uint64_t obj_loop(struct gma_mem *mem, __u64 gpa, unsigned long n);
uint64_t direct_loop(const volatile uint64_t *p, unsigned long n);

__attribute__((noinline)) uint64_t obj_loop(struct gma_mem *mem, __u64 gpa, unsigned long n)
{
	uint64_t sum = 0, v;

	for (unsigned long i = 0; i < n; i++) {
		gma_mem_read_obj(mem, gpa, &v, sizeof(v));
		sum += v;
	}
	return sum;
}

__attribute__((noinline)) uint64_t direct_loop(const volatile uint64_t *p, unsigned long n)
{
	uint64_t sum = 0;

	for (unsigned long i = 0; i < n; i++)
		sum += *p;
	return sum;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "local"))
		return bench_local();
	if (argc >= 2 && !strcmp(argv[1], "process"))
		return bench_process();
	if (argc >= 4 && !strcmp(argv[1], "obj")) {
		unsigned long n = strtoul(argv[2], NULL, 0);
		unsigned int nr = strtoul(argv[3], NULL, 0);
		struct gma_region r[MAX_REGIONS];
		struct gma_mem *mem;

		if (nr < 1 || nr > MAX_REGIONS)
			return 2;
		map_regions(r, nr, 4096UL * nr);
		mem = gma_mem_new_local(r, nr);
		if (!mem)
			die("gma_mem_new_local");
		/* an object in the last region: the search's deepest path is as likely as any */
		printf("%" PRIu64 "\n", obj_loop(mem, r[nr - 1].gpa + 64, n));
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "direct")) {
		static volatile uint64_t word = 7;

		printf("%" PRIu64 "\n", direct_loop(&word, strtoul(argv[2], NULL, 0)));
		return 0;
	}
	fprintf(stderr, "usage: bench-accessor local|process|obj N REGIONS|direct N\n");
	return 2;
}

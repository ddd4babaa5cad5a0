// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-demo: the accessor core at work on a guest memory layout of scattered host mappings.
 * Builds four regions (one gap), then reads and writes across them and prints each step and
 * its result, including the errors the contract requires.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <gma/gma.h>

static const struct {
	__u64 gpa, size;
} layout[] = { { 0x0, 0x10000 }, { 0x10000, 0x4000 }, { 0x14000, 0x3000 }, { 0x30000, 0x10000 } };
#define NR_REGIONS (sizeof(layout) / sizeof(layout[0]))

static void step(const char *what, int err, size_t done)
{
	printf("  %-58s -> %s", what, err ? strerror(-err) : "ok");
	if (done != (size_t)-1)
		printf(", %zu bytes", done);
	printf("\n");
}

int main(void)
{
	static const __u64 probes[] = { 0xfff0, 0x13ff8, 0x20000 };
	struct gma_region regions[NR_REGIONS];
	char buf[0x6000], check[0x6000];
	struct gma_mem *mem;
	__u64 addr, limit, v;
	size_t done, i;
	int err;

	/*
	 * Map in reverse order, each with a guard page after it, so guest-contiguous memory is
	 * never host-contiguous.
	 */
	for (i = NR_REGIONS; i-- > 0;) {
		char *m = mmap(NULL, layout[i].size + 0x1000, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED || mprotect(m + layout[i].size, 0x1000, PROT_NONE)) {
			perror("mmap");
			return 1;
		}
		regions[i] = (struct gma_region){ layout[i].gpa, layout[i].size, (__u64)(long)m };
	}
	mem = gma_mem_new_local(regions, NR_REGIONS);
	if (!mem) {
		fprintf(stderr, "gma-demo: region table: %s\n", strerror(errno));
		return 1;
	}
	printf("guest memory: %zu regions\n", NR_REGIONS);
	for (i = 0; i < NR_REGIONS; i++)
		printf("  gpa 0x%06llx-0x%06llx  host %p\n", (unsigned long long)regions[i].gpa,
		       (unsigned long long)(regions[i].gpa + regions[i].size - 1),
		       (void *)(long)regions[i].addr);

	printf("translate-and-get-limit:\n");
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		__u64 gpa = probes[i];

		err = gma_mem_translate(mem, gpa, &addr, &limit);
		if (err)
			printf("  gpa 0x%06llx -> %s\n", (unsigned long long)gpa, strerror(-err));
		else
			printf("  gpa 0x%06llx -> host 0x%llx, %llu bytes to the region's end\n",
			       (unsigned long long)gpa, (unsigned long long)addr,
			       (unsigned long long)limit);
	}

	printf("buffers across regions:\n");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 31 + 7);
	err = gma_mem_write(mem, 0xf000, buf, 0x6000, &done);
	step("write 0x6000 bytes at 0xf000 (3 regions)", err, done);
	err = gma_mem_read(mem, 0xf000, check, 0x6000, &done);
	step("read them back", err, done);
	printf("  %-58s -> %s\n", "compare", memcmp(buf, check, 0x6000) ? "DIFFERENT" : "equal");
	err = gma_mem_read(mem, 0x16000, check, 0x2000, &done);
	step("read 0x2000 bytes at 0x16000 (runs into the gap)", err, done);
	err = gma_mem_write(mem, 0x16000, buf, 0x2000, &done);
	step("write the same span (validated first: nothing written)", err, done);
	err = gma_mem_read(mem, 0xfffffffffffffff0ULL, check, 0x20, &done);
	step("read 0x20 bytes at 0xfffffffffffffff0 (wraps)", err, done);
	err = gma_mem_read(mem, 0x20000, check, 0, &done);
	step("read 0 bytes in the gap", err, done);

	printf("objects and volatile access:\n");
	err = gma_mem_read_obj(mem, 0xfffc, &v, 8);
	step("read an 8-byte object at 0xfffc (straddles two regions)", err, (size_t)-1);
	err = gma_mem_write_volatile(mem, 0x10008, 8, 0x0123456789abcdefULL);
	step("volatile write of 8 bytes at 0x10008", err, (size_t)-1);
	err = gma_mem_read_volatile(mem, 0x1000c, 4, &v);
	printf("  %-58s -> %s, 0x%llx\n", "volatile read of 4 bytes at 0x1000c",
	       err ? strerror(-err) : "ok", (unsigned long long)v);
	err = gma_mem_read_volatile(mem, 0x1000a, 4, &v);
	step("volatile read of 4 bytes at 0x1000a (misaligned)", err, (size_t)-1);
	gma_mem_free(mem);
	return 0;
}

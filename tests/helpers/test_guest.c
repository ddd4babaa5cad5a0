// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_guest.h"

const char *const test_backend_names[] = { "local", "process", "file" };

#define PAGE 4096UL

void test_pattern_fill(__u64 gpa, void *buf, size_t len)
{
	__u8 *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = test_pattern(gpa + i);
}

/*
 * Maps each region on its own, with an inaccessible guard page before it and in reverse
 * order of gpa, so guest-contiguous regions are never host-contiguous. Regions need not be
 * page sized: each starts at an odd offset of its mapping's first page so that neither host
 * alignment nor adjacency can hide a bug.
 */
static void map_regions(struct gma_region *regions, const struct test_layout *layout, size_t n)
{
	for (size_t k = n; k-- > 0;) {
		size_t len = PAGE + ((layout[k].size + 64 + PAGE - 1) & ~(PAGE - 1));
		char *m =
			mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		cr_assert(m != MAP_FAILED, "mmap: %s", strerror(errno));
		cr_assert(mprotect(m, PAGE, PROT_NONE) == 0);
		/* 64-byte aligned start, not page aligned: keeps volatile access alignable. */
		regions[k].addr = (__u64)(unsigned long)(m + PAGE + 64);
		regions[k].gpa = layout[k].gpa;
		regions[k].size = layout[k].size;
		test_pattern_fill(regions[k].gpa, m + PAGE + 64, regions[k].size);
	}
}

/* The child maps the layout, sends the region table, and lives until the pipe closes. */
static void spawn_child(struct test_guest *g, const struct test_layout *layout)
{
	int to_parent[2], to_child[2];
	ssize_t want = g->n * sizeof(*g->regions);
	char c;

	cr_assert(pipe(to_parent) == 0 && pipe(to_child) == 0);
	g->child = fork();
	cr_assert(g->child >= 0);
	if (g->child == 0) {
		close(to_parent[0]);
		close(to_child[1]);
		map_regions(g->regions, layout, g->n);
		if (write(to_parent[1], g->regions, want) != want)
			_exit(1);
		while (read(to_child[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	cr_assert(read(to_parent[0], g->regions, want) == want, "child did not report its regions");
	close(to_parent[0]);
	g->ctl_fd = to_child[1];
}

/* Regions sit in the file in reverse order with 100-byte gaps between them. */
static void write_file(struct test_guest *g, const struct test_layout *layout)
{
	__u64 off = 100;

	snprintf(g->path, sizeof(g->path), "/tmp/gma-test-dump.XXXXXX");
	g->fd = mkstemp(g->path);
	cr_assert(g->fd >= 0);
	for (size_t k = g->n; k-- > 0;) {
		char *buf = malloc(layout[k].size);

		cr_assert(buf);
		g->regions[k] = (struct gma_region){ layout[k].gpa, layout[k].size, off };
		test_pattern_fill(layout[k].gpa, buf, layout[k].size);
		cr_assert(pwrite(g->fd, buf, layout[k].size, off) == (ssize_t)layout[k].size);
		free(buf);
		off += layout[k].size + 100;
	}
}

struct test_guest *test_guest_new(enum test_backend kind, const struct test_layout *layout,
				  size_t n)
{
	struct test_guest *g = calloc(1, sizeof(*g));
	GMA_OPTS(gma_mem_opts, opts, .writable = true);

	cr_assert(g);
	g->kind = kind;
	g->n = n;
	g->fd = g->ctl_fd = -1;
	g->regions = calloc(n ? n : 1, sizeof(*g->regions));
	cr_assert(g->regions);
	switch (kind) {
	case TEST_LOCAL:
		map_regions(g->regions, layout, n);
		g->mem = gma_mem_new_local(g->regions, n);
		break;
	case TEST_PROCESS:
		spawn_child(g, layout);
		g->mem = gma_mem_new_process(g->child, g->regions, n);
		break;
	case TEST_FILE:
		write_file(g, layout);
		g->mem = gma_mem_new_file(g->path, g->regions, n, &opts);
		break;
	}
	cr_assert(g->mem, "%s backend: %s", test_backend_names[kind], strerror(errno));
	return g;
}

void test_guest_free(struct test_guest *g)
{
	gma_mem_free(g->mem);
	if (g->child > 0) {
		int status;

		close(g->ctl_fd);
		cr_assert_eq(waitpid(g->child, &status, 0), g->child);
		/* it exits 0 once its pipe closes: anything else is its own failure */
		cr_assert(WIFEXITED(status) && !WEXITSTATUS(status),
			  "the process backend's child ended with status %#x", status);
	}
	if (g->fd >= 0) {
		close(g->fd);
		unlink(g->path);
	}
	free(g->regions);
	free(g);
}

/* Moves len bytes between buf and the backing of one region, around libgma. */
static void backing_io(struct test_guest *g, const struct gma_region *r, __u64 off, void *buf,
		       size_t len, bool write)
{
	char path[64];
	int fd;

	switch (g->kind) {
	case TEST_LOCAL:
		if (write)
			memcpy((char *)(unsigned long)r->addr + off, buf, len);
		else
			memcpy(buf, (char *)(unsigned long)r->addr + off, len);
		return;
	case TEST_PROCESS:
		snprintf(path, sizeof(path), "/proc/%d/mem", g->child);
		fd = open(path, write ? O_WRONLY : O_RDONLY);
		cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
		cr_assert((write ? pwrite(fd, buf, len, r->addr + off) :
				   pread(fd, buf, len, r->addr + off)) == (ssize_t)len);
		close(fd);
		return;
	case TEST_FILE:
		cr_assert((write ? pwrite(g->fd, buf, len, r->addr + off) :
				   pread(g->fd, buf, len, r->addr + off)) == (ssize_t)len);
		return;
	}
}

static void backing_span(struct test_guest *g, __u64 gpa, void *buf, size_t len, bool write)
{
	while (len) {
		const struct gma_region *r = NULL;
		size_t n;

		for (size_t i = 0; i < g->n; i++)
			if (gpa >= g->regions[i].gpa &&
			    gpa - g->regions[i].gpa < g->regions[i].size)
				r = &g->regions[i];
		cr_assert(r, "ground truth asked for unmapped gpa 0x%llx", (unsigned long long)gpa);
		n = r->size - (gpa - r->gpa);
		n = n < len ? n : len;
		backing_io(g, r, gpa - r->gpa, buf, n, write);
		gpa += n;
		buf = (char *)buf + n;
		len -= n;
	}
}

void test_guest_peek(struct test_guest *g, __u64 gpa, void *buf, size_t len)
{
	backing_span(g, gpa, buf, len, false);
}

void test_guest_poke(struct test_guest *g, __u64 gpa, const void *buf, size_t len)
{
	backing_span(g, gpa, (void *)buf, len, true);
}

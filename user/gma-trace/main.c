// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gma-trace: inspect the guest memory of KVM VMs from the host.
 *
 *   gma-trace vms [-j]                          VMs and their memory maps (vms.c)
 *   gma-trace mem --pid PID --gpa A --len N     hexdump of guest memory (--via-bpf: from the
 *                                               kernel, at the next exit of the VM) (mem.c)
 *   gma-trace rings --pid PID                   live trace of the VM's VirtIO rings (rings.c)
 *   gma-trace ring --pid PID --queue SPEC       one queue decoded from userspace (ring.c)
 *   gma-trace health --pid PID                  a verdict per queue: which side stopped
 *                                               (health.c)
 *
 * Subcommands are a dispatch table, each with its own argp parser; -j prints JSON wherever
 * text is printed (print_text.c, print_json.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gma-trace.h"

const char *argp_program_version = "gma-trace " GMA_VERSION_STRING;

struct env env;

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "vms", cmd_vms, "list KVM VMs and their memslots" },
	{ "mem", cmd_mem, "hexdump guest memory (--via-bpf: sampled by the kernel)" },
	{ "rings", cmd_rings, "trace a VM's VirtIO rings live, one line per chain" },
	{ "ring", cmd_ring, "decode one queue's current state from userspace (VM or dump)" },
	{ "health", cmd_health, "which side of each queue stopped: a verdict per queue" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: gma-trace COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'gma-trace COMMAND --help' lists a command's options.\n");
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("%s (libgma %u.%u)\n", argp_program_version, gma_version_major(),
		       gma_version_minor());
		return 0;
	}
	setup_env();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		/* argp sees "gma-trace COMMAND" as the program name */
		char *name;

		if (asprintf(&name, "gma-trace %s", cmds[i].name) < 0)
			return 1;
		argv[1] = name;
		rc = cmds[i].fn(argc - 1, argv + 1);
		/* a negative errno was reported: a failure at run time */
		return rc < 0 ? EXIT_RUNTIME : rc;
	}
	fprintf(stderr, "gma-trace: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}

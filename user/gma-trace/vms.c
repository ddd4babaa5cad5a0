// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gma-trace vms: the KVM VMs on this host and their memslots. */
#include <argp.h>

#include "gma-trace.h"

static const struct argp_option vms_options[] = {
	JSON_OPTION("Print JSON instead of text"),
	VERBOSE_OPTION,
	{},
};

static error_t parse_vms(int key, char *arg, struct argp_state *state)
{
	return parse_common(key, arg, state);
}

int cmd_vms(int argc, char **argv)
{
	static const struct argp argp = {
		.options = vms_options,
		.parser = parse_vms,
		.doc = "List the KVM VMs on this host and their memslots."
	};
	struct gma_vm *vms;
	size_t n;
	int err;

	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EX_USAGE;
	err = gma_vms_list(&vms, &n, sizeof(*vms));
	if (err)
		return report_bpf_error(err, "listing VMs");
	out()->vms(vms, n);
	gma_vms_free(vms);
	return 0;
}

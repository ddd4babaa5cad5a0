#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# public-tracer-names.sh PRIVATE_HEADER < IN > OUT: what gets installed as <gma/tracer.h> and
# <gma/tracer.skel.h>. The tracer's map value types (bpf/tracer.h) are private names, but the
# skeleton's read-only data embeds some of them, so an embedder of the raw skeleton needs
# their definitions. Every struct tag and macro PRIVATE_HEADER defines is renamed into gma's
# namespace (struct virtio_dev -> struct gma_tracer_virtio_dev, QUEUES_MAX ->
# GMA_TRACER_QUEUES_MAX) in IN, so the installed headers hold only gma_ / GMA_ names and
# bpf/tracer.h stays the one definition.
set -eu
hdr=$1
script=
for s in $(sed -n 's/^struct \([a-z_][a-z0-9_]*\) {.*/\1/p' "$hdr" | grep -v '^gma_'); do
	script="$script s/\\<struct $s\\>/struct gma_tracer_$s/g;"
done
for m in $(sed -n 's/^#define \([A-Z_][A-Z0-9_]*\).*/\1/p' "$hdr" | grep -v '^GMA_'); do
	script="$script s/\\<$m\\>/GMA_TRACER_$m/g;"
done
exec sed -e "${script:-p;d}"

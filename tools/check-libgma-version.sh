#!/bin/sh
# Checks that libgma's version script and its version header agree, before libgma.so is
# linked (as libbpf's Makefile checks libbpf.map against libbpf_version.h): the newest version
# node of the map is GMA_<MAJOR>.<MINOR> of include/gma/version.h, and every node lists its
# symbols by name (a pattern such as gma_* would export whatever a later release adds under
# an old version).
#
# With man pages after them, also that each page's .TH line says "gma MAJOR.MINOR".
#
# Usage: tools/check-libgma-version.sh VERSION_H LIBGMA_MAP [MANPAGE...]
set -eu
hdr=$1 map=$2
shift 2
want=$(awk '/^#define GMA_VERSION_MAJOR / { ma = $3 } /^#define GMA_VERSION_MINOR / { mi = $3 }
	END { print "GMA_" ma "." mi }' "$hdr")
# node names in file order: "GMA_0.1 {", "GMA_0.2 {" (comments stripped)
newest=$(sed -e 's|/\*.*\*/||g' "$map" | awk '/^[A-Za-z0-9_.]+[ \t]*\{/ { n = $1 } END { print n }')
if [ "$newest" != "$want" ]; then
	echo "libgma: the newest version node of $map is '$newest', $hdr says $want:" \
		"add a node $want for what this release adds, or fix the version" >&2
	exit 1
fi
if sed -e 's|/\*.*\*/||g' "$map" | grep -E '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*\*' >/dev/null; then
	echo "libgma: $map exports by pattern ($(sed -e 's|/\*.*\*/||g' "$map" |
		grep -Eo '[A-Za-z_][A-Za-z0-9_]*\*' | head -n1)): list each symbol by name" >&2
	exit 1
fi
for page; do
	th=$(sed -n 's/^\.TH .*"gma \([0-9.]*\)".*/\1/p' "$page")
	if [ "GMA_$th" != "$want" ]; then
		echo "$page: its .TH line says gma '$th', $hdr says ${want#GMA_}: update the page" >&2
		exit 1
	fi
done

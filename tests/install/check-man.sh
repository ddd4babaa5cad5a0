#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# check-man.sh GMA_TRACE MANPAGE: the man page documents exactly the options gma-trace has.
# For each command, the long options `gma-trace CMD --help` prints (argp's "  -p, --pid=PID"
# lines) must be the ones the page lists under ".SS CMD" (the tag line after each .TP), plus
# the common ones of ".SH COMMON OPTIONS", which every command must have.
set -eu
bin=$1
page=$2
cmds="vms mem rings ring health"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# Long options of the .TP tags in the part of the page that awk program $1 selects.
man_opts() {
	awk "$1"' { if (tp) { line = $0; gsub(/\\-/, "-", line);
		while (match(line, /--[a-z0-9][a-z0-9-]*/)) {
			print substr(line, RSTART + 2, RLENGTH - 2);
			line = substr(line, RSTART + RLENGTH) } } }
		{ tp = ($0 == ".TP") }' "$page" | sort -u
}

man_opts '/^\.SH/ { common = ($0 ~ /^\.SH "?COMMON OPTIONS/) } common' >"$tmp/common"
if [ ! -s "$tmp/common" ]; then
	echo "check-man: no COMMON OPTIONS section in $page" >&2
	exit 1
fi
for c in $cmds; do
	if ! grep -qx "\.SS \"\{0,1\}$c\"\{0,1\}" "$page"; then
		echo "check-man: $page has no '.SS $c' section" >&2
		fail=1
		continue
	fi
	man_opts "/^\\.S[HS]/ { sec = (\$0 ~ /^\\.SS \"?$c\"?\$/) } sec" >"$tmp/man-$c"
	"$bin" "$c" --help | sed -n 's/^ \{1,\}\(-[^-], \)\{0,1\}--\([a-z0-9][a-z0-9-]*\).*/\2/p' |
		sort -u >"$tmp/help-$c"
	if [ ! -s "$tmp/help-$c" ]; then
		echo "check-man: '$bin $c --help' printed no options" >&2
		fail=1
		continue
	fi
	sort -u "$tmp/man-$c" "$tmp/common" >"$tmp/doc-$c"
	for o in $(comm -23 "$tmp/help-$c" "$tmp/doc-$c"); do
		echo "check-man: gma-trace $c --$o is not documented in $page" >&2
		fail=1
	done
	for o in $(comm -13 "$tmp/help-$c" "$tmp/doc-$c"); do
		echo "check-man: $page documents gma-trace $c --$o, which --help does not list" >&2
		fail=1
	done
	echo "  MAN      $c: $(wc -l <"$tmp/help-$c") options documented"
done
[ $fail -eq 0 ] || exit 1
echo "  MAN      ok ($page)"

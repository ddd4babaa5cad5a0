#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# check-completion.sh GMA_TRACE COMPLETION: sources the bash completion in a clean bash and
# checks what it offers: the commands for `gma-trace r`, and for each command exactly the long
# options `gma-trace CMD --help` lists.
set -eu
bin=$1
file=$2
fail=0

# complete WORD...: the completions for the command line "gma-trace WORD..." (last word = cur).
complete_line() {
	bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=(gma-trace "$@"); COMP_CWORD=$#
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		_gma_trace
		printf "%s\n" "${COMPREPLY[@]}"' _ "$file" "$@"
}

got=$(complete_line r | tr '\n' ' ')
if [ "$got" != "rings ring " ]; then
	echo "check-completion: 'gma-trace r' completes to '$got', want 'rings ring'" >&2
	fail=1
fi
for c in vms mem rings ring health; do
	want=$("$bin" "$c" --help |
		sed -n 's/^ \{1,\}\(-[^-], \)\{0,1\}--\([a-z0-9][a-z0-9-]*\).*/--\2/p' | sort -u)
	got=$(complete_line "$c" -- | grep -vx -- -- | sort -u || true)
	if [ "$want" != "$got" ]; then
		echo "check-completion: options of '$c' differ from --help:" >&2
		diff <(echo "$want") <(echo "$got") >&2 || true
		fail=1
	fi
done
# --pid offers the VMs' pids (gma-trace found in PATH, as root)
got=$(PATH="$(dirname "$bin"):$PATH" complete_line mem --pid "" | tr '\n' ' ')
echo "  COMPL    gma-trace mem --pid <TAB>: ${got:-(no VM running)}"
[ $fail -eq 0 ] || exit 1
echo "  COMPL    ok ($file)"

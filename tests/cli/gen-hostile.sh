#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# gen-hostile.sh DIR: writes guest memory dumps, region maps and other input files for
# gma-trace ring --dump/--map into DIR, good ones and hostile ones (tests/cli/test-cli.sh says
# what gma-trace must answer to each). A new case is a few lines here and one in the test.
#
# Every dump is 64 KiB of guest memory from GPA 0 (map ok.map), with one split queue of 16
# entries: descriptors at 0x1000, avail ring at 0x1100, used ring at 0x1200 (QUEUE below).
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"

# Little-endian integers as printf escapes.
le() { # le BYTES VALUE
	local i v=$2 out=
	for ((i = 0; i < $1; i++)); do
		out+=$(printf '\\x%02x' $((v & 0xff)))
		v=$((v >> 8))
	done
	printf '%s' "$out"
}
# put FILE OFFSET ESCAPES: writes the bytes at OFFSET, the rest of FILE unchanged.
put() { printf "$3" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }
# desc FILE INDEX ADDR LEN FLAGS NEXT: one descriptor of the table at 0x1000.
desc() { put "$1" $((0x1000 + 16 * $2)) "$(le 8 $3)$(le 4 $4)$(le 2 $5)$(le 2 $6)"; }
# avail FILE IDX HEAD...: the avail ring's index and its first entries.
avail() {
	local f=$1 idx=$2 i=0
	shift 2
	put "$f" 0x1102 "$(le 2 "$idx")"
	for h in "$@"; do
		put "$f" $((0x1104 + 2 * i)) "$(le 2 "$h")"
		i=$((i + 1))
	done
}
blank() { head -c 65536 /dev/zero >"$1"; }

# --- dumps: a broken guest ring is still a decoded ring (exit 0, with its anomaly) ---------
NEXT=1 WRITE=2
blank ring.img # one chain in flight: a 16-byte request, then a 512-byte buffer to write
desc ring.img 0 0x2000 16 $NEXT 1
desc ring.img 1 0x3000 512 $WRITE 0
avail ring.img 1 0
put ring.img 0x2000 'hello, hostile!\n'
blank idle.img # a ring with nothing in flight
cp ring.img loop.img # descriptor 1 leads back to 0
desc loop.img 1 0x3000 512 $((NEXT | WRITE)) 0
cp ring.img head-oob.img # the avail ring names descriptor 200 of 16
avail head-oob.img 1 200
cp ring.img next-oob.img # a chain going on to descriptor 99
desc next-oob.img 1 0x3000 512 $((NEXT | WRITE)) 99
cp ring.img avail-jump.img # 300 chains claimed in a ring of 16
avail avail-jump.img 300 0
cp ring.img buf-unmapped.img # a buffer past the end of guest memory
desc buf-unmapped.img 1 0x7fff0000 512 $WRITE 0

# --- dumps gma-trace cannot use ------------------------------------------------------------
: >empty.img
mkdir -p dir.img
[ -p fifo.img ] || mkfifo fifo.img
head -c 4096 /dev/zero >short.img # 4 KiB where the map says 64 KiB

# --- maps ----------------------------------------------------------------------------------
echo '0 0x10000 0' >ok.map
printf '# guest memory\n\n  0x0   0x8000  0   # low half\n0x8000 0x8000 0x8000\r\n' >split.map
{ printf '# '; printf 'x%.0s' $(seq 1 300); echo; echo '0 0x10000 0'; } >long-comment.map # fgets(256) split it
: >empty.map
mkdir -p dir.map
[ -p fifo.map ] || mkfifo fifo.map
printf '# nothing but comments\n\n' >comments.map
printf '0 0x8000 0\n0x4000 0x8000 0x8000\n' >overlap.map
printf '0x8000 0x8000 0x8000\n0 0x8000 0\n' >unsorted.map
printf '0 0x10000 0\n0x20000 0 0\n' >size0.map
printf '0 0x10000 0 trailing garbage\n' >trailing.map
printf '0 0x10000 0 0x20000\n' >four-fields.map
printf '0 0x10000\n' >two-fields.map
printf '0 0x10000000000000000 0\n' >overflow.map
printf '0 99999999999999999999999 0\n' >overflow-dec.map
printf -- '-1 0x10000 0\n' >negative.map
printf '0 0x1000g 0\n' >not-number.map
printf '0 0x10000 0\n\0\n' >nul.map
printf '0xfffffffffffff000 0x2000 0\n' >gpa-wrap.map
printf '0 0x2000 0xfffffffffffff000\n' >offset-wrap.map
printf '0 0x1000 0x20000\n' >past-end.map # starts past the end of a 64 KiB dump
printf '0 0x10000 0x8000\n' >straddle.map # ends past it
seq 0 32768 | awk '{ printf "0x%x 1 0\n", $1 * 2 }' >too-many.map # 32769 regions

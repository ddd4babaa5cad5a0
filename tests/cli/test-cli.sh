#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# test-cli.sh GMA_TRACE DIR: gma-trace against hostile input (the files of gen-hostile.sh,
# written into DIR, and bad command lines). Each case has its exit status (gma-trace(8) EXIT
# STATUS: 0 a decoded ring, anomalies included; 1 a failure at run time; 64 a bad command
# line; 65 an input file whose contents are wrong; 66 an input file that cannot be used) and
# a fragment its output must hold. Whatever the case, gma-trace must end within a few seconds
# (timeout: a hang fails), and exit 0 only with a decoded ring, or non-zero with a reason.
# Needs no root and no VM; the cases that do (a mount namespace) are skipped without.
set -uo pipefail
bin=$(realpath "$1")
mkdir -p "$2" && dir=$(realpath "$2") || exit 1
here=$(dirname "$(realpath "$0")")
"$here/gen-hostile.sh" "$dir" || exit 1
cd "$dir"

QUEUE=base=0xd0001000,index=0,num=16,desc=0x1000,driver=0x1100,device=0x1200
Q=base=0,index=0,desc=0x1000,driver=0x1100,device=0x1200 # without num
pass=0 fail=0 skip=0

# t STATUS FRAGMENT ARGS...: runs gma-trace ARGS; wants STATUS and FRAGMENT in its output
# (standard output and error together).
t() {
	local want=$1 frag=$2 rc out
	shift 2
	out=$(timeout -k 2 10 "$bin" "$@" 2>&1)
	rc=$?
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "FAIL: gma-trace $*: hangs (killed after 10 s)" >&2
		fail=$((fail + 1))
		return
	fi
	if [ $rc -ne "$want" ] || [[ $out != *"$frag"* ]]; then
		echo "FAIL: gma-trace $*: exit $rc, want $want with '$frag'; got:" >&2
		printf '%s\n' "$out" | head -5 | sed 's/^/    /' >&2
		fail=$((fail + 1))
		return
	fi
	# exit 0 only with a decoded ring; otherwise a reason, naming gma-trace
	if { [ $rc -eq 0 ] && [[ $out != *" entries, avail idx "* && $out != *'"type":"ring"'* ]]; } ||
		{ [ $rc -ne 0 ] && [[ $out != *"gma-trace"* ]]; }; then
		echo "FAIL: gma-trace $*: exit $rc without a ring or a reason: $out" >&2
		fail=$((fail + 1))
		return
	fi
	pass=$((pass + 1))
}
# ring against a dump and a map, text then JSON: the answer must not depend on -j.
ring() {
	local want=$1 frag=$2 dump=$3 map=$4
	shift 4
	t "$want" "$frag" ring --dump "$dump" --map "$map" "$@"
	t "$want" "${JFRAG:-$frag}" ring -j --dump "$dump" --map "$map" "$@"
}

# --- a decoded ring, however broken the guest made it: exit 0 and the anomaly ------------
JFRAG='"avail_idx":1' ring 0 "1 in flight" ring.img ok.map --queue $QUEUE -d
JFRAG='"avail_idx":0' ring 0 "0 in flight" idle.img ok.map --queue $QUEUE
ring 0 chain_loop loop.img ok.map --queue $QUEUE
ring 0 desc_out_of_range head-oob.img ok.map --queue $QUEUE
ring 0 desc_out_of_range next-oob.img ok.map --queue $QUEUE
ring 0 avail_jump avail-jump.img ok.map --queue $QUEUE
ring 0 buffer_unmapped buf-unmapped.img ok.map --queue $QUEUE -d
ring 0 ring_unreadable ring.img ok.map --queue base=0,index=0,num=16,desc=0x7fff0000,driver=0x1100,device=0x1200
ring 0 ring_misaligned ring.img ok.map --queue base=0,index=0,num=16,desc=0x1001,driver=0x1100,device=0x1200
JFRAG='"avail_idx":1' ring 0 "1 in flight" ring.img split.map --queue $QUEUE
JFRAG='"avail_idx":1' ring 0 "1 in flight" ring.img long-comment.map --queue $QUEUE
JFRAG='"avail_idx":1' ring 0 "1 in flight" ring.img ok.map --queue $QUEUE,type=2 --snap-len 65536

# --- a dump that cannot be used: 66, naming it -------------------------------------------
ring 66 "empty.img: empty" empty.img ok.map --queue $QUEUE
ring 66 "dir.img: a directory" dir.img ok.map --queue $QUEUE
ring 66 "fifo.img: a FIFO" fifo.img ok.map --queue $QUEUE
ring 66 "/dev/null: a character device" /dev/null ok.map --queue $QUEUE
ring 66 "missing.img: No such file or directory" missing.img ok.map --queue $QUEUE

# --- a map that cannot be used (66), or is wrong (65): FILE[:LINE]: what -----------------
ring 66 "empty.map: empty" ring.img empty.map --queue $QUEUE
ring 66 "dir.map: a directory" ring.img dir.map --queue $QUEUE
ring 66 "fifo.map: a FIFO" ring.img fifo.map --queue $QUEUE
ring 65 "comments.map: no regions" ring.img comments.map --queue $QUEUE
ring 65 "overlap.map:2: GPA 0x4000 overlaps line 1" ring.img overlap.map --queue $QUEUE
ring 65 "unsorted.map:2: GPA 0x0 is below line 1" ring.img unsorted.map --queue $QUEUE
ring 65 "size0.map:2: a region of size 0" ring.img size0.map --queue $QUEUE
ring 65 "trailing.map:1: 'trailing' after GPA SIZE OFFSET" ring.img trailing.map --queue $QUEUE
ring 65 "four-fields.map:1: '0x20000' after" ring.img four-fields.map --queue $QUEUE
ring 65 "two-fields.map:1: no OFFSET" ring.img two-fields.map --queue $QUEUE
ring 65 "overflow.map:1: SIZE '0x10000000000000000': above 2^64 - 1" ring.img overflow.map --queue $QUEUE
ring 65 "overflow-dec.map:1: SIZE" ring.img overflow-dec.map --queue $QUEUE
ring 65 "negative.map:1: GPA '-1': negative" ring.img negative.map --queue $QUEUE
ring 65 "not-number.map:1: SIZE '0x1000g': not a number" ring.img not-number.map --queue $QUEUE
ring 65 "nul.map:2: a NUL byte" ring.img nul.map --queue $QUEUE
ring 65 "ring.img:1: a NUL byte" ok.map ring.img --queue $QUEUE # --dump and --map swapped
ring 65 "gpa-wrap.map:1: GPA + SIZE wraps past 2^64" ring.img gpa-wrap.map --queue $QUEUE
ring 65 "offset-wrap.map:1: OFFSET + SIZE wraps past 2^64" ring.img offset-wrap.map --queue $QUEUE
ring 65 "too-many.map:32769: more than 32768 regions" ring.img too-many.map --queue $QUEUE
# a region the dump does not hold
ring 65 "past-end.map:1: OFFSET 0x20000 + SIZE 0x1000 runs past the end of ring.img" \
	ring.img past-end.map --queue $QUEUE
ring 65 "straddle.map:1: OFFSET 0x8000 + SIZE 0x10000 runs past the end" ring.img straddle.map \
	--queue $QUEUE
ring 65 "ok.map:1: OFFSET 0x0 + SIZE 0x10000 runs past the end of short.img (0x1000 bytes)" \
	short.img ok.map --queue $QUEUE

# --- bad command lines: 64, with the allowed range -----------------------------------------
t 64 "Usage: gma-trace COMMAND"
t 64 "unknown command 'frob'" frob
t 64 "--pid (or --dump) is required" ring --queue $QUEUE
t 64 "--dump and --map go together" ring --dump ring.img --queue $QUEUE
t 64 "--dump and --map go together" ring --pid 1 --map ok.map --queue $QUEUE
t 64 "--pid and --dump exclude each other" ring --pid 1 --dump ring.img --map ok.map --queue $QUEUE
t 64 "which queue? give --queue or --qmp" ring --dump ring.img --map ok.map
for s in 0 65537 999999 -1 abc 0x; do
	t 64 "--snap-len '$s'" ring --dump ring.img --map ok.map --queue $QUEUE --snap-len $s
done
t 64 "want 1 to 65536" ring --dump ring.img --map ok.map --queue $QUEUE --snap-len 999999
# --queue: each field within what the VirtIO spec allows, each key once
q() { t 64 "$1" ring --dump ring.img --map ok.map --queue "$2"; }
q "index=0x100000000: want 0 to 65535" ${Q/index=0/index=0x100000000},num=16 # was queue 0
q "index=65536: want 0 to 65535" ${Q/index=0/index=65536},num=16
q "index=-1: negative" ${Q/index=0/index=-1},num=16
q "num=4294967312: want a power of 2 from 1 to 32768" $Q,num=4294967312 # was cut to 16
q "num=0: want a power of 2" $Q,num=0
q "num=17: want a power of 2" $Q,num=17
q "num=65536: want a power of 2 from 1 to 32768" $Q,num=65536
q "num=-16: negative" $Q,num=-16
q "num=: not a number" $Q,num=
q "num= 16: not a number" "$Q,num= 16"
q "desc=-1: negative" base=0,index=0,num=16,desc=-1,driver=0x1100,device=0x1200
q "base=0x10000000000000000: above 2^64 - 1" ${Q/base=0/base=0x10000000000000000},num=16
q "a ring area of num=16 entries wraps past 2^64" \
	base=0,index=0,num=16,desc=0xfffffffffffffff0,driver=0x1100,device=0x1200
q "type=77: not a VirtIO device ID gma knows (1-" $QUEUE,type=77
q "type=0: not a VirtIO device ID" $QUEUE,type=0
q "num given twice" $QUEUE,num=16
q "driver given twice" $QUEUE,avail=0x1100
q "device given twice" $QUEUE,used=0x1200
q "unknown key 'size'" $QUEUE,size=4
q "num missing" $Q
q "'' is not KEY=VALUE" "$QUEUE,"
q "'' is not KEY=VALUE" "base=0,,index=0,num=16,desc=0x1000,driver=0x1100,device=0x1200"
q "'desc' is not KEY=VALUE" "$QUEUE,desc"
t 64 "queue 0 of 0xd0001000 given twice" ring --dump ring.img --map ok.map --queue $QUEUE \
	--queue ${QUEUE/desc=0x1000/desc=0x2000}
# rings: also what the tracer follows, checked before anything is loaded
t 64 "--snap-len '999999': out of range, want 0 to 4096" rings --pid 1 --snap-len 999999
t 64 "--indices-only walks no chain" rings --pid 1 --indices-only
for s in 0 1 3 4097 4294967295 4294967296 -4096; do
	t 64 "--ringbuf-size '$s'" rings --pid 1 --ringbuf-size $s
done
t 64 "want a power of 2 from" rings --pid 1 --ringbuf-size 3
t 64 "index=64: the tracer follows queues 0 to 63" rings --pid 1 --queue ${QUEUE/index=0/index=64}
t 64 "base=0xd0001004: a virtio-mmio window's base" rings --pid 1 \
	--queue ${QUEUE/base=0xd0001000/base=0xd0001004}
t 64 "desc=0: the tracer takes it for a queue not set up" rings --pid 1 \
	--queue ${QUEUE/desc=0x1000/desc=0}
t 64 "--mmio '0x1001': a virtio-mmio window's base" rings --pid 1 --mmio 0x1001
t 64 "--mmio, --queue and --qmp need --pid" rings --queue $QUEUE -- true
t 64 "--ecam '0xb0080000': the base is not 1 MiB aligned" rings --pid 1 --ecam 0xb0080000
t 64 "--ecam '0xb0000000,0': 0 buses; a window has 1 to 256" rings --pid 1 --ecam 0xb0000000,0
t 64 "--ecam '0xb0000000,257': 257 buses" rings --pid 1 --ecam 0xb0000000,257
t 64 "--ecam '0xfffffffffff00000,1': the window does not fit below 2^52" rings --pid 1 \
	--ecam 0xfffffffffff00000,1
t 64 "--ecam '0xb0000000,16x': BUSES is not a number" rings --pid 1 --ecam 0xb0000000,16x
t 64 "--ecam '-0x100000': not BASE[,BUSES]" rings --pid 1 --ecam -0x100000
t 64 "--ecam 'b0000000': not BASE[,BUSES]" rings --pid 1 --ecam b0000000
t 64 "--pid and a command exclude each other" rings --pid 1 -- true
t 64 "invalid PID '-5'" rings --pid -5
t 64 "invalid --stuck-ms '-1'" rings --pid 1 --stuck-ms -1
# health: the same command line rules as rings, its own ranges
t 64 "--pid (or a command to run) is required" health
t 64 "--pid and a command exclude each other" health --pid 1 -- true
t 64 "--mmio, --queue and --qmp need --pid" health --queue $QUEUE -- true
t 64 "--stuck-ms '0': out of range, want 1 to 3600000" health --pid 1 --stuck-ms 0
t 64 "--duration '0': out of range, want 1 to 86400" health --pid 1 --duration 0
t 64 "index=64: the tracer follows queues 0 to 63" health --pid 1 --queue ${QUEUE/index=0/index=64}
t 64 "--len '0': out of range, want 1 to 262144" mem --pid 1 --len 0
t 64 "--len '262145': out of range" mem --pid 1 --len 262145
t 64 "--timeout-ms 'abc'" mem --pid 1 --timeout-ms abc
t 64 "--timeout-ms '-5'" mem --pid 1 --timeout-ms -5
t 64 "wraps past 2^64" mem --pid 1 --gpa 0xffffffffffffffff --len 2

# --- hints only where they are true --------------------------------------------------------
# A fake QMP peer (python3): each error says what failed, not a BPF record version mismatch.
qmp() { # qmp SOCKET MODE: serves one connection in the background
	rm -f "$1"
	timeout 20 python3 - "$1" "$2" <<'PY' &
import json, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
c, _ = s.accept()
f = c.makefile('rw')
if mode == 'not-qmp':
    f.write('{"hello": "I am not QEMU"}\n'); f.flush()
else:
    f.write('{"QMP": {"version": {"qemu": {"major": 6, "minor": 2, "micro": 0}}, '
            '"capabilities": []}}\n'); f.flush()
    for line in f:
        req = json.loads(line)
        if req['execute'] == 'qmp_capabilities':
            rep = {'return': {}}
        else:
            rep = {'error': {'class': 'CommandNotFound',
                             'desc': 'The command %s has not been found' % req['execute']}}
        rep['id'] = req.get('id')
        f.write(json.dumps(rep) + '\n'); f.flush()
c.close()
PY
	for _ in $(seq 50); do [ -S "$1" ] && return; sleep 0.1; done
}
if command -v python3 >/dev/null; then
	for mode in not-qmp old-qemu; do
		qmp "$dir/qmp.sock" $mode
		out=$(timeout 10 "$bin" ring --dump ring.img --map ok.map --qmp "$dir/qmp.sock" 2>&1)
		rc=$?
		wait
		case $mode in
		not-qmp) want="QMP $dir/qmp.sock: connecting (greeting, qmp_capabilities): the peer does not speak QMP" ;;
		old-qemu) want="x-query-virtio (listing the virtio queues): CommandNotFound: The command x-query-virtio has not been found" ;;
		esac
		if [ $rc -ne 1 ] || [[ $out != *"$want"* ]] || [[ $out == *BPF* || $out == *version* ]]; then
			echo "FAIL: QMP $mode: exit $rc, want 1 with '$want' and no BPF hint; got: $out" >&2
			fail=$((fail + 1))
		else
			pass=$((pass + 1))
		fi
	done
else
	skip=$((skip + 2))
fi
# A missing dump on a kernel without BTF is a missing dump, not a missing BTF: the kernel's
# BTF hidden in a mount namespace (root).
if [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/btf ] &&
	out=$(unshare -m sh -c 'mount -t tmpfs none /sys/kernel/btf && "$@"' sh \
		timeout 10 "$bin" ring --dump missing.img --map ok.map --queue $QUEUE 2>&1); then
	echo "FAIL: a missing dump without kernel BTF: exit 0: $out" >&2
	fail=$((fail + 1))
elif [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/btf ]; then
	if [[ $out != "gma-trace: missing.img: No such file or directory" ]]; then
		echo "FAIL: a missing dump without kernel BTF: got '$out'" >&2
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
else
	skip=$((skip + 1))
fi

echo "  CLI      $pass cases ok, $fail failed$([ $skip -eq 0 ] || echo ", $skip skipped")"
[ $fail -eq 0 ]

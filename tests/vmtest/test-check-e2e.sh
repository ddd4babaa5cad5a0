#!/usr/bin/env bash
# tools/vmtest/check-e2e (the real-guest check's verdicts, run inside the vmtest VM) on made-up
# traces: a good one passes, with its members in any order; each broken one fails, with the
# reason and, for a malformed line, its line number. Seconds, no VM, no root.
#
# Usage: tests/vmtest/test-check-e2e.sh PATH-TO-check-e2e
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PATH-TO-check-e2e" >&2; exit 2; }
CHECK=$1
[ -x "$CHECK" ] || { echo "test-check-e2e: $CHECK is not an executable (make OUTPUT/check-e2e)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/test-check-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0

# The trace of a good run, the records as gma-trace writes them (members in its order, but
# the blk queue's queue_stats, whose members are reversed: order must not matter).
ev='"evidence":{"now_ns":9,"notify_observable":true,"interrupts":1}'
good_trace() {
	cat <<JSON
{"type":"queue","version":1,"ts_ns":1,"pid":7,"device_id":2,"base":4273995776,"transport":"mmio","address":"feb00000","queue":0,"num":256,"desc":4096,"driver":8192,"device":12288,"flags":0}
{"type":"chain","version":1,"ts_ns":2,"pid":7,"device":"virtio-blk","device_id":2,"queue":0,"summary":"OUT sector 0 len 4096","anomalies":[],"descs":[]}
{"type":"chain","version":1,"ts_ns":3,"pid":7,"device":"virtio-blk","device_id":2,"queue":0,"summary":"OUT sector 8 len 4096 ioprio 16388","anomalies":[],"descs":[]}
{"type":"chain","version":1,"ts_ns":4,"pid":7,"device":"virtio-blk","device_id":2,"queue":0,"summary":"IN sector 0 len 65536","anomalies":[],"descs":[]}
{"type":"chain","version":1,"ts_ns":5,"pid":7,"device":"virtio-blk","device_id":2,"queue":0,"summary":"FLUSH","anomalies":[],"descs":[]}
{"type":"chain","version":1,"ts_ns":6,"pid":7,"device":"virtio-net","device_id":1,"queue":1,"summary":"tx 42 bytes","anomalies":[{"name":"zero_len","reason":"x"}],"descs":[]}
{"type":"completion","version":1,"ts_ns":7,"pid":7,"device_id":2,"queue":0,"head":0,"len":1}
{"type":"anomaly","version":1,"ts_ns":8,"pid":7,"device_id":2,"base":4273995776,"transport":"mmio","address":"feb00000","queue":0,"anomalies":[{"name":"stuck","reason":"no progress"}]}
{"type":"queue_stats","version":1,"pid":7,"device_id":1,"base":4273996288,"transport":"mmio","address":"feb00200","queue":1,"num":256,"desc":18446744073709547520,"avail_idx":65535,"used_idx":65535,"in_flight":0,"notifies":1,"chains":1,"in_flight_at_attach":0,"verdict":"idle",$ev}
{$ev,"verdict":"device-not-consuming","in_flight_at_attach":0,"chains":5,"notifies":4,"in_flight":1,"used_idx":4,"avail_idx":5,"desc":4096,"queue":0,"address":"feb00000","device_id":2,"version":1,"type":"queue_stats"}
{"type":"summary","version":1,"notifies":5,"chains":5,"completions":1,"anomalies":1,"drops":0,"bad_records":0}
JSON
}
good_rings() {
	cat <<TXT
QMP-RING device=virtio-blk path=/machine/peripheral-anon/device[0] queue=0 num=256 desc=0x1000 driver=0x2000 device_area=0x3000 avail_idx=5 used_idx=4
QMP-RING device=virtio-net path=/machine/peripheral-anon/device[1] queue=1 num=256 desc=0xfffffffffffff000 driver=0x5000 device_area=0x6000 avail_idx=65535 used_idx=65535
TXT
}

# NAME EXPECTED-STATUS PATTERN SUBCOMMAND ARGS...: the status, and PATTERN (grep -E) in the
# output.
expect() {
	local name=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$CHECK" "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		passed=$((passed + 1))
		echo "ok     $name"
	else
		failed=$((failed + 1))
		echo "FAILED $name: exit $rc (want $want), output should match /$pat/:"
		sed 's/^/    | /' <<<"$out"
	fi
}

good_trace >"$T/good.jsonl"
good_rings >"$T/rings.txt"
expect "blk: a good trace passes" 0 '^E2E-CHECK ok$' blk 2 65536 "$T/good.jsonl"
expect "blk: counts per device" 0 '^E2E-CHECK chains virtio-net 1$' blk 2 65536 "$T/good.jsonl"
expect "blk: the expected stall counted" 0 '^E2E-CHECK queues 1 completions 1 stuck 1$' \
	blk 2 65536 "$T/good.jsonl"
expect "health: a good trace passes" 0 '^E2E-HEALTH boot: ok: 2 queues judged$' \
	health boot "$T/good.jsonl"
expect "rings: a good trace passes (keys in any order, u64 desc)" 0 \
	'^E2E-RINGS boot: ok: 2 queues compared with guest memory$' rings boot "$T/rings.txt" "$T/good.jsonl"

# A malformed line anywhere is an error with its line number, in every subcommand.
{ good_trace | head -n 2; echo '{"type":"chain","version":1,"device":"virtio-blk"'; good_trace | tail -n +3; } >"$T/cut.jsonl"
for sub in "blk 2 65536" "health boot" "rings boot $T/rings.txt"; do
	# shellcheck disable=SC2086 # the subcommand's words
	expect "${sub%% *}: a cut line is an error with its number" 1 'cut\.jsonl:3: not one JSON object' \
		$sub "$T/cut.jsonl"
done
{ good_trace; echo '{"version":1,"chains":0}'; } >"$T/notype.jsonl"
expect "blk: a record without type" 1 'notype\.jsonl:12: a record without a string "type"' \
	blk 2 65536 "$T/notype.jsonl"
{ good_trace; echo '[1,2]'; } >"$T/array.jsonl"
expect "health: a JSON array line" 1 'array\.jsonl:12: a JSON array, not an object' health boot "$T/array.jsonl"
{ good_trace; echo '{"type":"summary"} x'; } >"$T/after.jsonl"
expect "blk: text after the object" 1 'after\.jsonl:12: not one JSON object' \
	blk 2 65536 "$T/after.jsonl"
{ good_trace; echo; } >"$T/empty.jsonl"
expect "blk: an empty line" 1 'empty\.jsonl:12: not one JSON object' blk 2 65536 "$T/empty.jsonl"
good_trace | sed '10s/"verdict":"device-not-consuming",//' >"$T/noverdict.jsonl"
expect "health: a queue_stats without verdict" 1 'noverdict\.jsonl:10: a "queue_stats" record without "verdict"' \
	health boot "$T/noverdict.jsonl"
good_trace | sed '10s/"avail_idx":5/"avail_idx":"5"/' >"$T/strnum.jsonl"
expect "rings: a number as a string" 1 'strnum\.jsonl:10: "avail_idx" of a "queue_stats" record is a string, not a int' \
	rings boot "$T/rings.txt" "$T/strnum.jsonl"
expect "blk: a trace that is not there" 1 'nothere\.jsonl: No such file' blk 2 65536 "$T/nothere.jsonl"

# Each check of the awk scripts it replaces.
expect "blk: fewer writes than the guest made" 1 'bad: OUT: 2 requests of 4096 bytes, 8192 bytes; the guest wrote 3 x 4096' \
	blk 3 65536 "$T/good.jsonl"
expect "blk: fewer bytes read than the guest read" 1 'bad: IN: 65536 bytes, 1 requests of 65536; the guest read 131072' \
	blk 2 131072 "$T/good.jsonl"
good_trace | sed '2s/"anomalies":\[\]/"anomalies":[{"name":"zero_len","reason":"r"}]/' >"$T/anom.jsonl"
expect "blk: a blk chain with an anomaly" 1 'anom\.jsonl:2: chain with anomalies' blk 2 65536 "$T/anom.jsonl"
good_trace | sed '5s/"FLUSH"/"READ sideways"/' >"$T/undecoded.jsonl"
expect "blk: a chain that is no blk request" 1 'chain does not decode as a virtio-blk request: "READ sideways"' \
	blk 2 65536 "$T/undecoded.jsonl"
good_trace | sed '8s/"queue":0/"queue":1/' >"$T/stuck1.jsonl"
expect "blk: an anomaly event other than the blk queue stuck" 1 'stuck1\.jsonl:8: anomaly event' \
	blk 2 65536 "$T/stuck1.jsonl"
good_trace | sed '8s/"name":"stuck"/"name":"stuck"},{"name":"chain_loop","reason":"r"/' >"$T/stuck2.jsonl"
expect "blk: a stuck event with another anomaly" 1 'stuck2\.jsonl:8: anomaly event' blk 2 65536 "$T/stuck2.jsonl"
good_trace | sed '11s/"drops":0/"drops":3/' >"$T/drops.jsonl"
expect "blk: records dropped" 1 'drops\.jsonl:11: 3 records dropped' blk 2 65536 "$T/drops.jsonl"
good_trace | sed '11s/"bad_records":0/"bad_records":1/' >"$T/badrec.jsonl"
expect "blk: bad records" 1 'badrec\.jsonl:11: 1 bad records' blk 2 65536 "$T/badrec.jsonl"
good_trace | sed '$d' >"$T/nosummary.jsonl"
expect "blk: no summary" 1 'no summary line' blk 2 65536 "$T/nosummary.jsonl"
good_trace | grep -v '"virtio-blk"' >"$T/noblk.jsonl"
expect "blk: no blk chain" 1 'no virtio-blk chain traced' blk 0 0 "$T/noblk.jsonl"
good_trace | sed '10s/"device-not-consuming"/"healthy"/' >"$T/healthy.jsonl"
expect "health: the stalled blk queue judged healthy" 1 'device_id 2 queue 0 \(feb00000\): healthy  <- not expected' \
	health boot "$T/healthy.jsonl"
good_trace | sed '9s/"idle"/"unknown"/' >"$T/unknown.jsonl"
expect "health: unknown without chains in flight at the attach" 1 'device_id 1 queue 1 \(feb00200\): unknown  <- not expected' \
	health late "$T/unknown.jsonl"
good_trace | sed '9s/"idle"/"unknown"/; 9s/"in_flight_at_attach":0/"in_flight_at_attach":3/' >"$T/unknown3.jsonl"
expect "health: unknown with chains in flight at the attach" 0 '^E2E-HEALTH late: ok' health late "$T/unknown3.jsonl"
good_trace | sed '10s/"notify_observable":true/"notify_observable":false/' >"$T/unobs.jsonl"
expect "health: notifies not observable" 1 'where its notifies land is not known' health boot "$T/unobs.jsonl"
good_trace | sed '10s/"notifies":4/"notifies":0/' >"$T/nonotify.jsonl"
expect "health: blk chains without a notify" 1 '5 chains and no notify seen' health boot "$T/nonotify.jsonl"
good_trace | sed '10d' >"$T/noblkq.jsonl"
expect "health: no verdict for the blk queue" 1 'bad: no verdict for the blk queue' health boot "$T/noblkq.jsonl"
good_rings | sed '1s/used_idx=4/used_idx=3/' >"$T/rings-differ.txt"
expect "rings: an index that differs" 1 'virtio-blk queue 0: gma-trace avail 5 used 4 in_flight 1, guest memory avail 5 used 3  <- differs' \
	rings late "$T/rings-differ.txt" "$T/good.jsonl"
good_trace | sed '10s/"in_flight":1/"in_flight":2/' >"$T/inflight.jsonl"
expect "rings: in_flight not avail - used" 1 'in_flight 2, guest memory avail 5 used 4  <- differs' \
	rings late "$T/rings.txt" "$T/inflight.jsonl"
good_trace | sed '9d' >"$T/nonet.jsonl"
expect "rings: a queue QEMU lists, not in the trace" 1 "bad: virtio-net queue 1 is missing from gma-trace's queue_stats" \
	rings late "$T/rings.txt" "$T/nonet.jsonl"
: >"$T/rings-empty.txt"
expect "rings: QEMU listed no queue" 1 'bad: QEMU listed no queue set up by the driver' \
	rings late "$T/rings-empty.txt" "$T/good.jsonl"
{ good_rings; echo "qmp-rings: something else"; } >"$T/rings-junk.txt"
expect "rings: a line that is not QMP-RING" 1 'rings-junk\.txt:3: not a QMP-RING line' \
	rings late "$T/rings-junk.txt" "$T/good.jsonl"
good_rings | sed '1s/ avail_idx=5//' >"$T/rings-noavail.txt"
expect "rings: a QMP-RING line without avail_idx" 1 'rings-noavail\.txt:1: a QMP-RING line without' \
	rings late "$T/rings-noavail.txt" "$T/good.jsonl"
good_rings | sed '1s/avail_idx=5/avail_idx=-1/' >"$T/rings-neg.txt"
expect "rings: an index QEMU could not read (-1)" 1 'rings-neg\.txt:1: a QMP-RING line without' \
	rings late "$T/rings-neg.txt" "$T/good.jsonl"
expect "usage" 2 '^usage: check-e2e' nonsense

echo "test-check-e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]

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
# late-health: gma-trace health attached to a running guest, its queue_health records against
# QEMU's queues (qmp-rings): a blk disk, a NIC (rx, tx, control) and a virtio-serial device of
# four queues. healthy: the guest's trickle, nothing stuck, nothing unknown; hung-disk: the blk
# read stalled in QEMU's backend before the attach.
late_rings() { # BLK-AVAIL: 10 the trickle's reads all done, 11 one stalled
	cat <<TXT
QMP-RING device=virtio-blk path=/machine/peripheral-anon/device[0] queue=0 num=256 desc=0x1000 driver=0x2000 device_area=0x3000 avail_idx=$1 used_idx=10 last_avail_idx=$1 inuse=$(($1 - 10))
QMP-RING device=virtio-net path=/machine/peripheral-anon/device[1] queue=0 num=256 desc=0x4000 driver=0x5000 device_area=0x6000 avail_idx=256 used_idx=3 last_avail_idx=3 inuse=0
QMP-RING device=virtio-net path=/machine/peripheral-anon/device[1] queue=1 num=256 desc=0x7000 driver=0x8000 device_area=0x9000 avail_idx=40 used_idx=40 last_avail_idx=40 inuse=0
QMP-RING device=virtio-net path=/machine/peripheral-anon/device[1] queue=2 num=64 desc=0xa000 driver=0xb000 device_area=0xc000 avail_idx=2 used_idx=2 last_avail_idx=2 inuse=0
QMP-RING device=virtio-serial path=/machine/peripheral-anon/device[2] queue=0 num=128 desc=0xd000 driver=0xe000 device_area=0xf000 avail_idx=128 used_idx=0 last_avail_idx=0 inuse=0
QMP-RING device=virtio-serial path=/machine/peripheral-anon/device[2] queue=1 num=128 desc=0x10000 driver=0x11000 device_area=0x12000 avail_idx=0 used_idx=0 last_avail_idx=0 inuse=0
QMP-RING device=virtio-serial path=/machine/peripheral-anon/device[2] queue=2 num=128 desc=0x13000 driver=0x14000 device_area=0x15000 avail_idx=130 used_idx=2 last_avail_idx=2 inuse=0
QMP-RING device=virtio-serial path=/machine/peripheral-anon/device[2] queue=3 num=128 desc=0x16000 driver=0x17000 device_area=0x18000 avail_idx=4 used_idx=4 last_avail_idx=4 inuse=0
TXT
}
# queue_health records: DEVICE_ID QUEUE ADDRESS KIND VERDICT STUCK per line of stdin
health_records() {
	local id q addr kind v stuck
	while read -r id q addr kind v stuck; do
		echo "{\"type\":\"queue_health\",\"version\":1,\"pid\":7,\"device_id\":$id,\"base\":0,\"transport\":\"mmio\",\"address\":\"$addr\",\"queue\":$q,\"kind\":\"$kind\",\"num\":256,\"avail_idx\":1,\"used_idx\":1,\"in_flight\":0,\"oldest_request_age_ns\":0,\"verdict\":\"$v\",\"stuck\":$stuck,$ev,\"reason\":\"r\"}"
	done
}
# the device's own view of the stalled blk queue (QEMU's, as health read it): it took the request
dv='"device_view":{"ts_ns":8,"last_avail_idx":11,"used_idx":10,"inuse":1}'
late_health() { # BLK-VERDICT BLK-STUCK [BLK-EVIDENCE-MEMBERS]
	health_records <<TXT
1 0 feb00200 receive idle false
1 1 feb00200 request healthy false
1 2 feb00200 request idle false
3 0 feb00400 receive idle false
3 1 feb00400 request idle false
3 2 feb00400 receive idle false
3 3 feb00400 request idle false
TXT
	# the blk queue's record with its members in reverse order: order must not matter
	echo "{\"reason\":\"r\",\"evidence\":{\"now_ns\":9,${3-$dv},\"notify_observable\":true},\"stuck\":$2,\"verdict\":\"$1\",\"kind\":\"request\",\"queue\":0,\"address\":\"feb00000\",\"device_id\":2,\"type\":\"queue_health\"}"
}
late_rings 10 >"$T/late-rings.txt"
late_rings 11 >"$T/hung-rings.txt"
late_health healthy false >"$T/late.jsonl"
late_health device-not-consuming true >"$T/hung.jsonl"
late_health device-slow true >"$T/slow.jsonl"
L="$T/late-rings.txt" H="$T/hung-rings.txt"
expect "late-health: a healthy late attach passes (keys in any order)" 0 \
	'^E2E-LATE-HEALTH q35 healthy: ok: exit 0, 8 queues judged, 8 listed by QEMU \(idle 6, healthy 2\)$' \
	late-health healthy "q35 healthy" "$L" "$T/late.jsonl" 0
expect "late-health: the hung disk judged device-not-consuming passes" 0 \
	'^E2E-LATE-HEALTH h: ok: exit 2, 8 queues judged, 8 listed by QEMU \(idle 6, healthy 1, device-not-consuming 1\)$' \
	late-health hung-disk h "$H" "$T/hung.jsonl" 2
expect "late-health: the hung disk judged device-slow passes" 0 '^E2E-LATE-HEALTH h: ok: exit 2' \
	late-health hung-disk h "$H" "$T/slow.jsonl" 2
expect "late-health: each queue's verdict printed" 0 \
	'^E2E-LATE-HEALTH h: virtio-blk queue 0 \(feb00000\): request device-not-consuming \(stuck\)$' \
	late-health hung-disk h "$H" "$T/hung.jsonl" 2
expect "late-health: the device view of the stalled request printed" 0 \
	'^E2E-LATE-HEALTH h: virtio-blk queue 0 \(feb00000\): the device took it \(device view: last_avail_idx 11, inuse 1\)$' \
	late-health hung-disk h "$H" "$T/hung.jsonl" 2
sed '3s/"kind":"request"/"kind":"receive"/' "$T/late.jsonl" >"$T/ctrl.jsonl"
expect "late-health: net's control queue, either kind" 0 '^E2E-LATE-HEALTH h: ok' \
	late-health healthy h "$L" "$T/ctrl.jsonl" 0
{ echo '{"type":"summary","version":1}'; cat "$T/late.jsonl"; } >"$T/other.jsonl"
expect "late-health: other records are not queues" 0 'ok: exit 0, 8 queues judged' \
	late-health healthy h "$L" "$T/other.jsonl" 0

sed '1s/"idle"/"unknown"/' "$T/late.jsonl" >"$T/unknown-rx.jsonl"
expect "late-health: a receive queue judged unknown" 1 \
	'bad: .*unknown-rx\.jsonl:1: virtio-net queue 0 \(feb00200\): unknown; wanted idle or healthy' \
	late-health healthy h "$L" "$T/unknown-rx.jsonl" 0
sed '6s/"idle"/"unknown"/' "$T/hung.jsonl" >"$T/hung-unknown.jsonl"
expect "late-health: hung disk, another queue unknown" 1 'hung-unknown\.jsonl:6: virtio-serial queue 2 \(feb00400\): unknown; wanted' \
	late-health hung-disk h "$H" "$T/hung-unknown.jsonl" 2
expect "late-health: healthy, exit 2" 1 'bad: gma-trace health exited with status 2, wanted 0 \(no queue stuck\), with 0 queue\(s\) stuck' \
	late-health healthy h "$L" "$T/late.jsonl" 2
expect "late-health: hung disk, exit 0" 1 'bad: gma-trace health exited with status 0, wanted 2 \(a queue stuck\), with 1 queue\(s\) stuck' \
	late-health hung-disk h "$H" "$T/hung.jsonl" 0
sed '5s/"idle","stuck":false/"driver-not-notifying","stuck":true/' "$T/late.jsonl" >"$T/stuck-tx.jsonl"
expect "late-health: healthy, a queue stuck" 1 'virtio-serial queue 1 \(feb00400\): driver-not-notifying \(stuck\); wanted idle or healthy' \
	late-health healthy h "$L" "$T/stuck-tx.jsonl" 2
late_health healthy false >"$T/hung-healthy.jsonl"
expect "late-health: hung disk, the blk queue judged healthy" 1 \
	'virtio-blk queue 0 \(feb00000\): healthy; wanted stuck, device-not-consuming or device-slow' \
	late-health hung-disk h "$H" "$T/hung-healthy.jsonl" 0
late_health unknown false >"$T/hung-blk-unknown.jsonl"
expect "late-health: hung disk, the blk queue judged unknown" 1 'virtio-blk queue 0 \(feb00000\): unknown; wanted stuck' \
	late-health hung-disk h "$H" "$T/hung-blk-unknown.jsonl" 0
late_health device-not-taking true >"$T/hung-taking.jsonl"
expect "late-health: hung disk judged device-not-taking, QEMU took it" 1 \
	'virtio-blk queue 0 \(feb00000\): device-not-taking \(stuck\); wanted stuck, device-not-consuming' \
	late-health hung-disk h "$H" "$T/hung-taking.jsonl" 2
sed '2s/"healthy","stuck":false/"device-slow","stuck":true/' "$T/hung.jsonl" >"$T/hung-tx.jsonl"
expect "late-health: hung disk, net tx stuck too" 1 'virtio-net queue 1 \(feb00200\): device-slow \(stuck\); wanted idle or healthy' \
	late-health hung-disk h "$H" "$T/hung-tx.jsonl" 2
sed '1s/last_avail_idx=11/last_avail_idx=10/' "$H" >"$T/hung-nottaken.txt"
expect "late-health: QEMU has not taken the stalled request" 1 \
	'bad: virtio-blk queue 0: QEMU has not taken the stalled request \(last_avail_idx 10, avail_idx 11\)' \
	late-health hung-disk h "$T/hung-nottaken.txt" "$T/hung.jsonl" 2
sed '1s/ last_avail_idx=11//' "$H" >"$T/hung-nolast.txt"
expect "late-health: QEMU gave no last_avail_idx" 1 'bad: virtio-blk queue 0: QEMU gave no last_avail_idx' \
	late-health hung-disk h "$T/hung-nolast.txt" "$T/hung.jsonl" 2
sed '1s/last_avail_idx=11/last_avail_idx=x/' "$H" >"$T/hung-badlast.txt"
expect "late-health: a last_avail_idx that is no index" 1 'hung-badlast\.txt:1: last_avail_idx is not an index' \
	late-health hung-disk h "$T/hung-badlast.txt" "$T/hung.jsonl" 2
expect "late-health: hung disk, QEMU shows no blk request in flight" 1 'bad: QEMU shows no virtio-blk request in flight .*: the disk did not stall' \
	late-health hung-disk h "$L" "$T/hung.jsonl" 2
sed '4d' "$T/late.jsonl" >"$T/missing.jsonl"
expect "late-health: a queue QEMU lists, not judged" 1 'bad: virtio-serial queue 0: a queue QEMU lists, with no verdict' \
	late-health healthy h "$L" "$T/missing.jsonl" 0
{ cat "$T/late.jsonl"; echo '3 9 feb00400 request idle false' | health_records; } >"$T/extra.jsonl"
expect "late-health: a queue QEMU does not list" 1 'extra\.jsonl:9: virtio-serial queue 9 \(feb00400\): a queue QEMU does not list' \
	late-health healthy h "$L" "$T/extra.jsonl" 0
{ cat "$T/late.jsonl"; echo '7 0 feb00600 request idle false' | health_records; } >"$T/extra-dev.jsonl"
expect "late-health: a device that is none of the guest's" 1 'extra-dev\.jsonl:9: device_id 7 queue 0 \(feb00600\): a queue QEMU does not list' \
	late-health healthy h "$L" "$T/extra-dev.jsonl" 0
{ cat "$T/late.jsonl"; sed -n 2p "$T/late.jsonl"; } >"$T/twice.jsonl"
expect "late-health: a queue judged twice" 1 'twice\.jsonl:9: virtio-net queue 1 \(feb00200\): judged twice' \
	late-health healthy h "$L" "$T/twice.jsonl" 0
sed '1s/"kind":"receive"/"kind":"request"/' "$T/late.jsonl" >"$T/kind-rx.jsonl"
expect "late-health: net rx said to carry requests" 1 'kind-rx\.jsonl:1: virtio-net queue 0 \(feb00200\): kind request, wanted receive' \
	late-health healthy h "$L" "$T/kind-rx.jsonl" 0
sed '8s/"kind":"request"/"kind":"receive"/' "$T/late.jsonl" >"$T/kind-blk.jsonl"
expect "late-health: blk said to be a receive queue" 1 'kind-blk\.jsonl:8: virtio-blk queue 0 \(feb00000\): kind receive, wanted request' \
	late-health healthy h "$L" "$T/kind-blk.jsonl" 0
sed '1s/"kind":"receive"/"kind":"rx"/' "$T/late.jsonl" >"$T/kind-odd.jsonl"
expect "late-health: a kind that is neither" 1 'kind "rx" is neither request nor receive' \
	late-health healthy h "$L" "$T/kind-odd.jsonl" 0
sed '1s/"stuck":false/"stuck":true/' "$T/late.jsonl" >"$T/idle-stuck.jsonl"
expect "late-health: idle and stuck" 1 'idle-stuck\.jsonl:1: virtio-net queue 0 \(feb00200\): verdict idle with "stuck" true' \
	late-health healthy h "$L" "$T/idle-stuck.jsonl" 0
late_health device-not-consuming false >"$T/dnc-unstuck.jsonl"
expect "late-health: device-not-consuming and not stuck" 1 'verdict device-not-consuming with "stuck" false' \
	late-health hung-disk h "$H" "$T/dnc-unstuck.jsonl" 2
late_health device-not-consuming true '"interrupts":1' >"$T/hung-nodv.jsonl"
expect "late-health: hung disk without the device's view" 1 'hung-nodv\.jsonl:8: virtio-blk queue 0 \(feb00000\): no evidence\.device_view' \
	late-health hung-disk h "$H" "$T/hung-nodv.jsonl" 2
late_health device-not-consuming true "${dv/\"last_avail_idx\":11,\"used_idx\":10,\"inuse\":1/\"last_avail_idx\":10,\"used_idx\":10,\"inuse\":0}" >"$T/hung-dvbehind.jsonl"
expect "late-health: hung disk, the device's view says it did not take it" 1 \
	"the device view does not show the device took the request \\(last_avail_idx 10, inuse 0; the driver's avail_idx 11\\)" \
	late-health hung-disk h "$H" "$T/hung-dvbehind.jsonl" 2
late_health device-not-consuming true "${dv/\"inuse\":1/\"inuse\":\"1\"}" >"$T/hung-dvstr.jsonl"
expect "late-health: a device view member of the wrong type" 1 'hung-dvstr\.jsonl:8: "inuse" of a "device_view" record is a string' \
	late-health hung-disk h "$H" "$T/hung-dvstr.jsonl" 2
late_health device-not-consuming true '"device_view":[]' >"$T/hung-dvarr.jsonl"
expect "late-health: a device view that is no object" 1 'hung-dvarr\.jsonl:8: "device_view" of a "queue_health evidence" record is a array' \
	late-health hung-disk h "$H" "$T/hung-dvarr.jsonl" 2
sed '6s/"idle","stuck":false/"driver-not-refilling","stuck":true/' "$T/late.jsonl" >"$T/refill.jsonl"
expect "late-health: healthy, a receive queue not refilled" 1 'virtio-serial queue 2 \(feb00400\): driver-not-refilling \(stuck\); wanted idle or healthy' \
	late-health healthy h "$L" "$T/refill.jsonl" 2
sed '6s/"idle"/"driver-not-refilling"/' "$T/late.jsonl" >"$T/refill-unstuck.jsonl"
expect "late-health: driver-not-refilling and not stuck" 1 'verdict driver-not-refilling with "stuck" false' \
	late-health healthy h "$L" "$T/refill-unstuck.jsonl" 0
sed '3s/"kind":"request",//' "$T/late.jsonl" >"$T/nokind.jsonl"
expect "late-health: a queue_health without kind" 1 'nokind\.jsonl:3: a "queue_health" record without "kind"' \
	late-health healthy h "$L" "$T/nokind.jsonl" 0
sed '3s/"stuck":false,//' "$T/late.jsonl" >"$T/nostuck.jsonl"
expect "late-health: a queue_health without stuck" 1 'nostuck\.jsonl:3: a "queue_health" record without "stuck"' \
	late-health healthy h "$L" "$T/nostuck.jsonl" 0
sed '3s/"queue":2/"queue":"2"/' "$T/late.jsonl" >"$T/strqueue.jsonl"
expect "late-health: a queue index as a string" 1 'strqueue\.jsonl:3: "queue" of a "queue_health" record is a string' \
	late-health healthy h "$L" "$T/strqueue.jsonl" 0
{ head -n 4 "$T/late.jsonl"; echo '{"type":"queue_health","verdict":"idle"'; tail -n +5 "$T/late.jsonl"; } >"$T/late-cut.jsonl"
expect "late-health: a cut line is an error with its number" 1 'late-cut\.jsonl:5: not one JSON object' \
	late-health healthy h "$L" "$T/late-cut.jsonl" 0
: >"$T/late-empty.jsonl"
expect "late-health: no queue_health record" 1 'bad: no queue_health record in' \
	late-health healthy h "$L" "$T/late-empty.jsonl" 0
expect "late-health: a health output that is not there" 1 'nothere\.jsonl: No such file' \
	late-health healthy h "$L" "$T/nothere.jsonl" 0
sed '2s/device=virtio-net/device=virtio-gpu/' "$L" >"$T/rings-gpu.txt"
expect "late-health: a device QEMU lists that the check does not know" 1 'bad: virtio-gpu queue 0: a device check-e2e does not know' \
	late-health healthy h "$T/rings-gpu.txt" "$T/late.jsonl" 0
{ cat "$L"; sed -n 1p "$L"; } >"$T/rings-twice.txt"
expect "late-health: two devices of a kind" 1 'bad: virtio-blk queue 0: listed twice by QEMU' \
	late-health healthy h "$T/rings-twice.txt" "$T/late.jsonl" 0
expect "late-health: an unknown mode is usage" 2 'MODE is healthy or hung-disk' \
	late-health stalled h "$L" "$T/late.jsonl" 0
expect "late-health: a status that is no number is usage" 2 'STATUS a number' \
	late-health healthy h "$L" "$T/late.jsonl" x
expect "usage" 2 '^usage: check-e2e' nonsense

echo "test-check-e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]

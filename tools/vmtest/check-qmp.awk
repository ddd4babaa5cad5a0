# QEMU's own view of the nested guest's queues (gma-trace ring -j --qmp, one JSON object per
# queue with "qmp":{last_avail_idx, used_idx}) against gma-trace's model at the end of the
# trace (rings --json: "queue_stats" lines): for every queue both know, the used index must be
# the same, and on the blk queue (idle, everything consumed) the avail index too.
#
# awk -f check-qmp.awk QMP.jsonl TRACE.jsonl
# Prints "E2E-QMP ..." lines; exits 0 when all hold.

# The digits of a number member, as a string: large ones stay exact (awk's numbers are
# doubles, printed as 4.27296e+09 when used as array keys).
function digits(line, key) {
	if (!match(line, "\"" key "\":[0-9]+"))
		return "-1"
	return substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
}
function num(line, key) {
	return digits(line, key) + 0
}
function qmpnum(line, key, q) {
	if (!match(line, "\"qmp\":\\{[^}]*\\}"))
		return -1
	q = substr(line, RSTART, RLENGTH)
	return num(q, key)
}

FNR == NR {
	if ($0 !~ /"type":"ring"/ || $0 !~ /"qmp":/)
		next
	k = digits($0, "base") "/" digits($0, "queue")
	qmp_avail[k] = qmpnum($0, "last_avail_idx")
	qmp_used[k] = qmpnum($0, "used_idx")
	qmp_dev[k] = $0 ~ /"device":"virtio-blk"/ ? "blk" : "other"
	nqmp++
	next
}
/"type":"queue_stats"/ {
	k = digits($0, "base") "/" digits($0, "queue")
	if (!(k in qmp_used))
		next
	compared++
	avail = num($0, "avail_idx")
	used = num($0, "used_idx")
	printf "E2E-QMP %s queue %s: gma-trace avail %d used %d, QEMU last_avail %d used %d\n", \
		qmp_dev[k], k, avail, used, qmp_avail[k], qmp_used[k]
	if (used != qmp_used[k]) {
		print "E2E-QMP bad: used index differs on " k
		bad++
	}
	if (qmp_dev[k] == "blk") {
		blk++
		if (avail != qmp_avail[k]) {
			print "E2E-QMP bad: avail index differs on the blk queue " k
			bad++
		}
	}
}
END {
	if (!nqmp) {
		print "E2E-QMP bad: no queue read over QMP"
		exit 1
	}
	if (!blk) {
		print "E2E-QMP bad: the blk queue is missing from gma-trace's queue_stats"
		bad++
	}
	print "E2E-QMP " (bad ? "FAIL" : "ok") ": " compared " queues compared"
	exit bad ? 1 : 0
}

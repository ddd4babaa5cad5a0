# The health verdicts of a trace (rings --json: the "verdict" of each "queue_stats" line) of
# the nested guest whose disk stalled (blkdebug suspends its reads: qemu-io "break") while the
# guest kept reading it: the blk queue must be judged device-not-consuming,
# every other queue idle or healthy, and nothing else stuck. A queue imported with chains in
# flight (attached late: rx buffers posted before the trace) may be unknown: their age and
# kind are not known. And the tracer knows where each queue's notifies land (a late attach
# reads each virtio-pci function through QMP): the blk queue's chains made available while
# traced came with notifies (QEMU's virtio-blk, idle between the trickle's reads, asks for
# each: on microvm the late trace's notify count equals its chains).
#
# awk -v who=NAME -f check-health.awk TRACE.jsonl
# Prints "E2E-HEALTH ..." lines; exits 0 when all hold.

function str(line, key) {
	if (!match(line, "\"" key "\":\"[^\"]*\""))
		return ""
	return substr(line, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
}
function num(line, key) {
	if (!match(line, "\"" key "\":[0-9]+"))
		return -1
	return substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
}

/"type":"queue_stats"/ {
	v = str($0, "verdict")
	q = "device_id " num($0, "device_id") " queue " num($0, "queue") " (" str($0, "address") ")"
	n++
	if (num($0, "device_id") == 2) {
		blk++
		ok = v == "device-not-consuming"
	} else {
		ok = v == "idle" || v == "healthy" ||
		     (v == "unknown" && num($0, "in_flight_at_attach") > 0)
	}
	printf "E2E-HEALTH %s: %s: %s%s\n", who, q, v, ok ? "" : "  <- not expected"
	if (!ok)
		bad++
	if (index($0, "\"notify_observable\":false")) {
		printf "E2E-HEALTH %s: %s: where its notifies land is not known  <- not expected\n",
		       who, q
		bad++
	}
	# chains are those made available while traced (the ones in flight at the attach are
	# "attach_chain" records): the first after a quiet spell was notified
	if (num($0, "device_id") == 2 && num($0, "chains") > 0 && num($0, "notifies") <= 0) {
		printf "E2E-HEALTH %s: %s: %d chains and no notify seen  <- not expected\n", who,
		       q, num($0, "chains")
		bad++
	}
}
END {
	if (!blk) {
		print "E2E-HEALTH " who ": bad: no verdict for the blk queue"
		bad++
	}
	print "E2E-HEALTH " who ": " (bad ? "FAIL" : "ok") ": " n " queues judged"
	exit bad ? 1 : 0
}

# Every queue's indices in gma-trace's model against guest memory read by QEMU: the
# "QMP-RING ..." lines of qmp-rings (x-query-virtio-queue-status for the ring addresses, the
# monitor's xp for the avail and used indices, read with the VM paused) against the
# "queue_stats" lines of a trace (rings --json), joined by the descriptor table's address.
# Each queue QEMU lists must be in the trace, with the same avail and used index and in_flight
# equal to their difference.
#
# awk -v who=NAME -f check-rings.awk RINGS.txt TRACE.jsonl
# Prints "E2E-RINGS ..." lines; exits 0 when all hold.

function field(line, key,    m) { # key=value of a QMP-RING line
	if (!match(line, " " key "=[^ ]*"))
		return ""
	return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
}
function num(line, key) { # "key":N of a JSON line, as digits (large ones stay exact)
	if (!match(line, "\"" key "\":[0-9]+"))
		return "-1"
	return substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
}
function hexval(s,    i, c, v) {
	v = 0
	s = tolower(substr(s, 3))
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", substr(s, i, 1)) - 1
		v = v * 16 + c
	}
	return sprintf("%.0f", v)
}

FNR == NR {
	if ($1 != "QMP-RING")
		next
	k = hexval(field($0, "desc"))
	name[k] = field($0, "device") " queue " field($0, "queue")
	avail[k] = field($0, "avail_idx")
	used[k] = field($0, "used_idx")
	nring++
	next
}
/"type":"queue_stats"/ {
	k = num($0, "desc")
	if (!(k in name))
		next
	seen[k] = 1
	a = num($0, "avail_idx")
	u = num($0, "used_idx")
	f = num($0, "in_flight")
	ok = a == avail[k] && u == used[k] && f == (a - u + 65536) % 65536
	printf "E2E-RINGS %s: %s: gma-trace avail %d used %d in_flight %d, guest memory avail %d used %d%s\n", \
		who, name[k], a, u, f, avail[k], used[k], ok ? "" : "  <- differs"
	if (!ok)
		bad++
}
END {
	if (!nring) {
		print "E2E-RINGS " who ": bad: QEMU listed no queue set up by the driver"
		exit 1
	}
	for (k in name)
		if (!(k in seen)) {
			print "E2E-RINGS " who ": bad: " name[k] " is missing from gma-trace's queue_stats"
			bad++
		}
	print "E2E-RINGS " who ": " (bad ? "FAIL" : "ok") ": " nring " queues compared with guest memory"
	exit bad ? 1 : 0
}

# Checks gma-trace's JSON lines (rings --json --completions) of the nested guest against its
# workload (tools/vmtest/guest-init): every chain on a virtio-blk queue decodes as a well-formed
# request with no anomaly, the OUT requests are exactly the guest's 4 KiB direct writes, the IN
# requests carry at least the bytes it read, no record was lost.
#
# awk -v write_count=N -v read_bytes=N -f check-blk.awk TRACE.jsonl
# Prints one "E2E-CHECK ..." line per finding and a verdict; exits 0 when all hold.

function str(line, key,    m) {
	if (!match(line, "\"" key "\":\"[^\"]*\""))
		return ""
	m = substr(line, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
	return m
}
function num(line, key) {
	if (!match(line, "\"" key "\":[0-9]+"))
		return -1
	return substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
}
function bad(msg) {
	nbad++
	if (nbad <= 20)
		print "E2E-CHECK bad: " msg
}

/"type":"chain"/ {
	dev = str($0, "device")
	chains[dev]++
	if (dev != "virtio-blk")
		next
	blk++
	s = str($0, "summary")
	if ($0 !~ /"anomalies":\[\]/)
		bad("chain with anomalies: " $0)
	# Linux sets an I/O priority class in the header: "... ioprio 16388" may follow
	if (s ~ /^(IN|OUT) sector [0-9]+ len [0-9]+( ioprio [0-9]+)?$/) {
		split(s, w, " ")
		bytes[w[1]] += w[5]
		reqs[w[1]]++
		if (w[1] == "OUT" && w[5] == 4096)
			out4k++
		if (w[1] == "IN" && w[5] == 65536)
			in64k++
	} else if (s ~ /^(FLUSH|GET_ID|GET_LIFETIME|DISCARD|WRITE_ZEROES|SECURE_ERASE)( |$)/) {
		split(s, w, " ")
		reqs[w[1]]++
	} else {
		bad("chain does not decode as a virtio-blk request: \"" s "\"")
	}
	next
}
/"type":"completion"/ { completions++; next }
# the blk queue stuck once guest-e2e.sh stalls the disk on purpose: expected, counted
/"type":"anomaly"/ && /"device_id":2,/ && /"address":"[^"]*","queue":0,"anomalies":\[\{"name":"stuck","reason":"[^"]*"\}\]/ {
	stuck++
	next
}
/"type":"anomaly"/ { bad("anomaly event: " $0); next }
/"type":"queue"/ { queues++; next }
/"type":"summary"/ {
	summary = 1
	if (num($0, "drops") != 0)
		bad("records dropped: " $0)
	if (num($0, "bad_records") != 0)
		bad("bad records: " $0)
	next
}

END {
	for (d in chains)
		print "E2E-CHECK chains " d " " chains[d]
	for (r in reqs)
		print "E2E-CHECK blk " r " requests " reqs[r] (r == "IN" || r == "OUT" ? " bytes " bytes[r] : "")
	print "E2E-CHECK queues " queues + 0 " completions " completions + 0 " stuck " stuck + 0
	if (!summary)
		bad("no summary line (gma-trace did not finish)")
	if (blk == 0)
		bad("no virtio-blk chain traced")
	if (out4k != write_count || bytes["OUT"] != write_count * 4096)
		bad("OUT: " out4k + 0 " requests of 4096 bytes, " bytes["OUT"] + 0 " bytes; the guest wrote " \
		    write_count " x 4096")
	if (bytes["IN"] < read_bytes || in64k < read_bytes / 65536)
		bad("IN: " bytes["IN"] + 0 " bytes, " in64k + 0 " requests of 65536; the guest read " \
		    read_bytes " bytes in 64 KiB requests")
	if (nbad) {
		print "E2E-CHECK FAIL " nbad " finding(s)"
		exit 1
	}
	print "E2E-CHECK ok"
}

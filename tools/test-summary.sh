#!/usr/bin/env bash
# The last lines of `make test`: what ran, what was skipped, and the verdict.
#
# Usage: tools/test-summary.sh LEDGER
# LEDGER has one line per test binary or suite, appended as they ran:
#   CRITERION <binary> tests=N passed=P failed=F skipped=S rc=RC   (tests/run-criterion.sh)
#   VMTEST <kernel> criterion-tests=N skipped=S                     (tools/vmtest/run.sh)
#   SKIP <what> <reason>                                            (a skip the caller named)
# Exit status: 1 when a line records a failure or a skipped test, when the ledger is missing
# (nothing was counted: the summary would be a guess), or when a named skip is there under
# CI=true (CI never asks for one); else 0.
set -euo pipefail
ledger=${1:?usage: $0 LEDGER}
if [ ! -s "$ledger" ]; then
	echo "make test: no test recorded in $ledger: nothing can be said to have passed" >&2
	exit 1
fi
awk -v ci="${CI:-}" '
function val(key,   i) {
	for (i = 3; i <= NF; i++)
		if (index($i, key "=") == 1)
			return substr($i, length(key) + 2) + 0
	return 0
}
$1 == "CRITERION" {
	bins++; tests += val("tests"); skipped += val("skipped")
	if (val("rc") != 0 || val("failed") != 0) failed = failed " " $2
	if (val("skipped") != 0) skippers = skippers " " $2
}
$1 == "VMTEST" {
	vms++; vm_tests += val("criterion-tests"); skipped += val("skipped")
	if (val("skipped") != 0) skippers = skippers " vmtest[" $2 "]"
}
$1 == "SKIP" { named[++nnamed] = substr($0, 6); if ($2 == "vmtest") vm_skipped = 1 }
END {
	printf "make test: %d Criterion binaries, %d tests on the host", bins, tests
	if (vms) printf ", %d in %d VM kernels", vm_tests, vms
	printf "; %d skipped\n", skipped
	for (i = 1; i <= nnamed; i++) printf "make test: SKIPPED by request: %s\n", named[i]
	if (failed != "") { printf "make test: FAILED:%s\n", failed; exit 1 }
	if (!vms && !vm_skipped) {
		print "make test: FAILED: vmtest left no record (no VM kernel reported its tests)"
		exit 1
	}
	if (skipped) { printf "make test: FAILED: tests skipped in%s\n", skippers; exit 1 }
	if (nnamed && ci == "true") {
		print "make test: FAILED: CI=true and a part was skipped by request (CI runs everything)"
		exit 1
	}
	if (nnamed) { print "make test: all tests that ran passed; the skipped parts above did not run"; exit 0 }
	print "make test: all tests passed"
}' "$ledger"

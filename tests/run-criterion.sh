#!/bin/sh
# Runs one Criterion test binary and judges it: its own exit status, and every test it skipped
# (cr_skip_test, .disabled) is a failure too, named. A skipped test checked nothing, and "all
# tests passed" must never include one. POSIX sh: the vmtest VM runs it under busybox.
#
# Usage: tests/run-criterion.sh BINARY [CRITERION-ARGS...]
# Prints Criterion's own output, then one line
#   CRITERION <name> tests=N passed=P failed=F skipped=S rc=RC
# and appends that line to $GMA_TEST_LEDGER when it is set (make test's summary reads it).
# Exit status: the binary's when it failed, 1 when it passed but skipped a test, else 0.
#
# The report comes from Criterion's TAP output (-Otap:FILE keeps the normal output too): one
# "ok"/"not ok" line per test, a skipped one marked "# SKIP reason".
[ $# -ge 1 ] || { echo "usage: $0 BINARY [ARGS...]" >&2; exit 2; }
bin=$1
shift
name=${bin##*/}
tap=$(mktemp "${TMPDIR:-/tmp}/criterion-$name.XXXXXX") || exit 1
trap 'rm -f "$tap" "$tap.out" "$tap.rc" "$tap.sel"' EXIT INT TERM

# With --filter, the tests left out are in the report as "# SKIP test was skipped" (as is a
# .disabled test, which a filtered run does not tell apart): not counted then.
unselected='^$'
for a; do
	case "$a" in --filter | --filter=*) unselected='# SKIP test was skipped$' ;; esac
done

# Criterion's own output is kept too: an assertion that fails in a suite's .init or .fini
# is printed but fails no test (the test is counted as passing), and must fail the binary.
out=$tap.out
{
	"$bin" -Otap:"$tap" "$@"
	echo $? >"$tap.rc"
} 2>&1 | tee "$out"
rc=$(cat "$tap.rc" 2>/dev/null) || rc=1
grep -v "$unselected" "$tap" >"$tap.sel"
mv "$tap.sel" "$tap"

total=$(grep -cE '^(not )?ok ' "$tap")
failed=$(grep -cE '^not ok ' "$tap")
skipped=$(grep -cE '^ok .*# SKIP' "$tap")
passed=$((total - failed - skipped))
if [ "$rc" = 0 ] && [ "$total" = 0 ]; then
	# a binary that ran no test (a filter that matched nothing, a TAP report not written)
	echo "$name: no test ran (a --filter that matched nothing, or no TAP report)" >&2
	rc=1
fi
# assertions failed beyond those of the failed tests (each failed test prints at least one)
asserts=$(grep -c 'Assertion Failed' "$out")
if [ "$rc" = 0 ] && [ "$asserts" -gt 0 ]; then
	echo "$name: $asserts assertion(s) failed outside a test's body (a suite's .init or" \
		".fini), which Criterion counts as passing: fix them (above)" >&2
	rc=1
fi
if [ "$skipped" != 0 ]; then
	grep -E '^ok .*# SKIP' "$tap" | sed -e 's/^ok - /SKIPPED: /' -e "s/^SKIPPED: /SKIPPED: $name: /" >&2
	echo "$name: $skipped test(s) skipped: a skipped test is a failed one (fix what it needs)" >&2
	[ "$rc" = 0 ] && rc=1
fi
line="CRITERION $name tests=$total passed=$passed failed=$failed skipped=$skipped rc=$rc"
echo "$line"
[ -n "${GMA_TEST_LEDGER:-}" ] && echo "$line" >>"$GMA_TEST_LEDGER"
exit "$rc"

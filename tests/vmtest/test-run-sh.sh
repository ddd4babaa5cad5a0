#!/usr/bin/env bash
# tools/vmtest/run.sh's checks before any VM: a QEMU that cannot run the VMs (missing and not
# installable, failing, without TCG), a run narrowed without VMTEST=partial, a VMTEST_ONLY that
# names no test, a named skip under CI=true: each fails with a message that says what and what
# to do; VMTEST=skip passes with its SKIPPED last line; a partial run's last line names what it
# left out. Fakes on PATH stand for QEMU, dpkg-query and apt; OUTPUT is a temporary directory
# with an empty kernel cache: no kernel is fetched, no VM boots, it takes seconds.
#
# Usage: tests/vmtest/test-run-sh.sh [RUN.SH]   (default: this tree's tools/vmtest/run.sh)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN_SH=${1:-$ROOT/tools/vmtest/run.sh}
T=$(mktemp -d "${TMPDIR:-/tmp}/test-run-sh.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
# The fake VM below builds a real initramfs (busybox-static, cpio, kmod's depmod): the packages
# run.sh itself installs first, which on a fresh machine this test runs before.
"$ROOT/tools/deps.sh" vmtest ||
	{ echo "test-run-sh: tools/deps.sh vmtest failed: the packages the VM tests need are missing" >&2; exit 1; }

fake() { # DIR NAME BODY: an executable shell script DIR/NAME
	mkdir -p "$T/$1"
	printf '#!/bin/sh\n%s\n' "$3" >"$T/$1/$2"
	chmod +x "$T/$1/$2"
}
# Every package "installed" (tools/deps.sh asks dpkg-query), apt unreachable: nothing is
# installed or fetched.
fake pkgs-ok dpkg-query "printf 'install ok installed'"
fake pkgs-ok apt-get "echo 'apt-get: fake: no network in this test' >&2; exit 100"
fake pkgs-ok apt-cache "echo 'apt-cache: fake: no network in this test' >&2; exit 100"
# No package installed, and apt-get cannot install one.
fake pkgs-none dpkg-query "exit 1"
fake pkgs-none apt-get "echo 'E: fake: Unable to locate package' >&2; exit 100"
fake pkgs-none apt-cache "exit 100"
# A QEMU that exits 1 whatever it is asked; one without TCG; one with TCG (that boots nothing).
fake qemu-fails qemu-system-x86_64 "echo 'qemu-system-x86_64: fake: cannot run here' >&2; exit 1"
fake qemu-notcg qemu-system-x86_64 'if [ "$*" = "-accel help" ]; then
	printf "Accelerators supported in QEMU binary:\nkvm\n"; exit 0; fi
echo "qemu-system-x86_64: fake: boots nothing" >&2; exit 1'
fake qemu-tcg qemu-system-x86_64 'if [ "$*" = "-accel help" ]; then
	printf "Accelerators supported in QEMU binary:\ntcg\nkvm\n"; exit 0; fi
echo "qemu-system-x86_64: fake: boots nothing" >&2; exit 1'
# A PATH without any QEMU: every command of /usr/bin and /usr/sbin but qemu-system-*.
mkdir -p "$T/no-qemu"
find /usr/bin /usr/sbin -maxdepth 1 ! -type d ! -name 'qemu-system-*' -exec ln -s -t "$T/no-qemu" {} + 2>/dev/null

# NAME WANT-STATUS PATTERN PATH-DIRS [VAR=VALUE...]: runs run.sh (a clean vmtest environment,
# the fakes' directories first on PATH), checks its exit status and that its output matches
# PATTERN (grep -E); "last:PATTERN" matches the last line only.
check() {
	local name=$1 want=$2 pat=$3 dirs=$4 path="" d out rc
	shift 4
	for d in $dirs; do
		case "$d" in
		/*) path+="$d:" ;;
		*) path+="$T/$d:" ;;
		esac
	done
	[ "${dirs##* }" = no-qemu ] || path+=$PATH
	path=${path%:}
	rm -rf "$T/out" "$T/ledger"
	out=$(env -u CI -u VMTEST -u VMTEST_ONLY -u VMTEST_KERNELS -u VMTEST_GUEST_E2E \
		-u VMTEST_REPEAT -u V PATH="$path" GMA_TEST_LEDGER="$T/ledger" "$@" \
		timeout 120 "$RUN_SH" "$T/out" 2>&1)
	rc=$?
	local ok=1 text=$out
	[ "$rc" = "$want" ] || ok=0
	case "$pat" in last:*) text=$(tail -n1 <<<"$out") pat=${pat#last:} ;; esac
	grep -qE -- "$pat" <<<"$text" || ok=0
	# the checks come before any kernel is fetched
	if grep -q 'VMTEST   ---- kernel' <<<"$out" && [ "${FETCH_OK:-0}" != 1 ]; then ok=0; fi
	if [ "$ok" = 1 ]; then
		passed=$((passed + 1))
		echo "ok     $name"
	else
		failed=$((failed + 1))
		echo "FAILED $name: exit $rc (want $want), output should match /$pat/${FETCH_OK:+ }:"
		sed 's/^/    | /' <<<"$out"
	fi
}
# NAME PATTERN: a line the last run wrote to make test's ledger (tools/test-summary.sh reads
# it); PATTERN "none": it wrote none (a failed run).
check_ledger() {
	if { [ "$2" = none ] && [ ! -s "$T/ledger" ]; } || grep -qE -- "$2" "$T/ledger" 2>/dev/null; then
		passed=$((passed + 1))
		echo "ok     $1"
	else
		failed=$((failed + 1))
		echo "FAILED $1: the ledger should match /$2/; it holds:"
		sed 's/^/    | /' "$T/ledger" 2>/dev/null
	fi
}

# --- QEMU cannot run the VMs: a failure, unless VMTEST=skip --------------------------------
check "a qemu-system-x86_64 that exits 1 fails" 1 \
	'qemu-system-x86_64 -accel help failed \(exit 1\): qemu-system-x86_64: fake: cannot run here.*VMTEST=skip' \
	"qemu-fails pkgs-ok"
check_ledger "  and it writes no line to make test's ledger" none
check "a qemu-system-x86_64 without TCG fails" 1 'has no TCG accelerator \(it lists: kvm \).*VMTEST=skip' \
	"qemu-notcg pkgs-ok"
check "no qemu-system-x86_64, and tools/deps.sh cannot install it, fails" 1 \
	'qemu-system-x86_64 is not installed and tools/deps.sh vmtest could not install it.*qemu-system-x86' \
	"pkgs-none no-qemu"
check "VMTEST=skip passes, and says so on its last line" 0 \
	'last:^vmtest: SKIPPED \(VMTEST=skip\): nothing was tested in VMs$' "qemu-fails pkgs-ok" VMTEST=skip
check_ledger "  and make test's ledger lists it as a named skip" '^SKIP vmtest VMTEST=skip: nothing was tested in VMs$'
check "VMTEST=skip fails under CI=true" 1 'VMTEST=skip under CI=true' "qemu-fails pkgs-ok" \
	VMTEST=skip CI=true
check "an unknown VMTEST fails" 1 'VMTEST=sometimes is none of' "qemu-tcg pkgs-ok" VMTEST=sometimes

# --- VMTEST_ONLY -----------------------------------------------------------------------------
check "VMTEST_ONLY=no-such-test fails" 1 'VMTEST_ONLY names no test: no-such-test\. The tests: bare-host ' \
	"qemu-tcg pkgs-ok" VMTEST_ONLY=no-such-test
check "VMTEST_ONLY=no-such-test fails with VMTEST=partial" 1 'VMTEST_ONLY names no test: no-such-test' \
	"qemu-tcg pkgs-ok" VMTEST_ONLY=no-such-test VMTEST=partial
check "VMTEST_ONLY=no-such-test fails with VMTEST=skip" 1 'VMTEST_ONLY names no test: no-such-test' \
	"qemu-tcg pkgs-ok" VMTEST_ONLY=no-such-test VMTEST=skip
check "VMTEST_ONLY with one test that is not one fails" 1 'VMTEST_ONLY names no test: test_nope\.' \
	"qemu-tcg pkgs-ok" "VMTEST_ONLY=test_vring_walk_bpf test_nope" VMTEST=partial
check "VMTEST_ONLY=guest-e2e-q35 with VMTEST_GUEST_E2E=0 fails" 1 \
	'names no test: guest-e2e-q35 \(VMTEST_GUEST_E2E=0 leaves out' \
	"qemu-tcg pkgs-ok" VMTEST_ONLY=guest-e2e-q35 VMTEST_GUEST_E2E=0 VMTEST=partial

# --- a narrowed run needs VMTEST=partial, and not under CI ---------------------------------
check "VMTEST_ONLY without VMTEST=partial fails" 1 \
	'leaves out .*tests bare-host .*accepted only by name: VMTEST=partial' \
	"qemu-tcg pkgs-ok" VMTEST_ONLY=test_vring_walk_bpf
check "VMTEST_GUEST_E2E=0 without VMTEST=partial fails" 1 \
	'leaves out tests guest-e2e-microvm guest-e2e-q35\. .*VMTEST=partial' "qemu-tcg pkgs-ok" VMTEST_GUEST_E2E=0
check "VMTEST_KERNELS=6.1 without VMTEST=partial fails" 1 'leaves out kernels 6\.12\. .*VMTEST=partial' \
	"qemu-tcg pkgs-ok" VMTEST_KERNELS=6.1
check "VMTEST=partial fails under CI=true" 1 'VMTEST=partial under CI=true .*leaves out kernels 6\.12' \
	"qemu-tcg pkgs-ok" VMTEST_KERNELS=6.1 VMTEST=partial CI=true
check "VMTEST=partial does not excuse a QEMU that fails" 1 '-accel help failed' \
	"qemu-fails pkgs-ok" VMTEST_KERNELS=6.1 VMTEST=partial
# past the checks: the kernel cannot be fetched (apt fails, the cache is empty), and the last
# line still names what this partial run left out
FETCH_OK=1 check "a partial run names what it left out on its last line" 1 \
	'last:^vmtest: PARTIAL \(VMTEST=partial\): not run: kernels 6\.12; tests bare-host guest-e2e-microvm guest-e2e-q35 .* test_vring_walk$' \
	"qemu-tcg pkgs-ok" VMTEST_KERNELS=6.1 VMTEST_ONLY=test_vring_walk_bpf VMTEST=partial
check_ledger "  and it writes no line to make test's ledger" none
FETCH_OK=1 check "  and the kernel it could not fetch is a failure" 1 \
	'vmtest: FAILED: \[6\.1\] no kernel package' \
	"qemu-tcg pkgs-ok" VMTEST_KERNELS=6.1 VMTEST_ONLY=test_vring_walk_bpf VMTEST=partial

# --- the verdict of a VM's console -----------------------------------------------------------
# A fake kernel package in the cache (apt fails), fake test binaries, and a QEMU that checks
# the initramfs holds what the VM's tests need (run-criterion.sh, the fuzz corpus), then writes
# a made-up console: the table counts Criterion's tests and the corpus inputs; a skipped test,
# a binary that passed without counting its tests, a corpus not compared in full, each fails.
kver=6.1.0-99-amd64
mkdir -p "$T/deb/DEBIAN" "$T/deb/boot" "$T/deb/lib/modules/$kver" "$T/vm-out/tests" "$T/vm-out/vmtest/cache"
printf 'Package: linux-image-%s\nVersion: 6.1.99-1\nArchitecture: amd64\nMaintainer: test\nDescription: fake\n' \
	"$kver" >"$T/deb/DEBIAN/control"
echo "not a kernel" >"$T/deb/boot/vmlinuz-$kver"
echo "CONFIG_VIRTIO=m" >"$T/deb/boot/config-$kver"
dpkg-deb --build -Znone "$T/deb" "$T/vm-out/vmtest/cache/linux-image-${kver}_6.1.99-1_amd64.deb" >/dev/null
for src in "$ROOT"/tests/unit/test_*.c "$ROOT"/tests/bpf/test_*.c; do
	printf '#!/bin/sh\nexit 0\n' >"$T/vm-out/tests/$(basename "$src" .c)"
done
for b in gma-trace demo-vmm demo-guest.bin; do printf '#!/bin/sh\nexit 0\n' >"$T/vm-out/$b"; done
chmod +x "$T/vm-out/tests/"* "$T/vm-out/gma-trace" "$T/vm-out/demo-vmm"
corpus=$(find "$ROOT/tests/fuzz/corpus/ring" -maxdepth 1 -type f ! -name '.*' | wc -l)
fake qemu-vm qemu-system-x86_64 'if [ "$*" = "-accel help" ]; then
	printf "Accelerators supported in QEMU binary:\ntcg\n"; exit 0; fi
log= initrd=
while [ $# -gt 0 ]; do
	case "$1" in
	-serial) [ -z "$log" ] && log=${2#file:}; shift ;;
	-initrd) initrd=$2; shift ;;
	esac
	shift
done
files=$(cpio -it --quiet <"$initrd")
for f in gma/tests/run-criterion.sh gma/tests/fuzz/corpus/ring/'"$(ls "$ROOT/tests/fuzz/corpus/ring" | head -n1)"'; do
	echo "$files" | grep -qx "$f" || { echo "fake qemu: the initramfs lacks $f"; exit 1; }
done
cat "$FAKE_CONSOLE" >"$log"'
# the console of a VM that ran test_core and test_vring_walk_bpf: CORE-LINES VRING-LINES
console() {
	printf '%s\n' "VMTEST-KERNEL $kver" "VMTEST-KVM ok" "==== test_core" "$1" "VMTEST-TIME test_core 1" \
		"==== test_vring_walk_bpf" "$2" "VMTEST-TIME test_vring_walk_bpf 2" \
		"VMTEST-DMESG ok" "VMTEST-DONE" >"$T/console.txt"
}
# Runs run.sh on the fake VM (its console: console.txt): VM_OUT, VM_RC.
run_vm() {
	rm -f "$T/ledger"
	VM_OUT=$(env -u CI -u VMTEST_REPEAT -u V PATH="$T/qemu-vm:$T/pkgs-ok:$PATH" VMTEST_GUEST_E2E=0 \
		VMTEST=partial VMTEST_KERNELS=6.1 VMTEST_ONLY="test_core test_vring_walk_bpf" \
		VMTEST_VM_MODULES=" " VMTEST_JOBS=1 FAKE_CONSOLE="$T/console.txt" GMA_TEST_LEDGER="$T/ledger" \
		timeout 120 "$RUN_SH" "$T/vm-out" 2>&1)
	VM_RC=$?
}
expect_vm() { # NAME WANT-STATUS PATTERN: of the last run_vm
	if [ "$VM_RC" = "$2" ] && grep -qE -- "$3" <<<"$VM_OUT"; then
		passed=$((passed + 1))
		echo "ok     $1"
	else
		failed=$((failed + 1))
		echo "FAILED $1: exit $VM_RC (want $2), output should match /$3/:"
		sed 's/^/    | /' <<<"$VM_OUT"
	fi
}
console "$(printf '%s\n' "CRITERION test_core tests=5 passed=5 failed=0 skipped=0 rc=0" "VMTEST-RESULT test_core 0")" \
	"$(printf '%s\n' "VRING-WALK-CORPUS inputs=$corpus rings=$corpus chains=200 anomalies=1 cut=0 dir=x" \
		"CRITERION test_vring_walk_bpf tests=2 passed=2 failed=0 skipped=0 rc=0" \
		"VMTEST-RESULT test_vring_walk_bpf 0")"
run_vm
expect_vm "a VM whose tests all passed: the table counts Criterion's tests" 0 \
	'\(criterion tests\) +7 in 2 binaries'
expect_vm "  and the corpus inputs compared" 0 "\\(corpus inputs\\) +$corpus compared"
expect_vm "  and ends as a partial run" 0 'vmtest: all that ran passed'
check_ledger "  and make test's ledger has the kernel's counts" '^VMTEST 6\.1 criterion-tests=7 skipped=0$'
check_ledger "  and lists what it left out as a named skip" '^SKIP vmtest VMTEST=partial: not run: kernels 6\.12; tests bare-host '
console "$(printf '%s\n' "SKIPPED: test_core: core::a_test # SKIP needs a thing" \
	"CRITERION test_core tests=5 passed=4 failed=0 skipped=1 rc=1" "VMTEST-RESULT test_core 1")" \
	"$(printf '%s\n' "VRING-WALK-CORPUS inputs=3 rings=3 chains=200 anomalies=1 cut=0 dir=x" \
		"VMTEST-RESULT test_vring_walk_bpf 0")"
run_vm
expect_vm "a skipped test fails, named" 1 \
	'vmtest: FAILED: \[6\.1\] a skipped test is a failed one: SKIPPED: test_core: core::a_test # SKIP needs a thing'
expect_vm "  and the table says so" 1 '\(criterion tests\) +5, 1 SKIPPED'
expect_vm "a binary that passed without its CRITERION line fails" 1 \
	'vmtest: FAILED: \[6\.1\] test_vring_walk_bpf: exit 0 but no CRITERION line'
expect_vm "a corpus not compared in full fails" 1 \
	"vmtest: FAILED: \\[6\\.1\\] test_vring_walk_bpf compared 3 fuzz corpus inputs, tests/fuzz/corpus/ring has $corpus"
console "$(printf '%s\n' "CRITERION test_core tests=5 passed=5 failed=0 skipped=0 rc=0" "VMTEST-RESULT test_core 0")" \
	"$(printf '%s\n' "CRITERION test_vring_walk_bpf tests=2 passed=2 failed=0 skipped=0 rc=0" \
		"VMTEST-RESULT test_vring_walk_bpf 0")"
run_vm
expect_vm "a corpus comparison that did not run fails" 1 \
	'test_vring_walk_bpf printed no VRING-WALK-CORPUS line: its fuzz corpus comparison did not run'

echo "test-run-sh: $passed passed, $failed failed"
[ "$failed" = 0 ]

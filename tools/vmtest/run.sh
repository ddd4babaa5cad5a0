#!/usr/bin/env bash
# `make vmtest`: the tests inside a VM running a second kernel, Debian 12's 6.1 with KVM as
# modules. Fetches (and caches) the kernel package, builds the initramfs
# (build-initramfs.sh), boots it in QEMU with TCG under a watchdog, and checks the result line
# of every test binary and the kernel log the VM's /init (tools/vmtest/init) prints.
#
# Usage: tools/vmtest/run.sh [OUTPUT]     (from the repository root; OUTPUT defaults to build)
# Settings: tools/vmtest/config (each overridable from the environment). V=1 streams the whole
# console; otherwise only the VMTEST- lines are shown live and the console is in
# OUTPUT/vmtest/console.log.
#
# Exit status: 0 all passed (or "vmtest skipped: REASON" where QEMU cannot run on this machine
# at all), 1 a test failed, a result line is missing, the kernel log has errors, the watchdog
# fired, or the VM could not be prepared.
set -euo pipefail

OUTPUT=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../.."
# shellcheck source=tools/vmtest/config
. "$HERE/config"
VMDIR=$OUTPUT/vmtest
CACHE=$VMDIR/cache
LOG=$VMDIR/console.log
mkdir -p "$CACHE"

skip() {
	echo "vmtest skipped: $*"
	exit 0
}
die() {
	echo "vmtest: $*" >&2
	exit 1
}

# --- packages ------------------------------------------------------------------------------
if ! tools/deps.sh vmtest; then
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 is not installed and could not be installed (tools/deps.sh vmtest)"
	die "tools/deps.sh vmtest failed"
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg ||
	skip "qemu-system-x86_64 has no TCG accelerator"

# The newest of the files named (a glob), or nothing: never a failure, which set -e and
# pipefail would turn into a silent exit on the first run, when the cache is empty.
newest() {
	ls "$@" 2>/dev/null | sort -V | tail -n1 || true
}

# --- kernel --------------------------------------------------------------------------------
# The newest Debian 12 6.1 image apt knows, or the newest cached one when apt cannot help
# (offline, another release).
pkg=$VMTEST_KERNEL_PKG
if [ -z "$pkg" ]; then
	pkg=$(apt-cache search --names-only "$VMTEST_KERNEL_PATTERN" 2>/dev/null | awk '{ print $1 }' |
		sort -V | tail -n1)
fi
deb=
if [ -n "$pkg" ]; then
	deb=$(newest "$CACHE/${pkg}"_*_amd64.deb)
	if [ -z "$deb" ]; then
		echo "  VMTEST   apt-get download $pkg"
		# run as root, apt-get cannot drop to _apt for a directory _apt cannot write
		if (cd "$CACHE" && apt-get -q -o APT::Sandbox::User=root download "$pkg") \
			>"$CACHE/download.log" 2>&1; then
			deb=$(newest "$CACHE/${pkg}"_*_amd64.deb)
		else
			echo "vmtest: apt-get download $pkg failed:" >&2
			tail -5 "$CACHE/download.log" >&2
		fi
	fi
fi
if [ -z "$deb" ]; then
	deb=$(newest "$CACHE"/linux-image-*_amd64.deb)
	[ -n "$deb" ] || die "no Debian 6.1 kernel package: none matching $VMTEST_KERNEL_PATTERN in apt, none cached in $CACHE"
	pkg=$(basename "$deb" | cut -d_ -f1)
	echo "  VMTEST   using cached $deb"
fi
KROOT=$CACHE/$(basename "$deb" .deb)
if [ ! -e "$KROOT/.unpacked" ]; then
	rm -rf "$KROOT"
	dpkg-deb -x "$deb" "$KROOT"
	KVER=$(ls "$KROOT/lib/modules" | head -n1)
	depmod -b "$KROOT" "$KVER"
	touch "$KROOT/.unpacked"
fi
KVER=$(ls "$KROOT/lib/modules" | head -n1)
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "$deb has no /boot/vmlinuz-$KVER"
echo "  VMTEST   kernel $pkg ($(basename "$deb" | cut -d_ -f2)), $KVER"

# --- initramfs -----------------------------------------------------------------------------
INITRD=$VMDIR/initramfs.cpio
"$HERE/build-initramfs.sh" "$OUTPUT" "$KROOT" "$KVER" "$INITRD"

# --- boot ----------------------------------------------------------------------------------
QEMU_ARGS=(-accel tcg,thread=multi -cpu max -m "$VMTEST_MEM" -smp "$VMTEST_SMP"
	-nodefaults -nographic -serial stdio -no-reboot
	-kernel "$VMLINUZ" -initrd "$INITRD"
	-append "$VMTEST_CMDLINE vmtest.timeout=$VMTEST_TEST_TIMEOUT")
echo "  VMTEST   qemu-system-x86_64 ${QEMU_ARGS[*]}"
echo "  VMTEST   watchdog ${VMTEST_TIMEOUT}s; console in $LOG"
start=$(date +%s)
set +e
if [ "${V:-0}" = 1 ]; then
	timeout -k 10 "$VMTEST_TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" </dev/null 2>&1 | tee "$LOG"
	status=(${PIPESTATUS[@]})
else
	timeout -k 10 "$VMTEST_TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" </dev/null 2>&1 | tee "$LOG" |
		awk '{ sub(/\r$/, "") } /^VMTEST-FILE-BEGIN/ { skip = 1 }
			/^VMTEST-FILE-END/ { skip = 0; next }
			!skip && /^(VMTEST-|==== |E2E-)/ { print "  " $0; fflush() }'
	status=(${PIPESTATUS[@]})
fi
set -e
qemu_rc=${status[0]}
elapsed=$(($(date +%s) - start))

# --- verdict -------------------------------------------------------------------------------
tr -d '\r' <"$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
# files the VM printed between VMTEST-FILE-BEGIN NAME / VMTEST-FILE-END NAME
awk -v dir="$VMDIR" '/^VMTEST-FILE-BEGIN / { f = dir "/" $2; printf "" >f; next }
	/^VMTEST-FILE-END / { close(f); f = ""; next }
	f != "" { print >>f }' "$LOG"
failed=()
summary=()
while read -r kind t; do
	line=$(grep -m1 "^VMTEST-RESULT $t " "$LOG" || true)
	secs=$(grep -m1 "^VMTEST-TIME $t " "$LOG" | awk '{ print $3 }' || true)
	if [ -z "$line" ]; then
		summary+=("$(printf '  %-22s %-5s %s' "$t" "$kind" "MISSING (no result line)")")
		failed+=("$t: no result line")
	else
		rc=${line##* }
		# Criterion's Synthesis line of this binary, if any
		synth=$(awk -v t="$t" '$0 == "==== " t { on = 1; next } /^==== / { on = 0 }
			on && /Synthesis:/ { sub(/.*Synthesis: /, ""); print; exit }' "$LOG")
		if [ "$rc" = 0 ]; then
			summary+=("$(printf '  %-22s %-5s ok   %4ss  %s' "$t" "$kind" "$secs" "$synth")")
		else
			summary+=("$(printf '  %-22s %-5s FAIL %4ss  exit %s  %s' "$t" "$kind" "$secs" "$rc" "$synth")")
			failed+=("$t: exit $rc")
		fi
	fi
done <"$VMDIR/initramfs.d/etc/vmtest/tests"
grep -q '^VMTEST-KVM ok' "$LOG" || failed+=("/dev/kvm missing in the VM (kvm modules did not load)")
grep '^VMTEST-MODULE ' "$LOG" | awk '$3 != 0' | while read -r _ m rc; do echo "$m $rc"; done \
	>"$VMDIR/module-failures" || true
[ -s "$VMDIR/module-failures" ] && failed+=("insmod failed: $(tr '\n' ' ' <"$VMDIR/module-failures")")
if grep -q '^VMTEST-DMESG ok' "$LOG"; then
	:
elif grep -q '^VMTEST-DMESG fail' "$LOG"; then
	failed+=("kernel log has errors (VMTEST-DMESG-LINE lines)")
else
	failed+=("no kernel log check (VM stopped early)")
fi
[ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ] && failed+=("watchdog fired after ${VMTEST_TIMEOUT}s")
[ "$qemu_rc" != 0 ] && [ "$qemu_rc" != 124 ] && [ "$qemu_rc" != 137 ] &&
	failed+=("qemu-system-x86_64 exited with status $qemu_rc")
grep -q '^VMTEST-DONE' "$LOG" || failed+=("the VM did not finish its run (no VMTEST-DONE)")

echo
echo "vmtest: $(grep -m1 '^VMTEST-KERNEL' "$LOG" | cut -d' ' -f2- || echo '?') ($pkg)," \
	"initramfs $(du -h "$INITRD" | cut -f1), ${elapsed}s"
printf '%s\n' "${summary[@]}"
grep -E '^E2E-(BASELINE|TRACED) [a-z]|^E2E-CHECK (ok|FAIL|chains|blk)|^E2E-TRACED error' "$LOG" | sed 's/^/  /' || true
grep '^VMTEST-DMESG-LINE' "$LOG" | sed 's/^VMTEST-DMESG-LINE /  dmesg: /' || true
if [ ${#failed[@]} -gt 0 ]; then
	if [ "${V:-0}" != 1 ]; then
		echo
		echo "---- last 150 lines of $LOG ----"
		tail -n 150 "$LOG"
		echo "---- end of console ----"
	fi
	echo
	printf 'vmtest: FAILED: %s\n' "${failed[@]}"
	exit 1
fi
echo "vmtest: all passed"

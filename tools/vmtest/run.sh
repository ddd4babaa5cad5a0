#!/usr/bin/env bash
# `make vmtest`: the tests inside VMs running other kernels than the host's, one VM per kernel of
# VMTEST_KERNELS (Debian 12's 6.1 and Debian 12 backports' 6.12, KVM as modules, no VirtIO
# module: a bare-metal KVM host), VMTEST_JOBS of them at once. For each: fetches (and caches)
# the kernel package, builds its initramfs (build-initramfs.sh), boots it in QEMU with TCG and
# follows the console live; the VM's /init (tools/vmtest/init) prints a start and a result line
# per test. At the end, a table of tests x kernels.
#
# A VM that stops responding (a test past its limit with no result line, nothing on the console
# nor the heartbeat port for VMTEST_SILENCE seconds, or the whole-run watchdog) is examined from
# outside before it is killed: QEMU's threads on the host, each vCPU's registers and kernel
# stack words resolved to symbols (QEMU monitor), the guest's jiffies, SysRq l/w/t through the
# emulated keyboard. The report is printed and kept in OUTPUT/vmtest/KERNEL/hang-report.txt.
#
# Each Criterion binary runs in the VM through tests/run-criterion.sh: the table counts the
# Criterion tests that ran per kernel, and a skipped test is a failure, named. The count of
# fuzz corpus inputs test_vring_walk_bpf compared is shown per kernel, and checked against the
# corpus in the tree.
#
# Usage: tools/vmtest/run.sh [OUTPUT]     (from the repository root; OUTPUT defaults to build)
# Settings: tools/vmtest/config (each overridable from the environment). V=1 streams the whole
# console; otherwise only the VMTEST- lines are shown live and the console is in
# OUTPUT/vmtest/KERNEL/console.log.
#
# Nothing is left out unless the caller asks for it by name (config: VMTEST):
#   VMTEST=skip     no VM: exit 0, the last line "vmtest: SKIPPED (VMTEST=skip): nothing was
#                   tested in VMs".
#   VMTEST=partial  accepts a run narrowed by VMTEST_ONLY, VMTEST_GUEST_E2E=0, or a
#                   VMTEST_KERNELS without one of VMTEST_KERNELS_DEFAULT; its last line names
#                   the tests and kernels not run.
# Without it, a narrowed run fails before it starts, and so does a machine where QEMU with TCG
# is missing (after tools/deps.sh vmtest tried to install it) or does not run. Under CI=true
# both named skips fail. A VMTEST_ONLY naming no test always fails. These checks come before
# any kernel is fetched (tests/vmtest/test-run-sh.sh tests them in seconds).
# With GMA_TEST_LEDGER set (make test), the lines tools/test-summary.sh reads are appended to
# that file when the run passes: "VMTEST <kernel> criterion-tests=N skipped=S" per kernel, and
# "SKIP vmtest <what was not run>" for a named skip (VMTEST=skip, a partial run).
#
# Exit status: 0 all passed (or VMTEST=skip, or VMTEST=partial and all that ran passed), 1 a
# test failed, was skipped or hung, a result line is missing, a kernel log has errors, a kernel
# could not be fetched, a VM could not be prepared, QEMU cannot run, or a run was narrowed
# without VMTEST=partial.
set -euo pipefail

OUTPUT=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../.."
# shellcheck source=tools/vmtest/config
. "$HERE/config"
# shellcheck source=tools/vmtest/tests.sh
. "$HERE/tests.sh"
VMDIR=$OUTPUT/vmtest
CACHE=$VMDIR/cache

# A line of make test's ledger (tools/test-summary.sh), when there is one. A failed run adds
# none: its exit status fails make test.
ledger() {
	[ -z "${GMA_TEST_LEDGER:-}" ] || echo "$*" >>"$GMA_TEST_LEDGER"
}
die() {
	echo "vmtest: $*" >&2
	exit 1
}

# --- what this run leaves out: nothing unless asked by name ---------------------------------
case "$VMTEST" in
"" | partial | skip) ;;
*) die "VMTEST=$VMTEST is none of: empty (the whole run), partial (a run narrowed by" \
	"VMTEST_ONLY, VMTEST_GUEST_E2E=0 or VMTEST_KERNELS), skip (no VM at all)" ;;
esac
case "$VMTEST_GUEST_E2E" in 0 | 1) ;; *) die "VMTEST_GUEST_E2E=$VMTEST_GUEST_E2E is neither 0 nor 1" ;; esac
[[ "$VMTEST_REPEAT" =~ ^[1-9][0-9]{0,2}$ ]] || die "VMTEST_REPEAT=$VMTEST_REPEAT is not a number from 1 to 999"
in_ci=0
[ "${CI:-}" = true ] && in_ci=1
unknown=$(vmtest_unknown_tests)
if [ -n "$unknown" ]; then
	hint=
	[ "$VMTEST_GUEST_E2E" = 1 ] || hint=" (VMTEST_GUEST_E2E=0 leaves out guest-e2e-microvm and guest-e2e-q35)"
	die "VMTEST_ONLY names no test: ${unknown% }$hint. The tests:" \
		"$(vmtest_all_tests | awk '{ printf "%s ", $2 }')"
fi
if [ "$VMTEST" = skip ]; then
	[ "$in_ci" = 0 ] || die "VMTEST=skip under CI=true: CI must run the tests in the VMs (a green" \
		"CI without them proves nothing); unset VMTEST"
	ledger "SKIP vmtest VMTEST=skip: nothing was tested in VMs"
	echo "vmtest: SKIPPED (VMTEST=skip): nothing was tested in VMs"
	exit 0
fi
# The tests and kernels of the whole run that this one leaves out.
NOT_RUN_TESTS=$(comm -23 <(VMTEST_GUEST_E2E=1 vmtest_all_tests | awk '{ print $2 }' | sort -u) \
	<(vmtest_selected_tests | awk '{ sub(/#.*/, "", $2); print $2 }' | sort -u) | tr '\n' ' ')
NOT_RUN_KERNELS=
for k in $VMTEST_KERNELS_DEFAULT; do
	[[ " $VMTEST_KERNELS " == *" $k "* ]] || NOT_RUN_KERNELS+="$k "
done
NOT_RUN=
[ -z "$NOT_RUN_KERNELS" ] || NOT_RUN="kernels ${NOT_RUN_KERNELS% }"
[ -z "$NOT_RUN_TESTS" ] || NOT_RUN+="${NOT_RUN:+; }tests ${NOT_RUN_TESTS% }"
if [ -n "$NOT_RUN" ]; then
	why="VMTEST_ONLY='$VMTEST_ONLY' VMTEST_GUEST_E2E=$VMTEST_GUEST_E2E VMTEST_KERNELS='$VMTEST_KERNELS'"
	[ "$VMTEST" = partial ] || die "$why leaves out $NOT_RUN. A narrowed run is accepted only by" \
		"name: VMTEST=partial (its last line names what was not run); or unset those for the whole run"
	[ "$in_ci" = 0 ] || die "VMTEST=partial under CI=true ($why leaves out $NOT_RUN): CI must run" \
		"every test on every kernel; unset VMTEST, VMTEST_ONLY, VMTEST_GUEST_E2E, VMTEST_KERNELS"
fi
[ -n "${VMTEST_KERNELS// /}" ] || die "VMTEST_KERNELS names no kernel: nothing would run"

# --- packages ------------------------------------------------------------------------------
# QEMU with TCG runs the VMs: where it is missing (and tools/deps.sh cannot install it) or does
# not run, the VM tests cannot run, and that is a failure (VMTEST=skip says it by name).
deps_rc=0
tools/deps.sh vmtest || deps_rc=$?
if ! qemu=$(command -v qemu-system-x86_64); then
	how=
	[ "$deps_rc" = 0 ] || how=" and tools/deps.sh vmtest could not install it (exit $deps_rc, log /tmp/gma-deps.log)"
	die "qemu-system-x86_64 is not installed$how:" \
		"the VM tests need it. Install Debian's qemu-system-x86 (tools/deps.sh vmtest, as root)," \
		"or skip the VM tests by name: VMTEST=skip (not under CI)"
fi
[ "$deps_rc" = 0 ] || die "tools/deps.sh vmtest failed (exit $deps_rc, log /tmp/gma-deps.log): a" \
	"package the VMs need is missing (qemu-system-x86 seabios busybox-static cpio kmod xz-utils)"
accel_rc=0
accels=$(qemu-system-x86_64 -accel help 2>&1) || accel_rc=$?
[ "$accel_rc" = 0 ] || die "$qemu -accel help failed (exit $accel_rc): $(head -c 300 <<<"$accels" | tr '\n' ' ' | sed 's/ *$//')." \
	"This QEMU does not run here; reinstall Debian's qemu-system-x86, or skip the VM tests by" \
	"name: VMTEST=skip (not under CI)"
grep -qx tcg <<<"$accels" || die "$qemu has no TCG accelerator (it lists: $(grep -v ':' <<<"$accels" |
	tr '\n' ' ')): the VMs run under TCG. Install Debian's qemu-system-x86, or skip the VM tests by" \
	"name: VMTEST=skip (not under CI)"
mkdir -p "$CACHE"

# The newest of the files named (a glob), or nothing: never a failure, which set -e and
# pipefail would turn into a silent exit on the first run, when the cache is empty.
newest() {
	ls "$@" 2>/dev/null | sort -V | tail -n1 || true
}

# --- kernels -------------------------------------------------------------------------------
# The apt suite of kernel VERSION (VMTEST_KERNEL_SUITES), empty for the system's sources.
suite_of() {
	local kv
	for kv in $VMTEST_KERNEL_SUITES; do
		[ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }
	done
	return 0
}

# Package names of kernel VERSION: linux-image-6.1.0-NN-amd64 (Debian 12),
# linux-image-6.12.NN+deb12[.N]-amd64 (backports); not the -rt, -cloud, -unsigned, -dbg ones.
pattern_of() {
	echo "^linux-image-${1//./\\.}(\\.0-[0-9]+|\\.[0-9][^-]*)-amd64\$"
}

# The Debian mirror the system's apt uses (reused for the suites it does not list).
mirror() {
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ || /^deb / { for (i = 2; i <= NF; i++)
			if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }') || true
	echo "${m:-http://deb.debian.org/debian}"
}

# Fetches kernel VERSION: sets PKG and DEB, or FETCH_ERR and fails. apt first (through a
# private state for a suite of VMTEST_KERNEL_SUITES: its own sources file, lists and cache
# under OUTPUT/vmtest/apt/SUITE, refreshed once a day); the newest cached package of that
# version when apt cannot help (offline).
fetch_kernel() {
	local v=$1 suite pat a apt=()
	suite=$(suite_of "$v")
	pat=$(pattern_of "$v")
	PKG='' DEB='' FETCH_ERR=''
	if [ -n "$suite" ]; then
		a=$PWD/$VMDIR/apt/$suite
		mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) $suite main" \
			>"$a/sources.list"
		apt=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
			-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache")
		if [ -z "$(find "$a/updated" -mmin -1440 2>/dev/null)" ]; then
			echo "  VMTEST   apt-get update ($suite, private lists in $a)"
			if apt-get "${apt[@]}" -o APT::Sandbox::User=root -q update >"$a/update.log" 2>&1; then
				touch "$a/updated"
			else
				echo "vmtest: apt-get update ($suite) failed: $(tail -n1 "$a/update.log")" >&2
			fi
		fi
	fi
	PKG=$(apt-cache "${apt[@]}" search --names-only "$pat" 2>/dev/null | awk '{ print $1 }' |
		sort -V | tail -n1) || true
	if [ -n "$PKG" ]; then
		DEB=$(newest "$CACHE/${PKG}"_*_amd64.deb)
		if [ -z "$DEB" ]; then
			echo "  VMTEST   apt-get download $PKG"
			# run as root, apt-get cannot drop to _apt for a directory _apt cannot write
			if (cd "$CACHE" && apt-get "${apt[@]}" -o APT::Sandbox::User=root -q download "$PKG") \
				>"$CACHE/download-$v.log" 2>&1; then
				DEB=$(newest "$CACHE/${PKG}"_*_amd64.deb)
			else
				echo "vmtest: apt-get download $PKG failed:" >&2
				tail -5 "$CACHE/download-$v.log" >&2
			fi
		fi
	fi
	if [ -z "$DEB" ]; then
		DEB=$(ls "$CACHE"/linux-image-*_amd64.deb 2>/dev/null |
			awk -F/ -v pat="$pat" '{ n = $NF; sub(/_.*/, "", n) } n ~ pat' | sort -V | tail -n1) || true
		if [ -z "$DEB" ]; then
			FETCH_ERR="no kernel package $pat in apt${suite:+ ($suite)}, none cached in $CACHE"
			return 1
		fi
		PKG=$(basename "$DEB" | cut -d_ -f1)
		echo "  VMTEST   using cached $DEB"
	fi
}

# Unpacks DEB: sets KROOT (with modules.dep) and KVER.
unpack_kernel() {
	KROOT=$CACHE/$(basename "$DEB" .deb)
	if [ ! -e "$KROOT/.unpacked" ]; then
		rm -rf "$KROOT"
		dpkg-deb -x "$DEB" "$KROOT"
		KVER=$(ls "$KROOT/lib/modules" | head -n1)
		depmod -b "$KROOT" "$KVER"
		touch "$KROOT/.unpacked"
	fi
	KVER=$(ls "$KROOT/lib/modules" | head -n1)
}

# --- the QEMU monitor ----------------------------------------------------------------------
# A pipe chardev (KDIR/monitor.in, .out): no tool beyond bash. The answer of a command ends
# where QEMU rejects the marker command sent after it.
MON_SEQ=0
monitor() { # COMMAND -> its output
	local mark="vmtest_mark_$((++MON_SEQ))" start i
	start=$(stat -c %s "$KDIR/monitor.log")
	printf '%s\n%s\n' "$1" "$mark" >&"$MON_FD"
	for ((i = 0; i < 100; i++)); do
		grep -q "unknown command: '$mark'" "$KDIR/monitor.log" && break
		sleep 0.1
	done
	if [ "$i" = 100 ]; then
		echo "(no answer to '$1' in 10 s: QEMU's main loop is blocked)"
		return 1
	fi
	# the answer alone: not the echo of the commands (after the prompt, with cursor moves;
	# the first one starts where the previous prompt ended, mid-line)
	tail -c +$((start + 1)) "$KDIR/monitor.log" | tr -d '\r' |
		grep -v -e '^(qemu)' -e $'\x1b' -e "$mark" || true
}

# QEMU's threads on the host: state, what they wait on, CPU time used over 2 s.
qemu_threads() {
	local t
	declare -A cpu0
	for t in /proc/"$QPID"/task/*; do
		cpu0[$t]=$(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)
	done
	sleep 2
	for t in /proc/"$QPID"/task/*; do
		printf '  tid %-7s %-16s state %s  cpu %3s%% (2 s)  wchan %s\n' "${t##*/}" \
			"$(cat "$t/comm" 2>/dev/null)" "$(awk '{ print $3 }' "$t/stat" 2>/dev/null)" \
			"$((($(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0) - ${cpu0[$t]:-0}) / 2))" \
			"$(cat "$t/wchan" 2>/dev/null)"
	done
}

# Each vCPU from `info registers -a`: "CPU RIP RSP CPL HLT" lines.
vcpus() {
	awk '/^CPU#[0-9]+/ { cpu = substr($1, 5) }
		/^RSP=|[ ]RSP=/ { for (i = 1; i <= NF; i++) if ($i ~ /^RSP=/) rsp[cpu] = substr($i, 5) }
		/^RIP=/ { rip[cpu] = substr($1, 5)
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^CPL=/) cpl[cpu] = substr($i, 5)
				if ($i ~ /^HLT=/) hlt[cpu] = substr($i, 5)
			} }
		END { for (c in rip) print c, rip[c], rsp[c], cpl[c], hlt[c] }' | sort -n
}

# The kernel's text symbols (cached, or dumped by this boot) and the modules' of this boot.
hang_symbols() {
	local k=$SYMS
	[ -s "$k" ] || k=$KDIR/kallsyms.raw
	{
		tr -d '\r' <"$k" 2>/dev/null | grep -v -e '\[' -e '^#' || true
		tr -d '\r' <"$LOG" | awk '/^VMTEST-FILE-BEGIN kallsyms-modules.txt/ { on = 1; next }
			/^VMTEST-FILE-END/ { on = 0 } on'
	} | sort >"$KDIR/syms.txt"
	echo "-- symbols: $(wc -l <"$KDIR/syms.txt") (kernel: $k)"
}

symbolize() { # QUERIES-FILE [TEXT-ONLY]
	awk -v text_only="${2:-0}" -f "$HERE/symbolize.awk" "$KDIR/syms.txt" "$1"
}

# Evidence of a hung VM, taken from outside while QEMU still runs.
hang_report() { # REASON
	local c rip rsp cpl hlt j1 j2 off jaddr
	echo "==== vmtest hang report: kernel $KL ($KVER), $(date -u '+%F %T UTC')"
	echo "$1"
	echo "-- last heartbeat (uptime s, idle s, load avg): $(tail -n1 "$KDIR/heartbeat.log" 2>/dev/null)"
	echo "-- last 25 console lines"
	tail -n 25 "$LOG" | tr -d '\r'
	echo "-- QEMU's threads on the host"
	qemu_threads
	hang_symbols
	echo "-- QEMU: $(monitor 'info status' | head -n1)"
	# The guest's jiffies through physical memory (any vCPU, any mode): does its time move?
	jaddr=$(awk '$3 == "jiffies_64" { print $1; exit }' "$KDIR/syms.txt") || true
	if [ -n "$jaddr" ]; then
		jaddr=$(printf '0x%x' $((0x$jaddr - 0xffffffff80000000)))
		j1=$(monitor "xp /1gx $jaddr" | awk -F': ' 'NR == 1 { print $2 }')
		sleep 3
		j2=$(monitor "xp /1gx $jaddr" | awk -F': ' 'NR == 1 { print $2 }')
		echo "-- guest jiffies: $j1, 3 s later $j2 (CONFIG_HZ=250: +750 if its timer runs)"
	fi
	echo "-- vCPUs (two samples 2 s apart): RIP and kernel text words on the stack"
	monitor "info registers -a" >"$KDIR/regs1.txt" || true
	sleep 2
	monitor "info registers -a" >"$KDIR/regs2.txt" || true
	for f in "$KDIR/regs1.txt" "$KDIR/regs2.txt"; do
		vcpus <"$f" | while read -r c rip rsp cpl hlt; do
			echo "cpu$c 0x$rip CPL=$cpl HLT=$hlt RSP=$rsp"
		done >"$KDIR/rips.txt"
		echo "  sample $(basename "$f" .txt):"
		symbolize "$KDIR/rips.txt" | sed 's/^/    /'
	done
	vcpus <"$KDIR/regs2.txt" | while read -r c rip rsp cpl hlt; do
		[ "$cpl" = 0 ] || { echo "  cpu$c: CPL $cpl, no kernel stack"; continue; }
		monitor "cpu $c" >/dev/null || true
		monitor "x /64gx 0x$rsp" | awk -v c="$c" '{ for (i = 2; i <= NF; i++) print "cpu" c, $i }' \
			>"$KDIR/stack.txt" || true
		echo "  cpu$c stack (RSP=$rsp), words in kernel text, innermost first:"
		symbolize "$KDIR/stack.txt" 1 | tee "$KDIR/stack-text.txt" | awk '{ print "    " $3 }' | head -n 40
		# A vCPU in the int3 handler: is the int3 it trapped on still in memory? While the
		# kernel patches code (text_poke_bp: static keys, static calls) an int3 stands in the
		# patched instruction; it is removed and every CPU synced before the patcher lets go.
		# A CPU that traps on it afterwards executes a stale translation of the old bytes
		# (TCG): the kernel finds no int3 there, backs up and re-executes it, forever.
		case "$(printf 'cpu%s %s\n' "$c" "$rip" | symbolize /dev/stdin 1)" in
		*int3*)
			local ret at byte
			ret=$(awk 'NR == 1 { print $2 }' "$KDIR/stack-text.txt")
			[ -n "$ret" ] || continue
			at=$(printf '%x' $((0x$ret - 1)))
			byte=$(monitor "x /1bx 0x$at" | awk -F': ' 'NR == 1 { print $2 }')
			echo "  cpu$c is in the int3 handler; the int3 it trapped on, at" \
				"$(printf 'x %s\n' "$at" | symbolize /dev/stdin | awk '{ print $3 }'), holds $byte in memory" \
				"$([ "$byte" = 0xcc ] && echo "(an int3: a patch in progress)" ||
					echo "(not an int3: the vCPU runs a stale translation of that code)")"
			;;
		esac
	done
	monitor "cpu 0" >/dev/null || true
	echo "-- registers (all of them, with the FPU's: $KDIR/regs1.txt, regs2.txt)"
	grep -vE '^(YMM|XMM|FPR|FCW|DR[0-9])' "$KDIR/regs2.txt" || true
	# The guest's own view, if any CPU still takes interrupts: SysRq through the i8042 keyboard
	# (console loglevel 8 first, so that every line reaches the console).
	echo "-- SysRq 8 (loglevel), l (all CPUs' backtraces), w (blocked tasks), t (all tasks)"
	off=$(stat -c %s "$LOG")
	for c in 8 l w t; do
		monitor "sendkey alt-sysrq-$c" >/dev/null || true
		sleep 4
	done
	sleep 4
	if [ "$(stat -c %s "$LOG")" = "$off" ]; then
		echo "(no console output after SysRq: the guest kernel does not take interrupts)"
	else
		tail -c +$((off + 1)) "$LOG" | tr -d '\r' | head -n 3000
	fi
	if command -v gdb >/dev/null; then
		echo "-- QEMU's threads (gdb)"
		timeout 60 gdb -batch -nx -p "$QPID" -ex 'thread apply all bt 15' 2>&1 |
			grep -E '^(Thread|#)' | head -n 150 || true
	fi
	echo "==== end of hang report"
}

# --- one VM --------------------------------------------------------------------------------
# Shows a console line live: V=1 all of it, otherwise the VMTEST- and test lines (not the
# files the VM prints between VMTEST-FILE-BEGIN/END).
in_file=0
show() {
	if [ "${V:-0}" = 1 ]; then
		printf '%s\n' "$1"
		return
	fi
	case "$1" in
	VMTEST-FILE-BEGIN*) in_file=1 ;;
	VMTEST-FILE-END*) in_file=0 ;;
	VMTEST-* | "==== "* | E2E-* | bare-host:*) [ "$in_file" = 1 ] || printf '  %s\n' "$1" ;;
	esac
}

# Boots KDIR/initramfs.cpio on VMLINUZ and follows it: sets HUNG (the reason, empty if the VM
# ended by itself), HUNG_TEST, QEMU_RC and ELAPSED.
boot_vm() {
	local line pending="" cur="" cur_start=0 now last_act last_check=0 hb=0 s tail_pid mon_cat
	local last_hb last_nudge=0 nudged=0
	LOG=$KDIR/console.log
	HUNG='' HUNG_TEST='' QEMU_RC=0 NUDGES=0 WOKEN=0
	rm -f "$KDIR/monitor.in" "$KDIR/monitor.out" "$KDIR/hang-report.txt"
	mkfifo "$KDIR/monitor.in" "$KDIR/monitor.out"
	: >"$LOG"
	: >"$KDIR/heartbeat.log"
	: >"$KDIR/monitor.log"
	local append="$VMTEST_CMDLINE vmtest.timeout=$VMTEST_TEST_TIMEOUT"
	append+=" vmtest.e2e_timeout=$VMTEST_E2E_TIMEOUT vmtest.e2e_baseline=$VMTEST_E2E_BASELINE"
	[ -s "$SYMS" ] || append+=" vmtest.kallsyms=1"
	# shellcheck disable=SC2054 # QEMU's options are comma-separated
	local args=(-accel "$VMTEST_ACCEL" -cpu max -m "$VMTEST_MEM" -smp "$VMTEST_SMP"
		-nodefaults -display none -no-reboot
		-serial "file:$LOG" -serial "file:$KDIR/heartbeat.log" -serial "file:$KDIR/kallsyms.raw"
		-chardev "pipe,id=mon,path=$KDIR/monitor" -mon chardev=mon,mode=readline
		-kernel "$VMLINUZ" -initrd "$KDIR/initramfs.cpio" -append "$append")
	echo "  VMTEST   qemu-system-x86_64 ${args[*]}"
	echo "  VMTEST   limits: ${VMTEST_TEST_TIMEOUT}s (+${VMTEST_TEST_MARGIN}s) a test," \
		"${VMTEST_SILENCE}s of silence, ${VMTEST_TIMEOUT}s the VM; console in $LOG"
	local start=$EPOCHSECONDS
	qemu-system-x86_64 "${args[@]}" </dev/null >"$KDIR/qemu.out" 2>&1 &
	QPID=$!
	# A background job ignores the terminal's SIGINT: stop QEMU when run.sh ends, however.
	trap 'kill "$QPID" 2>/dev/null || true' EXIT
	# Opened read-write, the monitor's input never blocks us, even once QEMU is gone; its
	# output is drained all along (a full pipe would stall the monitor).
	exec {MON_FD}<>"$KDIR/monitor.in"
	cat "$KDIR/monitor.out" >>"$KDIR/monitor.log" &
	mon_cat=$!
	exec {con_fd}< <(exec tail -n +1 -f --pid="$QPID" "$LOG" 2>/dev/null)
	tail_pid=$!
	last_act=$start last_hb=$start
	while :; do
		if IFS= read -r -t 1 -u "$con_fd" line; then
			line=$pending$line
			pending=
			line=${line%$'\r'}
			last_act=$EPOCHSECONDS
			show "$line"
			case "$line" in
			"==== "*) cur=${line#==== } cur_start=$EPOCHSECONDS ;;
			"VMTEST-RESULT "*) cur= ;;
			esac
		elif [ $? -gt 128 ]; then
			pending+=$line # a partial line: read timed out in its middle
		else
			[ -n "$pending$line" ] && show "$pending$line"
			break # tail ended: QEMU exited
		fi
		now=$EPOCHSECONDS
		[ "$now" = "$last_check" ] && continue
		last_check=$now
		s=$(stat -c %s "$KDIR/heartbeat.log")
		if [ "$s" != "$hb" ]; then
			hb=$s last_act=$now last_hb=$now
			if [ "$nudged" = 1 ]; then
				WOKEN=$((WOKEN + 1)) nudged=0
				echo "  VMTEST   the VM woke up after the key press${cur:+ (test $cur)}"
			fi
		fi
		# The guest's timer interrupt lost (config: VMTEST_NUDGE): a key press wakes it.
		if ((hb > 0 && now - last_hb >= VMTEST_NUDGE && now - last_nudge >= VMTEST_NUDGE)); then
			echo "  VMTEST   no heartbeat for $((now - last_hb))s${cur:+ (test $cur running)}: a key press to wake the VM"
			monitor "sendkey shift" >/dev/null || true
			NUDGES=$((NUDGES + 1)) nudged=1 last_nudge=$now
		fi
		limit=$VMTEST_TEST_TIMEOUT
		case "$cur" in guest-e2e*) limit=$VMTEST_E2E_TIMEOUT ;; esac
		if [ -n "$cur" ] && ((now - cur_start > limit + VMTEST_TEST_MARGIN)); then
			HUNG="test $cur was running for $((now - cur_start))s, past its limit (${limit}s in the VM + ${VMTEST_TEST_MARGIN}s), with no result line: the VM stopped responding"
		elif ((now - last_act > VMTEST_SILENCE)); then
			HUNG="nothing on the console nor the heartbeat port for ${VMTEST_SILENCE}s${cur:+ (test $cur was running, for $((now - cur_start))s)}: the VM stopped responding"
		elif ((now - start > VMTEST_TIMEOUT)); then
			HUNG="watchdog: the VM ran ${VMTEST_TIMEOUT}s${cur:+ (test $cur was running, for $((now - cur_start))s)}"
		fi
		if [ -n "$HUNG" ]; then
			HUNG_TEST=$cur
			echo "  VMTEST   $HUNG; examining it (hang report in $KDIR/hang-report.txt)"
			hang_report "$HUNG" 2>&1 | tee "$KDIR/hang-report.txt"
			break
		fi
	done
	if kill -0 "$QPID" 2>/dev/null; then
		kill -TERM "$QPID" 2>/dev/null || true
		sleep 2
		kill -KILL "$QPID" 2>/dev/null || true
	fi
	wait "$QPID" || QEMU_RC=$?
	kill "$tail_pid" "$mon_cat" 2>/dev/null || true
	exec {con_fd}<&- {MON_FD}>&-
	ELAPSED=$((EPOCHSECONDS - start))
	[ -s "$KDIR/qemu.out" ] && sed 's/^/  qemu: /' "$KDIR/qemu.out"
	# The kernel's text symbols the VM dumped (complete: ends with "# end"), kept for the next
	# runs of this package (module addresses may differ between boots: only the kernel's own).
	if [ ! -s "$SYMS" ] && [ "$(tail -n1 "$KDIR/kallsyms.raw" 2>/dev/null | tr -d '\r')" = "# end" ]; then
		tr -d '\r' <"$KDIR/kallsyms.raw" | grep -v -e '\[' -e '^#' | sort >"$SYMS.tmp" && mv "$SYMS.tmp" "$SYMS"
	fi
	return 0
}

# --- the kernels: fetched one after the other, their VMs run side by side -----------------
# Each kernel's VM runs in a subshell (VMTEST_JOBS at once), its output prefixed with the
# kernel where they run side by side; its verdict (CELL, ROWS, FAILED, CRITERION_FAILS) comes
# back through KDIR/verdict.sh. A TCG VM is one busy host thread: on 2 CPUs the two kernels
# take the time of the slower one instead of the sum.
declare -A CELL=()
ROWS=()
FAILED=()
CRITERION_FAILS=()
KERNELS=()
add_row() {
	local r
	for r in "${ROWS[@]}"; do [ "$r" = "$1" ] && return; done
	ROWS+=("$1")
}

# Boots kernel KL (its package fetched and unpacked: KROOT, KVER, PKG, DEB) and judges its run.
run_kernel() {
	KL=$1
	VMLINUZ=$KROOT/boot/vmlinuz-$KVER
	if [ ! -f "$VMLINUZ" ]; then
		CELL["*|$KL"]="MISSING"
		FAILED+=("[$KL] $DEB has no /boot/vmlinuz-$KVER")
		return
	fi
	CELL["kernel|$KL"]=$KVER
	echo "  VMTEST   kernel $PKG ($(basename "$DEB" | cut -d_ -f2)), $KVER"
	KDIR=$VMDIR/$KL
	mkdir -p "$KDIR"
	SYMS=$KROOT/kallsyms
	# a cache from before the dump had jiffies_64 is made again
	if [ -s "$SYMS" ] && ! grep -q ' jiffies_64$' "$SYMS"; then rm -f "$SYMS"; fi
	"$HERE/build-initramfs.sh" "$OUTPUT" "$KROOT" "$KVER" "$KDIR/initramfs.cpio"
	boot_vm
	CELL["wall|$KL"]="${ELAPSED}s"

	# --- verdict of this kernel ---
	tr -d '\r' <"$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
	# files the VM printed between VMTEST-FILE-BEGIN NAME / VMTEST-FILE-END NAME
	awk -v dir="$KDIR" '/^VMTEST-FILE-BEGIN / { f = dir "/" $2; printf "" >f; next }
		/^VMTEST-FILE-END / { close(f); f = ""; next }
		f != "" { print >>f }' "$LOG"
	while read -r _ t; do
		add_row "$t"
		line=$(grep -m1 "^VMTEST-RESULT $t " "$LOG" || true)
		secs=$(grep -m1 "^VMTEST-TIME $t " "$LOG" | awk '{ print $3 }' || true)
		if [ -n "$line" ]; then
			rc=${line##* }
			if [ "$rc" = 0 ]; then
				CELL["$t|$KL"]="ok ${secs}s"
			else
				CELL["$t|$KL"]="FAIL ${secs}s"
				FAILED+=("[$KL] $t: exit $rc")
			fi
		elif [ -n "$HUNG_TEST" ] && [ "$t" = "$HUNG_TEST" ]; then
			CELL["$t|$KL"]="HUNG"
			FAILED+=("[$KL] test $t was running, the VM stopped responding ($KDIR/hang-report.txt)")
		else
			CELL["$t|$KL"]="MISSING"
			FAILED+=("[$KL] $t: no result line")
		fi
	done <"$KDIR/initramfs.d/etc/vmtest/tests"
	criterion_verdict
	corpus_verdict
	add_row dmesg
	if grep -q '^VMTEST-DMESG ok' "$LOG"; then
		CELL["dmesg|$KL"]="ok"
	elif grep -q '^VMTEST-DMESG fail' "$LOG"; then
		CELL["dmesg|$KL"]="FAIL"
		FAILED+=("[$KL] kernel log has errors (VMTEST-DMESG-LINE lines)")
	else
		CELL["dmesg|$KL"]="MISSING"
	fi
	grep -q '^VMTEST-KVM ok' "$LOG" || FAILED+=("[$KL] /dev/kvm missing in the VM (kvm modules did not load)")
	fails=$(grep '^VMTEST-MODULE ' "$LOG" | awk '$3 != 0 { printf "%s(%s) ", $2, $3 }') || true
	[ -n "$fails" ] && FAILED+=("[$KL] insmod failed: $fails")
	if [ -n "$HUNG" ]; then
		[ -z "$HUNG_TEST" ] && FAILED+=("[$KL] $HUNG ($KDIR/hang-report.txt)")
	elif [ "$QEMU_RC" != 0 ]; then
		FAILED+=("[$KL] qemu-system-x86_64 exited with status $QEMU_RC")
	fi
	done_ok=1
	grep -q '^VMTEST-DONE' "$LOG" || {
		done_ok=0
		FAILED+=("[$KL] the VM did not finish its run (no VMTEST-DONE)")
	}

	echo
	echo "vmtest: $KL: $(grep -m1 '^VMTEST-KERNEL' "$LOG" | cut -d' ' -f2- || echo '?') ($PKG)," \
		"initramfs $(du -h "$KDIR/initramfs.cpio" | cut -f1), ${ELAPSED}s"
	[ "$NUDGES" = 0 ] || echo "  VM silent $NUDGES times for ${VMTEST_NUDGE}s: woken by a key press $WOKEN times"
	CELL["nudges|$KL"]="$NUDGES (woke $WOKEN)"
	echo "  criterion: ${CELL["(criterion tests)|$KL"]:-none}; corpus (test_vring_walk_bpf):" \
		"${CELL["(corpus inputs)|$KL"]:-none}"
	grep -E '^bare-host: (bad|vmlinux|gma-trace)|^E2E-(BASELINE|TRACED|LATE|WAIT) [a-z]|^E2E-CHECK (ok|FAIL|chains|blk)|^E2E-(RINGS|HEALTH) [a-z ]+: (ok|FAIL|bad)|^E2E-LATE-HEALTH [a-z0-9 -]+: (ok|FAIL|bad|gma_trace_rc|stderr|.*: the device took it)|^E2E-TRACED error|^E2E-(FAIL|VERDICT) |^VRING-WALK-CORPUS |^SKIPPED: ' "$LOG" |
		sed 's/^/  /' || true
	grep '^VMTEST-DMESG-LINE' "$LOG" | sed 's/^VMTEST-DMESG-LINE /  dmesg: /' || true
	# How a VM that stopped on its own ended (a panic, an oops): the end of its console.
	if [ "$done_ok" = 0 ] && [ -z "$HUNG" ] && [ "${V:-0}" != 1 ]; then
		echo "  ---- the VM stopped before its end; last 80 lines of $LOG:"
		tail -n 80 "$LOG" | sed 's/^/  | /'
	fi
	# Criterion's failures, where a binary failed: here, and again under the table (the end of
	# a CI log is often all that is kept)
	if grep -q '^VMTEST-RESULT .* [1-9][0-9]*$' "$LOG"; then
		# (none when the failing test is not Criterion's: no failure under set -e, pipefail)
		crit=$(grep -E '^\[(FAIL|----)\]' "$LOG" | grep -vE '^\[----\] +(Criterion v.*)?$' |
			head -n 40 | sed "s/^/  [$KL] /") || true
		[ "${V:-0}" != 1 ] && [ -n "$crit" ] && echo "$crit"
		[ -n "$crit" ] && CRITERION_FAILS+=("$crit")
	fi
	echo
}

# Criterion's counts in kernel KL's VM: the CRITERION line tests/run-criterion.sh printed for
# each binary (between its test's "==== NAME" and "VMTEST-RESULT NAME"), summed in the table's
# "(criterion tests)" row. A skipped test (its "SKIPPED: ..." line) is a failure, named; so is a
# binary that passed without a CRITERION line (its counts would be missing).
criterion_verdict() {
	local kind t line n=0 skipped=0 bins=0 sk
	local -A crit=()
	while read -r t line; do
		crit[$t]=$line
	done < <(awk '/^==== / { cur = substr($0, 6) } /^VMTEST-RESULT / { cur = "" }
		/^CRITERION / && cur != "" { print cur, $0 }' "$LOG")
	while read -r kind t; do
		case "$kind" in unit | bpf) ;; *) continue ;; esac
		line=${crit[$t]:-}
		if [ -z "$line" ]; then
			# a binary that failed is in FAILED already; one that passed must have counted
			grep -q "^VMTEST-RESULT $t 0\$" "$LOG" &&
				FAILED+=("[$KL] $t: exit 0 but no CRITERION line from tests/run-criterion.sh: its tests were not counted")
			continue
		fi
		bins=$((bins + 1))
		n=$((n + $(sed -n 's/.* tests=\([0-9]*\) .*/\1/p' <<<"$line")))
		skipped=$((skipped + $(sed -n 's/.* skipped=\([0-9]*\) .*/\1/p' <<<"$line")))
	done <"$KDIR/initramfs.d/etc/vmtest/tests"
	while IFS= read -r sk; do
		FAILED+=("[$KL] a skipped test is a failed one: $sk")
	done < <(grep '^SKIPPED: ' "$LOG" || true)
	add_row "(criterion tests)"
	CELL["crit-tests|$KL"]=$n CELL["crit-skipped|$KL"]=$skipped # for make test's ledger
	if [ "$bins" = 0 ]; then
		CELL["(criterion tests)|$KL"]="none"
	elif [ "$skipped" = 0 ]; then
		CELL["(criterion tests)|$KL"]="$n in $bins binaries"
	else
		CELL["(criterion tests)|$KL"]="$n, $skipped SKIPPED"
	fi
}

# The fuzz corpus inputs test_vring_walk_bpf compared in kernel KL's VM (its VRING-WALK-CORPUS
# line), in the table's "(corpus inputs)" row: where the test ran, the line must be there and
# count every input of tests/fuzz/corpus/ring (the initramfs ships the tree's corpus).
corpus_verdict() {
	local want got
	add_row "(corpus inputs)"
	if ! grep -q '^bpf test_vring_walk_bpf$' "$KDIR/initramfs.d/etc/vmtest/tests"; then
		CELL["(corpus inputs)|$KL"]="not run"
		return
	fi
	want=$(find tests/fuzz/corpus/ring -maxdepth 1 -type f ! -name '.*' | wc -l)
	got=$(sed -n 's/^VRING-WALK-CORPUS inputs=\([0-9]*\) .*/\1/p' "$LOG" | head -n1)
	if [ -z "$got" ]; then
		CELL["(corpus inputs)|$KL"]="MISSING"
		FAILED+=("[$KL] test_vring_walk_bpf printed no VRING-WALK-CORPUS line: its fuzz corpus comparison did not run")
	elif [ "$got" != "$want" ]; then
		CELL["(corpus inputs)|$KL"]="$got of $want"
		FAILED+=("[$KL] test_vring_walk_bpf compared $got fuzz corpus inputs, tests/fuzz/corpus/ring has $want")
	else
		CELL["(corpus inputs)|$KL"]="$got compared"
	fi
}

# Runs run_kernel KL in a subshell, its output prefixed with "[KL] " when prefix is set; its
# verdict in KDIR/verdict.sh.
run_kernel_job() { # KL PREFIX
	local out=$VMDIR/$1/verdict.sh
	mkdir -p "$VMDIR/$1"
	rm -f "$out"
	(
		CELL=() ROWS=() FAILED=() CRITERION_FAILS=()
		run_kernel "$1"
		declare -p CELL ROWS FAILED CRITERION_FAILS >"$out"
	) 2>&1 | if [ -n "$2" ]; then sed -u "s/^/[$1] /"; else cat; fi
}

# Adds the verdict of kernel KL's run to this shell's.
merge_verdict() { # KL
	local -A cell=()
	local -a rows=() failed=() crit=()
	local k r f c
	if [ ! -s "$VMDIR/$1/verdict.sh" ]; then
		CELL["*|$1"]="MISSING"
		FAILED+=("[$1] its VM's run ended without a verdict (run.sh's subshell died)")
		return
	fi
	# shellcheck disable=SC1090 # CELL, ROWS, FAILED, CRITERION_FAILS of the subshell
	eval "$(sed -e 's/^declare -A CELL=/cell=/' -e 's/^declare -a ROWS=/rows=/' \
		-e 's/^declare -a FAILED=/failed=/' -e 's/^declare -a CRITERION_FAILS=/crit=/' \
		"$VMDIR/$1/verdict.sh")"
	for k in "${!cell[@]}"; do CELL["$k"]=${cell[$k]}; done
	for r in "${rows[@]}"; do add_row "$r"; done
	for f in "${failed[@]}"; do FAILED+=("$f"); done
	for c in "${crit[@]}"; do CRITERION_FAILS+=("$c"); done
}

declare -A K_KROOT=() K_KVER=() K_PKG=() K_DEB=()
for KL in $VMTEST_KERNELS; do
	KERNELS+=("$KL")
	echo "  VMTEST   ---- kernel $KL"
	if ! fetch_kernel "$KL"; then
		CELL["*|$KL"]="MISSING"
		FAILED+=("[$KL] $FETCH_ERR")
		continue
	fi
	unpack_kernel
	K_KROOT[$KL]=$KROOT K_KVER[$KL]=$KVER K_PKG[$KL]=$PKG K_DEB[$KL]=$DEB
done
jobs_max=$VMTEST_JOBS
((jobs_max >= 1)) || jobs_max=1
prefix=
((jobs_max > 1 && ${#K_KROOT[@]} > 1)) && prefix=1
[ -n "$prefix" ] && echo "  VMTEST   ${#K_KROOT[@]} VMs, $jobs_max at once (VMTEST_JOBS): their lines prefixed with the kernel"
# run.sh interrupted or failing: no VM is left running (a background job ignores SIGINT).
kill_tree() {
	local p c
	for p; do
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill_tree "$c"; done
		kill -TERM "$p" 2>/dev/null || true
	done
}
trap 'kill_tree $(jobs -p)' EXIT
running=0
for KL in "${KERNELS[@]}"; do
	[ -n "${K_KROOT[$KL]:-}" ] || continue
	KROOT=${K_KROOT[$KL]} KVER=${K_KVER[$KL]} PKG=${K_PKG[$KL]} DEB=${K_DEB[$KL]}
	if ((running >= jobs_max)); then
		wait -n || true
		running=$((running - 1))
	fi
	run_kernel_job "$KL" "$prefix" &
	running=$((running + 1))
done
wait || true
for KL in "${KERNELS[@]}"; do
	[ -n "${K_KROOT[$KL]:-}" ] && merge_verdict "$KL"
done

# --- the table ------------------------------------------------------------------------------
printf '\nvmtest: tests x kernels (seconds in the VM)\n'
printf '  %-22s' "test"
for KL in "${KERNELS[@]}"; do printf ' %-22s' "$KL"; done
printf '\n  %-22s' ""
for KL in "${KERNELS[@]}"; do printf ' %-22s' "${CELL["kernel|$KL"]:-}"; done
echo
for r in "${ROWS[@]}"; do
	printf '  %-22s' "$r"
	for KL in "${KERNELS[@]}"; do printf ' %-22s' "${CELL["$r|$KL"]:-${CELL["*|$KL"]:-MISSING}}"; done
	echo
done
printf '  %-22s' "(key presses)"
for KL in "${KERNELS[@]}"; do printf ' %-22s' "${CELL["nudges|$KL"]:--}"; done
echo
printf '  %-22s' "(VM wall time)"
for KL in "${KERNELS[@]}"; do printf ' %-22s' "${CELL["wall|$KL"]:--}"; done
echo
# A partial run (VMTEST=partial) ends with what it left out, whatever its verdict.
partial_line="vmtest: PARTIAL (VMTEST=partial): not run: $NOT_RUN"
if [ ${#FAILED[@]} -gt 0 ]; then
	echo
	[ ${#CRITERION_FAILS[@]} -gt 0 ] && printf '%s\n' "${CRITERION_FAILS[@]}"
	printf 'vmtest: FAILED: %s\n' "${FAILED[@]}"
	[ -z "$NOT_RUN" ] || echo "$partial_line"
	exit 1
fi
for KL in "${KERNELS[@]}"; do
	ledger "VMTEST $KL criterion-tests=${CELL["crit-tests|$KL"]:-0} skipped=${CELL["crit-skipped|$KL"]:-0}"
done
if [ -n "$NOT_RUN" ]; then
	ledger "SKIP vmtest VMTEST=partial: not run: $NOT_RUN"
	echo "vmtest: all that ran passed"
	echo "$partial_line"
else
	echo "vmtest: all passed"
fi

#!/bin/sh
# The real guest end to end, inside the vmtest VM (run by tools/vmtest/init from /gma): a Linux
# guest (the same Debian kernel, tools/vmtest/guest-init as its /init) on QEMU/KVM, microvm
# (virtio-mmio) or q35 (virtio-pci), with a virtio-blk disk, a virtio-net NIC and a
# virtio-serial device of ten queues. gma-trace starts QEMU, so it sees every queue from its
# set-up (check-e2e blk compares its blk chains with the guest's workload); a second one
# attaches late with --qmp; both models are then compared with guest memory, queue by queue
# (qmp-rings, check-e2e rings) once the disk stalls (blkdebug), and both tracers must judge
# the blk queue stuck and nothing else (check-e2e health). Twice a new `gma-trace health`
# attaches to the running QEMU as the operator who comes after the hang runs it: while the
# guest's trickle runs (exit 0, nothing stuck, nothing unknown), and once the disk has hung
# (exit 2, the blk queue stuck on the device's side, nothing else stuck or unknown); both
# against QEMU's own list of the queues (check-e2e late-health). With vmtest.e2e_baseline=1,
# first an untraced boot measures the nested boot time and whether kvm_exit and kvm_mmio fire
# in this VM (ftrace events).
#
# Every wait is for a condition, bounded; one that times out is a failure with its reason (an
# "E2E-FAIL ..." line), and so is every exit status that is not 0: both tracers', qmp-rings',
# the checks'. The last line is "E2E-VERDICT ok" or "E2E-VERDICT FAIL: N failure(s)".
#
# Usage: sh tools/vmtest/guest-e2e.sh [OUTPUT [microvm|q35]]
# Prints E2E-... lines; the trace is in /tmp/guest-e2e-MACHINE/trace.jsonl and also printed
# between VMTEST-FILE-BEGIN/END lines (run.sh saves it as OUTPUT/vmtest/KERNEL/).
# Exit status: 0 the traces matched, 1 otherwise.
out=${1:-build}
machine=${2:-microvm}
work=/tmp/guest-e2e-$machine
write_count=256 read_count=16
boot_timeout=${E2E_BOOT_TIMEOUT:-600}
# Limits of the waits after the guest's workload: tracer B's attach (loading the tracer takes
# a while on a loaded machine), the chains it must see of the guest's trickle (about two a
# second), the rings coming to rest once the disk stalls. The guest holds its trickle for
# longer than all of them (gma.hold; QEMU is killed at the end anyway).
attach_timeout=300 chains_timeout=60 quiet_timeout=90 hold=600
# gma-trace health attached late: its window (--stuck-ms) and how long it watches (a few
# windows), and the limit of one run (loading the tracer, 5 to 10 s unloaded, and the watch;
# the whole traced run stays within tracer A's limit, boot_timeout).
health_stuck_ms=1000 health_duration=4 health_timeout=150
rm -rf "$work"
mkdir -p "$work"

failures=0
fail() { # REASON: a failure of this check, and why
	echo "E2E-FAIL $machine: $*"
	failures=$((failures + 1))
}
# The checks (check-e2e: one JSON parser, every malformed line an error with its number).
check() { # NAME CHECK-E2E-ARGS...
	name=$1
	shift
	"$out"/check-e2e "$@"
	c=$?
	[ "$c" = 0 ] || fail "check-e2e $name failed (exit status $c)"
}

# The nested guest's devices: on microvm virtio-mmio ones; on q35 virtio-pci ones found by the
# guest through ECAM (the firmware programs the host bridge's PCIEXBAR; Linux reads ACPI MCFG):
# modern blk and net, and a virtio-serial device driven as a legacy one (I/O BAR).
case "$machine" in
q35) devices="-device virtio-blk-pci,drive=d -device virtio-net-pci,netdev=n,romfile= \
	-device virtio-serial-pci,max_ports=4,disable-modern=on,disable-legacy=off" ;;
*) devices="-device virtio-blk-device,drive=d -device virtio-net-device,netdev=n \
	-device virtio-serial-device,max_ports=4" ;;
esac

qemu_cmd() { # CONSOLE-LOG QMP-SOCKET [EXTRA-CMDLINE]
	echo qemu-system-x86_64 -accel kvm -M "$machine" -cpu host -m 256M -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$1" \
		-kernel /vmtest/vmlinuz -initrd /vmtest/guest-initramfs.cpio \
		-append "'console=ttyS0 panic=-1 loglevel=4 gma.write_count=$write_count gma.read_count=$read_count $3'" \
		-drive "id=d,file=blkdebug::$work/disk.img,format=raw,if=none" -netdev user,id=n $devices \
		-qmp "unix:$2,server=on,wait=off"
}

# The running QEMU (busybox has no pgrep): the only process named so, started by gma-trace.
qemu_pid() {
	for c in /proc/[0-9]*/comm; do
		if [ "$(cat "$c" 2>/dev/null)" = qemu-system-x86 ]; then
			p=${c%/comm}
			echo "${p#/proc/}"
			return
		fi
	done
}

uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# A new gma-trace health attached to the running QEMU (pid $qemu), as the operator who comes
# after the hang runs it, then QEMU's own list of the queues (qmp-rings, read after it: every
# queue it set up is there, the stalled request still in flight) and check-e2e late-health on
# both. MODE: healthy (the guest's trickle runs: exit 0) or hung-disk (the blk read stalled
# before the attach: exit 2). Saves the records as guest-e2e-MACHINE-health-MODE.jsonl.
late_health() { # MODE
	mode=$1
	want=0
	[ "$mode" = hung-disk ] && want=2
	hstart=$(uptime_ms)
	timeout -s KILL "$health_timeout" "$out"/gma-trace health --json --pid "$qemu" \
		--qmp "$work/qmp.sock" --stuck-ms "$health_stuck_ms" --duration "$health_duration" \
		</dev/null >"$work/health-$mode.jsonl" 2>"$work/health-$mode.err"
	hrc=$?
	hend=$(uptime_ms)
	echo "E2E-LATE-HEALTH $machine $mode: gma_trace_rc=$hrc wall_ms=$((hend - hstart))" \
		"records=$(grep -c '"type":"queue_health"' "$work/health-$mode.jsonl")"
	[ "$hrc" = 137 ] && fail "gma-trace health ($mode) did not end in ${health_timeout}s (killed)"
	[ "$hrc" != "$want" ] && [ -s "$work/health-$mode.err" ] &&
		head -n 5 "$work/health-$mode.err" | sed "s/^/E2E-LATE-HEALTH $machine $mode: stderr: /"
	if ! "$out"/qmp-rings "$work/qmp.sock" rings >"$work/rings-$mode.txt" 2>"$work/rings-$mode.err"; then
		fail "qmp-rings rings (after gma-trace health, $mode) failed: $(head -c 300 "$work/rings-$mode.err")"
	fi
	check "late-health ($mode)" late-health "$mode" "$machine $mode" "$work/rings-$mode.txt" \
		"$work/health-$mode.jsonl" "$hrc"
	echo "VMTEST-FILE-BEGIN guest-e2e-$machine-health-$mode.jsonl"
	cat "$work/health-$mode.jsonl"
	echo "VMTEST-FILE-END guest-e2e-$machine-health-$mode.jsonl"
}

# --- 1. untraced boot: nested boot time, kvm_exit and kvm_mmio ---------------------------
# Only with vmtest.e2e_baseline=1 (VMTEST_E2E_BASELINE): it doubles the check's time.
if grep -qw vmtest.e2e_baseline=1 /proc/cmdline; then
	# Both events go to the ftrace buffer (32 MiB per CPU): the kvm_exit count shows KVM runs the
	# guest here; the kvm_mmio writes at offset 0x50 of a virtio-mmio window (microvm: 512 bytes
	# each from 0xfeb00000) are the guest's QueueNotify writes, the events gma-trace samples on.
	dd if=/dev/zero of="$work/disk.img" bs=1M count=8 2>/dev/null
	tr=/sys/kernel/tracing
	echo 0 >$tr/tracing_on
	echo 32768 >$tr/buffer_size_kb
	echo >$tr/trace
	echo 1 >$tr/events/kvm/kvm_exit/enable
	echo 1 >$tr/events/kvm/kvm_mmio/enable
	echo 1 >$tr/tracing_on
	t0=$(uptime_ms)
	eval "timeout -s KILL $boot_timeout $(qemu_cmd "$work/console0.log" "$work/qmp0.sock")" \
		</dev/null >"$work/qemu0.out" 2>&1
	rc=$?
	t1=$(uptime_ms)
	echo 0 >$tr/tracing_on
	echo 0 >$tr/events/kvm/kvm_exit/enable
	echo 0 >$tr/events/kvm/kvm_mmio/enable
	overrun=$(cat $tr/per_cpu/cpu*/stats | awk '/^overrun:/ { n += $2 } END { print n + 0 }')
	awk '/ kvm_exit: / { e++ } / kvm_mmio: / { m++ }
		/ kvm_mmio: mmio write / && / gpa 0xfeb0[0-9a-f][02468ace]50 / { q++ }
		END { printf "kvm_exit=%d kvm_mmio=%d notify_writes=%d", e, m, q }' $tr/trace >"$work/events"
	grep -m2 ' kvm_mmio: mmio write .* gpa 0xfeb0' $tr/trace | sed 's/^ */E2E-BASELINE sample: /'
	echo >$tr/trace
	echo 1408 >$tr/buffer_size_kb
	echo "E2E-BASELINE qemu_rc=$rc wall_ms=$((t1 - t0)) $(cat "$work/events") trace_overrun=$overrun"
	touch "$work/console0.log"
	echo "E2E-BASELINE guest: $(grep -E '^GUEST-E2E-(BOOTED|WORKLOAD|NET|DONE)' "$work/console0.log" | tr '\n' ' ')"
	if [ "$rc" != 0 ] || ! grep -q '^GUEST-E2E-DONE' "$work/console0.log"; then
		echo "E2E-BASELINE the nested guest did not finish (QEMU's exit status $rc, limit" \
			"${boot_timeout}s); its console and QEMU's output:"
		tail -n 40 "$work/console0.log" "$work/qemu0.out"
		echo "E2E-FAIL $machine: the untraced nested guest did not finish (QEMU's exit status $rc)"
		echo "E2E-VERDICT FAIL: 1 failure(s)"
		exit 1
	fi
fi

# --- 2. the same boot under gma-trace, and a second gma-trace attached late ------------------
# Tracer A starts QEMU, so it sees every queue from its set-up. Once the guest's workload is
# done (it then holds with a trickle of traffic, gma.hold), tracer B attaches to the running
# QEMU with --qmp. Then the disk stalls and, once the rings are at rest, QEMU itself reads every
# queue's avail and used index from guest memory (qmp-rings: QMP, the monitor's xp), the
# ground truth both tracers' models are compared with (check-e2e rings), queue by queue.
dd if=/dev/zero of="$work/disk.img" bs=1M count=8 2>/dev/null
: >"$work/console.log"
t0=$(uptime_ms)
eval "timeout -s KILL $boot_timeout $out/gma-trace rings --json --completions -- \
	$(qemu_cmd "$work/console.log" "$work/qmp.sock" "gma.hold=$hold")" </dev/null \
	>"$work/trace.jsonl" 2>"$work/gma-trace.err" &
tracer=$!
# until the guest's workload is done (bounded by tracer A's own limit, which kills it)
i=0
while ! grep -q '^GUEST-E2E-DONE' "$work/console.log"; do
	if ! kill -0 $tracer 2>/dev/null; then
		fail "tracer A (gma-trace starting QEMU) ended after ${i}s, before the guest's workload" \
			"was done (no GUEST-E2E-DONE; limit ${boot_timeout}s)"
		break
	fi
	sleep 1
	i=$((i + 1))
done
echo "E2E-WAIT workload: ${i}s"
qemu=$(qemu_pid)
late=
late_rc=
if [ -z "$qemu" ]; then
	fail "no QEMU process (qemu-system-x86) to attach tracer B to and to stop"
else
	: >"$work/late.jsonl"
	"$out"/gma-trace rings --json --completions --pid "$qemu" --qmp "$work/qmp.sock" \
		>>"$work/late.jsonl" 2>"$work/late.err" &
	late=$!
	# until tracer B has imported the queues (its "attach" records)
	i=0
	while ! grep -q '"type":"attach"' "$work/late.jsonl"; do
		if ! kill -0 $late 2>/dev/null; then
			fail "tracer B (attached late) ended after ${i}s without importing a queue (no attach record)"
			break
		elif [ $i -ge $attach_timeout ]; then
			fail "tracer B (attached late) imported no queue (no attach record) in ${attach_timeout}s"
			break
		fi
		sleep 1
		i=$((i + 1))
	done
	echo "E2E-LATE attached after ${i}s"
	# then until it has seen a few chains of the guest's trickle: it follows the queues it
	# imported
	i=0
	while [ "$(grep -c '"type":"chain"' "$work/late.jsonl")" -lt 4 ]; do
		if ! kill -0 $late 2>/dev/null; then
			fail "tracer B (attached late) ended after ${i}s, having seen" \
				"$(grep -c '"type":"chain"' "$work/late.jsonl") chains of the guest's trickle (4 wanted)"
			break
		elif [ $i -ge $chains_timeout ]; then
			fail "tracer B (attached late) saw $(grep -c '"type":"chain"' "$work/late.jsonl") chains" \
				"of the guest's trickle in ${chains_timeout}s (4 wanted, about two a second)"
			break
		fi
		sleep 1
		i=$((i + 1))
	done
	echo "E2E-WAIT trickle chains seen by tracer B: ${i}s"
	# The guest runs its trickle (a read and a packet every two seconds or so): a health
	# attached now finds every queue healthy or idle, its receive queues' posted buffers too.
	late_health healthy
	# The disk stalls: blkdebug suspends the next read (QEMU's qemu-io "break"; throttling
	# with block_set_io_throttle let a read through after 4 to 13 s), the guest's reader
	# blocks on it and the guest falls quiet: its rings are at rest. (Not paused with QMP
	# "stop": pausing drains I/O, which waits for the suspended read forever.) Then QEMU reads
	# every queue from guest memory, the ground truth of both tracers' models, and in both the
	# blk queue's health has turned device-not-consuming (--stuck-ms 1 s), nothing else stuck.
	if ! "$out"/qmp-rings "$work/qmp.sock" hmp 'qemu-io d "break read_aio stall"' \
		>"$work/break.out" 2>&1; then
		fail "qmp-rings: qemu-io break (stalling the disk) failed: $(head -c 300 "$work/break.out")"
	elif [ -s "$work/break.out" ]; then
		sed 's/^/E2E-WAIT qemu-io break: /' "$work/break.out"
	fi
	# At rest: two readings of every queue, 3 s apart, the same, with the blk queue's stalled
	# read in flight (avail ahead of used). The guest makes a request a second until its reader
	# blocks, so 3 s unchanged and a request in flight is the stall, not a pause between two
	# requests; and the stalled request is then older than the tracers' 1 s stuck window. The
	# last reading is the ground truth.
	i=0
	prev=
	while :; do
		if ! "$out"/qmp-rings "$work/qmp.sock" rings >"$work/rings.txt" 2>"$work/rings.err"; then
			fail "qmp-rings rings failed: $(head -c 300 "$work/rings.err")"
			break
		fi
		cur=$(cat "$work/rings.txt")
		blk_in_flight=$(awk '$2 == "device=virtio-blk" {
			for (f = 3; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
			if (v["avail_idx"] != v["used_idx"]) n++ } END { print n + 0 }' "$work/rings.txt")
		if [ -n "$prev" ] && [ "$cur" = "$prev" ] && [ "$blk_in_flight" -gt 0 ]; then
			break
		elif [ $i -ge $quiet_timeout ]; then
			fail "the rings did not come to rest with the blk queue's read stalled in" \
				"${quiet_timeout}s (last two readings $([ "$cur" = "$prev" ] && echo same || echo differ)," \
				"$blk_in_flight blk queue(s) with a request in flight)"
			break
		fi
		prev=$cur
		sleep 3
		i=$((i + 3))
	done
	echo "E2E-WAIT rings at rest: ${i}s"
	if kill -0 $late 2>/dev/null; then
		kill -INT $late
		wait $late
		late_rc=$?
	else
		wait $late
		late_rc=$?
		fail "tracer B (attached late) had ended before it was stopped (exit status $late_rc)"
	fi
	echo "E2E-LATE gma_trace_rc=$late_rc lines=$(wc -l <"$work/late.jsonl")"
	[ "$late_rc" = 0 ] || fail "tracer B (attached late) exited with status $late_rc"
	[ -s "$work/late.err" ] && head -n 5 "$work/late.err" | sed 's/^/E2E-LATE stderr: /'
	# The disk has hung (its read stalled for at least the 3 s of the rings at rest) and only
	# now does someone run gma-trace health: the blk request was in flight before it attached.
	late_health hung-disk
	# KILL: a QEMU told to quit waits for its in-flight I/O, and the stalled read never ends
	kill -KILL "$qemu"
fi
wait $tracer
rc=$?
t1=$(uptime_ms)
echo "E2E-TRACED gma_trace_rc=$rc wall_ms=$((t1 - t0)) lines=$(wc -l <"$work/trace.jsonl")"
touch "$work/rings.txt" "$work/late.jsonl"
echo "E2E-TRACED guest: $(grep -E '^GUEST-E2E-(BOOTED|WORKLOAD|NET|DONE)' "$work/console.log" | tr '\n' ' ')"
[ "$rc" = 0 ] || fail "tracer A (gma-trace starting QEMU) exited with status $rc"
grep -q '^GUEST-E2E-DONE' "$work/console.log" || fail "the nested guest did not finish its workload"
if [ "$rc" != 0 ] || ! grep -q '^GUEST-E2E-DONE' "$work/console.log"; then
	echo "E2E-TRACED failed; gma-trace's stderr:"
	tail -n 40 "$work/gma-trace.err"
	sed -n '1s/^/E2E-TRACED error: /p' "$work/gma-trace.err"
	if [ -s "$work/console.log" ]; then
		echo "E2E-TRACED guest console:"
		tail -n 20 "$work/console.log"
	fi
fi
sed 's/^/E2E-RINGS /' "$work/rings.txt"
check "rings (from boot)" rings "from boot" "$work/rings.txt" "$work/trace.jsonl"
check "health (from boot)" health "from boot" "$work/trace.jsonl"
check "rings (attached late)" rings "attached late" "$work/rings.txt" "$work/late.jsonl"
check "health (attached late)" health "attached late" "$work/late.jsonl"
echo "VMTEST-FILE-BEGIN guest-e2e-$machine-late.jsonl"
cat "$work/late.jsonl"
echo "VMTEST-FILE-END guest-e2e-$machine-late.jsonl"
grep '"type":"queue_stats"' "$work/late.jsonl" | head -3 | sed 's/^/E2E-LATE stats: /'
if [ "$(wc -c <"$work/trace.jsonl")" -le 4194304 ]; then
	echo "VMTEST-FILE-BEGIN guest-e2e-$machine.jsonl"
	cat "$work/trace.jsonl"
	echo "VMTEST-FILE-END guest-e2e-$machine.jsonl"
fi
check "blk (from boot)" blk "$write_count" $((read_count * 65536)) "$work/trace.jsonl"
if [ "$failures" = 0 ]; then
	echo "E2E-VERDICT ok"
else
	echo "E2E-VERDICT FAIL: $failures failure(s) (the E2E-FAIL lines)"
	exit 1
fi

#!/usr/bin/env bash
# make demo: the demo VM (tools/demo-vmm) under gma-trace, a newcomer's first sight of it.
#   1. the VM started under `gma-trace rings`: every chain its virtio driver queues, decoded,
#      on virtio-mmio devices and on virtio-pci ones (modern, and a legacy I/O BAR) whose
#      configuration space the guest reaches through ECAM, as a q35 Linux guest does;
#   2. with the VM running: `gma-trace vms`, a guest range read through the kernel across
#      memslots, a queue decoded from userspace, and the per-queue statistics.
set -euo pipefail
out=${1:-build}
trace=$out/gma-trace
vmm=$out/demo-vmm

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: gma-trace loads BPF programs: run as root (or with CAP_BPF+CAP_PERFMON)" >&2
	exit 1
fi
if [ ! -w /dev/kvm ]; then
	echo "make demo: /dev/kvm is missing or not writable: the demo VM needs KVM" >&2
	exit 1
fi
mount | grep -q ' /sys/kernel/tracing ' || mount -t tracefs none /sys/kernel/tracing 2>/dev/null || true

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "gma-trace rings --completions -- $vmm --seconds 4"
echo "(the demo VMM boots a 32-bit guest with virtio-blk, -console and -net; gma-trace learns"
echo " each queue from the driver's register writes and decodes every chain at its notify)"
"$trace" rings --completions -- "$vmm" --seconds 4 2> >(grep -v '^guest: \|^ready' >&2)

step "gma-trace rings --stats -- $vmm --transport both --pci-config ecam --seconds 8   (one table, at the end)"
echo "(the same devices on virtio-mmio and on PCI: gma-trace learns the PCI functions from the"
echo " guest's configuration space accesses, made through the ECAM window the guest maps as"
echo " firmware does on q35 (the host bridge's PCIEXBAR), BARs and VirtIO capabilities; the"
echo " network device on PCI is a legacy one, driven through its I/O BAR)"
"$trace" rings --stats --interval-ms 60000 --duration 8 -- "$vmm" --transport both \
	--pci-config ecam --seconds 8 2> >(grep -v '^guest: \|^ready\|^virtio-console' >&2)

step "a running VM"
# completions held 30 ms, so the one-shot decode below finds requests in flight
"$vmm" --seconds 30 --complete-delay-ms 30 >/dev/null 2>&1 &
vm=$!
trap 'kill $vm 2>/dev/null; wait $vm 2>/dev/null' EXIT
for _ in $(seq 50); do "$trace" vms -j 2>/dev/null | grep -q "\"pid\":$vm" && break; sleep 0.1; done

step "gma-trace vms"
"$trace" vms

step "gma-trace mem --pid $vm --gpa 0x13ff0 --len 0x30 --via-bpf   (slot 1 -> slot 2, read in the kernel)"
"$trace" mem --pid "$vm" --gpa 0x13ff0 --len 0x30 --via-bpf

step "gma-trace mem --pid $vm --gpa 0x1fff0 --len 0x20   (the end of slot 3, then a hole)"
"$trace" mem --pid "$vm" --gpa 0x1fff0 --len 0x20

step "gma-trace ring --pid $vm --queue base=0xd0001000,index=0,num=16,desc=0x31000,driver=0x31100,device=0x31200,type=2 -d"
echo "(the blk queue's state now, read entirely from userspace through the accessor)"
"$trace" ring --pid "$vm" -d \
	--queue base=0xd0001000,index=0,num=16,desc=0x31000,driver=0x31100,device=0x31200,type=2

step "gma-trace rings --pid $vm --stats --duration 3   (queues set up before the trace: given with --queue)"
"$trace" rings --pid "$vm" --stats --duration 3 \
	--queue base=0xd0001000,index=0,num=16,desc=0x31000,driver=0x31100,device=0x31200,type=2 \
	--queue base=0xd0002000,index=1,num=8,desc=0x31800,driver=0x31900,device=0x31a00,type=3 \
	--queue base=0xd0003000,index=1,num=8,desc=0x32000,driver=0x32100,device=0x32200,type=1

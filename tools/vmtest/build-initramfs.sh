#!/usr/bin/env bash
# Builds the initramfs of the vmtest VM (tools/vmtest/run.sh).
#
# Usage: tools/vmtest/build-initramfs.sh OUTPUT KROOT KVER DEST
#   OUTPUT  the build directory (the tests have it compiled in as GMA_OUTPUT)
#   KROOT   an unpacked Debian linux-image package (KROOT/boot, KROOT/lib/modules/KVER),
#           with modules.dep (depmod -b KROOT KVER)
#   DEST    the cpio archive to write (newc, uncompressed: TCG unpacks it faster than it
#           would decompress it); its directory also holds the staging trees (one per kernel)
#
# Contents: busybox-static (shell and tools) and tools/vmtest/init as /init; the project's test
# binaries, gma-trace, demo-vmm and demo-guest.bin at the paths the tests expect (/gma is the
# repository root, /gma/OUTPUT the build directory), tests/run-criterion.sh (the init runs each
# test binary through it) and the fuzz corpus test_vring_walk_bpf compares (tests/fuzz/corpus/
# ring, read relative to /gma); every shared library ldd lists for them and
# the dynamic loader, at the same paths; the kernel modules of config's VMTEST_VM_MODULES with
# their dependencies and the order to load them in (/etc/vmtest/modules); and for the nested
# guest (guest-e2e.sh) QEMU with its libraries and firmware, the guest kernel and the guest's
# own initramfs (busybox, tools/vmtest/guest-init, the virtio modules).
set -euo pipefail

[ $# -eq 4 ] || { echo "usage: $0 OUTPUT KROOT KVER DEST" >&2; exit 2; }
OUTPUT=$1 KROOT=$2 KVER=$3 DEST=$4
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/vmtest/config
. "$HERE/config"
# shellcheck source=tools/vmtest/tests.sh
. "$HERE/tests.sh"

STAGE=$(dirname "$DEST")/initramfs.d
GSTAGE=$(dirname "$DEST")/guest-initramfs.d
MODDIR=$KROOT/lib/modules/$KVER
BUSYBOX=$(command -v busybox || echo /bin/busybox)
file "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic executable' ||
	{ echo "build-initramfs: $BUSYBOX is not static (install busybox-static)" >&2; exit 1; }

# Inside the VM the repository root is /gma, so a relative OUTPUT is /gma/OUTPUT; an absolute
# OUTPUT (compiled into the tests as is) stays where it is.
case "$OUTPUT" in
/*) VM_OUT=$OUTPUT ;;
*) VM_OUT=/gma/$OUTPUT ;;
esac

rm -rf "$STAGE" "$GSTAGE"
mkdir -p "$STAGE"/{proc,sys,dev,tmp,run,root,etc/vmtest,bin,sbin,usr/bin,usr/sbin,gma}
mkdir -p "$GSTAGE"/{proc,sys,dev,tmp,bin,sbin,usr/bin,usr/sbin,etc}

# busybox and one symlink per applet, at the path busybox names for it
install_busybox() { # ROOT
	local root=$1 a
	install -m 0755 "$BUSYBOX" "$root/bin/busybox"
	while read -r a; do
		[ "$a" = bin/busybox ] && continue
		[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done < <("$BUSYBOX" --list-full)
}

# SRC -> ROOT/DST (default: SRC's own path), with the libraries ldd lists for it and the
# loader at their own paths
declare -A copied=()
copy_with_libs() { # ROOT SRC [DST]
	local root=$1 src=$2 dst=${3:-$2} lib
	mkdir -p "$root$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$root$dst"
	# ldd prints "name => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)"
	while read -r lib; do
		[ -n "${copied[$root:$lib]:-}" ] && continue
		copied[$root:$lib]=1
		mkdir -p "$root$(dirname "$lib")"
		cp -L --preserve=mode "$lib" "$root$lib"
	done < <(ldd "$src" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

# Module NAME... -> ROOT/lib/modules/KVER/..., and the insmod order in ROOT/LIST (paths
# relative to /lib/modules/KVER, dependencies first, each once)
copy_modules() { # ROOT LIST NAME...
	local root=$1 list=$2 m p rel ko
	shift 2
	mkdir -p "$root/lib/modules/$KVER" "$(dirname "$root/$list")"
	: >"$root/$list"
	for m in "$@"; do
		if ! modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" >/tmp/vmtest-deps.$$ 2>&1; then
			echo "build-initramfs: module $m: $(cat /tmp/vmtest-deps.$$)" >&2
			rm -f /tmp/vmtest-deps.$$
			exit 1
		fi
		while read -r kw p _; do
			[ "$kw" = insmod ] || continue # "builtin NAME" needs nothing
			rel=${p#"$MODDIR"/}
			# the list names modules uncompressed (6.12's are .ko.xz): compare those names
			ko=${rel%.xz}
			ko=${ko%.zst}
			grep -qxF "$ko" "$root/$list" && continue
			mkdir -p "$root/lib/modules/$KVER/$(dirname "$rel")"
			case "$rel" in
			*.xz) xz -dc "$p" >"$root/lib/modules/$KVER/$ko" ;;
			*.zst) zstd -qdc "$p" >"$root/lib/modules/$KVER/$ko" ;;
			*) cp "$p" "$root/lib/modules/$KVER/$ko" ;;
			esac
			echo "$ko" >>"$root/$list"
		done </tmp/vmtest-deps.$$
		rm -f /tmp/vmtest-deps.$$
	done
}

# --- the test VM ---------------------------------------------------------------------------
install_busybox "$STAGE"
install -m 0755 "$HERE/init" "$STAGE/init"
copy_modules "$STAGE" etc/vmtest/modules $VMTEST_VM_MODULES

# Tests (tests.sh): first the check that this VM looks like a bare-metal KVM host (the init's
# bare-host: no VirtIO module, no VirtIO type in the kernel's BTF), then every
# tests/{unit,bpf}/test_X.c has OUTPUT/tests/test_X (the Makefile built them), then the
# nested-guest checks; all of them are shipped, VMTEST_ONLY selects which run.
mkdir -p "$STAGE$VM_OUT/tests"
while read -r kind t; do
	case "$kind" in unit | bpf) ;; *) continue ;; esac
	[ -x "$OUTPUT/tests/$t" ] || { echo "build-initramfs: $OUTPUT/tests/$t missing (make $OUTPUT/tests/$t)" >&2; exit 1; }
	copy_with_libs "$STAGE" "$OUTPUT/tests/$t" "$VM_OUT/tests/$t"
done < <(vmtest_all_tests)
vmtest_selected_tests >"$STAGE/etc/vmtest/tests"
# The init runs each Criterion binary through run-criterion.sh (a skipped test fails, counts
# on a CRITERION line run.sh collects); test_vring_walk_bpf reads its corpus relative to the
# repository root, the VM's cwd /gma, and fails where it is missing.
install -D -m 0755 tests/run-criterion.sh "$STAGE/gma/tests/run-criterion.sh"
[ -n "$(ls tests/fuzz/corpus/ring)" ] || { echo "build-initramfs: tests/fuzz/corpus/ring is empty" >&2; exit 1; }
mkdir -p "$STAGE/gma/tests/fuzz/corpus"
cp -R tests/fuzz/corpus/ring "$STAGE/gma/tests/fuzz/corpus/ring"
for b in gma-trace demo-vmm demo-guest.bin; do
	[ -e "$OUTPUT/$b" ] || { echo "build-initramfs: $OUTPUT/$b missing (make all)" >&2; exit 1; }
	copy_with_libs "$STAGE" "$OUTPUT/$b" "$VM_OUT/$b"
done
# Tools the tests call besides the project's own: bpftool (which programs are attached) and
# util-linux's setpriv (running gma-trace without privilege), at their paths on the host (the
# tests name setpriv by its path: busybox's shell would run its own smaller applet); busybox's
# symlinks are removed first, or cp would write through them into busybox.
for b in bpftool setpriv; do
	p=$(command -v "$b") || { echo "build-initramfs: $b missing (tools/deps.sh)" >&2; exit 1; }
	p=$(readlink -f "$p")
	rm -f "$STAGE/bin/$b" "$STAGE$p"
	copy_with_libs "$STAGE" "$p" "$p"
done
echo "$VM_OUT" >"$STAGE/etc/vmtest/output"
echo "$KVER" >"$STAGE/etc/vmtest/kver"
# the kernel's configuration (the init's bare-host check: is VirtIO built in?)
cp "$KROOT/boot/config-$KVER" "$STAGE/etc/vmtest/kconfig"

# --- the nested guest (guest-e2e.sh) -------------------------------------------------------
if [ "$VMTEST_GUEST_E2E" = 1 ]; then
	install_busybox "$GSTAGE"
	install -m 0755 "$HERE/guest-init" "$GSTAGE/init"
	copy_modules "$GSTAGE" etc/modules $VMTEST_GUEST_MODULES
	echo "$KVER" >"$GSTAGE/etc/kver"
	mkdir -p "$STAGE/vmtest"
	(cd "$GSTAGE" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$STAGE/vmtest/guest-initramfs.cpio"
	cp "$KROOT/boot/vmlinuz-$KVER" "$STAGE/vmtest/vmlinuz"
	QEMU=$(command -v qemu-system-x86_64)
	copy_with_libs "$STAGE" "$QEMU"
	# firmware of the microvm machine (qboot) and of q35 (SeaBIOS), the linux boot option ROMs
	# (QEMU looks in both directories: Debian's seabios package holds SeaBIOS)
	mkdir -p "$STAGE/usr/share/qemu" "$STAGE/usr/share/seabios"
	for fw in qemu/bios-microvm.bin qemu/qboot.rom seabios/bios-256k.bin qemu/linuxboot.bin \
		qemu/linuxboot_dma.bin qemu/pvh.bin qemu/kvmvapic.bin qemu/multiboot.bin \
		qemu/multiboot_dma.bin; do
		[ -e "/usr/share/$fw" ] && cp -L "/usr/share/$fw" "$STAGE/usr/share/$fw"
	done
	[ -e "$STAGE/usr/share/seabios/bios-256k.bin" ] ||
		{ echo "build-initramfs: /usr/share/seabios/bios-256k.bin missing (package seabios)" >&2; exit 1; }
	mkdir -p "$STAGE/gma/tools/vmtest"
	install -m 0755 "$HERE/guest-e2e.sh" "$STAGE/gma/tools/vmtest/guest-e2e.sh"
	# the ground truth (qmp-rings) and the checker of the traces (check-e2e: rings, health, blk)
	for b in qmp-rings check-e2e; do
		[ -x "$OUTPUT/$b" ] || { echo "build-initramfs: $OUTPUT/$b missing (make $OUTPUT/$b)" >&2; exit 1; }
		copy_with_libs "$STAGE" "$OUTPUT/$b" "$VM_OUT/$b"
	done
fi

(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$DEST.tmp"
mv "$DEST.tmp" "$DEST"
echo "  VMTEST   $(basename "$DEST"): $(du -h "$DEST" | cut -f1)," \
	"modules: $(tr '\n' ' ' <"$STAGE/etc/vmtest/modules" | sed 's|[^ ]*/||g; s|\.ko||g')"

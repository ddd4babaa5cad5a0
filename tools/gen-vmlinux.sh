#!/usr/bin/env bash
# Regenerates vmlinux.h from the running kernel's BTF: usage tools/gen-vmlinux.sh OUT.h
# Where KVM is built as a module, its types live in split BTF (/sys/kernel/btf/kvm and
# kvm_amd/kvm_intel); they are dumped on top of vmlinux's and appended, so one header holds
# struct kvm and friends whether KVM was built in or not.
set -euo pipefail
out=${1:?usage: gen-vmlinux.sh OUT.h}
btf=/sys/kernel/btf
[ -r "$btf/vmlinux" ] || { echo "gen-vmlinux: $btf/vmlinux missing: kernel built without CONFIG_DEBUG_INFO_BTF" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# body FILE: the type definitions of a dump, without its guard and attribute push/pop lines.
body() {
	awk '!pushed && /^#ifndef BPF_NO_PRESERVE/ { next }
	     /^#pragma clang attribute push/ { skip = pushed = 1; next } skip && /^#endif/ { skip = 0; next }
	     skip { next } { lines[++n] = $0 }
	     END { last = n; for (i = n; i > 0; i--) if (lines[i] ~ /^#ifndef BPF_NO_PRESERVE/) { last = i - 1; break }
	           for (i = 1; i <= last; i++) if (lines[i] !~ /^#(ifndef|define) __VMLINUX_H__/) print lines[i] }' "$1"
}
bpftool btf dump file "$btf/vmlinux" format c >"$tmp/vmlinux"
{
	echo '#ifndef __VMLINUX_H__'
	echo '#define __VMLINUX_H__'
	echo
	echo '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX'
	echo '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)'
	echo '#endif'
	body "$tmp/vmlinux"
	for mod in kvm kvm_amd kvm_intel; do
		[ -r "$btf/$mod" ] || continue
		echo "gen-vmlinux: adding the module BTF of $mod" >&2
		echo "/* types of module $mod */"
		bpftool btf dump file "$btf/$mod" -B "$btf/vmlinux" format c >"$tmp/$mod"
		body "$tmp/$mod"
	done
	echo '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX'
	echo '#pragma clang attribute pop'
	echo '#endif'
	echo
	echo '#endif /* __VMLINUX_H__ */'
} >"$tmp/out"
grep -q 'struct kvm_memslots {' "$tmp/out" || echo "gen-vmlinux: warning: no KVM types found (KVM not loaded?)" >&2
mkdir -p "$(dirname "$out")"
mv "$tmp/out" "$out"
echo "gen-vmlinux: wrote $out ($(wc -l <"$out") lines) from kernel $(uname -r)"

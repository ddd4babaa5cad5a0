#!/usr/bin/env bash
# Installs the Debian packages gma's build and tests need, and only those that are missing.
# Idempotent: a second run installs nothing. Usage: tools/deps.sh [build|test|vmtest|fuzz|bench]...
set -euo pipefail

build_pkgs=(make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool linux-libc-dev
	pkg-config clang-format libjson-c-dev)
test_pkgs=(libcriterion-dev abigail-tools)
vmtest_pkgs=(qemu-system-x86 seabios busybox-static cpio kmod xz-utils)
fuzz_pkgs=(libclang-rt-14-dev)
bench_pkgs=(valgrind bpftrace)

want=()
[ $# -eq 0 ] && set -- build
for set in "$@"; do
	case "$set" in
	build) want+=("${build_pkgs[@]}") ;;
	test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
	vmtest) want+=("${vmtest_pkgs[@]}") ;;
	fuzz) want+=("${fuzz_pkgs[@]}") ;;
	bench) want+=("${bench_pkgs[@]}") ;;
	*) echo "deps.sh: unknown package set '$set'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# Deduplicate while keeping order, so the message lists each package once.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/gma-deps.log 2>&1; then
	$sudo apt-get update -q >>/tmp/gma-deps.log 2>&1 || true
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/gma-deps.log 2>&1 || {
		echo "deps: apt-get install failed; see /tmp/gma-deps.log" >&2
		tail -20 /tmp/gma-deps.log >&2
		exit 1
	}
fi

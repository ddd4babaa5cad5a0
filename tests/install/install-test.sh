#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# install-test.sh OUTPUT [MAKE]: `make install` into a temporary DESTDIR (PREFIX=/usr), then
# from that installed copy only: build examples/ through pkg-config (shared and static
# libgma, and the raw skeleton with libbpf), run them against the demo VM and check what they
# print; check the static gma-trace runs in a root with nothing but itself; `make uninstall`
# must leave no file behind. Root: the examples load BPF programs.
set -eu
out=${1:-build}
make=${2:-make}
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
# the version, written once (include/gma/version.h): the file names, the soname, gma.pc and
# gma-trace --version must all say it; the soname is libgma.so.0.MINOR before 1.0, then
# libgma.so.MAJOR
version=$(awk '/^#define GMA_VERSION_(MAJOR|MINOR|PATCH) / { printf "%s%s", sep, $3; sep = "." }' \
	include/gma/version.h)
case "$version" in
0.*) soname=libgma.so.${version%.*} ;;
*) soname=libgma.so.${version%%.*} ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "install-test: the examples load BPF programs: run as root" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/gma-install-test.XXXXXX)
dest=$tmp/dest
vm_pid=
cleanup() {
	[ -z "$vm_pid" ] || kill "$vm_pid" 2>/dev/null || true
	[ -z "$vm_pid" ] || wait "$vm_pid" 2>/dev/null || true
	umount -R "$tmp/root/sys" 2>/dev/null || true
	umount -R "$tmp/root/dev" 2>/dev/null || true
	umount "$tmp/root/proc" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "install-test: $*" >&2
	exit 1
}
step() { printf '  %-8s %s\n' INSTALL "$*"; }
# ldd fails on a static executable, saying so
is_static() { grep -q 'not a dynamic executable' <<<"$(LC_ALL=C ldd "$1" 2>&1)"; }

# --- install ---------------------------------------------------------------------------
mkdir -p "$dest"
$make -s --no-print-directory OUTPUT="$out" DESTDIR="$dest" PREFIX=/usr install >"$tmp/install.log" ||
	{ cat "$tmp/install.log" >&2; fail "make install failed"; }
for f in usr/sbin/gma-trace usr/lib/libgma.a usr/lib/libgma.so.$version usr/lib/pkgconfig/gma.pc \
	usr/include/gma/gma.h usr/include/gma/virtio.h usr/include/gma/record.h \
	usr/include/gma/accessor.h usr/include/gma/tracer.skel.h usr/include/gma/tracer_maps.h usr/include/gma/tracer_caps.h \
	usr/share/gma/tracer.bpf.o usr/share/man/man8/gma-trace.8 usr/share/man/man3/libgma.3 \
	usr/share/bash-completion/completions/gma-trace; do
	[ -f "$dest/$f" ] || fail "make install did not install /$f"
done
[ -x "$dest/usr/sbin/gma-trace" ] || fail "/usr/sbin/gma-trace is not executable"
v=$("$dest/usr/sbin/gma-trace" --version)
# "gma-trace X.Y.Z (libgma X.Y)": the program's version and the library's it runs with
case "$v" in
"gma-trace $version (libgma ${version%.*})") ;;
*) fail "gma-trace --version says '$v', include/gma/version.h $version" ;;
esac
[ "$(readlink "$dest/usr/lib/$soname")" = "libgma.so.$version" ] || fail "$soname link"
[ "$(readlink "$dest/usr/lib/libgma.so")" = "$soname" ] || fail "libgma.so link"
readelf -d "$dest/usr/lib/libgma.so.$version" | grep -qF "Library soname: [$soname]" ||
	fail "libgma.so.$version has no soname $soname: $(readelf -d "$dest/usr/lib/libgma.so.$version" | grep SONAME)"
grep -qx 'prefix=/usr' "$dest/usr/lib/pkgconfig/gma.pc" || fail "gma.pc: prefix is not /usr"
step "$(find "$dest" ! -type d | wc -l) files and links in a DESTDIR, PREFIX=/usr"

# --- the ABI: only gma_* exported, only gma_ / GMA_ names in the installed headers -------
syms=$(nm -D --defined-only "$dest/usr/lib/libgma.so.$version" | awk '$2 != "A" { print $3 }')
other=$(grep -v '^gma_' <<<"$syms" || true)
[ -z "$other" ] || fail "libgma.so exports symbols outside gma_*: $(echo $other)"
step "libgma.so exports $(wc -l <<<"$syms") symbols, all gma_*"
# each in the version node of the release that added it (user/lib/libgma.map)
nodes=$(objdump -T "$dest/usr/lib/libgma.so.$version" | awk '$NF ~ /^gma_/ { print $(NF - 1) }' |
	sort | uniq -c | awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }')
objdump -T "$dest/usr/lib/libgma.so.$version" | awk '$NF ~ /^gma_/ && $(NF - 1) !~ /^GMA_0\.[0-9]+$/' |
	grep . && fail "libgma.so exports gma_* symbols without a GMA_0.x version"
for s in GMA_0.2:gma_qmp_pci_function GMA_0.2:gma_tracer_add_pci_function GMA_0.3:gma_qmp_new; do
	node=${s%%:*} sym=${s#*:}
	objdump -T "$dest/usr/lib/libgma.so.$version" |
		awk -v n="$node" -v s="$sym" '$NF == s && $(NF - 1) == n { ok = 1 } END { exit !ok }' ||
		fail "$sym is not in version node $node"
done
objdump -T "$dest/usr/lib/libgma.so.$version" | grep -q "GMA_0\.3 *gma_load_error_kind_name\$" ||
	fail "gma_load_error_kind_name is not in version node GMA_0.3"
step "symbol versions: $nodes"
# file-scope struct/enum/union tags and macros (the accessor's errno and __always_inline
# fallbacks for BPF, and the skeleton's _Static_assert for C++, are standard names defined
# only where missing)
names=$(cat "$dest"/usr/include/gma/*.h |
	sed -n -e 's/^#define \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' \
		-e 's/^\(struct\|enum\|union\) \([A-Za-z_][A-Za-z0-9_]*\) {.*/\2/p' |
	grep -Ev '^(_*gma_|_*GMA_|__always_inline$|_Static_assert$|E[A-Z0-9]+$)' | sort -u || true)
[ -z "$names" ] || fail "installed headers define names outside gma_/GMA_: $(echo $names)"
step "installed headers define only gma_ / GMA_ names"

# --- build the examples from the installed copy ----------------------------------------
export PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
pkg-config --exists gma || fail "pkg-config does not find gma in $PKG_CONFIG_PATH"
[ "$(pkg-config --modversion gma)" = "$version" ] || fail "gma.pc version"
cflags=$(pkg-config --cflags gma)
libs=$(pkg-config --libs gma)
slibs=$(pkg-config --static --libs gma)
case "$cflags" in *"$dest/usr/include"*) ;; *) fail "cflags '$cflags' miss the DESTDIR" ;; esac
step "pkg-config --cflags gma: $cflags"
step "pkg-config --libs gma: $libs"
step "pkg-config --static --libs gma: $slibs"
cc=${CC:-cc}
warn="-Wall -Wextra -Werror"
# shared: the soname found through the rpath into DESTDIR
$cc $warn -O2 $cflags examples/list-vms-and-trace.c $libs -Wl,-rpath,"$dest/usr/lib" \
	-o "$tmp/list-vms-and-trace"
ldd "$tmp/list-vms-and-trace" | grep -qF "$soname => $dest/usr/lib/$soname" ||
	fail "list-vms-and-trace does not run with the installed $soname: $(ldd "$tmp/list-vms-and-trace")"
# static: the whole program, libgma.a and its Requires.private
$cc $warn -O2 -static $cflags examples/list-vms-and-trace.c $slibs \
	-o "$tmp/list-vms-and-trace-static" 2>"$tmp/static.log" ||
	{ cat "$tmp/static.log" >&2; fail "static link of list-vms-and-trace failed"; }
# the raw skeleton and libbpf, no libgma
$cc $warn -O2 $cflags $(pkg-config --cflags libbpf) examples/raw-skeleton.c \
	$(pkg-config --libs libbpf) -o "$tmp/raw-skeleton"
$cc $warn -O2 -DRAW_REC_VERSION=99 $cflags examples/raw-skeleton.c $(pkg-config --libs libbpf) \
	-o "$tmp/raw-skeleton-v99"
step "examples built against $dest/usr"

# --- run them against the demo VM ------------------------------------------------------
# the demo VM stops once it has done its requests (a slow machine takes longer, never fails)
vmm="$src/$out/demo-vmm --requests 12 --seconds 110"
"$tmp/list-vms-and-trace" -s 120 -- $vmm >"$tmp/list.out" 2>&1 || {
	cat "$tmp/list.out" >&2
	fail "list-vms-and-trace failed"
}
grep -qxF "libgma ${version%.*}" "$tmp/list.out" || fail "list-vms-and-trace: no version line"
grep -q '^[0-9]* VM(s)$' "$tmp/list.out" || fail "list-vms-and-trace: no VM list"
# a decoded virtio-blk request: "chain pid N virtio-blk@d0001000 q0 head H: OUT sector S ..."
if ! grep -Eq '^chain pid [0-9]+ virtio-blk@d0001000 q0 head [0-9]+: (IN|OUT|FLUSH|GET_ID) sector' \
	"$tmp/list.out"; then
	cat "$tmp/list.out" >&2
	fail "list-vms-and-trace printed no virtio-blk chain"
fi
grep -Eq '^[0-9]+ chains, 0 records dropped, 0 malformed$' "$tmp/list.out" ||
	fail "list-vms-and-trace: $(tail -1 "$tmp/list.out")"
step "list-vms-and-trace: $(grep -c '^chain pid' "$tmp/list.out") chains," \
	"$(grep -c 'virtio-blk@d0001000' "$tmp/list.out") of virtio-blk"
"$tmp/list-vms-and-trace-static" >"$tmp/static.out" 2>&1 || {
	cat "$tmp/static.out" >&2
	fail "static list-vms-and-trace failed"
}
grep -q '^[0-9]* VM(s)$' "$tmp/static.out" || fail "static list-vms-and-trace: no VM list"
is_static "$tmp/list-vms-and-trace-static" ||
	fail "list-vms-and-trace-static is dynamic"
step "list-vms-and-trace (static libgma): $(head -2 "$tmp/static.out" | tail -1)"

"$tmp/raw-skeleton" -s 120 -- $vmm >"$tmp/raw.out" 2>&1 || {
	cat "$tmp/raw.out" >&2
	fail "raw-skeleton failed"
}
if ! grep -Eq '^QUEUE pid [0-9]+ base 0xd0001000 q0 num 16 desc 0x' "$tmp/raw.out" ||
	! grep -Eq '^CHAIN pid [0-9]+ base 0xd0001000 q0 ' "$tmp/raw.out"; then
	cat "$tmp/raw.out" >&2
	fail "raw-skeleton printed no QUEUE and CHAIN records of the virtio-blk device"
fi
step "raw-skeleton: $(grep -c '^QUEUE' "$tmp/raw.out") QUEUE, $(grep -c '^CHAIN' "$tmp/raw.out") CHAIN records"
# A reader built for another record version must refuse the records, saying why.
if "$tmp/raw-skeleton-v99" -s 120 -- $vmm >"$tmp/v99.out" 2>&1; then
	cat "$tmp/v99.out" >&2
	fail "raw-skeleton built for record version 99 accepted the tracer's records"
fi
grep -Eq 'unknown record version [0-9]+ \(this program reads version 99 only\)' "$tmp/v99.out" || {
	cat "$tmp/v99.out" >&2
	fail "raw-skeleton-v99: no clear error"
}
grep -q '^QUEUE\|^CHAIN' "$tmp/v99.out" && fail "raw-skeleton-v99 printed records it rejects"
step "raw-skeleton built for version 99: rejects the records"

# --- the static gma-trace, in a root holding nothing but itself ------------------------
static=$out/gma-trace-static
is_static "$static" || fail "$static is dynamic"
"$src/$out/demo-vmm" --seconds 30 >/dev/null 2>&1 &
vm_pid=$!
mkdir -p "$tmp/root/proc" "$tmp/root/sys" "$tmp/root/dev"
cp "$static" "$tmp/root/gma-trace"
found=
for _ in $(seq 50); do
	if unshare -m sh -c "mount -t proc proc '$tmp/root/proc' && mount --rbind /sys '$tmp/root/sys' &&
		mount --rbind /dev '$tmp/root/dev' &&
		chroot '$tmp/root' /gma-trace vms -j" >"$tmp/vms.json" 2>"$tmp/vms.err" &&
		grep -q "\"pid\":$vm_pid," "$tmp/vms.json"; then
		found=1
		break
	fi
	sleep 0.2
done
[ -n "$found" ] || fail "static gma-trace in an empty root: $(cat "$tmp/vms.err" "$tmp/vms.json")"
kill "$vm_pid"
wait "$vm_pid" 2>/dev/null || true
vm_pid=
step "gma-trace-static ($(stat -c %s "$static") bytes) lists the demo VM in a root with" \
	"only itself, /proc, /sys and /dev"

# --- uninstall -------------------------------------------------------------------------
$make -s --no-print-directory OUTPUT="$out" DESTDIR="$dest" PREFIX=/usr uninstall >/dev/null
left=$(find "$dest" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
step "make uninstall removed every file ($(find "$dest" -type d | wc -l) empty directories left)"
echo "  INSTALL  ok"

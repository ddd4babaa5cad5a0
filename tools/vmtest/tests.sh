# The tests of a vmtest VM, sourced (bash) by run.sh and build-initramfs.sh from the repository
# root, after tools/vmtest/config: run.sh checks VMTEST_ONLY against the same list the VM runs,
# before it fetches a kernel.

# Every test, one "KIND NAME" line each, in the VM's order: the check that the VM looks like a
# bare-metal KVM host, every tests/{unit,bpf}/test_X.c (its binary OUTPUT/tests/test_X), and
# with VMTEST_GUEST_E2E=1 the nested-guest check on each machine type.
vmtest_all_tests() {
	local kind src
	echo "host bare-host"
	for kind in unit bpf; do
		for src in tests/$kind/test_*.c; do
			[ -e "$src" ] || continue
			echo "$kind $(basename "$src" .c)"
		done
	done
	if [ "$VMTEST_GUEST_E2E" = 1 ]; then
		echo "e2e guest-e2e-microvm"
		echo "e2e guest-e2e-q35"
	fi
}

# The tests this run makes, "KIND NAME" lines: those of VMTEST_ONLY (all when empty), each
# VMTEST_REPEAT times (NAME, NAME#2, ...), to chase a rare failure or hang.
vmtest_selected_tests() {
	vmtest_all_tests | awk -v only=" $VMTEST_ONLY " -v n="$VMTEST_REPEAT" '
		only ~ /^ *$/ || index(only, " " $2 " ") { kind[++k] = $1; name[k] = $2 }
		END { for (r = 1; r <= n; r++) for (i = 1; i <= k; i++) print kind[i], name[i] (r > 1 ? "#" r : "") }'
}

# The names of VMTEST_ONLY that are no test of vmtest_all_tests, space-separated.
vmtest_unknown_tests() {
	local t all
	all=" $(vmtest_all_tests | awk '{ print $2 }' | tr '\n' ' ') "
	for t in $VMTEST_ONLY; do
		case "$all" in *" $t "*) ;; *) printf '%s ' "$t" ;; esac
	done
}

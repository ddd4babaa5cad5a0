# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# gma: X.bpf.c -> X.bpf.o -> X.skel.h -> programs, libgma.{a,so}, tests.
# `make V=1` shows every command. Missing Debian packages are installed by tools/deps.sh.

OUTPUT ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := x86_64
BPF_ARCH := x86
VMLINUX_DIR := vmlinux/$(ARCH)

# CFLAGS is the caller's (optimisation, debug info: make CFLAGS=-O0); what the project needs
# (include paths, the language, its warnings as errors) is added whatever CFLAGS says.
CFLAGS ?= -g -O2
WARNFLAGS := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow
# bpf/ (what BPF and libgma share) is on the include path of libgma, its tests and tools,
# never of gma-trace, which sees only libgma's public headers.
ALL_CFLAGS = $(CFLAGS) $(WARNFLAGS) -fPIC -std=gnu11 -Iinclude -I$(OUTPUT)
# Each object's header dependencies, written by the compiler as it builds it (X.d beside X.o).
DEPFLAGS = -MMD -MP
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -mcpu=v3 \
	-I$(VMLINUX_DIR) -Iinclude -Ibpf
LDLIBS_BPF := -lbpf -lelf -lz -ljson-c

# The version is written once, in include/gma/version.h.
LIBGMA_VERSION := $(shell awk '/^\#define GMA_VERSION_(MAJOR|MINOR|PATCH) / { \
	printf "%s%s", sep, $$3; sep = "." }' include/gma/version.h)
# before 1.0 every minor release is an ABI of its own (include/gma/version.h)
LIBGMA_MAJOR := $(word 1,$(subst ., ,$(LIBGMA_VERSION)))
LIBGMA_SOVERSION := $(if $(filter 0,$(LIBGMA_MAJOR)),0.$(word 2,$(subst ., ,$(LIBGMA_VERSION))),$(LIBGMA_MAJOR))

# libgma is user/lib/ (each X.c one module; the internal headers there too); gma-trace, the
# CLI built on it, is user/gma-trace/. The library exports only what its public headers mark
# GMA_API: hidden visibility by default, and the version script names the ABI.
LIBGMA_SRCS := $(wildcard user/lib/*.c)
LIBGMA_OBJS := $(patsubst user/lib/%.c,$(OUTPUT)/user/lib/%.o,$(LIBGMA_SRCS))
LIBGMA_MAP := user/lib/libgma.map
LIBGMA_CFLAGS := -fvisibility=hidden -Iuser/lib -Ibpf
# The skeleton as installed, for programs that embed it (skeleton gma_tracer_bpf); its types
# are bpf/tracer_maps.h's, named gma_tracer_* at the source and installed as they are.
PUBLIC_TRACER_HEADERS := $(OUTPUT)/include/gma/tracer.skel.h
# gma-trace's printers (chains, one-line formats, the JSON writer): an internal static library
# of the CLI, its tests and bench-decode; not installed, not in libgma's ABI.
PRINT_SRCS := $(wildcard user/print/*.c)
PRINT_OBJS := $(patsubst user/print/%.c,$(OUTPUT)/user/print/%.o,$(PRINT_SRCS))
PRINT_LIB := $(OUTPUT)/libgma-print.a
GMA_TRACE_SRCS := $(wildcard user/gma-trace/*.c)
GMA_TRACE_OBJS := $(patsubst user/gma-trace/%.c,$(OUTPUT)/user/gma-trace/%.o,$(GMA_TRACE_SRCS))

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# Criterion unit tests (tests/unit/test_X.c) and BPF selftests (tests/bpf/test_X.c, root).
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/%,$(wildcard tests/bpf/test_*.c))
TEST_HELPERS := tests/helpers/test_guest.c tests/helpers/demo_vm.c tests/helpers/trace_run.c

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(patsubst $(OUTPUT)/%,%,$(2))";
endif

.DELETE_ON_ERROR:
# Skeletons are intermediates of the tests but worth keeping for readers and embedders.
.SECONDARY: $(SKELS)
.PHONY: all deps deps-test clean test unit-test cli-test bpf-test format format-check demo vmlinux \
	install uninstall static install-test doc-test gma-pc-force

# The demo/test VMM and its 32-bit guest (tools/demo-vmm/).
include tools/demo-vmm/demo-vmm.mk

all: $(OUTPUT)/libgma.a $(OUTPUT)/libgma.so $(BPF_OBJS) $(OUTPUT)/gma-trace $(OUTPUT)/gma-demo \
	$(DEMO_VMM_TARGETS) $(PUBLIC_TRACER_HEADERS)

# Runs every time (cheap: dpkg-query per package), so a machine that lost a package heals.
deps:
	$(Q)tools/deps.sh build
deps-test:
	$(Q)tools/deps.sh test

$(OUTPUT) $(OUTPUT)/user/lib $(OUTPUT)/user/print $(OUTPUT)/user/gma-trace $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/%.bpf.d | deps $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@
	@# clang writes the .d after the object: the object must be the newer, or it is redone
	$(Q)touch $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o | deps
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# The skeletons are generated headers: they exist before the first compile (order-only);
# after it, each object's .d says which of them, and of every other header, it includes.
$(OUTPUT)/user/lib/%.o: user/lib/%.c $(OUTPUT)/user/lib/%.d | $(SKELS) deps $(OUTPUT)/user/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LIBGMA_CFLAGS) -c $< -o $@

$(OUTPUT)/user/print/%.o: user/print/%.c $(OUTPUT)/user/print/%.d \
		| $(SKELS) deps $(OUTPUT)/user/print
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Iuser/print -c $< -o $@

$(PRINT_LIB): $(PRINT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# gma-trace checks options against the tracer's caps (bpf/tracer.h) when it parses them.
$(OUTPUT)/user/gma-trace/%.o: user/gma-trace/%.c $(OUTPUT)/user/gma-trace/%.d \
		| $(SKELS) deps $(OUTPUT)/user/gma-trace
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Iuser/gma-trace -Iuser/print -c $< -o $@

$(OUTPUT)/libgma.a: $(LIBGMA_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/libgma.so.$(LIBGMA_VERSION): $(LIBGMA_OBJS) $(LIBGMA_MAP) include/gma/version.h
	$(Q)tools/check-libgma-version.sh include/gma/version.h $(LIBGMA_MAP)
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libgma.so.$(LIBGMA_SOVERSION) \
		-Wl,--version-script=$(LIBGMA_MAP) -o $@ $(LIBGMA_OBJS) $(LDLIBS_BPF)

$(OUTPUT)/libgma.so: $(OUTPUT)/libgma.so.$(LIBGMA_VERSION)
	$(Q)ln -sf libgma.so.$(LIBGMA_VERSION) $(OUTPUT)/libgma.so.$(LIBGMA_SOVERSION)
	$(Q)ln -sf libgma.so.$(LIBGMA_VERSION) $@

$(OUTPUT)/gma-trace: $(GMA_TRACE_OBJS) $(PRINT_LIB) $(OUTPUT)/libgma.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_BPF)

$(OUTPUT)/gma-demo: tools/gma-demo.c $(OUTPUT)/gma-demo.d $(OUTPUT)/libgma.a | deps
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $< -o $@ $(OUTPUT)/libgma.a $(LDLIBS_BPF)

# --- tests ------------------------------------------------------------------------------

# Each test's object and the helpers' are compiled apart (their .d files say which headers
# each includes), then linked with libgma.a (tests reach its internal headers, user/lib/).
# GMA_OUTPUT: where the BPF selftests find gma-trace and the demo VMM.
TEST_CFLAGS = $(ALL_CFLAGS) $(DEPFLAGS) -DGMA_OUTPUT='"$(OUTPUT)"' -Ibpf -Itests/helpers -Iuser/lib \
	-Iuser/print
TEST_HELPER_OBJS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/helpers/%.o,$(TEST_HELPERS))
UNIT_TEST_OBJS := $(patsubst $(OUTPUT)/tests/%,$(OUTPUT)/tests/obj/%.o,$(UNIT_TESTS))
BPF_TEST_OBJS := $(patsubst $(OUTPUT)/tests/%,$(OUTPUT)/tests/obj/%.o,$(BPF_TESTS))

$(OUTPUT)/tests/helpers $(OUTPUT)/tests/obj:
	$(Q)mkdir -p $@

$(TEST_HELPER_OBJS): $(OUTPUT)/tests/helpers/%.o: tests/helpers/%.c $(OUTPUT)/tests/helpers/%.d \
		| $(SKELS) deps-test $(OUTPUT)/tests/helpers
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

$(UNIT_TEST_OBJS): $(OUTPUT)/tests/obj/%.o: tests/unit/%.c $(OUTPUT)/tests/obj/%.d \
		| $(SKELS) deps-test $(OUTPUT)/tests/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BPF_TEST_OBJS): $(OUTPUT)/tests/obj/%.o: tests/bpf/%.c $(OUTPUT)/tests/obj/%.d \
		| $(SKELS) deps-test $(OUTPUT)/tests/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

$(UNIT_TESTS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/obj/%.o $(TEST_HELPER_OBJS) $(PRINT_LIB) \
		$(OUTPUT)/libgma.a
	$(call msg,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ -lcriterion $(LDLIBS_BPF)

$(BPF_TESTS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/obj/%.o $(TEST_HELPER_OBJS) $(PRINT_LIB) \
		$(OUTPUT)/libgma.a \
		| $(OUTPUT)/gma-trace $(DEMO_VMM_TARGETS)
	$(call msg,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ -lcriterion $(LDLIBS_BPF)

# Each Criterion binary runs through tests/run-criterion.sh: a failing binary, or one that
# skipped a test, fails `make test`; its counts go to the ledger that `make test` sums up.
TEST_LEDGER := $(OUTPUT)/test-ledger.txt
RUN_CRITERION := GMA_TEST_LEDGER=$(TEST_LEDGER) tests/run-criterion.sh

unit-test: $(UNIT_TESTS)
	$(Q)for t in $^; do echo "== $$t"; $(RUN_CRITERION) $$t --jobs=2 || exit 1; done

# gma-trace against hostile dumps, maps and command lines (tests/cli/gen-hostile.sh writes them):
# each case's exit status and message; no root needed.
cli-test: $(OUTPUT)/gma-trace
	$(Q)tests/cli/test-cli.sh $(OUTPUT)/gma-trace $(OUTPUT)/tests/cli

bpf-test: $(BPF_TESTS)
	$(Q)if [ "$$(id -u)" -ne 0 ]; then \
		echo "bpf-test: BPF selftests load programs into the kernel: run as root" >&2; \
		exit 1; fi
	$(Q)for t in $^; do echo "== $$t"; $(RUN_CRITERION) $$t --jobs=1 || exit 1; done

# `make test`: the ledger emptied, every step (test-steps, in any order make likes), then the
# summary of what ran and what was skipped (tools/test-summary.sh): a skip the caller named
# (VMTEST=skip, VMTEST=partial) is listed, and under CI=true it fails the run.
.PHONY: test-steps
test-steps: format-check all abi-check unit-test cli-test bpf-test fuzz-replay fuzz-short \
	install-test doc-test vmtest

test: | $(OUTPUT)
	$(Q)rm -f $(TEST_LEDGER)
	$(Q)$(MAKE) --no-print-directory test-steps
	$(Q)tools/test-summary.sh $(TEST_LEDGER)

# --- the ABI ----------------------------------------------------------------------------

# libgma's ABI as released (abigail's abidw of libgma.so, the types of its public headers
# only), committed; abi-check compares the library just built with it (abidiff): any change
# to an exported function or a public type fails until it is deliberate, with its version
# (include/gma/version.h, a node in libgma.map) and a new baseline (make abi-baseline).
LIBGMA_ABI := user/lib/libgma.abi
ABI_HEADERS := --headers-dir1 include/gma --headers-dir2 include/gma
.PHONY: abi-check abi-baseline
abi-check: $(OUTPUT)/libgma.so | deps-test
	$(Q)abidiff $(ABI_HEADERS) $(LIBGMA_ABI) $(OUTPUT)/libgma.so.$(LIBGMA_VERSION) \
		>$(OUTPUT)/abidiff.txt 2>&1 || { cat $(OUTPUT)/abidiff.txt; \
		echo "abi-check: libgma's ABI differs from $(LIBGMA_ABI) (above). If that is" \
			"meant: give it a version (include/gma/version.h, libgma.map) and run" \
			"make abi-baseline"; exit 1; }
	$(Q)nm -D --defined-only $(OUTPUT)/libgma.so.$(LIBGMA_VERSION) | \
		awk '{ sub(/@.*/, "", $$3); print $$3 }' | sort >$(OUTPUT)/libgma.defined
	$(Q)missing=$$(sed -n 's/^[[:space:]]*\(gma_[a-z0-9_]*\);$$/\1/p' $(LIBGMA_MAP) | sort | \
		comm -23 - $(OUTPUT)/libgma.defined); \
		[ -z "$$missing" ] || { echo "abi-check: $(LIBGMA_MAP) names symbols libgma.so" \
			"does not define:" $$missing; exit 1; }
	$(Q)echo "  ABI      libgma.so.$(LIBGMA_VERSION) as $(LIBGMA_ABI)"

abi-baseline: $(OUTPUT)/libgma.so | deps-test
	$(call msg,ABIDW,$(LIBGMA_ABI))
	$(Q)abidw --headers-dir include/gma --drop-private-types --no-corpus-path \
		--out-file $(LIBGMA_ABI) $(OUTPUT)/libgma.so.$(LIBGMA_VERSION)

# --- demo -------------------------------------------------------------------------------

# The demo VM under gma-trace (tools/demo.sh); gma-demo shows the accessor core on its own.
demo: all
	$(Q)tools/demo.sh $(OUTPUT)

# --- style ------------------------------------------------------------------------------

FORMAT_SRCS = $(shell git ls-files -- '*.c' '*.h' \
	':!:vmlinux/*' 2>/dev/null || \
	find include user bpf tools tests bench -name '*.[ch]')

format: | deps
	$(Q)clang-format -i $(FORMAT_SRCS)

format-check: | deps
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS) && echo "  FORMAT   ok"

# --- vmlinux.h --------------------------------------------------------------------------

# Regenerates the committed kernel type header from the running kernel's BTF. Where KVM is a
# module its types are in /sys/kernel/btf/kvm (split BTF on top of vmlinux): they are dumped
# too, with the duplicate base types dropped by bpftool's --base-btf.
vmlinux: | deps
	$(Q)tools/gen-vmlinux.sh $(VMLINUX_DIR)/vmlinux.h

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

# --- vmtest -----------------------------------------------------------------------------

# The tests inside QEMU (TCG) VMs, one per kernel of VMTEST_KERNELS (default "6.1 6.12":
# Debian 12's and Debian 12 backports', KVM as modules, no VirtIO module, as on a bare-metal KVM
# host): each kernel package is fetched once into $(OUTPUT)/vmtest/cache, its initramfs built
# from the binaries below (tools/vmtest/; settings in tools/vmtest/config, each overridable:
# make vmtest VMTEST=partial VMTEST_KERNELS=6.12). Prints a table tests x kernels; V=1 shows
# the consoles. Nothing is left out unless asked by name (VMTEST=skip, VMTEST=partial: see
# tools/vmtest/config); its verdict goes to the ledger of `make test`.
.PHONY: vmtest vmtest-selftest
vmtest: all $(UNIT_TESTS) $(BPF_TESTS) $(OUTPUT)/qmp-rings $(OUTPUT)/check-e2e vmtest-selftest
	$(Q)GMA_TEST_LEDGER=$(TEST_LEDGER) tools/vmtest/run.sh $(OUTPUT)

# run.sh's own checks (a QEMU that cannot run, a skip not asked for, a VMTEST_ONLY naming no
# test) and check-e2e on made-up traces: seconds, no VM.
vmtest-selftest: $(OUTPUT)/check-e2e
	$(Q)tests/vmtest/test-run-sh.sh
	$(Q)tests/vmtest/test-check-e2e.sh $(OUTPUT)/check-e2e

# The real-guest check's ground truth: each queue's indices read by QEMU from guest memory.
$(OUTPUT)/qmp-rings: tools/vmtest/qmp-rings.c
	$(call msg,BINARY,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ -ljson-c

# The real-guest check's verdicts on gma-trace's JSON lines (rings, health, blk).
$(OUTPUT)/check-e2e: tools/vmtest/check-e2e.c
	$(call msg,BINARY,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ -ljson-c

# --- fuzzing (libFuzzer, clang) ---------------------------------------------------------
#
# tests/fuzz/fuzz_X.c links the libgma sources it exercises, built with the sanitizers.
# Committed corpora: tests/fuzz/corpus/X/ (seeds and regression inputs). `make fuzz` runs each
# target for FUZZ_SECONDS; `make test` replays the corpora and fuzzes each target briefly.

FUZZ_TARGETS := accessor ring records reassembly mmio pci
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Werror -Iinclude -Iuser/lib -Ibpf -Itests/helpers
FUZZ_SRCS_accessor := user/lib/guest_mem.c
FUZZ_SRCS_ring := user/lib/guest_mem.c user/lib/ring.c
FUZZ_MODEL_SRCS := user/lib/record_reader.c user/lib/queue_model.c user/lib/queue_health.c \
	user/lib/queue_kind.c
FUZZ_SRCS_records := $(FUZZ_MODEL_SRCS)
FUZZ_SRCS_reassembly := $(FUZZ_MODEL_SRCS)
FUZZ_SRCS_mmio :=
FUZZ_SRCS_pci :=
FUZZ_SECONDS ?= 600
FUZZ_SHORT_SECONDS ?= 5

.PHONY: fuzz fuzz-build fuzz-replay fuzz-short deps-fuzz
deps-fuzz:
	$(Q)tools/deps.sh build fuzz

$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

.SECONDEXPANSION:
$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) \
		$(wildcard include/gma/*.h user/lib/*.h bpf/*.h tests/fuzz/*.h tests/helpers/*.h) \
		| deps-fuzz $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_SRCS_$*) -o $@

fuzz-build: $(FUZZ_BINS)

# Every committed input once: a regression input that crashes again fails the build.
fuzz-replay: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		n=$$(ls tests/fuzz/corpus/$$t | wc -l); \
		$(OUTPUT)/fuzz/fuzz_$$t -runs=0 tests/fuzz/corpus/$$t >$(OUTPUT)/fuzz/$$t.replay.log 2>&1 \
			|| { tail -30 $(OUTPUT)/fuzz/$$t.replay.log; echo "fuzz-replay: $$t FAILED"; exit 1; }; \
		echo "  REPLAY   $$t: $$n inputs ok"; \
	done

# A few seconds per target, from the committed corpus into a scratch one.
fuzz-short: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		rm -rf $(OUTPUT)/fuzz/short/$$t && mkdir -p $(OUTPUT)/fuzz/short/$$t; \
		$(OUTPUT)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SHORT_SECONDS) -timeout=10 -rss_limit_mb=1024 \
			-artifact_prefix=$(OUTPUT)/fuzz/short/$$t- \
			$(OUTPUT)/fuzz/short/$$t tests/fuzz/corpus/$$t >$(OUTPUT)/fuzz/$$t.short.log 2>&1 \
			|| { tail -40 $(OUTPUT)/fuzz/$$t.short.log; echo "fuzz-short: $$t FAILED"; exit 1; }; \
		echo "  FUZZ     $$t: $$(grep -o 'Done [0-9]* runs' $(OUTPUT)/fuzz/$$t.short.log)"; \
	done

# The long run: FUZZ_SECONDS per target; crashes land in build/fuzz/crashes/.
fuzz: $(FUZZ_BINS)
	$(Q)mkdir -p $(OUTPUT)/fuzz/crashes
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(OUTPUT)/fuzz/corpus/$$t; \
		echo "  FUZZ     $$t for $(FUZZ_SECONDS) s"; \
		$(OUTPUT)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(OUTPUT)/fuzz/crashes/$$t- \
			$(OUTPUT)/fuzz/corpus/$$t tests/fuzz/corpus/$$t >$(OUTPUT)/fuzz/$$t.log 2>&1 \
			|| { tail -40 $(OUTPUT)/fuzz/$$t.log; echo "fuzz: $$t found a crash"; exit 1; }; \
		grep -E 'stat::number_of_executed_units|Done' $(OUTPUT)/fuzz/$$t.log | tail -2; \
	done

# --- install, static binary, examples -----------------------------------------------------

# `make install PREFIX=/usr DESTDIR=/tmp/root`; `make uninstall` with the same variables
# removes exactly the files of INSTALL_MANIFEST. gma-trace needs root: sbin, man section 8.
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
# include/gma/ holds the installed headers and only those; the skeleton's types come from bpf/.
GMA_HEADERS := $(wildcard include/gma/*.h) bpf/tracer_maps.h

# destination:source:mode, one per installed file (symlinks are listed apart).
INSTALL_FILES := \
	$(SBINDIR)/gma-trace:$(OUTPUT)/gma-trace:0755 \
	$(LIBDIR)/libgma.a:$(OUTPUT)/libgma.a:0644 \
	$(LIBDIR)/libgma.so.$(LIBGMA_VERSION):$(OUTPUT)/libgma.so.$(LIBGMA_VERSION):0755 \
	$(PKGCONFIGDIR)/gma.pc:$(OUTPUT)/gma.pc:0644 \
	$(foreach h,$(GMA_HEADERS),$(INCLUDEDIR)/gma/$(notdir $(h)):$(h):0644) \
	$(INCLUDEDIR)/gma/tracer.skel.h:$(OUTPUT)/include/gma/tracer.skel.h:0644 \
	$(DATADIR)/gma/tracer.bpf.o:$(OUTPUT)/tracer.bpf.o:0644 \
	$(MANDIR)/man8/gma-trace.8:man/gma-trace.8:0644 \
	$(MANDIR)/man3/libgma.3:man/libgma.3:0644 \
	$(BASHCOMPDIR)/gma-trace:completion/gma-trace.bash:0644
INSTALL_LINKS := $(LIBDIR)/libgma.so.$(LIBGMA_SOVERSION):libgma.so.$(LIBGMA_VERSION) \
	$(LIBDIR)/libgma.so:libgma.so.$(LIBGMA_SOVERSION)
INSTALL_MANIFEST := $(foreach f,$(INSTALL_FILES),$(word 1,$(subst :, ,$(f)))) \
	$(foreach l,$(INSTALL_LINKS),$(word 1,$(subst :, ,$(l))))
# Directories of gma's own, removed by uninstall when left empty.
INSTALL_OWN_DIRS := $(INCLUDEDIR)/gma $(DATADIR)/gma

# pkg-config file; libgma.so records its own dependencies, a static link needs them listed.
define GMA_PC
prefix=$(PREFIX)
exec_prefix=$${prefix}
libdir=$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))
includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
datadir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(DATADIR))
# the compiled tracer, for loaders of their own (its skeleton is <gma/tracer.skel.h>)
bpfobject=$${datadir}/gma/tracer.bpf.o

Name: gma
Description: Guest memory accessor for KVM hosts: guest memory, VMs, VirtIO ring tracing
URL: https://github.com/gma/gma
Version: $(LIBGMA_VERSION)
Requires.private: libbpf libelf zlib json-c
Libs: -L$${libdir} -lgma
Cflags: -I$${includedir}
endef
export GMA_PC

# Rewritten when PREFIX, LIBDIR, ... differ from the last build's.
$(OUTPUT)/gma.pc: gma-pc-force | $(OUTPUT)
	$(Q)printf '%s\n' "$$GMA_PC" > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else \
		printf '  %-8s %s\n' GEN gma.pc; mv -f $@.tmp $@; fi

# The skeleton as installed (PUBLIC_TRACER_HEADERS).
$(OUTPUT)/include/gma:
	$(Q)mkdir -p $@

$(OUTPUT)/include/gma/tracer.skel.h: $(OUTPUT)/tracer.bpf.o | deps $(OUTPUT)/include/gma
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name gma_tracer_bpf > $@

install: all $(OUTPUT)/gma.pc $(PUBLIC_TRACER_HEADERS)
	$(Q)set -e; for f in $(INSTALL_FILES); do \
		dst=$${f%%:*}; rest=$${f#*:}; src=$${rest%%:*}; mode=$${rest#*:}; \
		printf '  %-8s %s\n' INSTALL "$(DESTDIR)$$dst"; \
		install -D -m "$$mode" "$$src" "$(DESTDIR)$$dst"; \
	done; \
	for l in $(INSTALL_LINKS); do \
		ln -sfn "$${l#*:}" "$(DESTDIR)$${l%%:*}"; \
	done; \
	if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then ldconfig || true; fi

uninstall:
	$(Q)for f in $(INSTALL_MANIFEST); do \
		if [ -e "$(DESTDIR)$$f" ] || [ -L "$(DESTDIR)$$f" ]; then \
			printf '  %-8s %s\n' RM "$(DESTDIR)$$f"; rm -f "$(DESTDIR)$$f"; fi; \
	done; \
	for d in $(INSTALL_OWN_DIRS); do \
		[ ! -d "$(DESTDIR)$$d" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; \
	done

# gma-trace linked statically (glibc, libbpf, libelf, zlib, json-c): runs on a host without
# libbpf. Each library's static dependencies come from its pkg-config file.
STATIC_LDLIBS := $(shell pkg-config --static --libs libbpf json-c 2>/dev/null || \
	echo -lbpf -lelf -lz -ljson-c)

static: $(OUTPUT)/gma-trace-static

$(OUTPUT)/gma-trace-static: $(GMA_TRACE_OBJS) $(PRINT_LIB) $(OUTPUT)/libgma.a
	$(call msg,STATIC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -static $^ -o $@ $(STATIC_LDLIBS)

# Installs into a temporary DESTDIR, builds examples/ from the installed copy through
# pkg-config, runs them and the static gma-trace against the demo VM, uninstalls (root).
install-test: all static
	$(Q)tests/install/install-test.sh $(OUTPUT)

# The man page against every subcommand's --help, and the bash completion.
doc-test: $(OUTPUT)/gma-trace
	$(Q)tools/check-libgma-version.sh include/gma/version.h $(LIBGMA_MAP) man/gma-trace.8 man/libgma.3
	$(Q)tests/install/check-man.sh $(OUTPUT)/gma-trace man/gma-trace.8
	$(Q)tests/install/check-completion.sh $(OUTPUT)/gma-trace completion/gma-trace.bash

# --- bench ------------------------------------------------------------------------------

# Benchmarks (bench/): ratios against baselines measured in the same run, one table on stdout
# and $(OUTPUT)/bench/results.json. Needs root (BPF, /dev/kvm, kernel.bpf_stats_enabled).
.PHONY: bench deps-bench
BENCH_BINS := $(OUTPUT)/bench/bench-vm $(OUTPUT)/bench/bench-accessor $(OUTPUT)/bench/bench-decode

deps-bench:
	$(Q)tools/deps.sh bench

$(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/bench/bench-vm: bench/bench-vm.c | deps $(OUTPUT)/bench
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@

$(OUTPUT)/bench/bench-accessor: bench/bench-accessor.c $(OUTPUT)/libgma.a | $(OUTPUT)/bench
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_BPF)

# The record reader is internal to libgma: bench-decode drives it through libgma.a (hidden
# symbols link statically); what it prints goes through the public <gma/print.h>.
$(OUTPUT)/bench/bench-decode: bench/bench-decode.c $(PRINT_LIB) $(OUTPUT)/libgma.a | $(OUTPUT)/bench
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibpf -Iuser/lib -Iuser/print $^ -o $@ $(LDLIBS_BPF)

bench: all $(BENCH_BINS) | deps-bench
	$(Q)python3 bench/run.py $(OUTPUT)

# The header dependencies the compiler wrote beside each object (none before the first build,
# when everything is built anyway).
DEP_FILES := $(patsubst %.o,%.d,$(BPF_OBJS) $(LIBGMA_OBJS) $(PRINT_OBJS) $(GMA_TRACE_OBJS) \
	$(TEST_HELPER_OBJS) \
	$(UNIT_TEST_OBJS) $(BPF_TEST_OBJS)) $(OUTPUT)/gma-demo.d
-include $(wildcard $(DEP_FILES))
# A missing .d (an object built before this rule, or its .d deleted) is made by this empty
# rule, which makes its object older than it: the object is rebuilt and writes its .d.
$(DEP_FILES): ;

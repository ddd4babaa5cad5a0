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

CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter -fPIC -std=gnu11 -Iinclude -I$(OUTPUT) -Ibpf
BPF_CFLAGS := -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -mcpu=v3 \
	-I$(VMLINUX_DIR) -Iinclude -Ibpf
LDLIBS_BPF := -lbpf -lelf -lz -ljson-c

LIBGMA_SOVERSION := 0
LIBGMA_VERSION := 0.1.0

# Objects of libgma; each user/X.c is one module.
LIBGMA_SRCS := user/guest_mem.c user/vms.c user/tracer.c user/record_reader.c user/queue_model.c \
	user/ring.c \
	user/virtio_decode.c user/qmp.c
LIBGMA_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(LIBGMA_SRCS))

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
.PHONY: all deps deps-test clean test unit-test bpf-test format format-check demo vmlinux

# The demo/test VMM and its 32-bit guest (tools/demo-vmm/).
include tools/demo-vmm/demo-vmm.mk

all: $(OUTPUT)/libgma.a $(OUTPUT)/libgma.so $(BPF_OBJS) $(OUTPUT)/gma-trace $(OUTPUT)/gma-demo \
	$(DEMO_VMM_TARGETS)

# Runs every time (cheap: dpkg-query per package), so a machine that lost a package heals.
deps:
	$(Q)tools/deps.sh build
deps-test:
	$(Q)tools/deps.sh test

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/gma/*.h) | deps $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o | deps
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(wildcard include/gma/*.h user/*.h) $(SKELS) | deps $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/libgma.a: $(LIBGMA_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/libgma.so.$(LIBGMA_VERSION): $(LIBGMA_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libgma.so.$(LIBGMA_SOVERSION) -o $@ $^ $(LDLIBS_BPF)

$(OUTPUT)/libgma.so: $(OUTPUT)/libgma.so.$(LIBGMA_VERSION)
	$(Q)ln -sf libgma.so.$(LIBGMA_VERSION) $(OUTPUT)/libgma.so.$(LIBGMA_SOVERSION)
	$(Q)ln -sf libgma.so.$(LIBGMA_VERSION) $@

GMA_TRACE_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,user/gma-trace.c user/trace_helpers.c \
	user/trace_rings.c user/ring_print.c)

$(OUTPUT)/gma-trace: $(GMA_TRACE_OBJS) $(OUTPUT)/libgma.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_BPF)

$(OUTPUT)/gma-demo: tools/gma-demo.c $(OUTPUT)/libgma.a | deps
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ $(OUTPUT)/libgma.a $(LDLIBS_BPF)

# --- tests ------------------------------------------------------------------------------

$(OUTPUT)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(OUTPUT)/libgma.a tests/helpers/*.h \
		| deps-test $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/helpers $< $(TEST_HELPERS) -o $@ $(OUTPUT)/libgma.a -lcriterion \
		$(LDLIBS_BPF)

$(OUTPUT)/tests/%: tests/bpf/%.c $(SKELS) $(TEST_HELPERS) $(OUTPUT)/libgma.a \
		tests/helpers/*.h | deps-test $(OUTPUT)/tests $(OUTPUT)/gma-trace $(DEMO_VMM_TARGETS)
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -DGMA_OUTPUT='"$(OUTPUT)"' -Itests/helpers $< $(TEST_HELPERS) -o $@ \
		$(OUTPUT)/libgma.a -lcriterion $(LDLIBS_BPF)

# Criterion prints one Synthesis line per binary; any failing binary fails `make test`.
unit-test: $(UNIT_TESTS)
	$(Q)for t in $^; do echo "== $$t"; $$t --jobs=2 || exit 1; done

bpf-test: $(BPF_TESTS)
	$(Q)if [ "$$(id -u)" -ne 0 ]; then \
		echo "bpf-test: BPF selftests load programs into the kernel: run as root" >&2; \
		exit 1; fi
	$(Q)for t in $^; do echo "== $$t"; $$t --jobs=1 || exit 1; done

test: format-check all unit-test bpf-test
	@echo "make test: all tests passed"

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

# The tests inside a QEMU (TCG) VM booted on Debian 12's 6.1 kernel, KVM as modules: the
# kernel package is fetched once into $(OUTPUT)/vmtest/cache, the initramfs built from the
# binaries below (tools/vmtest/). Prints one line per test binary; V=1 shows the console.
.PHONY: vmtest
vmtest: all $(UNIT_TESTS) $(BPF_TESTS)
	$(Q)tools/vmtest/run.sh $(OUTPUT)

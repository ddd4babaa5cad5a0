# SPDX-License-Identifier: GPL-2.0
# Make fragment for the demo VMM and its guest; included by the top-level Makefile.
# Produces $(OUTPUT)/demo-vmm and $(OUTPUT)/demo-guest.bin (the VMM looks for the guest next to
# itself). Uses OUTPUT, CC, Q and msg from the including Makefile; the fallbacks below let the
# fragment be used on its own.

DEMO_VMM_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# The rules below must not become the includer's default goal.
DEMO_VMM_SAVED_GOAL := $(.DEFAULT_GOAL)

OUTPUT ?= build
Q ?= @
ifeq ($(origin msg),undefined)
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

DEMO_VMM_OBJDIR := $(OUTPUT)/demo-vmm.o.d
DEMO_VMM_SRCS := demo-vmm.c options.c setup.c report_pio.c memslot_churn.c demo-log.c vm.c bus.c \
	virtio-dev.c virtio-mmio.c pci.c virtio-pci.c ioeventfd.c
DEMO_VMM_OBJS := $(addprefix $(DEMO_VMM_OBJDIR)/,$(DEMO_VMM_SRCS:.c=.o))
DEMO_VMM_CFLAGS ?= -O2 -g -Wall -Wextra -Werror -Wno-missing-field-initializers -std=gnu11

# The guest is freestanding i386 code: no libc, no multilib needed. Both gcc and clang
# accept these flags with -m32; it links with GNU ld (or ld.lld) in elf_i386 mode.
DEMO_GUEST_CC ?= $(CC)
DEMO_GUEST_LD ?= ld
DEMO_GUEST_OBJCOPY ?= objcopy
DEMO_GUEST_CFLAGS := -m32 -march=i686 -ffreestanding -fno-builtin -nostdlib -fno-pic \
	-fno-pie -static -fno-stack-protector -fno-asynchronous-unwind-tables \
	-mno-mmx -mno-sse -mno-sse2 -mno-80387 -mgeneral-regs-only \
	-O2 -g -Wall -Wextra -Werror -std=gnu11 -I$(DEMO_VMM_DIR)
# The guest uses the kernel's uapi virtio headers. They need only <linux/types.h>, whose
# <asm/types.h> sits in the multiarch directory that -m32 leaves off the path (Debian,
# Ubuntu); the x86 asm headers there serve both i386 and x86_64. -idirafter keeps it last.
DEMO_GUEST_MULTIARCH := $(shell $(DEMO_GUEST_CC) -print-multiarch 2>/dev/null)
ifneq ($(DEMO_GUEST_MULTIARCH),)
DEMO_GUEST_CFLAGS += -idirafter /usr/include/$(DEMO_GUEST_MULTIARCH)
endif
DEMO_GUEST_OBJS := $(addprefix $(DEMO_VMM_OBJDIR)/guest/,start.o lib.o main.o pci.o virtio.o \
	io.o hostile.o)

DEMO_VMM_TARGETS := $(OUTPUT)/demo-vmm $(OUTPUT)/demo-guest.bin

.PHONY: demo-vmm-all
demo-vmm-all: $(DEMO_VMM_TARGETS)

$(OUTPUT)/demo-vmm: $(DEMO_VMM_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(DEMO_VMM_CFLAGS) $^ -o $@

$(DEMO_VMM_OBJDIR)/%.o: $(DEMO_VMM_DIR)/%.c | $(DEMO_VMM_OBJDIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(DEMO_VMM_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/demo-guest.bin: $(DEMO_VMM_OBJDIR)/guest/demo-guest.elf
	$(call msg,OBJCOPY,$@)
	$(Q)$(DEMO_GUEST_OBJCOPY) -O binary $< $@

$(DEMO_VMM_OBJDIR)/guest/demo-guest.elf: $(DEMO_GUEST_OBJS) $(DEMO_VMM_OBJDIR)/guest/guest.lds
	$(call msg,LD,$@)
	$(Q)$(DEMO_GUEST_LD) -m elf_i386 -nostdlib -static --build-id=none \
		-T $(DEMO_VMM_OBJDIR)/guest/guest.lds $(DEMO_GUEST_OBJS) -o $@

$(DEMO_VMM_OBJDIR)/guest/guest.lds: $(DEMO_VMM_DIR)/guest/guest.lds.S | $(DEMO_VMM_OBJDIR)/guest
	$(call msg,CPP,$@)
	$(Q)$(DEMO_GUEST_CC) -E -P -x c -I$(DEMO_VMM_DIR) -MMD -MP -MT $@ -MF $@.d $< -o $@

$(DEMO_VMM_OBJDIR)/guest/%.o: $(DEMO_VMM_DIR)/guest/%.c | $(DEMO_VMM_OBJDIR)/guest
	$(call msg,CC,$@)
	$(Q)$(DEMO_GUEST_CC) $(DEMO_GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(DEMO_VMM_OBJDIR)/guest/%.o: $(DEMO_VMM_DIR)/guest/%.S | $(DEMO_VMM_OBJDIR)/guest
	$(call msg,AS,$@)
	$(Q)$(DEMO_GUEST_CC) $(DEMO_GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(DEMO_VMM_OBJDIR) $(DEMO_VMM_OBJDIR)/guest:
	$(Q)mkdir -p $@

-include $(DEMO_VMM_OBJS:.o=.d) $(DEMO_GUEST_OBJS:.o=.d) $(DEMO_VMM_OBJDIR)/guest/guest.lds.d

.DEFAULT_GOAL := $(DEMO_VMM_SAVED_GOAL)

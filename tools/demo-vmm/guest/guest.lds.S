/* SPDX-License-Identifier: GPL-2.0 */
/* Demo guest link map: one flat image at DEMO_GUEST_LOAD_GPA, entry at its first byte. */
#include "demo-abi.h"

OUTPUT_FORMAT("elf32-i386")
OUTPUT_ARCH(i386)
ENTRY(_start)

/* Code and data in separate segments, so ld sees no RWX segment; the flat image is the same. */
PHDRS
{
	text PT_LOAD FLAGS(5);
	data PT_LOAD FLAGS(6);
}

SECTIONS
{
	. = DEMO_GUEST_LOAD_GPA;
	.text : {
		*(.text.start)
		*(.text .text.*)
	} :text
	.rodata : { *(.rodata .rodata.*) } :text
	.data : { *(.data .data.*) } :data
	.bss : {
		__bss_start = .;
		*(.bss .bss.*) *(COMMON)
		__bss_end = .;
	} :data
	__image_end = .;
	/DISCARD/ : { *(.note*) *(.comment) *(.eh_frame*) }
}

ASSERT(__image_end <= DEMO_GUEST_LOAD_GPA + DEMO_GUEST_MAX_SIZE, "demo guest image too large")

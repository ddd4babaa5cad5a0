/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry of the demo guest. The VMM starts the vCPU here in flat 32-bit protected mode with
 * interrupts off; this sets a stack, clears .bss (the VMM loads only the file image) and calls
 * guest_main, halting if it ever returns.
 */
#include "demo-abi.h"

	.section .text.start, "ax"
	.code32
	.globl _start
_start:
	cli
	movl	$DEMO_GUEST_STACK_TOP, %esp
	xorl	%ebp, %ebp
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	cld
	rep stosb
	call	guest_main
1:	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits

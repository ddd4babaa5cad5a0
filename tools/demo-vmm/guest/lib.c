// SPDX-License-Identifier: GPL-2.0
#include "demo-abi.h"
#include "lib.h"

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void putc(char c)
{
	outb(DEMO_PIO_CONSOLE, (uint8_t)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

void put_hex(uint32_t v)
{
	puts("0x");
	for (int shift = 28; shift >= 0; shift -= 4)
		putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

void panic(const char *msg)
{
	puts("panic: ");
	puts(msg);
	putc('\n');
	outl(DEMO_PIO_STATUS, DEMO_STATUS_PANIC);
	for (;;)
		asm volatile("cli; hlt");
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The snprintf-like sink of gma-trace's one-line formats (user/print/): counts everything,
 * stores what fits, always NUL-terminated, so each format has snprintf's semantics.
 */
#ifndef GMA_PRINT_STRBUF_H
#define GMA_PRINT_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static inline void out_init(struct out *o, char *buf, size_t size)
{
	o->buf = buf;
	o->size = buf ? size : 0;
	o->len = 0;
	if (o->size)
		buf[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static inline void out_printf(struct out *o, const char *fmt,
								    ...)
{
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += n;
}

static inline int out_done(const struct out *o)
{
	return o->len > 0x7fffffff ? 0x7fffffff : (int)o->len;
}

#endif /* GMA_PRINT_STRBUF_H */

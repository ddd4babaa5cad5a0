// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one JSON writer of gma-trace (as bpftool has its own): compact output, one line per top-level value,
 * string escaping in one place and a table-driven hex encoder for buffer bytes, through a line
 * buffer of its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gma_print.h"

/* Nesting deeper than this is a caller's bug: the writer stops adding separators there. */
#define JSON_DEPTH_MAX 64

/*
 * Output is built in a buffer of this size and handed to the FILE once per top-level value
 * (one fwrite per line), or whenever the buffer fills: a value longer than the buffer (a chain
 * with kilobytes of hex) goes out in pieces, never cut. stdio's per-call locking and
 * fprintf's format parsing, once per character or number, cost more than the formatting.
 */
#define JSON_BUF_SIZE (64u << 10)

struct gma_json {
	FILE *f;
	unsigned int depth;
	/* bit d: the container at depth d has a member already (a comma goes before the next) */
	__u64 has_member;
	/* a name was just written: the value follows without a comma */
	bool after_name;
	size_t len;
	char buf[JSON_BUF_SIZE];
};

/* Two hex digits per byte value, so a byte costs one 2-byte copy. */
static const char hex_pairs[256][2] = {
#define HEX_ROW(h)                                                                          \
	{ h, '0' }, { h, '1' }, { h, '2' }, { h, '3' }, { h, '4' }, { h, '5' }, { h, '6' }, \
		{ h, '7' }, { h, '8' }, { h, '9' }, { h, 'a' }, { h, 'b' }, { h, 'c' },     \
		{ h, 'd' }, { h, 'e' },                                                     \
	{                                                                                   \
		h, 'f'                                                                      \
	}
	HEX_ROW('0'), HEX_ROW('1'), HEX_ROW('2'), HEX_ROW('3'), HEX_ROW('4'), HEX_ROW('5'),
	HEX_ROW('6'), HEX_ROW('7'), HEX_ROW('8'), HEX_ROW('9'), HEX_ROW('a'), HEX_ROW('b'),
	HEX_ROW('c'), HEX_ROW('d'), HEX_ROW('e'), HEX_ROW('f'),
#undef HEX_ROW
};

struct gma_json *gma_json_new(FILE *f)
{
	struct gma_json *w;

	if (!f) {
		errno = EINVAL;
		return NULL;
	}
	w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	w->f = f;
	w->depth = 0;
	w->has_member = 0;
	w->after_name = false;
	w->len = 0;
	return w;
}

static void flush_buf(struct gma_json *w)
{
	if (w->len)
		fwrite(w->buf, 1, w->len, w->f);
	w->len = 0;
}

void gma_json_free(struct gma_json *w)
{
	if (!w)
		return;
	flush_buf(w); /* a value left open: what was written of it */
	free(w);
}

/* Room for n more bytes (n <= JSON_BUF_SIZE). */
static inline char *room(struct gma_json *w, size_t n)
{
	if (w->len + n > JSON_BUF_SIZE)
		flush_buf(w);
	return w->buf + w->len;
}

static inline void put_c(struct gma_json *w, char c)
{
	*room(w, 1) = c;
	w->len++;
}

static void put_mem(struct gma_json *w, const char *s, size_t n)
{
	while (n) {
		size_t k = n < JSON_BUF_SIZE ? n : JSON_BUF_SIZE;

		memcpy(room(w, k), s, k);
		w->len += k;
		s += k;
		n -= k;
	}
}

/* Before any value or name: the separator its position needs. */
static void sep(struct gma_json *w)
{
	__u64 bit;

	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (!w->depth || w->depth > JSON_DEPTH_MAX)
		return;
	bit = 1ULL << (w->depth - 1);
	if (w->has_member & bit)
		put_c(w, ',');
	w->has_member |= bit;
}

/* After a value: a top-level value ends its line, which goes to the FILE. */
static void done(struct gma_json *w)
{
	if (!w->depth) {
		put_c(w, '\n');
		flush_buf(w);
	}
}

static void open_container(struct gma_json *w, char c)
{
	sep(w);
	put_c(w, c);
	w->depth++;
	if (w->depth <= JSON_DEPTH_MAX)
		w->has_member &= ~(1ULL << (w->depth - 1));
}

static void close_container(struct gma_json *w, char c)
{
	if (!w->depth)
		return;
	put_c(w, c);
	w->depth--;
	done(w);
}

void gma_json_start_object(struct gma_json *w)
{
	open_container(w, '{');
}

void gma_json_end_object(struct gma_json *w)
{
	close_container(w, '}');
}

void gma_json_start_array(struct gma_json *w)
{
	open_container(w, '[');
}

void gma_json_end_array(struct gma_json *w)
{
	close_container(w, ']');
}

/* Whether a byte of a string goes out escaped: '"', '\\', control and non-ASCII bytes. */
static inline bool needs_escape(unsigned char ch)
{
	return ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\';
}

/* A string, escaped, in one pass: each byte is looked at once and copied as it is seen. */
static void put_string(struct gma_json *w, const char *s)
{
	char *o, *end;

	put_c(w, '"');
	o = w->buf + w->len;
	end = w->buf + JSON_BUF_SIZE - 6; /* room for the longest escape */
	for (;;) {
		unsigned char ch = *s++;

		if (o > end) {
			w->len = o - w->buf;
			flush_buf(w);
			o = w->buf;
		}
		if (!needs_escape(ch)) {
			*o++ = ch;
			continue;
		}
		if (!ch)
			break;
		if (ch == '"' || ch == '\\') {
			o[0] = '\\';
			o[1] = ch;
			o += 2;
		} else {
			memcpy(o, "\\u00", 4);
			memcpy(o + 4, hex_pairs[ch], 2);
			o += 6;
		}
	}
	*o++ = '"'; /* the check above left room for it */
	w->len = o - w->buf;
}

void gma_json_name(struct gma_json *w, const char *name)
{
	sep(w);
	put_string(w, name);
	put_c(w, ':');
	w->after_name = true;
}

void gma_json_string(struct gma_json *w, const char *s)
{
	sep(w);
	put_string(w, s ? s : "");
	done(w);
}

/* Decimal digits of v, written backwards from end, two at a time; returns the first. */
static char *u64_digits(__u64 v, char *end)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
				    "31323334353637383940414243444546474849505152535455565758596061"
				    "62636465666768697071727374757677787980818283848586878889909192"
				    "93949596979899";

	while (v >= 100) {
		end -= 2;
		memcpy(end, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		end -= 2;
		memcpy(end, pairs + 2 * v, 2);
	} else {
		*--end = '0' + v;
	}
	return end;
}

void gma_json_u64(struct gma_json *w, __u64 v)
{
	char d[20], *p = u64_digits(v, d + sizeof(d));

	sep(w);
	put_mem(w, p, d + sizeof(d) - p);
	done(w);
}

void gma_json_s64(struct gma_json *w, __s64 v)
{
	/* the magnitude of INT64_MIN does not fit an __s64: negate as unsigned */
	__u64 m = v < 0 ? -(__u64)v : (__u64)v;
	char d[21], *p = u64_digits(m, d + sizeof(d));

	if (v < 0)
		*--p = '-';
	sep(w);
	put_mem(w, p, d + sizeof(d) - p);
	done(w);
}

void gma_json_bool(struct gma_json *w, bool v)
{
	sep(w);
	if (v)
		put_mem(w, "true", 4);
	else
		put_mem(w, "false", 5);
	done(w);
}

void gma_json_hex(struct gma_json *w, const __u8 *p, size_t len)
{
	sep(w);
	put_c(w, '"');
	while (len) {
		/* as many bytes as the buffer has room for, at least one chunk */
		size_t k = len < JSON_BUF_SIZE / 4 ? len : JSON_BUF_SIZE / 4;
		char *o = room(w, 2 * k);

		for (size_t i = 0; i < k; i++)
			memcpy(o + 2 * i, hex_pairs[p[i]], 2);
		w->len += 2 * k;
		p += k;
		len -= k;
	}
	put_c(w, '"');
	done(w);
}

void gma_json_string_field(struct gma_json *w, const char *name, const char *s)
{
	gma_json_name(w, name);
	gma_json_string(w, s);
}

void gma_json_u64_field(struct gma_json *w, const char *name, __u64 v)
{
	gma_json_name(w, name);
	gma_json_u64(w, v);
}

void gma_json_s64_field(struct gma_json *w, const char *name, __s64 v)
{
	gma_json_name(w, name);
	gma_json_s64(w, v);
}

void gma_json_bool_field(struct gma_json *w, const char *name, bool v)
{
	gma_json_name(w, name);
	gma_json_bool(w, v);
}

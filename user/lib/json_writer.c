// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one JSON writer of libgma and gma-trace: compact output, one line per top-level value,
 * string escaping in one place and a table-driven hex encoder for buffer bytes.
 */
#include <stdlib.h>

#include <gma/print.h>

#include "gma_internal.h"

/* Nesting deeper than this is a caller's bug: the writer stops adding separators there. */
#define JSON_DEPTH_MAX 64

struct gma_json {
	FILE *f;
	unsigned int depth;
	/* bit d: the container at depth d has a member already (a comma goes before the next) */
	__u64 has_member;
	/* a name was just written: the value follows without a comma */
	bool after_name;
};

struct gma_json *gma_json_new(FILE *f)
{
	struct gma_json *w;

	if (!f) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->f = f;
	return w;
}

void gma_json_free(struct gma_json *w)
{
	free(w);
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
		fputc(',', w->f);
	w->has_member |= bit;
}

/* After a value: a top-level value ends its line. */
static void done(struct gma_json *w)
{
	if (!w->depth)
		fputc('\n', w->f);
}

static void open_container(struct gma_json *w, char c)
{
	sep(w);
	fputc(c, w->f);
	w->depth++;
	if (w->depth <= JSON_DEPTH_MAX)
		w->has_member &= ~(1ULL << (w->depth - 1));
}

static void close_container(struct gma_json *w, char c)
{
	if (!w->depth)
		return;
	fputc(c, w->f);
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

static void put_string(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
		} else if (ch < 0x20 || ch >= 0x7f) {
			fputs("\\u00", f);
			fputc(hex[ch >> 4], f);
			fputc(hex[ch & 15], f);
		} else {
			fputc(ch, f);
		}
	}
	fputc('"', f);
}

void gma_json_name(struct gma_json *w, const char *name)
{
	sep(w);
	put_string(w->f, name);
	fputc(':', w->f);
	w->after_name = true;
}

void gma_json_string(struct gma_json *w, const char *s)
{
	sep(w);
	put_string(w->f, s ? s : "");
	done(w);
}

void gma_json_u64(struct gma_json *w, __u64 v)
{
	sep(w);
	fprintf(w->f, "%llu", (unsigned long long)v);
	done(w);
}

void gma_json_s64(struct gma_json *w, __s64 v)
{
	sep(w);
	fprintf(w->f, "%lld", (long long)v);
	done(w);
}

void gma_json_bool(struct gma_json *w, bool v)
{
	sep(w);
	fputs(v ? "true" : "false", w->f);
	done(w);
}

void gma_json_hex(struct gma_json *w, const __u8 *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char buf[512];
	size_t n = 0;

	sep(w);
	fputc('"', w->f);
	for (size_t i = 0; i < len; i++) {
		buf[n++] = hex[p[i] >> 4];
		buf[n++] = hex[p[i] & 15];
		if (n == sizeof(buf)) {
			fwrite(buf, 1, n, w->f);
			n = 0;
		}
	}
	fwrite(buf, 1, n, w->f);
	fputc('"', w->f);
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

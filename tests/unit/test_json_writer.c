// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON writer (user/print/gma_print.h) against json-c's parser: every line it writes parses, and
 * holds the values written, at the edges of each type and of its line buffer.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "gma_print.h"

/* The lines written, parsed one by one (at most 8). */
static size_t parse_lines(char *text, struct json_object **out)
{
	size_t n = 0;

	for (char *line = strtok(text, "\n"); line && n < 8; line = strtok(NULL, "\n")) {
		out[n] = json_tokener_parse(line);
		cr_assert(out[n], "not JSON: %.200s", line);
		n++;
	}
	return n;
}

static struct json_object *member(struct json_object *o, const char *name)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, name, &v), "no member %s", name);
	return v;
}

Test(json_writer, values_at_their_edges_parse_back)
{
	static const char *strs[] = { "", "plain", "quote \" backslash \\ end", "\x01\x1f\x7f\xff",
				      "tab\tnewline\n" };
	struct json_object *o[8];
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	struct gma_json *w = gma_json_new(f);
	__u8 bytes[256];

	cr_assert(w);
	for (int i = 0; i < 256; i++)
		bytes[i] = i;
	gma_json_start_object(w);
	gma_json_u64_field(w, "u0", 0);
	gma_json_u64_field(w, "umax", ~0ULL);
	gma_json_s64_field(w, "smin", LLONG_MIN);
	gma_json_s64_field(w, "smax", LLONG_MAX);
	gma_json_s64_field(w, "sneg", -42);
	gma_json_bool_field(w, "t", true);
	gma_json_bool_field(w, "f", false);
	gma_json_name(w, "strs");
	gma_json_start_array(w);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		gma_json_string(w, strs[i]);
	gma_json_end_array(w);
	gma_json_name(w, "hex");
	gma_json_hex(w, bytes, sizeof(bytes));
	gma_json_name(w, "empty");
	gma_json_hex(w, bytes, 0);
	gma_json_end_object(w);
	gma_json_u64(w, 7); /* a second line */
	gma_json_free(w);
	fclose(f);

	cr_assert_eq(parse_lines(text, o), 2);
	cr_assert_eq(json_object_get_uint64(member(o[0], "u0")), 0);
	cr_assert_eq(json_object_get_uint64(member(o[0], "umax")), ~0ULL);
	cr_assert_eq(json_object_get_int64(member(o[0], "smin")), LLONG_MIN);
	cr_assert_eq(json_object_get_int64(member(o[0], "smax")), LLONG_MAX);
	cr_assert_eq(json_object_get_int64(member(o[0], "sneg")), -42);
	cr_assert(json_object_get_boolean(member(o[0], "t")));
	cr_assert(!json_object_get_boolean(member(o[0], "f")));
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *got =
			json_object_get_string(json_object_array_get_idx(member(o[0], "strs"), i));

		/* bytes >= 0x7f go out as \u00XX: json-c reads them back as UTF-8 */
		if (i != 3)
			cr_assert_str_eq(got, strs[i]);
	}
	for (int i = 0; i < 256; i++) {
		unsigned int b;

		cr_assert_eq(sscanf(json_object_get_string(member(o[0], "hex")) + 2 * i, "%2x", &b),
			     1);
		cr_assert_eq(b, (unsigned int)i);
	}
	cr_assert_str_eq(json_object_get_string(member(o[0], "empty")), "");
	cr_assert_eq(json_object_get_uint64(o[1]), 7);
	for (int i = 0; i < 2; i++)
		json_object_put(o[i]);
	free(text);
}

/* The value of a lowercase hex digit, -1 for anything else. */
static int hex_nibble(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A value longer than the writer's buffer goes out whole, in order, on one line. */
Test(json_writer, a_line_longer_than_the_buffer_is_whole)
{
	size_t len = 300000, size = 0;
	__u8 *bytes = malloc(len);
	struct json_object *o[8];
	char *text = NULL;
	FILE *f = open_memstream(&text, &size);
	struct gma_json *w = gma_json_new(f);
	const char *hex;

	cr_assert(bytes && w);
	for (size_t i = 0; i < len; i++)
		bytes[i] = (i * 7 + i / 251) & 0xff;
	gma_json_start_array(w);
	for (int k = 0; k < 3; k++)
		gma_json_hex(w, bytes, len);
	gma_json_end_array(w);
	gma_json_free(w);
	fclose(f);
	cr_assert_eq(parse_lines(text, o), 1);
	cr_assert_eq(json_object_array_length(o[0]), 3);
	for (int k = 0; k < 3; k++) {
		size_t i = 0;

		hex = json_object_get_string(json_object_array_get_idx(o[0], k));
		cr_assert_eq(strlen(hex), 2 * len);
		/* one assertion per value, not per byte: 900 000 of them take minutes under TCG */
		while (i < len && hex_nibble(hex[2 * i]) << 4 == (bytes[i] & 0xf0) &&
		       hex_nibble(hex[2 * i + 1]) == (bytes[i] & 0x0f))
			i++;
		cr_assert_eq(i, len, "byte %zu of value %d: %.2s, want %02x", i, k, hex + 2 * i,
			     i < len ? bytes[i] : 0);
	}
	json_object_put(o[0]);
	free(text);
	free(bytes);
}

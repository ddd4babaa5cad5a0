/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the three parts of libgma's QMP client share; internal to libgma. qmp.c is the
 * transport (the socket, the greeting, one command and its reply), qmp_virtio.c turns QEMU's
 * virtio queries into queue layouts, qmp_pci.c reads the PCI ECAM window and a function's
 * configuration space and BAR sizes. The queries reach QEMU only through qmp_command(), so
 * every wait has the transport's deadline and every message its size cap.
 */
#ifndef GMA_QMP_INTERNAL_H
#define GMA_QMP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <json-c/json.h>
#include <linux/types.h>

#include <gma/qmp.h>
#include <gma/virtio.h>

/*
 * Sends execute(args) and waits for its reply, skipping events. args is consumed. Returns 0
 * and *ret (a new reference, when ret is not NULL), -EREMOTEIO with the error kept for
 * gma_qmp_last_error(), or another negative errno.
 */
int qmp_command(struct gma_qmp *q, const char *execute, json_object *args, json_object **ret);
/* A human monitor command ("info qtree") through qmp_command: *ret is its output, a string. */
int qmp_hmp(struct gma_qmp *q, const char *command_line, json_object **ret);

/* o's member key, typed: NULL or false when o is no object, lacks it, or has another type. */
json_object *qmp_get(json_object *o, const char *key);
const char *qmp_get_str(json_object *o, const char *key);
bool qmp_get_u64(json_object *o, const char *key, __u64 *val);
/* src (NULL as "") into dst, cut to size. */
void qmp_copy_str(char *dst, size_t size, const char *src);

/* --- the text of human monitor commands ("info qtree", "info mtree", "xp") --------------- */

/* Leading spaces of the len bytes at s: HMP's tree outputs nest by indentation. */
static inline size_t hmp_indent(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] == ' ')
		i++;
	return i;
}

static inline bool hmp_starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

/*
 * The next line of the text at *p that is not blank, without its indentation and line end:
 * its first character (*len of them, *ind spaces in), *p moved past it; NULL at the end.
 */
static inline const char *hmp_next_line(const char **p, size_t *ind, size_t *len)
{
	while (*p && **p) {
		const char *line = *p, *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);

		while (n && line[n - 1] == '\r')
			n--;
		*ind = hmp_indent(line, n);
		*len = n - *ind;
		*p = eol ? eol + 1 : NULL;
		if (*len)
			return line + *ind;
	}
	return NULL;
}

#endif /* GMA_QMP_INTERNAL_H */

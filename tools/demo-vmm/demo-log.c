// SPDX-License-Identifier: GPL-2.0
/* The demo VMM's JSON-lines ground-truth log, shared by all its files and device models. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo-log.h"

static FILE *log_file;

int jlog_open(const char *path)
{
	log_file = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!log_file)
		return -1;
	/* Line-buffered so a test can follow the log while the VM runs. */
	setvbuf(log_file, NULL, _IOLBF, 0);
	return 0;
}

void jlog_close(void)
{
	if (log_file && log_file != stdout)
		fclose(log_file);
	log_file = NULL;
}

void jlog(const char *fmt, ...)
{
	va_list ap;

	if (!log_file)
		return;
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
}

const char *json_escape(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 7 < size; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = c;
		} else if (c < 0x20 || c >= 0x7f) {
			n += snprintf(out + n, size - n, "\\u%04x", c);
		} else {
			out[n++] = c;
		}
	}
	out[n] = '\0';
	return out;
}

uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

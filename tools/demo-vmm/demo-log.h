/* SPDX-License-Identifier: GPL-2.0 */
/* The demo VMM's JSON-lines ground-truth log (demo-log.c), shared by its device models. */
#ifndef GMA_DEMO_LOG_H
#define GMA_DEMO_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Opens the log at @path ("-": stdout); -1 with errno on failure. Until then jlog is a no-op. */
int jlog_open(const char *path);
void jlog_close(void);
/* One log line; @fmt is a complete JSON object without the newline. No-op without --log. */
void jlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes @s as a JSON string body into @out (quotes not included), truncating to fit. */
const char *json_escape(const char *s, char *out, size_t size);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif /* GMA_DEMO_LOG_H */

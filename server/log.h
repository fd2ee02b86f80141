/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service's log: one line per event on stderr, either readable text
 * ("2026-01-02T03:04:05.678901Z  INFO message key=value ...") or, with
 * --json-output, one JSON object per line with an RFC 3339 timestamp, the
 * level and the message first (text-embeddings-inference's flattened
 * tracing layout: {"timestamp", "level", "message", ...fields}). Start-up,
 * model load, every answered request, drains and fatal errors all go
 * through here, so a log shipper never meets a line of another shape.
 *
 * Any thread may log (a line is written with one fputs under a lock); the
 * configuration is set once by log_init before threads start.
 */
#ifndef SMOLSERVE_SERVER_LOG_H
#define SMOLSERVE_SERVER_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the format (json: 1 for JSON lines) and the lowest level written.
 * Call before any other thread logs. */
void log_init(int json, enum log_level min_level);

/* "trace"/"debug" -> LOG_DEBUG, "info", "warn", "error" (any case); -1 if
 * name is none of them. */
int log_level_from_name(const char *name);

/*
 * One event: message (printf format) and optional fields given as
 * alternating key, value pairs in `fields` (n_fields pairs; values are
 * strings written as JSON strings, or in text as key=value). Thread-safe.
 */
void log_event(enum log_level level, const char *const *fields, size_t n_fields, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

#define log_info(...)  log_event(LOG_INFO, NULL, 0, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_WARN, NULL, 0, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, NULL, 0, __VA_ARGS__)

/* One answered HTTP request (the access log): method, path, status, the
 * error message of a 4xx/5xx answer (NULL otherwise) and its numbers.
 * Level INFO below 400, WARN for 4xx, ERROR for 5xx. Thread-safe. */
struct log_http {
	const char *method, *path;
	int status;
	const char *error; /* NULL unless status >= 400 */
	int inputs, tokens, batch_requests;
	double queue_ms, inference_ms, total_ms;
};
void log_request(const struct log_http *h);

/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER: its own messages as WARN
 * lines. cls is unused. */
void log_mhd(void *cls, const char *fmt, va_list ap);

#endif

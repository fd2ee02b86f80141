/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log lines in text or JSON (see log.h). A line is assembled in a buffer
 * on the caller's stack and written with one fputs under a mutex, so lines
 * from several threads never interleave.
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LINE_MAX_BYTES 8192

static int g_json;
static enum log_level g_min = LOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const LEVEL_NAMES[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(int json, enum log_level min_level)
{
	g_json = json;
	g_min = min_level;
}

int log_level_from_name(const char *name)
{
	if (strcasecmp(name, "trace") == 0 || strcasecmp(name, "debug") == 0)
		return LOG_DEBUG;
	if (strcasecmp(name, "info") == 0)
		return LOG_INFO;
	if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
		return LOG_WARN;
	if (strcasecmp(name, "error") == 0)
		return LOG_ERROR;
	return -1;
}

/* A bounded line under construction; appends past the end are dropped. */
struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - 2 - l->len; /* keep room for "\n\0" */
	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* s as the inside of a JSON string: quotes, backslashes and control
 * characters escaped; other bytes as they are (UTF-8 passes through). */
static void put_escaped(struct line *l, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else {
			put(l, (const char *)&c, 1);
		}
	}
}

/* RFC 3339 UTC with microseconds: 2026-01-02T03:04:05.678901Z. */
static void put_timestamp(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char t[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t + n, sizeof(t) - n, ".%06ldZ", ts.tv_nsec / 1000);
	puts_(l, t);
}

static void begin(struct line *l, enum log_level level, const char *message)
{
	l->len = 0;
	if (g_json) {
		puts_(l, "{\"timestamp\":\"");
		put_timestamp(l);
		puts_(l, "\",\"level\":\"");
		puts_(l, LEVEL_NAMES[level]);
		puts_(l, "\",\"message\":\"");
		put_escaped(l, message);
		puts_(l, "\"");
	} else {
		put_timestamp(l);
		puts_(l, level == LOG_INFO || level == LOG_WARN ? "  " : " ");
		puts_(l, LEVEL_NAMES[level]);
		puts_(l, " ");
		for (const char *m = message; *m; m++) /* one event, one line */
			put(l, (unsigned char)*m < 0x20 ? " " : m, 1);
	}
}

/* A string field (value may be NULL: JSON null, text "-"). */
static void field_str(struct line *l, const char *key, const char *value)
{
	if (g_json) {
		puts_(l, ",\"");
		put_escaped(l, key);
		puts_(l, value ? "\":\"" : "\":null");
		if (value) {
			put_escaped(l, value);
			puts_(l, "\"");
		}
	} else {
		puts_(l, " ");
		puts_(l, key);
		puts_(l, "=");
		if (value != NULL && strchr(value, ' ') != NULL) {
			puts_(l, "\"");
			put_escaped(l, value);
			puts_(l, "\"");
		} else {
			puts_(l, value ? value : "-");
		}
	}
}

/* A number field, printed with fmt. */
static void field_num(struct line *l, const char *key, const char *fmt, double v)
{
	char num[64];
	snprintf(num, sizeof(num), fmt, v);
	if (g_json) {
		puts_(l, ",\"");
		puts_(l, key);
		puts_(l, "\":");
		puts_(l, num);
	} else {
		puts_(l, " ");
		puts_(l, key);
		puts_(l, "=");
		puts_(l, num);
	}
}

static void finish(struct line *l)
{
	if (g_json)
		put(l, "}", 1);
	l->buf[l->len++] = '\n';
	l->buf[l->len] = '\0';
	pthread_mutex_lock(&g_lock);
	fputs(l->buf, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&g_lock);
}

void log_event(enum log_level level, const char *const *fields, size_t n_fields, const char *fmt,
               ...)
{
	if (level < g_min)
		return;
	char message[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	struct line l;
	begin(&l, level, message);
	for (size_t i = 0; fields != NULL && i < n_fields; i++)
		field_str(&l, fields[2 * i], fields[2 * i + 1]);
	finish(&l);
}

void log_request(const struct log_http *h)
{
	enum log_level level = h->status >= 500   ? LOG_ERROR
	                       : h->status >= 400 ? LOG_WARN
	                                          : LOG_INFO;
	if (level < g_min)
		return;
	char message[512];
	snprintf(message, sizeof(message), "%s %s %d", h->method, h->path, h->status);
	struct line l;
	begin(&l, level, message);
	field_str(&l, "method", h->method);
	field_str(&l, "path", h->path);
	field_num(&l, "status", "%.0f", h->status);
	if (h->error != NULL)
		field_str(&l, "error", h->error);
	field_num(&l, "inputs", "%.0f", h->inputs);
	field_num(&l, "tokens", "%.0f", h->tokens);
	field_num(&l, "batch_requests", "%.0f", h->batch_requests);
	field_num(&l, "queue_ms", "%.3f", h->queue_ms);
	field_num(&l, "inference_ms", "%.3f", h->inference_ms);
	field_num(&l, "total_ms", "%.3f", h->total_ms);
	finish(&l);
}

void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (LOG_WARN < g_min)
		return;
	char message[1024];
	vsnprintf(message, sizeof(message), fmt, ap);
	size_t n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		message[--n] = '\0';
	struct line l;
	begin(&l, LOG_WARN, message);
	field_str(&l, "source", "libmicrohttpd");
	finish(&l);
}

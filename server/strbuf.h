/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer for building response bodies and metric text.
 * Owned by whoever init'ed it, used by one thread at a time.
 */
#ifndef SMOLSERVE_SERVER_STRBUF_H
#define SMOLSERVE_SERVER_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *data; /* owned, NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	int failed; /* an append ran out of memory; contents are incomplete */
};

void strbuf_init(struct strbuf *b);
void strbuf_dispose(struct strbuf *b);
void strbuf_append(struct strbuf *b, const char *s, size_t n);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data over (caller frees); b is left empty. */
char *strbuf_take(struct strbuf *b, size_t *len);

#endif

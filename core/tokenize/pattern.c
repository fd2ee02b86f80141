/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Patterns for tokenizer.json's Split, Replace and ByteLevel (see
 * pattern.h). Oniguruma does the regular expressions: it is the engine
 * Hugging Face tokenizers compiles these patterns with (through rust-onig),
 * so syntax and Unicode classes agree, where a translation to another
 * engine's dialect would not (\h, \s with U+0085, POSIX brackets). Its
 * compiler is not thread-safe, so compiling is serialised by one mutex;
 * searching a compiled pattern is, with a region per caller.
 */
#include "pattern.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oniguruma.h>

#include "ntext.h"
#include "status.h"

struct pattern {
	OnigRegex re;
};

static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;
static int onig_ready;

void nmatches_dispose(struct nmatches *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int nmatches_push(struct nmatches *m, size_t a, size_t b, int match)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 32;
		struct nmatch *v = realloc(m->v, cap * sizeof(*v));
		if (v == NULL)
			return STATUS_ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct nmatch){a, b, match};
	return 0;
}

void pattern_scratch_dispose(struct pattern_scratch *sc)
{
	if (sc->region != NULL)
		onig_region_free(sc->region, 1);
	sc->region = NULL;
}

/* regex::escape, as Oniguruma reads it: every ASCII character that is not
 * a letter, digit or '_' escaped by its code (\x{..}), the rest as is. */
static char *escape_literal(const char *s, size_t n, size_t *n_out)
{
	char *out = malloc(n * 8 + 1);
	size_t k = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '_')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, 8, "\\x{%x}", c);
	}
	out[k] = '\0';
	*n_out = k;
	return out;
}

int pattern_compile(const char *pattern, size_t n, int literal, struct pattern **out, char *err,
                    size_t n_err)
{
	struct pattern *p = calloc(1, sizeof(*p));
	char *esc = NULL;
	const char *src = pattern;
	size_t n_src = n;
	OnigErrorInfo einfo;
	int r, rc = 0;

	*out = NULL;
	if (p == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	if (literal) {
		if ((esc = escape_literal(pattern, n, &n_src)) == NULL) {
			free(p);
			return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		}
		src = esc;
	}
	pthread_mutex_lock(&compile_lock);
	if (!onig_ready) {
		OnigEncoding enc = ONIG_ENCODING_UTF8;
		onig_initialize(&enc, 1);
		onig_ready = 1;
	}
	r = onig_new(&p->re, (const OnigUChar *)src, (const OnigUChar *)src + n_src,
	             ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, OnigDefaultSyntax, &einfo);
	pthread_mutex_unlock(&compile_lock);
	if (r != ONIG_NORMAL) {
		OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
		onig_error_code_to_str(msg, r, &einfo);
		rc = status_fail(err, n_err, r == ONIGERR_MEMORY ? STATUS_ENOMEM : STATUS_EFORMAT,
		                 "regex \"%.*s\": %s", (int)(n < 80 ? n : 80), pattern,
		                 (const char *)msg);
		p->re = NULL;
		pattern_destroy(p);
		p = NULL;
	}
	free(esc);
	*out = p;
	return rc;
}

void pattern_destroy(struct pattern *p)
{
	if (p == NULL)
		return;
	if (p->re != NULL) {
		pthread_mutex_lock(&compile_lock);
		onig_free(p->re);
		pthread_mutex_unlock(&compile_lock);
	}
	free(p);
}

/* The length of the character at s[i, n) (1 at a bad byte). */
static size_t next_len(const char *s, size_t i, size_t n)
{
	size_t len;
	utf8_cp(s + i, n - i, &len);
	return len;
}

int pattern_find(const struct pattern *p, const char *s, size_t n, struct nmatches *out,
                 struct pattern_scratch *sc, char *err, size_t n_err)
{
	const OnigUChar *str = (const OnigUChar *)s, *end = str + n;
	size_t last_end = 0, prev = 0;
	int have_last = 0;
	size_t last_match_end = 0;

	out->n = 0;
	if (n == 0)
		return nmatches_push(out, 0, 0, 0);
	if (sc->region == NULL && (sc->region = onig_region_new()) == NULL)
		return STATUS_ENOMEM;
	while (last_end <= n) {
		OnigRegion *reg = sc->region;
		onig_region_clear(reg);
		int r = onig_search(p->re, str, end, str + last_end, end, reg, ONIG_OPTION_NONE);
		if (r == ONIG_MISMATCH)
			break;
		if (r < 0) {
			OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
			onig_error_code_to_str(msg, r);
			return status_fail(err, n_err,
			                   r == ONIGERR_MEMORY ? STATUS_ENOMEM : STATUS_ETOKENIZER,
			                   "regex search failed: %s", (const char *)msg);
		}
		size_t a = (size_t)reg->beg[0], b = (size_t)reg->end[0];
		if (a == b && have_last && last_match_end == b) {
			/* rust-onig: no empty match right after the previous one */
			last_end += last_end < n ? next_len(s, last_end, n) : 1;
			continue;
		}
		last_end = b;
		last_match_end = b;
		have_last = 1;
		if (prev != a && nmatches_push(out, prev, a, 0) != 0)
			return STATUS_ENOMEM;
		if (nmatches_push(out, a, b, 1) != 0)
			return STATUS_ENOMEM;
		prev = b;
	}
	if (prev != n && nmatches_push(out, prev, n, 0) != 0)
		return STATUS_ENOMEM;
	return 0;
}

int pattern_find_chars(int (*pred)(int32_t), const char *s, size_t n, struct nmatches *out)
{
	size_t last = 0, i = 0;
	out->n = 0;
	if (n == 0)
		return nmatches_push(out, 0, 0, 0);
	while (i < n) {
		size_t len;
		int32_t cp = utf8_cp(s + i, n - i, &len);
		if (pred(cp)) {
			if (last < i && nmatches_push(out, last, i, 0) != 0)
				return STATUS_ENOMEM;
			if (nmatches_push(out, i, i + len, 1) != 0)
				return STATUS_ENOMEM;
			last = i + len;
		}
		i += len;
	}
	if (n > last && nmatches_push(out, last, n, 0) != 0)
		return STATUS_ENOMEM;
	return 0;
}

void pattern_invert(struct nmatches *m)
{
	for (size_t i = 0; i < m->n; i++)
		m->v[i].match = !m->v[i].match;
}

/* The folds of NormalizedString::split, in place (the output never has
 * more entries than the input, and index w <= r throughout). */
void pattern_apply_behavior(struct nmatches *m, enum split_behavior behavior)
{
	size_t w = 0;
	int prev_match = 0;
	switch (behavior) {
	case SPLIT_ISOLATED:
		for (size_t r = 0; r < m->n; r++)
			m->v[r].match = 0;
		return;
	case SPLIT_REMOVED:
		for (size_t r = 0; r < m->n; r++)
			if (!m->v[r].match)
				m->v[w++] = m->v[r];
		break;
	case SPLIT_CONTIGUOUS:
		for (size_t r = 0; r < m->n; r++) {
			struct nmatch cur = m->v[r];
			if (cur.match == prev_match && w > 0)
				m->v[w - 1].b = cur.b;
			else
				m->v[w++] = (struct nmatch){cur.a, cur.b, 0};
			prev_match = cur.match;
		}
		break;
	case SPLIT_MERGED_WITH_PREVIOUS:
		for (size_t r = 0; r < m->n; r++) {
			struct nmatch cur = m->v[r];
			if (cur.match && !prev_match && w > 0)
				m->v[w - 1].b = cur.b;
			else
				m->v[w++] = (struct nmatch){cur.a, cur.b, 0};
			prev_match = cur.match;
		}
		break;
	case SPLIT_MERGED_WITH_NEXT: {
		/* folded from the end, then the kept stretches are in reverse */
		size_t k = m->n;
		for (size_t r = m->n; r-- > 0;) {
			struct nmatch cur = m->v[r];
			if (cur.match && !prev_match && k < m->n)
				m->v[k].a = cur.a;
			else
				m->v[--k] = (struct nmatch){cur.a, cur.b, 0};
			prev_match = cur.match;
		}
		memmove(m->v, m->v + k, (m->n - k) * sizeof(*m->v));
		w = m->n - k;
		break;
	}
	}
	m->n = w;
}

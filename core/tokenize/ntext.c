/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The normalized text of a tokenizer.json pipeline and Hugging Face's
 * alignment bookkeeping (see ntext.h), plus the character classes the
 * components use, named after the Rust char methods they stand for.
 * Unicode tables: utf8proc's, and Oniguruma's for \w (the regex engine
 * Hugging Face's own splitting uses).
 */
#include "ntext.h"

#include <stdlib.h>
#include <string.h>

#include <oniguruma.h>
#include <utf8proc.h>

#include "status.h"

void ntext_init(struct ntext *t)
{
	memset(t, 0, sizeof(*t));
}

void ntext_dispose(struct ntext *t)
{
	free(t->s);
	free(t->from);
	free(t->to);
	ntext_init(t);
}

int ntext_reserve(struct ntext *t, size_t n_more)
{
	if (t->cap - t->n >= n_more)
		return 0;
	if (n_more > (SIZE_MAX / 16) - t->n)
		return STATUS_ENOMEM;
	size_t cap = t->cap < 256 ? 256 : t->cap;
	while (cap - t->n < n_more)
		cap *= 2;
	char *s = realloc(t->s, cap);
	if (s == NULL)
		return STATUS_ENOMEM;
	t->s = s;
	int32_t *from = realloc(t->from, cap * sizeof(*from));
	if (from == NULL)
		return STATUS_ENOMEM;
	t->from = from;
	int32_t *to = realloc(t->to, cap * sizeof(*to));
	if (to == NULL)
		return STATUS_ENOMEM;
	t->to = to;
	t->cap = cap;
	return 0;
}

void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->n < n + 1) {
		size_t cap = b->cap ? b->cap : 128;
		while (cap - b->n < n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

int ntext_push(struct ntext *t, const char *s, size_t n, int32_t from, int32_t to)
{
	if (ntext_reserve(t, n) != 0)
		return STATUS_ENOMEM;
	if (n > 0)
		memcpy(t->s + t->n, s, n);
	for (size_t i = 0; i < n; i++) {
		t->from[t->n + i] = from;
		t->to[t->n + i] = to;
	}
	t->n += n;
	return 0;
}

int ntext_push_original(struct ntext *t, const char *s, size_t n, int32_t base)
{
	if (n == 0)
		return 0;
	if (ntext_reserve(t, n) != 0)
		return STATUS_ENOMEM;
	memcpy(t->s + t->n, s, n);
	for (size_t i = 0; i < n;) {
		size_t len;
		utf8_cp(s + i, n - i, &len);
		for (size_t k = 0; k < len; k++) {
			t->from[t->n + i + k] = base + (int32_t)i;
			t->to[t->n + i + k] = base + (int32_t)(i + len);
		}
		i += len;
	}
	t->n += n;
	return 0;
}

void nchanges_dispose(struct nchanges *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

int nchanges_push(struct nchanges *c, int32_t cp, int32_t change)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct nchange *v = realloc(c->v, cap * sizeof(*v));
		if (v == NULL)
			return STATUS_ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (struct nchange){cp, change};
	return 0;
}

/* Byte length of the character of piece bytes p[i, n) (0 at the end). */
static size_t char_len_at(const char *p, size_t i, size_t n)
{
	size_t len;
	if (i >= n)
		return 0;
	utf8_cp(p + i, n - i, &len);
	return len;
}

/*
 * transform_range (normalizer.rs) on the whole piece: `offset` walks the
 * old bytes; an inserted character (change > 0) takes the span of the old
 * byte before offset (or [shift, shift) at the start), any other the span
 * of the byte at offset, then consumes its own character and -change more.
 */
int ntext_transform(struct ntext *t, struct nsplit *sp, const struct nchanges *c,
                    size_t initial_offset)
{
	size_t worst = 0, offset = 0, at;
	for (size_t i = 0; i < c->n; i++)
		worst += (size_t)utf8_len(c->v[i].cp);
	if (ntext_reserve(t, worst) != 0)
		return STATUS_ENOMEM;
	/* Reserved: t->s may have moved, so index the old bytes from t->s now. */
	const char *old = t->s + sp->at;
	const int32_t *from = t->from + sp->at, *to = t->to + sp->at;
	size_t n_old = sp->n;
	for (size_t k = 0; k < initial_offset; k++)
		offset += char_len_at(old, offset, n_old);
	at = t->n;
	for (size_t i = 0; i < c->n; i++) {
		int32_t f, e;
		int32_t change = c->v[i].change;
		if (change > 0) {
			f = offset < 1 ? sp->shift : from[offset - 1];
			e = offset < 1 ? sp->shift : to[offset - 1];
		} else {
			if (offset >= n_old)
				return STATUS_ETOKENIZER;
			f = from[offset];
			e = to[offset];
			offset += char_len_at(old, offset, n_old);
			for (int32_t k = 0; k < -change; k++)
				offset += char_len_at(old, offset, n_old);
		}
		int len = utf8_encode(c->v[i].cp, t->s + t->n);
		for (int k = 0; k < len; k++) {
			t->from[t->n + (size_t)k] = f;
			t->to[t->n + (size_t)k] = e;
		}
		t->n += (size_t)len;
	}
	sp->at = at;
	sp->n = t->n - at;
	return 0;
}

void ntext_span(const struct ntext *t, const struct nsplit *sp, size_t a, size_t b, int32_t *start,
                int32_t *stop)
{
	if (a == b) {
		*start = sp->shift + (int32_t)a;
		*stop = sp->shift + (int32_t)b;
		return;
	}
	if (a > b || b > sp->n) { /* outside the piece: the model's own offsets */
		*start = (int32_t)a;
		*stop = (int32_t)b;
		return;
	}
	*start = t->from[sp->at + a];
	*stop = t->to[sp->at + b - 1];
}

struct nsplit ntext_slice(const struct ntext *t, const struct nsplit *sp, size_t a, size_t b)
{
	struct nsplit s = {sp->at + a, b - a, sp->shift, -1};
	if (b > a)
		s.shift = t->from[sp->at + a];
	return s;
}

/* --- UTF-8 ------------------------------------------------------------- */

int32_t utf8_cp(const char *s, size_t n, size_t *len)
{
	const uint8_t *p = (const uint8_t *)s;
	uint8_t c = p[0];
	size_t k = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	if (k >= n)
		k = 0;
	int32_t cp = k == 0 ? c : c & (0x3f >> k);
	for (size_t j = 1; j <= k; j++)
		cp = (cp << 6) | (p[j] & 0x3f);
	*len = k + 1;
	return cp;
}

int utf8_len(int32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

int utf8_encode(int32_t cp, char *p)
{
	return (int)utf8proc_encode_char(cp, (uint8_t *)p);
}

size_t utf8_count(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((uint8_t)s[i] & 0xc0) != 0x80;
	return k;
}

/* --- character classes --------------------------------------------------- */

int cp_is_whitespace(int32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int cp_is_punctuation(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
		       (cp >= 123 && cp <= 126);
	utf8proc_category_t c = utf8proc_category(cp);
	return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

int cp_is_numeric(int32_t cp)
{
	if (cp < 0x80)
		return cp >= '0' && cp <= '9';
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

int cp_is_control(int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
	       c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS;
}

int cp_is_mark(int32_t cp)
{
	if (cp < 0x300)
		return 0;
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

/* Rust regex's \w: Alphabetic (Oniguruma's Alpha is that property), M,
 * Nd, Pc and Join_Control. Oniguruma's own \w differs (it has some No). */
int cp_is_word(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		       (cp >= '0' && cp <= '9') || cp == '_';
	if (cp == 0x200c || cp == 0x200d || cp_is_mark(cp))
		return 1;
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_PC ||
	       ONIGENC_IS_CODE_ALPHA(ONIG_ENCODING_UTF8, (OnigCodePoint)cp) != 0;
}

int cp_lower(int32_t cp, int32_t out[3])
{
	if (cp < 0x80) {
		out[0] = cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp;
		return 1;
	}
	if (cp == 0x130) { /* the one unconditional one-to-many lower-case mapping */
		out[0] = 'i';
		out[1] = 0x307;
		return 2;
	}
	out[0] = utf8proc_tolower(cp);
	return 1;
}

int cp_compose(int32_t a, int32_t b, int32_t *out)
{
	if (b < 0x300 || (b >= 0x3400 && b < 0xa000) || (b >= 0xac00 && b <= 0xd7a3))
		return 0; /* never the second of a composition */
	utf8proc_int32_t buf[2] = {a, b};
	if (utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE | UTF8PROC_STABLE) != 1)
		return 0;
	*out = buf[0];
	return 1;
}

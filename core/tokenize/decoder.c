/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json's decoders (Hugging Face tokenizers src/decoders/) for
 * /decode: ids become their token strings (added tokens' contents, special
 * ones skipped on request), then every decoder of the chain maps the list
 * of strings to a new list (decode_chain), and the last list is joined. No
 * decoder joins the tokens with spaces, as Tokenizer::decode does.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-impl.h"
#include "status.h"

/* A list of strings in one buffer. */
struct strlist {
	struct sbuf b;
	size_t *off, *len;
	size_t n, cap;
};

static void sl_push(struct strlist *l, const char *s, size_t n)
{
	if (l->b.oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		size_t *off = realloc(l->off, cap * sizeof(*off));
		if (off != NULL)
			l->off = off;
		size_t *len = off != NULL ? realloc(l->len, cap * sizeof(*len)) : NULL;
		if (len == NULL) {
			l->b.oom = 1;
			return;
		}
		l->len = len;
		l->cap = cap;
	}
	l->off[l->n] = l->b.n;
	l->len[l->n] = n;
	sbuf_put(&l->b, s, n);
	l->n++;
}

static void sl_dispose(struct strlist *l)
{
	free(l->b.s);
	free(l->off);
	free(l->len);
	memset(l, 0, sizeof(*l));
}

/* Appends s with `from` replaced by `to` (str::replace; replacen with
 * limit 1). */
static void sb_replace(struct sbuf *b, const char *s, size_t n, const char *from, size_t nf,
                       const char *to, size_t nt, int limit)
{
	size_t i = 0, last = 0;
	int done = 0;
	while (nf > 0 && i + nf <= n && (limit == 0 || done < limit)) {
		if (memcmp(s + i, from, nf) == 0) {
			sbuf_put(b, s + last, i - last);
			sbuf_put(b, to, nt);
			i += nf;
			last = i;
			done++;
		} else {
			i++;
		}
	}
	sbuf_put(b, s + last, n - last);
}

/* decoders/wordpiece.rs cleanup(), rule by rule, on b's contents. */
static void cleanup(struct sbuf *b, struct sbuf *tmp)
{
	static const char *const rules[][2] = {
	    {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
	    {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
	    {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	};
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]) && !b->oom; r++) {
		tmp->n = 0;
		sb_replace(tmp, b->s ? b->s : "", b->n, rules[r][0], strlen(rules[r][0]),
		           rules[r][1], strlen(rules[r][1]), 0);
		b->n = 0;
		sbuf_put(b, tmp->s ? tmp->s : "", tmp->n);
		b->oom |= tmp->oom;
	}
}

/* --- one decoder: in -> out ------------------------------------------------- */

struct dec_ctx {
	struct sbuf cur, tmp;
	struct nmatches m;
	struct pattern_scratch ps;
};

/* "<0xXX>" -> XX (either hex case, as u8::from_str_radix), else -1. */
static int byte_token(const char *s, size_t n)
{
	int v = 0;
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	for (int i = 3; i < 5; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* ByteFallback's run of bytes: one string if valid UTF-8, else one
 * U+FFFD per byte. */
static void flush_bytes(struct strlist *out, const uint8_t *bytes, size_t n)
{
	if (n == 0)
		return;
	if (utf8_valid((const char *)bytes, n)) {
		sl_push(out, (const char *)bytes, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		sl_push(out, "\xef\xbf\xbd", 3);
}

static void byte_fallback(struct dec_ctx *x, const struct strlist *in, struct strlist *out)
{
	x->tmp.n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const char *s = in->b.s + in->off[i];
		int v = byte_token(s, in->len[i]);
		if (v >= 0) {
			char c = (char)v;
			sbuf_put(&x->tmp, &c, 1);
			continue;
		}
		flush_bytes(out, (const uint8_t *)x->tmp.s, x->tmp.n);
		x->tmp.n = 0;
		sl_push(out, s, in->len[i]);
	}
	flush_bytes(out, (const uint8_t *)x->tmp.s, x->tmp.n);
	out->b.oom |= x->tmp.oom;
}

/* ByteLevel: every token's characters back to bytes (a token with a
 * character outside the alphabet as its own UTF-8), one lossy string. */
static void byte_level(struct dec_ctx *x, const struct strlist *in, struct strlist *out)
{
	x->tmp.n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const char *s = in->b.s + in->off[i];
		size_t n = in->len[i], len, k = x->tmp.n;
		int ok = 1;
		for (size_t j = 0; j < n && ok; j += len) {
			int b = bpe_cp_byte(utf8_cp(s + j, n - j, &len));
			char c = (char)b;
			if (b < 0)
				ok = 0;
			else
				sbuf_put(&x->tmp, &c, 1);
		}
		if (!ok) {
			x->tmp.n = k;
			sbuf_put(&x->tmp, s, n);
		}
	}
	x->cur.n = 0;
	sbuf_put(&x->cur, "", 0);
	if (x->tmp.n > 0 && !x->cur.oom) {
		char *p = realloc(x->cur.s, 3 * x->tmp.n + 1);
		if (p == NULL) {
			out->b.oom = 1;
			return;
		}
		x->cur.s = p;
		x->cur.cap = 3 * x->tmp.n + 1;
		x->cur.n = bpe_utf8_replace((const uint8_t *)x->tmp.s, x->tmp.n, x->cur.s);
	}
	out->b.oom |= x->tmp.oom | x->cur.oom;
	sl_push(out, x->cur.s, x->cur.n);
}

static void per_token(const struct pl_decoder *d, struct dec_ctx *x, const struct strlist *in,
                      struct strlist *out, char *err, size_t n_err)
{
	const struct decoder_cfg *c = &d->cfg;
	for (size_t i = 0; i < in->n && !out->b.oom; i++) {
		const char *s = in->b.s + in->off[i];
		size_t n = in->len[i], len;
		struct sbuf *b = &x->cur;
		b->n = 0;
		sbuf_put(b, "", 0);
		switch (c->kind) {
		case DECODER_WORDPIECE: {
			size_t np = strlen(d->prefix);
			if (i != 0 && n >= np && memcmp(s, d->prefix, np) == 0) {
				sb_replace(b, s, n, d->prefix, np, "", 0, 1);
			} else {
				if (i != 0)
					sbuf_put(b, " ", 1);
				sbuf_put(b, s, n);
			}
			if (c->cleanup)
				cleanup(b, &x->tmp);
			break;
		}
		case DECODER_METASPACE:
			for (size_t j = 0; j < n; j += len) {
				int32_t cp = utf8_cp(s + j, n - j, &len);
				if (cp != c->replacement)
					sbuf_put(b, s + j, len);
				else if (!(i == 0 && c->prepend_scheme != PREPEND_NEVER))
					sbuf_put(b, " ", 1);
			}
			break;
		case DECODER_BPE:
			sb_replace(b, s, n, d->suffix, strlen(d->suffix), i + 1 == in->n ? "" : " ",
			           i + 1 == in->n ? 0 : 1, 0);
			break;
		case DECODER_STRIP: {
			size_t n_chars = utf8_count(s, n), a = 0, z = n, cut = 0, j = 0;
			for (; j < n && cut < c->start; j += len, cut++) {
				if (utf8_cp(s + j, n - j, &len) != c->strip_char)
					break;
				a = j + len;
			}
			size_t left = n_chars - cut;
			for (size_t k = 0; k < c->stop && k < left && z > a; k++) {
				size_t q = z - 1;
				while (q > a && ((uint8_t)s[q] & 0xc0) == 0x80)
					q--;
				if (utf8_cp(s + q, z - q, &len) != c->strip_char)
					break;
				z = q;
			}
			sbuf_put(b, s + a, z - a);
			break;
		}
		case DECODER_REPLACE:
			if (pattern_find(d->pattern, s, n, &x->m, &x->ps, err, n_err) != 0) {
				b->oom = 1;
				break;
			}
			for (size_t k = 0; k < x->m.n; k++) {
				const struct nmatch *mt = &x->m.v[k];
				if (mt->match)
					sbuf_put(b, d->content, strlen(d->content));
				else
					sbuf_put(b, s + mt->a, mt->b - mt->a);
			}
			break;
		default:
			sbuf_put(b, s, n);
			break;
		}
		out->b.oom |= b->oom;
		sl_push(out, b->s, b->n);
	}
}

/* CTC: consecutive duplicates dropped, pad removed, cleanup, empty dropped. */
static void ctc(const struct pl_decoder *d, struct dec_ctx *x, const struct strlist *in,
                struct strlist *out)
{
	for (size_t i = 0; i < in->n && !out->b.oom; i++) {
		const char *s = in->b.s + in->off[i];
		size_t n = in->len[i];
		if (i > 0 && in->len[i - 1] == n && memcmp(in->b.s + in->off[i - 1], s, n) == 0)
			continue;
		x->cur.n = 0;
		sb_replace(&x->cur, s, n, d->pad_token, strlen(d->pad_token), "", 0, 0);
		if (d->cfg.cleanup) {
			cleanup(&x->cur, &x->tmp);
			x->tmp.n = 0;
			sb_replace(&x->tmp, x->cur.s ? x->cur.s : "", x->cur.n,
			           d->word_delimiter_token, strlen(d->word_delimiter_token), " ", 1,
			           0);
			x->cur.n = 0;
			sbuf_put(&x->cur, x->tmp.s ? x->tmp.s : "", x->tmp.n);
		}
		out->b.oom |= x->cur.oom | x->tmp.oom;
		if (x->cur.n > 0)
			sl_push(out, x->cur.s, x->cur.n);
	}
}

static void decode_one(const struct pl_decoder *d, struct dec_ctx *x, const struct strlist *in,
                       struct strlist *out, char *err, size_t n_err)
{
	switch (d->cfg.kind) {
	case DECODER_BYTE_LEVEL:
		byte_level(x, in, out);
		return;
	case DECODER_BYTE_FALLBACK:
		byte_fallback(x, in, out);
		return;
	case DECODER_FUSE:
		x->tmp.n = 0;
		sbuf_put(&x->tmp, "", 0);
		for (size_t i = 0; i < in->n; i++)
			sbuf_put(&x->tmp, in->b.s + in->off[i], in->len[i]);
		out->b.oom |= x->tmp.oom;
		sl_push(out, x->tmp.s, x->tmp.n);
		return;
	case DECODER_CTC:
		ctc(d, x, in, out);
		return;
	default:
		per_token(d, x, in, out, err, n_err);
		return;
	}
}

/* See tokenizer_decode. */
int pl_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids, int skip_special,
              char *out, size_t n_out, char *err, size_t n_err)
{
	const struct pipeline *p = t->impl;
	struct strlist lists[2];
	struct dec_ctx x;
	int rc = 0, cur = 0;
	size_t len = 0;

	memset(lists, 0, sizeof(lists));
	memset(&x, 0, sizeof(x));
	for (size_t i = 0; i < n_ids; i++) {
		if (skip_special && p->is_special[ids[i]])
			continue;
		const char *s = tokenizer_id_to_token(t, ids[i]);
		sl_push(&lists[0], s, strlen(s));
	}
	for (size_t k = 0; k < p->n_decoders && !lists[cur].b.oom; k++) {
		struct strlist *in = &lists[cur], *o = &lists[!cur];
		o->n = 0;
		o->b.n = 0;
		decode_one(&p->decoders[k], &x, in, o, err, n_err);
		cur = !cur;
	}
	/* joined: with "" after decoders, with " " without any (a list whose
	 * buffer failed may count strings it does not hold: not read) */
	struct strlist *l = &lists[cur];
	x.cur.n = 0;
	sbuf_put(&x.cur, "", 0);
	for (size_t i = 0; i < l->n && !l->b.oom; i++) {
		if (i > 0 && p->n_decoders == 0)
			sbuf_put(&x.cur, " ", 1);
		sbuf_put(&x.cur, l->b.s + l->off[i], l->len[i]);
	}
	if (l->b.oom || x.cur.oom || x.tmp.oom || lists[!cur].b.oom) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory decoding");
		goto done;
	}
	len = x.cur.n;
	if (len >= INT_MAX) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "decoded text too long");
		goto done;
	}
	if (out != NULL && n_out > 0) {
		size_t k = len < n_out - 1 ? len : n_out - 1;
		memcpy(out, x.cur.s, k);
		out[k] = '\0';
	}
done:
	if (rc != 0 && out != NULL && n_out > 0)
		out[0] = '\0';
	sl_dispose(&lists[0]);
	sl_dispose(&lists[1]);
	free(x.cur.s);
	free(x.tmp.s);
	nmatches_dispose(&x.m);
	pattern_scratch_dispose(&x.ps);
	return rc != 0 ? rc : (int)len;
}

static int dup_opt(char **dst, const char *src, const char *def)
{
	if (src == NULL)
		src = def;
	*dst = src != NULL ? strdup(src) : NULL;
	return src != NULL && *dst == NULL ? STATUS_ENOMEM : 0;
}

int pl_decoder_build(struct pl_decoder *d, const struct decoder_cfg *cfg, char *err, size_t n_err)
{
	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->cfg.prefix = d->cfg.suffix = d->cfg.pattern = d->cfg.content = NULL;
	d->cfg.pad_token = d->cfg.word_delimiter_token = NULL;
	if (dup_opt(&d->prefix, cfg->prefix, "##") != 0 ||
	    dup_opt(&d->suffix, cfg->suffix, "</w>") != 0 ||
	    dup_opt(&d->content, cfg->content, "") != 0 ||
	    dup_opt(&d->pad_token, cfg->pad_token, "<pad>") != 0 ||
	    dup_opt(&d->word_delimiter_token, cfg->word_delimiter_token, "|") != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	if (cfg->kind == DECODER_REPLACE) {
		const char *p = cfg->pattern != NULL ? cfg->pattern : "";
		return pattern_compile(p, strlen(p), !cfg->pattern_is_regex, &d->pattern, err,
		                       n_err);
	}
	return 0;
}

void pl_decoder_dispose(struct pl_decoder *d)
{
	free(d->prefix);
	free(d->suffix);
	free(d->content);
	free(d->pad_token);
	free(d->word_delimiter_token);
	pattern_destroy(d->pattern);
	memset(d, 0, sizeof(*d));
}

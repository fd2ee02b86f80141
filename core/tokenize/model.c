/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json's models on one pre-tokenized split, as Hugging Face
 * tokenizers' Model::tokenize does them, run by the machines the classic
 * files use: WordPiece's greedy longest match (wordpiece_greedy), the BPE
 * merge engine (bpe_merge_word, in Word::merge_all's order) and the unigram
 * Viterbi (spm_unigram_viterbi in double precision). This file only adds
 * what tokenizer.json configures around them: continuation prefixes and
 * end-of-word suffixes, unknown tokens (fused or not), byte fallback and
 * ignore_merges. Token offsets are bytes of the split, turned into original
 * spans by its alignments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-impl.h"
#include "status.h"
#include "wordpiece.h"

/* id of s[0, n) in the model's own vocabulary (not added tokens), or -1. */
static int32_t model_find(const struct tokenizer *t, const struct pl_model *m, const char *s,
                          size_t n)
{
	int32_t id = vocab_find(&t->vocab, s, n);
	return id < m->n_vocab ? id : -1;
}

/* A token from split bytes [a, b), its value the vocabulary string. */
static int push(struct pl_call *c, const struct nsplit *sp, struct pl_tokens *s, int32_t id,
                size_t a, size_t b)
{
	int32_t start, stop;
	const char *v = c->t->vocab.tokens[id];
	ntext_span(&c->text, sp, a, b, &start, &stop);
	return pl_token_push(c, s, id, start, stop, v, strlen(v));
}

static int unk_or_fail(struct pl_call *c, const struct pl_model *m)
{
	if (m->unk_id >= 0)
		return 0;
	return status_fail(c->err, c->n_err, STATUS_ETOKENIZER,
	                   m->unk_missing ? "the model's unk_token is not in its vocabulary"
	                                  : "an unknown piece and the model has no unk token");
}

/* --- WordPiece (models/wordpiece/mod.rs) ---------------------------------- */

struct wp_ctx {
	struct pl_call *c;
	const struct nsplit *sp;
	struct pl_tokens *s;
};

static int wp_piece(void *ctx, int32_t id, int32_t first, int32_t end)
{
	struct wp_ctx *w = ctx;
	return push(w->c, w->sp, w->s, id, w->c->bpos[first], w->c->bpos[end]);
}

static int wordpiece(struct pl_call *c, const struct pl_model *m, const struct nsplit *sp,
                     struct pl_tokens *s)
{
	const char *word = c->text.s + sp->at;
	int32_t n = 0, first = s->n;
	size_t len;
	int rc;
	if (sp->n + 1 > c->cap_bpos) {
		uint32_t *p = realloc(c->bpos, (sp->n + 1) * sizeof(*p));
		if (p == NULL)
			return STATUS_ENOMEM;
		c->bpos = p;
		c->cap_bpos = sp->n + 1;
	}
	for (size_t i = 0; i < sp->n; i += len, n++) {
		c->bpos[n] = (uint32_t)i;
		utf8_cp(word + i, sp->n - i, &len);
	}
	c->bpos[n] = (uint32_t)sp->n;
	rc = 1;
	if (n <= m->max_chars) {
		if (pl_buf_reserve(c, m->n_prefix + sp->n) != 0)
			return STATUS_ENOMEM;
		memcpy(c->buf + m->n_prefix, word, sp->n);
		struct wp_ctx w = {c, sp, s};
		rc = wordpiece_greedy(&c->t->vocab, m->max_token_bytes, m->prefix, m->n_prefix,
		                      c->buf, c->bpos, n, wp_piece, &w);
		if (rc < 0)
			return rc;
	}
	if (rc == 0)
		return 0;
	s->n = first; /* too long or no match: the whole word is unknown */
	if ((rc = unk_or_fail(c, m)) != 0)
		return rc;
	return push(c, sp, s, m->unk_id, 0, sp->n);
}

/* --- BPE (models/bpe/model.rs merge_word) ---------------------------------- */

/* One symbol: id, covering [pos, pos + len) of the split's bytes. */
static void bpe_add(struct pl_call *c, int32_t *n_sym, uint32_t id, size_t *pos, size_t len)
{
	c->bs.sym[*n_sym] = (struct bpe_sym){id, (int32_t)*pos, (int32_t)(*pos + len), 0, 0};
	(*n_sym)++;
	*pos += len;
}

/* The character s (already with prefix/suffix) as byte-fallback symbols,
 * if every byte has one. */
static int bpe_bytes(struct pl_call *c, const struct pl_model *m, const char *s, size_t n,
                     int32_t *n_sym, size_t *pos)
{
	for (size_t i = 0; i < n; i++)
		if (m->byte_ids[(uint8_t)s[i]] < 0)
			return 0;
	for (size_t i = 0; i < n; i++)
		bpe_add(c, n_sym, (uint32_t)m->byte_ids[(uint8_t)s[i]], pos, 1);
	return 1;
}

static int bpe(struct pl_call *c, const struct pl_model *m, const struct nsplit *sp,
               struct pl_tokens *s)
{
	const char *w = c->text.s + sp->at;
	size_t len, pos = 0, unk_len = 0;
	int32_t n_sym = 0, id;
	int have_unk = 0, rc;

	if (sp->n == 0)
		return 0;
	if (m->ignore_merges && (id = model_find(c->t, m, w, sp->n)) >= 0)
		return push(c, sp, s, id, 0, sp->n);
	/* at most prefix + 4 + suffix bytes a character, each maybe one symbol */
	size_t worst = sp->n * (m->n_prefix + m->n_suffix + 4);
	if (bpe_scratch_reserve(&c->bs, worst) != 0 ||
	    pl_buf_reserve(c, m->n_prefix + 4 + m->n_suffix) != 0)
		return STATUS_ENOMEM;
	for (size_t i = 0; i < sp->n; i += len) {
		utf8_cp(w + i, sp->n - i, &len);
		size_t k = 0;
		if (i > 0 && m->prefix != NULL) {
			memcpy(c->buf, m->prefix, m->n_prefix);
			k = m->n_prefix;
		}
		memcpy(c->buf + k, w + i, len);
		k += len;
		if (i + len == sp->n && m->suffix != NULL) {
			memcpy(c->buf + k, m->suffix, m->n_suffix);
			k += m->n_suffix;
		}
		if ((id = model_find(c->t, m, c->buf, k)) >= 0) {
			if (have_unk)
				bpe_add(c, &n_sym, (uint32_t)m->unk_id, &pos, unk_len);
			have_unk = 0;
			bpe_add(c, &n_sym, (uint32_t)id, &pos, len);
			continue;
		}
		if (m->byte_fallback && bpe_bytes(c, m, c->buf, k, &n_sym, &pos))
			continue;
		if (m->unk_id < 0 && !m->unk_missing)
			continue; /* no unk token: the character is dropped */
		if ((rc = unk_or_fail(c, m)) != 0)
			return rc;
		if (have_unk && m->fuse_unk) {
			unk_len += len;
			continue;
		}
		if (have_unk)
			bpe_add(c, &n_sym, (uint32_t)m->unk_id, &pos, unk_len);
		have_unk = 1;
		unk_len = len;
	}
	if (have_unk)
		bpe_add(c, &n_sym, (uint32_t)m->unk_id, &pos, unk_len);
	if (n_sym == 0)
		return 0;
	bpe_merge_word(&m->merges, &c->bs, n_sym, 0);
	for (int32_t k = 0; k >= 0; k = c->bs.sym[k].next) {
		const struct bpe_sym *y = &c->bs.sym[k];
		if ((rc = push(c, sp, s, (int32_t)y->str, (size_t)y->start, (size_t)y->stop)) != 0)
			return rc;
	}
	return 0;
}

/* --- Unigram (models/unigram/model.rs) --------------------------------------- */

static int unigram_piece(struct pl_call *c, const struct pl_model *m, const struct nsplit *sp,
                         struct pl_tokens *s, size_t a, size_t b)
{
	const char *p = c->text.s + sp->at + a;
	char byte[8];
	int32_t start, stop, id = model_find(c->t, m, p, b - a);
	ntext_span(&c->text, sp, a, b, &start, &stop);
	if (id >= 0)
		return pl_token_push(c, s, id, start, stop, p, b - a);
	if (m->byte_fallback) {
		size_t i = a;
		while (i < b && m->byte_ids[(uint8_t)c->text.s[sp->at + i]] >= 0)
			i++;
		for (size_t k = a; i == b && k < b; k++) {
			uint8_t v = (uint8_t)c->text.s[sp->at + k];
			snprintf(byte, sizeof(byte), "<0x%02X>", (unsigned)v);
			if (pl_token_push(c, s, m->byte_ids[v], start, stop, byte, 6) != 0)
				return STATUS_ENOMEM;
		}
		if (i == b)
			return 0;
	}
	int rc = unk_or_fail(c, m);
	return rc != 0 ? rc : pl_token_push(c, s, m->unk_id, start, stop, p, b - a);
}

static int unigram(struct pl_call *c, const struct pl_model *m, const struct nsplit *sp,
                   struct pl_tokens *s)
{
	const uint8_t *w = (const uint8_t *)c->text.s + sp->at;
	int rc;
	if (sp->n == 0)
		return 0;
	rc = spm_unigram_viterbi(&m->spm, w, sp->n, &c->sw);
	if (rc == STATUS_ETOKENIZER)
		return unk_or_fail(c, m);
	if (rc != 0)
		return rc;
	/* consecutive unknowns are one piece (fuse_unk) */
	for (size_t i = 0; i < c->sw.raw.n;) {
		const struct spm_tok *tk = &c->sw.raw.v[i];
		size_t a = (size_t)tk->begin, b = (size_t)tk->end, j = i + 1;
		if (tk->id == m->unk_id)
			while (j < c->sw.raw.n && c->sw.raw.v[j].id == m->unk_id)
				b = (size_t)c->sw.raw.v[j++].end;
		if ((rc = unigram_piece(c, m, sp, s, a, b)) != 0)
			return rc;
		i = j;
	}
	return 0;
}

int pl_model_tokenize(struct pl_call *c, const struct nsplit *sp, struct pl_tokens *s)
{
	const struct pl_model *m = &c->p->model;
	switch (m->kind) {
	case MODEL_WORDPIECE:
		return wordpiece(c, m, sp, s);
	case MODEL_BPE:
		return bpe(c, m, sp, s);
	case MODEL_UNIGRAM:
		return unigram(c, m, sp, s);
	}
	return 0;
}

/* --- build ---------------------------------------------------------------- */

static int copy_opt(char **dst, size_t *n, const char *src)
{
	*dst = NULL;
	*n = 0;
	if (src == NULL)
		return 0;
	if ((*dst = strdup(src)) == NULL)
		return STATUS_ENOMEM;
	*n = strlen(src);
	return 0;
}

/* BPE's merges as Hugging Face builds them: both tokens and a + b (b
 * without the continuation prefix's bytes) must be in the vocabulary. */
static int build_merges(struct pl_model *m, const struct model_cfg *cfg, const struct vocab *v,
                        char *err, size_t n_err)
{
	char *ab = NULL;
	size_t cap = 0;
	int rc = 0;
	if (bpe_merges_init(&m->merges, cfg->n_merges) != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_merges && rc == 0; i++) {
		const char *a = cfg->merges[i].a, *b = cfg->merges[i].b;
		size_t na = strlen(a), nb = strlen(b);
		int32_t ia = vocab_find(v, a, na), ib = vocab_find(v, b, nb), iab;
		if (ia < 0 || ib < 0) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "BPE: merge %zu: token \"%.64s\" is not in the vocabulary",
			                 i, ia < 0 ? a : b);
			break;
		}
		if (nb < m->n_prefix ||
		    (nb > m->n_prefix && ((uint8_t)b[m->n_prefix] & 0xc0) == 0x80)) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "BPE: merge %zu: \"%.64s\" is shorter than the continuing "
			                 "subword prefix",
			                 i, b);
			break;
		}
		if (na + nb + 1 > cap) {
			cap = (na + nb + 1) * 2;
			char *p = realloc(ab, cap);
			if (p == NULL) {
				rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
				break;
			}
			ab = p;
		}
		memcpy(ab, a, na);
		memcpy(ab + na, b + m->n_prefix, nb - m->n_prefix);
		if ((iab = vocab_find(v, ab, na + nb - m->n_prefix)) < 0) {
			rc = status_fail(
			    err, n_err, STATUS_EFORMAT,
			    "BPE: merge %zu: \"%.*s\" is not in the vocabulary", i,
			    (int)(na + nb - m->n_prefix < 64 ? na + nb - m->n_prefix : 64), ab);
			break;
		}
		bpe_merges_put(&m->merges, (uint32_t)ia, (uint32_t)ib, (uint32_t)iab, (int32_t)i);
	}
	free(ab);
	return rc;
}

/* A copy of v (for the unigram model, which keeps its own pieces). */
static int vocab_copy(struct vocab *dst, const struct vocab *v)
{
	memset(dst, 0, sizeof(*dst));
	for (int32_t i = 0; i < v->n_tokens; i++)
		if (vocab_add(dst, v->tokens[i], strlen(v->tokens[i])) != 0) {
			vocab_dispose(dst);
			return STATUS_ENOMEM;
		}
	return 0;
}

int pl_model_build(struct pl_model *m, const struct model_cfg *cfg, const struct vocab *v,
                   char *err, size_t n_err)
{
	static const char *const names[] = {"WordPiece", "BPE", "Unigram"};
	struct vocab pieces;
	int rc;

	memset(m, 0, sizeof(*m));
	m->kind = cfg->kind;
	m->n_vocab = v->n_tokens;
	m->unk_id = -1;
	if (v->n_tokens == 0)
		return status_fail(err, n_err, STATUS_EFORMAT, "%s: the vocabulary is empty",
		                   names[cfg->kind]);
	if (copy_opt(&m->prefix, &m->n_prefix, cfg->continuing_subword_prefix) != 0 ||
	    copy_opt(&m->suffix, &m->n_suffix, cfg->end_of_word_suffix) != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	if (cfg->kind != MODEL_UNIGRAM && cfg->unk_token != NULL) {
		m->unk_id = vocab_find(v, cfg->unk_token, strlen(cfg->unk_token));
		m->unk_missing = m->unk_id < 0;
	}
	m->max_chars = cfg->max_input_chars_per_word > 0 ? cfg->max_input_chars_per_word : 100;
	for (int32_t i = 0; i < v->n_tokens; i++) {
		size_t k = strlen(v->tokens[i]);
		m->max_token_bytes = k > m->max_token_bytes ? k : m->max_token_bytes;
	}
	m->fuse_unk = cfg->fuse_unk;
	m->byte_fallback = cfg->byte_fallback;
	m->ignore_merges = cfg->ignore_merges;
	for (int b = 0; b < 256; b++) {
		char s[8];
		snprintf(s, sizeof(s), "<0x%02X>", (unsigned)b);
		m->byte_ids[b] = vocab_find(v, s, 6);
	}
	if (cfg->kind == MODEL_BPE && (rc = build_merges(m, cfg, v, err, n_err)) != 0)
		return rc;
	if (cfg->kind == MODEL_UNIGRAM) {
		m->unk_id = cfg->unk_id;
		if (cfg->scores == NULL || vocab_copy(&pieces, v) != 0)
			return status_fail(
			    err, n_err, cfg->scores == NULL ? STATUS_EFORMAT : STATUS_ENOMEM,
			    "Unigram: %s", cfg->scores == NULL ? "no scores" : "out of memory");
		if ((rc = spm_model_from_vocab(&m->spm, &pieces, cfg->scores, cfg->unk_id, err,
		                               n_err)) != 0)
			return rc;
	}
	return 0;
}

void pl_model_dispose(struct pl_model *m)
{
	free(m->prefix);
	free(m->suffix);
	bpe_merges_dispose(&m->merges);
	spm_model_dispose(&m->spm);
	memset(m, 0, sizeof(*m));
}

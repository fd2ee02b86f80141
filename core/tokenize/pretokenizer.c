/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json's pre-tokenizers (Hugging Face tokenizers
 * src/pre_tokenizers/): each cuts every text split of an input into smaller
 * ones (PreTokenizedString::split), some transforming them first (ByteLevel
 * maps bytes to GPT-2's alphabet, Metaspace spaces to its replacement). The
 * cuts are NormalizedString::split's: a pattern's matches and a delimiter
 * behaviour, empty pieces dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-impl.h"
#include "status.h"

/* ByteLevel's pattern, as in pre_tokenizers/byte_level.rs. */
static const char k_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int is_bert_punc(int32_t cp)
{
	return cp_is_punctuation(cp);
}

/* Cuts sp by c->m (already behaviour-applied) into c->next. */
static int push_pieces(struct pl_call *c, const struct nsplit *sp)
{
	for (size_t i = 0; i < c->m.n; i++) {
		const struct nmatch *mt = &c->m.v[i];
		if (mt->b > mt->a && pl_next_push(c, ntext_slice(&c->text, sp, mt->a, mt->b)) != 0)
			return STATUS_ENOMEM;
	}
	return 0;
}

/* The matches of pt's cut in split sp, into c->m. */
static int find(struct pl_call *c, const struct nsplit *sp, const struct pattern *re,
                int (*pred)(int32_t))
{
	const char *s = c->text.s + sp->at;
	if (re != NULL)
		return pattern_find(re, s, sp->n, &c->m, &c->ps, c->err, c->n_err);
	return pattern_find_chars(pred, s, sp->n, &c->m);
}

/* One NormalizedString::split over every text split. */
static int split_all(struct pl_call *c, const struct pattern *re, int (*pred)(int32_t),
                     enum split_behavior behavior, int invert)
{
	int rc = 0;
	c->n_next = 0;
	for (size_t i = 0; i < c->n_splits && rc == 0; i++) {
		const struct nsplit *sp = &c->splits[i];
		if (sp->id >= 0) {
			rc = pl_next_push(c, *sp);
			continue;
		}
		if ((rc = find(c, sp, re, pred)) != 0)
			break;
		if (invert)
			pattern_invert(&c->m);
		pattern_apply_behavior(&c->m, behavior);
		rc = push_pieces(c, sp);
	}
	return rc != 0 ? rc : pl_next_commit(c);
}

/* ByteLevel: an optional " " in front, the GPT-2 cut, then every byte as
 * its character of the alphabet (a character's first byte replaces it,
 * the others are inserted). */
static int byte_level(struct pl_call *c, const struct pl_pretok *pt)
{
	int rc = 0;
	for (size_t i = 0; pt->cfg.add_prefix_space && i < c->n_splits && rc == 0; i++) {
		struct nsplit *sp = &c->splits[i];
		if (sp->id < 0 && sp->n > 0 && c->text.s[sp->at] != ' ')
			rc = pl_text_prepend(&c->text, sp, &c->ch, " ", 1);
	}
	if (rc == 0 && pt->cfg.use_regex)
		rc = split_all(c, pt->pattern, NULL, SPLIT_ISOLATED, 0);
	for (size_t i = 0; i < c->n_splits && rc == 0; i++) {
		struct nsplit *sp = &c->splits[i];
		if (sp->id >= 0)
			continue;
		c->ch.n = 0;
		for (size_t k = 0; k < sp->n && rc == 0; k++) {
			uint8_t b = (uint8_t)c->text.s[sp->at + k];
			int first = (b & 0xc0) != 0x80;
			rc = nchanges_push(&c->ch, bpe_byte_cp(b), !first);
		}
		if (rc == 0)
			rc = ntext_transform(&c->text, sp, &c->ch, 0);
	}
	return rc;
}

static int is_space(int32_t cp)
{
	return cp == ' ';
}

/* Metaspace: ' ' -> replacement, the replacement in front as the scheme
 * says, then a cut before every replacement (MergedWithNext). */
static int metaspace(struct pl_call *c, const struct pl_pretok *pt)
{
	char rep[4];
	int n_rep = utf8_encode(pt->cfg.replacement, rep), rc = 0;
	for (size_t i = 0; i < c->n_splits && rc == 0; i++) {
		struct nsplit *sp = &c->splits[i];
		if (sp->id >= 0)
			continue;
		if ((rc = pattern_find_chars(is_space, c->text.s + sp->at, sp->n, &c->m)) != 0 ||
		    (rc = pl_text_replace(&c->text, sp, &c->m, rep, (size_t)n_rep)) != 0)
			break;
		int starts =
		    sp->n >= (size_t)n_rep && memcmp(c->text.s + sp->at, rep, (size_t)n_rep) == 0;
		int pre = pt->cfg.prepend_scheme == PREPEND_ALWAYS ||
		          (pt->cfg.prepend_scheme == PREPEND_FIRST && sp->shift == 0);
		if (pre && !starts)
			rc = pl_text_prepend(&c->text, sp, &c->ch, rep, (size_t)n_rep);
	}
	if (rc != 0 || !pt->cfg.split)
		return rc;
	/* a split on one character: the predicate needs it, kept per call */
	c->n_next = 0;
	for (size_t i = 0; i < c->n_splits && rc == 0; i++) {
		const struct nsplit *sp = &c->splits[i];
		if (sp->id >= 0) {
			rc = pl_next_push(c, *sp);
			continue;
		}
		c->m.n = 0;
		size_t last = 0, len;
		for (size_t k = 0; k < sp->n && rc == 0; k += len) {
			int32_t cp = utf8_cp(c->text.s + sp->at + k, sp->n - k, &len);
			if (cp != pt->cfg.replacement)
				continue;
			if (last < k)
				rc = nmatches_push(&c->m, last, k, 0);
			if (rc == 0)
				rc = nmatches_push(&c->m, k, k + len, 1);
			last = k + len;
		}
		if (rc == 0 && sp->n > last)
			rc = nmatches_push(&c->m, last, sp->n, 0);
		if (rc == 0) {
			pattern_apply_behavior(&c->m, SPLIT_MERGED_WITH_NEXT);
			rc = push_pieces(c, sp);
		}
	}
	return rc != 0 ? rc : pl_next_commit(c);
}

/* Whitespace's \w+|[^\w\s]+ (a Rust regex there, whose \w has
 * Join_Control too): the runs of word and of other non-space characters. */
static int words(struct pl_call *c)
{
	int rc = 0;
	c->n_next = 0;
	for (size_t i = 0; i < c->n_splits && rc == 0; i++) {
		const struct nsplit *sp = &c->splits[i];
		const char *s = c->text.s + sp->at;
		size_t k = 0, len;
		if (sp->id >= 0) {
			rc = pl_next_push(c, *sp);
			continue;
		}
		while (k < sp->n && rc == 0) {
			int32_t cp = utf8_cp(s + k, sp->n - k, &len);
			if (cp_is_whitespace(cp)) {
				k += len;
				continue;
			}
			int word = cp_is_word(cp);
			size_t a = k;
			for (k += len; k < sp->n; k += len) {
				cp = utf8_cp(s + k, sp->n - k, &len);
				if (cp_is_whitespace(cp) || cp_is_word(cp) != word)
					break;
			}
			rc = pl_next_push(c, ntext_slice(&c->text, sp, a, k));
		}
	}
	return rc != 0 ? rc : pl_next_commit(c);
}

int pl_pretokenize(struct pl_call *c, const struct pl_pretok *pt)
{
	const struct pretok_cfg *cfg = &pt->cfg;
	int rc;
	switch (cfg->kind) {
	case PRETOK_BERT:
		if ((rc = split_all(c, NULL, cp_is_whitespace, SPLIT_REMOVED, 0)) != 0)
			return rc;
		return split_all(c, NULL, is_bert_punc, SPLIT_ISOLATED, 0);
	case PRETOK_BYTE_LEVEL:
		return byte_level(c, pt);
	case PRETOK_METASPACE:
		return metaspace(c, pt);
	case PRETOK_WHITESPACE:
		return words(c);
	case PRETOK_WHITESPACE_SPLIT:
		return split_all(c, NULL, cp_is_whitespace, SPLIT_REMOVED, 0);
	case PRETOK_PUNCTUATION:
		return split_all(c, NULL, is_bert_punc, cfg->behavior, 0);
	case PRETOK_DIGITS:
		return split_all(c, NULL, cp_is_numeric,
		                 cfg->individual_digits ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS, 0);
	case PRETOK_SPLIT:
		return split_all(c, pt->pattern, NULL, cfg->behavior, cfg->invert);
	}
	return 0;
}

int pl_pretok_build(struct pl_pretok *p, const struct pretok_cfg *cfg, char *err, size_t n_err)
{
	const char *re = NULL;
	int literal = 0;
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->cfg.pattern = NULL;
	if (cfg->kind == PRETOK_BYTE_LEVEL && cfg->use_regex)
		re = k_gpt2;
	else if (cfg->kind == PRETOK_SPLIT) {
		re = cfg->pattern != NULL ? cfg->pattern : "";
		literal = !cfg->pattern_is_regex;
	}
	if (re == NULL)
		return 0;
	return pattern_compile(re, strlen(re), literal, &p->pattern, err, n_err);
}

void pl_pretok_dispose(struct pl_pretok *p)
{
	pattern_destroy(p->pattern);
	memset(p, 0, sizeof(*p));
}

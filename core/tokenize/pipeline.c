/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokenizer.json pipeline (see pipeline.h): building it from its
 * configuration, and encoding as Hugging Face tokenizers' TokenizerImpl
 * does (tokenizer/mod.rs, added_vocabulary.rs): added tokens matched in the
 * raw text, normalization of what is left, added tokens matched again in
 * the normalized text, pre-tokenization, the model on every split, then
 * truncation (longest_first as truncate_encodings does it), offset trimming
 * and the post-processor's template. Offsets are bytes of the caller's
 * text, derived from the normalized text's alignments as into_encoding
 * derives them.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-impl.h"
#include "status.h"

/* --- per-call helpers ------------------------------------------------------ */

int pl_next_push(struct pl_call *c, struct nsplit sp)
{
	if (c->n_next == c->cap_next) {
		size_t cap = c->cap_next ? c->cap_next * 2 : 32;
		struct nsplit *b = realloc(c->next, cap * sizeof(*b));
		if (b == NULL)
			return STATUS_ENOMEM;
		c->next = b;
		c->cap_next = cap;
	}
	c->next[c->n_next++] = sp;
	return 0;
}

/* Splits in c->splits may be pointed at while c->next grows, so only here,
 * between passes, does c->splits grow. */
int pl_next_commit(struct pl_call *c)
{
	size_t w = 0;
	if (c->n_next > c->cap) {
		struct nsplit *a = realloc(c->splits, c->n_next * sizeof(*a));
		if (a == NULL)
			return STATUS_ENOMEM;
		c->splits = a;
		c->cap = c->n_next;
	}
	for (size_t i = 0; i < c->n_next; i++)
		if (c->next[i].n > 0)
			c->splits[w++] = c->next[i];
	c->n_splits = w;
	c->n_next = 0;
	return 0;
}

int pl_buf_reserve(struct pl_call *c, size_t n)
{
	if (n <= c->cap_buf)
		return 0;
	char *p = realloc(c->buf, n);
	if (p == NULL)
		return STATUS_ENOMEM;
	c->buf = p;
	c->cap_buf = n;
	return 0;
}

/* How many leading (or trailing) characters of a token string are 'Ġ' or
 * whitespace. */
static uint8_t space_chars(const char *s, size_t n, int trailing)
{
	size_t count = 0, i = 0, j = n, len;
	while (trailing ? j > 0 : i < n) {
		size_t at = i;
		if (trailing) {
			at = j - 1;
			while (at > 0 && ((uint8_t)s[at] & 0xc0) == 0x80)
				at--;
		}
		int32_t cp = utf8_cp(s + at, n - at, &len);
		if (cp != 0x120 && !cp_is_whitespace(cp))
			break;
		count++;
		if (trailing)
			j = at;
		else
			i += len;
	}
	return (uint8_t)(count > 255 ? 255 : count);
}

int pl_token_push(struct pl_call *c, struct pl_tokens *s, int32_t id, int32_t start, int32_t stop,
                  const char *value, size_t n_value)
{
	if (s->n == s->cap) {
		int32_t cap = s->cap ? s->cap * 2 : 64;
		if (cap > INT32_MAX / 8)
			return STATUS_ENOMEM;
		int32_t *ids = realloc(s->ids, (size_t)cap * sizeof(*ids));
		if (ids == NULL)
			return STATUS_ENOMEM;
		s->ids = ids;
		int32_t *a = realloc(s->starts, (size_t)cap * sizeof(*a));
		if (a == NULL)
			return STATUS_ENOMEM;
		s->starts = a;
		int32_t *b = realloc(s->stops, (size_t)cap * sizeof(*b));
		if (b == NULL)
			return STATUS_ENOMEM;
		s->stops = b;
		uint8_t *l = realloc(s->lead, (size_t)cap);
		if (l == NULL)
			return STATUS_ENOMEM;
		s->lead = l;
		uint8_t *r = realloc(s->trail, (size_t)cap);
		if (r == NULL)
			return STATUS_ENOMEM;
		s->trail = r;
		s->cap = cap;
	}
	int32_t k = s->n++;
	s->ids[k] = id;
	s->starts[k] = start;
	s->stops[k] = stop;
	s->lead[k] = c->p->need_values ? space_chars(value, n_value, 0) : 0;
	s->trail[k] = c->p->need_values ? space_chars(value, n_value, 1) : 0;
	return 0;
}

static void tokens_dispose(struct pl_tokens *s)
{
	free(s->ids);
	free(s->starts);
	free(s->stops);
	free(s->lead);
	free(s->trail);
	memset(s, 0, sizeof(*s));
}

/* --- added tokens (added_vocabulary.rs) -------------------------------------- */

/* The longest added token of one trie (normalized or not) at s[0, n): the
 * first in trie order (special tokens, then the others) on a tie. */
static const struct pl_added *added_at(const struct pipeline *p, int normalized, const char *s,
                                       size_t n)
{
	const struct pl_added *best = NULL;
	size_t best_n = 0;
	for (size_t i = 0; i < p->n_added; i++) {
		const struct pl_added *a = &p->added[i];
		const char *pat = normalized ? a->norm : a->content;
		size_t k = normalized ? a->n_norm : a->n_content;
		if (a->normalized != normalized || k == 0 || k > n || k <= best_n ||
		    pat[0] != s[0] || memcmp(pat, s, k) != 0)
			continue;
		best = a;
		best_n = k;
	}
	return best;
}

static size_t prev_char(const char *s, size_t end)
{
	size_t b = end - 1;
	while (b > 0 && ((uint8_t)s[b] & 0xc0) == 0x80)
		b--;
	return b;
}

/* find_matches on one text split: the matches of a trie as added-token
 * splits, with single_word, lstrip and rstrip as Hugging Face applies them
 * (the search resumes after the match itself, not after what rstrip ate). */
static int added_split_one(struct pl_call *c, const struct nsplit *sp, int normalized)
{
	const char *s = c->text.s + sp->at;
	size_t n = sp->n, i = 0, start_offset = 0, len;
	while (i < n) {
		const struct pl_added *a = added_at(c->p, normalized, s + i, n - i);
		if (a == NULL) {
			i++;
			continue;
		}
		size_t start = i, stop = i + (normalized ? a->n_norm : a->n_content);
		i = stop;
		if (a->single_word) {
			int left =
			    start == 0 || !cp_is_word(utf8_cp(s + prev_char(s, start),
			                                      n - prev_char(s, start), &len));
			int right = stop == n || !cp_is_word(utf8_cp(s + stop, n - stop, &len));
			if (!left || !right)
				continue;
		}
		if (a->lstrip) {
			size_t ns = start;
			while (ns > 0) {
				size_t b = prev_char(s, ns);
				if (!cp_is_whitespace(utf8_cp(s + b, n - b, &len)))
					break;
				ns = b;
			}
			start = ns > start_offset ? ns : start_offset;
		}
		while (a->rstrip && stop < n && cp_is_whitespace(utf8_cp(s + stop, n - stop, &len)))
			stop += len;
		if (start_offset < start &&
		    pl_next_push(c, ntext_slice(&c->text, sp, start_offset, start)) != 0)
			return STATUS_ENOMEM;
		struct nsplit tok = ntext_slice(&c->text, sp, start, stop);
		tok.id = a->id;
		if (pl_next_push(c, tok) != 0)
			return STATUS_ENOMEM;
		start_offset = stop;
	}
	if (start_offset != n && pl_next_push(c, ntext_slice(&c->text, sp, start_offset, n)) != 0)
		return STATUS_ENOMEM;
	return 0;
}

/* One pass of extract_and_normalize: pass 1 matches raw tokens in the raw
 * text; pass 2 normalizes each text split, then matches normalized ones. */
static int added_pass(struct pl_call *c, int normalized)
{
	int rc = 0;
	c->n_next = 0;
	for (size_t i = 0; i < c->n_splits && rc == 0; i++) {
		struct nsplit *sp = &c->splits[i];
		if (sp->id >= 0) {
			rc = pl_next_push(c, *sp);
			continue;
		}
		if (normalized && (rc = pl_normalize(c, c->p->norms, c->p->n_norms, sp)) != 0)
			break;
		rc = added_split_one(c, sp, normalized);
	}
	return rc != 0 ? rc : pl_next_commit(c);
}

/* --- encode ------------------------------------------------------------------ */

/* Reverses tokens [a, b) of s. */
static void reverse_range(struct pl_tokens *s, int32_t a, int32_t b)
{
	for (int32_t i = a, j = b - 1; i < j; i++, j--) {
		int32_t t;
		uint8_t u;
		t = s->ids[i], s->ids[i] = s->ids[j], s->ids[j] = t;
		t = s->starts[i], s->starts[i] = s->starts[j], s->starts[j] = t;
		t = s->stops[i], s->stops[i] = s->stops[j], s->stops[j] = t;
		u = s->lead[i], s->lead[i] = s->lead[j], s->lead[j] = u;
		u = s->trail[i], s->trail[i] = s->trail[j], s->trail[j] = u;
	}
}

/* The model on split i (or the added token it is) into s. */
static int tokenize_split(struct pl_call *c, size_t i, struct pl_tokens *s)
{
	const struct nsplit *sp = &c->splits[i];
	int32_t start, stop;
	if (sp->id < 0)
		return pl_model_tokenize(c, sp, s);
	ntext_span(&c->text, sp, 0, sp->n, &start, &stop);
	return pl_token_push(c, s, sp->id, start, stop, c->text.s + sp->at, sp->n);
}

/*
 * The splits through the model, as PreTokenizedString::tokenize_with_limit
 * does when truncation is on (limit > 0): it stops once limit tokens exist,
 * from the start (right truncation) or, from the end backwards, dropping
 * the splits before (left). The truncation that follows sees these counts.
 * Without a limit, every split.
 */
static int tokenize_splits(struct pl_call *c, struct pl_tokens *s, int32_t limit,
                           enum truncation_side side)
{
	int left = limit > 0 && side == TRUNCATION_LEFT, rc;
	int32_t *bounds = NULL;
	size_t n_bounds = 0;
	if (left && (bounds = malloc((c->n_splits + 1) * sizeof(*bounds))) == NULL)
		return STATUS_ENOMEM;
	for (size_t k = 0; k < c->n_splits; k++) {
		if (left)
			bounds[n_bounds++] = s->n;
		if ((rc = tokenize_split(c, left ? c->n_splits - 1 - k : k, s)) != 0) {
			free(bounds);
			return rc;
		}
		if (limit > 0 && s->n >= limit)
			break;
	}
	if (left) { /* the blocks came last first: put them back in order */
		bounds[n_bounds] = s->n;
		reverse_range(s, 0, s->n);
		for (size_t j = 0; j < n_bounds; j++)
			reverse_range(s, s->n - bounds[j + 1], s->n - bounds[j]);
		free(bounds);
	}
	return 0;
}

/* encode_single_sequence of text[0, n) into c->seq[k]. */
static int encode_sequence(struct pl_call *c, int k, const char *text, size_t n, int32_t limit,
                           enum truncation_side side)
{
	const struct pipeline *p = c->p;
	int rc;
	c->text.n = 0;
	c->n_splits = 0;
	c->seq[k].n = 0;
	if ((rc = ntext_push_original(&c->text, text, n, 0)) != 0 ||
	    (rc = pl_next_push(c, (struct nsplit){0, n, 0, -1})) != 0 ||
	    (rc = pl_next_commit(c)) != 0)
		return rc;
	if ((rc = added_pass(c, 0)) != 0 || (rc = added_pass(c, 1)) != 0)
		return rc;
	for (size_t i = 0; i < p->n_pretoks; i++)
		if ((rc = pl_pretokenize(c, &p->pretoks[i])) != 0)
			return rc;
	return tokenize_splits(c, &c->seq[k], limit, side);
}

/* Encoding::truncate: keep n tokens, from the end for TRUNCATION_LEFT. */
static void keep(struct pl_tokens *s, int32_t n, enum truncation_side side)
{
	if (n >= s->n)
		return;
	if (side == TRUNCATION_LEFT) {
		int32_t d = s->n - n;
		memmove(s->ids, s->ids + d, (size_t)n * sizeof(*s->ids));
		memmove(s->starts, s->starts + d, (size_t)n * sizeof(*s->starts));
		memmove(s->stops, s->stops + d, (size_t)n * sizeof(*s->stops));
		memmove(s->lead, s->lead + d, (size_t)n);
		memmove(s->trail, s->trail + d, (size_t)n);
	}
	s->n = n;
}

/* truncate_encodings (utils/truncation.rs), longest_first, to max tokens. */
static void truncate_hf(struct pl_tokens *a, struct pl_tokens *b, int32_t max,
                        enum truncation_side side)
{
	if (max == 0) {
		keep(a, 0, side);
		if (b != NULL)
			keep(b, 0, side);
		return;
	}
	int64_t total = (int64_t)a->n + (b != NULL ? b->n : 0);
	if (total <= max)
		return;
	if (b == NULL) {
		keep(a, max, side);
		return;
	}
	int32_t n1 = a->n, n2 = b->n, swap = n1 > n2;
	if (swap) {
		n1 = b->n;
		n2 = a->n;
	}
	n2 = n1 > max ? n1 : (n1 > max - n1 ? n1 : max - n1);
	if ((int64_t)n1 + n2 > max) {
		n1 = max / 2;
		n2 = n1 + max % 2;
	}
	keep(a, swap ? n2 : n1, side);
	keep(b, swap ? n1 : n2, side);
}

static void call_dispose(struct pl_call *c)
{
	ntext_dispose(&c->text);
	free(c->splits);
	free(c->next);
	nchanges_dispose(&c->ch);
	nmatches_dispose(&c->m);
	pattern_scratch_dispose(&c->ps);
	bpe_scratch_dispose(&c->bs);
	spm_work_dispose(&c->sw);
	free(c->buf);
	free(c->bpos);
	tokens_dispose(&c->seq[0]);
	tokens_dispose(&c->seq[1]);
}

/* ops->encode: see tokenizer_encode (which validated the input). */
static int pl_encode(const struct tokenizer *t, const char *text, size_t n_text, const char *pair,
                     size_t n_pair, const struct encode_opts *opts, struct encoding *out, char *err,
                     size_t n_err)
{
	const struct pipeline *p = t->impl;
	struct pl_call c;
	int has_pair = pair != NULL, add = opts->add_special_tokens != 0, rc;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.t = t;
	c.err = err;
	c.n_err = n_err;
	/* With truncation, sequences stop at max_length tokens (specials included)
	 * as the library's early exit does; the untruncated count is then the
	 * count up to that point. */
	int32_t limit = opts->max_length > 0 && opts->truncate ? opts->max_length : 0;
	if ((rc = encode_sequence(&c, 0, text ? text : "", n_text, limit, opts->side)) != 0 ||
	    (has_pair && (rc = encode_sequence(&c, 1, pair, n_pair, limit, opts->side)) != 0))
		goto fail;
	int32_t n_added = add ? pl_post_added(p, has_pair) : 0;
	int64_t total = (int64_t)c.seq[0].n + c.seq[1].n + n_added;
	out->n_untruncated = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	if ((rc = tokenizer_check_length(opts, total, n_added, err, n_err)) < 0)
		goto fail;
	if (rc == 1) {
		rc = 0;
		truncate_hf(&c.seq[0], has_pair ? &c.seq[1] : NULL, opts->max_length - n_added,
		            opts->side);
		out->truncated = 1;
	}
	for (size_t i = 0; i < p->n_posts; i++)
		for (int k = 0; p->posts[i].trim && k <= has_pair; k++)
			pl_post_trim(&c.seq[k], p->posts[i].add_prefix_space, k ? pair : text,
			             k ? n_pair : n_text);
	out->n = 0;
	if ((rc = pl_post_apply(p, c.seq, has_pair, add, out)) != 0)
		goto fail;
	call_dispose(&c);
	return 0;

fail:
	if (rc == STATUS_ENOMEM)
		status_fail(err, n_err, rc, "out of memory encoding %zu bytes", n_text + n_pair);
	call_dispose(&c);
	out->n = 0;
	return rc;
}

/* --- build -------------------------------------------------------------------- */

static void pl_destroy(struct tokenizer *t)
{
	struct pipeline *p = t->impl;
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_norms; i++)
		pl_norm_dispose(&p->norms[i]);
	for (size_t i = 0; i < p->n_pretoks; i++)
		pl_pretok_dispose(&p->pretoks[i]);
	pl_model_dispose(&p->model);
	for (size_t i = 0; i < p->n_posts; i++)
		pl_post_dispose(&p->posts[i]);
	for (size_t i = 0; i < p->n_decoders; i++)
		pl_decoder_dispose(&p->decoders[i]);
	for (size_t i = 0; i < p->n_added; i++) {
		free(p->added[i].content);
		free(p->added[i].norm);
	}
	free(p->norms);
	free(p->pretoks);
	free(p->posts);
	free(p->decoders);
	free(p->added);
	free(p->is_special);
	free(p);
	t->impl = NULL;
}

/* A renamed added token's normalized form, else the vocab's string. */
static const char *pl_id_to_token(const struct tokenizer *t, int32_t id)
{
	const struct pipeline *p = t->impl;
	for (size_t i = 0; p->n_renamed > 0 && i < p->n_added; i++)
		if (p->added[i].renamed && p->added[i].id == id)
			return p->added[i].norm;
	return t->vocab.tokens[id];
}

#define PL_OPS(name_)                                                                              \
	{                                                                                          \
		.name = (name_), .destroy = pl_destroy, .decode = pl_decode, .encode = pl_encode,  \
		.id_to_token = pl_id_to_token                                                      \
	}
static const struct tokenizer_ops ops[] = {
    [MODEL_WORDPIECE] = PL_OPS("wordpiece"),
    [MODEL_BPE] = PL_OPS("bpe"),
    [MODEL_UNIGRAM] = PL_OPS("unigram"),
};

/*
 * The added tokens, with Hugging Face's ids (add_tokens over the file's
 * list): a token the model knows keeps the model's id, a new one gets the
 * next id after the vocabulary, in list order (the file's id is only a
 * hint, as there); new ones are appended to t->vocab. The same content
 * twice is one token with the last flags. Kept in trie order: special
 * tokens first, then the others, each in list order.
 */
static int build_added(struct tokenizer *t, struct pipeline *p, const struct pipeline_cfg *cfg,
                       char *err, size_t n_err)
{
	int rc;
	if (cfg->n_added == 0)
		return 0;
	if ((p->added = calloc(cfg->n_added, sizeof(*p->added))) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_added; i++) {
		const struct added_cfg *a = &cfg->added[i];
		size_t n = a->content ? strlen(a->content) : 0;
		struct pl_added *d = NULL;
		if (n == 0)
			continue;
		for (size_t k = 0; k < p->n_added && d == NULL; k++)
			if (strcmp(p->added[k].content, a->content) == 0)
				d = &p->added[k];
		if (d == NULL) {
			d = &p->added[p->n_added++];
			if ((d->content = strdup(a->content)) == NULL)
				return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
			d->n_content = n;
			d->id = vocab_find(&t->vocab, a->content, n);
		}
		d->special = a->special != 0;
		d->lstrip = a->lstrip != 0;
		d->rstrip = a->rstrip != 0;
		d->single_word = a->single_word != 0;
		d->normalized = a->normalized != 0;
	}
	/* New ids, in list order; their strings are what id_to_token returns
	 * (the normalized form of a normalized token, as Hugging Face's added
	 * vocabulary keeps it: also for a model id, then "renamed"), found by
	 * no lookup. */
	for (size_t i = 0; i < p->n_added; i++) {
		struct pl_added *d = &p->added[i];
		if (d->normalized &&
		    (rc = pl_normalize_string(p->norms, p->n_norms, d->content, d->n_content,
		                              &d->norm, &d->n_norm, err, n_err)) != 0)
			return rc;
		if (d->id >= 0) {
			d->renamed = d->normalized && strcmp(d->norm, t->vocab.tokens[d->id]) != 0;
			p->n_renamed += d->renamed;
			continue;
		}
		d->id = t->vocab.n_tokens;
		if ((rc = d->normalized
		              ? vocab_add_unindexed(&t->vocab, d->norm, d->n_norm)
		              : vocab_add_unindexed(&t->vocab, d->content, d->n_content)) != 0)
			return status_fail(err, n_err, rc, "added token \"%.64s\": %s", d->content,
			                   status_str(rc));
	}
	/* trie order: a stable partition, specials first */
	for (size_t i = 1; i < p->n_added; i++)
		for (size_t k = i; k > 0 && p->added[k].special && !p->added[k - 1].special; k--) {
			struct pl_added tmp = p->added[k];
			p->added[k] = p->added[k - 1];
			p->added[k - 1] = tmp;
		}
	return 0;
}

/*
 * The ids decode skips: as Hugging Face's, those whose string (id_to_token)
 * is the content of a special added token. A special normalized token
 * whose normalized form differs from its content is so not skipped.
 */
static void mark_special(const struct tokenizer *t, struct pipeline *p)
{
	for (size_t i = 0; i < p->n_added; i++) {
		const struct pl_added *a = &p->added[i];
		const char *shown = pl_id_to_token(t, a->id);
		if (strcmp(shown, a->content) == 0) {
			p->is_special[a->id] |= a->special;
			continue;
		}
		for (size_t k = 0; k < p->n_added; k++) /* rare: normalized into another */
			if (p->added[k].special && strcmp(shown, p->added[k].content) == 0)
				p->is_special[a->id] = 1;
	}
	for (size_t i = 0; i < p->n_added; i++) { /* a model id shown as a special */
		const struct pl_added *s = &p->added[i];
		int32_t id = s->special ? vocab_find(&t->vocab, s->content, s->n_content) : -1;
		if (id >= 0 && strcmp(pl_id_to_token(t, id), s->content) == 0)
			p->is_special[id] = 1;
	}
}

/* Component names, as tokenizer.json spells their types, for errors. */
static const char *const norm_names[] = {[NORM_BERT] = "BertNormalizer",
                                         [NORM_NFC] = "NFC",
                                         [NORM_NFD] = "NFD",
                                         [NORM_NFKC] = "NFKC",
                                         [NORM_NFKD] = "NFKD",
                                         [NORM_LOWERCASE] = "Lowercase",
                                         [NORM_STRIP_ACCENTS] = "StripAccents",
                                         [NORM_STRIP] = "Strip",
                                         [NORM_REPLACE] = "Replace",
                                         [NORM_PREPEND] = "Prepend",
                                         [NORM_PRECOMPILED] = "Precompiled",
                                         [NORM_NMT] = "Nmt"};
static const char *const pretok_names[] = {[PRETOK_BERT] = "BertPreTokenizer",
                                           [PRETOK_BYTE_LEVEL] = "ByteLevel",
                                           [PRETOK_METASPACE] = "Metaspace",
                                           [PRETOK_WHITESPACE] = "Whitespace",
                                           [PRETOK_WHITESPACE_SPLIT] = "WhitespaceSplit",
                                           [PRETOK_PUNCTUATION] = "Punctuation",
                                           [PRETOK_DIGITS] = "Digits",
                                           [PRETOK_SPLIT] = "Split"};
static const char *const post_names[] = {[POST_BERT] = "BertProcessing",
                                         [POST_ROBERTA] = "RobertaProcessing",
                                         [POST_TEMPLATE] = "TemplateProcessing",
                                         [POST_BYTE_LEVEL] = "ByteLevel"};
static const char *const decoder_names[] = {[DECODER_WORDPIECE] = "WordPiece",
                                            [DECODER_BYTE_LEVEL] = "ByteLevel",
                                            [DECODER_METASPACE] = "Metaspace",
                                            [DECODER_BPE] = "BPEDecoder",
                                            [DECODER_BYTE_FALLBACK] = "ByteFallback",
                                            [DECODER_FUSE] = "Fuse",
                                            [DECODER_STRIP] = "Strip",
                                            [DECODER_REPLACE] = "Replace",
                                            [DECODER_CTC] = "CTC"};

/* rc, with "<what> <name>: " put before the message in err (unless it
 * already starts with name, or is about memory). */
static int prefixed(char *err, size_t n_err, int rc, const char *what, const char *name)
{
	char head[64];
	int k = snprintf(head, sizeof(head), "%s %s: ", what, name);
	size_t n = err != NULL && n_err > 0 ? strnlen(err, n_err - 1) : 0;
	if (rc == STATUS_ENOMEM || n == 0 || k <= 0 || (size_t)k >= n_err ||
	    strncmp(err, name, strlen(name)) == 0)
		return rc;
	if (n + (size_t)k >= n_err)
		n = n_err - 1 - (size_t)k;
	memmove(err + k, err, n);
	memcpy(err, head, (size_t)k);
	err[n + (size_t)k] = '\0';
	return rc;
}

/* Every component, in the order tokenizer.json lists them. */
static int build_components(struct pipeline *p, const struct pipeline_cfg *cfg, char *err,
                            size_t n_err)
{
	int rc;
	if ((cfg->n_norms && (p->norms = calloc(cfg->n_norms, sizeof(*p->norms))) == NULL) ||
	    (cfg->n_pretoks &&
	     (p->pretoks = calloc(cfg->n_pretoks, sizeof(*p->pretoks))) == NULL) ||
	    (cfg->n_posts && (p->posts = calloc(cfg->n_posts, sizeof(*p->posts))) == NULL) ||
	    (cfg->n_decoders &&
	     (p->decoders = calloc(cfg->n_decoders, sizeof(*p->decoders))) == NULL))
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	/* counted before each build, so that pl_destroy frees a half-built one */
	for (size_t i = 0; i < cfg->n_norms; i++)
		if ((rc = pl_norm_build(&p->norms[p->n_norms++], &cfg->norms[i], err, n_err)) != 0)
			return prefixed(err, n_err, rc, "normalizer",
			                norm_names[cfg->norms[i].kind]);
	for (size_t i = 0; i < cfg->n_pretoks; i++)
		if ((rc = pl_pretok_build(&p->pretoks[p->n_pretoks++], &cfg->pretoks[i], err,
		                          n_err)) != 0)
			return prefixed(err, n_err, rc, "pre_tokenizer",
			                pretok_names[cfg->pretoks[i].kind]);
	p->structure = -1;
	for (size_t i = 0; i < cfg->n_posts; i++) {
		const struct post_cfg *pc = &cfg->posts[i];
		if ((rc = pl_post_build(&p->posts[p->n_posts++], pc, err, n_err)) != 0)
			return prefixed(err, n_err, rc, "post_processor", post_names[pc->kind]);
		p->need_values |= p->posts[i].trim;
		if (pc->kind == POST_BYTE_LEVEL)
			continue;
		if (p->structure >= 0)
			return status_fail(err, n_err, STATUS_EUNSUPPORTED,
			                   "post_processor: a Sequence with more than one of "
			                   "BertProcessing, RobertaProcessing, TemplateProcessing");
		p->structure = (int)i;
		p->roberta_type = pc->kind == POST_ROBERTA;
	}
	for (size_t i = 0; i < cfg->n_decoders; i++)
		if ((rc = pl_decoder_build(&p->decoders[p->n_decoders++], &cfg->decoders[i], err,
		                           n_err)) != 0)
			return prefixed(err, n_err, rc, "decoder",
			                decoder_names[cfg->decoders[i].kind]);
	return 0;
}

/* Every id a post-processor lays out names a token (the model runs on
 * them: an id past the vocabulary would index past its embeddings). */
static int check_post_ids(const struct tokenizer *t, const struct pipeline *p, char *err,
                          size_t n_err)
{
	for (size_t i = 0; i < p->n_posts; i++)
		for (int pair = 0; pair < 2; pair++) {
			const struct pl_piece *v = pair ? p->posts[i].pair : p->posts[i].single;
			size_t n = pair ? p->posts[i].n_pair : p->posts[i].n_single;
			for (size_t k = 0; k < n; k++)
				for (size_t j = 0; j < v[k].n_ids; j++)
					if (v[k].ids[j] >= t->vocab.n_tokens)
						return status_fail(
						    err, n_err, STATUS_EFORMAT,
						    "post_processor: special token id %d is not in "
						    "the vocabulary (%d tokens)",
						    (int)v[k].ids[j], (int)t->vocab.n_tokens);
		}
	return 0;
}

/* The id of the first of the strings that is a token: an added token's
 * content, else the model's vocabulary. */
static int32_t find_any(const struct vocab *v, const struct pipeline *p, const char *a,
                        const char *b, const char *c)
{
	const char *names[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		if (names[i] == NULL)
			continue;
		for (size_t k = 0; k < p->n_added; k++)
			if (strcmp(p->added[k].content, names[i]) == 0)
				return p->added[k].id;
		int32_t id = vocab_find(v, names[i], strlen(names[i]));
		if (id >= 0)
			return id;
	}
	return -1;
}

/* The ids smolserve asks for by role: unk from the model, [CLS]/[SEP]
 * from the template's first and last special tokens, mask and pad by name. */
static void set_roles(struct tokenizer *t, const struct pipeline *p, const struct pipeline_cfg *cfg)
{
	t->unk_id = p->model.unk_id;
	t->cls_id = t->sep_id = -1;
	if (p->structure >= 0) {
		const struct pl_post *s = &p->posts[p->structure];
		for (size_t i = 0; i < s->n_single; i++) {
			const struct pl_piece *pc = &s->single[i];
			if (pc->is_sequence || pc->n_ids == 0)
				continue;
			if (t->cls_id < 0)
				t->cls_id = pc->ids[0];
			t->sep_id = pc->ids[pc->n_ids - 1];
		}
	}
	t->mask_id = find_any(&t->vocab, p, cfg->mask_token, "[MASK]", "<mask>");
	t->pad_id = find_any(&t->vocab, p, cfg->pad_token, "[PAD]", "<pad>");
	t->model_max_length = cfg->model_max_length;
	t->template_kind = p->roberta_type ? TEMPLATE_ROBERTA : TEMPLATE_BERT;
}

int pipeline_create(const struct pipeline_cfg *cfg, struct tokenizer **out, char *err, size_t n_err)
{
	struct tokenizer *t = calloc(1, sizeof(*t));
	struct pipeline *p = NULL;
	int rc;

	*out = NULL;
	if (t == NULL) {
		vocab_dispose(cfg->model.vocab);
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	}
	t->vocab = *cfg->model.vocab;
	memset(cfg->model.vocab, 0, sizeof(*cfg->model.vocab));
	t->ops = &ops[cfg->model.kind <= MODEL_UNIGRAM ? cfg->model.kind : 0];
	if ((t->impl = p = calloc(1, sizeof(*p))) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	p->structure = -1;
	if ((rc = build_components(p, cfg, err, n_err)) != 0 ||
	    (rc = pl_model_build(&p->model, &cfg->model, &t->vocab, err, n_err)) != 0 ||
	    (rc = build_added(t, p, cfg, err, n_err)) != 0 ||
	    (rc = check_post_ids(t, p, err, n_err)) != 0)
		goto fail;
	if ((p->is_special = calloc((size_t)t->vocab.n_tokens, 1)) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	mark_special(t, p);
	set_roles(t, p, cfg);
	*out = t;
	return 0;

fail:
	tokenizer_destroy(t);
	return rc;
}

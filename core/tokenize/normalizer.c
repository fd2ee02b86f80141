/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json's normalizers (Hugging Face tokenizers src/normalizers/):
 * each turns a split's characters into a list of (character, change) pairs
 * and lets ntext_transform apply it, so that offsets follow Hugging Face's
 * alignment rules. Unicode normalization forms are utf8proc's decompositions
 * and compositions, put together in the order of the unicode-normalization
 * crate Hugging Face uses (canonical reordering of each run of combining
 * marks, then the recomposition state machine), whose changes say which
 * original character each output character stands for.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "pipeline-impl.h"
#include "status.h"

/* What one normalization needs beside the text: the caller's scratch. */
struct norm_ctx {
	struct ntext *t;
	struct nsplit *sp;
	struct nchanges *ch;
	struct nmatches *m;
	struct pattern_scratch *ps;
	char *err;
	size_t n_err;
};

/* The character at byte i of the split. */
static int32_t cp_at(const struct norm_ctx *x, size_t i, size_t *len)
{
	return utf8_cp(x->t->s + x->sp->at + i, x->sp->n - i, len);
}

/* Keep-predicates and maps for filter + map passes. */
typedef int (*cp_keep_fn)(int32_t cp);
typedef int32_t (*cp_map_fn)(int32_t cp);

/*
 * NormalizedString::filter(keep) then map(map) in one transformation: a
 * kept character replaces itself and removes the dropped ones after it;
 * the dropped ones before the first kept are the initial offset.
 */
static int filter_map(struct norm_ctx *x, cp_keep_fn keep, cp_map_fn map)
{
	size_t initial = 0, len;
	int any = 0;
	x->ch->n = 0;
	for (size_t i = 0; i < x->sp->n; i += len) {
		int32_t cp = cp_at(x, i, &len);
		if (keep != NULL && !keep(cp)) {
			if (x->ch->n == 0)
				initial++;
			else
				x->ch->v[x->ch->n - 1].change--;
			any = 1;
			continue;
		}
		int32_t m = map != NULL ? map(cp) : cp;
		any |= m != cp;
		if (nchanges_push(x->ch, m, 0) != 0)
			return STATUS_ENOMEM;
	}
	return any ? ntext_transform(x->t, x->sp, x->ch, initial) : 0;
}

/* --- BertNormalizer (normalizers/bert.rs) ---------------------------------- */

static int bert_keep(int32_t cp)
{
	if (cp == 0 || cp == 0xfffd)
		return 0;
	if (cp == '\t' || cp == '\n' || cp == '\r')
		return 1;
	return !cp_is_control(cp);
}

static int32_t bert_space(int32_t cp)
{
	return cp == '\t' || cp == '\n' || cp == '\r' || cp_is_whitespace(cp) ? ' ' : cp;
}

static int is_chinese(int32_t cp)
{
	return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	       (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
	       (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
	       (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

static int chinese_spaces(struct norm_ctx *x)
{
	size_t len;
	int any = 0;
	x->ch->n = 0;
	for (size_t i = 0; i < x->sp->n; i += len) {
		int32_t cp = cp_at(x, i, &len);
		int c = is_chinese(cp);
		any |= c;
		/* " c ": the first space replaces c, c and the second are inserted,
		 * so all three carry c's span */
		if (c && (nchanges_push(x->ch, ' ', 0) != 0 || nchanges_push(x->ch, cp, 1) != 0 ||
		          nchanges_push(x->ch, ' ', 1) != 0))
			return STATUS_ENOMEM;
		if (!c && nchanges_push(x->ch, cp, 0) != 0)
			return STATUS_ENOMEM;
	}
	return any ? ntext_transform(x->t, x->sp, x->ch, 0) : 0;
}

static int lowercase(struct norm_ctx *x)
{
	size_t len;
	x->ch->n = 0;
	for (size_t i = 0; i < x->sp->n; i += len) {
		int32_t low[3];
		int k = cp_lower(cp_at(x, i, &len), low);
		for (int j = 0; j < k; j++)
			if (nchanges_push(x->ch, low[j], j > 0) != 0)
				return STATUS_ENOMEM;
	}
	return ntext_transform(x->t, x->sp, x->ch, 0);
}

static int not_mn(int32_t cp)
{
	return cp < 0x300 || utf8proc_category(cp) != UTF8PROC_CATEGORY_MN;
}

static int not_mark(int32_t cp)
{
	return !cp_is_mark(cp);
}

/* --- Unicode normalization forms ------------------------------------------- */

static int32_t ccc(int32_t cp)
{
	return cp < 0x300 ? 0 : utf8proc_get_property(cp)->combining_class;
}

/* Decompositions (the crate's decompose.rs): every character's full
 * decomposition, its first character change 0, the others 1, then each run
 * of non-starters stably sorted by combining class, changes moving along. */
static int decompose(struct norm_ctx *x, int compat)
{
	size_t len, run = 0;
	utf8proc_int32_t d[32];
	x->ch->n = 0;
	for (size_t i = 0; i < x->sp->n; i += len) {
		int32_t cp = cp_at(x, i, &len);
		int bound = 0;
		utf8proc_ssize_t k = utf8proc_decompose_char(
		    cp, d, 32, UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0), &bound);
		if (k < 1 || k > 32) {
			d[0] = cp;
			k = 1;
		}
		for (utf8proc_ssize_t j = 0; j < k; j++) {
			int32_t c = ccc(d[j]);
			if (c == 0)
				run = x->ch->n + 1;
			if (nchanges_push(x->ch, d[j], j > 0) != 0)
				return STATUS_ENOMEM;
			/* insertion sort of the run since the last starter */
			for (size_t p = x->ch->n - 1;
			     c != 0 && p > run && ccc(x->ch->v[p - 1].cp) > c; p--) {
				struct nchange tmp = x->ch->v[p - 1];
				x->ch->v[p - 1] = x->ch->v[p];
				x->ch->v[p] = tmp;
			}
		}
	}
	return 0;
}

/*
 * Recompositions (the crate's recompose.rs) of the changes in place: the
 * same state machine over (character, change) items; a composite carries
 * change(starter) + change(mark) - 1. w <= r throughout, and buffered
 * marks are kept in a small side array.
 */
static int recompose(struct nchanges *c)
{
	struct nchange buf[64], k = {0, 0};
	size_t n_buf = 0, w = 0;
	int have_k = 0, last_ccc = -1;

	for (size_t r = 0; r < c->n; r++) {
		struct nchange it = c->v[r];
		int32_t cls = ccc(it.cp), comp;
		if (!have_k) {
			if (cls != 0) {
				c->v[w++] = it;
				continue;
			}
			k = it;
			have_k = 1;
			continue;
		}
		if (last_ccc < 0 || last_ccc < cls) {
			if (cp_compose(k.cp, it.cp, &comp)) {
				k = (struct nchange){comp, k.change + it.change - 1};
				continue;
			}
			if (last_ccc < 0 && cls == 0) {
				c->v[w++] = k;
				k = it;
				continue;
			}
		} else if (cls == 0) { /* blocked by a starter: flush */
			c->v[w++] = k;
			for (size_t i = 0; i < n_buf; i++)
				c->v[w++] = buf[i];
			n_buf = 0;
			k = it;
			last_ccc = -1;
			continue;
		}
		if (n_buf == sizeof(buf) / sizeof(buf[0]))
			return STATUS_ETOKENIZER; /* more than 64 marks on one starter */
		buf[n_buf++] = it;
		last_ccc = cls;
	}
	if (have_k)
		c->v[w++] = k;
	for (size_t i = 0; i < n_buf; i++)
		c->v[w++] = buf[i];
	c->n = w;
	return 0;
}

static int nf(struct norm_ctx *x, int compat, int comp)
{
	int rc = decompose(x, compat);
	if (rc == 0 && comp)
		rc = recompose(x->ch);
	return rc != 0 ? rc : ntext_transform(x->t, x->sp, x->ch, 0);
}

/* --- Strip, Replace, Prepend, Nmt ---------------------------------------------- */

/* NormalizedString::lrstrip: whitespace off either end. */
static int strip(struct norm_ctx *x, int left, int right)
{
	size_t n_chars = 0, lead = 0, trail = 0, len, i;
	int in_lead = 1;
	for (i = 0; i < x->sp->n; i += len, n_chars++) {
		int sp = cp_is_whitespace(cp_at(x, i, &len));
		in_lead &= sp;
		lead += left && in_lead;
		trail = sp ? trail + 1 : 0;
	}
	if (!right)
		trail = 0;
	if (lead == 0 && trail == 0)
		return 0;
	x->ch->n = 0;
	size_t k = 0;
	for (i = 0; i < x->sp->n; i += len, k++) {
		int32_t cp = cp_at(x, i, &len);
		if (k < lead || k >= n_chars - trail)
			continue;
		int32_t change = k == n_chars - trail - 1 ? -(int32_t)trail : 0;
		if (nchanges_push(x->ch, cp, change) != 0)
			return STATUS_ENOMEM;
	}
	return ntext_transform(x->t, x->sp, x->ch, lead);
}

/*
 * NormalizedString::replace, match by match: a match's bytes are dropped
 * and content inserted in their place, every inserted character with the
 * span of the match's last byte (or, for an empty match, of the byte before
 * it, [shift, shift) at the start). Done in one pass: the matches do not
 * overlap and each one only looks at its own bytes or the one before.
 */
int pl_text_replace(struct ntext *t, struct nsplit *sp, const struct nmatches *m,
                    const char *content, size_t n_content)
{
	size_t n_match = 0;
	for (size_t i = 0; i < m->n; i++)
		n_match += m->v[i].match;
	if (n_match == 0)
		return 0;
	if (ntext_reserve(t, sp->n + n_match * n_content) != 0)
		return STATUS_ENOMEM;
	size_t at = t->n, base = sp->at;
	for (size_t i = 0; i < m->n; i++) {
		const struct nmatch *mt = &m->v[i];
		size_t len = mt->b - mt->a;
		if (!mt->match) {
			memcpy(t->s + t->n, t->s + base + mt->a, len);
			memcpy(t->from + t->n, t->from + base + mt->a, len * sizeof(int32_t));
			memcpy(t->to + t->n, t->to + base + mt->a, len * sizeof(int32_t));
			t->n += len;
			continue;
		}
		int32_t f = sp->shift, e = sp->shift;
		if (len > 0) {
			f = t->from[base + mt->b - 1];
			e = t->to[base + mt->b - 1];
		} else if (t->n > at) {
			f = t->from[t->n - 1];
			e = t->to[t->n - 1];
		}
		memcpy(t->s + t->n, content, n_content);
		for (size_t k = 0; k < n_content; k++) {
			t->from[t->n + k] = f;
			t->to[t->n + k] = e;
		}
		t->n += n_content;
	}
	sp->at = at;
	sp->n = t->n - at;
	return 0;
}

static int replace(struct norm_ctx *x, const struct pl_norm *n)
{
	int rc =
	    pattern_find(n->pattern, x->t->s + x->sp->at, x->sp->n, x->m, x->ps, x->err, x->n_err);
	return rc != 0 ? rc : pl_text_replace(x->t, x->sp, x->m, n->content, strlen(n->content));
}

/* NormalizedString::prepend on a non-empty split: the first character is
 * replaced by the prefix's first, then the rest of the prefix and the old
 * first character inserted, all with the old first character's span. */
int pl_text_prepend(struct ntext *t, struct nsplit *sp, struct nchanges *ch, const char *s,
                    size_t n)
{
	size_t len;
	if (sp->n == 0)
		return 0;
	ch->n = 0;
	for (size_t i = 0; i < n; i += len)
		if (nchanges_push(ch, utf8_cp(s + i, n - i, &len), i > 0) != 0)
			return STATUS_ENOMEM;
	for (size_t i = 0; i < sp->n; i += len)
		if (nchanges_push(ch, utf8_cp(t->s + sp->at + i, sp->n - i, &len), i == 0) != 0)
			return STATUS_ENOMEM;
	return ntext_transform(t, sp, ch, 0);
}

static int nmt_keep(int32_t cp)
{
	return !((cp >= 0x1 && cp <= 0x8) || cp == 0xb || (cp >= 0xe && cp <= 0x1f) || cp == 0x7f ||
	         cp == 0x8f || cp == 0x9f);
}

static int32_t nmt_map(int32_t cp)
{
	if (cp == 0x9 || cp == 0xa || cp == 0xc || cp == 0xd || cp == 0x1680 ||
	    (cp >= 0x200b && cp <= 0x200f) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 ||
	    cp == 0xfeff || cp == 0xfffd)
		return ' ';
	return cp;
}

/* --- Precompiled (normalizers/precompiled.rs) ---------------------------------- */

/* precompiled.rs replace(): a chunk of n_old characters replaced by rep,
 * every new character replacing (0); with more characters than before the
 * last extra ones are inserted (1), with fewer the last change of the
 * whole list (a previous chunk's, when rep is empty) removes the rest. */
static int precompiled_push(struct nchanges *ch, const char *rep, size_t n_old)
{
	size_t n_rep = strlen(rep), len;
	int32_t diff = (int32_t)utf8_count(rep, n_rep) - (int32_t)n_old;
	for (size_t i = 0; i < n_rep; i += len)
		if (nchanges_push(ch, utf8_cp(rep + i, n_rep - i, &len), 0) != 0)
			return STATUS_ENOMEM;
	for (size_t k = 0; diff > 0 && k < (size_t)diff && k < ch->n; k++)
		ch->v[ch->n - 1 - k].change = 1;
	if (diff < 0 && ch->n > 0)
		ch->v[ch->n - 1].change += diff;
	return 0;
}

/* One grapheme cluster at s[0, n): whole if shorter than 6 bytes and
 * mapped, else character by character. *modified is set on a rule hit. */
static int precompiled_grapheme(struct norm_ctx *x, const struct spm_charsmap *cm, const char *s,
                                size_t n, int *modified)
{
	uint32_t v;
	size_t len;
	if (n < 6 && spm_charsmap_match(cm, (const uint8_t *)s, n, 1, &v) > 0) {
		*modified = 1;
		return precompiled_push(x->ch, cm->replacements + v, utf8_count(s, n));
	}
	for (size_t i = 0; i < n; i += len) {
		int32_t cp = utf8_cp(s + i, n - i, &len);
		if (spm_charsmap_match(cm, (const uint8_t *)s + i, len, 1, &v) > 0) {
			*modified = 1;
			if (precompiled_push(x->ch, cm->replacements + v, 1) != 0)
				return STATUS_ENOMEM;
		} else if (nchanges_push(x->ch, cp, 0) != 0) {
			return STATUS_ENOMEM;
		}
	}
	return 0;
}

/* Extended grapheme clusters (unicode-segmentation's graphemes(true)),
 * utf8proc's UAX #29 rules. */
static int precompiled(struct norm_ctx *x, const struct spm_charsmap *cm)
{
	const char *s = x->t->s + x->sp->at;
	size_t n = x->sp->n, start = 0, len;
	int rc = 0;
	utf8proc_int32_t state = 0;
	int32_t prev = -1;
	int modified = 0;
	x->ch->n = 0;
	for (size_t i = 0; i < n && rc == 0; i += len) {
		int32_t cp = utf8_cp(s + i, n - i, &len);
		if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) {
			rc = precompiled_grapheme(x, cm, s + start, i - start, &modified);
			start = i;
		}
		prev = cp;
	}
	if (rc == 0 && n > start)
		rc = precompiled_grapheme(x, cm, s + start, n - start, &modified);
	if (rc != 0)
		return rc;
	return modified ? ntext_transform(x->t, x->sp, x->ch, 0) : 0;
}

/* --- the list ---------------------------------------------------------------- */

static int normalize_one(struct norm_ctx *x, const struct pl_norm *n)
{
	int rc = 0;
	const struct norm_cfg *c = &n->cfg;
	switch (c->kind) {
	case NORM_BERT:
		if (c->clean_text)
			rc = filter_map(x, bert_keep, bert_space);
		if (rc == 0 && c->handle_chinese_chars)
			rc = chinese_spaces(x);
		if (rc == 0 && (c->strip_accents < 0 ? c->lowercase : c->strip_accents) &&
		    (rc = nf(x, 0, 0)) == 0)
			rc = filter_map(x, not_mn, NULL);
		if (rc == 0 && c->lowercase)
			rc = lowercase(x);
		return rc;
	case NORM_NFC:
	case NORM_NFD:
	case NORM_NFKC:
	case NORM_NFKD:
		return nf(x, c->kind == NORM_NFKC || c->kind == NORM_NFKD,
		          c->kind == NORM_NFC || c->kind == NORM_NFKC);
	case NORM_LOWERCASE:
		return lowercase(x);
	case NORM_STRIP_ACCENTS:
		return filter_map(x, not_mark, NULL);
	case NORM_STRIP:
		return strip(x, c->strip_left, c->strip_right);
	case NORM_REPLACE:
		return replace(x, n);
	case NORM_PREPEND:
		return pl_text_prepend(x->t, x->sp, x->ch, n->content, strlen(n->content));
	case NORM_PRECOMPILED:
		return precompiled(x, &n->charsmap);
	case NORM_NMT:
		return filter_map(x, nmt_keep, nmt_map);
	}
	return 0;
}

int pl_normalize(struct pl_call *c, const struct pl_norm *norms, size_t n_norms, struct nsplit *sp)
{
	struct norm_ctx x = {&c->text, sp, &c->ch, &c->m, &c->ps, c->err, c->n_err};
	for (size_t i = 0; i < n_norms; i++) {
		int rc = normalize_one(&x, &norms[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int pl_normalize_string(const struct pl_norm *norms, size_t n_norms, const char *s, size_t n,
                        char **out, size_t *n_out, char *err, size_t n_err)
{
	struct ntext t;
	struct nsplit sp = {0, n, 0, -1};
	struct nchanges ch = {0};
	struct nmatches m = {0};
	struct pattern_scratch ps = {0};
	struct norm_ctx x = {&t, &sp, &ch, &m, &ps, err, n_err};
	int rc = 0;

	ntext_init(&t);
	*out = NULL;
	if ((rc = ntext_push_original(&t, s, n, 0)) != 0)
		goto fail;
	for (size_t i = 0; i < n_norms && rc == 0; i++)
		rc = normalize_one(&x, &norms[i]);
	if (rc != 0)
		goto fail;
	if ((*out = malloc(sp.n + 1)) == NULL) {
		rc = STATUS_ENOMEM;
		goto fail;
	}
	memcpy(*out, t.s + sp.at, sp.n);
	(*out)[sp.n] = '\0';
	*n_out = sp.n;
fail:
	ntext_dispose(&t);
	nchanges_dispose(&ch);
	nmatches_dispose(&m);
	pattern_scratch_dispose(&ps);
	return rc;
}

/* --- build ---------------------------------------------------------------------- */

int pl_norm_build(struct pl_norm *n, const struct norm_cfg *cfg, char *err, size_t n_err)
{
	int rc;
	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	n->cfg.pattern = n->cfg.content = NULL;
	n->cfg.charsmap = NULL;
	if (cfg->kind == NORM_REPLACE || cfg->kind == NORM_PREPEND) {
		const char *s = cfg->content != NULL ? cfg->content : "";
		if ((n->content = strdup(s)) == NULL)
			return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	}
	if (cfg->kind == NORM_REPLACE) {
		const char *p = cfg->pattern != NULL ? cfg->pattern : "";
		if ((rc = pattern_compile(p, strlen(p), !cfg->pattern_is_regex, &n->pattern, err,
		                          n_err)) != 0)
			return rc;
	}
	if (cfg->kind == NORM_PRECOMPILED) {
		if (cfg->n_charsmap == 0)
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "Precompiled: precompiled_charsmap is empty");
		if ((rc = spm_charsmap_parse(&n->charsmap, cfg->charsmap, cfg->n_charsmap, err,
		                             n_err)) != 0)
			return rc;
	}
	return 0;
}

void pl_norm_dispose(struct pl_norm *n)
{
	free(n->content);
	pattern_destroy(n->pattern);
	spm_charsmap_dispose(&n->charsmap);
	memset(n, 0, sizeof(*n));
}

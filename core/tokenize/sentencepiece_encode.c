/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sentencepiece library's encoder (v0.1.99), on a model read by
 * sentencepiece_model.c: the Normalizer (longest match in the darts-clone
 * double-array trie of precompiled replacements, whitespace handling, the
 * dummy prefix), the unigram model's optimised Viterbi
 * (Model::EncodeOptimized), the BPE model (bpe_model.cc's agenda of
 * adjacent pairs, resegmentation of unused pieces) and the processor's
 * merging of unknown pieces or byte fallback. Every byte keeps the span of
 * the original characters it came from. Nothing here knows about Hugging
 * Face; all state is the caller's, so a const model is shared by threads.
 */
#include "sentencepiece-impl.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

static const char k_space[] = "\xe2\x96\x81"; /* U+2581, the escaped ' ' */

/* --- buffers ----------------------------------------------------------- */

static int toks_push(struct spm_toks *t, int32_t begin, int32_t end, int32_t id, int32_t kind)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct spm_tok *v = realloc(t->v, cap * sizeof(*v));
		if (v == NULL)
			return STATUS_ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct spm_tok){begin, end, id, kind};
	return 0;
}

void spm_toks_dispose(struct spm_toks *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void spm_work_dispose(struct spm_work *w)
{
	free(w->buf);
	spm_toks_dispose(&w->raw);
	memset(w, 0, sizeof(*w));
}

static void *work_get(struct spm_work *w, size_t n_bytes)
{
	if (n_bytes > w->n_buf) {
		void *p = realloc(w->buf, n_bytes);
		if (p == NULL)
			return NULL;
		w->buf = p;
		w->n_buf = n_bytes;
	}
	return w->buf;
}

/* --- normaliser -------------------------------------------------------- */

/* Longest user-defined piece that prefixes s[0, n) (PrefixMatcher), or 0. */
static size_t user_defined_match(const struct spm_model *m, const uint8_t *s, size_t n)
{
	size_t best = 0;
	int32_t node = 0;
	for (size_t i = 0; i < n && (node = spm_trie_child(m, node, s[i])) >= 0; i++) {
		int32_t id = m->node_piece[node];
		if (id >= 0 && m->types[id] == SPM_PIECE_USER_DEFINED)
			best = i + 1;
	}
	return best;
}

/* See sentencepiece-impl.h. */
size_t spm_charsmap_match(const struct spm_charsmap *cm, const uint8_t *s, size_t n, int shortest,
                          uint32_t *value)
{
	size_t best = 0;
	int n_found = 0;
	if (cm->n_units == 0)
		return 0;
	uint32_t unit = cm->units[0];
	uint32_t pos = (unit >> 10) << ((unit & (1u << 9)) >> 6);
	for (size_t i = 0; i < n; i++) {
		if (shortest && s[i] == 0)
			break;
		pos ^= s[i];
		if (pos >= cm->n_units)
			break;
		unit = cm->units[pos];
		if ((unit & ((1u << 31) | 0xff)) != s[i])
			break;
		pos ^= (unit >> 10) << ((unit & (1u << 9)) >> 6);
		if (pos >= cm->n_units)
			break;
		if ((unit >> 8) & 1) {
			uint32_t v = cm->units[pos] & 0x7fffffffu;
			if (n_found++ < 32 && v < cm->n_replacements) {
				best = i + 1;
				*value = v;
				if (shortest)
					break;
			}
		}
	}
	return best;
}

/* See sentencepiece-impl.h. */
size_t spm_valid_char_len(const uint8_t *s, size_t n)
{
	uint32_t c = s[0];
	if (c < 0x80)
		return 1;
	size_t k = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
	if (k == 0 || n < k)
		return 0;
	uint32_t cp = c & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return 0;
	return k;
}

/* NormalizePrefix: what s[0, n) starts with becomes rep[0, *n_rep). */
static size_t normalize_prefix(const struct spm_model *m, const uint8_t *s, size_t n,
                               const char **rep, size_t *n_rep)
{
	uint32_t v = 0;
	size_t k = m->has_user_defined ? user_defined_match(m, s, n) : 0;
	if (k > 0) {
		*rep = (const char *)s;
		*n_rep = k;
		return k;
	}
	if ((k = spm_charsmap_match(&m->charsmap, s, n, 0, &v)) > 0) {
		*rep = m->charsmap.replacements + v;
		*n_rep = strlen(*rep); /* the blob ends in NUL */
		return k;
	}
	if ((k = spm_valid_char_len(s, n)) == 0) {
		*rep = "\xef\xbf\xbd";
		*n_rep = 3;
		return 1;
	}
	*rep = (const char *)s;
	*n_rep = k;
	return k;
}

int spm_normalize(const struct spm_model *m, const struct ntext *in, size_t from, size_t to,
                  struct ntext *out)
{
	const uint8_t *s = (const uint8_t *)in->s;
	const char *rep;
	size_t n_rep, k, i = from;

	out->n = 0;
	if (m->remove_extra_whitespaces) /* heading spaces */
		for (; i < to; i += k)
			if ((k = normalize_prefix(m, s + i, to - i, &rep, &n_rep)) == 0 ||
			    n_rep != 1 || rep[0] != ' ')
				break;
	if (i >= to)
		return 0;
	if (ntext_reserve(out, (to - i) * 3 + 3) != 0)
		return STATUS_ENOMEM;
	if (m->add_dummy_prefix &&
	    ntext_push(out, m->escape_whitespaces ? k_space : " ", m->escape_whitespaces ? 3 : 1,
	               in->from[i], in->from[i]) != 0)
		return STATUS_ENOMEM;
	int prev_space = m->remove_extra_whitespaces;
	for (; i < to; i += k) {
		k = normalize_prefix(m, s + i, to - i, &rep, &n_rep);
		int32_t f = in->from[i], t = in->to[i + k - 1];
		while (prev_space && n_rep > 0 && rep[0] == ' ')
			rep++, n_rep--;
		if (n_rep > 0) {
			if (ntext_reserve(out, n_rep * 3) != 0)
				return STATUS_ENOMEM;
			for (size_t j = 0; j < n_rep; j++) {
				if (m->escape_whitespaces && rep[j] == ' ')
					ntext_push(out, k_space, 3, f, t); /* reserved */
				else
					ntext_push(out, rep + j, 1, f, t);
			}
			prev_space = rep[n_rep - 1] == ' ';
		}
		if (!m->remove_extra_whitespaces)
			prev_space = 0;
	}
	if (m->remove_extra_whitespaces) { /* trailing spaces */
		const char *sp = m->escape_whitespaces ? k_space : " ";
		size_t n_sp = strlen(sp);
		while (out->n >= n_sp && memcmp(out->s + out->n - n_sp, sp, n_sp) == 0)
			out->n -= n_sp;
	}
	return 0;
}

/* --- unigram ----------------------------------------------------------- */

struct best_path {
	double score; /* a float's value for sentencepiece, a double for Hugging Face */
	int32_t id;
	int32_t starts_at; /* -1: not reached */
};

/* Relaxes best[end] with a path of score cand from start, kept as stored
 * (cand itself, or rounded to the float sentencepiece keeps). */
static void relax(struct best_path *b, double cand, double stored, int32_t id, size_t start)
{
	if (b->starts_at < 0 || cand > b->score)
		*b = (struct best_path){stored, id, (int32_t)start};
}

/*
 * Model::EncodeOptimized into w->raw. sentencepiece keeps path scores in
 * floats (a user-defined piece scores len * max_score - 0.1 as a double);
 * with m->dscores (Hugging Face's Unigram) every piece scores its double
 * and paths are doubles, unknowns min_score - 10 over all pieces.
 */
int spm_unigram_viterbi(const struct spm_model *m, const uint8_t *s, size_t n, struct spm_work *w)
{
	struct best_path *best = work_get(w, (n + 1) * sizeof(*best));
	if (best == NULL)
		return STATUS_ENOMEM;
	for (size_t i = 0; i <= n; i++)
		best[i] = (struct best_path){0.0, -1, -1};
	const int hf = m->dscores != NULL;
	const float unk_score = m->min_score - 10.0f;
	const double hf_unk_score = m->dmin_score - 10.0;
	size_t mblen;
	for (size_t start = 0; start < n; start += mblen) {
		const double till_here = best[start].score;
		int has_single = 0;
		mblen = (size_t)spm_char_len(s[start]);
		if (mblen > n - start)
			mblen = n - start;
		int32_t node = 0;
		for (size_t k = start; k < n && (node = spm_trie_child(m, node, s[k])) >= 0; k++) {
			int32_t id = m->node_piece[node];
			if (id < 0 || m->types[id] == SPM_PIECE_UNUSED)
				continue;
			size_t len = k + 1 - start;
			if (hf) {
				double cand = m->dscores[id] + till_here;
				relax(&best[k + 1], cand, cand, id, start);
			} else {
				/* `auto score = user ? len * max_score_ - 0.1 : GetScore()` is a
				 * double, and so is the candidate compared with the float. */
				double score = m->types[id] == SPM_PIECE_USER_DEFINED
				                   ? (double)((float)len * m->max_score) - 0.1
				                   : (double)m->scores[id];
				double cand = score + till_here;
				relax(&best[k + 1], cand, (double)(float)cand, id, start);
			}
			if (len == mblen)
				has_single = 1;
		}
		if (!has_single) {
			if (hf && m->unk_id < 0)
				return STATUS_ETOKENIZER;
			double cand =
			    hf ? hf_unk_score + till_here : (double)(unk_score + (float)till_here);
			relax(&best[start + mblen], cand, cand, m->unk_id, start);
		}
	}
	size_t count = 0;
	for (size_t end = n; end > 0; end = (size_t)best[end].starts_at)
		count++;
	w->raw.n = 0;
	for (size_t i = 0; i < count; i++)
		if (toks_push(&w->raw, 0, 0, 0, 0) != 0)
			return STATUS_ENOMEM;
	for (size_t end = n, i = count; end > 0; end = (size_t)best[end].starts_at)
		w->raw.v[--i] =
		    (struct spm_tok){best[end].starts_at, (int32_t)end, best[end].id, 0};
	return 0;
}

/* --- BPE --------------------------------------------------------------- */

struct bpe_sym {
	int32_t prev, next, begin, len, freeze;
};

struct bpe_pair {
	int32_t left, right, size;
	float score;
};

struct bpe_split { /* rev_merge: piece [begin, begin + size) = left_len + rest */
	int32_t begin, size, left_len;
};

struct bpe_state {
	const struct spm_model *m;
	const uint8_t *s;
	struct bpe_sym *sym;
	struct bpe_pair *heap;
	size_t n_heap;
	struct bpe_split *splits;
	size_t n_splits;
};

/* The agenda's order: higher score first, then the leftmost. */
static int pair_before(const struct bpe_pair *a, const struct bpe_pair *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(struct bpe_state *st, struct bpe_pair p)
{
	size_t i = st->n_heap++;
	while (i > 0 && pair_before(&p, &st->heap[(i - 1) / 2])) {
		st->heap[i] = st->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	st->heap[i] = p;
}

static struct bpe_pair heap_pop(struct bpe_state *st)
{
	struct bpe_pair top = st->heap[0], last = st->heap[--st->n_heap];
	size_t i = 0, n = st->n_heap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && pair_before(&st->heap[c + 1], &st->heap[c]))
			c++;
		if (!pair_before(&st->heap[c], &last))
			break;
		st->heap[i] = st->heap[c];
		i = c;
	}
	if (n > 0)
		st->heap[i] = last;
	return top;
}

/* MaybeAddNewSymbolPair. */
static void maybe_add_pair(struct bpe_state *st, int32_t left, int32_t right)
{
	if (left < 0 || right < 0 || st->sym[left].freeze || st->sym[right].freeze)
		return;
	int32_t begin = st->sym[left].begin, size = st->sym[left].len + st->sym[right].len;
	int32_t id = spm_model_find(st->m, (const char *)st->s + begin, (size_t)size);
	if (id < 0 || !spm_matchable(st->m, id))
		return;
	heap_push(st, (struct bpe_pair){left, right, size, st->m->scores[id]});
	if (st->m->types[id] == SPM_PIECE_UNUSED)
		st->splits[st->n_splits++] = (struct bpe_split){begin, size, st->sym[left].len};
}

/* resegment(): an UNUSED piece is replaced by the two symbols it was last
 * merged from, recursively (an explicit stack of [begin, size)). */
static int bpe_emit(struct bpe_state *st, int32_t begin, int32_t size, int32_t *stack,
                    struct spm_toks *raw)
{
	size_t n_stack = 0;
	stack[n_stack++] = begin;
	stack[n_stack++] = size;
	while (n_stack > 0) {
		size = stack[--n_stack];
		begin = stack[--n_stack];
		const char *w = (const char *)st->s + begin;
		int32_t id = spm_model_find(st->m, w, (size_t)size);
		if (id < 0)
			id = st->m->unk_id;
		const struct bpe_split *sp = NULL;
		if (st->m->types[id] == SPM_PIECE_UNUSED)
			for (size_t i = st->n_splits; i-- > 0 && sp == NULL;)
				if (st->splits[i].size == size &&
				    memcmp(st->s + st->splits[i].begin, w, (size_t)size) == 0)
					sp = &st->splits[i];
		if (sp == NULL) {
			if (toks_push(raw, begin, begin + size, id, 0) != 0)
				return STATUS_ENOMEM;
			continue;
		}
		stack[n_stack++] = begin + sp->left_len; /* right, popped second */
		stack[n_stack++] = size - sp->left_len;
		stack[n_stack++] = begin;
		stack[n_stack++] = sp->left_len;
	}
	return 0;
}

/* bpe_model.cc Model::SampleEncode without dropout, into w->raw. */
static int bpe_encode(const struct spm_model *m, const uint8_t *s, size_t n, struct spm_work *w)
{
	struct bpe_state st = {m, s, NULL, NULL, 0, NULL, 0};
	size_t n_sym = 0;
	/* symbols (n), heap (3n), splits (3n), stack (2n + 2) */
	size_t bytes = n * sizeof(struct bpe_sym) + 3 * n * sizeof(struct bpe_pair) +
	               3 * n * sizeof(struct bpe_split) + (2 * n + 2) * sizeof(int32_t);
	char *buf = work_get(w, bytes);
	if (buf == NULL)
		return STATUS_ENOMEM;
	st.sym = (struct bpe_sym *)buf;
	st.heap = (struct bpe_pair *)(buf + n * sizeof(struct bpe_sym));
	st.splits = (struct bpe_split *)(st.heap + 3 * n);
	int32_t *stack = (int32_t *)(st.splits + 3 * n);

	for (size_t i = 0; i < n;) {
		size_t k = m->has_user_defined ? user_defined_match(m, s + i, n - i) : 0;
		int freeze = k > 0;
		if (k == 0)
			k = (size_t)spm_char_len(s[i]);
		if (k > n - i)
			k = n - i;
		st.sym[n_sym] = (struct bpe_sym){(int32_t)n_sym - 1, (int32_t)n_sym + 1, (int32_t)i,
		                                 (int32_t)k, freeze};
		n_sym++;
		i += k;
	}
	if (n_sym > 0)
		st.sym[n_sym - 1].next = -1;
	for (size_t i = 1; i < n_sym; i++)
		maybe_add_pair(&st, (int32_t)i - 1, (int32_t)i);
	while (st.n_heap > 0) {
		struct bpe_pair top = heap_pop(&st);
		struct bpe_sym *l = &st.sym[top.left], *r = &st.sym[top.right];
		if (l->len == 0 || r->len == 0 || l->len + r->len != top.size)
			continue;
		l->len += r->len;
		l->next = r->next;
		if (r->next >= 0)
			st.sym[r->next].prev = top.left;
		r->len = 0;
		maybe_add_pair(&st, l->prev, top.left);
		maybe_add_pair(&st, top.left, l->next);
	}
	w->raw.n = 0;
	for (int32_t i = n_sym > 0 ? 0 : -1; i >= 0; i = st.sym[i].next) {
		int rc = bpe_emit(&st, st.sym[i].begin, st.sym[i].len, stack, &w->raw);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* --- encode ------------------------------------------------------------ */

int spm_encode(const struct spm_model *m, const struct ntext *norm, struct spm_toks *toks,
               struct spm_work *w)
{
	const uint8_t *s = (const uint8_t *)norm->s;
	int rc;
	toks->n = 0;
	if (norm->n == 0)
		return 0;
	if (norm->n > INT32_MAX / 4)
		return STATUS_ENOMEM;
	rc = m->model_type == SPM_MODEL_BPE ? bpe_encode(m, s, norm->n, w)
	                                    : spm_unigram_viterbi(m, s, norm->n, w);
	if (rc != 0)
		return rc;
	/* PopulateSentencePieceText: merge unknowns, or fall back to bytes. */
	int prev_unk = 0;
	for (size_t i = 0; i < w->raw.n; i++) {
		const struct spm_tok *r = &w->raw.v[i];
		int unk = r->id == m->unk_id;
		if (unk && m->byte_fallback) {
			for (int32_t b = r->begin; b < r->end; b++)
				if (toks_push(toks, b, b + 1, m->byte_ids[s[b]], SPM_TOK_BYTE) != 0)
					return STATUS_ENOMEM;
		} else if (unk && prev_unk) {
			toks->v[toks->n - 1].end = r->end;
		} else if (toks_push(toks, r->begin, r->end, r->id,
		                     unk ? SPM_TOK_UNK : SPM_TOK_PIECE) != 0) {
			return STATUS_ENOMEM;
		}
		prev_unk = unk;
	}
	return 0;
}

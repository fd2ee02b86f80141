/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WordPiece, as Hugging Face transformers v4.31's slow BertTokenizer does
 * it, with byte offsets into the original text. The text streams through
 * four stages, one code point at a time, with no allocation:
 *
 *   raw   split literal special tokens out and lower-case the rest
 *         (PreTrainedTokenizer.tokenize), _clean_text,
 *         _tokenize_chinese_chars
 *   nfc   unicodedata.normalize("NFC") (BasicTokenizer.tokenize)
 *   word  whitespace_tokenize, never_split words kept whole
 *   tok   lower(), _run_strip_accents, _run_split_on_punc, then
 *         WordpieceTokenizer (greedy longest match, "##" continuations)
 *
 * Every code point carries the byte span [start, stop) of the original
 * characters it came from; a composed or decomposed character keeps the
 * union of its sources, a stripped accent extends the span of the character
 * before it. All per-call state lives in a struct wp_state on the stack, so
 * a const tokenizer is safe to share between threads.
 *
 * Checked against a Python transcription of the reference on random text
 * (ids equal on every sample, all four lower/strip combinations). Lower-
 * casing is per code point as the reference's (it lower-cases one
 * character at a time, so there is no final sigma), with Python's one
 * one-to-two mapping "İ" -> "i̇" special-cased. Known differences, none
 * met in practice: _run_strip_accents' NFD reorders combining marks and
 * this does not (only marks other than Mn could tell); a run of more than
 * WP_MAX_COMBINING combining marks is normalised in pieces; a never_split
 * string that is not a special token is split out of the raw text too
 * (the reference only keeps it whole as a word); the Unicode tables are
 * utf8proc's (15.0), not Python's unicodedata.
 */
#include "wordpiece.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "ntext.h"
#include "status.h"

#define WP_MAX_WORD        256 /* upper bound of max_input_chars_per_word */
#define WP_MAX_NEVER_SPLIT 64  /* longest never_split word, in code points */
#define WP_MAX_COMBINING   32  /* NFC buffer: one starter and its marks */
#define WP_DECOMP_MAX      8   /* canonical decompositions are <= 4 long */

struct never_split {
	char *s; /* owned, NUL-terminated, valid UTF-8 */
	size_t n;
	int32_t id;    /* vocab id or -1 */
	int32_t n_cps; /* length in code points */
};

struct wp_impl {
	int do_lower_case;
	int strip_accents; /* resolved: 1 = NFD and drop Mn */
	int tokenize_chinese_chars;
	int32_t max_chars;
	struct never_split *ns; /* (n_ns) owned */
	size_t n_ns;
	int32_t max_ns_cps;
	size_t max_token_bytes; /* longest vocab entry */
	uint8_t first_byte[32]; /* bitmap of the never_split first bytes */
};

struct cp_span {
	int32_t cp, start, stop;
};

/* One encode call's scratch (about 6 KiB, on the caller's stack). */
struct wp_state {
	const struct tokenizer *t;
	const struct wp_impl *w;
	struct encoding *out;
	int rc;
	struct cp_span nfc[WP_MAX_COMBINING]; /* starter (or none) + marks */
	int n_nfc;
	const char *special[5]; /* the special ids' tokens (or NULL) */
	size_t n_special[5];
	struct cp_span word[WP_MAX_NEVER_SPLIT]; /* held back for never_split */
	int n_word;
	int max_word;       /* longest never_split candidate, code points */
	int released;       /* word no longer a never_split candidate */
	int32_t word_first; /* out->n when the whitespace word began */
	struct cp_span tok[WP_MAX_WORD];
	int32_t n_tok;
	int overflow; /* token longer than max_chars: [UNK] */
	int32_t tok_start, tok_stop;
	char ub[2 + 4 * WP_MAX_WORD]; /* "##" room + the token's UTF-8 */
	uint32_t bpos[WP_MAX_WORD + 1];
	const struct cp_span *cur; /* the token wordpiece() works on */
};

/* --- character classes (transformers/models/bert/tokenization_bert.py) */

static int is_cjk(int32_t cp)
{
	return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	       (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
	       (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
	       (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

static int is_punct(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
		       (cp >= 123 && cp <= 126);
	utf8proc_category_t c = utf8proc_category(cp);
	return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

/* Python's str.split() separators that survive _clean_text: ' ' (all BERT
 * whitespace became ' ') and U+2028/U+2029-like (bidi WS, B, S). */
static int is_split_space(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ';
	const utf8proc_property_t *p = utf8proc_get_property(cp);
	return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
	       p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

static int32_t ccc_of(int32_t cp)
{
	return cp < 0x300 ? 0 : utf8proc_get_property(cp)->combining_class;
}

/* Canonical decomposition of cp into d (at least 1 entry). */
static int decompose(int32_t cp, utf8proc_int32_t d[WP_DECOMP_MAX])
{
	int bound = 0;
	utf8proc_ssize_t k =
	    utf8proc_decompose_char(cp, d, WP_DECOMP_MAX, UTF8PROC_DECOMPOSE, &bound);
	if (k < 1 || k > WP_DECOMP_MAX) {
		d[0] = cp;
		k = 1;
	}
	return (int)k;
}

/* Decodes one code point of (already validated) UTF-8; bad bytes decode as
 * U+FFFD of length 1, so this never reads past n. */
static int32_t utf8_decode(const uint8_t *p, size_t n, size_t *len)
{
	uint8_t c = p[0];
	*len = 1;
	if (c < 0x80)
		return c;
	size_t k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	if (k == 0 || k >= n)
		return 0xfffd;
	int32_t cp = c & (0x3f >> k);
	for (size_t j = 1; j <= k; j++) {
		if ((p[j] & 0xc0) != 0x80)
			return 0xfffd;
		cp = (cp << 6) | (p[j] & 0x3f);
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0xfffd;
	*len = k + 1;
	return cp;
}

static int32_t count_cps(const char *s, size_t n)
{
	int32_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((uint8_t)s[i] & 0xc0) != 0x80;
	return k;
}

static int utf8_put(char *p, int32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* --- output ----------------------------------------------------------- */

static void emit(struct wp_state *s, int32_t id, int32_t start, int32_t stop)
{
	if (s->rc != 0)
		return;
	if (id < 0) {
		s->rc = STATUS_ETOKENIZER; /* only reachable without an [UNK] */
		return;
	}
	if (encoding_reserve(s->out, 1) != 0) {
		s->rc = STATUS_ENOMEM;
		return;
	}
	struct encoding *e = s->out;
	e->ids[e->n] = id;
	e->starts[e->n] = start;
	e->stops[e->n] = stop;
	e->n++;
}

/* See wordpiece.h. */
int wordpiece_greedy(const struct vocab *v, size_t max_token_bytes, const char *prefix,
                     size_t n_prefix, char *buf, const uint32_t *bpos, int32_t n,
                     int (*piece)(void *ctx, int32_t id, int32_t first, int32_t end), void *ctx)
{
	char *u = buf + n_prefix;
	int32_t start = 0;
	while (start < n) {
		char *key = u + bpos[start];
		size_t extra = 0;
		if (start > 0 && n_prefix > 0) {
			/* Bytes before start are consumed: the prefix overwrites them. */
			key -= n_prefix;
			memcpy(key, prefix, n_prefix);
			extra = n_prefix;
		}
		int32_t end = n, id = -1;
		for (; end > start; end--) {
			size_t len = (size_t)(bpos[end] - bpos[start]) + extra;
			if (len <= max_token_bytes && (id = vocab_find(v, key, len)) >= 0)
				break;
		}
		if (id < 0)
			return 1;
		int rc = piece(ctx, id, start, end);
		if (rc != 0)
			return rc;
		start = end;
	}
	return 0;
}

static void emit(struct wp_state *s, int32_t id, int32_t start, int32_t stop);

/* The span of characters [first, end) of the current token. */
static int wp_piece(void *ctx, int32_t id, int32_t first, int32_t end)
{
	struct wp_state *s = ctx;
	const struct cp_span *c = s->cur;
	int32_t lo = c[first].start, hi = c[first].stop;
	for (int32_t i = first + 1; i < end; i++) {
		lo = c[i].start < lo ? c[i].start : lo;
		hi = c[i].stop > hi ? c[i].stop : hi;
	}
	emit(s, id, lo, hi);
	return s->rc;
}

/* WordpieceTokenizer.tokenize on one token of n (<= max_chars) code points:
 * greedy longest match, "##" continuations, the whole token [UNK] if any
 * position has no match. */
static void wordpiece(struct wp_state *s, const struct cp_span *c, int32_t n)
{
	int32_t first = s->out->n, b = 0;
	char *u = s->ub + 2;

	for (int32_t i = 0; i < n; i++) {
		s->bpos[i] = (uint32_t)b;
		b += utf8_put(u + b, c[i].cp);
	}
	s->bpos[n] = (uint32_t)b;
	s->cur = c;
	int rc = wordpiece_greedy(&s->t->vocab, s->w->max_token_bytes, "##", 2, s->ub, s->bpos, n,
	                          wp_piece, s);
	if (rc == 1 && s->rc == 0) {
		int32_t lo = c[0].start, hi = c[0].stop;
		for (int32_t i = 1; i < n; i++) {
			lo = c[i].start < lo ? c[i].start : lo;
			hi = c[i].stop > hi ? c[i].stop : hi;
		}
		s->out->n = first;
		emit(s, s->t->unk_id, lo, hi);
	}
}

/* --- tok stage: lower case, strip accents, split punctuation ---------- */

static void tok_end(struct wp_state *s)
{
	if (s->overflow)
		emit(s, s->t->unk_id, s->tok_start, s->tok_stop);
	else if (s->n_tok > 0)
		wordpiece(s, s->tok, s->n_tok);
	s->n_tok = 0;
	s->overflow = 0;
}

static void tok_add(struct wp_state *s, int32_t cp, int32_t start, int32_t stop)
{
	if (is_punct(cp)) {
		struct cp_span one = {cp, start, stop};
		tok_end(s);
		wordpiece(s, &one, 1);
		return;
	}
	if (s->n_tok == 0 && !s->overflow) {
		s->tok_start = start;
		s->tok_stop = stop;
	} else {
		s->tok_start = start < s->tok_start ? start : s->tok_start;
		s->tok_stop = stop > s->tok_stop ? stop : s->tok_stop;
	}
	if (s->n_tok < s->w->max_chars)
		s->tok[s->n_tok++] = (struct cp_span){cp, start, stop};
	else
		s->overflow = 1;
}

/* A stripped accent: its bytes join the character before it in the word. */
static void tok_attach(struct wp_state *s, int32_t stop)
{
	struct encoding *e = s->out;
	if (s->n_tok > 0 || s->overflow) {
		if (s->n_tok > 0 && s->tok[s->n_tok - 1].stop < stop)
			s->tok[s->n_tok - 1].stop = stop;
		if (s->tok_stop < stop)
			s->tok_stop = stop;
	} else if (e->n > s->word_first && s->rc == 0 && e->stops[e->n - 1] < stop) {
		e->stops[e->n - 1] = stop;
	}
}

static void tok_push(struct wp_state *s, int32_t cp, int32_t start, int32_t stop)
{
	const struct wp_impl *w = s->w;
	if (cp < 0x80) {
		if (w->do_lower_case && cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		tok_add(s, cp, start, stop);
		return;
	}
	if (w->do_lower_case) /* the second lower(), BasicTokenizer's */
		cp = utf8proc_tolower(cp);
	if (!w->strip_accents) {
		tok_add(s, cp, start, stop);
		return;
	}
	utf8proc_int32_t d[WP_DECOMP_MAX];
	int k = decompose(cp, d);
	for (int i = 0; i < k; i++) {
		if (utf8proc_category(d[i]) == UTF8PROC_CATEGORY_MN)
			tok_attach(s, stop);
		else
			tok_add(s, d[i], start, stop);
	}
}

/* --- word stage: whitespace split, never_split ------------------------ */

/* 1 if the held-back word is a never_split string or one of the special
 * ids' tokens (BertTokenizer passes all_special_tokens as never_split). */
static int word_never_split(const struct wp_state *s)
{
	const struct wp_impl *w = s->w;
	char b[4 * WP_MAX_NEVER_SPLIT];
	size_t n = 0;
	for (int i = 0; i < s->n_word; i++)
		n += (size_t)utf8_put(b + n, s->word[i].cp);
	for (size_t i = 0; i < w->n_ns; i++)
		if (w->ns[i].n == n && memcmp(w->ns[i].s, b, n) == 0)
			return 1;
	for (int i = 0; i < 5; i++)
		if (s->special[i] != NULL && s->n_special[i] == n &&
		    memcmp(s->special[i], b, n) == 0)
			return 1;
	return 0;
}

static void word_end(struct wp_state *s)
{
	if (!s->released && s->n_word > 0) {
		int keep = word_never_split(s);
		if (keep && s->n_word > s->w->max_chars) {
			emit(s, s->t->unk_id, s->word[0].start, s->word[s->n_word - 1].stop);
		} else if (keep) {
			wordpiece(s, s->word, s->n_word);
		} else {
			for (int i = 0; i < s->n_word; i++)
				tok_push(s, s->word[i].cp, s->word[i].start, s->word[i].stop);
		}
	}
	tok_end(s);
	s->n_word = 0;
	s->released = s->max_word == 0;
	s->word_first = s->out->n;
}

static void word_push(struct wp_state *s, int32_t cp, int32_t start, int32_t stop)
{
	if (is_split_space(cp)) {
		word_end(s);
		return;
	}
	if (!s->released) {
		if (s->n_word < s->max_word) {
			s->word[s->n_word++] = (struct cp_span){cp, start, stop};
			return;
		}
		for (int i = 0; i < s->n_word; i++)
			tok_push(s, s->word[i].cp, s->word[i].start, s->word[i].stop);
		s->n_word = 0;
		s->released = 1;
	}
	tok_push(s, cp, start, stop);
}

/* --- nfc stage: canonical decomposition, reordering, composition ------ */

/* Stable insertion sort of nfc[from, n) by canonical combining class. If
 * marks move, they all get the run's span, so offsets stay monotonic. */
static void nfc_reorder(struct wp_state *s, int from)
{
	int moved = 0;
	for (int i = from + 1; i < s->n_nfc; i++) {
		struct cp_span x = s->nfc[i];
		int32_t c = ccc_of(x.cp);
		int j = i;
		while (j > from && ccc_of(s->nfc[j - 1].cp) > c) {
			s->nfc[j] = s->nfc[j - 1];
			j--;
		}
		s->nfc[j] = x;
		moved |= j != i;
	}
	if (!moved)
		return;
	int32_t lo = s->nfc[from].start, hi = s->nfc[from].stop;
	for (int i = from + 1; i < s->n_nfc; i++) {
		lo = s->nfc[i].start < lo ? s->nfc[i].start : lo;
		hi = s->nfc[i].stop > hi ? s->nfc[i].stop : hi;
	}
	for (int i = from; i < s->n_nfc; i++) {
		s->nfc[i].start = lo;
		s->nfc[i].stop = hi;
	}
}

/* Composes the marks of nfc[1..] into the starter nfc[0] where unblocked. */
static void nfc_compose(struct wp_state *s)
{
	struct cp_span *st = &s->nfc[0];
	int32_t last = -1, comp;
	int w = 1;
	nfc_reorder(s, 1);
	for (int r = 1; r < s->n_nfc; r++) {
		int32_t c = ccc_of(s->nfc[r].cp);
		if (last < c && cp_compose(st->cp, s->nfc[r].cp, &comp)) {
			st->cp = comp;
			st->start = s->nfc[r].start < st->start ? s->nfc[r].start : st->start;
			st->stop = s->nfc[r].stop > st->stop ? s->nfc[r].stop : st->stop;
			continue;
		}
		last = c;
		s->nfc[w++] = s->nfc[r];
	}
	s->n_nfc = w;
}

static void nfc_flush(struct wp_state *s)
{
	if (s->n_nfc == 0)
		return;
	if (ccc_of(s->nfc[0].cp) == 0)
		nfc_compose(s);
	else
		nfc_reorder(s, 0);
	for (int i = 0; i < s->n_nfc; i++)
		word_push(s, s->nfc[i].cp, s->nfc[i].start, s->nfc[i].stop);
	s->n_nfc = 0;
}

static void nfc_add(struct wp_state *s, int32_t d, int32_t start, int32_t stop)
{
	if (ccc_of(d) == 0) {
		if (s->n_nfc > 0 && ccc_of(s->nfc[0].cp) == 0) {
			int32_t comp;
			nfc_compose(s);
			if (s->n_nfc == 1 && cp_compose(s->nfc[0].cp, d, &comp)) {
				struct cp_span *st = &s->nfc[0];
				st->cp = comp;
				st->start = start < st->start ? start : st->start;
				st->stop = stop > st->stop ? stop : st->stop;
				return;
			}
		}
		nfc_flush(s);
	} else if (s->n_nfc == WP_MAX_COMBINING) {
		nfc_flush(s);
	}
	s->nfc[s->n_nfc++] = (struct cp_span){d, start, stop};
}

static void nfc_push(struct wp_state *s, int32_t cp, int32_t start, int32_t stop)
{
	if (cp < 0x80) { /* a starter that is never a composition's second */
		nfc_flush(s);
		s->nfc[0] = (struct cp_span){cp, start, stop};
		s->n_nfc = 1;
		return;
	}
	utf8proc_int32_t d[WP_DECOMP_MAX];
	int k = decompose(cp, d);
	for (int i = 0; i < k; i++)
		nfc_add(s, d[i], start, stop);
}

/* --- raw stage: _clean_text, _tokenize_chinese_chars ------------------ */

/* With do_lower_case the reference lower-cases the text outside special
 * tokens first (PreTrainedTokenizer.tokenize, one character at a time, so
 * no final sigma), before cleaning and NFC; so does this stage. */
static void raw_push(struct wp_state *s, int32_t cp, int32_t start, int32_t stop)
{
	if (cp < 0x80) {
		if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
			nfc_push(s, ' ', start, stop);
		else if (cp >= 'A' && cp <= 'Z' && s->w->do_lower_case)
			nfc_push(s, cp + ('a' - 'A'), start, stop);
		else if (cp >= 0x20 && cp != 0x7f) /* else NUL or a control: dropped */
			nfc_push(s, cp, start, stop);
		return;
	}
	if (cp == 0xfffd)
		return;
	utf8proc_category_t c = utf8proc_category(cp);
	if (c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
	    c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CO)
		return;
	if (s->w->do_lower_case) {
		if (cp == 0x130) { /* str.lower()'s only one-to-two mapping: "İ" -> "i̇" */
			nfc_push(s, 'i', start, stop);
			cp = 0x307;
		} else {
			cp = utf8proc_tolower(cp);
		}
	}
	if (c == UTF8PROC_CATEGORY_ZS) {
		nfc_push(s, ' ', start, stop);
	} else if (s->w->tokenize_chinese_chars && is_cjk(cp)) {
		nfc_push(s, ' ', start, start);
		nfc_push(s, cp, start, stop);
		nfc_push(s, ' ', stop, stop);
	} else {
		nfc_push(s, cp, start, stop);
	}
}

static void finish_word(struct wp_state *s)
{
	nfc_flush(s);
	word_end(s);
}

/* --- special tokens in the text --------------------------------------- */

/* Longest special-token string at p (leftmost-longest, like the added-
 * tokens trie): the five special ids' tokens and the never_split list. */
static size_t match_special(const struct wp_state *s, const char *p, size_t n, int32_t *id)
{
	const struct tokenizer *t = s->t;
	const int32_t ids[5] = {t->cls_id, t->sep_id, t->pad_id, t->unk_id, t->mask_id};
	size_t best = 0;
	for (int i = 0; i < 5; i++) {
		size_t k = s->n_special[i];
		if (s->special[i] != NULL && k > best && k <= n &&
		    memcmp(p, s->special[i], k) == 0) {
			best = k;
			*id = ids[i];
		}
	}
	for (size_t i = 0; i < s->w->n_ns; i++) {
		const struct never_split *ns = &s->w->ns[i];
		if (ns->n > best && ns->n <= n && memcmp(p, ns->s, ns->n) == 0) {
			best = ns->n;
			*id = ns->id >= 0 ? ns->id : t->unk_id;
		}
	}
	return best;
}

static int wp_pieces(const struct tokenizer *t, const char *text, size_t n_text,
                     struct encoding *out, char *err, size_t n_err)
{
	struct wp_state s;
	uint8_t first[32];
	const int32_t ids[5] = {t->cls_id, t->sep_id, t->pad_id, t->unk_id, t->mask_id};
	const uint8_t *p = (const uint8_t *)text;
	size_t i = 0;

	s.t = t;
	s.w = t->impl;
	s.out = out;
	s.rc = 0;
	s.n_nfc = 0;
	s.n_word = 0;
	s.max_word = s.w->max_ns_cps;
	s.word_first = out->n;
	s.n_tok = 0;
	s.overflow = 0;
	memcpy(first, s.w->first_byte, sizeof(first));
	for (int k = 0; k < 5; k++) {
		s.special[k] = NULL;
		s.n_special[k] = 0;
		if (ids[k] < 0 || ids[k] >= t->vocab.n_tokens || !t->vocab.tokens[ids[k]][0])
			continue;
		const char *tok = t->vocab.tokens[ids[k]];
		s.special[k] = tok;
		s.n_special[k] = strlen(tok);
		int32_t n_cps = count_cps(tok, s.n_special[k]);
		first[(uint8_t)tok[0] >> 3] |= (uint8_t)(1u << ((uint8_t)tok[0] & 7));
		if (n_cps > s.max_word && n_cps <= WP_MAX_NEVER_SPLIT)
			s.max_word = n_cps;
	}
	s.released = s.max_word == 0;

	while (i < n_text && s.rc == 0) {
		int32_t id = -1;
		size_t len;
		if ((first[p[i] >> 3] >> (p[i] & 7)) & 1 &&
		    (len = match_special(&s, text + i, n_text - i, &id)) > 0) {
			finish_word(&s);
			emit(&s, id, (int32_t)i, (int32_t)(i + len));
			s.word_first = out->n;
			i += len;
			continue;
		}
		int32_t cp = utf8_decode(p + i, n_text - i, &len);
		raw_push(&s, cp, (int32_t)i, (int32_t)(i + len));
		i += len;
	}
	finish_word(&s);
	if (s.rc == STATUS_ENOMEM)
		return status_fail(err, n_err, s.rc, "out of memory tokenizing %zu bytes", n_text);
	if (s.rc != 0)
		return status_fail(err, n_err, s.rc, "vocabulary has no [UNK] token");
	return 0;
}

/* --- create / destroy ------------------------------------------------- */

static void wp_destroy(struct tokenizer *t)
{
	struct wp_impl *w = t->impl;
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n_ns; i++)
		free(w->ns[i].s);
	free(w->ns);
	free(w);
	t->impl = NULL;
}

static const struct tokenizer_ops wordpiece_ops = {
    .name = "wordpiece",
    .pieces = wp_pieces,
    .destroy = wp_destroy,
};

static int never_split_init(struct never_split *ns, const char *str, const struct vocab *v)
{
	size_t n = strlen(str);
	if (n == 0 || !utf8_valid(str, n))
		return STATUS_EINVAL;
	ns->s = malloc(n + 1);
	if (ns->s == NULL)
		return STATUS_ENOMEM;
	memcpy(ns->s, str, n + 1);
	ns->n = n;
	ns->id = vocab_find(v, str, n);
	ns->n_cps = count_cps(str, n);
	return 0;
}

/*
 * Builds the tokenizer; see wordpiece.h. opts may be NULL (defaults);
 * max_input_chars_per_word <= 0 means 100 and may be at most WP_MAX_WORD.
 * The never_split strings are copied. Build time only.
 */
int wordpiece_create(struct vocab *vocab, const struct wordpiece_opts *opts, struct tokenizer **out,
                     char *err, size_t n_err)
{
	static const struct wordpiece_opts defaults = {1, -1, 1, 100, NULL, 0};
	struct tokenizer *t = NULL;
	struct wp_impl *w = NULL;
	int rc = 0;

	if (opts == NULL)
		opts = &defaults;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		vocab_dispose(vocab);
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	}
	t->vocab = *vocab;
	memset(vocab, 0, sizeof(*vocab));
	t->ops = &wordpiece_ops;
	if ((t->impl = w = calloc(1, sizeof(*w))) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	w->max_chars = opts->max_input_chars_per_word > 0 ? opts->max_input_chars_per_word : 100;
	if (w->max_chars > WP_MAX_WORD) {
		rc = status_fail(err, n_err, STATUS_EINVAL,
		                 "max_input_chars_per_word %d is above the limit %d",
		                 (int)w->max_chars, WP_MAX_WORD);
		goto fail;
	}
	w->do_lower_case = opts->do_lower_case != 0;
	w->strip_accents = opts->strip_accents < 0 ? w->do_lower_case : opts->strip_accents != 0;
	w->tokenize_chinese_chars = opts->tokenize_chinese_chars != 0;
	if (opts->n_never_split > 0 &&
	    (w->ns = calloc(opts->n_never_split, sizeof(*w->ns))) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < opts->n_never_split; i++) {
		const char *str = opts->never_split[i];
		if (str == NULL || (rc = never_split_init(&w->ns[w->n_ns], str, &t->vocab)) != 0) {
			rc = status_fail(err, n_err, rc == STATUS_ENOMEM ? rc : STATUS_EINVAL,
			                 "never_split[%zu] is empty or not valid UTF-8", i);
			goto fail;
		}
		const struct never_split *ns = &w->ns[w->n_ns++];
		w->first_byte[(uint8_t)ns->s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)ns->s[0] & 7));
		if (ns->n_cps > w->max_ns_cps && ns->n_cps <= WP_MAX_NEVER_SPLIT)
			w->max_ns_cps = ns->n_cps;
	}
	for (int32_t i = 0; i < t->vocab.n_tokens; i++) {
		size_t k = strlen(t->vocab.tokens[i]);
		w->max_token_bytes = k > w->max_token_bytes ? k : w->max_token_bytes;
	}
	t->cls_id = vocab_find(&t->vocab, "[CLS]", 5);
	t->sep_id = vocab_find(&t->vocab, "[SEP]", 5);
	t->pad_id = vocab_find(&t->vocab, "[PAD]", 5);
	t->unk_id = vocab_find(&t->vocab, "[UNK]", 5);
	t->mask_id = vocab_find(&t->vocab, "[MASK]", 6);
	t->model_max_length = 0;
	*out = t;
	return 0;

fail:
	tokenizer_destroy(t);
	return rc;
}

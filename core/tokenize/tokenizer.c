/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The algorithm-independent half of every tokenizer: the vocabulary (an
 * open-addressing hash from token string to id), the caller-owned encoding
 * buffers, special tokens written in the text (split out with their
 * AddedToken strip flags, as PreTrainedTokenizer.tokenize does), the
 * special-token templates (BERT's and RoBERTa's) and truncation rules of
 * Hugging Face's slow tokenizers (transformers v4.31), decoding, and a
 * strict UTF-8 validator. The per-algorithm part (WordPiece, SentencePiece,
 * byte-level BPE) only turns one text into pieces through struct
 * tokenizer_ops.
 */
#include "tokenizer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "status.h"

/* --- vocab ------------------------------------------------------------ */

static uint32_t vocab_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

/* 1 if the NUL-terminated tok equals the n bytes of s; never reads past
 * tok's terminator. */
static int token_equal(const char *tok, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tok[i] == '\0' || tok[i] != s[i])
			return 0;
	return tok[n] == '\0';
}

/* Puts id into slots; a token already present is remapped to id, so a
 * duplicate line in vocab.txt maps to its last id as in load_vocab(). */
static void vocab_slot_put(struct vocab *v, int32_t id)
{
	const char *tok = v->tokens[id];
	size_t n = strlen(tok);
	uint32_t mask = v->n_slots - 1;
	uint32_t i = vocab_hash(tok, n) & mask;
	while (v->slots[i] >= 0) {
		if (token_equal(v->tokens[v->slots[i]], tok, n))
			break;
		i = (i + 1) & mask;
	}
	v->slots[i] = id;
}

static int vocab_rehash(struct vocab *v, uint32_t n_slots)
{
	int32_t *slots = malloc((size_t)n_slots * sizeof(*slots));
	if (slots == NULL)
		return STATUS_ENOMEM;
	memset(slots, 0xff, (size_t)n_slots * sizeof(*slots)); /* all -1 */
	free(v->slots);
	v->slots = slots;
	v->n_slots = n_slots;
	for (int32_t id = 0; id < v->n_tokens - v->n_unindexed; id++)
		vocab_slot_put(v, id);
	return 0;
}

/* Room for one more token string. 0 or STATUS_ENOMEM. */
static int vocab_grow(struct vocab *v)
{
	int32_t n = v->n_tokens;
	if (n >= INT32_MAX / 2)
		return STATUS_ENOMEM;
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		size_t cap = n == 0 ? 16 : (size_t)n * 2;
		char **tokens = realloc(v->tokens, cap * sizeof(*tokens));
		if (tokens == NULL)
			return STATUS_ENOMEM;
		v->tokens = tokens;
	}
	return 0;
}

/*
 * Appends token (n_token bytes, no NUL inside) with id n_tokens. The token
 * array grows by doubling (its capacity is n_tokens rounded up to a power
 * of two, at least 16); the hash stays at most half full. Returns 0,
 * STATUS_EINVAL for a NUL byte inside token (or after an unindexed token),
 * or STATUS_ENOMEM.
 */
int vocab_add(struct vocab *v, const char *token, size_t n_token)
{
	if ((n_token > 0 && memchr(token, '\0', n_token) != NULL) || v->n_unindexed > 0)
		return STATUS_EINVAL;
	if (v->n_tokens >= INT32_MAX / 2 || n_token >= SIZE_MAX / 2 || vocab_grow(v) != 0)
		return STATUS_ENOMEM;
	int32_t n = v->n_tokens;
	if ((uint64_t)(n + 1) * 2 > v->n_slots) {
		uint32_t n_slots = v->n_slots ? v->n_slots : 32;
		while ((uint64_t)(n + 1) * 2 > n_slots)
			n_slots *= 2;
		if (vocab_rehash(v, n_slots) != 0)
			return STATUS_ENOMEM;
	}
	char *copy = malloc(n_token + 1);
	if (copy == NULL)
		return STATUS_ENOMEM;
	if (n_token > 0)
		memcpy(copy, token, n_token);
	copy[n_token] = '\0';
	v->tokens[n] = copy;
	v->n_tokens = n + 1;
	vocab_slot_put(v, n);
	return 0;
}

int vocab_add_unindexed(struct vocab *v, const char *token, size_t n_token)
{
	if (n_token > 0 && memchr(token, '\0', n_token) != NULL)
		return STATUS_EINVAL;
	if (n_token >= SIZE_MAX / 2 || vocab_grow(v) != 0)
		return STATUS_ENOMEM;
	char *copy = malloc(n_token + 1);
	if (copy == NULL)
		return STATUS_ENOMEM;
	if (n_token > 0)
		memcpy(copy, token, n_token);
	copy[n_token] = '\0';
	v->tokens[v->n_tokens++] = copy;
	v->n_unindexed++;
	return 0;
}

int32_t vocab_find(const struct vocab *v, const char *token, size_t n_token)
{
	if (v->n_slots == 0)
		return -1;
	uint32_t mask = v->n_slots - 1;
	uint32_t i = vocab_hash(token, n_token) & mask;
	for (;;) {
		int32_t id = v->slots[i];
		if (id < 0)
			return -1;
		if (token_equal(v->tokens[id], token, n_token))
			return id;
		i = (i + 1) & mask;
	}
}

void vocab_dispose(struct vocab *v)
{
	if (v == NULL)
		return;
	for (int32_t i = 0; i < v->n_tokens; i++)
		free(v->tokens[i]);
	free(v->tokens);
	free(v->slots);
	memset(v, 0, sizeof(*v));
}

/* See tokenizer.h: Python str.isspace(), with utf8proc's tables. */
int unicode_is_space(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
	const utf8proc_property_t *p = utf8proc_get_property(cp);
	return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
	       p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Python str.strip() on s[*from, *to); left and right say which sides. */
static void py_strip_sides(const char *s, size_t *from, size_t *to, int left, int right)
{
	while (left && *from < *to) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + *from,
		                                      (utf8proc_ssize_t)(*to - *from), &cp);
		if (k <= 0 || !unicode_is_space(cp))
			break;
		*from += (size_t)k;
	}
	while (right && *to > *from) {
		size_t b = *to - 1;
		while (b > *from && ((uint8_t)s[b] & 0xc0) == 0x80)
			b--;
		utf8proc_int32_t cp;
		utf8proc_ssize_t k =
		    utf8proc_iterate((const uint8_t *)s + b, (utf8proc_ssize_t)(*to - b), &cp);
		if (k <= 0 || (size_t)k != *to - b || !unicode_is_space(cp))
			break;
		*to = b;
	}
}

/* Python str.strip() on s[*from, *to). */
static void py_strip(const char *s, size_t *from, size_t *to)
{
	py_strip_sides(s, from, to, 1, 1);
}

/* --- added tokens ----------------------------------------------------- */

/* See tokenizer.h. The array grows one entry at a time: a handful of
 * special tokens, build time only. */
int tokenizer_add_special(struct tokenizer *t, const char *text, size_t n_text, int32_t id,
                          int lstrip, int rstrip)
{
	if (text == NULL || n_text == 0 || !utf8_valid(text, n_text) ||
	    memchr(text, '\0', n_text) != NULL || t->n_added >= INT32_MAX - 1)
		return STATUS_EINVAL;
	struct added_token *a = realloc(t->added, ((size_t)t->n_added + 1) * sizeof(*a));
	if (a == NULL)
		return STATUS_ENOMEM;
	t->added = a;
	a += t->n_added;
	if ((a->text = malloc(n_text + 1)) == NULL)
		return STATUS_ENOMEM;
	memcpy(a->text, text, n_text);
	a->text[n_text] = '\0';
	a->n_text = n_text;
	a->id = id;
	a->lstrip = lstrip != 0;
	a->rstrip = rstrip != 0;
	t->n_added++;
	return 0;
}

void tokenizer_clear_specials(struct tokenizer *t)
{
	for (int32_t i = 0; i < t->n_added; i++)
		free(t->added[i].text);
	free(t->added);
	t->added = NULL;
	t->n_added = 0;
}

/* See tokenizer.h. */
int tokenizer_check_length(const struct encode_opts *opts, int64_t total, int32_t n_specials,
                           char *err, size_t n_err)
{
	if (opts->max_length <= 0 || total <= opts->max_length)
		return 0;
	if (!opts->truncate)
		return status_fail(err, n_err, STATUS_ETOOLONG,
		                   "`inputs` must have less than %d tokens. Given: %lld",
		                   (int)opts->max_length, (long long)total);
	if (opts->max_length < n_specials)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "max_length %d cannot hold the %d special tokens",
		                   (int)opts->max_length, (int)n_specials);
	return 1;
}

/* 0 if every id is in [0, t->vocab.n_tokens), else STATUS_EINVAL naming the
 * first one out of range. */
static int check_ids(const struct tokenizer *t, const int32_t *ids, size_t n_ids, char *err,
                     size_t n_err)
{
	for (size_t i = 0; i < n_ids; i++)
		if (ids[i] < 0 || ids[i] >= t->vocab.n_tokens)
			return status_fail(err, n_err, STATUS_EINVAL,
			                   "token id %d out of range [0, %d)", (int)ids[i],
			                   (int)t->vocab.n_tokens);
	return 0;
}

int tokenizer_is_special_id(const struct tokenizer *t, int32_t id)
{
	if (id < 0)
		return 0;
	if (id == t->cls_id || id == t->sep_id || id == t->pad_id || id == t->unk_id ||
	    id == t->mask_id)
		return 1;
	for (int32_t i = 0; i < t->n_added; i++)
		if (t->added[i].id == id)
			return 1;
	return 0;
}

/* Longest added token at s[0, n) (the leftmost match is the caller's
 * scan), or NULL. */
static const struct added_token *match_added(const struct tokenizer *t, const char *s, size_t n)
{
	const struct added_token *best = NULL;
	for (int32_t i = 0; i < t->n_added; i++) {
		const struct added_token *a = &t->added[i];
		if (a->n_text <= n && (best == NULL || a->n_text > best->n_text) &&
		    (uint8_t)a->text[0] == (uint8_t)s[0] && memcmp(a->text, s, a->n_text) == 0)
			best = a;
	}
	return best;
}

/*
 * ops->pieces on text[from, to), offsets shifted into text. With prefix,
 * the pieces of " " + text[from, to) (RobertaTokenizer's add_prefix_space):
 * a copy, one malloc per call; offsets that fall on the added space are
 * clamped to from.
 */
static int stretch_pieces(const struct tokenizer *t, const char *text, size_t from, size_t to,
                          int prefix, struct encoding *out, char *err, size_t n_err)
{
	int32_t first = out->n;
	char *buf = NULL;
	int rc;

	if (!prefix) {
		if (from >= to)
			return 0;
		rc = t->ops->pieces(t, text + from, to - from, out, err, n_err);
	} else {
		if ((buf = malloc(to - from + 1)) == NULL)
			return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		buf[0] = ' ';
		memcpy(buf + 1, text + from, to - from);
		rc = t->ops->pieces(t, buf, to - from + 1, out, err, n_err);
		free(buf);
	}
	if (rc != 0)
		return rc;
	for (int32_t i = first; i < out->n; i++) {
		int32_t shift = prefix ? -1 : 0;
		int32_t a = out->starts[i] + shift, b = out->stops[i] + shift;
		out->starts[i] = (int32_t)from + (a > 0 ? a : 0);
		out->stops[i] = (int32_t)from + (b > 0 ? b : 0);
	}
	return 0;
}

/*
 * The pieces of one text, as PreTrainedTokenizer.tokenize (v4.31): the
 * added tokens are cut out (leftmost, longest, as its trie), the stretch
 * before a token with lstrip loses its trailing whitespace and the stretch
 * after one with rstrip its leading whitespace, each stretch goes through
 * ops->pieces alone, and a token becomes its id with its own byte span.
 * add_prefix_space puts " " before the text first, so it joins the first
 * stretch only. Without added tokens and prefix, ops->pieces sees the text.
 */
static int text_pieces(const struct tokenizer *t, const char *text, size_t n, struct encoding *out,
                       char *err, size_t n_err)
{
	int prefix = 0, eat_left = 0, rc;
	size_t from = 0, i = 0;

	if (t->add_prefix_space && n > 0) {
		utf8proc_int32_t cp;
		prefix = utf8proc_iterate((const uint8_t *)text, (utf8proc_ssize_t)n, &cp) > 0 &&
		         !unicode_is_space(cp);
	}
	if (t->n_added == 0 && !prefix)
		return t->ops->pieces(t, text, n, out, err, n_err);
	while (i <= n) {
		const struct added_token *a = i < n ? match_added(t, text + i, n - i) : NULL;
		if (a == NULL && i < n) {
			i++; /* a token starts with a lead byte: never inside a character */
			continue;
		}
		size_t lo = from, hi = i;
		py_strip_sides(text, &lo, &hi, eat_left, a != NULL && a->lstrip);
		/* " " + text[0, i): a text starting with no space keeps " " unless
		 * the stretch is empty and the token strips on its left. */
		int pre = prefix && !(lo == hi && a != NULL && a->lstrip);
		if ((rc = stretch_pieces(t, text, lo, hi, pre, out, err, n_err)) != 0)
			return rc;
		prefix = 0;
		if (a == NULL)
			break;
		if (encoding_reserve(out, 1) != 0)
			return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		out->ids[out->n] = a->id >= 0 ? a->id : t->unk_id;
		out->starts[out->n] = (int32_t)i;
		out->stops[out->n] = (int32_t)(i + a->n_text);
		out->n++;
		i += a->n_text;
		from = i;
		eat_left = a->rstrip;
	}
	return 0;
}

/* --- encoding --------------------------------------------------------- */

void encoding_init(struct encoding *e)
{
	memset(e, 0, sizeof(*e));
}

void encoding_dispose(struct encoding *e)
{
	if (e == NULL)
		return;
	free(e->ids);
	free(e->type_ids);
	free(e->starts);
	free(e->stops);
	free(e->seq);
	free(e->special);
	encoding_init(e);
}

#define GROW(field, cap)                                                                           \
	do {                                                                                       \
		void *p_ = realloc((field), (size_t)(cap) * sizeof(*(field)));                     \
		if (p_ == NULL)                                                                    \
			return STATUS_ENOMEM;                                                      \
		(field) = p_;                                                                      \
	} while (0)

/* Grows all six arrays to at least n + n_more, doubling. If one realloc
 * fails, cap keeps its old value (arrays already grown stay valid). */
int encoding_reserve(struct encoding *e, int32_t n_more)
{
	if (n_more < 0)
		n_more = 0;
	if ((int64_t)e->n + n_more <= e->cap)
		return 0;
	int64_t want = (int64_t)e->n + n_more;
	int64_t cap = e->cap < 64 ? 64 : e->cap;
	while (cap < want)
		cap *= 2;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	if (cap < want)
		return STATUS_ENOMEM;
	GROW(e->ids, cap);
	GROW(e->type_ids, cap);
	GROW(e->starts, cap);
	GROW(e->stops, cap);
	GROW(e->seq, cap);
	GROW(e->special, cap);
	e->cap = (int32_t)cap;
	return 0;
}

/* --- encode ----------------------------------------------------------- */

/* Moves tokens [src, src + n) to dst <= src (ids and offsets only). */
static void encoding_move(struct encoding *e, int32_t dst, int32_t src, int32_t n)
{
	if (dst == src || n <= 0)
		return;
	memmove(e->ids + dst, e->ids + src, (size_t)n * sizeof(*e->ids));
	memmove(e->starts + dst, e->starts + src, (size_t)n * sizeof(*e->starts));
	memmove(e->stops + dst, e->stops + src, (size_t)n * sizeof(*e->stops));
}

static void encoding_set_special(struct encoding *e, int32_t i, int32_t id, int32_t type)
{
	e->ids[i] = id;
	e->type_ids[i] = type;
	e->starts[i] = -1;
	e->stops[i] = -1;
	e->seq[i] = -1;
	e->special[i] = 1;
}

static void encoding_set_seq(struct encoding *e, int32_t from, int32_t n, int seq, int32_t type)
{
	for (int32_t i = from; i < from + n; i++) {
		e->type_ids[i] = type;
		e->seq[i] = (int8_t)seq;
		e->special[i] = 0;
	}
}

/*
 * How many tokens to drop from each sequence: transformers v4.31
 * truncate_sequences. A single sequence loses all of num_tokens_to_remove
 * at once; a pair loses one token at a time from the longer sequence, the
 * pair on ties (longest_first). Unlike the reference, which logs an error
 * and returns the input untruncated when a single sequence is shorter than
 * the excess, this empties the sequence so the limit always holds.
 */
static void truncation_amounts(int32_t n_a, int32_t n_b, int has_pair, int64_t remove, int32_t *r_a,
                               int32_t *r_b)
{
	*r_a = 0;
	*r_b = 0;
	if (!has_pair) {
		*r_a = remove < n_a ? (int32_t)remove : n_a;
		return;
	}
	int32_t a = n_a, b = n_b;
	for (int64_t k = 0; k < remove && (a > 0 || b > 0); k++) {
		if (a > b)
			a--;
		else
			b--;
	}
	*r_a = n_a - a;
	*r_b = n_b - b;
}

/*
 * Runs the pieces of both texts into out, laid out as the template wants
 * ([CLS] slot, A, one [SEP] slot (BERT) or two </s> slots (RoBERTa), B),
 * truncates, then fills the template. Any thread, on a const tokenizer;
 * out is the only thing written.
 */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t n_text, const char *pair,
                     size_t n_pair, const struct encode_opts *opts, struct encoding *out, char *err,
                     size_t n_err)
{
	int rc = 0;
	int add = opts->add_special_tokens != 0;
	int has_pair = pair != NULL;
	int roberta = t->template_kind == TEMPLATE_ROBERTA;
	int32_t n_mid = add ? (roberta ? 2 : 1) : 0; /* specials between A and B */

	out->n = 0;
	out->n_untruncated = 0;
	out->truncated = 0;
	/* Offsets are int32_t, and add_prefix_space adds a byte. */
	if ((text == NULL && n_text > 0) || n_text >= INT32_MAX || n_pair >= INT32_MAX) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "input is too large or NULL");
		goto fail;
	}
	if (!utf8_valid(text, n_text) || (has_pair && !utf8_valid(pair, n_pair))) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "input is not valid UTF-8");
		goto fail;
	}
	if (opts->max_length < 0) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "max_length must be >= 0");
		goto fail;
	}
	if (t->ops->encode != NULL)
		return t->ops->encode(t, text, n_text, pair, n_pair, opts, out, err, n_err);
	if (add && (t->cls_id < 0 || t->sep_id < 0)) {
		rc = status_fail(err, n_err, STATUS_ETOKENIZER,
		                 "tokenizer has no [CLS]/[SEP] token for the template");
		goto fail;
	}

	/* Pieces of A after an optional [CLS] slot, then the middle slots, B. */
	if ((rc = encoding_reserve(out, 3)) != 0)
		goto fail_nomem;
	int32_t pos_a = add ? 1 : 0;
	out->n = pos_a;
	if ((rc = text_pieces(t, text ? text : "", n_text, out, err, n_err)) != 0)
		goto fail;
	int32_t n_a = out->n - pos_a;
	int32_t pos_b = out->n, n_b = 0;
	if (has_pair) {
		if ((rc = encoding_reserve(out, n_mid)) != 0)
			goto fail_nomem;
		out->n += n_mid;
		pos_b = out->n;
		if ((rc = text_pieces(t, pair, n_pair, out, err, n_err)) != 0)
			goto fail;
		n_b = out->n - pos_b;
	}
	if ((rc = encoding_reserve(out, 1)) != 0) /* the final [SEP] */
		goto fail_nomem;

	int32_t n_specials = add ? (has_pair ? 1 + n_mid + 1 : 2) : 0;
	int64_t total = (int64_t)n_a + n_b + n_specials;
	out->n_untruncated = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	int32_t r_a = 0, r_b = 0;
	if ((rc = tokenizer_check_length(opts, total, n_specials, err, n_err)) < 0)
		goto fail;
	if (rc == 1) {
		rc = 0;
		truncation_amounts(n_a, n_b, has_pair, total - opts->max_length, &r_a, &r_b);
		out->truncated = 1;
	}

	/* Compact: every move goes left, A before B, so nothing is clobbered. */
	int left = opts->side == TRUNCATION_LEFT;
	int32_t len_a = n_a - r_a, len_b = n_b - r_b;
	int32_t at = pos_a;
	encoding_move(out, at, pos_a + (left ? r_a : 0), len_a);
	encoding_set_seq(out, at, len_a, 0, 0);
	at += len_a;
	if (add)
		encoding_set_special(out, 0, t->cls_id, 0);
	int32_t type_b = roberta ? 0 : 1; /* RoBERTa: token_type_ids all 0 */
	if (has_pair) {
		for (int32_t k = 0; k < n_mid; k++)
			encoding_set_special(out, at++, t->sep_id, 0);
		encoding_move(out, at, pos_b + (left ? r_b : 0), len_b);
		encoding_set_seq(out, at, len_b, 1, type_b);
		at += len_b;
	}
	if (add)
		encoding_set_special(out, at++, t->sep_id, has_pair ? type_b : 0);
	out->n = at;
	return 0;

fail_nomem:
	rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory encoding %zu bytes",
	                 n_text + n_pair);
fail:
	out->n = 0;
	return rc;
}

const char *tokenizer_id_to_token(const struct tokenizer *t, int32_t id)
{
	if (t == NULL || id < 0 || id >= t->vocab.n_tokens)
		return NULL;
	return t->ops->id_to_token != NULL ? t->ops->id_to_token(t, id) : t->vocab.tokens[id];
}

/* --- decode ----------------------------------------------------------- */

/* Python str.replace(from, to) in place, for len(to) <= len(from):
 * left to right, non-overlapping. Returns the new length. */
static size_t replace_all(char *s, size_t n, const char *from, const char *to)
{
	size_t n_from = strlen(from), n_to = strlen(to), r = 0, w = 0;
	while (r < n) {
		if (n - r >= n_from && memcmp(s + r, from, n_from) == 0) {
			memcpy(s + w, to, n_to);
			w += n_to;
			r += n_from;
		} else {
			s[w++] = s[r++];
		}
	}
	return w;
}

size_t tokenizer_clean_up_spaces(char *s, size_t n)
{
	static const char *const cleanup[][2] = {
	    {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
	    {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	};
	for (size_t i = 0; i < sizeof(cleanup) / sizeof(cleanup[0]); i++)
		n = replace_all(s, n, cleanup[i][0], cleanup[i][1]);
	return n;
}

/*
 * Slow BertTokenizer.decode (transformers v4.31): tokens joined by " ",
 * " ##" removed, stripped, then clean_up_tokenization's replacements in
 * order. skip_special_tokens drops [CLS] [SEP] [PAD] [UNK] [MASK] (and
 * added tokens) by id. An algorithm with its own decode op (SentencePiece,
 * byte-level BPE) is handed the call. One temporary buffer per call; any
 * thread.
 */
int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids,
                     int skip_special_tokens, char *out, size_t n_out, char *err, size_t n_err)
{
	/* Every decode op may index its tables by id: checked once, here. */
	int rc = check_ids(t, ids, n_ids, err, n_err);
	if (rc != 0) {
		if (out != NULL && n_out > 0)
			out[0] = '\0';
		return rc;
	}
	if (t->ops != NULL && t->ops->decode != NULL)
		return t->ops->decode(t, ids, n_ids, skip_special_tokens, out, n_out, err, n_err);
	char *buf = NULL;
	size_t len = 0, n_used = 0;

	for (size_t i = 0; i < n_ids; i++) {
		if (skip_special_tokens && tokenizer_is_special_id(t, ids[i]))
			continue;
		len += (n_used++ ? 1 : 0) + strlen(t->vocab.tokens[ids[i]]);
	}
	if (len >= INT_MAX) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "decoded text too long");
		goto fail;
	}
	buf = malloc(len + 1);
	if (buf == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory decoding");
		goto fail;
	}
	len = 0;
	n_used = 0;
	for (size_t i = 0; i < n_ids; i++) {
		if (skip_special_tokens && tokenizer_is_special_id(t, ids[i]))
			continue;
		if (n_used++)
			buf[len++] = ' ';
		size_t k = strlen(t->vocab.tokens[ids[i]]);
		memcpy(buf + len, t->vocab.tokens[ids[i]], k);
		len += k;
	}
	len = replace_all(buf, len, " ##", "");
	size_t from = 0, to = len;
	py_strip(buf, &from, &to);
	len = to - from;
	memmove(buf, buf + from, len);
	len = tokenizer_clean_up_spaces(buf, len);
	if (out != NULL && n_out > 0) {
		size_t k = len < n_out - 1 ? len : n_out - 1;
		memcpy(out, buf, k);
		out[k] = '\0';
	}
	free(buf);
	return (int)len;

fail:
	free(buf);
	if (out != NULL && n_out > 0)
		out[0] = '\0';
	return rc;
}

void tokenizer_destroy(struct tokenizer *t)
{
	if (t == NULL)
		return;
	if (t->ops != NULL && t->ops->destroy != NULL)
		t->ops->destroy(t);
	tokenizer_clear_specials(t);
	vocab_dispose(&t->vocab);
	free(t);
}

/* --- UTF-8 ------------------------------------------------------------ */

int utf8_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/*
 * The algorithm-independent half of every tokenizer: the vocabulary (an
 * open-addressing hash from token string to id), the caller-owned encoding
 * buffers, the special-token template and truncation rules of Hugging Face's
 * slow tokenizers (transformers v4.31 PreTrainedTokenizer), decoding, and a
 * strict UTF-8 validator. The per-algorithm part (WordPiece, ...) only turns
 * one text into pieces through struct tokenizer_ops.
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
	for (int32_t id = 0; id < v->n_tokens; id++)
		vocab_slot_put(v, id);
	return 0;
}

/*
 * Appends token (n_token bytes, no NUL inside) with id n_tokens. The token
 * array grows by doubling (its capacity is n_tokens rounded up to a power
 * of two, at least 16); the hash stays at most half full. Returns 0,
 * STATUS_EINVAL for a NUL byte inside token, or STATUS_ENOMEM.
 */
int vocab_add(struct vocab *v, const char *token, size_t n_token)
{
	if (n_token > 0 && memchr(token, '\0', n_token) != NULL)
		return STATUS_EINVAL;
	if (v->n_tokens >= INT32_MAX / 2 || n_token >= SIZE_MAX / 2)
		return STATUS_ENOMEM;
	int32_t n = v->n_tokens;
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		size_t cap = n == 0 ? 16 : (size_t)n * 2;
		char **tokens = realloc(v->tokens, cap * sizeof(*tokens));
		if (tokens == NULL)
			return STATUS_ENOMEM;
		v->tokens = tokens;
	}
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

static void encoding_set_seq(struct encoding *e, int32_t from, int32_t n, int seq)
{
	for (int32_t i = from; i < from + n; i++) {
		e->type_ids[i] = seq;
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
 * Runs ops->pieces for both texts into out, laid out as the template wants
 * ([CLS] slot, A, [SEP] slot, B), truncates, then fills the template. Any
 * thread, on a const tokenizer; out is the only thing written.
 */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t n_text, const char *pair,
                     size_t n_pair, const struct encode_opts *opts, struct encoding *out, char *err,
                     size_t n_err)
{
	int rc = 0;
	int add = opts->add_special_tokens != 0;
	int has_pair = pair != NULL;

	out->n = 0;
	out->n_untruncated = 0;
	out->truncated = 0;
	if ((text == NULL && n_text > 0) || n_text > INT32_MAX || n_pair > INT32_MAX) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "input is too large or NULL");
		goto fail;
	}
	if (!utf8_valid(text, n_text) || (has_pair && !utf8_valid(pair, n_pair))) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "input is not valid UTF-8");
		goto fail;
	}
	if (add && (t->cls_id < 0 || t->sep_id < 0)) {
		rc = status_fail(err, n_err, STATUS_ETOKENIZER,
		                 "tokenizer has no [CLS]/[SEP] token for the template");
		goto fail;
	}
	if (opts->max_length < 0) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "max_length must be >= 0");
		goto fail;
	}

	/* Pieces of A after an optional [CLS] slot, then a [SEP] slot, B. */
	if ((rc = encoding_reserve(out, 3)) != 0)
		goto fail_nomem;
	int32_t pos_a = add ? 1 : 0;
	out->n = pos_a;
	if ((rc = t->ops->pieces(t, text ? text : "", n_text, out, err, n_err)) != 0)
		goto fail;
	int32_t n_a = out->n - pos_a;
	int32_t pos_b = out->n, n_b = 0;
	if (has_pair) {
		if ((rc = encoding_reserve(out, 1)) != 0)
			goto fail_nomem;
		out->n += add;
		pos_b = out->n;
		if ((rc = t->ops->pieces(t, pair, n_pair, out, err, n_err)) != 0)
			goto fail;
		n_b = out->n - pos_b;
	}
	if ((rc = encoding_reserve(out, 1)) != 0) /* the final [SEP] */
		goto fail_nomem;

	int32_t n_specials = add ? (has_pair ? 3 : 2) : 0;
	int64_t total = (int64_t)n_a + n_b + n_specials;
	out->n_untruncated = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	int32_t r_a = 0, r_b = 0;
	if (opts->max_length > 0 && total > opts->max_length) {
		if (!opts->truncate) {
			rc = status_fail(err, n_err, STATUS_ETOOLONG,
			                 "`inputs` must have less than %d tokens. Given: %lld",
			                 (int)opts->max_length, (long long)total);
			goto fail;
		}
		if (opts->max_length < n_specials) {
			rc = status_fail(err, n_err, STATUS_EINVAL,
			                 "max_length %d cannot hold the %d special tokens",
			                 (int)opts->max_length, (int)n_specials);
			goto fail;
		}
		truncation_amounts(n_a, n_b, has_pair, total - opts->max_length, &r_a, &r_b);
		out->truncated = 1;
	}

	/* Compact: every move goes left, A before B, so nothing is clobbered. */
	int left = opts->side == TRUNCATION_LEFT;
	int32_t len_a = n_a - r_a, len_b = n_b - r_b;
	int32_t at = pos_a;
	encoding_move(out, at, pos_a + (left ? r_a : 0), len_a);
	encoding_set_seq(out, at, len_a, 0);
	at += len_a;
	if (add)
		encoding_set_special(out, 0, t->cls_id, 0);
	if (has_pair) {
		if (add)
			encoding_set_special(out, at++, t->sep_id, 0);
		encoding_move(out, at, pos_b + (left ? r_b : 0), len_b);
		encoding_set_seq(out, at, len_b, 1);
		at += len_b;
	}
	if (add)
		encoding_set_special(out, at++, t->sep_id, has_pair ? 1 : 0);
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
	return t->vocab.tokens[id];
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

/* Python str.isspace() for one code point. */
static int py_isspace(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
	const utf8proc_property_t *p = utf8proc_get_property(cp);
	return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
	       p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Python str.strip() on s[*from, *to). */
static void py_strip(const char *s, size_t *from, size_t *to)
{
	while (*from < *to) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + *from,
		                                      (utf8proc_ssize_t)(*to - *from), &cp);
		if (k <= 0 || !py_isspace(cp))
			break;
		*from += (size_t)k;
	}
	while (*to > *from) {
		size_t b = *to - 1;
		while (b > *from && ((uint8_t)s[b] & 0xc0) == 0x80)
			b--;
		utf8proc_int32_t cp;
		utf8proc_ssize_t k =
		    utf8proc_iterate((const uint8_t *)s + b, (utf8proc_ssize_t)(*to - b), &cp);
		if (k <= 0 || (size_t)k != *to - b || !py_isspace(cp))
			break;
		*to = b;
	}
}

static int is_special_id(const struct tokenizer *t, int32_t id)
{
	return id == t->cls_id || id == t->sep_id || id == t->pad_id || id == t->unk_id ||
	       id == t->mask_id;
}

/*
 * Slow BertTokenizer.decode (transformers v4.31): tokens joined by " ",
 * " ##" removed, stripped, then clean_up_tokenization's replacements in
 * order. skip_special_tokens drops [CLS] [SEP] [PAD] [UNK] [MASK] by id.
 * One temporary buffer per call; any thread.
 */
int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids,
                     int skip_special_tokens, char *out, size_t n_out, char *err, size_t n_err)
{
	static const char *const cleanup[][2] = {
	    {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
	    {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	};
	int rc = 0;
	char *buf = NULL;
	size_t len = 0, n_used = 0;

	for (size_t i = 0; i < n_ids; i++) {
		if (ids[i] < 0 || ids[i] >= t->vocab.n_tokens) {
			rc = status_fail(err, n_err, STATUS_EINVAL,
			                 "token id %d out of range [0, %d)", (int)ids[i],
			                 (int)t->vocab.n_tokens);
			goto fail;
		}
		if (skip_special_tokens && is_special_id(t, ids[i]))
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
		if (skip_special_tokens && is_special_id(t, ids[i]))
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
	for (size_t i = 0; i < sizeof(cleanup) / sizeof(cleanup[0]); i++)
		len = replace_all(buf, len, cleanup[i][0], cleanup[i][1]);
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

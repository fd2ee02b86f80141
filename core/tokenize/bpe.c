/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte-level BPE as transformers v4.31's slow RobertaTokenizer does it (the
 * code is GPT2Tokenizer's): the text is cut by the GPT-2 pattern
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * (matched here by hand: utf8proc's categories for \p{L} and \p{N}, the
 * regex module's \s, which is Unicode White_Space), each pre-token's UTF-8
 * bytes become one symbol per byte, and the adjacent pair of lowest rank in
 * merges.txt is merged, every occurrence left to right, until no pair has
 * a rank (GPT2Tokenizer.bpe). Each final piece is looked up in vocab.json
 * (missing: <unk>) and carries the bytes it was made of as its offsets.
 *
 * vocab.json and merges.txt spell strings in GPT-2's byte-to-unicode
 * alphabet (bytes_to_unicode). At build time every string a merge can make
 * is interned to an integer (0..255 the single bytes), so at encode time a
 * merge is a hash lookup on two integers and a piece's vocab id is an array
 * read. Encoding keeps its scratch on the call (a heap of candidate merges
 * per pre-token, O(n log n)); a const tokenizer is safe to share between
 * threads.
 *
 * Checked against a Python transcription of the reference (the `regex`
 * module, GPT2Tokenizer.bpe) on random text and on random merge tables
 * whose ranks ignore the order merges were made in: ids equal on every
 * sample. Pre-token classes agree wherever utf8proc (Unicode 15.0) and the
 * regex module both know the code point.
 */
#include "bpe.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "bpe-impl.h"
#include "status.h"

struct bpe_impl {
	struct bpe_merges mt;
	int32_t *str_vocab; /* (n_strs) owned: vocab id of each interned string, or -1 */
	uint32_t n_strs;    /* 0..255 are the single bytes */
};

/* --- GPT-2's byte alphabet (bytes_to_unicode) ------------------------- */

/* The code point that stands for byte b: printable Latin-1 stands for
 * itself, the other 68 bytes for U+0100.. in byte order. */
int32_t bpe_byte_cp(uint8_t b)
{
	if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
		return b;
	if (b <= 0x20)
		return 256 + b;
	if (b >= 0x7f && b <= 0xa0)
		return 256 + 33 + (b - 0x7f);
	return 256 + 67; /* 0xad */
}

/* The byte code point cp stands for, or -1 if it is not in the alphabet. */
int bpe_cp_byte(int32_t cp)
{
	if (cp < 0 || cp > 256 + 67)
		return -1;
	if (cp < 256)
		return bpe_byte_cp((uint8_t)cp) == cp ? cp : -1;
	if (cp <= 256 + 32)
		return cp - 256;
	if (cp <= 256 + 66)
		return cp - 256 - 33 + 0x7f;
	return 0xad;
}

/* Decodes one code point of s[0, n) (n > 0); a bad byte is U+FFFD of
 * length 1, so this never reads past n. */
static int32_t utf8_next(const uint8_t *s, size_t n, size_t *len)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate(s, n > 4 ? 4 : (utf8proc_ssize_t)n, &cp);
	if (k <= 0) {
		*len = 1;
		return 0xfffd;
	}
	*len = (size_t)k;
	return cp;
}

/* 1 if every character of s[0, n) is in the byte alphabet. */
static int in_alphabet(const char *s, size_t n)
{
	size_t i = 0, len;
	while (i < n) {
		if (bpe_cp_byte(utf8_next((const uint8_t *)s + i, n - i, &len)) < 0)
			return 0;
		i += len;
	}
	return 1;
}

/* --- interned strings (build time) ---------------------------------- */

/* Every string a merge names or makes, spelled in the alphabet (so never
 * with a NUL), gets an id: its index in a struct vocab used as a set. */
static int intern(struct vocab *strs, const char *s, size_t n, uint32_t *id)
{
	int32_t k = vocab_find(strs, s, n);
	if (k < 0) {
		if (vocab_add(strs, s, n) != 0)
			return STATUS_ENOMEM;
		k = strs->n_tokens - 1;
	}
	*id = (uint32_t)k;
	return 0;
}

/* --- merges ----------------------------------------------------------- */

static uint32_t hash_pair(uint32_t a, uint32_t b)
{
	uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32);
}

int bpe_merges_init(struct bpe_merges *m, size_t n_merges)
{
	m->n_slots = 64;
	while (m->n_slots < 2 * n_merges && m->n_slots < (1u << 30))
		m->n_slots *= 2;
	if (m->n_slots < 2 * n_merges ||
	    (m->slots = malloc((size_t)m->n_slots * sizeof(*m->slots))) == NULL) {
		m->n_slots = 0;
		return STATUS_ENOMEM;
	}
	memset(m->slots, 0xff, (size_t)m->n_slots * sizeof(*m->slots));
	return 0;
}

void bpe_merges_dispose(struct bpe_merges *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n_slots = 0;
}

const struct bpe_merge *bpe_merges_find(const struct bpe_merges *m, uint32_t a, uint32_t b)
{
	uint32_t mask = m->n_slots - 1, i = hash_pair(a, b) & mask;
	for (;;) {
		const struct bpe_merge *e = &m->slots[i];
		if (e->a == BPE_NONE)
			return NULL;
		if (e->a == a && e->b == b)
			return e;
		i = (i + 1) & mask;
	}
}

/* A pair seen again takes the later rank, as the references' dicts do. */
void bpe_merges_put(struct bpe_merges *m, uint32_t a, uint32_t b, uint32_t ab, int32_t rank)
{
	uint32_t mask = m->n_slots - 1, i = hash_pair(a, b) & mask;
	while (m->slots[i].a != BPE_NONE && !(m->slots[i].a == a && m->slots[i].b == b))
		i = (i + 1) & mask;
	m->slots[i] = (struct bpe_merge){a, b, ab, rank};
}

/* The whitespace-separated fields of line[0, n) (Python's str.split()):
 * up to 3 spans, returns how many there are (3 meaning 3 or more). */
static int split_fields(const char *line, size_t n, size_t from[3], size_t to[3])
{
	int k = 0;
	size_t i = 0, len;
	while (i < n && k < 3) {
		while (i < n && unicode_is_space(utf8_next((const uint8_t *)line + i, n - i, &len)))
			i += len;
		if (i == n)
			break;
		from[k] = i;
		while (i < n &&
		       !unicode_is_space(utf8_next((const uint8_t *)line + i, n - i, &len)))
			i += len;
		to[k++] = i;
	}
	return k;
}

/*
 * merges.txt as GPT2Tokenizer reads it: universal newlines, then
 * read().split("\n")[1:-1] — the first line (the "#version" header) is
 * skipped whatever it says, and so is whatever follows the last newline —
 * and each line split on whitespace; merge i (from 0) has rank i. A blank
 * line keeps its rank and merges nothing; a line with one or more than two
 * fields, or that is not UTF-8, is STATUS_EFORMAT. A merge spelled with a
 * character outside the byte alphabet can never apply and is skipped.
 */
static int read_merges(const char *text, size_t n, struct vocab *strs, struct bpe_impl *m,
                       char *tmp, char *err, size_t n_err)
{
	size_t n_lines = 1, i = 0, from[3], to[3];
	int32_t line = 0;
	int rc;

	for (size_t k = 0; k < n; k++)
		n_lines +=
		    text[k] == '\n' || (text[k] == '\r' && (k + 1 == n || text[k + 1] != '\n'));
	if (n_lines > INT32_MAX / 4)
		return status_fail(err, n_err, STATUS_EFORMAT, "merges.txt: too many lines");
	if (bpe_merges_init(&m->mt, n_lines) != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory reading merges.txt");

	while (i < n) {
		size_t j = i;
		while (j < n && text[j] != '\n' && text[j] != '\r')
			j++;
		if (j == n)
			break; /* no newline after it: dropped, as split("\n")[:-1] */
		line++;
		const char *s = text + i;
		size_t len = j - i;
		i = j + 1 + (text[j] == '\r' && j + 1 < n && text[j + 1] == '\n');
		if (line == 1)
			continue;
		if (!utf8_valid(s, len))
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "merges.txt: line %d is not valid UTF-8", (int)line);
		int k = split_fields(s, len, from, to);
		if (k == 0)
			continue;
		if (k != 2)
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "merges.txt: line %d: want two tokens \"a b\", found %s",
			                   (int)line, k == 1 ? "one" : "more");
		size_t na = to[0] - from[0], nb = to[1] - from[1];
		if (!in_alphabet(s + from[0], na) || !in_alphabet(s + from[1], nb))
			continue;
		uint32_t a, b, ab;
		memcpy(tmp, s + from[0], na);
		memcpy(tmp + na, s + from[1], nb);
		if ((rc = intern(strs, s + from[0], na, &a)) != 0 ||
		    (rc = intern(strs, s + from[1], nb, &b)) != 0 ||
		    (rc = intern(strs, tmp, na + nb, &ab)) != 0)
			return status_fail(err, n_err, rc, "out of memory reading merges.txt");
		bpe_merges_put(&m->mt, a, b, ab, line - 2);
	}
	return 0;
}

/* --- pre-tokenisation (the GPT-2 pattern) ----------------------------- */

enum char_class { CLASS_LETTER, CLASS_NUMBER, CLASS_SPACE, CLASS_OTHER };

/* \s of the regex module: Unicode White_Space. */
static int is_white_space(int32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static enum char_class class_at(const uint8_t *s, size_t n, size_t i, size_t *len)
{
	int32_t cp = s[i];
	*len = 1;
	if (cp < 0x80) {
		if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
			return CLASS_LETTER;
		if (cp >= '0' && cp <= '9')
			return CLASS_NUMBER;
		return is_white_space(cp) ? CLASS_SPACE : CLASS_OTHER;
	}
	cp = utf8_next(s + i, n - i, len);
	if (is_white_space(cp))
		return CLASS_SPACE;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		return CLASS_LETTER;
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return CLASS_NUMBER;
	default:
		return CLASS_OTHER;
	}
}

/*
 * End of the pattern's match at s[i] (i < n), alternatives in order: a
 * contraction (lower case only); an optional " " then a run of letters,
 * of numbers, or of anything else but whitespace; a whitespace run not
 * followed by a non-space (so before a word it keeps all but its last
 * character, which joins the word as its " "); else the whitespace run.
 */
static size_t pretoken_end(const uint8_t *s, size_t n, size_t i)
{
	static const char *const contractions[] = {"s", "t", "re", "ve", "m", "ll", "d"};
	size_t len, j = i, last;
	enum char_class c;

	if (s[i] == '\'')
		for (size_t k = 0; k < sizeof(contractions) / sizeof(contractions[0]); k++) {
			size_t m = strlen(contractions[k]);
			if (n - i - 1 >= m && memcmp(s + i + 1, contractions[k], m) == 0)
				return i + 1 + m;
		}
	c = class_at(s, n, i, &len);
	if (s[i] == ' ' && i + 1 < n) {
		enum char_class next = class_at(s, n, i + 1, &len);
		if (next != CLASS_SPACE) {
			c = next;
			j = i + 1;
		}
	}
	if (c != CLASS_SPACE) {
		while (j < n && class_at(s, n, j, &len) == c)
			j += len;
		return j;
	}
	last = j;
	while (j < n && class_at(s, n, j, &len) == CLASS_SPACE) {
		last = j;
		j += len;
	}
	return j == n || last == i ? j : last;
}

/* --- BPE on one pre-token --------------------------------------------- */

int bpe_scratch_reserve(struct bpe_scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < n)
		cap *= 2;
	bpe_scratch_dispose(s);
	s->sym = malloc(cap * sizeof(*s->sym));
	s->heap = malloc(3 * cap * sizeof(*s->heap));
	s->pend = malloc(2 * cap * sizeof(*s->pend));
	s->cap = s->sym && s->heap && s->pend ? cap : 0;
	return s->cap ? 0 : STATUS_ENOMEM;
}

void bpe_scratch_dispose(struct bpe_scratch *s)
{
	free(s->sym);
	free(s->heap);
	free(s->pend);
	s->sym = NULL;
	s->heap = s->pend = NULL;
	s->cap = 0;
}

static int cand_less(const struct bpe_cand *x, const struct bpe_cand *y)
{
	return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void heap_push(struct bpe_scratch *s, struct bpe_cand c)
{
	size_t i = s->n_heap++;
	while (i > 0 && cand_less(&c, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = c;
}

static struct bpe_cand heap_pop(struct bpe_scratch *s)
{
	struct bpe_cand top = s->heap[0], last = s->heap[--s->n_heap];
	size_t i = 0, n = s->n_heap;
	for (;;) {
		size_t k = 2 * i + 1;
		if (k >= n)
			break;
		if (k + 1 < n && cand_less(&s->heap[k + 1], &s->heap[k]))
			k++;
		if (!cand_less(&s->heap[k], &last))
			break;
		s->heap[i] = s->heap[k];
		i = k;
	}
	if (n > 0)
		s->heap[i] = last;
	return top;
}

/* Queues the pair at pos if it has a merge. In rounds, one ranked before
 * the round in progress waits in pend until the round is over. */
static void queue_pair(const struct bpe_merges *m, struct bpe_scratch *s, int32_t pos,
                       int32_t round, int rounds)
{
	int32_t next = pos >= 0 ? s->sym[pos].next : -1;
	if (next < 0)
		return;
	const struct bpe_merge *e = bpe_merges_find(m, s->sym[pos].str, s->sym[next].str);
	if (e == NULL)
		return;
	struct bpe_cand c = {e->rank, pos, s->sym[pos].str, s->sym[next].str, e->ab};
	if (rounds && e->rank < round)
		s->pend[s->n_pend++] = c;
	else
		heap_push(s, c);
}

/* Whether candidate c still stands for the pair at its position: with
 * rounds the same two strings (GPT2Tokenizer), else a pair that still
 * merges into the same id (Word::merge_all's check). */
static int cand_live(const struct bpe_merges *m, const struct bpe_scratch *s,
                     const struct bpe_cand *c, int rounds)
{
	const struct bpe_sym *l = &s->sym[c->pos];
	if (l->str == BPE_NONE || l->next < 0)
		return 0;
	uint32_t b = s->sym[l->next].str;
	if (rounds)
		return l->str == c->a && b == c->b;
	const struct bpe_merge *e = bpe_merges_find(m, l->str, b);
	return e != NULL && e->ab == c->ab;
}

/*
 * See bpe-impl.h. With rounds, GPT2Tokenizer.bpe: repeatedly the lowest
 * ranked pair, all its occurrences left to right, then the next; a pair
 * that a merge creates never has the round's rank, and one ranked lower
 * waits for the round's end, as the reference only looks again after a
 * whole round. Without, Hugging Face's Word::merge_all: always the lowest
 * (rank, position) in the queue, new pairs included.
 */
void bpe_merge_word(const struct bpe_merges *m, struct bpe_scratch *s, int32_t n, int rounds)
{
	int32_t round = INT32_MIN;

	for (int32_t k = 0; k < n; k++) {
		s->sym[k].prev = k - 1;
		s->sym[k].next = k + 1 < n ? k + 1 : -1;
	}
	s->n_heap = 0;
	s->n_pend = 0;
	for (int32_t k = 0; k + 1 < n; k++)
		queue_pair(m, s, k, round, rounds);
	while (s->n_heap > 0 || s->n_pend > 0) {
		if (s->n_pend > 0 && (s->n_heap == 0 || s->heap[0].rank != round)) {
			for (size_t k = 0; k < s->n_pend; k++)
				heap_push(s, s->pend[k]);
			s->n_pend = 0;
		}
		struct bpe_cand c = heap_pop(s);
		if (!cand_live(m, s, &c, rounds))
			continue;
		struct bpe_sym *l = &s->sym[c.pos];
		int32_t r = l->next;
		round = c.rank;
		l->str = c.ab;
		l->stop = s->sym[r].stop;
		l->next = s->sym[r].next;
		if (l->next >= 0)
			s->sym[l->next].prev = c.pos;
		s->sym[r].str = BPE_NONE;
		queue_pair(m, s, l->prev, round, rounds);
		queue_pair(m, s, c.pos, round, rounds);
	}
}

/* --- encode ------------------------------------------------------------ */

static int emit(const struct tokenizer *t, struct encoding *out, uint32_t str, int32_t start,
                int32_t stop)
{
	const struct bpe_impl *m = t->impl;
	int32_t id = str < m->n_strs ? m->str_vocab[str] : -1;
	if (id < 0)
		id = t->unk_id;
	if (id < 0)
		return STATUS_ETOKENIZER;
	if (encoding_reserve(out, 1) != 0)
		return STATUS_ENOMEM;
	out->ids[out->n] = id;
	out->starts[out->n] = start;
	out->stops[out->n] = stop;
	out->n++;
	return 0;
}

static int bpe_pieces(const struct tokenizer *t, const char *text, size_t n_text,
                      struct encoding *out, char *err, size_t n_err)
{
	const struct bpe_impl *m = t->impl;
	const uint8_t *s = (const uint8_t *)text;
	struct bpe_scratch sc = {0};
	size_t i = 0;
	int rc = 0;

	while (i < n_text && rc == 0) {
		size_t end = pretoken_end(s, n_text, i);
		if (end == i + 1) { /* one byte: no pair to merge */
			rc = emit(t, out, s[i], (int32_t)i, (int32_t)end);
		} else if ((rc = bpe_scratch_reserve(&sc, end - i)) == 0) {
			for (size_t k = i; k < end; k++)
				sc.sym[k - i] =
				    (struct bpe_sym){s[k], (int32_t)k, (int32_t)k + 1, 0, 0};
			bpe_merge_word(&m->mt, &sc, (int32_t)(end - i), 1);
			for (int32_t k = 0; k >= 0 && rc == 0; k = sc.sym[k].next)
				rc = emit(t, out, sc.sym[k].str, sc.sym[k].start, sc.sym[k].stop);
		}
		i = end;
	}
	bpe_scratch_dispose(&sc);
	if (rc == STATUS_ENOMEM)
		return status_fail(err, n_err, rc, "out of memory tokenizing %zu bytes", n_text);
	if (rc != 0)
		return status_fail(err, n_err, rc,
		                   "a piece is not in vocab.json and there is no <unk>");
	return 0;
}

/* --- decode ------------------------------------------------------------ */

/*
 * bytes.decode("utf-8", errors="replace") of s[0, n) into out (room for
 * 3n bytes): each maximal prefix of a valid sequence that breaks off, and
 * each byte that starts none, becomes one U+FFFD, as CPython's decoder.
 * Returns the length.
 */
size_t bpe_utf8_replace(const uint8_t *s, size_t n, char *out)
{
	size_t i = 0, k = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t need = 0, j = i + 1;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			out[k++] = (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		while (need > 0 && j < n && j - i <= need && s[j] >= lo && s[j] <= hi) {
			j++;
			lo = 0x80;
			hi = 0xbf;
		}
		if (need > 0 && j - i == need + 1) {
			memcpy(out + k, s + i, j - i);
			k += j - i;
		} else {
			memcpy(out + k, "\xef\xbf\xbd", 3);
			k += 3;
		}
		i = j;
	}
	return k;
}

/*
 * Slow RobertaTokenizer.decode (v4.31): the tokens (specials too, unless
 * skipped: they are in vocab.json, so no added-token spacing) joined with
 * nothing, each character mapped back to its byte, the bytes decoded as
 * UTF-8 with errors="replace", then clean_up_tokenization. A character
 * outside the byte alphabet (the reference raises KeyError) passes through
 * as its UTF-8. Two temporary buffers per call; any thread.
 */
static int bpe_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids,
                      int skip_special_tokens, char *out, size_t n_out, char *err, size_t n_err)
{
	uint8_t *raw = NULL;
	char *text = NULL;
	size_t n_raw = 0, len;
	int rc = 0;

	for (size_t i = 0; i < n_ids; i++) {
		if (!(skip_special_tokens && tokenizer_is_special_id(t, ids[i])))
			n_raw += strlen(t->vocab.tokens[ids[i]]);
	}
	if (n_raw >= INT_MAX / 3) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "decoded text too long");
		goto fail;
	}
	if ((raw = malloc(n_raw + 1)) == NULL || (text = malloc(3 * n_raw + 1)) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory decoding");
		goto fail;
	}
	n_raw = 0;
	for (size_t i = 0; i < n_ids; i++) {
		if (skip_special_tokens && tokenizer_is_special_id(t, ids[i]))
			continue;
		const char *tok = t->vocab.tokens[ids[i]];
		size_t n_tok = strlen(tok), j = 0, k;
		while (j < n_tok) {
			int b = bpe_cp_byte(utf8_next((const uint8_t *)tok + j, n_tok - j, &k));
			if (b >= 0) {
				raw[n_raw++] = (uint8_t)b;
			} else {
				memcpy(raw + n_raw, tok + j, k);
				n_raw += k;
			}
			j += k;
		}
	}
	len = tokenizer_clean_up_spaces(text, bpe_utf8_replace(raw, n_raw, text));
	if (out != NULL && n_out > 0) {
		size_t k = len < n_out - 1 ? len : n_out - 1;
		memcpy(out, text, k);
		out[k] = '\0';
	}
	free(raw);
	free(text);
	return (int)len;

fail:
	free(raw);
	free(text);
	if (out != NULL && n_out > 0)
		out[0] = '\0';
	return rc;
}

/* --- create / destroy ------------------------------------------------- */

static void bpe_destroy(struct tokenizer *t)
{
	struct bpe_impl *m = t->impl;
	if (m == NULL)
		return;
	bpe_merges_dispose(&m->mt);
	free(m->str_vocab);
	free(m);
	t->impl = NULL;
}

static const struct tokenizer_ops bpe_ops = {
    .name = "bpe",
    .pieces = bpe_pieces,
    .destroy = bpe_destroy,
    .decode = bpe_decode,
};

/* The strings 0..255 are the single bytes, spelled in the alphabet. */
static int intern_bytes(struct vocab *strs)
{
	for (int b = 0; b < 256; b++) {
		int32_t cp = bpe_byte_cp((uint8_t)b); /* < 0x800: two bytes at most */
		char s[2] = {(char)cp, 0};
		uint32_t id;
		if (cp >= 0x80) {
			s[0] = (char)(0xc0 | (cp >> 6));
			s[1] = (char)(0x80 | (cp & 0x3f));
		}
		if (intern(strs, s, cp < 0x80 ? 1 : 2, &id) != 0)
			return STATUS_ENOMEM;
	}
	return 0;
}

/* The vocab id of every interned string. */
static int map_strings(struct bpe_impl *m, const struct vocab *strs, const struct vocab *v)
{
	if ((m->str_vocab = malloc((size_t)strs->n_tokens * sizeof(*m->str_vocab))) == NULL)
		return STATUS_ENOMEM;
	for (int32_t i = 0; i < strs->n_tokens; i++)
		m->str_vocab[i] = vocab_find(v, strs->tokens[i], strlen(strs->tokens[i]));
	m->n_strs = (uint32_t)strs->n_tokens;
	return 0;
}

/* RobertaTokenizer's defaults: the specials are AddedTokens that strip
 * nothing, but <mask> eats the whitespace before it. */
static int add_default_specials(struct tokenizer *t)
{
	static const char *const names[] = {"<s>", "</s>", "<unk>", "<pad>", "<mask>"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int32_t id = vocab_find(&t->vocab, names[i], strlen(names[i]));
		int rc;
		if (id >= 0 &&
		    (rc = tokenizer_add_special(t, names[i], strlen(names[i]), id, i == 4, 0)) != 0)
			return rc;
	}
	return 0;
}

/*
 * See bpe.h. Also registers <s> </s> <unk> <pad> <mask> (those in the
 * vocabulary) as added tokens with RobertaTokenizer's default strip flags;
 * tokenizer_load replaces them with what the folder's config says. Build
 * time only.
 */
int bpe_create(struct vocab *vocab, const char *merges, size_t n_merges,
               const struct bpe_opts *opts, struct tokenizer **out, char *err, size_t n_err)
{
	struct vocab strs = {0};
	struct tokenizer *t = NULL;
	struct bpe_impl *m = NULL;
	char *tmp = NULL;
	int rc = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		vocab_dispose(vocab);
		goto fail_nomem;
	}
	t->vocab = *vocab; /* taken over: the tokenizer disposes of it */
	memset(vocab, 0, sizeof(*vocab));
	t->ops = &bpe_ops;
	if ((t->impl = m = calloc(1, sizeof(*m))) == NULL || (tmp = malloc(n_merges + 1)) == NULL)
		goto fail_nomem;
	if (t->vocab.n_tokens == 0) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "vocab.json: the vocabulary is empty");
		goto fail;
	}
	if (intern_bytes(&strs) != 0)
		goto fail_nomem;
	if ((rc = read_merges(merges, n_merges, &strs, m, tmp, err, n_err)) != 0)
		goto fail;
	if (map_strings(m, &strs, &t->vocab) != 0)
		goto fail_nomem;
	t->cls_id = vocab_find(&t->vocab, "<s>", 3);
	t->sep_id = vocab_find(&t->vocab, "</s>", 4);
	t->pad_id = vocab_find(&t->vocab, "<pad>", 5);
	t->unk_id = vocab_find(&t->vocab, "<unk>", 5);
	t->mask_id = vocab_find(&t->vocab, "<mask>", 6);
	t->template_kind = TEMPLATE_ROBERTA;
	t->add_prefix_space = opts != NULL && opts->add_prefix_space;
	if (add_default_specials(t) != 0)
		goto fail_nomem;
	vocab_dispose(&strs);
	free(tmp);
	*out = t;
	return 0;

fail_nomem:
	rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory building the BPE tokenizer");
fail:
	vocab_dispose(&strs);
	free(tmp);
	tokenizer_destroy(t);
	return rc;
}

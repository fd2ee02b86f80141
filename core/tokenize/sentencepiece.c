/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Hugging Face half of the SentencePiece tokenizer: transformers
 * v4.31's slow AlbertTokenizer, XLMRobertaTokenizer and DebertaV2Tokenizer
 * (ALBERT's path without its preprocessing) around the sentencepiece
 * library of sentencepiece_model.c. One text goes through
 *
 *   raw   PreTrainedTokenizer.tokenize: lower-case all but the special
 *         tokens (ALBERT's, DeBERTa's do_lower_case), split the special tokens out of
 *         the text (added-tokens trie) and strip the whitespace beside them
 *   pre   AlbertTokenizer.preprocess_text: remove_space, `` and '' -> ",
 *         NFKD without combining marks, lower()
 *   norm  sentencepiece's normaliser, then its model (spm_encode)
 *   ids   ALBERT, DeBERTa: piece ids, ALBERT with _tokenize's re-split of pieces like
 *         "▁3,"; XLM-R: the fairseq ids (<s> <pad> </s> <unk>, then
 *         piece id + 1, <mask> last)
 *
 * Every byte carries the span of the original characters it came from
 * (struct ntext), so each piece gets byte offsets [start, stop) into the
 * caller's text: a piece starting with U+2581 that stands for a space
 * includes that space; the dummy prefix has an empty span. Per-call state
 * lives in a struct spm_call (heap buffers freed before returning), so a
 * const tokenizer may be shared by any number of threads.
 *
 * Lower-casing is per code point, as the reference's regex does it (no
 * final sigma), with Python's "İ" -> "i̇"; str.isdigit() is utf8proc's Nd
 * plus the common No digits; Unicode tables are utf8proc's.
 */
#include "sentencepiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "sentencepiece-impl.h"
#include "status.h"

#define N_SPECIALS 5

static const char k_space[] = "\xe2\x96\x81"; /* U+2581 */

struct spm_special {
	const char *s;
	size_t n;
	int32_t id;
	int lstrip, rstrip; /* strip whitespace on that side of the token */
};

struct spm_impl {
	struct spm_model m;
	struct sentencepiece_opts opts;
	struct spm_special specials[N_SPECIALS]; /* cls sep pad unk mask */
};

/* A stretch of the raw text: a special token or text for sentencepiece. */
struct seg {
	size_t begin, end;
	int special; /* index into specials or -1 */
};

/* One pieces() call's scratch. */
struct spm_call {
	const struct spm_impl *im;
	struct encoding *out;
	struct ntext raw, pre, norm, sub, subnorm;
	struct spm_toks toks, subtoks;
	struct spm_work work;
	struct seg *segs; /* (n_segs) owned */
	size_t n_segs;
};

/* --- Python string helpers --------------------------------------------- */

/* Python str.isspace() for one code point. */
static int py_isspace(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
	const utf8proc_property_t *p = utf8proc_get_property(cp);
	return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
	       p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Python str.isdigit(): Numeric_Type Decimal (Nd) or Digit (some No). */
static int py_isdigit(int32_t cp)
{
	static const int32_t no_digits[][2] = {
	    {0xb2, 0xb3},       {0xb9, 0xb9},       {0x1369, 0x1371},   {0x19da, 0x19da},
	    {0x2070, 0x2070},   {0x2074, 0x2079},   {0x2080, 0x2089},   {0x2460, 0x2468},
	    {0x2474, 0x247c},   {0x2488, 0x2490},   {0x24ea, 0x24ea},   {0x24f5, 0x24fd},
	    {0x24ff, 0x24ff},   {0x2776, 0x277e},   {0x2780, 0x2788},   {0x278a, 0x2792},
	    {0x10a40, 0x10a43}, {0x10e60, 0x10e68}, {0x11052, 0x1105a}, {0x1f100, 0x1f10a},
	};
	if (cp < 0x80)
		return cp >= '0' && cp <= '9';
	if (utf8proc_category(cp) == UTF8PROC_CATEGORY_ND)
		return 1;
	for (size_t i = 0; i < sizeof(no_digits) / sizeof(no_digits[0]); i++)
		if (cp >= no_digits[i][0] && cp <= no_digits[i][1])
			return 1;
	return 0;
}

/* The code point at s[0, n) and its length; an invalid byte is -1, 1. */
static size_t next_cp(const char *s, size_t n, int32_t *cp)
{
	utf8proc_int32_t c;
	utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s, (utf8proc_ssize_t)n, &c);
	if (k <= 0) {
		*cp = -1;
		return 1;
	}
	*cp = c;
	return (size_t)k;
}

/* Start of the character that ends at s[end) (end > from). */
static size_t prev_cp_start(const char *s, size_t from, size_t end)
{
	size_t b = end - 1;
	while (b > from && ((uint8_t)s[b] & 0xc0) == 0x80 && end - b < 4)
		b--;
	return b;
}

/* Python str.lower() of one code point, as UTF-8 into buf; its length. */
static size_t py_lower(int32_t cp, char *buf)
{
	if (cp == 0x130) { /* the one one-to-two mapping */
		memcpy(buf, "i\xcc\x87", 3);
		return 3;
	}
	return (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (uint8_t *)buf);
}

/* --- tokenize(): lower case, special tokens ----------------------------- */

/* Index of the longest special token at s[0, n), or -1. */
static int special_at(const struct spm_impl *im, const char *s, size_t n)
{
	int best = -1;
	for (int i = 0; i < N_SPECIALS; i++) {
		const struct spm_special *sp = &im->specials[i];
		if (sp->id >= 0 && sp->n <= n && memcmp(s, sp->s, sp->n) == 0 &&
		    (best < 0 || sp->n > im->specials[best].n))
			best = i;
	}
	return best;
}

/* Copies text into c->raw, each character with its own span; with ALBERT's
 * do_lower_case every character outside a special token is lower-cased
 * (tokenize's re.sub(pattern, ... .lower())). */
static int build_raw(struct spm_call *c, const char *text, size_t n)
{
	int lower = c->im->opts.flavour != SPM_XLM_ROBERTA && c->im->opts.do_lower_case;
	size_t keep = 0; /* bytes of a special token still to copy as is */
	char buf[8];
	c->raw.n = 0;
	if (ntext_reserve(&c->raw, n + 16) != 0)
		return STATUS_ENOMEM;
	for (size_t i = 0; i < n;) {
		int32_t cp;
		size_t k = next_cp(text + i, n - i, &cp), n_buf = k;
		const char *s = text + i;
		if (lower && keep == 0) {
			int sp = special_at(c->im, text + i, n - i);
			keep = sp >= 0 ? c->im->specials[sp].n : 0;
		}
		if (lower && keep == 0 && cp >= 0) {
			n_buf = py_lower(cp, buf);
			s = buf;
		}
		keep = keep > k ? keep - k : 0;
		if (ntext_push(&c->raw, s, n_buf, (int32_t)i, (int32_t)(i + k)) != 0)
			return STATUS_ENOMEM;
		i += k;
	}
	return 0;
}

/* tokens_trie.split(text) and tokenize()'s stripping beside the special
 * tokens (lstrip/rstrip of an AddedToken; both sides for a plain string). */
static int split_specials(struct spm_call *c)
{
	const struct ntext *r = &c->raw;
	size_t n_match = 0;
	for (size_t i = 0; i < r->n;) {
		int sp = special_at(c->im, r->s + i, r->n - i);
		n_match += sp >= 0;
		i += sp >= 0 ? c->im->specials[sp].n : 1;
	}
	c->segs = malloc((2 * n_match + 1) * sizeof(*c->segs));
	if (c->segs == NULL)
		return STATUS_ENOMEM;
	c->n_segs = 0;
	size_t text_from = 0;
	for (size_t i = 0; i <= r->n;) {
		int sp = i < r->n ? special_at(c->im, r->s + i, r->n - i) : -1;
		if (sp < 0 && i < r->n) {
			i++;
			continue;
		}
		if (i > text_from)
			c->segs[c->n_segs++] = (struct seg){text_from, i, -1};
		if (sp < 0)
			break;
		c->segs[c->n_segs++] = (struct seg){i, i + c->im->specials[sp].n, sp};
		i += c->im->specials[sp].n;
		text_from = i;
	}
	for (size_t i = 0; i < c->n_segs; i++) {
		if (c->segs[i].special < 0)
			continue;
		const struct spm_special *sp = &c->im->specials[c->segs[i].special];
		struct seg *right = i + 1 < c->n_segs ? &c->segs[i + 1] : NULL;
		struct seg *left = i > 0 ? &c->segs[i - 1] : NULL;
		int32_t cp;
		if (sp->rstrip && right != NULL && right->special < 0)
			while (right->begin < right->end) {
				size_t k =
				    next_cp(r->s + right->begin, right->end - right->begin, &cp);
				if (cp < 0 || !py_isspace(cp))
					break;
				right->begin += k;
			}
		if (sp->lstrip && left != NULL && left->special < 0)
			while (left->end > left->begin) {
				size_t b = prev_cp_start(r->s, left->begin, left->end);
				next_cp(r->s + b, left->end - b, &cp);
				if (cp < 0 || !py_isspace(cp))
					break;
				left->end = b;
			}
	}
	return 0;
}

/* --- _tokenize() -------------------------------------------------------- */

/*
 * AlbertTokenizer.preprocess_text of raw[b, e) into pre: remove_space
 * (" ".join(text.strip().split())), `` and '' -> ", then unless
 * keep_accents NFKD and drop combining characters, then lower(). A joining
 * space has the span of the first whitespace it replaces; a dropped mark
 * extends the span of the character before it.
 */
static int preprocess(const struct spm_impl *im, const struct ntext *raw, size_t b, size_t e,
                      struct ntext *pre)
{
	const struct sentencepiece_opts *o = &im->opts;
	int pending = 0, seen_word = 0;
	int32_t pend_from = 0, pend_to = 0, d[32];
	char buf[8];
	pre->n = 0;
	if (ntext_reserve(pre, e - b + 16) != 0)
		return STATUS_ENOMEM;
	for (size_t i = b; i < e;) {
		int32_t cp;
		size_t k = next_cp(raw->s + i, e - i, &cp);
		int32_t from = raw->from[i], to = raw->to[i + k - 1];
		if (o->remove_space && cp >= 0 && py_isspace(cp)) {
			if (!pending && seen_word) {
				pending = 1;
				pend_from = from;
				pend_to = to;
			}
			i += k;
			continue;
		}
		seen_word = 1;
		if (pending && ntext_push(pre, " ", 1, pend_from, pend_to) != 0)
			return STATUS_ENOMEM;
		pending = 0;
		if ((cp == '`' || cp == '\'') && i + 1 < e && raw->s[i + 1] == (char)cp) {
			if (ntext_push(pre, "\"", 1, from, raw->to[i + 1]) != 0)
				return STATUS_ENOMEM;
			i += 2;
			continue;
		}
		utf8proc_ssize_t n_d = 1;
		d[0] = cp;
		if (cp >= 0 && !o->keep_accents) {
			int bound = 0;
			n_d = utf8proc_decompose_char(cp, d, 32,
			                              UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, &bound);
			if (n_d <= 0 || n_d > 32) {
				n_d = 1;
				d[0] = cp;
			}
		}
		size_t n_before = pre->n;
		for (utf8proc_ssize_t j = 0; j < n_d; j++) {
			const char *s = raw->s + i;
			size_t n_s = k;
			if (cp >= 0 && !o->keep_accents &&
			    utf8proc_get_property(d[j])->combining_class)
				continue;
			if (cp >= 0 && (o->do_lower_case || d[j] != cp)) {
				n_s = o->do_lower_case
				          ? py_lower(d[j], buf)
				          : (size_t)utf8proc_encode_char(d[j], (uint8_t *)buf);
				s = buf;
			}
			if (ntext_push(pre, s, n_s, from, to) != 0)
				return STATUS_ENOMEM;
		}
		if (pre->n == n_before && pre->n > 0) /* a dropped mark joins the char before */
			for (size_t j = pre->n, last_to = pre->to[pre->n - 1];
			     j > 0 && (size_t)pre->to[j - 1] == last_to; j--)
				pre->to[j - 1] = to;
		i += k;
	}
	return 0;
}

/* Hugging Face's _convert_token_to_id of a piece string; sid is its piece
 * id when known, -1 to look the string up (PieceToId: unknown -> unk). */
static int32_t token_id(const struct spm_impl *im, const char *s, size_t n, int32_t sid)
{
	if (im->opts.flavour == SPM_XLM_ROBERTA)
		for (int i = 0; i < 4; i++) { /* fairseq_tokens_to_ids */
			static const char *const fairseq[4] = {"<s>", "<pad>", "</s>", "<unk>"};
			if (strlen(fairseq[i]) == n && memcmp(fairseq[i], s, n) == 0)
				return i;
		}
	if (sid < 0)
		sid = spm_model_find(&im->m, s, n);
	if (sid < 0)
		sid = im->m.unk_id;
	if (im->opts.flavour == SPM_XLM_ROBERTA)
		return sid ? sid + 1 : 3; /* fairseq_offset; spm id 0 -> <unk> */
	return sid;
}

static int emit(struct spm_call *c, int32_t id, int32_t start, int32_t stop)
{
	if (encoding_reserve(c->out, 1) != 0)
		return STATUS_ENOMEM;
	int32_t i = c->out->n++;
	c->out->ids[i] = id;
	c->out->starts[i] = start;
	c->out->stops[i] = stop;
	return 0;
}

/* Appends piece tk of normalised text nt, from byte `skip` of it on. */
static int emit_tok(struct spm_call *c, const struct ntext *nt, const struct spm_tok *tk,
                    int32_t skip)
{
	char byte_piece[8];
	const char *s = nt->s + tk->begin + skip;
	size_t n = (size_t)(tk->end - tk->begin - skip);
	int32_t sid = skip > 0 || tk->kind == SPM_TOK_UNK ? -1 : tk->id;
	if (tk->kind == SPM_TOK_BYTE) {
		n = (size_t)snprintf(byte_piece, sizeof(byte_piece), "<0x%02X>",
		                     (unsigned)(uint8_t)nt->s[tk->begin]);
		s = byte_piece;
	}
	return emit(c, token_id(c->im, s, n, sid), nt->from[tk->begin + skip], nt->to[tk->end - 1]);
}

static int starts_with_space(const char *s, size_t n)
{
	return n >= 3 && memcmp(s, k_space, 3) == 0;
}

/* 1 if piece tk is a string of more than one character whose last is ","
 * and whose last but one is a digit (AlbertTokenizer._tokenize). */
static int digit_comma(const struct ntext *nt, const struct spm_tok *tk)
{
	int32_t cp;
	if (tk->kind == SPM_TOK_BYTE || tk->end - tk->begin < 2 || nt->s[tk->end - 1] != ',')
		return 0;
	size_t b = prev_cp_start(nt->s, (size_t)tk->begin, (size_t)tk->end - 1);
	next_cp(nt->s + b, (size_t)tk->end - 1 - b, &cp);
	return cp >= 0 && py_isdigit(cp);
}

/*
 * cur_pieces = EncodeAsPieces(piece[:-1].replace("▁", "")), the leading
 * "▁" dropped when the piece had none, then "," as its own piece.
 */
static int split_digit_comma(struct spm_call *c, const struct spm_tok *tk)
{
	const struct ntext *nt = &c->norm;
	const struct spm_model *m = &c->im->m;
	int rc;
	c->sub.n = 0;
	for (int32_t j = tk->begin; j < tk->end - 1;) {
		if (starts_with_space(nt->s + j, (size_t)(tk->end - 1 - j))) {
			j += 3;
			continue;
		}
		if (ntext_push(&c->sub, nt->s + j, 1, nt->from[j], nt->to[j]) != 0)
			return STATUS_ENOMEM;
		j++;
	}
	if ((rc = spm_normalize(m, &c->sub, 0, c->sub.n, &c->subnorm)) != 0 ||
	    (rc = spm_encode(m, &c->subnorm, &c->subtoks, &c->work)) != 0)
		return rc;
	size_t first = 0;
	int32_t skip = 0;
	const struct spm_tok *t0 = c->subtoks.n > 0 ? &c->subtoks.v[0] : NULL;
	if (t0 != NULL && t0->kind != SPM_TOK_BYTE &&
	    !starts_with_space(nt->s + tk->begin, (size_t)(tk->end - tk->begin)) &&
	    starts_with_space(c->subnorm.s + t0->begin, (size_t)(t0->end - t0->begin))) {
		if (t0->end - t0->begin == 3)
			first = 1; /* the piece was just "▁" */
		else
			skip = 3;
	}
	for (size_t i = first; i < c->subtoks.n; i++)
		if ((rc = emit_tok(c, &c->subnorm, &c->subtoks.v[i], i == 0 ? skip : 0)) != 0)
			return rc;
	return emit(c, token_id(c->im, ",", 1, -1), nt->from[tk->end - 1], nt->to[tk->end - 1]);
}

/* _tokenize() of raw[b, e): preprocessing (ALBERT), sentencepiece, ids. */
static int encode_text(struct spm_call *c, size_t b, size_t e)
{
	const struct spm_impl *im = c->im;
	const struct ntext *in = &c->raw;
	int rc, albert = im->opts.flavour == SPM_ALBERT;
	if (albert) {
		if ((rc = preprocess(im, &c->raw, b, e, &c->pre)) != 0)
			return rc;
		in = &c->pre;
		b = 0;
		e = c->pre.n;
	}
	if ((rc = spm_normalize(&im->m, in, b, e, &c->norm)) != 0 ||
	    (rc = spm_encode(&im->m, &c->norm, &c->toks, &c->work)) != 0)
		return rc;
	for (size_t i = 0; i < c->toks.n; i++) {
		const struct spm_tok *tk = &c->toks.v[i];
		rc = albert && digit_comma(&c->norm, tk) ? split_digit_comma(c, tk)
		                                         : emit_tok(c, &c->norm, tk, 0);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ops->pieces: see struct tokenizer_ops. Any thread, const tokenizer. */
static int spm_pieces(const struct tokenizer *t, const char *text, size_t n_text,
                      struct encoding *out, char *err, size_t n_err)
{
	struct spm_call c;
	int rc;
	memset(&c, 0, sizeof(c));
	c.im = t->impl;
	c.out = out;
	if (n_text >= INT32_MAX / 4 || (text == NULL && n_text > 0)) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "input of %zu bytes is too large",
		                 n_text);
		goto fail;
	}
	if ((rc = build_raw(&c, text, n_text)) != 0 || (rc = split_specials(&c)) != 0)
		goto fail;
	for (size_t i = 0; i < c.n_segs; i++) {
		const struct seg *s = &c.segs[i];
		if (s->begin >= s->end)
			continue;
		if (s->special >= 0)
			rc = emit(&c, c.im->specials[s->special].id, c.raw.from[s->begin],
			          c.raw.to[s->end - 1]);
		else
			rc = encode_text(&c, s->begin, s->end);
		if (rc != 0)
			goto fail;
	}
fail: /* and success: the stages fail only with STATUS_ENOMEM */
	if (rc == STATUS_ENOMEM)
		status_fail(err, n_err, rc, "out of memory tokenizing %zu bytes", n_text);
	ntext_dispose(&c.raw);
	ntext_dispose(&c.pre);
	ntext_dispose(&c.norm);
	ntext_dispose(&c.sub);
	ntext_dispose(&c.subnorm);
	spm_toks_dispose(&c.toks);
	spm_toks_dispose(&c.subtoks);
	spm_work_dispose(&c.work);
	free(c.segs);
	return rc;
}

/* --- decode ------------------------------------------------------------ */

/* Appends s with every U+2581 turned into ' '. */
static void sb_put_unescaped(struct sbuf *b, const char *s)
{
	for (const char *p; (p = strstr(s, k_space)) != NULL; s = p + 3) {
		sbuf_put(b, s, (size_t)(p - s));
		sbuf_put(b, " ", 1);
	}
	sbuf_put(b, s, strlen(s));
}

/* ProcessBytePieces: byte pieces ids[0, n) as UTF-8, U+FFFD per bad byte. */
static void sb_put_bytes(struct sbuf *b, const struct spm_model *m, const int32_t *ids, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t w[4];
		size_t n_w = 0;
		while (n_w < 4 && i + n_w < n)
			w[n_w] = (uint8_t)spm_piece_to_byte(m->pieces.tokens[ids[i + n_w]]), n_w++;
		size_t k = spm_valid_char_len(w, n_w);
		sbuf_put(b, k ? (const char *)w : "\xef\xbf\xbd", k ? k : 3);
		i += k ? k : 1;
	}
}

/* SentencePieceProcessor::Decode of pieces ids[0, n) (piece id space). */
static void sp_decode(struct sbuf *b, const struct spm_model *m, const int32_t *ids, size_t n)
{
	size_t base = b->n, byte_start = 0;
	int is_bos_ws = 1, bos_ws_seen = 0;
	for (size_t i = 0; i < n; i++) {
		int type = m->types[ids[i]];
		const char *piece = m->pieces.tokens[ids[i]];
		if (type == SPM_PIECE_BYTE)
			continue;
		sb_put_bytes(b, m, ids + byte_start, i - byte_start);
		byte_start = i + 1;
		if (bos_ws_seen || b->n > base)
			is_bos_ws = 0;
		bos_ws_seen = 0;
		if (type == SPM_PIECE_CONTROL)
			continue;
		if (type == SPM_PIECE_UNKNOWN) {
			sbuf_put(b, m->unk_surface, strlen(m->unk_surface));
			continue;
		}
		if (is_bos_ws && (m->add_dummy_prefix || m->remove_extra_whitespaces) &&
		    starts_with_space(piece, strlen(piece))) {
			piece += 3;
			bos_ws_seen = !m->remove_extra_whitespaces;
		}
		sb_put_unescaped(b, piece);
	}
	sb_put_bytes(b, m, ids + byte_start, n - byte_start);
}

/* .strip() then clean_up_tokenization(); the new length. */
static size_t strip_and_clean(char *s, size_t n)
{
	size_t from = 0, to = n;
	int32_t cp;
	while (from < to) {
		size_t k = next_cp(s + from, to - from, &cp);
		if (cp < 0 || !py_isspace(cp))
			break;
		from += k;
	}
	while (to > from) {
		size_t b = prev_cp_start(s, from, to);
		next_cp(s + b, to - b, &cp);
		if (cp < 0 || !py_isspace(cp))
			break;
		to = b;
	}
	n = to - from;
	memmove(s, s + from, n);
	return tokenizer_clean_up_spaces(s, n);
}

static int is_special(const struct spm_impl *im, int32_t id)
{
	for (int i = 0; i < N_SPECIALS; i++)
		if (im->specials[i].id >= 0 && im->specials[i].id == id)
			return 1;
	/* DeBERTa-v3's added [MASK] follows the pieces */
	return im->opts.flavour == SPM_DEBERTA_V2 && id >= im->m.pieces.n_tokens;
}

/*
 * ops->decode: PreTrainedTokenizer._decode with the class's
 * convert_tokens_to_string (ALBERT: sentencepiece's decode between special
 * tokens, which stay literal and get a space before them; XLM-R: join,
 * U+2581 -> ' '), .strip(), then clean_up_tokenization (both fixture
 * configurations set clean_up_tokenization_spaces). Any thread.
 */
static int spm_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids,
                      int skip_special_tokens, char *out, size_t n_out, char *err, size_t n_err)
{
	const struct spm_impl *im = t->impl;
	struct sbuf b = {NULL, 0, 0, 0};
	int32_t *kept = NULL;
	size_t n_kept = 0, run = 0;
	int rc = 0, prev_special = 0;

	kept = malloc((n_ids ? n_ids : 1) * sizeof(*kept));
	rc = kept == NULL ? STATUS_ENOMEM : 0;
	if (rc != 0)
		goto fail;
	for (size_t i = 0; i < n_ids; i++) {
		if (!skip_special_tokens || !is_special(im, ids[i]))
			kept[n_kept++] = ids[i];
	}
	for (size_t i = 0; i < n_kept; i++) {
		const char *tok = t->vocab.tokens[kept[i]];
		if (im->opts.flavour == SPM_XLM_ROBERTA) {
			sb_put_unescaped(&b, tok);
		} else if (is_special(im, kept[i])) {
			if (!prev_special)
				sbuf_put(&b, " ", 1);
			sp_decode(&b, &im->m, kept + run, i - run);
			sbuf_put(&b, tok, strlen(tok));
			prev_special = 1;
			run = i + 1;
		} else {
			prev_special = 0;
		}
	}
	if (im->opts.flavour != SPM_XLM_ROBERTA)
		sp_decode(&b, &im->m, kept + run, n_kept - run);
	sbuf_put(&b, "", 0);
	rc = b.oom ? STATUS_ENOMEM : 0;
	if (rc != 0)
		goto fail;
	size_t len = strip_and_clean(b.s, b.n);
	if (len >= INT32_MAX) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "decoded text too long");
		goto fail;
	}
	if (out != NULL && n_out > 0) {
		size_t k = len < n_out - 1 ? len : n_out - 1;
		memcpy(out, b.s, k);
		out[k] = '\0';
	}
	free(b.s);
	free(kept);
	return (int)len;

fail:
	if (rc == STATUS_ENOMEM)
		status_fail(err, n_err, rc, "out of memory decoding");
	free(b.s);
	free(kept);
	if (out != NULL && n_out > 0)
		out[0] = '\0';
	return rc;
}

/* --- create ------------------------------------------------------------ */

static void spm_destroy(struct tokenizer *t)
{
	struct spm_impl *im = t->impl;
	if (im != NULL)
		spm_model_dispose(&im->m);
	free(im);
	t->impl = NULL;
}

static const struct tokenizer_ops spm_ops = {
    .name = "sentencepiece",
    .pieces = spm_pieces,
    .destroy = spm_destroy,
    .decode = spm_decode,
};

/* The vocabulary in the flavour's id space, and its special tokens. */
static int build_vocab(struct tokenizer *t, struct spm_impl *im, char *err, size_t n_err)
{
	static const char *const names[3][N_SPECIALS] = {
	    {"[CLS]", "[SEP]", "<pad>", "<unk>", "[MASK]"},
	    {"<s>", "</s>", "<pad>", "<unk>", "<mask>"},
	    {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"},
	};
	const struct spm_model *m = &im->m;
	int xlmr = im->opts.flavour == SPM_XLM_ROBERTA;
	int32_t n = m->pieces.n_tokens;
	int rc = 0;
	if (xlmr && n < 3)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "sentencepiece model: %d pieces, XLM-R needs <unk> <s> </s>",
		                   (int)n);
	for (int i = 0; xlmr && i < 4 && rc == 0; i++) {
		static const char *const fairseq[4] = {"<s>", "<pad>", "</s>", "<unk>"};
		rc = vocab_add(&t->vocab, fairseq[i], strlen(fairseq[i]));
	}
	for (int32_t id = xlmr ? 3 : 0; id < n && rc == 0; id++)
		rc = vocab_add(&t->vocab, m->pieces.tokens[id], strlen(m->pieces.tokens[id]));
	if (xlmr && rc == 0)
		rc = vocab_add(&t->vocab, "<mask>", 6);
	if (rc != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory building the vocab");
	int deberta = im->opts.flavour == SPM_DEBERTA_V2;
	for (int i = 0; i < N_SPECIALS; i++) {
		struct spm_special *sp = &im->specials[i];
		sp->s = names[deberta ? 2 : xlmr][i];
		sp->n = strlen(sp->s);
		sp->lstrip = 1;
		/* ALBERT's, XLM-R's mask: AddedToken(lstrip=True, rstrip=False) */
		sp->rstrip = i != 4 || deberta;
		if (xlmr)
			sp->id = i == 4 ? n + 1 : (int32_t[]){0, 2, 1, 3}[i];
		else
			sp->id = spm_model_find(m, sp->s, sp->n);
	}
	t->cls_id = im->specials[0].id;
	t->sep_id = im->specials[1].id;
	t->pad_id = im->specials[2].id;
	t->unk_id = xlmr ? 3 : m->unk_id;
	t->mask_id = im->specials[4].id;
	return 0;
}

int sentencepiece_create(const uint8_t *model, size_t n_model,
                         const struct sentencepiece_opts *opts, struct tokenizer **out, char *err,
                         size_t n_err)
{
	static const struct sentencepiece_opts defaults = {SPM_ALBERT, 1, 1, 0};
	struct tokenizer *t = NULL;
	struct spm_impl *im = NULL;
	int rc;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (opts->flavour != SPM_ALBERT && opts->flavour != SPM_XLM_ROBERTA &&
	    opts->flavour != SPM_DEBERTA_V2) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "unknown sentencepiece flavour %d",
		                 (int)opts->flavour);
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	im = calloc(1, sizeof(*im));
	if (t == NULL || im == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	im->opts = *opts;
	if (model == NULL)
		n_model = 0;
	if ((rc = spm_model_parse(&im->m, model, n_model, err, n_err)) != 0)
		goto fail;
	t->ops = &spm_ops;
	t->impl = im;
	im = NULL;
	if ((rc = build_vocab(t, t->impl, err, n_err)) != 0)
		goto fail;
	t->template_kind = opts->flavour == SPM_XLM_ROBERTA ? TEMPLATE_ROBERTA : TEMPLATE_BERT;
	t->model_max_length = 0;
	*out = t;
	return 0;

fail:
	if (t != NULL)
		tokenizer_destroy(t);
	free(im);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text on its way through a tokenizer.json pipeline, with Hugging Face
 * tokenizers' alignment rules (tokenizer/normalizer.rs, NormalizedString):
 * every byte of the normalized text carries the byte span [from, to) of the
 * original input it stands for, and a transformation is a list of
 * (character, change) pairs applied by ntext_transform exactly as
 * transform_range does it, so offsets come out as Hugging Face's do, quirks
 * included (a removed character's span is dropped, an inserted one takes
 * the span of the character before it).
 *
 * A text is one buffer shared by all the pieces ("splits") of one input;
 * a transformation appends the new bytes of one piece at the end, the old
 * bytes become garbage until the call ends. Everything here is per call:
 * no shared state, any thread.
 */
#ifndef SMOLSERVE_CORE_TOKENIZE_NTEXT_H
#define SMOLSERVE_CORE_TOKENIZE_NTEXT_H

#include <stddef.h>
#include <stdint.h>

struct ntext {
	char *s;       /* (cap) owned */
	int32_t *from; /* (cap) owned: original span of each byte */
	int32_t *to;   /* (cap) owned */
	size_t n, cap;
};

/* A piece of the text: bytes [at, at + n) of the buffer. shift is Hugging
 * Face's original_shift (where the piece starts in the input; spans that a
 * transformation invents at the start of a piece are [shift, shift)). id is
 * the added token's id for a piece matched as one, -1 for text. */
struct nsplit {
	size_t at, n;
	int32_t shift;
	int32_t id;
};

/* One character of a transformation: change 0 replaces the next original
 * character, 1 inserts, -k replaces the next one and removes k more. */
struct nchange {
	int32_t cp;
	int32_t change;
};

/* A growable array of changes, reused between calls. */
struct nchanges {
	struct nchange *v; /* (cap) owned */
	size_t n, cap;
};

void ntext_init(struct ntext *t);
void ntext_dispose(struct ntext *t);
/* Room for n_more bytes. 0 or STATUS_ENOMEM. */
int ntext_reserve(struct ntext *t, size_t n_more);
/* Appends the input text itself, each character spanning its own bytes
 * (shifted by base). 0 or STATUS_ENOMEM. */
int ntext_push_original(struct ntext *t, const char *s, size_t n, int32_t base);
/* Appends n bytes, all with the span [from, to). 0 or STATUS_ENOMEM. */
int ntext_push(struct ntext *t, const char *s, size_t n, int32_t from, int32_t to);

void nchanges_dispose(struct nchanges *c);
/* Appends (cp, change). 0 or STATUS_ENOMEM. */
int nchanges_push(struct nchanges *c, int32_t cp, int32_t change);

/*
 * Applies changes to split sp (transform_range over the whole piece):
 * initial_offset characters are removed from its start first. The new bytes
 * are appended to t and sp is moved onto them. 0, STATUS_ENOMEM, or
 * STATUS_ETOKENIZER when the changes consume more characters than the piece
 * has (where Hugging Face would panic).
 */
int ntext_transform(struct ntext *t, struct nsplit *sp, const struct nchanges *c,
                    size_t initial_offset);

/* The original span of normalized bytes [a, b) of split sp (convert_offsets
 * Normalized -> Original, relative to the input): an empty range stays
 * [shift + a, shift + b), a range past the piece (BPE byte fallback with a
 * prefix can make one) is [a, b) as given, as in into_encoding. */
void ntext_span(const struct ntext *t, const struct nsplit *sp, size_t a, size_t b, int32_t *start,
                int32_t *stop);

/* The sub-piece [a, b) of sp (slice), its shift from its first byte. */
struct nsplit ntext_slice(const struct ntext *t, const struct nsplit *sp, size_t a, size_t b);

/* A growable NUL-terminated string whose failure sticks: after a failed
 * allocation oom is set and every later put does nothing. */
struct sbuf {
	char *s; /* (cap) owned */
	size_t n, cap;
	int oom;
};
void sbuf_put(struct sbuf *b, const char *s, size_t n);

/* --- UTF-8 and character classes (Rust's char methods) ------------------ */

/* Decodes the character at s[0, n) of valid UTF-8; *len gets its length. */
int32_t utf8_cp(const char *s, size_t n, size_t *len);

/* Encodes cp into p (room for 4); its length. */
int utf8_encode(int32_t cp, char *p);
/* Length of cp in UTF-8. */
int utf8_len(int32_t cp);
/* Number of characters in s[0, n). */
size_t utf8_count(const char *s, size_t n);

int cp_is_whitespace(int32_t cp);  /* White_Space (char::is_whitespace) */
int cp_is_punctuation(int32_t cp); /* ASCII punctuation or P* */
int cp_is_numeric(int32_t cp);     /* Nd, Nl, No (char::is_numeric) */
int cp_is_control(int32_t cp);     /* C* (unicode_categories is_other) */
int cp_is_mark(int32_t cp);        /* M* (is_combining_mark) */
int cp_is_word(int32_t cp);        /* \w: Alphabetic, M, Nd, Pc, Join_Control */
/* Rust's char::to_lowercase into out (room for 3); how many. */
int cp_lower(int32_t cp, int32_t out[3]);
/* The primary composite of a + b (NFC, composition exclusions honoured):
 * 1 and *out, or 0 if there is none. */
int cp_compose(int32_t a, int32_t b, int32_t *out);

#endif

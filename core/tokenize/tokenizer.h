/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokenizer interface every model uses: text in, token ids with byte
 * offsets out, special-token templates, pairs and truncation. One concrete
 * tokenizer per algorithm (WordPiece, SentencePiece, byte-level BPE) sits
 * behind a table of function pointers, so special tokens written in the
 * text, encoding, templates and truncation are written once here; a
 * tokenizer.json pipeline (pipeline.h) brings its own through ops->encode.
 *
 * A tokenizer is built once (by models/tokenizer_load.c from a Hugging Face
 * folder), then is read-only: any number of threads may encode with it at
 * once. An encoding is caller-owned scratch that is reused between calls.
 */
#ifndef SMOLSERVE_CORE_TOKENIZER_H
#define SMOLSERVE_CORE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum truncation_side { TRUNCATION_RIGHT = 0, TRUNCATION_LEFT = 1 };

/* One token's place in the input: byte offsets [start, stop) into the
 * original UTF-8 text of sequence `seq` (0 = first text, 1 = pair text);
 * special tokens have seq = -1 and start = stop = -1. */
struct encoding {
	int32_t *ids;      /* (n) owned */
	int32_t *type_ids; /* (n) owned: token_type_ids */
	int32_t *starts;   /* (n) owned */
	int32_t *stops;    /* (n) owned */
	int8_t *seq;       /* (n) owned */
	uint8_t *special;  /* (n) owned: 1 for template specials */
	int32_t n;
	int32_t cap;
	int32_t n_untruncated; /* length with specials before truncation */
	int truncated;         /* 1 if tokens were removed */
};

struct encode_opts {
	int add_special_tokens;    /* 1: [CLS] a [SEP] (b [SEP]) */
	int32_t max_length;        /* limit with specials; 0 = none */
	int truncate;              /* 0: too long is STATUS_ETOOLONG */
	enum truncation_side side; /* which end loses tokens */
};

struct tokenizer;

/* The per-algorithm part. `pieces` appends the word-level tokens of one
 * text (no specials) to out: ids, starts, stops only (the caller fills the
 * rest). Must be thread-safe on a const tokenizer. When the tokenizer has
 * added tokens (below), pieces is called once per stretch of text between
 * them, with offsets relative to that stretch. */
struct tokenizer_ops {
	const char *name; /* "wordpiece", ... */
	int (*pieces)(const struct tokenizer *t, const char *text, size_t n_text,
	              struct encoding *out, char *err, size_t n_err);
	void (*destroy)(struct tokenizer *t);
	/*
	 * Optional: ids -> text for this algorithm (SentencePiece's U+2581,
	 * byte-level BPE's byte alphabet). Same contract as tokenizer_decode,
	 * which calls it only with ids it has checked to be in the vocabulary;
	 * NULL means WordPiece's "##" joining.
	 */
	int (*decode)(const struct tokenizer *t, const int32_t *ids, size_t n_ids,
	              int skip_special_tokens, char *out, size_t n_out, char *err, size_t n_err);
	/*
	 * Optional: the whole of tokenizer_encode for a tokenizer with its own
	 * rules for special tokens, truncation and templates (tokenizer.json's
	 * pipeline); called after tokenizer_encode has checked the input, with
	 * out reset. Then pieces may be NULL.
	 */
	int (*encode)(const struct tokenizer *t, const char *text, size_t n_text, const char *pair,
	              size_t n_pair, const struct encode_opts *opts, struct encoding *out,
	              char *err, size_t n_err);
	/*
	 * Optional: the string of an id in [0, vocab.n_tokens) when it is not
	 * the vocab's (tokenizer.json's normalized added tokens). Borrowed.
	 */
	const char *(*id_to_token)(const struct tokenizer *t, int32_t id);
};

/* How specials wrap one text or a pair. */
enum template_kind {
	TEMPLATE_BERT = 0, /* [CLS] A [SEP] (B [SEP]); type ids 0 then 1 */
	TEMPLATE_ROBERTA,  /* <s> A </s> (</s> B </s>); type ids all 0 */
};

/*
 * A special token written literally in the text. tokenizer_encode splits
 * these out before ops->pieces runs, as the slow tokenizers' added-tokens
 * trie does (leftmost, longest), and maps each to id. lstrip: the token
 * eats the whitespace before it, rstrip: after it (AddedToken flags; a
 * special given as a plain string strips both sides, as transformers v4.31).
 */
struct added_token {
	char *text; /* owned, NUL-terminated, valid UTF-8, not empty */
	size_t n_text;
	int32_t id;
	uint8_t lstrip, rstrip;
};

/* Vocabulary: id -> token string and string -> id (open hash). */
struct vocab {
	char **tokens; /* (n_tokens) owned, NUL-terminated */
	int32_t n_tokens;
	int32_t *slots;      /* (n_slots) owned: id or -1 */
	uint32_t n_slots;    /* power of two */
	int32_t n_unindexed; /* the last ones: id -> string only (tokenizer.json's
	                      * added tokens beyond the model), never found */
};

/* Every creator allocates this zeroed (calloc): fields added later stay 0. */
struct tokenizer {
	const struct tokenizer_ops *ops;
	struct vocab vocab;
	int32_t cls_id, sep_id, pad_id, unk_id, mask_id; /* -1 if absent */
	int32_t model_max_length;                        /* 0 if unknown */
	enum template_kind template_kind;                /* TEMPLATE_BERT default */
	void *impl;                                      /* owned, algorithm state */
	/* Split out of the text before ops->pieces; none (WordPiece, which
	 * does its own): pieces sees each whole text. */
	struct added_token *added; /* (n_added) owned */
	int32_t n_added;
	/* RobertaTokenizer's add_prefix_space: a text that does not start
	 * with whitespace is encoded as " " + text (offsets still point into
	 * the text; a piece made of that space alone gets [0, 0)). */
	int add_prefix_space;
	/* Borrowed static string: the file the loader read ("tokenizer.json",
	 * "vocab.txt", ...), or NULL. */
	const char *source;
};

/* --- vocab ------------------------------------------------------------ */
/* Adds token with the next id. 0 or STATUS_ENOMEM. Build time only. */
int vocab_add(struct vocab *v, const char *token, size_t n_token);
/* Appends token with the next id for id -> string only: vocab_find never
 * returns it, and no indexed token may follow. 0, STATUS_EINVAL, STATUS_ENOMEM. */
int vocab_add_unindexed(struct vocab *v, const char *token, size_t n_token);
/* id of token or -1. Any thread. */
int32_t vocab_find(const struct vocab *v, const char *token, size_t n_token);
void vocab_dispose(struct vocab *v);

/* --- added tokens ----------------------------------------------------- */
/* Appends a special token to t->added (copied). 0, STATUS_EINVAL (empty or
 * not valid UTF-8), STATUS_ENOMEM. Build time only. */
int tokenizer_add_special(struct tokenizer *t, const char *text, size_t n_text, int32_t id,
                          int lstrip, int rstrip);
/* Empties t->added. Build time only. */
void tokenizer_clear_specials(struct tokenizer *t);
/* 1 if id is one of the special ids or an added token's id. Any thread. */
int tokenizer_is_special_id(const struct tokenizer *t, int32_t id);
/* For encoders: total tokens (n_specials of them special) against
 * opts->max_length. 0 fits, 1 must be truncated, or STATUS_ETOOLONG (not
 * allowed to truncate) / STATUS_EINVAL (the specials alone do not fit)
 * with TEI's wording in err. */
int tokenizer_check_length(const struct encode_opts *opts, int64_t total, int32_t n_specials,
                           char *err, size_t n_err);
/* clean_up_tokenization (transformers v4.31) on s[0, n) in place: " ." ->
 * ".", " n't" -> "n't", ... Returns the new length. Any thread. */
size_t tokenizer_clean_up_spaces(char *s, size_t n);

/* --- encoding --------------------------------------------------------- */
void encoding_init(struct encoding *e);
void encoding_dispose(struct encoding *e);
/* Ensures room for n more tokens. 0 or STATUS_ENOMEM. */
int encoding_reserve(struct encoding *e, int32_t n_more);

/*
 * Encodes text (and pair, if pair != NULL) into out (reset first): added
 * tokens split out, pieces, truncation per opts (longest_first for pairs,
 * one token at a time from the longer, ties from the pair, as Hugging
 * Face's slow tokenizers), then the special-token template (TEMPLATE_BERT
 * [CLS] A [SEP] B [SEP], 3 specials for a pair; TEMPLATE_ROBERTA <s> A
 * </s></s> B </s>, 4, token type ids all 0). text must be valid UTF-8
 * (STATUS_EINVAL if not). Returns 0, STATUS_ETOOLONG (err names length and
 * limit) when the input is longer than opts->max_length and !opts->truncate,
 * or another status.
 */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t n_text, const char *pair,
                     size_t n_pair, const struct encode_opts *opts, struct encoding *out, char *err,
                     size_t n_err);

/* Token string of id (borrowed) or NULL if out of range. */
const char *tokenizer_id_to_token(const struct tokenizer *t, int32_t id);

/*
 * Decodes ids into text the way Hugging Face's slow tokenizer decode does:
 * ops->decode when the algorithm has one, else WordPiece's (join with
 * spaces, "##" glued to the previous piece, then
 * clean_up_tokenization_spaces). Writes at most n_out bytes incl. NUL into
 * out; returns the length needed (excl. NUL) or a negative status for an
 * id out of range.
 */
int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids,
                     int skip_special_tokens, char *out, size_t n_out, char *err, size_t n_err);

void tokenizer_destroy(struct tokenizer *t);

/* 1 if the n bytes are valid UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t n);

/* 1 if the code point is whitespace for Python's str.isspace() (and so
 * for str.split() and str.strip()). Any thread. */
int unicode_is_space(int32_t cp);

#endif

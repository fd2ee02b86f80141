/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface between the parts of the tokenizer.json pipeline:
 * pipeline.c (building, added tokens, encode, truncation), normalizer.c,
 * pretokenizer.c, model.c, postprocessor.c and decoder.c. A built pipeline
 * is read-only; all per-encode state is a struct pl_call on the caller's
 * stack (buffers freed when the call ends), so one tokenizer serves any
 * number of threads at once.
 */
#ifndef SMOLSERVE_CORE_TOKENIZE_PIPELINE_IMPL_H
#define SMOLSERVE_CORE_TOKENIZE_PIPELINE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "bpe-impl.h"
#include "ntext.h"
#include "pattern.h"
#include "pipeline.h"
#include "sentencepiece-impl.h"

struct pl_norm {
	struct norm_cfg cfg; /* its pointers are cleared; the owned copies below */
	char *content;       /* owned: Replace, Prepend */
	struct pattern *pattern;
	struct spm_charsmap charsmap;
};

struct pl_pretok {
	struct pretok_cfg cfg;
	struct pattern *pattern; /* Split, Whitespace, ByteLevel's GPT-2 pattern */
};

struct pl_model {
	enum model_kind kind;
	int32_t n_vocab; /* ids below this are the model's own */
	int32_t unk_id;  /* -1: none */
	int unk_missing; /* an unk_token not in the vocabulary (an error when needed) */
	char *prefix;    /* owned: continuing_subword_prefix, or NULL */
	size_t n_prefix;
	char *suffix; /* owned: end_of_word_suffix (BPE), or NULL */
	size_t n_suffix;
	int32_t max_chars;      /* WordPiece */
	size_t max_token_bytes; /* longest vocabulary entry */
	struct bpe_merges merges;
	int fuse_unk, byte_fallback, ignore_merges;
	int32_t byte_ids[256]; /* "<0xXX>" ids, -1 where missing */
	struct spm_model spm;  /* Unigram */
};

/* One step of post-processing. The structure (special tokens, type ids) is
 * done by at most one Bert/Roberta/Template step; any step may trim
 * offsets (ByteLevel, Roberta). */
#define PL_MAX_TEMPLATE_IDS 4096 /* special token ids one template lays out */

struct pl_piece {
	int is_sequence, seq;
	int32_t type_id;
	const int32_t *ids; /* special: (n_ids), into pl_post.pool */
	size_t n_ids;
};

struct pl_post {
	enum post_kind kind;
	int trim, add_prefix_space;
	struct pl_piece *single, *pair; /* owned */
	size_t n_single, n_pair;
	int32_t *pool; /* owned: the special tokens' ids */
};

struct pl_decoder {
	struct decoder_cfg cfg;
	char *prefix, *suffix, *content, *pad_token, *word_delimiter_token; /* owned */
	struct pattern *pattern;
};

struct pl_added {
	char *content; /* owned */
	size_t n_content;
	char *norm; /* owned: content normalized (normalized tokens) */
	size_t n_norm;
	int32_t id;
	uint8_t special, lstrip, rstrip, normalized, single_word;
	uint8_t renamed; /* a model id whose id -> string is now norm */
};

struct pipeline {
	struct pl_norm *norms;
	size_t n_norms;
	struct pl_pretok *pretoks;
	size_t n_pretoks;
	struct pl_model model;
	struct pl_post *posts;
	size_t n_posts;
	int structure;    /* index of the Bert/Roberta/Template step, -1 */
	int roberta_type; /* a Roberta step: every type id 0 */
	struct pl_decoder *decoders;
	size_t n_decoders;
	struct pl_added *added; /* owned, in trie order (build_added) */
	size_t n_added;
	size_t n_renamed;    /* added tokens with renamed set */
	uint8_t *is_special; /* (vocab size) owned: ids skipped by decode */
	int need_values;     /* some step trims offsets: keep token strings' spaces */
};

/* Tokens of one sequence before post-processing. lead and trail count the
 * leading/trailing 'Ġ' or whitespace characters of each token's string
 * (up to 255), for ByteLevel's offset trimming. */
struct pl_tokens {
	int32_t *ids, *starts, *stops;
	uint8_t *lead, *trail;
	int32_t n, cap;
};

/* One encode call's scratch. */
struct pl_call {
	const struct pipeline *p;
	const struct tokenizer *t;
	struct ntext text;
	struct nsplit *splits, *next; /* (cap), (cap_next) */
	size_t n_splits, n_next, cap, cap_next;
	struct nchanges ch;
	struct nmatches m;
	struct pattern_scratch ps;
	struct bpe_scratch bs;
	struct spm_work sw;
	char *buf; /* WordPiece keys, BPE symbol strings */
	size_t cap_buf;
	uint32_t *bpos;
	size_t cap_bpos;
	struct pl_tokens seq[2];
	char *err;
	size_t n_err;
};

/* --- pipeline.c ------------------------------------------------------------ */
/* Appends a split to c->next. 0 or STATUS_ENOMEM. */
int pl_next_push(struct pl_call *c, struct nsplit sp);
/* Makes c->next the current splits (dropping empty ones). 0 or
 * STATUS_ENOMEM. */
int pl_next_commit(struct pl_call *c);
/* Appends a token of sequence s: id, original span [start, stop), and the
 * string its trimming counts come from (n bytes). 0 or STATUS_ENOMEM. */
int pl_token_push(struct pl_call *c, struct pl_tokens *s, int32_t id, int32_t start, int32_t stop,
                  const char *value, size_t n_value);
/* Room for n bytes in c->buf. 0 or STATUS_ENOMEM. */
int pl_buf_reserve(struct pl_call *c, size_t n);

/* --- normalizer.c ----------------------------------------------------------- */
int pl_norm_build(struct pl_norm *n, const struct norm_cfg *cfg, char *err, size_t n_err);
void pl_norm_dispose(struct pl_norm *n);
/* Normalizes split sp in place (its bytes move to the end of c->text). */
int pl_normalize(struct pl_call *c, const struct pl_norm *norms, size_t n_norms, struct nsplit *sp);
/* NormalizedString::replace of every match in m by content. */
int pl_text_replace(struct ntext *t, struct nsplit *sp, const struct nmatches *m,
                    const char *content, size_t n_content);
/* NormalizedString::prepend of s[0, n) to a non-empty split. */
int pl_text_prepend(struct ntext *t, struct nsplit *sp, struct nchanges *ch, const char *s,
                    size_t n);
/* The normalized form of s[0, n) alone (for normalized added tokens): a
 * malloc'd string in *out. 0 or a status. */
int pl_normalize_string(const struct pl_norm *norms, size_t n_norms, const char *s, size_t n,
                        char **out, size_t *n_out, char *err, size_t n_err);

/* --- pretokenizer.c --------------------------------------------------------- */
int pl_pretok_build(struct pl_pretok *p, const struct pretok_cfg *cfg, char *err, size_t n_err);
void pl_pretok_dispose(struct pl_pretok *p);
/* Applies one pre-tokenizer to every text split of c (splits with an
 * added token's id stay as they are). */
int pl_pretokenize(struct pl_call *c, const struct pl_pretok *pt);

/* --- model.c ------------------------------------------------------------------ */
int pl_model_build(struct pl_model *m, const struct model_cfg *cfg, const struct vocab *v,
                   char *err, size_t n_err);
void pl_model_dispose(struct pl_model *m);
/* Tokenizes text split sp into tokens of s. */
int pl_model_tokenize(struct pl_call *c, const struct nsplit *sp, struct pl_tokens *s);

/* --- postprocessor.c ---------------------------------------------------------- */
int pl_post_build(struct pl_post *p, const struct post_cfg *cfg, char *err, size_t n_err);
void pl_post_dispose(struct pl_post *p);
/* Special tokens the structure step adds (added_tokens(is_pair)). */
int32_t pl_post_added(const struct pipeline *p, int is_pair);
/* ByteLevel's process_offsets on the tokens of s, whose text is
 * text[0, n_text). */
void pl_post_trim(struct pl_tokens *s, int add_prefix_space, const char *text, size_t n_text);
/* Lays out the final encoding: the structure step's template (or A then B),
 * type ids, special tokens. 0 or STATUS_ENOMEM. */
int pl_post_apply(const struct pipeline *p, struct pl_tokens *seq, int has_pair, int add_special,
                  struct encoding *out);

/* --- decoder.c ------------------------------------------------------------------ */
int pl_decoder_build(struct pl_decoder *d, const struct decoder_cfg *cfg, char *err, size_t n_err);
void pl_decoder_dispose(struct pl_decoder *d);
/* Tokenizer::decode: see tokenizer_decode's contract. */
int pl_decode(const struct tokenizer *t, const int32_t *ids, size_t n_ids, int skip_special,
              char *out, size_t n_out, char *err, size_t n_err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tokenizer described the way Hugging Face tokenizers' tokenizer.json
 * describes one: added tokens, normalizers, pre-tokenizers, one model
 * (WordPiece, BPE or Unigram), post-processors and decoders, each a plain
 * C configuration struct. models/tokenizer_json.c fills these from the JSON
 * (core knows no JSON); pipeline_create builds a struct tokenizer from them
 * that encodes and decodes exactly as that library (npm tokenizers 0.23.2,
 * the one text-embeddings-inference uses): ids, type ids, byte offsets,
 * truncation and templates.
 *
 * The models are the machines the classic files use too: WordPiece's greedy
 * longest match (wordpiece.c), the BPE merge engine (bpe.c) and the unigram
 * Viterbi (sentencepiece_encode.c), configured here instead of by vocab.txt,
 * merges.txt or a SentencePiece model file.
 *
 * All pointers in the configuration are borrowed for the duration of
 * pipeline_create (which copies what it keeps), except model.vocab, which
 * it takes over. Strings are NUL-terminated UTF-8.
 */
#ifndef SMOLSERVE_CORE_TOKENIZE_PIPELINE_H
#define SMOLSERVE_CORE_TOKENIZE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "pattern.h"
#include "tokenizer.h"

/* --- normalizers -------------------------------------------------------- */

enum norm_kind {
	NORM_BERT = 0, /* BertNormalizer */
	NORM_NFC,      /* NFC, NFD, NFKC, NFKD */
	NORM_NFD,
	NORM_NFKC,
	NORM_NFKD,
	NORM_LOWERCASE,     /* Lowercase */
	NORM_STRIP_ACCENTS, /* StripAccents: drop combining marks */
	NORM_STRIP,         /* Strip */
	NORM_REPLACE,       /* Replace */
	NORM_PREPEND,       /* Prepend */
	NORM_PRECOMPILED,   /* Precompiled (a SentencePiece charsmap) */
	NORM_NMT,           /* Nmt */
};

struct norm_cfg {
	enum norm_kind kind;
	int clean_text, handle_chinese_chars, lowercase; /* BertNormalizer */
	int strip_accents;                               /* -1: same as lowercase */
	int strip_left, strip_right;                     /* Strip */
	const char *pattern;                             /* Replace */
	int pattern_is_regex;
	const char *content;     /* Replace, Prepend */
	const uint8_t *charsmap; /* Precompiled (decoded from base64) */
	size_t n_charsmap;
};

/* --- pre-tokenizers ----------------------------------------------------- */

enum pretok_kind {
	PRETOK_BERT = 0,         /* BertPreTokenizer */
	PRETOK_BYTE_LEVEL,       /* ByteLevel */
	PRETOK_METASPACE,        /* Metaspace */
	PRETOK_WHITESPACE,       /* Whitespace: \w+|[^\w\s]+ */
	PRETOK_WHITESPACE_SPLIT, /* WhitespaceSplit */
	PRETOK_PUNCTUATION,      /* Punctuation */
	PRETOK_DIGITS,           /* Digits */
	PRETOK_SPLIT,            /* Split */
};

enum prepend_scheme { PREPEND_ALWAYS = 0, PREPEND_FIRST, PREPEND_NEVER };

struct pretok_cfg {
	enum pretok_kind kind;
	int add_prefix_space, trim_offsets, use_regex; /* ByteLevel */
	int32_t replacement;                           /* Metaspace: one character */
	enum prepend_scheme prepend_scheme;
	int split;
	int individual_digits;        /* Digits */
	enum split_behavior behavior; /* Split, Punctuation */
	int invert;                   /* Split */
	const char *pattern;          /* Split */
	int pattern_is_regex;
};

/* --- model --------------------------------------------------------------- */

enum model_kind { MODEL_WORDPIECE = 0, MODEL_BPE, MODEL_UNIGRAM };

struct merge_pair {
	const char *a, *b;
};

struct model_cfg {
	enum model_kind kind;
	struct vocab *vocab; /* tokens in id order; taken over (also on failure) */
	/* WordPiece, BPE: the unknown token (NULL: none) */
	const char *unk_token;
	const char *continuing_subword_prefix; /* NULL: none */
	int32_t max_input_chars_per_word;      /* WordPiece */
	const char *end_of_word_suffix;        /* BPE; NULL: none */
	const struct merge_pair *merges;       /* BPE: (n_merges) in rank order */
	size_t n_merges;
	int fuse_unk, byte_fallback, ignore_merges; /* BPE (byte_fallback: Unigram too) */
	const double *scores;                       /* Unigram: one per vocab entry */
	int32_t unk_id;                             /* Unigram: -1 if none */
};

/* --- post-processors ------------------------------------------------------ */

enum post_kind { POST_BERT = 0, POST_ROBERTA, POST_TEMPLATE, POST_BYTE_LEVEL };

/* One piece of a template: a sequence (A = 0, B = 1) or a special token
 * named by special (an entry of post_cfg.specials), each with its type id. */
struct template_piece {
	int is_sequence;
	int seq;
	const char *special;
	int32_t type_id;
};

/* TemplateProcessing's special_tokens entry: a name and its ids. */
struct template_special {
	const char *name;
	const int32_t *ids; /* (n_ids) */
	size_t n_ids;
};

struct post_cfg {
	enum post_kind kind;
	int32_t cls_id, sep_id;             /* Bert, Roberta */
	int trim_offsets, add_prefix_space; /* Roberta, ByteLevel */
	const struct template_piece *single, *pair;
	size_t n_single, n_pair;
	const struct template_special *specials;
	size_t n_specials;
};

/* --- decoders ------------------------------------------------------------ */

enum decoder_kind {
	DECODER_WORDPIECE = 0,
	DECODER_BYTE_LEVEL,
	DECODER_METASPACE,
	DECODER_BPE,
	DECODER_BYTE_FALLBACK,
	DECODER_FUSE,
	DECODER_STRIP,
	DECODER_REPLACE,
	DECODER_CTC,
};

struct decoder_cfg {
	enum decoder_kind kind;
	const char *prefix;  /* WordPiece */
	int cleanup;         /* WordPiece, CTC */
	int32_t replacement; /* Metaspace */
	enum prepend_scheme prepend_scheme;
	const char *suffix; /* BPEDecoder */
	int32_t strip_char; /* Strip: content */
	size_t start, stop;
	const char *pattern; /* Replace */
	int pattern_is_regex;
	const char *content;
	const char *pad_token, *word_delimiter_token; /* CTC */
};

/* --- added tokens and the whole --------------------------------------- */

struct added_cfg {
	const char *content;
	int32_t id;
	int special, lstrip, rstrip, normalized, single_word;
};

struct pipeline_cfg {
	const struct norm_cfg *norms; /* applied in order (a Sequence, flattened) */
	size_t n_norms;
	const struct pretok_cfg *pretoks;
	size_t n_pretoks;
	struct model_cfg model;
	const struct post_cfg *posts; /* none: no special tokens at all */
	size_t n_posts;
	const struct decoder_cfg *decoders; /* none: tokens joined by " " */
	size_t n_decoders;
	const struct added_cfg *added;
	size_t n_added;
	/* The special tokens the rest of smolserve asks for by role (the mask
	 * for fill-mask, the pad): token strings or NULL to guess from the
	 * added tokens. */
	const char *mask_token, *pad_token;
	int32_t model_max_length; /* 0 if unknown */
};

/*
 * Builds the tokenizer. 0 and *out (owned, tokenizer_destroy), or
 * STATUS_EFORMAT / STATUS_EUNSUPPORTED with err naming the component (a
 * merge whose tokens are not in the vocabulary, a bad regex, a template
 * naming a special token it does not define, ...), or STATUS_ENOMEM.
 * ops->name is "wordpiece", "bpe" or "unigram". Build time, any thread.
 */
int pipeline_create(const struct pipeline_cfg *cfg, struct tokenizer **out, char *err,
                    size_t n_err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SentencePiece tokenizers read from the model file itself (spiece.model,
 * sentencepiece.bpe.model: a protobuf ModelProto): its pieces and scores,
 * its normaliser (the precompiled character map, dummy prefix, whitespace
 * handling) and its algorithm (unigram Viterbi or BPE merges), wrapped with
 * the Hugging Face tokenizer class that uses it (AlbertTokenizer's
 * preprocessing and ids; XLMRobertaTokenizer's fairseq id offset).
 */
#ifndef SMOLSERVE_CORE_SENTENCEPIECE_H
#define SMOLSERVE_CORE_SENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

enum sentencepiece_flavour {
	SPM_ALBERT = 0,  /* AlbertTokenizer: ids = piece ids; [CLS] A [SEP] */
	SPM_XLM_ROBERTA, /* XLMRobertaTokenizer: fairseq ids; <s> A </s></s> B </s> */
	SPM_DEBERTA_V2,  /* DebertaV2Tokenizer: piece ids, no preprocessing; [CLS] A [SEP] */
};

struct sentencepiece_opts {
	enum sentencepiece_flavour flavour;
	int do_lower_case; /* ALBERT: default 1; DeBERTa-v2: default 0 */
	int remove_space;  /* ALBERT: default 1 */
	int keep_accents;  /* ALBERT: default 0 */
};

/*
 * Notes for callers (additions; the declarations above are unchanged):
 * - opts may be NULL: {SPM_ALBERT, 1, 1, 0}, AlbertTokenizer's defaults.
 *   SPM_XLM_ROBERTA ignores do_lower_case, remove_space and keep_accents;
 *   SPM_DEBERTA_V2 ignores remove_space and keep_accents.
 * - SPM_DEBERTA_V2: [CLS] [SEP] [PAD] [UNK] [MASK] (plain strings: each
 *   strips the whitespace on both sides); ids at or beyond the model's
 *   pieces (an added "[MASK]") decode as special tokens.
 * - The special tokens are the classes' defaults, looked up in the model:
 *   ALBERT [CLS] [SEP] <pad> <unk> [MASK] (ids of those pieces, -1 if
 *   absent); XLM-R <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=n_pieces+1. They are
 *   split out of the text as the slow tokenizer does (the mask token eats
 *   the whitespace before it, the others the whitespace on both sides).
 * - ops->name is "sentencepiece"; ops->decode is set; model_max_length is
 *   left 0 for the caller to fill.
 */

/*
 * Builds a tokenizer from the n_model bytes of a SentencePiece model file
 * (copied; the caller may free them). Fills the vocabulary in the model's
 * id space for the flavour, the special ids, template_kind and the ops
 * (pieces with byte offsets into the original text, decode, destroy).
 * 0, or STATUS_EFORMAT (malformed protobuf: err says where), STATUS_EUNSUPPORTED
 * (a model type or feature not implemented), STATUS_ENOMEM.
 */
int sentencepiece_create(const uint8_t *model, size_t n_model,
                         const struct sentencepiece_opts *opts, struct tokenizer **out, char *err,
                         size_t n_err);

#endif

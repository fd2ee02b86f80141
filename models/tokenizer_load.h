/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builds the tokenizer of a Hugging Face model folder: from tokenizer.json
 * (tokenizer_json.h) when present, else from the classic files
 * save_pretrained writes, with tokenizer_config.json and
 * special_tokens_map.json: vocab.txt for WordPiece (BertTokenizer,
 * DistilBertTokenizer, ElectraTokenizer, MobileBertTokenizer, ...),
 * vocab.json + merges.txt for byte-level BPE (RobertaTokenizer),
 * spiece.model (AlbertTokenizer) and sentencepiece.bpe.model
 * (XLMRobertaTokenizer) for SentencePiece.
 */
#ifndef SMOLSERVE_MODELS_TOKENIZER_LOAD_H
#define SMOLSERVE_MODELS_TOKENIZER_LOAD_H

#include <stddef.h>

#include "tokenizer.h"

/* Which files a folder's tokenizer is read from. */
enum tokenizer_source {
	TOKENIZER_SOURCE_AUTO = 0, /* tokenizer.json when present, else the classic files */
	TOKENIZER_SOURCE_JSON,     /* tokenizer.json only */
	TOKENIZER_SOURCE_CLASSIC,  /* vocab.txt, vocab.json + merges.txt, *.model only */
};

/*
 * Loads the tokenizer in folder dir from the files source says. 0 and *out
 * (owned by the caller, tokenizer_destroy; (*out)->source names the file)
 * or: STATUS_EIO (no tokenizer files, or not the ones tokenizer_class
 * needs: err lists what it looked for), STATUS_EFORMAT (a file is
 * malformed: err names file and line/field or component),
 * STATUS_EUNSUPPORTED (a tokenizer kind, component or option smolserve
 * does not read yet), STATUS_ENOMEM.
 */
int tokenizer_load_from(const char *dir, enum tokenizer_source source, struct tokenizer **out,
                        char *err, size_t n_err);

/* tokenizer_load_from with TOKENIZER_SOURCE_AUTO. */
int tokenizer_load(const char *dir, struct tokenizer **out, char *err, size_t n_err);

/* "auto", "tokenizer.json", "classic" -> *out. 0 or STATUS_EINVAL. */
int tokenizer_source_parse(const char *s, enum tokenizer_source *out);

/* vocab.json's text (an object token -> id, ids exactly 0..n-1) into v in
 * id order. 0, STATUS_EFORMAT (err says where), STATUS_ENOMEM. */
int vocab_from_json(const char *text, size_t n, struct vocab *v, char *err, size_t n_err);

/* bpe_create from the texts of vocab.json and merges.txt. */
#include "bpe.h"
int bpe_create_from_json(const char *vocab_json, size_t n_vocab_json, const char *merges,
                         size_t n_merges, const struct bpe_opts *opts, struct tokenizer **out,
                         char *err, size_t n_err);

#endif

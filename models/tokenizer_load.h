/*
 * Builds the tokenizer of a Hugging Face model folder from the classic files
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

/*
 * Loads the tokenizer in folder dir. 0 and *out (owned by the caller,
 * tokenizer_destroy) or: STATUS_EIO (no tokenizer files, or not the ones
 * tokenizer_class needs: err lists what it looked for), STATUS_EFORMAT (a
 * file is malformed: err names file and line/field), STATUS_EUNSUPPORTED (a
 * tokenizer kind or option smolserve does not read yet), STATUS_ENOMEM.
 */
int tokenizer_load(const char *dir, struct tokenizer **out, char *err, size_t n_err);

/* vocab.json's text (an object token -> id, ids exactly 0..n-1) into v in
 * id order. 0, STATUS_EFORMAT (err says where), STATUS_ENOMEM. */
int vocab_from_json(const char *text, size_t n, struct vocab *v, char *err, size_t n_err);

/* The same from a parsed object (vocab.json's, or tokenizer.json's
 * model.vocab); file names it in errors. On failure v is disposed. */
#include <jansson.h>
int vocab_from_object(const json_t *obj, struct vocab *v, const char *file, char *err,
                      size_t n_err);

/* bpe_create from the texts of vocab.json and merges.txt. */
#include "bpe.h"
int bpe_create_from_json(const char *vocab_json, size_t n_vocab_json, const char *merges,
                         size_t n_merges, const struct bpe_opts *opts, struct tokenizer **out,
                         char *err, size_t n_err);

#endif

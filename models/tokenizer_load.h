/*
 * Builds the tokenizer of a Hugging Face model folder from the classic files
 * save_pretrained writes: vocab.txt + tokenizer_config.json (+
 * special_tokens_map.json) for WordPiece (BertTokenizer, DistilBertTokenizer,
 * ElectraTokenizer, ...).
 */
#ifndef SMOLSERVE_MODELS_TOKENIZER_LOAD_H
#define SMOLSERVE_MODELS_TOKENIZER_LOAD_H

#include <stddef.h>

#include "tokenizer.h"

/*
 * Loads the tokenizer in folder dir. 0 and *out (owned by the caller,
 * tokenizer_destroy) or: STATUS_EIO (no tokenizer files: err lists what it
 * looked for), STATUS_EFORMAT (a file is malformed: err names file and
 * line/field), STATUS_EUNSUPPORTED (a tokenizer kind smolserve does not
 * read yet), STATUS_ENOMEM.
 */
int tokenizer_load(const char *dir, struct tokenizer **out, char *err, size_t n_err);

#endif

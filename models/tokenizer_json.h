/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hugging Face tokenizers' tokenizer.json, read into a tokenizer.json
 * pipeline (core/tokenize/pipeline.h). See tokenizer_json.c for the format
 * accepted; models/tokenizer_load.c decides when it is read.
 */
#ifndef SMOLSERVE_MODELS_TOKENIZER_JSON_H
#define SMOLSERVE_MODELS_TOKENIZER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* What the folder's other files add (tokenizer_config.json and
 * special_tokens_map.json, as transformers' fast tokenizers read them):
 * the mask and pad tokens by name (NULL: guessed from the added tokens)
 * and model_max_length (0: tokenizer.json's truncation.max_length, if any).
 * Borrowed. */
struct tokenizer_json_hints {
	const char *mask_token, *pad_token;
	int32_t model_max_length;
};

/*
 * Builds the tokenizer described by the n bytes of text (tokenizer.json's
 * contents). 0 and *out (owned), STATUS_EFORMAT (malformed: err says
 * "tokenizer.json: <component>: <what>", or the JSON line), STATUS_EUNSUPPORTED
 * (a component type smolserve does not run, named), STATUS_ENOMEM. Any
 * thread.
 */
int tokenizer_json_build(const char *text, size_t n, const struct tokenizer_json_hints *hints,
                         struct tokenizer **out, char *err, size_t n_err);

/* The same from the file already parsed (borrowed; the tokenizer keeps
 * nothing of it). */
#include <jansson.h>
int tokenizer_json_build_parsed(const json_t *root, const struct tokenizer_json_hints *hints,
                                struct tokenizer **out, char *err, size_t n_err);

/* vocab.json's object token -> id (ids exactly 0..n-1) into v in id order,
 * shared with tokenizer_files.c; file names it in errors. On failure v is
 * disposed. 0, STATUS_EFORMAT, STATUS_ENOMEM. */
int vocab_from_object(const json_t *obj, struct vocab *v, const char *file, char *err,
                      size_t n_err);

#endif

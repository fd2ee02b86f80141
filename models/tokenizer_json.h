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

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private between the codec's files: codec.c (each route's fields),
 * codec_inputs.c (input shapes, token-id inputs, prompts, tokenization)
 * and codec_respond.c (answers). Loop thread only, like the codec.
 */
#ifndef SMOLSERVE_SERVER_CODEC_IMPL_H
#define SMOLSERVE_SERVER_CODEC_IMPL_H

#include <jansson.h>

#include "model.h"
#include "request.h"

/* Fills e (kind, message; cause left as it is) and returns -1. */
int codec_fail(struct api_error *e, enum api_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocates r's per-input arrays for n inputs. 0 or -1 (e: out of memory). */
int codec_alloc_inputs(struct request *r, size_t n, struct api_error *e);

/* A batch of n inputs: 0 is TEI's Empty error (`field` cannot be empty),
 * more than the limit its batch-size error. 0 or -1. */
int codec_check_count(size_t n, const char *field, const struct request_limits *lim,
                      struct api_error *e);

/* Slot i's text is the JSON string s (borrowed from the body). */
void codec_set_text(struct request *r, size_t i, const json_t *s);

/* r holds one input, the JSON string s. 0 or -1 (out of memory). */
int codec_one_text(struct request *r, const json_t *s, struct api_error *e);

/*
 * The inputs of an embedding route (TEI's `Input`): a string, a list of
 * token ids, or a list of strings and id lists (a batch). field names the
 * member in messages ("inputs", or "input" for /v1/embeddings). 0 or -1.
 */
int codec_parse_embed_inputs(const struct model *m, const json_t *inputs, const char *field,
                             const struct request_limits *lim, struct request *r,
                             struct api_error *e);

/* A JSON list of token ids into slot i of r->decode_ids, each checked
 * against the vocabulary. 0 or -1. */
int codec_parse_ids(const struct model *m, const json_t *ids, const char *field, struct request *r,
                    size_t i, struct api_error *e);

/* How a request's inputs become tokens. */
struct codec_encode {
	struct encode_opts opts;
	const char *prompt; /* put before each text (and decoded id input); NULL = none */
	int prompt_routes;  /* 1 if this route may carry a prompt */
};

/* The prompt named by the request's prompt_name (a string or null, at
 * holder's key "prompt_name"), else lim's default. 0 or -1 (unknown name:
 * 422 listing the known ones). */
int codec_pick_prompt(const struct model *m, const json_t *holder, const struct request_limits *lim,
                      struct codec_encode *enc, struct api_error *e);

/* Tokenizes every input of r (texts, pairs, token ids) per enc, counts
 * characters and tokens, rejects empty inputs (400 Empty) and too long
 * ones. 0 or -1. */
int codec_tokenize_all(const struct model *m, const struct codec_encode *enc, struct request *r,
                       struct api_error *e);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON side of every route, shaped exactly as text-embeddings-inference
 * (TEI) shapes it: a request body (jansson value) is validated and
 * tokenized into a struct request; a finished request becomes the response
 * value; errors become {"error": ..., "error_type": ...} (or OpenAI's flat
 * {"message", "code", "type"} on /v1/embeddings). Every request field TEI
 * defines for a route is honoured on it; fields TEI does not know are
 * ignored as TEI ignores them. The HTTP server and `smolserve run` both go
 * through here, so they answer alike. Any thread, one request per thread
 * at a time: the jansson values of a request belong to whichever thread
 * holds the request.
 */
#ifndef SMOLSERVE_SERVER_CODEC_H
#define SMOLSERVE_SERVER_CODEC_H

#include <jansson.h>

#include "model.h"
#include "request.h"
#include "settings.h"
#include "strbuf.h"

/*
 * The request limits of a service on model m with settings cfg: batch
 * size, auto-truncation, the served model name and the default prompt
 * (--default-prompt, else --default-prompt-name's prompt, else the
 * folder's default_prompt_name). lim borrows from cfg and m, which must
 * outlive it. 0, or -1 with err saying why (TEI's messages for an unknown
 * --default-prompt-name).
 */
int codec_limits_init(struct request_limits *lim, const struct model *m, const struct settings *cfg,
                      char *err, size_t n_err);

/*
 * Validates body for route and fills r (request_init'ed by the caller):
 * inputs tokenized (truncated if asked, else too long is an error), output
 * allocated. lim's caps bound the work: /tokenize's ids out and /decode's
 * ids in (max_tokenize_tokens), /embed_all's floats out
 * (max_response_floats); beyond them a 422 names the cap. body is borrowed
 * and must outlive r (texts point into it). 0, or -1 with e filled
 * (e->cause says which te_request_failure label).
 */
int codec_parse(const struct model *m, enum route route, const json_t *body,
                const struct request_limits *lim, struct request *r, struct api_error *e);

/* The response value of a finished request (new reference), or NULL on
 * allocation failure. */
json_t *codec_respond(const struct model *m, const struct request *r);

/* {"error": message, "error_type": type} (new reference). */
json_t *codec_error(const struct api_error *e);

/* The error body route answers with: OpenAI's {"message", "code", "type"}
 * on ROUTE_OPENAI (TEI's OpenAICompatErrorResponse), else codec_error. */
json_t *codec_error_for(enum route route, const struct api_error *e);

/* What POST / and POST /invocations answer as, by model kind (TEI): a
 * one-label sequence classifier reranks, a multi-label one predicts, a
 * token classifier predicts tokens, an encoder embeds (or compares, when
 * task is "sentence-similarity"). */
enum route codec_root_route(const struct model *m, const char *task);

/* TEI's /info model_type: {"embedding": {"pooling"}}, {"classifier":
 * {"id2label", "label2id"}} or {"reranker": {...}} (new reference). */
json_t *codec_model_type(const struct model *m);

/* Adds TEI's /info fields that depend on the model and the codec to info:
 * model_type, model_sha, docker_label, prompts, served_model_name. */
void codec_info_fields(json_t *info, const struct model *m, const struct request_limits *lim);

/*
 * 0 if every result a finished request carries is finite; else -1 with e a
 * 424 Backend "the model produced NaN/Inf" (a NaN would otherwise become a
 * malformed or silently shortened answer).
 */
int codec_check_finite(const struct request *r, struct api_error *e);

/*
 * The response text of a finished request, appended to out: the same JSON
 * as json_dumps(codec_respond(), JSON_COMPACT | JSON_REAL_PRECISION(9)),
 * written straight from the floats for /embed and /embed_all (realfmt.h:
 * no jansson tree of reals, no printf per float). 0, or -1 when out of
 * memory or a value is NaN or infinite.
 */
int codec_respond_text(const struct model *m, const struct request *r, struct strbuf *out);

#endif

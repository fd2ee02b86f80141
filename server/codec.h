/*
 * The JSON side of every route, shaped exactly as text-embeddings-inference
 * (TEI) shapes it: a request body (jansson value) is validated and
 * tokenized into a struct request; a finished request becomes the response
 * value; errors become {"error": ..., "error_type": ...}. The HTTP server
 * and `smolserve run` both go through here, so they answer alike.
 * Any thread, one request per thread at a time: the jansson values of a
 * request belong to whichever thread holds the request.
 */
#ifndef SMOLSERVE_SERVER_CODEC_H
#define SMOLSERVE_SERVER_CODEC_H

#include <jansson.h>

#include "model.h"
#include "request.h"
#include "strbuf.h"

/*
 * Validates body for route and fills r (request_init'ed by the caller):
 * inputs tokenized (truncated if asked, else too long is an error), output
 * allocated. lim's caps bound the work: /tokenize's ids out and /decode's
 * ids in (max_tokenize_tokens), /embed_all's floats out
 * (max_response_floats); beyond them a 422 names the cap. body is borrowed
 * and must outlive r (texts point into it). 0, or -1 with e filled.
 */
int codec_parse(const struct model *m, enum route route, const json_t *body,
                const struct request_limits *lim, struct request *r, struct api_error *e);

/* The response value of a finished request (new reference), or NULL on
 * allocation failure. */
json_t *codec_respond(const struct model *m, const struct request *r);

/* {"error": message, "error_type": type} (new reference). */
json_t *codec_error(const struct api_error *e);

/*
 * 0 if every result a finished request carries is finite; else -1 with e a
 * 424 Backend "the model produced NaN/Inf" (a NaN would otherwise become a
 * malformed or silently shortened answer).
 */
int codec_check_finite(const struct request *r, struct api_error *e);

/*
 * The response text of a finished request, appended to out: the same JSON
 * as json_dumps(codec_respond(), JSON_COMPACT | JSON_REAL_PRECISION(9)),
 * written straight from the floats for /embed and /embed_all (no jansson
 * tree of millions of reals). 0, or -1 when out of memory.
 */
int codec_respond_text(const struct model *m, const struct request *r, struct strbuf *out);

#endif

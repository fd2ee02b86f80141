/*
 * The JSON side of every route, shaped exactly as text-embeddings-inference
 * (TEI) shapes it: a request body (jansson value) is validated and
 * tokenized into a struct request; a finished request becomes the response
 * value; errors become {"error": ..., "error_type": ...}. The HTTP server
 * and `smolserve run` both go through here, so they answer alike.
 * Loop thread only (owns jansson values).
 */
#ifndef SMOLSERVE_SERVER_CODEC_H
#define SMOLSERVE_SERVER_CODEC_H

#include <jansson.h>

#include "model.h"
#include "request.h"

/*
 * Validates body for route and fills r (request_init'ed by the caller):
 * inputs tokenized (truncated if asked, else too long is an error), output
 * allocated. body is borrowed and must outlive r (texts point into it).
 * 0, or -1 with e filled.
 */
int codec_parse(const struct model *m, enum route route, const json_t *body,
                const struct request_limits *lim, struct request *r, struct api_error *e);

/* The response value of a finished request (new reference), or NULL on
 * allocation failure. */
json_t *codec_respond(const struct model *m, const struct request *r);

/* {"error": message, "error_type": type} (new reference). */
json_t *codec_error(const struct api_error *e);

#endif

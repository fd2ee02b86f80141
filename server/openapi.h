/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's description, carried in the binary: the OpenAPI 3 document of
 * every route, field, answer and error (server/openapi.json, served at
 * GET /api-doc/openapi.json as text-embeddings-inference serves its own)
 * and a self-contained HTML page that renders it (server/docs.html, at
 * GET /docs; no CDN, no script from elsewhere). Both files are turned into
 * C arrays at build time by server/tools/embed_file.c. Read-only: any
 * thread.
 */
#ifndef SMOLSERVE_SERVER_OPENAPI_H
#define SMOLSERVE_SERVER_OPENAPI_H

#include <stddef.h>

struct openapi_doc {
	const char *data; /* (len) bytes, NUL after them */
	size_t len;
	const char *content_type;
};

/* The OpenAPI document (application/json). */
struct openapi_doc openapi_json(void);

/* The page rendering it (text/html). */
struct openapi_doc openapi_docs_html(void);

#endif

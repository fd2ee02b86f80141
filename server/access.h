/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may call the service: the API key (--api-key / API_KEY) and
 * cross-origin browser access (--cors-allow-origin), as
 * text-embeddings-inference does them. With a key, every route but TEI's
 * open ones (/health, GET /, /ping, /metrics, /docs, /api-doc/openapi.json)
 * needs `Authorization: Bearer KEY`; the key is compared in constant time
 * and never logged. CORS: without a list any origin may call (TEI's
 * default); with one, only listed origins get Access-Control-Allow-Origin;
 * an OPTIONS request is a preflight and is answered here, before the key
 * is asked for, as browsers send preflights without credentials.
 *
 * The feature knows nothing of settings files or flags: access_init takes
 * the two values. Loop thread only (called from the HTTP handler).
 */
#ifndef SMOLSERVE_SERVER_ACCESS_H
#define SMOLSERVE_SERVER_ACCESS_H

#include <stddef.h>

struct MHD_Response;

#define ACCESS_MAX_ORIGINS 32

struct access {
	char *key; /* owned; NULL: no key asked */
	size_t key_len;
	int any_origin; /* no list, or "*" in it */
	int n_origins;
	char *origins[ACCESS_MAX_ORIGINS]; /* owned */
};

/*
 * api_key: "" for none. origins: "" for any, else a comma-separated list
 * ("*" allowed). 0, or -1 with err (an empty entry, more than
 * ACCESS_MAX_ORIGINS, out of memory). Release with access_dispose.
 */
int access_init(struct access *a, const char *api_key, const char *origins, char *err,
                size_t n_err);
void access_dispose(struct access *a);

/* 1 if method + path is one of TEI's routes open without a key. */
int access_is_public(const char *method, const char *path);

/* 1 if the request may go on: no key configured, the route is public, or
 * authorization (the Authorization header, NULL if absent) is "Bearer KEY"
 * (scheme in any case). Constant time in the key's length. */
int access_authorized(const struct access *a, const char *method, const char *path,
                      const char *authorization);

/* Adds the CORS headers of an answer to a request from origin (NULL: not
 * a cross-origin request: nothing added). */
void access_add_cors(const struct access *a, struct MHD_Response *r, const char *origin);

/* Adds the headers of a preflight answer (the caller sends it with 200 and
 * no body): the CORS headers, the allowed methods and headers, max age. */
void access_add_preflight(const struct access *a, struct MHD_Response *r, const char *origin);

#endif

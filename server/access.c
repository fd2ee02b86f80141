/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API key and CORS (see access.h). The routes open without a key are
 * TEI's `public_routes` (health, the Inference API's GET /, SageMaker's
 * /ping, metrics) plus its Swagger UI and OpenAPI document, which TEI
 * merges outside the authenticated router.
 */
#include "access.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *method, *path;
} PUBLIC[] = {
    {"GET", "/health"},
    {"GET", "/"},
    {"GET", "/ping"},
    {"GET", "/metrics"},
    {"GET", "/docs"},
    {"GET", "/docs/"},
    {"GET", "/api-doc/openapi.json"},
};

/* What a browser may send and read cross-origin. TEI allows GET and POST
 * with Content-Type; smolserve also allows Authorization (so a browser
 * can send the key) and X-Request-Timeout-Ms, and exposes TEI's timing
 * headers. */
#define ALLOW_METHODS "GET, POST, HEAD, OPTIONS"
#define ALLOW_HEADERS "content-type, authorization, x-request-timeout-ms"
#define EXPOSE_HEADERS                                                                             \
	"x-compute-type, x-compute-time, x-compute-characters, x-compute-tokens, x-total-time, "   \
	"x-tokenization-time, x-queue-time, x-inference-time"

int access_init(struct access *a, const char *api_key, const char *origins, char *err, size_t n_err)
{
	memset(a, 0, sizeof(*a));
	if (api_key[0] != '\0') {
		if ((a->key = strdup(api_key)) == NULL)
			goto nomem;
		a->key_len = strlen(api_key);
	}
	a->any_origin = origins[0] == '\0';
	const char *p = origins;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0) {
			snprintf(err, n_err, "--cors-allow-origin: an empty origin in \"%s\"",
			         origins);
			access_dispose(a);
			return -1;
		}
		if (n == 1 && *p == '*') {
			a->any_origin = 1;
		} else {
			if (a->n_origins == ACCESS_MAX_ORIGINS) {
				snprintf(err, n_err, "--cors-allow-origin: more than %d origins",
				         ACCESS_MAX_ORIGINS);
				access_dispose(a);
				return -1;
			}
			if ((a->origins[a->n_origins] = strndup(p, n)) == NULL)
				goto nomem;
			a->n_origins++;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
nomem:
	snprintf(err, n_err, "out of memory");
	access_dispose(a);
	return -1;
}

void access_dispose(struct access *a)
{
	if (a->key != NULL)
		memset(a->key, 0, a->key_len);
	free(a->key);
	for (int i = 0; i < a->n_origins; i++)
		free(a->origins[i]);
	memset(a, 0, sizeof(*a));
}

int access_is_public(const char *method, const char *path)
{
	/* HEAD is GET without the body: open where GET is */
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	for (size_t i = 0; i < sizeof(PUBLIC) / sizeof(PUBLIC[0]); i++)
		if (strcmp(m, PUBLIC[i].method) == 0 && strcmp(path, PUBLIC[i].path) == 0)
			return 1;
	return 0;
}

/* Equal in time that depends on the key's length only, not on where the
 * first difference is. */
static int same_secret(const char *key, size_t key_len, const char *given, size_t given_len)
{
	unsigned char diff = given_len != key_len;
	for (size_t i = 0; i < key_len; i++)
		diff |= (unsigned char)key[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
	return diff == 0;
}

int access_authorized(const struct access *a, const char *method, const char *path,
                      const char *authorization)
{
	if (a->key == NULL || access_is_public(method, path))
		return 1;
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	const char *token = authorization + 7;
	return same_secret(a->key, a->key_len, token, strlen(token));
}

/* The Access-Control-Allow-Origin value for origin, NULL if not allowed. */
static const char *allowed_origin(const struct access *a, const char *origin)
{
	if (a->any_origin)
		return "*";
	for (int i = 0; i < a->n_origins; i++)
		if (strcmp(a->origins[i], origin) == 0)
			return origin;
	return NULL;
}

void access_add_cors(const struct access *a, struct MHD_Response *r, const char *origin)
{
	if (origin == NULL)
		return;
	const char *allow = allowed_origin(a, origin);
	if (!a->any_origin) /* the answer depends on Origin: caches must know */
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
	if (allow == NULL)
		return;
	MHD_add_response_header(r, "Access-Control-Allow-Origin", allow);
	MHD_add_response_header(r, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}

void access_add_preflight(const struct access *a, struct MHD_Response *r, const char *origin)
{
	access_add_cors(a, r, origin);
	if (origin == NULL || allowed_origin(a, origin) == NULL)
		return;
	MHD_add_response_header(r, "Access-Control-Allow-Methods", ALLOW_METHODS);
	MHD_add_response_header(r, "Access-Control-Allow-Headers", ALLOW_HEADERS);
	MHD_add_response_header(r, "Access-Control-Max-Age", "600");
}

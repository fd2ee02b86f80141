/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded OpenAPI document and docs page (see openapi.h); the bytes
 * come from the generated openapi_data.c.
 */
#include "openapi.h"

extern const unsigned char smolserve_openapi_json[];
extern const unsigned long smolserve_openapi_json_len;
extern const unsigned char smolserve_docs_html[];
extern const unsigned long smolserve_docs_html_len;

struct openapi_doc openapi_json(void)
{
	return (struct openapi_doc){(const char *)smolserve_openapi_json,
	                            (size_t)smolserve_openapi_json_len, "application/json"};
}

struct openapi_doc openapi_docs_html(void)
{
	return (struct openapi_doc){(const char *)smolserve_docs_html,
	                            (size_t)smolserve_docs_html_len, "text/html; charset=utf-8"};
}

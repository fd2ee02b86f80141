/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private between http.c (MHD on the loop) and handler.c (what each request
 * gets): the two MHD callbacks.
 */
#ifndef SMOLSERVE_SERVER_HTTP_IMPL_H
#define SMOLSERVE_SERVER_HTTP_IMPL_H

#include <microhttpd.h>

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls);

void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

#endif

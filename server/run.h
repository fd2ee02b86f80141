/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `smolserve run ROUTE`: one request without a server. Reads a JSON body on
 * stdin, answers on stdout exactly what the HTTP route of the same name
 * answers, through the same codec and engine.
 */
#ifndef SMOLSERVE_SERVER_RUN_H
#define SMOLSERVE_SERVER_RUN_H

#include <stdio.h>

#include "settings.h"

/*
 * Exit status: 0 answered, 1 the request was rejected (error JSON printed),
 * 2 the model could not be loaded or another fatal error (message on
 * stderr).
 */
int run_command(const char *route_name, const struct settings *s, FILE *in, FILE *out);

#endif

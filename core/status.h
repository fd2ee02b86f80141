/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status codes shared by every layer of smolserve. A function that can fail
 * returns 0 or one of the negative codes below and writes a human-readable
 * detail into a caller's buffer (char *err, size_t n_err). Only the route
 * layer (server/) maps codes to HTTP statuses.
 */
#ifndef SMOLSERVE_CORE_STATUS_H
#define SMOLSERVE_CORE_STATUS_H

#include <stddef.h>

enum status {
	STATUS_OK = 0,
	STATUS_EINVAL = -1,       /* invalid input from a caller or a client */
	STATUS_ENOMEM = -2,       /* an allocation failed */
	STATUS_EIO = -3,          /* a file could not be opened or read */
	STATUS_EFORMAT = -4,      /* a file or body is malformed */
	STATUS_EUNSUPPORTED = -5, /* valid, but not something smolserve runs */
	STATUS_ETOOLONG = -6,     /* an input is longer than the model allows */
	STATUS_ETOKENIZER = -7,   /* the tokenizer could not encode the input */
};

/* Short text for a status code; never NULL. Any thread. */
const char *status_str(int code);

/*
 * printf into err (if err != NULL and n_err > 0), always NUL-terminated, and
 * return code unchanged so callers can write `return status_fail(...)`.
 */
int status_fail(char *err, size_t n_err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

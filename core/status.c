/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text for status codes and the one helper that formats error details into
 * a caller's buffer.
 */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *status_str(int code)
{
	switch (code) {
	case STATUS_OK:
		return "ok";
	case STATUS_EINVAL:
		return "invalid input";
	case STATUS_ENOMEM:
		return "out of memory";
	case STATUS_EIO:
		return "i/o error";
	case STATUS_EFORMAT:
		return "malformed file";
	case STATUS_EUNSUPPORTED:
		return "unsupported";
	case STATUS_ETOOLONG:
		return "input too long";
	case STATUS_ETOKENIZER:
		return "tokenizer error";
	default:
		return "unknown error";
	}
}

int status_fail(char *err, size_t n_err, int code, const char *fmt, ...)
{
	if (err != NULL && n_err > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, n_err, fmt, ap);
		va_end(ap);
	}
	return code;
}

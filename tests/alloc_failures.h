/* SPDX-License-Identifier: Apache-2.0 */
/*
 * malloc, calloc and realloc that fail once, at the alloc_left-th call
 * from when it is set (glibc's own allocator underneath), for tests that
 * walk a failure through every allocation of a function. Include it in
 * exactly one .c file of a test executable. Not under AddressSanitizer,
 * whose allocator these would bypass: HAVE_ALLOC_FAILURES says whether
 * they are in.
 */
#ifndef SMOLSERVE_TESTS_ALLOC_FAILURES_H
#define SMOLSERVE_TESTS_ALLOC_FAILURES_H

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "status.h"

#define HAVE_ALLOC_FAILURES 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t k, size_t n);
void *__libc_realloc(void *p, size_t n);
static long alloc_left = -1; /* -1: never fail */

static int alloc_fails(void)
{
	if (alloc_left < 0 || alloc_left-- > 0)
		return 0;
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	return alloc_fails() ? NULL : __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	return alloc_fails() ? NULL : __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __libc_realloc(p, n);
}

/* Whether rc is what a failed allocation may give: STATUS_ENOMEM, or
 * (jansson reports some of its failed mallocs as syntax errors) a JSON
 * parse error, whose text names a line of a .json file. */
static inline int alloc_rc_ok(int rc, const char *err)
{
	return rc == STATUS_ENOMEM || (rc == STATUS_EFORMAT && strstr(err, ".json: line ") != NULL);
}
#endif

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the Check suites: where the fixtures are, loading a
 * fixture's expected.json, and comparing float arrays with a tolerance.
 */
#ifndef SMOLSERVE_TESTS_TEST_UTIL_H
#define SMOLSERVE_TESTS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* FIXTURES_DIR/sub (static buffer, overwritten by the next call). */
const char *fixture_path(const char *sub);

/* expected.json of fixture folder name (new reference); aborts the test
 * (ck_abort) if it cannot be read. */
json_t *fixture_expected(const char *name);

/* Largest |a[i] - b[i]| over n elements. */
double max_abs_diff(const float *a, const float *b, size_t n);

/* Copies a JSON array of numbers into a new malloc'd float array; *n gets
 * the count. NULL if arr is not an array of numbers. */
float *json_floats(const json_t *arr, size_t *n);

/* Same for integers into int32_t. */
int32_t *json_ints(const json_t *arr, size_t *n);

/* A bad-input corpus: FIXTURES_DIR/<sub>/<case>/{input | files..., expect}. */
#define CORPUS_MAX_CASES 128
struct corpus {
	char names[CORPUS_MAX_CASES][256]; /* sorted case folder names */
	int n;
};

/* Lists the case folders of FIXTURES_DIR/sub (n = 0 if absent). */
void corpus_scan(struct corpus *c, const char *sub);

/* Reads case_dir/expect: the status name on line 1 (EFORMAT, EIO, ...),
 * the substring the error must contain on line 2. Aborts the test if
 * malformed. */
void corpus_expect(const char *case_dir, int *status, char *substr, size_t n_substr);

/* Runs Check's suite with CK_FORK default and returns the exit status
 * main should return (0 if no failures). */
#include <check.h>
int test_run_suite(Suite *s);

#endif

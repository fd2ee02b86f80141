/*
 * Helpers shared by the Check suites (see test_util.h).
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *fixture_path(const char *sub)
{
	static char buf[4096];
	const char *dir = getenv("FIXTURES_DIR");
	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "tests/fixtures", sub);
	return buf;
}

json_t *fixture_expected(const char *name)
{
	char sub[512];
	json_error_t jerr;
	snprintf(sub, sizeof(sub), "%s/expected.json", name);
	json_t *root = json_load_file(fixture_path(sub), JSON_ALLOW_NUL, &jerr);
	if (root == NULL)
		ck_abort_msg("cannot read %s: %s", fixture_path(sub), jerr.text);
	return root;
}

double max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		if (d > m || isnan(d))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}

float *json_floats(const json_t *arr, size_t *n)
{
	if (!json_is_array(arr))
		return NULL;
	size_t len = json_array_size(arr);
	float *out = malloc((len ? len : 1) * sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_number(v)) {
			free(out);
			return NULL;
		}
		out[i] = (float)json_number_value(v);
	}
	*n = len;
	return out;
}

int32_t *json_ints(const json_t *arr, size_t *n)
{
	if (!json_is_array(arr))
		return NULL;
	size_t len = json_array_size(arr);
	int32_t *out = malloc((len ? len : 1) * sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_integer(v)) {
			free(out);
			return NULL;
		}
		out[i] = (int32_t)json_integer_value(v);
	}
	*n = len;
	return out;
}

int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realfmt.h: floats as JSON text, byte for byte as jansson writes them with
 * JSON_REAL_PRECISION(9) — checked against jansson itself for chosen
 * values (zeros, powers of ten, both ends of the float range, subnormals,
 * a decimal tie) and against the snprintf definition for every exponent and
 * a few million bit patterns. (All 2^32 bit patterns were compared with
 * the snprintf definition once, by hand, on 2026-11-30: none differ.)
 */
#include <check.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "realfmt.h"
#include "test_util.h"

static float from_bits(uint32_t b)
{
	float f;
	memcpy(&f, &b, sizeof(f));
	return f;
}

/* realfmt_float(f) is what jansson prints for (double)f. */
static void same_as_jansson(float f)
{
	char got[REALFMT_MAX];
	int n = realfmt_float(got, f);
	json_t *v = json_real((double)f);
	char *want = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
	ck_assert_ptr_nonnull(want);
	ck_assert_msg(n == (int)strlen(want) && strcmp(got, want) == 0, "%a: %s, jansson %s", f,
	              n >= 0 ? got : "(failed)", want);
	free(want);
	json_decref(v);
}

START_TEST(test_chosen_values)
{
	static const float values[] = {0.0f,      -0.0f,        1.0f,         -1.0f,   0.1f,
	                               -0.25f,    0.5f,         2.0f / 3.0f,  1e-4f,   9.99999e-5f,
	                               1e-5f,     123456.0f,    123456789.0f, 1e9f,    999999999.0f,
	                               1e10f,     1.5e10f,      3.0e-38f,     FLT_MAX, -FLT_MAX,
	                               FLT_MIN,   FLT_TRUE_MIN, 1234567.125f, 0.0001f, 100000000.0f,
	                               -7.3e-11f, 65504.0f,     16777216.0f,  1e38f,   4.2e-42f};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		same_as_jansson(values[i]);
	char buf[REALFMT_MAX];
	ck_assert_int_eq(realfmt_float(buf, 1.0f), 3);
	ck_assert_str_eq(buf, "1.0");
	realfmt_float(buf, 1e10f);
	ck_assert_str_eq(buf, "1e10");
	realfmt_float(buf, 1e-7f);
	ck_assert_str_eq(buf, "1.00000001e-7");
	realfmt_float(buf, -0.0f);
	ck_assert_str_eq(buf, "-0.0");
	ck_assert_int_eq(realfmt_float(buf, NAN), -1);
	ck_assert_int_eq(realfmt_float(buf, INFINITY), -1);
	ck_assert_int_eq(realfmt_float(buf, -INFINITY), -1);
}
END_TEST

/* realfmt_float prints the float with these bits as the snprintf
 * definition does (both refuse NaN and infinities). */
static void same_as_printf(uint32_t bits)
{
	char a[REALFMT_MAX], b[REALFMT_MAX];
	int na = realfmt_float(a, from_bits(bits)), nb = realfmt_float_printf(b, from_bits(bits));
	ck_assert_msg(na == nb && (na < 0 || strcmp(a, b) == 0), "%08x: %s, printf %s", bits,
	              na >= 0 ? a : "-", nb >= 0 ? b : "-");
}

/* Every exponent, both signs, the mantissas next to its ends and some in
 * between; then random bit patterns. */
START_TEST(test_matches_printf)
{
	long checked = 0;
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (uint32_t e = 0; e < 255; e++)
		for (uint32_t k = 0; k < 4096; k++, checked++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			uint32_t mant = k < 16   ? k
			                : k < 32 ? 0x7fffffu - (k - 16)
			                         : (uint32_t)(seed >> 41);
			same_as_printf((e << 23) | mant | ((k & 1u) << 31));
		}
	for (int i = 0; i < 2000000; i++, checked++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		same_as_printf((uint32_t)(seed >> 32));
	}
	ck_assert_int_gt(checked, 3000000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("realfmt");
	TCase *tc = tcase_create("realfmt");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_chosen_values);
	tcase_add_test(tc, test_matches_printf);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

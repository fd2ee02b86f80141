/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GEMM and Linear against naive triple loops in double precision, over
 * shapes that hit OpenBLAS's edge paths (1, odd, strided leading dims).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "test_util.h"

static float frand(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		x[i] = frand(&seed);
}

static const size_t SHAPES[][3] = {{1, 1, 1},      {3, 5, 7},    {17, 33, 65}, {64, 64, 64},
                                   {128, 96, 384}, {1, 300, 64}, {250, 1, 13}};
#define N_SHAPES (int)(sizeof(SHAPES) / sizeof(SHAPES[0]))

START_TEST(test_gemm_nt_matches_naive)
{
	size_t m = SHAPES[_i][0], n = SHAPES[_i][1], k = SHAPES[_i][2];
	size_t lda = k + 3, ldb = k + 1, ldc = n + 2;
	float *a = calloc(m * lda, sizeof(float)), *b = calloc(n * ldb, sizeof(float));
	float *c = calloc(m * ldc, sizeof(float));
	fill(a, m * lda, 1);
	fill(b, n * ldb, 2);
	fill(c, m * ldc, 3);
	float *c0 = malloc(m * ldc * sizeof(float));
	for (size_t i = 0; i < m * ldc; i++)
		c0[i] = c[i];
	gemm_nt(c, ldc, a, lda, b, ldb, m, n, k, 1);
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			double s = c0[i * ldc + j];
			for (size_t p = 0; p < k; p++)
				s += (double)a[i * lda + p] * b[j * ldb + p];
			ck_assert_double_eq_tol(c[i * ldc + j], s, 1e-4 * (1.0 + (double)k / 16));
		}
	/* padding columns beyond n are untouched */
	for (size_t i = 0; i < m; i++)
		for (size_t j = n; j < ldc; j++)
			ck_assert_float_eq(c[i * ldc + j], c0[i * ldc + j]);
	free(a);
	free(b);
	free(c);
	free(c0);
}
END_TEST

START_TEST(test_gemm_nn_matches_naive)
{
	size_t m = SHAPES[_i][0], n = SHAPES[_i][1], k = SHAPES[_i][2];
	float *a = malloc(m * k * sizeof(float)), *b = malloc(k * n * sizeof(float));
	float *c = malloc(m * n * sizeof(float));
	fill(a, m * k, 4);
	fill(b, k * n, 5);
	gemm_nn(c, n, a, k, b, n, m, n, k);
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			double s = 0;
			for (size_t p = 0; p < k; p++)
				s += (double)a[i * k + p] * b[p * n + j];
			ck_assert_double_eq_tol(c[i * n + j], s, 1e-4 * (1.0 + (double)k / 16));
		}
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_linear_adds_bias)
{
	float x[2 * 3] = {1, 2, 3, -1, 0, 2};
	float w[2 * 3] = {1, 0, 0, 0.5f, 0.5f, 0.5f};
	float bias[2] = {10, -10};
	float y[4];
	linear(y, x, w, bias, 2, 3, 2);
	ck_assert_float_eq(y[0], 11.0f);
	ck_assert_float_eq(y[1], -7.0f);
	ck_assert_float_eq(y[2], 9.0f);
	ck_assert_float_eq(y[3], -9.5f);
	linear(y, x, w, NULL, 2, 3, 2);
	ck_assert_float_eq(y[0], 1.0f);
	ck_assert_float_eq(y[3], 0.5f);
}
END_TEST

START_TEST(test_threads_and_corename)
{
	gemm_set_threads(1);
	ck_assert_int_eq(gemm_get_threads(), 1);
	ck_assert_ptr_nonnull(gemm_corename());
	ck_assert_int_gt((int)strlen(gemm_corename()), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gemm");
	TCase *tc = tcase_create("gemm");
	tcase_add_loop_test(tc, test_gemm_nt_matches_naive, 0, N_SHAPES);
	tcase_add_loop_test(tc, test_gemm_nn_matches_naive, 0, N_SHAPES);
	tcase_add_test(tc, test_linear_adds_bias);
	tcase_add_test(tc, test_threads_and_corename);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

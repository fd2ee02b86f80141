/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The element-wise kernels against double-precision references of the
 * PyTorch functions they mirror.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "status.h"
#include "test_util.h"

START_TEST(test_layer_norm_matches_reference)
{
	float x[2 * 5] = {1, 2, 3, 4, 5, -3, 0.5f, 8, 2, 2};
	float res[2 * 5] = {0.5f, 0, 0, 0, -1, 1, 1, 1, 1, 1};
	float g[5] = {1, 2, 0.5f, 1, -1}, b[5] = {0, 1, 0, -1, 0.25f};
	float ref[10];
	for (int r = 0; r < 2; r++) {
		double v[5], mean = 0, var = 0;
		for (int i = 0; i < 5; i++)
			mean += (v[i] = (double)x[r * 5 + i] + res[r * 5 + i]);
		mean /= 5;
		for (int i = 0; i < 5; i++)
			var += (v[i] - mean) * (v[i] - mean);
		var /= 5;
		for (int i = 0; i < 5; i++)
			ref[r * 5 + i] = (float)((v[i] - mean) / sqrt(var + 1e-12) * g[i] + b[i]);
	}
	layer_norm_rows(x, res, g, b, 1e-12f, 2, 5);
	ck_assert_double_le(max_abs_diff(x, ref, 10), 1e-5);
}
END_TEST

START_TEST(test_activations)
{
	float x[5] = {-3, -0.5f, 0, 0.7f, 4};
	float y[5];
	for (int i = 0; i < 5; i++)
		y[i] = x[i];
	activation_apply(y, 5, ACT_GELU);
	for (int i = 0; i < 5; i++)
		ck_assert_double_eq_tol(y[i], 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0))), 1e-6);
	for (int i = 0; i < 5; i++)
		y[i] = x[i];
	activation_apply(y, 5, ACT_GELU_TANH);
	for (int i = 0; i < 5; i++) {
		double v = x[i];
		double ref = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
		ck_assert_double_eq_tol(y[i], ref, 1e-6);
	}
	for (int i = 0; i < 5; i++)
		y[i] = x[i];
	activation_apply(y, 5, ACT_RELU);
	ck_assert_float_eq(y[0], 0.0f);
	ck_assert_float_eq(y[4], 4.0f);
	for (int i = 0; i < 5; i++)
		y[i] = x[i];
	activation_apply(y, 5, ACT_TANH);
	ck_assert_double_eq_tol(y[3], tanh(0.7), 1e-6);
}
END_TEST

/* activation_apply over a sweep with a tail, far out into saturation:
 * within 1e-6 of libm's. (The products' in-register epilogues have their
 * own vector forms, checked by the dense suite against a naive product.) */
START_TEST(test_activations_sweep)
{
	enum { N = 4003 };
	static float x[N], y[N];
	const enum activation acts[3] = {ACT_GELU, ACT_GELU_TANH, ACT_TANH};
	for (int a = 0; a < 3; a++) {
		for (int i = 0; i < N; i++)
			y[i] = x[i] = /* odd i: -100..100; even i: -6..6, where the curves bend */
			    (-100.0f + 200.0f * (float)i / (N - 1)) * (i % 2 ? 1.0f : 0.06f);
		activation_apply(y, N, acts[a]);
		for (int i = 0; i < N; i++) {
			double v = x[i], ref;
			if (acts[a] == ACT_GELU)
				ref = 0.5 * v * (1 + erf(v / sqrt(2.0)));
			else if (acts[a] == ACT_GELU_TANH)
				ref = 0.5 * v *
				      (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
			else
				ref = tanh(v);
			ck_assert_msg(fabs(y[i] - ref) <= 1e-6 * (1 + fabs(ref)),
			              "act %d x %.9g: %.9g not %.9g", a, v, (double)y[i], ref);
		}
	}
}
END_TEST

START_TEST(test_softmax_is_stable_and_scaled)
{
	float x[2 * 3] = {1000, 1001, 1002, -1, 0, 1};
	softmax_rows(x, 0.5f, 2, 3);
	double z = exp(-1.0) + exp(-0.5) + 1.0;
	ck_assert_double_eq_tol(x[2], 1.0 / z, 1e-6);
	ck_assert_double_eq_tol(x[5], 1.0 / z, 1e-6);
	ck_assert_double_eq_tol(x[0] + x[1] + x[2], 1.0, 1e-6);
}
END_TEST

/* Masked scores (-inf, as banded attention writes them) and terms far below
 * the row's max come out exactly 0, never denormal: products that read
 * denormal probabilities run several times slower. 37 columns: whole
 * vectors and a tail for both the 16- and the 8-lane kernel. */
START_TEST(test_softmax_masked_terms_are_zero)
{
	enum { N = 37 };
	float x[2 * N];
	for (int r = 0; r < 2; r++)
		for (int c = 0; c < N; c++)
			x[r * N + c] = c % 3 == 0 ? -INFINITY : (c % 3 == 1 ? -200.0f : 0.01f * c);
	softmax_rows(x, 1.0f, 2, N);
	for (int r = 0; r < 2; r++) {
		double sum = 0.0, z = 0.0;
		for (int c = 2; c < N; c += 3)
			z += exp(0.01 * c);
		for (int c = 0; c < N; c++) {
			float v = x[r * N + c];
			ck_assert_msg(fpclassify(v) != FP_SUBNORMAL, "column %d is denormal", c);
			if (c % 3 != 2)
				ck_assert_msg(v == 0.0f, "column %d: %g, want 0", c, (double)v);
			else
				ck_assert_double_eq_tol(v, exp(0.01 * c) / z, 1e-6);
			sum += v;
		}
		ck_assert_double_eq_tol(sum, 1.0, 1e-6);
	}
}
END_TEST

/* softmax_cols: each column of a strided block on its own, left as
 * exp(x * scale - max) with 1 / sum beside; masked and far-off terms
 * exactly 0. 70 columns: a whole block of 64 and a tail of 6 (one partial
 * vector for the 16- and the 8-lane kernel). */
START_TEST(test_softmax_cols)
{
	enum { ROWS = 7, N = 70, LD = 75 };
	float x[ROWS * LD], inv[N + 1];
	for (int r = 0; r < ROWS; r++)
		for (int c = 0; c < LD; c++)
			x[r * LD + c] = (r + c) % 5 == 0 && r != c % ROWS ? -INFINITY
			                : (r * 3 + c) % 7 == 0 && r != c % ROWS
			                    ? -200.0f
			                    : 0.37f * (float)((r * c) % 11) - 1.1f;
	float orig[ROWS * LD];
	memcpy(orig, x, sizeof(x));
	inv[N] = 42.0f;
	softmax_cols(x, LD, 0.8f, ROWS, N, inv);
	ck_assert_float_eq(inv[N], 42.0f); /* nothing past n */
	for (int c = 0; c < N; c++) {
		double mx = -INFINITY, sum = 0.0;
		for (int r = 0; r < ROWS; r++)
			mx = fmax(mx, 0.8 * orig[r * LD + c]);
		for (int r = 0; r < ROWS; r++)
			sum += exp(0.8 * orig[r * LD + c] - mx);
		ck_assert_double_eq_tol(inv[c], 1.0 / sum, 1e-6 / sum);
		for (int r = 0; r < ROWS; r++) {
			float v = x[r * LD + c];
			double want = exp(0.8 * orig[r * LD + c] - mx);
			ck_assert_msg(fpclassify(v) != FP_SUBNORMAL, "(%d, %d) is denormal", r, c);
			if (want < 1e-30)
				ck_assert_msg(v == 0.0f, "(%d, %d): %g, want 0", r, c, (double)v);
			else
				ck_assert_double_eq_tol(v, want, 1e-6);
		}
	}
	for (int r = 0; r < ROWS; r++) /* columns past n untouched */
		for (int c = N; c < LD; c++)
			ck_assert_float_eq(x[r * LD + c], orig[r * LD + c]);
}
END_TEST

START_TEST(test_l2_normalize_and_sigmoid)
{
	float x[2] = {3, 4}, y[2], zero[2] = {0, 0};
	l2_normalize(y, x, 2);
	ck_assert_double_eq_tol(y[0], 0.6, 1e-7);
	ck_assert_double_eq_tol(y[1], 0.8, 1e-7);
	l2_normalize(y, zero, 2); /* no division by zero */
	ck_assert_float_eq(y[0], 0.0f);
	sigmoid(y, x, 2);
	ck_assert_double_eq_tol(y[0], 1 / (1 + exp(-3.0)), 1e-7);
}
END_TEST

START_TEST(test_status_text)
{
	char err[16];
	ck_assert_str_eq(status_str(STATUS_OK), "ok");
	ck_assert_str_eq(status_str(STATUS_ETOOLONG), "input too long");
	ck_assert_str_eq(status_str(-999), "unknown error");
	ck_assert_int_eq(status_fail(err, sizeof(err), STATUS_EINVAL, "%s", "a long message"),
	                 STATUS_EINVAL);
	ck_assert_str_eq(err, "a long message");
	status_fail(err, sizeof(err), STATUS_EINVAL, "%s", "a much longer message here");
	ck_assert_int_eq((int)strlen(err), 15);
}
END_TEST

static void use_avx2(void)
{
	setenv("SMOLSERVE_ISA", "avx2", 1);
}

static void use_generic(void)
{
	setenv("SMOLSERVE_ISA", "generic", 1);
}

int main(void)
{
	Suite *s = suite_create("kernels");
	TCase *tc = tcase_create("kernels");
	tcase_add_test(tc, test_layer_norm_matches_reference);
	tcase_add_test(tc, test_activations);
	tcase_add_test(tc, test_activations_sweep);
	tcase_add_test(tc, test_softmax_is_stable_and_scaled);
	tcase_add_test(tc, test_softmax_masked_terms_are_zero);
	tcase_add_test(tc, test_softmax_cols);
	tcase_add_test(tc, test_l2_normalize_and_sigmoid);
	tcase_add_test(tc, test_status_text);
	suite_add_tcase(s, tc);
	/* The same softmax and activations through the AVX2 and the baseline
	 * kernels (on a CPU without them, both run what it has). */
	void (*isa[2])(void) = {use_avx2, use_generic};
	const char *isa_names[2] = {"avx2", "generic"};
	for (int i = 0; i < 2; i++) {
		TCase *t = tcase_create(isa_names[i]);
		tcase_add_checked_fixture(t, isa[i], NULL);
		tcase_add_test(t, test_softmax_is_stable_and_scaled);
		tcase_add_test(t, test_softmax_masked_terms_are_zero);
		tcase_add_test(t, test_softmax_cols);
		tcase_add_test(t, test_activations_sweep);
		suite_add_tcase(s, t);
	}
	return test_run_suite(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Element-wise and row-wise kernels of the encoder (see kernels.h). Each
 * names the PyTorch / Hugging Face function it mirrors; tests check them
 * against straightforward double-precision references.
 */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels-impl.h"

/* Which compiled variant of the hot loops this CPU runs (kernels-simd.c). */
struct kernel_table {
	void (*add_bias_rows)(float *, const float *, size_t, size_t);
	void (*layer_norm_rows)(float *, const float *, const float *, const float *, float, size_t,
	                        size_t);
	void (*activation_apply)(float *, size_t, enum activation);
	void (*softmax_rows)(float *, float, size_t, size_t);
	void (*bias_act_rows)(float *, size_t, const float *, size_t, size_t, enum activation);
	void (*bias_norm_rows)(float *, size_t, const float *, const struct layer_norm *, size_t,
	                       size_t);
	void (*softmax_rows_ld)(float *, size_t, float, size_t, size_t, float *);
	void (*softmax_cols)(float *, size_t, float, size_t, size_t, float *);
	const char *name;
};

#define KERNEL_TABLE(suffix, label)                                                                \
	{                                                                                          \
		add_bias_rows_##suffix, layer_norm_rows_##suffix, activation_apply_##suffix,       \
		    softmax_rows_##suffix, bias_act_rows_##suffix, bias_norm_rows_##suffix,        \
		    softmax_rows_ld_##suffix, softmax_cols_##suffix, label                         \
	}

static const struct kernel_table GENERIC = KERNEL_TABLE(generic, "generic");
#ifdef SMOLSERVE_HAVE_AVX2
static const struct kernel_table AVX2 = KERNEL_TABLE(avx2, "avx2+fma");
#endif
#ifdef SMOLSERVE_HAVE_AVX512
static const struct kernel_table AVX512 = KERNEL_TABLE(avx512, "avx512");
#endif

int kernels_isa_cap(void)
{
	const char *v = getenv("SMOLSERVE_ISA");
	if (v == NULL || strcmp(v, "avx512") == 0)
		return 2;
	if (strcmp(v, "avx2") == 0)
		return 1;
	return strcmp(v, "generic") == 0 ? 0 : 2;
}

static const struct kernel_table *kernels(void)
{
	static const struct kernel_table *_Atomic chosen;
	const struct kernel_table *k = chosen;
	if (k != NULL)
		return k;
	k = &GENERIC;
	int cap = kernels_isa_cap();
	__builtin_cpu_init();
#ifdef SMOLSERVE_HAVE_AVX2
	if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		k = &AVX2;
#endif
#ifdef SMOLSERVE_HAVE_AVX512
	if (cap >= 2 && __builtin_cpu_supports("avx512f"))
		k = &AVX512;
#endif
	chosen = k; /* every thread computes the same answer: a benign race */
	return k;
}

const char *kernels_variant(void)
{
	return kernels()->name;
}

void add_bias_rows(float *x, const float *b, size_t n_rows, size_t n)
{
	kernels()->add_bias_rows(x, b, n_rows, n);
}

void layer_norm_rows(float *x, const float *residual, const float *gamma, const float *beta,
                     float eps, size_t n_rows, size_t n)
{
	kernels()->layer_norm_rows(x, residual, gamma, beta, eps, n_rows, n);
}

void activation_apply(float *x, size_t n, enum activation act)
{
	kernels()->activation_apply(x, n, act);
}

void softmax_rows(float *x, float scale, size_t n_rows, size_t n)
{
	kernels()->softmax_rows(x, scale, n_rows, n);
}

void bias_act_rows(float *x, size_t ld, const float *bias, size_t n_rows, size_t n,
                   enum activation act)
{
	kernels()->bias_act_rows(x, ld, bias, n_rows, n, act);
}

void bias_norm_rows(float *x, size_t ld, const float *bias, const struct layer_norm *ln,
                    size_t n_rows, size_t n)
{
	kernels()->bias_norm_rows(x, ld, bias, ln, n_rows, n);
}

void softmax_rows_ld(float *x, size_t ld, float scale, size_t n_rows, size_t n, float *inv_sum)
{
	kernels()->softmax_rows_ld(x, ld, scale, n_rows, n, inv_sum);
}

void softmax_cols(float *x, size_t ld, float scale, size_t n_rows, size_t n, float *inv_sum)
{
	kernels()->softmax_cols(x, ld, scale, n_rows, n, inv_sum);
}

void l2_normalize(float *out, const float *x, size_t n)
{
	double ss = 0.0;
	for (size_t i = 0; i < n; i++)
		ss += (double)x[i] * (double)x[i];
	double norm = sqrt(ss);
	float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] * inv;
}

void sigmoid(float *out, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = 1.0f / (1.0f + expf(-x[i]));
}

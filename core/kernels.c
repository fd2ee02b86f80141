/*
 * Element-wise and row-wise kernels of the encoder (see kernels.h). Each
 * names the PyTorch / Hugging Face function it mirrors; tests check them
 * against straightforward double-precision references.
 */
#include "kernels.h"

#include <math.h>

#include "kernels-impl.h"

/* Which compiled variant of the hot loops this CPU runs (kernels-simd.c). */
struct kernel_table {
	void (*add_bias_rows)(float *, const float *, size_t, size_t);
	void (*layer_norm_rows)(float *, const float *, const float *, const float *, float, size_t,
	                        size_t);
	void (*activation_apply)(float *, size_t, enum activation);
	void (*softmax_rows)(float *, float, size_t, size_t);
	const char *name;
};

static const struct kernel_table GENERIC = {add_bias_rows_generic, layer_norm_rows_generic,
                                            activation_apply_generic, softmax_rows_generic,
                                            "generic"};
#ifdef SMOLSERVE_HAVE_AVX2
static const struct kernel_table AVX2 = {add_bias_rows_avx2, layer_norm_rows_avx2,
                                         activation_apply_avx2, softmax_rows_avx2, "avx2+fma"};
#endif

static const struct kernel_table *kernels(void)
{
	static const struct kernel_table *_Atomic chosen;
	const struct kernel_table *k = chosen;
	if (k != NULL)
		return k;
	k = &GENERIC;
#ifdef SMOLSERVE_HAVE_AVX2
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		k = &AVX2;
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

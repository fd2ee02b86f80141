/*
 * The two compiled variants of the hot loops (kernels-simd.c built with and
 * without AVX2 + FMA) and the suffix macro that names them.
 */
#ifndef SMOLSERVE_CORE_KERNELS_IMPL_H
#define SMOLSERVE_CORE_KERNELS_IMPL_H

#include <stddef.h>

#include "kernels.h"

#ifndef KERNEL_SUFFIX
#define KERNEL_SUFFIX generic
#endif
#define KERNEL_CAT2(a, b) a##_##b
#define KERNEL_CAT(a, b)  KERNEL_CAT2(a, b)
#define KERNEL(name)      KERNEL_CAT(name, KERNEL_SUFFIX)

#define KERNEL_DECLARE(suffix)                                                                     \
	void add_bias_rows_##suffix(float *x, const float *b, size_t n_rows, size_t n);            \
	void layer_norm_rows_##suffix(float *x, const float *residual, const float *gamma,         \
	                              const float *beta, float eps, size_t n_rows, size_t n);      \
	void activation_apply_##suffix(float *x, size_t n, enum activation act);                   \
	void softmax_rows_##suffix(float *x, float scale, size_t n_rows, size_t n);

KERNEL_DECLARE(generic)
KERNEL_DECLARE(avx2)

#endif

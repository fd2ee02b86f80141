/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiled variants of the hot loops (kernels-simd.c built for the
 * x86-64 baseline, AVX2 + FMA and AVX-512) and the suffix macro that names
 * them.
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
	void softmax_rows_##suffix(float *x, float scale, size_t n_rows, size_t n);                \
	void bias_act_rows_##suffix(float *x, size_t ld, const float *bias, size_t n_rows,         \
	                            size_t n, enum activation act);                                \
	void bias_norm_rows_##suffix(float *x, size_t ld, const float *bias,                       \
	                             const struct layer_norm *ln, size_t n_rows, size_t n);        \
	void softmax_rows_ld_##suffix(float *x, size_t ld, float scale, size_t n_rows, size_t n,   \
	                              float *inv_sum);                                             \
	void softmax_cols_##suffix(float *x, size_t ld, float scale, size_t n_rows, size_t n,      \
	                           float *inv_sum);

KERNEL_DECLARE(generic)
KERNEL_DECLARE(avx2)
KERNEL_DECLARE(avx512)

#endif

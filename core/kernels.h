/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The element-wise and row-wise kernels of the encoder: bias add, LayerNorm,
 * activations (exact-erf GELU, tanh GELU, ReLU, tanh), softmax, pooling.
 * Output first, then inputs, then sizes (as llama2.c). Pure functions on
 * caller memory: no allocation, no global state, any thread.
 */
#ifndef SMOLSERVE_CORE_KERNELS_H
#define SMOLSERVE_CORE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum activation { ACT_NONE = 0, ACT_GELU, ACT_GELU_TANH, ACT_RELU, ACT_TANH };

/* torch.nn.LayerNorm's parameters, or MobileBERT's NoNorm (x * gamma +
 * beta, no statistics) when no_norm. Pointers borrowed. */
struct layer_norm {
	const float *gamma; /* (n) */
	const float *beta;  /* (n) */
	float eps;
	int no_norm;
};

/* x[r, :] += b for each of n_rows rows of width n. */
void add_bias_rows(float *x, const float *b, size_t n_rows, size_t n);

/*
 * x[r, :] = LayerNorm(x[r, :] + residual[r, :]) * gamma + beta, in place.
 * residual may be NULL. Mirrors torch.nn.LayerNorm (biased variance).
 */
void layer_norm_rows(float *x, const float *residual, const float *gamma, const float *beta,
                     float eps, size_t n_rows, size_t n);

/*
 * x[r, :n] = act(x[r, :n] + bias) for n_rows rows of stride ld, in place;
 * bias may be NULL. One pass: the epilogue of a product.
 */
void bias_act_rows(float *x, size_t ld, const float *bias, size_t n_rows, size_t n,
                   enum activation act);

/*
 * x[r, :n] = norm(x[r, :n] + bias) for n_rows rows of stride ld, in place:
 * LayerNorm (as layer_norm_rows) or NoNorm by ln->no_norm; bias may be NULL.
 */
void bias_norm_rows(float *x, size_t ld, const float *bias, const struct layer_norm *ln,
                    size_t n_rows, size_t n);

/*
 * x[r, :n] = softmax(x[r, :n] * scale) for n_rows rows of stride ld, in
 * place. Columns set to -INFINITY get probability 0 (a row must keep at
 * least one finite entry). With inv_sum non-NULL the rows are left as
 * exp(x * scale - max) and inv_sum[r] gets 1 / their sum: a caller that
 * multiplies the rows by something narrower (attention's values) scales
 * that product instead.
 */
void softmax_rows_ld(float *x, size_t ld, float scale, size_t n_rows, size_t n, float *inv_sum);

/*
 * The same down the columns: x[:n_rows, c] = exp(x[:, c] * scale - max_c)
 * for c < n (rows of stride ld, in place), inv_sum[c] = 1 / their sum
 * (attention's scores stored keys x queries). Every column must hold at
 * least one finite entry.
 */
void softmax_cols(float *x, size_t ld, float scale, size_t n_rows, size_t n, float *inv_sum);

/* x = act(x) over n elements, in place. */
void activation_apply(float *x, size_t n, enum activation act);

/* x[r, :] = softmax(x[r, :] * scale) over n_rows rows of width n, in place. */
void softmax_rows(float *x, float scale, size_t n_rows, size_t n);

/* out = x / max(||x||_2, 1e-12), as torch.nn.functional.normalize. */
void l2_normalize(float *out, const float *x, size_t n);

/* The widest instruction set kernels may use: 2 (AVX-512), 1 (AVX2 + FMA)
 * or 0 (baseline), from the environment variable SMOLSERVE_ISA (avx512,
 * avx2, generic; unset: 2) -- for tests and benchmarks of the narrower
 * variants on a wide machine. The CPU's own features still apply. */
int kernels_isa_cap(void);

/* Which compiled variant of the hot loops runs here: "avx512", "avx2+fma"
 * or "generic" (chosen once from the CPU's features, capped by
 * kernels_isa_cap). */
const char *kernels_variant(void);

/* 1 / (1 + exp(-x)) over n elements, out may equal x. */
void sigmoid(float *out, const float *x, size_t n);

#endif

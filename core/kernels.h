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

/* x[r, :] += b for each of n_rows rows of width n. */
void add_bias_rows(float *x, const float *b, size_t n_rows, size_t n);

/*
 * x[r, :] = LayerNorm(x[r, :] + residual[r, :]) * gamma + beta, in place.
 * residual may be NULL. Mirrors torch.nn.LayerNorm (biased variance).
 */
void layer_norm_rows(float *x, const float *residual, const float *gamma, const float *beta,
                     float eps, size_t n_rows, size_t n);

/* x = act(x) over n elements, in place. */
void activation_apply(float *x, size_t n, enum activation act);

/* x[r, :] = softmax(x[r, :] * scale) over n_rows rows of width n, in place. */
void softmax_rows(float *x, float scale, size_t n_rows, size_t n);

/* out = x / max(||x||_2, 1e-12), as torch.nn.functional.normalize. */
void l2_normalize(float *out, const float *x, size_t n);

/* Which compiled variant of the hot loops runs here: "avx2+fma" or
 * "generic" (chosen once from the CPU's features). */
const char *kernels_variant(void);

/* 1 / (1 + exp(-x)) over n elements, out may equal x. */
void sigmoid(float *out, const float *x, size_t n);

#endif

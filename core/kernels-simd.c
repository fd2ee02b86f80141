/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The element-wise and row-wise loops that run on every token of every
 * layer. This file is compiled three times (core/meson.build): for the
 * x86-64 baseline, with AVX2 + FMA and with AVX-512, each with its own
 * suffix on the function names (KERNEL()); kernels.c picks one at start-up
 * from the CPU's features. The loops are written branch-free (fast_erf, fast_exp)
 * so the compiler vectorises them; -fno-trapping-math lets the clamps
 * become vector min/max.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels-impl.h"
#include "simd-math.h"

void KERNEL(add_bias_rows)(float *x, const float *b, size_t n_rows, size_t n)
{
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * n;
		for (size_t i = 0; i < n; i++)
			row[i] += b[i];
	}
}

/* Sum of x[0..n) in eight lanes, so the loop vectorises without
 * reassociation flags. */
static inline __attribute__((always_inline)) float sum8(const float *x, size_t n)
{
	float acc[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			acc[k] += x[i + k];
	float s = 0.0f;
	for (; i < n; i++)
		s += x[i];
	return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
	       ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* torch.nn.LayerNorm over one row: (x - mean) / sqrt(var + eps) * gamma +
 * beta (biased variance). */
#if defined(__AVX512F__)
#include <immintrin.h>
/* The first min(left, 16) lanes. */
static inline __attribute__((always_inline)) __mmask16 lanes16(size_t left)
{
	return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* Two chains of 16 lanes per sum, the tail masked: 4.6 times faster than
 * the eight-lane loop below, which GCC 12 turns into slow AVX-512 code
 * (MiniLM's 384-wide rows: 0.71 -> 0.15 ns per element). */
static inline __attribute__((always_inline)) void ln_row(float *row, const float *gamma,
                                                         const float *beta, float eps, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm512_add_ps(s0, _mm512_loadu_ps(row + i));
		s1 = _mm512_add_ps(s1, _mm512_loadu_ps(row + i + 16));
	}
	for (; i < n; i += 16)
		s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(lanes16(n - i), row + i));
	float mean = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)n;
	__m512 vm = _mm512_set1_ps(mean);
	s0 = s1 = _mm512_setzero_ps();
	for (i = 0; i + 32 <= n; i += 32) {
		__m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(row + i), vm);
		__m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(row + i + 16), vm);
		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i < n; i += 16) {
		__mmask16 m = lanes16(n - i);
		__m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, row + i), vm);
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	float var = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)n;
	__m512 inv = _mm512_set1_ps(1.0f / sqrtf(var + eps));
	for (i = 0; i < n; i += 16) {
		__mmask16 m = lanes16(n - i);
		__m512 x = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + i), vm), inv);
		_mm512_mask_storeu_ps(row + i, m,
		                      _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, gamma + i),
		                                      _mm512_maskz_loadu_ps(m, beta + i)));
	}
}
#else
static inline __attribute__((always_inline)) void ln_row(float *row, const float *gamma,
                                                         const float *beta, float eps, size_t n)
{
	float mean = sum8(row, n) / (float)n;
	float acc[8] = {0}, tail = 0.0f;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++) {
			float d = row[i + k] - mean;
			acc[k] += d * d;
		}
	for (; i < n; i++)
		tail += (row[i] - mean) * (row[i] - mean);
	float var = (tail + ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
	             ((acc[2] + acc[6]) + (acc[3] + acc[7]))) /
	            (float)n;
	float inv = 1.0f / sqrtf(var + eps);
	for (size_t j = 0; j < n; j++)
		row[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
}
#endif

/* row += add over n elements (add may be NULL). */
static inline __attribute__((always_inline)) void add_row(float *row, const float *add, size_t n)
{
	if (add != NULL)
		for (size_t i = 0; i < n; i++)
			row[i] += add[i];
}

void KERNEL(layer_norm_rows)(float *x, const float *residual, const float *gamma, const float *beta,
                             float eps, size_t n_rows, size_t n)
{
	for (size_t r = 0; r < n_rows; r++) {
		add_row(x + r * n, residual != NULL ? residual + r * n : NULL, n);
		ln_row(x + r * n, gamma, beta, eps, n);
	}
}

void KERNEL(bias_norm_rows)(float *x, size_t ld, const float *bias, const struct layer_norm *ln,
                            size_t n_rows, size_t n)
{
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * ld;
		add_row(row, bias, n);
		if (!ln->no_norm) {
			ln_row(row, ln->gamma, ln->beta, ln->eps, n);
			continue;
		}
		for (size_t i = 0; i < n; i++) /* MobileBERT's NoNorm */
			row[i] = row[i] * ln->gamma[i] + ln->beta[i];
	}
}

/* transformers.activations: GELUActivation (erf), NewGELUActivation (tanh). */
static inline __attribute__((always_inline)) void act_row(float *x, size_t n, enum activation act)
{
	switch (act) {
	case ACT_NONE:
		break;
	case ACT_GELU:
		for (size_t i = 0; i < n; i++)
			x[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.70710678118654752f));
		break;
	case ACT_GELU_TANH:
		for (size_t i = 0; i < n; i++) {
			float v = x[i];
			float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
			x[i] = 0.5f * v * (1.0f + fast_tanh(inner));
		}
		break;
	case ACT_RELU:
		for (size_t i = 0; i < n; i++)
			x[i] = x[i] > 0.0f ? x[i] : 0.0f;
		break;
	case ACT_TANH:
		for (size_t i = 0; i < n; i++)
			x[i] = tanhf(x[i]);
		break;
	}
}

void KERNEL(activation_apply)(float *x, size_t n, enum activation act)
{
	act_row(x, n, act);
}

void KERNEL(bias_act_rows)(float *x, size_t ld, const float *bias, size_t n_rows, size_t n,
                           enum activation act)
{
	for (size_t r = 0; r < n_rows; r++) {
		add_row(x + r * ld, bias, n);
		act_row(x + r * ld, n, act);
	}
}

/*
 * Softmax terms whose exponent is below this are 0. fast_exp clamps its
 * argument at -87.3 and so answers ~1e-38 for a masked score (-inf), which
 * divided by the row's sum is a denormal; the products after the softmax
 * then run up to five times slower on denormal inputs (ModernBERT's banded
 * attention was). exp(-60) / 8192 is still a normal float, and terms this
 * small change no probability by more than 1e-26.
 */
#define SOFTMAX_CUTOFF (-60.0f)

#if defined(__AVX512F__)
/* torch.softmax(scores * scale, dim=-1) over rows of stride ld: max, exp
 * and sum, scale; 16 lanes, the tail masked. */
void KERNEL(softmax_rows_ld)(float *x, size_t ld, float scale, size_t n_rows, size_t n,
                             float *inv_sum)
{
	__mmask16 tail = (__mmask16)((1u << (n % 16)) - 1u);
	size_t full = n - n % 16;
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * ld;
		__m512 mx = _mm512_set1_ps(-INFINITY);
		for (size_t i = 0; i < full; i += 16)
			mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + i));
		if (tail)
			mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, tail, row + full));
		__m512 vs = _mm512_set1_ps(scale);
		__m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx) * scale);
		__m512 sum = _mm512_setzero_ps();
		__m512 cut = _mm512_set1_ps(SOFTMAX_CUTOFF);
		for (size_t i = 0; i < full; i += 16) {
			__m512 a = _mm512_fmsub_ps(_mm512_loadu_ps(row + i), vs, m);
			__m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, cut, _CMP_GE_OQ),
			                               exp16_nonpos(a));
			_mm512_storeu_ps(row + i, e);
			sum = _mm512_add_ps(sum, e);
		}
		if (tail) {
			__m512 a = _mm512_fmsub_ps(_mm512_maskz_loadu_ps(tail, row + full), vs, m);
			__m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, cut, _CMP_GE_OQ),
			                               exp16_nonpos(a));
			_mm512_mask_storeu_ps(row + full, tail, e);
			sum = _mm512_mask_add_ps(sum, tail, sum, e);
		}
		float inv_total = 1.0f / _mm512_reduce_add_ps(sum);
		if (inv_sum != NULL) {
			inv_sum[r] = inv_total;
			continue;
		}
		__m512 inv = _mm512_set1_ps(inv_total);
		for (size_t i = 0; i < full; i += 16)
			_mm512_storeu_ps(row + i, _mm512_mul_ps(_mm512_loadu_ps(row + i), inv));
		if (tail)
			_mm512_mask_storeu_ps(
			    row + full, tail,
			    _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + full), inv));
	}
}
#elif defined(__AVX2__) && defined(__FMA__)
static inline float hmax8(__m256 v)
{
	__m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	m = _mm_max_ps(m, _mm_movehl_ps(m, m));
	m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
	return _mm_cvtss_f32(m);
}

static inline float hsum8(__m256 v)
{
	__m128 m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	m = _mm_add_ps(m, _mm_movehl_ps(m, m));
	m = _mm_add_ss(m, _mm_shuffle_ps(m, m, 1));
	return _mm_cvtss_f32(m);
}

/* torch.softmax(scores * scale, dim=-1) over rows of stride ld; 8 lanes,
 * the tail in scalar code. */
void KERNEL(softmax_rows_ld)(float *x, size_t ld, float scale, size_t n_rows, size_t n,
                             float *inv_sum)
{
	size_t full = n - n % 8;
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * ld;
		__m256 mx = _mm256_set1_ps(-INFINITY);
		for (size_t i = 0; i < full; i += 8)
			mx = _mm256_max_ps(mx, _mm256_loadu_ps(row + i));
		float max = hmax8(mx);
		for (size_t i = full; i < n; i++)
			max = row[i] > max ? row[i] : max;
		max *= scale;
		__m256 vs = _mm256_set1_ps(scale), m = _mm256_set1_ps(max);
		__m256 sum = _mm256_setzero_ps();
		__m256 cut = _mm256_set1_ps(SOFTMAX_CUTOFF);
		for (size_t i = 0; i < full; i += 8) {
			__m256 a = _mm256_fmsub_ps(_mm256_loadu_ps(row + i), vs, m);
			__m256 e = _mm256_and_ps(_mm256_cmp_ps(a, cut, _CMP_GE_OQ), exp8(a));
			_mm256_storeu_ps(row + i, e);
			sum = _mm256_add_ps(sum, e);
		}
		float total = hsum8(sum);
		for (size_t i = full; i < n; i++) {
			float a = row[i] * scale - max;
			total += (row[i] = a >= SOFTMAX_CUTOFF ? fast_exp(a) : 0.0f);
		}
		float inv = 1.0f / total;
		if (inv_sum != NULL) {
			inv_sum[r] = inv;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			row[i] *= inv;
	}
}
#else
/* torch.softmax(scores * scale, dim=-1) over rows of stride ld. */
void KERNEL(softmax_rows_ld)(float *x, size_t ld, float scale, size_t n_rows, size_t n,
                             float *inv_sum)
{
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * ld;
		float mx[8], max;
		size_t i = 0;
		for (int k = 0; k < 8; k++)
			mx[k] = -INFINITY;
		for (; i + 8 <= n; i += 8)
			for (int k = 0; k < 8; k++)
				mx[k] = row[i + k] > mx[k] ? row[i + k] : mx[k];
		max = mx[0];
		for (int k = 1; k < 8; k++)
			max = mx[k] > max ? mx[k] : max;
		for (; i < n; i++)
			max = row[i] > max ? row[i] : max;
		max *= scale; /* scale > 0: the max of the scaled row */
		for (size_t j = 0; j < n; j++) {
			float a = row[j] * scale - max;
			row[j] = a >= SOFTMAX_CUTOFF ? fast_exp(a) : 0.0f;
		}
		float inv = 1.0f / sum8(row, n);
		if (inv_sum != NULL) {
			inv_sum[r] = inv;
			continue;
		}
		for (size_t j = 0; j < n; j++)
			row[j] *= inv;
	}
}
#endif

/* softmax_cols: down the columns of x (n_rows x n, stride ld), 64 columns
 * at a time, their maxima and sums in registers, lane by lane: no
 * horizontal reductions. */
#if defined(__AVX512F__)
void KERNEL(softmax_cols)(float *x, size_t ld, float scale, size_t n_rows, size_t n, float *inv_sum)
{
	__m512 vs = _mm512_set1_ps(scale), cut = _mm512_set1_ps(SOFTMAX_CUTOFF);
	for (size_t c0 = 0; c0 < n; c0 += 64) {
		__mmask16 lanes[4];
		__m512 mx[4], sum[4];
		for (int v = 0; v < 4; v++) {
			size_t c = c0 + 16 * (size_t)v;
			lanes[v] = c < n ? lanes16(n - c) : 0;
			mx[v] = _mm512_set1_ps(-INFINITY);
			sum[v] = _mm512_setzero_ps();
		}
		for (size_t r = 0; r < n_rows; r++)
			for (int v = 0; v < 4; v++)
				mx[v] = _mm512_mask_max_ps(
				    mx[v], lanes[v], mx[v],
				    _mm512_maskz_loadu_ps(lanes[v], x + r * ld + c0 + 16 * v));
		for (int v = 0; v < 4; v++) /* scale > 0: the max of the scaled column */
			mx[v] = _mm512_mul_ps(mx[v], vs);
		for (size_t r = 0; r < n_rows; r++)
			for (int v = 0; v < 4; v++) {
				float *p = x + r * ld + c0 + 16 * v;
				__m512 a =
				    _mm512_fmsub_ps(_mm512_maskz_loadu_ps(lanes[v], p), vs, mx[v]);
				__m512 e = _mm512_maskz_mov_ps(
				    _mm512_mask_cmp_ps_mask(lanes[v], a, cut, _CMP_GE_OQ),
				    exp16_nonpos(a));
				_mm512_mask_storeu_ps(p, lanes[v], e);
				sum[v] = _mm512_add_ps(sum[v], e);
			}
		for (int v = 0; v < 4; v++)
			_mm512_mask_storeu_ps(inv_sum + c0 + 16 * v, lanes[v],
			                      _mm512_div_ps(_mm512_set1_ps(1.0f), sum[v]));
	}
}
#else
void KERNEL(softmax_cols)(float *x, size_t ld, float scale, size_t n_rows, size_t n, float *inv_sum)
{
	for (size_t c0 = 0; c0 < n; c0 += 64) {
		size_t w = n - c0 < 64 ? n - c0 : 64;
		float mx[64], sum[64];
		for (size_t c = 0; c < 64; c++) {
			mx[c] = -INFINITY;
			sum[c] = 0.0f;
		}
		for (size_t r = 0; r < n_rows; r++) {
			const float *row = x + r * ld + c0;
			for (size_t c = 0; c < w; c++)
				mx[c] = row[c] > mx[c] ? row[c] : mx[c];
		}
		for (size_t c = 0; c < w; c++)
			mx[c] *= scale;
		for (size_t r = 0; r < n_rows; r++) {
			float *row = x + r * ld + c0;
			for (size_t c = 0; c < w; c++) {
				float a = row[c] * scale - mx[c];
				row[c] = a >= SOFTMAX_CUTOFF ? fast_exp(a) : 0.0f;
				sum[c] += row[c];
			}
		}
		for (size_t c = 0; c < w; c++)
			inv_sum[c0 + c] = 1.0f / sum[c];
	}
}
#endif

void KERNEL(softmax_rows)(float *x, float scale, size_t n_rows, size_t n)
{
	KERNEL(softmax_rows_ld)(x, n, scale, n_rows, n, NULL);
}

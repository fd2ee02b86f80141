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

/*
 * erf as a rational function of x (Eigen's generic_fast_erf_float): max
 * error 4e-7 over all floats, branch-free so the loops vectorise. GELU
 * through it stays within 2e-6 of the erff-based formula.
 */
static inline __attribute__((always_inline)) float fast_erf(float a)
{
	float x = a > 4.0f ? 4.0f : (a < -4.0f ? -4.0f : a);
	float x2 = x * x;
	float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
	p = x2 * p + -2.10102402082508e-06f;
	p = x2 * p + -5.69250639462346e-05f;
	p = x2 * p + -7.34990630326855e-04f;
	p = x2 * p + -2.95459980854025e-03f;
	p = x2 * p + -1.60960333262415e-02f;
	p = x * p;
	float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
	q = x2 * q + -1.68282697438203e-03f;
	q = x2 * q + -7.37332916720468e-03f;
	q = x2 * q + -1.42647390514189e-02f;
	return p / q;
}

/* expf by range reduction to [-ln2/2, ln2/2] and Cephes' polynomial: relative
 * error below 1e-7, branch-free. */
static inline __attribute__((always_inline)) float fast_exp(float x)
{
	x = x > 88.3762626647949f ? 88.3762626647949f
	                          : (x < -87.3365478515625f ? -87.3365478515625f : x);
	float fx = floorf(x * 1.44269504088896341f + 0.5f);
	x = x - fx * 0.693359375f + fx * 2.12194440e-4f;
	float y = 1.9875691500e-4f;
	y = y * x + 1.3981999507e-3f;
	y = y * x + 8.3334519073e-3f;
	y = y * x + 4.1665795894e-2f;
	y = y * x + 1.6666665459e-1f;
	y = y * x + 5.0000001201e-1f;
	y = y * x * x + x + 1.0f;
	uint32_t bits = (uint32_t)((int32_t)fx + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof(scale));
	return y * scale;
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1); absolute error below 1e-7. */
static inline __attribute__((always_inline)) float fast_tanh(float x)
{
	return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f);
}

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

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
/* fast_exp, 16 lanes: the same range reduction and polynomial. */
static inline __attribute__((always_inline)) __m512 exp16(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3365478515625f)),
	                  _mm512_set1_ps(88.3762626647949f));
	__m512 fx = _mm512_roundscale_ps(
	    _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
	    _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
	x = _mm512_fmadd_ps(fx, _mm512_set1_ps(2.12194440e-4f), x);
	__m512 y = _mm512_set1_ps(1.9875691500e-4f);
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
	y = _mm512_fmadd_ps(_mm512_mul_ps(y, x), x, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
	return _mm512_scalef_ps(y, fx);
}

/* torch.softmax(scores * scale, dim=-1) over rows of stride ld: max, exp
 * and sum, scale; 16 lanes, the tail masked. */
void KERNEL(softmax_rows_ld)(float *x, size_t ld, float scale, size_t n_rows, size_t n)
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
		for (size_t i = 0; i < full; i += 16) {
			__m512 e = exp16(_mm512_fmsub_ps(_mm512_loadu_ps(row + i), vs, m));
			_mm512_storeu_ps(row + i, e);
			sum = _mm512_add_ps(sum, e);
		}
		if (tail) {
			__m512 e =
			    exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(tail, row + full), vs, m));
			_mm512_mask_storeu_ps(row + full, tail, e);
			sum = _mm512_mask_add_ps(sum, tail, sum, e);
		}
		__m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
		for (size_t i = 0; i < full; i += 16)
			_mm512_storeu_ps(row + i, _mm512_mul_ps(_mm512_loadu_ps(row + i), inv));
		if (tail)
			_mm512_mask_storeu_ps(
			    row + full, tail,
			    _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + full), inv));
	}
}
#elif defined(__AVX2__) && defined(__FMA__)
/* fast_exp, 8 lanes. */
static inline __attribute__((always_inline)) __m256 exp8(__m256 x)
{
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3365478515625f)),
	                  _mm256_set1_ps(88.3762626647949f));
	__m256 fx = _mm256_floor_ps(
	    _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
	x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
	x = _mm256_fmadd_ps(fx, _mm256_set1_ps(2.12194440e-4f), x);
	__m256 y = _mm256_set1_ps(1.9875691500e-4f);
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
	y = _mm256_fmadd_ps(_mm256_mul_ps(y, x), x, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
	__m256i e =
	    _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

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
void KERNEL(softmax_rows_ld)(float *x, size_t ld, float scale, size_t n_rows, size_t n)
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
		for (size_t i = 0; i < full; i += 8) {
			__m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(row + i), vs, m));
			_mm256_storeu_ps(row + i, e);
			sum = _mm256_add_ps(sum, e);
		}
		float total = hsum8(sum);
		for (size_t i = full; i < n; i++)
			total += (row[i] = fast_exp(row[i] * scale - max));
		float inv = 1.0f / total;
		for (size_t i = 0; i < n; i++)
			row[i] *= inv;
	}
}
#else
/* torch.softmax(scores * scale, dim=-1) over rows of stride ld. */
void KERNEL(softmax_rows_ld)(float *x, size_t ld, float scale, size_t n_rows, size_t n)
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
		for (size_t j = 0; j < n; j++)
			row[j] = fast_exp(row[j] * scale - max);
		float inv = 1.0f / sum8(row, n);
		for (size_t j = 0; j < n; j++)
			row[j] *= inv;
	}
}
#endif

void KERNEL(softmax_rows)(float *x, float scale, size_t n_rows, size_t n)
{
	KERNEL(softmax_rows_ld)(x, n, scale, n_rows, n);
}

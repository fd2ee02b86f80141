/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The math the element-wise loops and the products' epilogues share, as
 * scalar functions every build vectorises (fast_erf, fast_exp, fast_tanh)
 * and as explicit 16-lane (AVX-512) and 8-lane (AVX2 + FMA) versions,
 * with the same polynomials. Included by kernels-simd.c and gemm-simd.c
 * (each compiled once per ISA); everything here is static inline.
 */
#ifndef SMOLSERVE_CORE_SIMD_MATH_H
#define SMOLSERVE_CORE_SIMD_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

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

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
/* fast_exp, 16 lanes, for x in [-87.3, 88.3]: the same range reduction and
 * polynomial. Lanes outside that range answer garbage (inf, NaN): for the
 * softmax, whose exponents are <= 0 and which zeroes those below its cutoff
 * anyway, two operations of sixteen saved. */
static inline __attribute__((always_inline)) __m512 exp16_nonpos(__m512 x)
{
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

/* fast_exp, 16 lanes: clamped as fast_exp, then exp16_nonpos. */
static inline __attribute__((always_inline)) __m512 exp16(__m512 x)
{
	return exp16_nonpos(_mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3365478515625f)),
	                                  _mm512_set1_ps(88.3762626647949f)));
}

/* 1 / q, 16 lanes, within an ulp or two of the division: the 14-bit
 * estimate and one Newton step. A zmm division occupies its port for 10 of
 * the 14 cycles a 14 x 32 product tile spends per k step; in the tile's
 * GELU epilogue it made the FFN's first product 4-8 % slower than without
 * an activation, this half of that. */
static inline __attribute__((always_inline)) __m512 rcp16(__m512 q)
{
	__m512 r = _mm512_rcp14_ps(q);
	return _mm512_fmadd_ps(_mm512_fnmadd_ps(q, r, _mm512_set1_ps(1.0f)), r, r);
}

/* fast_erf, 16 lanes. */
static inline __attribute__((always_inline)) __m512 erf16(__m512 a)
{
	__m512 x = _mm512_min_ps(_mm512_max_ps(a, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
	__m512 x2 = _mm512_mul_ps(x, x);
	__m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.72614225801306e-10f),
	                           _mm512_set1_ps(2.77068142495902e-08f));
	p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.10102402082508e-06f));
	p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-5.69250639462346e-05f));
	p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-7.34990630326855e-04f));
	p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.95459980854025e-03f));
	p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-1.60960333262415e-02f));
	p = _mm512_mul_ps(x, p);
	__m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(-1.45660718464996e-05f),
	                           _mm512_set1_ps(-2.13374055278905e-04f));
	q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.68282697438203e-03f));
	q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-7.37332916720468e-03f));
	q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.42647390514189e-02f));
	return _mm512_mul_ps(p, rcp16(q));
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1), 16 lanes. */
static inline __attribute__((always_inline)) __m512 tanh16(__m512 x)
{
	__m512 e = exp16(_mm512_add_ps(x, x));
	return _mm512_sub_ps(
	    _mm512_set1_ps(1.0f),
	    _mm512_mul_ps(_mm512_set1_ps(2.0f), rcp16(_mm512_add_ps(e, _mm512_set1_ps(1.0f)))));
}

/* act(v), 16 lanes (as activation_apply). */
static inline __attribute__((always_inline)) __m512 act16(__m512 v, enum activation act)
{
	switch (act) {
	case ACT_GELU:
		return _mm512_mul_ps(
		    _mm512_mul_ps(_mm512_set1_ps(0.5f), v),
		    _mm512_add_ps(_mm512_set1_ps(1.0f),
		                  erf16(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)))));
	case ACT_GELU_TANH: {
		__m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
		__m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.79788456080286536f),
		                             _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), v3, v));
		return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
		                     _mm512_add_ps(_mm512_set1_ps(1.0f), tanh16(inner)));
	}
	case ACT_RELU:
		return _mm512_max_ps(v, _mm512_setzero_ps());
	case ACT_TANH:
		return tanh16(v);
	default:
		return v;
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

/* fast_erf, 8 lanes. */
static inline __attribute__((always_inline)) __m256 erf8(__m256 a)
{
	__m256 x = _mm256_min_ps(_mm256_max_ps(a, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
	__m256 x2 = _mm256_mul_ps(x, x);
	__m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f),
	                           _mm256_set1_ps(2.77068142495902e-08f));
	p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
	p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
	p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
	p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
	p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
	p = _mm256_mul_ps(x, p);
	__m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f),
	                           _mm256_set1_ps(-2.13374055278905e-04f));
	q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
	q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
	q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
	return _mm256_div_ps(p, q);
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1), 8 lanes. */
static inline __attribute__((always_inline)) __m256 tanh8(__m256 x)
{
	__m256 e = exp8(_mm256_add_ps(x, x));
	return _mm256_sub_ps(
	    _mm256_set1_ps(1.0f),
	    _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

/* act(v), 8 lanes (as activation_apply). */
static inline __attribute__((always_inline)) __m256 act8(__m256 v, enum activation act)
{
	switch (act) {
	case ACT_GELU:
		return _mm256_mul_ps(
		    _mm256_mul_ps(_mm256_set1_ps(0.5f), v),
		    _mm256_add_ps(_mm256_set1_ps(1.0f),
		                  erf8(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)))));
	case ACT_GELU_TANH: {
		__m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
		__m256 inner = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f),
		                             _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
		return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v),
		                     _mm256_add_ps(_mm256_set1_ps(1.0f), tanh8(inner)));
	}
	case ACT_RELU:
		return _mm256_max_ps(v, _mm256_setzero_ps());
	case ACT_TANH:
		return tanh8(v);
	default:
		return v;
	}
}
#endif

#endif

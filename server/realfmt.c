/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realfmt.h. A float f is scaled to nine digits in long double (x87's 64
 * significant bits: the result is within 1e-9 of the exact scaled value,
 * far inside a float's spacing), rounded to an integer q, and q's digits
 * are laid out as %g would. When the scaled value is within 1e-6 of a
 * rounding tie, the answer comes from snprintf instead (exactly as printf
 * rounds; rare), so every float prints as realfmt_float_printf prints it.
 */
#include "realfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int realfmt_float_printf(char buf[REALFMT_MAX], float f)
{
	if (!isfinite(f))
		return -1;
	int n = snprintf(buf, REALFMT_MAX - 2, "%.9g", (double)f);
	if (n < 0 || n >= REALFMT_MAX - 2)
		return -1;
	char *e = strchr(buf, 'e');
	if (e == NULL && strchr(buf, '.') == NULL) {
		memcpy(buf + n, ".0", 3);
		return n + 2;
	}
	if (e != NULL) {
		char *digits = e + 1, *src = e + 1;
		if (*src == '-')
			digits = ++src;
		else if (*src == '+')
			src++;
		while (*src == '0' && src[1] != '\0')
			src++;
		size_t rest = strlen(src);
		memmove(digits, src, rest + 1);
		n = (int)(digits - buf) + (int)rest;
	}
	return n;
}

/* 10^p for p in [-31, 54], enough for nine digits of any float (1.4e-45
 * to 3.4e38): each literal the nearest long double. */
#define P10_MIN (-31)
static const long double POW10[] = {
    1e-31L, 1e-30L, 1e-29L, 1e-28L, 1e-27L, 1e-26L, 1e-25L, 1e-24L, 1e-23L, 1e-22L, 1e-21L,
    1e-20L, 1e-19L, 1e-18L, 1e-17L, 1e-16L, 1e-15L, 1e-14L, 1e-13L, 1e-12L, 1e-11L, 1e-10L,
    1e-9L,  1e-8L,  1e-7L,  1e-6L,  1e-5L,  1e-4L,  1e-3L,  1e-2L,  1e-1L,  1e0L,   1e1L,
    1e2L,   1e3L,   1e4L,   1e5L,   1e6L,   1e7L,   1e8L,   1e9L,   1e10L,  1e11L,  1e12L,
    1e13L,  1e14L,  1e15L,  1e16L,  1e17L,  1e18L,  1e19L,  1e20L,  1e21L,  1e22L,  1e23L,
    1e24L,  1e25L,  1e26L,  1e27L,  1e28L,  1e29L,  1e30L,  1e31L,  1e32L,  1e33L,  1e34L,
    1e35L,  1e36L,  1e37L,  1e38L,  1e39L,  1e40L,  1e41L,  1e42L,  1e43L,  1e44L,  1e45L,
    1e46L,  1e47L,  1e48L,  1e49L,  1e50L,  1e51L,  1e52L,  1e53L,  1e54L};

int realfmt_float(char buf[REALFMT_MAX], float f)
{
	if (!isfinite(f))
		return -1;
	char *o = buf;
	if (signbit(f))
		*o++ = '-';
	long double d = fabsl((long double)f);
	if (d == 0.0L) {
		memcpy(o, "0.0", 4);
		return (int)(o - buf) + 3;
	}
	/* the decimal exponent from the binary one, maybe one off */
	int x = (int)floor((double)ilogbf(f) * 0.30102999566398120);
	long double s = 0.0L;
	for (int tries = 0; tries < 3; tries++) {
		s = d * POW10[8 - x - P10_MIN];
		if (s < 1e8L)
			x--;
		else if (s >= 1e9L)
			x++;
		else
			break;
	}
	if (s < 1e8L || s >= 1e9L)
		return realfmt_float_printf(buf, f);
	uint64_t q = (uint64_t)s; /* s > 0: truncation is floor */
	long double frac = s - (long double)q;
	if (fabsl(frac - 0.5L) < 1e-6L) /* a tie or too close to call: printf decides */
		return realfmt_float_printf(buf, f);
	q += frac > 0.5L;
	if (q == 1000000000u) { /* rounded up to the next power of ten */
		q = 100000000u;
		x++;
	}
	char dig[9];
	for (int i = 8; i >= 0; i--, q /= 10)
		dig[i] = (char)('0' + q % 10);
	int nd = 9;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (x < -4 || x >= 9) { /* d.ddde[-]x */
		*o++ = dig[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		*o++ = 'e';
		int ax = x;
		if (x < 0) {
			*o++ = '-';
			ax = -x;
		}
		if (ax >= 10)
			*o++ = (char)('0' + ax / 10);
		*o++ = (char)('0' + ax % 10);
	} else if (x >= 0) { /* ddd.ddd, at least one digit after the point */
		memcpy(o, dig, (size_t)x + 1);
		o += x + 1;
		*o++ = '.';
		if (nd > x + 1) {
			memcpy(o, dig + x + 1, (size_t)(nd - x - 1));
			o += nd - x - 1;
		} else {
			*o++ = '0';
		}
	} else { /* 0.000ddd */
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -x - 1; i++)
			*o++ = '0';
		memcpy(o, dig, (size_t)nd);
		o += nd;
	}
	*o = '\0';
	return (int)(o - buf);
}

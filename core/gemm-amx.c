/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dense products on Intel AMX tiles: the "amx" backend (gemm.h). AMX
 * multiplies bf16 (8 significant bits) and accumulates in fp32, sixteen
 * times the fp32 FMA rate of AVX-512 on the same core. To keep fp32's
 * accuracy each fp32 value is split in three bf16 parts, x = hi + mid + lo
 * (24 significant bits together, fp32's own: the rows' parts each the
 * bf16 rounding of what the parts before it left, the weights' truncated,
 * which is exact and cheaper), and a product of two values is summed as
 * its six terms down to 2^-16 of the product: hi.hi, hi.mid, mid.hi,
 * mid.mid, hi.lo, lo.hi (the three dropped terms are below 2^-23 of it,
 * about fp32's rounding). Two parts and three terms would run twice as
 * fast, but leave 2^-16 of every term: 1.3e-4 off on a sum of 1600 terms
 * in tests/core/test_dense.c, not fp32.
 *
 * The weights stay in the packed backend's fp32 panels (one layout, one
 * size, for both kernels and the layout cache). For every block of AMX_MB
 * rows each chunk of panels is split into bf16 tiles in a per-thread
 * buffer, for every 32 inputs six 16 x 32 tiles: hi, mid and lo of
 * columns 0-15 and 16-31, each row holding two inputs side by side per
 * column (the "VNNI" pairs TDPBF16PS reads); the rows are split the same
 * way. At 256 rows per block this ran as fast as panels split once at
 * load (which would hold 1.5 times the weights' bytes); for a few rows the
 * split is not paid back, which is one reason small products (gemm.c:
 * under AMX_MIN_ROWS rows per thread) stay on the fp32 kernel.
 *
 * Compiled with -mamx-tile -mamx-bf16 -mavx512bf16 (core/meson.build); run
 * only where gemm_amx_usable() says the CPU and the kernel allow it.
 */
#include "gemm-impl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <immintrin.h>

#include "simd-math.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA  18

/* Rows split at once (a multiple of 32) and inputs per slice (a multiple
 * of 32): the split rows (AMX_MB x AMX_KC x 3 bf16, 576 KB) and a chunk of
 * AMX_NPC split panels (432 KB) stay in L2 while every 32-row block runs
 * over every panel of the chunk. Each panel comes from memory once per
 * AMX_MB rows: 256 rows ran the QKV and FFN shapes 15-20 % faster than 128
 * (one thread, MiniLM's and BERT-base's shapes), and 768 inputs per slice
 * (fewer passes over y) no faster than 384 once the rows were 256. */
#define AMX_MB  256
#define AMX_KC  384
#define AMX_NPC 6

/* bf16 elements in one 16 x 32 tile, and per 32 inputs of a panel. */
#define TILE_ELEMS  512
#define KBLOCK_ELEM (6 * TILE_ELEMS)

static int usable;
static pthread_once_t usable_once = PTHREAD_ONCE_INIT;

/* AMX-TILE, AMX-BF16, AVX-512 F/BW/DQ/VL and BF16 (this file is compiled
 * for all of them) with their states enabled (cpu_isa_detect), and Linux's
 * permission to use the tiles (asked once, for the process). */
static void probe(void)
{
	struct cpu_isa cpu;
	cpu_isa_detect(&cpu);
	if (cpu.avx512 && cpu.avx512_bf16 && cpu.amx_bf16)
		usable = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int gemm_amx_usable(void)
{
	pthread_once(&usable_once, probe);
	return usable;
}

/* --- the product ---------------------------------------------------------- */

/* A thread's split rows (up to AMX_MB x AMX_KC, three parts) and split
 * panels (up to AMX_NPC x AMX_KC x 32, three parts): grown to what the
 * thread's products need (at most 1 MiB) the first time they need it,
 * freed when the thread exits. */
struct split_buf {
	uint16_t *data;
	size_t cap; /* elements */
};

static pthread_key_t split_key;
static pthread_once_t split_once = PTHREAD_ONCE_INIT;
static _Atomic size_t split_bytes; /* held by all threads: gemm_amx_buffer_bytes */

static void split_free(void *p)
{
	struct split_buf *b = p;
	split_bytes -= b->cap * sizeof(uint16_t);
	free(b->data);
	free(b);
}

size_t gemm_amx_buffer_bytes(void)
{
	return split_bytes;
}

static void split_key_make(void)
{
	(void)pthread_key_create(&split_key, split_free);
}

/* At least `need` elements, or NULL if there is no memory for them. */
static uint16_t *split_buffer(size_t need)
{
	pthread_once(&split_once, split_key_make);
	struct split_buf *b = pthread_getspecific(split_key);
	if (b == NULL) {
		b = calloc(1, sizeof(*b));
		if (b == NULL || pthread_setspecific(split_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < need) {
		size_t bytes = (need * sizeof(uint16_t) + 4095) & ~(size_t)4095;
		uint16_t *d = aligned_alloc(64, bytes);
		if (d == NULL)
			return NULL;
		free(b->data);
		split_bytes += bytes - b->cap * sizeof(uint16_t);
		b->data = d;
		b->cap = bytes / sizeof(uint16_t);
	}
	return b->data;
}

/* 16 bf16 (as 16-bit lanes) back to fp32. */
static inline __m512 widen(__m256bh h)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)h), 16));
}

/* Rows [0, rows_pad) x inputs [0, kc_pad) of x split into hi, mid and lo,
 * laid out as the panels are: for each 32 rows and each 32 inputs, six
 * 16 x 32 tiles one after another (hi of rows 0-15, hi of 16-31, mid...,
 * lo...), so a block of 32 rows reads one stream. Rows past `rows` and
 * inputs past kc are zeros. */
static void split_rows(uint16_t *dst, const float *x, size_t ldx, int rows, int rows_pad, int kc,
                       int kc_pad)
{
	size_t n_kb = (size_t)kc_pad / 32;
	for (int r = 0; r < rows_pad; r++)
		for (int c = 0; c < kc_pad; c += 16) {
			__mmask16 m = c + 16 <= kc ? 0xffff
			              : c < kc     ? (__mmask16)((1u << (kc - c)) - 1u)
			                           : 0;
			__m512 v = r < rows ? _mm512_maskz_loadu_ps(m, x + (size_t)r * ldx + c)
			                    : _mm512_setzero_ps();
			size_t tile = ((size_t)(r / 32) * n_kb + (size_t)(c / 32)) * KBLOCK_ELEM +
			              (size_t)(r % 32 / 16) * TILE_ELEMS;
			size_t at = tile + (size_t)(r % 16) * 32 + (size_t)(c % 32);
			for (int p = 0; p < 3; p++) {
				__m256bh h = _mm512_cvtneps_pbh(v);
				_mm256_storeu_si256(
				    (__m256i *)(dst + at + (size_t)p * 2 * TILE_ELEMS), (__m256i)h);
				v = _mm512_sub_ps(v, widen(h));
			}
		}
}

/* Panels [0, n_p) (fp32, panel_stride floats apart, rows of GEMM_NR) at
 * inputs [0, kc) split into the tiles TDPBF16PS reads: for every 32 inputs
 * and each part, columns 0-15 then 16-31, each tile row two inputs side by
 * side per column. Inputs past kc up to kc_pad are zeros. The split
 * truncates (hi: x's upper 16 bits, mid: the rest's, lo: what remains, at
 * most 8 significant bits, exact): three integer operations a part instead
 * of a rounding conversion and a shuffle, a third of this loop's time, and
 * x = hi + mid + lo still exactly. */
static void split_panels(uint16_t *dst, const float *panels, size_t panel_stride, int n_p, int kc,
                         int kc_pad)
{
	const __m512i upper = _mm512_set1_epi32((int)0xffff0000u);
	size_t n_kb = (size_t)kc_pad / 32;
	for (int p = 0; p < n_p; p++) {
		const float *src = panels + (size_t)p * panel_stride;
		uint16_t *out = dst + (size_t)p * n_kb * KBLOCK_ELEM;
		for (int k = 0; k < kc_pad; k += 2) {
			uint16_t *row =
			    out + (size_t)(k / 32) * KBLOCK_ELEM + (size_t)(k % 32 / 2) * 32;
			for (int h = 0; h < 2; h++) {
				__m512 a = k < kc
				               ? _mm512_loadu_ps(src + (size_t)k * GEMM_NR + 16 * h)
				               : _mm512_setzero_ps();
				__m512 b =
				    k + 1 < kc
				        ? _mm512_loadu_ps(src + (size_t)(k + 1) * GEMM_NR + 16 * h)
				        : _mm512_setzero_ps();
				for (int part = 0; part < 3; part++) {
					__m512i ai = _mm512_castps_si512(a),
					        bi = _mm512_castps_si512(b);
					__m512i a_up = _mm512_and_si512(ai, upper);
					__m512i b_up = _mm512_and_si512(bi, upper);
					/* lane c: row k's upper half low, row k + 1's high */
					_mm512_storeu_si512(
					    row + (size_t)(2 * part + h) * TILE_ELEMS,
					    _mm512_or_si512(b_up, _mm512_srli_epi32(ai, 16)));
					a = _mm512_sub_ps(a, _mm512_castsi512_ps(a_up));
					b = _mm512_sub_ps(b, _mm512_castsi512_ps(b_up));
				}
			}
		}
	}
}

/* One term of the six: A's part pa (rows 0-15 in tile 4, 16-31 in tile
 * 5) times the panel's part pb (columns 0-15 in tile 6, 16-31 in tile 7),
 * each loaded unless the tiles already hold it (*a_in, *b_in). ak and bk:
 * the block of 32 inputs, six tiles each. */
static inline __attribute__((always_inline)) void
term(const uint16_t *ak, const uint16_t *bk, int pa, int pb, int *a_in, int *b_in, int two)
{
	if (*a_in != pa) {
		_tile_loadd(4, ak + (size_t)pa * 2 * TILE_ELEMS, 64);
		if (two)
			_tile_loadd(5, ak + (size_t)pa * 2 * TILE_ELEMS + TILE_ELEMS, 64);
		*a_in = pa;
	}
	if (*b_in != pb) {
		_tile_loadd(6, bk + (size_t)pb * 2 * TILE_ELEMS, 64);
		_tile_loadd(7, bk + (size_t)pb * 2 * TILE_ELEMS + TILE_ELEMS, 64);
		*b_in = pb;
	}
	_tile_dpbf16ps(0, 4, 6);
	_tile_dpbf16ps(1, 4, 7);
	if (two) {
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
	}
}

/* C (rows 32, or 16 if !two; 32 columns) = A . panel over n_kb blocks of 32
 * inputs, into out (32 x 32, rows 32 floats apart). Tiles 0-3 hold C. The
 * six terms in an order that changes one side at a time (14 tile loads for
 * 24 products). */
static void tile_block(const uint16_t *a, const uint16_t *b, int n_kb, float *out, int two)
{
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	for (int kb = 0; kb < n_kb; kb++) {
		const uint16_t *bk = b + (size_t)kb * KBLOCK_ELEM;
		const uint16_t *ak = a + (size_t)kb * KBLOCK_ELEM;
		int a_in = -1, b_in = -1;
		term(ak, bk, 0, 2, &a_in, &b_in, two); /* hi.lo */
		term(ak, bk, 0, 1, &a_in, &b_in, two); /* hi.mid */
		term(ak, bk, 1, 1, &a_in, &b_in, two); /* mid.mid */
		term(ak, bk, 1, 0, &a_in, &b_in, two); /* mid.hi */
		term(ak, bk, 0, 0, &a_in, &b_in, two); /* hi.hi */
		term(ak, bk, 2, 0, &a_in, &b_in, two); /* lo.hi */
	}
	_tile_stored(0, out, 32 * sizeof(float));
	_tile_stored(1, out + 16, 32 * sizeof(float));
	if (two) {
		_tile_stored(2, out + 16 * 32, 32 * sizeof(float));
		_tile_stored(3, out + 16 * 32 + 16, 32 * sizeof(float));
	}
}

/* y (rows x cols) = [y +] t, then act(. + bias) when bias or act is set. */
static void write_out(float *y, size_t ldy, const float *t, int rows, int cols, int add,
                      const float *bias, enum activation act)
{
	__mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1u);
	__mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1u);
	__m512 b0 = bias != NULL ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
	__m512 b1 = bias != NULL ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
	int finish = bias != NULL || act != ACT_NONE;
	for (int r = 0; r < rows; r++) {
		float *row = y + (size_t)r * ldy;
		__m512 v0 = _mm512_load_ps(t + r * 32), v1 = _mm512_load_ps(t + r * 32 + 16);
		if (add) {
			v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
			v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
		}
		if (finish) {
			v0 = act16(_mm512_add_ps(v0, b0), act);
			v1 = act16(_mm512_add_ps(v1, b1), act);
		}
		_mm512_mask_storeu_ps(row, m0, v0);
		_mm512_mask_storeu_ps(row + 16, m1, v1);
	}
}

struct tile_config {
	uint8_t palette, start_row, reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} __attribute__((packed));

void gemm_amx_rows(float *y, size_t ldy, const float *x, size_t ldx, int m, int k_dim,
                   const float *panels, size_t panel_stride, int n_panels, int n_valid_last,
                   const float *bias, enum activation act, int accumulate)
{
	/* Without the thread's buffers (no memory for them), smaller blocks
	 * on the stack: slower, never wrong. */
	uint16_t small[3 * (32 + GEMM_NR) * 64] __attribute__((aligned(64)));
	int max_rows = (m + 31) & ~31, max_k = (k_dim + 31) & ~31, max_p = n_panels;
	max_rows = max_rows < AMX_MB ? max_rows : AMX_MB;
	max_k = max_k < AMX_KC ? max_k : AMX_KC;
	max_p = max_p < AMX_NPC ? max_p : AMX_NPC;
	uint16_t *buf =
	    split_buffer((size_t)3 * (size_t)(max_rows + max_p * GEMM_NR) * (size_t)max_k);
	if (buf == NULL) {
		buf = small;
		max_rows = 32;
		max_k = 64;
		max_p = 1;
	}
	uint16_t *bsplit = buf + (size_t)3 * (size_t)max_rows * (size_t)max_k;
	float out[32 * 32] __attribute__((aligned(64)));
	struct tile_config cfg __attribute__((aligned(64)));
	memset(&cfg, 0, sizeof(cfg));
	cfg.palette = 1;
	for (int i = 0; i < 8; i++) {
		cfg.colsb[i] = 64;
		cfg.rows[i] = 16;
	}
	_tile_loadconfig(&cfg);
	for (int i0 = 0; i0 < m; i0 += max_rows) {
		int mb = m - i0 < max_rows ? m - i0 : max_rows, mb_pad = (mb + 15) & ~15;
		for (int k0 = 0; k0 < k_dim; k0 += max_k) {
			int kc = k_dim - k0 < max_k ? k_dim - k0 : max_k, kc_pad = (kc + 31) & ~31;
			int first = k0 == 0, last = k0 + kc == k_dim;
			size_t n_kb = (size_t)kc_pad / 32;
			split_rows(buf, x + (size_t)i0 * ldx + (size_t)k0, ldx, mb, mb_pad, kc,
			           kc_pad);
			for (int q0 = 0; q0 < n_panels; q0 += max_p) {
				int q1 = n_panels - q0 < max_p ? n_panels : q0 + max_p;
				split_panels(bsplit,
				             panels + (size_t)q0 * panel_stride +
				                 (size_t)k0 * GEMM_NR,
				             panel_stride, q1 - q0, kc, kc_pad);
				for (int s0 = 0; s0 < mb_pad; s0 += 32) {
					const uint16_t *a =
					    buf + (size_t)(s0 / 32) * n_kb * KBLOCK_ELEM;
					int two = s0 + 16 < mb_pad;
					int rows = mb - s0 < 32 ? mb - s0 : 32;
					for (int p = q0; p < q1; p++) {
						tile_block(a,
						           bsplit + (size_t)(p - q0) * n_kb *
						                        KBLOCK_ELEM,
						           (int)n_kb, out, two);
						write_out(y + (size_t)(i0 + s0) * ldy +
						              (size_t)p * GEMM_NR,
						          ldy, out, rows,
						          p == n_panels - 1 ? n_valid_last
						                            : GEMM_NR,
						          accumulate || !first,
						          last && bias != NULL
						              ? bias + (size_t)p * GEMM_NR
						              : NULL,
						          last ? act : ACT_NONE);
					}
				}
			}
		}
	}
	_tile_release();
}

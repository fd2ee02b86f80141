/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to gemm.c, attention.c and the three builds of gemm-simd.c: the
 * packed panel width and the per-ISA block kernels.
 */
#ifndef SMOLSERVE_CORE_GEMM_IMPL_H
#define SMOLSERVE_CORE_GEMM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h"
#include "kernels-impl.h"

/* Applied to a tile in registers after its last k step:
 * C = act(C * row_scale + bias) (bias: the block's first column's entry,
 * row_scale: its first row's, either NULL for none). */
struct gemm_epi {
	const float *bias;
	enum activation act;
	const float *row_scale;
};

/*
 * C (m, 32 n_panels) [+]= A (m, kc) . panels: panel p starts at
 * panels + p * panel_stride and is (kc, GEMM_NR) with rows ldb floats
 * apart (GEMM_NR when packed; a wider stride reads B in place, e.g. the
 * values of one head); C's columns beyond n_valid_last in the last panel
 * are neither read nor written (B's are read: they must exist).
 * accumulate: add to C instead of overwriting it. epi (NULL: none) is
 * applied to the result. gemm_block_at takes A as its transpose, in place:
 * A(r, k) = a[k * lda + r] (attention's probabilities, stored keys x
 * queries: no copy of them before the product).
 */
#define GEMM_BLOCK_DECLARE(suffix)                                                                 \
	extern const int gemm_mr_##suffix;                                                         \
	void gemm_pack_panel_##suffix(float *dst, const float *const rows[GEMM_NR], int k_dim);    \
	void gemm_block_##suffix(float *c, size_t ldc, const float *a, size_t lda,                 \
	                         const float *panels, size_t panel_stride, size_t ldb,             \
	                         int n_panels, int n_valid_last, int m, int kc, int accumulate,    \
	                         const struct gemm_epi *epi);                                      \
	void gemm_block_at_##suffix(float *c, size_t ldc, const float *a, size_t lda,              \
	                            const float *panels, size_t panel_stride, size_t ldb,          \
	                            int n_panels, int n_valid_last, int m, int kc, int accumulate, \
	                            const struct gemm_epi *epi);

GEMM_BLOCK_DECLARE(generic)
GEMM_BLOCK_DECLARE(avx2)
GEMM_BLOCK_DECLARE(avx512)

/*
 * gemm_pack_panel: one panel (k_dim, 32) of B from 32 source rows of k_dim
 * floats: dst[k * 32 + c] = rows[c][k], rows[c] == NULL giving zeros (the
 * rows of a weight matrix, or the keys of one head: B = rows^T).
 */

/*
 * gemm-amx.c, built where the compiler knows AMX (SMOLSERVE_HAVE_AMX):
 * gemm_amx_usable says whether this CPU and OS run it (and asks Linux for
 * the tile state, once). gemm_amx_rows: y (m, 32 n_panels) [+]= x (m,
 * k_dim) . panels (the packed layout: panel p at panels + p * panel_stride,
 * (k_dim, GEMM_NR) row-major; the last panel's columns past n_valid_last
 * neither read nor written), then act(. + bias) if bias or act is set
 * (bias: the first panel's first column's entry). gemm_amx_buffer_bytes:
 * the bytes of the threads' split buffers (gemm-amx.c), any thread.
 */
int gemm_amx_usable(void);
size_t gemm_amx_buffer_bytes(void);
void gemm_amx_rows(float *y, size_t ldy, const float *x, size_t ldx, int m, int k_dim,
                   const float *panels, size_t panel_stride, int n_panels, int n_valid_last,
                   const float *bias, enum activation act, int accumulate);

/* The kernels this CPU runs (chosen once from CPUID). */
struct gemm_kernel {
	void (*block)(float *c, size_t ldc, const float *a, size_t lda, const float *panels,
	              size_t panel_stride, size_t ldb, int n_panels, int n_valid_last, int m,
	              int kc, int accumulate, const struct gemm_epi *epi);
	void (*block_at)(float *c, size_t ldc, const float *a, size_t lda, const float *panels,
	                 size_t panel_stride, size_t ldb, int n_panels, int n_valid_last, int m,
	                 int kc, int accumulate, const struct gemm_epi *epi);
	void (*pack_panel)(float *dst, const float *const rows[GEMM_NR], int k_dim);
	int mr;           /* rows of one register tile */
	const char *name; /* "avx512", "avx2+fma", "generic" */
};
const struct gemm_kernel *gemm_kernel(void);

#endif

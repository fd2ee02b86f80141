/*
 * The single door to OpenBLAS (see gemm.h). Kept tiny on purpose: if the
 * BLAS changes, only this file does.
 */
#include "gemm.h"

#include <cblas.h>
#include <string.h>

void gemm_nt(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k, int accumulate)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k,
	            1.0f, a, (blasint)lda, b, (blasint)ldb, accumulate ? 1.0f : 0.0f, c,
	            (blasint)ldc);
}

void gemm_nn(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k,
	            1.0f, a, (blasint)lda, b, (blasint)ldb, 0.0f, c, (blasint)ldc);
}

void linear(float *y, const float *x, const float *w, const float *bias, size_t m, size_t n_in,
            size_t n_out)
{
	if (bias != NULL) {
		for (size_t r = 0; r < m; r++)
			memcpy(y + r * n_out, bias, n_out * sizeof(*y));
	}
	gemm_nt(y, n_out, x, n_in, w, n_in, m, n_out, n_in, bias != NULL);
}

void gemm_set_threads(int n_threads)
{
	openblas_set_num_threads(n_threads > 0 ? n_threads : 1);
}

int gemm_get_threads(void)
{
	return openblas_get_num_threads();
}

const char *gemm_corename(void)
{
	const char *name = openblas_get_corename();
	return name != NULL ? name : "unknown";
}

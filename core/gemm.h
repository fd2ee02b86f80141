/*
 * Matrix products. gemm.c is the only file that includes cblas.h: every
 * large product in smolserve goes through OpenBLAS's cblas_sgemm here, so
 * the BLAS in use and its thread count are decided in one place.
 */
#ifndef SMOLSERVE_CORE_GEMM_H
#define SMOLSERVE_CORE_GEMM_H

#include <stddef.h>

/*
 * c (m, n) = a (m, k) . b (n, k)^T  [+ c if accumulate]. Row-major with
 * leading dimensions lda, ldb, ldc. This is torch.nn.Linear's x W^T with W
 * stored (out_features, in_features), as in Hugging Face checkpoints.
 */
void gemm_nt(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k, int accumulate);

/* c (m, n) = a (m, k) . b (k, n). Row-major with leading dimensions. */
void gemm_nn(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k);

/*
 * y (m, n_out) = x (m, n_in) . w^T + bias: one Linear layer. bias may be
 * NULL. The bias is written first and the product accumulated onto it.
 */
void linear(float *y, const float *x, const float *w, const float *bias, size_t m, size_t n_in,
            size_t n_out);

/* Threads OpenBLAS may use for one product (process-wide). Call before
 * workers start. */
void gemm_set_threads(int n_threads);
int gemm_get_threads(void);

/* OpenBLAS's name for the kernel set in use ("Haswell", "SkylakeX", ...). */
const char *gemm_corename(void);

#endif

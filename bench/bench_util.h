/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What bench_core and bench_long both measure with: a monotonic clock, a
 * comparator for sorting times, the machine's sgemm yardstick and the
 * process's resident memory. One copy, so the two tools' numbers mean the
 * same thing.
 */
#ifndef SMOLSERVE_BENCH_UTIL_H
#define SMOLSERVE_BENCH_UTIL_H

#include <stddef.h>

/* Seconds on CLOCK_MONOTONIC. */
double now_s(void);

/* qsort comparator for doubles, ascending. */
int cmp_double(const void *a, const void *b);

/* Best GFLOP/s of C (m, n) = A (m, k) . B^T over reps runs after one
 * warm-up: as one OpenBLAS call on all compute threads (packed = 0, the
 * yardstick), or through smolserve's packed kernel (packed = 1) or the amx
 * backend (packed = 2) split over a team of as many threads. 0 if memory is
 * missing. */
double sgemm_gflops(size_t m, size_t n, size_t k, int reps, int packed);

/* Resident set now and its peak (VmRSS, VmHWM), MiB; 0 where unknown. */
void rss_mib(double *rss, double *peak);

/* Resets the peak (VmHWM) to the current resident set (Linux clear_refs). */
void rss_reset_peak(void);

#endif

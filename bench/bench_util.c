/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The measuring helpers bench_core and bench_long share (bench_util.h).
 */
#include "bench_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gemm.h"
#include "hf_folder.h"
#include "team.h"

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Best GFLOP/s over reps runs, after one warm-up, of c = a b^T (m, n, k):
 * with packed = 0 one OpenBLAS call on all compute threads (the machine's
 * sgemm rate, the yardstick), with packed = 1 the packed backend's
 * dense_forward split over a team of as many threads. */
double sgemm_gflops(size_t m, size_t n, size_t k, int reps, int packed)
{
	int backend = packed == 2 ? GEMM_BACKEND_AMX : GEMM_BACKEND_PACKED;
	float *a = malloc(m * k * sizeof(float)), *b = malloc(n * k * sizeof(float));
	float *c = malloc(m * n * sizeof(float));
	const struct dense *parts[1];
	struct dense d = {b, NULL, (int32_t)k, (int32_t)n, NULL}, dp;
	struct gemm_packed pk;
	float *mem = NULL;
	struct team *t = NULL;
	double best = 0.0;
	uint64_t rng = 42;
	if (a == NULL || b == NULL || c == NULL)
		goto out;
	for (size_t i = 0; i < m * k; i++)
		a[i] = rng_uniform(&rng, -1.0f, 1.0f);
	for (size_t i = 0; i < n * k; i++)
		b[i] = rng_uniform(&rng, -1.0f, 1.0f);
	parts[0] = &d;
	if (packed) {
		gemm_backend_set((enum gemm_backend)backend, NULL, 0); /* back to auto below */
		if (team_create(&t, gemm_get_threads()) != 0 ||
		    (mem = aligned_alloc(64, gemm_pack_bytes(parts, 1))) == NULL)
			goto out;
		dense_pack(&dp, parts, 1, mem, &pk, NULL);
	}
	for (int r = 0; r <= reps; r++) {
		double t0 = now_s();
		if (packed)
			dense_forward(t, &dp, c, n, a, k, m, NULL);
		else
			gemm_nt_openblas_mt(c, n, a, k, b, k, m, n, k, gemm_get_threads());
		double g = 2.0 * (double)m * (double)n * (double)k / (now_s() - t0) * 1e-9;
		best = r > 0 && g > best ? g : best; /* r == 0: the warm-up */
	}
out:
	if (packed)
		gemm_backend_set(GEMM_BACKEND_AUTO, NULL, 0);
	team_destroy(t);
	free(mem);
	free(a);
	free(b);
	free(c);
	return best;
}

/* VmRSS and VmHWM of this process in MiB (0 if unreadable). */
void rss_mib(double *rss, double *peak)
{
	char line[256];
	unsigned long long v;
	*rss = *peak = 0.0;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			*rss = (double)v / 1024.0;
		if (sscanf(line, "VmHWM: %llu kB", &v) == 1)
			*peak = (double)v / 1024.0;
	}
	fclose(f);
}

/* Resets VmHWM to the current RSS (Linux: "5" into clear_refs), so each
 * shape's peak is its own. */
void rss_reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f != NULL) {
		fputs("5", f);
		fclose(f);
	}
}

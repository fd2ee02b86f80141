/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_long: one long input through a model, its time and its memory. For
 * ModernBERT-base (8192 positions) by default: the random-weight folder
 * bench_core writes (hf_folder.c), model_load as the server does it, a
 * worker's scratch sized by model_ctx_init for exactly one input of --len
 * tokens, then one warm-up and --runs timed forward passes of one sequence
 * of that length. Prints the median time, tokens/s, GFLOP/s against the
 * machine's sgemm rate, the scratch the model asked for, the resident set
 * after load, after the scratch and at its peak (VmHWM), in one line of
 * JSON as well with --json. Run on demand; never part of the test suite.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "gemm.h"
#include "hf_folder.h"
#include "model.h"
#include "status.h"

static const struct hf_shape SHAPES[] = {HF_SHAPE_MODERNBERT_BASE, HF_SHAPE_DEBERTA_V3_BASE,
                                         HF_SHAPE_MPNET_BASE};
/* bench_core's seeds for these shapes (1000 + their row in its table), so
 * whichever tool writes a folder first writes the same weights. */
static const uint64_t SEEDS[] = {1007, 1006, 1005};
#define N_SHAPES (sizeof(SHAPES) / sizeof(SHAPES[0]))
#define MAX_RUNS 64

struct opts {
	const char *shape, *dir;
	int32_t len;
	int runs, n_threads, json;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_long [--shape modernbert-base|deberta-v3-base|mpnet-base]\n"
	           "                  [--len N] [--runs N] [--threads N] [--dir DIR] [--json]\n"
	           "  --len N      tokens of the one input (default: the model's longest)\n"
	           "  --runs N     timed forward passes after one warm-up (default 3)\n"
	           "  --threads N  BLAS threads (default: CPUs this process may use)\n"
	           "  --dir DIR    model folders (default $BENCH_DIR, else bench/out)\n");
}

/* 0, 1 for --help, -1 for a bad command line. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *env = getenv("BENCH_DIR");
	*o = (struct opts){"modernbert-base", env != NULL && *env ? env : "bench/out", 0, 3, 0, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (v == NULL)
			return -1;
		if (strcmp(a, "--shape") == 0)
			o->shape = v;
		else if (strcmp(a, "--len") == 0)
			o->len = atoi(v);
		else if (strcmp(a, "--runs") == 0)
			o->runs = atoi(v);
		else if (strcmp(a, "--threads") == 0)
			o->n_threads = atoi(v);
		else if (strcmp(a, "--dir") == 0)
			o->dir = v;
		else
			return -1;
		i++;
	}
	return o->len >= 0 && o->runs >= 1 && o->runs <= MAX_RUNS && o->n_threads >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	char err[512], dir[4096];
	const struct hf_shape *sh = NULL;
	struct model *m = NULL;
	struct model_ctx c;
	int written = 0, rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	uint64_t seed = 0;
	for (size_t s = 0; s < N_SHAPES; s++)
		if (strcmp(SHAPES[s].name, o.shape) == 0)
			sh = &SHAPES[s], seed = SEEDS[s];
	if (sh == NULL) {
		usage(stderr);
		return 2;
	}
	cpu_set_t set;
	int n_cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
	gemm_set_threads(o.n_threads > 0 ? o.n_threads : n_cpus);
	if (mkdir_p(o.dir) != 0) {
		fprintf(stderr, "bench_long: %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	if (hf_folder_ensure(o.dir, sh, seed, dir, sizeof(dir), &written, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_long: %s\n", err);
		return 1;
	}
	double load[2] = {-1.0, -1.0};
	getloadavg(&load[0], 1);
	double sgemm = sgemm_gflops(4096, 3072, 768, 5, 0); /* bench_core's yardstick */
	double t0 = now_s();
	if (model_load(dir, NULL, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_long: %s\n", err);
		return 1;
	}
	double load_ms = 1e3 * (now_s() - t0), rss_loaded, rss_ctx, peak;
	rss_mib(&rss_loaded, &peak);
	int32_t len = o.len > 0 ? o.len : m->max_input_length;
	if (len > m->max_input_length) {
		fprintf(stderr, "bench_long: %s takes at most %d tokens\n", sh->name,
		        (int)m->max_input_length);
		model_destroy(m);
		return 2;
	}
	size_t scratch = encoder_scratch_bytes(&m->enc, len, m->max_input_length);
	if (model_ctx_init(&c, m, len) != 0) {
		fprintf(stderr, "bench_long: no scratch for %d tokens\n", (int)len);
		model_destroy(m);
		return 1;
	}
	rss_mib(&rss_ctx, &peak);

	uint64_t rng = 99;
	int32_t *ids = malloc((size_t)len * sizeof(int32_t)), starts[2] = {0, len};
	for (int32_t t = 0; ids != NULL && t < len; t++)
		ids[t] = rng_int(&rng, HF_FIRST_ID, sh->vocab_size - 1);
	struct packed_batch b = {1, len, ids, NULL, starts};
	double times[MAX_RUNS];
	rc = ids == NULL ? STATUS_ENOMEM : model_forward(m, &c, &b, err, sizeof(err));
	for (int r = 0; rc == 0 && r < o.runs; r++) {
		double t = now_s();
		rc = model_forward(m, &c, &b, err, sizeof(err));
		times[r] = now_s() - t;
	}
	getloadavg(&load[1], 1);
	double rss_end;
	rss_mib(&rss_end, &peak); /* the peak over the runs */
	if (rc != 0) {
		fprintf(stderr, "bench_long: %s\n", err);
	} else {
		qsort(times, (size_t)o.runs, sizeof(double), cmp_double);
		double med = o.runs % 2 ? times[o.runs / 2]
		                        : 0.5 * (times[o.runs / 2 - 1] + times[o.runs / 2]);
		double gflop = encoder_flops(&m->enc, &b) * 1e-9;
		printf("%s: one input of %d tokens, %d BLAS threads (%s), load average %.2f -> "
		       "%.2f\n",
		       sh->name, (int)len, gemm_get_threads(), gemm_corename(), load[0], load[1]);
		printf("  forward   median %.3f s (min %.3f, max %.3f, %d runs), %.0f tokens/s, "
		       "%.1f GFLOP, %.1f GFLOP/s = %.0f%% of sgemm (%.1f GFLOP/s)\n",
		       med, times[0], times[o.runs - 1], o.runs, len / med, gflop, gflop / med,
		       sgemm > 0 ? 100.0 * gflop / med / sgemm : 0.0, sgemm);
		printf(
		    "  memory    scratch %.1f MiB (encoder, sized from the model for %d tokens); "
		    "RSS %.0f MiB after load (weights mmapped, %s), %.0f after the scratch, "
		    "peak %.0f MiB\n",
		    (double)scratch / 1048576.0, (int)len, rss_loaded,
		    written ? "just written" : "page cache", rss_ctx, peak);
		printf("  model_load %.1f ms\n", load_ms);
		if (o.json)
			printf("{\"tool\":\"bench_long\",\"shape\":\"%s\",\"tokens\":%d,"
			       "\"threads\":%d,"
			       "\"corename\":\"%s\",\"loadavg_start\":%.2f,\"loadavg_end\":%.2f,"
			       "\"runs\":%d,\"median_s\":%.4f,\"min_s\":%.4f,\"max_s\":%.4f,"
			       "\"tokens_per_s\":%.1f,\"gflop\":%.2f,\"sgemm_gflops\":%.2f,"
			       "\"scratch_mib\":%.1f,\"rss_loaded_mib\":%.1f,\"rss_ctx_mib\":%.1f,"
			       "\"peak_rss_mib\":%.1f,\"load_ms\":%.1f}\n",
			       sh->name, (int)len, gemm_get_threads(), gemm_corename(), load[0],
			       load[1], o.runs, med, times[0], times[o.runs - 1], len / med, gflop,
			       sgemm, (double)scratch / 1048576.0, rss_loaded, rss_ctx, peak,
			       load_ms);
	}
	free(ids);
	model_ctx_dispose(&c);
	model_destroy(m);
	return rc != 0;
}

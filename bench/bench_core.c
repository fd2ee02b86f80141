/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_core: how fast the encoder core runs real model shapes, measured
 * against what this machine's sgemm can do in the same process. For each
 * shape (MiniLM-L6, DistilBERT-base, BERT-base, ALBERT-base, MobileBERT) it
 * writes a random-weight Hugging Face folder once (config.json, F32
 * model.safetensors, vocab.txt, tokenizer_config.json), loads it with
 * model_load exactly as the server would, and times model_forward on two
 * packed workloads: 32 x 128 tokens and 32 sequences of mixed length, with
 * each architecture's flops counted from the weights it wired. It also writes each workload's token
 * ids and smolserve's last_hidden_state for a small check batch beside the
 * folders (workloads/<shape>.json), so bench/torch_peer.py can run the same
 * inputs and prove it computes the same function.
 *
 * A benchmark, run on demand; never part of the test suite.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpus.h"
#include "gemm.h"
#include "bench_util.h"
#include "hf_folder.h"
#include "team.h"
#include "model.h"
#include "status.h"

#define MAX_ITERS 1000

/* name, model_type, hidden, layers, heads, FFN, vocab, positions, embedding_size,
 * true_hidden, num_feedforward_networks */
static const struct hf_shape SHAPES[] = {
    {"minilm-l6", "bert", 384, 6, 12, 1536, 30522, 512, 0, 0, 0},
    {"distilbert-base", "distilbert", 768, 6, 12, 3072, 30522, 512, 0, 0, 0},
    {"bert-base", "bert", 768, 12, 12, 3072, 30522, 512, 0, 0, 0},
    /* albert-base-v2: 128-wide embeddings, one layer's weights run 12 times */
    {"albert-base", "albert", 768, 12, 12, 3072, 30000, 512, 128, 0, 0},
    /* google/mobilebert-uncased: 24 layers of 128-wide attention and FFNs
     * between bottlenecks to and from a 512-wide hidden state */
    {"mobilebert", "mobilebert", 512, 24, 4, 512, 30522, 512, 128, 128, 4},
    /* MPNet (relative position bias), DeBERTa-v3 (disentangled attention),
     * ModernBERT (RoPE, GeGLU, local / global layers): hf_folder.h */
    HF_SHAPE_MPNET_BASE,
    HF_SHAPE_DEBERTA_V3_BASE,
    HF_SHAPE_MODERNBERT_BASE,
};
#define N_SHAPES (sizeof(SHAPES) / sizeof(SHAPES[0]))

/* One packed workload: owned arrays. */
struct workload {
	char name[32];
	int32_t n_seqs;
	int32_t n_tokens;
	int32_t *ids;       /* (n_tokens) owned */
	int32_t *seq_start; /* (n_seqs + 1) owned */
};

struct opts {
	double seconds;
	int min_iters;
	int n_threads;
	const char *dir;
	const char *shapes;   /* comma list or NULL = all */
	const char *backends; /* comma list or NULL = the default one */
	int json;
	int breakdown;
	int prepare_only;  /* --prepare: folders and workloads only */
	int kernel_choice; /* OpenBLAS kernel choice at start, as smolserve's */
	int no_write;      /* workloads/<shape>.json already written this run */
};

/* One measured (shape, workload). */
struct result {
	const char *shape;
	const char *workload;
	int32_t n_seqs, n_tokens;
	double median_s, min_s, max_s, flops;
	int n_iters;
};

/* --- workloads ------------------------------------------------------------ */

/* n_seqs sequences, lengths uniform in [min_len, max_len], random ids. */
static int workload_make(struct workload *w, const char *name, int32_t n_seqs, int32_t min_len,
                         int32_t max_len, int32_t vocab_size, uint64_t seed)
{
	uint64_t rng = seed;
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->n_seqs = n_seqs;
	if ((w->seq_start = malloc((size_t)(n_seqs + 1) * sizeof(int32_t))) == NULL)
		return STATUS_ENOMEM;
	w->seq_start[0] = 0;
	for (int32_t s = 0; s < n_seqs; s++)
		w->seq_start[s + 1] = w->seq_start[s] + rng_int(&rng, min_len, max_len);
	w->n_tokens = w->seq_start[n_seqs];
	if ((w->ids = malloc((size_t)w->n_tokens * sizeof(int32_t))) == NULL)
		return STATUS_ENOMEM;
	for (int32_t t = 0; t < w->n_tokens; t++)
		w->ids[t] = rng_int(&rng, HF_FIRST_ID, vocab_size - 1);
	return 0;
}

static void workload_dispose(struct workload *w)
{
	free(w->ids);
	free(w->seq_start);
	memset(w, 0, sizeof(*w));
}

static struct packed_batch workload_batch(const struct workload *w)
{
	struct packed_batch b = {w->n_seqs, w->n_tokens, w->ids, NULL, w->seq_start};
	return b;
}

static void json_ints(FILE *f, const char *key, const int32_t *v, int32_t n)
{
	fprintf(f, "\"%s\":[", key);
	for (int32_t i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", (int)v[i]);
	fputc(']', f);
}

/* Writes {"name", "lengths", "ids" of w, leaving the object open. */
static void json_workload_open(FILE *f, const struct workload *w)
{
	fprintf(f, "{\"name\":\"%s\",\"lengths\":[", w->name);
	for (int32_t s = 0; s < w->n_seqs; s++)
		fprintf(f, "%s%d", s ? "," : "", (int)(w->seq_start[s + 1] - w->seq_start[s]));
	fputs("],", f);
	json_ints(f, "ids", w->ids, w->n_tokens);
}

/*
 * dir/workloads/<shape>.json: the timed workloads' ids, and the check batch
 * with smolserve's last_hidden_state (n_tokens, hidden) for it, so a peer
 * can run the same inputs and compare outputs.
 */
static int workloads_write(const char *dir, const struct hf_shape *sh, const struct workload *ws,
                           int n_ws, const struct workload *check, const float *hidden, char *err,
                           size_t n_err)
{
	char path[4096];
	char wdir[4096], leaf[128];
	FILE *f = NULL;
	snprintf(leaf, sizeof(leaf), "%.64s.json", sh->name);
	if (path_join(wdir, sizeof(wdir), dir, "workloads") != 0 || mkdir_p(wdir) != 0 ||
	    path_join(path, sizeof(path), wdir, leaf) != 0 || (f = fopen(path, "w")) == NULL)
		return status_fail(err, n_err, STATUS_EIO, "%s/workloads/%s: %s", dir, leaf,
		                   strerror(errno));
	fprintf(f, "{\"shape\":\"%s\",\"hidden\":%d,\"workloads\":[", sh->name, sh->hidden);
	for (int i = 0; i < n_ws; i++) {
		if (i)
			fputc(',', f);
		json_workload_open(f, &ws[i]);
		fputc('}', f);
	}
	fputs("],\"check\":", f);
	json_workload_open(f, check);
	fputs(",\"last_hidden_state\":[", f);
	size_t n = (size_t)check->n_tokens * (size_t)sh->hidden;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%.9g", i ? "," : "", (double)hidden[i]);
	fputs("]}}\n", f);
	if (fclose(f) != 0)
		return status_fail(err, n_err, STATUS_EIO, "%s: write failed", path);
	return 0;
}

/* --- measurements ---------------------------------------------------------- */

/* 2 flops per multiply-add of y = x w^T over n rows. */
static double dense_flops(const struct dense *d, double n)
{
	return 2.0 * n * (double)d->n_in * (double)d->n_out;
}

/*
 * Floating-point operations of one forward pass over b, counted from the
 * dense layers the model actually wired (the embedding projection of
 * ALBERT and MobileBERT included; a shared ALBERT layer counts once per
 * layer run), plus q k^T and probs v of every sequence: 2 flops per
 * multiply-add; softmax, activations and norms are not counted. Core's
 * encoder_flops assumes BERT's layer (four hidden x hidden projections, one
 * FFN) and gives the same number for BERT, DistilBERT and ALBERT, but not
 * for MobileBERT's bottlenecks and extra FFNs.
 */
static double bench_flops(const struct encoder *e, const struct packed_batch *b)
{
	if (e->deberta != NULL || e->modern != NULL) /* their own layers: core counts them */
		return encoder_flops(e, b);
	const struct mobilebert *mb = e->mobile;
	double n = b->n_tokens, attn = 0.0, total = 0.0;
	double width = mb != NULL ? mb->true_hidden : e->hidden; /* n_heads * head_dim */
	for (int32_t q = 0; q < b->n_seqs; q++) {
		double len = b->seq_start[q + 1] - b->seq_start[q];
		attn += 2.0 * 2.0 * len * len * width;
	}
	if (e->emb_proj.w != NULL)
		total += dense_flops(&e->emb_proj, n);
	for (int32_t l = 0; l < e->n_layers; l++) {
		total += attn;
		if (mb == NULL) {
			const struct encoder_layer *L = &e->layers[l];
			total += dense_flops(&L->q, n) + dense_flops(&L->k, n) +
			         dense_flops(&L->v, n) + dense_flops(&L->o, n) +
			         dense_flops(&L->ffn_in, n) + dense_flops(&L->ffn_out, n);
			continue;
		}
		const struct mobilebert_layer *L = &mb->layers[l];
		if (mb->use_bottleneck) {
			total += dense_flops(&L->bn_input, n) + dense_flops(&L->out_bn, n);
			if (!mb->use_bottleneck_attention && mb->key_query_shared)
				total += dense_flops(&L->bn_attention, n);
		}
		total += dense_flops(&L->q, n) + dense_flops(&L->k, n) + dense_flops(&L->v, n) +
		         dense_flops(&L->o, n) + dense_flops(&L->inter, n) +
		         dense_flops(&L->out, n);
		for (int i = 0; i < L->n_ffn; i++)
			total += dense_flops(&L->ffn_in[i], n) + dense_flops(&L->ffn_out[i], n);
	}
	return total;
}

/* Times model_forward on w: one warm-up, then at least min_iters runs and
 * at least `seconds`. */
static int time_workload(const struct model *m, struct model_ctx *c, const struct workload *w,
                         const struct opts *o, struct result *r, char *err, size_t n_err)
{
	static double times[MAX_ITERS];
	struct packed_batch b = workload_batch(w);
	int rc = model_forward(m, c, &b, err, n_err);
	if (rc != 0)
		return rc;
	double start = now_s();
	int n = 0;
	while (n < MAX_ITERS && (n < o->min_iters || now_s() - start < o->seconds)) {
		double t0 = now_s();
		if ((rc = model_forward(m, c, &b, err, n_err)) != 0)
			return rc;
		times[n++] = now_s() - t0;
	}
	qsort(times, (size_t)n, sizeof(double), cmp_double);
	r->n_seqs = w->n_seqs;
	r->n_tokens = w->n_tokens;
	r->median_s = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
	r->min_s = times[0];
	r->max_s = times[n - 1];
	r->n_iters = n;
	r->flops = bench_flops(&m->enc, &b);
	double core = encoder_flops(&m->enc, &b);
	if (m->enc.mobile == NULL && fabs(core - r->flops) > 1e-9 * r->flops)
		fprintf(stderr, "bench_core: %s: encoder_flops says %.3f GFLOP, bench_flops %.3f\n",
		        w->name, core * 1e-9, r->flops * 1e-9);
	return 0;
}

/*
 * Where the time goes: one more forward pass with core's stage clocks on
 * (encoder_scratch.profile), so the split is of the code that ran, not of
 * a replay. Products carry their epilogues (bias, activation, residual,
 * norm), so those count in the product's stage.
 */
static int time_parts(const struct model *m, struct model_ctx *c, const struct workload *w,
                      double parts[N_STAGES], char *err, size_t n_err)
{
	struct packed_batch b = workload_batch(w);
	for (int i = 0; i < N_STAGES; i++)
		parts[i] = 0.0;
	c->enc.profile = parts;
	int rc = model_forward(m, c, &b, err, n_err);
	c->enc.profile = NULL;
	return rc;
}

/* --- memory ------------------------------------------------------------------ */

/* --- one shape ---------------------------------------------------------------- */

/* Throughput: 32 x 128 tokens and 32 sequences of 8..256 tokens; latency:
 * one request of 16 and of 128 tokens (fixed seeds). */
#define N_WORKLOADS 4
static const char *const WORKLOAD_NAMES[N_WORKLOADS] = {"fixed-32x128", "mixed-32x8..256",
                                                        "single-1x16", "single-1x128"};
static const int32_t WORKLOAD_SHAPES[N_WORKLOADS][3] = {
    {32, 128, 128}, {32, 8, 256}, {1, 16, 16}, {1, 128, 128}}; /* seqs, min len, max len */

/* The scratch a server worker gets by default: --max-batch-tokens. */
#define SERVER_BATCH_TOKENS 16384

#define N_BACKENDS 3
static const char *const BACKEND_NAMES[N_BACKENDS] = {"packed", "openblas", "amx"};
static const enum gemm_backend BACKENDS[N_BACKENDS] = {GEMM_BACKEND_PACKED, GEMM_BACKEND_OPENBLAS,
                                                       GEMM_BACKEND_AMX};

struct shape_out {
	int ran;
	double load_ms, pack_ms, packed_mib;
	double rss_after_load_mib, rss_peak_mib;
	int written; /* 1 if the folder was written by this run */
	struct result res[N_WORKLOADS];
	double parts[N_WORKLOADS][N_STAGES];
};

/* Folder, load (and pack), check batch, then every workload timed. */
static int bench_shape(const struct hf_shape *sh, uint64_t seed, const struct opts *o,
                       struct shape_out *out, char *err, size_t n_err)
{
	char dir[4096];
	struct workload ws[N_WORKLOADS], check;
	struct model *m = NULL;
	struct model_ctx c;
	int have_ctx = 0, rc;
	double unused;

	memset(ws, 0, sizeof(ws));
	memset(&check, 0, sizeof(check));
	if ((rc = hf_folder_ensure(o->dir, sh, seed, dir, sizeof(dir), &out->written, err,
	                           n_err)) != 0)
		goto fail;
	rss_reset_peak();
	double t0 = now_s();
	if ((rc = model_load(dir, NULL, &m, err, n_err)) != 0)
		goto fail;
	out->load_ms = 1e3 * (now_s() - t0);
	out->pack_ms = 1e3 * m->pack_seconds;
	out->packed_mib = (double)m->packed_bytes / (1 << 20);

	for (int i = 0; i < N_WORKLOADS; i++)
		if ((rc = workload_make(&ws[i], WORKLOAD_NAMES[i], WORKLOAD_SHAPES[i][0],
		                        WORKLOAD_SHAPES[i][1], WORKLOAD_SHAPES[i][2],
		                        sh->vocab_size, 1 + (uint64_t)i)) != 0)
			goto fail;
	if ((rc = workload_make(&check, "check", 4, 3, 40, sh->vocab_size, 3)) != 0)
		goto fail;
	int32_t max_tokens = SERVER_BATCH_TOKENS;
	for (int i = 0; i < N_WORKLOADS; i++)
		max_tokens = ws[i].n_tokens > max_tokens ? ws[i].n_tokens : max_tokens;
	if ((rc = model_ctx_init(&c, m, max_tokens)) != 0) {
		status_fail(err, n_err, rc, "%s: no scratch for %d tokens", sh->name,
		            (int)max_tokens);
		goto fail;
	}
	have_ctx = 1;
	rss_mib(&out->rss_after_load_mib, &unused);

	struct packed_batch cb = workload_batch(&check);
	if ((rc = model_forward(m, &c, &cb, err, n_err)) != 0 ||
	    (!o->no_write &&
	     (rc = workloads_write(o->dir, sh, ws, N_WORKLOADS, &check, c.enc.x, err, n_err)) != 0))
		goto fail;

	for (int i = 0; i < N_WORKLOADS && !o->prepare_only; i++) {
		struct result *r = &out->res[i];
		r->shape = sh->name;
		r->workload = WORKLOAD_NAMES[i];
		if ((rc = time_workload(m, &c, &ws[i], o, r, err, n_err)) != 0)
			goto fail;
		if (o->breakdown &&
		    (rc = time_parts(m, &c, &ws[i], out->parts[i], err, n_err)) != 0)
			goto fail;
	}
	rss_mib(&unused, &out->rss_peak_mib);
	out->ran = 1;
	rc = 0;
fail:
	if (have_ctx)
		model_ctx_dispose(&c);
	model_destroy(m);
	for (int i = 0; i < N_WORKLOADS; i++)
		workload_dispose(&ws[i]);
	workload_dispose(&check);
	return rc;
}

/* --- main ------------------------------------------------------------------------ */

/* 1 if name is in the comma-separated list (NULL: every name). */
static int in_list(const char *list, const char *name)
{
	if (list == NULL)
		return 1;
	size_t n = strlen(name);
	for (const char *p = list; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int cpus_allowed(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_core [--seconds S] [--min-iters N] [--threads N] [--dir DIR]\n"
	           "                  [--shapes minilm-l6,distilbert-base,bert-base,albert-base,\n"
	           "                            mobilebert,mpnet-base,deberta-v3-base,\n"
	           "                            modernbert-base] [--backends packed,openblas,amx]\n"
	           "                  [--json] [--no-breakdown] [--prepare] [--no-kernel-choice]\n"
	           "  --seconds S     time each workload for at least S seconds (default 2)\n"
	           "  --min-iters N   and at least N timed runs (default 3)\n"
	           "  --threads N     compute threads (default: CPUs this process may use)\n"
	           "  --dir DIR       model folders (default $BENCH_DIR, else bench/out)\n"
	           "  --backends L    GEMM backends to time, each on its own load of the model\n"
	           "                  (default: the one --gemm-backend auto picks here; amx is\n"
	           "                  skipped, with a note, where the CPU lacks it)\n"
	           "  --json          end with one line of JSON holding every number\n"
	           "  --no-breakdown  skip the per-stage time split\n"
	           "  --prepare       write the folders and workloads/<shape>.json, time nothing\n"
	           "  --no-kernel-choice  keep OpenBLAS's own kernel pick (smolserve\n"
	           "                  --blas-kernel-choice false); by default bench_core picks\n"
	           "                  them as smolserve does, re-executing itself if needed\n");
}

/* 0, 1 for --help, -1 for a bad command line. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *env = getenv("BENCH_DIR");
	*o = (struct opts){2.0, 3, 0, env != NULL && *env ? env : "bench/out", NULL, NULL, 0, 1,
	                   0,   1, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(a, "--no-breakdown") == 0) {
			o->breakdown = 0;
			continue;
		}
		if (strcmp(a, "--prepare") == 0) {
			o->prepare_only = 1;
			continue;
		}
		if (strcmp(a, "--no-kernel-choice") == 0) {
			o->kernel_choice = 0;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (v == NULL)
			return -1;
		if (strcmp(a, "--seconds") == 0)
			o->seconds = atof(v);
		else if (strcmp(a, "--min-iters") == 0)
			o->min_iters = atoi(v);
		else if (strcmp(a, "--threads") == 0)
			o->n_threads = atoi(v);
		else if (strcmp(a, "--dir") == 0)
			o->dir = v;
		else if (strcmp(a, "--shapes") == 0)
			o->shapes = v;
		else if (strcmp(a, "--backends") == 0)
			o->backends = v;
		else
			return -1;
		i++;
	}
	return o->seconds >= 0.0 && o->min_iters >= 1 && o->n_threads >= 0 ? 0 : -1;
}

/* Every number as one line of JSON; frac_sgemm is against the better of
 * the two sgemm measurements. */
static void print_json(const struct opts *o, int n_cpus, const double sgemm[2], double packed_rate,
                       double amx_rate, const char *default_backend, const double load[2],
                       struct shape_out outs[][N_BACKENDS])
{
	const char *env = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
	double best = sgemm[0] > sgemm[1] ? sgemm[0] : sgemm[1];
	printf("{\"tool\":\"bench_core\",\"corename\":\"%s\",\"kernel\":\"%s\","
	       "\"openblas_coretype_env\":",
	       gemm_corename(), gemm_kernel_name());
	if (env != NULL)
		printf("\"%s\"", env);
	else
		printf("null");
	printf(",\"openblas_l2_size_env\":");
	if (l2 != NULL)
		printf("\"%s\"", l2);
	else
		printf("null");
	const struct gemm_core_report *kc = gemm_core_report();
	printf(",\"kernel_choice\":{\"action\":\"%s\",\"picked\":\"%s\",\"in_use\":\"%s\"}",
	       kc->action, kc->picked, kc->in_use);
	printf(",\"threads\":%d,\"cpus_allowed\":%d,\"seconds\":%g,\"min_iters\":%d,"
	       "\"loadavg_start\":%.2f,\"loadavg_end\":%.2f,"
	       "\"sgemm\":{\"m\":4096,\"n\":3072,\"k\":768,\"gflops\":%.2f,\"gflops_before\":%.2f,"
	       "\"gflops_after\":%.2f,\"packed_gflops\":%.2f,\"amx_gflops\":%.2f},"
	       "\"default_backend\":\"%s\",\"shapes\":[",
	       gemm_get_threads(), n_cpus, o->seconds, o->min_iters, load[0], load[1], best,
	       sgemm[0], sgemm[1], packed_rate, amx_rate, default_backend);
	int first = 1;
	for (size_t s = 0; s < N_SHAPES; s++)
		for (int b = 0; b < N_BACKENDS; b++) {
			const struct shape_out *so = &outs[s][b];
			if (!so->ran)
				continue;
			printf("%s{\"shape\":\"%s\",\"backend\":\"%s\",\"load_ms\":%.3f,"
			       "\"pack_ms\":%.3f,\"packed_mib\":%.2f,\"rss_after_load_mib\":%.2f,"
			       "\"rss_peak_mib\":%.2f}",
			       first ? "" : ",", SHAPES[s].name, BACKEND_NAMES[b], so->load_ms,
			       so->pack_ms, so->packed_mib, so->rss_after_load_mib,
			       so->rss_peak_mib);
			first = 0;
		}
	printf("],\"results\":[");
	first = 1;
	for (size_t s = 0; s < N_SHAPES; s++)
		for (int b = 0; b < N_BACKENDS; b++)
			for (int i = 0; outs[s][b].ran && i < N_WORKLOADS; i++) {
				const struct shape_out *so = &outs[s][b];
				const struct result *r = &so->res[i];
				double g = r->flops / r->median_s * 1e-9;
				printf(
				    "%s{\"shape\":\"%s\",\"backend\":\"%s\",\"workload\":\"%s\","
				    "\"n_seqs\":%d,\"n_tokens\":%d,\"iters\":%d,\"median_ms\":%.4f,"
				    "\"min_ms\":%.4f,\"max_ms\":%.4f,\"tokens_per_s\":%.1f,"
				    "\"gflop\":%.4f,\"gflops\":%.2f,\"frac_sgemm\":%.4f",
				    first ? "" : ",", r->shape, BACKEND_NAMES[b], r->workload,
				    (int)r->n_seqs, (int)r->n_tokens, r->n_iters, 1e3 * r->median_s,
				    1e3 * r->min_s, 1e3 * r->max_s, r->n_tokens / r->median_s,
				    r->flops * 1e-9, g, best > 0 ? g / best : 0.0);
				if (o->breakdown) {
					printf(",\"parts_ms\":{");
					for (int p = 0; p < N_STAGES; p++)
						printf("%s\"%s\":%.3f", p ? "," : "",
						       ENCODER_STAGE_NAMES[p],
						       1e3 * so->parts[i][p]);
					printf("}");
				}
				printf("}");
				first = 0;
			}
	printf("]}\n");
}

/* The human-readable report; %sgemm is against sgemm (the better of the two
 * measurements: a busy machine drags one of them down). */
static void print_report(const struct opts *o, struct shape_out outs[][N_BACKENDS], double sgemm)
{
	printf("%-16s %-8s %-16s %6s %9s %9s %10s %8s %6s %5s\n", "shape", "backend", "workload",
	       "tokens", "median_ms", "spread_%", "tokens/s", "GFLOP/s", "sgemm", "runs");
	for (size_t s = 0; s < N_SHAPES; s++)
		for (int b = 0; b < N_BACKENDS; b++)
			for (int i = 0; outs[s][b].ran && i < N_WORKLOADS; i++) {
				const struct result *r = &outs[s][b].res[i];
				double g = r->flops / r->median_s * 1e-9;
				printf(
				    "%-16s %-8s %-16s %6d %9.2f %9.1f %10.0f %8.1f %5.0f%% %5d\n",
				    r->shape, BACKEND_NAMES[b], r->workload, (int)r->n_tokens,
				    1e3 * r->median_s, 100.0 * (r->max_s - r->min_s) / r->median_s,
				    r->n_tokens / r->median_s, g,
				    sgemm > 0 ? 100.0 * g / sgemm : 0.0, r->n_iters);
			}
	printf("\nload (mmap + layout; w = folder written by this run) and resident memory "
	       "(scratch for %d tokens reserved):\n",
	       SERVER_BATCH_TOKENS);
	for (size_t s = 0; s < N_SHAPES; s++)
		for (int b = 0; b < N_BACKENDS; b++) {
			const struct shape_out *so = &outs[s][b];
			if (so->ran)
				printf(
				    "  %-16s %-8s load %.1f ms (layout %.1f ms, %.1f MiB)%s; RSS "
				    "after load %.1f MiB, peak %.1f MiB\n",
				    SHAPES[s].name, BACKEND_NAMES[b], so->load_ms, so->pack_ms,
				    so->packed_mib, so->written ? " (w)" : "",
				    so->rss_after_load_mib, so->rss_peak_mib);
		}
	if (!o->breakdown)
		return;
	printf("\nwhere the time goes (ms, one profiled forward pass after timing):\n");
	printf("%-16s %-8s %-16s", "shape", "backend", "workload");
	for (int p = 0; p < N_STAGES; p++)
		printf(" %10s", ENCODER_STAGE_NAMES[p]);
	printf("\n");
	for (size_t s = 0; s < N_SHAPES; s++)
		for (int b = 0; b < N_BACKENDS; b++)
			for (int i = 0; outs[s][b].ran && i < N_WORKLOADS; i++) {
				printf("%-16s %-8s %-16s", SHAPES[s].name, BACKEND_NAMES[b],
				       WORKLOAD_NAMES[i]);
				for (int p = 0; p < N_STAGES; p++)
					printf(" %10.2f", 1e3 * outs[s][b].parts[i][p]);
				printf("\n");
			}
}

int main(int argc, char **argv)
{
	struct opts o;
	char err[512];
	static struct shape_out outs[N_SHAPES][N_BACKENDS];
	double load[2] = {-1.0, -1.0}, sgemm[2] = {0.0, 0.0};

	int rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	blas_kernels_choose(argv, o.kernel_choice);
	for (size_t s = 0; o.shapes != NULL && s <= N_SHAPES; s++) {
		if (s == N_SHAPES) {
			fprintf(stderr, "bench_core: --shapes %s names no known shape\n", o.shapes);
			return 2;
		}
		if (in_list(o.shapes, SHAPES[s].name))
			break;
	}
	int default_backend = 0, want[N_BACKENDS];
	for (int b = 0; b < N_BACKENDS; b++)
		if (gemm_backend_for(1, 1, 1) == BACKENDS[b])
			default_backend = b;
	for (int b = 0; b < N_BACKENDS; b++) {
		want[b] = o.backends != NULL ? in_list(o.backends, BACKEND_NAMES[b])
		                             : b == default_backend;
		if (want[b] && gemm_backend_set(BACKENDS[b], err, sizeof(err)) != 0) {
			if (BACKENDS[b] == GEMM_BACKEND_AMX) { /* asked for where it cannot run */
				fprintf(stderr, "bench_core: skipping amx: %s\n", err);
				want[b] = 0;
				continue;
			}
			fprintf(stderr, "bench_core: %s\n", err);
			return 2;
		}
	}
	gemm_backend_set(GEMM_BACKEND_AUTO, NULL, 0);
	int n_cpus = cpus_allowed();
	gemm_set_threads(o.n_threads > 0 ? o.n_threads : n_cpus);
	if (mkdir_p(o.dir) != 0) {
		fprintf(stderr, "bench_core: %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	const char *coretype = getenv("OPENBLAS_CORETYPE");
	printf("OpenBLAS core %s (OPENBLAS_CORETYPE=%s; %s: %s), packed kernel %s, %d compute "
	       "threads, %d CPUs allowed\n",
	       gemm_corename(), coretype != NULL ? coretype : "unset", gemm_core_report()->action,
	       gemm_core_report()->reason, gemm_kernel_name(), gemm_get_threads(), n_cpus);
	printf("timing: >= %d runs and >= %.1f s per workload after one warm-up; median\n",
	       o.min_iters, o.seconds);
	fflush(stdout);
	getloadavg(&load[0], 1);
	if (!o.prepare_only)
		sgemm[0] = sgemm_gflops(4096, 3072, 768, 5, 0);

	for (size_t s = 0; s < N_SHAPES; s++) {
		if (!in_list(o.shapes, SHAPES[s].name))
			continue;
		o.no_write = 0;
		for (int b = 0; b < N_BACKENDS; b++) {
			if (!want[b])
				continue;
			gemm_backend_set(BACKENDS[b], NULL, 0);
			if (bench_shape(&SHAPES[s], 1000 + s, &o, &outs[s][b], err, sizeof(err)) !=
			    0) {
				fprintf(stderr, "bench_core: %s: %s\n", SHAPES[s].name, err);
				return 1;
			}
			o.no_write = 1; /* one backend's check output is the reference */
			if (!o.prepare_only)
				fprintf(stderr, "bench_core: %s %s: %.0f and %.0f tokens/s\n",
				        SHAPES[s].name, BACKEND_NAMES[b],
				        outs[s][b].res[0].n_tokens / outs[s][b].res[0].median_s,
				        outs[s][b].res[1].n_tokens / outs[s][b].res[1].median_s);
		}
	}
	if (o.prepare_only)
		return 0;

	sgemm[1] = sgemm_gflops(4096, 3072, 768, 5, 0);
	double packed_rate = gemm_backend_for(1, 1, 1) == GEMM_BACKEND_PACKED || want[0]
	                         ? sgemm_gflops(4096, 3072, 768, 5, 1)
	                         : 0.0;
	double amx_rate = want[2] ? sgemm_gflops(4096, 3072, 768, 5, 2) : 0.0;
	getloadavg(&load[1], 1);
	double best = sgemm[0] > sgemm[1] ? sgemm[0] : sgemm[1];
	printf("sgemm gemm_nt 4096x3072x768 (OpenBLAS, one call on %d threads): %.1f GFLOP/s "
	       "before, %.1f after (best of 5 each); the packed kernel on the same shape: %.1f; "
	       "amx: %.1f\n",
	       gemm_get_threads(), sgemm[0], sgemm[1], packed_rate, amx_rate);
	printf("load average %.2f before, %.2f after%s\n\n", load[0], load[1],
	       fabs(sgemm[1] - sgemm[0]) > 0.1 * best || load[1] > n_cpus + 1.0
	           ? " -- the machine was busy: these numbers are noisy"
	           : "");
	print_report(&o, outs, best);
	if (o.json)
		print_json(&o, n_cpus, sgemm, packed_rate, amx_rate, BACKEND_NAMES[default_backend],
		           load, outs);
	return 0;
}

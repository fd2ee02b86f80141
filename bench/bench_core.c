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

#include "gemm.h"
#include "hf_folder.h"
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
	const char *shapes; /* comma list or NULL = all */
	int json;
	int breakdown;
};

/* One measured (shape, workload). */
struct result {
	const char *shape;
	const char *workload;
	int32_t n_seqs, n_tokens;
	double median_s, min_s, max_s, flops;
	int n_iters;
};

/* --- small helpers ---------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

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

/* Best GFLOP/s of gemm_nt (m, n, k) over reps runs, after one warm-up. */
static double sgemm_gflops(size_t m, size_t n, size_t k, int reps)
{
	float *a = malloc(m * k * sizeof(float)), *b = malloc(n * k * sizeof(float));
	float *c = malloc(m * n * sizeof(float));
	double best = 0.0;
	uint64_t rng = 42;
	if (a == NULL || b == NULL || c == NULL)
		goto out;
	for (size_t i = 0; i < m * k; i++)
		a[i] = rng_uniform(&rng, -1.0f, 1.0f);
	for (size_t i = 0; i < n * k; i++)
		b[i] = rng_uniform(&rng, -1.0f, 1.0f);
	gemm_nt(c, n, a, k, b, k, m, n, k, 0);
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		gemm_nt(c, n, a, k, b, k, m, n, k, 0);
		double g = 2.0 * (double)m * (double)n * (double)k / (now_s() - t0) * 1e-9;
		best = g > best ? g : best;
	}
out:
	free(a);
	free(b);
	free(c);
	return best;
}

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

/* Seconds spent in each kind of operation of one forward pass. */
enum part {
	PART_QKV,
	PART_ATTN_GEMM,
	PART_SOFTMAX,
	PART_OUT,
	PART_FFN,
	PART_ACT,
	PART_NORM,
	PART_BN_PROJ,
	PART_COPY,
	N_PARTS
};
static const char *const PART_NAMES[N_PARTS] = {
    "qkv_proj", "attn_gemm", "softmax", "out_proj", "ffn_gemm", "act", "norm", "bn_proj", "copy"};

/* Core's norm_rows (core/encoder-impl.h, private to core), line for line:
 * x = LayerNorm(x + residual), or MobileBERT's NoNorm (x + residual) * gamma
 * + beta. */
static void replay_norm(float *x, const float *residual, const struct layer_norm *ln, size_t n_rows,
                        size_t n)
{
	if (!ln->no_norm) {
		layer_norm_rows(x, residual, ln->gamma, ln->beta, ln->eps, n_rows, n);
		return;
	}
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * n;
		const float *res = residual ? residual + r * n : NULL;
		for (size_t i = 0; i < n; i++)
			row[i] = (row[i] + (res ? res[i] : 0.0f)) * ln->gamma[i] + ln->beta[i];
	}
}

/* encoder_attention (core/encoder.c) with a clock around each GEMM and
 * softmax: q, k, v, ctx rows of width ld = n_heads * head_dim. */
static void replay_attention(const struct encoder *e, struct encoder_scratch *s,
                             const struct workload *w, size_t ld, double parts[N_PARTS])
{
	size_t d = (size_t)e->head_dim;
	float scale = 1.0f / sqrtf((float)e->head_dim);
	for (int32_t q = 0; q < w->n_seqs; q++) {
		size_t t0 = (size_t)w->seq_start[q];
		size_t len = (size_t)(w->seq_start[q + 1] - w->seq_start[q]);
		for (size_t head = 0; head < (size_t)e->n_heads; head++) {
			size_t off = t0 * ld + head * d;
			double t = now_s();
			gemm_nt(s->scores, len, s->q + off, ld, s->k + off, ld, len, len, d, 0);
			double t1 = now_s();
			softmax_rows(s->scores, scale, len, len);
			double t2 = now_s();
			gemm_nn(s->ctx + off, ld, s->scores, len, s->v + off, ld, len, d, len);
			double t3 = now_s();
			parts[PART_ATTN_GEMM] += (t1 - t) + (t3 - t2);
			parts[PART_SOFTMAX] += t2 - t1;
		}
	}
}

/* BERT, DistilBERT, ALBERT: encoder_forward's layer loop (core/encoder.c). */
static void replay_bert_layers(const struct encoder *e, struct encoder_scratch *s,
                               const struct workload *w, double parts[N_PARTS])
{
	size_t n = (size_t)w->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	for (int32_t l = 0; l < e->n_layers; l++) {
		const struct encoder_layer *L = &e->layers[l];
		double t = now_s();
		linear(s->q, s->x, L->q.w, L->q.b, n, h, h);
		linear(s->k, s->x, L->k.w, L->k.b, n, h, h);
		linear(s->v, s->x, L->v.w, L->v.b, n, h, h);
		parts[PART_QKV] += now_s() - t;
		replay_attention(e, s, w, h, parts);
		t = now_s();
		linear(s->q, s->ctx, L->o.w, L->o.b, n, h, h);
		double t1 = now_s();
		layer_norm_rows(s->x, s->q, L->ln_attn.gamma, L->ln_attn.beta, L->ln_attn.eps, n,
		                h);
		double t2 = now_s();
		linear(s->ffn, s->x, L->ffn_in.w, L->ffn_in.b, n, h, ff);
		double t3 = now_s();
		activation_apply(s->ffn, n * ff, e->act);
		double t4 = now_s();
		linear(s->q, s->ffn, L->ffn_out.w, L->ffn_out.b, n, ff, h);
		double t5 = now_s();
		layer_norm_rows(s->x, s->q, L->ln_ffn.gamma, L->ln_ffn.beta, L->ln_ffn.eps, n, h);
		double t6 = now_s();
		parts[PART_OUT] += t1 - t;
		parts[PART_NORM] += (t2 - t1) + (t6 - t5);
		parts[PART_FFN] += (t3 - t2) + (t5 - t4);
		parts[PART_ACT] += t4 - t3;
	}
}

/* y = norm(dense(x) + residual), the GEMM timed into parts[gemm_part]. */
static void replay_dense_norm(float *y, const float *x, const struct dense *d,
                              const struct layer_norm *ln, const float *residual, size_t n,
                              enum part gemm_part, double parts[N_PARTS])
{
	double t = now_s();
	linear(y, x, d->w, d->b, n, (size_t)d->n_in, (size_t)d->n_out);
	double t1 = now_s();
	replay_norm(y, residual, ln, n, (size_t)d->n_out);
	parts[gemm_part] += t1 - t;
	parts[PART_NORM] += now_s() - t1;
}

/* dst = src (n floats), timed as a copy. */
static void replay_copy(float *dst, const float *src, size_t n, double parts[N_PARTS])
{
	double t = now_s();
	memcpy(dst, src, n * sizeof(float));
	parts[PART_COPY] += now_s() - t;
}

/* MobileBERT: mobilebert_layer (core/mobilebert.c) for every layer. */
static void replay_mobilebert_layers(const struct encoder *e, struct encoder_scratch *s,
                                     const struct workload *w, double parts[N_PARTS])
{
	const struct mobilebert *mb = e->mobile;
	size_t n = (size_t)w->n_tokens, h = (size_t)e->hidden, tr = (size_t)mb->true_hidden;
	size_t ff = (size_t)e->intermediate;
	for (int32_t l = 0; l < e->n_layers; l++) {
		const struct mobilebert_layer *L = &mb->layers[l];
		const float *layer_input = s->x, *qk_in = s->x, *v_in = s->x;
		if (mb->use_bottleneck) {
			replay_dense_norm(s->t1, s->x, &L->bn_input, &L->bn_input_norm, NULL, n,
			                  PART_BN_PROJ, parts);
			layer_input = s->t1;
			if (mb->use_bottleneck_attention) {
				qk_in = v_in = s->t1;
			} else if (mb->key_query_shared) {
				replay_dense_norm(s->t2, s->x, &L->bn_attention,
				                  &L->bn_attention_norm, NULL, n, PART_BN_PROJ,
				                  parts);
				qk_in = s->t2;
			}
		}
		double t = now_s();
		linear(s->q, qk_in, L->q.w, L->q.b, n, (size_t)L->q.n_in, tr);
		linear(s->k, qk_in, L->k.w, L->k.b, n, (size_t)L->k.n_in, tr);
		linear(s->v, v_in, L->v.w, L->v.b, n, (size_t)L->v.n_in, tr);
		parts[PART_QKV] += now_s() - t;
		replay_attention(e, s, w, tr, parts);
		replay_dense_norm(s->t3, s->ctx, &L->o, &L->attn_norm, layer_input, n, PART_OUT,
		                  parts);
		for (int i = 0; i <= L->n_ffn; i++) {
			/* the extra FFNs, then MobileBertIntermediate + MobileBertOutput */
			int last = i == L->n_ffn;
			const struct dense *in = last ? &L->inter : &L->ffn_in[i];
			t = now_s();
			linear(s->ffn, s->t3, in->w, in->b, n, tr, ff);
			double t1 = now_s();
			activation_apply(s->ffn, n * ff, e->act);
			parts[PART_FFN] += t1 - t;
			parts[PART_ACT] += now_s() - t1;
			replay_dense_norm(s->q, s->ffn, last ? &L->out : &L->ffn_out[i],
			                  last ? &L->out_norm : &L->ffn_norm[i], s->t3, n, PART_FFN,
			                  parts);
			if (!last)
				replay_copy(s->t3, s->q, n * tr, parts);
		}
		if (mb->use_bottleneck) {
			replay_dense_norm(s->k, s->q, &L->out_bn, &L->out_bn_norm, s->x, n,
			                  PART_BN_PROJ, parts);
			replay_copy(s->x, s->k, n * h, parts);
		} else {
			replay_copy(s->x, s->q, n * h, parts);
		}
	}
}

/*
 * Replays the operations of the forward pass's layers (core/encoder.c,
 * core/mobilebert.c) one by one with a clock around each, to show where
 * the time goes. The replay mirrors core's calls; it is an estimate, not
 * the measured forward, and skips the embeddings.
 */
static void time_parts(const struct model *m, struct model_ctx *c, const struct workload *w,
                       double parts[N_PARTS])
{
	for (int i = 0; i < N_PARTS; i++)
		parts[i] = 0.0;
	if (m->enc.deberta != NULL || m->enc.modern != NULL)
		return; /* no replay of their layers: the split stays empty */
	if (m->enc.mobile != NULL)
		replay_mobilebert_layers(&m->enc, &c->enc, w, parts);
	else
		replay_bert_layers(&m->enc, &c->enc, w, parts);
}

/* --- one shape ---------------------------------------------------------------- */

/* (a) 32 x 128 tokens; (b) 32 sequences of 8..256 tokens (fixed seed). */
#define N_WORKLOADS 2
static const char *const WORKLOAD_NAMES[N_WORKLOADS] = {"fixed-32x128", "mixed-32x8..256"};

struct shape_out {
	double load_ms;
	int written; /* 1 if the folder was written by this run */
	struct result res[N_WORKLOADS];
	double parts[N_WORKLOADS][N_PARTS];
};

/* Folder, load, check batch, then both workloads timed. */
static int bench_shape(const struct hf_shape *sh, uint64_t seed, const struct opts *o,
                       struct shape_out *out, char *err, size_t n_err)
{
	char dir[4096];
	struct workload ws[N_WORKLOADS], check;
	struct model *m = NULL;
	struct model_ctx c;
	int have_ctx = 0, rc;

	memset(ws, 0, sizeof(ws));
	memset(&check, 0, sizeof(check));
	if ((rc = hf_folder_ensure(o->dir, sh, seed, dir, sizeof(dir), &out->written, err,
	                           n_err)) != 0)
		goto fail;
	double t0 = now_s();
	if ((rc = model_load(dir, NULL, &m, err, n_err)) != 0)
		goto fail;
	out->load_ms = 1e3 * (now_s() - t0);

	if ((rc = workload_make(&ws[0], WORKLOAD_NAMES[0], 32, 128, 128, sh->vocab_size, 1)) != 0 ||
	    (rc = workload_make(&ws[1], WORKLOAD_NAMES[1], 32, 8, 256, sh->vocab_size, 2)) != 0 ||
	    (rc = workload_make(&check, "check", 4, 3, 40, sh->vocab_size, 3)) != 0)
		goto fail;
	int32_t max_tokens = check.n_tokens;
	for (int i = 0; i < N_WORKLOADS; i++)
		max_tokens = ws[i].n_tokens > max_tokens ? ws[i].n_tokens : max_tokens;
	if ((rc = model_ctx_init(&c, m, max_tokens)) != 0) {
		status_fail(err, n_err, rc, "%s: no scratch for %d tokens", sh->name,
		            (int)max_tokens);
		goto fail;
	}
	have_ctx = 1;

	struct packed_batch cb = workload_batch(&check);
	if ((rc = model_forward(m, &c, &cb, err, n_err)) != 0 ||
	    (rc = workloads_write(o->dir, sh, ws, N_WORKLOADS, &check, c.enc.x, err, n_err)) != 0)
		goto fail;

	for (int i = 0; i < N_WORKLOADS; i++) {
		struct result *r = &out->res[i];
		r->shape = sh->name;
		r->workload = WORKLOAD_NAMES[i];
		if ((rc = time_workload(m, &c, &ws[i], o, r, err, n_err)) != 0)
			goto fail;
		if (o->breakdown)
			time_parts(m, &c, &ws[i], out->parts[i]);
	}
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

static int shape_selected(const char *list, const char *name)
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
	           "                            modernbert-base] [--json] [--no-breakdown]\n"
	           "  --seconds S     time each workload for at least S seconds (default 2)\n"
	           "  --min-iters N   and at least N timed runs (default 3)\n"
	           "  --threads N     BLAS threads (default: CPUs this process may use)\n"
	           "  --dir DIR       model folders (default $BENCH_DIR, else bench/out)\n"
	           "  --json          end with one line of JSON holding every number\n"
	           "  --no-breakdown  skip the per-operation time split\n");
}

/* 0, 1 for --help, -1 for a bad command line. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *env = getenv("BENCH_DIR");
	*o = (struct opts){2.0, 3, 0, env != NULL && *env ? env : "bench/out", NULL, 0, 1};
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
		else
			return -1;
		i++;
	}
	return o->seconds >= 0.0 && o->min_iters >= 1 && o->n_threads >= 0 ? 0 : -1;
}

/* Every number as one line of JSON; frac_sgemm is against the better of
 * the two sgemm measurements. */
static void print_json(const struct opts *o, int n_cpus, const double sgemm[2],
                       const double load[2], const struct shape_out *outs, const int *ran)
{
	const char *env = getenv("OPENBLAS_CORETYPE");
	double best = sgemm[0] > sgemm[1] ? sgemm[0] : sgemm[1];
	printf("{\"tool\":\"bench_core\",\"corename\":\"%s\",\"openblas_coretype_env\":",
	       gemm_corename());
	if (env != NULL)
		printf("\"%s\"", env);
	else
		printf("null");
	printf(",\"threads\":%d,\"cpus_allowed\":%d,\"seconds\":%g,\"min_iters\":%d,"
	       "\"loadavg_start\":%.2f,\"loadavg_end\":%.2f,"
	       "\"sgemm\":{\"m\":4096,\"n\":3072,\"k\":768,\"gflops\":%.2f,\"gflops_before\":%.2f,"
	       "\"gflops_after\":%.2f},"
	       "\"results\":[",
	       gemm_get_threads(), n_cpus, o->seconds, o->min_iters, load[0], load[1], best,
	       sgemm[0], sgemm[1]);
	int first = 1;
	for (size_t s = 0; s < N_SHAPES; s++) {
		if (!ran[s])
			continue;
		for (int i = 0; i < N_WORKLOADS; i++) {
			const struct result *r = &outs[s].res[i];
			double g = r->flops / r->median_s * 1e-9;
			printf("%s{\"shape\":\"%s\",\"workload\":\"%s\",\"n_seqs\":%d,"
			       "\"n_tokens\":%d,\"load_ms\":%.3f,\"iters\":%d,\"median_ms\":%.3f,"
			       "\"min_ms\":%.3f,\"max_ms\":%.3f,\"tokens_per_s\":%.1f,"
			       "\"gflop\":%.3f,\"gflops\":%.2f,\"frac_sgemm\":%.4f",
			       first ? "" : ",", r->shape, r->workload, (int)r->n_seqs,
			       (int)r->n_tokens, outs[s].load_ms, r->n_iters, 1e3 * r->median_s,
			       1e3 * r->min_s, 1e3 * r->max_s, r->n_tokens / r->median_s,
			       r->flops * 1e-9, g, best > 0 ? g / best : 0.0);
			if (o->breakdown) {
				printf(",\"parts_ms\":{");
				for (int p = 0; p < N_PARTS; p++)
					printf("%s\"%s\":%.3f", p ? "," : "", PART_NAMES[p],
					       1e3 * outs[s].parts[i][p]);
				printf("}");
			}
			printf("}");
			first = 0;
		}
	}
	printf("]}\n");
}

/* The human-readable report; %sgemm is against sgemm (the better of the two
 * measurements: a busy machine drags one of them down). */
static void print_report(const struct opts *o, const struct shape_out *outs, const int *ran,
                         double sgemm)
{
	printf("%-16s %-16s %6s %9s %9s %10s %8s %6s %5s\n", "shape", "workload", "tokens",
	       "median_ms", "spread_%", "tokens/s", "GFLOP/s", "sgemm", "runs");
	for (size_t s = 0; s < N_SHAPES; s++) {
		for (int i = 0; ran[s] && i < N_WORKLOADS; i++) {
			const struct result *r = &outs[s].res[i];
			double g = r->flops / r->median_s * 1e-9;
			printf("%-16s %-16s %6d %9.1f %9.1f %10.0f %8.1f %5.0f%% %5d\n", r->shape,
			       r->workload, (int)r->n_tokens, 1e3 * r->median_s,
			       100.0 * (r->max_s - r->min_s) / r->median_s,
			       r->n_tokens / r->median_s, g, sgemm > 0 ? 100.0 * g / sgemm : 0.0,
			       r->n_iters);
		}
	}
	printf("\nmodel_load (mmap; w = folder written by this run):");
	for (size_t s = 0; s < N_SHAPES; s++)
		if (ran[s])
			printf(" %s %.1f ms%s", SHAPES[s].name, outs[s].load_ms,
			       outs[s].written ? " (w)" : "");
	printf("\n");
	if (!o->breakdown)
		return;
	printf("\nwhere the time goes (ms, one replay of the layer ops after timing):\n");
	printf("%-16s %-16s", "shape", "workload");
	for (int p = 0; p < N_PARTS; p++)
		printf(" %9s", PART_NAMES[p]);
	printf("\n");
	for (size_t s = 0; s < N_SHAPES; s++) {
		for (int i = 0; ran[s] && i < N_WORKLOADS; i++) {
			printf("%-16s %-16s", outs[s].res[i].shape, outs[s].res[i].workload);
			for (int p = 0; p < N_PARTS; p++)
				printf(" %9.1f", 1e3 * outs[s].parts[i][p]);
			printf("\n");
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	char err[512];
	static struct shape_out outs[N_SHAPES];
	int ran[N_SHAPES] = {0};
	double load[2] = {-1.0, -1.0}, sgemm[2];

	int rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	for (size_t s = 0; o.shapes != NULL && s <= N_SHAPES; s++) {
		if (s == N_SHAPES) {
			fprintf(stderr, "bench_core: --shapes %s names no known shape\n", o.shapes);
			return 2;
		}
		if (shape_selected(o.shapes, SHAPES[s].name))
			break;
	}
	int n_cpus = cpus_allowed();
	gemm_set_threads(o.n_threads > 0 ? o.n_threads : n_cpus);
	if (mkdir_p(o.dir) != 0) {
		fprintf(stderr, "bench_core: %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	const char *coretype = getenv("OPENBLAS_CORETYPE");
	printf("OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %d BLAS threads, %d CPUs allowed\n",
	       gemm_corename(), coretype != NULL ? coretype : "unset", gemm_get_threads(), n_cpus);
	printf("timing: >= %d runs and >= %.1f s per workload after one warm-up; median\n",
	       o.min_iters, o.seconds);
	fflush(stdout);
	getloadavg(&load[0], 1);
	sgemm[0] = sgemm_gflops(4096, 3072, 768, 5);

	for (size_t s = 0; s < N_SHAPES; s++) {
		if (!shape_selected(o.shapes, SHAPES[s].name))
			continue;
		if (bench_shape(&SHAPES[s], 1000 + s, &o, &outs[s], err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_core: %s: %s\n", SHAPES[s].name, err);
			return 1;
		}
		ran[s] = 1;
		fprintf(stderr, "bench_core: %s: %.0f and %.0f tokens/s\n", SHAPES[s].name,
		        outs[s].res[0].n_tokens / outs[s].res[0].median_s,
		        outs[s].res[1].n_tokens / outs[s].res[1].median_s);
	}

	sgemm[1] = sgemm_gflops(4096, 3072, 768, 5);
	getloadavg(&load[1], 1);
	double best = sgemm[0] > sgemm[1] ? sgemm[0] : sgemm[1];
	printf("sgemm gemm_nt 4096x3072x768: %.1f GFLOP/s before, %.1f after (best of 5 each)\n",
	       sgemm[0], sgemm[1]);
	printf("load average %.2f before, %.2f after%s\n\n", load[0], load[1],
	       fabs(sgemm[1] - sgemm[0]) > 0.1 * best || load[1] > n_cpus + 1.0
	           ? " -- the machine was busy: these numbers are noisy"
	           : "");
	print_report(&o, outs, ran, best);
	if (o.json)
		print_json(&o, n_cpus, sgemm, load, outs, ran);
	return 0;
}

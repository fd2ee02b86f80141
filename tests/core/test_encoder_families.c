/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attention of MPNet, DeBERTa-v2 and ModernBERT on sequences longer
 * than the Hugging Face fixtures reach (those stop at 128 tokens): random
 * small models built by hand, a packed batch with one long sequence, and
 * encoder_forward against a plain double-precision implementation of the
 * same formulas written here, element by element. Long enough that MPNet's
 * bias clamps (distance > 128), DeBERTa's log buckets saturate and its
 * relative terms span all 2 * span embedding rows, and ModernBERT's global
 * layers run several blocks of query rows and its local layers many bands.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deberta.h"
#include "encoder.h"
#include "modernbert.h"
#include "test_util.h"

#define H   16 /* hidden */
#define NH  2  /* heads */
#define D   8  /* head_dim */
#define FF  32 /* intermediate */
#define V   40 /* vocab */
#define NL  2  /* layers */
#define TOL 1e-4

/* --- random weights ------------------------------------------------------ */

static uint64_t rng = 7;
static float *allocs[256];
static int n_allocs;

static float uniform(float lo, float hi)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * (float)((rng >> 40) / 16777216.0);
}

static float *vec(size_t n, float lo, float hi)
{
	float *v = malloc(n * sizeof(float));
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++)
		v[i] = uniform(lo, hi);
	allocs[n_allocs++] = v;
	return v;
}

static void free_all(void)
{
	while (n_allocs > 0)
		free(allocs[--n_allocs]);
}

static struct dense dense(int32_t n_out, int32_t n_in, int bias)
{
	return (struct dense){.w = vec((size_t)n_out * n_in, -0.3f, 0.3f),
	                      .b = bias ? vec((size_t)n_out, -0.1f, 0.1f) : NULL,
	                      .n_in = n_in,
	                      .n_out = n_out};
}

static struct layer_norm norm(void)
{
	return (struct layer_norm){vec(H, 0.8f, 1.2f), vec(H, -0.1f, 0.1f), 1e-5f, 0};
}

/* --- the plain implementation -------------------------------------------- */

static void lin(double *y, const double *x, const struct dense *d, size_t n)
{
	for (size_t t = 0; t < n; t++)
		for (int32_t o = 0; o < d->n_out; o++) {
			double acc = d->b ? d->b[o] : 0.0;
			for (int32_t i = 0; i < d->n_in; i++)
				acc += x[t * (size_t)d->n_in + (size_t)i] *
				       d->w[(size_t)o * d->n_in + i];
			y[t * (size_t)d->n_out + (size_t)o] = acc;
		}
}

/* x = LayerNorm(x + res) row by row (res may be NULL). */
static void ln(double *x, const double *res, const struct layer_norm *l, size_t n)
{
	for (size_t t = 0; t < n; t++) {
		double *r = x + t * H, mean = 0.0, var = 0.0;
		for (int i = 0; i < H; i++)
			mean += (r[i] += res ? res[t * H + i] : 0.0);
		mean /= H;
		for (int i = 0; i < H; i++)
			var += (r[i] - mean) * (r[i] - mean);
		for (int i = 0; i < H; i++)
			r[i] = (r[i] - mean) / sqrt(var / H + l->eps) * l->gamma[i] + l->beta[i];
	}
}

static double gelu(double x)
{
	return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

/* Which family the plain attention follows, and its parameters. */
struct plain {
	const struct encoder *e;
	int32_t layer;
	const int32_t *ids, *starts;
	int32_t n_seqs;
};

/* scores of query i against key j (before softmax), -INFINITY if masked. */
static double score(const struct plain *p, const double *q, const double *k, int32_t head,
                    int32_t i, int32_t j)
{
	const struct encoder *e = p->e;
	const double *qi = q + (size_t)i * H + head * D, *kj = k + (size_t)j * H + head * D;
	double dot = 0.0;
	for (int c = 0; c < D; c++)
		dot += qi[c] * kj[c];
	if (e->attn_bias != NULL) { /* MPNet */
		int32_t md = e->attn_bias->max_distance, dist = j - i;
		dist = dist < -md ? -md : dist > md ? md : dist;
		return dot / sqrt(D) + e->attn_bias->table[head * (2 * md + 1) + dist + md];
	}
	if (e->deberta != NULL) {
		const struct deberta *db = e->deberta;
		size_t row = (size_t)db->rel_idx[i - j + db->max_delta];
		size_t off = (size_t)p->layer * 2 * db->span * H + row * H + head * D;
		double c2p = 0.0, p2c = 0.0;
		for (int c = 0; c < D; c++) {
			c2p += db->c2p ? qi[c] * db->pos_key[off + c] : 0.0;
			p2c += db->p2c ? kj[c] * db->pos_query[off + c] : 0.0;
		}
		return (dot + c2p + p2c) / db->scale;
	}
	const struct modernbert *mb = e->modern;
	if (p->layer % mb->global_every != 0 && abs(i - j) > mb->window)
		return -INFINITY;
	return dot / sqrt(D);
}

/* ctx (n, H) from q, k, v of every sequence. */
static void attention(const struct plain *p, double *ctx, const double *q, const double *k,
                      const double *v)
{
	for (int32_t s = 0; s < p->n_seqs; s++) {
		int32_t t0 = p->starts[s], len = p->starts[s + 1] - t0;
		double *w = malloc((size_t)len * sizeof(double));
		for (int32_t head = 0; head < NH; head++)
			for (int32_t i = 0; i < len; i++) {
				double mx = -INFINITY, sum = 0.0;
				for (int32_t j = 0; j < len; j++) {
					w[j] = score(p, q + (size_t)t0 * H, k + (size_t)t0 * H,
					             head, i, j);
					mx = w[j] > mx ? w[j] : mx;
				}
				for (int32_t j = 0; j < len; j++)
					sum += (w[j] = exp(w[j] - mx));
				for (int c = 0; c < D; c++) {
					double acc = 0.0;
					for (int32_t j = 0; j < len; j++)
						acc +=
						    w[j] * v[(size_t)(t0 + j) * H + head * D + c];
					ctx[(size_t)(t0 + i) * H + head * D + c] = acc / sum;
				}
			}
		free(w);
	}
}

/* apply_rotary_pos_emb at position pos (the angle rounded to float32 as
 * torch and core/modernbert.c compute it; the rest in double). */
static void rope(double *x, int32_t pos, float theta)
{
	for (int head = 0; head < NH; head++)
		for (int i = 0; i < D / 2; i++) {
			double a = (float)pos * (1.0f / powf(theta, (float)(2 * i) / (float)D));
			double x1 = x[head * D + i], x2 = x[head * D + D / 2 + i];
			x[head * D + i] = x1 * cos(a) - x2 * sin(a);
			x[head * D + D / 2 + i] = x2 * cos(a) + x1 * sin(a);
		}
}

/* The whole forward pass, plainly: post-norm BERT layers (MPNet,
 * DeBERTa) or ModernBERT's pre-norm ones. */
static void plain_forward(struct plain *p, double *x, int32_t n, const float *thetas)
{
	const struct encoder *e = p->e;
	size_t sz = (size_t)n * H;
	double *q = malloc(sz * sizeof(double)), *k = malloc(sz * sizeof(double));
	double *v = malloc(sz * sizeof(double)), *c = malloc(sz * sizeof(double));
	double *o = malloc(sz * sizeof(double)), *f = malloc((size_t)n * 2 * FF * sizeof(double));
	for (int32_t s = 0; s < p->n_seqs; s++)
		for (int32_t t = p->starts[s]; t < p->starts[s + 1]; t++)
			for (int i = 0; i < H; i++)
				x[(size_t)t * H + i] =
				    e->word_emb[p->ids[t] * H + i] +
				    (e->pos_emb
				         ? e->pos_emb[(t - p->starts[s] + e->position_offset) * H +
				                      i]
				         : 0.0);
	ln(x, NULL, &e->ln_emb, (size_t)n);
	for (p->layer = 0; p->layer < e->n_layers; p->layer++) {
		if (e->modern == NULL) {
			const struct encoder_layer *L = &e->layers[p->layer];
			lin(q, x, &L->q, (size_t)n);
			lin(k, x, &L->k, (size_t)n);
			lin(v, x, &L->v, (size_t)n);
			attention(p, c, q, k, v);
			lin(o, c, &L->o, (size_t)n);
			ln(x, o, &L->ln_attn, (size_t)n);
			lin(f, x, &L->ffn_in, (size_t)n);
			for (size_t i = 0; i < (size_t)n * FF; i++)
				f[i] = gelu(f[i]);
			lin(o, f, &L->ffn_out, (size_t)n);
			ln(x, o, &L->ln_ffn, (size_t)n);
			continue;
		}
		const struct modernbert_layer *L = &e->modern->layers[p->layer];
		int global = p->layer % e->modern->global_every == 0;
		memcpy(o, x, sz * sizeof(double));
		if (L->attn_norm.gamma != NULL)
			ln(o, NULL, &L->attn_norm, (size_t)n);
		lin(f, o, &L->wqkv, (size_t)n); /* (n, 3H) */
		for (int32_t s = 0; s < p->n_seqs; s++)
			for (int32_t t = p->starts[s]; t < p->starts[s + 1]; t++) {
				for (int i = 0; i < H; i++) {
					q[(size_t)t * H + i] = f[(size_t)t * 3 * H + i];
					k[(size_t)t * H + i] = f[(size_t)t * 3 * H + H + i];
					v[(size_t)t * H + i] = f[(size_t)t * 3 * H + 2 * H + i];
				}
				rope(q + (size_t)t * H, t - p->starts[s], thetas[!global]);
				rope(k + (size_t)t * H, t - p->starts[s], thetas[!global]);
			}
		attention(p, c, q, k, v);
		lin(o, c, &L->wo, (size_t)n);
		for (size_t i = 0; i < sz; i++)
			x[i] += o[i];
		memcpy(o, x, sz * sizeof(double));
		ln(o, NULL, &L->mlp_norm, (size_t)n);
		lin(f, o, &L->wi, (size_t)n); /* (n, 2 FF): input, gate */
		for (int32_t t = 0; t < n; t++)
			for (int i = 0; i < FF; i++)
				f[(size_t)t * FF + i] = gelu(f[(size_t)t * 2 * FF + i]) *
				                        f[(size_t)t * 2 * FF + FF + i];
		lin(o, f, &L->wo_mlp, (size_t)n);
		for (size_t i = 0; i < sz; i++)
			x[i] += o[i];
	}
	if (e->modern != NULL)
		ln(x, NULL, &e->modern->final_norm, (size_t)n);
	free(q), free(k), free(v), free(c), free(o), free(f);
}

/* --- the encoders -------------------------------------------------------- */

static void encoder_base(struct encoder *e, struct encoder_layer *layers, int32_t max_positions)
{
	*e = (struct encoder){.hidden = H,
	                      .n_heads = NH,
	                      .head_dim = D,
	                      .n_layers = NL,
	                      .intermediate = FF,
	                      .embedding_size = H,
	                      .vocab_size = V,
	                      .max_positions = max_positions,
	                      .act = ACT_GELU,
	                      .word_emb = vec(V * H, -1.0f, 1.0f),
	                      .ln_emb = norm(),
	                      .layers = layers};
	for (int l = 0; l < NL; l++)
		layers[l] = (struct encoder_layer){.q = dense(H, H, 1),
		                                   .k = dense(H, H, 1),
		                                   .v = dense(H, H, 1),
		                                   .o = dense(H, H, 1),
		                                   .ln_attn = norm(),
		                                   .ffn_in = dense(FF, H, 1),
		                                   .ffn_out = dense(H, FF, 1),
		                                   .ln_ffn = norm()};
}

/* encoder_forward on sequences of lengths lens against plain_forward. */
static void check(const struct encoder *e, const int32_t *lens, int32_t n_seqs, const float *thetas)
{
	int32_t starts[8] = {0}, max_len = 0;
	for (int32_t s = 0; s < n_seqs; s++) {
		starts[s + 1] = starts[s] + lens[s];
		max_len = lens[s] > max_len ? lens[s] : max_len;
	}
	int32_t n = starts[n_seqs];
	int32_t *ids = malloc((size_t)n * sizeof(int32_t));
	for (int32_t t = 0; t < n; t++)
		ids[t] = (int32_t)(uniform(0.0f, 1.0f) * (V - 1));
	struct packed_batch b = {n_seqs, n, ids, NULL, starts};
	struct encoder_scratch s;
	char err[256];
	ck_assert_int_eq(encoder_scratch_init(&s, e, n, max_len), 0);
	ck_assert_msg(encoder_forward(e, &s, &b, NULL, err, sizeof(err)) == 0, "%s", err);
	double *x = malloc((size_t)n * H * sizeof(double));
	struct plain p = {e, 0, ids, starts, n_seqs};
	plain_forward(&p, x, n, thetas);
	double worst = 0.0;
	for (size_t i = 0; i < (size_t)n * H; i++)
		worst = fmax(worst, fabs(x[i] - s.x[i]));
	ck_assert_msg(worst <= TOL, "differs from the plain implementation by %g", worst);
	free(x);
	free(ids);
	encoder_scratch_dispose(&s);
}

START_TEST(test_mpnet_bias_beyond_max_distance)
{
	struct encoder e;
	struct encoder_layer layers[NL];
	encoder_base(&e, layers, 402);
	e.pos_emb = vec(402 * H, -0.5f, 0.5f);
	e.position_offset = 2;
	struct attn_bias bias = {vec(NH * (2 * 128 + 1), -1.0f, 1.0f), 128};
	e.attn_bias = &bias;
	const int32_t lens[] = {400, 23};
	check(&e, lens, 2, NULL);
	free_all();
}
END_TEST

START_TEST(test_deberta_long_sequence)
{
	struct encoder e;
	struct encoder_layer layers[NL];
	encoder_base(&e, layers, 512);
	int32_t span = 32, max_delta = 511;
	int32_t *rel = malloc((2 * (size_t)max_delta + 1) * sizeof(int32_t));
	for (int32_t d = -max_delta; d <= max_delta; d++) {
		int32_t r = deberta_log_bucket(d, span, 512) + span;
		rel[d + max_delta] = r < 0 ? 0 : r > 2 * span - 1 ? 2 * span - 1 : r;
	}
	struct deberta db = {.relative = 1,
	                     .c2p = 1,
	                     .p2c = 1,
	                     .span = span,
	                     .scale = sqrtf(D * 3.0f),
	                     .max_delta = max_delta,
	                     .rel_idx = rel,
	                     .pos_key = vec(NL * 2 * (size_t)span * H, -0.5f, 0.5f),
	                     .pos_query = vec(NL * 2 * (size_t)span * H, -0.5f, 0.5f)};
	e.deberta = &db;
	const int32_t lens[] = {7, 300, 41};
	check(&e, lens, 3, NULL);
	db.p2c = 0; /* c2p alone */
	db.scale = sqrtf(D * 2.0f);
	check(&e, lens, 3, NULL);
	free(rel);
	free_all();
}
END_TEST

START_TEST(test_modernbert_blocks_and_bands)
{
	struct encoder e;
	struct encoder_layer unused[NL];
	struct modernbert_layer layers[NL];
	float thetas[2] = {160000.0f, 10000.0f};
	encoder_base(&e, unused, 1024);
	float *zeros = vec(H, 0.0f, 0.0f);
	for (int l = 0; l < NL; l++) {
		layers[l] = (struct modernbert_layer){norm(), dense(3 * H, H, 0),  dense(H, H, 0),
		                                      norm(), dense(2 * FF, H, 0), dense(H, FF, 0)};
		layers[l].mlp_norm.beta = zeros; /* norm_bias false */
	}
	layers[0].attn_norm.gamma = NULL; /* nn.Identity */
	float *rope_global = vec(1024 * D, 0, 0), *rope_local = vec(1024 * D, 0, 0);
	modernbert_rope_table(rope_global, 1024, D, thetas[0]);
	modernbert_rope_table(rope_local, 1024, D, thetas[1]);
	struct modernbert mb = {.global_every = 2,
	                        .window = 8,
	                        .rope_global = rope_global,
	                        .rope_local = rope_local,
	                        .final_norm = norm(),
	                        .layers = layers};
	e.modern = &mb;
	const int32_t lens[] = {600, 70, 1};
	check(&e, lens, 3, thetas);
	free_all();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("encoder_families");
	TCase *tc = tcase_create("long");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mpnet_bias_beyond_max_distance);
	tcase_add_test(tc, test_deberta_long_sequence);
	tcase_add_test(tc, test_modernbert_blocks_and_bands);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

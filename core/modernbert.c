/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ModernBERT's forward pass (see modernbert.h): ModernBertEmbeddings
 * (LayerNorm of the word embeddings), pre-norm layers, the final norm.
 *
 * Every stage runs on the compute team: the products through dense_forward
 * (the residual added as their epilogue), attention through
 * encoder_attention, whose band (`window`) leaves out of a row's softmax
 * the keys a local layer does not see, which is what the reference's
 * finfo.min mask does (exp underflows to 0), and computes only the key
 * panels the band reaches; the norms, rotary embeddings and GeGLU gate
 * split by rows.
 */
#include "modernbert.h"

#include <math.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"
#include "team.h"

#define GLOBAL_ROWS 256 /* modernbert_flops counts blocks of query rows as attend did */
#define LOCAL_ROWS  64

void modernbert_rope_table(float *out, int32_t n_positions, int32_t head_dim, float theta)
{
	size_t half = (size_t)head_dim / 2;
	for (size_t i = 0; i < half; i++) {
		/* 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32 */
		float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
		for (int32_t p = 0; p < n_positions; p++) {
			float angle = (float)p * inv_freq;
			out[(size_t)p * (size_t)head_dim + i] = cosf(angle);
			out[(size_t)p * (size_t)head_dim + half + i] = sinf(angle);
		}
	}
}

/* Widest row of the fused q/k/v projection or of the GeGLU input. */
static size_t row_width(const struct encoder *e)
{
	size_t qkv = 3 * (size_t)e->hidden, geglu = 2 * (size_t)e->intermediate;
	return qkv > geglu ? qkv : geglu;
}

size_t modernbert_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len)
{
	(void)max_seq_len;
	return (size_t)max_tokens * row_width(e) * sizeof(float);
}

/* apply_rotary_pos_emb on every head of one token's q (or k) row: x * cos +
 * rotate_half(x) * sin, with rotate_half(x) = cat(-x2, x1). */
static void rotate(float *x, const float *cs, int32_t n_heads, size_t d)
{
	size_t half = d / 2;
	const float *sn = cs + half;
	for (int32_t head = 0; head < n_heads; head++, x += d)
		for (size_t i = 0; i < half; i++) {
			float x1 = x[i], x2 = x[half + i];
			x[i] = x1 * cs[i] + -x2 * sn[i];
			x[half + i] = x2 * cs[i] + x1 * sn[i];
		}
}

struct rows_stage {
	const struct encoder *e;
	const struct modernbert_layer *L;
	const struct packed_batch *b;
	float *dst;       /* norm: normalised rows; gate: act(input) * gate */
	const float *src; /* norm: x; gate: the Wi rows (n, 2 intermediate) */
	float *qkv;       /* rope: the fused rows (n, 3 hidden) */
	const float *rope;
	int kind; /* 0: norm (attention's, or the MLP's with mlp = 1), 1: rope, 2: gate */
	int mlp;
};

/* x = LayerNorm(src) into dst (dst may not alias src); gamma NULL: copy. */
static void norm_into(float *dst, const float *src, const struct layer_norm *ln, size_t n, size_t h)
{
	memcpy(dst, src, n * h * sizeof(float));
	if (ln->gamma != NULL)
		layer_norm_rows(dst, NULL, ln->gamma, ln->beta, ln->eps, n, h);
}

/* Tokens [t0, t1) of one row-wise stage. */
static void rows_part(void *arg, int i, int n)
{
	const struct rows_stage *st = arg;
	const struct encoder *e = st->e;
	size_t h = (size_t)e->hidden, d = (size_t)e->head_dim, ff = (size_t)e->intermediate;
	long t0, t1;
	team_split(st->b->n_tokens, 1, i, n, &t0, &t1);
	if (t0 >= t1)
		return;
	size_t rows = (size_t)(t1 - t0);
	if (st->kind == 0) {
		const struct layer_norm *ln = st->mlp ? &st->L->mlp_norm : &st->L->attn_norm;
		norm_into(st->dst + (size_t)t0 * h, st->src + (size_t)t0 * h, ln, rows, h);
	} else if (st->kind == 1) {
		int32_t q = 0;
		while (st->b->seq_start[q + 1] <= t0)
			q++;
		for (int32_t t = (int32_t)t0; t < (int32_t)t1; t++) {
			while (t >= st->b->seq_start[q + 1])
				q++;
			const float *cs = st->rope + (size_t)(t - st->b->seq_start[q]) * d;
			rotate(st->qkv + (size_t)t * 3 * h, cs, e->n_heads, d);
			rotate(st->qkv + (size_t)t * 3 * h + h, cs, e->n_heads, d);
		}
	} else {
		for (size_t t = (size_t)t0; t < (size_t)t1; t++) {
			float *y = st->dst + t * ff;
			const float *in = st->src + t * 2 * ff, *gate = in + ff;
			memcpy(y, in, ff * sizeof(float));
			activation_apply(y, ff, e->act);
			for (size_t c = 0; c < ff; c++)
				y[c] *= gate[c];
		}
	}
}

static void rows_stage(struct encoder_scratch *s, struct rows_stage *st)
{
	team_run(team_for(s->team, st->b->n_tokens, 64), rows_part, st);
}

/* One ModernBertEncoderLayer on s->x (n, hidden), in place: x += attn(
 * attn_norm(x)); x += mlp(mlp_norm(x)). The shared buffer holds the
 * normalised rows (n, hidden) and, after them, the attention context; the
 * family scratch the fused q | k | v rows, later the GeGLU input. */
static void modernbert_layer(const struct encoder *e, int32_t l, struct encoder_scratch *s,
                             const struct packed_batch *b)
{
	const struct modernbert *mb = e->modern;
	const struct modernbert_layer *L = &mb->layers[l];
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	int global = l % mb->global_every == 0;
	float *xn = s->qkv, *ctx = s->qkv + n * h, *rows = s->fam;
	struct team *t = s->team;
	double clock = profile_start(s);

	/* attn(attn_norm(x)): Wqkv, rotary q and k, attention, Wo; residual */
	struct rows_stage st = {e, L, b, xn, s->x, rows, global ? mb->rope_global : mb->rope_local,
	                        0, 0};
	rows_stage(s, &st);
	dense_forward(t, &L->wqkv, rows, 3 * h, xn, h, n, NULL);
	st.kind = 1;
	rows_stage(s, &st);
	profile_mark(s, STAGE_QKV, &clock);
	struct attention_opts opts = {0.0f, global ? 0 : mb->window, NULL, NULL};
	encoder_attention(s, ctx, h, rows, rows + h, 3 * h, rows + 2 * h, 3 * h, e->n_heads,
	                  e->head_dim, b, &opts);
	profile_mark(s, STAGE_ATTENTION, &clock);
	struct dense_epilogue residual = {ACT_NONE, s->x, h, NULL};
	dense_forward(t, &L->wo, s->x, h, ctx, h, n, &residual);
	profile_mark(s, STAGE_OUT, &clock);

	/* mlp(mlp_norm(x)): Wi -> act(input) * gate -> Wo; residual */
	st.kind = 0;
	st.mlp = 1;
	rows_stage(s, &st);
	dense_forward(t, &L->wi, rows, 2 * ff, xn, h, n, NULL);
	st.kind = 2;
	st.dst = s->ffn;
	st.src = rows;
	rows_stage(s, &st);
	dense_forward(t, &L->wo_mlp, s->x, h, s->ffn, ff, n, &residual);
	profile_mark(s, STAGE_FFN, &clock);
}

int modernbert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden;
	double clock = profile_start(s);
	encoder_embed(e, s, b);
	profile_mark(s, STAGE_EMBED, &clock);
	for (int32_t l = 0; l < e->n_layers; l++) {
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)l * n * h, s->x, n * h * sizeof(float));
		modernbert_layer(e, l, s, b);
	}
	/* hidden_states ends with the last layer's output, before final_norm */
	if (layers_out != NULL)
		memcpy(layers_out + (size_t)e->n_layers * n * h, s->x, n * h * sizeof(float));
	norm_rows_team(s->team, s->x, NULL, &e->modern->final_norm, n, h);
	return 0;
}

double modernbert_flops(const struct encoder *e, const struct packed_batch *b)
{
	const struct modernbert *mb = e->modern;
	double n = b->n_tokens, h = e->hidden, ff = e->intermediate, total = 0.0;
	for (int32_t l = 0; l < e->n_layers; l++) {
		int global = l % mb->global_every == 0;
		total += 2.0 * n * h * (4.0 * h + 3.0 * ff); /* Wqkv, Wo, Wi, Wo */
		for (int32_t q = 0; q < b->n_seqs; q++) {
			size_t len = (size_t)(b->seq_start[q + 1] - b->seq_start[q]);
			size_t rows = global ? GLOBAL_ROWS : LOCAL_ROWS, w = (size_t)mb->window;
			for (size_t r0 = 0; r0 < len; r0 += rows) { /* as attend() computes */
				size_t nr = len - r0 < rows ? len - r0 : rows;
				size_t k0 = global || r0 < w ? 0 : r0 - w;
				size_t k1 = global || r0 + nr + w > len ? len : r0 + nr + w;
				total += 2.0 * 2.0 * (double)nr * (double)(k1 - k0) * h;
			}
		}
	}
	return total;
}

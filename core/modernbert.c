/*
 * ModernBERT's forward pass (see modernbert.h): ModernBertEmbeddings
 * (LayerNorm of the word embeddings), pre-norm layers, the final norm.
 *
 * Attention runs per sequence and head on blocks of query rows, so its
 * scratch is one block of scores, never (len, len): a global layer's block
 * is GLOBAL_ROWS x len, a local layer's LOCAL_ROWS x (LOCAL_ROWS + 2 window)
 * and covers only the keys the block's band reaches, so local layers cost
 * O(len x window). Keys outside a row's band are left out of its softmax,
 * which is what the reference's finfo.min mask does (exp underflows to 0).
 */
#include "modernbert.h"

#include <math.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"

#define GLOBAL_ROWS 256 /* query rows per block on global layers */
#define LOCAL_ROWS  64  /* on local layers */

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

/* Floats of one block of scores for sequences up to len tokens. */
static size_t score_block(const struct encoder *e, size_t len)
{
	size_t global = (len < GLOBAL_ROWS ? len : GLOBAL_ROWS) * len;
	size_t local = LOCAL_ROWS * (LOCAL_ROWS + 2 * (size_t)e->modern->window);
	return global > local ? global : local;
}

size_t modernbert_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len)
{
	return ((size_t)max_tokens * row_width(e) + score_block(e, (size_t)max_seq_len)) *
	       sizeof(float);
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

/*
 * ModernBertAttention's eager path for one sequence of len tokens whose
 * fused rows (len, 3 hidden: q, k, v) start at qkv; ctx rows (hidden) out.
 * window < 0: global. Query rows in blocks; each block's scores cover keys
 * [k0, k1), the union of its rows' bands.
 */
static void attend(const struct encoder *e, float *ctx, const float *qkv, size_t len,
                   int32_t window, float *scores)
{
	size_t h = (size_t)e->hidden, d = (size_t)e->head_dim, ld = 3 * h;
	size_t rows = window < 0 ? GLOBAL_ROWS : LOCAL_ROWS, w = (size_t)window;
	float scale = 1.0f / sqrtf((float)d); /* head_dim ** -0.5 */
	for (size_t head = 0; head < (size_t)e->n_heads; head++) {
		const float *q = qkv + head * d, *k = q + h, *v = q + 2 * h;
		for (size_t r0 = 0; r0 < len; r0 += rows) {
			size_t nr = len - r0 < rows ? len - r0 : rows;
			size_t k0 = window < 0 || r0 < w ? 0 : r0 - w;
			size_t k1 = window < 0 || r0 + nr + w > len ? len : r0 + nr + w;
			size_t nk = k1 - k0;
			gemm_nt(scores, nk, q + r0 * ld, ld, k + k0 * ld, ld, nr, nk, d, 0);
			if (window < 0) {
				softmax_rows(scores, scale, nr, nk);
			} else {
				for (size_t i = 0; i < nr; i++) { /* row r0 + i: keys within w */
					float *row = scores + i * nk;
					size_t t = r0 + i, lo = t < w ? 0 : t - w;
					size_t hi = t + w + 1 < len ? t + w + 1 : len;
					memset(row, 0, (lo - k0) * sizeof(float));
					softmax_rows(row + (lo - k0), scale, 1, hi - lo);
					memset(row + (hi - k0), 0, (k1 - hi) * sizeof(float));
				}
			}
			gemm_nn(ctx + r0 * h + head * d, h, scores, nk, v + k0 * ld, ld, nr, d, nk);
		}
	}
}

/* x = LayerNorm(src) into dst (dst may not alias src); gamma NULL: copy. */
static void norm_into(float *dst, const float *src, const struct layer_norm *ln, size_t n, size_t h)
{
	memcpy(dst, src, n * h * sizeof(float));
	if (ln->gamma != NULL)
		layer_norm_rows(dst, NULL, ln->gamma, ln->beta, ln->eps, n, h);
}

static void add_rows(float *x, const float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] += y[i];
}

/* One ModernBertEncoderLayer on s->x (n, hidden), in place. */
static void modernbert_layer(const struct encoder *e, int32_t l, struct encoder_scratch *s,
                             const struct packed_batch *b)
{
	const struct modernbert *mb = e->modern;
	const struct modernbert_layer *L = &mb->layers[l];
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	size_t d = (size_t)e->head_dim;
	int global = l % mb->global_every == 0;
	const float *rope = global ? mb->rope_global : mb->rope_local;
	float *qkv = s->fam, *scores = s->fam + n * row_width(e);

	/* attn(attn_norm(x)): Wqkv, rotary q and k, attention, Wo; residual */
	norm_into(s->q, s->x, &L->attn_norm, n, h);
	linear(qkv, s->q, L->wqkv.w, L->wqkv.b, n, h, 3 * h);
	for (int32_t q = 0; q < b->n_seqs; q++)
		for (int32_t t = b->seq_start[q]; t < b->seq_start[q + 1]; t++) {
			const float *cs = rope + (size_t)(t - b->seq_start[q]) * d;
			rotate(qkv + (size_t)t * 3 * h, cs, e->n_heads, d);
			rotate(qkv + (size_t)t * 3 * h + h, cs, e->n_heads, d);
		}
	for (int32_t q = 0; q < b->n_seqs; q++) {
		size_t t0 = (size_t)b->seq_start[q];
		attend(e, s->ctx + t0 * h, qkv + t0 * 3 * h, (size_t)b->seq_start[q + 1] - t0,
		       global ? -1 : mb->window, scores);
	}
	linear(s->k, s->ctx, L->wo.w, L->wo.b, n, h, h);
	add_rows(s->x, s->k, n * h);

	/* mlp(mlp_norm(x)): Wi -> act(input) * gate -> Wo; residual */
	norm_into(s->q, s->x, &L->mlp_norm, n, h);
	float *wi = s->fam;
	linear(wi, s->q, L->wi.w, L->wi.b, n, h, 2 * ff);
	for (size_t t = 0; t < n; t++)
		memcpy(s->ffn + t * ff, wi + t * 2 * ff, ff * sizeof(float));
	activation_apply(s->ffn, n * ff, e->act);
	for (size_t t = 0; t < n; t++) {
		float *y = s->ffn + t * ff;
		const float *gate = wi + t * 2 * ff + ff;
		for (size_t i = 0; i < ff; i++)
			y[i] *= gate[i];
	}
	linear(s->k, s->ffn, L->wo_mlp.w, L->wo_mlp.b, n, ff, h);
	add_rows(s->x, s->k, n * h);
}

int modernbert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden;
	encoder_embed(e, s, b);
	for (int32_t l = 0; l < e->n_layers; l++) {
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)l * n * h, s->x, n * h * sizeof(float));
		modernbert_layer(e, l, s, b);
	}
	/* hidden_states ends with the last layer's output, before final_norm */
	if (layers_out != NULL)
		memcpy(layers_out + (size_t)e->n_layers * n * h, s->x, n * h * sizeof(float));
	const struct layer_norm *fn = &e->modern->final_norm;
	layer_norm_rows(s->x, NULL, fn->gamma, fn->beta, fn->eps, n, h);
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

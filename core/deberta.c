/*
 * DeBERTa-v2's forward pass (see deberta.h): DebertaV2Embeddings (no
 * position term unless position_biased_input), then per layer BERT's
 * projections, output and feed-forward around DisentangledSelfAttention.
 *
 * The relative terms are GEMMs, as the reference's torch.bmm + gather: per
 * sequence and head, c2p = q . pos_key^T and p2c = k . pos_query^T over
 * only the embedding rows this sequence's distances reach (a band of at
 * most 2 * len - 1 rows, all 2 * span for long inputs), then each score
 * gathers its two entries by the distance's row. The p2c entry of score
 * (i, j) sits in row j of p2c: it is gathered tile by tile, so both the
 * scores and p2c are read along rows.
 */
#include "deberta.h"

#include <math.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"

#define TILE 32 /* p2c gather tile: TILE x TILE floats stay in L1 */

int32_t deberta_log_bucket(int32_t d, int32_t bucket_size, int32_t max_position)
{
	if (bucket_size <= 0 || max_position <= 0)
		return d;
	int32_t mid = bucket_size / 2, a = d < 0 ? -d : d;
	if (a <= mid)
		return d;
	float log_pos = ceilf(logf((float)a / (float)mid) /
	                      logf((float)((double)(max_position - 1) / mid)) * (float)(mid - 1)) +
	                (float)mid;
	return d < 0 ? -(int32_t)log_pos : (int32_t)log_pos;
}

/* The band of relative embedding rows (lo, width) a sequence of len
 * tokens reaches: rel_idx never decreases with the distance. */
static void rel_band(const struct deberta *db, size_t len, int32_t *lo, size_t *width)
{
	const int32_t *rel = db->rel_idx + db->max_delta;
	*lo = rel[-(ptrdiff_t)(len - 1)];
	*width = (size_t)(rel[len - 1] - *lo + 1);
}

size_t deberta_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len)
{
	(void)max_tokens;
	const struct deberta *db = e->deberta;
	size_t len = (size_t)max_seq_len, width = 2 * len - 1;
	if (!db->relative)
		return 0;
	if (width > 2 * (size_t)db->span)
		width = 2 * (size_t)db->span;
	return 2 * len * width * sizeof(float); /* c2p, p2c */
}

/*
 * scores (len, len) = scores / scale + (c2p[i][r(i - j)] + p2c[j][r(i -
 * j)]) / scale, where r(dist) = rel[dist] - lo is the distance's column of
 * c2p and p2c (len, width); either may be NULL. The p2c entries of a TILE x
 * TILE block are gathered along p2c's rows, then added along the scores'
 * rows.
 */
static void add_relative(float *scores, const float *c2p, const float *p2c, const int32_t *rel,
                         int32_t lo, size_t len, size_t width, float inv_scale)
{
	float tile[TILE][TILE];
	for (size_t i0 = 0; i0 < len; i0 += TILE) {
		size_t ni = len - i0 < TILE ? len - i0 : TILE;
		for (size_t j0 = 0; j0 < len; j0 += TILE) {
			size_t nj = len - j0 < TILE ? len - j0 : TILE;
			for (size_t j = 0; j < nj && p2c != NULL; j++) {
				const float *prow = p2c + (j0 + j) * width;
				ptrdiff_t base = (ptrdiff_t)i0 - (ptrdiff_t)(j0 + j);
				for (size_t i = 0; i < ni; i++)
					tile[j][i] = prow[rel[base + (ptrdiff_t)i] - lo];
			}
			for (size_t i = 0; i < ni; i++) {
				float *srow = scores + (i0 + i) * len + j0;
				const float *crow = c2p != NULL ? c2p + (i0 + i) * width : NULL;
				ptrdiff_t base = (ptrdiff_t)(i0 + i) - (ptrdiff_t)j0;
				for (size_t j = 0; j < nj; j++) {
					float c = crow != NULL ? crow[rel[base - (ptrdiff_t)j] - lo]
					                       : 0.0f;
					float p = p2c != NULL ? tile[j][i] : 0.0f;
					srow[j] =
					    srow[j] * inv_scale + (c * inv_scale + p * inv_scale);
				}
			}
		}
	}
}

/* DisentangledSelfAttention of layer l for every sequence and head:
 * s->q, s->k, s->v (n, hidden) in, s->ctx out. */
static void deberta_attention(const struct encoder *e, int32_t l, struct encoder_scratch *s,
                              const struct packed_batch *b)
{
	const struct deberta *db = e->deberta;
	size_t h = (size_t)e->hidden, d = (size_t)e->head_dim;
	size_t layer_off = (size_t)l * 2 * (size_t)db->span * h;
	const float *pos_k = db->c2p && db->relative ? db->pos_key + layer_off : NULL;
	const float *pos_q = db->p2c && db->relative ? db->pos_query + layer_off : NULL;
	float inv_scale = 1.0f / db->scale;
	for (int32_t q = 0; q < b->n_seqs; q++) {
		size_t t0 = (size_t)b->seq_start[q];
		size_t len = (size_t)(b->seq_start[q + 1] - b->seq_start[q]);
		int32_t lo = 0;
		size_t width = 0;
		if (db->relative)
			rel_band(db, len, &lo, &width);
		float *c2p = pos_k != NULL ? s->fam : NULL;
		float *p2c = pos_q != NULL ? s->fam + len * width : NULL;
		const int32_t *rel = db->rel_idx + db->max_delta; /* rel[distance] */
		for (size_t head = 0; head < (size_t)e->n_heads; head++) {
			size_t off = t0 * h + head * d, band = (size_t)lo * h + head * d;
			gemm_nt(s->scores, len, s->q + off, h, s->k + off, h, len, len, d, 0);
			if (c2p != NULL)
				gemm_nt(c2p, width, s->q + off, h, pos_k + band, h, len, width, d,
				        0);
			if (p2c != NULL)
				gemm_nt(p2c, width, s->k + off, h, pos_q + band, h, len, width, d,
				        0);
			if (c2p != NULL || p2c != NULL) {
				add_relative(s->scores, c2p, p2c, rel, lo, len, width, inv_scale);
				softmax_rows(s->scores, 1.0f, len, len);
			} else {
				softmax_rows(s->scores, inv_scale, len, len);
			}
			gemm_nn(s->ctx + off, h, s->scores, len, s->v + off, h, len, d, len);
		}
	}
}

int deberta_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	encoder_embed(e, s, b);
	if (layers_out != NULL)
		memcpy(layers_out, s->x, n * h * sizeof(float));
	for (int32_t l = 0; l < e->n_layers; l++) {
		const struct encoder_layer *L = &e->layers[l];
		/* DisentangledSelfAttention: query_proj, key_proj, value_proj. */
		linear(s->q, s->x, L->q.w, L->q.b, n, h, h);
		linear(s->k, s->x, L->k.w, L->k.b, n, h, h);
		linear(s->v, s->x, L->v.w, L->v.b, n, h, h);
		deberta_attention(e, l, s, b);
		/* DebertaV2SelfOutput, Intermediate, Output: BERT's post-norm. */
		linear(s->q, s->ctx, L->o.w, L->o.b, n, h, h);
		layer_norm_rows(s->x, s->q, L->ln_attn.gamma, L->ln_attn.beta, L->ln_attn.eps, n,
		                h);
		linear(s->ffn, s->x, L->ffn_in.w, L->ffn_in.b, n, h, ff);
		activation_apply(s->ffn, n * ff, e->act);
		linear(s->q, s->ffn, L->ffn_out.w, L->ffn_out.b, n, ff, h);
		layer_norm_rows(s->x, s->q, L->ln_ffn.gamma, L->ln_ffn.beta, L->ln_ffn.eps, n, h);
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)(l + 1) * n * h, s->x, n * h * sizeof(float));
	}
	return 0;
}

double deberta_flops(const struct encoder *e, const struct packed_batch *b)
{
	const struct deberta *db = e->deberta;
	double n = b->n_tokens, h = e->hidden, ff = e->intermediate, attn = 0.0;
	int terms = db->relative ? db->c2p + db->p2c : 0;
	for (int32_t q = 0; q < b->n_seqs; q++) {
		size_t len = (size_t)(b->seq_start[q + 1] - b->seq_start[q]), width = 0;
		int32_t lo = 0;
		if (terms > 0)
			rel_band(db, len, &lo, &width);
		/* q k^T, probs v, and each relative term's (len, width) product */
		attn += 2.0 * h * (2.0 * (double)len * (double)len + terms * (double)len * width);
	}
	return e->n_layers * (2.0 * n * h * h * 4.0 + 2.0 * n * h * ff * 2.0 + attn);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DeBERTa-v2's forward pass (see deberta.h): DebertaV2Embeddings (no
 * position term unless position_biased_input), then per layer BERT's
 * projections, output and feed-forward around DisentangledSelfAttention.
 *
 * The products go through dense_forward (q, k and v as one fused product
 * when laid out at load); the (sequence, head) pairs of attention are
 * shared out over the compute team, each on its own part of the family
 * scratch (one head's (len, len) scores and its relative terms).
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
#include <stdatomic.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"
#include "team.h"

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
	if (width > 2 * (size_t)db->span)
		width = 2 * (size_t)db->span;
	size_t floats = len * len; /* one head's scores */
	if (db->relative)
		floats += 2 * len * width; /* c2p, p2c */
	return (floats + 15) / 16 * 16 * sizeof(float);
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

struct deberta_job {
	const struct encoder *e;
	struct encoder_scratch *s;
	const struct packed_batch *b;
	const float *q, *k, *v; /* rows of stride ld */
	size_t ld;
	float *ctx; /* rows of stride hidden */
	const float *pos_k, *pos_q;
	atomic_int next; /* the next (sequence, head) pair */
};

/* One (sequence, head) pair of DisentangledSelfAttention on workspace ws:
 * scores (len, len), c2p and p2c (len, width). */
static void deberta_pair(const struct deberta_job *j, int32_t seq, size_t head, float *ws)
{
	const struct encoder *e = j->e;
	const struct deberta *db = e->deberta;
	size_t h = (size_t)e->hidden, d = (size_t)e->head_dim, ld = j->ld;
	size_t t0 = (size_t)j->b->seq_start[seq];
	size_t len = (size_t)(j->b->seq_start[seq + 1] - j->b->seq_start[seq]);
	int32_t lo = 0;
	size_t width = 0;
	if (db->relative)
		rel_band(db, len, &lo, &width);
	float *scores = ws;
	float *c2p = j->pos_k != NULL ? ws + len * len : NULL;
	float *p2c = j->pos_q != NULL ? ws + len * len + len * width : NULL;
	const int32_t *rel = db->rel_idx + db->max_delta; /* rel[distance] */
	float inv_scale = 1.0f / db->scale;
	size_t off = t0 * ld + head * d, band = (size_t)lo * h + head * d;
	gemm_nt(scores, len, j->q + off, ld, j->k + off, ld, len, len, d, 0);
	if (c2p != NULL)
		gemm_nt(c2p, width, j->q + off, ld, j->pos_k + band, h, len, width, d, 0);
	if (p2c != NULL)
		gemm_nt(p2c, width, j->k + off, ld, j->pos_q + band, h, len, width, d, 0);
	if (c2p != NULL || p2c != NULL) {
		add_relative(scores, c2p, p2c, rel, lo, len, width, inv_scale);
		softmax_rows(scores, 1.0f, len, len);
	} else {
		softmax_rows(scores, inv_scale, len, len);
	}
	gemm_nn(j->ctx + t0 * h + head * d, h, scores, len, j->v + off, ld, len, d, len);
}

/* A team part: pairs taken from the shared counter, on part i's workspace. */
static void deberta_part(void *arg, int i, int n)
{
	struct deberta_job *j = arg;
	(void)n;
	float *ws = j->s->fam + (size_t)i * j->s->fam_part_floats;
	int32_t n_heads = j->e->n_heads, n_pairs = j->b->n_seqs * n_heads;
	for (;;) {
		int32_t p = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		if (p >= n_pairs)
			return;
		deberta_pair(j, p / n_heads, (size_t)(p % n_heads), ws);
	}
}

/* DisentangledSelfAttention of layer l for every sequence and head, the
 * (sequence, head) pairs shared out over the team: q, k, v rows of stride
 * ld in, ctx (n, hidden) out. */
static void deberta_attention(const struct encoder *e, int32_t l, struct encoder_scratch *s,
                              const struct packed_batch *b, const float *qkv, size_t ld, float *ctx)
{
	const struct deberta *db = e->deberta;
	size_t h = (size_t)e->hidden, layer_off = (size_t)l * 2 * (size_t)db->span * h;
	struct deberta_job j = {e,
	                        s,
	                        b,
	                        qkv,
	                        qkv + h,
	                        qkv + 2 * h,
	                        ld,
	                        ctx,
	                        db->c2p && db->relative ? db->pos_key + layer_off : NULL,
	                        db->p2c && db->relative ? db->pos_query + layer_off : NULL,
	                        0};
	atomic_init(&j.next, 0);
	team_run(s->team, deberta_part, &j);
}

int deberta_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	struct team *t = s->team;
	float *ctx = s->qkv + n * 3 * h; /* right after this batch's q | k | v rows */
	double clock = profile_start(s);
	encoder_embed(e, s, b);
	profile_mark(s, STAGE_EMBED, &clock);
	if (layers_out != NULL)
		memcpy(layers_out, s->x, n * h * sizeof(float));
	for (int32_t l = 0; l < e->n_layers; l++) {
		const struct encoder_layer *L = &e->layers[l];
		/* DisentangledSelfAttention: query_proj, key_proj, value_proj. */
		encoder_qkv(L, s, n, h);
		profile_mark(s, STAGE_QKV, &clock);
		deberta_attention(e, l, s, b, s->qkv, 3 * h, ctx);
		profile_mark(s, STAGE_ATTENTION, &clock);
		/* DebertaV2SelfOutput, Intermediate, Output: BERT's post-norm. */
		struct dense_epilogue attn_out = {ACT_NONE, s->x, h, &L->ln_attn};
		dense_forward(t, &L->o, s->x, h, ctx, h, n, &attn_out);
		profile_mark(s, STAGE_OUT, &clock);
		dense_ffn_forward(t, &L->ffn_in, e->act, &L->ffn_out, &L->ln_ffn, s->x, h, s->ffn,
		                  ff, n);
		profile_mark(s, STAGE_FFN, &clock);
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

/*
 * The shared encoder forward pass (see encoder.h). Mirrors Hugging Face's
 * BertEmbeddings + BertEncoder (modeling_bert.py) and DistilBERT's
 * Embeddings + Transformer (modeling_distilbert.py), which compute the same
 * function: post-LayerNorm layers, softmax(q k^T / sqrt(d)) v attention.
 * Batches are packed, so attention runs per sequence and no mask is needed.
 */
#include "encoder.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "deberta.h"
#include "encoder-impl.h"
#include "gemm.h"
#include "modernbert.h"
#include "status.h"

#define N_SLOTS 12

static size_t scratch_layout(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len,
                             size_t sizes[N_SLOTS])
{
	size_t t = (size_t)max_tokens, h = (size_t)e->hidden;
	size_t emb_width = (size_t)e->embedding_size * (e->mobile && e->mobile->trigram ? 3 : 1);
	sizes[0] = t * h * sizeof(float);                       /* x */
	sizes[1] = sizes[0];                                    /* q */
	sizes[2] = sizes[0];                                    /* k */
	sizes[3] = sizes[0];                                    /* v */
	sizes[4] = sizes[0];                                    /* ctx */
	sizes[5] = t * (size_t)e->intermediate * sizeof(float); /* ffn */
	sizes[6] = e->emb_proj.w != NULL ? t * emb_width * sizeof(float) : 0;
	sizes[7] = (size_t)max_seq_len * (size_t)max_seq_len * sizeof(float); /* scores */
	for (int i = 8; i < 11; i++)
		sizes[i] = e->mobile != NULL ? sizes[0] : 0; /* t1, t2, t3 */
	/* fam: DeBERTa's relative terms; ModernBERT's rows and score blocks,
	 * which also replace the (len, len) scores of long inputs */
	sizes[11] = e->deberta != NULL  ? deberta_scratch_bytes(e, max_tokens, max_seq_len)
	            : e->modern != NULL ? modernbert_scratch_bytes(e, max_tokens, max_seq_len)
	                                : 0;
	if (e->modern != NULL)
		sizes[3] = sizes[7] = 0; /* its q, k, v live in fam; no (len, len) scores */
	size_t total = 0;
	for (int i = 0; i < N_SLOTS; i++)
		total += arena_size_of(sizes[i]);
	return total;
}

size_t encoder_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len)
{
	size_t sizes[N_SLOTS];
	return scratch_layout(e, max_tokens, max_seq_len, sizes);
}

int encoder_scratch_init(struct encoder_scratch *s, const struct encoder *e, int32_t max_tokens,
                         int32_t max_seq_len)
{
	size_t sizes[N_SLOTS];
	memset(s, 0, sizeof(*s));
	if (max_tokens <= 0 || max_seq_len <= 0)
		return STATUS_EINVAL;
	if (arena_init(&s->arena, scratch_layout(e, max_tokens, max_seq_len, sizes)) != 0)
		return STATUS_ENOMEM;
	float **slots[N_SLOTS] = {&s->x,   &s->q,      &s->k,  &s->v,  &s->ctx, &s->ffn,
	                          &s->emb, &s->scores, &s->t1, &s->t2, &s->t3,  &s->fam};
	for (int i = 0; i < N_SLOTS; i++)
		*slots[i] = sizes[i] ? arena_alloc(&s->arena, sizes[i]) : NULL;
	s->max_tokens = max_tokens;
	s->max_seq_len = max_seq_len;
	return 0;
}

void encoder_scratch_dispose(struct encoder_scratch *s)
{
	arena_dispose(&s->arena);
	memset(s, 0, sizeof(*s));
}

static int check_batch(const struct encoder *e, const struct encoder_scratch *s,
                       const struct packed_batch *b, char *err, size_t n_err)
{
	if (b->n_seqs <= 0 || b->n_tokens <= 0 || b->n_tokens > s->max_tokens)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "batch of %d tokens in %d sequences does not fit a scratch of "
		                   "%d tokens",
		                   (int)b->n_tokens, (int)b->n_seqs, (int)s->max_tokens);
	if (b->seq_start[0] != 0 || b->seq_start[b->n_seqs] != b->n_tokens)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "sequence offsets do not cover batch");
	for (int32_t i = 0; i < b->n_seqs; i++) {
		int32_t len = b->seq_start[i + 1] - b->seq_start[i];
		if (len <= 0 || len > s->max_seq_len || len + e->position_offset > e->max_positions)
			return status_fail(err, n_err, STATUS_EINVAL,
			                   "sequence %d has %d tokens; this model takes 1 to %d",
			                   (int)i, (int)len,
			                   (int)(e->max_positions - e->position_offset));
	}
	for (int32_t t = 0; t < b->n_tokens; t++) {
		if (b->ids[t] < 0 || b->ids[t] >= e->vocab_size)
			return status_fail(err, n_err, STATUS_EINVAL,
			                   "token id %d is outside the vocabulary (size %d)",
			                   (int)b->ids[t], (int)e->vocab_size);
		/* Models without token-type embeddings ignore type ids. */
		int32_t type = b->type_ids != NULL && e->type_emb != NULL ? b->type_ids[t] : 0;
		if (type < 0 || (type > 0 && type >= e->type_vocab_size))
			return status_fail(
			    err, n_err, STATUS_EINVAL, "token type id %d is outside 0..%d",
			    (int)type, (int)(e->type_vocab_size > 0 ? e->type_vocab_size - 1 : 0));
	}
	return 0;
}

/* BertEmbeddings: LayerNorm(word + position + token_type) [-> projection]. */
void encoder_embed(const struct encoder *e, struct encoder_scratch *s, const struct packed_batch *b)
{
	size_t es = (size_t)e->embedding_size;
	float *out = e->emb_proj.w != NULL ? s->emb : s->x;
	for (int32_t q = 0; q < b->n_seqs; q++) {
		for (int32_t t = b->seq_start[q]; t < b->seq_start[q + 1]; t++) {
			size_t pos = (size_t)(t - b->seq_start[q] + e->position_offset);
			const float *w = e->word_emb + (size_t)b->ids[t] * es;
			float *row = out + (size_t)t * es;
			if (e->pos_emb == NULL) {
				memcpy(row, w, es * sizeof(float));
			} else {
				const float *p = e->pos_emb + pos * es;
				for (size_t i = 0; i < es; i++)
					row[i] = w[i] + p[i];
			}
			if (e->type_emb != NULL) {
				int32_t type = b->type_ids != NULL ? b->type_ids[t] : 0;
				const float *ty = e->type_emb + (size_t)type * es;
				for (size_t i = 0; i < es; i++)
					row[i] += ty[i];
			}
		}
	}
	layer_norm_rows(out, NULL, e->ln_emb.gamma, e->ln_emb.beta, e->ln_emb.eps,
	                (size_t)b->n_tokens, es);
	if (e->emb_proj.w != NULL)
		linear(s->x, s->emb, e->emb_proj.w, e->emb_proj.b, (size_t)b->n_tokens, es,
		       (size_t)e->hidden);
}

/*
 * scores (len, len) = scores * scale + bias of each key's distance from its
 * query (MPNetSelfAttention: scores / sqrt(d) + position_bias). tab is one
 * head's row of the table: tab[max_d + j - i] within the clamp, the end
 * values beyond it.
 */
static void add_attn_bias(float *scores, size_t len, float scale, const float *tab, int32_t max_d)
{
	for (size_t i = 0; i < len; i++) {
		float *row = scores + i * len;
		ptrdiff_t off = (ptrdiff_t)max_d - (ptrdiff_t)i; /* tab[off + j]: key j */
		size_t lo = i > (size_t)max_d ? i - (size_t)max_d : 0;
		size_t hi = i + (size_t)max_d + 1 < len ? i + (size_t)max_d + 1 : len;
		for (size_t j = 0; j < lo; j++)
			row[j] = row[j] * scale + tab[0];
		for (size_t j = lo; j < hi; j++)
			row[j] = row[j] * scale + tab[off + (ptrdiff_t)j];
		for (size_t j = hi; j < len; j++)
			row[j] = row[j] * scale + tab[2 * max_d];
	}
}

/*
 * Multi-head self-attention of each sequence on its own: ctx = softmax(q
 * k^T / sqrt(d) [+ bias]) v, head by head, reading strided slices of q, k, v
 * (rows of width ld = n_heads * d). scores is (len, len) scratch.
 */
void encoder_attention(float *ctx, const float *q, const float *k, const float *v, float *scores,
                       size_t ld, int32_t n_heads, int32_t head_dim, const struct attn_bias *bias,
                       const struct packed_batch *b)
{
	size_t d = (size_t)head_dim;
	float scale = 1.0f / sqrtf((float)head_dim);
	for (int32_t s = 0; s < b->n_seqs; s++) {
		size_t t0 = (size_t)b->seq_start[s];
		size_t len = (size_t)(b->seq_start[s + 1] - b->seq_start[s]);
		for (size_t head = 0; head < (size_t)n_heads; head++) {
			size_t off = t0 * ld + head * d;
			gemm_nt(scores, len, q + off, ld, k + off, ld, len, len, d, 0);
			if (bias != NULL) {
				size_t width = 2 * (size_t)bias->max_distance + 1;
				add_attn_bias(scores, len, scale, bias->table + head * width,
				              bias->max_distance);
				softmax_rows(scores, 1.0f, len, len);
			} else {
				softmax_rows(scores, scale, len, len);
			}
			gemm_nn(ctx + off, ld, scores, len, v + off, ld, len, d, len);
		}
	}
}

void norm_rows(float *x, const float *residual, const struct layer_norm *ln, size_t n_rows,
               size_t n)
{
	if (!ln->no_norm) {
		layer_norm_rows(x, residual, ln->gamma, ln->beta, ln->eps, n_rows, n);
		return;
	}
	for (size_t r = 0; r < n_rows; r++) { /* MobileBERT NoNorm */
		float *row = x + r * n;
		const float *res = residual ? residual + r * n : NULL;
		for (size_t i = 0; i < n; i++)
			row[i] = (row[i] + (res ? res[i] : 0.0f)) * ln->gamma[i] + ln->beta[i];
	}
}

int encoder_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out, char *err, size_t n_err)
{
	int rc = check_batch(e, s, b, err, n_err);
	if (rc != 0)
		return rc;
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	if (e->mobile != NULL)
		return mobilebert_forward(e, s, b, layers_out);
	if (e->deberta != NULL)
		return deberta_forward(e, s, b, layers_out);
	if (e->modern != NULL)
		return modernbert_forward(e, s, b, layers_out);

	encoder_embed(e, s, b);
	if (layers_out != NULL)
		memcpy(layers_out, s->x, n * h * sizeof(float));

	for (int32_t l = 0; l < e->n_layers; l++) {
		const struct encoder_layer *L = &e->layers[l];
		/* BertSelfAttention: query, key, value projections. */
		linear(s->q, s->x, L->q.w, L->q.b, n, h, h);
		linear(s->k, s->x, L->k.w, L->k.b, n, h, h);
		linear(s->v, s->x, L->v.w, L->v.b, n, h, h);
		encoder_attention(s->ctx, s->q, s->k, s->v, s->scores, h, e->n_heads, e->head_dim,
		                  e->attn_bias, b);
		/* BertSelfOutput: LayerNorm(dense(ctx) + x). q is free again. */
		linear(s->q, s->ctx, L->o.w, L->o.b, n, h, h);
		layer_norm_rows(s->x, s->q, L->ln_attn.gamma, L->ln_attn.beta, L->ln_attn.eps, n,
		                h);
		/* BertIntermediate + BertOutput: LayerNorm(W2 act(W1 x) + x). */
		linear(s->ffn, s->x, L->ffn_in.w, L->ffn_in.b, n, h, ff);
		activation_apply(s->ffn, n * ff, e->act);
		linear(s->q, s->ffn, L->ffn_out.w, L->ffn_out.b, n, ff, h);
		layer_norm_rows(s->x, s->q, L->ln_ffn.gamma, L->ln_ffn.beta, L->ln_ffn.eps, n, h);
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)(l + 1) * n * h, s->x, n * h * sizeof(float));
	}
	return 0;
}

double encoder_flops(const struct encoder *e, const struct packed_batch *b)
{
	if (e->deberta != NULL)
		return deberta_flops(e, b);
	if (e->modern != NULL)
		return modernbert_flops(e, b);
	double n = b->n_tokens, h = e->hidden, ff = e->intermediate;
	double per_layer = 2.0 * n * h * h * 4.0 + 2.0 * n * h * ff * 2.0;
	double attn = 0.0;
	for (int32_t q = 0; q < b->n_seqs; q++) {
		double len = b->seq_start[q + 1] - b->seq_start[q];
		attn += 2.0 * 2.0 * len * len * h;
	}
	double total = e->n_layers * (per_layer + attn);
	if (e->emb_proj.w != NULL)
		total += 2.0 * n * e->embedding_size * h;
	return total;
}

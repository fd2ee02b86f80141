/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MobileBERT's forward pass (modeling_mobilebert.py): trigram word
 * embeddings projected to the hidden size, then per layer an input
 * bottleneck (hidden -> intra), attention over a narrow width (true_hidden),
 * num_feedforward_networks feed-forward blocks, and an output bottleneck
 * back to the hidden size with the layer's input as residual. NoNorm
 * (x * gamma + beta) replaces LayerNorm when normalization_type is no_norm.
 * Packed batches: the trigram's next/previous token of a sequence's last /
 * first token is zero, as the padded reference sees a zero pad embedding.
 */
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"

struct mb_embed_job {
	const struct encoder *e;
	const struct packed_batch *b;
	float *dst;
	int stage; /* 0: gather word embeddings; 1: + position + type, norm */
};

/* MobileBertEmbeddings.forward for tokens [t0, t1) of one stage. */
static void mb_embed_part(void *arg, int i, int n)
{
	const struct mb_embed_job *j = arg;
	const struct encoder *e = j->e;
	const struct packed_batch *b = j->b;
	const struct mobilebert *mb = e->mobile;
	size_t es = (size_t)e->embedding_size, h = (size_t)e->hidden;
	size_t width = mb->trigram ? 3 * es : es;
	long t0, t1;
	team_split(b->n_tokens, 1, i, n, &t0, &t1);
	int32_t q = 0;
	while (t0 < t1 && b->seq_start[q + 1] <= t0)
		q++;
	for (int32_t t = (int32_t)t0; t < (int32_t)t1; t++) {
		while (t >= b->seq_start[q + 1])
			q++;
		int32_t first = b->seq_start[q], end = b->seq_start[q + 1];
		if (j->stage == 1) {
			size_t pos = (size_t)(t - first + e->position_offset);
			float *row = j->dst + (size_t)t * h;
			const float *p = e->pos_emb + pos * h;
			for (size_t c = 0; c < h; c++)
				row[c] += p[c];
			if (e->type_emb != NULL) {
				int32_t type = b->type_ids != NULL ? b->type_ids[t] : 0;
				const float *ty = e->type_emb + (size_t)type * h;
				for (size_t c = 0; c < h; c++)
					row[c] += ty[c];
			}
			continue;
		}
		float *row = j->dst + (size_t)t * width;
		const float *cur = e->word_emb + (size_t)b->ids[t] * es;
		if (!mb->trigram) {
			memcpy(row, cur, es * sizeof(float));
			continue;
		}
		/* cat([next token, this token, previous token]) */
		if (t + 1 < end)
			memcpy(row, e->word_emb + (size_t)b->ids[t + 1] * es, es * sizeof(float));
		else
			memset(row, 0, es * sizeof(float));
		memcpy(row + es, cur, es * sizeof(float));
		if (t > first)
			memcpy(row + 2 * es, e->word_emb + (size_t)b->ids[t - 1] * es,
			       es * sizeof(float));
		else
			memset(row + 2 * es, 0, es * sizeof(float));
	}
}

/* MobileBertEmbeddings.forward. */
static void mobilebert_embed(const struct encoder *e, struct encoder_scratch *s,
                             const struct packed_batch *b)
{
	size_t es = (size_t)e->embedding_size, h = (size_t)e->hidden, n = (size_t)b->n_tokens;
	size_t width = e->mobile->trigram ? 3 * es : es;
	int factorised = e->emb_proj.w != NULL || e->emb_proj.packed != NULL;
	struct mb_embed_job j = {e, b, factorised ? s->emb : s->x, 0};
	struct team *t = team_for(s->team, (double)n, 64); /* short batches: no wake-ups */
	team_run(t, mb_embed_part, &j);
	if (factorised)
		dense_forward(s->team, &e->emb_proj, s->x, h, s->emb, width, n, NULL);
	j.dst = s->x;
	j.stage = 1;
	team_run(t, mb_embed_part, &j);
	norm_rows_team(s->team, s->x, NULL, &e->ln_emb, n, h);
}

/* y = norm(d(x) + residual), residual NULL, or y itself (in place). */
static void dense_norm(struct encoder_scratch *s, float *y, const float *x, const struct dense *d,
                       const struct layer_norm *ln, const float *residual, size_t n)
{
	struct dense_epilogue ep = {ACT_NONE, residual, (size_t)d->n_out, ln};
	dense_forward(s->team, d, y, (size_t)d->n_out, x, (size_t)d->n_in, n, &ep);
}

/* y (n, d->n_out) = act(d(x)). */
static void dense_act(struct encoder_scratch *s, float *y, const float *x, const struct dense *d,
                      enum activation act, size_t n)
{
	struct dense_epilogue ep = {act, NULL, 0, NULL};
	dense_forward(s->team, d, y, (size_t)d->n_out, x, (size_t)d->n_in, n, &ep);
}

/* One MobileBertLayer on s->x (n, hidden), in place. */
static void mobilebert_layer(const struct encoder *e, const struct mobilebert_layer *L,
                             struct encoder_scratch *s, const struct packed_batch *b)
{
	const struct mobilebert *mb = e->mobile;
	size_t n = (size_t)b->n_tokens, tr = (size_t)mb->true_hidden;
	const float *layer_input = s->x, *qk_in = s->x, *v_in = s->x;
	double clock = profile_start(s);

	/* Bottleneck: which tensors feed query/key, value and the residual. */
	if (mb->use_bottleneck) {
		dense_norm(s, s->t1, s->x, &L->bn_input, &L->bn_input_norm, NULL, n);
		layer_input = s->t1;
		if (mb->use_bottleneck_attention) {
			qk_in = v_in = s->t1;
		} else if (mb->key_query_shared) {
			dense_norm(s, s->t2, s->x, &L->bn_attention, &L->bn_attention_norm, NULL,
			           n);
			qk_in = s->t2;
		}
	}
	profile_mark(s, STAGE_BOTTLENECK, &clock);
	const float *q = s->q, *k = s->k;
	size_t ld_qk = tr;
	if (L->qk.packed != NULL) { /* q | k in one product into q's (n, 2 tr) buffer */
		dense_forward(s->team, &L->qk, s->q, 2 * tr, qk_in, (size_t)L->qk.n_in, n, NULL);
		k = s->q + tr;
		ld_qk = 2 * tr;
	} else {
		dense_act(s, s->q, qk_in, &L->q, ACT_NONE, n);
		dense_act(s, s->k, qk_in, &L->k, ACT_NONE, n);
	}
	dense_act(s, s->v, v_in, &L->v, ACT_NONE, n);
	profile_mark(s, STAGE_QKV, &clock);
	encoder_attention(s, s->ctx, tr, q, k, ld_qk, s->v, tr, e->n_heads, e->head_dim, b, NULL);
	profile_mark(s, STAGE_ATTENTION, &clock);
	/* MobileBertSelfOutput: norm(dense(ctx) + layer_input) -> t3 */
	dense_norm(s, s->t3, s->ctx, &L->o, &L->attn_norm, layer_input, n);
	profile_mark(s, STAGE_OUT, &clock);

	/* FFNLayer x (num_feedforward_networks - 1): a = norm(W2 act(W1 a) + a). */
	for (int i = 0; i < L->n_ffn; i++) {
		dense_act(s, s->ffn, s->t3, &L->ffn_in[i], e->act, n);
		profile_mark(s, STAGE_FFN, &clock);
		dense_norm(s, s->t3, s->ffn, &L->ffn_out[i], &L->ffn_norm[i], s->t3, n);
		profile_mark(s, STAGE_FFN, &clock);
	}
	/* MobileBertIntermediate + MobileBertOutput, then OutputBottleneck:
	 * norm(dense(out) + hidden_states). */
	dense_act(s, s->ffn, s->t3, &L->inter, e->act, n);
	profile_mark(s, STAGE_FFN, &clock);
	if (mb->use_bottleneck) {
		dense_norm(s, s->t3, s->ffn, &L->out, &L->out_norm, s->t3, n);
		profile_mark(s, STAGE_FFN, &clock);
		dense_norm(s, s->x, s->t3, &L->out_bn, &L->out_bn_norm, s->x, n);
		profile_mark(s, STAGE_BOTTLENECK, &clock);
	} else {
		dense_norm(s, s->x, s->ffn, &L->out, &L->out_norm, s->t3, n);
		profile_mark(s, STAGE_FFN, &clock);
	}
}

int mobilebert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden;
	double clock = profile_start(s);
	mobilebert_embed(e, s, b);
	profile_mark(s, STAGE_EMBED, &clock);
	if (layers_out != NULL)
		memcpy(layers_out, s->x, n * h * sizeof(float));
	for (int32_t l = 0; l < e->n_layers; l++) {
		mobilebert_layer(e, &e->mobile->layers[l], s, b);
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)(l + 1) * n * h, s->x, n * h * sizeof(float));
	}
	return 0;
}

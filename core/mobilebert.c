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

/* MobileBertEmbeddings.forward. */
static void mobilebert_embed(const struct encoder *e, struct encoder_scratch *s,
                             const struct packed_batch *b)
{
	const struct mobilebert *mb = e->mobile;
	size_t es = (size_t)e->embedding_size, h = (size_t)e->hidden, n = (size_t)b->n_tokens;
	size_t width = mb->trigram ? 3 * es : es;
	float *dst = e->emb_proj.w != NULL ? s->emb : s->x;
	for (int32_t q = 0; q < b->n_seqs; q++) {
		int32_t first = b->seq_start[q], end = b->seq_start[q + 1];
		for (int32_t t = first; t < end; t++) {
			float *row = dst + (size_t)t * width;
			const float *cur = e->word_emb + (size_t)b->ids[t] * es;
			if (!mb->trigram) {
				memcpy(row, cur, es * sizeof(float));
				continue;
			}
			/* cat([next token, this token, previous token]) */
			if (t + 1 < end)
				memcpy(row, e->word_emb + (size_t)b->ids[t + 1] * es,
				       es * sizeof(float));
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
	if (e->emb_proj.w != NULL)
		linear(s->x, s->emb, e->emb_proj.w, e->emb_proj.b, n, width, h);
	for (int32_t q = 0; q < b->n_seqs; q++) {
		for (int32_t t = b->seq_start[q]; t < b->seq_start[q + 1]; t++) {
			size_t pos = (size_t)(t - b->seq_start[q] + e->position_offset);
			float *row = s->x + (size_t)t * h;
			const float *p = e->pos_emb + pos * h;
			for (size_t i = 0; i < h; i++)
				row[i] += p[i];
			if (e->type_emb != NULL) {
				int32_t type = b->type_ids != NULL ? b->type_ids[t] : 0;
				const float *ty = e->type_emb + (size_t)type * h;
				for (size_t i = 0; i < h; i++)
					row[i] += ty[i];
			}
		}
	}
	norm_rows(s->x, NULL, &e->ln_emb, n, h);
}

static void dense_norm(float *y, const float *x, const struct dense *d, const struct layer_norm *ln,
                       const float *residual, size_t n)
{
	linear(y, x, d->w, d->b, n, (size_t)d->n_in, (size_t)d->n_out);
	norm_rows(y, residual, ln, n, (size_t)d->n_out);
}

/* One MobileBertLayer on s->x (n, hidden), in place. */
static void mobilebert_layer(const struct encoder *e, const struct mobilebert_layer *L,
                             struct encoder_scratch *s, const struct packed_batch *b)
{
	const struct mobilebert *mb = e->mobile;
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, tr = (size_t)mb->true_hidden;
	size_t ff = (size_t)e->intermediate;
	const float *layer_input = s->x, *qk_in = s->x, *v_in = s->x;

	/* Bottleneck: which tensors feed query/key, value and the residual. */
	if (mb->use_bottleneck) {
		dense_norm(s->t1, s->x, &L->bn_input, &L->bn_input_norm, NULL, n);
		layer_input = s->t1;
		if (mb->use_bottleneck_attention) {
			qk_in = v_in = s->t1;
		} else if (mb->key_query_shared) {
			dense_norm(s->t2, s->x, &L->bn_attention, &L->bn_attention_norm, NULL, n);
			qk_in = s->t2;
		}
	}
	linear(s->q, qk_in, L->q.w, L->q.b, n, (size_t)L->q.n_in, tr);
	linear(s->k, qk_in, L->k.w, L->k.b, n, (size_t)L->k.n_in, tr);
	linear(s->v, v_in, L->v.w, L->v.b, n, (size_t)L->v.n_in, tr);
	encoder_attention(s->ctx, s->q, s->k, s->v, s->scores, tr, e->n_heads, e->head_dim, NULL,
	                  b);
	/* MobileBertSelfOutput: norm(dense(ctx) + layer_input) -> t3 */
	dense_norm(s->t3, s->ctx, &L->o, &L->attn_norm, layer_input, n);

	/* FFNLayer x (num_feedforward_networks - 1): norm(W2 act(W1 a) + a). */
	for (int i = 0; i < L->n_ffn; i++) {
		linear(s->ffn, s->t3, L->ffn_in[i].w, L->ffn_in[i].b, n, tr, ff);
		activation_apply(s->ffn, n * ff, e->act);
		dense_norm(s->q, s->ffn, &L->ffn_out[i], &L->ffn_norm[i], s->t3, n);
		memcpy(s->t3, s->q, n * tr * sizeof(float));
	}
	/* MobileBertIntermediate + MobileBertOutput. */
	linear(s->ffn, s->t3, L->inter.w, L->inter.b, n, tr, ff);
	activation_apply(s->ffn, n * ff, e->act);
	dense_norm(s->q, s->ffn, &L->out, &L->out_norm, s->t3, n);
	if (mb->use_bottleneck) {
		/* OutputBottleneck: norm(dense(out) + hidden_states) */
		dense_norm(s->k, s->q, &L->out_bn, &L->out_bn_norm, s->x, n);
		memcpy(s->x, s->k, n * h * sizeof(float));
	} else {
		memcpy(s->x, s->q, n * h * sizeof(float));
	}
}

int mobilebert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden;
	mobilebert_embed(e, s, b);
	if (layers_out != NULL)
		memcpy(layers_out, s->x, n * h * sizeof(float));
	for (int32_t l = 0; l < e->n_layers; l++) {
		mobilebert_layer(e, &e->mobile->layers[l], s, b);
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)(l + 1) * n * h, s->x, n * h * sizeof(float));
	}
	return 0;
}

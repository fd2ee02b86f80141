/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private between the encoder's forward passes (encoder.c: BERT-style
 * post-norm layers; mobilebert.c: MobileBERT's bottlenecked layers; any
 * other architecture's forward pass in core/): the shared stages, each
 * split over the scratch's compute team. Products go through
 * dense_forward (gemm.h), with their bias, activation, residual and norm
 * as its epilogue.
 */
#ifndef SMOLSERVE_CORE_ENCODER_IMPL_H
#define SMOLSERVE_CORE_ENCODER_IMPL_H

#include "encoder.h"

/*
 * Adds a bias to raw attention scores before the softmax, for one block of
 * one sequence and head: scores[r * ld + c] += bias(query q0 + r, key k0 +
 * c) for r < n_q, c < n_k, positions counted from the sequence's first
 * token. The scores are already multiplied by the attention scale. Called
 * from every team thread at once: arg must be read-only or thread-safe.
 */
typedef void (*attention_bias_fn)(void *arg, int32_t seq, int32_t head, int32_t q0, int32_t n_q,
                                  int32_t k0, int32_t n_k, float *scores, size_t ld);

/* Variations on softmax(q k^T * scale) v. Zero-initialised: plain BERT. */
struct attention_opts {
	float scale;            /* 0: 1 / sqrt(head_dim) */
	int32_t window;         /* > 0: query i sees only keys j with |i - j| <= window */
	attention_bias_fn bias; /* NULL: none (MPNet's relative position bias, ...) */
	void *bias_arg;         /* borrowed, passed to bias */
};

/*
 * Multi-head self-attention of each sequence of b on its own:
 * ctx = softmax(q k^T * scale [+ bias] [band]) v, head by head. q, k, v and
 * ctx are rows of n_tokens (head h at columns [h d, h d + d)) with row
 * strides ld_qk (q and k), ld_v and ld_ctx. (sequence, head) pairs are
 * spread over s->team; each runs on s->attn workspace, blocks of query
 * rows at a time, never holding a whole (len, len) score matrix. ctx must
 * not overlap q, k or v. Owner thread of s only.
 */
void encoder_attention(struct encoder_scratch *s, float *ctx, size_t ld_ctx, const float *q,
                       const float *k, size_t ld_qk, const float *v, size_t ld_v, int32_t n_heads,
                       int32_t head_dim, const struct packed_batch *b,
                       const struct attention_opts *opts);

/* Floats of attention workspace one team thread needs for sequences of up
 * to max_seq_len tokens with heads of head_dim. */
size_t encoder_attention_floats(int32_t max_seq_len, int32_t head_dim);

/* x = norm(x + residual) row by row: LayerNorm, or NoNorm when ln->no_norm;
 * residual may be NULL. On the calling thread. */
void norm_rows(float *x, const float *residual, const struct layer_norm *ln, size_t n_rows,
               size_t n);

/* norm_rows split by rows over team t. */
void norm_rows_team(struct team *t, float *x, const float *residual, const struct layer_norm *ln,
                    size_t n_rows, size_t n);

/* activation_apply over n_rows rows of n, split by rows over team t. */
void activation_apply_team(struct team *t, float *x, size_t n_rows, size_t n, enum activation act);

/* Stage clocks for s->profile: t = profile_start(s), then after each stage
 * profile_mark(s, stage, &t) adds the time since t and restarts t. Free
 * when s->profile is NULL. */
double profile_start(const struct encoder_scratch *s);
void profile_mark(const struct encoder_scratch *s, enum encoder_stage stage, double *t);

/* An attention_bias_fn for struct attn_bias (MPNet's relative position
 * buckets): arg is the struct attn_bias. */
void attn_bias_add(void *arg, int32_t seq, int32_t head, int32_t q0, int32_t n_q, int32_t k0,
                   int32_t n_k, float *scores, size_t ld);

/* Layer L's query, key and value projections of the n rows of s->x into
 * s->qkv, each row q | k | v (3 * h wide): one fused product when L->qkv
 * was laid out at load, else three. On s->team. */
void encoder_qkv(const struct encoder_layer *L, struct encoder_scratch *s, size_t n, size_t h);

/* BertEmbeddings into s->x: LayerNorm(word [+ position] [+ token type])
 * [-> projection]; no position term when e->pos_emb is NULL (DeBERTa-v3,
 * ModernBERT). On s->team. */
void encoder_embed(const struct encoder *e, struct encoder_scratch *s,
                   const struct packed_batch *b);

/* MobileBERT's, DeBERTa-v2's and ModernBERT's forward passes (mobilebert.c,
 * deberta.c, modernbert.c); the batch is already checked. */
int mobilebert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out);
int deberta_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out);
int modernbert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out);

#endif

/*
 * Private between the encoder's forward passes (encoder.c: BERT-style
 * post-norm layers; mobilebert.c: MobileBERT's bottlenecked layers).
 */
#ifndef SMOLSERVE_CORE_ENCODER_IMPL_H
#define SMOLSERVE_CORE_ENCODER_IMPL_H

#include "encoder.h"

/* Per-sequence multi-head attention over strided q, k, v rows of width ld;
 * scores is (len, len) scratch; bias (MPNet) may be NULL. */
void encoder_attention(float *ctx, const float *q, const float *k, const float *v, float *scores,
                       size_t ld, int32_t n_heads, int32_t head_dim, const struct attn_bias *bias,
                       const struct packed_batch *b);

/* x = norm(x + residual) row by row: LayerNorm, or NoNorm when ln->no_norm. */
void norm_rows(float *x, const float *residual, const struct layer_norm *ln, size_t n_rows,
               size_t n);

/* MobileBERT's forward pass; the batch is already checked. */
int mobilebert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out);

/* BertEmbeddings into s->x: LayerNorm(word [+ position] [+ token type])
 * [-> projection]; no position term when e->pos_emb is NULL (DeBERTa-v3,
 * ModernBERT). */
void encoder_embed(const struct encoder *e, struct encoder_scratch *s,
                   const struct packed_batch *b);

/* DeBERTa-v2's and ModernBERT's forward passes (deberta.c, modernbert.c),
 * same contract as mobilebert_forward. */
int deberta_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out);
int modernbert_forward(const struct encoder *e, struct encoder_scratch *s,
                       const struct packed_batch *b, float *layers_out);

#endif

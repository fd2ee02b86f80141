/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DeBERTa-v2 / v3's disentangled attention (modeling_deberta_v2.py): BERT's
 * post-norm layers whose attention scores add, to q k^T, a content-to-
 * position term (c2p: each query against the key projection of the
 * relative-position embedding of its distance to the key) and a
 * position-to-content term (p2c: each key against the query projection of
 * the embedding of the same distance), all divided by sqrt(head_dim * (1 +
 * c2p + p2c)). Distances become embedding rows through
 * make_log_bucket_position and a clamp to the 2 * span rows.
 *
 * The layers' dense weights are ordinary struct encoder_layers
 * (encoder.layers); this struct holds what is DeBERTa's own, all borrowed
 * and read-only: models/deberta.c computes the projected relative
 * embeddings once at load (they depend on the weights only).
 */
#ifndef SMOLSERVE_CORE_DEBERTA_H
#define SMOLSERVE_CORE_DEBERTA_H

#include <stddef.h>
#include <stdint.h>

#include "encoder.h"

struct deberta {
	int relative;      /* relative_attention; 0: plain attention, scaled as below */
	int c2p, p2c;      /* which relative terms pos_att_type asks for */
	int32_t span;      /* att_span: position_buckets, else max_relative_positions */
	float scale;       /* sqrt(head_dim * (1 + c2p + p2c)), as torch rounds it */
	int32_t max_delta; /* rel_idx covers query - key distances -max_delta..max_delta */
	/* (2 * max_delta + 1): the relative embedding row of distance d = query - key
	 * at [d + max_delta]: clamp(bucket(d) + span, 0, 2 * span - 1); never decreasing */
	const int32_t *rel_idx;
	const float *pos_key;   /* (n_layers, 2 * span, hidden): c2p keys, or NULL */
	const float *pos_query; /* (n_layers, 2 * span, hidden): p2c queries, or NULL */
};

/*
 * make_log_bucket_position(d, bucket_size, max_position) of one distance,
 * in float32 as torch computes it (checked against torch 1.13 for |d| <=
 * 20000). bucket_size <= 0 or max_position <= 0: d itself. Any thread.
 */
int32_t deberta_log_bucket(int32_t d, int32_t bucket_size, int32_t max_position);

/* Bytes of family scratch (encoder_scratch.fam) one team thread needs for
 * sequences up to max_seq_len tokens (the scratch holds one such part per
 * thread). */
size_t deberta_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len);

/* Floating-point operations of one forward pass (2 per multiply-add). */
double deberta_flops(const struct encoder *e, const struct packed_batch *b);

#endif

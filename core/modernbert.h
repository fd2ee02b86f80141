/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ModernBERT (modeling_modernbert.py, transformers v4.48): pre-norm layers
 * (the first layer's attention norm is the identity) with a fused q/k/v
 * projection, rotary position embeddings, a GeGLU feed-forward block, no
 * biases unless the config asks for them, and two kinds of attention: every
 * global_every-th layer (layer index divisible by it) attends over the whole
 * sequence with the global rotary base, the others only to keys within
 * `window` positions of the query (local_attention / 2 on each side) with
 * the local base. A final LayerNorm follows the last layer.
 *
 * All pointers are borrowed and read-only (models/modernbert.c wires them
 * and computes the rotary tables once at load).
 */
#ifndef SMOLSERVE_CORE_MODERNBERT_H
#define SMOLSERVE_CORE_MODERNBERT_H

#include <stddef.h>
#include <stdint.h>

#include "encoder.h"

/* ModernBertEncoderLayer. A norm without bias has beta pointing at zeros. */
struct modernbert_layer {
	struct layer_norm attn_norm; /* gamma NULL on layer 0: nn.Identity */
	struct dense wqkv;           /* (3 hidden, hidden): q, k, v rows, heads inside each */
	struct dense wo;             /* (hidden, hidden) */
	struct layer_norm mlp_norm;
	struct dense wi;     /* (2 intermediate, hidden): the input rows, then the gate rows */
	struct dense wo_mlp; /* (hidden, intermediate) */
};

struct modernbert {
	int32_t global_every; /* global_attn_every_n_layers */
	int32_t window;       /* local layers: keys at most this far from the query */
	/* (max_positions, head_dim): per position cos of the head_dim / 2 rotary
	 * angles, then their sin; one table per rotary base */
	const float *rope_global;
	const float *rope_local;
	struct layer_norm final_norm;
	const struct modernbert_layer *layers; /* (n_layers) */
};

/*
 * The rotary table of one base theta (see struct modernbert) into out
 * (n_positions, head_dim), in float32 as ModernBertRotaryEmbedding computes
 * it: inv_freq = 1 / theta^(2i / head_dim), angle = position * inv_freq.
 */
void modernbert_rope_table(float *out, int32_t n_positions, int32_t head_dim, float theta);

/* Bytes of family scratch (encoder_scratch.fam) for batches of max_tokens
 * tokens, sequences up to max_seq_len: the fused q/k/v or GeGLU input rows
 * and one block of attention scores. */
size_t modernbert_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len);

/* Floating-point operations of one forward pass (2 per multiply-add; local
 * layers count the band of keys they compute). */
double modernbert_flops(const struct encoder *e, const struct packed_batch *b);

#endif

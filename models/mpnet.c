/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MPNet (modeling_mpnet.py): BERT's embeddings without token types, with
 * position ids that start after MPNetEmbeddings' padding_idx (fixed at 1,
 * whatever the config says, so the first token has position 2), BERT's
 * post-norm layers under their own names, and a relative position bias
 * shared by every layer (MPNetEncoder.relative_attention_bias, T5-style
 * buckets). The bias depends only on the head and the key's distance from
 * the query, so it is expanded once at load into a per-head table that the
 * shared attention adds to its scores (core/encoder.h, struct attn_bias).
 * MPNetModel's pooler (dense + tanh) and the heads of
 * MPNetForSequenceClassification (first token -> dense -> tanh ->
 * out_proj) and MPNetForTokenClassification.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model-impl.h"
#include "status.h"

/* MPNetEmbeddings.padding_idx: position ids are padding_idx + 1 + i. */
#define MPNET_PADDING_IDX 1
/* MPNetEncoder.compute_position_bias calls relative_position_bucket with its
 * defaults, whatever relative_attention_num_buckets is. */
#define MPNET_BUCKETS      32
#define MPNET_MAX_DISTANCE 128

static const struct layer_names MPNET_LAYER = {
    "attention.attn.q",    "attention.attn.k",   "attention.attn.v", "attention.attn.o",
    "attention.LayerNorm", "intermediate.dense", "output.dense",     "output.LayerNorm"};

/*
 * MPNetEncoder.relative_position_bucket(memory - context) for one distance,
 * in float32 as torch computes it (checked against torch 1.13 for |d| <=
 * 20000): the sign in the upper half of the buckets, exact below
 * max_exact, logarithmic up to max_distance, the last bucket beyond.
 */
static int32_t mpnet_bucket(int32_t relative_position)
{
	const int32_t half = MPNET_BUCKETS / 2, max_exact = half / 2;
	int32_t n = -relative_position;
	int32_t ret = n < 0 ? half : 0;
	n = n < 0 ? -n : n;
	if (n < max_exact)
		return ret + n;
	float v = logf((float)n / (float)max_exact) /
	          (float)log((double)MPNET_MAX_DISTANCE / max_exact) * (float)(half - max_exact);
	int32_t large = max_exact + (int32_t)v;
	return ret + (large < half - 1 ? large : half - 1);
}

/* The (n_heads, 2 * max_distance + 1) table of struct attn_bias from
 * relative_attention_bias.weight (buckets, n_heads). */
static int mpnet_bias_table(struct model *m, const struct weight_src *w, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	const float *emb = NULL;
	int32_t width = 2 * MPNET_MAX_DISTANCE + 1;
	if (c->relative_attention_num_buckets < MPNET_BUCKETS)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s/config.json: relative_attention_num_buckets %d: MPNet "
		                   "looks up %d buckets",
		                   m->dir, (int)c->relative_attention_num_buckets, MPNET_BUCKETS);
	int rc = weight_get(w, "encoder.relative_attention_bias.weight",
	                    c->relative_attention_num_buckets, c->n_heads, &emb, err, n_err);
	if (rc != 0)
		return rc;
	m->derived = malloc((size_t)c->n_heads * (size_t)width * sizeof(float));
	if (m->derived == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	for (int32_t d = -MPNET_MAX_DISTANCE; d <= MPNET_MAX_DISTANCE; d++) {
		const float *row = emb + (size_t)mpnet_bucket(d) * (size_t)c->n_heads;
		for (int32_t h = 0; h < c->n_heads; h++)
			m->derived[(size_t)h * (size_t)width + (size_t)(d + MPNET_MAX_DISTANCE)] =
			    row[h];
	}
	m->attn_bias = (struct attn_bias){m->derived, MPNET_MAX_DISTANCE};
	m->enc.attn_bias = &m->attn_bias;
	return 0;
}

int mpnet_wire(struct model *m, char *err, size_t n_err)
{
	struct weight_src w = {.m = m, .prefixes = {"mpnet."}, .n_prefixes = 1};
	int rc;
	m->enc.position_offset = MPNET_PADDING_IDX + 1;
	if (m->enc.position_offset >= m->cfg.max_position_embeddings)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s/config.json: max_position_embeddings %d leaves no positions "
		                   "after MPNet's padding index",
		                   m->dir, (int)m->cfg.max_position_embeddings);
	if ((rc = bertlike_encoder_named(m, &w, NULL, &MPNET_LAYER, err, n_err)) != 0 ||
	    (rc = mpnet_bias_table(m, &w, err, n_err)) != 0 ||
	    (rc = pooler_wire(m, &w, "pooler.dense", err, n_err)) != 0)
		return rc;
	return head_wire_dense_out(m, &w, ACT_TANH, err, n_err);
}

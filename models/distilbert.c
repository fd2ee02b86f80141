/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DistilBERT (modeling_distilbert.py): word + position embeddings (no token
 * types), post-norm TransformerBlocks, and the head of
 * DistilBertForSequenceClassification (pre_classifier -> ReLU ->
 * classifier on the first token) or ...ForTokenClassification.
 */
#include <stdio.h>

#include "model-impl.h"
#include "status.h"

/* modeling_distilbert.py builds every LayerNorm with eps=1e-12. */
#define DISTILBERT_LN_EPS 1e-12f

static const struct layer_names DISTILBERT_LAYER = {
    "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
    "sa_layer_norm",   "ffn.lin1",        "ffn.lin2",        "output_layer_norm"};

static int distilbert_layer(const struct weight_src *w, int32_t l, int32_t h, int32_t ff,
                            struct encoder_layer *L, char *err, size_t n_err)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "transformer.layer.%d.", (int)l);
	return weight_layer(w, prefix, &DISTILBERT_LAYER, h, ff, DISTILBERT_LN_EPS, L, err, n_err);
}

int distilbert_wire(struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	struct weight_src w = {.m = m, .prefixes = {"distilbert."}, .n_prefixes = 1};
	int32_t h = c->hidden_size;
	int rc;

	if (c->sinusoidal_pos_embds)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s/config.json: sinusoidal_pos_embds is not supported", m->dir);
	e->type_emb = NULL;
	e->type_vocab_size = 0;
	if ((rc = weight_get(&w, "embeddings.word_embeddings.weight", c->vocab_size, h,
	                     &e->word_emb, err, n_err)) != 0 ||
	    (rc = weight_get(&w, "embeddings.position_embeddings.weight",
	                     c->max_position_embeddings, h, &e->pos_emb, err, n_err)) != 0 ||
	    (rc = weight_layer_norm(&w, "embeddings.LayerNorm", h, DISTILBERT_LN_EPS, &e->ln_emb,
	                            err, n_err)) != 0)
		return rc;
	for (int32_t l = 0; l < c->n_layers; l++) {
		rc = distilbert_layer(&w, l, h, c->intermediate_size, &m->layers[l], err, n_err);
		if (rc != 0)
			return rc;
	}
	if (model_arch_is(m, "ForSequenceClassification")) {
		m->head = HEAD_SEQCLS;
		if ((rc = weight_dense(&w, "pre_classifier", h, h, &m->head_layers[0].d, err,
		                       n_err)) != 0)
			return rc;
		m->head_layers[0].act = ACT_RELU;
		m->n_head_layers = 1;
		return head_set_classifier(m, &w, "classifier", h, err, n_err);
	}
	if (model_arch_is(m, "ForTokenClassification")) {
		m->head = HEAD_TOKCLS;
		return head_set_classifier(m, &w, "classifier", h, err, n_err);
	}
	return 0;
}

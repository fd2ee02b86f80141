/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ALBERT (modeling_albert.py): factorised embeddings (embedding_size,
 * mapped to hidden_size by encoder.embedding_hidden_mapping_in), layers that
 * share weights — layer i runs group i / (num_hidden_layers /
 * num_hidden_groups), each group inner_group_num layers deep — a dense+tanh
 * pooler named "pooler", and AlbertForSequenceClassification (pooler ->
 * classifier) or ...ForTokenClassification.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model-impl.h"
#include "status.h"

static const struct layer_names ALBERT_LAYER = {
    "attention.query",     "attention.key", "attention.value", "attention.dense",
    "attention.LayerNorm", "ffn",           "ffn_output",      "full_layer_layer_norm"};

static int albert_layer(const struct weight_src *w, int32_t g, int32_t j, int32_t h, int32_t ff,
                        float eps, struct encoder_layer *L, char *err, size_t n_err)
{
	char prefix[96];
	snprintf(prefix, sizeof(prefix), "encoder.albert_layer_groups.%d.albert_layers.%d.", (int)g,
	         (int)j);
	return weight_layer(w, prefix, &ALBERT_LAYER, h, ff, eps, L, err, n_err);
}

int albert_wire(struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	struct weight_src w = {.m = m, .prefixes = {"albert."}, .n_prefixes = 1};
	int32_t h = c->hidden_size, es = c->embedding_size, groups = c->num_hidden_groups;
	int32_t inner = c->inner_group_num;
	int rc;

	if (c->n_layers % groups != 0)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s/config.json: num_hidden_layers %d is not a multiple of "
		                   "num_hidden_groups %d",
		                   m->dir, (int)c->n_layers, (int)groups);
	if ((rc = weight_get(&w, "embeddings.word_embeddings.weight", c->vocab_size, es,
	                     &e->word_emb, err, n_err)) != 0 ||
	    (rc = weight_get(&w, "embeddings.position_embeddings.weight",
	                     c->max_position_embeddings, es, &e->pos_emb, err, n_err)) != 0 ||
	    (rc = weight_get(&w, "embeddings.token_type_embeddings.weight", c->type_vocab_size, es,
	                     &e->type_emb, err, n_err)) != 0 ||
	    (rc = weight_layer_norm(&w, "embeddings.LayerNorm", es, c->layer_norm_eps, &e->ln_emb,
	                            err, n_err)) != 0 ||
	    (rc = weight_dense(&w, "encoder.embedding_hidden_mapping_in", h, es, &e->emb_proj, err,
	                       n_err)) != 0)
		return rc;

	/* Every run layer is a copy of its group's weight pointers. */
	struct encoder_layer *layers = calloc((size_t)c->n_layers * (size_t)inner, sizeof(*layers));
	if (layers == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	free(m->layers);
	m->layers = layers;
	for (int32_t g = 0; g < groups; g++)
		for (int32_t j = 0; j < inner; j++)
			if ((rc = albert_layer(&w, g, j, h, c->intermediate_size, c->layer_norm_eps,
			                       &layers[g * inner + j], err, n_err)) != 0)
				return rc;
	int32_t per_group = c->n_layers / groups;
	for (int32_t i = c->n_layers - 1; i >= 0; i--) /* from the end: sources stay intact */
		for (int32_t j = inner - 1; j >= 0; j--)
			layers[i * inner + j] = layers[(i / per_group) * inner + j];
	e->n_layers = c->n_layers * inner;
	e->layers = layers;

	if ((rc = pooler_wire(m, &w, "pooler", err, n_err)) != 0)
		return rc;
	return head_wire_pooled(m, &w, err, n_err);
}

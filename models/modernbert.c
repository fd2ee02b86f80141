/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ModernBERT (modeling_modernbert.py, the v4.48 line; model_type
 * "modernbert"): token embeddings and their norm, layers with a fused
 * Wqkv, Wo, a GeGLU Wi (input rows, then gate rows) and Wo, the norms
 * around them (none before the first layer's attention), the final norm;
 * biases only where attention_bias, mlp_bias, norm_bias say. The rotary
 * tables of the global and the local base are computed once here (core/
 * modernbert.c's struct modernbert). Heads: ModernBertForSequenceClassification
 * (classifier_pooling cls or mean, then ModernBertPredictionHead: dense +
 * classifier_activation + norm, then classifier) and
 * ...ForTokenClassification (the same head and classifier on every token).
 * ModernBertModel has no pooler.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model-impl.h"
#include "status.h"

/* name.weight (n_out, n_in) and, if has_bias, name.bias. */
static int dense_opt(const struct weight_src *w, const char *name, int32_t n_out, int32_t n_in,
                     int has_bias, struct dense *d, char *err, size_t n_err)
{
	char full[160];
	int rc;
	if (has_bias)
		return weight_dense(w, name, n_out, n_in, d, err, n_err);
	snprintf(full, sizeof(full), "%s.weight", name);
	if ((rc = weight_get(w, full, n_out, n_in, &d->w, err, n_err)) != 0)
		return rc;
	d->b = NULL;
	d->n_in = n_in;
	d->n_out = n_out;
	return 0;
}

/* nn.LayerNorm(hidden, eps, bias=norm_bias): without bias, beta is zeros. */
static int norm_opt(const struct model *m, const struct weight_src *w, const char *name,
                    const float *zeros, struct layer_norm *ln, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	char full[160];
	if (c->norm_bias)
		return weight_layer_norm(w, name, c->hidden_size, c->layer_norm_eps, ln, err,
		                         n_err);
	snprintf(full, sizeof(full), "%s.weight", name);
	ln->beta = zeros;
	ln->eps = c->layer_norm_eps;
	return weight_get(w, full, c->hidden_size, 0, &ln->gamma, err, n_err);
}

static int modernbert_layer(struct model *m, const struct weight_src *w, int32_t l,
                            const float *zeros, struct modernbert_layer *L, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	int32_t h = c->hidden_size, ff = c->intermediate_size;
	char n_attn_norm[64], n_wqkv[64], n_wo[64], n_mlp_norm[64], n_wi[64], n_mlp_wo[64];
	snprintf(n_attn_norm, sizeof(n_attn_norm), "layers.%d.attn_norm", (int)l);
	snprintf(n_wqkv, sizeof(n_wqkv), "layers.%d.attn.Wqkv", (int)l);
	snprintf(n_wo, sizeof(n_wo), "layers.%d.attn.Wo", (int)l);
	snprintf(n_mlp_norm, sizeof(n_mlp_norm), "layers.%d.mlp_norm", (int)l);
	snprintf(n_wi, sizeof(n_wi), "layers.%d.mlp.Wi", (int)l);
	snprintf(n_mlp_wo, sizeof(n_mlp_wo), "layers.%d.mlp.Wo", (int)l);
	int rc;
	if ((l > 0 && (rc = norm_opt(m, w, n_attn_norm, zeros, &L->attn_norm, err, n_err)) != 0) ||
	    (rc = dense_opt(w, n_wqkv, 3 * h, h, c->attention_bias, &L->wqkv, err, n_err)) != 0 ||
	    (rc = dense_opt(w, n_wo, h, h, c->attention_bias, &L->wo, err, n_err)) != 0 ||
	    (rc = norm_opt(m, w, n_mlp_norm, zeros, &L->mlp_norm, err, n_err)) != 0 ||
	    (rc = dense_opt(w, n_wi, 2 * ff, h, c->mlp_bias, &L->wi, err, n_err)) != 0 ||
	    (rc = dense_opt(w, n_mlp_wo, h, ff, c->mlp_bias, &L->wo_mlp, err, n_err)) != 0)
		return rc;
	return 0;
}

/* ModernBertPredictionHead + classifier, on the pooled or every token. */
static int modernbert_head(struct model *m, const struct weight_src *w, const float *zeros,
                           char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct head_layer *hl = &m->head_layers[0];
	int rc;
	if (model_arch_is(m, "ForSequenceClassification"))
		m->head = HEAD_SEQCLS;
	else if (model_arch_is(m, "ForTokenClassification"))
		m->head = HEAD_TOKCLS;
	else
		return 0;
	if ((rc = dense_opt(w, "head.dense", c->hidden_size, c->hidden_size, c->classifier_bias,
	                    &hl->d, err, n_err)) != 0 ||
	    (rc = norm_opt(m, w, "head.norm", zeros, &hl->norm, err, n_err)) != 0)
		return rc;
	hl->act = c->classifier_act;
	m->n_head_layers = 1;
	m->head_pooling = c->classifier_pooling_mean ? POOLING_MEAN : POOLING_CLS;
	return head_set_classifier(m, w, "classifier", c->hidden_size, err, n_err);
}

int modernbert_wire(struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	struct weight_src w = {.m = m, .prefixes = {"model."}, .n_prefixes = 1};
	int32_t h = c->hidden_size, d = h / c->n_heads, n_pos = c->max_position_embeddings;
	size_t table = (size_t)n_pos * (size_t)d;
	int rc;

	/* derived: zeros (hidden), then the global and local rotary tables */
	m->derived = calloc((size_t)h + 2 * table, sizeof(float));
	m->modern_layers = calloc((size_t)c->n_layers, sizeof(*m->modern_layers));
	if (m->derived == NULL || m->modern_layers == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	const float *zeros = m->derived;
	float *rope_global = m->derived + h, *rope_local = rope_global + table;
	if ((rc = weight_get(&w, "embeddings.tok_embeddings.weight", c->vocab_size, h, &e->word_emb,
	                     err, n_err)) != 0 ||
	    (rc = norm_opt(m, &w, "embeddings.norm", zeros, &e->ln_emb, err, n_err)) != 0 ||
	    (rc = norm_opt(m, &w, "final_norm", zeros, &m->modern.final_norm, err, n_err)) != 0)
		return rc;
	for (int32_t l = 0; l < c->n_layers; l++)
		if ((rc = modernbert_layer(m, &w, l, zeros, &m->modern_layers[l], err, n_err)) != 0)
			return rc;
	modernbert_rope_table(rope_global, n_pos, d, c->global_rope_theta);
	modernbert_rope_table(rope_local, n_pos, d, c->local_rope_theta);
	m->modern.global_every = c->global_attn_every_n_layers;
	m->modern.window = c->local_attention / 2;
	m->modern.rope_global = rope_global;
	m->modern.rope_local = rope_local;
	m->modern.layers = m->modern_layers;
	e->modern = &m->modern;
	e->type_vocab_size = 0; /* no token types: type ids are ignored */
	return modernbert_head(m, &w, zeros, err, n_err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BERT (modeling_bert.py): BertEmbeddings + BertEncoder, which ELECTRA and
 * RoBERTa share under their own prefixes (bertlike_encoder), BertModel's
 * pooler, and the heads of BertForSequenceClassification (pooler ->
 * classifier) and BertForTokenClassification (classifier on every token).
 * Checkpoints keep encoder weights bare or under "bert."; extra heads (cls.*
 * of a masked-LM checkpoint) are simply never looked up.
 */
#include <stdio.h>
#include <string.h>

#include "model-impl.h"
#include "status.h"

static const struct layer_names BERT_LAYER = {"attention.self.query",
                                              "attention.self.key",
                                              "attention.self.value",
                                              "attention.output.dense",
                                              "attention.output.LayerNorm",
                                              "intermediate.dense",
                                              "output.dense",
                                              "output.LayerNorm"};

int bertlike_encoder(struct model *m, const struct weight_src *w, const char *proj_name, char *err,
                     size_t n_err)
{
	return bertlike_encoder_named(m, w, proj_name, &BERT_LAYER, err, n_err);
}

int bertlike_encoder_named(struct model *m, const struct weight_src *w, const char *proj_name,
                           const struct layer_names *names, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	int32_t h = c->hidden_size, es = c->embedding_size;
	int rc;

	if (strcmp(c->position_embedding_type, "absolute") != 0)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s/config.json: position_embedding_type \"%s\" is not "
		                   "supported (only \"absolute\")",
		                   m->dir, c->position_embedding_type);
	if ((rc = weight_get(w, "embeddings.word_embeddings.weight", c->vocab_size, es,
	                     &e->word_emb, err, n_err)) != 0 ||
	    (rc = weight_get(w, "embeddings.position_embeddings.weight", c->max_position_embeddings,
	                     es, &e->pos_emb, err, n_err)) != 0)
		return rc;
	if (c->type_vocab_size > 0 &&
	    (rc = weight_get(w, "embeddings.token_type_embeddings.weight", c->type_vocab_size, es,
	                     &e->type_emb, err, n_err)) != 0)
		return rc;
	if ((rc = weight_layer_norm(w, "embeddings.LayerNorm", es, c->layer_norm_eps, &e->ln_emb,
	                            err, n_err)) != 0)
		return rc;
	if (es != h) {
		if (proj_name == NULL)
			return status_fail(
			    err, n_err, STATUS_EFORMAT,
			    "%s/config.json: embedding_size %d differs from hidden_size "
			    "%d, which %s does not support",
			    m->dir, (int)es, (int)h, c->model_type);
		if ((rc = weight_dense(w, proj_name, h, es, &e->emb_proj, err, n_err)) != 0)
			return rc;
	}
	for (int32_t l = 0; l < c->n_layers; l++) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "encoder.layer.%d.", (int)l);
		rc = weight_layer(w, prefix, names, h, c->intermediate_size, c->layer_norm_eps,
		                  &m->layers[l], err, n_err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int pooler_wire(struct model *m, const struct weight_src *w, const char *name, char *err,
                size_t n_err)
{
	int32_t h = m->cfg.hidden_size;
	char full[96];
	snprintf(full, sizeof(full), "%s.weight", name);
	if (!weight_exists(w, full))
		return 0;
	int rc = weight_dense(w, name, h, h, &m->pooler.d, err, n_err);
	if (rc != 0)
		return rc;
	m->pooler.act = ACT_TANH;
	m->has_pooler = 1;
	return 0;
}

int head_wire_pooled(struct model *m, const struct weight_src *w, char *err, size_t n_err)
{
	if (model_arch_is(m, "ForSequenceClassification")) {
		if (!m->has_pooler)
			return status_fail(
			    err, n_err, STATUS_EFORMAT,
			    "%s: %s needs the pooler weights, which model.safetensors "
			    "lacks",
			    m->dir, m->cfg.architectures[0]);
		m->head = HEAD_SEQCLS;
		m->head_layers[0] = m->pooler;
		m->n_head_layers = 1;
		return head_set_classifier(m, w, "classifier", m->cfg.hidden_size, err, n_err);
	}
	return head_wire_tokcls(m, w, err, n_err);
}

int head_wire_tokcls(struct model *m, const struct weight_src *w, char *err, size_t n_err)
{
	if (!model_arch_is(m, "ForTokenClassification"))
		return 0;
	m->head = HEAD_TOKCLS;
	return head_set_classifier(m, w, "classifier", m->cfg.hidden_size, err, n_err);
}

int head_wire_dense_out(struct model *m, const struct weight_src *w, enum activation act, char *err,
                        size_t n_err)
{
	if (!model_arch_is(m, "ForSequenceClassification"))
		return head_wire_tokcls(m, w, err, n_err);
	int32_t h = m->cfg.hidden_size;
	int rc = weight_dense(w, "classifier.dense", h, h, &m->head_layers[0].d, err, n_err);
	if (rc != 0)
		return rc;
	m->head = HEAD_SEQCLS;
	m->head_layers[0].act = act;
	m->n_head_layers = 1;
	return head_set_classifier(m, w, "classifier.out_proj", h, err, n_err);
}

int bert_wire(struct model *m, char *err, size_t n_err)
{
	struct weight_src w = {.m = m, .prefixes = {"bert."}, .n_prefixes = 1};
	int rc;
	if ((rc = bertlike_encoder(m, &w, NULL, err, n_err)) != 0 ||
	    (rc = pooler_wire(m, &w, "pooler.dense", err, n_err)) != 0)
		return rc;
	return head_wire_pooled(m, &w, err, n_err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DeBERTa-v2 and v3 (modeling_deberta_v2.py, model_type "deberta-v2"):
 * DebertaV2Embeddings (absolute positions only if position_biased_input,
 * token types only if type_vocab_size > 0), BERT-named post-norm layers
 * under query_proj / key_proj / value_proj, and what core/deberta.c needs
 * for the disentangled attention: the relative embeddings
 * (encoder.rel_embeddings, LayerNorm'd by encoder.LayerNorm when
 * norm_rel_ebd says layer_norm) projected once here by every layer's key
 * (c2p) and query (p2c) projections, or by pos_key_proj / pos_query_proj
 * when share_att_key is false, and the table from a distance to its
 * embedding row. Heads: DebertaV2ForSequenceClassification (ContextPooler:
 * dense on the first token + pooler_hidden_act, then classifier) and
 * ...ForTokenClassification. DebertaV2Model has no pooler of its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "model-impl.h"
#include "status.h"

static const struct layer_names DEBERTA_LAYER = {"attention.self.query_proj",
                                                 "attention.self.key_proj",
                                                 "attention.self.value_proj",
                                                 "attention.output.dense",
                                                 "attention.output.LayerNorm",
                                                 "intermediate.dense",
                                                 "output.dense",
                                                 "output.LayerNorm"};

/* What this implementation does not cover, refused by name. */
static int check_config(const struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	const char *what = NULL;
	if (c->conv_kernel_size > 0)
		what = "conv_kernel_size > 0 (the ConvLayer of deberta-v2-xlarge)";
	else if (c->attention_head_size != c->hidden_size / c->n_heads)
		what = "attention_head_size other than hidden_size / num_attention_heads";
	else if (c->embedding_size != c->hidden_size)
		what = "embedding_size other than hidden_size";
	else if (c->pooler_hidden_size != c->hidden_size &&
	         model_arch_is(m, "ForSequenceClassification"))
		what = "pooler_hidden_size other than hidden_size";
	if (what == NULL)
		return 0;
	return status_fail(err, n_err, STATUS_EUNSUPPORTED, "%s/config.json: %s is not supported",
	                   m->dir, what);
}

static int deberta_embeddings(struct model *m, const struct weight_src *w, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	int32_t h = c->hidden_size;
	int rc;
	if ((rc = weight_get(w, "embeddings.word_embeddings.weight", c->vocab_size, h, &e->word_emb,
	                     err, n_err)) != 0 ||
	    (c->position_biased_input &&
	     (rc = weight_get(w, "embeddings.position_embeddings.weight",
	                      c->max_position_embeddings, h, &e->pos_emb, err, n_err)) != 0) ||
	    (c->type_vocab_size > 0 &&
	     (rc = weight_get(w, "embeddings.token_type_embeddings.weight", c->type_vocab_size, h,
	                      &e->type_emb, err, n_err)) != 0))
		return rc;
	return weight_layer_norm(w, "embeddings.LayerNorm", h, c->layer_norm_eps, &e->ln_emb, err,
	                         n_err);
}

/* The relative embeddings (2 span, hidden), LayerNorm'd if norm_rel_ebd,
 * into rel (owned by the caller). */
static int rel_embeddings(struct model *m, const struct weight_src *w, int32_t span, float *rel,
                          char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	const float *emb = NULL;
	struct layer_norm ln = {0};
	int rc = weight_get(w, "encoder.rel_embeddings.weight", 2 * span, c->hidden_size, &emb, err,
	                    n_err);
	if (rc != 0)
		return rc;
	memcpy(rel, emb, (size_t)2 * (size_t)span * (size_t)c->hidden_size * sizeof(float));
	if (!c->norm_rel_ebd)
		return 0;
	if ((rc = weight_layer_norm(w, "encoder.LayerNorm", c->hidden_size, c->layer_norm_eps, &ln,
	                            err, n_err)) != 0)
		return rc;
	layer_norm_rows(rel, NULL, ln.gamma, ln.beta, ln.eps, (size_t)(2 * span),
	                (size_t)c->hidden_size);
	return 0;
}

/* out (2 span, hidden) = projection of layer l applied to rel: the
 * layer's own key / query projection (share_att_key) or its pos_*_proj. */
static int project(struct model *m, const struct weight_src *w, int32_t l, int key,
                   const float *rel, int32_t span, float *out, char *err, size_t n_err)
{
	int32_t h = m->cfg.hidden_size;
	struct dense d;
	if (m->cfg.share_att_key) {
		d = key ? m->layers[l].k : m->layers[l].q;
	} else {
		char name[96];
		snprintf(name, sizeof(name), "encoder.layer.%d.attention.self.%s", (int)l,
		         key ? "pos_key_proj" : "pos_query_proj");
		int rc = weight_dense(w, name, h, h, &d, err, n_err);
		if (rc != 0)
			return rc;
	}
	linear(out, rel, d.w, d.b, (size_t)(2 * span), (size_t)h, (size_t)h);
	return 0;
}

/* struct deberta: span, scale, the distance -> row table and the projected
 * relative embeddings of every layer. */
static int deberta_relative(struct model *m, const struct weight_src *w, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct deberta *db = &m->deberta;
	int32_t max_rel =
	    c->max_relative_positions < 1 ? c->max_position_embeddings : c->max_relative_positions;
	int32_t span = c->position_buckets > 0 ? c->position_buckets : max_rel;
	size_t h = (size_t)c->hidden_size, per_layer = 2 * (size_t)span * h;
	int rc = 0;

	db->relative = c->relative_attention;
	db->c2p = c->pos_att_c2p;
	db->p2c = c->pos_att_p2c;
	/* torch.sqrt(torch.tensor(head_size, dtype=torch.float) * scale_factor) */
	db->scale = sqrtf((float)m->enc.head_dim * (float)(1 + db->c2p + db->p2c));
	if (!db->relative)
		return 0;
	if (span > 1 << 20)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s/config.json: %d relative positions is too many", m->dir,
		                   (int)span);
	db->span = span;
	db->max_delta = c->max_position_embeddings - 1;
	m->derived_idx = malloc((2 * (size_t)db->max_delta + 1) * sizeof(int32_t));
	size_t n_proj = (size_t)(db->c2p + db->p2c) * (size_t)c->n_layers;
	m->derived = malloc((n_proj + 1) * per_layer * sizeof(float));
	if (m->derived_idx == NULL || m->derived == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	for (int32_t d = -db->max_delta; d <= db->max_delta; d++) {
		int32_t r = deberta_log_bucket(d, c->position_buckets, max_rel) + span;
		m->derived_idx[d + db->max_delta] = r < 0 ? 0 : r > 2 * span - 1 ? 2 * span - 1 : r;
	}
	db->rel_idx = m->derived_idx;

	float *rel = m->derived + n_proj * per_layer;
	float *pos_key = db->c2p ? m->derived : NULL;
	float *pos_query = db->p2c ? m->derived + (size_t)db->c2p * c->n_layers * per_layer : NULL;
	if ((rc = rel_embeddings(m, w, span, rel, err, n_err)) != 0)
		return rc;
	for (int32_t l = 0; l < c->n_layers && rc == 0; l++) {
		if (pos_key != NULL)
			rc = project(m, w, l, 1, rel, span, pos_key + l * per_layer, err, n_err);
		if (pos_query != NULL && rc == 0)
			rc = project(m, w, l, 0, rel, span, pos_query + l * per_layer, err, n_err);
	}
	db->pos_key = pos_key;
	db->pos_query = pos_query;
	return rc;
}

int deberta_wire(struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct weight_src w = {.m = m, .prefixes = {"deberta."}, .n_prefixes = 1};
	int rc;
	if ((rc = check_config(m, err, n_err)) != 0 ||
	    (rc = deberta_embeddings(m, &w, err, n_err)) != 0)
		return rc;
	for (int32_t l = 0; l < c->n_layers; l++) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "encoder.layer.%d.", (int)l);
		if ((rc = weight_layer(&w, prefix, &DEBERTA_LAYER, c->hidden_size,
		                       c->intermediate_size, c->layer_norm_eps, &m->layers[l], err,
		                       n_err)) != 0)
			return rc;
	}
	if ((rc = deberta_relative(m, &w, err, n_err)) != 0)
		return rc;
	m->enc.deberta = &m->deberta;

	if (!model_arch_is(m, "ForSequenceClassification"))
		return head_wire_tokcls(m, &w, err, n_err);
	/* ContextPooler: first token -> dense -> pooler_hidden_act; classifier */
	if ((rc = weight_dense(&w, "pooler.dense", c->hidden_size, c->hidden_size,
	                       &m->head_layers[0].d, err, n_err)) != 0)
		return rc;
	m->head_layers[0].act = c->pooler_hidden_act;
	m->n_head_layers = 1;
	m->head = HEAD_SEQCLS;
	return head_set_classifier(m, &w, "classifier", c->hidden_size, err, n_err);
}

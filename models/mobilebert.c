/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MobileBERT (modeling_mobilebert.py): weights of the bottlenecked layers
 * wired into core/mobilebert.c's struct mobilebert, the pooler (dense + tanh
 * when classifier_activation, else the first token as is) and the heads of
 * MobileBertForSequenceClassification (pooler -> classifier) and
 * ...ForTokenClassification.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model-impl.h"
#include "status.h"

/* modeling_mobilebert.py builds the embeddings' and MobileBertOutput's
 * norms without eps, so in layer_norm mode they use torch's default, not
 * config.layer_norm_eps (NoNorm ignores eps either way). */
#define TORCH_LAYER_NORM_EPS 1e-5f

struct mb_ctx {
	const struct weight_src *w;
	const struct hf_config *c;
	int32_t layer;
	char *err;
	size_t n_err;
};

static int dense(struct mb_ctx *x, const char *suffix, int32_t n_out, int32_t n_in, struct dense *d)
{
	char name[160];
	snprintf(name, sizeof(name), "encoder.layer.%d.%s", (int)x->layer, suffix);
	return weight_dense(x->w, name, n_out, n_in, d, x->err, x->n_err);
}

static int norm(struct mb_ctx *x, const char *suffix, int32_t n, struct layer_norm *ln)
{
	char name[160];
	snprintf(name, sizeof(name), "encoder.layer.%d.%s", (int)x->layer, suffix);
	int rc = weight_layer_norm(x->w, name, n, x->c->layer_norm_eps, ln, x->err, x->n_err);
	ln->no_norm = x->c->no_norm;
	return rc;
}

static int mobilebert_layer(struct mb_ctx *x, struct mobilebert_layer *L)
{
	const struct hf_config *c = x->c;
	int32_t h = c->hidden_size, tr = c->true_hidden_size, it = c->intra_bottleneck_size;
	int32_t ff = c->intermediate_size;
	int32_t qk_in =
	    c->use_bottleneck
	        ? (c->use_bottleneck_attention || c->key_query_shared_bottleneck ? it : h)
	        : h;
	int32_t v_in = c->use_bottleneck && c->use_bottleneck_attention ? it : h;
	int rc;
	if (c->use_bottleneck) {
		if ((rc = dense(x, "bottleneck.input.dense", it, h, &L->bn_input)) != 0 ||
		    (rc = norm(x, "bottleneck.input.LayerNorm", it, &L->bn_input_norm)) != 0)
			return rc;
		if (c->key_query_shared_bottleneck && !c->use_bottleneck_attention &&
		    ((rc = dense(x, "bottleneck.attention.dense", it, h, &L->bn_attention)) != 0 ||
		     (rc = norm(x, "bottleneck.attention.LayerNorm", it, &L->bn_attention_norm)) !=
		         0))
			return rc;
	}
	if ((rc = dense(x, "attention.self.query", tr, qk_in, &L->q)) != 0 ||
	    (rc = dense(x, "attention.self.key", tr, qk_in, &L->k)) != 0 ||
	    (rc = dense(x, "attention.self.value", tr, v_in, &L->v)) != 0 ||
	    (rc = dense(x, "attention.output.dense", tr, tr, &L->o)) != 0 ||
	    (rc = norm(x, "attention.output.LayerNorm", tr, &L->attn_norm)) != 0)
		return rc;
	L->n_ffn = c->num_feedforward_networks - 1;
	for (int i = 0; i < L->n_ffn; i++) {
		char a[64], b[64], n[64];
		snprintf(a, sizeof(a), "ffn.%d.intermediate.dense", i);
		snprintf(b, sizeof(b), "ffn.%d.output.dense", i);
		snprintf(n, sizeof(n), "ffn.%d.output.LayerNorm", i);
		if ((rc = dense(x, a, ff, tr, &L->ffn_in[i])) != 0 ||
		    (rc = dense(x, b, tr, ff, &L->ffn_out[i])) != 0 ||
		    (rc = norm(x, n, tr, &L->ffn_norm[i])) != 0)
			return rc;
	}
	if ((rc = dense(x, "intermediate.dense", ff, tr, &L->inter)) != 0 ||
	    (rc = dense(x, "output.dense", tr, ff, &L->out)) != 0 ||
	    (rc = norm(x, "output.LayerNorm", tr, &L->out_norm)) != 0)
		return rc;
	/* MobileBertOutput builds its norm without eps: torch's default. */
	L->out_norm.eps = TORCH_LAYER_NORM_EPS;
	if (c->use_bottleneck &&
	    ((rc = dense(x, "output.bottleneck.dense", h, tr, &L->out_bn)) != 0 ||
	     (rc = norm(x, "output.bottleneck.LayerNorm", h, &L->out_bn_norm)) != 0))
		return rc;
	return 0;
}

static int check_shape(const struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	if (c->num_feedforward_networks < 1 || c->num_feedforward_networks > MOBILEBERT_MAX_FFN + 1)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s/config.json: num_feedforward_networks %d is outside 1..%d",
		                   m->dir, (int)c->num_feedforward_networks,
		                   MOBILEBERT_MAX_FFN + 1);
	if (c->true_hidden_size % c->n_heads != 0 || c->true_hidden_size > c->hidden_size ||
	    c->intra_bottleneck_size > c->hidden_size)
		return status_fail(
		    err, n_err, STATUS_EFORMAT,
		    "%s/config.json: true_hidden_size %d and intra_bottleneck_size %d "
		    "must divide by the %d heads and not exceed hidden_size %d",
		    m->dir, (int)c->true_hidden_size, (int)c->intra_bottleneck_size,
		    (int)c->n_heads, (int)c->hidden_size);
	if (c->use_bottleneck ? c->intra_bottleneck_size != c->true_hidden_size
	                      : c->true_hidden_size != c->hidden_size)
		return status_fail(
		    err, n_err, STATUS_EFORMAT,
		    "%s/config.json: true_hidden_size %d must equal %s %d", m->dir,
		    (int)c->true_hidden_size,
		    c->use_bottleneck ? "intra_bottleneck_size" : "hidden_size",
		    (int)(c->use_bottleneck ? c->intra_bottleneck_size : c->hidden_size));
	return 0;
}

int mobilebert_wire(struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	struct weight_src w = {.m = m, .prefixes = {"mobilebert."}, .n_prefixes = 1};
	int32_t h = c->hidden_size, es = c->embedding_size;
	int rc = check_shape(m, err, n_err);
	if (rc != 0)
		return rc;
	int32_t emb_in = c->trigram_input ? 3 * es : es;
	if ((rc = weight_get(&w, "embeddings.word_embeddings.weight", c->vocab_size, es,
	                     &e->word_emb, err, n_err)) != 0 ||
	    (rc = weight_get(&w, "embeddings.position_embeddings.weight",
	                     c->max_position_embeddings, h, &e->pos_emb, err, n_err)) != 0 ||
	    (c->type_vocab_size > 0 &&
	     (rc = weight_get(&w, "embeddings.token_type_embeddings.weight", c->type_vocab_size, h,
	                      &e->type_emb, err, n_err)) != 0) ||
	    (rc = weight_layer_norm(&w, "embeddings.LayerNorm", h, TORCH_LAYER_NORM_EPS, &e->ln_emb,
	                            err, n_err)) != 0)
		return rc;
	e->ln_emb.no_norm = c->no_norm;
	if ((c->trigram_input || es != h) &&
	    (rc = weight_dense(&w, "embeddings.embedding_transformation", h, emb_in, &e->emb_proj,
	                       err, n_err)) != 0)
		return rc;

	m->mobile_layers = calloc((size_t)c->n_layers, sizeof(*m->mobile_layers));
	if (m->mobile_layers == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	struct mb_ctx x = {&w, c, 0, err, n_err};
	for (x.layer = 0; x.layer < c->n_layers; x.layer++)
		if ((rc = mobilebert_layer(&x, &m->mobile_layers[x.layer])) != 0)
			return rc;
	m->mobile = (struct mobilebert){.true_hidden = c->true_hidden_size,
	                                .intra = c->intra_bottleneck_size,
	                                .use_bottleneck = c->use_bottleneck,
	                                .use_bottleneck_attention = c->use_bottleneck_attention,
	                                .key_query_shared = c->key_query_shared_bottleneck,
	                                .trigram = c->trigram_input,
	                                .layers = m->mobile_layers};
	e->mobile = &m->mobile;
	e->head_dim = c->true_hidden_size / c->n_heads;

	if (c->classifier_activation) {
		if ((rc = pooler_wire(m, &w, "pooler.dense", err, n_err)) != 0)
			return rc;
	} else {
		m->has_pooler = 0; /* MobileBertPooler without activation: the first token */
	}
	if (model_arch_is(m, "ForSequenceClassification") && !c->classifier_activation) {
		m->head = HEAD_SEQCLS;
		return head_set_classifier(m, &w, "classifier", h, err, n_err);
	}
	return head_wire_pooled(m, &w, err, n_err);
}

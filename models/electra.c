/*
 * ELECTRA's discriminator (modeling_electra.py): BERT's encoder with
 * embeddings of embedding_size projected by embeddings_project, no pooler,
 * and ElectraClassificationHead (first token -> dense -> GELU -> out_proj).
 */
#include "model-impl.h"

int electra_wire(struct model *m, char *err, size_t n_err)
{
	struct weight_src w = {.m = m, .prefixes = {"electra."}, .n_prefixes = 1};
	int rc = bertlike_encoder(m, &w, "embeddings_project", err, n_err);
	if (rc != 0)
		return rc;
	if (!model_arch_is(m, "ForSequenceClassification"))
		return head_wire_tokcls(m, &w, err, n_err);
	m->head = HEAD_SEQCLS;
	int32_t h = m->cfg.hidden_size;
	if ((rc = weight_dense(&w, "classifier.dense", h, h, &m->head_layers[0].d, err, n_err)) !=
	    0)
		return rc;
	m->head_layers[0].act = ACT_GELU;
	m->n_head_layers = 1;
	return head_set_classifier(m, &w, "classifier.out_proj", h, err, n_err);
}

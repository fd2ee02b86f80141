/*
 * RoBERTa and XLM-RoBERTa (modeling_roberta.py, modeling_xlm_roberta.py):
 * BERT's encoder whose position ids start after the padding index
 * (padding_idx + 1), BertPooler, and RobertaClassificationHead (first token
 * -> dense -> tanh -> out_proj).
 */
#include "model-impl.h"
#include "status.h"

int roberta_wire(struct model *m, char *err, size_t n_err)
{
	struct weight_src w = {.m = m, .prefixes = {"roberta."}, .n_prefixes = 1};
	m->enc.position_offset = m->cfg.pad_token_id + 1;
	if (m->enc.position_offset >= m->cfg.max_position_embeddings)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s/config.json: pad_token_id %d leaves no positions of %d",
		                   m->dir, (int)m->cfg.pad_token_id,
		                   (int)m->cfg.max_position_embeddings);
	int rc;
	if ((rc = bertlike_encoder(m, &w, NULL, err, n_err)) != 0 ||
	    (rc = pooler_wire(m, &w, "pooler.dense", err, n_err)) != 0)
		return rc;
	if (!model_arch_is(m, "ForSequenceClassification"))
		return head_wire_tokcls(m, &w, err, n_err);
	m->head = HEAD_SEQCLS;
	int32_t h = m->cfg.hidden_size;
	if ((rc = weight_dense(&w, "classifier.dense", h, h, &m->head_layers[0].d, err, n_err)) !=
	    0)
		return rc;
	m->head_layers[0].act = ACT_TANH;
	m->n_head_layers = 1;
	return head_set_classifier(m, &w, "classifier.out_proj", h, err, n_err);
}

/* SPDX-License-Identifier: Apache-2.0 */
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
	return head_wire_dense_out(m, &w, ACT_TANH, err, n_err);
}

/* SPDX-License-Identifier: Apache-2.0 */
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
	return head_wire_dense_out(m, &w, ACT_GELU, err, n_err);
}

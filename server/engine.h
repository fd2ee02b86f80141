/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs requests through the model: packs every input of the given requests
 * into one batch (no padding), runs the encoder once, and writes each
 * request's results into its own output. A worker owns one engine_ctx,
 * preallocated for its largest batch; engine_run allocates nothing.
 */
#ifndef SMOLSERVE_SERVER_ENGINE_H
#define SMOLSERVE_SERVER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "request.h"

struct engine_ctx {
	struct model_ctx mc;
	struct arena arena; /* the engine's own buffers below */
	int32_t max_tokens;
	int32_t *ids;       /* (max_tokens) */
	int32_t *type_ids;  /* (max_tokens) */
	int32_t *seq_start; /* (max_tokens + 1) */
	float *pooled;      /* (max_tokens, hidden): pooled rows */
	float *logits;      /* (max_tokens, max(n_labels, 1)) */
};

/* 0 or STATUS_ENOMEM. max_tokens bounds the tokens of one engine_run. */
int engine_ctx_init(struct engine_ctx *c, const struct model *m, int32_t max_tokens);
void engine_ctx_dispose(struct engine_ctx *c);

/* Bytes of c's scratch in memory now (model_ctx_resident). Any thread. */
size_t engine_ctx_resident(const struct engine_ctx *c);

/*
 * Runs reqs[0..n_reqs) as one packed batch (their tokens must total at most
 * c->max_tokens) and fills each request's out. Tokenize requests need no
 * model and are skipped. 0 or a negative status with err.
 */
int engine_run(const struct model *m, struct engine_ctx *c, struct request *const *reqs, int n_reqs,
               char *err, size_t n_err);

#endif

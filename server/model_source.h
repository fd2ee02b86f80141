/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the server's model comes from: --model-id as a local folder or a
 * Hugging Face Hub repository (models/hub.h), with the settings' revision,
 * token, cache folder, endpoint and offline mode; downloads report their
 * progress in the log (text or --json-output). Shared by `smolserve serve`
 * (on its loader thread) and `smolserve run`.
 */
#ifndef SMOLSERVE_SERVER_MODEL_SOURCE_H
#define SMOLSERVE_SERVER_MODEL_SOURCE_H

#include <stddef.h>

#include "hub.h"
#include "model.h"
#include "settings.h"

struct model_source {
	char dir[4096];                  /* the folder loaded (a cache snapshot for Hub ids) */
	char commit[HUB_COMMIT_LEN + 1]; /* the snapshot's commit; "" for a local folder */
};

/*
 * Resolves c->model_id (downloading into the Hugging Face cache if needed)
 * and loads it with c's pooling into *out (model_destroy). cancel (may be
 * NULL) stops a download when it becomes non-zero. 0, or a negative status
 * with err saying what went wrong and what to do. Any one thread; c is only
 * read.
 */
int model_source_load(const struct settings *c, const _Atomic int *cancel, struct model **out,
                      struct model_source *src, char *err, size_t n_err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain-C request lifetime and the route / error-kind tables shared by the
 * codec, the engine and the HTTP layer.
 */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

static const char *const ROUTE_NAMES[ROUTE_COUNT_] = {
    "embed",      "embed_all", "predict",       "tokenize",       "rerank",
    "similarity", "decode",    "v1/embeddings", "predict_tokens", "embed_sparse"};

enum route_work route_work(enum route r)
{
	switch (r) {
	case ROUTE_EMBED:
	case ROUTE_SIMILARITY:
	case ROUTE_OPENAI:
		return WORK_POOLED;
	case ROUTE_EMBED_ALL:
		return WORK_TOKENS;
	case ROUTE_PREDICT:
	case ROUTE_RERANK:
		return WORK_CLASSIFY;
	case ROUTE_PREDICT_TOKENS:
		return WORK_TOKEN_CLASSIFY;
	default:
		return WORK_NONE;
	}
}

int route_from_name(const char *name)
{
	for (int i = 0; i < ROUTE_COUNT_; i++)
		if (strcmp(name, ROUTE_NAMES[i]) == 0)
			return i;
	return -1;
}

const char *route_name(enum route r)
{
	return r >= 0 && r < ROUTE_COUNT_ ? ROUTE_NAMES[r] : "unknown";
}

const char *api_error_type(enum api_error_kind kind)
{
	switch (kind) {
	case API_ERR_VALIDATION:
	case API_ERR_PAYLOAD:
	case API_ERR_NOT_FOUND:
	case API_ERR_METHOD:
	case API_ERR_BAD_REQUEST:
		return "Validation";
	case API_ERR_TOKENIZER:
		return "Tokenizer";
	case API_ERR_EMPTY:
		return "Empty";
	case API_ERR_BACKEND:
		return "Backend";
	case API_ERR_OVERLOADED:
	case API_ERR_DEADLINE:
		return "Overloaded";
	case API_ERR_UNHEALTHY:
		return "Unhealthy";
	case API_ERR_UNAUTHORIZED:
		return "Unauthorized";
	case API_ERR_COUNT_:
		break;
	}
	return "Backend";
}

int api_error_http_status(enum api_error_kind kind)
{
	switch (kind) {
	case API_ERR_VALIDATION:
	case API_ERR_TOKENIZER:
		return 422;
	case API_ERR_EMPTY:
		return 400;
	case API_ERR_BACKEND:
		return 424;
	case API_ERR_OVERLOADED:
		return 429;
	case API_ERR_UNHEALTHY:
		return 503;
	case API_ERR_PAYLOAD:
		return 413;
	case API_ERR_NOT_FOUND:
		return 404;
	case API_ERR_METHOD:
		return 405;
	case API_ERR_DEADLINE:
		return 504;
	case API_ERR_UNAUTHORIZED:
		return 401;
	case API_ERR_BAD_REQUEST:
		return 400;
	case API_ERR_COUNT_:
		break;
	}
	return 500;
}

void request_init(struct request *r)
{
	memset(r, 0, sizeof(*r));
	r->normalize = 1;
}

void request_dispose(struct request *r)
{
	for (int32_t i = 0; i < r->n_inputs; i++)
		encoding_dispose(&r->inputs[i]);
	free(r->inputs);
	free(r->texts);
	free(r->pairs);
	free(r->text_lens);
	free(r->pair_lens);
	free(r->out);
	free(r->model_name);
	if (r->decode_ids != NULL)
		for (int32_t i = 0; i < r->n_inputs; i++)
			free(r->decode_ids[i]);
	free(r->decode_ids);
	free(r->decode_lens);
	for (int32_t i = 0; r->owned_texts != NULL && i < r->n_inputs; i++)
		free(r->owned_texts[i]);
	free(r->owned_texts);
	free(r->pool_skip);
	for (int32_t i = 0; r->ignore_labels != NULL && i < r->n_ignore; i++)
		free(r->ignore_labels[i]);
	free(r->ignore_labels);
	memset(r, 0, sizeof(*r));
}

int request_alloc_output(struct request *r, const struct model *m)
{
	size_t h = (size_t)m->enc.hidden;
	switch (route_work(r->route)) {
	case WORK_POOLED:
		r->n_out = (size_t)r->n_inputs * h;
		break;
	case WORK_TOKENS:
		r->n_out = (size_t)r->n_tokens * h;
		break;
	case WORK_CLASSIFY:
		r->n_out = (size_t)r->n_inputs * (size_t)(m->n_labels > 0 ? m->n_labels : 1);
		break;
	case WORK_TOKEN_CLASSIFY:
		r->n_out = (size_t)r->n_tokens * (size_t)(m->n_labels > 0 ? m->n_labels : 1);
		break;
	default:
		r->n_out = 0;
		return 0;
	}
	r->out = malloc((r->n_out ? r->n_out : 1) * sizeof(float));
	return r->out != NULL ? 0 : STATUS_ENOMEM;
}

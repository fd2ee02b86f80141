/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One API request in plain C, between the JSON codec (loop thread) and the
 * engine (worker threads): the route, its options, the tokenized inputs and
 * the space for results. Workers touch only this, never jansson values.
 */
#ifndef SMOLSERVE_SERVER_REQUEST_H
#define SMOLSERVE_SERVER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

enum route {
	ROUTE_EMBED = 0,
	ROUTE_EMBED_ALL,
	ROUTE_PREDICT,
	ROUTE_TOKENIZE,
	ROUTE_RERANK,         /* (query, text) pairs through the classifier */
	ROUTE_SIMILARITY,     /* source + sentences embedded, cosine */
	ROUTE_DECODE,         /* ids -> text, no model run */
	ROUTE_OPENAI,         /* OpenAI-style /v1/embeddings */
	ROUTE_PREDICT_TOKENS, /* token classification (NER) */
	ROUTE_EMBED_SPARSE,   /* TEI's SPLADE route: validated, then 424 (no SPLADE models) */
	ROUTE_COUNT_,
};

/* What the engine computes for a route. */
enum route_work {
	WORK_NONE = 0,       /* tokenizer only */
	WORK_POOLED,         /* one pooled vector per input */
	WORK_TOKENS,         /* every token's hidden state */
	WORK_CLASSIFY,       /* classifier scores per input */
	WORK_TOKEN_CLASSIFY, /* classifier scores per token */
};

enum route_work route_work(enum route r);

/* TEI's error kinds; error_type in the JSON body. */
enum api_error_kind {
	API_ERR_VALIDATION = 0, /* 422 */
	API_ERR_TOKENIZER,      /* 422 */
	API_ERR_EMPTY,          /* 400 */
	API_ERR_BACKEND,        /* 424 */
	API_ERR_OVERLOADED,     /* 429 */
	API_ERR_UNHEALTHY,      /* 503 */
	API_ERR_PAYLOAD,        /* 413 */
	API_ERR_NOT_FOUND,      /* 404 */
	API_ERR_METHOD,         /* 405 */
	API_ERR_DEADLINE,       /* 504 */
	API_ERR_UNAUTHORIZED,   /* 401: --api-key set, no or another key sent */
	API_ERR_BAD_REQUEST,    /* 400: malformed HTTP (smuggling-prone headers) */
	API_ERR_COUNT_,
};

/* What failed, finer than the kind, for te_request_failure{err}: TEI's
 * label values. CAUSE_DEFAULT takes the kind's own. */
enum api_cause {
	CAUSE_DEFAULT = 0,
	CAUSE_BATCH_SIZE,   /* more inputs than --max-client-batch-size */
	CAUSE_MODEL_TYPE,   /* the route does not fit the model: 424 */
	CAUSE_TOKENIZATION, /* the tokenizer refused an input (too long, bad ids) */
};

struct api_error {
	enum api_error_kind kind;
	enum api_cause cause;
	char message[512];
};

const char *api_error_type(enum api_error_kind kind);
int api_error_http_status(enum api_error_kind kind);

/* Route from its name ("embed", "embed_all", "predict", "tokenize",
 * "rerank", "similarity", "decode", "v1/embeddings", "predict_tokens",
 * "embed_sparse"); -1 if unknown. */
int route_from_name(const char *name);
const char *route_name(enum route r);

/* Server-wide settings that shape request validation. */
struct request_limits {
	int auto_truncate;             /* truncate when the request does not say */
	int32_t max_client_batch_size; /* inputs per request; 0 = no limit */
	const char *default_prompt;    /* put before texts to embed; NULL = none (borrowed) */
	const char *served_model_name; /* /v1/embeddings' "model"; NULL = "smolserve" */
	int64_t max_tokenize_tokens;   /* /tokenize ids out, /decode ids in; 0 = no limit */
	int64_t max_response_floats;   /* /embed_all floats in one answer; 0 = no limit */
};

struct request {
	enum route route;
	int batch;            /* 1 if inputs was a list: answer with a list */
	int normalize;        /* embed */
	int raw_scores;       /* predict, rerank */
	int return_text;      /* rerank */
	int base64;           /* openai: encoding_format "base64" */
	int32_t dimensions;   /* embed, openai: keep this many dimensions; 0 = all */
	char *model_name;     /* openai: the served model name (owned) */
	int32_t **decode_ids; /* decode and token-id inputs: (n_inputs) owned id lists,
	                       * NULL entries for text inputs */
	int32_t *decode_lens; /* (n_inputs) */
	char **owned_texts;   /* (n_inputs) owned prompt + text strings or NULL */
	int32_t *pool_skip;   /* (n_inputs) leading tokens mean pooling leaves out
	                       * (a prompt with include_prompt false), or NULL */
	int64_t n_chars;      /* characters (ids) of the inputs: x-compute-characters */
	int skip_special;     /* decode */
	int aggregation;      /* predict_tokens: enum aggregation */
	char **ignore_labels; /* predict_tokens: (n_ignore) owned */
	int32_t n_ignore;
	int32_t n_inputs;
	struct encoding *inputs; /* (n_inputs) owned */
	int32_t n_tokens;        /* sum of inputs[i].n */
	const char **texts;      /* (n_inputs) borrowed from the body: tokenize */
	const char **pairs;      /* (n_inputs) borrowed or NULL entries */
	size_t *text_lens;       /* (n_inputs) bytes (texts may hold NUL) */
	size_t *pair_lens;       /* (n_inputs) */
	float *out;              /* owned results, shape by route: */
	/* embed (n_inputs, hidden); embed_all (n_tokens, hidden);
	 * predict (n_inputs, n_labels), scores already applied unless raw;
	 * predict_tokens (n_tokens, n_labels) logits */
	size_t n_out;
};

void request_init(struct request *r);
void request_dispose(struct request *r);

/* Allocates r->out for its route (after inputs are set). 0 or
 * STATUS_ENOMEM. */
int request_alloc_output(struct request *r, const struct model *m);

#endif

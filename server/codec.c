/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON -> struct request for every route, in text-embeddings-inference's
 * shapes (see codec.h): each route reads exactly the fields TEI's types.rs
 * gives it (and smolserve's own routes theirs), checks that the route fits
 * the model (TEI's 424 otherwise), then hands the inputs to
 * codec_inputs.c. Validation messages follow TEI's wording where TEI has
 * one, so clients that match on them keep working.
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec-impl.h"
#include "ner.h"

/* Optional boolean field: absent or null keeps *out. */
static int get_bool(const json_t *body, const char *key, int *out, struct api_error *e)
{
	json_t *v = json_object_get(body, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return codec_fail(e, API_ERR_VALIDATION, "`%s` must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

/* Optional string field TEI reads but does not use (OpenAI's model, user). */
static int check_string(const json_t *body, const char *key, struct api_error *e)
{
	json_t *v = json_object_get(body, key);
	if (v == NULL || json_is_null(v) || json_is_string(v))
		return 0;
	return codec_fail(e, API_ERR_VALIDATION, "`%s` must be a string or null", key);
}

/* truncate (absent or null: --auto-truncate, as TEI's
 * `req.truncate.unwrap_or(info.auto_truncate)`) and truncation_direction. */
static int parse_truncation(const json_t *holder, const struct request_limits *lim,
                            struct encode_opts *opts, struct api_error *e)
{
	opts->truncate = lim->auto_truncate;
	if (get_bool(holder, "truncate", &opts->truncate, e) != 0)
		return -1;
	json_t *dir = json_object_get(holder, "truncation_direction");
	if (dir != NULL && !json_is_null(dir)) {
		const char *s = json_string_value(dir);
		if (s != NULL && strcasecmp(s, "left") == 0)
			opts->side = TRUNCATION_LEFT;
		else if (s == NULL || strcasecmp(s, "right") != 0)
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`truncation_direction` must be \"left\" or \"right\"");
	}
	return 0;
}

/* dimensions: keep the first n of the pooled vector (Matryoshka). */
static int parse_dimensions(const struct model *m, const json_t *body, struct request *r,
                            struct api_error *e)
{
	const json_t *dims = json_object_get(body, "dimensions");
	if (dims == NULL || json_is_null(dims))
		return 0;
	if (!json_is_integer(dims) || json_integer_value(dims) < 1 ||
	    json_integer_value(dims) > m->enc.hidden)
		return codec_fail(e, API_ERR_VALIDATION,
		                  "`dimensions` must be a whole number from 1 to %d",
		                  (int)m->enc.hidden);
	r->dimensions = (int32_t)json_integer_value(dims);
	return 0;
}

/* inputs: str | [str] (tokenize, predict_tokens: TEI's TokenizeInput). */
static int parse_texts(const json_t *inputs, const struct request_limits *lim, struct request *r,
                       struct api_error *e)
{
	if (json_is_string(inputs))
		return codec_one_text(r, inputs, e);
	if (!json_is_array(inputs))
		return codec_fail(e, API_ERR_VALIDATION,
		                  "`inputs` must be a string or a list of strings");
	size_t n = json_array_size(inputs);
	r->batch = 1;
	if (codec_check_count(n, "inputs", lim, e) != 0 || codec_alloc_inputs(r, n, e) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(inputs, i);
		if (!json_is_string(v))
			return codec_fail(e, API_ERR_VALIDATION, "`inputs[%zu]` must be a string",
			                  i);
		codec_set_text(r, i, v);
	}
	return 0;
}

/* [str] or [str, str] into slot i; 0 or -1. */
static int parse_sequence(const json_t *v, struct request *r, size_t i)
{
	size_t n = json_array_size(v);
	if (!json_is_array(v) || n < 1 || n > 2)
		return -1;
	for (size_t j = 0; j < n; j++)
		if (!json_is_string(json_array_get(v, j)))
			return -1;
	codec_set_text(r, i, json_array_get(v, 0));
	if (n == 2) {
		r->pairs[i] = json_string_value(json_array_get(v, 1));
		r->pair_lens[i] = json_string_length(json_array_get(v, 1));
	}
	return 0;
}

/* inputs: str | [str, str] | [[str] | [str, str]] (predict, as TEI). */
static int parse_predict_inputs(const json_t *inputs, const struct request_limits *lim,
                                struct request *r, struct api_error *e)
{
	static const char SHAPES[] = "`inputs` must be a string, a pair [string, string] or a "
	                             "list of [string] or [string, string]";
	if (json_is_string(inputs))
		return codec_one_text(r, inputs, e);
	if (!json_is_array(inputs))
		return codec_fail(e, API_ERR_VALIDATION, "%s", SHAPES);
	size_t n = json_array_size(inputs);
	if (n == 2 && json_is_string(json_array_get(inputs, 0))) {
		if (codec_alloc_inputs(r, 1, e) != 0)
			return -1;
		if (parse_sequence(inputs, r, 0) != 0)
			return codec_fail(e, API_ERR_VALIDATION, "%s", SHAPES);
		return 0;
	}
	r->batch = 1;
	if (codec_check_count(n, "inputs", lim, e) != 0 || codec_alloc_inputs(r, n, e) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (parse_sequence(json_array_get(inputs, i), r, i) != 0)
			return codec_fail(e, API_ERR_VALIDATION, "%s (at inputs[%zu])", SHAPES, i);
	return 0;
}

/* rerank: {"query": str, "texts": [str], ...} -> (query, text) pairs. */
static int parse_rerank(const json_t *body, const struct request_limits *lim, struct request *r,
                        struct api_error *e)
{
	const json_t *query = json_object_get(body, "query");
	const json_t *texts = json_object_get(body, "texts");
	if (!json_is_string(query))
		return codec_fail(e, API_ERR_VALIDATION, "`query` must be a string");
	if (!json_is_array(texts))
		return codec_fail(e, API_ERR_VALIDATION, "`texts` must be a list of strings");
	size_t n = json_array_size(texts);
	r->batch = 1;
	if (codec_check_count(n, "texts", lim, e) != 0 || codec_alloc_inputs(r, n, e) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(texts, i);
		if (!json_is_string(t))
			return codec_fail(e, API_ERR_VALIDATION, "`texts[%zu]` must be a string",
			                  i);
		codec_set_text(r, i, query);
		r->pairs[i] = json_string_value(t);
		r->pair_lens[i] = json_string_length(t);
	}
	if (get_bool(body, "raw_scores", &r->raw_scores, e) != 0 ||
	    get_bool(body, "return_text", &r->return_text, e) != 0)
		return -1;
	return 0;
}

/* similarity: {"inputs": {"source_sentence", "sentences"}, "parameters":
 * {"truncate", "truncation_direction", "prompt_name"}}. */
static int parse_similarity(const struct model *m, const json_t *body,
                            const struct request_limits *lim, struct codec_encode *enc,
                            struct request *r, struct api_error *e)
{
	const json_t *in = json_object_get(body, "inputs");
	const json_t *src = json_object_get(in, "source_sentence");
	const json_t *sents = json_object_get(in, "sentences");
	const json_t *params = json_object_get(body, "parameters");
	if (!json_is_object(in) || !json_is_string(src) || !json_is_array(sents))
		return codec_fail(e, API_ERR_VALIDATION,
		                  "`inputs` must be {\"source_sentence\": string, \"sentences\": "
		                  "[string]}");
	if (params != NULL && !json_is_null(params) && !json_is_object(params))
		return codec_fail(e, API_ERR_VALIDATION, "`parameters` must be an object or null");
	size_t n = json_array_size(sents);
	if (n == 0)
		return codec_fail(e, API_ERR_EMPTY, "`inputs.sentences` cannot be empty");
	if (codec_check_count(n + 1, "inputs.sentences", lim, e) != 0 ||
	    codec_alloc_inputs(r, n + 1, e) != 0)
		return -1;
	codec_set_text(r, 0, src);
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(sents, i);
		if (!json_is_string(t))
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`sentences[%zu]` must be a string", i);
		codec_set_text(r, i + 1, t);
	}
	r->normalize = 1; /* cosine: dot products of unit vectors */
	if (parse_truncation(params, lim, &enc->opts, e) != 0)
		return -1;
	return codec_pick_prompt(m, params, lim, enc, e);
}

/* OpenAI: {"input", "model", "user", "encoding_format", "dimensions"} (and
 * prompt_name, a smolserve addition). */
static int parse_openai(const struct model *m, const json_t *body, const struct request_limits *lim,
                        struct codec_encode *enc, struct request *r, struct api_error *e)
{
	if (codec_parse_embed_inputs(m, json_object_get(body, "input"), "input", lim, r, e) != 0 ||
	    check_string(body, "model", e) != 0 || check_string(body, "user", e) != 0)
		return -1;
	const char *name = lim->served_model_name ? lim->served_model_name : "smolserve";
	if ((r->model_name = strdup(name)) == NULL)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	const json_t *fmt = json_object_get(body, "encoding_format");
	if (fmt != NULL && !json_is_null(fmt)) {
		const char *f = json_string_value(fmt);
		if (f != NULL && strcmp(f, "base64") == 0)
			r->base64 = 1;
		else if (f == NULL || strcmp(f, "float") != 0)
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`encoding_format` must be \"float\" or \"base64\"");
	}
	r->normalize = 1;
	enc->opts.truncate = lim->auto_truncate;
	if (parse_dimensions(m, body, r, e) != 0)
		return -1;
	return codec_pick_prompt(m, body, lim, enc, e);
}

/* decode: {"ids": [int] | [[int]], "skip_special_tokens": true}. */
static int parse_decode(const struct model *m, const json_t *body, const struct request_limits *lim,
                        struct request *r, struct api_error *e)
{
	const json_t *ids = json_object_get(body, "ids");
	if (!json_is_array(ids))
		return codec_fail(e, API_ERR_VALIDATION,
		                  "`ids` must be a list of token ids or of lists");
	int nested = json_array_size(ids) > 0 && json_is_array(json_array_get(ids, 0));
	size_t n = nested ? json_array_size(ids) : 1;
	if (codec_check_count(n, "ids", lim, e) != 0)
		return -1;
	size_t total = nested ? 0 : json_array_size(ids);
	for (size_t i = 0; nested && i < n; i++)
		total += json_array_size(json_array_get(ids, i));
	if (lim->max_tokenize_tokens > 0 && total > (size_t)lim->max_tokenize_tokens)
		return codec_fail(
		    e, API_ERR_VALIDATION,
		    "/decode takes at most %lld ids per request (--max-batch-tokens); "
		    "this one has %zu",
		    (long long)lim->max_tokenize_tokens, total);
	if (codec_alloc_inputs(r, n, e) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *list = nested ? json_array_get(ids, i) : ids;
		if (!json_is_array(list))
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`ids[%zu]` must be a list of token ids", i);
		if (codec_parse_ids(m, list, "ids", r, i, e) != 0)
			return -1;
		if (json_array_size(list) == 0)
			return codec_fail(e, API_ERR_EMPTY,
			                  "Input validation error: `input_ids` cannot be empty");
	}
	r->skip_special = 1;
	return get_bool(body, "skip_special_tokens", &r->skip_special, e);
}

/* predict_tokens: {"inputs", "aggregation_strategy": "none", "ignore_labels": ["O"]}. */
static int parse_predict_tokens(const json_t *body, const struct request_limits *lim,
                                struct request *r, struct api_error *e)
{
	if (parse_texts(json_object_get(body, "inputs"), lim, r, e) != 0)
		return -1;
	const json_t *agg = json_object_get(body, "aggregation_strategy");
	r->aggregation = AGG_NONE;
	if (agg != NULL && !json_is_null(agg)) {
		int a = json_is_string(agg) ? aggregation_from_name(json_string_value(agg)) : -1;
		if (a < 0)
			return codec_fail(
			    e, API_ERR_VALIDATION,
			    "`aggregation_strategy` must be one of none, simple, first, "
			    "average, max");
		r->aggregation = a;
	}
	const json_t *ign = json_object_get(body, "ignore_labels");
	size_t n = ign == NULL || json_is_null(ign) ? 1 : json_array_size(ign);
	if (ign != NULL && !json_is_null(ign) && !json_is_array(ign))
		return codec_fail(e, API_ERR_VALIDATION,
		                  "`ignore_labels` must be a list of strings");
	r->ignore_labels = calloc(n ? n : 1, sizeof(*r->ignore_labels));
	if (r->ignore_labels == NULL)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *v = ign == NULL || json_is_null(ign) ? NULL : json_array_get(ign, i);
		if (v != NULL && !json_is_string(v))
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`ignore_labels[%zu]` must be a string", i);
		r->ignore_labels[i] = strdup(v ? json_string_value(v) : "O");
		if (r->ignore_labels[i] == NULL)
			return codec_fail(e, API_ERR_BACKEND, "out of memory");
		r->n_ignore = (int32_t)i + 1;
	}
	return 0;
}

/* The fields of the routes whose inputs are TEI's `Input` (embed,
 * embed_all, embed_sparse): inputs, truncation, prompt_name. */
static int parse_embed_common(const struct model *m, const json_t *body,
                              const struct request_limits *lim, struct codec_encode *enc,
                              struct request *r, struct api_error *e)
{
	if (codec_parse_embed_inputs(m, json_object_get(body, "inputs"), "inputs", lim, r, e) !=
	        0 ||
	    parse_truncation(body, lim, &enc->opts, e) != 0)
		return -1;
	return codec_pick_prompt(m, body, lim, enc, e);
}

/* The route's own fields; inputs land in r->texts / r->pairs / ids. */
static int parse_route(const struct model *m, enum route route, const json_t *body,
                       const struct request_limits *lim, struct codec_encode *enc,
                       struct request *r, struct api_error *e)
{
	const json_t *inputs = json_object_get(body, "inputs");
	int needs_inputs =
	    route == ROUTE_PREDICT || route == ROUTE_TOKENIZE || route == ROUTE_PREDICT_TOKENS;
	if (needs_inputs && inputs == NULL)
		return codec_fail(e, API_ERR_VALIDATION, "missing field `inputs`");
	switch (route) {
	case ROUTE_EMBED:
		if (parse_embed_common(m, body, lim, enc, r, e) != 0 ||
		    parse_dimensions(m, body, r, e) != 0)
			return -1;
		return get_bool(body, "normalize", &r->normalize, e);
	case ROUTE_EMBED_ALL:
	case ROUTE_EMBED_SPARSE:
		return parse_embed_common(m, body, lim, enc, r, e);
	case ROUTE_PREDICT:
		if (parse_predict_inputs(inputs, lim, r, e) != 0 ||
		    parse_truncation(body, lim, &enc->opts, e) != 0)
			return -1;
		return get_bool(body, "raw_scores", &r->raw_scores, e);
	case ROUTE_TOKENIZE:
		if (parse_texts(inputs, lim, r, e) != 0 ||
		    codec_pick_prompt(m, body, lim, enc, e) != 0)
			return -1;
		enc->opts.max_length = 0; /* tokenize reports the whole input */
		return get_bool(body, "add_special_tokens", &enc->opts.add_special_tokens, e);
	case ROUTE_RERANK:
		if (parse_rerank(body, lim, r, e) != 0)
			return -1;
		return parse_truncation(body, lim, &enc->opts, e);
	case ROUTE_SIMILARITY:
		return parse_similarity(m, body, lim, enc, r, e);
	case ROUTE_OPENAI:
		return parse_openai(m, body, lim, enc, r, e);
	case ROUTE_DECODE:
		return parse_decode(m, body, lim, r, e);
	case ROUTE_PREDICT_TOKENS:
		if (parse_predict_tokens(body, lim, r, e) != 0)
			return -1;
		return parse_truncation(body, lim, &enc->opts, e);
	default:
		return codec_fail(e, API_ERR_NOT_FOUND, "unknown route");
	}
}

/* TEI answers a route that does not fit the model with 424 and these
 * messages (its Backend errors: "Backend error: " + the reason). */
static int check_fit(const struct model *m, enum route route, struct api_error *e)
{
	const char *why = NULL;
	switch (route) {
	case ROUTE_EMBED:
	case ROUTE_EMBED_ALL:
	case ROUTE_SIMILARITY:
	case ROUTE_OPENAI:
		if (m->head != HEAD_NONE)
			why = "Model is not an embedding model";
		break;
	case ROUTE_EMBED_SPARSE:
		why = "Model is not an embedding model with SPLADE pooling";
		break;
	case ROUTE_PREDICT:
		if (m->head == HEAD_TOKCLS)
			why = "Model is not a classifier model (it classifies tokens: use "
			      "/predict_tokens)";
		else if (m->head != HEAD_SEQCLS)
			why = "Model is not a classifier model";
		break;
	case ROUTE_RERANK:
		if (m->head != HEAD_SEQCLS || m->n_labels != 1)
			why = "model is not a re-ranker model";
		break;
	case ROUTE_PREDICT_TOKENS:
		if (m->head != HEAD_TOKCLS)
			why = "Model is not a token classifier model";
		break;
	default:
		break;
	}
	if (why == NULL)
		return 0;
	e->cause = CAUSE_MODEL_TYPE;
	return codec_fail(e, API_ERR_BACKEND, "Backend error: %s", why);
}

/* The caps on one request's work (see codec.h), after tokenization. */
static int check_caps(const struct model *m, const struct request_limits *lim,
                      const struct request *r, struct api_error *e)
{
	if (r->route == ROUTE_TOKENIZE && lim->max_tokenize_tokens > 0 &&
	    r->n_tokens > lim->max_tokenize_tokens)
		return codec_fail(e, API_ERR_VALIDATION,
		                  "/tokenize answers at most %lld tokens per request "
		                  "(--max-batch-tokens); this one has %d",
		                  (long long)lim->max_tokenize_tokens, (int)r->n_tokens);
	int64_t floats = (int64_t)r->n_tokens * m->enc.hidden;
	if (r->route == ROUTE_EMBED_ALL && lim->max_response_floats > 0 &&
	    floats > lim->max_response_floats)
		return codec_fail(
		    e, API_ERR_VALIDATION,
		    "/embed_all would answer %lld floats (%d tokens x %d hidden), more "
		    "than --max-response-floats %lld: send fewer or shorter inputs",
		    (long long)floats, (int)r->n_tokens, (int)m->enc.hidden,
		    (long long)lim->max_response_floats);
	return 0;
}

int codec_parse(const struct model *m, enum route route, const json_t *body,
                const struct request_limits *lim, struct request *r, struct api_error *e)
{
	struct codec_encode enc = {.opts = {.add_special_tokens = 1,
	                                    .max_length = m->max_input_length,
	                                    .truncate = lim->auto_truncate,
	                                    .side = TRUNCATION_RIGHT}};
	enc.prompt_routes = route == ROUTE_EMBED || route == ROUTE_EMBED_ALL ||
	                    route == ROUTE_EMBED_SPARSE || route == ROUTE_SIMILARITY ||
	                    route == ROUTE_OPENAI || route == ROUTE_TOKENIZE;
	e->message[0] = '\0';
	e->cause = CAUSE_DEFAULT;
	r->route = route;
	if (!json_is_object(body))
		return codec_fail(e, API_ERR_VALIDATION, "the request body must be a JSON object");
	if (parse_route(m, route, body, lim, &enc, r, e) != 0 || check_fit(m, route, e) != 0)
		return -1;
	if (route != ROUTE_DECODE && codec_tokenize_all(m, &enc, r, e) != 0)
		return -1;
	if (check_caps(m, lim, r, e) != 0)
		return -1;
	if (request_alloc_output(r, m) != 0)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	return 0;
}

json_t *codec_error(const struct api_error *e)
{
	return json_pack("{s:s, s:s}", "error", e->message, "error_type", api_error_type(e->kind));
}

json_t *codec_error_for(enum route route, const struct api_error *e)
{
	if (route != ROUTE_OPENAI)
		return codec_error(e);
	return json_pack("{s:s, s:i, s:s}", "message", e->message, "code",
	                 api_error_http_status(e->kind), "type", api_error_type(e->kind));
}

int codec_check_finite(const struct request *r, struct api_error *e)
{
	/* Bit test, so it holds under any floating-point flags: exponent all ones. */
	uint32_t bad = 0;
	for (size_t i = 0; i < r->n_out; i++) {
		uint32_t bits;
		memcpy(&bits, &r->out[i], sizeof(bits));
		bad |= (bits & 0x7f800000u) == 0x7f800000u;
	}
	if (!bad)
		return 0;
	return codec_fail(e, API_ERR_BACKEND, "the model produced NaN/Inf");
}

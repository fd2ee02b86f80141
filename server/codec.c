/*
 * JSON <-> struct request for every route, in text-embeddings-inference's
 * shapes (see codec.h). Validation messages follow TEI's wording where TEI
 * has one, so clients that match on them keep working.
 */
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ner.h"
#include "status.h"

static int fail(struct api_error *e, enum api_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct api_error *e, enum api_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	e->kind = kind;
	return -1;
}

/* Optional boolean field: absent or null keeps *out. */
static int get_bool(const json_t *body, const char *key, int *out, struct api_error *e)
{
	json_t *v = json_object_get(body, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail(e, API_ERR_VALIDATION, "`%s` must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

static int alloc_inputs(struct request *r, size_t n, struct api_error *e)
{
	r->inputs = calloc(n, sizeof(*r->inputs));
	r->texts = calloc(n, sizeof(*r->texts));
	r->pairs = calloc(n, sizeof(*r->pairs));
	r->text_lens = calloc(n, sizeof(*r->text_lens));
	r->pair_lens = calloc(n, sizeof(*r->pair_lens));
	if (r->inputs == NULL || r->texts == NULL || r->pairs == NULL || r->text_lens == NULL ||
	    r->pair_lens == NULL)
		return fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t i = 0; i < n; i++)
		encoding_init(&r->inputs[i]);
	r->n_inputs = (int32_t)n;
	return 0;
}

static int check_count(size_t n, const struct request_limits *lim, struct api_error *e)
{
	if (n == 0)
		return fail(e, API_ERR_EMPTY, "`inputs` cannot be empty");
	if (lim->max_client_batch_size > 0 && n > (size_t)lim->max_client_batch_size)
		return fail(e, API_ERR_VALIDATION, "batch size %zu > maximum allowed batch size %d",
		            n, (int)lim->max_client_batch_size);
	return 0;
}

/* inputs: str | [str] (embed, embed_all, tokenize). */
static void set_text(struct request *r, size_t i, const json_t *s)
{
	r->texts[i] = json_string_value(s);
	r->text_lens[i] = json_string_length(s);
}

static int parse_texts(const json_t *inputs, const struct request_limits *lim, struct request *r,
                       struct api_error *e)
{
	if (json_is_string(inputs)) {
		if (alloc_inputs(r, 1, e) != 0)
			return -1;
		set_text(r, 0, inputs);
		return 0;
	}
	if (!json_is_array(inputs))
		return fail(e, API_ERR_VALIDATION,
		            "`inputs` must be a string or a list of strings");
	size_t n = json_array_size(inputs);
	if (check_count(n, lim, e) != 0 || alloc_inputs(r, n, e) != 0)
		return -1;
	r->batch = 1;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(inputs, i);
		if (!json_is_string(v))
			return fail(e, API_ERR_VALIDATION, "`inputs[%zu]` must be a string", i);
		set_text(r, i, v);
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
	set_text(r, i, json_array_get(v, 0));
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
	if (json_is_string(inputs)) {
		if (alloc_inputs(r, 1, e) != 0)
			return -1;
		set_text(r, 0, inputs);
		return 0;
	}
	if (!json_is_array(inputs))
		return fail(e, API_ERR_VALIDATION, "%s", SHAPES);
	size_t n = json_array_size(inputs);
	if (n == 2 && json_is_string(json_array_get(inputs, 0))) {
		if (alloc_inputs(r, 1, e) != 0)
			return -1;
		if (parse_sequence(inputs, r, 0) != 0)
			return fail(e, API_ERR_VALIDATION, "%s", SHAPES);
		return 0;
	}
	if (check_count(n, lim, e) != 0 || alloc_inputs(r, n, e) != 0)
		return -1;
	r->batch = 1;
	for (size_t i = 0; i < n; i++)
		if (parse_sequence(json_array_get(inputs, i), r, i) != 0)
			return fail(e, API_ERR_VALIDATION, "%s (at inputs[%zu])", SHAPES, i);
	return 0;
}

static int tokenize_all(const struct model *m, const struct encode_opts *opts, struct request *r,
                        struct api_error *e)
{
	char err[256];
	r->n_tokens = 0;
	for (int32_t i = 0; i < r->n_inputs; i++) {
		const char *pair = r->pairs[i];
		int rc = tokenizer_encode(m->tok, r->texts[i], r->text_lens[i], pair,
		                          r->pair_lens[i], opts, &r->inputs[i], err, sizeof(err));
		if (rc == STATUS_ETOOLONG || rc == STATUS_EINVAL)
			return fail(e, API_ERR_VALIDATION, "%s", err);
		if (rc != 0)
			return fail(e, API_ERR_TOKENIZER, "%s", err);
		if (r->inputs[i].n > INT32_MAX - r->n_tokens)
			return fail(e, API_ERR_VALIDATION, "too many tokens in one request");
		r->n_tokens += r->inputs[i].n;
	}
	return 0;
}

static int require_classifier(const struct model *m, const char *route, struct api_error *e)
{
	if (m->head == HEAD_SEQCLS)
		return 0;
	return fail(e, API_ERR_VALIDATION,
	            "this model is not a sequence classifier (config.json architectures: %s); "
	            "/%s needs a ...ForSequenceClassification folder",
	            m->cfg.n_architectures ? m->cfg.architectures[0] : "none", route);
}

/* rerank: {"query": str, "texts": [str]} -> (query, text) pairs. */
static int parse_rerank(const struct model *m, const json_t *body, const struct request_limits *lim,
                        struct request *r, struct api_error *e)
{
	if (require_classifier(m, "rerank", e) != 0)
		return -1;
	if (m->n_labels != 1)
		return fail(e, API_ERR_VALIDATION,
		            "/rerank needs a cross-encoder with one output (num_labels 1); this "
		            "model has %d labels: use /predict",
		            (int)m->n_labels);
	const json_t *query = json_object_get(body, "query");
	const json_t *texts = json_object_get(body, "texts");
	if (!json_is_string(query))
		return fail(e, API_ERR_VALIDATION, "`query` must be a string");
	if (!json_is_array(texts))
		return fail(e, API_ERR_VALIDATION, "`texts` must be a list of strings");
	size_t n = json_array_size(texts);
	if (check_count(n, lim, e) != 0 || alloc_inputs(r, n, e) != 0)
		return -1;
	r->batch = 1;
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(texts, i);
		if (!json_is_string(t))
			return fail(e, API_ERR_VALIDATION, "`texts[%zu]` must be a string", i);
		set_text(r, i, query);
		r->pairs[i] = json_string_value(t);
		r->pair_lens[i] = json_string_length(t);
	}
	if (get_bool(body, "raw_scores", &r->raw_scores, e) != 0 ||
	    get_bool(body, "return_text", &r->return_text, e) != 0)
		return -1;
	return 0;
}

/* similarity: {"inputs": {"source_sentence": str, "sentences": [str]}}. */
static int parse_similarity(const json_t *body, const struct request_limits *lim, struct request *r,
                            struct api_error *e)
{
	const json_t *in = json_object_get(body, "inputs");
	const json_t *src = json_object_get(in, "source_sentence");
	const json_t *sents = json_object_get(in, "sentences");
	if (!json_is_object(in) || !json_is_string(src) || !json_is_array(sents))
		return fail(e, API_ERR_VALIDATION,
		            "`inputs` must be {\"source_sentence\": string, \"sentences\": "
		            "[string]}");
	size_t n = json_array_size(sents);
	if (check_count(n, lim, e) != 0 || alloc_inputs(r, n + 1, e) != 0)
		return -1;
	set_text(r, 0, src);
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(sents, i);
		if (!json_is_string(t))
			return fail(e, API_ERR_VALIDATION, "`sentences[%zu]` must be a string", i);
		set_text(r, i + 1, t);
	}
	r->normalize = 1;
	return 0;
}

/* OpenAI: {"input": str | [str], "model", "encoding_format", "dimensions"}. */
static int parse_openai(const struct model *m, const json_t *body, const struct request_limits *lim,
                        struct request *r, struct api_error *e)
{
	const json_t *input = json_object_get(body, "input");
	if (input == NULL)
		return fail(e, API_ERR_VALIDATION, "missing field `input`");
	if (parse_texts(input, lim, r, e) != 0)
		return -1;
	const json_t *model = json_object_get(body, "model");
	if (model != NULL && !json_is_null(model) && !json_is_string(model))
		return fail(e, API_ERR_VALIDATION, "`model` must be a string");
	const char *name = json_is_string(model) ? json_string_value(model) : "smolserve";
	if ((r->model_name = strdup(name)) == NULL)
		return fail(e, API_ERR_BACKEND, "out of memory");
	const json_t *fmt = json_object_get(body, "encoding_format");
	if (fmt != NULL && !json_is_null(fmt)) {
		const char *f = json_string_value(fmt);
		if (f != NULL && strcmp(f, "base64") == 0)
			r->base64 = 1;
		else if (f == NULL || strcmp(f, "float") != 0)
			return fail(e, API_ERR_VALIDATION,
			            "`encoding_format` must be \"float\" or \"base64\"");
	}
	const json_t *dims = json_object_get(body, "dimensions");
	if (dims != NULL && !json_is_null(dims)) {
		if (!json_is_integer(dims) || json_integer_value(dims) < 1 ||
		    json_integer_value(dims) > m->enc.hidden)
			return fail(e, API_ERR_VALIDATION,
			            "`dimensions` must be a whole number from 1 to %d",
			            (int)m->enc.hidden);
		r->dimensions = (int32_t)json_integer_value(dims);
	}
	r->normalize = 1;
	return 0;
}

/* One id list into slot i; 0 or -1. */
static int parse_ids(const struct model *m, const json_t *ids, struct request *r, size_t i,
                     struct api_error *e)
{
	size_t n = json_array_size(ids);
	r->decode_ids[i] = malloc((n ? n : 1) * sizeof(int32_t));
	if (r->decode_ids[i] == NULL)
		return fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t j = 0; j < n; j++) {
		json_t *v = json_array_get(ids, j);
		json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
		if (id < 0 || id >= m->tok->vocab.n_tokens)
			return fail(e, API_ERR_VALIDATION, "`ids` must hold token ids from 0 to %d",
			            (int)m->tok->vocab.n_tokens - 1);
		r->decode_ids[i][j] = (int32_t)id;
	}
	r->decode_lens[i] = (int32_t)n;
	return 0;
}

/* decode: {"ids": [int] | [[int]], "skip_special_tokens": true}. */
static int parse_decode(const struct model *m, const json_t *body, const struct request_limits *lim,
                        struct request *r, struct api_error *e)
{
	const json_t *ids = json_object_get(body, "ids");
	if (!json_is_array(ids))
		return fail(e, API_ERR_VALIDATION, "`ids` must be a list of token ids or of lists");
	int nested = json_array_size(ids) > 0 && json_is_array(json_array_get(ids, 0));
	size_t n = nested ? json_array_size(ids) : 1;
	if (check_count(nested ? n : 1, lim, e) != 0)
		return -1;
	size_t total = nested ? 0 : json_array_size(ids);
	for (size_t i = 0; nested && i < n; i++)
		total += json_array_size(json_array_get(ids, i));
	if (lim->max_tokenize_tokens > 0 && total > (size_t)lim->max_tokenize_tokens)
		return fail(e, API_ERR_VALIDATION,
		            "/decode takes at most %lld ids per request (--max-batch-tokens); "
		            "this one has %zu",
		            (long long)lim->max_tokenize_tokens, total);
	if (alloc_inputs(r, n, e) != 0)
		return -1;
	r->decode_ids = calloc(n, sizeof(*r->decode_ids));
	r->decode_lens = calloc(n, sizeof(*r->decode_lens));
	if (r->decode_ids == NULL || r->decode_lens == NULL)
		return fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *list = nested ? json_array_get(ids, i) : ids;
		if (!json_is_array(list) || parse_ids(m, list, r, i, e) != 0)
			return e->message[0] ? -1
			                     : fail(e, API_ERR_VALIDATION,
			                            "`ids[%zu]` must be a list of token ids", i);
	}
	r->skip_special = 1;
	return get_bool(body, "skip_special_tokens", &r->skip_special, e);
}

static int parse_truncation(const json_t *body, const struct request_limits *lim,
                            struct encode_opts *opts, struct api_error *e)
{
	if (get_bool(body, "truncate", &opts->truncate, e) != 0)
		return -1;
	if (lim->auto_truncate)
		opts->truncate = 1;
	json_t *dir = json_object_get(body, "truncation_direction");
	if (dir != NULL && !json_is_null(dir)) {
		const char *s = json_string_value(dir);
		if (s != NULL && strcasecmp(s, "left") == 0)
			opts->side = TRUNCATION_LEFT;
		else if (s == NULL || strcasecmp(s, "right") != 0)
			return fail(e, API_ERR_VALIDATION,
			            "`truncation_direction` must be \"left\" or \"right\"");
	}
	return 0;
}

/* predict_tokens: {"inputs", "aggregation_strategy": "none", "ignore_labels": ["O"]}. */
static int parse_predict_tokens(const struct model *m, const json_t *body,
                                const struct request_limits *lim, struct request *r,
                                struct api_error *e)
{
	if (m->head != HEAD_TOKCLS)
		return fail(e, API_ERR_VALIDATION,
		            "this model is not a token classifier (config.json architectures: %s); "
		            "/predict_tokens needs a ...ForTokenClassification folder",
		            m->cfg.n_architectures ? m->cfg.architectures[0] : "none");
	if (parse_texts(json_object_get(body, "inputs"), lim, r, e) != 0)
		return -1;
	const json_t *agg = json_object_get(body, "aggregation_strategy");
	r->aggregation = AGG_NONE;
	if (agg != NULL && !json_is_null(agg)) {
		int a = json_is_string(agg) ? aggregation_from_name(json_string_value(agg)) : -1;
		if (a < 0)
			return fail(e, API_ERR_VALIDATION,
			            "`aggregation_strategy` must be one of none, simple, first, "
			            "average, max");
		r->aggregation = a;
	}
	const json_t *ign = json_object_get(body, "ignore_labels");
	size_t n = ign == NULL || json_is_null(ign) ? 1 : json_array_size(ign);
	if (ign != NULL && !json_is_null(ign) && !json_is_array(ign))
		return fail(e, API_ERR_VALIDATION, "`ignore_labels` must be a list of strings");
	r->ignore_labels = calloc(n ? n : 1, sizeof(*r->ignore_labels));
	if (r->ignore_labels == NULL)
		return fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *v = ign == NULL || json_is_null(ign) ? NULL : json_array_get(ign, i);
		if (v != NULL && !json_is_string(v))
			return fail(e, API_ERR_VALIDATION, "`ignore_labels[%zu]` must be a string",
			            i);
		r->ignore_labels[i] = strdup(v ? json_string_value(v) : "O");
		if (r->ignore_labels[i] == NULL)
			return fail(e, API_ERR_BACKEND, "out of memory");
		r->n_ignore = (int32_t)i + 1;
	}
	return 0;
}

/* The route's own fields; inputs land in r->texts / r->pairs. */
static int parse_route(const struct model *m, enum route route, const json_t *body,
                       const struct request_limits *lim, struct encode_opts *opts,
                       struct request *r, struct api_error *e)
{
	const json_t *inputs = json_object_get(body, "inputs");
	int needs_inputs = route == ROUTE_EMBED || route == ROUTE_EMBED_ALL ||
	                   route == ROUTE_PREDICT || route == ROUTE_TOKENIZE ||
	                   route == ROUTE_PREDICT_TOKENS;
	if (needs_inputs && inputs == NULL)
		return fail(e, API_ERR_VALIDATION, "missing field `inputs`");
	switch (route) {
	case ROUTE_EMBED:
		if (parse_texts(inputs, lim, r, e) != 0)
			return -1;
		return get_bool(body, "normalize", &r->normalize, e);
	case ROUTE_EMBED_ALL:
		return parse_texts(inputs, lim, r, e);
	case ROUTE_PREDICT:
		if (require_classifier(m, "predict", e) != 0 ||
		    parse_predict_inputs(inputs, lim, r, e) != 0)
			return -1;
		return get_bool(body, "raw_scores", &r->raw_scores, e);
	case ROUTE_TOKENIZE:
		if (parse_texts(inputs, lim, r, e) != 0)
			return -1;
		opts->max_length = 0; /* tokenize reports the whole input */
		return get_bool(body, "add_special_tokens", &opts->add_special_tokens, e);
	case ROUTE_RERANK:
		return parse_rerank(m, body, lim, r, e);
	case ROUTE_SIMILARITY:
		return parse_similarity(body, lim, r, e);
	case ROUTE_OPENAI:
		return parse_openai(m, body, lim, r, e);
	case ROUTE_DECODE:
		return parse_decode(m, body, lim, r, e);
	case ROUTE_PREDICT_TOKENS:
		return parse_predict_tokens(m, body, lim, r, e);
	default:
		return fail(e, API_ERR_NOT_FOUND, "unknown route");
	}
}

/* The caps on one request's work (see codec.h), after tokenization. */
static int check_caps(const struct model *m, const struct request_limits *lim,
                      const struct request *r, struct api_error *e)
{
	if (r->route == ROUTE_TOKENIZE && lim->max_tokenize_tokens > 0 &&
	    r->n_tokens > lim->max_tokenize_tokens)
		return fail(e, API_ERR_VALIDATION,
		            "/tokenize answers at most %lld tokens per request "
		            "(--max-batch-tokens); this one has %d",
		            (long long)lim->max_tokenize_tokens, (int)r->n_tokens);
	int64_t floats = (int64_t)r->n_tokens * m->enc.hidden;
	if (r->route == ROUTE_EMBED_ALL && lim->max_response_floats > 0 &&
	    floats > lim->max_response_floats)
		return fail(e, API_ERR_VALIDATION,
		            "/embed_all would answer %lld floats (%d tokens x %d hidden), more "
		            "than --max-response-floats %lld: send fewer or shorter inputs",
		            (long long)floats, (int)r->n_tokens, (int)m->enc.hidden,
		            (long long)lim->max_response_floats);
	return 0;
}

int codec_parse(const struct model *m, enum route route, const json_t *body,
                const struct request_limits *lim, struct request *r, struct api_error *e)
{
	struct encode_opts opts = {.add_special_tokens = 1,
	                           .max_length = m->max_input_length,
	                           .truncate = 0,
	                           .side = TRUNCATION_RIGHT};
	e->message[0] = '\0';
	r->route = route;
	if (!json_is_object(body))
		return fail(e, API_ERR_VALIDATION, "the request body must be a JSON object");
	if (parse_route(m, route, body, lim, &opts, r, e) != 0 ||
	    parse_truncation(body, lim, &opts, e) != 0)
		return -1;
	if (route != ROUTE_DECODE && tokenize_all(m, &opts, r, e) != 0)
		return -1;
	if (check_caps(m, lim, r, e) != 0)
		return -1;
	if (request_alloc_output(r, m) != 0)
		return fail(e, API_ERR_BACKEND, "out of memory");
	return 0;
}

json_t *codec_error(const struct api_error *e)
{
	return json_pack("{s:s, s:s}", "error", e->message, "error_type", api_error_type(e->kind));
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
	return fail(e, API_ERR_BACKEND, "the model produced NaN/Inf");
}

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
		return fail(e, API_ERR_VALIDATION,
			    "batch size %zu > maximum allowed batch size %d", n,
			    (int)lim->max_client_batch_size);
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

int codec_parse(const struct model *m, enum route route, const json_t *body,
		const struct request_limits *lim, struct request *r, struct api_error *e)
{
	struct encode_opts opts = {.add_special_tokens = 1,
				   .max_length = m->max_input_length,
				   .truncate = lim->auto_truncate,
				   .side = TRUNCATION_RIGHT};
	r->route = route;
	if (!json_is_object(body))
		return fail(e, API_ERR_VALIDATION, "the request body must be a JSON object");
	const json_t *inputs = json_object_get(body, "inputs");
	if (inputs == NULL)
		return fail(e, API_ERR_VALIDATION, "missing field `inputs`");

	int rc = route == ROUTE_PREDICT ? parse_predict_inputs(inputs, lim, r, e)
					: parse_texts(inputs, lim, r, e);
	if (rc != 0)
		return -1;
	if (get_bool(body, "truncate", &opts.truncate, e) != 0)
		return -1;
	if (lim->auto_truncate)
		opts.truncate = 1;
	json_t *dir = json_object_get(body, "truncation_direction");
	if (dir != NULL && !json_is_null(dir)) {
		const char *s = json_string_value(dir);
		if (s != NULL && strcasecmp(s, "left") == 0)
			opts.side = TRUNCATION_LEFT;
		else if (s == NULL || strcasecmp(s, "right") != 0)
			return fail(e, API_ERR_VALIDATION,
				    "`truncation_direction` must be \"left\" or \"right\"");
	}

	switch (route) {
	case ROUTE_EMBED:
		if (get_bool(body, "normalize", &r->normalize, e) != 0)
			return -1;
		break;
	case ROUTE_PREDICT:
		if (m->head != HEAD_SEQCLS)
			return fail(e, API_ERR_VALIDATION,
				    "this model is not a sequence classifier (config.json "
				    "architectures: %s); /predict needs a "
				    "...ForSequenceClassification folder",
				    m->cfg.n_architectures ? m->cfg.architectures[0] : "none");
		if (get_bool(body, "raw_scores", &r->raw_scores, e) != 0)
			return -1;
		break;
	case ROUTE_TOKENIZE:
		if (get_bool(body, "add_special_tokens", &opts.add_special_tokens, e) != 0)
			return -1;
		opts.max_length = 0; /* tokenize reports the whole input */
		break;
	default:
		break;
	}
	if (tokenize_all(m, &opts, r, e) != 0)
		return -1;
	if (request_alloc_output(r, m) != 0)
		return fail(e, API_ERR_BACKEND, "out of memory");
	return 0;
}

static json_t *float_array(const float *x, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_real((double)x[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

struct scored {
	float score;
	int32_t label;
};

static int by_score_desc(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->label < y->label ? -1 : x->label > y->label;
}

static json_t *predictions(const struct model *m, const float *scores)
{
	struct scored s[256];
	int32_t n = m->n_labels < 256 ? m->n_labels : 256;
	for (int32_t i = 0; i < n; i++)
		s[i] = (struct scored){scores[i], i};
	qsort(s, (size_t)n, sizeof(s[0]), by_score_desc);
	json_t *list = json_array();
	for (int32_t i = 0; list != NULL && i < n; i++) {
		char fallback[32];
		const char *label = model_label(m, s[i].label);
		if (label == NULL) {
			snprintf(fallback, sizeof(fallback), "LABEL_%d", (int)s[i].label);
			label = fallback;
		}
		json_array_append_new(list, json_pack("{s:s, s:f}", "label", label, "score",
						      (double)s[i].score));
	}
	return list;
}

static json_t *tokens(const struct model *m, const struct request *r, int32_t i)
{
	const struct encoding *en = &r->inputs[i];
	json_t *list = json_array();
	for (int32_t t = 0; list != NULL && t < en->n; t++) {
		json_t *tok;
		if (en->special[t]) {
			const char *s = tokenizer_id_to_token(m->tok, en->ids[t]);
			tok = json_pack("{s:i, s:s, s:b, s:n, s:n}", "id", (int)en->ids[t], "text",
					s ? s : "", "special", 1, "start", "stop");
		} else {
			const char *src = en->seq[t] == 1 ? r->pairs[i] : r->texts[i];
			tok = json_pack("{s:i, s:s%, s:b, s:i, s:i}", "id", (int)en->ids[t], "text",
					src + en->starts[t], (size_t)(en->stops[t] - en->starts[t]),
					"special", 0, "start", (int)en->starts[t], "stop",
					(int)en->stops[t]);
		}
		json_array_append_new(list, tok);
	}
	return list;
}

json_t *codec_respond(const struct model *m, const struct request *r)
{
	size_t h = (size_t)m->enc.hidden, off = 0;
	json_t *out = json_array();
	for (int32_t i = 0; out != NULL && i < r->n_inputs; i++) {
		json_t *item = NULL;
		switch (r->route) {
		case ROUTE_EMBED:
			item = float_array(r->out + (size_t)i * h, h);
			break;
		case ROUTE_EMBED_ALL:
			item = json_array();
			for (int32_t t = 0; item != NULL && t < r->inputs[i].n; t++, off += h)
				json_array_append_new(item, float_array(r->out + off, h));
			break;
		case ROUTE_PREDICT:
			item = predictions(m, r->out + (size_t)i * (size_t)m->n_labels);
			if (!r->batch) {
				json_decref(out);
				return item;
			}
			break;
		case ROUTE_TOKENIZE:
			item = tokens(m, r, i);
			break;
		default:
			break;
		}
		if (item == NULL || json_array_append_new(out, item) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *codec_error(const struct api_error *e)
{
	return json_pack("{s:s, s:s}", "error", e->message, "error_type",
			 api_error_type(e->kind));
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inputs of a request, whatever their shape, into tokens (see
 * codec-impl.h): strings, [string, string] pairs and token-id lists as
 * text-embeddings-inference accepts them; the sentence-transformers prompt
 * put before each text to embed; empty and too long inputs refused with
 * TEI's errors. Token ids are taken as they are (no special tokens added),
 * as TEI does, unless a prompt is put before them: then, as TEI, they are
 * decoded, the prompt put in front and the whole encoded with specials.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec-impl.h"
#include "status.h"

int codec_fail(struct api_error *e, enum api_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	e->kind = kind;
	return -1;
}

int codec_alloc_inputs(struct request *r, size_t n, struct api_error *e)
{
	r->inputs = calloc(n, sizeof(*r->inputs));
	r->texts = calloc(n, sizeof(*r->texts));
	r->pairs = calloc(n, sizeof(*r->pairs));
	r->text_lens = calloc(n, sizeof(*r->text_lens));
	r->pair_lens = calloc(n, sizeof(*r->pair_lens));
	if (r->inputs == NULL || r->texts == NULL || r->pairs == NULL || r->text_lens == NULL ||
	    r->pair_lens == NULL)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t i = 0; i < n; i++)
		encoding_init(&r->inputs[i]);
	r->n_inputs = (int32_t)n;
	return 0;
}

int codec_check_count(size_t n, const char *field, const struct request_limits *lim,
                      struct api_error *e)
{
	if (n == 0)
		return codec_fail(e, API_ERR_EMPTY, "`%s` cannot be empty", field);
	if (lim->max_client_batch_size > 0 && n > (size_t)lim->max_client_batch_size) {
		e->cause = CAUSE_BATCH_SIZE;
		return codec_fail(e, API_ERR_VALIDATION,
		                  "batch size %zu > maximum allowed batch size %d", n,
		                  (int)lim->max_client_batch_size);
	}
	return 0;
}

void codec_set_text(struct request *r, size_t i, const json_t *s)
{
	r->texts[i] = json_string_value(s);
	r->text_lens[i] = json_string_length(s);
}

int codec_one_text(struct request *r, const json_t *s, struct api_error *e)
{
	if (codec_alloc_inputs(r, 1, e) != 0)
		return -1;
	codec_set_text(r, 0, s);
	return 0;
}

int codec_parse_ids(const struct model *m, const json_t *ids, const char *field, struct request *r,
                    size_t i, struct api_error *e)
{
	if (r->decode_ids == NULL) {
		r->decode_ids = calloc((size_t)r->n_inputs, sizeof(*r->decode_ids));
		r->decode_lens = calloc((size_t)r->n_inputs, sizeof(*r->decode_lens));
		if (r->decode_ids == NULL || r->decode_lens == NULL)
			return codec_fail(e, API_ERR_BACKEND, "out of memory");
	}
	size_t n = json_array_size(ids);
	r->decode_ids[i] = malloc((n ? n : 1) * sizeof(int32_t));
	if (r->decode_ids[i] == NULL)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	for (size_t j = 0; j < n; j++) {
		json_t *v = json_array_get(ids, j);
		json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
		if (id < 0 || id >= m->tok->vocab.n_tokens)
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`%s` must hold token ids from 0 to %d", field,
			                  (int)m->tok->vocab.n_tokens - 1);
		r->decode_ids[i][j] = (int32_t)id;
	}
	r->decode_lens[i] = (int32_t)n;
	return 0;
}

static int is_id_list(const json_t *v)
{
	if (!json_is_array(v))
		return 0;
	for (size_t j = 0; j < json_array_size(v); j++)
		if (!json_is_integer(json_array_get(v, j)))
			return 0;
	return 1;
}

int codec_parse_embed_inputs(const struct model *m, const json_t *inputs, const char *field,
                             const struct request_limits *lim, struct request *r,
                             struct api_error *e)
{
	if (inputs == NULL)
		return codec_fail(e, API_ERR_VALIDATION, "missing field `%s`", field);
	if (json_is_string(inputs))
		return codec_one_text(r, inputs, e);
	if (!json_is_array(inputs))
		return codec_fail(
		    e, API_ERR_VALIDATION,
		    "`%s` must be a string, a list of token ids, or a list of strings "
		    "and lists of token ids",
		    field);
	size_t n = json_array_size(inputs);
	if (n == 0)
		return codec_fail(e, API_ERR_EMPTY, "`%s` cannot be empty", field);
	if (json_is_integer(json_array_get(inputs, 0))) { /* one list of token ids */
		if (codec_alloc_inputs(r, 1, e) != 0)
			return -1;
		if (!is_id_list(inputs))
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`%s` must hold token ids from 0 to %d", field,
			                  (int)m->tok->vocab.n_tokens - 1);
		return codec_parse_ids(m, inputs, field, r, 0, e);
	}
	r->batch = 1;
	if (codec_check_count(n, field, lim, e) != 0 || codec_alloc_inputs(r, n, e) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(inputs, i);
		char name[64];
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		if (json_is_string(v))
			codec_set_text(r, i, v);
		else if (is_id_list(v)) {
			if (codec_parse_ids(m, v, name, r, i, e) != 0)
				return -1;
		} else
			return codec_fail(e, API_ERR_VALIDATION,
			                  "`%s` must be a string or a list of token ids", name);
	}
	return 0;
}

int codec_pick_prompt(const struct model *m, const json_t *holder, const struct request_limits *lim,
                      struct codec_encode *enc, struct api_error *e)
{
	const json_t *v = json_object_get(holder, "prompt_name");
	enc->prompt = lim->default_prompt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return codec_fail(e, API_ERR_VALIDATION, "`prompt_name` must be a string or null");
	const char *name = json_string_value(v);
	if (m->n_prompts == 0)
		return codec_fail(e, API_ERR_VALIDATION,
		                  "Input validation error: `prompt_name` is set to `%s` but no "
		                  "prompts were found in the Sentence Transformers configuration",
		                  name);
	enc->prompt = model_prompt(m, name);
	if (enc->prompt != NULL)
		return 0;
	char known[300] = "";
	size_t len = 0;
	for (int32_t i = 0; i < m->n_prompts && len < sizeof(known); i++)
		len += (size_t)snprintf(known + len, sizeof(known) - len, "%s\"%s\"", i ? ", " : "",
		                        m->prompt_names[i]);
	return codec_fail(e, API_ERR_VALIDATION,
	                  "Input validation error: `prompt_name` is set to `%s` but it was not "
	                  "found in the Sentence Transformers prompts. Available prompts: [%s]",
	                  name, known);
}

static int64_t utf8_chars(const char *s, size_t n)
{
	int64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Token ids as they are: no specials added, truncated or refused by
 * length like a text. */
static int encode_ids(const struct model *m, const struct encode_opts *opts, const int32_t *ids,
                      int32_t n, struct encoding *out, struct api_error *e)
{
	int32_t keep = n, from = 0;
	if (opts->max_length > 0 && n > opts->max_length) {
		if (!opts->truncate) {
			e->cause = CAUSE_TOKENIZATION;
			return codec_fail(e, API_ERR_VALIDATION,
			                  "Input validation error: `inputs` must have less than %d "
			                  "tokens. Given: %d",
			                  (int)opts->max_length, (int)n);
		}
		keep = opts->max_length;
		from = opts->side == TRUNCATION_LEFT ? n - keep : 0;
	}
	out->n = 0;
	if (encoding_reserve(out, keep) != 0)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	for (int32_t t = 0; t < keep; t++) {
		out->ids[t] = ids[from + t];
		out->type_ids[t] = 0;
		out->starts[t] = out->stops[t] = -1;
		out->seq[t] = 0;
		out->special[t] = (uint8_t)tokenizer_is_special_id(m->tok, ids[from + t]);
	}
	out->n = keep;
	out->n_untruncated = n;
	out->truncated = keep < n;
	return 0;
}

/* prompt + the text of slot i (or of its ids, decoded without specials)
 * into r->owned_texts[i]; texts[i] points there. 0 or -1. */
static int put_prompt(const struct model *m, const char *prompt, struct request *r, int32_t i,
                      struct api_error *e)
{
	char err[256];
	size_t np = strlen(prompt), nt = r->text_lens[i];
	const int32_t *ids = r->decode_ids ? r->decode_ids[i] : NULL;
	if (ids != NULL) {
		int n = tokenizer_decode(m->tok, ids, (size_t)r->decode_lens[i], 1, NULL, 0, err,
		                         sizeof(err));
		if (n < 0)
			return codec_fail(e, API_ERR_TOKENIZER, "%s", err);
		nt = (size_t)n;
	}
	if (r->owned_texts == NULL &&
	    (r->owned_texts = calloc((size_t)r->n_inputs, sizeof(char *))) == NULL)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	char *s = malloc(np + nt + 1);
	if (s == NULL)
		return codec_fail(e, API_ERR_BACKEND, "out of memory");
	r->owned_texts[i] = s;
	memcpy(s, prompt, np);
	if (ids != NULL)
		tokenizer_decode(m->tok, ids, (size_t)r->decode_lens[i], 1, s + np, nt + 1, err,
		                 sizeof(err));
	else
		memcpy(s + np, r->texts[i], nt);
	s[np + nt] = '\0';
	r->texts[i] = s;
	r->text_lens[i] = np + nt;
	return 0;
}

/* sentence-transformers leaves a prompt out of mean pooling when the
 * pooling config says include_prompt false: the first len(tokenize(prompt))
 * - 1 tokens, i.e. the leading special token and the prompt's own. */
static int prompt_skip(const struct model *m, const char *prompt, int32_t *skip,
                       struct api_error *e)
{
	char err[256];
	struct encoding enc;
	struct encode_opts o = {.add_special_tokens = 1, .max_length = 0};
	encoding_init(&enc);
	int rc =
	    tokenizer_encode(m->tok, prompt, strlen(prompt), NULL, 0, &o, &enc, err, sizeof(err));
	*skip = enc.n > 0 ? enc.n - 1 : 0;
	encoding_dispose(&enc);
	return rc == 0 ? 0 : codec_fail(e, API_ERR_TOKENIZER, "%s", err);
}

static int tokenize_one(const struct model *m, const struct encode_opts *opts, struct request *r,
                        int32_t i, struct api_error *e)
{
	char err[256];
	const int32_t *ids = r->decode_ids ? r->decode_ids[i] : NULL;
	if (ids != NULL && (r->owned_texts == NULL || r->owned_texts[i] == NULL))
		return encode_ids(m, opts, ids, r->decode_lens[i], &r->inputs[i], e);
	int rc = tokenizer_encode(m->tok, r->texts[i], r->text_lens[i], r->pairs[i],
	                          r->pair_lens[i], opts, &r->inputs[i], err, sizeof(err));
	if (rc == STATUS_ETOOLONG || rc == STATUS_EINVAL) {
		e->cause = CAUSE_TOKENIZATION;
		return codec_fail(e, API_ERR_VALIDATION, "Input validation error: %s", err);
	}
	if (rc != 0)
		return codec_fail(e, API_ERR_TOKENIZER, "%s", err);
	return 0;
}

int codec_tokenize_all(const struct model *m, const struct codec_encode *enc, struct request *r,
                       struct api_error *e)
{
	const char *prompt =
	    enc->prompt_routes && enc->prompt && enc->prompt[0] ? enc->prompt : NULL;
	int32_t skip = 0;
	int pooled = route_work(r->route) == WORK_POOLED;
	if (prompt != NULL && pooled && !m->include_prompt && m->pooling == POOLING_MEAN) {
		if (prompt_skip(m, prompt, &skip, e) != 0)
			return -1;
		if ((r->pool_skip = calloc((size_t)r->n_inputs, sizeof(int32_t))) == NULL)
			return codec_fail(e, API_ERR_BACKEND, "out of memory");
	}
	r->n_tokens = 0;
	r->n_chars = 0;
	for (int32_t i = 0; i < r->n_inputs; i++) {
		const int32_t *ids = r->decode_ids ? r->decode_ids[i] : NULL;
		size_t n_in = ids ? (size_t)r->decode_lens[i] : r->text_lens[i];
		r->n_chars +=
		    ids ? (int64_t)n_in
		        : utf8_chars(r->texts[i], r->text_lens[i]) +
		              (r->pairs[i] ? utf8_chars(r->pairs[i], r->pair_lens[i]) : 0);
		if (n_in == 0 && (r->pairs[i] == NULL || r->pair_lens[i] == 0))
			return codec_fail(e, API_ERR_EMPTY,
			                  "Input validation error: `inputs` cannot be empty");
		if (prompt != NULL && r->pairs[i] == NULL && put_prompt(m, prompt, r, i, e) != 0)
			return -1;
		if (tokenize_one(m, &enc->opts, r, i, e) != 0)
			return -1;
		if (r->pool_skip != NULL)
			r->pool_skip[i] = skip;
		if (r->inputs[i].n > INT32_MAX - r->n_tokens)
			return codec_fail(e, API_ERR_VALIDATION, "too many tokens in one request");
		r->n_tokens += r->inputs[i].n;
	}
	return 0;
}

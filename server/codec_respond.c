/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finished requests into text-embeddings-inference's response shapes (see
 * codec.h): embeddings, hidden states, label scores, tokens, rerank and
 * similarity scores, decoded text and OpenAI's embedding list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ner.h"
#include "realfmt.h"

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
		json_array_append_new(
		    list, json_pack("{s:s, s:f}", "label", label, "score", (double)s[i].score));
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
			/* Byte-level pieces may hold part of a character: widen the span to
			 * whole characters, as Hugging Face's fast tokenizers report it. */
			const char *src = en->seq[t] == 1 ? r->pairs[i] : r->texts[i];
			size_t n_src = en->seq[t] == 1 ? r->pair_lens[i] : r->text_lens[i];
			size_t start = (size_t)en->starts[t], stop = (size_t)en->stops[t];
			while (start > 0 && ((unsigned char)src[start] & 0xc0) == 0x80)
				start--;
			while (stop < n_src && ((unsigned char)src[stop] & 0xc0) == 0x80)
				stop++;
			tok = json_pack("{s:i, s:s%, s:b, s:i, s:i}", "id", (int)en->ids[t], "text",
			                src + start, stop - start, "special", 0, "start",
			                (int)start, "stop", (int)stop);
		}
		if (tok == NULL || json_array_append_new(list, tok) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* Base64 of the little-endian float32 bytes, as OpenAI's API sends them. */
static json_t *base64_floats(const float *x, size_t n)
{
	static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)x;
	size_t len = n * sizeof(float), o = 0;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = A[(v >> 18) & 63];
		out[o++] = A[(v >> 12) & 63];
		out[o++] = i + 1 < len ? A[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? A[v & 63] : '=';
	}
	json_t *s = json_stringn(out, o);
	free(out);
	return s;
}

static json_t *openai(const struct model *m, const struct request *r)
{
	size_t h = (size_t)m->enc.hidden, dims = r->dimensions > 0 ? (size_t)r->dimensions : h;
	json_t *data = json_array();
	float *v = malloc(dims * sizeof(float));
	for (int32_t i = 0; data != NULL && v != NULL && i < r->n_inputs; i++) {
		/* Shortened embeddings are normalised again, as OpenAI's are. */
		if (dims < h)
			l2_normalize(v, r->out + (size_t)i * h, dims);
		else
			memcpy(v, r->out + (size_t)i * h, h * sizeof(float));
		json_t *emb = r->base64 ? base64_floats(v, dims) : float_array(v, dims);
		json_array_append_new(data, json_pack("{s:s, s:o*, s:i}", "object", "embedding",
		                                      "embedding", emb, "index", (int)i));
	}
	free(v);
	return json_pack("{s:s, s:o*, s:s, s:{s:i, s:i}}", "object", "list", "data", data, "model",
	                 r->model_name ? r->model_name : "smolserve", "usage", "prompt_tokens",
	                 (int)r->n_tokens, "total_tokens", (int)r->n_tokens);
}

/* /embed's vectors: the first `dimensions` values (Matryoshka), then
 * normalised if the request asked (TEI: truncate, then normalize). */
static size_t embed_dims(const struct request *r, size_t h)
{
	return r->dimensions > 0 ? (size_t)r->dimensions : h;
}

/* 1 if a shortened vector must be normalised again (into a buffer of
 * embed_dims floats: embed_vector's tmp). */
static int embed_renormalises(const struct request *r, size_t h)
{
	return embed_dims(r, h) != h && r->normalize;
}

/* Vector i (embed_dims floats): the engine's row, or tmp holding it
 * shortened and normalised again (tmp unused unless embed_renormalises). */
static const float *embed_vector(const struct request *r, int32_t i, size_t h, float *tmp)
{
	const float *x = r->out + (size_t)i * h;
	if (!embed_renormalises(r, h))
		return x;
	l2_normalize(tmp, x, embed_dims(r, h)); /* the engine's full-length norm rescales away */
	return tmp;
}

static json_t *embedding(const struct request *r, int32_t i, size_t h)
{
	float *tmp = NULL;
	if (embed_renormalises(r, h) && (tmp = malloc(embed_dims(r, h) * sizeof(float))) == NULL)
		return NULL;
	json_t *a = float_array(embed_vector(r, i, h, tmp), embed_dims(r, h));
	free(tmp);
	return a;
}

static json_t *rerank(const struct request *r)
{
	struct scored *s = malloc((size_t)(r->n_inputs ? r->n_inputs : 1) * sizeof(*s));
	if (s == NULL)
		return NULL;
	for (int32_t i = 0; i < r->n_inputs; i++)
		s[i] = (struct scored){r->out[i], i};
	qsort(s, (size_t)r->n_inputs, sizeof(s[0]), by_score_desc);
	json_t *list = json_array();
	for (int32_t i = 0; list != NULL && i < r->n_inputs; i++) {
		json_t *item =
		    json_pack("{s:i, s:f}", "index", (int)s[i].label, "score", (double)s[i].score);
		if (r->return_text)
			json_object_set_new(
			    item, "text",
			    json_stringn(r->pairs[s[i].label], r->pair_lens[s[i].label]));
		json_array_append_new(list, item);
	}
	free(s);
	return list;
}

static json_t *similarity(const struct model *m, const struct request *r)
{
	size_t h = (size_t)m->enc.hidden;
	json_t *list = json_array();
	for (int32_t i = 1; list != NULL && i < r->n_inputs; i++) {
		double dot = 0.0; /* both sides are L2-normalised: cosine */
		for (size_t k = 0; k < h; k++)
			dot += (double)r->out[k] * (double)r->out[(size_t)i * h + k];
		json_array_append_new(list, json_real(dot));
	}
	return list;
}

static json_t *decode(const struct model *m, const struct request *r)
{
	json_t *list = json_array();
	for (int32_t i = 0; list != NULL && i < r->n_inputs; i++) {
		char err[128];
		int n = tokenizer_decode(m->tok, r->decode_ids[i], (size_t)r->decode_lens[i],
		                         r->skip_special, NULL, 0, err, sizeof(err));
		char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
		if (text == NULL) {
			json_decref(list);
			return NULL;
		}
		tokenizer_decode(m->tok, r->decode_ids[i], (size_t)r->decode_lens[i],
		                 r->skip_special, text, (size_t)n + 1, err, sizeof(err));
		json_array_append_new(list, json_stringn(text, (size_t)n));
		free(text);
	}
	return list;
}

static int ignored(const struct request *r, const char *label)
{
	for (int32_t i = 0; i < r->n_ignore; i++)
		if (strcmp(r->ignore_labels[i], label) == 0)
			return 1;
	return 0;
}

/* One input's entities, as the token-classification pipeline lists them. */
static json_t *entities(const struct model *m, const struct request *r, int32_t i, size_t row)
{
	const struct encoding *en = &r->inputs[i];
	size_t nl = (size_t)m->n_labels;
	float *logits = malloc(((size_t)en->n * nl + 1) * sizeof(float));
	struct ner_entity *ents = NULL;
	int32_t n = 0;
	if (logits == NULL)
		return NULL;
	memcpy(logits, r->out + row * nl, (size_t)en->n * nl * sizeof(float));
	int rc = ner_entities(m, r->texts[i], r->text_lens[i], en, logits,
	                      (enum aggregation)r->aggregation, &ents, &n);
	free(logits);
	if (rc != 0)
		return NULL;
	json_t *list = json_array();
	for (int32_t k = 0; list != NULL && k < n; k++) {
		const struct ner_entity *x = &ents[k];
		if (ignored(r, x->label_text))
			continue;
		json_t *o =
		    r->aggregation == AGG_NONE
		        ? json_pack("{s:s, s:f, s:i, s:s, s:i, s:i}", "entity", x->label_text,
		                    "score", (double)x->score, "index", (int)x->index, "word",
		                    x->word, "start", (int)x->start, "end", (int)x->end)
		        : json_pack("{s:s, s:f, s:s, s:i, s:i}", "entity_group", x->label_text,
		                    "score", (double)x->score, "word", x->word, "start",
		                    (int)x->start, "end", (int)x->end);
		json_array_append_new(list, o);
	}
	ner_entities_free(ents, n);
	return list;
}

static json_t *predict_tokens(const struct model *m, const struct request *r)
{
	json_t *out = json_array();
	size_t row = 0;
	for (int32_t i = 0; out != NULL && i < r->n_inputs; i++) {
		json_t *list = entities(m, r, i, row);
		row += (size_t)r->inputs[i].n;
		if (list == NULL) {
			json_decref(out);
			return NULL;
		}
		if (!r->batch) {
			json_decref(out);
			return list;
		}
		json_array_append_new(out, list);
	}
	return out;
}

json_t *codec_respond(const struct model *m, const struct request *r)
{
	switch (r->route) {
	case ROUTE_RERANK:
		return rerank(r);
	case ROUTE_SIMILARITY:
		return similarity(m, r);
	case ROUTE_DECODE:
		return decode(m, r);
	case ROUTE_OPENAI:
		return openai(m, r);
	case ROUTE_PREDICT_TOKENS:
		return predict_tokens(m, r);
	default:
		break;
	}
	size_t h = (size_t)m->enc.hidden, off = 0;
	json_t *out = json_array();
	for (int32_t i = 0; out != NULL && i < r->n_inputs; i++) {
		json_t *item = NULL;
		switch (r->route) {
		case ROUTE_EMBED:
			item = embedding(r, i, h);
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

/* One float as jansson writes it with JSON_REAL_PRECISION(9) (realfmt.h),
 * so both paths answer byte for byte alike; NaN or infinity fails b. */
static void append_real(struct strbuf *b, float v)
{
	char buf[REALFMT_MAX];
	int n = realfmt_float(buf, v);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	strbuf_append(b, buf, (size_t)n);
}

static void append_floats(struct strbuf *b, const float *x, size_t n)
{
	strbuf_append(b, "[", 1);
	for (size_t i = 0; i < n && !b->failed; i++) {
		if (i > 0)
			strbuf_append(b, ",", 1);
		append_real(b, x[i]);
	}
	strbuf_append(b, "]", 1);
}

/* /embed's answer (embedding() for each input) written directly: a
 * response's hundreds of floats without a jansson value and a printf each. */
static int embed_text(const struct request *r, size_t h, struct strbuf *out)
{
	float *tmp = NULL;
	if (embed_renormalises(r, h) && (tmp = malloc(embed_dims(r, h) * sizeof(float))) == NULL)
		return -1;
	strbuf_append(out, "[", 1);
	for (int32_t i = 0; i < r->n_inputs && !out->failed; i++) {
		if (i > 0)
			strbuf_append(out, ",", 1);
		append_floats(out, embed_vector(r, i, h, tmp), embed_dims(r, h));
	}
	strbuf_append(out, "]", 1);
	free(tmp);
	return out->failed ? -1 : 0;
}

int codec_respond_text(const struct model *m, const struct request *r, struct strbuf *out)
{
	size_t h = (size_t)m->enc.hidden, off = 0;
	if (r->route == ROUTE_EMBED)
		return embed_text(r, h, out);
	if (r->route == ROUTE_EMBED_ALL) { /* the answer that grows with the input */
		strbuf_append(out, "[", 1);
		for (int32_t i = 0; i < r->n_inputs && !out->failed; i++) {
			if (i > 0)
				strbuf_append(out, ",", 1);
			strbuf_append(out, "[", 1);
			for (int32_t t = 0; t < r->inputs[i].n && !out->failed; t++, off += h) {
				if (t > 0)
					strbuf_append(out, ",", 1);
				append_floats(out, r->out + off, h);
			}
			strbuf_append(out, "]", 1);
		}
		strbuf_append(out, "]", 1);
		return out->failed ? -1 : 0;
	}
	json_t *v = codec_respond(m, r);
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(v);
	if (text == NULL)
		return -1;
	strbuf_append(out, text, strlen(text));
	free(text);
	return out->failed ? -1 : 0;
}

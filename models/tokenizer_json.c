/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads Hugging Face tokenizers' tokenizer.json into the plain C
 * configuration of core/tokenize/pipeline.h (core knows no JSON). The
 * format is what the library (npm tokenizers 0.23.2, the one TEI uses)
 * reads, older spellings included: Metaspace's add_prefix_space beside
 * prepend_scheme/split, BPE merges as "a b" strings or [a, b] pairs,
 * missing byte_fallback/ignore_merges/fuse_unk as false, a model without
 * "type" told by its fields. Sequences of normalizers, pre-tokenizers,
 * post-processors and decoders are flattened. Anything else, or a component
 * smolserve does not run, is an error naming the component and its place.
 * This file reads the model, the added tokens and the whole;
 * tokenizer_json_parts.c the components around the model.
 */
#include "tokenizer_json.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "pipeline.h"
#include "status.h"
#include "tokenizer_json-impl.h"
#include "tokenizer_load.h"

#define FILE_PREFIX "tokenizer.json: "

/* See tokenizer_json-impl.h. */
void *tj_alloc(struct tj *t, size_t n)
{
	void **b = realloc(t->blocks, (t->n_blocks + 1) * sizeof(*b));
	if (b == NULL)
		return NULL;
	t->blocks = b;
	void *p = calloc(1, n ? n : 1);
	if (p != NULL)
		t->blocks[t->n_blocks++] = p;
	return p;
}

static void tj_dispose(struct tj *t)
{
	for (size_t i = 0; i < t->n_blocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	free(t->added);
	free(t->merges);
	free(t->merge_text);
	free(t->scores);
	vocab_dispose(&t->vocab);
}

int tj_bad(struct tj *t, const char *where, const char *what)
{
	return status_fail(t->err, t->n_err, STATUS_EFORMAT, "tokenizer.json: %s: %s", where, what);
}

int tj_nomem(struct tj *t)
{
	return status_fail(t->err, t->n_err, STATUS_ENOMEM, "out of memory reading tokenizer.json");
}

int tj_unsupported(struct tj *t, const char *where, const char *type)
{
	return status_fail(t->err, t->n_err, STATUS_EUNSUPPORTED,
	                   "tokenizer.json: %s: type \"%.64s\" is not supported by smolserve",
	                   where, type);
}

/* --- model --------------------------------------------------------------------- */

/* "a b" merges: split at the one space (convert_merges_to_hashmap). */
static int legacy_merges(struct tj *t, const json_t *list, size_t n)
{
	size_t total = 0, at = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(list, i);
		if (!json_is_string(m) || strlen(json_string_value(m)) != json_string_length(m))
			return tj_bad(t, "BPE",
			              "merges must be all \"a b\" strings or all [a, b] pairs");
		total += json_string_length(m) + 1;
	}
	if ((t->merge_text = malloc(total ? total : 1)) == NULL)
		return tj_nomem(t);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(list, i));
		size_t len = strlen(s);
		const char *sp = strchr(s, ' ');
		if (sp == NULL || strchr(sp + 1, ' ') != NULL) {
			char what[96];
			snprintf(what, sizeof(what), "merge %zu is not two tokens \"a b\"", i);
			return tj_bad(t, "BPE", what);
		}
		char *d = t->merge_text + at;
		memcpy(d, s, len + 1);
		d[sp - s] = '\0';
		t->merges[i] = (struct merge_pair){d, d + (sp - s) + 1};
		at += len + 1;
	}
	return 0;
}

static int read_merges(struct tj *t, const json_t *o, struct model_cfg *m)
{
	const json_t *list = json_object_get(o, "merges");
	size_t n = json_array_size(list);
	if (!json_is_array(list))
		return tj_bad(t, "BPE", "merges must be a list");
	if ((t->merges = calloc(n ? n : 1, sizeof(*t->merges))) == NULL)
		return tj_nomem(t);
	m->merges = t->merges;
	m->n_merges = n;
	if (n > 0 && json_is_string(json_array_get(list, 0)))
		return legacy_merges(t, list, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *pr = json_array_get(list, i);
		const json_t *a = json_array_get(pr, 0), *b = json_array_get(pr, 1);
		if (json_array_size(pr) != 2 || !json_is_string(a) || !json_is_string(b) ||
		    strlen(json_string_value(a)) != json_string_length(a) ||
		    strlen(json_string_value(b)) != json_string_length(b))
			return tj_bad(t, "BPE",
			              "merges must be all \"a b\" strings or all [a, b] pairs");
		t->merges[i] = (struct merge_pair){json_string_value(a), json_string_value(b)};
	}
	return 0;
}

/* Unigram's vocab: [[piece, score], ...]. */
static int read_unigram_vocab(struct tj *t, const json_t *list)
{
	size_t n = json_array_size(list);
	if (!json_is_array(list) || n == 0 || n >= INT32_MAX / 2)
		return tj_bad(t, "Unigram", "vocab must be a non-empty list of [piece, score]");
	if ((t->scores = malloc(n * sizeof(*t->scores))) == NULL)
		return tj_nomem(t);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(list, i), *p = json_array_get(e, 0),
		             *sc = json_array_get(e, 1);
		int rc;
		if (json_array_size(e) != 2 || !json_is_string(p) || !json_is_number(sc) ||
		    strlen(json_string_value(p)) != json_string_length(p)) {
			char what[96];
			snprintf(what, sizeof(what), "vocab[%zu] is not [piece, score]", i);
			return tj_bad(t, "Unigram", what);
		}
		t->scores[i] = json_number_value(sc);
		if (vocab_find(&t->vocab, json_string_value(p), json_string_length(p)) >= 0) {
			/* the library would give the piece its last id: not supported */
			char what[128];
			snprintf(what, sizeof(what), "vocab[%zu] \"%.48s\" is listed twice", i,
			         json_string_value(p));
			return tj_bad(t, "Unigram", what);
		}
		if ((rc = vocab_add(&t->vocab, json_string_value(p), json_string_length(p))) != 0)
			return rc == STATUS_ENOMEM ? tj_nomem(t)
			                           : tj_bad(t, "Unigram", "bad piece");
	}
	return 0;
}

/* The model's kind: its "type", or, in files without one, its fields. */
static const char *model_type(const json_t *o)
{
	const char *type = tj_type(o);
	if (type != NULL)
		return type;
	if (json_is_array(json_object_get(o, "vocab")))
		return "Unigram";
	if (json_object_get(o, "merges") != NULL)
		return "BPE";
	if (json_object_get(o, "max_input_chars_per_word") != NULL)
		return "WordPiece";
	return NULL;
}

static int read_model(struct tj *t, const json_t *o, struct model_cfg *m)
{
	const char *type = model_type(o);
	json_int_t k;
	int rc;
	memset(m, 0, sizeof(*m));
	m->unk_id = -1;
	if (!json_is_object(o) || type == NULL)
		return tj_bad(t, "model", "must be an object with a \"type\"");
	if (strcmp(type, "WordPiece") == 0) {
		m->kind = MODEL_WORDPIECE;
		if ((rc = tj_str(t, o, "unk_token", 0, &m->unk_token, type)) != 0 ||
		    (rc = tj_str(t, o, "continuing_subword_prefix", 0,
		                 &m->continuing_subword_prefix, type)) != 0 ||
		    (rc = tj_int(t, o, "max_input_chars_per_word", 100, INT32_MAX, &k, type)) != 0)
			return rc;
		if (json_object_get(o, "unk_token") == NULL)
			m->unk_token = "[UNK]";
		if (json_object_get(o, "continuing_subword_prefix") == NULL)
			m->continuing_subword_prefix = "##";
		m->max_input_chars_per_word = (int32_t)k;
	} else if (strcmp(type, "BPE") == 0) {
		const json_t *dropout = json_object_get(o, "dropout");
		m->kind = MODEL_BPE;
		if (dropout != NULL && !json_is_null(dropout) &&
		    !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
			return status_fail(t->err, t->n_err, STATUS_EUNSUPPORTED,
			                   "tokenizer.json: BPE: dropout must be null (a random "
			                   "tokenization is not served)");
		if ((rc = tj_str(t, o, "unk_token", 0, &m->unk_token, type)) != 0 ||
		    (rc = tj_str(t, o, "continuing_subword_prefix", 0,
		                 &m->continuing_subword_prefix, type)) != 0 ||
		    (rc = tj_str(t, o, "end_of_word_suffix", 0, &m->end_of_word_suffix, type)) !=
		        0 ||
		    (rc = tj_bool(t, o, "fuse_unk", 0, &m->fuse_unk, type)) != 0 ||
		    (rc = tj_bool(t, o, "byte_fallback", 0, &m->byte_fallback, type)) != 0 ||
		    (rc = tj_bool(t, o, "ignore_merges", 0, &m->ignore_merges, type)) != 0 ||
		    (rc = read_merges(t, o, m)) != 0)
			return rc;
	} else if (strcmp(type, "Unigram") == 0) {
		m->kind = MODEL_UNIGRAM;
		if ((rc = tj_int(t, o, "unk_id", -1, INT32_MAX, &k, type)) != 0 ||
		    (rc = tj_bool(t, o, "byte_fallback", 0, &m->byte_fallback, type)) != 0 ||
		    (rc = read_unigram_vocab(t, json_object_get(o, "vocab"))) != 0)
			return rc;
		m->unk_id = (int32_t)k;
		m->scores = t->scores;
		m->vocab = &t->vocab;
		return 0;
	} else {
		return tj_unsupported(t, "model", type);
	}
	if ((rc = vocab_from_object(json_object_get(o, "vocab"), &t->vocab,
	                            "tokenizer.json: model.vocab", t->err, t->n_err)) != 0)
		return rc;
	m->vocab = &t->vocab;
	return 0;
}

/* --- added tokens and the whole ------------------------------------------------ */

static int read_added(struct tj *t, const json_t *list, struct pipeline_cfg *cfg)
{
	size_t n = json_array_size(list);
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return tj_bad(t, "added_tokens", "must be a list");
	if ((t->added = calloc(n ? n : 1, sizeof(*t->added))) == NULL)
		return tj_nomem(t);
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(list, i);
		struct added_cfg *a = &t->added[i];
		json_int_t id;
		int rc;
		char where[48];
		snprintf(where, sizeof(where), "added_tokens[%zu]", i);
		if (!json_is_object(o))
			return tj_bad(t, where, "must be an object");
		if ((rc = tj_str(t, o, "content", 1, &a->content, where)) != 0 ||
		    (rc = tj_int(t, o, "id", 0, INT32_MAX, &id, where)) != 0 ||
		    (rc = tj_bool(t, o, "special", 0, &a->special, where)) != 0 ||
		    (rc = tj_bool(t, o, "lstrip", 0, &a->lstrip, where)) != 0 ||
		    (rc = tj_bool(t, o, "rstrip", 0, &a->rstrip, where)) != 0 ||
		    (rc = tj_bool(t, o, "single_word", 0, &a->single_word, where)) != 0 ||
		    (rc = tj_bool(t, o, "normalized", 1, &a->normalized, where)) != 0)
			return rc;
		if (!utf8_valid(a->content, strlen(a->content)))
			return tj_bad(t, where, "content is not valid UTF-8");
		a->id = (int32_t)id;
	}
	cfg->added = t->added;
	cfg->n_added = n;
	return 0;
}

/* A component that may be null: read_fn on it, or nothing. */
static int read_opt(struct tj *t, const json_t *root, const char *key,
                    int (*fn)(struct tj *, const json_t *, int))
{
	const json_t *o = json_object_get(root, key);
	return o == NULL || json_is_null(o) ? 0 : fn(t, o, 0);
}

/* See tokenizer_json.h. */
int tokenizer_json_build_parsed(const json_t *root, const struct tokenizer_json_hints *hints,
                                struct tokenizer **out, char *err, size_t n_err)
{
	struct tj *t = calloc(1, sizeof(*t));
	struct pipeline_cfg cfg;
	int rc;

	*out = NULL;
	if (t == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM,
		                   "out of memory reading tokenizer.json");
	t->err = err;
	t->n_err = n_err;
	memset(&cfg, 0, sizeof(cfg));
	if (!json_is_object(root)) {
		rc = tj_bad(t, "top level", "not an object");
		goto done;
	}
	if ((rc = read_opt(t, root, "normalizer", tj_read_normalizer)) != 0 ||
	    (rc = read_opt(t, root, "pre_tokenizer", tj_read_pretok)) != 0 ||
	    (rc = read_opt(t, root, "post_processor", tj_read_post)) != 0 ||
	    (rc = read_opt(t, root, "decoder", tj_read_decoder)) != 0 ||
	    (rc = read_model(t, json_object_get(root, "model"), &cfg.model)) != 0 ||
	    (rc = read_added(t, json_object_get(root, "added_tokens"), &cfg)) != 0)
		goto done;
	const json_t *trunc = json_object_get(root, "truncation");
	json_int_t max = 0;
	if (json_is_object(trunc) &&
	    (rc = tj_int(t, trunc, "max_length", 0, INT32_MAX, &max, "truncation")) != 0)
		goto done;
	cfg.norms = t->norms;
	cfg.n_norms = t->n_norms;
	cfg.pretoks = t->pretoks;
	cfg.n_pretoks = t->n_pretoks;
	cfg.posts = t->posts;
	cfg.n_posts = t->n_posts;
	cfg.decoders = t->decoders;
	cfg.n_decoders = t->n_decoders;
	cfg.mask_token = hints != NULL ? hints->mask_token : NULL;
	cfg.pad_token = hints != NULL ? hints->pad_token : NULL;
	cfg.model_max_length =
	    hints != NULL && hints->model_max_length > 0 ? hints->model_max_length : (int32_t)max;
	if ((rc = pipeline_create(&cfg, out, err, n_err)) != 0 && rc != STATUS_ENOMEM &&
	    n_err > sizeof(FILE_PREFIX) && strncmp(err, FILE_PREFIX, strlen(FILE_PREFIX)) != 0) {
		size_t k = strlen(FILE_PREFIX), n_msg = strnlen(err, n_err - 1);
		n_msg = n_msg + k < n_err ? n_msg : n_err - 1 - k;
		memmove(err + k, err, n_msg); /* core's message, said of this file */
		memcpy(err, FILE_PREFIX, k);
		err[k + n_msg] = '\0';
	}
done:
	tj_dispose(t);
	free(t);
	return rc;
}

/* See tokenizer_json.h. */
int tokenizer_json_build(const char *text, size_t n, const struct tokenizer_json_hints *hints,
                         struct tokenizer **out, char *err, size_t n_err)
{
	json_error_t jerr;
	memset(&jerr, 0, sizeof(jerr));
	*out = NULL;
	json_t *root = json_loadb(text, n, 0, &jerr);
	if (root == NULL) {
		/* jansson leaves the text empty for some failed mallocs */
		int oom = json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0];
		return status_fail(err, n_err, oom ? STATUS_ENOMEM : STATUS_EFORMAT,
		                   "tokenizer.json: line %d: %s", jerr.line,
		                   oom ? "out of memory" : jerr.text);
	}
	int rc = tokenizer_json_build_parsed(root, hints, out, err, n_err);
	json_decref(root);
	return rc;
}

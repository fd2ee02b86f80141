/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json's components around the model, each read into its plain
 * configuration (core/tokenize/pipeline.h): normalizers, pre-tokenizers,
 * post-processors and decoders, Sequences flattened, with the typed-field
 * readers tokenizer_json.c shares. A type smolserve does not run is
 * STATUS_EUNSUPPORTED naming it; a malformed field STATUS_EFORMAT naming
 * the component and the field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "pipeline.h"
#include "status.h"
#include "tokenizer_json-impl.h"

/* --- typed fields -------------------------------------------------------- */

/* A boolean field, def when absent or null. */
int tj_bool(struct tj *t, const json_t *o, const char *key, int def, int *out, const char *where)
{
	const json_t *v = json_object_get(o, key);
	char what[128];
	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(what, sizeof(what), "%s must be true or false", key);
		return tj_bad(t, where, what);
	}
	*out = json_is_true(v);
	return 0;
}

/* A string field (NULL if absent or null; an error if required). Strings
 * with a NUL inside are refused: nothing in core could hold them. */
int tj_str(struct tj *t, const json_t *o, const char *key, int required, const char **out,
           const char *where)
{
	const json_t *v = json_object_get(o, key);
	char what[128];
	*out = NULL;
	if ((v == NULL || json_is_null(v)) && !required)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(what, sizeof(what), "%s must be a string (without NUL)", key);
		return tj_bad(t, where, what);
	}
	*out = json_string_value(v);
	return 0;
}

/* A non-negative integer field, def when absent. */
int tj_int(struct tj *t, const json_t *o, const char *key, json_int_t def, json_int_t max,
           json_int_t *out, const char *where)
{
	const json_t *v = json_object_get(o, key);
	char what[128];
	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		snprintf(what, sizeof(what), "%s must be an integer from 0 to %lld", key,
		         (long long)max);
		return tj_bad(t, where, what);
	}
	*out = json_integer_value(v);
	return 0;
}

/* One character (Rust's char): a string of exactly one code point. */
static int tj_char(struct tj *t, const json_t *o, const char *key, int32_t *out, const char *where)
{
	const char *s;
	char what[128];
	int rc = tj_str(t, o, key, 1, &s, where);
	if (rc != 0)
		return rc;
	size_t n = strlen(s);
	utf8proc_int32_t cp = -1;
	utf8proc_ssize_t k =
	    n > 0 ? utf8proc_iterate((const uint8_t *)s, (utf8proc_ssize_t)n, &cp) : 0;
	if (k <= 0 || (size_t)k != n) {
		snprintf(what, sizeof(what), "%s must be exactly one character", key);
		return tj_bad(t, where, what);
	}
	*out = cp;
	return 0;
}

/* {"String": s} or {"Regex": r} (Replace, Split). */
static int tj_pattern(struct tj *t, const json_t *o, const char **pat, int *is_regex,
                      const char *where)
{
	const json_t *p = json_object_get(o, "pattern");
	const json_t *str = json_object_get(p, "String"), *re = json_object_get(p, "Regex");
	if (!json_is_object(p) || json_object_size(p) != 1 || (str == NULL) == (re == NULL))
		return tj_bad(t, where, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
	*is_regex = re != NULL;
	return tj_str(t, p, re != NULL ? "Regex" : "String", 1, pat, where);
}

static int tj_behavior(struct tj *t, const json_t *o, enum split_behavior def,
                       enum split_behavior *out, const char *where)
{
	static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
	                                    "MergedWithNext", "Contiguous"};
	const char *s;
	int rc = tj_str(t, o, "behavior", 0, &s, where);
	*out = def;
	if (rc != 0 || s == NULL)
		return rc;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum split_behavior)i;
			return 0;
		}
	return tj_bad(t, where,
	              "behavior must be Removed, Isolated, MergedWithPrevious, "
	              "MergedWithNext or Contiguous");
}

/* Metaspace's scheme from prepend_scheme (default always) and the older
 * add_prefix_space, as the library checks them: add_prefix_space false
 * needs prepend_scheme "never" spelled out beside it. */
static int tj_scheme(struct tj *t, const json_t *o, enum prepend_scheme *out, const char *where)
{
	const char *s;
	int rc = tj_str(t, o, "prepend_scheme", 0, &s, where), aps;
	*out = PREPEND_ALWAYS;
	if (rc != 0)
		return rc;
	if (s != NULL && strcmp(s, "first") == 0)
		*out = PREPEND_FIRST;
	else if (s != NULL && strcmp(s, "never") == 0)
		*out = PREPEND_NEVER;
	else if (s != NULL && strcmp(s, "always") != 0)
		return tj_bad(t, where, "prepend_scheme must be always, first or never");
	if ((rc = tj_bool(t, o, "add_prefix_space", 1, &aps, where)) != 0)
		return rc;
	if (!aps && *out != PREPEND_NEVER)
		return tj_bad(t, where, "add_prefix_space does not match declared prepend_scheme");
	return 0;
}

const char *tj_type(const json_t *o)
{
	return json_string_value(json_object_get(o, "type"));
}

/* base64 (standard alphabet, padding optional) into a tj block. */
static int base64_decode(struct tj *t, const char *s, uint8_t **out, size_t *n_out,
                         const char *where)
{
	size_t n = strlen(s), k = 0;
	uint32_t acc = 0;
	int bits = 0;
	uint8_t *p = tj_alloc(t, n / 4 * 3 + 3);
	if (p == NULL)
		return tj_nomem(t);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int v = c >= 'A' && c <= 'Z'   ? c - 'A'
		        : c >= 'a' && c <= 'z' ? c - 'a' + 26
		        : c >= '0' && c <= '9' ? c - '0' + 52
		        : c == '+'             ? 62
		        : c == '/'             ? 63
		                               : -1;
		if (c == '=')
			break;
		if (v < 0)
			return tj_bad(t, where, "precompiled_charsmap is not base64");
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[k++] = (uint8_t)(acc >> bits);
		}
	}
	*out = p;
	*n_out = k;
	return 0;
}

/* A Sequence: fn on each component of its list o[key], one level deeper. */
static int read_sequence(struct tj *t, const json_t *o, const char *key, const char *where,
                         int depth, int (*fn)(struct tj *, const json_t *, int))
{
	const json_t *list = json_object_get(o, key), *v;
	size_t i;
	int rc;
	char what[64];
	if (depth >= MAX_NESTING)
		return tj_bad(t, where, "Sequences nested too deep");
	if (!json_is_array(list)) {
		snprintf(what, sizeof(what), "%s must be a list", key);
		return tj_bad(t, where, what);
	}
	for (i = 0; i < json_array_size(list); i++) {
		v = json_array_get(list, i);
		if ((rc = fn(t, v, depth + 1)) != 0)
			return rc;
	}
	return 0;
}

/* --- normalizers ------------------------------------------------------------ */

int tj_read_normalizer(struct tj *t, const json_t *o, int depth)
{
	static const char *const simple[] = {"NFC",       "NFD",          "NFKC", "NFKD",
	                                     "Lowercase", "StripAccents", "Nmt"};
	static const enum norm_kind simple_kind[] = {
	    NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE, NORM_STRIP_ACCENTS, NORM_NMT};
	const char *type = tj_type(o), *where = "normalizer";
	int rc = 0;
	if (!json_is_object(o) || type == NULL)
		return tj_bad(t, where, "every normalizer must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0)
		return read_sequence(t, o, "normalizers", "normalizer Sequence", depth,
		                     tj_read_normalizer);
	if (t->n_norms == MAX_COMPONENTS)
		return tj_bad(t, where, "too many normalizers");
	struct norm_cfg *n = &t->norms[t->n_norms];
	memset(n, 0, sizeof(*n));
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcmp(type, simple[i]) == 0) {
			n->kind = simple_kind[i];
			t->n_norms++;
			return 0;
		}
	if (strcmp(type, "BertNormalizer") == 0) {
		const json_t *sa = json_object_get(o, "strip_accents");
		n->kind = NORM_BERT;
		if ((rc = tj_bool(t, o, "clean_text", 1, &n->clean_text, "BertNormalizer")) != 0 ||
		    (rc = tj_bool(t, o, "handle_chinese_chars", 1, &n->handle_chinese_chars,
		                  "BertNormalizer")) != 0 ||
		    (rc = tj_bool(t, o, "lowercase", 1, &n->lowercase, "BertNormalizer")) != 0)
			return rc;
		if (sa != NULL && !json_is_null(sa) && !json_is_boolean(sa))
			return tj_bad(t, "BertNormalizer",
			              "strip_accents must be null, true or false");
		n->strip_accents = sa == NULL || json_is_null(sa) ? -1 : json_is_true(sa);
	} else if (strcmp(type, "Strip") == 0) {
		n->kind = NORM_STRIP;
		if ((rc = tj_bool(t, o, "strip_left", 1, &n->strip_left, "Strip")) != 0 ||
		    (rc = tj_bool(t, o, "strip_right", 1, &n->strip_right, "Strip")) != 0)
			return rc;
	} else if (strcmp(type, "Replace") == 0) {
		n->kind = NORM_REPLACE;
		if ((rc = tj_pattern(t, o, &n->pattern, &n->pattern_is_regex, "Replace")) != 0 ||
		    (rc = tj_str(t, o, "content", 1, &n->content, "Replace")) != 0)
			return rc;
	} else if (strcmp(type, "Prepend") == 0) {
		n->kind = NORM_PREPEND;
		if ((rc = tj_str(t, o, "prepend", 1, &n->content, "Prepend")) != 0)
			return rc;
	} else if (strcmp(type, "Precompiled") == 0) {
		const char *b64;
		uint8_t *map = NULL;
		n->kind = NORM_PRECOMPILED;
		if ((rc = tj_str(t, o, "precompiled_charsmap", 1, &b64, "Precompiled")) != 0 ||
		    (rc = base64_decode(t, b64, &map, &n->n_charsmap, "Precompiled")) != 0)
			return rc;
		n->charsmap = map;
	} else {
		return tj_unsupported(t, where, type);
	}
	t->n_norms++;
	return 0;
}

/* --- pre-tokenizers ---------------------------------------------------------- */

int tj_read_pretok(struct tj *t, const json_t *o, int depth)
{
	const char *type = tj_type(o), *where = "pre_tokenizer";
	int rc = 0;
	if (!json_is_object(o) || type == NULL)
		return tj_bad(t, where, "every pre-tokenizer must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0)
		return read_sequence(t, o, "pretokenizers", "pre_tokenizer Sequence", depth,
		                     tj_read_pretok);
	if (t->n_pretoks == MAX_COMPONENTS)
		return tj_bad(t, where, "too many pre-tokenizers");
	struct pretok_cfg *p = &t->pretoks[t->n_pretoks];
	memset(p, 0, sizeof(*p));
	if (strcmp(type, "BertPreTokenizer") == 0) {
		p->kind = PRETOK_BERT;
	} else if (strcmp(type, "Whitespace") == 0) {
		p->kind = PRETOK_WHITESPACE;
	} else if (strcmp(type, "WhitespaceSplit") == 0) {
		p->kind = PRETOK_WHITESPACE_SPLIT;
	} else if (strcmp(type, "ByteLevel") == 0) {
		p->kind = PRETOK_BYTE_LEVEL;
		if ((rc = tj_bool(t, o, "add_prefix_space", 1, &p->add_prefix_space, type)) != 0 ||
		    (rc = tj_bool(t, o, "trim_offsets", 1, &p->trim_offsets, type)) != 0 ||
		    (rc = tj_bool(t, o, "use_regex", 1, &p->use_regex, type)) != 0)
			return rc;
	} else if (strcmp(type, "Metaspace") == 0) {
		p->kind = PRETOK_METASPACE;
		if ((rc = tj_char(t, o, "replacement", &p->replacement, type)) != 0 ||
		    (rc = tj_scheme(t, o, &p->prepend_scheme, type)) != 0 ||
		    (rc = tj_bool(t, o, "split", 1, &p->split, type)) != 0)
			return rc;
	} else if (strcmp(type, "Punctuation") == 0) {
		p->kind = PRETOK_PUNCTUATION;
		if ((rc = tj_behavior(t, o, SPLIT_ISOLATED, &p->behavior, type)) != 0)
			return rc;
	} else if (strcmp(type, "Digits") == 0) {
		p->kind = PRETOK_DIGITS;
		if ((rc = tj_bool(t, o, "individual_digits", 0, &p->individual_digits, type)) != 0)
			return rc;
	} else if (strcmp(type, "Split") == 0) {
		p->kind = PRETOK_SPLIT;
		if ((rc = tj_pattern(t, o, &p->pattern, &p->pattern_is_regex, type)) != 0 ||
		    (rc = tj_behavior(t, o, SPLIT_ISOLATED, &p->behavior, type)) != 0 ||
		    (rc = tj_bool(t, o, "invert", 0, &p->invert, type)) != 0)
			return rc;
		if (json_object_get(o, "behavior") == NULL)
			return tj_bad(t, type, "behavior is missing");
	} else if (strcmp(type, "CharDelimiterSplit") == 0) {
		int32_t d;
		char *s = tj_alloc(t, 8);
		if (s == NULL)
			return tj_nomem(t);
		if ((rc = tj_char(t, o, "delimiter", &d, type)) != 0)
			return rc;
		utf8proc_encode_char(d, (uint8_t *)s);
		p->kind = PRETOK_SPLIT;
		p->pattern = s;
		p->behavior = SPLIT_REMOVED;
	} else {
		return tj_unsupported(t, where, type);
	}
	t->n_pretoks++;
	return 0;
}

/* --- post-processors ------------------------------------------------------------- */

/* [token, id] of BertProcessing / RobertaProcessing. */
static int get_pair_id(struct tj *t, const json_t *o, const char *key, int32_t *id,
                       const char *where)
{
	const json_t *v = json_object_get(o, key), *i = json_array_get(v, 1);
	if (json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
	    !json_is_integer(i) || json_integer_value(i) < 0 || json_integer_value(i) > INT32_MAX) {
		char what[64];
		snprintf(what, sizeof(what), "%s must be [token, id]", key);
		return tj_bad(t, where, what);
	}
	*id = (int32_t)json_integer_value(i);
	return 0;
}

static int read_template(struct tj *t, const json_t *list, const struct template_piece **out,
                         size_t *n_out)
{
	size_t n = json_array_size(list);
	struct template_piece *v = tj_alloc(t, n * sizeof(*v));
	if (!json_is_array(list))
		return tj_bad(t, "TemplateProcessing", "single and pair must be lists of pieces");
	if (v == NULL)
		return tj_nomem(t);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(list, i), *seq = json_object_get(p, "Sequence"),
		             *sp = json_object_get(p, "SpecialToken"), *b = seq != NULL ? seq : sp;
		const json_t *type = json_object_get(b, "type_id"), *id = json_object_get(b, "id");
		if (json_object_size(p) != 1 || b == NULL || !json_is_integer(type) ||
		    json_integer_value(type) < 0 || json_integer_value(type) > INT32_MAX ||
		    !json_is_string(id))
			return tj_bad(t, "TemplateProcessing",
			              "a piece must be {\"Sequence\": {\"id\", \"type_id\"}} or "
			              "{\"SpecialToken\": {\"id\", \"type_id\"}}");
		v[i].type_id = (int32_t)json_integer_value(type);
		v[i].is_sequence = seq != NULL;
		if (seq == NULL) {
			v[i].special = json_string_value(id);
			continue;
		}
		const char *s = json_string_value(id);
		if (strcmp(s, "A") != 0 && strcmp(s, "B") != 0)
			return tj_bad(t, "TemplateProcessing", "a Sequence's id must be A or B");
		v[i].seq = s[0] == 'B';
	}
	*out = v;
	*n_out = n;
	return 0;
}

static int read_specials(struct tj *t, const json_t *o, struct post_cfg *p)
{
	const char *key;
	const json_t *val;
	size_t n = json_object_size(o), k = 0;
	struct template_special *v = tj_alloc(t, n * sizeof(*v));
	if (!json_is_object(o))
		return tj_bad(t, "TemplateProcessing", "special_tokens must be an object");
	if (v == NULL)
		return tj_nomem(t);
	json_object_foreach((json_t *)o, key, val)
	{
		const json_t *ids = json_object_get(val, "ids"),
		             *toks = json_object_get(val, "tokens");
		size_t m = json_array_size(ids);
		int32_t *d = tj_alloc(t, m * sizeof(*d));
		if (!json_is_array(ids) || json_array_size(toks) != m)
			return tj_bad(t, "TemplateProcessing",
			              "a special token needs ids and tokens of the same length");
		if (d == NULL)
			return tj_nomem(t);
		for (size_t i = 0; i < m; i++) {
			const json_t *x = json_array_get(ids, i);
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > INT32_MAX)
				return tj_bad(t, "TemplateProcessing",
				              "special token ids must be integers");
			d[i] = (int32_t)json_integer_value(x);
		}
		v[k++] = (struct template_special){key, d, m};
	}
	p->specials = v;
	p->n_specials = k;
	return 0;
}

int tj_read_post(struct tj *t, const json_t *o, int depth)
{
	const char *type = tj_type(o), *where = "post_processor";
	int rc = 0;
	if (!json_is_object(o) || type == NULL)
		return tj_bad(t, where, "every post-processor must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0)
		return read_sequence(t, o, "processors", "post_processor Sequence", depth,
		                     tj_read_post);
	if (t->n_posts == MAX_COMPONENTS)
		return tj_bad(t, where, "too many post-processors");
	struct post_cfg *p = &t->posts[t->n_posts];
	memset(p, 0, sizeof(*p));
	if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
		int roberta = type[0] == 'R';
		p->kind = roberta ? POST_ROBERTA : POST_BERT;
		if ((rc = get_pair_id(t, o, "sep", &p->sep_id, type)) != 0 ||
		    (rc = get_pair_id(t, o, "cls", &p->cls_id, type)) != 0 ||
		    (roberta &&
		     ((rc = tj_bool(t, o, "trim_offsets", 1, &p->trim_offsets, type)) != 0 ||
		      (rc = tj_bool(t, o, "add_prefix_space", 1, &p->add_prefix_space, type)) !=
		          0)))
			return rc;
	} else if (strcmp(type, "ByteLevel") == 0) {
		p->kind = POST_BYTE_LEVEL;
		if ((rc = tj_bool(t, o, "trim_offsets", 1, &p->trim_offsets, type)) != 0 ||
		    (rc = tj_bool(t, o, "add_prefix_space", 1, &p->add_prefix_space, type)) != 0)
			return rc;
	} else if (strcmp(type, "TemplateProcessing") == 0) {
		p->kind = POST_TEMPLATE;
		if ((rc = read_template(t, json_object_get(o, "single"), &p->single,
		                        &p->n_single)) != 0 ||
		    (rc = read_template(t, json_object_get(o, "pair"), &p->pair, &p->n_pair)) !=
		        0 ||
		    (rc = read_specials(t, json_object_get(o, "special_tokens"), p)) != 0)
			return rc;
	} else {
		return tj_unsupported(t, where, type);
	}
	t->n_posts++;
	return 0;
}

/* --- decoders ------------------------------------------------------------------ */

int tj_read_decoder(struct tj *t, const json_t *o, int depth)
{
	const char *type = tj_type(o), *where = "decoder";
	int rc = 0;
	json_int_t k;
	if (!json_is_object(o) || type == NULL)
		return tj_bad(t, where, "every decoder must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0)
		return read_sequence(t, o, "decoders", "decoder Sequence", depth, tj_read_decoder);
	if (t->n_decoders == MAX_COMPONENTS)
		return tj_bad(t, where, "too many decoders");
	struct decoder_cfg *d = &t->decoders[t->n_decoders];
	memset(d, 0, sizeof(*d));
	if (strcmp(type, "WordPiece") == 0) {
		d->kind = DECODER_WORDPIECE;
		if ((rc = tj_str(t, o, "prefix", 0, &d->prefix, type)) != 0 ||
		    (rc = tj_bool(t, o, "cleanup", 1, &d->cleanup, type)) != 0)
			return rc;
	} else if (strcmp(type, "ByteLevel") == 0) {
		d->kind = DECODER_BYTE_LEVEL;
	} else if (strcmp(type, "Metaspace") == 0) {
		d->kind = DECODER_METASPACE;
		if ((rc = tj_char(t, o, "replacement", &d->replacement, type)) != 0 ||
		    (rc = tj_scheme(t, o, &d->prepend_scheme, type)) != 0)
			return rc;
	} else if (strcmp(type, "BPEDecoder") == 0) {
		d->kind = DECODER_BPE;
		if ((rc = tj_str(t, o, "suffix", 0, &d->suffix, type)) != 0)
			return rc;
	} else if (strcmp(type, "ByteFallback") == 0) {
		d->kind = DECODER_BYTE_FALLBACK;
	} else if (strcmp(type, "Fuse") == 0) {
		d->kind = DECODER_FUSE;
	} else if (strcmp(type, "Strip") == 0) {
		d->kind = DECODER_STRIP;
		if ((rc = tj_char(t, o, "content", &d->strip_char, type)) != 0 ||
		    (rc = tj_int(t, o, "start", 0, INT32_MAX, &k, type)) != 0)
			return rc;
		d->start = (size_t)k;
		if ((rc = tj_int(t, o, "stop", 0, INT32_MAX, &k, type)) != 0)
			return rc;
		d->stop = (size_t)k;
	} else if (strcmp(type, "Replace") == 0) {
		d->kind = DECODER_REPLACE;
		if ((rc = tj_pattern(t, o, &d->pattern, &d->pattern_is_regex, type)) != 0 ||
		    (rc = tj_str(t, o, "content", 1, &d->content, type)) != 0)
			return rc;
	} else if (strcmp(type, "CTC") == 0) {
		d->kind = DECODER_CTC;
		if ((rc = tj_str(t, o, "pad_token", 0, &d->pad_token, type)) != 0 ||
		    (rc = tj_str(t, o, "word_delimiter_token", 0, &d->word_delimiter_token,
		                 type)) != 0 ||
		    (rc = tj_bool(t, o, "cleanup", 1, &d->cleanup, type)) != 0)
			return rc;
	} else {
		return tj_unsupported(t, where, type);
	}
	t->n_decoders++;
	return 0;
}

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
 */
#include "tokenizer_json.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "pipeline.h"
#include "status.h"
#include "tokenizer_load.h"

#define MAX_COMPONENTS 256 /* per kind, after flattening Sequences */

/* Everything allocated while reading; freed together. */
struct tj {
	struct norm_cfg norms[MAX_COMPONENTS];
	struct pretok_cfg pretoks[MAX_COMPONENTS];
	struct post_cfg posts[MAX_COMPONENTS];
	struct decoder_cfg decoders[MAX_COMPONENTS];
	size_t n_norms, n_pretoks, n_posts, n_decoders;
	struct added_cfg *added;
	struct merge_pair *merges;
	char *merge_text; /* "a b" merges, split in place */
	double *scores;
	struct vocab vocab;
	void **blocks; /* other allocations (charsmaps, templates) */
	size_t n_blocks;
	char *err;
	size_t n_err;
};

static void *tj_alloc(struct tj *t, size_t n)
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

static int bad(struct tj *t, const char *where, const char *what)
{
	return status_fail(t->err, t->n_err, STATUS_EFORMAT, "tokenizer.json: %s: %s", where, what);
}

static int nomem(struct tj *t)
{
	return status_fail(t->err, t->n_err, STATUS_ENOMEM, "out of memory reading tokenizer.json");
}

static int unsupported(struct tj *t, const char *where, const char *type)
{
	return status_fail(t->err, t->n_err, STATUS_EUNSUPPORTED,
	                   "tokenizer.json: %s: type \"%.64s\" is not supported by smolserve",
	                   where, type);
}

/* --- typed fields -------------------------------------------------------- */

/* A boolean field, def when absent or null. */
static int get_bool(struct tj *t, const json_t *o, const char *key, int def, int *out,
                    const char *where)
{
	const json_t *v = json_object_get(o, key);
	char what[128];
	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(what, sizeof(what), "%s must be true or false", key);
		return bad(t, where, what);
	}
	*out = json_is_true(v);
	return 0;
}

/* A string field (NULL if absent or null; an error if required). Strings
 * with a NUL inside are refused: nothing in core could hold them. */
static int get_str(struct tj *t, const json_t *o, const char *key, int required, const char **out,
                   const char *where)
{
	const json_t *v = json_object_get(o, key);
	char what[128];
	*out = NULL;
	if ((v == NULL || json_is_null(v)) && !required)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(what, sizeof(what), "%s must be a string (without NUL)", key);
		return bad(t, where, what);
	}
	*out = json_string_value(v);
	return 0;
}

/* A non-negative integer field, def when absent. */
static int get_int(struct tj *t, const json_t *o, const char *key, json_int_t def, json_int_t max,
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
		return bad(t, where, what);
	}
	*out = json_integer_value(v);
	return 0;
}

/* One character (Rust's char): a string of exactly one code point. */
static int get_char(struct tj *t, const json_t *o, const char *key, int32_t *out, const char *where)
{
	const char *s;
	char what[128];
	int rc = get_str(t, o, key, 1, &s, where);
	if (rc != 0)
		return rc;
	size_t n = strlen(s);
	utf8proc_int32_t cp = -1;
	utf8proc_ssize_t k =
	    n > 0 ? utf8proc_iterate((const uint8_t *)s, (utf8proc_ssize_t)n, &cp) : 0;
	if (k <= 0 || (size_t)k != n) {
		snprintf(what, sizeof(what), "%s must be exactly one character", key);
		return bad(t, where, what);
	}
	*out = cp;
	return 0;
}

/* {"String": s} or {"Regex": r} (Replace, Split). */
static int get_pattern(struct tj *t, const json_t *o, const char **pat, int *is_regex,
                       const char *where)
{
	const json_t *p = json_object_get(o, "pattern");
	const json_t *str = json_object_get(p, "String"), *re = json_object_get(p, "Regex");
	if (!json_is_object(p) || json_object_size(p) != 1 || (str == NULL) == (re == NULL))
		return bad(t, where, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
	*is_regex = re != NULL;
	return get_str(t, p, re != NULL ? "Regex" : "String", 1, pat, where);
}

static int get_behavior(struct tj *t, const json_t *o, enum split_behavior def,
                        enum split_behavior *out, const char *where)
{
	static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
	                                    "MergedWithNext", "Contiguous"};
	const char *s;
	int rc = get_str(t, o, "behavior", 0, &s, where);
	*out = def;
	if (rc != 0 || s == NULL)
		return rc;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum split_behavior)i;
			return 0;
		}
	return bad(t, where,
	           "behavior must be Removed, Isolated, MergedWithPrevious, "
	           "MergedWithNext or Contiguous");
}

/* Metaspace's scheme from prepend_scheme (default always) and the older
 * add_prefix_space, as the library checks them: add_prefix_space false
 * needs prepend_scheme "never" spelled out beside it. */
static int get_scheme(struct tj *t, const json_t *o, enum prepend_scheme *out, const char *where)
{
	const char *s;
	int rc = get_str(t, o, "prepend_scheme", 0, &s, where), aps;
	*out = PREPEND_ALWAYS;
	if (rc != 0)
		return rc;
	if (s != NULL && strcmp(s, "first") == 0)
		*out = PREPEND_FIRST;
	else if (s != NULL && strcmp(s, "never") == 0)
		*out = PREPEND_NEVER;
	else if (s != NULL && strcmp(s, "always") != 0)
		return bad(t, where, "prepend_scheme must be always, first or never");
	if ((rc = get_bool(t, o, "add_prefix_space", 1, &aps, where)) != 0)
		return rc;
	if (!aps && *out != PREPEND_NEVER)
		return bad(t, where, "add_prefix_space does not match declared prepend_scheme");
	return 0;
}

static const char *type_of(const json_t *o)
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
		return nomem(t);
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
			return bad(t, where, "precompiled_charsmap is not base64");
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

/* --- normalizers ------------------------------------------------------------ */

static int read_normalizer(struct tj *t, const json_t *o, int depth)
{
	static const char *const simple[] = {"NFC",       "NFD",          "NFKC", "NFKD",
	                                     "Lowercase", "StripAccents", "Nmt"};
	static const enum norm_kind simple_kind[] = {
	    NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE, NORM_STRIP_ACCENTS, NORM_NMT};
	const char *type = type_of(o), *where = "normalizer";
	int rc = 0;
	if (!json_is_object(o) || type == NULL)
		return bad(t, where, "every normalizer must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0) {
		const json_t *list = json_object_get(o, "normalizers"), *v;
		size_t i;
		if (!json_is_array(list) || depth > 8)
			return bad(t, "normalizer Sequence", "normalizers must be a list");
		json_array_foreach(list, i,
		                   v) if ((rc = read_normalizer(t, v, depth + 1)) != 0) return rc;
		return 0;
	}
	if (t->n_norms == MAX_COMPONENTS)
		return bad(t, where, "too many normalizers");
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
		if ((rc = get_bool(t, o, "clean_text", 1, &n->clean_text, "BertNormalizer")) != 0 ||
		    (rc = get_bool(t, o, "handle_chinese_chars", 1, &n->handle_chinese_chars,
		                   "BertNormalizer")) != 0 ||
		    (rc = get_bool(t, o, "lowercase", 1, &n->lowercase, "BertNormalizer")) != 0)
			return rc;
		if (sa != NULL && !json_is_null(sa) && !json_is_boolean(sa))
			return bad(t, "BertNormalizer",
			           "strip_accents must be null, true or false");
		n->strip_accents = sa == NULL || json_is_null(sa) ? -1 : json_is_true(sa);
	} else if (strcmp(type, "Strip") == 0) {
		n->kind = NORM_STRIP;
		if ((rc = get_bool(t, o, "strip_left", 1, &n->strip_left, "Strip")) != 0 ||
		    (rc = get_bool(t, o, "strip_right", 1, &n->strip_right, "Strip")) != 0)
			return rc;
	} else if (strcmp(type, "Replace") == 0) {
		n->kind = NORM_REPLACE;
		if ((rc = get_pattern(t, o, &n->pattern, &n->pattern_is_regex, "Replace")) != 0 ||
		    (rc = get_str(t, o, "content", 1, &n->content, "Replace")) != 0)
			return rc;
	} else if (strcmp(type, "Prepend") == 0) {
		n->kind = NORM_PREPEND;
		if ((rc = get_str(t, o, "prepend", 1, &n->content, "Prepend")) != 0)
			return rc;
	} else if (strcmp(type, "Precompiled") == 0) {
		const char *b64;
		uint8_t *map = NULL;
		n->kind = NORM_PRECOMPILED;
		if ((rc = get_str(t, o, "precompiled_charsmap", 1, &b64, "Precompiled")) != 0 ||
		    (rc = base64_decode(t, b64, &map, &n->n_charsmap, "Precompiled")) != 0)
			return rc;
		n->charsmap = map;
	} else {
		return unsupported(t, where, type);
	}
	t->n_norms++;
	return 0;
}

/* --- pre-tokenizers ---------------------------------------------------------- */

static int read_pretok(struct tj *t, const json_t *o, int depth)
{
	const char *type = type_of(o), *where = "pre_tokenizer";
	int rc = 0;
	if (!json_is_object(o) || type == NULL)
		return bad(t, where, "every pre-tokenizer must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0) {
		const json_t *list = json_object_get(o, "pretokenizers"), *v;
		size_t i;
		if (!json_is_array(list) || depth > 8)
			return bad(t, "pre_tokenizer Sequence", "pretokenizers must be a list");
		json_array_foreach(list, i,
		                   v) if ((rc = read_pretok(t, v, depth + 1)) != 0) return rc;
		return 0;
	}
	if (t->n_pretoks == MAX_COMPONENTS)
		return bad(t, where, "too many pre-tokenizers");
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
		if ((rc = get_bool(t, o, "add_prefix_space", 1, &p->add_prefix_space, type)) != 0 ||
		    (rc = get_bool(t, o, "trim_offsets", 1, &p->trim_offsets, type)) != 0 ||
		    (rc = get_bool(t, o, "use_regex", 1, &p->use_regex, type)) != 0)
			return rc;
	} else if (strcmp(type, "Metaspace") == 0) {
		p->kind = PRETOK_METASPACE;
		if ((rc = get_char(t, o, "replacement", &p->replacement, type)) != 0 ||
		    (rc = get_scheme(t, o, &p->prepend_scheme, type)) != 0 ||
		    (rc = get_bool(t, o, "split", 1, &p->split, type)) != 0)
			return rc;
	} else if (strcmp(type, "Punctuation") == 0) {
		p->kind = PRETOK_PUNCTUATION;
		if ((rc = get_behavior(t, o, SPLIT_ISOLATED, &p->behavior, type)) != 0)
			return rc;
	} else if (strcmp(type, "Digits") == 0) {
		p->kind = PRETOK_DIGITS;
		if ((rc = get_bool(t, o, "individual_digits", 0, &p->individual_digits, type)) != 0)
			return rc;
	} else if (strcmp(type, "Split") == 0) {
		p->kind = PRETOK_SPLIT;
		if ((rc = get_pattern(t, o, &p->pattern, &p->pattern_is_regex, type)) != 0 ||
		    (rc = get_behavior(t, o, SPLIT_ISOLATED, &p->behavior, type)) != 0 ||
		    (rc = get_bool(t, o, "invert", 0, &p->invert, type)) != 0)
			return rc;
		if (json_object_get(o, "behavior") == NULL)
			return bad(t, type, "behavior is missing");
	} else if (strcmp(type, "CharDelimiterSplit") == 0) {
		int32_t d;
		char *s = tj_alloc(t, 8);
		if (s == NULL)
			return nomem(t);
		if ((rc = get_char(t, o, "delimiter", &d, type)) != 0)
			return rc;
		utf8proc_encode_char(d, (uint8_t *)s);
		p->kind = PRETOK_SPLIT;
		p->pattern = s;
		p->behavior = SPLIT_REMOVED;
	} else {
		return unsupported(t, where, type);
	}
	t->n_pretoks++;
	return 0;
}

/* --- model --------------------------------------------------------------------- */

/* "a b" merges: split at the one space (convert_merges_to_hashmap). */
static int legacy_merges(struct tj *t, const json_t *list, size_t n)
{
	size_t total = 0, at = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(list, i);
		if (!json_is_string(m) || strlen(json_string_value(m)) != json_string_length(m))
			return bad(t, "BPE",
			           "merges must be all \"a b\" strings or all [a, b] pairs");
		total += json_string_length(m) + 1;
	}
	if ((t->merge_text = malloc(total ? total : 1)) == NULL)
		return nomem(t);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(list, i));
		size_t len = strlen(s);
		const char *sp = strchr(s, ' ');
		if (sp == NULL || strchr(sp + 1, ' ') != NULL) {
			char what[96];
			snprintf(what, sizeof(what), "merge %zu is not two tokens \"a b\"", i);
			return bad(t, "BPE", what);
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
		return bad(t, "BPE", "merges must be a list");
	if ((t->merges = calloc(n ? n : 1, sizeof(*t->merges))) == NULL)
		return nomem(t);
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
			return bad(t, "BPE",
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
		return bad(t, "Unigram", "vocab must be a non-empty list of [piece, score]");
	if ((t->scores = malloc(n * sizeof(*t->scores))) == NULL)
		return nomem(t);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(list, i), *p = json_array_get(e, 0),
		             *sc = json_array_get(e, 1);
		int rc;
		if (json_array_size(e) != 2 || !json_is_string(p) || !json_is_number(sc) ||
		    strlen(json_string_value(p)) != json_string_length(p)) {
			char what[96];
			snprintf(what, sizeof(what), "vocab[%zu] is not [piece, score]", i);
			return bad(t, "Unigram", what);
		}
		t->scores[i] = json_number_value(sc);
		if ((rc = vocab_add(&t->vocab, json_string_value(p), json_string_length(p))) != 0)
			return rc == STATUS_ENOMEM ? nomem(t) : bad(t, "Unigram", "bad piece");
	}
	return 0;
}

/* The model's kind: its "type", or, in files without one, its fields. */
static const char *model_type(const json_t *o)
{
	const char *type = type_of(o);
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
		return bad(t, "model", "must be an object with a \"type\"");
	if (strcmp(type, "WordPiece") == 0) {
		m->kind = MODEL_WORDPIECE;
		if ((rc = get_str(t, o, "unk_token", 0, &m->unk_token, type)) != 0 ||
		    (rc = get_str(t, o, "continuing_subword_prefix", 0,
		                  &m->continuing_subword_prefix, type)) != 0 ||
		    (rc = get_int(t, o, "max_input_chars_per_word", 100, INT32_MAX, &k, type)) != 0)
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
		if ((rc = get_str(t, o, "unk_token", 0, &m->unk_token, type)) != 0 ||
		    (rc = get_str(t, o, "continuing_subword_prefix", 0,
		                  &m->continuing_subword_prefix, type)) != 0 ||
		    (rc = get_str(t, o, "end_of_word_suffix", 0, &m->end_of_word_suffix, type)) !=
		        0 ||
		    (rc = get_bool(t, o, "fuse_unk", 0, &m->fuse_unk, type)) != 0 ||
		    (rc = get_bool(t, o, "byte_fallback", 0, &m->byte_fallback, type)) != 0 ||
		    (rc = get_bool(t, o, "ignore_merges", 0, &m->ignore_merges, type)) != 0 ||
		    (rc = read_merges(t, o, m)) != 0)
			return rc;
	} else if (strcmp(type, "Unigram") == 0) {
		m->kind = MODEL_UNIGRAM;
		if ((rc = get_int(t, o, "unk_id", -1, INT32_MAX, &k, type)) != 0 ||
		    (rc = get_bool(t, o, "byte_fallback", 0, &m->byte_fallback, type)) != 0 ||
		    (rc = read_unigram_vocab(t, json_object_get(o, "vocab"))) != 0)
			return rc;
		m->unk_id = (int32_t)k;
		m->scores = t->scores;
		m->vocab = &t->vocab;
		return 0;
	} else {
		return unsupported(t, "model", type);
	}
	if ((rc = vocab_from_object(json_object_get(o, "vocab"), &t->vocab,
	                            "tokenizer.json: model.vocab", t->err, t->n_err)) != 0)
		return rc;
	m->vocab = &t->vocab;
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
		return bad(t, where, what);
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
		return bad(t, "TemplateProcessing", "single and pair must be lists of pieces");
	if (v == NULL)
		return nomem(t);
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(list, i), *seq = json_object_get(p, "Sequence"),
		             *sp = json_object_get(p, "SpecialToken"), *b = seq != NULL ? seq : sp;
		const json_t *type = json_object_get(b, "type_id"), *id = json_object_get(b, "id");
		if (json_object_size(p) != 1 || b == NULL || !json_is_integer(type) ||
		    json_integer_value(type) < 0 || json_integer_value(type) > INT32_MAX ||
		    !json_is_string(id))
			return bad(t, "TemplateProcessing",
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
			return bad(t, "TemplateProcessing", "a Sequence's id must be A or B");
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
		return bad(t, "TemplateProcessing", "special_tokens must be an object");
	if (v == NULL)
		return nomem(t);
	json_object_foreach((json_t *)o, key, val)
	{
		const json_t *ids = json_object_get(val, "ids"),
		             *toks = json_object_get(val, "tokens");
		size_t m = json_array_size(ids);
		int32_t *d = tj_alloc(t, m * sizeof(*d));
		if (!json_is_array(ids) || json_array_size(toks) != m)
			return bad(t, "TemplateProcessing",
			           "a special token needs ids and tokens of the same length");
		if (d == NULL)
			return nomem(t);
		for (size_t i = 0; i < m; i++) {
			const json_t *x = json_array_get(ids, i);
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > INT32_MAX)
				return bad(t, "TemplateProcessing",
				           "special token ids must be integers");
			d[i] = (int32_t)json_integer_value(x);
		}
		v[k++] = (struct template_special){key, d, m};
	}
	p->specials = v;
	p->n_specials = k;
	return 0;
}

static int read_post(struct tj *t, const json_t *o, int depth)
{
	const char *type = type_of(o), *where = "post_processor";
	int rc = 0;
	if (!json_is_object(o) || type == NULL)
		return bad(t, where, "every post-processor must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0) {
		const json_t *list = json_object_get(o, "processors"), *v;
		size_t i;
		if (!json_is_array(list) || depth > 8)
			return bad(t, "post_processor Sequence", "processors must be a list");
		json_array_foreach(list, i,
		                   v) if ((rc = read_post(t, v, depth + 1)) != 0) return rc;
		return 0;
	}
	if (t->n_posts == MAX_COMPONENTS)
		return bad(t, where, "too many post-processors");
	struct post_cfg *p = &t->posts[t->n_posts];
	memset(p, 0, sizeof(*p));
	if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
		int roberta = type[0] == 'R';
		p->kind = roberta ? POST_ROBERTA : POST_BERT;
		if ((rc = get_pair_id(t, o, "sep", &p->sep_id, type)) != 0 ||
		    (rc = get_pair_id(t, o, "cls", &p->cls_id, type)) != 0 ||
		    (roberta &&
		     ((rc = get_bool(t, o, "trim_offsets", 1, &p->trim_offsets, type)) != 0 ||
		      (rc = get_bool(t, o, "add_prefix_space", 1, &p->add_prefix_space, type)) !=
		          0)))
			return rc;
	} else if (strcmp(type, "ByteLevel") == 0) {
		p->kind = POST_BYTE_LEVEL;
		if ((rc = get_bool(t, o, "trim_offsets", 1, &p->trim_offsets, type)) != 0 ||
		    (rc = get_bool(t, o, "add_prefix_space", 1, &p->add_prefix_space, type)) != 0)
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
		return unsupported(t, where, type);
	}
	t->n_posts++;
	return 0;
}

/* --- decoders ------------------------------------------------------------------ */

static int read_decoder(struct tj *t, const json_t *o, int depth)
{
	const char *type = type_of(o), *where = "decoder";
	int rc = 0;
	json_int_t k;
	if (!json_is_object(o) || type == NULL)
		return bad(t, where, "every decoder must be an object with a \"type\"");
	if (strcmp(type, "Sequence") == 0) {
		const json_t *list = json_object_get(o, "decoders"), *v;
		size_t i;
		if (!json_is_array(list) || depth > 8)
			return bad(t, "decoder Sequence", "decoders must be a list");
		json_array_foreach(list, i,
		                   v) if ((rc = read_decoder(t, v, depth + 1)) != 0) return rc;
		return 0;
	}
	if (t->n_decoders == MAX_COMPONENTS)
		return bad(t, where, "too many decoders");
	struct decoder_cfg *d = &t->decoders[t->n_decoders];
	memset(d, 0, sizeof(*d));
	if (strcmp(type, "WordPiece") == 0) {
		d->kind = DECODER_WORDPIECE;
		if ((rc = get_str(t, o, "prefix", 0, &d->prefix, type)) != 0 ||
		    (rc = get_bool(t, o, "cleanup", 1, &d->cleanup, type)) != 0)
			return rc;
	} else if (strcmp(type, "ByteLevel") == 0) {
		d->kind = DECODER_BYTE_LEVEL;
	} else if (strcmp(type, "Metaspace") == 0) {
		d->kind = DECODER_METASPACE;
		if ((rc = get_char(t, o, "replacement", &d->replacement, type)) != 0 ||
		    (rc = get_scheme(t, o, &d->prepend_scheme, type)) != 0)
			return rc;
	} else if (strcmp(type, "BPEDecoder") == 0) {
		d->kind = DECODER_BPE;
		if ((rc = get_str(t, o, "suffix", 0, &d->suffix, type)) != 0)
			return rc;
	} else if (strcmp(type, "ByteFallback") == 0) {
		d->kind = DECODER_BYTE_FALLBACK;
	} else if (strcmp(type, "Fuse") == 0) {
		d->kind = DECODER_FUSE;
	} else if (strcmp(type, "Strip") == 0) {
		d->kind = DECODER_STRIP;
		if ((rc = get_char(t, o, "content", &d->strip_char, type)) != 0 ||
		    (rc = get_int(t, o, "start", 0, INT32_MAX, &k, type)) != 0)
			return rc;
		d->start = (size_t)k;
		if ((rc = get_int(t, o, "stop", 0, INT32_MAX, &k, type)) != 0)
			return rc;
		d->stop = (size_t)k;
	} else if (strcmp(type, "Replace") == 0) {
		d->kind = DECODER_REPLACE;
		if ((rc = get_pattern(t, o, &d->pattern, &d->pattern_is_regex, type)) != 0 ||
		    (rc = get_str(t, o, "content", 1, &d->content, type)) != 0)
			return rc;
	} else if (strcmp(type, "CTC") == 0) {
		d->kind = DECODER_CTC;
		if ((rc = get_str(t, o, "pad_token", 0, &d->pad_token, type)) != 0 ||
		    (rc = get_str(t, o, "word_delimiter_token", 0, &d->word_delimiter_token,
		                  type)) != 0 ||
		    (rc = get_bool(t, o, "cleanup", 1, &d->cleanup, type)) != 0)
			return rc;
	} else {
		return unsupported(t, where, type);
	}
	t->n_decoders++;
	return 0;
}

/* --- added tokens and the whole ------------------------------------------------ */

static int read_added(struct tj *t, const json_t *list, struct pipeline_cfg *cfg)
{
	size_t n = json_array_size(list);
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return bad(t, "added_tokens", "must be a list");
	if ((t->added = calloc(n ? n : 1, sizeof(*t->added))) == NULL)
		return nomem(t);
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(list, i);
		struct added_cfg *a = &t->added[i];
		json_int_t id;
		int rc;
		char where[48];
		snprintf(where, sizeof(where), "added_tokens[%zu]", i);
		if (!json_is_object(o))
			return bad(t, where, "must be an object");
		if ((rc = get_str(t, o, "content", 1, &a->content, where)) != 0 ||
		    (rc = get_int(t, o, "id", 0, INT32_MAX, &id, where)) != 0 ||
		    (rc = get_bool(t, o, "special", 0, &a->special, where)) != 0 ||
		    (rc = get_bool(t, o, "lstrip", 0, &a->lstrip, where)) != 0 ||
		    (rc = get_bool(t, o, "rstrip", 0, &a->rstrip, where)) != 0 ||
		    (rc = get_bool(t, o, "single_word", 0, &a->single_word, where)) != 0 ||
		    (rc = get_bool(t, o, "normalized", 1, &a->normalized, where)) != 0)
			return rc;
		if (!utf8_valid(a->content, strlen(a->content)))
			return bad(t, where, "content is not valid UTF-8");
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

int tokenizer_json_build(const char *text, size_t n, const struct tokenizer_json_hints *hints,
                         struct tokenizer **out, char *err, size_t n_err)
{
	struct tj *t = calloc(1, sizeof(*t));
	struct pipeline_cfg cfg;
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	*out = NULL;
	if (t == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM,
		                   "out of memory reading tokenizer.json");
	t->err = err;
	t->n_err = n_err;
	memset(&cfg, 0, sizeof(cfg));
	memset(&jerr, 0, sizeof(jerr));
	if ((root = json_loadb(text, n, 0, &jerr)) == NULL) {
		/* jansson leaves the text empty for some failed mallocs */
		int oom = json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0];
		rc = status_fail(err, n_err, oom ? STATUS_ENOMEM : STATUS_EFORMAT,
		                 "tokenizer.json: line %d: %s", jerr.line,
		                 oom ? "out of memory" : jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		rc = bad(t, "top level", "not an object");
		goto done;
	}
	if ((rc = read_opt(t, root, "normalizer", read_normalizer)) != 0 ||
	    (rc = read_opt(t, root, "pre_tokenizer", read_pretok)) != 0 ||
	    (rc = read_opt(t, root, "post_processor", read_post)) != 0 ||
	    (rc = read_opt(t, root, "decoder", read_decoder)) != 0 ||
	    (rc = read_model(t, json_object_get(root, "model"), &cfg.model)) != 0 ||
	    (rc = read_added(t, json_object_get(root, "added_tokens"), &cfg)) != 0)
		goto done;
	const json_t *trunc = json_object_get(root, "truncation");
	json_int_t max = 0;
	if (json_is_object(trunc) &&
	    (rc = get_int(t, trunc, "max_length", 0, INT32_MAX, &max, "truncation")) != 0)
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
	rc = pipeline_create(&cfg, out, err, n_err);
done:
	json_decref(root);
	tj_dispose(t);
	free(t);
	return rc;
}

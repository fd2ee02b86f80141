/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json (models/tokenizer_json.c read into core/tokenize/'s
 * pipeline) against Hugging Face's Rust tokenizers, npm tokenizers 0.23.2,
 * the library text-embeddings-inference runs:
 *
 * - every fixture folder, loaded from a copy holding only its
 *   tokenizer.json, gives expected_fast.json's ids, type ids, special-token
 *   mask, sequence ids, byte offsets and decoded text on every case; the
 *   cases where fast and slow disagree are exactly the ones the fixtures'
 *   README lists, and the classic files still give the slow ids there;
 * - the same folders' models, with tokenizer.json as their only tokenizer
 *   file, give the classic-loaded models' outputs within 1e-6 on every case
 *   where the two tokenizers agree (and Hugging Face's within 1e-4);
 * - tests/fixtures/tokenizer_json/<spec>/, written by make.mjs with the same
 *   library, for the components the fixture folders do not use;
 * - the bad-input corpus invalid/tokenizer_json/ (status and message of
 *   each), charsmaps of random bytes, a missing unk token at encode time,
 *   the Strip decoder past what the library runs, concurrent encodes on one
 *   tokenizer, and an allocation failing at every point of loading,
 *   encoding and decoding.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "model.h"
#include "status.h"
#include "test_util.h"
#include "tokenizer.h"
#include "tokenizer_json.h"
#include "tokenizer_load.h"

#include "alloc_failures.h"

/* The shared fixtures' folders with a tokenizer.json, then MPNet's and
 * ModernBERT's, whose tokenizer.json tokenizer_json/make_families.mjs
 * writes from their slow tokenizer files as transformers' converter does. */
static const char *const FOLDERS[] = {
    "bert",         "bert-seqcls",       "bert-tokcls",       "bert-mlm",
    "distilbert",   "distilbert-seqcls", "electra",           "electra-seqcls",
    "mobilebert",   "mobilebert-seqcls", "roberta",           "roberta-seqcls",
    "albert",       "albert-seqcls",     "xlm-roberta",       "mpnet",
    "mpnet-seqcls", "modernbert",        "modernbert-seqcls",
};
#define N_FOLDERS (int)(sizeof(FOLDERS) / sizeof(FOLDERS[0]))

/* Where HF's fast and slow tokenizers differ (the fixtures' README):
 * ELECTRA's NFD text (slow BERT composes to NFC first); ALBERT and XLM-R's
 * lone "▁" in the whitespace case and the special tokens written in the
 * text (slow strips spaces around them, fast follows lstrip/rstrip). */
static const char *const DISAGREE[][2] = {
    {"electra", "accents_nfd"},      {"electra-seqcls", "accents_nfd"},
    {"albert", "whitespace"},        {"albert", "special_tokens_in_text"},
    {"albert-seqcls", "whitespace"}, {"albert-seqcls", "special_tokens_in_text"},
    {"xlm-roberta", "whitespace"},   {"xlm-roberta", "special_tokens_in_text"},
};
#define N_DISAGREE (int)(sizeof(DISAGREE) / sizeof(DISAGREE[0]))

/* --- helpers ---------------------------------------------------------- */

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long len = ftell(f);
	ck_assert_int_ge(len, 0);
	rewind(f);
	char *b = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	b[len] = '\0';
	*n = (size_t)len;
	return b;
}

static json_t *load_json(const char *path)
{
	json_error_t jerr;
	json_t *v = json_load_file(path, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(v != NULL, "%s: %s", path, jerr.text);
	return v;
}

/* The cases of FIXTURES_DIR/<dir>/expected_fast.json (new reference). */
static json_t *fast_cases(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/expected_fast.json", dir);
	json_t *root = load_json(path), *cases = json_incref(json_object_get(root, "cases"));
	json_decref(root);
	ck_assert_msg(json_array_size(cases) > 0, "%s: no cases", path);
	return cases;
}

/* A temporary folder holding symlinks to some files of fixture folder. */
struct scratch {
	char dir[64];
	char links[4][32];
	int n;
};

static void scratch_make(struct scratch *s, const char *folder, const char *const *files)
{
	char src[PATH_MAX], path[128];
	snprintf(s->dir, sizeof(s->dir), "/tmp/smolserve-tj-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	for (s->n = 0; files[s->n] != NULL; s->n++) {
		ck_assert_ptr_nonnull(realpath(fixture_path(folder), src));
		snprintf(s->links[s->n], sizeof(s->links[0]), "%s", files[s->n]);
		snprintf(path, sizeof(path), "%s/%s", s->dir, files[s->n]);
		strncat(src, "/", sizeof(src) - strlen(src) - 1);
		strncat(src, files[s->n], sizeof(src) - strlen(src) - 1);
		ck_assert_int_eq(symlink(src, path), 0);
	}
}

static void scratch_remove(struct scratch *s)
{
	char path[128];
	for (int i = 0; i < s->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, s->links[i]);
		unlink(path);
	}
	rmdir(s->dir);
}

/* Encodes case c (text, text_pair, truncation, add_special_tokens). */
static int encode_case(const struct tokenizer *t, const json_t *c, struct encoding *e, char *err,
                       size_t n_err)
{
	const json_t *a = json_object_get(c, "text"), *b = json_object_get(c, "text_pair"),
	             *tr = json_object_get(c, "truncation");
	const char *dir = json_string_value(json_object_get(tr, "direction"));
	struct encode_opts o = {!json_is_false(json_object_get(c, "add_special_tokens")),
	                        (int32_t)json_integer_value(json_object_get(tr, "max_length")), 1,
	                        dir != NULL && strcmp(dir, "left") == 0 ? TRUNCATION_LEFT
	                                                                : TRUNCATION_RIGHT};
	return tokenizer_encode(t, json_string_value(a), json_string_length(a),
	                        json_string_value(b), json_string_length(b), &o, e, err, n_err);
}

static int32_t int_at(const json_t *list, size_t i)
{
	return (int32_t)json_integer_value(json_array_get(list, i));
}

/* The decoded ids, in a new string. */
static char *decode(const struct tokenizer *t, const struct encoding *e, int skip)
{
	char err[256], one[1];
	int n = tokenizer_decode(t, e->ids, (size_t)e->n, skip, one, sizeof(one), err, sizeof(err));
	ck_assert_msg(n >= 0, "decode: %s", err);
	char *out = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(
	    tokenizer_decode(t, e->ids, (size_t)e->n, skip, out, (size_t)n + 1, err, sizeof(err)),
	    n);
	return out;
}

/* Everything expected_fast.json says of case c, on t. */
static void check_case(const struct tokenizer *t, const json_t *c, const char *where)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const json_t *ids = json_object_get(c, "input_ids"),
	             *types = json_object_get(c, "type_ids"),
	             *mask = json_object_get(c, "special_tokens_mask"),
	             *seqs = json_object_get(c, "sequence_ids"),
	             *offs = json_object_get(c, "byte_offsets");
	struct encoding e;
	char err[512];
	encoding_init(&e);
	ck_assert_msg(encode_case(t, c, &e, err, sizeof(err)) == 0, "%s / %s: %s", where, name,
	              err);
	ck_assert_msg((size_t)e.n == json_array_size(ids), "%s / %s: %d tokens, want %zu", where,
	              name, e.n, json_array_size(ids));
	for (int32_t k = 0; k < e.n; k++) {
		const json_t *o = json_array_get(offs, (size_t)k),
		             *q = json_array_get(seqs, (size_t)k);
		ck_assert_msg(e.ids[k] == int_at(ids, (size_t)k) &&
		                  e.type_ids[k] == int_at(types, (size_t)k) &&
		                  e.special[k] == int_at(mask, (size_t)k),
		              "%s / %s: token %d is %d (type %d, special %d), want %d (%d, %d)",
		              where, name, k, e.ids[k], e.type_ids[k], e.special[k],
		              int_at(ids, (size_t)k), int_at(types, (size_t)k),
		              int_at(mask, (size_t)k));
		ck_assert_msg(e.seq[k] == (json_is_null(q) ? -1 : json_integer_value(q)),
		              "%s / %s: token %d's sequence", where, name, k);
		if (json_is_null(q))
			continue;
		ck_assert_msg(e.starts[k] == int_at(o, 0) && e.stops[k] == int_at(o, 1),
		              "%s / %s: token %d at [%d, %d), want [%d, %d)", where, name, k,
		              e.starts[k], e.stops[k], int_at(o, 0), int_at(o, 1));
	}
	for (int skip = 1; skip >= 0; skip--) {
		const json_t *want = json_object_get(c, skip ? "decoded" : "decoded_all");
		if (want == NULL)
			continue;
		char *got = decode(t, &e, skip);
		ck_assert_msg(strcmp(got, json_string_value(want)) == 0,
		              "%s / %s: decode(skip %d) \"%s\", want \"%s\"", where, name, skip,
		              got, json_string_value(want));
		free(got);
	}
	encoding_dispose(&e);
}

/* --- the fixture folders ----------------------------------------------- */

static int disagrees(const char *folder, const char *name)
{
	for (int i = 0; i < N_DISAGREE; i++)
		if (strcmp(DISAGREE[i][0], folder) == 0 && strcmp(DISAGREE[i][1], name) == 0)
			return 1;
	return 0;
}

START_TEST(test_folder_from_tokenizer_json)
{
	const char *folder = FOLDERS[_i];
	static const char *const only[] = {"tokenizer.json", NULL};
	struct scratch s;
	struct tokenizer *t = NULL, *slow = NULL;
	char err[512];
	scratch_make(&s, folder, only);
	ck_assert_msg(tokenizer_load(s.dir, &t, err, sizeof(err)) == 0, "%s: %s", folder, err);
	ck_assert_str_eq(t->source, "tokenizer.json");
	ck_assert_msg(tokenizer_load_from(fixture_path(folder), TOKENIZER_SOURCE_CLASSIC, &slow,
	                                  err, sizeof(err)) == 0,
	              "%s: %s", folder, err);
	ck_assert_str_ne(slow->source, "tokenizer.json");

	json_t *cases = fast_cases(fixture_path(folder));
	size_t i;
	json_t *c;
	struct encoding e;
	encoding_init(&e);
	json_array_foreach(cases, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		check_case(t, c, folder);
		/* The other side: where they differ, the classic files give the
		 * slow tokenizer's ids (test_tokenizer_fixtures checks the rest). */
		int agree = json_is_true(json_object_get(c, "matches_slow"));
		ck_assert_msg(agree == !disagrees(folder, name), "%s / %s: matches_slow is %d",
		              folder, name, agree);
		if (agree)
			continue;
		const json_t *want = json_object_get(c, "slow_input_ids");
		ck_assert_int_eq(encode_case(slow, c, &e, err, sizeof(err)), 0);
		ck_assert_uint_eq((size_t)e.n, json_array_size(want));
		for (int32_t k = 0; k < e.n; k++)
			ck_assert_int_eq(e.ids[k], int_at(want, (size_t)k));
	}
	encoding_dispose(&e);
	json_decref(cases);
	tokenizer_destroy(t);
	tokenizer_destroy(slow);
	scratch_remove(&s);
}
END_TEST

/* Last hidden state (and logits) of ids; *out malloc'd, n_out floats. */
static float *forward(const struct model *m, const struct encoding *e, size_t *n_out)
{
	char err[512];
	int32_t starts[2] = {0, e->n};
	struct packed_batch b = {1, e->n, e->ids, e->type_ids, starts};
	struct model_ctx ctx;
	size_t h = (size_t)m->enc.hidden, n = (size_t)e->n * h, n_logits = 0;
	if (m->head == HEAD_SEQCLS)
		n_logits = (size_t)m->n_labels;
	else if (m->head == HEAD_TOKCLS)
		n_logits = (size_t)e->n * (size_t)m->n_labels;
	float *out = malloc((n + n_logits + 1) * sizeof(float));
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(model_ctx_init(&ctx, m, e->n), 0);
	ck_assert_msg(model_forward(m, &ctx, &b, err, sizeof(err)) == 0, "%s", err);
	memcpy(out, ctx.enc.x, n * sizeof(float));
	if (n_logits > 0)
		model_logits(m, &ctx, &b, out + n);
	model_ctx_dispose(&ctx);
	*n_out = n + n_logits;
	return out;
}

START_TEST(test_model_outputs_unchanged)
{
	const char *folder = FOLDERS[_i];
	static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
	                                    NULL};
	struct model_opts classic = {.tokenizer_source = TOKENIZER_SOURCE_CLASSIC};
	struct model *mj = NULL, *mc = NULL;
	struct scratch s;
	char err[512];
	scratch_make(&s, folder, files);
	ck_assert_msg(model_load(s.dir, NULL, &mj, err, sizeof(err)) == 0, "%s: %s", folder, err);
	ck_assert_msg(model_load(fixture_path(folder), &classic, &mc, err, sizeof(err)) == 0,
	              "%s: %s", folder, err);
	ck_assert_str_eq(mj->tok->source, "tokenizer.json");

	json_t *expected = fixture_expected(folder), *fast = fast_cases(fixture_path(folder));
	json_t *cases = json_object_get(expected, "cases");
	int32_t max_length = (int32_t)json_integer_value(json_object_get(expected, "max_length"));
	struct encoding ej, ec;
	encoding_init(&ej);
	encoding_init(&ec);
	int n_compared = 0;
	for (size_t i = 0; i < json_array_size(cases); i++) {
		const json_t *c = json_array_get(cases, i), *a = json_object_get(c, "text"),
		             *b = json_object_get(c, "text_pair");
		const char *name = json_string_value(json_object_get(c, "name"));
		struct encode_opts o = {1, max_length, 1, TRUNCATION_RIGHT};
		if (!json_is_true(json_object_get(json_array_get(fast, i), "matches_slow")))
			continue; /* different ids: nothing to compare (test above) */
		ck_assert_int_eq(tokenizer_encode(mj->tok, json_string_value(a),
		                                  json_string_length(a), json_string_value(b),
		                                  json_string_length(b), &o, &ej, err, sizeof(err)),
		                 0);
		ck_assert_int_eq(tokenizer_encode(mc->tok, json_string_value(a),
		                                  json_string_length(a), json_string_value(b),
		                                  json_string_length(b), &o, &ec, err, sizeof(err)),
		                 0);
		ck_assert_int_eq(ej.n, ec.n);
		/* Type ids must agree where the model reads them. MPNet's do not:
		 * its converter gives a pair's B type 1, its slow tokenizer 0,
		 * and MPNet has no token type embeddings. */
		for (int32_t k = 0; k < ej.n; k++)
			ck_assert_msg(ej.ids[k] == ec.ids[k] && (ej.type_ids[k] == ec.type_ids[k] ||
			                                         mj->enc.type_emb == NULL),
			              "%s / %s: token %d", folder, name, k);
		size_t n = 0, n_ref = 0, n_h = (size_t)ej.n * (size_t)mj->enc.hidden;
		float *yj = forward(mj, &ej, &n), *yc = forward(mc, &ec, &n);
		ck_assert_msg(max_abs_diff(yj, yc, n) <= 1e-6, "%s / %s: outputs differ by %g",
		              folder, name, max_abs_diff(yj, yc, n));
		float *ref = json_floats(
		    json_object_get(json_object_get(c, "last_hidden_state"), "data"), &n_ref);
		ck_assert_uint_eq(n_ref, n_h);
		ck_assert_msg(max_abs_diff(yj, ref, n_h) <= 1e-4, "%s / %s: differs from HF by %g",
		              folder, name, max_abs_diff(yj, ref, n_h));
		free(ref);
		free(yj);
		free(yc);
		n_compared++;
	}
	ck_assert_int_ge(n_compared, (int)json_array_size(cases) - 2);
	encoding_dispose(&ej);
	encoding_dispose(&ec);
	json_decref(expected);
	json_decref(fast);
	model_destroy(mj);
	model_destroy(mc);
	scratch_remove(&s);
}
END_TEST

/* --- generated specs ---------------------------------------------------- */

static struct corpus specs; /* tokenizer_json/<spec>/ with a tokenizer.json */

static void specs_scan(void)
{
	struct corpus all;
	char path[4400];
	corpus_scan(&all, "tokenizer_json");
	specs.n = 0;
	for (int i = 0; i < all.n; i++) {
		snprintf(path, sizeof(path), "%s/%s/tokenizer.json", fixture_path("tokenizer_json"),
		         all.names[i]);
		if (access(path, R_OK) == 0)
			memcpy(specs.names[specs.n++], all.names[i], sizeof(all.names[0]));
	}
}

START_TEST(test_generated_spec)
{
	char dir[4400], err[512];
	struct tokenizer *t = NULL;
	snprintf(dir, sizeof(dir), "%s/%s", fixture_path("tokenizer_json"), specs.names[_i]);
	ck_assert_msg(tokenizer_load(dir, &t, err, sizeof(err)) == 0, "%s: %s", dir, err);
	json_t *cases = fast_cases(dir);
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c) check_case(t, c, specs.names[_i]);
	json_decref(cases);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_generated_found)
{
	/* make.mjs writes 39 specs, 2223 cases */
	ck_assert_int_ge(specs.n, 39);
}
END_TEST

/* --- bad input ------------------------------------------------------------ */

static struct corpus bad; /* invalid/tokenizer_json/<case>/{input, expect} */

static char *case_input(const char *name, size_t *n)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s/input", fixture_path("invalid/tokenizer_json"), name);
	return slurp(path, n);
}

START_TEST(test_bad_input_case)
{
	const char *name = bad.names[_i];
	char dir[4400], substr[256] = "", err[1024] = "";
	int want = 0;
	size_t n;
	struct tokenizer *t = NULL;
	snprintf(dir, sizeof(dir), "%s/%s", fixture_path("invalid/tokenizer_json"), name);
	if (strncmp(name, "ok_", 3) != 0) /* the bases the cases are made from load */
		corpus_expect(dir, &want, substr, sizeof(substr));
	char *text = case_input(name, &n);
	int rc = tokenizer_json_build(text, n, NULL, &t, err, sizeof(err));
	ck_assert_msg(rc == want, "case %s: got %d (%s) \"%s\", want %d (%s)", name, rc,
	              status_str(rc), err, want, status_str(want));
	ck_assert_msg(strstr(err, substr) != NULL, "case %s: \"%s\" does not contain \"%s\"", name,
	              err, substr);
	ck_assert(rc == 0 ? t != NULL : t == NULL);
	tokenizer_destroy(t);
	free(text);
}
END_TEST

START_TEST(test_bad_input_found)
{
	ck_assert_msg(bad.n >= 70, "found %d cases", bad.n);
}
END_TEST

static void base64(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		out[k++] = a[v >> 18 & 63];
		out[k++] = a[v >> 12 & 63];
		out[k++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[k++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[k] = '\0';
}

/* A Precompiled charsmap is a double-array trie and strings from the
 * file: random ones (well-formed header) must load or be refused, and
 * encode without reading out of bounds (ASan run) or giving an id or
 * offset outside the vocabulary and the text. */
START_TEST(test_random_charsmaps)
{
	static const char *const texts[] = {"a",
	                                    "ab cd a",
	                                    "\xc3\xa9\xe4\xb8\xad \xef\xbc\xa1",
	                                    "  x\ty  ",
	                                    "\xe2\x80\x8b\xc2\xa0z",
	                                    ""};
	uint32_t seed = 12345;
	int n_loaded = 0;
	for (int round = 0; round < 200; round++) {
		uint8_t blob[4 + 256 + 64];
		char b64[sizeof(blob) * 2], *json = malloc(4096), err[512];
		uint32_t units = 1 + (uint32_t)round % 64, n_str = 1 + (uint32_t)round % 48;
		size_t n = 4 + 4 * units + n_str;
		blob[0] = (uint8_t)(4 * units);
		blob[1] = blob[2] = blob[3] = 0;
		for (size_t i = 4; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			blob[i] = (uint8_t)(seed >> 16);
			if (i >= 4 + 4 * units && round % 2 == 0)
				blob[i] = (uint8_t)('a' + blob[i] % 26); /* printable strings */
		}
		blob[n - 1] = '\0';
		base64(blob, n, b64);
		snprintf(
		    json, 4096,
		    "{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": "
		    "\"%s\"}, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": "
		    "\"\\u2581\", \"prepend_scheme\": \"always\", \"split\": true}, \"model\": "
		    "{\"type\": \"Unigram\", \"unk_id\": 0, \"byte_fallback\": false, \"vocab\": "
		    "[[\"<unk>\", 0], [\"\\u2581\", -1], [\"a\", -2], [\"\\u2581a\", -1.5]]}}",
		    b64);
		struct tokenizer *t = NULL;
		int rc = tokenizer_json_build(json, strlen(json), NULL, &t, err, sizeof(err));
		ck_assert_msg(rc == 0 || rc == STATUS_EFORMAT, "round %d: %d %s", round, rc, err);
		for (size_t k = 0; rc == 0 && k < sizeof(texts) / sizeof(texts[0]); k++) {
			struct encoding e;
			struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
			size_t len = strlen(texts[k]);
			encoding_init(&e);
			int r =
			    tokenizer_encode(t, texts[k], len, NULL, 0, &o, &e, err, sizeof(err));
			ck_assert_msg(r == 0 || r == STATUS_ETOKENIZER, "round %d: %s", round, err);
			for (int32_t i = 0; r == 0 && i < e.n; i++)
				ck_assert(e.ids[i] >= 0 && e.ids[i] < t->vocab.n_tokens &&
				          e.starts[i] >= 0 && e.starts[i] <= e.stops[i] &&
				          (size_t)e.stops[i] <= len);
			encoding_dispose(&e);
		}
		n_loaded += rc == 0;
		tokenizer_destroy(t);
		free(json);
	}
	ck_assert_int_gt(n_loaded, 0);
}
END_TEST

/* The library loads a model whose unk_token is not in its vocabulary and
 * fails the encode that needs it; so does smolserve (422 at the server). */
START_TEST(test_unk_missing)
{
	const char *json =
	    "{\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"model\": {\"type\": "
	    "\"WordPiece\", \"unk_token\": \"[NOPE]\", \"vocab\": {\"[UNK]\": 0, \"hello\": 1}}}";
	struct tokenizer *t = NULL;
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[512];
	ck_assert_int_eq(tokenizer_json_build(json, strlen(json), NULL, &t, err, sizeof(err)), 0);
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, "hello", 5, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 1);
	ck_assert_int_eq(tokenizer_encode(t, "hello x", 7, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_ETOKENIZER);
	ck_assert_ptr_nonnull(strstr(err, "unk_token is not in its vocabulary"));
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

/* Strip with stop > 0 panics in tokenizers 0.23.2 (so make.mjs cannot
 * test it); smolserve strips as the code means to: at most start leading
 * and stop trailing copies of content, never crossing. */
START_TEST(test_strip_decoder)
{
	const char *json = "{\"decoder\": {\"type\": \"Strip\", \"content\": \"_\", \"start\": 1, "
	                   "\"stop\": 2}, \"model\": {\"type\": \"WordPiece\", \"vocab\": "
	                   "{\"[UNK]\": 0, \"__a__\": 1, \"___\": 2, \"_\": 3, \"b_\": 4}}}";
	static const struct {
		int32_t id;
		const char *want;
	} cases[] = {{1, "_a"}, {2, ""}, {3, ""}, {4, "b"}};
	struct tokenizer *t = NULL;
	char err[512], out[32];
	ck_assert_int_eq(tokenizer_json_build(json, strlen(json), NULL, &t, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_ge(
		    tokenizer_decode(t, &cases[i].id, 1, 1, out, sizeof(out), err, sizeof(err)), 0);
		ck_assert_str_eq(out, cases[i].want);
	}
	int32_t all[] = {1, 2, 4};
	ck_assert_int_ge(tokenizer_decode(t, all, 3, 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "_ab");
	tokenizer_destroy(t);
}
END_TEST

/* --- threads and allocation failures --------------------------------------- */

static const char *const RICH_TEXTS[] = {
    "Hello abab 12.5 ``quoted`` <mask> [x]  zzz",
    "ab c a\xc3\xa9\xe4\xb8\xad hello, world",
    "<mask>abab<mask>",
};
#define N_RICH (sizeof(RICH_TEXTS) / sizeof(RICH_TEXTS[0]))

struct thread_arg {
	const struct tokenizer *t;
	struct encoding want[N_RICH];
	int ok;
};

static void *encode_many(void *p)
{
	struct thread_arg *a = p;
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[256];
	encoding_init(&e);
	a->ok = 1;
	for (int k = 0; k < 300 && a->ok; k++) {
		const struct encoding *w = &a->want[(size_t)k % N_RICH];
		const char *s = RICH_TEXTS[(size_t)k % N_RICH];
		a->ok = tokenizer_encode(a->t, s, strlen(s), "ab ab", 5, &o, &e, err,
		                         sizeof(err)) == 0 &&
		        e.n == w->n && memcmp(e.ids, w->ids, (size_t)e.n * sizeof(*e.ids)) == 0 &&
		        memcmp(e.starts, w->starts, (size_t)e.n * sizeof(*e.starts)) == 0;
	}
	encoding_dispose(&e);
	return NULL;
}

/* One tokenizer (regex pre-tokenizers, added tokens, byte fallback), four
 * threads encoding at once: the same results as one. */
START_TEST(test_threads)
{
	struct tokenizer *t = NULL;
	struct thread_arg args[4];
	pthread_t th[4];
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[512];
	size_t n;
	char *text = case_input("ok_rich", &n);
	ck_assert_int_eq(tokenizer_json_build(text, n, NULL, &t, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++) {
		args[i].t = t;
		for (size_t k = 0; k < N_RICH; k++) {
			encoding_init(&args[i].want[k]);
			ck_assert_int_eq(tokenizer_encode(t, RICH_TEXTS[k], strlen(RICH_TEXTS[k]),
			                                  "ab ab", 5, &o, &args[i].want[k], err,
			                                  sizeof(err)),
			                 0);
		}
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, encode_many, &args[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert(args[i].ok);
		for (size_t k = 0; k < N_RICH; k++)
			encoding_dispose(&args[i].want[k]);
	}
	tokenizer_destroy(t);
	free(text);
}
END_TEST

#ifdef HAVE_ALLOC_FAILURES
/* Each call fails its k-th allocation, k = 0, 1, ... until one succeeds:
 * every failure is reported as such and nothing crashes (leaks: the
 * sanitizer run of the other tests), and the result is the same. The file
 * is parsed first: jansson's lexer asserts on some failed mallocs. */
START_TEST(test_alloc_failures)
{
	static const char *const bases[] = {"ok_wordpiece", "ok_bpe", "ok_unigram", "ok_rich"};
	const char *name = bases[_i];
	struct tokenizer *t = NULL;
	struct encoding e, want;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[512], out[256], want_out[256];
	const char *s = RICH_TEXTS[0];
	size_t n;
	int rc;
	long k;
	char *text = case_input(name, &n);
	json_t *root = json_loadb(text, n, 0, NULL);
	ck_assert_ptr_nonnull(root);

	for (k = 0;; k++) {
		alloc_left = k;
		rc = tokenizer_json_build_parsed(root, NULL, &t, err, sizeof(err));
		alloc_left = -1;
		if (rc == 0)
			break;
		ck_assert_msg(alloc_rc_ok(rc, err), "%s: failure %ld: %d %s", name, k, rc, err);
		ck_assert_ptr_null(t);
	}
	ck_assert_int_gt(k, 10);
	encoding_init(&want);
	ck_assert_int_eq(tokenizer_encode(t, s, strlen(s), "ab ab", 5, &o, &want, err, sizeof(err)),
	                 0);
	ck_assert_int_ge(tokenizer_decode(t, want.ids, (size_t)want.n, 1, want_out,
	                                  sizeof(want_out), err, sizeof(err)),
	                 0);
	for (k = 0;; k++) {
		encoding_init(&e);
		alloc_left = k;
		rc = tokenizer_encode(t, s, strlen(s), "ab ab", 5, &o, &e, err, sizeof(err));
		alloc_left = -1;
		if (rc == 0)
			break;
		ck_assert_msg(rc == STATUS_ENOMEM, "%s: encode, failure %ld: %s", name, k, err);
		encoding_dispose(&e);
	}
	ck_assert_int_eq(e.n, want.n);
	ck_assert_mem_eq(e.ids, want.ids, (size_t)e.n * sizeof(*e.ids));
	for (k = 0;; k++) {
		alloc_left = k;
		rc = tokenizer_decode(t, e.ids, (size_t)e.n, 1, out, sizeof(out), err, sizeof(err));
		alloc_left = -1;
		if (rc >= 0)
			break;
		ck_assert_msg(rc == STATUS_ENOMEM, "%s: decode, failure %ld: %s", name, k, err);
	}
	ck_assert_str_eq(out, want_out);
	encoding_dispose(&e);
	encoding_dispose(&want);
	tokenizer_destroy(t);
	json_decref(root);
	free(text);
}
END_TEST
#endif

int main(void)
{
	specs_scan();
	corpus_scan(&bad, "invalid/tokenizer_json");
	Suite *s = suite_create("tokenizer_json");
	TCase *tc = tcase_create("fixtures");
	tcase_add_loop_test(tc, test_folder_from_tokenizer_json, 0, N_FOLDERS);
	tcase_add_loop_test(tc, test_model_outputs_unchanged, 0, N_FOLDERS);
	tcase_add_test(tc, test_generated_found);
	tcase_add_loop_test(tc, test_generated_spec, 0, specs.n);
	suite_add_tcase(s, tc);
	TCase *bi = tcase_create("bad_input");
	tcase_add_test(bi, test_bad_input_found);
	tcase_add_loop_test(bi, test_bad_input_case, 0, bad.n);
	tcase_add_test(bi, test_random_charsmaps);
	tcase_add_test(bi, test_unk_missing);
	tcase_add_test(bi, test_strip_decoder);
	suite_add_tcase(s, bi);
	TCase *rt = tcase_create("robust");
	tcase_add_test(rt, test_threads);
#ifdef HAVE_ALLOC_FAILURES
	tcase_add_loop_test(rt, test_alloc_failures, 0, 4);
#endif
	tcase_set_timeout(rt, 120);
	suite_add_tcase(s, rt);
	return test_run_suite(s);
}

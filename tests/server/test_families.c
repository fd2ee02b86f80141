/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every model family end to end, through `smolserve run` and through HTTP:
 * for each fixture folder, token ids equal Hugging Face's on every case,
 * the last hidden state of every token (embed_all) and the L2-normalised
 * mean pooling (embed) within 1e-4, and for classifiers the logits
 * (predict, raw_scores) within 1e-4; the HTTP answers equal run's.
 *
 * Classifier folders answer the embedding routes with TEI's 424 ("Model is
 * not an embedding model"), through run and HTTP alike; their encoders are
 * checked against Hugging Face by the logits here and by the model suite.
 * Empty texts are TEI's 400 Empty, so the fixtures' empty case is expected
 * to be refused rather than embedded.
 *
 * Special tokens written in the text ("[MASK]", "<s>", ...; the cases
 * tagged special-tokens-in-text) are split out as special tokens, as the
 * reference and text-embeddings-inference's fast tokenizers both do: a
 * client sending "[MASK]" to a BERT model gets the mask token, which is what
 * masked-LM style prompts expect. The test holds smolserve to that.
 *
 * The folders carry tokenizer.json, which smolserve prefers as TEI does:
 * ids and /tokenize's byte offsets are held to expected_fast.json (HF's
 * Rust tokenizers), and hidden states and logits (computed on the slow
 * tokenizers' ids) are compared on the cases where the two tokenizers agree
 * (matches_slow; the others are listed in the fixtures' README and tested
 * in test_tokenizer_json.c).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "fixture_folders.h"
#include "http_client.h"
#include "http_suite.h"
#include "test_util.h"

static const char *const RUN_ARGS[] = {"--max-client-batch-size", "64", NULL};
#define TIMEOUT_MS 60000

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = text ? json_loads(text, JSON_ALLOW_NUL, &jerr) : NULL;
	ck_assert_msg(v != NULL, "not JSON: %s", text ? text : "(null)");
	return v;
}

/* run ROUTE on body; asserts exit 0; parsed stdout. */
static json_t *run(const char *route, const char *folder, const char *body)
{
	char *out = NULL;
	int st = smolserve_run(route, fixture_path(folder), RUN_ARGS, body, strlen(body),
	                       TIMEOUT_MS, &out);
	ck_assert_msg(st == 0, "%s run %s: exit %d: %s", folder, route, st, out ? out : "");
	json_t *v = parse(out);
	free(out);
	return v;
}

static double diff_rows(const json_t *rows, const json_t *ref_field)
{
	size_t n_ref = 0, k = 0;
	float *ref = json_floats(json_object_get(ref_field, "data"), &n_ref);
	ck_assert_ptr_nonnull(ref);
	double d = 0.0;
	size_t i, j;
	json_t *row, *x;
	if (json_is_array(json_array_get(rows, 0))) {
		json_array_foreach(rows, i, row) json_array_foreach(row, j, x)
		{
			ck_assert_uint_lt(k, n_ref);
			d = fmax(d, fabs(json_number_value(x) - ref[k++]));
		}
	} else {
		json_array_foreach(rows, j, x)
		{
			ck_assert_uint_lt(k, n_ref);
			d = fmax(d, fabs(json_number_value(x) - ref[k++]));
		}
	}
	ck_assert_uint_eq(k, n_ref);
	free(ref);
	return d;
}

struct family {
	const char *name;
	json_t *expected, *cases;
	json_t *fast;        /* expected_fast.json's cases, in the same order */
	json_t *single;      /* indices of cases without a pair */
	json_t *predicted;   /* indices of the cases in predict_body */
	char *texts_body;    /* {"inputs": [texts], "truncate": true} */
	char *tokenize_body; /* {"inputs": [texts]} */
	char *predict_body;  /* {"inputs": [[a] | [a, b]], "truncate": true, "raw_scores": true} */
};

static void family_open(struct family *f, const char *name)
{
	f->name = name;
	f->expected = fixture_expected(name);
	f->cases = json_object_get(f->expected, "cases");
	char path[512];
	snprintf(path, sizeof(path), "%s/expected_fast.json", fixture_path(name));
	json_error_t jerr;
	if (access(path, F_OK) == 0) { /* the folder has a tokenizer.json, read first */
		json_t *fast = json_load_file(path, JSON_ALLOW_NUL, &jerr);
		ck_assert_msg(fast != NULL, "%s: %s", path, jerr.text);
		f->fast = json_incref(json_object_get(fast, "cases"));
		json_decref(fast);
	} else { /* only the classic files: the slow ids are the ones to match */
		f->fast = json_array();
		size_t k;
		json_t *c;
		json_array_foreach(f->cases, k, c) json_array_append_new(
		    f->fast,
		    json_pack("{s:O, s:O, s:b}", "name", json_object_get(c, "name"), "input_ids",
		              json_object_get(c, "input_ids"), "matches_slow", 1));
	}
	ck_assert_uint_eq(json_array_size(f->fast), json_array_size(f->cases));
	for (size_t k = 0; k < json_array_size(f->cases); k++)
		ck_assert_str_eq(
		    json_string_value(json_object_get(json_array_get(f->fast, k), "name")),
		    json_string_value(json_object_get(json_array_get(f->cases, k), "name")));
	f->single = json_array();
	f->predicted = json_array();
	json_t *texts = json_array(), *pairs = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(f->cases, i, c)
	{
		json_t *text = json_object_get(c, "text"), *pair = json_object_get(c, "text_pair");
		if (json_is_null(pair) && json_string_length(text) == 0)
			continue; /* TEI refuses it: see test_family_empty_text */
		json_array_append_new(f->predicted, json_integer((json_int_t)i));
		if (json_is_null(pair)) {
			json_array_append_new(f->single, json_integer((json_int_t)i));
			json_array_append(texts, text);
			json_array_append_new(pairs, json_pack("[O]", text));
		} else {
			json_array_append_new(pairs, json_pack("[O, O]", text, pair));
		}
	}
	json_t *b = json_pack("{s:O, s:b}", "inputs", texts, "truncate", 1);
	f->texts_body = json_dumps(b, JSON_ALLOW_NUL | JSON_COMPACT);
	json_decref(b);
	b = json_pack("{s:O}", "inputs", texts);
	f->tokenize_body = json_dumps(b, JSON_ALLOW_NUL | JSON_COMPACT);
	json_decref(b);
	b = json_pack("{s:o, s:b, s:b}", "inputs", pairs, "truncate", 1, "raw_scores", 1);
	f->predict_body = json_dumps(b, JSON_ALLOW_NUL | JSON_COMPACT);
	json_decref(b);
	json_decref(texts);
}

static void family_close(struct family *f)
{
	free(f->texts_body);
	free(f->tokenize_body);
	free(f->predict_body);
	json_decref(f->single);
	json_decref(f->predicted);
	json_decref(f->expected);
	json_decref(f->fast);
}

/* Whether the fast tokenizer's ids for case i are the slow one's. */
static int matches_slow(const struct family *f, size_t i)
{
	return json_is_true(json_object_get(json_array_get(f->fast, i), "matches_slow"));
}

static const json_t *single_case(const struct family *f, size_t k)
{
	return json_array_get(f->cases, (size_t)json_integer_value(json_array_get(f->single, k)));
}

static void check_tokenize(const struct family *f, json_t *got)
{
	ck_assert_uint_eq(json_array_size(got), json_array_size(f->single));
	for (size_t k = 0; k < json_array_size(got); k++) {
		const json_t *c = single_case(f, k);
		if (json_is_true(json_object_get(c, "truncated")))
			continue; /* tokenize reports the whole input */
		size_t i = (size_t)json_integer_value(json_array_get(f->single, k));
		const json_t *ids = json_object_get(json_array_get(f->fast, i), "input_ids"),
		             *toks = json_array_get(got, k);
		ck_assert_msg(json_array_size(toks) == json_array_size(ids),
		              "%s / %s: %zu tokens, want %zu", f->name,
		              json_string_value(json_object_get(c, "name")), json_array_size(toks),
		              json_array_size(ids));
		const json_t *offs = json_object_get(json_array_get(f->fast, i), "byte_offsets");
		for (size_t t = 0; t < json_array_size(ids); t++) {
			const json_t *tok = json_array_get(toks, t), *o = json_array_get(offs, t);
			ck_assert_msg(json_integer_value(json_object_get(tok, "id")) ==
			                  json_integer_value(json_array_get(ids, t)),
			              "%s / %s: token %zu differs", f->name,
			              json_string_value(json_object_get(c, "name")), t);
			if (offs == NULL || json_is_true(json_object_get(tok, "special")))
				continue; /* expected.json has no offsets */
			ck_assert_msg(json_integer_value(json_object_get(tok, "start")) ==
			                      json_integer_value(json_array_get(o, 0)) &&
			                  json_integer_value(json_object_get(tok, "stop")) ==
			                      json_integer_value(json_array_get(o, 1)),
			              "%s / %s: token %zu's offsets differ", f->name,
			              json_string_value(json_object_get(c, "name")), t);
		}
	}
}

static void check_hidden(const struct family *f, json_t *embed_all, json_t *embed)
{
	for (size_t k = 0; k < json_array_size(f->single); k++) {
		const json_t *c = single_case(f, k);
		const char *name = json_string_value(json_object_get(c, "name"));
		if (!matches_slow(f, (size_t)json_integer_value(json_array_get(f->single, k))))
			continue;
		double d = diff_rows(json_array_get(embed_all, k),
		                     json_object_get(c, "last_hidden_state"));
		ck_assert_msg(d <= 1e-4, "%s / %s: hidden state differs by %g", f->name, name, d);
		d = diff_rows(json_array_get(embed, k), json_object_get(c, "mean_pooled_l2norm"));
		ck_assert_msg(d <= 1e-4, "%s / %s: embedding differs by %g", f->name, name, d);
	}
}

static void check_logits(const struct family *f, json_t *got)
{
	json_t *labels = json_object_get(f->expected, "labels");
	ck_assert_uint_eq(json_array_size(got), json_array_size(f->predicted));
	for (size_t i = 0; i < json_array_size(got); i++) {
		size_t idx = (size_t)json_integer_value(json_array_get(f->predicted, i));
		const json_t *c = json_array_get(f->cases, idx);
		if (!matches_slow(f, idx))
			continue;
		size_t n = 0;
		float *ref = json_floats(json_object_get(json_object_get(c, "logits"), "data"), &n);
		size_t j;
		json_t *p;
		json_array_foreach(json_array_get(got, i), j, p)
		{
			const char *label = json_string_value(json_object_get(p, "label"));
			int idx = -1;
			const char *key;
			json_t *v;
			json_object_foreach(labels, key, v) if (strcmp(json_string_value(v),
			                                               label) == 0) idx = atoi(key);
			ck_assert_int_ge(idx, 0);
			double d = fabs(json_number_value(json_object_get(p, "score")) - ref[idx]);
			ck_assert_msg(d <= 1e-4, "%s / %s: logit %s differs by %g", f->name,
			              json_string_value(json_object_get(c, "name")), label, d);
		}
		free(ref);
	}
}

static json_t *post(int port, const char *path, const char *body);

/* A one-label cross-encoder (bert-rerank): predict without raw_scores
 * gives sigmoid(logit) for every predicted case, as the reference's
 * "scores". */
static void check_scores(const struct family *f, json_t *got)
{
	ck_assert_uint_eq(json_array_size(got), json_array_size(f->predicted));
	for (size_t i = 0; i < json_array_size(got); i++) {
		const json_t *c = json_array_get(
		    f->cases, (size_t)json_integer_value(json_array_get(f->predicted, i)));
		double want = json_number_value(
		    json_array_get(json_object_get(json_object_get(c, "scores"), "data"), 0));
		json_t *top = json_array_get(json_array_get(got, i), 0);
		double d = fabs(json_number_value(json_object_get(top, "score")) - want);
		ck_assert_msg(d <= 1e-4, "%s / %s: score differs by %g", f->name,
		              json_string_value(json_object_get(c, "name")), d);
	}
}

/* /rerank of each pair case, its text as the query: the score is the
 * reference's sigmoid(logit) (raw: the logit), through run and HTTP. */
static void check_rerank(const struct family *f, int port)
{
	size_t i;
	json_t *c;
	json_array_foreach(f->cases, i, c)
	{
		if (json_is_null(json_object_get(c, "text_pair")))
			continue;
		for (int raw = 0; raw < 2; raw++) {
			json_t *b = json_pack(
			    "{s:O, s:[O], s:b, s:b}", "query", json_object_get(c, "text"), "texts",
			    json_object_get(c, "text_pair"), "truncate", 1, "raw_scores", raw);
			char *body = json_dumps(b, JSON_COMPACT);
			json_t *got = run("rerank", f->name, body);
			const char *key = raw ? "logits" : "scores";
			double want = json_number_value(
			    json_array_get(json_object_get(json_object_get(c, key), "data"), 0));
			double d = fabs(
			    json_number_value(json_object_get(json_array_get(got, 0), "score")) -
			    want);
			ck_assert_msg(d <= 1e-4, "%s / %s: rerank %s differs by %g", f->name,
			              json_string_value(json_object_get(c, "name")), key, d);
			json_t *h = post(port, "/rerank", body);
			char where[512] = "$";
			ck_assert_msg(json_close(h, got, 1e-6, where, sizeof(where)),
			              "%s: /rerank differs from run at %s", f->name, where);
			json_decref(h);
			json_decref(got);
			free(body);
			json_decref(b);
		}
	}
}

/* The reference's L2-normalised mean pooling of case c (hidden floats). */
static float *pooled(const json_t *c, size_t *n)
{
	return json_floats(json_object_get(json_object_get(c, "mean_pooled_l2norm"), "data"), n);
}

/*
 * The embedding routes beside /embed on the non-empty cases that fit
 * untruncated and that the fast tokenizer splits as the reference does:
 * /similarity (cosines of the reference's pooled embeddings, the first
 * such case as the source) and /v1/embeddings (the pooled embeddings).
 */
static void check_embedding_routes(const struct family *f, int port)
{
	json_t *texts = json_array(), *fit = json_array(), *c;
	size_t i, n = 0, h = 0;
	json_array_foreach(f->cases, i, c) if (json_is_null(json_object_get(c, "text_pair")) &&
	                                       !json_is_true(json_object_get(c, "truncated")) &&
	                                       json_string_length(json_object_get(c, "text")) > 0 &&
	                                       matches_slow(f, i))
	{
		json_array_append(texts, json_object_get(c, "text"));
		json_array_append(fit, c);
	}
	json_t *b = json_pack("{s:{s:O, s:o}}", "inputs", "source_sentence",
	                      json_array_get(texts, 0), "sentences", json_array());
	for (i = 1; i < json_array_size(texts); i++)
		json_array_append(json_object_get(json_object_get(b, "inputs"), "sentences"),
		                  json_array_get(texts, i));
	char *body = json_dumps(b, JSON_COMPACT | JSON_ALLOW_NUL);
	json_t *sim = post(port, "/similarity", body);
	float *src = pooled(json_array_get(fit, 0), &h);
	ck_assert_uint_eq(json_array_size(sim), json_array_size(fit) - 1);
	for (i = 1; i < json_array_size(fit); i++) {
		float *v = pooled(json_array_get(fit, i), &n);
		double dot = 0.0;
		for (size_t k = 0; k < n; k++)
			dot += (double)src[k] * v[k];
		double d = fabs(json_number_value(json_array_get(sim, i - 1)) - dot);
		ck_assert_msg(d <= 1e-4, "%s: similarity %zu differs by %g", f->name, i, d);
		free(v);
	}
	free(src);
	free(body);
	json_decref(b);
	json_decref(sim);

	b = json_pack("{s:O, s:s}", "input", texts, "model", f->name);
	body = json_dumps(b, JSON_COMPACT | JSON_ALLOW_NUL);
	json_t *emb = post(port, "/v1/embeddings", body);
	for (i = 0; i < json_array_size(fit); i++) {
		json_t *got =
		    json_object_get(json_array_get(json_object_get(emb, "data"), i), "embedding");
		double d =
		    diff_rows(got, json_object_get(json_array_get(fit, i), "mean_pooled_l2norm"));
		ck_assert_msg(d <= 1e-4, "%s: /v1/embeddings %zu differs by %g", f->name, i, d);
	}
	free(body);
	json_decref(b);
	json_decref(emb);
	json_decref(texts);
	json_decref(fit);
}

/* /decode of the "plain" case gives its text back (lower-cased by uncased
 * vocabularies). */
static void check_decode(const struct family *f, int port)
{
	size_t i;
	json_t *c;
	json_array_foreach(
	    f->cases, i, c) if (strcmp(json_string_value(json_object_get(c, "name")), "plain") == 0)
	{
		json_t *b = json_pack("{s:O}", "ids", json_object_get(c, "input_ids"));
		char *body = json_dumps(b, JSON_COMPACT);
		json_t *dec = post(port, "/decode", body);
		const char *got = json_string_value(json_array_get(dec, 0));
		const char *want = json_string_value(json_object_get(c, "text"));
		ck_assert_msg(got != NULL && strcasecmp(got, want) == 0, "%s: /decode gave \"%s\"",
		              f->name, got ? got : "(null)");
		free(body);
		json_decref(b);
		json_decref(dec);
	}
}

/* POSTs body to path; asserts 200; parsed answer. */
static json_t *post(int port, const char *path, const char *body)
{
	struct http_response r;
	ck_assert_int_eq(http_request(port, "POST", path, "Content-Type: application/json\r\n",
	                              body, strlen(body), TIMEOUT_MS, &r),
	                 0);
	ck_assert_msg(r.status == 200, "%s: %d %s", path, r.status, r.body);
	json_t *v = parse(r.body);
	http_response_dispose(&r);
	return v;
}

/* run ROUTE on body must be rejected with TEI's 424 for a classifier. */
static void run_424(const char *route, const char *folder, const char *body)
{
	char *out = NULL;
	int st = smolserve_run(route, fixture_path(folder), RUN_ARGS, body, strlen(body),
	                       TIMEOUT_MS, &out);
	ck_assert_msg(st == 1 && out && strstr(out, "Model is not an embedding model") &&
	                  strstr(out, "\"Backend\""),
	              "%s run %s: exit %d: %s", folder, route, st, out ? out : "");
	free(out);
}

START_TEST(test_family_run_and_http)
{
	struct family f;
	family_open(&f, FOLDERS[_i]);
	const char *head = json_string_value(json_object_get(f.expected, "head"));
	int rerank = head != NULL && strcmp(head, "rerank") == 0;
	int seqcls = rerank || (head != NULL && strcmp(head, "seqcls") == 0);
	int classifier = seqcls || (head != NULL && strcmp(head, "tokcls") == 0);

	json_t *tok = run("tokenize", f.name, f.tokenize_body);
	check_tokenize(&f, tok);
	json_t *all = NULL, *emb = NULL;
	if (classifier) {
		run_424("embed_all", f.name, f.texts_body);
		run_424("embed", f.name, f.texts_body);
	} else {
		all = run("embed_all", f.name, f.texts_body);
		emb = run("embed", f.name, f.texts_body);
		check_hidden(&f, all, emb);
	}
	json_t *pred = seqcls ? run("predict", f.name, f.predict_body) : NULL;
	if (seqcls)
		check_logits(&f, pred);
	json_t *scores = NULL;
	if (rerank) {
		json_t *b = json_loads(f.predict_body, JSON_ALLOW_NUL, NULL);
		json_object_set_new(b, "raw_scores", json_false());
		char *body = json_dumps(b, JSON_COMPACT | JSON_ALLOW_NUL);
		scores = run("predict", f.name, body);
		check_scores(&f, scores);
		free(body);
		json_decref(b);
	}

	struct test_server s;
	char err[2048];
	ck_assert_msg(
	    test_server_start(&s, fixture_path(f.name), RUN_ARGS, 20000, err, sizeof(err)) == 0,
	    "%s", err);
	/* Equal JSON, numbers within 1e-6: the server may give OpenBLAS another
	 * thread count than run, which reorders sums in the last bits. */
	json_t *h;
	char where[512] = "$";
	h = post(s.port, "/tokenize", f.tokenize_body);
	ck_assert_msg(json_close(h, tok, 1e-6, where, sizeof(where)),
	              "%s: /tokenize differs from run at %s", f.name, where);
	json_decref(h);
	if (classifier) {
		expect_error(s.port, "POST", "/embed_all", NULL, f.texts_body, 424, "Backend");
		expect_error(s.port, "POST", "/embed", NULL, f.texts_body, 424, "Backend");
	} else {
		h = post(s.port, "/embed_all", f.texts_body);
		ck_assert_msg(json_close(h, all, 1e-6, where, sizeof(where)),
		              "%s: /embed_all differs from run at %s", f.name, where);
		json_decref(h);
		h = post(s.port, "/embed", f.texts_body);
		ck_assert_msg(json_close(h, emb, 1e-6, where, sizeof(where)),
		              "%s: /embed differs from run at %s", f.name, where);
		json_decref(h);
	}
	if (seqcls) {
		h = post(s.port, "/predict", f.predict_body);
		ck_assert_msg(json_close(h, pred, 1e-6, where, sizeof(where)),
		              "%s: /predict differs from run at %s", f.name, where);
		json_decref(h);
	}
	if (rerank)
		check_rerank(&f, s.port);
	if (!classifier)
		check_embedding_routes(&f, s.port);
	check_decode(&f, s.port);
	struct http_response r;
	ck_assert_int_eq(http_request(s.port, "GET", "/info", NULL, NULL, 0, TIMEOUT_MS, &r), 0);
	json_t *info = parse(r.body);
	ck_assert_str_eq(json_string_value(json_object_get(info, "architecture")),
	                 json_string_value(json_object_get(f.expected, "family")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(info, "tokenizer")));
	char tj[512];
	snprintf(tj, sizeof(tj), "%s/tokenizer.json", fixture_path(f.name));
	/* tokenizer.json is preferred whenever the folder has one */
	ck_assert_int_eq(strstr(json_string_value(json_object_get(info, "tokenizer")),
	                        "(tokenizer.json)") != NULL,
	                 access(tj, F_OK) == 0);
	json_decref(info);
	http_response_dispose(&r);
	ck_assert_int_eq(test_server_stop(&s, 20000), 0);

	json_decref(tok);
	json_decref(all);
	json_decref(emb);
	json_decref(pred);
	json_decref(scores);
	family_close(&f);
}
END_TEST

/* The fixtures' empty text: 400 Empty on /embed, /embed_all and /tokenize
 * (TEI), where Hugging Face would encode [CLS] [SEP]. */
START_TEST(test_family_empty_text)
{
	static const char *const routes[] = {"embed", "embed_all", "tokenize"};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char *out = NULL;
		int st = smolserve_run(routes[i], fixture_path("bert"), RUN_ARGS,
		                       "{\"inputs\": \"\"}", 14, TIMEOUT_MS, &out);
		ck_assert_msg(st == 1 && out && strstr(out, "\"Empty\"") &&
		                  strstr(out, "cannot be empty"),
		              "run %s on \"\": exit %d: %s", routes[i], st, out ? out : "");
		free(out);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("families");
	TCase *tc = tcase_create("families");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_family_run_and_http, 0, N_FOLDERS);
	tcase_add_test(tc, test_family_empty_text);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text-embeddings-inference's API as a TEI user meets it, end to end over
 * HTTP on the real server: prompts (prompt_name, the default prompt,
 * include_prompt), dimensions and normalize, token-id inputs, empty
 * strings, truncate against --auto-truncate, the routes TEI serves (GET /,
 * POST / and /invocations by model kind, /ping, /embed_sparse), TEI's model
 * kinds in /info and its 424s, OpenAI's error shape and served model name.
 * Access, headers, metrics, logs and the per-field enumeration are in
 * test_tei_access.c.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_client.h"
#include "http_suite.h"
#include "test_util.h"

static double norm(const json_t *v)
{
	double s = 0;
	for (size_t i = 0; i < json_array_size(v); i++)
		s += pow(json_number_value(json_array_get(v, i)), 2);
	return sqrt(s);
}

/* A model folder in a fresh temporary directory: the files of bert
 * symlinked, plus config_sentence_transformers.json (st_json, NULL: none)
 * and 1_Pooling/config.json (pool_json, NULL: none). Static buffer. */
static const char *prompt_folder(const char *st_json, const char *pool_json)
{
	static char dir[256];
	char path[512];
	snprintf(dir, sizeof(dir), "/tmp/smolserve-tei-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	static const char *const files[] = {"config.json", "model.safetensors", "vocab.txt",
	                                    "tokenizer_config.json", "special_tokens_map.json"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char src[512];
		snprintf(src, sizeof(src), "%s/%s", fixture_path("bert"), files[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		ck_assert_int_eq(symlink(src, path), 0);
	}
	if (st_json != NULL) {
		snprintf(path, sizeof(path), "%s/config_sentence_transformers.json", dir);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(st_json, f);
		fclose(f);
	}
	if (pool_json != NULL) {
		snprintf(path, sizeof(path), "%s/1_Pooling", dir);
		ck_assert_int_eq(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/1_Pooling/config.json", dir);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(pool_json, f);
		fclose(f);
	}
	return dir;
}

/* What `smolserve run route --model dir` answers for body (new ref). */
static json_t *run_in(const char *route, const char *dir, const char *body)
{
	char *out = NULL;
	int st = smolserve_run(route, dir, NULL, body, strlen(body), RUN_MS, &out);
	ck_assert_msg(st == 0, "run %s %s: exit %d %s", route, body, st, out ? out : "");
	json_t *v = json_loads(out, 0, NULL);
	free(out);
	ck_assert_ptr_nonnull(v);
	return v;
}

static void start_in(struct test_server *s, const char *dir, const char *const *args)
{
	static char err[16384];
	if (test_server_start(s, dir, args, START_MS, err, sizeof(err)) != 0)
		ck_abort_msg("cannot start smolserve on %s: %s", dir, err);
}

#define PROMPTS                                                                                    \
	"{\"prompts\": {\"query\": \"query: \", \"passage\": \"passage: \"}, "                     \
	"\"default_prompt_name\": null}"
#define MEAN_POOLING                                                                               \
	"{\"word_embedding_dimension\": 64, \"pooling_mode_cls_token\": false, "                   \
	"\"pooling_mode_mean_tokens\": true, \"include_prompt\": %s}"

/* --- prompts ------------------------------------------------------------- */

START_TEST(test_prompt_name)
{
	struct test_server s;
	start_in(&s, prompt_folder(PROMPTS, NULL), NULL);
	int p = s.port;
	/* the prompt is put before the text, as if the client had written it */
	json_t *a =
	    post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\", \"prompt_name\": \"query\"}");
	json_t *b = post_ok(p, "/embed", NULL, "{\"inputs\": \"query: hello world\"}");
	assert_same(a, b, 1e-6, "/embed prompt_name");
	json_t *c = post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\"}");
	char where[64] = "$";
	ck_assert_msg(!json_close(a, c, 1e-6, where, sizeof(where)), "the prompt changed nothing");
	json_decref(a);
	json_decref(b);
	json_decref(c);
	static const struct {
		const char *path, *with, *without;
	} routes[] = {
	    {"/embed_all", "{\"inputs\": [\"good\"], \"prompt_name\": \"passage\"}",
	     "{\"inputs\": [\"passage: good\"]}"},
	    {"/tokenize", "{\"inputs\": \"hello world\", \"prompt_name\": \"query\"}",
	     "{\"inputs\": \"query: hello world\"}"},
	    {"/v1/embeddings", "{\"input\": \"good\", \"prompt_name\": \"query\"}",
	     "{\"input\": \"query: good\"}"},
	    {"/similarity",
	     "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\", \"c d\"]}, "
	     "\"parameters\": {\"prompt_name\": \"query\"}}",
	     "{\"inputs\": {\"source_sentence\": \"query: a\", \"sentences\": [\"query: b\", "
	     "\"query: c d\"]}}"},
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		a = post_ok(p, routes[i].path, NULL, routes[i].with);
		b = post_ok(p, routes[i].path, NULL, routes[i].without);
		assert_same(a, b, 1e-6, routes[i].path);
		json_decref(a);
		json_decref(b);
	}
	/* offsets point into prompt + text, the string that was tokenized */
	a = post_ok(p, "/tokenize", NULL, "{\"inputs\": \"hello\", \"prompt_name\": \"query\"}");
	json_t *first = json_array_get(json_array_get(a, 0), 1); /* after [CLS]: "q..." */
	ck_assert_msg(strncmp("query", json_string_value(json_object_get(first, "text")), 1) == 0,
	              "%s", json_string_value(json_object_get(first, "text")));
	ck_assert_int_eq((int)json_integer_value(json_object_get(first, "start")), 0);
	json_decref(a);
	/* an unknown name: 422 listing the known ones */
	expect_message(p, "/embed", NULL, "{\"inputs\": \"a\", \"prompt_name\": \"doc\"}", 422,
	               "Validation", "Available prompts: [\"query\", \"passage\"]");
	expect_message(p, "/embed", NULL, "{\"inputs\": \"a\", \"prompt_name\": 3}", 422,
	               "Validation", "prompt_name");
	/* /info lists them */
	struct reply rp = call(p, "GET", "/info", NULL, NULL);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(rp.json, "prompts"), "query")),
	    "query: ");
	reply_dispose(&rp);
	server_stop_ok(&s);

	/* a folder without prompts */
	server_start(&s, "bert", NULL);
	expect_message(s.port, "/embed", NULL, "{\"inputs\": \"a\", \"prompt_name\": \"query\"}",
	               422, "Validation", "no prompts were found");
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_default_prompt)
{
	const char *dir = prompt_folder(PROMPTS, NULL);
	static const char *const by_name[] = {"--default-prompt-name", "query", NULL};
	static const char *const by_text[] = {"--default-prompt", "query: ", NULL};
	const char *const *args[] = {by_name, by_text};
	json_t *want = NULL;
	for (int k = 0; k < 2; k++) {
		struct test_server s;
		start_in(&s, dir, args[k]);
		json_t *a = post_ok(s.port, "/embed", NULL, "{\"inputs\": \"hello world\"}");
		json_t *b = run_in("embed", dir, "{\"inputs\": \"query: hello world\"}");
		/* the default applies without a prompt_name... */
		json_t *c = post_ok(s.port, "/embed", NULL,
		                    "{\"inputs\": \"hello world\", \"prompt_name\": \"passage\"}");
		json_t *d = run_in("embed", dir, "{\"inputs\": \"passage: hello world\"}");
		assert_same(a, b, 1e-6, "default prompt");
		/* ...and a request's prompt_name replaces it */
		assert_same(c, d, 1e-6, "prompt_name over the default");
		if (want)
			assert_same(a, want, 1e-6, "--default-prompt-name vs --default-prompt");
		json_decref(want);
		want = a;
		json_decref(b);
		json_decref(c);
		json_decref(d);
		server_stop_ok(&s);
	}
	json_decref(want);

	/* the folder's own default_prompt_name */
	struct test_server s;
	start_in(&s,
	         prompt_folder("{\"prompts\": {\"query\": \"query: \"}, \"default_prompt_name\": "
	                       "\"query\"}",
	                       NULL),
	         NULL);
	json_t *a = post_ok(s.port, "/embed", NULL, "{\"inputs\": \"hello world\"}");
	json_t *b = post_ok(s.port, "/embed", NULL,
	                    "{\"inputs\": \"hello world\", \"prompt_name\": \"query\"}");
	assert_same(a, b, 1e-6, "the folder's default_prompt_name");
	json_decref(a);
	json_decref(b);
	server_stop_ok(&s);

	/* start-up errors: TEI's messages */
	static const char *const unknown[] = {"--default-prompt-name", "doc", NULL};
	char err[4096];
	ck_assert_int_ne(test_server_start(&s, dir, unknown, START_MS, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "was not found in the Sentence Transformers prompts"), "%s", err);
	static const char *const both[] = {"--default-prompt-name", "query", "--default-prompt",
	                                   "q: ", NULL};
	ck_assert_int_ne(test_server_start(&s, dir, both, START_MS, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "cannot be used with"), "%s", err);
}
END_TEST

/* include_prompt false: mean pooling leaves the prompt's tokens out, as
 * sentence-transformers masks the first len(tokenize(prompt)) - 1. */
START_TEST(test_include_prompt)
{
	char pool[256];
	snprintf(pool, sizeof(pool), MEAN_POOLING, "false");
	struct test_server s;
	start_in(&s, prompt_folder(PROMPTS, pool), NULL);
	int p = s.port;
	json_t *emb =
	    post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\", \"prompt_name\": \"query\"}");
	json_t *all = post_ok(p, "/embed_all", NULL, "{\"inputs\": \"query: hello world\"}");
	json_t *ptok = post_ok(p, "/tokenize", NULL, "{\"inputs\": \"query: \"}");
	size_t skip = json_array_size(json_array_get(ptok, 0)) - 1;
	json_t *rows = json_array_get(all, 0);
	size_t n = json_array_size(rows), h = 64;
	ck_assert_uint_gt(n, skip);
	double mean[64] = {0}, sq = 0;
	for (size_t t = skip; t < n; t++)
		for (size_t k = 0; k < h; k++)
			mean[k] += json_number_value(json_array_get(json_array_get(rows, t), k));
	for (size_t k = 0; k < h; k++) {
		mean[k] /= (double)(n - skip);
		sq += mean[k] * mean[k];
	}
	const json_t *got = json_array_get(emb, 0);
	for (size_t k = 0; k < h; k++)
		ck_assert_msg(fabs(json_number_value(json_array_get(got, k)) - mean[k] / sqrt(sq)) <
		                  1e-5,
		              "dimension %zu", k);
	/* /info says so */
	struct reply rp = call(p, "GET", "/info", NULL, NULL);
	ck_assert(json_is_false(json_object_get(rp.json, "include_prompt")));
	reply_dispose(&rp);
	json_decref(emb);
	json_decref(all);
	json_decref(ptok);
	server_stop_ok(&s);
}
END_TEST

/* --- dimensions, normalize, token ids, empty inputs ---------------------- */

START_TEST(test_dimensions_and_normalize)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	int p = s.port;
	json_t *raw =
	    post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\", \"normalize\": false}");
	json_t *unit = post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\"}");
	ck_assert_double_gt(fabs(norm(json_array_get(raw, 0)) - 1.0), 1e-3);
	ck_assert_double_lt(fabs(norm(json_array_get(unit, 0)) - 1.0), 1e-5);
	json_t *d8 = post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\", \"dimensions\": 8}");
	json_t *d8raw =
	    post_ok(p, "/embed", NULL,
	            "{\"inputs\": \"hello world\", \"dimensions\": 8, \"normalize\": false}");
	ck_assert_int_eq((int)json_array_size(json_array_get(d8, 0)), 8);
	ck_assert_double_lt(fabs(norm(json_array_get(d8, 0)) - 1.0), 1e-5);
	double n8 = 0;
	for (size_t k = 0; k < 8; k++) {
		double r = json_number_value(json_array_get(json_array_get(raw, 0), k));
		ck_assert_double_lt(
		    fabs(json_number_value(json_array_get(json_array_get(d8raw, 0), k)) - r), 1e-6);
		n8 += r * r;
	}
	for (size_t k = 0; k < 8; k++) /* truncate, then normalise */
		ck_assert_double_lt(
		    fabs(json_number_value(json_array_get(json_array_get(d8, 0), k)) -
		         json_number_value(json_array_get(json_array_get(raw, 0), k)) / sqrt(n8)),
		    1e-5);
	static const char *const bad[] = {"0", "65", "\"8\"", "2.5", "-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"inputs\": \"a\", \"dimensions\": %s}", bad[i]);
		expect_error(p, "POST", "/embed", NULL, body, 422, "Validation");
		snprintf(body, sizeof(body), "{\"input\": \"a\", \"dimensions\": %s}", bad[i]);
		expect_error(p, "POST", "/v1/embeddings", NULL, body, 422, "Validation");
	}
	json_decref(raw);
	json_decref(unit);
	json_decref(d8);
	json_decref(d8raw);
	server_stop_ok(&s);
}
END_TEST

/* /embed writes its floats itself (realfmt.h): the same text jansson writes
 * for the same numbers, and the same numbers /v1/embeddings (jansson) gives. */
START_TEST(test_embed_text_is_janssons)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	static const char *const bodies[] = {
	    "{\"inputs\": [\"hello world\", \"a b c\"], \"normalize\": false}",
	    "{\"inputs\": \"hello world\", \"dimensions\": 8}", "{\"inputs\": \"hello world\"}"};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct reply rp = call(s.port, "POST", "/embed", NULL, bodies[i]);
		ck_assert_int_eq(rp.status, 200);
		ck_assert_ptr_nonnull(rp.json);
		char *again = json_dumps(rp.json, JSON_COMPACT | JSON_REAL_PRECISION(9));
		ck_assert_str_eq(rp.r.body, again);
		free(again);
		reply_dispose(&rp);
	}
	json_t *mine = post_ok(s.port, "/embed", NULL, "{\"inputs\": \"hello world\"}");
	json_t *openai = post_ok(s.port, "/v1/embeddings", NULL, "{\"input\": \"hello world\"}");
	const json_t *a = json_array_get(mine, 0);
	const json_t *b =
	    json_object_get(json_array_get(json_object_get(openai, "data"), 0), "embedding");
	ck_assert_int_eq((int)json_array_size(a), (int)json_array_size(b));
	ck_assert_int_gt((int)json_array_size(a), 0);
	for (size_t k = 0; k < json_array_size(a); k++)
		ck_assert(json_number_value(json_array_get(a, k)) ==
		          json_number_value(json_array_get(b, k)));
	json_decref(mine);
	json_decref(openai);
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_token_id_inputs)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	int p = s.port;
	json_t *tok = post_ok(p, "/tokenize", NULL, "{\"inputs\": \"hello world\"}");
	char ids[256] = "[";
	for (size_t t = 0; t < json_array_size(json_array_get(tok, 0)); t++)
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%lld", t ? ", " : "",
		         (long long)json_integer_value(
		             json_object_get(json_array_get(json_array_get(tok, 0), t), "id")));
	strcat(ids, "]");
	json_decref(tok);
	char body[1024];
	json_t *text = post_ok(p, "/embed", NULL, "{\"inputs\": \"hello world\"}");
	snprintf(body, sizeof(body), "{\"inputs\": %s}", ids);
	json_t *single = post_ok(p, "/embed", NULL, body);
	assert_same(single, text, 1e-6, "[ids] vs the text");
	snprintf(body, sizeof(body), "{\"inputs\": [%s, \"hello world\"]}", ids);
	json_t *batch = post_ok(p, "/embed", NULL, body);
	ck_assert_int_eq((int)json_array_size(batch), 2);
	assert_same(json_array_get(batch, 0), json_array_get(text, 0), 1e-5, "[[ids], text][0]");
	assert_same(json_array_get(batch, 1), json_array_get(text, 0), 1e-5, "[[ids], text][1]");
	snprintf(body, sizeof(body), "{\"input\": [%s]}", ids);
	json_t *oa = post_ok(p, "/v1/embeddings", NULL, body);
	assert_same(json_object_get(json_array_get(json_object_get(oa, "data"), 0), "embedding"),
	            json_array_get(text, 0), 1e-5, "OpenAI [[ids]]");
	snprintf(body, sizeof(body), "{\"inputs\": %s}", ids);
	json_t *all = post_ok(p, "/embed_all", NULL, body);
	ck_assert_int_eq((int)json_array_size(json_array_get(all, 0)), 4);
	json_decref(all);
	json_decref(oa);
	json_decref(batch);
	json_decref(single);
	json_decref(text);
	/* validated against the vocabulary and the length limit */
	expect_message(p, "/embed", NULL, "{\"inputs\": [2, 99999]}", 422, "Validation",
	               "token ids from 0 to");
	expect_error(p, "POST", "/embed", NULL, "{\"inputs\": [2, -1]}", 422, "Validation");
	expect_error(p, "POST", "/embed", NULL, "{\"inputs\": [2, 1.5]}", 422, "Validation");
	expect_error(p, "POST", "/embed", NULL, "{\"inputs\": [[2], [\"a\"]]}", 422, "Validation");
	char *many = malloc(2048);
	strcpy(many, "{\"inputs\": [2");
	for (int i = 0; i < 199; i++)
		strcat(many, ", 150");
	strcat(many, "]");
	char *long_body = malloc(2200);
	snprintf(long_body, 2200, "%s}", many);
	expect_message(p, "/embed", NULL, long_body, 422, "Validation",
	               "must have less than 128 tokens. Given: 200");
	snprintf(long_body, 2200, "%s, \"truncate\": true}", many);
	json_t *cut = post_ok(p, "/embed_all", NULL, long_body);
	ck_assert_int_eq((int)json_array_size(json_array_get(cut, 0)), 128);
	json_decref(cut);
	free(many);
	free(long_body);
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_empty_inputs)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	int p = s.port;
	static const struct {
		const char *path, *body, *message;
	} cases[] = {
	    {"/embed", "{\"inputs\": \"\"}", "`inputs` cannot be empty"},
	    {"/embed", "{\"inputs\": [\"a\", \"\"]}", "`inputs` cannot be empty"},
	    {"/embed", "{\"inputs\": []}", "`inputs` cannot be empty"},
	    {"/embed_all", "{\"inputs\": \"\"}", "`inputs` cannot be empty"},
	    {"/tokenize", "{\"inputs\": \"\"}", "`inputs` cannot be empty"},
	    {"/v1/embeddings", "{\"input\": \"\"}", "`inputs` cannot be empty"},
	    {"/similarity", "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": []}}",
	     "`inputs.sentences` cannot be empty"},
	    {"/decode", "{\"ids\": []}", "`input_ids` cannot be empty"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_message(p, cases[i].path, NULL, cases[i].body, 400, "Empty",
		               cases[i].message);
	server_stop_ok(&s);
	server_start(&s, "bert-rerank", NULL);
	expect_message(s.port, "/rerank", NULL, "{\"query\": \"a\", \"texts\": []}", 400, "Empty",
	               "`texts` cannot be empty");
	expect_message(s.port, "/predict", NULL, "{\"inputs\": \"\"}", 400, "Empty",
	               "cannot be empty");
	server_stop_ok(&s);
}
END_TEST

/* truncate absent takes --auto-truncate; an explicit false wins (TEI). */
START_TEST(test_truncate_over_auto_truncate)
{
	static const char *const args[] = {"--auto-truncate", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	char body[2048] = "{\"inputs\": \"hello";
	for (int i = 0; i < 199; i++)
		strcat(body, " hello");
	strcat(body, "\"");
	char with[2100];
	snprintf(with, sizeof(with), "%s}", body);
	json_decref(post_ok(s.port, "/embed", NULL, with));
	snprintf(with, sizeof(with), "%s, \"truncate\": false}", body);
	expect_error(s.port, "POST", "/embed", NULL, with, 422, "Validation");
	snprintf(with, sizeof(with), "%s, \"truncate\": null}", body);
	json_decref(post_ok(s.port, "/embed", NULL, with));
	server_stop_ok(&s);
}
END_TEST

/* --- routes and model kinds ---------------------------------------------- */

static const char *const SIMILARITY_TASK[] = {"--task", "sentence-similarity", NULL};

START_TEST(test_root_routes_by_kind)
{
	static const struct {
		const char *fixture, *body, *same_as, *kind;
		const char *const *args;
	} kinds[] = {
	    {"bert", "{\"inputs\": \"hello world\"}", "/embed", "embedding", NULL},
	    {"bert-seqcls", "{\"inputs\": \"I like you.\"}", "/predict", "classifier", NULL},
	    {"bert-rerank", "{\"query\": \"a\", \"texts\": [\"b\", \"c\"]}", "/rerank", "reranker",
	     NULL},
	    {"bert", "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\", \"a\"]}}",
	     "/similarity", "embedding", SIMILARITY_TASK},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct test_server s;
		server_start(&s, kinds[i].fixture, kinds[i].args);
		json_t *want = post_ok(s.port, kinds[i].same_as, NULL, kinds[i].body);
		json_t *root = post_ok(s.port, "/", NULL, kinds[i].body);
		json_t *inv = post_ok(s.port, "/invocations", NULL, kinds[i].body);
		if (strcmp(kinds[i].kind, "classifier") == 0) {
			/* POST / answers one text as the Inference API: [[{label, score}]] */
			json_t *wrapped = json_pack("[O]", want);
			assert_same(root, wrapped, 1e-6, "POST / (classifier)");
			json_decref(wrapped);
		} else {
			assert_same(root, want, 1e-6, "POST /");
		}
		assert_same(inv, want, 1e-6, "POST /invocations");
		json_decref(want);
		json_decref(root);
		json_decref(inv);
		static const char *const health[] = {"/", "/ping", "/health"};
		for (size_t h = 0; h < 3; h++) {
			struct reply rp = call(s.port, "GET", health[h], NULL, NULL);
			ck_assert_msg(rp.status == 200, "GET %s: %d", health[h], rp.status);
			reply_dispose(&rp);
		}
		struct reply rp = call(s.port, "GET", "/info", NULL, NULL);
		json_t *type = json_object_get(rp.json, "model_type");
		ck_assert_msg(json_is_object(json_object_get(type, kinds[i].kind)), "%s: %s",
		              kinds[i].fixture, rp.r.body);
		if (strcmp(kinds[i].kind, "embedding") != 0) {
			json_t *c = json_object_get(type, kinds[i].kind);
			ck_assert(json_object_size(json_object_get(c, "id2label")) ==
			          json_object_size(json_object_get(c, "label2id")));
			ck_assert_uint_ge(json_object_size(json_object_get(c, "id2label")), 1);
		} else {
			ck_assert_str_eq(json_string_value(json_object_get(
			                     json_object_get(type, "embedding"), "pooling")),
			                 "mean");
		}
		reply_dispose(&rp);
		server_stop_ok(&s);
	}
}
END_TEST

/* A route that does not fit the model: TEI's 424 and message, counted as
 * te_request_failure{err="model_type"}. */
START_TEST(test_route_does_not_fit_model)
{
	static const struct {
		const char *fixture, *path, *body, *message;
	} cases[] = {
	    {"bert-seqcls", "/embed", "{\"inputs\": \"a\"}", "Model is not an embedding model"},
	    {"bert-seqcls", "/embed_all", "{\"inputs\": \"a\"}", "Model is not an embedding model"},
	    {"bert-seqcls", "/similarity",
	     "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"]}}",
	     "Model is not an embedding model"},
	    {"bert-seqcls", "/v1/embeddings", "{\"input\": \"a\"}",
	     "Model is not an embedding model"},
	    {"bert-seqcls", "/rerank", "{\"query\": \"a\", \"texts\": [\"b\"]}",
	     "model is not a re-ranker model"},
	    {"bert", "/rerank", "{\"query\": \"a\", \"texts\": [\"b\"]}",
	     "model is not a re-ranker model"},
	    {"bert", "/predict", "{\"inputs\": \"a\"}", "Model is not a classifier model"},
	    {"bert", "/predict_tokens", "{\"inputs\": \"a\"}", "Model is not a token classifier"},
	    {"bert", "/embed_sparse", "{\"inputs\": \"a\"}",
	     "Model is not an embedding model with SPLADE pooling"},
	    {"bert-tokcls", "/predict", "{\"inputs\": \"a\"}", "Model is not a classifier model"},
	};
	struct test_server s = {0};
	const char *running = NULL;
	int n = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (running == NULL || strcmp(running, cases[i].fixture) != 0) {
			if (running != NULL)
				server_stop_ok(&s);
			server_start(&s, cases[i].fixture, NULL);
			running = cases[i].fixture;
			n = 0;
		}
		expect_message(s.port, cases[i].path, NULL, cases[i].body, 424, "Backend",
		               cases[i].message);
		n += 2;
		ck_assert_double_eq(get_metric(s.port, "te_request_failure{err=\"model_type\","
		                                       "status=\"424\"}"),
		                    n);
	}
	/* a body TEI could not parse is 422 before the model kind is looked at */
	expect_error(s.port, "POST", "/predict", NULL, "{\"inputs\": 5}", 422, "Validation");
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_info_fields)
{
	static const char *const args[] = {"--served-model-name", "tiny-bert", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	struct reply rp = call(s.port, "GET", "/info", NULL, NULL);
	static const char *const fields[] = {"model_id",
	                                     "model_sha",
	                                     "model_dtype",
	                                     "model_type",
	                                     "max_concurrent_requests",
	                                     "max_input_length",
	                                     "max_batch_tokens",
	                                     "max_batch_requests",
	                                     "max_client_batch_size",
	                                     "auto_truncate",
	                                     "version",
	                                     "docker_label",
	                                     "prompts",
	                                     "served_model_name"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ck_assert_msg(json_object_get(rp.json, fields[i]) != NULL, "/info lacks %s: %s",
		              fields[i], rp.r.body);
	ck_assert_str_eq(json_string_value(json_object_get(rp.json, "served_model_name")),
	                 "tiny-bert");
	ck_assert_str_eq(json_string_value(json_object_get(rp.json, "model_dtype")), "float32");
	reply_dispose(&rp);
	json_t *v =
	    post_ok(s.port, "/v1/embeddings", NULL, "{\"input\": \"a\", \"model\": \"other\"}");
	ck_assert_str_eq(json_string_value(json_object_get(v, "model")), "tiny-bert");
	json_decref(v);
	server_stop_ok(&s);
}
END_TEST

/* Errors on the OpenAI routes: {"message", "code", "type"}; elsewhere
 * TEI's {"error", "error_type"}. */
START_TEST(test_openai_error_shape)
{
	static const char *const args[] = {"--max-client-batch-size", "2", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	static const struct {
		const char *body;
		int status;
		const char *type;
	} cases[] = {
	    {"{\"input\": 5}", 422, "Validation"},
	    {"{\"input\": \"\"}", 400, "Empty"},
	    {"{\"input\": [\"a\", \"b\", \"c\"]}", 422, "Validation"},
	    {"{\"input\": \"a\", \"model\": 7}", 422, "Validation"},
	    {"{\"input\": \"a\", \"user\": []}", 422, "Validation"},
	    {"not json", 422, "Validation"},
	};
	for (int path = 0; path < 2; path++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			expect_error(s.port, "POST", path ? "/embeddings" : "/v1/embeddings", NULL,
			             cases[i].body, cases[i].status, cases[i].type);
	server_stop_ok(&s);
	server_start(&s, "bert-seqcls", NULL);
	expect_error(s.port, "POST", "/v1/embeddings", NULL, "{\"input\": \"a\"}", 424, "Backend");
	server_stop_ok(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tei_api");
	TCase *tc = tcase_create("tei_api");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_prompt_name);
	tcase_add_test(tc, test_default_prompt);
	tcase_add_test(tc, test_include_prompt);
	tcase_add_test(tc, test_dimensions_and_normalize);
	tcase_add_test(tc, test_embed_text_is_janssons);
	tcase_add_test(tc, test_token_id_inputs);
	tcase_add_test(tc, test_empty_inputs);
	tcase_add_test(tc, test_truncate_over_auto_truncate);
	tcase_add_test(tc, test_root_routes_by_kind);
	tcase_add_test(tc, test_route_does_not_fit_model);
	tcase_add_test(tc, test_info_fields);
	tcase_add_test(tc, test_openai_error_shape);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

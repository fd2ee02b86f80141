/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `smolserve run ROUTE` end to end: the real binary, a request on stdin, the
 * TEI-shaped JSON on stdout compared with Hugging Face's reference numbers,
 * and every rejection (exit 1 + {"error", "error_type"}) provoked.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

struct result {
	int exit_code;
	json_t *json; /* parsed stdout or NULL */
};

/* Runs smolserve run ROUTE --model FIXTURE EXTRA with body (n bytes). */
static struct result run(const char *route, const char *fixture, const char *extra,
                         const char *body, size_t n)
{
	char in_path[] = "/tmp/smolserve-test-XXXXXX";
	int fd = mkstemp(in_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq((int)write(fd, body, n), (int)n);
	close(fd);
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "'%s' run %s --model '%s' %s < %s 2>/dev/null",
	         getenv("SMOLSERVE_BIN"), route, fixture_path(fixture), extra ? extra : "",
	         in_path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	json_error_t jerr;
	struct result r;
	r.json = json_loadf(p, JSON_DISABLE_EOF_CHECK, &jerr);
	int st = pclose(p);
	r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	unlink(in_path);
	return r;
}

static struct result run_s(const char *route, const char *fixture, const char *extra,
                           const char *body)
{
	return run(route, fixture, extra, body, strlen(body));
}

static json_t *find_case(json_t *expected, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(expected, "cases"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	}
	ck_abort_msg("no case %s", name);
	return NULL;
}

static double diff_to(const json_t *arr, const json_t *c, const char *key)
{
	size_t n = 0, n_ref = 0;
	float *got = json_floats(arr, &n);
	float *ref = json_floats(json_object_get(json_object_get(c, key), "data"), &n_ref);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(ref);
	ck_assert_int_eq((int)n, (int)n_ref);
	double d = max_abs_diff(got, ref, n);
	free(got);
	free(ref);
	return d;
}

static void assert_error(struct result r, const char *type, const char *substring)
{
	ck_assert_int_eq(r.exit_code, 1);
	ck_assert_ptr_nonnull(r.json);
	const char *t = json_string_value(json_object_get(r.json, "error_type"));
	const char *msg = json_string_value(json_object_get(r.json, "error"));
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(t, type);
	ck_assert_msg(strstr(msg, substring) != NULL, "\"%s\" lacks \"%s\"", msg, substring);
	json_decref(r.json);
}

START_TEST(test_embed_matches_reference)
{
	json_t *exp = fixture_expected("bert");
	struct result r = run_s("embed", "bert", NULL, "{\"inputs\": \"Hello, world!\"}");
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_int_eq((int)json_array_size(r.json), 1);
	ck_assert_double_le(
	    diff_to(json_array_get(r.json, 0), find_case(exp, "hello"), "mean_pooled_l2norm"),
	    1e-4);
	json_decref(r.json);

	r = run_s("embed", "bert", "--pooling cls",
	          "{\"inputs\": [\"Hello, world!\"], \"normalize\": false}");
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_int_eq((int)json_array_size(r.json), 1);
	ck_assert_double_le(diff_to(json_array_get(r.json, 0), find_case(exp, "hello"), "cls"),
	                    1e-4);
	json_decref(r.json);
	/* an empty text is TEI's 400 Empty, even in a batch */
	assert_error(run_s("embed", "bert", "--pooling cls",
	                   "{\"inputs\": [\"Hello, world!\", \"\"], \"normalize\": false}"),
	             "Empty", "cannot be empty");

	/* every case's text, truncated like the reference, in one request */
	json_t *inputs = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(exp, "cases"), i, c)
	{
		if (json_is_null(json_object_get(c, "text_pair")) &&
		    json_string_length(json_object_get(c, "text")) > 0) /* "" is 400 Empty */
			json_array_append(inputs, json_object_get(c, "text"));
	}
	json_t *body = json_pack("{s:o, s:b}", "inputs", inputs, "truncate", 1);
	char *text = json_dumps(body, JSON_ALLOW_NUL);
	r = run_s("embed", "bert", "--max-client-batch-size 64", text);
	ck_assert_int_eq(r.exit_code, 0);
	size_t k = 0;
	json_array_foreach(json_object_get(exp, "cases"), i, c)
	{
		if (!json_is_null(json_object_get(c, "text_pair")) ||
		    json_string_length(json_object_get(c, "text")) == 0)
			continue;
		double d = diff_to(json_array_get(r.json, k++), c, "mean_pooled_l2norm");
		ck_assert_msg(d <= 1e-4, "case %s differs by %g",
		              json_string_value(json_object_get(c, "name")), d);
	}
	ck_assert_int_eq((int)k, (int)json_array_size(r.json));
	free(text);
	json_decref(body);
	json_decref(r.json);
	json_decref(exp);
}
END_TEST

START_TEST(test_embed_all_matches_reference)
{
	json_t *exp = fixture_expected("distilbert");
	struct result r = run_s("embed_all", "distilbert", NULL,
	                        "{\"inputs\": [\"The quick brown fox jumps over the lazy dog.\"]}");
	ck_assert_int_eq(r.exit_code, 0);
	json_t *tokens = json_array_get(r.json, 0);
	json_t *flat = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(tokens, i, row) json_array_extend(flat, row);
	ck_assert_double_le(diff_to(flat, find_case(exp, "plain"), "last_hidden_state"), 1e-4);
	json_decref(flat);
	json_decref(r.json);
	json_decref(exp);
}
END_TEST

/* predict: labels sorted by score, equal to the reference's probs. */
static void check_predictions(json_t *list, json_t *c, const char *key, json_t *labels)
{
	size_t n = 0;
	float *ref = json_floats(json_object_get(json_object_get(c, key), "data"), &n);
	ck_assert_int_eq((int)json_array_size(list), (int)n);
	double prev = 1e30;
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(list, i);
		const char *label = json_string_value(json_object_get(p, "label"));
		double score = json_number_value(json_object_get(p, "score"));
		ck_assert_double_le(score, prev);
		prev = score;
		int found = -1;
		for (size_t j = 0; j < n; j++) {
			char key_j[32];
			snprintf(key_j, sizeof(key_j), "%zu", j);
			if (strcmp(json_string_value(json_object_get(labels, key_j)), label) == 0)
				found = (int)j;
		}
		ck_assert_int_ge(found, 0);
		ck_assert_double_eq_tol(score, ref[found], 1e-4);
	}
	free(ref);
}

START_TEST(test_predict_matches_reference)
{
	json_t *exp = fixture_expected("bert-seqcls");
	json_t *labels = json_object_get(exp, "labels");
	struct result r = run_s("predict", "bert-seqcls", NULL, "{\"inputs\": \"Hello, world!\"}");
	ck_assert_int_eq(r.exit_code, 0);
	check_predictions(r.json, find_case(exp, "hello"), "probs", labels);
	json_decref(r.json);

	r = run_s("predict", "bert-seqcls", NULL,
	          "{\"inputs\": [\"How old are you?\", \"I am six years old.\"], \"raw_scores\": "
	          "true}");
	ck_assert_int_eq(r.exit_code, 0);
	check_predictions(r.json, find_case(exp, "pair"), "logits", labels);
	json_decref(r.json);

	r = run_s("predict", "bert-seqcls", NULL,
	          "{\"inputs\": [[\"Hello, world!\"], [\"How old are you?\", \"I am six years "
	          "old.\"]]}");
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_int_eq((int)json_array_size(r.json), 2);
	check_predictions(json_array_get(r.json, 0), find_case(exp, "hello"), "probs", labels);
	check_predictions(json_array_get(r.json, 1), find_case(exp, "pair"), "probs", labels);
	json_decref(r.json);

	json_t *c = find_case(exp, "pair_long_truncated");
	json_t *body = json_pack("{s:[O,O], s:b}", "inputs", json_object_get(c, "text"),
	                         json_object_get(c, "text_pair"), "truncate", 1);
	char *text = json_dumps(body, 0);
	r = run_s("predict", "bert-seqcls", NULL, text);
	ck_assert_int_eq(r.exit_code, 0);
	check_predictions(r.json, c, "probs", labels);
	free(text);
	json_decref(body);
	json_decref(r.json);

	r = run_s("predict", "distilbert-seqcls", NULL, "{\"inputs\": \"Hello, world!\"}");
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_int_eq((int)json_array_size(r.json), 3);
	json_decref(r.json);
	json_decref(exp);
}
END_TEST

START_TEST(test_tokenize_ids_and_offsets)
{
	struct result r = run_s("tokenize", "bert", NULL, "{\"inputs\": \"Hello, world!\"}");
	ck_assert_int_eq(r.exit_code, 0);
	json_t *toks = json_array_get(r.json, 0);
	ck_assert_int_eq((int)json_array_size(toks), 6);
	static const char *const texts[] = {"[CLS]", "Hello", ",", "world", "!", "[SEP]"};
	static const int starts[] = {-1, 0, 5, 7, 12, -1};
	for (size_t i = 0; i < 6; i++) {
		json_t *t = json_array_get(toks, i);
		ck_assert_str_eq(json_string_value(json_object_get(t, "text")), texts[i]);
		int special = json_is_true(json_object_get(t, "special"));
		ck_assert_int_eq(special, starts[i] < 0);
		if (special)
			ck_assert(json_is_null(json_object_get(t, "start")));
		else
			ck_assert_int_eq((int)json_integer_value(json_object_get(t, "start")),
			                 starts[i]);
	}
	ck_assert_int_eq((int)json_integer_value(json_object_get(json_array_get(toks, 0), "id")),
	                 2);
	json_decref(r.json);

	r = run_s("tokenize", "bert", NULL,
	          "{\"inputs\": [\"Hello\"], \"add_special_tokens\": false}");
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_int_eq((int)json_array_size(json_array_get(r.json, 0)), 1);
	json_decref(r.json);
}
END_TEST

START_TEST(test_rejections)
{
	char *long_text = malloc(4000);
	strcpy(long_text, "{\"inputs\": \"");
	for (int i = 0; i < 300; i++)
		strcat(long_text, "word ");
	strcat(long_text, "\"}");
	assert_error(run_s("embed", "bert", NULL, long_text), "Validation",
	             "must have less than 128 tokens");
	struct result ok = run_s("embed", "bert", "--auto-truncate", long_text);
	ck_assert_int_eq(ok.exit_code, 0);
	json_decref(ok.json);
	free(long_text);

	assert_error(run_s("embed", "bert", NULL, "{\"inputs\": "), "Validation", "invalid JSON");
	assert_error(run_s("embed", "bert", NULL, "[1, 2]"), "Validation", "JSON object");
	assert_error(run_s("embed", "bert", NULL, "{\"input\": \"x\"}"), "Validation",
	             "missing field `inputs`");
	assert_error(run_s("embed", "bert", NULL, "{\"inputs\": 5}"), "Validation", "inputs");
	assert_error(run_s("embed", "bert", NULL, "{\"inputs\": [\"a\", 7]}"), "Validation",
	             "inputs[1]");
	assert_error(run_s("embed", "bert", NULL, "{\"inputs\": []}"), "Empty", "cannot be empty");
	assert_error(run_s("embed", "bert", "--max-client-batch-size 2",
	                   "{\"inputs\": [\"a\", \"b\", \"c\"]}"),
	             "Validation", "batch size 3");
	assert_error(run_s("embed", "bert", NULL, "{\"inputs\": \"a\", \"normalize\": \"yes\"}"),
	             "Validation", "normalize");
	assert_error(
	    run_s("embed", "bert", NULL, "{\"inputs\": \"a\", \"truncation_direction\": \"up\"}"),
	    "Validation", "truncation_direction");
	assert_error(run_s("predict", "bert", NULL, "{\"inputs\": \"a\"}"), "Backend",
	             "Model is not a classifier model");
	assert_error(run_s("predict", "bert-seqcls", NULL, "{\"inputs\": [[\"a\", \"b\", \"c\"]]}"),
	             "Validation", "pair");
	static const char bad_utf8[] = "{\"inputs\": \"caf\xc3\x28\"}";
	assert_error(run("embed", "bert", NULL, bad_utf8, sizeof(bad_utf8) - 1), "Validation",
	             "invalid JSON");
	assert_error(run_s("embed", "bert", "--payload-limit 10", "{\"inputs\": \"hello world\"}"),
	             "Validation", "payload too large");

	struct result r = run_s("nope", "bert", NULL, "{}");
	ck_assert_int_eq(r.exit_code, 2);
	r = run_s("embed", "does-not-exist", NULL, "{\"inputs\": \"a\"}");
	ck_assert_int_eq(r.exit_code, 2);
	r = run_s("embed", "bert", "--pooling max", "{\"inputs\": \"a\"}");
	ck_assert_int_eq(r.exit_code, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("run_cli");
	TCase *tc = tcase_create("run");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_embed_matches_reference);
	tcase_add_test(tc, test_embed_all_matches_reference);
	tcase_add_test(tc, test_predict_matches_reference);
	tcase_add_test(tc, test_tokenize_ids_and_offsets);
	tcase_add_test(tc, test_rejections);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text-embeddings-inference's API, the rest (see test_tei_api.c): API keys
 * on every protected and every open route, CORS with preflights, TEI's
 * headers and metric labels, the JSON log, and every request field of
 * TEI's types.rs checked to be read on every route that has it
 * (test_fields_enumerated) and to do what TEI says (test_fields_effects).
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

/* --- API keys and CORS ---------------------------------------------------- */

static const struct {
	const char *method, *path, *body;
} PROTECTED[] = {
    {"POST", "/embed", "{\"inputs\": \"a\"}"},
    {"POST", "/embed_all", "{\"inputs\": \"a\"}"},
    {"POST", "/embed_sparse", "{\"inputs\": \"a\"}"},
    {"POST", "/predict", "{\"inputs\": \"a\"}"},
    {"POST", "/rerank", "{\"query\": \"a\", \"texts\": [\"b\"]}"},
    {"POST", "/similarity", "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"]}}"},
    {"POST", "/tokenize", "{\"inputs\": \"a\"}"},
    {"POST", "/decode", "{\"ids\": [2]}"},
    {"POST", "/predict_tokens", "{\"inputs\": \"a\"}"},
    {"POST", "/v1/embeddings", "{\"input\": \"a\"}"},
    {"POST", "/embeddings", "{\"input\": \"a\"}"},
    {"POST", "/", "{\"inputs\": \"a\"}"},
    {"POST", "/invocations", "{\"inputs\": \"a\"}"},
    {"GET", "/info", NULL},
};
static const char *const OPEN[] = {"/health",  "/",     "/ping",
                                   "/metrics", "/docs", "/api-doc/openapi.json"};

static void check_api_key(int port, const char *key)
{
	char good[128], wrong[128], lower[128];
	snprintf(good, sizeof(good), "Authorization: Bearer %s\r\n", key);
	snprintf(wrong, sizeof(wrong), "Authorization: Bearer %sx\r\n", key);
	snprintf(lower, sizeof(lower), "Authorization: bearer %s\r\n", key);
	const char *refused[] = {NULL, wrong, "Authorization: Basic eDp5\r\n",
	                         "Authorization: Bearer\r\n"};
	for (size_t i = 0; i < sizeof(PROTECTED) / sizeof(PROTECTED[0]); i++) {
		for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
			struct reply rp = call(port, PROTECTED[i].method, PROTECTED[i].path,
			                       refused[k], PROTECTED[i].body);
			ck_assert_msg(rp.status == 401, "%s %s (%s): %d", PROTECTED[i].method,
			              PROTECTED[i].path, refused[k] ? refused[k] : "no key",
			              rp.status);
			const char *www = http_header(&rp.r, "WWW-Authenticate");
			ck_assert_msg(www && strcmp(www, "Bearer") == 0, "WWW-Authenticate %s",
			              www ? www : "(none)");
			reply_dispose(&rp);
		}
		const char *accepted[] = {good, lower};
		for (int k = 0; k < 2; k++) {
			struct reply rp = call(port, PROTECTED[i].method, PROTECTED[i].path,
			                       accepted[k], PROTECTED[i].body);
			ck_assert_msg(rp.status != 401 && rp.status != 404 && rp.status != 405,
			              "%s %s with the key: %d %s", PROTECTED[i].method,
			              PROTECTED[i].path, rp.status, rp.r.body);
			reply_dispose(&rp);
		}
	}
	for (size_t i = 0; i < sizeof(OPEN) / sizeof(OPEN[0]); i++) {
		struct reply rp = call(port, "GET", OPEN[i], NULL, NULL);
		ck_assert_msg(rp.status == 200, "GET %s without a key: %d", OPEN[i], rp.status);
		reply_dispose(&rp);
	}
	expect_error(port, "POST", "/embed", NULL, "{\"inputs\": \"a\"}", 401, "Unauthorized");
	expect_error(port, "POST", "/v1/embeddings", NULL, "{\"input\": \"a\"}", 401,
	             "Unauthorized");
}

START_TEST(test_api_key)
{
	static const char *const args[] = {"--api-key", "s3cret-key", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	check_api_key(s.port, "s3cret-key");
	ck_assert_double_ge(get_metric(s.port, "te_request_failure{err=\"unauthorized\","
	                                       "status=\"401\"}"),
	                    1);
	char *log = test_server_log(&s);
	ck_assert_msg(log && strstr(log, "s3cret") == NULL, "the key is in the log:\n%s", log);
	free(log);
	server_stop_ok(&s);
	/* the environment variable, as TEI's API_KEY */
	setenv("API_KEY", "from-env", 1);
	server_start(&s, "bert", NULL);
	check_api_key(s.port, "from-env");
	server_stop_ok(&s);
	unsetenv("API_KEY");
}
END_TEST

START_TEST(test_cors)
{
	struct test_server s;
	/* TEI's default: any origin */
	server_start(&s, "bert", NULL);
	struct reply rp =
	    call(s.port, "POST", "/embed", "Origin: http://example.org\r\n", "{\"inputs\": \"a\"}");
	ck_assert_int_eq(rp.status, 200);
	ck_assert_str_eq(http_header(&rp.r, "Access-Control-Allow-Origin"), "*");
	reply_dispose(&rp);
	server_stop_ok(&s);

	static const char *const args[] = {"--cors-allow-origin",
	                                   "http://a.example",
	                                   "--cors-allow-origin",
	                                   "http://b.example",
	                                   "--api-key",
	                                   "k",
	                                   NULL};
	server_start(&s, "bert", args);
	static const char *const allowed[] = {"http://a.example", "http://b.example"};
	for (int i = 0; i < 2; i++) {
		char h[256];
		snprintf(h, sizeof(h),
		         "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n"
		         "Access-Control-Request-Headers: content-type, authorization\r\n",
		         allowed[i]);
		/* a preflight needs no key */
		rp = call(s.port, "OPTIONS", "/embed", h, NULL);
		ck_assert_int_eq(rp.status, 200);
		ck_assert_str_eq(http_header(&rp.r, "Access-Control-Allow-Origin"), allowed[i]);
		ck_assert_ptr_nonnull(
		    strstr(http_header(&rp.r, "Access-Control-Allow-Methods"), "POST"));
		const char *ah = http_header(&rp.r, "Access-Control-Allow-Headers");
		ck_assert_msg(ah && strstr(ah, "content-type") && strstr(ah, "authorization"), "%s",
		              ah ? ah : "(none)");
		ck_assert_ptr_nonnull(strstr(http_header(&rp.r, "Vary"), "Origin"));
		reply_dispose(&rp);
		snprintf(h, sizeof(h), "Origin: %s\r\nAuthorization: Bearer k\r\n", allowed[i]);
		rp = call(s.port, "POST", "/embed", h, "{\"inputs\": \"a\"}");
		ck_assert_int_eq(rp.status, 200);
		ck_assert_str_eq(http_header(&rp.r, "Access-Control-Allow-Origin"), allowed[i]);
		ck_assert_ptr_nonnull(
		    strstr(http_header(&rp.r, "Access-Control-Expose-Headers"), "x-compute-time"));
		reply_dispose(&rp);
	}
	/* an origin not in the list: answered, without Access-Control-Allow-Origin */
	rp = call(s.port, "OPTIONS", "/embed",
	          "Origin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n", NULL);
	ck_assert_ptr_null(http_header(&rp.r, "Access-Control-Allow-Origin"));
	ck_assert_ptr_null(http_header(&rp.r, "Access-Control-Allow-Methods"));
	reply_dispose(&rp);
	rp = call(s.port, "POST", "/embed",
	          "Origin: http://evil.example\r\nAuthorization: Bearer k\r\n",
	          "{\"inputs\": \"a\"}");
	ck_assert_int_eq(rp.status, 200);
	ck_assert_ptr_null(http_header(&rp.r, "Access-Control-Allow-Origin"));
	reply_dispose(&rp);
	server_stop_ok(&s);
}
END_TEST

/* --- headers, metrics, logs ----------------------------------------------- */

START_TEST(test_headers_and_metric_labels)
{
	static const char *const args[] = {"--max-client-batch-size", "2", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	struct reply rp =
	    call(s.port, "POST", "/embed", NULL, "{\"inputs\": [\"h\\u00e9llo\", \"ab\"]}");
	ck_assert_int_eq(rp.status, 200);
	ck_assert_str_eq(http_header(&rp.r, "x-compute-type"), "cpu");
	ck_assert_str_eq(http_header(&rp.r, "x-compute-characters"), "7"); /* characters */
	reply_dispose(&rp);
	expect_error(s.port, "POST", "/embed", NULL, "{\"inputs\": [\"a\", \"b\", \"c\"]}", 422,
	             "Validation");
	json_decref(post_ok(s.port, "/embed", NULL, "{\"inputs\": \"a\"}"));
	expect_error(s.port, "GET", "/embed", NULL, NULL, 405, NULL); /* not a request TEI counts */
	char *m = get_metrics(s.port);
	ck_assert_double_eq(
	    metric(m, "te_request_count{method=\"batch\",smolserve_route=\"embed\"}"), 2);
	ck_assert_double_eq(
	    metric(m, "te_request_count{method=\"single\",smolserve_route=\"embed\"}"), 1);
	ck_assert_double_eq(
	    metric(m, "te_request_success{method=\"batch\",smolserve_route=\"embed\"}"), 1);
	ck_assert_double_eq(metric(m, "te_request_failure{err=\"batch_size\",status=\"422\"}"), 1);
	ck_assert_double_eq(metric(m, "te_embed_count"), 3);
	ck_assert_double_eq(metric(m, "te_embed_success"), 3);
	ck_assert_double_eq(metric(m, "te_embed_inference_duration_count"), 3);
	ck_assert_double_eq(metric(m, "te_predict_count"), 0);
	free(m);
	server_stop_ok(&s);
}
END_TEST

/* Every log line of a --json-output server is a JSON object with an RFC
 * 3339 timestamp, a level and a message; 404s and 4xx carry the error. */
START_TEST(test_json_log)
{
	static const char *const args[] = {"--json-output", NULL};
	setenv("OTLP_ENDPOINT", "http://collector:4317", 1);
	struct test_server s;
	server_start(&s, "bert", args);
	unsetenv("OTLP_ENDPOINT");
	expect_error(s.port, "GET", "/nope", NULL, NULL, 404, NULL);
	expect_error(s.port, "GET", "/embed", NULL, NULL, 405, NULL);
	expect_error(s.port, "POST", "/embed", NULL, "{\"inputs\": 5}", 422, "Validation");
	json_decref(post_ok(s.port, "/embed", NULL, "{\"inputs\": \"a\"}"));
	ck_assert_int_eq(test_server_signal(&s, SIGTERM), 0);
	ck_assert_int_eq(test_server_wait(&s, STOP_MS), 0);
	char *log = test_server_log(&s);
	test_server_stop(&s, STOP_MS);
	ck_assert_ptr_nonnull(log);
	int n = 0, saw_404 = 0, saw_405 = 0, saw_422 = 0, saw_warn = 0, saw_listen = 0,
	    saw_drain = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"), n++) {
		json_error_t jerr;
		json_t *v = json_loads(line, 0, &jerr);
		ck_assert_msg(json_is_object(v), "not a JSON line: %s", line);
		const char *ts = json_string_value(json_object_get(v, "timestamp"));
		ck_assert_msg(ts && strlen(ts) >= 20 && ts[4] == '-' && ts[10] == 'T' &&
		                  ts[strlen(ts) - 1] == 'Z',
		              "timestamp: %s", line);
		ck_assert_msg(json_string_value(json_object_get(v, "level")) &&
		                  json_string_value(json_object_get(v, "message")),
		              "level, message: %s", line);
		const char *msg = json_string_value(json_object_get(v, "message"));
		saw_404 |= strstr(msg, "/nope 404") != NULL;
		saw_405 |= strstr(msg, "/embed 405") != NULL;
		saw_422 |= strstr(msg, "/embed 422") != NULL &&
		           json_string_value(json_object_get(v, "error")) != NULL;
		saw_warn |= strstr(msg, "OTLP_ENDPOINT") != NULL;
		saw_listen |= strstr(msg, "listening on") != NULL;
		saw_drain |= strstr(msg, "drained, exiting") != NULL;
		json_decref(v);
	}
	ck_assert_msg(n >= 6 && saw_404 && saw_405 && saw_422 && saw_warn && saw_listen &&
	                  saw_drain,
	              "lines %d 404 %d 405 %d 422 %d warn %d listen %d drain %d", n, saw_404,
	              saw_405, saw_422, saw_warn, saw_listen, saw_drain);
	free(log);
}
END_TEST

/* --- every request field of TEI's types.rs, per route ---------------------- */

/*
 * For each route, a valid body and each field TEI's types.rs gives it: the
 * field set to a value of the wrong JSON type must be refused (422), which
 * proves the route reads it rather than dropping it; a field TEI does not
 * know, even with a wrong type, must be ignored (200), as TEI ignores it.
 */
START_TEST(test_fields_enumerated)
{
	static const struct {
		const char *fixture, *path, *base; /* base: the body without its closing '}' */
		const char *fields[8];
		const char *unknown; /* a field of another route: ignored here */
	} routes[] = {
	    {"bert",
	     "/embed",
	     "{\"inputs\": \"a\"",
	     {"truncate", "truncation_direction", "prompt_name", "normalize", "dimensions"},
	     "raw_scores"},
	    {"bert",
	     "/embed_all",
	     "{\"inputs\": \"a\"",
	     {"truncate", "truncation_direction", "prompt_name"},
	     "normalize"},
	    {"bert",
	     "/tokenize",
	     "{\"inputs\": \"a\"",
	     {"add_special_tokens", "prompt_name"},
	     "truncate"},
	    {"bert", "/decode", "{\"ids\": [2]", {"skip_special_tokens"}, "inputs"},
	    {"bert",
	     "/v1/embeddings",
	     "{\"input\": \"a\"",
	     {"model", "user", "encoding_format", "dimensions", "prompt_name"},
	     "truncate"},
	    {"bert",
	     "/similarity",
	     "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"]}",
	     {"parameters"},
	     "normalize"},
	    {"bert-seqcls",
	     "/predict",
	     "{\"inputs\": \"a\"",
	     {"truncate", "truncation_direction", "raw_scores"},
	     "prompt_name"},
	    {"bert-rerank",
	     "/rerank",
	     "{\"query\": \"a\", \"texts\": [\"b\"]",
	     {"truncate", "truncation_direction", "raw_scores", "return_text"},
	     "normalize"},
	};
	static const char WRONG[] = "{\"wrong\": \"type\"}";
	struct test_server s = {0};
	const char *running = NULL;
	for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++) {
		if (running == NULL || strcmp(running, routes[r].fixture) != 0) {
			if (running != NULL)
				server_stop_ok(&s);
			server_start(&s, routes[r].fixture, NULL);
			running = routes[r].fixture;
		}
		char body[512];
		snprintf(body, sizeof(body), "%s}", routes[r].base);
		json_decref(post_ok(s.port, routes[r].path, NULL, body));
		for (int f = 0; routes[r].fields[f] != NULL; f++) {
			snprintf(body, sizeof(body), "%s, \"%s\": %s}", routes[r].base,
			         routes[r].fields[f],
			         strcmp(routes[r].fields[f], "parameters") == 0 ? "\"x\"" : WRONG);
			expect_error(s.port, "POST", routes[r].path, NULL, body, 422, "Validation");
		}
		snprintf(body, sizeof(body), "%s, \"%s\": %s}", routes[r].base, routes[r].unknown,
		         WRONG);
		json_decref(post_ok(s.port, routes[r].path, NULL, body));
		/* the required inputs */
		expect_error(s.port, "POST", routes[r].path, NULL, "{}", 422, "Validation");
	}
	/* similarity's parameters, one by one */
	static const char *const params[] = {"truncate", "truncation_direction", "prompt_name"};
	server_stop_ok(&s);
	server_start(&s, "bert", NULL);
	for (size_t i = 0; i < 3; i++) {
		char body[256];
		snprintf(body, sizeof(body),
		         "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\"]}, "
		         "\"parameters\": {\"%s\": %s}}",
		         params[i], WRONG);
		expect_error(s.port, "POST", "/similarity", NULL, body, 422, "Validation");
	}
	server_stop_ok(&s);
}
END_TEST

/* Each field changes the answer as TEI says (the ones not covered above). */
START_TEST(test_fields_effects)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	int p = s.port;
	char where[64] = "$";
	/* truncation_direction: left keeps the end */
	char words[1200] = "good";
	for (int i = 0; i < 150; i++)
		strcat(words, " hello");
	char b1[1400], b2[1400];
	snprintf(b1, sizeof(b1), "{\"inputs\": \"%s\", \"truncate\": true}", words);
	snprintf(b2, sizeof(b2),
	         "{\"inputs\": \"%s\", \"truncate\": true, \"truncation_direction\": \"left\"}",
	         words);
	json_t *r = post_ok(p, "/embed", NULL, b1), *l = post_ok(p, "/embed", NULL, b2);
	ck_assert(!json_close(r, l, 1e-6, where, sizeof(where)));
	json_decref(r);
	json_decref(l);
	/* similarity's parameters.truncate */
	char sim[1500];
	snprintf(sim, sizeof(sim),
	         "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"%s\"]}}", words);
	expect_error(p, "POST", "/similarity", NULL, sim, 422, "Validation");
	snprintf(sim, sizeof(sim),
	         "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"%s\"]}, "
	         "\"parameters\": {\"truncate\": true}}",
	         words);
	json_decref(post_ok(p, "/similarity", NULL, sim));
	/* add_special_tokens, skip_special_tokens */
	json_t *t1 = post_ok(p, "/tokenize", NULL, "{\"inputs\": \"a\"}");
	json_t *t0 =
	    post_ok(p, "/tokenize", NULL, "{\"inputs\": \"a\", \"add_special_tokens\": false}");
	ck_assert_uint_eq(json_array_size(json_array_get(t1, 0)),
	                  json_array_size(json_array_get(t0, 0)) + 2);
	json_decref(t1);
	json_decref(t0);
	json_t *d1 = post_ok(p, "/decode", NULL, "{\"ids\": [2, 150, 3]}");
	json_t *d0 =
	    post_ok(p, "/decode", NULL, "{\"ids\": [2, 150, 3], \"skip_special_tokens\": false}");
	ck_assert_uint_gt(strlen(json_string_value(json_array_get(d0, 0))),
	                  strlen(json_string_value(json_array_get(d1, 0))));
	json_decref(d1);
	json_decref(d0);
	/* model and user are accepted and ignored */
	json_t *o1 = post_ok(p, "/v1/embeddings", NULL, "{\"input\": \"a\"}");
	json_t *o2 = post_ok(p, "/v1/embeddings", NULL,
	                     "{\"input\": \"a\", \"model\": \"x\", \"user\": \"u\"}");
	assert_same(o1, o2, 1e-6, "model and user");
	json_decref(o1);
	json_decref(o2);
	server_stop_ok(&s);
	/* rerank: raw_scores, return_text */
	server_start(&s, "bert-rerank", NULL);
	json_t *a = post_ok(s.port, "/rerank", NULL, "{\"query\": \"a\", \"texts\": [\"b\"]}");
	json_t *b = post_ok(s.port, "/rerank", NULL,
	                    "{\"query\": \"a\", \"texts\": [\"b\"], \"raw_scores\": true, "
	                    "\"return_text\": true}");
	ck_assert_ptr_null(json_object_get(json_array_get(a, 0), "text"));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(b, 0), "text")), "b");
	ck_assert(json_number_value(json_object_get(json_array_get(a, 0), "score")) !=
	          json_number_value(json_object_get(json_array_get(b, 0), "score")));
	json_decref(a);
	json_decref(b);
	server_stop_ok(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tei_access");
	TCase *tc = tcase_create("tei_access");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_api_key);
	tcase_add_test(tc, test_cors);
	tcase_add_test(tc, test_headers_and_metric_labels);
	tcase_add_test(tc, test_json_log);
	tcase_add_test(tc, test_fields_enumerated);
	tcase_add_test(tc, test_fields_effects);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

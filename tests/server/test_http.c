/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP service end to end, one request at a time: the real `smolserve
 * serve` on 127.0.0.1 with port 0, spoken to over sockets. Every route must
 * answer exactly what `smolserve run` answers for the same body; /health,
 * /ping, /info and /metrics say what they should; every error has TEI's
 * status and JSON shape; /metrics passes promtool. Behaviour under load
 * (batching, overload, drains, deadlines, disconnects) is test_http_load.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "http_suite.h"
#include "test_util.h"

/* --- 1. every route answers what `smolserve run` answers ----------------- */

START_TEST(test_routes_embedding_model)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	static const struct {
		const char *path, *body;
	} cases[] = {
	    {"/embed", "{\"inputs\": \"Hello, world!\"}"},
	    {"/embed", "{\"inputs\": [\"Hello, world!\", \"the quick brown fox\", \"a\"], "
	               "\"normalize\": false}"},
	    {"/embed", "{\"inputs\": \"hello world good morning\", \"truncate\": true, "
	               "\"truncation_direction\": \"left\"}"},
	    {"/embed_all", "{\"inputs\": [\"hello world\", \"good morning to you\"]}"},
	    {"/embed_all", "{\"inputs\": \"the lazy dog\"}"},
	    {"/tokenize", "{\"inputs\": [\"Hello, world!\", \"我喜欢学习中文\"]}"},
	    {"/tokenize", "{\"inputs\": \"hello [MASK] world\", \"add_special_tokens\": false}"},
	    {"/similarity", "{\"inputs\": {\"source_sentence\": \"hello world\", \"sentences\": "
	                    "[\"good morning\", \"hello world\", \"the lazy dog\"]}}"},
	    {"/decode", "{\"ids\": [2, 150, 151, 3]}"},
	    {"/decode", "{\"ids\": [[2, 150, 3], [151]], \"skip_special_tokens\": false}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		json_decref(
		    check_route(s.port, cases[i].path, cases[i].path + 1, "bert", cases[i].body));

	/* one kept-alive connection carries several requests, model-bound
	 * (suspended and resumed) or not */
	json_t *ref = reference("embed", "bert", cases[0].body);
	int fd = http_connect(s.port, REQUEST_MS);
	ck_assert_int_ge(fd, 0);
	for (int k = 0; k < 3; k++) {
		char req[512];
		int n =
		    snprintf(req, sizeof(req),
		             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n%s",
		             k == 1 ? "/tokenize" : "/embed", strlen(cases[0].body), cases[0].body);
		ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
		struct reply rp;
		memset(&rp, 0, sizeof(rp));
		ck_assert_int_eq(http_read_response(fd, REQUEST_MS, &rp.r), 0);
		rp.json = json_loadb(rp.r.body, rp.r.body_len, 0, NULL);
		ck_assert_msg(rp.r.status == 200, "kept-alive request %d: %d", k, rp.r.status);
		char where[256] = "$";
		ck_assert_msg(k == 1 || json_close(rp.json, ref, FLOAT_TOL, where, sizeof(where)),
		              "kept-alive request %d differs at %s", k, where);
		reply_dispose(&rp);
	}
	close(fd);
	json_decref(ref);
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_routes_predict)
{
	struct test_server s;
	server_start(&s, "bert-seqcls", NULL);
	static const char *const bodies[] = {
	    "{\"inputs\": \"I like you.\"}",
	    "{\"inputs\": [\"I like you.\", \"I love you.\"]}",
	    "{\"inputs\": [[\"I like you.\"], [\"I like you.\", \"I love you.\"], [\"hi\"]]}",
	    "{\"inputs\": \"I like you.\", \"raw_scores\": true}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *v = check_route(s.port, "/predict", "predict", "bert-seqcls", bodies[i]);
		ck_assert(json_is_array(v) && json_array_size(v) > 0);
		json_decref(v);
	}
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_routes_rerank)
{
	struct test_server s;
	server_start(&s, "bert-rerank", NULL);
	static const char *const bodies[] = {
	    "{\"query\": \"what is deep learning?\", \"texts\": [\"deep learning is a kind of "
	    "machine learning\", \"pizza and pasta\", \"hello\"]}",
	    "{\"query\": \"the lazy dog\", \"texts\": [\"a quick brown fox\", \"the dog\"], "
	    "\"raw_scores\": true, \"return_text\": true}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *v = check_route(s.port, "/rerank", "rerank", "bert-rerank", bodies[i]);
		ck_assert(json_is_array(v) && json_array_size(v) > 0);
		json_decref(v);
	}
	server_stop_ok(&s);
}
END_TEST

/* Base64 of little-endian float32s (OpenAI's encoding) into floats;
 * NULL if malformed. */
static float *base64_floats(const char *s, size_t *n)
{
	static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(s);
	if (len % 4 != 0)
		return NULL;
	unsigned char *bytes = malloc(len / 4 * 3 + 1);
	size_t nb = 0;
	for (size_t i = 0; bytes != NULL && i < len; i += 4) {
		unsigned v = 0;
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			const char *p = s[i + k] == '=' ? NULL : strchr(A, s[i + k]);
			if (s[i + k] == '=')
				pad++;
			else if (p == NULL || s[i + k] == '\0' || pad) {
				free(bytes);
				return NULL;
			}
			v = v << 6 | (unsigned)(p ? p - A : 0);
		}
		bytes[nb++] = (unsigned char)(v >> 16);
		if (pad < 2)
			bytes[nb++] = (unsigned char)(v >> 8);
		if (pad < 1)
			bytes[nb++] = (unsigned char)v;
	}
	if (bytes == NULL || nb % 4 != 0) {
		free(bytes);
		return NULL;
	}
	float *f = malloc(nb ? nb : 4);
	for (size_t i = 0; f != NULL && i < nb / 4; i++) {
		uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
		             (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
		memcpy(&f[i], &u, sizeof(u));
	}
	free(bytes);
	*n = nb / 4;
	return f;
}

START_TEST(test_routes_openai)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	static const char INPUTS[] = "[\"hello world\", \"the quick brown fox jumps over the "
	                             "lazy dog\"]";
	char body_f[512], body_b[512];
	snprintf(body_f, sizeof(body_f), "{\"input\": %s, \"model\": \"tiny\"}", INPUTS);
	snprintf(body_b, sizeof(body_b),
	         "{\"input\": %s, \"model\": \"tiny\", \"encoding_format\": \"base64\"}", INPUTS);
	char tok_body[512], embed_body_[512];
	snprintf(tok_body, sizeof(tok_body), "{\"inputs\": %s}", INPUTS);
	snprintf(embed_body_, sizeof(embed_body_), "{\"inputs\": %s}", INPUTS);
	json_t *tokens = check_route(s.port, "/tokenize", "tokenize", "bert", tok_body);
	json_t *embeds = check_route(s.port, "/embed", "embed", "bert", embed_body_);
	int n_tokens = 0;
	for (size_t i = 0; i < json_array_size(tokens); i++)
		n_tokens += (int)json_array_size(json_array_get(tokens, i));
	struct reply rp = call(s.port, "POST", "/embed", NULL, embed_body_);
	const char *xt = http_header(&rp.r, "x-compute-tokens");
	ck_assert_msg(xt != NULL && atoi(xt) == n_tokens, "x-compute-tokens %s, expected %d",
	              xt ? xt : "(none)", n_tokens);
	reply_dispose(&rp);

	static const char *const paths[] = {"/v1/embeddings", "/embeddings"};
	for (int p = 0; p < 2; p++) {
		json_t *f = check_route(s.port, paths[p], "v1/embeddings", "bert", body_f);
		json_t *b = check_route(s.port, paths[p], "v1/embeddings", "bert", body_b);
		json_decref(check_route(s.port, paths[p], "v1/embeddings", "bert",
		                        "{\"input\": \"hello world\", \"dimensions\": 16}"));
		ck_assert_str_eq(json_string_value(json_object_get(f, "object")), "list");
		/* TEI answers with the served model name, whatever the request says */
		ck_assert_str_eq(json_string_value(json_object_get(f, "model")), model_dir("bert"));
		json_t *usage = json_object_get(f, "usage");
		ck_assert_double_eq(number_at(json_object_get(usage, "prompt_tokens")), n_tokens);
		ck_assert_double_eq(number_at(json_object_get(usage, "total_tokens")), n_tokens);
		ck_assert(json_equal(usage, json_object_get(b, "usage")));
		json_t *df = json_object_get(f, "data"), *db = json_object_get(b, "data");
		ck_assert_int_eq((int)json_array_size(df), 2);
		ck_assert_int_eq((int)json_array_size(db), 2);
		for (size_t i = 0; i < 2; i++) {
			json_t *ef = json_object_get(json_array_get(df, i), "embedding");
			json_t *eb = json_object_get(json_array_get(db, i), "embedding");
			ck_assert_double_eq(
			    number_at(json_object_get(json_array_get(db, i), "index")), (int)i);
			size_t nf = 0, nb = 0, ne = 0;
			float *vf = json_floats(ef, &nf);
			float *vb =
			    json_is_string(eb) ? base64_floats(json_string_value(eb), &nb) : NULL;
			float *ve = json_floats(json_array_get(embeds, i), &ne);
			ck_assert_msg(vf && vb && ve, "embedding %zu: floats, base64, /embed", i);
			ck_assert_int_eq((int)nf, 64);
			ck_assert_int_eq((int)nb, 64);
			ck_assert_int_eq((int)ne, 64);
			ck_assert_double_le(max_abs_diff(vf, vb, nf), FLOAT_TOL);
			ck_assert_double_le(max_abs_diff(vf, ve, nf), FLOAT_TOL);
			free(vf);
			free(vb);
			free(ve);
		}
		json_decref(f);
		json_decref(b);
	}
	json_decref(tokens);
	json_decref(embeds);
	server_stop_ok(&s);
}
END_TEST

/* --- 2. health, ping, info, metrics --------------------------------------- */

START_TEST(test_health_info_metrics)
{
	static const char *const args[] = {"--max-batch-tokens", "4096",
	                                   "--max-concurrent-requests", "77", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	struct reply rp = call(s.port, "GET", "/health", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);
	rp = call(s.port, "GET", "/ping", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);

	rp = call(s.port, "GET", "/info", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	assert_json_content(&rp);
	json_t *info = rp.json;
	ck_assert_str_eq(json_string_value(json_object_get(info, "model_id")), model_dir("bert"));
	ck_assert_double_eq(number_at(json_object_get(info, "max_input_length")), 128);
	ck_assert_double_eq(number_at(json_object_get(info, "max_batch_tokens")), 4096);
	ck_assert_double_eq(number_at(json_object_get(info, "max_concurrent_requests")), 77);
	ck_assert_double_ge(number_at(json_object_get(info, "workers")), 1);
	ck_assert_double_ge(number_at(json_object_get(info, "blas_threads")), 1);
	ck_assert_msg(json_string_length(json_object_get(info, "version")) > 0, "version");
	ck_assert_msg(
	    json_is_object(json_object_get(json_object_get(info, "model_type"), "embedding")),
	    "model_type: %s", rp.r.body);
	reply_dispose(&rp);

	for (int i = 0; i < 2; i++) {
		rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"hello\"}");
		ck_assert_int_eq(rp.status, 200);
		reply_dispose(&rp);
	}
	expect_error(s.port, "POST", "/embed", NULL, "{\"inputs\": []}", 400, "Empty");
	rp = call(s.port, "GET", "/metrics", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	const char *ct = http_header(&rp.r, "Content-Type");
	ck_assert_msg(ct != NULL && strncmp(ct, "text/plain", 10) == 0, "Content-Type %s",
	              ct ? ct : "(none)");
	static const char *const names[] = {
	    "# TYPE te_request_count counter",
	    "te_request_success",
	    "te_request_failure",
	    "te_queue_size",
	    "te_request_duration_bucket",
	    "te_request_queue_duration_bucket",
	    "te_request_inference_duration",
	    "te_batch_next_size_bucket",
	    "te_batch_next_tokens_bucket",
	    "smolserve_dropped_requests_total",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(strstr(rp.r.body, names[i]) != NULL, "/metrics lacks %s", names[i]);
	const char *m = rp.r.body;
	/* {"inputs": []} is a single input for TEI (an empty list of ids) */
	ck_assert_double_eq(
	    metric(m, "te_request_count{method=\"single\",smolserve_route=\"embed\"}"), 3);
	ck_assert_double_eq(
	    metric(m, "te_request_count{method=\"batch\",smolserve_route=\"embed\"}"), 0);
	ck_assert_double_eq(
	    metric(m, "te_request_success{method=\"single\",smolserve_route=\"embed\"}"), 2);
	ck_assert_double_eq(metric(m, "te_request_failure{err=\"validation\",status=\"400\"}"), 1);
	ck_assert_double_eq(metric(m, "te_embed_count"), 2);
	ck_assert_double_eq(metric(m, "te_embed_success"), 2);
	ck_assert_double_eq(metric(m, "te_embed_duration_count"), 2);
	ck_assert_double_eq(metric(m, "te_request_duration_count"), 3);
	ck_assert_double_eq(metric(m, "te_batch_next_size_count"), 2);
	reply_dispose(&rp);
	server_stop_ok(&s);
}
END_TEST

/* --- 3. every error status ------------------------------------------------ */

/* n words "hello" as a JSON string body for route embed, extra fields
 * appended (malloc'd). */
static char *long_body(int n_words, const char *extra)
{
	size_t cap = (size_t)n_words * 6 + strlen(extra) + 32, len = 0;
	char *b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	len += (size_t)snprintf(b + len, cap - len, "{\"inputs\": \"");
	for (int i = 0; i < n_words; i++)
		len += (size_t)snprintf(b + len, cap - len, "%shello", i ? " " : "");
	snprintf(b + len, cap - len, "\"%s}", extra);
	return b;
}

START_TEST(test_errors_validation)
{
	static const char *const args[] = {"--max-client-batch-size", "2", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	int p = s.port;
	/* malformed JSON and wrong types: 422 Validation */
	static const char *const bad[] = {
	    "{\"inputs\": ",
	    "not json",
	    "",
	    "[1, 2]",
	    "{}",
	    "{\"inputs\": 5}",
	    "{\"inputs\": [\"a\", 5]}",
	    "{\"inputs\": \"a\", \"normalize\": \"yes\"}",
	    "{\"inputs\": \"a\", \"truncate\": 1}",
	    "{\"inputs\": \"a\", \"truncation_direction\": \"up\"}",
	    "{\"inputs\": \"a\", \"inputs\": \"b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(p, "POST", "/embed", NULL, bad[i], 422, "Validation");
	expect_error(p, "POST", "/rerank", NULL, "{\"query\": \"a\", \"texts\": \"b\"}", 422,
	             "Validation");
	expect_error(p, "POST", "/predict", NULL, "{\"inputs\": \"a\"}", 424, "Backend");
	expect_error(p, "POST", "/decode", NULL, "{\"ids\": [99999]}", 422, "Validation");
	expect_error(p, "POST", "/v1/embeddings", NULL,
	             "{\"input\": \"a\", \"encoding_format\": \"hex\"}", 422, "Validation");

	/* empty and too many inputs */
	expect_error(p, "POST", "/embed", NULL, "{\"inputs\": []}", 400, "Empty");
	expect_error(p, "POST", "/v1/embeddings", NULL, "{\"input\": []}", 400, "Empty");
	expect_error(p, "POST", "/embed", NULL, "{\"inputs\": [\"a\", \"b\", \"c\"]}", 422,
	             "Validation");
	struct reply rp = call(p, "POST", "/embed", NULL, "{\"inputs\": [\"a\", \"b\"]}");
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);

	/* too long: 200 words are 202 tokens, the model takes 128 */
	char *too_long = long_body(200, "");
	expect_error(p, "POST", "/embed", NULL, too_long, 422, "Validation");
	rp = call(p, "POST", "/embed", NULL, too_long);
	const char *msg = json_string_value(json_object_get(rp.json, "error"));
	ck_assert_msg(msg && strstr(msg, "128") && strstr(msg, "202"),
	              "the error names neither the limit nor the length: %s", rp.r.body);
	reply_dispose(&rp);
	free(too_long);
	char *truncated = long_body(200, ", \"truncate\": true");
	json_t *v = check_route(p, "/embed", "embed", "bert", truncated);
	ck_assert_int_eq((int)json_array_size(v), 1);
	json_decref(v);
	free(truncated);

	/* routes, methods, headers */
	expect_error(p, "GET", "/nope", NULL, NULL, 404, NULL);
	expect_error(p, "POST", "/embed/", NULL, "{\"inputs\": \"a\"}", 404, NULL);
	static const struct {
		const char *method, *path, *allow;
	} wrong[] = {{"GET", "/embed", "POST"},
	             {"PUT", "/predict", "POST"},
	             {"POST", "/health", "GET, HEAD"},
	             {"DELETE", "/metrics", "GET, HEAD"}};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		rp = call(p, wrong[i].method, wrong[i].path, NULL, NULL);
		ck_assert_msg(rp.status == 405, "%s %s: %d", wrong[i].method, wrong[i].path,
		              rp.status);
		assert_error_body(&rp, NULL, wrong[i].path);
		const char *allow = http_header(&rp.r, "Allow");
		ck_assert_msg(allow != NULL && strcmp(allow, wrong[i].allow) == 0,
		              "%s %s: Allow \"%s\"", wrong[i].method, wrong[i].path,
		              allow ? allow : "(none)");
		reply_dispose(&rp);
	}
	static const char *const timeouts[] = {"abc", "0", "-5", "12ms", "1e12"};
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		char h[128];
		snprintf(h, sizeof(h), "X-Request-Timeout-Ms: %s\r\n", timeouts[i]);
		expect_error(p, "POST", "/embed", h, "{\"inputs\": \"a\"}", 422, "Validation");
	}
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_errors_payload_limit)
{
	static const char *const args[] = {"--payload-limit", "200", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	char *big = long_body(50, ""); /* 311 bytes */
	ck_assert_int_gt((int)strlen(big), 200);
	expect_error(s.port, "POST", "/embed", NULL, big, 413, NULL);
	/* curl's way for large bodies: the limit answers instead of 100 */
	expect_error(s.port, "POST", "/embed", "Expect: 100-continue\r\n", big, 413, NULL);

	/* the same without Content-Length: the limit holds while reading */
	int fd = http_connect(s.port, REQUEST_MS);
	ck_assert_int_ge(fd, 0);
	char req[1024];
	int n = snprintf(req, sizeof(req),
	                 "POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	                 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
	                 strlen(big), big);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	struct reply rp;
	memset(&rp, 0, sizeof(rp));
	ck_assert_int_eq(http_read_response(fd, REQUEST_MS, &rp.r), 0);
	close(fd);
	rp.status = rp.r.status;
	rp.json = json_loadb(rp.r.body, rp.r.body_len, 0, NULL);
	ck_assert_msg(rp.status == 413, "chunked %zu bytes: %d %s", strlen(big), rp.status,
	              rp.r.body);
	assert_error_body(&rp, NULL, "chunked");
	reply_dispose(&rp);
	free(big);

	rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"hello world\"}");
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);
	rp = call(s.port, "POST", "/embed", "Expect: 100-continue\r\n",
	          "{\"inputs\": \"hello world\"}");
	ck_assert_msg(rp.status == 200, "with Expect: 100-continue: %d %s", rp.status, rp.r.body);
	reply_dispose(&rp);
	/* the body only after "100 Continue", which the client skips */
	static const char SMALL[] = "{\"inputs\": \"hello world\"}";
	fd = http_connect(s.port, REQUEST_MS);
	ck_assert_int_ge(fd, 0);
	n = snprintf(req, sizeof(req),
	             "POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	             "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	             strlen(SMALL));
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	char interim[64] = "";
	ck_assert_int_gt((int)recv(fd, interim, sizeof(interim) - 1, MSG_PEEK), 0);
	ck_assert_msg(strncmp(interim, "HTTP/1.1 100", 12) == 0, "interim: %s", interim);
	ck_assert_int_eq(http_send_all(fd, SMALL, strlen(SMALL)), 0);
	ck_assert_int_eq(http_read_response(fd, REQUEST_MS, &rp.r), 0);
	close(fd);
	ck_assert_int_eq(rp.r.status, 200);
	http_response_dispose(&rp.r);
	server_stop_ok(&s);
}
END_TEST
/* --- 9. promtool accepts /metrics ------------------------------------------ */

/* promtool's path, or NULL. */
static const char *find_promtool(char *buf, size_t n)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/usr/local/bin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, n, "%s/promtool", d);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* /metrics after some traffic of every kind (histograms non-empty). */
static char *metrics_after_traffic(struct test_server *s)
{
	static const char *const args[] = {"--max-batch-delay-us", "1000", NULL};
	server_start(s, "bert", args);
	static const char *const bodies[] = {"{\"inputs\": \"hello world\"}",
	                                     "{\"inputs\": [\"a\", \"the lazy dog\"]}"};
	for (int i = 0; i < 2; i++) {
		struct reply rp = call(s->port, "POST", "/embed", NULL, bodies[i]);
		ck_assert_int_eq(rp.status, 200);
		reply_dispose(&rp);
	}
	struct reply rp = call(s->port, "POST", "/tokenize", NULL, bodies[0]);
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);
	expect_error(s->port, "POST", "/embed", NULL, "{\"inputs\": []}", 400, "Empty");
	expect_error(s->port, "GET", "/nope", NULL, NULL, 404, NULL);
	return get_metrics(s->port);
}

/* promtool check metrics on text: its exit status; *out its output. */
static int promtool_check(const char *text, char **out)
{
	char path[4200];
	const char *promtool = find_promtool(path, sizeof(path));
	ck_assert_msg(promtool != NULL,
	              "promtool not found in PATH: install the Debian package \"prometheus\" "
	              "(apt-get install prometheus), which provides /usr/bin/promtool");
	const char *const argv[] = {promtool, "check", "metrics", NULL};
	int st = run_program(argv, 1, text, strlen(text), RUN_MS, out);
	ck_assert_msg(st >= 0, "promtool: %s", strerror(-st));
	return st;
}

START_TEST(test_metrics_promtool_parses)
{
	struct test_server s;
	char *text = metrics_after_traffic(&s);
	server_stop_ok(&s);
	char *out = NULL;
	int st = promtool_check(text, &out);
	/* 0: clean; 3: lint findings only (see test_metrics_promtool_lint);
	 * anything else: the exposition does not parse. */
	ck_assert_msg(st == 0 || st == 3, "promtool check metrics: exit %d\n%s\n--- metrics:\n%s",
	              st, out ? out : "", text);
	free(out);
	free(text);
}
END_TEST

/*
 * promtool's lint: the only findings allowed are the ones TEI's own metric
 * names cause (te_request_count / _success / _failure are counters without
 * "_total", and te_request_count ends in "_count"). smolserve keeps TEI's
 * names on purpose so TEI's dashboards and alerts work unchanged; every
 * smolserve_* metric and every histogram must lint clean.
 */
START_TEST(test_metrics_promtool_lint)
{
	static const char *const allowed[] = {
	    "te_request_count counter metrics should have \"_total\" suffix",
	    "te_request_count non-histogram and non-summary metrics should not have \"_count\" "
	    "suffix",
	    "te_request_failure counter metrics should have \"_total\" suffix",
	    "te_request_success counter metrics should have \"_total\" suffix",
	    "te_embed_count counter metrics should have \"_total\" suffix",
	    "te_embed_count non-histogram and non-summary metrics should not have \"_count\" "
	    "suffix",
	    "te_embed_success counter metrics should have \"_total\" suffix",
	    "te_predict_count counter metrics should have \"_total\" suffix",
	    "te_predict_count non-histogram and non-summary metrics should not have \"_count\" "
	    "suffix",
	    "te_predict_success counter metrics should have \"_total\" suffix",
	};
	struct test_server s;
	char *text = metrics_after_traffic(&s);
	server_stop_ok(&s);
	char *out = NULL;
	int st = promtool_check(text, &out);
	ck_assert_msg(st == 0 || st == 3, "promtool check metrics: exit %d\n%s", st,
	              out ? out : "");
	for (char *line = out ? strtok(out, "\n") : NULL; line != NULL; line = strtok(NULL, "\n")) {
		int ok = 0;
		for (size_t a = 0; a < sizeof(allowed) / sizeof(allowed[0]); a++)
			ok |= strstr(line, allowed[a]) != NULL;
		ck_assert_msg(ok, "promtool lint finding not caused by a TEI name: %s", line);
	}
	free(out);
	free(text);
}
END_TEST
int main(void)
{
	Suite *s = suite_create("http");
	TCase *routes = tcase_create("routes");
	tcase_set_timeout(routes, 120);
	tcase_add_test(routes, test_routes_embedding_model);
	tcase_add_test(routes, test_routes_predict);
	tcase_add_test(routes, test_routes_rerank);
	tcase_add_test(routes, test_routes_openai);
	tcase_add_test(routes, test_health_info_metrics);
	suite_add_tcase(s, routes);

	TCase *errors = tcase_create("errors");
	tcase_set_timeout(errors, 120);
	tcase_add_test(errors, test_errors_validation);
	tcase_add_test(errors, test_errors_payload_limit);
	suite_add_tcase(s, errors);

	TCase *metrics = tcase_create("metrics");
	tcase_set_timeout(metrics, 120);
	tcase_add_test(metrics, test_metrics_promtool_parses);
	tcase_add_test(metrics, test_metrics_promtool_lint);
	suite_add_tcase(s, metrics);
	return test_run_suite(s);
}

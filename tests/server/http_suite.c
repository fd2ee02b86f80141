/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helpers the end-to-end HTTP suites share; see http_suite.h for each
 * function's contract. Moved out of test_http.c when it was split into
 * test_http.c (routes, errors, metrics) and test_http_load.c (concurrency,
 * overload, drains, deadlines, disconnects).
 */
#include "http_suite.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

const char *model_dir(const char *fixture)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s", fixture_path(fixture));
	return buf;
}

void server_start(struct test_server *s, const char *fixture, const char *const *args)
{
	static char err[16384];
	if (test_server_start(s, model_dir(fixture), args, START_MS, err, sizeof(err)) != 0)
		ck_abort_msg("cannot start smolserve on %s: %s", fixture, err);
}

/* SIGTERM; the server must drain, say so and exit 0 (under ASan: without
 * leaks). */
void server_stop_ok(struct test_server *s)
{
	ck_assert_int_eq(test_server_signal(s, SIGTERM), 0);
	int st = test_server_wait(s, STOP_MS);
	char *log = test_server_log(s);
	test_server_stop(s, STOP_MS);
	ck_assert_msg(st == 0, "server exit status %d; log:\n%s", st, log ? log : "");
	ck_assert_msg(log != NULL && strstr(log, "smolserve: drained, exiting") != NULL,
	              "no drain line in the log:\n%s", log ? log : "");
	free(log);
}

struct reply call(int port, const char *method, const char *path, const char *headers,
                  const char *body)
{
	struct reply rp;
	memset(&rp, 0, sizeof(rp));
	int rc = http_request(port, method, path, headers, body, body ? strlen(body) : 0,
	                      REQUEST_MS, &rp.r);
	ck_assert_msg(rc == 0, "%s %s: %s", method, path, strerror(-rc));
	rp.status = rp.r.status;
	json_error_t jerr;
	rp.json = json_loadb(rp.r.body, rp.r.body_len, 0, &jerr);
	return rp;
}

void reply_dispose(struct reply *rp)
{
	json_decref(rp->json);
	http_response_dispose(&rp->r);
}

double number_at(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* 1 if a and b are the same JSON, numbers within tol; else 0 with the path
 * of the first difference in where (thread-safe: no Check calls). */
int json_close(const json_t *a, const json_t *b, double tol, char *where, size_t n)
{
	if (json_is_number(a) && json_is_number(b)) {
		double d = fabs(json_number_value(a) - json_number_value(b));
		if (d <= tol)
			return 1;
		snprintf(where + strlen(where), n - strlen(where), ": %.9g vs %.9g",
		         json_number_value(a), json_number_value(b));
		return 0;
	}
	if (json_typeof(a) != json_typeof(b)) {
		snprintf(where + strlen(where), n - strlen(where), ": types differ");
		return 0;
	}
	size_t len = strlen(where);
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b)) {
			snprintf(where + len, n - len, ": %zu vs %zu items", json_array_size(a),
			         json_array_size(b));
			return 0;
		}
		for (size_t i = 0; i < json_array_size(a); i++) {
			snprintf(where + len, n - len, "[%zu]", i);
			if (!json_close(json_array_get(a, i), json_array_get(b, i), tol, where, n))
				return 0;
		}
		where[len] = '\0';
		return 1;
	}
	if (json_is_object(a)) {
		const char *key;
		json_t *v;
		if (json_object_size(a) != json_object_size(b)) {
			snprintf(where + len, n - len, ": %zu vs %zu keys", json_object_size(a),
			         json_object_size(b));
			return 0;
		}
		json_object_foreach((json_t *)a, key, v)
		{
			snprintf(where + len, n - len, ".%s", key);
			json_t *w = json_object_get(b, key);
			if (w == NULL) {
				snprintf(where + strlen(where), n - strlen(where), ": missing");
				return 0;
			}
			if (!json_close(v, w, tol, where, n))
				return 0;
		}
		where[len] = '\0';
		return 1;
	}
	if (json_equal((json_t *)a, (json_t *)b))
		return 1;
	snprintf(where + len, n - len, ": values differ");
	return 0;
}

/* What `smolserve run ROUTE --model FIXTURE` prints for body (new ref). */
json_t *reference(const char *route, const char *fixture, const char *body)
{
	char *out = NULL;
	int st = smolserve_run(route, model_dir(fixture), NULL, body, strlen(body), RUN_MS, &out);
	ck_assert_msg(st == 0, "smolserve run %s < %s: exit %d, %s", route, body, st,
	              out ? out : "");
	json_error_t jerr;
	json_t *v = json_loads(out, 0, &jerr);
	ck_assert_msg(v != NULL, "smolserve run %s printed no JSON: %s", route, out);
	free(out);
	return v;
}

void assert_json_content(const struct reply *rp)
{
	const char *ct = http_header(&rp->r, "Content-Type");
	ck_assert_msg(ct != NULL && strncmp(ct, "application/json", 16) == 0, "Content-Type \"%s\"",
	              ct ? ct : "(none)");
	ck_assert_msg(rp->json != NULL, "body is not JSON: %s", rp->r.body);
}

void assert_timing_headers(const struct reply *rp)
{
	static const char *const names[] = {"x-compute-time",      "x-compute-tokens",
	                                    "x-queue-time",        "x-inference-time",
	                                    "x-tokenization-time", "x-total-time"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = http_header(&rp->r, names[i]);
		ck_assert_msg(v != NULL, "no %s header", names[i]);
		char *end;
		double d = strtod(v, &end);
		ck_assert_msg(end != v && *end == '\0' && d >= 0, "%s: \"%s\"", names[i], v);
	}
}

/* POST path with body must answer 200 with what `smolserve run run_route`
 * answers, the timing headers and JSON. Returns the answer (new ref). */
json_t *check_route(int port, const char *path, const char *run_route, const char *fixture,
                    const char *body)
{
	json_t *ref = reference(run_route, fixture, body);
	struct reply rp = call(port, "POST", path, NULL, body);
	ck_assert_msg(rp.status == 200, "POST %s %s: %d %s", path, body, rp.status, rp.r.body);
	assert_json_content(&rp);
	assert_timing_headers(&rp);
	char where[512] = "$";
	ck_assert_msg(json_close(rp.json, ref, FLOAT_TOL, where, sizeof(where)),
	              "POST %s %s differs from smolserve run at %s", path, body, where);
	json_t *v = json_incref(rp.json);
	json_decref(ref);
	reply_dispose(&rp);
	return v;
}

/* The value of a series ("name" or "name{labels}") in Prometheus text, NAN
 * if absent. */
double metric(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return NAN;
}

char *get_metrics(int port)
{
	struct reply rp = call(port, "GET", "/metrics", NULL, NULL);
	ck_assert_msg(rp.status == 200, "/metrics: %d", rp.status);
	char *text = strdup(rp.r.body);
	reply_dispose(&rp);
	return text;
}

double get_metric(int port, const char *series)
{
	char *text = get_metrics(port);
	double v = metric(text, series);
	free(text);
	return v;
}

/* Polls series until it is >= want, at most ms. The last value seen. */
double wait_metric(int port, const char *series, double want, int ms)
{
	int64_t deadline = now_ms() + ms;
	double v;
	while ((v = get_metric(port, series)) < want && now_ms() < deadline)
		sleep_ms(5);
	return v;
}

/* Single-token words of the fixtures' vocabulary: n words make n + 2
 * tokens, so 1..100 words always fit the 128-token limit. */
static const char *const WORDS[] = {
    "the",      "and",   "in",          "is",     "to",        "are",  "of",    "with",
    "for",      "good",  "hello",       "it",     "morning",   "old",  "sea",   "shells",
    "was",      "years", "brown",       "dog",    "evening",   "five", "fox",   "here",
    "language", "lazy",  "like",        "little", "models",    "much", "my",    "over",
    "progress", "quick", "quickly",     "sells",  "sentences", "she",  "ten",   "than",
    "they",     "this",  "translation", "wait",   "we",        "were", "world", "you"};
#define N_WORDS (int)(sizeof(WORDS) / sizeof(WORDS[0]))

/* Deterministic text number idx: 1 + (37 idx mod 100) words (0: 1 word,
 * 27: 100 words). */
void make_text(int idx, char *out, size_t n)
{
	int n_words = 1 + (idx * 37) % 100;
	size_t len = 0;
	out[0] = '\0';
	for (int j = 0; j < n_words; j++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", j ? " " : "",
		                        WORDS[(idx * 13 + j * 7) % N_WORDS]);
}

/* {"inputs": text} (malloc'd). */
char *embed_body(const char *text)
{
	json_t *b = json_pack("{s:s}", "inputs", text);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

void assert_error_body(const struct reply *rp, const char *type, const char *what)
{
	assert_json_content(rp);
	const json_t *e = json_object_get(rp->json, "error");
	const json_t *t = json_object_get(rp->json, "error_type");
	ck_assert_msg(json_is_object(rp->json) && json_object_size(rp->json) == 2 &&
	                  json_is_string(e) && json_string_length(e) > 0 && json_is_string(t),
	              "%s: not {\"error\": str, \"error_type\": str}: %s", what, rp->r.body);
	if (type != NULL)
		ck_assert_msg(strcmp(json_string_value(t), type) == 0,
		              "%s: error_type %s, expected %s", what, json_string_value(t), type);
}

void assert_openai_error_body(const struct reply *rp, const char *type, const char *what)
{
	assert_json_content(rp);
	const json_t *m = json_object_get(rp->json, "message");
	const json_t *c = json_object_get(rp->json, "code");
	const json_t *t = json_object_get(rp->json, "type");
	ck_assert_msg(json_is_object(rp->json) && json_object_size(rp->json) == 3 &&
	                  json_is_string(m) && json_string_length(m) > 0 && json_is_integer(c) &&
	                  json_integer_value(c) == rp->status && json_is_string(t),
	              "%s: not {\"message\": str, \"code\": %d, \"type\": str}: %s", what,
	              rp->status, rp->r.body);
	if (type != NULL)
		ck_assert_msg(strcmp(json_string_value(t), type) == 0, "%s: type %s, expected %s",
		              what, json_string_value(t), type);
}

/* A request that must fail with status and error_type type (NULL: any);
 * in OpenAI's shape on the OpenAI routes. */
void expect_error(int port, const char *method, const char *path, const char *headers,
                  const char *body, int status, const char *type)
{
	char what[600];
	snprintf(what, sizeof(what), "%s %s %.400s", method, path, body ? body : "");
	struct reply rp = call(port, method, path, headers, body);
	ck_assert_msg(rp.status == status, "%s: expected %d, got %d %s", what, status, rp.status,
	              rp.r.body);
	if (strcmp(path, "/v1/embeddings") == 0 || strcmp(path, "/embeddings") == 0)
		assert_openai_error_body(&rp, type, what);
	else
		assert_error_body(&rp, type, what);
	reply_dispose(&rp);
}

json_t *post_ok(int port, const char *path, const char *headers, const char *body)
{
	struct reply rp = call(port, "POST", path, headers, body);
	ck_assert_msg(rp.status == 200, "POST %s %s: %d %s", path, body, rp.status, rp.r.body);
	json_t *v = json_incref(rp.json);
	reply_dispose(&rp);
	ck_assert_ptr_nonnull(v);
	return v;
}

/* Asserts a and b are the same JSON within tol. */
void assert_same(const json_t *a, const json_t *b, double tol, const char *what)
{
	char where[512] = "$";
	ck_assert_msg(json_close(a, b, tol, where, sizeof(where)), "%s: differ at %s", what, where);
}

/* An error answer whose message contains substring. */
void expect_message(int port, const char *path, const char *headers, const char *body, int status,
                    const char *type, const char *substring)
{
	expect_error(port, "POST", path, headers, body, status, type);
	struct reply rp = call(port, "POST", path, headers, body);
	const char *msg = json_string_value(json_object_get(rp.json, "error"));
	if (msg == NULL)
		msg = json_string_value(json_object_get(rp.json, "message"));
	ck_assert_msg(msg && strstr(msg, substring), "POST %s %s: \"%s\" lacks \"%s\"", path, body,
	              msg ? msg : rp.r.body, substring);
	reply_dispose(&rp);
}

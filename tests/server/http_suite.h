/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the end-to-end HTTP suites share (test_http.c, test_http_load.c,
 * test_families.c): starting and stopping the real server on a fixture,
 * one request with its body parsed as JSON, the reference answer of
 * `smolserve run`, comparing JSON within a tolerance, the assertions on
 * TEI's headers and error bodies, reading /metrics, and the deterministic
 * request texts the load tests send. Built on http_client.h (sockets,
 * processes) and Check; functions that assert abort the running test, so
 * they may be called only from the test's own thread, unless said
 * otherwise.
 */
#ifndef SMOLSERVE_TESTS_SERVER_HTTP_SUITE_H
#define SMOLSERVE_TESTS_SERVER_HTTP_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http_client.h"

#define REQUEST_MS  15000 /* bound on one request */
#define START_MS    10000 /* bound on a server start */
#define STOP_MS     10000 /* bound on a drain */
#define RUN_MS      30000 /* bound on one `smolserve run` */
#define FLOAT_TOL   1e-6  /* one request alone: same arithmetic as `run` */
#define BATCHED_TOL 1e-5  /* packed with other requests */
#define MAX_TEXT    1024  /* bytes of a make_text buffer */

/* Milliseconds of CLOCK_MONOTONIC. Any thread. */
int64_t now_ms(void);

/* Sleeps ms milliseconds. Any thread. */
void sleep_ms(int ms);

/* The folder of fixture under FIXTURES_DIR (static buffer, overwritten by
 * the next call; test thread only). */
const char *model_dir(const char *fixture);

/* Starts `smolserve serve` on fixture with args (NULL-terminated, may be
 * NULL) into *s, waiting at most START_MS; aborts the test if it does not
 * come up. Stop it with server_stop_ok (or test_server_stop). */
void server_start(struct test_server *s, const char *fixture, const char *const *args);

/* SIGTERM; the server must drain, say so and exit 0 (under ASan: without
 * leaks) within STOP_MS, else the test fails. Always leaves it stopped. */
void server_stop_ok(struct test_server *s);

/* One answer: init it with call() (or by hand from http_read_response),
 * release it with reply_dispose. */
struct reply {
	int status;
	json_t *json; /* owned: parsed body, NULL if not JSON */
	struct http_response r;
};

/* One request on a new connection (http_request: headers NULL or lines
 * ending in "\r\n", body NULL or a string), at most REQUEST_MS; aborts the
 * test if no response arrives. The caller owns the reply. */
struct reply call(int port, const char *method, const char *path, const char *headers,
                  const char *body);

/* Frees what a reply owns; a zeroed reply is fine too. */
void reply_dispose(struct reply *rp);

/* The value of a JSON number, NAN if v is not one (or NULL). Any thread. */
double number_at(const json_t *v);

/* 1 if a and b (neither NULL) are the same JSON with numbers within tol
 * (integers and reals compare by value, object keys in any order); else 0,
 * with the JSONPath of the first difference and why appended to where (n
 * bytes, NUL-terminated; start it as "$"). No Check calls: any thread. */
int json_close(const json_t *a, const json_t *b, double tol, char *where, size_t n);

/* What `smolserve run ROUTE --model FIXTURE` prints for body, parsed (new
 * reference); aborts the test unless it exits 0 with JSON. */
json_t *reference(const char *route, const char *fixture, const char *body);

/* Asserts rp has Content-Type application/json and a JSON body. */
void assert_json_content(const struct reply *rp);

/* Asserts rp has TEI's x-*-time and x-compute-tokens headers, each a
 * non-negative number. */
void assert_timing_headers(const struct reply *rp);

/* POST path with body must answer 200 with what `smolserve run run_route`
 * answers on fixture (within FLOAT_TOL), the timing headers and JSON.
 * Returns the answer (new reference). */
json_t *check_route(int port, const char *path, const char *run_route, const char *fixture,
                    const char *body);

/* The value of a series ("name" or "name{labels}") in Prometheus text, NAN
 * if absent. Any thread. */
double metric(const char *text, const char *series);

/* GET /metrics, which must answer 200: its body (malloc'd). */
char *get_metrics(int port);

/* One series from a fresh GET /metrics, NAN if absent. */
double get_metric(int port, const char *series);

/* Polls series until it is >= want, at most ms. The last value seen. */
double wait_metric(int port, const char *series, double want, int ms);

/* Deterministic text number idx into out (n bytes, MAX_TEXT is enough):
 * 1 + (37 idx mod 100) single-token words (0: 1 word, 27: 100 words), so
 * it always fits the fixtures' 128-token limit. Any thread. */
void make_text(int idx, char *out, size_t n);

/* {"inputs": text} (malloc'd; NULL if out of memory). Any thread. */
char *embed_body(const char *text);

/* Asserts rp is TEI's error: JSON {"error": non-empty string, "error_type":
 * string} and nothing else, error_type equal to type unless type is NULL.
 * what names the request in failure messages. */
void assert_error_body(const struct reply *rp, const char *type, const char *what);

/* Asserts rp is the OpenAI routes' error: {"message": non-empty string,
 * "code": rp's status, "type": string} and nothing else, type equal to
 * type unless NULL. */
void assert_openai_error_body(const struct reply *rp, const char *type, const char *what);

/* A request that must fail with status and an error body of error_type
 * type (NULL: any); on /v1/embeddings and /embeddings the OpenAI shape. */
void expect_error(int port, const char *method, const char *path, const char *headers,
                  const char *body, int status, const char *type);

/* POST body to path (headers NULL or lines ending in "\r\n"): must answer
 * 200; the parsed answer (new reference). */
json_t *post_ok(int port, const char *path, const char *headers, const char *body);

/* Asserts a and b are the same JSON, numbers within tol. */
void assert_same(const json_t *a, const json_t *b, double tol, const char *what);

/* POST body must fail with status and type (as expect_error) and a message
 * (TEI's "error" or OpenAI's "message") containing substring. */
void expect_message(int port, const char *path, const char *headers, const char *body, int status,
                    const char *type, const char *substring);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP service end to end under load: the real `smolserve serve` on
 * 127.0.0.1 with port 0, spoken to by many clients at once. Concurrent
 * clients are batched together and still get their own answers (those of
 * `smolserve run`); a burst beyond --max-concurrent-requests gets 429 with
 * Retry-After; SIGTERM drains, answering every accepted request; a request
 * whose deadline passes in the queue gets 504; a client that resets its
 * connection is dropped, not computed, one that half-closes is answered; a
 * lone request never waits for company. One request at a time is
 * test_http.c; hostile clients are test_hostile.c.
 *
 * To keep a worker busy for a known time these tests set the test-only
 * SMOLSERVE_TEST_HOLD_BATCH_MS (a finished batch keeps its worker counted
 * busy that much longer); each test runs in its own process (CK_FORK).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "http_suite.h"
#include "test_util.h"

/* --- 4. concurrent clients are batched and answered correctly ------------- */

#define N_CLIENTS       64
#define REQS_PER_CLIENT 4
#define N_DISTINCT      28

struct load_client {
	int port;
	int id;
	int n_requests;
	int text_of[REQS_PER_CLIENT]; /* text index per request */
	json_t **refs;                /* (N_DISTINCT) borrowed */
	pthread_barrier_t *go;
	int accept_503; /* a 503 Unhealthy answer is fine too */
	/* results */
	int n_ok;
	int n_503;
	char failure[512];
};

static void *load_client_main(void *arg)
{
	struct load_client *c = arg;
	pthread_barrier_wait(c->go);
	for (int k = 0; k < c->n_requests; k++) {
		char text[MAX_TEXT];
		int idx = c->text_of[k];
		make_text(idx, text, sizeof(text));
		char *body = embed_body(text);
		struct http_response r;
		int rc = http_request(c->port, "POST", "/embed", NULL, body, strlen(body),
		                      REQUEST_MS, &r);
		free(body);
		if (rc != 0) {
			snprintf(c->failure, sizeof(c->failure), "client %d request %d: %s%s",
			         c->id, k, rc == -ENODATA ? "closed with no response: " : "",
			         strerror(-rc));
			return NULL;
		}
		json_t *v = json_loadb(r.body, r.body_len, 0, NULL);
		char where[256] = "$";
		const char *type = json_string_value(json_object_get(v, "error_type"));
		if (c->accept_503 && r.status == 503 && type && strcmp(type, "Unhealthy") == 0)
			c->n_503++;
		else if (r.status != 200 || v == NULL)
			snprintf(c->failure, sizeof(c->failure), "client %d text %d: %d %.200s",
			         c->id, idx, r.status, r.body);
		else if (!json_close(v, c->refs[idx], BATCHED_TOL, where, sizeof(where)))
			snprintf(c->failure, sizeof(c->failure),
			         "client %d text %d differs from smolserve run at %s", c->id, idx,
			         where);
		else
			c->n_ok++;
		json_decref(v);
		http_response_dispose(&r);
		if (c->failure[0])
			return NULL;
	}
	return NULL;
}

START_TEST(test_concurrent_clients_batched)
{
	json_t *refs[N_DISTINCT];
	for (int i = 0; i < N_DISTINCT; i++) {
		char text[MAX_TEXT];
		make_text(i, text, sizeof(text));
		char *body = embed_body(text);
		refs[i] = reference("embed", "bert", body);
		free(body);
	}
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "20", 1); /* requests pile up meanwhile */
	struct test_server s;
	server_start(&s, "bert", NULL);
	static struct load_client clients[N_CLIENTS];
	pthread_t th[N_CLIENTS];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N_CLIENTS);
	for (int i = 0; i < N_CLIENTS; i++) {
		memset(&clients[i], 0, sizeof(clients[i]));
		clients[i].port = s.port;
		clients[i].id = i;
		clients[i].n_requests = REQS_PER_CLIENT;
		clients[i].refs = refs;
		clients[i].go = &go;
		for (int k = 0; k < REQS_PER_CLIENT; k++)
			clients[i].text_of[k] = (i * REQS_PER_CLIENT + k * 7) % N_DISTINCT;
		ck_assert_int_eq(pthread_create(&th[i], NULL, load_client_main, &clients[i]), 0);
	}
	int n_ok = 0;
	for (int i = 0; i < N_CLIENTS; i++) {
		pthread_join(th[i], NULL);
		n_ok += clients[i].n_ok;
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; i < N_CLIENTS; i++)
		ck_assert_msg(clients[i].failure[0] == '\0', "%s", clients[i].failure);
	ck_assert_int_eq(n_ok, N_CLIENTS * REQS_PER_CLIENT);

	char *m = get_metrics(s.port);
	double one = metric(m, "te_batch_next_size_bucket{le=\"1\"}");
	double count = metric(m, "te_batch_next_size_count");
	double requests =
	    metric(m, "te_request_success{method=\"single\",smolserve_route=\"embed\"}");
	free(m);
	ck_assert_double_eq(requests, N_CLIENTS * REQS_PER_CLIENT);
	ck_assert_msg(count >= 1 && one < count,
	              "no batch held more than one request: %g of %g batches had one", one, count);
	for (int i = 0; i < N_DISTINCT; i++)
		json_decref(refs[i]);
	server_stop_ok(&s);
}
END_TEST

/* --- 5. overload: 429 with Retry-After, then healthy again ----------------- */

#define N_BURST 20

struct burst_client {
	int port;
	const char *body;
	pthread_barrier_t *go;
	int rc, status;
	int retry_after;
	char error_type[32];
	char body_text[256];
};

static void *burst_client_main(void *arg)
{
	struct burst_client *c = arg;
	pthread_barrier_wait(c->go);
	struct http_response r;
	c->rc =
	    http_request(c->port, "POST", "/embed", NULL, c->body, strlen(c->body), REQUEST_MS, &r);
	if (c->rc != 0)
		return NULL;
	c->status = r.status;
	c->retry_after = http_header(&r, "Retry-After") != NULL;
	snprintf(c->body_text, sizeof(c->body_text), "%s", r.body);
	json_t *v = json_loadb(r.body, r.body_len, 0, NULL);
	const char *t = json_string_value(json_object_get(v, "error_type"));
	snprintf(c->error_type, sizeof(c->error_type), "%s", t ? t : "");
	json_decref(v);
	http_response_dispose(&r);
	return NULL;
}

START_TEST(test_overload_429)
{
	static const char *const args[] = {"--max-concurrent-requests", "2", NULL};
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "300", 1);
	struct test_server s;
	server_start(&s, "bert", args);
	static struct burst_client clients[N_BURST];
	pthread_t th[N_BURST];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N_BURST);
	for (int i = 0; i < N_BURST; i++) {
		memset(&clients[i], 0, sizeof(clients[i]));
		clients[i].port = s.port;
		clients[i].body = "{\"inputs\": \"hello world\"}";
		clients[i].go = &go;
		ck_assert_int_eq(pthread_create(&th[i], NULL, burst_client_main, &clients[i]), 0);
	}
	for (int i = 0; i < N_BURST; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	int n_ok = 0, n_429 = 0;
	for (int i = 0; i < N_BURST; i++) {
		struct burst_client *c = &clients[i];
		ck_assert_msg(c->rc == 0, "client %d: %s", i, strerror(-c->rc));
		if (c->status == 200) {
			n_ok++;
			continue;
		}
		ck_assert_msg(c->status == 429, "client %d: %d %s", i, c->status, c->body_text);
		ck_assert_msg(c->retry_after, "client %d: 429 without Retry-After", i);
		ck_assert_str_eq(c->error_type, "Overloaded");
		n_429++;
	}
	ck_assert_msg(n_429 >= 1 && n_ok >= 1, "%d answered, %d overloaded of %d", n_ok, n_429,
	              N_BURST);

	struct reply rp = call(s.port, "GET", "/health", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);
	ck_assert_double_eq(get_metric(s.port, "smolserve_requests_in_flight"), 0);
	rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"hello world\"}");
	ck_assert_msg(rp.status == 200, "after the burst: %d %s", rp.status, rp.r.body);
	reply_dispose(&rp);
	server_stop_ok(&s);
}
END_TEST

/* --- 6. SIGTERM drains: every accepted request is answered ---------------- */

#define N_DRAIN 16

START_TEST(test_sigterm_drains)
{
	json_t *refs[N_DRAIN + 1];
	for (int i = 0; i <= N_DRAIN; i++) {
		char text[MAX_TEXT];
		make_text(i, text, sizeof(text));
		char *body = embed_body(text);
		refs[i] = reference("embed", "bert", body);
		free(body);
	}
	/* A held batch keeps the worker busy: the rest queue up before SIGTERM. */
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "600", 1);
	struct test_server s;
	server_start(&s, "bert", NULL);
	int port = s.port;

	/* B: a kept-alive connection, accepted before the drain */
	int fd_b = http_connect(port, REQUEST_MS);
	ck_assert_int_ge(fd_b, 0);
	static const char PING[] = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	ck_assert_int_eq(http_send_all(fd_b, PING, strlen(PING)), 0);
	struct http_response r;
	ck_assert_int_eq(http_read_response(fd_b, REQUEST_MS, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_dispose(&r);

	static struct load_client clients[N_DRAIN];
	pthread_t th[N_DRAIN];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N_DRAIN);
	for (int i = 0; i < N_DRAIN; i++) {
		memset(&clients[i], 0, sizeof(clients[i]));
		clients[i].port = port;
		clients[i].id = i;
		clients[i].n_requests = 1;
		clients[i].text_of[0] = i;
		clients[i].refs = refs;
		clients[i].go = &go;
		ck_assert_int_eq(pthread_create(&th[i], NULL, load_client_main, &clients[i]), 0);
	}
	/* A: a request whose body is half sent holds the drain open */
	char text[MAX_TEXT];
	make_text(N_DRAIN, text, sizeof(text));
	char *body_a = embed_body(text);
	size_t len_a = strlen(body_a), half = len_a / 2;
	int fd_a = http_connect(port, REQUEST_MS);
	ck_assert_int_ge(fd_a, 0);
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	                 "Content-Length: %zu\r\n\r\n",
	                 len_a);
	ck_assert_int_eq(http_send_all(fd_a, head, (size_t)n), 0);
	ck_assert_int_eq(http_send_all(fd_a, body_a, half), 0);

	/* A takes no slot until its body is complete: it is "receiving". */
	double in_flight = wait_metric(port, "smolserve_requests_in_flight", N_DRAIN, 5000);
	ck_assert_msg(in_flight == N_DRAIN, "%g requests in flight, expected %d", in_flight,
	              N_DRAIN);
	double receiving = wait_metric(port, "smolserve_requests_receiving", 1, 5000);
	ck_assert_msg(receiving == 1, "%g requests receiving, expected 1", receiving);
	ck_assert_int_eq(test_server_signal(&s, SIGTERM), 0);
	int64_t t_term = now_ms();

	/* no new connections while draining */
	int refused = 0;
	for (int64_t until = now_ms() + 3000; !refused && now_ms() < until;) {
		int fd = http_connect(port, 1000);
		if (fd == -ECONNREFUSED)
			refused = 1;
		else if (fd >= 0)
			close(fd);
		if (!refused)
			sleep_ms(5);
	}
	ck_assert_msg(refused, "new connections still accepted 3 s after SIGTERM");

	/* /health on B: 503 while draining (A keeps the drain from ending) */
	static const char HEALTH[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	ck_assert_int_eq(http_send_all(fd_b, HEALTH, strlen(HEALTH)), 0);
	struct reply rp;
	memset(&rp, 0, sizeof(rp));
	ck_assert_int_eq(http_read_response(fd_b, REQUEST_MS, &rp.r), 0);
	close(fd_b);
	rp.status = rp.r.status;
	rp.json = json_loadb(rp.r.body, rp.r.body_len, 0, NULL);
	ck_assert_msg(rp.status == 503, "/health while draining: %d %s", rp.status, rp.r.body);
	assert_error_body(&rp, "Unhealthy", "/health while draining");
	reply_dispose(&rp);

	/* the queued requests run as soon as the worker is free */
	for (int i = 0; i < N_DRAIN; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	int64_t answered_ms = now_ms() - t_term;
	for (int i = 0; i < N_DRAIN; i++)
		ck_assert_msg(clients[i].n_ok == 1, "%s", clients[i].failure);
	ck_assert_msg(answered_ms < 3000, "queued requests answered %lld ms after SIGTERM",
	              (long long)answered_ms);

	/* A completes and is answered: its headers came before the drain */
	ck_assert_int_eq(http_send_all(fd_a, body_a + half, len_a - half), 0);
	memset(&rp, 0, sizeof(rp));
	ck_assert_int_eq(http_read_response(fd_a, REQUEST_MS, &rp.r), 0);
	close(fd_a);
	free(body_a);
	rp.status = rp.r.status;
	rp.json = json_loadb(rp.r.body, rp.r.body_len, 0, NULL);
	ck_assert_msg(rp.status == 200, "request A: %d %s", rp.status, rp.r.body);
	char where[256] = "$";
	ck_assert_msg(json_close(rp.json, refs[N_DRAIN], BATCHED_TOL, where, sizeof(where)),
	              "request A differs at %s", where);
	reply_dispose(&rp);

	int st = test_server_wait(&s, STOP_MS);
	int64_t drain_ms = now_ms() - t_term;
	char *log = test_server_log(&s);
	test_server_stop(&s, STOP_MS);
	ck_assert_msg(st == 0, "exit status %d after SIGTERM; log:\n%s", st, log ? log : "");
	ck_assert_msg(log && strstr(log, "smolserve: drained, exiting"), "log:\n%s",
	              log ? log : "");
	free(log);
	ck_assert_msg(drain_ms < 4000, "the drain took %lld ms", (long long)drain_ms);
	ck_assert_int_eq(http_connect(port, 1000), -ECONNREFUSED);
	for (int i = 0; i <= N_DRAIN; i++)
		json_decref(refs[i]);
}
END_TEST

/*
 * SERVER BUG (reported to the lead): when --shutdown-timeout-s expires while
 * a batch runs, that batch's requests are never answered. on_shutdown_timeout
 * (server/service.c) zeroes requests_open and in_flight, so the moment the
 * batch finishes service_maybe_finish stops the daemon before the resumed
 * connections are processed: every client sees its connection closed with
 * no response, and the server still logs "drained, exiting" and exits 0.
 * Expected: each accepted request gets an answer (200 if its batch ran, 503
 * if it was still queued when the drain timed out).
 */
START_TEST(test_sigterm_drain_timeout_answers)
{
	json_t *refs[N_DRAIN];
	for (int i = 0; i < N_DRAIN; i++) {
		char text[MAX_TEXT];
		make_text(i, text, sizeof(text));
		char *body = embed_body(text);
		refs[i] = reference("embed", "bert", body);
		free(body);
	}
	static const char *const args[] = {"--shutdown-timeout-s", "0", NULL};
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "1000", 1);
	struct test_server s;
	server_start(&s, "bert", args);
	static struct load_client clients[N_DRAIN];
	pthread_t th[N_DRAIN];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N_DRAIN);
	for (int i = 0; i < N_DRAIN; i++) {
		memset(&clients[i], 0, sizeof(clients[i]));
		clients[i].port = s.port;
		clients[i].id = i;
		clients[i].n_requests = 1;
		clients[i].text_of[0] = i;
		clients[i].refs = refs;
		clients[i].go = &go;
		clients[i].accept_503 = 1;
		ck_assert_int_eq(pthread_create(&th[i], NULL, load_client_main, &clients[i]), 0);
	}
	double in_flight = wait_metric(s.port, "smolserve_requests_in_flight", N_DRAIN, 5000);
	ck_assert_int_eq(test_server_signal(&s, SIGTERM), 0);
	for (int i = 0; i < N_DRAIN; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	int st = test_server_wait(&s, STOP_MS);
	test_server_stop(&s, STOP_MS);
	ck_assert_msg(in_flight == N_DRAIN, "%g requests in flight, expected %d", in_flight,
	              N_DRAIN);
	for (int i = 0; i < N_DRAIN; i++)
		ck_assert_msg(clients[i].n_ok + clients[i].n_503 == 1,
		              "drain timed out: %s (expected 200 or 503)", clients[i].failure);
	ck_assert_int_eq(st, 0);
	for (int i = 0; i < N_DRAIN; i++)
		json_decref(refs[i]);
}
END_TEST

/* --- 7. deadline: 504 at the deadline, not when a batch forms ------------- */

struct bg_call {
	int port;
	const char *body;
	int status;
};

static void *bg_call_main(void *arg)
{
	struct bg_call *b = arg;
	struct http_response r;
	int rc =
	    http_request(b->port, "POST", "/embed", NULL, b->body, strlen(b->body), REQUEST_MS, &r);
	b->status = rc == 0 ? r.status : rc;
	if (rc == 0)
		http_response_dispose(&r);
	return NULL;
}

/* Starts a request in the background and waits until its batch runs, so the
 * (only) worker is busy for SMOLSERVE_TEST_HOLD_BATCH_MS. */
static void occupy_worker(int port, struct bg_call *b, pthread_t *th)
{
	double before = get_metric(port, "smolserve_batches_total");
	b->port = port;
	b->body = "{\"inputs\": \"keep the worker busy\"}";
	ck_assert_int_eq(pthread_create(th, NULL, bg_call_main, b), 0);
	double now = wait_metric(port, "smolserve_batches_total", before + 1, 5000);
	ck_assert_msg(now >= before + 1, "the background request's batch never ran");
}

START_TEST(test_deadline_504)
{
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "1500", 1);
	struct test_server s;
	server_start(&s, "bert", NULL);
	static const char EXPIRED[] = "smolserve_dropped_requests_total{reason=\"expired\"}";
	ck_assert_double_eq(get_metric(s.port, EXPIRED), 0);

	/* already past when the body is complete: answered at once */
	int64_t t0 = now_ms();
	expect_error(s.port, "POST", "/embed", "X-Request-Timeout-Ms: 0.000001\r\n",
	             "{\"inputs\": \"hello world\"}", 504, "Overloaded");
	int64_t direct_ms = now_ms() - t0;
	ck_assert_double_eq(get_metric(s.port, EXPIRED), 1);

	/* queued behind a busy worker: answered by the timer at 50 ms, long
	 * before the worker is free */
	struct bg_call b;
	pthread_t th;
	occupy_worker(s.port, &b, &th);
	t0 = now_ms();
	expect_error(s.port, "POST", "/embed", "X-Request-Timeout-Ms: 50\r\n",
	             "{\"inputs\": \"hello world\"}", 504, "Overloaded");
	int64_t queued_ms = now_ms() - t0;
	pthread_join(th, NULL);
	ck_assert_int_eq(b.status, 200);
	ck_assert_double_eq(get_metric(s.port, EXPIRED), 2);
	ck_assert_msg(direct_ms < 1000, "an expired request took %lld ms", (long long)direct_ms);
	ck_assert_msg(queued_ms >= 50 && queued_ms < 1000,
	              "a 50 ms deadline was answered after %lld ms (the worker was busy for 1500)",
	              (long long)queued_ms);

	struct reply rp = call(s.port, "POST", "/embed", "X-Request-Timeout-Ms: 20000\r\n",
	                       "{\"inputs\": \"hello world\"}");
	ck_assert_msg(rp.status == 200, "generous deadline: %d %s", rp.status, rp.r.body);
	reply_dispose(&rp);
	ck_assert_double_eq(get_metric(s.port, EXPIRED), 2);
	server_stop_ok(&s);
}
END_TEST

/* --- 8. a client that resets is dropped; one that half-closes is answered -- */

static int send_embed(int port, const char *body)
{
	int fd = http_connect(port, REQUEST_MS);
	ck_assert_int_ge(fd, 0);
	char req[256];
	int n = snprintf(req, sizeof(req),
	                 "POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n%s",
	                 strlen(body), body);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	return fd;
}

START_TEST(test_client_disconnect)
{
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "500", 1);
	struct test_server s;
	server_start(&s, "bert", NULL);
	static const char GONE[] = "smolserve_dropped_requests_total{reason=\"disconnected\"}";
	ck_assert_double_eq(get_metric(s.port, GONE), 0);
	struct bg_call b;
	pthread_t th;
	occupy_worker(s.port, &b, &th);
	int fd = send_embed(s.port, "{\"inputs\": \"hello world\"}");
	double queued = wait_metric(s.port, "te_queue_size", 1, 900);
	struct linger abort_close = {1, 0}; /* close with a reset */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
	close(fd);
	ck_assert_msg(queued == 1, "the request was not queued (te_queue_size %g)", queued);

	struct reply rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"good morning\"}");
	ck_assert_msg(rp.status == 200, "after the reset: %d %s", rp.status, rp.r.body);
	reply_dispose(&rp);
	pthread_join(th, NULL);
	ck_assert_int_eq(b.status, 200);
	double gone = wait_metric(s.port, GONE, 1, 3000);
	ck_assert_msg(gone >= 1, "disconnected drops: %g", gone);
	/* two requests computed: the background one and "good morning" */
	ck_assert_double_eq(get_metric(s.port, "te_batch_next_size_sum"), 2);
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_half_close_answered)
{
	setenv("SMOLSERVE_TEST_HOLD_BATCH_MS", "300", 1);
	struct test_server s;
	server_start(&s, "bert", NULL);
	struct bg_call b;
	pthread_t th;
	occupy_worker(s.port, &b, &th);
	/* complete request, then no more to send: still reading the answer */
	int fd = send_embed(s.port, "{\"inputs\": \"hello world\"}");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	struct http_response r;
	ck_assert_int_eq(http_read_response(fd, REQUEST_MS, &r), 0);
	close(fd);
	ck_assert_msg(r.status == 200, "half-closed client: %d %s", r.status, r.body);
	http_response_dispose(&r);
	pthread_join(th, NULL);
	ck_assert_double_eq(
	    get_metric(s.port, "smolserve_dropped_requests_total{reason=\"disconnected\"}"), 0);
	server_stop_ok(&s);
}
END_TEST

/* --- 9. a lone request does not wait for company --------------------------- */

START_TEST(test_lone_request_runs_now)
{
	/* A delay far longer than the bound below: a free worker must not use it. */
	static const char *const args[] = {"--max-batch-delay-us", "5000000", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	for (int i = 0; i < 3; i++) {
		int64_t t0 = now_ms();
		struct reply rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"hello\"}");
		int64_t took = now_ms() - t0;
		ck_assert_int_eq(rp.status, 200);
		reply_dispose(&rp);
		ck_assert_msg(took < 2500, "a lone request took %lld ms: it waited for company",
		              (long long)took);
	}
	server_stop_ok(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_load");
	TCase *load = tcase_create("load");
	tcase_set_timeout(load, 120);
	tcase_add_test(load, test_concurrent_clients_batched);
	tcase_add_test(load, test_overload_429);
	tcase_add_test(load, test_sigterm_drains);
	tcase_add_test(load, test_sigterm_drain_timeout_answers);
	tcase_add_test(load, test_deadline_504);
	tcase_add_test(load, test_client_disconnect);
	tcase_add_test(load, test_half_close_answered);
	tcase_add_test(load, test_lone_request_runs_now);
	suite_add_tcase(s, load);
	return test_run_suite(s);
}

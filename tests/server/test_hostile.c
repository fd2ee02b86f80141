/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP service against hostile and careless clients, end to end: the
 * real `smolserve serve` on 127.0.0.1, attackers connecting from
 * 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback) so the
 * per-address connection limit tells them apart from a normal client.
 *   - the largest legal requests do not freeze the loop: /health keeps
 *     answering while they are parsed, run and encoded;
 *   - stalled uploads hold no concurrency slot;
 *   - slowloris and stalled uploads together cannot lock a normal client
 *     out, and once they close no socket lingers in CLOSE_WAIT and every
 *     gauge is back to 0;
 *   - non-finite weights refuse to load (exit 2 naming the tensor), and a
 *     non-finite output is a 424 on every model route, never a malformed 200;
 *   - headers that let a proxy and the server disagree on where a request
 *     ends are a 400 and close the connection; GET routes answer HEAD.
 * Everything is bounded in connections and time and stops by itself; the
 * time bounds are scaled for sanitizer builds.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "http_suite.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLOW 4 /* ASan + UBSan: everything takes a few times longer */
#else
#define SLOW 1
#endif

#define ATTACKER "127.0.0.2"

static void raise_fd_limit(int want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t n = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
	if (rl.rlim_cur < n) {
		rl.rlim_cur = n;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* --- /health while the largest legal requests are handled ------------------ */

struct prober {
	int port;
	volatile int stop;
	int n;
	int64_t worst_ms;
	int failures;
};

static void *prober_main(void *arg)
{
	struct prober *p = arg;
	while (!p->stop) {
		struct http_response r;
		int64_t t0 = now_ms();
		int rc = http_request(p->port, "GET", "/health", NULL, NULL, 0, REQUEST_MS, &r);
		int64_t took = now_ms() - t0;
		if (rc != 0 || r.status != 200)
			p->failures++;
		if (rc == 0)
			http_response_dispose(&r);
		if (took > p->worst_ms)
			p->worst_ms = took;
		p->n++;
		sleep_ms(20);
	}
	return NULL;
}

struct big_client {
	int port;
	const char *path;
	char *body;
	int status;
	size_t answer_bytes;
};

static void *big_client_main(void *arg)
{
	struct big_client *b = arg;
	struct http_response r;
	int rc = http_request(b->port, "POST", b->path, NULL, b->body, strlen(b->body),
	                      REQUEST_MS * SLOW, &r);
	b->status = rc == 0 ? r.status : rc;
	if (rc == 0) {
		b->answer_bytes = r.body_len;
		http_response_dispose(&r);
	}
	return NULL;
}

/* {"inputs": "a a a ..."}: n one-token words. */
static char *words_body(int n)
{
	char *b = malloc((size_t)n * 2 + 32);
	ck_assert_ptr_nonnull(b);
	size_t o = (size_t)sprintf(b, "{\"inputs\": \"");
	for (int i = 0; i < n; i++) {
		b[o++] = 'a';
		b[o++] = ' ';
	}
	strcpy(b + o, "\"}");
	return b;
}

/* 32 inputs of 126 words: the longest /embed_all the fixture allows. */
static char *embed_all_body(void)
{
	size_t cap = 32 * (126 * 2 + 8) + 32, o = 0;
	char *b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	o += (size_t)sprintf(b, "{\"inputs\": [");
	for (int k = 0; k < 32; k++) {
		o += (size_t)sprintf(b + o, "%s\"", k ? ", " : "");
		for (int i = 0; i < 126; i++)
			o += (size_t)sprintf(b + o, i ? " a" : "a");
		b[o++] = '"';
	}
	strcpy(b + o, "]}");
	return b;
}

START_TEST(test_big_requests_leave_health_alone)
{
	/* A token cap far above the default: /tokenize answers 150,000 tokens
	 * (about 9 MB of JSON), the work that froze the loop for seconds. */
	static const char *const args[] = {"--max-batch-tokens", "200000", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	struct prober p = {.port = s.port};
	pthread_t probe_th, big_th[3];
	struct big_client big[3] = {
	    {s.port, "/tokenize", words_body(150000), 0, 0},
	    {s.port, "/embed_all", embed_all_body(), 0, 0},
	    {s.port, "/tokenize", words_body(150000), 0, 0},
	};
	ck_assert_int_eq(pthread_create(&probe_th, NULL, prober_main, &p), 0);
	sleep_ms(50);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&big_th[i], NULL, big_client_main, &big[i]), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(big_th[i], NULL);
	p.stop = 1;
	pthread_join(probe_th, NULL);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(big[i].status == 200, "%s: %d", big[i].path, big[i].status);
		free(big[i].body);
	}
	ck_assert_msg(big[0].answer_bytes > 5000000, "/tokenize answered %zu bytes",
	              big[0].answer_bytes);
	ck_assert_msg(p.failures == 0, "%d /health probes failed", p.failures);
	ck_assert_msg(p.n >= 3, "only %d /health probes while the big requests ran", p.n);
	ck_assert_msg(p.worst_ms < 1000 * SLOW,
	              "/health took %lld ms while big requests were handled (%d probes)",
	              (long long)p.worst_ms, p.n);

	/* beyond the caps: a 422 naming the cap, not a huge answer */
	char *over = words_body(200100);
	struct reply rp = call(s.port, "POST", "/tokenize", NULL, over);
	free(over);
	ck_assert_int_eq(rp.status, 422);
	assert_error_body(&rp, "Validation", "/tokenize over the cap");
	ck_assert_msg(strstr(json_string_value(json_object_get(rp.json, "error")),
	                     "--max-batch-tokens") != NULL,
	              "%s", rp.r.body);
	reply_dispose(&rp);
	server_stop_ok(&s);
}
END_TEST

START_TEST(test_embed_all_floats_cap)
{
	static const char *const args[] = {"--max-response-floats", "1000", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	/* 3 tokens x 64 hidden = 192 floats: fine; 32 tokens x 64: over */
	struct reply rp = call(s.port, "POST", "/embed_all", NULL, "{\"inputs\": \"a\"}");
	ck_assert_int_eq(rp.status, 200);
	reply_dispose(&rp);
	rp = call(s.port, "POST", "/embed_all", NULL,
	          "{\"inputs\": \"a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a\"}");
	ck_assert_int_eq(rp.status, 422);
	assert_error_body(&rp, "Validation", "/embed_all over the cap");
	ck_assert_msg(strstr(rp.r.body, "--max-response-floats 1000") != NULL, "%s", rp.r.body);
	reply_dispose(&rp);
	server_stop_ok(&s);
}
END_TEST

/* --- attackers ------------------------------------------------------------- */

/* Opens n connections from ATTACKER, each sending prefix; returns how many
 * the server accepted (fds stored in fds[0..)). */
static int open_attackers(int port, int n, const char *prefix, int *fds)
{
	int opened = 0;
	for (int i = 0; i < n; i++) {
		int fd = http_connect_from(ATTACKER, port, 1000);
		if (fd < 0)
			continue;
		if (http_send_all(fd, prefix, strlen(prefix)) != 0) {
			close(fd);
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fds[opened++] = fd;
	}
	return opened;
}

/* One more byte on every attacker connection (errors ignored: the server
 * may have closed some). */
static void trickle(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		(void)!send(fds[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static const char STALLED[] = "POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Length: 100\r\n\r\n{\"inputs\": \"hel";

START_TEST(test_stalled_uploads_hold_no_slot)
{
	static const char *const args[] = {"--max-concurrent-requests", "8",
	                                   "--max-connections-per-ip", "0", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	static int fds[100];
	int n = open_attackers(s.port, 100, STALLED, fds);
	ck_assert_int_eq(n, 100);
	double receiving = wait_metric(s.port, "smolserve_requests_receiving", 100, 5000 * SLOW);
	ck_assert_msg(receiving == 100, "%g uploads in progress, expected 100", receiving);
	for (int i = 0; i < 5; i++) {
		struct reply rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"hello\"}");
		ck_assert_msg(rp.status == 200, "with 100 stalled uploads: %d %s", rp.status,
		              rp.r.body);
		reply_dispose(&rp);
	}
	ck_assert_double_eq(get_metric(s.port, "smolserve_requests_in_flight"), 0);
	close_all(fds, n);
	/* peers that close mid-upload are noticed and counted */
	double left = 1;
	for (int64_t until = now_ms() + 5000 * SLOW; left != 0 && now_ms() < until; sleep_ms(50))
		left = get_metric(s.port, "smolserve_requests_receiving");
	ck_assert_msg(left == 0, "%g uploads still counted after their peers closed", left);
	ck_assert_double_eq(
	    get_metric(s.port, "smolserve_dropped_requests_total{reason=\"disconnected\"}"), 100);
	server_stop_ok(&s);
}
END_TEST

/* Sockets of the server's port in CLOSE_WAIT (/proc/net/tcp, state 08). */
static int close_wait_count(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	if (f == NULL)
		return -1;
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned local_port, state;
		if (sscanf(line, " %*d: %*8x:%x %*8x:%*x %x", &local_port, &state) == 2 &&
		    (int)local_port == port && state == 0x08)
			n++;
	}
	fclose(f);
	return n;
}

#define N_STALLED 600
#define N_SLOW    800
#define ATTACK_MS 6000
#define SETTLE_MS 20000

START_TEST(test_attack_normal_client_served)
{
	raise_fd_limit(8192);
	static const char *const args[] = {"--header-timeout-s", "2", "--body-timeout-s", "3",
	                                   NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	static int fds[N_STALLED + N_SLOW];
	int n = open_attackers(s.port, N_STALLED, STALLED, fds);
	n += open_attackers(s.port, N_SLOW, "P", fds + n);
	ck_assert_msg(n > 0, "no attacker connection opened");

	int tries = 0;
	int64_t worst = 0;
	for (int64_t until = now_ms() + ATTACK_MS; now_ms() < until; tries++) {
		trickle(fds, n);
		int64_t t0 = now_ms();
		struct reply rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"hello\"}");
		int64_t took = now_ms() - t0;
		ck_assert_msg(rp.status == 200, "try %d during the attack: %d %s", tries, rp.status,
		              rp.r.body);
		reply_dispose(&rp);
		if (took > worst)
			worst = took;
		ck_assert_msg(took < 1000 * SLOW, "try %d during the attack took %lld ms", tries,
		              (long long)took);
		sleep_ms(200);
	}
	/* the per-address limit and the deadlines did their part */
	double timed_out =
	    get_metric(s.port, "smolserve_dropped_requests_total{reason=\"timeout\"}");
	ck_assert_msg(timed_out >= 1, "no stalled upload was cut by its deadline");
	close_all(fds, n);

	int cw = -1;
	double open = -1, in_flight = -1, receiving = -1;
	for (int64_t until = now_ms() + SETTLE_MS; now_ms() < until; sleep_ms(100)) {
		cw = close_wait_count(s.port);
		open = get_metric(s.port, "smolserve_connections_open"); /* counts this probe */
		in_flight = get_metric(s.port, "smolserve_requests_in_flight");
		receiving = get_metric(s.port, "smolserve_requests_receiving");
		if (cw == 0 && open <= 1 && in_flight == 0 && receiving == 0)
			break;
	}
	ck_assert_msg(cw == 0 && open <= 1 && in_flight == 0 && receiving == 0,
	              "%d s after the attackers closed: %d CLOSE_WAIT, %g connections, %g in "
	              "flight, %g receiving",
	              SETTLE_MS / 1000, cw, open, in_flight, receiving);
	fprintf(stderr, "attack: %d attacker connections, %d tries, worst %lld ms\n", n, tries,
	        (long long)worst);
	server_stop_ok(&s);
}
END_TEST

/* --- memory returns after a burst --------------------------------------------- */

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

/* Of the RSS: the workers' scratch, in kB, as /info reports it. */
static long scratch_kb(int port)
{
	struct reply rp = call(port, "GET", "/info", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	long kb = (long)(number_at(json_object_get(rp.json, "scratch_resident_mib")) * 1024);
	reply_dispose(&rp);
	return kb;
}

#define N_BURST 1500

/* Reads one whole response from a non-blocking fd into nothing; 1 when the
 * body (Content-Length) is complete, 0 while more is due, -1 on error. */
struct burst_conn {
	int fd;
	size_t got, need; /* need 0: headers not complete yet */
	char head[1024];
	size_t n_head;
};

static int burst_read(struct burst_conn *b)
{
	char buf[4096];
	for (;;) {
		ssize_t k = recv(b->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if (k == 0)
			return -1;
		for (ssize_t i = 0; i < k; i++) {
			if (b->need == 0 && b->n_head < sizeof(b->head) - 1) {
				b->head[b->n_head++] = buf[i];
				b->head[b->n_head] = '\0';
				char *end = strstr(b->head, "\r\n\r\n");
				const char *cl = strcasestr(b->head, "Content-Length:");
				if (end != NULL && cl != NULL)
					b->need = (size_t)strtoul(cl + 15, NULL, 10) +
					          1; /* +1: non-zero */
				continue;
			}
			b->got++;
		}
		if (b->need > 0 && b->got + 1 >= b->need)
			return 1;
	}
}

START_TEST(test_memory_returns_after_burst)
{
#if defined(__SANITIZE_ADDRESS__)
	return; /* ASan's allocator keeps freed memory in quarantine: RSS says nothing */
#endif
	raise_fd_limit(8192);
	static const char *const args[] = {"--max-concurrent-requests", "2000", NULL};
	struct test_server s;
	server_start(&s, "bert", args);
	for (int i = 0; i < 3; i++) { /* warm up */
		struct reply rp = call(s.port, "POST", "/embed", NULL, "{\"inputs\": \"warm up\"}");
		ck_assert_int_eq(rp.status, 200);
		reply_dispose(&rp);
	}
	long before = rss_kb(s.pid), scratch_before = scratch_kb(s.port);
	static const char BODY[] = "{\"inputs\": \"hello world hello world hello world\"}";
	char req[256];
	int n_req = snprintf(req, sizeof(req),
	                     "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
	                     strlen(BODY), BODY);
	static struct burst_conn c[N_BURST];
	int n = 0;
	for (int i = 0; i < N_BURST; i++) { /* 8 source addresses: under the per-address limit */
		char src[32];
		snprintf(src, sizeof(src), "127.0.0.%d", 10 + i % 8);
		int fd = http_connect_from(src, s.port, REQUEST_MS);
		if (fd < 0)
			continue;
		memset(&c[n], 0, sizeof(c[n]));
		c[n++].fd = fd;
	}
	ck_assert_msg(n >= N_BURST * 9 / 10, "only %d of %d connections opened", n, N_BURST);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(http_send_all(c[i].fd, req, (size_t)n_req), 0);
	int done = 0;
	for (int64_t until = now_ms() + 60000 * SLOW; done < n && now_ms() < until;) {
		done = 0;
		for (int i = 0; i < n; i++) {
			if (c[i].fd < 0) {
				done++;
				continue;
			}
			int rc = burst_read(&c[i]);
			ck_assert_msg(rc >= 0, "burst connection %d failed", i);
			if (rc == 1) {
				close(c[i].fd);
				c[i].fd = -1;
				done++;
			}
		}
		sleep_ms(5);
	}
	ck_assert_msg(done == n, "%d of %d burst requests answered", done, n);
	/* The burst's batches grew the scratch (lazy, kept for the next large
	 * batches: bounded by --max-batch-tokens, not by the burst); every
	 * other byte it took must come back. */
	long peak = rss_kb(s.pid), grown = scratch_kb(s.port) - scratch_before;
	long after = peak;
	for (int64_t until = now_ms() + 10000; now_ms() < until; sleep_ms(250)) {
		after = rss_kb(s.pid);
		if (after <= before * 6 / 5 + grown)
			break;
	}
	fprintf(stderr,
	        "burst: RSS %ld kB before, %ld kB after %d requests, %ld kB later (scratch grew "
	        "%ld kB)\n",
	        before, peak, n, after, grown);
	ck_assert_msg(grown >= 0 && grown < 64 * 1024, "the scratch grew by %ld kB", grown);
	ck_assert_msg(after <= before * 6 / 5 + grown,
	              "RSS %ld kB before the burst, %ld kB 10 s after (scratch grew %ld kB)",
	              before, after, grown);
	server_stop_ok(&s);
}
END_TEST

/* --- non-finite values ------------------------------------------------------ */

START_TEST(test_nonfinite_weights_refused)
{
	static const char *const cases[] = {"invalid/model/nan_weight", "invalid/model/inf_weight"};
	for (size_t i = 0; i < 2; i++) {
		const char *bin = getenv("SMOLSERVE_BIN");
		ck_assert_ptr_nonnull(bin);
		const char *argv[] = {bin,          "serve",     "--model", fixture_path(cases[i]),
		                      "--hostname", "127.0.0.1", "--port",  "0",
		                      NULL};
		char *out = NULL;
		int st = run_program(argv, 1, NULL, 0, RUN_MS, &out);
		ck_assert_msg(st == 2, "%s: exit %d, %s", cases[i], st, out ? out : "");
		ck_assert_msg(out != NULL &&
		                  strstr(out, "tensor "
		                              "\"encoder.layer.1.attention.output.dense."
		                              "weight\" holds a non-finite value") != NULL,
		              "%s: %s", cases[i], out ? out : "");
		free(out);
	}
}
END_TEST

static void expect_424(int port, const char *path, const char *body)
{
	struct reply rp = call(port, "POST", path, NULL, body);
	ck_assert_msg(rp.status == 424, "POST %s with non-finite outputs: %d %s", path, rp.status,
	              rp.r.body);
	int openai = strcmp(path, "/v1/embeddings") == 0; /* OpenAI's error shape there */
	if (!openai)
		assert_error_body(&rp, "Backend", path);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rp.json, openai ? "type" : "error_type")), "Backend");
	ck_assert_str_eq(json_string_value(json_object_get(rp.json, openai ? "message" : "error")),
	                 "the model produced NaN/Inf");
	reply_dispose(&rp);
}

START_TEST(test_nonfinite_outputs_424)
{
	static const struct {
		const char *fixture, *path, *body;
	} routes[] = {
	    {"bert", "/embed", "{\"inputs\": \"hello\"}"},
	    {"bert", "/embed_all", "{\"inputs\": [\"hello\", \"world\"]}"},
	    {"bert", "/similarity",
	     "{\"inputs\": {\"source_sentence\": \"a\", \"sentences\": [\"b\", \"c\"]}}"},
	    {"bert", "/v1/embeddings", "{\"input\": \"hello\"}"},
	    {"bert", "/v1/embeddings", "{\"input\": \"hello\", \"encoding_format\": \"base64\"}"},
	    {"bert-seqcls", "/predict", "{\"inputs\": \"I like you\"}"},
	    {"bert-rerank", "/rerank", "{\"query\": \"a\", \"texts\": [\"b\", \"c\"]}"},
	    {"bert-tokcls", "/predict_tokens", "{\"inputs\": \"Hello Sarah\"}"},
	};
	const size_t n = sizeof(routes) / sizeof(routes[0]);
	for (size_t i = 0; i < n;) {
		setenv("SMOLSERVE_TEST_NONFINITE", i % 2 ? "inf" : "nan", 1);
		struct test_server s;
		server_start(&s, routes[i].fixture, NULL);
		const char *fixture = routes[i].fixture;
		int served = 0;
		for (; i < n && strcmp(routes[i].fixture, fixture) == 0; i++, served++)
			expect_424(s.port, routes[i].path, routes[i].body);
		ck_assert_double_eq(
		    get_metric(s.port, "te_request_failure{err=\"inference\",status=\"424\"}"),
		    served);
		/* no model output, nothing to break */
		struct reply rp =
		    call(s.port, "POST", "/tokenize", NULL, "{\"inputs\": \"hello\"}");
		ck_assert_int_eq(rp.status, 200);
		reply_dispose(&rp);
		server_stop_ok(&s);
	}
}
END_TEST

/* --- strict HTTP ------------------------------------------------------------- */

/* Sends raw on a new connection; returns the response (status 0 if none)
 * and whether the server closed the connection after it. */
static int raw_exchange(int port, const char *raw, struct http_response *r, int *closed)
{
	int fd = http_connect(port, REQUEST_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(http_send_all(fd, raw, strlen(raw)), 0);
	memset(r, 0, sizeof(*r));
	int rc = http_read_response(fd, REQUEST_MS, r);
	char c;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	*closed = poll(&p, 1, 2000 * SLOW) == 1 && recv(fd, &c, 1, 0) <= 0;
	close(fd);
	return rc;
}

/* Sends raw and reads everything until the server closes (at most n - 1
 * bytes, NUL-terminated into out). Returns the bytes read. */
static size_t exchange_to_eof(int port, const char *raw, char *out, size_t n)
{
	int fd = http_connect(port, REQUEST_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(http_send_all(fd, raw, strlen(raw)), 0);
	size_t len = 0;
	for (int64_t until = now_ms() + REQUEST_MS; len + 1 < n && now_ms() < until;) {
		ssize_t k = recv(fd, out + len, n - 1 - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	out[len] = '\0';
	return len;
}

START_TEST(test_strict_http)
{
	struct test_server s;
	server_start(&s, "bert", NULL);
	static const char BODY[] = "{\"inputs\": \"hello\"}";
	static const struct {
		const char *what, *head;
	} bad[] = {
	    {"two different Content-Length",
	     "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\nContent-Length: 5\r\n\r\n"},
	    {"two equal Content-Length",
	     "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\nContent-Length: 19\r\n\r\n"},
	    {"Content-Length with Transfer-Encoding",
	     "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n"},
	    {"HTTP/1.1 without Host", "POST /embed HTTP/1.1\r\nContent-Length: 19\r\n\r\n"},
	    {"two Host headers",
	     "POST /embed HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 19\r\n\r\n"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char raw[512];
		snprintf(raw, sizeof(raw), "%s%s", bad[i].head, BODY);
		struct reply rp;
		int closed;
		memset(&rp, 0, sizeof(rp));
		ck_assert_msg(raw_exchange(s.port, raw, &rp.r, &closed) == 0, "%s: no answer",
		              bad[i].what);
		rp.status = rp.r.status;
		rp.json = json_loadb(rp.r.body, rp.r.body_len, 0, NULL);
		ck_assert_msg(rp.status == 400, "%s: %d %s", bad[i].what, rp.status, rp.r.body);
		assert_error_body(&rp, "Validation", bad[i].what);
		ck_assert_msg(closed, "%s: the connection stayed open", bad[i].what);
		reply_dispose(&rp);
	}
	/* HTTP/1.0 needs no Host */
	struct http_response r;
	int closed;
	ck_assert_int_eq(raw_exchange(s.port, "GET /health HTTP/1.0\r\n\r\n", &r, &closed), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_dispose(&r);

	/* HEAD on every GET route: the GET status and headers, no body */
	static const struct {
		const char *path, *status_line;
	} heads[] = {{"/health", "HTTP/1.1 200"},
	             {"/ping", "HTTP/1.1 200"},
	             {"/info", "HTTP/1.1 200"},
	             {"/metrics", "HTTP/1.1 200"},
	             {"/embed", "HTTP/1.1 405"}};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		char raw[256], got[4096];
		snprintf(raw, sizeof(raw),
		         "HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", heads[i].path);
		size_t n = exchange_to_eof(s.port, raw, got, sizeof(got));
		ck_assert_msg(strncmp(got, heads[i].status_line, strlen(heads[i].status_line)) == 0,
		              "HEAD %s: %s", heads[i].path, got);
		char *end = strstr(got, "\r\n\r\n");
		ck_assert_msg(end != NULL && (size_t)(end + 4 - got) == n,
		              "HEAD %s sent a body: %s", heads[i].path, got);
		ck_assert_msg(strcasestr(got, "\r\nContent-Length: ") != NULL,
		              "HEAD %s: no Content-Length: %s", heads[i].path, got);
	}
	server_stop_ok(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *big = tcase_create("big_requests");
	tcase_set_timeout(big, 60 * SLOW);
	tcase_add_test(big, test_big_requests_leave_health_alone);
	tcase_add_test(big, test_embed_all_floats_cap);
	suite_add_tcase(s, big);
	TCase *attack = tcase_create("attackers");
	tcase_set_timeout(attack, 60 * SLOW);
	tcase_add_test(attack, test_stalled_uploads_hold_no_slot);
	tcase_add_test(attack, test_attack_normal_client_served);
	tcase_add_test(attack, test_memory_returns_after_burst);
	suite_add_tcase(s, attack);
	TCase *nonfinite = tcase_create("nonfinite");
	tcase_set_timeout(nonfinite, 60 * SLOW);
	tcase_add_test(nonfinite, test_nonfinite_weights_refused);
	tcase_add_test(nonfinite, test_nonfinite_outputs_424);
	suite_add_tcase(s, nonfinite);
	TCase *strict = tcase_create("strict_http");
	tcase_set_timeout(strict, 60 * SLOW);
	tcase_add_test(strict, test_strict_http);
	suite_add_tcase(s, strict);
	return test_run_suite(s);
}

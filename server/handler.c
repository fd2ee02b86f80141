/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What each HTTP request gets (the access handler behind http.c), in three
 * steps:
 *   1. headers: the route table (any GET route answers HEAD too), strict
 *      HTTP (no smuggling-prone headers), CORS preflights and the API key,
 *      the payload limit, the deadline header, early refusals while loading,
 *      draining or overloaded;
 *   2. body complete: admission (a request takes a concurrency slot only
 *      now, so a stalled upload holds none), then the request becomes a job
 *      for the tokenization pool and its connection is suspended (flow.c);
 *   3. answer: the job's prepared answer (or a route answered right here)
 *      with TEI's timing headers, one log line and the metrics.
 * Runs on the loop thread inside MHD's callbacks: it never resumes a
 * connection and never does work whose size the client decides.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "codec.h"
#include "gemm.h"
#include "http-impl.h"
#include "log.h"
#include "openapi.h"
#include "service.h"
#include "strbuf.h"
#include "version.h"

enum handler_kind { H_MODEL, H_HEALTH, H_PING, H_INFO, H_METRICS, H_OPENAPI, H_DOCS };

struct route_entry {
	const char *path;
	const char *method;
	enum handler_kind kind;
	enum route route;
};

static const struct route_entry ROUTES[] = {
    {"/embed", "POST", H_MODEL, ROUTE_EMBED},
    {"/embed_all", "POST", H_MODEL, ROUTE_EMBED_ALL},
    {"/predict", "POST", H_MODEL, ROUTE_PREDICT},
    {"/tokenize", "POST", H_MODEL, ROUTE_TOKENIZE},
    {"/rerank", "POST", H_MODEL, ROUTE_RERANK},
    {"/similarity", "POST", H_MODEL, ROUTE_SIMILARITY},
    {"/decode", "POST", H_MODEL, ROUTE_DECODE},
    {"/v1/embeddings", "POST", H_MODEL, ROUTE_OPENAI},
    {"/embeddings", "POST", H_MODEL, ROUTE_OPENAI},
    {"/predict_tokens", "POST", H_MODEL, ROUTE_PREDICT_TOKENS},
    {"/health", "GET", H_HEALTH, ROUTE_COUNT_},
    {"/ping", "GET", H_PING, ROUTE_COUNT_},
    {"/info", "GET", H_INFO, ROUTE_COUNT_},
    {"/metrics", "GET", H_METRICS, ROUTE_COUNT_},
    /* text-embeddings-inference's other routes; POST / and /invocations
     * answer as the row of the model's kind (is_root_row) */
    {"/embed_sparse", "POST", H_MODEL, ROUTE_EMBED_SPARSE},
    {"/", "GET", H_HEALTH, ROUTE_COUNT_},
    {"/", "POST", H_MODEL, ROUTE_EMBED},
    {"/", "POST", H_MODEL, ROUTE_SIMILARITY},
    {"/", "POST", H_MODEL, ROUTE_PREDICT},
    {"/", "POST", H_MODEL, ROUTE_RERANK},
    {"/", "POST", H_MODEL, ROUTE_PREDICT_TOKENS},
    {"/invocations", "POST", H_MODEL, ROUTE_EMBED},
    {"/invocations", "POST", H_MODEL, ROUTE_SIMILARITY},
    {"/invocations", "POST", H_MODEL, ROUTE_PREDICT},
    {"/invocations", "POST", H_MODEL, ROUTE_RERANK},
    {"/invocations", "POST", H_MODEL, ROUTE_PREDICT_TOKENS},
    {"/api-doc/openapi.json", "GET", H_OPENAPI, ROUTE_COUNT_},
    {"/docs", "GET", H_DOCS, ROUTE_COUNT_},
    {"/docs/", "GET", H_DOCS, ROUTE_COUNT_},
};
#define N_ROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

/* Answers this large (bytes) trigger a memory trim once traffic calms. */
#define LARGE_ANSWER_BYTES (1u << 20)

/* Per-request state behind MHD's con_cls. */
struct conn {
	struct service *s;
	const struct route_entry *route; /* NULL: 404/405 */
	struct strbuf body;
	int too_big;
	int admitted;     /* counted in metrics.in_flight */
	int receiving;    /* counted in metrics.receiving */
	int body_pending; /* the headers announce a body (Content-Length or chunked) */
	int answered;
	uint64_t t_arrival_ns; /* headers complete */
	uint64_t deadline_ns;
	struct job *job;               /* the model work, from admission to completion */
	const struct api_error *error; /* the error being answered (reply_api_error) */
};

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* --- 3. answers ------------------------------------------------------------ */

static void log_answer(const char *method, const char *url, int status, const struct conn *st)
{
	const struct job *j = st->job;
	struct log_http h = {
	    .method = method,
	    .path = url,
	    .status = status,
	    .error = status >= 400 && st->error ? st->error->message : NULL,
	    .inputs = j ? (int)j->req.n_inputs : 0,
	    .tokens = j ? (int)j->req.n_tokens : 0,
	    .batch_requests = j ? (int)j->batch_requests : 0,
	    .queue_ms = j && j->t_start_ns ? ms(j->t_start_ns - j->t_queued_ns) : 0.0,
	    .inference_ms = j && j->t_end_ns ? ms(j->t_end_ns - j->t_start_ns) : 0.0,
	    .total_ms = ms(now_ns() - st->t_arrival_ns),
	};
	log_request(&h);
}

/* The model-route answer for te_request_* and te_embed_* / te_predict_*. */
static void count_answer(struct service *s, const struct conn *st, int status)
{
	const struct job *j = st->job;
	int parsed = j != NULL && j->t_queued_ns != 0;
	struct metrics_answer a = {
	    .route = st->route->route,
	    .batch = j ? j->req.batch : 0,
	    .status = status,
	    .kind = st->error ? st->error->kind : API_ERR_BACKEND,
	    .cause = st->error ? st->error->cause : CAUSE_DEFAULT,
	    .n_inputs = parsed ? j->req.n_inputs : 0,
	    .total_s = (double)(now_ns() - st->t_arrival_ns) / 1e9,
	    .tokenization_s = j ? (double)j->tokenize_ns / 1e9 : 0.0,
	    .queue_s = j && j->t_start_ns ? (double)(j->t_start_ns - j->t_queued_ns) / 1e9 : 0.0,
	    .inference_s = j && j->t_end_ns ? (double)(j->t_end_ns - j->t_start_ns) / 1e9 : 0.0,
	};
	metrics_answer(&s->metrics, &a);
}

static void add_timing_headers(struct MHD_Response *r, const struct conn *st)
{
	const struct job *j = st->job;
	char v[32];
	uint64_t now = now_ns();
	double total = ms(now - st->t_arrival_ns);
	double tok = j ? ms(j->tokenize_ns) : 0.0;
	double queue = j && j->t_start_ns ? ms(j->t_start_ns - j->t_queued_ns) : 0.0;
	double infer = j && j->t_end_ns ? ms(j->t_end_ns - j->t_start_ns) : 0.0;
	snprintf(v, sizeof(v), "%.3f", total);
	MHD_add_response_header(r, "x-compute-time", v);
	MHD_add_response_header(r, "x-total-time", v);
	snprintf(v, sizeof(v), "%d", j ? (int)j->req.n_tokens : 0);
	MHD_add_response_header(r, "x-compute-tokens", v);
	snprintf(v, sizeof(v), "%lld", j ? (long long)j->req.n_chars : 0LL);
	MHD_add_response_header(r, "x-compute-characters", v);
	MHD_add_response_header(r, "x-compute-type", "cpu");
	snprintf(v, sizeof(v), "%.3f", tok);
	MHD_add_response_header(r, "x-tokenization-time", v);
	snprintf(v, sizeof(v), "%.3f", queue);
	MHD_add_response_header(r, "x-queue-time", v);
	snprintf(v, sizeof(v), "%.3f", infer);
	MHD_add_response_header(r, "x-inference-time", v);
}

static void release_slot(struct service *s, struct conn *st)
{
	if (st->admitted) {
		st->admitted = 0;
		s->metrics.in_flight--;
	}
	if (st->receiving) {
		st->receiving = 0;
		s->metrics.receiving--;
	}
}

/* Queues body (malloc'd, taken over) with status; records metrics, log. An
 * answer sent before the whole body was read closes the connection: what
 * follows on it cannot be trusted to start a request. */
static enum MHD_Result reply(struct MHD_Connection *c, struct conn *st, int status,
                             const char *ctype, char *body, size_t len, const char *method,
                             const char *url)
{
	struct service *s = st->s;
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (st->route != NULL && st->route->kind == H_MODEL)
		add_timing_headers(r, st);
	if (status == 429)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (status == 405 && st->route != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		                        strcmp(st->route->method, "GET") == 0 ? "GET, HEAD"
		                                                              : st->route->method);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	access_add_cors(&s->access, r,
	                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN));
	if (s->draining || (st->receiving && st->body_pending) || status == 400)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);

	st->answered = 1;
	s->sending++;
	if (st->route != NULL && st->route->kind == H_MODEL && status != 405) {
		histogram_observe(&s->metrics.request_duration,
		                  (double)(now_ns() - st->t_arrival_ns) / 1e9);
		count_answer(s, st, status);
	}
	if ((st->route != NULL && st->route->kind == H_MODEL) || status >= 400)
		log_answer(method, url, status, st);
	if (len >= LARGE_ANSWER_BYTES)
		flow_trim_soon(s);
	release_slot(s, st);
	return ok;
}

/* An error answer in the route's shape (OpenAI's on /v1/embeddings). */
static enum MHD_Result reply_api_error(struct MHD_Connection *c, struct conn *st,
                                       const struct api_error *e, const char *method,
                                       const char *url)
{
	int model = st->route != NULL && st->route->kind == H_MODEL;
	json_t *v = codec_error_for(model ? st->route->route : ROUTE_COUNT_, e);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	st->error = e;
	enum MHD_Result ok = reply(c, st, api_error_http_status(e->kind), "application/json", text,
	                           text ? strlen(text) : 0, method, url);
	st->error = NULL;
	return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, struct conn *st,
                                   enum api_error_kind kind, const char *message,
                                   const char *method, const char *url)
{
	struct api_error e = {.kind = kind};
	snprintf(e.message, sizeof(e.message), "%s", message);
	return reply_api_error(c, st, &e, method, url);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, struct conn *st, json_t *v,
                                  const char *method, const char *url)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(v);
	if (text == NULL)
		return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
	return reply(c, st, 200, "application/json", text, strlen(text), method, url);
}

static json_t *info_json(const struct service *s)
{
	const struct model *m = s->model;
	const struct settings *c = s->cfg;
	json_t *type = codec_model_type(m);
	json_t *info = json_pack(
	    "{s:s, s:s, s:s, s:s?, s:s, s:o, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, "
	    "s:i, s:i, s:i, s:s, s:s, s:f, s:s, s:s?}",
	    "model_id", c->model_id, "model_dtype", "float32", "architecture", m->cfg.model_type,
	    "model_class", m->cfg.n_architectures ? m->cfg.architectures[0] : NULL, "tokenizer",
	    m->tok->ops->name, "model_type", type, "max_input_length", (int)m->max_input_length,
	    "hidden_size", (int)m->enc.hidden, "max_concurrent_requests",
	    (json_int_t)c->max_concurrent_requests, "max_batch_tokens",
	    (json_int_t)c->max_batch_tokens, "max_batch_requests",
	    (json_int_t)c->max_batch_requests, "max_batch_delay_us",
	    (json_int_t)c->max_batch_delay_us, "max_client_batch_size",
	    (json_int_t)c->max_client_batch_size, "payload_limit", (json_int_t)c->payload_limit,
	    "auto_truncate", c->auto_truncate, "shutdown_timeout_s",
	    (json_int_t)c->shutdown_timeout_s, "workers", s->layout.workers, "blas_threads",
	    s->layout.blas_threads, "cpus", s->layout.cpus, "blas_kernels", gemm_corename(),
	    "kernels", kernels_variant(), "model_load_seconds", s->metrics.model_load_seconds,
	    "version", SMOLSERVE_VERSION, "sha", /* TEI's git commit; null when unknown */
	    strcmp(SMOLSERVE_COMMIT, "unknown") != 0 ? SMOLSERVE_COMMIT : NULL);
	if (info == NULL)
		return NULL;
	codec_info_fields(info, m, &s->limits);
	/* the Hub commit loaded, as TEI's model_sha; null for a local folder */
	json_object_set_new(info, "model_sha",
	                    s->model_commit[0] ? json_string(s->model_commit) : json_null());
	/* The machine and the file it was read from: "wordpiece (tokenizer.json)". */
	char tok[96];
	snprintf(tok, sizeof(tok), "%s (%s)", m->tok->ops->name,
	         m->tok->source != NULL ? m->tok->source : "built in");
	json_object_set_new(info, "tokenizer", json_string(tok));
	/* How products run and what they cost in memory (bench/README.md). */
	const struct gemm_core_report *kc = gemm_core_report();
	unsigned long long rss = 0, peak = 0;
	memory_usage(&rss, &peak);
	json_object_set_new(info, "blas_kernel_choice",
	                    json_pack("{s:s, s:s, s:s, s:s}", "action", kc->action, "picked",
	                              kc->picked, "in_use", kc->in_use, "reason", kc->reason));
	json_object_set_new(info, "gemm_backend", json_string(gemm_backend_describe()));
	static const char *const layout_states[] = {"off", "read", "written", "failed"};
	json_object_set_new(info, "layout_cache", json_string(layout_states[m->layout_cache]));
	json_object_set_new(info, "rss_after_load_mib",
	                    json_real((double)memory_after_load() / (1 << 20)));
	json_object_set_new(info, "rss_mib", json_real((double)rss / (1 << 20)));
	json_object_set_new(info, "rss_peak_mib", json_real((double)peak / (1 << 20)));
	/* of rss_mib: the scratch the largest batches so far touched, kept for
	 * the next ones (workers_scratch_resident) */
	size_t scratch = s->workers != NULL ? workers_scratch_resident(s->workers) : 0;
	json_object_set_new(info, "scratch_resident_mib", json_real((double)scratch / (1 << 20)));
	json_t *limits = json_pack(
	    "{s:i, s:I, s:I, s:I, s:I, s:I}", "tokenization_workers", s->tokenization_workers,
	    "max_response_floats", (json_int_t)c->max_response_floats, "header_timeout_s",
	    (json_int_t)c->header_timeout_s, "body_timeout_s", (json_int_t)c->body_timeout_s,
	    "idle_timeout_s", (json_int_t)c->idle_timeout_s, "max_connections_per_ip",
	    (json_int_t)c->max_connections_per_ip);
	if (limits != NULL)
		json_object_update(info, limits);
	json_decref(limits);
	return info;
}

static enum MHD_Result handle_simple(struct MHD_Connection *c, struct conn *st, const char *method,
                                     const char *url)
{
	struct service *s = st->s;
	switch (st->route->kind) {
	case H_HEALTH:
	case H_PING: /* TEI: SageMaker's health check */
		if (!s->ready || s->draining)
			return reply_error(c, st, API_ERR_UNHEALTHY,
			                   s->draining ? "shutting down" : "model not loaded",
			                   method, url);
		return reply_json(c, st, json_pack("{s:s}", "status", "ok"), method, url);
	case H_OPENAPI:
	case H_DOCS: {
		struct openapi_doc d =
		    st->route->kind == H_OPENAPI ? openapi_json() : openapi_docs_html();
		char *copy = malloc(d.len ? d.len : 1);
		if (copy == NULL)
			return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
		memcpy(copy, d.data, d.len);
		return reply(c, st, 200, d.content_type, copy, d.len, method, url);
	}
	case H_INFO:
		if (s->model == NULL || !s->ready)
			return reply_error(c, st, API_ERR_UNHEALTHY, "the model is loading", method,
			                   url);
		return reply_json(c, st, info_json(s), method, url);
	case H_METRICS: {
		struct strbuf b;
		strbuf_init(&b);
		metrics_render(&s->metrics, &b);
		if (b.failed) {
			strbuf_dispose(&b);
			return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
		}
		size_t len;
		char *text = strbuf_take(&b, &len);
		return reply(c, st, 200, "text/plain; version=0.0.4; charset=utf-8", text, len,
		             method, url);
	}
	default:
		return reply_error(c, st, API_ERR_NOT_FOUND, "not found", method, url);
	}
}

/* The answer a job came back with (its connection was resumed). */
static enum MHD_Result answer_job(struct MHD_Connection *c, struct conn *st, const char *method,
                                  const char *url)
{
	struct service *s = st->s;
	struct job *j = st->job;
	struct job_answer *a = &j->answer;
	if (j->t_end_ns != 0 && a->status == 200) {
		histogram_observe(&s->metrics.queue_duration,
		                  (double)(j->t_start_ns - j->t_queued_ns) / 1e9);
		histogram_observe(&s->metrics.inference_duration,
		                  (double)(j->t_end_ns - j->t_start_ns) / 1e9);
	}
	if (a->drop >= 0)
		s->metrics.dropped[a->drop]++;
	char *body = a->body;
	a->body = NULL; /* MHD frees it with the response */
	st->error = a->status >= 400 ? &a->error : NULL;
	enum MHD_Result ok = reply(c, st, a->status, "application/json", body, a->len, method, url);
	st->error = NULL;
	return ok;
}

/* --- 2. body complete: admission and the job -------------------------------- */

static enum MHD_Result admit(struct MHD_Connection *c, struct conn *st, const char *method,
                             const char *url)
{
	struct service *s = st->s;
	if (st->receiving) { /* the body is complete */
		st->receiving = 0;
		s->metrics.receiving--;
	}
	if (st->too_big)
		return reply_error(c, st, API_ERR_PAYLOAD, "payload too large", method, url);
	if (st->body.failed)
		return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
	/* Requests whose headers came before a drain began are still served. */
	if (s->draining && st->t_arrival_ns >= s->drain_start_ns)
		return reply_error(c, st, API_ERR_UNHEALTHY, "shutting down", method, url);
	if (st->deadline_ns != 0 && now_ns() >= st->deadline_ns) {
		s->metrics.dropped[DROP_EXPIRED]++;
		return reply_error(c, st, API_ERR_DEADLINE,
		                   "X-Request-Timeout-Ms passed before the request could run",
		                   method, url);
	}
	if (s->metrics.in_flight >= s->cfg->max_concurrent_requests)
		return reply_error(c, st, API_ERR_OVERLOADED,
		                   "model is overloaded: too many concurrent requests", method,
		                   url);
	size_t n_text;
	char *text = strbuf_take(&st->body, &n_text);
	struct job *j = job_create(&s->env, st->route->route, text, n_text);
	if (j == NULL)
		return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
	s->metrics.in_flight++;
	st->admitted = 1;
	st->job = j;
	j->t_arrival_ns = st->t_arrival_ns;
	j->deadline_ns = st->deadline_ns;
	j->conn = c;
	j->force_batch = strcmp(st->route->path, "/") == 0 && st->route->route == ROUTE_PREDICT;
	http_watch_busy(s, c);
	if (flow_start(s, j)) /* answered already: no need to suspend */
		return answer_job(c, st, method, url);
	MHD_suspend_connection(c); /* before any resume: those wait for the next MHD run */
	return MHD_YES;
}

/* --- 1. headers ------------------------------------------------------------ */

/* POST / and POST /invocations: TEI's routes answered by model kind. */
static int is_root_row(const struct route_entry *e)
{
	return e->kind == H_MODEL &&
	       (strcmp(e->path, "/") == 0 || strcmp(e->path, "/invocations") == 0);
}

static const struct route_entry *find_route(const struct service *s, const char *url,
                                            const char *method, int *known)
{
	int head = strcmp(method, "HEAD") == 0;
	*known = 0;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (strcmp(url, ROUTES[i].path) != 0)
			continue;
		if (is_root_row(&ROUTES[i]) &&
		    ROUTES[i].route != codec_root_route(s->model, s->cfg->task))
			continue;
		*known = 1;
		if (strcmp(method, ROUTES[i].method) == 0 ||
		    (head && strcmp(ROUTES[i].method, "GET") == 0))
			return &ROUTES[i];
	}
	return NULL;
}

/* A CORS preflight: 200, no body, the allowed origin, methods and headers. */
static enum MHD_Result reply_preflight(struct MHD_Connection *c, struct conn *st)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	access_add_preflight(
	    &st->s->access, r,
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN));
	enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	st->answered = 1;
	return ok;
}

struct header_count {
	int content_length, transfer_encoding, host;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
	(void)kind;
	(void)value;
	struct header_count *n = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		n->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		n->transfer_encoding++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		n->host++;
	return MHD_YES;
}

/* Headers that proxies and servers may read differently (request
 * smuggling): NULL if none, else why the request is refused. */
static const char *ambiguous_framing(struct MHD_Connection *c, const char *version)
{
	struct header_count n = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &n);
	if (n.content_length > 1)
		return "more than one Content-Length header";
	if (n.content_length > 0 && n.transfer_encoding > 0)
		return "Content-Length together with Transfer-Encoding";
	if (n.transfer_encoding > 1)
		return "more than one Transfer-Encoding header";
	if (n.host > 1)
		return "more than one Host header";
	if (n.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
		return "an HTTP/1.1 request without a Host header";
	return NULL;
}

/* Parses X-Request-Timeout-Ms into st->deadline_ns: 0, or -1 if invalid. */
static int parse_deadline(struct MHD_Connection *c, struct conn *st)
{
	const char *timeout =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Timeout-Ms");
	if (timeout == NULL)
		return 0;
	char *end;
	double t = strtod(timeout, &end);
	if (end == timeout || *end != '\0' || !(t > 0) || t > 1e9)
		return -1;
	st->deadline_ns = st->t_arrival_ns + (uint64_t)(t * 1e6);
	return 0;
}

/* First call for a request (its headers are complete): route, strict HTTP,
 * key, early refusals. Returns 1 if an answer was queued (*ret set). */
static int on_headers(struct MHD_Connection *c, struct conn *st, const char *url,
                      const char *method, const char *version, enum MHD_Result *ret)
{
	struct service *s = st->s;
	static const struct route_entry any = {"", "", H_PING, ROUTE_COUNT_};
	int known;
	const char *bad = ambiguous_framing(c, version);
	const char *len =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n_len = len != NULL ? strtoull(len, NULL, 10) : 0;
	st->body_pending = n_len > 0 || MHD_lookup_connection_value(
	                                    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (bad != NULL) {
		st->route = &any;
		*ret = reply_error(c, st, API_ERR_BAD_REQUEST, bad, method, url);
		return 1;
	}
	if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) { /* a CORS preflight, any path */
		*ret = reply_preflight(c, st);
		return 1;
	}
	st->route = find_route(s, url, method, &known);
	if (st->route == NULL) {
		for (size_t i = 0; known && i < N_ROUTES; i++)
			if (strcmp(url, ROUTES[i].path) == 0)
				st->route = &ROUTES[i];
		if (st->route == NULL)
			st->route = &any;
		*ret = reply_error(c, st, known ? API_ERR_METHOD : API_ERR_NOT_FOUND,
		                   known ? "method not allowed" : "not found", method, url);
		return 1;
	}
	if (!access_authorized(
	        &s->access, method, url,
	        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
		*ret = reply_error(c, st, API_ERR_UNAUTHORIZED, "Unauthorized", method, url);
		return 1;
	}
	if (st->route->kind != H_MODEL)
		return 0;
	if (s->draining)
		*ret = reply_error(c, st, API_ERR_UNHEALTHY, "shutting down", method, url);
	else if (!s->ready) /* downloading or loading the model */
		*ret = reply_error(c, st, API_ERR_UNHEALTHY, "the model is loading", method, url);
	else if (s->metrics.in_flight >= s->cfg->max_concurrent_requests) /* early, no upload */
		*ret =
		    reply_error(c, st, API_ERR_OVERLOADED,
		                "model is overloaded: too many concurrent requests", method, url);
	else if (n_len > (unsigned long long)s->cfg->payload_limit)
		*ret = reply_error(c, st, API_ERR_PAYLOAD, "payload too large", method, url);
	else if (parse_deadline(c, st) != 0)
		*ret = reply_error(c, st, API_ERR_VALIDATION,
		                   "X-Request-Timeout-Ms must be a positive number of milliseconds",
		                   method, url);
	else
		return 0;
	return 1;
}

/* A piece of the body: kept up to the payload limit. */
static void on_upload(struct conn *st, const char *data, size_t n)
{
	if (st->body.len + n > (size_t)st->s->cfg->payload_limit)
		st->too_big = 1;
	else
		strbuf_append(&st->body, data, n);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
	struct service *s = cls;
	struct conn *st = *con_cls;
	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		st->s = s;
		st->t_arrival_ns = now_ns();
		strbuf_init(&st->body);
		*con_cls = st;
		s->requests_open++;
		st->receiving = 1;
		s->metrics.receiving++;
		http_watch_body(s, c);
		enum MHD_Result ret = MHD_YES;
		on_headers(c, st, url, method, version, &ret);
		return ret;
	}
	if (st->answered && st->job == NULL) { /* answered early: discard the upload */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		on_upload(st, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->job != NULL) /* resumed: the answer is ready */
		return answer_job(c, st, method, url);
	if (st->route->kind != H_MODEL) {
		release_slot(s, st);
		return handle_simple(c, st, method, url);
	}
	return admit(c, st, method, url);
}

void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
	struct service *s = cls;
	struct conn *st = *con_cls;
	if (st == NULL)
		return;
	if (!st->answered) { /* MHD dropped it before the final call */
		enum drop_reason why = DROP_ERROR;
		if (http_watch_killed(c) || toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
			why = DROP_TIMEOUT;
		else if (toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ||
		         toe == MHD_REQUEST_TERMINATED_READ_ERROR)
			why = DROP_DISCONNECTED;
		else if (toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
			why = DROP_SHUTDOWN;
		s->metrics.dropped[why]++;
	}
	if (st->answered)
		s->sending--;
	release_slot(s, st);
	job_destroy(st->job);
	strbuf_dispose(&st->body);
	free(st);
	*con_cls = NULL;
	s->requests_open--;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		http_watch_idle(s, c);
}

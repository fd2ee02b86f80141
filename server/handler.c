/*
 * What each HTTP request gets (the access handler behind http.c): the route
 * table, admission (concurrency limit, payload limit, draining), JSON
 * parsing and validation through the codec, handing model work to the
 * batcher with the connection suspended, and the answer with TEI's timing
 * headers, one log line and the metrics.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Per-request state behind MHD's con_cls. */
struct conn {
	struct service *s;
	const struct route_entry *route; /* NULL: 404/405 */
	struct strbuf body;
	int too_big;
	int admitted; /* counted in metrics.in_flight */
	uint64_t t_arrival_ns;
	uint64_t deadline_ns;
	struct job *job; /* queued or finished model work */
	int answered;
	const struct api_error *error; /* the error being answered (reply_api_error) */
};

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

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

/* Queues body (malloc'd, taken over) with status; records metrics, log. */
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
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, st->route->method);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	access_add_cors(&s->access, r,
	                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN));
	if (s->draining)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);

	st->answered = 1;
	if (st->route != NULL && st->route->kind == H_MODEL && status != 405) {
		histogram_observe(&s->metrics.request_duration,
		                  (double)(now_ns() - st->t_arrival_ns) / 1e9);
		count_answer(s, st, status);
	}
	if ((st->route != NULL && st->route->kind == H_MODEL) || status >= 400)
		log_answer(method, url, status, st);
	if (st->admitted) {
		st->admitted = 0;
		s->metrics.in_flight--;
	}
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
	json_object_set_new(info, "rss_after_load_mib",
	                    json_real((double)memory_after_load() / (1 << 20)));
	json_object_set_new(info, "rss_mib", json_real((double)rss / (1 << 20)));
	json_object_set_new(info, "rss_peak_mib", json_real((double)peak / (1 << 20)));
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

/* The answer of a model request whose job came back from the batcher. */
static enum MHD_Result answer_job(struct MHD_Connection *c, struct conn *st, const char *method,
                                  const char *url)
{
	struct service *s = st->s;
	struct job *j = st->job;
	switch (j->state) {
	case JOB_DONE:
		histogram_observe(&s->metrics.queue_duration,
		                  (double)(j->t_start_ns - j->t_queued_ns) / 1e9);
		histogram_observe(&s->metrics.inference_duration,
		                  (double)(j->t_end_ns - j->t_start_ns) / 1e9);
		return reply_json(c, st, codec_respond(s->model, &j->req), method, url);
	case JOB_FAILED:
		return reply_error(c, st, API_ERR_BACKEND, j->err, method, url);
	case JOB_EXPIRED:
		s->metrics.dropped[DROP_EXPIRED]++;
		return reply_error(c, st, API_ERR_DEADLINE,
		                   "X-Request-Timeout-Ms passed before the request could run",
		                   method, url);
	case JOB_DISCONNECTED:
		s->metrics.dropped[DROP_DISCONNECTED]++;
		return reply_error(c, st, API_ERR_UNHEALTHY, "client disconnected", method, url);
	case JOB_SHUTDOWN:
		s->metrics.dropped[DROP_SHUTDOWN]++;
		return reply_error(c, st, API_ERR_UNHEALTHY,
		                   "shutting down: the drain timed out before this request ran",
		                   method, url);
	default:
		return MHD_NO; /* resumed too early: cannot happen */
	}
}

/* Parses, validates and tokenizes a complete model request; answers it or
 * queues it and suspends the connection. */
static enum MHD_Result start_model_work(struct MHD_Connection *c, struct conn *st,
                                        const char *method, const char *url)
{
	struct service *s = st->s;
	struct api_error e = {0};
	json_error_t jerr;
	uint64_t t0 = now_ns();
	struct job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
	request_init(&j->req);
	st->job = j;
	j->t_arrival_ns = st->t_arrival_ns;
	j->deadline_ns = st->deadline_ns;
	j->conn = c;
	j->body = json_loadb(st->body.data ? st->body.data : "", st->body.len,
	                     JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	strbuf_dispose(&st->body);
	if (j->body == NULL) {
		char msg[300];
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		return reply_error(c, st, API_ERR_VALIDATION, msg, method, url);
	}
	if (codec_parse(s->model, st->route->route, j->body, &s->limits, &j->req, &e) != 0)
		return reply_api_error(c, st, &e, method, url);
	if (strcmp(st->route->path, "/") == 0 && st->route->route == ROUTE_PREDICT)
		j->req.batch = 1; /* the Inference API's [[{label, score}]] for one text */
	j->tokenize_ns = now_ns() - t0;
	histogram_observe(&s->metrics.tokenization_duration, (double)j->tokenize_ns / 1e9);
	for (int32_t i = 0; i < j->req.n_inputs; i++)
		if (route_work(j->req.route) != WORK_NONE)
			histogram_observe(&s->metrics.input_length, j->req.inputs[i].n);
	if (route_work(j->req.route) == WORK_NONE) /* tokenize, decode */
		return reply_json(c, st, codec_respond(s->model, &j->req), method, url);
	if (j->req.n_tokens > s->cfg->max_batch_tokens) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "the request holds %d tokens, more than --max-batch-tokens %lld",
		         (int)j->req.n_tokens, (long long)s->cfg->max_batch_tokens);
		return reply_error(c, st, API_ERR_VALIDATION, msg, method, url);
	}
	j->t_queued_ns = now_ns();
	MHD_suspend_connection(c);
	batcher_submit(s, j);
	return MHD_YES;
}

/* POST / and POST /invocations: TEI's routes answered by model kind. */
static int is_root_row(const struct route_entry *e)
{
	return e->kind == H_MODEL &&
	       (strcmp(e->path, "/") == 0 || strcmp(e->path, "/invocations") == 0);
}

static const struct route_entry *find_route(const struct service *s, const char *url,
                                            const char *method, int *known)
{
	*known = 0;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (strcmp(url, ROUTES[i].path) != 0)
			continue;
		if (is_root_row(&ROUTES[i]) &&
		    ROUTES[i].route != codec_root_route(s->model, s->cfg->task))
			continue;
		*known = 1;
		if (strcmp(method, ROUTES[i].method) == 0)
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

/* First call for a request: route, key, admission, header checks. Returns
 * 1 if an answer was queued. */
static int first_call(struct MHD_Connection *c, struct conn *st, const char *url,
                      const char *method, enum MHD_Result *ret)
{
	struct service *s = st->s;
	int known;
	if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) { /* a CORS preflight, any path */
		*ret = reply_preflight(c, st);
		return 1;
	}
	st->route = find_route(s, url, method, &known);
	if (st->route == NULL) {
		static const struct route_entry any = {"", "", H_PING, ROUTE_COUNT_};
		if (known) {
			for (size_t i = 0; i < N_ROUTES; i++)
				if (strcmp(url, ROUTES[i].path) == 0)
					st->route = &ROUTES[i];
			*ret =
			    reply_error(c, st, API_ERR_METHOD, "method not allowed", method, url);
			return 1;
		}
		st->route = &any;
		*ret = reply_error(c, st, API_ERR_NOT_FOUND, "not found", method, url);
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
	if (s->draining) {
		*ret = reply_error(c, st, API_ERR_UNHEALTHY, "shutting down", method, url);
		return 1;
	}
	if (!s->ready) { /* downloading or loading the model */
		*ret = reply_error(c, st, API_ERR_UNHEALTHY, "the model is loading", method, url);
		return 1;
	}
	if (s->metrics.in_flight >= s->cfg->max_concurrent_requests) {
		*ret =
		    reply_error(c, st, API_ERR_OVERLOADED,
		                "model is overloaded: too many concurrent requests", method, url);
		return 1;
	}
	s->metrics.in_flight++;
	st->admitted = 1;
	const char *len =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > (unsigned long long)s->cfg->payload_limit) {
		*ret = reply_error(c, st, API_ERR_PAYLOAD, "payload too large", method, url);
		return 1;
	}
	const char *timeout =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Timeout-Ms");
	if (timeout != NULL) {
		char *end;
		double t = strtod(timeout, &end);
		if (end == timeout || *end != '\0' || !(t > 0) || t > 1e9) {
			*ret = reply_error(c, st, API_ERR_VALIDATION,
			                   "X-Request-Timeout-Ms must be a positive number of "
			                   "milliseconds",
			                   method, url);
			return 1;
		}
		st->deadline_ns = st->t_arrival_ns + (uint64_t)(t * 1e6);
	}
	return 0;
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
	(void)version;
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
		enum MHD_Result ret = MHD_YES;
		if (first_call(c, st, url, method, &ret))
			return ret;
		return MHD_YES;
	}
	if (st->answered) { /* answered early (413, 429...): discard the upload */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (st->body.len + *upload_data_size > (size_t)s->cfg->payload_limit)
			st->too_big = 1;
		else
			strbuf_append(&st->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->job != NULL) /* resumed: the batch finished */
		return answer_job(c, st, method, url);
	if (st->route->kind != H_MODEL)
		return handle_simple(c, st, method, url);
	if (st->too_big)
		return reply_error(c, st, API_ERR_PAYLOAD, "payload too large", method, url);
	if (st->body.failed)
		return reply_error(c, st, API_ERR_BACKEND, "out of memory", method, url);
	return start_model_work(c, st, method, url);
}

void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	struct service *s = cls;
	struct conn *st = *con_cls;
	if (st == NULL)
		return;
	if (st->admitted)
		s->metrics.in_flight--;
	job_destroy(st->job);
	strbuf_dispose(&st->body);
	free(st);
	*con_cls = NULL;
	s->requests_open--;
}

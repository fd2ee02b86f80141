/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric storage and Prometheus text rendering (see metrics.h).
 */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

/* Seconds: 100 us .. 60 s, roughly x2.5 per bucket. */
static const double DURATION_BOUNDS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                         1.0,    2.5,     5.0,    10.0,  30.0,   60.0};
static const double LENGTH_BOUNDS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double COUNT_BOUNDS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
static const double TOKEN_BOUNDS[] = {16,   32,   64,   128,   256,   512,  1024,
                                      2048, 4096, 8192, 16384, 32768, 65536};
static const double FILL_BOUNDS[] = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

/* After metrics_init's memset: counts are already zero. */
static void hist_init(struct histogram *h, const double *bounds, int n)
{
	h->bounds = bounds;
	h->n_bounds = n;
}

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	hist_init(&m->request_duration, DURATION_BOUNDS, N(DURATION_BOUNDS));
	hist_init(&m->queue_duration, DURATION_BOUNDS, N(DURATION_BOUNDS));
	hist_init(&m->tokenization_duration, DURATION_BOUNDS, N(DURATION_BOUNDS));
	hist_init(&m->inference_duration, DURATION_BOUNDS, N(DURATION_BOUNDS));
	hist_init(&m->input_length, LENGTH_BOUNDS, N(LENGTH_BOUNDS));
	hist_init(&m->batch_size, COUNT_BOUNDS, N(COUNT_BOUNDS));
	hist_init(&m->batch_tokens, TOKEN_BOUNDS, N(TOKEN_BOUNDS));
	hist_init(&m->batch_fill, FILL_BOUNDS, N(FILL_BOUNDS));
	for (int f = 0; f < FAMILY_COUNT_; f++) {
		hist_init(&m->family[f].duration, DURATION_BOUNDS, N(DURATION_BOUNDS));
		hist_init(&m->family[f].tokenization, DURATION_BOUNDS, N(DURATION_BOUNDS));
		hist_init(&m->family[f].queue, DURATION_BOUNDS, N(DURATION_BOUNDS));
		hist_init(&m->family[f].inference, DURATION_BOUNDS, N(DURATION_BOUNDS));
	}
}

static const struct {
	const char *err;
	int status;
} FAILS[FAIL_COUNT_] = {
    [FAIL_VALIDATION] = {"validation", 422},     [FAIL_EMPTY] = {"validation", 400},
    [FAIL_BATCH_SIZE] = {"batch_size", 422},     [FAIL_TOKENIZATION] = {"tokenization", 422},
    [FAIL_MODEL_TYPE] = {"model_type", 424},     [FAIL_INFERENCE] = {"inference", 424},
    [FAIL_OVERLOADED] = {"overloaded", 429},     [FAIL_UNHEALTHY] = {"unhealthy", 503},
    [FAIL_DEADLINE] = {"deadline", 504},         [FAIL_PAYLOAD] = {"payload", 413},
    [FAIL_UNAUTHORIZED] = {"unauthorized", 401},
};

/* The failure an error counts as; -1 for 404 and 405 (no route). */
static int fail_index(enum api_error_kind kind, enum api_cause cause)
{
	switch (cause) {
	case CAUSE_BATCH_SIZE:
		return FAIL_BATCH_SIZE;
	case CAUSE_MODEL_TYPE:
		return FAIL_MODEL_TYPE;
	case CAUSE_TOKENIZATION:
		return FAIL_TOKENIZATION;
	case CAUSE_DEFAULT:
		break;
	}
	switch (kind) {
	case API_ERR_VALIDATION:
		return FAIL_VALIDATION;
	case API_ERR_TOKENIZER:
		return FAIL_TOKENIZATION;
	case API_ERR_EMPTY:
		return FAIL_EMPTY;
	case API_ERR_BACKEND:
		return FAIL_INFERENCE;
	case API_ERR_OVERLOADED:
		return FAIL_OVERLOADED;
	case API_ERR_UNHEALTHY:
		return FAIL_UNHEALTHY;
	case API_ERR_PAYLOAD:
		return FAIL_PAYLOAD;
	case API_ERR_DEADLINE:
		return FAIL_DEADLINE;
	case API_ERR_UNAUTHORIZED:
		return FAIL_UNAUTHORIZED;
	case API_ERR_BAD_REQUEST: /* ambiguous framing */
		return FAIL_EMPTY;
	default:
		return -1;
	}
}

static int family_of(enum route r)
{
	switch (r) {
	case ROUTE_EMBED:
	case ROUTE_EMBED_ALL:
	case ROUTE_SIMILARITY:
	case ROUTE_OPENAI:
		return FAMILY_EMBED;
	case ROUTE_PREDICT:
	case ROUTE_RERANK:
	case ROUTE_PREDICT_TOKENS:
		return FAMILY_PREDICT;
	default:
		return -1;
	}
}

void metrics_answer(struct metrics *m, const struct metrics_answer *a)
{
	if (a->route < 0 || a->route >= ROUTE_COUNT_)
		return;
	int b = a->batch != 0;
	m->request_count[a->route][b]++;
	if (a->status < 400) {
		m->request_success[a->route][b]++;
	} else {
		int f = fail_index(a->kind, a->cause);
		if (f >= 0)
			m->request_failure[f]++;
	}
	int fam = family_of(a->route);
	if (fam < 0 || a->n_inputs <= 0)
		return;
	struct family_metrics *fm = &m->family[fam];
	fm->count += (uint64_t)a->n_inputs;
	if (a->status >= 400)
		return;
	fm->success += (uint64_t)a->n_inputs;
	for (int32_t i = 0; i < a->n_inputs; i++) { /* TEI observes per input */
		histogram_observe(&fm->duration, a->total_s);
		histogram_observe(&fm->tokenization, a->tokenization_s);
		histogram_observe(&fm->queue, a->queue_s);
		histogram_observe(&fm->inference, a->inference_s);
	}
}

void histogram_observe(struct histogram *h, double v)
{
	int i = 0;
	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

static void header(struct strbuf *o, const char *name, const char *type, const char *help)
{
	strbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(struct strbuf *o, const char *name, const char *help, const struct histogram *h)
{
	header(o, name, "histogram", help);
	uint64_t cum = 0;
	for (int i = 0; i < h->n_bounds; i++) {
		cum += h->counts[i];
		strbuf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
		              (unsigned long long)cum);
	}
	cum += h->counts[h->n_bounds];
	strbuf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
	              (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}

static void scalar(struct strbuf *o, const char *name, const char *type, const char *help, double v)
{
	header(o, name, type, help);
	strbuf_printf(o, "%s %.9g\n", name, v);
}

/* te_request_count or _success: method (TEI's single | batch) and the
 * route as smolserve_route. */
static void by_route(struct strbuf *o, const char *name, const char *help, const uint64_t (*v)[2])
{
	header(o, name, "counter", help);
	for (int i = 0; i < ROUTE_COUNT_; i++)
		for (int b = 0; b < 2; b++)
			strbuf_printf(o, "%s{method=\"%s\",smolserve_route=\"%s\"} %llu\n", name,
			              b ? "batch" : "single", route_name((enum route)i),
			              (unsigned long long)v[i][b]);
}

static void family(struct strbuf *o, const char *task, const struct family_metrics *f)
{
	char name[64], help[128];
	snprintf(name, sizeof(name), "te_%s_count", task);
	snprintf(help, sizeof(help), "Inputs of %s requests that reached the model", task);
	scalar(o, name, "counter", help, (double)f->count);
	snprintf(name, sizeof(name), "te_%s_success", task);
	snprintf(help, sizeof(help), "Inputs of %s requests answered", task);
	scalar(o, name, "counter", help, (double)f->success);
	static const char *const parts[] = {"duration", "tokenization_duration", "queue_duration",
	                                    "inference_duration"};
	const struct histogram *h[] = {&f->duration, &f->tokenization, &f->queue, &f->inference};
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "te_%s_%s", task, parts[i]);
		snprintf(help, sizeof(help), "%s of %s requests, per input, seconds", parts[i],
		         task);
		hist(o, name, help, h[i]);
	}
}

void metrics_render(const struct metrics *m, struct strbuf *o)
{
	by_route(o, "te_request_count", "Model requests answered, by input shape and route",
	         m->request_count);
	by_route(o, "te_request_success", "Model requests answered successfully",
	         m->request_success);
	header(o, "te_request_failure", "counter",
	       "Model requests answered with an error, by cause and status");
	for (int i = 0; i < FAIL_COUNT_; i++)
		strbuf_printf(o, "te_request_failure{err=\"%s\",status=\"%d\"} %llu\n",
		              FAILS[i].err, FAILS[i].status,
		              (unsigned long long)m->request_failure[i]);
	family(o, "embed", &m->family[FAMILY_EMBED]);
	family(o, "predict", &m->family[FAMILY_PREDICT]);
	scalar(o, "te_queue_size", "gauge", "Requests waiting for a batch", (double)m->queue_size);
	hist(o, "te_request_duration", "Request duration, arrival to answer, seconds",
	     &m->request_duration);
	hist(o, "te_request_queue_duration", "Time queued before the batch started, seconds",
	     &m->queue_duration);
	hist(o, "te_request_tokenization_duration", "Tokenization time, seconds",
	     &m->tokenization_duration);
	hist(o, "te_request_inference_duration", "Time in the forward pass, seconds",
	     &m->inference_duration);
	hist(o, "te_request_input_length", "Tokens per input", &m->input_length);
	hist(o, "te_batch_next_size", "Requests per batch", &m->batch_size);
	hist(o, "te_batch_next_tokens", "Tokens per batch", &m->batch_tokens);

	hist(o, "smolserve_batch_fill_ratio", "Batch tokens / max-batch-tokens", &m->batch_fill);
	scalar(o, "smolserve_batches_total", "counter", "Batches run", (double)m->batches);
	scalar(o, "smolserve_queue_tokens", "gauge", "Tokens waiting for a batch",
	       (double)m->queue_tokens);
	scalar(o, "smolserve_requests_in_flight", "gauge", "Requests accepted, not yet answered",
	       (double)m->in_flight);
	scalar(o, "smolserve_connections_open", "gauge", "Open TCP connections",
	       (double)m->connections);
	scalar(o, "smolserve_requests_receiving", "gauge",
	       "Requests whose headers arrived and whose body is not complete yet",
	       (double)m->receiving);
	scalar(o, "smolserve_tokenization_pending", "gauge",
	       "Requests in the tokenization pool (parse or answer encoding)",
	       (double)m->tokenizing);
	scalar(o, "smolserve_worker_busy_seconds_total", "counter",
	       "Seconds workers spent running batches", m->worker_busy_seconds);
	header(o, "smolserve_dropped_requests_total", "counter",
	       "Requests dropped before their work or answer completed, by reason");
	static const char *const reasons[DROP_COUNT_] = {"disconnected", "expired", "shutdown",
	                                                 "timeout", "error"};
	for (int i = 0; i < DROP_COUNT_; i++)
		strbuf_printf(o, "smolserve_dropped_requests_total{reason=\"%s\"} %llu\n",
		              reasons[i], (unsigned long long)m->dropped[i]);
	scalar(o, "smolserve_model_load_seconds", "gauge", "Time to load the model at start",
	       m->model_load_seconds);
	scalar(o, "smolserve_max_batch_tokens", "gauge", "Token budget of one batch",
	       (double)m->max_batch_tokens);
	scalar(o, "smolserve_workers", "gauge", "Worker threads", (double)m->workers);
	scalar(o, "smolserve_blas_threads", "gauge", "OpenBLAS threads per worker",
	       (double)m->blas_threads);
}

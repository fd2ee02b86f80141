/*
 * Metric storage and Prometheus text rendering (see metrics.h).
 */
#include "metrics.h"

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

static const char *method_label(int i)
{
	return i < ROUTE_COUNT_ ? route_name((enum route)i) : "other";
}

void metrics_render(const struct metrics *m, struct strbuf *o)
{
	header(o, "te_request_count", "counter", "Requests received, by route");
	for (int i = 0; i <= ROUTE_COUNT_; i++)
		strbuf_printf(o, "te_request_count{method=\"%s\"} %llu\n", method_label(i),
		              (unsigned long long)m->request_count[i]);
	header(o, "te_request_success", "counter", "Requests answered successfully, by route");
	for (int i = 0; i <= ROUTE_COUNT_; i++)
		strbuf_printf(o, "te_request_success{method=\"%s\"} %llu\n", method_label(i),
		              (unsigned long long)m->request_success[i]);
	header(o, "te_request_failure", "counter", "Requests answered with an error, by kind");
	for (int i = 0; i < METRICS_N_ERRORS; i++) {
		char lower[32];
		const char *t = api_error_type((enum api_error_kind)i);
		size_t n = strlen(t);
		for (size_t j = 0; j <= n && j < sizeof(lower); j++)
			lower[j] = (char)(t[j] >= 'A' && t[j] <= 'Z' ? t[j] + 32 : t[j]);
		lower[sizeof(lower) - 1] = '\0';
		strbuf_printf(o, "te_request_failure{err=\"%s\",status=\"%d\"} %llu\n", lower,
		              api_error_http_status((enum api_error_kind)i),
		              (unsigned long long)m->request_failure[i]);
	}
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

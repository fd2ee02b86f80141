/*
 * Prometheus metrics. text-embeddings-inference's names (te_*) so its
 * dashboards work unchanged, plus smolserve_* for what TEI does not show
 * (tokens per batch, batch fill, worker busy time, dropped and expired
 * work, model load time). Loop thread only: workers report through the
 * batch results the loop drains, so no locks are needed.
 */
#ifndef SMOLSERVE_SERVER_METRICS_H
#define SMOLSERVE_SERVER_METRICS_H

#include <stdint.h>

#include "request.h"
#include "strbuf.h"

#define HIST_MAX_BUCKETS 24

struct histogram {
	const double *bounds; /* (n_bounds) upper bounds, ascending; borrowed */
	int n_bounds;
	uint64_t counts[HIST_MAX_BUCKETS + 1]; /* per bucket, last = +Inf */
	double sum;
	uint64_t count;
};

/* disconnected: the client reset or left before its answer; expired: its
 * X-Request-Timeout-Ms passed; shutdown: the drain timed out; timeout: an
 * upload or idle deadline closed it before the request was complete; error:
 * libmicrohttpd dropped it (protocol or memory error). */
enum drop_reason {
	DROP_DISCONNECTED = 0,
	DROP_EXPIRED,
	DROP_SHUTDOWN,
	DROP_TIMEOUT,
	DROP_ERROR,
	DROP_COUNT_
};

#define METRICS_N_ERRORS 11 /* enum api_error_kind values */

struct metrics {
	uint64_t request_count[ROUTE_COUNT_ + 1]; /* last: non-model routes */
	uint64_t request_success[ROUTE_COUNT_ + 1];
	uint64_t request_failure[METRICS_N_ERRORS];
	uint64_t dropped[DROP_COUNT_];
	int64_t queue_size;   /* requests waiting for a batch */
	int64_t queue_tokens; /* their tokens */
	int64_t in_flight;    /* accepted, not yet answered */
	int64_t connections;  /* open TCP connections */
	int64_t receiving;    /* requests whose headers came, body not yet complete */
	int64_t tokenizing;   /* in the tokenization pool (parse or encode) */
	struct histogram request_duration;
	struct histogram queue_duration;
	struct histogram tokenization_duration;
	struct histogram inference_duration;
	struct histogram input_length;
	struct histogram batch_size;
	struct histogram batch_tokens;
	struct histogram batch_fill; /* tokens / max_batch_tokens */
	uint64_t batches;
	double worker_busy_seconds;
	double model_load_seconds;
	int64_t max_batch_tokens;
	int workers;
	int blas_threads;
};

void metrics_init(struct metrics *m);

void histogram_observe(struct histogram *h, double v);

/* Appends the Prometheus text exposition (version 0.0.4) to out. */
void metrics_render(const struct metrics *m, struct strbuf *out);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
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

/* te_request_failure{err, status}: TEI's err values (validation,
 * batch_size, tokenization, model_type, inference, overloaded) and
 * smolserve's for what TEI does not count (unhealthy, deadline, payload,
 * unauthorized). */
enum metrics_fail {
	FAIL_VALIDATION = 0, /* 422 */
	FAIL_EMPTY,          /* err="validation", status 400 */
	FAIL_BATCH_SIZE,
	FAIL_TOKENIZATION,
	FAIL_MODEL_TYPE, /* 424 */
	FAIL_INFERENCE,  /* 424 */
	FAIL_OVERLOADED, /* 429 */
	FAIL_UNHEALTHY,  /* 503 */
	FAIL_DEADLINE,   /* 504 */
	FAIL_PAYLOAD,    /* 413 */
	FAIL_UNAUTHORIZED,
	FAIL_COUNT_,
};

/* TEI's per-task families: te_embed_* (embed, embed_all, similarity,
 * OpenAI) and te_predict_* (predict, rerank, predict_tokens). */
enum metrics_family { FAMILY_EMBED = 0, FAMILY_PREDICT, FAMILY_COUNT_ };

struct family_metrics {
	uint64_t count;   /* inputs that reached the model */
	uint64_t success; /* inputs answered */
	struct histogram duration, tokenization, queue, inference;
};

/* One answered request of a model route, for metrics_answer. */
struct metrics_answer {
	enum route route;
	int batch;  /* the inputs were a list: method="batch" */
	int status; /* HTTP status */
	enum api_error_kind kind;
	enum api_cause cause; /* kind and cause: when status >= 400 */
	int32_t n_inputs;     /* inputs that reached the model (0: refused before) */
	double total_s, tokenization_s, queue_s, inference_s;
};

struct metrics {
	uint64_t request_count[ROUTE_COUNT_][2]; /* [route][batch] */
	uint64_t request_success[ROUTE_COUNT_][2];
	uint64_t request_failure[FAIL_COUNT_];
	struct family_metrics family[FAMILY_COUNT_];
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

/* Counts an answered request of a model route: te_request_count and
 * _success or _failure, and its task family. Loop thread. */
void metrics_answer(struct metrics *m, const struct metrics_answer *a);

/* Appends the Prometheus text exposition (version 0.0.4) to out. */
void metrics_render(const struct metrics *m, struct strbuf *out);

#endif

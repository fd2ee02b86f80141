/*
 * The service's lifecycle (see service.h): derive the thread layout, load
 * the model and prove a forward pass works, start workers, the tokenization
 * pool and the HTTP daemon on the loop, run; on SIGTERM or SIGINT drain —
 * /health turns 503, no new connections, every accepted request answered
 * (bounded by --shutdown-timeout-s) — then close every handle and exit 0.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "service.h"
#include "status.h"

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void close_all(struct service *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	/* Workers first, then the pool: a batch still running is encoded and
	 * answered (its connections resumed) while the daemon can still send;
	 * then the daemon stops. */
	s->faults.hold_batch_ms = 0;
	if (s->workers != NULL) {
		struct workers *w = s->workers;
		s->workers = NULL;
		workers_stop(w);
	}
	if (s->tpool != NULL) {
		struct tpool *p = s->tpool;
		tpool_stop(p); /* hands back what it ran: answers get queued */
		s->tpool = NULL;
	}
	batcher_flush_shutdown(s); /* no worker is left for what is still queued */
	http_stop(s);
	batcher_close(s);
	uv_timer_stop(&s->shutdown_timer);
	uv_timer_stop(&s->trim_timer);
	uv_close((uv_handle_t *)&s->shutdown_timer, on_closed);
	uv_close((uv_handle_t *)&s->trim_timer, on_closed);
	uv_close((uv_handle_t *)&s->sigterm, on_closed);
	uv_close((uv_handle_t *)&s->sigint, on_closed);
}

void service_maybe_finish(struct service *s)
{
	if (!s->draining || s->stopping)
		return;
	if (s->queue_len > 0 || s->metrics.tokenizing > 0 ||
	    (s->workers && flow_idle_workers(s) < workers_count(s->workers)))
		return;
	/* After the drain's bound, a half-sent request no longer holds the exit,
	 * but an answer on its way does. */
	if (s->metrics.in_flight > 0 || s->sending > 0 ||
	    (s->requests_open > 0 && !s->drain_expired))
		return;
	fprintf(stderr, "smolserve: drained, exiting\n");
	close_all(s);
}

/*
 * The drain's bound. First expiry: queued requests are answered 503 and
 * running batches still finish and are answered; a short grace lets those
 * answers reach their clients. Second expiry: stop, even if some client
 * keeps a half-sent request open.
 */
#define DRAIN_GRACE_MS 2000

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct service *s = t->data;
	if (!s->drain_expired) {
		fprintf(stderr, "smolserve: drain timed out; answering queued requests with 503\n");
		s->drain_expired = 1;
		batcher_flush_shutdown(s);
		uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, DRAIN_GRACE_MS, 0);
		service_maybe_finish(s);
		return;
	}
	fprintf(stderr, "smolserve: closing connections still open after the drain\n");
	close_all(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct service *s = h->data;
	if (s->draining)
		return;
	fprintf(stderr, "smolserve: %s: draining (at most %llds)\n",
	        signum == SIGTERM ? "SIGTERM" : "SIGINT", (long long)s->cfg->shutdown_timeout_s);
	s->draining = 1;
	s->drain_start_ns = now_ns();
	http_quiesce(s);
	uv_timer_start(&s->shutdown_timer, on_shutdown_timeout,
	               (uint64_t)s->cfg->shutdown_timeout_s * 1000u, 0);
	batcher_dispatch(s);
}

/* Runs one tiny forward pass so "ready" means the model really computes. */
static int warm_up(const struct model *m, char *err, size_t n_err)
{
	struct model_ctx ctx;
	int32_t ids[2] = {m->tok->cls_id >= 0 ? m->tok->cls_id : 0,
	                  m->tok->sep_id >= 0 ? m->tok->sep_id : 0};
	int32_t types[2] = {0, 0}, starts[2] = {0, 2};
	struct packed_batch b = {1, 2, ids, types, starts};
	if (model_ctx_init(&ctx, m, 2) != 0)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	int rc = model_forward(m, &ctx, &b, err, n_err);
	model_ctx_dispose(&ctx);
	return rc;
}

/* TEST ONLY fault injection (README, Tests): never set in production. */
static void read_test_faults(struct service *s)
{
	const char *nonfinite = getenv("SMOLSERVE_TEST_NONFINITE");
	const char *hold = getenv("SMOLSERVE_TEST_HOLD_BATCH_MS");
	if (nonfinite != NULL && nonfinite[0] != '\0')
		s->faults.nonfinite = strcmp(nonfinite, "inf") == 0 ? 2 : 1;
	if (hold != NULL && hold[0] != '\0')
		s->faults.hold_batch_ms = strtoull(hold, NULL, 10);
	if (s->faults.nonfinite || s->faults.hold_batch_ms)
		fprintf(stderr,
		        "smolserve: TEST-ONLY fault injection on (SMOLSERVE_TEST_NONFINITE=%s "
		        "SMOLSERVE_TEST_HOLD_BATCH_MS=%llu): never use this in production\n",
		        nonfinite ? nonfinite : "", (unsigned long long)s->faults.hold_batch_ms);
}

/* --tokenization-workers, or derived: half the usable CPUs, at least 2 so
 * one long parse or encode never holds up every other request's. */
static int tokenization_threads(const struct service *s)
{
	if (s->cfg->tokenization_workers > 0)
		return (int)s->cfg->tokenization_workers;
	int n = s->layout.cpus / 2;
	return n < 2 ? 2 : n;
}

/* The worker pool and the tokenization pool, with what the stages read. */
static int start_pools(struct service *s, char *err, size_t n_err)
{
	const struct settings *c = s->cfg;
	read_test_faults(s);
	s->env.model = s->model;
	s->env.limits.auto_truncate = c->auto_truncate;
	s->env.limits.max_client_batch_size = (int32_t)c->max_client_batch_size;
	s->env.limits.max_tokenize_tokens = c->max_batch_tokens;
	s->env.limits.max_response_floats = c->max_response_floats;
	s->env.max_batch_tokens = c->max_batch_tokens;
	s->env.inject_nonfinite = s->faults.nonfinite;
	s->tokenization_workers = tokenization_threads(s);
	json_object_seed(0); /* before any thread builds a JSON object */
	core_gate_init(&s->cores, s->layout.cpus);
	s->cores_ready = 1;
	int rc = workers_start(&s->workers, &s->loop, s->model, s->layout.workers,
	                       (int32_t)c->max_batch_tokens, flow_batch_done, s, err, n_err);
	if (rc != 0)
		return rc;
	workers_share_cores(s->workers, &s->cores, s->layout.blas_threads);
	return tpool_start(&s->tpool, &s->loop, s->tokenization_workers, &s->cores, flow_stage_done,
	                   s, err, n_err);
}

static int start(struct service *s, char *err, size_t n_err)
{
	const struct settings *c = s->cfg;
	if (c->model_id[0] == '\0')
		return status_fail(err, n_err, STATUS_EINVAL, "--model DIR (MODEL_ID) is required");
	cpus_usable(&s->layout);
	if (cpus_layout(&s->layout, (int)c->workers, (int)c->blas_threads, err, n_err) != 0)
		return STATUS_EINVAL;
	gemm_set_threads(s->layout.blas_threads);

	struct model_opts mo = {.pooling_set = c->pooling[0] != '\0',
	                        .pooling =
	                            strcmp(c->pooling, "cls") == 0 ? POOLING_CLS : POOLING_MEAN};
	uint64_t t0 = now_ns();
	int rc = model_load(c->model_id, &mo, &s->model, err, n_err);
	if (rc != 0)
		return rc;
	if ((rc = warm_up(s->model, err, n_err)) != 0)
		return rc;
	s->metrics.model_load_seconds = (double)(now_ns() - t0) / 1e9;
	if (c->max_batch_tokens < s->model->max_input_length)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "--max-batch-tokens %lld is below the model's max input "
		                   "length %d",
		                   (long long)c->max_batch_tokens, (int)s->model->max_input_length);
	s->metrics.max_batch_tokens = c->max_batch_tokens;
	s->metrics.workers = s->layout.workers;
	s->metrics.blas_threads = s->layout.blas_threads;

	if ((rc = start_pools(s, err, n_err)) != 0)
		return rc;
	if (http_start(s, err, n_err) != 0)
		return STATUS_EIO;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	s->ready = 1;
	fprintf(stderr,
	        "smolserve %s: %s (%s) loaded in %.1f ms; %d workers x %d BLAS threads (%s) on %d "
	        "CPUs, %d tokenization threads; listening on http://%s:%d\n",
	        SMOLSERVE_VERSION, c->model_id, s->model->cfg.model_type,
	        s->metrics.model_load_seconds * 1e3, s->layout.workers, s->layout.blas_threads,
	        gemm_corename(), s->layout.cpus, s->tokenization_workers, c->hostname, s->port);
	return 0;
}

int service_main(const struct settings *cfg)
{
	char err[1024] = "";
	struct service *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 2;
	s->cfg = cfg;
	metrics_init(&s->metrics);
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&s->loop);
	uv_timer_init(&s->loop, &s->batch_timer);
	uv_timer_init(&s->loop, &s->deadline_timer);
	uv_timer_init(&s->loop, &s->trim_timer);
	uv_timer_init(&s->loop, &s->shutdown_timer);
	s->batch_timer.data = s->deadline_timer.data = s->trim_timer.data = s;
	s->shutdown_timer.data = s;
	uv_signal_init(&s->loop, &s->sigterm);
	uv_signal_init(&s->loop, &s->sigint);
	s->sigterm.data = s->sigint.data = s;

	int status = 0;
	if (start(s, err, sizeof(err)) != 0) {
		fprintf(stderr, "smolserve: %s\n", err);
		status = 2;
		close_all(s);
	}
	uv_run(&s->loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&s->loop);
	if (rc != 0)
		fprintf(stderr, "smolserve: uv_loop_close: %s\n", uv_strerror(rc));
	model_destroy(s->model);
	if (s->cores_ready)
		core_gate_dispose(&s->cores);
	free(s);
	return status;
}

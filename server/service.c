/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service's lifecycle (see service.h): derive the thread layout, start
 * the HTTP daemon on the loop (/health and model routes answer 503), load
 * the model in the background — downloading it first if it is a Hub id —
 * and prove a forward pass works, then start the workers and the
 * tokenization pool and turn ready; on SIGTERM or SIGINT drain — /health
 * turns 503, no new connections, every accepted request answered (bounded
 * by --shutdown-timeout-s) — then close every handle and exit 0.
 */
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gemm.h"
#include "log.h"
#include "model_source.h"
#include "service.h"
#include "status.h"
#include "version.h"

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void loader_cancel(struct service *s);

static void close_all(struct service *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	loader_cancel(s);
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
	log_info("smolserve: drained, exiting");
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
		log_warn("smolserve: drain timed out; answering queued requests with 503");
		s->drain_expired = 1;
		batcher_flush_shutdown(s);
		uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, DRAIN_GRACE_MS, 0);
		service_maybe_finish(s);
		return;
	}
	log_warn("smolserve: closing connections still open after the drain");
	close_all(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct service *s = h->data;
	if (s->draining)
		return;
	log_info("smolserve: %s: draining (at most %llds)",
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
		log_warn("TEST-ONLY fault injection on (SMOLSERVE_TEST_NONFINITE=%s "
		         "SMOLSERVE_TEST_HOLD_BATCH_MS=%llu): never use this in production",
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
	s->env.limits = s->limits; /* the caps included (codec_limits_init) */
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

/* --- loading the model in the background ------------------------------
 * The daemon listens first; the model is resolved (downloaded if it is a
 * Hub id that the cache lacks), loaded and warmed up on a thread of its
 * own, which touches no libuv, libmicrohttpd or service state: it fills
 * struct loader and wakes the loop with uv_async_send (the one libuv call
 * any thread may make). The loop joins it, then starts the workers. */
struct loader {
	const struct settings *cfg; /* borrowed */
	uv_thread_t thread;
	uv_async_t done;
	atomic_int cancel; /* set by the loop: stop a download */
	/* written by the thread, read by the loop after the join */
	int rc;
	char err[1024];
	struct model *model;
	struct model_source src;
	double seconds;
};

static void loader_main(void *arg)
{
	struct loader *l = arg;
	uint64_t t0 = now_ns();
	l->rc = model_source_load(l->cfg, &l->cancel, &l->model, &l->src, l->err, sizeof(l->err));
	if (l->rc == 0)
		l->rc = warm_up(l->model, l->err, sizeof(l->err));
	l->seconds = (double)(now_ns() - t0) / 1e9;
	uv_async_send(&l->done);
}

static void loader_closed(uv_handle_t *h)
{
	free(h->data);
}

/* A drain or a failed start: a download under way stops soon. */
static void loader_cancel(struct service *s)
{
	if (s->loader != NULL)
		atomic_store(&s->loader->cancel, 1);
}

/* Workers, signals handled, ready: the second half of the start. */
static int finish_start(struct service *s, char *err, size_t n_err)
{
	const struct settings *c = s->cfg;
	if (c->max_batch_tokens < s->model->max_input_length)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "--max-batch-tokens %lld is below the model's max input "
		                   "length %d",
		                   (long long)c->max_batch_tokens, (int)s->model->max_input_length);
	if (codec_limits_init(&s->limits, s->model, c, err, n_err) != 0 ||
	    access_init(&s->access, c->api_key, c->cors_allow_origin, err, n_err) != 0)
		return STATUS_EINVAL;
	log_info("model %s (%s, %s) loaded in %.1f ms; max input length %d tokens", c->model_id,
	         s->model->cfg.model_type,
	         s->model->cfg.n_architectures ? s->model->cfg.architectures[0] : "no head",
	         s->metrics.model_load_seconds * 1e3, (int)s->model->max_input_length);
	const struct model *m = s->model;
	if (m->n_packs > 0 && m->layout_cache == LAYOUT_CACHE_FAILED)
		log_warn("weights laid out (%.1f MiB) in %.1f ms; layout cache not written: %s",
		         (double)m->packed_bytes / (1 << 20), m->pack_seconds * 1e3,
		         m->layout_cache_note);
	else if (m->n_packs > 0)
		log_info("weights laid out (%.1f MiB) in %.1f ms; layout cache: %s",
		         (double)m->packed_bytes / (1 << 20), m->pack_seconds * 1e3,
		         m->layout_cache_note);
	s->metrics.max_batch_tokens = c->max_batch_tokens;
	s->metrics.workers = s->layout.workers;
	s->metrics.blas_threads = s->layout.blas_threads;
	int rc = start_pools(s, err, n_err);
	if (rc != 0)
		return rc;
	memory_mark_loaded(); /* before the start line, which ends the start-up log */
	const struct gemm_core_report *kc = gemm_core_report();
	log_info("OpenBLAS kernels %s (%s: %s); dense products: %s; resident memory after load "
	         "%.1f MiB",
	         gemm_corename(), kc->action, kc->reason, gemm_backend_describe(),
	         (double)memory_after_load() / (1 << 20));
	s->ready = 1;
	log_info("smolserve %s (commit %s): %d workers x %d BLAS threads (%s) on %d CPUs, %d "
	         "tokenization threads; %s; listening on http://%s:%d",
	         SMOLSERVE_VERSION, SMOLSERVE_COMMIT, s->layout.workers, s->layout.blas_threads,
	         gemm_corename(), s->layout.cpus, s->tokenization_workers,
	         s->access.key ? "API key required" : "no API key", c->hostname, s->port);
	return 0;
}

static void on_loaded(uv_async_t *h)
{
	struct service *s = h->data;
	struct loader *l = s->loader; /* freed by loader_closed, after this returns */
	uv_thread_join(&l->thread);
	s->loader = NULL;
	h->data = l;
	uv_close((uv_handle_t *)h, loader_closed);
	s->model = l->model; /* freed by service_main in every case */
	if (s->stopping || s->draining) {
		service_maybe_finish(s);
		return;
	}
	if (l->rc == 0) {
		snprintf(s->model_commit, sizeof(s->model_commit), "%s", l->src.commit);
		s->metrics.model_load_seconds = l->seconds;
		l->rc = finish_start(s, l->err, sizeof(l->err));
	}
	if (l->rc != 0) {
		log_error("smolserve: %s", l->err);
		s->exit_status = 2;
		close_all(s);
	}
}

static int loader_start(struct service *s, char *err, size_t n_err)
{
	struct loader *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	l->cfg = s->cfg;
	atomic_init(&l->cancel, 0);
	uv_async_init(&s->loop, &l->done, on_loaded);
	l->done.data = s;
	s->loader = l;
	if (uv_thread_create(&l->thread, loader_main, l) != 0) {
		s->loader = NULL;
		l->done.data = l;
		uv_close((uv_handle_t *)&l->done, loader_closed);
		return status_fail(err, n_err, STATUS_ENOMEM, "cannot start the loader thread");
	}
	return 0;
}

/* Listening, signals handled, the model loading in the background. */
static int start(struct service *s, char *err, size_t n_err)
{
	const struct settings *c = s->cfg;
	if (c->model_id[0] == '\0')
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "--model-id (MODEL_ID) is required: a model folder or a Hugging "
		                   "Face Hub repository id (org/name)");
	cpus_usable(&s->layout);
	if (cpus_layout(&s->layout, (int)c->workers, (int)c->blas_threads, err, n_err) != 0)
		return STATUS_EINVAL;
	gemm_set_threads(s->layout.blas_threads);
	if (http_start(s, err, n_err) != 0)
		return STATUS_EIO;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	log_info("smolserve %s: bound to http://%s:%d; loading %s (/health answers 503 until it "
	         "is ready)",
	         SMOLSERVE_VERSION, c->hostname, s->port, c->model_id);
	return loader_start(s, err, n_err);
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

	const char *unhonoured[32];
	size_t n_unhonoured = settings_unhonoured_env(unhonoured, 32);
	for (size_t i = 0; i < n_unhonoured && i < 32; i++)
		log_warn("%s is set: text-embeddings-inference reads it, smolserve does not (see "
		         "the README's \"Coming from TEI\")",
		         unhonoured[i]);
	if (start(s, err, sizeof(err)) != 0) {
		log_error("smolserve: %s", err);
		s->exit_status = 2;
		close_all(s);
	}
	uv_run(&s->loop, UV_RUN_DEFAULT);
	int status = s->exit_status;
	int rc = uv_loop_close(&s->loop);
	if (rc != 0)
		log_error("smolserve: uv_loop_close: %s", uv_strerror(rc));
	access_dispose(&s->access);
	model_destroy(s->model);
	if (s->cores_ready)
		core_gate_dispose(&s->cores);
	free(s);
	return status;
}

/*
 * The running service: one libuv loop thread that owns libmicrohttpd
 * (external polling: MHD's epoll descriptor under a uv_poll_t, its timeout
 * under a uv_timer_t), the batcher and the metrics; a worker pool that runs
 * batches. Everything in this struct is touched by the loop thread only
 * (workers see batches, never the service).
 */
#ifndef SMOLSERVE_SERVER_SERVICE_H
#define SMOLSERVE_SERVER_SERVICE_H

#include <stdint.h>
#include <uv.h>

#include "access.h"
#include "cpus.h"
#include "job.h"
#include "metrics.h"
#include "model.h"
#include "request.h"
#include "settings.h"
#include "workers.h"

struct MHD_Daemon;
struct loader;

struct service {
	const struct settings *cfg; /* borrowed */
	struct model *model;        /* owned */
	struct thread_layout layout;
	struct request_limits limits;
	struct access access; /* --api-key, --cors-allow-origin */
	uv_loop_t loop;
	struct MHD_Daemon *mhd;
	uv_poll_t mhd_poll;
	uv_timer_t mhd_timer;
	uv_timer_t batch_timer;    /* --max-batch-delay-us */
	uv_timer_t shutdown_timer; /* --shutdown-timeout-s */
	uv_signal_t sigterm, sigint;
	struct workers *workers;
	struct metrics metrics;
	int port; /* bound port */
	int ready;
	int draining;
	int drain_expired; /* --shutdown-timeout-s passed: stop waiting for idle requests */
	int stopping;
	int64_t requests_open; /* requests MHD has not completed yet */
	/* batcher queue (FIFO) */
	struct job *queue_head, *queue_tail;
	int64_t queue_len;
	int64_t queue_tokens;
	struct loader *loader; /* owned: the model loading in the background, else NULL */
	char model_commit[41]; /* the Hub commit loaded, "" for a local folder */
	int exit_status;       /* service_main's result */
};

/* Starts the HTTP daemon, loads the model in the background (downloading
 * it from the Hub if need be), then starts the workers; runs the loop until
 * a drain completes. Returns the process exit status (2: the model could
 * not be loaded). */
int service_main(const struct settings *cfg);

/* --- batcher (batcher.c) --------------------------------------------- */
/* Queues a parsed job and dispatches what can run. */
void batcher_submit(struct service *s, struct job *j);
/* Forms and submits batches while workers are idle and the policy says go;
 * arms the delay timer otherwise. Also called when a batch finishes. */
void batcher_dispatch(struct service *s);
/* Drain timed out: answers every queued job with 503. */
void batcher_flush_shutdown(struct service *s);

/* --- http (http.c) ---------------------------------------------------- */
/* Starts MHD on cfg's hostname:port under the loop. 0 or -1 (err). */
int http_start(struct service *s, char *err, size_t n_err);
/* Runs MHD once and re-arms its timer (after resumes, on events). */
void http_run(struct service *s);
/* Stops accepting connections (drain). */
void http_quiesce(struct service *s);
void http_stop(struct service *s);
/* A job's batch finished (or it was dropped): resume its connection so
 * the handler answers it. */
void http_job_finished(struct service *s, struct job *j);
/* 1 if the client of a queued job has gone away. */
int http_job_disconnected(struct job *j);

/* Frees a job and its request. */
void job_destroy(struct job *j);

/* Checks whether a drain is complete and, if so, stops the loop. */
void service_maybe_finish(struct service *s);

#endif

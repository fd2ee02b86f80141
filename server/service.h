/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running service: one libuv loop thread that owns libmicrohttpd
 * (external polling: MHD's epoll descriptor under a uv_poll_t, its timeout
 * under a uv_timer_t), the batcher and the metrics; a tokenization pool that
 * parses, tokenizes and encodes answers; a worker pool that runs batches.
 * Everything in this struct is touched by the loop thread only (the pools
 * see jobs and batches, never the service). The loop thread only moves
 * bytes: no request's size decides how long it is busy.
 */
#ifndef SMOLSERVE_SERVER_SERVICE_H
#define SMOLSERVE_SERVER_SERVICE_H

#include <stdint.h>
#include <uv.h>

#include "access.h"
#include "cores.h"
#include "cpus.h"
#include "job.h"
#include "metrics.h"
#include "model.h"
#include "request.h"
#include "settings.h"
#include "tpool.h"
#include "workers.h"

struct MHD_Daemon;
struct MHD_Connection;

/* A TCP connection's place in the upload deadlines (http.c). */
struct sock_watch {
	int fd;               /* MHD's socket (MHD closes it; we may only shut it down) */
	int phase;            /* enum in http.c */
	int killed;           /* a deadline shut it down */
	uint64_t deadline_ns; /* of the current phase; 0 = none */
	struct sock_watch *prev, *next;
};

struct watch_list {
	struct sock_watch *head, *tail; /* ascending deadlines */
};

/* TEST ONLY fault injection, from SMOLSERVE_TEST_* variables (README, Tests). */
struct test_faults {
	int nonfinite;          /* SMOLSERVE_TEST_NONFINITE=nan|inf: results made non-finite */
	uint64_t hold_batch_ms; /* SMOLSERVE_TEST_HOLD_BATCH_MS: a finished batch keeps its
	                           worker busy this much longer */
};
struct loader;

struct service {
	const struct settings *cfg; /* borrowed */
	struct model *model;        /* owned */
	struct thread_layout layout;
	struct request_limits limits;
	struct access access; /* --api-key, --cors-allow-origin */
	struct job_env env;   /* what the pool's stages read */
	int tokenization_workers;
	uv_loop_t loop;
	struct MHD_Daemon *mhd;
	uv_poll_t mhd_poll;
	uv_timer_t mhd_timer;
	uv_timer_t batch_timer;    /* --max-batch-delay-us */
	uv_timer_t deadline_timer; /* the earliest X-Request-Timeout-Ms of a queued job */
	uint64_t deadline_armed_ns;
	uv_timer_t watch_timer;    /* upload and idle deadlines */
	uv_timer_t trim_timer;     /* gives freed memory back after large answers */
	uv_timer_t shutdown_timer; /* --shutdown-timeout-s */
	uv_signal_t sigterm, sigint;
	struct workers *workers;
	struct tpool *tpool;
	struct core_gate cores; /* shared by batches and the pool's stages */
	int cores_ready;
	struct metrics metrics;
	struct test_faults faults;
	int port; /* bound port */
	int ready;
	int draining;
	uint64_t drain_start_ns;
	int drain_expired; /* --shutdown-timeout-s passed: stop waiting for idle requests */
	int stopping;
	int64_t requests_open; /* requests MHD has not completed yet */
	int64_t sending;       /* of those, answered: the answer is being sent */
	int held_batches;      /* TEST ONLY: finished batches held (faults.hold_batch_ms) */
	int64_t parsing;       /* admitted jobs in the pool's parse stage */
	int trim_running;      /* the trim task is in the tokenization pool */
	struct tpool_task trim_task;
	/* batcher queue (FIFO) */
	struct job *queue_head, *queue_tail;
	int64_t queue_len;
	int64_t queue_tokens;
	struct loader *loader; /* owned: the model loading in the background, else NULL */
	char model_commit[41]; /* the Hub commit loaded, "" for a local folder */
	int exit_status;       /* service_main's result */
	/* connections to resume before the next MHD_run */
	struct job *resume_head, *resume_tail;
	/* upload deadlines: one list per phase, each in deadline order */
	struct watch_list watch_headers, watch_body, watch_idle;
};

/* Starts the HTTP daemon, loads the model in the background (downloading
 * it from the Hub if need be), then starts the workers; runs the loop until
 * a drain completes. Returns the process exit status (2: the model could
 * not be loaded). */
int service_main(const struct settings *cfg);

/* --- batcher (batcher.c) --------------------------------------------- */
/* Queues a parsed job and dispatches what can run. Never from inside an
 * MHD callback (it may answer jobs). */
void batcher_submit(struct service *s, struct job *j);
/* Forms and submits batches while a worker is idle: a lone request runs at
 * once; a free worker waits (at most --max-batch-delay-us) only for
 * requests already admitted and being parsed. Also called when a batch
 * finishes or a parse completes. */
void batcher_dispatch(struct service *s);
/* Drain timed out: answers every queued job with 503. */
void batcher_flush_shutdown(struct service *s);
/* Closes the batcher's timers (service shutdown). */
void batcher_close(struct service *s);

/* --- the job's way through the loop (flow.c) ----------------------------- */
/* Starts an admitted job: a small body is parsed at once, a large one goes
 * to the tokenization pool. 1 if j is already answered (the caller sends
 * the answer now, its connection never suspended); 0 if it went on (the
 * caller suspends the connection before returning to libmicrohttpd). */
int flow_start(struct service *s, struct job *j);
/* The tokenization pool's done callback (data: the service). */
void flow_stage_done(void *data, struct tpool_task *t);
/* The workers' done callback (data: the service). */
void flow_batch_done(void *data, struct batch *b);
/* Ends j with an error answer and resumes its connection. */
void flow_fail(struct service *s, struct job *j, enum api_error_kind kind, const char *message,
               int drop);
/* Workers not running (or, in tests, holding) a batch. */
int flow_idle_workers(const struct service *s);
/* Memory freed by large answers or a burst of connections is given back
 * to the system (malloc_trim on the tokenization pool) a moment later. */
void flow_trim_soon(struct service *s);

/* --- http (http.c) ---------------------------------------------------- */
/* Starts MHD on cfg's hostname:port under the loop. 0 or -1 (err). */
int http_start(struct service *s, char *err, size_t n_err);
/* Resumes the connections whose answers are ready, runs MHD once and
 * re-arms its timer. From libuv callbacks only. */
void http_run(struct service *s);
/* Stops accepting connections (drain). */
void http_quiesce(struct service *s);
void http_stop(struct service *s);
/* j's answer is ready: its connection is resumed on the next loop
 * iteration, outside libmicrohttpd's callbacks, and answered. */
void http_job_finished(struct service *s, struct job *j);
/* 1 if the connection of a queued job has failed (reset or error). A peer
 * that only half-closed is still reading: 0. */
int http_job_disconnected(struct job *j);
/* The request on c has complete headers / a complete body (deadlines). */
void http_watch_body(struct service *s, struct MHD_Connection *c);
void http_watch_busy(struct service *s, struct MHD_Connection *c);
/* The request on c ended; the connection may bring another one. */
void http_watch_idle(struct service *s, struct MHD_Connection *c);
/* 1 if a deadline shut c's connection down. */
int http_watch_killed(struct MHD_Connection *c);

/* Checks whether a drain is complete and, if so, stops the loop. */
void service_maybe_finish(struct service *s);

#endif

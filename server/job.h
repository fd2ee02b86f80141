/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A model-bound request in flight and the batches that carry them. A job is
 * created by the HTTP layer on the loop thread once its body is complete,
 * then passes through stages, each owned by one thread at a time:
 *
 *   loop: admitted ──> pool: parse + tokenize ──> loop: queued (batcher)
 *     ──> worker: its batch runs (reads only job->req) ──> pool: encode the
 *     answer ──> loop: the connection is resumed and the answer sent.
 *
 * Any stage may end early with an answer (an error, or /tokenize and
 * /decode, which need no model). The job is freed on the loop thread in
 * exactly one place, job_destroy.
 */
#ifndef SMOLSERVE_SERVER_JOB_H
#define SMOLSERVE_SERVER_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "request.h"
#include "tpool.h"

enum job_state {
	JOB_PARSING = 0, /* in the pool: JSON parse, validation, tokenization */
	JOB_QUEUED,      /* in the batcher's queue */
	JOB_RUNNING,     /* its batch runs on a worker */
	JOB_ENCODING,    /* in the pool: the answer is encoded */
	JOB_ANSWERED,    /* answer ready: resume the connection and send it */
};

/* What the stages on the pool threads need; set once at start, read-only. */
struct job_env {
	const struct model *model; /* borrowed */
	struct request_limits limits;
	int64_t max_batch_tokens;
	int inject_nonfinite; /* TEST ONLY (SMOLSERVE_TEST_NONFINITE): 1 NaN, 2 Inf */
};

/* The answer a job ends with. */
struct job_answer {
	int status;             /* HTTP status */
	struct api_error error; /* when status >= 400: kind, cause, message */
	char *body;             /* owned JSON text (malloc'd), NULL: empty */
	size_t len;
	int drop; /* -1, or the enum drop_reason to count when sent */
};

struct job {
	struct tpool_task task; /* the pool stage; job_of() finds the job */
	struct request req;
	const struct job_env *env; /* borrowed */
	char *text;                /* owned: the raw body until parsed */
	size_t n_text;
	int force_batch; /* answer as a list even for one input (POST / predict) */
	json_t *body;    /* owned: req's texts point into it */
	void *conn;      /* borrowed struct MHD_Connection, suspended meanwhile */
	enum job_state state;
	uint64_t t_arrival_ns;  /* the request's headers complete */
	uint64_t t_queued_ns;   /* parsed + tokenized, entered the queue */
	uint64_t t_start_ns;    /* its batch started */
	uint64_t t_end_ns;      /* its batch ended */
	uint64_t tokenize_ns;   /* parse + tokenize time */
	uint64_t deadline_ns;   /* 0 = none */
	int32_t batch_requests; /* company in its batch (for logs) */
	struct job_answer answer;
	struct job *next;        /* batcher queue link */
	struct job *resume_next; /* http.c's list of connections to resume */
};

struct batch {
	int n_jobs;
	int32_t n_tokens;
	int rc; /* engine_run status */
	char err[256];
	uint64_t t_start_ns, t_end_ns;
	struct batch *next;    /* worker queue link */
	struct job **jobs;     /* (n_jobs) borrowed */
	struct request **reqs; /* (n_jobs) &jobs[i]->req */
};

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/* --- job.c ---------------------------------------------------------------- */

/* The job whose task t is. */
struct job *job_of(struct tpool_task *t);

/* A job for body text (taken over: malloc'd, n_text bytes) in state
 * JOB_PARSING, its task set to the parse stage. NULL if out of memory (text
 * is freed). Loop thread. */
struct job *job_create(const struct job_env *env, enum route route, char *text, size_t n_text);

/* Frees a job, its request, body and answer. Loop thread. */
void job_destroy(struct job *j);

/* Ends j with the error e in its route's shape (codec_error_for); state
 * JOB_ANSWERED. Whichever thread owns j. */
void job_fail(struct job *j, const struct api_error *e);

/* Sets j's task to the encode stage (state JOB_ENCODING), for a job whose
 * batch ran. Loop thread, before tpool_submit. */
void job_prepare_encode(struct job *j);

#endif

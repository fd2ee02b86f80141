/*
 * A model-bound request in flight and the batches that carry them. A job is
 * created by the HTTP layer on the loop thread, queued by the batcher, read
 * by one worker while its batch runs (only job->req), then answered and
 * freed on the loop thread — in exactly one place, job_destroy.
 */
#ifndef SMOLSERVE_SERVER_JOB_H
#define SMOLSERVE_SERVER_JOB_H

#include <jansson.h>
#include <stdint.h>

#include "request.h"

enum job_state {
	JOB_QUEUED = 0,
	JOB_RUNNING,
	JOB_DONE,         /* results in req.out */
	JOB_FAILED,       /* the batch failed: err */
	JOB_DISCONNECTED, /* client gone before the batch ran: dropped */
	JOB_EXPIRED,      /* its deadline passed before the batch ran: 504 */
	JOB_SHUTDOWN,     /* still queued when the drain timed out: 503 */
};

struct job {
	struct request req;
	json_t *body; /* owned: req's texts point into it */
	void *conn;   /* borrowed struct MHD_Connection, suspended while queued */
	enum job_state state;
	uint64_t t_arrival_ns;  /* first byte of the request seen */
	uint64_t t_queued_ns;   /* parsed + tokenized, entered the queue */
	uint64_t t_start_ns;    /* its batch started */
	uint64_t t_end_ns;      /* its batch ended */
	uint64_t tokenize_ns;   /* parse + tokenize time */
	uint64_t deadline_ns;   /* 0 = none */
	int32_t batch_requests; /* company in its batch (for logs) */
	char err[256];          /* JOB_FAILED */
	struct job *next;       /* batcher queue link */
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

#endif

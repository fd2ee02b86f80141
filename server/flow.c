/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loop thread's side of a job's way (see job.h): an admitted job goes
 * to the tokenization pool (a small one is parsed right here); a parsed job
 * goes to the batcher, or is answered when parsing already produced its
 * answer (an error, /tokenize, /decode); a finished batch sends its jobs back
 * to the pool to encode their answers (small answers are encoded here); an
 * answered job has its connection resumed (http.c). Everything here runs
 * in libuv callbacks, never inside libmicrohttpd's, so every resume takes
 * effect at once.
 *
 * Also here: memory given back after large answers and bursts
 * (malloc_trim, run on the pool so the loop never waits for it), and the
 * test-only hold of finished batches (SMOLSERVE_TEST_HOLD_BATCH_MS).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "service.h"

/* Work this small runs on the loop thread itself: bounded (well under a
 * millisecond), and a hand-off to the pool and back costs two thread
 * wake-ups, which on a busy machine is most of a short request's latency. */
#define INLINE_PARSE_BYTES   2048 /* request bodies */
#define INLINE_ENCODE_FLOATS 1024 /* results of one request */

void flow_fail(struct service *s, struct job *j, enum api_error_kind kind, const char *message,
               int drop)
{
	struct api_error e = {.kind = kind};
	snprintf(e.message, sizeof(e.message), "%s", message);
	job_fail(j, &e);
	j->answer.drop = drop;
	http_job_finished(s, j);
}

static void to_pool(struct service *s, struct job *j)
{
	s->metrics.tokenizing++;
	if (j->state == JOB_PARSING)
		s->parsing++;
	tpool_submit(s->tpool, &j->task);
}

/* Back from the parse stage: 1 if j is answered (ready to send), 0 if it
 * went to the batcher. */
static int parsed(struct service *s, struct job *j)
{
	histogram_observe(&s->metrics.tokenization_duration, (double)j->tokenize_ns / 1e9);
	if (j->state == JOB_ANSWERED)
		return 1;
	for (int32_t i = 0; i < j->req.n_inputs; i++)
		histogram_observe(&s->metrics.input_length, j->req.inputs[i].n);
	uint64_t now = now_ns();
	struct api_error e = {0};
	if (s->drain_expired) { /* the queue was answered 503 already: so is this one */
		e.kind = API_ERR_UNHEALTHY;
		snprintf(e.message, sizeof(e.message),
		         "shutting down: the drain timed out before this request ran");
		j->answer.drop = DROP_SHUTDOWN;
	} else if (j->deadline_ns != 0 && now >= j->deadline_ns) {
		e.kind = API_ERR_DEADLINE;
		snprintf(e.message, sizeof(e.message),
		         "X-Request-Timeout-Ms passed before the request could run");
		j->answer.drop = DROP_EXPIRED;
	} else {
		j->t_queued_ns = now;
		batcher_submit(s, j);
		return 0;
	}
	job_fail(j, &e);
	return 1;
}

int flow_start(struct service *s, struct job *j)
{
	if (s->tpool == NULL) { /* stopped: a forced shutdown */
		struct api_error e = {.kind = API_ERR_UNHEALTHY};
		snprintf(e.message, sizeof(e.message), "shutting down");
		job_fail(j, &e);
		j->answer.drop = DROP_SHUTDOWN;
		return 1;
	}
	if (j->n_text > INLINE_PARSE_BYTES) {
		to_pool(s, j);
		return 0;
	}
	j->task.run(&j->task);
	return parsed(s, j);
}

static void trim_run(struct tpool_task *t)
{
	(void)t;
	malloc_trim(0);
}

static void on_trim_timer(uv_timer_t *t)
{
	struct service *s = t->data;
	if (s->tpool == NULL || s->trim_running)
		return;
	s->trim_running = 1;
	s->trim_task.run = trim_run;
	tpool_submit(s->tpool, &s->trim_task);
}

void flow_trim_soon(struct service *s)
{
	if (!s->stopping)
		uv_timer_start(&s->trim_timer, on_trim_timer, 1000, 0);
}

void flow_stage_done(void *data, struct tpool_task *t)
{
	struct service *s = data;
	if (t == &s->trim_task) {
		s->trim_running = 0;
		return;
	}
	struct job *j = job_of(t);
	s->metrics.tokenizing--;
	if (j->t_end_ns != 0) { /* encoded after its batch */
		http_job_finished(s, j);
	} else {
		s->parsing--;
		if (parsed(s, j))
			http_job_finished(s, j);
		if (s->parsing == 0)
			batcher_dispatch(s); /* nothing more on its way: stop waiting */
	}
	service_maybe_finish(s);
}

/* A batch's results: each job goes to the pool to be encoded. */
static void deliver(struct service *s, struct batch *b)
{
	s->metrics.worker_busy_seconds += (double)(b->t_end_ns - b->t_start_ns) / 1e9;
	for (int i = 0; i < b->n_jobs; i++) {
		struct job *j = b->jobs[i];
		j->t_start_ns = b->t_start_ns;
		j->t_end_ns = b->t_end_ns > b->t_start_ns ? b->t_end_ns : b->t_start_ns + 1;
		if (b->rc == 0 && s->tpool != NULL) {
			job_prepare_encode(j);
			if (j->req.n_out > INLINE_ENCODE_FLOATS) {
				to_pool(s, j);
				continue;
			}
			j->task.run(&j->task);
			http_job_finished(s, j);
		} else if (b->rc == 0) {
			flow_fail(s, j, API_ERR_UNHEALTHY, "shutting down", DROP_SHUTDOWN);
		} else {
			flow_fail(s, j, API_ERR_BACKEND, b->err, -1);
		}
	}
	free(b->jobs);
	free(b->reqs);
	free(b);
	batcher_dispatch(s);
}

/* TEST ONLY: a finished batch that keeps its worker counted busy. */
struct held_batch {
	uv_timer_t timer;
	struct service *s;
	struct batch *b;
};

static void on_held_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_hold_over(uv_timer_t *t)
{
	struct held_batch *h = t->data;
	h->s->held_batches--;
	deliver(h->s, h->b);
	uv_close((uv_handle_t *)&h->timer, on_held_closed);
}

void flow_batch_done(void *data, struct batch *b)
{
	struct service *s = data;
	struct held_batch *h = s->faults.hold_batch_ms > 0 ? calloc(1, sizeof(*h)) : NULL;
	if (h == NULL) {
		deliver(s, b);
		return;
	}
	h->s = s;
	h->b = b;
	s->held_batches++;
	uv_timer_init(&s->loop, &h->timer);
	h->timer.data = h;
	uv_timer_start(&h->timer, on_hold_over, s->faults.hold_batch_ms, 0);
}

int flow_idle_workers(const struct service *s)
{
	return s->workers != NULL ? workers_idle(s->workers) - s->held_batches : 0;
}

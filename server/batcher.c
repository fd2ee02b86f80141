/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dynamic batcher: a FIFO of parsed, tokenized jobs, packed into
 * batches by a token budget (--max-batch-tokens) and a request count
 * (--max-batch-requests). A free worker takes what is queued at once:
 * requests accumulate while every worker is busy, so a lone request gets
 * the engine's latency and a busy server gets full batches. The one wait:
 * while other requests are already admitted and being parsed, a free worker
 * waits for them, at most --max-batch-delay-us (never for requests that may
 * or may not come). Before a
 * job enters a batch its client is checked (connection reset: dropped and
 * counted). A queued job whose X-Request-Timeout-Ms deadline passes is
 * answered 504 at that moment, by a timer armed at the earliest deadline.
 */
#include <stdlib.h>

#include "service.h"

static void count_queue(struct service *s)
{
	s->metrics.queue_size = s->queue_len;
	s->metrics.queue_tokens = s->queue_tokens;
}

/* Removes j (whose predecessor is prev, NULL for the head) from the queue. */
static void unlink_job(struct service *s, struct job *prev, struct job *j)
{
	if (prev != NULL)
		prev->next = j->next;
	else
		s->queue_head = j->next;
	if (s->queue_tail == j)
		s->queue_tail = prev;
	j->next = NULL;
	s->queue_len--;
	s->queue_tokens -= j->req.n_tokens;
	count_queue(s);
}

static void on_deadline(uv_timer_t *t);

/* Arms the deadline timer for deadline_ns unless it is armed earlier. */
static void arm_deadline(struct service *s, uint64_t deadline_ns)
{
	if (deadline_ns == 0 || (s->deadline_armed_ns != 0 && s->deadline_armed_ns <= deadline_ns))
		return;
	s->deadline_armed_ns = deadline_ns;
	uint64_t now = now_ns();
	uint64_t ms = deadline_ns > now ? (deadline_ns - now + 999999u) / 1000000u : 0;
	uv_timer_start(&s->deadline_timer, on_deadline, ms, 0);
}

static const char EXPIRED[] = "X-Request-Timeout-Ms passed before the request could run";

/* Answers 504 to every queued job whose deadline has passed; re-arms for
 * the next one. */
static void on_deadline(uv_timer_t *t)
{
	struct service *s = t->data;
	uint64_t now = now_ns(), next = 0;
	s->deadline_armed_ns = 0;
	struct job *prev = NULL, *j = s->queue_head;
	while (j != NULL) {
		struct job *following = j->next;
		if (j->deadline_ns != 0 && j->deadline_ns <= now) {
			unlink_job(s, prev, j);
			flow_fail(s, j, API_ERR_DEADLINE, EXPIRED, DROP_EXPIRED);
		} else {
			if (j->deadline_ns != 0 && (next == 0 || j->deadline_ns < next))
				next = j->deadline_ns;
			prev = j;
		}
		j = following;
	}
	arm_deadline(s, next);
	service_maybe_finish(s);
}

void batcher_submit(struct service *s, struct job *j)
{
	j->state = JOB_QUEUED;
	j->next = NULL;
	if (s->queue_tail != NULL)
		s->queue_tail->next = j;
	else
		s->queue_head = j;
	s->queue_tail = j;
	s->queue_len++;
	s->queue_tokens += j->req.n_tokens;
	count_queue(s);
	arm_deadline(s, j->deadline_ns);
	batcher_dispatch(s);
}

/* Removes jobs at the head that must not run; answers them. 1 if the head
 * is now a runnable job. */
static int prune_head(struct service *s, uint64_t now)
{
	while (s->queue_head != NULL) {
		struct job *j = s->queue_head;
		if (http_job_disconnected(j)) {
			unlink_job(s, NULL, j);
			flow_fail(s, j, API_ERR_UNHEALTHY, "client disconnected",
			          DROP_DISCONNECTED);
		} else if (j->deadline_ns != 0 && now >= j->deadline_ns) {
			unlink_job(s, NULL, j);
			flow_fail(s, j, API_ERR_DEADLINE, EXPIRED, DROP_EXPIRED);
		} else {
			return 1;
		}
	}
	return 0;
}

static void on_batch_timer(uv_timer_t *t)
{
	batcher_dispatch(t->data);
}

/* 1 (and how long) if the head should wait for the requests being parsed. */
static int should_wait(const struct service *s, uint64_t now, uint64_t *wait_ns)
{
	const struct settings *c = s->cfg;
	if (c->max_batch_delay_us == 0 || s->parsing == 0 || s->draining)
		return 0;
	if (s->queue_tokens >= c->max_batch_tokens || s->queue_len >= c->max_batch_requests)
		return 0;
	uint64_t due = s->queue_head->t_queued_ns + (uint64_t)c->max_batch_delay_us * 1000u;
	if (now >= due)
		return 0;
	*wait_ns = due - now;
	return 1;
}

static struct batch *batch_new(int n)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->jobs = calloc((size_t)n, sizeof(*b->jobs));
	b->reqs = calloc((size_t)n, sizeof(*b->reqs));
	if (b->jobs == NULL || b->reqs == NULL) {
		free(b->jobs);
		free(b->reqs);
		free(b);
		return NULL;
	}
	return b;
}

/* Takes runnable jobs from the head up to the budget; at least one. */
static struct batch *form_batch(struct service *s, uint64_t now)
{
	const struct settings *c = s->cfg;
	int cap =
	    (int)(s->queue_len < c->max_batch_requests ? s->queue_len : c->max_batch_requests);
	struct batch *b = batch_new(cap > 0 ? cap : 1);
	if (b == NULL)
		return NULL;
	while (b->n_jobs < cap && prune_head(s, now)) {
		struct job *j = s->queue_head;
		if (b->n_jobs > 0 && b->n_tokens + j->req.n_tokens > c->max_batch_tokens)
			break;
		unlink_job(s, NULL, j);
		j->state = JOB_RUNNING;
		b->jobs[b->n_jobs] = j;
		b->reqs[b->n_jobs] = &j->req;
		b->n_jobs++;
		b->n_tokens += j->req.n_tokens;
	}
	return b;
}

void batcher_dispatch(struct service *s)
{
	uv_timer_stop(&s->batch_timer);
	while (flow_idle_workers(s) > 0) {
		uint64_t now = now_ns(), wait_ns = 0;
		if (!prune_head(s, now))
			break;
		if (should_wait(s, now, &wait_ns)) {
			uv_timer_start(&s->batch_timer, on_batch_timer,
			               (wait_ns + 999999u) / 1000000u, 0);
			break;
		}
		struct batch *b = form_batch(s, now);
		if (b == NULL)
			break; /* out of memory: try again when a batch finishes */
		if (b->n_jobs == 0) {
			free(b->jobs);
			free(b->reqs);
			free(b);
			continue;
		}
		for (int i = 0; i < b->n_jobs; i++) {
			b->jobs[i]->t_start_ns = now;
			b->jobs[i]->batch_requests = b->n_jobs;
		}
		s->metrics.batches++;
		histogram_observe(&s->metrics.batch_size, b->n_jobs);
		histogram_observe(&s->metrics.batch_tokens, b->n_tokens);
		histogram_observe(&s->metrics.batch_fill,
		                  (double)b->n_tokens / (double)s->cfg->max_batch_tokens);
		workers_submit(s->workers, b);
	}
	service_maybe_finish(s);
}

void batcher_flush_shutdown(struct service *s)
{
	while (s->queue_head != NULL) {
		struct job *j = s->queue_head;
		unlink_job(s, NULL, j);
		flow_fail(s, j, API_ERR_UNHEALTHY,
		          "shutting down: the drain timed out before this request ran",
		          DROP_SHUTDOWN);
	}
}

void batcher_close(struct service *s)
{
	uv_timer_stop(&s->batch_timer);
	uv_timer_stop(&s->deadline_timer);
	uv_close((uv_handle_t *)&s->batch_timer, NULL);
	uv_close((uv_handle_t *)&s->deadline_timer, NULL);
}

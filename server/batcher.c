/*
 * The dynamic batcher: a FIFO of parsed, tokenized jobs, packed into
 * batches by a token budget (--max-batch-tokens) and a request count
 * (--max-batch-requests). Once a first job is queued it waits at most
 * --max-batch-delay-us for company while a worker is idle; batches always
 * go out when full. Before a job enters a batch its client is checked
 * (gone: dropped and counted) and its deadline (passed: 504).
 */
#include <stdlib.h>

#include "service.h"

static void unlink_head(struct service *s)
{
	struct job *j = s->queue_head;
	s->queue_head = j->next;
	if (s->queue_head == NULL)
		s->queue_tail = NULL;
	j->next = NULL;
	s->queue_len--;
	s->queue_tokens -= j->req.n_tokens;
	s->metrics.queue_size = s->queue_len;
	s->metrics.queue_tokens = s->queue_tokens;
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
	s->metrics.queue_size = s->queue_len;
	s->metrics.queue_tokens = s->queue_tokens;
	batcher_dispatch(s);
}

/* Removes jobs at the head that must not run; answers them. 1 if the head
 * is now a runnable job. */
static int prune_head(struct service *s, uint64_t now)
{
	while (s->queue_head != NULL) {
		struct job *j = s->queue_head;
		if (http_job_disconnected(j))
			j->state = JOB_DISCONNECTED;
		else if (j->deadline_ns != 0 && now > j->deadline_ns)
			j->state = JOB_EXPIRED;
		else
			return 1;
		unlink_head(s);
		http_job_finished(s, j);
	}
	return 0;
}

static int should_wait(const struct service *s, uint64_t now, uint64_t *wait_ns)
{
	const struct settings *c = s->cfg;
	if (c->max_batch_delay_us == 0 || s->draining)
		return 0;
	if (s->queue_tokens >= c->max_batch_tokens || s->queue_len >= c->max_batch_requests)
		return 0;
	uint64_t due = s->queue_head->t_queued_ns + (uint64_t)c->max_batch_delay_us * 1000u;
	if (now >= due)
		return 0;
	*wait_ns = due - now;
	return 1;
}

static void on_batch_timer(uv_timer_t *t)
{
	batcher_dispatch(t->data);
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
		unlink_head(s);
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
	while (s->workers != NULL && workers_idle(s->workers) > 0) {
		uint64_t now = now_ns(), wait_ns = 0;
		if (!prune_head(s, now))
			break;
		if (should_wait(s, now, &wait_ns)) {
			uint64_t ms = (wait_ns + 999999u) / 1000000u;
			uv_timer_start(&s->batch_timer, on_batch_timer, ms, 0);
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
		unlink_head(s);
		j->state = JOB_SHUTDOWN;
		http_job_finished(s, j);
	}
}

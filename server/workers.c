/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker threads (see workers.h): a FIFO of batches under a mutex and a
 * condition variable in, a FIFO of finished batches under the same mutex
 * plus uv_async_send out.
 */
#include "workers.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cores.h"
#include "status.h"

struct worker {
	struct workers *pool;
	uv_thread_t thread;
	struct engine_ctx ctx;
	int started;
};

struct workers {
	uv_loop_t *loop;
	const struct model *model;
	uv_async_t async;
	uv_mutex_t mu;
	uv_cond_t cv;
	struct batch *todo_head, *todo_tail; /* guarded by mu */
	struct batch *done_head, *done_tail; /* guarded by mu */
	int stopping;                        /* guarded by mu */
	int n;
	int busy; /* loop thread only */
	workers_done_cb cb;
	void *cb_data;
	struct worker *threads; /* (n) */
	struct core_gate *gate; /* borrowed, NULL: none */
	int gate_cores;
};

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void push(struct batch **head, struct batch **tail, struct batch *b)
{
	b->next = NULL;
	if (*tail != NULL)
		(*tail)->next = b;
	else
		*head = b;
	*tail = b;
}

static void worker_main(void *arg)
{
	struct worker *self = arg;
	struct workers *w = self->pool;
	for (;;) {
		uv_mutex_lock(&w->mu);
		while (w->todo_head == NULL && !w->stopping)
			uv_cond_wait(&w->cv, &w->mu);
		struct batch *b = w->todo_head;
		if (b == NULL) { /* stopping and nothing left */
			uv_mutex_unlock(&w->mu);
			return;
		}
		w->todo_head = b->next;
		if (w->todo_head == NULL)
			w->todo_tail = NULL;
		uv_mutex_unlock(&w->mu);

		if (w->gate != NULL)
			core_gate_enter(w->gate, w->gate_cores);
		b->t_start_ns = now_ns();
		b->err[0] = '\0';
		b->rc =
		    engine_run(w->model, &self->ctx, b->reqs, b->n_jobs, b->err, sizeof(b->err));
		b->t_end_ns = now_ns();
		if (w->gate != NULL)
			core_gate_leave(w->gate, w->gate_cores);

		uv_mutex_lock(&w->mu);
		push(&w->done_head, &w->done_tail, b);
		uv_mutex_unlock(&w->mu);
		uv_async_send(&w->async);
	}
}

/* Loop thread: drain every finished batch. */
static void on_async(uv_async_t *h)
{
	struct workers *w = h->data;
	uv_mutex_lock(&w->mu);
	struct batch *b = w->done_head;
	w->done_head = w->done_tail = NULL;
	uv_mutex_unlock(&w->mu);
	while (b != NULL) {
		struct batch *next = b->next;
		w->busy--;
		w->cb(w->cb_data, b);
		b = next;
	}
}

static void join_all(struct workers *w)
{
	uv_mutex_lock(&w->mu);
	w->stopping = 1;
	uv_cond_broadcast(&w->cv);
	uv_mutex_unlock(&w->mu);
	for (int i = 0; i < w->n; i++) {
		if (w->threads[i].started)
			uv_thread_join(&w->threads[i].thread);
		engine_ctx_dispose(&w->threads[i].ctx);
	}
}

int workers_start(struct workers **out, uv_loop_t *loop, const struct model *m, int n,
                  int32_t max_tokens, workers_done_cb cb, void *cb_data, char *err, size_t n_err)
{
	struct workers *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->threads = calloc((size_t)n, sizeof(*w->threads))) == NULL) {
		free(w);
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory for workers");
	}
	w->loop = loop;
	w->model = m;
	w->n = n;
	w->cb = cb;
	w->cb_data = cb_data;
	uv_mutex_init(&w->mu);
	uv_cond_init(&w->cv);
	uv_async_init(loop, &w->async, on_async);
	w->async.data = w;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct worker *t = &w->threads[i];
		t->pool = w;
		if (engine_ctx_init(&t->ctx, m, max_tokens) != 0)
			rc = status_fail(err, n_err, STATUS_ENOMEM,
			                 "out of memory for a worker's scratch (%d tokens)",
			                 (int)max_tokens);
		else if (uv_thread_create(&t->thread, worker_main, t) != 0)
			rc = status_fail(err, n_err, STATUS_ENOMEM, "cannot start worker thread");
		else
			t->started = 1;
	}
	if (rc != 0) {
		workers_stop(w);
		return rc;
	}
	*out = w;
	return 0;
}

void workers_share_cores(struct workers *w, struct core_gate *gate, int cores_per_batch)
{
	w->gate = gate;
	w->gate_cores = cores_per_batch;
}

void workers_submit(struct workers *w, struct batch *b)
{
	w->busy++;
	uv_mutex_lock(&w->mu);
	push(&w->todo_head, &w->todo_tail, b);
	uv_cond_signal(&w->cv);
	uv_mutex_unlock(&w->mu);
}

int workers_idle(const struct workers *w)
{
	return w->n - w->busy;
}

int workers_count(const struct workers *w)
{
	return w->n;
}

size_t workers_scratch_resident(const struct workers *w)
{
	size_t bytes = gemm_thread_buffer_bytes();
	for (int i = 0; i < w->n; i++)
		bytes += engine_ctx_resident(&w->threads[i].ctx);
	return bytes;
}

static void on_closed(uv_handle_t *h)
{
	struct workers *w = h->data;
	uv_mutex_destroy(&w->mu);
	uv_cond_destroy(&w->cv);
	free(w->threads);
	free(w);
}

void workers_stop(struct workers *w)
{
	join_all(w);
	on_async(&w->async); /* deliver what finished meanwhile */
	uv_close((uv_handle_t *)&w->async, on_closed);
}

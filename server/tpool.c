/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokenization pool (see tpool.h): a FIFO of tasks under a mutex and a
 * condition variable in, a FIFO of finished tasks under the same mutex plus
 * uv_async_send out.
 */
#include "tpool.h"

#include <stdlib.h>

#include "cores.h"
#include "status.h"

struct tpool {
	uv_async_t async;
	uv_mutex_t mu;
	uv_cond_t cv;
	struct tpool_task *todo_head, *todo_tail; /* guarded by mu */
	struct tpool_task *done_head, *done_tail; /* guarded by mu */
	int stopping;                             /* guarded by mu */
	int n;
	int n_started;
	int64_t pending; /* loop thread only */
	tpool_done_cb cb;
	void *cb_data;
	struct core_gate *gate; /* borrowed, NULL: none */
	uv_thread_t *threads;   /* (n) */
};

static void push(struct tpool_task **head, struct tpool_task **tail, struct tpool_task *t)
{
	t->next = NULL;
	if (*tail != NULL)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

static void thread_main(void *arg)
{
	struct tpool *p = arg;
	for (;;) {
		uv_mutex_lock(&p->mu);
		while (p->todo_head == NULL && !p->stopping)
			uv_cond_wait(&p->cv, &p->mu);
		struct tpool_task *t = p->todo_head;
		if (t == NULL) { /* stopping and nothing left */
			uv_mutex_unlock(&p->mu);
			return;
		}
		p->todo_head = t->next;
		if (p->todo_head == NULL)
			p->todo_tail = NULL;
		uv_mutex_unlock(&p->mu);

		if (p->gate != NULL)
			core_gate_enter(p->gate, 1);
		t->run(t);
		if (p->gate != NULL)
			core_gate_leave(p->gate, 1);

		uv_mutex_lock(&p->mu);
		push(&p->done_head, &p->done_tail, t);
		uv_mutex_unlock(&p->mu);
		uv_async_send(&p->async);
	}
}

/* Loop thread: hand back every finished task. */
static void on_async(uv_async_t *h)
{
	struct tpool *p = h->data;
	uv_mutex_lock(&p->mu);
	struct tpool_task *t = p->done_head;
	p->done_head = p->done_tail = NULL;
	uv_mutex_unlock(&p->mu);
	while (t != NULL) {
		struct tpool_task *next = t->next;
		p->pending--;
		p->cb(p->cb_data, t);
		t = next;
	}
}

int tpool_start(struct tpool **out, uv_loop_t *loop, int n, struct core_gate *gate,
                tpool_done_cb cb, void *cb_data, char *err, size_t n_err)
{
	struct tpool *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->threads = calloc((size_t)n, sizeof(*p->threads))) == NULL) {
		free(p);
		return status_fail(err, n_err, STATUS_ENOMEM,
		                   "out of memory for the tokenization pool");
	}
	p->n = n;
	p->gate = gate;
	p->cb = cb;
	p->cb_data = cb_data;
	uv_mutex_init(&p->mu);
	uv_cond_init(&p->cv);
	uv_async_init(loop, &p->async, on_async);
	p->async.data = p;
	for (int i = 0; i < n; i++) {
		if (uv_thread_create(&p->threads[i], thread_main, p) != 0) {
			tpool_stop(p);
			return status_fail(err, n_err, STATUS_ENOMEM,
			                   "cannot start a tokenization thread");
		}
		p->n_started++;
	}
	*out = p;
	return 0;
}

void tpool_submit(struct tpool *p, struct tpool_task *t)
{
	p->pending++;
	uv_mutex_lock(&p->mu);
	push(&p->todo_head, &p->todo_tail, t);
	uv_cond_signal(&p->cv);
	uv_mutex_unlock(&p->mu);
}

int64_t tpool_pending(const struct tpool *p)
{
	return p->pending;
}

static void on_closed(uv_handle_t *h)
{
	struct tpool *p = h->data;
	uv_mutex_destroy(&p->mu);
	uv_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
}

void tpool_stop(struct tpool *p)
{
	uv_mutex_lock(&p->mu);
	p->stopping = 1;
	uv_cond_broadcast(&p->cv);
	uv_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_started; i++)
		uv_thread_join(&p->threads[i]);
	on_async(&p->async); /* deliver what finished meanwhile */
	uv_close((uv_handle_t *)&p->async, on_closed);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokenization pool: a few threads beside the BLAS workers that run the
 * per-request stages which must not block the loop thread — the JSON parse
 * and tokenization of a request body, and the encoding of an answer — so
 * that no request's size can delay another request's /health, accept or
 * answer. Tasks go in under a mutex; finished tasks come back to the loop
 * through one uv_async_t whose callback drains all of them (libuv's
 * threadpool pattern, as workers.c). A task is touched by one thread at a
 * time: the loop until submit, one pool thread while it runs, the loop again
 * from the done callback on.
 */
#ifndef SMOLSERVE_SERVER_TPOOL_H
#define SMOLSERVE_SERVER_TPOOL_H

#include <stdint.h>
#include <uv.h>

struct tpool;

struct tpool_task {
	void (*run)(struct tpool_task *t); /* on a pool thread */
	struct tpool_task *next;           /* the pool's queue link */
};

/* Called on the loop thread with each finished task, in order. */
typedef void (*tpool_done_cb)(void *data, struct tpool_task *t);

struct core_gate;

/*
 * Starts n threads (n >= 1). Each task takes one core of gate (borrowed,
 * may be NULL; must outlive the pool) while it runs. 0, or a negative
 * status with err (nothing is left running). Loop thread.
 */
int tpool_start(struct tpool **out, uv_loop_t *loop, int n, struct core_gate *gate,
                tpool_done_cb cb, void *cb_data, char *err, size_t n_err);

/* Queues t (borrowed until it comes back through the done callback). Loop
 * thread. */
void tpool_submit(struct tpool *p, struct tpool_task *t);

/* Tasks submitted and not yet handed back (loop thread's view). */
int64_t tpool_pending(const struct tpool *p);

/* Runs what is queued, joins the threads, hands every finished task back
 * through the done callback, closes the async handle; the pool is freed in
 * its close callback. Loop thread. */
void tpool_stop(struct tpool *p);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker pool: N threads, each owning an engine context (its scratch,
 * preallocated for --max-batch-tokens) and running whole batches through
 * the shared model. Finished batches go back to the loop through one
 * uv_async_t whose callback drains all of them (libuv's threadpool
 * pattern); workers never touch jansson, libmicrohttpd or libuv handles.
 */
#ifndef SMOLSERVE_SERVER_WORKERS_H
#define SMOLSERVE_SERVER_WORKERS_H

#include <uv.h>

#include "engine.h"
#include "job.h"
#include "model.h"

struct workers;

/* Called on the loop thread with each finished batch, in order. */
typedef void (*workers_done_cb)(void *data, struct batch *b);

/*
 * Starts n threads on model m (borrowed; must outlive the pool), each with
 * scratch for max_tokens tokens. 0, or a negative status (err says why;
 * nothing is left running).
 */
int workers_start(struct workers **out, uv_loop_t *loop, const struct model *m, int n,
                  int32_t max_tokens, workers_done_cb cb, void *cb_data, char *err, size_t n_err);

struct core_gate;

/* Makes every batch take cores_per_batch cores of gate (borrowed; must
 * outlive the pool) while it runs. Loop thread, before the first submit. */
void workers_share_cores(struct workers *w, struct core_gate *gate, int cores_per_batch);

/* Hands b to an idle worker. Loop thread only; at most workers_idle() at
 * a time. */
void workers_submit(struct workers *w, struct batch *b);

/* Workers not running a batch (loop thread's view). */
int workers_idle(const struct workers *w);
int workers_count(const struct workers *w);

/* Bytes of the workers' scratch in memory now, with the product threads'
 * own buffers (gemm_thread_buffer_bytes): lazy, so as much as the largest
 * batches so far touched, and kept for the next ones. Loop thread. */
size_t workers_scratch_resident(const struct workers *w);

/* Joins the threads (after their batches finish), closes the async
 * handle; the pool is freed in its close callback. Loop thread only. */
void workers_stop(struct workers *w);

#endif

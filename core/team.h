/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker's compute team: the threads one forward pass runs on. The
 * encoder splits each stage (a product with its epilogue, attention over
 * (sequence, head) pairs, a norm) over the team's threads and joins them
 * before the next stage, so no stage runs on one core while the others
 * wait, and no second pool (OpenBLAS's own threads, kept at one) spins
 * beside it. The threads spin briefly between stages, which follow each
 * other within microseconds, and sleep in the kernel between requests.
 *
 * This is core's only thread code; it knows nothing of requests, queues or
 * libuv. A team belongs to one caller thread (the worker that owns the
 * scratch it lives in).
 */
#ifndef SMOLSERVE_CORE_TEAM_H
#define SMOLSERVE_CORE_TEAM_H

struct team;

/* One stage's work: part i of n (0 <= i < n), called once per thread. */
typedef void (*team_fn)(void *arg, int i, int n);

/*
 * A team of n_threads threads: the caller of team_run plus n_threads - 1
 * helpers started here. n_threads <= 1 starts no thread. 0 and *out
 * (team_destroy), or STATUS_ENOMEM if a thread or memory is missing
 * (nothing is left running).
 */
int team_create(struct team **out, int n_threads);

/* Stops and joins the helpers, frees t. NULL is fine. Owner thread only. */
void team_destroy(struct team *t);

/* Threads in the team (>= 1). Any thread. NULL counts as 1. */
int team_size(const struct team *t);

/*
 * Runs fn(arg, i, n) exactly once for every i in [0, n), n = team_size(t),
 * and returns once every call has returned (their writes are then visible
 * to the caller). Parts are taken by whichever team thread is free, the
 * caller included: usually one each, but a thread may run several one
 * after another (never two at once), so part i may own per-part state
 * (workspace i) but must not assume which thread runs it. A NULL team runs
 * fn(arg, 0, 1). Owner thread only, never from inside fn.
 */
void team_run(struct team *t, team_fn fn, void *arg);

/*
 * t, or NULL (the calling thread alone) when work < min_work: for stages
 * too small to be worth waking the team. The environment variable
 * SMOLSERVE_TEAM_ALWAYS=1 makes it always t (tests use it to run every
 * stage of small inputs on the team). Any thread.
 */
struct team *team_for(struct team *t, double work, double min_work);

/* Part i of n of [0, count) in whole units of `grain`: *begin, *end. The
 * parts cover the range, in order, sizes differing by at most one grain. */
void team_split(long count, long grain, int i, int n, long *begin, long *end);

#endif

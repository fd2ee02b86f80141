/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compute team (see team.h): fork-join over a generation counter. The
 * owner publishes a stage (fn, arg) by bumping `gen` and marking it `open`;
 * helpers that spin see it at once, helpers asleep on the counter's futex
 * are woken. Parts are claimed from a shared counter by whoever is free,
 * the owner included, so a helper the machine has not scheduled does not
 * hold the stage up: the owner runs its part too. When every part has
 * finished the owner closes the stage and waits only for helpers that are
 * inside it (`active`); a helper that joins a closed stage leaves without
 * touching it. Spinning is bounded: helpers sleep after TEAM_SPIN_NS
 * without a new stage, the owner yields its core after TEAM_YIELD_NS of
 * waiting.
 */
#include "team.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#define TEAM_SPIN_NS  60000ull /* a helper's spin before it sleeps */
#define TEAM_YIELD_NS 20000ull /* the owner's spin before it yields */

struct helper {
	pthread_t thread;
	struct team *team;
	int index; /* the part it runs */
	int started;
};

struct team {
	int n;
	_Atomic unsigned gen;  /* bumped once per stage; the helpers' futex word */
	_Atomic unsigned open; /* gen of the stage helpers may join, 0: none */
	atomic_int active;     /* helpers inside the open stage */
	atomic_int next_part;  /* the next part to claim */
	atomic_int parts_done;
	atomic_int sleepers; /* helpers asleep on gen */
	atomic_int stop;
	team_fn fn; /* the current stage, published by open */
	void *arg;
	struct helper *helpers; /* (n - 1) */
};

static unsigned long long clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic unsigned *word, unsigned expected)
{
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic unsigned *word)
{
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Waits for gen to move past seen: spins, then sleeps. Returns the new gen. */
static unsigned wait_stage(struct team *t, unsigned seen)
{
	unsigned long long start = 0;
	for (unsigned spins = 0;; spins++) {
		unsigned g = atomic_load_explicit(&t->gen, memory_order_acquire);
		if (g != seen)
			return g;
		if ((spins & 63) == 0) {
			unsigned long long now = clock_ns();
			if (start == 0)
				start = now;
			else if (now - start > TEAM_SPIN_NS)
				break;
		}
		cpu_relax();
	}
	atomic_fetch_add(&t->sleepers, 1);
	unsigned g;
	while ((g = atomic_load(&t->gen)) == seen)
		futex_wait(&t->gen, seen);
	atomic_fetch_sub(&t->sleepers, 1);
	return g;
}

/* Runs unclaimed parts of the current stage until none is left. */
static void run_parts(struct team *t)
{
	for (;;) {
		int p = atomic_fetch_add(&t->next_part, 1);
		if (p >= t->n)
			return;
		t->fn(t->arg, p, t->n);
		atomic_fetch_add_explicit(&t->parts_done, 1, memory_order_release);
	}
}

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	struct team *t = h->team;
	unsigned seen = 0;
	for (;;) {
		seen = wait_stage(t, seen);
		if (atomic_load_explicit(&t->stop, memory_order_acquire))
			return NULL;
		atomic_fetch_add(&t->active, 1);
		if (atomic_load(&t->open) == seen) /* else it closed (or moved on) meanwhile */
			run_parts(t);
		atomic_fetch_sub(&t->active, 1);
	}
}

static void stop_helpers(struct team *t)
{
	atomic_store(&t->stop, 1);
	atomic_fetch_add(&t->gen, 1);
	futex_wake_all(&t->gen);
	for (int i = 0; i < t->n - 1; i++)
		if (t->helpers[i].started)
			pthread_join(t->helpers[i].thread, NULL);
}

int team_create(struct team **out, int n_threads)
{
	struct team *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (t == NULL)
		return STATUS_ENOMEM;
	t->n = n_threads > 1 ? n_threads : 1;
	if (t->n > 1 && (t->helpers = calloc((size_t)(t->n - 1), sizeof(*t->helpers))) == NULL)
		goto fail;
	for (int i = 0; i < t->n - 1; i++) {
		struct helper *h = &t->helpers[i];
		h->team = t;
		h->index = i + 1;
		if (pthread_create(&h->thread, NULL, helper_main, h) != 0)
			goto fail;
		h->started = 1;
	}
	*out = t;
	return 0;
fail:
	team_destroy(t);
	return STATUS_ENOMEM;
}

void team_destroy(struct team *t)
{
	if (t == NULL)
		return;
	if (t->helpers != NULL)
		stop_helpers(t);
	free(t->helpers);
	free(t);
}

int team_size(const struct team *t)
{
	return t != NULL ? t->n : 1;
}

/* Spins (then yields) until *v == want. */
static void wait_for(atomic_int *v, int want)
{
	unsigned long long start = 0;
	for (unsigned spins = 0; atomic_load(v) != want; spins++) {
		if ((spins & 63) == 0) {
			unsigned long long now = clock_ns();
			if (start == 0)
				start = now;
			else if (now - start > TEAM_YIELD_NS)
				sched_yield();
		}
		cpu_relax();
	}
}

void team_run(struct team *t, team_fn fn, void *arg)
{
	if (t == NULL || t->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	t->fn = fn;
	t->arg = arg;
	atomic_store(&t->next_part, 0);
	atomic_store(&t->parts_done, 0);
	unsigned g = atomic_load(&t->gen) + 1;
	if (g == 0) /* 0 means "no stage open" */
		g = 1;
	atomic_store(&t->open, g); /* publishes fn, arg and the counters */
	atomic_store(&t->gen, g);
	if (atomic_load(&t->sleepers) > 0)
		futex_wake_all(&t->gen);
	run_parts(t);
	wait_for(&t->parts_done, t->n); /* parts other threads are still running */
	atomic_store(&t->open, 0);
	wait_for(&t->active, 0); /* helpers that joined and may still read t */
}

struct team *team_for(struct team *t, double work, double min_work)
{
	static _Atomic int always = -1; /* from the environment, once */
	int a = always;
	if (a < 0) {
		const char *v = getenv("SMOLSERVE_TEAM_ALWAYS");
		always = a = v != NULL && strcmp(v, "1") == 0;
	}
	return a || work >= min_work ? t : NULL;
}

void team_split(long count, long grain, int i, int n, long *begin, long *end)
{
	long g = grain > 0 ? grain : 1;
	long units = (count + g - 1) / g;
	long lo = units * i / n, hi = units * (i + 1) / n;
	*begin = lo * g < count ? lo * g : count;
	*end = hi * g < count ? hi * g : count;
}

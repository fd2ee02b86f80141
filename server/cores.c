/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core gate (see cores.h): a counting semaphore whose waiters are
 * admitted strictly in ticket order, so a batch that needs every core is
 * not overtaken for ever by stages that need one.
 */
#include "cores.h"

static int clamp(const struct core_gate *g, int n)
{
	return n < 1 ? 1 : n > g->n_cores ? g->n_cores : n;
}

void core_gate_init(struct core_gate *g, int n_cores)
{
	g->n_cores = n_cores > 0 ? n_cores : 1;
	g->n_free = g->n_cores;
	g->next = g->serving = 0;
	uv_mutex_init(&g->mu);
	uv_cond_init(&g->cv);
}

void core_gate_dispose(struct core_gate *g)
{
	uv_mutex_destroy(&g->mu);
	uv_cond_destroy(&g->cv);
}

void core_gate_enter(struct core_gate *g, int n)
{
	n = clamp(g, n);
	uv_mutex_lock(&g->mu);
	uint64_t ticket = g->next++;
	while (ticket != g->serving || g->n_free < n)
		uv_cond_wait(&g->cv, &g->mu);
	g->n_free -= n;
	g->serving++;
	uv_cond_broadcast(&g->cv); /* the next in line may fit as well */
	uv_mutex_unlock(&g->mu);
}

void core_gate_leave(struct core_gate *g, int n)
{
	n = clamp(g, n);
	uv_mutex_lock(&g->mu);
	g->n_free += n;
	uv_cond_broadcast(&g->cv);
	uv_mutex_unlock(&g->mu);
}

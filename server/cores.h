/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CPU cores shared by the worker pool and the tokenization pool.
 * OpenBLAS's threads spin after each product and split every product evenly
 * between them, so a tokenization thread running beside a batch slows the
 * whole batch down; measured on 2 cores (README, "How requests flow") that
 * cost a third of the throughput. The gate hands the usable cores out in
 * first-come order: a batch takes its worker's BLAS threads' worth, a parse
 * or encode stage takes one, and nobody runs on cores someone else holds.
 * Between batches the stages run on the freed cores; a batch waits for the
 * stages ahead of it. Any thread.
 */
#ifndef SMOLSERVE_SERVER_CORES_H
#define SMOLSERVE_SERVER_CORES_H

#include <stdint.h>
#include <uv.h>

struct core_gate {
	uv_mutex_t mu;
	uv_cond_t cv;
	int n_cores;      /* in all */
	int n_free;       /* guarded by mu */
	uint64_t next;    /* guarded by mu: the next ticket handed out */
	uint64_t serving; /* guarded by mu: the ticket admitted next */
};

/* n_cores >= 1 (the usable CPUs). */
void core_gate_init(struct core_gate *g, int n_cores);
void core_gate_dispose(struct core_gate *g);

/* Waits for its turn and n cores (clamped to 1..n_cores), then takes them.
 * Turns are first come, first served, so neither side can starve. */
void core_gate_enter(struct core_gate *g, int n);

/* Gives back the n cores core_gate_enter took. */
void core_gate_leave(struct core_gate *g, int n);

#endif

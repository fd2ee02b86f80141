/*
 * A bump allocator over one mmapped region, for a worker's scratch: sized
 * once for the largest batch, touched once at creation (so the request
 * path takes no page faults), huge pages requested, never grown.
 */
#ifndef SMOLSERVE_CORE_ARENA_H
#define SMOLSERVE_CORE_ARENA_H

#include <stddef.h>

struct arena {
	unsigned char *base; /* owned mapping */
	size_t n_bytes;
	size_t used;
};

/* Maps n_bytes (rounded up) and pre-faults it. 0 or STATUS_ENOMEM. */
int arena_init(struct arena *a, size_t n_bytes);
void arena_dispose(struct arena *a);

/* 64-byte aligned slice of n_bytes, or NULL if the arena is exhausted. */
void *arena_alloc(struct arena *a, size_t n_bytes);

/* Size arena_alloc would consume for n_bytes (for sizing an arena). */
size_t arena_size_of(size_t n_bytes);

#endif

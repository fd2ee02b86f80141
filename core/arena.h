/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bump allocator over one anonymous mapping, for a worker's scratch and
 * the model's load-time weight layouts: huge pages requested, never grown.
 * arena_init touches every page at once (no page faults later);
 * arena_init_lazy only reserves the address space, so memory becomes
 * resident as far as it is used (arena_touch pre-faults a part of it).
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

/* Maps n_bytes (rounded up) without touching it. 0 or STATUS_ENOMEM. */
int arena_init_lazy(struct arena *a, size_t n_bytes);

void arena_dispose(struct arena *a);

/* 64-byte aligned slice of n_bytes, or NULL if the arena is exhausted. */
void *arena_alloc(struct arena *a, size_t n_bytes);

/* Size arena_alloc would consume for n_bytes (for sizing an arena). */
size_t arena_size_of(size_t n_bytes);

/* Faults in the pages of [p, p + n_bytes) (p from an arena) by writing
 * zeros, so that later use takes no page faults. */
void arena_touch(void *p, size_t n_bytes);

/* Bytes of the arena's mapping in memory now (mincore; 0 where that
 * fails). Any thread: reads no contents. */
size_t arena_resident(const struct arena *a);

/* Maps the pages of [p, p + n_bytes) of a file mapping in one call
 * instead of a page fault per few pages (MADV_POPULATE_READ, Linux 5.14;
 * elsewhere nothing: the first reads fault them in). Any thread. */
void pages_populate_read(const void *p, size_t n_bytes);

#endif

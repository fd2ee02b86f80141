/*
 * Scratch arena (see arena.h): one anonymous mapping per worker, asked for
 * transparent huge pages and written once so its pages exist before the
 * first request.
 */
#include "arena.h"

#include <string.h>
#include <sys/mman.h>

#include "status.h"

#define ARENA_ALIGN 64

size_t arena_size_of(size_t n_bytes)
{
	return (n_bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

int arena_init(struct arena *a, size_t n_bytes)
{
	memset(a, 0, sizeof(*a));
	size_t size = arena_size_of(n_bytes > 0 ? n_bytes : 1);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return STATUS_ENOMEM;
#ifdef MADV_HUGEPAGE
	if (size >= (2u << 20))
		madvise(p, size, MADV_HUGEPAGE);
#endif
	memset(p, 0, size); /* pre-fault: page faults here, not per request */
	a->base = p;
	a->n_bytes = size;
	return 0;
}

void arena_dispose(struct arena *a)
{
	if (a->base != NULL)
		munmap(a->base, a->n_bytes);
	memset(a, 0, sizeof(*a));
}

void *arena_alloc(struct arena *a, size_t n_bytes)
{
	size_t size = arena_size_of(n_bytes);
	if (size > a->n_bytes - a->used)
		return NULL;
	void *p = a->base + a->used;
	a->used += size;
	return p;
}

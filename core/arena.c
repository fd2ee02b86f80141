/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arenas (see arena.h): one anonymous mapping each, asked for transparent
 * huge pages when large. Eager arenas are written once at creation so
 * their pages exist before the first request; lazy ones are faulted in by
 * use (and by arena_touch).
 */
#include "arena.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "status.h"

#define ARENA_ALIGN 64

size_t arena_size_of(size_t n_bytes)
{
	return (n_bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static int map(struct arena *a, size_t n_bytes, int flags)
{
	memset(a, 0, sizeof(*a));
	size_t size = arena_size_of(n_bytes > 0 ? n_bytes : 1);
	void *p =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (p == MAP_FAILED)
		return STATUS_ENOMEM;
#ifdef MADV_HUGEPAGE
	if (size >= (2u << 20))
		madvise(p, size, MADV_HUGEPAGE);
#endif
	a->base = p;
	a->n_bytes = size;
	return 0;
}

int arena_init(struct arena *a, size_t n_bytes)
{
	if (map(a, n_bytes, 0) != 0)
		return STATUS_ENOMEM;
	memset(a->base, 0, a->n_bytes); /* pre-fault: page faults here, not per request */
	return 0;
}

int arena_init_lazy(struct arena *a, size_t n_bytes)
{
	return map(a, n_bytes, MAP_NORESERVE);
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

void arena_touch(void *p, size_t n_bytes)
{
	if (p != NULL)
		memset(p, 0, n_bytes);
}

size_t arena_resident(const struct arena *a)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), in_core = 0;
	unsigned char vec[1024];
	for (size_t off = 0; a->base != NULL && off < a->n_bytes; off += sizeof(vec) * page) {
		size_t len = a->n_bytes - off;
		if (len > sizeof(vec) * page)
			len = sizeof(vec) * page;
		if (mincore(a->base + off, len, vec) != 0)
			return 0;
		for (size_t i = 0; i < (len + page - 1) / page; i++)
			in_core += vec[i] & 1;
	}
	return in_core * page;
}

void pages_populate_read(const void *p, size_t n_bytes)
{
#ifdef MADV_POPULATE_READ
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)p & ~(page - 1);
	(void)madvise((void *)lo, (uintptr_t)p + n_bytes - lo, MADV_POPULATE_READ);
#else
	(void)p, (void)n_bytes;
#endif
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layout cache (see layout_cache.h): file naming, the header, the
 * checksum (split over a team, as the data is 40+ MiB) and the atomic
 * write.
 */
#include "layout_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "team.h"

#define LAYOUT_MAGIC  "SMOLLAYT"
#define LAYOUT_FORMAT 1u         /* bump when the file or the packed layout changes */
#define LAYOUT_HEADER 4096u      /* bytes before the data: keeps the data page-aligned */
#define LAYOUT_PIECE  (1u << 20) /* checksum piece: one team thread's unit of work */

struct layout_header {
	char magic[8];
	uint32_t format;
	uint32_t header_bytes;
	uint64_t group, key;
	uint64_t n_bytes;
	uint64_t checksum;
};

uint64_t layout_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t layout_hash_files(uint64_t h, const struct safetensors *st)
{
	for (int i = 0; i < st->n_files; i++) {
		const struct st_file *f = &st->files[i];
		uint64_t id[5] = {f->dev, f->ino, (uint64_t)f->n_map, (uint64_t)f->mtime_s,
		                  (uint64_t)f->mtime_ns};
		h = layout_hash(h, id, sizeof(id));
	}
	return h;
}

int layout_hash_tensor(uint64_t *h, const struct safetensors *st, const void *p)
{
	for (int i = 0; i < st->n_tensors; i++) {
		const struct st_tensor *t = &st->tensors[i];
		const struct st_file *f = &st->files[t->file];
		const uint8_t *at = f->map + t->offset;
		uintptr_t q = (uintptr_t)p;
		int inside = t->widened != NULL
		                 ? (const void *)t->widened == p
		                 : q >= (uintptr_t)at && q < (uintptr_t)(at + t->n_bytes);
		if (!inside)
			continue;
		/* (file, offset in the file, dtype); the files' identities are
		 * folded in once by the caller (layout_hash_files) */
		uint64_t v[3] = {(uint64_t)t->file,
		                 (uint64_t)(t->widened != NULL ? t->offset : q - (uintptr_t)f->map),
		                 (uint64_t)t->dtype};
		*h = layout_hash(*h, v, sizeof(v));
		return 0;
	}
	return -1;
}

/* --- checksum ---------------------------------------------------------- */

/* A position-dependent sum of one piece (Fletcher's, on 64-bit words in 4
 * lanes): a zeroed, shifted or altered range changes it. */
static uint64_t piece_sum(const unsigned char *p, size_t n)
{
	uint64_t a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
	size_t words = n / 8;
	for (size_t i = 0; i + 4 <= words; i += 4)
		for (int l = 0; l < 4; l++) {
			uint64_t w;
			memcpy(&w, p + 8 * (i + (size_t)l), sizeof(w));
			a[l] += w;
			b[l] += a[l];
		}
	uint64_t h = layout_hash(LAYOUT_HASH_INIT, a, sizeof(a));
	h = layout_hash(h, b, sizeof(b));
	return layout_hash(h, p + (words & ~(size_t)3) * 8, n - (words & ~(size_t)3) * 8);
}

struct sum_plan {
	const unsigned char *data;
	size_t n_bytes;
	uint64_t *sums; /* one per piece */
	size_t n_pieces;
	atomic_size_t next;
};

static void sum_part(void *arg, int i, int n)
{
	struct sum_plan *p = arg;
	(void)i, (void)n;
	for (;;) {
		size_t k = atomic_fetch_add(&p->next, 1);
		if (k >= p->n_pieces)
			return;
		size_t off = k * LAYOUT_PIECE;
		size_t len = p->n_bytes - off < LAYOUT_PIECE ? p->n_bytes - off : LAYOUT_PIECE;
		pages_populate_read(p->data + off, len);
		p->sums[k] = piece_sum(p->data + off, len);
	}
}

/* The checksum of data[0, n_bytes), on team (NULL: this thread). 0 and
 * *out, or -1 if out of memory. */
static int checksum(const void *data, size_t n_bytes, struct team *team, uint64_t *out)
{
	struct sum_plan p = {data, n_bytes, NULL, (n_bytes + LAYOUT_PIECE - 1) / LAYOUT_PIECE, 0};
	if ((p.sums = calloc(p.n_pieces > 0 ? p.n_pieces : 1, sizeof(uint64_t))) == NULL)
		return -1;
	if (team != NULL)
		team_run(team, sum_part, &p);
	else
		sum_part(&p, 0, 1);
	uint64_t h = layout_hash(LAYOUT_HASH_INIT, &n_bytes, sizeof(n_bytes));
	*out = layout_hash(h, p.sums, p.n_pieces * sizeof(uint64_t));
	free(p.sums);
	return 0;
}

/* --- files ------------------------------------------------------------- */

static void file_name(char *out, size_t n, const char *dir, uint64_t group, uint64_t key)
{
	snprintf(out, n, "%s/%016llx-%016llx.layout", dir, (unsigned long long)group,
	         (unsigned long long)key);
}

/*
 * Maps fd's n bytes read-only at an address aligned to 2 MiB and asks for
 * huge pages, so that the page cache's 2 MiB folios (which the kernel
 * makes for such a mapping's faults, and for large aligned writes) are
 * mapped whole: the weights are then read through a few dozen TLB entries
 * rather than ten thousand, as from the anonymous huge pages they are
 * laid out in otherwise (4 KiB pages cost one 16-token request 0.1 ms).
 */
static void *map_huge(int fd, size_t n)
{
	size_t align = (size_t)2 << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	size_t whole = (n + page - 1) & ~(page - 1), span_n = whole + align;
	char *span = mmap(NULL, span_n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (span == MAP_FAILED)
		return MAP_FAILED;
	char *base = (char *)(((uintptr_t)span + align - 1) & ~(uintptr_t)(align - 1));
	void *map = mmap(base, n, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	if (map == MAP_FAILED) {
		munmap(span, span_n);
		return MAP_FAILED;
	}
	if (base > span) /* the reservation's ends around the file */
		munmap(span, (size_t)(base - span));
	if (span + span_n > base + whole)
		munmap(base + whole, (size_t)(span + span_n - (base + whole)));
#ifdef MADV_HUGEPAGE
	(void)madvise(map, n, MADV_HUGEPAGE);
#endif
	return map;
}

int layout_cache_open(const char *dir, uint64_t group, uint64_t key, size_t n_bytes,
                      struct team *team, struct layout_map *out, char *why, size_t n_why)
{
	char path[4096];
	struct layout_header h;
	struct stat sb;
	memset(out, 0, sizeof(*out));
	file_name(path, sizeof(path), dir, group, key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, n_why, errno == ENOENT ? "none yet" : "cannot open %s: %s", path,
		         strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != (uint64_t)LAYOUT_HEADER + n_bytes ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, LAYOUT_MAGIC, 8) != 0 || h.format != LAYOUT_FORMAT ||
	    h.header_bytes != LAYOUT_HEADER || h.group != group || h.key != key ||
	    h.n_bytes != n_bytes) {
		snprintf(why, n_why, "%s is not a layout of these weights (stale or truncated)",
		         path);
		close(fd);
		return -1;
	}
	void *map = map_huge(fd, (size_t)sb.st_size);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(why, n_why, "cannot map %s: %s", path, strerror(errno));
		return -1;
	}
	uint64_t sum;
	if (checksum((const char *)map + LAYOUT_HEADER, n_bytes, team, &sum) != 0 ||
	    sum != h.checksum) {
		snprintf(why, n_why, "%s is damaged (checksum)", path);
		munmap(map, (size_t)sb.st_size);
		return -1;
	}
	*out = (struct layout_map){map, (size_t)sb.st_size, (const char *)map + LAYOUT_HEADER};
	return 0;
}

void layout_map_dispose(struct layout_map *m)
{
	if (m->map != NULL)
		munmap(m->map, m->n_map);
	memset(m, 0, sizeof(*m));
}

/* mkdir -p dir; the folders it creates are the owner's alone. */
static int make_dirs(const char *dir)
{
	char p[4096];
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return (errno = ENAMETOOLONG), -1;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return -1;
		if ((*s = c) == '\0')
			return 0;
	}
}

static int write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The data after the header, in writes that end on 2 MiB boundaries of
 * the file, so that the page cache keeps it in 2 MiB folios (map_huge). */
static int write_aligned(int fd, const char *data, size_t n)
{
	size_t chunk = (size_t)2 << 20, off = LAYOUT_HEADER; /* file offset */
	while (n > 0) {
		size_t len = chunk - off % chunk < n ? chunk - off % chunk : n;
		if (write_all(fd, data, len) != 0)
			return -1;
		data += len;
		off += len;
		n -= len;
	}
	return 0;
}

/* A temporary file this old was left by a writer that died (writing one
 * takes well under a second). */
#define STALE_TMP_S 600

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Deletes dir's <group>-*.layout files but keep_name, and the group's
 * temporary files that writers which died left behind. */
static void prune_group(const char *dir, uint64_t group, const char *keep_name)
{
	char prefix[24], path[4096];
	struct stat sb;
	snprintf(prefix, sizeof(prefix), "%016llx-", (unsigned long long)group);
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, 17) != 0 || strcmp(e->d_name, keep_name) == 0 ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (ends_with(e->d_name, n, ".layout") ||
		    (ends_with(e->d_name, n, ".tmp") && stat(path, &sb) == 0 &&
		     time(NULL) - sb.st_mtime > STALE_TMP_S))
			unlink(path);
	}
	closedir(d);
}

/* -2 for errors that mean "this folder is not ours to write" (read-only
 * file system, no permission), else -1. */
static int not_ours(int err)
{
	return err == EROFS || err == EACCES || err == EPERM ? -2 : -1;
}

int layout_cache_write(const char *dir, uint64_t group, uint64_t key, const void *data,
                       size_t n_bytes, struct team *team, char *path_out, size_t n_path, char *why,
                       size_t n_why)
{
	char path[4096], tmp[4200], header[LAYOUT_HEADER];
	struct layout_header h = {
	    LAYOUT_MAGIC, LAYOUT_FORMAT, LAYOUT_HEADER, group, key, n_bytes, 0};
	file_name(path, sizeof(path), dir, group, key);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (make_dirs(dir) != 0) {
		snprintf(why, n_why, "cannot create %s: %s", dir, strerror(errno));
		return not_ours(errno);
	}
	if (checksum(data, n_bytes, team, &h.checksum) != 0) {
		snprintf(why, n_why, "out of memory");
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, n_why, "cannot create %s: %s", tmp, strerror(errno));
		return not_ours(errno);
	}
	memset(header, 0, sizeof(header));
	memcpy(header, &h, sizeof(h));
	int bad =
	    write_all(fd, header, sizeof(header)) != 0 || write_aligned(fd, data, n_bytes) != 0;
	int saved = errno;
	if (close(fd) != 0 && !bad)
		bad = 1, saved = errno;
	if (!bad && rename(tmp, path) != 0)
		bad = 1, saved = errno;
	if (bad) {
		unlink(tmp);
		snprintf(why, n_why, "cannot write %s: %s", path, strerror(saved));
		return -1;
	}
	prune_group(dir, group, strrchr(path, '/') + 1);
	snprintf(path_out, n_path, "%s", path);
	return 0;
}

int layout_cache_default_dir(char *out, size_t n_out)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (xdg != NULL && xdg[0] == '/')
		return snprintf(out, n_out, "%s/smolserve", xdg) < (int)n_out ? 0 : -1;
	if (home != NULL && home[0] == '/')
		return snprintf(out, n_out, "%s/.cache/smolserve", home) < (int)n_out ? 0 : -1;
	return -1;
}

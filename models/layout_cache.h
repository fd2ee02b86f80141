/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layout cache: the packed GEMM backend's load-time layout of a
 * model's weights (model.c's pack arena: panels and fused biases), kept in
 * a file so that the next start maps it from the page cache instead of
 * laying the weights out again in fresh memory.
 *
 * A file is named by two 64-bit hashes, <group>-<key>.layout: group names
 * the checkpoint (its path), key everything the layout depends on (the
 * layout format, the kernel, how this build lays out a small made-up
 * layer, each weights file's device, inode, size and modification time,
 * and where each packed tensor, and each tensor checked for NaN/Inf,
 * lies in it). A
 * 4096-byte header (magic, format version, key, data size, checksum of
 * the data) precedes the data, so a stale, truncated or damaged file is
 * never used: it is a miss, and laid out anew. Files are written to a
 * temporary name and renamed, readable only by their owner; writing one
 * deletes the older files of the same group.
 */
#ifndef SMOLSERVE_MODELS_LAYOUT_CACHE_H
#define SMOLSERVE_MODELS_LAYOUT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

struct team;

#define LAYOUT_HASH_INIT 0xcbf29ce484222325ull

/* FNV-1a 64 of p[0, n) continuing from h. */
uint64_t layout_hash(uint64_t h, const void *p, size_t n);

/* Every file of st's identity (device, inode, size, modification time)
 * folded into h. */
uint64_t layout_hash_files(uint64_t h, const struct safetensors *st);

/*
 * Folds where p lies in st (file index, byte offset, dtype; F16/BF16
 * tensors widened at load count as their tensor) into *h. -1 if p is not a
 * tensor of st (then the layout cannot be keyed).
 */
int layout_hash_tensor(uint64_t *h, const struct safetensors *st, const void *p);

/* A layout mapped from the cache. */
struct layout_map {
	void *map; /* the whole file, read-only; NULL if none */
	size_t n_map;
	const void *data; /* map + header: n_bytes of layout, page-aligned */
};

/*
 * Maps <dir>/<group>-<key>.layout if it holds n_bytes of layout for key
 * whose checksum (computed on team, which also faults the pages in) is
 * right. 0 and *out, or -1 with `why` saying why not (no file is not an
 * error: why = "none yet").
 */
int layout_cache_open(const char *dir, uint64_t group, uint64_t key, size_t n_bytes,
                      struct team *team, struct layout_map *out, char *why, size_t n_why);
void layout_map_dispose(struct layout_map *m);

/*
 * Writes data[0, n_bytes) as <dir>/<group>-<key>.layout (creating dir,
 * mode 0700, if missing), then deletes the group's other files. 0 and the
 * file's path in path_out, or with `why` naming the problem -2 if the
 * folder may not be written (read-only file system, permission), -1 for
 * any other failure (no space left, say).
 */
int layout_cache_write(const char *dir, uint64_t group, uint64_t key, const void *data,
                       size_t n_bytes, struct team *team, char *path_out, size_t n_path, char *why,
                       size_t n_why);

/*
 * The default folder: $XDG_CACHE_HOME/smolserve, else $HOME/.cache/
 * smolserve (written into out). -1 if neither variable is set.
 */
int layout_cache_default_dir(char *out, size_t n_out);

#endif

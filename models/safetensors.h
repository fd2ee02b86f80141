/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reader for the safetensors format (an 8-byte little-endian header length,
 * a JSON header of {name: {dtype, shape, data_offsets}} plus an optional
 * "__metadata__", then the raw tensor bytes). The file is mmapped read-only;
 * F32 tensors are used in place, F16 and BF16 are widened to F32 once, on
 * first lookup, into memory owned by the file object. Every offset, shape
 * and size in the header is checked against the file before any byte of
 * data is touched, so a lying or truncated file is an error, never a read
 * out of bounds.
 *
 * A sharded checkpoint (model.safetensors.index.json naming the shard of
 * every tensor, as save_pretrained writes large models) opens as one object
 * too: every shard mmapped, their tensors in one table, looked up by name
 * whatever shard holds them.
 *
 * Build-time object: created and queried by one thread while a model loads,
 * then only read (the returned pointers stay valid until destroy).
 */
#ifndef SMOLSERVE_MODELS_SAFETENSORS_H
#define SMOLSERVE_MODELS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_MAX_DIMS 8

enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_OTHER };

struct st_tensor {
	char *name; /* owned */
	enum st_dtype dtype;
	char dtype_name[12];
	int n_dims;
	int64_t shape[SAFETENSORS_MAX_DIMS];
	int64_t n_elems;
	int file;      /* index into safetensors.files: the shard holding it */
	size_t offset; /* absolute byte offset of data in that file */
	size_t n_bytes;
	float *widened; /* owned F32 copy for F16/BF16, NULL until needed */
	int used;       /* set by safetensors_get: was this tensor looked up */
};

/* One mmapped safetensors file. */
struct st_file {
	char *path; /* owned */
	const uint8_t *map;
	size_t n_map;
	/* the mapped file's identity (layout_cache.h keys on it) */
	uint64_t dev, ino;
	int64_t mtime_s, mtime_ns;
};

struct safetensors {
	char *path;            /* owned: the file, or the index of a sharded checkpoint */
	struct st_file *files; /* (n_files) owned: one, or every shard */
	int n_files;
	struct st_tensor *tensors; /* (n_tensors) owned: every file's, file by file */
	int n_tensors;
};

/*
 * Opens and validates path. 0 or STATUS_EIO (cannot open/read),
 * STATUS_EFORMAT (malformed: err names the file and what is wrong).
 */
int safetensors_open(const char *path, struct safetensors **out, char *err, size_t n_err);

/*
 * Opens a sharded checkpoint: index_path is a model.safetensors.index.json
 * ({"metadata": {...}, "weight_map": {tensor: shard file}}), the shards lie
 * beside it. Every shard is mapped and validated as safetensors_open does;
 * the index must name plain file names, every tensor it lists must be in
 * the shard it names, and no tensor may be in two shards. Tensors a shard
 * holds beyond the index are kept. 0 or STATUS_EIO / STATUS_EFORMAT /
 * STATUS_ENOMEM with err naming the index or the shard.
 */
int safetensors_open_index(const char *index_path, struct safetensors **out, char *err,
                           size_t n_err);

/*
 * The distinct shard file names model.safetensors.index.json at index_path
 * lists, sorted (*shards and each name malloc'd; free with
 * safetensors_free_names). Names are checked as safetensors_open_index
 * checks them. 0 or STATUS_EIO / STATUS_EFORMAT / STATUS_ENOMEM.
 */
int safetensors_index_shards(const char *index_path, char ***shards, int *n_shards, char *err,
                             size_t n_err);
void safetensors_free_names(char **names, int n);

void safetensors_close(struct safetensors *st);

/* The first byte of t's data (t from st's table). */
const uint8_t *safetensors_data(const struct safetensors *st, const struct st_tensor *t);

/* Tensor by exact name, or NULL. */
const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name);

/*
 * Looks up name (tried as given, then with each of the n_prefixes prefixes
 * prepended, e.g. "bert."), checks its shape equals shape[0..n_dims) and
 * stores a pointer to its F32 data in *out. Errors name the file, the
 * tensor, the expected and the found shape:
 *   STATUS_EFORMAT missing tensor / wrong shape / unsupported dtype,
 *   STATUS_ENOMEM widening failed.
 */
int safetensors_get(struct safetensors *st, const char *name, const char *const *prefixes,
                    int n_prefixes, int n_dims, const int64_t *shape, const float **out, char *err,
                    size_t n_err);

#endif

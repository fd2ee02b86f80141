/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sharded checkpoints (see safetensors_open_index in safetensors.h):
 * model.safetensors.index.json maps every tensor name to the shard file
 * holding it. The index is outside input like the shards, so it is checked
 * as strictly: shard names must be plain file names beside the index (no
 * path may climb out of the folder), every listed tensor must really be in
 * the shard named for it, and a tensor found in two shards is an error
 * rather than a silent choice of one.
 */
#include "safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "safetensors-impl.h"
#include "status.h"

#define INDEX_MAX_BYTES (64 << 20)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads and parses the index; its "weight_map" stays borrowed from *root. */
static int load_index(const char *path, json_t **root, const json_t **map, char *err, size_t n_err)
{
	json_error_t jerr;
	struct stat sb;
	FILE *f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &sb) != 0) {
		int e = errno;
		if (f != NULL)
			fclose(f);
		return status_fail(err, n_err, STATUS_EIO, "%s: cannot open: %s", path,
		                   strerror(e));
	}
	if (sb.st_size > INDEX_MAX_BYTES) {
		fclose(f);
		return status_fail(err, n_err, STATUS_EFORMAT, "%s: larger than %d MiB", path,
		                   INDEX_MAX_BYTES >> 20);
	}
	*root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (*root == NULL)
		return status_fail(err, n_err, STATUS_EFORMAT, "%s: line %d: %s", path, jerr.line,
		                   jerr.text);
	*map = json_object_get(*root, "weight_map");
	if (!json_is_object(*root) || !json_is_object(*map) || json_object_size(*map) == 0)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s: expected an object with a non-empty \"weight_map\" object "
		                   "{tensor: shard file}",
		                   path);
	return 0;
}

/* 1 if name is a plain file name: no directory part, not . or .. */
static int plain_file_name(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < 256 && strchr(name, '/') == NULL && strchr(name, '\\') == NULL &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* The distinct shard names of map, sorted, borrowed from map (*names
 * malloc'd). */
static int shard_names(const char *path, const json_t *map, const char ***names, int *n_names,
                       char *err, size_t n_err)
{
	size_t n = json_object_size(map), k = 0;
	const char **v = malloc(n * sizeof(*v));
	const char *key;
	json_t *value;
	if (v == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", path);
	json_object_foreach((json_t *)map, key, value)
	{
		const char *shard = json_string_value(value);
		if (shard == NULL || !plain_file_name(shard)) {
			free(v);
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "%s: weight_map[\"%.200s\"] must be the file name of a "
			                   "shard beside the index",
			                   path, key);
		}
		v[k++] = shard;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
			v[u++] = v[i];
	*names = v;
	*n_names = (int)u;
	return 0;
}

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp((*(const struct st_tensor *const *)a)->name,
	              (*(const struct st_tensor *const *)b)->name);
}

/* The tensor named name in order (n, sorted by name), or NULL. */
static const struct st_tensor *find_sorted(const struct st_tensor **order, int n, const char *name)
{
	int lo = 0, hi = n - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(order[mid]->name, name);
		if (c == 0)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The file name part of path (borrowed). */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* No tensor twice; every weight_map entry where it says. */
static int check_tensors(const struct safetensors *st, const json_t *map, char *err, size_t n_err)
{
	int n = st->n_tensors, rc = 0;
	const struct st_tensor **order = malloc((n ? (size_t)n : 1) * sizeof(*order));
	const char *key;
	json_t *value;
	if (order == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", st->path);
	for (int i = 0; i < n; i++)
		order[i] = &st->tensors[i];
	qsort(order, (size_t)n, sizeof(*order), cmp_tensor);
	for (int i = 1; i < n && rc == 0; i++)
		if (strcmp(order[i - 1]->name, order[i]->name) == 0)
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: tensor \"%s\" is in two shards, %s and %s", st->path,
			                 order[i]->name,
			                 base_name(st->files[order[i - 1]->file].path),
			                 base_name(st->files[order[i]->file].path));
	json_object_foreach((json_t *)map, key, value)
	{
		if (rc != 0)
			break;
		const struct st_tensor *t = find_sorted(order, n, key);
		const char *want = json_string_value(value);
		if (t == NULL)
			rc = status_fail(
			    err, n_err, STATUS_EFORMAT,
			    "%s: weight_map puts tensor \"%s\" in %s, which has no such "
			    "tensor",
			    st->path, key, want);
		else if (strcmp(base_name(st->files[t->file].path), want) != 0)
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: weight_map puts tensor \"%s\" in %s, but it is in %s",
			                 st->path, key, want, base_name(st->files[t->file].path));
	}
	free(order);
	return rc;
}

int safetensors_index_shards(const char *index_path, char ***shards, int *n_shards, char *err,
                             size_t n_err)
{
	json_t *root = NULL;
	const json_t *map = NULL;
	const char **names = NULL;
	int n = 0, rc;
	*shards = NULL;
	*n_shards = 0;
	if ((rc = load_index(index_path, &root, &map, err, n_err)) != 0 ||
	    (rc = shard_names(index_path, map, &names, &n, err, n_err)) != 0)
		goto done;
	char **copy = calloc((size_t)n, sizeof(*copy));
	for (int i = 0; copy != NULL && i < n; i++)
		if ((copy[i] = strdup(names[i])) == NULL) {
			safetensors_free_names(copy, i);
			copy = NULL;
		}
	if (copy == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", index_path);
		goto done;
	}
	*shards = copy;
	*n_shards = n;
done:
	free(names);
	json_decref(root);
	return rc;
}

void safetensors_free_names(char **names, int n)
{
	for (int i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

int safetensors_open_index(const char *index_path, struct safetensors **out, char *err,
                           size_t n_err)
{
	json_t *root = NULL;
	const json_t *map = NULL;
	const char **names = NULL;
	int n_names = 0, rc;
	char shard[4096];

	*out = NULL;
	struct safetensors *st = safetensors_alloc(index_path);
	if (st == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", index_path);
	if ((rc = load_index(index_path, &root, &map, err, n_err)) != 0 ||
	    (rc = shard_names(index_path, map, &names, &n_names, err, n_err)) != 0)
		goto fail;
	const char *slash = strrchr(index_path, '/');
	int n_dir = slash ? (int)(slash - index_path) : 1;
	for (int i = 0; i < n_names; i++) {
		if (snprintf(shard, sizeof(shard), "%.*s/%s", n_dir, slash ? index_path : ".",
		             names[i]) >= (int)sizeof(shard)) {
			rc = status_fail(err, n_err, STATUS_EIO, "%s: shard path too long",
			                 index_path);
			goto fail;
		}
		if ((rc = safetensors_add_file(st, shard, err, n_err)) != 0)
			goto fail;
	}
	if ((rc = check_tensors(st, map, err, n_err)) != 0)
		goto fail;
	free(names);
	json_decref(root);
	*out = st;
	return 0;
fail:
	free(names);
	json_decref(root);
	safetensors_close(st);
	return rc;
}

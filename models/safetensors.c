/* SPDX-License-Identifier: Apache-2.0 */
/*
 * safetensors reader (see safetensors.h). safetensors_open maps the file
 * read-only and checks the whole header (every dtype, shape and
 * data_offsets pair, with overflow-safe arithmetic) against the file size
 * before any tensor byte is read; after that, tensor data is only ever
 * addressed through offsets already proven to lie inside the map. Tensors
 * are kept in header order and looked up by a linear scan: a checkpoint has
 * a few hundred of them and each is looked up once while a model loads.
 */
#include "safetensors.h"

#include "safetensors-impl.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

struct dtype_info {
	const char *name;
	enum st_dtype dtype;
	size_t n_bytes; /* per element */
};

/* Every dtype the format defines; only the first three can be read as F32. */
static const struct dtype_info dtype_infos[] = {
    {"F32", ST_F32, 4},    {"F16", ST_F16, 2},       {"BF16", ST_BF16, 2},     {"F64", ST_OTHER, 8},
    {"I64", ST_OTHER, 8},  {"I32", ST_OTHER, 4},     {"I16", ST_OTHER, 2},     {"I8", ST_OTHER, 1},
    {"U64", ST_OTHER, 8},  {"U32", ST_OTHER, 4},     {"U16", ST_OTHER, 2},     {"U8", ST_OTHER, 1},
    {"BOOL", ST_OTHER, 1}, {"F8_E4M3", ST_OTHER, 1}, {"F8_E5M2", ST_OTHER, 1},
};

static const struct dtype_info *dtype_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(dtype_infos) / sizeof(dtype_infos[0]); i++)
		if (strcmp(dtype_infos[i].name, name) == 0)
			return &dtype_infos[i];
	return NULL;
}

/* "[64, 32]" into buf (truncated if it does not fit). */
static const char *format_shape(char *buf, size_t n_buf, int n_dims, const int64_t *shape)
{
	size_t used = (size_t)snprintf(buf, n_buf, "[");
	for (int i = 0; i < n_dims && used < n_buf; i++)
		used += (size_t)snprintf(buf + used, n_buf - used, "%s%" PRId64, i ? ", " : "",
		                         shape[i]);
	if (used < n_buf)
		snprintf(buf + used, n_buf - used, "]");
	return buf;
}

static uint64_t read_u64_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Fills t->n_dims, t->shape and t->n_elems from the "shape" member of entry.
 * Each dimension must be a non-negative JSON integer; the element count must
 * fit in int64_t.
 */
static int parse_shape(const char *path, struct st_tensor *t, const json_t *entry, char *err,
                       size_t n_err)
{
	const json_t *shape = json_object_get(entry, "shape");
	int rc;

	if (!json_is_array(shape)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": \"shape\" is missing or not an array", path,
		                 t->name);
		goto fail;
	}
	if (json_array_size(shape) > SAFETENSORS_MAX_DIMS) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": shape has %zu dimensions (at most %d)", path,
		                 t->name, json_array_size(shape), SAFETENSORS_MAX_DIMS);
		goto fail;
	}
	t->n_dims = (int)json_array_size(shape);
	int has_zero = 0;
	for (int i = 0; i < t->n_dims; i++) {
		const json_t *d = json_array_get(shape, (size_t)i);
		if (!json_is_integer(d) || json_integer_value(d) < 0) {
			rc = status_fail(
			    err, n_err, STATUS_EFORMAT,
			    "%s: tensor \"%s\": shape[%d] is not a non-negative integer", path,
			    t->name, i);
			goto fail;
		}
		t->shape[i] = (int64_t)json_integer_value(d);
		has_zero |= t->shape[i] == 0;
	}
	/* A zero dimension makes the product 0 however large the others are. */
	t->n_elems = has_zero ? 0 : 1;
	for (int i = 0; i < t->n_dims && !has_zero; i++) {
		if (t->n_elems > INT64_MAX / t->shape[i]) {
			char buf[192];
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: tensor \"%s\": shape %s has too many elements", path,
			                 t->name,
			                 format_shape(buf, sizeof(buf), t->n_dims, t->shape));
			goto fail;
		}
		t->n_elems *= t->shape[i];
	}
	return 0;
fail:
	return rc;
}

/*
 * Fills t->offset and t->n_bytes from "data_offsets" ([begin, end], relative
 * to data_start, the first byte after the header) and checks that the range
 * lies within the n_data bytes of data and holds exactly the shape's bytes.
 */
static int parse_offsets(const char *path, struct st_tensor *t, const json_t *entry,
                         size_t elem_bytes, size_t data_start, size_t n_data, char *err,
                         size_t n_err)
{
	const json_t *offs = json_object_get(entry, "data_offsets");
	const json_t *jb = json_array_get(offs, 0);
	const json_t *je = json_array_get(offs, 1);
	char buf[192];
	int rc;

	if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(jb) ||
	    !json_is_integer(je) || json_integer_value(jb) < 0 || json_integer_value(je) < 0) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": \"data_offsets\" is not an array of 2 "
		                 "non-negative integers",
		                 path, t->name);
		goto fail;
	}
	uint64_t begin = (uint64_t)json_integer_value(jb);
	uint64_t end = (uint64_t)json_integer_value(je);
	if (end < begin) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": data_offsets end %" PRIu64 " < begin %" PRIu64,
		                 path, t->name, end, begin);
		goto fail;
	}
	if (end > n_data) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64
		                 "] reach past the end of the file (%zu bytes of data; truncated?)",
		                 path, t->name, begin, end, n_data);
		goto fail;
	}
	/* n_elems * elem_bytes cannot overflow: it is compared via division. */
	uint64_t span = end - begin;
	if ((uint64_t)t->n_elems != span / elem_bytes || span % elem_bytes != 0) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": data_offsets span %" PRIu64
		                 " bytes, but %s %s needs %" PRId64 " x %zu bytes",
		                 path, t->name, span, t->dtype_name,
		                 format_shape(buf, sizeof(buf), t->n_dims, t->shape), t->n_elems,
		                 elem_bytes);
		goto fail;
	}
	t->offset = data_start + (size_t)begin;
	t->n_bytes = (size_t)span;
	return 0;
fail:
	return rc;
}

/* Validates one header entry {dtype, shape, data_offsets} into t. */
static int parse_tensor(const char *path, struct st_tensor *t, const char *name,
                        const json_t *entry, size_t data_start, size_t n_data, char *err,
                        size_t n_err)
{
	const struct dtype_info *info;
	int rc;

	t->name = strdup(name);
	if (t->name == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (!json_is_object(entry)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": entry is not a JSON object", path, name);
		goto fail;
	}
	const json_t *dtype = json_object_get(entry, "dtype");
	if (!json_is_string(dtype)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": \"dtype\" is missing or not a string", path,
		                 name);
		goto fail;
	}
	info = dtype_lookup(json_string_value(dtype));
	if (info == NULL) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": unknown dtype \"%.32s\"", path, name,
		                 json_string_value(dtype));
		goto fail;
	}
	t->dtype = info->dtype;
	snprintf(t->dtype_name, sizeof(t->dtype_name), "%s", info->name);
	rc = parse_shape(path, t, entry, err, n_err);
	if (rc != 0)
		goto fail;
	rc = parse_offsets(path, t, entry, info->n_bytes, data_start, n_data, err, n_err);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	return rc;
}

/* __metadata__, when present, must be an object of strings. */
static int check_metadata(const char *path, const json_t *meta, char *err, size_t n_err)
{
	const char *key;
	const json_t *value;
	int rc;

	if (!json_is_object(meta)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: \"__metadata__\" is not a JSON object", path);
		goto fail;
	}
	json_object_foreach((json_t *)meta, key, value)
	{
		if (!json_is_string(value)) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: \"__metadata__\" value for \"%s\" is not a string",
			                 path, key);
			goto fail;
		}
	}
	return 0;
fail:
	return rc;
}

/* Parses and validates the header of mapped file fi, appending its tensors
 * to st->tensors. */
static int parse_header(struct safetensors *st, int fi, char *err, size_t n_err)
{
	const struct st_file *f = &st->files[fi];
	json_t *root = NULL;
	json_error_t jerr;
	const char *key;
	json_t *value;
	int rc;

	uint64_t n_header = read_u64_le(f->map);
	if (n_header > f->n_map - 8) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: header length %" PRIu64
		                 " exceeds the %zu bytes that follow it in the file",
		                 f->path, n_header, f->n_map - 8);
		goto fail;
	}
	size_t data_start = 8 + (size_t)n_header;
	size_t n_data = f->n_map - data_start;
	root =
	    json_loadb((const char *)f->map + 8, (size_t)n_header, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: header is not valid JSON: %s (at byte %d of the header)",
		                 f->path, jerr.text, jerr.position);
		goto fail;
	}
	if (!json_is_object(root)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s: header is not a JSON object",
		                 f->path);
		goto fail;
	}
	const json_t *meta = json_object_get(root, "__metadata__");
	if (meta != NULL && (rc = check_metadata(f->path, meta, err, n_err)) != 0)
		goto fail;
	size_t n_entries = json_object_size(root) - (meta != NULL);
	if (n_entries > (size_t)(INT_MAX - st->n_tensors)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s: too many tensors (%zu)", f->path,
		                 n_entries);
		goto fail;
	}
	size_t n_all = (size_t)st->n_tensors + n_entries;
	struct st_tensor *grown = realloc(st->tensors, (n_all ? n_all : 1) * sizeof(*grown));
	if (grown == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", f->path);
		goto fail;
	}
	st->tensors = grown;
	json_object_foreach(root, key, value)
	{
		if (strcmp(key, "__metadata__") == 0)
			continue;
		/* Counted first so that close frees a partly filled entry. */
		struct st_tensor *t = &st->tensors[st->n_tensors++];
		memset(t, 0, sizeof(*t));
		t->file = fi;
		rc = parse_tensor(f->path, t, key, value, data_start, n_data, err, n_err);
		if (rc != 0)
			goto fail;
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return rc;
}

int safetensors_add_file(struct safetensors *st, const char *path, char *err, size_t n_err)
{
	struct stat sb;
	int fd = -1;
	int rc;

	struct st_file *grown = realloc(st->files, (size_t)(st->n_files + 1) * sizeof(*grown));
	if (grown == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", path);
	st->files = grown;
	int fi = st->n_files;
	struct st_file *f = &st->files[fi];
	memset(f, 0, sizeof(*f));
	st->n_files++; /* counted first so that close releases it */
	if ((f->path = strdup(path)) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: cannot open: %s", path,
		                 strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: not a regular file", path);
		goto fail;
	}
	if ((uintmax_t)sb.st_size > SIZE_MAX) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: too large to map", path);
		goto fail;
	}
	if (sb.st_size < 8) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: file is %s (%jd bytes), shorter than the 8-byte header "
		                 "length",
		                 path, sb.st_size == 0 ? "empty" : "truncated",
		                 (intmax_t)sb.st_size);
		goto fail;
	}
	void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: cannot mmap: %s", path,
		                 strerror(errno));
		goto fail;
	}
	f->map = map;
	f->n_map = (size_t)sb.st_size;
	f->dev = (uint64_t)sb.st_dev;
	f->ino = (uint64_t)sb.st_ino;
	f->mtime_s = (int64_t)sb.st_mtim.tv_sec;
	f->mtime_ns = (int64_t)sb.st_mtim.tv_nsec;
	close(fd);
	fd = -1;
	rc = parse_header(st, fi, err, n_err);
	if (rc != 0)
		goto fail;
	/* Only a hint: the weights are about to be read front to back. */
	(void)madvise(map, f->n_map, MADV_WILLNEED);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

struct safetensors *safetensors_alloc(const char *path)
{
	struct safetensors *st = calloc(1, sizeof(*st));
	if (st != NULL && (st->path = strdup(path)) == NULL) {
		free(st);
		st = NULL;
	}
	return st;
}

int safetensors_open(const char *path, struct safetensors **out, char *err, size_t n_err)
{
	int rc;

	*out = NULL;
	struct safetensors *st = safetensors_alloc(path);
	if (st == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", path);
	if ((rc = safetensors_add_file(st, path, err, n_err)) != 0)
		goto fail;
	*out = st;
	return 0;
fail:
	safetensors_close(st);
	return rc;
}

void safetensors_close(struct safetensors *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < st->n_tensors; i++) {
		free(st->tensors[i].name);
		free(st->tensors[i].widened);
	}
	free(st->tensors);
	for (int i = 0; i < st->n_files; i++) {
		if (st->files[i].map != NULL)
			munmap((void *)st->files[i].map, st->files[i].n_map);
		free(st->files[i].path);
	}
	free(st->files);
	free(st->path);
	free(st);
}

const uint8_t *safetensors_data(const struct safetensors *st, const struct st_tensor *t)
{
	return st->files[t->file].map + t->offset;
}

const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
	for (int i = 0; i < st->n_tensors; i++)
		if (strcmp(st->tensors[i].name, name) == 0)
			return &st->tensors[i];
	return NULL;
}

/* name as given, else prefixes[i] + name for the first i that exists. */
static struct st_tensor *find_prefixed(struct safetensors *st, const char *name,
                                       const char *const *prefixes, int n_prefixes)
{
	const struct st_tensor *t = safetensors_find(st, name);
	for (int p = 0; t == NULL && p < n_prefixes; p++) {
		size_t n_prefix = strlen(prefixes[p]);
		for (int i = 0; i < st->n_tensors && t == NULL; i++) {
			const char *tn = st->tensors[i].name;
			if (strncmp(tn, prefixes[p], n_prefix) == 0 &&
			    strcmp(tn + n_prefix, name) == 0)
				t = &st->tensors[i];
		}
	}
	return (struct st_tensor *)t;
}

/* IEEE binary16 to binary32, exact for every value (subnormals, inf, NaN). */
static float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	uint32_t bits;
	float f;

	if (exp == 0) {
		f = (float)mant * 0x1p-24f; /* zero or subnormal: exact */
		return sign ? -f : f;
	}
	if (exp == 0x1f)
		bits = sign | 0x7f800000u | (mant << 13);
	else
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static float bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/*
 * Makes t->widened: an aligned F32 copy of a misaligned F32 tensor, or the
 * F16/BF16 data widened to F32. Data is read byte by byte (little-endian),
 * so the map's alignment does not matter.
 */
static int widen(const struct safetensors *st, struct st_tensor *t, char *err, size_t n_err)
{
	const uint8_t *src = safetensors_data(st, t);
	const char *path = st->files[t->file].path;
	size_t n = (size_t)t->n_elems;
	int rc;

	if ((uint64_t)t->n_elems > SIZE_MAX / sizeof(float)) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "%s: tensor \"%s\" is too large", path,
		                 t->name);
		goto fail;
	}
	t->widened = malloc(n ? n * sizeof(float) : 1);
	if (t->widened == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM,
		                 "%s: tensor \"%s\": out of memory widening %zu elements to F32",
		                 path, t->name, n);
		goto fail;
	}
	if (t->dtype == ST_F32) {
		memcpy(t->widened, src, n * sizeof(float));
	} else {
		for (size_t i = 0; i < n; i++) {
			uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
			t->widened[i] = t->dtype == ST_F16 ? f16_to_f32(h) : bf16_to_f32(h);
		}
	}
	return 0;
fail:
	return rc;
}

int safetensors_get(struct safetensors *st, const char *name, const char *const *prefixes,
                    int n_prefixes, int n_dims, const int64_t *shape, const float **out, char *err,
                    size_t n_err)
{
	char want[192], found[192];
	struct st_tensor *t;
	int rc;

	*out = NULL;
	t = find_prefixed(st, name, prefixes, n_prefixes);
	if (t == NULL) {
		char tried[256] = "";
		size_t used = 0;
		for (int p = 0; p < n_prefixes && used < sizeof(tried); p++) {
			int w = snprintf(tried + used, sizeof(tried) - used, "%s\"%s%s\"",
			                 p ? ", " : " (also tried ", prefixes[p], name);
			used += w > 0 ? (size_t)w : 0;
		}
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s: tensor \"%s\" not found%s%s",
		                 st->path, name, tried, n_prefixes > 0 ? ")" : "");
		goto fail;
	}
	t->used = 1;
	int same = n_dims == t->n_dims;
	for (int i = 0; same && i < n_dims; i++)
		same = shape[i] == t->shape[i];
	if (!same) {
		rc =
		    status_fail(err, n_err, STATUS_EFORMAT,
		                "%s: tensor \"%s\": expected %s, found %s", st->files[t->file].path,
		                t->name, format_shape(want, sizeof(want), n_dims, shape),
		                format_shape(found, sizeof(found), t->n_dims, t->shape));
		goto fail;
	}
	if (t->dtype == ST_OTHER) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: tensor \"%s\": unsupported dtype %s (F32, F16 or BF16 "
		                 "expected)",
		                 st->files[t->file].path, t->name, t->dtype_name);
		goto fail;
	}
	const uint8_t *data = safetensors_data(st, t);
	int in_place = t->dtype == ST_F32 && (uintptr_t)data % _Alignof(float) == 0;
	if (!in_place && t->widened == NULL && (rc = widen(st, t, err, n_err)) != 0)
		goto fail;
	*out = in_place ? (const float *)(const void *)data : t->widened;
	return 0;
fail:
	return rc;
}

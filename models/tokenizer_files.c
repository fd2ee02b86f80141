/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The files of a model folder as the tokenizer loaders read them: whole
 * files, optional JSON objects, vocab.txt and vocab.json (and BPE built
 * from vocab.json + merges.txt: tokenizer_load.h). Every reader checks what
 * it reads and says which file and line is wrong.
 */
#include "tokenizer_files.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bpe.h"
#include "status.h"
#include "tokenizer_json.h"
#include "tokenizer_load.h"
#include "wordpiece.h"

static int path_join(char *buf, size_t n, const char *dir, const char *name)
{
	int k = snprintf(buf, n, "%s/%s", dir, name);
	return k < 0 || (size_t)k >= n ? STATUS_EINVAL : 0;
}

int tok_file_exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	return path_join(path, sizeof(path), dir, name) == 0 && stat(path, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

/* Reads all of path into *out (malloc'd, NUL-terminated). */
static int read_all(const char *path, char **out, size_t *n_out, char *err, size_t n_err)
{
	int rc = 0;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		rc = status_fail(err, n_err, errno == ENOMEM ? STATUS_ENOMEM : STATUS_EIO,
		                 "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	for (;;) {
		if (cap - n < 65536) {
			size_t new_cap = cap ? cap * 2 : 65536;
			char *p = realloc(buf, new_cap + 1);
			if (p == NULL) {
				rc = status_fail(err, n_err, STATUS_ENOMEM,
				                 "out of memory reading %s", path);
				goto fail;
			}
			buf = p;
			cap = new_cap;
		}
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		rc = status_fail(err, n_err, STATUS_EIO, "cannot read %s", path);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*n_out = n;
	return 0;

fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

/* See tokenizer_files.h. */
int tok_json_read_opt(const char *dir, const char *name, json_t **out, char *err, size_t n_err)
{
	char path[4096];
	char *buf = NULL;
	size_t n = 0;
	json_error_t jerr;
	int rc = 0;

	*out = NULL;
	if (!tok_file_exists(dir, name))
		return 0;
	if (path_join(path, sizeof(path), dir, name) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "path too long: %s/%s", dir, name);
	if ((rc = read_all(path, &buf, &n, err, n_err)) != 0)
		goto fail;
	/* INT_AS_REAL: model_max_length is often 1000000000000000019884624838656. */
	memset(&jerr, 0, sizeof(jerr));
	*out = json_loadb(buf, n, JSON_DECODE_INT_AS_REAL, &jerr);
	if (*out == NULL) { /* jansson leaves the text empty for some failed mallocs */
		int oom = json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0];
		rc =
		    status_fail(err, n_err, oom ? STATUS_ENOMEM : STATUS_EFORMAT, "%s: line %d: %s",
		                name, jerr.line, oom ? "out of memory" : jerr.text);
		goto fail;
	}
	if (!json_is_object(*out)) {
		rc =
		    status_fail(err, n_err, STATUS_EFORMAT, "%s: top level is not an object", name);
		goto fail;
	}
	free(buf);
	return 0;

fail:
	json_decref(*out);
	*out = NULL;
	free(buf);
	return rc;
}

/* See tokenizer_files.h. */
int tok_read_vocab_txt(const char *dir, struct vocab *v, char *err, size_t n_err)
{
	char path[4096];
	char *buf = NULL;
	size_t n = 0, i = 0;
	int rc = 0, line = 1;

	if (path_join(path, sizeof(path), dir, "vocab.txt") != 0) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "path too long: %s", dir);
		goto fail;
	}
	if ((rc = read_all(path, &buf, &n, err, n_err)) != 0)
		goto fail;
	while (i < n) {
		size_t j = i;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (!utf8_valid(buf + i, j - i) || memchr(buf + i, '\0', j - i) != NULL) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "vocab.txt: line %d is not valid UTF-8 text", line);
			goto fail;
		}
		if ((rc = vocab_add(v, buf + i, j - i)) != 0) {
			rc = status_fail(err, n_err, rc, "vocab.txt: line %d: %s", line,
			                 status_str(rc));
			goto fail;
		}
		if (j + 1 < n && buf[j] == '\r' && buf[j + 1] == '\n')
			j++;
		i = j + 1;
		line++;
	}
	if (v->n_tokens == 0) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "vocab.txt is empty");
		goto fail;
	}
	free(buf);
	return 0;

fail:
	free(buf);
	vocab_dispose(v);
	return rc;
}

/* See tokenizer_files.h. */
int tok_read_file(const char *dir, const char *name, char **buf, size_t *n, char *err, size_t n_err)
{
	char path[4096];
	if (path_join(path, sizeof(path), dir, name) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "path too long: %s/%s", dir, name);
	return read_all(path, buf, n, err, n_err);
}

/* See tokenizer_load.h. */
int vocab_from_object(const json_t *obj, struct vocab *v, const char *file, char *err, size_t n_err)
{
	const char **by_id = NULL, *key;
	json_t *val;
	int rc = 0;
	size_t count = json_object_size(obj);

	if (!json_is_object(obj) || count == 0 || count >= INT32_MAX / 2) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: want a non-empty object of token -> id", file);
		goto fail;
	}
	if ((by_id = calloc(count, sizeof(*by_id))) == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory reading %s", file);
		goto fail;
	}
	json_object_foreach((json_t *)obj, key, val)
	{
		json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
		if (id < 0 || (size_t)id >= count || by_id[id] != NULL) {
			rc =
			    status_fail(err, n_err, STATUS_EFORMAT,
			                "%s: \"%.64s\": ids must be the integers 0..%zu, each once",
			                file, key, count - 1);
			goto fail;
		}
		by_id[id] = key;
	}
	for (size_t id = 0; id < count; id++) {
		if ((rc = vocab_add(v, by_id[id], strlen(by_id[id]))) != 0) {
			rc =
			    status_fail(err, n_err, rc, "%s: id %zu: %s", file, id, status_str(rc));
			goto fail;
		}
	}
	free(by_id);
	return 0;

fail:
	free(by_id);
	vocab_dispose(v);
	return rc;
}

/* vocab.json: one object token -> id whose ids are exactly 0..n-1 (what
 * save_pretrained writes). The tokens go into v in id order. */
int vocab_from_json(const char *text, size_t n, struct vocab *v, char *err, size_t n_err)
{
	json_error_t jerr = {0};
	json_t *root = json_loadb(text, n, 0, &jerr);
	int rc;

	if (root == NULL) { /* jansson leaves the text empty for some failed mallocs */
		int oom = json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0];
		vocab_dispose(v);
		return status_fail(err, n_err, oom ? STATUS_ENOMEM : STATUS_EFORMAT,
		                   "vocab.json: line %d: %s", jerr.line,
		                   oom ? "out of memory" : jerr.text);
	}
	rc = vocab_from_object(root, v, "vocab.json", err, n_err);
	json_decref(root);
	return rc;
}

int bpe_create_from_json(const char *vocab_json, size_t n_vocab_json, const char *merges,
                         size_t n_merges, const struct bpe_opts *opts, struct tokenizer **out,
                         char *err, size_t n_err)
{
	struct vocab v = {0};
	int rc = vocab_from_json(vocab_json, n_vocab_json, &v, err, n_err);
	if (rc != 0)
		return rc;
	return bpe_create(&v, merges, n_merges, opts, out, err, n_err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What tokenizer_json.c (the model, added tokens, the whole file) and
 * tokenizer_json_parts.c (normalizers, pre-tokenizers, post-processors,
 * decoders) share: the reading state and its typed-field readers. Every
 * reader returns 0 or a negative status with "tokenizer.json: <where>:
 * <what>" in t->err.
 */
#ifndef SMOLSERVE_MODELS_TOKENIZER_JSON_IMPL_H
#define SMOLSERVE_MODELS_TOKENIZER_JSON_IMPL_H

#include <jansson.h>

#include "pipeline.h"

#define MAX_COMPONENTS 256 /* per kind, after flattening Sequences */
#define MAX_NESTING    8   /* Sequences inside Sequences */

/* Everything allocated while reading; freed together. */
struct tj {
	struct norm_cfg norms[MAX_COMPONENTS];
	struct pretok_cfg pretoks[MAX_COMPONENTS];
	struct post_cfg posts[MAX_COMPONENTS];
	struct decoder_cfg decoders[MAX_COMPONENTS];
	size_t n_norms, n_pretoks, n_posts, n_decoders;
	struct added_cfg *added;
	struct merge_pair *merges;
	char *merge_text; /* "a b" merges, split in place */
	double *scores;
	struct vocab vocab;
	void **blocks; /* other allocations (charsmaps, templates) */
	size_t n_blocks;
	char *err;
	size_t n_err;
};

/* n zeroed bytes freed with t, or NULL. */
void *tj_alloc(struct tj *t, size_t n);

/* STATUS_EFORMAT, STATUS_ENOMEM, STATUS_EUNSUPPORTED with their text. */
int tj_bad(struct tj *t, const char *where, const char *what);
int tj_nomem(struct tj *t);
int tj_unsupported(struct tj *t, const char *where, const char *type);

/* Fields of o: a boolean (def when absent or null); a string without NUL
 * (NULL when absent or null, unless required); a non-negative integer up
 * to max (def when absent). Strings are borrowed from o. */
int tj_bool(struct tj *t, const json_t *o, const char *key, int def, int *out, const char *where);
int tj_str(struct tj *t, const json_t *o, const char *key, int required, const char **out,
           const char *where);
int tj_int(struct tj *t, const json_t *o, const char *key, json_int_t def, json_int_t max,
           json_int_t *out, const char *where);

/* o's "type" string, or NULL. */
const char *tj_type(const json_t *o);

/* One component (a Sequence flattened into its parts) appended to t. */
int tj_read_normalizer(struct tj *t, const json_t *o, int depth);
int tj_read_pretok(struct tj *t, const json_t *o, int depth);
int tj_read_post(struct tj *t, const json_t *o, int depth);
int tj_read_decoder(struct tj *t, const json_t *o, int depth);

#endif

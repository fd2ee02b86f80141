/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer.json's post-processors (Hugging Face tokenizers
 * src/processors/): where the special tokens go and which type ids the
 * sequences get. BertProcessing and RobertaProcessing are fixed templates,
 * TemplateProcessing any template; Roberta and ByteLevel also trim the
 * offsets of tokens that begin or end with spaces (process_offsets). A
 * Sequence is flattened by the loader; at most one of its steps may lay out
 * special tokens (two would need a template over a template's output,
 * which Hugging Face itself does not define).
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-impl.h"
#include "status.h"

/* The special_tokens entry a piece names, or NULL. */
static const struct template_special *special_of(const struct post_cfg *cfg,
                                                 const struct template_piece *piece)
{
	for (size_t k = 0; k < cfg->n_specials && piece->special != NULL; k++)
		if (strcmp(cfg->specials[k].name, piece->special) == 0)
			return &cfg->specials[k];
	return NULL;
}

/* The ids every special piece of the templates lays out, summed, into
 * *n (capped at PL_MAX_TEMPLATE_IDS + 1). */
static int count_template_ids(const struct post_cfg *cfg, size_t *n, char *err, size_t n_err)
{
	*n = 0;
	for (int pair = 0; pair < 2; pair++) {
		const struct template_piece *v = pair ? cfg->pair : cfg->single;
		size_t k = pair ? cfg->n_pair : cfg->n_single;
		for (size_t i = 0; i < k; i++) {
			const struct template_special *sp = special_of(cfg, &v[i]);
			if (v[i].is_sequence)
				continue;
			if (sp == NULL)
				return status_fail(err, n_err, STATUS_EFORMAT,
				                   "TemplateProcessing: special token \"%.64s\" is "
				                   "not in special_tokens",
				                   v[i].special ? v[i].special : "(null)");
			*n += sp->n_ids < PL_MAX_TEMPLATE_IDS ? sp->n_ids : PL_MAX_TEMPLATE_IDS;
			if (*n > PL_MAX_TEMPLATE_IDS)
				return status_fail(err, n_err, STATUS_EFORMAT,
				                   "TemplateProcessing: more than %d special token "
				                   "ids in a template",
				                   PL_MAX_TEMPLATE_IDS);
		}
	}
	return 0;
}

/* A template from pieces (checked by count_template_ids); the special
 * tokens' ids copied into pool. */
static int build_template(struct pl_post *p, const struct post_cfg *cfg,
                          const struct template_piece *src, size_t n, struct pl_piece **out,
                          size_t *n_out, size_t *pool_used, char *err, size_t n_err)
{
	if ((*out = calloc(n ? n : 1, sizeof(**out))) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		struct pl_piece *d = &(*out)[i];
		d->is_sequence = src[i].is_sequence;
		d->seq = src[i].seq;
		d->type_id = src[i].type_id;
		if (d->is_sequence)
			continue;
		const struct template_special *sp = special_of(cfg, &src[i]);
		d->ids = p->pool + *pool_used;
		d->n_ids = sp->n_ids;
		memcpy(p->pool + *pool_used, sp->ids, sp->n_ids * sizeof(int32_t));
		*pool_used += sp->n_ids;
	}
	return 0;
}

/* The pieces of a post_cfg as a template (Bert and Roberta are fixed). */
int pl_post_build(struct pl_post *p, const struct post_cfg *cfg, char *err, size_t n_err)
{
	struct template_piece single[3], pair[6];
	struct template_special sp[2] = {{"cls", &cfg->cls_id, 1}, {"sep", &cfg->sep_id, 1}};
	struct post_cfg fixed = *cfg;
	size_t pool = 0, used = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	p->kind = cfg->kind;
	p->add_prefix_space = cfg->add_prefix_space;
	p->trim = (cfg->kind == POST_ROBERTA || cfg->kind == POST_BYTE_LEVEL) && cfg->trim_offsets;
	if (cfg->kind == POST_BYTE_LEVEL)
		return 0;
	if (cfg->kind == POST_BERT || cfg->kind == POST_ROBERTA) {
		int r = cfg->kind == POST_ROBERTA;
		single[0] = (struct template_piece){0, 0, "cls", 0};
		single[1] = (struct template_piece){1, 0, NULL, 0};
		single[2] = (struct template_piece){0, 0, "sep", 0};
		memcpy(pair, single, sizeof(single));
		size_t k = 3;
		if (r)
			pair[k++] = (struct template_piece){0, 0, "sep", 0};
		pair[k++] = (struct template_piece){1, 1, NULL, r ? 0 : 1};
		pair[k++] = (struct template_piece){0, 0, "sep", r ? 0 : 1};
		fixed.single = single;
		fixed.n_single = 3;
		fixed.pair = pair;
		fixed.n_pair = k;
		fixed.specials = sp;
		fixed.n_specials = 2;
		cfg = &fixed;
	}
	if ((rc = count_template_ids(cfg, &pool, err, n_err)) != 0)
		return rc;
	if ((p->pool = malloc((pool ? pool : 1) * sizeof(int32_t))) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	if ((rc = build_template(p, cfg, cfg->single, cfg->n_single, &p->single, &p->n_single,
	                         &used, err, n_err)) != 0 ||
	    (rc = build_template(p, cfg, cfg->pair, cfg->n_pair, &p->pair, &p->n_pair, &used, err,
	                         n_err)) != 0)
		return rc;
	return 0;
}

void pl_post_dispose(struct pl_post *p)
{
	free(p->single);
	free(p->pair);
	free(p->pool);
	memset(p, 0, sizeof(*p));
}

int32_t pl_post_added(const struct pipeline *p, int is_pair)
{
	int32_t n = 0;
	if (p->structure < 0)
		return 0;
	const struct pl_post *s = &p->posts[p->structure];
	const struct pl_piece *v = is_pair ? s->pair : s->single;
	size_t k = is_pair ? s->n_pair : s->n_single;
	for (size_t i = 0; i < k; i++)
		n += v[i].is_sequence ? 0 : (int32_t)v[i].n_ids;
	return n;
}

/* process_offsets (byte_level.rs). The library trims offsets counted in
 * characters, so lead/trail (a token's leading/trailing 'Ġ' or whitespace
 * characters) move the byte offsets by as many characters of the text. */
void pl_post_trim(struct pl_tokens *s, int add_prefix_space, const char *text, size_t n_text)
{
	for (int32_t i = 0; i < s->n; i++) {
		int32_t lead = s->lead[i], trail = s->trail[i];
		size_t a = (size_t)s->starts[i], b = (size_t)s->stops[i], len;
		if (b > n_text || a > b)
			continue; /* offsets the model made up: left alone */
		if (lead > 0) {
			int first = i == 0 || a == 0;
			if (first && add_prefix_space && lead == 1)
				lead = 0;
			for (int32_t k = 0; k < lead && a < b; k++) {
				utf8_cp(text + a, n_text - a, &len);
				a += len;
			}
		}
		if (trail > 0) {
			size_t z = b;
			int32_t k = 0;
			for (; k < trail && z > 0; k++) /* are there trail characters before b? */
				do
					z--;
				while (z > 0 && ((uint8_t)text[z] & 0xc0) == 0x80);
			if (k == trail)
				b = z > a ? z : a;
		}
		s->starts[i] = (int32_t)a;
		s->stops[i] = (int32_t)b;
	}
}

static void put(struct encoding *out, int32_t id, int32_t type, int32_t start, int32_t stop,
                int seq, int special)
{
	int32_t k = out->n++;
	out->ids[k] = id;
	out->type_ids[k] = type;
	out->starts[k] = start;
	out->stops[k] = stop;
	out->seq[k] = (int8_t)seq;
	out->special[k] = (uint8_t)special;
}

int pl_post_apply(const struct pipeline *p, struct pl_tokens *seq, int has_pair, int add_special,
                  struct encoding *out)
{
	static const struct pl_piece def_single[] = {{1, 0, 0, NULL, 0}};
	static const struct pl_piece def_pair[] = {{1, 0, 0, NULL, 0}, {1, 1, 1, NULL, 0}};
	const struct pl_piece *v = has_pair ? def_pair : def_single;
	size_t n = has_pair ? 2 : 1;
	int64_t total = 0;

	if (p->structure >= 0) {
		const struct pl_post *s = &p->posts[p->structure];
		v = has_pair ? s->pair : s->single;
		n = has_pair ? s->n_pair : s->n_single;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].is_sequence)
			total += v[i].seq == 0 || has_pair ? seq[v[i].seq].n : 0;
		else if (add_special)
			total += (int64_t)v[i].n_ids;
	}
	if (total > INT32_MAX / 2 || encoding_reserve(out, (int32_t)total) != 0)
		return STATUS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].is_sequence) {
			for (size_t k = 0; add_special && k < v[i].n_ids; k++)
				put(out, v[i].ids[k], v[i].type_id, -1, -1, -1, 1);
			continue;
		}
		if (v[i].seq == 1 && !has_pair)
			continue;
		const struct pl_tokens *s = &seq[v[i].seq];
		for (int32_t k = 0; k < s->n; k++)
			put(out, s->ids[k], v[i].type_id, s->starts[k], s->stops[k], v[i].seq, 0);
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What runs after the encoder: pooling (first token or attention-mask-aware
 * mean, optional L2 normalisation, as sentence-transformers' Pooling and
 * Normalize modules), the BERT pooler, and classification heads applied to
 * the first token (sequence classification) or to every token (token
 * classification). All on a worker's preallocated model_ctx.
 */
#include <math.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"
#include "model.h"
#include "status.h"

static int32_t head_width(const struct model *m)
{
	int32_t w = m->enc.hidden;
	for (int i = 0; i < m->n_head_layers; i++)
		if (m->head_layers[i].d.n_out > w)
			w = m->head_layers[i].d.n_out;
	return w;
}

int model_ctx_init(struct model_ctx *c, const struct model *m, int32_t max_tokens)
{
	memset(c, 0, sizeof(*c));
	int rc = encoder_scratch_init(&c->enc, &m->enc, max_tokens, m->max_input_length);
	if (rc != 0)
		return rc;
	size_t n = (size_t)max_tokens * (size_t)head_width(m) * sizeof(float);
	if (arena_init_lazy(&c->arena, 2 * arena_size_of(n)) != 0) {
		encoder_scratch_dispose(&c->enc);
		return STATUS_ENOMEM;
	}
	c->tmp_a = arena_alloc(&c->arena, n);
	c->tmp_b = arena_alloc(&c->arena, n);
	c->max_tokens = max_tokens;
	return 0;
}

size_t model_ctx_resident(const struct model_ctx *c)
{
	return arena_resident(&c->enc.arena) + arena_resident(&c->arena);
}

void model_ctx_dispose(struct model_ctx *c)
{
	encoder_scratch_dispose(&c->enc);
	arena_dispose(&c->arena);
	memset(c, 0, sizeof(*c));
}

int model_forward(const struct model *m, struct model_ctx *c, const struct packed_batch *b,
                  char *err, size_t n_err)
{
	return encoder_forward(&m->enc, &c->enc, b, NULL, err, n_err);
}

struct pool_job {
	const struct model *m;
	const struct model_ctx *c;
	const struct packed_batch *b;
	enum pooling pooling;
	int normalize;
	float *out;
};

/* Sequences [q0, q1) of a pool_job. */
static void pool_part(void *arg, int i, int n)
{
	const struct pool_job *j = arg;
	size_t h = (size_t)j->m->enc.hidden;
	long q0, q1;
	team_split(j->b->n_seqs, 1, i, n, &q0, &q1);
	for (long q = q0; q < q1; q++) {
		const float *first = j->c->enc.x + (size_t)j->b->seq_start[q] * h;
		float *o = j->out + (size_t)q * h;
		if (j->pooling == POOLING_CLS) {
			memcpy(o, first, h * sizeof(float));
		} else {
			int32_t len = j->b->seq_start[q + 1] - j->b->seq_start[q];
			for (size_t i = 0; i < h; i++)
				o[i] = 0.0f;
			for (int32_t t = 0; t < len; t++)
				for (size_t i = 0; i < h; i++)
					o[i] += first[(size_t)t * h + i];
			for (size_t i = 0; i < h; i++)
				o[i] /= (float)len;
		}
		if (j->normalize)
			l2_normalize(o, o, h);
	}
}

void model_pool(const struct model *m, const struct model_ctx *c, const struct packed_batch *b,
                enum pooling pooling, int normalize, float *out)
{
	struct pool_job j = {m, c, b, pooling, normalize, out};
	team_run(team_for(c->enc.team, b->n_tokens, 256), pool_part, &j); /* small: no wake-ups */
}

/* Gathers the first token of every sequence into dst (n_seqs, hidden). */
static void gather_first(const struct model *m, const struct model_ctx *c,
                         const struct packed_batch *b, float *dst)
{
	size_t h = (size_t)m->enc.hidden;
	for (int32_t q = 0; q < b->n_seqs; q++)
		memcpy(dst + (size_t)q * h, c->enc.x + (size_t)b->seq_start[q] * h,
		       h * sizeof(float));
}

static void apply_layer(const struct model_ctx *c, const struct head_layer *hl, float *y,
                        const float *x, size_t rows)
{
	struct dense_epilogue ep = {hl->act, NULL, 0, NULL};
	dense_forward(c->enc.team, &hl->d, y, (size_t)hl->d.n_out, x, (size_t)hl->d.n_in, rows,
	              &ep);
	if (hl->norm.gamma != NULL)
		norm_rows_team(c->enc.team, y, NULL, &hl->norm, rows, (size_t)hl->d.n_out);
}

void model_pooler_output(const struct model *m, struct model_ctx *c, const struct packed_batch *b,
                         float *out)
{
	gather_first(m, c, b, c->tmp_a);
	apply_layer(c, &m->pooler, out, c->tmp_a, (size_t)b->n_seqs);
}

void model_logits(const struct model *m, struct model_ctx *c, const struct packed_batch *b,
                  float *logits)
{
	size_t rows;
	const float *x;
	if (m->head == HEAD_TOKCLS) {
		rows = (size_t)b->n_tokens;
		x = c->enc.x;
	} else {
		rows = (size_t)b->n_seqs;
		if (m->head_pooling == POOLING_MEAN)
			model_pool(m, c, b, POOLING_MEAN, 0, c->tmp_a);
		else
			gather_first(m, c, b, c->tmp_a);
		x = c->tmp_a;
	}
	float *bufs[2] = {c->tmp_b, c->tmp_a};
	for (int i = 0; i < m->n_head_layers; i++) {
		float *y = i == m->n_head_layers - 1 ? logits : bufs[i % 2];
		apply_layer(c, &m->head_layers[i], y, x, rows);
		x = y;
	}
}

void model_scores(const struct model *m, float *row)
{
	int32_t n = m->n_labels;
	if (m->cfg.problem_type == PROBLEM_REGRESSION)
		return;
	if (m->cfg.problem_type == PROBLEM_MULTI_LABEL || n == 1) {
		sigmoid(row, row, (size_t)n);
		return;
	}
	softmax_rows(row, 1.0f, 1, (size_t)n);
}

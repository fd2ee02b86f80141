/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The work a batch does on a worker (see engine.h): pack, forward once,
 * then hand each request its rows of the pooled output, hidden states or
 * classification scores.
 */
#include "engine.h"

#include <string.h>

#include "status.h"

int engine_ctx_init(struct engine_ctx *c, const struct model *m, int32_t max_tokens)
{
	memset(c, 0, sizeof(*c));
	int rc = model_ctx_init(&c->mc, m, max_tokens);
	if (rc != 0)
		return rc;
	size_t t = (size_t)max_tokens, h = (size_t)m->enc.hidden;
	size_t labels = (size_t)(m->n_labels > 0 ? m->n_labels : 1);
	size_t bytes =
	    arena_size_of(t * sizeof(int32_t)) * 2 + arena_size_of((t + 1) * sizeof(int32_t)) +
	    arena_size_of(t * h * sizeof(float)) + arena_size_of(t * labels * sizeof(float));
	if (arena_init_lazy(&c->arena, bytes) != 0) {
		model_ctx_dispose(&c->mc);
		return STATUS_ENOMEM;
	}
	c->ids = arena_alloc(&c->arena, t * sizeof(int32_t));
	c->type_ids = arena_alloc(&c->arena, t * sizeof(int32_t));
	c->seq_start = arena_alloc(&c->arena, (t + 1) * sizeof(int32_t));
	c->pooled = arena_alloc(&c->arena, t * h * sizeof(float));
	c->logits = arena_alloc(&c->arena, t * labels * sizeof(float));
	c->max_tokens = max_tokens;
	return 0;
}

size_t engine_ctx_resident(const struct engine_ctx *c)
{
	return model_ctx_resident(&c->mc) + arena_resident(&c->arena);
}

void engine_ctx_dispose(struct engine_ctx *c)
{
	model_ctx_dispose(&c->mc);
	arena_dispose(&c->arena);
	memset(c, 0, sizeof(*c));
}

/* Packs the inputs of every model-bound request; returns sequences. */
static int32_t pack(struct engine_ctx *c, struct request *const *reqs, int n_reqs,
                    struct packed_batch *b)
{
	int32_t n_seqs = 0, n_tokens = 0;
	c->seq_start[0] = 0;
	for (int r = 0; r < n_reqs; r++) {
		const struct request *q = reqs[r];
		if (route_work(q->route) == WORK_NONE)
			continue;
		for (int32_t i = 0; i < q->n_inputs; i++) {
			const struct encoding *e = &q->inputs[i];
			memcpy(c->ids + n_tokens, e->ids, (size_t)e->n * sizeof(int32_t));
			memcpy(c->type_ids + n_tokens, e->type_ids, (size_t)e->n * sizeof(int32_t));
			n_tokens += e->n;
			c->seq_start[++n_seqs] = n_tokens;
		}
	}
	b->n_seqs = n_seqs;
	b->n_tokens = n_tokens;
	b->ids = c->ids;
	b->type_ids = c->type_ids;
	b->seq_start = c->seq_start;
	return n_seqs;
}

static int32_t batch_tokens(struct request *const *reqs, int n_reqs)
{
	int64_t n = 0;
	for (int r = 0; r < n_reqs; r++)
		if (route_work(reqs[r]->route) != WORK_NONE)
			for (int32_t i = 0; i < reqs[r]->n_inputs; i++)
				n += reqs[r]->inputs[i].n;
	return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/*
 * Mean pooling of sequence seq without its first skip tokens, as
 * sentence-transformers pools a text whose prompt it was told to leave out
 * (include_prompt false): the prompt's tokens get attention mask 0. Written
 * over that sequence's row of c->pooled, which it returns; a sequence with
 * nothing left pools to zeros, as sentence-transformers' clamped division.
 */
static const float *pool_mean_from(const struct model *m, struct engine_ctx *c,
                                   const struct packed_batch *b, int32_t seq, int32_t skip)
{
	size_t h = (size_t)m->enc.hidden;
	float *o = c->pooled + (size_t)seq * h;
	int32_t from = b->seq_start[seq] + skip, to = b->seq_start[seq + 1];
	memset(o, 0, h * sizeof(float));
	for (int32_t t = from; t < to; t++)
		for (size_t k = 0; k < h; k++)
			o[k] += c->mc.enc.x[(size_t)t * h + k];
	for (size_t k = 0; to > from && k < h; k++)
		o[k] /= (float)(to - from);
	return o;
}

int engine_run(const struct model *m, struct engine_ctx *c, struct request *const *reqs, int n_reqs,
               char *err, size_t n_err)
{
	struct packed_batch b;
	int32_t total = batch_tokens(reqs, n_reqs);
	if (total > c->max_tokens)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "batch of %d tokens exceeds the worker's %d", (int)total,
		                   (int)c->max_tokens);
	if (pack(c, reqs, n_reqs, &b) == 0)
		return 0;
	int rc = model_forward(m, &c->mc, &b, err, n_err);
	if (rc != 0)
		return rc;

	int need_pool = 0, need_logits = 0;
	for (int r = 0; r < n_reqs; r++) {
		need_pool |= route_work(reqs[r]->route) == WORK_POOLED;
		need_logits |= route_work(reqs[r]->route) == WORK_CLASSIFY ||
		               route_work(reqs[r]->route) == WORK_TOKEN_CLASSIFY;
	}
	if (need_pool)
		model_pool(m, &c->mc, &b, m->pooling, 0, c->pooled);
	if (need_logits && m->head != HEAD_NONE) /* per sequence or per token */
		model_logits(m, &c->mc, &b, c->logits);

	size_t h = (size_t)m->enc.hidden, nl = (size_t)m->n_labels;
	int32_t seq = 0;
	for (int r = 0; r < n_reqs; r++) {
		struct request *q = reqs[r];
		enum route_work work = route_work(q->route);
		size_t off = 0; /* WORK_TOKENS, WORK_TOKEN_CLASSIFY: rows written so far */
		for (int32_t i = 0; work != WORK_NONE && i < q->n_inputs; i++, seq++) {
			switch (work) {
			case WORK_POOLED: {
				float *dst = q->out + (size_t)i * h;
				const float *src = c->pooled + (size_t)seq * h;
				if (q->pool_skip != NULL && q->pool_skip[i] > 0)
					src = pool_mean_from(m, c, &b, seq, q->pool_skip[i]);
				if (q->normalize)
					l2_normalize(dst, src, h);
				else
					memcpy(dst, src, h * sizeof(float));
				break;
			}
			case WORK_TOKENS: {
				size_t rows = (size_t)q->inputs[i].n;
				memcpy(q->out + off * h, c->mc.enc.x + (size_t)b.seq_start[seq] * h,
				       rows * h * sizeof(float));
				off += rows;
				break;
			}
			case WORK_TOKEN_CLASSIFY: {
				size_t rows = (size_t)q->inputs[i].n;
				memcpy(q->out + off * nl, c->logits + (size_t)b.seq_start[seq] * nl,
				       rows * nl * sizeof(float));
				off += rows;
				break;
			}
			case WORK_CLASSIFY: {
				float *dst = q->out + (size_t)i * nl;
				memcpy(dst, c->logits + (size_t)seq * nl, nl * sizeof(float));
				if (!q->raw_scores)
					model_scores(m, dst);
				break;
			}
			default:
				break;
			}
		}
	}
	return 0;
}

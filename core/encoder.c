/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared encoder forward pass (see encoder.h). Mirrors Hugging Face's
 * BertEmbeddings + BertEncoder (modeling_bert.py) and DistilBERT's
 * Embeddings + Transformer (modeling_distilbert.py), which compute the same
 * function: post-LayerNorm layers, softmax(q k^T / sqrt(d)) v attention.
 * Batches are packed, so attention runs per sequence and no mask is needed.
 */
#include "encoder.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "deberta.h"
#include "encoder-impl.h"
#include "gemm.h"
#include "modernbert.h"
#include "status.h"
#include "team.h"

const char *const ENCODER_STAGE_NAMES[N_STAGES] = {"embed",    "qkv", "attention",
                                                   "out_proj", "ffn", "bottleneck"};

/* Row-wise stages of fewer rows than this run on the calling thread alone:
 * waking the team would cost as much as the work. */
#define SERIAL_TOKENS 64

/* Rows of every buffer faulted in when a scratch is made: small batches
 * then take no page faults, larger ones fault their pages in once. */
#define WARM_TOKENS 128

enum slot {
	SLOT_X,
	SLOT_BIG,
	SLOT_EMB,
	SLOT_ATTN,
	SLOT_Q, /* MobileBERT's own buffers from here on */
	SLOT_K,
	SLOT_V,
	SLOT_CTX,
	SLOT_T1,
	SLOT_T2,
	SLOT_T3,
	SLOT_FAM, /* DeBERTa's or ModernBERT's own (deberta.c, modernbert.c) */
	N_SLOTS
};

/* Floats per token of each buffer (SLOT_ATTN: per team thread, not per
 * token); 0 = not needed by this encoder. */
static void slot_widths(const struct encoder *e, int32_t max_seq_len, int n_threads,
                        size_t width[N_SLOTS])
{
	size_t h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	size_t emb_width = (size_t)e->embedding_size * (e->mobile && e->mobile->trigram ? 3 : 1);
	memset(width, 0, N_SLOTS * sizeof(width[0]));
	width[SLOT_X] = h;
	width[SLOT_EMB] = e->emb_proj.w != NULL || e->emb_proj.packed != NULL ? emb_width : 0;
	width[SLOT_ATTN] = (size_t)n_threads * encoder_attention_floats(max_seq_len, e->head_dim);
	if (e->mobile == NULL) {
		/* qkv (3h) and ctx (h) during attention, ffn (ff) after: one buffer */
		width[SLOT_BIG] = 4 * h > ff ? 4 * h : ff;
		return;
	}
	/* MobileBERT: ffn, q, k, v, ctx and t1..t3 are live at once */
	width[SLOT_BIG] = ff;
	for (int i = SLOT_Q; i <= SLOT_T3; i++)
		width[i] = h;
	width[SLOT_Q] = 2 * h; /* q | k of a fused product */
}

/* Bytes of one slot for batches of max_tokens; the family slot: DeBERTa
 * one part per team thread, ModernBERT rows of the batch. */
static size_t slot_bytes(const struct encoder *e, enum slot i, size_t width, int32_t max_tokens,
                         int32_t max_seq_len, int n_threads)
{
	if (i == SLOT_FAM)
		return e->deberta != NULL
		           ? (size_t)n_threads * deberta_scratch_bytes(e, max_tokens, max_seq_len)
		       : e->modern != NULL ? modernbert_scratch_bytes(e, max_tokens, max_seq_len)
		                           : 0;
	return (i == SLOT_ATTN ? width : width * (size_t)max_tokens) * sizeof(float);
}

size_t encoder_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len)
{
	size_t width[N_SLOTS], total = 0;
	int n = gemm_get_threads();
	slot_widths(e, max_seq_len, n, width);
	for (int i = 0; i < N_SLOTS; i++)
		total += arena_size_of(
		    slot_bytes(e, (enum slot)i, width[i], max_tokens, max_seq_len, n));
	return total;
}

int encoder_scratch_init(struct encoder_scratch *s, const struct encoder *e, int32_t max_tokens,
                         int32_t max_seq_len)
{
	size_t width[N_SLOTS];
	float *slot[N_SLOTS];
	memset(s, 0, sizeof(*s));
	if (max_tokens <= 0 || max_seq_len <= 0)
		return STATUS_EINVAL;
	if (team_create(&s->team, gemm_get_threads()) != 0)
		return STATUS_ENOMEM;
	slot_widths(e, max_seq_len, team_size(s->team), width);
	if (arena_init_lazy(&s->arena, encoder_scratch_bytes(e, max_tokens, max_seq_len)) != 0) {
		team_destroy(s->team);
		memset(s, 0, sizeof(*s));
		return STATUS_ENOMEM;
	}
	size_t warm = (size_t)(max_tokens < WARM_TOKENS ? max_tokens : WARM_TOKENS);
	int n = team_size(s->team);
	for (int i = 0; i < N_SLOTS; i++) {
		size_t bytes = slot_bytes(e, (enum slot)i, width[i], max_tokens, max_seq_len, n);
		slot[i] = bytes ? arena_alloc(&s->arena, bytes) : NULL;
		size_t hot = i == SLOT_ATTN ? bytes
		             : i == SLOT_FAM
		                 ? (e->modern != NULL ? slot_bytes(e, (enum slot)i, 0,
		                                                   (int32_t)warm, max_seq_len, n)
		                                      : 0)
		                 : width[i] * warm * sizeof(float);
		arena_touch(slot[i], hot < bytes ? hot : bytes);
	}
	s->x = slot[SLOT_X];
	s->qkv = e->mobile == NULL ? slot[SLOT_BIG] : NULL;
	s->ffn = slot[SLOT_BIG];
	s->emb = slot[SLOT_EMB];
	s->attn = slot[SLOT_ATTN];
	s->attn_floats = encoder_attention_floats(max_seq_len, e->head_dim);
	s->q = slot[SLOT_Q];
	s->k = slot[SLOT_K];
	s->v = slot[SLOT_V];
	s->ctx = slot[SLOT_CTX];
	s->t1 = slot[SLOT_T1];
	s->t2 = slot[SLOT_T2];
	s->t3 = slot[SLOT_T3];
	s->fam = slot[SLOT_FAM];
	if (e->deberta != NULL)
		s->fam_part_floats =
		    deberta_scratch_bytes(e, max_tokens, max_seq_len) / sizeof(float);
	s->max_tokens = max_tokens;
	s->max_seq_len = max_seq_len;
	return 0;
}

void encoder_scratch_dispose(struct encoder_scratch *s)
{
	team_destroy(s->team);
	arena_dispose(&s->arena);
	memset(s, 0, sizeof(*s));
}

static int check_batch(const struct encoder *e, const struct encoder_scratch *s,
                       const struct packed_batch *b, char *err, size_t n_err)
{
	if (b->n_seqs <= 0 || b->n_tokens <= 0 || b->n_tokens > s->max_tokens)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "batch of %d tokens in %d sequences does not fit a scratch of "
		                   "%d tokens",
		                   (int)b->n_tokens, (int)b->n_seqs, (int)s->max_tokens);
	if (b->seq_start[0] != 0 || b->seq_start[b->n_seqs] != b->n_tokens)
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "sequence offsets do not cover batch");
	for (int32_t i = 0; i < b->n_seqs; i++) {
		int32_t len = b->seq_start[i + 1] - b->seq_start[i];
		if (len <= 0 || len > s->max_seq_len || len + e->position_offset > e->max_positions)
			return status_fail(err, n_err, STATUS_EINVAL,
			                   "sequence %d has %d tokens; this model takes 1 to %d",
			                   (int)i, (int)len,
			                   (int)(e->max_positions - e->position_offset));
	}
	for (int32_t t = 0; t < b->n_tokens; t++) {
		if (b->ids[t] < 0 || b->ids[t] >= e->vocab_size)
			return status_fail(err, n_err, STATUS_EINVAL,
			                   "token id %d is outside the vocabulary (size %d)",
			                   (int)b->ids[t], (int)e->vocab_size);
		/* Models without token-type embeddings ignore type ids. */
		int32_t type = b->type_ids != NULL && e->type_emb != NULL ? b->type_ids[t] : 0;
		if (type < 0 || (type > 0 && type >= e->type_vocab_size))
			return status_fail(
			    err, n_err, STATUS_EINVAL, "token type id %d is outside 0..%d",
			    (int)type, (int)(e->type_vocab_size > 0 ? e->type_vocab_size - 1 : 0));
	}
	return 0;
}

static double clock_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void encoder_qkv(const struct encoder_layer *L, struct encoder_scratch *s, size_t n, size_t h)
{
	struct team *t = s->team;
	if (L->qkv.packed != NULL) {
		dense_forward(t, &L->qkv, s->qkv, 3 * h, s->x, h, n, NULL);
	} else {
		dense_forward(t, &L->q, s->qkv, 3 * h, s->x, h, n, NULL);
		dense_forward(t, &L->k, s->qkv + h, 3 * h, s->x, h, n, NULL);
		dense_forward(t, &L->v, s->qkv + 2 * h, 3 * h, s->x, h, n, NULL);
	}
}

double profile_start(const struct encoder_scratch *s)
{
	return s->profile != NULL ? clock_s() : 0.0;
}

void profile_mark(const struct encoder_scratch *s, enum encoder_stage stage, double *t)
{
	if (s->profile == NULL)
		return;
	double now = clock_s();
	s->profile[stage] += now - *t;
	*t = now;
}

/* The sequence token t belongs to (seq_start is increasing). */
static int32_t seq_of(const struct packed_batch *b, int32_t t)
{
	int32_t lo = 0, hi = b->n_seqs - 1;
	while (lo < hi) {
		int32_t mid = (lo + hi + 1) / 2;
		if (b->seq_start[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

struct embed_job {
	const struct encoder *e;
	const struct packed_batch *b;
	float *out;
};

/* BertEmbeddings for tokens [t0, t1): LayerNorm(word + position + type). */
static void embed_part(void *arg, int i, int n)
{
	const struct embed_job *j = arg;
	const struct encoder *e = j->e;
	const struct packed_batch *b = j->b;
	size_t es = (size_t)e->embedding_size;
	long t0, t1;
	team_split(b->n_tokens, 1, i, n, &t0, &t1);
	if (t0 >= t1)
		return;
	int32_t q = seq_of(b, (int32_t)t0);
	for (int32_t t = (int32_t)t0; t < (int32_t)t1; t++) {
		while (t >= b->seq_start[q + 1])
			q++;
		size_t pos = (size_t)(t - b->seq_start[q] + e->position_offset);
		const float *w = e->word_emb + (size_t)b->ids[t] * es;
		float *row = j->out + (size_t)t * es;
		if (e->pos_emb == NULL) { /* DeBERTa-v3, ModernBERT: no position term */
			memcpy(row, w, es * sizeof(float));
		} else {
			const float *p = e->pos_emb + pos * es;
			for (size_t c = 0; c < es; c++)
				row[c] = w[c] + p[c];
		}
		if (e->type_emb != NULL) {
			int32_t type = b->type_ids != NULL ? b->type_ids[t] : 0;
			const float *ty = e->type_emb + (size_t)type * es;
			for (size_t c = 0; c < es; c++)
				row[c] += ty[c];
		}
	}
	layer_norm_rows(j->out + (size_t)t0 * es, NULL, e->ln_emb.gamma, e->ln_emb.beta,
	                e->ln_emb.eps, (size_t)(t1 - t0), es);
}

void encoder_embed(const struct encoder *e, struct encoder_scratch *s, const struct packed_batch *b)
{
	int factorised = e->emb_proj.w != NULL || e->emb_proj.packed != NULL;
	struct embed_job j = {e, b, factorised ? s->emb : s->x};
	team_run(team_for(s->team, b->n_tokens, SERIAL_TOKENS), embed_part, &j);
	if (factorised)
		dense_forward(s->team, &e->emb_proj, s->x, (size_t)e->hidden, s->emb,
		              (size_t)e->embedding_size, (size_t)b->n_tokens, NULL);
}

void norm_rows(float *x, const float *residual, const struct layer_norm *ln, size_t n_rows,
               size_t n)
{
	if (!ln->no_norm) {
		layer_norm_rows(x, residual, ln->gamma, ln->beta, ln->eps, n_rows, n);
		return;
	}
	for (size_t r = 0; r < n_rows; r++) { /* MobileBERT NoNorm */
		float *row = x + r * n;
		const float *res = residual ? residual + r * n : NULL;
		for (size_t i = 0; i < n; i++)
			row[i] = (row[i] + (res ? res[i] : 0.0f)) * ln->gamma[i] + ln->beta[i];
	}
}

struct rows_job {
	float *x;
	const float *residual;
	const struct layer_norm *ln;
	enum activation act;
	size_t n_rows, n;
};

static void rows_part(void *arg, int i, int n)
{
	const struct rows_job *j = arg;
	long r0, r1;
	team_split((long)j->n_rows, 1, i, n, &r0, &r1);
	if (r0 >= r1)
		return;
	float *x = j->x + (size_t)r0 * j->n;
	if (j->ln != NULL)
		norm_rows(x, j->residual != NULL ? j->residual + (size_t)r0 * j->n : NULL, j->ln,
		          (size_t)(r1 - r0), j->n);
	else
		activation_apply(x, (size_t)(r1 - r0) * j->n, j->act);
}

void norm_rows_team(struct team *t, float *x, const float *residual, const struct layer_norm *ln,
                    size_t n_rows, size_t n)
{
	struct rows_job j = {x, residual, ln, ACT_NONE, n_rows, n};
	team_run(team_for(t, (double)n_rows, SERIAL_TOKENS), rows_part, &j);
}

void activation_apply_team(struct team *t, float *x, size_t n_rows, size_t n, enum activation act)
{
	struct rows_job j = {x, NULL, NULL, act, n_rows, n};
	team_run(team_for(t, (double)n_rows, SERIAL_TOKENS), rows_part, &j);
}

void attn_bias_add(void *arg, int32_t seq, int32_t head, int32_t q0, int32_t n_q, int32_t k0,
                   int32_t n_k, float *scores, size_t ld)
{
	const struct attn_bias *ab = arg;
	int32_t max_d = ab->max_distance;
	const float *tab = ab->table + (size_t)head * (size_t)(2 * max_d + 1) + max_d;
	(void)seq;
	for (int32_t r = 0; r < n_q; r++) {
		float *row = scores + (size_t)r * ld;
		for (int32_t c = 0; c < n_k; c++) {
			int32_t dist = (k0 + c) - (q0 + r); /* key j - query i */
			dist = dist < -max_d ? -max_d : dist > max_d ? max_d : dist;
			row[c] += tab[dist];
		}
	}
}

/*
 * One BertLayer on s->x (n, h), in place: the fused QKV product (or three
 * products into the same strided buffer when the weights are not packed),
 * attention, then LN(x + o(ctx)) and LN(x + W2 act(W1 x)) as the epilogues
 * of their products.
 */
static void bert_layer(const struct encoder *e, const struct encoder_layer *L,
                       struct encoder_scratch *s, const struct packed_batch *b)
{
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden, ff = (size_t)e->intermediate;
	struct team *t = s->team;
	float *ctx = s->qkv + n * 3 * h; /* right after this batch's q | k | v rows */
	double clock = profile_start(s);
	encoder_qkv(L, s, n, h);
	profile_mark(s, STAGE_QKV, &clock);
	struct attention_opts mpnet = {0.0f, 0, attn_bias_add, (void *)e->attn_bias};
	encoder_attention(s, ctx, h, s->qkv, s->qkv + h, 3 * h, s->qkv + 2 * h, 3 * h, e->n_heads,
	                  e->head_dim, b, e->attn_bias != NULL ? &mpnet : NULL);
	profile_mark(s, STAGE_ATTENTION, &clock);
	struct dense_epilogue attn_out = {ACT_NONE, s->x, h, &L->ln_attn};
	dense_forward(t, &L->o, s->x, h, ctx, h, n, &attn_out);
	profile_mark(s, STAGE_OUT, &clock);
	dense_ffn_forward(t, &L->ffn_in, e->act, &L->ffn_out, &L->ln_ffn, s->x, h, s->ffn, ff, n);
	profile_mark(s, STAGE_FFN, &clock);
}

int encoder_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out, char *err, size_t n_err)
{
	int rc = check_batch(e, s, b, err, n_err);
	if (rc != 0)
		return rc;
	size_t n = (size_t)b->n_tokens, h = (size_t)e->hidden;
	if (e->mobile != NULL)
		return mobilebert_forward(e, s, b, layers_out);
	if (e->deberta != NULL)
		return deberta_forward(e, s, b, layers_out);
	if (e->modern != NULL)
		return modernbert_forward(e, s, b, layers_out);
	double clock = profile_start(s);
	encoder_embed(e, s, b);
	profile_mark(s, STAGE_EMBED, &clock);
	if (layers_out != NULL)
		memcpy(layers_out, s->x, n * h * sizeof(float));
	for (int32_t l = 0; l < e->n_layers; l++) {
		bert_layer(e, &e->layers[l], s, b);
		if (layers_out != NULL)
			memcpy(layers_out + (size_t)(l + 1) * n * h, s->x, n * h * sizeof(float));
	}
	return 0;
}

double encoder_flops(const struct encoder *e, const struct packed_batch *b)
{
	if (e->deberta != NULL)
		return deberta_flops(e, b);
	if (e->modern != NULL)
		return modernbert_flops(e, b);
	double n = b->n_tokens, h = e->hidden, ff = e->intermediate;
	double per_layer = 2.0 * n * h * h * 4.0 + 2.0 * n * h * ff * 2.0;
	double attn = 0.0;
	for (int32_t q = 0; q < b->n_seqs; q++) {
		double len = b->seq_start[q + 1] - b->seq_start[q];
		attn += 2.0 * 2.0 * len * len * h;
	}
	double total = e->n_layers * (per_layer + attn);
	if (e->emb_proj.w != NULL)
		total += 2.0 * n * e->embedding_size * h;
	return total;
}

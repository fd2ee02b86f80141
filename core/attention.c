/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-attention over a packed batch (see encoder-impl.h), as Hugging
 * Face's BertSelfAttention computes it per sequence: softmax(q k^T / sqrt(d))
 * v for each head. The (sequence, head) pairs are handed out to the team's
 * threads one at a time from a shared counter (sequences differ in length,
 * so a static split would leave threads idle). A pair lays its values out
 * once in the packed kernel's panels (gemm-simd.c), then walks its queries
 * a block at a time: scores for those queries against every key, softmax
 * in place, times the values into ctx.
 *
 * Plain attention (no bias, no band) on up to SCORES_T_MAX_LEN keys stores
 * a block's scores transposed, keys x (up to 128) queries: the product
 * makes them with the keys as its rows (K q^T), the softmax runs down the
 * columns (no horizontal sums), and the values product reads them in place
 * as its A (gemm_block_at), where scores stored the usual way had to be
 * copied into the kernel's layout first (MiniLM-L6, 32 x 128 tokens: 13-18 %
 * less time alone, ~8 % in the model). Otherwise the block is a register
 * tile's worth of queries x every key. Either block stays in L2; no
 * (len x len) matrix is ever written.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm-impl.h"

#define QUERY_BLOCK_MIN  14  /* query rows per block: at least one AVX-512 tile */
#define QUERY_BLOCK_MAX  32  /* and at most (QUERY_BLOCK_MIN rounded up to any kernel's mr) */
#define SCORES_T_MAX_LEN 512 /* keys: a transposed block (512 x 144 floats) stays in L2 */
#define SCORES_T_QUERIES 128 /* queries per transposed block */
/* Below this much work (flops) attention runs on the calling thread. */
#define ATTENTION_SERIAL_FLOPS 2e6

static size_t round32(size_t n)
{
	return (n + GEMM_NR - 1) / GEMM_NR * GEMM_NR;
}

static size_t query_block(void)
{
	size_t mr = (size_t)gemm_kernel()->mr;
	size_t qb = (QUERY_BLOCK_MIN + mr - 1) / mr * mr;
	return qb <= QUERY_BLOCK_MAX ? qb : QUERY_BLOCK_MAX / mr * mr;
}

/* Queries per transposed block of a sequence of lp (rounded) keys. */
static size_t t_queries(size_t lp)
{
	return lp < SCORES_T_QUERIES ? lp : SCORES_T_QUERIES;
}

/* Floats between a transposed block's rows: 64 bytes over a multiple of
 * 512, so that the rows a tile walks down do not share a few L1 sets. */
static size_t t_stride(size_t lp)
{
	return t_queries(lp) + 16;
}

size_t encoder_attention_floats(int32_t max_seq_len, int32_t head_dim)
{
	size_t lp = round32((size_t)max_seq_len), dp = round32((size_t)head_dim);
	size_t d = (size_t)head_dim;
	/* rows: scores block + keys (lp x d) + values (dp x len); transposed:
	 * scores (lp x stride) + queries (q x d) + values; each 64-byte aligned */
	size_t n = query_block() * lp + lp * d + dp * lp + 3 * 16;
	size_t lt = lp < SCORES_T_MAX_LEN ? lp : SCORES_T_MAX_LEN;
	size_t t = lt * t_stride(lt) + t_queries(lt) * d + dp * lt + 3 * 16;
	return ((n > t ? n : t) + 15) & ~(size_t)15;
}

/* Keys k[j] (len rows of width d, stride ld) as panels of 32 keys: panel p
 * is (d, 32) with element (kk, c) = k[32 p + c][kk], zero past len. */
static void pack_keys(float *dst, const float *k, size_t ld, size_t len, size_t d)
{
	const struct gemm_kernel *kern = gemm_kernel();
	for (size_t p = 0; p * GEMM_NR < len; p++) {
		const float *rows[GEMM_NR];
		for (size_t c = 0; c < GEMM_NR; c++)
			rows[c] = p * GEMM_NR + c < len ? k + (p * GEMM_NR + c) * ld : NULL;
		kern->pack_panel(dst + p * d * GEMM_NR, rows, (int)d);
	}
}

/* Values v (len rows of width d, stride ld) as panels of 32 columns:
 * panel p is (len, 32) with element (t, c) = v[t][32 p + c], zero past d. */
static void pack_values(float *dst, const float *v, size_t ld, size_t len, size_t d)
{
	size_t n_panels = round32(d) / GEMM_NR;
	for (size_t p = 0; p < n_panels; p++) {
		size_t c0 = p * GEMM_NR, w = d - c0 < GEMM_NR ? d - c0 : GEMM_NR;
		float *panel = dst + p * len * GEMM_NR;
		if (w == GEMM_NR) { /* a constant size: vector moves, not rep movs */
			for (size_t t = 0; t < len; t++)
				memcpy(panel + t * GEMM_NR, v + t * ld + c0,
				       GEMM_NR * sizeof(float));
			continue;
		}
		for (size_t t = 0; t < len; t++) {
			memcpy(panel + t * GEMM_NR, v + t * ld + c0, w * sizeof(float));
			memset(panel + t * GEMM_NR + w, 0, (GEMM_NR - w) * sizeof(float));
		}
	}
}

struct attn_job {
	struct encoder_scratch *s;
	float *ctx;
	size_t ld_ctx;
	const float *q, *k, *v;
	size_t ld_qk, ld_v;
	int32_t n_heads, head_dim;
	const struct packed_batch *b;
	struct attention_opts o;
	atomic_int next; /* the next (sequence, head) pair to hand out */
};

/* Scales, biases and bands one block of scores (rows q0.., keys k0..k1),
 * so that the softmax after it runs with scale 1. */
static void adjust_scores(const struct attn_job *j, int32_t seq, int32_t head, size_t q0,
                          size_t n_q, size_t k0, size_t k1, float *sc, size_t ld)
{
	for (size_t r = 0; r < n_q; r++)
		for (size_t c = 0; c < k1 - k0; c++)
			sc[r * ld + c] *= j->o.scale;
	if (j->o.bias != NULL)
		j->o.bias(j->o.bias_arg, seq, head, (int32_t)q0, (int32_t)n_q, (int32_t)k0,
		          (int32_t)(k1 - k0), sc, ld);
	if (j->o.window <= 0)
		return;
	for (size_t r = 0; r < n_q; r++) {
		long qi = (long)(q0 + r), w = j->o.window;
		for (size_t c = 0; c < k1 - k0; c++) {
			long kj = (long)(k0 + c);
			if (kj < qi - w || kj > qi + w)
				sc[r * ld + c] = -INFINITY;
		}
	}
}

/* Asks for rows [r0, r1) of a (sequence, head) pair's queries (what 0),
 * keys (1) or values (2) to be brought into L2. A head's rows lie one QKV
 * row apart (4608 bytes for MiniLM), each on another 4 KiB page, which the
 * hardware prefetchers do not follow: read cold, every row would be a full
 * miss. */
static void prefetch_rows(const struct attn_job *j, int32_t pair, int what, size_t r0, size_t r1)
{
	int32_t seq = pair / j->n_heads, head = pair % j->n_heads;
	size_t t0 = (size_t)j->b->seq_start[seq], off = (size_t)head * (size_t)j->head_dim;
	size_t bytes = (size_t)j->head_dim * sizeof(float);
	const float *base = what == 0 ? j->q : what == 1 ? j->k : j->v;
	size_t ld = what == 2 ? j->ld_v : j->ld_qk;
	for (size_t r = r0; r < r1; r++) {
		const char *row = (const char *)(base + (t0 + r) * ld + off);
		for (size_t b = 0; b < bytes; b += 64)
			__builtin_prefetch(row + b, 0, 2);
		__builtin_prefetch(row + bytes - 1, 0, 2);
	}
}

static size_t seq_len(const struct attn_job *j, int32_t seq)
{
	return (size_t)(j->b->seq_start[seq + 1] - j->b->seq_start[seq]);
}

/* Prefetches block blk's share (of n_blocks) of pair next's queries (what
 * 0), keys (1) or values (2); nothing when next is -1. */
static void prefetch_share(const struct attn_job *j, int32_t next, int what, size_t blk,
                           size_t n_blocks)
{
	if (next < 0)
		return;
	size_t n = seq_len(j, next / j->n_heads);
	prefetch_rows(j, next, what, n * blk / n_blocks, n * (blk + 1) / n_blocks);
}

/* One (sequence, head) pair of plain attention, scores transposed, on
 * workspace ws. Prefetches as attend_rows. */
static void attend_t(const struct attn_job *j, int32_t seq, int32_t head, int32_t next, float *ws)
{
	const struct gemm_kernel *kern = gemm_kernel();
	size_t t0 = (size_t)j->b->seq_start[seq];
	size_t len = seq_len(j, seq), d = (size_t)j->head_dim, lp = round32(len);
	size_t off = (size_t)head * d, w = t_queries(lp), ls = t_stride(lp);
	float *scores = ws, *queries = ws + ((lp * ls + 15) & ~(size_t)15);
	float *values = queries + ((w * d + 15) & ~(size_t)15);
	int n_dpanels = (int)(round32(d) / GEMM_NR);
	int dvalid = (int)(d - (size_t)(n_dpanels - 1) * GEMM_NR);
	float inv_sum[SCORES_T_QUERIES];

	pack_values(values, j->v + t0 * j->ld_v + off, j->ld_v, len, d);
	size_t n_blocks = (len + w - 1) / w;
	for (size_t q0 = 0; q0 < len; q0 += w) {
		size_t n_q = len - q0 < w ? len - q0 : w, blk = q0 / w;
		size_t n_qp = (n_q + GEMM_NR - 1) / GEMM_NR;
		prefetch_share(j, next, 0, blk, n_blocks);
		for (size_t p = 0; p < n_qp; p++) { /* the block's queries as panels */
			const float *rows[GEMM_NR];
			for (size_t c = 0; c < GEMM_NR; c++) {
				size_t qi = q0 + p * GEMM_NR + c;
				rows[c] = qi < len ? j->q + (t0 + qi) * j->ld_qk + off : NULL;
			}
			kern->pack_panel(queries + p * d * GEMM_NR, rows, (int)d);
		}
		kern->block(scores, ls, j->k + t0 * j->ld_qk + off, j->ld_qk, queries, d * GEMM_NR,
		            GEMM_NR, (int)n_qp, (int)(n_q - (n_qp - 1) * GEMM_NR), (int)len, (int)d,
		            0, NULL);
		prefetch_share(j, next, 1, blk, n_blocks);
		softmax_cols(scores, ls, j->o.scale, len, n_q, inv_sum);
		prefetch_share(j, next, 2, blk, n_blocks);
		struct gemm_epi scale = {.act = ACT_NONE, .row_scale = inv_sum};
		kern->block_at(j->ctx + (t0 + q0) * j->ld_ctx + off, j->ld_ctx, scores, ls, values,
		               len * GEMM_NR, GEMM_NR, n_dpanels, dvalid, (int)n_q, (int)len, 0,
		               &scale);
	}
}

/* One (sequence, head) pair on workspace ws, a register tile's worth of
 * queries at a time. The rows of pair next (this thread's next one, or -1)
 * are prefetched a share per query block, queries keys and values each
 * before another step: the few line fill buffers stall the core when a
 * block asks for all of them at once. */
static void attend_rows(const struct attn_job *j, int32_t seq, int32_t head, int32_t next,
                        float *ws)
{
	const struct gemm_kernel *kern = gemm_kernel();
	size_t t0 = (size_t)j->b->seq_start[seq];
	size_t len = seq_len(j, seq);
	size_t d = (size_t)j->head_dim, lp = round32(len), qb = query_block();
	size_t off = (size_t)head * d;
	size_t s_floats = (qb * round32((size_t)j->s->max_seq_len) + 15) & ~(size_t)15;
	float *scores = ws, *keys = ws + s_floats;
	float *values = keys + ((lp * d + 15) & ~(size_t)15);
	int n_dpanels = (int)(round32(d) / GEMM_NR);
	int dvalid = (int)(d - (size_t)(n_dpanels - 1) * GEMM_NR);

	pack_keys(keys, j->k + t0 * j->ld_qk + off, j->ld_qk, len, d);
	/* Values copied out into contiguous panels even when the head is whole
	 * panels wide: read in place, their rows lie ld_v floats apart (4608
	 * bytes for MiniLM, 9216 for BERT-base), which maps them all into 8
	 * or 4 of L1's 64 sets, where they evict each other on every query
	 * block. Copied, MiniLM-L6 and BERT-base run 2-4 % faster. */
	pack_values(values, j->v + t0 * j->ld_v + off, j->ld_v, len, d);
	int plain = j->o.bias == NULL && j->o.window <= 0;
	float inv_sum[QUERY_BLOCK_MAX];
	size_t n_blocks = (len + qb - 1) / qb;
	for (size_t q0 = 0; q0 < len; q0 += qb) {
		size_t n_q = len - q0 < qb ? len - q0 : qb, blk = q0 / qb;
		prefetch_share(j, next, 0, blk, n_blocks);
		size_t k0 = 0, k1 = len;
		if (j->o.window > 0) { /* only the key panels the band touches */
			size_t w = (size_t)j->o.window;
			k0 = q0 > w ? (q0 - w) / GEMM_NR * GEMM_NR : 0;
			k1 = q0 + n_q + w < len ? q0 + n_q + w : len;
		}
		int kp0 = (int)(k0 / GEMM_NR), kp1 = (int)((k1 + GEMM_NR - 1) / GEMM_NR);
		kern->block(scores, lp, j->q + (t0 + q0) * j->ld_qk + off, j->ld_qk,
		            keys + (size_t)kp0 * d * GEMM_NR, d * GEMM_NR, GEMM_NR, kp1 - kp0,
		            GEMM_NR, (int)n_q, (int)d, 0, NULL);
		prefetch_share(j, next, 1, blk, n_blocks);
		/* The rows stay exp(s - max); ctx's d columns are scaled by
		 * 1 / sum instead of the scores' len. */
		if (plain) {
			softmax_rows_ld(scores, lp, j->o.scale, n_q, k1 - k0, inv_sum);
		} else {
			adjust_scores(j, seq, head, q0, n_q, k0, k1, scores, lp);
			softmax_rows_ld(scores, lp, 1.0f, n_q, k1 - k0, inv_sum);
		}
		prefetch_share(j, next, 2, blk, n_blocks);
		struct gemm_epi scale = {.act = ACT_NONE, .row_scale = inv_sum};
		kern->block(j->ctx + (t0 + q0) * j->ld_ctx + off, j->ld_ctx, scores, lp,
		            values + k0 * GEMM_NR, len * GEMM_NR, GEMM_NR, n_dpanels, dvalid,
		            (int)n_q, (int)(k1 - k0), 0, &scale);
	}
}

static void attend_pair(const struct attn_job *j, int32_t seq, int32_t head, int32_t next,
                        float *ws)
{
	size_t len = seq_len(j, seq);
	if (j->o.bias == NULL && j->o.window <= 0 && len <= SCORES_T_MAX_LEN)
		attend_t(j, seq, head, next, ws);
	else
		attend_rows(j, seq, head, next, ws);
}

static void attention_part(void *arg, int i, int n)
{
	struct attn_job *j = arg;
	(void)n;
	float *ws = j->s->attn + (size_t)i * j->s->attn_floats;
	int32_t n_pairs = j->b->n_seqs * j->n_heads;
	/* Each thread holds one pair ahead of the one it computes, so that it
	 * knows whose rows to prefetch. */
	int32_t p = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
	while (p < n_pairs) {
		int32_t next = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		attend_pair(j, p / j->n_heads, p % j->n_heads, next < n_pairs ? next : -1, ws);
		p = next;
	}
}

void encoder_attention(struct encoder_scratch *s, float *ctx, size_t ld_ctx, const float *q,
                       const float *k, size_t ld_qk, const float *v, size_t ld_v, int32_t n_heads,
                       int32_t head_dim, const struct packed_batch *b,
                       const struct attention_opts *opts)
{
	struct attn_job j = {.s = s,
	                     .ctx = ctx,
	                     .ld_ctx = ld_ctx,
	                     .q = q,
	                     .k = k,
	                     .v = v,
	                     .ld_qk = ld_qk,
	                     .ld_v = ld_v,
	                     .n_heads = n_heads,
	                     .head_dim = head_dim,
	                     .b = b};
	if (opts != NULL)
		j.o = *opts;
	if (j.o.scale == 0.0f)
		j.o.scale = 1.0f / sqrtf((float)head_dim);
	atomic_init(&j.next, 0);
	double flops = 0.0; /* small batches: the calling thread alone, no wake-ups */
	for (int32_t q = 0; q < b->n_seqs; q++) {
		double len = b->seq_start[q + 1] - b->seq_start[q];
		flops += 4.0 * len * len * (double)head_dim * n_heads;
	}
	team_run(team_for(s->team, flops, ATTENTION_SERIAL_FLOPS), attention_part, &j);
}

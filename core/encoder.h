/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one encoder core every architecture runs through: embeddings, then
 * post-LayerNorm transformer layers (self-attention + feed-forward), on a
 * packed batch (the tokens of all sequences one after another, no padding).
 * Architectures (models/) only fill in a `struct encoder` of borrowed weight
 * pointers; the forward pass is shared.
 *
 * Weights are read-only and shared; each worker thread owns one
 * encoder_scratch (its compute team and buffers) sized at creation for its
 * largest batch, and the forward pass allocates nothing. Two threads may
 * run encoder_forward on the same encoder at once with different scratches.
 * Every stage (products, attention, norms, embeddings) is split over the
 * scratch's team.
 */
#ifndef SMOLSERVE_CORE_ENCODER_H
#define SMOLSERVE_CORE_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "gemm.h"
#include "kernels.h"
#include "team.h"

/* struct dense (gemm.h) and struct layer_norm (kernels.h) describe the
 * weights below; all pointers borrowed. */

/* BertLayer / DistilBERT TransformerBlock: post-norm. */
struct encoder_layer {
	struct dense q, k, v, o;   /* (hidden, hidden) each */
	struct dense qkv;          /* q | k | v packed as one (3 hidden, hidden), or .packed NULL */
	struct layer_norm ln_attn; /* LN(attention_out + x) */
	struct dense ffn_in;       /* (intermediate, hidden) */
	struct dense ffn_out;      /* (hidden, intermediate) */
	struct layer_norm ln_ffn;  /* LN(ffn_out + x) */
};

#define MOBILEBERT_MAX_FFN 8

/* MobileBertLayer (modeling_mobilebert.py): a narrow transformer
 * (true_hidden) between an input and an output bottleneck. */
struct mobilebert_layer {
	struct dense bn_input; /* (intra, hidden) */
	struct layer_norm bn_input_norm;
	struct dense bn_attention; /* (intra, hidden) if key_query_shared */
	struct layer_norm bn_attention_norm;
	struct dense q, k, v, o;     /* q, k: (true, true); v: (true, hidden) */
	struct dense qk;             /* q | k packed as one (2 true, true), or .packed NULL */
	struct layer_norm attn_norm; /* norm(o(ctx) + layer_input) */
	int n_ffn;                   /* num_feedforward_networks - 1 */
	struct dense ffn_in[MOBILEBERT_MAX_FFN];  /* (intermediate, true) */
	struct dense ffn_out[MOBILEBERT_MAX_FFN]; /* (true, intermediate) */
	struct layer_norm ffn_norm[MOBILEBERT_MAX_FFN];
	struct dense inter; /* (intermediate, true) */
	struct dense out;   /* (true, intermediate) */
	struct layer_norm out_norm;
	struct dense out_bn;           /* (hidden, true) */
	struct layer_norm out_bn_norm; /* norm(out_bn(x) + hidden_states) */
};

struct mobilebert {
	int32_t true_hidden; /* attention width (n_heads * head_dim) */
	int32_t intra;       /* bottleneck width */
	int use_bottleneck;
	int use_bottleneck_attention;
	int key_query_shared;
	int trigram; /* word embeddings of next, this and previous token */
	const struct mobilebert_layer *layers; /* (n_layers) borrowed */
};

/*
 * An additive bias on attention scores that depends only on the head and the
 * distance j - i from query i to key j (MPNet's relative position buckets,
 * shared by every layer): scores[h][i][j] += table[h * (2 * max_distance + 1)
 * + clamp(j - i, -max_distance, max_distance) + max_distance], after the
 * 1 / sqrt(head_dim) scaling. Borrowed.
 */
struct attn_bias {
	const float *table; /* (n_heads, 2 * max_distance + 1) */
	int32_t max_distance;
};

struct deberta;    /* core/deberta.h */
struct modernbert; /* core/modernbert.h */

struct encoder {
	int32_t hidden; /* hidden_size */
	int32_t n_heads;
	int32_t head_dim; /* hidden / n_heads */
	int32_t n_layers;
	int32_t intermediate;
	int32_t embedding_size; /* == hidden unless emb_proj is set */
	int32_t vocab_size;
	int32_t max_positions;   /* rows of pos_emb */
	int32_t type_vocab_size; /* 0 if no type_emb */
	int32_t position_offset; /* first position id (RoBERTa: pad + 1) */
	enum activation act;
	const float *word_emb; /* (vocab_size, embedding_size) */
	const float *pos_emb;  /* (max_positions, embedding_size) */
	const float *type_emb; /* (type_vocab_size, embedding_size) or NULL */
	struct layer_norm ln_emb;
	struct dense emb_proj;              /* w == NULL unless factorised */
	const struct encoder_layer *layers; /* (n_layers) borrowed */
	const struct mobilebert *mobile;    /* non-NULL: MobileBERT layers instead */
	const struct attn_bias *attn_bias;  /* MPNet: added to every layer's scores, or NULL */
	const struct deberta *deberta;      /* non-NULL: DeBERTa-v2 layers (core/deberta.c) */
	const struct modernbert *modern;    /* non-NULL: ModernBERT layers (core/modernbert.c) */
};

/* Sequences packed back to back: sequence s is tokens
 * [seq_start[s], seq_start[s + 1]). All pointers borrowed. */
struct packed_batch {
	int32_t n_seqs;
	int32_t n_tokens;
	const int32_t *ids;       /* (n_tokens) */
	const int32_t *type_ids;  /* (n_tokens) or NULL = all 0 */
	const int32_t *seq_start; /* (n_seqs + 1), seq_start[0] == 0 */
};

/* The stages of a forward pass, for encoder_scratch.profile. */
enum encoder_stage {
	STAGE_EMBED,      /* embeddings (and their projection) */
	STAGE_QKV,        /* query, key, value products */
	STAGE_ATTENTION,  /* softmax(q k^T) v of every (sequence, head) */
	STAGE_OUT,        /* attention output product + residual + norm */
	STAGE_FFN,        /* feed-forward products + activation + residual + norm */
	STAGE_BOTTLENECK, /* MobileBERT's bottleneck products + norms */
	N_STAGES
};

/* Names of the stages ("embed", "qkv", ...), indexed by enum encoder_stage. */
extern const char *const ENCODER_STAGE_NAMES[N_STAGES];

/*
 * A worker's scratch: its compute team and every buffer of the forward
 * pass, in one mapping reserved for max_tokens but faulted in only as far
 * as batches reach (the first rows are touched at creation), so memory
 * follows the batches a worker really runs. Buffers are (rows, width)
 * row-major; the ones marked "shared" overlay each other and are never
 * live at the same time.
 */
struct encoder_scratch {
	struct arena arena;
	struct team *team; /* owned: the threads encoder_forward runs on */
	int32_t max_tokens;
	int32_t max_seq_len;
	float *x; /* (max_tokens, hidden): the hidden state, output */
	/* (max_tokens, max(4 hidden, intermediate)), shared: a BERT layer puts a
	 * batch of n tokens' q | k | v rows (n, 3 hidden) first and its attention
	 * context (n, hidden) right after them, later the FFN's (n, intermediate) */
	float *qkv; /* NULL for MobileBERT */
	float *ffn;
	float *emb;         /* (max_tokens, embedding_size [x 3 trigram]) if factorised */
	float *attn;        /* per team thread: attention's workspace, attn_floats each */
	size_t attn_floats; /* encoder_attention_floats */
	/* MobileBERT only (NULL otherwise), (max_tokens, hidden) each */
	float *q, *k, *v, *ctx, *t1, *t2, *t3;
	/* DeBERTa's and ModernBERT's own scratch (deberta.c, modernbert.c) */
	float *fam;
	size_t fam_part_floats; /* DeBERTa: fam holds one part of this size per team thread */
	/* If set (borrowed, N_STAGES seconds), each forward pass adds the wall
	 * time of its stages to it: for benchmarks. */
	double *profile;
};

/*
 * A team of gemm_get_threads() threads and a scratch for batches of at
 * most max_tokens tokens with no sequence longer than max_seq_len. 0 or
 * STATUS_ENOMEM. Owner thread only (the team belongs to it).
 */
int encoder_scratch_init(struct encoder_scratch *s, const struct encoder *e, int32_t max_tokens,
                         int32_t max_seq_len);
void encoder_scratch_dispose(struct encoder_scratch *s);

/* Bytes of address space encoder_scratch_init reserves (resident memory
 * grows to at most this). */
size_t encoder_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len);

/*
 * Runs the encoder over b. The last hidden state, (n_tokens, hidden), is
 * left in s->x. If layers_out != NULL it receives every layer's output
 * ((n_layers + 1, n_tokens, hidden): embeddings first), as Hugging Face's
 * output_hidden_states. Returns 0 or STATUS_EINVAL (err says which id,
 * type id, position or size is out of range for this model or scratch).
 * Runs on s->team; the scratch's owner thread only.
 */
int encoder_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out, char *err, size_t n_err);

/* Floating-point operations of one forward pass over b (for benchmarks). */
double encoder_flops(const struct encoder *e, const struct packed_batch *b);

#endif

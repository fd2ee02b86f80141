/*
 * The one encoder core every architecture runs through: embeddings, then
 * post-LayerNorm transformer layers (self-attention + feed-forward), on a
 * packed batch (the tokens of all sequences one after another, no padding).
 * Architectures (models/) only fill in a `struct encoder` of borrowed weight
 * pointers; the forward pass is shared.
 *
 * Weights are read-only and shared; each worker thread owns one
 * encoder_scratch sized at creation for its largest batch, and the forward
 * pass allocates nothing. Two threads may run encoder_forward on the same
 * encoder at once with different scratches.
 */
#ifndef SMOLSERVE_CORE_ENCODER_H
#define SMOLSERVE_CORE_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "kernels.h"

/* torch.nn.Linear: y = x w^T + b. All pointers borrowed. */
struct dense {
	const float *w; /* (n_out, n_in) */
	const float *b; /* (n_out) or NULL */
	int32_t n_in;
	int32_t n_out;
};

struct layer_norm {
	const float *gamma; /* (n) */
	const float *beta;  /* (n) */
	float eps;
	int no_norm; /* MobileBERT's NoNorm: x * gamma + beta, no statistics */
};

/* BertLayer / DistilBERT TransformerBlock: post-norm. */
struct encoder_layer {
	struct dense q, k, v, o;   /* (hidden, hidden) each */
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
	struct dense q, k, v, o;                  /* q, k: (true, true); v: (true, hidden) */
	struct layer_norm attn_norm;              /* norm(o(ctx) + layer_input) */
	int n_ffn;                                /* num_feedforward_networks - 1 */
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

struct encoder_scratch {
	struct arena arena;
	int32_t max_tokens;
	int32_t max_seq_len;
	float *x;            /* (max_tokens, hidden): the hidden state, output */
	float *q;            /* (max_tokens, hidden) */
	float *k;            /* (max_tokens, hidden) */
	float *v;            /* (max_tokens, hidden) */
	float *ctx;          /* (max_tokens, hidden) attention context */
	float *ffn;          /* (max_tokens, intermediate) */
	float *emb;          /* (max_tokens, embedding_size) if factorised */
	float *scores;       /* (max_seq_len, max_seq_len) one head at a time */
	float *t1, *t2, *t3; /* (max_tokens, hidden) MobileBERT only */
	float *fam;          /* DeBERTa's and ModernBERT's own scratch (deberta.c, modernbert.c) */
};

/*
 * Sizes and pre-faults a scratch for batches of at most max_tokens tokens
 * with no sequence longer than max_seq_len. 0 or STATUS_ENOMEM.
 */
int encoder_scratch_init(struct encoder_scratch *s, const struct encoder *e, int32_t max_tokens,
                         int32_t max_seq_len);
void encoder_scratch_dispose(struct encoder_scratch *s);

/* Bytes of scratch encoder_scratch_init would map. */
size_t encoder_scratch_bytes(const struct encoder *e, int32_t max_tokens, int32_t max_seq_len);

/*
 * Runs the encoder over b. The last hidden state, (n_tokens, hidden), is
 * left in s->x. If layers_out != NULL it receives every layer's output
 * ((n_layers + 1, n_tokens, hidden): embeddings first), as Hugging Face's
 * output_hidden_states. Returns 0 or STATUS_EINVAL (err says which id,
 * type id, position or size is out of range for this model or scratch).
 */
int encoder_forward(const struct encoder *e, struct encoder_scratch *s,
                    const struct packed_batch *b, float *layers_out, char *err, size_t n_err);

/* Floating-point operations of one forward pass over b (for benchmarks). */
double encoder_flops(const struct encoder *e, const struct packed_batch *b);

#endif

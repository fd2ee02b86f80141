/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A loaded Hugging Face model folder: configuration, mmapped weights wired
 * into the shared encoder, tokenizer, pooling and task head. Loaded once,
 * then read-only and shared by every worker; each worker owns a model_ctx
 * (its scratch) and runs model_forward + the head functions on packed
 * batches. Nothing here knows of HTTP, JSON requests or threads.
 */
#ifndef SMOLSERVE_MODELS_MODEL_H
#define SMOLSERVE_MODELS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "deberta.h"
#include "encoder.h"
#include "hf_config.h"
#include "layout_cache.h"
#include "modernbert.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "tokenizer_load.h"

enum pooling { POOLING_CLS = 0, POOLING_MEAN };

enum head_kind {
	HEAD_NONE = 0, /* base encoder only */
	HEAD_SEQCLS,   /* one label distribution per sequence */
	HEAD_TOKCLS,   /* one label distribution per token */
};

/* One dense layer of a head followed by its activation, then a LayerNorm
 * when norm.gamma is set (ModernBertPredictionHead). */
struct head_layer {
	struct dense d;
	enum activation act;
	struct layer_norm norm;
};

#define MODEL_MAX_HEAD_LAYERS 3

struct weight_check;

struct model {
	char *dir; /* owned: the folder it was loaded from */
	struct hf_config cfg;
	struct safetensors *st;                 /* owned */
	struct tokenizer *tok;                  /* owned */
	struct encoder enc;                     /* weights borrowed from st */
	struct encoder_layer *layers;           /* (n_layers) owned */
	struct mobilebert mobile;               /* MobileBERT only, enc.mobile points here */
	struct mobilebert_layer *mobile_layers; /* (n_layers) owned, MobileBERT only */
	struct attn_bias attn_bias;             /* MPNet, enc.attn_bias points here */
	struct deberta deberta;                 /* DeBERTa-v2, enc.deberta points here */
	struct modernbert modern;               /* ModernBERT, enc.modern points here */
	struct modernbert_layer *modern_layers; /* (n_layers) owned, ModernBERT only */
	/* owned: tensors computed once at load from the weights (MPNet's bias
	 * table, DeBERTa's projected relative embeddings, ModernBERT's rotary
	 * tables and the zero bias of its bias-free norms) */
	float *derived;
	int32_t *derived_idx; /* owned: DeBERTa's relative position -> embedding row */

	/* Load-time layouts for the packed GEMM backend (gemm.h), shared by
	 * every worker: panels, fused biases and their descriptors live in
	 * pack_arena; the dense layers above point into it. */
	struct arena pack_arena; /* owned; empty with the OpenBLAS backend */
	/* Every weight wired, to be checked for NaN/Inf once after wiring, in
	 * parallel (model_load); freed when the load ends. */
	struct weight_check *checks; /* (n_checks) owned */
	int n_checks, cap_checks;
	struct gemm_packed *packs; /* (n_packs) owned descriptors */
	int n_packs;
	size_t packed_bytes; /* bytes of packed weights */
	double pack_seconds; /* time spent laying them out (or mapping them) */
	/* The layout cache (layout_cache.h): with LAYOUT_CACHE_READ the layout
	 * is layout_map (owned), not pack_arena. The note says what happened,
	 * for the log. */
	enum layout_cache_state {
		LAYOUT_CACHE_OFF = 0, /* no cache folder, or the layout cannot be keyed */
		LAYOUT_CACHE_READ,    /* mapped from the cache */
		LAYOUT_CACHE_WRITTEN, /* laid out, then written to the cache */
		LAYOUT_CACHE_FAILED,  /* laid out; writing it failed (the note says why) */
	} layout_cache;
	struct layout_map layout_map;
	char layout_cache_note[512];

	enum pooling pooling;
	int pooling_from_folder; /* 1 if 1_Pooling/config.json said so */

	int has_pooler; /* BERT pooler: dense + tanh on [CLS] */
	struct head_layer pooler;
	enum head_kind head;
	enum pooling head_pooling; /* HEAD_SEQCLS input: first token, or mean (ModernBERT) */
	struct head_layer head_layers[MODEL_MAX_HEAD_LAYERS]; /* applied in order */
	int n_head_layers;
	int32_t n_labels; /* head output width; 0 without head */

	int32_t max_input_length; /* tokens, specials included */

	/* sentence-transformers' config_sentence_transformers.json: named
	 * prompts put before a text to embed, in the file's order. */
	int32_t n_prompts;
	char **prompt_names;       /* (n_prompts) owned */
	char **prompt_texts;       /* (n_prompts) owned */
	char *default_prompt_name; /* owned; NULL if the file names none */
	int include_prompt;        /* the pooling config's include_prompt (default 1) */
};

struct model_opts {
	int pooling_set; /* 1: use `pooling` over the folder's own */
	enum pooling pooling;
	enum tokenizer_source tokenizer_source; /* which tokenizer files; 0 = auto */
	const char *layout_cache_dir;           /* layout cache folder; NULL or "": none */
};

/*
 * Loads the folder dir (config.json, model.safetensors, tokenizer files,
 * modules.json + 1_Pooling/config.json). 0 and *out (model_destroy) or a
 * negative status with err naming the file and the problem.
 */
int model_load(const char *dir, const struct model_opts *opts, struct model **out, char *err,
               size_t n_err);
void model_destroy(struct model *m);

/* Each architecture's wiring of weights into m->enc and heads (models/
 * <family>.c). Called by model_load after config and safetensors are open. */
int bert_wire(struct model *m, char *err, size_t n_err);
int distilbert_wire(struct model *m, char *err, size_t n_err);
int electra_wire(struct model *m, char *err, size_t n_err);
int roberta_wire(struct model *m, char *err, size_t n_err);
int albert_wire(struct model *m, char *err, size_t n_err);
int mobilebert_wire(struct model *m, char *err, size_t n_err);
int mpnet_wire(struct model *m, char *err, size_t n_err);
int deberta_wire(struct model *m, char *err, size_t n_err);
int modernbert_wire(struct model *m, char *err, size_t n_err);

/* A worker's scratch for one model. */
struct model_ctx {
	struct encoder_scratch enc;
	float *tmp_a; /* (max_tokens, max(hidden, head widths)) */
	float *tmp_b; /* same */
	struct arena arena;
	int32_t max_tokens;
};

/* Scratch for batches of up to max_tokens tokens, sequences up to the
 * model's max_input_length. 0 or STATUS_ENOMEM. */
int model_ctx_init(struct model_ctx *c, const struct model *m, int32_t max_tokens);
void model_ctx_dispose(struct model_ctx *c);

/* Bytes of c's scratch in memory now: as far as batches so far reached
 * (arena_resident). Any thread. */
size_t model_ctx_resident(const struct model_ctx *c);

/* Encoder over b; last hidden state in c->enc.x (n_tokens, hidden). */
int model_forward(const struct model *m, struct model_ctx *c, const struct packed_batch *b,
                  char *err, size_t n_err);

/* After model_forward: out (n_seqs, hidden) pooled per sequence, mean over
 * all tokens or first token, L2-normalised if normalize. */
void model_pool(const struct model *m, const struct model_ctx *c, const struct packed_batch *b,
                enum pooling pooling, int normalize, float *out);

/* After model_forward with a HEAD_SEQCLS model: logits (n_seqs, n_labels).
 * With HEAD_TOKCLS: logits (n_tokens, n_labels). Uses c's tmp buffers. */
void model_logits(const struct model *m, struct model_ctx *c, const struct packed_batch *b,
                  float *logits);

/* BERT pooler output (n_seqs, hidden) after model_forward; requires
 * has_pooler. */
void model_pooler_output(const struct model *m, struct model_ctx *c, const struct packed_batch *b,
                         float *out);

/* Scores from logits of one item, in place: softmax, or sigmoid for
 * multi-label or a single label, none for regression. */
void model_scores(const struct model *m, float *logits_row);

/* The text of the prompt called name (borrowed), NULL if there is none. */
const char *model_prompt(const struct model *m, const char *name);

/* Label text of class i (borrowed). */
const char *model_label(const struct model *m, int32_t i);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private helpers shared by the architecture files (bert.c, distilbert.c,
 * ...) for pulling checked weights out of a model's safetensors.
 */
#ifndef SMOLSERVE_MODELS_MODEL_IMPL_H
#define SMOLSERVE_MODELS_MODEL_IMPL_H

#include "model.h"

/* Name prefixes tried after the bare name ("bert." for model_type bert). */
struct weight_src {
	struct model *m;
	const char *prefixes[2];
	int n_prefixes;
};

/* 1-D (cols == 0) or 2-D tensor `name` of the expected shape. */
int weight_get(const struct weight_src *w, const char *name, int64_t rows, int64_t cols,
               const float **out, char *err, size_t n_err);

/* name.weight (n_out, n_in) and name.bias (n_out) into d. */
int weight_dense(const struct weight_src *w, const char *name, int32_t n_out, int32_t n_in,
                 struct dense *d, char *err, size_t n_err);

/* name.weight and name.bias (n) into ln. */
int weight_layer_norm(const struct weight_src *w, const char *name, int32_t n, float eps,
                      struct layer_norm *ln, char *err, size_t n_err);

/* Where one post-norm layer's weights live, relative to its prefix. */
struct layer_names {
	const char *q, *k, *v, *o, *ln_attn, *ffn_in, *ffn_out, *ln_ffn;
};

/* Every weight of one BERT-style layer named prefix + names->*: q, k, v, o
 * (h, h), ffn_in (ff, h), ffn_out (h, ff), both norms (h). */
int weight_layer(const struct weight_src *w, const char *prefix, const struct layer_names *names,
                 int32_t h, int32_t ff, float eps, struct encoder_layer *L, char *err,
                 size_t n_err);

/* 1 if the tensor name (bare or prefixed) exists. */
int weight_exists(const struct weight_src *w, const char *name);

/* 1 if config.json's architectures[0] ends with suffix. */
int model_arch_is(const struct model *m, const char *suffix);

/* Sets up a classification head whose last layer is `classifier_name`
 * (n_labels, n_in): checks its shape against config's id2label. */
int head_set_classifier(struct model *m, const struct weight_src *w, const char *classifier_name,
                        int32_t n_in, char *err, size_t n_err);

/* BertEmbeddings + BertEncoder under w's prefixes (BERT, ELECTRA,
 * RoBERTa); proj_name names the embedding projection when embedding_size
 * differs from hidden_size (NULL: not allowed). */
int bertlike_encoder(struct model *m, const struct weight_src *w, const char *proj_name, char *err,
                     size_t n_err);

/* The same with the layers' weights named by names under
 * "encoder.layer.<i>." (MPNet, DeBERTa-v2). */
int bertlike_encoder_named(struct model *m, const struct weight_src *w, const char *proj_name,
                           const struct layer_names *names, char *err, size_t n_err);

/* name.weight/.bias (hidden, hidden) + tanh as m->pooler, if present. */
int pooler_wire(struct model *m, const struct weight_src *w, const char *name, char *err,
                size_t n_err);

/* ...ForSequenceClassification: pooler -> "classifier"; or the token
 * classification head; or nothing, by architectures[0]. */
int head_wire_pooled(struct model *m, const struct weight_src *w, char *err, size_t n_err);

/* ...ForSequenceClassification as ELECTRA and RoBERTa head it: first token
 * -> classifier.dense -> act -> classifier.out_proj; else token classifier. */
int head_wire_dense_out(struct model *m, const struct weight_src *w, enum activation act, char *err,
                        size_t n_err);

/* ...ForTokenClassification: "classifier" on every token; else nothing. */
int head_wire_tokcls(struct model *m, const struct weight_src *w, char *err, size_t n_err);

/* A wired tensor waiting for its NaN/Inf check (model.c's check_weights). */
struct weight_check {
	const float *x;
	int64_t n;
	char *name; /* owned */
};

/*
 * The packed backend's layout of m's weights (models/layout.c), in two
 * steps around the NaN/Inf check: layout_begin plans it and, with a cache
 * folder, maps it from the layout cache if a file for these weights is
 * there (m->layout_cache = LAYOUT_CACHE_READ: done, and every tensor in
 * m->checks was checked when that file was written: its key names them
 * all); layout_finish lays out what was not read (and, the check passed,
 * writes the cache file). Both on team.
 */
struct layout_plan;
int layout_begin(struct model *m, struct team *team, const char *cache_dir,
                 struct layout_plan **out, char *err, size_t n_err);
int layout_finish(struct model *m, struct layout_plan *p, struct team *team, char *err,
                  size_t n_err);
void layout_plan_free(struct layout_plan *p);

#endif

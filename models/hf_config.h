/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json of a Hugging Face model folder, read into one plain struct.
 * BertConfig and DistilBertConfig spell the same things differently
 * (hidden_size/dim, num_attention_heads/n_heads, intermediate_size/
 * hidden_dim, hidden_act/activation); both land in the same fields here.
 */
#ifndef SMOLSERVE_MODELS_HF_CONFIG_H
#define SMOLSERVE_MODELS_HF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h" /* enum activation */

enum problem_type {
	PROBLEM_DEFAULT = 0, /* softmax if num_labels > 1, sigmoid if 1 */
	PROBLEM_SINGLE_LABEL,
	PROBLEM_MULTI_LABEL,
	PROBLEM_REGRESSION,
};

#define HF_CONFIG_MAX_ARCHS 4

struct hf_config {
	char model_type[32]; /* "bert", "distilbert", ... */
	char architectures[HF_CONFIG_MAX_ARCHS][64];
	int n_architectures;
	int32_t vocab_size;
	int32_t hidden_size;       /* hidden_size | dim */
	int32_t n_layers;          /* num_hidden_layers | n_layers */
	int32_t n_heads;           /* num_attention_heads | n_heads */
	int32_t intermediate_size; /* intermediate_size | hidden_dim */
	int32_t max_position_embeddings;
	int32_t type_vocab_size; /* 0 for distilbert */
	int32_t embedding_size;  /* == hidden_size unless factorised */
	int32_t pad_token_id;
	float layer_norm_eps; /* 1e-12 default (deberta-v2 1e-7; modernbert: norm_eps, 1e-5) */
	enum activation hidden_act; /* hidden_act | activation | hidden_activation */
	enum problem_type problem_type;
	int sinusoidal_pos_embds;         /* distilbert; unsupported if 1 */
	char position_embedding_type[16]; /* "absolute" */
	/* ALBERT: layers share weights in groups. */
	int32_t num_hidden_groups; /* default 1 */
	int32_t inner_group_num;   /* default 1 */
	/* MobileBERT: bottlenecks around a narrow transformer. */
	int32_t true_hidden_size;         /* default 128 */
	int32_t intra_bottleneck_size;    /* default 128 */
	int32_t num_feedforward_networks; /* default 4 */
	int use_bottleneck;               /* default 1 */
	int use_bottleneck_attention;     /* default 0 */
	int key_query_shared_bottleneck;  /* default 1 */
	int trigram_input;                /* default 1 */
	int classifier_activation;        /* default 1: pooler dense + tanh */
	int no_norm;                      /* normalization_type "no_norm" (default) */
	/* MPNet: rows of MPNetEncoder.relative_attention_bias. */
	int32_t relative_attention_num_buckets; /* default 32 */
	/* DeBERTa-v2 / v3 (DebertaV2Config and the keys it takes as kwargs). */
	int relative_attention;            /* default 0 */
	int32_t max_relative_positions;    /* default -1: max_position_embeddings */
	int32_t position_buckets;          /* default -1: no log buckets */
	int position_biased_input;         /* default 1: absolute position embeddings */
	int pos_att_c2p, pos_att_p2c;      /* pos_att_type holds "c2p" / "p2c" */
	int share_att_key;                 /* default 0 */
	int norm_rel_ebd;                  /* norm_rel_ebd holds "layer_norm" */
	int32_t conv_kernel_size;          /* default 0 (ConvLayer: unsupported) */
	int32_t attention_head_size;       /* default hidden_size / heads */
	int32_t pooler_hidden_size;        /* default hidden_size */
	enum activation pooler_hidden_act; /* default gelu */
	/* ModernBERT (ModernBertConfig). */
	int attention_bias, mlp_bias, norm_bias; /* default 0 */
	int classifier_bias;                     /* default 0 */
	enum activation classifier_act;          /* classifier_activation, default gelu */
	int classifier_pooling_mean;             /* classifier_pooling "mean" (default "cls") */
	float global_rope_theta;                 /* default 160000 */
	float local_rope_theta;                  /* default 10000; null: the global one */
	int32_t global_attn_every_n_layers;      /* default 3 */
	int32_t local_attention;                 /* default 128: window, half on each side */
	int32_t n_labels;                        /* 0 if no id2label */
	char **id2label;                         /* (n_labels) owned */
};

/*
 * Parses the config.json at path. Missing optional fields take
 * transformers' defaults; a missing required field, a wrong JSON type, a
 * non-positive size, hidden_size not divisible by the head count, an
 * unknown activation or id2label keys that are not 0..n-1 are
 * STATUS_EFORMAT with err naming the file and the field. An unknown
 * model_type is STATUS_EUNSUPPORTED naming the supported ones.
 */
int hf_config_load(const char *path, struct hf_config *cfg, char *err, size_t n_err);

void hf_config_dispose(struct hf_config *cfg);

/* "gelu" -> ACT_GELU etc.; -1 if unknown. */
int activation_from_name(const char *name);

#endif

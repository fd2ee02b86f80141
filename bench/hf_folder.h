/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Random-weight Hugging Face model folders for the benchmarks: the shapes
 * of real checkpoints (config.json with the field names of BertConfig,
 * DistilBertConfig, AlbertConfig, MobileBertConfig, MPNetConfig,
 * DebertaV2Config or ModernBertConfig, an F32
 * model.safetensors named as save_pretrained names BertModel /
 * DistilBertModel / AlbertModel / MobileBertModel weights, vocab.txt,
 * tokenizer_config.json), filled from a fixed random stream so every run
 * and every machine sees the same numbers. Also the random stream itself
 * (splitmix64), which the benchmark uses for its workloads.
 */
#ifndef SMOLSERVE_BENCH_HF_FOLDER_H
#define SMOLSERVE_BENCH_HF_FOLDER_H

#include <stddef.h>
#include <stdint.h>

/* Weights, biases ~ U(-r, r); LayerNorm (and NoNorm) gammas 1 + U(-r, r). ALBERT's and
 * MobileBERT's word embedding row 0 ([PAD], their padding_idx) is zero, as in a trained
 * checkpoint: MobileBERT's trigram input sees it at the end of every padded sequence. */
#define HF_WEIGHT_RANGE 0.05f
#define HF_FIRST_ID     5 /* vocab.txt ids below are [PAD] [UNK] [CLS] [SEP] [MASK] */

struct hf_shape {
	const char *name;       /* folder name */
	const char *model_type; /* "bert", "distilbert", "albert", "mobilebert", "mpnet",
	                         * "deberta-v2" or "modernbert" */
	int32_t hidden, n_layers, n_heads, intermediate, vocab_size, max_positions;
	int32_t embedding_size; /* albert, mobilebert: word embedding width */
	int32_t true_hidden;    /* mobilebert: attention width = intra_bottleneck_size */
	int32_t n_ffn;          /* mobilebert: num_feedforward_networks */
};

/* The families beyond BERT's layer, shared by bench_core's table and
 * bench_long: sentence-transformers/all-mpnet-base-v2 (MPNet, 514
 * positions = 512 tokens after its padding index), microsoft/deberta-v3-base
 * (128k vocabulary, relative attention over 256 position buckets),
 * answerdotai/ModernBERT-base (22 layers, GeGLU 1152, 8192 positions). */
#define HF_SHAPE_MPNET_BASE                                                                        \
	{                                                                                          \
		"mpnet-base", "mpnet", 768, 12, 12, 3072, 30527, 514, 0, 0, 0                      \
	}
#define HF_SHAPE_DEBERTA_V3_BASE                                                                   \
	{                                                                                          \
		"deberta-v3-base", "deberta-v2", 768, 12, 12, 3072, 128100, 512, 0, 0, 0           \
	}
#define HF_SHAPE_MODERNBERT_BASE                                                                   \
	{                                                                                          \
		"modernbert-base", "modernbert", 768, 22, 12, 1152, 50368, 8192, 0, 0, 0           \
	}

/*
 * Makes sure dir/<sh->name> holds a complete folder for sh: reused as it is
 * if it has a model.safetensors, else written (weights from seed) into a
 * temporary folder that is renamed into place at the end, so an interrupted
 * run never leaves half a folder. The folder's path goes into out; *written
 * says whether this call wrote it. 0 or STATUS_EIO / STATUS_ENOMEM with err.
 */
int hf_folder_ensure(const char *dir, const struct hf_shape *sh, uint64_t seed, char *out,
                     size_t n_out, int *written, char *err, size_t n_err);

/* out = dir "/" name. 0, or -1 (errno ENAMETOOLONG) if it does not fit. */
int path_join(char *out, size_t n_out, const char *dir, const char *name);

/* mkdir -p. 0 or -1 with errno. */
int mkdir_p(const char *path);

/* splitmix64: the next 64 random bits of the stream *s. */
uint64_t rng_next(uint64_t *s);
/* Uniform float in [lo, hi). */
float rng_uniform(uint64_t *s, float lo, float hi);
/* Uniform integer in [lo, hi]. */
int32_t rng_int(uint64_t *s, int32_t lo, int32_t hi);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the benchmark's random-weight Hugging Face folders (see
 * hf_folder.h). The safetensors writer is the format at its simplest: an
 * 8-byte little-endian header length, a JSON header of {name: {dtype,
 * shape, data_offsets}} padded with spaces to a multiple of 8 (so F32 data
 * is aligned when mmapped), then every tensor's bytes in header order.
 */
#include "hf_folder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

/* splitmix64: a fixed, portable stream (the same on every machine). */
uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

float rng_uniform(uint64_t *s, float lo, float hi)
{
	return lo + (hi - lo) * (float)((double)(rng_next(s) >> 40) / 16777216.0);
}

/* Uniform integer in [lo, hi]. */
int32_t rng_int(uint64_t *s, int32_t lo, int32_t hi)
{
	return lo + (int32_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

int path_join(char *out, size_t n_out, const char *dir, const char *name)
{
	int len = snprintf(out, n_out, "%s/%s", dir, name);
	if (len < 0 || (size_t)len >= n_out) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int mkdir_p(const char *path)
{
	char buf[4096];
	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, strlen(path) + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int file_exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;
	return path_join(path, sizeof(path), dir, name) == 0 && stat(path, &sb) == 0;
}

/* U(-r, r); 1 + U(-r, r); U(-r, r) with row 0 (the padding_idx) zero. */
enum init { INIT_UNIFORM, INIT_GAMMA, INIT_PAD_ROW };

struct st_spec {
	char name[96];
	int64_t shape[2];
	int n_dims;
	enum init init;
};

/* The tensors of one checkpoint, in file order. */
struct st_list {
	struct st_spec *v; /* (cap) owned */
	int n, cap;
};

static int st_add(struct st_list *l, const char *name, int64_t d0, int64_t d1, enum init init)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		struct st_spec *v = realloc(l->v, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return STATUS_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	struct st_spec *t = &l->v[l->n++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->n_dims = d1 > 0 ? 2 : 1;
	t->init = init;
	return 0;
}

/* torch.nn.Linear(n_in, n_out) named prefix.suffix: weight and bias. */
static int st_add_dense(struct st_list *l, const char *prefix, const char *suffix, int64_t n_out,
                        int64_t n_in)
{
	char name[96];
	snprintf(name, sizeof(name), "%s%s.weight", prefix, suffix);
	if (st_add(l, name, n_out, n_in, INIT_UNIFORM) != 0)
		return STATUS_ENOMEM;
	snprintf(name, sizeof(name), "%s%s.bias", prefix, suffix);
	return st_add(l, name, n_out, 0, INIT_UNIFORM);
}

static int st_add_norm(struct st_list *l, const char *prefix, const char *suffix, int64_t n)
{
	char name[96];
	snprintf(name, sizeof(name), "%s%s.weight", prefix, suffix);
	if (st_add(l, name, n, 0, INIT_GAMMA) != 0)
		return STATUS_ENOMEM;
	snprintf(name, sizeof(name), "%s%s.bias", prefix, suffix);
	return st_add(l, name, n, 0, INIT_UNIFORM);
}

/* BertModel / DistilBertModel: hidden-wide embeddings and layers. */
static int st_list_bert(struct st_list *l, const struct hf_shape *sh)
{
	int bert = strcmp(sh->model_type, "bert") == 0;
	int64_t h = sh->hidden, ff = sh->intermediate;
	int rc = 0;
	rc |= st_add(l, "embeddings.word_embeddings.weight", sh->vocab_size, h, INIT_UNIFORM);
	rc |=
	    st_add(l, "embeddings.position_embeddings.weight", sh->max_positions, h, INIT_UNIFORM);
	if (bert)
		rc |= st_add(l, "embeddings.token_type_embeddings.weight", 2, h, INIT_UNIFORM);
	rc |= st_add_norm(l, "embeddings.", "LayerNorm", h);
	for (int i = 0; i < sh->n_layers && rc == 0; i++) {
		char p[64];
		if (bert) {
			snprintf(p, sizeof(p), "encoder.layer.%d.", i);
			rc |= st_add_dense(l, p, "attention.self.query", h, h);
			rc |= st_add_dense(l, p, "attention.self.key", h, h);
			rc |= st_add_dense(l, p, "attention.self.value", h, h);
			rc |= st_add_dense(l, p, "attention.output.dense", h, h);
			rc |= st_add_norm(l, p, "attention.output.LayerNorm", h);
			rc |= st_add_dense(l, p, "intermediate.dense", ff, h);
			rc |= st_add_dense(l, p, "output.dense", h, ff);
			rc |= st_add_norm(l, p, "output.LayerNorm", h);
		} else {
			snprintf(p, sizeof(p), "transformer.layer.%d.", i);
			rc |= st_add_dense(l, p, "attention.q_lin", h, h);
			rc |= st_add_dense(l, p, "attention.k_lin", h, h);
			rc |= st_add_dense(l, p, "attention.v_lin", h, h);
			rc |= st_add_dense(l, p, "attention.out_lin", h, h);
			rc |= st_add_norm(l, p, "sa_layer_norm", h);
			rc |= st_add_dense(l, p, "ffn.lin1", ff, h);
			rc |= st_add_dense(l, p, "ffn.lin2", h, ff);
			rc |= st_add_norm(l, p, "output_layer_norm", h);
		}
	}
	if (bert)
		rc |= st_add_dense(l, "", "pooler.dense", h, h);
	return rc;
}

/*
 * AlbertModel (num_hidden_groups 1, inner_group_num 1): embedding_size-wide
 * embeddings, their projection to hidden, and one layer's weights that all
 * num_hidden_layers layers run.
 */
static int st_list_albert(struct st_list *l, const struct hf_shape *sh)
{
	const char *p = "encoder.albert_layer_groups.0.albert_layers.0.";
	int64_t h = sh->hidden, ff = sh->intermediate, es = sh->embedding_size;
	int rc = 0;
	rc |= st_add(l, "embeddings.word_embeddings.weight", sh->vocab_size, es, INIT_PAD_ROW);
	rc |=
	    st_add(l, "embeddings.position_embeddings.weight", sh->max_positions, es, INIT_UNIFORM);
	rc |= st_add(l, "embeddings.token_type_embeddings.weight", 2, es, INIT_UNIFORM);
	rc |= st_add_norm(l, "embeddings.", "LayerNorm", es);
	rc |= st_add_dense(l, "encoder.", "embedding_hidden_mapping_in", h, es);
	rc |= st_add_dense(l, p, "attention.query", h, h);
	rc |= st_add_dense(l, p, "attention.key", h, h);
	rc |= st_add_dense(l, p, "attention.value", h, h);
	rc |= st_add_dense(l, p, "attention.dense", h, h);
	rc |= st_add_norm(l, p, "attention.LayerNorm", h);
	rc |= st_add_dense(l, p, "ffn", ff, h);
	rc |= st_add_dense(l, p, "ffn_output", h, ff);
	rc |= st_add_norm(l, p, "full_layer_layer_norm", h);
	rc |= st_add_dense(l, "", "pooler", h, h);
	return rc;
}

/*
 * MobileBertModel with use_bottleneck, key_query_shared_bottleneck and
 * trigram_input (google/mobilebert-uncased): trigram embeddings projected
 * by embedding_transformation (hidden, 3 * embedding_size); per layer the
 * input and attention bottlenecks (hidden -> true_hidden), query and key
 * from the shared bottleneck, value from the hidden state, n_ffn - 1 extra
 * feed-forward blocks, and the output bottleneck back to hidden.
 */
static int st_list_mobilebert(struct st_list *l, const struct hf_shape *sh)
{
	int64_t h = sh->hidden, ff = sh->intermediate, es = sh->embedding_size;
	int64_t tr = sh->true_hidden;
	int rc = 0;
	rc |= st_add(l, "embeddings.word_embeddings.weight", sh->vocab_size, es, INIT_PAD_ROW);
	rc |= st_add_dense(l, "embeddings.", "embedding_transformation", h, 3 * es);
	rc |=
	    st_add(l, "embeddings.position_embeddings.weight", sh->max_positions, h, INIT_UNIFORM);
	rc |= st_add(l, "embeddings.token_type_embeddings.weight", 2, h, INIT_UNIFORM);
	rc |= st_add_norm(l, "embeddings.", "LayerNorm", h);
	for (int i = 0; i < sh->n_layers && rc == 0; i++) {
		char p[64], f[64];
		snprintf(p, sizeof(p), "encoder.layer.%d.", i);
		rc |= st_add_dense(l, p, "bottleneck.input.dense", tr, h);
		rc |= st_add_norm(l, p, "bottleneck.input.LayerNorm", tr);
		rc |= st_add_dense(l, p, "bottleneck.attention.dense", tr, h);
		rc |= st_add_norm(l, p, "bottleneck.attention.LayerNorm", tr);
		rc |= st_add_dense(l, p, "attention.self.query", tr, tr);
		rc |= st_add_dense(l, p, "attention.self.key", tr, tr);
		rc |= st_add_dense(l, p, "attention.self.value", tr, h);
		rc |= st_add_dense(l, p, "attention.output.dense", tr, tr);
		rc |= st_add_norm(l, p, "attention.output.LayerNorm", tr);
		for (int j = 0; j < sh->n_ffn - 1; j++) {
			snprintf(f, sizeof(f), "encoder.layer.%d.ffn.%d.", i, j);
			rc |= st_add_dense(l, f, "intermediate.dense", ff, tr);
			rc |= st_add_dense(l, f, "output.dense", tr, ff);
			rc |= st_add_norm(l, f, "output.LayerNorm", tr);
		}
		rc |= st_add_dense(l, p, "intermediate.dense", ff, tr);
		rc |= st_add_dense(l, p, "output.dense", tr, ff);
		rc |= st_add_norm(l, p, "output.LayerNorm", tr);
		rc |= st_add_dense(l, p, "output.bottleneck.dense", h, tr);
		rc |= st_add_norm(l, p, "output.bottleneck.LayerNorm", h);
	}
	rc |= st_add_dense(l, "", "pooler.dense", h, h);
	return rc;
}

/* torch.nn.Linear without bias (ModernBERT's). */
static int st_add_weight(struct st_list *l, const char *prefix, const char *suffix, int64_t n_out,
                         int64_t n_in)
{
	char name[96];
	snprintf(name, sizeof(name), "%s%s.weight", prefix, suffix);
	return st_add(l, name, n_out, n_in, INIT_UNIFORM);
}

/* One BERT-style post-norm layer under the given names (MPNet, DeBERTa-v2). */
static int st_add_postnorm_layer(struct st_list *l, const char *p, const char *const names[8],
                                 int64_t h, int64_t ff)
{
	int rc = 0;
	for (int i = 0; i < 4; i++)
		rc |= st_add_dense(l, p, names[i], h, h);
	rc |= st_add_norm(l, p, names[4], h);
	rc |= st_add_dense(l, p, names[5], ff, h);
	rc |= st_add_dense(l, p, names[6], h, ff);
	rc |= st_add_norm(l, p, names[7], h);
	return rc;
}

/* MPNetModel (microsoft/mpnet-base): BERT's embeddings without types, the
 * layers under attention.attn.*, the shared relative_attention_bias. */
static int st_list_mpnet(struct st_list *l, const struct hf_shape *sh)
{
	static const char *const names[8] = {
	    "attention.attn.q",    "attention.attn.k",   "attention.attn.v", "attention.attn.o",
	    "attention.LayerNorm", "intermediate.dense", "output.dense",     "output.LayerNorm"};
	int64_t h = sh->hidden, ff = sh->intermediate;
	int rc = 0;
	rc |= st_add(l, "embeddings.word_embeddings.weight", sh->vocab_size, h, INIT_UNIFORM);
	rc |=
	    st_add(l, "embeddings.position_embeddings.weight", sh->max_positions, h, INIT_UNIFORM);
	rc |= st_add_norm(l, "embeddings.", "LayerNorm", h);
	for (int i = 0; i < sh->n_layers && rc == 0; i++) {
		char p[64];
		snprintf(p, sizeof(p), "encoder.layer.%d.", i);
		rc |= st_add_postnorm_layer(l, p, names, h, ff);
	}
	rc |= st_add(l, "encoder.relative_attention_bias.weight", 32, sh->n_heads, INIT_UNIFORM);
	rc |= st_add_dense(l, "", "pooler.dense", h, h);
	return rc;
}

/* DebertaV2Model with DeBERTa-v3's settings (relative_attention,
 * position_buckets 256, norm_rel_ebd layer_norm, no absolute positions). */
static int st_list_deberta(struct st_list *l, const struct hf_shape *sh)
{
	static const char *const names[8] = {"attention.self.query_proj",
	                                     "attention.self.key_proj",
	                                     "attention.self.value_proj",
	                                     "attention.output.dense",
	                                     "attention.output.LayerNorm",
	                                     "intermediate.dense",
	                                     "output.dense",
	                                     "output.LayerNorm"};
	int64_t h = sh->hidden, ff = sh->intermediate;
	int rc = 0;
	rc |= st_add(l, "embeddings.word_embeddings.weight", sh->vocab_size, h, INIT_UNIFORM);
	rc |= st_add_norm(l, "embeddings.", "LayerNorm", h);
	for (int i = 0; i < sh->n_layers && rc == 0; i++) {
		char p[64];
		snprintf(p, sizeof(p), "encoder.layer.%d.", i);
		rc |= st_add_postnorm_layer(l, p, names, h, ff);
	}
	rc |= st_add(l, "encoder.rel_embeddings.weight", 2 * 256, h, INIT_UNIFORM);
	rc |= st_add_norm(l, "encoder.", "LayerNorm", h);
	return rc;
}

/* ModernBertModel (answerdotai/ModernBERT-base): no biases, fused Wqkv,
 * GeGLU Wi, no attention norm on layer 0, final_norm. */
static int st_list_modernbert(struct st_list *l, const struct hf_shape *sh)
{
	int64_t h = sh->hidden, ff = sh->intermediate;
	char name[96];
	int rc = 0;
	rc |= st_add(l, "embeddings.tok_embeddings.weight", sh->vocab_size, h, INIT_UNIFORM);
	rc |= st_add(l, "embeddings.norm.weight", h, 0, INIT_GAMMA);
	for (int i = 0; i < sh->n_layers && rc == 0; i++) {
		char p[64];
		snprintf(p, sizeof(p), "layers.%d.", i);
		if (i > 0) {
			snprintf(name, sizeof(name), "%sattn_norm.weight", p);
			rc |= st_add(l, name, h, 0, INIT_GAMMA);
		}
		rc |= st_add_weight(l, p, "attn.Wqkv", 3 * h, h);
		rc |= st_add_weight(l, p, "attn.Wo", h, h);
		snprintf(name, sizeof(name), "%smlp_norm.weight", p);
		rc |= st_add(l, name, h, 0, INIT_GAMMA);
		rc |= st_add_weight(l, p, "mlp.Wi", 2 * ff, h);
		rc |= st_add_weight(l, p, "mlp.Wo", h, ff);
	}
	rc |= st_add(l, "final_norm.weight", h, 0, INIT_GAMMA);
	return rc;
}

/* The state dict of sh's model class as save_pretrained names it. */
static int st_list_build(struct st_list *l, const struct hf_shape *sh)
{
	int rc;
	if (strcmp(sh->model_type, "albert") == 0)
		rc = st_list_albert(l, sh);
	else if (strcmp(sh->model_type, "mobilebert") == 0)
		rc = st_list_mobilebert(l, sh);
	else if (strcmp(sh->model_type, "mpnet") == 0)
		rc = st_list_mpnet(l, sh);
	else if (strcmp(sh->model_type, "deberta-v2") == 0)
		rc = st_list_deberta(l, sh);
	else if (strcmp(sh->model_type, "modernbert") == 0)
		rc = st_list_modernbert(l, sh);
	else
		rc = st_list_bert(l, sh);
	return rc != 0 ? STATUS_ENOMEM : 0;
}

/*
 * Writes path as safetensors: u64 LE header length, the JSON header
 * (padded with spaces to a multiple of 8 so F32 data stays aligned), then
 * every tensor's data, generated from the stream seeded with seed.
 */
static int safetensors_write(const char *path, const struct st_list *l, uint64_t seed, char *err,
                             size_t n_err)
{
	size_t cap = 128 + (size_t)l->n * 192, used = 0;
	char *hdr = malloc(cap + 8);
	float *buf = malloc(65536 * sizeof(float));
	FILE *f = NULL;
	int rc = STATUS_ENOMEM;
	if (hdr == NULL || buf == NULL)
		goto fail;
	used += (size_t)snprintf(hdr, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
	uint64_t off = 0;
	for (int i = 0; i < l->n; i++) {
		const struct st_spec *t = &l->v[i];
		uint64_t n = (uint64_t)t->shape[0] * (uint64_t)(t->n_dims == 2 ? t->shape[1] : 1);
		char dims[48];
		if (t->n_dims == 2)
			snprintf(dims, sizeof(dims), "%lld,%lld", (long long)t->shape[0],
			         (long long)t->shape[1]);
		else
			snprintf(dims, sizeof(dims), "%lld", (long long)t->shape[0]);
		used += (size_t)snprintf(hdr + used, cap - used,
		                         ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],"
		                         "\"data_offsets\":[%llu,%llu]}",
		                         t->name, dims, (unsigned long long)off,
		                         (unsigned long long)(off + 4 * n));
		off += 4 * n;
	}
	used += (size_t)snprintf(hdr + used, cap - used, "}");
	while (used % 8 != 0)
		hdr[used++] = ' ';

	rc = STATUS_EIO;
	if ((f = fopen(path, "wb")) == NULL)
		goto fail;
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(((uint64_t)used >> (8 * i)) & 0xff);
	if (fwrite(len, 1, 8, f) != 8 || fwrite(hdr, 1, used, f) != used)
		goto fail;
	uint64_t rng = seed;
	for (int i = 0; i < l->n; i++) {
		const struct st_spec *t = &l->v[i];
		size_t left = (size_t)t->shape[0] * (size_t)(t->n_dims == 2 ? t->shape[1] : 1);
		size_t zeros = t->init == INIT_PAD_ROW ? (size_t)t->shape[1] : 0;
		float base = t->init == INIT_GAMMA ? 1.0f : 0.0f;
		for (size_t done = 0; left > 0; done += 65536) {
			size_t n = left < 65536 ? left : 65536;
			for (size_t j = 0; j < n; j++)
				buf[j] =
				    base + rng_uniform(&rng, -HF_WEIGHT_RANGE, HF_WEIGHT_RANGE);
			for (size_t j = done; j < zeros && j - done < n; j++)
				buf[j - done] = 0.0f;
			if (fwrite(buf, sizeof(float), n, f) != n)
				goto fail;
			left -= n;
		}
	}
	if (fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	free(hdr);
	free(buf);
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	free(hdr);
	free(buf);
	return status_fail(err, n_err, rc, "%s: %s", path,
	                   rc == STATUS_EIO ? strerror(errno) : "out of memory");
}

static int write_text(const char *dir, const char *name, const char *text, char *err, size_t n_err)
{
	char path[4096];
	FILE *f = NULL;
	if (path_join(path, sizeof(path), dir, name) != 0 || (f = fopen(path, "w")) == NULL)
		return status_fail(err, n_err, STATUS_EIO, "%s/%s: %s", dir, name, strerror(errno));
	int ok = fputs(text, f) >= 0;
	if (fclose(f) != 0 || !ok)
		return status_fail(err, n_err, STATUS_EIO, "%s: write failed", path);
	return 0;
}

/* config.json of MPNetConfig, DebertaV2Config (v3's settings) or
 * ModernBertConfig (ModernBERT-base's settings); 0 if sh is none of them. */
static int family_config(char *text, size_t n, const struct hf_shape *sh)
{
	const char *t = sh->model_type;
	if (strcmp(t, "mpnet") == 0)
		return snprintf(
		    text, n,
		    "{\n  \"architectures\": [\"MPNetModel\"],\n  \"model_type\": \"mpnet\",\n"
		    "  \"hidden_size\": %d,\n  \"num_hidden_layers\": %d,\n"
		    "  \"num_attention_heads\": %d,\n  \"intermediate_size\": %d,\n"
		    "  \"hidden_act\": \"gelu\",\n  \"vocab_size\": %d,\n"
		    "  \"max_position_embeddings\": %d,\n  \"layer_norm_eps\": 1e-05,\n"
		    "  \"relative_attention_num_buckets\": 32,\n  \"pad_token_id\": 1,\n"
		    "  \"bos_token_id\": 0,\n  \"eos_token_id\": 2,\n  \"torch_dtype\": "
		    "\"float32\"\n}\n",
		    sh->hidden, sh->n_layers, sh->n_heads, sh->intermediate, sh->vocab_size,
		    sh->max_positions);
	if (strcmp(t, "deberta-v2") == 0)
		return snprintf(
		    text, n,
		    "{\n  \"architectures\": [\"DebertaV2Model\"],\n  \"model_type\": "
		    "\"deberta-v2\",\n"
		    "  \"hidden_size\": %d,\n  \"num_hidden_layers\": %d,\n"
		    "  \"num_attention_heads\": %d,\n  \"intermediate_size\": %d,\n"
		    "  \"hidden_act\": \"gelu\",\n  \"vocab_size\": %d,\n"
		    "  \"max_position_embeddings\": %d,\n  \"layer_norm_eps\": 1e-07,\n"
		    "  \"relative_attention\": true,\n  \"max_relative_positions\": -1,\n"
		    "  \"position_buckets\": 256,\n  \"pos_att_type\": [\"p2c\", \"c2p\"],\n"
		    "  \"share_att_key\": true,\n  \"norm_rel_ebd\": \"layer_norm\",\n"
		    "  \"position_biased_input\": false,\n  \"type_vocab_size\": 0,\n"
		    "  \"pad_token_id\": 0,\n  \"pooler_hidden_act\": \"gelu\",\n"
		    "  \"torch_dtype\": \"float32\"\n}\n",
		    sh->hidden, sh->n_layers, sh->n_heads, sh->intermediate, sh->vocab_size,
		    sh->max_positions);
	if (strcmp(t, "modernbert") == 0)
		return snprintf(
		    text, n,
		    "{\n  \"architectures\": [\"ModernBertModel\"],\n  \"model_type\": "
		    "\"modernbert\",\n"
		    "  \"hidden_size\": %d,\n  \"num_hidden_layers\": %d,\n"
		    "  \"num_attention_heads\": %d,\n  \"intermediate_size\": %d,\n"
		    "  \"hidden_activation\": \"gelu\",\n  \"vocab_size\": %d,\n"
		    "  \"max_position_embeddings\": %d,\n  \"norm_eps\": 1e-05,\n"
		    "  \"norm_bias\": false,\n  \"attention_bias\": false,\n  \"mlp_bias\": "
		    "false,\n"
		    "  \"global_rope_theta\": 160000.0,\n  \"local_rope_theta\": 10000.0,\n"
		    "  \"global_attn_every_n_layers\": 3,\n  \"local_attention\": 128,\n"
		    "  \"pad_token_id\": 0,\n  \"torch_dtype\": \"float32\"\n}\n",
		    sh->hidden, sh->n_layers, sh->n_heads, sh->intermediate, sh->vocab_size,
		    sh->max_positions);
	return 0;
}

/* config.json with the field names of sh's config class (BertConfig,
 * DistilBertConfig, AlbertConfig, MobileBertConfig). */
static int write_config(const char *dir, const struct hf_shape *sh, char *err, size_t n_err)
{
	char text[2048];
	if (family_config(text, sizeof(text), sh) > 0)
		return write_text(dir, "config.json", text, err, n_err);
	if (strcmp(sh->model_type, "bert") == 0)
		snprintf(text, sizeof(text),
		         "{\n  \"architectures\": [\"BertModel\"],\n  \"model_type\": \"bert\",\n"
		         "  \"hidden_size\": %d,\n  \"num_hidden_layers\": %d,\n"
		         "  \"num_attention_heads\": %d,\n  \"intermediate_size\": %d,\n"
		         "  \"hidden_act\": \"gelu\",\n  \"vocab_size\": %d,\n"
		         "  \"max_position_embeddings\": %d,\n  \"type_vocab_size\": 2,\n"
		         "  \"layer_norm_eps\": 1e-12,\n  \"pad_token_id\": 0,\n"
		         "  \"position_embedding_type\": \"absolute\",\n"
		         "  \"torch_dtype\": \"float32\"\n}\n",
		         sh->hidden, sh->n_layers, sh->n_heads, sh->intermediate, sh->vocab_size,
		         sh->max_positions);
	else if (strcmp(sh->model_type, "distilbert") == 0)
		snprintf(text, sizeof(text),
		         "{\n  \"architectures\": [\"DistilBertModel\"],\n"
		         "  \"model_type\": \"distilbert\",\n  \"dim\": %d,\n  \"n_layers\": %d,\n"
		         "  \"n_heads\": %d,\n  \"hidden_dim\": %d,\n  \"activation\": \"gelu\",\n"
		         "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n"
		         "  \"sinusoidal_pos_embds\": false,\n  \"pad_token_id\": 0,\n"
		         "  \"torch_dtype\": \"float32\"\n}\n",
		         sh->hidden, sh->n_layers, sh->n_heads, sh->intermediate, sh->vocab_size,
		         sh->max_positions);
	else if (strcmp(sh->model_type, "albert") == 0)
		snprintf(
		    text, sizeof(text),
		    "{\n  \"architectures\": [\"AlbertModel\"],\n  \"model_type\": \"albert\",\n"
		    "  \"vocab_size\": %d,\n  \"embedding_size\": %d,\n  \"hidden_size\": %d,\n"
		    "  \"num_hidden_layers\": %d,\n  \"num_hidden_groups\": 1,\n"
		    "  \"num_attention_heads\": %d,\n  \"intermediate_size\": %d,\n"
		    "  \"inner_group_num\": 1,\n  \"hidden_act\": \"gelu_new\",\n"
		    "  \"max_position_embeddings\": %d,\n  \"type_vocab_size\": 2,\n"
		    "  \"layer_norm_eps\": 1e-12,\n  \"pad_token_id\": 0,\n"
		    "  \"bos_token_id\": 2,\n  \"eos_token_id\": 3,\n"
		    "  \"position_embedding_type\": \"absolute\",\n"
		    "  \"torch_dtype\": \"float32\"\n}\n",
		    sh->vocab_size, sh->embedding_size, sh->hidden, sh->n_layers, sh->n_heads,
		    sh->intermediate, sh->max_positions);
	else
		snprintf(text, sizeof(text),
		         "{\n  \"architectures\": [\"MobileBertModel\"],\n"
		         "  \"model_type\": \"mobilebert\",\n  \"vocab_size\": %d,\n"
		         "  \"embedding_size\": %d,\n  \"hidden_size\": %d,\n"
		         "  \"true_hidden_size\": %d,\n  \"intra_bottleneck_size\": %d,\n"
		         "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n"
		         "  \"intermediate_size\": %d,\n  \"hidden_act\": \"relu\",\n"
		         "  \"num_feedforward_networks\": %d,\n  \"use_bottleneck\": true,\n"
		         "  \"use_bottleneck_attention\": false,\n"
		         "  \"key_query_shared_bottleneck\": true,\n  \"trigram_input\": true,\n"
		         "  \"normalization_type\": \"no_norm\",\n"
		         "  \"classifier_activation\": true,\n"
		         "  \"max_position_embeddings\": %d,\n  \"type_vocab_size\": 2,\n"
		         "  \"layer_norm_eps\": 1e-12,\n  \"pad_token_id\": 0,\n"
		         "  \"torch_dtype\": \"float32\"\n}\n",
		         sh->vocab_size, sh->embedding_size, sh->hidden, sh->true_hidden,
		         sh->true_hidden, sh->n_layers, sh->n_heads, sh->intermediate, sh->n_ffn,
		         sh->max_positions);
	return write_text(dir, "config.json", text, err, n_err);
}

/* tokenizer_class of the stand-in WordPiece tokenizer. ALBERT's own is a
 * SentencePiece AlbertTokenizer (spiece.model); the benchmark feeds token
 * ids, so a vocab.txt of the same size stands in for it. */
static const char *tokenizer_class(const struct hf_shape *sh)
{
	if (strcmp(sh->model_type, "distilbert") == 0)
		return "DistilBertTokenizer";
	if (strcmp(sh->model_type, "mobilebert") == 0)
		return "MobileBertTokenizer";
	return "BertTokenizer";
}

static int write_tokenizer(const char *dir, const struct hf_shape *sh, char *err, size_t n_err)
{
	char path[4096], text[512];
	FILE *f = NULL;
	if (path_join(path, sizeof(path), dir, "vocab.txt") != 0 || (f = fopen(path, "w")) == NULL)
		return status_fail(err, n_err, STATUS_EIO, "%s: %s", path, strerror(errno));
	int ok = fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f) >= 0;
	for (int32_t i = HF_FIRST_ID; i < sh->vocab_size && ok; i++)
		ok = fprintf(f, "tok%d\n", (int)i) > 0;
	if (fclose(f) != 0 || !ok)
		return status_fail(err, n_err, STATUS_EIO, "%s: write failed", path);
	snprintf(text, sizeof(text),
	         "{\n  \"tokenizer_class\": \"%s\",\n  \"do_lower_case\": true,\n"
	         "  \"model_max_length\": %d,\n  \"cls_token\": \"[CLS]\",\n"
	         "  \"sep_token\": \"[SEP]\",\n  \"pad_token\": \"[PAD]\",\n"
	         "  \"unk_token\": \"[UNK]\",\n  \"mask_token\": \"[MASK]\"\n}\n",
	         tokenizer_class(sh), sh->max_positions);
	return write_text(dir, "tokenizer_config.json", text, err, n_err);
}

static const char *const FOLDER_FILES[] = {"model.safetensors", "config.json", "vocab.txt",
                                           "tokenizer_config.json"};

/* Removes what hf_folder_ensure may have written into tmp. */
static void remove_tmp(const char *tmp)
{
	char path[4096];
	for (size_t i = 0; i < sizeof(FOLDER_FILES) / sizeof(FOLDER_FILES[0]); i++)
		if (path_join(path, sizeof(path), tmp, FOLDER_FILES[i]) == 0)
			unlink(path);
	rmdir(tmp);
}

int hf_folder_ensure(const char *dir, const struct hf_shape *sh, uint64_t seed, char *out,
                     size_t n_out, int *written, char *err, size_t n_err)
{
	char tmp[4096], leaf[128], path[4096];
	struct st_list l = {0};
	int rc = STATUS_EIO;
	*written = 0;
	snprintf(leaf, sizeof(leaf), ".%.64s.tmp%ld", sh->name, (long)getpid());
	if (path_join(out, n_out, dir, sh->name) != 0 ||
	    path_join(tmp, sizeof(tmp), dir, leaf) != 0)
		return status_fail(err, n_err, STATUS_EIO, "%s: path too long", dir);
	if (file_exists(out, "model.safetensors"))
		return 0;
	if (mkdir_p(tmp) != 0)
		return status_fail(err, n_err, STATUS_EIO, "%s: %s", tmp, strerror(errno));
	if ((rc = st_list_build(&l, sh)) != 0)
		goto fail;
	if (path_join(path, sizeof(path), tmp, FOLDER_FILES[0]) != 0) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: path too long", tmp);
		goto fail;
	}
	if ((rc = safetensors_write(path, &l, seed, err, n_err)) != 0 ||
	    (rc = write_config(tmp, sh, err, n_err)) != 0 ||
	    (rc = write_tokenizer(tmp, sh, err, n_err)) != 0)
		goto fail;
	if (rename(tmp, out) != 0) {
		rc = status_fail(err, n_err, STATUS_EIO, "rename %s -> %s: %s", tmp, out,
		                 strerror(errno));
		goto fail;
	}
	*written = 1;
	free(l.v);
	return 0;
fail:
	remove_tmp(tmp);
	free(l.v);
	return rc;
}

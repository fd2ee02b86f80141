/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json reader (see hf_config.h). Each supported model_type is one row
 * of model_specs: which keys that family's config class uses for the shared
 * fields and which of them have transformers defaults. Adding an
 * architecture that reads config.json like BERT is adding a row.
 *
 * Required (no default here, so a hand-edited config cannot silently get
 * bert-base sizes): model_type, vocab_size, and for bert the four size
 * fields. Everything else takes the defaults of transformers'
 * BertConfig / DistilBertConfig. An optional field set to null counts as
 * absent. When id2label is absent, num_labels (if present) makes labels
 * LABEL_0..; with neither, n_labels is 0 (transformers would assume 2).
 */
#include "hf_config.h"

#include "status.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* More labels than this from num_labels alone is taken as a typo. */
#define MAX_NUM_LABELS (1 << 20)

struct model_spec {
	const char *model_type;
	const char *k_hidden, *k_layers, *k_heads, *k_inter, *k_act;
	int32_t def_hidden, def_layers, def_heads, def_inter; /* 0: required */
	int has_token_types; /* reads type_vocab_size (default 2); else 0 */
	int has_eps;         /* reads layer_norm_eps; else fixed 1e-12 */
	int has_pos_type;    /* reads position_embedding_type */
	int has_sinusoidal;  /* reads sinusoidal_pos_embds */
};

/* The supported model types, and nothing else. */
static const struct model_spec model_specs[] = {
    {"bert", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 1, 1, 1, 0},
    {"distilbert", "dim", "n_layers", "n_heads", "hidden_dim", "activation", 768, 6, 12, 3072, 0, 0,
     0, 1},
    {"electra", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 1, 1, 1, 0},
    {"roberta", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 1, 1, 1, 0},
    {"xlm-roberta", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 1, 1, 1, 0},
    {"albert", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 1, 1, 1, 0},
    {"mobilebert", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 1, 1, 0, 0},
    {"mpnet", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 0, 1, 0, 0},
    {"deberta-v2", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_act", 0, 0, 0, 0, 0, 1, 0, 0},
    {"modernbert", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
     "hidden_activation", 0, 0, 0, 0, 0, 0, 0, 0},
};
#define N_MODEL_SPECS (sizeof(model_specs) / sizeof(model_specs[0]))

static const struct {
	const char *name;
	enum activation act;
} activations[] = {
    {"gelu", ACT_GELU},           {"gelu_new", ACT_GELU_TANH}, {"gelu_pytorch_tanh", ACT_GELU_TANH},
    {"gelu_fast", ACT_GELU_TANH}, {"relu", ACT_RELU},          {"tanh", ACT_TANH},
};

static const struct {
	const char *name;
	enum problem_type type;
} problem_types[] = {
    {"single_label_classification", PROBLEM_SINGLE_LABEL},
    {"multi_label_classification", PROBLEM_MULTI_LABEL},
    {"regression", PROBLEM_REGRESSION},
};

static const char *const position_types[] = {"absolute", "relative_key", "relative_key_query"};

/* What hf_config_load is reading, for error messages. */
struct reader {
	const char *path;
	const json_t *root;
	char *err;
	size_t n_err;
};

int activation_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(activations) / sizeof(activations[0]); i++)
		if (strcmp(activations[i].name, name) == 0)
			return (int)activations[i].act;
	return -1;
}

/* A short rendering of a JSON value for "got ..." in messages. */
static const char *describe(const json_t *v, char *buf, size_t n_buf)
{
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		snprintf(buf, n_buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, n_buf, "%g", json_real_value(v));
		break;
	case JSON_STRING:
		snprintf(buf, n_buf, "\"%.40s\"", json_string_value(v));
		break;
	case JSON_OBJECT:
		snprintf(buf, n_buf, "an object");
		break;
	case JSON_ARRAY:
		snprintf(buf, n_buf, "an array");
		break;
	case JSON_TRUE:
		snprintf(buf, n_buf, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, n_buf, "false");
		break;
	default:
		snprintf(buf, n_buf, "null");
		break;
	}
	return buf;
}

/* key's value, or NULL if absent or null. */
static const json_t *get(const struct reader *r, const char *key)
{
	const json_t *v = json_object_get(r->root, key);
	return json_is_null(v) ? NULL : v;
}

/*
 * Integer field key into *out: def when absent (EFORMAT if required), else
 * it must be an integer in [min, INT32_MAX].
 */
static int read_int(const struct reader *r, const char *key, int required, int32_t def, int32_t min,
                    int32_t *out)
{
	const json_t *v = get(r, key);
	char got[64];
	int rc;

	if (v == NULL && required) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: required field \"%s\" is missing", r->path, key);
		goto fail;
	}
	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > INT32_MAX) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: \"%s\" must be an integer >= %d, got %s", r->path, key, min,
		                 describe(v, got, sizeof(got)));
		goto fail;
	}
	*out = (int32_t)json_integer_value(v);
	return 0;
fail:
	return rc;
}

/* String field key, or def when absent; EFORMAT if not a string. */
static int read_str(const struct reader *r, const char *key, const char *def, const char **out)
{
	const json_t *v = get(r, key);
	char got[64];

	if (v != NULL && !json_is_string(v))
		return status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                   "%s: \"%s\" must be a string, got %s", r->path, key,
		                   describe(v, got, sizeof(got)));
	*out = v != NULL ? json_string_value(v) : def;
	return 0;
}

/* model_type must name a row of model_specs. */
static int read_model_type(const struct reader *r, struct hf_config *cfg,
                           const struct model_spec **spec)
{
	const char *type = NULL;
	char supported[128] = "";
	int rc;

	rc = read_str(r, "model_type", NULL, &type);
	if (rc == 0 && type == NULL)
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: required field \"model_type\" is missing", r->path);
	if (rc != 0)
		goto fail;
	for (size_t i = 0; i < N_MODEL_SPECS; i++) {
		if (strcmp(model_specs[i].model_type, type) == 0) {
			*spec = &model_specs[i];
			snprintf(cfg->model_type, sizeof(cfg->model_type), "%s", type);
			return 0;
		}
		size_t used = strlen(supported);
		snprintf(supported + used, sizeof(supported) - used, "%s%s", i ? ", " : "",
		         model_specs[i].model_type);
	}
	rc = status_fail(r->err, r->n_err, STATUS_EUNSUPPORTED,
	                 "%s: model_type \"%.40s\" is not supported (supported: %s)", r->path, type,
	                 supported);
fail:
	return rc;
}

/* architectures: optional array of strings; the first few are kept. */
static int read_architectures(const struct reader *r, struct hf_config *cfg)
{
	const json_t *archs = get(r, "architectures");
	char got[64];
	int rc;

	if (archs == NULL)
		return 0;
	if (!json_is_array(archs)) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: \"architectures\" must be an array, got %s", r->path,
		                 describe(archs, got, sizeof(got)));
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(archs); i++) {
		const json_t *a = json_array_get(archs, i);
		if (!json_is_string(a) || json_string_length(a) >= sizeof(cfg->architectures[0])) {
			rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
			                 "%s: architectures[%zu] must be a string of at most %zu "
			                 "bytes, got %s",
			                 r->path, i, sizeof(cfg->architectures[0]) - 1,
			                 describe(a, got, sizeof(got)));
			goto fail;
		}
		if (cfg->n_architectures < HF_CONFIG_MAX_ARCHS)
			snprintf(cfg->architectures[cfg->n_architectures++],
			         sizeof(cfg->architectures[0]), "%s", json_string_value(a));
	}
	return 0;
fail:
	return rc;
}

/* The sizes, under the spelling of spec's family. */
static int read_sizes(const struct reader *r, const struct model_spec *spec, struct hf_config *cfg)
{
	int rc;

	if ((rc = read_int(r, "vocab_size", 1, 0, 1, &cfg->vocab_size)) != 0 ||
	    (rc = read_int(r, spec->k_hidden, spec->def_hidden == 0, spec->def_hidden, 1,
	                   &cfg->hidden_size)) != 0 ||
	    (rc = read_int(r, spec->k_layers, spec->def_layers == 0, spec->def_layers, 1,
	                   &cfg->n_layers)) != 0 ||
	    (rc = read_int(r, spec->k_heads, spec->def_heads == 0, spec->def_heads, 1,
	                   &cfg->n_heads)) != 0 ||
	    (rc = read_int(r, spec->k_inter, spec->def_inter == 0, spec->def_inter, 1,
	                   &cfg->intermediate_size)) != 0 ||
	    (rc = read_int(r, "max_position_embeddings", 0, 512, 1,
	                   &cfg->max_position_embeddings)) != 0 ||
	    (rc = read_int(r, "embedding_size", 0, cfg->hidden_size, 1, &cfg->embedding_size)) !=
	        0 ||
	    (rc = read_int(r, "pad_token_id", 0, 0, 0, &cfg->pad_token_id)) != 0)
		goto fail;
	cfg->type_vocab_size = 0;
	if (spec->has_token_types &&
	    (rc = read_int(r, "type_vocab_size", 0, 2, 1, &cfg->type_vocab_size)) != 0)
		goto fail;
	if (cfg->hidden_size % cfg->n_heads != 0) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: %s %d is not divisible by %s %d", r->path, spec->k_hidden,
		                 cfg->hidden_size, spec->k_heads, cfg->n_heads);
		goto fail;
	}
	if (cfg->pad_token_id >= cfg->vocab_size) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: pad_token_id %d is not below vocab_size %d", r->path,
		                 cfg->pad_token_id, cfg->vocab_size);
		goto fail;
	}
	return 0;
fail:
	return rc;
}

/* Activation, layer norm epsilon and position embedding options. */
static int read_options(const struct reader *r, const struct model_spec *spec,
                        struct hf_config *cfg)
{
	const char *s = NULL;
	char got[64];
	int rc;

	if ((rc = read_str(r, spec->k_act, "gelu", &s)) != 0)
		goto fail;
	int act = activation_from_name(s);
	if (act < 0) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: unknown %s \"%.40s\" (known: gelu, gelu_new, "
		                 "gelu_pytorch_tanh, gelu_fast, relu, tanh)",
		                 r->path, spec->k_act, s);
		goto fail;
	}
	cfg->hidden_act = (enum activation)act;

	cfg->layer_norm_eps = 1e-12f;
	const json_t *eps = spec->has_eps ? get(r, "layer_norm_eps") : NULL;
	if (eps != NULL) {
		double v = json_is_number(eps) ? json_number_value(eps) : -1.0;
		if (!(v >= 0.0 && v <= FLT_MAX)) {
			rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
			                 "%s: \"layer_norm_eps\" must be a number >= 0, got %s",
			                 r->path, describe(eps, got, sizeof(got)));
			goto fail;
		}
		cfg->layer_norm_eps = (float)v;
	}

	s = "absolute";
	if (spec->has_pos_type && (rc = read_str(r, "position_embedding_type", s, &s)) != 0)
		goto fail;
	size_t k = 0;
	while (k < sizeof(position_types) / sizeof(position_types[0]) &&
	       strcmp(position_types[k], s) != 0)
		k++;
	if (k == sizeof(position_types) / sizeof(position_types[0])) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: unknown position_embedding_type \"%.40s\"", r->path, s);
		goto fail;
	}
	if (strlen(s) >= sizeof(cfg->position_embedding_type)) {
		rc = status_fail(r->err, r->n_err, STATUS_EUNSUPPORTED,
		                 "%s: position_embedding_type \"%s\" is not supported", r->path, s);
		goto fail;
	}
	snprintf(cfg->position_embedding_type, sizeof(cfg->position_embedding_type), "%s", s);

	const json_t *sin = spec->has_sinusoidal ? get(r, "sinusoidal_pos_embds") : NULL;
	if (sin != NULL && !json_is_boolean(sin)) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: \"sinusoidal_pos_embds\" must be true or false, got %s",
		                 r->path, describe(sin, got, sizeof(got)));
		goto fail;
	}
	cfg->sinusoidal_pos_embds = sin != NULL && json_is_true(sin);
	return 0;
fail:
	return rc;
}

/* Optional boolean key: def when absent; EFORMAT when not a boolean. */
static int read_bool(const struct reader *r, const char *key, int def, int *out)
{
	const json_t *v = get(r, key);
	char got[64];
	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                   "%s: \"%s\" must be true or false, got %s", r->path, key,
		                   describe(v, got, sizeof(got)));
	*out = json_is_true(v);
	return 0;
}

/* ALBERT's layer sharing and MobileBERT's bottlenecks, with
 * AlbertConfig / MobileBertConfig defaults; other families ignore them. */
static int read_family_options(const struct reader *r, struct hf_config *cfg)
{
	int rc;
	const char *norm = NULL;
	if ((rc = read_int(r, "num_hidden_groups", 0, 1, 1, &cfg->num_hidden_groups)) != 0 ||
	    (rc = read_int(r, "inner_group_num", 0, 1, 1, &cfg->inner_group_num)) != 0 ||
	    (rc = read_int(r, "true_hidden_size", 0, 128, 1, &cfg->true_hidden_size)) != 0 ||
	    (rc = read_int(r, "intra_bottleneck_size", 0, 128, 1, &cfg->intra_bottleneck_size)) !=
	        0 ||
	    (rc = read_int(r, "num_feedforward_networks", 0, 4, 1,
	                   &cfg->num_feedforward_networks)) != 0 ||
	    (rc = read_bool(r, "use_bottleneck", 1, &cfg->use_bottleneck)) != 0 ||
	    (rc = read_bool(r, "use_bottleneck_attention", 0, &cfg->use_bottleneck_attention)) !=
	        0 ||
	    (rc = read_bool(r, "key_query_shared_bottleneck", 1,
	                    &cfg->key_query_shared_bottleneck)) != 0 ||
	    (rc = read_bool(r, "trigram_input", 1, &cfg->trigram_input)) != 0 ||
	    (strcmp(cfg->model_type, "modernbert") != 0 && /* a string there */
	     (rc = read_bool(r, "classifier_activation", 1, &cfg->classifier_activation)) != 0) ||
	    (rc = read_str(r, "normalization_type", "no_norm", &norm)) != 0)
		return rc;
	if (strcmp(norm, "no_norm") != 0 && strcmp(norm, "layer_norm") != 0)
		return status_fail(
		    r->err, r->n_err, STATUS_EFORMAT,
		    "%s: normalization_type \"%.40s\" is neither no_norm nor layer_norm", r->path,
		    norm);
	cfg->no_norm = strcmp(norm, "no_norm") == 0;
	if (cfg->num_hidden_groups > cfg->n_layers)
		return status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                   "%s: num_hidden_groups %d is more than num_hidden_layers %d",
		                   r->path, cfg->num_hidden_groups, cfg->n_layers);
	return 0;
}

/* Optional number key >= min: def when absent; EFORMAT otherwise. */
static int read_float(const struct reader *r, const char *key, double def, double min, float *out)
{
	const json_t *v = get(r, key);
	char got[64];
	double x = v == NULL ? def : json_is_number(v) ? json_number_value(v) : min - 1.0;
	if (!(x >= min && x <= FLT_MAX))
		return status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                   "%s: \"%s\" must be a number >= %g, got %s", r->path, key, min,
		                   describe(v, got, sizeof(got)));
	*out = (float)x;
	return 0;
}

/* An activation named by key (def when absent) into *out. */
static int read_act(const struct reader *r, const char *key, enum activation *out)
{
	const char *s = NULL;
	int rc = read_str(r, key, "gelu", &s);
	if (rc != 0)
		return rc;
	int act = activation_from_name(s);
	if (act < 0)
		return status_fail(r->err, r->n_err, STATUS_EFORMAT, "%s: unknown %s \"%.40s\"",
		                   r->path, key, s);
	*out = (enum activation)act;
	return 0;
}

/* One pos_att_type word (spaces around it ignored) into cfg. */
static int pos_att_word(const struct reader *r, const char *s, size_t n, struct hf_config *cfg)
{
	while (n > 0 && *s == ' ')
		s++, n--;
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n == 3 && memcmp(s, "c2p", 3) == 0)
		cfg->pos_att_c2p = 1;
	else if (n == 3 && memcmp(s, "p2c", 3) == 0)
		cfg->pos_att_p2c = 1;
	else
		return status_fail(r->err, r->n_err, STATUS_EUNSUPPORTED,
		                   "%s: pos_att_type \"%.*s\" is not supported (c2p, p2c)", r->path,
		                   (int)(n < 40 ? n : 40), s);
	return 0;
}

/* "a|b" (DeBERTa-v2's older spelling) or ["a", "b"]: which of c2p / p2c. */
static int read_pos_att_type(const struct reader *r, struct hf_config *cfg)
{
	const json_t *v = get(r, "pos_att_type");
	char got[64];
	size_t n = v == NULL ? 0 : json_is_array(v) ? json_array_size(v) : 1;
	int rc;
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
		const char *s = json_string_value(item);
		if (s == NULL)
			return status_fail(r->err, r->n_err, STATUS_EFORMAT,
			                   "%s: \"pos_att_type\" must be a string or an array of "
			                   "strings, got %s",
			                   r->path, describe(item, got, sizeof(got)));
		for (const char *bar; (bar = strchr(s, '|')) != NULL; s = bar + 1)
			if ((rc = pos_att_word(r, s, (size_t)(bar - s), cfg)) != 0)
				return rc;
		if ((rc = pos_att_word(r, s, strlen(s), cfg)) != 0)
			return rc;
	}
	return 0;
}

/* DebertaV2Config: relative attention and its position buckets. */
static int read_deberta_options(const struct reader *r, struct hf_config *cfg)
{
	const char *norm = NULL;
	int rc;
	if ((rc = read_int(r, "type_vocab_size", 0, 0, 0, &cfg->type_vocab_size)) != 0 ||
	    (rc = read_bool(r, "relative_attention", 0, &cfg->relative_attention)) != 0 ||
	    (rc = read_bool(r, "position_biased_input", 1, &cfg->position_biased_input)) != 0 ||
	    (rc = read_bool(r, "share_att_key", 0, &cfg->share_att_key)) != 0 ||
	    (rc = read_int(r, "conv_kernel_size", 0, 0, 0, &cfg->conv_kernel_size)) != 0 ||
	    (rc = read_int(r, "attention_head_size", 0, cfg->hidden_size / cfg->n_heads, 1,
	                   &cfg->attention_head_size)) != 0 ||
	    (rc = read_int(r, "pooler_hidden_size", 0, cfg->hidden_size, 1,
	                   &cfg->pooler_hidden_size)) != 0 ||
	    (rc = read_act(r, "pooler_hidden_act", &cfg->pooler_hidden_act)) != 0 ||
	    (rc = read_str(r, "norm_rel_ebd", "none", &norm)) != 0 ||
	    (rc = read_pos_att_type(r, cfg)) != 0)
		return rc;
	/* Any integer: < 1 means "none" (transformers' getattr(..., -1)). */
	const json_t *v;
	const char *keys[2] = {"max_relative_positions", "position_buckets"};
	int32_t *outs[2] = {&cfg->max_relative_positions, &cfg->position_buckets};
	for (int i = 0; i < 2; i++) {
		*outs[i] = -1;
		if ((v = get(r, keys[i])) == NULL)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) > INT32_MAX / 4 ||
		    json_integer_value(v) < INT32_MIN / 4)
			return status_fail(r->err, r->n_err, STATUS_EFORMAT,
			                   "%s: \"%s\" must be an integer", r->path, keys[i]);
		*outs[i] = (int32_t)json_integer_value(v);
	}
	cfg->norm_rel_ebd = strstr(norm, "layer_norm") != NULL;
	if (get(r, "layer_norm_eps") == NULL)
		cfg->layer_norm_eps = 1e-7f; /* DebertaV2Config's default */
	return 0;
}

/* ModernBertConfig: biases, RoPE, local / global layers, the head. */
static int read_modernbert_options(const struct reader *r, struct hf_config *cfg)
{
	const char *pool = NULL;
	int rc;
	if ((rc = read_float(r, "norm_eps", 1e-5, 0.0, &cfg->layer_norm_eps)) != 0 ||
	    (rc = read_bool(r, "attention_bias", 0, &cfg->attention_bias)) != 0 ||
	    (rc = read_bool(r, "mlp_bias", 0, &cfg->mlp_bias)) != 0 ||
	    (rc = read_bool(r, "norm_bias", 0, &cfg->norm_bias)) != 0 ||
	    (rc = read_bool(r, "classifier_bias", 0, &cfg->classifier_bias)) != 0 ||
	    (rc = read_act(r, "classifier_activation", &cfg->classifier_act)) != 0 ||
	    (rc = read_str(r, "classifier_pooling", "cls", &pool)) != 0 ||
	    (rc = read_float(r, "global_rope_theta", 160000.0, 1.0, &cfg->global_rope_theta)) !=
	        0 ||
	    (rc = read_float(r, "local_rope_theta", 10000.0, 1.0, &cfg->local_rope_theta)) != 0 ||
	    (rc = read_int(r, "global_attn_every_n_layers", 0, 3, 1,
	                   &cfg->global_attn_every_n_layers)) != 0 ||
	    (rc = read_int(r, "local_attention", 0, 128, 0, &cfg->local_attention)) != 0)
		return rc;
	/* local_rope_theta: null means the local layers use the global theta. */
	if (json_is_null(json_object_get(r->root, "local_rope_theta")))
		cfg->local_rope_theta = cfg->global_rope_theta;
	if (strcmp(pool, "cls") != 0 && strcmp(pool, "mean") != 0)
		return status_fail(r->err, r->n_err, STATUS_EUNSUPPORTED,
		                   "%s: classifier_pooling \"%.40s\" is not supported (cls, mean)",
		                   r->path, pool);
	cfg->classifier_pooling_mean = strcmp(pool, "mean") == 0;
	if (cfg->hidden_size / cfg->n_heads % 2 != 0)
		return status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                   "%s: the head size %d must be even for rotary embeddings",
		                   r->path, cfg->hidden_size / cfg->n_heads);
	return 0;
}

/* MPNet, DeBERTa-v2 and ModernBERT's own keys; other families ignore them. */
static int read_encoder_family_options(const struct reader *r, struct hf_config *cfg)
{
	int mpnet = strcmp(cfg->model_type, "mpnet") == 0;
	if (get(r, "max_position_embeddings") == NULL && mpnet)
		cfg->max_position_embeddings = 514; /* MPNetConfig's default */
	if (get(r, "max_position_embeddings") == NULL && strcmp(cfg->model_type, "modernbert") == 0)
		cfg->max_position_embeddings = 8192; /* ModernBertConfig's default */
	if (mpnet)
		return read_int(r, "relative_attention_num_buckets", 0, 32, 1,
		                &cfg->relative_attention_num_buckets);
	if (strcmp(cfg->model_type, "deberta-v2") == 0)
		return read_deberta_options(r, cfg);
	if (strcmp(cfg->model_type, "modernbert") == 0)
		return read_modernbert_options(r, cfg);
	return 0;
}

static int read_problem_type(const struct reader *r, struct hf_config *cfg)
{
	const char *s = NULL;
	int rc = read_str(r, "problem_type", NULL, &s);

	if (rc != 0 || s == NULL)
		return rc;
	for (size_t i = 0; i < sizeof(problem_types) / sizeof(problem_types[0]); i++) {
		if (strcmp(problem_types[i].name, s) == 0) {
			cfg->problem_type = problem_types[i].type;
			return 0;
		}
	}
	return status_fail(
	    r->err, r->n_err, STATUS_EFORMAT,
	    "%s: unknown problem_type \"%.40s\" (known: single_label_classification, "
	    "multi_label_classification, regression)",
	    r->path, s);
}

/* "0".."n-1" in canonical decimal (no sign, no leading zero) -> index, else -1. */
static long label_index(const char *key, size_t n)
{
	size_t len = strlen(key);
	if (len == 0 || len > 9 || strspn(key, "0123456789") != len || (key[0] == '0' && len > 1))
		return -1;
	long idx = strtol(key, NULL, 10);
	return (size_t)idx < n ? idx : -1;
}

/* labels from num_labels: LABEL_0 .. LABEL_{n-1}. */
static int default_labels(const struct reader *r, struct hf_config *cfg)
{
	int32_t n = 0;
	int rc = read_int(r, "num_labels", 0, 0, 0, &n);

	if (rc != 0)
		goto fail;
	if (n > MAX_NUM_LABELS) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: \"num_labels\" %d is more than %d", r->path, n,
		                 MAX_NUM_LABELS);
		goto fail;
	}
	cfg->id2label = calloc(n > 0 ? (size_t)n : 1, sizeof(*cfg->id2label));
	if (cfg->id2label == NULL)
		goto oom;
	cfg->n_labels = n;
	for (int32_t i = 0; i < n; i++) {
		cfg->id2label[i] = malloc(24);
		if (cfg->id2label[i] == NULL)
			goto oom;
		snprintf(cfg->id2label[i], 24, "LABEL_%d", i);
	}
	return 0;
oom:
	rc = status_fail(r->err, r->n_err, STATUS_ENOMEM, "%s: out of memory", r->path);
fail:
	return rc;
}

/* id2label: object with keys exactly "0".."n-1" (any order) -> strings. */
static int read_labels(const struct reader *r, struct hf_config *cfg)
{
	const json_t *map = get(r, "id2label");
	const char *key;
	json_t *value;
	char got[64];
	int rc;

	if (map == NULL)
		return default_labels(r, cfg);
	if (!json_is_object(map)) {
		rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
		                 "%s: \"id2label\" must be an object, got %s", r->path,
		                 describe(map, got, sizeof(got)));
		goto fail;
	}
	size_t n = json_object_size(map);
	cfg->id2label = calloc(n ? n : 1, sizeof(*cfg->id2label));
	if (cfg->id2label == NULL) {
		rc = status_fail(r->err, r->n_err, STATUS_ENOMEM, "%s: out of memory", r->path);
		goto fail;
	}
	cfg->n_labels = (int32_t)n; /* set now so dispose frees a partial table */
	json_object_foreach((json_t *)map, key, value)
	{
		long idx = label_index(key, n);
		if (idx < 0) {
			rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
			                 "%s: id2label key \"%.40s\" is not a label index: keys "
			                 "must be 0..%zu with no gap",
			                 r->path, key, n - 1);
			goto fail;
		}
		if (!json_is_string(value)) {
			rc = status_fail(r->err, r->n_err, STATUS_EFORMAT,
			                 "%s: id2label[\"%s\"] must be a string, got %s", r->path,
			                 key, describe(value, got, sizeof(got)));
			goto fail;
		}
		/* Keys are unique and canonical, so each index is filled once. */
		cfg->id2label[idx] = strdup(json_string_value(value));
		if (cfg->id2label[idx] == NULL) {
			rc = status_fail(r->err, r->n_err, STATUS_ENOMEM, "%s: out of memory",
			                 r->path);
			goto fail;
		}
	}
	return 0;
fail:
	return rc;
}

int hf_config_load(const char *path, struct hf_config *cfg, char *err, size_t n_err)
{
	struct reader r = {path, NULL, err, n_err};
	const struct model_spec *spec = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: cannot open: %s", path,
		                 strerror(errno));
		goto fail;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	int read_errno = ferror(f) ? errno : 0;
	fclose(f);
	if (read_errno != 0) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: cannot read: %s", path,
		                 strerror(read_errno));
		goto fail;
	}
	if (root == NULL) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s:%d:%d: not valid JSON: %s", path,
		                 jerr.line, jerr.column, jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s: top level is not a JSON object",
		                 path);
		goto fail;
	}
	r.root = root;
	if ((rc = read_model_type(&r, cfg, &spec)) != 0 ||
	    (rc = read_architectures(&r, cfg)) != 0 || (rc = read_sizes(&r, spec, cfg)) != 0 ||
	    (rc = read_options(&r, spec, cfg)) != 0 || (rc = read_family_options(&r, cfg)) != 0 ||
	    (rc = read_encoder_family_options(&r, cfg)) != 0 ||
	    (rc = read_problem_type(&r, cfg)) != 0 || (rc = read_labels(&r, cfg)) != 0)
		goto fail;
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	hf_config_dispose(cfg);
	return rc;
}

void hf_config_dispose(struct hf_config *cfg)
{
	if (cfg == NULL)
		return;
	for (int32_t i = 0; cfg->id2label != NULL && i < cfg->n_labels; i++)
		free(cfg->id2label[i]);
	free(cfg->id2label);
	memset(cfg, 0, sizeof(*cfg));
}

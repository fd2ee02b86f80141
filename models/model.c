/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a Hugging Face model folder (see model.h): config.json picks the
 * architecture, model.safetensors is mmapped and its tensors wired by the
 * architecture's *_wire function, the tokenizer and the sentence-
 * transformers pooling config are read beside them.
 */
#include "model.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model-impl.h"
#include "status.h"
#include "team.h"
#include "tokenizer_load.h"

struct arch_entry {
	const char *model_type;
	int (*wire)(struct model *m, char *err, size_t n_err);
};

static const struct arch_entry ARCHS[] = {
    {"bert", bert_wire},
    {"distilbert", distilbert_wire},
    {"electra", electra_wire},
    {"roberta", roberta_wire},
    {"xlm-roberta", roberta_wire},
    {"albert", albert_wire},
    {"mobilebert", mobilebert_wire},
    {"mpnet", mpnet_wire},
    {"deberta-v2", deberta_wire},
    {"modernbert", modernbert_wire},
};

/* Index of the first NaN or Inf in x[0, n), or -1. A bit test (exponent all
 * ones), so it holds whatever the floating-point flags; blocks of 1024 keep
 * the scan vectorisable: cheap next to reading the file. */
static int64_t first_non_finite(const float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i += 1024) {
		int64_t end = n - i < 1024 ? n : i + 1024;
		uint32_t bad = 0;
		for (int64_t k = i; k < end; k++) {
			uint32_t bits;
			memcpy(&bits, &x[k], sizeof(bits));
			bad |= (bits & 0x7f800000u) == 0x7f800000u;
		}
		for (int64_t k = i; bad && k < end; k++) {
			uint32_t bits;
			memcpy(&bits, &x[k], sizeof(bits));
			if ((bits & 0x7f800000u) == 0x7f800000u)
				return k;
		}
	}
	return -1;
}

/* Every weight the model uses is checked once (check_weights, after the
 * wiring): a NaN or Inf in a weight would turn every answer into NaN, so
 * such a folder does not load. Here it is only noted, once per tensor
 * (ALBERT's layers share theirs). */
int weight_get(const struct weight_src *w, const char *name, int64_t rows, int64_t cols,
               const float **out, char *err, size_t n_err)
{
	int64_t shape[2] = {rows, cols};
	struct model *m = w->m;
	int rc = safetensors_get(m->st, name, w->prefixes, w->n_prefixes, cols > 0 ? 2 : 1, shape,
	                         out, err, n_err);
	if (rc != 0)
		return rc;
	for (int i = 0; i < m->n_checks; i++)
		if (m->checks[i].x == *out)
			return 0;
	if (m->n_checks == m->cap_checks) {
		int cap = m->cap_checks > 0 ? 2 * m->cap_checks : 64;
		struct weight_check *c = realloc(m->checks, (size_t)cap * sizeof(*c));
		if (c == NULL)
			return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", m->dir);
		m->checks = c;
		m->cap_checks = cap;
	}
	struct weight_check *c = &m->checks[m->n_checks];
	if ((c->name = strdup(name)) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", m->dir);
	c->x = *out;
	c->n = cols > 0 ? rows * cols : rows;
	m->n_checks++;
	return 0;
}

static void checks_free(struct model *m)
{
	for (int i = 0; i < m->n_checks; i++)
		free(m->checks[i].name);
	free(m->checks);
	m->checks = NULL;
	m->n_checks = m->cap_checks = 0;
}

/* The checks cut into pieces of CHECK_PIECE floats, taken by a team's
 * threads in turn; the first piece (in wiring order) holding a bad value
 * is kept. */
#define CHECK_PIECE ((int64_t)1 << 18)

struct check_plan {
	const struct weight_check *checks;
	int64_t *first_piece; /* (n_checks + 1) prefix sums of pieces per check */
	int n_checks;
	atomic_llong next;
	atomic_llong bad; /* lowest bad piece, or INT64_MAX */
};

static void check_part(void *arg, int i, int n)
{
	struct check_plan *p = arg;
	(void)i, (void)n;
	int c = 0;
	for (;;) {
		long long k = atomic_fetch_add(&p->next, 1);
		if (k >= p->first_piece[p->n_checks] || k > atomic_load(&p->bad))
			return;
		while (p->first_piece[c + 1] <= k)
			c++;
		int64_t off = (k - p->first_piece[c]) * CHECK_PIECE;
		int64_t len =
		    p->checks[c].n - off < CHECK_PIECE ? p->checks[c].n - off : CHECK_PIECE;
		pages_populate_read(p->checks[c].x + off, (size_t)len * sizeof(float));
		if (first_non_finite(p->checks[c].x + off, len) < 0)
			continue;
		long long seen = atomic_load(&p->bad);
		while (k < seen && !atomic_compare_exchange_weak(&p->bad, &seen, k))
			;
	}
}

/* Checks every noted weight for NaN/Inf on the team (the scan reads the
 * whole file once: split, it takes a fraction of the start-up time). */
static int check_weights(struct model *m, struct team *team, char *err, size_t n_err)
{
	if (m->layout_cache == LAYOUT_CACHE_READ)
		return 0; /* checked when the file was written (layout_begin) */
	struct check_plan p = {m->checks, NULL, m->n_checks, 0, INT64_MAX};
	if ((p.first_piece = malloc((size_t)(m->n_checks + 1) * sizeof(int64_t))) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory", m->dir);
	p.first_piece[0] = 0;
	for (int c = 0; c < m->n_checks; c++)
		p.first_piece[c + 1] =
		    p.first_piece[c] + (m->checks[c].n + CHECK_PIECE - 1) / CHECK_PIECE;
	team_run(team, check_part, &p);
	long long k = atomic_load(&p.bad);
	int c = 0;
	while (k != INT64_MAX && p.first_piece[c + 1] <= k)
		c++;
	free(p.first_piece);
	if (k == INT64_MAX)
		return 0;
	const struct weight_check *bad = &m->checks[c];
	int64_t at = first_non_finite(bad->x, bad->n);
	return status_fail(err, n_err, STATUS_EFORMAT,
	                   "%s: tensor \"%s\" holds a non-finite value (NaN or Inf) at element "
	                   "%lld: the weights are corrupt",
	                   m->st->path, bad->name, (long long)at);
}

int weight_dense(const struct weight_src *w, const char *name, int32_t n_out, int32_t n_in,
                 struct dense *d, char *err, size_t n_err)
{
	char full[160];
	int rc;
	snprintf(full, sizeof(full), "%s.weight", name);
	if ((rc = weight_get(w, full, n_out, n_in, &d->w, err, n_err)) != 0)
		return rc;
	snprintf(full, sizeof(full), "%s.bias", name);
	if ((rc = weight_get(w, full, n_out, 0, &d->b, err, n_err)) != 0)
		return rc;
	d->n_in = n_in;
	d->n_out = n_out;
	return 0;
}

int weight_layer_norm(const struct weight_src *w, const char *name, int32_t n, float eps,
                      struct layer_norm *ln, char *err, size_t n_err)
{
	char full[160];
	int rc;
	snprintf(full, sizeof(full), "%s.weight", name);
	if ((rc = weight_get(w, full, n, 0, &ln->gamma, err, n_err)) != 0)
		return rc;
	snprintf(full, sizeof(full), "%s.bias", name);
	if ((rc = weight_get(w, full, n, 0, &ln->beta, err, n_err)) != 0)
		return rc;
	ln->eps = eps;
	return 0;
}

int weight_layer(const struct weight_src *w, const char *prefix, const struct layer_names *names,
                 int32_t h, int32_t ff, float eps, struct encoder_layer *L, char *err, size_t n_err)
{
	struct {
		const char *suffix;
		struct dense *d;
		int32_t n_out, n_in;
	} dense[] = {{names->q, &L->q, h, h},
	             {names->k, &L->k, h, h},
	             {names->v, &L->v, h, h},
	             {names->o, &L->o, h, h},
	             {names->ffn_in, &L->ffn_in, ff, h},
	             {names->ffn_out, &L->ffn_out, h, ff}};
	struct {
		const char *suffix;
		struct layer_norm *ln;
	} norms[] = {{names->ln_attn, &L->ln_attn}, {names->ln_ffn, &L->ln_ffn}};
	char name[192];
	int rc;
	for (size_t i = 0; i < sizeof(dense) / sizeof(dense[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", prefix, dense[i].suffix);
		if ((rc = weight_dense(w, name, dense[i].n_out, dense[i].n_in, dense[i].d, err,
		                       n_err)) != 0)
			return rc;
	}
	for (size_t i = 0; i < sizeof(norms) / sizeof(norms[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", prefix, norms[i].suffix);
		if ((rc = weight_layer_norm(w, name, h, eps, norms[i].ln, err, n_err)) != 0)
			return rc;
	}
	return 0;
}

int weight_exists(const struct weight_src *w, const char *name)
{
	if (safetensors_find(w->m->st, name) != NULL)
		return 1;
	for (int i = 0; i < w->n_prefixes; i++) {
		char full[192];
		snprintf(full, sizeof(full), "%s%s", w->prefixes[i], name);
		if (safetensors_find(w->m->st, full) != NULL)
			return 1;
	}
	return 0;
}

int model_arch_is(const struct model *m, const char *suffix)
{
	if (m->cfg.n_architectures < 1)
		return 0;
	const char *a = m->cfg.architectures[0];
	size_t na = strlen(a), ns = strlen(suffix);
	return na >= ns && strcmp(a + na - ns, suffix) == 0;
}

int head_set_classifier(struct model *m, const struct weight_src *w, const char *classifier_name,
                        int32_t n_in, char *err, size_t n_err)
{
	char full[160];
	snprintf(full, sizeof(full), "%s.weight", classifier_name);
	const struct st_tensor *t = safetensors_find(m->st, full);
	if (t == NULL || t->n_dims != 2 || t->shape[0] <= 0 || t->shape[0] > 1000000)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s/model.safetensors: %s must be a 2-D tensor "
		                   "(num_labels, %d) for %s",
		                   m->dir, full, (int)n_in, m->cfg.architectures[0]);
	int32_t n_labels = (int32_t)t->shape[0];
	if (m->cfg.n_labels > 0 && m->cfg.n_labels != n_labels)
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s: config.json has %d labels in id2label but %s has %d rows",
		                   m->dir, (int)m->cfg.n_labels, full, (int)n_labels);
	struct head_layer *hl = &m->head_layers[m->n_head_layers];
	int rc = weight_dense(w, classifier_name, n_labels, n_in, &hl->d, err, n_err);
	if (rc != 0)
		return rc;
	hl->act = ACT_NONE;
	m->n_head_layers++;
	m->n_labels = n_labels;
	return 0;
}

/* sentence-transformers: modules.json names the Pooling module's folder;
 * its config.json says which pooling. A missing file means "not a
 * sentence-transformers folder": fine, the caller's default applies. */
static int load_pooling(struct model *m, char *err, size_t n_err)
{
	char path[4096];
	json_error_t jerr;
	const char *pool_dir = "1_Pooling";
	snprintf(path, sizeof(path), "%s/modules.json", m->dir);
	json_t *mods = json_load_file(path, 0, &jerr);
	if (mods != NULL && json_is_array(mods)) {
		size_t i;
		json_t *mod;
		json_array_foreach(mods, i, mod)
		{
			const char *type = json_string_value(json_object_get(mod, "type"));
			const char *p = json_string_value(json_object_get(mod, "path"));
			if (type != NULL && p != NULL && strstr(type, "Pooling") != NULL &&
			    strstr(p, "..") == NULL && strlen(p) < 256) {
				snprintf(path, sizeof(path), "%s/%s/config.json", m->dir, p);
				break;
			}
		}
		if (i == json_array_size(mods))
			snprintf(path, sizeof(path), "%s/%s/config.json", m->dir, pool_dir);
	} else {
		snprintf(path, sizeof(path), "%s/%s/config.json", m->dir, pool_dir);
	}
	json_decref(mods);

	struct stat sb;
	if (stat(path, &sb) != 0)
		return 0;
	json_t *cfg = json_load_file(path, 0, &jerr);
	if (cfg == NULL || !json_is_object(cfg)) {
		json_decref(cfg);
		return status_fail(err, n_err, STATUS_EFORMAT, "%s: line %d: %s", path, jerr.line,
		                   cfg == NULL ? jerr.text : "not a JSON object");
	}
	json_t *inc = json_object_get(cfg, "include_prompt");
	if (inc != NULL && !json_is_boolean(inc)) {
		json_decref(cfg);
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s: include_prompt must be true or false", path);
	}
	m->include_prompt = inc == NULL || json_is_true(inc);
	int cls = json_is_true(json_object_get(cfg, "pooling_mode_cls_token"));
	int mean = json_is_true(json_object_get(cfg, "pooling_mode_mean_tokens"));
	int other = json_is_true(json_object_get(cfg, "pooling_mode_max_tokens")) ||
	            json_is_true(json_object_get(cfg, "pooling_mode_mean_sqrt_len_tokens")) ||
	            json_is_true(json_object_get(cfg, "pooling_mode_weightedmean_tokens")) ||
	            json_is_true(json_object_get(cfg, "pooling_mode_lasttoken"));
	json_decref(cfg);
	if (cls + mean + other != 1 || other)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s: exactly one of pooling_mode_cls_token and "
		                   "pooling_mode_mean_tokens must be true (other modes are not "
		                   "supported); or start with --pooling cls|mean",
		                   path);
	m->pooling = cls ? POOLING_CLS : POOLING_MEAN;
	m->pooling_from_folder = 1;
	return 0;
}

/* model.safetensors, else the shards of model.safetensors.index.json; a
 * folder with only PyTorch pickles gets told how to convert them. */
static int open_weights(const char *dir, struct safetensors **st, char *err, size_t n_err)
{
	char path[4096], bin[4096];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (stat(path, &sb) == 0)
		return safetensors_open(path, st, err, n_err);
	snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
	if (stat(path, &sb) == 0)
		return safetensors_open_index(path, st, err, n_err);
	snprintf(bin, sizeof(bin), "%s/pytorch_model.bin", dir);
	if (stat(bin, &sb) != 0)
		snprintf(bin, sizeof(bin), "%s/pytorch_model.bin.index.json", dir);
	if (stat(bin, &sb) == 0)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s has only PyTorch weights (%s); smolserve reads "
		                   "model.safetensors. Convert it once, e.g. in Python: "
		                   "AutoModel.from_pretrained(dir).save_pretrained(dir, "
		                   "safe_serialization=True)",
		                   dir, strrchr(bin, '/') + 1);
	return status_fail(err, n_err, STATUS_EIO,
	                   "%s: no model.safetensors and no model.safetensors.index.json", dir);
}

/* Copies the string values of the object prompts into m (file order). */
static int copy_prompts(struct model *m, json_t *prompts, const char *path, char *err, size_t n_err)
{
	size_t n = json_object_size(prompts);
	m->prompt_names = calloc(n ? n : 1, sizeof(char *));
	m->prompt_texts = calloc(n ? n : 1, sizeof(char *));
	if (m->prompt_names == NULL || m->prompt_texts == NULL)
		return STATUS_ENOMEM;
	const char *key;
	json_t *v;
	json_object_foreach(prompts, key, v)
	{
		if (!json_is_string(v))
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "%s: prompts.%s must be a string", path, key);
		m->prompt_names[m->n_prompts] = strdup(key);
		m->prompt_texts[m->n_prompts] = strdup(json_string_value(v));
		m->n_prompts++;
		if (m->prompt_names[m->n_prompts - 1] == NULL ||
		    m->prompt_texts[m->n_prompts - 1] == NULL)
			return STATUS_ENOMEM;
	}
	return 0;
}

/* sentence-transformers' config_sentence_transformers.json: `prompts`
 * (name -> text) and `default_prompt_name`. A missing file means no
 * prompts; a malformed one is an error naming the file. */
static int load_st_prompts(struct model *m, char *err, size_t n_err)
{
	char path[4096];
	struct stat sb;
	json_error_t jerr;
	snprintf(path, sizeof(path), "%s/config_sentence_transformers.json", m->dir);
	if (stat(path, &sb) != 0)
		return 0;
	json_t *cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (cfg == NULL || !json_is_object(cfg)) {
		json_decref(cfg);
		return status_fail(err, n_err, STATUS_EFORMAT, "%s: line %d: %s", path, jerr.line,
		                   cfg == NULL ? jerr.text : "not a JSON object");
	}
	int rc = 0;
	json_t *prompts = json_object_get(cfg, "prompts");
	json_t *def = json_object_get(cfg, "default_prompt_name");
	if (prompts != NULL && !json_is_null(prompts) && !json_is_object(prompts))
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s: prompts must be an object", path);
	else if (def != NULL && !json_is_null(def) && !json_is_string(def))
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: default_prompt_name must be a string or null", path);
	else if (json_is_object(prompts))
		rc = copy_prompts(m, prompts, path, err, n_err);
	if (rc == 0 && json_is_string(def)) {
		if (model_prompt(m, json_string_value(def)) == NULL)
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: default_prompt_name \"%s\" is not one of its prompts",
			                 path, json_string_value(def));
		else if ((m->default_prompt_name = strdup(json_string_value(def))) == NULL)
			rc = STATUS_ENOMEM;
	}
	json_decref(cfg);
	return rc;
}

const char *model_prompt(const struct model *m, const char *name)
{
	for (int32_t i = 0; i < m->n_prompts; i++)
		if (strcmp(m->prompt_names[i], name) == 0)
			return m->prompt_texts[i];
	return NULL;
}

static int wire(struct model *m, char *err, size_t n_err)
{
	const struct hf_config *c = &m->cfg;
	struct encoder *e = &m->enc;
	for (size_t i = 0; i < sizeof(ARCHS) / sizeof(ARCHS[0]); i++) {
		if (strcmp(c->model_type, ARCHS[i].model_type) != 0)
			continue;
		m->layers = calloc((size_t)c->n_layers, sizeof(*m->layers));
		if (m->layers == NULL)
			return STATUS_ENOMEM;
		e->hidden = c->hidden_size;
		e->n_heads = c->n_heads;
		e->head_dim = c->hidden_size / c->n_heads;
		e->n_layers = c->n_layers;
		e->intermediate = c->intermediate_size;
		e->embedding_size = c->embedding_size > 0 ? c->embedding_size : c->hidden_size;
		e->vocab_size = c->vocab_size;
		e->max_positions = c->max_position_embeddings;
		e->type_vocab_size = c->type_vocab_size;
		e->position_offset = 0;
		e->act = c->hidden_act;
		e->layers = m->layers;
		return ARCHS[i].wire(m, err, n_err);
	}
	return status_fail(err, n_err, STATUS_EUNSUPPORTED,
	                   "%s/config.json: model_type \"%s\" has no architecture wiring", m->dir,
	                   c->model_type);
}

int model_load(const char *dir, const struct model_opts *opts, struct model **out, char *err,
               size_t n_err)
{
	char path[4096];
	int rc = STATUS_ENOMEM;
	struct team *team = NULL;
	struct layout_plan *plan = NULL;
	if (err != NULL && n_err > 0)
		err[0] = '\0';
	struct model *m = calloc(1, sizeof(*m));
	if (m == NULL || (m->dir = strdup(dir)) == NULL)
		goto fail;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	if ((rc = hf_config_load(path, &m->cfg, err, n_err)) != 0)
		goto fail;
	if ((rc = open_weights(dir, &m->st, err, n_err)) != 0)
		goto fail;
	if ((rc = wire(m, err, n_err)) != 0)
		goto fail;
	/* start-up work split over gemm_get_threads() threads */
	if ((rc = team_create(&team, gemm_get_threads())) != 0) {
		status_fail(err, n_err, rc, "%s: cannot start the loading threads", dir);
		goto fail;
	}
	if (gemm_backend_for(1, 1, 1) != GEMM_BACKEND_OPENBLAS &&
	    (rc = layout_begin(m, team, opts != NULL ? opts->layout_cache_dir : NULL, &plan, err,
	                       n_err)) != 0)
		goto fail;
	if ((rc = check_weights(m, team, err, n_err)) != 0)
		goto fail;
	checks_free(m);
	if (plan != NULL && (rc = layout_finish(m, plan, team, err, n_err)) != 0)
		goto fail;
	layout_plan_free(plan);
	plan = NULL;
	team_destroy(team);
	team = NULL;
	if ((rc = tokenizer_load_from(dir,
	                              opts != NULL ? opts->tokenizer_source : TOKENIZER_SOURCE_AUTO,
	                              &m->tok, err, n_err)) != 0)
		goto fail;
	if (m->tok->vocab.n_tokens > m->cfg.vocab_size) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: the tokenizer has %d tokens but config.json vocab_size is %d",
		                 dir, (int)m->tok->vocab.n_tokens, (int)m->cfg.vocab_size);
		goto fail;
	}

	m->pooling = POOLING_MEAN;
	m->include_prompt = 1;
	if ((rc = load_pooling(m, err, n_err)) != 0)
		goto fail;
	if ((rc = load_st_prompts(m, err, n_err)) != 0)
		goto fail;
	if (opts != NULL && opts->pooling_set) {
		m->pooling = opts->pooling;
		m->pooling_from_folder = 0;
	}

	m->max_input_length = m->enc.max_positions - m->enc.position_offset;
	if (m->tok->model_max_length > 0 && m->tok->model_max_length < m->max_input_length)
		m->max_input_length = m->tok->model_max_length;
	*out = m;
	return 0;
fail:
	if (rc == STATUS_ENOMEM && err != NULL && n_err > 0 && err[0] == '\0')
		status_fail(err, n_err, rc, "%s: out of memory while loading", dir);
	layout_plan_free(plan);
	team_destroy(team);
	model_destroy(m);
	return rc;
}

void model_destroy(struct model *m)
{
	if (m == NULL)
		return;
	if (m->tok != NULL)
		tokenizer_destroy(m->tok);
	safetensors_close(m->st);
	hf_config_dispose(&m->cfg);
	free(m->layers);
	free(m->mobile_layers);
	free(m->packs);
	arena_dispose(&m->pack_arena);
	layout_map_dispose(&m->layout_map);
	checks_free(m);
	free(m->modern_layers);
	free(m->derived);
	free(m->derived_idx);
	for (int32_t i = 0; i < m->n_prompts; i++) {
		free(m->prompt_names[i]);
		free(m->prompt_texts[i]);
	}
	free(m->prompt_names);
	free(m->prompt_texts);
	free(m->default_prompt_name);
	free(m->dir);
	free(m);
}

const char *model_label(const struct model *m, int32_t i)
{
	if (i >= 0 && i < m->cfg.n_labels && m->cfg.id2label != NULL)
		return m->cfg.id2label[i];
	return NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the codec knows about the service as a whole (see codec.h): the
 * request limits taken from the settings (default prompt, served model
 * name), which route POST / answers as, and TEI's /info fields that
 * describe the model (model_type with TEI's embedding / classifier /
 * reranker shapes, prompts, served_model_name).
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"

int codec_limits_init(struct request_limits *lim, const struct model *m, const struct settings *cfg,
                      char *err, size_t n_err)
{
	memset(lim, 0, sizeof(*lim));
	lim->auto_truncate = cfg->auto_truncate;
	lim->max_client_batch_size = (int32_t)cfg->max_client_batch_size;
	lim->max_tokenize_tokens = cfg->max_batch_tokens;
	lim->max_response_floats = cfg->max_response_floats;
	lim->served_model_name =
	    cfg->served_model_name[0] != '\0' ? cfg->served_model_name : cfg->model_id;
	const char *name = cfg->default_prompt_name;
	if (cfg->default_prompt[0] != '\0') {
		lim->default_prompt = cfg->default_prompt;
		return 0;
	}
	if (name[0] == '\0') { /* the folder's own default, if any */
		lim->default_prompt =
		    m->default_prompt_name ? model_prompt(m, m->default_prompt_name) : NULL;
		return 0;
	}
	if (m->n_prompts == 0) {
		snprintf(err, n_err,
		         "`default-prompt-name` is set to `%s` but no prompts were found in the "
		         "Sentence Transformers configuration",
		         name);
		return -1;
	}
	lim->default_prompt = model_prompt(m, name);
	if (lim->default_prompt != NULL)
		return 0;
	size_t len = (size_t)snprintf(err, n_err,
	                              "`default-prompt-name` is set to `%s` but it was not found "
	                              "in the Sentence Transformers prompts. Available prompts: [",
	                              name);
	for (int32_t i = 0; i < m->n_prompts && len < n_err; i++)
		len += (size_t)snprintf(err + len, n_err - len, "%s\"%s\"", i ? ", " : "",
		                        m->prompt_names[i]);
	if (len < n_err)
		snprintf(err + len, n_err - len, "]");
	return -1;
}

enum route codec_root_route(const struct model *m, const char *task)
{
	if (m->head == HEAD_SEQCLS)
		return m->n_labels == 1 ? ROUTE_RERANK : ROUTE_PREDICT;
	if (m->head == HEAD_TOKCLS)
		return ROUTE_PREDICT_TOKENS;
	if (task != NULL && strcmp(task, "sentence-similarity") == 0)
		return ROUTE_SIMILARITY;
	return ROUTE_EMBED;
}

json_t *codec_model_type(const struct model *m)
{
	if (m->head == HEAD_NONE)
		return json_pack("{s:{s:s}}", "embedding", "pooling",
		                 m->pooling == POOLING_CLS ? "cls" : "mean");
	json_t *id2label = json_object(), *label2id = json_object();
	for (int32_t i = 0; i < m->n_labels; i++) {
		char key[16], fallback[32];
		const char *label = model_label(m, i);
		snprintf(key, sizeof(key), "%d", (int)i);
		snprintf(fallback, sizeof(fallback), "LABEL_%d", (int)i);
		json_object_set_new(id2label, key, json_string(label ? label : fallback));
		json_object_set_new(label2id, label ? label : fallback, json_integer(i));
	}
	const char *kind = m->head == HEAD_SEQCLS && m->n_labels == 1 ? "reranker" : "classifier";
	return json_pack("{s:{s:o, s:o}}", kind, "id2label", id2label, "label2id", label2id);
}

void codec_info_fields(json_t *info, const struct model *m, const struct request_limits *lim)
{
	json_t *prompts = json_null();
	if (m->n_prompts > 0) {
		prompts = json_object();
		for (int32_t i = 0; i < m->n_prompts; i++)
			json_object_set_new(prompts, m->prompt_names[i],
			                    json_string(m->prompt_texts[i]));
	}
	json_object_set_new(info, "model_type", codec_model_type(m));
	json_object_set_new(info, "model_sha", json_null());
	json_object_set_new(info, "docker_label", json_null());
	json_object_set_new(info, "prompts", prompts);
	json_object_set_new(info, "default_prompt",
	                    lim->default_prompt ? json_string(lim->default_prompt) : json_null());
	json_object_set_new(info, "served_model_name",
	                    json_string(lim->served_model_name ? lim->served_model_name : ""));
	json_object_set_new(info, "include_prompt", json_boolean(m->include_prompt));
}

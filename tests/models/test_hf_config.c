/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for models/hf_config.c: every BERT and DistilBERT fixture's
 * config.json, transformers' defaults for missing fields, labels, the name
 * tables, and the bad-input corpus under
 * tests/fixtures/invalid/config/<case>/{input,expect}, one loop iteration
 * per case.
 */
#include "hf_config.h"
#include "status.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fewer cases than this means the corpus was not found or lost cases. */
#define MIN_CASES 40

static struct corpus cases;

START_TEST(test_corpus_case)
{
	const char *name = cases.names[_i];
	char base[4400], input[4500], substr[256], err[1024] = "";
	struct hf_config cfg;
	int want;

	snprintf(base, sizeof(base), "%s/%s", fixture_path("invalid/config"), name);
	snprintf(input, sizeof(input), "%s/input", base);
	corpus_expect(base, &want, substr, sizeof(substr));
	int rc = hf_config_load(input, &cfg, err, sizeof(err));
	ck_assert_msg(rc == want, "case %s: got %d (%s) \"%s\", want %d (%s)", name, rc,
	              status_str(rc), err, want, status_str(want));
	ck_assert_msg(strstr(err, substr) != NULL, "case %s: \"%s\" does not contain \"%s\"", name,
	              err, substr);
	ck_assert_msg(strstr(err, input) != NULL, "case %s: \"%s\" does not name the file", name,
	              err);
	/* A failed load leaves nothing to free and dispose stays safe. */
	ck_assert_ptr_null(cfg.id2label);
	hf_config_dispose(&cfg);
}
END_TEST

START_TEST(test_corpus_found)
{
	ck_assert_msg(cases.n >= MIN_CASES, "found %d cases under %s, expected at least %d",
	              cases.n, fixture_path("invalid/config"), MIN_CASES);
}
END_TEST

/* Writes text to a new temporary file; its path goes into path. */
static void write_temp(const char *text, char *path, size_t n_path)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, n_path, "%s/smolserve_cfg_XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp %s", path);
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Loads text as a config.json; returns the status, err filled. */
static int load_text(const char *text, struct hf_config *cfg, char *err, size_t n_err)
{
	char path[4096];
	write_temp(text, path, sizeof(path));
	int rc = hf_config_load(path, cfg, err, n_err);
	unlink(path);
	return rc;
}

static void load_ok(const char *text, struct hf_config *cfg)
{
	char err[1024] = "";
	int rc = load_text(text, cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
}

#define BERT_MIN                                                                                   \
	"\"model_type\": \"bert\", \"vocab_size\": 100, \"hidden_size\": 64, "                     \
	"\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 128"

static const char *const fixtures[] = {"bert",        "bert-mlm",   "bert-seqcls",
                                       "bert-tokcls", "distilbert", "distilbert-seqcls"};

START_TEST(test_fixture_loads)
{
	const char *name = fixtures[_i];
	char sub[256], err[1024] = "";
	struct hf_config cfg;

	snprintf(sub, sizeof(sub), "%s/config.json", name);
	int rc = hf_config_load(fixture_path(sub), &cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s: %s", name, err);
	int distil = strncmp(name, "distilbert", 10) == 0;
	ck_assert_str_eq(cfg.model_type, distil ? "distilbert" : "bert");
	ck_assert_int_eq(cfg.vocab_size, 336);
	ck_assert_int_eq(cfg.hidden_size, 64);
	ck_assert_int_eq(cfg.n_layers, 2);
	ck_assert_int_eq(cfg.n_heads, 4);
	ck_assert_int_eq(cfg.intermediate_size, 128);
	ck_assert_int_eq(cfg.max_position_embeddings, 128);
	ck_assert_int_eq(cfg.type_vocab_size, distil ? 0 : 2);
	ck_assert_int_eq(cfg.embedding_size, 64);
	ck_assert_int_eq(cfg.pad_token_id, 0);
	ck_assert(cfg.layer_norm_eps == 1e-12f);
	ck_assert_int_eq(cfg.hidden_act, ACT_GELU);
	ck_assert_int_eq(cfg.problem_type, PROBLEM_DEFAULT);
	ck_assert_int_eq(cfg.sinusoidal_pos_embds, 0);
	ck_assert_str_eq(cfg.position_embedding_type, "absolute");
	ck_assert_int_eq(cfg.n_architectures, 1);
	ck_assert_msg(
	    strncmp(cfg.architectures[0], distil ? "DistilBert" : "Bert", distil ? 10 : 4) == 0,
	    "%s", cfg.architectures[0]);
	int want_labels = strstr(name, "seqcls") ? 3 : strstr(name, "tokcls") ? 5 : 0;
	ck_assert_int_eq(cfg.n_labels, want_labels);
	hf_config_dispose(&cfg);
	hf_config_dispose(&cfg); /* idempotent */
}
END_TEST

START_TEST(test_fixture_labels)
{
	const char *want_seq[] = {"negative", "neutral", "positive"};
	const char *want_tok[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
	struct hf_config cfg;
	char err[1024];

	ck_assert_int_eq(
	    hf_config_load(fixture_path("distilbert-seqcls/config.json"), &cfg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(cfg.n_labels, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(cfg.id2label[i], want_seq[i]);
	ck_assert_str_eq(cfg.architectures[0], "DistilBertForSequenceClassification");
	hf_config_dispose(&cfg);
	ck_assert_int_eq(
	    hf_config_load(fixture_path("bert-tokcls/config.json"), &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.n_labels, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(cfg.id2label[i], want_tok[i]);
	hf_config_dispose(&cfg);
}
END_TEST

/* Every family's fixture config loads, with its own options read. */
START_TEST(test_other_families_load)
{
	static const char *const folders[] = {"electra", "roberta", "xlm-roberta", "albert",
	                                      "mobilebert"};
	for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		struct hf_config cfg;
		char err[1024] = "", sub[64];
		snprintf(sub, sizeof(sub), "%s/config.json", folders[i]);
		int rc = hf_config_load(fixture_path(sub), &cfg, err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: %s", folders[i], err);
		ck_assert_str_eq(cfg.model_type, folders[i]);
		if (i == 0)
			ck_assert_int_eq(cfg.embedding_size, 32);
		if (i == 1) {
			ck_assert_int_eq(cfg.pad_token_id, 1);
			ck_assert_float_eq(cfg.layer_norm_eps, 1e-5f);
		}
		if (i == 3) {
			ck_assert_int_eq(cfg.num_hidden_groups, 1);
			ck_assert_int_eq(cfg.hidden_act, ACT_GELU_TANH);
		}
		if (i == 4) {
			ck_assert_int_eq(cfg.true_hidden_size, 32);
			ck_assert_int_eq(cfg.num_feedforward_networks, 4);
			ck_assert_int_eq(cfg.no_norm, 1);
			ck_assert_int_eq(cfg.trigram_input, 1);
			ck_assert_int_eq(cfg.hidden_act, ACT_RELU);
		}
		hf_config_dispose(&cfg);
	}
}
END_TEST

/* MPNet's, DeBERTa-v2's and ModernBERT's own keys from the fixtures, and
 * their config classes' defaults when absent. */
START_TEST(test_encoder_families)
{
	struct hf_config cfg;
	char err[1024] = "";
	ck_assert_int_eq(hf_config_load(fixture_path("mpnet/config.json"), &cfg, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(cfg.relative_attention_num_buckets, 32);
	ck_assert_int_eq(cfg.max_position_embeddings, 130);
	ck_assert_int_eq(cfg.type_vocab_size, 0);
	hf_config_dispose(&cfg);

	ck_assert_int_eq(
	    hf_config_load(fixture_path("deberta-v2-seqcls/config.json"), &cfg, err, sizeof(err)),
	    0);
	ck_assert_int_eq(cfg.relative_attention, 1);
	ck_assert_int_eq(cfg.position_buckets, 256);
	ck_assert_int_eq(cfg.max_relative_positions, -1);
	ck_assert_int_eq(cfg.position_biased_input, 0);
	ck_assert(cfg.pos_att_c2p && cfg.pos_att_p2c && cfg.share_att_key && cfg.norm_rel_ebd);
	ck_assert_int_eq(cfg.type_vocab_size, 0);
	ck_assert_int_eq(cfg.pooler_hidden_act, ACT_GELU);
	ck_assert_float_eq(cfg.layer_norm_eps, 1e-7f);
	ck_assert_int_eq(cfg.n_labels, 3);
	hf_config_dispose(&cfg);

	ck_assert_int_eq(
	    hf_config_load(fixture_path("modernbert-seqcls/config.json"), &cfg, err, sizeof(err)),
	    0);
	ck_assert(!cfg.attention_bias && !cfg.mlp_bias && !cfg.norm_bias && !cfg.classifier_bias);
	ck_assert_float_eq(cfg.global_rope_theta, 160000.0f);
	ck_assert_float_eq(cfg.local_rope_theta, 10000.0f);
	ck_assert_int_eq(cfg.global_attn_every_n_layers, 3);
	ck_assert_int_eq(cfg.local_attention, 32);
	ck_assert_int_eq(cfg.classifier_pooling_mean, 0);
	ck_assert_int_eq(cfg.hidden_act, ACT_GELU);
	ck_assert_float_eq(cfg.layer_norm_eps, 1e-5f);
	hf_config_dispose(&cfg);

#define SIZES                                                                                      \
	"\"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, "                       \
	"\"num_attention_heads\": 2, \"intermediate_size\": 16"
	load_ok("{\"model_type\": \"deberta-v2\", " SIZES ", \"pos_att_type\": \"p2c|c2p\"}", &cfg);
	ck_assert(cfg.pos_att_c2p && cfg.pos_att_p2c && !cfg.relative_attention);
	ck_assert(cfg.position_biased_input && !cfg.share_att_key && !cfg.norm_rel_ebd);
	ck_assert_int_eq(cfg.position_buckets, -1);
	ck_assert_float_eq(cfg.layer_norm_eps, 1e-7f);
	hf_config_dispose(&cfg);
	load_ok("{\"model_type\": \"modernbert\", " SIZES ", \"local_rope_theta\": null, "
	        "\"classifier_pooling\": \"mean\", \"global_rope_theta\": 5000}",
	        &cfg);
	ck_assert_float_eq(cfg.local_rope_theta, 5000.0f);
	ck_assert_int_eq(cfg.classifier_pooling_mean, 1);
	ck_assert_int_eq(cfg.max_position_embeddings, 8192);
	ck_assert_int_eq(cfg.local_attention, 128);
	hf_config_dispose(&cfg);
	load_ok("{\"model_type\": \"mpnet\", " SIZES "}", &cfg);
	ck_assert_int_eq(cfg.max_position_embeddings, 514);
	ck_assert_int_eq(cfg.relative_attention_num_buckets, 32);
	hf_config_dispose(&cfg);
#undef SIZES
}
END_TEST

START_TEST(test_bert_defaults)
{
	struct hf_config cfg;
	load_ok("{" BERT_MIN "}", &cfg);
	ck_assert_int_eq(cfg.max_position_embeddings, 512);
	ck_assert_int_eq(cfg.type_vocab_size, 2);
	ck_assert_int_eq(cfg.embedding_size, 64);
	ck_assert_int_eq(cfg.pad_token_id, 0);
	ck_assert(cfg.layer_norm_eps == 1e-12f);
	ck_assert_int_eq(cfg.hidden_act, ACT_GELU);
	ck_assert_str_eq(cfg.position_embedding_type, "absolute");
	ck_assert_int_eq(cfg.problem_type, PROBLEM_DEFAULT);
	ck_assert_int_eq(cfg.n_architectures, 0);
	ck_assert_int_eq(cfg.n_labels, 0);
	hf_config_dispose(&cfg);
	/* null counts as absent for optional fields */
	load_ok("{" BERT_MIN ", \"pad_token_id\": null, \"problem_type\": null, "
	        "\"id2label\": null, \"layer_norm_eps\": null}",
	        &cfg);
	ck_assert_int_eq(cfg.pad_token_id, 0);
	ck_assert(cfg.layer_norm_eps == 1e-12f);
	hf_config_dispose(&cfg);
}
END_TEST

START_TEST(test_distilbert_defaults)
{
	struct hf_config cfg;
	/* layer_norm_eps and type_vocab_size are not DistilBertConfig fields. */
	load_ok("{\"model_type\": \"distilbert\", \"vocab_size\": 30522, "
	        "\"layer_norm_eps\": 1e-5, \"type_vocab_size\": 2}",
	        &cfg);
	ck_assert_int_eq(cfg.hidden_size, 768);
	ck_assert_int_eq(cfg.n_layers, 6);
	ck_assert_int_eq(cfg.n_heads, 12);
	ck_assert_int_eq(cfg.intermediate_size, 3072);
	ck_assert_int_eq(cfg.max_position_embeddings, 512);
	ck_assert_int_eq(cfg.type_vocab_size, 0);
	ck_assert_int_eq(cfg.embedding_size, 768);
	ck_assert(cfg.layer_norm_eps == 1e-12f);
	ck_assert_int_eq(cfg.hidden_act, ACT_GELU);
	ck_assert_int_eq(cfg.sinusoidal_pos_embds, 0);
	hf_config_dispose(&cfg);
	load_ok("{\"model_type\": \"distilbert\", \"vocab_size\": 10, \"activation\": \"relu\", "
	        "\"sinusoidal_pos_embds\": true}",
	        &cfg);
	ck_assert_int_eq(cfg.hidden_act, ACT_RELU);
	ck_assert_int_eq(cfg.sinusoidal_pos_embds, 1);
	hf_config_dispose(&cfg);
}
END_TEST

START_TEST(test_options)
{
	struct hf_config cfg;
	load_ok("{" BERT_MIN ", \"embedding_size\": 32, \"layer_norm_eps\": 1e-5, "
	        "\"hidden_act\": \"gelu_new\", \"problem_type\": \"multi_label_classification\", "
	        "\"position_embedding_type\": \"relative_key\", \"pad_token_id\": 1, "
	        "\"type_vocab_size\": 1, \"max_position_embeddings\": 514}",
	        &cfg);
	ck_assert_int_eq(cfg.embedding_size, 32);
	ck_assert(cfg.layer_norm_eps == 1e-5f);
	ck_assert_int_eq(cfg.hidden_act, ACT_GELU_TANH);
	ck_assert_int_eq(cfg.problem_type, PROBLEM_MULTI_LABEL);
	ck_assert_str_eq(cfg.position_embedding_type, "relative_key");
	ck_assert_int_eq(cfg.pad_token_id, 1);
	ck_assert_int_eq(cfg.type_vocab_size, 1);
	ck_assert_int_eq(cfg.max_position_embeddings, 514);
	hf_config_dispose(&cfg);
	load_ok("{" BERT_MIN ", \"problem_type\": \"regression\"}", &cfg);
	ck_assert_int_eq(cfg.problem_type, PROBLEM_REGRESSION);
	hf_config_dispose(&cfg);
	load_ok("{" BERT_MIN ", \"problem_type\": \"single_label_classification\"}", &cfg);
	ck_assert_int_eq(cfg.problem_type, PROBLEM_SINGLE_LABEL);
	hf_config_dispose(&cfg);
	load_ok("{" BERT_MIN ", \"architectures\": [\"A\", \"B\", \"C\", \"D\", \"E\"]}", &cfg);
	ck_assert_int_eq(cfg.n_architectures, HF_CONFIG_MAX_ARCHS);
	ck_assert_str_eq(cfg.architectures[3], "D");
	hf_config_dispose(&cfg);
}
END_TEST

/* relative_key_query is a real BertConfig value that does not fit the struct. */
START_TEST(test_relative_key_query_unsupported)
{
	struct hf_config cfg;
	char err[1024] = "";
	int rc = load_text("{" BERT_MIN ", \"position_embedding_type\": \"relative_key_query\"}",
	                   &cfg, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EUNSUPPORTED);
	ck_assert_msg(strstr(err, "position_embedding_type \"relative_key_query\" is not "
	                          "supported") != NULL,
	              "%s", err);
}
END_TEST

START_TEST(test_labels)
{
	struct hf_config cfg;
	load_ok("{" BERT_MIN ", \"num_labels\": 3}", &cfg);
	ck_assert_int_eq(cfg.n_labels, 3);
	ck_assert_str_eq(cfg.id2label[0], "LABEL_0");
	ck_assert_str_eq(cfg.id2label[2], "LABEL_2");
	hf_config_dispose(&cfg);
	/* id2label wins over num_labels, as in transformers; keys in any order */
	load_ok("{" BERT_MIN ", \"num_labels\": 5, \"id2label\": {\"1\": \"pos\", \"0\": \"neg\"}}",
	        &cfg);
	ck_assert_int_eq(cfg.n_labels, 2);
	ck_assert_str_eq(cfg.id2label[0], "neg");
	ck_assert_str_eq(cfg.id2label[1], "pos");
	hf_config_dispose(&cfg);
	load_ok("{" BERT_MIN ", \"id2label\": {}}", &cfg);
	ck_assert_int_eq(cfg.n_labels, 0);
	hf_config_dispose(&cfg);
	load_ok("{" BERT_MIN ", \"num_labels\": 0}", &cfg);
	ck_assert_int_eq(cfg.n_labels, 0);
	hf_config_dispose(&cfg);
	char big[4096] = "{" BERT_MIN ", \"id2label\": {";
	for (int i = 11; i >= 0; i--)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "\"%d\": \"l%d\"%s", i, i,
		         i ? ", " : "}}");
	load_ok(big, &cfg);
	ck_assert_int_eq(cfg.n_labels, 12);
	ck_assert_str_eq(cfg.id2label[10], "l10");
	hf_config_dispose(&cfg);
}
END_TEST

START_TEST(test_activation_names)
{
	ck_assert_int_eq(activation_from_name("gelu"), ACT_GELU);
	ck_assert_int_eq(activation_from_name("gelu_new"), ACT_GELU_TANH);
	ck_assert_int_eq(activation_from_name("gelu_pytorch_tanh"), ACT_GELU_TANH);
	ck_assert_int_eq(activation_from_name("gelu_fast"), ACT_GELU_TANH);
	ck_assert_int_eq(activation_from_name("relu"), ACT_RELU);
	ck_assert_int_eq(activation_from_name("tanh"), ACT_TANH);
	ck_assert_int_eq(activation_from_name("GELU"), -1);
	ck_assert_int_eq(activation_from_name(""), -1);
	ck_assert_int_eq(activation_from_name("swish"), -1);
}
END_TEST

START_TEST(test_io_errors)
{
	struct hf_config cfg;
	char err[1024] = "";
	const char *missing = fixture_path("bert/no-such-config.json");
	int rc = hf_config_load(missing, &cfg, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EIO);
	ck_assert_msg(strstr(err, missing) != NULL && strstr(err, "cannot open") != NULL, "%s",
	              err);
	const char *dir = fixture_path("bert");
	rc = hf_config_load(dir, &cfg, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EIO);
	ck_assert_msg(strstr(err, dir) != NULL, "%s", err);
	rc = hf_config_load(missing, &cfg, NULL, 0);
	ck_assert_int_eq(rc, STATUS_EIO);
	hf_config_dispose(NULL);
}
END_TEST

int main(void)
{
	corpus_scan(&cases, "invalid/config");
	Suite *s = suite_create("hf_config");
	TCase *tc = tcase_create("hf_config");
	tcase_add_loop_test(tc, test_fixture_loads, 0,
	                    (int)(sizeof(fixtures) / sizeof(fixtures[0])));
	tcase_add_test(tc, test_fixture_labels);
	tcase_add_test(tc, test_other_families_load);
	tcase_add_test(tc, test_encoder_families);
	tcase_add_test(tc, test_bert_defaults);
	tcase_add_test(tc, test_distilbert_defaults);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_relative_key_query_unsupported);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_activation_names);
	tcase_add_test(tc, test_io_errors);
	suite_add_tcase(s, tc);
	TCase *corpus = tcase_create("invalid");
	tcase_add_test(corpus, test_corpus_found);
	tcase_add_loop_test(corpus, test_corpus_case, 0, cases.n);
	suite_add_tcase(s, corpus);
	return test_run_suite(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sharded checkpoints (model.safetensors.index.json + shards): fixtures split
 * into shards by tests/models/split_safetensors.py must load and compute
 * bit for bit what the single-file originals compute, and an index that
 * lies (a missing shard, a tensor in the wrong shard or in none, a tensor
 * in two shards, a shard path leaving the folder, malformed JSON) is an
 * error naming the index and the problem.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "safetensors.h"
#include "status.h"
#include "sharded_util.h"
#include "test_util.h"

static const char *const SPLIT_FIXTURES[] = {"bert-seqcls", "roberta", "albert", "distilbert"};

START_TEST(test_sharded_equals_single_file)
{
	const char *fixture = SPLIT_FIXTURES[_i];
	char dir[64], err[1024] = "";
	struct model *single = NULL, *sharded = NULL;
	struct model_opts opts = {0};
	split_fixture(fixture, 3, dir, sizeof(dir));
	ck_assert_msg(model_load(fixture_path(fixture), &opts, &single, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_msg(model_load(dir, &opts, &sharded, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(sharded->st->n_files, 3);
	ck_assert_int_eq(sharded->st->n_tensors, single->st->n_tensors);
	/* Every shard holds some tensors the model uses. */
	int used[3] = {0, 0, 0};
	for (int i = 0; i < sharded->st->n_tensors; i++)
		used[sharded->st->tensors[i].file] |= sharded->st->tensors[i].used;
	ck_assert(used[0] && used[1] && used[2]);
	assert_same_outputs(fixture, single, sharded);
	model_destroy(single);
	model_destroy(sharded);
	remove_dir(dir);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The index of a 2-shard split with one weight_map entry replaced. */
static char *index_with(const char *dir, const char *tensor, json_t *shard)
{
	char path[4200];
	json_error_t jerr;
	snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
	json_t *root = json_load_file(path, 0, &jerr);
	ck_assert_ptr_nonnull(root);
	json_object_set_new(json_object_get(root, "weight_map"), tensor, shard);
	char *text = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	return text;
}

struct index_case {
	const char *name;
	const char *tensor; /* NULL: the text below replaces the index */
	const char *shard;
	const char *text;
	int status;
	const char *substr;
};

static const struct index_case INDEX_CASES[] = {
    {"missing shard", "pooler.dense.bias", "model-00009-of-00002.safetensors", NULL, STATUS_EIO,
     "model-00009-of-00002.safetensors: cannot open"},
    {"wrong shard", "embeddings.word_embeddings.weight", "model-00002-of-00002.safetensors", NULL,
     STATUS_EFORMAT, "but it is in model-00001-of-00002.safetensors"},
    {"no such tensor", "encoder.layer.9.output.dense.weight", "model-00001-of-00002.safetensors",
     NULL, STATUS_EFORMAT, "which has no such tensor"},
    {"tensor twice", "x", "dup.safetensors", NULL, STATUS_EFORMAT, "is in two shards"},
    {"shard outside the folder", "pooler.dense.bias", "../bert/model.safetensors", NULL,
     STATUS_EFORMAT, "must be the file name of a shard beside the index"},
    {"shard not a string", "pooler.dense.bias", NULL, NULL, STATUS_EFORMAT,
     "must be the file name of a shard"},
    {"no weight_map", NULL, NULL, "{\"metadata\": {}}", STATUS_EFORMAT, "non-empty \"weight_map\""},
    {"empty weight_map", NULL, NULL, "{\"weight_map\": {}}", STATUS_EFORMAT,
     "non-empty \"weight_map\""},
    {"not JSON", NULL, NULL, "{\"weight_map\": ", STATUS_EFORMAT, "line 1"},
    {"duplicate key", NULL, NULL,
     "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"a\": "
     "\"model-00001-of-00002.safetensors\"}}",
     STATUS_EFORMAT, "duplicate"},
};

/* bert split in 2 once, in the parent process; each case links its files
 * into a folder of its own and writes its own index there. */
static char two_shards[64];

static void split_once(void)
{
	split_fixture("bert", 2, two_shards, sizeof(two_shards));
}

static void remove_split(void)
{
	remove_dir(two_shards);
}

/* A new folder with links to every file of two_shards (dir, 64 bytes). */
static void link_split(char *dir)
{
	char cmd[512];
	snprintf(dir, 64, "/tmp/smolserve-index-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "ln -s '%s'/* '%s'", two_shards, dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_index_errors)
{
	const struct index_case *c = &INDEX_CASES[_i];
	char dir[64], err[1024] = "", index[4200], path[4200];
	link_split(dir);
	snprintf(index, sizeof(index), "%s/model.safetensors.index.json", dir);
	if (c->tensor != NULL) { /* index_with reads it: a copy of its own */
		char cmd[8500];
		snprintf(cmd, sizeof(cmd), "cp --remove-destination '%s/%s' '%s'", two_shards,
		         "model.safetensors.index.json", index);
		ck_assert_int_eq(system(cmd), 0);
	}
	if (strcmp(c->shard ? c->shard : "", "dup.safetensors") == 0) {
		snprintf(path, sizeof(path), "%s/model-00001-of-00002.safetensors", two_shards);
		snprintf(index, sizeof(index), "%s/%s", dir, c->shard);
		ck_assert_int_eq(symlink(path, index), 0);
	}
	char *text = c->tensor ? index_with(dir, c->tensor,
	                                    c->shard ? json_string(c->shard) : json_integer(7))
	                       : strdup(c->text);
	snprintf(index, sizeof(index), "%s/model.safetensors.index.json", dir);
	unlink(index);
	write_file(dir, "model.safetensors.index.json", text);
	free(text);
	struct safetensors *st = (struct safetensors *)1;
	int rc = safetensors_open_index(index, &st, err, sizeof(err));
	ck_assert_msg(rc == c->status, "%s: got %d (%s), want %d", c->name, rc, err, c->status);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, c->substr) != NULL, "%s: \"%s\" lacks \"%s\"", c->name, err,
	              c->substr);
	ck_assert_msg(strstr(err, dir) != NULL, "%s: \"%s\" does not name the folder", c->name,
	              err);
	/* model_load reports the same through the folder. */
	struct model *m = NULL;
	struct model_opts opts = {0};
	ck_assert_int_eq(model_load(dir, &opts, &m, err, sizeof(err)), c->status);
	ck_assert_ptr_null(m);
	remove_dir(dir);
}
END_TEST

START_TEST(test_tensor_lookup_spans_shards)
{
	char dir[64], err[1024] = "", index[4200];
	split_fixture("bert", 3, dir, sizeof(dir));
	snprintf(index, sizeof(index), "%s/model.safetensors.index.json", dir);
	struct safetensors *sh = NULL, *one = NULL;
	ck_assert_msg(safetensors_open_index(index, &sh, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(
	    safetensors_open(fixture_path("bert/model.safetensors"), &one, err, sizeof(err)), 0);
	ck_assert_int_eq(sh->n_tensors, one->n_tensors);
	for (int i = 0; i < one->n_tensors; i++) {
		const struct st_tensor *a = &one->tensors[i];
		const struct st_tensor *b = safetensors_find(sh, a->name);
		ck_assert_msg(b != NULL, "%s missing from the shards", a->name);
		ck_assert_int_eq((int)a->n_bytes, (int)b->n_bytes);
		ck_assert(memcmp(safetensors_data(one, a), safetensors_data(sh, b), a->n_bytes) ==
		          0);
		const float *w;
		ck_assert_msg(safetensors_get(sh, a->name, NULL, 0, a->n_dims, a->shape, &w, err,
		                              sizeof(err)) == 0,
		              "%s", err);
	}
	/* A shape error names the shard, a missing tensor the index. */
	const int64_t bad[1] = {3};
	const float *w;
	ck_assert_int_eq(
	    safetensors_get(sh, "pooler.dense.bias", NULL, 0, 1, bad, &w, err, sizeof(err)),
	    STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "-of-00003.safetensors: tensor \"pooler.dense.bias\"") != NULL,
	              "%s", err);
	ck_assert_int_eq(safetensors_get(sh, "nope", NULL, 0, 1, bad, &w, err, sizeof(err)),
	                 STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "model.safetensors.index.json: tensor \"nope\" not found") !=
	                  NULL,
	              "%s", err);
	safetensors_close(sh);
	safetensors_close(one);
	remove_dir(dir);
}
END_TEST

START_TEST(test_only_pytorch_shards)
{
	char dir[] = "/tmp/smolserve-ptonly-XXXXXX", err[1024] = "", cmd[4400];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp '%s/'*.json '%s/vocab.txt' '%s'", fixture_path("bert"),
	         fixture_path("bert"), dir);
	ck_assert_int_eq(system(cmd), 0);
	write_file(dir, "pytorch_model.bin.index.json", "{}");
	struct model *m = NULL;
	ck_assert_int_eq(model_load(dir, NULL, &m, err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_msg(strstr(err, "pytorch_model.bin.index.json") != NULL &&
	                  strstr(err, "safe_serialization=True") != NULL,
	              "%s", err);
	remove_dir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sharded");
	TCase *tc = tcase_create("sharded");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_sharded_equals_single_file, 0,
	                    (int)(sizeof(SPLIT_FIXTURES) / sizeof(SPLIT_FIXTURES[0])));
	TCase *index = tcase_create("index");
	tcase_set_timeout(index, 60);
	tcase_add_unchecked_fixture(index, split_once, remove_split);
	tcase_add_loop_test(index, test_index_errors, 0,
	                    (int)(sizeof(INDEX_CASES) / sizeof(INDEX_CASES[0])));
	suite_add_tcase(s, index);
	tcase_add_test(tc, test_tensor_lookup_spans_shards);
	tcase_add_test(tc, test_only_pytorch_shards);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

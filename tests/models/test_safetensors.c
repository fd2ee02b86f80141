/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for models/safetensors.c: the real BERT fixtures, lookups with
 * prefixes, the wording of shape and missing-tensor errors, F16/BF16
 * widening and misaligned F32 against known values (files written by
 * tests/fixtures/invalid/make_safetensors_cases.py into
 * tests/fixtures/safetensors_valid/), and the bad-input corpus under
 * tests/fixtures/invalid/safetensors/<case>/{input,expect}, one loop
 * iteration per case.
 */
#include "safetensors.h"
#include "status.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Fewer cases than this means the corpus was not found or lost cases. */
#define MIN_CASES 38

static struct corpus cases;

/* Opens path and asks for every tensor as F32 with its own shape. */
static int open_and_get_all(const char *path, char *err, size_t n_err)
{
	struct safetensors *st;
	int rc = safetensors_open(path, &st, err, n_err);
	for (int i = 0; rc == 0 && i < st->n_tensors; i++) {
		const struct st_tensor *t = &st->tensors[i];
		const float *data;
		rc = safetensors_get(st, t->name, NULL, 0, t->n_dims, t->shape, &data, err, n_err);
	}
	if (st != NULL)
		safetensors_close(st);
	return rc;
}

START_TEST(test_corpus_case)
{
	const char *name = cases.names[_i];
	char base[4400], input[4500], substr[256], err[1024] = "";
	int want;

	snprintf(base, sizeof(base), "%s/%s", fixture_path("invalid/safetensors"), name);
	snprintf(input, sizeof(input), "%s/input", base);
	corpus_expect(base, &want, substr, sizeof(substr));
	int rc = open_and_get_all(input, err, sizeof(err));
	ck_assert_msg(rc == want, "case %s: got %d (%s) \"%s\", want %d (%s)", name, rc,
	              status_str(rc), err, want, status_str(want));
	ck_assert_msg(strstr(err, substr) != NULL, "case %s: \"%s\" does not contain \"%s\"", name,
	              err, substr);
	ck_assert_msg(strstr(err, input) != NULL, "case %s: \"%s\" does not name the file", name,
	              err);
}
END_TEST

START_TEST(test_corpus_found)
{
	ck_assert_msg(cases.n >= MIN_CASES, "found %d cases under %s, expected at least %d",
	              cases.n, fixture_path("invalid/safetensors"), MIN_CASES);
}
END_TEST

static struct safetensors *open_fixture(const char *sub)
{
	struct safetensors *st = NULL;
	char err[1024] = "";
	int rc = safetensors_open(fixture_path(sub), &st, err, sizeof(err));
	ck_assert_msg(rc == 0, "open %s: %s", sub, err);
	ck_assert_ptr_nonnull(st);
	return st;
}

START_TEST(test_bert_fixture)
{
	struct safetensors *st = open_fixture("bert/model.safetensors");
	/* Not fixture_expected(): expected.json holds "\u0000" in a case text. */
	json_t *expected = json_load_file(fixture_path("bert/expected.json"), JSON_ALLOW_NUL, NULL);
	ck_assert_ptr_nonnull(expected);
	json_t *keys = json_object_get(expected, "safetensors_keys");
	char err[1024];
	const float *w;

	ck_assert_int_eq(st->n_tensors, 39);
	ck_assert_int_eq((int)json_array_size(keys), 39);
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const char *k = json_string_value(json_array_get(keys, i));
		const struct st_tensor *t = safetensors_find(st, k);
		ck_assert_msg(t != NULL, "%s missing", k);
		ck_assert_int_eq(t->dtype, ST_F32);
		ck_assert_str_eq(t->dtype_name, "F32");
	}
	ck_assert_ptr_null(safetensors_find(st, "__metadata__"));
	ck_assert_ptr_null(safetensors_find(st, "nope"));

	const int64_t shape[] = {336, 64};
	const struct st_tensor *t = safetensors_find(st, "embeddings.word_embeddings.weight");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->used, 0);
	int rc = safetensors_get(st, "embeddings.word_embeddings.weight", NULL, 0, 2, shape, &w,
	                         err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(t->used, 1);
	ck_assert_int_eq(t->n_elems, 336 * 64);
	ck_assert_uint_eq(t->n_bytes, 336 * 64 * 4);
	/* F32 and aligned: used in place, no copy. */
	ck_assert_ptr_eq((const void *)w, (const void *)safetensors_data(st, t));
	ck_assert_ptr_null(t->widened);
	/* The padding token's row is zero in the fixture. */
	for (int j = 0; j < 64; j++)
		ck_assert(w[j] == 0.0f);
	json_decref(expected);
	safetensors_close(st);
}
END_TEST

START_TEST(test_prefixes)
{
	struct safetensors *st = open_fixture("bert-mlm/model.safetensors");
	const char *const prefixes[] = {"distilbert.", "bert."};
	const int64_t shape[] = {336, 64};
	char err[1024];
	const float *w = NULL, *w2 = NULL;

	ck_assert_ptr_null(safetensors_find(st, "embeddings.word_embeddings.weight"));
	int rc = safetensors_get(st, "embeddings.word_embeddings.weight", prefixes, 2, 2, shape, &w,
	                         err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	const struct st_tensor *t = safetensors_find(st, "bert.embeddings.word_embeddings.weight");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->used, 1);
	ck_assert_ptr_eq((const void *)w, (const void *)safetensors_data(st, t));
	/* The full name as given works too, and finds the same tensor. */
	rc = safetensors_get(st, "bert.embeddings.word_embeddings.weight", prefixes, 2, 2, shape,
	                     &w2, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_eq(w, w2);
	/* The MLM head is there but never looked up. */
	const struct st_tensor *head = safetensors_find(st, "cls.predictions.bias");
	ck_assert_ptr_nonnull(head);
	ck_assert_int_eq(head->used, 0);
	safetensors_close(st);
}
END_TEST

START_TEST(test_missing_tensor_message)
{
	struct safetensors *st = open_fixture("bert/model.safetensors");
	const char *const prefixes[] = {"bert."};
	const int64_t shape[] = {64};
	char err[1024] = "";
	const float *w = (const float *)&w;

	int rc =
	    safetensors_get(st, "pooler.dense.bais", prefixes, 1, 1, shape, &w, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EFORMAT);
	ck_assert_ptr_null(w);
	ck_assert_msg(strstr(err, fixture_path("bert/model.safetensors")) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "tensor \"pooler.dense.bais\" not found") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "\"bert.pooler.dense.bais\"") != NULL, "%s", err);

	rc = safetensors_get(st, "pooler.dense.bais", NULL, 0, 1, shape, &w, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "not found") != NULL && strstr(err, "tried") == NULL, "%s", err);
	safetensors_close(st);
}
END_TEST

START_TEST(test_wrong_shape_message)
{
	struct safetensors *st = open_fixture("safetensors_valid/dtypes.safetensors");
	const char *path = fixture_path("safetensors_valid/dtypes.safetensors");
	const int64_t square[] = {64, 64};
	const int64_t flat[] = {2048};
	char err[1024] = "";
	const float *w;

	int rc = safetensors_get(st, "f32_64x32", NULL, 0, 2, square, &w, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EFORMAT);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "tensor \"f32_64x32\": expected [64, 64], found [64, 32]") !=
	                  NULL,
	              "%s", err);
	rc = safetensors_get(st, "f32_64x32", NULL, 0, 1, flat, &w, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "expected [2048], found [64, 32]") != NULL, "%s", err);
	rc = safetensors_get(st, "scalar", NULL, 0, 1, flat, &w, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "expected [2048], found []") != NULL, "%s", err);
	safetensors_close(st);
}
END_TEST

START_TEST(test_f16_bf16_widening)
{
	struct safetensors *st = open_fixture("safetensors_valid/dtypes.safetensors");
	const float want16[] = {1.0f,     -2.0f, 0.5f,     65504.0f,
	                        0x1p-24f, -0.0f, INFINITY, 0.333251953125f};
	const float wantb16[] = {1.0f, -3.5f, 3.3895313892515355e38f, 0x1p-133f};
	const int64_t s33[] = {3, 3}, s4[] = {4};
	char err[1024];
	const float *w, *again;

	ck_assert_int_eq(st->n_tensors, 6);
	int rc = safetensors_get(st, "f16", NULL, 0, 2, s33, &w, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	const struct st_tensor *t = safetensors_find(st, "f16");
	ck_assert_int_eq(t->dtype, ST_F16);
	ck_assert_ptr_eq(w, t->widened);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(w[i] == want16[i], "f16[%d] = %a, want %a", i, (double)w[i],
		              (double)want16[i]);
	ck_assert(signbit(w[5]));
	ck_assert(isnan(w[8]));
	/* Widened once: the second lookup returns the same buffer. */
	rc = safetensors_get(st, "f16", NULL, 0, 2, s33, &again, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_eq(w, again);

	rc = safetensors_get(st, "bf16", NULL, 0, 1, s4, &w, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(safetensors_find(st, "bf16")->dtype, ST_BF16);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(w[i] == wantb16[i], "bf16[%d] = %a, want %a", i, (double)w[i],
		              (double)wantb16[i]);
	safetensors_close(st);
}
END_TEST

START_TEST(test_f32_scalar_empty_and_other_dtype)
{
	struct safetensors *st = open_fixture("safetensors_valid/dtypes.safetensors");
	const int64_t s[] = {64, 32}, s0[] = {0, 4}, s2[] = {2};
	char err[1024] = "";
	const float *w;

	int rc = safetensors_get(st, "f32_64x32", NULL, 0, 2, s, &w, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	for (int i = 0; i < 64 * 32; i++)
		ck_assert(w[i] == 0.5f * (float)i);
	rc = safetensors_get(st, "scalar", NULL, 0, 0, NULL, &w, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert(w[0] == 42.0f);
	ck_assert_int_eq(safetensors_find(st, "scalar")->n_elems, 1);
	rc = safetensors_get(st, "empty", NULL, 0, 2, s0, &w, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(safetensors_find(st, "empty")->n_elems, 0);
	rc = safetensors_get(st, "ids", NULL, 0, 1, s2, &w, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "tensor \"ids\": unsupported dtype I64") != NULL, "%s", err);
	ck_assert_int_eq(safetensors_find(st, "ids")->dtype, ST_OTHER);
	ck_assert_str_eq(safetensors_find(st, "ids")->dtype_name, "I64");
	safetensors_close(st);
}
END_TEST

START_TEST(test_misaligned_f32_is_copied)
{
	struct safetensors *st = open_fixture("safetensors_valid/misaligned_f32.safetensors");
	const int64_t s[] = {3};
	char err[1024];
	const float *w;

	const struct st_tensor *t = safetensors_find(st, "mis");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->offset % 4, 2);
	int rc = safetensors_get(st, "mis", NULL, 0, 1, s, &w, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_eq(w, t->widened);
	ck_assert_uint_eq((uintptr_t)w % _Alignof(float), 0);
	ck_assert(w[0] == 1.5f && w[1] == -2.25f && w[2] == 1e-3f);
	safetensors_close(st);
}
END_TEST

START_TEST(test_open_errors)
{
	struct safetensors *st = (struct safetensors *)&st;
	char err[1024] = "";
	const char *missing = fixture_path("safetensors_valid/does-not-exist.safetensors");

	int rc = safetensors_open(missing, &st, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EIO);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, missing) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);

	const char *dir = fixture_path("safetensors_valid");
	rc = safetensors_open(dir, &st, err, sizeof(err));
	ck_assert_int_eq(rc, STATUS_EIO);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);

	/* A NULL or zero-sized error buffer is allowed. */
	rc = safetensors_open(missing, &st, NULL, 0);
	ck_assert_int_eq(rc, STATUS_EIO);
	safetensors_close(NULL);
}
END_TEST

int main(void)
{
	corpus_scan(&cases, "invalid/safetensors");
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("safetensors");
	tcase_add_test(tc, test_bert_fixture);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_missing_tensor_message);
	tcase_add_test(tc, test_wrong_shape_message);
	tcase_add_test(tc, test_f16_bf16_widening);
	tcase_add_test(tc, test_f32_scalar_empty_and_other_dtype);
	tcase_add_test(tc, test_misaligned_f32_is_copied);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);
	TCase *corpus = tcase_create("invalid");
	tcase_add_test(corpus, test_corpus_found);
	tcase_add_loop_test(corpus, test_corpus_case, 0, cases.n);
	suite_add_tcase(s, corpus);
	return test_run_suite(s);
}

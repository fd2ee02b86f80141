/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the sharded-checkpoint suites (see sharded_util.h).
 */
#include "sharded_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "test_util.h"

#define SPLIT_MS 30000

void split_folder(const char *src_path, const char *dst, int n)
{
	char script[4096], shards[16], src[4096];
	snprintf(src, sizeof(src), "%s", src_path); /* may be fixture_path's buffer */
	snprintf(script, sizeof(script), "%s/../models/split_safetensors.py", fixture_path(""));
	snprintf(shards, sizeof(shards), "%d", n);
	const char *argv[] = {"python3", script, src, dst, shards, NULL};
	char *out = NULL;
	int rc = run_program(argv, 1, NULL, 0, SPLIT_MS, &out);
	ck_assert_msg(rc == 0, "split_safetensors.py %s: exit %d: %s", src, rc, out ? out : "");
	free(out);
}

void split_fixture(const char *fixture, int n, char *dir, size_t n_dir)
{
	char src[4096];
	snprintf(dir, n_dir, "/tmp/smolserve-sharded-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s", fixture_path(fixture));
	split_folder(src, dir, n);
}

void remove_dir(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs every case of fixture's expected.json through a and b: the last
 * hidden states (and logits, with a head) must be identical bytes. */
void assert_same_outputs(const char *fixture, const struct model *a, const struct model *b)
{
	json_t *expected = fixture_expected(fixture);
	json_t *cases = json_object_get(expected, "cases");
	char err[512];
	size_t i;
	json_t *c;
	ck_assert_int_gt((int)json_array_size(cases), 0);
	json_array_foreach(cases, i, c)
	{
		size_t n = 0, n_types = 0;
		int32_t *ids = json_ints(json_object_get(c, "input_ids"), &n);
		int32_t *types = json_ints(json_object_get(c, "token_type_ids"), &n_types);
		ck_assert(ids != NULL && types != NULL && n == n_types);
		int32_t starts[2] = {0, (int32_t)n};
		struct packed_batch pb = {1, (int32_t)n, ids, types, starts};
		size_t h = (size_t)a->enc.hidden, n_out = n * h;
		struct model_ctx ca, cb;
		ck_assert_int_eq(model_ctx_init(&ca, a, (int32_t)n), 0);
		ck_assert_int_eq(model_ctx_init(&cb, b, (int32_t)n), 0);
		ck_assert_msg(model_forward(a, &ca, &pb, err, sizeof(err)) == 0, "%s", err);
		ck_assert_msg(model_forward(b, &cb, &pb, err, sizeof(err)) == 0, "%s", err);
		ck_assert_msg(memcmp(ca.enc.x, cb.enc.x, n_out * sizeof(float)) == 0,
		              "%s case %zu: hidden states differ", fixture, i);
		if (a->head == HEAD_SEQCLS) {
			float la[64], lb[64];
			ck_assert_int_le(a->n_labels, 64);
			model_logits(a, &ca, &pb, la);
			model_logits(b, &cb, &pb, lb);
			ck_assert(memcmp(la, lb, (size_t)a->n_labels * sizeof(float)) == 0);
		}
		model_ctx_dispose(&ca);
		model_ctx_dispose(&cb);
		free(ids);
		free(types);
	}
	json_decref(expected);
}

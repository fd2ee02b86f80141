/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every architecture against Hugging Face transformers' own outputs: for
 * each fixture folder and each case of its expected.json, the reference
 * input ids run through model_forward and the heads must give
 * last_hidden_state, cls, mean pooling (plain and L2-normalised), the
 * pooler output, every layer's hidden states (debug cases) and the logits
 * and probabilities within 1e-4 absolute. Then all cases packed into one
 * batch must equal the single runs within 1e-5.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_folders.h"
#include "model.h"
#include "test_util.h"

#define TOL_REF    1e-4
#define TOL_PACKED 1e-5

struct fixture {
	struct model *m;
	json_t *expected;
	json_t *cases;
	size_t n_cases;
};

static void fixture_open(struct fixture *f, const char *name)
{
	char err[512];
	struct model_opts opts = {0};
	ck_assert_msg(model_load(fixture_path(name), &opts, &f->m, err, sizeof(err)) == 0, "%s: %s",
	              name, err);
	f->expected = fixture_expected(name);
	f->cases = json_object_get(f->expected, "cases");
	f->n_cases = json_array_size(f->cases);
	ck_assert_int_gt(f->n_cases, 0);
}

static void fixture_close(struct fixture *f)
{
	model_destroy(f->m);
	json_decref(f->expected);
}

/* Compares out (n floats) with case field `key`'s data; returns max diff. */
static double compare(const json_t *c, const char *key, const float *out, size_t n)
{
	const json_t *field = json_object_get(c, key);
	size_t n_ref = 0;
	float *ref = json_floats(json_object_get(field, "data"), &n_ref);
	ck_assert_msg(ref != NULL, "case %s has no %s",
	              json_string_value(json_object_get(c, "name")), key);
	ck_assert_msg(n_ref == n, "%s: %zu values, reference has %zu", key, n, n_ref);
	double d = max_abs_diff(out, ref, n);
	free(ref);
	return d;
}

/* Largest difference from the reference seen in the current folder. */
static double worst;

#define CHECK_CLOSE(c, key, out, n, tol)                                                           \
	do {                                                                                       \
		double d_ = compare(c, key, out, n);                                               \
		worst = d_ > worst ? d_ : worst;                                                   \
		ck_assert_msg(d_ <= (tol), "%s / %s: %s differs by %g", name,                      \
		              json_string_value(json_object_get(c, "name")), key, d_);             \
	} while (0)

/* One case on its own, checked against the reference. */
static void check_case(const char *name, const struct model *m, const json_t *c)
{
	char err[512];
	size_t n = 0, n_types = 0;
	int32_t *ids = json_ints(json_object_get(c, "input_ids"), &n);
	int32_t *types = json_ints(json_object_get(c, "token_type_ids"), &n_types);
	ck_assert(ids != NULL && types != NULL && n == n_types);
	int32_t starts[2] = {0, (int32_t)n};
	struct packed_batch b = {1, (int32_t)n, ids, types, starts};
	size_t h = (size_t)m->enc.hidden;

	struct model_ctx ctx;
	ck_assert_int_eq(model_ctx_init(&ctx, m, (int32_t)n), 0);
	int debug = json_object_get(c, "hidden_states") != NULL &&
	            !json_is_null(json_object_get(c, "hidden_states"));
	float *layers = NULL;
	if (debug) {
		layers = malloc((size_t)(m->enc.n_layers + 1) * n * h * sizeof(float));
		ck_assert_int_eq(encoder_forward(&m->enc, &ctx.enc, &b, layers, err, sizeof(err)),
		                 0);
		CHECK_CLOSE(c, "hidden_states", layers, (size_t)(m->enc.n_layers + 1) * n * h,
		            TOL_REF);
	}
	ck_assert_msg(model_forward(m, &ctx, &b, err, sizeof(err)) == 0, "%s", err);
	CHECK_CLOSE(c, "last_hidden_state", ctx.enc.x, n * h, TOL_REF);

	float *v = malloc(n * h * sizeof(float) + 64 * sizeof(float));
	model_pool(m, &ctx, &b, POOLING_CLS, 0, v);
	CHECK_CLOSE(c, "cls", v, h, TOL_REF);
	model_pool(m, &ctx, &b, POOLING_MEAN, 0, v);
	CHECK_CLOSE(c, "mean_pooled", v, h, TOL_REF);
	model_pool(m, &ctx, &b, POOLING_MEAN, 1, v);
	CHECK_CLOSE(c, "mean_pooled_l2norm", v, h, TOL_REF);
	if (m->has_pooler) {
		model_pooler_output(m, &ctx, &b, v);
		CHECK_CLOSE(c, "pooler_output", v, h, TOL_REF);
	} else {
		ck_assert(json_is_null(json_object_get(c, "pooler_output")) ||
		          json_object_get(c, "pooler_output") == NULL);
	}
	if (m->head == HEAD_SEQCLS) {
		model_logits(m, &ctx, &b, v);
		CHECK_CLOSE(c, "logits", v, (size_t)m->n_labels, TOL_REF);
		model_scores(m, v);
		/* One label (bert-rerank): HF's pipeline scores sigmoid(logit), the
		 * reference's "scores"; its "probs" is a softmax over one logit. */
		const char *key = json_object_get(c, "scores") != NULL ? "scores" : "probs";
		CHECK_CLOSE(c, key, v, (size_t)m->n_labels, TOL_REF);
	} else if (m->head == HEAD_TOKCLS) {
		model_logits(m, &ctx, &b, v);
		CHECK_CLOSE(c, "logits", v, n * (size_t)m->n_labels, TOL_REF);
	}
	free(v);
	free(layers);
	free(ids);
	free(types);
	model_ctx_dispose(&ctx);
}

START_TEST(test_cases_match_reference)
{
	const char *name = FOLDERS[_i];
	struct fixture f;
	fixture_open(&f, name);
	ck_assert_int_eq(f.m->enc.hidden,
	                 (int)json_integer_value(json_object_get(f.expected, "hidden_size")));
	ck_assert_int_eq(f.m->has_pooler, json_is_true(json_object_get(f.expected, "has_pooler")));
	worst = 0.0;
	for (size_t i = 0; i < f.n_cases; i++)
		check_case(name, f.m, json_array_get(f.cases, i));
	printf("%s: %zu cases, largest difference from Hugging Face %.3g\n", name, f.n_cases,
	       worst);
	fixture_close(&f);
}
END_TEST

/* All cases packed back to back in one batch equal each case run alone. */
START_TEST(test_packed_batch_equals_single)
{
	const char *name = FOLDERS[_i];
	char err[512];
	struct fixture f;
	fixture_open(&f, name);
	size_t h = (size_t)f.m->enc.hidden, total = 0;
	int32_t *ids = NULL, *types = NULL, *starts = calloc(f.n_cases + 1, sizeof(int32_t));
	for (size_t i = 0; i < f.n_cases; i++) {
		size_t n = 0;
		int32_t *ci =
		    json_ints(json_object_get(json_array_get(f.cases, i), "input_ids"), &n);
		int32_t *ct =
		    json_ints(json_object_get(json_array_get(f.cases, i), "token_type_ids"), &n);
		ids = realloc(ids, (total + n) * sizeof(int32_t));
		types = realloc(types, (total + n) * sizeof(int32_t));
		memcpy(ids + total, ci, n * sizeof(int32_t));
		memcpy(types + total, ct, n * sizeof(int32_t));
		total += n;
		starts[i + 1] = (int32_t)total;
		free(ci);
		free(ct);
	}
	struct packed_batch all = {(int32_t)f.n_cases, (int32_t)total, ids, types, starts};
	struct model_ctx big, one;
	ck_assert_int_eq(model_ctx_init(&big, f.m, (int32_t)total), 0);
	ck_assert_int_eq(model_ctx_init(&one, f.m, (int32_t)total), 0);
	ck_assert_msg(model_forward(f.m, &big, &all, err, sizeof(err)) == 0, "%s", err);
	float *logits_all = malloc(total * (size_t)(f.m->n_labels + 1) * sizeof(float));
	float *logits_one = malloc(total * (size_t)(f.m->n_labels + 1) * sizeof(float));
	if (f.m->head != HEAD_NONE)
		model_logits(f.m, &big, &all, logits_all);
	for (size_t i = 0; i < f.n_cases; i++) {
		int32_t s0 = starts[i], n = starts[i + 1] - starts[i];
		int32_t st[2] = {0, n};
		struct packed_batch b = {1, n, ids + s0, types + s0, st};
		ck_assert_int_eq(model_forward(f.m, &one, &b, err, sizeof(err)), 0);
		double d = max_abs_diff(one.enc.x, big.enc.x + (size_t)s0 * h, (size_t)n * h);
		ck_assert_msg(d <= TOL_PACKED, "%s case %zu: packed differs by %g", name, i, d);
		if (f.m->head == HEAD_SEQCLS) {
			model_logits(f.m, &one, &b, logits_one);
			d = max_abs_diff(logits_one, logits_all + i * (size_t)f.m->n_labels,
			                 (size_t)f.m->n_labels);
			ck_assert_msg(d <= TOL_PACKED, "%s case %zu: logits differ by %g", name, i,
			              d);
		}
	}
	model_ctx_dispose(&big);
	model_ctx_dispose(&one);
	free(logits_all);
	free(logits_one);
	free(ids);
	free(types);
	free(starts);
	fixture_close(&f);
}
END_TEST

/* Bad batches are refused with a message, never read out of bounds. */
/* y (n_out) = W x + b of one head layer, in double. */
static void dense_ref(double *y, const double *x, const struct dense *d)
{
	for (int32_t o = 0; o < d->n_out; o++) {
		double acc = d->b != NULL ? d->b[o] : 0.0;
		for (int32_t i = 0; i < d->n_in; i++)
			acc += (double)d->w[(size_t)o * (size_t)d->n_in + (size_t)i] * x[i];
		y[o] = acc;
	}
}

/*
 * ModernBERT's classifier_pooling "mean": the head reads the mean of the
 * tokens, not the first one. modernbert-seqcls switched to mean must give
 * classifier(norm(gelu(dense(mean_pooled)))) of the reference's own
 * mean_pooled, computed here in double.
 */
START_TEST(test_modernbert_mean_pooling_head)
{
	char err[512];
	struct fixture f;
	fixture_open(&f, "modernbert-seqcls");
	f.m->head_pooling = POOLING_MEAN;
	const struct head_layer *hl = &f.m->head_layers[0], *cl = &f.m->head_layers[1];
	ck_assert_int_eq(f.m->n_head_layers, 2);
	ck_assert_ptr_nonnull(hl->norm.gamma);
	for (size_t k = 0; k < f.n_cases; k++) {
		const json_t *c = json_array_get(f.cases, k);
		size_t n = 0, h = 0;
		int32_t *ids = json_ints(json_object_get(c, "input_ids"), &n);
		float *mean =
		    json_floats(json_object_get(json_object_get(c, "mean_pooled"), "data"), &h);
		double x[64], y[64], logits[8];
		ck_assert_uint_le(h, 64);
		for (size_t i = 0; i < h; i++)
			x[i] = mean[i];
		dense_ref(y, x, &hl->d);
		double mu = 0.0, var = 0.0;
		for (size_t i = 0; i < h; i++)
			mu += (y[i] = 0.5 * y[i] * (1.0 + erf(y[i] / sqrt(2.0))));
		mu /= (double)h;
		for (size_t i = 0; i < h; i++)
			var += (y[i] - mu) * (y[i] - mu) / (double)h;
		for (size_t i = 0; i < h; i++)
			y[i] = (y[i] - mu) / sqrt(var + hl->norm.eps) * hl->norm.gamma[i] +
			       hl->norm.beta[i];
		dense_ref(logits, y, &cl->d);

		int32_t starts[2] = {0, (int32_t)n};
		struct packed_batch b = {1, (int32_t)n, ids, NULL, starts};
		struct model_ctx ctx;
		float got[8];
		ck_assert_int_eq(model_ctx_init(&ctx, f.m, (int32_t)n), 0);
		ck_assert_msg(model_forward(f.m, &ctx, &b, err, sizeof(err)) == 0, "%s", err);
		model_logits(f.m, &ctx, &b, got);
		for (int32_t i = 0; i < f.m->n_labels; i++)
			ck_assert_msg(fabs(got[i] - logits[i]) <= TOL_REF,
			              "case %zu: logit %d %g vs %g", k, (int)i, (double)got[i],
			              logits[i]);
		model_ctx_dispose(&ctx);
		free(ids);
		free(mean);
	}
	fixture_close(&f);
}
END_TEST

START_TEST(test_forward_rejects_bad_batches)
{
	char err[512];
	struct fixture f;
	fixture_open(&f, "bert");
	struct model_ctx ctx;
	ck_assert_int_eq(model_ctx_init(&ctx, f.m, 8), 0);
	int32_t ids[4] = {2, 5, 100000, 3}, types[4] = {0, 0, 0, 0}, st[2] = {0, 4};
	struct packed_batch b = {1, 4, ids, types, st};
	ck_assert_int_eq(model_forward(f.m, &ctx, &b, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "100000"));
	ids[2] = 5;
	types[1] = 7;
	ck_assert_int_eq(model_forward(f.m, &ctx, &b, err, sizeof(err)), -1);
	types[1] = 0;
	int32_t big_ids[9] = {2, 5, 5, 5, 5, 5, 5, 5, 3}, big_types[9] = {0}, bst[2] = {0, 9};
	struct packed_batch big = {1, 9, big_ids, big_types, bst};
	ck_assert_int_eq(model_forward(f.m, &ctx, &big, err, sizeof(err)), -1);
	ck_assert_int_eq(model_forward(f.m, &ctx, &b, err, sizeof(err)), 0);
	model_ctx_dispose(&ctx);
	fixture_close(&f);
}
END_TEST

/* The same checks on a compute team of two threads (products split by
 * rows or columns, attention pairs shared out), with the packed GEMM
 * backend, with OpenBLAS, and with the AVX2 kernels. */
static void two_threads(void)
{
	gemm_set_threads(2);
	setenv("SMOLSERVE_TEAM_ALWAYS", "1", 1); /* fixtures are small: split them anyway */
}

static void two_threads_openblas(void)
{
	gemm_set_threads(2);
	setenv("SMOLSERVE_TEAM_ALWAYS", "1", 1);
	ck_assert_int_eq(gemm_backend_set(GEMM_BACKEND_OPENBLAS, NULL, 0), 0);
}

/* The AVX2 kernels (the baseline on a CPU without AVX2). */
static void two_threads_avx2(void)
{
	gemm_set_threads(2);
	setenv("SMOLSERVE_TEAM_ALWAYS", "1", 1);
	setenv("SMOLSERVE_ISA", "avx2", 1);
}

static Suite *suite(void)
{
	Suite *s = suite_create("model_fixtures");
	TCase *tc = tcase_create("reference");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_cases_match_reference, 0, N_FOLDERS);
	tcase_add_loop_test(tc, test_packed_batch_equals_single, 0, N_FOLDERS);
	tcase_add_test(tc, test_forward_rejects_bad_batches);
	tcase_add_test(tc, test_modernbert_mean_pooling_head);
	suite_add_tcase(s, tc);
	void (*setups[3])(void) = {two_threads, two_threads_openblas, two_threads_avx2};
	const char *names[3] = {"two_threads", "two_threads_openblas", "two_threads_avx2"};
	for (int i = 0; i < 3; i++) {
		TCase *t = tcase_create(names[i]);
		tcase_set_timeout(t, 120);
		tcase_add_checked_fixture(t, setups[i], NULL);
		tcase_add_loop_test(t, test_cases_match_reference, 0, N_FOLDERS);
		tcase_add_loop_test(t, test_packed_batch_equals_single, 0, N_FOLDERS);
		suite_add_tcase(s, t);
	}
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}

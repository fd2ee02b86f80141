/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token classification: per-token labels and scores from bert-tokcls equal
 * the softmax of Hugging Face's logits, and each aggregation strategy of
 * the token-classification pipeline on hand-made cases, with expected
 * answers worked out from transformers 4.31's pipeline code.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ner.h"
#include "test_util.h"

START_TEST(test_per_token_scores_match_reference)
{
	char err[512] = "";
	struct model *m = NULL;
	ck_assert_msg(model_load(fixture_path("bert-tokcls"), NULL, &m, err, sizeof(err)) == 0,
	              "%s", err);
	json_t *expected = fixture_expected("bert-tokcls");
	size_t i;
	json_t *c;
	int checked = 0;
	json_array_foreach(json_object_get(expected, "cases"), i, c)
	{
		if (!json_is_null(json_object_get(c, "text_pair")))
			continue;
		const char *text = json_string_value(json_object_get(c, "text"));
		size_t n_text = json_string_length(json_object_get(c, "text"));
		struct encoding enc;
		encoding_init(&enc);
		struct encode_opts opts = {1, m->max_input_length, 1, TRUNCATION_RIGHT};
		ck_assert_int_eq(
		    tokenizer_encode(m->tok, text, n_text, NULL, 0, &opts, &enc, err, sizeof(err)),
		    0);
		size_t n_ref = 0, nl = (size_t)m->n_labels;
		float *ref =
		    json_floats(json_object_get(json_object_get(c, "logits"), "data"), &n_ref);
		ck_assert_int_eq((int)n_ref, enc.n * (int)nl);
		/* the reference logits through the pipeline, unaggregated */
		float *logits = malloc(n_ref * sizeof(float));
		memcpy(logits, ref, n_ref * sizeof(float));
		struct ner_entity *ents = NULL;
		int32_t n = 0;
		ck_assert_int_eq(ner_entities(m, text, n_text, &enc, logits, AGG_NONE, &ents, &n),
		                 0);
		int32_t k = 0;
		for (int32_t t = 0; t < enc.n; t++) {
			if (enc.special[t])
				continue;
			const float *row = ref + (size_t)t * nl;
			double mx = row[0], sum = 0.0;
			int32_t best = 0;
			for (size_t j = 1; j < nl; j++)
				if (row[j] > mx) {
					mx = row[j];
					best = (int32_t)j;
				}
			for (size_t j = 0; j < nl; j++)
				sum += exp((double)row[j] - mx);
			ck_assert_int_lt(k, n);
			ck_assert_int_eq(ents[k].index, t);
			ck_assert_int_eq(ents[k].label, best);
			ck_assert_str_eq(ents[k].label_text, model_label(m, best));
			ck_assert_double_eq_tol(ents[k].score, 1.0 / sum, 1e-5);
			k++;
			checked++;
		}
		ck_assert_int_eq(k, n);
		ner_entities_free(ents, n);
		free(logits);
		free(ref);
		encoding_dispose(&enc);
	}
	ck_assert_int_gt(checked, 100);
	json_decref(expected);
	model_destroy(m);
}
END_TEST

/* Labels: O, B-PER, I-PER, B-LOC, I-LOC. */
static const char *const LABELS[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};

/* Scores rows (5 labels each), hand-made. */
static const float S_BPER[5] = {0.1f, 0.7f, 0.1f, 0.05f, 0.05f};
static const float S_IPER[5] = {0.1f, 0.1f, 0.6f, 0.1f, 0.1f};
static const float S_O[5] = {0.9f, 0.025f, 0.025f, 0.025f, 0.025f};
static const float S_BLOC[5] = {0.1f, 0.1f, 0.1f, 0.6f, 0.1f};
static const float S_ILOC[5] = {0.2f, 0.0f, 0.0f, 0.3f, 0.5f};

static struct ner_token tok(const char *w, const float *s, int32_t start, int32_t end,
                            int32_t index, int sub)
{
	return (struct ner_token){w, strlen(w), s, start, end, index, sub};
}

START_TEST(test_none_and_simple)
{
	/* "John Smith lives in New York" -> john smith lives in new york */
	struct ner_token t[] = {
	    tok("john", S_BPER, 0, 4, 1, 0),  tok("smith", S_IPER, 5, 10, 2, 0),
	    tok("lives", S_O, 11, 16, 3, 0),  tok("in", S_O, 17, 19, 4, 0),
	    tok("new", S_BLOC, 20, 23, 5, 0), tok("york", S_ILOC, 24, 28, 6, 0),
	};
	struct ner_entity *e;
	int32_t n;
	ck_assert_int_eq(ner_aggregate(t, 6, LABELS, 5, AGG_NONE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 6);
	ck_assert_str_eq(e[0].label_text, "B-PER");
	ck_assert_int_eq(e[0].index, 1);
	ck_assert_float_eq_tol(e[0].score, 0.7f, 1e-6f);
	ck_assert_str_eq(e[5].label_text, "I-LOC");
	ner_entities_free(e, n);

	ck_assert_int_eq(ner_aggregate(t, 6, LABELS, 5, AGG_SIMPLE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 3); /* PER "john smith", O "lives in", LOC "new york" */
	ck_assert_str_eq(e[0].label_text, "PER");
	ck_assert_str_eq(e[0].word, "john smith");
	ck_assert_float_eq_tol(e[0].score, (0.7f + 0.6f) / 2, 1e-6f);
	ck_assert_int_eq(e[0].start, 0);
	ck_assert_int_eq(e[0].end, 10);
	ck_assert_str_eq(e[1].label_text, "O");
	ck_assert_str_eq(e[1].word, "lives in");
	ck_assert_str_eq(e[2].label_text, "LOC");
	ck_assert_str_eq(e[2].word, "new york");
	ck_assert_float_eq_tol(e[2].score, (0.6f + 0.5f) / 2, 1e-6f);
	ck_assert_int_eq(e[2].index, -1);
	ner_entities_free(e, n);
}
END_TEST

START_TEST(test_group_boundaries)
{
	/* B- of the same tag starts a new group; I- of another tag too. */
	struct ner_token t[] = {
	    tok("a", S_BPER, 0, 1, 1, 0),
	    tok("b", S_BPER, 2, 3, 2, 0),
	    tok("c", S_IPER, 4, 5, 3, 0),
	    tok("d", S_ILOC, 6, 7, 4, 0),
	};
	struct ner_entity *e;
	int32_t n;
	ck_assert_int_eq(ner_aggregate(t, 4, LABELS, 5, AGG_SIMPLE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(e[0].word, "a");
	ck_assert_str_eq(e[1].word, "b c");
	ck_assert_str_eq(e[2].word, "d");
	ck_assert_str_eq(e[2].label_text, "LOC");
	ner_entities_free(e, n);

	/* Labels without B-/I- count as continuations of the same tag. */
	static const char *const plain[] = {"O", "PER", "LOC"};
	static const float p1[3] = {0.1f, 0.8f, 0.1f}, p2[3] = {0.2f, 0.6f, 0.2f};
	struct ner_token u[] = {tok("x", p1, 0, 1, 1, 0), tok("y", p2, 2, 3, 2, 0)};
	ck_assert_int_eq(ner_aggregate(u, 2, plain, 3, AGG_SIMPLE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(e[0].label_text, "PER");
	ck_assert_str_eq(e[0].word, "x y");
	ck_assert_float_eq_tol(e[0].score, 0.7f, 1e-6f);
	ner_entities_free(e, n);
}
END_TEST

/* "Newton" split new ##ton: the word's label per strategy. */
START_TEST(test_word_strategies)
{
	struct ner_token t[] = {
	    tok("sir", S_O, 0, 3, 1, 0), tok("new", S_BLOC, 4, 7, 2, 0), /* max 0.6 -> B-LOC */
	    tok("##ton", S_BPER, 7, 10, 3, 1),                           /* max 0.7 -> B-PER */
	};
	struct ner_entity *e;
	int32_t n;
	/* first: the first token decides: B-LOC 0.6 */
	ck_assert_int_eq(ner_aggregate(t, 3, LABELS, 5, AGG_FIRST, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(e[1].label_text, "LOC");
	ck_assert_str_eq(e[1].word, "newton");
	ck_assert_int_eq(e[1].start, 4);
	ck_assert_int_eq(e[1].end, 10);
	ck_assert_float_eq_tol(e[1].score, 0.6f, 1e-6f);
	ner_entities_free(e, n);
	/* max: the token with the highest score decides: B-PER 0.7 */
	ck_assert_int_eq(ner_aggregate(t, 3, LABELS, 5, AGG_MAX, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_str_eq(e[1].label_text, "PER");
	ck_assert_float_eq_tol(e[1].score, 0.7f, 1e-6f);
	ner_entities_free(e, n);
	/* average: mean rows = {0.1, 0.4, 0.1, 0.325, 0.075} -> B-PER 0.4 */
	ck_assert_int_eq(ner_aggregate(t, 3, LABELS, 5, AGG_AVERAGE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_str_eq(e[1].label_text, "PER");
	ck_assert_float_eq_tol(e[1].score, 0.4f, 1e-6f);
	ck_assert_str_eq(e[0].label_text, "O");
	ner_entities_free(e, n);
	/* simple keeps sub-words apart: B-LOC then B-PER */
	ck_assert_int_eq(ner_aggregate(t, 3, LABELS, 5, AGG_SIMPLE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(e[2].word, "##ton");
	ner_entities_free(e, n);
}
END_TEST

START_TEST(test_sentencepiece_join_and_empty)
{
	static const char *const w1 = "\xe2\x96\x81New", *const w2 = "\xe2\x96\x81York";
	struct ner_token t[] = {tok(w1, S_BLOC, 0, 3, 1, 0), tok(w2, S_ILOC, 4, 8, 2, 0)};
	struct ner_entity *e;
	int32_t n;
	ck_assert_int_eq(ner_aggregate(t, 2, LABELS, 5, AGG_SIMPLE, JOIN_SENTENCEPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(e[0].word, "New York");
	ner_entities_free(e, n);
	ck_assert_int_eq(ner_aggregate(t, 0, LABELS, 5, AGG_AVERAGE, JOIN_WORDPIECE, &e, &n), 0);
	ck_assert_int_eq(n, 0);
	ner_entities_free(e, n);
	/* byte-level BPE (RoBERTa): "\xc4\xa0" is the space's stand-in */
	struct ner_token b[] = {tok("\xc4\xa0New", S_BLOC, 0, 3, 1, 0),
	                        tok("\xc4\xa0York", S_ILOC, 4, 8, 2, 0)};
	ck_assert_int_eq(ner_aggregate(b, 2, LABELS, 5, AGG_SIMPLE, JOIN_BYTELEVEL, &e, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(e[0].word, " New York");
	ner_entities_free(e, n);
	ck_assert_int_eq(aggregation_from_name("average"), AGG_AVERAGE);
	ck_assert_int_eq(aggregation_from_name("mean"), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ner");
	TCase *tc = tcase_create("ner");
	tcase_add_test(tc, test_per_token_scores_match_reference);
	tcase_add_test(tc, test_none_and_simple);
	tcase_add_test(tc, test_group_boundaries);
	tcase_add_test(tc, test_word_strategies);
	tcase_add_test(tc, test_sentencepiece_join_and_empty);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

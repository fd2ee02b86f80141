/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole model folders with one thing wrong (tests/fixtures/invalid/model,
 * made by make_model_cases.py): model_load must refuse each with the
 * expected status and a message that names the problem — never crash,
 * never read out of bounds (this suite also runs under ASan in CI).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "status.h"
#include "test_util.h"

/* Fewer cases than this means the corpus was not found or lost cases. */
#define MIN_CASES 12

static struct corpus cases;

START_TEST(test_model_corpus_case)
{
	const char *name = cases.names[_i];
	char dir[4400], substr[256], err[1024] = "";
	int want;
	struct model *m = NULL;
	snprintf(dir, sizeof(dir), "%s/%s", fixture_path("invalid/model"), name);
	corpus_expect(dir, &want, substr, sizeof(substr));
	int rc = model_load(dir, NULL, &m, err, sizeof(err));
	ck_assert_msg(rc == want, "case %s: got %d (%s) \"%s\", want %d (%s)", name, rc,
	              status_str(rc), err, want, status_str(want));
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err, substr) != NULL, "case %s: \"%s\" does not contain \"%s\"", name,
	              err, substr);
}
END_TEST

START_TEST(test_model_corpus_found)
{
	ck_assert_msg(cases.n >= MIN_CASES, "found %d cases, expected at least %d", cases.n,
	              MIN_CASES);
}
END_TEST

START_TEST(test_good_folders_load)
{
	static const char *const ok[] = {"bert",     "bert-seqcls", "bert-tokcls",
	                                 "bert-mlm", "distilbert",  "distilbert-seqcls"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char err[1024] = "";
		struct model *m = NULL;
		int rc = model_load(fixture_path(ok[i]), NULL, &m, err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: %s", ok[i], err);
		ck_assert_int_eq(m->max_input_length, 128);
		model_destroy(m);
	}
}
END_TEST

int main(void)
{
	corpus_scan(&cases, "invalid/model");
	Suite *s = suite_create("invalid");
	TCase *tc = tcase_create("model_folders");
	tcase_add_test(tc, test_model_corpus_found);
	tcase_add_test(tc, test_good_folders_load);
	tcase_add_loop_test(tc, test_model_corpus_case, 0, cases.n);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

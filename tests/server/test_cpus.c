/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The thread layout: workers x BLAS threads never exceeds the usable CPUs.
 */
#include <check.h>
#include <string.h>

#include "cpus.h"
#include "test_util.h"

START_TEST(test_usable_is_positive)
{
	struct thread_layout l = {0};
	ck_assert_int_ge(cpus_usable(&l), 1);
	ck_assert_int_le(l.cpus, l.affinity_cpus);
}
END_TEST

START_TEST(test_layout_rules)
{
	char err[256];
	struct thread_layout l = {.cpus = 8};
	ck_assert_int_eq(cpus_layout(&l, 0, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(l.workers, 1);
	ck_assert_int_eq(l.blas_threads, 8);
	ck_assert_int_eq(cpus_layout(&l, 4, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(l.workers, 4);
	ck_assert_int_eq(l.blas_threads, 2);
	ck_assert_int_eq(cpus_layout(&l, 3, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(l.workers * l.blas_threads <= 8, 1);
	ck_assert_int_eq(cpus_layout(&l, 0, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(l.workers, 1);
	ck_assert_int_eq(l.blas_threads, 2);
	ck_assert_int_eq(cpus_layout(&l, 4, 4, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "exceeds the 8 usable CPUs"));
	ck_assert_int_eq(cpus_layout(&l, 9, 0, err, sizeof(err)), -1);
	struct thread_layout one = {.cpus = 1};
	ck_assert_int_eq(cpus_layout(&one, 0, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(one.blas_threads, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpus");
	TCase *tc = tcase_create("cpus");
	tcase_add_test(tc, test_usable_is_positive);
	tcase_add_test(tc, test_layout_rules);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenBLAS kernel choice at start-up, end to end with the real binary:
 * with OPENBLAS_CORETYPE unset the kernels in use fit this CPU (AVX-512 ones
 * on an AVX-512 machine); the re-exec path, provoked with the test-only
 * SMOLSERVE_TEST_OPENBLAS_PICKED (pretend OpenBLAS picked Prescott), ends
 * with the right kernels and says so in --version and /info; a value the
 * user set is never overridden; --blas-kernel-choice false turns it off.
 * The decision itself is unit-tested in tests/core/test_dense.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gemm.h"
#include "http_suite.h"
#include "test_util.h"

/* `smolserve --version` under env (a shell prefix): its two lines, joined
 * ("smolserve V (commit C; OpenBLAS X kernels)" then "OpenBLAS kernel
 * choice: ACTION: REASON; ..."). */
static void version(const char *env, char *out, size_t n)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
	         "env -u OPENBLAS_CORETYPE -u SMOLSERVE_TEST_OPENBLAS_PICKED %s "
	         "'%s' --version 2>/dev/null",
	         env, getenv("SMOLSERVE_BIN"));
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t got = fread(out, 1, n - 1, p);
	out[got] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(got > 0, "no output");
}

/* The class of kernels this CPU should end up with. */
static const char *expected_kernels(void)
{
	struct cpu_isa cpu;
	cpu_isa_detect(&cpu);
	return cpu.avx512 ? "SkylakeX" : NULL;
}

START_TEST(test_unset_gets_the_cpus_kernels)
{
	char line[1024];
	version("", line, sizeof(line));
	const char *want = expected_kernels();
	if (want != NULL)
		ck_assert_msg(strstr(line, "OpenBLAS SkylakeX kernels") != NULL ||
		                  strstr(line, "OpenBLAS Cooperlake kernels") != NULL ||
		                  strstr(line, "OpenBLAS SapphireRapids kernels") != NULL,
		              "not AVX-512 kernels: %s", line);
	ck_assert_msg(strstr(line, "choice: kept:") != NULL || strstr(line, "choice: set:") != NULL,
	              "%s", line);
}
END_TEST

START_TEST(test_reexec_when_openblas_picked_old_kernels)
{
	char line[1024];
	version("SMOLSERVE_TEST_OPENBLAS_PICKED=Prescott", line, sizeof(line));
	if (expected_kernels() == NULL)
		return; /* no AVX-512 here: the AVX2 path is covered by test_dense */
	ck_assert_msg(strstr(line, "OpenBLAS SkylakeX kernels)") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "choice: set:") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "picked Prescott") != NULL, "%s", line);
}
END_TEST

START_TEST(test_user_value_is_kept)
{
	char line[1024];
	version("OPENBLAS_CORETYPE=Prescott SMOLSERVE_TEST_OPENBLAS_PICKED=Prescott", line,
	        sizeof(line));
	ck_assert_msg(strstr(line, "OpenBLAS Prescott kernels)") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "choice: user:") != NULL, "%s", line);
}
END_TEST

START_TEST(test_flag_turns_it_off)
{
	char line[1024];
	version("BLAS_KERNEL_CHOICE=false SMOLSERVE_TEST_OPENBLAS_PICKED=Prescott", line,
	        sizeof(line));
	ck_assert_msg(strstr(line, "choice: off:") != NULL, "%s", line);
}
END_TEST

/* The server reports the choice, the backend and its memory in /info. */
START_TEST(test_info_reports_the_choice)
{
	struct test_server s;
	unsetenv("OPENBLAS_CORETYPE");
	setenv("SMOLSERVE_TEST_OPENBLAS_PICKED", "Prescott", 1);
	server_start(&s, "bert", NULL);
	struct reply rp = call(s.port, "GET", "/info", NULL, NULL);
	ck_assert_int_eq(rp.status, 200);
	const json_t *kc = json_object_get(rp.json, "blas_kernel_choice");
	ck_assert_ptr_nonnull(kc);
	ck_assert_str_eq(json_string_value(json_object_get(kc, "picked")), "Prescott");
	if (expected_kernels() != NULL) {
		ck_assert_str_eq(json_string_value(json_object_get(kc, "action")), "set");
		ck_assert_str_eq(json_string_value(json_object_get(kc, "in_use")), "SkylakeX");
		ck_assert_str_eq(json_string_value(json_object_get(rp.json, "blas_kernels")),
		                 "SkylakeX");
	}
	ck_assert_ptr_nonnull(json_string_value(json_object_get(rp.json, "gemm_backend")));
	ck_assert(number_at(json_object_get(rp.json, "rss_after_load_mib")) > 1.0);
	ck_assert(number_at(json_object_get(rp.json, "rss_peak_mib")) >=
	          number_at(json_object_get(rp.json, "rss_after_load_mib")));
	double scratch = number_at(json_object_get(rp.json, "scratch_resident_mib"));
	ck_assert(scratch > 0.0 && scratch < number_at(json_object_get(rp.json, "rss_mib")));
	reply_dispose(&rp);
	server_stop_ok(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blas_choice");
	TCase *tc = tcase_create("blas_choice");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unset_gets_the_cpus_kernels);
	tcase_add_test(tc, test_reexec_when_openblas_picked_old_kernels);
	tcase_add_test(tc, test_user_value_is_kept);
	tcase_add_test(tc, test_flag_turns_it_off);
	tcase_add_test(tc, test_info_reports_the_choice);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Settings: defaults, the precedence flag > environment > file > default,
 * and an error naming the flag, variable or file:line for every bad value.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "test_util.h"

static char file_path[64];

static void write_file(const char *text)
{
	snprintf(file_path, sizeof(file_path), "/tmp/smolserve-cfg-XXXXXX");
	int fd = mkstemp(file_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq((int)write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
}

static int parse(struct settings *s, char *err, size_t n_err, int argc, ...)
{
	char *argv[16];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	settings_defaults(s);
	return settings_parse(s, argc, argv, err, n_err);
}

START_TEST(test_defaults)
{
	struct settings s;
	char err[256];
	unsetenv("PORT");
	ck_assert_int_eq(parse(&s, err, sizeof(err), 0), 0);
	ck_assert_int_eq((int)s.port, 3000);
	ck_assert_str_eq(s.hostname, "127.0.0.1");
	ck_assert_int_eq((int)s.max_batch_tokens, 16384);
	ck_assert_int_eq((int)s.max_concurrent_requests, 512);
	ck_assert_int_eq((int)s.max_client_batch_size, 32);
	ck_assert_int_eq((int)s.payload_limit, 2000000);
	ck_assert_int_eq((int)s.max_batch_delay_us, 2000);
	ck_assert_int_eq(s.auto_truncate, 0);
	ck_assert_str_eq(s.pooling, "");
	ck_assert_int_eq((int)s.tokenization_workers, 0);
	ck_assert_int_eq((int)s.max_response_floats, 4194304);
	ck_assert_int_eq((int)s.header_timeout_s, 10);
	ck_assert_int_eq((int)s.body_timeout_s, 30);
	ck_assert_int_eq((int)s.idle_timeout_s, 15);
	ck_assert_int_eq((int)s.max_connections_per_ip, 256);
}
END_TEST

START_TEST(test_precedence)
{
	struct settings s;
	char err[256];
	write_file("# a comment\nport = 1111\nMAX_BATCH_TOKENS = 2222\nhostname = \"::1\"\n"
	           "auto-truncate = true\n");
	setenv("PORT", "3333", 1);
	ck_assert_msg(parse(&s, err, sizeof(err), 2, "--config", file_path) == 0, "%s", err);
	ck_assert_int_eq((int)s.port, 3333); /* env beats file */
	ck_assert_int_eq((int)s.max_batch_tokens, 2222);
	ck_assert_str_eq(s.hostname, "::1");
	ck_assert_int_eq(s.auto_truncate, 1);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 4, "--config", file_path, "--port", "4444"),
	                 0);
	ck_assert_int_eq((int)s.port, 4444); /* flag beats env */
	ck_assert_int_eq(parse(&s, err, sizeof(err), 3, "--port=5555", "--model-id", "/m"), 0);
	ck_assert_int_eq((int)s.port, 5555);
	ck_assert_str_eq(s.model_id, "/m");
	unsetenv("PORT");
	unlink(file_path);
}
END_TEST

START_TEST(test_errors_name_the_source)
{
	struct settings s;
	char err[256];
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--port", "70000"), -1);
	ck_assert_ptr_nonnull(strstr(err, "--port"));
	ck_assert_ptr_nonnull(strstr(err, "70000"));
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--pooling", "max"), -1);
	ck_assert_ptr_nonnull(strstr(err, "max"));
	ck_assert_int_eq(parse(&s, err, sizeof(err), 1, "--bogus"), -1);
	ck_assert_ptr_nonnull(strstr(err, "--bogus"));
	ck_assert_int_eq(parse(&s, err, sizeof(err), 1, "--port"), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
	ck_assert_int_eq(parse(&s, err, sizeof(err), 1, "--auto-truncate=maybe"), -1);
	setenv("MAX_BATCH_TOKENS", "lots", 1);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 0), -1);
	ck_assert_ptr_nonnull(strstr(err, "MAX_BATCH_TOKENS"));
	unsetenv("MAX_BATCH_TOKENS");
	write_file("port = 1\nnonsense line\n");
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--config", file_path), -1);
	ck_assert_msg(strstr(err, ":2:") != NULL || strstr(err, ":2") != NULL, "%s", err);
	unlink(file_path);
	write_file("no_such_setting = 1\n");
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--config", file_path), -1);
	ck_assert_ptr_nonnull(strstr(err, "no_such_setting"));
	unlink(file_path);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--config", "/nonexistent/x.conf"), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.conf"));
}
END_TEST

START_TEST(test_usage_lists_every_flag)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	settings_usage(f);
	fclose(f);
	static const char *const flags[] = {"--model",
	                                    "--hostname",
	                                    "--port",
	                                    "--max-batch-tokens",
	                                    "--max-batch-delay-us",
	                                    "--workers",
	                                    "--blas-threads",
	                                    "--json-output",
	                                    "--config",
	                                    "MAX_CONCURRENT_REQUESTS"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ck_assert_msg(strstr(buf, flags[i]) != NULL, "usage lacks %s", flags[i]);
	free(buf);
}
END_TEST

/* TEI's forms: -p, a repeated --cors-allow-origin, the two default
 * prompts excluding each other, LOG_LEVEL checked, and the TEI variables
 * smolserve does not read listed for the start-up warning. */
START_TEST(test_tei_settings)
{
	struct settings s;
	char err[512];
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "-p", "8080"), 0);
	ck_assert_int_eq((int)s.port, 8080);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 1, "-p=9090"), 0);
	ck_assert_int_eq((int)s.port, 9090);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 4, "--cors-allow-origin", "http://a",
	                       "--cors-allow-origin", "http://b"),
	                 0);
	ck_assert_str_eq(s.cors_allow_origin, "http://a,http://b");
	setenv("CORS_ALLOW_ORIGIN", "http://env", 1);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 0), 0);
	ck_assert_str_eq(s.cors_allow_origin, "http://env");
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--cors-allow-origin", "http://flag"), 0);
	ck_assert_str_eq(s.cors_allow_origin, "http://flag"); /* the flag replaces the variable */
	unsetenv("CORS_ALLOW_ORIGIN");
	ck_assert_int_eq(parse(&s, err, sizeof(err), 4, "--default-prompt-name", "query",
	                       "--default-prompt", "q: "),
	                 -1);
	ck_assert_msg(strstr(err, "cannot be used with"), "%s", err);
	setenv("DEFAULT_PROMPT", "q: ", 1);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--default-prompt-name", "query"), -1);
	unsetenv("DEFAULT_PROMPT");
	ck_assert_int_eq(parse(&s, err, sizeof(err), 2, "--log-level", "loud"), -1);
	ck_assert_msg(strstr(err, "--log-level"), "%s", err);
	setenv("API_KEY", "k", 1);
	setenv("SERVED_MODEL_NAME", "m", 1);
	ck_assert_int_eq(parse(&s, err, sizeof(err), 0), 0);
	ck_assert_str_eq(s.api_key, "k");
	ck_assert_str_eq(s.served_model_name, "m");
	setenv("OTLP_ENDPOINT", "http://c:4317", 1);
	setenv("DTYPE", "float16", 1);
	const char *names[8];
	size_t n = settings_unhonoured_env(names, 8);
	int otlp = 0, dtype = 0, key = 0;
	for (size_t i = 0; i < n && i < 8; i++) {
		otlp |= strcmp(names[i], "OTLP_ENDPOINT") == 0;
		dtype |= strcmp(names[i], "DTYPE") == 0;
		key |= strcmp(names[i], "API_KEY") == 0;
	}
	ck_assert_msg(otlp && dtype && !key, "unhonoured: %zu, otlp %d dtype %d API_KEY %d", n,
	              otlp, dtype, key);
	/* the key is a secret: --help shows no value */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	settings_usage(f);
	fclose(f);
	ck_assert_ptr_null(strstr(buf, "default k)"));
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("settings");
	TCase *tc = tcase_create("settings");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_errors_name_the_source);
	tcase_add_test(tc, test_usage_lists_every_flag);
	tcase_add_test(tc, test_tei_settings);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

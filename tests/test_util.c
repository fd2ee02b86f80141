/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the Check suites (see test_util.h).
 */
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

const char *fixture_path(const char *sub)
{
	static char buf[4096];
	const char *dir = getenv("FIXTURES_DIR");
	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "tests/fixtures", sub);
	return buf;
}

json_t *fixture_expected(const char *name)
{
	char sub[512];
	json_error_t jerr;
	snprintf(sub, sizeof(sub), "%s/expected.json", name);
	json_t *root = json_load_file(fixture_path(sub), JSON_ALLOW_NUL, &jerr);
	if (root == NULL)
		ck_abort_msg("cannot read %s: %s", fixture_path(sub), jerr.text);
	return root;
}

double max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		if (d > m || isnan(d))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}

float *json_floats(const json_t *arr, size_t *n)
{
	if (!json_is_array(arr))
		return NULL;
	size_t len = json_array_size(arr);
	float *out = malloc((len ? len : 1) * sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_number(v)) {
			free(out);
			return NULL;
		}
		out[i] = (float)json_number_value(v);
	}
	*n = len;
	return out;
}

int32_t *json_ints(const json_t *arr, size_t *n)
{
	if (!json_is_array(arr))
		return NULL;
	size_t len = json_array_size(arr);
	int32_t *out = malloc((len ? len : 1) * sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_integer(v)) {
			free(out);
			return NULL;
		}
		out[i] = (int32_t)json_integer_value(v);
	}
	*n = len;
	return out;
}

int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

void corpus_scan(struct corpus *c, const char *sub)
{
	c->n = 0;
	DIR *d = opendir(fixture_path(sub));
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && c->n < CORPUS_MAX_CASES) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", e->d_name);
	}
	closedir(d);
	qsort(c->names, (size_t)c->n, sizeof(c->names[0]), cmp_names);
}

static int status_from_name(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {
	    {"EINVAL", STATUS_EINVAL},
	    {"ENOMEM", STATUS_ENOMEM},
	    {"EIO", STATUS_EIO},
	    {"EFORMAT", STATUS_EFORMAT},
	    {"EUNSUPPORTED", STATUS_EUNSUPPORTED},
	    {"ETOOLONG", STATUS_ETOOLONG},
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	ck_abort_msg("unknown status name \"%s\" in expect", name);
	return 0;
}

void corpus_expect(const char *case_dir, int *status, char *substr, size_t n_substr)
{
	char path[4096], line[256];
	snprintf(path, sizeof(path), "%s/expect", case_dir);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_msg(fgets(line, sizeof(line), f) != NULL, "%s: no status line", path);
	line[strcspn(line, "\r\n")] = '\0';
	*status = status_from_name(line);
	ck_assert_msg(fgets(substr, (int)n_substr, f) != NULL, "%s: no message line", path);
	substr[strcspn(substr, "\r\n")] = '\0';
	fclose(f);
}

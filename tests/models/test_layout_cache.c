/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layout cache (models/layout_cache.h): a first load writes the packed
 * layout, a second maps it and computes the very same bytes; a damaged,
 * truncated or stale file (weights touched since) is not used but laid
 * out and written anew, replacing the old one; a folder that cannot be
 * written leaves the model loading as without a cache; weights with a NaN
 * never reach a cache file.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gemm.h"
#include "model.h"
#include "sharded_util.h"
#include "status.h"
#include "test_util.h"

static const char *const FIXTURES[] = {"bert-seqcls", "albert", "mobilebert", "modernbert"};

/* 1 if this machine lays weights out at load (the packed or amx backend). */
static int packed_backend(void)
{
	return gemm_backend_for(1, 1, 1) != GEMM_BACKEND_OPENBLAS;
}

static struct model *load(const char *dir, const char *cache)
{
	char err[1024] = "";
	struct model *m = NULL;
	struct model_opts opts = {.layout_cache_dir = cache};
	ck_assert_msg(model_load(dir, &opts, &m, err, sizeof(err)) == 0, "%s: %s", dir, err);
	return m;
}

/* The one .layout file in cache (asserts there is exactly one). */
static void the_file(const char *cache, char *path, size_t n)
{
	DIR *d = opendir(cache);
	int found = 0;
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		if (len > 7 && strcmp(e->d_name + len - 7, ".layout") == 0) {
			snprintf(path, n, "%s/%s", cache, e->d_name);
			found++;
		}
		ck_assert_msg(strstr(e->d_name, ".tmp") == NULL, "left behind: %s", e->d_name);
	}
	closedir(d);
	ck_assert_int_eq(found, 1);
}

static void make_cache_dir(char *cache, size_t n)
{
	snprintf(cache, n, "/tmp/smolserve-layout-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(cache));
}

START_TEST(test_written_then_read_same_bytes)
{
	const char *fixture = FIXTURES[_i];
	char cache[64], sub[128], file[4200];
	if (!packed_backend())
		return; /* nothing is laid out: nothing to cache */
	make_cache_dir(cache, sizeof(cache));
	snprintf(sub, sizeof(sub), "%s/a/b", cache); /* made on demand */
	struct model *plain = load(fixture_path(fixture), NULL);
	ck_assert_int_eq(plain->layout_cache, LAYOUT_CACHE_OFF);
	struct model *first = load(fixture_path(fixture), sub);
	ck_assert_msg(first->layout_cache == LAYOUT_CACHE_WRITTEN, "%s", first->layout_cache_note);
	the_file(sub, file, sizeof(file));
	struct stat sb;
	ck_assert_int_eq(stat(file, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	struct model *second = load(fixture_path(fixture), sub);
	ck_assert_msg(second->layout_cache == LAYOUT_CACHE_READ, "%s", second->layout_cache_note);
	ck_assert_int_eq(second->packed_bytes, plain->packed_bytes);
	assert_same_outputs(fixture, plain, first);
	assert_same_outputs(fixture, plain, second);
	model_destroy(plain);
	model_destroy(first);
	model_destroy(second);
	remove_dir(cache);
}
END_TEST

/* Overwrites one byte at offset `at` from the end of path. */
static void damage(const char *path, off_t from_end)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char c;
	ck_assert_int_eq(pread(fd, &c, 1, size - from_end), 1);
	c ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &c, 1, size - from_end), 1);
	close(fd);
}

START_TEST(test_damaged_truncated_stale_are_replaced)
{
	char cache[64], file[4200], file2[4200], dir[64];
	if (!packed_backend())
		return;
	make_cache_dir(cache, sizeof(cache));
	split_fixture("bert", 2, dir, sizeof(dir)); /* a copy whose files we may touch */
	struct model *ref = load(dir, NULL);
	model_destroy(load(dir, cache));
	the_file(cache, file, sizeof(file));

	/* one flipped bit in the data: checksum */
	damage(file, 12345);
	struct model *m = load(dir, cache);
	ck_assert_msg(m->layout_cache == LAYOUT_CACHE_WRITTEN, "%s", m->layout_cache_note);
	assert_same_outputs("bert", ref, m);
	model_destroy(m);
	m = load(dir, cache);
	ck_assert_msg(m->layout_cache == LAYOUT_CACHE_READ, "%s", m->layout_cache_note);
	model_destroy(m);

	/* cut short */
	ck_assert_int_eq(truncate(file, 8192), 0);
	m = load(dir, cache);
	ck_assert_msg(m->layout_cache == LAYOUT_CACHE_WRITTEN, "%s", m->layout_cache_note);
	model_destroy(m);

	/* a writer that died long ago left its temporary file; one writing now has its own */
	char stale[4300], fresh[4300];
	snprintf(stale, sizeof(stale), "%s.123.tmp", file);
	snprintf(fresh, sizeof(fresh), "%s.456.tmp", file);
	FILE *f = fopen(stale, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(fresh, "w"));
	fclose(f);
	struct timespec old_times[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
	ck_assert_int_eq(utimensat(AT_FDCWD, stale, old_times, 0), 0);

	/* the weights touched since: another key, and the old file goes */
	char shard[200];
	snprintf(shard, sizeof(shard), "%s/model-00001-of-00002.safetensors", dir);
	ck_assert_int_eq(utimensat(AT_FDCWD, shard, NULL, 0), 0);
	m = load(dir, cache);
	ck_assert_msg(m->layout_cache == LAYOUT_CACHE_WRITTEN, "%s", m->layout_cache_note);
	ck_assert_int_ne(access(stale, F_OK), 0);
	ck_assert_int_eq(access(fresh, F_OK), 0);
	ck_assert_int_eq(unlink(fresh), 0);
	the_file(cache, file2, sizeof(file2));
	ck_assert_str_ne(file, file2);
	assert_same_outputs("bert", ref, m);
	model_destroy(m);
	model_destroy(ref);
	remove_dir(dir);
	remove_dir(cache);
}
END_TEST

START_TEST(test_unwritable_folder_loads_without)
{
	char cache[64], below_file[128];
	if (!packed_backend())
		return;
	make_cache_dir(cache, sizeof(cache));
	snprintf(below_file, sizeof(below_file), "%s/file", cache);
	FILE *f = fopen(below_file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(below_file, sizeof(below_file), "%s/file/cache", cache); /* ENOTDIR */
	struct model *ref = load(fixture_path("bert"), NULL);
	struct model *m = load(fixture_path("bert"), below_file);
	ck_assert_msg(m->layout_cache == LAYOUT_CACHE_FAILED, "%s", m->layout_cache_note);
	ck_assert_msg(strstr(m->layout_cache_note, below_file) != NULL, "%s", m->layout_cache_note);
	assert_same_outputs("bert", ref, m);
	model_destroy(m);
	model_destroy(ref);
	remove_dir(cache);
}
END_TEST

START_TEST(test_nan_weights_never_cached)
{
	char cache[64], err[1024] = "";
	struct model *m = NULL;
	make_cache_dir(cache, sizeof(cache));
	struct model_opts opts = {.layout_cache_dir = cache};
	ck_assert_int_eq(
	    model_load(fixture_path("invalid/model/nan_weight"), &opts, &m, err, sizeof(err)),
	    STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "non-finite") != NULL, "%s", err);
	DIR *d = opendir(cache);
	ck_assert_ptr_nonnull(d);
	int entries = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		entries += e->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(entries, 0);
	remove_dir(cache);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layout_cache");
	TCase *tc = tcase_create("layout_cache");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_written_then_read_same_bytes, 0,
	                    (int)(sizeof(FIXTURES) / sizeof(FIXTURES[0])));
	tcase_add_test(tc, test_damaged_truncated_stale_are_replaced);
	tcase_add_test(tc, test_unwritable_folder_loads_without);
	tcase_add_test(tc, test_nan_weights_never_cached);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

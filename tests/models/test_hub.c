/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Models by Hub id, against a mock Hub (tests/models/mock_hub.py on
 * 127.0.0.1, started by each test, counting every request): the first
 * resolution downloads only what a model needs into an empty cache, and the
 * cache is then read back by huggingface_hub's layout rules (refs holds the
 * bare commit, snapshot entries are relative symlinks into blobs/, blob
 * names are the etags: sha256 for LFS files, git blob sha1 otherwise); a
 * second resolution offline makes no request; the server listens (503)
 * while it downloads, then serves what `smolserve run` answers on the
 * fixture; gated repositories, tokens (variable and token file) and the
 * Authorization header never reaching the CDN host; a connection dropped
 * mid-download and a wrong sha256 leave nothing under snapshots/; revisions
 * by commit id and tag; sharded weights; sentence-transformers pooling; and
 * every error a user can act on.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_client.h"
#include "server/http_suite.h"
#include "hub.h"
#include "model.h"
#include "sharded_util.h"
#include "status.h"
#include "test_util.h"

#define COMMIT_A  "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
#define COMMIT_B  "1111111111222222222233333333334444444444"
#define MOCK_MS   10000
#define READY_MS  20000
#define BERT_BODY "{\"inputs\": \"Hello, world! Downloads work.\"}"

static char work[64];   /* this test's temporary folder */
static char cache[256]; /* work/cache */
static json_t *config;  /* the mock's configuration */
static pid_t mock_pid;
static int mock_port;
static char notes[8192]; /* what on_note said */
static int n_finished;   /* progress reports with finished = 1 */

/* --- the mock Hub --------------------------------------------------------- */

static void setup(void)
{
	char home[300];
	snprintf(work, sizeof(work), "/tmp/smolserve-hub-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(work));
	snprintf(cache, sizeof(cache), "%s/cache", work);
	snprintf(home, sizeof(home), "%s/home", work);
	ck_assert_int_eq(mkdir(home, 0777), 0);
	setenv("HF_HUB_CACHE", cache, 1);
	setenv("HF_HOME", home, 1);
	setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
	unsetenv("HF_TOKEN");
	unsetenv("HUGGING_FACE_HUB_TOKEN");
	unsetenv("HF_HUB_OFFLINE");
	unsetenv("HUGGINGFACE_HUB_CACHE");
	unsetenv("HF_TOKEN_PATH");
	setenv("no_proxy", "*", 1); /* the mock is local whatever proxy CI sets */
	setenv("NO_PROXY", "*", 1);
	config = json_pack("{s:{}, s:f}", "repos", "slow_seconds", 1.5);
	mock_pid = 0;
	notes[0] = '\0';
	n_finished = 0;
}

static void teardown(void)
{
	if (mock_pid > 0) {
		kill(mock_pid, SIGTERM);
		waitpid(mock_pid, NULL, 0);
	}
	json_decref(config);
	remove_dir(work);
}

/* A repository id served from dir at commit (refs main and v1.0). Returns
 * its configuration object (borrowed) for faults, tokens, extra files. */
static json_t *add_repo(const char *id, const char *dir, const char *commit)
{
	json_t *repo = json_pack("{s:s, s:s, s:{s:s, s:s}}", "dir", dir, "commit", commit, "refs",
	                         "main", commit, "v1.0", commit);
	json_object_set_new(json_object_get(config, "repos"), id, repo);
	return repo;
}

static void mock_start(void)
{
	char cfg[300], out[300], script[4096], port[32];
	snprintf(cfg, sizeof(cfg), "%s/mock.json", work);
	snprintf(out, sizeof(out), "%s/mock.out", work);
	snprintf(script, sizeof(script), "%s/../models/mock_hub.py", fixture_path(""));
	ck_assert_int_eq(json_dump_file(config, cfg, JSON_INDENT(1)), 0);
	pid_t parent = getpid();
	mock_pid = fork();
	ck_assert_int_ge(mock_pid, 0);
	if (mock_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (getppid() != parent || fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execlp("python3", "python3", script, cfg, (char *)NULL);
		_exit(127);
	}
	for (int64_t end = now_ms() + MOCK_MS; mock_port == 0 && now_ms() < end; sleep_ms(20)) {
		FILE *f = fopen(out, "r");
		if (f != NULL && fscanf(f, "PORT %d", &mock_port) != 1)
			mock_port = 0;
		if (f != NULL)
			fclose(f);
	}
	ck_assert_msg(mock_port > 0, "the mock Hub did not start");
	snprintf(port, sizeof(port), "http://127.0.0.1:%d", mock_port);
	setenv("HF_ENDPOINT", port, 1);
}

/* Every request the mock received so far (new reference). */
static json_t *mock_log(void)
{
	struct http_response r;
	ck_assert_int_eq(http_request(mock_port, "GET", "/_mock/log", NULL, NULL, 0, 5000, &r), 0);
	json_error_t jerr;
	json_t *log = json_loads(r.body, 0, &jerr);
	http_response_dispose(&r);
	ck_assert_ptr_nonnull(log);
	return log;
}

static int n_requests(void)
{
	json_t *log = mock_log();
	int n = (int)json_array_size(log);
	json_decref(log);
	return n;
}

/* How many logged requests have a path containing s. */
static int requests_for(const char *s)
{
	json_t *log = mock_log(), *req;
	size_t i;
	int n = 0;
	json_array_foreach(log, i, req) n +=
	    strstr(json_string_value(json_object_get(req, "path")), s) != NULL;
	json_decref(log);
	return n;
}

/* --- resolving in process ------------------------------------------------- */

static void on_note(void *data, const char *text)
{
	(void)data;
	strncat(notes, text, sizeof(notes) - strlen(notes) - 2);
	strcat(notes, "\n");
}

static void on_progress(void *data, const struct hub_progress *p)
{
	(void)data;
	ck_assert(p->done_bytes >= 0 && (p->total_bytes < 0 || p->done_bytes <= p->total_bytes));
	n_finished += p->finished;
}

static int resolve(const char *id, const char *rev, const char *token, int offline, char *dir,
                   char *commit, char *err)
{
	struct hub_opts o = {.endpoint = getenv("HF_ENDPOINT"),
	                     .cache_dir = cache,
	                     .revision = rev,
	                     .token = token,
	                     .offline = offline,
	                     .on_progress = on_progress,
	                     .on_note = on_note};
	err[0] = '\0';
	return hub_resolve(id, &o, dir, 4096, commit, err, 2048);
}

/* --- reading the cache by the layout rules -------------------------------- */

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(*n + 1);
	ck_assert_int_eq((int)fread(buf, 1, *n, f), (int)*n);
	buf[*n] = '\0';
	fclose(f);
	return buf;
}

/* What the Hub names a file by: sha256 (LFS) or git's blob sha1. */
static void etag_of(const char *data, size_t n, int lfs, char *hex)
{
	uint8_t d[SHA256_DIGEST_SIZE];
	int len;
	if (lfs) {
		struct sha256_ctx c;
		sha256_init(&c);
		sha256_update(&c, n, (const uint8_t *)data);
		sha256_digest(&c, SHA256_DIGEST_SIZE, d);
		len = SHA256_DIGEST_SIZE;
	} else {
		struct sha1_ctx c;
		char head[64];
		int k = snprintf(head, sizeof(head), "blob %zu", n) + 1; /* with its NUL */
		sha1_init(&c);
		sha1_update(&c, (size_t)k, (const uint8_t *)head);
		sha1_update(&c, n, (const uint8_t *)data);
		sha1_digest(&c, SHA1_DIGEST_SIZE, d);
		len = SHA1_DIGEST_SIZE;
	}
	for (int i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
}

/* Counts the files under dir (recursively) into *n, and fails on any
 * "*.incomplete" left behind. */
static void count_files(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[4200];
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ck_assert_msg(strstr(e->d_name, ".incomplete") == NULL &&
		                  strstr(e->d_name, ".tmp") == NULL,
		              "temporary file left: %s", path);
		ck_assert_int_eq(lstat(path, &sb), 0);
		if (S_ISDIR(sb.st_mode))
			count_files(path, n);
		else
			(*n)++;
	}
	closedir(d);
}

/* The repository's cache folder. */
static const char *repo_root(const char *id)
{
	static char root[512];
	snprintf(root, sizeof(root), "%s/models--%.*s--%s", cache, (int)(strchr(id, '/') - id), id,
	         strchr(id, '/') + 1);
	return root;
}

/* The snapshot of id at commit holds exactly files (NULL-terminated), each
 * a relative symlink to blobs/<etag> with src_dir's bytes; refs/<ref> (if
 * ref) holds the commit and nothing else. */
static void check_layout(const char *id, const char *ref, const char *commit, const char *src_dir,
                         const char *const *files)
{
	const char *root = repo_root(id);
	char path[4200], target[4200], want[4200], etag[2 * SHA256_DIGEST_SIZE + 1];
	size_t n, n_src;
	int n_files = 0, n_snapshot = 0, n_blobs = 0;
	if (ref != NULL) {
		snprintf(path, sizeof(path), "%s/refs/%s", root, ref);
		char *text = slurp(path, &n);
		ck_assert_msg(n == 40 && strcmp(text, commit) == 0, "refs/%s holds \"%s\"", ref,
		              text);
		free(text);
	}
	for (; files[n_files] != NULL; n_files++) {
		const char *f = files[n_files];
		struct stat sb;
		snprintf(path, sizeof(path), "%s/snapshots/%s/%s", root, commit, f);
		ck_assert_msg(lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode), "%s is not a symlink",
		              path);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		ck_assert_int_gt((int)k, 0);
		target[k] = '\0';
		snprintf(path, sizeof(path), "%s/%s", src_dir, f);
		char *src = slurp(path, &n_src);
		size_t len = strlen(f);
		etag_of(src, n_src, len > 12 && strcmp(f + len - 12, ".safetensors") == 0, etag);
		int depth = 0;
		for (const char *s = f; *s; s++)
			depth += *s == '/';
		snprintf(want, sizeof(want), "../../%s%sblobs/%s", depth > 0 ? "../" : "",
		         depth > 1 ? "../" : "", etag);
		ck_assert_msg(strcmp(target, want) == 0, "%s -> %s, want %s", f, target, want);
		snprintf(path, sizeof(path), "%s/blobs/%s", root, etag);
		char *blob = slurp(path, &n);
		ck_assert_msg(n == n_src && memcmp(blob, src, n) == 0, "blob of %s differs", f);
		free(blob);
		free(src);
	}
	snprintf(path, sizeof(path), "%s/snapshots/%s", root, commit);
	count_files(path, &n_snapshot);
	ck_assert_msg(n_snapshot == n_files, "the snapshot has %d files, want %d", n_snapshot,
	              n_files);
	snprintf(path, sizeof(path), "%s/blobs", root);
	count_files(path, &n_blobs);
	ck_assert_int_le(n_blobs, n_files);
}

static const char *const BERT_FILES[] = {"config.json",
                                         "model.safetensors",
                                         "special_tokens_map.json",
                                         "tokenizer_config.json",
                                         "vocab.txt",
                                         "tokenizer.json",
                                         NULL};

/* --- tests ---------------------------------------------------------------- */

START_TEST(test_names)
{
	const char *good[] = {"BAAI/bge-small-en-v1.5", "bert-base-uncased", "a/b", "x_y/z.1",
	                      "sentence-transformers/all-MiniLM-L6-v2"};
	const char *bad[] = {"",     "/abs/path", "a/b/c", "../x", "a//b", "-a/b", "a/b.",
	                     "a--b", "a..b",      "a b/c", "a/b/", "a/-b", "./x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(hub_repo_id_valid(good[i]), "%s refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!hub_repo_id_valid(bad[i]), "%s accepted", bad[i]);
	ck_assert(hub_revision_valid("main") && hub_revision_valid("v1.0") &&
	          hub_revision_valid("refs/pr/12") && hub_revision_valid(COMMIT_A));
	ck_assert(!hub_revision_valid("") && !hub_revision_valid("../main") &&
	          !hub_revision_valid("a/../b") && !hub_revision_valid("/main") &&
	          !hub_revision_valid("a b") && !hub_revision_valid("refs//pr"));
	ck_assert(hub_wanted_file("tokenizer.json") && hub_wanted_file("model.safetensors") &&
	          hub_wanted_file("modules.json") && !hub_wanted_file("pytorch_model.bin") &&
	          !hub_wanted_file("README.md") && !hub_wanted_file("onnx/model.onnx"));
}
END_TEST

START_TEST(test_default_cache_and_token)
{
	/* Each step sets (or, value NULL, unsets) one variable; huggingface_hub's
	 * order of precedence decides the folder. */
	static const struct {
		const char *var, *value, *want;
	} steps[] = {{"HUGGINGFACE_HUB_CACHE", "/legacy", NULL}, /* HF_HUB_CACHE still wins */
	             {"HF_HUB_CACHE", NULL, "/legacy"},
	             {"HUGGINGFACE_HUB_CACHE", NULL, "HF_HOME/hub"},
	             {"HF_HOME", "/hfhome", "/hfhome/hub"},
	             {"XDG_CACHE_HOME", "/xdg", "/hfhome/hub"},
	             {"HF_HOME", NULL, "/xdg/huggingface/hub"},
	             {"XDG_CACHE_HOME", NULL, "/home/u/.cache/huggingface/hub"}};
	char out[4096], path[400];
	setenv("HOME", "/home/u", 1);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i].value != NULL)
			setenv(steps[i].var, steps[i].value, 1);
		else
			unsetenv(steps[i].var);
		snprintf(path, sizeof(path), "%s/home/hub", work);
		const char *want = steps[i].want == NULL                       ? cache
		                   : strcmp(steps[i].want, "HF_HOME/hub") == 0 ? path
		                                                               : steps[i].want;
		ck_assert_int_eq(hub_default_cache_dir(out, sizeof(out)), 0);
		ck_assert_msg(strcmp(out, want) == 0, "step %zu: %s, want %s", i, out, want);
	}

	/* The token: HUGGING_FACE_HUB_TOKEN, else the login file. */
	snprintf(path, sizeof(path), "%s/home", work);
	setenv("HF_HOME", path, 1);
	hub_default_token(out, sizeof(out));
	ck_assert_str_eq(out, "");
	snprintf(path, sizeof(path), "%s/home/token", work);
	FILE *f = fopen(path, "w");
	fputs("hf_fromfile  \n", f);
	fclose(f);
	hub_default_token(out, sizeof(out));
	ck_assert_str_eq(out, "hf_fromfile");
	setenv("HUGGING_FACE_HUB_TOKEN", "hf_fromenv", 1);
	hub_default_token(out, sizeof(out));
	ck_assert_str_eq(out, "hf_fromenv");
	unsetenv("HUGGING_FACE_HUB_TOKEN");
	snprintf(path, sizeof(path), "%s/elsewhere", work);
	f = fopen(path, "w");
	fputs("hf_path", f);
	fclose(f);
	setenv("HF_TOKEN_PATH", path, 1);
	hub_default_token(out, sizeof(out));
	ck_assert_str_eq(out, "hf_path");
}
END_TEST

START_TEST(test_download_layout_then_offline)
{
	char dir[4096], commit[41], err[2048];
	json_t *repo = add_repo("org/bert", fixture_path("bert"), COMMIT_A);
	json_object_set_new(repo, "extra",
	                    json_pack("{s:s, s:s, s:s}", "README.md", "# bert", "onnx/model.onnx",
	                              "onnx bytes", "pytorch_model.bin", "pickle"));
	mock_start();
	int rc = resolve("org/bert", NULL, NULL, 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(commit, COMMIT_A);
	char want[4200];
	snprintf(want, sizeof(want), "%s/snapshots/%s", repo_root("org/bert"), COMMIT_A);
	ck_assert_str_eq(dir, want);
	check_layout("org/bert", "main", COMMIT_A, fixture_path("bert"), BERT_FILES);
	/* Only what the model needs: one API call and six files (the LFS one
	 * through the CDN); none of README.md, onnx/, pytorch_model.bin,
	 * expected.json. */
	ck_assert_int_eq(requests_for("/api/models/org/bert/revision/main"), 1);
	ck_assert_int_eq(requests_for("/resolve/"), 6);
	ck_assert_int_eq(requests_for("/cdn/"), 1);
	ck_assert_int_eq(requests_for("README") + requests_for("onnx") + requests_for("pytorch") +
	                     requests_for("expected"),
	                 0);
	ck_assert_int_eq(n_finished, 6);
	ck_assert_ptr_nonnull(strstr(notes, "6 of its 6 files downloaded"));
	/* huggingface_hub's marker for a file known not to exist. */
	snprintf(want, sizeof(want), "%s/.no_exist/%s/spiece.model", repo_root("org/bert"),
	         COMMIT_A);
	ck_assert_int_eq(access(want, F_OK), 0);

	/* Offline: the cache alone, not one request. */
	int before = n_requests();
	rc = resolve("org/bert", NULL, NULL, 1, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(commit, COMMIT_A);
	ck_assert_int_eq(n_requests(), before);
	/* Online with everything cached: the API call only. */
	rc = resolve("org/bert", NULL, NULL, 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(n_requests(), before + 1);
	/* The Hub unreachable, the cache complete: served from it, with a note. */
	setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
	rc = resolve("org/bert", NULL, NULL, 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(notes, "using the cached snapshot " COMMIT_A));
	struct model *m = NULL;
	ck_assert_msg(model_load(dir, NULL, &m, err, sizeof(err)) == 0, "%s", err);
	model_destroy(m);
}
END_TEST

/* GET path on port: its status (and *out the parsed JSON body, if asked). */
static int get_status(int port, const char *method, const char *path, const char *body)
{
	struct reply rp = call(port, method, path, NULL, body);
	int status = rp.status;
	if (status == 503)
		assert_error_body(&rp, "Unhealthy", path);
	reply_dispose(&rp);
	return status;
}

/* org/bert with slow weights, and `smolserve serve --model-id org/bert`
 * started: returns as soon as it is bound, before the model is there. */
static void serve_slow_download(struct test_server *srv)
{
	static char err[16384];
	json_t *repo = add_repo("org/bert", fixture_path("bert"), COMMIT_A);
	json_object_set_new(repo, "faults", json_pack("{s:s}", "model.safetensors", "slow"));
	mock_start();
	ck_assert_msg(test_server_launch(srv, "org/bert", NULL, "bound to http://", START_MS, err,
	                                 sizeof(err)) == 0,
	              "%s", err);
}

START_TEST(test_serve_downloads_then_offline)
{
	char err[16384];
	struct test_server srv;
	serve_slow_download(&srv);
	/* Listening while the weights download: 503 until the model computes. */
	ck_assert_int_eq(get_status(srv.port, "GET", "/health", NULL), 503);
	ck_assert_int_eq(get_status(srv.port, "POST", "/embed", BERT_BODY), 503);
	ck_assert_int_eq(get_status(srv.port, "GET", "/info", NULL), 503);
	/* /ping is a health check too, as TEI's (SageMaker probes it). */
	ck_assert_int_eq(get_status(srv.port, "GET", "/ping", NULL), 503);
	ck_assert_int_eq(get_status(srv.port, "GET", "/metrics", NULL), 200);
	int64_t end = now_ms() + READY_MS;
	while (get_status(srv.port, "GET", "/health", NULL) != 200 && now_ms() < end)
		sleep_ms(50);
	char *log = test_server_log(&srv);
	ck_assert_msg(strstr(log, "downloaded model.safetensors") != NULL &&
	                  strstr(log, "listening on http://") != NULL,
	              "%s", log);
	free(log);
	json_t *ref = reference("embed", "bert", BERT_BODY);
	struct reply rp = call(srv.port, "POST", "/embed", NULL, BERT_BODY);
	char where[256] = "$";
	ck_assert_int_eq(rp.status, 200);
	ck_assert_msg(json_close(rp.json, ref, FLOAT_TOL, where, sizeof(where)), "%s", where);
	reply_dispose(&rp);
	rp = call(srv.port, "GET", "/info", NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(rp.json, "model_id")), "org/bert");
	ck_assert_str_eq(json_string_value(json_object_get(rp.json, "model_sha")), COMMIT_A);
	reply_dispose(&rp);
	server_stop_ok(&srv);

	/* Second start, offline: from the cache, without a request. */
	int before = n_requests();
	setenv("HF_HUB_OFFLINE", "1", 1);
	ck_assert_msg(test_server_start(&srv, "org/bert", NULL, START_MS, err, sizeof(err)) == 0,
	              "%s", err);
	rp = call(srv.port, "POST", "/embed", NULL, BERT_BODY);
	ck_assert_int_eq(rp.status, 200);
	ck_assert_msg(json_close(rp.json, ref, FLOAT_TOL, where, sizeof(where)), "%s", where);
	reply_dispose(&rp);
	server_stop_ok(&srv);
	ck_assert_int_eq(n_requests(), before);
	json_decref(ref);
}
END_TEST

START_TEST(test_sigterm_while_downloading)
{
	struct test_server srv;
	serve_slow_download(&srv);
	int64_t end = now_ms() + READY_MS;
	while (requests_for("/cdn/") == 0 && now_ms() < end) /* the weights are on their way */
		sleep_ms(20);
	ck_assert_int_eq(requests_for("/cdn/"), 1);
	/* The drain cancels the download: exit 0, nothing half-written. */
	server_stop_ok(&srv);
	char path[4200];
	snprintf(path, sizeof(path), "%s/snapshots/%s/model.safetensors", repo_root("org/bert"),
	         COMMIT_A);
	ck_assert_int_ne(access(path, F_OK), 0);
	int n = 0;
	snprintf(path, sizeof(path), "%s/blobs", repo_root("org/bert"));
	count_files(path, &n);
	ck_assert_int_eq(n, 5); /* config.json and the four tokenizer files */
}
END_TEST

/* `smolserve run embed --model-id id` with extra (NULL-terminated): exit
 * status, *out its stdout and stderr. */
static int run_id(const char *id, const char *const *extra, char **out)
{
	const char *argv[16] = {getenv("SMOLSERVE_BIN"), "run", "embed", "--model-id", id};
	int n = 5;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return run_program(argv, 1, BERT_BODY, strlen(BERT_BODY), RUN_MS, out);
}

START_TEST(test_gated_needs_token)
{
	char dir[4096], commit[41], err[2048], *out = NULL, path[300];
	json_t *repo = add_repo("org/gated", fixture_path("bert"), COMMIT_B);
	json_object_set_new(repo, "token", json_string("hf_secret"));
	mock_start();
	int rc = resolve("org/gated", NULL, NULL, 0, dir, commit, err);
	ck_assert_int_eq(rc, STATUS_EIO);
	ck_assert_msg(strstr(err, "401") && strstr(err, "gated") && strstr(err, "HF_TOKEN"), "%s",
	              err);
	/* The same, as the user sees it. */
	ck_assert_int_eq(run_id("org/gated", NULL, &out), 2);
	ck_assert_msg(strstr(out, "401 Unauthorized") && strstr(out, "Set HF_TOKEN"), "%s", out);
	free(out);
	ck_assert_int_eq(resolve("org/gated", NULL, "hf_wrong", 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "token given") != NULL, "%s", err);
	/* With the token: downloads; the token went to the Hub, never to the
	 * CDN host. */
	rc = resolve("org/gated", NULL, "hf_secret", 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	json_t *log = mock_log(), *req;
	size_t i;
	int n_hub = 0, n_cdn = 0;
	json_array_foreach(log, i, req)
	{
		const char *p = json_string_value(json_object_get(req, "path"));
		const char *auth = json_string_value(json_object_get(req, "authorization"));
		if (strstr(p, "/cdn/") != NULL) {
			n_cdn++;
			ck_assert_msg(auth == NULL, "the token reached the CDN: %s", auth);
		} else if (strstr(p, "/resolve/") != NULL && auth != NULL &&
		           strcmp(auth, "Bearer hf_secret") == 0) {
			n_hub++;
		}
	}
	json_decref(log);
	ck_assert_int_eq(n_cdn, 1);
	ck_assert_int_ge(n_hub, 5);
	/* `smolserve run` takes HF_TOKEN, and the login token file. */
	remove_dir(cache);
	setenv("HF_TOKEN", "hf_secret", 1);
	ck_assert_int_eq(run_id("org/gated", NULL, &out), 0);
	free(out);
	unsetenv("HF_TOKEN");
	remove_dir(cache);
	snprintf(path, sizeof(path), "%s/home/token", work);
	FILE *f = fopen(path, "w");
	fputs("hf_secret\n", f);
	fclose(f);
	ck_assert_int_eq(run_id("org/gated", NULL, &out), 0);
	free(out);
}
END_TEST

/* No file of the repository's under snapshots/, no blob, no temporary. */
static void assert_nothing_cached_for(const char *id, const char *file)
{
	char path[4200];
	struct stat sb;
	int n = 0;
	snprintf(path, sizeof(path), "%s/snapshots/%s/%s", repo_root(id), COMMIT_A, file);
	ck_assert_msg(lstat(path, &sb) != 0, "%s exists", path);
	snprintf(path, sizeof(path), "%s/blobs", repo_root(id));
	count_files(path, &n); /* fails on a temporary left behind */
}

START_TEST(test_dropped_connection_leaves_nothing)
{
	char dir[4096], commit[41], err[2048], path[4200];
	int n = 0;
	json_t *a = add_repo("org/drop-config", fixture_path("bert"), COMMIT_A);
	json_object_set_new(a, "faults", json_pack("{s:s}", "config.json", "drop"));
	json_t *b = add_repo("org/drop-weights", fixture_path("bert"), COMMIT_A);
	json_object_set_new(b, "faults", json_pack("{s:s}", "model.safetensors", "drop"));
	mock_start();
	/* The first file breaks off: nothing at all under snapshots/. */
	ck_assert_int_eq(resolve("org/drop-config", NULL, NULL, 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "config.json: the download broke off after") != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/snapshots", repo_root("org/drop-config"));
	count_files(path, &n);
	ck_assert_int_eq(n, 0);
	assert_nothing_cached_for("org/drop-config", "config.json");
	/* The weights break off: no weights file, no partial blob. */
	ck_assert_int_eq(resolve("org/drop-weights", NULL, NULL, 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "model.safetensors: the download broke off") != NULL, "%s", err);
	assert_nothing_cached_for("org/drop-weights", "model.safetensors");
	/* Offline now: the incomplete snapshot is named, file by file. */
	ck_assert_int_eq(resolve("org/drop-weights", NULL, NULL, 1, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "HF_HUB_OFFLINE") && strstr(err, "org/drop-weights") &&
	                  strstr(err, COMMIT_A) && strstr(err, "missing model.safetensors"),
	              "%s", err);
}
END_TEST

START_TEST(test_bad_sha256_refused)
{
	char dir[4096], commit[41], err[2048];
	json_t *repo = add_repo("org/bert", fixture_path("bert"), COMMIT_A);
	json_object_set_new(repo, "faults", json_pack("{s:s}", "model.safetensors", "bad_sha"));
	mock_start();
	ck_assert_int_eq(resolve("org/bert", NULL, NULL, 0, dir, commit, err), STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "sha256 mismatch") && strstr(err, "refused"), "%s", err);
	assert_nothing_cached_for("org/bert", "model.safetensors");
}
END_TEST

START_TEST(test_disk_full)
{
	char dir[4096], commit[41], err[2048];
	json_t *repo = add_repo("org/bert", fixture_path("bert"), COMMIT_A);
	json_object_set_new(repo, "faults", json_pack("{s:s}", "model.safetensors", "huge"));
	mock_start();
	/* The Hub announces 1 PB: refused before a byte is written. */
	ck_assert_int_eq(resolve("org/bert", NULL, NULL, 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "model.safetensors (1000000000000000 bytes") &&
	                  strstr(err, "disk full") && strstr(err, "HF_HUB_CACHE"),
	              "%s", err);
	assert_nothing_cached_for("org/bert", "model.safetensors");
}
END_TEST

START_TEST(test_revisions)
{
	char dir[4096], commit[41], err[2048], path[4200];
	add_repo("org/bert", fixture_path("bert"), COMMIT_A);
	mock_start();
	/* By commit id: that snapshot, and no ref written (there is none). */
	int rc = resolve("org/bert", COMMIT_A, NULL, 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(commit, COMMIT_A);
	check_layout("org/bert", NULL, COMMIT_A, fixture_path("bert"), BERT_FILES);
	snprintf(path, sizeof(path), "%s/refs", repo_root("org/bert"));
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(requests_for("/resolve/" COMMIT_A "/"), 6);
	/* By commit id offline: no ref needed either. */
	ck_assert_int_eq(resolve("org/bert", COMMIT_A, NULL, 1, dir, commit, err), 0);
	/* By tag: refs/v1.0 = the commit; nothing downloaded again. */
	int before = requests_for("/resolve/");
	rc = resolve("org/bert", "v1.0", NULL, 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	check_layout("org/bert", "v1.0", COMMIT_A, fixture_path("bert"), BERT_FILES);
	ck_assert_int_eq(requests_for("/resolve/"), before);
	/* Not a revision of the repository. */
	ck_assert_int_eq(resolve("org/bert", "nope", NULL, 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "no revision \"nope\"") && !strstr(err, "folder"), "%s", err);
}
END_TEST

START_TEST(test_sharded_download)
{
	char dir[4096], commit[41], err[2048], shards[300];
	snprintf(shards, sizeof(shards), "%s/sharded-src", work);
	split_folder(fixture_path("bert-seqcls"), shards, 3);
	add_repo("org/sharded", shards, COMMIT_A);
	mock_start();
	int rc = resolve("org/sharded", NULL, NULL, 0, dir, commit, err);
	ck_assert_msg(rc == 0, "%s", err);
	const char *const files[] = {"config.json",
	                             "model.safetensors.index.json",
	                             "model-00001-of-00003.safetensors",
	                             "model-00002-of-00003.safetensors",
	                             "model-00003-of-00003.safetensors",
	                             "special_tokens_map.json",
	                             "tokenizer_config.json",
	                             "vocab.txt",
	                             "tokenizer.json",
	                             NULL};
	check_layout("org/sharded", "main", COMMIT_A, shards, files);
	struct model *single = NULL, *sharded = NULL;
	ck_assert_msg(model_load(fixture_path("bert-seqcls"), NULL, &single, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_msg(model_load(dir, NULL, &sharded, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(sharded->st->n_files, 3);
	assert_same_outputs("bert-seqcls", single, sharded);
	model_destroy(single);
	model_destroy(sharded);
	/* Offline, the index's shards are what a complete snapshot needs. */
	ck_assert_int_eq(resolve("org/sharded", NULL, NULL, 1, dir, commit, err), 0);
	char shard[4200];
	snprintf(shard, sizeof(shard), "%s/model-00002-of-00003.safetensors", dir);
	ck_assert_int_eq(unlink(shard), 0);
	ck_assert_int_eq(resolve("org/sharded", NULL, NULL, 1, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "missing model-00002-of-00003.safetensors") != NULL, "%s", err);
}
END_TEST

START_TEST(test_sentence_transformers_files)
{
	char dir[4096], commit[41], err[2048];
	json_t *repo = add_repo("org/st", fixture_path("bert"), COMMIT_A);
	json_object_set_new(
	    repo, "extra",
	    json_pack(
	        "{s:s, s:s, s:s, s:s}", "modules.json",
	        "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": "
	        "\"sentence_transformers.models.Transformer\"}, {\"idx\": 1, \"name\": \"1\", "
	        "\"path\": \"pool/cls\", \"type\": \"sentence_transformers.models.Pooling\"}]",
	        "pool/cls/config.json",
	        "{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": true, "
	        "\"pooling_mode_mean_tokens\": false}",
	        "1_Pooling/config.json", "{\"unused\": true}", "config_sentence_transformers.json",
	        "{\"__version__\": {}}"));
	mock_start();
	ck_assert_msg(resolve("org/st", NULL, NULL, 0, dir, commit, err) == 0, "%s", err);
	ck_assert_int_eq(requests_for("pool/cls/config.json"), 1);
	ck_assert_int_eq(requests_for("1_Pooling"), 0);
	ck_assert_int_eq(requests_for("config_sentence_transformers.json"), 1);
	struct model *m = NULL;
	ck_assert_msg(model_load(dir, NULL, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert(m->pooling == POOLING_CLS && m->pooling_from_folder);
	model_destroy(m);
}
END_TEST

START_TEST(test_errors_say_what_to_do)
{
	char dir[4096], commit[41], err[2048], pt[300], cmd[4400];
	snprintf(pt, sizeof(pt), "%s/pt-only", work);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s/config.json' '%s/vocab.txt' '%s'", pt,
	         fixture_path("bert"), fixture_path("bert"), pt);
	ck_assert_int_eq(system(cmd), 0);
	json_t *repo = add_repo("org/pt-only", pt, COMMIT_A);
	json_object_set_new(repo, "extra", json_pack("{s:s}", "pytorch_model.bin", "pickle"));
	add_repo("org/bert", fixture_path("bert"), COMMIT_A);
	/* No network, empty cache: say so, name HF_HUB_OFFLINE and the cache. */
	ck_assert_int_eq(resolve("org/bert", NULL, NULL, 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "cannot reach http://127.0.0.1:1") && strstr(err, "no network") &&
	                  strstr(err, "HF_HUB_OFFLINE") && strstr(err, cache),
	              "%s", err);
	/* Offline, empty cache: names repository, revision and the cache. */
	ck_assert_int_eq(resolve("org/bert", "v1.0", NULL, 1, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "org/bert@v1.0") && strstr(err, "refs/v1.0") &&
	                  strstr(err, cache),
	              "%s", err);
	mock_start();
	ck_assert_int_eq(resolve("org/nope", NULL, NULL, 0, dir, commit, err), STATUS_EIO);
	ck_assert_msg(strstr(err, "401") && strstr(err, "does not exist") &&
	                  strstr(err, "nor is there a folder org/nope here"),
	              "%s", err);
	ck_assert_int_eq(resolve("org/pt-only", NULL, NULL, 0, dir, commit, err),
	                 STATUS_EUNSUPPORTED);
	ck_assert_msg(strstr(err, "only PyTorch weights") && strstr(err, "safe_serialization=True"),
	              "%s", err);
	ck_assert_int_eq(requests_for("pytorch_model.bin"), 0);
	ck_assert_int_eq(resolve("../etc", NULL, NULL, 0, dir, commit, err), STATUS_EINVAL);
	ck_assert_msg(strstr(err, "no such folder, and not a Hugging Face Hub repository id"), "%s",
	              err);
	ck_assert_int_eq(resolve("org/bert", "../x", NULL, 0, dir, commit, err), STATUS_EINVAL);
	/* A local folder is a folder, whatever its name. */
	ck_assert_int_eq(resolve(fixture_path("bert"), NULL, NULL, 1, dir, commit, err), 0);
	ck_assert_str_eq(dir, fixture_path("bert"));
	ck_assert_str_eq(commit, "");
	/* A cache that cannot be written. */
	if (geteuid() != 0) { /* root writes anywhere */
		ck_assert_int_eq(mkdir(cache, 0500), 0);
		ck_assert_int_eq(resolve("org/bert", NULL, NULL, 0, dir, commit, err), STATUS_EIO);
		ck_assert_msg(strstr(err, "must be writable") != NULL, "%s", err);
		chmod(cache, 0700);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hub");
	TCase *tc = tcase_create("hub");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_default_cache_and_token);
	tcase_add_test(tc, test_download_layout_then_offline);
	tcase_add_test(tc, test_serve_downloads_then_offline);
	tcase_add_test(tc, test_sigterm_while_downloading);
	tcase_add_test(tc, test_gated_needs_token);
	tcase_add_test(tc, test_dropped_connection_leaves_nothing);
	tcase_add_test(tc, test_bad_sha256_refused);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_revisions);
	tcase_add_test(tc, test_sharded_download);
	tcase_add_test(tc, test_sentence_transformers_files);
	tcase_add_test(tc, test_errors_say_what_to_do);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

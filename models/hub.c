/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Model ids (see hub.h): a folder, or a Hub repository resolved to a cache
 * snapshot. Online, one API call (GET {endpoint}/api/models/{id}/revision/
 * {rev}, the call huggingface_hub's model_info makes) gives the commit and
 * the list of files; the files a model needs that the snapshot lacks are
 * then fetched by commit, so every file comes from the same commit even if
 * the branch moves meanwhile. Offline (HF_HUB_OFFLINE), or when the Hub
 * cannot be reached and the cache already holds a complete snapshot, the
 * cache alone answers. Every failure is explained in terms of what the user
 * can do about it.
 */
#include "hub.h"

#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-impl.h"
#include "safetensors.h"
#include "status.h"

#define API_MAX_BYTES (16u << 20)
#define URL_MAX       6144

static const char *const TOKENIZER_FILES[] = {"tokenizer.json",
                                              "vocab.txt",
                                              "vocab.json",
                                              "merges.txt",
                                              "spiece.model",
                                              "sentencepiece.bpe.model",
                                              "spm.model",
                                              "added_tokens.json",
                                              "tokenizer_config.json",
                                              "special_tokens_map.json"};
#define N_TOKENIZER_FILES (sizeof(TOKENIZER_FILES) / sizeof(TOKENIZER_FILES[0]))
/* A tokenizer needs at least one of the first 7 (the vocabulary). */
#define N_VOCAB_FILES 7

static const char *const ST_FILES[] = {"modules.json", "config_sentence_transformers.json",
                                       "sentence_bert_config.json"};
#define N_ST_FILES (sizeof(ST_FILES) / sizeof(ST_FILES[0]))

#define WEIGHTS_FILE "model.safetensors"
#define INDEX_FILE   "model.safetensors.index.json"

/* --- names ---------------------------------------------------------------- */

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

int hub_repo_id_valid(const char *id)
{
	size_t n = strlen(id);
	int slashes = 0;
	if (n == 0 || n > 96 || strstr(id, "--") != NULL || strstr(id, "..") != NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int edge = i == 0 || i == n - 1 || id[i - 1] == '/' || id[i + 1] == '/';
		if (id[i] == '/') {
			if (++slashes > 1 || i == 0 || i == n - 1)
				return 0;
		} else if (!name_char(id[i]) || (edge && (id[i] == '-' || id[i] == '.'))) {
			return 0;
		}
	}
	return 1;
}

/* A relative path of non-empty segments, none "." or "..", of name_char or
 * '/' (plus ' ' and '+' in file names, which repositories use). */
static int relative_path_ok(const char *p, size_t max, int allow_space)
{
	size_t n = strlen(p);
	if (n == 0 || n > max || p[0] == '/' || p[n - 1] == '/' || strstr(p, "//") != NULL)
		return 0;
	for (const char *s = p; *s; s++)
		if (!name_char(*s) && *s != '/' && !(allow_space && (*s == ' ' || *s == '+')))
			return 0;
	for (const char *seg = p; seg != NULL;
	     seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
		size_t len = strcspn(seg, "/");
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
	}
	return 1;
}

int hub_revision_valid(const char *rev)
{
	return relative_path_ok(rev, 255, 0);
}

int hub_wanted_file(const char *path)
{
	if (strcmp(path, "config.json") == 0 || strcmp(path, WEIGHTS_FILE) == 0 ||
	    strcmp(path, INDEX_FILE) == 0)
		return 1;
	for (size_t i = 0; i < N_TOKENIZER_FILES; i++)
		if (strcmp(path, TOKENIZER_FILES[i]) == 0)
			return 1;
	for (size_t i = 0; i < N_ST_FILES; i++)
		if (strcmp(path, ST_FILES[i]) == 0)
			return 1;
	return 0;
}

/* --- defaults from the environment ---------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface,
 * each followed by suffix. */
static int hf_home(const char *suffix, char *out, size_t n)
{
	const char *home = env("HOME");
	struct passwd *pw;
	int w;
	if (env("HF_HOME"))
		w = snprintf(out, n, "%s%s", env("HF_HOME"), suffix);
	else if (env("XDG_CACHE_HOME"))
		w = snprintf(out, n, "%s/huggingface%s", env("XDG_CACHE_HOME"), suffix);
	else if (home != NULL || ((pw = getpwuid(getuid())) != NULL && (home = pw->pw_dir)))
		w = snprintf(out, n, "%s/.cache/huggingface%s", home, suffix);
	else
		return -1;
	return w > 0 && (size_t)w < n ? 0 : -1;
}

int hub_default_cache_dir(char *out, size_t n)
{
	const char *dir = env("HF_HUB_CACHE") ? env("HF_HUB_CACHE") : env("HUGGINGFACE_HUB_CACHE");
	if (dir != NULL)
		return snprintf(out, n, "%s", dir) < (int)n ? 0 : -1;
	return hf_home("/hub", out, n);
}

void hub_default_token(char *out, size_t n)
{
	char path[HUB_PATH_MAX];
	out[0] = '\0';
	if (env("HUGGING_FACE_HUB_TOKEN")) {
		snprintf(out, n, "%s", env("HUGGING_FACE_HUB_TOKEN"));
		return;
	}
	if (env("HF_TOKEN_PATH"))
		snprintf(path, sizeof(path), "%s", env("HF_TOKEN_PATH"));
	else if (hf_home("/token", path, sizeof(path)) != 0)
		return;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(out, (int)n, f) == NULL)
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	size_t k = strlen(out);
	while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t'))
		out[--k] = '\0';
}

/* --- messages ------------------------------------------------------------- */

/* "org/name" or "org/name@rev" (rev not main). */
static const char *display(const struct hub_repo *r, char *buf, size_t n)
{
	if (strcmp(r->revision, "main") == 0)
		snprintf(buf, n, "%s", r->id);
	else
		snprintf(buf, n, "%s@%s", r->id, r->revision);
	return buf;
}

/* The error for an HTTP answer a about what (a file, or NULL: the repo). */
static int explain_status(const struct hub_repo *r, const struct hub_opts *o,
                          const struct hub_answer *a, const char *what, const char *url, char *err,
                          size_t n_err)
{
	char name[400];
	int token = o->token != NULL && o->token[0] != '\0';
	display(r, name, sizeof(name));
	if (a->status == 401 || a->status == 403) {
		int gated = strcmp(a->error_code, "GatedRepo") == 0;
		return status_fail(
		    err, n_err, STATUS_EIO,
		    "%s: the Hub answered %ld %s for %s: the repository is %s. %s, and accept the "
		    "model's conditions on %s/%s%s",
		    name, a->status, a->status == 401 ? "Unauthorized" : "Forbidden",
		    what ? what : "its file list",
		    gated ? "gated" : "gated or private, or does not exist",
		    token ? "The token given (HF_TOKEN, --hf-token or the token file) has no "
		            "access: use one with read access to this repository"
		          : "Set HF_TOKEN (or --hf-token, or run `huggingface-cli login`) to a "
		            "token with access",
		    o->endpoint, r->id, gated ? "" : " if it is gated");
	}
	if (a->status == 404 && strcmp(a->error_code, "RevisionNotFound") == 0)
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s: the repository has no revision \"%s\" (--revision / "
		                   "REVISION: a branch, tag or commit id)",
		                   r->id, r->revision);
	if (a->status == 404 && (what == NULL || strcmp(a->error_code, "RepoNotFound") == 0))
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s: no such repository on %s (404): check the id; a private "
		                   "repository needs HF_TOKEN",
		                   r->id, o->endpoint);
	if (a->status == 404)
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s: the repository has no file %s (404)", name, what);
	return status_fail(err, n_err, STATUS_EIO, "%s: HTTP %ld%s%s from %s", name, a->status,
	                   a->error_message[0] ? ": " : "", a->error_message, url);
}

/* --- the cache alone ------------------------------------------------------ */

/* Appends what the snapshot at r->commit lacks to out (", "-separated);
 * returns how many things are missing. */
static int snapshot_missing(const struct hub_repo *r, char *out, size_t n)
{
	int missing = 0;
	size_t used = 0;
	char **shards = NULL, path[HUB_PATH_MAX], e[256];
	int n_shards = 0;
#define MISSING(...)                                                                               \
	do {                                                                                       \
		if (used < n)                                                                      \
			used += (size_t)snprintf(out + used, n - used, "%s", missing ? ", " : ""); \
		if (used < n)                                                                      \
			used += (size_t)snprintf(out + used, n - used, __VA_ARGS__);               \
		missing++;                                                                         \
	} while (0)
	out[0] = '\0';
	if (!hub_cache_has(r, "config.json"))
		MISSING("config.json");
	if (hub_cache_has(r, WEIGHTS_FILE)) {
		/* complete */
	} else if (hub_cache_has(r, INDEX_FILE) &&
	           hub_cache_snapshot_path(r, INDEX_FILE, path, sizeof(path)) == 0 &&
	           safetensors_index_shards(path, &shards, &n_shards, e, sizeof(e)) == 0) {
		for (int i = 0; i < n_shards; i++)
			if (!hub_cache_has(r, shards[i]))
				MISSING("%s", shards[i]);
		safetensors_free_names(shards, n_shards);
	} else {
		MISSING(WEIGHTS_FILE " (or " INDEX_FILE " and its shards)");
	}
	int vocab = 0;
	for (size_t i = 0; i < N_VOCAB_FILES; i++)
		vocab |= hub_cache_has(r, TOKENIZER_FILES[i]);
	if (!vocab)
		MISSING("a tokenizer (tokenizer.json, vocab.txt, vocab.json, spiece.model, ...)");
#undef MISSING
	return missing;
}

/* Resolves r from the cache only: its commit (the revision itself, or
 * refs/<revision>) and a snapshot with everything a model needs. why says
 * why the network is not used, for the error. */
static int resolve_cached(struct hub_repo *r, const char *why, char *err, size_t n_err)
{
	char name[400], missing[1536];
	display(r, name, sizeof(name));
	if (hub_is_commit(r->revision))
		memcpy(r->commit, r->revision, HUB_COMMIT_LEN + 1);
	else if (hub_cache_read_ref(r) != 0)
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s, and the cache %s has no copy of %s (no refs/%s under "
		                   "%s): nothing of it was downloaded there",
		                   why, r->cache_dir, name, r->revision, r->root);
	if (snapshot_missing(r, missing, sizeof(missing)) > 0)
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s, and the cache %s lacks files of %s (commit %s): missing %s",
		                   why, r->cache_dir, name, r->commit, missing);
	return 0;
}

/* --- the Hub -------------------------------------------------------------- */

struct siblings {
	char **names; /* owned */
	size_t n;
};

static int sibling(const struct siblings *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

static void siblings_free(struct siblings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
}

/* {"sha": commit, "siblings": [{"rfilename": path}, ...], ...} */
static int parse_info(struct hub_repo *r, const char *body, size_t n, struct siblings *s, char *err,
                      size_t n_err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, n, 0, &jerr);
	const char *sha = json_string_value(json_object_get(root, "sha"));
	json_t *list = json_object_get(root, "siblings"), *item;
	size_t i;
	int rc = 0;
	if (sha == NULL || !hub_is_commit(sha) || !json_is_array(list)) {
		rc = status_fail(err, n_err, STATUS_EFORMAT,
		                 "%s: the Hub's model info has no commit \"sha\" and \"siblings\" "
		                 "list%s%s",
		                 r->id, root ? "" : ": ", root ? "" : jerr.text);
		goto done;
	}
	memcpy(r->commit, sha, HUB_COMMIT_LEN + 1);
	s->names = calloc(json_array_size(list) + 1, sizeof(*s->names));
	if (s->names == NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(list, i, item)
	{
		const char *f = json_string_value(json_object_get(item, "rfilename"));
		if (f != NULL && relative_path_ok(f, 1024, 1) &&
		    (s->names[s->n] = strdup(f)) != NULL)
			s->n++;
	}
done:
	json_decref(root);
	return rc;
}

struct fetcher {
	struct hub_repo *r;
	const struct hub_opts *o;
	struct hub_http *h;
	struct siblings files;
	int n_fetched, n_needed;
};

/* The snapshot has file, or it is downloaded into it. */
static int fetch(struct fetcher *f, const char *file, char *err, size_t n_err)
{
	char url[URL_MAX], id[512], path[2048];
	struct hub_answer a;
	f->n_needed++;
	if (hub_cache_has(f->r, file))
		return 0;
	if (hub_url_escape(f->r->id, 1, id, sizeof(id)) != 0 ||
	    hub_url_escape(file, 1, path, sizeof(path)) != 0 ||
	    snprintf(url, sizeof(url), "%s/%s/resolve/%s/%s", f->o->endpoint, id, f->r->commit,
	             path) >= (int)sizeof(url))
		return status_fail(err, n_err, STATUS_EINVAL, "%s: URL too long", file);
	int rc = hub_http_download(f->h, f->r, url, file, &a, err, n_err);
	if (rc == STATUS_EIO && err[0] == '\0' && a.status == 0)
		return status_fail(
		    err, n_err, STATUS_EIO,
		    "%s: cannot download %s: %s (network down? HF_HUB_OFFLINE=1 uses "
		    "only the cache %s)",
		    f->r->id, file, a.transport, f->r->cache_dir);
	if (rc == STATUS_EIO && err[0] == '\0')
		return explain_status(f->r, f->o, &a, file, url, err, n_err);
	f->n_fetched += rc == 0;
	return rc;
}

/* The error for a repository without safetensors weights. */
static int no_weights(const struct fetcher *f, char *err, size_t n_err)
{
	char name[400];
	display(f->r, name, sizeof(name));
	if (sibling(&f->files, "pytorch_model.bin") ||
	    sibling(&f->files, "pytorch_model.bin.index.json"))
		return status_fail(
		    err, n_err, STATUS_EUNSUPPORTED,
		    "%s has only PyTorch weights (pytorch_model.bin); smolserve reads safetensors. "
		    "Convert once and serve the folder: python3 -c \"from transformers import "
		    "AutoModel, AutoTokenizer; AutoModel.from_pretrained('%s').save_pretrained("
		    "'out', safe_serialization=True); AutoTokenizer.from_pretrained('%s')"
		    ".save_pretrained('out')\" (or ask the Hub's safetensors conversion bot for a "
		    "pull request and use --revision refs/pr/N)",
		    name, f->r->id, f->r->id);
	return status_fail(err, n_err, STATUS_EUNSUPPORTED,
	                   "%s has no " WEIGHTS_FILE " and no " INDEX_FILE
	                   ": not a transformers checkpoint smolserve can read",
	                   name);
}

/* Every shard the downloaded index lists. */
static int fetch_shards(struct fetcher *f, char *err, size_t n_err)
{
	char path[HUB_PATH_MAX], **shards = NULL;
	int n = 0, rc;
	hub_cache_snapshot_path(f->r, INDEX_FILE, path, sizeof(path));
	if ((rc = safetensors_index_shards(path, &shards, &n, err, n_err)) != 0)
		return rc;
	for (int i = 0; rc == 0 && i < n; i++) {
		if (!sibling(&f->files, shards[i]))
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: " INDEX_FILE " names the shard %s, which the "
			                 "repository does not have",
			                 f->r->id, shards[i]);
		else
			rc = fetch(f, shards[i], err, n_err);
	}
	safetensors_free_names(shards, n);
	return rc;
}

/* The Pooling module's config: its folder from modules.json, else
 * 1_Pooling (as TEI looks for it). */
static int fetch_pooling(struct fetcher *f, char *err, size_t n_err)
{
	char path[HUB_PATH_MAX], file[1100] = "1_Pooling/config.json";
	json_error_t jerr;
	json_t *mods = NULL, *mod;
	size_t i;
	if (hub_cache_has(f->r, "modules.json") &&
	    hub_cache_snapshot_path(f->r, "modules.json", path, sizeof(path)) == 0)
		mods = json_load_file(path, 0, &jerr);
	json_array_foreach(mods, i, mod)
	{
		const char *type = json_string_value(json_object_get(mod, "type"));
		const char *p = json_string_value(json_object_get(mod, "path"));
		if (type != NULL && p != NULL && strstr(type, "Pooling") != NULL &&
		    relative_path_ok(p, 1000, 0))
			snprintf(file, sizeof(file), "%s/config.json", p);
	}
	json_decref(mods);
	return sibling(&f->files, file) ? fetch(f, file, err, n_err) : 0;
}

/* The files of the model, given the listing in f->files. */
static int fetch_model(struct fetcher *f, char *err, size_t n_err)
{
	int rc;
	char name[400];
	if (!sibling(&f->files, "config.json"))
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s has no config.json: not a transformers model",
		                   display(f->r, name, sizeof(name)));
	const char *weights = sibling(&f->files, WEIGHTS_FILE) ? WEIGHTS_FILE
	                      : sibling(&f->files, INDEX_FILE) ? INDEX_FILE
	                                                       : NULL;
	if (weights == NULL)
		return no_weights(f, err, n_err);
	if ((rc = fetch(f, "config.json", err, n_err)) != 0)
		return rc;
	for (size_t i = 0; i < N_TOKENIZER_FILES + N_ST_FILES; i++) {
		const char *file =
		    i < N_TOKENIZER_FILES ? TOKENIZER_FILES[i] : ST_FILES[i - N_TOKENIZER_FILES];
		if (!sibling(&f->files, file))
			hub_cache_mark_absent(f->r, file);
		else if ((rc = fetch(f, file, err, n_err)) != 0)
			return rc;
	}
	if ((rc = fetch_pooling(f, err, n_err)) != 0 || (rc = fetch(f, weights, err, n_err)) != 0)
		return rc;
	return strcmp(weights, INDEX_FILE) == 0 ? fetch_shards(f, err, n_err) : 0;
}

/* No answer from the Hub at all: a complete snapshot in the cache still
 * serves, with a note saying so. */
static int resolve_unreachable(struct hub_repo *r, const struct hub_opts *o, const char *transport,
                               char *err, size_t n_err)
{
	char why[1024], name[400];
	snprintf(why, sizeof(why),
	         "cannot reach %s (%s): no network? HF_HUB_OFFLINE=1 uses the "
	         "cache alone",
	         o->endpoint, transport);
	int rc = resolve_cached(r, why, err, n_err);
	if (rc == 0 && o->on_note != NULL) {
		snprintf(why, sizeof(why),
		         "cannot reach %s (%s); using the cached snapshot %s of %s", o->endpoint,
		         transport, r->commit, display(r, name, sizeof(name)));
		o->on_note(o->data, why);
	}
	return rc;
}

/* The API's model info: r->commit and f->files. a->status == 0 after a
 * failure: no answer came (a->transport says why). */
static int model_info(struct fetcher *f, struct hub_answer *a, char *err, size_t n_err)
{
	char url[URL_MAX], id[512], rev[800], *body = NULL;
	size_t n = 0;
	int rc;
	if (hub_url_escape(f->r->id, 1, id, sizeof(id)) != 0 ||
	    hub_url_escape(f->r->revision, 0, rev, sizeof(rev)) != 0 ||
	    snprintf(url, sizeof(url), "%s/api/models/%s/revision/%s", f->o->endpoint, id, rev) >=
	        (int)sizeof(url)) {
		a->status = -1;
		return status_fail(err, n_err, STATUS_EINVAL, "%s: URL too long", f->r->id);
	}
	rc = hub_http_get(f->h, url, API_MAX_BYTES, &body, &n, a);
	if (rc == STATUS_EFORMAT) {
		rc = status_fail(err, n_err, rc, "%s: the Hub's answer is too large", url);
	} else if (rc == 0 && a->status != 200) {
		rc = explain_status(f->r, f->o, a, NULL, url, err, n_err);
		size_t used = strlen(err);
		int repo_missing =
		    a->status == 401 ||
		    (a->status == 404 && strcmp(a->error_code, "RevisionNotFound") != 0);
		if (repo_missing && used + 1 < n_err)
			snprintf(err + used, n_err - used, " (nor is there a folder %s here)",
			         f->r->id);
	} else if (rc == 0) {
		rc = parse_info(f->r, body, n, &f->files, err, n_err);
	}
	free(body);
	return rc;
}

/* Online: the commit and file list from the API, then what is missing. */
static int resolve_online(struct hub_repo *r, const struct hub_opts *o, char *err, size_t n_err)
{
	struct fetcher f = {.r = r, .o = o};
	struct hub_answer a;
	char note[1024], name[400];
	int rc = hub_http_open(&f.h, o, err, n_err);
	if (rc != 0)
		return rc;
	rc = model_info(&f, &a, err, n_err);
	if (rc == STATUS_EIO && a.status == 0)
		rc = resolve_unreachable(r, o, a.transport, err, n_err);
	else if (rc == 0 && (rc = hub_cache_write_ref(r, err, n_err)) == 0 &&
	         (rc = fetch_model(&f, err, n_err)) == 0 && o->on_note != NULL) {
		snprintf(note, sizeof(note),
		         "%s is commit %s: %d of its %d files downloaded, the others were in the "
		         "cache %s",
		         display(r, name, sizeof(name)), r->commit, f.n_fetched, f.n_needed,
		         r->cache_dir);
		o->on_note(o->data, note);
	}
	siblings_free(&f.files);
	hub_http_close(f.h);
	return rc;
}

int hub_resolve(const char *model_id, const struct hub_opts *o, char *dir, size_t n_dir,
                char *commit, char *err, size_t n_err)
{
	struct stat sb;
	struct hub_repo r = {.id = model_id, .cache_dir = o->cache_dir};
	int rc;
	r.revision = o->revision != NULL && o->revision[0] != '\0' ? o->revision : "main";
	if (commit != NULL)
		commit[0] = '\0';
	if (stat(model_id, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (snprintf(dir, n_dir, "%s", model_id) >= (int)n_dir)
			return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long",
			                   model_id);
		return 0;
	}
	if (!hub_repo_id_valid(model_id))
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "%s: no such folder, and not a Hugging Face Hub repository id "
		                   "(org/name)",
		                   model_id);
	if (!hub_revision_valid(r.revision))
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "revision \"%s\" is not a branch, tag or commit name",
		                   r.revision);
	if (o->cache_dir == NULL || o->cache_dir[0] == '\0')
		return status_fail(err, n_err, STATUS_EINVAL,
		                   "%s: no Hugging Face cache folder: set HF_HUB_CACHE or HF_HOME",
		                   model_id);
	if ((rc = hub_cache_init(&r, err, n_err)) != 0)
		return rc;
	rc = o->offline ? resolve_cached(&r, "HF_HUB_OFFLINE is set", err, n_err)
	                : resolve_online(&r, o, err, n_err);
	if (rc != 0)
		return rc;
	if (hub_cache_snapshot_path(&r, NULL, dir, n_dir) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long", r.root);
	if (commit != NULL)
		memcpy(commit, r.commit, HUB_COMMIT_LEN + 1);
	return 0;
}

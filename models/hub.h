/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Models as TEI users name them: a local folder, or a Hugging Face Hub
 * repository id ("org/name") at a revision (branch, tag or commit), found in
 * or downloaded into the shared Hugging Face cache exactly as huggingface_hub
 * lays it out, so Python tools and smolserve share one cache:
 *
 *   <cache>/models--org--name/refs/<revision>        the commit, no newline
 *   <cache>/models--org--name/blobs/<etag>           file contents
 *   <cache>/models--org--name/snapshots/<commit>/<file> -> ../../blobs/<etag>
 *   <cache>/models--org--name/.no_exist/<commit>/<file>  known-absent files
 *
 * The etag is the git blob sha1 of a small file, the sha256 of a large (LFS)
 * one; LFS downloads are verified against it. A download goes to a temporary
 * name under blobs/ and is renamed into place, and a snapshot entry is a
 * symlink renamed into place, so a crash or a second process never leaves a
 * half file under blobs/<etag> or snapshots/. Only the files a model needs
 * are fetched (hub_wanted_file). Transfers use libcurl; this module knows
 * nothing of the server: progress and notes go to the caller's callbacks.
 *
 * Thread: hub_resolve may run on any one thread (the server runs it off the
 * loop); the callbacks are called on that thread.
 */
#ifndef SMOLSERVE_MODELS_HUB_H
#define SMOLSERVE_MODELS_HUB_H

#include <stddef.h>
#include <stdint.h>

#define HUB_COMMIT_LEN 40

/* One progress report of one file's download. */
struct hub_progress {
	const char *file;    /* path in the repository (borrowed) */
	int64_t done_bytes;  /* received so far */
	int64_t total_bytes; /* announced size, -1 if unknown */
	double seconds;      /* since this file's transfer began */
	int finished;        /* 1: the last report for this file (complete) */
};

struct hub_opts {
	const char *endpoint;  /* "https://huggingface.co" or a mirror (HF_ENDPOINT) */
	const char *cache_dir; /* the hub cache folder (hub_default_cache_dir) */
	const char *revision;  /* branch, tag or commit; NULL = "main" */
	const char *token;     /* bearer token, NULL or "" = anonymous */
	int offline;           /* 1: the cache only, no request (HF_HUB_OFFLINE) */
	/* Called about once a second per file while it downloads, and once when
	 * it is complete. May be NULL. */
	void (*on_progress)(void *data, const struct hub_progress *p);
	/* One line of information (resolved commit, cache fallbacks). May be
	 * NULL. */
	void (*on_note)(void *data, const char *text);
	void *data;
	/* If non-NULL and it becomes non-zero (another thread may set it), the
	 * transfer under way stops and hub_resolve fails. */
	const _Atomic int *cancel;
};

/* 1 if id is a valid Hub repository id: "name" or "namespace/name", each
 * part of letters, digits, '-', '_' and '.', not starting or ending with
 * '-' or '.', without "--" or "..", at most 96 characters (huggingface_hub's
 * rules). */
int hub_repo_id_valid(const char *id);

/* 1 if rev is usable as a revision: a branch, tag or commit name of
 * letters, digits, '-', '_', '.', '/' (as in refs/pr/1), no empty, "." or
 * ".." segment, at most 255 characters. */
int hub_revision_valid(const char *rev);

/*
 * The hub cache folder huggingface_hub uses (into out, n bytes):
 * $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else $HOME/.cache/huggingface/hub. 0, or
 * -1 if no home folder is known or the path does not fit.
 */
int hub_default_cache_dir(char *out, size_t n);

/*
 * The token huggingface_hub would send when none is given: the variable
 * $HUGGING_FACE_HUB_TOKEN (TEI's), else the first line of the file
 * `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token, else
 * $XDG_CACHE_HOME/huggingface/token, else ~/.cache/huggingface/token).
 * $HF_TOKEN is the caller's business (a setting). out gets "" if none.
 */
void hub_default_token(char *out, size_t n);

/*
 * 1 if the file at path in a repository is one smolserve needs: config.json,
 * model.safetensors, model.safetensors.index.json, the tokenizer files,
 * modules.json and the sentence-transformers configs. Shards and the
 * pooling config are chosen from the index and modules.json.
 */
int hub_wanted_file(const char *path);

/*
 * Resolves model_id to a folder holding the model's files (into dir, n_dir
 * bytes): model_id itself if it is an existing folder; otherwise it must be
 * a valid repository id, and the folder is its snapshot in the cache,
 * downloading what is missing unless o->offline. commit (HUB_COMMIT_LEN + 1
 * bytes, may be NULL) gets the snapshot's commit, "" for a local folder.
 *
 * 0, or a negative status with err saying what the user can do:
 *   STATUS_EINVAL  not a folder and not a valid repository id / revision;
 *   STATUS_EIO     the Hub refused (401/403: gated or private, set
 *                  HF_TOKEN; 404: repository, revision or file), no
 *                  network (names HF_HUB_OFFLINE and the cache), a cache
 *                  miss offline (names repository, revision and the missing
 *                  files), disk full, a cancelled or broken transfer;
 *   STATUS_EFORMAT the Hub's answer or a download is malformed (a sha256
 *                  that does not match is refused, nothing cached);
 *   STATUS_EUNSUPPORTED the repository has no safetensors weights (says how
 *                  to convert).
 */
int hub_resolve(const char *model_id, const struct hub_opts *o, char *dir, size_t n_dir,
                char *commit, char *err, size_t n_err);

#endif

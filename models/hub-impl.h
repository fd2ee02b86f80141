/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the three parts of the Hub client share (see hub.h): hub.c decides
 * what a model needs and resolves ids, hub_cache.c owns the cache layout on
 * disk, hub_http.c talks HTTP through libcurl.
 */
#ifndef SMOLSERVE_MODELS_HUB_IMPL_H
#define SMOLSERVE_MODELS_HUB_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"

#define HUB_PATH_MAX 4096
#define HUB_ROOT_MAX 3072 /* a repository's folder: room for what goes under it */
#define HUB_ETAG_MAX 128

/* One repository at one revision, in one cache. */
struct hub_repo {
	const char *id;                  /* borrowed: "org/name" */
	const char *revision;            /* borrowed: branch, tag or commit */
	const char *cache_dir;           /* borrowed */
	char root[HUB_ROOT_MAX];         /* <cache>/models--org--name */
	char commit[HUB_COMMIT_LEN + 1]; /* resolved commit, "" until known */
};

/* --- hub_cache.c: the layout ------------------------------------------- */

/* Fills r->root from r->cache_dir and r->id. 0 or STATUS_EINVAL (too long). */
int hub_cache_init(struct hub_repo *r, char *err, size_t n_err);

/* 1 if s is 40 lowercase hex digits (a full commit id). */
int hub_is_commit(const char *s);

/* The commit refs/<revision> holds, into r->commit: 0, or -1 if there is
 * no such ref (or it does not hold a commit). */
int hub_cache_read_ref(struct hub_repo *r);

/* Writes refs/<r->revision> = r->commit (temporary file + rename), unless
 * the revision is that commit. 0 or a negative status. */
int hub_cache_write_ref(const struct hub_repo *r, char *err, size_t n_err);

/* <root>/snapshots/<commit>[/file] into out. 0, or -1 if it does not fit. */
int hub_cache_snapshot_path(const struct hub_repo *r, const char *file, char *out, size_t n);

/* 1 if snapshots/<commit>/<file> resolves to an existing regular file. */
int hub_cache_has(const struct hub_repo *r, const char *file);

/* 1 if blobs/<etag> exists. */
int hub_cache_has_blob(const struct hub_repo *r, const char *etag);

/* Creates blobs/ if needed and a new empty temporary file there (mode
 * 0666 & ~umask), name ending ".incomplete". 0 with *fd and path set, or a
 * negative status (err says, e.g. the cache is not writable). */
int hub_cache_temp_blob(const struct hub_repo *r, char *path, size_t n_path, int *fd, char *err,
                        size_t n_err);

/* Renames the finished temporary file tmp to blobs/<etag>, then links
 * snapshots/<commit>/<file> to it. 0 or a negative status. */
int hub_cache_store(const struct hub_repo *r, const char *tmp, const char *etag, const char *file,
                    char *err, size_t n_err);

/* Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink
 * (made under a temporary name, renamed into place). */
int hub_cache_link(const struct hub_repo *r, const char *etag, const char *file, char *err,
                   size_t n_err);

/* Records that file does not exist at r->commit (.no_exist/<commit>/<file>),
 * as huggingface_hub does; best effort. */
void hub_cache_mark_absent(const struct hub_repo *r, const char *file);

/* An error about path after a failed file operation (errno e): disk full
 * and permission problems get advice. Returns STATUS_EIO. */
int hub_fs_fail(char *err, size_t n_err, const char *what, const char *path, int e);

/* --- hub_http.c: transfers ---------------------------------------------- */

struct hub_http;

/* What one request's answer said, from the Hub's own response (the first
 * of a redirect chain that carries X-Repo-Commit) and the final one. */
struct hub_answer {
	long status;                     /* final HTTP status; 0: no answer */
	char commit[HUB_COMMIT_LEN + 1]; /* X-Repo-Commit */
	char etag[HUB_ETAG_MAX + 1];     /* X-Linked-Etag, else ETag; unquoted */
	int lfs;                         /* the etag came from X-Linked-Etag */
	int64_t size;                    /* X-Linked-Size, else Content-Length; -1 */
	char error_code[64];             /* X-Error-Code of the final response */
	char error_message[256];         /* X-Error-Message of the final response */
	char transport[256];             /* libcurl's error when status is 0 */
};

/* A libcurl handle with o's token, timeouts and callbacks. 0 or
 * STATUS_ENOMEM. */
int hub_http_open(struct hub_http **out, const struct hub_opts *o, char *err, size_t n_err);
void hub_http_close(struct hub_http *h);

/* GETs url (at most max_bytes of body) into *body (malloc'd, NUL-added) and
 * a. 0 when an answer came (any status: check a->status), STATUS_EIO with
 * a->transport set when none did, STATUS_EFORMAT if the body is larger. */
int hub_http_get(struct hub_http *h, const char *url, size_t max_bytes, char **body, size_t *n,
                 struct hub_answer *a);

/*
 * Downloads url (the file `file` of r at r->commit) into the cache: a
 * temporary file under blobs/, checked (size; sha256 for LFS files), then
 * stored as blobs/<etag> and linked from the snapshot. If blobs/<etag> is
 * already there the transfer stops and only the link is made. 0, or a
 * negative status with err (HTTP errors are left in a with STATUS_EIO and
 * err empty for the caller to explain).
 */
int hub_http_download(struct hub_http *h, const struct hub_repo *r, const char *url,
                      const char *file, struct hub_answer *a, char *err, size_t n_err);

/* Percent-encodes s into out (n bytes); '/' kept if keep_slash. 0 or -1 if
 * it does not fit. */
int hub_url_escape(const char *s, int keep_slash, char *out, size_t n);

#endif

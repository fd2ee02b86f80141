/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Hugging Face cache on disk (see hub.h for the layout), written the way
 * huggingface_hub writes it so that either tool reads what the other wrote:
 * refs hold a bare commit id, blobs are named by their etag, snapshot
 * entries are relative symlinks into blobs/, and absent files may be
 * recorded under .no_exist/. Every file that appears under a final name
 * appears whole: contents are written under a temporary name in the same
 * folder and renamed, and so are symlinks and refs, so a crash or a
 * concurrent process can leave at most a stray temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hub-impl.h"
#include "status.h"

int hub_fs_fail(char *err, size_t n_err, const char *what, const char *path, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s %s: no space left on the device (disk full); free some "
		                   "space or point HF_HUB_CACHE (--huggingface-hub-cache) at a "
		                   "larger disk",
		                   what, path);
	if (e == EACCES || e == EROFS || e == EPERM)
		return status_fail(err, n_err, STATUS_EIO,
		                   "%s %s: %s; the Hugging Face cache must be writable to "
		                   "download: set HF_HUB_CACHE (--huggingface-hub-cache) to a "
		                   "writable folder, or HF_HUB_OFFLINE=1 to use it as it is",
		                   what, path, strerror(e));
	return status_fail(err, n_err, STATUS_EIO, "%s %s: %s", what, path, strerror(e));
}

/* Creates every missing folder of path (not a file name). */
static int mkdir_p(const char *path, char *err, size_t n_err)
{
	char buf[HUB_PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return hub_fs_fail(err, n_err, "cannot create the folder", buf, errno);
		buf[i] = c;
	}
	return 0;
}

/* mkdir_p of the folder part of path. */
static int mkdir_parent(const char *path, char *err, size_t n_err)
{
	char dir[HUB_PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return mkdir_p(dir, err, n_err);
}

/* A fresh "<dir>/.<tag>-<pid>-<n>-<ns><suffix>" name; unique within the
 * process by the counter, across processes by the pid. */
static int temp_name(const char *dir, const char *tag, const char *suffix, char *out, size_t n)
{
	static atomic_uint counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int w = snprintf(out, n, "%s/.%s-%ld-%u-%ld%s", dir, tag, (long)getpid(),
	                 atomic_fetch_add(&counter, 1), (long)ts.tv_nsec, suffix);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

int hub_cache_init(struct hub_repo *r, char *err, size_t n_err)
{
	char *p = r->root, *end = r->root + sizeof(r->root);
	int w = snprintf(p, sizeof(r->root), "%s/models--", r->cache_dir);
	if (w < 0 || w + strlen(r->id) * 2 + 1 >= sizeof(r->root))
		return status_fail(err, n_err, STATUS_EINVAL, "%s: cache path too long",
		                   r->cache_dir);
	p += w;
	for (const char *s = r->id; *s && p + 3 < end; s++) {
		if (*s == '/') {
			*p++ = '-';
			*p++ = '-';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	r->commit[0] = '\0';
	return 0;
}

int hub_is_commit(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == HUB_COMMIT_LEN;
}

int hub_cache_read_ref(struct hub_repo *r)
{
	char path[HUB_PATH_MAX], buf[64];
	if (snprintf(path, sizeof(path), "%s/refs/%s", r->root, r->revision) >= (int)sizeof(path))
		return -1;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (!hub_is_commit(buf))
		return -1;
	memcpy(r->commit, buf, HUB_COMMIT_LEN + 1);
	return 0;
}

int hub_cache_write_ref(const struct hub_repo *r, char *err, size_t n_err)
{
	char path[HUB_PATH_MAX], dir[HUB_PATH_MAX], tmp[HUB_PATH_MAX];
	struct hub_repo known = *r;
	if (strcmp(r->revision, r->commit) == 0)
		return 0;
	/* Unchanged: do not write (the cache may be read-only, as in Python). */
	if (hub_cache_read_ref(&known) == 0 && strcmp(known.commit, r->commit) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/refs/%s", r->root, r->revision);
	int rc = mkdir_parent(path, err, n_err);
	if (rc != 0)
		return rc;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	if (temp_name(dir, "ref", ".tmp", tmp, sizeof(tmp)) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return hub_fs_fail(err, n_err, "cannot write", tmp, errno);
	ssize_t w = write(fd, r->commit, HUB_COMMIT_LEN);
	int ok = w == HUB_COMMIT_LEN, e = w < 0 ? errno : ENOSPC;
	if (close(fd) != 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = 0;
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		return hub_fs_fail(err, n_err, "cannot write", path, e);
	}
	return 0;
}

int hub_cache_snapshot_path(const struct hub_repo *r, const char *file, char *out, size_t n)
{
	int w = file ? snprintf(out, n, "%s/snapshots/%s/%s", r->root, r->commit, file)
	             : snprintf(out, n, "%s/snapshots/%s", r->root, r->commit);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

int hub_cache_has(const struct hub_repo *r, const char *file)
{
	char path[HUB_PATH_MAX];
	struct stat sb;
	return hub_cache_snapshot_path(r, file, path, sizeof(path)) == 0 && stat(path, &sb) == 0 &&
	       S_ISREG(sb.st_mode);
}

int hub_cache_has_blob(const struct hub_repo *r, const char *etag)
{
	char path[HUB_PATH_MAX];
	struct stat sb;
	int w = snprintf(path, sizeof(path), "%s/blobs/%s", r->root, etag);
	return w > 0 && (size_t)w < sizeof(path) && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int hub_cache_temp_blob(const struct hub_repo *r, char *path, size_t n_path, int *fd, char *err,
                        size_t n_err)
{
	char dir[HUB_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/blobs", r->root);
	int rc = mkdir_p(dir, err, n_err);
	if (rc != 0)
		return rc;
	for (int attempt = 0; attempt < 8; attempt++) {
		if (temp_name(dir, "smolserve", ".incomplete", path, n_path) != 0)
			return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long", dir);
		*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (*fd >= 0)
			return 0;
		if (errno != EEXIST)
			return hub_fs_fail(err, n_err, "cannot create", path, errno);
	}
	return status_fail(err, n_err, STATUS_EIO, "%s: cannot find a free temporary name", dir);
}

int hub_cache_store(const struct hub_repo *r, const char *tmp, const char *etag, const char *file,
                    char *err, size_t n_err)
{
	char blob[HUB_PATH_MAX];
	snprintf(blob, sizeof(blob), "%s/blobs/%s", r->root, etag);
	if (rename(tmp, blob) != 0) {
		int e = errno;
		unlink(tmp);
		return hub_fs_fail(err, n_err, "cannot store", blob, e);
	}
	return hub_cache_link(r, etag, file, err, n_err);
}

int hub_cache_link(const struct hub_repo *r, const char *etag, const char *file, char *err,
                   size_t n_err)
{
	char path[HUB_PATH_MAX], target[HUB_PATH_MAX], tmp[HUB_PATH_MAX], dir[HUB_PATH_MAX];
	if (hub_cache_snapshot_path(r, file, path, sizeof(path)) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long", r->root);
	int rc = mkdir_parent(path, err, n_err);
	if (rc != 0)
		return rc;
	/* snapshots/<commit>/a/b -> ../../../blobs/<etag>: one ".." per level. */
	size_t used = (size_t)snprintf(target, sizeof(target), "../../");
	for (const char *s = file; *s; s++)
		if (*s == '/' && used + 3 < sizeof(target))
			used += (size_t)snprintf(target + used, sizeof(target) - used, "../");
	snprintf(target + used, sizeof(target) - used, "blobs/%s", etag);
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	if (temp_name(dir, "link", ".tmp", tmp, sizeof(tmp)) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "%s: path too long", path);
	if (symlink(target, tmp) != 0)
		return hub_fs_fail(err, n_err, "cannot create the symlink", tmp, errno);
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return hub_fs_fail(err, n_err, "cannot create", path, e);
	}
	return 0;
}

void hub_cache_mark_absent(const struct hub_repo *r, const char *file)
{
	char path[HUB_PATH_MAX], err[16];
	int w = snprintf(path, sizeof(path), "%s/.no_exist/%s/%s", r->root, r->commit, file);
	if (w <= 0 || (size_t)w >= sizeof(path) || mkdir_parent(path, err, sizeof(err)) != 0)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd >= 0)
		close(fd);
}

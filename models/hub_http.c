/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP for the Hub client (see hub-impl.h), through libcurl: one easy handle
 * per resolution, so every request reuses the connection. The Hub's answer
 * to /{repo}/resolve/{commit}/{file} is either the file (small files) or a
 * redirect to a CDN (large, LFS files); the metadata that matters (commit,
 * etag, size) is in the Hub's own response, so headers are read response by
 * response and taken from the one carrying X-Repo-Commit. libcurl follows
 * the redirects and, as huggingface_hub does, never sends the Authorization
 * header to a host other than the one first asked.
 *
 * A file's bytes go to a temporary file under blobs/ while its sha256 is
 * computed (nettle, already on every system that has GnuTLS); only a
 * complete, verified file is renamed to blobs/<etag>.
 *
 * libcurl is loaded (dlopen) the first time a download is needed, not
 * linked: with the two dozen libraries it pulls in (TLS, HTTP/2, SSH,
 * LDAP, Kerberos, IDN...), loading it cost every start 3 ms, and a start
 * that re-executes itself for the OpenBLAS kernel choice twice that, for
 * the many servers that never download.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "hub-impl.h"
#include "status.h"

#define CONNECT_TIMEOUT_S 10
#define STALL_TIMEOUT_S   30 /* abort a transfer that sends nothing this long */
#define PROGRESS_EVERY_NS 1000000000ull

/* The libcurl functions used, from the library loaded at run time. */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
} lc;
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;
static char lc_error[512]; /* set if loading failed */

#define LIBCURL_SONAME "libcurl.so.4"

static void load_libcurl(void)
{
	void *lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(lc_error, sizeof(lc_error), "%s", dlerror());
		return;
	}
	struct {
		void **fn;
		const char *name;
	} syms[] = {
	    {(void **)&lc.global_init, "curl_global_init"},
	    {(void **)&lc.easy_init, "curl_easy_init"},
	    {(void **)&lc.easy_setopt, "curl_easy_setopt"},
	    {(void **)&lc.easy_perform, "curl_easy_perform"},
	    {(void **)&lc.easy_cleanup, "curl_easy_cleanup"},
	    {(void **)&lc.easy_strerror, "curl_easy_strerror"},
	    {(void **)&lc.slist_append, "curl_slist_append"},
	    {(void **)&lc.slist_free_all, "curl_slist_free_all"},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if ((*syms[i].fn = dlsym(lib, syms[i].name)) == NULL) {
			snprintf(lc_error, sizeof(lc_error), "%s has no %s", LIBCURL_SONAME,
			         syms[i].name);
			return;
		}
	if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(lc_error, sizeof(lc_error), "curl_global_init failed");
}

struct hub_http {
	CURL *curl;
	struct curl_slist *headers;
	const struct hub_opts *o;
	char errbuf[CURL_ERROR_SIZE];
};

/* One request's state: the response being read and where its body goes. */
struct xfer {
	struct hub_http *h;
	struct hub_answer *a;
	/* the response whose headers are arriving */
	long status;
	char commit[HUB_COMMIT_LEN + 1], etag[HUB_ETAG_MAX + 1], linked_etag[HUB_ETAG_MAX + 1];
	int64_t linked_size, length;
	char code[64], msg[256];
	/* body into memory */
	char *mem;
	size_t n_mem, cap_mem, max_mem;
	int too_big;
	/* body into a blob */
	const struct hub_repo *r;
	const char *file;
	int fd;
	char tmp[HUB_PATH_MAX];
	int started, reuse, rc;
	char *err;
	size_t n_err;
	struct sha256_ctx sha;
	int64_t done;
	uint64_t t0_ns, last_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hub_url_escape(const char *s, int keep_slash, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		            c == '~' || (keep_slash && c == '/');
		if (k + (plain ? 1 : 3) >= n)
			return -1;
		if (plain) {
			out[k++] = (char)c;
		} else {
			out[k++] = '%';
			out[k++] = hex[c >> 4];
			out[k++] = hex[c & 15];
		}
	}
	out[k] = '\0';
	return 0;
}

/* value of "Name: value\r\n" if the line's name is name, trimmed, into out. */
static int header_value(const char *line, size_t n, const char *name, char *out, size_t n_out)
{
	size_t k = strlen(name);
	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return 0;
	const char *v = line + k + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t len = (size_t)(end - v) < n_out - 1 ? (size_t)(end - v) : n_out - 1;
	memcpy(out, v, len);
	out[len] = '\0';
	return 1;
}

/* W/"abc" or "abc" -> abc (huggingface_hub's _normalize_etag). */
static void normalize_etag(char *e)
{
	size_t n = strlen(e), skip = strncmp(e, "W/", 2) == 0 ? 2 : 0;
	while (skip < n && e[skip] == '"')
		skip++;
	memmove(e, e + skip, n - skip + 1);
	n = strlen(e);
	while (n > 0 && e[n - 1] == '"')
		e[--n] = '\0';
}

static int64_t parse_size(const char *v)
{
	char *end;
	long long x = strtoll(v, &end, 10);
	return end != v && *end == '\0' && x >= 0 ? (int64_t)x : -1;
}

/* End of one response's headers: the Hub's metadata, the final status. */
static void end_of_headers(struct xfer *x)
{
	struct hub_answer *a = x->a;
	a->status = x->status;
	snprintf(a->error_code, sizeof(a->error_code), "%s", x->code);
	snprintf(a->error_message, sizeof(a->error_message), "%s", x->msg);
	if (x->commit[0] == '\0')
		return;
	memcpy(a->commit, x->commit, sizeof(a->commit));
	a->lfs = x->linked_etag[0] != '\0';
	snprintf(a->etag, sizeof(a->etag), "%s", a->lfs ? x->linked_etag : x->etag);
	normalize_etag(a->etag);
	a->size = x->linked_size >= 0 ? x->linked_size : x->length;
}

static size_t on_header(char *line, size_t size, size_t n_items, void *data)
{
	struct xfer *x = data;
	size_t n = size * n_items;
	char v[HUB_ETAG_MAX + 1];
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', n);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->commit[0] = x->etag[0] = x->linked_etag[0] = x->code[0] = x->msg[0] = '\0';
		x->linked_size = x->length = -1;
	} else if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		end_of_headers(x);
	} else if (header_value(line, n, "X-Repo-Commit", v, sizeof(v))) {
		if (hub_is_commit(v))
			memcpy(x->commit, v, sizeof(x->commit));
		else
			x->commit[0] = '\0';
	} else if (header_value(line, n, "X-Linked-Etag", x->linked_etag, sizeof(x->linked_etag)) ||
	           header_value(line, n, "ETag", x->etag, sizeof(x->etag)) ||
	           header_value(line, n, "X-Error-Code", x->code, sizeof(x->code)) ||
	           header_value(line, n, "X-Error-Message", x->msg, sizeof(x->msg))) {
		/* stored */
	} else if (header_value(line, n, "X-Linked-Size", v, sizeof(v))) {
		x->linked_size = parse_size(v);
	} else if (header_value(line, n, "Content-Length", v, sizeof(v))) {
		x->length = parse_size(v);
	}
	return n;
}

static int to_memory(struct xfer *x, const char *data, size_t n)
{
	if (x->n_mem + n > x->max_mem) {
		x->too_big = 1;
		return -1;
	}
	if (x->n_mem + n + 1 > x->cap_mem) {
		size_t cap = x->cap_mem ? x->cap_mem * 2 : 4096;
		while (cap < x->n_mem + n + 1)
			cap *= 2;
		char *m = realloc(x->mem, cap);
		if (m == NULL)
			return -1;
		x->mem = m;
		x->cap_mem = cap;
	}
	memcpy(x->mem + x->n_mem, data, n);
	x->n_mem += n;
	x->mem[x->n_mem] = '\0';
	return 0;
}

/* 1 if e can name a file: [A-Za-z0-9._-], not starting with '.'. */
static int etag_usable(const char *e)
{
	if (e[0] == '\0' || e[0] == '.')
		return 0;
	for (; *e; e++)
		if (!((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
		      (*e >= '0' && *e <= '9') || *e == '.' || *e == '_' || *e == '-'))
			return 0;
	return 1;
}

/* First byte of a 200 answer for a blob: check the metadata, reuse a blob
 * the cache has, or open the temporary file. 0 to go on, 1 to stop with
 * x->reuse set, -1 with x->rc set. */
static int begin_blob(struct xfer *x)
{
	const struct hub_answer *a = x->a;
	x->started = 1;
	if (a->commit[0] == '\0') {
		x->rc = status_fail(x->err, x->n_err, STATUS_EFORMAT,
		                    "%s: the answer has no X-Repo-Commit header: is HF_ENDPOINT a "
		                    "Hugging Face Hub?",
		                    x->file);
		return -1;
	}
	if (strcmp(a->commit, x->r->commit) != 0 || !etag_usable(a->etag)) {
		x->rc = status_fail(x->err, x->n_err, STATUS_EFORMAT,
		                    "%s: the Hub answered for commit %s with etag \"%.64s\", asked "
		                    "for commit %s",
		                    x->file, a->commit, a->etag, x->r->commit);
		return -1;
	}
	if (hub_cache_has_blob(x->r, a->etag)) {
		x->reuse = 1;
		return 1;
	}
	char dir[HUB_PATH_MAX];
	struct statvfs vfs;
	if ((x->rc = hub_cache_temp_blob(x->r, x->tmp, sizeof(x->tmp), &x->fd, x->err, x->n_err)) !=
	    0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/blobs", x->r->root);
	if (a->size > 0 && statvfs(dir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)a->size) {
		char what[512];
		snprintf(what, sizeof(what), "cannot download %s (%lld bytes, %llu free) into",
		         x->file, (long long)a->size,
		         (unsigned long long)vfs.f_bavail * vfs.f_frsize);
		x->rc = hub_fs_fail(x->err, x->n_err, what, dir, ENOSPC);
		return -1;
	}
	sha256_init(&x->sha);
	x->t0_ns = x->last_ns = mono_ns();
	return 0;
}

static int to_blob(struct xfer *x, const char *data, size_t n)
{
	if (x->status != 200) /* an error's body: the headers say enough */
		return 0;
	if (!x->started) {
		int go = begin_blob(x);
		if (go != 0)
			return -1;
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(x->fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			x->rc = hub_fs_fail(x->err, x->n_err, "cannot write", x->tmp,
			                    w < 0 ? errno : ENOSPC);
			return -1;
		}
		off += (size_t)w;
	}
	sha256_update(&x->sha, n, (const uint8_t *)data);
	x->done += (int64_t)n;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n_items, void *p)
{
	struct xfer *x = p;
	size_t n = size * n_items;
	int rc = x->r != NULL ? to_blob(x, data, n) : to_memory(x, data, n);
	return rc == 0 ? n : 0;
}

static void report(struct xfer *x, int finished)
{
	const struct hub_opts *o = x->h->o;
	if (o->on_progress == NULL)
		return;
	uint64_t now = mono_ns();
	struct hub_progress p = {x->file, x->done, x->a->size, (double)(now - x->t0_ns) / 1e9,
	                         finished};
	x->last_ns = now;
	o->on_progress(o->data, &p);
}

static int on_xferinfo(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = p;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->h->o->cancel != NULL && *x->h->o->cancel)
		return 1;
	if (x->r != NULL && x->started && x->fd >= 0 && mono_ns() - x->last_ns >= PROGRESS_EVERY_NS)
		report(x, 0);
	return 0;
}

int hub_http_open(struct hub_http **out, const struct hub_opts *o, char *err, size_t n_err)
{
	char auth[1200];
	*out = NULL;
	pthread_once(&lc_once, load_libcurl);
	if (lc_error[0] != '\0')
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "cannot load libcurl to download from the Hub: %s (install "
		                   "libcurl4)",
		                   lc_error);
	struct hub_http *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->curl = lc.easy_init()) == NULL)
		goto fail;
	h->o = o;
	if (o->token != NULL && o->token[0] != '\0') {
		if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token) >=
		        (int)sizeof(auth) ||
		    strpbrk(o->token, "\r\n") != NULL) {
			hub_http_close(h);
			return status_fail(
			    err, n_err, STATUS_EINVAL,
			    "the Hugging Face token is too long or holds a line break");
		}
		if ((h->headers = lc.slist_append(NULL, auth)) == NULL)
			goto fail;
	}
	CURL *c = h->curl;
	lc.easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
	lc.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	lc.easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	lc.easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L); /* no token to another host */
	lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	lc.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	lc.easy_setopt(c, CURLOPT_USERAGENT, "smolserve/" SMOLSERVE_VERSION);
	lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	lc.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	lc.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)STALL_TIMEOUT_S);
	lc.easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	lc.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	lc.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	lc.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	*out = h;
	return 0;
fail:
	hub_http_close(h);
	return status_fail(err, n_err, STATUS_ENOMEM, "cannot set up libcurl: out of memory");
}

void hub_http_close(struct hub_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		lc.easy_cleanup(h->curl);
	if (h->headers != NULL)
		lc.slist_free_all(h->headers);
	free(h);
}

/* Runs one request with x as every callback's data. */
static CURLcode perform(struct hub_http *h, const char *url, struct xfer *x)
{
	memset(x->a, 0, sizeof(*x->a));
	x->a->size = -1;
	x->h = h;
	x->linked_size = x->length = -1;
	h->errbuf[0] = '\0';
	lc.easy_setopt(h->curl, CURLOPT_URL, url);
	lc.easy_setopt(h->curl, CURLOPT_HEADERDATA, x);
	lc.easy_setopt(h->curl, CURLOPT_WRITEDATA, x);
	lc.easy_setopt(h->curl, CURLOPT_XFERINFODATA, x);
	CURLcode res = lc.easy_perform(h->curl);
	if (res != CURLE_OK)
		snprintf(x->a->transport, sizeof(x->a->transport), "%s",
		         h->errbuf[0] ? h->errbuf : lc.easy_strerror(res));
	return res;
}

int hub_http_get(struct hub_http *h, const char *url, size_t max_bytes, char **body, size_t *n,
                 struct hub_answer *a)
{
	struct xfer x = {.a = a, .max_mem = max_bytes, .fd = -1};
	*body = NULL;
	*n = 0;
	CURLcode res = perform(h, url, &x);
	if (x.too_big) {
		free(x.mem);
		return STATUS_EFORMAT;
	}
	if (res != CURLE_OK) {
		a->status = 0; /* no complete answer */
		free(x.mem);
		return STATUS_EIO;
	}
	*body = x.mem ? x.mem : calloc(1, 1);
	*n = x.n_mem;
	return *body ? 0 : STATUS_ENOMEM;
}

/* After a complete 200 transfer: size and sha256 checked, then stored. */
static int finish_blob(struct xfer *x, const char *url)
{
	const struct hub_answer *a = x->a;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	if (fsync(x->fd) != 0 || close(x->fd) != 0) {
		x->fd = -1;
		return hub_fs_fail(x->err, x->n_err, "cannot write", x->tmp, errno);
	}
	x->fd = -1;
	if (a->size >= 0 && x->done != a->size)
		return status_fail(x->err, x->n_err, STATUS_EIO,
		                   "%s: received %lld bytes, the Hub announced %lld (%s)", x->file,
		                   (long long)x->done, (long long)a->size, url);
	sha256_digest(&x->sha, sizeof(digest), digest);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	if (a->lfs && strlen(a->etag) == 2 * SHA256_DIGEST_SIZE && strcasecmp(hex, a->etag) != 0)
		return status_fail(x->err, x->n_err, STATUS_EFORMAT,
		                   "%s: sha256 mismatch: the Hub announced %s, the download hashes "
		                   "to %s; refused, nothing was cached (%s)",
		                   x->file, a->etag, hex, url);
	int rc = hub_cache_store(x->r, x->tmp, a->etag, x->file, x->err, x->n_err);
	x->tmp[0] = '\0';
	return rc;
}

int hub_http_download(struct hub_http *h, const struct hub_repo *r, const char *url,
                      const char *file, struct hub_answer *a, char *err, size_t n_err)
{
	struct xfer x = {.a = a, .r = r, .file = file, .fd = -1, .err = err, .n_err = n_err};
	int rc;
	err[0] = '\0';
	CURLcode res = perform(h, url, &x);
	if (res == CURLE_OK && a->status == 200 && !x.started && begin_blob(&x) < 0)
		res = CURLE_WRITE_ERROR; /* an empty file: no body callback came */
	if (x.reuse) {
		rc = hub_cache_link(r, a->etag, file, err, n_err);
	} else if (x.rc != 0) {
		rc = x.rc;
	} else if (res == CURLE_ABORTED_BY_CALLBACK) {
		rc = status_fail(err, n_err, STATUS_EIO, "%s: download cancelled", file);
	} else if (res != CURLE_OK && a->status == 200) {
		rc = status_fail(err, n_err, STATUS_EIO,
		                 "%s: the download broke off after %lld of %lld bytes: %s (%s)",
		                 file, (long long)x.done, (long long)a->size, a->transport, url);
	} else if (res != CURLE_OK) {
		a->status = 0;
		rc = STATUS_EIO;
	} else if (a->status != 200) {
		rc = STATUS_EIO; /* the caller explains the status */
	} else {
		rc = finish_blob(&x, url);
		if (rc == 0)
			report(&x, 1);
	}
	if (x.fd >= 0)
		close(x.fd);
	if (x.tmp[0] != '\0')
		unlink(x.tmp);
	free(x.mem);
	return rc;
}

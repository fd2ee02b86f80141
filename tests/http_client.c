/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end-to-end tests' HTTP client and process helpers (see
 * http_client.h). Sockets and temporary files are close-on-exec so a
 * server started later never holds a test's connection open; every wait
 * polls against a monotonic deadline.
 */
#include "http_client.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS     48
#define POLL_STEP_MS 5

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int http_connect(int port, int timeout_ms)
{
	return http_connect_from(NULL, port, timeout_ms);
}

int http_connect_from(const char *source, int port, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (source != NULL) {
		struct sockaddr_in src;
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		if (inet_pton(AF_INET, source, &src.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			int e = errno ? errno : EINVAL;
			close(fd);
			return -e;
		}
	}
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;
		close(fd);
		return -(e == EINPROGRESS || e == EAGAIN ? ETIMEDOUT : e);
	}
	return fd;
}

int http_send_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno);
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void http_response_dispose(struct http_response *r)
{
	for (int i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *http_header(const struct http_response *r, const char *name)
{
	for (int i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static char *dup_trimmed(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	char *out = malloc(n + 1);
	if (out != NULL) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

/* Parses the status line and headers in buf[0, n) (n excludes the blank
 * line). 0 or -EPROTO / -ENOMEM. */
static int parse_head(const char *buf, size_t n, struct http_response *r)
{
	if (n < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		return -EPROTO;
	r->status = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EPROTO;
		r->status = r->status * 10 + (buf[i] - '0');
	}
	const char *p = memchr(buf, '\n', n), *end = buf + n;
	while (p != NULL && p + 1 < end) {
		const char *line = p + 1;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t len = eol ? (size_t)(eol - line) : (size_t)(end - line);
		const char *colon = memchr(line, ':', len);
		if (colon == NULL || colon == line)
			return -EPROTO;
		if (r->n_headers == HTTP_MAX_HEADERS)
			return -EPROTO;
		struct http_header *h = &r->headers[r->n_headers++];
		h->name = dup_trimmed(line, (size_t)(colon - line));
		h->value = dup_trimmed(colon + 1, len - (size_t)(colon + 1 - line));
		if (h->name == NULL || h->value == NULL)
			return -ENOMEM;
		p = eol;
	}
	return 0;
}

/* Decodes a chunked body in place; its new length, or -EPROTO. */
static long dechunk(char *b, size_t n)
{
	size_t in = 0, out = 0;
	for (;;) {
		char *eol = memchr(b + in, '\n', n - in);
		if (eol == NULL)
			return -EPROTO;
		char *endp;
		unsigned long size = strtoul(b + in, &endp, 16);
		if (endp == b + in)
			return -EPROTO;
		in = (size_t)(eol - b) + 1;
		if (size == 0)
			return (long)out;
		if (size > n - in)
			return -EPROTO;
		memmove(b + out, b + in, size);
		out += size;
		in += size;
		if (in < n && b[in] == '\r')
			in++;
		if (in < n && b[in] == '\n')
			in++;
	}
}

static char *find_blank_line(char *buf, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return buf + i;
	return NULL;
}

/* Parses the final head in buf[0, *len) once complete, setting *body_at;
 * interim 1xx heads (100 Continue) are dropped from buf. 0 or an error. */
static int take_head(char *buf, size_t *len, struct http_response *r, size_t *body_at)
{
	char *blank;
	while ((blank = find_blank_line(buf, *len)) != NULL) {
		size_t end = (size_t)(blank - buf) + 4;
		int rc = parse_head(buf, (size_t)(blank - buf), r);
		if (rc != 0)
			return rc;
		if (r->status >= 200) {
			*body_at = end;
			return 0;
		}
		http_response_dispose(r);
		memmove(buf, buf + end, *len - end + 1);
		*len -= end;
	}
	return 0;
}

/* Receives into *buf until the head and Content-Length bytes of body are
 * in, or end of stream. */
static int receive(int fd, int64_t deadline, char **buf, size_t *len, struct http_response *r,
                   size_t *body_at, long long *content_length, int *chunked)
{
	size_t cap = 0;
	for (;;) {
		if (*body_at != 0 && *content_length >= 0 &&
		    *len - *body_at >= (size_t)*content_length)
			return 0;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {fd, POLLIN, 0};
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc == 0 ? -ETIMEDOUT : -errno;
		if (*len + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			while (ncap < *len + 4096 + 1)
				ncap *= 2;
			char *nb = realloc(*buf, ncap);
			if (nb == NULL)
				return -ENOMEM;
			*buf = nb;
			cap = ncap;
		}
		ssize_t k = recv(fd, *buf + *len, cap - *len - 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) /* a reset after a complete head still leaves a reply */
			return *body_at != 0 ? 0 : -(errno == EAGAIN ? ETIMEDOUT : errno);
		if (k == 0)
			return 0;
		*len += (size_t)k;
		(*buf)[*len] = '\0';
		if (*body_at == 0 && (rc = take_head(*buf, len, r, body_at)) != 0)
			return rc;
		if (*body_at != 0) {
			const char *cl = http_header(r, "Content-Length");
			const char *te = http_header(r, "Transfer-Encoding");
			*content_length = cl ? strtoll(cl, NULL, 10) : -1;
			*chunked = te != NULL && strcasecmp(te, "chunked") == 0;
		}
	}
}

int http_read_response(int fd, int timeout_ms, struct http_response *out)
{
	memset(out, 0, sizeof(*out));
	char *buf = NULL;
	size_t len = 0, body_at = 0;
	long long content_length = -1;
	int chunked = 0;
	int rc = receive(fd, now_ms() + timeout_ms, &buf, &len, out, &body_at, &content_length,
	                 &chunked);
	if (rc == 0 && body_at == 0)
		rc = len == 0 ? -ENODATA : -EPROTO;
	if (rc == 0 && content_length >= 0 && len - body_at < (size_t)content_length)
		rc = -EPROTO;
	if (rc != 0)
		goto fail;
	size_t n = content_length >= 0 ? (size_t)content_length : len - body_at;
	out->body = malloc(n + 1);
	if (out->body == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(out->body, buf + body_at, n);
	out->body[n] = '\0';
	out->body_len = n;
	if (chunked) {
		long m = dechunk(out->body, n);
		if (m < 0) {
			rc = (int)m;
			goto fail;
		}
		out->body[m] = '\0';
		out->body_len = (size_t)m;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	http_response_dispose(out);
	return rc;
}

int http_request(int port, const char *method, const char *path, const char *extra_headers,
                 const char *body, size_t body_len, int timeout_ms, struct http_response *out)
{
	memset(out, 0, sizeof(*out));
	int64_t deadline = now_ms() + timeout_ms;
	int fd = http_connect(port, timeout_ms);
	if (fd < 0)
		return fd;
	char head[4096];
	int n;
	if (body != NULL)
		n = snprintf(head, sizeof(head),
		             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
		             "%sContent-Length: %zu\r\n\r\n",
		             method, path, port, extra_headers ? extra_headers : "", body_len);
	else
		n = snprintf(head, sizeof(head),
		             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n",
		             method, path, port, extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		close(fd);
		return -EINVAL;
	}
	/* A failed send may mean the server answered early (413, 429) and
	 * closed: read what it said before giving up. */
	int rc = http_send_all(fd, head, (size_t)n);
	if (rc == 0 && body != NULL)
		rc = http_send_all(fd, body, body_len);
	int64_t left = deadline - now_ms();
	int rrc = http_read_response(fd, left > 0 ? (int)left : 1, out);
	close(fd);
	if (rrc == 0)
		return 0;
	return rc != 0 ? rc : rrc;
}

/* --- processes ---------------------------------------------------------- */

static int temp_file(void)
{
	char path[] = "/tmp/smolserve-http-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* Reads the whole of fd from offset 0 (malloc'd, NUL-terminated). */
static char *read_whole(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n + 1);
	if (buf == NULL)
		return NULL;
	ssize_t got = pread(fd, buf, n, 0);
	if (got < 0) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	return buf;
}

/* Child side: die with the parent, wire stdio, exec. Never returns. */
static void exec_child(pid_t parent, int in_fd, int out_fd, int err_fd, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	_exit(127);
}

static int build_argv(char **argv, const char *const *head, int n_head, const char *const *extra)
{
	int n = 0;
	for (int i = 0; i < n_head; i++)
		argv[n++] = (char *)head[i];
	for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (n == MAX_ARGS - 1)
			return -1;
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	return 0;
}

static int decode_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Waits at most timeout_ms for pid; its decoded status or -ETIMEDOUT. */
static int wait_bounded(pid_t pid, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return decode_status(st);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(POLL_STEP_MS);
	}
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The port of a complete "<marker>HOST:PORT" line, else 0. */
static int parse_port(const char *log, const char *marker)
{
	const char *p = strstr(log, marker);
	if (p == NULL)
		return 0;
	const char *eol = strchr(p, '\n');
	if (eol == NULL)
		return 0;
	const char *colon = NULL;
	for (const char *q = p + strlen(marker); q < eol && *q != ';' && *q != ' '; q++)
		if (*q == ':')
			colon = q;
	return colon ? atoi(colon + 1) : 0;
}

int test_server_start(struct test_server *s, const char *model_dir, const char *const *extra_args,
                      int timeout_ms, char *err, size_t n_err)
{
	return test_server_launch(s, model_dir, extra_args, "listening on http://", timeout_ms, err,
	                          n_err);
}

int test_server_launch(struct test_server *s, const char *model_dir, const char *const *extra_args,
                       const char *marker, int timeout_ms, char *err, size_t n_err)
{
	memset(s, 0, sizeof(*s));
	s->log_fd = -1;
	const char *bin = getenv("SMOLSERVE_BIN");
	if (bin == NULL || bin[0] == '\0') {
		snprintf(err, n_err, "SMOLSERVE_BIN is not set");
		return -1;
	}
	const char *head[] = {bin,          "serve",     "--model", model_dir,
	                      "--hostname", "127.0.0.1", "--port",  "0"};
	char *argv[MAX_ARGS];
	if (build_argv(argv, head, 8, extra_args) != 0) {
		snprintf(err, n_err, "too many arguments");
		return -1;
	}
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->log_fd = temp_file();
	if (null_fd < 0 || s->log_fd < 0) {
		snprintf(err, n_err, "cannot open a temporary file: %s", strerror(errno));
		goto fail;
	}
	pid_t parent = getpid();
	s->pid = fork();
	if (s->pid < 0) {
		snprintf(err, n_err, "fork: %s", strerror(errno));
		s->pid = 0;
		goto fail;
	}
	if (s->pid == 0)
		exec_child(parent, null_fd, s->log_fd, s->log_fd, argv);
	close(null_fd);
	null_fd = -1;
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		char *log = read_whole(s->log_fd);
		s->port = log ? parse_port(log, marker) : 0;
		free(log);
		if (s->port > 0)
			return 0;
		int st = wait_bounded(s->pid, 0);
		if (st >= 0) {
			s->pid = 0;
			log = read_whole(s->log_fd);
			snprintf(err, n_err, "the server exited with %d before listening: %s", st,
			         log ? log : "");
			free(log);
			goto fail;
		}
		if (now_ms() >= deadline) {
			kill_and_reap(s->pid);
			s->pid = 0;
			log = read_whole(s->log_fd);
			snprintf(err, n_err, "no \"%s\" line within %d ms: %s", marker, timeout_ms,
			         log ? log : "");
			free(log);
			goto fail;
		}
		sleep_ms(POLL_STEP_MS);
	}
fail:
	if (null_fd >= 0)
		close(null_fd);
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = -1;
	return -1;
}

int test_server_signal(const struct test_server *s, int sig)
{
	if (s->pid <= 0)
		return -ESRCH;
	return kill(s->pid, sig) == 0 ? 0 : -errno;
}

int test_server_wait(struct test_server *s, int timeout_ms)
{
	if (s->pid <= 0)
		return -ECHILD;
	int st = wait_bounded(s->pid, timeout_ms);
	if (st >= 0)
		s->pid = 0;
	return st;
}

int test_server_stop(struct test_server *s, int timeout_ms)
{
	int st = 0;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		st = wait_bounded(s->pid, timeout_ms);
		if (st == -ETIMEDOUT)
			kill_and_reap(s->pid);
		s->pid = 0;
	}
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = -1;
	return st;
}

char *test_server_log(const struct test_server *s)
{
	return read_whole(s->log_fd);
}

int run_program(const char *const *argv, int merge_stderr, const char *in, size_t in_len,
                int timeout_ms, char **out)
{
	*out = NULL;
	char *args[MAX_ARGS];
	if (build_argv(args, argv, 0, argv) != 0)
		return -E2BIG;
	int rc = -EIO;
	int in_fd = temp_file(), out_fd = temp_file();
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (in_fd < 0 || out_fd < 0 || null_fd < 0)
		goto done;
	if (in_len > 0 && pwrite(in_fd, in, in_len, 0) != (ssize_t)in_len)
		goto done;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		goto done;
	if (pid == 0)
		exec_child(parent, in_fd, out_fd, merge_stderr ? out_fd : null_fd, args);
	rc = wait_bounded(pid, timeout_ms);
	if (rc == -ETIMEDOUT)
		kill_and_reap(pid);
	else
		*out = read_whole(out_fd);
done:
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (null_fd >= 0)
		close(null_fd);
	return rc;
}

int smolserve_run(const char *route, const char *model_dir, const char *const *extra_args,
                  const char *body, size_t body_len, int timeout_ms, char **out)
{
	*out = NULL;
	const char *bin = getenv("SMOLSERVE_BIN");
	if (bin == NULL || bin[0] == '\0')
		return -ENOENT;
	const char *head[] = {bin, "run", route, "--model", model_dir};
	char *argv[MAX_ARGS];
	if (build_argv(argv, head, 5, extra_args) != 0)
		return -E2BIG;
	return run_program((const char *const *)argv, 0, body, body_len, timeout_ms, out);
}
